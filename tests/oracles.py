"""Dense spectra of the graphs the tests check, computed once per test session.

The oracle is deliberately independent of ramcore's solvers: numpy's dense ``eigvalsh`` / ``svd`` of
the graph's matrix (converted with ``toarray()``). Several test modules (test_lps, test_spectral,
test_certify, test_biregular) compare against the same spectra; ``functools.lru_cache`` keyed by
the graph's parameters makes each decomposition run once per session, whichever test asks first.
The arrays are returned read-only so that no test can alter what the next one sees.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import numpy.typing as npt

import ramcore

FloatArray = npt.NDArray[np.float64]


def _frozen(values: FloatArray) -> FloatArray:
    values.setflags(write=False)
    return values


def lps_eigenvalues(p: int, q: int, allow_multigraph: bool = False) -> FloatArray:
    """Ascending eigenvalues of the adjacency matrix of X^{p,q} (dense ``eigvalsh``)."""
    return _lps_eigenvalues(p, q, allow_multigraph)  # one cache key however the caller spells it


@cache
def _lps_eigenvalues(p: int, q: int, allow_multigraph: bool) -> FloatArray:
    g = ramcore.lps_graph(p, q, allow_multigraph=allow_multigraph)
    return _frozen(np.linalg.eigvalsh(g.adjacency.toarray()))


def lps_nontrivial(p: int, q: int, allow_multigraph: bool = False) -> float:
    """The largest |eigenvalue| of X^{p,q} other than +-(p + 1)."""
    ev = lps_eigenvalues(p, q, allow_multigraph)
    return float(np.abs(ev[~np.isclose(np.abs(ev), p + 1)]).max())


@cache
def biregular_singular_values(q: int, l: int) -> FloatArray:
    """Descending singular values of the (q^2 x lq) biadjacency of the bi-regular graph (dense ``svd``)."""
    b = ramcore.biregular_graph(q, l).biadjacency
    return _frozen(np.linalg.svd(b.toarray(), compute_uv=False))
