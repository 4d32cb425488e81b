"""A layer is a bipartite graph: the one view of a weight, score or mask that every layer routine uses.

A weight of shape `(out, in, *kernel)` (PyTorch's layout; a Linear weight is (out, in)) is the
biadjacency

    B = W.reshape(out, -1).T        rows: the in * prod(kernel) inputs, columns: the out outputs

of a bipartite graph, inputs on the left (the "rolled" encoding; docs/design.md, section 4).
Every layer-level routine of ramcore (bound differences, resistances, sparsification, masks, the
reports and baselines of `ramcore.torch`) reads a layer through the functions here, so there is one
orientation. A weight may also be split along its first axis into equal `pieces` (the groups of a
grouped convolution, the gate blocks of a recurrent layer, the q/k/v blocks of an attention
projection), each piece its own bipartite graph.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse import csgraph

from ..interop import from_torch, refuse_complex

__all__ = [
    "LAYOUTS",
    "abs_biadjacency",
    "biadjacency",
    "check_layout",
    "check_weights",
    "view",
    "components",
    "dense_biadjacency",
    "dense_connected",
    "piece_biadjacency",
    "piece_slice",
    "pieces_to_weight",
    "weight_to_pieces",
]

FloatArray = npt.NDArray[np.float64]
LAYOUTS = ("torch", "biadjacency")  # (out, in, *kernel) weights, or 2-d matrices with inputs as rows


def view(weight: Any) -> Any:
    """The biadjacency (in * prod(kernel), out) of a dense weight `(out, in, *kernel)`, as a view
    (no copy): works alike on numpy arrays and torch tensors (the GPU paths keep their tensors).
    Every other function here reads a layer through it."""
    return weight.reshape(weight.shape[0], math.prod(weight.shape[1:])).T


def check_layout(layout: str) -> str:
    """`layout` checked against LAYOUTS."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be 'torch' or 'biadjacency', got {layout!r}")
    return layout


def biadjacency(matrix: Any, layout: str = "torch") -> sp.csr_array:
    """The layer's biadjacency B as a CSR (values as given, explicit zeros kept).

    matrix: numpy array, scipy sparse matrix or torch tensor. layout="torch" reads `(out, in, *kernel)`
    (a sparse matrix is then (out, in) and is transposed); layout="biadjacency" takes a 2-d matrix
    whose rows are already the inputs.
    """
    check_layout(layout)
    refuse_complex(matrix, "matrix")
    w = from_torch(matrix)
    if sp.issparse(w):
        m = sp.csr_array(cast(Any, w))
        return m.T.tocsr() if layout == "torch" else m
    arr = np.asarray(w)
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"matrix must be numeric or boolean, got dtype {arr.dtype}")
    if arr.ndim < 2:
        raise ValueError(f"matrix must have at least 2 dimensions, got shape {arr.shape}")
    if layout == "torch":
        arr = view(arr)  # math.prod, not -1: an empty layer keeps its shape
    elif arr.ndim != 2:
        raise ValueError(f"layout='biadjacency' needs a 2-d matrix, got shape {arr.shape}")
    return sp.csr_array(arr)


def abs_biadjacency(matrix: Any, layout: str = "torch") -> sp.csr_array:
    """`|B|` in float64 without explicit zeros: the weighted graph of the layer (signs ignored)."""
    b: Any = biadjacency(matrix, layout).astype(np.float64)
    if not np.all(np.isfinite(b.data)):
        raise ValueError("matrix contains NaN or infinite entries")
    b.data = np.abs(b.data)
    b.eliminate_zeros()
    return cast(sp.csr_array, b)


def dense_biadjacency(array: Any, name: str) -> FloatArray:
    """A dense weight or score array `(out, in, *kernel)` as its float64 biadjacency (in * prod(kernel), out),
    checked: at least 2-d, real, finite and non-negative (edge weights). The result is a view when
    the input already is float64."""
    refuse_complex(array, name)
    arr = np.asarray(array)
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
    if arr.ndim < 2:
        raise ValueError(
            f"{name} must have at least 2 dimensions ((out, in) or (out, in, kh, kw)), got shape {arr.shape}"
        )
    b = np.asarray(view(arr), dtype=np.float64)
    check_weights(b, name)
    return b


def check_weights(values: Any, name: str) -> None:
    """Edge weights must be finite and non-negative; the message names `name`."""
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} contains NaN or infinite entries")
    if values.size and values.min() < 0:
        raise ValueError(
            f"{name} must be non-negative (edge weights), got a minimum of {values.min():.6g}; "
            "pass abs(weight) or a score matrix"
        )


def components(nonzero: Any) -> tuple[int, npt.NDArray[np.int32], npt.NDArray[np.int32]]:
    """Connected components of the bipartite graph of an m x n pattern (dense or sparse):
    (count, row labels, column labels); an isolated vertex is a component of its own."""
    b = sp.csr_array(nonzero)
    m = b.shape[0]
    graph: Any = sp.block_array([[None, b], [b.T, None]], format="csr")
    count, labels = csgraph.connected_components(graph, directed=False)
    return int(count), labels[:m], labels[m:]


def dense_connected(nz: Any) -> bool:
    """Cheap sufficient test of connectivity of a dense boolean pattern (numpy or torch): no empty
    row or column, and one row touching every column (or one column touching every row)."""
    rows_ok, cols_ok = bool(nz.any(1).all()), bool(nz.any(0).all())
    return rows_ok and cols_ok and bool(nz.all(1).any() or nz.all(0).any())


def weight_to_pieces(weight: npt.ArrayLike, pieces: int) -> list[npt.NDArray[np.generic]]:
    """Split a weight `(out, in, *k)` into `pieces` biadjacencies of shape (in * prod(k), out / pieces)."""
    w = np.asarray(weight)
    return [view(p) for p in np.split(w, pieces, axis=0)]


def pieces_to_weight(
    pieces: Sequence[npt.NDArray[np.generic]], shape: Sequence[int]
) -> npt.NDArray[np.generic]:
    """Inverse of weight_to_pieces."""
    blocks = [p.T.reshape(p.shape[1], *shape[1:]) for p in pieces]
    return np.concatenate(blocks, axis=0).reshape(tuple(shape))


def piece_slice(numel: int, pieces: int, piece: int) -> slice:
    """Piece `piece` of a weight with `numel` entries, as a slice of the flattened weight (the
    pieces split axis 0, so each is contiguous)."""
    size = numel // pieces
    return slice(piece * size, (piece + 1) * size)


def piece_biadjacency(flat_piece: npt.NDArray[Any], rows: int, cols: int) -> FloatArray:
    """A flattened piece `(out_p, in, *kernel)` as its float64 biadjacency (rows, cols) =
    (in * prod(kernel), out_p), as weight_to_pieces."""
    out: FloatArray = view(np.asarray(flat_piece, dtype=np.float64).reshape(cols, rows))
    return out
