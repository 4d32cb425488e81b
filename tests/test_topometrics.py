"""Seed 004 topometrics (Table 2) against networkx / numpy references on small multipartite DAGs."""

import importlib
import importlib.util
import itertools
import math

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

import ramcore
from ramcore import MultipartiteGraph, motif4_counts, topometrics
from ramcore.topometrics import MOTIF_CLASSES, NORMALIZATION, TOPOMETRICS, spectral_gap
from sigint import assert_interrupted_in_core, interrupt_child, posix_signals

EXACT = {"sink", "source", "disconnected", "r_out", "r_in", "motifs4", "components", "cut_edges", "cut_nodes"}


def layered_graph(seed, sizes, density, residual=0, weighted=True):
    """A random multipartite DAG: edges between consecutive partitions with probability `density`,
    plus `residual` edges that skip one partition (i -> i + 2); weights |N(0, 1)| or ones."""
    rng = np.random.default_rng(seed)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    n = int(offsets[-1])
    dense = np.zeros((n, n))
    for i in range(len(sizes) - 1):
        block = rng.random((sizes[i], sizes[i + 1])) < density
        dense[offsets[i] : offsets[i + 1], offsets[i + 1] : offsets[i + 2]] = block
    for _ in range(residual):
        i = int(rng.integers(0, len(sizes) - 2))
        u = int(rng.integers(offsets[i], offsets[i + 1]))
        v = int(rng.integers(offsets[i + 2], offsets[i + 3]))
        dense[u, v] = 1
    if weighted:
        dense *= np.abs(rng.standard_normal((n, n))) + 0.01
    partition = np.repeat(np.arange(len(sizes)), sizes).astype(np.int32)
    names = ("input",) + tuple(f"layer{i}" for i in range(1, len(sizes)))
    return MultipartiteGraph(sp.csr_array(dense), partition, names, weighted=weighted)


def motif_class(h):
    degrees = tuple(sorted(d for _, d in h.degree()))
    return {
        (1, 1, 1, 3): "star",
        (1, 1, 2, 2): "path",
        (1, 2, 2, 3): "tailed_triangle",
        (2, 2, 2, 2): "cycle",
        (2, 2, 3, 3): "diamond",
        (3, 3, 3, 3): "clique",
    }[degrees]


def brute_force_motifs(g):
    """Connected induced 4-node subgraphs by class, over all 4-subsets."""
    u = g.to_undirected()
    counts = dict.fromkeys(MOTIF_CLASSES, 0)
    for s in itertools.combinations(g.nodes, 4):
        if nx.is_weakly_connected(g.subgraph(s)):
            counts[motif_class(u.subgraph(s))] += 1
    return counts


def paper_gap(spectrum):
    """Seed 004, Section 3.3: mu_0 - max{mu_i != mu_0} (NaN when every eigenvalue is mu_0)."""
    mu0 = spectrum[-1]
    other = spectrum[spectrum < mu0 - 1e-8 * abs(mu0)]
    return mu0 - other.max() if other.size else math.nan


