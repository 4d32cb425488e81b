# Type stub for the compiled extension ramcore._core (cpp/bindings/module.cpp). Private API:
# use the wrappers in the ramcore package, which validate arguments first.
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
from typing_extensions import TypeAlias

MAX_P: int
MAX_Q: int

def is_prime(n: int) -> bool: ...
def legendre(a: int, p: int) -> int: ...
def inverse_mod(a: int, m: int) -> int: ...
def sqrt_mod(a: int, p: int) -> int: ...
def two_squares_minus_one(q: int) -> tuple[int, int]: ...

class PGL2:
    def __init__(self, q: int) -> None: ...
    @property
    def q(self) -> int: ...
    @property
    def order(self) -> int: ...
    @property
    def psl_order(self) -> int: ...
    def canonical(self, matrices: npt.ArrayLike, threads: int = 0) -> npt.NDArray[np.int64]: ...
    def rank(self, matrices: npt.ArrayLike, threads: int = 0) -> npt.NDArray[np.int64]: ...
    def unrank(self, ranks: npt.ArrayLike, threads: int = 0) -> npt.NDArray[np.int64]: ...
    def elements(self, psl: bool, threads: int = 0) -> npt.NDArray[np.int64]: ...
    def multiply(self, x: npt.ArrayLike, y: npt.ArrayLike, threads: int = 0) -> npt.NDArray[np.int64]: ...
    def in_psl(self, matrices: npt.ArrayLike, threads: int = 0) -> npt.NDArray[np.bool_]: ...

def lps_generators(p: int, q: int) -> dict[str, Any]: ...

# (indptr, indices: both int32 while nnz < 2^31, else both int64; data float64 | None; shape)
CsrTuple: TypeAlias = tuple[
    npt.NDArray[np.integer[Any]],
    npt.NDArray[np.integer[Any]],
    npt.NDArray[np.float64] | None,
    tuple[int, int],
]

# Called about every 50 ms while a Lanczos run or the resistance sketch runs, and once at its end:
# progress(phase, done, total, residual, target); an exception it raises stops the run.
ProgressCallback: TypeAlias = Callable[[str, int, int, float, float], None]

