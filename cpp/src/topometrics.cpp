#include "ramcore/topometrics.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "ramcore/enforce.hpp"
#include "ramcore/lanczos.hpp"
#include "ramcore/linear_operator.hpp"

namespace ramcore {
namespace {

using Size = std::size_t;

template <class T>
Size at(T i) {
  return static_cast<Size>(i);
}

// Nodes per parallel task: about kEntriesPerTask units of work each (`work` in total), fixed by the
// graph alone. The counts summed over these chunks (deterministic_sum) are exact integers, so the
// chunks are sized for load balance; the one floating-point sum (weight_sum) uses kSumBlock.
std::int64_t node_chunk(std::int64_t n, std::int64_t work) {
  const std::int64_t per_node = std::max<std::int64_t>(1, work / std::max<std::int64_t>(n, 1));
  return std::max<std::int64_t>(16, kEntriesPerTask / per_node);
}

// Zero-filled n-entry scratch arrays, one per chunk running at the same time (so at most one per
// thread is ever allocated); a chunk hands its array back in the state the next user expects.
template <class T>
class ScratchPool {
 public:
  explicit ScratchPool(std::int64_t n) : n_(n) {}
  class Lease {
   public:
    explicit Lease(ScratchPool& pool) : pool_(pool), array_(pool.acquire()) {}
    ~Lease() { pool_.release(std::move(array_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    T* data() { return array_->data(); }

   private:
    ScratchPool& pool_;
    std::unique_ptr<std::vector<T>> array_;
  };

 private:
  std::unique_ptr<std::vector<T>> acquire() {
    {
      std::lock_guard<std::mutex> lock(m_);
      if (!free_.empty()) {
        auto a = std::move(free_.back());
        free_.pop_back();
        return a;
      }
    }
    return std::make_unique<std::vector<T>>(at(n_), T{0});
  }
  void release(std::unique_ptr<std::vector<T>> a) {
    std::lock_guard<std::mutex> lock(m_);
    free_.push_back(std::move(a));
  }
  std::int64_t n_;
  std::mutex m_;
  std::vector<std::unique_ptr<std::vector<T>>> free_;
};

Int128 choose2(Int128 x) { return x * (x - 1) / 2; }
Int128 choose3(Int128 x) { return x * (x - 1) * (x - 2) / 6; }

struct LocalPart {
  LocalConnectivity c;
  LocalPart& operator+=(const LocalPart& o) {
    c.sinks += o.c.sinks;
    c.sources += o.c.sources;
    c.disconnected += o.c.disconnected;
    c.removable_out += o.c.removable_out;
    c.removable_in += o.c.removable_in;
    return *this;
  }
};

struct HopPart {
  NeighbourhoodSums s;
  HopPart& operator+=(const HopPart& o) {
    s.one_hop += o.s.one_hop;
    s.two_hop += o.s.two_hop;
    return *this;
  }
};

// Non-induced ("subgraph") counts of the six connected 4-node graphs, accumulated per chunk.
struct SubgraphPart {
  Int128 star = 0, path_edges = 0, tri3 = 0, paw = 0, cycle = 0, diamond = 0, clique = 0;
  SubgraphPart& operator+=(const SubgraphPart& o) {
    star += o.star;
    path_edges += o.path_edges;
    tri3 += o.tri3;
    paw += o.paw;
    cycle += o.cycle;
    diamond += o.diamond;
    clique += o.clique;
    return *this;
  }
};

}  // namespace

template <class Index>
Topology<Index>::Topology(std::int64_t n, const Index* indptr, const Index* indices, const double* data,
                          int threads, const StopFn& stop)
    : n_(n), m_(0), indptr_(indptr), indices_(indices), data_(data), threads_(threads) {
  constexpr auto kMax = static_cast<std::int64_t>(std::numeric_limits<Index>::max());
  enforce(n >= 0 && n < kMax, "the number of nodes must lie in [0, " + std::to_string(kMax) + "), got " +
                                  std::to_string(n));
  enforce(indptr[0] == 0, "indptr[0] must be 0");
  m_ = static_cast<std::int64_t>(indptr[n]);
  enforce(m_ >= 0 && m_ <= kMax / 2, "the undirected graph of " + std::to_string(m_) +
                                         " edges does not fit the index type; pass 64-bit indices");
  StopPoll poll(stop);

  // Rows strictly increasing, in range and loop-free: the first offending row (in row order) is
  // reported, whatever the schedule.
  const std::int64_t chunk = node_chunk(n, m_);
  auto bad_row = [&](std::int64_t r) {
    const auto b = static_cast<std::int64_t>(indptr[r]), e = static_cast<std::int64_t>(indptr[r + 1]);
    if (b < 0 || b > e || e > m_) return true;
    for (std::int64_t k = b; k < e; ++k) {
      const auto v = static_cast<std::int64_t>(indices[k]);
      if (v < 0 || v >= n || v == r || (k > b && indices[k - 1] >= indices[k])) return true;
    }
    return false;
  };
  std::vector<std::int64_t> first_bad(at((n + chunk - 1) / chunk), -1);
  parallel_for(
      n, chunk, threads,
      [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t r = b; r < e; ++r)
          if (bad_row(r)) {
            first_bad[at(b / chunk)] = r;
            return;
          }
      },
      stop);
  for (const std::int64_t r : first_bad)
    enforce(r < 0, "row " + std::to_string(r) +
                       " of the adjacency is not a valid row of a simple directed graph: indptr must not "
                       "decrease, column indices must lie in [0, " + std::to_string(n) +
                       "), be sorted without duplicates and differ from the row (no self-loops)");

