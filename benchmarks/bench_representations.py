"""Large-q LPS spectra and certificates from the irreducible representations of PGL2/PSL2
(ramcore.representations), beside the Lanczos certificates on the whole graph (CSR and
matrix-free) and PRIMME when it is installed, with the certified Ramanujan margin 2 sqrt(p) - lambda
of X^{5,q} for q from 13 upward."""

from __future__ import annotations

import math

import numpy as np

TITLE = "LPS spectra and certificates by representations"
TOL = 1e-10
P = 5
QUICK = (13, 29, 61, 101, 151, 251, 509)
FULL = (*QUICK, 1009, 2003)
SPECTRUM_MAX_Q = 1009  # the full spectrum is O(q^4): 1009 takes minutes
CSR_MAX_Q = 101  # the CSR of X^{5,151} is 1.7 M vertices; Lanczos on it is minutes, past 251 hours
MATRIX_FREE_MAX_Q = 151


def spectrum(p: int, q: int):
    import ramcore

    def work():
        s = ramcore.lps_spectrum(p, q)
        return {
            "value": s.nontrivial,
            "residual": None,
            "irrep": ", ".join(s.nontrivial_irreps),
            "vertices": s.num_vertices,
            "group": s.group,
            "blocks": len(s.labels),
        }

    return work


def certify_representations(p: int, q: int):
    import ramcore

    op = ramcore.lps_operator(p, q)  # no CSR: the certificate never touches the graph

    def work():
        return _cert(ramcore.certify(op, method="representations", tol=TOL))

    return work


def certify_lanczos(p: int, q: int, matrix_free: bool):
    import ramcore

    g = ramcore.lps_operator(p, q) if matrix_free else ramcore.lps_graph(p, q)
    return lambda: _cert(ramcore.certify(g, method="two-pass", tol=TOL))


def _cert(c) -> dict:
    return {
        "value": c.nontrivial,
        "residual": c.residual,
        "irrep": c.irrep,
        "vertices": c.vertices,
        "group": "PGL2" if "non-bipartite" not in c.graph else "PSL2",
        "blocks": None,
        "converged": c.converged,
    }


def primme_eigsh(p: int, q: int):
    """PRIMME's eigsh (which="LM", the same tolerance) on the CSR with the trivial vectors as
    `lock` constraints (eigenvectors sought orthogonal to them): the strongest general-purpose
    eigensolver we know of, as a peer."""
    import primme

    import ramcore

    g = ramcore.lps_graph(p, q)
    a, trivial = g.adjacency, g.trivial_vectors()

    def work():
        vals = primme.eigsh(a, k=1, which="LM", tol=TOL, lock=trivial, return_eigenvectors=False)
        return {"value": float(np.abs(vals).max()), "residual": None, "irrep": "", "vertices": g.num_vertices}

    return work


def _has_primme() -> bool:
    try:
        import primme  # noqa: F401
    except ImportError:
        return False
    return True


IMPLS = {
    "spectrum": "full spectrum (representations)",
    "certify_representations": "certificate (representations)",
    "csr": "certificate (two-pass Lanczos, CSR)",
    "matrix_free": "certificate (two-pass Lanczos, matrix-free)",
    "primme": "PRIMME eigsh LM (CSR)",
}


def cases(quick: bool = False) -> list[dict]:
    out = []
    for q in QUICK if quick else FULL:
        graph = f"X^{{{P},{q}}}"
        big = {"repeat": 1, "timeout": 2400} if q >= 251 else {}
        if q <= SPECTRUM_MAX_Q and (q <= 509 or not quick):
            out.append({"graph": graph, "impl": IMPLS["spectrum"], "fn": "spectrum", "args": (P, q), **big})
        out.append(
            {"graph": graph, "impl": IMPLS["certify_representations"], "fn": "certify_representations",
             "args": (P, q), **big}
        )  # fmt: skip
        if q <= CSR_MAX_Q:
            out.append({"graph": graph, "impl": IMPLS["csr"], "fn": "certify_lanczos", "args": (P, q, False)})
            if _has_primme():
                out.append({"graph": graph, "impl": IMPLS["primme"], "fn": "primme_eigsh", "args": (P, q)})
        if q <= MATRIX_FREE_MAX_Q and not quick:
            out.append(
                {"graph": graph, "impl": IMPLS["matrix_free"], "fn": "certify_lanczos", "args": (P, q, True),
                 "repeat": 1}
            )  # fmt: skip
    return out


def table(results: list[dict]) -> str:
    by_graph: dict[str, dict[str, dict]] = {}
    for r in results:
        by_graph.setdefault(r["graph"], {})[r["impl"]] = r
    cols = [IMPLS["spectrum"], IMPLS["certify_representations"], IMPLS["csr"], IMPLS["matrix_free"]]
    if any(IMPLS["primme"] in row for row in by_graph.values()):
        cols.append(IMPLS["primme"])
    head = "| q | group | vertices | " + " | ".join(f"{c} (s)" for c in cols)
    head += " | largest nontrivial abs(lambda) | attained in | margin 2 sqrt(5) - lambda | residual |"
    lines = [head, "|" + "---:|" * 3 + "---:|" * len(cols) + "---:|---|---:|---:|"]
    bound = 2 * math.sqrt(P)
    for graph, row in by_graph.items():
        q = int(graph.split(",")[1].rstrip("}"))
        ref = row.get(IMPLS["certify_representations"]) or row.get(IMPLS["spectrum"])
        f = ref["figures"] if ref and ref.get("figures") else {}
        times = []
        for c in cols:
            r = row.get(c)
            if r is None:
                times.append("")
            elif r.get("timed_out"):
                times.append(f"> {r['timeout']}")
            else:
                times.append(f"{r['seconds']:.3g}")
        value = f.get("value")
        residual = f.get("residual")
        lines.append(
            f"| {q} | {f.get('group', '')} | {f.get('vertices', 0):,} | " + " | ".join(times) + " | "
            + ("" if value is None else f"{value:.10f}") + f" | {f.get('irrep', '')} | "
            + ("" if value is None else f"{bound - value:.3e}") + " | "
            + ("" if residual is None else f"{residual:.1e}") + " |"
        )  # fmt: skip
    return "\n".join(lines)
