"""Array interoperability: torch tensors, numpy arrays and scipy sparse matrices.

ramcore's numerics run on numpy and scipy on the CPU. These helpers turn a torch tensor (dense or
sparse, any device) into a numpy or scipy object and back, and any matrix-like input into a checked
CSR, so the modules that read such inputs never import torch for it. (Routines with a torch path of
their own, such as the GPU resistances of `ramcore.layers.resistance`, keep tensors as tensors.)
"""

from __future__ import annotations

import warnings
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

__all__ = [
    "DeviceWarning",
    "as_csr",
    "as_numpy",
    "check_symmetric",
    "from_torch",
    "is_torch",
    "networkx",
    "refuse_complex",
    "to_torch_like",
]


def networkx() -> Any:
    """The networkx module (an optional dependency), or an ImportError that says how to get it."""
    try:
        import networkx as nx
    except ImportError as err:
        hint = "the conversion to networkx needs it: pip install 'ramcore[networkx]'"
        raise ImportError(f"{err}: {hint}") from None
    return nx


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

    refuse_complex(a, "the tensor")
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
    refuse_complex(x, "the array")
    if is_torch(x):
        return np.asarray(x.detach().cpu().double().numpy(), dtype=np.float64)
    return np.asarray(x, dtype=np.float64)


def to_torch_like(x: npt.NDArray[Any], like: Any) -> Any:
    """A numpy array as a torch tensor on the device of the tensor `like`."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(x)).to(like.device)


def refuse_complex(a: Any, name: str) -> None:
    """The one policy for complex input (numpy, scipy or torch): a TypeError naming `name`. Every
    routine of ramcore works on real symmetric or real rectangular matrices; silently dropping the
    imaginary part would give numbers for a different matrix."""
    complex_dtype = a.is_complex() if is_torch(a) else np.iscomplexobj(a)
    if complex_dtype:
        raise TypeError(
            f"{name} is complex ({getattr(a, 'dtype', type(a).__name__)}); ramcore works on real "
            "matrices: pass its real part, "
            "abs() or an explicitly real matrix (Hermitian matrices are not supported)"
        )


def as_csr(a: Any, name: str) -> sp.csr_array:
    """Any matrix-like input (scipy sparse, numpy, torch) as a float64 CSR whose indptr and indices
    share one dtype (zero-copy when it already is one), checked: 2-d, real, numeric, finite."""
    refuse_complex(a, name)
    a = from_torch(a)
    m: Any
    if sp.issparse(a):
        m = sp.csr_array(cast(Any, a))
    else:
        arr = np.asarray(a)
        if arr.ndim != 2:
            raise ValueError(f"{name} must be a 2-d matrix, got shape {arr.shape}")
        if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
        m = sp.csr_array(arr)
    if m.dtype != np.float64:
        m = m.astype(np.float64)
    if not np.all(np.isfinite(m.data)):
        raise ValueError(f"{name} contains NaN or infinite entries")
    if m.indices.dtype not in (np.int32, np.int64) or m.indptr.dtype != m.indices.dtype:
        m.indices = m.indices.astype(np.int64)
        m.indptr = m.indptr.astype(np.int64)
    out: sp.csr_array = m
    return out


def check_symmetric(m: sp.csr_array, name: str, fix: str) -> None:
    """Raise ValueError (naming `name`, suggesting `fix`) unless the CSR `m` is square and symmetric
    to 1e-12 relative to its largest entry."""
    if m.shape[0] != m.shape[1]:
        raise ValueError(f"{name} must be a square symmetric matrix, got shape {m.shape}; {fix}")
    if m.nnz == 0:
        return
    asym = abs(m - m.T).max()
    if asym > 1e-12 * max(1.0, abs(m).max()):
        raise ValueError(f"{name} must be symmetric (max |A - A^T| = {asym:.3g}); {fix}")