  // The transpose by one counting sort in row order, so every in-list comes out sorted.
  in_degree_.assign(at(n), Index{0});
  for (std::int64_t k = 0; k < m_; ++k) {
    ++in_degree_[at(indices[k])];
    poll.tick();
  }
  std::vector<std::int64_t> in_offsets(at(n + 1), 0);
  for (std::int64_t v = 0; v < n; ++v) in_offsets[at(v + 1)] = in_offsets[at(v)] + in_degree_[at(v)];
  Buffer<Index> in_rows;
  allocate(in_rows, m_, "transposed adjacency");
  Buffer<double> in_weight;
  if (data_) allocate(in_weight, m_, "transposed weights");
  {
    std::vector<std::int64_t> fill(in_offsets.begin(), in_offsets.end() - 1);
    for (std::int64_t u = 0; u < n; ++u) {
      for (auto k = static_cast<std::int64_t>(indptr[u]); k < static_cast<std::int64_t>(indptr[u + 1]); ++k) {
        const std::int64_t p = fill[at(indices[k])]++;
        in_rows[at(p)] = static_cast<Index>(u);
        if (data_) in_weight[at(p)] = std::abs(data_[k]);
      }
      poll.tick(static_cast<std::int64_t>(indptr[u + 1] - indptr[u]) + 1);
    }
  }

