"""The model zoo: parameter counts against the published figures, shapes, tracing, copying."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable, Iterator

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from ramcore.torch import zoo  # noqa: E402

NAMES = [
    "lenet-300-100",
    "conv-4",
    "conv-6",
    "vgg11",
    "vgg13",
    "vgg16",
    "vgg19",
    "alexnet",
    "resnet18",
    "resnet20",
    "resnet32",
    "resnet34",
    "wrn-28-2",
]


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    # Batches of two gain nothing from intra-op threads, which only contend on a busy 2-core runner.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def n_weights(model: nn.Module, types: tuple[type[nn.Module], ...] = (nn.Conv2d, nn.Linear)) -> int:
    """Conv/Linear weights only: what the lottery-ticket papers count as "weights"."""
    return sum(m.get_parameter("weight").numel() for m in model.modules() if isinstance(m, types))


def n_weights_and_biases(model: nn.Module) -> int:
    """Everything but BatchNorm: what SNIP's code counts (its `num_params` sums the w and b tensors)."""
    return sum(
        p.numel() for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)) for p in m.parameters()
    )


COUNTS: dict[str, Callable[[nn.Module], int]] = {
    "all": n_params,
    "weights": n_weights,
    "conv weights": lambda model: n_weights(model, (nn.Conv2d,)),
    "weights and biases": n_weights_and_biases,
}


def as_printed(count: int, published: str) -> str:
    """`count` written the way the paper wrote `published` ("0.27M", "266K"): same unit and decimals."""
    unit = {"K": 1e3, "M": 1e6}[published[-1]]
    decimals = len(published[:-1].partition(".")[2])
    return f"{count / unit:.{decimals}f}{published[-1]}"


def build(name: str) -> nn.Module:
    torch.manual_seed(0)
    return zoo.create(name)


def shapes_only(name: str) -> nn.Module:
    """The model on the meta device: parameters with shapes but no storage, so no slow initialisation."""
    with torch.device("meta"):
        return zoo.create(name)


def test_names() -> None:
    assert list(zoo.MODELS) == NAMES


# Exact totals of every trainable parameter (10 classes). Where a reference implementation exists its
# count is the same integer: Kuang Liu's pytorch-cifar (VGG('VGG11'...'VGG19') with conv bias + BN +
# Linear(512, 10); ResNet18/34), akamaster/pytorch_resnet_cifar10 (resnet20/32, option A), and
# xternalz/WideResNet-pytorch (WideResNet(28, 10, widen_factor=2)).
EXACT = {
    "lenet-300-100": 266_610,
    "conv-4": 2_425_930,
    "conv-6": 2_262_602,
    "vgg11": 9_231_114,
    "vgg13": 9_416_010,
    "vgg16": 14_728_266,
    "vgg19": 20_040_522,
    "alexnet": 5_077_066,
    "resnet18": 11_173_962,
    "resnet20": 269_722,
    "resnet32": 464_154,
    "resnet34": 21_282_122,
    "wrn-28-2": 1_467_610,
}


@pytest.mark.parametrize("name", NAMES)
def test_exact_parameter_count(name: str) -> None:
    assert n_params(shapes_only(name)) == EXACT[name]


