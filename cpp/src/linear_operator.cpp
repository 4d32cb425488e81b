#include "ramcore/linear_operator.hpp"

#include <algorithm>
#include <cmath>

#include "ramcore/csr.hpp"
#include "ramcore/enforce.hpp"
#include "ramcore/vector_ops.hpp"

namespace ramcore {

double LinearOperator::apply_dot(const double* x, double* y, int threads, const StopFn& stop) const {
  apply(x, y, threads, stop);
  return dot(rows(), x, y, threads, stop);
}

template <class Index>
CsrOperator<Index>::CsrOperator(std::int64_t rows, std::int64_t cols, const Index* indptr,
                                const Index* indices, const double* data)
    : rows_(rows), cols_(cols), indptr_(indptr), indices_(indices), data_(data) {
  enforce(rows >= 0 && cols >= 0, "CSR shape must be non-negative");
}

template <class Index>
void CsrOperator<Index>::apply(const double* x, double* y, int threads, const StopFn& stop) const {
  const std::int64_t nnz = rows_ ? static_cast<std::int64_t>(indptr_[rows_]) : 0;
  const std::int64_t chunk = std::max<std::int64_t>(1, kEntriesPerTask * rows_ / std::max<std::int64_t>(1, nnz));
  parallel_for(
      rows_, chunk, threads,
      [&](std::int64_t r0, std::int64_t r1) {
        for (std::int64_t r = r0; r < r1; ++r) y[r] = row_times(r, x);
      },
      stop);
}

// One sweep for y = A x and x . y: the same deterministic_sum blocks as dot(), each block's sum
// taken in row order, so the result is bit-identical to apply() followed by dot() for any thread
// count. One block per task: a block of rows costs the row lengths more than a block of dot().
template <class Index>
double CsrOperator<Index>::apply_dot(const double* x, double* y, int threads, const StopFn& stop) const {
  if (rows_ != cols_) return LinearOperator::apply_dot(x, y, threads, stop);
  return deterministic_sum<double>(
      rows_, kSumBlock, 1, threads,
      [&](std::int64_t r0, std::int64_t r1, double& s) {
        for (std::int64_t r = r0; r < r1; ++r) {
          y[r] = row_times(r, x);
          s += x[r] * y[r];
        }
      },
      stop);
}

template <class Index>
void CsrOperator<Index>::apply_transpose(const double* x, double* y, int threads,
                                         const StopFn& stop) const {
  if (t_indptr_.empty()) {  // counting sort of the entries by column: stable, so rows stay sorted
    const std::int64_t nnz = rows_ ? static_cast<std::int64_t>(indptr_[rows_]) : 0;
    t_indptr_.assign(static_cast<std::size_t>(cols_ + 1), 0);
    for (std::int64_t k = 0; k < nnz; ++k) ++t_indptr_[static_cast<std::size_t>(indices_[k]) + 1];
    for (std::int64_t c = 0; c < cols_; ++c)
      t_indptr_[static_cast<std::size_t>(c + 1)] += t_indptr_[static_cast<std::size_t>(c)];
    std::vector<std::int64_t> next(t_indptr_.begin(), t_indptr_.end() - 1);
    t_rows_.resize(static_cast<std::size_t>(nnz));
    if (data_) t_data_.resize(static_cast<std::size_t>(nnz));
    for (std::int64_t r = 0; r < rows_; ++r) {
      for (auto k = static_cast<std::int64_t>(indptr_[r]); k < static_cast<std::int64_t>(indptr_[r + 1]); ++k) {
        const auto slot = static_cast<std::size_t>(next[static_cast<std::size_t>(indices_[k])]++);
        t_rows_[slot] = r;
        if (data_) t_data_[slot] = data_[k];
      }
    }
  }
  const CsrOperator<std::int64_t> t(cols_, rows_, t_indptr_.data(), t_rows_.data(),
                                    data_ ? t_data_.data() : nullptr);
  t.apply(x, y, threads, stop);
}

template <class Index>
std::vector<double> CsrOperator<Index>::row_sums(int threads, const StopFn& stop) const {
  std::vector<double> ones(static_cast<std::size_t>(cols_), 1.0), out(static_cast<std::size_t>(rows_));
  apply(ones.data(), out.data(), threads, stop);
  return out;
}

template class CsrOperator<std::int32_t>;
template class CsrOperator<std::int64_t>;

LaplacianOperator::LaplacianOperator(const LinearOperator& adjacency, std::vector<double> degrees,
                                     bool normalized)
    : a_(adjacency), degrees_(std::move(degrees)), normalized_(normalized) {
  enforce(a_.rows() == a_.cols(), "a Laplacian needs a square adjacency matrix");
  enforce(static_cast<std::int64_t>(degrees_.size()) == a_.rows(), "degrees must have one entry per vertex");
  if (normalized_)
    for (std::size_t i = 0; i < degrees_.size(); ++i)
      if (!(degrees_[i] >= 0))  // the message is built only on failure
        enforce(false, "the normalised Laplacian needs non-negative degrees; vertex " + std::to_string(i) +
                           " has weighted degree " + std::to_string(degrees_[i]));
  inv_sqrt_.resize(degrees_.size());
  for (std::size_t i = 0; i < degrees_.size(); ++i)
    inv_sqrt_[i] = degrees_[i] > 0 ? 1.0 / std::sqrt(degrees_[i]) : 0.0;
  tmp_.resize(degrees_.size());
}

void LaplacianOperator::apply(const double* x, double* y, int threads, const StopFn& stop) const {
  const std::int64_t n = rows();
  if (!normalized_) {
    a_.apply(x, y, threads, stop);
    parallel_for(
        n, kEntriesPerTask, threads,
        [&](std::int64_t i0, std::int64_t i1) {
          for (std::int64_t i = i0; i < i1; ++i) y[i] = degrees_[static_cast<std::size_t>(i)] * x[i] - y[i];
        },
        stop);
    return;
  }
  parallel_for(
      n, kEntriesPerTask, threads,
      [&](std::int64_t i0, std::int64_t i1) {
        for (std::int64_t i = i0; i < i1; ++i) tmp_[static_cast<std::size_t>(i)] = inv_sqrt_[static_cast<std::size_t>(i)] * x[i];
      },
      stop);
  a_.apply(tmp_.data(), y, threads, stop);
  parallel_for(
      n, kEntriesPerTask, threads,
      [&](std::int64_t i0, std::int64_t i1) {
        for (std::int64_t i = i0; i < i1; ++i) {
          const double d = inv_sqrt_[static_cast<std::size_t>(i)];
          y[i] = (d > 0 ? x[i] : 0.0) - d * y[i];
        }
      },
      stop);
}

template <class Index>
NormalOperator<Index>::NormalOperator(const CsrOperator<Index>& b, bool gram_of_columns)
    : b_(b), columns_(gram_of_columns), n_(gram_of_columns ? b.cols() : b.rows()) {
  tmp_.resize(static_cast<std::size_t>(gram_of_columns ? b.rows() : b.cols()));
}

template <class Index>
void NormalOperator<Index>::apply(const double* x, double* y, int threads, const StopFn& stop) const {
  if (columns_) {  // B^T (B x)
    b_.apply(x, tmp_.data(), threads, stop);
    b_.apply_transpose(tmp_.data(), y, threads, stop);
  } else {  // B (B^T x)
    b_.apply_transpose(x, tmp_.data(), threads, stop);
    b_.apply(tmp_.data(), y, threads, stop);
  }
}

template class NormalOperator<std::int32_t>;
template class NormalOperator<std::int64_t>;

}  // namespace ramcore
