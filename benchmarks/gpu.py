"""One command for a machine with a CUDA device: every test marked `cuda`, then a short GPU benchmark.

    python benchmarks/gpu.py                     # tests + benchmark; table to benchmarks/results-gpu.md
    python benchmarks/gpu.py --skip-tests --out x.md             # the benchmark only
    python benchmarks/gpu.py --skip-tests --device cpu --steps 2  # a smoke run of the script itself

The benchmark: mask generation on the device (ResNet-20 at 5 %, every method that runs the model
there), and the time of one training step (forward, backward, SGD step with the masks' post-step
multiply) of a masked model against the same model dense, in bf16 autocast, for ResNet-20 (CIFAR
shapes, batch 128) and a small GPT-2 (4 layers, width 256, sequence 128, batch 32; from
`transformers` when installed, else `nn.TransformerEncoder` of the same size); and issue 17's
sparse layer on the device (`sparse_layer`: dense, dense masked and `SparseLinear` on a 4096²
Linear at 1-20 %, with the share of 32 x 32 blocks a Ramanujan mask touches). Medians over the
timed steps, after warm-up, with the device synchronised. Without a CUDA device it exits with an error
(the `cuda` tests themselves skip cleanly anywhere: `pytest -m cuda`).
"""

from __future__ import annotations

import argparse
import copy
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
METHODS = ("ramanujan", "random", "erk", "magnitude", "snip", "grasp", "synflow")
WARMUP = 5


def run_tests() -> tuple[str, int]:
    """`pytest -m cuda` in a child interpreter; its summary line and exit status."""
    cmd = [sys.executable, "-m", "pytest", "-m", "cuda", "-q", "-p", "no:cacheprovider", "-rs"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    sys.stdout.write(done.stdout[-4000:])
    lines = [ln for ln in done.stdout.strip().splitlines() if ln.strip()]
    return (lines[-1] if lines else "no output"), done.returncode


def timed(torch: Any, fn: Callable[[], object]) -> float:
    """Wall time of `fn` in seconds, the device synchronised."""
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    sync()
    t = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - t


def cifar_batch(torch: Any, device: str) -> tuple[Any, Any]:
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(128, 3, 32, 32, generator=gen), torch.randint(0, 10, (128,), generator=gen)
    return x.to(device), y.to(device)


def generation(torch: Any, rt: Any, device: str) -> list[tuple[str, float]]:
    model = rt.zoo.create("resnet20").to(device)
    data = cifar_batch(torch, device)
    rows = []
    for method in METHODS:
        kw: dict[str, Any] = {"data": data} if method in ("snip", "grasp") else {}
        if method == "synflow":
            kw = {"input_shape": (3, 32, 32)}
        rows.append((method, timed(torch, lambda m=method, k=kw: rt.make_masks(model, m, 0.05, **k))))
    return rows


def gpt2_or_encoder(torch: Any, device: str) -> tuple[Any, Callable[[Any], Any], str]:
    """A small language model and its loss on a random batch."""
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 1000, (32, 128), generator=gen).to(device)
    try:
        import transformers
    except ImportError:
        nn = torch.nn
        layer = nn.TransformerEncoderLayer(256, 4, 1024, batch_first=True)
        body = nn.Sequential(nn.Embedding(1000, 256), nn.TransformerEncoder(layer, 4), nn.Linear(256, 1000))

        def encoder_loss(m: Any) -> Any:
            return nn.functional.cross_entropy(m(ids).reshape(-1, 1000), ids.reshape(-1))

        return body.to(device), encoder_loss, "nn.TransformerEncoder 4 x 256"
    config = transformers.GPT2Config(vocab_size=1000, n_positions=128, n_embd=256, n_layer=4, n_head=4)
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(config).to(device)
    return model, lambda m: m(input_ids=ids, labels=ids).loss, "GPT-2 4 x 256"


def step_ms(torch: Any, model: Any, loss_of: Callable[[Any], Any], device: str, steps: int) -> float:
    """Median milliseconds of one bf16-autocast training step."""
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device, dtype=torch.bfloat16):
            loss = loss_of(model)
        loss.backward()
        opt.step()

    times = [timed(torch, step) * 1e3 for _ in range(WARMUP + steps)]
    return statistics.median(times[WARMUP:])


def training(torch: Any, rt: Any, device: str, steps: int) -> list[tuple[str, float, float]]:
    x, y = cifar_batch(torch, device)
    resnet = rt.zoo.create("resnet20").to(device)
    cases = [(resnet, lambda m: torch.nn.functional.cross_entropy(m(x), y), "ResNet-20")]
    cases.append(gpt2_or_encoder(torch, device))
    rows = []
    for model, loss_of, name in cases:
        dense = step_ms(torch, copy.deepcopy(model), loss_of, device, steps)
        rt.apply_masks(model, rt.make_masks(model, "ramanujan", 0.1))
        rows.append((name, dense, step_ms(torch, model, loss_of, device, steps)))
    return rows


