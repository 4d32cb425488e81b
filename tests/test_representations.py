"""The irreducible representations of PGL2(F_q) and PSL2(F_q) and the exact LPS spectra built on
them (ramcore.representations): checked by the group identities (sum of dim^2 = |G|, orthonormal
characters, rho(g) rho(h) = rho(gh), unitarity) and against the dense spectrum of the adjacency,
the closed-walk counts of the CSR and the Lanczos certificates."""

import math

import numpy as np
import pytest
import scipy.sparse as sp
from test_lps import SPECTRAL_PAIRS

import oracles
import ramcore
from ramcore import representations as reps

GROUPS = {"PGL2": ramcore.PGL2, "PSL2": ramcore.PSL2}
MULTIGRAPH_PAIRS = [(31, 3), (11, 3), (5, 3), (13, 3), (29, 5), (7, 3)]  # q < 2 sqrt(p)


def _legendre(p, q):
    return 1 if pow(p, (q - 1) // 2, q) == 1 else -1


@pytest.mark.parametrize("q", [3, 5, 7, 11, 13, 17, 19, 23])
@pytest.mark.parametrize("group", ["PGL2", "PSL2"])
def test_dimensions_fill_the_group(q, group):
    irr = reps.irreps(q, group)
    order = GROUPS[group](q).order
    assert sum(r.dim**2 for r in irr) == order
    assert len(irr) == (q + 2 if group == "PGL2" else (q + 5) // 2)  # the number of classes
    assert len({r.label for r in irr}) == len(irr)


@pytest.mark.parametrize("q", [3, 5, 7, 11, 13])
@pytest.mark.parametrize("group", ["PGL2", "PSL2"])
def test_characters_are_orthonormal(q, group):
    """<chi_i, chi_j> = delta_ij over the whole group: the models are irreducible and distinct."""
    g = GROUPS[group](q)
    elements = g.elements()
    chars = np.array([r.character(elements) for r in reps.irreps(q, group)])
    gram = chars @ chars.conj().T / g.order
    np.testing.assert_allclose(gram, np.eye(len(chars)), atol=1e-10)


@pytest.mark.parametrize("q", [3, 5, 7, 11, 13, 17, 19])
@pytest.mark.parametrize("group", ["PGL2", "PSL2"])
def test_homomorphism_and_unitarity(q, group):
    g = GROUPS[group](q)
    rng = np.random.default_rng(q)
    x = g.unrank(rng.integers(0, g.order, 12))
    y = g.unrank(rng.integers(0, g.order, 12))
    xy = g.multiply(x, y)
    for r in reps.irreps(q, group):
        a, b, c = r.matrices(x), r.matrices(y), r.matrices(xy)
        np.testing.assert_allclose(a @ b, c, atol=1e-10, err_msg=r.label)
        np.testing.assert_allclose(
            a @ a.conj().transpose(0, 2, 1), np.broadcast_to(np.eye(r.dim), a.shape), atol=1e-10
        )
    # any scalar multiple of a matrix is the same element of PGL2
    r = reps.Irrep(group, q, "discrete", 1) if q % 4 == 1 or group == "PGL2" else reps.irreps(q, group)[-1]
    np.testing.assert_allclose(r.matrices(x), r.matrices(4 * x), atol=1e-12)


def test_matrices_refuse_bad_elements():
    with pytest.raises(ValueError, match="singular"):
        reps.Irrep("PGL2", 7, "principal", 1).matrices([[1, 2, 2, 4]])
    with pytest.raises(ValueError, match="not in PSL2"):
        reps.irreps(7, "PSL2")[1].matrices([[3, 0, 0, 1]])  # det 3, a non-square mod 7
    with pytest.raises(ValueError, match="group must be"):
        reps.irreps(7, "SL2")
    with pytest.raises(ValueError, match="q must be an odd prime"):
        reps.irreps(9)


def test_twists_and_self_twists():
    for q in (13, 19):
        for r in reps.irreps(q):
            t = r.twist()
            assert t.twist() == r and t.dim == r.dim
            sign = reps.Irrep("PGL2", q, "sign")
            elements = ramcore.PGL2(q).elements()[::7]
            np.testing.assert_allclose(
                t.character(elements), r.character(elements) * sign.character(elements), atol=1e-9
            )


def _dense_spectrum(p, q, multigraph=False):
    if q > 2 * math.sqrt(p) or not multigraph:
        return oracles.lps_eigenvalues(p, q, allow_multigraph=multigraph)
    return np.linalg.eigvalsh(ramcore.lps_graph(p, q, allow_multigraph=True).adjacency.toarray())


# every pair that test_lps uses, and a few more (up to X^{7,19}, 3,420 vertices). X^{5,17} (4,896)
# passed here until the suite's time ran short; X^{5,29} was compared once (docs/representations.md);
# larger graphs: test_larger_spectra_by_invariants
@pytest.mark.parametrize("p,q", SPECTRAL_PAIRS + [(7, 3), (11, 13), (3, 13)])
def test_spectrum_equals_dense_spectrum(p, q):
    multigraph = q < 2 * math.sqrt(p)
    spec = ramcore.lps_spectrum(p, q, allow_multigraph=multigraph)
    dense = _dense_spectrum(p, q, multigraph)
    values = spec.eigenvalues()
    assert len(values) == len(dense) == spec.num_vertices
    np.testing.assert_allclose(values, dense, atol=1e-9)
    assert spec.group == ("PGL2" if _legendre(p, q) == -1 else "PSL2") and spec.bipartite == (
        spec.group == "PGL2"
    )
    assert spec.nontrivial == pytest.approx(oracles.lps_nontrivial(p, q, multigraph), abs=1e-9)
    # every distinct value with its multiplicity, labelled by its representation
    assert spec.multiplicities.sum() == spec.num_vertices and np.all(spec.multiplicities > 0)
    for i in range(len(spec.values)):
        block = spec.blocks[spec.irrep[i]]
        count = np.sum(np.abs(block - spec.values[i]) <= spec.cluster_tol)
        assert spec.multiplicities[i] == count * spec.dims[spec.irrep[i]]
    distinct, mult = spec.distinct()
    assert mult.sum() == spec.num_vertices and np.all(np.diff(distinct) > spec.cluster_tol)
    top = spec.labels[spec.irrep[np.argmax(spec.values)]]
    assert top == "trivial" and spec.values.max() == pytest.approx(p + 1)


@pytest.mark.parametrize("p,q", MULTIGRAPH_PAIRS)
def test_multigraph_spectra(p, q):
    spec = ramcore.lps_spectrum(p, q, allow_multigraph=True)
    np.testing.assert_allclose(spec.eigenvalues(), _dense_spectrum(p, q, True), atol=1e-9)
    if not ramcore.lps_generators(p, q).simple:  # q < 2 sqrt(p) allows, but does not force, repeats
        with pytest.raises(ValueError, match="allow_multigraph"):
            ramcore.lps_spectrum(p, q)


@pytest.mark.parametrize("p,q", [(3, 7), (3, 11), (13, 5), (11, 7), (31, 3)])
def test_double_cover_spectrum(p, q):
    a = ramcore.lps_graph(p, q, allow_multigraph=True).adjacency
    cover = sp.block_array([[None, a], [a, None]]).toarray()
    spec = ramcore.lps_spectrum(p, q, allow_multigraph=q < 2 * math.sqrt(p), double_cover=True)
    np.testing.assert_allclose(spec.eigenvalues(), np.linalg.eigvalsh(cover), atol=1e-9)
    assert spec.bipartite and spec.num_vertices == 2 * a.shape[0]
    assert "trivial x eps" in spec.labels


def _closed_walks(a, k):
    """tr(A^k) from the CSR, exactly (integer arithmetic): sum of A^i o A^(k-i)."""
    a = sp.csr_array(a, dtype=np.int64)
    half = [sp.identity(a.shape[0], dtype=np.int64, format="csr")]
    for _ in range(k // 2 + 1):
        half.append(half[-1] @ a)
    i, j = k // 2, k - k // 2
    return int(half[i].multiply(half[j].T).sum())


@pytest.mark.parametrize("p,q", [(5, 13), (13, 17), (3, 11), (5, 29), (7, 19), (31, 3), (11, 7)])
def test_traces_count_closed_walks(p, q):
    multigraph = q < 2 * math.sqrt(p)
    g = ramcore.lps_graph(p, q, allow_multigraph=multigraph)
    spec = g.spectrum()
    gens = g.generators
    blocks = reps._spectrum_blocks(gens)
    for k in range(1, 7):
        walks = _closed_walks(g.adjacency, k)
        assert spec.trace(k) == pytest.approx(walks, rel=1e-9, abs=1e-6)
        # the same from the block matrices themselves, not their eigenvalues
        from_blocks = 0.0
        for r in blocks:
            m = np.linalg.matrix_power(reps.generator_sum(r, gens), k)
            twist = r.group == "PGL2" and r.twist() != r
            from_blocks += r.dim * np.trace(m).real * (1 + (-1) ** k if twist else 1)
        assert from_blocks == pytest.approx(walks, rel=1e-9, abs=1e-6)
    if g.bipartite:  # no closed walk of odd length
        assert all(spec.trace(k) == pytest.approx(0, abs=1e-6) for k in (1, 3, 5))


@pytest.mark.parametrize("p,q", [(5, 37), (5, 61)])
def test_larger_spectra_by_invariants(p, q):
    """Beyond what dense eigvalsh of the graph can check in a test: counts, traces, the value
    recorded in docs/design.md, section 2 (X^{5,61}: 4.4203)."""
    spec = ramcore.lps_spectrum(p, q)
    g = ramcore.lps_graph(p, q)
    assert spec.num_vertices == g.num_vertices and spec.ramanujan
    for k in (2, 3, 4):
        assert spec.trace(k) == pytest.approx(_closed_walks(g.adjacency, k), rel=1e-10, abs=1e-6)
    if q == 61:
        assert spec.nontrivial == pytest.approx(4.4203, abs=1e-4)


@pytest.mark.parametrize("p,q", [(5, 13), (17, 13), (7, 19)])
def test_spectrum_independent_of_threads(p, q):
    one = ramcore.lps_spectrum(p, q, threads=1)
    for threads in (2, 3, None):
        other = ramcore.lps_spectrum(p, q, threads=threads)
        assert one.labels == other.labels
        assert all(np.array_equal(a, b) for a, b in zip(one.blocks, other.blocks))


def test_spectrum_cost_and_memory_check(monkeypatch):
    cost = reps.lps_spectrum_cost(5, 1009)
    assert cost.blocks == 1 + 1 + 252 + 252 + 1 and cost.largest == 1010  # PSL2: both halves
    assert 1e11 < cost.flops < 1e13 and cost.seconds() > 10
    monkeypatch.setattr(ramcore.validation, "available_memory", lambda: 2**16)
    with pytest.raises(MemoryError, match="spectrum of X"):
        ramcore.lps_spectrum(5, 61)


def test_spectrum_summary_and_labels():
    spec = ramcore.lps_spectrum(5, 13)  # (5/13) = -1: PGL2, bipartite
    assert spec.labels[:2] == ("trivial", "sign")
    assert spec.nontrivial == pytest.approx(4.2497, abs=1e-4)  # docs/design.md, section 2
    assert set(spec.nontrivial_irreps) == {"discrete(1)", "discrete(6)"}  # twists of each other
    s = spec.summary()
    assert "X^{5,13}" in s and "RAMANUJAN" in s and "2,184" in s
    with pytest.raises(TypeError, match="double_cover"):
        ramcore.lps_spectrum(5, 13, double_cover="yes")


def test_kesten_mckay_density_and_plot(tmp_path):
    pytest.importorskip("matplotlib")
    from ramcore.plot import kesten_mckay_density, plot_lps_spectra

    r = 2 * math.sqrt(5)
    x = np.linspace(-r, r, 400_001)
    f = kesten_mckay_density(x, 6)
    assert np.trapezoid(f, x) == pytest.approx(1, abs=1e-4)  # a probability density on |x| <= 2 sqrt(5)
    assert np.trapezoid(x * x * f, x) == pytest.approx(6, abs=1e-3)  # closed 2-walks on the tree: d
    assert kesten_mckay_density([5.0, -5.0], 6).tolist() == [0.0, 0.0]
    spectra = [ramcore.lps_spectrum(5, 13), ramcore.lps_spectrum(5, 29)]
    for s in spectra:  # the same second moment, exactly, for every X^{p,q} without loops
        assert s.trace(2) / s.num_vertices == pytest.approx(6)
    path = tmp_path / "km.png"
    assert plot_lps_spectra(spectra, str(path)) == str(path) and path.stat().st_size > 1000
    with pytest.raises(ValueError, match="same p"):
        plot_lps_spectra([spectra[0], ramcore.lps_spectrum(3, 7)], str(path))


def test_tridiagonal_extremes_in_the_core():
    """The convergence test of the batched Lanczos: both extreme eigenpairs of many tridiagonal
    matrices in one call, against LAPACK."""
    import scipy.linalg as sla

    rng = np.random.default_rng(3)
    for m in (1, 2, 7, 60):
        a, b = rng.standard_normal((5, m)), rng.random((5, m))
        values, vectors = ramcore._core.tridiagonal_extremes(a, b)
        assert values.shape == (5, 2) and vectors.shape == (5, 2, m)
        for r in range(5):
            t = np.diag(a[r]) + np.diag(b[r, : m - 1], 1) + np.diag(b[r, : m - 1], -1)
            ev = sla.eigvalsh(t)
            np.testing.assert_allclose(values[r], [ev[-1], ev[0]], atol=1e-12)
            for end in range(2):
                y = vectors[r, end]
                assert np.linalg.norm(t @ y - values[r, end] * y) < 1e-10
                assert np.linalg.norm(y) == pytest.approx(1)
    with pytest.raises(ValueError, match="count, m"):
        ramcore._core.tridiagonal_extremes(np.ones((2, 3)), np.ones((3, 3)))
