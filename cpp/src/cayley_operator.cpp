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
  // Neighbours are summed in generator order (the CSR sums in column order: the two agree to
  // rounding, ~1e-15 relative, not bit for bit).
  parallel_for(
      n_, std::max<std::int64_t>(1, kEntriesPerTask / k), threads,
      [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t r = begin; r < end; ++r) {
          const Mat2 g = group_.unrank(r);
          double s = 0.0;
          if (unit) {
            for (const Mat2& gen : generators_) s += x[group_.rank(group_.mul(g, gen))];
          } else {
            for (std::size_t i = 0; i < generators_.size(); ++i)
              s += weights_[i] * x[group_.rank(group_.mul(g, generators_[i]))];
          }
          y[r] = s;
        }
      },
      stop);
}

}  // namespace ramcore
