"""ramcore.torch.distributed: the same masks on every rank, under DDP and FSDP2, for real.

Each test spawns 2 processes that form a gloo group on 127.0.0.1 (a free port), run the scenario and
save what they hold; the test compares the ranks here, independently of ramcore's own hash check.
The group is bounded in time (a timeout kills it) and torn down by the workers.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")
if not dist.is_available():  # pragma: no cover - torch built without distributed
    pytest.skip("torch.distributed is not available", allow_module_level=True)

import torch.multiprocessing as mp  # noqa: E402
from torch import Tensor, nn  # noqa: E402

import ramcore.torch as rt  # noqa: E402
from ramcore.torch.distributed import MasksDiffer  # noqa: E402

WORLD = 2
TIMEOUT_S = 120  # per spawned group; each takes a few seconds on an idle machine


# --- harness ---------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def run_ranks(worker: Callable[..., None], out: Path) -> list[dict[str, Any]]:
    """Run `worker(rank, port, out)` in WORLD spawned processes; return what each saved."""
    args = (free_port(), str(out))
    ctx = mp.start_processes(worker, args=args, nprocs=WORLD, join=False, start_method="spawn")
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while not ctx.join(timeout=1.0):  # re-raises a worker's exception, with its traceback
            if time.monotonic() > deadline:
                pytest.fail(f"the {WORLD}-process group did not finish within {TIMEOUT_S} s")
    finally:
        for p in ctx.processes:
            if p.is_alive():
                p.kill()
                p.join()
    return [torch.load(out / f"rank{r}.pt", weights_only=False) for r in range(WORLD)]


def init(rank: int, port: int) -> None:
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD,
        timeout=timedelta(seconds=60),
    )


def net(seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 16), nn.ReLU(),
        nn.Linear(16, 3),
    )


def batch(seed: int, n: int = 8) -> tuple[Tensor, Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, 6, 6, generator=gen), torch.randint(0, 3, (n,), generator=gen)


def masked_nonzero(model: nn.Module, masks: dict[str, Tensor]) -> int:
    params = dict(model.named_parameters())
    return sum(int(torch.count_nonzero(params[n].detach()[~m])) for n, m in masks.items())


def train(model: nn.Module, opt: torch.optim.Optimizer, data: tuple[Tensor, Tensor], steps: int) -> None:
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(data[0]), data[1]).backward()
        opt.step()


def error_of(call: Callable[[], object]) -> str:
    try:
        call()
    except Exception as err:  # the test compares type and message
        return f"{type(err).__name__}: {err}"
    return "no error"


# --- DDP -------------------------------------------------------------------------------------------------
METHODS = {  # every method family; each rank has its own weights (seed 10 + rank) and its own batch
    "ramanujan": {}, "random": {"seed": 3}, "erk": {}, "random_regular": {"seed": 3},
    "magnitude": {}, "synflow": {"input_shape": (1, 6, 6), "rounds": 5}, "sparsify": {},
    "snip": {"data": True}, "grasp": {"data": True}, "prospr": {"data": True},
}


def worker(rank: int, port: int, out: str) -> None:
    """Both scenarios in one process group (one spawn: each costs seconds of imports)."""
    init(rank, port)
    try:
        saved = {"ddp": ddp_scenario(rank), "fsdp": fsdp_scenario(rank, Path(out) / "dcp")}
        saved["example"] = example_scenario(Path(out))
        torch.save(saved, Path(out) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def example_scenario(out: Path) -> list[str]:
    """examples/distributed_masks.py's training, in this group (torchrun would start the same)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
    import distributed_masks as example

    return [
        example.train(fsdp, method, 0.1, 2, str(out / f"example-{fsdp}.pt"), torch.device("cpu"))
        for fsdp, method in ((False, "snip"), (True, "synflow"))
    ]


