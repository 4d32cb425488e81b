"""Fuzz suite (issue 14, "never silently wrong"): bad and extreme inputs for every public function.

Each case is a valid baseline call with ONE argument replaced by a generated value: a wrong type
(None, str, bytes, complex, bool, containers), NaN/inf, zero/negative/huge numbers, arrays of every
dtype (int, bool, float32, complex, object, str), empty and oddly shaped arrays, and huge sizes.
A case passes when the call either

- raises TypeError, ValueError or MemoryError (NotImplementedError where documented: `encode`)
  whose message names the replaced argument, or
- returns a result that passes its own validity check (shapes right, finite where it must be,
  `converged` honest, values within what the input allows).

The cases run in child interpreters (one per test and batch of cases), so a segfault or abort is
caught and reported with the case that was running; the child sees a small memory budget
(`ramcore.validation.available_memory` patched to `CHILD_MEMORY`), so a huge size must be refused
with ramcore's up-front MemoryError rather than allocated.

Run size: `RAMCORE_FUZZ_EXAMPLES` cases per function group (default 40; CI's derandomised `ci`
profile draws the same cases every run). A longer run, e.g.
`RAMCORE_FUZZ_EXAMPLES=2000 python -m pytest tests/test_fuzz.py` (docs/development.md).

The defects this suite found when it was written (rank-deficient Lanczos values beyond the norm,
complex input truncated, tiny-density masks growing as 1/density) are fixed; `test_former_defect`
keeps their inputs as regression tests.
"""

from __future__ import annotations

import functools
import json
import math
import os
import pickle
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

EXAMPLES = int(os.environ.get("RAMCORE_FUZZ_EXAMPLES", "40"))
BATCH = 250  # cases per child interpreter
CHILD_MEMORY = 256 * 2**20  # what ramcore.validation.available_memory() reports in the child
TIMEOUT = 120 + EXAMPLES // 4  # seconds for one child; a hang fails the test with the running case


@dataclass(frozen=True)
class Ref:
    """An object built in the child (graphs, operators, models, generators): `kind` and args."""

    kind: str
    args: tuple[Any, ...] = ()


# --- value strategies -----------------------------------------------------------------------------

JUNK = st.sampled_from(
    [None, "abc", "", "3", b"x", [], (), {}, [1, 2], 1 + 2j, True, False, object, Ellipsis]
)
SPECIAL_FLOATS = st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.0, -1.0, 1.0, 1e-300, 1e300, 2.0])
FLOATS = st.one_of(SPECIAL_FLOATS, st.floats(allow_nan=True, allow_infinity=True), JUNK)
INTS = st.one_of(
    st.integers(-5, 40),
    st.sampled_from([2**31, 2**32 + 1, 2**63, 2**64, 2**100, -(2**63)]),
    st.sampled_from([1.0, 2.5, np.int64(7), np.uint8(3), np.float64(5.0), np.array(3), np.array([5])]),
    JUNK,
)
THREADS = st.one_of(st.sampled_from([0, -1, 1, 2, 1025, 99999, 2**64, 1.0, "2"]), JUNK)
DTYPES = st.sampled_from(
    [np.float64, np.float32, np.int64, np.int8, np.uint8, np.bool_, np.complex128, np.object_, np.str_]
)


@st.composite
def arrays(draw: Any, ndim: tuple[int, int] = (0, 3), side: int = 9) -> Any:
    """Arrays of any dtype (object and str included), empty axes, NaN/inf and negative entries."""
    dtype = draw(DTYPES)
    shape = tuple(draw(st.lists(st.integers(0, side), min_size=ndim[0], max_size=ndim[1])))
    if dtype is np.object_:
        return np.array(draw(st.lists(st.sampled_from([None, "a", 1, 2.5]), min_size=1)), dtype=object)
    if dtype is np.str_:
        return np.full(shape, "x")
    elems = None
    if np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.complexfloating):
        elems = st.one_of(st.sampled_from([0.0, 1.0, -1.0, np.nan, np.inf]), st.floats(-10, 10, width=32))
    return draw(hnp.arrays(dtype, shape, elements=elems))


