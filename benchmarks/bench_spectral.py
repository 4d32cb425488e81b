"""Spectral benchmarks: Ramanujan certificates against scipy's ARPACK, the largest LPS graph
certified matrix-free, and Delta_S/Delta_R for every layer of a VGG-16 (CIFAR shapes)."""

from __future__ import annotations

import numpy as np

TITLE = "Spectral certificates and layer bounds"
TOL = 1e-10

# VGG-16 for CIFAR: 13 3x3 convolutions (out, in, 3, 3) and the classifier Linear(512, 10).
VGG16_CONV = [
    (64, 3),
    (64, 64),
    (128, 64),
    (128, 128),
    (256, 128),
    (256, 256),
    (256, 256),
    (512, 256),
    (512, 512),
    (512, 512),
    (512, 512),
    (512, 512),
    (512, 512),
]


def certify_csr(p: int, q: int):
    import ramcore

    g = ramcore.lps_graph(p, q)
    return lambda: _cert(ramcore.certify(g, method="two-pass", tol=TOL))


def certify_matrix_free(p: int, q: int):
    import ramcore

    op = ramcore.lps_operator(p, q)
    return lambda: _cert(ramcore.certify(op, method="two-pass", tol=TOL))


def _cert(c) -> dict:
    return {
        "value": c.nontrivial,
        "residual": c.residual,
        "matvecs": c.matvecs,
        "ramanujan": c.ramanujan,
        "vertices": c.vertices,
    }


def arpack(p: int, q: int, tol: float):
    """How it is usually done: eigsh, 4 largest + 4 smallest algebraic; the certificate's value is
    the largest |lambda| among those that are not +-(p + 1)."""
    import scipy.sparse.linalg as sla

    import ramcore

    g = ramcore.lps_graph(p, q)
    a = g.adjacency

    def work():
        vals = sla.eigsh(a, k=8, which="BE", tol=tol, return_eigenvectors=False)
        nontrivial = vals[~np.isclose(np.abs(vals), p + 1)]
        return {
            "value": float(np.abs(nontrivial).max()),
            "residual": None,
            "matvecs": None,
            "ramanujan": None,
            "vertices": g.num_vertices,
        }

    return work


def vgg16_gaps(density: float):
    import ramcore

    rng = np.random.default_rng(0)
    layers = [(o, i, 3, 3) for o, i in VGG16_CONV] + [(10, 512)]
    weights = []
    for shape in layers:  # exactly round(density * size) kept weights per layer, uniformly at random
        size = int(np.prod(shape))
        w = np.zeros(size)
        keep = rng.choice(size, round(density * size), replace=False)
        w[keep] = rng.standard_normal(len(keep))
        weights.append(w.reshape(shape))

    def work():
        out = [ramcore.ramanujan_gap(w, weighted=weighted) for w in weights for weighted in (False, True)]
        return {
            "layers": len(weights),
            "positive": sum(g.delta_s > 0 for g in out),
            "vertices": None,
            "value": None,
            "residual": None,
            "matvecs": None,
            "ramanujan": None,
        }

    return work


def cases(quick: bool = False) -> list[dict]:
    out = []
    for q in (61, 101):
        graph = f"X^{{5,{q}}}"
        out += [
            {"graph": graph, "impl": "ramcore certify (CSR)", "fn": "certify_csr", "args": (5, q)},
            {
                "graph": graph,
                "impl": "ramcore certify (matrix-free)",
                "fn": "certify_matrix_free",
                "args": (5, q),
            },
            {
                "graph": graph,
                "impl": f"scipy eigsh BE k=8, tol={TOL:g}",
                "fn": "arpack",
                "args": (5, q, TOL),
                "repeat": 1,
            },
            {
                "graph": graph,
                "impl": "scipy eigsh BE k=8, tol=0 (default)",
                "fn": "arpack",
                "args": (5, q, 0.0),
                "repeat": 1,
            },
        ]
    if not quick:
        out.append(
            {
                "graph": "X^{5,251}",
                "impl": "ramcore certify (matrix-free)",
                "fn": "certify_matrix_free",
                "args": (5, 251),
                "repeat": 1,
            }
        )
    out.append(
        {
            "graph": "VGG-16 (CIFAR), 5 %",
            "impl": "ramanujan_gap, 14 layers x 2",
            "fn": "vgg16_gaps",
            "args": (0.05,),
        }
    )
    return out


def table(results: list[dict]) -> str:
    base = {r["graph"]: r["seconds"] for r in results if r["impl"] == "ramcore certify (CSR)"}
    lines = [
        "| graph | method | vertices | seconds | peak MiB | largest nontrivial abs(lambda) | residual "
        "| matvecs | time / ramcore CSR |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        f = r["figures"]
        ratio = f"{r['seconds'] / base[r['graph']]:.1f}x" if r["graph"] in base else ""
        value = "" if f["value"] is None else f"{f['value']:.10f}"
        resid = "" if f["residual"] is None else f"{f['residual']:.1e}"
        verts = "" if f["vertices"] is None else f"{f['vertices']:,}"
        if r["fn"] == "vgg16_gaps":
            value = f"Delta_S > 0 in {f['positive']} of {2 * f['layers']} (layer, weighting) pairs"
        lines.append(
            f"| {r['graph']} | {r['impl']} | {verts} | {r['seconds']:.3f} | {r['peak_bytes'] / 2**20:,.0f} | "
            f"{value} | {resid} | {f['matvecs'] or ''} | {ratio} |"
        )
    return "\n".join(lines)
