"""Number theory on the integers and F_q (computed in the C++ core)."""

from __future__ import annotations

import math

import numpy as np

from . import _core
from .validation import as_int, odd_prime

__all__ = [
    "inverse_mod",
    "is_prime",
    "legendre_symbol",
    "odd_primes",
    "sqrt_mod",
    "two_squares_minus_one",
]


def is_prime(n: int) -> bool:
    """Deterministic primality test, exact for every integer below 2**64."""
    n = as_int(n, "n")
    if n >= 2**64:
        raise ValueError(f"n must be below 2**64 for the deterministic test, got {n}")
    return n >= 2 and _core.is_prime(n)


def legendre_symbol(a: int, p: int) -> int:
    """The Legendre symbol (a/p) in {-1, 0, 1} for an odd prime p."""
    p = odd_prime(p, "p", maximum=2**63 - 1)
    return int(_core.legendre(as_int(a, "a") % p, p))


def inverse_mod(a: int, m: int) -> int:
    """a^{-1} mod m; ValueError when a and m share a factor."""
    m = as_int(m, "m")
    if not 1 <= m < 2**63:
        raise ValueError(f"m must be a modulus in [1, 2**63), got {m}")
    return int(_core.inverse_mod(as_int(a, "a") % m, m))


def sqrt_mod(a: int, p: int) -> int:
    """The smaller square root of a non-zero square a modulo an odd prime p (Tonelli-Shanks)."""
    p = odd_prime(p, "p", maximum=2**63 - 1)
    return int(_core.sqrt_mod(as_int(a, "a") % p, p))


def two_squares_minus_one(q: int) -> tuple[int, int]:
    """(x, y) with x^2 + y^2 + 1 = 0 (mod q), as used by the LPS generators.

    For q = 1 (mod 4): y = 0 and x the smaller square root of -1; otherwise the smallest x for
    which -1 - x^2 is a square, and y its smaller root.
    """
    q = odd_prime(q, "q", maximum=2**63 - 1)
    x, y = _core.two_squares_minus_one(q)
    return int(x), int(y)


def odd_primes(lo: int, hi: int) -> list[int]:
    """Odd primes in [lo, hi] (sieve)."""
    if hi < 3:
        return []
    sieve = np.ones(hi + 1, dtype=bool)
    sieve[:2] = False
    sieve[4::2] = False
    for i in range(3, math.isqrt(hi) + 1, 2):
        if sieve[i]:
            sieve[i * i :: 2 * i] = False
    return [int(v) for v in np.flatnonzero(sieve) if v >= max(lo, 3)]
