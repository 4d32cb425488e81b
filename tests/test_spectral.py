import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as sla

import oracles
import ramcore

RTOL = 1e-8


def random_symmetric(n, density, seed, weighted=True):
    rng = np.random.default_rng(seed)
    a = sp.random(n, n, density=density, random_state=rng, format="csr")
    if not weighted:
        a.data[:] = 1.0
    return sp.csr_array(a + a.T)


def dense_eigs(a):
    return np.linalg.eigvalsh(a.toarray() if sp.issparse(a) else a)


@pytest.mark.parametrize("which", ["LA", "SA", "LM"])
@pytest.mark.parametrize("p,q", [(5, 13), (13, 17), (3, 7), (7, 11)])
def test_eigs_lps_against_dense(p, q, which):
    g = ramcore.lps_graph(p, q)
    ev = oracles.lps_eigenvalues(p, q)  # dense eigvalsh, once per (p, q) for the three `which`
    res = ramcore.eigs(g, 4, which=which)
    assert res.converged
    ref = {"LA": ev[::-1], "SA": ev, "LM": ev[np.argsort(-np.abs(ev), kind="stable")]}[which][:4]
    np.testing.assert_allclose(
        np.abs(res.values) if which == "LM" else res.values,
        np.abs(ref) if which == "LM" else ref,
        rtol=RTOL,
        atol=1e-9,
    )
    assert np.all(res.residuals <= 1e-10 * np.maximum(np.abs(res.values), 1) * 10)


