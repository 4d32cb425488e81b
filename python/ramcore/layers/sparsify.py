"""Pruning by spectral sparsification (seed 002, Laenen 2023).

- `spec_spar(scores)`: Algorithm 1 (SpecSpar) on one layer's weighted bipartite graph: keep edge e
  with probability p_e = min(1, C log n w_e R_e / eps^2) (n vertices, R_e its effective
  resistance) and weight w_e / p_e; or, given a target `density`, the paper's practical variant
  (appendix "Implementation details"): choose eps so that the expected number of kept edges is
  the target, sample, then trim (or top up) to exactly the target with the same seed.
- `sparsify(scores)`: Algorithm 2 over a model's layers, given as a mapping name -> score matrix
  in PyTorch's weight layout; returns boolean masks with every layer's weight shape and a
  per-layer report (kept edges, lambda_2 of the normalised Laplacian before and after, seed 002
  Fig. 3, and connectivity). `scope="global"` runs Algorithm 1 once on the whole network's
  multipartite graph G_full (section 3; the "global" row of Table 1), the baseline of Lemma 3.1:
  Linear and convolutional layers in the rolled encoding of section 2.4 with the kernel entries of
  one input channel merged into that channel's vertex (`network_vertices`), so that consecutive
  layers share their channels; residual sums identify the channels they add (`inputs`,
  `ramcore.torch.layer_inputs`).

Scores: `magnitude(weights)` gives `|W|` (seed 002's magnitude score); SNIP and SynFlow scores are
computed from a model and data by `ramcore.torch` and passed here as score matrices.
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from ..interop import as_numpy, is_torch, refuse_complex, to_torch_like
from ..spectral import eigs, svds
from ..validation import check_memory, nonnegative_int, per_name, positive_real
from ..validation import density as check_density
from .bipartite import check_weights, components, dense_biadjacency, dense_connected
from .resistance import effective_resistance

__all__ = [
    "LayerReport",
    "SpecSparResult",
    "SparsifyResult",
    "chain_adjacency",
    "magnitude",
    "network_adjacency",
    "network_vertices",
    "sparsify",
    "spec_spar",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
C_SEED = 5.0  # seed 002, Algorithm 1 line 6: p_e = min(1, 5 log n l_e / eps^2)
DENSE_GRAM = 2048  # lambda_2 from a dense Gram matrix while the smaller side is this small
SMALL_EIGH = 64  # Gram matrices up to this size go to LAPACK
# scope="global" solves exactly up to this many vertices (a dense 12k x 12k inverse: 1.1 GiB). VGG-16's
# channel graph (4,237 vertices, 14.7M edges) took 13 s exact against 136 s sketched on 2 busy cores.
GLOBAL_EXACT = 12_000


def magnitude(weights: Any) -> Any:
    """`|W|` for one weight array or a mapping name -> weight (numpy or torch): the magnitude score."""
    if isinstance(weights, Mapping):
        return {name: magnitude(w) for name, w in weights.items()}
    if is_torch(weights):
        return weights.detach().abs()
    return np.abs(np.asarray(weights))


# --- one graph: Algorithm 1 -----------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SpecSparResult:
    """The sparsifier H of one layer: `mask` (kept edges), `weights` (w_e / p_e on kept edges, 0
    elsewhere) and `probabilities` p_e, all with the layer's weight shape (numpy; a torch input
    gets torch tensors on its device). epsilon: Algorithm 1's eps (chosen, for a target density;
    above 1 it is the paper's practical regime without the guarantee). kept: edges in H."""

    mask: Any = field(repr=False)
    weights: Any = field(repr=False)
    probabilities: Any = field(repr=False)
    epsilon: float
    kept: int
    edges: int
    vertices: int


