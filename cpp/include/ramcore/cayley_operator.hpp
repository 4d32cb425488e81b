// The adjacency operator of X^{p,q} without storing it: y[x] = sum_s w_s v[x s], neighbours
// computed on the fly from the group ranking. Memory O(1) beyond the vectors, so the spectrum of
// graphs whose CSR would not fit can still be computed.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "ramcore/linear_operator.hpp"
#include "ramcore/lps.hpp"
#include "ramcore/pgl2.hpp"

namespace ramcore {

class CayleyOperator final : public LinearOperator {
 public:
  // Loops and repeated generators are kept as weights (the multigraph's adjacency).
  explicit CayleyOperator(const LpsGenerators& gens);
  std::int64_t rows() const override { return n_; }
  std::int64_t cols() const override { return n_; }
  void apply(const double* x, double* y, int threads, const StopFn& stop) const override;

 private:
  PGL2 group_;
  std::int64_t n_;
  std::vector<Mat2> generators_;
  std::vector<double> weights_;
};

}  // namespace ramcore
