import numpy as np
import pytest

import oracles
import ramcore
import reference


@pytest.mark.parametrize("q,l", [(2, 1), (3, 2), (5, 3), (7, 7), (5, 8), (3, 1)])
def test_matches_block_definition(q, l):
    g = ramcore.biregular_graph(q, l)
    assert np.array_equal(g.biadjacency.toarray(), np.array(reference.biregular_dense(q, l), dtype=float))


def test_hand_built_q3_l2():
    # Blocks [[I, I], [I, P], [I, P^2]] with P[a][b] = 1 iff b = a - 1 (mod 3).
    g = ramcore.biregular_graph(3, 2)
    assert g.indptr.tolist() == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]
    assert g.indices.tolist() == [0, 3, 1, 4, 2, 5, 0, 5, 1, 3, 2, 4, 0, 4, 1, 5, 2, 3]


@pytest.mark.parametrize(
    "q,l", [(7, 3), (7, 4), (7, 7), (11, 5), (13, 13), (13, 20), (5, 12), (3, 7), (17, 9)]
)
def test_biregular_and_ramanujan(q, l):
    g = ramcore.biregular_graph(q, l)
    b = g.biadjacency
    assert b.shape == (q * q, l * q) and g.num_edges == q * q * l
    assert np.all(np.diff(g.indptr) == l)
    assert np.all(np.bincount(g.indices, minlength=l * q) == q)
    assert g.density == pytest.approx(b.nnz / (b.shape[0] * b.shape[1]))
    sv = oracles.biregular_singular_values(q, l)  # dense svd of b, shared with test_certify
    assert sv[0] == pytest.approx(np.sqrt(l * q))
    assert sv[1] <= np.sqrt(l - 1) + np.sqrt(q - 1) + 1e-9
    assert g.ramanujan_bound == pytest.approx(np.sqrt(l - 1) + np.sqrt(q - 1))
    nontrivial = sv[1:]
    if l <= q:  # docs/design.md, section 3: every non-trivial singular value is sqrt(q) or 0
        assert np.all(np.isclose(nontrivial, np.sqrt(q)) | np.isclose(nontrivial, 0, atol=1e-8))
    assert g.repeated_columns == (l > q)


def test_l_greater_than_q_repeats_columns():
    g = ramcore.biregular_graph(13, 20)
    b = g.biadjacency.toarray()
    assert g.repeated_columns and "repeat" in g.summary()
    assert np.array_equal(b[:, : 7 * 13], b[:, 13 * 13 :])  # blocks j and j + q coincide
    sv = oracles.biregular_singular_values(13, 20)  # dense svd of b
    assert sv[1] == pytest.approx(np.sqrt(2 * 13))  # docs/design.md, section 3
    assert not ramcore.biregular_graph(13, 13).repeated_columns


def test_adjacency_and_networkx():
    nx = pytest.importorskip("networkx")
    g = ramcore.biregular_graph(5, 3)
    a = g.adjacency
    assert a.shape == (25 + 15, 25 + 15) and (a - a.T).count_nonzero() == 0
    h = g.to_networkx()
    assert nx.is_bipartite(h) and nx.is_connected(h)
    assert h.number_of_edges() == 75
    assert sorted({d for _, d in h.degree()}) == [3, 5]


@pytest.mark.parametrize("q,l", [(13, 13), (31, 177), (101, 3)])
def test_deterministic_across_threads(q, l):
    ref = ramcore.biregular_graph(q, l, threads=1)
    for t in (2, 5, None):
        g = ramcore.biregular_graph(q, l, threads=t)
        assert np.array_equal(g.indptr, ref.indptr) and np.array_equal(g.indices, ref.indices)


def test_zero_copy():
    g = ramcore.biregular_graph(31, 20)
    b = g.biadjacency
    assert np.shares_memory(b.indices, g.indices) and np.shares_memory(b.indptr, g.indptr)
    assert not g.indices.flags.owndata


@pytest.mark.parametrize("q", [2, 3, 7])
def test_l_equal_one_is_disjoint_stars_not_ramanujan(q):
    g = ramcore.biregular_graph(q, 1)
    assert not g.connected and "not Ramanujan" in g.summary()
    sv = oracles.biregular_singular_values(q, 1)  # dense svd
    assert np.allclose(sv, np.sqrt(q))  # q stars K_{1,q}
    assert sv[1] > g.ramanujan_bound
    assert ramcore.biregular_graph(q, 2).connected


def test_few_long_rows_split_across_tasks():
    """Work is split by entries: l = 10^6 with q = 3 (9 rows) matches the row formula."""
    q, l = 3, 1_000_000
    g = ramcore.biregular_graph(q, l, threads=2)
    assert np.array_equal(g.indptr, np.arange(q * q + 1) * l)
    rows = np.repeat(np.arange(q * q), l)
    i, r, j = rows // q, rows % q, np.tile(np.arange(l), q * q)
    assert np.array_equal(g.indices, j * q + (r - i * j) % q)


def test_int64_indices_zero_copy_and_equal():
    narrow = ramcore.biregular_graph(13, 20)
    wide = ramcore.biregular_graph(13, 20, index_dtype="int64")
    assert wide.indices.dtype == wide.indptr.dtype == np.int64
    assert np.array_equal(wide.indices, narrow.indices) and np.array_equal(wide.indptr, narrow.indptr)
    b = wide.biadjacency
    assert np.shares_memory(b.indices, wide.indices) and np.shares_memory(b.indptr, wide.indptr)