@pytest.fixture(scope="module")
def ranks(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    with pytest.MonkeyPatch.context() as mp_env:
        mp_env.setenv("GLOO_SOCKET_IFNAME", "lo")  # loopback only
        mp_env.setenv("OMP_NUM_THREADS", "1")
        return run_ranks(worker, tmp_path_factory.mktemp("ranks"))


def ddp_scenario(rank: int) -> dict[str, Any]:
    from torch.nn.parallel import DistributedDataParallel as DDP

    saved: dict[str, Any] = {}
    model, data = net(10 + rank), batch(20 + rank)  # different inits, different batches
    for method, kw in METHODS.items():
        kw = {**kw, "data": data} if kw.get("data") else kw
        saved[method] = dict(rt.make_masks(model, method, 0.3, **kw))
    # without the collective, the data- and weight-dependent masks differ (what the issue found)
    saved["snip_local"] = dict(rt.make_masks(model, "snip", 0.3, data=data, collective=False))

    # apply after wrapping: DDP broadcasts rank 0's weights, the masks go on the wrapped module
    masks = saved["snip"]
    after = DDP(model)
    opt = torch.optim.SGD(after.parameters(), lr=0.1, momentum=0.9)
    train(after, opt, data, steps=2)  # dense momentum everywhere
    state = rt.apply_masks(after, {f"module.{n}": m for n, m in masks.items()})  # the wrapper's names
    assert rt.masks_of(after) is state and rt.masks_of(model) is state
    saved["of_wrapper"] = dict(rt.make_masks(after, "ramanujan", 0.3))  # the wrapped module's names
    train(after, opt, data, steps=3)
    saved["after_weights"] = {n: p.detach().clone() for n, p in model.named_parameters()}
    saved["after_masked_nonzero"] = masked_nonzero(model, masks)
    saved["after_momentum"] = sum(
        int(torch.count_nonzero(opt.state[p]["momentum_buffer"][~masks[n]]))
        for n, p in model.named_parameters() if n in masks
    )
    # apply before wrapping
    before = net(30 + rank)
    rt.apply_masks(before, saved["grasp"])
    wrapped = DDP(before)
    train(wrapped, torch.optim.AdamW(wrapped.parameters(), lr=0.01), data, steps=3)
    saved["before_weights"] = {n: p.detach().clone() for n, p in before.named_parameters()}
    saved["before_masked_nonzero"] = masked_nonzero(before, saved["grasp"])

    # masks that differ across ranks are refused on every rank, naming the layers
    local = rt.make_masks(net(0), "random", 0.3, seed=rank, collective=False)
    saved["differ"] = error_of(lambda: rt.apply_masks(net(0), local))
    saved["differ_type"] = error_of(lambda: rt.distributed.check_same_masks(local, "check"))
    # a failure on one rank (no data on rank 1) is an error on both, not a hang
    mine = data if rank == 0 else None
    saved["fails"] = error_of(lambda: rt.make_masks(net(0), "snip", 0.3, data=mine))
    return saved


def test_ddp_masks_and_weights_agree_across_ranks(ranks: list[dict[str, Any]]) -> None:
    r0, r1 = (r["ddp"] for r in ranks)
    for method in METHODS:
        assert r0[method].keys() == r1[method].keys(), method
        assert all(torch.equal(r0[method][n], r1[method][n]) for n in r0[method]), method
        kept = sum(int(m.sum()) for m in r0[method].values())
        total = sum(m.numel() for m in r0[method].values())
        assert abs(kept / total - 0.3) < 0.01, method
    assert any(not torch.equal(r0["snip_local"][n], r1["snip_local"][n]) for n in r0["snip_local"])
    assert all(torch.equal(r0["of_wrapper"][n], m) for n, m in r0["ramanujan"].items())
    for case in ("after", "before"):
        w0, w1 = r0[f"{case}_weights"], r1[f"{case}_weights"]
        assert all(torch.equal(w0[n], w1[n]) for n in w0), case  # replicas in step
        assert r0[f"{case}_masked_nonzero"] == r1[f"{case}_masked_nonzero"] == 0, case
    assert r0["after_momentum"] == r1["after_momentum"] == 0
    for r in (r0, r1):
        assert r["differ"].startswith("MasksDiffer: apply_masks: masks differ across ranks in 3 of 3 layers")
        assert "0.weight, 3.weight, 5.weight" in r["differ"]
        assert r["differ_type"].startswith("MasksDiffer: check")
    assert r0["fails"].startswith("RuntimeError: make_masks: failed on another rank")
    assert r1["fails"].startswith("ValueError: method='snip' needs data")


def test_the_torchrun_example_trains_masked(ranks: list[dict[str, Any]]) -> None:
    for r in ranks:  # each rank's summary (its own final loss)
        ddp, fsdp = r["example"]
        assert "snip masks, DDP on 2 ranks (cpu): density 0.1000" in ddp
        assert "synflow masks, FSDP2 on 2 ranks (cpu): density 0.1000" in fsdp
        assert "masked weights zero: True" in ddp and "masked weights zero: True" in fsdp


def test_collective_needs_a_process_group() -> None:
    assert not dist.is_initialized()
    with pytest.raises(RuntimeError, match="collective=True: torch.distributed is not initialised"):
        rt.make_masks(net(0), "ramanujan", 0.3, collective=True)
    with pytest.raises(TypeError, match="collective: expected None or a bool"):
        rt.apply_masks(net(0), rt.make_masks(net(0), "ramanujan", 0.3), collective="yes")  # type: ignore[arg-type]
    assert issubclass(MasksDiffer, RuntimeError)


# --- FSDP2 -----------------------------------------------------------------------------------------------
def mlp(seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 3))


