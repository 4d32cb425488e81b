from collections import Counter

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as sla
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import csgraph

import oracles
import ramcore
import reference

# (p, q) across all four residue classes mod 4 of p and q, bipartite and not.
PAIRS = [
    (5, 13),
    (5, 17),
    (13, 5),
    (3, 7),
    (5, 7),
    (7, 11),
    (3, 11),
    (5, 29),
    (13, 17),
    (17, 13),
    (3, 5),
    (7, 3),
    (11, 7),
    (19, 11),
    (23, 13),
    (7, 19),
    (3, 13),
    (11, 13),
    (29, 13),
]
# The ten+ pairs whose spectra are checked densely (n up to a few thousand).
SPECTRAL_PAIRS = [
    (5, 13),
    (13, 5),
    (3, 7),
    (5, 7),
    (7, 11),
    (3, 11),
    (13, 17),
    (17, 13),
    (3, 5),
    (11, 7),
    (19, 11),
    (23, 13),
    (7, 19),
    (29, 13),
]


def legendre(p, q):
    return 1 if pow(p, (q - 1) // 2, q) == 1 else -1


@pytest.mark.parametrize("p", [3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 97, 101, 1009])
def test_generators_normalised_and_count(p):
    q = 13 if p != 13 else 17
    gens = ramcore.lps_generators(p, q)
    quats = gens.quaternions
    assert quats.shape == (p + 1, 4)
    assert np.all((quats**2).sum(axis=1) == p)
    assert len({tuple(r) for r in quats.tolist()}) == p + 1
    if p % 4 == 1:
        assert np.all(quats[:, 0] > 0) and np.all(quats[:, 0] % 2 == 1) and np.all(quats[:, 1:] % 2 == 0)
    else:
        assert np.all(quats[:, 0] % 2 == 0) and np.all(quats[:, 0] >= 0)


@pytest.mark.parametrize("p,q", PAIRS)
def test_generator_matrices(p, q):
    gens = ramcore.lps_generators(p, q)
    x, y = gens.x, gens.y
    assert (x * x + y * y + 1) % q == 0
    a0, a1, a2, a3 = gens.quaternions.T
    raw = np.stack(
        [a0 + a1 * x + a3 * y, -a1 * y + a2 + a3 * x, -a1 * y - a2 + a3 * x, a0 - a1 * x - a3 * y],
        axis=1,
    )
    assert np.all((raw[:, 0] * raw[:, 3] - raw[:, 1] * raw[:, 2]) % q == p % q)  # det = p
    g = ramcore.PGL2(q)
    assert np.array_equal(g.canonical(raw), gens.matrices)
    assert gens.matrices.tolist() == [list(m) for m in reference.generators(p, q)]
    # closed under inverse: the inverse of every generator is a generator
    inv = g.inverse(gens.matrices)
    assert sorted(g.rank(inv).tolist()) == sorted(g.rank(gens.matrices).tolist())
    assert gens.legendre == legendre(p, q)
    assert (gens.group.name == "PGL2") == (gens.legendre == -1)


@pytest.mark.parametrize("p,q", PAIRS)
def test_graph_invariants(p, q):
    g = ramcore.lps_graph(p, q, allow_multigraph=True)
    bip = legendre(p, q) == -1
    n = q * (q * q - 1) // (1 if bip else 2)
    assert g.num_vertices == n and g.bipartite == bip and g.degree == p + 1
    a = g.adjacency
    assert a.shape == (n, n)
    assert np.array_equal(np.asarray(a.sum(axis=1)).ravel(), np.full(n, p + 1.0))  # regular
    assert (a - a.T).count_nonzero() == 0  # symmetric
    assert g.indptr.dtype == np.int32 and g.indices.dtype == np.int32  # nnz < 2^31
    rows = np.split(g.indices, g.indptr[1:-1])
    assert all(np.all(np.diff(r) > 0) for r in rows)  # sorted, no repeated entries
    ncomp, labels = csgraph.connected_components(a, directed=False)
    assert ncomp == 1
    if q > 2 * np.sqrt(p):
        assert not g.multigraph and g.multiplicities is None
        assert np.all(g.indptr == np.arange(n + 1) * (p + 1)) and a.diagonal().sum() == 0
    if bip:  # two-colouring: edges only between PSL2 (ranks < n/2) and its coset
        side = g.side
        r = np.repeat(np.arange(n), np.diff(g.indptr))
        assert np.all(side[r] != side[g.indices])
    else:
        assert g.side is None
        # an odd cycle exists: not bipartite (scipy: bipartite iff colouring succeeds)
        assert not _is_bipartite(a)


def _is_bipartite(a):
    import networkx as nx

    return nx.is_bipartite(nx.from_scipy_sparse_array(a))


@pytest.mark.parametrize(
    "p,q", [(5, 13), (3, 7), (13, 5), (7, 11), (3, 5), (5, 3), (11, 3), (31, 3), (29, 5), (13, 3)]
)
def test_matches_naive_construction(p, q):
    g = ramcore.lps_graph(p, q, allow_multigraph=True)
    verts, edges = reference.lps_edges(p, q)
    elements = g.group.elements()
    coo = g.adjacency.tocoo()
    ours = sorted(
        (tuple(elements[i].tolist()), tuple(elements[j].tolist()), float(w))
        for i, j, w in zip(coo.row, coo.col, coo.data)
    )
    naive = sorted((verts[i], verts[j], float(w)) for (i, j), w in Counter(edges).items())
    assert ours == naive


@pytest.mark.parametrize(
    "p,q",
    [
        (5, 13),  # PGL2, q = 1 mod 4
        (7, 11),  # PGL2, q = 3 mod 4
        (13, 17),  # PSL2, q = 1 mod 4
        (11, 7),  # PSL2, q = 3 mod 4
        (31, 3),  # multigraph: loops and repeated generators
        (29, 5),  # multigraph
        (37, 7),  # 38 generators on 8 points of the projective line: ties of several
        (9973, 7),  # a multigraph on all of PGL2(F_7) with ties longer than 32
        (3, 23),
        (5, 61),
        (13, 61),
        (3, 53),
    ],
)
def test_matches_vectorised_reference(p, q):
    """The core's construction (per-point generator moves on the rank coordinates) against the
    plain one: every element times every generator, canonicalised and ranked (tests/reference.py,
    with its own generators), rows sorted; multiplicities for multigraphs."""
    # the reference's own generators, but the core's for large p (enumerated in O(p^1.5), not p^2)
    gens = reference.generators(p, q) if p < 100 else ramcore.lps_generators(p, q).matrices.tolist()
    indptr, indices, weights = reference.lps_csr_vectorised(q, gens, legendre(p, q) == 1)
    for threads, dtype in [(1, None), (2, None), (2, "int64")]:
        g = ramcore.lps_graph(p, q, allow_multigraph=True, threads=threads, index_dtype=dtype)
        assert np.array_equal(g.indptr, indptr) and np.array_equal(g.indices, indices)
        if weights is None:
            assert g.multiplicities is None
        else:
            assert np.array_equal(g.multiplicities, weights)


@pytest.mark.parametrize("p,q", SPECTRAL_PAIRS)
def test_ramanujan_dense(p, q):
    g = ramcore.lps_graph(p, q)
    ev = oracles.lps_eigenvalues(p, q)  # dense eigvalsh, shared with test_certify and test_spectral
    d = p + 1
    assert ev[-1] == pytest.approx(d)
    assert (ev[0] == pytest.approx(-d)) == g.bipartite
    trivial = np.isclose(np.abs(ev), d, atol=1e-8)
    assert trivial.sum() == (2 if g.bipartite else 1)  # connected, bipartite iff -d
    assert np.abs(ev[~trivial]).max() <= 2 * np.sqrt(p) + 1e-9


def test_design_reference_values():
    """Second eigenvalues recorded in docs/design.md, section 2, by an independent reference."""
    for (p, q), lam in {(5, 13): 4.2497, (13, 17): 7.0902}.items():
        assert oracles.lps_nontrivial(p, q) == pytest.approx(lam, abs=1e-4)  # dense eigvalsh


def test_ramanujan_x_5_61_sparse():
    """X^{5,61} (113,460 vertices): largest non-trivial |eigenvalue| 4.4203 (docs/design.md, section 2)."""
    g = ramcore.lps_graph(5, 61)
    a = g.adjacency
    n = g.num_vertices
    assert n == 113_460 and not g.bipartite  # (5/61) = +1: PSL2
    deflate = np.ones((n, 1)) / np.sqrt(n)  # the trivial eigenvector
    op = sla.LinearOperator(
        (n, n), matvec=lambda v: a @ v - deflate @ (deflate.T @ (a @ v)), dtype=np.float64
    )
    vals = sla.eigsh(
        op,
        k=1,
        which="LM",
        tol=1e-8,
        return_eigenvectors=False,
        v0=np.random.default_rng(0).standard_normal(n),
    )
    assert abs(vals[0]) == pytest.approx(4.4203, abs=1e-3)
    assert abs(vals[0]) <= 2 * np.sqrt(5)


@pytest.mark.parametrize("p,q", [(5, 13), (13, 17), (3, 7)])
def test_biadjacency(p, q):
    g = ramcore.lps_graph(p, q)
    b = g.biadjacency
    n = g.num_vertices
    if g.bipartite:
        assert b.shape == (n // 2, n // 2)
        full = g.adjacency.toarray()
        assert np.array_equal(b.toarray(), full[: n // 2, n // 2 :])
        assert np.shares_memory(b.indptr, g.indptr)
        sv = np.linalg.svd(b.toarray(), compute_uv=False)
    else:  # bipartite double cover: biadjacency = adjacency, zero-copy
        assert b.shape == (n, n) and b is g.adjacency
        # b is the symmetric adjacency: its singular values are its |eigenvalues| (dense, cached)
        sv = np.sort(np.abs(oracles.lps_eigenvalues(p, q)))[::-1]
    assert sv[0] == pytest.approx(p + 1)
    assert sv[1] <= 2 * np.sqrt(p) + 1e-9  # double cover / bipartite graph is Ramanujan
    assert g.density == pytest.approx((p + 1) / b.shape[0])
    assert b.nnz == b.shape[0] * (p + 1)


def test_zero_copy():
    g = ramcore.lps_graph(5, 29)
    a = g.adjacency
    assert np.shares_memory(a.indices, g.indices) and np.shares_memory(a.indptr, g.indptr)
    assert g.indices.base is not None  # owned by the core's capsule, not by numpy
    assert not g.indices.flags.owndata
    a2 = sp.csr_array((a.data, g.indices, g.indptr), shape=a.shape, copy=False)
    assert np.shares_memory(a2.indices, g.indices) and np.shares_memory(a2.indptr, g.indptr)
    b = g.biadjacency
    assert np.shares_memory(b.indptr, g.indptr) and np.shares_memory(b.data, a.data)


@pytest.mark.parametrize("p,q", [(5, 13), (13, 17), (31, 3), (3, 101)])
def test_deterministic_across_threads(p, q):
    ref = ramcore.lps_graph(p, q, threads=1, allow_multigraph=True)
    for threads in (2, 3, 8, None):
        g = ramcore.lps_graph(p, q, threads=threads, allow_multigraph=True)
        assert np.array_equal(g.indptr, ref.indptr)
        assert np.array_equal(g.indices, ref.indices)
        if ref.multiplicities is not None:
            assert np.array_equal(g.multiplicities, ref.multiplicities)


def test_multigraph_detected_and_refused():
    gens = ramcore.lps_generators(31, 3)
    assert gens.loops == 8 and gens.repeated == 23 and not gens.simple
    with pytest.raises(
        ValueError, match=r"multigraph.*8 generator\(s\) equal the identity.*allow_multigraph"
    ):
        ramcore.lps_graph(31, 3)
    g = ramcore.lps_graph(31, 3, allow_multigraph=True)
    assert g.multigraph
    a = g.adjacency
    assert np.all(a.diagonal() == 8)  # every vertex carries the 8 loop generators
    assert np.all(np.asarray(a.sum(axis=1)).ravel() == 32)
    assert a.data.max() > 1
    assert "multigraph" in g.summary()


def test_no_multigraph_when_q_large():
    for p, q in [(5, 7), (13, 11), (29, 11), (97, 23), (101, 23)]:
        assert q > 2 * np.sqrt(p)
        assert ramcore.lps_generators(p, q).simple


def test_networkx():
    nx = pytest.importorskip("networkx")
    g = ramcore.lps_graph(5, 13)
    h = g.to_networkx()
    assert h.number_of_nodes() == 2184 and h.number_of_edges() == g.num_edges
    assert nx.is_bipartite(h) and nx.is_connected(h)
    assert {d for _, d in h.degree()} == {6}
    assert {h.nodes[v]["bipartite"] for v in h} == {0, 1}


def test_large_int64_indices_switch_is_estimated():
    # X^{3,1297}: 2.18e9 vertices -> int64 indices; estimate must refuse before allocating.
    with pytest.raises(MemoryError, match="bytes"):
        ramcore.lps_graph(3, 1297)


def test_summary_and_repr():
    g = ramcore.lps_graph(5, 13)
    s = g.summary()
    assert "X^{5,13}" in s and "2,184" in s and "bipartite" in s
    assert "LPSGraph(p=5, q=13" in repr(g)


def test_lps_parameters():
    rows = ramcore.lps_parameters(p_max=13, q_max=30)
    assert rows == sorted(rows, key=lambda r: (r.vertices, r.p, r.q))
    for r in rows:
        assert r.q > 2 * np.sqrt(r.p) and r.p != r.q and r.guaranteed_simple
        assert r.bipartite == (legendre(r.p, r.q) == -1)
        assert r.vertices == r.q * (r.q**2 - 1) // (1 if r.bipartite else 2)
        assert r.density == pytest.approx(r.degree / r.layer_shape[0])
    g = ramcore.lps_graph(rows[5].p, rows[5].q)
    assert g.num_vertices == rows[5].vertices and g.bipartite == rows[5].bipartite
    assert g.biadjacency.shape == rows[5].layer_shape
    near = ramcore.lps_parameters(p_max=30, q_max=100, target_vertices=100_000, bipartite=True)
    assert near[0].bipartite and abs(near[0].vertices - 100_000) <= abs(near[-1].vertices - 100_000)
    six = ramcore.lps_parameters(degree=6, q_max=50, max_vertices=20000)
    assert {r.p for r in six} == {5} and max(r.vertices for r in six) <= 20000
    assert len(ramcore.lps_parameters(p_max=31, q_max=5, guaranteed_simple=False)) > len(
        ramcore.lps_parameters(p_max=31, q_max=5)
    )


SMALL_PRIMES = [3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47]


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(SMALL_PRIMES), st.sampled_from(SMALL_PRIMES[:8]), st.sampled_from([1, 2, None]))
def test_invariants_property(p, q, threads):
    """Any pair of distinct odd primes gives a connected (p + 1)-regular Cayley (multi)graph."""
    if p == q:
        return
    g = ramcore.lps_graph(p, q, allow_multigraph=True, threads=threads)
    a = g.adjacency
    assert np.all(np.asarray(a.sum(axis=1)).ravel() == p + 1)
    assert (a - a.T).count_nonzero() == 0
    assert csgraph.connected_components(a, directed=False)[0] == 1
    assert g.multigraph == (not ramcore.lps_generators(p, q).simple)
    if q > 2 * np.sqrt(p):
        assert not g.multigraph
    if g.bipartite:
        r = np.repeat(np.arange(g.num_vertices), np.diff(g.indptr))
        assert np.all(g.side[r] != g.side[g.indices])


def test_bipartite_multigraph_biadjacency():
    g = ramcore.lps_graph(11, 3, allow_multigraph=True)  # (11/3) = -1, repeated generators
    assert g.bipartite and g.multigraph
    b = g.biadjacency
    assert np.array_equal(b.toarray(), g.adjacency.toarray()[:12, 12:])
    assert np.all(np.asarray(b.sum(axis=1)).ravel() == 12)


def test_num_edges_counts_loops_once():
    g = ramcore.lps_graph(31, 3, allow_multigraph=True)  # 8 identity generators
    upper = sp.triu(g.adjacency).sum()  # each loop once, other edges once, with multiplicity
    assert g.num_edges == upper == 240


def test_generators_equality_and_hash():
    a, b = ramcore.lps_generators(5, 13), ramcore.lps_generators(5, 13)
    assert a == a and a != b and len({a, b}) == 2  # identity semantics, no array comparison error


@pytest.mark.parametrize("p,q", [(5, 13), (13, 17), (31, 3)])
def test_int64_indices_zero_copy_and_equal(p, q):
    narrow = ramcore.lps_graph(p, q, allow_multigraph=True)
    wide = ramcore.lps_graph(p, q, allow_multigraph=True, index_dtype="int64", threads=2)
    assert wide.indptr.dtype == wide.indices.dtype == np.int64
    assert np.array_equal(wide.indices, narrow.indices) and np.array_equal(wide.indptr, narrow.indptr)
    a = wide.adjacency
    assert np.shares_memory(a.indices, wide.indices) and np.shares_memory(a.indptr, wide.indptr)
    assert (a != narrow.adjacency).nnz == 0
    assert np.array_equal(wide.biadjacency.toarray(), narrow.biadjacency.toarray())
    assert ramcore.lps_graph(p, q, allow_multigraph=True, index_dtype=np.int32).indices.dtype == np.int32
