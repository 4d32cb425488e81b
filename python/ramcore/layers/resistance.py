"""Exact effective resistances of one layer's bipartite graph (seed 002; Spielman & Srivastava 2011).

R(u, v) = (e_u - e_v)^T L^+ (e_u - e_v) for the Laplacian L of the layer graph, whose biadjacency is
read by `ramcore.layers.bipartite` (rows: inputs, columns: outputs). The Schur complement onto the
smaller side (docs/design.md, section 5) costs O(m n^2 + n^3) instead of the O((m + n)^3) of a
pseudo-inverse of the whole Laplacian. Resistances of general graphs, exact or sketched, are
`ramcore.resistance.graph_resistance`.
"""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from ..interop import from_torch, is_torch, refuse_complex
from ..validation import check_memory
from .bipartite import check_weights, components, dense_biadjacency, dense_connected, view

__all__ = ["effective_resistance", "torch_resistance"]

FloatArray = npt.NDArray[np.float64]


def effective_resistance(weights: Any) -> Any:
    """Exact effective resistance between the two ends of every entry of a layer's weight matrix.

    weights: non-negative weights or scores, as a numpy array with at least 2 dimensions (a
      Linear weight (out, in), a Conv weight (out, in, kh, kw): the layer graph joins input
      (j, kh, kw) to out-channel i, `ramcore.layers.bipartite`), a scipy sparse matrix (a 2-d
      matrix; either orientation gives the same resistances), or a torch tensor. Zero entries are
      non-edges.
    Returns float64 resistances with the input's shape and kind: an ndarray; a csr_array with the
      input's stored entries (duplicates summed); a torch tensor on the input's device (a GPU
      tensor is computed there by torch; CPU tensors share numpy's path).

    At a zero entry the value is the resistance between the two neurons in the layer graph (the
    entry is not an edge); between different connected components, including isolated neurons
    (all-zero rows or columns), it is `inf`.

    Per component with m >= n vertices on its sides (rows u, columns v), G = D_r^-1 W and the
    Schur complement S = D_c - W^T G (a Laplacian on the columns) give::

        R(u, v) = 1/D_r[u] + <Y[u], G[u]> - 2 Y[u, v] + S^+[v, v],   Y = G S^+

    (docs/design.md, section 5); S^+ = (S + a J/n)^-1 - J/(a n) on a connected component.
    """
    refuse_complex(weights, "weights")
    if is_torch(weights):
        return _torch_layer(weights)
    if sp.issparse(weights):
        return _sparse_layer(weights)
    arr = np.asarray(weights)
    b = dense_biadjacency(arr, "weights")
    return _dense_layer(b).T.reshape(arr.shape)


def _blocks(nz: npt.NDArray[np.bool_]) -> list[tuple[Any, Any]]:
    """(row indices, column indices) of every component with vertices on both sides;
    slice(None) pairs when the whole layer is one component."""
    m, n = nz.shape
    if m and n and dense_connected(nz):
        return [(slice(None), slice(None))]
    count, rl, cl = components(nz)
    rows = _group(rl, count)
    cols = _group(cl, count)
    return [(rows[c], cols[c]) for c in range(count) if len(rows[c]) and len(cols[c])]


def _group(labels: npt.NDArray[np.int32], count: int) -> list[npt.NDArray[np.intp]]:
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(count + 1))
    return [order[bounds[c] : bounds[c + 1]] for c in range(count)]


def _local_index(groups: list[npt.NDArray[np.intp]], size: int) -> npt.NDArray[np.intp]:
    """Every vertex's position within its component's group."""
    local = np.zeros(size, dtype=np.intp)
    for g in groups:
        local[g] = np.arange(len(g))
    return local


def _schur_memory(m: int, n: int) -> int:
    """Bytes of the Schur-complement temporaries for an m x n component (G, Y, the result, S)."""
    small, large = min(m, n), max(m, n)
    return 8 * (3 * small * large + 3 * small * small)


def _check_layer_memory(blocks: list[tuple[Any, Any]], m: int, n: int) -> None:
    worst = 0
    for r, c in blocks:
        bm = m if isinstance(r, slice) else len(r)
        bn = n if isinstance(c, slice) else len(c)
        worst = max(worst, _schur_memory(bm, bn))
    check_memory(
        worst + 8 * m * n,
        f"exact resistances of the {m} x {n} layer (largest component dense)",
        "use graph_resistance(..., method='sketch') on its bipartite adjacency",
    )


def _dense_layer(w: FloatArray) -> FloatArray:
    m, n = w.shape
    blocks = _blocks(w != 0)
    _check_layer_memory(blocks, m, n)
    out = np.full((m, n), math.inf)
    for r, c in blocks:
        if isinstance(r, slice):
            out = _schur(w)
        else:
            out[np.ix_(r, c)] = _schur(w[np.ix_(r, c)])
    return out