@pytest.mark.parametrize("operator", ["adjacency", "laplacian", "normalized_laplacian"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_eigs_random_weighted_against_dense(operator, seed):
    a = random_symmetric(300, 0.02, seed)
    dense = a.toarray()
    deg = dense.sum(axis=1)
    if operator == "laplacian":
        m = np.diag(deg) - dense
    elif operator == "normalized_laplacian":
        inv = np.where(deg > 0, 1 / np.sqrt(np.where(deg > 0, deg, 1)), 0)
        m = np.diag((deg > 0).astype(float)) - inv[:, None] * dense * inv[None, :]
    else:
        m = dense
    ev = np.linalg.eigvalsh(m)
    for which, ref in [("LA", ev[::-1][:5]), ("SA", ev[:5])]:
        res = ramcore.eigs(a, 5, which=which, operator=operator)
        assert res.converged
        np.testing.assert_allclose(res.values, ref, rtol=RTOL, atol=1e-8 * np.abs(ev).max())


def test_eigs_inputs_numpy_coo_and_vectors():
    a = random_symmetric(120, 0.05, 7)
    ev = dense_eigs(a)[::-1][:3]
    for inp in (a.toarray(), sp.coo_matrix(a), a.tocsc()):
        np.testing.assert_allclose(ramcore.eigs(inp, 3).values, ev, rtol=RTOL)
    res = ramcore.eigs(a, 3, return_vectors=True)
    y = res.vectors
    assert y.shape == (120, 3)
    np.testing.assert_allclose(y.T @ y, np.eye(3), atol=1e-9)
    np.testing.assert_allclose(a @ y, y * res.values, atol=1e-8)


def test_eigs_against_scipy_eigsh_larger():
    a = random_symmetric(6000, 0.001, 11)  # simple spectrum: ARPACK's answer is reliable here
    ref = sla.eigsh(a, k=4, which="LA", tol=1e-12, return_eigenvectors=False)
    np.testing.assert_allclose(ramcore.eigs(a, 4, which="LA").values, np.sort(ref)[::-1], rtol=RTOL)
    ref = sla.eigsh(a, k=3, which="SA", tol=1e-12, return_eigenvectors=False)
    np.testing.assert_allclose(ramcore.eigs(a, 3, which="SA").values, np.sort(ref), rtol=RTOL)
    g = ramcore.lps_graph(5, 29)  # 12,180 vertices
    ref = sla.eigsh(g.adjacency, k=2, which="LA", tol=1e-12, return_eigenvectors=False)
    np.testing.assert_allclose(ramcore.eigs(g, 2, which="LA").values, np.sort(ref)[::-1], rtol=RTOL)


def test_repeated_eigenvalues_are_found():
    """Cayley graphs have eigenvalues of high multiplicity; single-vector Lanczos sees one copy per
    run, so eigs locks and searches again. X^{5,29}'s second eigenvalue 4.4420 has multiplicity
    >= 7 (checked once against a dense eigvalsh of the 12,180 x 12,180 matrix)."""
    g = ramcore.lps_graph(5, 29)
    res = ramcore.eigs(g, 5, which="LA")
    np.testing.assert_allclose(res.values, [6.0] + [4.442016442593968] * 4, rtol=RTOL)
    small = ramcore.lps_graph(5, 13)
    ev = oracles.lps_eigenvalues(5, 13)[::-1]  # dense eigvalsh (ascending)
    np.testing.assert_allclose(ramcore.eigs(small, 6).values, ev[:6], rtol=RTOL)


def test_a_basis_as_large_as_the_matrix():
    """ncv above n is capped at n (one basis spans the space): the projection's dense solver
    (Householder + QL) then handles the whole matrix, repeated eigenvalues included."""
    rng = np.random.default_rng(3)
    q, _ = np.linalg.qr(rng.standard_normal((150, 150)))
    a = (q * np.repeat([4.0, -3.0, 1.0, 0.0, 2.5], 30)) @ q.T
    res = ramcore.eigs(a, 12, which="LM", ncv=10**9)  # no memory estimate for 1e9 vectors either
    assert res.converged
    np.testing.assert_allclose(res.values, [4.0] * 12, atol=1e-9)


@pytest.mark.parametrize("p,q", [(5, 13), (13, 17), (3, 7), (5, 29), (31, 3)])
def test_matrix_free_matches_csr(p, q):
    g = ramcore.lps_graph(p, q, allow_multigraph=True)
    op = ramcore.LPSOperator(g.generators)
    x = np.random.default_rng(0).standard_normal(g.num_vertices)
    np.testing.assert_allclose(op @ x, g.adjacency @ x, rtol=1e-12, atol=1e-12)
    k = 1 if g.num_vertices > 5000 else 3  # (locking repeated eigenvalues costs a run per copy)
    a = ramcore.eigs(g, k, which="LM", nontrivial=True)
    b = ramcore.eigs(g, k, which="LM", nontrivial=True, matrix_free=True)
    # LM ties (+-3 in the multigraph) may be returned with either sign: compare magnitudes
    np.testing.assert_allclose(np.abs(b.values), np.abs(a.values), rtol=1e-10, atol=1e-10)


def test_matrix_free_scipy_linear_operator():
    op = ramcore.lps_operator(5, 13)
    lo = op.as_linear_operator()
    vals = sla.eigsh(lo, k=1, which="LA", return_eigenvectors=False)
    assert vals[0] == pytest.approx(6.0)


@pytest.mark.parametrize("shape,seed", [((200, 80), 0), ((60, 150), 1), ((100, 100), 2)])
def test_svds_against_dense(shape, seed):
    rng = np.random.default_rng(seed)
    b = sp.random(*shape, density=0.05, random_state=rng, format="csr")
    sv = np.linalg.svd(b.toarray(), compute_uv=False)
    res = ramcore.svds(b, 5)
    assert res.converged
    np.testing.assert_allclose(res.values, sv[:5], rtol=RTOL)
    for side in ("rows", "cols"):
        np.testing.assert_allclose(ramcore.svds(b, 3, side=side).values, sv[:3], rtol=RTOL)
    top2 = ramcore.svds(b, 2, nontrivial=True)
    np.testing.assert_allclose(top2.values, sv[1:3], rtol=RTOL)


def test_svds_against_scipy():
    rng = np.random.default_rng(5)
    b = sp.random(3000, 1200, density=0.003, random_state=rng, format="csr")
    ref = np.sort(sla.svds(b, k=4, return_singular_vectors=False, tol=1e-12))[::-1]
    np.testing.assert_allclose(ramcore.svds(b, 4).values, ref, rtol=RTOL)


@pytest.mark.parametrize("q,l", [(7, 3), (7, 7), (11, 5), (13, 20), (5, 12)])
def test_svds_biregular_nontrivial(q, l):
    g = ramcore.biregular_graph(q, l)
    sv = oracles.biregular_singular_values(q, l)  # dense svd, shared with test_certify
    res = ramcore.svds(g, 2, nontrivial=True)
    np.testing.assert_allclose(res.values, sv[1:3], rtol=RTOL, atol=1e-10)
    assert ramcore.svds(g, 1).values[0] == pytest.approx(np.sqrt(l * q))


def test_biregular_adjacency_eigs_nontrivial():
    g = ramcore.biregular_graph(7, 3)
    ev = dense_eigs(g.adjacency)
    res = ramcore.eigs(g, 2, which="LM", nontrivial=True)
    nontriv = np.sort(np.abs(ev))[::-1][2:4]
    np.testing.assert_allclose(np.abs(res.values), nontriv, rtol=RTOL)


@pytest.mark.parametrize("threads", [1, 2, 5])
def test_deterministic_across_threads(threads):
    for g, k in [(ramcore.lps_graph(5, 29), 1), (ramcore.lps_graph(5, 13), 3)]:
        ref = ramcore.eigs(g, k, which="LM", nontrivial=True, threads=1, return_vectors=True)
        res = ramcore.eigs(g, k, which="LM", nontrivial=True, threads=threads, return_vectors=True)
        assert np.array_equal(res.values, ref.values) and np.array_equal(res.vectors, ref.vectors)
        assert res.matvecs == ref.matvecs


def test_non_convergence_is_reported_not_raised():
    g = ramcore.lps_graph(5, 29)
    res = ramcore.eigs(g, 1, which="LM", nontrivial=True, max_restarts=0, ncv=5, tol=1e-14)
    assert not res.converged and res.restarts == 0 and np.isfinite(res.values[0])
    cert = ramcore.certify(g, method="two-pass", max_restarts=0, ncv=4, tol=1e-14)
    assert not cert.converged and not cert.ramanujan and "UNDECIDED" in cert.summary()


def test_small_full_space():
    a = np.diag([3.0, 1.0, 2.0])
    res = ramcore.eigs(a, 3)
    np.testing.assert_allclose(res.values, [3, 2, 1])
    res = ramcore.eigs(np.zeros((4, 4)), 2)
    np.testing.assert_allclose(res.values, [0, 0])


def test_torch_tensor_input():
    torch = pytest.importorskip("torch")
    a = random_symmetric(80, 0.1, 3)
    ev = dense_eigs(a)[::-1][:2]
    t = torch.tensor(a.toarray())
    np.testing.assert_allclose(ramcore.eigs(t, 2).values, ev, rtol=RTOL)
    np.testing.assert_allclose(ramcore.eigs(t.to_sparse(), 2).values, ev, rtol=RTOL)
    with warnings.catch_warnings():  # torch: "Sparse CSR tensor support is in beta state"
        warnings.simplefilter("ignore", UserWarning)
        csr = t.to_sparse_csr()
    np.testing.assert_allclose(ramcore.eigs(csr, 2).values, ev, rtol=RTOL)


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        ({"k": 0}, ValueError, "k must be a positive integer"),
        ({"k": 10_000}, ValueError, "k must be at most"),
        ({"which": "BE"}, ValueError, "which must be"),
        ({"operator": "signless"}, ValueError, "operator must be one of"),
        ({"tol": 0}, ValueError, r"tol must be a real number in \(0, 1\)"),
        ({"tol": float("nan")}, ValueError, r"tol must be a real number in \(0, 1\)"),
        ({"ncv": 2, "k": 3}, ValueError, "ncv must exceed k"),
        ({"threads": 0}, ValueError, "threads"),
        ({"seed": -1}, ValueError, "seed"),
        ({"deflate": np.ones(5)}, ValueError, "deflate must have shape"),
    ],
)
def test_eigs_bad_arguments(kwargs, exc, match):
    g = ramcore.lps_graph(5, 13)
    with pytest.raises(exc, match=match):
        ramcore.eigs(g, **kwargs)


