"""Masked layers executed sparsely: `SparseLinear` (and `SparseConv1x1`, `SparseConv2d`), the
`to_sparse` / `to_dense` converters and `load_sparse`.

A masked ``nn.Linear`` costs what the dense layer costs. `SparseLinear` keeps only the kept weights
(``values``, in row-major CSR order of the mask) and multiplies with ramcore's kernels
(``cpp/src/sparse_matmul.cpp``): the forward pass Y = X Wᵀ and the backward passes dX = dY W and
dW at the kept entries only (a sampled dense-dense product), multithreaded, with results
bit-identical for any thread count. They run as two PyTorch custom operators,
``torch.ops.ramcore.sparse_linear`` and ``sparse_linear_backward`` (with fake implementations and
a registered autograd formula, so autograd and ``torch.compile`` work). On a GPU the layers run
torch's sparse CSR kernels instead (`torch_csr_linear`).

The kernels read activations in panels of 256 bytes of samples stored feature-major
(``cpp/include/ramcore/sparse_matmul.hpp`` says why); the operator packs its input into that
layout and unpacks its output (adding the bias), tiled copies that cost little next to the product.

Where sparse execution pays (docs/sparse.md has the measurements): large layers at low density.
`to_sparse` converts the layers that pass `pays` and leaves the others dense (and masked).
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator, Mapping
from typing import Any, TypeVar

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor, nn
from torch.nn.modules.conv import _ConvNd

from .. import _core
from ..validation import as_int, positive_int
from ..validation import density as check_density
from ..validation import threads as check_threads
from .apply import _masks_in_model_state, apply_masks, masks_of, remove_masks

__all__ = [
    "BACKENDS",
    "DTYPES",
    "PATTERN_BUFFERS",
    "PATTERN_WIDTHS",
    "SparseConv1x1",
    "SparseConv2d",
    "SparseLinear",
    "load_sparse",
    "panel_lanes",
    "pays",
    "sddmm",
    "sparse_linear",
    "sparse_linear_backward",
    "sparse_linear_op",
    "spmm",
    "to_dense",
    "to_sparse",
    "torch_csr_linear",
    "torch_csr_linear_backward",
]

DTYPES = (torch.float32, torch.float64)
# "auto": ramcore's kernels on the CPU, torch's CSR kernels on other devices; "torch": torch's always.
BACKENDS = ("auto", "torch")
PANEL_BYTES: int = _core.SPARSE_PANEL_BYTES
BLOCK_COLS: int = _core.SPARSE_BLOCK_COLS


def panel_lanes(dtype: torch.dtype) -> int:
    """Samples per panel of the kernels' layout for `dtype` (256 bytes of them)."""
    return PANEL_BYTES // torch.empty((), dtype=dtype).element_size()


# --- the kernels and the custom operators ----------------------------------------------------------
# spmm, sddmm and the panel copies work on tensors in the panel layout (panels, features, lanes) and
# patterns in the kernels' blocked form (`_blocked`). The two operators, sparse_linear and its
# backward, are made of them (calling them directly: a nested operator call costs ~20 us).


def _numpy(t: Tensor | None) -> Any:
    return None if t is None else t.detach().numpy()