  // U's row u is the sorted union of the out-list and the in-list of u: counted, then filled.
  auto merge_row = [&](std::int64_t u, Index* out, double* w) {
    std::int64_t i = static_cast<std::int64_t>(indptr[u]), ie = static_cast<std::int64_t>(indptr[u + 1]);
    std::int64_t j = in_offsets[at(u)], je = in_offsets[at(u + 1)];
    std::int64_t count = 0;
    while (i < ie || j < je) {
      Index v;
      double wv = 0;
      if (j >= je || (i < ie && indices[i] < in_rows[at(j)])) {
        v = indices[i];
        if (w) wv = std::abs(data_[i]);
        ++i;
      } else if (i >= ie || in_rows[at(j)] < indices[i]) {
        v = in_rows[at(j)];
        if (w) wv = in_weight[at(j)];
        ++j;
      } else {  // u -> v and v -> u: one undirected edge
        v = indices[i];
        if (w) wv = std::max(std::abs(data_[i]), in_weight[at(j)]);
        ++i;
        ++j;
      }
      if (out) out[count] = v;
      if (w) w[count] = wv;
      ++count;
    }
    return count;
  };
  allocate(offsets_, n + 1, "undirected graph offsets");
  offsets_[0] = 0;
  parallel_for(
      n, chunk, threads,
      [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t u = b; u < e; ++u) offsets_[at(u + 1)] = static_cast<Index>(merge_row(u, nullptr, nullptr));
      },
      stop);
  for (std::int64_t u = 0; u < n; ++u) offsets_[at(u + 1)] = static_cast<Index>(offsets_[at(u + 1)] + offsets_[at(u)]);
  allocate(adj_, static_cast<std::int64_t>(offsets_[at(n)]), "undirected graph");
  if (data_) allocate(weight_, static_cast<std::int64_t>(offsets_[at(n)]), "undirected weights");
  parallel_for(
      n, chunk, threads,
      [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t u = b; u < e; ++u)
          merge_row(u, adj_.data() + offsets_[at(u)], data_ ? weight_.data() + offsets_[at(u)] : nullptr);
      },
      stop);
}

template <class Index>
LocalConnectivity Topology<Index>::local(const std::int32_t* partition, std::int32_t first, std::int32_t last,
                                         const StopFn& stop) const {
  auto body = [&](std::int64_t b, std::int64_t e, LocalPart& p) {
    for (std::int64_t v = b; v < e; ++v) {
      const auto out = static_cast<std::int64_t>(indptr_[v + 1] - indptr_[v]);
      const auto in = static_cast<std::int64_t>(in_degree_[at(v)]);
      if (out == 0 && in == 0) {
        ++p.c.disconnected;
      } else if (out == 0) {
        if (!partition || partition[v] != last) {  // footnote 4: no sinks in the last partition
          ++p.c.sinks;
          p.c.removable_in += in;
        }
      } else if (in == 0) {
        if (!partition || partition[v] != first) {  // ... nor sources in the first
          ++p.c.sources;
          p.c.removable_out += out;
        }
      }
    }
  };
  return deterministic_sum<LocalPart>(n_, kEntriesPerTask, 1, threads_, body, stop).c;
}

template <class Index>
NeighbourhoodSums Topology<Index>::neighbourhoods(const StopFn& stop) const {
  // A node is counted once per root: marks hold the root's stamp a + 1, unique within this call,
  // so the arrays never need clearing. Work: sum over nodes of in-degree * out-degree.
  ScratchPool<Index> marks(n_);
  auto body = [&](std::int64_t b, std::int64_t e, HopPart& p) {
    typename ScratchPool<Index>::Lease lease(marks);
    Index* mark = lease.data();
    for (std::int64_t a = b; a < e; ++a) {
      const auto stamp = static_cast<Index>(a + 1);
      mark[a] = stamp;
      const auto ob = static_cast<std::int64_t>(indptr_[a]), oe = static_cast<std::int64_t>(indptr_[a + 1]);
      for (std::int64_t k = ob; k < oe; ++k) mark[indices_[k]] = stamp;
      std::int64_t reached = oe - ob;  // rows hold distinct non-loop targets
      p.s.one_hop += reached;
      for (std::int64_t k = ob; k < oe; ++k) {
        const Index v = indices_[k];
        for (auto q = static_cast<std::int64_t>(indptr_[v]); q < static_cast<std::int64_t>(indptr_[v + 1]); ++q) {
          const Index w = indices_[q];
          if (mark[w] != stamp) {
            mark[w] = stamp;
            ++reached;
          }
        }
      }
      p.s.two_hop += reached;
    }
  };
  return deterministic_sum<HopPart>(n_, node_chunk(n_, m_), 1, threads_, body, stop).s;
}

// Exact connected 4-node subgraph counts on U from non-induced counts N_H (copies of H as a
// subgraph, edges not required to be induced) by the graphlet identities (Hočevar & Demšar,
// Bioinformatics 2014; Ahmed et al., ICDM 2015). With d_v degrees, t_e the triangles on edge e, t_v
// those at node v, T all triangles:
//   N_star    = sum_v C(d_v, 3)
//   N_path    = sum_{uv in E} (d_u - 1)(d_v - 1) - 3 T
//   N_paw     = sum_v t_v (d_v - 2)
//   N_diamond = sum_e C(t_e, 2)
//   N_cycle, N_clique enumerated directly.
// A connected 4-set with induced class H' holds c(H, H') copies of H:
//   star in (star, paw, diamond, K4) = (1, 1, 2, 4); path in (path, paw, C4, diamond, K4) =
//   (1, 2, 4, 6, 12); paw in (paw, diamond, K4) = (1, 4, 12); C4 in (C4, diamond, K4) = (1, 1, 3);
//   diamond in (diamond, K4) = (1, 6),
// an upper-triangular system solved from K4 down. Triangles, K4 and C4 are enumerated in the degree
// order (Chiba & Nishizeki 1985): every node keeps only its neighbours of higher rank for
// triangles (out-degree at most sqrt(2m)), and a 4-cycle is found once, from its highest-ranked
// node u through wedges u - v - w with v, w ranked below u (w opposite u).
template <class Index>
Motif4Counts Topology<Index>::motifs4(const StopFn& stop) const {
  const std::int64_t n = n_;
  auto degree = [&](std::int64_t u) { return static_cast<std::int64_t>(offsets_[at(u + 1)] - offsets_[at(u)]); };
  StopPoll poll(stop);

  // Rank by (degree, id): a stable counting sort. `order` maps ranks to nodes.
  std::int64_t max_degree = 0;
  for (std::int64_t u = 0; u < n; ++u) max_degree = std::max(max_degree, degree(u));
  std::vector<std::int64_t> start(at(max_degree + 2), 0);
  for (std::int64_t u = 0; u < n; ++u) ++start[at(degree(u) + 1)];
  for (std::int64_t d = 0; d <= max_degree; ++d) start[at(d + 1)] += start[at(d)];
  std::vector<Index> order(at(n)), rank(at(n));
  for (std::int64_t u = 0; u < n; ++u) {
    const std::int64_t r = start[at(degree(u))]++;
    order[at(r)] = static_cast<Index>(u);
    rank[at(u)] = static_cast<Index>(r);
  }

  // U relabelled by rank, rows sorted; hi[u]: the first position of a neighbour ranked above u.
  Buffer<Index> roff, radj;
  allocate(roff, n + 1, "ranked graph offsets");
  allocate(radj, static_cast<std::int64_t>(adj_.size()), "ranked graph");
  std::vector<Index> hi(at(n));
  roff[0] = 0;
  for (std::int64_t u = 0; u < n; ++u) roff[at(u + 1)] = static_cast<Index>(roff[at(u)] + degree(order[at(u)]));
  const std::int64_t chunk = node_chunk(n, static_cast<std::int64_t>(adj_.size()));
  parallel_for(
      n, chunk, threads_,
      [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t u = b; u < e; ++u) {
          const auto old = static_cast<std::int64_t>(order[at(u)]);
          Index* row = radj.data() + roff[at(u)];
          const auto len = static_cast<Size>(degree(old));
          for (Size i = 0; i < len; ++i) row[i] = rank[at(adj_[at(offsets_[at(old)]) + i])];
          std::sort(row, row + len);
          hi[at(u)] = static_cast<Index>(std::upper_bound(row, row + len, static_cast<Index>(u)) - radj.data());
        }
      },
      stop);
  poll.tick(n);

