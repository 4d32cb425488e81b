"""Seed 004's 16 topometrics on unrolled graph encodings (MGE) of whole networks: ResNet-20 and
Conv-6 on 32x32 inputs, random masks at 5 % and 20 % density, |W| on the edges.

Per graph: the MGE build (`encode`), the core's Topology build, each metric group as the core
computes it (the `_core.Topology` method `topometrics()` calls, on a prebuilt Topology) and the
whole `topometrics()` call (Topology build included). On the smallest graph the same metrics by
straightforward networkx calls (networkx has no 4-motif counter), and the seed's motif sampling
(FANMOD's RAND-ESU, as python-igraph's `motifs_randesu_no`) against ramcore's exact count.
"""

from __future__ import annotations

import importlib
import importlib.util
import math

import numpy as np

TITLE = "Topometrics of whole networks"
MODELS = {"resnet20": "ResNet-20", "conv-6": "Conv-6"}
DENSITIES = (0.05, 0.2)
SIDE = 32  # input height and width
LIMIT = 600  # seconds for a whole networkx or igraph case (interpreter start and preparation included)

# Metric groups, in Table 2 order, as the core computes them: key -> the metrics it gives.
GROUPS = {
    "local": "sink, source, disconnected, r_out, r_in",
    "neighbourhoods": "n1, n2",
    "motifs4": "motifs4",
    "kcore": "kcore",
    "strength": "strength",
    "connectivity": "components, component_size, cut_edges, cut_nodes",
    "spectral_gap": "spectral_gap",
    "spectral_radius": "spectral_radius",
}
NX_GROUPS = [g for g in GROUPS if g != "motifs4"]  # networkx has no 4-motif counter
# (model, density) pairs networkx runs on: Conv-6 5 % (12 M edges, 7.4 GiB of networkx graphs) is the
# largest that fits a 23 GiB machine; Conv-6 20 % (48 M edges) would need about 30 GiB.
NX_GRAPHS = {("resnet20", 0.05), ("resnet20", 0.2), ("conv-6", 0.05)}

# RAND-ESU cut probabilities per level of the ESU tree (level 0 picks the start node); estimate =
# count / prod(1 - cut). python-igraph 1.0 loses a pair cut at an interior level (index 2 of 4) from
# its parent's extension set too, which biases those estimates low (cut 0.5 at index 2: -64 %, mean
# of 20 draws on G(300, 1500)); cuts at indices 0, 1 and 3 are unbiased, but index-3 cuts draw a
# random number per leaf, which costs more than `motifs_randesu_no` counting it. FANMOD's RAND-ESU is
# unbiased at every level (Wernicke 2006), so CUTS cut at indices 0 and 1; BIASED_CUT shows the bias.
CUTS = ((0.9, 0.9, 0.0, 0.0), (0.99, 0.9, 0.0, 0.0))
BIASED_CUT = (0.0, 0.0, 0.5, 0.5)
# igraph's exact count (all cuts 0) costs about 8 ns per connected 4-set (ResNet-20 and Conv-6 at
# 16x16 input): ~20 s for ResNet-20 5 % (2.4e9 sets), ~1 h for Conv-6 5 % (4.8e11), so it runs on the
# first only; the table extrapolates the second from its sampled runs.
IGRAPH_EXACT = ("resnet20",)
MOTIF_RUNS = {"resnet20": (None, *CUTS, BIASED_CUT), "conv-6": CUTS}  # sparsest graphs; None: exact
HAVE_IGRAPH = importlib.util.find_spec("igraph") is not None
HAVE_NETWORKX = importlib.util.find_spec("networkx") is not None


def _topometrics_module():
    # `ramcore.topometrics` the attribute is the function; the module holds the internals.
    return importlib.import_module("ramcore.topometrics")


def _model(name: str, density: float):
    """Zoo model `name` and its random masks (seed 0)."""
    import torch

    import ramcore.torch as rt
    from ramcore.torch import zoo

    torch.manual_seed(0)
    model = zoo.create(name)
    return model, rt.make_masks(model, "random", density, seed=0)


def mge(name: str, density: float, side: int):
    """The weighted unrolled MGE of zoo model `name` with random masks."""
    import ramcore.torch as rt

    model, masks = _model(name, density)
    return rt.encode(model, (3, side, side), masks, weighted=True)


def _size(g) -> dict:
    return {"nodes": g.num_nodes, "edges": g.num_edges}


# --- ramcore --------------------------------------------------------------------------------------


def encode_case(name: str, density: float, side: int):
    """The MGE build itself: `encode` end to end (fx trace, size estimate, core build)."""
    import ramcore.torch as rt

    model, masks = _model(name, density)
    return lambda: _size(rt.encode(model, (3, side, side), masks, weighted=True))


