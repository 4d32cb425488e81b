"""Layer-wise Ramanujan report of a (masked) model, and Ramanujan-preserving pruning (seed 001, Algorithm 1).

Every masked parameter is one or more bipartite graphs (`ramcore.torch.layers`): rows are the inputs
(in * prod(kernel), the "rolled" encoding), columns the outputs; a grouped convolution has one graph per
group, an RNN/LSTM/GRU weight one per gate block, an attention input projection one per q/k/v block.
`report` and `ramanujan_prune` work per piece: a row or log entry is one (parameter, piece) pair, with
`piece` its index (0 for the usual single-piece layer). Aggregating the pieces of a grouped layer into one
block-diagonal graph would make it disconnected, and every spectral bound would then speak of one group.

The mask of a parameter is, in this order: `masks[name]` when given, the mask applied by
`ramcore.torch.apply_masks` (`masks_of(model)`, either mode), else `weight != 0`. The unweighted graph is
the mask; the weighted one is |W| ⊙ mask (seed 001 section 4.1: signs are ignored).

Two conventions of the Ramanujan bound differences are reported side by side.

Seed 001 (Pal et al., "A study on the Ramanujan graph property of winning lottery tickets", ICML 2022,
Table 1), normalised by t2 and computed on the largest connected component, as `ramcore.gap.ramanujan_gap`:

    Delta_S = (2 sqrt(t1 - 1) - t2) / t2                    (eigenvalue bound, "eb")
    Delta_R = (sqrt(dL - 1) + sqrt(dR - 1) - t2) / t2       (average-degree bound, "db")

with t1 >= t2 the two largest adjacency eigenvalues (the singular values of the biadjacency, of the mask
or of |W| ⊙ mask) and dL, dR the average left/right degrees. A layer is Ramanujan when
max(Delta_S, Delta_R) >= 0: seed 001 (section 4.2 and its hypothesis test) calls max(Delta_S, Delta_R) < 0
the loss of the property. t2 = 0 (a complete bipartite component) gives +inf.

Raw differences of Hoang et al.'s public code ("Revisiting pruning at initialization through the lens of
Ramanujan graph", ICLR 2023, github.com/VITA-Group/ramanujan-on-pai, `lib/graphs/scores.py`): zero-degree
vertices are dropped (the whole remaining graph is used, not only its largest component), the layer is
skipped as collapsed unless both average degrees are at least 3, and with lambda1 >= lambda2 the two
largest singular values of what remains

    raw Delta_S = 2 sqrt(lambda1 - 1) - lambda2
    raw Delta_R = sqrt(dL - 1) + sqrt(dR - 1) - lambda2

(their code scores the unweighted mask; the weighted columns apply the same formulas to |W| ⊙ mask with
the degrees of its non-zero pattern). Undefined values are NaN and `reason` says why (their code returns
None, or -1 for lambda1 < 1). A layer is raw-Ramanujan when max(raw Delta_S, raw Delta_R) >= 0.

Algorithm 1 of seed 001 (layer-wise connectivity-based pruning), `ramanujan_prune`: for each layer i,
for k = 0, 1, ..., K-1, prune the lowest-scoring fraction p / 2^k of the layer's remaining weights
(PRUNEBYPERCENTILE); then
  1. if min(dL, dR) < 2 (average degrees of the pruned graph's connected component), keep the layer as it
     was (the guard against layer collapse) and stop;
  2. if max(Delta_S, Delta_R) > 0 on the unweighted graph, accept the pruned layer and stop;
  3. else if the score-weighted graph (|theta_i| ⊙ mask) has Delta_S^theta >= 0 and t1^theta >= 1,
     accept the pruned layer and stop;
  4. else halve the percentile (k <- k + 1).
When all K levels fail the layer is kept as it was. The paper calls the algorithm once per pruning
iteration and repeats until no layer changes; `iterations` does that here. The weights are never
touched: the result is a set of masks, for `apply_masks`.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, NamedTuple, Protocol, Union, cast

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import torch
from torch import Tensor, nn

from .._validate import per_name
from ..gap import _biadjacency as _gap_biadjacency
from ..gap import _top_two, ramanujan_gap
from .apply import masks_of
from .layers import KINDS, MaskTarget, _module_targets, _selected, mask_targets
from .scores import magnitude_scores, snip_scores, synflow_scores

__all__ = [
    "LayerReport",
    "PruneRecord",
    "PruneResult",
    "PruneTry",
    "RawGap",
    "format_table",
    "ramanujan_prune",
    "raw_ramanujan_gap",
    "report",
    "to_csv",
]

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
ScoreFn = Callable[[Mapping[str, Tensor]], Mapping[str, Tensor]]
Scores = Union[str, Mapping[str, Tensor], ScoreFn]
Patterns = Union[str, Sequence[str], None]

_NAN = math.nan
_RAW_MIN_DEGREE = 3.0  # Hoang et al. skip layers whose average degrees are below 3
_COLLAPSE_DEGREE = 2.0  # seed 001 Algorithm 1, line 7
_SCORE_METHODS = ("magnitude", "snip", "synflow")


# ---------------------------------------------------------------------------------------------------
# Raw convention (Hoang et al.)
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RawGap:
    """Hoang et al.'s raw bound differences of one bipartite graph; NaN with a `reason` when undefined."""

    t1: float
    t2: float
    delta_s: float
    delta_r: float
    d_left: float
    d_right: float
    defined: bool
    reason: str = ""


