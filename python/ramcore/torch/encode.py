"""Graph encodings of whole (sparse) PyTorch networks (seed 004).

`encode(model, input_shape, masks, encoding="unrolled")` is seed 004's unrolled, input-aware
multipartite graph encoding (MGE, sections 3.1-3.2): one node per input activation and per output
activation of every Conv1d/Conv2d/Linear layer, an edge wherever an unmasked kernel entry joins an
input to an output during the convolution (eq. 3; stride, padding, dilation and groups honoured),
`|W|` on the edges when `weighted` (eq. 4). The model is traced with torch.fx; the trace follows
activations through normalisation, activation functions, dropout, flatten/view/reshape/permute,
slicing, zero padding and concatenation, which create no nodes; `ramcore.torch.unroll` does
the tracing and documents its design decisions (padding nodes, pooling, residual connections).

`encode(..., encoding="rolled" | "rolled_channel")` and `encode_layers` give the two baselines of
seed 004 (section 4.2), one bipartite graph per layer, as a tuple of two-partition
MultipartiteGraphs: "rolled" (seeds 001/002: Cin*kh*kw kernel entries x Cout, an edge per kept
weight, `|W|`) and "rolled_channel" (Prabhu et al.: Cin x Cout, an edge where a kernel slice is not
fully pruned, weighted by its L2 norm as in the reference code). A grouped convolution is the
block-diagonal union of its groups' graphs. Linear layers are their mask in all three encodings.

All graphs are built in the C++ core from the masks (`ramcore._core.unrolled_encoding`); Python only
traces shapes and index maps. Before building, the size is estimated (`encoding_size`) and a
model/input that would not fit in `max_bytes` raises MemoryError with the estimate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, overload

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from torch import Tensor, nn

from .. import _core, validation
from ..multipartite import MultipartiteGraph
from ..validation import positive_int
from ..validation import threads as core_threads
from .recurrent import encode_recurrent
from .targets import mask_targets
from .unroll import Unroller, layer_mask, mask_table, trace

__all__ = ["ENCODINGS", "EncodingSize", "encode", "encode_layers", "encoding_size"]

ENCODINGS = ("unrolled", "rolled", "rolled_channel")
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class EncodingSize:
    """Size of an unrolled encoding, known before it is built (`encoding_size`).

    edges is an upper bound, exact unless pooling windows overlap or a shortcut zero-pads channels;
    bytes covers the CSR (indptr, indices, float64 weights) and the builder's working arrays."""

    nodes: int
    edges: int
    bytes: int
    partitions: tuple[tuple[str, int], ...]  # (name, nodes) in partition order


def _shape(input_shape: Sequence[int]) -> tuple[int, ...]:
    try:
        shape = tuple(int(s) for s in input_shape)
    except (TypeError, ValueError):
        raise TypeError(f"input_shape must be a sequence of ints, got {input_shape!r}") from None
    if not shape or min(shape) < 1:
        raise ValueError(
            f"input_shape must be one sample's shape (no batch axis), positive sizes; got {shape}"
        )
    return shape


def _plan(
    model: nn.Module,
    input_shape: Sequence[int],
    masks: Mapping[str, Tensor] | None,
    weighted: bool,
    pad_input: bool,
    meta: bool,
    like: Unroller | None = None,
) -> Unroller:
    """Run the trace: on meta tensors (sizes only), or for real reusing the graph module and layer
    masks of the meta run `like`."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    table: Mapping[str, Tensor]
    if like is None:
        gm, table, cache = trace(model), mask_table(model, masks), {}
    else:
        gm, table, cache = like.gm, like.masks, like.cache
    enc = Unroller(gm, _shape(input_shape), table, weighted, pad_input, meta, cache)
    enc.run()
    return enc


def _size(enc: Unroller) -> EncodingSize:
    g = enc.graph
    index = 4 if max(g.edges, g.num_nodes) < 2**31 else 8
    csr = (g.num_nodes + 1) * index + g.edges * (index + 8)
    per_node = g.num_nodes * (8 + 4)  # out-degrees, partition labels
    return EncodingSize(g.num_nodes, g.edges, csr + per_node + g.work_bytes, tuple(zip(g.names, g.sizes)))


def encoding_size(
    model: nn.Module,
    input_shape: Sequence[int],
    masks: Mapping[str, Tensor] | None = None,
    weighted: bool = False,
    *,
    pad_input: bool = True,
) -> EncodingSize:
    """Nodes, edges (upper bound) and bytes of `encode(model, input_shape, masks)`, from shapes alone."""
    return _size(_plan(model, input_shape, masks, weighted, pad_input, meta=True))


def _csr(parts: tuple[Any, Any, Any, tuple[int, int]]) -> sp.csr_array:
    """csr_array over the core's buffers (sorted, no duplicates): no copy."""
    indptr, indices, data, shape = parts
    if data is None:  # the core hands no weight buffer for a graph without edges
        data = np.zeros(0, dtype=np.float64)
    a = sp.csr_array((data, indices, indptr), shape=shape, copy=False)
    a.has_sorted_indices = True
    a.has_canonical_format = True
    return a


