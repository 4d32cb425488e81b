"""Eigenvalues, singular values and Ramanujan certificates, computed by ramcore's C++ Lanczos.

- `eigs(A, k, which=...)`: a few eigenvalues of a symmetric matrix or graph operator (adjacency,
  combinatorial or normalised Laplacian), on ramcore graphs, scipy sparse matrices, numpy arrays
  and torch tensors, or matrix-free on an LPS Cayley graph (`lps_operator`).
- `svds(B, k)`: the largest singular values of a rectangular (biadjacency) matrix.
- `certify(graph)`: the Ramanujan certificate of an LPS or bi-regular graph.

Every result reports residual norms, matrix-vector products, restarts and whether the requested
tolerance was met; non-convergence is reported in the result, never hidden or raised.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _core
from .graphs import LPSGenerators, LPSGraph, RamanujanFamily, check_pq, constant_vectors, lps_generators
from .interop import DeviceWarning, as_csr, check_symmetric, refuse_complex
from .progress import check_progress, core_progress
from .representations import certify_blocks
from .validation import as_int, available_memory, check_memory, core_seed, positive_int, tolerance
from .validation import threads as _threads

__all__ = [
    "DeviceWarning",  # re-exported from ramcore.interop
    "EigenResult",
    "SVDResult",
    "Certificate",
    "LPSOperator",
    "lps_operator",
    "eigs",
    "svds",
    "certify",
]

FloatArray = npt.NDArray[np.float64]
OPERATORS = ("adjacency", "laplacian", "normalized_laplacian")


@dataclass(frozen=True, eq=False)
class EigenResult:
    """Eigenvalues (best first in the `which` order) with their true residual norms
    ||A y - lambda y|| for unit Ritz vectors y; `converged` says whether every true residual met
    max(tol `|lambda|`, 100 eps ||A||) (relative, with a floor for eigenvalues near zero)."""

    values: FloatArray
    residuals: FloatArray
    vectors: FloatArray | None = field(repr=False)
    converged: bool
    matvecs: int
    restarts: int
    tol: float
    seconds: float


@dataclass(frozen=True, eq=False)
class SVDResult:
    """Largest singular values, descending, with residuals ||B^T u - sigma v|| (u = B v / sigma)."""

    values: FloatArray
    residuals: FloatArray
    vectors: FloatArray | None = field(repr=False)  # right (side="cols") or left singular vectors
    side: str
    converged: bool
    matvecs: int
    restarts: int
    tol: float
    seconds: float


class LPSOperator:
    """The adjacency operator of X^{p,q} computed on the fly from the group ranking: memory O(n)
    per vector instead of the CSR's O(n (p + 1)), so graphs too large to store can be analysed."""

    def __init__(self, generators: LPSGenerators) -> None:
        self.generators = generators
        self.p, self.q = generators.p, generators.q
        self.num_vertices: int = (
            generators.q * (generators.q**2 - 1) // (1 if generators.legendre == -1 else 2)
        )
        self.degree = self.p + 1
        self.bipartite = generators.legendre == -1
        self.shape = (self.num_vertices, self.num_vertices)
        self._cayley: _core.CayleyOperator | None = None

    @property
    def cayley(self) -> _core.CayleyOperator:
        """The compiled operator (generators and group tables), built on first use (over a second
        for large p) and then reused by every product and by `eigs`."""
        if self._cayley is None:
            self._cayley = _core.CayleyOperator(self.p, self.q)
        return self._cayley

    def matvec(self, x: Any, threads: int | None = None) -> FloatArray:
        """A x for a vector with one entry per vertex."""
        v = np.ascontiguousarray(x, dtype=np.float64).reshape(-1)
        if v.shape[0] != self.num_vertices:
            raise ValueError(f"x must have {self.num_vertices} entries, got {v.shape[0]}")
        out: FloatArray = self.cayley.matvec(v, _threads(threads))
        return out

    def __matmul__(self, x: Any) -> FloatArray:
        return self.matvec(x)

    def as_linear_operator(self) -> Any:
        """A scipy.sparse.linalg.LinearOperator (symmetric) for use with scipy's solvers."""
        from scipy.sparse.linalg import LinearOperator

        return LinearOperator(self.shape, matvec=self.matvec, rmatvec=self.matvec, dtype=np.float64)

    def __repr__(self) -> str:
        return f"LPSOperator(p={self.p}, q={self.q}, n={self.num_vertices}, matrix-free)"

    @property
    def regular(self) -> bool:
        return True

    @property
    def ramanujan_bound(self) -> float:
        """2 sqrt(p), as `LPSGraph.ramanujan_bound`."""
        return 2.0 * math.sqrt(self.p)

    def trivial_vectors(self) -> FloatArray:
        """As `LPSGraph.trivial_vectors` (ranks below n / 2 are one side of a bipartite graph)."""
        n = self.num_vertices
        return constant_vectors(n, np.arange(n) >= n // 2 if self.bipartite else None)


def lps_operator(p: int, q: int, *, allow_multigraph: bool = False) -> LPSOperator:
    """Matrix-free adjacency operator of X^{p,q} (see `LPSOperator`)."""
    p, q = check_pq(p, q)
    gens = lps_generators(p, q)
    if not gens.simple and not allow_multigraph:
        raise ValueError(
            f"X^{{{p},{q}}} has loops or repeated generators (q < 2 sqrt(p)); pass allow_multigraph=True"
        )
    return LPSOperator(gens)


METHODS = ("thick-restart", "two-pass")


def _solver_args(
    k: Any, tol: Any, ncv: Any, max_restarts: Any, seed: Any, threads: Any, method: Any = "thick-restart"
) -> dict[str, Any]:
    k = positive_int(k, "k")
    tol = tolerance(tol, "tol")
    ncv = 0 if ncv is None else as_int(ncv, "ncv")
    if ncv and ncv <= k:
        raise ValueError(f"ncv must exceed k = {k}, got {ncv}")
    max_restarts = as_int(max_restarts, "max_restarts")
    if max_restarts < 0:
        raise ValueError(f"max_restarts must be >= 0, got {max_restarts}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method == "two-pass" and k != 1:
        raise ValueError(f"method='two-pass' computes one eigenvalue: k must be 1, got {k}")
    seed = core_seed(seed)
    return {
        "k": k,
        "ncv": ncv,
        "tol": tol,
        "max_restarts": max_restarts,
        "seed": seed,
        "threads": _threads(threads),
        "two_pass": method == "two-pass",
        "keep_bytes": two_pass_keep_bytes() if method == "two-pass" else 0,
    }


def two_pass_keep_bytes() -> int:
    """The memory the two-pass Lanczos may keep its vectors in (beyond it, it replays the
    recurrence to form the eigenvector): a quarter of what is available, at most 1 GiB."""
    return min(2**30, available_memory() // 4)


def _basis_memory(n: int, k: int, ncv: int | None, two_pass: bool = False, extra_vectors: int = 0) -> None:
    """MemoryError before a solve whose Lanczos vectors (and `extra_vectors` more) would not fit."""
    m = 4 if two_pass else min(ncv or max(2 * k + 1, 20), n)  # the core caps the basis at n
    # Two-pass keeps 4 vectors already: only a smaller graph, or no n-vector at all, helps.
    fix = (
        "use a smaller graph (an LPS graph: certify by the group's representations, which forms no n-vector)"
        if two_pass
        else "use a smaller ncv or graph"
    )
    check_memory(8 * n * (m + 6 + extra_vectors), f"the Lanczos basis ({n:,} x {m + 1})", fix)


def _deflation(deflate: Any, n: int) -> FloatArray | None:
    """Orthonormalise user-supplied vectors (n,) or (n, r) to exclude from the search."""
    if deflate is None:
        return None
    refuse_complex(deflate, "deflate")
    try:
        y = np.asarray(deflate, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"deflate must be an array of real vectors (n,) or (n, r), got {type(deflate).__name__}"
        ) from None
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2 or y.shape[0] != n:
        raise ValueError(f"deflate must have shape ({n},) or ({n}, r), got {y.shape}")
    if not np.isfinite(y).all():
        raise ValueError("deflate must be finite: it holds NaN or infinite entries")
    if y.shape[1] == 0:
        return None
    q, r = np.linalg.qr(y)
    if np.min(np.abs(np.diag(r))) < 1e-12 * max(1.0, np.max(np.abs(r))):
        raise ValueError("deflate vectors must be linearly independent")
    return np.ascontiguousarray(q)


# --- eigenvalues ----------------------------------------------------------------------------------


def eigs(
    a: Any,
    k: int = 6,
    *,
    which: str = "LA",
    operator: str = "adjacency",
    nontrivial: bool = False,
    deflate: Any = None,
    matrix_free: bool = False,
    tol: float = 1e-10,
    ncv: int | None = None,
    max_restarts: int = 1000,
    seed: int = 0,
    threads: int | None = None,
    return_vectors: bool = False,
    method: str = "thick-restart",
    progress: bool | None = None,
) -> EigenResult:
    """k eigenvalues of a symmetric matrix or graph by thick-restart Lanczos in ramcore's core.

    a: an LPSGraph, BiregularGraph (its bipartite adjacency), LPSOperator (matrix-free), a scipy
      sparse matrix, a numpy array or a torch tensor (copied to the CPU with a DeviceWarning).

    which: "LA" largest, "SA" smallest (algebraic), "LM" largest in magnitude.
    operator: "adjacency", "laplacian" (D - A) or "normalized_laplacian" (I - D^-1/2 A D^-1/2).

    nontrivial: exclude the known trivial eigenvectors of the adjacency (constant, and +-1 by side
      when bipartite) for ramcore graphs and regular graphs; for other matrices, the computed top
      eigenvector in the `which` order. For a Laplacian, the kernel (constant, or D^1/2 1).

    deflate: extra vectors (n,) or (n, r) to exclude (orthonormalised here).
    matrix_free: for an LPSGraph, use the on-the-fly Cayley operator instead of its CSR.
    tol: relative residual tolerance; ncv: basis size (default max(2k + 1, 20), at most n).

    method: "thick-restart" (default; full re-orthogonalisation, any k, multiplicities resolved)
      or "two-pass" (k = 1: the plain recurrence in two passes, memory O(n) and no Gram-Schmidt,
      several times faster on large graphs; see lanczos.hpp).
    progress: the matrix-vector products and the current residual while the solver runs (see
      `ramcore.progress`: None shows a bar on a terminal once a solve has taken 2 s).
    """
    check_progress(progress)
    if which not in ("LA", "SA", "LM"):
        raise ValueError(f"which must be 'LA', 'SA' or 'LM', got {which!r}")
    if operator not in OPERATORS:
        raise ValueError(f"operator must be one of {OPERATORS}, got {operator!r}")
    args = _solver_args(k, tol, ncv, max_restarts, seed, threads, method)
    start = time.perf_counter()

    if isinstance(a, LPSGraph) and matrix_free:
        a = LPSOperator(a.generators)
    if isinstance(a, LPSOperator):
        if operator != "adjacency":
            raise ValueError("the matrix-free LPS operator supports operator='adjacency' only")
        n = a.num_vertices
        trivial = a.trivial_vectors() if nontrivial else None
        y = _stack(trivial, _deflation(deflate, n))
        _check_k(args["k"], n, y)
        _basis_memory(n, args["k"], args["ncv"], args["two_pass"])
        with core_progress("eigs", "matvec", progress) as report:
            raw = a.cayley.eigsh(y, which=which, vectors=return_vectors, progress=report, **args)
        return _eigen_result(raw, args["tol"], start)

    indptr, indices, data, n = _symmetric_csr(a)
    if operator == "normalized_laplacian" and data is not None:
        deg = _degrees(indptr, data, n)
        bad = np.flatnonzero((deg <= 0) & (np.diff(indptr) > 0))
        if bad.size:
            raise ValueError(
                f"operator='normalized_laplacian' needs positive weighted degrees: vertex {bad[0]} has "
                f"degree {deg[bad[0]]:.6g}; use operator='laplacian' for signed weights"
            )
    trivial = None
    if nontrivial:
        trivial = _trivial_vectors(a, indptr, data, n, operator)
        if trivial is None:  # unknown structure: compute the top eigenvector and exclude it
            top = _core.eigsh_csr(
                indptr,
                indices,
                data,
                n,
                operator,
                _deflation(deflate, n),
                which=which,
                vectors=True,
                **{**args, "k": 1},
            )
            trivial = np.ascontiguousarray(top["vectors"])
    y = _stack(trivial, _deflation(deflate, n))
    _check_k(args["k"], n, y)
    _basis_memory(n, args["k"], args["ncv"], args["two_pass"])
    with core_progress("eigs", "matvec", progress) as report:
        raw = _core.eigsh_csr(
            indptr, indices, data, n, operator, y, which=which, vectors=return_vectors, progress=report,
            **args,
        )
    return _eigen_result(raw, args["tol"], start)


def _norm(x: FloatArray) -> float:
    """Euclidean norm without BLAS: an OpenBLAS call leaves its threads spinning for ~0.1 s,
    stealing the cores the solver is about to use."""
    return float(np.sqrt(np.sum(x * x)))


def _stack(*blocks: FloatArray | None) -> FloatArray | None:
    parts = [b for b in blocks if b is not None]
    if not parts:
        return None
    y = np.concatenate(parts, axis=1)
    if len(parts) > 1:  # keep the block orthonormal
        y = np.linalg.qr(y)[0]
    return np.ascontiguousarray(y)


def _check_k(k: int, n: int, y: FloatArray | None) -> None:
    dim = n - (0 if y is None else y.shape[1])
    if k > dim:
        raise ValueError(f"k must be at most {dim} (the dimension left after deflation), got {k}")


def _symmetric_csr(a: Any) -> tuple[Any, Any, Any, int]:
    """(indptr, indices, data or None, n) of a symmetric matrix input."""
    if isinstance(a, RamanujanFamily):
        return a.symmetric_csr()
    m = as_csr(a, "a")
    check_symmetric(m, "a", "use svds for rectangular or non-symmetric matrices")
    return m.indptr, m.indices, m.data, m.shape[0]


def _trivial_vectors(a: Any, indptr: Any, data: Any, n: int, operator: str) -> FloatArray | None:
    """Known trivial eigenvectors: the kernel of a Laplacian (of any graph), the adjacency's of a
    ramcore graph (its own) or of a regular graph; None when they must be computed."""
    if operator == "laplacian":
        return constant_vectors(n)
    if operator == "normalized_laplacian":
        v = np.sqrt(np.maximum(_degrees(indptr, data, n), 0.0))
        return None if not v.any() else (v / _norm(v))[:, None]
    if isinstance(a, RamanujanFamily):
        return a.trivial_vectors()
    degrees = _degrees(indptr, data, n)
    if n and np.allclose(degrees, degrees[0]):
        return constant_vectors(n)
    return None


def _degrees(indptr: Any, data: Any, n: int) -> FloatArray:
    """Row sums of a CSR matrix (number of entries when unweighted); empty rows give 0."""
    counts = np.diff(indptr)
    if data is None:
        unweighted: FloatArray = counts.astype(np.float64)
        return unweighted
    weighted: FloatArray = np.asarray(
        np.bincount(np.repeat(np.arange(n), counts), weights=data, minlength=n), dtype=np.float64
    )
    return weighted


def _eigen_result(raw: dict[str, Any], tol: float, start: float) -> EigenResult:
    return EigenResult(
        values=raw["values"],
        residuals=raw["residuals"],
        vectors=raw["vectors"],
        converged=bool(raw["converged"]),
        matvecs=int(raw["matvecs"]),
        restarts=int(raw["restarts"]),
        tol=tol,
        seconds=time.perf_counter() - start,
    )


# --- singular values ------------------------------------------------------------------------------


def svds(
    b: Any,
    k: int = 6,
    *,
    nontrivial: bool = False,
    deflate: Any = None,
    side: str = "auto",
    tol: float = 1e-10,
    ncv: int | None = None,
    max_restarts: int = 1000,
    seed: int = 0,
    threads: int | None = None,
    return_vectors: bool = False,
    method: str = "thick-restart",
    progress: bool | None = None,
) -> SVDResult:
    """The k largest singular values of a rectangular matrix by Lanczos on B^T B or B B^T
    (Golub-Kahan bidiagonalisation in exact arithmetic), on the smaller side by default.

    b: a BiregularGraph or LPSGraph (their biadjacency), a scipy sparse matrix, numpy array or
      torch tensor. nontrivial: exclude the top singular pair (constant vectors for bi-regular and
      LPS graphs; the computed top pair otherwise), so values[0] is sigma_2.

    side: "cols" (B^T B, right vectors), "rows" (B B^T, left vectors) or "auto" (smaller side).
    Singular values below about sqrt(eps) * sigma_1 lose relative accuracy on the normal operator;
    each residual is a bound on its value's error, min(r / sigma, sqrt(r)) for the residual r of
    sigma^2 on the normal operator. progress: as for `eigs`.
    """
    check_progress(progress)
    args = _solver_args(k, tol, ncv, max_restarts, seed, threads, method)
    start = time.perf_counter()
    known = isinstance(b, RamanujanFamily)  # top singular vectors constant on each side
    m = b.biadjacency if known else as_csr(b, "b")
    rows, cols = m.shape
    if side not in ("auto", "rows", "cols"):
        raise ValueError(f"side must be 'auto', 'rows' or 'cols', got {side!r}")
    columns = cols <= rows if side == "auto" else side == "cols"
    n = cols if columns else rows
    if n == 0:
        raise ValueError(f"b has shape {m.shape}: no singular values")
    data = b.biadjacency_weights if known else m.data
    trivial = None
    if nontrivial:
        if known:
            trivial = constant_vectors(n)
        else:
            top = _core.svds_csr(
                m.indptr,
                m.indices,
                data,
                rows,
                cols,
                columns,
                _deflation(deflate, n),
                vectors=True,
                **{**args, "k": 1},
            )
            trivial = np.ascontiguousarray(top["vectors"])
    y = _stack(trivial, _deflation(deflate, n))
    _check_k(args["k"], n, y)
    _basis_memory(n, args["k"], args["ncv"], args["two_pass"])
    with core_progress("svds", "matvec", progress) as report:
        raw = _core.svds_csr(
            m.indptr, m.indices, data, rows, cols, columns, y, vectors=return_vectors, progress=report, **args
        )
    theta = np.maximum(raw["values"], 0.0)
    sigma = np.sqrt(theta)
    # A residual r of theta = sigma^2 on the normal operator bounds the error of sigma by r / sigma
    # (|theta - theta'| = |sigma - sigma'| (sigma + sigma')) and by sqrt(r): report the smaller, so
    # that a singular value near zero does not carry a bound of r / 1e-14.
    r = np.maximum(raw["residuals"], 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        resid = np.minimum(np.where(sigma > 0, r / np.where(sigma > 0, sigma, 1.0), np.inf), np.sqrt(r))
    return SVDResult(
        values=sigma,
        residuals=resid,
        vectors=raw["vectors"],
        side="cols" if columns else "rows",
        converged=bool(raw["converged"]),
        matvecs=int(raw["matvecs"]),
        restarts=int(raw["restarts"]),
        tol=args["tol"],
        seconds=time.perf_counter() - start,
    )


# --- certificates ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Certificate:
    """Ramanujan certificate computed by ramcore.

    For an LPS graph: lambda1 = p + 1 (checked by a matrix-vector product with the constant
    vector) and `nontrivial` = the largest `|lambda|` over the other eigenvalues (also excluding
    -(p + 1) when bipartite); bound 2 sqrt(p). For a non-bipartite X^{p,q} this is also sigma_2
    of its bipartite double cover. For a bi-regular graph: lambda1 = sigma_1 = sqrt(l q) and
    `nontrivial` = sigma_2; bound sqrt(l - 1) + sqrt(q - 1).
    `ramanujan` is True when the solver converged and nontrivial + residual <= bound.
    """

    graph: str
    vertices: int
    degrees: tuple[int, ...]
    lambda1: float
    lambda1_residual: float
    nontrivial: float
    residual: float
    bound: float
    margin: float
    ramanujan: bool
    converged: bool
    matvecs: int
    restarts: int
    tol: float
    seconds: float
    method: str
    irrep: str = ""  # method="representations": the representation(s) where `nontrivial` occurs

    def summary(self) -> str:
        verdict = (
            "RAMANUJAN"
            if self.ramanujan
            else ("NOT Ramanujan" if self.converged else "UNDECIDED (not converged)")
        )
        return "\n".join(
            [
                f"Certificate for {self.graph}: {verdict}",
                f"  vertices          {self.vertices:,}   degrees {', '.join(map(str, self.degrees))}",
                f"  lambda_1          {self.lambda1:.12g}   (residual {self.lambda1_residual:.2e})",
                f"  largest nontrivial {self.nontrivial:.12g}   (residual {self.residual:.2e})",
                f"  Ramanujan bound   {self.bound:.12g}   margin {self.margin:.6g}",
                f"  solver            {self.method}, tol {self.tol:g}, {self.matvecs} matvecs, "
                f"{self.restarts} restarts, converged={self.converged}",
            ]
            + ([f"  attained in       {self.irrep}"] if self.irrep else [])
            + [f"  time              {self.seconds:.3f} s"]
        )


CERTIFY_METHODS = ("auto", "representations", *METHODS)
REPRESENTATIONS_MIN_VERTICES = 10_000  # "auto" below this: the CSR Lanczos (a few ms) is faster


def certify(
    graph: Any,
    *,
    matrix_free: bool = False,
    method: str = "auto",
    tol: float = 1e-10,
    ncv: int | None = None,
    max_restarts: int = 1000,
    seed: int = 0,
    threads: int | None = None,
    progress: bool | None = None,
) -> Certificate:
    """Certify an LPSGraph, LPSOperator (matrix-free) or BiregularGraph as Ramanujan.

    method: "auto" (default), "representations", "two-pass" or "thick-restart".
      "representations" (LPS graphs only): the extreme eigenvalues of every irreducible block
      M_rho = sum_s rho(s) of PGL2(F_q) or PSL2(F_q) (`ramcore.representations`), never the graph:
      X^{5,1009} (514 M vertices) in seconds; `irrep` names where the largest value occurs.
      "two-pass": the plain Lanczos recurrence on the CSR (or, with matrix_free, on the Cayley
      operator), memory O(n); "thick-restart": Lanczos with re-orthogonalisation and restarts.
      "auto": "representations" for an LPS graph of at least REPRESENTATIONS_MIN_VERTICES vertices
      without matrix_free, "two-pass" otherwise. Every method reports the true residual of the
      computed eigenvector.

    ncv, max_restarts: options of the Lanczos methods (checked whatever the method).

    progress: a bar over the blocks for "representations" (see ramcore.progress); for the Lanczos
      methods as for `eigs`.
    """
    start = time.perf_counter()
    tolerance(tol, "tol")  # before anything is built: a certificate needs tol in (0, 1)
    if method not in CERTIFY_METHODS:
        raise ValueError(f"method must be one of {CERTIFY_METHODS}, got {method!r}")
    lps = isinstance(graph, (LPSGraph, LPSOperator))
    if method == "auto":
        big = lps and graph.num_vertices >= REPRESENTATIONS_MIN_VERTICES
        method = "representations" if big and not matrix_free else "two-pass"
    lanczos = "two-pass" if method == "representations" else method
    _solver_args(1, tol, ncv, max_restarts, seed, threads, lanczos)  # every argument checked
    opts: dict[str, Any] = {"tol": tol, "ncv": ncv, "max_restarts": max_restarts, "seed": seed}
    opts["threads"] = threads
    opts["method"] = method
    opts["progress"] = check_progress(progress)
    if not isinstance(graph, (RamanujanFamily, LPSOperator)):
        raise TypeError(
            f"certify takes an LPSGraph, LPSOperator or BiregularGraph, got {type(graph).__name__}"
        )
    if method == "representations":
        if not isinstance(graph, (LPSGraph, LPSOperator)):
            raise ValueError(
                f"method='representations' certifies LPS graphs (Cayley graphs of PGL2/PSL2), got "
                f"{type(graph).__name__}; use 'two-pass'"
            )
        if matrix_free:
            raise ValueError("matrix_free selects the Lanczos operator; method='representations' uses none")
        return _certify_representations(graph, tol, seed, threads, progress, start)
    if not graph.regular:  # bi-regular: certified on the singular values of its biadjacency
        return _certify_biregular(graph, start, opts)
    if isinstance(graph, LPSGraph) and matrix_free:
        graph = LPSOperator(graph.generators)
    n, d = graph.num_vertices, graph.degree
    # Before any vector exists: the check eigs makes, plus the two vectors of lambda_1's residual.
    _basis_memory(n, 1, ncv, method == "two-pass", extra_vectors=2)
    ones = np.full(n, 1.0 / math.sqrt(n))
    a1 = graph.matvec(ones, threads) if isinstance(graph, LPSOperator) else graph.adjacency @ ones
    lam1 = float(np.sum(ones * a1))
    lam1_res = _norm(a1 - lam1 * ones)
    res = eigs(graph, 1, which="LM", nontrivial=True, **opts)
    value, resid = float(abs(res.values[0])), float(res.residuals[0])
    bound = graph.ramanujan_bound
    kind = "bipartite" if graph.bipartite else "non-bipartite; also its double cover"
    where = "matrix-free Cayley operator" if isinstance(graph, LPSOperator) else "CSR"
    method = f"{method} Lanczos on the {where}"
    return Certificate(
        graph=f"X^{{{graph.p},{graph.q}}} ({kind})",
        vertices=n,
        degrees=(d,),
        lambda1=lam1,
        lambda1_residual=lam1_res,
        nontrivial=value,
        residual=resid,
        bound=bound,
        margin=bound - value,
        ramanujan=res.converged and value + resid <= bound and abs(lam1 - d) <= 1e-9 * d,
        converged=res.converged,
        matvecs=res.matvecs + 1,
        restarts=res.restarts,
        tol=res.tol,
        seconds=time.perf_counter() - start,
        method=method,
    )


def _certify_representations(
    graph: LPSGraph | LPSOperator, tol: float, seed: int, threads: Any, progress: Any, start: float
) -> Certificate:
    gens = graph.generators
    res = certify_blocks(gens, tol=tol, seed=seed, threads=threads, progress=progress)
    best = res.best
    value, resid = best.value, best.residual
    bound = graph.ramanujan_bound
    d = graph.degree
    kind = "bipartite" if graph.bipartite else "non-bipartite; also its double cover"
    group = "PGL2" if graph.bipartite else "PSL2"
    return Certificate(
        graph=f"X^{{{graph.p},{graph.q}}} ({kind})",
        vertices=graph.num_vertices,
        degrees=(d,),
        lambda1=float(d),  # the trivial representation: sum_s 1, exactly
        lambda1_residual=0.0,
        nontrivial=value,
        residual=resid,
        bound=bound,
        margin=bound - value,
        ramanujan=res.converged and value + resid <= bound,
        converged=res.converged,
        matvecs=res.matvecs,
        restarts=0,
        tol=tol,
        seconds=time.perf_counter() - start,
        method=(
            f"representations of {group}(F_{graph.q}): {len(res.blocks)} blocks of size <= {graph.q + 1} "
            f"({res.lanczos_blocks} by batched Lanczos, {res.dense_blocks} dense)"
        ),
        irrep=res.irrep,
    )


def _certify_biregular(g: Any, start: float, opts: dict[str, Any]) -> Certificate:
    b = g.biadjacency
    v = np.full(g.num_cols, 1.0 / math.sqrt(g.num_cols))
    bv = b @ v
    sigma1 = _norm(bv)
    u = bv / sigma1
    sigma1_res = _norm(b.T @ u - sigma1 * v)
    if g.num_cols - 1 < 1:
        raise ValueError("a bi-regular graph with a single column has no second singular value")
    res = svds(g, 1, nontrivial=True, **opts)
    value, resid = float(res.values[0]), float(res.residuals[0])
    bound = g.ramanujan_bound
    return Certificate(
        graph=f"bi-regular B(q={g.q}, l={g.l})",
        vertices=g.num_vertices,
        degrees=(g.l, g.q),
        lambda1=sigma1,
        lambda1_residual=sigma1_res,
        nontrivial=value,
        residual=resid,
        bound=bound,
        margin=bound - value,
        ramanujan=res.converged and value + resid <= bound,
        converged=res.converged,
        matvecs=res.matvecs + 2,
        restarts=res.restarts,
        tol=res.tol,
        seconds=time.perf_counter() - start,
        method=f"{opts['method']} Lanczos on the normal operator ({res.side})",
    )
