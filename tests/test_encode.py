"""Graph encodings of whole networks (seed 004): exact hand-built CSRs, an autograd-Jacobian oracle
for the convolution edges, pooling, residual blocks, rolled baselines, sizes and errors."""

from __future__ import annotations

import numpy as np
import pytest

from sigint import assert_interrupted_in_core, interrupt_child, posix_signals

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import ramcore.torch as rt  # noqa: E402
from ramcore.torch import zoo  # noqa: E402

torch.set_num_threads(1)


def offsets(g):
    return np.concatenate([[0], np.cumsum(g.nodes_per_partition)])


def block(g, i, j):
    """Dense biadjacency from partition i to partition j."""
    o = offsets(g)
    return g.adjacency[o[i] : o[i + 1], o[j] : o[j + 1]].toarray()


def jacobian(f, shape):
    """(inputs, outputs) Jacobian of a linear map f of a (1, *shape) input: the oracle of eq. 3/4."""
    x = torch.zeros(1, *shape, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda t: f(t).reshape(-1), x)
    return jac.reshape(jac.shape[0], -1).T.numpy()


def random_mask(shape, density, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=g) < density


def masked_positive(module, mask, seed):
    """Give `module` weights in [0.5, 1.5) where `mask` keeps them, zero elsewhere (no cancellation
    in the Jacobian, |W| = W)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        module.weight.copy_((torch.rand(module.weight.shape, generator=g) + 0.5) * mask)
    return module


# --- seed 004 Fig. 1: I = 3x3x3, Cout = 2, Cin = 3, 2x2 kernel, P = 0, S = 1 ------------------------


def fig1_edges(mask):
    """Eq. 3 written out: input (c, oy + ky, ox + kx) -> output (o, oy, ox) for every kept entry."""
    edges = set()
    for o, c, ky, kx in zip(*np.nonzero(mask)):
        for oy in range(2):
            for ox in range(2):
                edges.add((c * 9 + (oy + ky) * 3 + ox + kx, 27 + o * 4 + oy * 2 + ox))
    return sorted(edges)


def fig1_model():
    conv = nn.Conv2d(3, 2, 2, bias=False)
    with torch.no_grad():
        conv.weight.fill_(0.5)
    return nn.Sequential(conv)


def test_fig1_dense_exact_csr():
    g = rt.encode(fig1_model(), (3, 3, 3))
    assert g.names == ("input", "0") and g.encoding == "unrolled" and not g.weighted
    assert g.num_nodes == 27 + 8 and g.num_edges == 2 * 3 * 4 * 4
    np.testing.assert_array_equal(g.partition, [0] * 27 + [1] * 8)
    a = g.adjacency
    # A corner pixel meets each kernel once, the centre pixel all four steps of both filters.
    np.testing.assert_array_equal(a.indices[a.indptr[0] : a.indptr[1]], [27, 31])
    np.testing.assert_array_equal(a.indices[a.indptr[4] : a.indptr[5]], [27, 28, 29, 30, 31, 32, 33, 34])
    degrees = np.diff(a.indptr)
    np.testing.assert_array_equal(
        degrees[:27].reshape(3, 3, 3), np.tile([[2, 4, 2], [4, 8, 4], [2, 4, 2]], (3, 1, 1))
    )
    assert not degrees[27:].any()
    coo = a.tocoo()
    assert sorted(zip(coo.row.tolist(), coo.col.tolist())) == fig1_edges(np.ones((2, 3, 2, 2)))
    np.testing.assert_array_equal(a.data, 1.0)


def test_fig1_sparse_exact_csr():
    mask = torch.zeros(2, 3, 2, 2, dtype=torch.bool)
    mask[0, 0, 0, 0] = mask[0, 2, 1, 1] = True  # filter 0: two taps
    mask[1, 1] = True  # filter 1: the whole slice of channel 1
    g = rt.encode(fig1_model(), (3, 3, 3), {"0.weight": mask})
    assert g.num_edges == 4 * 6  # P = 0: every kept tap is used at all 4 steps
    coo = g.adjacency.tocoo()
    assert sorted(zip(coo.row.tolist(), coo.col.tolist())) == fig1_edges(mask.numpy())
    # channel 0 only at (0,0) of filter 0: pixel (0, 1, 1) feeds output (0, 1, 1) = node 27 + 3
    a = g.adjacency
    np.testing.assert_array_equal(a.indices[a.indptr[4] : a.indptr[5]], [30])
    np.testing.assert_array_equal(g.edges_per_partition, [0, 24])


# --- convolutions against the autograd Jacobian ---------------------------------------------------

CONVS = [  # (in, out, input HxW, kernel, stride, padding, dilation, groups)
    (3, 4, (7, 6), 3, 1, 0, 1, 1),
    (3, 4, (7, 7), 3, 2, 1, 1, 1),
    (2, 3, (9, 8), 3, 1, 2, 2, 1),
    (4, 6, (6, 6), (3, 2), (2, 1), (1, 0), (1, 2), 2),
    (4, 4, (6, 5), 3, 1, 1, 1, 4),  # depthwise
    (4, 8, (5, 5), 3, 2, 1, 1, 4),  # depthwise, multiplier 2, stride 2
    (2, 3, (6, 6), 3, 1, "same", 2, 1),
]


@pytest.mark.parametrize("spec", CONVS, ids=lambda s: "-".join(map(str, s)))
@pytest.mark.parametrize("pad_input", [False, True])
def test_conv_edges_match_jacobian(spec, pad_input):
    cin, cout, hw, k, s, p, d, groups = spec
    conv = nn.Conv2d(cin, cout, k, stride=s, padding=p, dilation=d, groups=groups, bias=False)
    mask = random_mask(conv.weight.shape, 0.5, seed=cin + cout)
    masked_positive(conv, mask, seed=1).double()
    g = rt.encode(nn.Sequential(conv), (cin, *hw), {"0.weight": mask}, weighted=True, pad_input=pad_input)
    pt, pl = conv._reversed_padding_repeated_twice[2], conv._reversed_padding_repeated_twice[0]
    pb, pr = conv._reversed_padding_repeated_twice[3], conv._reversed_padding_repeated_twice[1]
    if pad_input:  # the input partition is the padded grid: the oracle reads it without padding
        grid = (cin, hw[0] + pt + pb, hw[1] + pl + pr)
        oracle = jacobian(lambda x: nn.functional.conv2d(x, conv.weight, None, s, 0, d, groups), grid)
        assert g.nodes_per_partition[0] == int(np.prod(grid))
    else:
        oracle = jacobian(conv, (cin, *hw))
    assert g.nodes_per_partition[1] == oracle.shape[1]
    np.testing.assert_allclose(block(g, 0, 1), np.abs(oracle), rtol=0, atol=0)  # eq. 4: |W|
    unweighted = rt.encode(nn.Sequential(conv), (cin, *hw), {"0.weight": mask}, pad_input=pad_input)
    np.testing.assert_array_equal(block(unweighted, 0, 1), oracle != 0)  # eq. 3


@pytest.mark.parametrize("pad_input", [False, True])
def test_conv1d_edges_match_jacobian(pad_input):
    conv = nn.Conv1d(3, 4, 3, stride=2, padding=2, dilation=2, bias=False)
    mask = random_mask(conv.weight.shape, 0.6, seed=5)
    masked_positive(conv, mask, seed=2).double()
    g = rt.encode(nn.Sequential(conv), (3, 9), {"0.weight": mask}, pad_input=pad_input)
    if pad_input:
        oracle = jacobian(lambda x: nn.functional.conv1d(x, conv.weight, None, 2, 0, 2), (3, 13))
    else:
        oracle = jacobian(conv, (3, 9))
    np.testing.assert_array_equal(block(g, 0, 1), oracle != 0)


# --- linear layers, pooling, flatten --------------------------------------------------------------


def test_linear_layers_are_their_masks():
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 5), nn.ReLU(), nn.Linear(5, 3))
    masks = {"1.weight": random_mask((5, 12), 0.5, 0), "3.weight": random_mask((3, 5), 0.5, 1)}
    g = rt.encode(model, (3, 4), masks, weighted=True)
    assert g.names == ("input", "1", "3")
    np.testing.assert_array_equal(g.nodes_per_partition, [12, 5, 3])
    np.testing.assert_array_equal(block(g, 0, 1), (model[1].weight.abs() * masks["1.weight"]).detach().T)
    np.testing.assert_array_equal(block(g, 1, 2) != 0, masks["3.weight"].T)
    assert block(g, 0, 2).sum() == 0
    np.testing.assert_array_equal(
        g.edges_per_partition, [0, masks["1.weight"].sum(), masks["3.weight"].sum()]
    )


def test_weighted_drops_zero_weights_and_missing_masks_use_nonzero_weights():
    model = nn.Sequential(nn.Linear(4, 3, bias=False))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, 0, -2, 0], [0, 3, 0, 0], [-1, 0, 0, 4]]))
    mask = torch.ones(3, 4, dtype=torch.bool)
    assert rt.encode(model, (4,), {"0.weight": mask}).num_edges == 12  # eq. 3: the mask decides
    weighted = rt.encode(model, (4,), {"0.weight": mask}, weighted=True)  # eq. 4: W != 0
    np.testing.assert_array_equal(block(weighted, 0, 1), model[0].weight.abs().detach().T)
    assert weighted.num_edges == 5 and rt.encode(model, (4,)).num_edges == 5  # no mask: W != 0


def pooled_net(pool):
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), pool,
        nn.Conv2d(3, 4, 3, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 5),
    )  # fmt: skip


@pytest.mark.parametrize(
    "pool, avg",
    [
        (nn.MaxPool2d(2), nn.AvgPool2d(2)),
        (nn.MaxPool2d(3, stride=2, padding=1), nn.AvgPool2d(3, stride=2, padding=1)),  # overlapping
        (nn.MaxPool2d(2, ceil_mode=True), nn.AvgPool2d(2, ceil_mode=True)),
        (nn.AdaptiveMaxPool2d(3), nn.AdaptiveAvgPool2d(3)),  # 7 -> 3: windows [0,3) [2,5) [4,7)
    ],
    ids=["2x2", "3x3s2p1", "ceil", "adaptive"],
)
def test_pooling_joins_windows(pool, avg):
    """Appendix C: no partition for the pooled map; every node of a window takes the edges of the
    pooled entry. Oracle: the Jacobian through average pooling (nonzero on the whole window)."""
    model = pooled_net(pool)
    masks = {f"{i}.weight": random_mask(model[i].weight.shape, 0.5, i) for i in (0, 3, 6)}
    for i in (0, 3, 6):
        masked_positive(model[i], masks[f"{i}.weight"], i)
    model.double()
    g = rt.encode(model, (2, 7, 7), masks)
    assert g.names == ("input", "0", "3", "6")
    conv1_out = (3, 7, 7)
    side = avg(torch.zeros(1, *conv1_out)).shape[-1]  # 3, 4, 4
    np.testing.assert_array_equal(g.nodes_per_partition, [2 * 9 * 9, 3 * 49, 4 * side * side, 5])
    np.testing.assert_array_equal(block(g, 1, 2), jacobian(lambda x: model[3](avg(x)), conv1_out) != 0)
    head = nn.Sequential(*model[4:])
    np.testing.assert_array_equal(block(g, 2, 3), jacobian(head, (4, side, side)) != 0)
    same = rt.encode(pooled_net(avg), (2, 7, 7), masks)  # max and average pooling: one structure
    assert (same.adjacency != g.adjacency).nnz == 0


def test_overlapping_windows_merge_edges_summing_weights():
    model = nn.Sequential(nn.MaxPool1d(2, stride=1), nn.Flatten(), nn.Linear(2, 1, bias=False))
    with torch.no_grad():
        model[2].weight.copy_(torch.tensor([[0.25, -2.0]]))
    g = rt.encode(model, (1, 3), weighted=True)  # windows {0, 1} and {1, 2}: node 1 is in both
    np.testing.assert_array_equal(block(g, 0, 1)[:, 0], [0.25, 2.25, 2.0])
    np.testing.assert_array_equal(block(rt.encode(model, (1, 3)), 0, 1)[:, 0], [1, 1, 1])
    assert rt.encoding_size(model, (1, 3)).edges == 4  # the bound counts the repeated edge twice


def test_pool_window_edge_weights_are_the_next_layer_weights():
    model = nn.Sequential(nn.MaxPool2d(2), nn.Flatten(), nn.Linear(2 * 2 * 2, 3, bias=False))
    g = rt.encode(model, (2, 4, 4), weighted=True)
    w = model[2].weight.detach().abs().numpy()  # (3, 8): entry (c, py, px) of the pooled map
    b = block(g, 0, 1)  # (2*4*4, 3)
    for c in range(2):
        for y in range(4):
            for x in range(4):
                np.testing.assert_array_equal(b[(c * 4 + y) * 4 + x], w[:, (c * 2 + y // 2) * 2 + x // 2])


class ViewNet(nn.Module):
    """A user model: functional pooling, mean, view(x.size(0), -1), torch.flatten."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 2 * 2, 6)
        self.out = nn.Linear(6, 2)

    def forward(self, x):
        x = nn.functional.max_pool2d(torch.relu(self.conv(x)), 2)
        x = self.fc(x.view(x.size(0), -1))
        return self.out(torch.flatten(nn.functional.relu(x), 1))


class MeanNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(self.conv(x).mean((2, 3)))


def test_user_models_match_sequential_equivalents():
    net = ViewNet()
    seq = nn.Sequential(net.conv, nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), net.fc, nn.ReLU(), net.out)
    g, h = rt.encode(net, (3, 4, 4)), rt.encode(seq, (3, 4, 4))
    assert g.names == ("input", "conv", "fc", "out") and h.names == ("input", "0", "4", "6")
    assert (g.adjacency != h.adjacency).nnz == 0
    assert g.num_edges == rt.encoding_size(net, (3, 4, 4)).edges
    mean = MeanNet()  # x.mean((2, 3)): global average pooling
    pooled = nn.Sequential(mean.conv, nn.AdaptiveAvgPool2d(1), nn.Flatten(), mean.fc)
    g, h = rt.encode(mean, (3, 5, 5)), rt.encode(pooled, (3, 5, 5))
    assert g.names == ("input", "conv", "fc") and (g.adjacency != h.adjacency).nnz == 0
    with torch.no_grad():
        mean.fc.weight[1, 2] = 0  # channel 2 no longer reaches output 1
    expected = np.ones((4 * 25, 2))
    expected[2 * 25 : 3 * 25, 1] = 0
    np.testing.assert_array_equal(block(rt.encode(mean, (3, 5, 5)), 1, 2), expected)


