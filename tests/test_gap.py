import math

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

import ramcore

GOLDEN = (1 + math.sqrt(5)) / 2


def reference_gap(b, weighted):
    """Dense oracle: largest component by networkx, t1/t2 by numpy's SVD."""
    b = np.abs(np.asarray(b, dtype=float))
    rows, cols = b.shape
    g = nx.Graph()
    for i, j in zip(*np.nonzero(b)):
        g.add_edge(("l", i), ("r", j))
    comp = max(nx.connected_components(g), key=len)
    left = sorted(v[1] for v in comp if v[0] == "l")
    right = sorted(v[1] for v in comp if v[0] == "r")
    sub = b[np.ix_(left, right)]
    pattern = (sub != 0).astype(float)
    sv = np.linalg.svd(sub if weighted else pattern, compute_uv=False)
    t1, t2 = sv[0], (sv[1] if min(sub.shape) > 1 else 0.0)
    edges = pattern.sum()
    dl, dr = edges / len(left), edges / len(right)
    ds = (2 * math.sqrt(t1 - 1) - t2) / t2
    dr_ = (math.sqrt(dl - 1) + math.sqrt(dr - 1) - t2) / t2
    return t1, t2, ds, dr_, dl, dr


def test_path_of_four_vertices_by_hand():
    # B = [[1, 1], [0, 1]]: singular values phi and 1/phi, average degrees 3/2 on both sides.
    gap = ramcore.ramanujan_gap(np.array([[1.0, 1.0], [0.0, 1.0]]), layout="biadjacency")
    assert gap.t1 == pytest.approx(GOLDEN) and gap.t2 == pytest.approx(1 / GOLDEN)
    assert gap.d_left == gap.d_right == 1.5
    assert gap.delta_s == pytest.approx((2 * math.sqrt(GOLDEN - 1) - 1 / GOLDEN) * GOLDEN)
    assert gap.delta_r == pytest.approx((2 * math.sqrt(0.5) - 1 / GOLDEN) * GOLDEN)


@pytest.mark.parametrize("m,n", [(2, 2), (3, 5), (7, 4)])
def test_complete_bipartite(m, n):
    gap = ramcore.ramanujan_gap(np.ones((m, n)), layout="biadjacency")
    assert gap.t1 == pytest.approx(math.sqrt(m * n)) and gap.t2 == pytest.approx(0, abs=1e-9)
    assert gap.delta_s == math.inf and gap.delta_r == math.inf and gap.defined
    assert (gap.d_left, gap.d_right) == (n, m) and gap.components == 1


def test_disjoint_union_uses_largest_component():
    b = sp.block_diag([np.ones((2, 3)), np.ones((4, 4)), np.array([[1.0, 1.0], [0.0, 1.0]])]).toarray()
    gap = ramcore.ramanujan_gap(b, layout="biadjacency")
    assert gap.components == 3 and gap.component_sizes.tolist() == [8, 5, 4]
    assert gap.component_shape == (4, 4) and gap.t1 == pytest.approx(4.0) and gap.component_edges == 16


def test_single_edge_and_empty_layers():
    gap = ramcore.ramanujan_gap(np.array([[0.0, 0.0], [0.0, 2.5]]), layout="biadjacency", weighted=True)
    assert not gap.defined and "single edge" in gap.reason and math.isnan(gap.delta_s)
    assert gap.isolated_left == 1 and gap.isolated_right == 1
    empty = ramcore.ramanujan_gap(np.zeros((4, 6)))
    assert not empty.defined and "no edges" in empty.reason and empty.components == 0
    assert empty.isolated_left == 6 and empty.isolated_right == 4  # torch layout: (out=4, in=6)


def test_star_has_t2_zero():
    gap = ramcore.ramanujan_gap(np.ones((1, 5)), layout="biadjacency")
    assert gap.t1 == pytest.approx(math.sqrt(5)) and gap.t2 == 0.0 and gap.delta_r == math.inf


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("weighted", [False, True])
def test_random_masks_against_dense_oracle(seed, weighted):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((90, 120)) * (rng.random((90, 120)) < 0.04)  # several components
    gap = ramcore.ramanujan_gap(w, weighted=weighted, layout="biadjacency")
    t1, t2, ds, dr, dl, dr_deg = reference_gap(w, weighted)
    assert gap.t1 == pytest.approx(t1, rel=1e-8) and gap.t2 == pytest.approx(t2, rel=1e-8)
    assert gap.delta_s == pytest.approx(ds, rel=1e-7) and gap.delta_r == pytest.approx(dr, rel=1e-7)
    assert (gap.d_left, gap.d_right) == pytest.approx((dl, dr_deg))


