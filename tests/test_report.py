"""Layer-wise Ramanujan report and seed 001's Algorithm 1 (ramcore.torch.report)."""

from __future__ import annotations

import csv
import importlib
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch import Tensor, nn  # noqa: E402

from ramcore.gap import ramanujan_gap  # noqa: E402
from ramcore.layers.bipartite import weight_to_pieces  # noqa: E402
from ramcore.torch.apply import apply_masks, remove_masks  # noqa: E402
from ramcore.torch.scores import magnitude_scores, snip_scores, synflow_scores  # noqa: E402
from ramcore.torch.targets import mask_targets  # noqa: E402

# the module, even where ramcore.torch re-exports the function `report` under the same name
R = importlib.import_module("ramcore.torch.report")
SQRT2 = math.sqrt(2.0)

# ---------------------------------------------------------------------------------------------------
# Models and helpers
# ---------------------------------------------------------------------------------------------------


def mlp(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(16, 12), nn.ReLU(), nn.Linear(12, 10), nn.ReLU(), nn.Linear(10, 4))


def cnn(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(6, 8, 3, padding=1, groups=2, bias=False),  # two 27 x 4 graphs
        nn.BatchNorm2d(8),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 4),
    )


class Recurrent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.lstm = nn.LSTM(5, 4)
        self.head = nn.Linear(4, 3)


