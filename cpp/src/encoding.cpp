#include "ramcore/encoding.hpp"

#include <algorithm>
#include <string>
#include <utility>

#include "ramcore/enforce.hpp"

namespace ramcore {
namespace {

// Rows per parallel task: rows differ a lot in length (a 3-channel input pixel against a 512-channel
// one), so tasks are small and handed out dynamically.
constexpr std::int64_t kRowsPerTask = 1024;

void check_piece(const ConvPiece& p, std::size_t index, std::int64_t num_nodes) {
  const std::string where = "piece " + std::to_string(index) + ": ";
  auto positive = [&](std::int64_t v, const char* name) {
    enforce(v >= 1, where + name + " must be at least 1, got " + std::to_string(v));
  };
  positive(p.in_channels, "in_channels");
  positive(p.in_height, "in_height");
  positive(p.in_width, "in_width");
  positive(p.out_channels, "out_channels");
  positive(p.out_height, "out_height");
  positive(p.out_width, "out_width");
  positive(p.kernel_h, "kernel_h");
  positive(p.kernel_w, "kernel_w");
  positive(p.stride_h, "stride_h");
  positive(p.stride_w, "stride_w");
  positive(p.dilation_h, "dilation_h");
  positive(p.dilation_w, "dilation_w");
  positive(p.groups, "groups");
  enforce(p.pad_top >= 0 && p.pad_left >= 0, where + "padding must be non-negative");
  enforce(p.kernel_h <= INT32_MAX && p.kernel_w <= INT32_MAX, where + "kernel too large");
  enforce(p.in_channels % p.groups == 0 && p.out_channels % p.groups == 0,
          where + "groups (" + std::to_string(p.groups) + ") must divide in_channels (" +
              std::to_string(p.in_channels) + ") and out_channels (" + std::to_string(p.out_channels) +
              ")");
  enforce(p.mask != nullptr, where + "mask is missing");
  const std::int64_t outs = checked_mul(checked_mul(p.out_channels, p.out_height, "outputs"),
                                        p.out_width, "outputs");
  const std::int64_t entries = checked_mul(checked_mul(p.in_channels, p.in_height, "inputs"),
                                           p.in_width, "inputs");
  enforce(p.out_offset >= 0 && p.out_offset <= num_nodes - outs,
          where + "outputs [" + std::to_string(p.out_offset) + ", +" + std::to_string(outs) +
              ") exceed the " + std::to_string(num_nodes) + " nodes");
  if (p.inv_ptr == nullptr) {
    enforce(p.in_offset >= 0 && p.in_offset <= num_nodes - entries,
            where + "inputs [" + std::to_string(p.in_offset) + ", +" + std::to_string(entries) +
                ") exceed the " + std::to_string(num_nodes) + " nodes");
    return;
  }
  enforce(p.inv_entries != nullptr, where + "inv_entries is missing");
  enforce(0 <= p.src_begin && p.src_begin <= p.src_end && p.src_end <= num_nodes,
          where + "source range [" + std::to_string(p.src_begin) + ", " + std::to_string(p.src_end) +
              ") must lie in [0, " + std::to_string(num_nodes) + "]");
  enforce(p.inv_ptr[0] == 0, where + "inv_ptr[0] must be 0");
  for (std::int64_t k = 0; k < p.src_end - p.src_begin; ++k) {
    if (p.inv_ptr[k + 1] < p.inv_ptr[k]) enforce(false, where + "inv_ptr must not decrease");
    for (std::int64_t j = p.inv_ptr[k]; j < p.inv_ptr[k + 1]; ++j)
      if (p.inv_entries[j] < 0 || p.inv_entries[j] >= entries)  // the message only on failure
        enforce(false, where + "input entry " + std::to_string(p.inv_entries[j]) + " out of range [0, " +
                           std::to_string(entries) + ")");
  }
}

}  // namespace

struct UnrolledEncoding::Row {
  Row(std::int64_t kernel_h, std::int64_t kernel_w)
      : oy(static_cast<std::size_t>(kernel_h)), ox(static_cast<std::size_t>(kernel_w)) {}
  std::vector<std::pair<std::int64_t, double>> edges;  // (head, weight)
  std::vector<std::int64_t> oy, ox;                    // output row/column per kernel row/column
};

UnrolledEncoding::UnrolledEncoding(std::int64_t num_nodes, std::vector<ConvPiece> pieces, bool weighted,
                                   int threads, const StopFn& stop)
    : num_nodes_(num_nodes), weighted_(weighted) {
  enforce(num_nodes >= 0, "num_nodes must be non-negative, got " + std::to_string(num_nodes));
  for (std::size_t i = 0; i < pieces.size(); ++i) check_piece(pieces[i], i, num_nodes);
  // Sorted by output partition: a row then lists its heads in increasing order piece after piece,
  // unless two pieces share a partition (a residual sum) and the row feeds both.
  std::stable_sort(pieces.begin(), pieces.end(),
                   [](const ConvPiece& a, const ConvPiece& b) { return a.out_offset < b.out_offset; });
  pieces_.resize(pieces.size());
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    Prepared& pp = pieces_[i];
    const ConvPiece& p = pp.piece = pieces[i];
    pp.src_begin = p.inv_ptr ? p.src_begin : p.in_offset;
    pp.src_end = p.inv_ptr ? p.src_end : p.in_offset + p.in_entries();
    max_kernel_h_ = std::max(max_kernel_h_, p.kernel_h);
    max_kernel_w_ = std::max(max_kernel_w_, p.kernel_w);

    // Taps of input channel c: the unmasked (o, ky, kx) of o's in c's group, in the order
    // (o ascending, ky descending, kx descending). For a fixed input position oy falls as ky
    // grows, so this order yields heads (o, oy, ox) in increasing order. Input row y is read by
    // kernel row ky only if y + pad - ky d is a multiple of the stride: bucketing the taps by
    // (ky d) mod stride (and likewise for kx) leaves a row one bucket to scan.
    const std::int64_t cin_g = p.in_channels / p.groups, cout_g = p.out_channels / p.groups;
    const std::int64_t kk = p.kernel_h * p.kernel_w, plane = p.out_height * p.out_width;
    const std::int64_t phases = checked_mul(p.stride_h, p.stride_w, "stride phases");
    const bool keep_weight = weighted && p.weight != nullptr;
    const std::int64_t chunk = std::max<std::int64_t>(1, kEntriesPerTask / (cout_g * kk));
    auto bucket = [&](std::int64_t c, std::int64_t ky, std::int64_t kx) {
      return static_cast<std::size_t>((c * p.stride_h + ky * p.dilation_h % p.stride_h) * p.stride_w +
                                      kx * p.dilation_w % p.stride_w);
    };
    auto each_tap = [&](std::int64_t c, auto&& visit) {
      const std::int64_t g = c / cin_g, cl = c % cin_g;
      for (std::int64_t o = g * cout_g; o < (g + 1) * cout_g; ++o) {
        const std::int64_t row = (o * cin_g + cl) * kk;
        for (std::int64_t ky = p.kernel_h - 1; ky >= 0; --ky)
          for (std::int64_t kx = p.kernel_w - 1; kx >= 0; --kx) {
            const std::int64_t at = row + ky * p.kernel_w + kx;
            if (p.mask[at]) visit(o, ky, kx, at);
          }
      }
    };
    pp.tap_ptr.assign(static_cast<std::size_t>(checked_mul(p.in_channels, phases, "tap buckets")) + 1, 0);
    parallel_for(  // bucket sizes; a channel's buckets are written by its task only
        p.in_channels, chunk, threads,
        [&](std::int64_t begin, std::int64_t end) {
          for (std::int64_t c = begin; c < end; ++c)
            each_tap(c, [&](std::int64_t, std::int64_t ky, std::int64_t kx, std::int64_t) {
              ++pp.tap_ptr[bucket(c, ky, kx) + 1];
            });
        },
        stop);
    for (std::size_t j = 1; j < pp.tap_ptr.size(); ++j) pp.tap_ptr[j] += pp.tap_ptr[j - 1];
    pp.taps.resize(static_cast<std::size_t>(pp.tap_ptr.back()));
    if (keep_weight) pp.tap_weight.resize(pp.taps.size());
    parallel_for(
        p.in_channels, chunk, threads,
        [&](std::int64_t begin, std::int64_t end) {
          std::vector<std::size_t> next(static_cast<std::size_t>(phases));
          for (std::int64_t c = begin; c < end; ++c) {
            for (std::size_t f = 0; f < next.size(); ++f)
              next[f] = static_cast<std::size_t>(pp.tap_ptr[static_cast<std::size_t>(c * phases) + f]);
            each_tap(c, [&](std::int64_t o, std::int64_t ky, std::int64_t kx, std::int64_t at) {
              const std::size_t t = next[bucket(c, ky, kx) - static_cast<std::size_t>(c * phases)]++;
              pp.taps[t] = Tap{o * plane, static_cast<std::int32_t>(ky), static_cast<std::int32_t>(kx)};
              if (keep_weight) pp.tap_weight[t] = p.weight[at];
            });
          }
        },
        stop);
  }
}

