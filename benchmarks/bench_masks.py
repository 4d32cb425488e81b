"""PyTorch mask benchmarks (issue 5): mask generation for ResNet-18 and VGG-16 at 5 % for every
method; the training-step time of a masked model against the same model dense, interleaved in one
process; and, for every zoo model at 1/5/10/20 %, the fraction of bipartite pieces where the
`ramanujan` mask's Delta_S / Delta_R (seed 001, normalised, largest component) beats a `random` mask
of the same density."""

from __future__ import annotations

import math
import statistics
import time

import numpy as np

TITLE = "PyTorch masks"
GEN_MODELS = ("resnet18", "vgg16")
GEN_METHODS = (
    "ramanujan", "random", "er", "erk", "random_regular", "magnitude", "snip", "grasp", "synflow", "prospr",
    "sparsify",
)
DENSITIES = (0.01, 0.05, 0.1, 0.2)
BATCH = 64  # the SNIP/GraSP batch: 64 random CIFAR-shaped inputs with random labels


def _torch():
    import torch

    torch.set_num_threads(2)
    return torch


def _figures(**kw):
    base = {"density": None, "detail": "", "dense_ms": None, "masked_ms": None, "fractions": None}
    return {**base, **kw}


# --- mask generation ------------------------------------------------------------------------------


def generate(model_name: str, method: str):
    torch = _torch()
    import ramcore.torch as rt

    torch.manual_seed(0)
    model = rt.zoo.create(model_name)
    g = torch.Generator().manual_seed(0)
    batch = (torch.randn(BATCH, 3, 32, 32, generator=g), torch.randint(0, 10, (BATCH,), generator=g))

    def work():
        masks = rt.make_masks(model, method, 0.05, data=batch, input_shape=(3, 32, 32))
        detail = {"synflow": "100 rounds, float64", "prospr": f"3 steps, batch {BATCH}"}
        detail.update({m: f"batch {BATCH}" for m in ("snip", "grasp")})
        return _figures(density=masks.density, detail=detail.get(method, ""))

    return work


# --- training-step overhead -----------------------------------------------------------------------


def train_step(model_name: str, batch: int, mode: str, steps: int = 10, rounds: int = 5):
    """Steps of SGD (momentum, weight decay) on random data, dense and masked models alternating in
    rounds so that both see the same machine state; per-step medians over all rounds."""
    torch = _torch()
    import ramcore.torch as rt

    shape = rt.zoo.input_shape(model_name)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(batch, *shape, generator=g), torch.randint(0, 10, (batch,), generator=g)

    def setup(masked: bool):
        torch.manual_seed(0)
        model = rt.zoo.create(model_name)
        if masked:
            rt.apply_masks(model, rt.make_masks(model, "ramanujan", 0.05), mode=mode)
        return model, torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

    def run(model, opt) -> list[float]:
        times = []
        for _ in range(steps):
            t = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
            times.append(time.perf_counter() - t)
        return times

    def work():
        dense, masked = setup(False), setup(True)
        run(*dense), run(*masked)  # warm-up
        td, tm = [], []
        for _ in range(rounds):
            td += run(*dense)
            tm += run(*masked)
        d, m = statistics.median(td), statistics.median(tm)
        detail = f"batch {batch}, {rounds}x{steps} steps each"
        return _figures(dense_ms=1e3 * d, masked_ms=1e3 * m, detail=detail)

    return work


# --- ramanujan vs random spectral gaps ------------------------------------------------------------


def _pieces(model, masks):
    from ramcore.layers.bipartite import weight_to_pieces
    from ramcore.torch.targets import mask_targets

    for t in mask_targets(model):
        yield from weight_to_pieces(masks[t.name].numpy(), t.pieces)


def _beats(a: float, b: float) -> bool:
    """a strictly better than b; a defined value beats an undefined (NaN) one."""
    if math.isnan(a):
        return False
    return math.isnan(b) or a > b