def raw_ramanujan_gap(matrix: Any, *, weighted: bool = False, layout: str = "torch") -> RawGap:
    """Raw differences 2 sqrt(t1 - 1) - t2 and sqrt(dL - 1) + sqrt(dR - 1) - t2 (Hoang et al.'s code).

    matrix: numpy array, scipy sparse matrix or torch tensor; layout as `ramcore.gap.ramanujan_gap`
    ("torch": (out, in, *kernel); "biadjacency": rows are the left vertices). Zero-degree vertices are
    dropped; both average degrees must be >= 3. weighted=True takes t1, t2 of |matrix|, else of its
    non-zero pattern.
    """
    if layout not in ("torch", "biadjacency"):
        raise ValueError(f"layout must be 'torch' or 'biadjacency', got {layout!r}")
    if not isinstance(weighted, bool):
        raise TypeError(f"weighted must be a bool, got {weighted!r}")
    b = _as_biadjacency(matrix, layout)
    row_deg, col_deg = np.diff(b.indptr), np.bincount(b.indices, minlength=b.shape[1])
    left, right = int(np.count_nonzero(row_deg)), int(np.count_nonzero(col_deg))
    if b.nnz == 0:
        return RawGap(_NAN, _NAN, _NAN, _NAN, _NAN, _NAN, False, "the layer has no edges")
    d_left, d_right = b.nnz / left, b.nnz / right  # zero-degree vertices dropped, as filter_zero_degree
    if min(d_left, d_right) < _RAW_MIN_DEGREE:
        reason = f"average degrees (dL, dR) = ({d_left:.3g}, {d_right:.3g}): both must be >= 3"
        return RawGap(_NAN, _NAN, _NAN, _NAN, d_left, d_right, False, reason)
    core = sp.csr_array(b[np.flatnonzero(row_deg)][:, np.flatnonzero(col_deg)])
    if not weighted:
        core.data[:] = 1.0
    t1, t2 = _top_two(core)
    delta_r = math.sqrt(d_left - 1.0) + math.sqrt(d_right - 1.0) - t2
    if t1 < 1.0:
        reason = "t1 < 1: 2 sqrt(t1 - 1) is undefined, so Delta_S is NaN"
        return RawGap(t1, t2, _NAN, delta_r, d_left, d_right, True, reason)
    return RawGap(t1, t2, 2.0 * math.sqrt(t1 - 1.0) - t2, delta_r, d_left, d_right, True)


def _as_biadjacency(matrix: Any, layout: str) -> sp.csr_array:
    """|matrix| as a float64 CSR biadjacency without explicit zeros (input handling of ramanujan_gap)."""
    b: Any = _gap_biadjacency(matrix, layout).astype(np.float64)
    if not np.all(np.isfinite(b.data)):
        raise ValueError("matrix contains NaN or infinite entries")
    b.data = np.abs(b.data)
    b.eliminate_zeros()
    return cast(sp.csr_array, b)