def topology_case(name: str, density: float, side: int):
    """The core's Topology of the graph (CSR checks, the undirected simple graph U)."""
    g = mge(name, density, side)
    tm = _topometrics_module()
    return lambda: (tm.build_topology(g), _size(g))[1]


def ramcore_group(name: str, density: float, side: int, group: str):
    """One metric group, raw values, on a prebuilt Topology, as `topometrics()` computes it."""
    g = mge(name, density, side)
    tm = _topometrics_module()
    topo, partition, first, last = tm.build_topology(g)

    def local():
        r = topo.local(partition, first, last)
        return {k: r[k] for k in ("sinks", "sources", "disconnected", "removable_out", "removable_in")}

    def neighbourhoods():
        one, two = topo.neighbourhoods()
        return {"one_hop": one, "two_hop": two}

    def connectivity():
        r = topo.connectivity()
        return {k: r[k] for k in ("components", "bridges", "articulation_points")}

    def spectral_gap():
        top = tm.topology_spectrum(topo, "adjacency", "spectral_gap")
        return {"gap": float(top[0] - top[1])}

    compute = {
        "local": local,
        "neighbourhoods": neighbourhoods,
        "motifs4": lambda: {"motifs4": int(sum(topo.motifs4().values()))},
        "kcore": lambda: {"core_number_sum": topo.core_number_sum()},
        "strength": lambda: {"strength_sum": 2.0 * topo.weight_sum()},
        "connectivity": connectivity,
        "spectral_gap": spectral_gap,
        "spectral_radius": lambda: {
            "radius": float(tm.topology_spectrum(topo, "laplacian", "spectral_radius")[0])
        },
    }[group]
    return lambda: {**_size(g), "values": compute()}


def ramcore_all(name: str, density: float, side: int):
    """The public call: all 16 metrics, Topology build included."""
    import ramcore

    g = mge(name, density, side)
    return lambda: (ramcore.topometrics(g, progress=False), _size(g))[1]


# --- networkx -------------------------------------------------------------------------------------


def _nx_graphs(g, undirected: bool):
    import networkx as nx

    d = nx.from_scipy_sparse_array(g.adjacency, create_using=nx.DiGraph)  # weight = |W|
    return d, (d.to_undirected() if undirected else None)


def nx_build(name: str, density: float, side: int):
    """networkx's graphs of the CSR: the DiGraph and its undirected copy (what the groups use)."""
    g = mge(name, density, side)
    return lambda: (_nx_graphs(g, undirected=True), _size(g))[1]


def nx_group(name: str, density: float, side: int, group: str):
    """The same raw values as `ramcore_group`, by the obvious networkx calls (scipy for spectra)."""
    import networkx as nx
    import scipy.sparse.linalg as sla

    g = mge(name, density, side)
    d, u = _nx_graphs(g, undirected=group in ("kcore", "connectivity", "spectral_gap", "spectral_radius"))
    partition, last = g.partition.tolist(), len(g.names) - 1

    def local():
        ind, outd = d.in_degree(), d.out_degree()
        sinks = [v for v in d if outd[v] == 0 and ind[v] > 0 and partition[v] != last]
        sources = [v for v in d if ind[v] == 0 and outd[v] > 0 and partition[v] != 0]
        return {
            "sinks": len(sinks),
            "sources": len(sources),
            "disconnected": sum(1 for v in d if ind[v] == 0 and outd[v] == 0),
            "removable_out": sum(outd[v] for v in sources),
            "removable_in": sum(ind[v] for v in sinks),
        }

    def neighbourhoods():
        one = two = 0
        for v in d:
            dist = nx.single_source_shortest_path_length(d, v, cutoff=2)
            one += sum(1 for k in dist.values() if k == 1)
            two += len(dist) - 1
        return {"one_hop": one, "two_hop": two}

    def connectivity():
        return {
            "components": nx.number_weakly_connected_components(d),
            "bridges": sum(1 for _ in nx.bridges(u)),
            "articulation_points": sum(1 for _ in nx.articulation_points(u)),
        }

    # ARPACK at the core's tolerance (1e-10; its default, 0, is machine precision).
    def spectral_gap():
        a = nx.to_scipy_sparse_array(u, weight="weight", format="csr")
        top = sla.eigsh(a, k=2, which="LA", tol=1e-10, return_eigenvectors=False)
        return {"gap": float(top.max() - top.min())}

    def spectral_radius():
        lap = nx.laplacian_matrix(u, weight="weight").astype(np.float64)
        return {"radius": float(sla.eigsh(lap, k=1, which="LA", tol=1e-10, return_eigenvectors=False)[0])}

    compute = {
        "local": local,
        "neighbourhoods": neighbourhoods,
        "kcore": lambda: {"core_number_sum": sum(nx.core_number(u).values())},
        "strength": lambda: {"strength_sum": sum(s for _, s in d.degree(weight="weight"))},
        "connectivity": connectivity,
        "spectral_gap": spectral_gap,
        "spectral_radius": spectral_radius,
    }[group]
    return lambda: {**_size(g), "values": compute()}