# --- residual connections (section 3.2) -----------------------------------------------------------


def small_resnet(shortcut):
    torch.manual_seed(0)
    model = zoo.cifar_resnet(8, shortcut=shortcut).double()
    masks = rt.make_masks(model, "random", 0.3, seed=1)
    rt.apply_masks(model, masks)
    return model, masks


def test_resnet_block_with_identity_and_downsample_conv():
    model, masks = small_resnet("B")
    g = rt.encode(model, (3, 8, 8), masks, weighted=True)
    names = ["conv1", *(f"layer{s}.0.conv{i}" for s in (1, 2, 3) for i in (1, 2)), "fc"]
    assert g.names == ("input", *names)
    p = {n: i for i, n in enumerate(g.names)}
    # identity shortcut: stem output -> output of the first block, weight 1
    np.testing.assert_array_equal(block(g, p["conv1"], p["layer1.0.conv2"]), np.eye(16 * 64))
    # 1x1 stride-2 downsampling conv: block input -> block output, next to conv2's own edges
    b2 = model.layer2[0]
    short = block(g, p["layer1.0.conv2"], p["layer2.0.conv2"])
    np.testing.assert_array_equal(short, np.abs(jacobian(b2.shortcut[0], (16, 8, 8))))
    main = block(g, p["layer2.0.conv1"], p["layer2.0.conv2"])
    np.testing.assert_array_equal(main, np.abs(jacobian(b2.conv2, (32, 4, 4))))
    assert g.edges_per_partition[p["layer2.0.conv2"]] == np.count_nonzero(short) + np.count_nonzero(main)
    assert g.num_edges == rt.encoding_size(model, (3, 8, 8), masks).edges


