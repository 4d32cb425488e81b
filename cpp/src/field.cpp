#include "ramcore/field.hpp"

#include <string>

#include "ramcore/enforce.hpp"

namespace ramcore {
namespace {

using u128 = unsigned __int128;

std::uint64_t mul_mod(std::uint64_t a, std::uint64_t b, std::uint64_t m) {
  return static_cast<std::uint64_t>(static_cast<u128>(a) * b % m);
}

std::uint64_t reduce(std::int64_t a, std::uint64_t m) {
  const auto mm = static_cast<std::int64_t>(m);
  const std::int64_t r = a % mm;
  return static_cast<std::uint64_t>(r < 0 ? r + mm : r);
}

void require_odd_prime(std::uint64_t p, const char* name) {
  enforce(p > 2 && is_prime(p), std::string(name) + " must be an odd prime, got " + std::to_string(p));
}

}  // namespace

std::uint64_t pow_mod(std::uint64_t a, std::uint64_t e, std::uint64_t m) {
  enforce(m > 0, "pow_mod: modulus must be positive");
  std::uint64_t result = 1 % m;
  a %= m;
  for (; e; e >>= 1) {
    if (e & 1) result = mul_mod(result, a, m);
    a = mul_mod(a, a, m);
  }
  return result;
}

bool is_prime(std::uint64_t n) {
  if (n < 2) return false;
  static constexpr std::uint64_t kBases[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37};
  for (std::uint64_t b : kBases) {
    if (n % b == 0) return n == b;
  }
  std::uint64_t d = n - 1;
  int s = 0;
  while ((d & 1) == 0) {
    d >>= 1;
    ++s;
  }
  for (std::uint64_t b : kBases) {
    std::uint64_t x = pow_mod(b, d, n);
    if (x == 1 || x == n - 1) continue;
    bool composite = true;
    for (int i = 1; i < s && composite; ++i) {
      x = mul_mod(x, x, n);
      composite = x != n - 1;
    }
    if (composite) return false;
  }
  return true;
}

int legendre(std::int64_t a, std::uint64_t p) {
  require_odd_prime(p, "p");
  const std::uint64_t r = pow_mod(reduce(a, p), (p - 1) / 2, p);
  return r == 0 ? 0 : (r == 1 ? 1 : -1);
}

std::uint64_t inverse_mod(std::int64_t a, std::uint64_t m) {
  enforce(m >= 1 && m <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()),
          "inverse_mod: modulus must be in [1, 2^63), got " + std::to_string(m));
  // Extended Euclid on (a mod m, m) with signed 128-bit coefficients.
  __int128 old_r = static_cast<__int128>(reduce(a, m)), r = static_cast<__int128>(m);
  __int128 old_s = 1, s = 0;
  while (r != 0) {
    const __int128 quotient = old_r / r;
    const __int128 tmp_r = old_r - quotient * r;
    old_r = r;
    r = tmp_r;
    const __int128 tmp_s = old_s - quotient * s;
    old_s = s;
    s = tmp_s;
  }
  enforce(old_r == 1, "inverse_mod: " + std::to_string(a) + " has no inverse modulo " +
                          std::to_string(m) + " (they share a factor)");
  const __int128 mm = static_cast<__int128>(m);
  return static_cast<std::uint64_t>(((old_s % mm) + mm) % mm);
}

std::uint64_t sqrt_mod(std::uint64_t a, std::uint64_t p) {
  require_odd_prime(p, "p");
  a %= p;
  enforce(a != 0 && legendre(static_cast<std::int64_t>(a), p) == 1,
          "sqrt_mod: " + std::to_string(a) + " is not a non-zero square modulo " + std::to_string(p));
  // Tonelli-Shanks: p - 1 = q 2^s with q odd; z the smallest non-residue.
  std::uint64_t q = p - 1;
  int s = 0;
  while ((q & 1) == 0) {
    q >>= 1;
    ++s;
  }
  std::uint64_t z = 2;
  while (legendre(static_cast<std::int64_t>(z), p) != -1) ++z;
  std::uint64_t c = pow_mod(z, q, p);
  std::uint64_t x = pow_mod(a, (q + 1) / 2, p);
  std::uint64_t t = pow_mod(a, q, p);
  int m = s;
  while (t != 1) {
    int i = 0;
    for (std::uint64_t tt = t; tt != 1; tt = mul_mod(tt, tt, p)) ++i;
    std::uint64_t b = c;
    for (int j = 0; j < m - i - 1; ++j) b = mul_mod(b, b, p);
    x = mul_mod(x, b, p);
    c = mul_mod(b, b, p);
    t = mul_mod(t, c, p);
    m = i;
  }
  return x < p - x ? x : p - x;
}

std::pair<std::uint64_t, std::uint64_t> two_squares_minus_one(std::uint64_t q) {
  require_odd_prime(q, "q");
  if (q % 4 == 1) return {sqrt_mod(q - 1, q), 0};
  for (std::uint64_t x = 1; x < q; ++x) {
    const std::uint64_t t = q - 1 - mul_mod(x, x, q);  // -1 - x^2 mod q, without overflow
    if (t != 0 && legendre(static_cast<std::int64_t>(t), q) == 1) return {x, sqrt_mod(t, q)};
  }
  throw std::logic_error("two_squares_minus_one: no solution found (impossible for a prime)");
}

}  // namespace ramcore
