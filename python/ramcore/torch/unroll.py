"""The unrolled, input-aware multipartite graph encoding of a network (seed 004, sections 3.1-3.2).

`Unroller` interprets a model's torch.fx graph on node maps: one node per input activation and per
output activation of every Conv1d/Conv2d/Linear layer, an edge wherever an unmasked kernel entry
joins an input to an output during the convolution (eq. 3). The trace follows activations through
normalisation, activation functions, dropout, flatten/view/reshape/permute, slicing, zero padding
and concatenation, which create no nodes. `Partitions` collects the graph: its partitions and the
convolution pieces that the C++ core (`ramcore._core.unrolled_encoding`) turns into edges.
Design decisions:

- Padding nodes. Seed 004's L_i counts the padding of a layer's input (footnote 2), yet keeps
  `|R_i|` = `|L_{i+1}|` to join consecutive layers. Both hold only if padding positions are nodes of
  the network input and of no later layer: the input partition is the zero-padded input of the
  first convolution that reads it (C x (H + 2P) x (W + 2P), its padding nodes with out-edges only;
  `pad_input=False` drops them), while inside the network a layer's padding positions are the
  constant zero, not activations of the previous layer, and have no node (the reference code
  deletes them when it joins the layers).
- Pooling (appendix C). Pooling creates no partition: an edge of the next layer from a pooled entry
  u is replaced by edges from every node of u's pooling window. This covers max/average pooling,
  adaptive pooling (to 1x1 before the classifier in the ResNets) and `x.mean(dims)`. Overlapping
  windows can give one edge twice; it is stored once, with the sum of `|W|` when weighted.
- Residual connections (section 3.2). `a + b` of a layer output and a shortcut does not create a
  partition for the shortcut: its edges (a 1x1 downsampling convolution's, or an identity with
  weight 1, subsampled and zero-padded for He et al.'s option-A shortcut) join the block's input
  partition to the block's output partition, the partition of the layer it is added to. A layer
  output that is also used elsewhere keeps its own partition and the sum gets one, with identity
  edges from both.

Partitions are numbered in the order of the forward pass: 0 is the input ("input"), then the
output activations of each layer, named after the module (the main layer of a residual sum).

Partitions are numbered in the order of the forward pass: 0 is the input ("input"), then the
output activations of each layer, named after the module (the main layer of a residual sum).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Callable, Union, cast

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from torch import Tensor, fx, nn

from .apply import masks_of
from .pooling import (
    adaptive_args,
    adaptive_windows,
    avg_pool_args,
    max_pool_args,
    mean_args,
    pair,
    pool2d,
    windows,
)

__all__ = [
    "Input",
    "Nodes",
    "Partitions",
    "Pending",
    "Term",
    "Unroller",
    "identity_term",
    "layer_mask",
    "linear_output",
    "mask_table",
    "trace",
    "unsupported",
]

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
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


# --- masks ----------------------------------------------------------------------------------------


def mask_table(model: nn.Module, masks: Mapping[str, Tensor] | None) -> dict[str, Tensor]:
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


def layer_mask(
    name: str, module: nn.Module, masks: Mapping[str, Tensor], weighted: bool
) -> tuple[BoolArray, FloatArray | None]:
    """(kept, `|W|`) of a layer as numpy arrays (torch's threads cost more than these small reductions
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
class Nodes:
    """An activation whose entries are graph nodes. `map` `(K, *shape)` holds node + 1 for each of the
    K slots of every entry (0: no node, the constant zero of padding). K > 1 after pooling: each
    entry stands for the window of nodes it pools (appendix C)."""

    map: Tensor
    halo: Tensor | None = None  # network input only: the padded grid (1, C, H + t + b, W + l + r)
    halo_pad: tuple[int, int, int, int] = (0, 0, 0, 0)  # (top, bottom, left, right)


@dataclass(eq=False)
class Term:
    """The edges one layer (or one identity shortcut) sends into a partition: a convolution piece
    of the core, without the partition's offset."""

    name: str
    source: Tensor  # (K, C, H, W) node + 1 map of the grid the kernel slides over
    out: tuple[int, int, int]  # (channels, height, width)
    mask: BoolArray  # (out, in / groups, kh, kw)
    weight: FloatArray | None  # |W|, same shape
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
class Pending:
    """A layer output, possibly with residual terms added, whose partition is created when first
    read. `single`: read along one chain of elementwise ops only, so it may join a residual sum."""

    shape: tuple[int, ...]
    terms: list[Term]
    name: str
    single: bool = True
    nodes: Nodes | None = None


@dataclass(eq=False)
class Input:
    """The network input; its partition is created when first read (padded for a convolution)."""

    shape: tuple[int, ...]
    nodes: Nodes | None = None


_Value = (Nodes, Pending, Input)


def unsupported(what: str) -> NotImplementedError:
    """The error for a layer or operation the encoding cannot follow, listing what it can."""
    return NotImplementedError(
        f"encode: cannot encode {what}. Supported: Conv1d/Conv2d/Linear layers, max/average/adaptive "
        "pooling and mean, normalisation, activations, dropout, flatten/view/reshape/permute, slicing, "
        "zero padding, cat, and sums of activations (residual connections)"
    )


# --- the trace ------------------------------------------------------------------------------------


def trace(model: nn.Module) -> fx.GraphModule:
    """The torch.fx graph of `model`; NotImplementedError when fx cannot trace it."""
    try:
        return fx.symbolic_trace(model)
    except Exception as err:  # fx raises many types (TraceError, TypeError, ...)
        raise NotImplementedError(
            f"encode: torch.fx cannot trace {type(model).__name__} ({type(err).__name__}: {err}); "
            "encode needs a forward pass without data-dependent control flow"
        ) from err


class Partitions:
    """The graph under construction: partitions of nodes and the convolution pieces of the core
    that join them. With meta=True node maps are shapes only: sizes are counted and nothing is
    allocated."""

    def __init__(self, weighted: bool, pad_input: bool, meta: bool) -> None:
        self.weighted = weighted
        self.pad_input = pad_input
        self.device = torch.device("meta" if meta else "cpu")
        self.names: list[str] = []
        self.sizes: list[int] = []
        self.pieces: list[dict[str, Any]] = []
        self.num_nodes = 0
        self.edges = 0
        self.work_bytes = 0

    def partition(self, name: str, shape: tuple[int, ...]) -> Nodes:
        n = math.prod(shape)
        start, self.num_nodes = self.num_nodes, self.num_nodes + n
        self.names.append(name)
        self.sizes.append(n)
        self.work_bytes += 8 * n  # the map itself
        return Nodes(torch.arange(start + 1, start + n + 1, device=self.device).view(1, *shape))

    def nodes(self, v: Any, pads: tuple[int, int, int, int] | None = None) -> Nodes:
        """The nodes of a traced value, creating its partition on first use."""
        if isinstance(v, Nodes):
            return v
        if isinstance(v, Input):
            return self.input_nodes(v, pads)
        if isinstance(v, Pending):
            if v.nodes is None:
                offset = self.num_nodes
                v.nodes = self.partition(v.name, v.shape)
                for term in v.terms:
                    self.add_piece(term, offset)
            return v.nodes
        raise TypeError(f"not an activation: {type(v).__name__}")

    def input_nodes(self, v: Input, pads: tuple[int, int, int, int] | None) -> Nodes:
        if v.nodes is None:
            if pads is not None and any(pads) and self.pad_input:
                t, b, l, r = pads
                c, h, w = v.shape if len(v.shape) == 3 else (v.shape[0], 1, v.shape[1])
                grid = self.partition("input", (c, h + t + b, w + l + r)).map
                inner = grid[:, :, t : t + h, l : l + w].reshape(1, *v.shape)
                v.nodes = Nodes(inner, halo=grid, halo_pad=pads)
            else:
                v.nodes = self.partition("input", v.shape)
        return v.nodes

    def add_piece(self, term: Term, out_offset: int) -> None:
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


def identity_term(name: str, x: Nodes) -> Term:
    """A shortcut a -> a + b: a depthwise 1x1 convolution with unit weights."""
    m = x.map
    c = m.shape[1]
    src = m.reshape(m.shape[0], c, *((m.shape[2] if m.dim() > 2 else 1), -1))
    ones = np.ones((c, 1, 1, 1), dtype=np.bool_)
    out = (c, int(src.shape[2]), int(src.shape[3]))
    return Term(name, src, out, ones, None, groups=c, identity=True)


def linear_output(name: str, keep: BoolArray, absw: FloatArray | None, src: Tensor) -> Pending:
    """A Linear layer's output on the node map `src` (K, features): its mask as a 1x1 convolution piece."""
    o, i = keep.shape
    if src.dim() != 2 and src.shape[-1] != i:  # the forward pass itself would fail: a wrong input_shape
        raise ValueError(
            f"encode: Linear layer {name!r} takes {i} features but receives an input of shape "
            f"{tuple(src.shape[1:])} for this input_shape; check input_shape"
        )
    if src.dim() != 2:
        raise unsupported(
            f"Linear layer {name!r} on a {tuple(src.shape[1:])} input (needs (features,): check input_shape)"
        )
    if src.shape[1] != i:  # what the forward pass would refuse (a pooled map may still reshape)
        raise ValueError(
            f"encode: Linear layer {name!r} takes {i} features but receives {src.shape[1]} "
            f"for this input_shape; check input_shape"
        )
    weight = None if absw is None else absw.reshape(o, i, 1, 1)
    term = Term(name, src.reshape(-1, i, 1, 1), (o, 1, 1), mask=keep.reshape(o, i, 1, 1), weight=weight)
    return Pending((o,), [term], name)


class Unroller:
    """Interprets the fx graph of a model on node maps, adding partitions and pieces to `graph`."""

    def __init__(
        self,
        gm: fx.GraphModule,
        input_shape: tuple[int, ...],
        masks: Mapping[str, Tensor],
        weighted: bool,
        pad_input: bool,
        meta: bool,
        cache: dict[str, tuple[BoolArray, FloatArray | None]],
    ) -> None:
        self.gm = gm
        self.modules = dict(gm.named_modules())
        self.input_shape = input_shape
        self.masks = masks
        self.weighted = weighted
        self.cache = cache
        self.layers: list[str] = []  # Conv/Linear modules in the order the forward pass calls them
        self.graph = Partitions(weighted, pad_input, meta)

    # -- layers --
    def layer(self, name: str, module: _Layer, x: Any) -> Pending:
        """The output of a Conv/Linear layer on the traced value x: a partition to be, fed by its term."""
        if name not in self.cache:
            self.cache[name] = layer_mask(name, module, self.masks, self.weighted)
        keep, absw = self.cache[name]
        self.layers.append(name)
        if isinstance(module, nn.Linear):
            return linear_output(name, keep, absw, self.graph.nodes(x).map)
        return self.conv(name, module, keep, absw, x)

    def conv(
        self, name: str, module: nn.Conv1d | nn.Conv2d, keep: BoolArray, absw: FloatArray | None, x: Any
    ) -> Pending:
        """A Conv1d/Conv2d layer as one convolution piece (eq. 3): stride, padding, dilation, groups."""
        if module.padding_mode != "zeros":
            raise unsupported(f"{name!r} with padding_mode={module.padding_mode!r} (only 'zeros')")
        one_d = isinstance(module, nn.Conv1d)
        kernel = (1, module.kernel_size[0]) if one_d else pair(module.kernel_size)
        stride = (1, module.stride[0]) if one_d else pair(module.stride)
        dilation = (1, module.dilation[0]) if one_d else pair(module.dilation)
        if isinstance(module.padding, str):  # "valid": none; "same": d (k - 1) in all, PyTorch's split
            totals = [d * (k - 1) if module.padding == "same" else 0 for k, d in zip(kernel, dilation)]
            t, b, l, r = (n for total in totals for n in (total // 2, total - total // 2))
        else:
            ph, pw = (0, int(module.padding[0])) if one_d else pair(module.padding)
            t, b, l, r = ph, ph, pw, pw
        nodes = self.graph.nodes(x, (t, b, l, r))
        src = nodes.map.unsqueeze(2) if one_d else nodes.map
        if src.dim() != 4 or src.shape[1] != module.in_channels:  # the forward pass would fail too
            need = "(channels, length)" if one_d else "(channels, height, width)"
            raise ValueError(
                f"encode: {type(module).__name__} {name!r} needs an input of shape {need} with "
                f"{module.in_channels} channels but receives one of shape {tuple(nodes.map.shape[1:])} "
                "for this input_shape; check input_shape"
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
        term = Term(
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
        return Pending((o, out_hw[1]) if one_d else (o, *out_hw), [term], name)

    def residual(self, name: str, a: Any, b: Any) -> Pending:
        shapes = {self.shape(v)[1:] for v in (a, b)}
        if len(shapes) != 1:
            raise unsupported(f"the sum {name!r} of activations of different shapes {sorted(shapes)}")
        terms: list[Term] = []
        for v in (a, b):
            if isinstance(v, Pending) and v.single and v.nodes is None:
                terms += v.terms  # the residual joins this layer's partition (section 3.2)
            else:
                terms.append(identity_term(name, self.graph.nodes(v)))
        main = next((t.name for t in terms if not t.identity), name)
        return Pending(shapes.pop(), terms, main)

    # -- pooling --
    def pool(self, what: str, kind: str, x: Any, *args: Any, **kwargs: Any) -> Nodes:
        m = self.graph.nodes(x).map
        if kind == "mean":
            dim, keepdim = mean_args(x, *args, **kwargs)
            dims = sorted(
                {d % m.dim() for d in ((dim,) if isinstance(dim, int) else dim or range(1, m.dim()))}
            )
            if 0 in dims:
                raise unsupported(f"{what}: a mean over the batch dimension")
            rest = [d for d in range(1, m.dim()) if d not in dims]
            g = m.permute(0, *dims, *rest).reshape(-1, *[m.shape[d] for d in rest])
            for d in dims if keepdim else ():
                g = g.unsqueeze(d)
            return Nodes(g)
        one_d = kind.endswith("1d")
        if m.dim() != (3 if one_d else 4):
            raise unsupported(f"{what} on an input of shape {tuple(m.shape[1:])}")
        if kind.startswith("adaptive"):
            size, indices = adaptive_args(x, *args, **kwargs)
            size = (1, size[0] if isinstance(size, (tuple, list)) else size) if one_d else size
            fn: Callable[[Tensor], Tensor] = lambda t: adaptive_windows(t, size)  # noqa: E731
        else:
            parse = max_pool_args if kind.startswith("max") else avg_pool_args
            k, s, p, d, ceil_mode, indices = parse(x, *args, **kwargs)
            if one_d:
                k, s, p, d = (
                    (1, pair(k)[0]),
                    (1, pair(k if s is None else s)[0]),
                    (0, pair(p)[0]),
                    (1, pair(d)[0]),
                )
            fn = lambda t: windows(t, k, s, p, d, ceil_mode)  # noqa: E731
        if indices:
            raise unsupported(f"{what} with return_indices=True")
        return Nodes(pool2d(m, one_d, fn))

    # -- interpretation --
    def shape(self, v: Any) -> tuple[int, ...]:
        """Shape of a traced value with its batch axis (K slots for node maps, 1 otherwise)."""
        if isinstance(v, Nodes):
            return tuple(v.map.shape)
        return (1, *v.shape)

    def run(self) -> None:
        env: dict[fx.Node, Any] = {}
        placeholders = 0
        for node in self.gm.graph.nodes:
            if node.op == "placeholder":
                if placeholders == 0:
                    env[node] = Input(self.input_shape)
                elif node.args:  # optional argument: its default
                    env[node] = node.args[0]
                else:
                    raise unsupported(f"a model with more than one input ({node.name!r})")
                placeholders += 1
            elif node.op == "get_attr":  # a parameter or buffer used directly: a constant
                obj: Any = self.gm
                for part in str(node.target).split("."):
                    obj = getattr(obj, part)
                env[node] = obj
            elif node.op == "output":
                for v in _leaves(fx.node.map_arg(node.args, lambda n: env[n])):
                    if isinstance(v, _Value):
                        self.graph.nodes(v)
            else:
                args = fx.node.map_arg(node.args, lambda n: env[n])
                kwargs = fx.node.map_arg(node.kwargs, lambda n: env[n])
                out = self.call(node, args, kwargs)
                if isinstance(out, Pending):
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
        raise unsupported(what)

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
                raise unsupported(f"{what}: padding with {module.value} (only zero padding)")
            return self.index(what, "pad", module, args, kwargs)
        pools: dict[type[nn.Module], str] = {
            nn.MaxPool1d: "max_pool1d", nn.MaxPool2d: "max_pool2d", nn.AvgPool1d: "avg_pool1d",
            nn.AvgPool2d: "avg_pool2d", nn.AdaptiveAvgPool1d: "adaptive_avg_pool1d",
            nn.AdaptiveAvgPool2d: "adaptive_avg_pool2d", nn.AdaptiveMaxPool1d: "adaptive_max_pool1d",
            nn.AdaptiveMaxPool2d: "adaptive_max_pool2d",
        }  # fmt: skip
        kind = pools.get(type(module))
        if kind is None:
            raise unsupported(what)
        if kind.startswith("adaptive"):
            return self.pool(
                what, kind, args[0], module.output_size, getattr(module, "return_indices", False)
            )
        window = {name: getattr(module, name) for name in ("kernel_size", "stride", "padding", "ceil_mode")}
        if kind.startswith("max"):
            window.update(dilation=module.dilation, return_indices=module.return_indices)
        return self.pool(what, kind, args[0], **window)

    def index(self, what: str, name: str, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Nodes:
        """Apply a re-indexing op to the node maps (K slots ride on the batch axis)."""
        if name == "pad":
            mode = kwargs.get("mode", args[2] if len(args) > 2 else "constant")
            value = kwargs.get("value", args[3] if len(args) > 3 else None)
            if mode != "constant" or value not in (None, 0, 0.0):
                raise unsupported(f"{what}: padding mode {mode!r} value {value!r} (only zero padding)")
        maps = {id(v): self.graph.nodes(v).map for v in _leaves((args, kwargs)) if isinstance(v, _Value)}
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
            raise unsupported(
                f"{what}: it does not keep the batch axis first (use flatten(1) or view(x.size(0), -1))"
            )
        return Nodes(out)


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
