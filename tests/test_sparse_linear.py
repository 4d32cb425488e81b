"""SparseLinear and its kernels against the dense masked computation (the oracle), the converters,
export, and the errors."""

from __future__ import annotations

import copy
import io

import numpy as np
import pytest

from sigint import assert_interrupted_in_core, interrupt_child, posix_signals

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from ramcore import _core  # noqa: E402
from ramcore.torch import apply_masks, make_masks, masks_of, remove_masks  # noqa: E402
from ramcore.torch.sparse import (  # noqa: E402
    PATTERN_BUFFERS,
    PATTERN_WIDTHS,
    SparseConv1x1,
    SparseConv2d,
    SparseLinear,
    load_sparse,
    panel_lanes,
    pays,
    sparse_linear_backward,
    sparse_linear_op,
    to_dense,
    to_sparse,
)

TOL = {torch.float32: 1e-5, torch.float64: 1e-12}

INTERRUPT_SETUP = """
import torch
from ramcore.torch.sparse import spmm
# a dense 4096 x 4096 pattern in the kernels' blocked form (32 column blocks of 128) times 64 panels
# of 64 samples: ~1e9 entry-panels, seconds of core work on one thread
n, block, panels, lanes = 4096, 128, 64, 64
indptr = torch.arange(0, n * n + 1, block, dtype=torch.int64)
starts = torch.arange(n // block, dtype=torch.int32).repeat_interleave(n) * block
indices = (starts[:, None] + torch.arange(block, dtype=torch.int32)).ravel()
values = torch.ones(n * n)
x = torch.ones(panels, n, lanes)
"""


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach(), b.detach()
    assert a.shape == b.shape
    if b.numel() == 0:
        return 0.0
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


def dense_oracle(layer: SparseLinear, x: torch.Tensor, grad: torch.Tensor):
    """y, dx, dW (at the kept entries, in `values` order), db of the dense masked layer."""
    mask = layer.mask()
    w = (layer.weight * mask).requires_grad_()
    b = None if layer.bias is None else layer.bias.detach().clone().requires_grad_()
    x = x.detach().clone().requires_grad_()
    y = torch.nn.functional.linear(x, w, b)
    y.backward(grad)
    return y.detach(), x.grad, w.grad[mask], None if b is None else b.grad


def check_against_dense(layer: SparseLinear, x: torch.Tensor) -> None:
    x = x.detach().clone().requires_grad_()
    y = layer(x)
    grad = torch.randn_like(y)
    y.backward(grad)
    y0, dx0, dw0, db0 = dense_oracle(layer, x, grad)
    tol = TOL[x.dtype]
    assert y.shape == y0.shape
    assert rel(y, y0) < tol
    assert rel(x.grad, dx0) < tol
    assert rel(layer.values.grad, dw0) < tol
    if db0 is not None:
        assert rel(layer.bias.grad, db0) < tol


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    "batch, in_f, out_f, density",
    [(1, 7, 5, 0.4), (3, 1, 1, 1.0), (70, 33, 65, 0.3), (129, 300, 200, 0.05), (64, 64, 64, 0.02)],
)
def test_random_masks_equal_dense(dtype, batch, in_f, out_f, density):
    gen = torch.Generator().manual_seed(batch + in_f)
    mask = torch.rand(out_f, in_f, generator=gen) < density
    mask[0, 0] = True  # at least one entry
    layer = SparseLinear(in_f, out_f, mask, dtype=dtype)
    check_against_dense(layer, torch.randn(batch, in_f, dtype=dtype, generator=gen))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_wide_blocks_and_many_panels_equal_dense(dtype):
    # at 1 % a row has ~1 entry per 128 columns: the kernels take 512-column blocks (the first of
    # them partial); a batch of 7 panels (6 and a ragged one) makes the weight gradient sum panels in
    # pairs and the last one alone
    gen = torch.Generator().manual_seed(3)
    mask = torch.rand(300, 1500, generator=gen) < 0.01
    layer = SparseLinear(1500, 300, mask, dtype=dtype)
    assert (layer.block_cols, layer.t_block_cols) == (512, 512)
    check_against_dense(layer, torch.randn(7 * panel_lanes(dtype) - 5, 1500, dtype=dtype, generator=gen))
    dense = SparseLinear(40, 30, torch.rand(30, 40, generator=gen) < 0.9, dtype=dtype)
    assert (dense.block_cols, dense.t_block_cols) == (128, 128)


def test_a_first_layer_skips_the_input_gradient():
    layer = SparseLinear(30, 20, torch.rand(20, 30, generator=torch.Generator().manual_seed(4)) < 0.3)
    x = torch.randn(6, 30)
    layer(x).sum().backward()
    y0, _, dw0, db0 = dense_oracle(layer, x, torch.ones(6, 20))
    assert rel(layer.values.grad, dw0) < TOL[torch.float32]