@overload
def encode(
    model: nn.Module,
    input_shape: Sequence[int],
    masks: Mapping[str, Tensor] | None = ...,
    encoding: Literal["unrolled"] = ...,
    weighted: bool = ...,
    *,
    pad_input: bool = ...,
    max_bytes: int | None = ...,
    threads: int | None = ...,
) -> MultipartiteGraph: ...
@overload
def encode(
    model: nn.Module,
    input_shape: Sequence[int],
    masks: Mapping[str, Tensor] | None,
    encoding: Literal["rolled", "rolled_channel"],
    weighted: bool = ...,
    *,
    pad_input: bool = ...,
    max_bytes: int | None = ...,
    threads: int | None = ...,
) -> tuple[MultipartiteGraph, ...]: ...
@overload
def encode(
    model: nn.Module,
    input_shape: Sequence[int],
    masks: Mapping[str, Tensor] | None = ...,
    encoding: str = ...,
    weighted: bool = ...,
    *,
    pad_input: bool = ...,
    max_bytes: int | None = ...,
    threads: int | None = ...,
) -> MultipartiteGraph | tuple[MultipartiteGraph, ...]: ...
def encode(
    model: nn.Module,
    input_shape: Sequence[int],
    masks: Mapping[str, Tensor] | None = None,
    encoding: str = "unrolled",
    weighted: bool = False,
    *,
    pad_input: bool = True,
    max_bytes: int | None = None,
    threads: int | None = None,
) -> MultipartiteGraph | tuple[MultipartiteGraph, ...]:
    """Graph encoding of `model` for one input of `input_shape` (no batch axis), seed 004.

    An nn.RNN/LSTM/GRU is unrolled over the time steps instead (seed 003): `input_shape` is one
    sequence (steps, input_size) and the result `ramcore.torch.recurrent.encode_recurrent`'s.

    masks: a MaskSet, a mapping weight name -> bool tensor, or None for the model's applied masks
    (`masks_of`) or, without any, its nonzero weights; a layer missing from the mapping is encoded
    from its nonzero weights. encoding: "unrolled" returns one MultipartiteGraph (see the module
    docstring); "rolled"/"rolled_channel" return one two-partition graph per Conv/Linear layer, in
    the order the forward pass calls them. weighted: edges carry `|W|` (eq. 4) instead of 1.
    pad_input: keep the padding nodes of the first convolution's input. max_bytes: refuse (with
    MemoryError and the estimate) an encoding larger than this; default half the available memory.
    threads: worker threads for the core (None: all cores; `ramcore.validation.threads`).
    """
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
    if max_bytes is not None:
        positive_int(max_bytes, "max_bytes")
    if isinstance(model, nn.RNNBase):  # seed 003: unrolled over the sequence's time steps
        return _recurrent(model, input_shape, masks, encoding, weighted, max_bytes)
    threads = core_threads(threads)
    plan = _plan(model, input_shape, masks, bool(weighted), pad_input, meta=True)
    if encoding != "unrolled":
        modules = dict(model.named_modules())
        return tuple(
            _rolled(name, modules[name], *plan.cache[name], encoding, bool(weighted), threads)
            for name in dict.fromkeys(plan.layers)
        )
    size = _size(plan)
    limit = max_bytes
    if limit is None:
        limit = validation.available_memory() // 2  # looked up here: a patched limit applies
    if size.bytes > limit:
        raise MemoryError(
            f"encode: the unrolled encoding of {type(model).__name__} on {tuple(input_shape)} needs about "
            f"{size.bytes:,} bytes ({size.nodes:,} nodes, up to {size.edges:,} edges), over the limit of "
            f"{limit:,} bytes (max_bytes); use a smaller input or sparser masks"
        )
    enc = _plan(model, input_shape, masks, bool(weighted), pad_input, meta=False, like=plan)
    g = enc.graph
    adjacency = _csr(_core.unrolled_encoding(g.num_nodes, g.pieces, bool(weighted), threads))
    partition = np.repeat(np.arange(len(g.sizes), dtype=np.int32), g.sizes)
    return MultipartiteGraph(adjacency, partition, tuple(g.names), "unrolled", bool(weighted))