def test_resnet_option_a_shortcut_subsamples_and_pads_channels():
    model, masks = small_resnet("A")
    g = rt.encode(model, (3, 8, 8))  # masks applied to the model
    p = {n: i for i, n in enumerate(g.names)}
    short = block(g, p["layer1.0.conv2"], p["layer2.0.conv2"])
    expected = np.zeros((16 * 64, 32 * 16))
    for c in range(16):  # x[:, :, ::2, ::2], then 8 zero channels in front
        for y in range(4):
            for x in range(4):
                expected[(c * 8 + 2 * y) * 8 + 2 * x, ((c + 8) * 4 + y) * 4 + x] = 1
    conv2 = np.abs(jacobian(model.layer2[0].conv2, (32, 4, 4))) != 0
    assert not (block(g, p["layer2.0.conv1"], p["layer2.0.conv2"]) != conv2).any()
    np.testing.assert_array_equal(short, expected)
    assert rt.encode(model, (3, 8, 8), masks).num_edges == g.num_edges  # applied masks = given masks


def test_layer_output_read_twice_keeps_its_partition():
    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b, self.c, self.d = (nn.Linear(4, 4) for _ in range(4))

        def forward(self, x):
            y = self.a(x)  # read by the sum and by d: y keeps its partition, the sum gets c's
            return self.b(y + self.c(x)), self.d(y)

    model = Twice()
    masks = {f"{n}.weight": random_mask((4, 4), 0.5, i) for i, n in enumerate("abcd")}
    g = rt.encode(model, (4,), masks)
    assert g.names == ("input", "a", "c", "b", "d")
    np.testing.assert_array_equal(block(g, 1, 2), np.eye(4))  # y -> y + c(x)
    for i, j, name in [(0, 1, "a"), (0, 2, "c"), (2, 3, "b"), (1, 4, "d")]:
        np.testing.assert_array_equal(block(g, i, j), masks[f"{name}.weight"].T)
    assert g.num_edges == 4 + sum(int(m.sum()) for m in masks.values())


