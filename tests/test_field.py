import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

import ramcore

# Strong pseudoprimes to several small bases and Carmichael numbers: composite traps.
COMPOSITE_TRAPS = [561, 1105, 1729, 2047, 3215031751, 3825123056546413051]
PRIMES = [
    2,
    3,
    5,
    13,
    197,
    32749,
    2**31 - 1,
    2**61 - 1,
    18446744073709551557,
]  # last: largest < 2^64


def sieve(n):
    flags = [True] * (n + 1)
    flags[0] = flags[1] = False
    for i in range(2, math.isqrt(n) + 1):
        if flags[i]:
            flags[i * i :: i] = [False] * len(flags[i * i :: i])
    return flags


def test_is_prime_matches_sieve():
    flags = sieve(20000)
    assert [ramcore.is_prime(n) for n in range(20001)] == flags


@pytest.mark.parametrize("n", PRIMES)
def test_is_prime_large_primes(n):
    assert ramcore.is_prime(n)


@pytest.mark.parametrize("n", COMPOSITE_TRAPS + [(2**31 - 1) * (2**31 - 1), 4294967297])
def test_is_prime_composite_traps(n):
    assert not ramcore.is_prime(n)


@given(st.integers(min_value=-(10**6), max_value=10**6), st.sampled_from([3, 5, 7, 13, 101, 32749]))
def test_legendre_euler_criterion(a, p):
    expected = pow(a, (p - 1) // 2, p)
    assert ramcore.legendre_symbol(a, p) == {0: 0, 1: 1, p - 1: -1}[expected]


@given(st.integers(min_value=1, max_value=10**12), st.sampled_from([3, 13, 2**31 - 1, 2**61 - 1]))
def test_inverse_mod(a, m):
    if a % m == 0:
        with pytest.raises(ValueError):
            ramcore.inverse_mod(a, m)
    else:
        assert ramcore.inverse_mod(a, m) * a % m == 1


def test_inverse_mod_not_coprime():
    with pytest.raises(ValueError, match="no inverse"):
        ramcore.inverse_mod(6, 9)


@pytest.mark.parametrize("p", [3, 5, 13, 17, 97, 1009, 2**31 - 1])
def test_sqrt_mod_all_residues(p):
    for a in range(1, min(p, 400)):
        if ramcore.legendre_symbol(a, p) == 1:
            r = ramcore.sqrt_mod(a, p)
            assert r * r % p == a and r <= p - r
        else:
            with pytest.raises(ValueError):
                ramcore.sqrt_mod(a, p)


@pytest.mark.parametrize("q", ramcore.field.odd_primes(3, 400))
def test_two_squares_minus_one(q):
    x, y = ramcore.two_squares_minus_one(q)
    assert (x * x + y * y + 1) % q == 0
    if q % 4 == 1:
        assert y == 0 and x < q - x


@pytest.mark.parametrize("bad", [4, 9, 1, 0, -7, 2])
def test_two_squares_rejects_non_odd_primes(bad):
    with pytest.raises(ValueError, match="q must be an odd prime"):
        ramcore.two_squares_minus_one(bad)
