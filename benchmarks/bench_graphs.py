"""Graph construction benchmarks.

Each case runs in a fresh interpreter (see run.py) so that its peak memory is its own; times are
medians of 5 (of 1 for the pure-Python baseline). Cases:
- LPS X^{p,q} with ramcore (all threads and one thread): seconds, directed edges per second, peak
  memory against the bytes of the CSR it returns.
- The same graphs built by the numpy peer `numpy_lps` (the whole group as arrays, each generator
  applied to all elements at once, ranked back), whose CSR is checked equal to ramcore's before the
  clock starts; and, for small q, by the naive pure-Python construction (dicts of tuples,
  tests/reference.py).
- Bi-regular graphs of comparable size, with a vectorised numpy and a naive baseline.
The speed-up is baseline seconds / ramcore seconds on the same graph, measured in the same run; a
second table puts ramcore and the numpy peer side by side per LPS graph.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


TITLE = "Graph construction"


def numpy_lps(p: int, q: int) -> tuple[np.ndarray, np.ndarray]:
    """X^{p,q} the vectorised-numpy way, the peer of the core's build (simple graphs only).

    All group elements at once as arrays in the core's rank order (docs/design.md, section 1),
    each generator applied to all of them with array arithmetic, the products canonicalised with a
    table of inverses and ranked back with the same formula, each row sorted. Quantities that
    depend only on an element's top row (1, b) are computed once per b and broadcast.
    """
    import ramcore

    gens = ramcore.lps_generators(p, q)
    if not gens.simple:
        raise ValueError("the numpy peer builds simple graphs only")
    h = (q - 1) // 2
    half, q2h = q * (q * q - 1) // 2, q * q * h
    if 2 * half * (p + 1) >= 2**31:
        raise ValueError("the numpy peer keeps int32 ranks and offsets")
    i32 = np.int32
    v = np.arange(1, q, dtype=i32)
    square = np.zeros(q, dtype=bool)
    square[v * v % q] = True
    residues = np.concatenate([v[square[1:]], v[~square[1:]]])  # squares, then non-squares
    index = np.zeros(q, dtype=i32)
    index[residues[:h]] = np.arange(h, dtype=i32)
    index[residues[h:]] = np.arange(h, dtype=i32)
    inverse = np.zeros(q, dtype=i32)
    inverse[v] = [pow(int(x), -1, q) for x in v]

    classes = (0,) if gens.legendre == 1 else (0, 1)
    k = p + 1
    n = half * len(classes)
    neighbours = np.empty((n, k), dtype=i32)
    r = np.arange(q, dtype=i32)
    b, c = r[:, None, None], r[None, :, None]  # (1, b, c, d): rank (b q + c) h + j
    for cls in classes:
        delta = residues[cls * h : (cls + 1) * h]
        d = (delta[None, None, :] + b * c) % q  # (q, q, h)
        c_inf = (q - delta)[:, None]  # (0, 1, c, d) with c = -delta: rank q^2 h + j q + d
        d_inf = r[None, :]
        out = neighbours[cls * half : (cls + 1) * half]
        for i, (sa, sb, sc, sd) in enumerate(gens.matrices.tolist()):
            flip = 0 if square[sa * sd % q - sb * sc % q] else 1  # the generator's class
            base = ((cls ^ flip) * half)
            # top rows: (1, b) s = (sa + b sc, sb + b sd), per b
            u = (sa + r * sc) % q
            w = (sb + r * sd) % q
            t = inverse[np.where(u != 0, u, w)]
            bb = w * t % q
            det = (delta[None, :] * ((sa * sd - sb * sc) % q) % q * (t * t % q)[:, None]) % q  # (q, h)
            j2 = index[det]
            cc = (c * sa + d * sc) % q * t[:, None, None] % q
            cc *= h
            cc += (base + bb * (q * h))[:, None, None]
            cc += j2[:, None, :]
            zero = np.flatnonzero(u == 0)  # at most one b sends (1, b) to (0, 1)
            for b0 in zero:
                dd = (c[0, :, 0][:, None] * sb + d[b0] * sd) % q * t[b0] % q  # (q, h)
                cc[b0] = base + q2h + j2[b0][None, :] * q + dd
            out[:q2h, i] = cc.ravel()
            # the (0, 1) rows: (0, 1) s = (sc, sd)
            cc = (c_inf * sa + d_inf * sc) % q
            dd = (c_inf * sb + d_inf * sd) % q
            if sc:
                tt = pow(sc, -1, q)
                cc, dd, bt = cc * tt % q, dd * tt % q, sd * tt % q
                dl = (dd - bt * cc) % q
                rk = base + (bt * q + cc) * h + index[dl]
            else:
                tt = pow(sd, -1, q)
                cc, dd = cc * tt % q, dd * tt % q
                dl = (q - cc) % q
                rk = base + q2h + index[dl] * q + dd
            out[q2h:, i] = rk.ravel()
    neighbours.sort(axis=1)
    return np.arange(0, (n + 1) * k, k, dtype=i32), neighbours.ravel()


def numpy_biregular(q: int, l: int) -> tuple[np.ndarray, np.ndarray]:
    """The bi-regular biadjacency straight from its formula with numpy broadcasting."""
    rows = np.arange(q * q)
    i, r = rows // q, rows % q
    j = np.arange(l)
    indices = (j * q + (r[:, None] - i[:, None] * j) % q).ravel()
    return np.arange(q * q + 1) * l, indices


def naive_biregular(q: int, l: int) -> int:
    """Row by row in pure Python: neighbour lists, then flattened CSR."""
    indptr, indices = [0], []
    for i in range(q):
        for r in range(q):
            indices.extend(j * q + (r - i * j) % q for j in range(l))
            indptr.append(len(indices))
    return len(indices)


def naive_lps(p: int, q: int) -> int:
    import reference

    _verts, edges = reference.lps_edges(p, q)
    return len(edges)


def ramcore_lps(p: int, q: int, threads: int | None) -> int:
    import ramcore

    g = ramcore.lps_graph(p, q, threads=threads)
    return g.nbytes


def ramcore_biregular(q: int, l: int, threads: int | None) -> int:
    import ramcore

    g = ramcore.biregular_graph(q, l, threads=threads)
    return g.nbytes


LPS = [(5, 29), (5, 37), (5, 61), (5, 101), (13, 101), (5, 149), (5, 197), (13, 197), (5, 277)]


def cases(quick: bool = False) -> list[dict]:
    """Every case: graph label, implementation label, function name above, its args, edges."""

    def case(graph: str, impl: str, fn: str, args: tuple, edges: int) -> dict:
        repeat = 1 if impl.startswith("pure Python") else 5
        return {"graph": graph, "impl": impl, "fn": fn, "args": args, "edges": edges, "repeat": repeat}

    out = []
    for p, q in LPS:
        n = q * (q * q - 1) // (2 if pow(p, (q - 1) // 2, q) == 1 else 1)
        graph, edges = f"X^{{{p},{q}}}", n * (p + 1)
        out.append(case(graph, "ramcore", "ramcore_lps", (p, q, None), edges))
        if (p, q) in [(5, 61), (5, 101), (5, 197), (13, 197)]:
            out.append(case(graph, "ramcore 1 thread", "ramcore_lps", (p, q, 1), edges))
        out.append(case(graph, "numpy (vectorised)", "numpy_lps", (p, q), edges))
        if q <= 37:
            out.append(case(graph, "pure Python (naive)", "naive_lps", (p, q), edges))
    for q, l in [(53, 30), (1009, 6), (2003, 11), (4001, 12)]:
        graph, edges = f"B(q={q}, l={l})", q * q * l
        out.append(case(graph, "ramcore", "ramcore_biregular", (q, l, None), edges))
        if edges <= 50_000_000:
            out.append(case(graph, "numpy (vectorised)", "numpy_biregular", (q, l), edges))
        if edges <= 7_000_000:
            out.append(case(graph, "pure Python (naive)", "naive_biregular", (q, l), edges))
    if quick:
        out = [c for c in out if c["edges"] <= 50_000_000]
    return [{**c, "fn": "prepare", "args": (c["fn"], *c["args"])} for c in out]


def prepare(fn: str, *args):
    """run.py's entry point: the whole construction is timed. The numpy peer's CSR is first checked
    equal to ramcore's (untimed)."""
    build = globals()[fn]
    if fn == "numpy_lps":
        import ramcore

        g = ramcore.lps_graph(*args)
        indptr, indices = build(*args)
        assert np.array_equal(indptr, g.indptr) and np.array_equal(indices, g.indices), args
        del g, indptr, indices

    def work():
        out = build(*args)
        return {"csr_bytes": out} if fn.startswith("ramcore") else None

    return work