  // Pass 1: triangles (each once, from its lowest node u < v < w) with their per-edge and per-node
  // counts, K4 (u < v < w < x) and 4-cycles.
  std::vector<std::atomic<Index>> edge_triangles(radj.size());
  std::vector<std::atomic<std::int64_t>> node_triangles(at(n));
  for (auto& t : edge_triangles) t.store(0, std::memory_order_relaxed);
  for (auto& t : node_triangles) t.store(0, std::memory_order_relaxed);
  ScratchPool<Index> wedge_counts(n);
  auto enumerate = [&](std::int64_t b, std::int64_t e, SubgraphPart& p) {
    typename ScratchPool<Index>::Lease lease(wedge_counts);
    Index* wedges = lease.data();
    std::vector<Index> common, touched;
    for (std::int64_t u = b; u < e; ++u) {
      const auto ue = static_cast<std::int64_t>(roff[at(u + 1)]);
      for (auto pv = static_cast<std::int64_t>(hi[at(u)]); pv < ue; ++pv) {
        const Index v = radj[at(pv)];
        const auto ve = static_cast<std::int64_t>(roff[at(v) + 1]);
        common.clear();
        std::int64_t i = pv + 1, j = static_cast<std::int64_t>(hi[at(v)]);
        while (i < ue && j < ve) {
          if (radj[at(i)] < radj[at(j)]) {
            ++i;
          } else if (radj[at(j)] < radj[at(i)]) {
            ++j;
          } else {
            const Index w = radj[at(i)];
            edge_triangles[at(pv)].fetch_add(1, std::memory_order_relaxed);
            edge_triangles[at(i)].fetch_add(1, std::memory_order_relaxed);
            edge_triangles[at(j)].fetch_add(1, std::memory_order_relaxed);
            node_triangles[at(u)].fetch_add(1, std::memory_order_relaxed);
            node_triangles[at(v)].fetch_add(1, std::memory_order_relaxed);
            node_triangles[at(w)].fetch_add(1, std::memory_order_relaxed);
            common.push_back(w);
            ++i;
            ++j;
          }
        }
        // K4 {u, v, w, x}: x above w among the common neighbours, and adjacent to w.
        for (Size c = 0; c < common.size(); ++c) {
          const Index w = common[c];
          Size a = c + 1;
          auto q = static_cast<std::int64_t>(hi[at(w)]);
          const auto we = static_cast<std::int64_t>(roff[at(w) + 1]);
          while (a < common.size() && q < we) {
            if (common[a] < radj[at(q)]) {
              ++a;
            } else if (radj[at(q)] < common[a]) {
              ++q;
            } else {
              ++p.clique;
              ++a;
              ++q;
            }
          }
        }
      }
      // 4-cycles u - v - w - x with u the highest node: pairs of wedges u - v - w, v and w below u.
      for (auto pv = static_cast<std::int64_t>(roff[at(u)]); pv < static_cast<std::int64_t>(hi[at(u)]); ++pv) {
        const Index v = radj[at(pv)];
        for (auto q = static_cast<std::int64_t>(roff[at(v)]); q < static_cast<std::int64_t>(roff[at(v) + 1]); ++q) {
          const Index w = radj[at(q)];
          if (static_cast<std::int64_t>(w) >= u) break;
          if (wedges[w]++ == 0) touched.push_back(w);
        }
      }
      for (const Index w : touched) {
        p.cycle += choose2(wedges[w]);
        wedges[w] = 0;
      }
      touched.clear();
    }
  };
  SubgraphPart s = deterministic_sum<SubgraphPart>(n, chunk, 1, threads_, enumerate, stop);