# ---------------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerReport:
    """One bipartite piece of one masked parameter. Delta fields are NaN where undefined (see `reason`)."""

    name: str  # parameter name in model.named_parameters()
    piece: int  # group / gate block / q,k,v index; 0 for a single-piece layer
    pieces: int
    kind: str  # "linear", "conv", "rnn" or "attention"
    rows: int  # inputs (in * prod(kernel))
    cols: int  # outputs of this piece
    edges: int
    density: float  # edges / (rows * cols)
    mask_source: str  # "masks" (argument), "applied" (masks_of(model)) or "nonzero" (weight != 0)
    components: int  # connected components among non-isolated vertices
    # seed 001, Table 1: normalised by t2, on the largest connected component
    t1: float
    t2: float
    d_left: float
    d_right: float
    delta_s: float
    delta_r: float
    t1_weighted: float
    t2_weighted: float
    delta_s_weighted: float
    delta_r_weighted: float
    ramanujan: bool  # max(delta_s, delta_r) >= 0
    # Hoang et al.'s public code: raw differences, zero-degree vertices dropped, degrees >= 3
    raw_t1: float
    raw_t2: float
    raw_d_left: float
    raw_d_right: float
    raw_delta_s: float
    raw_delta_r: float
    raw_delta_s_weighted: float
    raw_delta_r_weighted: float
    raw_ramanujan: bool  # max(raw_delta_s, raw_delta_r) >= 0
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def report(
    model: nn.Module,
    masks: Mapping[str, Tensor] | None = None,
    *,
    kinds: Iterable[str] = KINDS,
    include: Patterns = None,
    exclude: Patterns = None,
    print_table: bool = True,
    raw: bool = True,
) -> list[LayerReport]:
    """Density, bipartite shape and Ramanujan bound differences of every piece of every masked layer.

    masks: optional parameter name -> bool (or 0/1) tensor; names must be masked layers of `model`.
    kinds, include, exclude: which layers, as `ramcore.torch.layers.mask_targets`. print_table: print
    `format_table(rows)`. raw=False skips Hoang et al.'s convention (its fields are NaN).
    """
    targets = _targets(model, kinds, include, exclude)
    keep, source = _current_masks(model, targets, masks)
    rows: list[LayerReport] = []
    for t in targets:
        weight = _weight_flat(model, t.name)
        for piece in range(t.pieces):
            sl = _piece_slice(t, piece)
            rows.append(_piece_report(t, piece, keep[t.name][sl], weight[sl], source[t.name], raw))
    if print_table:
        print(format_table(rows))
    return rows


def _piece_report(
    t: MaskTarget, piece: int, keep: BoolArray, weight: FloatArray, source: str, raw: bool
) -> LayerReport:
    mask = _biadjacency(keep.astype(np.float64), t)
    weighted = _biadjacency(np.abs(weight) * keep, t)  # |W| ⊙ mask (seed 001 section 4.1)
    rows, cols = mask.shape
    edges = int(np.count_nonzero(keep))
    g = ramanujan_gap(mask, layout="biadjacency")
    gw = ramanujan_gap(weighted, weighted=True, layout="biadjacency")
    if raw:
        r = raw_ramanujan_gap(mask, layout="biadjacency")
        rw = raw_ramanujan_gap(weighted, weighted=True, layout="biadjacency")
    else:
        r = rw = RawGap(_NAN, _NAN, _NAN, _NAN, _NAN, _NAN, False, "raw convention not computed")
    reasons = [f"{what}: {why}" for what, why in (("seed 001", g.reason), ("raw", r.reason)) if why]
    return LayerReport(
        name=t.name,
        piece=piece,
        pieces=t.pieces,
        kind=t.kind,
        rows=rows,
        cols=cols,
        edges=edges,
        density=edges / (rows * cols),
        mask_source=source,
        components=g.components,
        t1=g.t1,
        t2=g.t2,
        d_left=g.d_left,
        d_right=g.d_right,
        delta_s=g.delta_s,
        delta_r=g.delta_r,
        t1_weighted=gw.t1,
        t2_weighted=gw.t2,
        delta_s_weighted=gw.delta_s,
        delta_r_weighted=gw.delta_r,
        ramanujan=_bound_holds(g.delta_s, g.delta_r, strict=False),
        raw_t1=r.t1,
        raw_t2=r.t2,
        raw_d_left=r.d_left,
        raw_d_right=r.d_right,
        raw_delta_s=r.delta_s,
        raw_delta_r=r.delta_r,
        raw_delta_s_weighted=rw.delta_s,
        raw_delta_r_weighted=rw.delta_r,
        raw_ramanujan=_bound_holds(r.delta_s, r.delta_r, strict=False),
        reason="; ".join(reasons),
    )


