// Linear operators the eigen-solvers act on, applied in parallel and deterministically.
//
// Every operator writes each output entry from a fixed, thread-independent sum, so y = A x is
// bit-identical for any thread count. Operators view the caller's arrays (no copy); the caller
// keeps them alive for the operator's lifetime.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "ramcore/parallel.hpp"

namespace ramcore {

class LinearOperator {
 public:
  virtual ~LinearOperator() = default;
  virtual std::int64_t rows() const = 0;
  virtual std::int64_t cols() const = 0;
  // y = A x (x has cols() entries, y has rows()).
  virtual void apply(const double* x, double* y, int threads, const StopFn& stop) const = 0;
  // y = A x and returns x . y (square operators), summed exactly as vector_ops' dot(): the
  // Lanczos alpha. Operators may fuse the two sweeps; the default applies, then dots.
  virtual double apply_dot(const double* x, double* y, int threads, const StopFn& stop) const;
};

// A CSR matrix viewed in place; data == nullptr means every stored entry is 1.
template <class Index>
class CsrOperator final : public LinearOperator {
 public:
  CsrOperator(std::int64_t rows, std::int64_t cols, const Index* indptr, const Index* indices,
              const double* data);
  std::int64_t rows() const override { return rows_; }
  std::int64_t cols() const override { return cols_; }
  void apply(const double* x, double* y, int threads, const StopFn& stop) const override;
  double apply_dot(const double* x, double* y, int threads, const StopFn& stop) const override;
  // y = A^T x via a transposed copy of the index structure, built on first use.
  void apply_transpose(const double* x, double* y, int threads, const StopFn& stop) const;
  // Row sums (degrees, or strengths when weighted).
  std::vector<double> row_sums(int threads, const StopFn& stop) const;

 private:
  // (A x)[r]: the stored entries of row r in order (the sum every product of this class uses).
  double row_times(std::int64_t r, const double* x) const {
    double s = 0.0;
    const auto e = static_cast<std::int64_t>(indptr_[r + 1]);
    if (data_) {
      for (auto k = static_cast<std::int64_t>(indptr_[r]); k < e; ++k) s += data_[k] * x[indices_[k]];
    } else {
      for (auto k = static_cast<std::int64_t>(indptr_[r]); k < e; ++k) s += x[indices_[k]];
    }
    return s;
  }

  std::int64_t rows_, cols_;
  const Index* indptr_;
  const Index* indices_;
  const double* data_;
  mutable std::vector<std::int64_t> t_indptr_, t_rows_;  // CSC structure, lazily
  mutable std::vector<double> t_data_;
};

// L = D - A (combinatorial) or L = I - D^{-1/2} A D^{-1/2} (normalised) for a symmetric A with
// row sums D; an isolated vertex (D = 0) gets L = 0 on its row and column in the normalised case.
class LaplacianOperator final : public LinearOperator {
 public:
  LaplacianOperator(const LinearOperator& adjacency, std::vector<double> degrees, bool normalized);
  std::int64_t rows() const override { return a_.rows(); }
  std::int64_t cols() const override { return a_.cols(); }
  void apply(const double* x, double* y, int threads, const StopFn& stop) const override;

 private:
  const LinearOperator& a_;
  std::vector<double> degrees_, inv_sqrt_;
  bool normalized_;
  mutable std::vector<double> tmp_;
};

// B^T B (cols x cols) or B B^T (rows x rows) of a rectangular CSR B: the operator whose Lanczos
// process is Golub-Kahan bidiagonalisation of B (in exact arithmetic), giving singular values as
// square roots of its eigenvalues.
template <class Index>
class NormalOperator final : public LinearOperator {
 public:
  NormalOperator(const CsrOperator<Index>& b, bool gram_of_columns);
  std::int64_t rows() const override { return n_; }
  std::int64_t cols() const override { return n_; }
  void apply(const double* x, double* y, int threads, const StopFn& stop) const override;

 private:
  const CsrOperator<Index>& b_;
  bool columns_;
  std::int64_t n_;
  mutable std::vector<double> tmp_;
};

}  // namespace ramcore
