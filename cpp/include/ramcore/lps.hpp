// Lubotzky-Phillips-Sarnak generators and the Cayley graph X^{p,q} (docs/design.md, section 2).
#pragma once

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include "ramcore/csr.hpp"
#include "ramcore/parallel.hpp"
#include "ramcore/pgl2.hpp"

namespace ramcore {

struct LpsGenerators {
  std::int64_t p = 0, q = 0;
  std::uint64_t x = 0, y = 0;  // x^2 + y^2 + 1 = 0 (mod q)
  int legendre = 0;            // (p/q): -1 -> PGL2, bipartite; +1 -> PSL2, not bipartite
  std::vector<std::array<std::int64_t, 4>> quaternions;  // the p + 1 normalised solutions, sorted
  std::vector<Mat2> matrices;                            // their canonical images in PGL2(F_q)
  std::int64_t loops = 0;     // generators equal to the identity (self-loops)
  std::int64_t repeated = 0;  // generators equal to an earlier one (multi-edges)
  std::int64_t vertices() const;  // |PGL2| or |PSL2|
};

// Largest p accepted: enumerating the sums of four squares costs O(p^1.5).
constexpr std::int64_t kMaxP = 131071;

// The p + 1 solutions of a0^2 + a1^2 + a2^2 + a3^2 = p normalised as in docs/design.md, section 2, and
// their matrices [[a0 + a1 x + a3 y, -a1 y + a2 + a3 x], [-a1 y - a2 + a3 x, a0 - a1 x - a3 y]]
// (seed 000 misprints the lower-left entry). p, q distinct odd primes, p <= kMaxP, q <= PGL2::kMaxQ.
LpsGenerators lps_generators(std::int64_t p, std::int64_t q);

// The distinct generators as (rank, multiplicity), sorted by rank.
std::vector<std::pair<std::int64_t, double>> distinct_generators(const PGL2& g,
                                                                 const LpsGenerators& gens);

// Adjacency CSR of X^{p,q} = Cay(G, S) with edges {x, x s}: vertices are group ranks (PSL2 first,
// see pgl2.hpp), rows have p + 1 sorted entries. With loops or repeated generators the graph is a
// multigraph: refused unless allow_multigraph, in which case equal neighbours are merged and
// `data` holds their multiplicities (a loop contributes its count to the diagonal). Built on the
// rank coordinates, a few integer operations per entry and no per-edge group arithmetic
// (docs/design.md, section 2, "Construction"); the same graph for any thread count.
template <class Index>
Csr<Index> lps_adjacency(const LpsGenerators& gens, bool allow_multigraph, int threads,
                         const StopFn& stop);

}  // namespace ramcore
