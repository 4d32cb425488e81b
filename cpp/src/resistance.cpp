#include "ramcore/resistance.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "ramcore/enforce.hpp"
#include "ramcore/splitmix64.hpp"

namespace ramcore {
namespace {

constexpr std::int64_t kCols = 16;  // right-hand sides solved together

std::uint64_t edge_key(std::int64_t u, std::int64_t v) {
  const auto a = static_cast<std::uint64_t>(std::min(u, v)), b = static_cast<std::uint64_t>(std::max(u, v));
  return splitmix64(splitmix64(a) ^ b);
}

// Connected components by breadth-first search (loops and weights play no part).
template <class Index>
std::int64_t label_components(std::int64_t n, const Index* indptr, const Index* indices,
                              std::vector<std::int64_t>& label) {
  label.assign(static_cast<std::size_t>(n), -1);
  std::vector<std::int64_t> queue;
  queue.reserve(static_cast<std::size_t>(n));
  std::int64_t count = 0;
  for (std::int64_t s = 0; s < n; ++s) {
    if (label[static_cast<std::size_t>(s)] >= 0) continue;
    queue.clear();
    queue.push_back(s);
    label[static_cast<std::size_t>(s)] = count;
    for (std::size_t h = 0; h < queue.size(); ++h) {
      const std::int64_t u = queue[h];
      for (auto k = static_cast<std::int64_t>(indptr[u]); k < static_cast<std::int64_t>(indptr[u + 1]); ++k) {
        const auto v = static_cast<std::int64_t>(indices[k]);
        if (label[static_cast<std::size_t>(v)] < 0) {
          label[static_cast<std::size_t>(v)] = count;
          queue.push_back(v);
        }
      }
    }
    ++count;
  }
  return count;
}

// The per-block state of kCols simultaneous Jacobi-PCG solves on L = D - W; vectors are
// row-major n x kCols (entry (u, c) at u * kCols + c).
template <class Index>
class BlockSolver {
 public:
  BlockSolver(std::int64_t n, const Index* indptr, const Index* indices, const double* data,
              const SketchOptions& o, const StopFn& stop)
      : n_(n), indptr_(indptr), indices_(indices), data_(data), o_(o), stop_(stop),
        blocks_((n + kSumBlock - 1) / kSumBlock) {
    degree_.assign(static_cast<std::size_t>(n), 0.0);
    for (std::int64_t u = 0; u < n; ++u)
      for (auto k = begin(u); k < end(u); ++k)
        if (col(k) != u) degree_[static_cast<std::size_t>(u)] += weight(k);
    inv_degree_.resize(degree_.size());
    for (std::size_t u = 0; u < degree_.size(); ++u) inv_degree_[u] = degree_[u] > 0 ? 1.0 / degree_[u] : 1.0;
    const std::int64_t per_row = std::max<std::int64_t>(1, n ? end(n - 1) / n : 1) + 1;
    chunk_ = std::max<std::int64_t>(1, kEntriesPerTask / (kSumBlock * per_row * kCols));
    components_ = label_components(n, indptr, indices, label_);
    const auto size = static_cast<std::size_t>(checked_mul(n, kCols, "sketch block"));
    for (auto* v : {&y_, &x_, &r_, &p_, &q_}) v->assign(size, 0.0);
  }

  std::int64_t components() const { return components_; }

