"""The former home of the layer mask constructions; they live in `ramcore.layers.masks` (kept so old
imports work)."""

from .layers.masks import (
    MaskInfo,
    affine_edges,
    exact_count,
    ramanujan_mask,
    random_mask,
    random_regular_mask,
)

__all__ = ["MaskInfo", "affine_edges", "exact_count", "ramanujan_mask", "random_mask", "random_regular_mask"]
