"""Effective resistances (seed 002; Spielman & Srivastava 2011), exact and sketched.

R(u, v) = (e_u - e_v)^T L^+ (e_u - e_v) for the graph Laplacian L = D - A.

- `effective_resistance(w)`: exact, for one layer's weighted bipartite graph (a dense m x n weight
  or score matrix, a Conv weight (out, in, kh, kw), a scipy sparse matrix or a torch tensor). The
  Schur complement onto the smaller side (DESIGN.md section 5) costs O(m n^2 + n^3) instead of the
  O((m + n)^3) of a pseudo-inverse of the whole Laplacian.
- `graph_resistance(g)`: every edge of a general graph: exact (dense factorisation per connected
  component) for small graphs, or the Johnson-Lindenstrauss sketch with conjugate-gradient solves
  in the C++ core for large ones (LPS graphs with millions of edges), with the error reported.

Resistance between different connected components is infinite and returned as `math.inf`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse import csgraph

from . import _core
from ._validate import as_int, check_memory
from ._validate import threads as _threads
from .graphs import BiregularGraph, LPSGraph
from .spectral import _from_torch

__all__ = ["Resistances", "effective_resistance", "graph_resistance", "sketch_size"]

FloatArray = npt.NDArray[np.float64]
EXACT_LIMIT = 4096  # graph_resistance(method="auto"): components up to this size are solved densely


# --- one bipartite layer, exact --------------------------------------------------------------------


def effective_resistance(weights: Any) -> Any:
    """Exact effective resistance between the two ends of every entry of a layer's weight matrix.

    weights: non-negative weights or scores, as a numpy array with at least 2 dimensions (a
      Linear weight (out, in), a Conv weight (out, in, kh, kw): the layer graph joins out-channel
      i to input (j, kh, kw), DESIGN.md section 4), a scipy sparse matrix, or a torch tensor. Zero
      entries are non-edges.
    Returns float64 resistances with the input's shape and kind: an ndarray; a csr_array with the
      input's stored entries (duplicates summed); a torch tensor on the input's device (a GPU
      tensor is computed there by torch; CPU tensors share numpy's path).
    At a zero entry the value is the resistance between the two neurons in the layer graph (the
    entry is not an edge); between different connected components, including isolated neurons
    (all-zero rows or columns), it is `inf`.

    Per component with m >= n vertices on its sides (rows u, columns v), G = D_r^-1 W and the
    Schur complement S = D_c - W^T G (a Laplacian on the columns) give
        R(u, v) = 1/D_r[u] + <Y[u], G[u]> - 2 Y[u, v] + S^+[v, v],   Y = G S^+
    (DESIGN.md section 5); S^+ = (S + a J/n)^-1 - J/(a n) on a connected component.
    """
    if type(weights).__module__.startswith("torch"):
        return _torch_layer(weights)
    if sp.issparse(weights):
        return _sparse_layer(weights)
    arr = np.asarray(weights)
    w = _layer_matrix(arr, "weights")
    return _dense_layer(w).reshape(arr.shape)


def _layer_matrix(arr: Any, name: str) -> FloatArray:
    """A weight array as its (out, rest) float64 matrix, checked: ndim >= 2, finite, >= 0."""
    if arr.ndim < 2:
        raise ValueError(
            f"{name} must have at least 2 dimensions ((out, in) or (out, in, kh, kw)), got shape {arr.shape}"
        )
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
    w = np.asarray(arr.reshape(arr.shape[0], math.prod(arr.shape[1:])), dtype=np.float64)
    _check_weights(w, name)
    return w


def _check_weights(values: Any, name: str) -> None:
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} contains NaN or infinite entries")
    if values.size and values.min() < 0:
        raise ValueError(
            f"{name} must be non-negative (edge weights), got a minimum of {values.min():.6g}; "
            "pass abs(weight) or a score matrix"
        )


def _side_components(
    nonzero: Any, m: int, n: int
) -> tuple[int, npt.NDArray[np.int32], npt.NDArray[np.int32]]:
    """Connected components of the bipartite graph of a boolean m x n pattern: (count, row labels,
    column labels); an isolated neuron is a component of its own."""
    b = sp.csr_array(nonzero)
    graph: Any = sp.block_array([[None, b], [b.T, None]], format="csr")
    count, labels = csgraph.connected_components(graph, directed=False)
    return int(count), labels[:m], labels[m:]


def _dense_connected(nz: Any) -> bool:
    """Cheap sufficient test: no empty row and one row touching every column (or the transpose)."""
    rows_ok, cols_ok = bool(nz.any(1).all()), bool(nz.any(0).all())
    return rows_ok and cols_ok and bool(nz.all(1).any() or nz.all(0).any())


def _blocks(nz: npt.NDArray[np.bool_]) -> list[tuple[Any, Any]]:
    """(row indices, column indices) of every component with vertices on both sides;
    slice(None) pairs when the whole layer is one component."""
    m, n = nz.shape
    if m and n and _dense_connected(nz):
        return [(slice(None), slice(None))]
    count, rl, cl = _side_components(nz, m, n)
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
    _check_weights(m.data, "weights")
    rows, cols = m.shape
    nz = m.copy()
    nz.eliminate_zeros()
    count, rl, cl = _side_components(nz, rows, cols)
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
        return _sparse_layer(_from_torch(t))
    if t.device.type == "cpu":
        arr = t.detach().numpy() if t.dtype != torch.bfloat16 else t.detach().float().numpy()
        return torch.from_numpy(effective_resistance(arr))
    return _torch_dense(t)


def _torch_dense(t: Any) -> Any:
    """The layer path in torch, on the tensor's device (used for GPU tensors)."""
    import torch

    if t.ndim < 2:
        raise ValueError(f"weights must have at least 2 dimensions, got shape {tuple(t.shape)}")
    w = t.detach().reshape(t.shape[0], math.prod(t.shape[1:])).to(torch.float64)
    if not bool(torch.isfinite(w).all()):
        raise ValueError("weights contains NaN or infinite entries")
    if w.numel() and float(w.min()) < 0:
        raise ValueError(
            f"weights must be non-negative (edge weights), got a minimum of {float(w.min()):.6g}"
        )
    m, n = w.shape
    nz = w != 0
    if m and n and _dense_connected(nz):
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
    return out.reshape(t.shape)


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


# --- general graphs --------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Resistances:
    """Effective resistances of every stored entry of a graph's symmetric adjacency `matrix`.

    values[k] belongs to the k-th stored entry (row u, column indices[k]) of `matrix`, a float64
    csr_array without zero entries (both directions of an edge are stored; a loop has R = 0).
    method "exact": dense factorisation per component; "sketch": the Johnson-Lindenstrauss
    estimate from `sketch_rows` CG solves. For a sketch, `stderr` holds every estimate's standard
    error, `cg_residuals` the true relative residual ||y - L z|| / ||y|| of every solve, and
    `error_estimate` the largest relative error to expect over all edges: z * max(stderr / R),
    z = sqrt(2 ln(2 m / delta)) (normal tail with a union bound over the m edges). `epsilon` is
    the requested relative accuracy, guaranteed for every edge with probability >= 1 - delta
    (Achlioptas 2003) when sketch_rows was left to `sketch_size()`.
    """

    values: FloatArray = field(repr=False)
    matrix: sp.csr_array = field(repr=False)
    method: str
    components: int
    edges: int
    epsilon: float | None = None
    delta: float | None = None
    sketch_rows: int = 0
    stderr: FloatArray | None = field(default=None, repr=False)
    cg_residuals: FloatArray | None = field(default=None, repr=False)
    cg_iterations: npt.NDArray[np.int32] | None = field(default=None, repr=False)
    error_estimate: float = 0.0
    converged: bool = True
    seconds: float = 0.0

    def as_matrix(self) -> sp.csr_array:
        """The resistances on the adjacency's pattern (a symmetric csr_array)."""
        m = self.matrix
        return sp.csr_array((self.values, m.indices, m.indptr), shape=m.shape)

    def edge_list(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], FloatArray]:
        """(u, v, R) for every undirected edge once (u < v)."""
        m = self.matrix
        rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
        upper = rows < m.indices
        return rows[upper], m.indices[upper].astype(np.int64), self.values[upper]


