"""The `ramanujan` fit against seed 000's blocks and the bi-regular bound (issue 16).

- Seed 000, Table 7: each layer shape at the paper's own edge budget (q^2 l edges), the paper's
  block B(q, l) with its dead neurons beside ramcore's fit (every neuron connected): sigma_2, the
  bi-regular bound with the layer's average degrees, seed 001's Delta_S / Delta_R.
- Seed 000, Table 2: a 4096 x 4096 layer at 73,440 edges (0.44 %).
- Every piece of the 13 zoo models at 2, 5 and 10 %, under the uniform and the default (ER)
  allocations: how many meet the bound, how many cannot be connected (fewer than rows + cols - 1
  edges, or fewer than one per neuron), and the others, listed.
"""

from __future__ import annotations

import math

TITLE = "The Ramanujan fit against seed 000 and the bound"
TABLE_7 = (
    (256, 256, 3), (512, 256, 3), (512, 512, 3), (384, 256, 3), (384, 384, 3), (256, 384, 3),
    (64, 64, 3), (128, 64, 3), (128, 128, 3), (256, 128, 3), (2448, 25088, 1),
)  # fmt: skip
ZOO_DENSITIES = (0.02, 0.05, 0.1)


def _figures(**kw):
    return {"rows": None, **kw}


def _row(mask, gap) -> dict:
    edges = int(mask.sum())
    rows, cols = mask.shape
    bound = math.sqrt(edges / rows - 1) + math.sqrt(edges / cols - 1)
    return {"t2": gap.t2, "bound": bound, "ds": gap.delta_s, "dr": gap.delta_r}


def table_7(c_out: int, c_in: int, k: int):
    from ramcore.layers import ramanujan_gap
    from ramcore.layers.masks import biswas_mask, ramanujan_mask

    rows, cols = c_in * k * k, c_out

    def work():
        block, info = biswas_mask(rows, cols)
        mask, fit = ramanujan_mask(rows, cols, block.sum() / (rows * cols))
        dead = int((~mask.any(0)).sum() + (~mask.any(1)).sum())
        return _figures(
            paper={**_row(block, ramanujan_gap(block, layout="biadjacency")), **info.params},
            fit={**_row(mask, ramanujan_gap(mask, layout="biadjacency")), "how": _how(fit), "dead": dead},
            edges=int(block.sum()),
        )

    return work


def _how(info) -> str:
    params = ", ".join(f"{k} = {v}" for k, v in info.params.items())
    return f"{info.construction} ({params})" if params else info.construction


def table_2():
    from ramcore.layers import ramanujan_gap
    from ramcore.layers.masks import ramanujan_mask

    def work():
        mask, fit = ramanujan_mask(4096, 4096, 73440 / 4096**2)
        return _figures(fit={**_row(mask, ramanujan_gap(mask, layout="biadjacency")), "how": _how(fit)})

    return work


def zoo_pieces():
    """Every distinct (rows, cols, edges) piece of the zoo models at ZOO_DENSITIES, uniform and ER."""
    import torch

    torch.set_num_threads(2)
    from ramcore.layers import ramanujan_gap
    from ramcore.layers.masks import exact_count, ramanujan_mask
    from ramcore.torch import zoo
    from ramcore.torch.masks import allocate_density
    from ramcore.torch.targets import mask_targets

    def work():
        pieces: dict[tuple[int, int, int], str] = {}
        for name in zoo.MODELS:
            targets = mask_targets(zoo.create(name))
            for density in ZOO_DENSITIES:
                for allocation in ("uniform", "er"):
                    per_layer = allocate_density(targets, density, allocation)
                    for t in targets:
                        rows, cols = t.piece_shape
                        if per_layer[t.name] < 1:
                            key = (rows, cols, exact_count(rows, cols, per_layer[t.name]))
                            pieces.setdefault(key, f"{name} {t.name} {density:.0%} {allocation}")
        counts = {"pieces": len(pieces), "ramanujan": 0, "too few edges": 0, "cannot be connected": 0}
        misses = []
        for (rows, cols, edges), where in sorted(pieces.items()):
            if edges < max(rows, cols):
                counts["too few edges"] += 1
                continue
            if edges < rows + cols - 1:
                counts["cannot be connected"] += 1
                continue
            mask, _ = ramanujan_mask(rows, cols, edges / (rows * cols))
            row = _row(mask, ramanujan_gap(mask, layout="biadjacency"))
            if row["dr"] >= 0:
                counts["ramanujan"] += 1
            else:
                misses.append({"rows": rows, "cols": cols, "edges": edges, "where": where, **row})
        return _figures(counts=counts, misses=misses)

    return work


