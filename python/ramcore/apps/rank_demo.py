"""`ramcore rank-demo`: seed 004's pipeline end to end on scikit-learn's bundled digits (no download).

For every model (the demo's MLP and CNN), pruning method and density, over a few seeds: masks at
initialisation, the masked initial network encoded (unrolled MGE, rolled and rolled-channel BGEs)
and measured (the 16 topometrics; the Ramanujan-based layer baselines and layer density), then
trained to get its accuracy drop 1 - acc_sparse / acc_dense. Then

1. regression of the accuracy drop on the topometrics of each encoding (seed 004 section 4.2.1):
   adjusted R^2 and MAE averaged over the 8 regressors;
2. ranking of the methods for every (model, density) (section 4.3): by the topometric mixture of
   eq. (5), with importances estimated without the ranked case (Architecture-Fixed: the same
   model at the other densities; Sparsity-Fixed: the other models at the same density), and by the
   baselines (average layer density, Delta r, Delta r_imdb, lambda_imsg; larger is better),
   each compared with the true ranking (by accuracy) by the mean RBO.

A table is printed; `write_ranking_outputs` saves CSVs and a plot.
"""

from __future__ import annotations

import csv
import math
import statistics
import time
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..prediction import mean_rbo, mixture_scores, rank, regress_accuracy_drop
from ..topometrics import topometrics
from ..torch.apply import apply_masks
from ..torch.baselines import network_baselines, ramanujan_baselines
from ..torch.encode import encode
from ..torch.masks import make_masks
from .demo import MODELS, digits, train

__all__ = [
    "BASELINES",
    "ENCODINGS",
    "RankingResult",
    "Sample",
    "rank_demo",
    "run_ranking",
    "write_ranking_outputs",
]

PAI = ("snip", "grasp", "synflow", "prospr")
ENCODINGS = ("unrolled", "rolled", "rolled_channel")
BASELINES = ("density", "delta_r", "delta_r_imdb", "lambda_imsg")
INPUT_SHAPE = (1, 8, 8)


@dataclass(frozen=True)
class Sample:
    """One (model, method, density) averaged over seeds."""

    model: str
    method: str
    density: float
    accuracy: float
    drop: float
    topometrics: dict[str, dict[str, float]] = field(repr=False)  # encoding -> metric -> value
    baselines: dict[str, float] = field(repr=False)


@dataclass(frozen=True)
class RankingRow:
    model: str
    density: float
    truth: tuple[str, ...]
    rbo: dict[str, float]  # strategy -> mean RBO with the truth


@dataclass(frozen=True)
class RankingResult:
    samples: list[Sample]
    regression: dict[str, tuple[float, float, float]]  # encoding -> (adj R2 mean, std, MAE)
    rankings: list[RankingRow]
    seconds: float

    def table(self) -> str:
        lines = [
            "accuracy-drop regression (8 regressors, 5-fold CV):",
            f"{'encoding':16s}{'adj. R2':>16s}{'MAE':>9s}",
        ]
        for enc, (r2, sd, mae) in self.regression.items():
            lines.append(f"{enc:16s}{r2:>9.3f} ± {sd:.3f}{mae:>9.4f}")
        strategies = list(self.rankings[0].rbo) if self.rankings else []
        lines += ["", "mean RBO with the true ranking (higher is better):"]
        lines.append(f"{'model':6s}{'density':>8s}  " + "".join(f"{s:>14s}" for s in strategies))
        for r in self.rankings:
            lines.append(
                f"{r.model:6s}{r.density:>8.3f}  " + "".join(f"{r.rbo[s]:>14.3f}" for s in strategies)
            )
        if self.rankings:
            means = [statistics.fmean(r.rbo[s] for r in self.rankings) for s in strategies]
            lines.append(f"{'mean':6s}{'':>8s}  " + "".join(f"{m:>14.3f}" for m in means))
        return "\n".join(lines)