def spec_spar(
    scores: Any,
    *,
    epsilon: float | None = None,
    density: float | None = None,
    C: float = C_SEED,
    seed: int | np.random.Generator = 0,
    resistance: Any = None,
) -> SpecSparResult:
    """Spectrally sparsify one layer graph (seed 002 Algorithm 1); give exactly one of
    `epsilon` (Algorithm 1 as written) or `density` (fraction of the weight's entries to keep:
    the practical variant that hits it exactly).

    scores: non-negative edge weights of the layer, shaped like its weight ((out, in) or
      (out, in, kh, kw); numpy or torch); zero entries are non-edges and never kept.
    C: the sampling constant (5 in the seed). seed: the random draws (numpy's PCG64): an int, or a
      numpy Generator to draw from (`sparsify` draws layer `name` from
      `np.random.default_rng([seed, zlib.crc32(name.encode())])`).

    resistance: precomputed `effective_resistance(scores)` (computed when None).
    """
    _one_of(epsilon, density)
    if density is not None:
        density = check_density(density, "density")
    if epsilon is not None:
        epsilon = positive_real(epsilon, "epsilon")
    if not isinstance(seed, np.random.Generator):
        seed = np.random.default_rng(nonnegative_int(seed, "seed"))
    return _spec_spar(scores, epsilon, density, positive_real(C, "C"), seed, resistance)


def _spec_spar(
    scores: Any,
    epsilon: float | None,
    density: float | None,
    c: float,
    rng: np.random.Generator,
    resistance: Any,
) -> SpecSparResult:
    refuse_complex(scores, "scores")
    torch_input = is_torch(scores)
    w_nd = as_numpy(scores) if torch_input else np.asarray(scores)
    w = dense_biadjacency(w_nd, "scores").T  # edges in the weight's entry order, for the draws
    r = as_numpy(effective_resistance(scores) if resistance is None else resistance)
    if r.size != w.size:
        raise ValueError(f"resistance must have the scores' shape {w_nd.shape}, got {r.shape}")
    mask, weights, prob, eps, kept = _sample(w, r.reshape(w.shape), sum(w.shape), epsilon, density, c, rng)
    out = [x.reshape(w_nd.shape) for x in (mask, weights, prob)]
    if torch_input:
        out = [to_torch_like(x, scores) for x in out]
    return SpecSparResult(out[0], out[1], out[2], eps, kept, int(np.count_nonzero(w)), sum(w.shape))


def _one_of(epsilon: Any, density: Any) -> None:
    if (epsilon is None) == (density is None):
        raise ValueError(
            "give exactly one of epsilon (Algorithm 1) or density (a target fraction of entries)"
        )


def _sample(
    w: FloatArray,
    r: FloatArray,
    vertices: int,
    epsilon: float | None,
    density: float | None,
    c: float,
    rng: np.random.Generator,
) -> tuple[BoolArray, FloatArray, FloatArray, float, int]:
    """Algorithm 1's draw on edge weights w with resistances r (any shape, zeros are non-edges):
    (mask, reweighted weights, probabilities, eps, kept)."""
    edge = w > 0
    lev = np.where(edge, w * np.where(edge, r, 0.0), 0.0)  # leverage l_e = w_e R_e, sum = n - #comp
    log_n = math.log(max(vertices, 2))
    if density is not None:
        d = float(density)
        if not 0 < d <= 1:
            raise ValueError(f"density must lie in (0, 1], got {density!r}")
        target = min(round(d * w.size), int(edge.sum()))
        scale = _scale_for(lev[edge], target)
        eps = math.sqrt(c * log_n / scale) if scale > 0 else math.inf
    else:
        eps = float(epsilon)  # type: ignore[arg-type]
        if not (eps > 0 and math.isfinite(eps)):
            raise ValueError(f"epsilon must be a positive number, got {epsilon!r}")
        scale = c * log_n / eps**2
    p = (lev > 0).astype(np.float64) if math.isinf(scale) else np.minimum(1.0, scale * lev)
    mask = rng.random(w.shape) < p  # Algorithm 1 line 10 (p = 0 off the edges: never kept)
    if density is not None:
        _exact_count(mask, p, target, rng)
    weights = np.where(mask, w / np.where(mask, p, 1.0), 0.0)
    return mask, weights, p, eps, int(mask.sum())