def _blocks(cols: int, block_cols: int) -> int:
    """column_blocks(cols, block_cols) of the core: at least one block."""
    return max(1, -(-cols // block_cols))


def _rows(indptr: Tensor, cols: int, block_cols: int) -> int:
    """Rows of a blocked pattern: its indptr has _blocks(cols, block_cols) * rows + 1 entries."""
    return (indptr.shape[0] - 1) // _blocks(cols, block_cols)


def spmm(
    indptr: Tensor,
    indices: Tensor,
    values: Tensor,
    order: Tensor | None,
    panels: Tensor,
    threads: int,
    block_cols: int = BLOCK_COLS,
) -> Tensor:
    """out (panels, rows, lanes) = panels (panels, cols, lanes) times Wᵀ for W's blocked pattern
    (indptr int64, indices int32, blocks of `block_cols` columns); W's k-th stored entry is
    values[k], or values[order[k]]."""
    rows = _rows(indptr, panels.shape[1], block_cols)
    out = panels.new_empty((panels.shape[0], rows, panels.shape[2]))
    _core.sparse_spmm(
        _numpy(indptr),
        _numpy(indices),
        _numpy(values),
        _numpy(order),
        _numpy(panels),
        out.numpy(),
        rows,
        panels.shape[1],
        panels.shape[0],
        threads,
        block_cols,
    )
    return out


def sddmm(
    indptr: Tensor,
    indices: Tensor,
    a: Tensor,
    panels: Tensor,
    order: Tensor | None,
    threads: int,
    block_cols: int = BLOCK_COLS,
) -> Tensor:
    """out[k] (out[order[k]]) = sum over panels and lanes of a[:, n, :] * panels[:, indices[k], :]
    for every stored entry k of row n: the gradient of the kept weights when `a` is the output's."""
    out = a.new_empty(indices.shape)
    _core.sparse_sddmm(
        _numpy(indptr),
        _numpy(indices),
        _numpy(a),
        _numpy(panels),
        _numpy(order),
        out.numpy(),
        a.shape[1],
        panels.shape[1],
        panels.shape[0],
        threads,
        block_cols,
    )
    return out


def _pack(x: Tensor, threads: int) -> Tensor:
    """x (m, f) as panels (panels, f, lanes), the samples past m zero."""
    lanes = panel_lanes(x.dtype)
    out = x.new_empty((-(-x.shape[0] // lanes), x.shape[1], lanes))
    _core.sparse_pack(_numpy(x), out.numpy(), threads)
    return out


def _unpack(panels: Tensor, m: int, bias: Tensor | None, threads: int) -> Tensor:
    """Panels (panels, f, lanes) back as rows (m, f), plus `bias`."""
    y = panels.new_empty((m, panels.shape[1]))
    _core.sparse_unpack(_numpy(panels), _numpy(bias), y.numpy(), threads)
    return y


# W's blocked pattern and Wᵀ's, each (indptr, indices, order): what sparse_linear's ops take, with
# the patterns' block widths (the layer's attributes in PATTERN_WIDTHS).
PATTERN_BUFFERS = ("b_indptr", "b_indices", "b_order", "t_indptr", "t_indices", "t_order")
PATTERN_WIDTHS = ("block_cols", "t_block_cols")


@torch.library.custom_op("ramcore::sparse_linear", mutates_args=())
def sparse_linear_op(
    x: Tensor,
    values: Tensor,
    bias: Tensor | None,
    indptr: Tensor,
    indices: Tensor,
    order: Tensor,
    t_indptr: Tensor,
    t_indices: Tensor,
    t_order: Tensor,
    block_cols: int,
    t_block_cols: int,
    threads: int,
) -> Tensor:
    """y = x Wᵀ + bias for x (m, in_features) contiguous: (indptr, indices, order) is W's blocked
    pattern (blocks of `block_cols` columns), (t_indptr, t_indices, t_order) Wᵀ's (`t_block_cols`),
    both reading `values` (W's kept weights in CSR order) through their order. The backward pass is
    `sparse_linear_backward`."""
    if x.dim() != 2:
        raise ValueError(f"x must be 2-d (m, in_features), got shape {tuple(x.shape)}")
    rows, cols = _rows(indptr, x.shape[1], block_cols), x.shape[1]
    sizes = (indptr.shape[0] - 1, t_indptr.shape[0] - 1)
    if sizes != (_blocks(cols, block_cols) * rows, _blocks(rows, t_block_cols) * cols):
        raise ValueError(f"x has {cols} features, not the pattern's columns: x must be (m, in_features)")
    y = spmm(indptr, indices, values, order, _pack(x, threads), threads, block_cols)
    return _unpack(y, x.shape[0], bias, threads)


@sparse_linear_op.register_fake
def _(
    x: Tensor,
    values: Tensor,
    bias: Tensor | None,
    indptr: Tensor,
    indices: Tensor,
    order: Tensor,
    t_indptr: Tensor,
    t_indices: Tensor,
    t_order: Tensor,
    block_cols: int,
    t_block_cols: int,
    threads: int,
) -> Tensor:
    return x.new_empty((x.shape[0], _rows(indptr, x.shape[1], block_cols)))


@torch.library.custom_op("ramcore::sparse_linear_backward", mutates_args=())
def sparse_linear_backward(
    grad: Tensor,
    x: Tensor,
    values: Tensor,
    indptr: Tensor,
    indices: Tensor,
    order: Tensor,
    t_indptr: Tensor,
    t_indices: Tensor,
    t_order: Tensor,
    block_cols: int,
    t_block_cols: int,
    threads: int,
    input_grad: bool = True,
    weight_grad: bool = True,
) -> tuple[Tensor, Tensor]:
    """(dX, dW at the kept entries) of `sparse_linear` for the output's gradient `grad` (m, out):
    dX = dY W (spmm on Wᵀ), dW = (dYᵀ X) at the kept entries (sddmm). input_grad=False skips dX
    (a first layer's input needs none), weight_grad=False skips dW (a frozen layer): an empty
    tensor in its place."""
    g = _pack(grad.contiguous(), threads)
    grad_values = values.new_empty((0,))
    if weight_grad:
        grad_values = sddmm(indptr, indices, g, _pack(x, threads), order, threads, block_cols)
    if not input_grad:
        return x.new_empty((0,)), grad_values
    grad_x = _unpack(
        spmm(t_indptr, t_indices, values, t_order, g, threads, t_block_cols), x.shape[0], None, threads
    )
    return grad_x, grad_values


@sparse_linear_backward.register_fake
def _(
    grad: Tensor,
    x: Tensor,
    values: Tensor,
    indptr: Tensor,
    indices: Tensor,
    order: Tensor,
    t_indptr: Tensor,
    t_indices: Tensor,
    t_order: Tensor,
    block_cols: int,
    t_block_cols: int,
    threads: int,
    input_grad: bool = True,
    weight_grad: bool = True,
) -> tuple[Tensor, Tensor]:
    grad_x = torch.empty_like(x) if input_grad else x.new_empty((0,))
    return grad_x, (torch.empty_like(values) if weight_grad else values.new_empty((0,)))


def _setup(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
    x, values, bias, *pattern, block_cols, t_block_cols, threads = inputs
    ctx.save_for_backward(x, values, *pattern)
    ctx.widths = (block_cols, t_block_cols)
    ctx.threads = threads
    ctx.has_bias = bias is not None


def _backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
    x, values, *pattern = ctx.saved_tensors
    input_grad, weight_grad = bool(ctx.needs_input_grad[0]), bool(ctx.needs_input_grad[1])
    grad_x, grad_values = sparse_linear_backward(
        grad, x, values, *pattern, *ctx.widths, ctx.threads, input_grad, weight_grad
    )
    grad_bias = grad.sum(0) if ctx.has_bias and ctx.needs_input_grad[2] else None
    return (grad_x if input_grad else None), (grad_values if weight_grad else None), grad_bias, *([None] * 9)


sparse_linear_op.register_autograd(_backward, setup_context=_setup)


# --- the pattern of a mask ------------------------------------------------------------------------


def _blocked(rows: Any, cols: Any, n_rows: int, n_cols: int) -> tuple[Tensor, Tensor, Tensor, int]:
    """The kernels' blocked pattern (cpp/include/ramcore/sparse_matmul.hpp, RowPattern) of the
    entries (rows[k], cols[k]), k in CSR order: (indptr over column block x row, indices, order,
    block width), order[j] = the CSR position of stored entry j. Entries keep ascending columns
    within a segment, so a row is summed in its CSR order. The block width grows as the pattern gets
    sparser (``_core.sparse_block_cols``: a row keeps about 4 or more entries per block)."""
    width = _core.sparse_block_cols(n_rows, n_cols, len(cols))
    blocks = _blocks(n_cols, width)
    segment = cols // width * n_rows + rows
    order = np.lexsort((cols, segment))
    indptr = np.zeros(blocks * n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(segment, minlength=blocks * n_rows), out=indptr[1:])
    as_tensor = torch.from_numpy
    return (
        as_tensor(indptr),
        as_tensor(cols[order].astype(np.int32)),
        as_tensor(order.astype(np.int64)),
        int(width),
    )


def _pattern(mask: Tensor) -> tuple[dict[str, Tensor], tuple[int, int]]:
    """The buffers of a bool (out, in) mask: its CSR (indptr int64, indices int32: what is saved)
    and the kernels' blocked patterns of W and Wᵀ; and the blocked patterns' widths."""
    keep = mask.detach().cpu().numpy()
    out_f, in_f = keep.shape
    rows, cols = np.nonzero(keep)  # row-major: the order of `values`
    indptr = np.zeros(out_f + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=out_f), out=indptr[1:])
    b_indptr, b_indices, b_order, width = _blocked(rows, cols, out_f, in_f)
    t_indptr, t_indices, t_order, t_width = _blocked(cols, rows, in_f, out_f)
    return {
        "indptr": torch.from_numpy(indptr),
        "indices": torch.from_numpy(cols.astype(np.int32)),
        "b_indptr": b_indptr,
        "b_indices": b_indices,
        "b_order": b_order,
        "t_indptr": t_indptr,
        "t_indices": t_indices,
        "t_order": t_order,
    }, (width, t_width)


def _entry_rows(indptr: Tensor) -> Tensor:
    """The row of every entry of a CSR pattern."""
    return torch.repeat_interleave(torch.arange(indptr.numel() - 1, device=indptr.device), indptr.diff())


def _mask_of(indptr: Tensor, indices: Tensor, shape: tuple[int, int]) -> Tensor:
    """The bool mask of a CSR pattern (checked: a corrupt checkpoint raises)."""
    indptr, indices = indptr.to(torch.int64), indices.to(torch.int64)
    if (
        indptr.shape != (shape[0] + 1,)
        or indptr[0] != 0
        or bool((indptr.diff() < 0).any())
        or indptr[-1] != indices.numel()
        or bool(((indices < 0) | (indices >= shape[1])).any())
    ):
        raise ValueError(f"indptr/indices are not a CSR pattern of shape {shape}")
    mask = torch.zeros(shape, dtype=torch.bool)
    mask[_entry_rows(indptr), indices] = True
    return mask


def _check_mask(mask: Any, shape: tuple[int, int]) -> Tensor:
    if not isinstance(mask, Tensor):
        raise TypeError(f"mask must be a torch.Tensor of shape {shape}, got {type(mask).__name__}")
    if tuple(mask.shape) != shape:
        raise ValueError(
            f"mask must have the weight's shape (out_features, in_features) = {shape}, "
            f"got {tuple(mask.shape)}"
        )
    if mask.dtype != torch.bool:
        if bool(((mask != 0) & (mask != 1)).any()):
            raise ValueError("mask must be a bool tensor (or 0/1 values); True keeps a weight")
        mask = mask != 0
    out: Tensor = mask.cpu()
    return out


# --- the module -----------------------------------------------------------------------------------


_Dense = TypeVar("_Dense", bound=nn.Linear | _ConvNd)  # what a sparse layer converts back to
_Sparse = TypeVar("_Sparse", bound="SparseLinear")  # what a dense layer converts to


class SparseLinear(nn.Module):
    """A linear layer y = x Wᵀ + b whose weight W keeps only the entries of a fixed mask.

    Parameters: ``values`` (the kept weights, row by row) and ``bias``; buffers ``indptr`` and
    ``indices`` (W's pattern in CSR), saved in the state_dict, so a checkpoint holds values and
    structure. Build one with `SparseLinear.from_linear` or `to_sparse`; `to_linear` and `to_dense`
    go back. Inputs: float32 or float64 tensors (..., in_features) of the layer's dtype and device.
    On the CPU the layer runs ramcore's kernels; on a GPU, or with ``backend="torch"``, torch's sparse
    CSR kernels (`torch_csr_linear`). `threads` (ramcore's kernels): None uses every core (results
    never depend on it).
    """

    in_features: int
    out_features: int
    values: nn.Parameter
    bias: nn.Parameter | None
    indptr: Tensor
    indices: Tensor
    b_indptr: Tensor
    b_indices: Tensor
    b_order: Tensor
    t_indptr: Tensor
    t_indices: Tensor
    t_order: Tensor
    block_cols: int
    t_block_cols: int

    def __init__(
        self,
        in_features: int,
        out_features: int,
        mask: Tensor,
        bias: bool = True,
        *,
        threads: int | None = None,
        dtype: torch.dtype | None = None,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.backend = backend
        self.in_features = positive_int(in_features, "in_features")
        self.out_features = positive_int(out_features, "out_features")
        for name, n in (("in_features", self.in_features), ("out_features", self.out_features)):
            if n >= 2**31:  # W's and W^T's column indices are int32
                raise ValueError(f"{name} must be below 2**31 (int32 indices), got {n}")
        self.threads = threads
        check_threads(threads)
        dtype = torch.get_default_dtype() if dtype is None else dtype
        if dtype not in DTYPES:
            raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        mask = _check_mask(mask, (self.out_features, self.in_features))
        self._set_pattern(mask)
        # nn.Linear's initialisation, restricted to the kept entries.
        bound = 1 / math.sqrt(self.in_features)
        nnz = int(self.indices.numel())
        self.values = nn.Parameter(torch.empty(nnz, dtype=dtype).uniform_(-bound, bound))
        self.bias = None
        if bias:
            self.bias = nn.Parameter(torch.empty(self.out_features, dtype=dtype).uniform_(-bound, bound))

    def _set_pattern(self, mask: Tensor, device: torch.device | None = None) -> None:
        buffers, (self.block_cols, self.t_block_cols) = _pattern(mask)
        for name, buffer in buffers.items():
            # the CSR is saved; the kernels' blocked patterns of W and Wᵀ are derived from it
            self.register_buffer(name, buffer.to(device), persistent=name in ("indptr", "indices"))

    # --- conversions ---------------------------------------------------------------------------
    @classmethod
    def from_linear(cls, linear: nn.Linear, mask: Tensor, *, threads: int | None = None) -> SparseLinear:
        """The sparse version of `linear` masked by `mask` (bool, the weight's shape): the kept
        weights and the bias are copied (the weights off the mask are dropped)."""
        if not isinstance(linear, nn.Linear):
            raise TypeError(f"linear must be a torch.nn.Linear, got {type(linear).__name__}")
        w = linear.weight
        out = cls(
            linear.in_features,
            linear.out_features,
            mask,
            linear.bias is not None,
            threads=threads,
            dtype=w.dtype,
        )
        return out._take(linear)

    def _take(self: _Sparse, dense: nn.Module) -> _Sparse:
        """This layer with `dense`'s kept weights (its weight read as (out, in * kernel), the
        entries off the mask dropped), bias and training mode, on `dense`'s device: the one copy
        that from_linear and the from_conv constructors share."""
        w = dense.get_parameter("weight")
        bias = dense.bias
        with torch.no_grad():
            self.values.copy_(w.detach().cpu().reshape(w.shape[0], -1)[self.mask()])
            if isinstance(bias, Tensor):
                assert self.bias is not None
                self.bias.copy_(bias.detach())
                self.bias.requires_grad_(bias.requires_grad)  # a frozen layer stays frozen
        self.values.requires_grad_(w.requires_grad)
        self.train(dense.training)
        return self.to(w.device)

    def to_linear(self) -> nn.Linear:
        """An ``nn.Linear`` with this layer's weights (zero off the mask) and bias."""
        out = nn.Linear(
            self.in_features,
            self.out_features,
            self.bias is not None,
            dtype=self.values.dtype,
            device=self.values.device,
        )
        return self._dense_into(out)

    def _dense_into(self, out: _Dense) -> _Dense:
        """`out` (a fresh dense module of this layer's shape) with this layer's weights (zero off the
        mask, reshaped to its weight) and bias, in this layer's training mode."""
        with torch.no_grad():
            out.weight.copy_(self.weight.reshape(out.weight.shape))
            if self.bias is not None:
                assert out.bias is not None
                out.bias.copy_(self.bias.detach())
                out.bias.requires_grad_(self.bias.requires_grad)  # a frozen layer stays frozen
        out.weight.requires_grad_(self.values.requires_grad)
        out.train(self.training)
        return out

    def _scatter(self, values: Tensor) -> Tensor:
        out = values.new_zeros((self.out_features, self.in_features))
        out[_entry_rows(self.indptr), self.indices.to(torch.int64)] = values
        return out

    def mask(self) -> Tensor:
        """The bool mask (out_features, in_features)."""
        return self._scatter(torch.ones(self.values.shape, dtype=torch.bool, device=self.values.device))

    @property
    def weight(self) -> Tensor:
        """The dense weight (a new tensor, zero off the mask; not a parameter)."""
        return self._scatter(self.values.detach())

    def to_sparse_csr(self) -> Tensor:
        """The weight as a ``torch.sparse_csr`` tensor (detached values)."""
        with _quiet_csr():
            return torch.sparse_csr_tensor(
                self.indptr.clone(),
                self.indices.to(torch.int64),
                self.values.detach().clone(),
                (self.out_features, self.in_features),
                check_invariants=True,
            )

    def to_scipy(self) -> sp.csr_array:
        """The weight as a ``scipy.sparse.csr_array`` (float64 or float32, as the layer)."""
        return sp.csr_array(
            (
                self.values.detach().cpu().numpy().copy(),
                self.indices.cpu().numpy().copy(),
                self.indptr.cpu().numpy().copy(),
            ),
            shape=(self.out_features, self.in_features),
        )

    @property
    def density(self) -> float:
        """The fraction of weights kept."""
        return self.values.numel() / (self.in_features * self.out_features)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}, density={self.density:.4f}"
        )

    # --- forward -------------------------------------------------------------------------------
    def forward(self, x: Tensor) -> Tensor:
        return sparse_linear(x, self)

    def _load_from_state_dict(self, state_dict: Mapping[str, Any], prefix: str, *args: Any) -> None:
        # A checkpoint may hold another pattern (another mask): adopt its structure first.
        indptr, indices = state_dict.get(prefix + "indptr"), state_dict.get(prefix + "indices")
        if isinstance(indptr, Tensor) and isinstance(indices, Tensor):
            shape = (self.out_features, self.in_features)
            self._set_pattern(_mask_of(indptr.cpu(), indices.cpu(), shape), self.values.device)
            if self.values.shape != indices.shape:
                # The same Parameter object, resized, so an optimizer made before loading still
                # holds it (its state, of the old pattern, must be made anew: docs/sparse.md).
                self.values.data = self.values.new_empty(indices.shape)
                self.values.grad = None  # of the old pattern
        super()._load_from_state_dict(state_dict, prefix, *args)


LOW_PRECISION = (torch.float16, torch.bfloat16)


def sparse_linear(x: Tensor, layer: SparseLinear) -> Tensor:
    """`layer`'s forward pass x Wᵀ + b: on the CPU ramcore's operator (packs x into panels, runs the
    kernels, unpacks), on another device (or with backend="torch") torch's CSR kernels
    (`torch_csr_linear`). Checks what the kernels need, naming the argument and the fix."""
    values, bias = layer.values, layer.bias
    if not isinstance(x, Tensor):
        raise TypeError(f"input must be a torch.Tensor, got {type(x).__name__}")
    if x.device != values.device:
        raise ValueError(
            f"the input is on {x.device} but the layer on {values.device}: move one with .to(...)"
        )
    if values.dtype not in DTYPES:
        raise TypeError(f"SparseLinear runs in float32 or float64, the layer is {values.dtype}: use .float()")
    if x.dtype in LOW_PRECISION and torch.is_autocast_enabled(x.device.type):
        # Under autocast a dense layer before this one hands over float16/bfloat16; the sparse
        # kernels compute in the layer's own precision (as autocast does for ops it cannot lower).
        x = x.to(values.dtype)
    if x.dtype != values.dtype:
        other = f" (or the layer with .to({x.dtype}))" if x.dtype in DTYPES else ""
        raise TypeError(
            f"input dtype {x.dtype} differs from the layer's {values.dtype}: convert it with "
            f".to({values.dtype}){other}"
        )
    if x.dim() < 1 or x.shape[-1] != layer.in_features:
        want = f"(..., in_features={layer.in_features})"
        raise ValueError(f"input must have shape {want}, got {tuple(x.shape)}")
    lead = x.shape[:-1]
    x2 = x.reshape(-1, layer.in_features)
    if layer.backend == "torch" or x.device.type != "cpu":
        y: Tensor = torch_csr_linear(x2.contiguous(), values, bias, layer.indptr, layer.indices)
    else:
        threads = check_threads(layer.threads)
        pattern = [getattr(layer, name) for name in PATTERN_BUFFERS + PATTERN_WIDTHS]
        y = sparse_linear_op(x2.contiguous(), values, bias, *pattern, threads)
    return y.reshape(*lead, layer.out_features)


@contextlib.contextmanager
def _quiet_csr() -> Iterator[None]:
    """Silence torch's notices that its sparse CSR support is "beta" and how it checks invariants."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta", UserWarning)
        warnings.filterwarnings("ignore", "Sparse invariant checks are implicitly disabled", UserWarning)
        yield


def _csr(indptr: Tensor, indices: Tensor, values: Tensor, cols: int) -> Tensor:
    return torch.sparse_csr_tensor(indptr, indices.to(torch.int64), values, (indptr.numel() - 1, cols))


@torch.library.custom_op("ramcore::torch_csr_linear", mutates_args=())
def torch_csr_linear(
    x: Tensor, values: Tensor, bias: Tensor | None, indptr: Tensor, indices: Tensor
) -> Tensor:
    """x Wᵀ + b on torch's sparse CSR kernels (cuSPARSE on a GPU), W the CSR (indptr, indices,
    values): the GPU path of `SparseLinear`. A custom operator (with a fake implementation and its
    autograd registered) so that ``torch.compile(fullgraph=True)`` takes it whole. The backward pass
    is `torch_csr_linear_backward`."""
    with _quiet_csr(), torch.autocast(x.device.type, enabled=False):  # computes in the layer's dtype
        y = (_csr(indptr, indices, values, x.shape[1]) @ x.t()).t().contiguous()
    return y + bias if bias is not None else y


@torch_csr_linear.register_fake
def _(x: Tensor, values: Tensor, bias: Tensor | None, indptr: Tensor, indices: Tensor) -> Tensor:
    return x.new_empty((x.shape[0], indptr.shape[0] - 1))


@torch.library.custom_op("ramcore::torch_csr_linear_backward", mutates_args=())
def torch_csr_linear_backward(
    grad: Tensor,
    x: Tensor,
    values: Tensor,
    indptr: Tensor,
    indices: Tensor,
    input_grad: bool,
    weight_grad: bool,
) -> tuple[Tensor, Tensor]:
    """(dX, dW at the kept entries) of `torch_csr_linear`: dX = dY W by the CSR of Wᵀ, dW by
    ``torch.sparse.sampled_addmm`` (whose values come in the pattern's CSR order, the order of
    `values`); a gradient not asked for is an empty tensor."""
    grad_x, grad_values = x.new_empty((0,)), values.new_empty((0,))
    with _quiet_csr(), torch.autocast(x.device.type, enabled=False):
        if input_grad:
            w = _csr(indptr, indices, values, x.shape[1])
            grad_x = (w.t().to_sparse_csr() @ grad.t()).t().contiguous()
        if weight_grad:
            ones = _csr(indptr, indices, torch.ones_like(values), x.shape[1])
            sampled = torch.sparse.sampled_addmm(ones, grad.t().contiguous(), x, beta=0.0)
            grad_values = sampled.values().clone()
    return grad_x, grad_values


@torch_csr_linear_backward.register_fake
def _(
    grad: Tensor,
    x: Tensor,
    values: Tensor,
    indptr: Tensor,
    indices: Tensor,
    input_grad: bool,
    weight_grad: bool,
) -> tuple[Tensor, Tensor]:
    grad_x = torch.empty_like(x) if input_grad else x.new_empty((0,))
    return grad_x, (torch.empty_like(values) if weight_grad else values.new_empty((0,)))


def _csr_setup(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
    x, values, bias, indptr, indices = inputs
    ctx.save_for_backward(x, values, indptr, indices)
    ctx.has_bias = bias is not None


def _csr_backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
    x, values, indptr, indices = ctx.saved_tensors
    input_grad, weight_grad = bool(ctx.needs_input_grad[0]), bool(ctx.needs_input_grad[1])
    grad_x, grad_values = torch_csr_linear_backward(grad, x, values, indptr, indices, input_grad, weight_grad)
    grad_bias = grad.sum(0) if ctx.has_bias and ctx.needs_input_grad[2] else None
    return (grad_x if input_grad else None), (grad_values if weight_grad else None), grad_bias, None, None


torch_csr_linear.register_autograd(_csr_backward, setup_context=_csr_setup)


class SparseConv1x1(SparseLinear):
    """A 1×1 convolution (``nn.Conv1d``/``2d``/``3d`` with kernel 1, stride 1, no padding, one group)
    whose weight keeps a fixed mask: the `SparseLinear` of its channels applied at every position,
    the positions of all samples making the batch. Same parameters and buffers as `SparseLinear`;
    `from_conv` and `to_conv` convert."""

    spatial_dims: int

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        mask: Tensor,
        bias: bool = True,
        *,
        spatial_dims: int = 2,
        **kwargs: Any,
    ) -> None:
        super().__init__(in_channels, out_channels, mask, bias, **kwargs)
        if spatial_dims not in (1, 2, 3):
            raise ValueError(f"spatial_dims must be 1, 2 or 3, got {spatial_dims!r}")
        self.spatial_dims = spatial_dims

    @classmethod
    def from_conv(cls, conv: nn.Module, mask: Tensor, *, threads: int | None = None) -> SparseConv1x1:
        """The sparse version of the 1×1 convolution `conv` masked by `mask` (bool, the weight's
        shape (out, in, 1, ...) or (out, in))."""
        if _one_by_one(conv) is None:
            raise TypeError(
                "conv must be an nn.Conv1d/2d/3d with kernel 1, stride 1, no padding and one group, "
                f"got {conv!r}"
            )
        assert isinstance(conv, (nn.Conv1d, nn.Conv2d, nn.Conv3d))
        w = conv.weight
        out_c, in_c = w.shape[0], w.shape[1]
        if isinstance(mask, Tensor) and mask.dim() > 2 and tuple(mask.shape) == tuple(w.shape):
            mask = mask.reshape(out_c, in_c)
        out = cls(
            in_c, out_c, mask, conv.bias is not None, spatial_dims=w.dim() - 2, threads=threads, dtype=w.dtype
        )
        return out._take(conv)

    def to_conv(self) -> nn.Module:
        """The ``nn.Conv{1,2,3}d`` with this layer's weights (zero off the mask) and bias."""
        conv_type = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[self.spatial_dims]
        out = conv_type(
            self.in_features,
            self.out_features,
            1,
            bias=self.bias is not None,
            dtype=self.values.dtype,
            device=self.values.device,
        )
        return self._dense_into(out)

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor) or x.dim() != self.spatial_dims + 2:
            raise ValueError(
                f"input must be a tensor (batch, channels, *{self.spatial_dims} spatial dims), got "
                f"{tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__}"
            )
        if x.shape[1] != self.in_features:
            raise ValueError(f"input must have {self.in_features} channels, got shape {tuple(x.shape)}")
        return sparse_linear(x.movedim(1, -1), self).movedim(-1, 1)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", spatial_dims={self.spatial_dims}"


# A k×k convolution by unfolding (im2col) runs the sparse product on maps of at most this many
# output positions per sample and the dense convolution of the masked weight on larger ones: on
# 8 × 8 maps a 512-channel 3×3 convolution trained 1.3-1.7× faster unfolded on one thread
# (docs/sparse.md), on 16 × 16 maps 0.7-0.9× (torch's unfold, k² copies of the activations, then
# costs more than the sparse product saves).
MAX_UNFOLD_POSITIONS = 64


class SparseConv2d(SparseLinear):
    """A k×k ``nn.Conv2d`` (one group, zero padding) whose weight keeps a fixed mask, run as im2col:
    ``F.unfold`` gives every output position's k² · in_channels inputs as a row, and the layer's
    `SparseLinear` product (the flattened weight, out × in·k²) maps the rows. Maps of more than
    MAX_UNFOLD_POSITIONS output positions per sample run the dense convolution of the masked weight
    instead, where that is faster (the same result up to rounding, the same gradients for
    ``values``). Same parameters and buffers as `SparseLinear`; `from_conv` and `to_conv` convert."""

    in_channels: int
    kernel_size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        mask: Tensor,
        bias: bool = True,
        *,
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        dilation: int | tuple[int, int] = 1,
        **kwargs: Any,
    ) -> None:
        pairs = {}
        for name, value in (
            ("kernel_size", kernel_size),
            ("stride", stride),
            ("padding", padding),
            ("dilation", dilation),
        ):
            pair = (value, value) if isinstance(value, int) else tuple(value)
            low = 0 if name == "padding" else 1
            if len(pair) != 2 or not all(isinstance(v, int) and v >= low for v in pair):
                raise ValueError(f"{name} must be an int >= {low} or a pair of them, got {value!r}")
            pairs[name] = (int(pair[0]), int(pair[1]))
        in_channels = positive_int(in_channels, "in_channels")
        kh, kw = pairs["kernel_size"]
        if isinstance(mask, Tensor) and mask.dim() == 4:
            mask = mask.reshape(mask.shape[0], -1)
        super().__init__(in_channels * kh * kw, out_channels, mask, bias, **kwargs)
        self.in_channels = in_channels
        self.kernel_size = pairs["kernel_size"]
        self.stride = pairs["stride"]
        self.padding = pairs["padding"]
        self.dilation = pairs["dilation"]

    @classmethod
    def from_conv(cls, conv: nn.Module, mask: Tensor, *, threads: int | None = None) -> SparseConv2d:
        """The sparse version of the ``nn.Conv2d`` `conv` (one group, zero padding given as numbers
        or "valid") masked by `mask` (bool, the weight's shape (out, in, kh, kw) or (out, in·kh·kw))."""
        if _unfoldable(conv) is None:
            raise TypeError(
                "conv must be an nn.Conv2d with one group, padding_mode 'zeros' and numeric (or 'valid') "
                f"padding, got {conv!r}"
            )
        assert isinstance(conv, nn.Conv2d)
        w = conv.weight
        padding = (0, 0) if conv.padding == "valid" else conv.padding
        out = cls(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,  # type: ignore[arg-type]
            mask,
            conv.bias is not None,
            stride=conv.stride,  # type: ignore[arg-type]
            padding=padding,  # type: ignore[arg-type]
            dilation=conv.dilation,  # type: ignore[arg-type]
            threads=threads,
            dtype=w.dtype,
        )
        return out._take(conv)

    def to_conv(self) -> nn.Conv2d:
        """The ``nn.Conv2d`` with this layer's weights (zero off the mask) and bias."""
        out = nn.Conv2d(
            self.in_channels,
            self.out_features,
            self.kernel_size,
            stride=self.stride,
            padding=self.padding,
            dilation=self.dilation,
            bias=self.bias is not None,
            dtype=self.values.dtype,
            device=self.values.device,
        )
        return self._dense_into(out)

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor) or x.dim() != 4:
            raise ValueError(
                "input must be a tensor (batch, channels, height, width), got "
                f"{tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__}"
            )
        if x.shape[1] != self.in_channels:
            raise ValueError(f"input must have {self.in_channels} channels, got shape {tuple(x.shape)}")
        n = x.shape[0]
        size = [
            (x.shape[2 + i] + 2 * self.padding[i] - self.dilation[i] * (self.kernel_size[i] - 1) - 1)
            // self.stride[i]
            + 1
            for i in range(2)
        ]
        if min(size) < 1:
            raise ValueError(f"input of shape {tuple(x.shape)} is smaller than the kernel {self.kernel_size}")
        if size[0] * size[1] > MAX_UNFOLD_POSITIONS:
            rows = _entry_rows(self.indptr)
            flat = self.values.new_zeros((self.out_features, self.in_features))
            weight = flat.index_put((rows, self.indices.to(torch.int64)), self.values)
            shape = (self.out_features, self.in_channels, *self.kernel_size)
            y: Tensor = torch.nn.functional.conv2d(
                x, weight.reshape(shape), self.bias, self.stride, self.padding, self.dilation
            )
            return y
        cols = torch.nn.functional.unfold(  # (n, in·k², positions)
            x, self.kernel_size, dilation=self.dilation, padding=self.padding, stride=self.stride
        )
        out = sparse_linear(cols.transpose(1, 2).reshape(-1, self.in_features), self)
        return out.reshape(n, size[0], size[1], self.out_features).permute(0, 3, 1, 2)

    def extra_repr(self) -> str:
        return (
            super().extra_repr()
            + f", in_channels={self.in_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}, dilation={self.dilation}"
        )


