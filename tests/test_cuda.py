"""The CUDA code paths of ramcore.torch, on a real GPU (the tests are marked `cuda` and skip
without one; `python benchmarks/gpu.py` runs them all, with the other `cuda` tests, then the GPU
benchmark).

Paths covered: masks made on the CPU applied to CUDA parameters (weights, gradients, optimizer state
on the device, bf16 parameters and autocast); every score method on a CUDA model (batches moved to
the device, scores and masks the CPU's); transformers models on the GPU in bf16; ramcore's
collectives on the NCCL backend (tensors on the current CUDA device).
"""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest

torch = pytest.importorskip("torch")

from torch import Tensor, nn  # noqa: E402

import ramcore.torch as rt  # noqa: E402


def small_cnn(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 8 * 8, 10)
    )


def batch(device: str = "cuda") -> tuple[Tensor, Tensor]:
    gen = torch.Generator().manual_seed(1)
    x, y = torch.randn(16, 3, 8, 8, generator=gen), torch.randint(0, 10, (16,), generator=gen)
    return x.to(device), y.to(device)


def masked_nonzero(model: nn.Module, masks: dict[str, Tensor]) -> int:
    params = dict(model.named_parameters())
    return sum(
        int(torch.count_nonzero(params[n].detach()[~m.to(params[n].device)])) for n, m in masks.items()
    )


@pytest.mark.cuda
@pytest.mark.parametrize(
    "method", ["ramanujan", "random", "erk", "magnitude", "snip", "grasp", "synflow", "prospr"]
)
def test_every_method_on_a_cuda_model_matches_the_cpu(method: str) -> None:
    kw = {"data": batch("cpu")} if method in ("snip", "grasp", "prospr") else {}
    if method == "synflow":
        kw = {"input_shape": (3, 8, 8), "rounds": 10}
    cpu = rt.make_masks(small_cnn(), method, 0.2, **kw)
    gpu = rt.make_masks(small_cnn().cuda(), method, 0.2, **kw)  # CPU batches go to the model's device
    assert all(not m.is_cuda for m in gpu.values())  # masks are CPU bool tensors either way
    for n in cpu:
        assert int(gpu[n].sum()) == int(cpu[n].sum()), (method, n)
        if method in ("ramanujan", "random", "erk", "magnitude"):  # no float reductions: bit-identical
            assert torch.equal(gpu[n], cpu[n]), (method, n)
        else:  # float sums in another order may swap near-ties; most of the mask agrees
            assert float((gpu[n] == cpu[n]).float().mean()) > 0.9, (method, n)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_optimizer_state_and_weights_stay_masked_on_the_gpu(dtype: torch.dtype) -> None:
    model = small_cnn().cuda().to(dtype)
    masks = dict(rt.make_masks(model, "ramanujan", 0.2))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    x, y = batch()
    for step in range(4):
        if step == 2:
            rt.apply_masks(model, masks)  # after dense steps: moments at masked entries are reset
        opt.zero_grad()
        nn.functional.cross_entropy(model(x.to(dtype)).float(), y).backward()
        opt.step()
    assert masked_nonzero(model, masks) == 0
    params = dict(model.named_parameters())
    for n, m in masks.items():
        state = opt.state[params[n]]
        assert state["exp_avg"].is_cuda
        assert torch.count_nonzero(state["exp_avg"][~m.cuda()]) == 0, n


@pytest.mark.cuda
def test_autocast_bf16_training_keeps_masks() -> None:
    model = small_cnn().cuda()
    masks = rt.make_masks(model, "snip", 0.2, data=batch())
    rt.apply_masks(model, masks)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = batch()
    for _ in range(3):
        opt.zero_grad()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    assert masked_nonzero(model, dict(masks)) == 0


@pytest.mark.cuda
def test_transformers_gpt2_on_the_gpu_in_bf16() -> None:
    transformers = pytest.importorskip("transformers")
    config = transformers.GPT2Config(vocab_size=64, n_positions=8, n_embd=16, n_layer=2, n_head=2)
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(config).cuda().to(torch.bfloat16)
    ids = torch.randint(0, 64, (4, 8), device="cuda")
    batch = {"input_ids": ids, "labels": ids}
    masks = rt.make_masks(model, "snip", 0.3, data=batch)
    rt.apply_masks(model, masks)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for _ in range(2):
        opt.zero_grad()
        model(**batch).loss.backward()
        opt.step()
    assert masked_nonzero(model, dict(masks)) == 0


@pytest.mark.cuda
def test_collectives_on_nccl() -> None:
    """ramcore's collectives take CUDA tensors under NCCL (a one-process group here)."""
    dist = pytest.importorskip("torch.distributed")
    if not dist.is_nccl_available():
        pytest.skip("torch built without NCCL")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    torch.cuda.set_device(0)
    dist.init_process_group(
        "nccl", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1, timeout=timedelta(seconds=60)
    )
    try:
        model = small_cnn().cuda()
        local = rt.make_masks(model, "snip", 0.2, data=batch(), collective=False)
        shared = rt.make_masks(model, "snip", 0.2, data=batch())  # sum over one rank: the same
        assert all(torch.equal(local[n], shared[n]) for n in local)
        magnitude = rt.make_masks(model, "magnitude", 0.2)  # built on rank 0, broadcast
        rt.apply_masks(model, magnitude)
        assert masked_nonzero(model, dict(magnitude)) == 0
    finally:
        dist.destroy_process_group()


def test_the_gpu_command_refuses_to_run_without_a_gpu(capsys: pytest.CaptureFixture[str]) -> None:
    """`python benchmarks/gpu.py` runs the tests above and the benchmark; here, with no device, it says so."""
    import sys
    from pathlib import Path

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is here: benchmarks/gpu.py would run")
    sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
    try:
        import gpu
    finally:
        sys.path.pop(0)
    assert gpu.main(["--skip-tests"]) == 2
    assert "needs a CUDA device" in capsys.readouterr().err


@pytest.mark.cuda
def test_reports_pruning_and_encodings_read_a_cuda_model() -> None:
    """report, ramanujan_prune and encode read the weights of a model on the GPU (copied to the CPU)."""
    model = small_cnn().cuda()
    masks = rt.make_masks(model, "ramanujan", 0.2)
    rt.apply_masks(model, masks)
    rows = rt.report(model, print_table=False)
    cpu_rows = rt.report(small_cnn(), dict(masks), print_table=False)
    assert [(r.name, r.edges) for r in rows] == [(r.name, r.edges) for r in cpu_rows]
    pruned = rt.ramanujan_prune(model, "magnitude", 0.2)
    assert all(not m.is_cuda for m in pruned.masks.values())
    g = rt.encode(model, (3, 8, 8), dict(masks))
    assert g.num_nodes > 0
