// The projective groups PGL2(F_q) and PSL2(F_q) with O(1) rank <-> element maps.
//
// Canonical projective form of a 2x2 matrix [[a, b], [c, d]] with det != 0 (docs/design.md, section 1):
// scale so that a = 1 -> (1, b, c, d), or, when a = 0, so that b = 1 -> (0, 1, c, d).
// PSL2(F_q) is the index-2 subgroup of elements whose determinant is a square (well defined
// projectively since scaling by t multiplies det by t^2).
//
// Ranking. Let h = (q - 1) / 2 and let the non-zero residues be split into the class of squares
// (class 0) and of non-squares (class 1), each listed in increasing order. An element with
// determinant class k and index j of its determinant delta within its class gets
//   local = (b q + c) h + j                   for (1, b, c, d), delta = d - b c,
//   local = q^2 h + j' q + d                  for (0, 1, c, d), j' the index of delta = -c,
//   rank  = k |PSL2| + local.
// So ranks [0, |PSL2|) are exactly PSL2 and [|PSL2|, |PGL2|) its coset: the bipartition of the
// LPS graph is "rank < |PSL2|", and the PSL2 ranking is the restriction of the PGL2 one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "ramcore/field.hpp"

namespace ramcore {

struct Mat2 {
  std::uint32_t a, b, c, d;
  bool operator==(const Mat2& o) const { return a == o.a && b == o.b && c == o.c && d == o.d; }
};

class PGL2 {
 public:
  // Largest q supported: entries and their pairwise products then fit in 32-bit arithmetic
  // (q < 2^15); |PGL2| is already 3.5e13 there, far beyond any graph that fits in memory.
  static constexpr std::uint32_t kMaxQ = 32749;

  explicit PGL2(std::int64_t q);  // q an odd prime <= kMaxQ

  std::uint32_t q() const { return q_; }
  std::int64_t order() const { return 2 * half_; }  // q (q^2 - 1)
  std::int64_t psl_order() const { return half_; }  // q (q^2 - 1) / 2

  // Canonical form of any non-singular matrix with entries in [0, q); throws on det = 0.
  Mat2 canonical_checked(std::int64_t a, std::int64_t b, std::int64_t c, std::int64_t d) const;
  // Canonical form of a non-singular matrix with entries in [0, q) (unchecked, hot path).
  Mat2 canonical(std::uint32_t a, std::uint32_t b, std::uint32_t c, std::uint32_t d) const {
    if (a != 0) {
      const std::uint32_t t = inv_[a];
      return {1, mod_(b * t), mod_(c * t), mod_(d * t)};
    }
    const std::uint32_t t = inv_[b];
    return {0, 1, mod_(c * t), mod_(d * t)};
  }

  // Canonical product x * y of canonical elements.
  Mat2 mul(const Mat2& x, const Mat2& y) const {
    // Rows of x are (a, b) = (1, b) or (0, 1); every sum of two products stays below 2^31.
    const std::uint32_t r0 = x.a ? mod_(y.a + x.b * y.c) : y.c;
    const std::uint32_t r1 = x.a ? mod_(y.b + x.b * y.d) : y.d;
    const std::uint32_t r2 = mod_(x.c * y.a + x.d * y.c);
    const std::uint32_t r3 = mod_(x.c * y.b + x.d * y.d);
    return canonical(r0, r1, r2, r3);
  }

  std::uint32_t det(const Mat2& m) const {  // of the canonical representative
    return mod_(m.a * m.d + (q_ - m.b) * m.c);
  }
  bool in_psl(const Mat2& m) const { return cls_[det(m)] == 0; }

  std::int64_t rank(const Mat2& m) const {  // m canonical
    const std::uint32_t delta = det(m);
    const std::int64_t cls = cls_[delta];
    const std::int64_t local =
        m.a ? (static_cast<std::int64_t>(m.b) * q_ + m.c) * h_ + idx_[delta]
            : q2h_ + static_cast<std::int64_t>(idx_[delta]) * q_ + m.d;
    return cls * half_ + local;
  }

  Mat2 unrank(std::int64_t r) const;  // r in [0, order()), unchecked

  // The tables behind the ranking, for constructions that work on its coordinates directly
  // (lps.cpp): h = (q - 1) / 2, v^{-1}, the class of v (0 square, 1 not; v != 0), the index of v
  // within its class, and the j-th residue of class k.
  std::int64_t h() const { return h_; }
  std::uint32_t inverse(std::uint32_t v) const { return inv_[v]; }
  int square_class(std::uint32_t v) const { return cls_[v]; }
  std::uint32_t class_index(std::uint32_t v) const { return idx_[v]; }
  std::uint32_t residue(int k, std::int64_t j) const {
    return residues_[static_cast<std::size_t>(k * h_ + j)];
  }
  const FastMod& mod() const { return mod_; }

 private:
  std::uint32_t q_;
  std::int64_t h_, q2h_, half_;
  FastMod mod_;
  std::vector<std::uint32_t> inv_;        // inv_[v] = v^{-1}, inv_[0] unused
  std::vector<std::uint8_t> cls_;         // 0 square, 1 non-square (cls_[0] unused)
  std::vector<std::uint32_t> idx_;        // index of v within its class list
  std::vector<std::uint32_t> residues_;   // squares, then non-squares: residues_[k h + j]
};

}  // namespace ramcore