def _unfoldable(module: nn.Module) -> tuple[int, int] | None:
    """(in·kh·kw, out) of an ``nn.Conv2d`` that `SparseConv2d` runs (one group, zero padding given
    as numbers or "valid", a kernel larger than 1×1); None for anything else."""
    if not isinstance(module, nn.Conv2d) or module.groups != 1 or module.padding_mode != "zeros":
        return None
    if module.padding == "same" or all(k == 1 for k in module.kernel_size):
        return None
    kh, kw = module.kernel_size
    return module.in_channels * kh * kw, module.out_channels


def _features(module: nn.Module) -> tuple[int, int] | None:
    """(in, out) features of the flattened weight of a layer that converts (a Linear, a 1×1
    convolution, a k×k Conv2d); None for anything else."""
    return _one_by_one(module) or _unfoldable(module)


def _one_by_one(module: nn.Module) -> tuple[int, int] | None:
    """(in, out) features of a Linear or of a 1×1 convolution that is a Linear per position; None
    for anything else."""
    if isinstance(module, nn.Linear):
        return module.in_features, module.out_features
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        ones = all(k == 1 for k in module.kernel_size) and all(t == 1 for t in module.stride)
        no_pad = module.padding == "valid" or all(p == 0 for p in module.padding)
        if ones and no_pad and module.groups == 1:
            return module.in_channels, module.out_channels
    return None