def _measure(model: torch.nn.Module, masks: Any) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """Topometrics of every encoding and the Ramanujan baselines of the masked initial network."""
    topo = {}
    for enc in ENCODINGS:
        graphs = encode(model, INPUT_SHAPE, masks, encoding=enc, weighted=True)
        if isinstance(graphs, (list, tuple)):  # one bipartite graph per layer: average the layers
            per_layer = [topometrics(g, progress=False) for g in graphs]
            topo[enc] = {k: statistics.fmean(m[k] for m in per_layer) for k in per_layer[0]}
        else:
            topo[enc] = dict(topometrics(graphs, progress=False))
    return topo, network_baselines(ramanujan_baselines(model, masks))


def _one(
    name: str, method: str, density: float, seed: int, epochs: int, device: str
) -> tuple[float, Any, Any]:
    torch.manual_seed(seed)
    model = MODELS[name]()
    data = digits(seed)
    if method == "dense":
        return train(model.to(device), data, epochs, seed, device), None, None
    batches = [(data[0][i : i + 128], data[2][i : i + 128]) for i in range(0, 512, 128)]
    masks = make_masks(model, method, density, data=batches, input_shape=INPUT_SHAPE, seed=seed)
    apply_masks(model, masks)  # trained from the original initialisation, as the PaI papers do
    topo, base = _measure(model, masks)
    return train(model.to(device), data, epochs, seed, device), topo, base


