"""Pruning-at-initialisation scores and exact top-k masks (ramcore.torch.scores)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from ramcore.torch import scores as S  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Any:
    """Tiny tensors: intra-op threads only add contention on a busy 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ---------------------------------------------------------------------------------------------------
# Small models
# ---------------------------------------------------------------------------------------------------


def mlp(seed: int = 0, dtype: torch.dtype = torch.float32) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 12), nn.ReLU(), nn.Linear(12, 10), nn.ReLU(), nn.Linear(10, 4)).to(
        dtype
    )


def cnn(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Conv2d(4, 6, 3, padding=1, bias=False),
        nn.BatchNorm2d(6),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(6, 3),
    )


def weights(model: nn.Module) -> dict[str, nn.Parameter]:
    return {name: p for name, p in model.named_parameters() if name.endswith("weight") and p.dim() > 1}


def mlp_batch(n: int = 16, seed: int = 1, dtype: torch.dtype = torch.float32) -> tuple[Any, Any]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 6, generator=g, dtype=dtype), torch.randint(0, 4, (n,), generator=g)


def cnn_batch(n: int = 8, seed: int = 1) -> tuple[Any, Any]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, 8, 8, generator=g), torch.randint(0, 3, (n,), generator=g)


def counts(masks: dict[str, Any]) -> dict[str, int]:
    return {name: int(m.sum()) for name, m in masks.items()}


# ---------------------------------------------------------------------------------------------------
# topk_masks
# ---------------------------------------------------------------------------------------------------


def reference_topk(scores: dict[str, Any], k: int, largest: bool) -> dict[str, Any]:
    """First k of a stable sort (numpy puts NaN last), over the names in order then position."""
    flat = np.concatenate([s.double().reshape(-1).numpy() for s in scores.values()])
    order = np.argsort(-flat if largest else flat, kind="stable")
    keep = np.zeros(flat.size, dtype=bool)
    keep[order[:k]] = True
    out, start = {}, 0
    for name, s in scores.items():
        out[name] = torch.from_numpy(keep[start : start + s.numel()].copy()).reshape(s.shape)
        start += s.numel()
    return out


@pytest.mark.parametrize("density", [0.013, 0.1, 0.25, 0.5, 0.77, 1.0])
def test_topk_exact_counts(density: float) -> None:
    g = torch.Generator().manual_seed(3)
    scores = {
        "a": torch.randn(7, 11, generator=g),
        "b": torch.randn(3, 4, 5, generator=g),
        "c": torch.randn(9),
    }
    layer = S.topk_masks(scores, density, scope="layer")
    assert counts(layer) == {n: round(density * s.numel()) for n, s in scores.items()}
    glob = S.topk_masks(scores, density)
    assert sum(counts(glob).values()) == round(density * 77 + density * 60 + density * 9)
    for masks in (layer, glob):
        for name, mask in masks.items():
            assert mask.dtype == torch.bool and mask.device.type == "cpu" and mask.shape == scores[name].shape


