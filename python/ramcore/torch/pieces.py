"""A model's masks and weights as flat numpy arrays, one per masked parameter.

`report`, `ramanujan_prune` and the seed-004 baselines read a model the same way: the mask of a
parameter is `masks[name]` when given, else the mask applied by `apply_masks` (either mode), else
`weight != 0`; the weight is what the forward pass sees. Flat arrays are in the target's canonical
layout `(out, in, *kernel)` (a transposed weight, transformers' Conv1D, is transposed back), so each
splits into the target's bipartite pieces with `MaskTarget.piece_slice` and
`MaskTarget.piece_biadjacency`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor, nn

from .apply import masks_of
from .targets import MaskTarget

__all__ = ["canonical", "current_masks", "flat_mask", "flat_weight", "mask_tensors"]

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]


def current_masks(
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
            keep[t.name], source[t.name] = flat_mask(masks[t.name], t), "masks"
        elif t.name in applied:
            keep[t.name], source[t.name] = flat_mask(applied[t.name], t), "applied"
        else:
            keep[t.name], source[t.name] = flat_weight(model, t) != 0, "nonzero"
    return keep, source


def flat_mask(mask: object, t: MaskTarget) -> BoolArray:
    """A user's mask for target t, checked (shape; bool, or 0/1 values), as a flat bool array."""
    if not isinstance(mask, Tensor) or tuple(mask.shape) != t.shape:
        got = tuple(mask.shape) if isinstance(mask, Tensor) else type(mask).__name__
        raise ValueError(f"masks[{t.name!r}]: expected a tensor of shape {t.shape}, got {got}")
    m = mask.detach().cpu()
    if m.dtype != torch.bool:
        if m.is_complex() or not bool(((m == 0) | (m == 1)).all()):
            raise ValueError(f"masks[{t.name!r}]: a {m.dtype} mask must hold only 0 and 1; use torch.bool")
        m = m != 0
    out: BoolArray = canonical(m, t).reshape(-1).numpy().copy()
    return out


def flat_weight(model: nn.Module, target: MaskTarget) -> FloatArray:
    """The weight as the forward pass sees it (also `weight_orig * weight_mask` in prune mode), flat
    in the target's canonical layout."""
    prefix, _, attr = target.name.rpartition(".")
    weight = getattr(model.get_submodule(prefix), attr).detach()
    full = weight.full_tensor() if hasattr(weight, "full_tensor") else weight  # an FSDP2 shard: whole
    flat = canonical(full.to(device="cpu", dtype=torch.float64), target).reshape(-1)
    out: FloatArray = flat.numpy().copy()
    return out


def mask_tensors(keep: Mapping[str, BoolArray], targets: Sequence[MaskTarget]) -> dict[str, Tensor]:
    """Flat bool masks (canonical layout) back as bool CPU tensors of each target's shape."""
    out = {}
    for t in targets:
        mask = torch.from_numpy(keep[t.name].copy()).reshape(t.canonical_shape)
        out[t.name] = mask.T.contiguous() if t.transposed else mask
    return out


def canonical(tensor: Tensor, t: MaskTarget) -> Tensor:
    """`tensor` of the parameter's shape in layout `(out, in, *kernel)`, and back: a transposed weight is
    2-D, so its transpose is both ways."""
    return tensor.T.contiguous() if t.transposed else tensor
