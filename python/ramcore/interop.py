"""Array interoperability: torch tensors, numpy arrays and scipy sparse matrices.

ramcore's numerics run on numpy and scipy on the CPU. These helpers are the one place that knows
how a torch tensor (dense or sparse, any device) becomes a numpy or scipy object and back, so the
rest of the package never imports torch to read an input.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

__all__ = ["DeviceWarning", "as_numpy", "from_torch", "is_torch", "to_torch_like"]


class DeviceWarning(UserWarning):
    """A tensor on an accelerator was copied to the CPU for ramcore's solver."""


def is_torch(a: Any) -> bool:
    """Whether `a` is a torch object (checked by module name, so torch is never imported)."""
    return type(a).__module__.startswith("torch")


def from_torch(a: Any, stacklevel: int = 3) -> Any:
    """A torch tensor as float64 numpy (dense) or scipy CSR (sparse COO/CSR), on the CPU; other
    objects unchanged. A tensor on an accelerator is copied with a `DeviceWarning`."""
    if not is_torch(a):
        return a
    import torch

    if a.device.type != "cpu":
        warnings.warn(
            f"ramcore's solver runs on the CPU: copying the {tuple(a.shape)} tensor from {a.device}",
            DeviceWarning,
            stacklevel=stacklevel,
        )
    a = a.detach().cpu()
    if a.layout == torch.sparse_coo:
        a = a.coalesce()
        idx = a.indices().numpy()
        return sp.csr_array((a.values().numpy().astype(np.float64), (idx[0], idx[1])), shape=tuple(a.shape))
    if a.layout == torch.sparse_csr:
        return sp.csr_array(
            (a.values().numpy().astype(np.float64), a.col_indices().numpy(), a.crow_indices().numpy()),
            shape=tuple(a.shape),
        )
    return a.to(torch.float64).numpy()


def as_numpy(x: Any) -> npt.NDArray[np.float64]:
    """A dense tensor or array-like as a float64 numpy array (a tensor is copied to the CPU)."""
    if is_torch(x):
        return np.asarray(x.detach().cpu().double().numpy(), dtype=np.float64)
    return np.asarray(x, dtype=np.float64)


def to_torch_like(x: npt.NDArray[Any], like: Any) -> Any:
    """A numpy array as a torch tensor on the device of the tensor `like`."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(x)).to(like.device)