@st.composite
def square(draw: Any) -> Any:
    """Square arrays, mostly symmetric and real, with the odd NaN/inf, low rank or complex one."""
    n = draw(st.integers(0, 10))
    kind = draw(st.sampled_from(["sym", "sym", "ones", "zero", "lowrank", "nonsym", "nan", "complex", "int"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    a = rng.standard_normal((n, n))
    a = a + a.T
    if kind == "ones":
        a = np.ones((n, n))
    elif kind == "zero":
        a = np.zeros((n, n))
    elif kind == "lowrank":
        u = rng.standard_normal((n, 1))
        a = u @ u.T
    elif kind == "nonsym":
        a = rng.standard_normal((n, n))
    elif kind == "nan" and n:
        a[rng.integers(n), rng.integers(n)] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    elif kind == "complex":
        a = a + 1j * np.eye(n)
    elif kind == "int":
        a = np.rint(a).astype(np.int64)
    return a


@st.composite
def weights(draw: Any) -> Any:
    """Layer weight/score arrays (out, in[, kh, kw]): non-negative mostly, some bad ones."""
    shape = tuple(draw(st.lists(st.integers(0, 7), min_size=2, max_size=4)))
    kind = draw(st.sampled_from(["abs", "abs", "abs", "sparse", "zero", "neg", "nan", "int", "bool"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    w = np.abs(rng.standard_normal(shape))
    if kind == "sparse":
        w = w * (rng.random(shape) < 0.3)
    elif kind == "zero":
        w = np.zeros(shape)
    elif kind == "neg":
        w = -w
    elif kind == "nan" and w.size:
        w.flat[rng.integers(w.size)] = np.nan
    elif kind == "int":
        w = (w * 3).astype(np.int32)
    elif kind == "bool":
        w = w > 0.5
    return w


def _any_array() -> Any:
    return st.one_of(arrays(), square(), JUNK)


SMALL_GRAPHS = st.sampled_from([Ref("lps", (5, 13)), Ref("lps", (3, 5)), Ref("biregular", (3, 2))])
GRAPHS = st.one_of(
    SMALL_GRAPHS, square(), _any_array(), st.sampled_from([Ref("lps_operator", (5, 13)), Ref("complex_csr")])
)
SIZES = st.one_of(
    st.integers(-3, 12), st.sampled_from([2000, 10**9, 2**40, 2**63]), JUNK
)  # 2000: big, allowed
# k: huge values are refused (k <= n) at once. ncv: a value above n is capped at n (one basis spans
# the space; tests/test_spectral.py checks it), a valid call whose cost grows as n^3 (seconds on
# X^{5,13}), so the fuzz draws ncv small, or past int64, or not an integer.
K = st.one_of(INTS, st.sampled_from([10**9, 2**40, 2**63]))
NCV = st.one_of(
    st.integers(-5, 40), st.sampled_from([2**64, 2**100, -(2**63), 1.0, 2.5, np.array([5])]), JUNK
)
DENSITY = st.one_of(FLOATS, st.sampled_from([1e-12, 1e-9, 0.5, 1.0, 1.0000001, 0.0]))
MODELS = st.sampled_from([Ref("mlp"), Ref("cnn")])
MASK_METHODS = st.one_of(st.sampled_from(["ramanujan", "random", "er", "magnitude", "bogus", ""]), JUNK)


# --- the functions and what each argument may become ----------------------------------------------
#
# name: (baseline args, baseline kwargs, {argument: strategy}, aliases the message may use instead
# of the argument's own name, extra exception types documented).

SPECS: dict[str, tuple[tuple[Any, ...], dict[str, Any], dict[str, Any], dict[str, tuple[str, ...]]]] = {
    "lps_graph": ((5, 13), {}, {"p": INTS, "q": INTS, "threads": THREADS, "index_dtype": JUNK}, {}),
    "biregular_graph": ((3, 2), {}, {"q": INTS, "l": INTS, "threads": THREADS, "index_dtype": JUNK}, {}),
    "lps_parameters": (
        (),
        {"q_max": 40},
        {n: st.one_of(INTS, SIZES) for n in ("p_max", "q_max", "min_vertices", "max_vertices", "degree")}
        | {"target_vertices": SIZES, "bipartite": JUNK},
        {},
    ),
    "lps_operator": ((5, 13), {}, {"p": INTS, "q": INTS}, {}),
    "lps_generators": ((5, 13), {}, {"p": INTS, "q": INTS}, {}),
    "inverse_mod": ((3, 7), {}, {"a": INTS, "m": INTS}, {}),
    "is_prime": ((7,), {}, {"n": INTS}, {}),
    "legendre_symbol": ((2, 7), {}, {"a": INTS, "p": INTS}, {}),
    "sqrt_mod": ((2, 7), {}, {"a": INTS, "p": INTS}, {"p": ("modulo",), "a": ("square",)}),
    "two_squares_minus_one": ((13,), {}, {"q": INTS}, {}),
    "group": ((5,), {}, {"q": INTS}, {}),  # PGL2/PSL2(q) and their methods, in the child
    "group_method": (
        ("rank", np.array([[1, 0, 0, 1]])),
        {},
        {
            "x": st.one_of(arrays(), st.sampled_from([np.array([[1, 0, 0, 1]]), np.array([[5, 0, 0, 1]])])),
            "ranks": st.one_of(
                arrays(), st.sampled_from([np.array([-1]), np.array([10**6]), np.array([59])])
            ),
            "threads": THREADS,
        },
        {"x": ("matrices", "x", "y", "ranks", "element", "entries"), "ranks": ("ranks", "rank")},
    ),
    "eigs": (
        (Ref("lps", (5, 13)), 2),
        {},
        {
            "a": GRAPHS,
            "k": K,
            "tol": FLOATS,
            "ncv": NCV,
            "max_restarts": INTS,
            "seed": INTS,
            "threads": THREADS,
            "which": JUNK,
            "operator": JUNK,
            "deflate": _any_array(),
            "method": JUNK,
        },
        {"a": ("a", "matrix", "adjacency", "graph", "operator", "k"), "deflate": ("deflat",)},
    ),
    "svds": (
        (Ref("biregular", (3, 2)), 2),
        {},
        {
            "b": st.one_of(GRAPHS, weights()),
            "k": K,
            "tol": FLOATS,
            "ncv": NCV,
            "seed": INTS,
            "threads": THREADS,
            "side": JUNK,
            "deflate": _any_array(),
        },
        {"b": ("b", "matrix", "k", "biadjacency"), "deflate": ("deflat",)},
    ),
    "certify": (
        (Ref("lps", (5, 13)),),
        {},
        {
            "graph": GRAPHS,
            "tol": FLOATS,
            "ncv": NCV,
            "max_restarts": INTS,
            "seed": INTS,
            "threads": THREADS,
            "method": JUNK,
        },
        {"graph": ("certify takes", "graph")},
    ),
    "lps_spectrum": (
        (5, 13),
        {},
        {"p": INTS, "q": INTS, "threads": THREADS, "allow_multigraph": JUNK, "double_cover": JUNK},
        {},
    ),
    "ramanujan_gap": (
        (np.ones((4, 3)),),
        {},
        {"matrix": st.one_of(weights(), _any_array()), "weighted": JUNK, "layout": JUNK},
        {"matrix": ("matrix", "weight")},
    ),
    "effective_resistance": (
        (np.ones((4, 3)),),
        {},
        {"weights": st.one_of(weights(), _any_array())},
        {"weights": ("weight",)},
    ),
    "graph_resistance": (
        (Ref("lps", (3, 5)),),
        {},
        {
            "graph": GRAPHS,
            "epsilon": FLOATS,
            "delta": FLOATS,
            "tol": FLOATS,
            "sketch_rows": st.one_of(INTS, SIZES),
            "max_iterations": INTS,
            "seed": INTS,
            "threads": THREADS,
            "method": JUNK,
        },
        {"graph": ("graph", "adjacency", "matrix", "symmetric")},
    ),
    "sketch_size": (
        (0.3, 100, 0.01),
        {},
        {"epsilon": FLOATS, "edges": st.one_of(INTS, SIZES), "delta": FLOATS},
        {},
    ),
    "spec_spar": (
        (np.ones((4, 3)),),
        {"density": 0.5},
        {"scores": st.one_of(weights(), _any_array()), "density": DENSITY, "C": FLOATS, "seed": INTS},
        {"scores": ("scores",)},
    ),
    "sparsify": (
        ({"a": np.ones((4, 3)), "b": np.ones((2, 4))},),
        {"density": 0.5},
        {
            "scores": st.one_of(
                st.dictionaries(st.sampled_from(["a", "b"]), weights(), min_size=1),
                JUNK,
                st.sampled_from([{}, {1: np.ones((2, 2))}]),
            ),
            "density": st.one_of(
                DENSITY, st.sampled_from([{"a": 0.5}, {"a": 0.5, "b": 0.5, "c": 0.5}, {"a": 0.5, "b": "x"}])
            ),
            "C": FLOATS,
            "seed": INTS,
            "scope": st.one_of(JUNK, st.just("global")),
            "inputs": st.one_of(
                JUNK,
                st.sampled_from([{"a": [None], "b": ["a"]}, {"a": ["b"], "b": ["a"]}, {"a": [("b", -1)]}]),
            ),
            "resistance": st.one_of(JUNK, st.sampled_from(["exact", "sketch"])),
        },
        {"scores": ("scores",)},
    ),
    "topometrics": (
        (Ref("multipartite"),),
        {},
        {"graph": st.one_of(JUNK, square(), SMALL_GRAPHS), "threads": THREADS},
        {"graph": ("graph", "MultipartiteGraph")},
    ),
    "MultipartiteGraph": (
        (Ref("chain_csr"), np.array([0, 1, 2]), ("in", "h", "out")),
        {},
        {
            "adjacency": st.one_of(JUNK, square(), st.sampled_from([Ref("back_csr"), Ref("nan_csr")])),
            "partition": st.one_of(
                JUNK,
                arrays(ndim=(1, 1)),
                st.sampled_from([[0, 1, 2], np.array([0, 2, 1]), np.array([0, 1, 5])]),
            ),
            "names": st.one_of(JUNK, st.sampled_from([("in",), ["in", "h", "out"], (1, 2, 3)])),
        },
        {},
    ),
    "ramanujan_mask": ((8, 6, 0.5), {}, {"rows": SIZES, "cols": SIZES, "density": DENSITY}, {}),
    "random_mask": ((8, 6, 0.5, Ref("rng")), {}, {"rows": SIZES, "cols": SIZES, "density": DENSITY}, {}),
    "random_regular_mask": (
        (8, 6, 0.5, Ref("rng")),
        {},
        {"rows": SIZES, "cols": SIZES, "density": DENSITY},
        {},
    ),
    "make_masks": (
        (Ref("mlp"), "ramanujan", 0.5),
        {},
        {"model": st.one_of(JUNK, MODELS), "method": MASK_METHODS, "density": DENSITY, "seed": INTS},
        {},
    ),
    "apply_masks": (
        (Ref("mlp"), Ref("mlp_masks")),
        {},
        {
            "masks": st.one_of(
                JUNK, st.sampled_from([{"bogus": Ref("tensor", (2, 2))}, {"0.weight": Ref("tensor", (3, 3))}])
            ),
            "mode": JUNK,
        },
        {},
    ),
    "encode": (
        (Ref("mlp"), (4,)),
        {},
        {
            "model": st.one_of(JUNK, MODELS),
            "input_shape": st.one_of(JUNK, st.lists(st.integers(-2, 9), max_size=4).map(tuple)),
            "encoding": JUNK,
            "threads": THREADS,
            "max_bytes": st.one_of(INTS, SIZES),
        },
        {"model": ("input_shape",), "max_bytes": ("max_bytes", "needs about")},
    ),
    "report": (
        (Ref("mlp"),),
        {"print_table": False},
        {"model": st.one_of(JUNK, MODELS), "masks": st.one_of(JUNK, st.sampled_from([{"bogus": 1}]))},
        {},
    ),
}
POSITIONAL = {  # argument names of the baseline's positional arguments, in order
    "lps_graph": ("p", "q"),
    "lps_parameters": (),
    "biregular_graph": ("q", "l"),
    "lps_operator": ("p", "q"),
    "lps_generators": ("p", "q"),
    "inverse_mod": ("a", "m"),
    "is_prime": ("n",),
    "legendre_symbol": ("a", "p"),
    "sqrt_mod": ("a", "p"),
    "two_squares_minus_one": ("q",),
    "group": ("q",),
    "group_method": ("method", "x"),
    "eigs": ("a", "k"),
    "svds": ("b", "k"),
    "certify": ("graph",),
    "lps_spectrum": ("p", "q"),
    "ramanujan_gap": ("matrix",),
    "effective_resistance": ("weights",),
    "graph_resistance": ("graph",),
    "sketch_size": ("epsilon", "edges", "delta"),
    "spec_spar": ("scores",),
    "sparsify": ("scores",),
    "topometrics": ("graph",),
    "MultipartiteGraph": ("adjacency", "partition", "names"),
    "ramanujan_mask": ("rows", "cols", "density"),
    "random_mask": ("rows", "cols", "density", "rng"),
    "random_regular_mask": ("rows", "cols", "density", "rng"),
    "make_masks": ("model", "method", "density"),
    "apply_masks": ("model", "masks"),
    "encode": ("model", "input_shape"),
    "report": ("model",),
}
TORCH = {"make_masks", "apply_masks", "encode", "report"}
GROUPS = {  # one test (and child) per group
    "graphs": ["lps_graph", "biregular_graph", "lps_parameters", "lps_operator", "lps_generators"],
    "field": ["inverse_mod", "is_prime", "legendre_symbol", "sqrt_mod", "two_squares_minus_one"],
    "groups": ["group", "group_method"],
    "spectral": ["eigs", "svds", "certify", "lps_spectrum"],
    "layers": [
        "ramanujan_gap",
        "effective_resistance",
        "spec_spar",
        "sparsify",
        "ramanujan_mask",
        "random_mask",
        "random_regular_mask",
    ],
    "resistance": ["graph_resistance", "sketch_size"],
    "topometrics": ["topometrics", "MultipartiteGraph"],
    "torch": sorted(TORCH),
}


@st.composite
def case(draw: Any, names: list[str]) -> tuple[str, str | None, tuple[Any, ...], dict[str, Any]]:
    """(function, replaced argument or None, args, kwargs): the baseline with one argument replaced."""
    name = draw(st.sampled_from(names))
    args, kwargs, mutable, _ = SPECS[name]
    args, kwargs = list(args), dict(kwargs)
    if draw(st.integers(0, 9)) == 0:  # now and then the untouched baseline: it must work
        return name, None, tuple(args), kwargs
    arg = draw(st.sampled_from(sorted(mutable)))
    value = draw(mutable[arg])
    if arg in POSITIONAL[name]:
        args[POSITIONAL[name].index(arg)] = value
    else:
        kwargs[arg] = value
    if name == "group_method" and arg in ("x", "ranks"):
        args[0] = draw(st.sampled_from(["rank", "canonical", "in_psl", "inverse", "multiply"]))
        if arg == "ranks":
            args[0] = "unrank"
    return name, arg, tuple(args), kwargs


# --- the child ------------------------------------------------------------------------------------


def _build(ref: Any) -> Any:
    """Replace Ref objects (also inside tuples, lists and dicts) by the objects they name."""
    import ramcore

    if isinstance(ref, (list, tuple)) and not isinstance(ref, Ref):
        return type(ref)(_build(r) for r in ref)
    if isinstance(ref, dict):
        return {k: _build(v) for k, v in ref.items()}
    if not isinstance(ref, Ref):
        return ref
    import scipy.sparse as sp

    if ref.kind == "lps":
        return ramcore.lps_graph(*ref.args)
    if ref.kind == "biregular":
        return ramcore.biregular_graph(*ref.args)
    if ref.kind == "lps_operator":
        return ramcore.lps_operator(*ref.args)
    if ref.kind == "rng":
        return np.random.default_rng(0)
    if ref.kind == "chain_csr":
        return sp.csr_array(np.array([[0, 1, 0], [0, 0, 2], [0, 0, 0]], dtype=float))
    if ref.kind == "back_csr":
        return sp.csr_array(np.array([[0, 1, 0], [0, 0, 0], [1, 0, 0]], dtype=float))
    if ref.kind == "nan_csr":
        return sp.csr_array(np.array([[0, np.nan, 0], [0, 0, 1], [0, 0, 0]]))
    if ref.kind == "complex_csr":
        return sp.csr_array(np.eye(6) + 1j * np.eye(6, k=1) + 1j * np.eye(6, k=-1))
    if ref.kind == "multipartite":
        return ramcore.MultipartiteGraph(_build(Ref("chain_csr")), np.array([0, 1, 2]), ("in", "h", "out"))
    import torch
    from torch import nn

    torch.manual_seed(0)
    if ref.kind == "mlp":
        return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    if ref.kind == "cnn":
        return nn.Sequential(nn.Conv2d(2, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4 * 4, 2))
    if ref.kind == "mlp_masks":
        return {"0.weight": torch.rand(8, 4) < 0.5, "2.weight": torch.rand(3, 8) < 0.5}
    if ref.kind == "complex_tensor":
        return torch.eye(6, dtype=torch.complex128) + 1j * torch.ones(6, 6, dtype=torch.complex128)
    if ref.kind == "tensor":
        return torch.ones(*ref.args, dtype=torch.bool)
    raise AssertionError(ref.kind)


class Invalid(AssertionError):
    """A returned result that fails its validity check."""


def _dense(a: Any) -> Any:
    import scipy.sparse as sp

    import ramcore

    if isinstance(a, (ramcore.LPSGraph,)):
        return a.adjacency.toarray()
    if isinstance(a, ramcore.BiregularGraph):
        return a.biadjacency.toarray()
    if isinstance(a, ramcore.LPSOperator):
        return None
    if sp.issparse(a):
        return a.toarray()
    return np.asarray(a)


def _check_spectrum(name: str, a: Any, res: Any, k: int) -> None:
    values, residuals = np.asarray(res.values), np.asarray(res.residuals)
    if values.shape != (k,) or residuals.shape != (k,):
        raise Invalid(f"{name}: {values.shape[0]} values for k = {k}")
    if not (np.all(np.isfinite(values)) and np.all(np.isfinite(residuals)) and np.all(residuals >= 0)):
        raise Invalid(f"{name}: non-finite values or residuals {values} {residuals}")
    dense = _dense(a)
    if dense is not None and dense.size:
        if np.iscomplexobj(dense) and np.any(dense.imag):
            raise Invalid(f"{name}: complex input accepted (its imaginary part dropped)")
        norm = float(np.linalg.norm(dense.real.astype(float)))  # Frobenius >= spectral norm
        if np.any(np.abs(values) > norm * (1 + 1e-8) + 1e-12):
            raise Invalid(f"{name}: |value| beyond the matrix norm {norm}: {values}")
    # svds converges on sigma^2 (the normal operator) with the floor 100 eps ||B||^2, so a singular
    # value near zero is known to about sqrt(100 eps) sigma_1 (documented in svds).
    top = float(np.max(np.abs(values), initial=0.0))
    floor = math.sqrt(100 * np.finfo(float).eps) * top if name == "svds" else 0.0
    if res.converged and np.any(
        residuals > max(res.tol, 1e-12) * np.maximum(np.abs(values), 1) * 10 + 1e-12 + floor
    ):
        raise Invalid(f"{name}: converged=True with residuals {residuals} at tol {res.tol}")


def _check(name: str, args: tuple[Any, ...], kwargs: dict[str, Any], res: Any) -> None:
    """The validity check of a returned result."""
    import scipy.sparse as sp

    import ramcore

    def complex_input(a: Any) -> bool:
        if sp.issparse(a):
            return np.iscomplexobj(a.data)
        if isinstance(a, np.ndarray):
            return np.iscomplexobj(a)
        return bool(getattr(a, "is_complex", lambda: False)())  # a torch tensor

    if any(complex_input(a) for a in (*args, *kwargs.values())):
        raise Invalid(f"{name}: complex input accepted (the policy is a TypeError naming the argument)")

    if name == "lps_graph":
        a = res.adjacency
        if a.shape[0] != a.shape[1] or not np.all(np.isfinite(a.data)) or (a != a.T).nnz:
            raise Invalid("lps_graph: adjacency not square/finite/symmetric")
    elif name == "biregular_graph":
        q, l = int(args[0]), int(args[1])
        if res.biadjacency.shape != (q * q, l * q):
            raise Invalid(f"biregular_graph: biadjacency shape {res.biadjacency.shape}")
    elif name == "lps_parameters":
        if not isinstance(res, list):
            raise Invalid("lps_parameters: not a list")
    elif name == "inverse_mod":
        a, m = int(args[0]), int(args[1])
        if (a * res - 1) % m:
            raise Invalid(f"inverse_mod({a}, {m}) = {res}")
    elif name == "sqrt_mod":
        a, p = int(args[0]), int(args[1])
        if (res * res - a) % p:
            raise Invalid(f"sqrt_mod({a}, {p}) = {res}")
    elif name == "legendre_symbol":
        if res not in (-1, 0, 1):
            raise Invalid(f"legendre_symbol = {res}")
    elif name == "is_prime":
        if not isinstance(res, bool):
            raise Invalid(f"is_prime returned {type(res).__name__}")
    elif name == "two_squares_minus_one":
        q = int(args[0])
        x, y = res
        if (x * x + y * y + 1) % q:
            raise Invalid(f"two_squares_minus_one({q}) = {res}")
    elif name in ("eigs", "svds"):
        a = args[0]
        if isinstance(a, ramcore.BiregularGraph) and name == "eigs":
            a = a.adjacency
        _check_spectrum(name, a, res, int(args[1]))
        if name == "svds" and np.any(np.asarray(res.values) < 0):
            raise Invalid("svds: negative singular values")
    elif name == "certify":
        if not (math.isfinite(res.lambda1) and isinstance(res.ramanujan, bool)):
            raise Invalid(f"certify: {res}")
    elif name == "lps_spectrum":
        n = res.q * (res.q**2 - 1) // (1 if res.group == "PGL2" else 2) * (2 if res.double_cover else 1)
        if res.multiplicities.sum() != n or not np.all(np.isfinite(res.values)):
            raise Invalid(f"lps_spectrum: {res!r} does not account for its {n} vertices")
    elif name == "ramanujan_gap":
        if res.defined and not all(math.isfinite(v) or v == math.inf for v in (res.t1, res.t2, res.delta_r)):
            raise Invalid(f"ramanujan_gap: defined with non-finite values {res}")
        if not res.defined and not res.reason:
            raise Invalid("ramanujan_gap: undefined without a reason")
    elif name == "effective_resistance":
        r = np.asarray(res)
        if r.shape != np.shape(args[0]) or np.any(np.isnan(r)) or np.any(r < 0):
            raise Invalid(f"effective_resistance: shape {r.shape} or NaN/negative values")
    elif name == "graph_resistance":
        v = res.values
        if v.shape != (res.matrix.nnz,) or np.any(np.isnan(v)) or np.any(v < 0):
            raise Invalid("graph_resistance: wrong shape or NaN/negative values")
    elif name == "sketch_size":
        if not (isinstance(res, int) and res >= 1):
            raise Invalid(f"sketch_size = {res!r}")
    elif name in ("spec_spar", "sparsify"):
        scores = {"x": args[0]} if name == "spec_spar" else args[0]
        masks = {"x": res.mask} if name == "spec_spar" else res.masks
        for key, s in scores.items():
            m = np.asarray(masks[key])
            if m.shape != np.shape(s) or m.dtype != bool or np.any(m & (np.asarray(s) <= 0)):
                raise Invalid(f"{name}: mask {key} wrong shape/dtype or keeps a zero-score entry")
    elif name == "topometrics":
        if len(res) != 16 or not all(isinstance(v, float) and not math.isnan(v) for v in res.values()):
            raise Invalid(f"topometrics: {res}")
    elif name == "MultipartiteGraph":
        a, part = res.adjacency, res.partition
        coo = a.tocoo()
        if not isinstance(a, sp.csr_array) or np.any(part[coo.row] >= part[coo.col]):
            raise Invalid("MultipartiteGraph: accepted an edge that does not point to a later partition")
    elif name in ("ramanujan_mask", "random_mask", "random_regular_mask"):
        mask, info = res  # (a tiny density that allocates ~1/density is classified in child())
        if mask.shape != (int(args[0]), int(args[1])) or mask.dtype != bool:
            raise Invalid(f"{name}: mask {mask.shape} {mask.dtype}")
        if int(mask.sum()) != info.edges:
            raise Invalid(f"{name}: info.edges {info.edges} but {int(mask.sum())} kept")
    elif name == "make_masks":
        model = args[0]
        params = dict(model.named_parameters())
        for key in res:
            if tuple(res[key].shape) != tuple(params[key].shape):
                raise Invalid(f"make_masks: mask {key} shape {tuple(res[key].shape)}")
    elif name == "encode":
        graphs = res if isinstance(res, tuple) else (res,)
        for g in graphs:
            if not isinstance(g, ramcore.MultipartiteGraph) or not np.all(np.isfinite(g.adjacency.data)):
                raise Invalid("encode: not a finite MultipartiteGraph")


def _call(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    import ramcore

    if name in TORCH:
        import ramcore.torch as rt

        return getattr(rt, name)(*args, **kwargs)
    if name in ("ramanujan_mask", "random_mask", "random_regular_mask"):
        from ramcore.layers import masks

        return getattr(masks, name)(*args, **kwargs)
    if name == "group":
        out = []
        for cls in (ramcore.PGL2, ramcore.PSL2):
            g = cls(*args, **kwargs)
            if g.order > 10**5:  # large groups: check the size only
                out.append(g.order)
                continue
            el = g.elements()
            if len(el) != g.order or not np.array_equal(
                g.rank(g.unrank(np.arange(g.order))), np.arange(g.order)
            ):
                raise Invalid(f"{cls.__name__}({args}): elements/rank/unrank inconsistent")
            out.append(g.order)
        return out
    if name == "group_method":
        method, x = args
        g = ramcore.PSL2(5)
        if method == "multiply":
            return g.multiply(x, x, **kwargs)
        return getattr(g, method)(x, **kwargs)
    return getattr(ramcore, name)(*args, **kwargs)


def _limit_address_space() -> None:
    """A backstop for the machine: an allocation that escapes ramcore's estimate fails at 8 GiB
    of address space (not under ASan, whose shadow memory needs terabytes of it)."""
    if "asan" in os.environ.get("LD_PRELOAD", ""):
        return
    import resource

    limit = 8 * 2**30
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard == resource.RLIM_INFINITY or hard > limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def child() -> None:
    """Run the pickled cases from stdin; print one JSON line per case as it finishes."""
    import ramcore
    import ramcore.validation as validation

    validation.available_memory = lambda: CHILD_MEMORY
    _limit_address_space()
    cases = pickle.load(sys.stdin.buffer)
    for i, (name, arg, args, kwargs) in enumerate(cases):
        _, _, _, aliases = SPECS[name]
        out: dict[str, Any] = {"i": i}
        start = time.perf_counter()
        try:
            args, kwargs = _build(args), _build(kwargs)
            res = _call(name, args, kwargs)
            _check(name, args, kwargs, res)
            out["status"] = "ok"
        except Invalid as err:
            out.update(status="bad", detail=str(err))
        except (TypeError, ValueError, MemoryError, NotImplementedError) as err:
            message = str(err)
            allowed = (TypeError, ValueError, MemoryError) + (
                (NotImplementedError,) if name == "encode" else ()
            )
            names = aliases.get(arg, ()) + ((arg,) if arg else ())
            if not isinstance(err, allowed):
                out.update(status="bad", detail=f"{type(err).__name__} is not documented: {message}")
            elif arg is None:
                out.update(status="bad", detail=f"the baseline call failed: {type(err).__name__}: {message}")
            elif isinstance(err, MemoryError) and "needs about" not in message:
                out.update(status="bad", detail=f"MemoryError without ramcore's up-front estimate: {message}")
            elif not isinstance(err, MemoryError) and not any(n in message for n in names):
                out.update(status="bad", detail=f"{type(err).__name__} does not name {arg}: {message}")
            else:
                out.update(status="raised", detail=type(err).__name__)
        except Exception as err:  # noqa: BLE001 - every other exception is a finding
            out.update(status="bad", detail=f"{type(err).__name__}: {err}")
        out["seconds"] = round(time.perf_counter() - start, 3)
        print(json.dumps(out), flush=True)
    del ramcore


def run_cases(cases: list[Any]) -> list[dict[str, Any]]:
    """Run `cases` in one child interpreter; a crash or hang becomes a 'bad' outcome naming the case."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    code = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import test_fuzz; test_fuzz.child()"
    )
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code],
            input=pickle.dumps(cases),
            capture_output=True,
            timeout=TIMEOUT,
            env=env,
        )
        stdout, stderr, rc = proc.stdout, proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as err:
        stdout, stderr, rc = err.stdout or b"", err.stderr or b"", "timeout"
    results = [json.loads(line) for line in stdout.decode().splitlines() if line.startswith("{")]
    if len(results) < len(cases):  # the child died (or hung) in case len(results)
        tail = stderr.decode(errors="replace")[-2000:]
        results.append(
            {"i": len(results), "status": "bad", "detail": f"child ended ({rc}) in this case: {tail}"}
        )
    return results


def _describe(c: Any) -> str:
    name, arg, args, kwargs = c
    text = f"{name}(*{args!r}, **{kwargs!r}) [replaced: {arg}]"
    return text if len(text) < 400 else text[:400] + "..."


def _fuzz(group: str, cases: list[Any]) -> None:
    results = run_cases(cases)
    bad = [f"{_describe(cases[r['i']])}\n    -> {r['detail']}" for r in results if r["status"] == "bad"]
    assert not bad, f"{len(bad)} of {len(cases)} {group} cases failed:\n" + "\n".join(bad[:20])


def collect(group: str, n: int) -> list[Any]:
    """n cases for `group`, drawn by Hypothesis under the loaded profile (derandomised in CI).

    Drawing one case per Hypothesis example and batching them afterwards keeps every example
    small (a list of hundreds of arrays would overrun Hypothesis's buffer) and random (a single
    big example would be Hypothesis's first, minimal one)."""
    cases: list[Any] = []

    @settings(
        max_examples=n,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        deadline=None,
        database=None,
    )
    @given(case(GROUPS[group]))
    def gather(c: Any) -> None:
        cases.append(c)

    gather()
    return cases


def _make_test(group: str) -> Any:
    @pytest.mark.skipif(group == "torch" and not _has_torch(), reason="needs torch")
    def test() -> None:
        cases = collect(group, EXAMPLES * len(GROUPS[group]))  # EXAMPLES cases per function
        for start in range(0, len(cases), BATCH):
            _fuzz(group, cases[start : start + BATCH])

    test.__name__ = f"test_fuzz_{group}"
    return test


def _has_torch() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


for _group in GROUPS:
    globals()[f"test_fuzz_{_group}"] = _make_test(_group)


# --- former defects (issue 14), kept as regression tests -------------------------------------------


KNOWN = {  # inputs that were defects (issue 14), run in one child for all of them
    "rank_deficient_eigs": ("eigs", "a", (np.ones((100, 100)), 2), {}),
    "rank_deficient_svds": ("svds", "b", (np.ones((256, 128)), 2), {}),
    "complex_eigs_torch": ("eigs", "a", (Ref("complex_tensor"), 2), {}),
    "complex_svds_torch": ("svds", "b", (Ref("complex_tensor"), 2), {}),
    "complex_gap_scipy": ("ramanujan_gap", "matrix", (Ref("complex_csr"),), {}),
    "complex_gap_torch": ("ramanujan_gap", "matrix", (Ref("complex_tensor"),), {}),
    "tiny_density_mask": ("ramanujan_mask", "density", (8, 6, 1e-12), {}),  # fails fast: 7 TiB
    "tiny_density_mask_overflow": ("ramanujan_mask", "density", (8, 6, 1e-300), {}),
    # a Python complex scalar has no dtype: the refusal's message read a.dtype (AttributeError)
    "complex_scalar_eigs": ("eigs", "a", (1 + 2j, 2), {}),
    "complex_scalar_resistance": ("effective_resistance", "weight", (1 + 2j,), {}),
}


@functools.lru_cache(maxsize=1)
def _known_outcomes() -> dict[str, dict[str, Any]]:
    names = [n for n in KNOWN if "torch" not in n or _has_torch()]
    results = run_cases([KNOWN[n] for n in names])
    return {n: r for n, r in zip(names, results)}


def _known(key: str) -> None:
    if "torch" in key:
        pytest.importorskip("torch")
    outcome = _known_outcomes()[key]
    assert outcome["status"] in ("ok", "raised"), outcome


@pytest.mark.parametrize("key", sorted(KNOWN))
def test_former_defect(key: str) -> None:
    """Issue 14's defects stay fixed: rank-deficient spectra (right values, zeros included),
    complex input (refused with a TypeError) and tiny densities (a mask as cheap as the layer)."""
    _known(key)
