#include "ramcore/lanczos.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "ramcore/csr.hpp"
#include "ramcore/dense_eigen.hpp"
#include "ramcore/enforce.hpp"
#include "ramcore/tridiagonal.hpp"
#include "ramcore/vector_ops.hpp"

namespace ramcore {
namespace {

using Size = std::size_t;

// The residual a Ritz pair (theta, y) may have to count as converged: relative to |theta|, with an
// absolute floor of 100 eps ||A|| for eigenvalues near zero, which no method resolves further.
double accepted(double theta, double anorm, double tol) {
  return std::max(tol * std::abs(theta), 100.0 * std::numeric_limits<double>::epsilon() * anorm);
}

// The kept Lanczos vectors of the two-pass method, carved in order from one reserved address range
// of `budget` bytes. On Linux the range is reserved without committing memory and marked for
// transparent huge pages: the vectors are then backed by 2 MiB pages as they are first written,
// one page fault per 2 MiB instead of per 4 KiB (on X^{5,61} the faults of separately allocated
// vectors cost a tenth of the certificate). Elsewhere, or if the reservation fails, each vector is
// an ordinary allocation.
class KeptVectors {
 public:
  KeptVectors(std::int64_t n, std::int64_t budget)
      : n_(n), capacity_(n > 0 ? std::max<std::int64_t>(budget, 0) / (8 * n) : 0) {
#if defined(__linux__)
    if (capacity_ > 0) {
      bytes_ = static_cast<std::size_t>(capacity_ * n_) * sizeof(double);
      void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (p == MAP_FAILED) {
        bytes_ = 0;
      } else {
        base_ = static_cast<double*>(p);
        madvise(p, bytes_, MADV_HUGEPAGE);  // advice only: without THP the range still works
      }
    }
#endif
  }
  KeptVectors(const KeptVectors&) = delete;
  KeptVectors& operator=(const KeptVectors&) = delete;
  ~KeptVectors() { release(); }

  std::int64_t size() const { return size_; }
  // Room for one more vector, or nullptr when the budget is spent.
  double* next() {
    if (size_ >= capacity_) return nullptr;
    double* v = nullptr;
    if (base_) {
      v = base_ + size_ * n_;
    } else {
      fallback_.emplace_back();
      allocate(fallback_.back(), n_, "Lanczos vector");
      v = fallback_.back().data();
    }
    ++size_;
    return v;
  }
  double* operator[](std::int64_t j) {
    return base_ ? base_ + j * n_ : fallback_[static_cast<std::size_t>(j)].data();
  }
  void release() {
#if defined(__linux__)
    if (base_) munmap(base_, bytes_);
#endif
    base_ = nullptr;
    fallback_.clear();
    fallback_.shrink_to_fit();
    size_ = capacity_ = 0;
  }