std::vector<const UnrolledEncoding::Prepared*> UnrolledEncoding::active_in(std::int64_t begin,
                                                                           std::int64_t end) const {
  std::vector<const Prepared*> active;
  for (const Prepared& pp : pieces_)
    if (pp.src_begin < end && begin < pp.src_end) active.push_back(&pp);
  return active;
}

template <class Emit>
bool UnrolledEncoding::each_edge(std::int64_t u, const std::vector<const Prepared*>& active, Row& row,
                                 Emit&& emit) const {
  for (const Prepared* pp : active) {
    if (u < pp->src_begin || u >= pp->src_end) continue;
    const ConvPiece& p = pp->piece;
    std::int64_t direct = u - p.in_offset;
    const std::int64_t* first = &direct;
    const std::int64_t* stop = first + 1;
    if (p.inv_ptr != nullptr) {
      const std::int64_t k = u - p.src_begin;
      first = p.inv_entries + p.inv_ptr[k];
      stop = p.inv_entries + p.inv_ptr[k + 1];
    }
    const std::int64_t plane = p.in_height * p.in_width;
    const bool with_weight = !pp->tap_weight.empty();
    for (const std::int64_t* e = first; e != stop; ++e) {
      const std::int64_t c = *e / plane, y = (*e % plane) / p.in_width, x = *e % p.in_width;
      // Eq. 3 read backwards: the step at oy uses kernel row ky on input row y iff
      // y = oy * stride - pad + ky * dilation; -1 where no step does.
      for (std::int64_t ky = 0; ky < p.kernel_h; ++ky) {
        const std::int64_t t = y + p.pad_top - ky * p.dilation_h;
        const bool hit = t >= 0 && t % p.stride_h == 0 && t / p.stride_h < p.out_height;
        row.oy[static_cast<std::size_t>(ky)] = hit ? t / p.stride_h : -1;
      }
      for (std::int64_t kx = 0; kx < p.kernel_w; ++kx) {
        const std::int64_t t = x + p.pad_left - kx * p.dilation_w;
        const bool hit = t >= 0 && t % p.stride_w == 0 && t / p.stride_w < p.out_width;
        row.ox[static_cast<std::size_t>(kx)] = hit ? t / p.stride_w : -1;
      }
      const auto b = static_cast<std::size_t>(
          (c * p.stride_h + (y + p.pad_top) % p.stride_h) * p.stride_w + (x + p.pad_left) % p.stride_w);
      const auto t_end = static_cast<std::size_t>(pp->tap_ptr[b + 1]);
      for (auto t = static_cast<std::size_t>(pp->tap_ptr[b]); t < t_end; ++t) {
        const Tap& tap = pp->taps[t];
        const std::int64_t oy = row.oy[static_cast<std::size_t>(tap.ky)];
        const std::int64_t ox = row.ox[static_cast<std::size_t>(tap.kx)];
        if (oy < 0 || ox < 0) continue;
        if (!emit(p.out_offset + tap.base + oy * p.out_width + ox, with_weight ? pp->tap_weight[t] : 1.0))
          return false;
      }
    }
  }
  return true;
}

