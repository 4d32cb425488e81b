"""The former home of seed 002's pruning; it lives in `ramcore.layers.sparsify` (kept so old imports work)."""

from .layers.sparsify import (
    C_SEED,
    DENSE_GRAM,
    SMALL_EIGH,
    LayerReport,
    SparsifyResult,
    SpecSparResult,
    magnitude,
    sparsify,
    spec_spar,
)

__all__ = [
    "C_SEED",
    "DENSE_GRAM",
    "SMALL_EIGH",
    "LayerReport",
    "SparsifyResult",
    "SpecSparResult",
    "magnitude",
    "sparsify",
    "spec_spar",
]