def _mean_dicts(dicts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    first = dicts[0]
    if isinstance(next(iter(first.values())), dict):
        return {k: _mean_dicts([d[k] for d in dicts]) for k in first}
    return {k: _nanmean([d[k] for d in dicts]) for k in first}


def _nanmean(values: Sequence[float]) -> float:
    ok = [v for v in values if not math.isnan(v)]
    return statistics.fmean(ok) if ok else math.nan


def run_ranking(
    models: Sequence[str] = ("mlp", "cnn"),
    methods: Sequence[str] = PAI,
    densities: Sequence[float] = (0.02, 0.05, 0.1, 0.2),
    seeds: int = 2,
    epochs: int = 10,
    device: str = "cpu",
    progress: bool = True,
    regression_runs: int = 10,
) -> RankingResult:
    """Train, encode and measure every case, then regress and rank (see the module docstring).

    regression_runs: shuffles of the 5-fold cross-validation of the accuracy-drop regression (10);
    the importances behind the ranking mixture use min(3, regression_runs). Fewer is faster and
    noisier (the tests run 1).
    """
    start = time.perf_counter()
    samples: list[Sample] = []
    for name in models:
        dense = statistics.fmean(_one(name, "dense", 1.0, s, epochs, device)[0] for s in range(seeds))
        for method in methods:
            for d in densities:
                runs = [_one(name, method, d, s, epochs, device) for s in range(seeds)]
                acc = statistics.fmean(r[0] for r in runs)
                sample = Sample(
                    name,
                    method,
                    d,
                    acc,
                    1.0 - acc / dense,
                    _mean_dicts([r[1] for r in runs]),
                    _mean_dicts([r[2] for r in runs]),
                )
                samples.append(sample)
                if progress:
                    print(
                        f"{name:5s} {method:9s} {d:6.3f}  accuracy {100 * acc:6.2f} %"
                        f"  drop {sample.drop:+.3f}",
                        flush=True,
                    )
    regression = {}
    for enc in ENCODINGS:
        features, drops = _features(samples, enc), [s.drop for s in samples]
        res = regress_accuracy_drop(features, drops, runs=regression_runs, progress=progress)
        regression[enc] = (res.adj_r2[0], res.adj_r2[1], res.mae[0])
    table = [s.topometrics["unrolled"] for s in samples]  # the mixture scales x as the regression does
    ranges = {m: (min(t[m] for t in table), max(t[m] for t in table)) for m in table[0]}
    importance_runs = min(3, regression_runs)
    rankings = [_rank_case(samples, name, d, ranges, importance_runs) for name in models for d in densities]
    return RankingResult(samples, regression, rankings, time.perf_counter() - start)


def _features(samples: Sequence[Sample], encoding: str) -> dict[str, list[float]]:
    """Columns of the topometrics; constant or undefined columns are dropped (no information)."""
    metrics = list(samples[0].topometrics[encoding])
    cols = {m: [s.topometrics[encoding][m] for s in samples] for m in metrics}
    return {m: v for m, v in cols.items() if all(math.isfinite(x) for x in v) and len(set(v)) > 1}


def _importance(samples: Sequence[Sample], runs: int) -> dict[str, float]:
    if len(samples) < 3:
        return {}
    feats = _features(samples, "unrolled")
    if not feats:
        return {}
    res = regress_accuracy_drop(feats, [s.drop for s in samples], folds=min(5, len(samples)), runs=runs)
    return res.importance


def _rank_case(
    samples: Sequence[Sample],
    model: str,
    density: float,
    ranges: Mapping[str, tuple[float, float]],
    runs: int,
) -> RankingRow:
    case = [s for s in samples if s.model == model and s.density == density]
    truth = rank({s.method: s.accuracy for s in case}, ascending=False)
    w_arch = _importance([s for s in samples if s.model == model and s.density != density], runs)
    w_sparsity = _importance([s for s in samples if s.model != model and s.density == density], runs)
    metrics = list(case[0].topometrics["unrolled"])
    w_m = {m: w_arch.get(m, 0.0) for m in metrics}
    w_s = {m: w_sparsity.get(m, 0.0) for m in metrics}
    mixture = mixture_scores({s.method: s.topometrics["unrolled"] for s in case}, w_m, w_s, ranges=ranges)
    strategies: dict[str, list[Hashable]] = {"mixture": rank(mixture)}
    for b in BASELINES:
        name = "layer_density" if b == "density" else b  # not to be confused with the case's density
        strategies[name] = rank({s.method: s.baselines[b] for s in case}, ascending=False)
    rbo = {k: mean_rbo(truth, v) for k, v in strategies.items()}
    return RankingRow(model, density, tuple(str(m) for m in truth), rbo)


def write_ranking_outputs(result: RankingResult, out: Path) -> list[Path]:
    """samples.csv (one row per case with every figure), rankings.csv and, with matplotlib, rbo.png."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "samples.csv", out / "rankings.csv"]
    rows = []
    for s in result.samples:
        row: dict[str, Any] = {k: v for k, v in asdict(s).items() if k not in ("topometrics", "baselines")}
        row.update({f"{enc}.{k}": v for enc, m in s.topometrics.items() for k, v in m.items()})
        row.update({f"baseline.{k}": v for k, v in s.baselines.items()})
        rows.append(row)
    _write_csv(paths[0], rows)
    _write_csv(
        paths[1],
        [
            {"model": r.model, "density": r.density, "truth": " > ".join(r.truth)}
            | {f"rbo_{k}": v for k, v in r.rbo.items()}
            for r in result.rankings
        ],
    )
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return paths
    strategies = list(result.rankings[0].rbo)
    means = [statistics.fmean(r.rbo[s] for r in result.rankings) for s in strategies]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar(strategies, means, color=["C3"] + ["C0"] * (len(strategies) - 1))
    ax.set(ylabel="mean RBO with the true ranking", ylim=(0, 1), title="ranking PaI methods on digits")
    fig.tight_layout()
    png = out / "rbo.png"
    fig.savefig(png, dpi=120)
    plt.close(fig)
    return [*paths, png]


def _write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def rank_demo(out: str, densities: Sequence[float], seeds: int, epochs: int, device: str) -> int:
    """`ramcore rank-demo`: run the pipeline, print its table and write its outputs to `out`."""
    torch.set_num_threads(1)  # tiny models: extra threads only wait
    start = time.perf_counter()
    result = run_ranking(densities=densities, seeds=seeds, epochs=epochs, device=device)
    print()
    print(result.table())
    paths = write_ranking_outputs(result, Path(out))
    print(f"wrote {', '.join(str(p) for p in paths)} in {time.perf_counter() - start:.0f} s")
    return 0