void UnrolledEncoding::merged_edges(std::int64_t u, const std::vector<const Prepared*>& active,
                                    Row& row) const {
  auto& edges = row.edges;
  edges.clear();
  each_edge(u, active, row, [&](std::int64_t head, double w) {
    edges.emplace_back(head, w);
    return true;
  });
  // Heads interleave (two pieces into one residual sum) or repeat (overlapping pooling windows):
  // stable, so the weights of a repeated edge are summed in a fixed order.
  std::stable_sort(edges.begin(), edges.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::size_t kept = 0;
  for (std::size_t i = 0; i < edges.size(); ++i) {
    if (kept > 0 && edges[kept - 1].first == edges[i].first) {
      if (weighted_) edges[kept - 1].second += edges[i].second;
    } else {
      edges[kept++] = edges[i];
    }
  }
  edges.resize(kept);
}

Buffer<std::int64_t> UnrolledEncoding::out_degrees(int threads, const StopFn& stop) const {
  Buffer<std::int64_t> degrees;
  allocate(degrees, num_nodes_, "out-degrees");
  parallel_for(
      num_nodes_, kRowsPerTask, threads,
      [&](std::int64_t begin, std::int64_t end) {
        const auto active = active_in(begin, end);
        Row row(max_kernel_h_, max_kernel_w_);
        for (std::int64_t u = begin; u < end; ++u) {
          // Count without storing while heads increase; merge only rows where they do not.
          std::int64_t n = 0, last = -1;
          const bool plain = each_edge(u, active, row, [&](std::int64_t head, double) {
            if (head <= last) return false;
            last = head;
            ++n;
            return true;
          });
          if (!plain) {
            merged_edges(u, active, row);
            n = static_cast<std::int64_t>(row.edges.size());
          }
          degrees[static_cast<std::size_t>(u)] = n;
        }
      },
      stop);
  return degrees;
}

template <class Index>
Csr<Index> UnrolledEncoding::csr(const Buffer<std::int64_t>& degrees, int threads,
                                 const StopFn& stop) const {
  enforce(static_cast<std::int64_t>(degrees.size()) == num_nodes_,
          "degrees must have one entry per node");
  Csr<Index> out;
  out.rows = out.cols = num_nodes_;
  allocate(out.indptr, num_nodes_ + 1, "encoding indptr");
  std::int64_t nnz = 0;
  out.indptr[0] = 0;
  for (std::size_t u = 0; u < degrees.size(); ++u) {
    nnz += degrees[u];
    out.indptr[u + 1] = static_cast<Index>(nnz);
  }
  enforce(sizeof(Index) == 8 || (fits_int32(nnz) && fits_int32(num_nodes_)),
          "encoding: index type too small for " + std::to_string(nnz) + " edges");
  allocate(out.indices, nnz, "encoding indices");
  allocate(out.data, nnz, "encoding weights");
  parallel_for(
      num_nodes_, kRowsPerTask, threads,
      [&](std::int64_t begin, std::int64_t end) {
        const auto active = active_in(begin, end);
        Row row(max_kernel_h_, max_kernel_w_);
        for (std::int64_t u = begin; u < end; ++u) {
          // Straight into the row's own slots while heads increase (the row owns exactly
          // `degree` slots, so a longer or unsorted row stops early and is merged instead).
          const auto at = static_cast<std::size_t>(out.indptr[static_cast<std::size_t>(u)]);
          const std::int64_t degree = degrees[static_cast<std::size_t>(u)];
          std::int64_t n = 0, last = -1;
          const bool plain = each_edge(u, active, row, [&](std::int64_t head, double w) {
            if (head <= last || n == degree) return false;
            out.indices[at + static_cast<std::size_t>(n)] = static_cast<Index>(head);
            out.data[at + static_cast<std::size_t>(n)] = w;
            last = head;
            ++n;
            return true;
          });
          if (plain && n == degree) continue;
          merged_edges(u, active, row);
          enforce(static_cast<std::int64_t>(row.edges.size()) == degree,
                  "encoding: degrees do not match the pieces (node " + std::to_string(u) + ")");
          for (std::size_t j = 0; j < row.edges.size(); ++j) {
            out.indices[at + j] = static_cast<Index>(row.edges[j].first);
            out.data[at + j] = row.edges[j].second;
          }
        }
      },
      stop);
  return out;
}

template Csr<std::int32_t> UnrolledEncoding::csr<std::int32_t>(const Buffer<std::int64_t>&, int,
                                                               const StopFn&) const;
template Csr<std::int64_t> UnrolledEncoding::csr<std::int64_t>(const Buffer<std::int64_t>&, int,
                                                               const StopFn&) const;

}  // namespace ramcore
