"""The projective groups PGL2(F_q) and PSL2(F_q) with O(1) rank <-> element maps.

Elements are 2x2 matrices [[a, b], [c, d]] over F_q up to scalars, stored as rows (a, b, c, d) of
an (k, 4) int64 array in canonical form: a = 1, or a = 0 and b = 1. Ranks order PSL2 first:
ranks [0, |PSL2|) are PSL2 and [|PSL2|, |PGL2|) its coset, so the PSL2 ranking is the restriction
of the PGL2 one and the two sides of a bipartite LPS graph are contiguous.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from . import _core
from ._validate import check_memory, odd_prime
from ._validate import threads as _threads

__all__ = ["PGL2", "PSL2"]

IntArray = npt.NDArray[np.int64]


def _matrices(value: Any, name: str) -> IntArray:
    arr = np.asarray(value)
    if arr.shape == (2, 2) or arr.shape == (4,):
        arr = arr.reshape(1, 4)
    elif arr.ndim == 3 and arr.shape[1:] == (2, 2):
        arr = arr.reshape(-1, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{name} must have shape (k, 4) or (k, 2, 2), got {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must hold integers, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.int64)


class PGL2:
    """PGL2(F_q) for an odd prime q <= 32749; PSL2 is its subclass restricted to ranks < |PSL2|."""

    name = "PGL2"

    def __init__(self, q: int) -> None:
        self._g = _core.PGL2(odd_prime(q, "q", maximum=_core.MAX_Q))
        self.q: int = int(self._g.q)

    @property
    def order(self) -> int:
        """Number of elements: q(q^2 - 1) for PGL2, half that for PSL2."""
        return int(self._g.order)

    def __len__(self) -> int:
        return self.order

    def __repr__(self) -> str:
        return f"{self.name}(q={self.q}) with {self.order} elements"

    def canonical(self, matrices: Any) -> IntArray:
        """Canonical representatives of non-singular matrices, shape (k, 4)."""
        return self._g.canonical(self._members(_matrices(matrices, "matrices")))

    def rank(self, matrices: Any) -> IntArray:
        """Rank in [0, order) of each matrix (any non-zero scalar multiple gives the same rank)."""
        return self._g.rank(self._members(_matrices(matrices, "matrices")))

    def unrank(self, ranks: Any, threads: int | None = None) -> IntArray:
        """Canonical matrices (k, 4) of the given ranks; inverse of `rank`."""
        r = np.ascontiguousarray(np.asarray(ranks, dtype=np.int64).reshape(-1))
        if r.size and (r.min() < 0 or r.max() >= self.order):
            raise ValueError(f"ranks must lie in [0, {self.order}) for {self.name}({self.q})")
        return self._g.unrank(r, _threads(threads))

    def elements(self, threads: int | None = None) -> IntArray:
        """The whole group as an (order, 4) int64 array in rank order."""
        check_memory(self.order * 40, f"the element table of {self!r}", "use rank/unrank instead")
        return self.unrank(np.arange(self.order, dtype=np.int64), threads)

    def multiply(self, x: Any, y: Any) -> IntArray:
        """Row-wise canonical products x[i] * y[i]."""
        return self._g.multiply(self._members(_matrices(x, "x")), self._members(_matrices(y, "y")))

    def inverse(self, x: Any) -> IntArray:
        """Row-wise inverses: [[d, -b], [-c, a]] is the inverse up to the scalar det."""
        m = _matrices(x, "x")
        return self.canonical(np.stack([m[:, 3], -m[:, 1], -m[:, 2], m[:, 0]], axis=1))

    def in_psl(self, matrices: Any) -> npt.NDArray[np.bool_]:
        """Whether each element lies in PSL2 (its determinant is a square mod q)."""
        return self._g.in_psl(_matrices(matrices, "matrices"))

    def _members(self, mats: IntArray) -> IntArray:
        return mats  # every non-singular matrix is an element of PGL2 (the core checks det != 0)


class PSL2(PGL2):
    """PSL2(F_q): the elements of PGL2(F_q) with square determinant; ranks [0, q(q^2-1)/2)."""

    name = "PSL2"

    @property
    def order(self) -> int:
        return int(self._g.psl_order)

    def _members(self, mats: IntArray) -> IntArray:
        if mats.size and not self._g.in_psl(mats).all():
            bad = mats[~self._g.in_psl(mats)][0].tolist()
            raise ValueError(
                f"matrix {bad} is not in PSL2({self.q}): its determinant is not a square mod q; "
                "use PGL2 for the whole group"
            )
        return mats
