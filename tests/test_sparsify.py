import math
import zlib

import numpy as np
import pytest
import scipy.linalg as sla
import scipy.sparse as sp

import ramcore
from ramcore.layers.sparsify import chain_adjacency, spec_spar


def layer_laplacian(w):
    w = w.reshape(w.shape[0], -1)
    m, n = w.shape
    a = np.zeros((m + n, m + n))
    a[:m, m:] = w
    a[m:, :m] = w.T
    return np.diag(a.sum(axis=1)) - a


def approximation(lg, lh):
    """(min, max) of x^T L_H x / x^T L_G x over x orthogonal to the kernel of a connected L_G."""
    n = lg.shape[0]
    q = np.linalg.qr(np.c_[np.ones(n), np.random.default_rng(0).random((n, n - 1))])[0][:, 1:]
    ev = sla.eigh(q.T @ lh @ q, q.T @ lg @ q, eigvals_only=True)
    return float(ev.min()), float(ev.max())


def scores(shape, seed):
    return np.abs(np.random.default_rng(seed).standard_normal(shape))


# --- Algorithm 1 -----------------------------------------------------------------------------------


def test_probabilities_follow_algorithm_1():
    w = scores((30, 20), 0)
    w[0, :5] = 0.0
    res = spec_spar(w, epsilon=0.8, seed=1)
    r = ramcore.effective_resistance(w)
    expect = np.where(w > 0, np.minimum(1.0, 5 * math.log(50) * w * np.where(w > 0, r, 0) / 0.8**2), 0.0)
    np.testing.assert_allclose(res.probabilities, expect, rtol=1e-12)
    assert res.mask.dtype == bool and res.mask.shape == w.shape
    assert not res.mask[w == 0].any()
    np.testing.assert_allclose(res.weights[res.mask], w[res.mask] / expect[res.mask], rtol=1e-12)
    assert np.all(res.weights[~res.mask] == 0)
    assert res.kept == res.mask.sum() and res.edges == np.count_nonzero(w) and res.vertices == 50


@pytest.mark.parametrize("epsilon", [0.5, 0.9])
def test_spec_spar_is_an_epsilon_sparsifier(epsilon):
    """Definition 2.2: (1 - eps) x^T L_G x <= x^T L_H x <= (1 + eps) x^T L_G x for every x."""
    w = scores((120, 80), 2)
    for seed in range(2):
        res = spec_spar(w, epsilon=epsilon, seed=seed)
        assert res.kept < 0.9 * w.size
        lo, hi = approximation(layer_laplacian(w), layer_laplacian(res.weights))
        assert 1 - epsilon <= lo and hi <= 1 + epsilon


def test_reweighting_is_unbiased():
    """E[w_e 1{kept} / p_e] = w_e, so E[L_H] = L_G."""
    w = scores((8, 6), 3)
    draws = np.stack([spec_spar(w, epsilon=3.0, seed=s).weights for s in range(2000)])
    p = spec_spar(w, epsilon=3.0).probabilities
    assert 0 < p.min() and p.max() < 1  # a real random draw on every edge
    se = w * np.sqrt((1 - p) / p) / math.sqrt(len(draws))
    assert np.all(np.abs(draws.mean(axis=0) - w) <= 5 * se)


@pytest.mark.parametrize("density", [0.01, 0.05, 0.3, 0.999, 1.0])
def test_target_density_is_exact(density):
    w = scores((64, 32, 3, 3), 4)
    res = spec_spar(w, density=density, seed=5)
    assert res.kept == res.mask.sum() == round(density * w.size)
    assert res.mask.shape == w.shape
    # The chosen epsilon makes the expected count the target: sum p_e = round(density * size).
    assert res.probabilities.sum() == pytest.approx(round(density * w.size), rel=1e-9)


def test_target_density_keeps_only_edges():
    w = scores((20, 10), 6)
    w[:, :5] = 0.0  # half the entries are not edges
    res = spec_spar(w, density=0.8, seed=0)  # more than the 100 edges: all edges, nothing else
    assert res.kept == 100 and res.mask[:, 5:].all() and not res.mask[:, :5].any()


def test_deterministic_given_seed():
    w = scores((50, 40), 7)
    a = spec_spar(w, density=0.1, seed=11).mask
    assert np.array_equal(a, spec_spar(w, density=0.1, seed=11).mask)
    assert not np.array_equal(a, spec_spar(w, density=0.1, seed=12).mask)


