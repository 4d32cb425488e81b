"""Pooling windows of node maps for the unrolled encoding (seed 004, appendix C).

A node map (K, C, H, W) holds node + 1 (0: no node) in each of K slots of every activation entry.
Pooling creates no partition: every pooled entry stands for all the nodes of its window, so the maps
here list the window's nodes in the slot axis. The `*_args` functions take the arguments of
torch.nn.functional's pooling calls and return the window parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "adaptive_args",
    "adaptive_windows",
    "avg_pool_args",
    "max_pool_args",
    "mean_args",
    "pair",
    "pool2d",
    "pool_out",
    "windows",
]


def pair(v: Any) -> tuple[int, int]:
    """An int or a pair of ints (a pooling or convolution argument) as a pair."""
    return (int(v[0]), int(v[1])) if isinstance(v, (tuple, list)) else (int(v), int(v))


def pool_out(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's pooling output size."""
    span = n + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= n + p:  # the last window must start inside the input
        out -= 1
    return out


def windows(m: Tensor, kernel: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: bool) -> Tensor:
    """(K, C, H, W) map -> (kh*kw*K, C, OH, OW): every pooled entry lists the nodes of its window."""
    k, s, p, d = (
        pair(kernel),
        pair(kernel if stride is None or stride == [] else stride),
        pair(padding),
        pair(dilation),
    )
    _, _, h, w = m.shape
    out = [pool_out(n, *a, ceil_mode) for n, a in zip((h, w), zip(k, s, p, d))]
    span = [d[i] * (k[i] - 1) + 1 for i in range(2)]
    reach = [(out[i] - 1) * s[i] + span[i] for i in range(2)]  # padded rows/columns the windows read
    m = F.pad(m, (p[1], max(0, reach[1] - w - p[1]), p[0], max(0, reach[0] - h - p[0])))
    win = m.unfold(2, span[0], s[0])[..., :: d[0]]  # (K, C, OH', W', kh)
    win = win.unfold(3, span[1], s[1])[..., :: d[1]]  # (K, C, OH', OW', kh, kw)
    win = win[:, :, : out[0], : out[1]]
    return win.permute(4, 5, 0, 1, 2, 3).reshape(-1, m.shape[1], out[0], out[1])


def adaptive_windows(m: Tensor, output_size: Any) -> Tensor:
    """Adaptive pooling windows (start = floor(i n / o), end = ceil((i + 1) n / o), as PyTorch)."""
    _, c, h, w = m.shape
    size = output_size if isinstance(output_size, (tuple, list)) else (output_size, output_size)
    out = [n if o is None else int(o) for n, o in zip((h, w), size)]

    def index(n: int, o: int) -> Tensor:
        bounds = [((i * n) // o, -(-((i + 1) * n) // o)) for i in range(o)]
        width = max(b - a for a, b in bounds)
        idx = torch.full((o, width), n, dtype=torch.long)  # n: the zero row appended below
        for i, (a, b) in enumerate(bounds):
            idx[i, : b - a] = torch.arange(a, b)
        return idx.to(m.device)

    ih, iw = index(h, out[0]), index(w, out[1])
    g = F.pad(m, (0, 1, 0, 1))[:, :, ih[:, :, None, None], iw[None, None, :, :]]  # (K, C, OH, wh, OW, ww)
    return g.permute(3, 5, 0, 1, 2, 4).reshape(-1, c, out[0], out[1])


def pool2d(m: Tensor, one_d: bool, fn: Callable[[Tensor], Tensor]) -> Tensor:
    """Apply a 2-d window function to a (K, C, H, W) map, or to (K, C, L) as (K, C, 1, L)."""
    if one_d:
        return fn(m.unsqueeze(2)).squeeze(2)
    return fn(m)


def max_pool_args(
    input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
    ceil_mode: bool = False, return_indices: bool = False,
) -> tuple[Any, Any, Any, Any, bool, bool]:  # fmt: skip
    """(kernel, stride, padding, dilation, ceil_mode, return_indices) of an F.max_pool call."""
    return kernel_size, stride, padding, dilation, ceil_mode, return_indices


def avg_pool_args(
    input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
    count_include_pad: bool = True, divisor_override: Any = None,
) -> tuple[Any, Any, Any, Any, bool, bool]:  # fmt: skip
    """The window of an F.avg_pool call, as `max_pool_args` gives it (dilation 1, no indices)."""
    return kernel_size, stride, padding, 1, ceil_mode, False


def adaptive_args(input: Any, output_size: Any, return_indices: bool = False) -> tuple[Any, bool]:
    """(output_size, return_indices) of an F.adaptive_*_pool call."""
    return output_size, return_indices


def mean_args(input: Any, dim: Any = None, keepdim: bool = False, dtype: Any = None) -> tuple[Any, bool]:
    """(dim, keepdim) of a torch.mean call."""
    return dim, keepdim
