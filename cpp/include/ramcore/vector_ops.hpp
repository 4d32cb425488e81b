// Deterministic parallel vector kernels for the Krylov solvers.
//
// Reductions are summed per fixed block of kBlock entries and the block sums are added in block
// order, so results are bit-identical for any thread count.
#pragma once

#include <cstdint>
#include <vector>

#include "ramcore/parallel.hpp"

namespace ramcore {

constexpr std::int64_t kBlock = 8192;

double dot(std::int64_t n, const double* x, const double* y, int threads, const StopFn& stop);
double norm2(std::int64_t n, const double* x, int threads, const StopFn& stop);

// For the row-major n x j basis V (leading dimension ld): c = V^T w, then w -= V c.
// Returns c (length j).
std::vector<double> project_out(std::int64_t n, std::int64_t j, const double* v, std::int64_t ld,
                                double* w, int threads, const StopFn& stop);

// Deterministic pseudo-random vector in [-1, 1) from a seed (splitmix64 of seed and index).
void random_vector(std::int64_t n, std::uint64_t seed, double* x, int threads, const StopFn& stop);

}  // namespace ramcore
