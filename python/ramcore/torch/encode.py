"""Graph encodings of whole (sparse) PyTorch networks (seed 004).

`encode(model, input_shape, masks, encoding="unrolled")` is seed 004's unrolled, input-aware
multipartite graph encoding (MGE, sections 3.1-3.2): one node per input activation and per output
activation of every Conv1d/Conv2d/Linear layer, an edge wherever an unmasked kernel entry joins an
input to an output during the convolution (eq. 3; stride, padding, dilation and groups honoured),
|W| on the edges when `weighted` (eq. 4). The model is traced with torch.fx; the trace follows
activations through normalisation, activation functions, dropout, flatten/view/reshape/permute,
slicing, zero padding and concatenation, which create no nodes. Design decisions:

- Padding nodes. Seed 004's L_i counts the padding of a layer's input (footnote 2), yet keeps
  |R_i| = |L_{i+1}| to join consecutive layers. Both hold only if padding positions are nodes of
  the network input and of no later layer: the input partition is the zero-padded input of the
  first convolution that reads it (C x (H + 2P) x (W + 2P), its padding nodes with out-edges only;
  `pad_input=False` drops them), while inside the network a layer's padding positions are the
  constant zero, not activations of the previous layer, and have no node (the reference code
  deletes them when it joins the layers).
- Pooling (appendix C). Pooling creates no partition: an edge of the next layer from a pooled entry
  u is replaced by edges from every node of u's pooling window. This covers max/average pooling,
  adaptive pooling (to 1x1 before the classifier in the ResNets) and `x.mean(dims)`. Overlapping
  windows can give one edge twice; it is stored once, with the sum of |W| when weighted.
- Residual connections (section 3.2). `a + b` of a layer output and a shortcut does not create a
  partition for the shortcut: its edges (a 1x1 downsampling convolution's, or an identity with
  weight 1, subsampled and zero-padded for He et al.'s option-A shortcut) join the block's input
  partition to the block's output partition, the partition of the layer it is added to. A layer
  output that is also used elsewhere keeps its own partition and the sum gets one, with identity
  edges from both.

Partitions are numbered in the order of the forward pass: 0 is the input ("input"), then the
output activations of each layer, named after the module (the main layer of a residual sum).

`encode(..., encoding="rolled" | "rolled_channel")` and `encode_layers` give the two baselines of
seed 004 (section 4.2), one bipartite graph per layer, as a tuple of two-partition
MultipartiteGraphs: "rolled" (seeds 001/002: Cin*kh*kw kernel entries x Cout, an edge per kept
weight, |W|) and "rolled_channel" (Prabhu et al.: Cin x Cout, an edge where a kernel slice is not
fully pruned, weighted by its L2 norm as in the reference code). A grouped convolution is the
block-diagonal union of its groups' graphs. Linear layers are their mask in all three encodings.

All graphs are built in the C++ core from the masks (`ramcore._core.unrolled_encoding`); Python only
traces shapes and index maps. Before building, the size is estimated (`encoding_size`) and a
model/input that would not fit in `max_bytes` raises MemoryError with the estimate.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Callable, Literal, Union, cast, overload

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import Tensor, fx, nn

from .. import _core
from .._validate import available_memory
from ..multipartite import MultipartiteGraph
from .apply import masks_of
from .layers import mask_targets

__all__ = ["ENCODINGS", "EncodingSize", "encode", "encode_layers", "encoding_size"]

ENCODINGS = ("unrolled", "rolled", "rolled_channel")
_Layer = Union[nn.Linear, nn.Conv1d, nn.Conv2d]
_ENCODED = (nn.Linear, nn.Conv1d, nn.Conv2d)

# Modules and functions that act on each entry alone: the entries keep their nodes.
_ELEMENTWISE_MODULES = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish,
    nn.Sigmoid, nn.Tanh, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Softplus, nn.Softsign,
    nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.AlphaDropout,
    nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm, nn.InstanceNorm1d, nn.InstanceNorm2d,
)  # fmt: skip
_ELEMENTWISE = {
    "relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "elu", "selu", "celu", "gelu", "silu",
    "mish", "sigmoid", "sigmoid_", "tanh", "tanh_", "hardtanh", "hardtanh_", "hardswish",
    "hardsigmoid", "softplus", "softsign", "dropout", "dropout1d", "dropout2d", "batch_norm",
    "layer_norm", "group_norm", "instance_norm", "clamp", "clamp_", "clamp_min", "clamp_min_",
    "clamp_max", "clone", "contiguous", "detach", "float", "double", "half", "to",
}  # fmt: skip
_SUMS = {"add", "add_", "iadd", "sub", "sub_", "isub"}
_SCALINGS = {"mul", "mul_", "imul", "truediv", "div", "div_", "itruediv", "neg"}
_SHAPE_QUERIES = {"size", "dim", "numel"}
# Pure re-indexing: applied to the node maps themselves.
_INDEXING = {
    "flatten", "reshape", "view", "permute", "transpose", "squeeze", "unsqueeze", "getitem", "pad",
    "cat", "concat", "narrow", "unflatten", "movedim",
}  # fmt: skip
_POOLS = {
    "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "mean",
}  # fmt: skip


@dataclass(frozen=True)
class EncodingSize:
    """Size of an unrolled encoding, known before it is built (`encoding_size`).

    edges is an upper bound, exact unless pooling windows overlap or a shortcut zero-pads channels;
    bytes covers the CSR (indptr, indices, float64 weights) and the builder's working arrays."""

    nodes: int
    edges: int
    bytes: int
    partitions: tuple[tuple[str, int], ...]  # (name, nodes) in partition order