# Published figures, compared the way they were printed (rounded), with what each paper counts.
# F&C = Frankle & Carbin 2019, "The lottery ticket hypothesis", Fig. 2 (rows "All/Conv weights").
PUBLISHED = [
    # LeNet-300-100: 784*300 + 300*100 + 100*10 = 266,200 weights; F&C Fig. 2: 266K.
    ("lenet-300-100", "weights", "266K"),
    # Conv-4: F&C Fig. 2: 2.4M weights, 260K of them in convolutions.
    ("conv-4", "weights", "2.4M"),
    ("conv-4", "conv weights", "260K"),
    # Conv-6: F&C Fig. 2 prints 1.7M (inconsistent with its own layer list, whose 2.26M the zoo builds);
    # Ramanujan et al. 2020 ("What's hidden in a randomly weighted neural network?") and seed 004
    # (appendix A.2): 2.3M weights. F&C's convolutional part, 1.1M, agrees.
    ("conv-6", "weights", "2.3M"),
    ("conv-6", "conv weights", "1.1M"),
    # VGG-16: Frankle et al. 2020 ("Linear mode connectivity and the LTH", Table 1): 14.7M.
    ("vgg16", "all", "14.7M"),
    # VGG-19 (CIFAR, avg-pool, one FC layer): F&C Fig. 2: 20.0M weights.
    ("vgg19", "weights", "20.0M"),
    # AlexNet-s: SNIP (Lee et al. 2019) Table 2: 5.1M.
    ("alexnet", "weights and biases", "5.1M"),
    # He et al. 2016 ("Deep residual learning", Table 6, CIFAR-10): ResNet-20 0.27M, ResNet-32 0.46M.
    ("resnet20", "all", "0.27M"),
    ("resnet32", "all", "0.46M"),
    # ResNet-18/34: the reference code's totals are exact (EXACT above); the often quoted 11.2M / 21.3M.
    ("resnet18", "all", "11.2M"),
    ("resnet34", "all", "21.3M"),
    # WRN-28-2: Oliver et al. 2018 ("Realistic evaluation of deep semi-supervised learning"): 1.5M;
    # seed 004 (appendix A.2): ~1.4M weights (truncated: 1,463,984).
    ("wrn-28-2", "all", "1.5M"),
]


@pytest.mark.parametrize(("name", "counted", "published"), PUBLISHED)
def test_published_parameter_count(name: str, counted: str, published: str) -> None:
    assert as_printed(COUNTS[counted](shapes_only(name)), published) == published


@pytest.mark.parametrize(
    ("build_on_meta", "counted", "published"),
    [
        # F&C Fig. 2: Conv-2 4.3M weights; Ramanujan et al. 2020: Conv-8 5.3M weights. Together with
        # Conv-4/6 they pin the "same padding, FC 256-256" reading of the architecture.
        (lambda: zoo.conv_net(2), "weights", "4.3M"),
        (lambda: zoo.conv_net(8), "weights", "5.3M"),
        # SNIP Table 2: AlexNet-b 8.5M.
        (lambda: zoo.alexnet(hidden=2048), "weights and biases", "8.5M"),
        # He et al. 2016 Table 6: ResNet-44 0.66M, ResNet-56 0.85M, ResNet-110 1.7M.
        (lambda: zoo.cifar_resnet(44), "all", "0.66M"),
        (lambda: zoo.cifar_resnet(56), "all", "0.85M"),
        (lambda: zoo.cifar_resnet(110), "all", "1.7M"),
        # Zagoruyko & Komodakis 2016: WRN-40-4 8.9M, WRN-16-8 11.0M, WRN-28-10 36.5M.
        (lambda: zoo.wide_resnet(40, 4), "all", "8.9M"),
        (lambda: zoo.wide_resnet(16, 8), "all", "11.0M"),
        (lambda: zoo.wide_resnet(28, 10), "all", "36.5M"),
    ],
)
def test_published_count_of_family_members(
    build_on_meta: Callable[[], nn.Module], counted: str, published: str
) -> None:
    with torch.device("meta"):
        model = build_on_meta()
    assert as_printed(COUNTS[counted](model), published) == published


def test_resnet_option_b_shortcut_counts() -> None:
    # Option B adds 1x1 conv + BN projections (16->32: 576 parameters, 32->64: 2,176), as OpenLTH has.
    assert n_params(zoo.cifar_resnet(20, shortcut="B")) == EXACT["resnet20"] + 576 + 2_176
    assert n_params(zoo.cifar_resnet(32, shortcut="B")) == EXACT["resnet32"] + 576 + 2_176


@pytest.mark.parametrize("name", NAMES)
def test_forward_trace_deepcopy(name: str) -> None:
    model = build(name).eval()
    x = torch.randn(2, *zoo.input_shape(name))
    with torch.no_grad():
        y = model(x)
        assert y.shape == (2, 10)
        # No data-dependent Python control flow: torch.fx traces it and the trace computes the same.
        torch.testing.assert_close(torch.fx.symbolic_trace(model)(x), y)
        torch.testing.assert_close(copy.deepcopy(model)(x), y)


@pytest.mark.parametrize("name", NAMES)
def test_picklable(name: str) -> None:
    # Nothing unpicklable, such as a lambda, stored on the modules (deepcopy would not notice).
    model = pickle.loads(pickle.dumps(shapes_only(name)))
    assert n_params(model) == EXACT[name]


