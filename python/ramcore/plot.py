"""Plots of a graph's spectrum against its Ramanujan bound (matplotlib, optional)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .graphs import BiregularGraph, LPSGraph
from .representations import LPSSpectrum

__all__ = ["kesten_mckay_density", "plot_lps_spectra", "plot_spectrum"]

PLOT_MAX = 6000  # dense eigen-decomposition beyond this is slow; plots are for small graphs


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise ImportError("plotting needs matplotlib: pip install matplotlib") from err
    return plt


def kesten_mckay_density(x: Any, degree: int) -> np.ndarray:
    """The Kesten-McKay density of the spectral measure of the infinite degree-regular tree,
    d sqrt(4 (d - 1) - x^2) / (2 pi (d^2 - x^2)) on `|x| <= 2 sqrt(d - 1)`: the limit of the
    spectral measures of X^{p,q} (d = p + 1) as q grows, since their girth grows."""
    x = np.asarray(x, dtype=np.float64)
    d = float(degree)
    inside = np.maximum(4.0 * (d - 1.0) - x * x, 0.0)
    return np.asarray(d * np.sqrt(inside) / (2.0 * np.pi * (d * d - x * x)))


def plot_lps_spectra(spectra: Sequence[LPSSpectrum], path: str) -> str:
    """The spectral measures of X^{p,q} for several q (exact, `ramcore.lps_spectrum`; the trivial
    eigenvalues +-(p + 1) left out) as density histograms against the Kesten-McKay density, with
    the Ramanujan bound +-2 sqrt(p) marked; written to `path`."""
    if not spectra or len({s.p for s in spectra}) != 1:
        raise ValueError("plot_lps_spectra needs one or more spectra of the same p")
    plt = _pyplot()
    p, d = spectra[0].p, spectra[0].degree
    bound = 2.0 * np.sqrt(p)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    bins = np.linspace(-1.05 * bound, 1.05 * bound, 121)
    ordered = sorted(spectra, key=lambda s: s.q)
    for i, s in enumerate(ordered):
        keep = ~s.trivial[s.irrep]
        cover = " double cover" if s.double_cover else ""
        label = f"X^{{{p},{s.q}}}{cover}, {s.num_vertices:,} vertices"
        weights = s.multiplicities[keep]
        width = 0.8 + 1.2 * i / max(1, len(ordered) - 1)  # the largest graph, closest to the limit, boldest
        style = {"density": True, "histtype": "step", "linewidth": width, "label": label}
        ax.hist(s.values[keep], bins=bins, weights=weights, **style)
    x = np.linspace(-bound, bound, 801)
    km = kesten_mckay_density(x, d)
    ax.plot(x, km, color="black", linestyle="--", linewidth=1.2, label=f"Kesten–McKay, degree {d}", zorder=5)
    ax.set_ylim(0, 3 * float(km.max()))  # small graphs' spikes are cut; the limit shape stays readable
    for v in (-bound, bound):
        ax.axvline(v, color="#cc3311", linestyle="--", linewidth=0.8)
    ax.set_xlabel("adjacency eigenvalue (the trivial ±(p + 1) left out)")
    ax.set_ylabel("density")
    ax.set_title(f"Spectral measures of X^{{{p},q}} (exact, by representations) and ±2√p")
    ax.legend(fontsize=8, loc="upper center")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_spectrum(graph: LPSGraph | BiregularGraph, path: str) -> str:
    """Histogram of the full spectrum (eigenvalues of an LPS graph's adjacency, singular values of
    a bi-regular biadjacency) with the Ramanujan bound marked; written to `path` (PNG, PDF, SVG).
    An LPS graph's spectrum comes from its representations (`ramcore.lps_spectrum`), exactly and
    at any size; a bi-regular one's from a dense SVD (at most PLOT_MAX vertices)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    if isinstance(graph, LPSGraph):
        spec = graph.spectrum()
        n = graph.num_vertices
        bound = graph.ramanujan_bound
        bins = min(200, max(20, n // 20))
        ax.hist(spec.values, bins=bins, weights=spec.multiplicities, color="#4477aa")
        for x in (-bound, bound):
            ax.axvline(x, color="#cc3311", linestyle="--")
        ax.axvline(graph.degree, color="black", linewidth=0.8)
        ax.set_xlabel("adjacency eigenvalue")
        ax.set_title(f"X^{{{graph.p},{graph.q}}}: spectrum and the bound ±2√p = ±{bound:.4f}")
    else:
        _check_size(min(graph.num_rows, graph.num_cols))
        values = np.linalg.svd(graph.biadjacency.toarray(), compute_uv=False)
        bound = graph.ramanujan_bound
        ax.hist(values, bins=min(200, max(20, len(values) // 10)), color="#4477aa")
        ax.axvline(bound, color="#cc3311", linestyle="--")
        ax.set_xlabel("singular value of the biadjacency")
        ax.set_title(f"B(q={graph.q}, l={graph.l}): σ and the bound √(l−1)+√(q−1) = {bound:.4f}")
    ax.set_ylabel("count")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _check_size(n: Any) -> None:
    if n > PLOT_MAX:
        raise ValueError(f"plots compute the whole spectrum densely: at most {PLOT_MAX} vertices, got {n}")