# --- motif sampling -------------------------------------------------------------------------------


def randesu(name: str, density: float, side: int, cut: tuple[float, ...] | None):
    """igraph's RAND-ESU count of connected 4-sets of U (all cuts 0 when `cut` is None: exact);
    estimate = count / prod(1 - cut). igraph's C random generator (FANMOD's is compiled too; the
    default, Python's `random`, costs more than a leaf): unseeded, so each run is a new draw."""
    import igraph as ig
    import scipy.sparse as sp

    import ramcore

    g = mge(name, density, side)
    exact = sum(ramcore.motif4_counts(g).values())
    pattern = g.adjacency != 0
    upper = sp.triu(pattern + pattern.T, k=1).tocoo()
    h = ig.Graph(n=g.num_nodes, edges=np.column_stack([upper.row, upper.col]))
    ig.set_random_number_generator(None)
    cut = (0.0,) * 4 if cut is None else cut
    kept = math.prod(1 - c for c in cut)

    def work():
        count = h.motifs_randesu_no(size=4, cut_prob=list(cut))
        return {"sampled": count, "estimate": count / kept, "exact": exact, "error": count / kept / exact - 1}

    return work


# --- cases and table ------------------------------------------------------------------------------


def _label(name: str, density: float, side: int) -> str:
    return f"{MODELS[name]} {density * 100:g}%" + ("" if side == SIDE else f" ({side}x{side} input)")


def cases(quick: bool = False, side: int = SIDE, densities: tuple[float, ...] = DENSITIES) -> list[dict]:
    """--quick: the 5 % graphs, ramcore and the sampled motif counts only. Tests pass a smaller
    input side (for ResNet-20; Conv-6's classifier needs 32x32) or lower densities."""
    out = []
    for name in MODELS:
        for density in densities[:1] if quick else densities:
            graph, args = _label(name, density, side), (name, density, side)
            out += [
                _case(graph, "ramcore encode", "encode_case", args, "encode"),
                _case(graph, "ramcore Topology", "topology_case", args, "build"),
                *(_case(graph, f"ramcore {g}", "ramcore_group", (*args, g), g) for g in GROUPS),
                _case(graph, "ramcore topometrics()", "ramcore_all", args, "all"),
            ]
            slow = {"repeat": 1, "timeout": LIMIT}  # networkx and igraph: single runs, LIMIT seconds each
            if HAVE_NETWORKX and not quick and (name, density) in NX_GRAPHS:
                out.append(_case(graph, "networkx graphs", "nx_build", args, "build", **slow))
                out += [_case(graph, f"networkx {g}", "nx_group", (*args, g), g, **slow) for g in NX_GROUPS]
            if HAVE_IGRAPH and name in MOTIF_RUNS and density == densities[0]:
                for cut in MOTIF_RUNS[name]:
                    if cut is None and (quick or name not in IGRAPH_EXACT):
                        continue
                    impl = "igraph exact" if cut is None else f"igraph RAND-ESU {list(cut)}"
                    out.append(_case(graph, impl, "randesu", (*args, cut), "motifs", cut=cut, **slow))
    return out


def _case(graph: str, impl: str, fn: str, args: tuple, group: str, **kw) -> dict:
    return {"graph": graph, "impl": impl, "fn": fn, "args": args, "group": group, **kw}


def _seconds(r: dict | None) -> str:
    if r is None:
        return ""
    return f"> {r['timeout']} s (timed out)" if r.get("timed_out") else _time(r["seconds"])


def _time(seconds: float) -> str:
    return f"{seconds:.4f}" if seconds < 1 else f"{seconds:.2f}"


def _mib(r: dict | None) -> str:
    return "" if r is None or r.get("timed_out") else f"{r['peak_bytes'] / 2**20:,.0f}"


def _ok(r: dict | None) -> bool:
    return r is not None and not r.get("timed_out")


def _ratio(x: float) -> str:
    return f"{x:.0f}x" if x >= 10 else f"{x:.1f}x"


def _difference(a: dict, b: dict) -> str:
    """Largest relative difference between two groups' raw values."""
    worst = max(abs(a[k] - b[k]) / max(abs(a[k]), abs(b[k]), 1e-300) for k in a)
    return "0" if worst == 0 else f"{worst:.0e}"


