#include "ramcore/vector_ops.hpp"

#include <algorithm>
#include <cmath>

namespace ramcore {
namespace {

std::int64_t blocks(std::int64_t n) { return (n + kBlock - 1) / kBlock; }

std::uint64_t splitmix64(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

double dot(std::int64_t n, const double* x, const double* y, int threads, const StopFn& stop) {
  std::vector<double> partial(static_cast<std::size_t>(blocks(n)), 0.0);
  parallel_for(
      blocks(n), kBlocksPerTask, threads,
      [&](std::int64_t b0, std::int64_t b1) {
        for (std::int64_t b = b0; b < b1; ++b) {
          double s = 0.0;
          for (std::int64_t i = b * kBlock, e = std::min(n, (b + 1) * kBlock); i < e; ++i)
            s += x[i] * y[i];
          partial[static_cast<std::size_t>(b)] = s;
        }
      },
      stop);
  double s = 0.0;
  for (double p : partial) s += p;
  return s;
}

double norm2(std::int64_t n, const double* x, int threads, const StopFn& stop) {
  return std::sqrt(dot(n, x, x, threads, stop));
}

Projection project_out(std::int64_t n, std::int64_t j, const double* v, double* w, int threads,
                       const StopFn& stop) {
  const auto jj = static_cast<std::size_t>(j), width = jj + 1;  // j coefficients and ||w||^2
  const auto nb = static_cast<std::size_t>(blocks(n));
  std::vector<double> partial(nb * width, 0.0);
  parallel_for(
      blocks(n), kBlocksPerTask, threads,
      [&](std::int64_t b0, std::int64_t b1) {
        for (std::int64_t b = b0; b < b1; ++b) {
          double* acc = partial.data() + static_cast<std::size_t>(b) * width;
          const std::int64_t i0 = b * kBlock, i1 = std::min(n, (b + 1) * kBlock);
          for (std::size_t c = 0; c < jj; ++c) {
            const double* vc = v + static_cast<std::int64_t>(c) * n;
            double s = 0.0;
            for (std::int64_t i = i0; i < i1; ++i) s += vc[i] * w[i];
            acc[c] = s;
          }
          double s = 0.0;
          for (std::int64_t i = i0; i < i1; ++i) s += w[i] * w[i];
          acc[jj] = s;
        }
      },
      stop);
  std::vector<double> coef(width, 0.0);
  for (std::size_t b = 0; b < nb; ++b)
    for (std::size_t c = 0; c < width; ++c) coef[c] += partial[b * width + c];
  Projection out{std::sqrt(coef[jj]), 0.0};
  if (j == 0) {
    out.after = out.before;
    return out;
  }
  std::vector<double> squares(nb, 0.0);
  parallel_for(
      blocks(n), kBlocksPerTask, threads,
      [&](std::int64_t b0, std::int64_t b1) {
        for (std::int64_t b = b0; b < b1; ++b) {
          const std::int64_t i0 = b * kBlock, i1 = std::min(n, (b + 1) * kBlock);
          for (std::size_t c = 0; c < jj; ++c) {
            const double* vc = v + static_cast<std::int64_t>(c) * n;
            const double cc = coef[c];
            for (std::int64_t i = i0; i < i1; ++i) w[i] -= cc * vc[i];
          }
          double s = 0.0;
          for (std::int64_t i = i0; i < i1; ++i) s += w[i] * w[i];
          squares[static_cast<std::size_t>(b)] = s;
        }
      },
      stop);
  double s = 0.0;
  for (double x : squares) s += x;
  out.after = std::sqrt(s);
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