# --- masks ----------------------------------------------------------------------------------------


def _mask_table(model: nn.Module, masks: Mapping[str, Tensor] | None) -> dict[str, Tensor]:
    """Masks by weight name: `masks` as given, else the model's applied masks, else none."""
    if masks is None:
        state = masks_of(model)
        return {} if state is None else state.masks()
    if not isinstance(masks, Mapping):
        raise TypeError(
            f"masks: expected a MaskSet or a mapping weight name -> bool tensor, got {type(masks).__name__}"
        )
    layers = {
        f"{name}.weight"
        for name, m in model.named_modules()
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d))
    }
    unknown = sorted(set(masks) - layers)
    if unknown:
        raise ValueError(
            f"masks: {unknown[:3]} are not weights of Linear/Conv layers of the model "
            "(keys are names as in model.named_parameters(), e.g. 'features.0.weight')"
        )
    return dict(masks)


_Bools = npt.NDArray[np.bool_]
_Floats = npt.NDArray[np.float64]


def _layer_mask(
    name: str, module: nn.Module, masks: Mapping[str, Tensor], weighted: bool
) -> tuple[_Bools, _Floats | None]:
    """(kept, |W|) of a layer as numpy arrays (torch's threads cost more than these small reductions
    take): kept from its mask, or weight != 0 without one. A weighted encoding also drops kept
    weights that are exactly zero (eq. 4 lists the edges with W != 0)."""
    weight = cast(Tensor, module.weight).detach().cpu().numpy()
    mask = masks.get(f"{name}.weight")
    if mask is None:
        keep = weight != 0
    else:
        if not isinstance(mask, Tensor) or tuple(mask.shape) != weight.shape:
            got = tuple(mask.shape) if isinstance(mask, Tensor) else type(mask).__name__
            raise ValueError(
                f"masks[{name + '.weight'!r}]: expected a tensor of shape {weight.shape}, got {got}"
            )
        m = mask.detach().cpu().numpy()
        if m.dtype != np.bool_ and not np.isin(m, (0, 1)).all():
            raise ValueError(f"masks[{name + '.weight'!r}]: a {mask.dtype} mask must hold only 0 and 1")
        keep = m != 0
    if not weighted:
        return keep, None
    absw = np.abs(weight).astype(np.float64)
    return keep & (absw != 0), absw


# --- values flowing through the trace -------------------------------------------------------------


@dataclass(eq=False)
class _Nodes:
    """An activation whose entries are graph nodes. `map` (K, *shape) holds node + 1 for each of the
    K slots of every entry (0: no node, the constant zero of padding). K > 1 after pooling: each
    entry stands for the window of nodes it pools (appendix C)."""

    map: Tensor
    halo: Tensor | None = None  # network input only: the padded grid (1, C, H + t + b, W + l + r)
    halo_pad: tuple[int, int, int, int] = (0, 0, 0, 0)  # (top, bottom, left, right)


@dataclass(eq=False)
class _Term:
    """The edges one layer (or one identity shortcut) sends into a partition: a convolution piece
    of the core, without the partition's offset."""

    name: str
    source: Tensor  # (K, C, H, W) node + 1 map of the grid the kernel slides over
    out: tuple[int, int, int]  # (channels, height, width)
    mask: _Bools  # (out, in / groups, kh, kw)
    weight: _Floats | None  # |W|, same shape
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    pad: tuple[int, int] = (0, 0)  # (top, left); bottom/right follow from `out`
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    identity: bool = False

    def edge_bound(self) -> int:
        """Edges of this term if every slot held a node (exact for plain layers): for each kernel
        tap, the output positions whose input position lies inside the grid."""
        _, _, h, w = self.source.shape
        hits = []
        for n, size, k, s, p, d in zip(
            self.out[1:], (h, w), self.kernel, self.stride, self.pad, self.dilation
        ):
            pos = np.arange(n)[:, None] * s - p + np.arange(k)[None, :] * d  # (outputs, taps)
            hits.append(((pos >= 0) & (pos < size)).sum(axis=0))
        taps = self.mask.sum(axis=(0, 1))
        return int(self.source.shape[0]) * int(round(float((taps * np.outer(*hits)).sum())))


