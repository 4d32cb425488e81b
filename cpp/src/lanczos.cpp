#include "ramcore/lanczos.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "ramcore/dense_eigen.hpp"
#include "ramcore/enforce.hpp"
#include "ramcore/vector_ops.hpp"

namespace ramcore {
namespace {

// Indices of Ritz values in the order `which` prefers them (ties: larger value first).
std::vector<int> preferred_order(const std::vector<double>& theta, Which which) {
  std::vector<int> order(theta.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    const double x = theta[static_cast<std::size_t>(a)], y = theta[static_cast<std::size_t>(b)];
    switch (which) {
      case Which::kLargest: return x > y;
      case Which::kSmallest: return x < y;
      case Which::kMagnitude: return std::abs(x) != std::abs(y) ? std::abs(x) > std::abs(y) : x > y;
    }
    return false;
  });
  return order;
}

void get_column(const std::vector<double>& v, std::int64_t n, int ld, int j, double* out, int threads,
                const StopFn& stop) {
  parallel_for(
      n, kBlock, threads,
      [&](std::int64_t i0, std::int64_t i1) {
        for (std::int64_t i = i0; i < i1; ++i) out[i] = v[static_cast<std::size_t>(i * ld + j)];
      },
      stop);
}

void set_column(std::vector<double>& v, std::int64_t n, int ld, int j, const double* in, double scale,
                int threads, const StopFn& stop) {
  parallel_for(
      n, kBlock, threads,
      [&](std::int64_t i0, std::int64_t i1) {
        for (std::int64_t i = i0; i < i1; ++i) v[static_cast<std::size_t>(i * ld + j)] = in[i] * scale;
      },
      stop);
}

// Classical Gram-Schmidt of w against Y and the first j basis vectors, repeated once more only when
// the first pass removed most of w (the DGKS criterion, ||w'|| < ||w|| / sqrt(2)): after the
// three-term recurrence w is already nearly orthogonal, so one pass (two sweeps over V) usually
// suffices. Returns ||w|| afterwards.
double orthogonalise(std::int64_t n, const double* y, int r, const std::vector<double>& v, int ld, int j,
                     double* w, int threads, const StopFn& stop) {
  double before = norm2(n, w, threads, stop), after = before;
  for (int pass = 0; pass < 3; ++pass) {
    if (r > 0) project_out(n, r, y, r, w, threads, stop);
    if (j > 0) project_out(n, j, v.data(), ld, w, threads, stop);
    after = norm2(n, w, threads, stop);
    if (after >= 0.7071 * before) break;
    before = after;
  }
  return after;
}

// One thick-restart Lanczos run in the space orthogonal to `deflate`: k distinct Ritz values.
LanczosResult lanczos_run(const LinearOperator& a, const double* deflate, int r, const LanczosOptions& opt,
                          const StopFn& stop) {
  const std::int64_t n = a.rows();
  enforce(a.cols() == n, "lanczos: the operator must be square");
  enforce(r >= 0 && r < n, "lanczos: deflating " + std::to_string(r) + " vectors leaves nothing of dimension " +
                               std::to_string(n));
  const std::int64_t dim = n - r;  // dimension of the deflated space
  enforce(opt.k >= 1 && opt.k <= dim,
          "k must be in [1, " + std::to_string(dim) + "] (the dimension after deflation), got " +
              std::to_string(opt.k));
  enforce(opt.tol > 0 && std::isfinite(opt.tol), "tol must be a positive number");
  enforce(opt.max_restarts >= 0, "max_restarts must be non-negative");
  const int m = static_cast<int>(std::min<std::int64_t>(
      dim, opt.ncv > 0 ? std::max(opt.ncv, opt.k + 1) : std::max(2 * opt.k + 1, 20)));
  enforce(m >= opt.k, "ncv must be at least k");
  const int ld = m + 1, threads = opt.threads;
  const auto un = static_cast<std::size_t>(n);

  LanczosResult res;
  std::vector<double> v(un * static_cast<std::size_t>(ld), 0.0), t(static_cast<std::size_t>(m * m), 0.0);
  std::vector<double> vj(un), vprev(un, 0.0), w(un);
  std::vector<double> coupling;  // s_i after a restart: T[i][kk] for the kept Ritz vectors
  std::uint64_t seed = opt.seed;

  // A unit vector orthogonal to Y and to the first j basis vectors, from the seeded generator.
  auto fresh_vector = [&](int j) {
    for (int attempt = 0; attempt < 5; ++attempt) {
      random_vector(n, seed++, w.data(), threads, stop);
      const double nw = orthogonalise(n, deflate, r, v, ld, j, w.data(), threads, stop);
      if (nw > 1e-8 * std::sqrt(static_cast<double>(n))) {
        set_column(v, n, ld, j, w.data(), 1.0 / nw, threads, stop);
        return true;
      }
    }
    return false;
  };
  enforce(fresh_vector(0), "lanczos: could not find a start vector outside the deflated space");

  const double eps23 = std::pow(std::numeric_limits<double>::epsilon(), 2.0 / 3.0);
  int kk = 0;  // kept Ritz vectors at the start of this cycle
  std::vector<double> theta, s;
  std::vector<int> order;
  double beta = 0.0;
  for (;;) {
    for (int j = kk; j < m; ++j) {
      get_column(v, n, ld, j, vj.data(), threads, stop);
      a.apply(vj.data(), w.data(), threads, stop);
      ++res.matvecs;
      const double alpha = dot(n, vj.data(), w.data(), threads, stop);
      t[static_cast<std::size_t>(j * m + j)] = alpha;
      // Three-term recurrence first (after a restart the arrow terms are left to Gram-Schmidt).
      const double beta_prev = j > kk ? t[static_cast<std::size_t>((j - 1) * m + j)] : 0.0;
      parallel_for(
          n, kBlock, threads,
          [&](std::int64_t i0, std::int64_t i1) {
            for (std::int64_t i = i0; i < i1; ++i) w[static_cast<std::size_t>(i)] -= alpha * vj[static_cast<std::size_t>(i)] + beta_prev * vprev[static_cast<std::size_t>(i)];
          },
          stop);
      beta = orthogonalise(n, deflate, r, v, ld, j + 1, w.data(), threads, stop);
      std::swap(vprev, vj);
      const double scale = std::abs(alpha) + beta;
      if (beta <= 1e-12 * scale || beta == 0.0) {  // invariant subspace: continue from a new direction
        beta = 0.0;
        if (j + 1 < m && !fresh_vector(j + 1)) break;
      } else {
        set_column(v, n, ld, j + 1, w.data(), 1.0 / beta, threads, stop);
      }
      if (j + 1 < m) t[static_cast<std::size_t>(j * m + j + 1)] = t[static_cast<std::size_t>((j + 1) * m + j)] = beta;
    }

    symmetric_eigen(t, m, theta, s);
    order = preferred_order(theta, opt.which);
    double anorm = 0.0;
    for (double th : theta) anorm = std::max(anorm, std::abs(th));
    bool all = true;
    for (int i = 0; i < opt.k; ++i) {
      const auto c = static_cast<std::size_t>(order[static_cast<std::size_t>(i)]);
      const double est = std::abs(beta * s[static_cast<std::size_t>(m - 1) * static_cast<std::size_t>(m) + c]);
      all = all && est <= opt.tol * std::max(std::abs(theta[c]), eps23 * anorm);
    }
    if (all || res.restarts >= opt.max_restarts) {
      res.converged = all;
      break;
    }

    // Thick restart: V[:, :kk] <- V[:, :m] S[:, keep], v_kk <- v_m, T <- arrowhead(theta, beta s_m).
    ++res.restarts;
    kk = std::min(m - 1, opt.k + (m - opt.k) / 2);
    std::vector<double> sk(static_cast<std::size_t>(m * kk));
    coupling.assign(static_cast<std::size_t>(kk), 0.0);
    for (int c = 0; c < kk; ++c) {
      const auto src = static_cast<std::size_t>(order[static_cast<std::size_t>(c)]);
      for (int row = 0; row < m; ++row)
        sk[static_cast<std::size_t>(row * kk + c)] = s[static_cast<std::size_t>(row) * static_cast<std::size_t>(m) + src];
      coupling[static_cast<std::size_t>(c)] = beta * s[static_cast<std::size_t>(m - 1) * static_cast<std::size_t>(m) + src];
    }
    parallel_for(
        n, kBlock, threads,
        [&](std::int64_t i0, std::int64_t i1) {
          std::vector<double> row(static_cast<std::size_t>(kk));
          for (std::int64_t i = i0; i < i1; ++i) {
            double* vi = v.data() + i * ld;
            for (int c = 0; c < kk; ++c) {
              double acc = 0.0;
              for (int q = 0; q < m; ++q) acc += vi[q] * sk[static_cast<std::size_t>(q * kk + c)];
              row[static_cast<std::size_t>(c)] = acc;
            }
            for (int c = 0; c < kk; ++c) vi[c] = row[static_cast<std::size_t>(c)];
            vi[kk] = vi[m];
          }
        },
        stop);
    std::fill(t.begin(), t.end(), 0.0);
    for (int c = 0; c < kk; ++c) {
      const auto src = static_cast<std::size_t>(order[static_cast<std::size_t>(c)]);
      t[static_cast<std::size_t>(c * m + c)] = theta[src];
      t[static_cast<std::size_t>(c * m + kk)] = t[static_cast<std::size_t>(kk * m + c)] = coupling[static_cast<std::size_t>(c)];
    }
    if (beta == 0.0 && !fresh_vector(kk)) break;  // exhausted: the kept Ritz pairs are exact
  }

  // Ritz vectors y = V s for the k wanted values, with true residuals ||A y - theta y||.
  const int k = opt.k;
  std::vector<double> y(un * static_cast<std::size_t>(k));
  parallel_for(
      n, kBlock, threads,
      [&](std::int64_t i0, std::int64_t i1) {
        for (std::int64_t i = i0; i < i1; ++i) {
          const double* vi = v.data() + i * ld;
          for (int c = 0; c < k; ++c) {
            const auto src = static_cast<std::size_t>(order[static_cast<std::size_t>(c)]);
            double acc = 0.0;
            for (int q = 0; q < m; ++q) acc += vi[q] * s[static_cast<std::size_t>(q) * static_cast<std::size_t>(m) + src];
            y[static_cast<std::size_t>(i * k + c)] = acc;
          }
        }
      },
      stop);
  for (int c = 0; c < k; ++c) {
    const double th = theta[static_cast<std::size_t>(order[static_cast<std::size_t>(c)])];
    get_column(y, n, k, c, vj.data(), threads, stop);
    const double nrm = norm2(n, vj.data(), threads, stop);
    for (auto& x : vj) x /= nrm;
    a.apply(vj.data(), w.data(), threads, stop);
    ++res.matvecs;
    if (r > 0) project_out(n, r, deflate, r, w.data(), threads, stop);  // residual of P A P
    for (std::size_t i = 0; i < un; ++i) w[i] -= th * vj[i];
    res.values.push_back(th);
    res.residuals.push_back(norm2(n, w.data(), threads, stop));
    if (opt.vectors) set_column(y, n, k, c, vj.data(), 1.0, threads, stop);
  }
  if (opt.vectors) res.vectors = std::move(y);
  return res;
}

}  // namespace