def test_large_layer_uses_lanczos_and_matches_dense():
    rng = np.random.default_rng(3)
    mask = rng.random((512, 4608)) < 0.05  # VGG-16's largest conv layer graph at 5 % density
    gap = ramcore.ramanujan_gap(mask.reshape(512, 512, 3, 3))
    sv = np.linalg.svd(mask.astype(float), compute_uv=False)
    assert gap.component_shape == (4608, 512)
    assert gap.t1 == pytest.approx(sv[0], rel=1e-9) and gap.t2 == pytest.approx(sv[1], rel=1e-8)


def test_conv_layout_and_sign_invariance():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((16, 8, 3, 3)) * (rng.random((16, 8, 3, 3)) < 0.3)
    a = ramcore.ramanujan_gap(w, weighted=True)
    b = ramcore.ramanujan_gap(np.abs(w).reshape(16, -1).T, weighted=True, layout="biadjacency")
    c = ramcore.ramanujan_gap(-w, weighted=True)
    assert (
        a.t1 == pytest.approx(b.t1) and a.t2 == pytest.approx(b.t2) and a.delta_s == pytest.approx(c.delta_s)
    )
    assert a.component_shape[1] <= 16 and a.component_shape[0] <= 72


def test_lps_biadjacency_is_ramanujan():
    g = ramcore.lps_graph(5, 13)
    gap = ramcore.ramanujan_gap(g.biadjacency, layout="biadjacency")
    assert gap.delta_s > 0 and gap.delta_r > 0 and gap.t1 == pytest.approx(6)


def test_torch_weights():
    torch = pytest.importorskip("torch")
    w = torch.randn(32, 16) * (torch.rand(32, 16) < 0.3)
    a = ramcore.ramanujan_gap(w, weighted=True)
    b = ramcore.ramanujan_gap(w.numpy(), weighted=True)
    assert a.t1 == pytest.approx(b.t1) and a.delta_r == pytest.approx(b.delta_r)


def test_bad_input():
    with pytest.raises(ValueError, match="layout"):
        ramcore.ramanujan_gap(np.ones((2, 2)), layout="rows")
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        ramcore.ramanujan_gap(np.ones(3))
    with pytest.raises(ValueError, match="NaN"):
        ramcore.ramanujan_gap(np.array([[np.nan, 1.0]]))
    with pytest.raises(TypeError, match="weighted must be a bool"):
        ramcore.ramanujan_gap(np.ones((2, 2)), weighted="yes")


# --- results the solver did not converge to are never used (issue 14) -----------------------------


def _unconverged_svds(*args, **kwargs):
    """A Lanczos result that did not converge, with absurd values (what a lost recurrence gives)."""
    return ramcore.SVDResult(
        values=np.array([1.2e7, 5.8e6]), residuals=np.array([1.0, 1.0]), vectors=None, side="cols",
        converged=False, matvecs=10, restarts=1000, tol=1e-12, seconds=0.0,
    )  # fmt: skip


def test_unconverged_lanczos_is_recomputed_densely(monkeypatch):
    rng = np.random.default_rng(3)
    b = (rng.random((120, 90)) < 0.1).astype(float)  # both sides above DENSE_LIMIT: the Lanczos path
    monkeypatch.setattr(ramcore.layers.gap, "svds", _unconverged_svds)
    gap = ramcore.ramanujan_gap(b, layout="biadjacency")
    t1, t2 = reference_gap(b, weighted=False)[:2]
    assert gap.defined and gap.t1 == pytest.approx(t1, rel=1e-10) and gap.t2 == pytest.approx(t2, rel=1e-10)


def test_unconverged_lanczos_beyond_the_dense_fallback_is_undefined(monkeypatch):
    b = np.ones((100, 80))
    monkeypatch.setattr(ramcore.layers.gap, "svds", _unconverged_svds)
    monkeypatch.setattr(ramcore.layers.gap, "DENSE_FALLBACK", 100)  # as if the layer were huge
    gap = ramcore.ramanujan_gap(b)
    assert not gap.defined and "did not converge" in gap.reason
    assert math.isnan(gap.t1) and math.isnan(gap.delta_s) and math.isnan(gap.delta_r)
    raw = ramcore.layers.raw_ramanujan_gap(b)
    assert not raw.defined and "did not converge" in raw.reason and math.isnan(raw.delta_s)


def test_dense_layer_on_the_lanczos_path():
    """A fully dense 100 x 80 layer: t1 = sqrt(mn), t2 = 0, Delta_S = +inf (issue 14's example)."""
    gap = ramcore.ramanujan_gap(np.ones((80, 100)))
    if not gap.defined:  # the solver may still refuse to converge; it must then say so
        assert "did not converge" in gap.reason
        return
    assert gap.t1 == pytest.approx(math.sqrt(80 * 100), rel=1e-9)
    assert gap.t2 == pytest.approx(0.0, abs=1e-6) and gap.delta_s == math.inf