LAYER_DENSITIES = (0.01, 0.02, 0.05, 0.1, 0.2)


def sparse_layer(torch: Any, rt: Any, device: str, steps: int) -> list[tuple[Any, ...]]:
    """Issue 17's GPU question, one row per density: a 4096 x 4096 Linear at batch 256 (float32),
    dense, dense masked (weight * mask in every pass) and `SparseLinear` (on a GPU: torch's CSR
    kernels, cuSPARSE), forward and forward+backward, medians in ms; and the share of 32 x 32
    blocks a Ramanujan mask touches (what a BSR kernel would have to store and multiply)."""
    from ramcore.layers.masks import ramanujan_mask

    torch.manual_seed(0)
    linear = torch.nn.Linear(4096, 4096).to(device)
    x = torch.randn(256, 4096, device=device)
    rows = []
    for density in LAYER_DENSITIES:
        fit, _ = ramanujan_mask(4096, 4096, density)  # (inputs, outputs)
        mask = torch.from_numpy(fit.T.copy()).to(device)
        blocks = float(mask.reshape(128, 32, 128, 32).any(dim=(1, 3)).float().mean())
        sparse = rt.SparseLinear.from_linear(linear, mask)

        impls = (  # dense, dense masked, SparseLinear
            lambda: linear(x),
            lambda m=mask: torch.nn.functional.linear(x, linear.weight * m, linear.bias),
            lambda s=sparse: s(x),
        )
        figures = []
        for f in impls:
            fwd = [timed(torch, lambda f=f: _no_grad(torch, f)) for _ in range(WARMUP + steps)]
            both = [timed(torch, lambda f=f: f().sum().backward()) for _ in range(WARMUP + steps)]
            figures += [1e3 * statistics.median(fwd[WARMUP:]), 1e3 * statistics.median(both[WARMUP:])]
        rows.append((density, blocks, *figures))
    return rows


def _no_grad(torch: Any, f: Callable[[], Any]) -> Any:
    with torch.no_grad():
        return f()


def table(
    torch: Any,
    device: str,
    tests: tuple[str, int] | None,
    gen: list[tuple[str, float]],
    train: list[Any],
    layer: list[tuple[Any, ...]],
) -> str:
    where = torch.cuda.get_device_name() if device == "cuda" else "CPU (a smoke run of the script)"
    lines = [
        "# GPU results",
        "",
        f"{where}, torch {torch.__version__}, CUDA {torch.version.cuda}, Python {platform.python_version()}",
        "",
    ]
    if tests is not None:
        lines += [f"`pytest -m cuda`: {tests[0]} (exit status {tests[1]})", ""]
    lines += ["| mask generation, ResNet-20 at 5 % | seconds |", "|---|---:|"]
    lines += [f"| {method} | {s:.3f} |" for method, s in gen]
    lines += ["", "| training step, bf16 autocast | dense ms | masked ms (10 %) | ratio |"]
    lines += ["|---|---:|---:|---:|"]
    lines += [f"| {name} | {d:.2f} | {m:.2f} | {m / d:.2f} |" for name, d, m in train]
    lines += ["", "| 4096² Linear, batch 256, float32 | 32² blocks touched | dense fwd / fwd+bwd ms "
              "| masked fwd / fwd+bwd ms | SparseLinear fwd / fwd+bwd ms | SparseLinear vs dense, fwd+bwd |",
              "|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for d, b, df, db, mf, mb, sf, sb in layer:
        ms = f"{df:.2f} / {db:.2f} | {mf:.2f} / {mb:.2f} | {sf:.2f} / {sb:.2f}"
        lines.append(f"| {d:.0%} | {b:.0%} | {ms} | {db / sb:.2f}x |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results-gpu.md")
    parser.add_argument("--skip-tests", action="store_true", help="the benchmark only")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda", help="cpu: a smoke run")
    parser.add_argument("--steps", type=int, default=30, help="timed training steps per case")
    args = parser.parse_args(argv)
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        print("benchmarks/gpu.py needs a CUDA device (torch.cuda.is_available() is False)", file=sys.stderr)
        return 2
    import ramcore.torch as rt

    tests = None if args.skip_tests else run_tests()
    gen = generation(torch, rt, args.device)
    train = training(torch, rt, args.device, args.steps)
    text = table(torch, args.device, tests, gen, train, sparse_layer(torch, rt, args.device, args.steps))
    args.out.write_text(text)
    print(text)
    return 0 if tests is None or tests[1] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
