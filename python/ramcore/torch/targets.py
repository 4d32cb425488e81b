"""Which parameters of a model are masked, and how each one is a set of bipartite graphs.

A weight of shape `(out, in, *kernel)` is split along its first axis into `pieces` equal blocks: the
groups of a grouped convolution (one bipartite graph per group), the gate blocks of an RNN/LSTM/GRU
weight (seed 003 treats each gate's matrix as its own layer graph) and the q/k/v blocks of an
attention input projection. Each piece of shape `(out_p, in, *kernel)` is the biadjacency
B = piece.reshape(out_p, -1).T: rows are the inputs (in * prod(kernel)), columns the outputs, as
`ramcore.layers.bipartite` reads every layer (docs/design.md, section 4).

Hugging Face `transformers` models: their `nn.Linear` layers are found as any other, and
`transformers`' `Conv1D` (GPT-2's `c_attn`, `c_proj`, `c_fc`) too; a `Conv1D` stores its weight
transposed, `(in, out)`, so its target has `transposed=True` and every piece, mask and report reads it
through `canonical_shape` `(out, in)` (GPT-2's fused `c_attn`, `(embed, 3 * embed)`, is three q/k/v
pieces as an attention input projection). A projection whose owning module's class name contains
"Attention" (`GPT2Attention`, `BertSelfAttention`, `LlamaAttention`, `nn.MultiheadAttention`) is of kind
"attention", the MLP's of kind "linear". The language-model head (`model.get_output_embeddings()`,
e.g. `lm_head`) stays dense unless `include` names it: it is the output layer, and usually tied to the
input embeddings (a tied head is not a parameter of its own and is never masked). Embeddings,
biases and normalisation layers are never masked.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Union

import numpy as np
import numpy.typing as npt
from torch import nn

from ..layers.bipartite import piece_biadjacency, piece_slice, pieces_to_weight, weight_to_pieces
from .apply import masks_of

__all__ = [
    "KINDS",
    "MaskTarget",
    "Patterns",
    "is_hf_conv1d",
    "mask_targets",
    "pieces_to_weight",
    "selected_targets",
    "weight_to_pieces",
]

KINDS = ("linear", "conv", "rnn", "attention")
Patterns = Union[str, Sequence[str], None]  # fnmatch patterns on parameter or module names
_GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}


@dataclass(frozen=True)
class MaskTarget:
    """One masked parameter: `name` as in `model.named_parameters()`."""

    name: str
    module: str  # qualified name of the owning module
    kind: str  # one of KINDS
    shape: tuple[int, ...]  # the parameter's shape
    pieces: int  # equal blocks along the output axis, each its own bipartite graph
    transposed: bool = False  # weight stored (in, out), as transformers' Conv1D

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def canonical_shape(self) -> tuple[int, ...]:
        """The weight's shape as `(out, in, *kernel)`: `shape`, or its reverse when `transposed`."""
        return self.shape[::-1] if self.transposed else self.shape

    @property
    def piece_shape(self) -> tuple[int, int]:
        """(rows, columns) = (inputs, outputs) of each piece's biadjacency."""
        shape = self.canonical_shape
        return math.prod(shape[1:]), shape[0] // self.pieces

    def piece_slice(self, piece: int) -> slice:
        """Piece `piece` as a slice of the flattened canonical weight (pieces split its axis 0, so each
        is contiguous; `ramcore.torch.pieces.flat_weight` gives that layout)."""
        return piece_slice(self.numel, self.pieces, piece)

    def piece_biadjacency(self, flat_piece: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
        """A flattened piece `(out_p, in, *kernel)` as its float64 biadjacency `piece_shape`."""
        return piece_biadjacency(flat_piece, *self.piece_shape)


def is_hf_conv1d(module: nn.Module) -> bool:
    """Whether `module` is `transformers`' Conv1D (a linear layer with its weight stored (in, out)).

    Recognised by class, without importing transformers."""
    cls = type(module)
    return cls.__name__ == "Conv1D" and cls.__module__.split(".")[0] == "transformers"


def _in_attention(parent: nn.Module | None) -> bool:
    return parent is not None and "Attention" in type(parent).__name__


def _module_targets(prefix: str, module: nn.Module, parent: nn.Module | None) -> list[MaskTarget]:
    def target(pname: str, kind: str, pieces: int, transposed: bool = False) -> MaskTarget:
        shape = tuple(getattr(module, pname).shape)
        name = f"{prefix}.{pname}" if prefix else pname
        return MaskTarget(name, prefix, kind, shape, pieces, transposed)

    if isinstance(module, nn.Linear):
        kind = "attention" if _in_attention(parent) else "linear"
        return [target("weight", kind, 1)]
    if is_hf_conv1d(module):
        weight: Any = module.weight
        n_in, n_out = weight.shape
        # GPT-2's fused q/k/v projection (embed -> 3 embed; cross-attention's embed -> 2 embed)
        fused = prefix.rpartition(".")[2] == "c_attn" and n_out % n_in == 0 and n_out > n_in
        kind = "attention" if _in_attention(parent) else "linear"
        return [target("weight", kind, n_out // n_in if fused else 1, transposed=True)]
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        return [target("weight", "conv", module.groups)]
    if isinstance(module, nn.RNNBase):
        gates = _GATES[module.mode.split("_")[0]]  # "RNN_TANH", "LSTM", "GRU"
        out: list[MaskTarget] = []
        for weights in module._all_weights:  # per layer and direction, in parameter order
            for pname in weights:
                if pname.startswith(("weight_ih", "weight_hh")):
                    out.append(target(pname, "rnn", gates))
                elif pname.startswith("weight_hr"):  # LSTM projection: a plain linear map
                    out.append(target(pname, "rnn", 1))
        return out
    if isinstance(module, nn.MultiheadAttention):
        if module._qkv_same_embed_dim:
            return [target("in_proj_weight", "attention", 3)]
        return [target(p, "attention", 1) for p in ("q_proj_weight", "k_proj_weight", "v_proj_weight")]
    return []


def mask_targets(
    model: nn.Module,
    kinds: Iterable[str] = KINDS,
    include: Patterns = None,
    exclude: Patterns = None,
    exclude_first: bool = False,
    exclude_last: bool = False,
) -> list[MaskTarget]:
    """The parameters to mask, in `model.named_parameters()` order.

    kinds: layer types to mask ("linear", "conv", "rnn", "attention"). include/exclude: fnmatch
    patterns on parameter or module names ("features.*", "classifier.2"); a Hugging Face model's LM
    head is masked only when `include` names it (module docstring). exclude_first/last drop the
    first/last selected layer (by module), as seeds 000-002 keep the input and output layers dense.
    """
    kinds = tuple(kinds)
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise ValueError(f"kinds must be drawn from {KINDS}, got {bad}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    modules = dict(model.named_modules())
    found: list[MaskTarget] = []
    for prefix, module in modules.items():
        parent = modules.get(prefix.rpartition(".")[0]) if prefix else None
        found.extend(t for t in _module_targets(prefix, module, parent) if t.kind in kinds)
    order = {name: i for i, (name, _) in enumerate(model.named_parameters())}
    found = sorted((t for t in found if t.name in order), key=lambda t: order[t.name])
    found = [t for t in found if _selected(t, include, exclude)]
    head = _output_head(model, modules)
    if head is not None and not _hit(_patterns(include), [head]):  # the LM head: dense unless included
        found = [t for t in found if t.module != head]
    owners = list(dict.fromkeys(t.module for t in found))
    drop = {owners[0]} if exclude_first and owners else set()
    if exclude_last and owners:
        drop.add(owners[-1])
    return [t for t in found if t.module not in drop]


def _output_head(model: nn.Module, modules: dict[str, nn.Module]) -> str | None:
    """The qualified name of a Hugging Face model's output embeddings (its LM head), if any."""
    get = getattr(model, "get_output_embeddings", None)
    head = get() if callable(get) else None
    if not isinstance(head, nn.Module):
        return None
    return next((name for name, m in modules.items() if m is head), None)


def _hit(patterns: list[str], names: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(n, p) for p in patterns for n in names)


def _patterns(value: Patterns) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _selected(t: MaskTarget, include: Patterns, exclude: Patterns) -> bool:
    inc, exc = _patterns(include), _patterns(exclude)
    names = (t.name, t.module)
    return (not inc or _hit(inc, names)) and not _hit(exc, names)


def selected_targets(
    model: nn.Module,
    kinds: Iterable[str],
    include: Patterns,
    exclude: Patterns,
    exclude_first: bool = False,
    exclude_last: bool = False,
) -> list[MaskTarget]:
    """`mask_targets`, plus the layers that apply_masks(mode="prune") re-registered as `<name>_orig`
    (report, pruning and baselines read a model whichever way its masks were applied)."""
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
