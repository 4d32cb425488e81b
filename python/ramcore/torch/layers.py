"""The former name of `ramcore.torch.targets` (kept so old imports work); the weight <-> pieces view
lives in `ramcore.layers.bipartite`."""

from ..layers.bipartite import pieces_to_weight, weight_to_pieces
from .targets import KINDS, MaskTarget, mask_targets

__all__ = ["KINDS", "MaskTarget", "mask_targets", "pieces_to_weight", "weight_to_pieces"]
