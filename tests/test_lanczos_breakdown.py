"""Lanczos breakdown on rank-deficient and low-rank operators (issue 14).

Before the fix, thick-restart Lanczos (Wu & Simon, "Thick-restart Lanczos method for large symmetric
eigenvalue problems", SIAM J. Matrix Anal. Appl. 22, 2000) lost its recurrence once the Krylov space
became invariant: after the top eigenvector of the all-ones matrix was locked, the deflated operator
P A P is exactly zero, its Lanczos coefficients are rounding noise, and normalising that noise
(dividing by a beta of 1e-31) amplified the part of it along the locked block at every step. The
"eigenvalues" of `eigs(np.ones((100, 100)), 2)` were [1.02e11, 3.4e9]. The fix treats such a step as
a breakdown in Parlett's sense ("The Symmetric Eigenvalue Problem", 1998, ch. 13: beta_j = 0,
continue from a fresh vector orthogonal to everything so far) with "zero" measured against ||A||,
and returns Rayleigh quotients of unit vectors, so no value can exceed ||A||.

Every check here is against numpy's dense eigvalsh / svd. The tolerances are the solver's own: a
value flagged converged has true residual <= max(tol |lambda|, 100 eps ||A||), and a unit vector with
residual r has an eigenvalue within r (the symmetric Bauer-Fike bound).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import ramcore

EPS = np.finfo(float).eps
TOL = 1e-10  # the solvers' default tol


# --- helpers --------------------------------------------------------------------------------------


def laplacian(a: np.ndarray, normalized: bool = False) -> np.ndarray:
    deg = a.sum(axis=1)
    if not normalized:
        return np.diag(deg) - a
    inv = np.where(deg > 0, 1 / np.sqrt(np.where(deg > 0, deg, 1)), 0.0)
    return np.diag((deg > 0).astype(float)) - inv[:, None] * a * inv[None, :]


def dense_matrix(a: np.ndarray, operator: str) -> np.ndarray:
    if operator == "adjacency":
        return a
    return laplacian(a, normalized=operator == "normalized_laplacian")


def best(ev: np.ndarray, which: str, k: int) -> np.ndarray:
    """The k eigenvalues the solver should return, best first (ev ascending)."""
    if which == "LA":
        return ev[::-1][:k]
    if which == "SA":
        return ev[:k]
    return ev[np.lexsort((-ev, -np.abs(ev)))][:k]  # |lambda| descending, then lambda descending


def allowed(values: np.ndarray, norm: float) -> np.ndarray:
    """The solver's acceptance threshold for each value, plus dense eigvalsh's own rounding."""
    return np.maximum(TOL * np.abs(values), 100 * EPS * norm) + 1e-12 * norm


def check_eigs(a: np.ndarray, k: int, which: str, operator: str = "adjacency", **kw) -> None:
    """eigs on `a` must converge to the dense k best eigenvalues, every |value| <= ||A||."""
    m = dense_matrix(a, operator)
    ev = np.linalg.eigvalsh(m)
    norm = float(np.max(np.abs(ev))) if ev.size else 0.0
    res = ramcore.eigs(a, k, which=which, operator=operator, **kw)
    where = f"n={a.shape[0]} k={k} which={which} operator={operator} values={res.values}"
    assert np.all(np.isfinite(res.values)), where
    assert np.all(res.values >= ev[0] - allowed(res.values, norm)), where
    assert np.all(res.values <= ev[-1] + allowed(res.values, norm)), where
    assert res.converged, where
    ref = best(ev, which, k)
    # LM: +-lambda tie, so compare magnitudes; each value must still be an eigenvalue.
    got, want = (np.sort(np.abs(res.values)), np.sort(np.abs(ref))) if which == "LM" else (res.values, ref)
    assert np.all(np.abs(got - want) <= allowed(want, norm)), f"{where} want={ref}"
    dist = np.abs(res.values[:, None] - ev[None, :]).min(axis=1)
    assert np.all(dist <= allowed(res.values, norm)), where
    # The reported residual is the true one (checked in test_values_are_rayleigh_quotients) and
    # meets the tolerance the solver claims.
    assert np.all(res.residuals <= np.maximum(TOL * np.abs(res.values), 100 * EPS * norm) * (1 + 1e-9)), where


def check_svds(b: np.ndarray, k: int, **kw) -> None:
    """svds on `b` must converge to the dense k largest singular values, all in [0, sigma_max]."""
    s = np.linalg.svd(b, compute_uv=False)
    smax = float(s[0]) if s.size else 0.0
    res = ramcore.svds(b, k, **kw)
    where = f"shape={b.shape} k={k} {kw} values={res.values} want={s[:k]}"
    assert np.all(np.isfinite(res.values)), where
    assert np.all(res.values >= 0) and np.all(res.values <= smax * (1 + 1e-12)), where
    assert res.converged, where
    # On the normal operator B^T B a singular value is known to max(tol sigma^2, 100 eps sigma_max^2)
    # in sigma^2: zeros come out near sqrt(100 eps) sigma_max, not at eps.
    err2 = np.abs(res.values**2 - s[:k] ** 2)
    assert np.all(err2 <= np.maximum(TOL * s[:k] ** 2, 100 * EPS * smax**2) + 1e-12 * smax**2), where


def rank_r(n: int, r: int, rng: np.random.Generator, signed: bool = True) -> np.ndarray:
    """A random symmetric matrix of rank r (eigenvalues of both signs when signed)."""
    x = np.linalg.qr(rng.standard_normal((n, r)))[0]
    lam = rng.uniform(1, 5, r) * (rng.choice([-1.0, 1.0], r) if signed else 1.0)
    a = (x * lam) @ x.T
    return (a + a.T) / 2


def family(name: str, n: int, rng: np.random.Generator) -> np.ndarray:
    a = np.zeros((n, n))
    if name == "ones":
        a[:] = 1.0
    elif name == "one_nonzero_offdiagonal" and n > 1:
        a[0, n - 1] = a[n - 1, 0] = 2.5
    elif name in ("one_nonzero_diagonal", "one_nonzero_offdiagonal"):
        a[n // 2, n // 2] = -3.0
    elif name == "diagonal_repeated_zeros":
        d = np.zeros(n)
        d[: max(1, n // 3)] = rng.choice([-2.0, 1.5, 3.0], max(1, n // 3))
        a = np.diag(rng.permutation(d))
    elif name == "rank1":
        a = rank_r(n, 1, rng)
    elif name == "rank3":
        a = rank_r(n, min(3, n), rng)
    elif name == "rank3_psd":
        a = rank_r(n, min(3, n), rng, signed=False)
    elif name != "zero":
        raise ValueError(name)
    return a


FAMILIES = [
    "ones",
    "zero",
    "one_nonzero_diagonal",
    "one_nonzero_offdiagonal",
    "diagonal_repeated_zeros",
    "rank1",
    "rank3",
    "rank3_psd",
]


def ks(n: int) -> list[int]:
    """k = 1, 2, past the rank (5), and close to n."""
    return sorted({k for k in (1, 2, 5, n - 1, n) if 1 <= k <= n})


# --- the examples of the issue --------------------------------------------------------------------


def test_issue_examples():
    res = ramcore.eigs(np.ones((100, 100)), 2)  # was [1.02e11, 3.4e9], converged=False
    assert res.converged
    np.testing.assert_allclose(res.values, [100.0, 0.0], atol=1e-10)

    res = ramcore.svds(np.ones((256, 128)), 2)  # was [1.2e7, 5.8e6]
    assert res.converged
    np.testing.assert_allclose(res.values, [np.sqrt(256 * 128), 0.0], rtol=1e-12, atol=1e-5)

    rng = np.random.default_rng(0)
    b = rng.standard_normal((300, 3)) @ rng.standard_normal((3, 200))
    s = np.linalg.svd(b, compute_uv=False)
    res = ramcore.svds(b, 5)  # was [520679, 260360, 227017, ...]
    assert res.converged
    np.testing.assert_allclose(res.values[:3], s[:3], rtol=1e-10)
    assert np.all(res.values[3:] <= 1e-5 * s[0])


# --- eigs against dense, by family ----------------------------------------------------------------


@pytest.mark.parametrize("which", ["LA", "SA", "LM"])
@pytest.mark.parametrize("name", FAMILIES)
def test_eigs_rank_deficient_families(name, which):
    for n in (1, 2, 7, 33, 120):
        for seed in range(2 if name.startswith(("rank", "diagonal")) else 1):
            a = family(name, n, np.random.default_rng(seed))
            for k in ks(n):
                check_eigs(a, k, which, seed=seed)


@pytest.mark.parametrize("seed", range(4))
def test_eigs_low_rank_many_seeds(seed):
    """Rank r with k > r, several shapes and solver seeds."""
    rng = np.random.default_rng(100 + seed)
    for n, r in ((20, 2), (64, 3), (150, 5)):
        a = rank_r(n, r, rng)
        for which in ("LA", "SA", "LM"):
            check_eigs(a, r + 3, which, seed=seed)


@pytest.mark.parametrize("operator", ["laplacian", "normalized_laplacian"])
@pytest.mark.parametrize("which", ["LA", "SA"])
def test_eigs_laplacian_kernels(operator, which):
    """Graph Laplacians with large kernels: isolated vertices, many components, complete graphs."""
    rng = np.random.default_rng(7)
    graphs = []
    for n in (6, 40, 90):
        g = np.triu((rng.random((n, n)) < 1.5 / n).astype(float), 1)
        graphs.append(g + g.T)  # sparse: isolated vertices and small components
        graphs.append(np.ones((n, n)) - np.eye(n))  # complete graph: eigenvalue n, n - 1 times
    graphs.append(np.kron(np.eye(8), np.ones((5, 5)) - np.eye(5)))  # 8 components
    for a in graphs:
        n = a.shape[0]
        for k in sorted({1, 3, n - 1, n}):
            check_eigs(a, k, which, operator=operator)


def test_eigs_deflated_to_zero():
    """`nontrivial` / `deflate` leaving a (numerically) zero operator, k up to n - deflation."""
    n = 60
    ones = np.ones((n, n))
    for which in ("LA", "SA", "LM"):
        res = ramcore.eigs(ones, 3, which=which, nontrivial=True)  # P A P = 0 exactly
        assert res.converged and np.all(np.abs(res.values) <= 1e-12 * n)
    rng = np.random.default_rng(3)
    a = rank_r(n, 4, rng)
    y = np.linalg.qr(rng.standard_normal((n, 2)))[0]
    q = np.linalg.svd(np.eye(n) - y @ y.T)[0][:, : n - 2]  # orthonormal basis of the complement
    ev = np.linalg.eigvalsh(q.T @ a @ q)
    norm = np.abs(np.linalg.eigvalsh(a)).max()
    for which in ("LA", "SA"):
        for k in (6, n - 3, n - 2):
            res = ramcore.eigs(a, k, which=which, deflate=y)
            assert res.converged, (which, k, res.values)
            np.testing.assert_allclose(res.values, best(ev, which, k), atol=1e-10 * norm)


@pytest.mark.parametrize("which", ["LA", "SA", "LM"])
def test_two_pass_rank_deficient(which):
    rng = np.random.default_rng(11)
    for n in (2, 9, 80):
        for name in ("ones", "zero", "rank1", "rank3", "one_nonzero_offdiagonal"):
            check_eigs(family(name, n, rng), 1, which, method="two-pass")
        res = ramcore.eigs(np.ones((n, n)), 1, which=which, method="two-pass", nontrivial=True)
        assert res.converged and abs(res.values[0]) <= 1e-12 * n  # P A P = 0 exactly


# --- svds against dense ---------------------------------------------------------------------------


@pytest.mark.parametrize("side", ["auto", "rows", "cols"])
def test_svds_rank_deficient(side):
    rng = np.random.default_rng(5)
    for m, n in ((256, 128), (40, 40), (17, 60), (200, 3), (1, 9)):
        small = min(m, n)
        mats = [np.ones((m, n)), np.zeros((m, n))]
        one = np.zeros((m, n))
        one[m // 2, n // 3] = -4.0
        mats.append(one)
        for r in (1, 3):
            mats.append(rng.standard_normal((m, r)) @ rng.standard_normal((r, n)))
        for b in mats:
            for k in sorted({1, 2, 5, small - 1, small} & set(range(1, small + 1))):
                if side != "auto" and k > (n if side == "cols" else m):
                    continue
                check_svds(b, k, side=side)


def test_svds_nontrivial_and_two_pass():
    for m, n in ((64, 32), (30, 90)):
        b = np.ones((m, n))
        for method in ("thick-restart", "two-pass"):
            res = ramcore.svds(b, 1, nontrivial=True, method=method)  # the rest is exactly zero
            assert res.converged and res.values[0] <= 1e-6 * np.sqrt(m * n)
        check_svds(b, 1, method="two-pass")


# --- what the solver reports ----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["thick-restart", "two-pass"])
def test_values_are_rayleigh_quotients(method):
    """Each value is y^T A y of its unit vector y and its residual is ||A y - value y||."""
    rng = np.random.default_rng(2)
    for a in (np.ones((50, 50)), rank_r(70, 3, rng), family("diagonal_repeated_zeros", 45, rng)):
        k = 1 if method == "two-pass" else 5
        res = ramcore.eigs(a, k, which="LM", return_vectors=True, method=method)
        y = res.vectors
        norm = np.abs(np.linalg.eigvalsh(a)).max()
        np.testing.assert_allclose(np.linalg.norm(y, axis=0), 1.0, atol=1e-12)
        np.testing.assert_allclose(res.values, np.einsum("ic,ij,jc->c", y, a, y), atol=1e-12 * norm)
        true = np.linalg.norm(a @ y - y * res.values, axis=0)
        np.testing.assert_allclose(res.residuals, true, atol=1e-13 * norm)


def test_rank_deficient_deterministic_across_threads():
    rng = np.random.default_rng(9)
    a = sp.csr_array(rank_r(3000, 4, rng) * (rng.random((3000, 3000)) < 0.01))
    a = (a + a.T) / 2  # sparse, generic rank
    ones, wide = np.ones((300, 300)), np.ones((2000, 40))

    def solve(threads):
        return [
            ramcore.eigs(ones, 4, threads=threads, return_vectors=True),
            ramcore.svds(wide, 3, threads=threads),
            ramcore.eigs(a, 4, which="LM", threads=threads, return_vectors=True),
        ]

    ref = solve(1)
    for threads in (2, 3):
        for r, g in zip(ref, solve(threads)):
            assert np.array_equal(r.values, g.values) and np.array_equal(r.residuals, g.residuals)
            assert r.matvecs == g.matvecs
            if r.vectors is not None:
                assert np.array_equal(r.vectors, g.vectors)


# --- property tests -------------------------------------------------------------------------------


@st.composite
def symmetric_matrices(draw):
    n = draw(st.integers(1, 60))
    kind = draw(st.sampled_from(["sparse", "dense", "low_rank", "integer", "constant_block", "diagonal"]))
    seed = draw(st.integers(0, 2**32 - 1))
    scale = draw(st.sampled_from([1e-6, 1.0, 1e4]))
    rng = np.random.default_rng(seed)
    if kind == "sparse":
        a = rng.standard_normal((n, n)) * (rng.random((n, n)) < draw(st.sampled_from([0.02, 0.1, 0.3])))
    elif kind == "dense":
        a = rng.standard_normal((n, n))
    elif kind == "integer":  # many exactly repeated eigenvalues
        a = rng.integers(-1, 2, (n, n)).astype(float) * (rng.random((n, n)) < 0.2)
    elif kind == "constant_block":  # c J on a random subset of the vertices: rank 1
        x = (rng.random(n) < draw(st.sampled_from([0.3, 1.0]))).astype(float)
        a = rng.choice([-1.0, 1.0]) * np.outer(x, x)
    elif kind == "diagonal":  # repeated values, mostly zero
        a = np.diag(rng.choice([0.0, 0.0, 0.0, 1.0, -2.0], n))
    else:
        r = draw(st.integers(0, min(4, n)))
        x = rng.standard_normal((n, r))
        a = (x * rng.standard_normal(r)) @ x.T
    return scale * (a + a.T) / 2


@settings(max_examples=300, deadline=None)
@given(symmetric_matrices(), st.data())
def test_property_eigs_values_inside_spectrum(a, data):
    """Every value lies in [lambda_min, lambda_max]; every value of a converged result is within
    the solver's tolerance of a true eigenvalue (and within its own residual of one)."""
    n = a.shape[0]
    k = data.draw(st.integers(1, n), label="k")
    which = data.draw(st.sampled_from(["LA", "SA", "LM"]), label="which")
    method = "two-pass" if k == 1 and data.draw(st.booleans(), label="two_pass") else "thick-restart"
    ev = np.linalg.eigvalsh(a)
    norm = float(np.abs(ev).max())
    res = ramcore.eigs(a, k, which=which, method=method, max_restarts=50)
    slack = allowed(res.values, norm)
    assert np.all(np.isfinite(res.values))
    assert np.all(res.values >= ev[0] - slack) and np.all(res.values <= ev[-1] + slack)
    if res.converged:
        dist = np.abs(res.values[:, None] - ev[None, :]).min(axis=1)
        assert np.all(dist <= res.residuals * (1 + 1e-8) + 1e-12 * norm)
        assert np.all(dist <= slack)