@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("seed", range(4))
def test_topk_equals_stable_sort_with_ties_and_nan(largest: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores = {}
    for name, shape in [("x", (5, 8)), ("y", (13,)), ("z", (2, 3, 4))]:
        values = rng.integers(-3, 4, size=shape).astype(np.float64)  # many ties
        values[rng.random(shape) < 0.1] = np.nan
        values[rng.random(shape) < 0.05] = -np.inf
        scores[name] = torch.from_numpy(values)
    total = sum(s.numel() for s in scores.values())
    for density in (0.05, 0.3, 0.6, 0.95, 1.0):
        got = S.topk_masks(scores, density, largest=largest)
        want = reference_topk(scores, round(density * total), largest)
        assert all(torch.equal(got[n], want[n]) for n in scores)
        got_layer = S.topk_masks(scores, density, scope="layer", largest=largest)
        for name, s in scores.items():
            want_layer = reference_topk({name: s}, round(density * s.numel()), largest)[name]
            assert torch.equal(got_layer[name], want_layer)


def test_topk_all_equal_keeps_first_k() -> None:
    scores = {"b": torch.ones(2, 3), "a": torch.ones(4)}
    layer = S.topk_masks(scores, 0.5, scope="layer")
    assert layer["b"].reshape(-1).tolist() == [True, True, True, False, False, False]
    assert layer["a"].tolist() == [True, True, False, False]
    # globally: names in the order given ("b" before "a"), then position
    glob = S.topk_masks(scores, 0.5)  # k = 5
    assert glob["b"].reshape(-1).tolist() == [True] * 5 + [False] and not glob["a"].any()
    glob = S.topk_masks(scores, 0.6)  # k = 6
    assert glob["b"].all() and not glob["a"].any()
    glob = S.topk_masks(scores, 0.7)  # k = 7
    assert glob["b"].all() and glob["a"].tolist() == [True, False, False, False]


def test_topk_nan_ranks_last() -> None:
    scores = {"w": torch.tensor([math.nan, -5.0, math.nan, 1.0])}
    assert S.topk_masks(scores, 0.5)["w"].tolist() == [False, True, False, True]
    assert S.topk_masks(scores, 0.75)["w"].tolist() == [True, True, False, True]
    assert S.topk_masks(scores, 0.25, largest=False)["w"].tolist() == [False, True, False, False]


def test_topk_per_layer_density_mapping() -> None:
    scores = {"a": torch.arange(10.0), "b": torch.arange(20.0)}
    masks = S.topk_masks(scores, {"a": 0.3, "b": 0.05}, scope="layer")
    assert masks["a"].tolist() == [False] * 7 + [True] * 3
    assert counts(masks) == {"a": 3, "b": 1} and bool(masks["b"][19])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"density": 0.0}, ValueError, "density"),
        ({"density": 1.5}, ValueError, "density"),
        ({"density": math.nan}, ValueError, "density"),
        ({"density": True}, TypeError, "density"),
        ({"density": "0.5"}, TypeError, "density"),
        ({"density": {"a": 0.5}}, TypeError, "scope='layer'"),
        ({"density": {"a": 0.5}, "scope": "layer"}, ValueError, "missing"),
        ({"density": {"a": 0.5, "b": 0.5, "c": 0.1}, "scope": "layer"}, ValueError, "unknown"),
        ({"density": {"a": 0.5, "b": 2.0}, "scope": "layer"}, ValueError, "density\\['b'\\]"),
        ({"density": 0.5, "scope": "layers"}, ValueError, "scope"),
        ({"density": 0.5, "scores": {}}, ValueError, "scores"),
        ({"density": 0.5, "scores": {"a": [1.0, 2.0]}}, TypeError, "scores\\['a'\\]"),
        ({"density": 0.5, "scores": {"a": torch.ones(2, dtype=torch.bool)}}, TypeError, "real-valued"),
    ],
)
def test_topk_bad_inputs(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    args = {"scores": {"a": torch.ones(4), "b": torch.ones(3)}, **kwargs}
    with pytest.raises(error, match=match):
        S.topk_masks(args.pop("scores"), **args)


# ---------------------------------------------------------------------------------------------------
# magnitude, random
# ---------------------------------------------------------------------------------------------------


def test_magnitude_scores() -> None:
    model = mlp()
    targets = weights(model)
    scores = S.magnitude_scores(targets)
    for name, p in targets.items():
        assert scores[name].dtype == torch.float64 and torch.equal(scores[name], p.detach().abs().double())


def test_random_masks_exact_and_seeded() -> None:
    targets = weights(cnn())
    masks = S.random_masks(targets, 0.3, seed=7)
    assert counts(masks) == {n: round(0.3 * p.numel()) for n, p in targets.items()}
    again = S.random_masks(targets, 0.3, seed=7)
    other = S.random_masks(targets, 0.3, seed=8)
    assert all(torch.equal(masks[n], again[n]) for n in targets)
    assert not all(torch.equal(masks[n], other[n]) for n in targets)
    per = S.random_masks(targets, {n: 0.5 for n in targets}, seed=0)
    assert counts(per) == {n: round(0.5 * p.numel()) for n, p in targets.items()}
    with pytest.raises(ValueError, match="seed"):
        S.random_masks(targets, 0.3, seed=-1)
    with pytest.raises(ValueError, match="density"):
        S.random_masks(targets, 0.0, seed=0)


# ---------------------------------------------------------------------------------------------------
# SNIP
# ---------------------------------------------------------------------------------------------------


def connection_sensitivity(model: nn.Module, batches: list[tuple[Any, Any]]) -> dict[str, Any]:
    """The paper's definition: gates c = 1 on every connection, |dL(c ⊙ w)/dc| normalised."""
    targets = weights(model)
    gates = {n: torch.ones_like(p, requires_grad=True) for n, p in targets.items()}
    params = {n: p.detach() for n, p in model.named_parameters()}
    total = 0
    for inputs, labels in batches:
        gated = {**params, **{n: params[n] * gates[n] for n in gates}}
        total = total + F.cross_entropy(torch.func.functional_call(model, gated, (inputs,)), labels)
    grads = torch.autograd.grad(total, list(gates.values()))
    raw = {n: g.abs().double() for n, g in zip(gates, grads)}
    norm = sum(r.sum() for r in raw.values())
    return {n: r / norm for n, r in raw.items()}


def test_snip_equals_connection_sensitivity() -> None:
    model = mlp()
    batch = mlp_batch()
    scores = S.snip_scores(model, weights(model), batch)
    want = connection_sensitivity(model, [batch])
    for name in want:
        assert scores[name].dtype == torch.float64 and scores[name].device.type == "cpu"
        torch.testing.assert_close(scores[name], want[name], rtol=1e-5, atol=1e-9)
    assert math.isclose(sum(float(s.sum()) for s in scores.values()), 1.0, rel_tol=1e-12)


def test_snip_data_loader_accumulates_batches() -> None:
    model = mlp()
    inputs, labels = mlp_batch(24)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(inputs, labels), batch_size=8)
    chunks = [(inputs[i : i + 8], labels[i : i + 8]) for i in range(0, 24, 8)]
    two = S.snip_scores(model, weights(model), loader, batches=2)
    want = connection_sensitivity(model, chunks[:2])
    for name in want:
        torch.testing.assert_close(two[name], want[name], rtol=1e-5, atol=1e-9)
    first = S.snip_scores(model, weights(model), loader)  # batches=1: the first batch only
    single = S.snip_scores(model, weights(model), chunks[0])
    every = S.snip_scores(model, weights(model), chunks, batches=None)
    want_all = connection_sensitivity(model, chunks)
    for name in want:
        assert torch.equal(first[name], single[name])
        torch.testing.assert_close(every[name], want_all[name], rtol=1e-5, atol=1e-9)


