"""make_masks on real layers: every method, shapes, exact counts, allocations, determinism."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from ramcore.torch.masks import METHODS, allocate_density, make_masks  # noqa: E402
from ramcore.torch.targets import mask_targets  # noqa: E402


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 16, 3, padding=1)
        self.grouped = nn.Conv2d(16, 16, 3, padding=1, groups=4)
        self.bn = nn.BatchNorm2d(16)
        self.fc = nn.Linear(16 * 8 * 8, 64)
        self.out = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn(self.grouped(torch.relu(self.conv(x)))))
        return self.out(torch.relu(self.fc(x.flatten(1))))


class Seq(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(12, 20, num_layers=2, bidirectional=True)
        self.attn = nn.MultiheadAttention(40, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.lstm(x)
        return self.attn(h, h, h)[0]


LAYERS = ("conv.weight", "grouped.weight", "fc.weight", "out.weight")


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(8, 4, 8, 8, generator=g), torch.randint(0, 10, (8,), generator=g)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_gives_exact_bool_masks(method: str) -> None:
    torch.manual_seed(0)
    model = Net()
    masks = make_masks(model, method, 0.1, data=_batch(), input_shape=(4, 8, 8), rounds=5, seed=1)
    params = dict(model.named_parameters())
    assert set(masks) == {"conv.weight", "grouped.weight", "fc.weight", "out.weight"}
    for name, mask in masks.items():
        assert mask.dtype == torch.bool and mask.shape == params[name].shape and mask.device.type == "cpu"
        assert masks.layers[name].kept == int(mask.sum())
    total = sum(p.numel() for n, p in params.items() if n in masks)
    assert abs(sum(int(m.sum()) for m in masks.values()) - 0.1 * total) <= len(masks) * 4
    again = make_masks(model, method, 0.1, data=_batch(), input_shape=(4, 8, 8), rounds=5, seed=1)
    assert all(torch.equal(masks[n], again[n]) for n in masks)


def test_ramanujan_masks_every_piece_and_records_constructions() -> None:
    masks = make_masks(Seq(), "ramanujan", 0.2, allocation="uniform")
    targets = {t.name: t for t in mask_targets(Seq())}
    assert set(masks) == set(targets)
    for name, layer in masks.layers.items():
        t = targets[name]
        assert len(layer.pieces) == t.pieces
        rows, cols = t.piece_shape
        per_piece = round(0.2 * rows * cols)
        assert layer.kept == t.pieces * per_piece
        assert all(p.construction in ("affine", "lps", "complement") for p in layer.pieces)
    # each gate block of the LSTM is its own graph: every block has the same count
    blocks = masks["lstm.weight_ih_l0"].reshape(4, 20, 12).sum(dim=(1, 2))
    assert (blocks == blocks[0]).all()


def test_ramanujan_default_allocation_is_er() -> None:
    """The measured default (docs/masks.md, "Allocation"): ramanujan masks take the ER allocation,
    the other structural methods stay uniform."""
    model = Net()
    default = make_masks(model, "ramanujan", 0.1)
    er = make_masks(model, "ramanujan", 0.1, allocation="er")
    assert all(torch.equal(default[n], er[n]) for n in er)
    densities = {n: layer.target_density for n, layer in default.layers.items()}
    assert len(set(densities.values())) > 1  # not uniform
    assert all(layer.target_density == 0.1 for layer in make_masks(model, "random", 0.1).layers.values())


def test_grouped_conv_pieces_are_separate_graphs() -> None:
    masks = make_masks(Net(), "ramanujan", 0.25, allocation="uniform")
    grouped = masks["grouped.weight"].reshape(4, 4, 4 * 9)  # 4 groups of (4 out, 4 in x 3 x 3)
    per_group = grouped.sum(dim=(1, 2))
    assert (per_group == round(0.25 * 36 * 4)).all()
    assert grouped.any(dim=2).all()  # no output channel of any group left without an input


def test_ramanujan_masks_identical_in_two_processes() -> None:
    code = (
        "import hashlib, torch; from ramcore.torch.masks import make_masks; from ramcore.torch import zoo;"
        "m = make_masks(zoo.create('lenet-300-100'), 'ramanujan', 0.05);"
        "print(hashlib.sha256(b''.join(m[n].numpy().tobytes() for n in sorted(m))).hexdigest())"
    )
    procs = [  # side by side: two independent interpreters, half the wall time on two cores
        subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in "ab"
    ]
    runs = [(*p.communicate(timeout=600), p.returncode) for p in procs]
    assert all(rc == 0 for _, _, rc in runs), [err for _, err, _ in runs]
    assert runs[0][0].split()[-1] == runs[1][0].split()[-1]


@pytest.mark.parametrize("allocation", ["er", "erk"])
def test_er_erk_keep_the_budget_and_cap_at_one(allocation: str) -> None:
    targets = mask_targets(Net())
    dens = allocate_density(targets, 0.6, allocation)
    total = sum(t.numel for t in targets)
    assert sum(dens[t.name] * t.numel for t in targets) == pytest.approx(0.6 * total)
    assert max(dens.values()) == 1.0  # small layers capped, the scale re-solved for the rest
    # ERK counts kernel dimensions: (out, in, kh, kw) read in PyTorch's layout
    raw = {t.name: sum(t.shape) / math.prod(t.shape) for t in targets}
    free = [t.name for t in targets if dens[t.name] < 1]
    if allocation == "erk":
        ratios = {n: dens[n] / raw[n] for n in free}
        assert max(ratios.values()) == pytest.approx(min(ratios.values()))


def test_user_allocation_and_selection() -> None:
    model = Net()
    masks = make_masks(
        model, "random", 0.5, allocation={"fc.weight": 0.1, "out.weight": 0.5}, kinds=["linear"]
    )
    assert set(masks) == {"fc.weight", "out.weight"}
    assert masks.layers["fc.weight"].density == pytest.approx(0.1, abs=1e-4)
    masks = make_masks(model, "random", 0.5, exclude_first=True, exclude_last=True)
    assert set(masks) == {"grouped.weight", "fc.weight"}
    masks = make_masks(model, "random", 0.5, include="*conv*")
    assert set(masks) == {"conv.weight"}


@pytest.mark.parametrize(
    "kwargs,error",
    [
        (dict(method="nope"), ValueError),
        (dict(density=0.0), ValueError),
        (dict(density=2.0), ValueError),
        (dict(method="snip"), ValueError),  # needs data
        (dict(allocation="xyz"), ValueError),
        (dict(kinds=["rnn"]), ValueError),  # nothing to mask
        (dict(allocation={"fc.weight": 0.1}), ValueError),  # densities missing
        (  # a misspelt layer name is refused, not ignored
            dict(allocation=dict.fromkeys([*LAYERS, "misspelt.weight"], 0.1)),
            ValueError,
        ),
        (dict(method="sparsify", score="grasp"), ValueError),  # not one of seed 002's scores
        (dict(method="sparsify", score="snip"), ValueError),  # needs data
    ],
)
def test_bad_arguments(kwargs: dict, error: type) -> None:
    with pytest.raises(error):
        make_masks(Net(), **kwargs)


def test_sparsify_method_is_seed_002_on_every_piece() -> None:
    from ramcore.sparsify import magnitude, sparsify

    torch.manual_seed(0)
    model = Net()
    masks = make_masks(model, "sparsify", 0.1, seed=3)
    # a plain layer: exactly ramcore.sparsify on its magnitude scores with the same seed
    fc = magnitude(model.fc.weight.detach().double().numpy())
    direct = sparsify({"fc.weight[0]": fc}, density=0.1, seed=3)
    assert torch.equal(masks["fc.weight"], torch.from_numpy(direct.masks["fc.weight[0]"]))
    # a grouped conv: each group is its own layer graph, so each keeps its exact share
    per_group = masks["grouped.weight"].reshape(4, -1).sum(dim=1)
    assert (per_group == round(0.1 * 4 * 4 * 9)).all()
    # SynFlow scores (data-free) and SNIP scores (need a batch) are accepted
    synflow = make_masks(model, "sparsify", 0.1, score="synflow", input_shape=(4, 8, 8))
    snip = make_masks(model, "sparsify", 0.1, score="snip", data=_batch())
    for other in (synflow, snip):
        assert all(other.layers[n].kept == masks.layers[n].kept for n in masks)
        assert any(not torch.equal(other[n], masks[n]) for n in masks)


def test_sparsify_method_splits_rnn_gate_blocks() -> None:
    masks = make_masks(Seq(), "sparsify", 0.3, kinds=["rnn"])
    blocks = masks["lstm.weight_hh_l0"].reshape(4, 20 * 20).sum(dim=1)
    assert (blocks == round(0.3 * 400)).all()


@pytest.mark.parametrize("conv", [nn.Conv1d(6, 8, 5, groups=2), nn.Conv3d(4, 6, 3)])
@pytest.mark.parametrize("method", ["ramanujan", "random_regular", "erk", "magnitude", "sparsify"])
def test_conv1d_and_conv3d_layers(conv: nn.Module, method: str) -> None:
    model = nn.Sequential(conv)
    masks = make_masks(model, method, 0.25)
    mask = masks["0.weight"]
    assert mask.shape == conv.weight.shape and mask.dtype == torch.bool
    groups = conv.groups
    per_group = mask.reshape(groups, -1).sum(dim=1)
    assert int(mask.sum()) == round(0.25 * mask.numel())
    if method in ("ramanujan", "random_regular", "sparsify"):  # one graph per group
        assert (per_group == round(0.25 * mask.numel() / groups)).all()
    if method in ("ramanujan", "random_regular"):  # every output channel keeps an input
        assert mask.reshape(mask.shape[0], -1).any(dim=1).all()


def test_biswas_construction_per_layer() -> None:
    """method='ramanujan', construction='biswas': seed 000's (q, l) block on every piece, the
    density set by the rule; a density or an allocation is refused."""
    model = nn.Sequential(
        nn.Conv2d(3, 64, 3), nn.ReLU(), nn.Conv2d(64, 64, 3), nn.ReLU(), nn.Conv2d(64, 128, 3),
        nn.Flatten(), nn.LazyLinear(10),
    )  # fmt: skip
    model(torch.zeros(1, 3, 9, 9))
    masks = make_masks(model, "ramanujan", None, construction="biswas")
    middle = masks.layers["2.weight"]
    assert middle.pieces[0].params == {"q": 7, "l": 82, "dead_inputs": 2, "dead_outputs": 15}
    assert middle.density == pytest.approx(82 * 7 * 7 / (64 * 64 * 9)) and masks.method == "ramanujan"
    assert masks.layers["4.weight"].pieces[0].construction == "biswas"
    # seed 000 prunes neither end: the input layer and the classifier (q = 3 would leave class 9 dead)
    for name in ("0.weight", "6.weight"):
        assert masks[name].all() and masks.layers[name].pieces[0].construction == "dense"
    with pytest.raises(ValueError, match="density=None"):
        make_masks(model, "ramanujan", 0.1, construction="biswas")
    with pytest.raises(ValueError, match="belongs to method='ramanujan'"):
        make_masks(model, "random", None, construction="biswas")
    with pytest.raises(ValueError, match="construction must be one of"):
        make_masks(model, "ramanujan", 0.1, construction="lps")
    with pytest.raises(ValueError, match="density"):
        make_masks(model, "ramanujan", None)
