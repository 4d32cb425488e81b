"""PyTorch integration: Ramanujan and baseline sparsity masks for real layers, applying them to
models, and layer-wise spectral reports.

torch is an optional dependency of ramcore: `import ramcore` works without it, this subpackage
needs it.
"""

from __future__ import annotations

try:
    import torch as _torch  # noqa: F401
except ImportError as err:  # pragma: no cover - only without torch
    raise ImportError(
        "ramcore.torch needs PyTorch: install it with `pip install torch` (or `pip install ramcore[torch]`)"
    ) from err

from . import zoo
from .apply import MaskState, apply_masks, attach_saved_masks, masks_of, remove_masks
from .baselines import network_baselines, ramanujan_baselines
from .encode import ENCODINGS, EncodingSize, encode, encode_layers, encoding_size
from .layers import MaskTarget, mask_targets
from .masks import METHODS, MaskSet, allocate_density, make_masks
from .report import LayerReport, ramanujan_prune, report  # the function shadows the submodule name

__all__ = [
    "ENCODINGS",
    "METHODS",
    "EncodingSize",
    "LayerReport",
    "MaskSet",
    "MaskState",
    "MaskTarget",
    "allocate_density",
    "apply_masks",
    "attach_saved_masks",
    "encode",
    "encode_layers",
    "encoding_size",
    "make_masks",
    "mask_targets",
    "masks_of",
    "network_baselines",
    "ramanujan_baselines",
    "ramanujan_prune",
    "remove_masks",
    "report",
    "zoo",
]
