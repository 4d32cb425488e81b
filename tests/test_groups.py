import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ramcore
from reference import group_elements

SMALL_Q = [3, 5, 7, 11, 13]


@pytest.mark.parametrize("q", SMALL_Q + [31])
def test_orders(q):
    assert ramcore.PGL2(q).order == q * (q * q - 1)
    assert ramcore.PSL2(q).order == q * (q * q - 1) // 2


@pytest.mark.parametrize("q", SMALL_Q + [29, 31])
@pytest.mark.parametrize("group", [ramcore.PGL2, ramcore.PSL2])
def test_rank_unrank_round_trip_whole_group(q, group):
    g = group(q)
    elements = g.elements()
    assert elements.shape == (g.order, 4)
    assert np.array_equal(g.rank(elements), np.arange(g.order))
    # all distinct and canonical
    assert len({tuple(r) for r in elements.tolist()}) == g.order
    assert np.array_equal(g.canonical(elements), elements)
    top = elements[:, :2]
    assert np.all((top[:, 0] == 1) | ((top[:, 0] == 0) & (top[:, 1] == 1)))


@pytest.mark.parametrize("q", SMALL_Q)
def test_elements_match_brute_force(q):
    assert sorted(map(tuple, ramcore.PGL2(q).elements().tolist())) == group_elements(q, psl=False)
    psl = ramcore.PSL2(q).elements()
    assert sorted(map(tuple, psl.tolist())) == group_elements(q, psl=True)
    # PSL2 ranks are exactly the first half of PGL2's
    assert np.array_equal(ramcore.PGL2(q).elements()[: len(psl)], psl)


@pytest.mark.parametrize("q", SMALL_Q)
def test_psl_is_index_two_by_determinant(q):
    g = ramcore.PGL2(q)
    flags = g.in_psl(g.elements())
    assert flags.sum() == g.order // 2
    assert np.all(flags[: g.order // 2]) and not np.any(flags[g.order // 2 :])


def random_elements(q, draw, k, group):
    return group(q).unrank(draw(st.lists(st.integers(0, group(q).order - 1), min_size=k, max_size=k)))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([5, 7, 13, 101, 32749]), st.data())
def test_psl_closed_under_product_and_inverse(q, data):
    g = ramcore.PSL2(q)
    x = random_elements(q, data.draw, 8, ramcore.PSL2)
    y = random_elements(q, data.draw, 8, ramcore.PSL2)
    prod = g.multiply(x, y)
    assert ramcore.PGL2(q).in_psl(prod).all()
    assert (g.rank(prod) < g.order).all()
    identity = np.tile([1, 0, 0, 1], (8, 1))
    assert np.array_equal(g.multiply(x, g.inverse(x)), identity)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([3, 7, 11, 197, 32749]), st.data())
def test_group_axioms_pgl2(q, data):
    g = ramcore.PGL2(q)
    x, y, z = (random_elements(q, data.draw, 6, ramcore.PGL2) for _ in range(3))
    assert np.array_equal(g.multiply(g.multiply(x, y), z), g.multiply(x, g.multiply(y, z)))
    identity = np.tile([1, 0, 0, 1], (6, 1))
    assert np.array_equal(g.multiply(x, identity), x)
    # the product of raw matrices, canonicalised, equals the group product
    raw = np.einsum("kij,kjl->kil", x.reshape(-1, 2, 2), y.reshape(-1, 2, 2)).reshape(-1, 4) % q
    assert np.array_equal(g.canonical(raw), g.multiply(x, y))
    # determinant class is multiplicative
    assert np.array_equal(g.in_psl(g.multiply(x, y)), g.in_psl(x) == g.in_psl(y))


@settings(max_examples=50, deadline=None)
@given(st.sampled_from([5, 13, 197]), st.integers(1, 10**6), st.data())
def test_rank_invariant_under_scalars(q, scale, data):
    g = ramcore.PGL2(q)
    x = random_elements(q, data.draw, 5, ramcore.PGL2)
    if scale % q == 0:
        scale += 1
    assert np.array_equal(g.rank(x * scale), g.rank(x))
    assert np.array_equal(g.rank(x - q * 3), g.rank(x))  # negative representatives


def test_group_bad_input():
    with pytest.raises(ValueError, match="q must be an odd prime"):
        ramcore.PGL2(15)
    with pytest.raises(ValueError, match="<= 32749"):
        ramcore.PGL2(32771)
    with pytest.raises(TypeError, match="q must be an integer"):
        ramcore.PGL2(7.0)
    g = ramcore.PGL2(7)
    with pytest.raises(ValueError, match="singular"):
        g.rank([[1, 2], [2, 4]])
    with pytest.raises(ValueError, match="shape"):
        g.rank(np.zeros((3, 3), dtype=np.int64))
    with pytest.raises(ValueError, match=r"ranks must lie in \[0, 336\)"):
        g.unrank([336])
    with pytest.raises(ValueError, match="not in PSL2"):
        ramcore.PSL2(7).rank([[0, 1], [1, 0]])  # det -1, a non-square mod 7
    with pytest.raises(TypeError, match="integers"):
        g.rank(np.ones((2, 4)) * 0.5)


def test_exact_reduction_of_any_integer_input():
    g = ramcore.PGL2(13)
    expected = g.rank([[(2**64 - 1) % 13, 0, 0, 1]])
    assert np.array_equal(g.rank(np.array([[2**64 - 1, 0, 0, 1]], dtype=np.uint64)), expected)
    assert np.array_equal(g.rank([[2**70, 0, 0, 1]]), g.rank([[pow(2, 70, 13), 0, 0, 1]]))
    assert np.array_equal(g.rank(np.array([[1, 2, 3, 4]], dtype=np.int8)), g.rank([[1, 2, 3, 4]]))


def test_ranks_must_be_integers_in_range():
    g = ramcore.PGL2(13)
    with pytest.raises(TypeError, match="ranks must hold integers"):
        g.unrank([1.7])
    with pytest.raises(TypeError, match="ranks must hold integers"):
        g.unrank(["5"])
    with pytest.raises(ValueError, match="ranks must lie in"):
        g.unrank([2**70])
    with pytest.raises(ValueError, match="ranks must lie in"):
        ramcore.PSL2(13).unrank([ramcore.PSL2(13).order])
    assert np.array_equal(g.unrank(np.array([5], dtype=np.uint64)), g.unrank([5]))


def test_groups_pickle_and_compare():
    import pickle

    g = ramcore.PSL2(13)
    h = pickle.loads(pickle.dumps(g))
    assert h == g and hash(h) == hash(g) and type(h) is ramcore.PSL2
    assert ramcore.PGL2(13) != ramcore.PSL2(13) and ramcore.PGL2(13) != ramcore.PGL2(17)


def test_multiply_shape_mismatch():
    with pytest.raises(ValueError, match="same number of rows"):
        ramcore.PGL2(7).multiply(np.tile([1, 0, 0, 1], (2, 1)), np.tile([1, 0, 0, 1], (3, 1)))


@pytest.mark.parametrize("threads", [1, 2, 7])
def test_group_ops_deterministic_across_threads(threads):
    g = ramcore.PGL2(31)
    e = g.elements(threads=threads)
    assert np.array_equal(e, g.elements(threads=1))
    rev = e[::-1]
    assert np.array_equal(g.rank(rev, threads=threads), np.arange(g.order)[::-1])
    assert np.array_equal(g.multiply(e, rev, threads=threads), g.multiply(e, rev, threads=1))
