"""Every bad input raises a clear Python exception naming the argument; none crashes."""

import sys

import numpy as np
import pytest

import ramcore


@pytest.mark.parametrize(
    "p,q,exc,match",
    [
        (4, 13, ValueError, "p must be an odd prime, got 4"),
        (5, 15, ValueError, "q must be an odd prime, got 15"),
        (2, 13, ValueError, "p must be an odd prime, got 2"),
        (5, 2, ValueError, "q must be an odd prime, got 2"),
        (1, 13, ValueError, "p must be an odd prime"),
        (-5, 13, ValueError, "p must be an odd prime"),
        (13, 13, ValueError, "p and q must be distinct"),
        (0, 0, ValueError, "p must be an odd prime"),
        (5.0, 13, TypeError, "p must be an integer, got float"),
        ("5", 13, TypeError, "p must be an integer, got str"),
        (True, 13, TypeError, "p must be an integer, got bool"),
        (5, None, TypeError, "q must be an integer"),
        (131101, 13, ValueError, "p must be an odd prime <= 131071"),
        (5, 32771, ValueError, "q must be an odd prime <= 32749"),
        (5, 2**70 + 1, ValueError, "q must be an odd prime"),
    ],
)
def test_lps_bad_arguments(p, q, exc, match):
    with pytest.raises(exc, match=match):
        ramcore.lps_graph(p, q)
    with pytest.raises(exc, match=match):
        ramcore.lps_generators(p, q)


def test_lps_accepts_numpy_integers():
    g = ramcore.lps_graph(np.int64(5), np.int32(13))
    assert g.num_vertices == 2184


def test_lps_memory_estimate_before_allocating():
    with pytest.raises(MemoryError, match=r"X\^\{5,4001\}.*needs about .*bytes.*smaller q"):
        ramcore.lps_graph(5, 4001)
    with pytest.raises(MemoryError, match="bytes"):
        ramcore.lps_graph(3, 32749)


def test_lps_multigraph_refused_by_default():
    with pytest.raises(ValueError, match=r"q = 3 < 2 sqrt\(p\)"):
        ramcore.lps_graph(11, 3)
    with pytest.raises(TypeError, match="allow_multigraph must be a bool"):
        ramcore.lps_graph(11, 3, allow_multigraph="yes")


@pytest.mark.parametrize(
    "threads,exc",
    [(-1, ValueError), (0, ValueError), (10**6, ValueError), (1.5, TypeError), ("2", TypeError)],
)
def test_bad_threads(threads, exc):
    with pytest.raises(exc, match="threads"):
        ramcore.lps_graph(5, 13, threads=threads)
    with pytest.raises(exc, match="threads"):
        ramcore.biregular_graph(5, 3, threads=threads)


@pytest.mark.parametrize(
    "q,l,exc,match",
    [
        (4, 3, ValueError, "q must be a prime, got 4"),
        (1, 3, ValueError, "q must be a prime, got 1"),
        (-7, 3, ValueError, "q must be a prime"),
        (7, 0, ValueError, "l must be an integer >= 1"),
        (7, -2, ValueError, "l must be an integer >= 1"),
        (7.0, 3, TypeError, "q must be an integer"),
        (7, 2.5, TypeError, "l must be an integer"),
        (7, None, TypeError, "l must be an integer"),
        (10007, 10**9, MemoryError, "needs about"),
        (2**31 - 1, 2**40, MemoryError, "needs about"),
        (2**61 - 1, 2**62, MemoryError, "needs about"),
    ],
)
def test_biregular_bad_arguments(q, l, exc, match):
    with pytest.raises(exc, match=match):
        ramcore.biregular_graph(q, l)


def test_core_refuses_directly():
    """The extension itself validates too: calling it without the wrappers cannot crash."""
    from ramcore import _core

    with pytest.raises(ValueError, match="q must be an odd prime"):
        _core.lps_adjacency(5, 15)
    with pytest.raises(ValueError, match="distinct"):
        _core.lps_adjacency(5, 5)
    with pytest.raises(ValueError, match="l must be at least 1"):
        _core.biregular_biadjacency(7, 0)
    with pytest.raises((OverflowError, ValueError, MemoryError)):
        _core.biregular_biadjacency(2**61 - 1, 2**62)
    with pytest.raises(MemoryError, match="cannot be allocated"):
        _core.biregular_biadjacency(3037000493, 1)  # q^2 rows fits int64, not any allocator
    with pytest.raises(ValueError):
        _core.PGL2(9)
    with pytest.raises(ValueError, match="ranks must lie"):
        _core.PGL2(7).unrank(np.array([-1]), 0)
    with pytest.raises(ValueError, match="no inverse"):
        _core.inverse_mod(0, 7)