def _to_sparse_module(module: nn.Module, mask: Tensor, threads: int | None) -> SparseLinear:
    if isinstance(module, nn.Linear):
        return SparseLinear.from_linear(module, mask, threads=threads)
    if _one_by_one(module) is not None:
        return SparseConv1x1.from_conv(module, mask, threads=threads)
    return SparseConv2d.from_conv(module, mask, threads=threads)


def _to_dense_module(layer: SparseLinear) -> nn.Module:
    if isinstance(layer, (SparseConv1x1, SparseConv2d)):
        return layer.to_conv()
    return layer.to_linear()


# --- converting models ----------------------------------------------------------------------------

# Where sparse execution pays, from the measurements in docs/sparse.md ("Where it pays"): CPU time
# of a training step at batch 256, dense vs sparse, by layer size and density.
MIN_WEIGHTS = 1 << 18  # 512 x 512: smaller layers are about as fast dense (fixed costs dominate)
MAX_DENSITY = 0.20  # above, the dense kernels' higher efficiency wins (about parity at 30 %)




def pays(in_features: int, out_features: int, density: float, kernel_size: int | tuple[int, int] = 1) -> bool:
    """Whether a masked layer of this shape and density trains faster sparse, as measured
    (docs/sparse.md). A Linear or 1×1 convolution (`SparseLinear`, `SparseConv1x1`): at least
    MIN_WEIGHTS weights and density at most MAX_DENSITY. A k×k convolution (`kernel_size` > 1,
    `SparseConv2d`): never, so far. Unfolded, 256 or 512 -> 512 channels on 4 × 4 and 8 × 8 maps
    trained 1.3-1.9× faster than dense at 2-10 % on one thread, but the least loaded two-thread run
    measured 0.8-0.9× (the dense convolution uses both cores better than the unfolding does), and
    every other shape was slower; ``to_sparse(force=True)`` converts them."""
    d = check_density(density)
    weights = as_int(in_features, "in_features") * as_int(out_features, "out_features")
    kernel = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
    if any(k > 1 for k in kernel):
        return False
    return weights >= MIN_WEIGHTS and d <= MAX_DENSITY


