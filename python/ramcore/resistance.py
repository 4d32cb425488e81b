"""Effective resistances (seed 002; Spielman & Srivastava 2011), exact and sketched.

R(u, v) = (e_u - e_v)^T L^+ (e_u - e_v) for the graph Laplacian L = D - A.

The exact resistances of one layer's bipartite graph (`effective_resistance`, by the Schur
complement) live in `ramcore.layers.resistance` and are re-exported here.

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
from .graphs import RamanujanFamily
from .interop import as_csr, check_symmetric
from .layers.bipartite import check_weights
from .layers.resistance import effective_resistance  # re-exported: one layer's exact resistances
from .progress import check_progress, core_progress
from .validation import check_memory, core_seed, fraction, nonnegative_int, positive_int, tolerance
from .validation import threads as _threads

__all__ = ["Resistances", "effective_resistance", "graph_resistance", "sketch_size"]

FloatArray = npt.NDArray[np.float64]
EXACT_LIMIT = 4096  # graph_resistance(method="auto"): components up to this size are solved densely


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
    edges = max(nonnegative_int(edges, "edges"), 1)
    denominator = epsilon**2 / 2 - epsilon**3 / 3  # 0.0 once epsilon**2 underflows
    log_term = math.log(2.0 * edges) - math.log(delta)  # ln(2 edges / delta), finite for a subnormal delta
    rows = 2.0 * log_term / denominator if denominator > 0 else math.inf
    if not rows < 2**63:
        raise ValueError(f"epsilon = {epsilon!r} is too small: the sketch would need over 2**63 rows")
    return math.ceil(rows)


def _epsilon(epsilon: Any) -> float:
    return fraction(epsilon, "epsilon", "the relative accuracy of every resistance")


def _delta(delta: Any) -> float:
    return fraction(delta, "delta", "the failure probability")


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
    progress: bool | None = None,
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

    progress: the sketch's solves and the current block's residual while they run (see
      `ramcore.progress`: None shows a bar on a terminal once the sketch has taken 2 s).
    """
    check_progress(progress)
    start = time.perf_counter()
    if method not in ("auto", "exact", "sketch"):
        raise ValueError(f"method must be 'auto', 'exact' or 'sketch', got {method!r}")
    # every argument checked before any work, whichever method runs
    eps, dl, tol = _epsilon(epsilon), _delta(delta), tolerance(tol, "tol")
    rows = None if sketch_rows is None else positive_int(sketch_rows, "sketch_rows")
    max_iterations = positive_int(max_iterations, "max_iterations", 2**31 - 1)
    seed = core_seed(seed)
    core_threads = _threads(threads)
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
    k = sketch_size(eps, edges, dl) if rows is None else rows
    check_memory(
        8 * (16 * 5 * n + 3 * a.nnz) + 16 * n,
        f"the sketch on {n:,} vertices and {a.nnz:,} stored entries",
        "use a smaller graph",
    )
    with core_progress("resistance sketch", "solve", progress) as report:
        raw = _core.sketch_resistance(
            a.indptr, a.indices, None if unit else a.data, n, k, tol, max_iterations, seed, core_threads,
            progress=report,
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
    if isinstance(graph, RamanujanFamily):  # symmetric, canonical and positive by construction
        return sp.csr_array(cast(Any, graph.adjacency), dtype=np.float64), graph.biadjacency_weights is None
    a = as_csr(graph, "graph")
    check_symmetric(a, "graph", "for a layer's m x n weight matrix use effective_resistance")
    if not a.has_canonical_format or not np.all(a.data != 0):
        a = a.copy()  # the caller's arrays stay as they are
        a.sum_duplicates()
        a.eliminate_zeros()
    check_weights(a.data, "graph")
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