# ---------------------------------------------------------------------------------------------------
# GraSP
# ---------------------------------------------------------------------------------------------------


def test_grasp_equals_hessian_gradient_product() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    torch.manual_seed(0)
    inputs, labels = torch.randn(10, 3, dtype=torch.float64), torch.randint(0, 2, (10,))
    targets = weights(model)
    names = list(targets)
    shapes = [targets[n].shape for n in names]
    sizes = [targets[n].numel() for n in names]
    others = {n: p.detach() for n, p in model.named_parameters() if n not in targets}
    T = 200.0

    def loss(flat: Any) -> Any:
        parts = {n: t.reshape(s) for n, t, s in zip(names, flat.split(sizes), shapes)}
        out = torch.func.functional_call(model, {**others, **parts}, (inputs,))
        return F.cross_entropy(out / T, labels)

    theta = torch.cat([targets[n].detach().reshape(-1) for n in names])
    hessian = torch.autograd.functional.hessian(loss, theta)
    grad = torch.autograd.functional.jacobian(loss, theta)
    raw = -theta * (hessian @ grad)  # eq. 8: S(-theta) = -theta ⊙ Hg
    want = raw / (raw.sum().abs() + 1e-10)
    scores = S.grasp_scores(model, targets, (inputs, labels))
    got = torch.cat([scores[n].reshape(-1) for n in names])
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)

    masks = S.grasp_masks(model, targets, (inputs, labels), 0.25)
    lowest = S.topk_masks(scores, 0.25, largest=False)  # the top scores are removed
    assert all(torch.equal(masks[n], lowest[n]) for n in names)
    kept = torch.cat([scores[n][masks[n]] for n in names])
    dropped = torch.cat([scores[n][~masks[n]] for n in names])
    assert kept.max() <= dropped.min()


# ---------------------------------------------------------------------------------------------------
# SynFlow
# ---------------------------------------------------------------------------------------------------


def test_synflow_flow_is_product_of_abs_weights() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 3, bias=False), nn.ReLU(), nn.Linear(3, 2, bias=False))
    w1, w2 = (model[0].weight.detach().abs().double(), model[2].weight.detach().abs().double())
    # R = 1^T |W2| |W1| 1 = sum_j (sum_i |W2_ij|) (sum_k |W1_jk|)
    flow = float((w2.sum(0) * w1.sum(1)).sum())
    scores = S.synflow_scores(model, weights(model))  # input_shape inferred from the first Linear
    # R is linear in each layer's weights, so each layer's scores sum to R (conservation, Tanaka eq. 3)
    assert math.isclose(float(scores["0.weight"].sum()), flow, rel_tol=1e-12)
    assert math.isclose(float(scores["2.weight"].sum()), flow, rel_tol=1e-12)
    torch.testing.assert_close(scores["0.weight"], w1 * w2.sum(0)[:, None], rtol=1e-12, atol=0)
    torch.testing.assert_close(scores["2.weight"], w2 * w1.sum(1)[None, :], rtol=1e-12, atol=0)
    # width-one hidden layer: R is the product of the layers' absolute weight sums
    narrow = nn.Sequential(nn.Linear(4, 1, bias=False), nn.Linear(1, 3, bias=False))
    s = S.synflow_scores(narrow, weights(narrow))
    product = float(
        narrow[0].weight.detach().abs().double().sum() * narrow[1].weight.detach().abs().double().sum()
    )
    assert math.isclose(float(s["0.weight"].sum()), product, rel_tol=1e-12)