ISA_CHECK = """
import torch
from ramcore import _core
from ramcore.torch.sparse import SparseLinear
print(_core.sparse_kernel_isa())
for dtype in (torch.float32, torch.float64):
    gen = torch.Generator().manual_seed(8)
    for batch, in_f, out_f, density in ((200, 300, 90, 0.05), (70, 1500, 40, 0.01)):
        layer = SparseLinear(in_f, out_f, torch.rand(out_f, in_f, generator=gen) < density, dtype=dtype)
        x = torch.randn(batch, in_f, dtype=dtype, generator=gen, requires_grad=True)
        y = layer(x)
        g = torch.randn_like(y)
        y.backward(g)
        mask = layer.mask()
        w = (layer.weight * mask).requires_grad_()
        xd = x.detach().clone().requires_grad_()
        yd = torch.nn.functional.linear(xd, w, layer.bias.detach())
        yd.backward(g)
        tol = 1e-5 if dtype == torch.float32 else 1e-12
        for a, b in ((y, yd), (x.grad, xd.grad), (layer.values.grad, w.grad[mask])):
            assert float((a - b).abs().max() / b.abs().max()) < tol, (dtype, batch)
"""


def test_narrower_kernel_copies_equal_dense():
    # this machine runs the widest copy its CPU has; the others are selected by RAMCORE_SPARSE_ISA,
    # one process each (the choice is made once per process), run side by side
    import os
    import subprocess
    import sys

    runs = {
        isa: subprocess.Popen(
            [sys.executable, "-c", ISA_CHECK],
            env={**os.environ, "RAMCORE_SPARSE_ISA": isa},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for isa in ("avx2", "baseline")
    }
    for isa, run in runs.items():
        out, err = run.communicate(timeout=120)
        assert run.returncode == 0, err
        assert out.split()[0] in (isa, "baseline")  # avx2 falls back on a CPU without it


def test_empty_mask_gives_the_bias():
    layer = SparseLinear(5, 6, torch.zeros(6, 5, dtype=torch.bool))
    x = torch.randn(4, 5, requires_grad=True)
    y = layer(x)
    torch.testing.assert_close(y, layer.bias.expand(4, 6), rtol=0, atol=0)
    y.sum().backward()
    assert torch.equal(x.grad, torch.zeros(4, 5)) and layer.values.grad.numel() == 0


@pytest.mark.parametrize("backend", ["auto", "torch"])
@pytest.mark.parametrize("bias", [False, True])
def test_empty_batch_keeps_the_autograd_graph(backend, bias):
    """A batch of no samples gives (0, out) and zero gradients, as the dense layer does (not None:
    an optimizer would then skip the layer's momentum and weight decay on that step)."""
    layer = SparseLinear(53, 37, torch.rand(37, 53, generator=torch.Generator().manual_seed(1)) < 0.3,
                         bias=bias, backend=backend)  # fmt: skip
    x = torch.randn(2, 0, 53, requires_grad=True)
    y = layer(x)
    assert y.shape == (2, 0, 37)
    y.sum().backward()
    assert x.grad is not None and torch.equal(layer.values.grad, torch.zeros_like(layer.values))
    assert not bias or torch.equal(layer.bias.grad, torch.zeros(37))


@pytest.mark.parametrize("backend", ["auto", "torch"])
def test_autocast_input_runs_in_the_layers_precision(backend):
    """Under autocast a dense layer hands over bfloat16; the sparse layer computes in float32 (the
    float32 result of the bfloat16-rounded input), gradients included, on either path."""
    mask = torch.rand(40, 30, generator=torch.Generator().manual_seed(2)) < 0.3
    layer = SparseLinear(30, 40, mask, backend=backend)
    x = torch.randn(5, 30).bfloat16().requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = layer(x)
    assert y.dtype == torch.float32
    torch.testing.assert_close(y, layer(x.detach().float()), rtol=0, atol=0)
    y.sum().backward()
    assert x.grad is not None and x.grad.dtype == torch.bfloat16
    with pytest.raises(TypeError, match="dtype"):  # outside autocast: refused, not converted
        layer(x.detach())


def test_rows_without_entries_and_leading_dims():
    mask = torch.zeros(9, 6, dtype=torch.bool)
    mask[2, :] = True
    mask[5, 1] = True
    layer = SparseLinear(6, 9, mask, bias=False, dtype=torch.float64)
    check_against_dense(layer, torch.randn(2, 3, 6, dtype=torch.float64))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    "method, density, construction",
    [("ramanujan", 0.1, "fit"), ("ramanujan", 0.3, "fit"), ("ramanujan", 0.6, "fit"),
     ("ramanujan", None, "biswas"), ("random", 0.1, "fit"), ("random_regular", 0.1, "fit"),
     ("erk", 0.1, "fit"), ("magnitude", 0.1, "fit")],
)  # fmt: skip
def test_every_construction_converts_to_the_same_model(method, density, construction, dtype):
    """Every construction of the fit (affine, projective, random_regular, complement at 0.6, seed
    000's literal one) and the baselines: outputs and gradients equal the dense masked model's."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(40, 96), nn.ReLU(), nn.Linear(96, 70), nn.ReLU(), nn.Linear(70, 10))
    model = model.to(dtype)
    extra = {"construction": construction} if construction != "fit" else {"seed": 1}
    masks = make_masks(model, method, density, **extra)
    if method == "ramanujan" and construction == "fit":
        built = {p.construction for layer in masks.layers.values() for p in layer.pieces}
        assert built & {"affine", "projective", "random_regular", "complement", "lps"}
    apply_masks(model, masks)
    sparse = copy.deepcopy(model)
    plan = to_sparse(sparse, force=True)
    assert set(plan.values()) == {"sparse"} and masks_of(sparse) is None
    tol = TOL[dtype]
    for batch in (37, 1):
        x = torch.randn(batch, 40, dtype=dtype)
        y0, y1 = model(x), sparse(x)
        assert rel(y1, y0) < tol
        model.zero_grad()
        sparse.zero_grad()
        y0.square().sum().backward()
        y1.square().sum().backward()
        for name, layer in sparse.named_modules():
            if isinstance(layer, SparseLinear):
                dense = model.get_submodule(name)
                assert rel(layer.values.grad, dense.weight.grad[masks[name + ".weight"]]) < tol
                assert rel(layer.bias.grad, dense.bias.grad) < tol


class _TinyBlock(nn.Module):
    """A pre-norm transformer block with Linear q/k/v/o projections, an MLP, and an
    nn.MultiheadAttention beside them (whose projections must stay dense)."""

    def __init__(self, d: int = 32, heads: int = 4) -> None:
        super().__init__()
        self.heads = heads
        self.norm = nn.LayerNorm(d)
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.up, self.down = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
        self.mha = nn.MultiheadAttention(d, heads, batch_first=True)
        self.head = nn.Linear(d, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        h = self.norm(x)

        def split(z: torch.Tensor) -> torch.Tensor:
            return z.reshape(b, t, self.heads, d // self.heads).transpose(1, 2)

        a = nn.functional.scaled_dot_product_attention(split(self.q(h)), split(self.k(h)), split(self.v(h)))
        x = x + self.o(a.transpose(1, 2).reshape(b, t, d))
        x = x + self.mha(x, x, x, need_weights=False)[0]
        x = x + self.down(torch.relu(self.up(x)))
        return self.head(x.mean(dim=1))


def test_transformer_block_converts_and_trains_the_same():
    """The issue's transformer case in small: attention projections and the MLP become SparseLinear
    (nn.MultiheadAttention's stay dense and masked), and training gives the same losses."""
    torch.manual_seed(5)
    model = _TinyBlock().double()
    masks = make_masks(model, "ramanujan", 0.2, allocation="uniform")
    apply_masks(model, masks)
    sparse = copy.deepcopy(model)
    plan = to_sparse(sparse, force=True)
    assert all(plan[n] == "sparse" for n in ("q", "k", "v", "o", "up", "down", "head"))
    assert plan["mha.out_proj"] == "dense: inside nn.MultiheadAttention"
    assert isinstance(sparse.q, SparseLinear) and masks_of(sparse) is not None
    x, target = torch.randn(6, 5, 32, dtype=torch.float64), torch.randint(0, 3, (6,))
    losses = []
    for net in (model, sparse):
        opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
        run = []
        for _ in range(5):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(net(x), target)
            loss.backward()
            opt.step()
            run.append(loss.item())
        losses.append(run)
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-12)