def test_bad_matrices():
    with pytest.raises(ValueError, match="symmetric"):
        ramcore.eigs(np.array([[0.0, 1.0], [0.0, 0.0]]), 1)
    with pytest.raises(ValueError, match="square"):
        ramcore.eigs(np.ones((3, 4)), 1)
    with pytest.raises(ValueError, match="NaN"):
        ramcore.eigs(np.array([[np.nan, 0], [0, 1.0]]), 1)
    with pytest.raises(TypeError, match="numeric"):
        ramcore.eigs(np.array([["a", "b"], ["b", "a"]]), 1)
    with pytest.raises(ValueError, match="2-d"):
        ramcore.eigs(np.ones(4), 1)
    with pytest.raises(TypeError, match="certify takes"):
        ramcore.certify(np.eye(3))
    with pytest.raises(ValueError, match="matrix-free"):
        ramcore.eigs(ramcore.lps_operator(5, 13), 1, operator="laplacian")


@pytest.mark.parametrize("which", ["LA", "SA", "LM"])
@pytest.mark.parametrize("seed", [0, 4])
def test_two_pass_matches_dense(which, seed):
    a = random_symmetric(400, 0.02, seed)
    ev = dense_eigs(a)
    ref = {"LA": ev[-1], "SA": ev[0], "LM": ev[np.argmax(np.abs(ev))]}[which]
    res = ramcore.eigs(a, 1, which=which, method="two-pass", return_vectors=True)
    assert res.converged and res.values[0] == pytest.approx(ref, rel=RTOL)
    y = res.vectors[:, 0]
    assert np.linalg.norm(a @ y - res.values[0] * y) == pytest.approx(res.residuals[0], rel=1e-6, abs=1e-12)
    assert res.residuals[0] <= 1e-8 * abs(ref)


