"""ramcore: build, certify and analyse Ramanujan graphs for sparse neural networks.

The graph constructions run in a compiled C++ core (`ramcore._core`) and reach Python as numpy
arrays that own the core's buffers, so `scipy.sparse.csr_array` views of them copy nothing.
A layer of a network seen as a bipartite graph is `ramcore.layers`; PyTorch adapters are
`ramcore.torch`; the command line's applications are `ramcore.apps` (see docs/architecture.md).
"""

from __future__ import annotations

try:
    from . import _core  # noqa: F401  (fail early with a helpful message)
except ImportError as err:  # pragma: no cover - only without a built extension
    raise ImportError(
        "ramcore's compiled core (ramcore._core) is missing: did you build it? "
        "Install with `pip install .` from the repository root."
    ) from err

from . import gap, layers  # noqa: F401  (gap: the old module path stays an attribute)
from .field import inverse_mod, is_prime, legendre_symbol, sqrt_mod, two_squares_minus_one
from .graphs import (
    BiregularGraph,
    LPSGenerators,
    LPSGraph,
    LPSParameters,
    biregular_graph,
    lps_generators,
    lps_graph,
    lps_parameters,
)
from .groups import PGL2, PSL2
from .layers.gap import RamanujanGap, ramanujan_gap
from .multipartite import MultipartiteGraph
from .representations import LPSSpectrum, lps_spectrum
from .resistance import Resistances, effective_resistance, graph_resistance, sketch_size

# Through the old module path on purpose: importing ramcore.sparsify (a module) here, before the
# function of the same name is bound, keeps `ramcore.sparsify` the function for good.
from .sparsify import LayerReport, SparsifyResult, SpecSparResult, magnitude, sparsify, spec_spar
from .spectral import (
    Certificate,
    EigenResult,
    LPSOperator,
    SVDResult,
    certify,
    eigs,
    lps_operator,
    svds,
)
from .topometrics import motif4_counts, spectral_gap, topometrics

__version__ = "0.1.0"

__all__ = [
    "layers",
    "PGL2",
    "PSL2",
    "MultipartiteGraph",
    "RamanujanGap",
    "ramanujan_gap",
    "BiregularGraph",
    "Certificate",
    "EigenResult",
    "LPSOperator",
    "SVDResult",
    "certify",
    "eigs",
    "lps_operator",
    "svds",
    "LPSGenerators",
    "LPSGraph",
    "LPSParameters",
    "LPSSpectrum",
    "biregular_graph",
    "inverse_mod",
    "is_prime",
    "legendre_symbol",
    "lps_generators",
    "lps_graph",
    "lps_parameters",
    "lps_spectrum",
    "sqrt_mod",
    "two_squares_minus_one",
    "Resistances",
    "effective_resistance",
    "graph_resistance",
    "sketch_size",
    "LayerReport",
    "SparsifyResult",
    "SpecSparResult",
    "magnitude",
    "sparsify",
    "spec_spar",
    "motif4_counts",
    "topometrics",
    "spectral_gap",
]
