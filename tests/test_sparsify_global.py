"""scope="global" on convolutional and residual networks (seed 002, Algorithm 1 on G_full),
against a dense reference built entry by entry."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

import ramcore
from ramcore.layers.sparsify import network_adjacency, network_vertices


def cnn(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    shapes = {"c1": (4, 3, 3, 3), "c2": (5, 4, 3, 3), "fc": (6, 20), "out": (3, 6)}  # fc: flatten 5 x 2 x 2
    return {n: rng.random(s) + 0.05 for n, s in shapes.items()}


def reference(scores, ends, n, eps, seed, c=5.0):
    """Dense Algorithm 1 on the multigraph with one edge per entry: ends[name](index) -> (u, v)."""
    lap = np.zeros((n, n))
    edges = []
    for name, w in scores.items():
        for idx in np.ndindex(w.shape):
            u, v = ends[name](idx)
            lap[u, u] += w[idx]
            lap[v, v] += w[idx]
            lap[u, v] -= w[idx]
            lap[v, u] -= w[idx]
            edges.append((u, v, w[idx]))
    pinv = np.linalg.pinv(lap)
    r = np.array([pinv[u, u] + pinv[v, v] - 2 * pinv[u, v] for u, v, _ in edges])
    w = np.array([e[2] for e in edges])
    p = np.minimum(1.0, c * math.log(n) * w * r / eps**2)
    mask = np.random.default_rng([seed]).random(len(w)) < p
    return w * r, p, mask


def split(flat, scores):
    out, start = {}, 0
    for name, w in scores.items():
        out[name] = flat[start : start + w.size].reshape(w.shape)
        start += w.size
    return out


def test_global_cnn_matches_the_dense_multigraph_reference():
    g = cnn(1)
    # vertices: input 0-2, c1 out 3-6, c2 out 7-11, fc out 12-17, out 18-20
    ends = {
        "c1": lambda i: (i[1], 3 + i[0]),
        "c2": lambda i: (3 + i[1], 7 + i[0]),
        "fc": lambda i: (7 + i[1] // 4, 12 + i[0]),
        "out": lambda i: (12 + i[1], 18 + i[0]),
    }
    n, ins, outs = network_vertices(g)
    assert n == 21
    np.testing.assert_array_equal(ins["fc"], 7 + np.arange(20) // 4)
    lev, p, mask = reference(g, ends, n, eps=1.5, seed=7)
    assert lev.sum() == pytest.approx(n - 1)  # sum of leverages = n - #components
    res = ramcore.sparsify(g, epsilon=1.5, scope="global", seed=7, return_weights=True, resistance="exact")
    want = split(mask, g)
    probs = split(p, g)
    for name, w in g.items():
        assert res.masks[name].shape == w.shape and res.masks[name].dtype == bool
        np.testing.assert_array_equal(res.masks[name], want[name])
        kept = want[name]
        np.testing.assert_allclose(res.weights[name][kept], w[kept] / probs[name][kept], rtol=1e-10)
        assert not res.weights[name][~kept].any()
    assert 0 < mask.sum() < mask.size  # the draw is not trivial


def test_global_resnet_block_identifies_the_summed_channels():
    rng = np.random.default_rng(3)
    g = {n: rng.random(s) + 0.05 for n, s in
         {"stem": (4, 3, 3, 3), "a": (4, 4, 3, 3), "b": (4, 4, 3, 3), "fc": (2, 4)}.items()}  # fmt: skip
    inputs = {"stem": [None], "a": ["stem"], "b": ["a"], "fc": ["b", "stem"]}  # fc reads b(x) + x
    n, ins, outs = network_vertices(g, inputs)
    # input 0-2, stem out = b out 3-6, a out 7-10, fc out 11-12
    assert n == 13
    np.testing.assert_array_equal(outs["b"], outs["stem"])
    ends = {
        "stem": lambda i: (i[1], 3 + i[0]),
        "a": lambda i: (3 + i[1], 7 + i[0]),
        "b": lambda i: (7 + i[1], 3 + i[0]),
        "fc": lambda i: (3 + i[1], 11 + i[0]),
    }
    _, _, mask = reference(g, ends, n, eps=1.2, seed=0)
    res = ramcore.sparsify(g, epsilon=1.2, scope="global", seed=0, inputs=inputs, report=False)
    for name, m in split(mask, g).items():
        np.testing.assert_array_equal(res.masks[name], m)


def test_zero_padding_shortcut_offsets_channels():
    shapes = {"a": (2, 3, 1, 1), "b": (4, 2, 3, 3), "b2": (4, 4, 3, 3), "c": (5, 4, 1, 1)}
    g = {n: np.ones(s) for n, s in shapes.items()}
    n, ins, outs = network_vertices(g, {"a": [None], "b": ["a"], "b2": ["b"], "c": ["b2", ("a", 1)]})
    # option A: a's channel k is c's input channel k + 1, which is b2's output channel k + 1
    np.testing.assert_array_equal(outs["a"], outs["b2"][1:3])
    np.testing.assert_array_equal(ins["c"], outs["b2"])
    assert n == 3 + 2 + 4 + 4 + 5 - 2


def test_global_density_is_exact_deterministic_and_seeded():
    g = cnn(2)
    total = sum(w.size for w in g.values())
    a = ramcore.sparsify(g, density=0.2, scope="global", seed=4)
    b = ramcore.sparsify(g, density=0.2, scope="global", seed=4, report=False)
    c = ramcore.sparsify(g, density=0.2, scope="global", seed=5, report=False)
    assert sum(int(m.sum()) for m in a.masks.values()) == round(0.2 * total)
    assert all(np.array_equal(a.masks[k], b.masks[k]) for k in g)
    assert not all(np.array_equal(a.masks[k], c.masks[k]) for k in g)
    assert set(a.layers) == set(g) and a.layers["c2"].shape == (5, 4, 3, 3)
    sk = ramcore.sparsify(g, density=0.2, scope="global", seed=4, resistance="sketch", report=False)
    assert sum(int(m.sum()) for m in sk.masks.values()) == round(0.2 * total)


def test_global_bad_wiring_is_refused():
    g = cnn(0)
    with pytest.raises(ValueError, match="layerwise does not use it"):
        ramcore.sparsify(g, density=0.5, inputs={k: [None] for k in g})
    with pytest.raises(ValueError, match="missing"):
        ramcore.sparsify(g, density=0.5, scope="global", inputs={"c1": [None]})
    with pytest.raises(ValueError, match="not a flatten"):
        network_vertices({"c": np.ones((3, 2, 3, 3)), "fc": np.ones((2, 7))})
    with pytest.raises(ValueError, match="self-loops"):
        network_vertices({"a": np.ones((2, 2, 1, 1))}, {"a": ["a"]})
    with pytest.raises(ValueError, match="resistance must be"):
        ramcore.sparsify(g, density=0.5, scope="global", resistance="dense")


def test_layer_inputs_reads_residual_wiring_off_zoo_models():
    rt = pytest.importorskip("ramcore.torch")
    inputs = rt.layer_inputs(rt.zoo.create("resnet20"))  # option A: zero-padding shortcuts
    assert inputs["conv1.weight"] == [None]
    assert inputs["layer1.0.conv2.weight"] == ["layer1.0.conv1.weight"]
    assert set(inputs["layer1.1.conv1.weight"]) == {"layer1.0.conv2.weight", "conv1.weight"}
    assert ("layer1.2.conv2.weight", 8) in inputs["layer2.1.conv1.weight"]  # 16 -> 32: 8 in front
    assert inputs["fc.weight"][0] == "layer3.2.conv2.weight" and len(inputs["fc.weight"]) == 10
    b = rt.layer_inputs(rt.zoo.create("resnet18"))  # option B: 1x1 projection layers
    assert set(b["layer2.1.conv1.weight"]) == {"layer2.0.conv2.weight", "layer2.0.shortcut.0.weight"}
    assert list(rt.layer_inputs(rt.zoo.create("vgg11")).values())[1] == ["features.0.weight"]


def test_layer_inputs_refuses_concatenation():
    torch = pytest.importorskip("torch")
    rt = pytest.importorskip("ramcore.torch")

    class Cat(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.a2, self.b = (
                torch.nn.Conv2d(3, 2, 1),
                torch.nn.Conv2d(3, 2, 1),
                torch.nn.Conv2d(4, 2, 1),
            )

        def forward(self, x):
            return self.b(torch.cat([self.a(x), self.a2(x)], 1))

    class Shared(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = torch.nn.Conv2d(2, 2, 1)

        def forward(self, x):
            return self.a(self.a(x))

    with pytest.raises(NotImplementedError, match="cannot follow"):
        rt.layer_inputs(Cat())
    with pytest.raises(NotImplementedError, match="called twice"):
        rt.layer_inputs(Shared())
    with pytest.raises(TypeError, match="nn.Module"):
        rt.layer_inputs("resnet20")


def test_global_on_a_zoo_resnet_and_the_table_runner():
    rt = pytest.importorskip("ramcore.torch")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
    try:
        from sparsify_global import compare, table
    finally:
        sys.path.pop(0)
    rows = compare("resnet20", [0.05], seed=1)
    assert [r["scope"] for r in rows] == ["layerwise", "global"]
    assert all(r["kept"] == pytest.approx(0.05, abs=1e-5) for r in rows)
    assert rows[0]["layer_max"] - rows[0]["layer_min"] < 0.01  # layerwise: every layer at 5 %
    assert rows[1]["layer_max"] > 0.1  # global: Algorithm 1 allocates (small layers keep more)
    assert "| resnet20 | 5% | global |" in table(rows)
    model = rt.zoo.create("resnet20")
    inputs = rt.layer_inputs(model)
    params = dict(model.named_parameters())
    scores = {n: params[n].detach().abs() for n in inputs}  # torch in, torch masks out
    res = ramcore.sparsify(scores, density=0.05, scope="global", inputs=inputs, seed=1, report=False)
    for n, s in scores.items():
        assert res.masks[n].shape == s.shape and str(res.masks[n].dtype) == "torch.bool"


def laplacian(a: np.ndarray) -> np.ndarray:
    return np.diag(a.sum(axis=1)) - a


def bounds(lg: np.ndarray, lh: np.ndarray) -> tuple[float, float]:
    """min and max of x'L_H x / x'L_G x over x outside the null space of L_G."""
    s, u = np.linalg.eigh(lg)
    keep = s > 1e-9 * s.max()
    z = u[:, keep] / np.sqrt(s[keep])
    ev = np.linalg.eigvalsh(z.T @ lh @ z)
    return float(ev[0]), float(ev[-1])


def test_layerwise_sparsifiers_merged_bound_the_global_graph():
    """Lemma 3.1 with the channel merge: H_i an (lo_i, hi_i)-approximation of the rolled layer graph
    G_i (one vertex per kernel entry) stays one after identifying the entries of a channel (x
    constant on them), and the union over layers is one of G_full with [min lo_i, max hi_i]."""
    g = cnn(5)
    res = ramcore.sparsify(g, epsilon=2.0, seed=3, return_weights=True, report=False)
    los, his = [], []
    for name, w in g.items():

        def bip(m):
            b = m.reshape(m.shape[0], -1).T  # (in * k * k, out)
            a = np.block([[np.zeros((b.shape[0],) * 2), b], [b.T, np.zeros((b.shape[1],) * 2)]])
            return laplacian(a)

        lo, hi = bounds(bip(w), bip(res.weights[name]))
        los.append(lo)
        his.append(hi)
    lo, hi = bounds(
        laplacian(network_adjacency(g)[0].toarray()), laplacian(network_adjacency(res.weights)[0].toarray())
    )
    assert min(los) - 1e-9 <= lo and hi <= max(his) + 1e-9
    assert hi > 1.1 and lo < 0.9  # a real sparsifier, not the identity