def spectral_fraction(density: float):
    _torch()
    import ramcore
    import ramcore.torch as rt

    def work():
        fractions = {}
        for name in rt.zoo.MODELS:
            model = rt.zoo.create(name)
            # the same density in every piece: both uniform (ramanujan's default, ER, would not be)
            ram = rt.make_masks(model, "ramanujan", density, allocation="uniform")
            rnd = rt.make_masks(model, "random", density, seed=0)
            wins = np.zeros(3, dtype=int)
            n = 0
            for a, b in zip(_pieces(model, ram), _pieces(model, rnd)):
                ga = ramcore.ramanujan_gap(a, layout="biadjacency")
                gb = ramcore.ramanujan_gap(b, layout="biadjacency")
                s, r = _beats(ga.delta_s, gb.delta_s), _beats(ga.delta_r, gb.delta_r)
                wins += (s, r, s and r)
                n += 1
            fractions[name] = (n, *(wins / n).tolist())
        return _figures(density=density, fractions=fractions)

    return work


# --- cases and table ------------------------------------------------------------------------------


def cases(quick: bool = False) -> list[dict]:
    out = []
    for model in GEN_MODELS:
        for method in GEN_METHODS:
            if quick and method == "synflow":
                continue
            out.append(
                {"graph": model, "impl": f"make_masks {method} 5 %", "fn": "generate",
                 "args": (model, method), "repeat": 1}
            )
    for model, batch in (("lenet-300-100", 256), ("resnet20", 64), ("vgg16", 16)):
        if quick and model == "vgg16":
            continue
        for mode in ("inplace", "prune"):
            out.append(
                {"graph": model, "impl": f"train step, {mode}", "fn": "train_step",
                 "args": (model, batch, mode), "repeat": 1}
            )
    for d in DENSITIES:
        out.append(
            {"graph": "zoo (13 models)", "impl": f"ramanujan vs random {d:.0%}", "fn": "spectral_fraction",
             "args": (d,), "repeat": 1}
        )
    return out


def table(results: list[dict]) -> str:
    gen = [r for r in results if r["fn"] == "generate"]
    steps = [r for r in results if r["fn"] == "train_step"]
    spectral = [r for r in results if r["fn"] == "spectral_fraction"]
    parts = []
    if gen:
        methods = list(dict.fromkeys(r["args"][1] for r in gen))
        models = list(dict.fromkeys(r["graph"] for r in gen))
        secs = {(r["graph"], r["args"][1]): r["seconds"] for r in gen}
        lines = ["| mask generation, 5 %: seconds | " + " | ".join(models) + " |",
                 "|---|" + "---:|" * len(models)]
        for m in methods:
            cells = [f"{secs[(g, m)]:.2f}" if (g, m) in secs else "" for g in models]
            lines.append(f"| `{m}` | " + " | ".join(cells) + " |")
        parts.append("\n".join(lines))
    if steps:
        lines = ["| training step (CPU, SGD) | mode | dense ms | masked ms | overhead | notes |",
                 "|---|---|---:|---:|---:|---|"]
        for r in steps:
            f = r["figures"]
            over = 100 * (f["masked_ms"] / f["dense_ms"] - 1)
            lines.append(f"| {r['graph']} | {r['args'][2]} | {f['dense_ms']:.1f} | {f['masked_ms']:.1f} "
                         f"| {over:+.1f} % | {f['detail']} |")
        parts.append("\n".join(lines))
    if spectral:
        dens = [r["figures"]["density"] for r in spectral]
        header = " | ".join(f"{d:.0%} ΔS / ΔR / both" for d in dens)
        lines = [f"| ramanujan beats random (fraction of pieces) | pieces | {header} |",
                 "|---|---:|" + "---:|" * len(dens)]
        models = list(spectral[0]["figures"]["fractions"])
        totals = np.zeros((len(dens), 3))
        count = 0
        for name in models:
            cells = []
            for i, r in enumerate(spectral):
                n, *fr = r["figures"]["fractions"][name]
                totals[i] += np.array(fr) * n
                cells.append(" / ".join(f"{x:.2f}" for x in fr))
            count += n
            lines.append(f"| {name} | {n} | " + " | ".join(cells) + " |")
        cells = [" / ".join(f"{x / count:.2f}" for x in t) for t in totals]
        lines.append(f"| **all** | {count} | " + " | ".join(cells) + " |")
        secs = sum(r["seconds"] for r in spectral)
        parts.append("\n".join(lines) + f"\n\n(all four densities: {secs:.0f} s)")
    return "\n\n".join(parts)