def _bound_holds(delta_s: float, delta_r: float, *, strict: bool) -> bool:
    """max(Delta_S, Delta_R) > 0 (strict, Algorithm 1 line 11) or >= 0 (Table 1's t2 <= bound); NaN fails."""
    if strict:
        return delta_s > 0.0 or delta_r > 0.0
    return delta_s >= 0.0 or delta_r >= 0.0


_COLUMNS: tuple[tuple[str, str], ...] = (
    ("dS", "delta_s"),
    ("dR", "delta_r"),
    ("dS_w", "delta_s_weighted"),
    ("dR_w", "delta_r_weighted"),
    ("raw dS", "raw_delta_s"),
    ("raw dR", "raw_delta_r"),
    ("raw dS_w", "raw_delta_s_weighted"),
    ("raw dR_w", "raw_delta_r_weighted"),
)


def format_table(rows: Sequence[LayerReport]) -> str:
    """A fixed-width text table of `report` rows; '-' marks an undefined value (NaN)."""
    header = ["layer", "shape", "density", *(title for title, _ in _COLUMNS), "Ram", "raw Ram"]
    body = [
        [
            f"{r.name}[{r.piece}]" if r.pieces > 1 else r.name,
            f"{r.rows}x{r.cols}",
            f"{r.density:.4f}",
            *(_fmt(getattr(r, attr)) for _, attr in _COLUMNS),
            "yes" if r.ramanujan else "no",
            "yes" if r.raw_ramanujan else "no",
        ]
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        return "  ".join([first, *(c.rjust(w) for c, w in zip(cells[1:], widths[1:]))]).rstrip()

    rule = "-" * len(line(header))
    notes = [
        "dS, dR: seed 001 Table 1, normalised by t2 (largest component); Ram: max(dS, dR) >= 0.",
        "raw: Hoang et al.'s code, 2sqrt(t1-1)-t2 and sqrt(dL-1)+sqrt(dR-1)-t2 (degrees >= 3).",
        "_w: weighted by |W| * mask. '-': undefined.",
    ]
    return "\n".join([line(header), rule, *(line(b) for b in body), rule, *notes])


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "-"
    if math.isinf(value):
        return "+inf" if value > 0 else "-inf"
    return f"{value:+.3f}"


class _Row(Protocol):
    def as_dict(self) -> dict[str, Any]: ...


def to_csv(rows: Sequence[_Row], path: str | os.PathLike[str]) -> None:
    """Write rows (`LayerReport`, `PruneRecord`, anything with `as_dict()`) as CSV with a header line.

    Floats are written with Python's repr (exact round trip; 'nan' and 'inf' for undefined and infinite).
    """
    dicts = [r.as_dict() for r in rows]
    if not dicts:
        raise ValueError("rows: nothing to write")
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(dicts[0]))
        writer.writeheader()
        writer.writerows(dicts)


# ---------------------------------------------------------------------------------------------------
# Algorithm 1 of seed 001
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PruneTry:
    """One PRUNEBYPERCENTILE attempt at level k (percentile p / 2^k) and its bound checks."""

    level: int
    percentile: float
    pruned: int  # weights removed by this attempt (of the piece's remaining ones)
    d_left: float  # average degrees of the pruned graph's largest component
    d_right: float
    delta_s: float  # unweighted, seed 001 Table 1
    delta_r: float
    delta_s_score: float  # Delta_S^theta of |theta| ⊙ mask, NaN where not reached
    t1_score: float
    outcome: str  # "collapse", "ramanujan", "weighted", "bound failed"