def _scale_for(lev: FloatArray, target: int) -> float:
    """The s with sum_e min(1, s l_e) = target (piecewise linear and increasing in s). At most
    `target` edges saturate, so only the `target` largest leverages are sorted."""
    pos = lev[lev > 0]
    if target <= 0:
        return 0.0
    if target >= len(pos):
        return math.inf
    top = np.sort(np.partition(pos, len(pos) - target)[len(pos) - target :])[::-1]
    tail = float(pos.sum()) - np.concatenate([[0.0], np.cumsum(top)])  # tail[t] = sum of all but the top t
    # At s = 1/top[t] the top t + 1 edges are saturated: f = t + 1 + tail[t + 1] / top[t] (increasing).
    at_breaks = np.arange(1, target + 1) + tail[1:] / top
    t = int(np.searchsorted(at_breaks, target))  # the top t saturate at the solution
    return float((target - t) / tail[t])


def _exact_count(mask: BoolArray, p: FloatArray, target: int, rng: np.random.Generator) -> None:
    """Trim a surplus uniformly among the kept edges with p_e < 1 (certain edges stay), or top
    up a shortfall among the unkept edges with probability proportional to p_e; in place."""
    flat_mask, flat_p = mask.reshape(-1), p.reshape(-1)
    surplus = int(flat_mask.sum()) - target
    if surplus > 0:
        kept = np.flatnonzero(flat_mask)
        optional, certain = kept[flat_p[kept] < 1.0], kept[flat_p[kept] >= 1.0]
        drop = rng.choice(optional, min(surplus, len(optional)), replace=False)
        if surplus > len(optional):  # only when rounding left p = 1.0 on more than target edges
            drop = np.concatenate([drop, rng.choice(certain, surplus - len(optional), replace=False)])
        flat_mask[drop] = False
    elif surplus < 0:
        pool = np.flatnonzero(~flat_mask & (flat_p > 0))
        weights = flat_p[pool] / flat_p[pool].sum()
        flat_mask[rng.choice(pool, -surplus, replace=False, p=weights)] = True


# --- a model: Algorithm 2 -------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerReport:
    """One layer of a Sparsify run. lambda2_*: the second smallest eigenvalue of the normalised
    Laplacian of the layer graph weighted by the scores (before) and of the sparsifier H, weighted
    w_e / p_e (after); 0 when the graph is disconnected (isolated neurons included), NaN when the
    Lanczos solver did not converge on a layer too large for the dense path.
    connected_*: the layer graph over all its neurons is one component.
    lambda2_largest_*: lambda_2 of the largest connected component alone (what seed 002's Fig. 3
    plots for a disconnected layer; equal to lambda2_* when connected, 0 for a single neuron), and
    components_*: the sizes of the connected components in neurons, largest first (an isolated
    neuron is a component of size 1)."""

    name: str
    shape: tuple[int, ...]
    vertices: int
    edges: int  # entries with a positive score
    kept: int
    density: float  # kept / entries
    epsilon: float
    lambda2_before: float
    lambda2_after: float
    connected_before: bool
    connected_after: bool
    isolated_after: int  # neurons without a kept edge
    lambda2_largest_before: float = math.nan
    lambda2_largest_after: float = math.nan
    components_before: tuple[int, ...] = ()
    components_after: tuple[int, ...] = ()


@dataclass(frozen=True, eq=False)
class SparsifyResult:
    """masks: name -> boolean mask with the layer's weight shape (numpy, or torch on the score's
    device); layers: name -> LayerReport (empty when report=False); scope: "layerwise" or
    "global"; density: kept / entries over all layers; seconds: wall time; weights: name -> the
    sparsifier's weights w_e / p_e (0 off the mask) when return_weights=True."""

    masks: dict[str, Any] = field(repr=False)
    layers: dict[str, LayerReport]
    scope: str
    density: float
    seconds: float
    weights: dict[str, Any] | None = field(default=None, repr=False)

    def summary(self) -> str:
        lines = [
            f"Sparsify ({self.scope}): overall density {self.density:.4%}, {self.seconds:.2f} s",
            f"{'layer':<24} {'shape':<20} {'kept':>9} {'density':>8} {'eps':>8} "
            f"{'lambda2 before':>14} {'after':>8} connected {'largest component after':>24}",
        ]
        for r in self.layers.values():
            sizes = r.components_after
            largest = f"{sizes[0] if sizes else 0} of {r.vertices}: lambda2 {r.lambda2_largest_after:.4f}"
            lines.append(
                f"{r.name:<24} {str(r.shape):<20} {r.kept:>9,} {r.density:>8.4f} {r.epsilon:>8.3g} "
                f"{r.lambda2_before:>14.4f} {r.lambda2_after:>8.4f} {r.connected_before!s:>5}->"
                f"{r.connected_after!s:<5} {largest:>24}"
            )
        return "\n".join(lines)


