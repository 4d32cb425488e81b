#include "ramcore/vector_ops.hpp"

#include <algorithm>
#include <cmath>

#include "ramcore/splitmix64.hpp"

namespace ramcore {

double dot(std::int64_t n, const double* x, const double* y, int threads, const StopFn& stop) {
  return deterministic_sum<double>(
      n, kSumBlock, kBlocksPerTask, threads,
      [&](std::int64_t i0, std::int64_t i1, double& s) {
        for (std::int64_t i = i0; i < i1; ++i) s += x[i] * y[i];
      },
      stop);
}

double norm2(std::int64_t n, const double* x, int threads, const StopFn& stop) {
  return std::sqrt(dot(n, x, x, threads, stop));
}

Projection project_out(std::int64_t n, std::int64_t j, const double* v, double* w, int threads,
                       const StopFn& stop) {
  const auto jj = static_cast<std::size_t>(j);  // j coefficients, then ||w||^2
  const Sums coef = deterministic_sum<Sums>(
      n, kSumBlock, kBlocksPerTask, threads,
      [&](std::int64_t i0, std::int64_t i1, Sums& acc) {
        for (std::size_t c = 0; c < jj; ++c) {
          const double* vc = v + static_cast<std::int64_t>(c) * n;
          double s = 0.0;
          for (std::int64_t i = i0; i < i1; ++i) s += vc[i] * w[i];
          acc[c] = s;
        }
        double s = 0.0;
        for (std::int64_t i = i0; i < i1; ++i) s += w[i] * w[i];
        acc[jj] = s;
      },
      stop, Sums(jj + 1));
  Projection out{std::sqrt(coef[jj]), 0.0};
  if (j == 0) {
    out.after = out.before;
    return out;
  }
  const double squares = deterministic_sum<double>(
      n, kSumBlock, kBlocksPerTask, threads,
      [&](std::int64_t i0, std::int64_t i1, double& s) {
        for (std::size_t c = 0; c < jj; ++c) {
          const double* vc = v + static_cast<std::int64_t>(c) * n;
          const double cc = coef[c];
          for (std::int64_t i = i0; i < i1; ++i) w[i] -= cc * vc[i];
        }
        for (std::int64_t i = i0; i < i1; ++i) s += w[i] * w[i];
      },
      stop);
  out.after = std::sqrt(squares);
  return out;
}

void random_vector(std::int64_t n, std::uint64_t seed, double* x, int threads, const StopFn& stop) {
  const std::uint64_t base = splitmix64(seed);
  parallel_for(
      n, kVectorTask, threads,
      [&](std::int64_t i0, std::int64_t i1) {
        for (std::int64_t i = i0; i < i1; ++i) {
          const std::uint64_t r = splitmix64(base ^ static_cast<std::uint64_t>(i));
          x[i] = static_cast<double>(r >> 11) * 0x1.0p-52 - 1.0;
        }
      },
      stop);
}

}  // namespace ramcore
