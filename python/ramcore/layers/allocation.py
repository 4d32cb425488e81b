"""How many weights each layer keeps: density allocation across the layers of a network.

"uniform" keeps the same fraction of every layer. "er" (Erdos-Renyi; Mocanu et al. 2018) makes a
layer's density proportional to (n_in + n_out) / (n_in n_out) of its (out, in) shape; "erk" (Evci et
al. 2020) to sum(shape) / prod(shape) with the kernel dimensions included. Both read PyTorch's
`(out, in, *kernel)` layout, keep a layer dense when its density would exceed 1 and re-solve the
scale, so that the whole network keeps `density` of its weights.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from ..validation import density as check_density
from ..validation import per_name

__all__ = ["ALLOCATIONS", "layer_densities"]

ALLOCATIONS = ("uniform", "er", "erk")


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
    if allocation not in ("er", "erk"):
        raise ValueError(
            f"allocation must be 'uniform', 'er', 'erk' or a dict name -> density, got {allocation!r}"
        )
    kernel = allocation == "erk"
    raw = {name: _er_weight(tuple(shape) if kernel else tuple(shape[:2])) for name, shape in shapes.items()}
    numel = {name: math.prod(shape) for name, shape in shapes.items()}
    budget = density * sum(numel.values())
    dense: set[str] = set()
    while True:  # Evci et al.: layers whose density would exceed 1 are kept dense, then re-solve
        rest = [n for n in raw if n not in dense]
        scale = (budget - sum(numel[n] for n in dense)) / sum(raw[n] * numel[n] for n in rest)
        over = [n for n in rest if scale * raw[n] > 1.0]
        if not over:
            break
        dense.update(over)
    return {n: 1.0 if n in dense else scale * raw[n] for n in raw}


def _er_weight(shape: tuple[int, ...]) -> float:
    return sum(shape) / math.prod(shape)
