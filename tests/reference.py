"""Straightforward constructions used as independent oracles (tests) and as the baselines the
benchmarks compare against. Deliberately naive: dictionaries of tuples, no ranking; except
`lps_csr_vectorised`, the whole group at once as numpy arrays, ranked with the documented formula."""

from __future__ import annotations

import math
from itertools import product

import numpy as np


def canonical(m: tuple[int, int, int, int], q: int) -> tuple[int, int, int, int]:
    """Scale a 2x2 matrix so that its first non-zero entry of the top row is 1."""
    a, b, c, d = (v % q for v in m)
    t = pow(a if a else b, -1, q)
    return (a * t % q, b * t % q, c * t % q, d * t % q)


def is_square(v: int, q: int) -> bool:
    return v % q != 0 and pow(v, (q - 1) // 2, q) == 1


def group_elements(q: int, psl: bool) -> list[tuple[int, int, int, int]]:
    """All canonical elements of PGL2(F_q), or of PSL2(F_q), by brute force over F_q^4."""
    seen = set()
    for m in product(range(q), repeat=4):
        det = (m[0] * m[3] - m[1] * m[2]) % q
        if det == 0 or (psl and not is_square(det, q)):
            continue
        seen.add(canonical(m, q))
    return sorted(seen)


def quaternions(p: int) -> list[tuple[int, int, int, int]]:
    """Normalised solutions of a0^2 + a1^2 + a2^2 + a3^2 = p (docs/design.md, section 2)."""
    r = math.isqrt(p)
    out = []
    for a in product(range(-r, r + 1), repeat=4):
        if sum(v * v for v in a) != p:
            continue
        if p % 4 == 1:
            ok = a[0] > 0 and a[0] % 2 == 1 and all(v % 2 == 0 for v in a[1:])
        else:
            first = next((v for v in a[1:] if v != 0), 0)
            ok = a[0] % 2 == 0 and (a[0] > 0 or (a[0] == 0 and first > 0))
        if ok:
            out.append(a)
    return sorted(out)


def xy(q: int) -> tuple[int, int]:
    if q % 4 == 1:
        return min(x for x in range(q) if (x * x + 1) % q == 0), 0
    for x in range(q):
        for y in range(q):
            if (x * x + y * y + 1) % q == 0:
                return x, y
    raise AssertionError("no solution")


def generators(p: int, q: int) -> list[tuple[int, int, int, int]]:
    x, y = xy(q)
    gens = []
    for a0, a1, a2, a3 in quaternions(p):
        m = (
            a0 + a1 * x + a3 * y,
            -a1 * y + a2 + a3 * x,
            -a1 * y - a2 + a3 * x,
            a0 - a1 * x - a3 * y,
        )
        gens.append(canonical(m, q))
    return gens


def mul(x: tuple[int, ...], y: tuple[int, ...], q: int) -> tuple[int, int, int, int]:
    a, b, c, d = x
    e, f, g, h = y
    return canonical((a * e + b * g, a * f + b * h, c * e + d * g, c * f + d * h), q)


def lps_edges(p: int, q: int) -> tuple[list[tuple[int, int, int, int]], list[tuple[int, int]]]:
    """Vertices (canonical matrices) and directed edges (i, j) of X^{p,q}, naively."""
    psl = pow(p, (q - 1) // 2, q) == 1
    verts = group_elements(q, psl)
    index = {v: i for i, v in enumerate(verts)}
    gens = generators(p, q)
    edges = [(i, index[mul(v, s, q)]) for i, v in enumerate(verts) for s in gens]
    return verts, edges


def biregular_dense(q: int, l: int) -> list[list[int]]:
    """The block matrix [P^{ij}] of seed 000 section 3.3, from the definition of P."""

    def power(k: int) -> list[list[int]]:
        # P[a][b] = 1 iff b = a - 1 (mod q), so P^k[a][b] = 1 iff b = a - k (mod q).
        return [[1 if b == (a - k) % q else 0 for b in range(q)] for a in range(q)]

    rows: list[list[int]] = []
    for i in range(q):
        blocks = [power(i * j) for j in range(l)]
        for a in range(q):
            rows.append([v for blk in blocks for v in blk[a]])
    return rows


def lps_csr_vectorised(
    q: int, generators: list[tuple[int, int, int, int]], psl: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """CSR (indptr, indices, multiplicities or None) of Cay(G, generators) the vectorised-numpy way.

    Every element of G = PSL2(F_q) (psl) or PGL2(F_q) is built at once as arrays (a, b, c, d) of
    canonical entries in rank order (docs/design.md, section 1: squares class first; (1, b, c, d)
    by (b, c, index of the determinant), then (0, 1, c, d) by (index, d)); each generator multiplies
    all of them at once, the products are canonicalised with a table of inverses and ranked back
    with the same formula, and each row's neighbours are sorted. Equal generators are merged into
    multiplicities (a multigraph when q < 2 sqrt(p)). The tests' reference for the core's
    construction: the plain formula, element by element. The benchmark's numpy peer
    (`numpy_lps` in benchmarks/bench_graphs.py) is a separate, faster variant that computes what
    depends only on an element's top row once per row and broadcasts it.
    """
    h = (q - 1) // 2
    half, q2h = q * (q * q - 1) // 2, q * q * h
    # The ranks fit int32 up to q = 1289 (|PGL2| < 2^31); products of two entries below 2^30.
    dt = np.int32 if 2 * half < 2**31 else np.int64
    v = np.arange(1, q, dtype=dt)
    square = np.zeros(q, dtype=bool)
    square[v * v % q] = True
    residues = np.concatenate([v[square[1:]], v[~square[1:]]])  # squares, then non-squares
    index = np.zeros(q, dtype=dt)
    index[residues[:h]] = np.arange(h, dtype=dt)
    index[residues[h:]] = np.arange(h, dtype=dt)
    klass = np.where(square, 0, half).astype(dt)  # rank offset of a determinant's class
    inverse = np.zeros(q, dtype=dt)
    inverse[v] = [pow(int(x), -1, q) for x in v]

    parts: list[list[np.ndarray]] = [[], [], [], []]
    r = np.arange(q, dtype=dt)
    for k in (0,) if psl else (0, 1):
        delta = residues[k * h : (k + 1) * h]
        b, c, dl = np.broadcast_arrays(r[:, None, None], r[None, :, None], delta[None, None, :])
        for part, x in zip(parts, (np.ones_like(b), b, c, (dl + b * c) % q)):
            part.append(x.ravel())
        c, d = np.broadcast_arrays(q - delta[:, None], r[None, :])
        for part, x in zip(parts, (np.zeros_like(c), np.ones_like(c), c, d)):
            part.append(x.ravel())
    a, b, c, d = (np.concatenate(x) for x in parts)
    n = len(a)

    distinct: dict[tuple[int, int, int, int], int] = {}
    for s in generators:
        key = tuple(int(x) for x in s)
        distinct[key] = distinct.get(key, 0) + 1
    columns = []
    for sa, sb, sc, sd in distinct:
        u = (a * sa + b * sc) % q  # the top row of x s, then scaled to (1, b') or (0, 1)
        w = (a * sb + b * sd) % q
        t = inverse[np.where(u != 0, u, w)]
        cc = (c * sa + d * sc) % q * t % q
        dd = (c * sb + d * sd) % q * t % q
        top = u != 0
        bb = w * t % q
        det = np.where(top, dd - bb * cc, -cc) % q
        columns.append(
            klass[det] + np.where(top, (bb * q + cc) * h + index[det], q2h + index[det] * q + dd)
        )
    neighbours = np.stack(columns, axis=1)
    k = len(distinct)
    indptr = np.arange(0, (n + 1) * k, k, dtype=dt)
    if all(m == 1 for m in distinct.values()):
        return indptr, np.sort(neighbours, axis=1).ravel(), None
    order = np.argsort(neighbours, axis=1)
    weights = np.array(list(distinct.values()), dtype=np.float64)[order]
    return indptr, np.take_along_axis(neighbours, order, axis=1).ravel(), weights.ravel()