def table(results: list[dict]) -> str:
    lib = {(r["graph"], r["impl"].split()[0], r["group"]): r for r in results if r["group"] != "motifs"}
    graphs = list(dict.fromkeys(r["graph"] for r in results))
    rows = [("encode", "MGE build (`encode`)"), ("build", "graph build (Topology / DiGraph + Graph)")]
    rows += [(g, m) for g, m in GROUPS.items()] + [("all", "all 16 (`topometrics()`, with Topology)")]
    lines = [
        "| graph | metrics | ramcore s | ramcore peak MiB | networkx s | networkx peak MiB "
        "| networkx / ramcore | values differ by |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for graph in graphs:
        sized = (r["figures"] for r in results if r["graph"] == graph and _ok(r) and "nodes" in r["figures"])
        size = next(sized, None)
        for group, label in rows:
            if group == "encode" and size is not None:
                label += f": {size['nodes']:,} nodes, {size['edges']:,} edges"
            ours, theirs = lib.get((graph, "ramcore", group)), lib.get((graph, "networkx", group))
            nx_s, ratio, diff = _seconds(theirs), "", ""
            has_nx = any(k[0] == graph and k[1] == "networkx" for k in lib)
            if group == "all" and has_nx and _ok(ours):
                parts = [lib.get((graph, "networkx", g)) for g in NX_GROUPS]
                if all(_ok(p) for p in parts):  # networkx's groups added up: 15 of the 16 metrics
                    total = sum(p["seconds"] for p in parts)
                    nx_s, ratio = f"{_time(total)} (Σ, no motifs4)", _ratio(total / ours["seconds"])
            elif _ok(ours) and _ok(theirs):
                ratio = _ratio(theirs["seconds"] / ours["seconds"])
                if "values" in ours["figures"]:
                    diff = _difference(ours["figures"]["values"], theirs["figures"]["values"])
            if group == "motifs4" and has_nx:
                nx_s = "no counter"
            lines.append(
                f"| {graph} | {label} | {_seconds(ours)} "
                f"| {_mib(ours)} | {nx_s} | {_mib(theirs)} | {ratio} | {diff} |"
            )
    return "\n".join(lines) + "\n\n" + _motif_table(results, lib)


def _motif_table(results: list[dict], lib: dict) -> str:
    if not HAVE_IGRAPH:
        return "RAND-ESU rows skipped: python-igraph is not installed (`pip install igraph`, or `.[bench]`)."
    lines = [
        "| graph | method | seconds | peak MiB | count or estimate | rel. error | notes |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    sampled = [r for r in results if r["group"] == "motifs"]
    if not sampled:
        return "No RAND-ESU runs in this selection."
    for graph in dict.fromkeys(r["graph"] for r in sampled):
        ours = lib.get((graph, "ramcore", "motifs4"))
        mine = [r for r in sampled if r["graph"] == graph]
        exact = next((r["figures"]["exact"] for r in mine if _ok(r)), None)
        if _ok(ours):
            lines.append(
                f"| {graph} | ramcore exact (`motifs4`) | {_seconds(ours)} | {_mib(ours)} "
                f"| {ours['figures']['values']['motifs4']:,} | 0 | |"
            )
        if not any(r["cut"] is None for r in mine):
            # igraph's exact time, extrapolated from the unbiased run that visited the most ESU leaves
            runs = [r for r in mine if _ok(r) and r["cut"] != BIASED_CUT and r["figures"]["sampled"]]
            if runs and exact is not None:
                r = max(runs, key=lambda r: r["figures"]["sampled"])
                guess = r["seconds"] * exact / r["figures"]["sampled"]
                lines.append(
                    f"| {graph} | igraph exact | not run: extrapolated {guess:,.0f} s | | | "
                    f"| from the {list(r['cut'])} run's time per leaf |"
                )
        for r in mine:
            f = r["figures"] if _ok(r) else None
            if r["cut"] is None:
                method, note = "igraph exact (`motifs_randesu_no`)", ""
                if f is not None:
                    note = f"{'equals' if f['sampled'] == f['exact'] else 'differs from'} ramcore's count"
            else:
                method = f"RAND-ESU, cut_prob {list(r['cut'])}"
                note = f"{100 * math.prod(1 - c for c in r['cut']):.3g} % of the ESU leaves; one draw"
                if r["cut"] == BIASED_CUT:
                    note += "; interior-level cut: biased in igraph"
            estimate = "" if f is None else f"{f['estimate']:,.0f}"
            error = "" if f is None else "0" if f["error"] == 0 else f"{f['error']:+.1%}"
            cells = (graph, method, _seconds(r), _mib(r), estimate, error, note)
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
