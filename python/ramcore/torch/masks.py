"""One entry point for every mask method: `make_masks(model, method=..., density=...)`.

`density` is always the fraction of weights kept. Every method keeps exact per-layer counts
(round(density * numel), ties broken by index), is deterministic given `seed`, builds its masks on
the CPU, and returns a `MaskSet`: a mapping parameter name -> bool tensor of the parameter's shape,
with the achieved density and (for `ramanujan`) the construction of every layer recorded.

Density allocation across layers (`allocation`, `ramcore.layers.allocation`): "uniform" (every
layer at `density`), "er" (Erdos-Renyi, Mocanu et al. 2018), "erk" (Evci et al. 2020), or a dict
name -> density. The score methods (magnitude, snip,
grasp, synflow) rank globally across layers by default, as their papers do; give an allocation to
rank within each layer instead.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from ..layers.allocation import layer_densities
from ..layers.bipartite import pieces_to_weight
from ..layers.gates import gate_masks
from ..layers.masks import MaskInfo, biswas_mask, ramanujan_mask, random_regular_mask
from ..validation import density as _density
from . import distributed
from . import scores as _scores
from .pieces import canonical
from .targets import KINDS, MaskTarget, mask_targets

__all__ = ["DEFAULT_ALLOCATION", "METHODS", "MaskSet", "allocate_density", "make_masks"]

METHODS = (
    "ramanujan", "random", "er", "erk", "random_regular", "magnitude", "snip", "grasp", "synflow", "prospr",
    "sparsify",
)
SPARSIFY_SCORES = ("magnitude", "snip", "synflow")
_SCORED = ("magnitude", "snip", "grasp", "synflow", "prospr")
_DATA = ("snip", "grasp", "prospr")
# Under torch.distributed: built on rank 0 from its weights and broadcast (ramcore.torch.distributed).
_RANK0 = ("magnitude", "synflow", "sparsify")


@dataclass(frozen=True)
class LayerMask:
    """What was built for one parameter: achieved density and per-piece constructions."""

    name: str
    shape: tuple[int, ...]
    target_density: float
    density: float
    kept: int
    pieces: tuple[MaskInfo, ...] = ()


class MaskSet(Mapping[str, torch.Tensor]):
    """Masks by parameter name (bool CPU tensors) plus per-layer records (`layers`)."""

    def __init__(self, method: str, masks: dict[str, torch.Tensor], layers: dict[str, LayerMask]) -> None:
        self.method = method
        self._masks = masks
        self.layers = layers

    def __getitem__(self, name: str) -> torch.Tensor:
        return self._masks[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._masks)

    def __len__(self) -> int:
        return len(self._masks)

    @property
    def density(self) -> float:
        """Overall fraction kept across the masked parameters."""
        kept = sum(layer.kept for layer in self.layers.values())
        return kept / max(1, sum(math.prod(layer.shape) for layer in self.layers.values()))

    def table(self) -> str:
        lines = [f"{'parameter':40s} {'shape':>22s} {'target':>8s} {'density':>8s}  construction"]
        for layer in self.layers.values():
            how = "; ".join(sorted({f"{p.construction} {p.params}" for p in layer.pieces}))
            lines.append(
                f"{layer.name:40s} {str(layer.shape):>22s} {layer.target_density:8.4f} "
                f"{layer.density:8.4f}  {how}"
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"MaskSet(method={self.method!r}, layers={len(self)}, density={self.density:.4f})"


# --- density allocation -------------------------------------------------------------------------


def allocate_density(
    targets: Sequence[MaskTarget], density: float, allocation: str | Mapping[str, float] = "uniform"
) -> dict[str, float]:
    """Per-parameter densities keeping `density` of all target weights overall
    (`ramcore.layers.allocation.layer_densities` on the targets' shapes)."""
    return layer_densities({t.name: t.shape for t in targets}, density, allocation)


# --- per-layer structural masks -----------------------------------------------------------------


def _structured(
    t: MaskTarget, density: float, build: Callable[[int, int, float], tuple[Any, MaskInfo]]
) -> tuple[torch.Tensor, tuple[MaskInfo, ...]]:
    rows, cols = t.piece_shape
    built = [build(rows, cols, density) for _ in range(t.pieces)]
    weight = pieces_to_weight([m for m, _ in built], t.canonical_shape)
    mask = torch.from_numpy(np.ascontiguousarray(weight))
    return canonical(mask, t), tuple(i for _, i in built)  # canonical is its own inverse


def _gated(t: MaskTarget, density: float) -> tuple[torch.Tensor, tuple[MaskInfo, ...]]:
    """An RNN/LSTM/GRU weight (or an attention projection's stacked q/k/v): one Ramanujan mask per
    block, relabelled per block so that the whole weight read as one matrix is Ramanujan too
    (`ramcore.layers.gates`)."""
    rows, cols = t.piece_shape
    fit = gate_masks(rows, cols, t.pieces, density)
    weight = pieces_to_weight(list(fit.masks), t.canonical_shape)
    return canonical(torch.from_numpy(np.ascontiguousarray(weight)), t), fit.infos


# The allocation a method gets when `allocation` is None (others: "uniform", or a global ranking
# for the score methods). Ramanujan masks train best with ER (measured on the digits demo against
# uniform, ERK and seed 000's rule: docs/masks.md, "Allocation").
DEFAULT_ALLOCATION: dict[str, str] = {"ramanujan": "er"}
# How method="ramanujan" builds a piece: the fit (`ramanujan_mask`) or seed 000's block (`biswas_mask`).
CONSTRUCTIONS = ("fit", "biswas")

# --- the entry point ----------------------------------------------------------------------------


def make_masks(
    model: nn.Module,
    method: str = "ramanujan",
    density: float | None = 0.05,
    *,
    construction: str = "fit",
    allocation: str | Mapping[str, float] | None = None,
    data: Any = None,
    loss_fn: Callable[..., torch.Tensor] | None = None,
    forward_fn: Callable[[nn.Module, Any], Any] | None = None,
    rounds: int = 100,
    input_shape: Sequence[int] | None = None,
    seed: int = 0,
    score: str = "magnitude",
    kinds: Sequence[str] = KINDS,
    include: str | Sequence[str] | None = None,
    exclude: str | Sequence[str] | None = None,
    exclude_first: bool = False,
    exclude_last: bool = False,
    progress: bool | None = None,
    collective: bool | None = None,
) -> MaskSet:
    """Masks for the linear/conv/RNN/attention weights of `model` keeping `density` of them.

    method: "ramanujan" (deterministic, data-free fit of a Ramanujan construction per bipartite
    piece, see `ramcore.layers.masks`), "random" (uniform per layer), "er"/"erk" (random masks with that
    allocation), "random_regular" (random bi-regular expander per piece), "magnitude", "snip",
    "grasp", "prospr" (need `data`: a batch (inputs, labels) or a DataLoader; prospr takes up to
    4 batches, one per meta step), "synflow" (data-free,
    `rounds` iterations on an all-ones input of `input_shape`, one sample without the batch axis;
    needed unless the first layer is Linear), "sparsify" (spectral sparsification of every
    bipartite piece by effective resistances of `score`: "magnitude", "snip" (needs `data`) or
    "synflow" (one-shot scores); seed 002 Algorithm 2 at an exact density, `ramcore.layers.sparsify`).
    allocation: "uniform", "er", "erk", "biswas" (seed 000's 1/q rule, the first and last layer
    dense: `ramcore.layers.allocation`) or a dict; None chooses `DEFAULT_ALLOCATION[method]`:
    "er" for ramanujan (measured best, docs/masks.md), "uniform" for the other structural methods
    and sparsify, and a global ranking for the score methods. loss_fn(outputs, labels) scores (inputs, labels)
    batches; a batch may also be a mapping of keyword tensors (`input_ids`, `attention_mask`,
    `labels`: the model's own `.loss` is used), and `forward_fn(model, batch) -> loss` scores any batch
    with any model (`ramcore.torch.scores`); for synflow, `forward_fn` returns the outputs of the
    linearised network on `data` (a keyword batch is run as `model(**data)` by default), for models
    that take token ids instead of an all-ones `input_shape`. seed: every random choice. progress: over
    SynFlow's rounds, the one long loop here (`ramcore.progress`; None: a bar on a terminal).
    construction (method="ramanujan"): "fit" (default: `ramanujan_mask`, any density, every neuron
    connected) or "biswas" (seed 000's construction, literally: `biswas_mask` per piece, the
    density of each layer set by its (q, l) rule, about 1/q, with neurons left dead; the first and
    the last masked layer dense, as in the paper; pass density=None).
    collective: None (default) makes this a collective call when `torch.distributed` is initialised,
    giving the same masks on every rank (`ramcore.torch.distributed` says how, per method); False
    makes the masks of this process alone. A `DistributedDataParallel` model gives the masks of the
    module it wraps (its parameter names), which `apply_masks` takes before or after wrapping.
    """
    collective = distributed.active(collective)
    rank0 = collective and method in _RANK0
    how = {k: f for k, f in (("loss_fn", loss_fn), ("forward_fn", forward_fn)) if f is not None}
    local_scores: dict[str, torch.Tensor] | None = None
    masks: dict[str, torch.Tensor] = {}
    # Local work first, inside `together` (a failure on one rank raises on all); collectives after.
    with distributed.together("make_masks", collective):
        model = distributed.unwrap(model)
        if construction not in CONSTRUCTIONS:
            raise ValueError(f"construction must be one of {CONSTRUCTIONS}, got {construction!r}")
        if construction == "biswas":
            _check_biswas(method, density, allocation)
            density = 1.0  # stands for "set per layer by the rule" in what follows
        elif density is None:
            raise ValueError("density: give the fraction of weights to keep (None is for 'biswas')")
        targets, per_layer = _plan(model, method, density, allocation, score, kinds, include, exclude,
                                   exclude_first, exclude_last)
        density = _density(density, "density")
        if construction == "biswas":
            method = "biswas"
        infos: dict[str, tuple[MaskInfo, ...]] = {t.name: () for t in targets}
        if collective and method in _DATA:
            local_scores = _one_shot_scores(model, targets, method, "method", data, how, input_shape)
        elif not rank0 or distributed.rank() == 0:
            masks = _build(model, method, targets, density, per_layer, data, how, rounds,
                           input_shape, seed, score, progress, infos)
    if rank0:  # rank 0's masks, from rank 0's weights
        masks = distributed.broadcast_masks(masks, {t.name: t.shape for t in targets})
    elif local_scores is not None:  # every rank's batches count: the masks of the global batch
        masks = _ranked(distributed.sum_scores(local_scores), method, density, per_layer)
    if collective:
        distributed.check_same_masks(masks, "make_masks")
    layers = {}
    for t in targets:
        kept = int(masks[t.name].sum())
        target = per_layer[t.name] if per_layer is not None and method != "biswas" else kept / t.numel
        layers[t.name] = LayerMask(t.name, t.shape, target, kept / t.numel, kept, infos[t.name])
    return MaskSet("ramanujan" if method == "biswas" else method, masks, layers)


def _plan(
    model: nn.Module,
    method: str,
    density: float,
    allocation: str | Mapping[str, float] | None,
    score: str,
    kinds: Sequence[str],
    include: str | Sequence[str] | None,
    exclude: str | Sequence[str] | None,
    exclude_first: bool,
    exclude_last: bool,
) -> tuple[list[MaskTarget], dict[str, float] | None]:
    """The checked targets and per-layer densities (None: the score method ranks globally)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    density = _density(density, "density")
    targets = mask_targets(model, kinds, include, exclude, exclude_first, exclude_last)
    if not targets:
        raise ValueError(
            "no parameter to mask: check kinds/include/exclude (found no Linear/Conv/RNN/attention)"
        )
    if method == "sparsify" and score not in SPARSIFY_SCORES:
        raise ValueError(f"score must be one of {SPARSIFY_SCORES} for method='sparsify', got {score!r}")
    if method in ("er", "erk"):
        if allocation not in (None, method):
            raise ValueError(f"method={method!r} fixes the allocation; got allocation={allocation!r}")
        allocation = method
    if method in _SCORED or method == "sparsify":
        _refuse_sharded(model, targets, method)
    per_layer = (
        None
        if allocation is None and method in _SCORED
        else allocate_density(targets, density, allocation or DEFAULT_ALLOCATION.get(method, "uniform"))
    )
    return targets, per_layer


def _build(
    model: nn.Module,
    method: str,
    targets: list[MaskTarget],
    density: float,
    per_layer: dict[str, float] | None,
    data: Any,
    how: Mapping[str, Any],
    rounds: int,
    input_shape: Sequence[int] | None,
    seed: int,
    score: str,
    progress: bool | None,
    infos: dict[str, tuple[MaskInfo, ...]],
) -> dict[str, torch.Tensor]:
    """The masks of one process (`infos` receives the ramanujan constructions)."""
    if method in _SCORED:
        return _score_masks(
            model, method, targets, density, per_layer, data, how, rounds, input_shape, progress
        )
    assert per_layer is not None
    if method in ("random", "er", "erk"):
        params = dict(model.named_parameters())
        return _scores.random_masks({t.name: params[t.name] for t in targets}, per_layer, seed)
    if method == "sparsify":
        return _sparsify_masks(model, targets, per_layer, score, data, how, input_shape, seed)
    masks = {}
    fits: dict[tuple[int, int, float], tuple[Any, MaskInfo]] = {}  # equal pieces: one fit per call
    for i, t in enumerate(targets):
        if method == "biswas" and i in (0, len(targets) - 1):
            masks[t.name], infos[t.name] = _structured(t, 1.0, _dense_end)
        else:
            masks[t.name], infos[t.name] = _structural(method, t, per_layer[t.name], seed, i, fits)
    return masks


def _dense_end(rows: int, cols: int, _: float) -> tuple[Any, MaskInfo]:
    """construction='biswas' keeps the first and the last masked layer dense: seed 000 prunes
    neither (its Table 7 lists no input layer and no classifier), and B(q, l) would leave outputs
    of a classifier (q^2 < classes) without an input."""
    why = {"reason": "first or last layer: seed 000 keeps them dense"}
    return np.ones((rows, cols), dtype=bool), MaskInfo("dense", why, (rows, cols), rows * cols, 1.0)


def _check_biswas(method: str, density: float | None, allocation: object) -> None:
    """construction='biswas' takes no density: seed 000's rule sets each layer's."""
    if method != "ramanujan":
        raise ValueError(f"construction='biswas' belongs to method='ramanujan', got method={method!r}")
    if density is not None or allocation is not None:
        raise ValueError(
            "construction='biswas' sets every layer's density by seed 000's (q, l) rule (about 1/q): "
            f"pass density=None and no allocation, got density={density!r}, allocation={allocation!r}"
        )


def _refuse_sharded(model: nn.Module, targets: Sequence[MaskTarget], method: str) -> None:
    """Scores need whole weights: an FSDP2-sharded parameter holds a shard only."""
    params = dict(model.named_parameters())
    sharded = [t.name for t in targets if distributed.is_dtensor(params[t.name])]
    if sharded:
        raise ValueError(
            f"method={method!r}: parameters {sharded[:3]} are sharded (DTensor, fully_shard); make the "
            "masks before fully_shard, or use a data-free method (ramanujan, random, er, erk, random_regular)"
        )


def _structural(
    method: str, t: MaskTarget, d: float, seed: int, index: int, fits: dict[tuple[int, int, float], Any]
) -> tuple[torch.Tensor, tuple[MaskInfo, ...]]:
    if method == "ramanujan" and t.kind in ("rnn", "attention") and t.pieces > 1:
        return _gated(t, d)  # gate (or q/k/v) blocks relabelled: the whole weight is Ramanujan too
    if method == "ramanujan":

        def fit(rows: int, cols: int, density: float) -> tuple[Any, MaskInfo]:
            if (rows, cols, density) not in fits:  # the fit is deterministic: reuse it
                fits[rows, cols, density] = ramanujan_mask(rows, cols, density)
            mask, info = fits[rows, cols, density]
            return mask.copy(), info

        return _structured(t, d, fit)
    if method == "biswas":
        return _structured(t, d, lambda r, c, _: biswas_mask(r, c))
    rng = np.random.default_rng([seed, index])  # one independent stream per layer
    return _structured(t, d, lambda r, c, dd: random_regular_mask(r, c, dd, rng))


def _one_shot_scores(
    model: nn.Module,
    targets: Sequence[MaskTarget],
    name: str,
    argument: str,
    data: Any,
    how: Mapping[str, Any],
    input_shape: Sequence[int] | None,
) -> dict[str, torch.Tensor]:
    """Scores of the targets by one score function (synflow: its one-shot scores)."""
    params = dict(model.named_parameters())
    chosen = {t.name: params[t.name] for t in targets}
    if name in _DATA and data is None:
        raise ValueError(f"{argument}={name!r} needs data: a batch (inputs, labels) or a DataLoader")
    extra = dict(how)
    if name == "magnitude":
        return _scores.magnitude_scores(chosen)
    if name == "synflow":
        return _scores.synflow_scores(model, chosen, input_shape, **_synflow_batch(data, how))
    if name == "snip":
        return _scores.snip_scores(model, chosen, data, **extra)
    if name == "prospr":
        return _scores.prospr_scores(model, chosen, data, **extra)
    return _scores.grasp_scores(model, chosen, data, **extra)


def _sparsify_masks(
    model: nn.Module,
    targets: Sequence[MaskTarget],
    per_layer: dict[str, float],
    score: str,
    data: Any,
    how: Mapping[str, Any],
    input_shape: Sequence[int] | None,
    seed: int,
) -> dict[str, torch.Tensor]:
    """Seed 002's Sparsify on every bipartite piece (gate block, attention projection, conv group)."""
    from ..layers.sparsify import sparsify

    scores = _one_shot_scores(model, targets, score, "score", data, how, input_shape)
    pieces = {  # (out, in, *k) split along `out`: each block is one layer graph in weight layout
        f"{t.name}[{i}]": block.numpy()
        for t in targets
        for i, block in enumerate(torch.chunk(canonical(scores[t.name], t), t.pieces, dim=0))
    }
    density = {f"{t.name}[{i}]": per_layer[t.name] for t in targets for i in range(t.pieces)}
    result = sparsify(pieces, density=density, seed=seed, report=False)
    return {
        t.name: canonical(
            torch.from_numpy(
                np.concatenate([np.asarray(result.masks[f"{t.name}[{i}]"]) for i in range(t.pieces)], axis=0)
            ),
            t,
        )
        for t in targets
    }


def _score_masks(
    model: nn.Module,
    method: str,
    targets: Sequence[MaskTarget],
    density: float,
    per_layer: dict[str, float] | None,
    data: Any,
    how: Mapping[str, Any],
    rounds: int,
    input_shape: Sequence[int] | None,
    progress: bool | None = None,
) -> dict[str, torch.Tensor]:
    if method == "synflow":  # iterative and global by construction (Tanaka et al. 2020)
        if per_layer is not None:
            raise ValueError("method='synflow' ranks all layers together: leave allocation=None")
        params = dict(model.named_parameters())
        chosen = {t.name: params[t.name] for t in targets}
        return _scores.synflow_masks(
            model, chosen, density, rounds=rounds, input_shape=input_shape, progress=progress,
            **_synflow_batch(data, how),
        )
    scores = _one_shot_scores(model, targets, method, "method", data, how, input_shape)
    return _ranked(scores, method, density, per_layer)


def _synflow_batch(data: Any, how: Mapping[str, Any]) -> dict[str, Any]:
    """SynFlow runs on all ones of `input_shape`, or on `data` when it is a keyword batch or a
    `forward_fn` is given (models taking token ids)."""
    forward_fn = how.get("forward_fn")
    if forward_fn is None and not isinstance(data, Mapping):
        return {}
    if data is None:
        raise ValueError("method 'synflow' with forward_fn needs data: the batch to run the model on")
    return {"batch": data, "forward_fn": forward_fn}


def _ranked(
    scores: Mapping[str, torch.Tensor], method: str, density: float, per_layer: dict[str, float] | None
) -> dict[str, torch.Tensor]:
    """Exact top-k masks of one-shot scores: global, or per layer when densities are given."""
    largest = method != "grasp"  # GraSP removes its top scores (Wang et al. 2020, eq. 8)
    if per_layer is None:
        return _scores.topk_masks(scores, density, scope="global", largest=largest)
    return _scores.topk_masks(scores, per_layer, scope="layer", largest=largest)