def _recurrent(
    model: nn.RNNBase,
    input_shape: Sequence[int],
    masks: Mapping[str, Tensor] | None,
    encoding: str,
    weighted: bool,
    max_bytes: int | None,
) -> MultipartiteGraph:
    """An RNN/LSTM/GRU on one sequence of `input_shape` = (steps, input_size): `encode_recurrent`."""
    shape = _shape(input_shape)
    if encoding != "unrolled":
        raise ValueError(
            f"encoding={encoding!r}: a recurrent layer has only its time-unrolled encoding; use "
            "encoding='unrolled', or report() for its W_ih / W_hh bipartite graphs"
        )
    if len(shape) != 2 or shape[1] != model.input_size:
        raise ValueError(
            "input_shape: a recurrent layer takes one sequence (steps, input_size) = "
            f"(T, {model.input_size}), got {shape}"
        )
    return encode_recurrent(model, shape[0], masks, bool(weighted), max_bytes=max_bytes)


def _rolled(
    name: str,
    module: nn.Module,
    keep: BoolArray,
    absw: FloatArray | None,
    encoding: str,
    weighted: bool,
    threads: int,
) -> MultipartiteGraph:
    """One layer's rolled (kernel entries x Cout) or rolled-channel (Cin x Cout) bipartite graph,
    as a grouped 1x1 convolution piece of the core (block diagonal over the groups)."""
    out, cin_g = keep.shape[:2]
    taps = math.prod(keep.shape[2:])
    groups = int(getattr(module, "groups", 1))
    if encoding == "rolled":
        rows, mask = cin_g * taps * groups, keep.reshape(out, cin_g * taps, 1, 1)
        weight = None if absw is None else absw.reshape(out, cin_g * taps, 1, 1)
    else:  # an edge per kernel slice not fully pruned, weighted by its L2 norm (reference code)
        rows, mask = cin_g * groups, keep.reshape(out, cin_g, taps).any(-1).reshape(out, cin_g, 1, 1)
        weight = None
        if absw is not None:
            norms = np.linalg.norm((absw * keep).reshape(out, cin_g, taps), axis=-1)
            weight = norms.reshape(out, cin_g, 1, 1)
    piece = {
        "in_channels": rows, "out_channels": out, "groups": groups, "in_offset": 0, "out_offset": rows,
        "mask": np.ascontiguousarray(mask).view(np.uint8), "weight": weight,
    }  # fmt: skip
    adjacency = _csr(_core.unrolled_encoding(rows + out, [piece], weighted, threads))
    partition = np.repeat(np.array([0, 1], dtype=np.int32), [rows, out])
    return MultipartiteGraph(adjacency, partition, ("input", name), encoding, weighted)


def encode_layers(
    model: nn.Module,
    masks: Mapping[str, Tensor] | None = None,
    encoding: str = "rolled",
    weighted: bool = False,
    *,
    threads: int | None = None,
) -> tuple[MultipartiteGraph, ...]:
    """The rolled baselines of seed 004 without an input: one two-partition MultipartiteGraph
    (names ("input", layer)) per Linear/Conv layer, in `model.named_parameters()` order.

    "rolled": rows Cin*prod(kernel) (entry (c, ky, kx) is node (c*kh + ky)*kw + kx), columns Cout,
    an edge per kept weight, `|W|` when weighted. "rolled_channel": rows Cin, columns Cout, an edge
    where the kernel slice W[o, c] is not fully pruned, its L2 norm when weighted."""
    if encoding not in ("rolled", "rolled_channel"):
        raise ValueError(f"encode_layers: encoding must be 'rolled' or 'rolled_channel', got {encoding!r}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    threads = core_threads(threads)
    table = mask_table(model, masks)
    graphs = []
    for t in mask_targets(model, kinds=("linear", "conv")):
        module = model.get_submodule(t.module)
        keep, absw = layer_mask(t.module, module, table, bool(weighted))
        graphs.append(_rolled(t.module, module, keep, absw, encoding, bool(weighted), threads))
    return tuple(graphs)
