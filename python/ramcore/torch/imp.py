"""Iterative magnitude pruning with rewinding: the loop in which seed 001 (Pal et al. 2022,
section 4) looks for winning tickets, with its Algorithm 1 as an option for the pruning step.

One round trains the masked model (the user's `train_fn`), records what training returned and the
Ramanujan bound differences of every layer (`ramcore.torch.report`), prunes, and rewinds the
surviving weights to the rewind point before the next round (Frankle & Carbin 2019, "The Lottery
Ticket Hypothesis", Algorithm 1: rewind to initialisation; Frankle et al. 2020, "Linear Mode
Connectivity and the Lottery Ticket Hypothesis": rewind to iteration k of the first training run).
Each round prunes `fraction` of every layer's remaining weights, those of smallest `|W|`, or, with
`ramanujan=True`, runs seed 001's Algorithm 1 (`ramanujan_prune`) on the trained weights' magnitudes,
which prunes a layer only while it keeps the Ramanujan property (or its score-weighted form).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from ..progress import Progress
from ..validation import fraction as check_fraction
from ..validation import positive_int
from .apply import apply_masks, masks_of, remove_masks
from .prune import drop_lowest, ramanujan_prune
from .report import LayerReport, report
from .targets import KINDS, MaskTarget, Patterns, selected_targets

__all__ = ["ImpResult", "ImpRound", "iterative_pruning"]

# train_fn(model, rewind_point) -> anything to record (an accuracy, a dict of metrics, ...)
TrainFn = Callable[[nn.Module, Callable[[], None]], Any]


@dataclass(frozen=True)
class ImpRound:
    """One round: the masks it trained with, what `train_fn` returned, and the bound differences
    of every piece after training (seed 001 Table 1 and the raw convention: `LayerReport`)."""

    round: int
    density: float  # kept / entries over the masked layers, during this round's training
    masks: dict[str, Tensor]
    metrics: Any
    layers: tuple[LayerReport, ...]

    @property
    def ramanujan_pieces(self) -> int:
        """Pieces whose unweighted max(Delta_S, Delta_R) >= 0 after training."""
        return sum(1 for r in self.layers if r.ramanujan)


class ImpResult(NamedTuple):
    """`masks`: the last round's masks (the ticket); `rounds`: every round, in order."""

    masks: dict[str, Tensor]
    rounds: list[ImpRound]


def iterative_pruning(
    model: nn.Module,
    train_fn: TrainFn,
    rounds: int,
    *,
    fraction: float = 0.2,
    ramanujan: bool = False,
    levels: int = 4,
    masks: Mapping[str, Tensor] | None = None,
    kinds: Iterable[str] = KINDS,
    include: Patterns = None,
    exclude: Patterns = None,
    exclude_first: bool = False,
    exclude_last: bool = False,
    progress: bool | None = None,
) -> ImpResult:
    """Iterative magnitude pruning with rewinding (see the module docstring).

    train_fn(model, rewind_point): trains `model` in place, its masks applied (masked weights stay
      zero through `apply_masks`; make the optimizer inside, as each round starts afresh), and
      returns what to record (an accuracy, a dict). Calling `rewind_point()` during the first
      round records the weights to rewind to (iteration k); otherwise the rewind point is the
      model's weights when `iterative_pruning` is called (initialisation).

    rounds: training runs; rounds - 1 prunings come between them. fraction: the share of each
    layer's remaining weights pruned per round, in (0, 1).

    ramanujan: prune by seed 001 Algorithm 1 (`ramanujan_prune` on `|W|`, percentile `fraction`,
      `levels` halvings) instead of plain magnitude pruning.

    masks: the first round's masks (default: those applied to `model`, else every weight kept).
    kinds, include, exclude, exclude_first, exclude_last: which layers, as `mask_targets`.

    Returns the last round's masks, applied to `model` on return, and one `ImpRound` per round.
    """
    rounds = positive_int(rounds, "rounds")
    share = check_fraction(fraction, "fraction", "the share of each layer's weights pruned per round")
    if not isinstance(ramanujan, bool):
        raise TypeError(f"ramanujan must be a bool, got {type(ramanujan).__name__} {ramanujan!r}")
    if not callable(train_fn):
        raise TypeError(f"train_fn must be callable as train_fn(model, rewind_point), got {train_fn!r}")
    targets = selected_targets(model, kinds, include, exclude, exclude_first, exclude_last)
    if not targets:
        raise ValueError("no layer to prune: check kinds, include and exclude")
    current = _starting_masks(model, targets, masks)
    if masks_of(model) is not None:
        remove_masks(model)  # the rounds apply their own masks; the weights stay as they are
    rewind = _snapshot(model)
    history: list[ImpRound] = []
    with Progress(rounds, "iterative pruning", "round", progress) as bar:
        for r in range(rounds):
            apply_masks(model, current)
            recorded: list[dict[str, Tensor]] = []

            def rewind_point(recorded: list[dict[str, Tensor]] = recorded) -> None:
                recorded[:] = [_snapshot(model)]

            metrics = train_fn(model, rewind_point)
            if r == 0 and recorded:
                rewind = recorded[0]
            layers = report(model, print_table=False, include=[t.name for t in targets])
            history.append(ImpRound(r, _density(current), current, metrics, tuple(layers)))
            bar.update(1, f"density {_density(current):.4f}")
            if r + 1 == rounds:
                break
            current = _prune(model, targets, current, share, ramanujan, levels)
            remove_masks(model)
            model.load_state_dict(rewind)
    return ImpResult(current, history)


def _starting_masks(
    model: nn.Module, targets: list[MaskTarget], masks: Mapping[str, Tensor] | None
) -> dict[str, Tensor]:
    """`masks`, else the applied masks, else all ones; bool CPU tensors of each target's shape."""
    state = masks_of(model)
    given = masks if masks is not None else (state.masks() if state is not None else {})
    unknown = sorted(set(given) - {t.name for t in targets})
    if unknown:
        raise ValueError(f"masks: {unknown} are not layers selected for pruning")
    out = {}
    for t in targets:
        m = torch.as_tensor(given[t.name]).to("cpu") if t.name in given else torch.ones(t.shape)
        if tuple(m.shape) != t.shape:
            raise ValueError(f"masks[{t.name!r}] has shape {tuple(m.shape)}, the parameter {t.shape}")
        out[t.name] = m.bool()
    return out


def _snapshot(model: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _density(masks: Mapping[str, Tensor]) -> float:
    kept = sum(int(m.sum()) for m in masks.values())
    total = sum(m.numel() for m in masks.values())
    return kept / total if total else 0.0


def _prune(
    model: nn.Module,
    targets: list[MaskTarget],
    current: dict[str, Tensor],
    share: float,
    ramanujan: bool,
    levels: int,
) -> dict[str, Tensor]:
    """The next round's masks from the trained weights."""
    if ramanujan:
        names = [t.name for t in targets]
        return dict(
            ramanujan_prune(model, "magnitude", share, levels=levels, masks=current, include=names).masks
        )
    params = dict(model.named_parameters())
    out = {}
    for t in targets:
        keep = current[t.name].reshape(-1).numpy()
        weight = params[t.name].detach().abs().reshape(-1).cpu().double().numpy()
        # the smallest |W| among the kept go first, ties the highest index first (as Algorithm 1)
        pruned = drop_lowest(keep, weight, round(share * int(keep.sum())))
        out[t.name] = torch.from_numpy(pruned).reshape(t.shape)
    return out
