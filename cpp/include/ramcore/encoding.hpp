// Graph encodings of network layers (seed 004, sections 3.1-3.2): the directed CSR of a whole
// network built from per-layer pieces, each piece one layer's edges into one partition.
//
// Every piece is a 2-d convolution (grouped, strided, padded, dilated): a linear layer is a 1x1
// convolution of its (in, 1, 1) input, a residual identity a depthwise 1x1 convolution with unit
// weights, a rolled layer graph (seeds 001/002) a 1x1 convolution of its in*kh*kw kernel entries.
// Eq. 3: input entry (c, y, x) joins output node (o, oy, ox) iff the kernel entry
// (o, c mod in/groups, ky, kx) is unmasked, c lies in o's group and the convolution step at (oy, ox)
// reads (y, x) with it: y = oy * stride_h - pad_top + ky * dilation_h (x likewise). Eq. 4 weighs
// the edge with |W| of that entry.
//
// Input entries map to nodes directly (entry e is node in_offset + e, the common case) or through
// an inverse map that lists, per source node, the entries it feeds: a pooling window feeds every
// node of the window into its entry (appendix C), a zero-padded channel feeds none. Output
// (o, oy, ox) is node out_offset + (o * out_height + oy) * out_width + ox.
//
// Rows are tails, columns heads. A row's columns are sorted; where two pieces or two entries give
// the same edge (overlapping pooling windows) it is stored once, with the sum of the weights in a
// weighted encoding (the adjacency of the multigraph) and weight 1 otherwise.
#pragma once

#include <cstdint>
#include <vector>

#include "ramcore/csr.hpp"
#include "ramcore/parallel.hpp"

namespace ramcore {

struct ConvPiece {
  std::int64_t in_channels = 1, in_height = 1, in_width = 1;
  std::int64_t out_channels = 1, out_height = 1, out_width = 1;
  std::int64_t kernel_h = 1, kernel_w = 1;
  std::int64_t stride_h = 1, stride_w = 1;
  std::int64_t pad_top = 0, pad_left = 0;  // bottom/right padding is implied by out_height/width
  std::int64_t dilation_h = 1, dilation_w = 1;
  std::int64_t groups = 1;
  const std::uint8_t* mask = nullptr;  // (out_channels, in_channels / groups, kernel_h, kernel_w)
  const double* weight = nullptr;      // same layout, |W|; null: every edge weighs 1
  std::int64_t out_offset = 0;
  // Input map: direct when inv_ptr is null, else node u in [src_begin, src_end) feeds the entries
  // inv_entries[inv_ptr[u - src_begin] .. inv_ptr[u - src_begin + 1]).
  std::int64_t in_offset = 0;
  std::int64_t src_begin = 0, src_end = 0;
  const std::int64_t* inv_ptr = nullptr;
  const std::int64_t* inv_entries = nullptr;

  std::int64_t in_entries() const { return in_channels * in_height * in_width; }
  std::int64_t out_nodes() const { return out_channels * out_height * out_width; }
};

// The encoding of `num_nodes` nodes with the edges of `pieces`, built in two deterministic parallel
// passes over the rows: exact out-degrees, then the CSR written in place.
class UnrolledEncoding {
 public:
  // Validates every piece (std::invalid_argument naming the piece and the field) and indexes its
  // unmasked kernel entries per input channel. The arrays the pieces point to must outlive this.
  UnrolledEncoding(std::int64_t num_nodes, std::vector<ConvPiece> pieces, bool weighted, int threads,
                   const StopFn& stop);

  std::int64_t num_nodes() const { return num_nodes_; }

  // Out-degree of every node (the row lengths of the CSR, duplicate edges merged).
  Buffer<std::int64_t> out_degrees(int threads, const StopFn& stop) const;

  // The (num_nodes x num_nodes) CSR, data = |W| (weighted) or 1; `degrees` from out_degrees().
  // Index must hold both the number of edges and num_nodes.
  template <class Index>
  Csr<Index> csr(const Buffer<std::int64_t>& degrees, int threads, const StopFn& stop) const;

 private:
  // One unmasked kernel entry seen from its input channel: output channel base o*OH*OW, position.
  struct Tap {
    std::int64_t base;
    std::int32_t ky, kx;
  };
  struct Prepared {
    ConvPiece piece;
    std::int64_t src_begin, src_end;  // nodes this piece reads (direct maps: the input range)
    // Taps per (input channel, stride phase (ky d_h) mod s_h, (kx d_w) mod s_w), each bucket in
    // (o, -ky, -kx) order: a row scans only the bucket that can hit, and its heads come out sorted.
    std::vector<std::int64_t> tap_ptr;  // (c * stride_h + phase_y) * stride_w + phase_x -> taps
    std::vector<Tap> taps;
    std::vector<double> tap_weight;     // weighted encodings only
  };
  struct Row;  // per-task scratch space

  // Calls emit(head, weight) for the edges leaving u, piece by piece, until emit returns false;
  // returns whether it went through. Heads come out sorted unless pieces share a partition or
  // pooling windows overlap.
  template <class Emit>
  bool each_edge(std::int64_t u, const std::vector<const Prepared*>& active, Row& row, Emit&& emit) const;
  // The edges leaving u in row.edges, sorted by head, duplicates merged (the general path).
  void merged_edges(std::int64_t u, const std::vector<const Prepared*>& active, Row& row) const;
  std::vector<const Prepared*> active_in(std::int64_t begin, std::int64_t end) const;

  std::int64_t num_nodes_;
  bool weighted_;
  std::vector<Prepared> pieces_;  // sorted by out_offset
  std::int64_t max_kernel_h_ = 1, max_kernel_w_ = 1;
};

}  // namespace ramcore
