"""Layer-wise Ramanujan bound differences (seed 001 Table 1, seed 003 eqs. 1-2; Hoang et al. 2023).

A layer's weight or mask is a bipartite graph between its inputs (left) and outputs (right), read
through `ramcore.layers.bipartite` (rows in * prod(kernel), columns out; docs/design.md, section 4).
On the largest connected component, as seed 001 computes it, with t1 >= t2 the two largest adjacency
eigenvalues (= singular values of the biadjacency B):

    Delta_S = (2 sqrt(t1 - 1) - t2) / t2
    Delta_R = (sqrt(dL - 1) + sqrt(dR - 1) - t2) / t2

dL, dR the average left/right degrees of the component's (unweighted) graph. Seed 003 ("Graph
expansion in pruned recurrent neural network layers preserves performance", appendix A.2.1, eq. 1)
writes its Delta_R with the average degree of all vertices instead of the two sides' degrees:

    Delta_R (seed 003) = (2 sqrt(d_avg - 1) - t2) / t2,    d_avg = 2 E / (nL + nR)

(`delta_r_avg`, `d_avg`; on the same largest component, E its edges). Its eq. 2 is Delta_S above.
d_avg is the harmonic mean of dL and dR, so the two Delta_R coincide when dL = dR and differ on an
unbalanced layer (usually seed 001's is the larger, e.g. dL = 2, dR = 10: 4 against 3.06). The unweighted
variant uses the mask (W != 0); `weighted=True` uses `|W|` for t1 and t2 (degrees stay combinatorial).

The raw convention of Hoang et al.'s public code ("Revisiting pruning at initialization through the
lens of Ramanujan graph", ICLR 2023; `raw_ramanujan_gap`) drops zero-degree vertices, keeps the whole
remaining graph, needs both average degrees >= 3 and does not divide by t2:

    raw Delta_S = 2 sqrt(t1 - 1) - t2,    raw Delta_R = sqrt(dL - 1) + sqrt(dR - 1) - t2

`iterative_mean_gaps` averages it over the d-left-regular subgraphs (Hoang et al. 2023b, and the
weighted spectral gap of Hoang et al. 2023a), the baselines seed 004 compares against.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from .._blas import one_blas_thread
from ..spectral import svds
from ..validation import available_memory
from .bipartite import abs_biadjacency, check_layout, components

__all__ = [
    "IterativeGap",
    "RamanujanGap",
    "RawGap",
    "bound_holds",
    "iterative_mean_gaps",
    "ramanujan_gap",
    "raw_ramanujan_gap",
    "top_two",
]

DENSE_LIMIT = 64  # components with a side this small take a dense SVD (exact, instant)
DENSE_FALLBACK = 2**25  # entries: an unconverged Lanczos result is recomputed by a dense SVD up to this
UNCONVERGED = (
    "the two largest singular values did not converge (Lanczos) and the component is too large for "
    "a dense SVD"
)
RAW_MIN_DEGREE = 3.0  # Hoang et al. skip layers whose average degrees are below 3
MIN_LEFT = 3  # a degree class needs this many left vertices (find_d_left_regular's mindegree)


@dataclass(frozen=True)
class RamanujanGap:
    """Bound differences of one layer. Positive Delta means the bound holds (Ramanujan-like).

    defined is False when t2 does not exist (a component that is a single edge) or the layer has
    no edges; `reason` then says why and the Delta fields are NaN. t2 = 0 (for example a complete
    bipartite component) gives Delta = +inf: the bound holds with infinite margin.
    """

    t1: float
    t2: float
    delta_s: float
    delta_r: float
    d_left: float
    d_right: float
    weighted: bool
    component_shape: tuple[int, int]  # (left, right) vertices of the largest component
    component_edges: int
    components: int  # connected components among non-isolated vertices
    component_sizes: npt.NDArray[np.int64] = field(repr=False)  # vertex counts, descending
    isolated_left: int
    isolated_right: int
    defined: bool
    reason: str = ""
    d_avg: float = math.nan  # seed 003: average degree of all vertices of the largest component
    delta_r_avg: float = math.nan  # seed 003 eq. 1: (2 sqrt(d_avg - 1) - t2) / t2


def top_two(b: sp.csr_array) -> tuple[float, float]:
    """The two largest adjacency eigenvalues of a connected bipartite graph with biadjacency b: its
    two largest singular values, by a dense SVD for small sides, else by Lanczos (`svds`). Values
    Lanczos did not converge to are never returned: they are recomputed densely while the matrix
    fits DENSE_FALLBACK entries, else both come back NaN (callers report them as undefined)."""
    rows, cols = b.shape
    if min(rows, cols) <= DENSE_LIMIT:
        with one_blas_thread():  # a small dense SVD: BLAS threads only contend
            sv = np.linalg.svd(b.toarray(), compute_uv=False)
    else:
        res = svds(b, 2, tol=1e-12)
        if res.converged:
            sv = res.values
        elif rows * cols <= DENSE_FALLBACK and rows * cols * 8 <= available_memory() // 4:
            sv = np.linalg.svd(b.toarray(), compute_uv=False)
        else:
            return math.nan, math.nan
    t1 = float(sv[0])
    if min(rows, cols) >= 2:
        return t1, float(sv[1])
    return t1, 0.0  # rank one with more than two vertices: the remaining eigenvalues are 0


def ramanujan_gap(matrix: Any, *, weighted: bool = False, layout: str = "torch") -> RamanujanGap:
    """Delta_S and Delta_R of one layer's weight, score or mask matrix.

    matrix: numpy array, scipy sparse matrix or torch tensor. layout="torch" reads PyTorch's
    `(out, in, *kernel)` weight layout (inputs on the left); layout="biadjacency" takes a 2-d
    matrix whose rows are the left vertices.
    """
    check_layout(layout)
    _check_weighted(weighted)
    b = abs_biadjacency(matrix, layout)
    rows, cols = b.shape
    row_deg, col_deg = np.diff(b.indptr), np.bincount(b.indices, minlength=cols)
    iso_l, iso_r = int((row_deg == 0).sum()), int((col_deg == 0).sum())
    nan = math.nan
    if b.nnz == 0:
        return RamanujanGap(
            nan,
            nan,
            nan,
            nan,
            nan,
            nan,
            weighted,
            (0, 0),
            0,
            0,
            np.zeros(0, np.int64),
            iso_l,
            iso_r,
            False,
            "the layer has no edges (fully disconnected)",
        )

    keep_r, keep_c = np.flatnonzero(row_deg), np.flatnonzero(col_deg)
    core = b[keep_r][:, keep_c]
    ncomp, row_labels, col_labels = components(core)
    sizes = np.bincount(np.concatenate([row_labels, col_labels]))
    largest = int(np.argmax(sizes))  # ties: the lowest label, i.e. the component of the first row
    in_l, in_r = row_labels == largest, col_labels == largest
    lcc = sp.csr_array(core[np.flatnonzero(in_l)][:, np.flatnonzero(in_r)])
    pattern = lcc.copy()
    pattern.data[:] = 1.0
    nl, nr, edges = lcc.shape[0], lcc.shape[1], lcc.nnz
    d_left, d_right = edges / nl, edges / nr
    d_avg = 2.0 * edges / (nl + nr)
    common: dict[str, Any] = dict(
        d_avg=d_avg,
        weighted=weighted,
        component_shape=(nl, nr),
        component_edges=edges,
        components=int(ncomp),
        component_sizes=np.sort(sizes)[::-1].astype(np.int64),
        isolated_left=iso_l,
        isolated_right=iso_r,
    )
    if nl == 1 and nr == 1:
        t1 = float(lcc.data[0]) if weighted else 1.0
        return RamanujanGap(
            t1,
            nan,
            nan,
            nan,
            d_left,
            d_right,
            defined=False,
            reason="the largest component is a single edge: no second eigenvalue",
            **common,
        )
    t1, t2 = top_two(lcc if weighted else pattern)
    if math.isnan(t1):
        return RamanujanGap(nan, nan, nan, nan, d_left, d_right, defined=False, reason=UNCONVERGED, **common)
    bound_s = 2.0 * math.sqrt(t1 - 1.0) if t1 >= 1.0 else nan
    bound_r = math.sqrt(d_left - 1.0) + math.sqrt(d_right - 1.0)
    bound_avg = 2.0 * math.sqrt(d_avg - 1.0) if d_avg >= 1.0 else nan
    reason = "" if t1 >= 1.0 else "t1 < 1: 2 sqrt(t1 - 1) is undefined, so Delta_S is NaN"
    return RamanujanGap(
        t1,
        t2,
        _delta(bound_s, t2),
        _delta(bound_r, t2),
        d_left,
        d_right,
        defined=True,
        reason=reason,
        delta_r_avg=_delta(bound_avg, t2),
        **common,
    )


def _delta(bound: float, t2: float) -> float:
    if math.isnan(bound):
        return math.nan
    if t2 <= 1e-12 * max(1.0, bound):
        return math.inf
    return (bound - t2) / t2


def _check_weighted(weighted: object) -> None:
    if not isinstance(weighted, bool):
        raise TypeError(f"weighted must be a bool, got {weighted!r}")


def bound_holds(delta_s: float, delta_r: float, *, strict: bool) -> bool:
    """max(Delta_S, Delta_R) > 0 (strict, Algorithm 1 line 11) or >= 0 (Table 1's t2 <= bound); NaN fails."""
    if strict:
        return delta_s > 0.0 or delta_r > 0.0
    return delta_s >= 0.0 or delta_r >= 0.0


# --- the raw convention of Hoang et al. (ICLR 2023) ---------------------------------------------


@dataclass(frozen=True)
class RawGap:
    """Hoang et al.'s raw bound differences of one bipartite graph; NaN with a `reason` when undefined."""

    t1: float
    t2: float
    delta_s: float
    delta_r: float
    d_left: float
    d_right: float
    defined: bool
    reason: str = ""


def raw_ramanujan_gap(matrix: Any, *, weighted: bool = False, layout: str = "torch") -> RawGap:
    """Raw differences 2 sqrt(t1 - 1) - t2 and sqrt(dL - 1) + sqrt(dR - 1) - t2 (Hoang et al.'s code).

    matrix: numpy array, scipy sparse matrix or torch tensor; layout as ``ramanujan_gap``
    ("torch": `(out, in, *kernel)`; "biadjacency": rows are the left vertices). Zero-degree vertices are
    dropped; both average degrees must be >= 3. weighted=True takes t1, t2 of `|matrix|`, else of its
    non-zero pattern.
    """
    check_layout(layout)
    _check_weighted(weighted)
    b = abs_biadjacency(matrix, layout)
    row_deg, col_deg = np.diff(b.indptr), np.bincount(b.indices, minlength=b.shape[1])
    left, right = int(np.count_nonzero(row_deg)), int(np.count_nonzero(col_deg))
    if b.nnz == 0:
        nan = math.nan
        return RawGap(nan, nan, nan, nan, nan, nan, False, "the layer has no edges")
    d_left, d_right = b.nnz / left, b.nnz / right  # zero-degree vertices dropped, as filter_zero_degree
    if min(d_left, d_right) < RAW_MIN_DEGREE:
        reason = f"average degrees (dL, dR) = ({d_left:.3g}, {d_right:.3g}): both must be >= 3"
        return RawGap(math.nan, math.nan, math.nan, math.nan, d_left, d_right, False, reason)
    core = sp.csr_array(b[np.flatnonzero(row_deg)][:, np.flatnonzero(col_deg)])
    if not weighted:
        core.data[:] = 1.0
    t1, t2 = top_two(core)
    if math.isnan(t1):
        return RawGap(math.nan, math.nan, math.nan, math.nan, d_left, d_right, False, UNCONVERGED)
    delta_r = math.sqrt(d_left - 1.0) + math.sqrt(d_right - 1.0) - t2
    if t1 < 1.0:
        reason = "t1 < 1: 2 sqrt(t1 - 1) is undefined, so Delta_S is NaN"
        return RawGap(t1, t2, math.nan, delta_r, d_left, d_right, True, reason)
    return RawGap(t1, t2, 2.0 * math.sqrt(t1 - 1.0) - t2, delta_r, d_left, d_right, True)


@dataclass(frozen=True)
class IterativeGap:
    """delta_r_imdb and lambda_imsg of one bipartite graph over its `subgraphs` qualifying K_d."""

    delta_r_imdb: float
    lambda_imsg: float
    subgraphs: int


def iterative_mean_gaps(matrix: Any, *, layout: str = "torch") -> IterativeGap:
    """Delta r_imdb (of the non-zero pattern) and lambda_imsg (of `|matrix|`) of one layer graph.

    matrix: the masked weight `|W|` ⊙ mask (numpy, scipy sparse or torch); its non-zero pattern is
    the graph. layout: "torch" (`(out, in, *kernel)`) or "biadjacency" (rows = left = inputs).
    """
    check_layout(layout)
    b = abs_biadjacency(matrix, layout)
    left_deg = np.diff(b.indptr)
    bounds, gaps = [], []
    degrees, counts = np.unique(left_deg[left_deg > 0], return_counts=True)
    for d, count in zip(degrees.tolist(), counts.tolist()):
        if count < MIN_LEFT:
            continue
        sub = b[np.flatnonzero(left_deg == d)]
        col_deg = np.bincount(sub.indices, minlength=sub.shape[1])
        sub = sp.csr_array(sub[:, np.flatnonzero(col_deg)])  # isolated right vertices dropped
        d_right = sub.nnz / sub.shape[1]
        if min(d, d_right) < RAW_MIN_DEGREE:
            continue
        pattern = sub.copy()
        pattern.data[:] = 1.0
        _, mu_hat = top_two(pattern)
        bounds.append(math.sqrt(d - 1.0) + math.sqrt(d_right - 1.0) - mu_hat)
        s1, s2 = top_two(sub)
        gaps.append(s1 - s2)
    if not bounds:
        return IterativeGap(math.nan, math.nan, 0)
    return IterativeGap(float(np.mean(bounds)), float(np.mean(gaps)), len(bounds))