def sketch_size(epsilon: float, edges: int, delta: float = 0.01) -> int:
    """Sketch rows k after which every one of `edges` resistances is within (1 +- epsilon) with
    probability >= 1 - delta: k = ceil(2 ln(2 edges / delta) / (eps^2/2 - eps^3/3)) (Achlioptas
    2003, Theorem 1.1 with a union bound; Spielman-Srivastava's 24 ln n / eps^2 is the same bound
    with cruder constants)."""
    epsilon, delta = _epsilon(epsilon), _delta(delta)
    edges = max(as_int(edges, "edges"), 1)
    return math.ceil(2.0 * math.log(2.0 * edges / delta) / (epsilon**2 / 2 - epsilon**3 / 3))


def _epsilon(epsilon: Any) -> float:
    e = float(epsilon)
    if not 0 < e < 1:
        raise ValueError(f"epsilon must lie in (0, 1), got {epsilon!r}")
    return e


def _delta(delta: Any) -> float:
    d = float(delta)
    if not 0 < d < 1:
        raise ValueError(f"delta must lie in (0, 1), got {delta!r}")
    return d


def graph_resistance(
    graph: Any,
    *,
    method: str = "auto",
    epsilon: float = 0.3,
    delta: float = 0.01,
    sketch_rows: int | None = None,
    seed: int = 0,
    tol: float = 1e-8,
    max_iterations: int = 1000,
    threads: int | None = None,
) -> Resistances:
    """Effective resistance of every edge of an undirected weighted graph.

    graph: an LPSGraph, a BiregularGraph (its bipartite adjacency), or a symmetric adjacency
      matrix with non-negative weights (scipy sparse, numpy, torch); zero entries are non-edges.
    method: "exact" (a dense inverse of L_c + a J/n_c per connected component, O(n_c^3)),
      "sketch" (Johnson-Lindenstrauss + Jacobi-preconditioned CG in the C++ core, multithreaded,
      deterministic for any thread count, Ctrl-C interruptible), or "auto" (exact while every
      component has at most 4096 vertices).
    epsilon, delta: the sketch's accuracy: every edge within (1 +- epsilon) with probability
      >= 1 - delta, through `sketch_size(epsilon, edges, delta)` rows unless `sketch_rows` is given.
    seed: the sketch's random signs; tol, max_iterations: per CG solve (relative residual).
    """
    start = time.perf_counter()
    if method not in ("auto", "exact", "sketch"):
        raise ValueError(f"method must be 'auto', 'exact' or 'sketch', got {method!r}")
    a, unit = _adjacency(graph)
    n = a.shape[0]
    loops = int(np.count_nonzero(np.repeat(np.arange(n), np.diff(a.indptr)) == a.indices))
    edges = (a.nnz - loops) // 2
    if method == "auto":
        count, labels = csgraph.connected_components(a, directed=False)
        largest = int(np.bincount(labels).max()) if n else 0
        method = "exact" if largest <= EXACT_LIMIT else "sketch"
    if method == "exact":
        values, comps = _exact_graph(a)
        return Resistances(values, a, "exact", comps, edges, seconds=time.perf_counter() - start)
    eps = _epsilon(epsilon)
    dl = _delta(delta)
    k = sketch_size(eps, edges, dl) if sketch_rows is None else as_int(sketch_rows, "sketch_rows")
    if k < 1:
        raise ValueError(f"sketch_rows must be a positive integer, got {k}")
    tol = float(tol)
    if not (0 < tol < 1):
        raise ValueError(f"tol must lie in (0, 1), got {tol}")
    max_iterations = as_int(max_iterations, "max_iterations")
    if not 1 <= max_iterations <= 2**31 - 1:
        raise ValueError(f"max_iterations must be a positive integer, got {max_iterations}")
    seed = as_int(seed, "seed")
    if not 0 <= seed < 2**64:
        raise ValueError(f"seed must be in [0, 2**64), got {seed}")
    check_memory(
        8 * (16 * 5 * n + 3 * a.nnz) + 16 * n,
        f"the sketch on {n:,} vertices and {a.nnz:,} stored entries",
        "use a smaller graph",
    )
    raw = _core.sketch_resistance(
        a.indptr, a.indices, None if unit else a.data, n, k, tol, max_iterations, seed, _threads(threads)
    )
    values, stderr = raw["resistance"], raw["stderr"]
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(values > 0, stderr / np.where(values > 0, values, 1.0), 0.0)
    z = math.sqrt(2.0 * math.log(2.0 * max(edges, 1) / dl))
    return Resistances(
        values=values,
        matrix=a,
        method="sketch",
        components=int(raw["components"]),
        edges=edges,
        epsilon=eps,
        delta=dl,
        sketch_rows=k,
        stderr=stderr,
        cg_residuals=raw["residuals"],
        cg_iterations=raw["iterations"],
        error_estimate=float(z * rel.max()) if rel.size else 0.0,
        converged=bool(raw["converged"]),
        seconds=time.perf_counter() - start,
    )


