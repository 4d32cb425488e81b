import math

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import csgraph

import ramcore
from ramcore.layers.bipartite import biadjacency
from ramcore.resistance import EXACT_LIMIT, sketch_size

RTOL = 1e-9


def random_layer(m, n, density, seed, zero_rows=(), zero_cols=()):
    rng = np.random.default_rng(seed)
    w = rng.exponential(size=(m, n)) * (rng.random((m, n)) < density)
    w[list(zero_rows), :] = 0.0
    w[:, list(zero_cols)] = 0.0
    return w


def layer_adjacency(w):
    m, n = w.shape
    a = np.zeros((m + n, m + n))
    a[:m, m:] = w
    a[m:, :m] = w.T
    return a


def pinv_pairs(a):
    """The seed's method: R(u, v) from the pseudo-inverse of the whole Laplacian, inf across
    components (the pseudo-inverse of a block-diagonal Laplacian is block-diagonal)."""
    lap = np.diag(a.sum(axis=1)) - a
    p = np.linalg.pinv(lap, hermitian=True)
    d = np.diag(p)
    r = d[:, None] + d[None, :] - 2 * p
    _, labels = csgraph.connected_components(sp.csr_array(a), directed=False)
    return np.where(labels[:, None] == labels[None, :], r, np.inf), labels


def assert_resistances(got, ref):
    assert got.shape == ref.shape
    finite = np.isfinite(ref)
    assert np.array_equal(np.isfinite(got), finite)
    assert np.all(np.isinf(got[~finite]) & (got[~finite] > 0))
    np.testing.assert_allclose(got[finite], ref[finite], rtol=RTOL, atol=0)


# --- exact, one bipartite layer --------------------------------------------------------------------


@pytest.mark.parametrize(
    "m,n,density,zero_rows,zero_cols",
    [
        (9, 6, 1.0, (), ()),  # dense, connected
        (6, 9, 1.0, (), ()),  # the smaller side is the rows
        (30, 20, 0.12, (), ()),  # sparse: several components
        (25, 25, 0.5, (3, 7), (0,)),  # isolated neurons
        (1, 1, 1.0, (), ()),
        (1, 7, 1.0, (), ()),
        (12, 1, 1.0, (), ()),
        (8, 5, 0.0, (), ()),  # no edges at all: every pair is infinite
    ],
)
def test_layer_against_pinv_of_the_whole_laplacian(m, n, density, zero_rows, zero_cols):
    w = random_layer(m, n, density, seed=m * 31 + n, zero_rows=zero_rows, zero_cols=zero_cols)
    ref, _ = pinv_pairs(layer_adjacency(w))
    got = ramcore.effective_resistance(w)
    assert_resistances(got, ref[:m, m:])
    sparse = ramcore.effective_resistance(sp.csr_array(w))
    assert isinstance(sparse, sp.csr_array) and sparse.nnz == np.count_nonzero(w)
    np.testing.assert_allclose(sparse.toarray()[w > 0], got[w > 0], rtol=RTOL)


def test_disconnected_layer_blocks():
    """Two dense blocks and an isolated row: a pseudo-inverse of one Schur complement over the
    whole layer would mix the components; each is solved on its own."""
    w = np.zeros((7, 5))
    w[:3, :2] = [[1, 2], [3, 4], [5, 6]]
    w[3:6, 2:] = np.arange(1, 10).reshape(3, 3)
    ref, _ = pinv_pairs(layer_adjacency(w))
    got = ramcore.effective_resistance(w)
    assert_resistances(got, ref[:7, 7:])
    assert np.isinf(got[6]).all() and np.isinf(got[:3, 2:]).all()
    assert np.isfinite(got[:3, :2]).all()