  // Solve the sketch rows [first, first + cols) and add their squared differences to s1, s2.
  void solve(std::int64_t first, std::int64_t cols, double* s1, double* s2, SketchResult& out) {
    right_hand_sides(first, cols);
    project(y_);
    std::vector<double> ynorm = norms(y_), rz(kCols, 0.0);
    std::fill(x_.begin(), x_.end(), 0.0);
    r_ = y_;
    sweep([&](std::int64_t u, std::size_t c, double* acc) {  // p = D^-1 r, rz = r . p
      const std::size_t i = idx(u, c);
      p_[i] = r_[i] * inv_degree(u);
      acc[c] += r_[i] * p_[i];
    }, rz);
    std::vector<char> active(kCols, 0);
    std::vector<std::int32_t> iters(kCols, 0);
    for (std::int64_t c = 0; c < cols; ++c) active[static_cast<std::size_t>(c)] = ynorm[static_cast<std::size_t>(c)] > 0;
    std::vector<double> alpha(kCols), pq(kCols), rr(kCols), rz_new(kCols);
    for (int it = 0; it < o_.max_iterations && any(active); ++it) {
      laplacian(p_, q_, &pq, p_);
      for (std::size_t c = 0; c < kCols; ++c) alpha[c] = active[c] && pq[c] > 0 ? rz[c] / pq[c] : 0.0;
      std::fill(rr.begin(), rr.end(), 0.0);
      std::fill(rz_new.begin(), rz_new.end(), 0.0);
      sweep2([&](std::int64_t u, std::size_t c, double* acc_rr, double* acc_rz) {
        const std::size_t i = idx(u, c);
        x_[i] += alpha[c] * p_[i];
        r_[i] -= alpha[c] * q_[i];
        acc_rr[c] += r_[i] * r_[i];
        acc_rz[c] += r_[i] * r_[i] * inv_degree(u);
      }, rr, rz_new);
      double worst = 0.0;  // the block's largest relative residual still above tol
      for (std::size_t c = 0; c < kCols; ++c) {
        if (!active[c]) continue;
        ++iters[c];
        if (std::sqrt(rr[c]) <= o_.tol * ynorm[c] || !(pq[c] > 0)) active[c] = 0;
        else worst = std::max(worst, std::sqrt(rr[c]) / ynorm[c]);
      }
      if (o_.status) o_.status->residual = worst;
      std::vector<double> beta(kCols, 0.0);
      for (std::size_t c = 0; c < kCols; ++c) {
        if (active[c]) beta[c] = rz_new[c] / rz[c];
        rz[c] = rz_new[c];
      }
      std::vector<double> unused(kCols, 0.0);
      sweep([&](std::int64_t u, std::size_t c, double*) {
        if (!active[c]) return;
        const std::size_t i = idx(u, c);
        p_[i] = r_[i] * inv_degree(u) + beta[c] * p_[i];
      }, unused);
    }
    // True residuals ||y - L x|| / ||y|| (not the recurrence's), then x = L^+ y on every component.
    laplacian(x_, q_, nullptr, x_);
    std::vector<double> res(kCols, 0.0);
    sweep([&](std::int64_t u, std::size_t c, double* acc) {
      const double d = y_[idx(u, c)] - q_[idx(u, c)];
      acc[c] += d * d;
    }, res);
    for (std::int64_t c = 0; c < cols; ++c) {
      const auto cc = static_cast<std::size_t>(c);
      const double rel = ynorm[cc] > 0 ? std::sqrt(res[cc]) / ynorm[cc] : 0.0;
      out.residuals.push_back(rel);
      out.iterations.push_back(iters[cc]);
      if (!(rel <= o_.tol)) out.converged = false;
    }
    project(x_);
    accumulate(cols, s1, s2);
  }

 private:
  std::int64_t begin(std::int64_t u) const { return static_cast<std::int64_t>(indptr_[u]); }
  std::int64_t end(std::int64_t u) const { return static_cast<std::int64_t>(indptr_[u + 1]); }
  std::int64_t col(std::int64_t k) const { return static_cast<std::int64_t>(indices_[k]); }
  double weight(std::int64_t k) const { return data_ ? data_[k] : 1.0; }
  static std::size_t idx(std::int64_t u, std::size_t c) {
    return static_cast<std::size_t>(u * kCols) + c;
  }
  double inv_degree(std::int64_t u) const { return inv_degree_[static_cast<std::size_t>(u)]; }
  std::vector<double> norms(const std::vector<double>& v) {
    std::vector<double> sq(kCols, 0.0);
    sweep([&](std::int64_t u, std::size_t c, double* acc) { acc[c] += v[idx(u, c)] * v[idx(u, c)]; }, sq);
    for (double& s : sq) s = std::sqrt(s);
    return sq;
  }
  static bool any(const std::vector<char>& a) {
    return std::any_of(a.begin(), a.end(), [](char v) { return v != 0; });
  }

  // body(row block range) over deterministic_sum's row blocks, in parallel.
  template <class F>
  void over_blocks(const F& body) {
    parallel_for(blocks_, chunk_, o_.threads, [&](std::int64_t b0, std::int64_t b1) {
      for (std::int64_t b = b0; b < b1; ++b) body(b * kSumBlock, std::min(n_, (b + 1) * kSumBlock));
    }, stop_);
  }

