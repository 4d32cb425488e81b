"""Winning tickets by iterative magnitude pruning with rewinding, on scikit-learn's digits
(seed 001's loop; `ramcore.torch.iterative_pruning`).

    python examples/imp_digits.py               # plain magnitude pruning, 5 rounds of 50 %
    python examples/imp_digits.py --ramanujan   # each round by seed 001 Algorithm 1

Each round trains a 64-256-256-10 MLP for 30 epochs from the rewind point (the weights after the
first round's first epoch), prunes, and prints the test accuracy and how many layers are Ramanujan.
"""

from __future__ import annotations

import argparse

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

import ramcore.torch as rt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--fraction", type=float, default=0.5)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--ramanujan", action="store_true", help="prune by seed 001 Algorithm 1")
    args = parser.parse_args()

    x, y = load_digits(return_X_y=True)
    xtr, xte, ytr, yte = train_test_split(x / 16.0, y, test_size=0.3, random_state=0, stratify=y)
    xtr, xte = torch.tensor(xtr, dtype=torch.float32), torch.tensor(xte, dtype=torch.float32)
    ytr, yte = torch.tensor(ytr), torch.tensor(yte)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))

    def train(model: nn.Module, rewind_point) -> float:
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        gen = torch.Generator().manual_seed(1)
        for epoch in range(args.epochs):
            if epoch == 1:
                rewind_point()  # rewind to the end of epoch 0 (Frankle et al. 2020)
            for idx in torch.randperm(len(xtr), generator=gen).split(64):
                opt.zero_grad()
                nn.functional.cross_entropy(model(xtr[idx]), ytr[idx]).backward()
                opt.step()
        with torch.no_grad():
            return float((model(xte).argmax(1) == yte).float().mean())

    res = rt.iterative_pruning(
        model, train, args.rounds, fraction=args.fraction, ramanujan=args.ramanujan, exclude_last=True
    )
    print(f"{'round':>5} {'density':>8} {'accuracy':>8} {'Ramanujan layers':>17}")
    for r in res.rounds:
        print(f"{r.round:>5} {r.density:>8.4f} {r.metrics:>8.4f} {r.ramanujan_pieces:>10} of {len(r.layers)}")


if __name__ == "__main__":
    main()