def _adjacency(graph: Any) -> tuple[sp.csr_array, bool]:
    """The graph's symmetric adjacency as a canonical float64 CSR without zeros, and whether all
    its weights are 1 (the core then reads no data)."""
    if isinstance(graph, LPSGraph):
        a = graph.adjacency
        return a, graph.multiplicities is None
    if isinstance(graph, BiregularGraph):
        return sp.csr_array(cast(Any, graph.adjacency), dtype=np.float64), True
    g = _from_torch(graph)
    if sp.issparse(g):
        a = sp.csr_array(cast(Any, g), dtype=np.float64)
    else:
        arr = np.asarray(g)
        if arr.ndim != 2:
            raise ValueError(f"graph must be a 2-d adjacency matrix, got shape {arr.shape}")
        if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise TypeError(f"graph must be numeric, got dtype {arr.dtype}")
        a = sp.csr_array(arr.astype(np.float64))
    if a.shape[0] != a.shape[1]:
        raise ValueError(
            f"graph must be a square symmetric adjacency, got shape {a.shape}; "
            "for a layer's m x n weight matrix use effective_resistance"
        )
    if not a.has_canonical_format or not np.all(a.data != 0):
        a = a.copy()  # the caller's arrays stay as they are
        a.sum_duplicates()
        a.eliminate_zeros()
    _check_weights(a.data, "graph")
    if a.nnz:
        asym = abs(a - a.T).max()
        if asym > 1e-12 * a.data.max():
            raise ValueError(f"graph must be symmetric (max |A - A^T| = {asym:.3g})")
    if a.indices.dtype != a.indptr.dtype:
        a.indices = a.indices.astype(np.int64)
        a.indptr = a.indptr.astype(np.int64)
    return a, bool(np.all(a.data == 1.0))