def test_high_resistance_edges_survive():
    """Seed 002 Fig. 1: two dense blocks joined by one weak edge. Magnitude pruning drops the
    bridge; SpecSpar keeps it (R_e w_e = 1 for a bridge, so p_e = 1)."""
    w = np.zeros((10, 10))
    w[:5, :5] = 5.0
    w[5:, 5:] = 5.0
    w[4, 5] = 0.01
    res = spec_spar(w, density=0.3, seed=0)
    assert res.mask[4, 5] and res.probabilities[4, 5] == 1.0
    top = np.argsort(w, axis=None)[::-1][: res.kept]  # magnitude pruning at the same density
    assert np.ravel_multi_index((4, 5), w.shape) not in top


def test_torch_input_returns_torch_masks():
    torch = pytest.importorskip("torch")
    w = scores((16, 8, 3, 3), 8)
    res = spec_spar(torch.from_numpy(w), density=0.2, seed=3)
    assert isinstance(res.mask, torch.Tensor) and res.mask.dtype == torch.bool
    np.testing.assert_array_equal(res.mask.numpy(), spec_spar(w, density=0.2, seed=3).mask)


@pytest.mark.cuda
def test_cuda_masks_stay_on_the_gpu():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    w = scores((16, 8, 3, 3), 8)
    res = ramcore.sparsify({"conv": torch.from_numpy(w).cuda()}, density=0.2, seed=3)
    mask = res.masks["conv"]
    assert mask.device.type == "cuda" and mask.dtype == torch.bool
    assert int(mask.sum()) == round(0.2 * w.size)


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        ({}, ValueError, "exactly one of epsilon"),
        ({"epsilon": 0.5, "density": 0.5}, ValueError, "exactly one of epsilon"),
        ({"density": 0.0}, ValueError, "density"),
        ({"density": 1.5}, ValueError, "density"),
        ({"epsilon": -1.0}, ValueError, "epsilon"),
        ({"epsilon": 0.5, "C": 0}, ValueError, "C must be"),
        ({"epsilon": 0.5, "seed": -3}, ValueError, "seed"),
        ({"epsilon": 0.5, "seed": 1.5}, TypeError, "seed"),
        ({"epsilon": 0.5, "resistance": np.ones(3)}, ValueError, "resistance"),
    ],
)
def test_spec_spar_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        spec_spar(scores((4, 3), 0), **kwargs)


def test_spec_spar_bad_scores():
    with pytest.raises(ValueError, match="non-negative.*abs"):
        spec_spar(np.array([[1.0, -1.0]]), density=0.5)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        spec_spar(np.ones(4), density=0.5)


# --- Algorithm 2 -----------------------------------------------------------------------------------


def small_cnn(seed=0):
    rng = np.random.default_rng(seed)
    shapes = {"conv1": (8, 3, 3, 3), "conv2": (16, 8, 3, 3), "fc": (10, 16)}
    return {name: rng.standard_normal(s) * math.sqrt(2 / np.prod(s[1:])) for name, s in shapes.items()}


def test_sparsify_layers_masks_and_report():
    weights = small_cnn()
    res = ramcore.sparsify(ramcore.magnitude(weights), density=0.25, seed=1)
    assert res.scope == "layerwise" and list(res.masks) == list(weights)
    for name, w in weights.items():
        mask, rep = res.masks[name], res.layers[name]
        assert mask.shape == w.shape and mask.dtype == bool
        assert rep.kept == mask.sum() == round(0.25 * w.size)
        assert rep.shape == w.shape and rep.edges == w.size
        b = np.abs(w).reshape(w.shape[0], -1)
        assert rep.vertices == sum(b.shape)
        assert rep.lambda2_before == pytest.approx(dense_lambda2(b), abs=1e-9)
        assert 0 <= rep.lambda2_after <= 2
        m = mask.reshape(b.shape)
        isolated = int((~m.any(axis=1)).sum() + (~m.any(axis=0)).sum())
        assert rep.isolated_after == isolated
        assert rep.connected_after == (isolated == 0 and rep.lambda2_after > 0)
    total = sum(w.size for w in weights.values())
    assert res.density == pytest.approx(sum(m.sum() for m in res.masks.values()) / total)
    assert "conv1" in res.summary()