def cases(quick: bool = False) -> list[dict]:
    out = [
        {"graph": f"{c_out} x {c_in} x {k} x {k}", "impl": "table 7", "fn": "table_7",
         "args": (c_out, c_in, k), "repeat": 1}
        for c_out, c_in, k in TABLE_7
        if not (quick and c_in > 1000)
    ]  # fmt: skip
    out.append({"graph": "4096 x 4096", "impl": "table 2", "fn": "table_2", "args": (), "repeat": 1})
    if not quick:
        zoo = {"graph": "zoo (13 models)", "impl": "every piece", "fn": "zoo_pieces", "args": (), "repeat": 1}
        out.append(zoo)
    return out


def table(results: list[dict]) -> str:
    parts = []
    t7 = [r for r in results if r["fn"] == "table_7"]
    if t7:
        lines = [
            "| layer (out × in × k × k) | q, l | edges | dead in/out | paper σ₂ | ΔS | ΔR "
            "| fit | fit σ₂ | bound | ΔS | ΔR | fit s |",
            "|---|---|---:|---|---:|---:|---:|---|---:|---:|---:|---:|---:|",
        ]
        for r in t7:
            c_out, c_in, k = r["args"]
            p, f = r["figures"]["paper"], r["figures"]["fit"]
            shape = f"{c_out} × {c_in} × {k} × {k}" if k > 1 else f"{c_out} × {c_in}"
            lines.append(
                f"| {shape} | {p['q']}, {p['l']} | {r['figures']['edges']:,} "
                f"| {p['dead_inputs']}/{p['dead_outputs']} | {p['t2']:.2f} | {p['ds']:.3f} | {p['dr']:.3f} "
                f"| {f['how']} | {f['t2']:.2f} | {f['bound']:.2f} | {f['ds']:.3f} | {f['dr']:.3f} "
                f"| {r['seconds']:.1f} |"
            )
        parts.append("\n".join(lines))
    for r in results:
        if r["fn"] == "table_2":
            f = r["figures"]["fit"]
            parts.append(
                f"Table 2 (4096 × 4096, 73,440 edges): fit {f['how']}, σ₂ {f['t2']:.3f}, "
                f"bound {f['bound']:.3f}, ΔS {f['ds']:.4f}, ΔR {f['dr']:.4f} ({r['seconds']:.1f} s)."
            )
        if r["fn"] == "zoo_pieces":
            c = r["figures"]["counts"]
            text = (
                f"Zoo (13 models, 2/5/10 %, uniform and ER): {c['pieces']} distinct pieces; "
                f"{c['ramanujan']} meet the bound, {c['too few edges']} have fewer edges than neurons, "
                f"{c['cannot be connected']} fewer than rows + cols − 1 (no connected graph exists), "
                f"{len(r['figures']['misses'])} miss it ({r['seconds']:.0f} s)"
            )
            if not r["figures"]["misses"]:
                parts.append(text + ".")
                continue
            head = "| piece (rows × cols) | edges | d_in / d_out | fit σ₂ | bound | first seen |"
            lines = [text + ":", "", head, "|---|---:|---|---:|---:|---|"]
            for m in r["figures"]["misses"]:
                lines.append(
                    f"| {m['rows']} × {m['cols']} | {m['edges']} | {m['edges'] / m['rows']:.2f} / "
                    f"{m['edges'] / m['cols']:.2f} | {m['t2']:.3f} | {m['bound']:.3f} | {m['where']} |"
                )
            parts.append("\n".join(lines))
    return "\n\n".join(parts)
