"""Ramanujan graph families: the LPS Cayley graphs X^{p,q} and the Burnwal-Sinha-Vidyasagar
bi-regular graphs (seed 000, docs/design.md sections 2-3), built in the C++ core as CSR arrays that
numpy and scipy use without copying.

Each family also tells ramcore's solvers (`ramcore.spectral`) what they need to know of it: its
`ramanujan_bound`, whether its certificate is on eigenvalues (`regular`) or singular values, its
known `trivial_vectors`, and its arrays (`symmetric_csr`, `biadjacency`, `biadjacency_weights`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from . import _core
from .field import odd_primes
from .groups import PGL2, PSL2
from .interop import networkx
from .validation import as_int, check_memory, format_bytes, nonnegative_int, odd_prime, positive_int
from .validation import threads as _threads

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx

    from .representations import LPSSpectrum

__all__ = [
    "BiregularGraph",
    "RamanujanFamily",
    "LPSGenerators",
    "LPSGraph",
    "LPSParameters",
    "biregular_graph",
    "lps_generators",
    "lps_graph",
    "lps_parameters",
]

MAX_P: int = int(_core.MAX_P)
MAX_Q: int = int(_core.MAX_Q)
NETWORKX_MAX_EDGES = 2_000_000  # to_networkx beyond this is slow and huge; pass force=True
FloatArray = npt.NDArray[np.float64]


@runtime_checkable
class RamanujanFamily(Protocol):
    """What `eigs`, `svds` and `certify` need to know of a ramcore graph (LPSGraph, BiregularGraph)."""

    @property
    def num_vertices(self) -> int: ...

    @property
    def regular(self) -> bool:
        """True: certified on adjacency eigenvalues; False: on biadjacency singular values."""
        ...

    @property
    def ramanujan_bound(self) -> float: ...

    @property
    def adjacency(self) -> sp.csr_array: ...

    @property
    def biadjacency(self) -> sp.csr_array: ...

    @property
    def biadjacency_weights(self) -> FloatArray | None:
        """The biadjacency's values for the solvers; None when they are all ones."""
        ...

    def symmetric_csr(self) -> tuple[Any, Any, FloatArray | None, int]:
        """(indptr, indices, values or None for all ones, n) of the symmetric adjacency."""
        ...

    def trivial_vectors(self) -> FloatArray:
        """Orthonormal columns spanning the known trivial eigenvectors of the adjacency (the
        solvers know the Laplacians' kernels of any graph)."""
        ...


def constant_vectors(n: int, sides: Any = None) -> FloatArray:
    """The trivial eigenvectors of a regular graph on n vertices: the constant unit vector, and
    +-1 by side (0 / 1 in `sides`) when it is bipartite; as orthonormal columns."""
    cols = [np.full(n, 1.0 / math.sqrt(n))]
    if sides is not None:
        cols.append(np.where(np.asarray(sides) == 0, 1.0, -1.0) / math.sqrt(n))
    return np.ascontiguousarray(np.stack(cols, axis=1))


def _index_bytes(nnz: int, wide: bool = False) -> int:
    """indptr and indices share one dtype (as scipy requires for zero-copy): int32 below 2^31."""
    return 4 if nnz <= 2**31 - 1 and not wide else 8


def _wide(index_dtype: Any, nnz: int) -> bool:
    """Whether to build int64 indices: index_dtype None (automatic), int32 or int64."""
    if index_dtype is None:
        return False
    try:
        dtype = np.dtype(index_dtype)
    except TypeError:
        dtype = None
    if dtype == np.int64:
        return True
    if dtype == np.int32:
        if nnz > 2**31 - 1:
            raise ValueError(f"index_dtype int32 cannot index {nnz:,} entries; use int64 or None")
        return False
    raise ValueError(f"index_dtype must be None (automatic), 'int32' or 'int64', got {index_dtype!r}")


def check_pq(p: Any, q: Any) -> tuple[int, int]:
    """(p, q) checked: distinct odd primes within the core's limits (MAX_P, MAX_Q)."""
    p = odd_prime(p, "p", maximum=MAX_P)
    q = odd_prime(q, "q", maximum=MAX_Q)
    if p == q:
        raise ValueError(f"p and q must be distinct odd primes, got p = q = {p}")
    return p, q


