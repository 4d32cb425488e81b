#include "ramcore/dense_eigen.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numeric>

#include "ramcore/enforce.hpp"

namespace ramcore {
namespace {

// Householder reduction of the symmetric matrix in `v` (n x n row-major) to tridiagonal form
// (diagonal d, subdiagonal e[1..n-1]), accumulating the orthogonal transformation in `v`: the
// EISPACK routine tred2 (Wilkinson & Reinsch, Handbook for Automatic Computation II, 1971, II/2;
// Golub & Van Loan, Matrix Computations, 4th ed., Alg. 8.3.1), in the form of JAMA's port.
void tridiagonalise(std::size_t n, std::vector<double>& v, std::vector<double>& d, std::vector<double>& e) {
  auto V = [&](std::size_t i, std::size_t j) -> double& { return v[i * n + j]; };
  for (std::size_t j = 0; j < n; ++j) d[j] = V(n - 1, j);
  for (std::size_t i = n - 1; i > 0; --i) {
    double scale = 0.0, h = 0.0;
    for (std::size_t k = 0; k < i; ++k) scale += std::abs(d[k]);
    if (scale == 0.0) {  // the row is already reduced
      e[i] = d[i - 1];
      for (std::size_t j = 0; j < i; ++j) {
        d[j] = V(i - 1, j);
        V(i, j) = 0.0;
        V(j, i) = 0.0;
      }
    } else {
      for (std::size_t k = 0; k < i; ++k) {
        d[k] /= scale;  // scaled, so that h neither overflows nor underflows
        h += d[k] * d[k];
      }
      double f = d[i - 1];
      double g = f > 0 ? -std::sqrt(h) : std::sqrt(h);
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (std::size_t j = 0; j < i; ++j) e[j] = 0.0;
      for (std::size_t j = 0; j < i; ++j) {  // e = A u (lower triangle of A in v)
        f = d[j];
        V(j, i) = f;
        g = e[j] + V(j, j) * f;
        for (std::size_t k = j + 1; k < i; ++k) {
          g += V(k, j) * d[k];
          e[k] += V(k, j) * f;
        }
        e[j] = g;
      }
      f = 0.0;
      for (std::size_t j = 0; j < i; ++j) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      const double hh = f / (h + h);
      for (std::size_t j = 0; j < i; ++j) e[j] -= hh * d[j];
      for (std::size_t j = 0; j < i; ++j) {  // A <- A - u e^T - e u^T
        f = d[j];
        g = e[j];
        for (std::size_t k = j; k < i; ++k) V(k, j) -= (f * e[k] + g * d[k]);
        d[j] = V(i - 1, j);
        V(i, j) = 0.0;
      }
    }
    d[i] = h;
  }
  for (std::size_t i = 0; i + 1 < n; ++i) {  // accumulate the Householder reflections
    V(n - 1, i) = V(i, i);
    V(i, i) = 1.0;
    const double h = d[i + 1];
    if (h != 0.0) {
      for (std::size_t k = 0; k <= i; ++k) d[k] = V(k, i + 1) / h;
      for (std::size_t j = 0; j <= i; ++j) {
        double g = 0.0;
        for (std::size_t k = 0; k <= i; ++k) g += V(k, i + 1) * V(k, j);
        for (std::size_t k = 0; k <= i; ++k) V(k, j) -= g * d[k];
      }
    }
    for (std::size_t k = 0; k <= i; ++k) V(k, i + 1) = 0.0;
  }
  for (std::size_t j = 0; j < n; ++j) {
    d[j] = V(n - 1, j);
    V(n - 1, j) = 0.0;
  }
  V(n - 1, n - 1) = 1.0;
  e[0] = 0.0;
}

// Eigenvalues (in d) and eigenvectors (the rows of vt) of the tridiagonal matrix (d, e) by the
// implicit QL method with Wilkinson-like shifts: EISPACK's tql2 (Bowdler, Martin, Reinsch &
// Wilkinson, Handbook II/3; Golub & Van Loan, sec. 8.3.3), as in JAMA. `vt` holds the
// accumulated transformation transposed, so that each plane rotation combines two contiguous rows.
void tridiagonal_ql(std::size_t n, std::vector<double>& vt, std::vector<double>& d, std::vector<double>& e) {
  for (std::size_t i = 1; i < n; ++i) e[i - 1] = e[i];
  e[n - 1] = 0.0;
  double f = 0.0, tst1 = 0.0;
  const double eps = std::ldexp(1.0, -52);
  for (std::size_t l = 0; l < n; ++l) {
    tst1 = std::max(tst1, std::abs(d[l]) + std::abs(e[l]));
    std::size_t m = l;
    while (m < n - 1 && std::abs(e[m]) > eps * tst1) ++m;  // e[n - 1] = 0 ends the search
    if (m > l) {
      int iterations = 0;
      do {
        // Bounded: QL converges cubically, in 2-3 iterations per eigenvalue in practice; only
        // non-finite input could keep it going.
        enforce(++iterations <= 60, "symmetric_eigen: the QL iteration did not converge (non-finite input?)");
        double g = d[l];
        double p = (d[l + 1] - g) / (2.0 * e[l]);
        double r = std::hypot(p, 1.0);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const double dl1 = d[l + 1];
        double h = g - d[l];
        for (std::size_t i = l + 2; i < n; ++i) d[i] -= h;
        f += h;
        p = d[m];
        double c = 1.0, c2 = 1.0, c3 = 1.0, s = 0.0, s2 = 0.0;
        const double el1 = e[l + 1];
        for (std::size_t i = m; i-- > l;) {  // i = m - 1 down to l: plane rotations
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = std::hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          double* vi = vt.data() + i * n;
          double* vi1 = vi + n;
          for (std::size_t k = 0; k < n; ++k) {
            h = vi1[k];
            vi1[k] = s * vi[k] + c * h;
            vi[k] = c * vi[k] - s * h;
          }
        }
        p = -s * s2 * c3 * el1 * e[l] / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (std::abs(e[l]) > eps * tst1);
    }
    d[l] += f;
    e[l] = 0.0;
  }
}

// Whether the lower triangle of `a` is zero below the first subdiagonal.
bool is_tridiagonal(const std::vector<double>& a, std::size_t n) {
  for (std::size_t i = 2; i < n; ++i)
    for (std::size_t j = 0; j + 1 < i; ++j)
      if (a[i * n + j] != 0.0) return false;
  return true;
}

}  // namespace

void symmetric_eigen(const std::vector<double>& a, int m, std::vector<double>& values,
                     std::vector<double>& vectors) {
  const auto n = static_cast<std::size_t>(m);
  values.assign(n, 0.0);
  vectors.assign(n * n, 0.0);
  if (n == 0) return;
  std::vector<double> d(n), e(n), vt(n * n, 0.0);
  if (is_tridiagonal(a, n)) {  // a Lanczos projection before any restart: QL at once
    for (std::size_t i = 0; i < n; ++i) {
      d[i] = a[i * n + i];
      e[i] = i ? a[i * n + i - 1] : 0.0;
      vt[i * n + i] = 1.0;
    }
  } else {
    std::vector<double> v(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(n * n));
    tridiagonalise(n, v, d, e);
    for (std::size_t r = 0; r < n; ++r)
      for (std::size_t c = 0; c < n; ++c) vt[c * n + r] = v[r * n + c];
  }
  tridiagonal_ql(n, vt, d, e);
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return d[x] < d[y]; });
  for (std::size_t c = 0; c < n; ++c) {
    values[c] = d[order[c]];
    for (std::size_t r = 0; r < n; ++r) vectors[r * n + c] = vt[order[c] * n + r];
  }
}

}  // namespace ramcore
