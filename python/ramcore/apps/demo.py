"""`ramcore demo`: sparse training on scikit-learn's bundled digits (no download).

An MLP and a small CNN are trained dense and with `ramanujan` masks (the default allocation, ER,
and uniform), random masks at the same two allocations (`er`, `random`), `erk`, `snip` and
`synflow` at two densities over several seeds; the table reports test accuracy (mean +- std), the
achieved density and the mean Delta_S / Delta_R (seed 001, unweighted masks) per method. A method
written "name:allocation" is `make_masks(model, name, density, allocation=allocation)`.
"""

from __future__ import annotations

import csv
import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..layers.gap import ramanujan_gap
from ..torch.apply import apply_masks
from ..torch.masks import make_masks

__all__ = [
    "CAPTION", "HEADER", "METHODS", "MODELS", "DemoRow", "over_seeds",
    "demo", "digits", "findings", "run_demo", "train", "write_outputs",
]  # fmt: skip

METHODS = ("dense", "ramanujan", "ramanujan:uniform", "er", "random", "erk", "snip", "synflow")
# What the table compares, printed above it.
CAPTION = (
    "ramanujan: Ramanujan masks with the default (ER) allocation; ramanujan:uniform: every layer at the "
    "target density; er / random: random masks at those two allocations; erk: random masks, ERK "
    "allocation; snip, synflow: data-aware and data-free scores, ranked globally."
)


@dataclass(frozen=True)
class DemoRow:
    model: str
    method: str
    target_density: float
    density: float
    accuracy_mean: float
    accuracy_std: float
    delta_s: float
    delta_r: float
    seeds: int
    seconds: float


def digits(seed: int) -> tuple[torch.Tensor, ...]:
    """scikit-learn's bundled digits as (x_train, x_test, y_train, y_test) tensors, x as 1 x 8 x 8
    images in [0, 1]; a stratified 75/25 split drawn with `seed`."""
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError as err:  # pragma: no cover - the demo extra installs it
        raise ImportError("the demo needs scikit-learn: pip install 'ramcore[demo]'") from err
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.25, random_state=seed, stratify=y)
    return tuple(torch.as_tensor(a) for a in (xtr, xte, ytr, yte))


def _mlp() -> nn.Module:
    return nn.Sequential(
        nn.Flatten(), nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)
    )


def _cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 16, 128),
        nn.ReLU(),
        nn.Linear(128, 10),
    )


MODELS = {"mlp": _mlp, "cnn": _cnn}


def train(model: nn.Module, data: tuple[torch.Tensor, ...], epochs: int, seed: int, device: str) -> float:
    """Train with SGD (momentum 0.9, weight decay 5e-4, batches of 64 drawn with `seed`) and return
    the test accuracy."""
    xtr, xte, ytr, yte = (t.to(device) for t in data)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    g = torch.Generator().manual_seed(seed)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(epochs):
        model.train()
        for idx in torch.split(torch.randperm(len(xtr), generator=g), 64):
            idx = idx.to(device)
            opt.zero_grad(set_to_none=True)
            loss_fn(model(xtr[idx]), ytr[idx]).backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        return float((model(xte).argmax(1) == yte).float().mean())


def _gaps(masks: Any) -> tuple[float, float]:
    ds, dr = [], []
    for mask in masks.values():
        gap = ramanujan_gap(mask.cpu().numpy())
        if gap.defined and math.isfinite(gap.delta_s) and math.isfinite(gap.delta_r):
            ds.append(gap.delta_s)
            dr.append(gap.delta_r)
    return (statistics.fmean(ds), statistics.fmean(dr)) if ds else (math.nan, math.nan)


def _sparse_init(model: nn.Module, masks: Any) -> None:
    """Scale each kept weight by sqrt(dense fan-in / kept fan-in of its output unit), so a sparse
    layer starts with the activation variance of the dense one (Evci et al. 2022, "Gradient flow in
    sparse neural networks"); without it 5 % masks start with vanishing signals."""
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, mask in masks.items():
            w = params[name]
            kept = mask.reshape(mask.shape[0], -1).sum(1).clamp(min=1).to(w.dtype)
            scale = (mask[0].numel() / kept).sqrt()
            w.mul_(scale.reshape(-1, *([1] * (w.dim() - 1))))


def _one(
    name: str, method: str, density: float, seed: int, epochs: int, device: str
) -> tuple[float, float, float, float]:
    torch.manual_seed(seed)
    model = MODELS[name]()
    data = digits(seed)
    dens, ds, dr = 1.0, math.nan, math.nan
    if method != "dense":
        batch = (data[0][:256], data[2][:256])
        kind, _, allocation = method.partition(":")
        masks = make_masks(
            model, kind, density, allocation=allocation or None, data=batch, input_shape=(1, 8, 8),
            rounds=100, seed=seed,
        )
        dens = masks.density
        ds, dr = _gaps(masks)
        _sparse_init(model, masks)
        apply_masks(model, masks)
    model.to(device)
    return train(model, data, epochs, seed, device), dens, ds, dr