@dataclass(frozen=True)
class PruneRecord:
    """Algorithm 1 on one (parameter, piece) in one pruning iteration.

    stopped: "ramanujan" (unweighted max(Delta_S, Delta_R) > 0: pruned), "weighted" (score-weighted
    Delta_S^theta >= 0 and t1^theta >= 1: pruned), "collapse" (min(dL, dR) < 2: kept), "levels" (all K
    levels failed the bounds: kept) or "nothing" (the percentile removes no weight: kept).
    """

    iteration: int
    name: str
    piece: int
    percentile: float  # p of this layer; try k used p / 2^k
    kept_before: int
    kept_after: int
    stopped: str
    tries: tuple[PruneTry, ...]

    @property
    def pruned(self) -> bool:
        return self.kept_after < self.kept_before

    @property
    def accepted_percentile(self) -> float | None:
        """p / 2^k of the accepted attempt, None when the layer was kept as it was."""
        return self.tries[-1].percentile if self.pruned else None

    def as_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "tries"}
        out["percentiles_tried"] = ";".join(repr(t.percentile) for t in self.tries)
        out["accepted_percentile"] = self.accepted_percentile
        return out


class PruneResult(NamedTuple):
    """`masks`: parameter name -> bool CPU tensor for every selected layer; `log`: one record per piece
    and iteration, in order."""

    masks: dict[str, Tensor]
    log: list[PruneRecord]


def ramanujan_prune(
    model: nn.Module,
    scores: Scores,
    percentile: float | Mapping[str, float] = 0.2,
    *,
    levels: int = 4,
    iterations: int = 1,
    masks: Mapping[str, Tensor] | None = None,
    collapse: str = "average",
    kinds: Iterable[str] = KINDS,
    include: Patterns = None,
    exclude: Patterns = None,
    exclude_first: bool = False,
    exclude_last: bool = False,
    batch: Any = None,
    input_shape: Sequence[int] | None = None,
    loss_fn: Callable[[Tensor, Tensor], Tensor] | None = None,
) -> PruneResult:
    """Layer-wise connectivity-based pruning, seed 001 Algorithm 1 (see the module docstring).

    scores: theta, one of
      - a mapping parameter name -> score tensor of the parameter's shape (any score: magnitude, SNIP,
        SynFlow, ...), used at every iteration;
      - a callable taking the current masks (name -> bool tensor) and returning such a mapping, called
        once per iteration (e.g. `lambda m: synflow_scores(model, targets, (6,), masks=m)`);
      - "magnitude" (|W|), "snip" (needs `batch`, optional `loss_fn`) or "synflow" (recomputed on the
        current masks; `input_shape` unless the first layer is nn.Linear), from `ramcore.torch.scores`.
    percentile: p, the fraction of each layer's remaining weights pruned at level 0 (seed 001 uses
      p = 0.2 for FC layers), a float in (0, 1) or a mapping name -> p covering every selected layer.
    levels: K, the attempts p, p/2, ..., p/2^(K-1) per layer. iterations: calls of Algorithm 1, each
      starting from the previous masks; stops early when no layer changes (the paper's criterion).
    masks: the starting masks (default: the applied masks, else weight != 0).
    collapse: "average" (Algorithm 1 line 7: min(dL, dR) < 2 on the pruned component) or "node" (the
      text of section 4.2: some vertex of the piece has degree < 2).
    Layers are selected as `mask_targets`; each piece (group, gate block) is its own layer here. The
    count pruned is round(p/2^k * remaining) exactly; the lowest scores go first (NaN lowest) and ties
    remove the highest index first, so the lowest index is kept, as `topk_masks`.
    """
    _check_int(levels, "levels")
    _check_int(iterations, "iterations")
    if collapse not in ("average", "node"):
        raise ValueError(f"collapse must be 'average' or 'node', got {collapse!r}")
    targets = _targets(model, kinds, include, exclude, exclude_first, exclude_last)
    if not targets:
        raise ValueError("no layer to prune: check kinds, include and exclude")
    p_of = _percentiles(targets, percentile)
    score_fn = _score_function(scores, model, targets, batch, input_shape, loss_fn)
    keep, _ = _current_masks(model, targets, masks)
    log: list[PruneRecord] = []
    for iteration in range(iterations):
        theta = _check_score_mapping(score_fn(_as_tensors(keep, targets)), targets)
        changed = False
        for t in targets:
            for piece in range(t.pieces):
                sl = _piece_slice(t, piece)
                new, record = _prune_piece(
                    t, piece, keep[t.name][sl], theta[t.name][sl], p_of[t.name], levels, collapse, iteration
                )
                keep[t.name][sl] = new
                changed |= record.pruned
                log.append(record)
        if not changed:  # N*_i = N_i for every layer: the stopping criterion of section 4.2
            break
    return PruneResult(_as_tensors(keep, targets), log)


