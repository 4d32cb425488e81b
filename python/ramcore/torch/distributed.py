"""Masks under `torch.distributed`: the same masks on every rank, by construction, and checked.

When a default process group is initialised (`torch.distributed.is_initialized()`), `make_masks` and
`apply_masks` are collective calls: every rank of the group must make them, with the same arguments
(`collective=False` makes them local to one process again). What each method does there:

- data-free deterministic methods (`ramanujan`, `random`, `er`, `erk`, `random_regular`): every rank
  builds the masks itself; they depend only on the layer shapes and `seed`, so they agree.
- data-dependent methods (`snip`, `grasp`, `prospr`): every rank scores its own batches with its own
  weights; the scores are summed across ranks (`sum_scores`, one all-reduce), so the mask reflects the
  global batch, and every rank ranks the same summed scores.
- weight-dependent methods (`magnitude`, `synflow`, `sparsify`): rank 0 builds the masks from its
  own weights (and, for `sparsify` with `score="snip"`, its own batches) and broadcasts them
  (`broadcast_masks`); the other ranks wait. Rank 0's weights are the ones `DistributedDataParallel`
  broadcasts when it wraps the model, so the masks match the weights that are trained.

Then every rank hashes its masks and the hashes are all-gathered (`check_same_masks`): masks that
differ anywhere raise `MasksDiffer` on every rank, naming the layers. `apply_masks` makes the same
check on the masks it applied. A failure on one rank (a bad batch, an exception while scoring) is
reported on every rank instead of leaving the others waiting (`together`).

Collectives run on the CPU for gloo and on the current CUDA device for NCCL. `unwrap` gives the
module inside a `DistributedDataParallel` (or `DataParallel`) wrapper: masks are keyed by the names of
the wrapped module's parameters, so they apply the same before or after wrapping.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

__all__ = [
    "MasksDiffer",
    "active",
    "broadcast_masks",
    "check_same_masks",
    "is_dtensor",
    "layout",
    "local",
    "local_part",
    "rank",
    "sum_scores",
    "together",
    "unwrap",
]


class MasksDiffer(RuntimeError):
    """Masks differ across the ranks of the process group."""


def active(collective: bool | None = None) -> bool:
    """Whether mask calls are collective: `collective`, or by default whether a process group is up."""
    if collective is not None and not isinstance(collective, bool):
        raise TypeError(f"collective: expected None or a bool, got {collective!r}")
    up = dist.is_available() and dist.is_initialized()
    if collective and not up:
        raise RuntimeError(
            "collective=True: torch.distributed is not initialised; call "
            "torch.distributed.init_process_group first, or leave collective=None"
        )
    return up if collective is None else collective


def rank() -> int:
    """This process's rank in the default group (0 without one)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside a `DistributedDataParallel` or `DataParallel` wrapper, else `model`."""
    wrappers = (nn.parallel.DistributedDataParallel, nn.DataParallel)
    while isinstance(model, wrappers):
        model = model.module
    return model


def is_dtensor(tensor: object) -> bool:
    """Whether `tensor` is a `torch.distributed.tensor.DTensor` (an FSDP2-sharded parameter)."""
    if not dist.is_available():
        return False
    from torch.distributed.tensor import DTensor

    return isinstance(tensor, DTensor)


def local(tensor: Tensor) -> Tensor:
    """A DTensor's local shard (a view: writing it writes the DTensor), or `tensor` itself."""
    if is_dtensor(tensor):
        shard: Tensor = tensor.to_local()  # type: ignore[attr-defined]
        return shard
    return tensor


def layout(tensor: Tensor) -> tuple[object, ...]:
    """How a DTensor is laid out (mesh, placements, global shape): equal layouts shard alike."""
    dt: Any = tensor
    return (dt.device_mesh, tuple(dt.placements), tuple(dt.shape))


