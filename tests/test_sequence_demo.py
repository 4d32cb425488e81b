"""`ramcore demo --sequence`: LSTMs reading the digits row by row (seed 003), on a tiny setting."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from ramcore.apps.sequence_demo import RowReader, run_sequence_demo  # noqa: E402
from ramcore.cli import main  # noqa: E402
from ramcore.layers.gap import ramanujan_gap  # noqa: E402
from ramcore.torch import make_masks  # noqa: E402


def test_sequence_demo_rows_and_joint_margins() -> None:
    rows = run_sequence_demo((0.25,), seeds=1, epochs=2, progress=False)
    assert [(r.method, r.target_density) for r in rows] == [
        ("dense", 1.0),
        ("ramanujan", 0.25),
        ("random", 0.25),
    ]
    assert all(0.0 <= r.accuracy_mean <= 1.0 and r.seeds == 1 for r in rows)
    assert rows[0].accuracy_mean > 0.5  # the dense LSTM reads the digits even in 2 epochs (chance: 0.1)
    assert rows[1].density == pytest.approx(0.25, abs=1e-3)
    # the ramanujan row's margins are those of the LSTM's W_ih and W_hh read as one matrix each
    masks = make_masks(RowReader(), "ramanujan", 0.25, kinds=["rnn"])
    gaps = [ramanujan_gap(m.numpy()) for m in masks.values()]
    assert rows[1].delta_r == pytest.approx(min(g.delta_r for g in gaps), abs=1e-12)
    assert rows[1].delta_r_003 == pytest.approx(min(g.delta_r_avg for g in gaps), abs=1e-12)
    assert rows[1].delta_r > 0  # gate masks made so that the joint matrices are Ramanujan


def test_sequence_demo_flag_and_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--sequence", "--densities", "0.25", "--seeds", "1", "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert "row by row" in out and "ramanujan" in out and "random" in out
    with pytest.raises(ValueError, match="methods"):
        run_sequence_demo((0.25,), seeds=1, epochs=1, methods=("snip",), progress=False)
