"""The projective groups PGL2(F_q) and PSL2(F_q) with O(1) rank <-> element maps.

Elements are 2x2 matrices [[a, b], [c, d]] over F_q up to scalars, stored as rows (a, b, c, d) of
an (k, 4) int64 array in canonical form: a = 1, or a = 0 and b = 1. Ranks order PSL2 first:
ranks [0, `|PSL2|`) are PSL2 and [`|PSL2|`, `|PGL2|`) its coset, so the PSL2 ranking is the restriction
of the PGL2 one and the two sides of a bipartite LPS graph are contiguous.

Element-wise operations run in the C++ core on all cores (`threads`) with the GIL released.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _core
from .validation import check_memory, odd_prime
from .validation import threads as _threads

__all__ = ["PGL2", "PSL2"]

IntArray = npt.NDArray[np.int64]


def _integers(value: Any, name: str) -> npt.NDArray[Any]:
    """An integer ndarray: Python ints of any size (object arrays) are kept exact."""
    arr = np.asarray(value)
    if arr.dtype == object:
        try:
            return np.array([operator.index(v) for v in arr.ravel()], dtype=object).reshape(arr.shape)
        except TypeError:
            raise TypeError(f"{name} must hold integers") from None
    if arr.size and arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integers, got dtype {arr.dtype}")
    return arr


def _matrices(value: Any, name: str, q: int) -> IntArray:
    """(k, 4) int64 array of entries reduced mod q (exact for any integer dtype or size)."""
    arr = _integers(value, name)
    if arr.shape in ((2, 2), (4,)):
        arr = arr.reshape(1, 4)
    elif arr.ndim == 3 and arr.shape[1:] == (2, 2):
        arr = arr.reshape(-1, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{name} must have shape (k, 4) or (k, 2, 2), got {arr.shape}")
    if arr.dtype == object or arr.dtype == np.uint64:
        arr = arr % q  # exact before narrowing to int64; the core reduces int64 itself
    return np.ascontiguousarray(arr, dtype=np.int64)


def _ranks(value: Any, order: int, group: str) -> IntArray:
    arr = _integers(value, "ranks").reshape(-1)
    if arr.size and (arr.min() < 0 or arr.max() >= order):
        bad = arr[(arr < 0) | (arr >= order)][0]
        raise ValueError(f"ranks must lie in [0, {order}) for {group}, got {bad}")
    return np.ascontiguousarray(arr, dtype=np.int64)


class PGL2:
    """PGL2(F_q) for an odd prime q <= 32749; PSL2 is its subclass restricted to ranks < `|PSL2|`."""

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

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PGL2) and type(other) is type(self) and other.q == self.q

    def __hash__(self) -> int:
        return hash((self.name, self.q))

    def __reduce__(self) -> tuple[type, tuple[int]]:  # picklable (multiprocessing)
        return (type(self), (self.q,))

    def canonical(self, matrices: Any, threads: int | None = None) -> IntArray:
        """Canonical representatives of non-singular matrices, shape (k, 4)."""
        return self._g.canonical(self._members(matrices, "matrices"), _threads(threads))

    def rank(self, matrices: Any, threads: int | None = None) -> IntArray:
        """Rank in [0, order) of each matrix (any non-zero scalar multiple gives the same rank)."""
        return self._g.rank(self._members(matrices, "matrices"), _threads(threads))

    def unrank(self, ranks: Any, threads: int | None = None) -> IntArray:
        """Canonical matrices (k, 4) of the given ranks; inverse of `rank`."""
        return self._g.unrank(_ranks(ranks, self.order, repr(self)), _threads(threads))

    def elements(self, threads: int | None = None) -> IntArray:
        """The whole group as an (order, 4) int64 array in rank order."""
        check_memory(self.order * 32, f"the element table of {self!r}", "use rank/unrank instead")
        return self._g.elements(self.name == "PSL2", _threads(threads))

    def multiply(self, x: Any, y: Any, threads: int | None = None) -> IntArray:
        """Row-wise canonical products x[i] * y[i]."""
        a, b = self._members(x, "x"), self._members(y, "y")
        if len(a) != len(b):
            raise ValueError(f"x and y must have the same number of rows, got {len(a)} and {len(b)}")
        return self._g.multiply(a, b, _threads(threads))

    def inverse(self, x: Any, threads: int | None = None) -> IntArray:
        """Row-wise inverses: [[d, -b], [-c, a]] is the inverse up to the scalar det."""
        m = _matrices(x, "x", self.q)
        return self.canonical(np.stack([m[:, 3], -m[:, 1], -m[:, 2], m[:, 0]], axis=1), threads)

    def in_psl(self, matrices: Any, threads: int | None = None) -> npt.NDArray[np.bool_]:
        """Whether each element lies in PSL2 (its determinant is a square mod q)."""
        return self._g.in_psl(_matrices(matrices, "matrices", self.q), _threads(threads))

    def _members(self, value: Any, name: str) -> IntArray:
        # Every non-singular matrix is an element of PGL2 (the core checks det != 0).
        return _matrices(value, name, self.q)


class PSL2(PGL2):
    """PSL2(F_q): the elements of PGL2(F_q) with square determinant; ranks [0, q(q^2-1)/2)."""

    name = "PSL2"

    @property
    def order(self) -> int:
        return int(self._g.psl_order)

    def _members(self, value: Any, name: str) -> IntArray:
        mats = _matrices(value, name, self.q)
        inside = self._g.in_psl(mats)
        if not inside.all():
            bad = mats[~inside][0].tolist()
            raise ValueError(
                f"{name} holds {bad}, which is not in PSL2({self.q}): its determinant is not a "
                "square mod q; use PGL2 for the whole group"
            )
        return mats
