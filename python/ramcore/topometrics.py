"""The 16 topometrics of seed 004 (Cunegatti et al., "Understanding Sparse Neural Networks from their
Topology via Multipartite Graph Representations", TMLR 2024, Section 3.3 and Table 2), computed
exactly by ramcore's C++ core on the CSR of a directed (multipartite) graph.

`topometrics(graph)` returns them in Table 2 order; `motif4_counts(graph)` splits the motif count
into its six classes as exact integers. The core releases the GIL, runs on all cores with results
bit-identical for any thread count, and Ctrl-C interrupts it.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp

from . import _core
from .multipartite import MultipartiteGraph
from .progress import Progress, check_progress
from .spectral import eigs, two_pass_keep_bytes
from .validation import check_memory
from .validation import threads as _threads

__all__ = [
    "TOPOMETRICS",
    "build_topology",
    "topology_spectrum",
    "NORMALIZATION",
    "MOTIF_CLASSES",
    "ConvergenceWarning",
    "topometrics",
    "motif4_counts",
    "GAP_DEFINITIONS",
    "spectral_gap",
]

# Table 2 order.
TOPOMETRICS = (
    "sink",
    "source",
    "disconnected",
    "r_out",
    "r_in",
    "n1",
    "n2",
    "motifs4",
    "kcore",
    "strength",
    "components",
    "component_size",
    "cut_edges",
    "cut_nodes",
    "spectral_gap",
    "spectral_radius",
)

# What each metric is divided by when normalized=True: the number of nodes |V|, of directed edges
# |E|, or nothing. Footnote 7 says only "normalized based on the number of nodes/edges"; the
# divisors follow the seed's published topometrics table (mge-snn, graph_data/graph_metrics/
# unrolled) where it determines them: sink/source/disconnected are fractions of |V|; 1-hop * |E|
# = 1 + |E|/|V| exactly (igraph counts the root, and so do we); strength is equal at 95 % and 98 % sparsity,
# which only a division by |E| gives (2 mean|w| / |V|); k-core * |E| gives mean core numbers 3.1
# and 7.6 there (* |V|: 1.1 at both), and the motif counts grow between the two roughly as the |E|
# division predicts; components are raw counts and the mean component size is per |V| (= 1/C);
# the spectra are raw. r_out/r_in are per |E| by their definition in Section 3.3. The table does
# not determine cut-edges/cut-nodes: they are divided by |E| and |V|, what they count.
NORMALIZATION: dict[str, str | None] = {
    "sink": "nodes",
    "source": "nodes",
    "disconnected": "nodes",
    "r_out": "edges",
    "r_in": "edges",
    "n1": "edges",
    "n2": "edges",
    "motifs4": "edges",
    "kcore": "edges",
    "strength": "edges",
    "components": None,
    "component_size": "nodes",
    "cut_edges": "edges",
    "cut_nodes": "nodes",
    "spectral_gap": None,
    "spectral_radius": None,
}

MOTIF_CLASSES = ("star", "path", "tailed_triangle", "cycle", "diamond", "clique")

# Show a progress bar by default from this many edges on (when stderr is a terminal).
PROGRESS_EDGES = 1_000_000
# Lanczos tolerance (relative residual) and restarts for the two spectral metrics.
TOL = 1e-10
MAX_RESTARTS = 1000


# The spectral gap's definitions (see `spectral_gap`): the paper's (default), with multiplicity,
# and the one the seed's public code computes.
GAP_DEFINITIONS = ("paper", "multiplicity", "authors")
# Components up to this size get a dense spectrum in the paper's gap (Lanczos beyond).
DENSE_COMPONENT = 512


class ConvergenceWarning(RuntimeWarning):
    """The Lanczos solver did not reach its tolerance for a spectral topometric."""


def topometrics(
    graph: MultipartiteGraph | Any,
    normalized: bool = True,
    progress: bool | None = None,
    threads: int | None = None,
    gap: str = "paper",
) -> dict[str, float]:
    """The 16 topometrics of seed 004 (Table 2), exact, in Table 2 order.

    graph: a `MultipartiteGraph`, or a square scipy.sparse matrix read as a directed graph
      (entry (u, v) != 0 is the edge u -> v with that weight; explicit zeros are not edges,
      duplicate entries are summed). Self-loops are refused. A bare matrix has no partitions, so
      footnote 4 excludes no layer: wrap it in a `MultipartiteGraph` for that.
    normalized: divide by `|V|` or `|E|` as listed in `NORMALIZATION` (footnote 7); False gives the raw
      values. A metric divided by `|E|` is NaN for a graph without edges.

    progress: progress per metric (`ramcore.progress`): True always (a bar on a terminal, status
      lines elsewhere), None a bar for graphs of at least 10^6 edges when stderr is a terminal.

    threads: threads for the core (None: all cores). Results do not depend on it.
    gap: the spectral gap's definition, one of `GAP_DEFINITIONS` (see `spectral_gap`).

    The metrics (`|V|` nodes, `|E|` directed edges; "U" is the undirected simple graph of the edges,
    direction dropped and u -> v, v -> u merged into one edge of weight max(`|w_uv|`, `|w_vu|`)):

    - sink: nodes with out-degree 0 and in-degree > 0, outside the last partition (footnote 4).
      / `|V|`.
    - source: nodes with in-degree 0 and out-degree > 0, outside the first partition. / `|V|`.
    - disconnected: nodes with neither in- nor out-edges, in any partition (the three node sets are
      disjoint, as in the seed's code). / `|V|`.
    - r_out: removable out-connections, the sum of the sources' out-degrees. / `|E|` (Section 3.3).
    - r_in: removable in-connections, the sum of the sinks' in-degrees. / `|E|`.
    - n1, n2: mean over nodes of N_k(a), the number of nodes reachable from a along at most k
      edges in their direction, a itself included (the seed's igraph neighborhood_size(mode="out")
      counts the root). n1 = 1 + `|E|`/`|V|` raw. / `|E|`, which gives the seed's published values.
    - motifs4: the number of 4-node sets whose induced subgraph is (weakly) connected: the six
      connected simple graphs on 4 nodes in U (star, path, tailed triangle, 4-cycle, diamond,
      K4), direction ignored since a 4-set's weak connectivity does not depend on it. Exact, where
      the seed sampled FANMOD/RAND-ESU estimates. / `|E|`. `motif4_counts` gives the classes.
    - kcore: mean core number on U (Batagelj & Zaversnik 2003). / `|E|`.
    - strength: mean node strength S(a) = sum of the weights of the edges at a, in and out, as
      given (a `MultipartiteGraph` stores `|W|`): 2 sum(w) / `|V|`. / `|E|`.
    - components: weakly connected components, isolated nodes included. Raw.
    - component_size: mean component size `|V|` / components. / `|V|`.
    - cut_edges: bridges of U. / `|E|`.
    - cut_nodes: articulation points of U. / `|V|`.
    - spectral_gap: mu_0 - mu_hat of the adjacency `|W|` of U (footnote 5: undirected, absolute
      weights), mu_hat the largest eigenvalue different from mu_0 (Section 3.3), or as `gap`
      chooses (`spectral_gap`). NaN for a single node. Raw.
    - spectral_radius: the largest eigenvalue of the Laplacian D - `|W|` of U. Raw.

    The spectra come from the core's two-pass Lanczos (relative residual tolerance 1e-10, so the
    eigenvalues are exact to about 1e-10 `|lambda_1|`); a value it did not converge to is NaN, with
    a `ConvergenceWarning` saying why.
    """
    if not isinstance(normalized, bool):
        raise TypeError(f"normalized must be a bool, got {type(normalized).__name__} {normalized!r}")
    _check_gap(gap)
    progress = check_progress(progress)
    topo, partition, first, last = build_topology(graph, threads)
    n, m = topo.num_nodes, topo.num_edges
    if progress is None and m < PROGRESS_EDGES:
        progress = False  # small graphs take well under a second

    raw: dict[str, float] = {}
    with Progress(len(TOPOMETRICS), "topometrics", "metric", progress) as bar:
        local = topo.local(partition, first, last)
        raw["sink"] = local["sinks"]
        raw["source"] = local["sources"]
        raw["disconnected"] = local["disconnected"]
        raw["r_out"] = local["removable_out"]
        raw["r_in"] = local["removable_in"]
        bar.update(5, "n1")
        one_hop, two_hop = topo.neighbourhoods()
        raw["n1"] = 1.0 + one_hop / n  # + 1: the root counts, as in igraph and the seed's table
        raw["n2"] = 1.0 + two_hop / n
        bar.update(2, "motifs4")
        raw["motifs4"] = float(sum(topo.motifs4().values()))
        bar.update(1, "kcore")
        raw["kcore"] = topo.core_number_sum() / n
        bar.update(1, "strength")
        raw["strength"] = 2.0 * topo.weight_sum() / n
        bar.update(1, "components")
        conn = topo.connectivity()
        raw["components"] = conn["components"]
        raw["component_size"] = n / conn["components"]
        raw["cut_edges"] = conn["bridges"]
        raw["cut_nodes"] = conn["articulation_points"]
        bar.update(4, "spectral_gap")
        raw["spectral_gap"] = _gap(graph, topo, gap) if n >= 2 else math.nan
        bar.update(1, "spectral_radius")
        raw["spectral_radius"] = float(topology_spectrum(topo, "laplacian", "spectral_radius")[0])
        bar.update(1, "")

    out = {key: float(raw[key]) for key in TOPOMETRICS}
    if normalized:
        sizes = {"nodes": n, "edges": m}
        for key, by in NORMALIZATION.items():
            if by is not None:
                out[key] = out[key] / sizes[by] if sizes[by] else math.nan
    return out


def spectral_gap(graph: MultipartiteGraph | Any, gap: str = "paper", threads: int | None = None) -> float:
    """The spectral gap of a network's encoding (seed 004, topometric 15), on the adjacency `|W|`
    of its undirected simple graph U (the same inputs and U as `topometrics`, whose `gap` is this).

    gap:

    - "paper" (default): gamma = mu_0 - mu_hat with mu_hat = max over eigenvalues mu_i != mu_0
      (Section 3.3). When mu_0 repeats (U disconnected, with several components attaining it:
      by Perron-Frobenius it is simple on each connected component), mu_hat is the largest of the
      other components' top eigenvalues and of the second eigenvalues of the components that
      attain mu_0. Eigenvalues within 1e-8 mu_0 of mu_0 count as mu_0.
    - "multiplicity": lambda_1 - lambda_2 with the eigenvalues counted with multiplicity, so 0
      whenever mu_0 repeats.
    - "authors": `|lambda|_(1) - |lambda|_(3)`, the first minus the third largest eigenvalue
      magnitude, as the seed's public code computes it (the second magnitude is skipped, which
      for a bipartite U is -mu_0).

    NaN for a single node (and for "authors", fewer than 3 nodes).
    """
    _check_gap(gap)
    topo = build_topology(graph, threads)[0]
    return _gap(graph, topo, gap) if topo.num_nodes >= 2 else math.nan


def _check_gap(definition: Any) -> None:
    if definition not in GAP_DEFINITIONS:
        raise ValueError(f"gap must be one of {GAP_DEFINITIONS}, got {definition!r}")


def _gap(graph: Any, topo: _core.Topology, definition: str) -> float:
    if definition == "authors":
        return _authors_gap(_undirected(graph))
    top = topology_spectrum(topo, "adjacency", "spectral_gap")
    gap = float(top[0] - top[1])
    if definition == "multiplicity" or not gap <= SAME * abs(float(top[0])):
        return gap  # mu_0 simple (or NaN: unconverged): the two definitions agree
    return _distinct_gap(_undirected(graph), float(top[0]))


SAME = 1e-8  # relative distance within which an eigenvalue counts as mu_0


def _undirected(graph: Any) -> sp.csr_array:
    """U's adjacency: `|W|`, direction dropped, u -> v and v -> u merged by the larger weight."""
    a: Any = graph.adjacency if isinstance(graph, MultipartiteGraph) else graph
    a = abs(sp.csr_array(a, dtype=np.float64))
    u: sp.csr_array = sp.csr_array(a.maximum(a.T))
    u.eliminate_zeros()
    return u