@pytest.mark.parametrize("name", ["lenet-300-100", "conv-6", "alexnet", "resnet20", "wrn-28-2"])
def test_deterministic_given_seed(name: str) -> None:
    a, b = build(name).state_dict(), build(name).state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(
    ("name", "kwargs", "shape"),
    [
        ("lenet-300-100", {"in_features": 64}, (2, 1, 8, 8)),  # flattens any input, e.g. digits' 8x8
        ("conv-4", {"in_channels": 1}, (2, 1, 32, 32)),
        ("vgg11", {"in_channels": 1}, (2, 1, 32, 32)),
        ("alexnet", {"in_channels": 1}, (2, 1, 32, 32)),
        ("resnet20", {"in_channels": 1}, (2, 1, 32, 32)),
        ("wrn-28-2", {"in_channels": 1}, (2, 1, 32, 32)),
    ],
)
def test_num_classes_and_inputs(name: str, kwargs: dict[str, int], shape: tuple[int, ...]) -> None:
    model = zoo.create(name, num_classes=100, **kwargs)
    assert model(torch.randn(shape)).shape == (2, 100)


@pytest.mark.parametrize(
    "make",
    # One block of each kind per stage keeps Dynamo's tracing short: both shortcut options and the
    # pre-activation block with and without projection.
    [lambda: zoo.cifar_resnet(8), lambda: zoo.cifar_resnet(8, shortcut="B"), lambda: zoo.wide_resnet(10, 1)],
    ids=["resnet8-A", "resnet8-B", "wrn-10-1"],
)
def test_compiles_without_graph_breaks(make: Callable[[], nn.Module]) -> None:
    # The eager backend runs Dynamo's tracing (where graph breaks would show) without slow codegen.
    torch.manual_seed(0)
    model = make().eval()
    x = torch.randn(2, 3, 32, 32)
    compiled = torch.compile(model, backend="eager", fullgraph=True)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x))


def test_input_shapes() -> None:
    assert zoo.input_shape("lenet-300-100") == (784,)
    assert {zoo.input_shape(n) for n in NAMES[1:]} == {(3, 32, 32)}


def test_unknown_name() -> None:
    with pytest.raises(ValueError, match=r"unknown model 'resnet50'; valid names: lenet-300-100, conv-4"):
        zoo.create("resnet50")
    with pytest.raises(ValueError, match="wrn-28-2"):
        zoo.input_shape("VGG16")


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: zoo.conv_net(5), "depth must be one of 2, 4, 6, 8, got 5"),
        (lambda: zoo.vgg(15), r"depth must be one of \[11, 13, 16, 19\], got 15"),
        (lambda: zoo.resnet(50), r"depth must be one of \[18, 34\], got 50"),
        (lambda: zoo.cifar_resnet(18), "6n\\+2"),
        (lambda: zoo.cifar_resnet(20, shortcut="C"), "shortcut must be 'A' or 'B', got 'C'"),
        (lambda: zoo.wide_resnet(27, 2), "6n\\+4"),
    ],
)
def test_bad_arguments(call: Callable[[], nn.Module], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_vgg_with_seed_000_classifier():
    """Seed 000's VGG classifier (Tables 2 and 7): features pooled to 7 x 7, 25088 -> 2448 -> 2448."""
    model = zoo.create("vgg13", hidden=(2448, 2448))
    params = model.named_parameters()
    shapes = [tuple(p.shape) for n, p in params if n.startswith("classifier") and n.endswith("weight")]
    assert shapes == [(2448, 25088), (2448, 2448), (10, 2448)]
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    with pytest.raises(ValueError, match="hidden"):
        zoo.create("vgg11", hidden=(0,))


def test_alexnet_with_seed_000_classifier():
    """Seed 000's AlexNet classifier of 2448-vertex layers, the features pooled to a wide input."""
    model = zoo.create("alexnet", hidden=2448, pool=6)
    def shapes(m):
        return [tuple(p.shape) for p in m.classifier.parameters() if p.dim() == 2]

    assert shapes(model) == [(2448, 9216), (2448, 2448), (10, 2448)]
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert shapes(zoo.alexnet(hidden=2448))[0] == (2448, 256)
    with pytest.raises(ValueError, match="pool"):
        zoo.alexnet(pool=0)