def reference(adjacency, partition=None, last=None):
    """Raw topometrics from networkx and dense numpy, straight from the definitions."""
    g = nx.from_scipy_sparse_array(sp.csr_array(adjacency), create_using=nx.DiGraph)
    u = g.to_undirected()
    n = g.number_of_nodes()
    part = np.zeros(n, dtype=int) if partition is None else partition

    def keep(v, layer):
        return partition is None or part[v] != layer

    sinks = [v for v in g if g.out_degree(v) == 0 and g.in_degree(v) > 0 and keep(v, last)]
    sources = [v for v in g if g.in_degree(v) == 0 and g.out_degree(v) > 0 and keep(v, 0)]
    hops = [[len(nx.single_source_shortest_path_length(g, v, cutoff=k)) for v in g] for k in (1, 2)]
    components = list(nx.weakly_connected_components(g))
    w = np.abs(sp.csr_array(adjacency).toarray())
    sym = np.maximum(w, w.T)
    adjacency_spectrum = np.linalg.eigvalsh(sym)
    laplacian_spectrum = np.linalg.eigvalsh(np.diag(sym.sum(axis=1)) - sym)
    return {
        "sink": len(sinks),
        "source": len(sources),
        "disconnected": sum(1 for v in g if g.degree(v) == 0),
        "r_out": sum(g.out_degree(v) for v in sources),
        "r_in": sum(g.in_degree(v) for v in sinks),
        "n1": np.mean(hops[0]),
        "n2": np.mean(hops[1]),
        "motifs4": sum(brute_force_motifs(g).values()),
        "kcore": np.mean(list(nx.core_number(u).values())),
        "strength": np.mean([d for _, d in g.degree(weight="weight")]),
        "components": len(components),
        "component_size": np.mean([len(c) for c in components]),
        "cut_edges": len(list(nx.bridges(u))),
        "cut_nodes": len(list(nx.articulation_points(u))),
        "spectral_gap": paper_gap(adjacency_spectrum) if n > 1 else math.nan,
        "spectral_radius": laplacian_spectrum[-1],
    }


def assert_matches(got, ref):
    assert list(got) == list(TOPOMETRICS)
    for key in TOPOMETRICS:
        if key in EXACT:
            assert got[key] == ref[key], key
        elif key.startswith("spectral"):
            assert got[key] == pytest.approx(ref[key], rel=1e-9, abs=1e-9), key
        else:
            assert got[key] == pytest.approx(ref[key], rel=1e-13), key


GRAPHS = {
    "dense 4 layers": dict(seed=1, sizes=[4, 5, 4, 3], density=0.5),
    "sparse, disconnected, isolated nodes": dict(seed=2, sizes=[5, 6, 5, 2], density=0.15),
    "residual edges": dict(seed=3, sizes=[3, 4, 4, 3, 2], density=0.35, residual=6),
    "unweighted with residuals": dict(seed=4, sizes=[4, 4, 4, 4], density=0.3, residual=5, weighted=False),
    "two layers": dict(seed=5, sizes=[6, 7], density=0.3),
    "triangles and K4s": dict(seed=6, sizes=[3, 3, 3, 3], density=0.9, residual=12),
}


@pytest.mark.parametrize("name", list(GRAPHS))
def test_every_metric_matches_networkx(name):
    graph = layered_graph(**GRAPHS[name])
    ref = reference(graph.adjacency, graph.partition, len(graph.names) - 1)
    assert_matches(topometrics(graph, normalized=False), ref)


@pytest.mark.parametrize("name", list(GRAPHS))
def test_motif_classes_match_brute_force(name):
    graph = layered_graph(**GRAPHS[name])
    assert motif4_counts(graph) == brute_force_motifs(graph.to_networkx())


def test_general_directed_matrix_with_cycles_and_reciprocal_edges():
    """A bare scipy matrix: no partitions (footnote 4 excludes nothing); u -> v and v -> u are one
    undirected edge of weight max(|w_uv|, |w_vu|); negative weights count by absolute value in the
    spectra and as given in the strength."""
    rng = np.random.default_rng(7)
    for n, p in ((12, 0.3), (15, 0.15), (9, 0.6)):
        dense = (rng.random((n, n)) < p) * rng.standard_normal((n, n))
        np.fill_diagonal(dense, 0)
        a = sp.csr_array(dense)
        assert_matches(topometrics(a, normalized=False), reference(a))
        g = nx.from_scipy_sparse_array(a, create_using=nx.DiGraph)
        assert motif4_counts(a) == brute_force_motifs(g)