def sparsify(
    scores: Mapping[str, Any],
    *,
    density: float | Mapping[str, float] | None = None,
    epsilon: float | None = None,
    C: float = C_SEED,
    seed: int = 0,
    scope: str = "layerwise",
    report: bool = True,
    return_weights: bool = False,
    inputs: Mapping[str, Sequence[Source]] | None = None,
    resistance: str = "auto",
) -> SparsifyResult:
    """Prune a network by spectral sparsification (seed 002 Algorithm 2).

    scores: name -> non-negative score matrix in PyTorch's weight layout ((out, in) Linear,
      (out, in, kh, kw) Conv: the layer graph joins in*kh*kw inputs to out outputs,
      `ramcore.layers.bipartite`); numpy arrays or torch tensors (GPU tensors get their
      resistances on the GPU). Use `magnitude(weights)`, or SNIP/SynFlow scores from `ramcore.torch`.
    density: the fraction of every layer's entries to keep (one float, or name -> float), the
      seed's practical variant; or epsilon: Algorithm 1's eps for every layer.
    seed: masks are a deterministic function of the scores and the seed; each layer draws from
      its own stream keyed by its name, so adding or reordering layers leaves the others' masks.
    scope: "layerwise" (Algorithm 2) or "global" (Algorithm 1 once on the whole network's
      multipartite graph, `network_vertices`: Linear and convolutional layers, in the rolled encoding
      with one vertex per channel, a convolution's kernel entries parallel edges between its
      channels; layer i's outputs are layer i+1's inputs unless `inputs` says otherwise).

    report: compute the per-layer LayerReport (lambda_2 costs about as much as the resistances).
    return_weights: also return every layer's sparsifier weights w_e / p_e (H of Algorithm 1).

    inputs: scope="global" only: name -> the sources summed into the layer's input (layer names,
      None for the network input, (name, channel offset) for a zero-padding shortcut), for residual
      networks; `ramcore.torch.layer_inputs(model)` reads them off a model. Default: a chain.

    resistance: scope="global" only: `graph_resistance`'s method, "exact", "sketch" or "auto"
      (exact up to 12,000 vertices, the sketch beyond).
    """
    start = time.perf_counter()
    if not isinstance(scores, Mapping) or not scores:
        raise TypeError("scores must be a non-empty mapping name -> score matrix")
    if not all(isinstance(n, str) for n in scores):
        raise TypeError(f"scores must map layer names (str) to score matrices, got keys {list(scores)!r}")
    for name, s in scores.items():
        shape = tuple(getattr(s, "shape", ()))
        if len(shape) >= 2 and math.prod(shape) == 0:
            raise ValueError(f"scores[{name!r}] has shape {shape}: a layer without entries cannot be pruned")
    if scope not in ("layerwise", "global"):
        raise ValueError(f"scope must be 'layerwise' or 'global', got {scope!r}")
    _one_of(epsilon, density)
    c, base = positive_real(C, "C"), nonnegative_int(seed, "seed")
    if isinstance(density, Mapping) and scope == "layerwise":  # a misspelt layer must not be ignored
        density = per_name(density, [str(n) for n in scores], "density", check_density)
    elif density is not None and not isinstance(density, Mapping):
        density = check_density(density, "density")
    if epsilon is not None:
        epsilon = positive_real(epsilon, "epsilon")
    if scope == "layerwise" and inputs is not None:
        raise ValueError("inputs describes the network's graph for scope='global'; layerwise does not use it")
    if resistance not in ("auto", "exact", "sketch"):
        raise ValueError(f"resistance must be 'auto', 'exact' or 'sketch', got {resistance!r}")
    if scope == "global":
        if isinstance(density, Mapping):
            raise ValueError("scope='global' takes one density for the whole network")
        masks, reports, weights = _global(scores, epsilon, density, c, base, report, inputs, resistance)
    else:
        masks, reports, weights = {}, {}, {}
        for name, s in scores.items():
            d = density.get(name) if isinstance(density, Mapping) else density
            if isinstance(density, Mapping) and d is None:
                raise ValueError(f"density has no entry for layer {name!r}")
            rng = np.random.default_rng([base, zlib.crc32(name.encode())])
            res = _spec_spar(s, epsilon, d, c, rng, None)
            masks[name] = res.mask
            weights[name] = res.weights
            if report:
                reports[name] = _report(name, s, res.mask, res.weights, res.epsilon)
    total = sum(int(np.prod(tuple(s.shape))) for s in scores.values())
    kept = sum(int(as_numpy(m).sum()) for m in masks.values())
    density_kept = kept / total if total else 0.0
    seconds = time.perf_counter() - start
    return SparsifyResult(masks, reports, scope, density_kept, seconds, weights if return_weights else None)


