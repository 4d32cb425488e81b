"""A small zoo of the seeds' architectures, for CIFAR-sized inputs, since torchvision is not a dependency.

Plain ``torch.nn`` modules only: every model traces with ``torch.fx``, compiles with ``torch.compile``
and survives ``copy.deepcopy`` (no lambdas, no data-dependent control flow). Weights keep PyTorch's
default initialisation, so a model is deterministic given ``torch.manual_seed``. Image models take
3x32x32 input and LeNet-300-100 takes 784 features (28x28 MNIST, any shape that flattens to 784).

Parameter counts are for 10 classes and count every trainable parameter (weights, biases,
BatchNorm affine); "weights" counts only Conv/Linear weights, which the lottery-ticket papers report.
Each is checked in tests/test_zoo.py against the published figure:

- ``lenet-300-100``: 784-300-100-10 MLP (LeCun et al. 1998). 266,610 (266,200 weights);
  Frankle & Carbin 2019 ("F&C"), Fig. 2: 266K.
- ``conv-4``: F&C's Conv-4, 3x3 convs 64,64,M,128,128,M then FC 256,256,10, no BatchNorm.
  2,425,930 (2,425,024 weights); F&C Fig. 2: 2.4M weights.
- ``conv-6``: F&C's Conv-6, as Conv-4 plus 256,256,M. 2,262,602 (2,261,184 weights); Ramanujan et
  al. 2020 ("What's hidden in a randomly weighted neural network?") and seed 004: 2.3M weights
  (F&C's 1.7M is off, see below).
- ``vgg11``, ``vgg13``, ``vgg16``, ``vgg19``: CIFAR VGG with BatchNorm, the last max-pool replaced by
  global average pooling, one Linear 512 -> classes (OpenLTH, as used by SynFlow and GraSP).
  9,231,114 / 9,416,010 / 14,728,266 / 20,040,522; Frankle et al. 2020 (linear mode connectivity),
  Table 1: VGG-16 14.7M; F&C Fig. 2: VGG-19 20.0M weights.
- ``alexnet``: SNIP's CIFAR AlexNet-s (Lee et al. 2019; namhoonlee/snip-public): AlexNet's kernels
  and channels 96(11x11), 256(5x5), 384, 384, 256(3x3), every conv stride 2, FC 1024,1024,10,
  BatchNorm after every layer but the last. 5,077,066 (5,070,218 without BatchNorm); SNIP Table 2:
  5.1M.
- ``resnet18``, ``resnet34``: Kuang Liu's pytorch-cifar ResNet: 3x3 stem, no max-pool, BasicBlocks
  [2,2,2,2] / [3,4,6,3], 1x1 conv + BN projection shortcuts. 11,173,962 / 21,282,122, the counts of
  that reference code.
- ``resnet20``, ``resnet32``: He et al. 2016's CIFAR ResNets: 16/32/64 channels, 3 stages of 3 / 5
  BasicBlocks, option-A (zero-padding) shortcuts. 269,722 / 464,154; He et al. Table 6: 0.27M /
  0.46M.
- ``wrn-28-2``: Zagoruyko & Komodakis 2016's pre-activation Wide-ResNet, depth 28, widen factor 2,
  1x1 conv projection shortcuts, no dropout. 1,467,610; Oliver et al. 2018: 1.5M
  (``wide_resnet(28, 10)``: 36,479,194; Zagoruyko & Komodakis: 36.5M).

Judgement calls, with why:

- Conv-6: F&C's Fig. 2 prints 1.7M weights, but its own layer list gives 2.26M; its figures for
  Conv-6's convolutional part (1.1M) and for Conv-2/Conv-4 match this code, so we follow the layer
  list, as the later papers do.
- ResNet-20/32 use He et al.'s option A, as the paper and seed 004's reference code (akamaster's
  pytorch_resnet_cifar10) do, so the counts are the published 0.27M/0.46M. Option B (1x1 conv + BN
  projections, OpenLTH/SynFlow) is ``cifar_resnet(depth, shortcut="B")``: 272,474 and 466,906.
- VGG keeps the conv biases (OpenLTH, SynFlow, Kuang Liu), although BatchNorm makes them redundant.
- AlexNet: SNIP's CIFAR variant, whose conv shapes (256->384, 384->384, 384->256) are the ones seed
  000 lists for its AlexNet; ``alexnet(hidden=2048)`` is SNIP's AlexNet-b (8.5M).
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Union

import torch.nn.functional as F
from torch import Tensor, nn

from ..validation import positive_int

__all__ = [
    "MODELS",
    "alexnet",
    "cifar_resnet",
    "conv_net",
    "create",
    "input_shape",
    "lenet_300_100",
    "resnet",
    "vgg",
    "wide_resnet",
]

_POOL = "M"  # a 2x2 max-pool in a layer plan
_Plan = Sequence[Union[int, str]]

# VGG plans of OpenLTH/SynFlow: the ImageNet configurations without the final max-pool, whose
# 2x2 map is average-pooled instead.
_VGG_PLANS: dict[int, _Plan] = {
    11: (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512),
    13: (64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512),
    16: (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512),
    19: (64, 64, "M", 128, 128, "M", *(256,) * 4, "M", *(512,) * 4, "M", *(512,) * 4),
}
_RESNET_BLOCKS: dict[int, tuple[int, ...]] = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}
_CIFAR_SIZE = 32


def _conv_bn_relu(
    in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1, batch_norm: bool = True
) -> list[nn.Module]:
    """A 'same'-padded convolution, optional BatchNorm, ReLU."""
    conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2)
    return [conv, *([nn.BatchNorm2d(out_channels)] if batch_norm else []), nn.ReLU()]


def _make_layers(plan: _Plan, in_channels: int, batch_norm: bool) -> nn.Sequential:
    """VGG-style feature extractor: an int is a 3x3 conv with that many channels, "M" a 2x2 max-pool."""
    layers: list[nn.Module] = []
    for spec in plan:
        if spec == _POOL:
            layers.append(nn.MaxPool2d(2))
        else:
            layers += _conv_bn_relu(in_channels, int(spec), batch_norm=batch_norm)
            in_channels = int(spec)
    return nn.Sequential(*layers)


def _mlp(widths: Sequence[int], batch_norm: bool = False) -> nn.Sequential:
    """Linear layers through `widths`, ReLU (after BatchNorm if asked) between them, logits at the end."""
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(fan_in, fan_out))
        if i < len(widths) - 2:
            layers += [*([nn.BatchNorm1d(fan_out)] if batch_norm else []), nn.ReLU()]
    return nn.Sequential(*layers)


def _classifier_net(features: nn.Module, classifier: nn.Module, global_pool: bool = False) -> nn.Sequential:
    """features -> (global average pool) -> flatten -> classifier, with stable state_dict names."""
    parts: list[tuple[str, nn.Module]] = [("features", features)]
    if global_pool:
        parts.append(("pool", nn.AdaptiveAvgPool2d(1)))
    parts += [("flatten", nn.Flatten()), ("classifier", classifier)]
    return nn.Sequential(OrderedDict(parts))


def lenet_300_100(num_classes: int = 10, in_features: int = 784) -> nn.Sequential:
    """LeNet-300-100 (LeCun et al. 1998), the lottery-ticket MLP: 266,610 parameters on MNIST."""
    return nn.Sequential(
        OrderedDict([("flatten", nn.Flatten()), ("classifier", _mlp([in_features, 300, 100, num_classes]))])
    )


def conv_net(
    depth: int, num_classes: int = 10, in_channels: int = 3, batch_norm: bool = False
) -> nn.Sequential:
    """Frankle & Carbin's Conv-2/4/6/8: depth/2 pairs of 3x3 convs (64, 128, 256, 512 channels), each pair
    followed by a 2x2 max-pool, then FC 256, 256, num_classes. No BatchNorm in the original; seed 004
    adds it after every layer (`batch_norm=True`)."""
    if depth not in (2, 4, 6, 8):
        raise ValueError(f"conv_net: depth must be one of 2, 4, 6, 8, got {depth!r}")
    plan: list[int | str] = []
    for i in range(depth // 2):
        plan += [64 << i, 64 << i, _POOL]
    side = _CIFAR_SIZE >> (depth // 2)
    flat = (64 << (depth // 2 - 1)) * side * side
    return _classifier_net(
        _make_layers(plan, in_channels, batch_norm), _mlp([flat, 256, 256, num_classes], batch_norm)
    )


def vgg(
    depth: int, num_classes: int = 10, in_channels: int = 3, hidden: Sequence[int] | None = None
) -> nn.Sequential:
    """CIFAR VGG-11/13/16/19 with BatchNorm and a single Linear 512 -> num_classes (OpenLTH/SynFlow).

    hidden: widths of a fully connected classifier instead, after the features are pooled to
    7 x 7 as in the ImageNet VGG (512 * 7 * 7 = 25088 inputs): (4096, 4096) is seed 000's dense
    VGG (Table 2's unpruned 4096 x 4096 layer), (2448, 2448) its classifier of 2448-vertex LPS
    layers (Table 7: "2448 x 25088", q = 47, l = 533)."""
    if depth not in _VGG_PLANS:
        raise ValueError(f"vgg: depth must be one of {sorted(_VGG_PLANS)}, got {depth!r}")
    features = _make_layers(_VGG_PLANS[depth], in_channels, batch_norm=True)
    if hidden is None:
        return _classifier_net(features, nn.Linear(512, num_classes), global_pool=True)
    widths = [positive_int(w, "hidden") for w in hidden]
    return nn.Sequential(
        OrderedDict(
            [
                ("features", features),
                ("pool", nn.AdaptiveAvgPool2d(7)),
                ("flatten", nn.Flatten()),
                ("classifier", _mlp([512 * 7 * 7, *widths, num_classes])),
            ]
        )
    )


def alexnet(
    num_classes: int = 10, in_channels: int = 3, hidden: int = 1024, pool: int | None = None
) -> nn.Sequential:
    """SNIP's CIFAR AlexNet (Lee et al. 2019; namhoonlee/snip-public, network.py): AlexNet's conv kernels
    and channels with every stride 2 so 32x32 shrinks to 1x1, BatchNorm after every layer, FC hidden,
    hidden, num_classes. hidden=1024 is AlexNet-s (5.1M), 2048 AlexNet-b (8.5M).

    pool: the features average-pooled to pool x pool before the classifier (256 * pool^2 inputs;
    6 is torchvision's AlexNet, 9216), as seed 000's AlexNet feeds a wide layer into its 2448-vertex
    classifier (hidden=2448, Tables 2 and 4). Its Table 7 lists that layer as 2448 x 25088, the
    VGG shape; AlexNet's 256 channels cannot give 25088 inputs (98 positions), so the closest is
    pool=10 (25600)."""
    specs = [(in_channels, 96, 11), (96, 256, 5), (256, 384, 3), (384, 384, 3), (384, 256, 3)]
    features = nn.Sequential(*[m for c, o, k in specs for m in _conv_bn_relu(c, o, k, stride=2)])
    hidden = positive_int(hidden, "hidden")
    if pool is None:
        return _classifier_net(features, _mlp([256, hidden, hidden, num_classes], batch_norm=True))
    side = positive_int(pool, "pool")
    classifier = _mlp([256 * side * side, hidden, hidden, num_classes], batch_norm=True)
    parts = [("features", features), ("pool", nn.AdaptiveAvgPool2d(side)), ("flatten", nn.Flatten()),
             ("classifier", classifier)]  # fmt: skip
    return nn.Sequential(OrderedDict(parts))


class _ZeroPadShortcut(nn.Module):
    """He et al.'s option-A shortcut: subsample by the stride and zero-pad the new channels; no weights."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.pad_front = (out_channels - in_channels) // 2
        self.pad_back = out_channels - in_channels - self.pad_front

    def forward(self, x: Tensor) -> Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, self.pad_front, self.pad_back))