def local_part(full: Tensor, like: Tensor) -> Tensor:
    """The part of `full` (a whole-parameter tensor) that this rank holds of the DTensor `like`.

    Sliced locally (`src_data_rank=None`: no communication): every rank holds the same full masks."""
    from torch.distributed.tensor import distribute_tensor

    part = distribute_tensor(
        full.to(like.device), like.device_mesh, like.placements, src_data_rank=None  # type: ignore[attr-defined]
    )
    local: Tensor = part.to_local()
    return local


def _device() -> torch.device:
    """Where the default group's collectives take their tensors."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


@contextlib.contextmanager
def together(what: str, collective: bool = True) -> Iterator[None]:
    """Run the block on every rank; if it raises on any rank, every rank raises.

    The rank that failed re-raises its own error; the others raise a RuntimeError naming `what`, rather
    than waiting forever in the next collective for a rank that left."""
    if not collective:
        yield
        return
    try:
        yield
    except BaseException:
        _any_failed(True)
        raise
    if _any_failed(False):
        raise RuntimeError(f"{what}: failed on another rank (its own error says why); nothing was done")


def _any_failed(failed: bool) -> bool:
    flag = torch.tensor([int(failed)], dtype=torch.int32, device=_device())
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(flag.item())


def sum_scores(scores: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Each score tensor summed over the ranks (one all-reduce of the concatenated scores).

    Every rank receives the same result: the masks ranked from it agree."""
    names = list(scores)
    flat = torch.cat([scores[n].detach().reshape(-1).to(torch.float64) for n in names]).to(_device())
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    out: dict[str, Tensor] = {}
    start = 0
    for n in names:
        s = scores[n]
        out[n] = flat[start : start + s.numel()].reshape(s.shape).to(device=s.device, dtype=s.dtype)
        start += s.numel()
    return out


def broadcast_masks(masks: Mapping[str, Tensor], shapes: Mapping[str, Sequence[int]]) -> dict[str, Tensor]:
    """Rank 0's bool `masks` on every rank (one broadcast); the other ranks' `masks` are ignored."""
    sizes = [int(torch.Size(shapes[n]).numel()) for n in shapes]
    if rank() == 0:
        flat = torch.cat([masks[n].reshape(-1).to(torch.uint8) for n in shapes]).to(_device())
    else:
        flat = torch.empty(sum(sizes), dtype=torch.uint8, device=_device())
    dist.broadcast(flat, src=0)
    flat = flat.cpu().bool()
    out: dict[str, Tensor] = {}
    start = 0
    for n, size in zip(shapes, sizes):
        out[n] = flat[start : start + size].reshape(tuple(shapes[n])).clone()
        start += size
    return out


def mask_digests(masks: Mapping[str, Tensor]) -> dict[str, str]:
    """A short hash of each bool mask (its shape and bits): equal masks give equal digests."""
    digests = {}
    for name, mask in masks.items():
        bits = mask.detach().to(device="cpu", dtype=torch.bool).contiguous().numpy()
        h = hashlib.blake2b(str(tuple(mask.shape)).encode(), digest_size=16)
        h.update(bits.tobytes())
        digests[name] = h.hexdigest()
    return digests


def check_same_masks(masks: Mapping[str, Tensor], what: str) -> None:
    """Raise `MasksDiffer` on every rank unless every rank holds the same masks (hash all-gather)."""
    mine = mask_digests(masks)
    gathered: list[dict[str, str] | None] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, mine)
    names = list(dict.fromkeys(n for g in gathered for n in (g or {})))
    differ = [n for n in names if len({(g or {}).get(n) for g in gathered}) > 1]
    if differ:
        shown = ", ".join(differ[:10]) + (f" and {len(differ) - 10} more" if len(differ) > 10 else "")
        raise MasksDiffer(
            f"{what}: masks differ across ranks in {len(differ)} of {len(names)} layers: {shown}. Make "
            "the masks with ramcore.torch.make_masks on every rank with the same arguments (it agrees "
            "by construction), or build them on one rank and broadcast them"
        )