def test_footnote_4_excludes_first_and_last_partitions():
    # 0 -> 2, 1 isolated input; 2 -> 4 (4 in the last partition), 3 a source in the middle layer
    # feeding 5; 6 a sink in the middle layer fed by 0.
    dense = np.zeros((7, 7))
    for u, v in [(0, 2), (2, 4), (3, 5), (0, 6)]:
        dense[u, v] = 1.0
    part = np.array([0, 0, 1, 1, 2, 2, 1], dtype=np.int32)
    order = np.argsort(part, kind="stable")
    dense = dense[np.ix_(order, order)]  # partitions must be contiguous
    graph = MultipartiteGraph(sp.csr_array(dense), part[order], ("input", "a", "b"))
    got = topometrics(graph, normalized=False)
    assert (got["sink"], got["source"], got["disconnected"]) == (1, 1, 1)
    assert (got["r_out"], got["r_in"]) == (1, 1)
    bare = topometrics(graph.adjacency, normalized=False)  # no partitions: nothing excluded
    assert (bare["sink"], bare["source"]) == (3, 2)


def test_normalized_is_raw_divided_by_nodes_or_edges():
    graph = layered_graph(**GRAPHS["residual edges"])
    raw = topometrics(graph, normalized=False)
    norm = topometrics(graph)
    n, m = graph.num_nodes, graph.num_edges
    for key in TOPOMETRICS:
        by = {"nodes": n, "edges": m, None: 1}[NORMALIZATION[key]]
        assert norm[key] == raw[key] / by, key
    assert norm["n1"] == pytest.approx(1 / m + 1 / n)  # 1 + mean out-degree |E|/|V|, per |E|
    assert norm["component_size"] == pytest.approx(1 / raw["components"])


def test_memory_error_before_building(monkeypatch):
    graph = layered_graph(**GRAPHS["residual edges"])
    monkeypatch.setattr("ramcore.validation.available_memory", lambda: 1000)
    with pytest.raises(MemoryError, match=f"topometrics of a graph with {graph.num_nodes:,} nodes"):
        topometrics(graph)


