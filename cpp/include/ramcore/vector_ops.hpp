// Deterministic parallel vector kernels for the Krylov solvers.
//
// Reductions are deterministic_sum's fixed blocks of kSumBlock entries, the block sums added in
// block order, so results are bit-identical for any thread count.
#pragma once

#include <cstdint>
#include <vector>

#include "ramcore/parallel.hpp"

namespace ramcore {

// Vector work per parallel task: a smaller vector is swept by the calling thread alone, which is
// faster than waking workers for a sweep that fits in cache (~0.1 ms).
constexpr std::int64_t kVectorTask = std::int64_t{1} << 17;
constexpr std::int64_t kBlocksPerTask = kVectorTask / kSumBlock;

double dot(std::int64_t n, const double* x, const double* y, int threads, const StopFn& stop);
double norm2(std::int64_t n, const double* x, int threads, const StopFn& stop);

// w -= V (V^T w) for the first j columns of the column-major basis V (column c at v + c n), by
// classical Gram-Schmidt in two sweeps; returns ||w|| before and after (computed in the sweeps).
struct Projection {
  double before, after;
};
Projection project_out(std::int64_t n, std::int64_t j, const double* v, double* w, int threads,
                       const StopFn& stop);

// Deterministic pseudo-random vector in [-1, 1) from a seed (splitmix64 of seed and index).
void random_vector(std::int64_t n, std::uint64_t seed, double* x, int threads, const StopFn& stop);

}  // namespace ramcore