def shard(model: nn.Sequential) -> nn.Sequential:
    from torch.distributed.fsdp import fully_shard

    for layer in model:
        if isinstance(layer, nn.Linear):
            fully_shard(layer)
    fully_shard(model)
    return model


def full_weights(model: nn.Module) -> dict[str, Tensor]:
    """Every parameter as a whole tensor (a collective under FSDP2)."""
    return {n: p.full_tensor().detach().clone() for n, p in model.named_parameters()}


def fsdp_scenario(rank: int, dcp_dir: Path) -> dict[str, Any]:
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        get_model_state_dict,
        set_model_state_dict,
    )

    saved: dict[str, Any] = {}
    x = torch.randn(8, 12, generator=torch.Generator().manual_seed(rank))
    y = torch.randint(0, 3, (8,), generator=torch.Generator().manual_seed(rank))
    masks = dict(rt.make_masks(mlp(0), "ramanujan", 0.25))
    saved["masks"] = masks
    for when in ("before", "after"):  # apply_masks before or after fully_shard
        model = mlp(rank)
        if when == "before":
            state = rt.apply_masks(model, masks)
            shard(model)
        else:
            state = rt.apply_masks(shard(model), masks)
        opt = torch.optim.AdamW(model.parameters(), lr=0.05, weight_decay=0.1)
        train(model, opt, (x, y), steps=4)
        saved[f"{when}_weights"] = full_weights(model)
        saved[f"{when}_state"] = sum(  # the optimizer did build state on this rank's shards
            int(torch.count_nonzero(rt.distributed.local(opt.state[p]["exp_avg_sq"])))
            for n, p in model.named_parameters() if n in masks
        )
        saved[f"{when}_state_masked"] = sum(
            int(torch.count_nonzero(
                rt.distributed.local(opt.state[p][k])[~rt.distributed.local_part(masks[n], p)]
            ))
            for n, p in model.named_parameters() if n in masks for k in ("exp_avg", "exp_avg_sq")
        )
        saved[f"{when}_masks"] = state.masks()  # the whole masks, not the shards

    # checkpoint round trips: a full state dict, and torch.distributed.checkpoint (sharded)
    full = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True))
    fresh = shard(mlp(50))
    rt.attach_saved_masks(fresh, {"masks": state.state_dict(), "step": 4})
    set_model_state_dict(fresh, full, options=StateDictOptions(full_state_dict=True))
    saved["full_round_trip"] = full_weights(fresh)
    dcp.save(model.state_dict(), checkpoint_id=dcp_dir)
    fresh = shard(mlp(60))
    rt.apply_masks(fresh, masks)
    sharded = fresh.state_dict()
    dcp.load(sharded, checkpoint_id=dcp_dir)
    fresh.load_state_dict(sharded)
    opt = torch.optim.SGD(fresh.parameters(), lr=0.1, momentum=0.9)
    train(fresh, opt, (x, y), steps=2)  # training goes on after the load
    saved["dcp_round_trip"] = full_weights(fresh)
    dense = shard(mlp(70)).state_dict()  # a dense checkpoint loaded into a masked model: masked
    fresh.load_state_dict(dense)
    saved["dense_load"] = full_weights(fresh)
    saved["prune"] = error_of(lambda: rt.apply_masks(shard(mlp(0)), masks, mode="prune"))
    saved["magnitude"] = error_of(lambda: rt.make_masks(shard(mlp(0)), "magnitude", 0.25))
    saved["ramanujan_sharded"] = dict(rt.make_masks(shard(mlp(0)), "ramanujan", 0.25))
    return saved


def test_fsdp2_masked_entries_stay_zero(ranks: list[dict[str, Any]]) -> None:
    r0, r1 = (r["fsdp"] for r in ranks)
    masks = r0["masks"]
    for key in ("before_weights", "after_weights", "full_round_trip", "dcp_round_trip", "dense_load"):
        w0, w1 = r0[key], r1[key]
        assert all(torch.equal(w0[n], w1[n]) for n in w0), key  # one model, seen whole from each rank
        for n, m in masks.items():
            assert torch.count_nonzero(w0[n][~m]) == 0, (key, n)
            assert torch.count_nonzero(w0[n][m]) == int(m.sum()), (key, n)  # kept weights are alive
    assert torch.equal(r0["full_round_trip"]["2.weight"], r0["after_weights"]["2.weight"])
    for r in (r0, r1):
        for when in ("before", "after"):
            assert r[f"{when}_state"] > 0
            assert r[f"{when}_state_masked"] == 0, when
            assert all(torch.equal(r[f"{when}_masks"][n], m) for n, m in masks.items())
        assert "mode='prune' cannot re-parametrise sharded" in r["prune"]
        assert "make the masks before fully_shard" in r["magnitude"]
        assert all(torch.equal(r["ramanujan_sharded"][n], m) for n, m in masks.items())