def test_synflow_one_round_equals_one_shot_topk() -> None:
    model = cnn()
    targets = weights(model)
    one_shot = S.topk_masks(S.synflow_scores(model, targets, (3, 8, 8)), 0.2)
    masks = S.synflow_masks(model, targets, 0.2, rounds=1, input_shape=(3, 8, 8))
    assert all(torch.equal(masks[n], one_shot[n]) for n in targets)


def test_synflow_masks_exact_and_masked_scores_zero() -> None:
    model = cnn()
    targets = weights(model)
    masks = S.synflow_masks(model, targets, 0.1, rounds=10, input_shape=(3, 8, 8))
    total = sum(p.numel() for p in targets.values())
    assert sum(counts(masks).values()) == round(0.1 * total)
    scores = S.synflow_scores(model, targets, (3, 8, 8), masks=masks)
    assert all(float(scores[n][~masks[n]].abs().max()) == 0.0 for n in targets)


def test_synflow_avoids_layer_collapse_where_magnitude_does_not() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(10, 100),
        nn.ReLU(),
        nn.Linear(100, 100),
        nn.ReLU(),
        nn.Linear(100, 100),
        nn.ReLU(),
        nn.Linear(100, 10),
    )  # default init: the first layer's weights are ~3x larger, so magnitude spends the 1% there
    targets = weights(model)
    synflow = S.synflow_masks(model, targets, 0.01)
    magnitude = S.topk_masks(S.magnitude_scores(targets), 0.01)
    assert min(counts(synflow).values()) >= 1
    assert min(counts(magnitude).values()) == 0


# ---------------------------------------------------------------------------------------------------
# The model is left untouched; determinism; bad inputs
# ---------------------------------------------------------------------------------------------------

SCORERS: dict[str, Callable[[nn.Module, dict[str, Any]], dict[str, Any]]] = {
    "magnitude": lambda m, t: S.magnitude_scores(t),
    "snip": lambda m, t: S.snip_scores(m, t, cnn_batch()),
    "snip-eval": lambda m, t: S.snip_scores(m, t, cnn_batch(), train_mode=False),
    "grasp": lambda m, t: S.grasp_scores(m, t, cnn_batch()),
    "prospr": lambda m, t: S.prospr_scores(m, t, [cnn_batch(seed=s) for s in range(4)]),
    "synflow-scores": lambda m, t: S.synflow_scores(m, t, (3, 8, 8)),
    "synflow": lambda m, t: S.synflow_masks(m, t, 0.1, rounds=5, input_shape=(3, 8, 8)),
}


@pytest.mark.parametrize("method", list(SCORERS))
def test_scoring_leaves_model_unchanged(method: str) -> None:
    model = cnn()
    model.train()
    model[4].eval()  # mixed modes must come back as they were
    model(cnn_batch()[0]).sum().backward()  # existing .grad and BN running stats
    model[0].weight.grad = None
    model[3].weight.requires_grad_(False)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    pointers = {n: p.data_ptr() for n, p in model.named_parameters()}
    grads = {n: None if p.grad is None else p.grad.clone() for n, p in model.named_parameters()}
    requires = {n: p.requires_grad for n, p in model.named_parameters()}
    modes = [m.training for m in model.modules()]

    SCORERS[method](model, weights(model))

    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) and before[k].dtype == after[k].dtype for k in before)
    assert {n: p.data_ptr() for n, p in model.named_parameters()} == pointers
    assert {n: p.requires_grad for n, p in model.named_parameters()} == requires
    assert [m.training for m in model.modules()] == modes
    for name, p in model.named_parameters():
        assert (p.grad is None) if grads[name] is None else torch.equal(p.grad, grads[name])


@pytest.mark.parametrize("method", ["snip", "grasp", "synflow", "prospr"])
def test_two_calls_identical(method: str) -> None:
    model = cnn()
    first = SCORERS[method](model, weights(model))
    other = cnn()
    second = SCORERS[method](other, weights(other))
    assert all(torch.equal(first[n], second[n]) for n in first)