@st.composite
def rectangular_matrices(draw):
    m, n = draw(st.integers(1, 30)), draw(st.integers(1, 30))
    kind = draw(st.sampled_from(["sparse", "dense", "low_rank", "ones"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "sparse":
        b = rng.standard_normal((m, n)) * (rng.random((m, n)) < 0.1)
    elif kind == "dense":
        b = rng.standard_normal((m, n))
    elif kind == "ones":
        b = np.ones((m, n))
    else:
        r = draw(st.integers(0, min(3, m, n)))
        b = rng.standard_normal((m, r)) @ rng.standard_normal((r, n))
    return b


@settings(max_examples=150, deadline=None)
@given(rectangular_matrices(), st.data())
def test_property_svds_values_in_range(b, data):
    """Every singular value lies in [0, sigma_max]; converged ones match a true one in sigma^2."""
    k = data.draw(st.integers(1, min(b.shape)), label="k")
    s = np.linalg.svd(b, compute_uv=False)
    smax = float(s[0])
    res = ramcore.svds(b, k, max_restarts=50)
    assert np.all(res.values >= 0) and np.all(res.values <= smax * (1 + 1e-12))
    if res.converged:
        err2 = np.abs(res.values[:, None] ** 2 - s[None, :] ** 2).min(axis=1)
        assert np.all(err2 <= np.maximum(TOL * res.values**2, 100 * EPS * smax**2) + 1e-12 * smax**2)