def test_zero_entries_get_the_pair_resistance():
    """A zero entry is not an edge: R there is the resistance between its two neurons."""
    w = np.ones((4, 3))
    w[0, 0] = 0.0
    got = ramcore.effective_resistance(w)
    ref, _ = pinv_pairs(layer_adjacency(w))
    np.testing.assert_allclose(got[0, 0], ref[0, 4 + 0], rtol=RTOL)
    ring = np.eye(3)  # three disjoint edges: off-diagonal pairs lie in different components
    r = ramcore.effective_resistance(ring)
    np.testing.assert_array_equal(r, np.where(np.eye(3) > 0, 1.0, np.inf))


def test_against_networkx():
    w = random_layer(8, 6, 0.7, seed=5)
    w[0] += 0.5  # the first row touches every column: connected
    g = nx.Graph()
    for i, j in zip(*np.nonzero(w)):
        g.add_edge(("in", i), ("out", j), weight=w[i, j])
    got = ramcore.effective_resistance(w)
    for i in range(8):
        for j in range(6):
            ref = nx.resistance_distance(g, ("in", i), ("out", j), weight="weight", invert_weight=False)
            assert got[i, j] == pytest.approx(ref, rel=RTOL)


def test_conv_layout_matches_the_rolled_biadjacency():
    """A Conv weight (out, in, kh, kw) is the graph between in*kh*kw inputs and out outputs
    (docs/design.md, section 4, as ramanujan_gap reads it); R comes back in the weight's shape."""
    rng = np.random.default_rng(3)
    w = np.abs(rng.standard_normal((5, 3, 2, 2)))
    got = ramcore.effective_resistance(w)
    assert got.shape == w.shape
    b = biadjacency(w, "torch").toarray()  # rows in*kh*kw, columns out
    ref, _ = pinv_pairs(layer_adjacency(b))
    np.testing.assert_allclose(got.reshape(5, -1).T, ref[:12, 12:], rtol=RTOL)


@settings(max_examples=40, deadline=None)
@given(
    m=st.integers(1, 12),
    n=st.integers(1, 12),
    density=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_foster_theorem(m, n, density, seed):
    """sum_e w_e R_e = (number of vertices) - (number of components)."""
    w = random_layer(m, n, density, seed)
    r = ramcore.effective_resistance(w)
    count, _ = csgraph.connected_components(sp.csr_array(layer_adjacency(w)), directed=False)
    total = float(np.sum(w[w > 0] * r[w > 0]))
    assert total == pytest.approx(m + n - count, rel=1e-9, abs=1e-9)


def test_largest_vgg_layer_against_pinv_and_foster():
    rng = np.random.default_rng(0)
    w = np.abs(rng.standard_normal((32, 16, 3, 3)))  # 144 x 32 layer graph
    got = ramcore.effective_resistance(w)
    ref, _ = pinv_pairs(layer_adjacency(w.reshape(32, -1)))
    np.testing.assert_allclose(got.reshape(32, -1), ref[:32, 32:], rtol=RTOL)
    assert float(np.sum(w * got)) == pytest.approx(32 + 144 - 1, rel=1e-10)


def test_torch_cpu_tensor():
    torch = pytest.importorskip("torch")
    w = random_layer(10, 7, 0.6, seed=8, zero_rows=(2,))
    got = ramcore.effective_resistance(torch.from_numpy(w).float())
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), ramcore.effective_resistance(w.astype(np.float32)), rtol=0)


@pytest.mark.parametrize("density,zero_rows", [(1.0, ()), (0.15, ()), (0.5, (0, 3))])
def test_torch_formula_matches_numpy(density, zero_rows):
    """The torch implementation GPU tensors take, run here on the CPU."""
    torch = pytest.importorskip("torch")
    from ramcore.layers.resistance import torch_resistance

    w = random_layer(20, 14, density, seed=10, zero_rows=zero_rows)
    got = torch_resistance(torch.from_numpy(w))
    assert got.dtype == torch.float64 and got.shape == w.shape
    assert_resistances(got.numpy(), ramcore.effective_resistance(w))
    conv = np.abs(np.random.default_rng(2).standard_normal((6, 2, 3, 3)))
    assert_resistances(torch_resistance(torch.from_numpy(conv)).numpy(), ramcore.effective_resistance(conv))
    with pytest.raises(ValueError, match="non-negative"):
        torch_resistance(-torch.from_numpy(w))