def _mib(n: float | None) -> str:
    return "" if n is None else f"{n / 2**20:,.1f}"


def table(results: list[dict]) -> str:
    sec = {(r["graph"], r["impl"]): r["median_seconds"] for r in results}
    lines = [
        "| graph | implementation | directed edges | seconds | M edges/s | peak MiB | CSR MiB | peak/CSR "
        "| ramcore (all threads) speed-up |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        csr = (r["figures"] or {}).get("csr_bytes")
        ratio = "" if csr is None else f"{r['peak_bytes'] / csr:.2f}"
        t = r["median_seconds"]
        speedup = "" if r["impl"] == "ramcore" else f"{t / sec[r['graph'], 'ramcore']:,.1f}x"
        lines.append(
            f"| {r['graph']} | {r['impl']} | {r['edges']:,} | {t:.4f} | "
            f"{r['edges'] / t / 1e6:,.1f} | {_mib(r['peak_bytes'])} | {_mib(csr)} | "
            f"{ratio} | {speedup} |"
        )
    lines += [
        "",
        "| LPS graph | directed edges | numpy peer ms | ramcore ms | ramcore 1 thread ms "
        "| ramcore M edges/s | numpy / ramcore |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for p, q in LPS:
        graph = f"X^{{{p},{q}}}"
        if (graph, "ramcore") not in sec or (graph, "numpy (vectorised)") not in sec:
            continue
        edges = next(r["edges"] for r in results if r["graph"] == graph)
        fast, peer = sec[graph, "ramcore"], sec[graph, "numpy (vectorised)"]
        one = sec.get((graph, "ramcore 1 thread"))
        lines.append(
            f"| {graph} | {edges:,} | {1e3 * peer:.1f} | {1e3 * fast:.2f} | "
            f"{'' if one is None else f'{1e3 * one:.2f}'} | {edges / fast / 1e6:,.0f} | {peer / fast:.1f}x |"
        )
    return "\n".join(lines)
