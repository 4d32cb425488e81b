"""Sparse bipartite masks of any shape at an exact density: Ramanujan constructions fitted to a layer,
and the random baselines. numpy only (torch-free); `ramcore.torch` applies them to models.

A mask is a boolean (rows, cols) biadjacency: rows are a layer's inputs, columns its outputs.
Every function keeps exactly round(density * rows * cols) entries (at least one) and is
deterministic: the Ramanujan fit uses no randomness, the random ones a seeded numpy Generator.

How `ramanujan_mask` fits a shape (the design; docs/masks.md tells it in prose)
-------------------------------------------------------------------------------
Two algebraic families, truncated to the layer's shape, then cut to the exact edge count:

* "affine" (generalises Burnwal-Sinha-Vidyasagar, seed 000 section 3.3): for a prime q and s >= 0,
  rows (a, r) and columns (x, c) with a, x in F_q^s and r, c in Z_q; (a, r) ~ (x, c) iff
  c = r - <a, x> (mod q). This is the incidence graph of the points and non-vertical hyperplanes of
  the affine space AG(s + 1, q); s = 1 with all q block rows and l block columns is Burnwal's
  q^2 x lq graph (block (a, x) = P^{ax}) with its blocks relabelled. Its biadjacency B
  (q^{s+1} square, q^s-regular, density 1/q) has
  B^T B = q^s I + q^{s-1} (J - I) (x) J_q, so the nontrivial singular values are sqrt(q^s) and 0:
  Ramanujan (sqrt(d) <= 2 sqrt(d - 1)). Truncating to any rows x columns can only lower every
  singular value (Cauchy interlacing), so sigma_2 <= q^{s/2} for every truncation.
* "lps": the PSL2 x coset biadjacency of a bipartite X^{p,q} ((p+1)-regular, sigma_2 <= 2 sqrt(p)),
  or the bipartite double cover of a non-bipartite one, truncated to the layer's shape, with p the
  smallest prime whose density (p + 1)/n reaches the target.

For the affine family two candidates are built, s the smallest with q^{s+1} >= the larger side:
q the largest prime <= 1/density, whose density 1/q >= target is cut to the exact count by keeping
whole q x q permutation blocks in a balanced "diagonal" order (every block row, then every block
column, loses blocks at the same rate), the last block partially; and q the smallest prime above
1/density, whose graph (density 1/q < target) is joined by its disjoint translates
c = r - <a, x> + t (t = 1, ..., k - 1; density k/q >= target) and cut the same way. For
densities above 1/2 the mask is the complement of the fit at 1 - density. Of the candidates the
shape admits, the one with the largest min(Delta_S, Delta_R) (seed 001's two certificate margins,
computed by ramcore; ties by Delta_R) is returned, with its parameters recorded. Vertices left
without an edge are then reconnected (when the density allows one edge each) to the least-connected
vertices of the other side, moving edges away from the best-connected ones, so the count stays
exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import _core
from ..graphs import biregular_graph, lps_graph
from ..validation import as_int, check_memory
from ..validation import density as fraction_kept
from .gap import ramanujan_gap

__all__ = [
    "MaskInfo", "affine_edges", "biswas_mask", "biswas_parameters", "exact_count", "ramanujan_mask",
    "random_mask", "random_regular_mask",
]  # fmt: skip

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class MaskInfo:
    """How a mask was built: construction name, its parameters, and the achieved figures."""

    construction: str
    params: dict[str, Any]
    shape: tuple[int, int]
    edges: int
    density: float
    delta_r: float = math.nan  # seed 001 Delta_R of the mask (ramanujan masks only)
    notes: tuple[str, ...] = field(default=())


def exact_count(rows: int, cols: int, density: float) -> int:
    """round(density * rows * cols), at least 1: the number of entries every mask keeps."""
    return max(1, min(rows * cols, int(round(density * rows * cols))))


def _check(rows: Any, cols: Any, density: Any) -> tuple[int, int, float]:
    rows, cols = as_int(rows, "rows"), as_int(cols, "cols")
    if rows < 1 or cols < 1:
        raise ValueError(f"rows and cols must be >= 1, got {rows} x {cols}")
    d = fraction_kept(density)
    check_memory(rows * cols, f"a {rows} x {cols} boolean mask", "mask a smaller layer")
    return rows, cols, d


def _to_mask(rows: int, cols: int, r: IntArray, c: IntArray) -> BoolArray:
    mask = np.zeros((rows, cols), dtype=bool)
    mask[r, c] = True
    return mask


# --- the affine family --------------------------------------------------------------------------


def _largest_prime_at_most(x: float) -> int:
    n = int(math.floor(x))
    while n >= 2 and not _core.is_prime(n):
        n -= 1
    return max(n, 2)


def _digits(values: IntArray, base: int, width: int) -> IntArray:
    """Base-`base` digits (least significant first) of `values`, shape (len(values), width)."""
    return (values[:, None] // base ** np.arange(width, dtype=np.int64)) % base


def _next_prime(n: int) -> int:
    n = max(n, 2)
    while not _core.is_prime(n):
        n += 1
    return n


def _primitive_root(q: int) -> int:
    factors = [f for f in range(2, q) if (q - 1) % f == 0 and _core.is_prime(f)]
    return next(g for g in range(1, q) if all(pow(g, (q - 1) // f, q) != 1 for f in factors))


def _block_labels(n: int, q: int, s: int) -> IntArray:
    """The n elements of F_q^s (as integers, base-q digits) used as block labels.

    For s = 1 the geometric progression g^0, g^1, ... (g a primitive root, then 0): a truncated
    DFT on an interval of labels has near-constant phases (sigma_2 close to the trivial value),
    on a geometric progression its phases behave like random ones. For s >= 2 lexicographic order.
    """
    if s != 1:
        return np.arange(n, dtype=np.int64)
    g = _primitive_root(q)
    labels = [pow(g, i, q) for i in range(min(n, q - 1))] + ([0] if n == q else [])
    return np.array(labels, dtype=np.int64)


def _block_rank(n_a: int, n_x: int) -> IntArray:
    """Rank of every block (a, x) in an order whose prefixes are balanced: whole cyclic diagonals of
    the longer side first, so every block row and column fills at the same rate. The diagonals are
    taken in the order of d^2 mod P (P prime): the kept diagonals then form a pseudo-random set,
    whose circulant base graph is an expander, where consecutive diagonals would form a band."""
    a, x = np.meshgrid(np.arange(n_a), np.arange(n_x), indexing="ij")
    n = max(n_a, n_x)
    diag, along = ((x - a) % n_x, a) if n_a >= n_x else ((a - x) % n_a, x)
    m = min(n_a, n_x)  # number of cyclic diagonals
    d = np.arange(m)
    position = np.empty(m, dtype=np.int64)
    position[np.argsort((d * d) % _next_prime(m) * m + d, kind="stable")] = d
    keys = position[diag] * n + along
    rank = np.empty(n_a * n_x, dtype=np.int64)
    rank[np.argsort(keys.ravel(), kind="stable")] = np.arange(n_a * n_x)
    return rank.reshape(n_a, n_x)


def affine_edges(rows: int, cols: int, q: int, count: int, shifts: int = 1) -> tuple[IntArray, IntArray, int]:
    """The first `count` edges of the AG(s + 1, q) incidence graph truncated to rows x cols, taken
    block by block in balanced order. With `shifts` = k > 1, the union of the k disjoint translates
    c = r - <a, x> + t (mod q), t < k (density k/q), one translate after the other. Returns (row, col, s)."""
    s = 0
    while q ** (s + 1) < max(rows, cols):
        s += 1
    n_a, n_x = -(-rows // q), -(-cols // q)
    # One block of rows when q >= rows: its rows r >= `rows` would be cut below, so skip them (the
    # arrays then scale with the layer, not with q ~ 1 / density).
    r = np.arange(q if n_a > 1 else min(q, rows))
    check_memory(
        48 * n_a * n_x * len(r) * shifts,
        f"the affine candidate (q = {q}, {shifts} translates) of a {rows} x {cols} mask",
        "use a larger density",
    )
    a, x = _block_labels(n_a, q, s), _block_labels(n_x, q, s)
    shift = (_digits(a, q, s) @ _digits(x, q, s).T) % q  # <a, x> mod q
    rank = _block_rank(n_a, n_x)[:, :, None] * q + r
    row = (np.arange(n_a)[:, None, None] * q + r).repeat(n_x, axis=1)  # (n_a, n_x, q)
    rows_t, cols_t, order_t = [], [], []
    for t in range(shifts):
        rows_t.append(row.ravel())
        cols_t.append((np.arange(n_x)[None, :, None] * q + (r - shift[:, :, None] + t) % q).ravel())
        order_t.append((t * n_a * n_x * q + rank).ravel())
    row_all, col_all, order = np.concatenate(rows_t), np.concatenate(cols_t), np.concatenate(order_t)
    keep = (row_all < rows) & (col_all < cols)
    first = np.argsort(order[keep], kind="stable")[:count]
    return row_all[keep][first], col_all[keep][first], s


# --- LPS graphs ---------------------------------------------------------------------------------


def _lps_candidate(rows: int, cols: int, density: float) -> tuple[IntArray, IntArray, dict[str, Any]] | None:
    """Truncated LPS biadjacency of the smallest side n >= max(rows, cols) (n <= 2 max), or None."""
    need = max(rows, cols)
    for q in (5, 13, 17, 29, 37, 41, 53, 61):  # q = 1 mod 4 keeps p/q symmetric; n grows ~q^3/2
        n = q * (q * q - 1) // 2  # PSL2 x coset (bipartite) or the double cover of PSL2
        if not need <= n <= 2 * need:
            continue
        p = max(3, 2 * math.ceil(density * n / 2) - 1)  # smallest odd p with (p + 1) / n >= density
        while p == q or not _core.is_prime(p):
            p += 2
        # loops and repeated generators (q < 2 sqrt(p)) merge into single mask entries
        b = lps_graph(p, q, allow_multigraph=True).biadjacency
        coo = b[:rows, :cols].tocoo()
        params = {"p": p, "q": q, "bipartite": _core.legendre(p, q) == -1}
        return coo.row.astype(np.int64), coo.col.astype(np.int64), params
    return None


def _trim(row: IntArray, col: IntArray, rows: int, cols: int, count: int) -> tuple[IntArray, IntArray]:
    """Drop edges beyond `count`, those between the best-connected vertices first (ties by index)."""
    extra = len(row) - count
    if extra <= 0:
        return row, col
    dr = np.bincount(row, minlength=rows) / max(len(row) / rows, 1e-300)
    dc = np.bincount(col, minlength=cols) / max(len(row) / cols, 1e-300)
    order = np.lexsort((col, row, -(dr[row] + dc[col])))
    keep = np.sort(order[extra:])
    return row[keep], col[keep]


# --- repair and the public constructions ------------------------------------------------------


def _reconnect(row: IntArray, col: IntArray, rows: int, cols: int) -> tuple[IntArray, IntArray, int]:
    """Give every isolated vertex one edge (to the least-connected vertex of the other side), moving an
    edge away from the best-connected pair so the count stays. Only when count >= max(rows, cols)."""
    moved = 0
    if len(row) < max(rows, cols):
        return row, col, moved
    row, col = row.copy(), col.copy()
    for side in (0, 1):
        ends, other, n_this, n_other = (row, col, rows, cols) if side == 0 else (col, row, cols, rows)
        for v in np.flatnonzero(np.bincount(ends, minlength=n_this) == 0):
            d_this = np.bincount(ends, minlength=n_this)
            d_other = np.bincount(other, minlength=n_other)
            # the edge to move: both ends keep at least one edge; highest degree sum, then index
            ok = (d_this[ends] > 1) & (d_other[other] > 1)
            score = np.where(ok, d_this[ends] + d_other[other], -1)
            e = int(np.argmax(score))
            if score[e] < 0:
                break
            u = int(np.argmin(d_other - (np.arange(n_other) == other[e])))  # least-connected partner
            if np.any((ends == v) & (other == u)):
                continue
            ends[e], other[e] = v, u
            moved += 1
    return row, col, moved


def _fill(row: IntArray, col: IntArray, rows: int, cols: int, count: int) -> tuple[IntArray, IntArray]:
    """Add edges up to `count` (truncated partial blocks can leave a few short), each between the
    least-connected row and column not yet joined (ties by index)."""
    missing = count - len(row)
    if missing <= 0:
        return row, col
    taken = set((row * cols + col).tolist())
    d_row = np.bincount(row, minlength=rows)
    d_col = np.bincount(col, minlength=cols)
    new_r, new_c = [], []
    for _ in range(missing):
        for u in np.argsort(d_row, kind="stable"):
            free = [int(v) for v in np.argsort(d_col, kind="stable") if int(u) * cols + int(v) not in taken]
            if free:
                v = free[0]
                break
        taken.add(int(u) * cols + v)
        d_row[u] += 1
        d_col[v] += 1
        new_r.append(int(u))
        new_c.append(v)
    return np.concatenate([row, new_r]).astype(np.int64), np.concatenate([col, new_c]).astype(np.int64)


def _finish(
    rows: int, cols: int, row: IntArray, col: IntArray, count: int, construction: str, params: dict[str, Any]
) -> tuple[BoolArray, MaskInfo]:
    row, col = _fill(row, col, rows, cols, count)
    row, col = _trim(row, col, rows, cols, count)
    row, col, moved = _reconnect(row, col, rows, cols)
    mask = _to_mask(rows, cols, row, col)
    notes = (f"{moved} edges moved to isolated vertices",) if moved else ()
    edges = int(mask.sum())
    info = MaskInfo(construction, params, (rows, cols), edges, edges / (rows * cols), notes=notes)
    return mask, info


def _scored(mask: BoolArray, info: MaskInfo) -> tuple[tuple[float, float], BoolArray, MaskInfo]:
    """(min(Delta_S, Delta_R), Delta_R) as the sort key (NaN ranks last), the mask, its info with Delta_R."""
    gap = ramanujan_gap(mask, layout="biadjacency")
    both = min(gap.delta_s, gap.delta_r)
    key = (-math.inf if math.isnan(both) else both, -math.inf if math.isnan(gap.delta_r) else gap.delta_r)
    return key, mask, MaskInfo(**{**info.__dict__, "delta_r": gap.delta_r})


def ramanujan_mask(rows: int, cols: int, density: float) -> tuple[BoolArray, MaskInfo]:
    """Deterministic Ramanujan-structured (rows x cols) mask with exactly round(density*rows*cols)
    entries; see the module docstring for the fit. Returns the mask and how it was built."""
    rows, cols, density = _check(rows, cols, density)
    count = exact_count(rows, cols, density)
    if count == rows * cols:
        return np.ones((rows, cols), dtype=bool), MaskInfo("dense", {}, (rows, cols), count, 1.0)
    if density > 0.5:  # complement of the sparse fit: keeps its balance, exact count
        inverse, info = ramanujan_mask(rows, cols, 1.0 - count / (rows * cols))
        mask = ~inverse
        edges = int(mask.sum())
        params = {"of": info.construction, **info.params}
        return mask, MaskInfo("complement", params, (rows, cols), edges, edges / (rows * cols))
    candidates = []
    # Every q >= max(rows, cols) + 1 gives the same edges (one block: a partial matching, trimmed to
    # `count`), so 1 / density is capped there: tiny densities cost no more than the layer's size.
    spacing = min(1.0 / density, 2.0 * max(rows, cols) + 2.0)
    below = _largest_prime_at_most(spacing)  # density 1/q >= target: trimmed
    above = _next_prime(math.floor(spacing) + 1)  # 1/q < target: k translates, k/q >= target
    for q, k in ((below, 1), (above, math.ceil(density * above))):
        r, c, s = affine_edges(rows, cols, q, count, k)
        params = {"q": q, "s": s} if k == 1 else {"q": q, "s": s, "translates": k}
        candidates.append(_finish(rows, cols, r, c, count, "affine", params))
    lps = _lps_candidate(rows, cols, density)
    if lps is not None and len(lps[0]) >= count:  # merged repeated generators can fall short
        candidates.append(_finish(rows, cols, lps[0], lps[1], count, "lps", lps[2]))
    scored = [_scored(m, i) for m, i in candidates]
    best = max(range(len(scored)), key=lambda k: scored[k][0])  # the first of equals
    return scored[best][1], scored[best][2]


def biswas_parameters(rows: int, cols: int) -> tuple[int, int] | None:
    """Seed 000's (q, l) for a layer with `rows` inputs (in * prod(kernel)) and `cols` outputs
    (Appendix A.3, Table 7): q the largest prime with q^2 <= cols, l = floor(rows / q); None when
    the layer is too small for one block (cols < 4 or rows < q)."""
    if cols < 4:
        return None
    q = _largest_prime_at_most(math.isqrt(cols))
    return (q, rows // q) if rows >= q else None


def biswas_mask(rows: int, cols: int) -> tuple[BoolArray, MaskInfo]:
    """Seed 000's construction of a layer's mask, literally: the bi-regular graph B(q, l) of
    Burnwal, Sinha & Vidyasagar with seed 000's (q, l) (`biswas_parameters`), its l q vertices of
    degree q on the first l q inputs and its q^2 vertices of degree l on the first q^2 outputs.
    The other rows - l q inputs and cols - q^2 outputs get no edge: they are dead neurons, as in
    the paper (Table 7's layers leave 2-37 inputs and 7-239 outputs so). The density is q l q /
    (rows cols), about 1/q. A layer too small for one block stays dense."""
    rows, cols, _ = _check(rows, cols, 1.0)
    qp = biswas_parameters(rows, cols)
    if qp is None:
        return np.ones((rows, cols), dtype=bool), MaskInfo("dense", {"reason": "too small for B(q, l)"},
                                                           (rows, cols), rows * cols, 1.0)  # fmt: skip
    q, l = qp
    block = biregular_graph(q, l).biadjacency  # (q^2, l q): rows of degree l, columns of degree q
    mask = np.zeros((rows, cols), dtype=bool)
    mask[: l * q, : q * q] = block.T.toarray().astype(bool)
    dead = (rows - l * q, cols - q * q)
    edges = int(mask.sum())
    notes = (f"{dead[0]} inputs and {dead[1]} outputs without an edge",) if any(dead) else ()
    gap = ramanujan_gap(mask)
    return mask, MaskInfo(
        "biswas", {"q": q, "l": l, "dead_inputs": dead[0], "dead_outputs": dead[1]}, (rows, cols), edges,
        edges / (rows * cols), gap.delta_r, notes,
    )  # fmt: skip


def random_mask(rows: int, cols: int, density: float, rng: np.random.Generator) -> tuple[BoolArray, MaskInfo]:
    """Uniformly random mask with exactly round(density * rows * cols) entries."""
    rows, cols, density = _check(rows, cols, density)
    count = exact_count(rows, cols, density)
    what = f"the permutation of a {rows} x {cols} layer's entries"
    check_memory(8 * rows * cols, what, "mask a smaller layer")
    flat = np.zeros(rows * cols, dtype=bool)
    flat[rng.permutation(rows * cols)[:count]] = True
    return flat.reshape(rows, cols), MaskInfo("random", {}, (rows, cols), count, count / (rows * cols))


def _repeats(key: IntArray, size: int) -> BoolArray:
    """Which entries of `key` (values in [0, size)) repeat an earlier entry: through a table of
    first occurrences (one pass) when it is small beside `key` and at most 512 MiB, else by a
    stable sort. Both give the same answer, so the masks do not depend on the path."""
    index = np.arange(len(key), dtype=np.int64)
    if size <= min(16 * len(key), 2**26):
        first = np.empty(size, dtype=np.int64)
        first[key[::-1]] = index[::-1]  # the last write, i.e. the earliest index, wins
        repeated: BoolArray = first[key] != index
        return repeated
    order = np.argsort(key, kind="stable")
    dup = np.zeros(len(key), dtype=bool)
    dup[order[1:]] = key[order[1:]] == key[order[:-1]]
    return dup


def random_regular_mask(
    rows: int, cols: int, density: float, rng: np.random.Generator
) -> tuple[BoolArray, MaskInfo]:
    """Random bi-regular mask (degrees differ by at most one on each side; the random d-regular
    bipartite expanders of Prabhu et al. 2018), exactly round(density * rows * cols) entries:
    stubs of both sides paired by a random permutation, collisions re-paired until none remain."""
    rows, cols, density = _check(rows, cols, density)
    count = exact_count(rows, cols, density)
    if density > 0.5:
        inverse, _ = random_regular_mask(rows, cols, 1.0 - count / (rows * cols), rng)
        mask = ~inverse
    else:
        row = np.arange(count, dtype=np.int64) % rows  # row degrees differ by <= 1
        col = rng.permutation(np.arange(count, dtype=np.int64) % cols)
        for _ in range(1000):
            dup = _repeats(row * cols + col, rows * cols)
            if not dup.any():
                break
            # swap the columns of each repeated edge with those of random edges
            bad = np.flatnonzero(dup)  # disjoint transpositions keep both degree sequences
            partner = rng.choice(np.flatnonzero(~dup), size=len(bad), replace=False)
            col[bad], col[partner] = col[partner], col[bad].copy()
        else:  # pragma: no cover - density <= 1/2 makes this vanishingly unlikely
            raise RuntimeError("random_regular_mask: could not remove repeated edges")
        mask = _to_mask(rows, cols, row, col)
    edges = int(mask.sum())
    return mask, MaskInfo("random_regular", {}, (rows, cols), edges, edges / (rows * cols))
