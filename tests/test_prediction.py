"""Accuracy-drop regression, the topometric mixture and rank-biased overlap (seed 004 section 4)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from ramcore.prediction import REGRESSORS, mean_rbo, mixture_scores, rank, rbo, regress_accuracy_drop

pytest.importorskip("sklearn")


def rbo_reference(a, b, alpha):
    """Webber et al. eq. 32 written out with explicit prefix sets."""
    k = len(a)
    x = [len(set(a[:d]) & set(b[:d])) for d in range(1, k + 1)]
    return x[-1] / k * alpha**k + (1 - alpha) / alpha * sum(x[d - 1] / d * alpha**d for d in range(1, k + 1))


def test_rbo_against_the_formula_for_every_permutation():
    a = list("abcde")
    for b in itertools.permutations(a):
        for alpha in (0.25, 0.5, 0.75, 0.9):
            assert rbo(a, list(b), alpha) == pytest.approx(rbo_reference(a, list(b), alpha), abs=1e-15)


def test_rbo_values_of_the_seed():
    # seed 004 Table 11 reports these levels for rankings of four methods
    a = [0, 1, 2, 3]
    assert mean_rbo(a, a) == pytest.approx(1.0)
    assert mean_rbo(a, [3, 2, 1, 0]) == pytest.approx(0.257, abs=5e-4)
    assert mean_rbo(a, [1, 2, 3, 0]) == pytest.approx(0.361, abs=5e-4)
    assert mean_rbo(a, [0, 3, 2, 1]) == pytest.approx(0.861, abs=5e-4)
    assert rbo(a, [1, 0, 2, 3], 0.5) < rbo(a, [0, 1, 3, 2], 0.5)  # top-weighted


@pytest.mark.parametrize(
    "a,b,alpha,match",
    [([1, 2], [1, 2], 1.0, "alpha"), ([1, 2], [1], 0.5, "same length"), ([1, 1], [1, 2], 0.5, "repeat")],
)
def test_rbo_bad_arguments(a, b, alpha, match):
    with pytest.raises(ValueError, match=match):
        rbo(a, b, alpha)


def test_regression_recovers_a_linear_drop():
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(60, 3))
    drop = 0.5 * x[:, 0] - 0.3 * x[:, 1] + 0.01 * rng.standard_normal(60)
    res = regress_accuracy_drop({"a": x[:, 0], "b": x[:, 1], "noise": x[:, 2]}, drop, runs=2)
    assert set(res.per_regressor) == set(REGRESSORS)
    assert res.adj_r2[0] > 0.9 and res.mae[0] < 0.05
    for name in ("linear", "ridge", "bayesian_ridge", "ard", "huber"):
        assert res.per_regressor[name]["adj_r2"][0] > 0.95
    # feature importance: the sign of each feature's effect, the noise column near zero
    assert res.importance["a"] > 0.7 and res.importance["b"] < -0.3 and abs(res.importance["noise"]) < 0.3
    again = regress_accuracy_drop({"a": x[:, 0], "b": x[:, 1], "noise": x[:, 2]}, drop, runs=2)
    assert again.per_regressor == res.per_regressor  # deterministic given the seed
    assert "mean" in res.table()


def test_regression_adjusted_r2_matches_its_definition():
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(30, 2))
    drop = x @ [1.0, 2.0] + 0.2 * rng.standard_normal(30)
    from sklearn.linear_model import LinearRegression
    from sklearn.model_selection import KFold, cross_val_predict

    pred = cross_val_predict(LinearRegression(), x, drop, cv=KFold(5, shuffle=True, random_state=0))
    r2 = 1 - np.sum((drop - pred) ** 2) / np.sum((drop - drop.mean()) ** 2)
    res = regress_accuracy_drop(x, drop, regressors=["linear"], runs=1)
    assert res.per_regressor["linear"]["adj_r2"][0] == pytest.approx(1 - (1 - r2) * 29 / 27)
    assert res.features == ("f0", "f1")


def test_regression_takes_rows_and_refuses_bad_tables():
    rows = [{"x": float(i), "y": float(i % 3)} for i in range(12)]
    res = regress_accuracy_drop(rows, [r["x"] * 0.1 for r in rows], regressors=["linear"], runs=1)
    assert res.features == ("x", "y") and res.samples == 12
    with pytest.raises(ValueError, match="NaN"):
        regress_accuracy_drop({"a": [1.0, math.nan, 2.0, 3.0]}, [0, 1, 2, 3], folds=2)
    with pytest.raises(ValueError, match="samples"):
        regress_accuracy_drop({"a": [1.0, 2.0]}, [0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="regressors"):
        regress_accuracy_drop({"a": np.arange(10.0)}, np.arange(10.0), regressors=["svm"])
    with pytest.raises(ValueError, match="folds"):
        regress_accuracy_drop({"a": np.arange(10.0)}, np.arange(10.0), folds=1)
    few = regress_accuracy_drop(np.arange(6.0).reshape(3, 2) ** 2, np.arange(3.0), folds=3, runs=1)
    assert math.isnan(few.adj_r2[0]) and math.isfinite(few.mae[0])  # n <= p + 1: adjusted R^2 undefined


def test_mixture_scores_follow_equation_5():
    topo = {
        "snip": {"m1": 1.0, "m2": 0.0},
        "synflow": {"m1": 0.0, "m2": 1.0},
        "grasp": {"m1": 0.5, "m2": 0.5},
    }
    w_arch, w_sparsity = {"m1": 0.8, "m2": -0.2}, {"m1": 0.4, "m2": math.nan}
    scores = mixture_scores(topo, w_arch, w_sparsity)
    assert scores == pytest.approx({"snip": 0.6, "synflow": 0.0, "grasp": 0.3})  # NaN weight counts 0
    assert rank(scores) == ["synflow", "grasp", "snip"]  # ascending: smallest predicted drop first
    assert rank(scores, ascending=False) == ["snip", "grasp", "synflow"]
    assert rank({"a": math.nan, "b": 1.0}) == ["b", "a"]
    with pytest.raises(ValueError, match="weight for every metric"):
        mixture_scores(topo, {"m1": 1.0}, w_sparsity)
    with pytest.raises(ValueError, match="metrics"):
        mixture_scores({"a": {"m1": 1.0}, "b": {"m2": 1.0}}, w_arch, w_sparsity)


def test_mixture_scores_min_max_scale_every_metric():
    """A metric's units must not decide the ranking: x is min-max scaled before eq. (5)."""
    topo = {"a": {"big": 1000.0, "small": 0.003}, "b": {"big": 3000.0, "small": 0.001}}
    w = {"big": 0.1, "small": 0.9}
    scores = mixture_scores(topo, w, w)
    assert scores == pytest.approx({"a": 0.9, "b": 0.1})  # small drives it; raw x would say a < b
    assert rank(scores) == ["b", "a"]
    rescaled = {p: {"big": row["big"] / 1e6, "small": row["small"] * 1e6} for p, row in topo.items()}
    assert mixture_scores(rescaled, w, w) == pytest.approx(scores)
    wide = mixture_scores(topo, w, w, ranges={"big": (0.0, 4000.0), "small": (0.0, 0.004)})
    assert wide == pytest.approx({"a": 0.1 * 0.25 + 0.9 * 0.75, "b": 0.1 * 0.75 + 0.9 * 0.25})
    flat = mixture_scores({"a": {"m": 2.0}, "b": {"m": 2.0}}, {"m": 1.0}, {"m": 1.0})
    assert flat == {"a": 0.0, "b": 0.0}  # a constant metric carries nothing
    with pytest.raises(ValueError, match="ranges"):
        mixture_scores(topo, w, w, ranges={"big": (0.0, 1.0)})
