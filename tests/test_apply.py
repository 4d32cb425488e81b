"""ramcore.torch.apply: masks applied in both modes stay applied through training, copies and checkpoints."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from torch import Tensor, nn  # noqa: E402
from torch.nn.utils import prune  # noqa: E402

from ramcore.torch.apply import (  # noqa: E402
    MaskState,
    apply_masks,
    attach_saved_masks,
    masks_of,
    remove_masks,
)

MODES = ["inplace", "prune"]
OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=5e-4),
    "adam": lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=5e-4),
    "adamw": lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.05),
}


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """Tiny tensors: one intra-op thread is faster, and immune to oversubscription on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def mlp(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 4))


def random_masks(model: nn.Module, density: float = 0.2, seed: int = 1) -> dict[str, Tensor]:
    """Seeded random bool masks for every weight matrix (biases stay dense)."""
    gen = torch.Generator().manual_seed(seed)
    return {
        name: torch.rand(p.shape, generator=gen) < density
        for name, p in model.named_parameters()
        if "weight" in name
    }


def batch(seed: int = 2, n: int = 16, features: int = 8) -> tuple[Tensor, Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, features, generator=gen), torch.randn(n, 4, generator=gen)


def train(model: nn.Module, opt: torch.optim.Optimizer, steps: int = 3, device: str = "cpu") -> None:
    x, y = (t.to(device) for t in batch())
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()


def weight(model: nn.Module, name: str) -> Tensor:
    """The weight the forward pass uses: the parameter, or prune's recomputed `weight` attribute."""
    prefix, _, attr = name.rpartition(".")
    return getattr(model.get_submodule(prefix), attr)


def trainable(model: nn.Module, name: str) -> Tensor:
    """The Parameter an optimizer updates: `weight`, or prune's `weight_orig`."""
    params = dict(model.named_parameters())
    return params[name] if name in params else params[name + "_orig"]


def assert_masked(model: nn.Module, masks: dict[str, Tensor]) -> None:
    for name, mask in masks.items():
        w = weight(model, name).detach().cpu()
        assert torch.count_nonzero(w[~mask]) == 0, name
        assert torch.count_nonzero(w[mask]) == int(mask.sum()), name  # kept weights are alive


# --- training --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("created", ["before", "after"])
@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
@pytest.mark.parametrize("mode", MODES)
def test_masked_weights_stay_zero_through_training(mode: str, optimizer: str, created: str) -> None:
    model, masks = mlp(), random_masks(mlp())
    if created == "before":
        opt = OPTIMIZERS[optimizer](model.parameters())
        train(model, opt, steps=2)  # dense momentum / Adam moments that would revive pruned weights
        apply_masks(model, masks, mode=mode)
    else:
        apply_masks(model, masks, mode=mode)
        opt = OPTIMIZERS[optimizer](model.parameters())
    before = {n: trainable(model, n).detach().clone() for n in masks}
    train(model, opt, steps=4)
    assert_masked(model, masks)
    assert all(not torch.equal(before[n], trainable(model, n)) for n in masks)  # it did train


@pytest.mark.parametrize("mode", MODES)
def test_gradients_of_masked_entries_are_zero(mode: str) -> None:
    model, masks = mlp(), random_masks(mlp())
    apply_masks(model, masks, mode=mode)
    x, y = batch()
    nn.functional.mse_loss(model(x), y).backward()
    for name, mask in masks.items():
        grad = trainable(model, name).grad
        assert grad is not None
        assert torch.count_nonzero(grad[~mask]) == 0
        assert torch.count_nonzero(grad[mask]) > 0


def test_custom_optimizer_subclass_is_covered() -> None:
    class SignSGD(torch.optim.Optimizer):
        def __init__(self, params: object) -> None:
            super().__init__(params, {"lr": 0.1})

        @torch.no_grad()
        def step(self, closure: object = None) -> None:
            for group in self.param_groups:
                for p in group["params"]:
                    p.add_(torch.ones_like(p), alpha=-group["lr"])  # ignores gradients entirely

    model, masks = mlp(), random_masks(mlp())
    apply_masks(model, masks)
    train(model, SignSGD(model.parameters()))
    assert_masked(model, masks)


