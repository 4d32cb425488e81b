"""Seed 004's Ramanujan-based baselines: Delta r, Delta r_imdb, lambda_imsg per layer."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from ramcore.torch.baselines import (  # noqa: E402
    BaselineRow,
    iterative_mean_gaps,
    network_baselines,
    ramanujan_baselines,
)


def reference(w: np.ndarray) -> tuple[float, float, int]:
    """Hoang et al.'s recipe written out densely: d-left-regular subgraphs, isolated vertices
    dropped, min average degree 3, third-largest |eigenvalue| of the adjacency as mu_hat."""
    bounds, gaps = [], []
    deg = (w != 0).sum(axis=1)
    for d, count in Counter(deg.tolist()).items():
        if count < 3 or d == 0:
            continue
        sub = w[deg == d]
        sub = sub[:, (sub != 0).any(axis=0)]
        dr = (sub != 0).sum() / sub.shape[1]
        if min(d, dr) < 3:
            continue
        rows, cols = sub.shape
        adj = np.zeros((rows + cols, rows + cols))
        adj[:rows, rows:] = sub != 0
        adj += adj.T
        mags = np.sort(np.abs(np.linalg.eigvalsh(adj)))[::-1]
        bounds.append(math.sqrt(d - 1) + math.sqrt(dr - 1) - mags[2])
        weighted = np.zeros_like(adj)
        weighted[:rows, rows:] = np.abs(sub)
        weighted += weighted.T
        ev = np.sort(np.linalg.eigvalsh(weighted))[::-1]
        gaps.append(ev[0] - ev[ev < ev[0] - 1e-12][0])
    if not bounds:
        return math.nan, math.nan, 0
    return float(np.mean(bounds)), float(np.mean(gaps)), len(bounds)


@pytest.mark.parametrize("seed,density", [(0, 0.3), (1, 0.5), (2, 0.15), (3, 0.8)])
def test_iterative_gaps_against_a_dense_reference(seed, density):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((40, 25)) * (rng.uniform(size=(40, 25)) < density)
    got = iterative_mean_gaps(w, layout="biadjacency")
    ref = reference(w)
    assert got.subgraphs == ref[2]
    if ref[2]:
        assert got.delta_r_imdb == pytest.approx(ref[0], rel=1e-9, abs=1e-9)
        assert got.lambda_imsg == pytest.approx(ref[1], rel=1e-9, abs=1e-9)
    else:
        assert math.isnan(got.delta_r_imdb) and math.isnan(got.lambda_imsg)


def test_regular_complete_bipartite_subgraph():
    # K_{4,5}: one degree class (d = 5, 4 left vertices), mu_hat = 0, Delta r = 2 + sqrt(3)
    g = iterative_mean_gaps(np.ones((4, 5)), layout="biadjacency")
    assert g.subgraphs == 1
    assert g.delta_r_imdb == pytest.approx(2.0 + math.sqrt(3.0))
    assert g.lambda_imsg == pytest.approx(math.sqrt(20.0))  # sigma_1 of J_{4x5}, sigma_2 = 0


def test_below_the_degree_rule_is_nan():
    g = iterative_mean_gaps(np.eye(6), layout="biadjacency")  # degree 1 everywhere
    assert g.subgraphs == 0 and math.isnan(g.delta_r_imdb)


def test_model_rows_and_network_average():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 4))
    masks = {"0.weight": torch.rand(8, 3, 3, 3) < 0.6, "3.weight": torch.rand(4, 288) < 0.02}
    rows = ramanujan_baselines(model, masks)
    assert [(r.name, r.rows, r.cols) for r in rows] == [("0.weight", 27, 8), ("3.weight", 288, 4)]
    w = model[0].weight.detach().double().numpy() * masks["0.weight"].numpy()
    ref = reference(w.reshape(8, -1).T)
    assert rows[0].delta_r_imdb == pytest.approx(ref[0]) and rows[0].lambda_imsg == pytest.approx(ref[1])
    assert rows[0].density == pytest.approx(float(masks["0.weight"].float().mean()))
    assert math.isnan(rows[1].delta_r)  # about 1.4 edges per output: below the rule
    avg = network_baselines(rows)
    assert avg["density"] == pytest.approx((rows[0].density + rows[1].density) / 2)
    assert avg["delta_r"] == pytest.approx(rows[0].delta_r)  # the undefined layer is skipped
    nan_row = BaselineRow("x", 0, 1, 1, 0.5, math.nan, math.nan, math.nan, 0)
    assert math.isnan(network_baselines([nan_row])["delta_r"])
