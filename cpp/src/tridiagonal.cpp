#include "ramcore/tridiagonal.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ramcore {

int count_below(const std::vector<double>& a, const std::vector<double>& b, double x) {
  // d_i = (a_i - x) - b_{i-1}^2 / d_{i-1}; the number of negative pivots is the count below x.
  const double tiny = std::numeric_limits<double>::min();
  int count = 0;
  double d = 1.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double bb = i ? b[i - 1] * b[i - 1] : 0.0;
    d = (a[i] - x) - (i ? bb / d : 0.0);
    if (d == 0.0) d = -tiny;
    if (d < 0) ++count;
  }
  return count;
}

double extreme_eigenvalue(const std::vector<double>& a, const std::vector<double>& b, bool largest) {
  // Gershgorin interval, then bisection on the Sturm count.
  double lo = std::numeric_limits<double>::max(), hi = -lo;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double radius = (i ? std::abs(b[i - 1]) : 0.0) + (i + 1 < a.size() ? std::abs(b[i]) : 0.0);
    lo = std::min(lo, a[i] - radius);
    hi = std::max(hi, a[i] + radius);
  }
  const int n = static_cast<int>(a.size());
  for (int it = 0; it < 200 && hi - lo > 4 * std::numeric_limits<double>::epsilon() * std::max(std::abs(lo), std::abs(hi)); ++it) {
    const double mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) break;
    const int below = count_below(a, b, mid);
    if (largest ? below < n : below < 1) {
      lo = mid;  // the wanted eigenvalue is above mid
    } else {
      hi = mid;
    }
  }
  return 0.5 * (lo + hi);
}

std::vector<double> eigenvector(const std::vector<double>& a, const std::vector<double>& b, double theta) {
  const std::size_t n = a.size();
  std::vector<double> x(n, 1.0 / std::sqrt(static_cast<double>(n))), c(n), d(n), rhs(n);
  double scale = 0.0;
  for (double v : a) scale = std::max(scale, std::abs(v));
  for (double v : b) scale = std::max(scale, std::abs(v));
  const double shift = theta + 1e3 * std::numeric_limits<double>::epsilon() * std::max(scale, 1.0);
  for (int iter = 0; iter < 3; ++iter) {
    // Solve (T - shift I) y = x by the Thomas algorithm (pivots kept away from zero).
    const double tiny = std::numeric_limits<double>::epsilon() * std::max(scale, 1.0);
    d[0] = a[0] - shift;
    if (std::abs(d[0]) < tiny) d[0] = tiny;
    rhs[0] = x[0];
    for (std::size_t i = 1; i < n; ++i) {
      const double m = b[i - 1] / d[i - 1];
      d[i] = (a[i] - shift) - m * b[i - 1];
      if (std::abs(d[i]) < tiny) d[i] = tiny;
      rhs[i] = x[i] - m * rhs[i - 1];
    }
    x[n - 1] = rhs[n - 1] / d[n - 1];
    for (std::size_t i = n - 1; i-- > 0;) x[i] = (rhs[i] - b[i] * x[i + 1]) / d[i];
    double norm = 0.0;
    for (double v : x) norm += v * v;
    norm = std::sqrt(norm);
    for (double& v : x) v /= norm;
  }
  return x;
}

void tridiagonal_extremes(const double* a, const double* b, int count, int m, double* values,
                          double* vectors) {
  std::vector<double> diag(static_cast<std::size_t>(m)), off(static_cast<std::size_t>(m > 0 ? m - 1 : 0));
  for (int r = 0; r < count; ++r) {
    const auto row = static_cast<std::size_t>(r) * static_cast<std::size_t>(m);
    std::copy(a + row, a + row + diag.size(), diag.begin());
    std::copy(b + row, b + row + off.size(), off.begin());
    for (int end = 0; end < 2; ++end) {
      const double theta = extreme_eigenvalue(diag, off, end == 0);
      const std::vector<double> s = eigenvector(diag, off, theta);
      values[2 * static_cast<std::size_t>(r) + static_cast<std::size_t>(end)] = theta;
      std::copy(s.begin(), s.end(), vectors + (2 * row + static_cast<std::size_t>(end) * diag.size()));
    }
  }
}

}  // namespace ramcore
