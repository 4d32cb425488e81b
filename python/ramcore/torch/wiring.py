"""Which layers feed which in a PyTorch model, for `ramcore.layers.sparsify(scope="global")`.

`layer_inputs(model)` traces the model with torch.fx and returns, for the weight of every
Conv1d/Conv2d/Linear layer, the sources summed into that layer's input: the weights of the layers
whose outputs reach it through operations that keep channels in place (normalisation, activations,
pooling, dropout, flatten/view, spatial slicing, residual sums), None for the network input, and
(name, offset) where a zero-padding shortcut (He et al.'s option A: `F.pad` of an NCHW tensor along
its channels) moves a source's channel c to channel c + offset. This is the wiring of seed 002's
multipartite network graph G_full (Laenen 2023, section 3) for networks that are not a chain.
Concatenation and channel slicing are refused (a channel would have to be split or renumbered).
"""

from __future__ import annotations

import operator
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn

from .unroll import trace

__all__ = ["layer_inputs"]

_LAYERS = (nn.Conv1d, nn.Conv2d, nn.Linear)
Source = Any  # str | None | tuple[str, int]


def layer_inputs(model: nn.Module) -> dict[str, list[Source]]:
    """name of each Conv1d/Conv2d/Linear weight -> the sources summed into its input (see the module
    docstring), in the order the forward pass calls the layers; pass it as `inputs=` to
    `ramcore.layers.sparsify(..., scope="global")` with scores keyed by the same weight names."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    graph = trace(model)
    modules = dict(graph.named_modules())
    reach: dict[fx.Node, dict[Source, int]] = {}  # node -> {source: channel offset}
    ndim: dict[fx.Node, int] = {}  # tensor dimensions where a layer fixes them (NCL, NCHW, NC)
    inputs: dict[str, list[Source]] = {}
    for node in graph.graph.nodes:
        if node.op == "placeholder":
            reach[node] = {None: 0}
        elif node.op == "call_module" and isinstance(modules[node.target], _LAYERS):
            name = f"{node.target}.weight"
            if name in inputs:
                raise NotImplementedError(f"layer_inputs: {node.target!r} is called twice (shared weights)")
            inputs[name] = [
                src if off == 0 or src is None else (src, off)
                for src, off in _of(reach, node.args[0]).items()
            ]
            reach[node] = {name: 0}
            ndim[node] = {nn.Conv1d: 3, nn.Conv2d: 4, nn.Linear: 2}[type(modules[node.target])]
        elif node.op in ("call_module", "call_function", "call_method"):
            reach[node] = _through(node, reach, ndim)
            first = node.args[0] if node.args else None
            if isinstance(first, fx.Node) and first in ndim and _keeps_shape(node, modules):
                ndim[node] = ndim[first]
    return inputs


def _of(reach: dict[fx.Node, dict[Source, int]], arg: Any) -> dict[Source, int]:
    return dict(reach.get(arg, {})) if isinstance(arg, fx.Node) else {}


def _keeps_shape(node: fx.Node, modules: dict[str, nn.Module]) -> bool:
    """Whether the operation keeps its input's number of dimensions (for locating channel padding)."""
    if node.op == "call_module":
        return not isinstance(modules[str(node.target)], (nn.Flatten, nn.Unflatten))
    return node.target not in (torch.flatten, "flatten", "view", "reshape", "squeeze", "unsqueeze", "permute")


def _through(
    node: fx.Node, reach: dict[fx.Node, dict[Source, int]], ndim: dict[fx.Node, int]
) -> dict[Source, int]:
    """The sources reaching the output of a channel-preserving operation."""
    target = node.target
    if target in (torch.cat, torch.concat, torch.stack) or target in ("cat", "split", "chunk"):
        raise NotImplementedError(f"layer_inputs: cannot follow {node.format_node()} (channels renumbered)")
    if target is operator.getitem and isinstance(node.args[0], fx.Node):
        index = node.args[1]
        index = index if isinstance(index, tuple) else (index,)
        if len(index) > 1 and index[1] != slice(None):
            raise NotImplementedError(f"layer_inputs: cannot follow the channel slice {node.format_node()}")
    if target is F.pad:
        pad: Any = node.args[1] if len(node.args) > 1 else node.kwargs.get("pad", ())
        dims = ndim.get(node.args[0]) if isinstance(node.args[0], fx.Node) else None
        if dims is None and len(pad) > 2 or dims is not None and len(pad) > 2 * (dims - 1):
            raise NotImplementedError(f"layer_inputs: cannot follow the padding {node.format_node()}")
        # pads run from the last dimension backwards: the channel axis 1 is the pair 2 * (ndim - 2)
        front = int(pad[2 * (dims - 2)]) if dims is not None and len(pad) > 2 * (dims - 2) else 0
        return {src: off + front for src, off in _of(reach, node.args[0]).items()}
    out: dict[Source, int] = {}
    for arg in _flat(node.args) + _flat(tuple(node.kwargs.values())):
        for src, off in _of(reach, arg).items():
            if out.get(src, off) != off:
                raise NotImplementedError(
                    f"layer_inputs: {src!r} reaches {node.format_node()} at two offsets"
                )
            out[src] = off
    return out


def _flat(args: tuple[Any, ...]) -> list[Any]:
    flat: list[Any] = []
    for a in args:
        flat.extend(_flat(tuple(a)) if isinstance(a, (list, tuple)) else [a])
    return flat