# wide=True forces int64 indptr/indices; otherwise int32 while the entries fit.
def lps_adjacency(
    p: int, q: int, allow_multigraph: bool = False, threads: int = 0, wide: bool = False
) -> CsrTuple: ...
def biregular_biadjacency(q: int, l: int, threads: int = 0, wide: bool = False) -> CsrTuple: ...
def eigsh_csr(
    indptr: npt.NDArray[Any],
    indices: npt.NDArray[Any],
    data: npt.NDArray[np.float64] | None,
    n: int,
    operator: str,
    deflate: npt.NDArray[np.float64] | None,
    k: int,
    which: str,
    ncv: int,
    tol: float,
    max_restarts: int,
    seed: int,
    threads: int,
    vectors: bool,
    two_pass: bool = False,
    keep_bytes: int = 0,
    progress: ProgressCallback | None = None,
) -> dict[str, Any]: ...
def svds_csr(
    indptr: npt.NDArray[Any],
    indices: npt.NDArray[Any],
    data: npt.NDArray[np.float64] | None,
    rows: int,
    cols: int,
    columns: bool,
    deflate: npt.NDArray[np.float64] | None,
    k: int,
    ncv: int,
    tol: float,
    max_restarts: int,
    seed: int,
    threads: int,
    vectors: bool,
    two_pass: bool = False,
    keep_bytes: int = 0,
    progress: ProgressCallback | None = None,
) -> dict[str, Any]: ...
# For each row r of a and b (count, m): the largest and the smallest eigenvalue of the tridiagonal
# matrix with diagonal a[r] and off-diagonal b[r, :m - 1], and unit eigenvectors:
# values (count, 2), vectors (count, 2, m).
def tridiagonal_extremes(
    a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...

# The matrix-free adjacency operator of X^{p,q} (loops and repeated generators as weights): the
# generators and group tables are built once, by the constructor, and reused by every call.
class CayleyOperator:
    def __init__(self, p: int, q: int) -> None: ...
    @property
    def rows(self) -> int: ...
    def matvec(self, x: npt.NDArray[np.float64], threads: int = 0) -> npt.NDArray[np.float64]: ...
    def eigsh(
        self,
        deflate: npt.NDArray[np.float64] | None,
        k: int,
        which: str,
        ncv: int,
        tol: float,
        max_restarts: int,
        seed: int,
        threads: int,
        vectors: bool,
        two_pass: bool = False,
        keep_bytes: int = 0,
        progress: ProgressCallback | None = None,
    ) -> dict[str, Any]: ...

def sketch_resistance(
    indptr: npt.NDArray[Any],
    indices: npt.NDArray[Any],
    data: npt.NDArray[np.float64] | None,
    n: int,
    sketch_rows: int,
    tol: float,
    max_iterations: int,
    seed: int,
    threads: int,
    progress: ProgressCallback | None = None,
) -> dict[str, Any]: ...

# A directed CSR graph (rows sorted, no duplicates, no self-loops; indptr and indices both int32,
# with 2 nnz < 2^31, or both int64) and its undirected simple graph, for the topometrics.
class Topology:
    def __init__(
        self,
        indptr: npt.NDArray[Any],
        indices: npt.NDArray[Any],
        data: npt.NDArray[np.float64] | None,
        n: int,
        threads: int = 0,
    ) -> None: ...
    @property
    def num_nodes(self) -> int: ...
    @property
    def num_edges(self) -> int: ...
    @property
    def num_undirected_edges(self) -> int: ...
    # keys sinks, sources, disconnected, removable_out, removable_in
    def local(self, partition: npt.NDArray[np.int32] | None, first: int, last: int) -> dict[str, int]: ...
    # (sum of 1-hop, sum of 2-hop out-neighbourhood sizes)
    def neighbourhoods(self) -> tuple[int, int]: ...
    # keys star, path, tailed_triangle, cycle, diamond, clique (exact, possibly beyond 2^63)
    def motifs4(self) -> dict[str, int]: ...
    def core_number_sum(self) -> int: ...
    def weight_sum(self) -> float: ...
    # keys components, bridges, articulation_points
    def connectivity(self) -> dict[str, int]: ...
    # which="adjacency": the two largest eigenvalues of |W| with multiplicity; "laplacian": the
    # largest of D - |W|. Keys values, residuals (float64 arrays), matvecs, converged.
    def spectrum(self, which: str, tol: float, max_restarts: int, keep_bytes: int) -> dict[str, Any]: ...
# pieces: dicts with the ramcore::ConvPiece fields (ints), "mask" (uint8), "weight" (float64 | None)
# and, for an inverse input map, "src_begin", "src_end", "inv_ptr", "inv_entries" (int64).
def unrolled_encoding(
    num_nodes: int, pieces: list[dict[str, Any]], weighted: bool, threads: int = 0, wide: bool = False
) -> CsrTuple: ...

# The sparse kernels (cpp/src/sparse_matmul.cpp): activations in panels (panels, features, lanes),
# lanes = SPARSE_PANEL_BYTES / itemsize; W in the blocked pattern of sparse_matmul.hpp (int64 indptr
# over column blocks x rows, int32 indices; blocks of block_cols columns, sparse_block_cols(rows, cols,
# nnz) for the layers, SPARSE_BLOCK_COLS by default); float32 or float64; outputs written in place.
SPARSE_PANEL_BYTES: int

SPARSE_BLOCK_COLS: int

def sparse_block_cols(rows: int, cols: int, nnz: int) -> int: ...

def sparse_spmm(
    indptr: npt.NDArray[np.int64],
    indices: npt.NDArray[np.int32],
    values: npt.NDArray[np.floating[Any]],
    order: npt.NDArray[np.int64] | None,
    input: npt.NDArray[np.floating[Any]],
    out: npt.NDArray[np.floating[Any]],
    rows: int,
    cols: int,
    panels: int,
    threads: int = 0,
    block_cols: int = 128,
) -> None: ...
def sparse_sddmm(
    indptr: npt.NDArray[np.int64],
    indices: npt.NDArray[np.int32],
    a: npt.NDArray[np.floating[Any]],
    input: npt.NDArray[np.floating[Any]],
    order: npt.NDArray[np.int64] | None,
    out: npt.NDArray[np.floating[Any]],
    rows: int,
    cols: int,
    panels: int,
    threads: int = 0,
    block_cols: int = 128,
) -> None: ...
def sparse_pack(
    x: npt.NDArray[np.floating[Any]], out: npt.NDArray[np.floating[Any]], threads: int = 0
) -> None: ...
def sparse_unpack(
    input: npt.NDArray[np.floating[Any]],
    bias: npt.NDArray[np.floating[Any]] | None,
    y: npt.NDArray[np.floating[Any]],
    threads: int = 0,
) -> None: ...
def sparse_kernel_isa() -> str: ...