def test_frozen_layer_gets_no_weight_gradient():
    """values.requires_grad=False: the backward pass skips the weight gradient (its SDDMM) and
    still gives the input's."""
    mask = torch.rand(20, 30, generator=torch.Generator().manual_seed(4)) < 0.3
    layer = SparseLinear(30, 20, mask)
    x = torch.randn(7, 30, requires_grad=True)
    grad = torch.randn(7, 20)
    layer(x).backward(grad)
    expected = x.grad.clone()
    layer.values.requires_grad_(False)
    layer.values.grad = None
    x.grad = None
    layer(x).backward(grad)
    assert layer.values.grad is None
    torch.testing.assert_close(x.grad, expected, rtol=0, atol=0)


def test_gradcheck_float64():
    mask = torch.rand(6, 5, generator=torch.Generator().manual_seed(3)) < 0.5
    mask[0, 0] = True
    layer = SparseLinear(5, 6, mask, dtype=torch.float64)
    x = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, v, b: _with(layer, v, b)(x), (x, layer.values, layer.bias))


def _with(layer: SparseLinear, values: torch.Tensor, bias: torch.Tensor):
    def f(x: torch.Tensor) -> torch.Tensor:
        saved = layer.values, layer.bias
        layer._parameters["values"], layer._parameters["bias"] = values, bias
        try:
            return layer(x)
        finally:
            layer._parameters["values"], layer._parameters["bias"] = saved

    return f


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_bit_identical_for_any_thread_count(dtype):
    # large enough that every kernel splits its work into several parallel tasks (a product under
    # ~2^15 entry-panels runs on the calling thread), with a ragged last panel and row chunk
    gen = torch.Generator().manual_seed(5)
    mask = torch.rand(1100, 700, generator=gen) < 0.05
    x = torch.randn(200, 700, dtype=dtype, generator=gen)
    results = []
    for threads in (1, 2, 3):
        torch.manual_seed(0)  # the same bias
        layer = SparseLinear(700, 1100, mask, dtype=dtype, threads=threads)
        with torch.no_grad():
            layer.values.copy_(torch.linspace(-1, 1, layer.values.numel(), dtype=dtype))
        xx = x.clone().requires_grad_()
        y = layer(xx)
        y.backward(torch.ones_like(y))
        results.append((y.detach(), xx.grad, layer.values.grad))
    for other in results[1:]:
        assert all(torch.equal(a, b) for a, b in zip(results[0], other))


