"""Seed 004 end to end: `ramcore rank-demo` on a tiny setting, and `ramcore topometrics`."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from ramcore.apps.rank_demo import BASELINES, ENCODINGS, run_ranking, write_ranking_outputs  # noqa: E402
from ramcore.cli import main  # noqa: E402
from ramcore.prediction import mean_rbo  # noqa: E402
from ramcore.topometrics import TOPOMETRICS  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_rank_demo_pipeline(tmp_path: Path) -> None:
    """Every stage of `ramcore rank-demo` on the smallest setting in which each one has work to do:
    two models (Sparsity-Fixed importances need another model), two densities (Architecture-Fixed
    needs another density), three one-shot methods (an importance needs >= 3 samples), one seed,
    one epoch, one shuffle of the cross-validation. The full demo stays the `rank-demo` command."""
    methods = ("snip", "grasp", "prospr")
    result = run_ranking(
        models=("mlp", "cnn"), methods=methods, densities=(0.05, 0.2), seeds=1, epochs=1, progress=False,
        regression_runs=1,
    )  # fmt: skip
    assert len(result.samples) == 2 * 3 * 2
    assert [(s.model, s.method, s.density) for s in result.samples] == [
        (m, k, d) for m in ("mlp", "cnn") for k in methods for d in (0.05, 0.2)
    ]
    by_case = {(s.model, s.method, s.density): s for s in result.samples}
    for s in result.samples:
        assert set(s.topometrics) == set(ENCODINGS) and set(s.baselines) == set(BASELINES)
        assert tuple(s.topometrics["unrolled"]) == TOPOMETRICS
        assert 0.0 <= s.accuracy <= 1.0
        # one-shot masks of a fixed score are nested: every layer keeps more at the larger density
        if s.density == 0.05:
            assert s.baselines["density"] < by_case[(s.model, s.method, 0.2)].baselines["density"]
    for model in ("mlp", "cnn"):
        # drop = 1 - acc / dense: the same dense accuracy behind every sample of a model, above chance
        dense = {round(s.accuracy / (1.0 - s.drop), 9) for s in result.samples if s.model == model}
        assert len(dense) == 1 and dense.pop() > 0.2
    assert set(result.regression) == set(ENCODINGS)
    assert all(math.isfinite(mae) and mae > 0 for _, _, mae in result.regression.values())
    assert [(r.model, r.density) for r in result.rankings] == [
        ("mlp", 0.05), ("mlp", 0.2), ("cnn", 0.05), ("cnn", 0.2)
    ]  # fmt: skip
    for r in result.rankings:
        # the truth sorts the methods by accuracy; every strategy's RBO is in (0, 1]
        case = [s for s in result.samples if (s.model, s.density) == (r.model, r.density)]
        acc = {s.method: s.accuracy for s in case}
        assert list(r.truth) == sorted(acc, key=lambda m: -acc[m])
        strategies = {"mixture", "layer_density", "delta_r", "delta_r_imdb", "lambda_imsg"}
        assert set(r.rbo) == strategies and all(0 < v <= 1 for v in r.rbo.values())
        assert mean_rbo(r.truth, r.truth) == pytest.approx(1.0)
        # the baselines' RBOs, recomputed: methods by descending baseline against the truth
        for b in BASELINES:
            by_baseline = sorted(case, key=lambda s: -s.baselines[b])
            expect = mean_rbo(list(r.truth), [s.method for s in by_baseline])
            assert r.rbo["layer_density" if b == "density" else b] == pytest.approx(expect)
    assert "mean RBO" in result.table()
    paths = write_ranking_outputs(result, tmp_path)
    with paths[0].open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 12 and "unrolled.motifs4" in rows[0] and "baseline.delta_r" in rows[0]
    for row, s in zip(rows, result.samples):  # the CSV carries the samples' figures
        assert (row["model"], row["method"], float(row["density"])) == (s.model, s.method, s.density)
        assert float(row["accuracy"]) == pytest.approx(s.accuracy)
        motifs4 = s.topometrics["unrolled"]["motifs4"]
        assert float(row["unrolled.motifs4"]) == pytest.approx(motifs4, nan_ok=True)
        assert float(row["baseline.delta_r"]) == pytest.approx(s.baselines["delta_r"])
    with paths[1].open() as f:
        ranked = list(csv.DictReader(f))
    assert [float(r["density"]) for r in ranked] == [0.05, 0.2, 0.05, 0.2]
    assert float(ranked[0]["rbo_mixture"]) == pytest.approx(result.rankings[0].rbo["mixture"])
    assert paths[2].suffix == ".png" and paths[2].stat().st_size > 0


def test_topometrics_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["topometrics", "lenet-300-100", "--method", "ramanujan", "--density", "0.1", "--raw"]) == 0
    out = capsys.readouterr().out
    assert "1,194 nodes" in out  # 784 + 300 + 100 + 10
    assert "motifs4" in out and "spectral_radius" in out and "(raw)" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["topometrics", "nope"],
        ["topometrics", "conv-4", "--density", "0"],
        ["topometrics", "conv-4", "--method", "magic"],
        ["rank-demo", "--densities", "1.5"],
        ["rank-demo", "--device", "cuda:7"],
    ],
)
def test_bad_arguments(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    if argv[-1].startswith("cuda") and torch.cuda.device_count() > 7:
        pytest.skip("this machine has that device")
    try:
        code = main(argv)
    except SystemExit as exit:  # refused by the parser itself (a range checked at parse time)
        code = exit.code
    assert code == 2
    assert "error:" in capsys.readouterr().err


@pytest.mark.cuda
def test_rank_demo_on_the_gpu() -> None:
    """`ramcore rank-demo --device cuda` on its smallest setting (as test_rank_demo_pipeline)."""
    methods = ("snip", "grasp", "prospr")
    result = run_ranking(
        models=("mlp", "cnn"), methods=methods, densities=(0.05, 0.2), seeds=1, epochs=1, device="cuda",
        progress=False, regression_runs=1,
    )  # fmt: skip
    assert len(result.samples) == 2 * 3 * 2
    assert all(0.0 <= s.accuracy <= 1.0 for s in result.samples)
