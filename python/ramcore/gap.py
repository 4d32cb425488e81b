"""The former home of `ramanujan_gap`; it lives in `ramcore.layers.gap` (kept so old imports work)."""

from .layers.gap import DENSE_LIMIT, RamanujanGap, ramanujan_gap

__all__ = ["DENSE_LIMIT", "RamanujanGap", "ramanujan_gap"]
