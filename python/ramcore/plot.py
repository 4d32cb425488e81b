"""Plots of a graph's spectrum against its Ramanujan bound (matplotlib, optional)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .graphs import BiregularGraph, LPSGraph

__all__ = ["plot_spectrum"]

PLOT_MAX = 6000  # dense eigen-decomposition beyond this is slow; plots are for small graphs


def plot_spectrum(graph: LPSGraph | BiregularGraph, path: str) -> str:
    """Histogram of the full spectrum (eigenvalues of an LPS graph's adjacency, singular values of
    a bi-regular biadjacency) with the Ramanujan bound marked; written to `path` (PNG, PDF, SVG)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise ImportError("plotting needs matplotlib: pip install matplotlib") from err
    fig, ax = plt.subplots(figsize=(7, 4))
    if isinstance(graph, LPSGraph):
        n = graph.num_vertices
        _check_size(n)
        values = np.linalg.eigvalsh(graph.adjacency.toarray())
        bound = graph.ramanujan_bound
        ax.hist(values, bins=min(200, max(20, n // 20)), color="#4477aa")
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
