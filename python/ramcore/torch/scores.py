"""Pruning-at-initialisation baselines as score functions, and exact top-k masks.

Every score function takes `targets`, the parameters to be masked keyed by their qualified name in
`model.named_parameters()`, and returns one score tensor per target: float64, on the CPU, with the
parameter's shape (float64 so that SynFlow's scores, which span hundreds of orders of magnitude in deep
networks, and float32 scores alike rank without loss). `topk_masks` turns scores into boolean masks with
exact counts; a higher score means "keep", except for GraSP, whose paper score removes the top.

Methods (theta are the target weights, L the loss on a batch, ⊙ the elementwise product):

- `magnitude_scores` -- magnitude pruning at initialisation (Frankle et al., "Pruning neural networks
  at initialization: why are we missing the mark?", ICLR 2021, the baseline of Han et al. 2015):
  S = `|theta|`.
- `snip_scores` -- SNIP (Lee, Ajanthan & Torr, "SNIP: single-shot network pruning based on connection
  sensitivity", ICLR 2019, eq. 6): with gates c on every connection, g_j = dL(c ⊙ theta)/dc_j at c = 1,
  which equals (theta ⊙ dL/dtheta)_j, and S_j = `|g_j|` / sum_k `|g_k|` over all targets. Keep the top.
- `grasp_scores` -- GraSP (Wang, Zhang & Grosse, "Picking winning tickets before training by preserving
  gradient flow", ICLR 2020, eq. 8): S(-theta) = -theta ⊙ Hg with g = dL/dtheta, H = d2L/dtheta2, the
  loss taken on logits / T (T = 200), normalised by `|sum S|` + 1e-10 as in the authors' code
  (github.com/alecwangcq/GraSP). The weights with the LARGEST scores are removed: build the mask with
  `topk_masks(scores, density, largest=False)`, or call `grasp_masks`.
- `synflow_scores` / `synflow_masks` -- SynFlow (Tanaka, Kunin, Yamins & Ganguli, "Pruning neural
  networks without any data by iteratively conserving synaptic flow", NeurIPS 2020, eq. 2 and
  Algorithm 1): R = 1^T (prod_l `|theta^l|`) 1, evaluated as the sum of the outputs of the network with
  every parameter and buffer replaced by its absolute value on an all-ones input; S = `|theta ⊙ dR/dtheta|`.
  Iterative, data-free, global: 100 rounds with the exponential schedule density**(k/rounds), the
  scores recomputed on the masked network each round.
- `prospr_scores` -- ProsPr (Alizadeh, Tailor, Zintgraf, van Amersfoort, Farquhar, Lane & Gal,
  "Prospect pruning: finding trainable weights at initialization using meta-gradients", ICLR 2022):
  gates c on the targets, theta_0 = c ⊙ theta; `steps` differentiable SGD steps (momentum, weight
  decay) theta_{k+1} = theta_k - lr (dL_k/dtheta_k + ...) on successive batches; S = `|dL(theta_K)/dc|`
  at c = 1, back-propagated through the steps (the meta-gradient). Keep the top (global).
- `random_masks` -- uniform random masks with exact per-layer counts from a seeded CPU generator (the
  "random" baseline of Liu et al., "The unreasonable effectiveness of random pruning", ICLR 2022).

Batches and the loss (snip, grasp, prospr). A batch is an `(inputs, labels)` pair, scored as
`loss_fn(model(inputs), labels)` (a model returning an output object with `.logits`, as Hugging Face
models do, has its logits taken); or a mapping of keyword tensors (`input_ids`, `attention_mask`,
`labels`), scored as `model(**batch).loss`; or anything at all with `forward_fn(model, batch) -> loss`,
which replaces both (any forward call, any output type, any loss). `batch` is one batch or an iterable
of them (a DataLoader). GraSP's temperature divides the logits of `(inputs, labels)` batches only: a
keyword batch or `forward_fn` gives the loss as it is.

Scoring leaves the model as it was: parameter values (same storage, bit for bit), dtypes,
requires_grad, .grad, buffers (BatchNorm running statistics) and each module's train/eval mode.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import numbers
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal, Union

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..progress import Progress, check_progress
from ..validation import density as _density
from ..validation import per_name

__all__ = [
    "grasp_masks",
    "grasp_scores",
    "magnitude_scores",
    "prospr_scores",
    "random_masks",
    "snip_scores",
    "synflow_masks",
    "synflow_scores",
    "topk_masks",
]

LossFn = Callable[[Tensor, Tensor], Tensor]
#: `forward_fn(model, batch) -> loss`: runs the model on one batch and returns the scalar loss.
ForwardFn = Callable[[nn.Module, Any], Tensor]
#: One `(inputs, labels)` pair, or an iterable (e.g. a DataLoader) of such pairs.
BatchSource = Union[Sequence[Any], Iterable[Any]]
Density = Union[float, Mapping[str, float]]

_GRASP_EPS = 1e-10  # the authors' code: norm_factor = |sum(scores)| + eps


# ---------------------------------------------------------------------------------------------------
# Top-k masks
# ---------------------------------------------------------------------------------------------------


def topk_masks(
    scores: Mapping[str, Tensor],
    density: Density,
    *,
    scope: Literal["global", "layer"] = "global",
    largest: bool = True,
) -> dict[str, Tensor]:
    """Boolean masks keeping exactly the highest-scoring entries.

    scope="layer": each tensor keeps exactly round(density * numel) entries (`density` a float or a
    mapping name -> density covering every name of `scores`). scope="global": exactly
    round(density * total) entries are kept over all tensors together (`density` a float).
    `round` is Python's (halves to even). Ties are broken by index: by flattened position, and globally
    by the order of the names in `scores`, then position, so the result equals a stable sort of the
    scores and is bit-identical on every run and machine. NaN scores rank last. `largest=False` keeps
    the lowest scores instead (GraSP). Returns bool masks on the CPU with each score's shape.
    """
    _check_scores(scores)
    if scope not in ("global", "layer"):
        raise ValueError(f"scope must be 'global' or 'layer', got {scope!r}")
    if not isinstance(largest, bool):
        raise TypeError(f"largest must be a bool, got {largest!r}")
    keys = {name: _keep_key(score, largest) for name, score in scores.items()}
    if scope == "layer":
        densities = _per_name_densities(list(scores), density)
        return {
            name: torch.from_numpy(_select(key, _keep_count(densities[name], key.size))).reshape(
                scores[name].shape
            )
            for name, key in keys.items()
        }
    if isinstance(density, Mapping):
        raise TypeError("density must be a single float when scope='global' (a mapping needs scope='layer')")
    flat = np.concatenate([key for key in keys.values()])
    keep = _select(flat, _keep_count(_density(density), flat.size))
    masks: dict[str, Tensor] = {}
    start = 0
    for name, key in keys.items():
        masks[name] = torch.from_numpy(keep[start : start + key.size].copy()).reshape(scores[name].shape)
        start += key.size
    return masks


def _keep_key(score: Tensor, largest: bool) -> npt.NDArray[np.float64]:
    """Flattened float64 copy of `score` in which higher means keep."""
    key = score.detach().to(device="cpu", dtype=torch.float64).reshape(-1).numpy()
    return key if largest else -key  # read only: `_select` never writes into it


def _select(key: npt.NDArray[np.float64], k: int) -> npt.NDArray[np.bool_]:
    """Keep the k largest entries of `key`, ties to the lowest index, NaN last.

    Equal to taking the first k of a stable ascending sort of -key (NaN sorted to the end), but O(n):
    a partition finds the k-th largest value t, everything above t is kept and the remaining slots go
    to the entries equal to t in index order. SynFlow calls this once per round.
    """
    n = key.size
    keep = np.zeros(n, dtype=bool)
    if k <= 0:
        return keep
    is_nan = np.isnan(key)
    valid = key[~is_nan] if is_nan.any() else key
    m = valid.size
    if k >= m:
        keep[~is_nan] = True
        keep[np.flatnonzero(is_nan)[: k - m]] = True
        return keep
    threshold = np.partition(valid, m - k)[m - k]
    np.greater(key, threshold, out=keep)
    remaining = k - int(np.count_nonzero(keep))
    keep[np.flatnonzero(key == threshold)[:remaining]] = True
    return keep


def _keep_count(density: float, numel: int) -> int:
    return int(round(density * numel))


# ---------------------------------------------------------------------------------------------------
# Data-free scores and masks
# ---------------------------------------------------------------------------------------------------


def magnitude_scores(targets: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """S = `|theta|` for each target (float64, CPU). Keep the top."""
    _check_tensor_mapping(targets, "targets")
    return {name: _to_cpu64(p.detach().abs()) for name, p in targets.items()}


def random_masks(targets: Mapping[str, Tensor], density: Density, seed: int) -> dict[str, Tensor]:
    """Uniform random masks keeping exactly round(density * numel) entries of each target.

    `density` is a float or a mapping name -> density covering every target. One `torch.Generator` on
    the CPU seeded with `seed` draws `torch.randperm(numel)` for each target in the order of `targets`,
    so the masks are identical on every run and machine for a given torch version.
    """
    _check_tensor_mapping(targets, "targets")
    densities = _per_name_densities(list(targets), density)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2**64:
        raise ValueError(f"seed must be an integer in [0, 2**64), got {seed!r}")
    generator = torch.Generator(device="cpu")
    generator.manual_seed(int(seed))
    masks: dict[str, Tensor] = {}
    for name, target in targets.items():
        numel = target.numel()
        flat = torch.zeros(numel, dtype=torch.bool)
        flat[torch.randperm(numel, generator=generator)[: _keep_count(densities[name], numel)]] = True
        masks[name] = flat.reshape(target.shape)
    return masks


def synflow_scores(
    model: nn.Module,
    targets: Mapping[str, nn.Parameter],
    input_shape: Sequence[int] | None = None,
    *,
    masks: Mapping[str, Tensor] | None = None,
    dtype: torch.dtype | None = torch.float64,
    batch: Any = None,
    forward_fn: Callable[[nn.Module, Any], Any] | None = None,
) -> dict[str, Tensor]:
    """One-shot SynFlow scores S = `|theta ⊙ dR/dtheta|`, R = 1^T (prod_l `|theta^l|`) 1
    (Tanaka et al., eq. 2).

    R is the sum of the outputs of `model` in eval mode (as the authors' code, so BatchNorm applies the
    absolute values of its running statistics and affine parameters) on one all-ones input of shape
    `(1, *input_shape)`, with every floating parameter and buffer replaced by its absolute value and the
    targets multiplied by `masks` (bool, default all kept; masked entries score 0). `input_shape` is the
    per-sample input shape; it may be omitted only when the model's first layer is nn.Linear.
    `dtype=float64` (default) evaluates R in double precision, which keeps R finite in deep networks
    where float32 overflows (the authors' code has this as a commented-out `model.double()`); None keeps
    the model's dtypes. Keep the top.

    Models that do not take one float tensor (token ids, keyword inputs): give `batch`, the input to
    use instead of the all-ones one (a tensor, or a mapping of keyword tensors passed as
    `model(**batch)`; its floating tensors are set to ones), and optionally `forward_fn(model, batch)`
    returning the outputs whose sum is R (default: the model's output, or its `.logits`).
    """
    names, params = _check_targets(model, targets)
    keep = _device_masks(names, params, masks)
    with _untouched(model, params):
        weights = _linearise(model, params, dtype)
        run = _synflow_input(model, input_shape, batch, forward_fn, weights[0])
        scores = _synflow_pass(model, params, weights, keep, run)
    return {name: _to_cpu64(score) for name, score in zip(names, scores)}


def synflow_masks(
    model: nn.Module,
    targets: Mapping[str, nn.Parameter],
    density: float,
    rounds: int = 100,
    input_shape: Sequence[int] | None = None,
    *,
    dtype: torch.dtype | None = torch.float64,
    progress: bool | None = None,
    batch: Any = None,
    forward_fn: Callable[[nn.Module, Any], Any] | None = None,
) -> dict[str, Tensor]:
    """SynFlow masks (Tanaka et al. 2020, Algorithm 1): iterative, data-free, global.

    Round k = 1..rounds recomputes the scores of `synflow_scores` on the network masked so far and keeps
    exactly round(density**(k/rounds) * total) weights globally (the exponential schedule). A weight
    pruned in one round never returns: in the authors' code its score is 0 <= threshold; here pruned
    weights rank below every kept one, so ties at zero score cannot revive them. Returns bool masks on
    the CPU keeping exactly round(density * total) weights. progress: over the rounds
    (`ramcore.progress`; None: a bar on a terminal). `batch`, `forward_fn`: as in `synflow_scores`.
    """
    names, params = _check_targets(model, targets)
    show = check_progress(progress)
    final = _density(density)
    if isinstance(rounds, bool) or not isinstance(rounds, numbers.Integral) or rounds < 1:
        raise ValueError(f"rounds must be an integer >= 1, got {rounds!r}")
    if batch is None:
        _input_shape(model, input_shape)  # checked before any work
    keep = _device_masks(names, params, None)
    with _untouched(model, params), Progress(int(rounds), "synflow", "round", show) as bar:
        weights = _linearise(model, params, dtype)
        run = _synflow_input(model, input_shape, batch, forward_fn, weights[0])
        for k in range(1, int(rounds) + 1):
            scores = _synflow_pass(model, params, weights, keep, run)
            ranked = {
                name: score.masked_fill(~mask, -math.inf) for name, score, mask in zip(names, scores, keep)
            }
            chosen = topk_masks(ranked, final ** (k / rounds), scope="global")
            keep = [chosen[name].to(p.device) for name, p in zip(names, params)]
            bar.update()
    return {name: mask.cpu() for name, mask in zip(names, keep)}


def _linearise(model: nn.Module, params: Sequence[nn.Parameter], dtype: torch.dtype | None) -> list[Tensor]:
    """theta -> |theta| (in `dtype`) for every floating parameter and buffer: Synaptic-Flow's `linearize`.

    Swaps `.data` (restored by `_untouched`), so the original storage is never written. Returns the
    absolute target weights.
    """
    model.eval()
    for tensor in itertools.chain(model.parameters(), model.buffers()):
        if tensor.is_floating_point():
            tensor.data = tensor.data.abs().to(dtype or tensor.dtype)
    return [p.data for p in params]


def _synflow_pass(
    model: nn.Module,
    params: Sequence[nn.Parameter],
    weights: Sequence[Tensor],
    keep: Sequence[Tensor],
    run: Callable[[], Any],
) -> list[Tensor]:
    """|theta ⊙ dR/dtheta| of the linearised network with targets |theta| ⊙ mask."""
    for p, weight, mask in zip(params, weights, keep):
        p.data = weight * mask
    output = run()
    if not isinstance(output, Tensor):
        raise TypeError(
            f"synflow: the outputs must be a Tensor (or have .logits), got {type(output).__name__}; "
            "pass forward_fn(model, batch) returning them"
        )
    flow = output.sum()
    if not torch.isfinite(flow):
        raise FloatingPointError(
            f"synflow: R = {flow.item()} is not finite; use dtype=torch.float64 (or check the model)"
        )
    grads = torch.autograd.grad(flow, list(params), allow_unused=True)
    return [_or_zeros(g, p).mul(p.detach()).abs() for g, p in zip(grads, params)]


def _synflow_input(
    model: nn.Module,
    input_shape: Sequence[int] | None,
    batch: Any,
    forward_fn: Callable[[nn.Module, Any], Any] | None,
    like: Tensor,
) -> Callable[[], Any]:
    """The forward call of SynFlow's linearised network: on all ones of `input_shape`, or on `batch`."""
    if batch is None:
        if forward_fn is not None:
            raise ValueError("synflow: forward_fn needs a batch (the input to run it on)")
        ones = torch.ones((1, *_input_shape(model, input_shape)), dtype=like.dtype, device=like.device)
        return lambda: _synflow_output(model(ones))
    if not _is_one_batch(batch):
        raise TypeError(f"synflow: batch must be a tensor, a tuple of them or a mapping, got {type(batch)}")
    ones = _to_device(batch, like.device, ones_like=like.dtype)
    if forward_fn is not None:
        return lambda: _synflow_output(forward_fn(model, ones))
    if isinstance(ones, Mapping):
        return lambda: _synflow_output(model(**ones))
    return lambda: _synflow_output(model(ones) if isinstance(ones, Tensor) else model(*ones))


def _synflow_output(output: Any) -> Any:
    logits = getattr(output, "logits", None)
    return logits if not isinstance(output, Tensor) and isinstance(logits, Tensor) else output


def _input_shape(model: nn.Module, input_shape: Sequence[int] | None) -> tuple[int, ...]:
    if input_shape is None:
        first = next((m for m in model.modules() if any(True for _ in m.parameters(recurse=False))), None)
        if isinstance(first, nn.Linear):
            return (first.in_features,)
        raise ValueError(
            "input_shape is required (the per-sample input shape without the batch dimension, e.g. "
            "(3, 32, 32)); it can only be inferred when the model's first layer is nn.Linear"
        )
    if isinstance(input_shape, (str, bytes)) or not isinstance(input_shape, Sequence):
        raise TypeError(f"input_shape must be a sequence of positive ints, got {input_shape!r}")
    shape = tuple(input_shape)
    if not all(isinstance(d, numbers.Integral) and not isinstance(d, bool) and d > 0 for d in shape):
        raise ValueError(f"input_shape must be a sequence of positive ints, got {input_shape!r}")
    return tuple(int(d) for d in shape)


def _device_masks(
    names: Sequence[str], params: Sequence[nn.Parameter], masks: Mapping[str, Tensor] | None
) -> list[Tensor]:
    if masks is None:
        return [torch.ones(p.shape, dtype=torch.bool, device=p.device) for p in params]
    _check_tensor_mapping(masks, "masks")
    if set(masks) != set(names):
        raise ValueError(
            f"masks must have exactly the names of targets; got {sorted(masks)}, want {list(names)}"
        )
    out = []
    for name, p in zip(names, params):
        mask = masks[name]
        if mask.dtype != torch.bool or mask.shape != p.shape:
            raise ValueError(
                f"masks[{name!r}] must be a bool tensor of shape {tuple(p.shape)}, "
                f"got {mask.dtype} of shape {tuple(mask.shape)}"
            )
        out.append(mask.to(p.device))
    return out


# ---------------------------------------------------------------------------------------------------
# Data-dependent scores
# ---------------------------------------------------------------------------------------------------


def snip_scores(
    model: nn.Module,
    targets: Mapping[str, nn.Parameter],
    batch: BatchSource,
    loss_fn: LossFn = F.cross_entropy,
    *,
    batches: int | None = 1,
    train_mode: bool = True,
    forward_fn: ForwardFn | None = None,
) -> dict[str, Tensor]:
    """SNIP connection sensitivity S = `|theta ⊙ g|` / sum `|theta ⊙ g|` (Lee et al. 2019, eq. 6).
    Keep the top.

    `batch` is an `(inputs, labels)` pair or an iterable of them (a DataLoader); the first `batches` of
    them are used (None: all) and g is the sum of their gradients dL_b/dtheta (as Synaptic-Flow's SNIP
    accumulates `.backward()` over its prune loader; the normalisation makes sum and mean equivalent).
    Batches are moved to the device of the first target. `train_mode=True` (default) scores the model in
    training mode, as the authors' code scores a freshly built network (BatchNorm uses batch statistics);
    running statistics and modes are restored afterwards. Keyword batches and `forward_fn`: module
    docstring.
    """
    names, params = _check_targets(model, targets)
    data = _collect_batches(batch, batches, params[0].device, forward_fn)
    objective = _objective(loss_fn, forward_fn, 1.0)
    with _untouched(model, params):
        model.train(train_mode)
        grads = _summed_gradients(model, params, data, objective)
        # dL/dc at c = 1 for L(c ⊙ theta) is theta ⊙ dL/dtheta (chain rule), the paper's g_j.
        scores = [_to_cpu64((g * p.detach()).abs()) for g, p in zip(grads, params)]
    total = float(sum(float(s.sum()) for s in scores))
    if total > 0.0:
        scores = [s / total for s in scores]
    return dict(zip(names, scores))


def grasp_scores(
    model: nn.Module,
    targets: Mapping[str, nn.Parameter],
    batch: BatchSource,
    loss_fn: LossFn = F.cross_entropy,
    temperature: float = 200.0,
    *,
    batches: int | None = 1,
    train_mode: bool = True,
    forward_fn: ForwardFn | None = None,
) -> dict[str, Tensor]:
    """GraSP scores S = -theta ⊙ Hg / (`|sum S|` + 1e-10) (Wang et al. 2020, eq. 8). REMOVE the top.

    Follows the authors' code: the loss is taken on `model(inputs) / temperature`; g = sum_b dL_b/dtheta
    over the first `batches` batches (None: all), computed without a graph; then
    Hg = sum_b d(g^T dL_b/dtheta)/dtheta by double backward on the same batches. Keep the lowest scores:
    `topk_masks(scores, density, largest=False)` or `grasp_masks`. Batches, device and `train_mode` as
    in `snip_scores` (the authors' code scores the network in training mode).
    """
    names, params = _check_targets(model, targets)
    data = _collect_batches(batch, batches, params[0].device, forward_fn)
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) or not temperature > 0:
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")
    objective = _objective(loss_fn, forward_fn, float(temperature))
    with _untouched(model, params):
        model.train(train_mode)
        grad = _summed_gradients(model, params, data, objective)
        hessian_grad = _hessian_gradient_product(model, params, data, objective, grad)
        scores = [_to_cpu64(-(p.detach() * hg)) for p, hg in zip(params, hessian_grad)]
    norm = abs(float(sum(float(s.sum()) for s in scores))) + _GRASP_EPS
    return {name: s / norm for name, s in zip(names, scores)}


def prospr_scores(
    model: nn.Module,
    targets: Mapping[str, nn.Parameter],
    batch: BatchSource,
    loss_fn: LossFn = F.cross_entropy,
    *,
    steps: int = 3,
    lr: float = 0.1,
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    train_mode: bool = True,
    forward_fn: ForwardFn | None = None,
) -> dict[str, Tensor]:
    """ProsPr meta-gradient scores `|dL(theta_K)/dc|` at c = 1 (Alizadeh et al. 2022). Keep the top.

    `batch`: one `(inputs, labels)` pair or an iterable of them; step k uses batch k (cycling when
    there are fewer than steps + 1), the last one scores theta_K. Every floating parameter takes the
    SGD steps (only the targets are gated), as the authors' functional SGD does; BatchNorm statistics
    and the model itself are left untouched. steps=3 follows the paper.
    """
    from torch.func import functional_call

    names, params = _check_targets(model, targets)
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    for what, value in (("lr", lr), ("momentum", momentum), ("weight_decay", weight_decay)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
            raise ValueError(f"{what} must be a non-negative number, got {value!r}")
    data = _collect_batches(batch, int(steps) + 1, params[0].device, forward_fn)
    objective = _objective(loss_fn, forward_fn, 1.0)
    call = _Call(model, objective)  # functional_call substitutes theta inside `call.model`

    def loss_at(theta: dict[str, Tensor], batch: Any) -> Tensor:
        params = {f"model.{n}": t for n, t in theta.items()}
        return functional_call(call, (params, {f"model.{n}": b for n, b in buffers.items()}), (batch,))

    with _untouched(model, params):
        model.train(train_mode)
        named = {n: p for n, p in model.named_parameters() if p.is_floating_point()}
        buffers = dict(model.named_buffers())
        gates = {n: torch.ones_like(named[n], requires_grad=True) for n in names}
        theta = {n: p.detach().requires_grad_(True) for n, p in named.items()}
        theta.update({n: named[n].detach() * gates[n] for n in names})  # theta_0 = c ⊙ theta
        velocity: dict[str, Tensor] = {}
        for k in range(int(steps)):
            loss = loss_at(theta, data[k % len(data)])
            grads = torch.autograd.grad(loss, list(theta.values()), create_graph=True, allow_unused=True)
            for (n, t), g in zip(list(theta.items()), grads):
                d = (torch.zeros_like(t) if g is None else g) + weight_decay * t
                velocity[n] = d if n not in velocity else momentum * velocity[n] + d
                theta[n] = t - lr * velocity[n]
        loss = loss_at(theta, data[int(steps) % len(data)])
        meta = torch.autograd.grad(loss, [gates[n] for n in names], allow_unused=True)
    return {n: _to_cpu64(_or_zeros(g, gates[n]).abs()) for n, g in zip(names, meta)}


def grasp_masks(
    model: nn.Module,
    targets: Mapping[str, nn.Parameter],
    batch: BatchSource,
    density: float,
    loss_fn: LossFn = F.cross_entropy,
    temperature: float = 200.0,
    *,
    batches: int | None = 1,
    train_mode: bool = True,
    forward_fn: ForwardFn | None = None,
) -> dict[str, Tensor]:
    """GraSP masks: the global round(density * total) lowest `grasp_scores` are kept (the top removed)."""
    scores = grasp_scores(
        model, targets, batch, loss_fn, temperature, batches=batches, train_mode=train_mode,
        forward_fn=forward_fn,
    )
    return topk_masks(scores, density, scope="global", largest=False)


Objective = Callable[[nn.Module, Any], Tensor]


def _summed_gradients(
    model: nn.Module, params: Sequence[nn.Parameter], data: Sequence[Any], objective: Objective
) -> list[Tensor]:
    """sum over batches of dL_b/dtheta, without a graph (unused: zeros)."""
    total = [torch.zeros_like(p) for p in params]
    for batch in data:
        grads = torch.autograd.grad(objective(model, batch), list(params), allow_unused=True)
        for acc, g in zip(total, grads):
            if g is not None:
                acc.add_(g.detach())
    return total


def _hessian_gradient_product(
    model: nn.Module,
    params: Sequence[nn.Parameter],
    data: Sequence[Any],
    objective: Objective,
    grad: Sequence[Tensor],
) -> list[Tensor]:
    """sum over batches of H_b g = d(g^T dL_b/dtheta)/dtheta with g held constant (GraSP's `z.backward()`)."""
    total = [torch.zeros_like(p) for p in params]
    for batch in data:
        loss = objective(model, batch)
        grads = torch.autograd.grad(loss, list(params), create_graph=True, allow_unused=True)
        terms = [(g_const * g).sum() for g_const, g in zip(grad, grads) if g is not None and g.requires_grad]
        if not terms:
            continue
        products = torch.autograd.grad(torch.stack(terms).sum(), list(params), allow_unused=True)
        for acc, hg in zip(total, products):
            if hg is not None:
                acc.add_(hg.detach())
    return total


def _objective(loss_fn: LossFn, forward_fn: ForwardFn | None, temperature: float) -> Objective:
    """The loss of one batch, as the module docstring describes (`forward_fn`, keyword or pair batch)."""
    if forward_fn is not None:
        if not callable(forward_fn):
            raise TypeError(f"forward_fn must be callable (model, batch) -> loss, got {forward_fn!r}")

        def given(model: nn.Module, batch: Any) -> Tensor:
            return _scalar(forward_fn(model, batch), "forward_fn(model, batch)")

        return given
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable (outputs, labels) -> loss, got {loss_fn!r}")

    def default(model: nn.Module, batch: Any) -> Tensor:
        if isinstance(batch, Mapping):
            return _scalar(_loss_of(model(**batch)), "model(**batch).loss")
        inputs, labels = batch
        return _scalar(loss_fn(_logits(model(inputs)) / temperature, labels), "loss_fn(outputs, labels)")

    return default


class _Call(nn.Module):
    """`objective(model, batch)` as a module, so `torch.func.functional_call` can substitute weights."""

    def __init__(self, model: nn.Module, objective: Objective) -> None:
        super().__init__()
        self.model = model
        self.objective = objective

    def forward(self, batch: Any) -> Tensor:
        return self.objective(self.model, batch)


def _logits(output: object) -> Tensor:
    """A model's output tensor: the output itself, or the `logits` of an output object."""
    if isinstance(output, Tensor):
        return output
    logits = getattr(output, "logits", None)
    if isinstance(logits, Tensor):
        return logits
    raise TypeError(
        f"the model returned {type(output).__name__}, not a tensor or an object with .logits; pass "
        "forward_fn(model, batch) -> loss"
    )


def _loss_of(output: object) -> Any:
    """The loss a model computed itself for a keyword batch (Hugging Face: given `labels`)."""
    loss = output.get("loss") if isinstance(output, Mapping) else getattr(output, "loss", None)
    if loss is None:
        raise TypeError(
            f"the model returned {type(output).__name__} without a loss for the keyword batch: include "
            "the labels in the batch, or pass forward_fn(model, batch) -> loss"
        )
    return loss


def _scalar(loss: object, what: str) -> Tensor:
    if not isinstance(loss, Tensor) or loss.numel() != 1 or not loss.is_floating_point():
        got = f"a tensor of shape {tuple(loss.shape)}" if isinstance(loss, Tensor) else type(loss).__name__
        raise TypeError(f"{what} must be a scalar floating-point loss tensor, got {got}")
    return loss.reshape(())


# ---------------------------------------------------------------------------------------------------
# Leaving the model untouched, argument checks
# ---------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _untouched(model: nn.Module, targets: Sequence[nn.Parameter]) -> Iterator[None]:
    """Score inside; afterwards the model is exactly as before.

    Buffers get private copies (train-mode BatchNorm updates those); parameters may have their `.data`
    swapped (SynFlow), and the original tensors are put back, so values, storage and dtypes are
    unchanged. requires_grad (targets are switched on), .grad and every module's mode are restored.
    Gradients are taken with `torch.autograd.grad`, so `.grad` is never written in the first place.
    """
    modes = [(m, m.training) for m in model.modules()]
    saved = [(p, p.data, p.requires_grad, p.grad) for p in model.parameters()]
    buffers = [(b, b.data) for b in model.buffers()]
    try:
        for b, data in buffers:
            b.data = data.clone()
        for p in targets:
            p.requires_grad_(True)
        with torch.enable_grad():
            yield
    finally:
        for b, data in buffers:
            b.data = data
        for p, data, requires_grad, grad in saved:
            p.data = data
            p.requires_grad_(requires_grad)
            p.grad = grad
        for m, training in modes:
            m.training = training


def _check_targets(
    model: nn.Module, targets: Mapping[str, nn.Parameter]
) -> tuple[list[str], list[nn.Parameter]]:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    _check_tensor_mapping(targets, "targets")
    named = dict(model.named_parameters())
    for name, p in targets.items():
        if name not in named:
            raise ValueError(
                f"targets: {name!r} is not a parameter of model; model.named_parameters() has {list(named)}"
            )
        if named[name] is not p:
            raise ValueError(f"targets[{name!r}] is not the parameter model.{name} itself")
        if not p.is_floating_point():
            raise TypeError(f"targets[{name!r}] must be a floating-point parameter, got {p.dtype}")
    return list(targets), list(targets.values())


def _check_tensor_mapping(tensors: object, argument: str) -> None:
    if not isinstance(tensors, Mapping) or not tensors:
        raise ValueError(f"{argument} must be a non-empty mapping name -> tensor, got {tensors!r}")
    for name, tensor in tensors.items():
        if not isinstance(name, str):
            raise TypeError(f"{argument}: names must be str, got {name!r}")
        if not isinstance(tensor, Tensor):
            raise TypeError(f"{argument}[{name!r}] must be a torch.Tensor, got {type(tensor).__name__}")


def _check_scores(scores: object) -> None:
    _check_tensor_mapping(scores, "scores")
    assert isinstance(scores, Mapping)
    for name, score in scores.items():
        if score.is_complex() or score.dtype == torch.bool:
            raise TypeError(f"scores[{name!r}] must be a real-valued tensor, got {score.dtype}")


def _per_name_densities(names: Sequence[str], density: Density) -> dict[str, float]:
    return per_name(density, names, "density", _density)


def _collect_batches(
    source: Any, batches: int | None, device: torch.device, forward_fn: ForwardFn | None = None
) -> list[Any]:
    """The first `batches` batches of `source` (one batch, or an iterable of them), on `device`.

    One batch is an `(inputs, labels)` pair, a mapping of keyword tensors, a tensor or a tuple of
    tensors (the last two with `forward_fn`). Collected once, so GraSP's two passes see the same data
    even from a shuffling DataLoader.
    """
    if batches is not None and (isinstance(batches, bool) or not isinstance(batches, int) or batches < 1):
        raise ValueError(f"batches must be a positive int or None (all), got {batches!r}")
    if _is_one_batch(source):
        items: Iterable[Any] = [source]
    elif isinstance(source, Iterable) and not isinstance(source, (str, bytes)):
        items = source
    else:
        raise TypeError(
            "batch must be an (inputs, labels) pair, a mapping of keyword tensors, or an iterable of "
            f"them, got {type(source).__name__}"
        )
    data = []
    for item in itertools.islice(items, batches):
        if forward_fn is None and not (_is_pair(item) or isinstance(item, Mapping)):
            raise TypeError(
                "batch: each item must be an (inputs, labels) pair of tensors or a mapping of keyword "
                f"tensors, got {type(item).__name__}; pass forward_fn(model, batch) -> loss for others"
            )
        data.append(_to_device(item, device))
    if not data:
        raise ValueError("batch: the iterable yielded no batches (no (inputs, labels) pairs or mappings)")
    return data


def _is_pair(item: object) -> bool:
    return isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], Tensor)


def _is_one_batch(item: object) -> bool:
    if isinstance(item, (Tensor, Mapping)) or _is_pair(item):
        return True
    return isinstance(item, (tuple, list)) and len(item) > 0 and all(isinstance(x, Tensor) for x in item)


def _to_device(value: Any, device: torch.device, ones_like: torch.dtype | None = None) -> Any:
    """`value`'s tensors on `device`; with `ones_like`, its floating tensors become ones of that dtype."""
    if isinstance(value, Tensor):
        if ones_like is not None and value.is_floating_point():
            return torch.ones(value.shape, dtype=ones_like, device=device)
        return value.to(device)
    if isinstance(value, (tuple, list)):
        return type(value)(_to_device(v, device, ones_like) for v in value)
    if isinstance(value, Mapping):
        return {k: _to_device(v, device, ones_like) for k, v in value.items()}
    return value


def _or_zeros(grad: Tensor | None, like: Tensor) -> Tensor:
    return torch.zeros_like(like) if grad is None else grad


def _to_cpu64(tensor: Tensor) -> Tensor:
    return tensor.detach().to(device="cpu", dtype=torch.float64)
