"""`ramcore lps`, `ramcore biregular`, `ramcore params`, `ramcore certify`, `ramcore spectrum`:
build, list, certify graphs and compute their spectra."""

from __future__ import annotations

import csv
import time
from collections.abc import Sequence

import scipy.sparse as sp

from ..graphs import BiregularGraph, LPSGraph, biregular_graph, lps_graph, lps_parameters
from ..representations import LPSSpectrum, lps_spectrum, lps_spectrum_cost
from ..spectral import REPRESENTATIONS_MIN_VERTICES, certify, lps_operator

__all__ = ["build", "certify_graph", "print_parameters", "spectrum_lps"]


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
    method: str = "auto",
    tol: float = 1e-10,
    threads: int | None = None,
    plot: str | None = None,
) -> int:
    """Certify X^{a,b} or B(a, b), print the certificate (and plot the spectrum to `plot`); the exit
    status is 0 when it is Ramanujan, 1 otherwise. The CSR of an LPS graph is built only for a
    Lanczos method without matrix_free; its plot comes from the representations."""
    target: object
    if family == "lps":
        op = lps_operator(a, b, allow_multigraph=allow_multigraph)
        blocks = method == "representations" or (
            method == "auto" and not matrix_free and op.num_vertices >= REPRESENTATIONS_MIN_VERTICES
        )
        target = op if blocks or matrix_free else _graph(family, a, b, allow_multigraph, threads)
    else:
        target = _graph(family, a, b, allow_multigraph, threads)
    cert = certify(target, matrix_free=matrix_free, method=method, tol=tol, threads=threads, progress=True)
    print(cert.summary())
    if plot:
        from ..plot import plot_lps_spectra, plot_spectrum

        if family == "lps":
            spectrum = lps_spectrum(a, b, allow_multigraph=allow_multigraph, threads=threads, progress=True)
            path = plot_lps_spectra([spectrum], plot)
        else:
            assert isinstance(target, BiregularGraph)
            path = plot_spectrum(target, plot)
        print(f"  plot              {path}")
    return 0 if cert.ramanujan else 1


def spectrum_lps(
    p: int,
    qs: Sequence[int],
    *,
    allow_multigraph: bool = False,
    double_cover: bool = False,
    threads: int | None = None,
    plot: str | None = None,
    save: str | None = None,
) -> int:
    """The exact spectrum of X^{p,q} for each q (`ramcore.lps_spectrum`): the estimate of the work
    for large ones, then the summary; every distinct value with its multiplicity and representation
    to the CSV `save`, and the spectral measures against Kesten-McKay to `plot`."""
    spectra: list[LPSSpectrum] = []
    for q in qs:
        cost = lps_spectrum_cost(p, q)
        if cost.seconds() > 5:
            print(
                f"X^{{{p},{q}}}: {cost.blocks} blocks of size up to {cost.largest}, about "
                f"{cost.flops / 1e9:,.0f} GFLOP (a few minutes per 1,000 GFLOP per core)",
                flush=True,
            )
        spec = lps_spectrum(
            p, q, allow_multigraph=allow_multigraph, double_cover=double_cover, threads=threads, progress=True
        )
        print(spec.summary())
        spectra.append(spec)
    if save:
        with open(save, "w", newline="") as f:
            out = csv.writer(f)
            out.writerow(["q", "value", "multiplicity", "representation"])
            for s in spectra:
                for v, m, i in zip(s.values.tolist(), s.multiplicities.tolist(), s.irrep.tolist()):
                    out.writerow([s.q, repr(v), m, s.labels[i]])
        print(f"saved {sum(len(s.values) for s in spectra):,} rows to {save}")
    if plot:
        from ..plot import plot_lps_spectra

        print(f"plot {plot_lps_spectra(spectra, plot)}")
    return 0


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
