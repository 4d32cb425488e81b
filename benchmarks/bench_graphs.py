"""Graph construction benchmarks.

Each case runs in a fresh interpreter (see run.py) so that its peak memory is its own. Cases:
- LPS X^{p,q} with ramcore (all threads and one thread): seconds, directed edges per second, peak
  memory against the bytes of the CSR it returns.
- Bi-regular graphs of comparable size.
- The same graphs built straightforwardly: the naive pure-Python construction (dicts of tuples,
  tests/reference.py) and a vectorised numpy one, on the sizes they can handle; the ratio is
  baseline seconds / ramcore seconds on the same graph, measured in the same run.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


TITLE = "Graph construction"


def numpy_lps(p: int, q: int) -> tuple[np.ndarray, np.ndarray]:
    """X^{p,q} the vectorised-numpy way: enumerate canonical elements, multiply by each generator
    with array arithmetic, find neighbours by searchsorted on sorted element keys, sort rows."""
    import reference

    psl = pow(p, (q - 1) // 2, q) == 1
    b, c, d = (a.ravel() for a in np.meshgrid(np.arange(q), np.arange(q), np.arange(q), indexing="ij"))
    top = np.stack([np.ones_like(b), b, c, d], axis=1)[(d - b * c) % q != 0]
    c2, d2 = (a.ravel() for a in np.meshgrid(np.arange(1, q), np.arange(q), indexing="ij"))
    bottom = np.stack([np.zeros_like(c2), np.ones_like(c2), c2, d2], axis=1)
    elements = np.concatenate([top, bottom])
    det = (elements[:, 0] * elements[:, 3] - elements[:, 1] * elements[:, 2]) % q
    if psl:
        squares = np.zeros(q, dtype=bool)
        squares[(np.arange(1, q) ** 2) % q] = True
        elements = elements[squares[det]]
    weights = np.array([q**3, q**2, q, 1])
    keys = elements @ weights
    order = np.argsort(keys)
    keys, elements = keys[order], elements[order]
    inverse = np.array([0] + [pow(v, -1, q) for v in range(1, q)])
    neighbours = []
    for s in reference.generators(p, q):
        s = np.array(s).reshape(2, 2)
        m = elements.reshape(-1, 2, 2) @ s % q
        m = m.reshape(-1, 4)
        lead = np.where(m[:, 0] != 0, m[:, 0], m[:, 1])
        m = m * inverse[lead][:, None] % q
        neighbours.append(np.searchsorted(keys, m @ weights))
    indices = np.sort(np.stack(neighbours, axis=1), axis=1).ravel()
    indptr = np.arange(len(elements) + 1) * (p + 1)
    return indptr, indices


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


def cases(quick: bool = False) -> list[dict]:
    """Every case: graph label, implementation label, function name above, its args, edges."""

    def case(graph: str, impl: str, fn: str, args: tuple, edges: int) -> dict:
        repeat = {"repeat": 1} if impl.startswith("pure Python") else {}
        return {"graph": graph, "impl": impl, "fn": fn, "args": args, "edges": edges, **repeat}

    out = []
    for p, q in [(5, 29), (5, 37), (5, 61), (5, 101), (5, 149), (5, 197), (13, 197), (5, 277)]:
        n = q * (q * q - 1) // (2 if pow(p, (q - 1) // 2, q) == 1 else 1)
        graph, edges = f"X^{{{p},{q}}}", n * (p + 1)
        out.append(case(graph, "ramcore", "ramcore_lps", (p, q, None), edges))
        if (p, q) in [(5, 61), (5, 197)]:
            out.append(case(graph, "ramcore 1 thread", "ramcore_lps", (p, q, 1), edges))
        if q <= 61:
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
    """run.py's entry point: nothing to prepare, the whole construction is timed."""
    build = globals()[fn]

    def work():
        out = build(*args)
        return {"csr_bytes": out} if fn.startswith("ramcore") else None

    return work


def _mib(n: float | None) -> str:
    return "" if n is None else f"{n / 2**20:,.1f}"


def table(results: list[dict]) -> str:
    fast = {r["graph"]: r["seconds"] for r in results if r["impl"] == "ramcore"}
    lines = [
        "| graph | implementation | directed edges | seconds | M edges/s | peak MiB | CSR MiB | peak/CSR "
        "| ramcore (all threads) speed-up |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        csr = (r["figures"] or {}).get("csr_bytes")
        ratio = "" if csr is None else f"{r['peak_bytes'] / csr:.2f}"
        speedup = "" if r["impl"] == "ramcore" else f"{r['seconds'] / fast[r['graph']]:,.0f}x"
        lines.append(
            f"| {r['graph']} | {r['impl']} | {r['edges']:,} | {r['seconds']:.4f} | "
            f"{r['edges'] / r['seconds'] / 1e6:,.1f} | {_mib(r['peak_bytes'])} | {_mib(csr)} | "
            f"{ratio} | {speedup} |"
        )
    return "\n".join(lines)
