// The topometrics of seed 004 (Cunegatti et al., "Understanding Sparse Neural Networks from their
// Topology via Multipartite Graph Representations", TMLR 2024, Section 3.3 and Table 2), exact, on
// a directed graph stored as CSR: entry (u, v) is the edge u -> v with weight data[k].
//
// Conventions (the seed's text, and its public code where the text is silent):
// - Local connectivity follows edge direction. A sink has out-degree 0 and in-degree > 0, a source
//   in-degree 0 and out-degree > 0, a disconnected node neither (so the three sets are disjoint, as
//   in the seed's code); footnote 4: sinks are not counted in the last partition nor sources in the
//   first. r_out sums the out-degrees of the sources, r_in the in-degrees of the sinks.
// - k-hop neighbourhoods follow edge direction (the seed's igraph neighborhood_size(mode="out")):
//   N_k(a) = #{b != a : b reachable from a by a directed path of at most k edges}.
//   (Python's topometrics() adds the root, as igraph and the seed's published values count it.)
// - Everything else is computed on the undirected simple graph U of the edges (direction dropped,
//   u -> v and v -> u merged into one edge of weight max(|w_uv|, |w_vu|)): 4-node motifs (a 4-set
//   counts when its induced subgraph is weakly connected), k-cores, weakly connected components,
//   bridges and articulation points (igraph treats direction the same way), and the spectra of the
//   adjacency |W| (footnote 5: undirected, absolute weights) and of the Laplacian D - |W|.
//
// Every parallel loop splits nodes into fixed chunks and reduces per-chunk partial sums in chunk
// order, so every result is bit-identical for any thread count; counts are exact integers.
#pragma once

#include <cstdint>
#include <vector>

#include "ramcore/csr.hpp"
#include "ramcore/parallel.hpp"

namespace ramcore {

// Motif counts of a graph with m edges and maximum degree d reach m d^2 (4-paths) and C(n, 4)
// (4-sets of a dense graph): beyond 2^63 for a dense graph on ~10^5 nodes, so they are kept in
// 128-bit integers (GCC/Clang extension).
__extension__ typedef __int128 Int128;

struct LocalConnectivity {
  std::int64_t sinks = 0;         // out-degree 0, in-degree > 0, not in the last partition
  std::int64_t sources = 0;       // in-degree 0, out-degree > 0, not in the first partition
  std::int64_t disconnected = 0;  // in- and out-degree 0 (any partition)
  std::int64_t removable_out = 0;  // sum of the out-degrees of the sources (seed's r-out numerator)
  std::int64_t removable_in = 0;   // sum of the in-degrees of the sinks (seed's r-in numerator)
};

struct NeighbourhoodSums {
  std::int64_t one_hop = 0;  // sum over nodes of N_1(a) (= number of edges)
  std::int64_t two_hop = 0;  // sum over nodes of N_2(a)
};

// Induced connected 4-node subgraphs of U by isomorphism class (the six connected simple graphs on
// four nodes). Counted from non-induced counts by the graphlet identities (see topometrics.cpp).
struct Motif4Counts {
  Int128 star = 0;             // K_{1,3}: one centre joined to three leaves
  Int128 path = 0;             // P_4
  Int128 tailed_triangle = 0;  // a triangle with a pendant edge ("paw")
  Int128 cycle = 0;            // C_4
  Int128 diamond = 0;          // K_4 minus one edge
  Int128 clique = 0;           // K_4
  Int128 total() const { return star + path + tailed_triangle + cycle + diamond + clique; }
};

struct GlobalConnectivity {
  std::int64_t components = 0;           // weakly connected components, isolated nodes included
  std::int64_t bridges = 0;              // cut-edges of U
  std::int64_t articulation_points = 0;  // cut-nodes of U
};

struct ExtremeEigenvalues {
  std::vector<double> values;     // largest first
  std::vector<double> residuals;  // true residual norms of the unit Ritz vectors
  std::int64_t matvecs = 0;
  bool converged = false;
};

// A directed graph viewed in place, with its undirected simple graph U built once. The caller keeps
// the CSR arrays alive while the object is used. Index is the type of both the input CSR and U's
// arrays, so 2 nnz must fit in it.
template <class Index>
class Topology {
 public:
  // Checks that every row is strictly increasing (sorted, no duplicates), in range and without a
  // loop (std::invalid_argument naming the row otherwise); data == nullptr means every weight is 1.
  Topology(std::int64_t n, const Index* indptr, const Index* indices, const double* data, int threads,
           const StopFn& stop);

  std::int64_t num_nodes() const { return n_; }
  std::int64_t num_edges() const { return m_; }
  std::int64_t num_undirected_edges() const { return static_cast<std::int64_t>(adj_.size()) / 2; }

  // Seed 004 (1)-(5). partition == nullptr: no partition is excluded (footnote 4 needs one).
  LocalConnectivity local(const std::int32_t* partition, std::int32_t first, std::int32_t last,
                          const StopFn& stop) const;
  // Seed 004 (6)-(7), following edge direction; a per-thread marker array of n entries.
  NeighbourhoodSums neighbourhoods(const StopFn& stop) const;
  // Seed 004 (8): connected induced 4-node subgraphs of U, exactly, in O(m * arboricity) time.
  Motif4Counts motifs4(const StopFn& stop) const;
  // Seed 004 (10): sum over nodes of the core number on U (Batagelj & Zaversnik 2003, O(n + m)).
  std::int64_t core_number_sum(const StopFn& stop) const;
  // Seed 004 (9): sum over directed edges of the weights as given (each edge adds its weight to the
  // strength of both ends, so the mean node strength is 2 * sum / n).
  double weight_sum(const StopFn& stop) const;
  // Seed 004 (11), (13), (14): one iterative depth-first search (Hopcroft & Tarjan 1973, Tarjan
  // 1974), no recursion.
  GlobalConnectivity connectivity(const StopFn& stop) const;
  // Seed 004 (15): the two largest eigenvalues of U's adjacency |W|, counted with multiplicity:
  // lambda_1 and its unit eigenvector y by the two-pass Lanczos (lanczos.hpp), then lambda_2 as the
  // largest eigenvalue on the complement of y (a repeated lambda_1 is found again there).
  // keep_bytes: memory for Lanczos vectors (see LanczosOptions::keep_vectors_bytes).
  ExtremeEigenvalues adjacency_top_two(double tol, int max_restarts, std::int64_t keep_bytes,
                                       const StopFn& stop) const;
  // Seed 004 (16): the largest eigenvalue of U's Laplacian D - |W|, by the two-pass Lanczos.
  ExtremeEigenvalues laplacian_top(double tol, int max_restarts, std::int64_t keep_bytes,
                                   const StopFn& stop) const;

 private:
  std::int64_t n_, m_;
  const Index* indptr_;
  const Index* indices_;
  const double* data_;
  int threads_;
  std::vector<Index> in_degree_;
  Buffer<Index> offsets_, adj_;  // U: rows sorted, no loops
  Buffer<double> weight_;        // |W| of U's entries; empty when the input is unweighted
};

}  // namespace ramcore