def _shortcut(in_channels: int, out_channels: int, stride: int, option: str) -> nn.Module:
    """Identity where shapes agree, else option A (zero padding) or B (1x1 conv + BatchNorm)."""
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    if option == "A":
        return _ZeroPadShortcut(in_channels, out_channels, stride)
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(out_channels)
    )


def _conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)


class _BasicBlock(nn.Module):
    """Post-activation residual block (He et al. 2016): conv-BN-ReLU-conv-BN, add the shortcut, ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, shortcut: str = "B") -> None:
        super().__init__()
        self.conv1 = _conv3x3(in_channels, out_channels, stride)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu1 = nn.ReLU()
        self.conv2 = _conv3x3(out_channels, out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = _shortcut(in_channels, out_channels, stride, shortcut)
        self.relu2 = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        y: Tensor = self.relu2(out + self.shortcut(x))
        return y


class _PreActBlock(nn.Module):
    """Wide-ResNet block (Zagoruyko & Komodakis 2016, xternalz/WideResNet-pytorch): BN-ReLU-conv twice.
    Where the shape changes, the 1x1 projection takes the pre-activated input, as in their code."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.relu1 = nn.ReLU()
        self.conv1 = _conv3x3(in_channels, out_channels, stride)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu2 = nn.ReLU()
        self.conv2 = _conv3x3(out_channels, out_channels)
        self.project = stride != 1 or in_channels != out_channels  # fixed at construction: fx-traceable
        self.shortcut = (
            nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)
            if self.project
            else nn.Identity()
        )

    def forward(self, x: Tensor) -> Tensor:
        pre = self.relu1(self.bn1(x))
        out = self.conv2(self.relu2(self.bn2(self.conv1(pre))))
        y: Tensor = out + self.shortcut(pre if self.project else x)
        return y