LanczosResult lanczos(const LinearOperator& a, const double* deflate, int r, const LanczosOptions& opt,
                      const StopFn& stop) {
  if (opt.k == 1) return lanczos_run(a, deflate, r, opt, stop);  // no multiplicity to resolve
  // Single-vector Krylov spaces hold one vector per eigenspace, so a repeated eigenvalue appears
  // once per run. Lock what a run finds (add it to the deflated block) and search again until a
  // run finds nothing that belongs among the k best: the k values then carry their multiplicity.
  const std::int64_t n = a.rows();
  const auto un = static_cast<std::size_t>(n);
  struct Pair {
    double value, residual;
    std::vector<double> vector;
  };
  std::vector<Pair> locked;
  LanczosResult total;
  total.converged = true;
  const auto better = [&](double x, double y) {  // x strictly preferred to y
    switch (opt.which) {
      case Which::kLargest: return x > y;
      case Which::kSmallest: return x < y;
      case Which::kMagnitude: return std::abs(x) != std::abs(y) ? std::abs(x) > std::abs(y) : x > y;
    }
    return false;
  };
  for (;;) {
    const int width = r + static_cast<int>(locked.size());
    std::vector<double> block(un * static_cast<std::size_t>(width));
    for (std::size_t i = 0; i < un; ++i) {
      for (int c = 0; c < r; ++c) block[i * static_cast<std::size_t>(width) + static_cast<std::size_t>(c)] = deflate[i * static_cast<std::size_t>(r) + static_cast<std::size_t>(c)];
      for (std::size_t c = 0; c < locked.size(); ++c)
        block[i * static_cast<std::size_t>(width) + static_cast<std::size_t>(r) + c] = locked[c].vector[i];
    }
    LanczosOptions o = opt;
    o.vectors = true;
    o.k = static_cast<int>(std::min<std::int64_t>(opt.k, n - width));
    if (o.k < 1) break;
    o.seed = opt.seed + 0x9e3779b9ULL * locked.size();
    LanczosResult run = lanczos_run(a, width ? block.data() : nullptr, width, o, stop);
    total.matvecs += run.matvecs;
    total.restarts += run.restarts;
    total.converged = total.converged && run.converged;
    // The k-th best locked value so far; new values that are not worse than it are locked.
    std::vector<double> lv;
    for (const auto& p : locked) lv.push_back(p.value);
    std::stable_sort(lv.begin(), lv.end(), better);
    bool added = false;
    const double tol_equal = opt.tol * 10.0;
    for (int c = 0; c < o.k; ++c) {
      const double th = run.values[static_cast<std::size_t>(c)];
      // A value enters while fewer than k are locked, or when it beats the k-th best by more than
      // the tolerance: a copy equal to the k-th best changes no value of the answer.
      const double delta = tol_equal * std::max(1.0, std::abs(th));
      const double worse = opt.which == Which::kLargest    ? th - delta
                           : opt.which == Which::kSmallest ? th + delta
                                                           : th - (th >= 0 ? delta : -delta);
      const bool enters = static_cast<int>(lv.size()) < opt.k || better(worse, lv[static_cast<std::size_t>(opt.k - 1)]);
      if (!enters) continue;
      Pair pr{th, run.residuals[static_cast<std::size_t>(c)], std::vector<double>(un)};
      for (std::size_t i = 0; i < un; ++i) pr.vector[i] = run.vectors[i * static_cast<std::size_t>(o.k) + static_cast<std::size_t>(c)];
      locked.push_back(std::move(pr));
      added = true;
    }
    if (!added || !run.converged) break;
  }
  std::stable_sort(locked.begin(), locked.end(), [&](const Pair& x, const Pair& y) { return better(x.value, y.value); });
  const int k = std::min<int>(opt.k, static_cast<int>(locked.size()));
  for (int c = 0; c < k; ++c) {
    total.values.push_back(locked[static_cast<std::size_t>(c)].value);
    total.residuals.push_back(locked[static_cast<std::size_t>(c)].residual);
  }
  if (opt.vectors) {
    total.vectors.assign(un * static_cast<std::size_t>(k), 0.0);
    for (std::size_t i = 0; i < un; ++i)
      for (int c = 0; c < k; ++c)
        total.vectors[i * static_cast<std::size_t>(k) + static_cast<std::size_t>(c)] = locked[static_cast<std::size_t>(c)].vector[i];
  }
  return total;
}

}  // namespace ramcore