@pytest.mark.cuda
def test_torch_cuda_tensor_stays_on_the_gpu():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    w = random_layer(40, 30, 0.3, seed=9, zero_rows=(1,), zero_cols=(4,))
    got = ramcore.effective_resistance(torch.from_numpy(w).cuda())
    assert got.device.type == "cuda"
    ref = ramcore.effective_resistance(w)
    assert_resistances(got.cpu().numpy(), ref)


@pytest.mark.parametrize(
    "weights,exc,match",
    [
        (np.array([[1.0, -1.0]]), ValueError, "non-negative"),
        (np.array([[1.0, np.nan]]), ValueError, "NaN"),
        (np.array([[1.0, np.inf]]), ValueError, "NaN or infinite"),
        (np.ones(3), ValueError, "at least 2 dimensions"),
        (np.array([["a", "b"]]), TypeError, "numeric"),
        (sp.csr_array(np.array([[0.0, -2.0]])), ValueError, "non-negative"),
    ],
)
def test_layer_bad_inputs(weights, exc, match):
    with pytest.raises(exc, match=match):
        ramcore.effective_resistance(weights)


def test_layer_too_large_raises_memory_error_with_estimate():
    n = 300_000  # one connected "zigzag" component of 300k x 300k: a dense Schur block of 720 GB
    i = np.arange(n)
    w = sp.csr_array((np.ones(2 * n - 1), (np.r_[i, i[1:]], np.r_[i, i[:-1]])), shape=(n, n))
    with pytest.raises(MemoryError, match=r"needs about .* bytes.*graph_resistance"):
        ramcore.effective_resistance(w)


# --- general graphs ----------------------------------------------------------------------------


def random_graph(n, density, seed, components=1):
    """A weighted graph of `components` random blocks plus an isolated vertex and a loop."""
    rng = np.random.default_rng(seed)
    blocks = []
    for _ in range(components):
        a = sp.random(n, n, density=density, random_state=rng, format="csr")
        a = a + a.T
        path = sp.diags_array(rng.uniform(0.5, 2.0, n - 1), offsets=1, shape=(n, n))
        blocks.append(sp.csr_array(a + path + path.T))
    blocks.append(sp.csr_array(np.zeros((1, 1))))
    g = sp.csr_array(sp.block_diag(blocks, format="csr"))
    g = g.tolil()
    g[0, 0] = 3.0  # a loop: ignored by the Laplacian, R = 0
    return sp.csr_array(g)


def test_graph_exact_against_pinv_and_networkx():
    a = random_graph(25, 0.1, seed=1, components=2)
    res = ramcore.graph_resistance(a, method="exact")
    assert res.method == "exact" and res.components == 3
    ref, _ = pinv_pairs(np.where(np.eye(a.shape[0]) > 0, 0.0, a.toarray()))
    u, v, r = res.edge_list()
    np.testing.assert_allclose(r, ref[u, v], rtol=RTOL)
    g = nx.from_scipy_sparse_array(a)
    g.remove_edges_from(nx.selfloop_edges(g))
    for x, y in list(zip(u, v))[::7]:
        sub = g.subgraph(nx.node_connected_component(g, int(x)))
        nx_r = nx.resistance_distance(sub, int(x), int(y), weight="weight", invert_weight=False)
        assert res.as_matrix()[x, y] == pytest.approx(nx_r, rel=RTOL)
    loop = res.as_matrix()[0, 0]
    assert loop == 0.0
    # Foster: sum over undirected edges of w R = n - #components
    w = np.asarray(a[u, v]).ravel()
    assert float(np.sum(w * r)) == pytest.approx(a.shape[0] - 3, rel=1e-10)