def dense_lambda2(b):
    """Second smallest eigenvalue of I - D^-1/2 A D^-1/2 of the bipartite graph of b."""
    lap = layer_laplacian(b)
    d = np.diag(lap)
    inv = np.where(d > 0, 1 / np.sqrt(np.where(d > 0, d, 1)), 0)
    norm = np.diag((d > 0).astype(float)) - inv[:, None] * (np.diag(d) - lap) * inv[None, :]
    return np.linalg.eigvalsh(norm)[1]


def test_lambda2_after_is_the_sparsifiers():
    w = scores((30, 12), 9)
    res = ramcore.sparsify({"l": w}, epsilon=1.2, seed=4)
    rep = res.layers["l"]
    rng = np.random.default_rng([4, zlib.crc32(b"l")])  # the layer's stream is keyed by its name
    h = spec_spar(w, epsilon=1.2, seed=rng)
    np.testing.assert_array_equal(h.mask, res.masks["l"])
    assert rep.lambda2_after == pytest.approx(
        dense_lambda2(h.weights) if rep.connected_after else 0.0, abs=1e-9
    )
    assert rep.connected_before and rep.lambda2_before == pytest.approx(dense_lambda2(w), abs=1e-9)


def test_lambda2_of_the_largest_component():
    """Seed 002's Fig. 3: lambda_2 of the largest component of a disconnected layer (the whole
    graph's is 0), with the component sizes."""
    rng = np.random.default_rng(12)
    big = rng.uniform(0.5, 1.5, (6, 5))  # a dense 11-neuron component
    small = rng.uniform(0.5, 1.5, (2, 2))  # a 4-neuron component
    w = np.zeros((9, 8))
    w[:6, :5] = big
    w[6:8, 5:7] = small  # row 8 and column 7 stay isolated
    res = ramcore.sparsify({"l": w}, density=1.0, seed=0, return_weights=True)
    rep = res.layers["l"]
    assert not rep.connected_before and rep.lambda2_before == 0
    assert rep.components_before == (11, 4, 1, 1) and rep.components_after == (11, 4, 1, 1)
    assert rep.lambda2_largest_before == pytest.approx(dense_lambda2(big), abs=1e-9)
    after = np.asarray(res.weights["l"])  # the sparsifier's weights w_e / p_e: the graph "after" is
    assert rep.lambda2_largest_after == pytest.approx(dense_lambda2(after[:6, :5]), abs=1e-9)
    assert "11 of 17" in res.summary()
    connected = ramcore.sparsify({"l": big}, density=1.0, seed=0).layers["l"]
    assert connected.components_before == (11,)
    assert connected.lambda2_largest_before == connected.lambda2_before


def test_sparsify_deterministic_and_order_independent():
    weights = ramcore.magnitude(small_cnn(1))
    a = ramcore.sparsify(weights, density=0.1, seed=5, report=False)
    b = ramcore.sparsify(dict(reversed(list(weights.items()))), density=0.1, seed=5, report=False)
    assert a.layers == {}
    for name in weights:
        np.testing.assert_array_equal(a.masks[name], b.masks[name])
    c = ramcore.sparsify(weights, density=0.1, seed=6, report=False)
    assert any(not np.array_equal(a.masks[n], c.masks[n]) for n in weights)


def test_sparsify_density_per_layer():
    weights = ramcore.magnitude(small_cnn(2))
    res = ramcore.sparsify(weights, density={"conv1": 0.5, "conv2": 0.1, "fc": 1.0}, report=False)
    assert [int(res.masks[n].sum()) for n in weights] == [108, 115, 160]
    with pytest.raises(ValueError, match=r"density: .* missing \['fc'\]"):
        ramcore.sparsify(weights, density={"conv1": 0.5, "conv2": 0.1})
    with pytest.raises(ValueError, match=r"density: .* unknown \['fx'\]"):  # a misspelt layer is refused
        ramcore.sparsify(weights, density={"conv1": 0.5, "conv2": 0.1, "fc": 1.0, "fx": 0.5})


def test_sparsify_bad_arguments():
    with pytest.raises(TypeError, match="mapping"):
        ramcore.sparsify([np.ones((2, 2))], density=0.5)
    with pytest.raises(ValueError, match="scope"):
        ramcore.sparsify({"a": np.ones((2, 2))}, density=0.5, scope="everything")
    with pytest.raises(ValueError, match="non-negative"):
        ramcore.sparsify({"a": -np.ones((2, 2))}, density=0.5)


def test_magnitude():
    w = {"a": np.array([[-1.0, 2.0]]), "b": np.array([[0.5, -0.5]])}
    assert ramcore.magnitude(w)["a"].tolist() == [[1.0, 2.0]]
    assert ramcore.magnitude(w["b"]).tolist() == [[0.5, 0.5]]


