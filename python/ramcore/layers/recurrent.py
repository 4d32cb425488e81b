"""The time-unrolled graph of a stack of recurrent layers (seed 003, section 2 and Figure 2).

Seed 003 ("Graph expansion in pruned recurrent neural network layers preserves performance") makes a
recurrent network acyclic by unfolding it over the time steps: "the weights are copied over the time
steps, and only the hidden state and the input values change". `unrolled_recurrent_graph` builds that
graph from the masks (or `|W|` ⊙ mask) of every layer's W_ih and W_hh, torch-free; the PyTorch
adapter is `ramcore.torch.recurrent.encode_recurrent`.

Nodes and partitions, for `steps` = T, L layers, D directions (2 when bidirectional):

- partition 0, "input": the T * n_in input values, node t * n_in + i = x_t[i];
- then, for each layer l, direction d and step in processing order (t = 0 .. T - 1 forward,
  T - 1 .. 0 for the reverse direction), the H hidden units h^(l,d)_t, named "l{l}.t{t}" (reverse:
  "l{l}_reverse.t{t}"), each name prefixed by `prefix`.

Edges (j a hidden unit of h^(l,d)_t):

- u -> j for every input u of layer l at step t (x_t for l = 0; for l > 0 the outputs of layer
  l - 1 at step t, the forward direction's H units then the reverse's) where some gate's W_ih keeps
  the entry (g H + j, u);
- k -> j from h^(l,d) of the previous step in processing order (t - 1 forward, t + 1 reverse) where
  some gate's W_hh keeps (g H + j, k). The initial state h_0 = 0 carries no data and has no nodes,
  as padding has none in seed 004's encoding;
- with `carry=True`, also k -> k between consecutive steps: the elementwise path of an LSTM's cell
  state (c_t = f ⊙ c_(t-1) + ...) and of a GRU's update (h_t = ... + z ⊙ h_(t-1)), which has no weight.

The G gate blocks of a weight merge into one edge per (input, hidden unit) pair, since every gate of
unit j feeds h_t[j]: unweighted the edge is 1, weighted it carries the sum over the gates of `|W|`
(parallel edges summed, as overlapping pooling windows are in seed 004's encoding), a carry edge
adding 1. Every edge points to a later partition, so the result is a `MultipartiteGraph`
(encoding "recurrent") on which the topometrics run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from ..multipartite import MultipartiteGraph
from ..validation import check_memory, format_bytes, positive_int

__all__ = ["RecurrentSize", "recurrent_size", "unrolled_recurrent_graph"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BYTES_PER_EDGE = 64  # COO triplets (int64, int64, float64), their concatenation and the CSR copy
BYTES_PER_NODE = 16  # partition labels, CSR row pointers


@dataclass(frozen=True)
class RecurrentSize:
    """Nodes, edges (exact) and bytes of an unrolled recurrent graph, known before it is built."""

    nodes: int
    edges: int
    bytes: int


def _merged(matrix: Any, gates: int, name: str) -> sp.coo_array:
    """Sum of the gate blocks of a (gates * H, n) weight: one (H, n) matrix, edge (j, u) if any gate
    keeps it (its `|W|` summed over the gates)."""
    a = np.abs(np.asarray(matrix, dtype=np.float64))
    if a.ndim != 2 or a.shape[0] % gates:
        raise ValueError(f"{name}: expected a 2-d (gates * hidden, inputs) array, got shape {a.shape}")
    hidden = a.shape[0] // gates
    return sp.coo_array(a.reshape(gates, hidden, a.shape[1]).sum(axis=0))


def _check(
    ih: Sequence[Any], hh: Sequence[Any], steps: int, gates: int, bidirectional: bool
) -> tuple[list[sp.coo_array], list[sp.coo_array], int, int, int]:
    steps, gates = positive_int(steps, "steps"), positive_int(gates, "gates")
    dirs = 2 if bidirectional else 1
    if len(ih) != len(hh) or not ih or len(ih) % dirs:
        raise ValueError(
            f"ih and hh: one weight per layer and direction ({dirs} per layer), got {len(ih)} and {len(hh)}"
        )
    mi = [_merged(m, gates, f"ih[{k}]") for k, m in enumerate(ih)]
    mh = [_merged(m, gates, f"hh[{k}]") for k, m in enumerate(hh)]
    hidden = mi[0].shape[0]
    for k in range(len(mi)):
        layer = k // dirs
        n_in = mi[0].shape[1] if layer == 0 else dirs * hidden
        if mi[k].shape != (hidden, n_in) or mh[k].shape != (hidden, hidden):
            got = f"{(gates * mi[k].shape[0], mi[k].shape[1])}, {(gates * mh[k].shape[0], mh[k].shape[1])}"
            raise ValueError(
                f"ih[{k}] / hh[{k}]: expected ({gates * hidden}, {n_in}) and ({gates * hidden}, {hidden}), "
                f"got {got}"
            )
    return mi, mh, steps, hidden, dirs


def _size(
    mi: list[sp.coo_array], mh: list[sp.coo_array], steps: int, hidden: int, carry: bool
) -> RecurrentSize:
    nodes = steps * mi[0].shape[1] + len(mi) * steps * hidden
    edges = 0
    for a, b in zip(mi, mh):
        hh_edges = b.nnz
        if carry:  # the diagonal joins the kept W_hh entries (k, k) or adds to them
            hh_edges += hidden - int(np.count_nonzero(b.row == b.col))
        edges += steps * a.nnz + (steps - 1) * hh_edges
    return RecurrentSize(nodes, edges, BYTES_PER_EDGE * edges + BYTES_PER_NODE * nodes)


def recurrent_size(
    ih: Sequence[Any], hh: Sequence[Any], steps: int, *, gates: int = 1, bidirectional: bool = False,
    carry: bool = False,
) -> RecurrentSize:  # fmt: skip
    """Nodes, edges and bytes of `unrolled_recurrent_graph(ih, hh, steps, ...)`, without building it."""
    mi, mh, steps, hidden, _ = _check(ih, hh, steps, gates, bidirectional)
    return _size(mi, mh, steps, hidden, bool(carry))


def unrolled_recurrent_graph(
    ih: Sequence[Any],
    hh: Sequence[Any],
    steps: int,
    *,
    gates: int = 1,
    bidirectional: bool = False,
    carry: bool = False,
    weighted: bool = False,
    prefix: str = "",
    max_bytes: int | None = None,
) -> MultipartiteGraph:
    """The recurrent stack unrolled over `steps` time steps (module docstring).

    ih, hh: per layer and direction (in `torch.nn.LSTM`'s order: layer 0 forward, layer 0 reverse,
    layer 1 forward, ...) the (gates * H, inputs) W_ih and (gates * H, H) W_hh as arrays whose
    nonzeros are the kept entries: 0/1 masks, or `|W|` ⊙ mask with `weighted=True`. gates: 1 (RNN),
    4 (LSTM), 3 (GRU). carry: add the unweighted elementwise state path (LSTM cell, GRU update).
    max_bytes: refuse, with MemoryError and the estimate (`recurrent_size`), a graph larger than this;
    default: what is available (`ramcore.validation.check_memory`).
    """
    mi, mh, steps, hidden, dirs = _check(ih, hh, steps, gates, bidirectional)
    carry, weighted = bool(carry), bool(weighted)
    size = _size(mi, mh, steps, hidden, carry)
    what = f"the {steps}-step unrolled graph ({size.nodes:,} nodes, {size.edges:,} edges)"
    fix = "use fewer steps or sparser masks"
    if max_bytes is not None and size.bytes > positive_int(max_bytes, "max_bytes"):
        raise MemoryError(
            f"{what} needs about {format_bytes(size.bytes)}, over max_bytes = {max_bytes:,}; {fix}"
        )
    check_memory(size.bytes, what, fix)
    n_in = mi[0].shape[1]
    layers = len(mi) // dirs
    names = ["input"]
    start: dict[tuple[int, int, int], int] = {}  # (layer, direction, t) -> first node
    offset = steps * n_in
    for layer in range(layers):
        for d in range(dirs):
            for s in range(steps):
                t = s if d == 0 else steps - 1 - s
                names.append(f"{prefix}l{layer}{'_reverse' if d else ''}.t{t}")
                start[layer, d, t] = offset
                offset += hidden
    src: list[IntArray] = []
    dst: list[IntArray] = []
    val: list[FloatArray] = []
    diag = np.arange(hidden, dtype=np.int64)
    for layer in range(layers):
        for d in range(dirs):
            a, b = mi[layer * dirs + d], mh[layer * dirs + d]
            ar, ac = a.row.astype(np.int64), a.col.astype(np.int64)
            br, bc = b.row.astype(np.int64), b.col.astype(np.int64)
            for t in range(steps):
                here = start[layer, d, t]
                if layer == 0:
                    inputs = t * n_in + ac
                else:  # the previous layer's outputs at t: forward units, then reverse units
                    inputs = np.array([start[layer - 1, u // hidden, t] for u in range(dirs * hidden)])[ac]
                    inputs = inputs + ac % hidden
                src.append(inputs)
                dst.append(here + ar)
                val.append(a.data)
                prev = t - 1 if d == 0 else t + 1
                if 0 <= prev < steps:
                    src.append(start[layer, d, prev] + bc)
                    dst.append(here + br)
                    val.append(b.data)
                    if carry:
                        src.append(start[layer, d, prev] + diag)
                        dst.append(here + diag)
                        val.append(np.ones(hidden))
    n = offset
    adjacency = sp.coo_array(
        (np.concatenate(val), (np.concatenate(src), np.concatenate(dst))), shape=(n, n)
    ).tocsr()  # duplicates (carry on a kept diagonal) are summed
    adjacency.sum_duplicates()
    adjacency.sort_indices()
    if not weighted:
        adjacency.data[:] = 1.0
    partition = np.repeat(np.arange(len(names), dtype=np.int32), [steps * n_in] + [hidden] * (len(names) - 1))
    return MultipartiteGraph(sp.csr_array(adjacency), partition, tuple(names), "recurrent", weighted)