def _distinct_gap(u: sp.csr_array, mu0: float) -> float:
    """mu_0 - max{mu_i != mu_0} through U's connected components (mu_0 repeated)."""
    count, labels = sp.csgraph.connected_components(u, directed=False)
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(count + 1))
    hat = -math.inf
    for c in range(count):
        nodes = order[bounds[c] : bounds[c + 1]]
        top = _component_top_two(u[nodes][:, nodes])
        if top[0] >= mu0 - SAME * abs(mu0):  # attains mu_0: its next eigenvalue competes
            hat = max(hat, top[1])
        else:
            hat = max(hat, top[0])
    return mu0 - hat if math.isfinite(hat) else math.nan


def _component_top_two(c: sp.csr_array) -> tuple[float, float]:
    """The two largest eigenvalues of a connected component (-inf for the second of one node)."""
    if c.shape[0] == 1:
        return 0.0, -math.inf
    ev = _extreme(c, 2, "LA", "a component's two largest eigenvalues")
    return (math.nan, math.nan) if ev is None else (float(ev[0]), float(ev[1]))


def _authors_gap(u: sp.csr_array) -> float:
    """`|lambda|_(1) - |lambda|_(3)` of U (the seed's code)."""
    if u.shape[0] < 3:
        return math.nan
    ev = _extreme(u, 3, "LM", "the three largest eigenvalue magnitudes")
    if ev is None:
        return math.nan
    mags = np.sort(np.abs(ev))[::-1]
    return float(mags[0] - mags[2])


