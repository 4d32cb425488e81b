"""How many weights each layer keeps: density allocation across the layers of a network.

"uniform" keeps the same fraction of every layer. "er" (Erdos-Renyi; Mocanu et al. 2018) makes a
layer's density proportional to (n_in + n_out) / (n_in n_out) of its (out, in) shape; "erk" (Evci et
al. 2020) to sum(shape) / prod(shape) with the kernel dimensions included. Both read PyTorch's
`(out, in, *kernel)` layout, keep a layer dense when its density would exceed 1 and re-solve the
scale, so that the whole network keeps `density` of its weights. "biswas" is seed 000's rule
(Appendix A.3) made an allocation: a layer's density proportional to 1/q, the density of its
block B(q, l) with q the largest prime with q^2 <= out (`ramcore.layers.masks.biswas_parameters`),
the first and the last layer (which the paper does not prune) and layers too small for a block
dense, capped and re-solved the same way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from ..validation import density as check_density
from ..validation import per_name

__all__ = ["ALLOCATIONS", "layer_densities"]

ALLOCATIONS = ("uniform", "er", "erk", "biswas")


def layer_densities(
    shapes: Mapping[str, Sequence[int]], density: float, allocation: str | Mapping[str, float] = "uniform"
) -> dict[str, float]:
    """Per-layer densities that keep `density` of all the layers' weights overall.

    shapes: layer name -> weight shape `(out, in, *kernel)`. allocation: one of ALLOCATIONS, or a
    mapping name -> density covering every layer (checked and returned as given).
    """
    if isinstance(allocation, Mapping):
        return per_name(allocation, list(shapes), "allocation", check_density)
    if allocation == "uniform":
        return {name: density for name in shapes}
    if allocation not in ALLOCATIONS:
        raise ValueError(
            f"allocation must be one of {ALLOCATIONS} or a dict name -> density, got {allocation!r}"
        )
    numel = {name: math.prod(shape) for name, shape in shapes.items()}
    budget = density * sum(numel.values())
    if allocation == "biswas":
        raw, dense = _biswas_weights(shapes, numel, budget, density)
    else:
        kernel = allocation == "erk"
        raw = {n: _er_weight(tuple(shape) if kernel else tuple(shape[:2])) for n, shape in shapes.items()}
        dense = set()
    while True:  # Evci et al.: layers whose density would exceed 1 are kept dense, then re-solve
        rest = [n for n in raw if n not in dense]
        scale = (budget - sum(numel[n] for n in dense)) / sum(raw[n] * numel[n] for n in rest)
        over = [n for n in rest if scale * raw[n] > 1.0]
        if not over:
            break
        dense.update(over)
    return {n: 1.0 if n in dense else scale * raw[n] for n in shapes}


def _biswas_weights(
    shapes: Mapping[str, Sequence[int]], numel: Mapping[str, int], budget: float, density: float
) -> tuple[dict[str, float], set[str]]:
    """Seed 000's 1/q per layer, and the layers it keeps dense (first, last, too small for a block);
    refused when those alone exceed the budget or nothing is left to prune."""
    from .masks import biswas_parameters  # masks imports the graphs; allocation stays light

    names = list(shapes)
    dense = {names[0], names[-1]}
    raw = {}
    for name, shape in shapes.items():
        qp = biswas_parameters(math.prod(shape[1:]), shape[0])
        if qp is None:
            dense.add(name)
        elif name not in dense:
            raw[name] = 1.0 / qp[0]
    held = sum(numel[n] for n in dense)
    if held > budget or not raw:
        raise ValueError(
            f"allocation='biswas' keeps the first and the last layer (and any too small for a block) "
            f"dense: {held:,} weights, where density={density} allows {budget:,.0f} and leaves "
            f"{len(raw)} layers to prune; use a larger density, a deeper model or another allocation"
        )
    return raw, dense


def _er_weight(shape: tuple[int, ...]) -> float:
    return sum(shape) / math.prod(shape)
