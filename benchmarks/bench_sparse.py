"""Sparse execution of masked layers (issue 17): `ramcore.torch.SparseLinear` against dense and
torch's CSR kernels, side by side in one process.

* A 4096 x 4096 Linear at batch 256 and densities 1, 2, 5, 10, 20 %, forward and forward+backward
  (gradients of the input and the weights): dense matmul (``nn.Linear``), dense masked (the weight
  multiplied by its mask in every pass, as ``mode="prune"`` does), torch's CSR matmul (forward
  ``addmm(b, W_csr, Xᵀ)``; backward ``W_cscᵀ @ dYᵀ`` and ``torch.sparse.sampled_addmm`` for the
  kept weights: the fastest of torch's CPU sparse calls we found, see `layer`) and ramcore's
  kernels. The implementations alternate in rounds, so that they see the same machine state; each
  figure is the median over the rounds.
* An MLP 784-4096-4096-10 and a small transformer block (d = 512, 8 heads, MLP 2048, 1024 tokens) at
  5 % (ramanujan masks), trained 100 SGD steps from the same weights on the same random batches:
  dense masked model vs the model after one `to_sparse` call. Wall time and final loss of each.
"""

from __future__ import annotations

import statistics
import time

TITLE = "Sparse execution of masked layers"
DENSITIES = (0.01, 0.02, 0.05, 0.1, 0.2)
SIZE, BATCH = 4096, 256
IMPLS = ("dense", "dense masked", "torch CSR", "ramcore")


def _torch():
    import torch

    torch.set_num_threads(2)
    return torch


# --- one layer --------------------------------------------------------------------------------


def _timed(f, backward: bool, modules) -> float:
    """Seconds of one call f(backward) (forward + backward, or forward under no_grad), the modules'
    gradients cleared first."""
    import torch

    for m in modules:
        m.zero_grad(set_to_none=True)
    t = time.perf_counter()
    if backward:
        f(True)
    else:
        with torch.no_grad():
            f(False)
    return time.perf_counter() - t


def layer(density: float, rounds: int = 5):
    torch = _torch()
    import warnings

    import ramcore.torch as rt

    warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta")
    torch.manual_seed(0)
    linear = torch.nn.Linear(SIZE, SIZE)
    mask = torch.from_numpy(
        rt.make_masks(torch.nn.Sequential(linear), "ramanujan", density)["0.weight"].numpy()
    )
    x = torch.randn(BATCH, SIZE)
    grad = torch.randn(BATCH, SIZE)
    weight = linear.weight.detach() * mask
    maskf = mask.float()
    sparse = rt.SparseLinear.from_linear(linear, mask)
    # torch's fastest CPU sparse path we found (MKL's CSR kernels, on the same 2 threads): forward
    # addmm(bias, W_csr, Xᵀ) (the bias added inside; 1.2-1.5x faster than `W_csr @ Xᵀ + b`),
    # dX = W_csrᵀ @ dYᵀ with Wᵀ's CSR made once, dW by sampled_addmm on a pattern of ones made once
    # (converting the bool pattern in every call cost a fifth of it). COO (torch.sparse.mm) was
    # 3-15x slower and dense @ CSR 5-7x slower, so they are not the peer.
    csr = weight.to_sparse_csr()
    csr_t = weight.t().to_sparse_csr()
    ones = mask.to_sparse_csr().float()
    bias_col = linear.bias.detach()[:, None]

    def dense(backward: bool):
        xx = x.clone().requires_grad_(backward)
        y = linear(xx)
        if backward:
            y.backward(grad)

    def masked(backward: bool):
        xx = x.clone().requires_grad_(backward)
        y = torch.nn.functional.linear(xx, linear.weight * maskf, linear.bias)
        if backward:
            y.backward(grad)

    def torch_csr(backward: bool):
        with torch.no_grad():
            y = torch.addmm(bias_col, csr, x.t()).t()
            if backward:  # dX = dY W, dW = (dYᵀ X) at the kept entries
                dx = (csr_t @ grad.t()).t()
                dw = torch.sparse.sampled_addmm(ones, grad.t(), x, beta=0.0)
                del dx, dw
        del y

    def ramcore(backward: bool):
        xx = x.clone().requires_grad_(backward)
        y = sparse(xx)
        if backward:
            y.backward(grad)

    impls = dict(zip(IMPLS, (dense, masked, torch_csr, ramcore)))

    def time_one(f, backward: bool) -> float:
        return _timed(f, backward, (linear, sparse))

    def work():
        # correctness of what is timed: the ramcore output equals the dense masked one
        with torch.no_grad():
            err = float((sparse(x) - torch.nn.functional.linear(x, weight, linear.bias)).abs().max())
        times = {(name, b): [] for name in IMPLS for b in (False, True)}
        for f in impls.values():  # warm-up
            f(True)
        for _ in range(rounds):
            for name, f in impls.items():
                for b in (False, True):
                    times[name, b].append(time_one(f, b))
        ms = {
            f"{name}|{'fwd+bwd' if b else 'fwd'}": 1e3 * statistics.median(t)
            for (name, b), t in times.items()
        }
        return {"density": mask.float().mean().item(), "ms": ms, "max_abs_err": err}

    return work