@pytest.mark.parametrize("p,q", [(5, 13), (13, 17), (3, 7), (5, 29), (7, 11)])
def test_two_pass_certificates_agree(p, q):
    g = ramcore.lps_graph(p, q)
    a = ramcore.certify(g, method="thick-restart")
    b = ramcore.certify(g, method="two-pass")
    c = ramcore.certify(g, method="two-pass", matrix_free=True)
    assert a.nontrivial == pytest.approx(b.nontrivial, rel=1e-10) == c.nontrivial
    assert b.ramanujan and c.ramanujan and b.residual < 1e-8


def test_two_pass_svds_biregular():
    g = ramcore.biregular_graph(13, 20)
    res = ramcore.svds(g, 1, nontrivial=True, method="two-pass")
    assert res.values[0] == pytest.approx(np.sqrt(26), rel=RTOL)


def test_two_pass_needs_k_one():
    with pytest.raises(ValueError, match="k must be 1"):
        ramcore.eigs(ramcore.lps_graph(5, 13), 2, method="two-pass")
    with pytest.raises(ValueError, match="method must be one of"):
        ramcore.eigs(ramcore.lps_graph(5, 13), 1, method="arnoldi")


def raw_eigsh(indptr, indices, data, n, deflate=None, two_pass=False):
    """The private entry point, bypassing the Python front door's own checks."""
    return ramcore._core.eigsh_csr(
        np.asarray(indptr),
        np.asarray(indices),
        data,
        n,
        "adjacency",
        deflate,
        k=1,
        which="LA",
        ncv=0,
        tol=1e-10,
        max_restarts=10,
        seed=0,
        threads=1,
        vectors=False,
        two_pass=two_pass,
    )


def test_invalid_csr_structures_are_refused():
    bad_cols = sp.csr_array((np.ones(2), [0, 7], [0, 1, 2]), shape=(2, 3))
    with pytest.raises(ValueError, match="column index 7 out of range"):
        ramcore.svds(bad_cols, 1)
    with pytest.raises(ValueError, match="out of range"):
        raw_eigsh(np.array([0, 1, 2]), np.array([1, 7]), np.ones(2), 2)
    with pytest.raises(ValueError, match="indptr"):
        raw_eigsh(np.array([0, 5, 2]), np.array([0, 1]), None, 2)
    with pytest.raises(ValueError, match="data must have one value"):
        raw_eigsh(np.array([0, 1, 2]), np.array([0, 1]), np.ones(1), 2)