def check_compiled_whole(layer: SparseLinear, x: torch.Tensor, grad: torch.Tensor) -> None:
    """torch.compile(fullgraph=True) takes `layer` whole, and its forward and backward (through the
    registered autograd) equal the eager layer's."""
    compiled = torch.compile(layer, backend="aot_eager", fullgraph=True)
    y = compiled(x)
    torch.testing.assert_close(y, layer(x))
    (y * grad).sum().backward()
    eager_x = x.detach().clone().requires_grad_()
    values = layer.values.grad.clone()
    layer.values.grad = None
    (layer(eager_x) * grad).sum().backward()
    torch.testing.assert_close(x.grad, eager_x.grad)
    torch.testing.assert_close(values, layer.values.grad)


def test_opcheck_and_compile():
    mask = torch.rand(20, 30, generator=torch.Generator().manual_seed(2)) < 0.3
    layer = SparseLinear(30, 20, mask)
    pattern = [getattr(layer, name) for name in PATTERN_BUFFERS + PATTERN_WIDTHS]
    x = torch.randn(5, 30, requires_grad=True)
    for bias in (layer.bias, None):
        torch.library.opcheck(sparse_linear_op, (x, layer.values, bias, *pattern, 0))
    grad = torch.randn(5, 20)
    for input_grad, weight_grad in ((True, True), (False, True), (True, False)):
        args = (grad, x.detach(), layer.values.detach(), *pattern, 0, input_grad, weight_grad)
        torch.library.opcheck(sparse_linear_backward, args)
    check_compiled_whole(layer, x, grad)


def test_to_dense_round_trip_and_state_dict():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(30, 50), nn.Tanh(), nn.Linear(50, 4))
    masks = make_masks(model, "ramanujan", 0.2)
    apply_masks(model, masks, persistent=True)
    reference = copy.deepcopy(model)
    plan = to_sparse(model, force=True)
    assert plan == {"0": "sparse", "2": "sparse"}
    x = torch.randn(8, 30)
    torch.testing.assert_close(model(x), reference(x), rtol=1e-5, atol=1e-6)
    # save and load the sparse model into a fresh dense one
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    fresh = nn.Sequential(nn.Linear(30, 50), nn.Tanh(), nn.Linear(50, 4))
    load_sparse(fresh, torch.load(io.BytesIO(buffer.getvalue())))
    assert isinstance(fresh[0], SparseLinear)
    torch.testing.assert_close(fresh(x), model(x), rtol=0, atol=0)
    # export
    layer = model[0]
    assert torch.equal(layer.to_sparse_csr().to_dense(), layer.weight)
    np.testing.assert_array_equal(layer.to_scipy().toarray(), layer.weight.numpy())
    # and back to dense, masked
    back = to_dense(model, persistent=True)
    assert set(back) == {"0.weight", "2.weight"}
    assert torch.equal(back["0.weight"], masks["0.weight"])
    assert masks_of(model) is not None
    torch.testing.assert_close(model(x), reference(x), rtol=1e-5, atol=1e-6)
    for name, p in reference.state_dict().items():
        torch.testing.assert_close(model.state_dict()[name], p)


@pytest.mark.parametrize("mode, persistent", [("inplace", True), ("prune", False), ("inplace", False)])
def test_load_sparse_restores_a_partly_converted_model(mode, persistent):
    """`to_sparse` leaves layers that do not pay dense and masked; a fresh dense model gets them back
    masked, from the checkpoint's mask keys or (default mode: none saved) from `masks=`."""
    torch.manual_seed(3)

    def net():
        return nn.Sequential(nn.Linear(600, 600), nn.ReLU(), nn.Linear(600, 10))

    model = net()
    masks = make_masks(model, "ramanujan", 0.05, allocation="uniform")
    apply_masks(model, masks, mode=mode, persistent=persistent)
    plan = to_sparse(model)
    assert plan["0"] == "sparse" and plan["2"].startswith("dense")  # the head does not pay
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    fresh = net()
    given = None if persistent or mode == "prune" else masks
    load_sparse(fresh, torch.load(io.BytesIO(buffer.getvalue())), masks=given)
    x = torch.randn(5, 600)
    assert isinstance(fresh[0], SparseLinear) and isinstance(fresh[2], nn.Linear)
    torch.testing.assert_close(fresh(x), model(x), rtol=0, atol=0)
    state = masks_of(fresh)
    assert state is not None and set(state.masks()) == {"2.weight"} and state.mode == mode
    assert torch.equal(state.masks()["2.weight"], masks["2.weight"])


def test_to_sparse_leaves_layers_off_the_cpu_dense_unless_forced():
    """`pays` measures the CPU kernels: on another device (here "meta", standing in for a GPU)
    `to_sparse` says so and converts nothing unless forced."""
    model = nn.Sequential(nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10))
    masks = dict(make_masks(model, "ramanujan", 0.05))
    meta = copy.deepcopy(model).to("meta")
    assert to_sparse(meta, masks)["0"].startswith("dense: sparse execution on meta")
    assert type(meta[0]) is nn.Linear
    assert to_sparse(model, masks)["0"] == "sparse"  # the same layer on the CPU