  // Pass 2: the degree-based counts, with the triangle counts now complete.
  auto tally = [&](std::int64_t b, std::int64_t e, SubgraphPart& p) {
    for (std::int64_t u = b; u < e; ++u) {
      const auto ub = static_cast<std::int64_t>(roff[at(u)]), ue = static_cast<std::int64_t>(roff[at(u + 1)]);
      const Int128 du = ue - ub;
      p.star += choose3(du);
      p.paw += static_cast<Int128>(node_triangles[at(u)].load(std::memory_order_relaxed)) * (du - 2);
      for (auto pv = static_cast<std::int64_t>(hi[at(u)]); pv < ue; ++pv) {
        const Index v = radj[at(pv)];
        const Int128 dv = static_cast<std::int64_t>(roff[at(v) + 1] - roff[at(v)]);
        p.path_edges += (du - 1) * (dv - 1);
        const Int128 t = static_cast<std::int64_t>(edge_triangles[at(pv)].load(std::memory_order_relaxed));
        p.tri3 += t;
        p.diamond += choose2(t);
      }
    }
  };
  const SubgraphPart d = deterministic_sum<SubgraphPart>(n, chunk, 1, threads_, tally, stop);
  s.star = d.star;
  s.paw = d.paw;
  s.path_edges = d.path_edges;
  s.tri3 = d.tri3;
  s.diamond = d.diamond;