def test_graph_exact_lps_foster():
    g = ramcore.lps_graph(5, 13)
    res = ramcore.graph_resistance(g)
    assert res.method == "exact" and res.components == 1
    assert res.values.sum() / 2 == pytest.approx(g.num_vertices - 1, rel=1e-10)


@pytest.mark.parametrize("p,q,epsilon", [(5, 13, 0.3), (13, 17, 0.3), (7, 11, 0.5)])
def test_sketch_within_epsilon_on_lps(p, q, epsilon):
    g = ramcore.lps_graph(p, q)
    exact = ramcore.graph_resistance(g, method="exact")
    res = ramcore.graph_resistance(g, method="sketch", epsilon=epsilon, seed=7)
    assert res.method == "sketch" and res.converged
    assert res.sketch_rows == sketch_size(epsilon, g.num_edges)
    assert res.cg_residuals.max() <= 1e-8
    rel = np.abs(res.values / exact.values - 1)
    assert rel.max() <= epsilon
    assert rel.max() <= res.error_estimate  # the reported estimate covers the achieved error
    assert res.error_estimate <= 2 * epsilon
    assert res.values.sum() / 2 == pytest.approx(g.num_vertices - 1, rel=epsilon / 10)


def test_sketch_weighted_disconnected_graph():
    a = random_graph(60, 0.05, seed=4, components=3)
    exact = ramcore.graph_resistance(a, method="exact")
    res = ramcore.graph_resistance(a, method="sketch", epsilon=0.4, seed=1)
    assert res.components == 4 and res.converged
    assert np.all(np.isfinite(res.values))
    nonloop = exact.values > 0
    assert res.values[~nonloop].max() == 0.0
    assert np.abs(res.values[nonloop] / exact.values[nonloop] - 1).max() <= 0.4


def test_sketch_deterministic_for_any_thread_count():
    g = ramcore.lps_graph(5, 29)  # 12,180 vertices: several row blocks per sweep
    one = ramcore.graph_resistance(g, method="sketch", sketch_rows=40, seed=3, threads=1)
    two = ramcore.graph_resistance(g, method="sketch", sketch_rows=40, seed=3, threads=2)
    np.testing.assert_array_equal(one.values, two.values)
    np.testing.assert_array_equal(one.stderr, two.stderr)
    np.testing.assert_array_equal(one.cg_residuals, two.cg_residuals)
    other = ramcore.graph_resistance(g, method="sketch", sketch_rows=40, seed=4)
    assert not np.array_equal(one.values, other.values)


def test_sketch_size_formula():
    # Achlioptas: k = ceil(2 ln(2 m / delta) / (eps^2/2 - eps^3/3))
    assert sketch_size(0.5, 1000, 0.01) == math.ceil(2 * math.log(2e5) / (0.125 - 0.125 / 3))
    assert sketch_size(0.1, 10**6) > sketch_size(0.2, 10**6) > sketch_size(0.2, 10**3)
    # a subnormal delta: 2 m / delta overflows, ln(2 m) - ln(delta) does not (found by the fuzz test)
    assert sketch_size(0.3, 100, 5e-324) == math.ceil(2 * (math.log(200) + 744.4400719) / (0.045 - 0.009))


def test_auto_method_switches_to_the_sketch_for_large_components():
    assert EXACT_LIMIT < 12_180
    res = ramcore.graph_resistance(ramcore.lps_graph(5, 29), sketch_rows=16)
    assert res.method == "sketch" and res.sketch_rows == 16


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        ({"method": "magic"}, ValueError, "method"),
        ({"method": "sketch", "epsilon": 1.5}, ValueError, "epsilon"),
        ({"method": "sketch", "epsilon": 0.0}, ValueError, "epsilon"),
        ({"method": "sketch", "delta": 0}, ValueError, "delta"),
        ({"method": "sketch", "sketch_rows": 0}, ValueError, "sketch_rows"),
        ({"method": "sketch", "tol": -1}, ValueError, "tol"),
        ({"method": "sketch", "max_iterations": 0}, ValueError, "max_iterations"),
        ({"method": "sketch", "seed": -1}, ValueError, "seed"),
        ({"method": "sketch", "threads": 0}, ValueError, "threads"),
    ],
)
def test_graph_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        ramcore.graph_resistance(ramcore.lps_graph(5, 13), **kwargs)


