"""`ramcore topometrics`: a zoo model's masked network encoded, and its 16 topometrics (seed 004)."""

from __future__ import annotations

import time

import torch

from ..topometrics import NORMALIZATION, topometrics
from ..torch import encode, make_masks, zoo

__all__ = ["zoo_topometrics"]


def zoo_topometrics(
    model_name: str,
    *,
    method: str = "random",
    density: float = 0.05,
    encoding: str = "unrolled",
    weighted: bool = False,
    raw: bool = False,
    seed: int = 0,
    threads: int | None = None,
) -> int:
    """Mask the zoo model `model_name` with `make_masks(method, density)` (SNIP-like methods score
    a random batch of 64), encode it and print the topometrics (normalised unless `raw`); progress
    on stderr (a bar on a terminal, status lines elsewhere)."""
    if model_name not in zoo.MODELS:
        raise ValueError(f"unknown model {model_name!r}; zoo models: {', '.join(zoo.MODELS)}")
    torch.manual_seed(seed)
    model = zoo.create(model_name)
    shape = zoo.input_shape(model_name)
    g = torch.Generator().manual_seed(seed)
    batch = (torch.randn(64, *shape, generator=g), torch.randint(0, 10, (64,), generator=g))
    start = time.perf_counter()
    masks = make_masks(model, method, density, data=batch, input_shape=shape, seed=seed, progress=True)
    made = time.perf_counter()
    graph = encode(model, shape, masks, encoding=encoding, weighted=weighted, threads=threads)
    graphs = graph if isinstance(graph, tuple) else (graph,)
    built = time.perf_counter()
    rows = [topometrics(gr, normalized=not raw, threads=threads, progress=True) for gr in graphs]
    done = time.perf_counter()
    nodes, edges = sum(gr.num_nodes for gr in graphs), sum(gr.num_edges for gr in graphs)
    print(f"{model_name}, {method} masks at density {masks.density:.4f}, input {shape}")
    what = "one graph" if len(graphs) == 1 else f"{len(graphs)} layer graphs, metrics averaged"
    print(f"{encoding} encoding: {nodes:,} nodes, {edges:,} edges ({what})")
    print(f"masks {made - start:.2f} s, encoding {built - made:.2f} s, topometrics {done - built:.2f} s")
    per = {"nodes": "/ |V|", "edges": "/ |E|", None: "raw"}
    for key in rows[0]:
        value = sum(r[key] for r in rows) / len(rows)
        kind = "raw" if raw else per[NORMALIZATION[key]]
        print(f"  {key:16s} {value:<14.6g} ({kind})")
    return 0
