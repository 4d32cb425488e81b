"""Effective-resistance benchmarks: exact resistances of every VGG-16 (CIFAR) layer by the Schur
complement, against the seed's pseudo-inverse of the whole Laplacian on the largest layer; the full
Sparsify of VGG-16 at 1 % density; and the JL/PCG sketch on LPS graphs against exact values."""

from __future__ import annotations

import math

import numpy as np

from bench_spectral import VGG16_CONV

TITLE = "Effective resistances and spectral-sparsification pruning"
LARGEST = (512, 512, 3, 3)  # VGG-16's largest layer graph: 4608 x 512


def vgg16_shapes() -> list[tuple[int, ...]]:
    """The 13 convolutions (out, in, 3, 3) and the classifier Linear(512, 10) of bench_spectral."""
    return [(o, i, 3, 3) for o, i in VGG16_CONV] + [(10, 512)]


def kaiming(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    fan_in = int(np.prod(shape[1:]))
    return rng.standard_normal(shape) * math.sqrt(2.0 / fan_in)


def vgg16_weights(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {f"layer{k:02d}": kaiming(s, rng) for k, s in enumerate(vgg16_shapes())}


def _figures(**kw):
    base = {"layers": None, "foster": None, "error": None, "detail": ""}
    return {**base, **kw}


def vgg16_exact():
    import ramcore

    scores = ramcore.magnitude(vgg16_weights())

    def work():
        worst = 0.0
        for w in scores.values():
            r = ramcore.effective_resistance(w)
            b = w.reshape(w.shape[0], -1)
            worst = max(worst, abs(float(np.sum(w * r)) / (sum(b.shape) - 1) - 1))
        return _figures(layers=len(scores), foster=worst, detail="Schur complement, numpy")

    return work


def largest_schur():
    import ramcore

    w = np.abs(kaiming(LARGEST, np.random.default_rng(1)))
    return lambda: _figures(layers=1, foster=_foster(w, ramcore.effective_resistance(w)))


def largest_pinv():
    """Seed 002's method: the pseudo-inverse of the whole (m + n) x (m + n) Laplacian."""
    import ramcore

    w = np.abs(kaiming(LARGEST, np.random.default_rng(1)))
    b = w.reshape(w.shape[0], -1).T  # rows in*kh*kw, columns out
    m, n = b.shape
    fast = ramcore.effective_resistance(w).reshape(w.shape[0], -1).T

    def work():
        a = np.zeros((m + n, m + n))
        a[:m, m:] = b
        a[m:, :m] = b.T
        p = np.linalg.pinv(np.diag(a.sum(axis=1)) - a)
        d = np.diag(p)
        r = d[:m, None] + d[None, m:] - 2 * p[:m, m:]
        err = float(np.max(np.abs(r / fast - 1)))
        return _figures(layers=1, foster=_foster(b, r), error=err, detail="max rel. difference to Schur")

    return work


def _foster(w, r) -> float:
    b = w.reshape(w.shape[0], -1)
    return abs(float(np.sum(w * r)) / (sum(b.shape) - 1) - 1)


def vgg16_sparsify(density: float):
    import ramcore

    scores = ramcore.magnitude(vgg16_weights())

    def work():
        res = ramcore.sparsify(scores, density=density, seed=0)
        lam = [r.lambda2_after for r in res.layers.values()]
        connected = sum(r.connected_after for r in res.layers.values())
        detail = (
            f"density {res.density:.4%}; connected after: {connected} of {len(lam)}; "
            f"lambda2 before {min(r.lambda2_before for r in res.layers.values()):.3f}.."
            f"{max(r.lambda2_before for r in res.layers.values()):.3f}"
        )
        return _figures(layers=len(res.masks), detail=detail)

    return work


def lps_sketch(p: int, q: int, epsilon: float, samples: int):
    """Sketch every edge; exact values for `samples` random edges by CG to 1e-12 (or all edges by
    the dense method when the graph is small)."""
    import scipy.sparse as sp
    import scipy.sparse.linalg as sla

    import ramcore

    g = ramcore.lps_graph(p, q)
    n = g.num_vertices
    rows = np.repeat(np.arange(n), np.diff(g.indptr))
    if n <= 5000:
        exact = ramcore.graph_resistance(g, method="exact").values
        picked = np.arange(len(rows))
    else:
        rng = np.random.default_rng(0)
        picked = rng.choice(len(rows), samples, replace=False)
        a = g.adjacency
        lap = sp.csr_array(sp.diags_array(np.asarray(a.sum(axis=1)).ravel()) - a)
        exact = np.zeros(len(rows))
        for k in picked:
            rhs = np.zeros(n)
            rhs[rows[k]], rhs[g.indices[k]] = 1.0, -1.0
            x, info = sla.cg(lap, rhs, rtol=1e-12, maxiter=2000)
            assert info == 0
            exact[k] = x[rows[k]] - x[g.indices[k]]

    def work():
        res = ramcore.graph_resistance(g, method="sketch", epsilon=epsilon, seed=0)
        err = float(np.max(np.abs(res.values[picked] / exact[picked] - 1)))
        foster = abs(res.values.sum() / 2 / (n - 1) - 1)
        detail = (
            f"n = {n:,}, eps = {epsilon}, k = {res.sketch_rows}, CG its {res.cg_iterations.mean():.0f}, "
            f"residual <= {res.cg_residuals.max():.0e}, estimate {res.error_estimate:.3f}, "
            f"exact on {'all' if len(picked) == len(rows) else len(picked)} edges"
        )
        return _figures(layers=None, foster=foster, error=err, detail=detail)

    return work


def cases(quick: bool = False) -> list[dict]:
    out = [
        {"graph": "VGG-16 (CIFAR), 14 layers", "impl": "ramcore exact", "fn": "vgg16_exact", "args": ()},
        {"graph": "4608 x 512 layer", "impl": "ramcore exact (Schur)", "fn": "largest_schur", "args": ()},
        {
            "graph": "4608 x 512 layer",
            "impl": "seed 002: pinv of the Laplacian",
            "fn": "largest_pinv",
            "args": (),
            "repeat": 1,
        },
        {
            "graph": "VGG-16 (CIFAR), 14 layers",
            "impl": "Sparsify 1 % (magnitude)",
            "fn": "vgg16_sparsify",
            "args": (0.01,),
        },
        {"graph": "X^{5,13}", "impl": "JL + PCG sketch", "fn": "lps_sketch", "args": (5, 13, 0.3, 0)},
        {
            "graph": "X^{5,61}",
            "impl": "JL + PCG sketch",
            "fn": "lps_sketch",
            "args": (5, 61, 0.3, 50),
            "repeat": 1,
        },
    ]
    if not quick:
        out.append(
            {
                "graph": "X^{5,101}",
                "impl": "JL + PCG sketch",
                "fn": "lps_sketch",
                "args": (5, 101, 0.3, 20),
                "repeat": 1,
            }
        )
    return out


def table(results: list[dict]) -> str:
    schur = {r["graph"]: r["seconds"] for r in results if r["fn"] == "largest_schur"}
    lines = [
        "| graph | method | seconds | peak MiB | Foster deviation | max rel. error | time / ramcore "
        "| notes |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        f = r["figures"]
        ratio = f"{r['seconds'] / schur[r['graph']]:.0f}x" if r["fn"] == "largest_pinv" else ""
        foster = "" if f["foster"] is None else f"{f['foster']:.1e}"
        error = "" if f["error"] is None else f"{f['error']:.2g}"
        lines.append(
            f"| {r['graph']} | {r['impl']} | {r['seconds']:.3f} | {r['peak_bytes'] / 2**20:,.0f} | {foster} "
            f"| {error} | {ratio} | {f['detail']} |"
        )
    return "\n".join(lines)