def test_lps_parameters_bad_arguments():
    with pytest.raises(ValueError, match="degree must be p \\+ 1"):
        ramcore.lps_parameters(degree=5)
    with pytest.raises(ValueError, match="q_max"):
        ramcore.lps_parameters(q_max=10**6)
    with pytest.raises(TypeError, match="p_max must be an integer"):
        ramcore.lps_parameters(p_max="big")
    with pytest.raises(ValueError, match="target_vertices must be a positive integer"):
        ramcore.lps_parameters(target_vertices=-1)
    with pytest.raises(ValueError, match=r"max_vertices \(5\) must be at least min_vertices \(10\)"):
        ramcore.lps_parameters(min_vertices=10, max_vertices=5)


def test_nan_deflation_vectors_are_named():
    graph = ramcore.lps_graph(5, 13)
    with pytest.raises(ValueError, match="deflate must be finite"):
        ramcore.eigs(graph, 2, deflate=np.full((graph.num_vertices, 1), np.nan))


def test_missing_networkx_says_how_to_install_it(monkeypatch):
    graph = ramcore.lps_graph(5, 13)
    monkeypatch.setitem(sys.modules, "networkx", None)  # import networkx raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'ramcore\[networkx\]'"):
        graph.to_networkx()


def test_number_theory_bad_arguments():
    with pytest.raises(ValueError, match="p must be an odd prime"):
        ramcore.legendre_symbol(3, 9)
    with pytest.raises(ValueError, match="m must be a modulus"):
        ramcore.inverse_mod(3, 0)
    with pytest.raises(ValueError, match="below 2\\*\\*64"):
        ramcore.is_prime(2**64)
    assert ramcore.is_prime(-7) is False


def test_index_dtype_argument():
    with pytest.raises(ValueError, match="index_dtype must be None"):
        ramcore.lps_graph(5, 13, index_dtype="float32")
    with pytest.raises(ValueError, match="index_dtype must be None"):
        ramcore.biregular_graph(5, 3, index_dtype="int16")
    with pytest.raises(ValueError, match="int32 cannot index"):
        ramcore.biregular_graph(3, 300_000_000, index_dtype="int32")


# --- one policy for complex input: refused, naming the argument (issue 14) ------------------------

_COMPLEX = np.ones((4, 3)) + 1j


@pytest.mark.parametrize(
    "call,name",
    [
        (lambda c: ramcore.eigs(np.ones((4, 4)) + 1j, 1), "a"),
        (lambda c: ramcore.svds(c, 1), "b"),
        (lambda c: ramcore.svds(__import__("scipy.sparse").sparse.csr_array(c), 1), "b"),
        (lambda c: ramcore.ramanujan_gap(c), "matrix"),
        (lambda c: ramcore.layers.raw_ramanujan_gap(c), "matrix"),
        (lambda c: ramcore.effective_resistance(c), "weights"),
        (lambda c: ramcore.effective_resistance(__import__("scipy.sparse").sparse.csr_array(c)), "weights"),
        (lambda c: ramcore.graph_resistance(np.ones((4, 4)) + 1j), "graph"),
        (lambda c: ramcore.spec_spar(c, density=0.5), "scores"),
    ],
)
def test_complex_input_is_refused(call, name):
    with pytest.raises(TypeError, match=f"^{name} is complex"):
        call(_COMPLEX)


def test_complex_tensors_are_refused():
    torch = pytest.importorskip("torch")
    c = torch.tensor(_COMPLEX)
    for call, name in [
        (lambda: ramcore.eigs(torch.tensor(np.ones((4, 4)) + 1j), 1), "a"),
        (lambda: ramcore.ramanujan_gap(c), "matrix"),
        (lambda: ramcore.effective_resistance(c), "weights"),
        (lambda: ramcore.sparsify({"layer": c}, density=0.5), "scores"),
    ]:
        with pytest.raises(TypeError, match=f"^{name} is complex"):
            call()
