#include "ramcore/pgl2.hpp"

#include <string>

#include "ramcore/enforce.hpp"

namespace ramcore {

PGL2::PGL2(std::int64_t q) : q_(0), h_(0), q2h_(0), half_(0), mod_(3) {
  enforce(q > 2 && q <= kMaxQ && is_prime(static_cast<std::uint64_t>(q)),
          "q must be an odd prime <= " + std::to_string(kMaxQ) + ", got " + std::to_string(q));
  q_ = static_cast<std::uint32_t>(q);
  mod_ = FastMod(q_);
  h_ = (q - 1) / 2;
  q2h_ = q * q * h_;
  half_ = q2h_ + q * h_;
  inv_.assign(q_, 0);
  cls_.assign(q_, 1);
  idx_.assign(q_, 0);
  for (std::uint32_t v = 1; v < q_; ++v) {
    inv_[v] = static_cast<std::uint32_t>(inverse_mod(v, q_));
    cls_[mod_(v * v)] = 0;
  }
  residues_.reserve(static_cast<std::size_t>(2 * h_));
  for (int k = 0; k < 2; ++k) {
    for (std::uint32_t v = 1; v < q_; ++v) {
      if (cls_[v] != k) continue;
      idx_[v] = static_cast<std::uint32_t>(residues_.size() - static_cast<std::size_t>(k * h_));
      residues_.push_back(v);
    }
  }
}

Mat2 PGL2::canonical_checked(std::int64_t a, std::int64_t b, std::int64_t c, std::int64_t d) const {
  const auto r = [this](std::int64_t v) {
    const std::int64_t m = v % q_;
    return static_cast<std::uint32_t>(m < 0 ? m + q_ : m);
  };
  const std::uint32_t ra = r(a), rb = r(b), rc = r(c), rd = r(d);
  const std::uint32_t delta = mod_(mod_(ra * rd) + (q_ - mod_(rb * rc)));
  enforce(delta != 0, "matrix [[" + std::to_string(a) + ", " + std::to_string(b) + "], [" +
                          std::to_string(c) + ", " + std::to_string(d) + "]] is singular mod " +
                          std::to_string(q_) + "; PGL2 elements need a non-zero determinant");
  return canonical(ra, rb, rc, rd);
}

Mat2 PGL2::unrank(std::int64_t r) const {
  const std::int64_t cls = r >= half_ ? 1 : 0;
  std::int64_t local = r - cls * half_;
  const std::uint32_t* list = residues_.data() + cls * h_;
  if (local < q2h_) {
    const std::int64_t bc = local / h_;
    const auto delta = list[local % h_];
    const auto b = static_cast<std::uint32_t>(bc / q_), c = static_cast<std::uint32_t>(bc % q_);
    return {1, b, c, mod_(delta + b * c)};
  }
  local -= q2h_;
  const auto delta = list[local / q_];
  return {0, 1, q_ - delta, static_cast<std::uint32_t>(local % q_)};
}

}  // namespace ramcore