def test_frozen_and_dtype_changed_parameters() -> None:
    model, masks = mlp(), random_masks(mlp())
    model[0].weight.requires_grad_(False)
    apply_masks(model, masks)
    model.double()
    model[0].weight.requires_grad_(True)  # unfrozen after masking: hooked at the next step
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = batch()
    for _ in range(3):
        opt.zero_grad()
        nn.functional.mse_loss(model(x.double()), y.double()).backward()
        opt.step()
    assert_masked(model, masks)
    grad = model[0].weight.grad
    assert grad is not None and torch.count_nonzero(grad[~masks["0.weight"]]) == 0


# --- state --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_mask_state_api(mode: str) -> None:
    model, masks = mlp(), random_masks(mlp())
    state = apply_masks(model, masks, mode=mode)
    assert masks_of(model) is state and isinstance(state, MaskState) and state.mode == mode
    got = state.masks()
    assert set(got) == set(masks)
    for name, mask in masks.items():
        assert got[name].dtype == torch.bool and torch.equal(got[name], mask)
        assert state.density()[name] == pytest.approx(mask.float().mean().item())
    saved = state.state_dict()
    assert saved["mode"] == mode and all(m.dtype == torch.bool for m in saved["masks"].values())


@pytest.mark.parametrize("mode", MODES)
def test_load_state_dict_replaces_masks_and_zeroes_weights(mode: str) -> None:
    model = mlp()
    state = apply_masks(model, random_masks(model, seed=1), mode=mode)
    new = random_masks(mlp(), seed=5)
    state.load_state_dict({"mode": "inplace", "masks": new})
    assert all(torch.equal(state.masks()[n], m) for n, m in new.items())
    for name, mask in new.items():
        assert torch.count_nonzero(weight(model, name).detach()[~mask]) == 0
    train(model, torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
    assert torch.count_nonzero(weight(model, "2.weight").detach()[~new["2.weight"]]) == 0
    with pytest.raises(ValueError, match="missing"):
        state.load_state_dict({"masks": {"0.weight": new["0.weight"]}})


@pytest.mark.parametrize("mode", MODES)
def test_state_dict_round_trip_into_fresh_model(mode: str, tmp_path: Path) -> None:
    model, masks = mlp(), random_masks(mlp())
    dense_keys = list(model.state_dict())
    apply_masks(model, masks, mode=mode)
    train(model, torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
    if mode == "inplace":
        assert list(model.state_dict()) == dense_keys
    path = f"{tmp_path}/masks.pt"
    torch.save(masks_of(model).state_dict(), path)  # type: ignore[union-attr]
    weights = copy.deepcopy(model.state_dict())

    fresh = mlp(seed=7)
    state = attach_saved_masks(fresh, path)  # masks first, so the checkpoint's keys match
    assert state.mode == mode
    fresh.load_state_dict(weights)
    x, _ = batch()
    assert torch.equal(fresh(x), model(x))
    train(fresh, torch.optim.Adam(fresh.parameters(), lr=0.01))
    assert_masked(fresh, masks)


def test_prune_mode_state_dict_is_a_one_file_checkpoint() -> None:
    model, masks = mlp(), random_masks(mlp())
    apply_masks(model, masks, mode="prune")
    sd = model.state_dict()
    fresh = mlp(seed=7)
    assert attach_saved_masks(fresh, sd).mode == "prune"
    fresh.load_state_dict(sd)
    x, _ = batch()
    assert torch.equal(fresh(x), model(x))


def test_persistent_masks_in_one_state_dict(tmp_path: Path) -> None:
    model, masks = mlp(), random_masks(mlp())
    apply_masks(model, masks, persistent=True)
    sd = model.state_dict()
    assert {f"{n}_ramcore_mask" for n in masks} <= set(sd)
    assert all(sd[f"{n}_ramcore_mask"].dtype == torch.bool for n in masks)
    path = f"{tmp_path}/ckpt.pt"
    torch.save(sd, path)

    fresh = mlp(seed=7)
    state = attach_saved_masks(fresh, path)
    assert state.persistent and state.mode == "inplace"
    fresh.load_state_dict(torch.load(path, weights_only=True))  # strict: the keys match
    x, _ = batch()
    assert torch.equal(fresh(x), model(x))
    train(fresh, torch.optim.SGD(fresh.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4))
    assert_masked(fresh, masks)


def test_loading_dense_weights_into_masked_model_is_masked() -> None:
    model, masks = mlp(), random_masks(mlp())
    apply_masks(model, masks)
    model.load_state_dict(mlp(seed=3).state_dict())  # dense weights: the load hook masks them
    assert_masked(model, masks)
    model.load_state_dict(mlp(seed=4).state_dict(), assign=True)  # new Parameter objects
    assert_masked(model, masks)
    x, y = batch()
    nn.functional.mse_loss(model(x), y).backward()
    grad = model[0].weight.grad
    assert grad is not None and torch.count_nonzero(grad[~masks["0.weight"]]) == 0


# --- copies -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
@pytest.mark.parametrize("mode", MODES)
def test_copy_keeps_outputs_and_stays_masked(mode: str, how: str) -> None:
    model, masks = mlp(), random_masks(mlp())
    apply_masks(model, masks, mode=mode)
    train(model, torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
    clone = copy.deepcopy(model) if how == "deepcopy" else pickle.loads(pickle.dumps(model))
    x, _ = batch()
    assert torch.equal(clone(x), model(x))
    state = masks_of(clone)
    assert state is not None and state is not masks_of(model)

    original = {n: t.detach().clone() for n, t in model.state_dict().items()}
    train(clone, torch.optim.SGD(clone.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4), steps=4)
    assert_masked(clone, masks)
    for name, mask in masks.items():  # the clone's hooks act on the clone's parameters
        grad = trainable(clone, name).grad
        assert grad is not None and torch.count_nonzero(grad[~mask]) == 0
    assert all(torch.equal(original[n], t) for n, t in model.state_dict().items())
    remove_masks(clone)
    assert not clone._load_state_dict_post_hooks and masks_of(model) is not None


def test_prune_mode_deepcopy_after_forward_needs_reapply() -> None:
    model, masks = mlp(), random_masks(mlp())
    apply_masks(model, masks, mode="prune")
    model(batch()[0]).sum().backward()  # prune's `weight` is now a non-leaf tensor
    with pytest.raises(RuntimeError, match="graph leaves"):
        copy.deepcopy(model)
    masks_of(model).reapply()  # type: ignore[union-attr]
    assert_masked(copy.deepcopy(model), masks)


# --- torch.compile ------------------------------------------------------------------------------------
def test_torch_compile_of_masked_model() -> None:
    dynamo = pytest.importorskip("torch._dynamo")
    if not dynamo.is_dynamo_supported():
        pytest.skip("torch.compile (dynamo) is not supported on this platform / Python")
    model, masks = mlp(), random_masks(mlp())
    apply_masks(model, masks)
    compiled = torch.compile(model, backend="aot_eager")  # exercises AOTAutograd; inductor is slow here
    train(compiled, torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
    assert_masked(model, masks)
    x, _ = batch()
    assert torch.equal(compiled(x), model(x))
    assert masks_of(compiled) is masks_of(model)


# --- recurrent layers ---------------------------------------------------------------------------------
class Seq(nn.Module):
    def __init__(self, cell: type[nn.LSTM] | type[nn.GRU]) -> None:
        super().__init__()
        self.rnn = cell(6, 8, num_layers=2, bidirectional=True, batch_first=True)
        self.head = nn.Linear(16, 4)

    def forward(self, x: Tensor) -> Tensor:
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("cell", [nn.LSTM, nn.GRU])
def test_recurrent_layers_train_with_masks(cell: type[nn.LSTM] | type[nn.GRU], mode: str) -> None:
    torch.manual_seed(0)
    model = Seq(cell)
    masks = random_masks(model.rnn, density=0.3)  # weight_ih/hh of both layers and directions
    masks = {f"rnn.{n}": m for n, m in masks.items()}
    assert len(masks) == 8
    apply_masks(model, masks, mode=mode)
    gen = torch.Generator().manual_seed(3)
    x, y = torch.randn(4, 5, 6, generator=gen), torch.randn(4, 4, generator=gen)
    opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    for _ in range(3):
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    assert_masked(model, masks)
    remove_masks(model)
    flat = model.rnn._flat_weights
    assert all(w is getattr(model.rnn, n) for w, n in zip(flat, model.rnn._flat_weights_names))
    assert all(isinstance(w, nn.Parameter) for w in flat)
    assert_masked(model, masks)
    model(x).sum().backward()  # a plain RNN again


# --- removal ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("mode", "persistent"), [("inplace", False), ("inplace", True), ("prune", False)])
def test_remove_masks_restores_plain_model(mode: str, persistent: bool) -> None:
    model, masks = mlp(), random_masks(mlp())
    keys = list(model.state_dict())
    params = dict(model.named_parameters())
    apply_masks(model, masks, mode=mode, persistent=persistent)
    assert prune.is_pruned(model) == (mode == "prune")
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    train(model, opt)
    remove_masks(model)
    assert masks_of(model) is None and not prune.is_pruned(model)
    assert list(model.state_dict()) == keys
    assert all(p is params[n] for n, p in model.named_parameters())  # same objects, same order
    assert all(not p._post_accumulate_grad_hooks for p in model.parameters())
    assert not model._load_state_dict_post_hooks
    assert_masked(model, masks)  # the weights keep their zeroed values
    train(model, opt)  # nothing enforces the masks any more
    assert torch.count_nonzero(model[0].weight.detach()[~masks["0.weight"]]) > 0


# --- validation ---------------------------------------------------------------------------------------
def test_invalid_arguments() -> None:
    model, masks = mlp(), random_masks(mlp())
    with pytest.raises(ValueError, match=r"mode: got 'sparse'"):
        apply_masks(model, masks, mode="sparse")
    with pytest.raises(ValueError, match=r"did you mean \['0.weight'"):
        apply_masks(model, {"0.weigth": masks["0.weight"]})
    with pytest.raises(ValueError, match=r"masks\['0.weight'\]: mask shape \(8, 16\)"):
        apply_masks(model, {"0.weight": masks["0.weight"].T})
    with pytest.raises(ValueError, match="only 0 and 1"):
        apply_masks(model, {"0.weight": masks["0.weight"] * 2.0})
    with pytest.raises(TypeError, match="complex"):
        apply_masks(model, {"0.weight": masks["0.weight"].to(torch.complex64)})
    with pytest.raises(TypeError, match="masks: expected a mapping"):
        apply_masks(model, list(masks.values()))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="persistent=True is for mode='inplace'"):
        apply_masks(model, masks, mode="prune", persistent=True)
    with pytest.raises(ValueError, match="empty"):
        apply_masks(model, {})
    with pytest.raises(ValueError, match="has no masks"):
        remove_masks(model)
    with pytest.raises(ValueError, match="no masks found"):
        attach_saved_masks(model, model.state_dict())
    assert masks_of(model) is None and not prune.is_pruned(model)  # failed calls changed nothing


def test_numeric_zero_one_masks_are_accepted() -> None:
    model, masks = mlp(), random_masks(mlp())
    state = apply_masks(model, {n: m.to(torch.float32) for n, m in masks.items()})
    assert all(torch.equal(state.masks()[n], m) for n, m in masks.items())


def test_applying_twice_is_an_error() -> None:
    model, masks = mlp(), random_masks(mlp())
    apply_masks(model, masks)
    with pytest.raises(RuntimeError, match="call ramcore.torch.remove_masks"):
        apply_masks(model, masks, mode="prune")
    with pytest.raises(RuntimeError, match="already masked through another module"):
        apply_masks(model[0], {"weight": masks["0.weight"]})


# --- GPU ----------------------------------------------------------------------------------------------
@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("mode", MODES)
def test_cuda_masks_follow_the_parameters(mode: str) -> None:
    model, masks = mlp(), random_masks(mlp())  # masks made on the CPU
    state = apply_masks(model.cuda(), masks, mode=mode)
    assert all(m.is_cuda for m in state.masks().values())
    train(model, torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4), device="cuda")
    assert_masked(model, masks)
    rnn = Seq(nn.LSTM).cuda()
    rnn_masks = {f"rnn.{n}": m for n, m in random_masks(rnn.rnn, density=0.3).items()}
    apply_masks(rnn, rnn_masks)  # inplace: cuDNN's flat weights stay valid, no warning
    out = rnn(torch.randn(4, 5, 6, device="cuda"))
    out.sum().backward()
    assert_masked(rnn, rnn_masks)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_model_moved_after_masking() -> None:
    model, masks = mlp(), random_masks(mlp())
    apply_masks(model, masks)
    model.cuda()  # the CPU masks move to the parameters' device at first use
    train(model, torch.optim.Adam(model.parameters(), lr=0.01), device="cuda")
    assert_masked(model, masks)


# --- optimizer state ---------------------------------------------------------------------------------------
STATE_KEYS = {
    "sgd": ["momentum_buffer"], "adam": ["exp_avg", "exp_avg_sq"], "adamw": ["exp_avg", "exp_avg_sq"]
}


def state_at_masked(opt: torch.optim.Optimizer, model: nn.Module, masks: dict[str, Tensor], key: str) -> int:
    """Nonzero entries of optimizer state `key` at masked positions, over all masked parameters."""
    return sum(
        int(torch.count_nonzero(opt.state[trainable(model, n)][key][~m])) for n, m in masks.items()
    )


@pytest.mark.parametrize("explicit", [False, True])
@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
@pytest.mark.parametrize("mode", MODES)
def test_existing_optimizer_state_is_zeroed_at_masked_entries(
    optimizer: str, mode: str, explicit: bool
) -> None:
    model, masks = mlp(), random_masks(mlp())
    opt = OPTIMIZERS[optimizer](model.parameters())
    train(model, opt)  # dense steps: state everywhere
    assert all(state_at_masked(opt, model, masks, k) > 0 for k in STATE_KEYS[optimizer])
    apply_masks(model, masks, mode=mode, optimizers=[opt] if explicit else ())
    if explicit:  # reset at once: a checkpoint written now is clean
        assert all(state_at_masked(opt, model, masks, k) == 0 for k in STATE_KEYS[optimizer])
    train(model, opt, steps=5)
    for key in STATE_KEYS[optimizer]:
        assert state_at_masked(opt, model, masks, key) == 0, key
    assert_masked(model, masks)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_resumed_optimizer_state_is_zeroed_after_load(optimizer: str, tmp_path: Path) -> None:
    """A dense run's optimizer checkpoint loaded into a masked run holds nothing at masked entries."""
    dense = mlp()
    dense_opt = OPTIMIZERS[optimizer](dense.parameters())
    train(dense, dense_opt)
    torch.save({"model": dense.state_dict(), "optimizer": dense_opt.state_dict()}, tmp_path / "dense.pt")

    model, masks = mlp(seed=5), random_masks(mlp())
    opt = OPTIMIZERS[optimizer](model.parameters())
    state = apply_masks(model, masks)
    train(model, opt, steps=1)  # reset once at the first step
    ckpt = torch.load(tmp_path / "dense.pt", weights_only=True)
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["optimizer"])  # dense state again: reset before the next step
    assert state_at_masked(opt, model, masks, STATE_KEYS[optimizer][0]) > 0
    train(model, opt, steps=4)
    for key in STATE_KEYS[optimizer]:
        assert state_at_masked(opt, model, masks, key) == 0, key
    assert_masked(model, masks)
    assert state.reset_optimizer_state(opt) == len(masks) * len(STATE_KEYS[optimizer])
    with pytest.raises(TypeError, match="optimizer: expected a torch.optim.Optimizer"):
        state.reset_optimizer_state(model)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"optimizers\[0\]"):
        apply_masks(mlp(), masks, optimizers=[model])  # type: ignore[list-item]


