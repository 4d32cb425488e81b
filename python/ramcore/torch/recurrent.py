"""The time-unrolled graph of a PyTorch RNN/LSTM/GRU (seed 003, Figure 2).

`encode_recurrent(model, steps)` unfolds a `torch.nn.RNN`, `LSTM` or `GRU` (any number of layers, one
or two directions) over `steps` time steps into a `MultipartiteGraph`: input values and hidden units
per step as nodes, W_ih and W_hh copied at every step as edges (`ramcore.layers.recurrent` defines the
graph). `encode(model, (steps, input_size))` of such a module calls it. The size is estimated before
anything is built (`recurrent_encoding_size`). An LSTM with `proj_size > 0` is refused: its hidden
state is a projection of the cell output, a partition the graph does not model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..layers.recurrent import RecurrentSize, recurrent_size, unrolled_recurrent_graph
from ..multipartite import MultipartiteGraph
from .apply import masks_of
from .targets import mask_targets

__all__ = ["encode_recurrent", "recurrent_encoding_size", "recurrent_module"]

GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}  # as ramcore.torch.targets reads the gate blocks


def recurrent_module(model: nn.Module) -> tuple[str, nn.RNNBase]:
    """(qualified name, module) of the recurrent layer of `model`: `model` itself, or its only
    `nn.RNNBase` submodule."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    found = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.RNNBase)]
    if len(found) != 1:
        raise ValueError(
            f"model: expected one nn.RNN/LSTM/GRU module, found {len(found)}"
            + (f" ({[n for n, _ in found][:4]}); encode each on its own" if found else "")
        )
    name, module = found[0]
    if getattr(module, "proj_size", 0):
        raise NotImplementedError(
            f"model: the LSTM {name or type(module).__name__!r} has proj_size > 0, which the unrolled "
            "recurrent graph does not model"
        )
    return name, module


def _weights(
    model: nn.Module, masks: Mapping[str, Tensor] | None, weighted: bool
) -> tuple[str, nn.RNNBase, list[Any], list[Any]]:
    """The W_ih and W_hh of every layer and direction as numpy arrays: the mask, or `|W|` ⊙ mask."""
    name, module = recurrent_module(model)
    if masks is None:
        state = masks_of(model)
        masks = {} if state is None else state.masks()
    elif not isinstance(masks, Mapping):
        raise TypeError(
            f"masks: expected a MaskSet or a mapping weight name -> bool tensor, got {type(masks).__name__}"
        )
    known = {t.name for t in mask_targets(model, kinds=("rnn",))}
    unknown = sorted(set(masks) - known)
    if unknown:
        raise ValueError(
            f"masks: {unknown[:3]} are not weights of the recurrent layer (expected {sorted(known)})"
        )
    prefix = f"{name}." if name else ""
    ih: list[Any] = []
    hh: list[Any] = []
    for weights in module._all_weights:  # per layer and direction, in parameter order
        for pname in weights:
            if not pname.startswith(("weight_ih", "weight_hh")):
                continue
            w = getattr(module, pname).detach().cpu().to(torch.float64).numpy()
            mask = masks.get(prefix + pname)
            if mask is None:
                keep = w != 0
            else:
                if not isinstance(mask, Tensor) or tuple(mask.shape) != w.shape:
                    got = tuple(mask.shape) if isinstance(mask, Tensor) else type(mask).__name__
                    raise ValueError(
                        f"masks[{prefix + pname!r}]: expected a tensor of shape {w.shape}, got {got}"
                    )
                keep = mask.detach().cpu().numpy() != 0
            value = np.abs(w) * keep if weighted else keep.astype(np.float64)
            (ih if pname.startswith("weight_ih") else hh).append(value)
    return name, module, ih, hh


def recurrent_encoding_size(
    model: nn.Module,
    steps: int,
    masks: Mapping[str, Tensor] | None = None,
    *,
    carry: bool = False,
) -> RecurrentSize:
    """Nodes, edges and bytes of `encode_recurrent(model, steps, masks, carry=carry)`, without building it."""
    _, module, ih, hh = _weights(model, masks, False)
    gates = GATES[module.mode.split("_")[0]]
    return recurrent_size(ih, hh, steps, gates=gates, bidirectional=module.bidirectional, carry=carry)


def encode_recurrent(
    model: nn.Module,
    steps: int,
    masks: Mapping[str, Tensor] | None = None,
    weighted: bool = False,
    *,
    carry: bool = False,
    max_bytes: int | None = None,
) -> MultipartiteGraph:
    """The recurrent layer of `model` unrolled over `steps` time steps (seed 003, Figure 2).

    model: an nn.RNN/LSTM/GRU, or a model with exactly one. masks: a MaskSet or a mapping parameter name
    (as in `model.named_parameters()`) -> bool tensor; None: the model's applied masks, else its nonzero
    weights. weighted: edges carry `|W|` summed over the gates. carry: add the elementwise state path of
    an LSTM/GRU (weight 1). Partitions: "input" (steps * input_size nodes, step-major), then per layer,
    direction and step the hidden units, named "<module>.l{layer}[_reverse].t{step}"
    (`ramcore.layers.recurrent`). max_bytes: refuse a larger graph (MemoryError with the estimate).
    """
    name, module, ih, hh = _weights(model, masks, bool(weighted))
    gates = GATES[module.mode.split("_")[0]]
    if carry and gates == 1:
        raise ValueError("carry=True: a plain RNN has no elementwise state path (LSTM cell, GRU update)")
    return unrolled_recurrent_graph(
        ih, hh, steps, gates=gates, bidirectional=module.bidirectional, carry=carry, weighted=bool(weighted),
        prefix=f"{name}." if name else "", max_bytes=max_bytes,
    )  # fmt: skip