def _prune_piece(
    t: MaskTarget,
    piece: int,
    keep: BoolArray,
    theta: FloatArray,
    p: float,
    levels: int,
    collapse: str,
    iteration: int,
) -> tuple[BoolArray, PruneRecord]:
    """Algorithm 1, lines 3-19, for one bipartite graph: the accepted mask (or `keep`) and its record."""
    alive = int(np.count_nonzero(keep))
    tries: list[PruneTry] = []
    result, stopped = keep, "levels"
    for k in range(levels):
        q = p / 2**k  # line 5: PRUNEBYPERCENTILE(p / 2^k, N_i, theta_i)
        n = round(q * alive)
        if n == 0:
            stopped = "nothing"
            break
        temp = _drop_lowest(keep, theta, n)
        attempt, outcome = _check_pruned(t, temp, theta, collapse, k, q, n)
        tries.append(attempt)
        if outcome == "collapse":  # lines 7-9: N*_i <- N_i
            stopped = "collapse"
            break
        if outcome in ("ramanujan", "weighted"):  # lines 11-17: N*_i <- N^temp_i
            result, stopped = temp, outcome
            break
    record = PruneRecord(
        iteration, t.name, piece, p, alive, int(np.count_nonzero(result)), stopped, tuple(tries)
    )
    return result, record


def _check_pruned(
    t: MaskTarget, temp: BoolArray, theta: FloatArray, collapse: str, k: int, q: float, n: int
) -> tuple[PruneTry, str]:
    """Lines 6-17 of Algorithm 1 on the pruned piece `temp`."""
    mask = _biadjacency(temp.astype(np.float64), t)
    g = ramanujan_gap(mask, layout="biadjacency")
    if _collapsed(mask, g.d_left, g.d_right, collapse):  # line 7
        return PruneTry(
            k, q, n, g.d_left, g.d_right, g.delta_s, g.delta_r, _NAN, _NAN, "collapse"
        ), "collapse"
    if _bound_holds(g.delta_s, g.delta_r, strict=True):  # line 11: max(Delta_S, Delta_R) > 0
        return PruneTry(
            k, q, n, g.d_left, g.d_right, g.delta_s, g.delta_r, _NAN, _NAN, "ramanujan"
        ), "ramanujan"
    # lines 15-16: Delta_S^theta of the graph weighted by the scores, and its t1^theta
    gw = ramanujan_gap(_biadjacency(np.abs(theta) * temp, t), weighted=True, layout="biadjacency")
    ok = gw.delta_s >= 0.0 and gw.t1 >= 1.0
    outcome = "weighted" if ok else "bound failed"
    return PruneTry(k, q, n, g.d_left, g.d_right, g.delta_s, g.delta_r, gw.delta_s, gw.t1, outcome), outcome


def _collapsed(mask: FloatArray, d_left: float, d_right: float, collapse: str) -> bool:
    if collapse == "node":  # "a node with degree less than two" (section 4.2), isolated vertices included
        return bool(min(mask.sum(axis=1).min(), mask.sum(axis=0).min()) < _COLLAPSE_DEGREE)
    return not min(d_left, d_right) >= _COLLAPSE_DEGREE  # NaN (no edges left) collapses too