  // body(u0, u1, acc) over the same row blocks, with `width` per-block sums acc[0, width) reduced
  // deterministically.
  template <class F>
  Sums column_sums(std::size_t width, const F& body) {
    return deterministic_sum<Sums>(
        n_, kSumBlock, chunk_, o_.threads,
        [&](std::int64_t u0, std::int64_t u1, Sums& acc) { body(u0, u1, acc.data()); }, stop_, Sums(width));
  }

  // f(u, c, acc) for every entry, with per-column sums acc[c] reduced deterministically into sum.
  template <class F>
  void sweep(const F& f, std::vector<double>& sum) {
    sum = column_sums(kCols, [&](std::int64_t u0, std::int64_t u1, double* acc) {
      for (std::int64_t u = u0; u < u1; ++u)
        for (std::size_t c = 0; c < kCols; ++c) f(u, c, acc);
    }).v;
  }

  template <class F>
  void sweep2(const F& f, std::vector<double>& sum1, std::vector<double>& sum2) {
    const Sums s = column_sums(2 * kCols, [&](std::int64_t u0, std::int64_t u1, double* acc) {
      for (std::int64_t u = u0; u < u1; ++u)
        for (std::size_t c = 0; c < kCols; ++c) f(u, c, acc, acc + kCols);
    });
    sum1.assign(s.v.begin(), s.v.begin() + kCols);
    sum2.assign(s.v.begin() + kCols, s.v.end());
  }

  // out = L in (all columns); with dot != nullptr also (dot_with . out) per column.
  void laplacian(const std::vector<double>& in, std::vector<double>& out, std::vector<double>* dot,
                 const std::vector<double>& dot_with) {
    Sums d = column_sums(kCols, [&](std::int64_t u0, std::int64_t u1, double* acc) {
      for (std::int64_t u = u0; u < u1; ++u) {
        double s[kCols];
        const double du = degree_[static_cast<std::size_t>(u)];
        for (std::size_t c = 0; c < kCols; ++c) s[c] = du * in[idx(u, c)];
        for (auto k = begin(u); k < end(u); ++k) {
          const std::int64_t v = col(k);
          if (v == u) continue;
          const double w = weight(k);
          const double* iv = in.data() + v * kCols;
          for (std::size_t c = 0; c < kCols; ++c) s[c] -= w * iv[c];
        }
        for (std::size_t c = 0; c < kCols; ++c) {
          out[idx(u, c)] = s[c];
          acc[c] += dot_with[idx(u, c)] * s[c];
        }
      }
    });
    if (dot) *dot = std::move(d.v);
  }

  // y[:, c] = B^T W^1/2 q for the sign vector q of sketch row first + c (zero for c >= cols).
  void right_hand_sides(std::int64_t first, std::int64_t cols) {
    std::vector<std::uint64_t> key(kCols);
    for (std::size_t c = 0; c < kCols; ++c) key[c] = splitmix64(splitmix64(o_.seed) ^ static_cast<std::uint64_t>(first + static_cast<std::int64_t>(c)));
    over_blocks([&](std::int64_t u0, std::int64_t u1) {
      for (std::int64_t u = u0; u < u1; ++u) {
        double s[kCols] = {};
        for (auto k = begin(u); k < end(u); ++k) {
          const std::int64_t v = col(k);
          if (v == u) continue;
          const std::uint64_t e = edge_key(u, v);
          const double a = (u < v ? 1.0 : -1.0) * std::sqrt(weight(k));
          for (std::int64_t c = 0; c < cols; ++c)
            s[c] += (splitmix64(key[static_cast<std::size_t>(c)] ^ e) >> 63) ? a : -a;
        }
        for (std::size_t c = 0; c < kCols; ++c) y_[idx(u, c)] = s[c];
      }
    });
  }

  // Subtract every column's mean on every connected component (serial: O(n kCols), fixed order).
  void project(std::vector<double>& v) {
    std::vector<double> sum(static_cast<std::size_t>(components_ * kCols), 0.0);
    std::vector<double> size(static_cast<std::size_t>(components_), 0.0);
    for (std::int64_t u = 0; u < n_; ++u) {
      const auto l = static_cast<std::size_t>(label_[static_cast<std::size_t>(u)]);
      size[l] += 1.0;
      for (std::size_t c = 0; c < kCols; ++c) sum[l * kCols + c] += v[idx(u, c)];
    }
    for (std::int64_t u = 0; u < n_; ++u) {
      const auto l = static_cast<std::size_t>(label_[static_cast<std::size_t>(u)]);
      for (std::size_t c = 0; c < kCols; ++c) v[idx(u, c)] -= sum[l * kCols + c] / size[l];
    }
  }