_Block = Callable[[int, int, int], nn.Module]  # (in_channels, out_channels, stride) -> block


def _residual_net(
    block: _Block,
    stem_width: int,
    widths: Sequence[int],
    blocks: Sequence[int],
    num_classes: int,
    in_channels: int,
    preact: bool = False,
) -> nn.Sequential:
    """3x3 stem (no max-pool), one stage of `blocks[i]` blocks per width (stride 2 from the second stage
    on), global average pool, Linear. Pre-activation nets put BN-ReLU at the end instead of after the
    stem."""
    stem_bn = [("bn1", nn.BatchNorm2d(stem_width)), ("relu", nn.ReLU())]
    parts: list[tuple[str, nn.Module]] = [
        ("conv1", _conv3x3(in_channels, stem_width)),
        *([] if preact else stem_bn),
    ]
    channels = stem_width
    for i, (width, n) in enumerate(zip(widths, blocks)):
        stage = [block(channels if j == 0 else width, width, 2 if i > 0 and j == 0 else 1) for j in range(n)]
        parts.append((f"layer{i + 1}", nn.Sequential(*stage)))
        channels = width
    if preact:
        parts += [("bn", nn.BatchNorm2d(channels)), ("relu", nn.ReLU())]
    parts += [
        ("pool", nn.AdaptiveAvgPool2d(1)),
        ("flatten", nn.Flatten()),
        ("fc", nn.Linear(channels, num_classes)),
    ]
    return nn.Sequential(OrderedDict(parts))