def _replace(model: nn.Module, name: str, new: nn.Module) -> None:
    """Put `new` wherever the module at `name` sits in `model`: a module used at several places is
    one module with one set of weights, so every use gets the same replacement."""
    old = model.get_submodule(name)
    for path, module in list(model.named_modules(remove_duplicate=False)):
        if module is old and path:
            parent_name, _, attr = path.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            setattr(parent, attr, new)


def to_sparse(
    model: nn.Module,
    masks: Mapping[str, Tensor] | None = None,
    *,
    force: bool = False,
    threads: int | None = None,
) -> dict[str, str]:
    """Swap the masked ``nn.Linear`` layers of `model` for `SparseLinear` layers (masked 1×1
    convolutions for `SparseConv1x1` layers, masked k×k ``nn.Conv2d`` for `SparseConv2d`), in place.

    masks: parameter name -> bool mask (``make_masks``' `MaskSet` or any mapping); None takes the
    masks applied by `ramcore.torch.apply_masks` (none applied on a model converted already: nothing
    to do, returns {}). A layer is converted when `pays` says sparse execution is faster (or always
    with `force=True`); layers off the CPU, where that has not been measured, only with
    `force=True`. The others stay dense and masked: their masks are applied again, in the mode they
    had (given ones in the default mode). A module used at several places becomes one
    `SparseLinear` at all of them. Layers inside ``nn.MultiheadAttention`` stay dense (it reads
    their weights directly). Create the optimizer after converting: the converted layers have new
    parameters. Returns layer name -> "sparse" or why it stayed dense.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(model, nn.Linear):
        raise TypeError("model is an nn.Linear itself: use SparseLinear.from_linear(model, mask)")
    check_threads(threads)
    state = masks_of(model)
    applied: dict[str, Tensor] = state.masks() if state is not None else {}
    mode, persistent = (state.mode, state.persistent) if state is not None else ("inplace", False)
    if masks is None:
        if state is None and any(isinstance(m, SparseLinear) for m in model.modules()):
            return {}  # converted already, nothing else masked: nothing to do
        if state is None:
            raise ValueError("masks: model has no masks applied (ramcore.torch.apply_masks); pass masks=")
        masks = applied
    if not isinstance(masks, Mapping):
        raise TypeError(f"masks must map parameter names to bool tensors, got {type(masks).__name__}")
    params = dict(model.named_parameters())
    unknown = [
        n
        for n in masks
        if n not in params and n.removesuffix("_orig") not in params and n + "_orig" not in params
    ]
    if unknown:
        raise ValueError(f"masks: no parameter named {unknown} in the model")
    modules = dict(model.named_modules())
    # nn.MultiheadAttention reads its projections' weights directly: they stay dense wherever else
    # the same module is used too.
    attention = [a for a in model.modules() if isinstance(a, nn.MultiheadAttention)]
    in_attention = {id(m) for a in attention for m in a.modules()}
    plan: dict[str, str] = {}
    checked: dict[str, Tensor] = {}  # every mask checked before the model changes
    for name, module in modules.items():
        features = _features(module)
        if features is None or (name + ".weight") not in masks or isinstance(module, SparseLinear):
            continue
        weight = module.weight
        assert isinstance(weight, Tensor)
        key = name + ".weight"
        mask = masks[key]
        if not isinstance(mask, Tensor) or tuple(mask.shape) != tuple(weight.shape):
            got = tuple(mask.shape) if isinstance(mask, Tensor) else type(mask).__name__
            shape = tuple(weight.shape)
            raise ValueError(f"masks[{key!r}] must be a bool tensor of the weight's shape {shape}, got {got}")
        checked[key] = _check_mask(mask.reshape(features[1], features[0]), (features[1], features[0]))
        if id(module) in in_attention:
            plan[name] = "dense: inside nn.MultiheadAttention"
            continue
        if weight.dtype not in DTYPES:
            plan[name] = f"dense: {weight.dtype} (SparseLinear: float32 or float64)"
            continue
        if weight.device.type != "cpu" and not force:
            # `pays` is the CPU kernels' measurement; torch's CSR kernels on a GPU are unmeasured.
            plan[name] = (
                f"dense: sparse execution on {weight.device.type} is not measured to pay "
                "(benchmarks/gpu.py measures it; force=True converts)"
            )
            continue
        d = float(checked[key].count_nonzero()) / checked[key].numel()
        kernel = module.kernel_size if isinstance(module, nn.Conv2d) else (1, 1)
        if force or pays(*features, d, (int(kernel[0]), int(kernel[-1]))):
            plan[name] = "sparse"
        elif isinstance(module, nn.Conv2d) and _unfoldable(module) is not None:
            plan[name] = "dense: a k×k convolution does not pay unfolded on two cores (force=True converts)"
        else:
            plan[name] = f"dense: {features[1]}x{features[0]} at density {d:.3f} does not pay"
    if state is not None:
        remove_masks(model)
    left = {n: m for n, m in applied.items() if plan.get(n.rpartition(".")[0]) != "sparse"}
    for name, how in plan.items():
        key = name + ".weight"
        if how == "sparse":
            _replace(model, name, _to_sparse_module(modules[name], checked[key], threads))
        else:  # a layer left dense keeps (or gets) the mask it was given, in the weight's shape
            left[key] = checked[key].reshape(masks[key].shape)
    if left:
        apply_masks(model, left, mode=mode, persistent=persistent)
    return plan


def to_dense(
    model: nn.Module, *, masked: bool = True, mode: str = "inplace", persistent: bool = False
) -> dict[str, Tensor]:
    """Swap every `SparseLinear` of `model` for an ``nn.Linear`` (a `SparseConv1x1` or
    `SparseConv2d` for its convolution; weights zero off the mask), in place. masked=True applies
    the layers' masks with ``apply_masks(model, masks, mode, persistent)`` so that training keeps
    them (joining the masks already applied, in their mode). Returns the masks by parameter name."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(model, SparseLinear):
        raise TypeError("model is a SparseLinear itself: use its to_linear()")
    found = [(n, m) for n, m in model.named_modules() if isinstance(m, SparseLinear)]
    dense = {n: _to_dense_module(m) for n, m in found}
    masks = {f"{n}.weight": m.mask().reshape(dense[n].get_parameter("weight").shape) for n, m in found}
    for name, module in dense.items():
        _replace(model, name, module)
    if masked and masks:
        state = masks_of(model)
        if state is not None:
            mode, persistent = state.mode, state.persistent
        joined = {**(state.masks() if state is not None else {}), **masks}
        if state is not None:
            remove_masks(model)
        apply_masks(model, joined, mode=mode, persistent=persistent)
    return masks