  // s1[k] += sum_c d^2, s2[k] += sum_c d^4 with d = x[u, c] - x[v, c], columns in order.
  void accumulate(std::int64_t cols, double* s1, double* s2) {
    over_blocks([&](std::int64_t u0, std::int64_t u1) {
      for (std::int64_t u = u0; u < u1; ++u) {
        const double* xu = x_.data() + u * kCols;
        for (auto k = begin(u); k < end(u); ++k) {
          const double* xv = x_.data() + col(k) * kCols;
          double a = s1[k], b = s2[k];
          for (std::int64_t c = 0; c < cols; ++c) {
            const double d = xu[c] - xv[c], d2 = d * d;
            a += d2;
            b += d2 * d2;
          }
          s1[k] = a;
          s2[k] = b;
        }
      }
    });
  }

  std::int64_t n_;
  const Index* indptr_;
  const Index* indices_;
  const double* data_;
  const SketchOptions& o_;
  const StopFn& stop_;
  std::int64_t blocks_, chunk_ = 1, components_ = 0;
  std::vector<double> degree_, inv_degree_, y_, x_, r_, p_, q_;  // inv_degree_: Jacobi, 1 if isolated
  std::vector<std::int64_t> label_;
};

}  // namespace

template <class Index>
SketchResult sketch_resistance(std::int64_t n, const Index* indptr, const Index* indices,
                               const double* data, const SketchOptions& o, const StopFn& stop) {
  enforce(n >= 0, "number of vertices must be non-negative");
  enforce(o.sketch_rows >= 1, "sketch_rows must be >= 1, got " + std::to_string(o.sketch_rows));
  enforce(o.tol > 0, "tol must be positive");
  enforce(o.max_iterations >= 1, "max_iterations must be >= 1");
  const std::int64_t nnz = n ? static_cast<std::int64_t>(indptr[n]) : 0;
  if (data)
    for (std::int64_t k = 0; k < nnz; ++k)
      if (!(data[k] > 0 && std::isfinite(data[k])))  // the message is built only on failure
        enforce(false, "weights must be positive and finite (stored entry " + std::to_string(k) + " is " +
                           std::to_string(data[k]) + "); drop zero entries first");
  SketchResult out;
  allocate(out.resistance, nnz, "resistance estimates");
  allocate(out.stderr_, nnz, "standard errors");
  std::fill(out.resistance.begin(), out.resistance.end(), 0.0);
  std::fill(out.stderr_.begin(), out.stderr_.end(), 0.0);
  BlockSolver<Index> solver(n, indptr, indices, data, o, stop);
  out.components = solver.components();
  if (o.status) {
    o.status->phase = "sketch solves";
    o.status->total = o.sketch_rows;
    o.status->target = o.tol;
  }
  for (std::int64_t first = 0; first < o.sketch_rows; first += kCols) {
    const std::int64_t cols = std::min(kCols, o.sketch_rows - first);
    solver.solve(first, cols, out.resistance.data(), out.stderr_.data(), out);
    if (o.status) o.status->done = first + cols;
  }
  // With +-1 signs every sketch row's term t_i = (z_i[u] - z_i[v])^2 is on its own an unbiased
  // estimate of R(u, v) (E[q q^T] = I); the estimate is their mean, its standard error std(t)/sqrt(k).
  const auto k = static_cast<double>(o.sketch_rows);
  for (std::int64_t e = 0; e < nnz; ++e) {
    const auto i = static_cast<std::size_t>(e);
    const double mean = out.resistance[i] / k, second = out.stderr_[i] / k;
    out.resistance[i] = mean;
    out.stderr_[i] = std::sqrt(std::max(second - mean * mean, 0.0) / k);
  }
  return out;
}

template SketchResult sketch_resistance<std::int32_t>(std::int64_t, const std::int32_t*, const std::int32_t*,
                                                      const double*, const SketchOptions&, const StopFn&);
template SketchResult sketch_resistance<std::int64_t>(std::int64_t, const std::int64_t*, const std::int64_t*,
                                                      const double*, const SketchOptions&, const StopFn&);

}  // namespace ramcore
