"""Irreducible representations of PGL2(F_q) and PSL2(F_q), and the exact spectra of the LPS graphs
X^{p,q} computed from them (docs/design.md, section 9; docs/representations.md).

X^{p,q} = Cay(G, S) has adjacency A = sum_s R(s), R the right regular representation of G, and R is
the sum over the irreducible representations rho of G, each dim(rho) times. So the spectrum of A is
the union over rho of the eigenvalues of the small matrix M_rho = sum_s rho(s), each repeated
dim(rho) times; M_rho is Hermitian because S is closed under inverses and rho is unitary.

The models (q an odd prime; psi(x) = exp(2 pi i x / q); g = N(gamma) the primitive root of F_q that
is the norm of the fixed primitive element gamma of F_q^2 = F_q(sqrt(eps)), eps the smallest
non-square; mu the character of F_q^x with mu(g) = exp(2 pi i / (q - 1)); theta the character of
F_q^2^x with theta(gamma) = exp(2 pi i / (q + 1)), trivial on F_q^x):

- "trivial" and "sign" (eta(det), eta the Legendre symbol): dimension 1.
- "principal(k)", 1 <= k <= (q - 3) / 2, dimension q + 1: functions on the projective line of row
  vectors, (rho(h) F)(v) = mu^k(det h) F(v h) with F(t v) = mu^(-2k)(t) F(v); each rho(h) is a
  monomial matrix. principal(k) = principal(q - 1 - k) (the parameter is taken up to sign).
  k = 0 gives the permutation representation 1 + Steinberg, k = (q - 1) / 2 gives sign + Steinberg
  x sign; "Steinberg" (dimension q) is the first on the orthogonal complement of the constants.
- "discrete(k)", 1 <= k <= (q - 1) / 2, dimension q - 1: the Kirillov model on functions on F_q^x
  attached to theta^k: (rho([[a, b], [0, d]]) f)(y) = psi(b y / d) f(a y / d) and, for c != 0,
  (rho(h) f)(y) = sum_x psi((a y + d x) / c) j_k(det(h) x y / c^2) f(x), with the Bessel function
  j_k(u) = -(1/q) sum_{N(t) = u} psi(t + t^q) theta^k(t).
- PSL2(F_q): the restrictions. principal(k) and principal((q - 1) / 2 - k) restrict to the same
  representation, and so do discrete(k) and discrete((q + 1) / 2 - k); principal((q - 1) / 4)
  (q = 1 mod 4) and discrete((q + 1) / 4) (q = 3 mod 4) split into halves "+" and "-": for the
  discrete series the functions supported on the squares and on the non-squares, for the
  principal series the +sqrt(q) and -sqrt(q) eigenspaces of the intertwiner
  J[v, w] = eta(det(w; v)) (a Paley conference matrix).

Everything here is numpy and scipy: the Bessel functions of all discrete series come from one FFT,
and a discrete-series block is applied to a vector by FFTs over the cyclic group F_q^x (a
multiplicative convolution), so a certificate costs O(q^2 log q) per Lanczos step over all blocks.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.fft as sfft
import scipy.linalg as sla
import scipy.sparse as sp

from . import _core
from ._blas import one_blas_thread
from .graphs import LPSGenerators, lps_generators
from .groups import PGL2, PSL2
from .progress import Progress, check_progress
from .validation import check_memory, odd_prime, tolerance
from .validation import threads as _threads

__all__ = [
    "Irrep",
    "LPSSpectrum",
    "SpectrumCost",
    "irreps",
    "lps_spectrum",
    "lps_spectrum_cost",
]

FloatArray = npt.NDArray[np.float64]
ComplexArray = npt.NDArray[np.complex128]
IntArray = npt.NDArray[np.int64]

MAX_Q = 32749  # the group module's limit (PGL2.kMaxQ)


def dense_max_default(p: int) -> int:
    """Certificates diagonalise blocks up to this size densely: below it a dense eigensolver beats
    batched Lanczos, whose steps cost p + 1 products each (benchmarks/bench_representations.py)."""
    return 40 + 4 * (p + 1)


# --- F_q and F_{q^2} --------------------------------------------------------------------------------


def _prime_factors(n: int) -> list[int]:
    out, d = [], 2
    while d * d <= n:
        if n % d == 0:
            out.append(d)
            while n % d == 0:
                n //= d
        d += 1
    if n > 1:
        out.append(n)
    return out


class FieldTables:
    """The finite-field data every model of q shares, fixed once per q so that labels are stable.

    eps: the smallest non-square mod q; F_q^2 = F_q(s) with s^2 = eps.
    gamma: (a, b) = a + b s, the first primitive element of F_q^2 in the order (a, b), b >= 1.
    g: N(gamma) = a^2 - eps b^2, a primitive root of F_q.
    exp[i] = g^i (i < q - 1), log[x] its inverse (log[0] unused), inv[x] = x^-1 mod q.
    """

    def __init__(self, q: int) -> None:
        self.q = q
        self.eps = next(e for e in range(2, q) if pow(e, (q - 1) // 2, q) == q - 1)
        order = q * q - 1
        factors = _prime_factors(order)
        self.gamma = next(
            (a, b)
            for b in range(1, q)
            for a in range(q)
            if all(self.power((a, b), order // f) != (1, 0) for f in factors)
        )
        a, b = self.gamma
        self.g = (a * a - self.eps * b * b) % q
        exp = np.empty(q - 1, dtype=np.int64)
        x = 1
        for i in range(q - 1):
            exp[i] = x
            x = x * self.g % q
        self.exp: IntArray = exp
        self.log: IntArray = np.zeros(q, dtype=np.int64)
        self.log[exp] = np.arange(q - 1)
        self.inv: IntArray = np.zeros(q, dtype=np.int64)
        self.inv[exp] = exp[(-np.arange(q - 1)) % (q - 1)]
        self.eta: IntArray = np.zeros(q, dtype=np.int64)  # Legendre symbol
        self.eta[exp] = 1 - 2 * (np.arange(q - 1) % 2)
        self._bessel: dict[int, FloatArray] = {}

    def psi(self, x: Any) -> ComplexArray:
        """The additive character psi(x) = exp(2 pi i x / q) of integer arrays."""
        return np.asarray(np.exp(2j * np.pi * (np.asarray(x) % self.q) / self.q), dtype=np.complex128)

    def power(self, x: tuple[int, int], n: int) -> tuple[int, int]:
        """x^n in F_q^2 for x = (a, b) = a + b s."""
        q, eps = self.q, self.eps
        r = (1, 0)
        while n:
            if n & 1:
                r = ((r[0] * x[0] + eps * r[1] * x[1]) % q, (r[0] * x[1] + r[1] * x[0]) % q)
            x = ((x[0] * x[0] + eps * x[1] * x[1]) % q, (2 * x[0] * x[1]) % q)
            n >>= 1
        return r

    def powers(self, x: tuple[int, int], count: int) -> tuple[IntArray, IntArray]:
        """x^m = u[m] + v[m] s in F_q^2 for m < count (by doubling: [c, 2c) = [0, c) x^c)."""
        q, eps = self.q, self.eps
        u = np.empty(count, dtype=np.int64)
        v = np.empty(count, dtype=np.int64)
        u[0], v[0] = 1, 0
        have, (pa, pb) = 1, x
        while have < count:
            m = min(have, count - have)
            u[have : have + m] = (u[:m] * pa + eps * v[:m] * pb) % q
            v[have : have + m] = (u[:m] * pb + v[:m] * pa) % q
            pa, pb = (pa * pa + eps * pb * pb) % q, (2 * pa * pb) % q
            have += m
        return u, v

    def bessel(self, ks: Any) -> FloatArray:
        """j_k(g^l) for each k in `ks` (rows) and l < q - 1 (columns): real, since theta^k is
        trivial on F_q^x. Computed once per k and kept.

        Every t with N(t) = g^l is gamma^(l + (q - 1) r), r <= q (the norm of gamma^m is g^m), and
        theta^k of it is e(k l / (q + 1)) e(-2 k r / (q + 1)) because q - 1 = -2 mod q + 1: so
        j_k(g^l) = -(1/q) e(k l / (q + 1)) sum_r psi(tr(gamma^l delta^r)) e(-2 k r / (q + 1)),
        delta = gamma^(q - 1): one FFT over r gives every k, in slices of l to bound the memory.
        """
        q = self.q
        want = [int(k) for k in np.asarray(ks, dtype=np.int64).reshape(-1)]
        missing = sorted({k for k in want if k not in self._bessel})
        if missing:
            mk = np.asarray(missing, dtype=np.int64)
            u1, v1 = self.powers(self.gamma, q - 1)
            u2, v2 = self.powers(self.power(self.gamma, q - 1), q + 1)
            rows = np.empty((len(mk), q - 1))
            step = max(1, 2**22 // (q + 1))
            for l0 in range(0, q - 1, step):
                l = np.arange(l0, min(q - 1, l0 + step))
                trace = 2 * (u1[l, None] * u2[None, :] + self.eps * v1[l, None] * v2[None, :])
                spectrum = sfft.fft(self.psi(trace), axis=1)[:, (2 * mk) % (q + 1)].T
                phase = np.exp(2j * np.pi * (np.outer(mk, l) % (q + 1)) / (q + 1))
                rows[:, l] = (-(1.0 / q) * phase * spectrum).real
            for i, k in enumerate(missing):
                self._bessel[k] = rows[i]
        return np.stack([self._bessel[k] for k in want]) if want else np.empty((0, q - 1))


@cache
def field_tables(q: int) -> FieldTables:
    """The shared `FieldTables` of q (computed once per process)."""
    return FieldTables(q)


# --- the representations ----------------------------------------------------------------------------

KINDS = ("trivial", "sign", "steinberg", "steinberg_sign", "principal", "discrete")


@dataclass(frozen=True)
class Irrep:
    """An irreducible complex representation of PGL2(F_q) or PSL2(F_q) in the models of the
    module docstring. kind: one of KINDS; k: the parameter of "principal" and "discrete" (0 else);
    half: +1 / -1 for the halves of a split PSL2 representation, 0 otherwise."""

    group: str
    q: int
    kind: str
    k: int = 0
    half: int = 0

    @property
    def dim(self) -> int:
        q = self.q
        full = {"trivial": 1, "sign": 1, "steinberg": q, "steinberg_sign": q}.get(
            self.kind, q + 1 if self.kind == "principal" else q - 1
        )
        return full // 2 if self.half else full

    @property
    def label(self) -> str:
        names = {"trivial": "trivial", "sign": "sign", "steinberg": "Steinberg"}
        names["steinberg_sign"] = "Steinberg x sign"
        base = names.get(self.kind, f"{self.kind}({self.k})")
        return base + {0: "", 1: "+", -1: "-"}[self.half]

    def __str__(self) -> str:
        return self.label

    def twist(self) -> Irrep:
        """This PGL2 representation times the sign character (itself for a self-twist)."""
        q, k = self.q, self.k
        other = {"trivial": "sign", "sign": "trivial", "steinberg": "steinberg_sign"}
        other["steinberg_sign"] = "steinberg"
        if self.kind in other:
            return Irrep(self.group, q, other[self.kind])
        partner = (q - 1) // 2 - k if self.kind == "principal" else (q + 1) // 2 - k
        return Irrep(self.group, q, self.kind, partner, self.half)

    def matrices(self, elements: Any) -> ComplexArray:
        """rho(h) for each element h (rows (a, b, c, d) of non-singular matrices mod q, any scalar
        multiple): an (m, dim, dim) complex array. For PSL2 every element must lie in PSL2."""
        h = _elements(self, elements)
        return _matrices(self, h)

    def character(self, elements: Any) -> ComplexArray:
        """The trace of rho(h) for each element (computed in chunks of a few thousand)."""
        h = _elements(self, elements)
        out = np.empty(len(h), dtype=np.complex128)
        step = max(1, 2**22 // (self.q + 1) ** 2)
        for s in range(0, len(h), step):
            out[s : s + step] = np.trace(_matrices(self, h[s : s + step]), axis1=1, axis2=2)
        return out


def irreps(q: int, group: str = "PGL2") -> list[Irrep]:
    """All irreducible representations of PGL2(F_q) (q + 2 of them) or PSL2(F_q) ((q + 5) / 2),
    each once, in the order trivial, sign, Steinberg(s), principal series, discrete series."""
    q = odd_prime(q, "q", maximum=MAX_Q)
    if group not in ("PGL2", "PSL2"):
        raise ValueError(f"group must be 'PGL2' or 'PSL2', got {group!r}")
    if group == "PGL2":
        out = [Irrep(group, q, kind) for kind in ("trivial", "sign", "steinberg", "steinberg_sign")]
        out += [Irrep(group, q, "principal", k) for k in range(1, (q - 1) // 2)]
        out += [Irrep(group, q, "discrete", k) for k in range(1, (q + 1) // 2)]
        return out
    out = [Irrep(group, q, "trivial"), Irrep(group, q, "steinberg")]
    for kind, top, split in (("principal", (q - 1) // 4, q % 4 == 1), ("discrete", (q + 1) // 4, q % 4 == 3)):
        for k in range(1, top + 1):
            if split and 4 * k == (q - 1 if kind == "principal" else q + 1):
                out += [Irrep(group, q, kind, k, 1), Irrep(group, q, kind, k, -1)]
            else:
                out.append(Irrep(group, q, kind, k))
    return out


def _elements(rep: Irrep, elements: Any) -> IntArray:
    group = PSL2(rep.q) if rep.group == "PSL2" else PGL2(rep.q)
    # canonical() refuses a zero determinant, and PSL2's an element outside PSL2
    return np.asarray(group.canonical(elements), dtype=np.int64)


def _dets(t: FieldTables, h: IntArray) -> IntArray:
    q = t.q
    return np.asarray((h[:, 0] * h[:, 3] - h[:, 1] * h[:, 2]) % q, dtype=np.int64)


def _projective_action(t: FieldTables, h: IntArray) -> tuple[IntArray, IntArray]:
    """For each element h (m rows) and each point v_x of P^1 (x < q: the row vector (x, 1); x = q:
    (1, 0)): the index of the point v_x h and the scalar t with v_x h = t v_(that index)."""
    q = t.q
    a, b, c, d = (h[:, i : i + 1] for i in range(4))
    x = np.arange(q)[None, :]
    u, w = (x * a + c) % q, (x * b + d) % q
    col = np.where(w != 0, (u * t.inv[w]) % q, q)
    scale = np.where(w != 0, w, u)
    col_inf = np.where(b[:, 0] != 0, (a[:, 0] * t.inv[b[:, 0]]) % q, q)
    scale_inf = np.where(b[:, 0] != 0, b[:, 0], a[:, 0])
    return (
        np.concatenate([col, col_inf[:, None]], axis=1),
        np.concatenate([scale, scale_inf[:, None]], axis=1),
    )


def principal_exponents(t: FieldTables, h: IntArray) -> tuple[IntArray, IntArray]:
    """The monomial structure of principal(k)(h): rho(h)[x, col[x]] = exp(2 pi i k L[x] / (q - 1)),
    with L = log(det h) - 2 log(t) mod q - 1 (both (m, q + 1))."""
    col, scale = _projective_action(t, h)
    exps = (t.log[_dets(t, h)][:, None] - 2 * t.log[scale]) % (t.q - 1)
    return col, exps


def _monomial(col: IntArray, phase: ComplexArray) -> ComplexArray:
    m, n = col.shape
    out = np.zeros((m, n, n), dtype=np.complex128)
    out[np.arange(m)[:, None], np.arange(n)[None, :], col] = phase
    return out


def _kirillov(t: FieldTables, j: ComplexArray, h: IntArray) -> ComplexArray:
    """discrete(k)(h) for the Bessel function j (length q - 1, by log), basis index i <-> g^i."""
    q, n = t.q, t.q - 1
    out = np.zeros((len(h), n, n), dtype=np.complex128)
    x = t.exp
    a, b, c, d = (h[:, i] for i in range(4))
    borel = c == 0
    if borel.any():
        r = np.flatnonzero(borel)
        di = t.inv[d[r]][:, None]
        src = t.log[(a[r][:, None] * x[None, :] * di) % q]
        out[r[:, None], np.arange(n)[None, :], src] = t.psi(b[r][:, None] * x[None, :] * di)
    r = np.flatnonzero(~borel)
    if r.size:
        ci = t.inv[c[r]]
        d1 = t.psi(a[r][:, None] * x[None, :] * ci[:, None])
        d2 = t.psi(d[r][:, None] * x[None, :] * ci[:, None])
        e = t.log[(_dets(t, h[r]) * ci % q) * ci % q]
        hankel = (e[:, None, None] + np.arange(n)[None, :, None] + np.arange(n)[None, None, :]) % n
        out[r] = d1[:, :, None] * j[hankel] * d2[:, None, :]
    return out


def _steinberg_basis(n: int) -> FloatArray:
    """Orthonormal basis (n x (n - 1)) of the vectors orthogonal to the constants: the columns
    1 .. n - 1 of the Householder reflection that maps e_0 to the unit constant vector."""
    u = np.full(n, -1.0 / math.sqrt(n))
    u[0] += 1.0
    h = np.eye(n) - 2.0 * np.outer(u, u) / float(u @ u)
    return np.ascontiguousarray(h[:, 1:])


@cache
def _paley_halves(q: int) -> tuple[FloatArray, FloatArray]:
    """Orthonormal bases of the +sqrt(q) and -sqrt(q) eigenspaces of J[v, w] = eta(det(w; v)) on
    P^1 (q = 1 mod 4): the halves of principal((q - 1) / 4) restricted to PSL2."""
    t = field_tables(q)
    x = np.arange(q)
    jmat = np.ones((q + 1, q + 1))
    jmat[:q, :q] = t.eta[(x[None, :] - x[:, None]) % q]  # det((y, 1); (x, 1)) = y - x
    jmat[q, q] = 0.0  # det((1, 0); (1, 0)) = 0; the other entries with infinity are eta(+-1) = 1
    values, vectors = np.linalg.eigh(jmat)
    return np.ascontiguousarray(vectors[:, values > 0]), np.ascontiguousarray(vectors[:, values < 0])


def _half_basis(rep: Irrep) -> npt.NDArray[Any]:
    """The basis of rep's half inside the full model: columns (principal) or indices (discrete)."""
    if rep.kind == "principal":
        plus, minus = _paley_halves(rep.q)
        return plus if rep.half == 1 else minus
    return np.arange(0 if rep.half == 1 else 1, rep.q - 1, 2)  # squares g^(2i), non-squares


