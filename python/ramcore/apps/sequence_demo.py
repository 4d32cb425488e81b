"""`ramcore demo --sequence`: sparse LSTMs on the bundled digits read row by row (seed 003's setting).

Seed 003 ("Graph expansion in pruned recurrent neural network layers preserves performance") prunes
the input-to-hidden and hidden-to-hidden weights of RNNs and LSTMs trained on sequential MNIST and
leaves the output layer dense. This is that setting at a size that runs in well under a minute on a
CPU: each 8 x 8 digit is a sequence of 8 steps of 8 pixels, an `nn.LSTM(8, HIDDEN)` reads it and a
dense linear layer classifies its last hidden state. `ramanujan` (gate masks whose joint W_ih / W_hh
are Ramanujan too, `ramcore.layers.gates`) and `random` masks of the LSTM's weights at each density
are compared with the dense LSTM over several seeds (Adam, as seed 003's Table 1; learning rate 0.01
for the small data set). Each row reports the test accuracy (mean +- std), the achieved density, and
the smallest Delta_S, Delta_R (seed 001) and Delta_R (seed 003, eq. 1) of W_ih and W_hh each read as
one matrix, as seed 003's figures read them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..layers.gap import ramanujan_gap
from ..torch.apply import apply_masks
from ..torch.masks import make_masks
from ..validation import positive_int
from .demo import digits, over_seeds

__all__ = ["HIDDEN", "SEQUENCE_METHODS", "SequenceRow", "run_sequence_demo", "sequence_demo"]

HIDDEN = 32
SEQUENCE_METHODS = ("dense", "ramanujan", "random")


class RowReader(nn.Module):
    """An LSTM reading an image row by row, then a dense classifier of its last hidden state."""

    def __init__(self, hidden: int = HIDDEN) -> None:
        super().__init__()
        self.lstm = nn.LSTM(8, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x.reshape(x.shape[0], 8, 8))  # (batch, 8 steps, 8 pixels)
        logits: torch.Tensor = self.fc(out[:, -1])
        return logits


@dataclass(frozen=True)
class SequenceRow:
    method: str
    target_density: float
    density: float
    accuracy_mean: float
    accuracy_std: float
    delta_s: float  # the smaller of W_ih's and W_hh's, each read as one matrix
    delta_r: float
    delta_r_003: float
    seeds: int
    seconds: float


def _train(model: nn.Module, data: tuple[torch.Tensor, ...], epochs: int, seed: int) -> float:
    xtr, xte, ytr, yte = data
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    g = torch.Generator().manual_seed(seed)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(epochs):
        model.train()
        for idx in torch.split(torch.randperm(len(xtr), generator=g), 64):
            opt.zero_grad(set_to_none=True)
            loss_fn(model(xtr[idx]), ytr[idx]).backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        return float((model(xte).argmax(1) == yte).float().mean())


def _one(method: str, density: float, seed: int, epochs: int) -> tuple[float, float, float, float, float]:
    torch.manual_seed(seed)
    model = RowReader()
    data = digits(seed)
    dens, ds, dr, dr3 = 1.0, math.nan, math.nan, math.nan
    if method != "dense":
        masks = make_masks(model, method, density, kinds=["rnn"], seed=seed)
        dens = masks.density
        gaps = [ramanujan_gap(m.numpy()) for m in masks.values()]  # (4H, in): the joint matrix
        ds, dr = min(g.delta_s for g in gaps), min(g.delta_r for g in gaps)
        dr3 = min(g.delta_r_avg for g in gaps)
        apply_masks(model, masks)
    return _train(model, data, epochs, seed), dens, ds, dr, dr3


def run_sequence_demo(
    densities: Sequence[float] = (0.1, 0.25),
    seeds: int = 3,
    epochs: int = 15,
    methods: Sequence[str] = SEQUENCE_METHODS,
    progress: bool = True,
) -> list[SequenceRow]:
    """Train the row-reading LSTM with every method and density over `seeds` seeds; one row each."""
    seeds, epochs = positive_int(seeds, "seeds"), positive_int(epochs, "epochs")
    bad = [m for m in methods if m not in SEQUENCE_METHODS]
    if bad:
        raise ValueError(f"methods must be drawn from {SEQUENCE_METHODS}, got {bad}")
    rows = []
    for method in methods:
        for density in (1.0,) if method == "dense" else densities:
            start = time.perf_counter()
            runs = [_one(method, density, s, epochs) for s in range(seeds)]
            acc, spread, achieved, ds, dr, dr3 = over_seeds(runs)
            seconds = time.perf_counter() - start
            row = SequenceRow(method, density, achieved, acc, spread, ds, dr, dr3, seeds, seconds)
            rows.append(row)
            if progress:
                print(format_row(row), flush=True)
    return rows


SEQUENCE_HEADER = (
    f"{'method':10s} {'target':>7s} {'density':>8s} {'accuracy %':>15s} {'ΔS':>7s} {'ΔR':>7s} "
    f"{'ΔR003':>7s} {'s':>6s}"
)


def format_row(r: SequenceRow) -> str:
    acc = f"{100 * r.accuracy_mean:6.2f} ± {100 * r.accuracy_std:4.2f}"
    return (
        f"{r.method:10s} {r.target_density:7.3f} {r.density:8.4f} {acc:>15s} {r.delta_s:7.3f} "
        f"{r.delta_r:7.3f} {r.delta_r_003:7.3f} {r.seconds:6.1f}"
    )


def sequence_demo(densities: Sequence[float], seeds: int, epochs: int) -> int:
    """`ramcore demo --sequence`: print the table of `run_sequence_demo`."""
    torch.set_num_threads(1)  # a tiny model: extra threads only wait
    start = time.perf_counter()
    print(f"digits read row by row (8 steps x 8 pixels), LSTM(8, {HIDDEN}) + dense classifier, {seeds} seeds")
    print(SEQUENCE_HEADER)
    run_sequence_demo(densities, seeds, epochs)
    print(
        "ΔS, ΔR, ΔR003: the smaller of W_ih and W_hh, each read as one matrix (seed 001; seed 003 eq. 1)."
        f" {time.perf_counter() - start:.0f} s"
    )
    return 0
