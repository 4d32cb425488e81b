"""Seed 002's Table 1 on ramcore's zoo: Sparsify layerwise (Algorithm 2) against global
(Algorithm 1 once on the whole network's multipartite graph), pruning at initialisation with the
magnitude score.

    python examples/sparsify_global.py                                  # vgg11 and resnet20
    python examples/sparsify_global.py --models resnet18 --densities 0.01 0.03

For every model, density and scope it prints the time, the spread of the per-layer densities
(layerwise keeps every layer at the target; global lets Algorithm 1 allocate), how many layers
are disconnected, the mean lambda_2 of the largest component after pruning (seed 002 Fig. 3), and
how many of the kept weights the two scopes share (beside how many two seeds of the global draw
share: Algorithm 1 samples, so two draws agree only where p_e is large). The paper's Table 1
compares accuracy after training (VGG-16 on CIFAR-100 at 1 %, ResNet-20 on CIFAR-10 at 3 %);
CIFAR is a download, so `--train` trains instead the convolutional network of `ramcore demo` on
scikit-learn's bundled digits, pruned at initialisation by both scopes:

    python examples/sparsify_global.py --train --densities 0.03 0.05 0.1 --seeds 5
"""

from __future__ import annotations

import argparse
import statistics
from typing import Any

import numpy as np
import torch

import ramcore
import ramcore.torch as rt


def compare(name: str, densities: list[float], seed: int = 0) -> list[dict[str, Any]]:
    """One row per (density, scope) for zoo model `name` at its default input size."""
    torch.manual_seed(seed)
    model = rt.zoo.create(name)
    inputs = rt.layer_inputs(model)
    params = dict(model.named_parameters())
    scores = ramcore.magnitude({n: params[n].detach().numpy().astype(np.float64) for n in inputs})
    rows = []
    for d in densities:
        masks = {}
        for scope in ("layerwise", "global"):
            res = ramcore.sparsify(
                scores, density=d, scope=scope, seed=seed, inputs=inputs if scope == "global" else None
            )
            masks[scope] = res.masks
            layer_d = [r.density for r in res.layers.values()]
            rows.append(
                {
                    "model": name,
                    "density": d,
                    "scope": scope,
                    "seconds": res.seconds,
                    "kept": res.density,
                    "layer_min": min(layer_d),
                    "layer_max": max(layer_d),
                    "disconnected": sum(not r.connected_after for r in res.layers.values()),
                    "layers": len(res.layers),
                    "lambda2": statistics.fmean(r.lambda2_largest_after for r in res.layers.values()),
                    "per_layer": {k: (r.density, r.lambda2_largest_after) for k, r in res.layers.items()},
                }
            )
        again = ramcore.sparsify(
            scores, density=d, scope="global", seed=seed + 1, inputs=inputs, report=False
        )
        kept = sum(int(masks["global"][k].sum()) for k in scores)
        both = sum(int((masks["layerwise"][k] & masks["global"][k]).sum()) for k in scores)
        rows[-1]["shared"] = rows[-2]["shared"] = both / kept
        # the same overlap between two seeds of the global draw: what sampling alone leaves in common
        same = sum(int((again.masks[k] & masks["global"][k]).sum()) for k in scores)
        rows[-1]["shared_seeds"] = rows[-2]["shared_seeds"] = same / kept
    return rows


def train_accuracy(density: float, scope: str, seed: int, epochs: int) -> float:
    """Test accuracy of the digits CNN of `ramcore demo` pruned at initialisation by Sparsify
    (magnitude scores, `scope`), trained like the demo's masks (same initial scaling and SGD)."""
    from ramcore.apps import demo

    torch.manual_seed(seed)
    model = demo.MODELS["cnn"]()
    data = demo.digits(seed)
    params = dict(model.named_parameters())
    inputs = rt.layer_inputs(model)
    scores = ramcore.magnitude({n: params[n].detach().numpy().astype(np.float64) for n in inputs})
    res = ramcore.sparsify(
        scores, density=density, scope=scope, seed=seed, inputs=inputs if scope == "global" else None,
        report=False,
    )
    masks = {n: torch.as_tensor(np.asarray(m)).reshape(params[n].shape) for n, m in res.masks.items()}
    demo._sparse_init(model, masks)
    rt.apply_masks(model, masks)
    return demo.train(model, data, epochs, seed, "cpu")


def train_table(densities: list[float], seeds: int, epochs: int) -> str:
    lines = ["| density | layerwise accuracy | global accuracy |", "|---|---|---|"]
    for d in densities:
        cells = []
        for scope in ("layerwise", "global"):
            acc = [100 * train_accuracy(d, scope, s, epochs) for s in range(seeds)]
            cells.append(f"{statistics.fmean(acc):.1f} ± {statistics.stdev(acc):.1f}")
        lines.append(f"| {d:.0%} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| model | density | scope | seconds (masks + λ₂ report) | layer densities | disconnected layers "
        "| mean λ₂ (largest comp.) | shared with the other scope | global vs global, seed + 1 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['density']:.0%} | {r['scope']} | {r['seconds']:.1f} "
            f"| {r['layer_min']:.2%} – {r['layer_max']:.2%} | {r['disconnected']}/{r['layers']} "
            f"| {r['lambda2']:.3f} | {r['shared']:.1%} | {r['shared_seeds']:.1%} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["vgg11", "resnet20"])
    parser.add_argument("--densities", nargs="+", type=float, default=[0.01, 0.03, 0.1])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-layer", action="store_true", help="also print every layer's density and λ₂")
    parser.add_argument("--train", action="store_true", help="train the digits CNN instead (accuracy table)")
    parser.add_argument("--seeds", type=int, default=5, help="seeds per row of --train")
    parser.add_argument("--epochs", type=int, default=10, help="epochs per run of --train")
    args = parser.parse_args()
    if args.train:
        print(train_table(args.densities, args.seeds, args.epochs))
        return
    rows = [row for m in args.models for row in compare(m, args.densities, args.seed)]
    print(table(rows))
    if args.per_layer:
        for r in rows:
            print(f"\n{r['model']} {r['density']:.0%} {r['scope']}")
            for k, (dens, lam) in r["per_layer"].items():
                print(f"  {k:<32} {dens:8.2%} {lam:7.3f}")


if __name__ == "__main__":
    main()
