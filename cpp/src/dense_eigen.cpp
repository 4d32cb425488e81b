#include "ramcore/dense_eigen.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace ramcore {

void symmetric_eigen(const std::vector<double>& a_in, int m, std::vector<double>& values,
                     std::vector<double>& vectors) {
  const auto n = static_cast<std::size_t>(m);
  std::vector<double> a(a_in);
  std::vector<double> v(n * n, 0.0);
  for (std::size_t i = 0; i < n; ++i) v[i * n + i] = 1.0;
  auto at = [&](std::size_t i, std::size_t j) -> double& { return a[i * n + j]; };

  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0.0, total = 0.0;
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < n; ++j) (i == j ? total : off) += at(i, j) * at(i, j);
    if (off <= 1e-30 * (total + off) || off == 0.0) break;
    for (std::size_t p = 0; p + 1 < n; ++p) {
      for (std::size_t q = p + 1; q < n; ++q) {
        const double apq = at(p, q);
        if (apq == 0.0) continue;
        // Rotation angle that zeroes a[p][q] (the numerically stable form of GVL Alg. 8.5.1).
        const double theta = (at(q, q) - at(p, p)) / (2.0 * apq);
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1.0));
        const double c = 1.0 / std::sqrt(t * t + 1.0), s = t * c;
        for (std::size_t k = 0; k < n; ++k) {  // A <- A J (columns p, q)
          const double akp = at(k, p), akq = at(k, q);
          at(k, p) = c * akp - s * akq;
          at(k, q) = s * akp + c * akq;
        }
        for (std::size_t k = 0; k < n; ++k) {  // A <- J^T A (rows p, q)
          const double apk = at(p, k), aqk = at(q, k);
          at(p, k) = c * apk - s * aqk;
          at(q, k) = s * apk + c * aqk;
        }
        for (std::size_t k = 0; k < n; ++k) {  // V <- V J
          const double vkp = v[k * n + p], vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t x, std::size_t y) { return at(x, x) < at(y, y); });
  values.resize(n);
  vectors.assign(n * n, 0.0);
  for (std::size_t c = 0; c < n; ++c) {
    values[c] = at(order[c], order[c]);
    for (std::size_t r = 0; r < n; ++r) vectors[r * n + c] = v[r * n + order[c]];
  }
}

}  // namespace ramcore