def _report(name: str, scores: Any, mask: Any, weights: Any, eps: float) -> LayerReport:
    w = dense_biadjacency(as_numpy(scores), "scores")
    h = dense_biadjacency(as_numpy(weights), "weights")
    m = dense_biadjacency(as_numpy(mask), "mask") > 0
    shape = tuple(int(x) for x in scores.shape)
    lam_g, conn_g = _lambda2(w)
    lam_h, conn_h = _lambda2(h)
    largest_g, sizes_g = _largest_component_lambda2(w, lam_g, conn_g)
    largest_h, sizes_h = _largest_component_lambda2(h, lam_h, conn_h)
    isolated = int((~m.any(axis=1)).sum() + (~m.any(axis=0)).sum())
    kept = int(m.sum())
    return LayerReport(
        name, shape, sum(w.shape), int(np.count_nonzero(w)), kept, kept / w.size, eps,
        lam_g, lam_h, conn_g, conn_h, isolated, largest_g, largest_h, sizes_g, sizes_h,
    )  # fmt: skip


def _largest_component_lambda2(w: FloatArray, lam: float, connected: bool) -> tuple[float, tuple[int, ...]]:
    """(lambda_2 of the largest connected component, the component sizes largest first) of the
    bipartite graph with biadjacency w. Seed 002's Fig. 3 plots lambda_2 of the largest component
    of a disconnected layer, where the whole graph's lambda_2 is 0."""
    if connected:
        return lam, (sum(w.shape),)
    count, rows, cols = components(w != 0)
    sizes = np.bincount(np.concatenate([rows, cols]), minlength=count)
    big = int(np.argmax(sizes))  # the first of the largest, in label order
    sub = w[np.ix_(rows == big, cols == big)]
    lam_big = _lambda2(sub)[0] if sub.size else 0.0  # one isolated neuron: lambda_2 of K_1 is 0
    return lam_big, tuple(int(x) for x in np.sort(sizes)[::-1])


def _lambda2(w: FloatArray) -> tuple[float, bool]:
    """(lambda_2 of the normalised Laplacian, connected) of the bipartite graph with biadjacency w.

    Its eigenvalues are 1 -+ sigma_i for the singular values sigma_i of N = D_r^-1/2 W D_c^-1/2
    (sigma_1 = 1), and 1 for the |m - n| remaining dimensions: lambda_2 = 1 - sigma_2 (or 1 when a
    side has one vertex, 2 for a single edge). An isolated neuron adds an eigenvalue 0.
    """
    m, n = w.shape
    nz = w != 0
    dr, dc = w.sum(axis=1), w.sum(axis=0)
    if m + n < 2:
        return 0.0, m + n == 1
    if (dr == 0).any() or (dc == 0).any():
        return 0.0, False
    sparse = nz.mean() < 0.25
    if not dense_connected(nz) and components(nz)[0] > 1:
        return 0.0, False
    if min(m, n) == 1:
        return (1.0 if max(m, n) > 1 else 2.0), True
    rs, cs = 1 / np.sqrt(dr), 1 / np.sqrt(dc)
    if sparse:
        nmat = sp.csr_array(sp.diags_array(rs) @ sp.csr_array(w) @ sp.diags_array(cs))
        if min(m, n) > DENSE_GRAM:
            res = svds(nmat, 2, tol=1e-10)
            return (max(1.0 - float(res.values[1]), 0.0) if res.converged else math.nan), True
        gram = (nmat.T @ nmat if n <= m else nmat @ nmat.T).toarray()
    else:
        nd = w * rs[:, None] * cs[None, :]
        gram = nd.T @ nd if n <= m else nd @ nd.T
    return max(1.0 - math.sqrt(max(_second_largest(gram), 0.0)), 0.0), True