 private:
  std::int64_t n_, capacity_, size_ = 0;
  double* base_ = nullptr;
  std::size_t bytes_ = 0;
  std::vector<Buffer<double>> fallback_;
};

bool preferred(double x, double y, Which which) {  // x strictly preferred to y
  switch (which) {
    case Which::kLargest: return x > y;
    case Which::kSmallest: return x < y;
    case Which::kMagnitude: return std::abs(x) != std::abs(y) ? std::abs(x) > std::abs(y) : x > y;
  }
  return false;
}

// Indices of Ritz values in the order `which` prefers them (stable: ties keep their order).
std::vector<int> preferred_order(const std::vector<double>& theta, Which which) {
  std::vector<int> order(theta.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return preferred(theta[static_cast<Size>(a)], theta[static_cast<Size>(b)], which);
  });
  return order;
}

// out[:, c] = sum_q V[:, q] s[q][cols[c]] for the m columns of V (column-major, stride n).
// `out` may alias V's first columns: each tile of kSumBlock rows is computed into a buffer first.
void combine(std::int64_t n, const double* v, int m, const std::vector<double>& s, int sdim,
             const std::vector<int>& cols, double* out, std::int64_t out_stride, bool row_major,
             int threads, const StopFn& stop) {
  const auto k = static_cast<Size>(cols.size());
  parallel_for(
      (n + kSumBlock - 1) / kSumBlock, 1, threads,
      [&](std::int64_t b0, std::int64_t b1) {
        std::vector<double> buf(static_cast<Size>(kSumBlock) * k);
        for (std::int64_t b = b0; b < b1; ++b) {
          const std::int64_t i0 = b * kSumBlock, i1 = std::min(n, (b + 1) * kSumBlock), len = i1 - i0;
          std::fill(buf.begin(), buf.end(), 0.0);
          for (int q = 0; q < m; ++q) {
            const double* vq = v + static_cast<std::int64_t>(q) * n + i0;
            for (Size c = 0; c < k; ++c) {
              const double sc = s[static_cast<Size>(q) * static_cast<Size>(sdim) + static_cast<Size>(cols[c])];
              double* bc = buf.data() + c * static_cast<Size>(kSumBlock);
              for (std::int64_t i = 0; i < len; ++i) bc[i] += sc * vq[i];
            }
          }
          for (Size c = 0; c < k; ++c)
            for (std::int64_t i = 0; i < len; ++i) {
              const double x = buf[c * static_cast<Size>(kSumBlock) + static_cast<Size>(i)];
              if (row_major) {
                out[(i0 + i) * static_cast<std::int64_t>(k) + static_cast<std::int64_t>(c)] = x;
              } else {
                out[static_cast<std::int64_t>(c) * out_stride + i0 + i] = x;
              }
            }
        }
      },
      stop);
}

// Breakdown of the recurrence (Parlett, "The Symmetric Eigenvalue Problem", SIAM 1998, ch. 13:
// beta_j = 0 means span(V) is invariant, and any vector orthogonal to it may continue; Wu & Simon
// 2000 for the thick-restart form). The new residual w = A v_j - alpha_j v_j - beta_{j-1} v_{j-1},
// orthogonalised, has norm beta_j at the rounding level of ||A||: span(V) (with the deflated block)
// is invariant up to rounding and w is noise, which normalising divides by beta_j. Worse, the part
// of the noise along the deflated block Y is amplified by A at every later step (Gram-Schmidt
// leaves eps^2 ||A v_j|| of it, divided by beta_j), so after a few steps the basis holds
// eigenvectors of the deflated part and the "Ritz values" of P A P exceed ||A|| by orders of
// magnitude (issue 14: 1e11 for the all-ones 100 x 100 matrix, whose deflated operator is exactly
// zero). Such a step therefore records beta_j = 0 in T and continues from a fresh random vector
// orthogonal to the basis and to Y. "Tiny" is measured against the largest ||A v_j|| seen (before
// any subtraction, so it includes what the deflation projects away) and the caller's estimate of
// ||A||, never against the Ritz values of the current run alone, which are themselves noise when
// P A P ~ 0. With classical Gram-Schmidt twice, a step kept at beta_j > kBreakdown ||A|| leaves at
// most eps^2 / kBreakdown ~ 5e-18 of Y in v_{j+1}; a dropped coupling (<= kBreakdown ||A||) is
// below the 100 eps ||A|| accuracy floor of `accepted`.
constexpr double kBreakdown = 1e-14;
// The reported relative residual of a value near zero is measured against ||A||'s rounding
// level instead (a progress display only; convergence is judged by `accepted`).
double relative(double residual, double value, double scale) {
  return residual / std::max({std::abs(value), kBreakdown * scale, std::numeric_limits<double>::min()});
}

// One thick-restart Lanczos run in the space orthogonal to `deflate`: k distinct Ritz values.
//
// The basis is column-major, n x (r + m + 1): the r deflation vectors first, then the Lanczos
// vectors, so one Gram-Schmidt sweep handles both and every vector is contiguous for the operator.
// `norm_scale` is a lower bound on ||A|| known before the run (0 if none); on return, the run's own
// (largest ||A v_j|| and |Ritz value| seen), for the next run of the locking loop.
LanczosResult lanczos_run(const LinearOperator& a, const double* deflate, int r, const LanczosOptions& opt,
                          const StopFn& stop, double& norm_scale) {
  const std::int64_t n = a.rows();
  enforce(a.cols() == n, "lanczos: the operator must be square");
  enforce(r >= 0 && r < n, "lanczos: deflating " + std::to_string(r) +
                               " vectors leaves nothing of dimension " + std::to_string(n));
  const std::int64_t dim = n - r;  // dimension of the deflated space
  enforce(opt.k >= 1 && opt.k <= dim, "k must be in [1, " + std::to_string(dim) +
                                          "] (the dimension after deflation), got " + std::to_string(opt.k));
  enforce(opt.tol > 0 && std::isfinite(opt.tol), "tol must be a positive number");
  enforce(opt.max_restarts >= 0, "max_restarts must be non-negative");
  const int m = static_cast<int>(std::min<std::int64_t>(
      dim, opt.ncv > 0 ? std::max(opt.ncv, opt.k + 1) : std::max(2 * opt.k + 1, 20)));
  const int threads = opt.threads;
  const auto un = static_cast<Size>(n);

  LanczosResult res;
  std::vector<double> basis(un * static_cast<Size>(r + m + 1));
  for (Size i = 0; i < un; ++i)  // deflation block: row-major input -> first r columns
    for (int c = 0; c < r; ++c) basis[static_cast<Size>(c) * un + i] = deflate[i * static_cast<Size>(r) + static_cast<Size>(c)];
  auto col = [&](int j) { return basis.data() + static_cast<std::int64_t>(r + j) * n; };
  std::vector<double> t(static_cast<Size>(m) * static_cast<Size>(m), 0.0), w(un);
  std::uint64_t seed = opt.seed;

  // w <- w minus its components along the deflation block and the first j Lanczos vectors; a
  // second pass only when the first removed most of w (DGKS criterion). Returns ||w||.
  auto orthogonalise = [&](int j) {
    Projection pr = project_out(n, r + j, basis.data(), w.data(), threads, stop);
    if (pr.after < 0.7071 * pr.before) pr = project_out(n, r + j, basis.data(), w.data(), threads, stop);
    return pr.after;
  };
  auto store = [&](int j, double scale) {
    double* dst = col(j);
    parallel_for(
        n, kVectorTask, threads,
        [&](std::int64_t i0, std::int64_t i1) {
          for (std::int64_t i = i0; i < i1; ++i) dst[i] = w[static_cast<Size>(i)] * scale;
        },
        stop);
  };
  // A unit vector orthogonal to the deflation block and the first j Lanczos vectors.
  auto fresh_vector = [&](int j) {
    for (int attempt = 0; attempt < 5; ++attempt) {
      random_vector(n, seed++, w.data(), threads, stop);
      const double nw = orthogonalise(j);
      if (nw > 1e-8 * std::sqrt(static_cast<double>(n))) {
        store(j, 1.0 / nw);
        return true;
      }
    }
    return false;
  };
  enforce(fresh_vector(0), "lanczos: could not find a start vector outside the deflated space");

  // Largest ||A v_j|| (unit v_j, before the deflation projection) and |Ritz value| so far: a lower
  // bound on ||A|| that sets the scale of "beta is zero" and the floor of `accepted`.
  double scale = std::max(norm_scale, 0.0);
  int kk = 0;  // Ritz vectors kept at the start of this cycle
  int mm = m;  // basis size of this cycle: below m when the whole space is exhausted
  std::vector<double> theta, s, tb;
  std::vector<int> order;
  double beta = 0.0;
  // Eigenpairs of the leading mm x mm block of T, in the `which` order.
  auto ritz = [&]() {
    if (mm == m) {
      symmetric_eigen(t, m, theta, s);
    } else {
      tb.assign(static_cast<Size>(mm) * static_cast<Size>(mm), 0.0);
      for (int i = 0; i < mm; ++i)
        for (int c = 0; c < mm; ++c) tb[static_cast<Size>(i * mm + c)] = t[static_cast<Size>(i * m + c)];
      symmetric_eigen(tb, mm, theta, s);
    }
    order = preferred_order(theta, opt.which);
    for (double th : theta) scale = std::max(scale, std::abs(th));
  };
  for (;;) {
    for (int j = kk; j < m; ++j) {
      const double* vj = col(j);
      a.apply(vj, w.data(), threads, stop);
      ++res.matvecs;
      if (opt.status) ++opt.status->done;
      const double alpha = dot(n, vj, w.data(), threads, stop);
      t[static_cast<Size>(j * m + j)] = alpha;
      // Three-term recurrence first (after a restart the arrow terms are left to Gram-Schmidt),
      // measuring ||A v_j|| in the same sweep.
      const double beta_prev = j > kk ? t[static_cast<Size>((j - 1) * m + j)] : 0.0;
      const double* vprev = j > kk ? col(j - 1) : vj;
      const double raw = std::sqrt(deterministic_sum<double>(
          n, kSumBlock, kBlocksPerTask, threads,
          [&](std::int64_t i0, std::int64_t i1, double& sq) {
            // Four partial sums (fixed order, so still bit-identical for any thread count): one
            // chain of dependent additions would make this sweep latency-bound instead of
            // memory-bound.
            double* wp = w.data();
            double q[4] = {0.0, 0.0, 0.0, 0.0};
            std::int64_t i = i0;
            for (; i + 4 <= i1; i += 4)
              for (int l = 0; l < 4; ++l) {
                const double x = wp[i + l];
                q[l] += x * x;
                wp[i + l] = x - (alpha * vj[i + l] + beta_prev * vprev[i + l]);
              }
            for (; i < i1; ++i) {
              const double x = wp[i];
              q[0] += x * x;
              wp[i] = x - (alpha * vj[i] + beta_prev * vprev[i]);
            }
            sq += (q[0] + q[1]) + (q[2] + q[3]);
          },
          stop));
      scale = std::max(scale, raw);
      beta = orthogonalise(j + 1);
      if (beta <= kBreakdown * scale) {  // invariant subspace (also the exact case beta = 0)
        beta = 0.0;
        if (j + 1 < m && !fresh_vector(j + 1)) {  // no direction left: the whole space is spanned
          mm = j + 1;
          break;
        }
      } else {
        store(j + 1, 1.0 / beta);
      }
      if (j + 1 < m) t[static_cast<Size>(j * m + j + 1)] = t[static_cast<Size>((j + 1) * m + j)] = beta;
    }

    ritz();
    enforce(mm >= opt.k, "lanczos: the Krylov space collapsed below k vectors");
    bool all = true;
    double worst = 0.0;  // the largest relative residual estimate of the wanted values
    for (int i = 0; i < opt.k; ++i) {
      const auto c = static_cast<Size>(order[static_cast<Size>(i)]);
      const double est = std::abs(beta * s[static_cast<Size>(mm - 1) * static_cast<Size>(mm) + c]);
      // Half the tolerance on the estimate, so the true residual checked below has a margin.
      all = all && est <= accepted(theta[c], scale, 0.5 * opt.tol);
      worst = std::max(worst, relative(est, theta[c], scale));
    }
    if (opt.status) opt.status->residual = worst;
    if (all || mm < m || res.restarts >= opt.max_restarts) {
      res.converged = all;
      break;
    }

    // Thick restart: V[:, :kk] <- V[:, :m] S[:, keep], v_kk <- v_m, T <- arrowhead(theta, beta s_m).
    ++res.restarts;
    kk = std::min(m - 1, opt.k + (m - opt.k) / 2);
    const std::vector<int> keep(order.begin(), order.begin() + kk);
    combine(n, col(0), m, s, m, keep, col(0), n, false, threads, stop);
    std::copy(col(m), col(m) + n, col(kk));
    std::fill(t.begin(), t.end(), 0.0);
    for (int c = 0; c < kk; ++c) {
      const auto src = static_cast<Size>(keep[static_cast<Size>(c)]);
      t[static_cast<Size>(c * m + c)] = theta[src];
      t[static_cast<Size>(c * m + kk)] = t[static_cast<Size>(kk * m + c)] =
          beta * s[static_cast<Size>(m - 1) * static_cast<Size>(m) + src];
    }
    if (beta == 0.0 && !fresh_vector(kk)) {  // exhausted: the kept Ritz pairs are exact
      mm = kk;
      ritz();
      res.converged = kk >= opt.k;
      break;
    }
  }

  // Ritz vectors y = V s for the k wanted values (row-major n x k). Each is projected off the
  // deflation block and normalised, and its value is the Rayleigh quotient y^T P A P y of that unit
  // vector, so |value| <= ||A|| whatever happened above; the residual is the true ||P A P y - value y||
  // (the Rayleigh quotient minimises it over all values, and differs from the Ritz value by at most it).
  const int k = opt.k;
  const std::vector<int> wanted(order.begin(), order.begin() + k);
  std::vector<double> y(un * static_cast<Size>(k));
  combine(n, col(0), mm, s, mm, wanted, y.data(), 0, true, threads, stop);
  std::vector<double> yc(un), values(static_cast<Size>(k)), residuals(static_cast<Size>(k));
  for (int c = 0; c < k; ++c) {
    for (Size i = 0; i < un; ++i) yc[i] = y[i * static_cast<Size>(k) + static_cast<Size>(c)];
    project_out(n, r, basis.data(), yc.data(), threads, stop);
    const double nrm = norm2(n, yc.data(), threads, stop);
    for (auto& x : yc) x /= nrm;
    a.apply(yc.data(), w.data(), threads, stop);
    ++res.matvecs;
    if (opt.status) ++opt.status->done;
    project_out(n, r, basis.data(), w.data(), threads, stop);  // residual of P A P
    const double rq = dot(n, yc.data(), w.data(), threads, stop);
    for (Size i = 0; i < un; ++i) w[i] -= rq * yc[i];
    values[static_cast<Size>(c)] = rq;
    residuals[static_cast<Size>(c)] = norm2(n, w.data(), threads, stop);
    scale = std::max(scale, std::abs(rq));
    for (Size i = 0; i < un; ++i) y[i * static_cast<Size>(k) + static_cast<Size>(c)] = yc[i];
  }
  // Best first again (a Rayleigh quotient may swap two values closer than their residuals).
  const std::vector<int> final_order = preferred_order(values, opt.which);
  for (int c = 0; c < k; ++c) {
    const auto src = static_cast<Size>(final_order[static_cast<Size>(c)]);
    res.values.push_back(values[src]);
    res.residuals.push_back(residuals[src]);
    // Converged means the true residual, not just the Ritz estimate, meets the tolerance.
    res.converged = res.converged && residuals[src] <= accepted(values[src], scale, opt.tol);
  }
  if (opt.vectors) {
    res.vectors.resize(y.size());
    for (Size i = 0; i < un; ++i)
      for (int c = 0; c < k; ++c)
        res.vectors[i * static_cast<Size>(k) + static_cast<Size>(c)] =
            y[i * static_cast<Size>(k) + static_cast<Size>(final_order[static_cast<Size>(c)])];
  }
  norm_scale = scale;
  return res;
}

}  // namespace

