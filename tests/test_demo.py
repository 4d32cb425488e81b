"""`ramcore demo` end to end on a tiny setting, and its command-line errors."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from ramcore.apps.demo import CAPTION, METHODS, DemoRow, findings, run_demo, write_outputs  # noqa: E402
from ramcore.cli import main  # noqa: E402


def test_demo_trains_and_writes_csv(tmp_path: Path) -> None:
    rows = run_demo(
        (0.1,), seeds=2, epochs=2, models=("mlp",), progress=False,
        methods=("dense", "ramanujan", "ramanujan:uniform", "random"),
    )
    assert [(r.method, r.target_density) for r in rows] == [
        ("dense", 1.0),
        ("ramanujan", 0.1),
        ("ramanujan:uniform", 0.1),
        ("random", 0.1),
    ]
    for r in rows:
        assert 0.0 <= r.accuracy_mean <= 1.0 and r.seeds == 2
    assert rows[0].accuracy_mean > 0.5  # dense learns the digits even in 2 epochs
    assert rows[1].density == pytest.approx(0.1, rel=0.02)
    csv_path, png = write_outputs(rows, tmp_path)
    with csv_path.open() as f:
        assert len(list(csv.DictReader(f))) == 4
    assert png is not None and png.stat().st_size > 0


def test_demo_compares_what_the_issue_asks() -> None:
    """The default ramanujan masks beside uniform, random masks at the same allocations, ERK and the
    data-aware and data-free scores, with a caption and a findings line computed from the rows."""
    for method in ("ramanujan", "ramanujan:uniform", "er", "random", "erk", "snip", "synflow"):
        assert method in METHODS and method in CAPTION
    assert "dense" in METHODS
    rows = [
        DemoRow("cnn", m, d, d, acc, 0.01, 0.0, 0.0, 3, 1.0)
        for m, d, acc in [("ramanujan", 0.05, 0.926), ("erk", 0.05, 0.921), ("er", 0.05, 0.925),
                          ("ramanujan", 0.1, 0.965), ("erk", 0.1, 0.942)]
    ]  # fmt: skip
    assert findings(rows) == (
        "cnn: ramanujan (default allocation) 5%: 92.6 % (+0.5 vs erk, +0.1 vs er); 10%: 96.5 % (+2.3 vs erk)"
    )


@pytest.mark.parametrize("argv", [["demo", "--densities", "0"], ["demo", "--device", "cuda:7"]])
def test_demo_bad_arguments(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    if argv[-1].startswith("cuda") and torch.cuda.device_count() > 7:
        pytest.skip("this machine has that device")
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse refuses a bad value at parse time
        code = stop.code
    assert code == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err


@pytest.mark.cuda
def test_demo_trains_on_the_gpu() -> None:
    """`ramcore demo --device cuda`: masks made on the CPU, training on the device."""
    rows = run_demo(
        (0.1,), seeds=1, epochs=1, device="cuda", models=("cnn",), methods=("dense", "snip"), progress=False
    )
    assert [r.method for r in rows] == ["dense", "snip"]
    assert rows[1].density == pytest.approx(0.1, rel=0.02)