def _extreme(a: sp.csr_array, k: int, which: str, what: str) -> np.ndarray | None:
    """The k eigenvalues of symmetric `a` first in `which` order ("LA" largest, "LM" largest
    magnitude): dense up to DENSE_COMPONENT nodes, Lanczos beyond; None, with a
    ConvergenceWarning naming `what`, when Lanczos did not converge."""
    if a.shape[0] <= DENSE_COMPONENT:
        ev = np.linalg.eigvalsh(a.toarray())
        order = np.argsort(-ev if which == "LA" else -np.abs(ev), kind="stable")
        return ev[order[:k]]
    res = eigs(a, k, which=which, tol=TOL, max_restarts=MAX_RESTARTS)
    if not res.converged:
        warnings.warn(
            f"spectral_gap: {what} did not converge (residuals {res.residuals}); spectral_gap is NaN",
            ConvergenceWarning,
            stacklevel=5,
        )
        return None
    return np.asarray(res.values)


def motif4_counts(graph: MultipartiteGraph | Any, threads: int | None = None) -> dict[str, int]:
    """Exact counts of the connected induced 4-node subgraphs of the graph's undirected simple
    graph, by class: star (K_1,3), path (P_4), tailed_triangle (a triangle with a pendant edge),
    cycle (C_4), diamond (K_4 minus an edge), clique (K_4). Their sum is `topometrics`' raw
    motifs4. Same inputs as `topometrics`."""
    topo = build_topology(graph, threads)[0]
    counts = topo.motifs4()
    return {key: int(counts[key]) for key in MOTIF_CLASSES}


