"""The Ramanujan-based layer metrics seed 004 compares its topometrics against (section 4.1, 4.3).

Per bipartite piece of every masked layer on the rolled encoding (rows in * prod(kernel), columns out):

- `delta_r` (Pal et al. 2022, "difference of bound"): sqrt(dL - 1) + sqrt(dR - 1) - mu_hat with the
  average degrees of the non-isolated vertices and mu_hat the second singular value of the mask
  (`raw_ramanujan_gap`: the convention of Hoang et al.'s public code, which seed 004 relied on).
- `delta_r_imdb` (Hoang et al. 2023b, "iterative mean difference of bound"): the same difference
  averaged over the d-left-regular subgraphs K_d (the left vertices of degree d, for every degree d
  held by at least 3 left vertices, with all right vertices; isolated vertices dropped), as
  `iterative_mean_spectral_gap` / `find_d_left_regular` of github.com/VITA-Group/ramanujan-on-pai.
- `lambda_imsg` (Hoang et al. 2023a, "iterative mean weighted spectral gap"): over the same
  subgraphs, mu_0 - mu_hat of the weighted adjacency `|W|` (for a bipartite graph, sigma_1 - sigma_2
  of `|W|` restricted to K_d).

Every value needs min(dL, dR) >= 3 (seed 004 appendix D): a graph or subgraph below it is skipped,
and a layer without any qualifying (sub)graph gets NaN. `density` is the piece's kept fraction.
`network_baselines` averages each metric over the layers where it is defined (seed 004 ranks
methods by these averages and by the average layer-wise density).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from torch import Tensor, nn

from ..layers.gap import MIN_LEFT, IterativeGap, iterative_mean_gaps, raw_ramanujan_gap
from .pieces import current_masks, flat_weight
from .targets import KINDS, Patterns, selected_targets

__all__ = [
    "BaselineRow",
    "IterativeGap",  # IterativeGap, MIN_LEFT, iterative_mean_gaps: re-exported from ramcore.layers.gap
    "MIN_LEFT",
    "iterative_mean_gaps",
    "network_baselines",
    "ramanujan_baselines",
]


@dataclass(frozen=True)
class BaselineRow:
    """The seed-004 baselines of one bipartite piece; NaN where min(dL, dR) >= 3 fails."""

    name: str
    piece: int
    rows: int
    cols: int
    density: float
    delta_r: float
    delta_r_imdb: float
    lambda_imsg: float
    subgraphs: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def ramanujan_baselines(
    model: nn.Module,
    masks: Mapping[str, Tensor] | None = None,
    *,
    kinds: Iterable[str] = KINDS,
    include: Patterns = None,
    exclude: Patterns = None,
) -> list[BaselineRow]:
    """Delta r, Delta r_imdb, lambda_imsg and density of every piece of every masked layer.

    masks: as `report` (default: the applied masks, else weight != 0); the weights are the model's.
    """
    targets = selected_targets(model, kinds, include, exclude)
    keep, _ = current_masks(model, targets, masks)
    rows = []
    for t in targets:
        weight = flat_weight(model, t)
        for piece in range(t.pieces):
            sl = t.piece_slice(piece)
            k = keep[t.name][sl]
            mask = t.piece_biadjacency(k.astype(np.float64))
            # a kept weight that is exactly 0 still counts as an edge: use 1e-300 for its |W|
            weighted = t.piece_biadjacency(np.where(k, np.maximum(np.abs(weight[sl]), 1e-300), 0.0))
            it = iterative_mean_gaps(weighted, layout="biadjacency")
            raw = raw_ramanujan_gap(mask, layout="biadjacency")
            rows.append(
                BaselineRow(
                    t.name,
                    piece,
                    mask.shape[0],
                    mask.shape[1],
                    float(k.mean()),
                    raw.delta_r,
                    it.delta_r_imdb,
                    it.lambda_imsg,
                    it.subgraphs,
                )
            )
    return rows


def network_baselines(rows: Iterable[BaselineRow]) -> dict[str, float]:
    """Per-network averages over the pieces where each metric is defined (NaN if none):
    `density` (average layer-wise density), `delta_r`, `delta_r_imdb`, `lambda_imsg`."""
    rows = list(rows)
    out = {}
    for key in ("density", "delta_r", "delta_r_imdb", "lambda_imsg"):
        values = [getattr(r, key) for r in rows if not math.isnan(getattr(r, key))]
        out[key] = float(np.mean(values)) if values else math.nan
    return out