# Backend, measured on a 4608 x 512 layer (2 cores, AVX-512): numpy/OpenBLAS with LAPACK's inverse
# 0.075 s, torch-CPU/MKL 0.082 s, a Cholesky inverse through scipy (dsyrk, dpotrf, dpotri)
# 0.13 s. So CPU input takes numpy (no torch needed); a GPU tensor runs the same formula in torch.
def _schur(w: FloatArray) -> FloatArray:
    """R for every entry of a connected bipartite component (formula in effective_resistance)."""
    if w.shape[0] < w.shape[1]:
        return _schur(w.T).T  # eliminate the larger side
    dr, dc = w.sum(axis=1), w.sum(axis=0)
    n = w.shape[1]
    g = w / dr[:, None]
    s = -(w.T @ g)
    s[np.diag_indices(n)] += dc
    a = float(dc.mean())
    s += a / n  # S + (a/n) J: invertible, same eigenvectors, kernel 1 -> eigenvalue a
    s_pinv = np.linalg.inv(s)
    s_pinv -= 1.0 / (a * n)
    y: FloatArray = g @ s_pinv
    quad = np.einsum("ij,ij->i", y, g)
    y *= -2.0
    y += (1.0 / dr + quad)[:, None]
    y += np.diag(s_pinv)[None, :]
    return y


def _sparse_layer(matrix: Any) -> sp.csr_array:
    m = sp.csr_array(cast(Any, matrix), dtype=np.float64, copy=True)  # never sort the caller's arrays
    m.sum_duplicates()
    if m.ndim != 2:
        raise ValueError(f"weights must be 2-d, got shape {m.shape}")
    check_weights(m.data, "weights")
    rows, cols = m.shape
    nz = m.copy()
    nz.eliminate_zeros()
    count, rl, cl = components(nz)
    row_groups, col_groups = _group(rl, count), _group(cl, count)
    sizes = [(len(row_groups[c]), len(col_groups[c])) for c in range(count)]
    worst = max((_schur_memory(a, b) for a, b in sizes if a and b), default=0)
    check_memory(
        worst,
        f"exact resistances of the {rows} x {cols} sparse layer (largest component dense)",
        "use graph_resistance(..., method='sketch') on its bipartite adjacency",
    )
    entry_rows = np.repeat(np.arange(rows), np.diff(m.indptr))
    er, ec = rl[entry_rows], cl[m.indices]
    entry_comp = np.where(er == ec, er, -1)  # -1: a zero entry across components (R = inf)
    rloc, cloc = _local_index(row_groups, rows), _local_index(col_groups, cols)
    order = np.argsort(entry_comp, kind="stable")
    bounds = np.searchsorted(entry_comp[order], np.arange(count + 1))
    values = np.full(m.nnz, math.inf)
    for c in range(count):
        r, k = row_groups[c], col_groups[c]
        if not (len(r) and len(k)):
            continue
        sel = order[bounds[c] : bounds[c + 1]]
        values[sel] = _schur(nz[r][:, k].toarray())[rloc[entry_rows[sel]], cloc[m.indices[sel]]]
    return sp.csr_array((values, m.indices.copy(), m.indptr.copy()), shape=m.shape)


def _torch_layer(t: Any) -> Any:
    import torch

    if t.layout != torch.strided:  # sparse tensors: scipy's path, returned as a scipy matrix
        return _sparse_layer(from_torch(t))
    if t.device.type == "cpu":
        arr = t.detach().numpy() if t.dtype != torch.bfloat16 else t.detach().float().numpy()
        return torch.from_numpy(effective_resistance(arr))
    return torch_resistance(t)


def torch_resistance(t: Any) -> Any:
    """`effective_resistance` of a dense tensor computed by torch on the tensor's device (the path
    of GPU tensors; also callable on CPU tensors, e.g. to check it against numpy's)."""
    import torch

    if t.ndim < 2:
        raise ValueError(f"weights must have at least 2 dimensions, got shape {tuple(t.shape)}")
    w = view(t.detach()).to(torch.float64)
    if not bool(torch.isfinite(w).all()):
        raise ValueError("weights contains NaN or infinite entries")
    if w.numel() and float(w.min()) < 0:
        raise ValueError(
            f"weights must be non-negative (edge weights), got a minimum of {float(w.min()):.6g}"
        )
    m, n = w.shape
    nz = w != 0
    if m and n and dense_connected(nz):
        blocks: list[tuple[Any, Any]] = [(slice(None), slice(None))]
    else:
        blocks = _blocks(nz.cpu().numpy())
    out = torch.full((m, n), math.inf, dtype=torch.float64, device=w.device)
    for r, c in blocks:
        if isinstance(r, slice):
            out = _schur_torch(w)
        else:
            ri = torch.as_tensor(r, device=w.device)
            ci = torch.as_tensor(c, device=w.device)
            out[ri[:, None], ci[None, :]] = _schur_torch(w[ri][:, ci])
    return out.T.reshape(t.shape)


def _schur_torch(w: Any) -> Any:
    """`_schur` in torch (on the tensor's device)."""
    import torch

    if w.shape[0] < w.shape[1]:
        return _schur_torch(w.T).T
    dr, dc = w.sum(1), w.sum(0)
    n = w.shape[1]
    g = w / dr[:, None]
    s = torch.diag(dc) - w.T @ g
    a = dc.mean()
    s_pinv = torch.linalg.inv(s + a / n) - 1.0 / (a * n)
    y = g @ s_pinv
    return (1.0 / dr + (y * g).sum(1))[:, None] - 2.0 * y + torch.diagonal(s_pinv)[None, :]