@pytest.mark.parametrize(
    "graph,exc,match",
    [
        (np.ones((3, 4)), ValueError, "square symmetric.*effective_resistance"),
        (np.array([[0.0, 1.0], [2.0, 0.0]]), ValueError, "symmetric"),
        (np.array([[0.0, -1.0], [-1.0, 0.0]]), ValueError, "non-negative"),
        (np.array([[0.0, np.nan], [np.nan, 0.0]]), ValueError, "NaN"),
        (np.ones(3), ValueError, "2-d"),
    ],
)
def test_graph_bad_inputs(graph, exc, match):
    with pytest.raises(exc, match=match):
        ramcore.graph_resistance(graph)


def test_graph_exact_too_large_raises_memory_error():
    n = 400_000
    path = sp.diags_array(np.ones(n - 1), offsets=1, shape=(n, n))
    with pytest.raises(MemoryError, match=r"dense 400,000 x 400,000.*method='sketch'"):
        ramcore.graph_resistance(sp.csr_array(path + path.T), method="exact")


def test_core_refuses_bad_weights_directly():
    from ramcore import _core

    indptr = np.array([0, 1, 2], dtype=np.int32)
    indices = np.array([1, 0], dtype=np.int32)
    with pytest.raises(ValueError, match="positive and finite"):
        _core.sketch_resistance(indptr, indices, np.array([1.0, 0.0]), 2, 4, 1e-8, 100, 0, 1)
    with pytest.raises(ValueError, match="sketch_rows"):
        _core.sketch_resistance(indptr, indices, None, 2, 0, 1e-8, 100, 0, 1)
    with pytest.raises(ValueError, match="column index"):
        _core.sketch_resistance(indptr, np.array([1, 5], dtype=np.int32), None, 2, 4, 1e-8, 100, 0, 1)


def test_inputs_are_not_modified():
    """Zeros and unsorted indices are cleaned on a copy, never in the caller's arrays."""
    a = sp.csr_array(
        (np.array([1.0, 0.0, 1.0, 0.0]), np.array([1, 2, 0, 0]), np.array([0, 2, 3, 4])), shape=(3, 3)
    )
    data, indices = a.data.copy(), a.indices.copy()
    np.testing.assert_array_equal(ramcore.graph_resistance(a).values, [1.0, 1.0])
    np.testing.assert_array_equal(a.data, data)
    np.testing.assert_array_equal(a.indices, indices)
    w = sp.csr_array((np.array([2.0, 1.0]), np.array([1, 0]), np.array([0, 2])), shape=(1, 2))
    w.has_sorted_indices = False
    r = ramcore.effective_resistance(w)
    np.testing.assert_array_equal(w.indices, [1, 0])
    np.testing.assert_allclose(r.toarray(), [[1.0, 0.5]])


@pytest.mark.parametrize("shape", [(0, 3), (2, 0), (0, 3, 2, 2)])
def test_empty_layers(shape):
    assert ramcore.effective_resistance(np.zeros(shape)).shape == shape


@pytest.mark.parametrize("method", ["exact", "sketch"])
def test_graphs_without_edges_and_a_single_edge(method):
    for a, expect, comps in [
        (np.zeros((0, 0)), [], 0),
        (np.zeros((3, 3)), [], 3),
        ([[0, 2.0], [2.0, 0]], [0.5, 0.5], 1),
    ]:
        res = ramcore.graph_resistance(np.asarray(a), method=method, sketch_rows=5)
        np.testing.assert_allclose(res.values, expect, rtol=1e-12)
        assert res.components == comps and res.converged
