"""The time-unrolled graph of RNN/LSTM/GRU layers (seed 003, Figure 2), against a brute-force build."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import ramcore
from ramcore.torch import encode, make_masks
from ramcore.torch.recurrent import encode_recurrent, recurrent_encoding_size


def brute_force(model: nn.RNNBase, steps: int, masks: dict, weighted: bool, carry: bool) -> dict:
    """Every edge by loops over steps, layers, directions, gates and entries: {(src, dst): weight},
    nodes as ("x", t, i) or ("h", layer, direction, t, j)."""
    gates = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}[model.mode]
    h, dirs = model.hidden_size, 2 if model.bidirectional else 1
    edges: dict = {}

    def add(src: tuple, dst: tuple, w: float) -> None:
        edges[src, dst] = edges.get((src, dst), 0.0) + w

    for layer in range(model.num_layers):
        for d in range(dirs):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            w_ih = getattr(model, "weight_ih" + sfx).detach().double()
            w_hh = getattr(model, "weight_hh" + sfx).detach().double()
            m_ih, m_hh = masks["weight_ih" + sfx], masks["weight_hh" + sfx]
            for t in range(steps):
                for g in range(gates):
                    for j in range(h):
                        for u in range(w_ih.shape[1]):
                            if m_ih[g * h + j, u]:
                                src = ("x", t, u) if layer == 0 else ("h", layer - 1, u // h, t, u % h)
                                add(src, ("h", layer, d, t, j), abs(float(w_ih[g * h + j, u])))
                        prev = t - 1 if d == 0 else t + 1
                        if not 0 <= prev < steps:
                            continue
                        for k in range(h):
                            if m_hh[g * h + j, k]:
                                add(
                                    ("h", layer, d, prev, k),
                                    ("h", layer, d, t, j),
                                    abs(float(w_hh[g * h + j, k])),
                                )
                if carry and 0 <= (t - 1 if d == 0 else t + 1) < steps:
                    prev = t - 1 if d == 0 else t + 1
                    for j in range(h):
                        add(("h", layer, d, prev, j), ("h", layer, d, t, j), 1.0)
    return {e: (w if weighted else 1.0) for e, w in edges.items() if w != 0}


def node_id(g: ramcore.MultipartiteGraph, node: tuple, n_in: int) -> int:
    """A node's index, located through the documented partition names."""
    starts = np.concatenate([[0], np.cumsum(g.nodes_per_partition)])
    if node[0] == "x":
        return node[1] * n_in + node[2]
    _, layer, d, t, j = node
    return int(starts[g.names.index(f"l{layer}{'_reverse' if d else ''}.t{t}")]) + j


@pytest.mark.parametrize(
    ("cls", "kwargs", "weighted", "carry"),
    [
        (nn.LSTM, {}, False, False),
        (nn.LSTM, dict(num_layers=2, bidirectional=True), True, True),
        (nn.GRU, dict(num_layers=2), False, True),
        (nn.RNN, dict(bidirectional=True), True, False),
    ],
)
def test_unrolled_graph_matches_brute_force(cls: type, kwargs: dict, weighted: bool, carry: bool) -> None:
    torch.manual_seed(0)
    model = cls(3, 4, **kwargs)
    masks = make_masks(model, "random", 0.4, seed=1)
    steps = 3
    g = encode_recurrent(model, steps, masks, weighted=weighted, carry=carry)
    expect = brute_force(model, steps, {k: v.numpy() for k, v in masks.items()}, weighted, carry)
    coo = g.adjacency.tocoo()
    got = {(int(r), int(c)): float(v) for r, c, v in zip(coo.row, coo.col, coo.data)}
    want = {(node_id(g, s, 3), node_id(g, t, 3)): w for (s, t), w in expect.items()}
    assert got.keys() == want.keys()
    assert all(got[e] == pytest.approx(want[e], rel=1e-12) for e in want)
    dirs = 2 if model.bidirectional else 1
    assert g.num_nodes == steps * 3 + model.num_layers * dirs * steps * 4
    size = recurrent_encoding_size(model, steps, masks, carry=carry)
    assert (size.nodes, size.edges) == (g.num_nodes, g.num_edges)


def test_encode_takes_a_recurrent_model_and_topometrics_run() -> None:
    torch.manual_seed(0)
    model = nn.LSTM(5, 6)
    masks = make_masks(model, "ramanujan", 0.5)
    g = encode(model, (4, 5), masks)
    assert g.encoding == "recurrent" and g.names[:3] == ("input", "l0.t0", "l0.t1")
    assert g.num_edges == recurrent_encoding_size(model, 4, masks).edges
    metrics = ramcore.topometrics(g)
    assert len(metrics) == 16 and all(np.isfinite(v) for v in metrics.values())
    # every step's hidden units reach the next step and every input is read: one component, no
    # node without edges, no sink before the last step
    assert metrics["components"] == 1.0 and metrics["disconnected"] == 0.0 and metrics["sink"] == 0.0


def test_model_with_an_lstm_uses_qualified_names_and_applied_masks() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = nn.GRU(4, 3)
            self.fc = nn.Linear(3, 2)

    net = Net()
    masks = make_masks(net, "ramanujan", 0.5, kinds=["rnn"])
    g = encode_recurrent(net, 2, masks)
    assert g.names == ("input", "rnn.l0.t0", "rnn.l0.t1")
    ramcore.torch.apply_masks(net, masks)
    assert g.adjacency.nnz == encode_recurrent(net, 2).adjacency.nnz


def test_bad_arguments_are_refused() -> None:
    model = nn.LSTM(3, 4)
    with pytest.raises(ValueError, match="steps"):
        encode_recurrent(model, 0)
    with pytest.raises(ValueError, match="one nn.RNN/LSTM/GRU"):
        encode_recurrent(nn.Linear(3, 4), 2)
    with pytest.raises(NotImplementedError, match="proj_size"):
        encode_recurrent(nn.LSTM(3, 4, proj_size=2), 2)
    with pytest.raises(ValueError, match="not weights"):
        encode_recurrent(model, 2, {"fc.weight": torch.ones(2, 2)})
    with pytest.raises(ValueError, match="carry"):
        encode_recurrent(nn.RNN(3, 4), 2, carry=True)
    with pytest.raises(MemoryError, match="max_bytes"):
        encode_recurrent(model, 1000, max_bytes=1000)
    with pytest.raises(ValueError, match="input_shape"):
        encode(model, (4, 7))
