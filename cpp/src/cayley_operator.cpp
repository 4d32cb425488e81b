#include "ramcore/cayley_operator.hpp"

#include <algorithm>

#include "ramcore/csr.hpp"

namespace ramcore {

CayleyOperator::CayleyOperator(const LpsGenerators& gens) : group_(gens.q), n_(gens.vertices()) {
  for (const auto& [rank, mult] : distinct_generators(group_, gens)) {
    generators_.push_back(group_.unrank(rank));
    weights_.push_back(mult);
  }
}

void CayleyOperator::apply(const double* x, double* y, int threads, const StopFn& stop) const {
  const auto k = static_cast<std::int64_t>(generators_.size());
  const bool unit = std::all_of(weights_.begin(), weights_.end(), [](double w) { return w == 1.0; });
  // Neighbours are summed in rank order, as the CSR operator does, so both give the same bits.
  parallel_for(
      n_, std::max<std::int64_t>(1, kEntriesPerTask / k), threads,
      [&](std::int64_t begin, std::int64_t end) {
        std::vector<std::pair<std::int64_t, double>> row(static_cast<std::size_t>(k));
        for (std::int64_t r = begin; r < end; ++r) {
          const Mat2 g = group_.unrank(r);
          for (std::size_t i = 0; i < row.size(); ++i)
            row[i] = {group_.rank(group_.mul(g, generators_[i])), weights_[i]};
          std::sort(row.begin(), row.end());
          double s = 0.0;
          if (unit) {
            for (const auto& [col, w] : row) s += x[col];
          } else {
            for (const auto& [col, w] : row) s += w * x[col];
          }
          y[r] = s;
        }
      },
      stop);
}

}  // namespace ramcore