# --- rolled baselines (seeds 001/002, Prabhu et al.) ----------------------------------------------


def grouped_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(4, 6, 3, groups=2), nn.ReLU(), nn.Flatten(), nn.Linear(6 * 9, 5))


def test_rolled_layers():
    model = grouped_net()
    masks = {"0.weight": random_mask((6, 2, 3, 3), 0.4, 0), "3.weight": random_mask((5, 54), 0.4, 1)}
    rolled = rt.encode_layers(model, masks, "rolled", weighted=True)
    assert [r.names for r in rolled] == [("input", "0"), ("input", "3")]
    conv, fc = rolled
    np.testing.assert_array_equal(conv.nodes_per_partition, [4 * 9, 6])
    assert conv.num_edges == masks["0.weight"].sum() and fc.num_edges == masks["3.weight"].sum()
    expected = np.zeros((36, 6))  # block diagonal: group g's inputs 18 g .. 18 g + 17
    w = (model[0].weight.abs() * masks["0.weight"]).detach().reshape(6, 18).numpy()
    expected[:18, :3], expected[18:, 3:] = w[:3].T, w[3:].T
    np.testing.assert_array_equal(block(conv, 0, 1), expected)
    np.testing.assert_array_equal(block(fc, 0, 1), (model[3].weight.abs() * masks["3.weight"]).detach().T)
    assert all(r.encoding == "rolled" and r.weighted for r in rolled)
    traced = rt.encode(model, (4, 5, 5), masks, "rolled", weighted=True)  # forward order, same graphs
    assert all((a.adjacency != b.adjacency).nnz == 0 for a, b in zip(traced, rolled))