def _second_largest(gram: Any) -> float:
    """The second largest eigenvalue of a small dense symmetric matrix: LAPACK for tiny ones,
    ramcore's Lanczos above (measured on 512 x 512 on a busy 2-core machine: 0.2 s against 5 s
    for LAPACK's eigvalsh, whose BLAS threads stall when the cores are shared)."""
    if gram.shape[0] <= SMALL_EIGH:
        return float(np.linalg.eigvalsh(gram)[-2])
    res = eigs(gram, 2, which="LA")
    return float(res.values[1]) if res.converged else float(np.linalg.eigvalsh(gram)[-2])


# --- the whole network: Algorithm 1 on the multipartite graph ------------------------------------


Source = Any  # a layer name, None (the network input), or (name or None, channel offset)


def network_vertices(
    scores: Mapping[str, Any], inputs: Mapping[str, Sequence[Source]] | None = None
) -> tuple[int, dict[str, IntArray], dict[str, IntArray]]:
    """The vertices of a network's multipartite graph in the rolled, channel-merged encoding used
    by `sparsify(scope="global")`: (number of vertices, name -> vertex of every input unit,
    name -> vertex of every output unit).

    A vertex is a channel of an activation tensor (a feature for Linear layers). A convolution's
    (out, in, kh, kw) kernel joins input channel i to output channel o with kh*kw parallel edges,
    one per kernel entry: seed 002's rolled layer graph (section 2.4: K_h K_w C_in vertices on the
    left, C_out on the right) with the K_h K_w vertices of one input channel merged into that
    channel's vertex, so that layer i's outputs are layer i+1's inputs, as in the seed's l-partite graph
    G_full = union of the G_i (section 3). A Linear layer reading the flattened C x m map of a
    convolution joins feature j to channel j // m (PyTorch's channel-major flatten).

    inputs: name -> the sources summed into the layer's input tensor, each a layer name (its
      output), None (the network input) or a pair (source, offset) placing the source's channel c
      at input channel c + offset (a zero-padding shortcut). A sum identifies channel c of every
      summand (an identity shortcut is a wire: zero resistance). Default: a chain, every layer
      reads the previous one's output and the first reads the network input.

    Vertices are numbered in order of first appearance, layer by layer, a layer's inputs before
    its outputs (a chain: the network input, then every layer's outputs).
    """
    names = list(scores)
    shapes = {}
    for name in names:
        shape = tuple(int(x) for x in getattr(scores[name], "shape", ()))
        if len(shape) < 2:
            raise ValueError(f"scores[{name!r}] must be (out, in) or (out, in, *kernel), got shape {shape}")
        shapes[name] = shape
    if inputs is None:
        inputs = {n: [names[i - 1] if i else None] for i, n in enumerate(names)}
    elif not isinstance(inputs, Mapping):
        raise TypeError(f"inputs must be a mapping name -> sequence of sources, got {type(inputs).__name__}")
    missing = [n for n in names if n not in inputs]
    extra = [n for n in inputs if n not in shapes]
    if missing or extra:
        raise ValueError(
            f"inputs must name every layer of scores exactly: missing {missing}, unknown {extra}"
        )
    parent: list[int] = []

    def fresh(size: int) -> int:
        parent.extend(range(len(parent), len(parent) + size))
        return len(parent) - size

    def find(v: int) -> int:
        while parent[v] != v:
            parent[v] = parent[parent[v]]
            v = parent[v]
        return v

    out_first = {n: fresh(shapes[n][0]) for n in names}  # output channels, in layer order
    net_in: list[int] = []  # the network input's channels, grown as readers need them
    in_first: dict[str, int] = {}
    groups: dict[str, int] = {}
    for name in names:
        srcs = inputs[name]
        if isinstance(srcs, (str, tuple)) or srcs is None or not isinstance(srcs, Sequence) or not srcs:
            raise TypeError(f"inputs[{name!r}] must be a non-empty list of sources, got {srcs!r}")
        pairs = [s if isinstance(s, tuple) else (s, 0) for s in srcs]
        for src, off in pairs:
            bad_offset = isinstance(off, bool) or not isinstance(off, int) or off < 0 or (src is None and off)
            if not (src is None or src in shapes) or bad_offset:
                raise ValueError(
                    f"inputs[{name!r}]: a source is a layer name of scores, None (the network input) or "
                    f"(layer name, non-negative int offset), got {(src, off)!r}"
                )
        conv = all(src is not None and len(shapes[src]) > 2 for src, _ in pairs)
        width = max(off + (shapes[src][0] if src is not None else 0) for src, off in pairs)
        if width == 0:  # reads the network input only: one vertex per input unit
            width = shapes[name][1]
        units = shapes[name][1]
        if len(shapes[name]) == 2 and conv and units != width:
            if units % width:
                raise ValueError(
                    f"inputs[{name!r}]: {units} input features are not a flatten of the {width} "
                    "source channels"
                )
            groups[name] = units // width
        elif units != width:
            raise ValueError(
                f"inputs[{name!r}]: the layer has {units} input channels but its sources give {width} "
                "(grouped convolutions are not supported)"
            )
        else:
            groups[name] = 1
        first = fresh(width)
        in_first[name] = first
        for src, off in pairs:
            if src is None:  # the network input: as many channels as the layer reads
                while len(net_in) < width:
                    net_in.append(fresh(1))
                for ch in range(width):
                    parent[find(first + ch)] = find(net_in[ch])
                continue
            for c in range(shapes[src][0]):
                parent[find(first + off + c)] = find(out_first[src] + c)
    roots = np.array([find(v) for v in range(len(parent))])
    # number the vertices in order of first appearance: layer by layer, its inputs then its outputs
    order = np.concatenate(
        [r for n in names for r in (
            roots[in_first[n] : in_first[n] + shapes[n][1] // groups[n]],
            roots[out_first[n] : out_first[n] + shapes[n][0]],
        )]
    )  # fmt: skip
    used, first_seen = np.unique(order, return_index=True)
    index = np.full(len(parent), -1, dtype=np.int64)
    index[used] = np.argsort(np.argsort(first_seen))
    ins, outs = {}, {}
    for name in names:
        outs[name] = index[roots[out_first[name] : out_first[name] + shapes[name][0]]]
        channels = index[roots[in_first[name] : in_first[name] + shapes[name][1] // groups[name]]]
        ins[name] = np.repeat(channels, groups[name])
        if np.intersect1d(ins[name], outs[name]).size:
            raise ValueError(
                f"inputs: layer {name!r} reads a channel it writes (a residual sum around a single "
                "layer); its edges would be self-loops"
            )
    return len(used), ins, outs


def network_adjacency(
    scores: Mapping[str, Any], inputs: Mapping[str, Sequence[Source]] | None = None
) -> tuple[sp.csr_array, dict[str, IntArray], dict[str, IntArray]]:
    """(symmetric adjacency, input vertices, output vertices) of the network's multipartite graph
    (`network_vertices`): the conductance between two vertices is the sum of the scores of the
    parallel edges joining them (kernel entries and flattened positions of one channel, and
    layers joining the same channels across a residual sum)."""
    n, ins, outs = network_vertices(scores, inputs)
    rows, cols, vals = [], [], []
    for name, s in scores.items():
        w = _layer_scores(name, s)
        blocks = w.reshape(w.shape[0], w.shape[1], -1).sum(axis=2)  # (out, in units)
        o, i = np.nonzero(blocks)
        rows.append(outs[name][o])
        cols.append(ins[name][i])
        vals.append(blocks[o, i])
    r, c, v = (np.concatenate(x) for x in (rows, cols, vals))
    a = sp.coo_array((np.concatenate([v, v]), (np.concatenate([r, c]), np.concatenate([c, r]))), shape=(n, n))
    return sp.csr_array(a), ins, outs  # csr sums the duplicates: parallel edges add conductances


def _layer_scores(name: str, s: Any) -> FloatArray:
    arr = np.asarray(as_numpy(s), dtype=np.float64)
    check_weights(arr.reshape(arr.shape[0], -1), f"scores[{name!r}]")
    return arr


def chain_adjacency(mats: list[FloatArray], offsets: list[int]) -> sp.csr_array:
    """Symmetric adjacency of the network: layer i joins vertices offsets[i] + in to
    offsets[i + 1] + out (seed 002 section 3: G = union of the layer graphs)."""
    n = offsets[-1] + mats[-1].shape[0]
    rows, cols, vals = [], [], []
    for mat, off in zip(mats, offsets):
        o, i = np.nonzero(mat)
        rows.append(off + i)
        cols.append(off + mat.shape[1] + o)
        vals.append(mat[o, i])
    r, c, v = (np.concatenate(x) for x in (rows, cols, vals))
    a = sp.coo_array((np.concatenate([v, v]), (np.concatenate([r, c]), np.concatenate([c, r]))), shape=(n, n))
    return sp.csr_array(a)


def _global(
    scores: Mapping[str, Any],
    epsilon: float | None,
    density: float | None,
    c: float,
    seed: int,
    report: bool,
    inputs: Mapping[str, Sequence[Source]] | None,
    resistance: str,
) -> tuple[dict[str, Any], dict[str, LayerReport], dict[str, Any]]:
    from ..resistance import graph_resistance  # general graphs; imported here, as it imports this package

    names = list(scores)
    total = sum(math.prod(tuple(int(x) for x in scores[n].shape)) for n in names)
    # about ten float64 arrays of one value per weight at the peak (scores twice, resistances and their
    # concatenation, leverages, probabilities, draws, reweighted weights) and the mask
    check_memory(81 * total, f"scope='global' on {total:,} weights", "use scope='layerwise'")
    a, ins, outs = network_adjacency(scores, inputs)
    if resistance == "auto":  # channel graphs are small and dense-ish: exact is far cheaper than the sketch
        resistance = "exact" if a.shape[0] <= GLOBAL_EXACT else "sketch"
    r_full = graph_resistance(a, method=resistance).as_matrix()  # exact checks its memory first
    mats = [_layer_scores(n, scores[n]) for n in names]
    r_parts = []
    for name, mat in zip(names, mats):
        units, first = np.unique(ins[name], return_index=True)
        block = r_full[outs[name]][:, units].toarray()  # R between every output and input vertex
        col = np.searchsorted(units, ins[name])
        r = block[:, col]  # (out, in): resistance of the vertex pair of every entry
        r_parts.append(np.broadcast_to(r.reshape(r.shape + (1,) * (mat.ndim - 2)), mat.shape).reshape(-1))
    w_all = np.concatenate([m.reshape(-1) for m in mats])
    r_all = np.concatenate(r_parts)
    rng = np.random.default_rng([seed])
    # All edges of the network in one draw, layer after layer, each in its weight's entry order.
    mask, weights, _, eps, _ = _sample(w_all, r_all, a.shape[0], epsilon, density, c, rng)
    masks: dict[str, Any] = {}
    reports: dict[str, LayerReport] = {}
    out_weights: dict[str, Any] = {}
    start = 0
    for name, mat in zip(names, mats):
        size = mat.size
        mk = mask[start : start + size].reshape(mat.shape)
        wk = weights[start : start + size].reshape(mat.shape)
        start += size
        s = scores[name]
        torch_input = is_torch(s)
        masks[name] = to_torch_like(mk, s) if torch_input else mk
        out_weights[name] = to_torch_like(wk, s) if torch_input else wk
        if report:
            reports[name] = _report(name, s, mk, wk, eps)
    return masks, reports, out_weights