# --- the whole network: Lemma 3.1 ------------------------------------------------------------------


def mlp(sizes, seed):
    rng = np.random.default_rng(seed)
    return {f"fc{i}": np.abs(rng.standard_normal((o, i_))) for i, (i_, o) in enumerate(zip(sizes, sizes[1:]))}


def network_laplacian(layers):
    mats = list(layers.values())
    offsets = [0]
    for m in mats:
        offsets.append(offsets[-1] + m.shape[1])
    a = chain_adjacency(mats, offsets).toarray()
    return np.diag(a.sum(axis=1)) - a


def test_lemma_3_1_layerwise_sparsifiers_compose():
    """If every H_i is an eps_i-sparsifier of G_i, the union H is a max(eps_i)-sparsifier of the
    whole network G (seed 002 Lemma 3.1)."""
    g = mlp([24, 30, 20, 10], seed=0)
    h, eps = {}, []
    for k, (name, w) in enumerate(g.items()):
        res = spec_spar(w, epsilon=2.0, seed=k)  # the seed's practical regime (eps > 1)
        assert res.kept < 0.75 * w.size
        h[name] = res.weights
        lo, hi = approximation(layer_laplacian(w.T), layer_laplacian(res.weights.T))
        eps.append(max(1 - lo, hi - 1))
    lg, lh = network_laplacian(g), network_laplacian(h)
    lo, hi = approximation(lg, lh)
    e = max(eps)
    assert e < 1  # every H_i is connected and a genuine sparsifier
    assert max(1 - lo, hi - 1) <= e + 1e-9
    rng = np.random.default_rng(1)
    for x in rng.standard_normal((200, lg.shape[0])):
        qg, qh = x @ lg @ x, x @ lh @ x
        assert (1 - e) * qg - 1e-9 <= qh <= (1 + e) * qg + 1e-9


def test_global_scope_on_a_small_mlp():
    g = mlp([12, 16, 8], seed=3)
    res = ramcore.sparsify(g, density=0.3, scope="global", seed=2)
    assert res.scope == "global"
    kept = sum(int(m.sum()) for m in res.masks.values())
    assert kept == round(0.3 * (16 * 12 + 8 * 16))
    again = ramcore.sparsify(g, density=0.3, scope="global", seed=2, report=False)
    for name in g:
        assert res.masks[name].shape == g[name].shape
        np.testing.assert_array_equal(res.masks[name], again.masks[name])


def test_global_scope_with_epsilon_is_a_sparsifier_of_the_network():
    g = mlp([30, 40, 20], seed=4)
    res = ramcore.sparsify(g, epsilon=0.9, scope="global", seed=0, return_weights=True)
    kept = sum(int(m.sum()) for m in res.masks.values())
    assert kept < 0.8 * sum(w.size for w in g.values())
    lo, hi = approximation(network_laplacian(g), network_laplacian(res.weights))
    assert 1 - 0.9 <= lo and hi <= 1 + 0.9


def test_global_scope_needs_a_chain():
    with pytest.raises(ValueError, match="5 input channels but its sources give 4"):
        ramcore.sparsify({"a": np.ones((4, 3)), "b": np.ones((2, 5))}, density=0.5, scope="global")
    with pytest.raises(ValueError, match="one density"):
        ramcore.sparsify({"a": np.ones((4, 3))}, density={"a": 0.5}, scope="global")


def test_multipartite_adjacency_layout():
    a = chain_adjacency([np.array([[1.0, 2.0]]), np.array([[3.0], [4.0]])], [0, 2, 3])
    assert isinstance(a, sp.csr_array) and a.shape == (5, 5)
    # layer 0: inputs 0, 1 -> output 2; layer 1: input 2 -> outputs 3, 4
    assert a[0, 2] == 1.0 and a[1, 2] == 2.0 and a[2, 3] == 3.0 and a[2, 4] == 4.0
    assert (a != a.T).nnz == 0


def test_works_without_torch():
    """torch is optional: with it unimportable, ramcore imports and prunes numpy scores."""
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import numpy as np, ramcore\n"
        "w = {'a': np.abs(np.random.default_rng(0).standard_normal((6, 4, 3, 3)))}\n"
        "r = ramcore.sparsify(w, density=0.2)\n"
        "assert r.masks['a'].sum() == 43 and 'torch' not in sys.modules or sys.modules['torch'] is None\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr
