// Number theory on the integers and on F_q: the arithmetic every construction starts from.
#pragma once

#include <cstdint>
#include <utility>

namespace ramcore {

// Deterministic Miller-Rabin, exact for every 64-bit n (bases 2..37).
bool is_prime(std::uint64_t n);

// a^e mod m for m < 2^63 (128-bit intermediate products).
std::uint64_t pow_mod(std::uint64_t a, std::uint64_t e, std::uint64_t m);

// Legendre symbol (a/p) in {-1, 0, 1} for an odd prime p (Euler's criterion).
int legendre(std::int64_t a, std::uint64_t p);

// a^{-1} mod m; throws std::invalid_argument when gcd(a, m) != 1.
std::uint64_t inverse_mod(std::int64_t a, std::uint64_t m);

// The smaller square root of a non-zero quadratic residue a mod an odd prime p (Tonelli-Shanks).
std::uint64_t sqrt_mod(std::uint64_t a, std::uint64_t p);

// (x, y) with x^2 + y^2 + 1 = 0 (mod q), q an odd prime, chosen deterministically: for q = 1 mod 4,
// y = 0 and x the smaller sqrt(-1) (docs/design.md, section 2); otherwise the smallest x for which
// -1 - x^2 is a non-zero square, and y the smaller root.
std::pair<std::uint64_t, std::uint64_t> two_squares_minus_one(std::uint64_t q);

// r = a mod q for every 32-bit a with two multiplications and no division (Lemire, Kaser, Kurz,
// "Faster remainder by direct computation", 2019). The group code reduces millions of products
// per second by the same runtime modulus, where a hardware division would dominate.
class FastMod {
 public:
  explicit FastMod(std::uint32_t q) : q_(q), m_(~std::uint64_t{0} / q + 1) {}
  std::uint32_t operator()(std::uint32_t a) const {
    const std::uint64_t low = m_ * a;
    return static_cast<std::uint32_t>((static_cast<unsigned __int128>(low) * q_) >> 64);
  }
  std::uint32_t modulus() const { return q_; }

 private:
  std::uint32_t q_;
  std::uint64_t m_;
};

}  // namespace ramcore