LanczosResult lanczos(const LinearOperator& a, const double* deflate, int r, const LanczosOptions& opt,
                      const StopFn& stop) {
  if (opt.status) {
    opt.status->phase = "Lanczos";
    opt.status->target = opt.tol;
  }
  if (opt.two_pass) return lanczos_two_pass(a, deflate, r, opt, stop);
  double norm_scale = 0.0;  // lower bound on ||A||, carried from run to run
  if (opt.k == 1) return lanczos_run(a, deflate, r, opt, stop, norm_scale);  // no multiplicity to resolve
  // Single-vector Krylov spaces hold one vector per eigenspace, so a repeated eigenvalue appears
  // once per run. Lock what a run finds (add it to the deflated block) and search again until a
  // run finds nothing that belongs among the k best: the k values then carry their multiplicity.
  const std::int64_t n = a.rows();
  const auto un = static_cast<Size>(n);
  struct Pair {
    double value, residual;
    std::vector<double> vector;
  };
  std::vector<Pair> locked;
  LanczosResult total;
  total.converged = true;
  const double tol_equal = opt.tol * 10.0;
  for (;;) {
    const int width = r + static_cast<int>(locked.size());
    if (width >= n) break;
    std::vector<double> block(un * static_cast<Size>(width));
    for (Size i = 0; i < un; ++i) {
      for (int c = 0; c < r; ++c)
        block[i * static_cast<Size>(width) + static_cast<Size>(c)] = deflate[i * static_cast<Size>(r) + static_cast<Size>(c)];
      for (Size c = 0; c < locked.size(); ++c)
        block[i * static_cast<Size>(width) + static_cast<Size>(r) + c] = locked[c].vector[i];
    }
    LanczosOptions o = opt;
    o.vectors = true;
    o.k = static_cast<int>(std::min<std::int64_t>(opt.k, n - width));
    o.seed = opt.seed + 0x9e3779b9ULL * locked.size();
    // Each run after the first works in the complement of what was locked, where P A P may be
    // (numerically) zero, as for rank-deficient input: its "zero" is measured against ||A||, the
    // scale of the earlier runs, not against its own rounding-level Ritz values.
    LanczosResult run = lanczos_run(a, width ? block.data() : nullptr, width, o, stop, norm_scale);
    total.matvecs += run.matvecs;
    total.restarts += run.restarts;
    total.converged = total.converged && run.converged;
    std::vector<double> lv;
    for (const auto& p : locked) lv.push_back(p.value);
    std::stable_sort(lv.begin(), lv.end(), [&](double x, double y) { return preferred(x, y, opt.which); });
    bool added = false;
    for (int c = 0; c < o.k; ++c) {
      const double th = run.values[static_cast<Size>(c)];
      // A value enters while fewer than k are locked, or when it beats the k-th best by more than
      // the tolerance: a copy equal to the k-th best changes no value of the answer.
      const double delta = tol_equal * std::max(1.0, std::abs(th));
      const double worse = opt.which == Which::kLargest    ? th - delta
                           : opt.which == Which::kSmallest ? th + delta
                                                           : th - (th >= 0 ? delta : -delta);
      const bool enters = static_cast<int>(lv.size()) < opt.k ||
                          preferred(worse, lv[static_cast<Size>(opt.k - 1)], opt.which);
      if (!enters) continue;
      Pair pr{th, run.residuals[static_cast<Size>(c)], std::vector<double>(un)};
      for (Size i = 0; i < un; ++i) pr.vector[i] = run.vectors[i * static_cast<Size>(o.k) + static_cast<Size>(c)];
      locked.push_back(std::move(pr));
      added = true;
    }
    if (!added || !run.converged) break;
  }
  std::stable_sort(locked.begin(), locked.end(),
                   [&](const Pair& x, const Pair& y) { return preferred(x.value, y.value, opt.which); });
  const int k = std::min<int>(opt.k, static_cast<int>(locked.size()));
  for (int c = 0; c < k; ++c) {
    total.values.push_back(locked[static_cast<Size>(c)].value);
    total.residuals.push_back(locked[static_cast<Size>(c)].residual);
  }
  if (opt.vectors) {
    total.vectors.assign(un * static_cast<Size>(k), 0.0);
    for (Size i = 0; i < un; ++i)
      for (int c = 0; c < k; ++c)
        total.vectors[i * static_cast<Size>(k) + static_cast<Size>(c)] = locked[static_cast<Size>(c)].vector[i];
  }
  return total;
}

