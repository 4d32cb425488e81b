import numpy as np
import pytest
from test_lps import SPECTRAL_PAIRS

import oracles
import ramcore


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
        ramcore.certify(ramcore.lps_operator(5, 2003))


def test_certify_memory_check_honours_available_memory(monkeypatch):
    monkeypatch.setattr(ramcore.validation, "available_memory", lambda: 2**20)
    with pytest.raises(MemoryError, match="Lanczos basis"):
        ramcore.certify(ramcore.lps_operator(5, 61))