def random_masks(model: nn.Module, density: float, seed: int = 1) -> dict[str, Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {t.name: torch.rand(t.shape, generator=gen) < density for t in mask_targets(model)}


def same(a: float, b: float) -> bool:
    """Equal, NaN equal to NaN, infinities equal to themselves."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def fano() -> np.ndarray:
    """Fano plane incidence, 3-regular 7 x 7: B B^T = 2I + J, singular values 3 and sqrt 2 (x6)."""
    b = np.zeros((7, 7))
    for i in range(7):
        for d in (0, 1, 3):
            b[i, (i + d) % 7] = 1.0
    return b


def linear_with(biadjacency: np.ndarray) -> nn.Linear:
    """A Linear layer whose weight (out, in) is the transpose of `biadjacency` (rows = inputs)."""
    rows, cols = biadjacency.shape
    layer = nn.Linear(rows, cols, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(biadjacency.T.copy()))
    return layer


# ---------------------------------------------------------------------------------------------------
# report: rows, shapes, densities
# ---------------------------------------------------------------------------------------------------


def test_report_rows_mlp_cnn_lstm() -> None:
    rows = R.report(mlp(), print_table=False)
    assert [(r.name, r.piece, r.rows, r.cols) for r in rows] == [
        ("0.weight", 0, 16, 12),
        ("2.weight", 0, 12, 10),
        ("4.weight", 0, 10, 4),
    ]
    assert all(r.density == 1.0 and r.mask_source == "nonzero" and r.kind == "linear" for r in rows)

    rows = R.report(cnn(), print_table=False)
    assert [(r.name, r.piece, r.pieces, r.rows, r.cols) for r in rows] == [
        ("0.weight", 0, 1, 27, 6),
        ("2.weight", 0, 2, 27, 4),  # groups=2: in/groups * 3 * 3 = 27 inputs, 8 / 2 outputs per group
        ("2.weight", 1, 2, 27, 4),
        ("6.weight", 0, 1, 8, 4),
    ]

    rows = R.report(Recurrent(), print_table=False)
    lstm = [(r.name, r.piece, r.rows, r.cols) for r in rows if r.kind == "rnn"]
    assert lstm == [("lstm.weight_ih_l0", g, 5, 4) for g in range(4)] + [
        ("lstm.weight_hh_l0", g, 4, 4) for g in range(4)
    ]


@pytest.mark.parametrize("make", [mlp, cnn, Recurrent])
def test_report_equals_ramanujan_gap_on_each_piece(make: Any) -> None:
    model = make()
    masks = random_masks(model, 0.6)
    rows = R.report(model, masks, print_table=False)
    params = dict(model.named_parameters())
    targets = {t.name: t for t in mask_targets(model)}
    expected = []
    for name, mask in masks.items():
        pieces = targets[name].pieces
        m_pieces = weight_to_pieces(mask.numpy(), pieces)
        w_pieces = weight_to_pieces((params[name].detach().abs() * mask).numpy(), pieces)
        expected += [(name, k, m, w) for k, (m, w) in enumerate(zip(m_pieces, w_pieces))]
    assert [(r.name, r.piece) for r in rows] == [(e[0], e[1]) for e in expected]
    for r, (_, _, m, w) in zip(rows, expected):
        assert r.mask_source == "masks"
        assert (r.rows, r.cols) == m.shape
        assert r.edges == int(m.sum()) and r.density == m.sum() / m.size
        g = ramanujan_gap(m, layout="biadjacency")
        gw = ramanujan_gap(w, weighted=True, layout="biadjacency")
        for got, want in [
            (r.t1, g.t1),
            (r.t2, g.t2),
            (r.delta_s, g.delta_s),
            (r.delta_r, g.delta_r),
            (r.d_left, g.d_left),
            (r.t1_weighted, gw.t1),
            (r.delta_s_weighted, gw.delta_s),
            (r.delta_r_weighted, gw.delta_r),
        ]:
            assert same(got, want)
        assert r.ramanujan == (g.delta_s >= 0 or g.delta_r >= 0)
        raw = R.raw_ramanujan_gap(m, layout="biadjacency")
        assert same(r.raw_delta_s, raw.delta_s) and same(r.raw_delta_r, raw.delta_r)


def test_report_mask_sources() -> None:
    model = mlp()
    with torch.no_grad():
        model[0].weight[:, :8] = 0.0  # half of the first layer's inputs
    rows = R.report(model, print_table=False)
    assert rows[0].density == 0.5 and rows[0].mask_source == "nonzero"

    masks = random_masks(model, 0.5)
    apply_masks(model, masks)
    applied = R.report(model, print_table=False)
    assert all(r.mask_source == "applied" for r in applied)
    given = R.report(model, {"2.weight": torch.ones(10, 12, dtype=torch.bool)}, print_table=False)
    assert [r.mask_source for r in given] == ["applied", "masks", "applied"]
    assert given[1].density == 1.0
    remove_masks(model)

    explicit = R.report(mlp(), masks, print_table=False)
    # same masks: the weighted columns differ only where the model's own zeros are (none here)
    model = mlp()
    apply_masks(model, masks, mode="prune")
    pruned = R.report(model, print_table=False)
    assert [r.name for r in pruned] == [r.name for r in explicit]
    for a, b in zip(pruned, explicit):
        assert a.mask_source == "applied" and a.edges == b.edges
        assert same(a.delta_s, b.delta_s) and same(a.delta_s_weighted, b.delta_s_weighted)


def test_report_rejects_bad_masks() -> None:
    model = mlp()
    with pytest.raises(ValueError, match="not selected layers"):
        R.report(model, {"0.bias": torch.ones(12, dtype=torch.bool)}, print_table=False)
    with pytest.raises(ValueError, match="shape"):
        R.report(model, {"0.weight": torch.ones(3, 3, dtype=torch.bool)}, print_table=False)
    with pytest.raises(ValueError, match="only 0 and 1"):
        R.report(model, {"0.weight": torch.full((12, 16), 0.5)}, print_table=False)


# ---------------------------------------------------------------------------------------------------
# Conventions on hand-computable graphs
# ---------------------------------------------------------------------------------------------------


def test_raw_complete_bipartite_k33() -> None:
    # K_{3,3}: lambda1 = 3, lambda2 = 0, dL = dR = 3
    raw = R.raw_ramanujan_gap(np.ones((3, 3)), layout="biadjacency")
    assert raw.defined and raw.t1 == pytest.approx(3.0) and raw.t2 == pytest.approx(0.0, abs=1e-12)
    assert raw.delta_s == pytest.approx(2 * SQRT2) and raw.delta_r == pytest.approx(2 * SQRT2)
    assert ramanujan_gap(np.ones((3, 3)), layout="biadjacency").delta_s == math.inf  # seed 001: / t2 = 0
    weighted = R.raw_ramanujan_gap(2.0 * np.ones((3, 3)), weighted=True, layout="biadjacency")
    assert weighted.t1 == pytest.approx(6.0) and weighted.delta_s == pytest.approx(2 * math.sqrt(5.0))
    assert weighted.delta_r == pytest.approx(2 * SQRT2)  # degrees stay combinatorial


def test_raw_regular_fano_and_zero_degree_vertices() -> None:
    # 3-regular: lambda1 = 3, lambda2 = sqrt 2; raw Delta_S = 2 sqrt 2 - sqrt 2 = Delta_R
    raw = R.raw_ramanujan_gap(fano(), layout="biadjacency")
    assert raw.t1 == pytest.approx(3.0) and raw.t2 == pytest.approx(SQRT2)
    assert raw.delta_s == pytest.approx(SQRT2) and raw.delta_r == pytest.approx(SQRT2)
    padded = np.zeros((9, 8))
    padded[1:8, :7] = fano()  # isolated vertices are dropped before averaging degrees
    again = R.raw_ramanujan_gap(padded, layout="biadjacency")
    assert (again.d_left, again.d_right) == (3.0, 3.0) and again.delta_s == pytest.approx(SQRT2)
    # torch layout: (out, in) is the transpose
    assert R.raw_ramanujan_gap(torch.from_numpy(fano().T.copy())).delta_r == pytest.approx(SQRT2)


def test_raw_undefined_cases() -> None:
    k25 = R.raw_ramanujan_gap(np.ones((2, 5)), layout="biadjacency")  # dL = 5, dR = 2 < 3
    assert not k25.defined and math.isnan(k25.delta_s) and math.isnan(k25.delta_r)
    assert "3" in k25.reason and k25.d_right == 2.0
    empty = R.raw_ramanujan_gap(np.zeros((4, 4)), layout="biadjacency")
    assert not empty.defined and "no edges" in empty.reason
    small = R.raw_ramanujan_gap(0.1 * np.ones((3, 3)), weighted=True, layout="biadjacency")  # t1 = 0.3
    assert small.defined and math.isnan(small.delta_s) and small.delta_r == pytest.approx(2 * SQRT2)
    assert "t1 < 1" in small.reason


def test_report_both_conventions_on_fano_layer() -> None:
    model = nn.Sequential(linear_with(fano()))
    (row,) = R.report(model, print_table=False)
    assert (row.rows, row.cols, row.edges) == (7, 7, 21)
    assert row.delta_s == pytest.approx(1.0) and row.delta_r == pytest.approx(
        1.0
    )  # (2 sqrt 2 - sqrt 2)/sqrt 2
    assert row.raw_delta_s == pytest.approx(SQRT2) and row.raw_delta_r == pytest.approx(SQRT2)
    assert row.ramanujan and row.raw_ramanujan and row.reason == ""


def test_report_undefined_layer() -> None:
    model = nn.Sequential(nn.Linear(4, 3, bias=False))
    one_edge = torch.zeros(3, 4, dtype=torch.bool)
    one_edge[1, 2] = True
    (row,) = R.report(model, {"0.weight": one_edge}, print_table=False)
    assert row.edges == 1 and row.density == 1 / 12
    assert math.isnan(row.delta_s) and math.isnan(row.raw_delta_s)
    assert not row.ramanujan and not row.raw_ramanujan
    assert "seed 001" in row.reason and "raw" in row.reason
    assert "  -  " in R.format_table([row]) + " "


def test_report_without_raw() -> None:
    rows = R.report(nn.Sequential(linear_with(fano())), print_table=False, raw=False)
    assert math.isnan(rows[0].raw_delta_s) and rows[0].ramanujan and not rows[0].raw_ramanujan


# ---------------------------------------------------------------------------------------------------
# Table and CSV
# ---------------------------------------------------------------------------------------------------


def test_table_printed_and_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = R.report(cnn(), random_masks(cnn(), 0.5))
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:3] == ["layer", "shape", "density"]
    assert "2.weight[1]" in out and "27x4" in out
    R.report(cnn(), print_table=False)
    assert capsys.readouterr().out == ""

    path = tmp_path / "report.csv"
    R.to_csv(rows, path)
    with open(path, newline="", encoding="utf-8") as fh:
        read = list(csv.DictReader(fh))
    assert len(read) == len(rows) and list(read[0]) == list(rows[0].as_dict())
    for line, row in zip(read, rows):
        assert same(float(line["delta_s"]), row.delta_s) and int(line["piece"]) == row.piece
    with pytest.raises(ValueError, match="nothing"):
        R.to_csv([], path)


# ---------------------------------------------------------------------------------------------------
# Algorithm 1
# ---------------------------------------------------------------------------------------------------

# An 8 x 8 layer whose graph is two K_{4,4} blocks (inputs 0-3 x outputs 0-3, inputs 4-7 x outputs 4-7)
# joined by four "cross" edges (i, i + 4). With 4, 3, 2, 1 cross edges seed 001's max(Delta_S, Delta_R)
# is +0.064, +0.009, -0.041, -0.088: the fewer links between the blocks, the closer t2 comes to t1.
BLOCKS = np.zeros((8, 8), dtype=bool)
BLOCKS[:4, :4] = BLOCKS[4:, 4:] = True
CROSS = [(0, 4), (1, 5), (2, 6), (3, 7)]


def block_layer() -> tuple[nn.Module, dict[str, Tensor], dict[str, Tensor]]:
    """Model, starting mask (blocks + 4 cross edges, Ramanujan) and scores (biadjacency layout, transposed
    to the weight's): blocks 1, cross edges 0.9 > 0.8 > 0.7 > 0.6 so (3, 7) goes first."""
    model = nn.Sequential(linear_with(np.ones((8, 8))))
    start = BLOCKS.copy()
    scores = np.where(BLOCKS, 1.0, 0.0)
    for (i, j), s in zip(CROSS, (0.9, 0.8, 0.7, 0.6)):
        start[i, j] = True
        scores[i, j] = s
    as_weight = lambda a: torch.from_numpy(np.ascontiguousarray(a.T))  # noqa: E731
    return model, {"0.weight": as_weight(start)}, {"0.weight": as_weight(scores)}


def biadjacency(mask: Tensor) -> np.ndarray:
    return mask.numpy().T


def test_algorithm1_halves_until_the_bound_holds() -> None:
    model, start, scores = block_layer()
    # p = 3/36: 3 cross edges go (fails), p/2: round(1.5) = 2 (fails), p/4: round(0.75) = 1 (holds)
    result = R.ramanujan_prune(model, scores, 3 / 36, levels=3, masks=start)
    (record,) = result.log
    assert [t.percentile for t in record.tries] == [3 / 36, 3 / 72, 3 / 144]
    assert [t.pruned for t in record.tries] == [3, 2, 1]
    assert [t.outcome for t in record.tries] == ["bound failed", "bound failed", "ramanujan"]
    assert all(max(t.delta_s, t.delta_r) < 0 for t in record.tries[:2])
    assert record.stopped == "ramanujan" and record.accepted_percentile == 3 / 144
    assert (record.kept_before, record.kept_after) == (36, 35)
    expected = biadjacency(start["0.weight"]).copy()
    expected[3, 7] = False  # the lowest score
    assert np.array_equal(biadjacency(result.masks["0.weight"]), expected)
    (row,) = R.report(model, result.masks, print_table=False)
    assert row.ramanujan and max(row.delta_s, row.delta_r) > 0


def test_algorithm1_keeps_the_last_ramanujan_mask() -> None:
    model, start, scores = block_layer()
    result = R.ramanujan_prune(model, scores, 3 / 36, levels=2, masks=start, iterations=5)
    (record,) = result.log  # nothing changed in iteration 0: the paper's stopping criterion
    assert record.stopped == "levels" and not record.pruned and record.accepted_percentile is None
    assert [t.percentile for t in record.tries] == [3 / 36, 3 / 72]
    assert torch.equal(result.masks["0.weight"], start["0.weight"])
    assert R.report(model, start, print_table=False)[0].ramanujan


def test_algorithm1_iterations_stop_once_the_property_is_lost() -> None:
    # The bridge (0, 4) now scores highest, and every score is scaled so that t1^theta < 1 (as SNIP's
    # normalised scores): only the unweighted bounds can accept. Iteration 0 halves twice and removes
    # (3, 7); iteration 1 from 3 cross edges fails at p, p/2, p/4 (removing (2, 6), and (1, 5) or a
    # block entry, leaves <= 2 cross edges): the layer keeps iteration 0's mask and the loop stops.
    model, start, scores = block_layer()
    s = biadjacency(scores["0.weight"]).copy()
    s[0, 4] = 2.0
    theta = {"0.weight": torch.from_numpy(0.01 * s.T)}
    result = R.ramanujan_prune(model, theta, 3 / 36, levels=3, iterations=5, masks=start)
    first, second = result.log  # iterations 2-4 never run: nothing changed in iteration 1
    assert (first.iteration, first.stopped, first.kept_before, first.kept_after) == (0, "ramanujan", 36, 35)
    assert [t.outcome for t in first.tries] == ["bound failed", "bound failed", "ramanujan"]
    assert (second.iteration, second.stopped, second.kept_before, second.kept_after) == (1, "levels", 35, 35)
    assert [t.percentile for t in second.tries] == [3 / 36, 3 / 72, 3 / 144]
    assert all(max(t.delta_s, t.delta_r) < 0 and t.t1_score < 1 for t in second.tries)
    expected = biadjacency(start["0.weight"]).copy()
    expected[3, 7] = False
    assert np.array_equal(biadjacency(result.masks["0.weight"]), expected)
    assert R.report(model, result.masks, print_table=False)[0].ramanujan


def test_algorithm1_weighted_bound_and_t1_condition() -> None:
    # Pruning 3 of 4 cross edges fails the unweighted bounds; weighted by the scores, one block at 10
    # and one at 1, t1 ~ 40 and t2 ~ 4: Delta_S^theta >= 0 and t1^theta >= 1, so the layer is accepted.
    model, start, scores = block_layer()
    s = biadjacency(scores["0.weight"]).copy()
    s[:4, :4] = 10.0
    theta = {"0.weight": torch.from_numpy(s.T.copy())}
    (record,) = R.ramanujan_prune(model, theta, 3 / 36, levels=1, masks=start).log
    (attempt,) = record.tries
    assert max(attempt.delta_s, attempt.delta_r) < 0 and attempt.delta_s_score >= 0
    assert attempt.t1_score >= 1 and record.stopped == "weighted" and record.kept_after == 33
    # the same ranking scaled down (SNIP-like normalised scores): t1^theta < 1, so not accepted
    small = {"0.weight": theta["0.weight"] * 1e-3}
    (record,) = R.ramanujan_prune(model, small, 3 / 36, levels=1, masks=start).log
    assert record.tries[0].t1_score < 1 and record.stopped == "levels" and record.kept_after == 36


def test_algorithm1_layer_collapse_guard() -> None:
    model = nn.Sequential(nn.Linear(4, 3))
    result = R.ramanujan_prune(model, "magnitude", 0.9, levels=4)  # round(10.8) = 11 of 12: one edge left
    (record,) = result.log
    assert record.stopped == "collapse" and len(record.tries) == 1  # no halving after a collapse
    assert record.tries[0].pruned == 11 and bool(result.masks["0.weight"].all())

    # collapse="node": one input keeps a single edge; the average degrees stay high
    model = nn.Sequential(nn.Linear(6, 6))
    s = torch.ones(6, 6)
    s[1:, 0] = 0.0  # weight (out, in): input 0 loses 5 of its 6 edges
    theta = {"0.weight": s}
    (avg,) = R.ramanujan_prune(model, theta, 5 / 36).log
    (node,) = R.ramanujan_prune(model, theta, 5 / 36, collapse="node").log
    assert avg.stopped == "ramanujan" and avg.kept_after == 31
    assert node.stopped == "collapse" and node.kept_after == 36


def test_algorithm1_exact_counts_and_ties_by_index() -> None:
    model = nn.Sequential(nn.Linear(8, 8))
    result = R.ramanujan_prune(model, {"0.weight": torch.ones(8, 8)}, 0.25)
    mask = result.masks["0.weight"]
    assert mask.dtype == torch.bool and mask.shape == (8, 8) and int(mask.sum()) == 48
    assert bool(mask[:6].all()) and not bool(mask[6:].any())  # equal scores: the highest indices go
    (record,) = R.ramanujan_prune(model, "magnitude", 0.005).log  # round(0.32) = 0
    assert record.stopped == "nothing" and record.tries == ()


def test_algorithm1_scores_sources_and_pieces() -> None:
    model = mlp()
    params = dict(model.named_parameters())
    targets = {t.name: params[t.name] for t in mask_targets(model)}
    by_name = R.ramanujan_prune(model, "magnitude", 0.3, iterations=2)
    by_map = R.ramanujan_prune(model, magnitude_scores(targets), 0.3, iterations=2)
    for name in targets:
        assert torch.equal(by_name.masks[name], by_map.masks[name])

    torch.manual_seed(3)
    batch = (torch.randn(8, 16), torch.randint(0, 4, (8,)))
    snip = R.ramanujan_prune(model, "snip", 0.3, batch=batch)
    assert all(
        torch.equal(snip.masks[n], R.ramanujan_prune(model, snip_scores(model, targets, batch), 0.3).masks[n])
        for n in targets
    )

    seen: list[Mapping[str, Tensor]] = []

    def synflow(masks: Mapping[str, Tensor]) -> Mapping[str, Tensor]:
        seen.append({n: m.clone() for n, m in masks.items()})
        return synflow_scores(model, targets, masks=masks)

    flow = R.ramanujan_prune(model, synflow, 0.3, iterations=2)
    named = R.ramanujan_prune(model, "synflow", 0.3, iterations=2)
    assert len(seen) == 2 and all(bool(m.all()) for m in seen[0].values())
    for name in targets:
        assert torch.equal(flow.masks[name], named.masks[name])
        assert int(seen[1][name].sum()) == next(r.kept_after for r in flow.log if r.name == name)

    # pieces: one record per group of a grouped conv, per gate block of an LSTM
    result = R.ramanujan_prune(cnn(), "magnitude", {"0.weight": 0.2, "2.weight": 0.2, "6.weight": 0.1})
    assert [(r.name, r.piece) for r in result.log] == [
        ("0.weight", 0),
        ("2.weight", 0),
        ("2.weight", 1),
        ("6.weight", 0),
    ]
    lstm = R.ramanujan_prune(Recurrent(), "magnitude", 0.2, kinds=["rnn"])
    assert [(r.name, r.piece) for r in lstm.log][:4] == [("lstm.weight_ih_l0", g) for g in range(4)]
    for r in lstm.log:
        assert r.kept_before == (20 if "ih" in r.name else 16)
        assert r.kept_after in (r.kept_before, r.kept_before - round(r.tries[-1].percentile * r.kept_before))


def test_algorithm1_argument_errors() -> None:
    model = mlp()
    with pytest.raises(ValueError, match="percentile"):
        R.ramanujan_prune(model, "magnitude", 1.0)
    with pytest.raises(ValueError, match="missing"):
        R.ramanujan_prune(model, "magnitude", {"0.weight": 0.2})
    with pytest.raises(ValueError, match="levels"):
        R.ramanujan_prune(model, "magnitude", levels=0)
    with pytest.raises(ValueError, match="collapse"):
        R.ramanujan_prune(model, "magnitude", collapse="min")
    with pytest.raises(ValueError, match="snip"):
        R.ramanujan_prune(model, "snip")
    with pytest.raises(ValueError, match="expected one of"):
        R.ramanujan_prune(model, "grasp")
    with pytest.raises(ValueError, match="no score"):
        R.ramanujan_prune(model, {"0.weight": torch.ones(12, 16)})
    with pytest.raises(ValueError, match="shape"):
        R.ramanujan_prune(model, lambda m: {n: torch.ones(2) for n in m})


def test_prune_log_csv(tmp_path: Path) -> None:
    result = R.ramanujan_prune(mlp(), "magnitude", 0.5, iterations=3)
    path = tmp_path / "log.csv"
    R.to_csv(result.log, path)
    with open(path, newline="", encoding="utf-8") as fh:
        read = list(csv.DictReader(fh))
    assert len(read) == len(result.log) and "percentiles_tried" in read[0] and "stopped" in read[0]
