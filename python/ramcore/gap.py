"""Layer-wise Ramanujan bound differences Delta_S and Delta_R (seed 001 Table 1, seed 003 eqs. 1-2).

A layer's weight or mask is a bipartite graph between its inputs (left) and outputs (right):
Linear (out, in) and Conv (out, in, kh, kw) weights give the biadjacency B = W.reshape(out, -1).T
(rows in*kh*kw, columns out; DESIGN.md section 4). On the largest connected component, as seed 001
computes it, with t1 >= t2 the two largest adjacency eigenvalues (= singular values of B):

    Delta_S = (2 sqrt(t1 - 1) - t2) / t2
    Delta_R = (sqrt(dL - 1) + sqrt(dR - 1) - t2) / t2

dL, dR the average left/right degrees of the component's (unweighted) graph. The unweighted
variant uses the mask (W != 0); `weighted=True` uses |W| for t1 and t2 (degrees stay combinatorial).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse import csgraph

from .spectral import _from_torch, svds

__all__ = ["RamanujanGap", "ramanujan_gap"]

DENSE_LIMIT = 64  # components with a side this small take a dense SVD (exact, instant)


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


def _biadjacency(w: Any, layout: str) -> Any:
    w = _from_torch(w)
    if sp.issparse(w):
        m = sp.csr_array(cast(Any, w))
        return m.T.tocsr() if layout == "torch" else m
    arr = np.asarray(w)
    if arr.ndim < 2:
        raise ValueError(f"matrix must have at least 2 dimensions, got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"matrix must be numeric or boolean, got dtype {arr.dtype}")
    if layout == "torch":
        arr = arr.reshape(arr.shape[0], -1).T  # (out, in, k...) -> rows in*k..., columns out
    elif arr.ndim != 2:
        raise ValueError(f"layout='biadjacency' needs a 2-d matrix, got shape {arr.shape}")
    return sp.csr_array(arr)


def _top_two(b: sp.csr_array) -> tuple[float, float]:
    """The two largest adjacency eigenvalues of a connected bipartite graph with biadjacency b."""
    rows, cols = b.shape
    if min(rows, cols) <= DENSE_LIMIT:
        sv = np.linalg.svd(b.toarray(), compute_uv=False)
    else:
        sv = svds(b, 2, tol=1e-12).values
    t1 = float(sv[0])
    if min(rows, cols) >= 2:
        return t1, float(sv[1])
    return t1, 0.0  # rank one with more than two vertices: the remaining eigenvalues are 0


def ramanujan_gap(matrix: Any, *, weighted: bool = False, layout: str = "torch") -> RamanujanGap:
    """Delta_S and Delta_R of one layer's weight, score or mask matrix.

    matrix: numpy array, scipy sparse matrix or torch tensor. layout="torch" reads PyTorch's
    (out, in, *kernel) weight layout (inputs on the left); layout="biadjacency" takes a 2-d
    matrix whose rows are the left vertices.
    """
    if layout not in ("torch", "biadjacency"):
        raise ValueError(f"layout must be 'torch' or 'biadjacency', got {layout!r}")
    if not isinstance(weighted, bool):
        raise TypeError(f"weighted must be a bool, got {weighted!r}")
    b = _biadjacency(matrix, layout).astype(np.float64)
    if not np.all(np.isfinite(b.data)):
        raise ValueError("matrix contains NaN or infinite entries")
    b.data = np.abs(b.data)
    b.eliminate_zeros()
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
    r, c = core.shape
    graph = sp.block_array([[None, core], [core.T, None]], format="csr")
    ncomp, labels = csgraph.connected_components(graph, directed=False)
    sizes = np.bincount(labels)
    largest = int(np.argmax(sizes))  # ties: the lowest label, i.e. the component of the first row
    in_l, in_r = labels[:r] == largest, labels[r:] == largest
    lcc = sp.csr_array(core[np.flatnonzero(in_l)][:, np.flatnonzero(in_r)])
    pattern = lcc.copy()
    pattern.data[:] = 1.0
    nl, nr, edges = lcc.shape[0], lcc.shape[1], lcc.nnz
    d_left, d_right = edges / nl, edges / nr
    common: dict[str, Any] = dict(
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
    t1, t2 = _top_two(lcc if weighted else pattern)
    bound_s = 2.0 * math.sqrt(t1 - 1.0) if t1 >= 1.0 else nan
    bound_r = math.sqrt(d_left - 1.0) + math.sqrt(d_right - 1.0)
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
        **common,
    )


def _delta(bound: float, t2: float) -> float:
    if math.isnan(bound):
        return math.nan
    if t2 <= 1e-12 * max(1.0, bound):
        return math.inf
    return (bound - t2) / t2
