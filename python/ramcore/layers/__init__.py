"""A layer of a neural network as a bipartite graph, without torch.

A weight, score or mask of shape `(out, in, *kernel)` is the biadjacency of a bipartite graph from its
in * prod(kernel) inputs to its out outputs (`bipartite`). On that one view: the Ramanujan bound
differences of seeds 001/003 and Hoang et al. (`gap`), exact effective resistances (`resistance`),
pruning by spectral sparsification of seed 002 (`sparsify`), Ramanujan and random mask constructions
(`masks`) and density allocation across layers (`allocation`). `ramcore.torch` adapts these to
`nn.Module` instances.
"""

from .allocation import ALLOCATIONS, layer_densities
from .bipartite import (
    LAYOUTS,
    abs_biadjacency,
    biadjacency,
    dense_biadjacency,
    piece_biadjacency,
    piece_slice,
    pieces_to_weight,
    weight_to_pieces,
)
from .gap import (
    IterativeGap,
    RamanujanGap,
    RawGap,
    iterative_mean_gaps,
    ramanujan_gap,
    raw_ramanujan_gap,
)
from .masks import MaskInfo, affine_edges, exact_count, ramanujan_mask, random_mask, random_regular_mask
from .resistance import effective_resistance
from .sparsify import LayerReport, SparsifyResult, SpecSparResult, magnitude, sparsify, spec_spar

__all__ = [
    "ALLOCATIONS",
    "LAYOUTS",
    "IterativeGap",
    "LayerReport",
    "MaskInfo",
    "RamanujanGap",
    "RawGap",
    "SparsifyResult",
    "SpecSparResult",
    "abs_biadjacency",
    "affine_edges",
    "biadjacency",
    "dense_biadjacency",
    "effective_resistance",
    "exact_count",
    "iterative_mean_gaps",
    "layer_densities",
    "magnitude",
    "piece_biadjacency",
    "piece_slice",
    "pieces_to_weight",
    "ramanujan_gap",
    "ramanujan_mask",
    "random_mask",
    "random_regular_mask",
    "raw_ramanujan_gap",
    "sparsify",
    "spec_spar",
    "weight_to_pieces",
]
