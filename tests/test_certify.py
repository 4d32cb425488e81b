import numpy as np
import pytest
from test_lps import SPECTRAL_PAIRS

import oracles
import ramcore
from ramcore import representations as reps


@pytest.mark.parametrize("p,q", SPECTRAL_PAIRS)
def test_certificates_match_dense_spectra(p, q):
    g = ramcore.lps_graph(p, q)
    cert = ramcore.certify(g)
    nontrivial = oracles.lps_nontrivial(p, q)  # dense eigvalsh, shared with test_lps
    assert cert.converged and cert.ramanujan
    assert cert.lambda1 == pytest.approx(p + 1, rel=1e-12)
    assert cert.nontrivial == pytest.approx(nontrivial, rel=1e-8)
    assert cert.bound == pytest.approx(2 * np.sqrt(p)) and cert.margin > 0
    mf = ramcore.certify(g, matrix_free=True)
    assert mf.nontrivial == pytest.approx(cert.nontrivial, rel=1e-10, abs=1e-10)
    assert "matrix-free" in mf.method and mf.ramanujan


def test_certificate_x_5_61():
    cert = ramcore.certify(ramcore.lps_operator(5, 61))
    assert cert.vertices == 113_460 and cert.ramanujan
    assert cert.nontrivial == pytest.approx(4.4203, abs=1e-4)  # docs/design.md, section 2


@pytest.mark.parametrize("q,l", [(7, 3), (7, 7), (11, 5), (13, 13), (13, 20), (5, 12)])
def test_biregular_certificates(q, l):
    g = ramcore.biregular_graph(q, l)
    cert = ramcore.certify(g)
    sv = oracles.biregular_singular_values(q, l)  # dense svd, shared with test_biregular
    assert cert.ramanujan and cert.converged
    assert cert.lambda1 == pytest.approx(sv[0]) and cert.nontrivial == pytest.approx(sv[1], rel=1e-8)
    assert cert.bound == pytest.approx(np.sqrt(l - 1) + np.sqrt(q - 1))


def test_l_one_is_not_ramanujan():
    cert = ramcore.certify(ramcore.biregular_graph(7, 1))
    assert cert.converged and not cert.ramanujan and cert.margin < 0
    assert "NOT Ramanujan" in cert.summary()


def test_multigraph_certificate_is_honest():
    g = ramcore.lps_graph(31, 3, allow_multigraph=True)  # tiny multigraph: not claimed blindly
    cert = ramcore.certify(g)
    nontrivial = oracles.lps_nontrivial(31, 3, allow_multigraph=True)  # dense eigvalsh
    assert cert.nontrivial == pytest.approx(nontrivial, rel=1e-8)
    assert cert.ramanujan == (nontrivial <= 2 * np.sqrt(31))


def test_certify_checks_memory_before_any_vector():
    # X^{5,2003} has 8e9 vertices: one vector alone is 64 GB. The refusal comes first (issue 14:
    # certify once ran for minutes, or failed in numpy's allocation, before eigs' own check).
    with pytest.raises(MemoryError, match="Lanczos basis"):
        ramcore.certify(ramcore.lps_operator(5, 2003), method="two-pass")


def test_certify_memory_check_honours_available_memory(monkeypatch):
    monkeypatch.setattr(ramcore.validation, "available_memory", lambda: 2**20)
    with pytest.raises(MemoryError, match="Lanczos basis"):
        ramcore.certify(ramcore.lps_operator(5, 61), method="two-pass")
    monkeypatch.setattr(ramcore.validation, "available_memory", lambda: 2**16)
    with pytest.raises(MemoryError, match="blocks of X"):
        ramcore.certify(ramcore.lps_operator(5, 61), method="representations")


# --- certificates from the irreducible representations (ramcore.representations) ----------------


@pytest.mark.parametrize(
    "p,q", [(5, 13), (13, 17), (7, 19), (3, 11), (17, 13), (13, 5), (5, 61), (5, 101), (31, 3)]
)
def test_representations_certificate_matches_lanczos(p, q):
    g = ramcore.lps_graph(p, q, allow_multigraph=bool(q < 2 * np.sqrt(p)))
    lanczos = ramcore.certify(g, method="two-pass")
    rep = ramcore.certify(g, method="representations")
    assert rep.converged and lanczos.converged and rep.ramanujan == lanczos.ramanujan
    assert rep.nontrivial == pytest.approx(lanczos.nontrivial, rel=1e-9)
    assert rep.lambda1 == p + 1 and rep.vertices == g.num_vertices and rep.bound == lanczos.bound
    assert rep.residual <= 1e-10 * rep.nontrivial + 1e-12 and "representations of" in rep.method
    assert rep.irrep and rep.irrep in rep.summary()
    if q <= 19:  # the representation named is where the dense spectrum has the value
        spec = ramcore.lps_spectrum(p, q, allow_multigraph=not g.generators.simple)
        assert rep.nontrivial == pytest.approx(spec.nontrivial, abs=1e-9)
        named = {
            name.removesuffix(" (opposite signs)")
            for tie in rep.irrep.split("; ")
            for name in tie.removesuffix(" (opposite signs)").split(" and ")
        }
        assert named == set(spec.nontrivial_irreps)


@pytest.mark.parametrize("p,q", [(5, 61), (3, 101), (13, 5), (31, 3), (7, 19)])
def test_lanczos_blocks_match_dense_blocks(p, q):
    """Every block by batched Lanczos (dense_max=0; tiny blocks break down and are settled) against
    every block by a dense eigensolver: both extremes of each, and the residuals honest."""
    gens = ramcore.lps_generators(p, q)
    dense = reps.certify_blocks(gens, dense_max=10**6)
    lanczos = reps.certify_blocks(gens, dense_max=0)
    assert dense.converged and lanczos.converged and dense.dense_blocks == len(dense.blocks)
    for a, b in zip(dense.blocks, lanczos.blocks):
        assert a.irrep == b.irrep
        assert b.largest == pytest.approx(a.largest, abs=1e-9)
        assert b.smallest == pytest.approx(a.smallest, abs=1e-9)
        assert max(b.residual_largest, b.residual_smallest) <= 1e-10 * (p + 1) + 1e-12
    assert lanczos.best.value == pytest.approx(dense.best.value, abs=1e-9)


def test_representation_certificates_independent_of_threads():
    gens = ramcore.lps_generators(5, 229)  # blocks of 230: batched Lanczos
    one = reps.certify_blocks(gens, threads=1)
    assert one.lanczos_blocks > 0
    for threads in (2, 3):
        other = reps.certify_blocks(gens, threads=threads)
        assert [(b.largest, b.smallest, b.residual_largest, b.matvecs) for b in other.blocks] == [
            (b.largest, b.smallest, b.residual_largest, b.matvecs) for b in one.blocks
        ]


def test_certify_method_choice():
    small, big = ramcore.lps_graph(5, 13), ramcore.lps_operator(5, 37)
    assert "Lanczos" in ramcore.certify(small).method  # 2,184 vertices: the CSR is faster
    assert "representations" in ramcore.certify(big).method
    assert "matrix-free" in ramcore.certify(big, matrix_free=True).method
    with pytest.raises(ValueError, match="method must be one of"):
        ramcore.certify(small, method="blocks")
    with pytest.raises(ValueError, match="certifies LPS graphs"):
        ramcore.certify(ramcore.biregular_graph(7, 3), method="representations")
    with pytest.raises(ValueError, match="matrix_free"):
        ramcore.certify(small, method="representations", matrix_free=True)
    with pytest.raises(ValueError, match="ncv"):
        ramcore.certify(big, method="representations", ncv=-3)
