#include "ramcore/lps.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "ramcore/enforce.hpp"

namespace ramcore {
namespace {

std::int64_t isqrt(std::int64_t v) {
  auto r = static_cast<std::int64_t>(std::sqrt(static_cast<double>(v)));
  while (r * r > v) --r;
  while ((r + 1) * (r + 1) <= v) ++r;
  return r;
}

bool normalised(const std::array<std::int64_t, 4>& a, std::int64_t p) {
  if (p % 4 == 1) {
    return a[0] > 0 && a[0] % 2 != 0 && a[1] % 2 == 0 && a[2] % 2 == 0 && a[3] % 2 == 0;
  }
  if (a[0] % 2 != 0 || a[0] < 0) return false;
  if (a[0] > 0) return true;
  for (int i = 1; i < 4; ++i) {
    if (a[i] != 0) return a[i] > 0;
  }
  return false;
}

}  // namespace

std::vector<std::pair<std::int64_t, double>> distinct_generators(const PGL2& g,
                                                                 const LpsGenerators& gens) {
  std::vector<std::int64_t> ranks;
  for (const auto& m : gens.matrices) ranks.push_back(g.rank(m));
  std::sort(ranks.begin(), ranks.end());
  std::vector<std::pair<std::int64_t, double>> out;
  for (auto r : ranks) {
    if (!out.empty() && out.back().first == r) {
      out.back().second += 1.0;
    } else {
      out.emplace_back(r, 1.0);
    }
  }
  return out;
}

std::int64_t LpsGenerators::vertices() const {
  const std::int64_t n = q * (q * q - 1);
  return legendre == -1 ? n : n / 2;
}

LpsGenerators lps_generators(std::int64_t p, std::int64_t q) {
  enforce(p > 2 && p <= kMaxP && is_prime(static_cast<std::uint64_t>(p)),
          "p must be an odd prime <= " + std::to_string(kMaxP) + ", got " + std::to_string(p));
  enforce(q > 2 && q <= PGL2::kMaxQ && is_prime(static_cast<std::uint64_t>(q)),
          "q must be an odd prime <= " + std::to_string(PGL2::kMaxQ) + ", got " +
              std::to_string(q));
  enforce(p != q, "p and q must be distinct primes, got p = q = " + std::to_string(p));

  LpsGenerators gens;
  gens.p = p;
  gens.q = q;
  gens.legendre = legendre(p, static_cast<std::uint64_t>(q));
  const auto xy = two_squares_minus_one(static_cast<std::uint64_t>(q));
  gens.x = xy.first;
  gens.y = xy.second;

  const std::int64_t s = isqrt(p);
  for (std::int64_t a0 = -s; a0 <= s; ++a0) {
    for (std::int64_t a1 = -s; a1 <= s; ++a1) {
      const std::int64_t r1 = p - a0 * a0 - a1 * a1;
      if (r1 < 0) continue;
      for (std::int64_t a2 = -isqrt(r1); a2 * a2 <= r1; ++a2) {
        const std::int64_t r2 = r1 - a2 * a2;
        const std::int64_t a3 = isqrt(r2);
        if (a3 * a3 != r2) continue;
        for (std::int64_t sign : {1, -1}) {
          std::array<std::int64_t, 4> a{a0, a1, a2, sign * a3};
          if (normalised(a, p)) gens.quaternions.push_back(a);
          if (a3 == 0) break;
        }
      }
    }
  }
  std::sort(gens.quaternions.begin(), gens.quaternions.end());
  if (static_cast<std::int64_t>(gens.quaternions.size()) != p + 1) {
    throw std::logic_error("lps_generators: found " + std::to_string(gens.quaternions.size()) +
                           " normalised solutions for p = " + std::to_string(p) +
                           ", Jacobi's theorem says p + 1");
  }

  const PGL2 g(q);
  const auto x = static_cast<std::int64_t>(gens.x), y = static_cast<std::int64_t>(gens.y);
  for (const auto& a : gens.quaternions) {
    gens.matrices.push_back(g.canonical_checked(a[0] + a[1] * x + a[3] * y,
                                                -a[1] * y + a[2] + a[3] * x,
                                                -a[1] * y - a[2] + a[3] * x,
                                                a[0] - a[1] * x - a[3] * y));
  }
  // Loops and repeats from one sorted copy: O(p log p) rather than comparing all pairs.
  const Mat2 identity{1, 0, 0, 1};
  std::vector<std::int64_t> ranks;
  for (const auto& m : gens.matrices) {
    if (m == identity) ++gens.loops;
    ranks.push_back(g.rank(m));
  }
  std::sort(ranks.begin(), ranks.end());
  gens.repeated = static_cast<std::int64_t>(ranks.end() - std::unique(ranks.begin(), ranks.end()));
  return gens;
}

namespace {

// Construction of X^{p,q} without per-edge group arithmetic (docs/design.md, section 2,
// "Construction"). An element's canonical top row is a point of the projective line P^1(F_q):
// (1, b) or (0, 1). Its rank coordinates are that point, the determinant delta (class and index j)
// and one free coordinate f in F_q: c for (1, b, c, d) with d = delta + b c, d for (0, 1, c, d)
// with c = -delta. Right multiplication by a generator s sends the top row to another point
// (a Mobius transformation of P^1, rescaled by t), multiplies delta by m = det(s) t^2 and shifts
// the free coordinate: f' = f + delta e (mod q), where t, m and e depend on the point and s only.
// So along the q elements that differ only in f, each neighbour's rank moves by a fixed stride
// with one wrap-around, and its place in the sorted row is the place of its target point.

// How one generator acts on the elements whose top row is one given point.
struct Move {
  std::uint32_t target;  // top row of x s: b' for (1, b'), q for (0, 1)
  std::uint32_t e;       // f' = f + delta e (mod q)
  std::uint32_t m;       // delta' = delta m (mod q)
  std::uint32_t gen;     // index of the distinct generator
};

// Every generator's move from every point, sorted by target within each point. Different targets
// give disjoint rank ranges in target order (the target point is the leading digit of the ranking
// within a determinant class, and every generator has the class of p), so only generators sharing
// a target (a "tie") need ordering per element.
struct Moves {
  std::vector<Move> move;                                     // (q + 1) k, point-major
  std::vector<std::size_t> first_tie;                         // q + 2 offsets into `ties`
  std::vector<std::pair<std::uint32_t, std::uint32_t>> ties;  // (position, length >= 2) per tie
};

Moves all_moves(const PGL2& g, const std::vector<Mat2>& s) {
  const std::int64_t q = g.q();
  const auto mod = [q](std::int64_t v) {
    v %= q;
    return static_cast<std::uint32_t>(v < 0 ? v + q : v);
  };
  Moves out;
  out.move.reserve(static_cast<std::size_t>(q + 1) * s.size());
  out.first_tie.push_back(0);
  for (const Mat2& m : s) {
    if (g.square_class(g.det(m)) != g.square_class(g.det(s[0])))
      throw std::logic_error("lps_adjacency: generators with determinants of both classes");
  }
  for (std::int64_t pt = 0; pt <= q; ++pt) {
    const std::int64_t x0 = pt < q ? 1 : 0, x1 = pt < q ? pt : 1;  // the top row
    const std::size_t begin = out.move.size();
    for (std::size_t i = 0; i < s.size(); ++i) {
      const std::int64_t sa = s[i].a, sb = s[i].b, sc = s[i].c, sd = s[i].d;
      const std::uint32_t u = mod(x0 * sa + x1 * sc), v = mod(x0 * sb + x1 * sd);
      const std::int64_t t = g.inverse(u != 0 ? u : v);  // rescales x s to canonical form
      Move mv{};
      mv.gen = static_cast<std::uint32_t>(i);
      mv.m = mod(static_cast<std::int64_t>(g.det(s[i])) * mod(t * t));
      // Bottom row of x s times t, written as f + delta e (f = c, d = delta + b c for (1, b);
      // f = d, c = -delta for (0, 1)): the algebra is in the design notes.
      if (u != 0) {
        mv.target = mod(v * t);
        mv.e = mod((x0 != 0 ? sc : -sa) * t);
      } else {
        mv.target = static_cast<std::uint32_t>(q);
        mv.e = mod((x0 != 0 ? sd : -sb) * t);
      }
      out.move.push_back(mv);
    }
    const auto first = out.move.begin() + static_cast<std::ptrdiff_t>(begin);
    std::stable_sort(first, out.move.end(),
                     [](const Move& a, const Move& b) { return a.target < b.target; });
    for (std::size_t i = 0; i < s.size();) {
      std::size_t j = i + 1;
      while (j < s.size() && first[static_cast<std::ptrdiff_t>(j)].target ==
                                 first[static_cast<std::ptrdiff_t>(i)].target)
        ++j;
      if (j - i > 1)
        out.ties.emplace_back(static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(j - i));
      i = j;
    }
    out.first_tie.push_back(out.ties.size());
  }
  return out;
}

// The neighbours of the rows of one line, slot by slot (a slot is a position in the sorted row):
// rank = a + ((f + off) mod q) stride, where stride is h when the target point is (1, b') (the free
// coordinate is then the c digit of the rank) and 1 when it is (0, 1) (the d digit). A structure
// of arrays in U, the unsigned Index type, so that the loop over a line vectorises.
template <class U>
struct Slots {
  explicit Slots(std::size_t n) : a(n), stride(n), off(n) {}
  std::vector<U> a, stride;
  std::vector<std::uint32_t> off;
};

// out[i] = a[i] + ((f + off[i]) mod q) stride[i] for i < n, where f, off[i] < q.
template <class U, class Index>
void shifted(std::int64_t n, std::uint32_t f, std::uint32_t q, const Slots<U>& slots, Index* out) {
  const U* a = slots.a.data();
  const U* stride = slots.stride.data();
  const std::uint32_t* off = slots.off.data();
  for (std::int64_t i = 0; i < n; ++i) {
    std::uint32_t v = f + off[i];
    v = v >= q ? v - q : v;
    out[i] = static_cast<Index>(a[i] + static_cast<U>(v) * stride[i]);
  }
}

// Sorts one tie (a few generators sharing a target) in one row, with the multiplicities if any.
template <class Index>
void sort_tie(Index* col, double* w, std::uint32_t len) {
  if (len > 32) {  // long ties only for large p and small q: not worth a special path
    std::vector<std::pair<Index, double>> v(len);
    for (std::uint32_t i = 0; i < len; ++i) v[i] = {col[i], w ? w[i] : 0.0};
    std::sort(v.begin(), v.end());
    for (std::uint32_t i = 0; i < len; ++i) {
      col[i] = v[i].first;
      if (w) w[i] = v[i].second;
    }
    return;
  }
  for (std::uint32_t i = 1; i < len; ++i) {  // insertion sort
    const Index key = col[i];
    const double kw = w ? w[i] : 0.0;
    std::uint32_t j = i;
    for (; j > 0 && col[j - 1] > key; --j) {
      col[j] = col[j - 1];
      if (w) w[j] = w[j - 1];
    }
    col[j] = key;
    if (w) w[j] = kw;
  }
}

}  // namespace

template <class Index>
Csr<Index> lps_adjacency(const LpsGenerators& gens, bool allow_multigraph, int threads,
                         const StopFn& stop) {
  const PGL2 g(gens.q);
  const bool simple = gens.loops == 0 && gens.repeated == 0;
  enforce(simple || allow_multigraph,
          "X^{" + std::to_string(gens.p) + "," + std::to_string(gens.q) + "} is a multigraph: " +
              std::to_string(gens.loops) + " generator(s) equal the identity (loops) and " +
              std::to_string(gens.repeated) +
              " repeat an earlier one (q < 2 sqrt(p)); choose q > 2 sqrt(p) or allow_multigraph=True");

  const auto distinct = distinct_generators(g, gens);
  std::vector<Mat2> s;
  std::vector<double> mult;
  for (const auto& [rank, count] : distinct) {
    s.push_back(g.unrank(rank));
    mult.push_back(count);
  }
  const auto k = static_cast<std::int64_t>(s.size());
  const Moves moves = all_moves(g, s);

  Csr<Index> csr;
  csr.rows = csr.cols = gens.vertices();
  const std::int64_t nnz = checked_mul(csr.rows, k, "number of stored entries");
  enforce(sizeof(Index) == 8 || fits_int32(nnz), "lps_adjacency: index type too small");
  allocate_huge(csr.indptr, csr.rows + 1, "lps_adjacency indptr");
  allocate_huge(csr.indices, nnz, "lps_adjacency indices");
  if (!simple) allocate_huge(csr.data, nnz, "lps_adjacency data");

  // Rows in rank order fall into blocks of q h rows, one per determinant class and top-row point:
  // for (1, b) the rows (b, c, j) in "lines" of h rows (one per j) sharing c, for (0, 1) the rows
  // (j, d) in lines of q rows (one per d) sharing j. A block is one parallel task.
  const std::int64_t q = g.q(), h = g.h(), half = g.psl_order(), q2h = q * q * h;
  const std::int64_t classes = gens.legendre == -1 ? 2 : 1;
  const FastMod& mod = g.mod();
  Index* const indices = csr.indices.data();
  double* const data = simple ? nullptr : csr.data.data();

  using U = std::make_unsigned_t<Index>;  // every rank and partial sum fits it
  const auto uq = static_cast<std::uint32_t>(q);

  parallel_for(
      classes * (q + 1), 1, threads,
      [&](std::int64_t begin, std::int64_t end) {
        Slots<U> slots(static_cast<std::size_t>(std::max(h, std::int64_t{1}) * k));
        // Slots [at, at + k) for the elements with top row `pt` and determinant index j in `cls`.
        const auto fill = [&](int cls, std::int64_t pt, std::int64_t j, std::int64_t at) {
          const std::uint32_t delta = g.residue(cls, j);
          const Move* mv = moves.move.data() + pt * k;
          for (std::int64_t i = 0; i < k; ++i) {
            const std::uint32_t det = mod(delta * mv[i].m);
            const std::int64_t index = g.class_index(det);
            const std::int64_t base = g.square_class(det) * half;
            const bool affine = mv[i].target < q;
            const auto at_i = static_cast<std::size_t>(at + i);
            slots.a[at_i] =
                static_cast<U>(affine ? base + mv[i].target * q * h + index : base + q2h + index * q);
            slots.stride[at_i] = static_cast<U>(affine ? h : 1);
            slots.off[at_i] = mod(delta * mv[i].e);
          }
        };
        // After the neighbours of rows [first, first + rows), all with top row `pt`, are written in
        // slot order: their offsets, their multiplicities, and the order within each tie.
        const auto finish = [&](std::int64_t pt, std::int64_t first, std::int64_t rows) {
          for (std::int64_t r = first; r < first + rows; ++r)
            csr.indptr[static_cast<std::size_t>(r)] = static_cast<Index>(r * k);
          const Move* mv = moves.move.data() + pt * k;
          if (data != nullptr) {
            for (std::int64_t r = first; r < first + rows; ++r)
              for (std::int64_t i = 0; i < k; ++i) data[r * k + i] = mult[mv[i].gen];
          }
          for (auto t = moves.first_tie[static_cast<std::size_t>(pt)];
               t < moves.first_tie[static_cast<std::size_t>(pt + 1)]; ++t) {
            const auto [pos, len] = moves.ties[t];
            if (len == 2 && data == nullptr) {  // the common tie: a branch-free compare-exchange
              for (Index* col = indices + first * k + pos; col < indices + (first + rows) * k;
                   col += k) {
                const Index x = col[0], y = col[1];
                col[0] = std::min(x, y);
                col[1] = std::max(x, y);
              }
              continue;
            }
            for (std::int64_t r = first; r < first + rows; ++r)
              sort_tie(indices + r * k + pos, data ? data + r * k + pos : nullptr, len);
          }
        };
        for (std::int64_t block = begin; block < end; ++block) {
          const int cls = static_cast<int>(block / (q + 1));
          const std::int64_t pt = block % (q + 1);
          const std::int64_t first = cls * half + pt * q * h;
          if (pt < q) {  // (1, b, c, .), b = pt: one line per c, f = c
            for (std::int64_t j = 0; j < h; ++j) fill(cls, pt, j, j * k);
            for (std::int64_t c = 0; c < q; ++c) {
              const std::int64_t line = first + c * h;
              shifted(h * k, static_cast<std::uint32_t>(c), uq, slots, indices + line * k);
              finish(pt, line, h);
            }
          } else {  // (0, 1, -delta_j, d): one line per j, f = d
            for (std::int64_t j = 0; j < h; ++j) {
              const std::int64_t line = first + j * q;
              fill(cls, q, j, 0);
              for (std::uint32_t d = 0; d < uq; ++d)
                shifted(k, d, uq, slots, indices + (line + d) * k);
              finish(q, line, q);
            }
          }
        }
      },
      stop);
  csr.indptr.back() = static_cast<Index>(nnz);
  return csr;
}

template Csr<std::int32_t> lps_adjacency<std::int32_t>(const LpsGenerators&, bool, int,
                                                       const StopFn&);
template Csr<std::int64_t> lps_adjacency<std::int64_t>(const LpsGenerators&, bool, int,
                                                       const StopFn&);

}  // namespace ramcore
