#include "ramcore/lps.hpp"

#include <algorithm>
#include <cmath>
#include <string>
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
  for (const auto& [rank, mult] : distinct) s.push_back(g.unrank(rank));
  const auto k = static_cast<std::int64_t>(s.size());

  Csr<Index> csr;
  csr.rows = csr.cols = gens.vertices();
  const std::int64_t nnz = checked_mul(csr.rows, k, "number of stored entries");
  enforce(sizeof(Index) == 8 || fits_int32(nnz), "lps_adjacency: index type too small");
  allocate(csr.indptr, csr.rows + 1, "lps_adjacency indptr");
  allocate(csr.indices, nnz, "lps_adjacency indices");
  if (!simple) allocate(csr.data, nnz, "lps_adjacency data");

  parallel_for(
      csr.rows, std::max<std::int64_t>(1, kEntriesPerTask / k), threads,
      [&](std::int64_t begin, std::int64_t end) {
        std::vector<std::pair<std::int64_t, double>> row(static_cast<std::size_t>(k));
        for (std::int64_t r = begin; r < end; ++r) {
          const Mat2 x = g.unrank(r);
          for (std::int64_t i = 0; i < k; ++i) {
            row[static_cast<std::size_t>(i)] = {g.rank(g.mul(x, s[static_cast<std::size_t>(i)])),
                                                distinct[static_cast<std::size_t>(i)].second};
          }
          std::sort(row.begin(), row.end());  // neighbours of x are distinct: x s = x t iff s = t
          const std::int64_t base = r * k;
          csr.indptr[static_cast<std::size_t>(r)] = static_cast<Index>(base);
          for (std::int64_t i = 0; i < k; ++i) {
            const auto& [col, mult] = row[static_cast<std::size_t>(i)];
            csr.indices[static_cast<std::size_t>(base + i)] = static_cast<Index>(col);
            if (!simple) csr.data[static_cast<std::size_t>(base + i)] = mult;
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