def _exact_graph(a: sp.csr_array) -> tuple[FloatArray, int]:
    """Exact R per stored entry: L_c^+ = (L_c + a J/n_c)^-1 - J/(a n_c) on every component c."""
    n = a.shape[0]
    count, labels = csgraph.connected_components(a, directed=False)
    sizes = np.bincount(labels, minlength=count)
    worst = int(sizes.max()) if n else 0
    check_memory(
        3 * 8 * worst * worst,
        f"the exact resistances (a dense {worst:,} x {worst:,} inverse)",
        "use method='sketch'",
    )
    rows = np.repeat(np.arange(n), np.diff(a.indptr))
    cols = a.indices.astype(np.int64)
    values = np.zeros(a.nnz)
    order = np.argsort(labels, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    local = np.empty(n, dtype=np.int64)
    entry_comp = labels[rows]
    entry_order = np.argsort(entry_comp, kind="stable")
    entry_bounds = np.searchsorted(entry_comp[entry_order], np.arange(count + 1))
    for c in range(count):
        verts = order[bounds[c] : bounds[c + 1]]
        if len(verts) < 2:
            continue  # an isolated vertex (or one with only a loop): no edge with resistance
        local[verts] = np.arange(len(verts))
        sub = a[verts][:, verts].toarray()
        np.fill_diagonal(sub, 0.0)  # loops do not enter the Laplacian
        lap = np.diag(sub.sum(axis=1)) - sub
        scale = float(np.mean(np.diag(lap)))
        nc = len(verts)
        p = np.linalg.inv(lap + scale / nc)
        p -= 1.0 / (scale * nc)
        sel = entry_order[entry_bounds[c] : entry_bounds[c + 1]]
        u, v = local[rows[sel]], local[cols[sel]]
        values[sel] = p[u, u] + p[v, v] - 2.0 * p[u, v]
    values[rows == cols] = 0.0
    return values, int(count)
