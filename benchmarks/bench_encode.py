"""Unrolled graph encodings of whole networks (seed 004): ResNet-20 and Conv-6 on 32x32 inputs with
random masks at 5 % and 20 % density, all threads and one thread. Mask making is not timed; the time
is `ramcore.torch.encode` end to end (fx trace, size estimate, core build, csr_array)."""

from __future__ import annotations

TITLE = "Graph encodings of whole networks"
MODELS = {"resnet20": "ResNet-20", "conv-6": "Conv-6"}


def encode_model(name: str, density: float, threads: int):
    import torch

    import ramcore.torch as rt
    from ramcore.torch import zoo

    torch.manual_seed(0)
    model = zoo.create(name)
    masks = rt.make_masks(model, "random", density, seed=0)
    shape = zoo.input_shape(name)

    def work():
        g = rt.encode(model, shape, masks, threads=threads)
        a = g.adjacency
        return {
            "nodes": g.num_nodes,
            "edges": g.num_edges,
            "partitions": len(g.names),
            "csr_bytes": a.indptr.nbytes + a.indices.nbytes + a.data.nbytes,
        }

    return work


def cases(quick: bool = False) -> list[dict]:
    out = []
    for name, label in MODELS.items():
        for density in (0.05, 0.2):
            for threads, impl in ((0, "ramcore"), (1, "ramcore 1 thread")):
                graph = f"{label} {density:.0%}"
                out.append(
                    {"graph": graph, "impl": impl, "fn": "encode_model", "args": (name, density, threads)}
                )
    return out


def table(results: list[dict]) -> str:
    one = {r["graph"]: r["seconds"] for r in results if r["impl"] == "ramcore 1 thread"}
    lines = [
        "| model, density | implementation | partitions | nodes | edges | seconds | M edges/s | peak MiB "
        "| CSR MiB | 1 thread / this |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        f = r["figures"]
        lines.append(
            f"| {r['graph']} | {r['impl']} | {f['partitions']} | {f['nodes']:,} | {f['edges']:,} "
            f"| {r['seconds']:.3f} | {f['edges'] / r['seconds'] / 1e6:.0f} | {r['peak_bytes'] / 2**20:,.0f} "
            f"| {f['csr_bytes'] / 2**20:,.0f} | {one[r['graph']] / r['seconds']:.1f}x |"
        )
    return "\n".join(lines)
