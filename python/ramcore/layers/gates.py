"""Ramanujan masks for the gate blocks of a recurrent weight, Ramanujan as one joint matrix too.

An LSTM's `weight_ih` (4h x in) stacks four gate matrices (GRU: three), each its own bipartite graph
(in x h): seed 003 ("Graph expansion in pruned recurrent neural network layers preserves
performance", section 3) prunes and scores every gate as a layer, while its figures read the whole
W_xh / W_hh as one matrix. Giving every gate the same Ramanujan mask B makes each gate Ramanujan but
not the joint biadjacency [B B B B] (in x 4h): its singular values are those of B times 2 while its
average right degree stays that of B, so its sigma_2 grows faster than both bounds of seed 001 /
seed 003 (Delta_S and Delta_R fall below 0 in the common case).

`gate_masks` keeps every gate isomorphic to the fitted mask and changes which inputs it reads: gate
k's biadjacency is B with its rows relabelled, row i of gate k = row pi_k(i) of B with

    pi_k(i) = (a^k i + k b) mod n        (n = rows, gcd(a, n) = 1)

A relabelling of one side is a graph isomorphism, so each gate keeps B's spectrum, degrees and
certificate exactly, and exact round(density * rows * cols) entries. The joint matrix
[B[pi_0], ..., B[pi_{G-1}]] is a union of differently permuted copies: the Gram matrix
sum_k P_k B B^T P_k^T averages the structured part of B B^T over the relabellings, which lowers the
joint sigma_2 towards the bound. Nothing in this is a proof for a given shape: the multipliers a
(near n (sqrt 5 - 1) / 2, coprime to n, plus a = 1) and offsets b (0 and ceil(n / G)) are a small
deterministic candidate set, each candidate's joint matrix is certified by `ramanujan_gap`, and the
best is kept: Ramanujan (max(Delta_S, Delta_R) >= 0) before not, then the largest
min(Delta_S, Delta_R), then Delta_R, then the first. `GateFit` records the joint certificate, which
may still be negative where no candidate reaches the bound (the same mask for every gate, a = 1 and
b = 0, is one of the candidates, so by that order the joint is never worse than it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..validation import positive_int
from .gap import bound_holds, ramanujan_gap
from .masks import MaskInfo, ramanujan_mask

__all__ = ["GateFit", "gate_masks", "gate_row_maps", "joint_biadjacency"]

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
MULTIPLIERS = 8  # golden-ratio multipliers tried besides a = 1


@dataclass(frozen=True)
class GateFit:
    """The gate masks of one recurrent weight and the certificate of their joint matrix."""

    masks: tuple[BoolArray, ...]  # one (rows, cols) biadjacency per gate, in weight order
    infos: tuple[MaskInfo, ...]
    multiplier: int  # a
    offset: int  # b
    joint_delta_s: float  # seed 001 / seed 003 Delta_S of the (rows, gates * cols) joint biadjacency
    joint_delta_r: float  # seed 001 Delta_R of the joint biadjacency

    @property
    def joint(self) -> BoolArray:
        """The gates side by side, one (rows, gates * cols) biadjacency."""
        return joint_biadjacency(self.masks)


def joint_biadjacency(masks: tuple[BoolArray, ...] | list[BoolArray]) -> BoolArray:
    """The gates' biadjacencies side by side: rows are the shared inputs, columns all gates' outputs."""
    return np.hstack(list(masks))


def _multipliers(n: int, count: int) -> list[int]:
    """1, then up to `count` units a of Z_n nearest to n (sqrt 5 - 1) / 2 (golden-ratio hashing)."""
    out = [1]
    centre = int(round(n * (math.sqrt(5.0) - 1.0) / 2.0))
    for step in range(n):
        for a in (centre + step, centre - step):
            if len(out) <= count and 1 < a < n and math.gcd(a, n) == 1 and a not in out:
                out.append(a)
        if len(out) > count:
            break
    return out


def gate_row_maps(rows: int, gates: int, multiplier: int, offset: int) -> list[IntArray]:
    """pi_k(i) = (multiplier^k i + k offset) mod rows for k < gates: gate k's row i is row pi_k(i) of
    the fitted mask. Each is a permutation when gcd(multiplier, rows) = 1."""
    rows, gates = positive_int(rows, "rows"), positive_int(gates, "gates")
    if math.gcd(multiplier, rows) != 1:
        raise ValueError(f"multiplier must be coprime to rows = {rows}, got {multiplier}")
    i = np.arange(rows, dtype=np.int64)
    return [(pow(multiplier, k, rows) * i + k * offset) % rows for k in range(gates)]


def _key(delta_s: float, delta_r: float) -> tuple[bool, float, float]:
    both = min(delta_s, delta_r)
    holds = bound_holds(delta_s, delta_r, strict=False)
    return (holds, -math.inf if math.isnan(both) else both, -math.inf if math.isnan(delta_r) else delta_r)


def gate_masks(rows: int, cols: int, gates: int, density: float) -> GateFit:
    """Masks for the `gates` blocks of a recurrent weight: each a (rows, cols) biadjacency (rows = the
    layer's inputs, cols = one gate's outputs) with exactly round(density * rows * cols) entries,
    each a row relabelling of `ramanujan_mask(rows, cols, density)` (so each as Ramanujan as it), the
    relabelling chosen so that the joint (rows, gates * cols) matrix is certified best (module
    docstring). Deterministic; gates = 1 gives the fitted mask itself."""
    gates = positive_int(gates, "gates")
    base, info = ramanujan_mask(rows, cols, density)
    rows, cols = base.shape
    best: tuple[tuple[bool, float, float], int, int, float, float] | None = None
    if gates == 1:
        g = ramanujan_gap(base, layout="biadjacency")
        best = (_key(g.delta_s, g.delta_r), 1, 0, g.delta_s, g.delta_r)
    else:
        for a in _multipliers(rows, MULTIPLIERS):
            for b in dict.fromkeys((0, -(-rows // gates) % rows)):
                maps = gate_row_maps(rows, gates, a, b)
                g = ramanujan_gap(np.hstack([base[m] for m in maps]), layout="biadjacency")
                key = _key(g.delta_s, g.delta_r)
                if best is None or key > best[0]:
                    best = (key, a, b, g.delta_s, g.delta_r)
    assert best is not None
    _, a, b, joint_s, joint_r = best
    maps = gate_row_maps(rows, gates, a, b)
    masks = tuple(np.ascontiguousarray(base[m]) for m in maps)
    infos = tuple(
        MaskInfo(
            info.construction,
            {**info.params, "gate": k, "multiplier": pow(a, k, rows), "offset": k * b % rows},
            info.shape,
            info.edges,
            info.density,
            info.delta_r,
            info.notes,
        )
        for k in range(gates)
    )
    return GateFit(masks, infos, a, b, joint_s, joint_r)
