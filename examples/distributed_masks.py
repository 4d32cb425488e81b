"""Sparse training with ramcore masks under DDP or FSDP2, launched by torchrun.

    torchrun --nproc_per_node=2 examples/distributed_masks.py                # DDP, SNIP masks
    torchrun --nproc_per_node=2 examples/distributed_masks.py --fsdp         # FSDP2 (fully_shard)
    torchrun --nproc_per_node=2 examples/distributed_masks.py --method ramanujan --steps 50

NCCL on GPUs (one per process) when there are enough of them, gloo on the CPU otherwise. Every rank
has its own random data; the masks are the same on every rank by construction (SNIP sums every
rank's scores: the masks of the global batch), `apply_masks` checks that they are, and the script
checks at the end that the masked weights are still exactly zero and the replicas still agree. It
writes a checkpoint (`--out`, default distributed_masks.pt) that `attach_saved_masks` reads back.
"""

from __future__ import annotations

import argparse
import os

import torch
import torch.distributed as dist
from torch import nn

import ramcore.torch as rt


def model() -> nn.Sequential:
    torch.manual_seed(0)  # the same initial weights everywhere (DDP would broadcast rank 0's anyway)
    return nn.Sequential(nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10))


def batch(rank: int, step: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1000 * rank + step)  # each rank its own data
    x, y = torch.randn(64, 32, generator=gen), torch.randint(0, 10, (64,), generator=gen)
    return x.to(device), y.to(device)


def train(fsdp: bool, method: str, density: float, steps: int, out: str, device: torch.device) -> str:
    """Make the masks, train, check, save (rank 0); returns rank 0's summary line. Collective."""
    rank = dist.get_rank()
    net = model().to(device)
    # A collective call: every rank passes its own batch; every rank gets the same masks.
    masks = rt.make_masks(net, method, density, data=batch(rank, -1, device), input_shape=(32,))
    if fsdp:
        from torch.distributed.fsdp import fully_shard

        rt.apply_masks(net, masks)  # before sharding: each rank then masks its own shard
        for layer in net:
            if isinstance(layer, nn.Linear):
                fully_shard(layer)
        trained: nn.Module = fully_shard(net)
    else:
        trained = nn.parallel.DistributedDataParallel(net)
        rt.apply_masks(trained, masks)  # after wrapping works too: the masks go on the wrapped module
    opt = torch.optim.AdamW(trained.parameters(), lr=1e-3, weight_decay=0.01)
    for step in range(steps):
        x, y = batch(rank, step, device)
        opt.zero_grad()
        loss = nn.functional.cross_entropy(trained(x), y)
        loss.backward()
        opt.step()

    # Whole weights (an all-gather under FSDP2), the same on every rank, zero where masked.
    params = dict(net.named_parameters())
    weights = {n: (p.full_tensor() if hasattr(p, "full_tensor") else p) for n, p in params.items()}
    weights = {n: w.detach() for n, w in weights.items()}
    zero = all(int(torch.count_nonzero(weights[n][~m.to(device)])) == 0 for n, m in masks.items())
    rt.distributed.check_same_masks({n: weights[n] != 0 for n in masks}, "after training")
    if not zero:
        raise SystemExit(f"rank {rank}: masked weights are not zero")
    state = rt.masks_of(net)
    assert state is not None
    if rank == 0:
        cpu = {n: w.cpu() for n, w in weights.items()}
        torch.save({"model": cpu, "masks": state.state_dict()}, out)
    how = f"{'FSDP2' if fsdp else 'DDP'} on {dist.get_world_size()} ranks ({device.type})"
    return (
        f"{method} masks, {how}: density {masks.density:.4f}, final loss {loss.item():.4f}, "
        f"masked weights zero: {zero}, checkpoint {out}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fsdp", action="store_true", help="shard with FSDP2 instead of DDP")
    parser.add_argument("--method", default="snip", help="any ramcore.torch.METHODS entry")
    parser.add_argument("--density", type=float, default=0.1)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--out", default="distributed_masks.pt")
    args = parser.parse_args()

    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", 1))
    gpus = torch.cuda.is_available() and torch.cuda.device_count() >= local_world
    device = torch.device("cuda", local_rank) if gpus else torch.device("cpu")
    if gpus:
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if gpus else "gloo")
    try:
        summary = train(args.fsdp, args.method, args.density, args.steps, args.out, device)
        if dist.get_rank() == 0:
            print(summary)
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
