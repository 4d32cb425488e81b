// Burnwal-Sinha-Vidyasagar bi-regular bipartite Ramanujan graphs (docs/design.md, section 3).
//
// With P the q x q cyclic shift (P[a][b] = 1 iff b = a - 1 mod q), the biadjacency matrix has
// q x l blocks, block (i, j) = P^{ij}: row (i, r) = i q + r connects to the columns
// j q + ((r - i j) mod q), j = 0..l-1. Rows have degree l, columns degree q, density 1/q.
// For l > q the column blocks repeat with period q (duplicate input neurons).
#pragma once

#include <cstdint>

#include "ramcore/csr.hpp"
#include "ramcore/parallel.hpp"

namespace ramcore {

// Biadjacency CSR, q^2 x l q; q a prime, l >= 1.
template <class Index>
Csr<Index> biregular_biadjacency(std::int64_t q, std::int64_t l, int threads, const StopFn& stop);

}  // namespace ramcore