  Motif4Counts c;
  c.clique = s.clique;
  c.diamond = s.diamond - 6 * c.clique;
  c.cycle = s.cycle - c.diamond - 3 * c.clique;
  c.tailed_triangle = s.paw - 4 * c.diamond - 12 * c.clique;
  c.path = (s.path_edges - s.tri3) - 2 * c.tailed_triangle - 4 * c.cycle - 6 * c.diamond - 12 * c.clique;
  c.star = s.star - c.tailed_triangle - 2 * c.diamond - 4 * c.clique;
  return c;
}

// Batagelj & Zaversnik, "An O(m) Algorithm for Cores Decomposition of Networks" (2003): nodes sit
// in an array sorted by current degree (bucket starts in `bin`); taking them in that order, each
// neighbour of higher degree moves to the front of its bucket and loses one degree.
template <class Index>
std::int64_t Topology<Index>::core_number_sum(const StopFn& stop) const {
  const std::int64_t n = n_;
  StopPoll poll(stop);
  std::vector<std::int64_t> deg(at(n)), pos(at(n)), vert(at(n));
  std::int64_t max_degree = 0;
  for (std::int64_t v = 0; v < n; ++v) {
    deg[at(v)] = static_cast<std::int64_t>(offsets_[at(v + 1)] - offsets_[at(v)]);
    max_degree = std::max(max_degree, deg[at(v)]);
  }
  std::vector<std::int64_t> bin(at(max_degree + 1), 0);
  for (std::int64_t v = 0; v < n; ++v) ++bin[at(deg[at(v)])];
  for (std::int64_t d = 0, s = 0; d <= max_degree; ++d) {
    const std::int64_t count = bin[at(d)];
    bin[at(d)] = s;
    s += count;
  }
  for (std::int64_t v = 0; v < n; ++v) {
    pos[at(v)] = bin[at(deg[at(v)])]++;
    vert[at(pos[at(v)])] = v;
  }
  for (std::int64_t d = max_degree; d > 0; --d) bin[at(d)] = bin[at(d - 1)];
  bin[0] = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t v = vert[at(i)];
    const auto vb = static_cast<std::int64_t>(offsets_[at(v)]), ve = static_cast<std::int64_t>(offsets_[at(v + 1)]);
    for (std::int64_t k = vb; k < ve; ++k) {
      const auto u = static_cast<std::int64_t>(adj_[at(k)]);
      if (deg[at(u)] > deg[at(v)]) {
        const std::int64_t du = deg[at(u)], pu = pos[at(u)], pw = bin[at(du)], w = vert[at(pw)];
        if (u != w) {
          pos[at(u)] = pw;
          vert[at(pu)] = w;
          pos[at(w)] = pu;
          vert[at(pw)] = u;
        }
        ++bin[at(du)];
        --deg[at(u)];
      }
    }
    poll.tick(ve - vb + 1);
  }
  std::int64_t sum = 0;
  for (const std::int64_t c : deg) sum += c;  // deg now holds the core numbers
  return sum;
}

template <class Index>
double Topology<Index>::weight_sum(const StopFn& stop) const {
  if (!data_) return static_cast<double>(m_);
  struct Part {
    double s = 0;
    Part& operator+=(const Part& o) {
      s += o.s;
      return *this;
    }
  };
  auto body = [&](std::int64_t b, std::int64_t e, Part& p) {
    for (std::int64_t k = b; k < e; ++k) p.s += data_[k];
  };
  return deterministic_sum<Part>(m_, kSumBlock, kEntriesPerTask / kSumBlock, threads_, body, stop).s;
}