@dataclass(eq=False)
class _Pending:
    """A layer output, possibly with residual terms added, whose partition is created when first
    read. `single`: read along one chain of elementwise ops only, so it may join a residual sum."""

    shape: tuple[int, ...]
    terms: list[_Term]
    name: str
    single: bool = True
    nodes: _Nodes | None = None


@dataclass(eq=False)
class _Input:
    """The network input; its partition is created when first read (padded for a convolution)."""

    shape: tuple[int, ...]
    nodes: _Nodes | None = None


_Value = (_Nodes, _Pending, _Input)


def _unsupported(what: str) -> NotImplementedError:
    return NotImplementedError(
        f"encode: cannot encode {what}. Supported: Conv1d/Conv2d/Linear layers, max/average/adaptive "
        "pooling and mean, normalisation, activations, dropout, flatten/view/reshape/permute, slicing, "
        "zero padding, cat, and sums of activations (residual connections)"
    )


# --- pooling windows (appendix C) -----------------------------------------------------------------


def _pair(v: Any) -> tuple[int, int]:
    return (int(v[0]), int(v[1])) if isinstance(v, (tuple, list)) else (int(v), int(v))


def _pool_out(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's pooling output size."""
    span = n + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= n + p:  # the last window must start inside the input
        out -= 1
    return out


def _windows(m: Tensor, kernel: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: bool) -> Tensor:
    """(K, C, H, W) map -> (kh*kw*K, C, OH, OW): every pooled entry lists the nodes of its window."""
    k, s, p, d = (
        _pair(kernel),
        _pair(kernel if stride is None or stride == [] else stride),
        _pair(padding),
        _pair(dilation),
    )
    _, _, h, w = m.shape
    out = [_pool_out(n, *a, ceil_mode) for n, a in zip((h, w), zip(k, s, p, d))]
    span = [d[i] * (k[i] - 1) + 1 for i in range(2)]
    reach = [(out[i] - 1) * s[i] + span[i] for i in range(2)]  # padded rows/columns the windows read
    m = F.pad(m, (p[1], max(0, reach[1] - w - p[1]), p[0], max(0, reach[0] - h - p[0])))
    win = m.unfold(2, span[0], s[0])[..., :: d[0]]  # (K, C, OH', W', kh)
    win = win.unfold(3, span[1], s[1])[..., :: d[1]]  # (K, C, OH', OW', kh, kw)
    win = win[:, :, : out[0], : out[1]]
    return win.permute(4, 5, 0, 1, 2, 3).reshape(-1, m.shape[1], out[0], out[1])


def _adaptive_windows(m: Tensor, output_size: Any) -> Tensor:
    """Adaptive pooling windows (start = floor(i n / o), end = ceil((i + 1) n / o), as PyTorch)."""
    _, c, h, w = m.shape
    size = output_size if isinstance(output_size, (tuple, list)) else (output_size, output_size)
    out = [n if o is None else int(o) for n, o in zip((h, w), size)]

    def index(n: int, o: int) -> Tensor:
        bounds = [((i * n) // o, -(-((i + 1) * n) // o)) for i in range(o)]
        width = max(b - a for a, b in bounds)
        idx = torch.full((o, width), n, dtype=torch.long)  # n: the zero row appended below
        for i, (a, b) in enumerate(bounds):
            idx[i, : b - a] = torch.arange(a, b)
        return idx.to(m.device)

    ih, iw = index(h, out[0]), index(w, out[1])
    g = F.pad(m, (0, 1, 0, 1))[:, :, ih[:, :, None, None], iw[None, None, :, :]]  # (K, C, OH, wh, OW, ww)
    return g.permute(3, 5, 0, 1, 2, 4).reshape(-1, c, out[0], out[1])


def _pool2d(m: Tensor, one_d: bool, fn: Callable[[Tensor], Tensor]) -> Tensor:
    """Apply a 2-d window function to a (K, C, H, W) map, or to (K, C, L) as (K, C, 1, L)."""
    if one_d:
        return fn(m.unsqueeze(2)).squeeze(2)
    return fn(m)


def _max_pool_args(
    input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
    ceil_mode: bool = False, return_indices: bool = False,
) -> tuple[Any, Any, Any, Any, bool, bool]:  # fmt: skip
    return kernel_size, stride, padding, dilation, ceil_mode, return_indices


def _avg_pool_args(
    input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
    count_include_pad: bool = True, divisor_override: Any = None,
) -> tuple[Any, Any, Any, Any, bool, bool]:  # fmt: skip
    return kernel_size, stride, padding, 1, ceil_mode, False


def _adaptive_args(input: Any, output_size: Any, return_indices: bool = False) -> tuple[Any, bool]:
    return output_size, return_indices


def _mean_args(input: Any, dim: Any = None, keepdim: bool = False, dtype: Any = None) -> tuple[Any, bool]:
    return dim, keepdim


# --- the trace ------------------------------------------------------------------------------------


def _trace(model: nn.Module) -> fx.GraphModule:
    try:
        return fx.symbolic_trace(model)
    except Exception as err:  # fx raises many types (TraceError, TypeError, ...)
        raise NotImplementedError(
            f"encode: torch.fx cannot trace {type(model).__name__} ({type(err).__name__}: {err}); "
            "encode needs a forward pass without data-dependent control flow"
        ) from err


class _Encoder:
    """Interprets the fx graph on node maps, creating partitions and convolution pieces. With
    meta=True the maps are shapes only: sizes are counted and nothing is allocated."""

    def __init__(
        self,
        gm: fx.GraphModule,
        input_shape: tuple[int, ...],
        masks: Mapping[str, Tensor],
        weighted: bool,
        pad_input: bool,
        meta: bool,
        cache: dict[str, tuple[_Bools, _Floats | None]],
    ) -> None:
        self.gm = gm
        self.modules = dict(gm.named_modules())
        self.input_shape = input_shape
        self.masks = masks
        self.weighted = weighted
        self.pad_input = pad_input
        self.device = torch.device("meta" if meta else "cpu")
        self.cache = cache
        self.names: list[str] = []
        self.sizes: list[int] = []
        self.pieces: list[dict[str, Any]] = []
        self.layers: list[str] = []  # Conv/Linear modules in the order the forward pass calls them
        self.num_nodes = 0
        self.edges = 0
        self.work_bytes = 0

    # -- partitions and pieces --
    def partition(self, name: str, shape: tuple[int, ...]) -> _Nodes:
        n = math.prod(shape)
        start, self.num_nodes = self.num_nodes, self.num_nodes + n
        self.names.append(name)
        self.sizes.append(n)
        self.work_bytes += 8 * n  # the map itself
        return _Nodes(torch.arange(start + 1, start + n + 1, device=self.device).view(1, *shape))

    def nodes(self, v: Any, pads: tuple[int, int, int, int] | None = None) -> _Nodes:
        """The nodes of a traced value, creating its partition on first use."""
        if isinstance(v, _Nodes):
            return v
        if isinstance(v, _Input):
            return self.input_nodes(v, pads)
        if isinstance(v, _Pending):
            if v.nodes is None:
                offset = self.num_nodes
                v.nodes = self.partition(v.name, v.shape)
                for term in v.terms:
                    self.add_piece(term, offset)
            return v.nodes
        raise TypeError(f"not an activation: {type(v).__name__}")

    def input_nodes(self, v: _Input, pads: tuple[int, int, int, int] | None) -> _Nodes:
        if v.nodes is None:
            if pads is not None and any(pads) and self.pad_input:
                t, b, l, r = pads
                c, h, w = v.shape if len(v.shape) == 3 else (v.shape[0], 1, v.shape[1])
                grid = self.partition("input", (c, h + t + b, w + l + r)).map
                inner = grid[:, :, t : t + h, l : l + w].reshape(1, *v.shape)
                v.nodes = _Nodes(inner, halo=grid, halo_pad=pads)
            else:
                v.nodes = self.partition("input", v.shape)
        return v.nodes

    def add_piece(self, term: _Term, out_offset: int) -> None:
        k, c, h, w = term.source.shape
        self.edges += term.edge_bound()
        self.work_bytes += int(term.mask.sum()) * (24 if self.weighted else 16)  # the core's taps
        piece: dict[str, Any] = {
            "in_channels": c, "in_height": h, "in_width": w,
            "out_channels": term.out[0], "out_height": term.out[1], "out_width": term.out[2],
            "kernel_h": term.kernel[0], "kernel_w": term.kernel[1],
            "stride_h": term.stride[0], "stride_w": term.stride[1],
            "pad_top": term.pad[0], "pad_left": term.pad[1],
            "dilation_h": term.dilation[0], "dilation_w": term.dilation[1],
            "groups": term.groups, "out_offset": out_offset,
        }  # fmt: skip
        flat = term.source.reshape(k, c * h * w)
        if self.device.type == "meta":
            self.work_bytes += 0 if k == 1 else 24 * flat.numel()  # inverse map, worst case
            return
        piece["mask"] = np.ascontiguousarray(term.mask).view(np.uint8)
        piece["weight"] = term.weight
        first = int(flat[0, 0])
        if k == 1 and first > 0 and torch.equal(flat[0], torch.arange(first, first + flat.shape[1])):
            piece["in_offset"] = first - 1  # entry e is node first - 1 + e
        else:  # inverse map: per source node, the entries (window slots) it feeds
            f = flat.numpy()
            slot, entry = np.nonzero(f)
            if entry.size == 0:
                return  # only constants: no edges
            node = f[slot, entry] - 1
            order = np.lexsort((entry, node))
            node, entry = node[order], entry[order].astype(np.int64)
            lo, hi = int(node[0]), int(node[-1]) + 1
            ptr = np.zeros(hi - lo + 1, np.int64)
            np.cumsum(np.bincount(node - lo, minlength=hi - lo), out=ptr[1:])
            piece.update(src_begin=lo, src_end=hi, inv_ptr=ptr, inv_entries=entry)
        self.pieces.append(piece)

    # -- layers --
    def layer(self, name: str, module: _Layer, x: Any) -> _Pending:
        if name not in self.cache:
            self.cache[name] = _layer_mask(name, module, self.masks, self.weighted)
        keep, absw = self.cache[name]
        self.layers.append(name)
        if isinstance(module, nn.Linear):
            src = self.nodes(x).map
            if src.dim() != 2:
                raise _unsupported(
                    f"Linear layer {name!r} on a {tuple(src.shape[1:])} input (needs (features,))"
                )
            o, i = keep.shape
            if src.shape[1] != i:  # what the forward pass would refuse (a pooled map may still reshape)
                raise ValueError(
                    f"encode: Linear layer {name!r} takes {i} features but receives {src.shape[1]} "
                    f"for this input_shape; check input_shape"
                )
            weight = None if absw is None else absw.reshape(o, i, 1, 1)
            term = _Term(
                name, src.reshape(-1, i, 1, 1), (o, 1, 1), mask=keep.reshape(o, i, 1, 1), weight=weight
            )
            return _Pending((o,), [term], name)
        if module.padding_mode != "zeros":
            raise _unsupported(f"{name!r} with padding_mode={module.padding_mode!r} (only 'zeros')")
        one_d = isinstance(module, nn.Conv1d)
        kernel = (1, module.kernel_size[0]) if one_d else _pair(module.kernel_size)
        stride = (1, module.stride[0]) if one_d else _pair(module.stride)
        dilation = (1, module.dilation[0]) if one_d else _pair(module.dilation)
        if isinstance(module.padding, str):  # "valid": none; "same": d (k - 1) in all, PyTorch's split
            totals = [d * (k - 1) if module.padding == "same" else 0 for k, d in zip(kernel, dilation)]
            t, b, l, r = (n for total in totals for n in (total // 2, total - total // 2))
        else:
            ph, pw = (0, int(module.padding[0])) if one_d else _pair(module.padding)
            t, b, l, r = ph, ph, pw, pw
        nodes = self.nodes(x, (t, b, l, r))
        src = nodes.map.unsqueeze(2) if one_d else nodes.map
        if src.dim() != 4 or src.shape[1] != module.in_channels:
            raise _unsupported(
                f"{type(module).__name__} {name!r} on an input of shape {tuple(nodes.map.shape[1:])}"
            )
        if nodes.halo is not None:  # the network input: its padding nodes are part of the grid
            ht, hb, hl, hr = nodes.halo_pad
            src = F.pad(nodes.halo, (l - hl, r - hr, t - ht, b - hb))
            t = b = l = r = 0
        h, w = src.shape[2] + t + b, src.shape[3] + l + r
        out_hw = [(n - d * (k - 1) - 1) // s + 1 for n, k, s, d in zip((h, w), kernel, stride, dilation)]
        if min(out_hw) < 1:
            raise ValueError(f"encode: input of {name!r} ({tuple(src.shape[2:])}) is smaller than its kernel")
        o = module.out_channels
        mask = keep[:, :, None] if one_d else keep
        weight = None if absw is None else (absw[:, :, None] if one_d else absw)
        term = _Term(
            name,
            src,
            (o, out_hw[0], out_hw[1]),
            mask,
            weight,
            kernel,
            stride,
            (t, l),
            dilation,
            module.groups,
        )
        return _Pending((o, out_hw[1]) if one_d else (o, *out_hw), [term], name)

    def identity(self, name: str, x: _Nodes) -> _Term:
        """A shortcut a -> a + b: a depthwise 1x1 convolution with unit weights."""
        m = x.map
        c = m.shape[1]
        src = m.reshape(m.shape[0], c, *((m.shape[2] if m.dim() > 2 else 1), -1))
        ones = np.ones((c, 1, 1, 1), dtype=np.bool_)
        out = (c, int(src.shape[2]), int(src.shape[3]))
        return _Term(name, src, out, ones, None, groups=c, identity=True)

    def residual(self, name: str, a: Any, b: Any) -> _Pending:
        shapes = {self.shape(v)[1:] for v in (a, b)}
        if len(shapes) != 1:
            raise _unsupported(f"the sum {name!r} of activations of different shapes {sorted(shapes)}")
        terms: list[_Term] = []
        for v in (a, b):
            if isinstance(v, _Pending) and v.single and v.nodes is None:
                terms += v.terms  # the residual joins this layer's partition (section 3.2)
            else:
                terms.append(self.identity(name, self.nodes(v)))
        main = next((t.name for t in terms if not t.identity), name)
        return _Pending(shapes.pop(), terms, main)

    # -- pooling --
    def pool(self, what: str, kind: str, x: Any, *args: Any, **kwargs: Any) -> _Nodes:
        m = self.nodes(x).map
        if kind == "mean":
            dim, keepdim = _mean_args(x, *args, **kwargs)
            dims = sorted(
                {d % m.dim() for d in ((dim,) if isinstance(dim, int) else dim or range(1, m.dim()))}
            )
            if 0 in dims:
                raise _unsupported(f"{what}: a mean over the batch dimension")
            rest = [d for d in range(1, m.dim()) if d not in dims]
            g = m.permute(0, *dims, *rest).reshape(-1, *[m.shape[d] for d in rest])
            for d in dims if keepdim else ():
                g = g.unsqueeze(d)
            return _Nodes(g)
        one_d = kind.endswith("1d")
        if m.dim() != (3 if one_d else 4):
            raise _unsupported(f"{what} on an input of shape {tuple(m.shape[1:])}")
        if kind.startswith("adaptive"):
            size, indices = _adaptive_args(x, *args, **kwargs)
            size = (1, size[0] if isinstance(size, (tuple, list)) else size) if one_d else size
            fn: Callable[[Tensor], Tensor] = lambda t: _adaptive_windows(t, size)  # noqa: E731
        else:
            parse = _max_pool_args if kind.startswith("max") else _avg_pool_args
            k, s, p, d, ceil_mode, indices = parse(x, *args, **kwargs)
            if one_d:
                k, s, p, d = (
                    (1, _pair(k)[0]),
                    (1, _pair(k if s is None else s)[0]),
                    (0, _pair(p)[0]),
                    (1, _pair(d)[0]),
                )
            fn = lambda t: _windows(t, k, s, p, d, ceil_mode)  # noqa: E731
        if indices:
            raise _unsupported(f"{what} with return_indices=True")
        return _Nodes(_pool2d(m, one_d, fn))

    # -- interpretation --
    def shape(self, v: Any) -> tuple[int, ...]:
        """Shape of a traced value with its batch axis (K slots for node maps, 1 otherwise)."""
        if isinstance(v, _Nodes):
            return tuple(v.map.shape)
        return (1, *v.shape)

    def run(self) -> None:
        env: dict[fx.Node, Any] = {}
        placeholders = 0
        for node in self.gm.graph.nodes:
            if node.op == "placeholder":
                if placeholders == 0:
                    env[node] = _Input(self.input_shape)
                elif node.args:  # optional argument: its default
                    env[node] = node.args[0]
                else:
                    raise _unsupported(f"a model with more than one input ({node.name!r})")
                placeholders += 1
            elif node.op == "get_attr":  # a parameter or buffer used directly: a constant
                obj: Any = self.gm
                for part in str(node.target).split("."):
                    obj = getattr(obj, part)
                env[node] = obj
            elif node.op == "output":
                for v in _leaves(fx.node.map_arg(node.args, lambda n: env[n])):
                    if isinstance(v, _Value):
                        self.nodes(v)
            else:
                args = fx.node.map_arg(node.args, lambda n: env[n])
                kwargs = fx.node.map_arg(node.kwargs, lambda n: env[n])
                out = self.call(node, args, kwargs)
                if isinstance(out, _Pending):
                    out.single = out.single and len(node.users) == 1
                env[node] = out
        if not self.layers:
            raise ValueError("encode: the forward pass reaches no Conv1d/Conv2d/Linear layer")

    def call(self, node: fx.Node, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if node.op == "call_module":
            return self.call_module(str(node.target), self.modules[str(node.target)], args, kwargs)
        if node.op == "call_method":
            name = str(node.target)

            def fn(obj: Any, *a: Any, **k: Any) -> Any:
                return getattr(obj, name)(*a, **k)

        else:
            fn = node.target  # type: ignore[assignment]
            name = getattr(fn, "__name__", str(fn))
        traced = [v for v in _leaves((args, kwargs)) if isinstance(v, _Value)]
        if not traced:  # arithmetic on sizes, constants
            return fn(*args, **kwargs)
        what = f"{node.op} {name!r} (fx node {node.name!r})"
        first = args[0] if args else None
        if name in _ELEMENTWISE and isinstance(first, _Value) and len(traced) == 1:
            return first
        if name in _SUMS:
            if len(traced) == 2:
                return self.residual(node.name, *traced)
            return traced[0]
        if name in _SCALINGS and (len(traced) == 1 or all(v is traced[0] for v in traced)):
            return traced[0]
        if name in _SHAPE_QUERIES or (name == "getattr" and len(args) == 2 and args[1] in ("shape", "ndim")):
            proxy = torch.empty(self.shape(first), device="meta")
            return fn(proxy, *args[1:], **kwargs)
        if name in _INDEXING:
            return self.index(what, name, fn, args, kwargs)
        if name in _POOLS:
            return self.pool(what, name, *args, **kwargs)
        raise _unsupported(what)

    def call_module(
        self, target: str, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        what = f"module {target!r} ({type(module).__name__})"
        if isinstance(module, _ENCODED):
            return self.layer(target, module, args[0])
        if isinstance(module, _ELEMENTWISE_MODULES):
            return args[0]
        if isinstance(module, (nn.Flatten, nn.Unflatten)):
            return self.index(what, "flatten", module, args, kwargs)
        if isinstance(module, (nn.ZeroPad1d, nn.ZeroPad2d, nn.ConstantPad1d, nn.ConstantPad2d)):
            if float(module.value) != 0.0:
                raise _unsupported(f"{what}: padding with {module.value} (only zero padding)")
            return self.index(what, "pad", module, args, kwargs)
        pools: dict[type[nn.Module], str] = {
            nn.MaxPool1d: "max_pool1d", nn.MaxPool2d: "max_pool2d", nn.AvgPool1d: "avg_pool1d",
            nn.AvgPool2d: "avg_pool2d", nn.AdaptiveAvgPool1d: "adaptive_avg_pool1d",
            nn.AdaptiveAvgPool2d: "adaptive_avg_pool2d", nn.AdaptiveMaxPool1d: "adaptive_max_pool1d",
            nn.AdaptiveMaxPool2d: "adaptive_max_pool2d",
        }  # fmt: skip
        kind = pools.get(type(module))
        if kind is None:
            raise _unsupported(what)
        if kind.startswith("adaptive"):
            return self.pool(
                what, kind, args[0], module.output_size, getattr(module, "return_indices", False)
            )
        window = {name: getattr(module, name) for name in ("kernel_size", "stride", "padding", "ceil_mode")}
        if kind.startswith("max"):
            window.update(dilation=module.dilation, return_indices=module.return_indices)
        return self.pool(what, kind, args[0], **window)

    def index(self, what: str, name: str, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Nodes:
        """Apply a re-indexing op to the node maps (K slots ride on the batch axis)."""
        if name == "pad":
            mode = kwargs.get("mode", args[2] if len(args) > 2 else "constant")
            value = kwargs.get("value", args[3] if len(args) > 3 else None)
            if mode != "constant" or value not in (None, 0, 0.0):
                raise _unsupported(f"{what}: padding mode {mode!r} value {value!r} (only zero padding)")
        maps = {id(v): self.nodes(v).map for v in _leaves((args, kwargs)) if isinstance(v, _Value)}
        k = max(m.shape[0] for m in maps.values())

        def swap(v: Any) -> Any:
            if isinstance(v, _Value):
                m = maps[id(v)]
                return F.pad(m, (0, 0) * (m.dim() - 1) + (0, k - m.shape[0])) if m.shape[0] < k else m
            if isinstance(v, (list, tuple)):
                return type(v)(swap(x) for x in v)
            if isinstance(v, dict):
                return {key: swap(x) for key, x in v.items()}
            return v

        out = fn(*swap(args), **swap(kwargs))
        if not isinstance(out, Tensor) or out.dim() == 0 or out.shape[0] != k:
            raise _unsupported(
                f"{what}: it does not keep the batch axis first (use flatten(1) or view(x.size(0), -1))"
            )
        return _Nodes(out)


def _leaves(obj: Any) -> Iterator[Any]:
    if isinstance(obj, (list, tuple)):
        for x in obj:
            yield from _leaves(x)
    elif isinstance(obj, dict):
        for x in obj.values():
            yield from _leaves(x)
    elif isinstance(obj, slice):
        yield from _leaves((obj.start, obj.stop, obj.step))
    else:
        yield obj


# --- public API ----------------------------------------------------------------------------------


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
    like: _Encoder | None = None,
) -> _Encoder:
    """Run the trace: on meta tensors (sizes only), or for real reusing the graph module and layer
    masks of the meta run `like`."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    table: Mapping[str, Tensor]
    if like is None:
        gm, table, cache = _trace(model), _mask_table(model, masks), {}
    else:
        gm, table, cache = like.gm, like.masks, like.cache
    enc = _Encoder(gm, _shape(input_shape), table, weighted, pad_input, meta, cache)
    enc.run()
    return enc


def _size(enc: _Encoder) -> EncodingSize:
    index = 4 if max(enc.edges, enc.num_nodes) < 2**31 else 8
    csr = (enc.num_nodes + 1) * index + enc.edges * (index + 8)
    per_node = enc.num_nodes * (8 + 4)  # out-degrees, partition labels
    return EncodingSize(
        enc.num_nodes, enc.edges, csr + per_node + enc.work_bytes, tuple(zip(enc.names, enc.sizes))
    )


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


def _threads(threads: int) -> int:
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 0:
        raise ValueError(f"threads must be a non-negative int (0: all cores), got {threads!r}")
    return threads


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
    threads: int = ...,
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
    threads: int = ...,
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
    threads: int = ...,
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
    threads: int = 0,
) -> MultipartiteGraph | tuple[MultipartiteGraph, ...]:
    """Graph encoding of `model` for one input of `input_shape` (no batch axis), seed 004.

    masks: a MaskSet, a mapping weight name -> bool tensor, or None for the model's applied masks
    (`masks_of`) or, without any, its nonzero weights; a layer missing from the mapping is encoded
    from its nonzero weights. encoding: "unrolled" returns one MultipartiteGraph (see the module
    docstring); "rolled"/"rolled_channel" return one two-partition graph per Conv/Linear layer, in
    the order the forward pass calls them. weighted: edges carry |W| (eq. 4) instead of 1.
    pad_input: keep the padding nodes of the first convolution's input. max_bytes: refuse (with
    MemoryError and the estimate) an encoding larger than this; default half the available memory.
    threads: core threads (0: all).
    """
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
    threads = _threads(threads)
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
        limit = available_memory() // 2
    if size.bytes > limit:
        raise MemoryError(
            f"encode: the unrolled encoding of {type(model).__name__} on {tuple(input_shape)} needs about "
            f"{size.bytes:,} bytes ({size.nodes:,} nodes, up to {size.edges:,} edges), over the limit of "
            f"{limit:,} bytes (max_bytes); use a smaller input or sparser masks"
        )
    enc = _plan(model, input_shape, masks, bool(weighted), pad_input, meta=False, like=plan)
    adjacency = _csr(_core.unrolled_encoding(enc.num_nodes, enc.pieces, bool(weighted), threads))
    partition = np.repeat(np.arange(len(enc.sizes), dtype=np.int32), enc.sizes)
    return MultipartiteGraph(adjacency, partition, tuple(enc.names), "unrolled", bool(weighted))


def _rolled(
    name: str,
    module: nn.Module,
    keep: _Bools,
    absw: _Floats | None,
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
    threads: int = 0,
) -> tuple[MultipartiteGraph, ...]:
    """The rolled baselines of seed 004 without an input: one two-partition MultipartiteGraph
    (names ("input", layer)) per Linear/Conv layer, in `model.named_parameters()` order.

    "rolled": rows Cin*prod(kernel) (entry (c, ky, kx) is node (c*kh + ky)*kw + kx), columns Cout,
    an edge per kept weight, |W| when weighted. "rolled_channel": rows Cin, columns Cout, an edge
    where the kernel slice W[o, c] is not fully pruned, its L2 norm when weighted."""
    if encoding not in ("rolled", "rolled_channel"):
        raise ValueError(f"encode_layers: encoding must be 'rolled' or 'rolled_channel', got {encoding!r}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    threads = _threads(threads)
    table = _mask_table(model, masks)
    graphs = []
    for t in mask_targets(model, kinds=("linear", "conv")):
        module = model.get_submodule(t.module)
        keep, absw = _layer_mask(t.module, module, table, bool(weighted))
        graphs.append(_rolled(t.module, module, keep, absw, encoding, bool(weighted), threads))
    return tuple(graphs)