def test_a_layer_used_twice_becomes_one_sparse_layer_at_both_places():
    """A module at two places is one set of weights: both uses become the same SparseLinear, the
    model computes what the dense masked one does, and to_dense / load_sparse keep the sharing."""
    torch.manual_seed(5)

    def net():
        shared = nn.Linear(600, 600)
        return nn.Sequential(shared, nn.ReLU(), shared)

    model = net()
    masks = make_masks(model, "random", 0.05, seed=1)
    apply_masks(model, masks)
    x = torch.randn(4, 600)
    expected = model(x).detach()
    assert to_sparse(model) == {"0": "sparse"}
    assert isinstance(model[0], SparseLinear) and model[2] is model[0] and masks_of(model) is None
    torch.testing.assert_close(model(x), expected, rtol=1e-5, atol=1e-6)
    fresh = net()
    load_sparse(fresh, model.state_dict())
    assert isinstance(fresh[0], SparseLinear) and fresh[2] is fresh[0]
    torch.testing.assert_close(fresh(x), model(x), rtol=0, atol=0)
    to_dense(model)
    assert type(model[0]) is nn.Linear and model[2] is model[0]
    assert not model[0].weight[~masks["0.weight"]].any()


def test_bad_masks_are_refused_before_the_model_changes():
    model = nn.Sequential(nn.Linear(600, 600), nn.ReLU(), nn.Linear(600, 10))
    masks = make_masks(model, "random", 0.05, seed=2, allocation="uniform")
    apply_masks(model, masks)
    bad = {"0.weight": masks["0.weight"], "2.weight": torch.ones(3, 3, dtype=torch.bool)}
    with pytest.raises(ValueError, match=r"masks\['2.weight'\] must be a bool tensor of the weight's shape"):
        to_sparse(model, bad)
    with pytest.raises(ValueError, match="0/1"):
        to_sparse(model, {**masks, "2.weight": torch.full((10, 600), 0.5)})
    assert type(model[0]) is nn.Linear and set(masks_of(model).masks()) == {"0.weight", "2.weight"}


def test_a_projection_shared_with_attention_stays_dense():
    """nn.MultiheadAttention reads out_proj.weight directly: the module stays dense at every use."""
    mha = nn.MultiheadAttention(512, 4, batch_first=True)
    model = nn.ModuleDict({"head": mha.out_proj, "mha": mha})  # met first outside the attention
    masks = {"head.weight": torch.rand(512, 512, generator=torch.Generator().manual_seed(3)) < 0.05}
    plan = to_sparse(model, masks)
    assert plan == {"head": "dense: inside nn.MultiheadAttention"}
    assert model["head"] is mha.out_proj and not isinstance(mha.out_proj, SparseLinear)


def test_given_masks_stay_applied_on_the_layers_left_dense():
    """to_sparse(model, masks=...) on a model with no masks applied: the layers that do not pay are
    masked with the given masks (they would otherwise train unmasked)."""
    model = nn.Sequential(nn.Linear(600, 600), nn.ReLU(), nn.Linear(600, 10))
    masks = make_masks(model, "random", 0.05, seed=2, allocation="uniform")
    plan = to_sparse(model, masks)
    assert plan["0"] == "sparse" and plan["2"].startswith("dense")
    state = masks_of(model)
    assert state is not None and set(state.masks()) == {"2.weight"}
    assert not model[2].weight[~masks["2.weight"]].any()
    assert to_sparse(model) == {"2": plan["2"]}  # again: only the masked head is left to look at
    remove_masks(model)
    assert to_sparse(model) == {}  # converted, nothing masked: nothing to do


def test_frozen_layers_stay_frozen_both_ways():
    model = nn.Sequential(nn.Linear(600, 600), nn.ReLU(), nn.Linear(600, 600))
    model[0].requires_grad_(False)
    to_sparse(model, make_masks(model, "random", 0.05, seed=3, allocation="uniform"))
    assert not model[0].values.requires_grad and not model[0].bias.requires_grad
    assert model[2].values.requires_grad and model[2].bias.requires_grad
    to_dense(model)
    assert not model[0].weight.requires_grad and not model[0].bias.requires_grad
    assert model[2].weight.requires_grad


@pytest.mark.parametrize("mode", ["inplace", "prune"])
def test_to_sparse_takes_the_applied_masks_of_either_mode(mode):
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(20, 30), nn.ReLU(), nn.Linear(30, 5))
    masks = make_masks(model, "random", 0.3, seed=4)
    apply_masks(model, masks, mode=mode)
    x = torch.randn(6, 20)
    expected = model(x).detach()
    plan = to_sparse(model, force=True)
    assert set(plan.values()) == {"sparse"} and masks_of(model) is None
    torch.testing.assert_close(model(x), expected, rtol=1e-5, atol=1e-6)
    assert torch.equal(model[0].mask(), masks["0.weight"])