def resnet(depth: int, num_classes: int = 10, in_channels: int = 3) -> nn.Sequential:
    """ResNet-18/34 as in Kuang Liu's pytorch-cifar: 64-512 channels, BasicBlocks [2,2,2,2]/[3,4,6,3],
    1x1 conv + BN projection shortcuts."""
    if depth not in _RESNET_BLOCKS:
        raise ValueError(f"resnet: depth must be one of {sorted(_RESNET_BLOCKS)}, got {depth!r}")
    return _residual_net(
        _BasicBlock, 64, (64, 128, 256, 512), _RESNET_BLOCKS[depth], num_classes, in_channels
    )


def cifar_resnet(
    depth: int, num_classes: int = 10, in_channels: int = 3, shortcut: str = "A"
) -> nn.Sequential:
    """He et al. 2016's CIFAR ResNet-(6n+2): 16/32/64 channels, n BasicBlocks per stage. Shortcut option
    "A" (zero padding, the paper's and seed 004's) or "B" (1x1 conv + BN, OpenLTH/SynFlow)."""
    if depth < 8 or (depth - 2) % 6:
        raise ValueError(f"cifar_resnet: depth must be 6n+2 with n >= 1 (20, 32, 44, 56, 110), got {depth!r}")
    if shortcut not in ("A", "B"):
        raise ValueError(f"cifar_resnet: shortcut must be 'A' or 'B', got {shortcut!r}")
    block = functools.partial(_BasicBlock, shortcut=shortcut)
    return _residual_net(block, 16, (16, 32, 64), ((depth - 2) // 6,) * 3, num_classes, in_channels)


def wide_resnet(depth: int, widen: int, num_classes: int = 10, in_channels: int = 3) -> nn.Sequential:
    """Wide-ResNet-depth-widen (Zagoruyko & Komodakis 2016): pre-activation, 16 -> 16k/32k/64k channels,
    (depth-4)/6 blocks per stage, no dropout."""
    if depth < 10 or (depth - 4) % 6 or widen < 1:
        raise ValueError(f"wide_resnet: need depth = 6n+4 (n >= 1) and widen >= 1, got {depth!r}, {widen!r}")
    n = (depth - 4) // 6
    widths = (16 * widen, 32 * widen, 64 * widen)
    return _residual_net(_PreActBlock, 16, widths, (n, n, n), num_classes, in_channels, preact=True)


MODELS: Mapping[str, Callable[..., nn.Module]] = {
    "lenet-300-100": lenet_300_100,
    "conv-4": functools.partial(conv_net, 4),
    "conv-6": functools.partial(conv_net, 6),
    "vgg11": functools.partial(vgg, 11),
    "vgg13": functools.partial(vgg, 13),
    "vgg16": functools.partial(vgg, 16),
    "vgg19": functools.partial(vgg, 19),
    "alexnet": alexnet,
    "resnet18": functools.partial(resnet, 18),
    "resnet20": functools.partial(cifar_resnet, 20),
    "resnet32": functools.partial(cifar_resnet, 32),
    "resnet34": functools.partial(resnet, 34),
    "wrn-28-2": functools.partial(wide_resnet, 28, 2),
}
"""Model name -> constructor taking num_classes and the model's keyword arguments."""


def _check_name(name: str) -> None:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid names: {', '.join(MODELS)}")


def create(name: str, num_classes: int = 10, **kwargs: object) -> nn.Module:
    """Build zoo model `name` (see MODELS) for `num_classes` classes; kwargs go to its constructor
    (in_channels, in_features for LeNet-300-100, ...)."""
    _check_name(name)
    return MODELS[name](num_classes=num_classes, **kwargs)


def input_shape(name: str) -> tuple[int, ...]:
    """The default shape of one input sample of model `name`, without the batch dimension."""
    _check_name(name)
    return (784,) if name == "lenet-300-100" else (3, _CIFAR_SIZE, _CIFAR_SIZE)