def _drop_lowest(keep: BoolArray, theta: FloatArray, n: int) -> BoolArray:
    """`keep` without its n lowest-scoring kept entries; NaN lowest, ties drop the highest index first."""
    idx = np.flatnonzero(keep)
    s = np.where(np.isnan(theta[idx]), -np.inf, theta[idx])
    order = np.lexsort((-idx, s))  # primary: score ascending; secondary: index descending
    out = keep.copy()
    out[idx[order[:n]]] = False
    return out


def _score_function(
    scores: Scores,
    model: nn.Module,
    targets: Sequence[MaskTarget],
    batch: Any,
    input_shape: Sequence[int] | None,
    loss_fn: Callable[[Tensor, Tensor], Tensor] | None,
) -> ScoreFn:
    if isinstance(scores, str):
        return _named_scores(scores, model, targets, batch, input_shape, loss_fn)
    if isinstance(scores, Mapping):
        fixed = scores
        return lambda _masks: fixed
    if callable(scores):
        return scores
    raise TypeError(
        f"scores must be one of {_SCORE_METHODS}, a mapping or a callable, got {type(scores).__name__}"
    )


def _named_scores(
    method: str,
    model: nn.Module,
    targets: Sequence[MaskTarget],
    batch: Any,
    input_shape: Sequence[int] | None,
    loss_fn: Callable[[Tensor, Tensor], Tensor] | None,
) -> ScoreFn:
    if method not in _SCORE_METHODS:
        raise ValueError(f"scores: got {method!r}, expected one of {_SCORE_METHODS}, a mapping or a callable")
    params = dict(model.named_parameters())
    missing = [t.name for t in targets if t.name not in params]
    if missing:
        raise ValueError(
            f"scores={method!r} needs the layers as parameters; not found (prune mode?): {missing}"
        )
    named = {t.name: params[t.name] for t in targets}
    if method == "magnitude":
        return lambda _masks: magnitude_scores(named)
    if method == "snip":
        if batch is None:
            raise ValueError("scores='snip' needs batch=(inputs, labels) or a DataLoader")
        if loss_fn is None:
            return lambda _masks: snip_scores(model, named, batch)
        fn = loss_fn
        return lambda _masks: snip_scores(model, named, batch, fn)
    return lambda masks: synflow_scores(model, named, input_shape, masks=masks)


def _check_score_mapping(
    scores: Mapping[str, Tensor], targets: Sequence[MaskTarget]
) -> dict[str, FloatArray]:
    if not isinstance(scores, Mapping):
        raise TypeError(f"scores: expected a mapping name -> tensor, got {type(scores).__name__}")
    out: dict[str, FloatArray] = {}
    for t in targets:
        if t.name not in scores:
            raise ValueError(
                f"scores: no score for {t.name!r}; scores must cover {[x.name for x in targets]}"
            )
        s = scores[t.name]
        if not isinstance(s, Tensor) or tuple(s.shape) != t.shape:
            got = tuple(s.shape) if isinstance(s, Tensor) else type(s).__name__
            raise ValueError(f"scores[{t.name!r}]: expected a tensor of shape {t.shape}, got {got}")
        out[t.name] = s.detach().to(device="cpu", dtype=torch.float64).reshape(-1).numpy()
    return out


def _percentiles(targets: Sequence[MaskTarget], percentile: float | Mapping[str, float]) -> dict[str, float]:
    return per_name(percentile, [t.name for t in targets], "percentile", _check_fraction)


def _check_fraction(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} must be a number in (0, 1), got {value!r}")
    if not 0.0 < float(value) < 1.0:
        raise ValueError(
            f"{what} must be in (0, 1) (the fraction of remaining weights pruned), got {value!r}"
        )
    return float(value)


def _check_int(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what} must be an integer >= 1, got {value!r}")


# ---------------------------------------------------------------------------------------------------
# Shared helpers: layers, masks, pieces
# ---------------------------------------------------------------------------------------------------