def test_loading_a_checkpoint_adopts_its_pattern():
    a = SparseLinear(12, 7, torch.rand(7, 12, generator=torch.Generator().manual_seed(0)) < 0.3)
    b = SparseLinear(12, 7, torch.rand(7, 12, generator=torch.Generator().manual_seed(1)) < 0.6)
    values = b.values
    b(torch.randn(2, 12)).sum().backward()
    b.load_state_dict(a.state_dict())
    assert b.values is values  # the same Parameter, resized: an optimizer made before still holds it
    assert b.values.grad is None  # the old pattern's gradient is dropped: the next backward works
    b(torch.randn(2, 12)).sum().backward()
    assert torch.equal(b.mask(), a.mask())
    x = torch.randn(3, 12)
    torch.testing.assert_close(b(x), a(x), rtol=0, atol=0)
    bad = {**a.state_dict(), "indices": a.indices + 100}
    with pytest.raises(ValueError, match="CSR pattern"):
        b.load_state_dict(bad)


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_one_by_one_convolutions_convert_both_ways(dims):
    conv_type = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[dims]
    torch.manual_seed(dims)
    model = nn.Sequential(conv_type(12, 20, 1), nn.ReLU(), conv_type(20, 6, 3), nn.ReLU(), conv_type(6, 8, 1))
    masks = make_masks(model, "ramanujan", 0.3)
    apply_masks(model, masks)
    reference = copy.deepcopy(model)
    plan = to_sparse(model, force=True)
    # the 3x3 convolution is no Linear per position: a SparseConv2d in 2-d, dense otherwise
    assert plan == {"0": "sparse", "4": "sparse", **({"2": "sparse"} if dims == 2 else {})}
    assert isinstance(model[0], SparseConv1x1)
    assert isinstance(model[2], SparseConv2d) if dims == 2 else type(model[2]) is conv_type
    x = torch.randn(2, 12, *(5,) * dims, requires_grad=True)
    y, y0 = model(x), reference(x)
    torch.testing.assert_close(y, y0, rtol=1e-5, atol=1e-6)
    y.square().sum().backward()
    y0.square().sum().backward()
    w_grad = reference[0].weight.grad.reshape(20, 12)
    torch.testing.assert_close(
        model[0].values.grad, w_grad[masks["0.weight"].reshape(20, 12)], rtol=1e-5, atol=1e-6
    )
    back = to_dense(model)
    assert type(model[0]) is conv_type and back["0.weight"].shape == (20, 12, *(1,) * dims)
    torch.testing.assert_close(model(x), y0, rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match="kernel 1"):
        SparseConv1x1.from_conv(conv_type(3, 4, 2), torch.ones(4, 3, dtype=torch.bool))


def masked_conv_oracle(layer: SparseConv2d, x: torch.Tensor, grad: torch.Tensor):
    """y, dx, dW (at the kept entries, in `values` order), db of the dense masked convolution."""
    conv = layer.to_conv()
    x = x.detach().clone().requires_grad_()
    y = conv(x)
    y.backward(grad)
    mask = layer.mask()
    return y.detach(), x.grad, conv.weight.grad.reshape(mask.shape)[mask], conv.bias.grad


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    "kernel, stride, padding, dilation, size",
    [
        (3, 1, 1, 1, (5, 7)),  # 35 positions per sample: unfolded, sparse product
        ((3, 2), 2, (1, 0), (1, 2), (9, 8)),  # 5 x 3 positions
        (3, 1, 1, 1, (10, 9)),  # 90 positions: the dense convolution of the masked weight
    ],
)
def test_kxk_convolutions_equal_the_dense_masked_convolution(dtype, kernel, stride, padding, dilation, size):
    gen = torch.Generator().manual_seed(6)
    conv = nn.Conv2d(6, 9, kernel, stride=stride, padding=padding, dilation=dilation, dtype=dtype)
    mask = torch.rand(conv.weight.shape, generator=gen) < 0.3
    layer = SparseConv2d.from_conv(conv, mask)
    x = torch.randn(3, 6, *size, dtype=dtype, generator=gen, requires_grad=True)
    y = layer(x)
    grad = torch.randn(y.shape, dtype=dtype, generator=gen)
    y.backward(grad)
    y0, dx0, dw0, db0 = masked_conv_oracle(layer, x, grad)
    tol = TOL[dtype]
    assert y.shape == y0.shape
    for got, want in ((y, y0), (x.grad, dx0), (layer.values.grad, dw0), (layer.bias.grad, db0)):
        assert rel(got, want) < tol