def test_isolated_last_vertices_with_nontrivial():
    a = np.zeros((4, 4))
    a[0, 1] = a[1, 0] = a[1, 2] = a[2, 1] = 1.0  # a path on 3 vertices and an isolated vertex last
    ev = np.linalg.eigvalsh(a)
    res = ramcore.eigs(a, 1, nontrivial=True)
    assert np.isclose(res.values[0], ev[-2]) or np.isclose(res.values[0], ev[0])
    res = ramcore.eigs(a, 1, operator="normalized_laplacian", nontrivial=True, which="SA")
    assert res.converged and abs(res.values[0]) < 1e-8  # the isolated vertex's zero remains


def test_normalized_laplacian_needs_positive_degrees():
    b = np.array([[0, -1, 2], [-1, 0, 1], [2, 1, 0.0]])  # vertex 1: -1 + 1 = 0
    with pytest.raises(ValueError, match="positive weighted degrees: vertex 1"):
        ramcore.eigs(b, 1, operator="normalized_laplacian")
    lap = np.diag(b.sum(1)) - b
    np.testing.assert_allclose(
        ramcore.eigs(b, 3, operator="laplacian").values, np.linalg.eigvalsh(lap)[::-1], rtol=RTOL, atol=1e-9
    )


def test_converged_requires_true_residual():
    # A deflation block that is not orthonormal (private API): the answer is wrong, and says so.
    res = raw_eigsh(np.array([0, 1, 2]), np.array([1, 0]), None, 2, np.zeros((2, 1)), two_pass=True)
    assert not res["converged"] or abs(res["values"][0] - 1.0) < 1e-8


@pytest.mark.parametrize("k", [2, 3, 4])
def test_exhausted_krylov_space_on_sparse_bipartite_graph_with_isolated_vertices(k):
    """Once the Krylov space is invariant, a step from a near-null vector (alpha ~ 1e-17) must count
    as a breakdown relative to ||A||, not to |alpha|: rounding noise scaled by 1 / beta gave Ritz
    values of 10^5 for a graph of norm 2.8."""
    rng = np.random.default_rng(2)
    b = (rng.random((5, 6)) < 0.3) * np.abs(rng.standard_normal((5, 6)))
    a = np.zeros((18, 18))  # layers 5 | 6 | 7 with only the first two connected: 7 isolated vertices
    a[:5, 5:11] = b
    a = a + a.T
    r = ramcore.eigs(sp.csr_array(a), k)
    assert r.converged
    np.testing.assert_allclose(r.values, np.linalg.eigvalsh(a)[::-1][:k], atol=1e-12)


@pytest.mark.parametrize("p,q", [(5, 13), (31, 3)])
def test_lps_operator_builds_the_compiled_operator_once(p, q, monkeypatch):
    from ramcore import _core

    built = []
    real = _core.CayleyOperator

    def counting(p_, q_):
        built.append((p_, q_))
        return real(p_, q_)

    monkeypatch.setattr(_core, "CayleyOperator", counting)
    g = ramcore.lps_graph(p, q, allow_multigraph=True)
    op = ramcore.LPSOperator(g.generators)
    assert built == []  # built on first use
    rng = np.random.default_rng(1)
    x, z = rng.standard_normal((2, g.num_vertices))
    first = op.matvec(x)
    compiled = op.cayley
    second = op @ z
    assert op.cayley is compiled and isinstance(compiled, real)
    np.testing.assert_allclose(first, g.adjacency @ x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(second, g.adjacency @ z, rtol=1e-12, atol=1e-12)
    res = ramcore.eigs(op, 1, which="LA", nontrivial=False)  # the solver reuses it too
    assert res.values[0] == pytest.approx(p + 1)
    assert built == [(p, q)]
