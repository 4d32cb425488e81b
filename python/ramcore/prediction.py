"""Predicting the accuracy drop of sparse networks and ranking pruning methods (seed 004, section 4).

- `regress_accuracy_drop(features, drop)`: the seed's 8 regressors (section 4.2.1, appendix A.6)
  with min-max scaling, k-fold cross-validation repeated over several shuffles; adjusted R^2 and
  MAE of the out-of-fold predictions per regressor, and the feature importance of section 4.2.2:
  the Pearson correlation between each feature and the regressors' predictions.
- `mixture_scores(topometrics, w_arch, w_sparsity)`: the ranking coefficient of eq. (5),
  r^p = sum_i x_i^p (w_i^M + w_i^s) / 2 over min-max scaled x; methods are ranked by ascending
  r^p (a lower predicted accuracy drop first). `rank(scores)` sorts, `rbo(a, b)` compares two rankings.
- `rbo(a, b, alpha)`: rank-biased overlap (Webber et al. 2010), the extrapolated form RBO_ext
  (their eq. 32), so that identical rankings score 1; `mean_rbo` averages alpha in {0.25, 0.5,
  0.75} as the seed does. The seed's values (0.26, 0.36, 0.86 for four methods) are RBO_ext's.

scikit-learn is needed for the regression only (`pip install scikit-learn`).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from .progress import Progress, check_progress

__all__ = [
    "REGRESSORS",
    "RegressionResult",
    "mean_rbo",
    "mixture_scores",
    "rank",
    "rbo",
    "regress_accuracy_drop",
]

FloatArray = npt.NDArray[np.float64]
REGRESSORS = ("linear", "ridge", "lasso", "elastic_net", "huber", "pcr", "bayesian_ridge", "ard")
RBO_ALPHAS = (0.25, 0.5, 0.75)


def _regressor(name: str) -> Any:
    """A scikit-learn pipeline: min-max scaling to [0, 1] (fitted on the training folds), then the model."""
    from sklearn import linear_model as lm
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler

    # Lasso/ElasticNet: sklearn's default alpha = 1 shrinks every coefficient to zero on features
    # and drops scaled to [0, 1]; the seed gives no hyperparameters, so a light penalty is used.
    models = {
        "linear": lambda: lm.LinearRegression(),
        "ridge": lambda: lm.Ridge(),
        "lasso": lambda: lm.Lasso(alpha=1e-3, max_iter=100_000),
        "elastic_net": lambda: lm.ElasticNet(alpha=1e-3, max_iter=100_000),
        "huber": lambda: lm.HuberRegressor(max_iter=10_000),
        # principal-component regression: the components explaining 95 % of the variance
        "pcr": lambda: make_pipeline(PCA(n_components=0.95, svd_solver="full"), lm.LinearRegression()),
        "bayesian_ridge": lambda: lm.BayesianRidge(),
        "ard": lambda: lm.ARDRegression(),
    }
    return make_pipeline(MinMaxScaler(), models[name]())


@dataclass(frozen=True)
class RegressionResult:
    """Cross-validated regression of the accuracy drop on a feature table.

    per_regressor: name -> {"adj_r2": (mean, std), "mae": (mean, std)} over the runs, each run's
      figures computed on the out-of-fold predictions of all samples.

    adj_r2, mae: (mean, std) over regressors and runs, as Table 3 of seed 004 averages them.

    importance: feature -> Pearson r between the feature and the out-of-fold predictions, averaged
      over regressors and runs (Figs. 3-4); NaN for a constant feature.
    """

    features: tuple[str, ...]
    samples: int
    folds: int
    runs: int
    per_regressor: dict[str, dict[str, tuple[float, float]]]
    adj_r2: tuple[float, float]
    mae: tuple[float, float]
    importance: dict[str, float] = field(repr=False)

    def table(self) -> str:
        lines = [f"{'regressor':<16}{'adjusted R2':>18}{'MAE':>18}"]
        for name, f in self.per_regressor.items():
            (r, rs), (m, ms) = f["adj_r2"], f["mae"]
            lines.append(f"{name:<16}{r:>11.3f} ± {rs:.3f}{m:>11.4f} ± {ms:.4f}")
        (r, rs), (m, ms) = self.adj_r2, self.mae
        lines.append(f"{'mean':<16}{r:>11.3f} ± {rs:.3f}{m:>11.4f} ± {ms:.4f}")
        return "\n".join(lines)


def _feature_table(features: Any) -> tuple[FloatArray, tuple[str, ...]]:
    """A (samples, features) float array and its column names from a mapping of columns, a list of
    row mappings, or a 2-d array (columns named f0, f1, ...)."""
    if isinstance(features, Mapping):
        names = tuple(str(k) for k in features)
        cols = [np.asarray(features[k], dtype=np.float64).reshape(-1) for k in features]
        if len({c.size for c in cols}) > 1:
            raise ValueError("features: every column must have the same length")
        x = np.stack(cols, axis=1) if cols else np.empty((0, 0))
    elif isinstance(features, Sequence) and features and isinstance(features[0], Mapping):
        names = tuple(str(k) for k in features[0])
        x = np.array([[float(row[k]) for k in features[0]] for row in features], dtype=np.float64)
    else:
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2:
            raise ValueError(f"features must be 2-d (samples, features), got shape {x.shape}")
        names = tuple(f"f{i}" for i in range(x.shape[1]))
    if x.shape[1] == 0:
        raise ValueError("features: no feature columns")
    if not np.all(np.isfinite(x)):
        bad = [names[j] for j in np.flatnonzero(~np.isfinite(x).all(axis=0))]
        raise ValueError(f"features contain NaN or infinite values in {bad}: drop or impute them first")
    return x, names


def regress_accuracy_drop(
    features: Any,
    drop: Any,
    *,
    regressors: Sequence[str] = REGRESSORS,
    folds: int = 5,
    runs: int = 100,
    seed: int = 0,
    progress: bool | None = None,
) -> RegressionResult:
    """Fit the seed's regressors to predict the accuracy drop from topometrics (seed 004 section 4.2).

    features: a mapping name -> column, a list of rows (mappings), or a (samples, n) array.
    drop: the accuracy drop of every sample, 1 - acc_sparse / acc_dense.
    folds: k of the k-fold cross-validation (seed: 5); runs: shuffles of the folds (seed: 100).
    progress: progress over the runs x regressors fits (`ramcore.progress`; None: a bar on a terminal).
    Adjusted R^2 = 1 - (1 - R^2)(n - 1)/(n - p - 1) with n samples and p features; it is NaN when
    n <= p + 1 (the importance and MAE are still computed).
    """
    from sklearn.model_selection import KFold, cross_val_predict

    x, names = _feature_table(features)
    y = np.asarray(drop, dtype=np.float64).reshape(-1)
    n, p = x.shape
    if y.size != n:
        raise ValueError(f"drop has {y.size} values but features have {n} samples")
    unknown = [r for r in regressors if r not in REGRESSORS]
    if unknown or not regressors:
        raise ValueError(f"regressors must be a non-empty subset of {REGRESSORS}, got {list(regressors)}")
    if isinstance(folds, bool) or not isinstance(folds, int) or not 2 <= folds <= n:
        raise ValueError(f"folds must be an integer in [2, samples = {n}], got {folds!r}")
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise ValueError(f"runs must be an integer >= 1, got {runs!r}")
    figures: dict[str, dict[str, list[float]]] = {r: {"adj_r2": [], "mae": []} for r in regressors}
    corr_sum, corr_count = np.zeros(p), np.zeros(p)
    total = float(np.sum((y - y.mean()) ** 2))
    with Progress(runs * len(regressors), "regression", "fit", check_progress(progress)) as bar:
        for run in range(runs):
            split = KFold(folds, shuffle=True, random_state=seed + run)
            for name in regressors:
                bar.update(0, name)
                pred = cross_val_predict(_regressor(name), x, y, cv=split)
                bar.update()
                r2 = 1.0 - float(np.sum((y - pred) ** 2)) / total if total > 0 else math.nan
                adjusted = 1.0 - (1.0 - r2) * (n - 1) / (n - p - 1) if n > p + 1 else math.nan
                figures[name]["adj_r2"].append(adjusted)
                figures[name]["mae"].append(float(np.mean(np.abs(y - pred))))
                r = _pearson_columns(x, pred)
                ok = np.isfinite(r)
                corr_sum[ok] += r[ok]
                corr_count[ok] += 1
    per = {
        name: {k: (float(np.mean(v)), float(np.std(v))) for k, v in f.items()} for name, f in figures.items()
    }
    all_r2 = [v for f in figures.values() for v in f["adj_r2"]]
    all_mae = [v for f in figures.values() for v in f["mae"]]
    with np.errstate(invalid="ignore", divide="ignore"):
        importance = corr_sum / corr_count
    return RegressionResult(
        names,
        n,
        folds,
        runs,
        per,
        (float(np.mean(all_r2)), float(np.std(all_r2))),
        (float(np.mean(all_mae)), float(np.std(all_mae))),
        {k: float(v) for k, v in zip(names, importance)},
    )


def _pearson_columns(x: FloatArray, y: FloatArray) -> FloatArray:
    """Pearson r between every column of x and y; NaN where either is constant."""
    xc, yc = x - x.mean(axis=0), y - y.mean()
    den = np.sqrt(np.sum(xc**2, axis=0) * np.sum(yc**2))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (xc.T @ yc) / den
    return np.where(den > 0, r, math.nan)


# --- ranking --------------------------------------------------------------------------------------


def mixture_scores(
    topometrics: Mapping[Hashable, Mapping[str, float]],
    w_arch: Mapping[str, float],
    w_sparsity: Mapping[str, float],
    *,
    ranges: Mapping[str, tuple[float, float]] | None = None,
) -> dict[Hashable, float]:
    """Seed 004 eq. (5): r^p = sum_i x_i^p (w_i^M + w_i^s) / 2 for every method p.

    topometrics: method -> {metric: value}; w_arch, w_sparsity: metric -> importance (Pearson r of
    the metric with the predicted accuracy drop) in the Architecture-Fixed and Sparsity-Fixed
    scenarios, e.g. `RegressionResult.importance`. Metrics whose weight is NaN count 0. A lower
    r^p predicts a smaller accuracy drop: `rank(scores, ascending=True)` puts it first.

    x is min-max scaled into [0, 1] per metric first, as the regression that gives the weights
    scales it (section 4.1): raw topometrics differ by orders of magnitude (normalised motif
    counts ~1e3, node fractions ~1e-3), and a sum of raw values would rank by the largest ones
    whatever the weights. ranges: metric -> (min, max) to scale by, e.g. over the whole table
    the weights were fitted on; default: the min and max over the methods given. A metric
    with max == min contributes 0.
    """
    if not topometrics:
        raise ValueError("topometrics: no methods to score")
    metrics = list(next(iter(topometrics.values())))
    for method, row in topometrics.items():
        if list(row) != metrics:
            raise ValueError(f"topometrics[{method!r}] must have the metrics {metrics}, got {list(row)}")
    missing = [m for m in metrics if m not in w_arch or m not in w_sparsity]
    if missing:
        raise ValueError(f"w_arch and w_sparsity need a weight for every metric; missing {missing}")
    x = np.array([[row[m] for m in metrics] for row in topometrics.values()], dtype=np.float64)
    if ranges is None:
        lo, hi = x.min(axis=0), x.max(axis=0)
    else:
        absent = [m for m in metrics if m not in ranges]
        if absent:
            raise ValueError(f"ranges needs a (min, max) for every metric; missing {absent}")
        lo, hi = (np.array([ranges[m][i] for m in metrics], dtype=np.float64) for i in (0, 1))
    span = hi - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = np.where(span > 0, (x - lo) / np.where(span > 0, span, 1.0), 0.0)
    w = np.array([(w_arch[m] + w_sparsity[m]) / 2 for m in metrics], dtype=np.float64)
    w = np.nan_to_num(w, nan=0.0)
    return {p: float(np.dot(row, w)) for p, row in zip(topometrics, scaled)}


def rank(scores: Mapping[Hashable, float], *, ascending: bool = True) -> list[Hashable]:
    """Keys sorted by score (ties keep the mapping's order); NaN scores go last."""
    keys = list(scores)
    sign = 1.0 if ascending else -1.0

    def key(k: Hashable) -> tuple[bool, float]:
        value = float(scores[k])
        return (math.isnan(value), 0.0 if math.isnan(value) else sign * value)

    return sorted(keys, key=key)


def rbo(a: Sequence[Hashable], b: Sequence[Hashable], alpha: float = 0.5) -> float:
    """Extrapolated rank-biased overlap of two rankings (Webber, Moffat & Zobel 2010, eq. 32).

    RBO_ext = X_k / k * alpha^k + (1 - alpha) / alpha * sum_{d=1..k} X_d / d * alpha^d, with X_d the
    size of the overlap of the top-d prefixes and k the common length; 1 for identical rankings.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if len(a) != len(b) or not a:
        raise ValueError(f"the rankings must be non-empty and of the same length, got {len(a)} and {len(b)}")
    if len(set(a)) != len(a) or len(set(b)) != len(b):
        raise ValueError("a ranking must not repeat an item")
    k = len(a)
    seen_a: set[Hashable] = set()
    seen_b: set[Hashable] = set()
    overlap, total = 0, 0.0
    for d in range(1, k + 1):
        x, y = a[d - 1], b[d - 1]
        overlap += (x in seen_b) + (y in seen_a) + (x == y)
        seen_a.add(x)
        seen_b.add(y)
        total += overlap / d * alpha**d
    return overlap / k * alpha**k + (1 - alpha) / alpha * total


def mean_rbo(a: Sequence[Hashable], b: Sequence[Hashable], alphas: Sequence[float] = RBO_ALPHAS) -> float:
    """RBO averaged over `alphas` (seed 004: 0.25, 0.5, 0.75, to avoid choosing one)."""
    return float(np.mean([rbo(a, b, alpha) for alpha in alphas]))