def test_kxk_convolutions_convert_when_forced():
    torch.manual_seed(3)
    model = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 512, 3, padding=1))
    masks = {"0.weight": torch.rand(16, 8, 3, 3) < 0.05, "2.weight": torch.rand(512, 16, 3, 3) < 0.05}
    apply_masks(model, masks)
    reference = copy.deepcopy(model)
    assert to_sparse(copy.deepcopy(model))["2"].startswith("dense: a k×k convolution")  # not measured to pay
    plan = to_sparse(model, force=True)
    assert plan == {"0": "sparse", "2": "sparse"}
    assert isinstance(model[0], SparseConv2d) and isinstance(model[2], SparseConv2d)
    x = torch.randn(2, 8, 6, 6)
    torch.testing.assert_close(model(x), reference(x), rtol=1e-5, atol=1e-5)
    saved = copy.deepcopy(model.state_dict())
    fresh = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 512, 3, padding=1))
    load_sparse(fresh, saved)
    assert isinstance(fresh[2], SparseConv2d)
    torch.testing.assert_close(fresh(x), model(x))
    back = to_dense(model)
    assert type(model[2]) is nn.Conv2d and back["2.weight"].shape == (512, 16, 3, 3)
    assert type(model[0]) is nn.Conv2d
    torch.testing.assert_close(model(x), reference(x), rtol=1e-5, atol=1e-5)
    assert not pays(512 * 9, 512, 0.05, 3) and pays(512 * 9, 512, 0.05)
    with pytest.raises(TypeError, match="one group"):
        SparseConv2d.from_conv(nn.Conv2d(4, 4, 3, groups=2), torch.ones(4, 2, 3, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="stride"):
        SparseConv2d(4, 4, 3, torch.ones(4, 36, dtype=torch.bool), stride=0)
    with pytest.raises(ValueError, match="smaller than the kernel"):
        SparseConv2d(4, 4, 3, torch.ones(4, 36, dtype=torch.bool))(torch.randn(1, 4, 2, 2))


def test_converter_leaves_layers_dense_where_sparse_does_not_pay():
    model = nn.Sequential(nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
    masks = {"0.weight": torch.rand(512, 512) < 0.05, "2.weight": torch.rand(10, 512) < 0.05}
    apply_masks(model, masks)
    plan = to_sparse(model)
    assert plan["0"] == "sparse" and plan["2"].startswith("dense")
    assert isinstance(model[0], SparseLinear) and type(model[2]) is nn.Linear
    assert set(masks_of(model).masks()) == {"2.weight"}  # the dense layer stays masked
    assert pays(4096, 4096, 0.05) and not pays(4096, 4096, 0.5) and not pays(10, 512, 0.05)


def test_bad_inputs_raise_clear_errors():
    mask = torch.rand(6, 5) < 0.5
    mask[0, 0] = True
    layer = SparseLinear(5, 6, mask)
    with pytest.raises(TypeError, match=r"dtype.*or the layer with \.to\(torch\.float64\)"):
        layer(torch.randn(2, 5, dtype=torch.float64))
    with pytest.raises(TypeError, match=r"to\(torch\.float32\)$"):  # the layer cannot run in int64
        layer(torch.ones(2, 5, dtype=torch.int64))
    with pytest.raises(ValueError, match="in_features=5"):
        layer(torch.randn(2, 4))
    with pytest.raises(TypeError, match="torch.Tensor"):
        layer(np.ones((2, 5)))
    with pytest.raises(ValueError, match="shape"):
        SparseLinear(5, 6, torch.ones(5, 6, dtype=torch.bool))
    with pytest.raises(ValueError, match="bool"):
        SparseLinear(5, 6, torch.full((6, 5), 0.5))
    with pytest.raises(TypeError, match="dtype"):
        SparseLinear(5, 6, mask, dtype=torch.float16)
    with pytest.raises(TypeError, match="float32 or float64"):
        copy.deepcopy(layer).half()(torch.randn(2, 5, dtype=torch.float16))
    with pytest.raises(ValueError, match="threads"):
        SparseLinear(5, 6, mask, threads=0)
    with pytest.raises(TypeError, match="nn.Linear"):
        SparseLinear.from_linear(nn.Conv2d(1, 1, 1), mask)
    with pytest.raises(TypeError, match="from_linear"):
        to_sparse(nn.Linear(5, 6))
    with pytest.raises(ValueError, match="no masks applied"):
        to_sparse(nn.Sequential(nn.Linear(5, 6)))
    with pytest.raises(ValueError, match="no parameter named"):
        to_sparse(nn.Sequential(nn.Linear(5, 6)), {"nope.weight": mask})
    pattern = [getattr(layer, n) for n in PATTERN_BUFFERS + PATTERN_WIDTHS]
    with pytest.raises(ValueError, match="x has 7 features"):  # the raw operator checks the width
        sparse_linear_op(torch.randn(2, 7), layer.values, None, *pattern, 1)
    with pytest.raises(ValueError, match="x must be 2-d"):
        sparse_linear_op(torch.randn(5), layer.values, None, *pattern, 1)


def test_core_refuses_bad_arrays():
    # W (2 x 3) keeps (0, 0) and (1, 2); 3 columns make one column block
    indptr = np.array([0, 1, 2], dtype=np.int64)
    lanes = panel_lanes(torch.float32)
    x = np.zeros((1, 3, lanes), dtype=np.float32)
    out = np.zeros((1, 2, lanes), dtype=np.float32)
    v = np.ones(2, dtype=np.float32)
    ok = np.array([0, 2], dtype=np.int32)

    def spmm_(*args, indptr=indptr, indices=ok, values=v, order=None, x=x, out=out, panels=1):
        _core.sparse_spmm(indptr, indices, values, order, x, out, 2, 3, panels, 0)

    spmm_()
    with pytest.raises(ValueError, match="indices must lie"):
        spmm_(indices=np.array([0, 3], dtype=np.int32))
    with pytest.raises(ValueError, match="indptr must not decrease"):
        spmm_(indptr=np.array([0, 2, 1], dtype=np.int64))
    with pytest.raises(ValueError, match="indptr must have"):
        spmm_(indptr=np.array([0, 2], dtype=np.int64))
    with pytest.raises(ValueError, match="dtype"):
        spmm_(x=x.astype(np.float64))
    with pytest.raises(ValueError, match="C-contiguous"):
        spmm_(out=np.zeros((1, lanes, 2), np.float32).transpose(0, 2, 1))
    with pytest.raises(ValueError, match="entries"):
        spmm_(panels=2)
    with pytest.raises(ValueError, match="order"):
        spmm_(order=np.array([0, 5], dtype=np.int64))
    # from two panels on spmm checks the order in the gather that reads it
    x2, out2 = np.zeros((2, 3, lanes), np.float32), np.zeros((2, 2, lanes), np.float32)
    spmm_(order=np.array([1, 0], dtype=np.int64), x=x2, out=out2, panels=2)
    for bad in ([0, 2], [-1, 0]):
        with pytest.raises(ValueError, match=r"order must hold positions in \[0, nnz = 2\)"):
            spmm_(order=np.array(bad, dtype=np.int64), x=x2, out=out2, panels=2)
    with pytest.raises(ValueError, match="float32 or float64"):
        _core.sparse_sddmm(indptr, ok, out.astype(np.int32), x, None, v, 2, 3, 1, 0)
    with pytest.raises(ValueError, match="block_cols must be positive"):
        _core.sparse_spmm(indptr, ok, v, None, x, out, 2, 3, 1, 0, 0)
    # 256-column blocks: 200 columns make one block, so the two-block indptr below is refused
    with pytest.raises(ValueError, match="indptr must have"):
        _core.sparse_spmm(np.array([0, 0, 0, 1, 1], np.int64), np.array([150], np.int32), v[:1], None,
                          np.zeros((1, 200, lanes), np.float32), out, 2, 200, 1, 0, 256)
    assert _core.sparse_block_cols(4096, 4096, 4096 * 41) == 512  # 1 %: 5 entries per 512 columns
    assert _core.sparse_block_cols(4096, 4096, 4096 * 205) == 128  # 5 %: 6 per 128
    assert _core.sparse_block_cols(10, 300, 10) == 512  # wider than the matrix: one block
    # 200 columns make two blocks: row 0's entry in column 150 belongs to segment (1, 0)
    wide = np.zeros((1, 200, lanes), dtype=np.float32)
    blocked = np.array([0, 0, 0, 1, 1], dtype=np.int64)
    _core.sparse_spmm(blocked, np.array([150], np.int32), v[:1], None, wide, out, 2, 200, 1, 0)
    with pytest.raises(ValueError, match="column block"):
        _core.sparse_spmm(
            np.array([0, 1, 1, 1, 1], np.int64),
            np.array([150], np.int32),
            v[:1],
            None,
            wide,
            out,
            2,
            200,
            1,
            0,
        )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_torch_csr_backend_equals_dense(dtype):
    # the GPU path (torch's CSR kernels), checked on the CPU against the same oracle
    gen = torch.Generator().manual_seed(9)
    mask = torch.rand(40, 70, generator=gen) < 0.2
    layer = SparseLinear(70, 40, mask, dtype=dtype, backend="torch")
    check_against_dense(layer, torch.randn(2, 9, 70, dtype=dtype, generator=gen))


def test_torch_csr_path_is_a_custom_op_that_compiles_whole():
    """The GPU path's operators pass opcheck, and torch.compile(fullgraph=True) takes a layer on it
    forward and backward (run here on the CPU: backend="torch")."""
    from ramcore.torch.sparse import torch_csr_linear, torch_csr_linear_backward

    mask = torch.rand(20, 30, generator=torch.Generator().manual_seed(6)) < 0.3
    layer = SparseLinear(30, 20, mask, backend="torch")
    x = torch.randn(5, 30, requires_grad=True)
    for bias in (layer.bias, None):
        torch.library.opcheck(torch_csr_linear, (x, layer.values, bias, layer.indptr, layer.indices))
    grad = torch.randn(5, 20)
    for flags in ((True, True), (False, True), (True, False)):
        args = (grad, x.detach(), layer.values.detach(), layer.indptr, layer.indices, *flags)
        torch.library.opcheck(torch_csr_linear_backward, args)
    check_compiled_whole(layer, x, grad)


def test_device_mismatch_is_refused():
    layer = SparseLinear(2, 3, torch.ones(3, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"move one with \.to"):
        layer(torch.randn(1, 2, device="meta"))
    with pytest.raises(ValueError, match="backend"):
        SparseLinear(2, 3, torch.ones(3, 2, dtype=torch.bool), backend="cuda")


@posix_signals
def test_ctrl_c_interrupts_the_kernels():
    call = "spmm(indptr, indices, values, None, x, 1)"
    assert_interrupted_in_core(interrupt_child(INTERRUPT_SETUP, call, after_cpu=0.5))


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cuda_layers_equal_dense(dtype):
    gen = torch.Generator().manual_seed(7)
    linear = nn.Linear(300, 200, dtype=dtype)
    mask = torch.rand(200, 300, generator=gen) < 0.1
    layer = SparseLinear.from_linear(linear.cuda(), mask)
    assert layer.values.is_cuda and layer.indptr.is_cuda
    check_against_dense(layer, torch.randn(65, 300, dtype=dtype, device="cuda"))
    model = nn.Sequential(nn.Linear(300, 200), nn.ReLU(), nn.Linear(200, 10)).cuda()
    apply_masks(model, make_masks(model, "ramanujan", 0.1))
    x = torch.randn(8, 300, device="cuda")
    expected = model(x)
    to_sparse(model, force=True)
    torch.testing.assert_close(model(x), expected, rtol=1e-4, atol=1e-5)