def sparse_layered_graph(seed, layers, width, degree, residual):
    """A larger random multipartite DAG built sparsely: `degree` random out-edges per node into the
    next partition (duplicates merged), `residual` random edges skipping one partition."""
    rng = np.random.default_rng(seed)
    n = layers * width
    tails = np.repeat(np.arange(n - width), degree)
    heads = (tails // width + 1) * width + rng.integers(0, width, tails.size)
    skip = rng.integers(0, n - 2 * width, residual)
    skip_heads = (skip // width + 2) * width + rng.integers(0, width, residual)
    rows, cols = np.concatenate([tails, skip]), np.concatenate([heads, skip_heads])
    a = sp.csr_array((np.abs(rng.standard_normal(rows.size)), (rows, cols)), shape=(n, n))
    partition = np.repeat(np.arange(layers), width).astype(np.int32)
    return MultipartiteGraph(a, partition, tuple(f"p{i}" for i in range(layers)), weighted=True)


def test_deterministic_for_any_thread_count():
    """Large enough for many chunks in every parallel loop (> 2^16 edges)."""
    graph = sparse_layered_graph(seed=11, layers=8, width=2000, degree=5, residual=2000)
    assert graph.num_edges > 2**16
    one = topometrics(graph, normalized=False, threads=1)
    two = topometrics(graph, normalized=False, threads=2)
    assert one == two  # bit-identical floats, exact counts
    assert motif4_counts(graph, threads=1) == motif4_counts(graph, threads=2)


def test_graph_without_edges_and_single_node():
    empty = topometrics(sp.csr_array((5, 5)), normalized=False)
    assert empty["disconnected"] == 5 and empty["components"] == 5 and empty["motifs4"] == 0
    assert math.isnan(empty["spectral_gap"]) and empty["spectral_radius"] == 0  # no mu_i != mu_0
    assert topometrics(sp.csr_array((5, 5)), normalized=False, gap="multiplicity")["spectral_gap"] == 0
    normalized = topometrics(sp.csr_array((5, 5)))
    assert math.isnan(normalized["r_out"]) and normalized["disconnected"] == 1.0
    single = topometrics(sp.csr_array((1, 1)), normalized=False)
    assert math.isnan(single["spectral_gap"]) and single["component_size"] == 1


def test_repeated_top_eigenvalue():
    """Two identical components: lambda_1 has multiplicity 2 (a single Krylov space sees it once).
    The paper's gap skips the copy (mu_hat = the largest eigenvalue != mu_0); with multiplicity it
    is 0."""
    block = sp.csr_array(np.array([[0, 1, 1], [0, 0, 1], [0, 0, 0]], dtype=float))  # a triangle in U
    graph = sp.block_diag([block, block], format="csr")
    got = topometrics(graph, normalized=False)
    assert got["spectral_gap"] == pytest.approx(3.0, abs=1e-9)  # spectrum of K3: 2, -1, -1
    assert got["spectral_radius"] == pytest.approx(3)
    multiplicity = topometrics(graph, normalized=False, gap="multiplicity")["spectral_gap"]
    assert multiplicity == pytest.approx(0, abs=1e-9)


def _gap_cases():
    """Graphs whose top eigenvalue repeats in different ways, beside simple ones."""
    def csr(g):
        return sp.csr_array(nx.to_scipy_sparse_array(g, dtype=float))

    weighted = sp.random(60, 60, density=0.08, random_state=8, format="csr")
    weighted.setdiag(0)
    weighted.eliminate_zeros()
    big = nx.disjoint_union(nx.cycle_graph(600), nx.cycle_graph(600))  # components past the dense limit
    k33 = np.kron([[0, 1], [1, 0]], np.full((3, 3), 2.0))
    return {
        "two cycles": csr(nx.disjoint_union(nx.cycle_graph(6), nx.cycle_graph(6))),
        "perfect matching": csr(nx.Graph([(0, 1), (2, 3), (4, 5)])),
        "star and isolated nodes": csr(nx.disjoint_union(nx.star_graph(4), nx.empty_graph(3))),
        "a cycle and a smaller path": csr(nx.disjoint_union(nx.cycle_graph(8), nx.path_graph(3))),
        "weighted directed": weighted,
        "two large cycles": csr(big),
        "K3,3 twice, weighted": sp.csr_array(sp.block_diag([k33] * 2)),
    }


@pytest.mark.parametrize("name", list(_gap_cases()))
def test_spectral_gap_definitions_against_dense(name):
    a = _gap_cases()[name]
    w = np.abs(a.toarray())
    ev = np.linalg.eigvalsh(np.maximum(w, w.T))
    mags = np.sort(np.abs(ev))[::-1]
    assert spectral_gap(a) == pytest.approx(paper_gap(ev), abs=1e-8)
    assert spectral_gap(a, gap="multiplicity") == pytest.approx(ev[-1] - ev[-2], abs=1e-8)
    assert spectral_gap(a, gap="authors") == pytest.approx(mags[0] - mags[2], abs=1e-8)


def test_spectral_gap_bad_definition():
    with pytest.raises(ValueError, match="gap must be one of"):
        spectral_gap(sp.csr_array((3, 3)), "lambda2")
    with pytest.raises(ValueError, match="gap must be one of"):
        topometrics(sp.csr_array((3, 3)), gap="")


def test_inputs_are_canonicalised():
    """Explicit zeros are not edges, duplicates are summed, unsorted rows and int64/bool inputs work."""
    graph = layered_graph(**GRAPHS["dense 4 layers"])
    want = topometrics(graph.adjacency, normalized=False)
    a = graph.adjacency.tocoo()
    rows = np.concatenate([a.row, a.row[:3], [0]])
    cols = np.concatenate([a.col, a.col[:3], [1]])
    vals = np.concatenate([a.data, np.zeros(3), [0.0]])  # duplicates adding 0, one explicit zero
    messy = sp.csr_matrix((vals, (rows, cols)), shape=a.shape)
    messy.indices = messy.indices.astype(np.int64)
    messy.indptr = messy.indptr.astype(np.int64)
    assert topometrics(messy, normalized=False) == want
    pattern = topometrics(graph.adjacency.astype(bool), normalized=False)
    assert {k: v for k, v in pattern.items() if k in EXACT} == {k: v for k, v in want.items() if k in EXACT}


@pytest.mark.parametrize(
    "graph, kwargs, error, match",
    [
        ("not a graph", {}, TypeError, "graph must be"),
        (np.zeros((3, 3)), {}, TypeError, "graph must be"),
        (sp.csr_array((3, 4)), {}, ValueError, "square"),
        (sp.csr_array((0, 0)), {}, ValueError, "at least one node"),
        (sp.csr_array(np.array([[0, 1j], [0, 0]])), {}, TypeError, "real"),
        (sp.csr_array(np.array([[0, np.nan], [0, 0.0]])), {}, ValueError, "NaN"),
        (sp.csr_array(np.array([[0, 1.0], [0, 1.0]])), {}, ValueError, "self-loops.*node 1"),
        (sp.csr_array((3, 3)), {"normalized": 1}, TypeError, "normalized"),
        (sp.csr_array((3, 3)), {"progress": "yes"}, TypeError, "progress"),
        (sp.csr_array((3, 3)), {"threads": 0}, ValueError, "threads"),
        (sp.csr_array((3, 3)), {"threads": 1.5}, TypeError, "threads"),
    ],
)
def test_bad_inputs_raise(graph, kwargs, error, match):
    with pytest.raises(error, match=match):
        topometrics(graph, **kwargs)


def test_core_checks_its_csr():
    indptr = np.array([0, 2, 2, 2], dtype=np.int32)
    with pytest.raises(ValueError, match="row 0"):
        ramcore._core.Topology(indptr, np.array([2, 1], dtype=np.int32), None, 3)  # unsorted
    with pytest.raises(ValueError, match="row 0"):
        ramcore._core.Topology(indptr, np.array([0, 1], dtype=np.int32), None, 3)  # self-loop
    with pytest.raises(ValueError, match="indptr"):
        ramcore._core.Topology(indptr, np.array([1, 2], dtype=np.int32), None, 4)


def test_progress_bar(capsys):
    graph = layered_graph(**GRAPHS["two layers"])
    topometrics(graph, progress=False)
    assert capsys.readouterr().err == ""
    topometrics(graph, progress=True)
    err = capsys.readouterr().err  # not a terminal: a status line at the end (ramcore.progress)
    assert "topometrics: 16/16 metrics" in err


SETUP = """
import numpy as np, scipy.sparse as sp, ramcore
rng = np.random.default_rng(0)
n, m = 400_000, 6_000_000
a = sp.csr_array((np.ones(m), (rng.integers(0, n, m), rng.integers(0, n, m))), shape=(n, n))
a.setdiag(0)
a.eliminate_zeros()
"""


@posix_signals
@pytest.mark.parametrize("after_cpu", [0.3, 2.0])  # building U (sequential), motifs (parallel)
def test_ctrl_c_raises_keyboard_interrupt_quickly(after_cpu):
    # CPU-seconds into the call, not wall seconds: the same point of the work however loaded the machine
    assert_interrupted_in_core(interrupt_child(SETUP, "ramcore.topometrics(a, threads=1)", after_cpu))


def test_unconverged_spectra_are_nan_with_a_warning():
    class Unconverged:  # a Topology whose Lanczos run did not converge
        def spectrum(self, which, tol, max_restarts, keep):
            return {"values": np.array([3.0, 2.0]), "residuals": np.array([0.5, 0.5]), "matvecs": 7,
                    "converged": False}  # fmt: skip

    tm = importlib.import_module("ramcore.topometrics")  # the module (ramcore.topometrics is the function)
    with pytest.warns(tm.ConvergenceWarning, match="spectral_gap is NaN"):
        values = tm.topology_spectrum(Unconverged(), "adjacency", "spectral_gap")
    assert np.isnan(values).all() and len(values) == 2