# --- k x k convolutions ------------------------------------------------------------------------

CONV_SHAPES = (  # (in channels, out channels, height = width, batch): ResNet stages on CIFAR/ImageNet
    (64, 64, 32, 8),
    (256, 256, 16, 8),
    (512, 256, 8, 8),
    (256, 512, 8, 8),
    (512, 512, 8, 8),
    (512, 512, 16, 8),
    (512, 512, 4, 32),
)
CONV_DENSITIES = (0.02, 0.05, 0.1)


def conv(cin: int, cout: int, size: int, batch: int, k: int = 3, rounds: int = 5):
    """A k x k convolution (stride 1, padding k // 2) run as im2col (``F.unfold``: k² copies of the
    activations) + ramcore's sparse product of the flattened weight (out, in k²), against the dense
    convolution and the dense masked one, forward and forward+backward, at CONV_DENSITIES. What a
    SparseConv2d by unfolding costs (issue 17: k x k convolutions "if you can make them pay"); the
    unfolded path is timed on every map size, where `SparseConv2d` itself runs maps of more than
    ``MAX_UNFOLD_POSITIONS`` positions dense."""
    torch = _torch()
    import ramcore.torch as rt

    F = torch.nn.functional
    torch.manual_seed(0)
    layer = torch.nn.Conv2d(cin, cout, k, padding=k // 2)
    x = torch.randn(batch, cin, size, size)
    grad = torch.randn(batch, cout, size, size)
    masks = {
        d: rt.make_masks(torch.nn.Sequential(layer), "ramanujan", d)["0.weight"].reshape(cout, -1)
        for d in CONV_DENSITIES
    }
    weight = layer.weight.detach()
    sparse = {
        d: rt.SparseLinear.from_linear(_flat_linear(torch, layer), torch.as_tensor(m.numpy()))
        for d, m in masks.items()
    }
    maskf = {d: torch.as_tensor(m.numpy()).float().reshape(weight.shape) for d, m in masks.items()}

    def dense(backward: bool):
        xx = x.clone().requires_grad_(backward)
        y = layer(xx)
        if backward:
            y.backward(grad)

    def masked(d: float, backward: bool):
        xx = x.clone().requires_grad_(backward)
        y = F.conv2d(xx, layer.weight * maskf[d], layer.bias, padding=k // 2)
        if backward:
            y.backward(grad)

    def unfolded(d: float, backward: bool):
        xx = x.clone().requires_grad_(backward)
        cols = F.unfold(xx, k, padding=k // 2).transpose(1, 2).reshape(-1, cin * k * k)
        y = sparse[d](cols).reshape(batch, size, size, cout).permute(0, 3, 1, 2)
        if backward:
            y.backward(grad)

    def im2col(backward: bool):  # the copies alone: unfold into rows (and fold back, as backward does)
        cols = F.unfold(x, k, padding=k // 2).transpose(1, 2).reshape(-1, cin * k * k)
        if backward:
            F.fold(cols.reshape(batch, -1, cin * k * k).transpose(1, 2), size, k, padding=k // 2)

    impls = {"dense": dense, "im2col": im2col}
    for d in CONV_DENSITIES:
        impls[f"masked {d:.0%}"] = lambda b, d=d: masked(d, b)
        impls[f"ramcore {d:.0%}"] = lambda b, d=d: unfolded(d, b)

    def time_one(f, backward: bool) -> float:
        return _timed(f, backward, (layer, *sparse.values()))

    def work():
        with torch.no_grad():  # what is timed computes the masked convolution
            d = CONV_DENSITIES[0]
            y0 = F.conv2d(x, weight * maskf[d], layer.bias, padding=k // 2)
            cols = F.unfold(x, k, padding=k // 2).transpose(1, 2).reshape(-1, cin * k * k)
            y1 = sparse[d](cols).reshape(batch, size, size, cout).permute(0, 3, 1, 2)
            err = float((y1 - y0).abs().max() / y0.abs().max())
        times = {(name, b): [] for name in impls for b in (False, True)}
        for f in impls.values():
            f(True)
        for _ in range(rounds):
            for name, f in impls.items():
                for b in (False, True):
                    times[name, b].append(time_one(f, b))
        ms = {f"{n}|{'fwd+bwd' if b else 'fwd'}": 1e3 * statistics.median(t) for (n, b), t in times.items()}
        return {"ms": ms, "rel_err": err, "shape": f"{cin}->{cout}, {batch}x{size}x{size}, {k}x{k}"}

    return work


def _flat_linear(torch, conv):
    """The Linear (in k², out) of a convolution's flattened weight, for SparseLinear.from_linear."""
    w = conv.weight.detach()
    linear = torch.nn.Linear(w[0].numel(), w.shape[0], bias=conv.bias is not None)
    with torch.no_grad():
        linear.weight.copy_(w.reshape(w.shape[0], -1))
        if conv.bias is not None:
            linear.bias.copy_(conv.bias.detach())
    return linear


# --- training ---------------------------------------------------------------------------------


def _mlp(torch):
    return torch.nn.Sequential(
        torch.nn.Linear(784, 4096),
        torch.nn.ReLU(),
        torch.nn.Linear(4096, 4096),
        torch.nn.ReLU(),
        torch.nn.Linear(4096, 10),
    )


def _block(torch):
    nn = torch.nn

    class Block(nn.Module):
        """A pre-norm transformer block with its projections as plain Linear layers."""

        def __init__(self, d: int = 512, heads: int = 8, ff: int = 2048) -> None:
            super().__init__()
            self.heads = heads
            self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
            self.up, self.down = nn.Linear(d, ff), nn.Linear(ff, d)
            self.head = nn.Linear(d, 10)

        def forward(self, x):
            b, t, d = x.shape
            h = self.norm1(x)

            def split(z):
                return z.reshape(b, t, self.heads, d // self.heads).transpose(1, 2)

            a = torch.nn.functional.scaled_dot_product_attention(
                split(self.q(h)), split(self.k(h)), split(self.v(h))
            )
            x = x + self.o(a.transpose(1, 2).reshape(b, t, d))
            x = x + self.down(torch.relu(self.up(self.norm2(x))))
            return self.head(x.mean(dim=1))

    return Block()


def train(model_name: str, steps: int = 100, density: float = 0.05):
    torch = _torch()
    import copy

    import ramcore.torch as rt

    torch.manual_seed(0)
    if model_name == "mlp":
        model, batch_shape, batch = _mlp(torch), (784,), 256
    else:
        model, batch_shape, batch = _block(torch), (64, 512), 16  # 16 sequences of 64 tokens
    rt.apply_masks(model, rt.make_masks(model, "ramanujan", density, kinds=("linear",)))
    sparse = copy.deepcopy(model)
    plan = rt.to_sparse(sparse)
    g = torch.Generator().manual_seed(1)
    data = [
        (torch.randn(batch, *batch_shape, generator=g), torch.randint(0, 10, (batch,), generator=g))
        for _ in range(10)
    ]

    def run(m) -> tuple[float, list]:
        """Seconds of the steps, and the loss of every step (kept as tensors: no sync in the loop)."""
        opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
        losses = []
        t = time.perf_counter()
        for step in range(steps):
            x, y = data[step % len(data)]
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(m(x), y)
            loss.backward()
            opt.step()
            losses.append(loss.detach())
        return time.perf_counter() - t, [float(v) for v in losses]

    def work():
        sparse_s, sparse_curve = run(sparse)
        dense_s, dense_curve = run(model)
        converted = sum(how == "sparse" for how in plan.values())
        return {
            "dense_s": dense_s,
            "sparse_s": sparse_s,
            "dense_loss": dense_curve[-1],
            "sparse_loss": sparse_curve[-1],
            # the whole loss curve, not only its end: the largest relative difference over the steps
            "curve_diff": max(abs(a - b) / abs(b) for a, b in zip(sparse_curve, dense_curve)),
            "detail": f"{steps} steps, batch {batch}, {converted}/{len(plan)} layers sparse",
        }

    return work


def cases(quick: bool = False):
    out = [
        {
            "graph": f"4096^2 @ {d:.0%}",
            "impl": "all",
            "fn": "layer",
            "args": (d,),
            "repeat": 1,
            "timeout": 900,
        }
        for d in DENSITIES
    ]
    for name in ("mlp", "block"):
        out.append(
            {
                "graph": name,
                "impl": "dense vs sparse",
                "fn": "train",
                "args": (name, 20 if quick else 100),
                "repeat": 1,
                "timeout": 1800,
            }
        )
    for shape in CONV_SHAPES:
        out.append(
            {
                "graph": f"conv {shape[0]}->{shape[1]} {shape[3]}x{shape[2]}^2",
                "impl": "all",
                "fn": "conv",
                "args": shape,
                "repeat": 1,
                "timeout": 900,
            }
        )
    return out


def table(results) -> str:
    lines = [
        "| density | pass | dense ms | dense masked ms | torch CSR ms | ramcore ms | vs dense | vs CSR |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    conv_lines = [
        "| convolution | pass | dense ms | im2col alone ms | "
        + " | ".join(f"{d:.0%} masked ms | {d:.0%} ramcore ms" for d in CONV_DENSITIES)
        + " | best vs dense |",
        "|---|---|" + "---:|" * (3 + 2 * len(CONV_DENSITIES)),
    ]
    train_lines = [
        "| model | dense masked s | sparse s | speed-up | dense loss | sparse loss | max rel. diff. per step "
        "| setting |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        f = r["figures"]
        if r.get("timed_out") or f is None:
            lines.append(f"| {r['graph']} | timed out | | | | | | |")
            continue
        if r["fn"] == "conv":
            for p in ("fwd", "fwd+bwd"):
                ms = f["ms"]
                cells = " | ".join(
                    f"{ms[f'masked {d:.0%}|{p}']:.1f} | {ms[f'ramcore {d:.0%}|{p}']:.1f}"
                    for d in CONV_DENSITIES
                )
                best = min(ms[f"ramcore {d:.0%}|{p}"] for d in CONV_DENSITIES)
                conv_lines.append(
                    f"| {f['shape']} | {p} | {ms[f'dense|{p}']:.1f} | {ms[f'im2col|{p}']:.1f} | {cells} | "
                    f"{ms[f'dense|{p}'] / best:.2f}x |"
                )
        elif r["fn"] == "layer":
            for p in ("fwd", "fwd+bwd"):
                ms = {name: f["ms"][f"{name}|{p}"] for name in IMPLS}
                lines.append(
                    f"| {f['density']:.1%} | {p} | {ms['dense']:.1f} | {ms['dense masked']:.1f} | "
                    f"{ms['torch CSR']:.1f} | {ms['ramcore']:.1f} | {ms['dense'] / ms['ramcore']:.1f}x | "
                    f"{ms['torch CSR'] / ms['ramcore']:.1f}x |"
                )
        else:
            name = {"mlp": "MLP 784-4096-4096-10", "block": "transformer block (d 512, MLP 2048)"}[r["graph"]]
            train_lines.append(
                f"| {name} | {f['dense_s']:.2f} | {f['sparse_s']:.2f} | "
                f"{f['dense_s'] / f['sparse_s']:.1f}x | "
                f"{f['dense_loss']:.6f} | {f['sparse_loss']:.6f} | "
                f"{f['curve_diff']:.1e} | {f['detail']} |"
            )
    return "\n".join(lines) + "\n\n" + "\n".join(train_lines) + "\n\n" + "\n".join(conv_lines)
