"""Ramanujan-preserving pruning: seed 001 (Pal et al. 2022), Algorithm 1.

`ramanujan_prune`, layer-wise connectivity-based pruning: for each layer i,
for k = 0, 1, ..., K-1, prune the lowest-scoring fraction p / 2^k of the layer's remaining weights
(PRUNEBYPERCENTILE); then

  1. if min(dL, dR) < 2 (average degrees of the pruned graph's connected component), keep the layer as it
     was (the guard against layer collapse) and stop;
  2. if max(Delta_S, Delta_R) > 0 on the unweighted graph, accept the pruned layer and stop;
  3. else if the score-weighted graph (`|theta_i|` ⊙ mask) has Delta_S^theta >= 0 and t1^theta >= 1,
     accept the pruned layer and stop;
  4. else halve the percentile (k <- k + 1).

When all K levels fail the layer is kept as it was. The paper calls the algorithm once per pruning
iteration and repeats until no layer changes; `iterations` does that here. The weights are never
touched: the result is a set of masks, for `apply_masks`.

Each (parameter, piece) is its own layer graph (`ramcore.torch.targets`); the bound differences are
those of `ramcore.layers.gap.ramanujan_gap`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, NamedTuple, Union

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor, nn

from ..layers.gap import bound_holds, ramanujan_gap
from ..validation import fraction, per_name, positive_int
from .pieces import canonical, current_masks, mask_tensors
from .scores import magnitude_scores, snip_scores, synflow_scores
from .targets import KINDS, MaskTarget, Patterns, selected_targets

__all__ = ["PruneRecord", "PruneResult", "PruneTry", "drop_lowest", "ramanujan_prune"]

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
ScoreFn = Callable[[Mapping[str, Tensor]], Mapping[str, Tensor]]
Scores = Union[str, Mapping[str, Tensor], ScoreFn]

_COLLAPSE_DEGREE = 2.0  # seed 001 Algorithm 1, line 7
_SCORE_METHODS = ("magnitude", "snip", "synflow")


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
      - "magnitude" (`|W|`), "snip" (needs `batch`, optional `loss_fn`) or "synflow" (recomputed on the
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
    positive_int(levels, "levels")
    positive_int(iterations, "iterations")
    if collapse not in ("average", "node"):
        raise ValueError(f"collapse must be 'average' or 'node', got {collapse!r}")
    targets = selected_targets(model, kinds, include, exclude, exclude_first, exclude_last)
    if not targets:
        raise ValueError("no layer to prune: check kinds, include and exclude")
    p_of = _percentiles(targets, percentile)
    score_fn = _score_function(scores, model, targets, batch, input_shape, loss_fn)
    keep, _ = current_masks(model, targets, masks)
    log: list[PruneRecord] = []
    for iteration in range(iterations):
        theta = _check_score_mapping(score_fn(mask_tensors(keep, targets)), targets)
        changed = False
        for t in targets:
            for piece in range(t.pieces):
                sl = t.piece_slice(piece)
                new, record = _prune_piece(
                    t, piece, keep[t.name][sl], theta[t.name][sl], p_of[t.name], levels, collapse, iteration
                )
                keep[t.name][sl] = new
                changed |= record.pruned
                log.append(record)
        if not changed:  # N*_i = N_i for every layer: the stopping criterion of section 4.2
            break
    return PruneResult(mask_tensors(keep, targets), log)


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
        temp = drop_lowest(keep, theta, n)
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
    mask = t.piece_biadjacency(temp.astype(np.float64))
    g = ramanujan_gap(mask, layout="biadjacency")
    if _collapsed(mask, g.d_left, g.d_right, collapse):  # line 7
        return PruneTry(
            k, q, n, g.d_left, g.d_right, g.delta_s, g.delta_r, math.nan, math.nan, "collapse"
        ), "collapse"
    if bound_holds(g.delta_s, g.delta_r, strict=True):  # line 11: max(Delta_S, Delta_R) > 0
        return PruneTry(
            k, q, n, g.d_left, g.d_right, g.delta_s, g.delta_r, math.nan, math.nan, "ramanujan"
        ), "ramanujan"
    # lines 15-16: Delta_S^theta of the graph weighted by the scores, and its t1^theta
    gw = ramanujan_gap(t.piece_biadjacency(np.abs(theta) * temp), weighted=True, layout="biadjacency")
    ok = gw.delta_s >= 0.0 and gw.t1 >= 1.0
    outcome = "weighted" if ok else "bound failed"
    return PruneTry(k, q, n, g.d_left, g.d_right, g.delta_s, g.delta_r, gw.delta_s, gw.t1, outcome), outcome


def _collapsed(mask: FloatArray, d_left: float, d_right: float, collapse: str) -> bool:
    if collapse == "node":  # "a node with degree less than two" (section 4.2), isolated vertices included
        return bool(min(mask.sum(axis=1).min(), mask.sum(axis=0).min()) < _COLLAPSE_DEGREE)
    return not min(d_left, d_right) >= _COLLAPSE_DEGREE  # NaN (no edges left) collapses too


def drop_lowest(keep: BoolArray, theta: FloatArray, n: int) -> BoolArray:
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
        out[t.name] = canonical(s.detach().to(device="cpu", dtype=torch.float64), t).reshape(-1).numpy()
    return out


def _percentiles(targets: Sequence[MaskTarget], percentile: float | Mapping[str, float]) -> dict[str, float]:
    return per_name(percentile, [t.name for t in targets], "percentile", _pruned_fraction)


def _pruned_fraction(value: object, what: str) -> float:
    return fraction(value, what, "the fraction of remaining weights pruned")