LanczosResult lanczos_two_pass(const LinearOperator& a, const double* deflate, int r, const LanczosOptions& opt,
                               const StopFn& stop) {
  const std::int64_t n = a.rows();
  enforce(a.cols() == n, "lanczos: the operator must be square");
  enforce(opt.k == 1, "the two-pass Lanczos computes one eigenvalue (k = 1), got k = " + std::to_string(opt.k));
  enforce(r >= 0 && r < n, "lanczos: deflating " + std::to_string(r) +
                               " vectors leaves nothing of dimension " + std::to_string(n));
  enforce(opt.tol > 0 && std::isfinite(opt.tol), "tol must be a positive number");
  const int threads = opt.threads;
  const auto un = static_cast<Size>(n), ur = static_cast<Size>(r);
  const std::int64_t max_steps =
      std::max<std::int64_t>(50, static_cast<std::int64_t>(opt.max_restarts + 1) * std::max(opt.ncv, 20));

  std::vector<double> y(un * ur);  // deflation block, column-major
  for (Size i = 0; i < un; ++i)
    for (Size c = 0; c < ur; ++c) y[c * un + i] = deflate[i * ur + c];

  // Vector storage: while the budget allows, every Lanczos vector gets its own buffer (kept for
  // the Ritz vector); otherwise three buffers rotate and pass 2 replays the recurrence.
  KeptVectors kept(n, opt.keep_vectors_bytes);  // uninitialised: every entry is written by finish()
  bool keeping = opt.keep_vectors_bytes > 0;
  std::vector<double> ring[3] = {std::vector<double>(un), std::vector<double>(un, 0.0), std::vector<double>(un)};
  std::vector<double> w(un);
  double *cur = ring[0].data(), *prev = ring[1].data();
  auto free_ring = [&]() {  // the ring buffer holding neither cur nor prev
    for (auto& b : ring)
      if (b.data() != cur && b.data() != prev) return b.data();
    return ring[2].data();  // unreachable: three buffers, two in use
  };
  auto next_buffer = [&]() -> double* {
    if (keeping)
      if (double* v = kept.next()) return v;
    if (keeping) {  // budget exhausted: move the two live vectors into the ring, drop the rest
      std::copy(cur, cur + n, ring[0].data());
      std::copy(prev, prev + n, ring[1].data());
      cur = ring[0].data();
      prev = ring[1].data();
      kept.release();
      keeping = false;
    }
    return free_ring();
  };
  auto rotate = [&](double* next) {  // prev <- cur <- next
    prev = cur;
    cur = next;
  };

  // The recurrence, in three sweeps per step so that pass 2 can replay it bit for bit:
  //   alpha = v . A v;  w = A v - alpha v - beta_prev v_prev, with c = Y^T w and ||w||^2 in the
  //   same sweep;  beta = sqrt(||w||^2 - ||c||^2) (Y orthonormal);  v_next = (w - Y c) / beta.
  //   The same sweep measures ||A v|| (before the subtraction) for the breakdown test.
  double last_raw = 0.0, last_cc = 0.0, last_ww = 0.0;
  auto update = [&](double alpha, double beta_prev, std::vector<double>& c) {
    c = deterministic_sum<Sums>(
            n, kSumBlock, kBlocksPerTask, threads,
            [&](std::int64_t i0, std::int64_t i1, Sums& acc) {
              double sq = 0.0, raw = 0.0;
              for (std::int64_t i = i0; i < i1; ++i) {
                const auto u = static_cast<Size>(i);
                const double x = w[u];
                raw += x * x;
                w[u] = x - (alpha * cur[i] + beta_prev * prev[i]);
                sq += w[u] * w[u];
              }
              acc[ur] = sq;
              acc[ur + 1] = raw;
              for (Size k = 0; k < ur; ++k) {
                const double* yk = y.data() + k * un;
                double s = 0.0;
                for (std::int64_t i = i0; i < i1; ++i) s += yk[i] * w[static_cast<Size>(i)];
                acc[k] = s;
              }
            },
            stop, Sums(ur + 2))
            .v;
    double cc = 0.0;
    for (Size k = 0; k < ur; ++k) cc += c[k] * c[k];
    last_raw = std::sqrt(c[ur + 1]);
    last_cc = cc;
    last_ww = c[ur];
    return std::sqrt(std::max(c[ur] - cc, 0.0));  // ||w - Y c||
  };
  auto finish = [&](const std::vector<double>& c, double beta, double* next) {
    parallel_for(
        n, kVectorTask, threads,
        [&](std::int64_t i0, std::int64_t i1) {
          for (std::int64_t i = i0; i < i1; ++i) {
            double wi = w[static_cast<Size>(i)];
            for (Size k = 0; k < ur; ++k) wi -= c[k] * y[k * un + static_cast<Size>(i)];
            next[i] = wi / beta;
          }
        },
        stop);
  };
  auto start = [&]() {
    double* first = next_buffer();
    random_vector(n, opt.seed, w.data(), threads, stop);
    std::vector<double> c;
    std::fill(prev, prev + n, 0.0);
    cur = prev;  // zero vector: update() then only projects and measures w
    const double nw = update(0.0, 0.0, c);
    enforce(nw > 0, "lanczos: the start vector lies in the deflated space");
    finish(c, nw, first);
    cur = first;
  };

  // Pass 1: the tridiagonal T_j and its extreme Ritz value.
  LanczosResult res;
  std::vector<double> alphas, betas, s, c;
  double theta = 0.0, anorm = 0.0;
  double scale = 0.0;  // largest ||A v_j||: a lower bound on ||A||, the scale of "beta is zero"
  start();
  for (std::int64_t j = 0; j < max_steps; ++j) {
    const double alpha = a.apply_dot(cur, w.data(), threads, stop);  // A v and v . A v, one sweep
    ++res.matvecs;
    if (opt.status) ++opt.status->done;
    const double beta = update(alpha, betas.empty() ? 0.0 : betas.back(), c);
    alphas.push_back(alpha);
    const double hi = extreme_eigenvalue(alphas, betas, true), lo = extreme_eigenvalue(alphas, betas, false);
    theta = opt.which == Which::kLargest    ? hi
            : opt.which == Which::kSmallest ? lo
                                            : (std::abs(lo) > std::abs(hi) ? lo : hi);
    s = eigenvector(alphas, betas, theta);
    scale = std::max(scale, last_raw);
    anorm = std::max({std::abs(lo), std::abs(hi), scale});
    // Breakdown (Parlett 1998, ch. 13): the Krylov space is invariant up to rounding, so T_j's
    // extreme value is final. Either beta is at the rounding level of ||A|| (measured by ||A v_j||,
    // not by alpha_j, which is itself rounding when P A P ~ 0 as for rank-deficient input), or most
    // of w lies along the deflated block Y: in exact arithmetic w is orthogonal to Y, so that part is
    // rounding amplified by A, and beta = sqrt(||w||^2 - ||Y^T w||^2) would lose its digits too.
    if (opt.status) opt.status->residual = relative(std::abs(beta * s.back()), theta, anorm);
    const bool leak = ur > 0 && last_cc > 0.25 * last_ww;
    const bool breakdown = beta <= 1e-12 * scale || leak || static_cast<std::int64_t>(alphas.size()) >= n - r;
    if (breakdown || std::abs(beta * s.back()) <= accepted(theta, anorm, 0.5 * opt.tol)) {
      res.converged = true;  // confirmed below by the true residual
      break;
    }
    betas.push_back(beta);
    double* next = next_buffer();
    finish(c, beta, next);
    rotate(next);
  }

  // The Ritz vector x = V s: from the kept vectors, or (pass 2) by replaying the recurrence.
  std::vector<double> x(un, 0.0);
  auto accumulate = [&](double sj, const double* vj) {
    parallel_for(
        n, kVectorTask, threads,
        [&](std::int64_t i0, std::int64_t i1) {
          for (std::int64_t i = i0; i < i1; ++i) x[static_cast<Size>(i)] += sj * vj[i];
        },
        stop);
  };
  if (keeping) {
    for (Size j = 0; j < alphas.size(); ++j) accumulate(s[j], kept[static_cast<std::int64_t>(j)]);
  } else {
    cur = ring[0].data();
    prev = ring[1].data();
    if (opt.status) {  // pass 2 replays as many products as pass 1 took
      opt.status->phase = "Lanczos pass 2 (Ritz vector)";
      opt.status->total = opt.status->done + static_cast<std::int64_t>(alphas.size());  // + residual
    }
    start();
    for (Size j = 0; j < alphas.size(); ++j) {
      accumulate(s[j], cur);
      if (j + 1 == alphas.size()) break;
      a.apply(cur, w.data(), threads, stop);
      ++res.matvecs;
      if (opt.status) ++opt.status->done;
      update(alphas[j], j ? betas[j - 1] : 0.0, c);
      double* next = next_buffer();
      finish(c, betas[j], next);
      rotate(next);
    }
  }
  // The returned value is the Rayleigh quotient x^T P A P x of the unit Ritz vector (so |value| <=
  // ||A||, and it is within the residual of the Ritz value), with its true residual.
  project_out(n, r, y.data(), x.data(), threads, stop);
  const double nx = norm2(n, x.data(), threads, stop);
  for (auto& e : x) e /= nx;
  a.apply(x.data(), w.data(), threads, stop);
  ++res.matvecs;
  if (opt.status) ++opt.status->done;
  project_out(n, r, y.data(), w.data(), threads, stop);
  theta = dot(n, x.data(), w.data(), threads, stop);
  for (Size i = 0; i < un; ++i) w[i] -= theta * x[i];
  anorm = std::max(anorm, std::abs(theta));
  res.values = {theta};
  res.residuals = {norm2(n, w.data(), threads, stop)};
  res.converged = res.converged && res.residuals[0] <= accepted(theta, anorm, opt.tol);
  if (opt.vectors) res.vectors = std::move(x);
  return res;
}

}  // namespace ramcore