// Tarjan's low-link depth-first search with an explicit stack (graphs have millions of nodes). U is
// simple, so skipping the parent node skips exactly the tree edge. A tree edge (p, v) is a bridge
// when low(v) > disc(p); a non-root p is a cut-node when some child has low(v) >= disc(p), a root
// when it has two or more children.
template <class Index>
GlobalConnectivity Topology<Index>::connectivity(const StopFn& stop) const {
  const std::int64_t n = n_;
  StopPoll poll(stop);
  std::vector<std::int64_t> disc(at(n), -1), low(at(n)), parent(at(n)), next(at(n)), stack;
  std::vector<char> cut(at(n), 0);
  GlobalConnectivity g;
  std::int64_t time = 0;
  for (std::int64_t s = 0; s < n; ++s) {
    if (disc[at(s)] >= 0) continue;
    ++g.components;
    std::int64_t root_children = 0;
    disc[at(s)] = low[at(s)] = time++;
    parent[at(s)] = -1;
    next[at(s)] = static_cast<std::int64_t>(offsets_[at(s)]);
    stack.assign(1, s);
    while (!stack.empty()) {
      const std::int64_t v = stack.back();
      if (next[at(v)] < static_cast<std::int64_t>(offsets_[at(v + 1)])) {
        const auto w = static_cast<std::int64_t>(adj_[at(next[at(v)]++)]);
        if (disc[at(w)] < 0) {
          parent[at(w)] = v;
          disc[at(w)] = low[at(w)] = time++;
          next[at(w)] = static_cast<std::int64_t>(offsets_[at(w)]);
          stack.push_back(w);
          if (v == s) ++root_children;
        } else if (w != parent[at(v)]) {
          low[at(v)] = std::min(low[at(v)], disc[at(w)]);
        }
      } else {
        stack.pop_back();
        const std::int64_t p = parent[at(v)];
        if (p >= 0) {
          low[at(p)] = std::min(low[at(p)], low[at(v)]);
          if (low[at(v)] > disc[at(p)]) ++g.bridges;
          if (p != s && low[at(v)] >= disc[at(p)]) cut[at(p)] = 1;
        }
      }
      poll.tick();
    }
    if (root_children > 1) cut[at(s)] = 1;
  }
  for (const char c : cut) g.articulation_points += c;
  return g;
}

namespace {

LanczosOptions top_options(double tol, int max_restarts, std::int64_t keep_bytes, int threads) {
  LanczosOptions o;
  o.k = 1;
  o.which = Which::kLargest;
  o.tol = tol;
  o.max_restarts = max_restarts;
  o.threads = threads;
  o.two_pass = true;  // no Gram-Schmidt: about half the time of thick restarts on slow gaps
  o.keep_vectors_bytes = keep_bytes;
  return o;
}

void append(ExtremeEigenvalues& out, LanczosResult&& r) {
  out.values.push_back(r.values[0]);
  out.residuals.push_back(r.residuals[0]);
  out.matvecs += r.matvecs;
  out.converged = out.converged && r.converged;
}

}  // namespace

template <class Index>
ExtremeEigenvalues Topology<Index>::adjacency_top_two(double tol, int max_restarts, std::int64_t keep_bytes,
                                                      const StopFn& stop) const {
  enforce(n_ >= 2, "the spectral gap needs at least 2 nodes, got " + std::to_string(n_));
  const CsrOperator<Index> a(n_, n_, offsets_.data(), adj_.data(), weight_.empty() ? nullptr : weight_.data());
  LanczosOptions o = top_options(tol, max_restarts, keep_bytes, threads_);
  o.vectors = true;
  LanczosResult first = lanczos(a, nullptr, 0, o, stop);
  const std::vector<double> y = std::move(first.vectors);
  ExtremeEigenvalues out;
  out.converged = true;
  append(out, std::move(first));
  // A new start vector: the first one's component in a repeated lambda_1's eigenspace is along y,
  // so with y deflated it would miss the other copies.
  o.vectors = false;
  o.seed = 0x9e3779b97f4a7c15ULL;
  append(out, lanczos(a, y.data(), 1, o, stop));
  return out;
}

template <class Index>
ExtremeEigenvalues Topology<Index>::laplacian_top(double tol, int max_restarts, std::int64_t keep_bytes,
                                                  const StopFn& stop) const {
  enforce(n_ >= 1, "the Laplacian needs at least one node");
  const CsrOperator<Index> a(n_, n_, offsets_.data(), adj_.data(), weight_.empty() ? nullptr : weight_.data());
  const LaplacianOperator l(a, a.row_sums(threads_, stop), false);
  ExtremeEigenvalues out;
  out.converged = true;
  append(out, lanczos(l, nullptr, 0, top_options(tol, max_restarts, keep_bytes, threads_), stop));
  return out;
}

template class Topology<std::int32_t>;
template class Topology<std::int64_t>;

}  // namespace ramcore