def load_sparse(
    model: nn.Module,
    state_dict: Mapping[str, Any],
    *,
    masks: Mapping[str, Tensor] | None = None,
    threads: int | None = None,
) -> None:
    """Load a checkpoint of a converted model into `model` (the same architecture, dense): the
    ``nn.Linear`` layers saved as `SparseLinear` (keys ``<layer>.indptr``, ``.indices``,
    ``.values``) are converted first, with the saved structure; the layers `to_sparse` left dense get
    their masks back, from the checkpoint when it holds them (``apply_masks(..., persistent=True)``
    buffers, or mode "prune"'s ``weight_orig``/``weight_mask``, in that mode) or from `masks` (the
    default mode keeps none in the state_dict: pass the `MaskSet` or the mapping you applied; the
    converted layers' entries are ignored); then the state_dict is loaded."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if masks is not None and not isinstance(masks, Mapping):
        raise TypeError(f"masks must map parameter names to bool tensors, got {type(masks).__name__}")
    state = masks_of(model)
    applied = state.masks() if state is not None else {}
    if state is not None:  # applied before loading: re-applied below, without the converted layers
        remove_masks(model)
    converted = set()
    for name, module in list(model.named_modules()):
        prefix = f"{name}." if name else ""
        features = _features(module)
        if features is not None and prefix + "indptr" in state_dict:
            if not name:
                raise TypeError("model is a layer saved as a SparseLinear: load into a SparseLinear instead")
            shape = (features[1], features[0])
            mask = _mask_of(state_dict[prefix + "indptr"].cpu(), state_dict[prefix + "indices"].cpu(), shape)
            _replace(model, name, _to_sparse_module(module, mask, threads))
            converted.add(name)
    saved = _masks_in_model_state(state_dict)
    left = {
        n: m for n, m in {**applied, **(masks or {})}.items() if n.rpartition(".")[0] not in converted
    }
    if saved is not None:
        apply_masks(model, saved[0], mode=saved[1], persistent=saved[2], collective=False)
    elif left:
        mode, persistent = (state.mode, state.persistent) if state is not None else ("inplace", False)
        apply_masks(model, left, mode=mode, persistent=persistent, collective=False)
    model.load_state_dict(state_dict)