def _legendre(p: int, q: int) -> int:
    return 1 if pow(p, (q - 1) // 2, q) == 1 else -1


def _csr(indptr: Any, indices: Any, data: Any, shape: tuple[int, int]) -> sp.csr_array:
    """csr_array over existing buffers; scipy keeps them as they are (no copy, no re-sort)."""
    a = sp.csr_array((data, indices, indptr), shape=shape, copy=False)
    a.has_sorted_indices = True
    a.has_canonical_format = True
    return a


def _to_networkx(matrix: sp.csr_array, force: bool, bipartite_rows: int | None = None) -> nx.Graph:
    nx = networkx()

    if matrix.nnz > NETWORKX_MAX_EDGES and not force:
        raise ValueError(
            f"the graph has {matrix.nnz} stored entries; networkx would need several GB. "
            "Use the CSR arrays, or pass force=True"
        )
    if bipartite_rows is None:
        return nx.from_scipy_sparse_array(matrix, parallel_edges=False, edge_attribute="weight")
    return nx.bipartite.from_biadjacency_matrix(matrix)


@dataclass(frozen=True, eq=False)  # holds arrays: identity equality, hashable
class LPSGenerators:
    """The p + 1 LPS generators of X^{p,q} (docs/design.md, section 2).

    quaternions: (p + 1, 4) normalised solutions of a0^2 + a1^2 + a2^2 + a3^2 = p, sorted.
    matrices: (p + 1, 4) their canonical images (a, b, c, d) in PGL2(F_q), same order.
    x, y: the solution of x^2 + y^2 + 1 = 0 (mod q) used to map quaternions to matrices.
    legendre: (p/q); -1 means the graph lives on PGL2 and is bipartite, +1 on PSL2.
    loops / repeated: generators equal to the identity / to an earlier generator (q < 2 sqrt(p)).
    """

    p: int
    q: int
    x: int
    y: int
    legendre: int
    quaternions: npt.NDArray[np.int64] = field(repr=False)
    matrices: npt.NDArray[np.int64] = field(repr=False)
    loops: int
    repeated: int

    @property
    def group(self) -> PGL2:
        return PGL2(self.q) if self.legendre == -1 else PSL2(self.q)

    @property
    def simple(self) -> bool:
        """True when the Cayley graph has neither loops nor multi-edges."""
        return self.loops == 0 and self.repeated == 0


def lps_generators(p: int, q: int) -> LPSGenerators:
    """The LPS generators for distinct odd primes p, q (any residues mod 4)."""
    p, q = check_pq(p, q)
    return LPSGenerators(**_core.lps_generators(p, q))


class LPSGraph:
    """The Lubotzky-Phillips-Sarnak Cayley graph X^{p,q}: (p + 1)-regular Ramanujan.

    Vertices are group ranks (see `ramcore.PGL2`). When (p/q) = -1 the graph lives on PGL2(F_q)
    and is bipartite with sides PSL2 (ranks < n/2) and its coset; `biadjacency` is the
    (n/2) x (n/2) block between them. When (p/q) = +1 it lives on PSL2(F_q) and is not bipartite;
    `biadjacency` is then its bipartite double cover, whose biadjacency matrix is the adjacency.
    """

    def __init__(self, generators: LPSGenerators, indptr: Any, indices: Any, data: Any) -> None:
        self.generators = generators
        self.p: int = generators.p
        self.q: int = generators.q
        self.indptr: npt.NDArray[np.integer[Any]] = indptr
        self.indices: npt.NDArray[np.integer[Any]] = indices
        # Edge multiplicities when loops or repeated generators were allowed; None: all ones.
        self.multiplicities: npt.NDArray[np.float64] | None = data

    @property
    def degree(self) -> int:
        """Vertex degree p + 1 (counting multiplicity)."""
        return self.p + 1

    @property
    def bipartite(self) -> bool:
        """True iff (p/q) = -1 (the graph lives on PGL2)."""
        return self.generators.legendre == -1

    @property
    def group(self) -> PGL2:
        """The group whose Cayley graph this is: PGL2(q) or PSL2(q)."""
        return self.generators.group

    @property
    def num_vertices(self) -> int:
        return len(self.indptr) - 1

    @property
    def multigraph(self) -> bool:
        """True when loops or repeated generators were allowed in (q < 2 sqrt(p))."""
        return not self.generators.simple

    @property
    def regular(self) -> bool:
        return True

    @property
    def biadjacency_weights(self) -> FloatArray | None:
        return None if self.multiplicities is None else self.biadjacency.data

    def symmetric_csr(self) -> tuple[Any, Any, FloatArray | None, int]:
        return self.indptr, self.indices, self.multiplicities, self.num_vertices

    def trivial_vectors(self) -> FloatArray:
        """The constant vector (eigenvalue p + 1), and for a bipartite graph the vector +-1 by side
        (eigenvalue -(p + 1))."""
        return constant_vectors(self.num_vertices, self.side)

    @property
    def num_edges(self) -> int:
        """Undirected edges counted with multiplicity: n (p + 1 - L) / 2 + n L, L loop generators
        (a loop adds 1 to its vertex's degree and counts as one edge)."""
        n, loops = self.num_vertices, self.generators.loops
        return int(n * (self.degree - loops) // 2 + n * loops)

    @property
    def side(self) -> npt.NDArray[np.int8] | None:
        """0 for PSL2 vertices, 1 for the coset, when bipartite; None otherwise."""
        if not self.bipartite:
            return None
        side: npt.NDArray[np.int8] = (np.arange(self.num_vertices) >= self.num_vertices // 2).astype(np.int8)
        return side

    @cached_property
    def adjacency(self) -> sp.csr_array:
        """n x n symmetric float64 adjacency (indptr/indices shared, not copied)."""
        data = self.multiplicities
        if data is None:
            check_memory(8 * len(self.indices), "the adjacency's unit weights", "use .indices")
            data = np.ones(len(self.indices), dtype=np.float64)
        n = self.num_vertices
        return _csr(self.indptr, self.indices, data, (n, n))

    @cached_property
    def biadjacency(self) -> sp.csr_array:
        """PSL2 x coset block if bipartite; else the double cover's biadjacency (= adjacency)."""
        a = self.adjacency
        if not self.bipartite:
            return a
        h = self.num_vertices // 2
        end = int(self.indptr[h])
        return _csr(
            self.indptr[: h + 1],
            self.indices[:end] - self.indices.dtype.type(h),
            a.data[:end],
            (h, h),
        )

    @property
    def density(self) -> float:
        """Fraction of the biadjacency matrix that is non-zero (the mask density of a layer)."""
        rows = self.num_vertices // 2 if self.bipartite else self.num_vertices
        return float(len(self.indices) / (2 if self.bipartite else 1) / (rows * rows))

    @property
    def ramanujan_bound(self) -> float:
        """2 sqrt(p): every eigenvalue other than +-(p + 1) is at most this in absolute value."""
        return 2.0 * math.sqrt(self.p)

    @property
    def nbytes(self) -> int:
        """Bytes held by the CSR arrays."""
        extra = 0 if self.multiplicities is None else self.multiplicities.nbytes
        return int(self.indptr.nbytes + self.indices.nbytes + extra)

    def spectrum(self, *, double_cover: bool = False, threads: int | None = None) -> LPSSpectrum:
        """The exact spectrum from the irreducible representations of the group
        (`ramcore.lps_spectrum`; the CSR is not used)."""
        from .representations import lps_spectrum  # imports this module

        return lps_spectrum(
            self.p, self.q, allow_multigraph=self.multigraph, double_cover=double_cover, threads=threads
        )

    def to_networkx(self, force: bool = False) -> nx.Graph:
        """networkx Graph (MultiGraph weights as 'weight'); refused for big graphs unless force."""
        g = _to_networkx(self.adjacency, force)
        if self.bipartite:
            networkx().set_node_attributes(g, dict(enumerate(self.side.tolist())), "bipartite")  # type: ignore[union-attr]
        return g

    def summary(self) -> str:
        kind = "bipartite" if self.bipartite else "non-bipartite"
        lines = [
            f"LPS graph X^{{{self.p},{self.q}}}: Cayley graph of {self.group.name}(F_{self.q}), {kind}",
            f"  vertices       {self.num_vertices:,}",
            f"  degree         {self.degree}",
            f"  edges          {self.num_edges:,} undirected ({len(self.indices):,} stored entries)",
            f"  (p/q)          {self.generators.legendre:+d}",
            f"  biadjacency    {self.biadjacency_shape[0]:,} x {self.biadjacency_shape[1]:,}"
            + ("" if self.bipartite else " (bipartite double cover)")
            + f", density {self.density:.3g}",
            f"  Ramanujan bound |lambda| <= 2 sqrt(p) = {self.ramanujan_bound:.4f}",
            f"  x, y           {self.generators.x}, {self.generators.y}  (x^2 + y^2 + 1 = 0 mod q)",
            f"  CSR memory     {format_bytes(self.nbytes)} ({self.indices.dtype} indptr and indices)",
        ]
        if self.multigraph:
            lines.append(
                f"  multigraph     {self.generators.loops} loop generator(s), "
                f"{self.generators.repeated} repeated (q < 2 sqrt(p)); weights hold multiplicities"
            )
        return "\n".join(lines)

    @property
    def biadjacency_shape(self) -> tuple[int, int]:
        h = self.num_vertices // 2 if self.bipartite else self.num_vertices
        return (h, h)

    def __repr__(self) -> str:
        return (
            f"LPSGraph(p={self.p}, q={self.q}, n={self.num_vertices}, degree={self.degree}, "
            f"bipartite={self.bipartite})"
        )


def _lps_size(p: int, q: int) -> tuple[int, int]:
    """Vertex count and (upper bound on the) stored entries of X^{p,q}."""
    n = q * (q * q - 1) // (1 if _legendre(p, q) == -1 else 2)
    return n, n * (p + 1)


def lps_graph(
    p: int,
    q: int,
    *,
    allow_multigraph: bool = False,
    threads: int | None = None,
    index_dtype: Any = None,
) -> LPSGraph:
    """Build X^{p,q} for distinct odd primes p, q.

    allow_multigraph: when q < 2 sqrt(p) generators may coincide or equal the identity. By default
    this raises ValueError; with True the graph is built with merged entries whose multiplicities
    are the adjacency weights (`multiplicities`), so the spectrum is that of the Cayley multigraph.
    threads: worker threads (None: all cores); the output is identical for any value.
    index_dtype: dtype of indptr and indices; None picks int32 while the entries fit (scipy then
    shares the buffers), "int64" forces 64-bit indices (e.g. for torch.sparse).
    """
    p, q = check_pq(p, q)
    if not isinstance(allow_multigraph, bool):
        raise TypeError(f"allow_multigraph must be a bool, got {allow_multigraph!r}")
    nthreads = _threads(threads)
    n, nnz = _lps_size(p, q)
    wide = _wide(index_dtype, nnz)
    nbytes = (n + 1 + nnz) * _index_bytes(nnz, wide)
    what = f"X^{{{p},{q}}} ({n:,} vertices, degree {p + 1})"
    fix = "choose a smaller q (vertex count grows as q^3) or a smaller p"
    check_memory(nbytes, what, fix)
    gens = lps_generators(p, q)
    if not gens.simple and not allow_multigraph:
        raise ValueError(
            f"X^{{{p},{q}}} is a multigraph: {gens.loops} generator(s) equal the identity (loops) "
            f"and {gens.repeated} repeat an earlier one, because q = {q} < 2 sqrt(p) = "
            f"{2 * math.sqrt(p):.2f}. Choose q > 2 sqrt(p), or pass allow_multigraph=True"
        )
    if not gens.simple:
        check_memory(nbytes + 8 * nnz, what + " with multiplicities", fix)
    indptr, indices, data, _shape = _core.lps_adjacency(p, q, allow_multigraph, nthreads, wide)
    return LPSGraph(gens, indptr, indices, data)


@dataclass(frozen=True)
class LPSParameters:
    """An admissible (p, q) pair and the graph it gives (see `lps_parameters`)."""

    p: int
    q: int
    vertices: int
    degree: int
    bipartite: bool
    layer_shape: tuple[int, int]  # biadjacency (mask) shape: n/2 x n/2, or n x n double cover
    density: float  # degree / layer_shape[0], the mask density of that layer
    guaranteed_simple: bool  # q > 2 sqrt(p): no loops or multi-edges (below, lps_generators tells)


def lps_parameters(
    *,
    p_max: int = 97,
    q_max: int = 211,
    min_vertices: int = 0,
    max_vertices: int | None = None,
    degree: int | None = None,
    bipartite: bool | None = None,
    guaranteed_simple: bool = True,
    target_vertices: int | None = None,
) -> list[LPSParameters]:
    """Admissible (p, q) pairs with p <= p_max, q <= q_max and the graphs they give.

    Filters: vertex count in [min_vertices, max_vertices], exact `degree` (p + 1; overrides
    p_max), `bipartite` (True/False/None for both), `guaranteed_simple` (only q > 2 sqrt(p), where
    LPS guarantee a simple graph; False also lists smaller q, which may have loops or multi-edges:
    `lps_generators(p, q).simple` tells exactly). Sorted by vertex count, or by distance to
    `target_vertices` when given.
    """
    p_max = as_int(p_max, "p_max")
    q_max = as_int(q_max, "q_max")
    if not 3 <= p_max <= MAX_P:
        raise ValueError(f"p_max must be in [3, {MAX_P}], got {p_max}")
    if not 3 <= q_max <= MAX_Q:
        raise ValueError(f"q_max must be in [3, {MAX_Q}], got {q_max}")
    if bipartite is not None and not isinstance(bipartite, bool):
        raise TypeError(f"bipartite must be True, False or None, got {bipartite!r}")
    if not isinstance(guaranteed_simple, bool):
        raise TypeError(f"guaranteed_simple must be a bool, got {guaranteed_simple!r}")
    min_vertices = nonnegative_int(min_vertices, "min_vertices")
    max_vertices = None if max_vertices is None else nonnegative_int(max_vertices, "max_vertices")
    if max_vertices is not None and max_vertices < min_vertices:
        raise ValueError(f"max_vertices ({max_vertices}) must be at least min_vertices ({min_vertices})")
    t = None if target_vertices is None else positive_int(target_vertices, "target_vertices")
    degree = None if degree is None else as_int(degree, "degree")
    if degree is not None and not (4 <= degree <= MAX_P + 1 and _core.is_prime(degree - 1)):
        raise ValueError(f"degree must be p + 1 for an odd prime p <= {MAX_P}, got {degree}")
    primes_p = [degree - 1] if degree is not None else odd_primes(3, p_max)
    primes_q = odd_primes(3, q_max)
    out = []
    for p in primes_p:
        for q in primes_q:
            if q == p or (guaranteed_simple and q <= 2 * math.sqrt(p)):
                continue
            bip = _legendre(p, q) == -1
            if bipartite is not None and bip != bipartite:
                continue
            n = q * (q * q - 1) // (1 if bip else 2)
            if n < min_vertices or (max_vertices is not None and n > max_vertices):
                continue
            side = n // 2 if bip else n
            out.append(LPSParameters(p, q, n, p + 1, bip, (side, side), (p + 1) / side, q > 2 * math.sqrt(p)))
    if t is not None:
        out.sort(key=lambda r: (abs(r.vertices - t), r.vertices, r.p))
    else:
        out.sort(key=lambda r: (r.vertices, r.p, r.q))
    return out


class BiregularGraph:
    """Burnwal-Sinha-Vidyasagar (l, q)-bi-regular bipartite Ramanujan graph (docs/design.md, section 3).

    `biadjacency` is q^2 x l q: row (i, r) = i q + r connects to columns j q + (r - i j mod q),
    j < l. Rows have degree l, columns degree q, density 1/q. For l > q the column blocks repeat
    with period q: columns c and c + q^2 have the same neighbours (`repeated_columns`). For l = 1
    the graph is q disjoint stars K_{1,q} (`connected` is False) and is not Ramanujan.
    """

    def __init__(self, q: int, l: int, indptr: Any, indices: Any) -> None:
        self.q = q
        self.l = l
        self.indptr: npt.NDArray[np.integer[Any]] = indptr
        self.indices: npt.NDArray[np.integer[Any]] = indices

    bipartite = True

    @property
    def num_rows(self) -> int:
        """Rows of the biadjacency, q^2."""
        return self.q * self.q

    @property
    def num_cols(self) -> int:
        """Columns of the biadjacency, l q."""
        return self.l * self.q

    @property
    def num_vertices(self) -> int:
        return self.num_rows + self.num_cols

    @property
    def num_edges(self) -> int:
        """Edges, q^2 l."""
        return len(self.indices)

    @property
    def row_degree(self) -> int:
        return self.l

    @property
    def col_degree(self) -> int:
        return self.q

    @property
    def density(self) -> float:
        """Fraction of non-zero biadjacency entries, 1/q."""
        return 1.0 / self.q

    @property
    def repeated_columns(self) -> bool:
        """True when l > q: column blocks (input neurons) repeat with period q."""
        return self.l > self.q

    @property
    def degrees(self) -> tuple[int, int]:
        """(row degree, column degree) = (l, q)."""
        return (self.l, self.q)

    @property
    def connected(self) -> bool:
        """False only for l = 1 (q disjoint stars)."""
        return self.l >= 2

    @property
    def ramanujan_bound(self) -> float:
        """sqrt(l - 1) + sqrt(q - 1), the bi-regular Ramanujan bound on the non-trivial singular
        values. Met for l >= 2 (every non-trivial singular value is sqrt(q) or 0 when l <= q); for
        l = 1 the q stars have sigma_2 = sqrt(q) > sqrt(q - 1)."""
        return math.sqrt(self.l - 1) + math.sqrt(self.q - 1)

    @property
    def regular(self) -> bool:
        return False

    @property
    def biadjacency_weights(self) -> FloatArray | None:
        return None

    def symmetric_csr(self) -> tuple[Any, Any, FloatArray | None, int]:
        a = self.adjacency
        return a.indptr, a.indices, a.data, a.shape[0]

    def trivial_vectors(self) -> FloatArray:
        """The singular pair of sigma_1 = sqrt(lq) as the two eigenvectors of +-sigma_1 (sqrt(l) on
        the rows, +-sqrt(q) on the columns)."""
        rows, cols = self.num_rows, self.num_cols
        u = np.concatenate([np.full(rows, math.sqrt(self.l)), np.full(cols, math.sqrt(self.q))])
        flip = np.concatenate([np.full(rows, math.sqrt(self.l)), np.full(cols, -math.sqrt(self.q))])
        return np.ascontiguousarray(np.stack([u / np.linalg.norm(u), flip / np.linalg.norm(flip)], axis=1))

    @cached_property
    def biadjacency(self) -> sp.csr_array:
        """q^2 x l q float64 biadjacency (indptr/indices shared, not copied)."""
        check_memory(8 * len(self.indices), "the biadjacency's unit weights", "use .indices")
        data = np.ones(len(self.indices), dtype=np.float64)
        return _csr(self.indptr, self.indices, data, (self.num_rows, self.num_cols))

    @cached_property
    def adjacency(self) -> sp.csr_array:
        """(q^2 + l q) square symmetric adjacency [[0, B], [B^T, 0]] (a copy)."""
        b = self.biadjacency
        return sp.block_array([[None, b], [b.T, None]], format="csr")

    @property
    def nbytes(self) -> int:
        return int(self.indptr.nbytes + self.indices.nbytes)

    def to_networkx(self, force: bool = False) -> nx.Graph:
        """networkx bipartite Graph: rows 0..q^2-1 (bipartite=0), then columns (bipartite=1)."""
        return _to_networkx(self.biadjacency, force, bipartite_rows=self.num_rows)

    def summary(self) -> str:
        lines = [
            f"Bi-regular graph (Burnwal-Sinha-Vidyasagar) q = {self.q}, l = {self.l}",
            f"  biadjacency    {self.num_rows:,} x {self.num_cols:,} (q^2 x l q), density {self.density:.3g}",
            f"  degrees        rows {self.row_degree}, columns {self.col_degree}",
            f"  edges          {self.num_edges:,}",
            f"  Ramanujan bound sigma_2 <= sqrt(l-1) + sqrt(q-1) = {self.ramanujan_bound:.4f}",
            f"  CSR memory     {format_bytes(self.nbytes)} ({self.indices.dtype} indptr and indices)",
        ]
        if not self.connected:
            lines.append(f"  note           l = 1: {self.q} disjoint stars K_1,{self.q}; not Ramanujan")
        if self.repeated_columns:
            lines.append(
                "  note           l > q: column blocks repeat with period q (duplicate input neurons)"
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"BiregularGraph(q={self.q}, l={self.l}, shape=({self.num_rows}, {self.num_cols}))"


def biregular_graph(q: int, l: int, *, threads: int | None = None, index_dtype: Any = None) -> BiregularGraph:
    """Build the (l, q)-bi-regular Burnwal-Sinha-Vidyasagar graph for a prime q and l >= 1.

    threads and index_dtype as for `lps_graph`.
    """
    q = as_int(q, "q")
    if q < 2 or q >= 2**63 or not _core.is_prime(q):
        raise ValueError(f"q must be a prime, got {q}")
    l = as_int(l, "l")
    if l < 1:
        raise ValueError(f"l must be an integer >= 1 (number of column blocks), got {l}")
    nthreads = _threads(threads)
    rows, cols = q * q, l * q
    wide = _wide(index_dtype, rows * l)
    nbytes = (rows + 1 + rows * l) * _index_bytes(rows * l, wide)
    check_memory(
        nbytes,
        f"the bi-regular graph q = {q}, l = {l} ({rows:,} x {cols:,}, {rows * l:,} edges)",
        "choose a smaller q or l",
    )
    indptr, indices, _data, _shape = _core.biregular_biadjacency(q, l, nthreads, wide)
    return BiregularGraph(q, l, indptr, indices)