# --- checkpoint formats ------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("form", ["nested", "state", "path"])
def test_readme_checkpoint_round_trips(mode: str, form: str, tmp_path: Path) -> None:
    """The README's checkpoint, {"model": ..., "masks": state.state_dict()}, in every accepted form."""
    model, masks = mlp(), random_masks(mlp())
    state = apply_masks(model, masks, mode=mode)
    train(model, torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
    ckpt = {"model": model.state_dict(), "masks": state.state_dict()}
    torch.save(ckpt, tmp_path / "ckpt.pt")
    saved: object = {"nested": ckpt, "state": ckpt["masks"], "path": tmp_path / "ckpt.pt"}[form]

    fresh = mlp(seed=7)
    assert attach_saved_masks(fresh, saved).mode == mode  # type: ignore[arg-type]
    fresh.load_state_dict(torch.load(tmp_path / "ckpt.pt", weights_only=True)["model"])
    x, _ = batch()
    assert torch.equal(fresh(x), model(x))
    train(fresh, torch.optim.Adam(fresh.parameters(), lr=0.01))
    assert_masked(fresh, masks)


def test_checkpoint_without_masks_is_refused_by_name() -> None:
    model = mlp()
    with pytest.raises(ValueError, match=r"no masks found \(top-level keys \['model', 'step'\]\)"):
        attach_saved_masks(model, {"model": model.state_dict(), "step": 3})
    with pytest.raises(ValueError, match="saved mode 'bogus'"):
        attach_saved_masks(model, {"mode": "bogus", "masks": random_masks(model)})
    with pytest.raises(TypeError, match="expected a mapping or a path"):
        attach_saved_masks(model, 3)  # type: ignore[arg-type]
