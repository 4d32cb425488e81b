"""PyTorch adapters of `ramcore.layers`: which parameters of an `nn.Module` are masked (`targets`),
scores that need autograd (`scores`), masks for real layers (`masks`), applying them (`apply`),
layer-wise reports (`report`), the same masks on every rank under torch.distributed
(`distributed`), seed 001's pruning (`prune`) and its iterative pruning loop (`imp`), seed
004's baselines and graph encodings (`baselines`, `encode`; seed 003's time-unrolled recurrent
layers, `recurrent`), a model zoo (`zoo`), and masked
layers executed sparsely (`sparse`).

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
if _torch.__version__ < "2.4":  # torch.library.custom_op (the sparse layers' operators) came in 2.4
    raise ImportError(
        f"ramcore.torch needs PyTorch 2.4 or newer, found {_torch.__version__}: pip install -U torch"
    )

from . import distributed, zoo
from .apply import MaskState, apply_masks, attach_saved_masks, masks_of, remove_masks
from .baselines import network_baselines, ramanujan_baselines
from .encode import ENCODINGS, EncodingSize, encode, encode_layers, encoding_size
from .imp import ImpResult, ImpRound, iterative_pruning
from .masks import METHODS, MaskSet, allocate_density, make_masks
from .prune import ramanujan_prune
from .recurrent import encode_recurrent, recurrent_encoding_size
from .report import LayerReport, report  # the function shadows the submodule name
from .sparse import SparseLinear, load_sparse, to_dense, to_sparse
from .targets import MaskTarget, mask_targets
from .wiring import layer_inputs

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
    "distributed",
    "encode",
    "encode_layers",
    "encode_recurrent",
    "encoding_size",
    "make_masks",
    "mask_targets",
    "masks_of",
    "network_baselines",
    "ramanujan_baselines",
    "SparseLinear",
    "load_sparse",
    "ramanujan_prune",
    "recurrent_encoding_size",
    "iterative_pruning",
    "layer_inputs",
    "ImpResult",
    "ImpRound",
    "remove_masks",
    "report",
    "to_dense",
    "to_sparse",
    "zoo",
]