def _matrices(rep: Irrep, h: IntArray) -> ComplexArray:
    t = field_tables(rep.q)
    m = len(h)
    if rep.kind in ("trivial", "sign"):
        value = np.ones(m) if rep.kind == "trivial" else t.eta[_dets(t, h)].astype(np.float64)
        return value.astype(np.complex128).reshape(m, 1, 1)
    if rep.kind in ("steinberg", "steinberg_sign", "principal"):
        col, exps = principal_exponents(t, h)
        k = rep.k if rep.kind == "principal" else (0 if rep.kind == "steinberg" else (rep.q - 1) // 2)
        full = _monomial(col, np.exp(2j * np.pi * ((k * exps) % (rep.q - 1)) / (rep.q - 1)))
        if rep.kind != "principal":
            basis = _steinberg_basis(rep.q + 1)
            return np.asarray(basis.T @ full @ basis, dtype=np.complex128)
    else:
        full = _kirillov(t, t.bessel([rep.k])[0], h)
    if not rep.half:
        return full
    basis = _half_basis(rep)
    if rep.kind == "discrete":
        return np.ascontiguousarray(full[:, basis][:, :, basis])
    return np.asarray(basis.T @ full @ basis, dtype=np.complex128)


# --- generator sums M_rho = sum_s rho(s) --------------------------------------------------------------


def _generator_rows(gens: LPSGenerators) -> IntArray:
    return np.ascontiguousarray(gens.matrices, dtype=np.int64)


def generator_sum(rep: Irrep, generators: LPSGenerators) -> ComplexArray:
    """M_rho = sum_s rho(s) over the p + 1 LPS generators (with repetition), dense and Hermitian."""
    rows = _generator_rows(generators)
    out = np.zeros((rep.dim, rep.dim), dtype=np.complex128)
    for s in range(len(rows)):  # one generator at a time: memory dim^2, not (p + 1) dim^2
        out += _matrices(rep, rows[s : s + 1])[0]
    return out


def _real_discrete(m: ComplexArray) -> FloatArray:
    """A real symmetric matrix unitarily similar to a discrete-series block M (log basis).

    The Kirillov model of PGL2 has conj(rho(h)) = P rho(h) P with (P f)(x) = f(-x) (j_k is real),
    so with the halves [A, B; C, D] of M by x and -x = x g^((q-1)/2): D = conj(A), C = conj(B), and
    in the basis (e_x + e_-x) / sqrt 2, i (e_x - e_-x) / sqrt 2 the block is
    [[Re A + Re B, Im B - Im A], [Im A + Im B, Re A - Re B]]."""
    h = m.shape[0] // 2
    a, b = m[:h, :h], m[:h, h:]
    top = np.concatenate([a.real + b.real, b.imag - a.imag], axis=1)
    bottom = np.concatenate([a.imag + b.imag, a.real - b.real], axis=1)
    return np.ascontiguousarray(np.concatenate([top, bottom], axis=0))


def block_eigenvalues(rep: Irrep, generators: LPSGenerators) -> FloatArray:
    """The eigenvalues (ascending, with repeats) of M_rho, by a dense Hermitian eigensolver; real
    symmetric arithmetic for the Steinberg and discrete-series blocks."""
    if rep.dim == 1:
        return np.array([float(generator_sum(rep, generators)[0, 0].real)])
    m = generator_sum(rep, generators)
    if rep.kind in ("steinberg", "steinberg_sign"):
        return np.asarray(np.linalg.eigvalsh(m.real), dtype=np.float64)
    if rep.kind == "discrete" and not rep.half:
        return np.asarray(np.linalg.eigvalsh(_real_discrete(m)), dtype=np.float64)
    # complex Hermitian: LAPACK's MRRR driver (zheevr) is about 20 % faster here than numpy's zheevd
    return np.asarray(sla.eigvalsh(m, driver="evr", check_finite=False), dtype=np.float64)


# --- which blocks a graph needs ------------------------------------------------------------------------


def _group_of(generators: LPSGenerators) -> str:
    return "PGL2" if generators.legendre == -1 else "PSL2"


def twist_representatives(q: int) -> list[Irrep]:
    """One PGL2 representation of each pair {rho, rho x sign} other than {trivial, sign}: Steinberg,
    principal(k) for k <= (q - 1) / 4 and discrete(k) for k <= (q + 1) / 4. On LPS generators of a
    bipartite graph (all of non-square determinant) M_(rho x sign) = -M_rho, and on those of a
    non-bipartite one (all in PSL2) M_(rho x sign) = M_rho: these blocks hold the whole spectrum."""
    out = [Irrep("PGL2", q, "steinberg")]
    out += [Irrep("PGL2", q, "principal", k) for k in range(1, min((q - 1) // 4, (q - 3) // 2) + 1)]
    out += [Irrep("PGL2", q, "discrete", k) for k in range(1, (q + 1) // 4 + 1)]
    return out


def _self_twist(rep: Irrep) -> bool:
    return rep.kind in ("principal", "discrete") and rep.twist().k == rep.k


# --- exact spectra ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpectrumCost:
    """What `lps_spectrum(p, q)` will take, estimated before any work: the number of dense blocks,
    the largest, the floating-point operations of their eigen-decompositions and the memory."""

    blocks: int
    largest: int
    flops: float
    bytes_per_thread: int
    result_bytes: int

    def seconds(self, gflops: float = 2.0) -> float:
        """A rough time at `gflops` billion operations per second per thread."""
        return self.flops / (gflops * 1e9)


def _spectrum_blocks(generators: LPSGenerators) -> list[Irrep]:
    """The blocks lps_spectrum diagonalises: PSL2's irreps, or PGL2's twist representatives
    (with trivial) whose twists it negates."""
    q = generators.q
    if _group_of(generators) == "PSL2":
        return irreps(q, "PSL2")
    return [Irrep("PGL2", q, "trivial")] + twist_representatives(q)


def lps_spectrum_cost(p: int, q: int) -> SpectrumCost:
    """The cost of `lps_spectrum(p, q)`: about 9 n^3 flops per complex block of size n (Hermitian
    eigenvalues), 2.5 n^3 per real one, and 100 n^2 bytes of work space per thread."""
    gens = lps_generators(p, q)
    blocks = _spectrum_blocks(gens)
    flops = 0.0
    for rep in blocks:
        n = rep.dim
        real = rep.kind in ("steinberg", "steinberg_sign") or (rep.kind == "discrete" and not rep.half)
        flops += (2.5 if real else 9.0) * n**3 + 16.0 * (p + 1) * n * n
    largest = max(r.dim for r in blocks)
    total = sum(r.dim for r in blocks)
    return SpectrumCost(len(blocks), largest, flops, 100 * (q + 1) ** 2 + 8 * (p + 1) * (q + 1), 48 * total)


class LPSSpectrum:
    """The exact spectrum of X^{p,q} (or of its bipartite double cover) by irreducible blocks.

    blocks[i]: the eigenvalues of M_rho for the representation labels[i] (ascending, with their
    multiplicity in M_rho), each an eigenvalue of the graph dims[i] times.
    values, multiplicities, irrep: every distinct eigenvalue of each block (equal within
    `cluster_tol`) with its multiplicity in the graph and the index of its representation in
    `labels`; one eigenvalue may occur in several representations (then in several rows).
    """

    def __init__(
        self,
        p: int,
        q: int,
        group: str,
        double_cover: bool,
        labels: Sequence[str],
        dims: Sequence[int],
        blocks: Sequence[FloatArray],
        trivial: Sequence[bool],
        seconds: float,
    ) -> None:
        self.p, self.q, self.group, self.double_cover = p, q, group, double_cover
        self.labels: tuple[str, ...] = tuple(labels)
        self.dims: IntArray = np.asarray(dims, dtype=np.int64)
        self.blocks: tuple[FloatArray, ...] = tuple(blocks)
        self.trivial: npt.NDArray[np.bool_] = np.asarray(trivial, dtype=bool)  # the +-(p + 1) blocks
        self.seconds = seconds
        self.cluster_tol = 1e-9 * (p + 1)
        vals, mults, idx = [], [], []
        for i, block in enumerate(self.blocks):
            v, c = _cluster(block, self.cluster_tol)
            vals.append(v)
            mults.append(c * self.dims[i])
            idx.append(np.full(len(v), i, dtype=np.int64))
        order = np.lexsort((np.concatenate(idx), np.concatenate(vals)))
        self.values: FloatArray = np.concatenate(vals)[order]
        self.multiplicities: IntArray = np.concatenate(mults)[order]
        self.irrep: IntArray = np.concatenate(idx)[order]

    @property
    def degree(self) -> int:
        return self.p + 1

    @property
    def bipartite(self) -> bool:
        """Whether the graph whose spectrum this is is bipartite (PGL2, or any double cover)."""
        return self.group == "PGL2" or self.double_cover

    @property
    def num_vertices(self) -> int:
        return int(np.sum(self.multiplicities))

    @property
    def ramanujan_bound(self) -> float:
        return 2.0 * math.sqrt(self.p)

    @property
    def nontrivial(self) -> float:
        """The largest `|lambda|` outside the blocks of +-(p + 1) (trivial and sign)."""
        keep = ~self.trivial[self.irrep]
        return float(np.max(np.abs(self.values[keep]))) if keep.any() else 0.0

    @property
    def nontrivial_irreps(self) -> list[str]:
        """The representations in which the largest nontrivial `|lambda|` occurs."""
        keep = ~self.trivial[self.irrep]
        hit = keep & (np.abs(np.abs(self.values) - self.nontrivial) <= self.cluster_tol)
        return [self.labels[i] for i in sorted(set(self.irrep[hit].tolist()))]

    @property
    def ramanujan(self) -> bool:
        """Every eigenvalue other than +-(p + 1) has `|lambda| <= 2 sqrt(p)` (to rounding)."""
        return self.nontrivial <= self.ramanujan_bound * (1 + 1e-12)

    def eigenvalues(self) -> FloatArray:
        """The whole spectrum, ascending, each eigenvalue repeated by its multiplicity."""
        n = self.num_vertices
        check_memory(8 * n, f"the {n:,} eigenvalues of X^{{{self.p},{self.q}}}", "use values/multiplicities")
        return np.sort(np.repeat(self.values, self.multiplicities))

    def distinct(self, tol: float | None = None) -> tuple[FloatArray, IntArray]:
        """Distinct eigenvalues over all representations (equal within tol, default cluster_tol)
        and their multiplicities."""
        tol = self.cluster_tol if tol is None else float(tol)
        order = np.argsort(self.values, kind="stable")
        v, m = self.values[order], self.multiplicities[order]
        starts = np.concatenate([[True], np.diff(v) > tol]) if len(v) else np.zeros(0, dtype=bool)
        groups = np.cumsum(starts) - 1
        sums = np.bincount(groups, weights=v * m)
        counts = np.bincount(groups, weights=m).astype(np.int64)
        return sums / counts, counts

    def trace(self, k: int) -> float:
        """tr(A^k) = sum over blocks of dim(rho) tr(M_rho^k): the number of closed walks of length k."""
        return float(sum(d * np.sum(b**k) for d, b in zip(self.dims, self.blocks)))

    def summary(self) -> str:
        kind = "bipartite double cover of " if self.double_cover else ""
        lines = [
            f"Spectrum of the {kind}X^{{{self.p},{self.q}}} ({self.group}(F_{self.q}) Cayley graph): exact, "
            f"by {len(self.labels)} irreducible representations",
            f"  vertices          {self.num_vertices:,}   degree {self.degree}",
            f"  distinct values   {len(self.distinct()[0]):,} "
            f"({len(self.values):,} with their representation)",
            f"  largest block     {max(len(b) for b in self.blocks)}",
            f"  largest nontrivial |lambda| {self.nontrivial:.12g}  in {', '.join(self.nontrivial_irreps)}",
            f"  Ramanujan bound   {self.ramanujan_bound:.12g}   "
            f"margin {self.ramanujan_bound - self.nontrivial:.6g}   "
            + ("RAMANUJAN" if self.ramanujan else "NOT Ramanujan"),
            f"  time              {self.seconds:.3f} s",
        ]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"LPSSpectrum(p={self.p}, q={self.q}, group={self.group!r}, double_cover={self.double_cover}, "
            f"{len(self.values)} values)"
        )


def _cluster(values: FloatArray, tol: float) -> tuple[FloatArray, IntArray]:
    """Runs of sorted values with gaps <= tol merged: (means, counts)."""
    if len(values) == 0:
        return values, np.zeros(0, dtype=np.int64)
    v = np.sort(values)
    starts = np.concatenate([[True], np.diff(v) > tol])
    groups = np.cumsum(starts) - 1
    counts = np.bincount(groups).astype(np.int64)
    return np.bincount(groups, weights=v) / counts, counts


def lps_spectrum(
    p: int,
    q: int,
    *,
    allow_multigraph: bool = False,
    double_cover: bool = False,
    threads: int | None = None,
    progress: bool | None = None,
) -> LPSSpectrum:
    """The exact spectrum of X^{p,q}: every eigenvalue with its multiplicity, labelled by the
    irreducible representation of PGL2(F_q) or PSL2(F_q) it comes from (see the module docstring).

    One dense Hermitian eigen-decomposition per representation, O(q^4) in all and never the graph
    itself: X^{5,1009} (514 M vertices) in minutes. `lps_spectrum_cost` estimates the work; memory
    is checked before it starts.

    allow_multigraph: accept q < 2 sqrt(p), where generators repeat or are the identity; the
      spectrum is then that of the Cayley multigraph (as `lps_graph` with allow_multigraph=True).
    double_cover: the spectrum of the bipartite double cover X x K_2 (adjacency [[0, A], [A, 0]]):
      each representation rho gives rho (values of A) and "rho x eps" (their negatives).

    threads: blocks diagonalised at once (None: all cores); the result does not depend on it.
    """
    start = time.perf_counter()
    gens = _checked_generators(p, q, allow_multigraph)
    if not isinstance(double_cover, bool):
        raise TypeError(f"double_cover must be a bool, got {double_cover!r}")
    show = check_progress(progress)
    nthreads = _resolve_threads(threads)
    cost = lps_spectrum_cost(gens.p, gens.q)
    check_memory(
        cost.bytes_per_thread * nthreads + cost.result_bytes,
        f"the spectrum of X^{{{gens.p},{gens.q}}} by {cost.blocks} blocks (largest {cost.largest})",
        "use fewer threads, or certify(..., method='representations') for the extreme values only",
    )
    blocks = _spectrum_blocks(gens)
    if any(r.kind == "discrete" for r in blocks):
        field_tables(gens.q).bessel([r.k for r in blocks if r.kind == "discrete"])  # before the threads
    with Progress(
        len(blocks), f"spectrum of X^{{{gens.p},{gens.q}}}", "block", _show(show, cost.seconds())
    ) as bar:
        spectra = _map(lambda rep, stop: block_eigenvalues(rep, gens), blocks, nthreads, bar)
    labels, dims, values, trivial = [], [], [], []
    for rep, ev in zip(blocks, spectra):
        parts = [(rep, ev)]
        if rep.group == "PGL2" and rep.twist() != rep:
            parts.append((rep.twist(), -ev[::-1]))
        for r, v in parts:
            labels.append(r.label)
            dims.append(r.dim)
            values.append(v)
            trivial.append(r.kind in ("trivial", "sign"))
    if double_cover:
        labels = labels + [f"{label} x eps" for label in labels]
        dims, trivial = dims + dims, trivial + trivial
        values = values + [-v[::-1] for v in values]
    return LPSSpectrum(
        gens.p,
        gens.q,
        _group_of(gens),
        double_cover,
        labels,
        dims,
        values,
        trivial,
        time.perf_counter() - start,
    )


def _show(progress: bool | None, seconds: float) -> bool | None:
    """A bar on a terminal by default only when the work is expected to take seconds."""
    return progress if progress is not None else (None if seconds > 2.0 else False)


def _checked_generators(p: int, q: int, allow_multigraph: bool) -> LPSGenerators:
    if not isinstance(allow_multigraph, bool):
        raise TypeError(f"allow_multigraph must be a bool, got {allow_multigraph!r}")
    gens = lps_generators(p, q)
    if not gens.simple and not allow_multigraph:
        raise ValueError(
            f"X^{{{gens.p},{gens.q}}} is a multigraph ({gens.loops} loop generator(s), {gens.repeated} "
            f"repeated; q < 2 sqrt(p)); pass allow_multigraph=True for the spectrum of the multigraph"
        )
    return gens


def _resolve_threads(threads: int | None) -> int:
    n = _threads(threads)
    if n:
        return n
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


class _Stopped(Exception):
    """A worker saw the stop flag (Ctrl-C in the caller)."""


def _map(
    fn: Callable[[Any, threading.Event], Any],
    items: Sequence[Any],
    threads: int,
    bar: Progress,
    weights: Sequence[int] | None = None,
) -> list[Any]:
    """[fn(item, stop) for item in items] on `threads` threads, in order. Ctrl-C in the caller
    sets `stop` (fn checks it between steps), waits for the running items and re-raises, so no
    thread keeps computing after the call. The bar advances by weights[i] when item i is done.
    BLAS runs one thread throughout, so that an item's arithmetic, and the result, is the same
    whatever `threads` is."""
    stop = threading.Event()
    weight = list(weights) if weights is not None else [1] * len(items)
    with one_blas_thread():
        if threads <= 1 or len(items) <= 1:
            out = []
            for item, w in zip(items, weight):
                out.append(fn(item, stop))
                bar.update(w)
            return out
        pool = ThreadPoolExecutor(max_workers=min(threads, len(items)))
        futures = [pool.submit(fn, item, stop) for item in items]
        try:
            for f, w in zip(futures, weight):
                while not wait([f], timeout=0.05).done:  # short waits: Ctrl-C is handled between them
                    pass
                f.result()  # re-raises a worker's exception
                bar.update(w)
        except BaseException:
            stop.set()
            for f in futures:
                f.cancel()
            pool.shutdown(wait=True)
            raise
        pool.shutdown(wait=True)
        return [f.result() for f in futures]


# --- certificates: the extreme eigenvalues of every block ---------------------------------------------


class _RowCache:
    """What a batched operator derives for a set of its rows (a sparse matrix, a table), kept for
    the two sets a Lanczos run alternates between: the active rows and the rows being checked."""

    def __init__(self, build: Callable[[IntArray], Any]) -> None:
        self._build = build
        self._items: dict[bytes, Any] = {}

    def __call__(self, rows: IntArray) -> Any:
        key = rows.tobytes()
        if key not in self._items:
            if len(self._items) >= 2:
                self._items.pop(next(iter(self._items)))
            self._items[key] = self._build(rows)
        return self._items[key]


class _PrincipalBlocks:
    """M_rho x for a batch of principal-series blocks (rows): sum_s phase_k[s, x] x[col[s, x]],
    monomial in the P^1 model, applied to the whole batch as one sparse matrix (block diagonal,
    p + 1 entries per row). k = 0 with `project` is the Steinberg block (constants removed)."""

    def __init__(self, t: FieldTables, rows: IntArray, ks: Sequence[int], project: Sequence[bool]) -> None:
        self.col, self.exps = principal_exponents(t, rows)  # (S, q + 1)
        self.k = np.asarray(ks, dtype=np.int64)
        self.q = t.q
        self.project = np.asarray(project, dtype=bool)
        self.size = t.q + 1
        self._matrix = _RowCache(self._build)

    def _build(self, rows: IntArray) -> sp.csr_array:
        n, gens = self.size, self.col.shape[0]
        m = self.q - 1
        phase = np.exp(2j * np.pi * ((self.k[rows, None, None] * self.exps.T[None]) % m) / m)  # (rows, n, S)
        cols = np.arange(len(rows))[:, None, None] * n + self.col.T[None]  # (rows, n, S)
        indptr = np.arange(len(rows) * n + 1) * gens
        return sp.csr_array((phase.reshape(-1), cols.reshape(-1), indptr), shape=(len(rows) * n,) * 2)

    def start(self, x: ComplexArray, rows: IntArray) -> ComplexArray:
        return self._project(x, rows)

    def matvec(self, x: ComplexArray, rows: IntArray) -> ComplexArray:
        y = np.asarray(self._matrix(rows) @ x.reshape(-1), dtype=np.complex128).reshape(x.shape)
        return self._project(y, rows)

    def _project(self, x: ComplexArray, rows: IntArray) -> ComplexArray:
        p = self.project[rows]
        if p.any():
            x[p] -= x[p].mean(axis=1, keepdims=True)
        return x


class _DiscreteBlocks:
    """M_rho x for a batch of discrete-series blocks in the Kirillov model (index i <-> g^i). A
    generator with c != 0 acts by y(l) = d1(l) sum_i j(g^(e + l + i)) d2(i) x(i), a correlation
    with the Bessel function over the cyclic group F_q^x: with J = n fft(j) (n = q - 1),
    y = d1 ifft(J e(nu e / n) ifft(d2 x)), the shift by e folded into the Fourier multiplier. All
    generators and blocks of the batch go through two FFT calls."""

    def __init__(self, t: FieldTables, rows: IntArray, ks: Sequence[int]) -> None:
        q, n = t.q, t.q - 1
        self.size = n
        fj = np.asarray(sfft.fft(t.bessel(ks), axis=1), dtype=np.complex128) * n  # (blocks, n)
        x = t.exp
        borel, d1, d2, shifts = [], [], [], []
        for a, b, c, d in rows.tolist():
            if c == 0:
                di = int(t.inv[d])
                borel.append((t.psi(b * x * di), t.log[(a * x * di) % q]))
            else:
                ci = int(t.inv[c])
                d1.append(t.psi(a * x * ci))
                d2.append(t.psi(d * x * ci))
                shifts.append(int(t.log[((a * d - b * c) % q) * ci % q * ci % q]))
        self.borel: list[tuple[ComplexArray, IntArray]] = borel
        self.d1 = np.asarray(d1, dtype=np.complex128).reshape(-1, n)  # (weyl generators, n)
        self.d2 = np.asarray(d2, dtype=np.complex128).reshape(-1, n)
        nu = np.arange(n)
        twist = np.exp(2j * np.pi * ((np.asarray(shifts, dtype=np.int64)[:, None] * nu) % n) / n)
        self._multiplier = _RowCache(lambda r: fj[r][:, None, :] * twist[None])  # (rows, weyl, n)

    def start(self, x: ComplexArray, rows: IntArray) -> ComplexArray:
        return x

    def matvec(self, x: ComplexArray, rows: IntArray) -> ComplexArray:
        y = np.zeros_like(x)
        for d, src in self.borel:
            y += d * x[:, src]
        if len(self.d1):
            u = sfft.ifft(x[:, None, :] * self.d2[None], axis=2, overwrite_x=True)
            u *= self._multiplier(rows)
            h = sfft.ifft(u, axis=2, overwrite_x=True)
            h *= self.d1[None]
            y += h.sum(axis=1)
        return y


@dataclass
class BlockExtremes:
    """The extreme eigenvalues of one block M_rho with the true residuals of their unit vectors."""

    irrep: Irrep
    largest: float
    smallest: float
    residual_largest: float
    residual_smallest: float
    matvecs: int
    converged: bool
    method: str
    vector: ComplexArray | None = field(default=None, repr=False)  # of the larger |lambda|

    @property
    def value(self) -> float:
        """`max(|largest|, |smallest|)`."""
        return max(abs(self.largest), abs(self.smallest))

    @property
    def residual(self) -> float:
        return self.residual_largest if abs(self.largest) >= abs(self.smallest) else self.residual_smallest


def _dense_extremes(rep: Irrep, generators: LPSGenerators, keep_vector: bool) -> BlockExtremes:
    m = generator_sum(rep, generators)
    if rep.kind == "steinberg":
        m = m.real.astype(np.complex128)
    values, vectors = np.linalg.eigh(m)
    res = [float(np.linalg.norm(m @ vectors[:, i] - values[i] * vectors[:, i])) for i in (-1, 0)]
    top = abs(values[-1]) >= abs(values[0])
    return BlockExtremes(
        rep, float(values[-1]), float(values[0]), res[0], res[1], 0, True, "dense",
        np.ascontiguousarray(vectors[:, -1 if top else 0]) if keep_vector else None,
    )  # fmt: skip


def _lanczos_extremes(
    op: _PrincipalBlocks | _DiscreteBlocks,
    reps: Sequence[Irrep],
    generators: LPSGenerators,
    tol: float,
    seed: int,
    max_steps: int,
    stop: threading.Event,
) -> list[BlockExtremes]:
    """Both extreme eigenvalues of every block of `op` by the plain Lanczos recurrence, all blocks
    in one batch (row r of every array is block r).

    No re-orthogonalisation beyond the local one: lost orthogonality only repeats converged Ritz
    values (Paige), which does not move the extreme ones. From step 20 on, every 10 steps, the
    extreme eigenpairs of each block's tridiagonal matrix are computed; where both Ritz estimates
    |beta s_last| meet the tolerance the Ritz vectors are formed from the stored basis and their
    true residuals ||M y - theta y|| (theta the Rayleigh quotient of the unit y) decide. A block not
    converged after max_steps (or at a breakdown that did not converge) is diagonalised densely.
    """
    n, count = op.size, len(reps)
    floor = 100 * np.finfo(float).eps * (generators.p + 1)  # ||M|| <= p + 1
    start = np.empty((count, n), dtype=np.complex128)
    for r, rep in enumerate(reps):  # one stream per block: results do not depend on the batch
        rng = np.random.default_rng([seed, KINDS.index(rep.kind), rep.k])
        start[r] = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    active = np.arange(count)
    v = op.start(start, active)
    basis = [v / np.linalg.norm(v, axis=1, keepdims=True)]
    alphas: list[FloatArray] = []
    betas: list[FloatArray] = []
    out: list[BlockExtremes | None] = [None] * count
    matvecs = np.zeros(count, dtype=np.int64)
    check, step = min(20, max_steps), 0
    while active.size:
        if stop.is_set():
            raise _Stopped
        w = op.matvec(basis[-1], active)
        matvecs[active] += 1
        if betas:
            w -= betas[-1][:, None] * basis[-2]
        a = np.sum(basis[-1].conj() * w, axis=1)
        w -= a[:, None] * basis[-1]
        c = np.sum(basis[-1].conj() * w, axis=1)  # the local re-orthogonalisation
        w -= c[:, None] * basis[-1]
        alphas.append((a + c).real)
        beta = np.linalg.norm(w, axis=1)
        broken = beta <= 1e-12 * (generators.p + 1)
        betas.append(beta)
        basis.append(w / np.where(broken, 1.0, beta)[:, None])
        step += 1
        if step < check and not broken.any() and step < max_steps:
            continue
        check = step + 10
        done = _check_rows(op, reps, active, basis, alphas, betas, broken, tol, floor, step >= max_steps, out)
        matvecs[active[done]] += 2
        for r in active[done]:
            result = out[r]
            assert result is not None
            if not result.converged:  # Lanczos could not settle it: the block is small, solve it densely
                result = out[r] = _dense_extremes(reps[r], generators, True)
            result.matvecs += int(matvecs[r])
        if done.any():
            keep = ~done
            active = active[keep]
            basis = [b[keep] for b in basis]
            alphas = [x[keep] for x in alphas]
            betas = [x[keep] for x in betas]
    return [r for r in out if r is not None]


def _check_rows(
    op: _PrincipalBlocks | _DiscreteBlocks,
    reps: Sequence[Irrep],
    active: IntArray,
    basis: list[ComplexArray],
    alphas: list[FloatArray],
    betas: list[FloatArray],
    broken: npt.NDArray[np.bool_],
    tol: float,
    floor: float,
    last: bool,
    out: list[BlockExtremes | None],
) -> npt.NDArray[np.bool_]:
    """The convergence test of _lanczos_extremes at one step; fills `out` for the rows it settles
    (unconverged ones only when `last` or broken) and returns which active rows are settled."""
    m = len(alphas)
    alpha = np.ascontiguousarray(np.stack(alphas, axis=1))
    beta = np.ascontiguousarray(np.stack(betas, axis=1))
    theta, s = _core.tridiagonal_extremes(alpha, beta)  # (rows, 2), (rows, 2, m): largest, smallest
    estimate = np.abs(beta[:, m - 1, None] * s[:, :, m - 1])
    crit = np.maximum(tol * np.max(np.abs(theta), axis=1), floor)
    settle = (np.max(estimate, axis=1) <= crit) | broken | last
    candidates = np.flatnonzero(settle)
    done = np.zeros(len(active), dtype=bool)
    if not candidates.size:
        return done
    cand = candidates
    ys = []
    for end in range(2):
        coef = s[cand, end]  # (candidates, m)
        y = np.zeros((len(cand), basis[0].shape[1]), dtype=np.complex128)
        for t in range(m):
            y += coef[:, t, None] * basis[t][cand]
        ys.append(y / np.linalg.norm(y, axis=1, keepdims=True))
    rows = active[cand]
    results = []
    for y in ys:
        z = op.matvec(y, rows)
        theta = np.sum(y.conj() * z, axis=1).real
        results.append((theta, np.linalg.norm(z - theta[:, None] * y, axis=1)))
    (hi, rhi), (lo, rlo) = results
    for c, i in enumerate(cand):
        ok = bool(rhi[c] <= max(tol * abs(hi[c]), floor) and rlo[c] <= max(tol * abs(lo[c]), floor))
        if ok or broken[i] or last:
            top = abs(hi[c]) >= abs(lo[c])
            out[active[i]] = BlockExtremes(
                reps[active[i]], float(hi[c]), float(lo[c]), float(rhi[c]), float(rlo[c]), 0, ok,
                "Lanczos", np.ascontiguousarray(ys[0 if top else 1][c]),
            )  # fmt: skip
            done[i] = True
    return done


@dataclass(frozen=True)
class BlockCertificate:
    """The largest nontrivial `|lambda|` of X^{p,q} from its irreducible blocks (see certify_blocks)."""

    blocks: tuple[BlockExtremes, ...]
    best: BlockExtremes
    irrep: str  # the representation(s) in which best.value occurs, "; " between blocks
    converged: bool
    matvecs: int
    lanczos_blocks: int
    dense_blocks: int
    seconds: float


def _chunks(reps: Sequence[Irrep], rows_per_chunk: int) -> list[list[Irrep]]:
    return [list(reps[i : i + rows_per_chunk]) for i in range(0, len(reps), rows_per_chunk)]


CHUNK_BYTES = 2**27  # memory of one batch of Lanczos blocks at 200 steps; fixed, so results do not
# depend on the thread count (a block's arithmetic does not depend on its batch either)


def certify_blocks(
    generators: LPSGenerators,
    *,
    tol: float = 1e-10,
    seed: int = 0,
    threads: int | None = None,
    progress: bool | None = None,
    dense_max: int | None = None,
) -> BlockCertificate:
    """Both extreme eigenvalues of every nontrivial block M_rho of X^{p,q} (one per pair
    {rho, rho x sign}: their spectra are equal or opposite, see twist_representatives), with the
    true residual of each, and the largest `|lambda|` over them.

    Blocks of size <= dense_max (default dense_max_default(p)) are diagonalised densely; the others
    by batched Lanczos
    (_lanczos_extremes) on the monomial (principal series) or FFT (discrete series) operators.
    Batches run on `threads` threads; the result does not depend on it.
    """
    start = time.perf_counter()
    tol = tolerance(tol, "tol")
    show = check_progress(progress)
    nthreads = _resolve_threads(threads)
    q, gens_rows = generators.q, _generator_rows(generators)
    reps = twist_representatives(q)
    dense_max = dense_max_default(generators.p) if dense_max is None else dense_max
    dense = [r for r in reps if r.dim <= dense_max]
    big = [r for r in reps if r.dim > dense_max]
    tasks: list[tuple[str, list[Irrep]]] = [("dense", [r]) for r in dense]
    n = q + 1
    rows_per_chunk = int(np.clip(CHUNK_BYTES // (16 * n * (len(gens_rows) + 200)), 1, 32))
    for kind in ("principal", "discrete"):
        family = [r for r in big if (r.kind == kind or (kind == "principal" and r.kind == "steinberg"))]
        tasks += [(kind, c) for c in _chunks(family, rows_per_chunk)]
    max_steps = min(n, 2000)
    check_memory(
        nthreads * 16 * n * rows_per_chunk * (len(gens_rows) + max_steps + 8) + 48 * n * n,
        f"the blocks of X^{{{generators.p},{q}}} ({len(reps)} blocks of size up to {n})",
        "use fewer threads",
    )
    t = field_tables(q)
    discrete = [r.k for r in big if r.kind == "discrete"]
    if discrete:
        t.bessel(discrete)  # once, before the threads

    def run(task: tuple[str, list[Irrep]], stop: threading.Event) -> list[BlockExtremes]:
        kind, members = task
        if kind == "dense":
            return [_dense_extremes(members[0], generators, True)]
        op: _PrincipalBlocks | _DiscreteBlocks
        if kind == "principal":
            ks = [r.k for r in members]
            op = _PrincipalBlocks(t, gens_rows, ks, [r.kind == "steinberg" for r in members])
        else:
            op = _DiscreteBlocks(t, gens_rows, [r.k for r in members])
        return _lanczos_extremes(op, members, generators, tol, seed, max_steps, stop)

    bar_show = show if show is not None else (None if q > 400 else False)
    with Progress(len(reps), f"blocks of X^{{{generators.p},{q}}}", "block", bar_show) as bar:
        results = _map(run, tasks, nthreads, bar, [len(m) for _, m in tasks])
    blocks = tuple(b for chunk in results for b in chunk)
    best = blocks[int(np.argmax([b.value for b in blocks]))]  # the first of equal values
    # every block whose value equals the largest (X^{13,5}: 4 in principal(1) and discrete(1))
    ties = [b for b in blocks if b.value >= best.value - max(1e-9 * (generators.p + 1), 2 * b.residual)]
    return BlockCertificate(
        blocks=blocks,
        best=best,
        irrep="; ".join(_where(b, generators) for b in ties),
        converged=all(b.converged for b in blocks),
        matvecs=int(sum(b.matvecs for b in blocks)),
        lanczos_blocks=sum(1 for b in blocks if b.method == "Lanczos"),
        dense_blocks=sum(1 for b in blocks if b.method == "dense"),
        seconds=time.perf_counter() - start,
    )


def _where(block: BlockExtremes, generators: LPSGenerators) -> str:
    """The representation(s) of the graph's group in which the block's largest |lambda| occurs."""
    rep = block.irrep
    if _group_of(generators) == "PGL2":
        return rep.label if _self_twist(rep) else f"{rep.label} and {rep.twist().label} (opposite signs)"
    if not _self_twist(rep):
        return rep.label
    if rep.kind == "discrete" or block.vector is None:
        # the halves of a discrete series are complex conjugates: their spectra are equal
        return f"{rep.label}+ and {rep.label}-"
    y = block.vector
    plus, _ = _paley_halves(rep.q)
    weight = float(np.sum(np.abs(plus.T @ y) ** 2) / np.sum(np.abs(y) ** 2))
    if weight > 1 - 1e-6:
        return f"{rep.label}+"
    if weight < 1e-6:
        return f"{rep.label}-"
    return f"{rep.label}+ and {rep.label}-"