def build_topology(
    graph: Any, threads: int | None = None
) -> tuple[_core.Topology, np.ndarray | None, int, int]:
    """The core's Topology of `graph` (the input checks and the undirected simple graph U that every
    metric group works on), with the partition and the first/last partition labels; what
    `topometrics` builds first, public so that its parts can be timed (benchmarks)."""
    threads = _threads(threads)
    partition: np.ndarray | None = None
    first = last = 0
    if isinstance(graph, MultipartiteGraph):
        a: Any = graph.adjacency
        partition = np.ascontiguousarray(graph.partition, dtype=np.int32)
        last = len(graph.names) - 1
    elif sp.issparse(graph):
        a = graph
    else:
        raise TypeError(
            f"graph must be a ramcore.MultipartiteGraph or a square scipy.sparse matrix, "
            f"got {type(graph).__name__}"
        )
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"graph must be a square matrix (an adjacency), got shape {a.shape}")
    n = int(a.shape[0])
    if n == 0:
        raise ValueError("graph must have at least one node")
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer) or a.dtype == bool):
        raise TypeError(f"graph must have real (or boolean) weights, got dtype {a.dtype}")
    m: Any = sp.csr_array(a)
    if m.dtype != np.float64:
        m = m.astype(np.float64)
    if not m.has_canonical_format:  # duplicates summed, rows sorted
        m = m.copy()
        m.sum_duplicates()
    if not np.all(m.data != 0):
        m = m.copy()
        m.eliminate_zeros()
    if not np.all(np.isfinite(m.data)):
        raise ValueError("graph has NaN or infinite edge weights")
    loops = np.flatnonzero(m.diagonal())
    if loops.size:
        raise ValueError(
            f"graph must have no self-loops (a network encoding never has them); node {loops[0]} has one"
        )
    # U stores every edge twice: 32-bit indices while that fits, as the core requires.
    index = np.int32 if 2 * m.nnz < 2**31 - 1 and n < 2**31 - 1 else np.int64
    size = np.dtype(index).itemsize
    # U (every edge twice, with its weight) and about a dozen per-node arrays (degrees, core
    # numbers, DFS stacks, Lanczos vectors; the kept Lanczos vectors have their own budget).
    check_memory(
        2 * m.nnz * (size + 8) + n * (2 * size + 96),
        f"topometrics of a graph with {n:,} nodes and {m.nnz:,} edges",
        "encode a smaller input or sparser masks",
    )
    indptr = np.ascontiguousarray(m.indptr, dtype=index)
    indices = np.ascontiguousarray(m.indices, dtype=index)
    topo = _core.Topology(indptr, indices, np.ascontiguousarray(m.data), n, threads)
    return topo, partition, first, last


def topology_spectrum(topo: _core.Topology, which: str, name: str) -> np.ndarray:
    """Lanczos on a Topology: "adjacency" (the two largest eigenvalues of `|W|`) or "laplacian" (its
    largest). Values that did not converge are NaN, with a `ConvergenceWarning` saying why."""
    res = topo.spectrum(which, TOL, MAX_RESTARTS, two_pass_keep_bytes())
    if not res["converged"]:
        warnings.warn(
            f"{name}: the Lanczos solver did not converge to the relative tolerance {TOL:g} in "
            f"{res['matvecs']} matrix-vector products (residuals {res['residuals']}); {name} is NaN",
            ConvergenceWarning,
            stacklevel=3,
        )
        return np.full(len(res["values"]), math.nan)
    values: np.ndarray = res["values"]
    return values