def over_seeds(runs: Sequence[Sequence[float]]) -> tuple[float, ...]:
    """One row from the per-seed results (accuracy, then other figures): the accuracy's mean and
    standard deviation, then the mean of every other figure."""
    acc = [r[0] for r in runs]
    spread = statistics.stdev(acc) if len(acc) > 1 else 0.0
    return (statistics.fmean(acc), spread, *(statistics.fmean(col) for col in list(zip(*runs))[1:]))


def run_demo(
    densities: Sequence[float] = (0.05, 0.1),
    seeds: int = 3,
    epochs: int = 10,
    device: str = "cpu",
    models: Sequence[str] = ("mlp", "cnn"),
    methods: Sequence[str] = METHODS,
    progress: bool = True,
) -> list[DemoRow]:
    """Train every (model, method, density) over `seeds` seeds; one row each."""
    rows = []
    for name in models:
        for method in methods:
            for density in (1.0,) if method == "dense" else densities:
                start = time.perf_counter()
                runs = [_one(name, method, density, s, epochs, device) for s in range(seeds)]
                acc, spread, achieved, ds, dr = over_seeds(runs)
                seconds = time.perf_counter() - start
                row = DemoRow(name, method, density, achieved, acc, spread, ds, dr, seeds, seconds)
                rows.append(row)
                if progress:
                    print(_format_row(row), flush=True)
    return rows


HEADER = (
    f"{'model':5s} {'method':17s} {'target':>7s} {'density':>8s} {'accuracy %':>15s} "
    f"{'ΔS':>7s} {'ΔR':>7s} {'s':>6s}"
)


def _format_row(r: DemoRow) -> str:
    acc = f"{100 * r.accuracy_mean:6.2f} ± {100 * r.accuracy_std:4.2f}"
    ds, dr = (round(v, 3) + 0.0 for v in (r.delta_s, r.delta_r))  # + 0.0: no "-0.000"
    return (
        f"{r.model:5s} {r.method:17s} {r.target_density:7.3f} {r.density:8.4f} {acc:>15s} "
        f"{ds:7.3f} {dr:7.3f} {r.seconds:6.1f}"
    )


def findings(rows: Sequence[DemoRow]) -> str:
    """What the table shows, in one line per model: the default ramanujan masks against random ERK
    masks and random masks at the same (ER) allocation, accuracy points at each density."""
    acc = {(r.model, r.method, r.target_density): 100 * r.accuracy_mean for r in rows}
    lines = []
    for model in dict.fromkeys(r.model for r in rows):
        parts = []
        for d in sorted({r.target_density for r in rows if r.model == model and r.method == "ramanujan"}):
            ours = acc[model, "ramanujan", d]
            vs = [f"{ours - acc[model, m, d]:+.1f} vs {m}" for m in ("erk", "er") if (model, m, d) in acc]
            parts.append(f"{d:.0%}: {ours:.1f} % ({', '.join(vs)})" if vs else f"{d:.0%}: {ours:.1f} %")
        if parts:
            lines.append(f"{model}: ramanujan (default allocation) " + "; ".join(parts))
    return "\n".join(lines)


def write_outputs(rows: Sequence[DemoRow], out: Path) -> tuple[Path, Path | None]:
    """CSV always; a PNG plot of accuracy against density when matplotlib is installed."""
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / "demo.csv"
    with csv_path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(asdict(rows[0])))
        writer.writeheader()
        writer.writerows(asdict(r) for r in rows)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return csv_path, None
    models = sorted({r.model for r in rows})
    fig, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 4), squeeze=False)
    for ax, name in zip(axes[0], models):
        for method in dict.fromkeys(r.method for r in rows):
            sel = [r for r in rows if r.model == name and r.method == method]
            if method == "dense" and sel:
                ax.axhline(100 * sel[0].accuracy_mean, color="k", ls="--", label="dense")
                continue
            xs = [r.target_density for r in sel]
            ax.errorbar(
                xs,
                [100 * r.accuracy_mean for r in sel],
                [100 * r.accuracy_std for r in sel],
                marker="o",
                capsize=3,
                label=method,
            )
        ax.set(
            xscale="log",
            xlabel="density (fraction kept)",
            ylabel="test accuracy (%)",
            title=f"digits, {name}",
        )
        ax.legend(fontsize=8)
    fig.tight_layout()
    png = out / "demo.png"
    fig.savefig(png, dpi=120)
    plt.close(fig)
    return csv_path, png


def demo(out: str, densities: Sequence[float], seeds: int, epochs: int, device: str) -> int:
    """`ramcore demo`: run the demo, printing a row per case, and write demo.csv and demo.png to `out`."""
    torch.set_num_threads(1)  # tiny models: extra threads only wait (and stall badly on a busy machine)
    start = time.perf_counter()
    print(CAPTION)
    print(HEADER)
    rows = run_demo(densities, seeds, epochs, device)
    print(findings(rows))
    csv_path, png = write_outputs(rows, Path(out))
    print(f"wrote {csv_path}" + (f" and {png}" if png else "") + f" in {time.perf_counter() - start:.0f} s")
    return 0
