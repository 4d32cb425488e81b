// Products of a sparse weight with dense activations: the forward and backward passes of a linear
// layer whose weight W (rows x cols = out_features x in_features) keeps a fixed set of entries.
//
// Activations are stored in panels: a batch of activations (batch x features) is cut into panels of
// kPanelLanes<T> samples (the last one zero-padded), and each panel is stored feature-major,
// (features x kPanelLanes) contiguous: the array is (panels, features, lanes). Then every kept
// weight w[n, j] multiplies one contiguous 256-byte run of the input, so the inner loops stream
// memory and vectorise over the batch (a batch-major layout would make each kept weight a strided
// gather), and one panel of a 4096-feature input (1 MiB) stays in the L2 cache while every row of W
// reads it. (A plain feature-major transpose of a 256-sample batch makes each row 1 KiB apart: its
// 256-byte runs then fall into a quarter of the cache sets, and the kernels ran 2x slower.)
//
// The kernels are the two classic sparse x dense products (Saad, "Iterative methods for sparse
// linear systems", 2003, section 3.4 for CSR; SDDMM as in Nisa et al., "Sampled dense matrix
// multiplication for high-performance machine learning", HiPC 2018):
//   spmm:  out[q, n, :] = sum_{k in row n} values[k] * in[q, indices[k], :]  (Y = X W^T; dX = dY W)
//   sddmm: out[k]       = sum_q <a[q, n, :], in[q, indices[k], :]>  for k in row n
//                                                                (dW = dY^T X at the kept entries)
// Each output element is computed by one thread in a fixed order, so results are bit-identical for
// any thread count.
#pragma once

#include <cstdint>

#include "ramcore/parallel.hpp"

namespace ramcore {

// Columns per block of a RowPattern, by default: 128 runs of 256 bytes, 32 KiB of a panel, fit the L1
// cache. Sparser patterns take wider blocks (choose_block_cols).
constexpr std::int64_t kBlockCols = 128;
inline std::int64_t column_blocks(std::int64_t cols, std::int64_t block_cols = kBlockCols) {
  return cols <= 0 || block_cols <= 0 ? 1 : (cols + block_cols - 1) / block_cols;
}

// The block width for a pattern of nnz entries in rows x cols: kBlockCols times the smallest power
// of two that gives a row at least kMinSegment entries per block on average (capped where one block
// holds every column). A row's sums go back to memory between blocks and every (row, block) segment
// costs a mispredicted loop exit: at 1 % density, 128 columns hold 1.3 entries of a row, and
// 512-column blocks (5 entries) ran the 4096^2 layer's SpMM 1.5x and SDDMM 1.8x faster on one
// thread, though a block's 128 KiB of a panel then comes from the L2 cache; from 5 % (6 entries per
// 128 columns) 128 is fastest.
constexpr double kMinSegment = 4.0;
std::int64_t choose_block_cols(std::int64_t rows, std::int64_t cols, std::int64_t nnz);

// The kept entries of W, by column block and row (a CSR of W's column blocks stacked): segment
// s = b * rows + n holds the entries of row n in columns [b * block_cols, (b + 1) * block_cols),
// at indices[indptr[s]] .. indices[indptr[s + 1] - 1]; blocks = column_blocks(cols, block_cols).
// With one block it is W's CSR. The kernels read one block's input at a time (from the cache), and
// Ramanujan masks' (nearly) equal row degrees balance the threads' work; any pattern is accepted.
struct RowPattern {
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::int64_t block_cols = kBlockCols;
  std::int64_t blocks = 1;
  const std::int64_t* indptr = nullptr;
  const std::int32_t* indices = nullptr;
  std::int64_t nnz() const { return indptr[blocks * rows]; }
};

// Throws std::invalid_argument unless block_cols >= 1, blocks = column_blocks(cols, block_cols),
// indptr has blocks * rows + 1
// entries, starts at 0, never decreases and ends at indices_size (O(blocks * rows)).
void check_pattern(const RowPattern& w, std::int64_t indptr_size, std::int64_t indices_size);
// Then, in parallel (O(nnz), a small fraction of one product): every segment's indices lie in its
// column block; and every order[k], k < nnz, in [0, nnz).
void check_indices(const RowPattern& w, int threads, const StopFn& stop);
void check_order(const std::int64_t* order, std::int64_t nnz, int threads, const StopFn& stop);

// Samples per panel: 256 bytes of them.
template <class T>
constexpr std::int64_t kPanelLanes = 256 / static_cast<std::int64_t>(sizeof(T));

// Both kernels require check_pattern and check_indices to have passed, sddmm check_order too for
// `order`; spmm checks its `order` itself (throwing check_order's error), before reading through it.
// out (panels, w.rows, lanes) = in (panels, w.cols, lanes) times W^T. W's k-th stored entry is
// values[k], or values[order[k]] when `order` is not null: the values stay in one order (W's CSR)
// while the kernels read W's blocked pattern and W^T's (order[k] < the length of values is the
// caller's to ensure).
template <class T>
void spmm(const RowPattern& w, const T* values, const std::int64_t* order, const T* in, std::int64_t panels,
          T* out, int threads, const StopFn& stop);

// out[k] (out[order[k]] when `order` is not null) = sum over panels q of
// <a[q, n, :], in[q, indices[k], :]> for every stored entry k of row n; a: (panels, w.rows, lanes),
// in: (panels, w.cols, lanes). Panels are added in order.
template <class T>
void sddmm(const RowPattern& w, const T* a, const T* in, std::int64_t panels, const std::int64_t* order, T* out,
           int threads, const StopFn& stop);

// out (panels, f, lanes) = x (m rows of f values) in panels, panels = ceil(m / lanes), the samples
// past m zero; and back: y[r, :] = in[r / lanes, :, r % lanes] + bias (bias may be null). Tiled
// transposes, so that a layer's copies cost little next to its products.
template <class T>
void pack_panels(const T* x, std::int64_t m, std::int64_t f, T* out, int threads, const StopFn& stop);
template <class T>
void unpack_panels(const T* in, std::int64_t m, std::int64_t f, const T* bias, T* y, int threads,
                   const StopFn& stop);

// The instruction set the kernels were dispatched to on this CPU ("avx512", "avx2" or "baseline").
const char* sparse_kernel_isa();

}  // namespace ramcore