def _targets(
    model: nn.Module,
    kinds: Iterable[str],
    include: Patterns,
    exclude: Patterns,
    exclude_first: bool = False,
    exclude_last: bool = False,
) -> list[MaskTarget]:
    """mask_targets, plus the layers that apply_masks(mode="prune") re-registered as `<name>_orig`."""
    kinds = tuple(kinds)
    found = mask_targets(model, kinds, include, exclude, exclude_first, exclude_last)
    state = masks_of(model)
    if state is None or state.mode != "prune" or exclude_first or exclude_last:
        return found
    known = {t.name for t in found}
    modules = dict(model.named_modules())
    for name in state.masks():
        prefix = name.rpartition(".")[0]
        if name in known or prefix not in modules:
            continue
        parent = modules.get(prefix.rpartition(".")[0]) if prefix else None
        found += [
            t
            for t in _module_targets(prefix, modules[prefix], parent)
            if t.name == name and t.kind in kinds and _selected(t, include, exclude)
        ]
    order = {n.removesuffix("_orig"): i for i, (n, _) in enumerate(model.named_parameters())}
    return sorted(found, key=lambda t: order.get(t.name, len(order)))


def _current_masks(
    model: nn.Module, targets: Sequence[MaskTarget], masks: Mapping[str, Tensor] | None
) -> tuple[dict[str, BoolArray], dict[str, str]]:
    """Flat bool masks by name: `masks[name]`, else the applied mask, else weight != 0; and their source."""
    names = {t.name for t in targets}
    if masks is not None:
        if not isinstance(masks, Mapping):
            raise TypeError(f"masks: expected a mapping name -> bool tensor, got {type(masks).__name__}")
        unknown = [n for n in masks if n not in names]
        if unknown:
            raise ValueError(
                f"masks: {unknown} are not selected layers of the model; layers are {sorted(names)}"
            )
    state = masks_of(model)
    applied = state.masks() if state is not None else {}
    keep: dict[str, BoolArray] = {}
    source: dict[str, str] = {}
    for t in targets:
        if masks is not None and t.name in masks:
            keep[t.name], source[t.name] = _flat_mask(masks[t.name], t), "masks"
        elif t.name in applied:
            keep[t.name], source[t.name] = _flat_mask(applied[t.name], t), "applied"
        else:
            keep[t.name], source[t.name] = _weight_flat(model, t.name) != 0, "nonzero"
    return keep, source


def _flat_mask(mask: object, t: MaskTarget) -> BoolArray:
    if not isinstance(mask, Tensor) or tuple(mask.shape) != t.shape:
        got = tuple(mask.shape) if isinstance(mask, Tensor) else type(mask).__name__
        raise ValueError(f"masks[{t.name!r}]: expected a tensor of shape {t.shape}, got {got}")
    m = mask.detach().cpu()
    if m.dtype != torch.bool:
        if m.is_complex() or not bool(((m == 0) | (m == 1)).all()):
            raise ValueError(f"masks[{t.name!r}]: a {m.dtype} mask must hold only 0 and 1; use torch.bool")
        m = m != 0
    out: BoolArray = m.reshape(-1).numpy().copy()
    return out


def _weight_flat(model: nn.Module, name: str) -> FloatArray:
    """The weight as the forward pass sees it (also `weight_orig * weight_mask` in prune mode)."""
    prefix, _, attr = name.rpartition(".")
    weight = getattr(model.get_submodule(prefix), attr)
    out: FloatArray = weight.detach().to(device="cpu", dtype=torch.float64).reshape(-1).numpy().copy()
    return out


def _piece_slice(t: MaskTarget, piece: int) -> slice:
    """Piece `piece` is a contiguous block of the flattened weight (a split along axis 0)."""
    size = t.numel // t.pieces
    return slice(piece * size, (piece + 1) * size)


def _biadjacency(flat_piece: npt.NDArray[Any], t: MaskTarget) -> FloatArray:
    """Flattened piece (out_p, in, *kernel) -> biadjacency (in * prod(kernel), out_p), as weight_to_pieces."""
    rows, cols = t.piece_shape
    out: FloatArray = np.asarray(flat_piece, dtype=np.float64).reshape(cols, rows).T
    return out


def _as_tensors(keep: Mapping[str, BoolArray], targets: Sequence[MaskTarget]) -> dict[str, Tensor]:
    return {t.name: torch.from_numpy(keep[t.name].copy()).reshape(t.shape) for t in targets}