def test_rolled_channel_layers():
    model = grouped_net()
    mask = random_mask((6, 2, 3, 3), 0.1, 3)
    mask[0, 0] = False  # one fully pruned slice at least
    mask[0, 1, 0, 0] = True
    chan = rt.encode_layers(model, {"0.weight": mask}, "rolled_channel", weighted=True)[0]
    np.testing.assert_array_equal(chan.nodes_per_partition, [4, 6])
    alive = mask.reshape(6, 2, 9).any(-1)
    assert chan.num_edges == alive.sum()
    norms = (model[0].weight.double().abs() * mask).reshape(6, 2, 9).norm(dim=-1).detach().numpy()
    expected = np.zeros((4, 6))
    expected[:2, :3], expected[2:, 3:] = norms[:3].T, norms[3:].T
    np.testing.assert_allclose(block(chan, 0, 1), expected, rtol=1e-15)
    assert chan.weighted and chan.encoding == "rolled_channel"
    with pytest.raises(ValueError, match="encoding"):
        rt.encode_layers(model, encoding="unrolled")


# --- whole models, sizes, errors, determinism -----------------------------------------------------


def test_conv6_partition_counts():
    model = zoo.create("conv-6")
    masks = rt.make_masks(model, "random", 0.02, seed=0)
    g = rt.encode(model, (3, 32, 32), masks)
    sides = [32, 32, 16, 16, 8, 8]
    nodes = [3 * 34 * 34, *(c * s * s for c, s in zip([64, 64, 128, 128, 256, 256], sides)), 256, 256, 10]
    np.testing.assert_array_equal(g.nodes_per_partition, nodes)
    assert g.names[1:] == ("features.0", "features.2", "features.5", "features.7", "features.10",
                           "features.12", "classifier.0", "classifier.2", "classifier.4")  # fmt: skip
    size = rt.encoding_size(model, (3, 32, 32), masks)
    assert size.nodes == g.num_nodes and size.edges == g.num_edges  # exact: no overlap, no padded channel
    assert size.partitions == tuple(zip(g.names, nodes))
    # the classifier reads the max-pooled 256 x 4 x 4 map: each of its edges comes from a 2x2 window
    assert g.edges_per_partition[7] == 4 * masks["classifier.0.weight"].sum()
    assert np.diff(g.adjacency.indptr)[offsets(g)[9] :].sum() == 0  # the logits are sinks


@pytest.mark.parametrize("name", list(zoo.MODELS))
def test_every_zoo_model_encodes(name):
    model = zoo.create(name)
    shape = zoo.input_shape(name)
    masks = {
        k: random_mask(v.shape, 0.002, i)
        for i, (k, v) in enumerate(model.named_parameters())
        if k.endswith("weight") and v.dim() > 1
    }
    g = rt.encode(model, shape, masks)
    size = rt.encoding_size(model, shape, masks)
    assert g.num_nodes == size.nodes and 0 < g.num_edges <= size.edges
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    shortcuts = sum(isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1) for m in layers)
    assert len(g.names) == 1 + len(layers) - shortcuts  # 1x1 shortcut convs join their block's sum
    assert g.edges_per_partition.sum() == g.num_edges
    heads = g.partition[g.adjacency.indices]
    tails = np.repeat(g.partition, np.diff(g.adjacency.indptr))
    assert (heads > tails).all()  # edges point to later partitions only


