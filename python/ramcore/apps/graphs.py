"""`ramcore lps`, `ramcore biregular`, `ramcore params`, `ramcore certify`: build, list and certify graphs."""

from __future__ import annotations

import time

import scipy.sparse as sp

from ..graphs import BiregularGraph, LPSGraph, biregular_graph, lps_graph, lps_parameters
from ..spectral import certify, lps_operator

__all__ = ["build", "certify_graph", "print_parameters"]


def build(
    family: str,
    a: int,
    b: int,
    *,
    allow_multigraph: bool = False,
    threads: int | None = None,
    part: str = "adjacency",
    save: str | None = None,
) -> int:
    """Build X^{a,b} (family "lps", a = p, b = q) or B(a, b) ("biregular", a = q, b = l), print its
    summary and the build time, and save the `part` matrix when `save` names a file."""
    start = time.perf_counter()
    graph = _graph(family, a, b, allow_multigraph, threads)
    seconds = time.perf_counter() - start
    print(graph.summary())
    print(f"  built in       {seconds:.3f} s")
    if save:
        _save(getattr(graph, part), save)
    return 0


def print_parameters(limit: int = 20, **criteria: object) -> int:
    """The admissible LPS pairs matching `criteria` (the keywords of `lps_parameters`), as a table."""
    rows = lps_parameters(**criteria)  # type: ignore[arg-type]
    print(
        f"{'p':>5} {'q':>5} {'vertices':>12} {'degree':>6} {'bipartite':>9} "
        f"{'layer shape':>21} {'density':>9}"
    )
    for r in rows[:limit]:
        shape = f"{r.layer_shape[0]} x {r.layer_shape[1]}"
        print(
            f"{r.p:>5} {r.q:>5} {r.vertices:>12,} {r.degree:>6} {r.bipartite!s:>9} "
            f"{shape:>21} {r.density:>9.3g}"
        )
    if len(rows) > limit:
        print(f"... {len(rows) - limit} more (use --limit)")
    return 0


def certify_graph(
    family: str,
    a: int,
    b: int,
    *,
    matrix_free: bool = False,
    allow_multigraph: bool = False,
    tol: float = 1e-10,
    threads: int | None = None,
    plot: str | None = None,
) -> int:
    """Certify X^{a,b} or B(a, b), print the certificate (and plot the spectrum to `plot`); the exit
    status is 0 when it is Ramanujan, 1 otherwise."""
    graph: LPSGraph | BiregularGraph | None = None
    if family == "lps" and matrix_free and not plot:
        target: object = lps_operator(a, b, allow_multigraph=allow_multigraph)
    else:
        graph = _graph(family, a, b, allow_multigraph, threads)
        target = graph
    cert = certify(target, matrix_free=matrix_free, tol=tol, threads=threads, progress=True)
    print(cert.summary())
    if plot and graph is not None:
        from ..plot import plot_spectrum

        print(f"  plot              {plot_spectrum(graph, plot)}")
    return 0 if cert.ramanujan else 1


def _graph(
    family: str, a: int, b: int, allow_multigraph: bool, threads: int | None
) -> LPSGraph | BiregularGraph:
    if family == "lps":
        return lps_graph(a, b, allow_multigraph=allow_multigraph, threads=threads)
    return biregular_graph(a, b, threads=threads)


def _save(matrix: sp.csr_array, path: str) -> None:
    if not path.endswith(".npz"):
        path += ".npz"  # what numpy would silently do; say so
    sp.save_npz(path, matrix, compressed=False)
    print(f"  saved          {matrix.shape[0]:,} x {matrix.shape[1]:,} CSR to {path}")
