"""Layer-wise Ramanujan report of a (masked) model (seed 001 Table 1; Hoang et al. 2023).

Every masked parameter is one or more bipartite graphs (`ramcore.torch.targets`, read through
`ramcore.layers.bipartite`): rows are the inputs (in * prod(kernel), the "rolled" encoding), columns the
outputs; a grouped convolution has one graph per group, an RNN/LSTM/GRU weight one per gate block, an
attention input projection one per q/k/v block. `report` (like `ramcore.torch.prune.ramanujan_prune`)
works per piece: a row is one (parameter, piece) pair, with `piece` its index (0 for the usual
single-piece layer). Aggregating the pieces of a grouped layer into one block-diagonal graph would make
it disconnected, and every spectral bound would then speak of one group.

The mask of a parameter is, in this order: `masks[name]` when given, the mask applied by
`ramcore.torch.apply_masks` (`masks_of(model)`, either mode), else `weight != 0`. The unweighted graph is
the mask; the weighted one is `|W|` ⊙ mask (seed 001 section 4.1: signs are ignored).

Two conventions of the Ramanujan bound differences are reported side by side.

Seed 001 (Pal et al., "A study on the Ramanujan graph property of winning lottery tickets", ICML 2022,
Table 1), normalised by t2 and computed on the largest connected component, as
`ramcore.layers.gap.ramanujan_gap`:

    Delta_S = (2 sqrt(t1 - 1) - t2) / t2                    (eigenvalue bound, "eb")
    Delta_R = (sqrt(dL - 1) + sqrt(dR - 1) - t2) / t2       (average-degree bound, "db")

with t1 >= t2 the two largest adjacency eigenvalues (the singular values of the biadjacency, of the mask
or of `|W|` ⊙ mask) and dL, dR the average left/right degrees. A layer is Ramanujan when
max(Delta_S, Delta_R) >= 0: seed 001 (section 4.2 and its hypothesis test) calls max(Delta_S, Delta_R) < 0
the loss of the property. t2 = 0 (a complete bipartite component) gives +inf.

Seed 003 ("Graph expansion in pruned recurrent neural network layers preserves performance", appendix
A.2.1, eq. 1) writes Delta_R with d_avg, the average degree of all vertices (`d_avg`, `delta_r_avg`,
column "dR003"; `ramcore.layers.gap`):

    Delta_R (seed 003) = (2 sqrt(d_avg - 1) - t2) / t2,     d_avg = 2 E / (nL + nR)

Its eq. 2 is Delta_S. Seed 003 prunes and reports each gate matrix of an LSTM as a layer but plots
W_xh and W_hh whole: `joint=True` adds a row (piece -1, "[joint]") for each gate-stacked weight read
as one (inputs x gates * hidden) matrix.

Raw differences of Hoang et al.'s public code ("Revisiting pruning at initialization through the lens of
Ramanujan graph", ICLR 2023, github.com/VITA-Group/ramanujan-on-pai, `lib/graphs/scores.py`): zero-degree
vertices are dropped (the whole remaining graph is used, not only its largest component), the layer is
skipped as collapsed unless both average degrees are at least 3, and with lambda1 >= lambda2 the two
largest singular values of what remains

    raw Delta_S = 2 sqrt(lambda1 - 1) - lambda2
    raw Delta_R = sqrt(dL - 1) + sqrt(dR - 1) - lambda2

(their code scores the unweighted mask; the weighted columns apply the same formulas to `|W|` ⊙ mask with
the degrees of its non-zero pattern). Undefined values are NaN and `reason` says why (their code returns
None, or -1 for lambda1 < 1). A layer is raw-Ramanujan when max(raw Delta_S, raw Delta_R) >= 0.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from torch import Tensor, nn

from ..layers.bipartite import piece_biadjacency
from ..layers.gap import RawGap, bound_holds, ramanujan_gap, raw_ramanujan_gap
from .pieces import current_masks, flat_weight
from .prune import PruneRecord, PruneResult, PruneTry, ramanujan_prune  # re-exported: first published here
from .targets import KINDS, MaskTarget, Patterns, selected_targets

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

JOINT_KINDS = ("rnn", "attention")  # pieces stacked along the outputs over the same inputs
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class LayerReport:
    """One bipartite piece of one masked parameter. Delta fields are NaN where undefined (see `reason`)."""

    name: str  # parameter name in model.named_parameters()
    piece: int  # group / gate block / q,k,v index; 0 for a single-piece layer; -1: all pieces joint
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
    # seed 003 eq. 1: Delta_R with the average degree of all vertices (largest component)
    d_avg: float = math.nan
    delta_r_avg: float = math.nan
    delta_r_avg_weighted: float = math.nan

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
    joint: bool = False,
) -> list[LayerReport]:
    """Density, bipartite shape and Ramanujan bound differences of every piece of every masked layer.

    masks: optional parameter name -> bool (or 0/1) tensor; names must be masked layers of `model`.
    kinds, include, exclude: which layers, as `ramcore.torch.targets.mask_targets`. print_table: print
    `format_table(rows)`. raw=False skips Hoang et al.'s convention (its fields are NaN). joint=True
    adds, after the pieces of every RNN/LSTM/GRU gate-stacked weight and attention q/k/v projection
    (pieces that share the inputs), a row with piece = -1 for the whole weight read as one matrix
    (rows inputs, columns all pieces' outputs), as seed 003's figures read W_xh and W_hh.
    """
    targets = selected_targets(model, kinds, include, exclude)
    keep, source = current_masks(model, targets, masks)
    rows: list[LayerReport] = []
    for t in targets:
        weight = flat_weight(model, t)
        for piece in range(t.pieces):
            sl = t.piece_slice(piece)
            rows.append(_piece_report(t, piece, keep[t.name][sl], weight[sl], source[t.name], raw))
        if joint and t.pieces > 1 and t.kind in JOINT_KINDS:
            rows.append(_piece_report(t, -1, keep[t.name], weight, source[t.name], raw))
    if print_table:
        print(format_table(rows))
    return rows


def _piece_report(
    t: MaskTarget, piece: int, keep: BoolArray, weight: FloatArray, source: str, raw: bool
) -> LayerReport:
    shape = t.piece_shape if piece >= 0 else (t.piece_shape[0], t.piece_shape[1] * t.pieces)
    mask = piece_biadjacency(keep.astype(np.float64), *shape)
    weighted = piece_biadjacency(np.abs(weight) * keep, *shape)  # |W| ⊙ mask (seed 001 section 4.1)
    rows, cols = mask.shape
    edges = int(np.count_nonzero(keep))
    g = ramanujan_gap(mask, layout="biadjacency")
    gw = ramanujan_gap(weighted, weighted=True, layout="biadjacency")
    if raw:
        r = raw_ramanujan_gap(mask, layout="biadjacency")
        rw = raw_ramanujan_gap(weighted, weighted=True, layout="biadjacency")
    else:
        nan = math.nan
        r = rw = RawGap(nan, nan, nan, nan, nan, nan, False, "raw convention not computed")
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
        ramanujan=bound_holds(g.delta_s, g.delta_r, strict=False),
        raw_t1=r.t1,
        raw_t2=r.t2,
        raw_d_left=r.d_left,
        raw_d_right=r.d_right,
        raw_delta_s=r.delta_s,
        raw_delta_r=r.delta_r,
        raw_delta_s_weighted=rw.delta_s,
        raw_delta_r_weighted=rw.delta_r,
        raw_ramanujan=bound_holds(r.delta_s, r.delta_r, strict=False),
        reason="; ".join(reasons),
        d_avg=g.d_avg,
        delta_r_avg=g.delta_r_avg,
        delta_r_avg_weighted=gw.delta_r_avg,
    )


_COLUMNS: tuple[tuple[str, str], ...] = (
    ("dS", "delta_s"),
    ("dR", "delta_r"),
    ("dR003", "delta_r_avg"),
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
            _label(r),
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
        "dR003: seed 003 eq. 1, (2sqrt(d_avg-1)-t2)/t2 with d_avg the average degree of all vertices.",
        "[joint]: a gate-stacked (RNN) or q/k/v weight read as one matrix (report(joint=True)).",
        "raw: Hoang et al.'s code, 2sqrt(t1-1)-t2 and sqrt(dL-1)+sqrt(dR-1)-t2 (degrees >= 3).",
        "_w: weighted by |W| * mask. '-': undefined.",
    ]
    return "\n".join([line(header), rule, *(line(b) for b in body), rule, *notes])


def _label(r: LayerReport) -> str:
    if r.pieces == 1:
        return r.name
    return f"{r.name}[{'joint' if r.piece < 0 else r.piece}]"


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