def test_prospr_is_the_meta_gradient_through_sgd_steps() -> None:
    """Central finite differences of c -> L(theta_K(c)), unrolled by hand, match the scores."""
    model = mlp(dtype=torch.float64)
    targets = weights(model)
    batches = [mlp_batch(seed=s, dtype=torch.float64) for s in range(3)]
    lr, momentum, decay = 0.05, 0.9, 1e-3
    scores = S.prospr_scores(model, targets, batches, steps=2, lr=lr, momentum=momentum, weight_decay=decay)
    assert set(scores) == set(targets) and all(s.dtype == torch.float64 for s in scores.values())
    params = dict(model.named_parameters())

    def final_loss(name: str, index: int, delta: float) -> float:
        theta = {n: p.detach().clone() for n, p in params.items()}
        for n in targets:
            gate = torch.ones_like(theta[n])
            if n == name:
                gate.view(-1)[index] += delta
            theta[n] = theta[n] * gate
        velocity: dict[str, Any] = {}
        for k in range(2):
            t = {n: v.clone().requires_grad_(True) for n, v in theta.items()}
            x, y = batches[k]
            loss = F.cross_entropy(torch.func.functional_call(model, t, (x,)), y)
            grads = torch.autograd.grad(loss, list(t.values()))
            for (n, v), g in zip(t.items(), grads):
                d = g + decay * v.detach()
                velocity[n] = d if n not in velocity else momentum * velocity[n] + d
                theta[n] = v.detach() - lr * velocity[n]
        x, y = batches[2]
        return float(F.cross_entropy(torch.func.functional_call(model, theta, (x,)), y))

    h = 1e-6
    for name in targets:
        for index in (0, 7, targets[name].numel() - 1):
            fd = (final_loss(name, index, h) - final_loss(name, index, -h)) / (2 * h)
            assert float(scores[name].view(-1)[index]) == pytest.approx(abs(fd), rel=1e-5, abs=1e-9)


def test_score_functions_bad_inputs() -> None:
    model = mlp()
    targets = weights(model)
    batch = mlp_batch()
    with pytest.raises(ValueError, match="targets: 'nope'"):
        S.snip_scores(model, {"nope": targets["0.weight"]}, batch)
    with pytest.raises(ValueError, match=r"targets\['0.weight'\] is not the parameter"):
        S.snip_scores(model, {"0.weight": nn.Parameter(torch.ones(12, 6))}, batch)
    with pytest.raises(ValueError, match="targets must be a non-empty"):
        S.grasp_scores(model, {}, batch)
    with pytest.raises(TypeError, match="model"):
        S.snip_scores(targets, targets, batch)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batches"):
        S.snip_scores(model, targets, batch, batches=0)
    with pytest.raises(TypeError, match="batch"):
        S.snip_scores(model, targets, 3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="pair"):
        S.snip_scores(model, targets, [batch[0], batch[0], batch[0]])
    with pytest.raises(ValueError, match="no \\(inputs, labels\\)"):
        S.snip_scores(model, targets, [])
    with pytest.raises(ValueError, match="temperature"):
        S.grasp_scores(model, targets, batch, temperature=0.0)
    with pytest.raises(ValueError, match="steps"):
        S.prospr_scores(model, targets, batch, steps=0)
    with pytest.raises(ValueError, match="lr"):
        S.prospr_scores(model, targets, batch, lr=-1.0)
    with pytest.raises(ValueError, match="rounds"):
        S.synflow_masks(model, targets, 0.1, rounds=0)
    with pytest.raises(ValueError, match="density"):
        S.synflow_masks(model, targets, 1.1)
    with pytest.raises(ValueError, match="input_shape is required"):
        conv = cnn()
        S.synflow_masks(conv, weights(conv), 0.1)
    with pytest.raises(ValueError, match="input_shape"):
        S.synflow_scores(model, targets, (6, 0))
    with pytest.raises(ValueError, match=r"masks\['0.weight'\]"):
        S.synflow_scores(model, targets, masks={n: torch.ones(2, dtype=torch.bool) for n in targets})
    with pytest.raises(TypeError, match=r"targets\['a'\]"):
        S.magnitude_scores({"a": [1.0]})  # type: ignore[dict-item]


def test_synflow_masks_report_progress(capsys: pytest.CaptureFixture[str]) -> None:
    model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))
    targets = {n: p for n, p in model.named_parameters() if n.endswith("weight")}
    quiet = S.synflow_masks(model, targets, 0.5, rounds=4, progress=False)
    assert capsys.readouterr().err == ""
    shown = S.synflow_masks(model, targets, 0.5, rounds=4, progress=True)
    assert "synflow: 4/4 rounds" in capsys.readouterr().err  # not a terminal: a status line
    assert all(torch.equal(quiet[n], shown[n]) for n in quiet)  # progress changes nothing else