def test_memory_error_with_estimate():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3))
    huge = (3, 300_000, 300_000)
    size = rt.encoding_size(model, huge)  # shapes only: instant
    assert size.nodes > 8 * 10**11 and size.bytes > 10**14
    with pytest.raises(MemoryError, match=f"{size.bytes:,} bytes"):
        rt.encode(model, huge)
    with pytest.raises(MemoryError, match="max_bytes"):
        rt.encode(model, (3, 8, 8), max_bytes=1000)
    assert (
        rt.encode(model, (3, 8, 8), max_bytes=size.bytes).num_nodes
        == rt.encoding_size(model, (3, 8, 8)).nodes
    )


def test_fully_pruned_model_encodes_without_edges():
    """All-zero masks give graphs with nodes and no edges (the core hands no weight buffer then)."""
    from ramcore import topometrics

    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(12, 4))
    masks = {
        "0.weight": torch.zeros(3, 2, 3, 3, dtype=torch.bool),
        "3.weight": torch.zeros(4, 12, dtype=torch.bool),
    }
    for weighted in (False, True):
        g = rt.encode(model, (2, 4, 4), masks, weighted=weighted)
        assert g.num_nodes == 32 + 12 + 4 and g.num_edges == 0
        assert g.adjacency.shape == (48, 48) and g.adjacency.dtype == np.float64
        m = topometrics(g)
        assert m["disconnected"] == 1.0 and m["components"] == 48 and np.isnan(m["n1"])
        for encoding in ("rolled", "rolled_channel"):
            layers = rt.encode(model, (2, 4, 4), masks, encoding, weighted=weighted)
            assert [r.num_edges for r in layers] == [0, 0]


class Gated(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.gate = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return self.conv(x) * torch.sigmoid(self.gate(x))


class Branchy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return self.fc(x) if x.sum() > 0 else x


@pytest.mark.parametrize(
    "model, match",
    [
        (nn.Sequential(nn.Conv2d(3, 4, 3), nn.Upsample(scale_factor=2)), r"'1' \(Upsample\)"),
        (nn.Sequential(nn.ConvTranspose2d(3, 4, 3)), r"'0' \(ConvTranspose2d\)"),
        (nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect")), "padding_mode='reflect'"),
        (Gated(), "'mul'"),
        (Branchy(), "cannot trace Branchy"),
    ],
    ids=["upsample", "transposed", "reflect", "gated", "branchy"],
)
def test_unsupported_layers_are_named(model, match):
    with pytest.raises(NotImplementedError, match=match):
        rt.encode(model, (3, 6, 6) if not isinstance(model, Branchy) else (4,))


def test_argument_errors():
    model = fig1_model()
    with pytest.raises(ValueError, match="not weights"):
        rt.encode(model, (3, 3, 3), {"0.bias": torch.ones(2, dtype=torch.bool)})
    with pytest.raises(ValueError, match="shape"):
        rt.encode(model, (3, 3, 3), {"0.weight": torch.ones(2, 3, dtype=torch.bool)})
    with pytest.raises(ValueError, match="encoding must be"):
        rt.encode(model, (3, 3, 3), encoding="dense")  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="input_shape"):
        rt.encode(model, (3, 0, 3))
    with pytest.raises(ValueError, match="smaller than its kernel"):
        rt.encode(model, (3, 1, 1))
    with pytest.raises(ValueError, match="no Conv1d/Conv2d/Linear"):
        rt.encode(nn.Sequential(nn.ReLU()), (3,))
    # an input size the forward pass refuses, although the pooled map would reshape (16 x 16 Conv-6)
    with pytest.raises(ValueError, match="takes 4096 features but receives 1024"):
        rt.encode(zoo.create("conv-6"), (3, 16, 16))


def test_deterministic_across_threads_and_runs():
    model, masks = small_resnet("A")
    runs = [rt.encode(model, (3, 16, 16), masks, weighted=True, threads=t) for t in (1, 2, 2)]
    for g in runs[1:]:
        for attr in ("indptr", "indices", "data"):
            np.testing.assert_array_equal(getattr(g.adjacency, attr), getattr(runs[0].adjacency, attr))


def test_csr_is_canonical_and_to_networkx():
    model = pooled_net(nn.MaxPool2d(3, stride=2, padding=1))  # overlapping windows: merged edges
    g = rt.encode(model, (2, 7, 7), weighted=True)
    a = g.adjacency
    assert a.has_canonical_format and (a.data > 0).all()
    steps = np.diff(a.indices)
    inside = np.ones(steps.size, dtype=bool)  # consecutive entries of one row
    inside[a.indptr[(a.indptr > 0) & (a.indptr < a.nnz)] - 1] = False
    assert (steps[inside] > 0).all()  # strictly increasing heads: sorted, no duplicates
    nxg = g.to_networkx()
    assert nxg.number_of_nodes() == g.num_nodes and nxg.number_of_edges() == g.num_edges


INTERRUPT_SETUP = """
import torch, ramcore.torch as rt
from torch import nn
# 32x32 windows at stride 1 into a linear layer: every input pixel reaches each of the 256 outputs
# through up to 1024 windows, merged into 256 edges: ~15 s of core work for 1 M edges
model = nn.Sequential(nn.MaxPool2d(32, stride=1), nn.Flatten(), nn.Linear(33 * 33, 256))
"""


@posix_signals
def test_ctrl_c_interrupts_the_core():
    call = "rt.encode(model, (1, 64, 64), threads=1, max_bytes=10**11)"
    # 1 CPU-s in: past the trace, inside the core's passes (see sigint.py: CPU time, not wall time)
    assert_interrupted_in_core(interrupt_child(INTERRUPT_SETUP, call, after_cpu=1.0))


def fig1_piece(**changes):
    piece = {
        "in_channels": 3, "in_height": 3, "in_width": 3, "out_channels": 2, "out_height": 2, "out_width": 2,
        "kernel_h": 2, "kernel_w": 2, "mask": np.ones(2 * 3 * 2 * 2, np.uint8), "out_offset": 27,
    }  # fmt: skip
    return {**piece, **changes}


def test_core_int64_indices_and_inverse_maps():
    from ramcore import _core

    narrow = _core.unrolled_encoding(35, [fig1_piece()], False)
    wide = _core.unrolled_encoding(35, [fig1_piece()], False, wide=True)
    assert narrow[0].dtype == np.int32 and wide[0].dtype == wide[1].dtype == np.int64
    for a, b in zip(narrow[:3], wide[:3]):
        np.testing.assert_array_equal(a, b)
    # the same piece through an inverse map (node u feeds entry u) gives the same CSR
    inverse = fig1_piece(src_begin=0, src_end=27, inv_ptr=np.arange(28), inv_entries=np.arange(27))
    for a, b in zip(narrow[:3], _core.unrolled_encoding(35, [inverse], False)[:3]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"groups": 2}, "groups"),
        ({"out_offset": 30}, "exceed the 35 nodes"),
        ({"in_offset": 10}, "exceed the 35 nodes"),
        ({"mask": np.ones(5, np.uint8)}, "mask must have"),
        (
            {"src_begin": 0, "src_end": 2, "inv_ptr": np.array([0, 1, 2]), "inv_entries": np.array([0, 27])},
            "out of range",
        ),
        ({"stride_h": 0}, "stride_h must be at least 1"),
    ],
)
def test_core_rejects_bad_pieces(changes, match):
    from ramcore import _core

    with pytest.raises(ValueError, match=match):
        _core.unrolled_encoding(35, [fig1_piece(**changes)], False)


def test_default_limit_is_the_available_memory_now(monkeypatch):
    import ramcore.validation

    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3))
    monkeypatch.setattr(ramcore.validation, "available_memory", lambda: 2_000)  # half: 1,000 bytes
    with pytest.raises(MemoryError, match="over the limit of 1,000 bytes"):
        rt.encode(model, (3, 8, 8))
