"""Apply sparsity masks to a PyTorch model and keep them applied through training.

A mask is a ``torch.bool`` tensor per parameter, keyed by the parameter's name in
``model.named_parameters()`` (``"features.0.weight"``, ``"lstm.weight_hh_l0"``); ``True`` keeps a weight.
Masking alone never makes a model faster: what it must be is correct, invisible and robust.
``apply_masks(model, masks, mode=...)`` offers two ways to do it.

``mode="inplace"`` (default)
    The masked weights are set to zero once, the gradients of masked entries are zeroed as they are
    accumulated, and the masked weights are zeroed again after every optimizer step. Momentum and weight
    decay therefore cannot bring a pruned weight back, with any ``torch.optim.Optimizer``, created before
    or after ``apply_masks``. The model stays a plain model: ``state_dict()`` keys do not change, the
    forward pass does no extra work and has no hooks (nothing for ``torch.compile`` to trace), and the
    weights of ``nn.LSTM``/``nn.GRU``/``nn.RNN`` are modified in place, so cuDNN's flattened weight buffer
    stays valid. Costs: one multiply per masked parameter after each optimizer step, and a copy of each
    mask in the parameter's dtype (the multiply is ~10x faster than with a bool mask on the CPU).
    Weights changed outside an optimizer step (a hand-written update, ``param.copy_``) are masked again
    by ``masks_of(model).reapply()``; ``model.load_state_dict`` does this by itself.

``mode="prune"``
    PyTorch's own re-parametrisation, ``torch.nn.utils.prune.custom_from_mask``: each masked ``weight``
    becomes a trainable ``weight_orig``, a ``weight_mask`` buffer and a forward pre-hook computing
    ``weight = weight_orig * weight_mask``. Use it for code that relies on ``prune.is_pruned`` or
    ``prune.remove``. Trade-offs: an extra multiply (and its backward) per masked parameter in every
    forward pass; ``state_dict()`` keys change (``weight`` becomes ``weight_orig`` + ``weight_mask``);
    ramcore also zeroes ``weight_orig`` at masked entries (once, and after every optimizer step), so
    that weight decay cannot build optimizer state there; the
    re-parametrised weights of a recurrent layer are not in cuDNN's flattened buffer, so on the GPU cuDNN
    copies them at every call (a warning says so; prefer ``"inplace"`` for RNNs there); and
    ``copy.deepcopy`` fails between a forward pass with gradients and the next optimizer step, as for any
    PyTorch re-parametrisation (a non-leaf ``weight``): ramcore recomputes ``weight`` without a graph
    after every optimizer step and in ``reapply()``, so call that first.

Optimizer state
    An optimizer's per-parameter state (SGD's ``momentum_buffer``, Adam/AdamW's ``exp_avg``,
    ``exp_avg_sq`` and ``max_exp_avg_sq``, RMSprop's ``square_avg``/``momentum_buffer``/``grad_avg``,
    Adagrad's ``sum``: every state tensor of the parameter's shape) is zeroed at masked entries the first
    time each optimizer steps a masked parameter, again after ``optimizer.load_state_dict`` (a resumed
    run) and after ``MaskState.load_state_dict``, and at once for the optimizers passed to
    ``apply_masks(..., optimizers=[...])`` (so that a checkpoint written before the first step is clean).
    Since masked gradients are zero, that state then stays zero. State of other shapes (Adafactor's
    factored rows and columns, scalar ``step`` counters) is left alone; the masked weights stay zero
    whatever it holds. ``MaskState.reset_optimizer_state(optimizer)`` does it by hand.

Mask state lives in a ``MaskState`` (``masks_of(model)``) with its own ``state_dict()`` and
``load_state_dict()``. ``apply_masks(..., persistent=True)`` also registers each mask as a persistent bool
buffer ``<param>_ramcore_mask`` on the owning module, so one ``torch.save(model.state_dict())`` holds
weights and masks; ``attach_saved_masks(dense_model, checkpoint)`` re-attaches the masks of either kind of
checkpoint (and of a ``mode="prune"`` state_dict) before ``dense_model.load_state_dict(checkpoint)``.
``copy.deepcopy`` and pickling of a masked model give a masked copy. Masks may be made on the CPU; each is
moved to its parameter's device, and follows the parameter through ``model.to(...)``.
"""

from __future__ import annotations

import difflib
import os
import warnings
import weakref
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils import prune
from torch.optim import Optimizer
from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook
from torch.utils.hooks import RemovableHandle

from . import distributed

__all__ = ["MODES", "MaskState", "apply_masks", "attach_saved_masks", "masks_of", "remove_masks"]

MODES = ("inplace", "prune")
_STATE_ATTR = "_ramcore_mask_state"
_BUFFER_SUFFIX = "_ramcore_mask"

# Every MaskState attached to a model. The global optimizer step hook walks it; weak, so that a model
# that is dropped is not kept alive by its masks.
_LIVE: weakref.WeakSet[MaskState] = weakref.WeakSet()
_STEP_HOOK: RemovableHandle | None = None
_PRE_STEP_HOOK: RemovableHandle | None = None
# Optimizers given a load_state_dict post-hook (a loaded state may hold values at masked entries).
_WATCHED: weakref.WeakSet[Optimizer] = weakref.WeakSet()


class _Entry:
    """One masked parameter: the module owning it, its attribute name there, and where its mask is."""

    def __init__(self, name: str, module: nn.Module, attr: str, param: nn.Parameter, keep: Tensor | None):
        self.name = name
        self.module = module
        self.attr = attr
        self.param = param  # the Parameter whose gradient is hooked (mode "prune": `<attr>_orig`)
        self.keep = keep  # the bool mask, or None where it is a module buffer (persistent, prune)
        self.handle: RemovableHandle | None = None
        self._factor: Tensor | None = None
        self._factor_of: tuple[Any, ...] | None = None

    def __getstate__(self) -> dict[str, Any]:
        # Hook handles point into the old parameter's hook table, and Parameter copies carry no hooks:
        # MaskState.__setstate__ registers fresh ones.
        return {**self.__dict__, "handle": None, "_factor": None, "_factor_of": None}

    def factor(self, keep: Tensor, like: Tensor) -> Tensor:
        """`keep` as 0/1 in `like`'s dtype and device, for `like`'s local shard when it is a DTensor;
        redone when the mask, its values or `like`'s layout change."""
        sharded = distributed.is_dtensor(like)
        layout = distributed.layout(like) if sharded else None
        key = (keep, keep._version, like.device, like.dtype, layout)
        cached = self._factor_of
        if self._factor is None or cached is None or cached[0] is not keep or cached[1:] != key[1:]:
            part = distributed.local_part(keep, like) if sharded else keep
            self._factor = part.to(device=like.device, dtype=like.dtype)
            self._factor_of = key
        return self._factor

    def mask_(self, tensor: Tensor, keep: Tensor | None = None) -> None:
        """Zero `tensor`'s masked entries in place: the weight, its gradient, or optimizer state of its
        shape. A DTensor (FSDP2) has its local shard masked by the matching part of the mask. `keep`:
        the whole bool mask (default: `keep_on`, mode "inplace")."""
        factor = self.factor(self.keep_on(tensor.device) if keep is None else keep, tensor)
        with torch.no_grad():
            distributed.local(tensor).mul_(factor)

    def mask_grad(self, param: Tensor) -> None:
        """Post-accumulate-grad hook: zero the gradient of masked entries."""
        if param.grad is not None:
            self.mask_(param.grad)

    def keep_on(self, device: torch.device) -> Tensor:
        """The bool mask on `device` (moved once, after `model.to(device)`), mode "inplace"."""
        if self.keep is None:
            buffer = self.module._buffers[self.attr + _BUFFER_SUFFIX]
            assert buffer is not None
            return buffer if buffer.device == device else buffer.to(device)
        if self.keep.device != device:
            self.keep = self.keep.to(device)
        return self.keep


class MaskState:
    """The masks applied to one model; `masks_of(model)` returns it, `remove_masks(model)` ends it."""

    mode: str
    persistent: bool

    def __init__(self, root: nn.Module, entries: list[_Entry], mode: str, persistent: bool) -> None:
        self.mode = mode
        self.persistent = persistent
        self._root = root
        self._entries = entries
        # Parameter order of each module before prune mode re-registered `weight` as `weight_orig`.
        self._param_order: list[tuple[nn.Module, list[str]]] = []
        self._load_hook: RemovableHandle | None = None
        # Optimizers whose state holds nothing at masked entries since the masks last changed.
        self._clean: weakref.WeakSet[Optimizer] = weakref.WeakSet()

    def __repr__(self) -> str:
        return f"MaskState(mode={self.mode!r}, persistent={self.persistent}, parameters={len(self._entries)})"

    # --- public API ---------------------------------------------------------------------------------
    def masks(self) -> dict[str, Tensor]:
        """A copy of each bool mask, on its parameter's device, by parameter name."""
        return {e.name: self._keep(e).clone() for e in self._entries}

    def density(self) -> dict[str, float]:
        """Achieved density per parameter: the fraction of its entries kept."""
        return {e.name: int(self._keep(e).count_nonzero()) / e.param.numel() for e in self._entries}

    def state_dict(self) -> dict[str, Any]:
        """`{"mode", "persistent", "masks"}`, masks as bool CPU tensors; `torch.save`-able."""
        masks = {e.name: self._keep(e).cpu() for e in self._entries}
        return {"mode": self.mode, "persistent": self.persistent, "masks": masks}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Replace the masks by those of `state` (same parameter names) and zero the newly masked weights.

        The mode stays this state's; `state` may come from either mode."""
        masks = _masks_in_state(state, "state")
        names = {e.name for e in self._entries}
        if set(masks) != names:
            missing, unexpected = sorted(names - set(masks)), sorted(set(masks) - names)
            raise ValueError(
                f"state: masks are for other parameters (missing {missing}, unexpected {unexpected}); "
                "load a state saved from this model, or call remove_masks and apply_masks instead"
            )
        for e in self._entries:
            new = _as_bool_mask(masks[e.name], f"state['masks'][{e.name!r}]", tuple(e.param.shape))
            self._set_keep(e, new)
        self._clean = weakref.WeakSet()  # newly masked entries may hold optimizer state
        self.reapply()

    def reset_optimizer_state(self, optimizer: Optimizer) -> int:
        """Zero `optimizer`'s state at the masked entries of the parameters it holds; returns how many
        state tensors were reset. Done by itself before each optimizer's first step (module docstring)."""
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer: expected a torch.optim.Optimizer, got {type(optimizer).__name__}")
        self._sync()
        _watch(optimizer)
        reset = 0
        with torch.no_grad():
            for e in self._entries:
                state = optimizer.state.get(e.param)
                if not state:
                    continue
                for value in state.values():
                    if isinstance(value, Tensor) and value.shape == e.param.shape and value is not e.param:
                        e.mask_(value, self._keep(e))
                        reset += 1
        self._clean.add(optimizer)
        return reset

    def reapply(self) -> None:
        """Zero the masked weights now (after changing weights outside an optimizer step).

        Also re-hooks parameters replaced since (`load_state_dict(assign=True)`, a new `nn.Parameter`)."""
        self._sync()
        with torch.no_grad():
            for e in self._entries:
                self._zero(e)

    # --- machinery ----------------------------------------------------------------------------------
    def _keep(self, e: _Entry) -> Tensor:
        if self.mode == "prune":
            buffer = e.module._buffers[e.attr + "_mask"]
            assert buffer is not None
            return buffer.bool()
        return e.keep_on(e.param.device)

    def _set_keep(self, e: _Entry, new: Tensor) -> None:
        if self.mode == "prune" or e.keep is None:
            suffix = "_mask" if self.mode == "prune" else _BUFFER_SUFFIX
            buffer = e.module._buffers[e.attr + suffix]
            assert buffer is not None
            buffer.copy_(new)  # in place: the buffer stays the one the module (and prune's hook) holds
        else:
            e.keep = new.to(e.param.device)

    def _zero(self, e: _Entry) -> None:
        """Mask `e`'s weight; call under `torch.no_grad()`."""
        if self.mode == "prune":
            # Recompute the re-parametrised weight without a graph: current after a step, and a leaf,
            # so that copy.deepcopy works (it refuses non-leaf tensors).
            orig, mask = getattr(e.module, e.attr + "_orig"), getattr(e.module, e.attr + "_mask")
            orig.mul_(mask)  # masked entries of weight_orig too: no decay, no optimizer state there
            setattr(e.module, e.attr, orig * mask)
        else:
            e.mask_(e.param)

    def _current_param(self, e: _Entry) -> nn.Parameter:
        name = e.attr + "_orig" if self.mode == "prune" else e.attr
        param = e.module._parameters.get(name)
        assert param is not None, f"parameter {e.name!r} was removed from its module while masked"
        return param

    def _hook(self, e: _Entry) -> None:
        # Mode "prune" needs no gradient hook: weight = weight_orig * mask already has zero gradients
        # there. Frozen parameters cannot take a hook; the step hook and reapply() re-check.
        if self.mode == "inplace" and e.param.requires_grad and e.handle is None:
            e.handle = e.param.register_post_accumulate_grad_hook(e.mask_grad)  # type: ignore[no-untyped-call]

    def _unhook(self, e: _Entry) -> None:
        if e.handle is not None:
            e.handle.remove()
            e.handle = None

    def _sync(self) -> None:
        """Follow parameters that were replaced, or unfrozen, since they were hooked."""
        for e in self._entries:
            param = self._current_param(e)
            if param is not e.param:
                self._unhook(e)
                e.param = param
            self._hook(e)

    def _before_step(self, optimizer: Optimizer, stepped: set[int]) -> None:
        self._sync()
        mine = [e for e in self._entries if id(e.param) in stepped]
        if not mine:
            return
        for e in mine:
            # FSDP2 assigns each sharded gradient after its reduce-scatter, without the accumulate-grad
            # hook: mask it here, before the optimizer reads it.
            grad = e.param.grad
            if grad is not None and distributed.is_dtensor(grad):
                e.mask_(grad)
        if optimizer not in self._clean:
            self.reset_optimizer_state(optimizer)

    def _after_step(self, stepped: set[int]) -> None:
        self._sync()
        with torch.no_grad():
            for e in self._entries:
                if id(e.param) in stepped:
                    self._zero(e)

    def _start(self) -> None:
        for e in self._entries:
            self._hook(e)
        _LIVE.add(self)
        _ensure_step_hook()

    def _stop(self) -> None:
        _LIVE.discard(self)
        for e in self._entries:
            self._unhook(e)

    def __getstate__(self) -> dict[str, Any]:
        # A copy's parameters are new objects, so no optimizer has stepped them yet.
        return {k: v for k, v in self.__dict__.items() if k != "_clean"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Called by copy.deepcopy and pickle while the copied model may still be half-built: hook the
        # copied Parameter objects held by the entries, touch no module.
        self.__dict__.update(state)
        self._clean = weakref.WeakSet()
        self._start()


def _ensure_step_hook() -> None:
    """Register `_before_optimizer_step` and `_after_optimizer_step` once per process.

    Global hooks rather than per-optimizer hooks: optimizers created before apply_masks cannot be found
    otherwise; torch calls global hooks from the `step` of every `torch.optim.Optimizer` subclass,
    whenever it was created. Non-Optimizer updates need `reapply()`."""
    global _STEP_HOOK, _PRE_STEP_HOOK
    if _STEP_HOOK is None:
        _STEP_HOOK = register_optimizer_step_post_hook(_after_optimizer_step)
    if _PRE_STEP_HOOK is None:
        _PRE_STEP_HOOK = register_optimizer_step_pre_hook(_before_optimizer_step)


def _stepped(optimizer: Optimizer) -> set[int]:
    return {id(p) for group in optimizer.param_groups for p in group["params"]}


def _before_optimizer_step(optimizer: Optimizer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Zero `optimizer`'s state at masked entries before its first step on masked parameters."""
    states = list(_LIVE)
    if not states:
        return None
    stepped = _stepped(optimizer)
    for state in states:
        state._before_step(optimizer, stepped)
    return None


def _watch(optimizer: Optimizer) -> None:
    """After `optimizer.load_state_dict`, its state is reset again before its next step."""
    if optimizer not in _WATCHED:
        _WATCHED.add(optimizer)
        optimizer.register_load_state_dict_post_hook(_optimizer_loaded)


def _optimizer_loaded(optimizer: Optimizer) -> None:
    for state in list(_LIVE):
        state._clean.discard(optimizer)


def _after_optimizer_step(optimizer: Optimizer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Zero again the masked weights that `optimizer` just updated, in every live MaskState."""
    states = list(_LIVE)
    if not states:
        return
    stepped = _stepped(optimizer)
    for state in states:
        state._after_step(stepped)


def _reapply_after_load(module: nn.Module, incompatible_keys: Any) -> None:
    """`load_state_dict` post-hook of the masked model: the loaded weights may be dense."""
    state = masks_of(module)
    if state is not None:
        state.reapply()


# --- validation -------------------------------------------------------------------------------------
def _as_bool_mask(mask: object, what: str, shape: tuple[int, ...]) -> Tensor:
    """`mask` as a bool tensor of `shape`; 0/1 integer or float masks (prune's `weight_mask`) convert."""
    if not isinstance(mask, Tensor):
        raise TypeError(f"{what}: expected a torch.Tensor, got {type(mask).__name__}")
    if tuple(mask.shape) != shape:
        raise ValueError(f"{what}: mask shape {tuple(mask.shape)} differs from the parameter's shape {shape}")
    if mask.dtype == torch.bool:
        return mask
    if mask.is_complex():
        raise TypeError(f"{what}: mask dtype {mask.dtype} is complex; use a torch.bool mask")
    if not bool(((mask == 0) | (mask == 1)).all()):
        raise ValueError(
            f"{what}: a {mask.dtype} mask must hold only 0 and 1; use a torch.bool mask (True keeps a weight)"
        )
    return mask != 0


def _entries_for(model: nn.Module, masks: Mapping[str, Tensor]) -> list[_Entry]:
    params = dict(model.named_parameters())
    entries = []
    for name, mask in masks.items():
        if name not in params:
            close = difflib.get_close_matches(str(name), list(params), n=3)
            hint = f"; did you mean {close}?" if close else "; keys are names from model.named_parameters()"
            raise ValueError(f"masks: {name!r} is not a parameter of the model{hint}")
        param = params[name]
        keep = _as_bool_mask(mask, f"masks[{name!r}]", tuple(param.shape)).to(param.device)
        prefix, _, attr = name.rpartition(".")
        entries.append(_Entry(name, model.get_submodule(prefix), attr, param, keep))
    return entries


def _check_not_masked(model: nn.Module, entries: list[_Entry]) -> None:
    state = masks_of(model)
    if state is not None:
        raise RuntimeError(
            f"model already has masks (mode={state.mode!r}); call ramcore.torch.remove_masks(model) first"
        )
    if prune.is_pruned(model):
        raise RuntimeError("model is already pruned with torch.nn.utils.prune; call prune.remove on it first")
    ours = {id(e.param) for e in entries}
    for other in list(_LIVE):
        for e in other._entries:
            if id(e.param) in ours:
                raise RuntimeError(
                    f"parameter {e.name!r} is already masked through another module (a parent or a "
                    "submodule); call remove_masks on that module first"
                )


# --- public functions -------------------------------------------------------------------------------
def masks_of(model: nn.Module) -> MaskState | None:
    """The MaskState of `model` (also through a `torch.compile` wrapper), or None if it is not masked."""
    state = getattr(distributed.unwrap(model), _STATE_ATTR, None)
    return state if isinstance(state, MaskState) else None


def apply_masks(
    model: nn.Module,
    masks: Mapping[str, Tensor],
    mode: str = "inplace",
    persistent: bool = False,
    optimizers: Iterable[Optimizer] = (),
    collective: bool | None = None,
) -> MaskState:
    """Mask `model`'s parameters with `masks` (parameter name -> bool tensor of its shape, True = keep).

    `mode`: "inplace" (default) or "prune", see the module docstring. `persistent=True` (mode "inplace")
    stores each mask as a persistent buffer `<param>_ramcore_mask`, so `model.state_dict()` holds them.
    Masks may also be integer or float tensors of exact 0/1 values. `optimizers`: existing optimizers
    whose state is zeroed at masked entries now (any other is before its first step). `collective`:
    None (default) checks, when `torch.distributed` is initialised, that every rank applies the same
    masks (a collective call; `ramcore.torch.distributed`); False skips that. A
    `DistributedDataParallel` wrapper is looked through: the masks go on the module it wraps, keyed by
    its parameter names, before or after wrapping; FSDP2-sharded (DTensor) parameters take full-shape
    masks, each rank masking its shard. Returns the model's MaskState."""
    optimizers = _check_optimizers(optimizers)
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    wrapped, model = model, distributed.unwrap(model)
    collective = distributed.active(collective)
    with distributed.together("apply_masks", collective):
        entries = _checked_entries(wrapped, model, masks, mode, persistent)
    if collective:  # before changing anything: a mismatch leaves every rank's model as it was
        distributed.check_same_masks({e.name: e.keep for e in entries if e.keep is not None}, "apply_masks")
    state = MaskState(model, entries, mode, persistent)
    if mode == "prune":
        _start_prune(state)
    else:
        _start_inplace(state)
    setattr(model, _STATE_ATTR, state)
    state._load_hook = model.register_load_state_dict_post_hook(_reapply_after_load)  # type: ignore[no-untyped-call]
    state._start()
    for optimizer in optimizers:
        state.reset_optimizer_state(optimizer)
    return state


def _checked_entries(
    wrapped: nn.Module, model: nn.Module, masks: Mapping[str, Tensor], mode: str, persistent: bool
) -> list[_Entry]:
    if not isinstance(masks, Mapping):
        raise TypeError(
            f"masks: expected a mapping of parameter name to bool tensor, got {type(masks).__name__}"
        )
    if mode not in MODES:
        raise ValueError(f"mode: got {mode!r}, expected one of {MODES}")
    if not isinstance(persistent, bool):
        raise TypeError(f"persistent: expected a bool, got {type(persistent).__name__}")
    if persistent and mode == "prune":
        raise ValueError(
            "persistent=True is for mode='inplace': mode='prune' already keeps each mask in the "
            "state_dict as prune's `<param>_mask` buffer"
        )
    if len(masks) == 0:
        raise ValueError("masks: empty mapping, nothing to apply")
    prefix = "module."
    if wrapped is not model and all(str(n).startswith(prefix) for n in masks):
        masks = {n[len(prefix) :]: m for n, m in masks.items()}  # names from the DDP wrapper
    entries = _entries_for(model, masks)
    _check_not_masked(model, entries)
    sharded = [e.name for e in entries if distributed.is_dtensor(e.param)]
    if sharded and mode == "prune":
        raise ValueError(
            f"mode='prune' cannot re-parametrise sharded (fully_shard, DTensor) parameters {sharded[:3]}; "
            "use mode='inplace'"
        )
    return entries


def _check_optimizers(optimizers: object) -> list[Optimizer]:
    if isinstance(optimizers, Optimizer):
        return [optimizers]
    if not isinstance(optimizers, Iterable) or isinstance(optimizers, (str, bytes, Mapping)):
        raise TypeError(f"optimizers: expected an iterable of torch.optim.Optimizer, got {optimizers!r}")
    out = list(optimizers)
    for i, o in enumerate(out):
        if not isinstance(o, Optimizer):
            raise TypeError(f"optimizers[{i}]: expected a torch.optim.Optimizer, got {type(o).__name__}")
    return out


def _start_inplace(state: MaskState) -> None:
    with torch.no_grad():
        for e in state._entries:
            if state.persistent:
                assert e.keep is not None
                e.module.register_buffer(e.attr + _BUFFER_SUFFIX, e.keep, persistent=True)
                e.keep = None
            state._zero(e)
    # In-place zeroing kept the weights inside cuDNN's flat buffer; re-flatten in case they were not.
    for module in _modules_of(state):
        if isinstance(module, nn.RNNBase):
            module.flatten_parameters()


def _start_prune(state: MaskState) -> None:
    for module in _modules_of(state):
        state._param_order.append((module, list(module._parameters)))
    for e in state._entries:
        if isinstance(e.module, nn.RNNBase) and e.param.is_cuda:
            _warn_cudnn(e)
        assert e.keep is not None
        prune.custom_from_mask(e.module, e.attr, e.keep)  # type: ignore[no-untyped-call]
        e.keep = None  # prune's `<attr>_mask` buffer holds it now
        e.param = state._current_param(e)
    with torch.no_grad():
        for e in state._entries:
            state._zero(e)


def _warn_cudnn(e: _Entry) -> None:
    warnings.warn(
        f"mode='prune' on recurrent layer {e.name!r}: its re-parametrised weights are not in cuDNN's "
        "flattened buffer, so every forward call copies them; use mode='inplace' for RNNs on the GPU",
        UserWarning,
        stacklevel=4,
    )


def _modules_of(state: MaskState) -> Iterator[nn.Module]:
    """The distinct modules owning masked parameters, in order."""
    seen: set[int] = set()
    for e in state._entries:
        if id(e.module) not in seen:
            seen.add(id(e.module))
            yield e.module


def remove_masks(model: nn.Module) -> None:
    """Detach `model`'s masks: hooks removed, prune re-parametrisation undone with `prune.remove`, mask
    buffers deleted. The weights keep their values, masked entries zero."""
    model = distributed.unwrap(model)
    state = masks_of(model)
    if state is None:
        raise ValueError("model: has no masks applied by ramcore.torch.apply_masks")
    state.reapply()  # the weights left behind are masked, whatever happened since the last step
    state._stop()
    if state._load_hook is not None:
        state._load_hook.remove()
    for e in state._entries:
        if state.mode == "prune":
            prune.remove(e.module, e.attr)  # type: ignore[no-untyped-call]
        elif state.persistent:
            del e.module._buffers[e.attr + _BUFFER_SUFFIX]
    for module, order in state._param_order:
        # prune.remove re-registers `weight` last; restore the order of named_parameters()/state_dict().
        for name in order:
            module._parameters[name] = module._parameters.pop(name)
    for module in _modules_of(state):
        if isinstance(module, nn.RNNBase):
            module.flatten_parameters()
    delattr(state._root, _STATE_ATTR)


def _masks_in_state(state: object, what: str) -> Mapping[str, Any]:
    if not _is_mask_state(state):
        raise ValueError(f"{what}: expected MaskState.state_dict() output, a mapping with a 'masks' mapping")
    assert isinstance(state, Mapping)
    masks: Mapping[str, Any] = state["masks"]
    return masks


def _is_mask_state(saved: object) -> bool:
    """True for `MaskState.state_dict()` output: a "masks" mapping of tensors (and "mode", "persistent")."""
    if not isinstance(saved, Mapping) or not isinstance(saved.get("masks"), Mapping):
        return False
    return all(isinstance(v, Tensor) for v in saved["masks"].values())


def _masks_in_model_state(saved: Mapping[str, Any]) -> tuple[dict[str, Any], str, bool] | None:
    """Masks held by a model state_dict: persistent=True buffers, or mode "prune"'s buffers."""
    buffers = {k[: -len(_BUFFER_SUFFIX)]: v for k, v in saved.items() if k.endswith(_BUFFER_SUFFIX)}
    if buffers:
        return buffers, "inplace", True
    pruned = {
        k[: -len("_mask")]: v for k, v in saved.items() if k.endswith("_mask") and k[:-5] + "_orig" in saved
    }
    if pruned:
        return pruned, "prune", False
    return None


def _find_saved_masks(saved: Mapping[str, Any]) -> tuple[dict[str, Any], str, bool]:
    """(masks, mode, persistent) from a MaskState state_dict, a model state_dict, or a checkpoint dict
    holding either one level down (``{"model": model.state_dict(), "masks": state.state_dict()}``)."""
    nested = [v for v in saved.values() if isinstance(v, Mapping)]
    for candidate in (saved, *nested):  # MaskState records first: they carry the mode
        if _is_mask_state(candidate):
            mode = candidate.get("mode", "inplace")
            if mode not in MODES:
                raise ValueError(f"state_dict_or_path: saved mode {mode!r} is not one of {MODES}")
            return dict(candidate["masks"]), mode, bool(candidate.get("persistent", False))
    for candidate in (saved, *nested):
        found = _masks_in_model_state(candidate)
        if found is not None:
            return found
    keys = sorted(map(str, saved))[:8]
    raise ValueError(
        f"state_dict_or_path: no masks found (top-level keys {keys}); expected MaskState.state_dict() "
        "output, a model state_dict with '<param>_ramcore_mask' buffers (persistent=True) or prune's "
        "'<param>_orig'/'<param>_mask', or a checkpoint dict holding one of them one level down, such as "
        "{'model': model.state_dict(), 'masks': masks_of(model).state_dict()}"
    )


def attach_saved_masks(
    model: nn.Module,
    state_dict_or_path: Mapping[str, Any] | str | os.PathLike[str],
    collective: bool | None = None,
) -> MaskState:
    """Apply saved masks to a dense `model`, in the mode they were saved with.

    Accepts `MaskState.state_dict()` output, a model state_dict holding the masks (persistent=True
    buffers, or mode "prune"'s `weight_orig`/`weight_mask`), a checkpoint dict holding either one level
    down (`{"model": model.state_dict(), "masks": state.state_dict()}`), or a path to any of them saved
    by `torch.save`. `collective` as in `apply_masks` (False: one rank alone loads them).
    Only masks are read: load the weights afterwards with `model.load_state_dict(...)`, whose keys then
    match the checkpoint's."""
    saved: object = state_dict_or_path
    if isinstance(saved, (str, os.PathLike)):
        saved = torch.load(saved, map_location="cpu", weights_only=True)
    if not isinstance(saved, Mapping):
        raise TypeError(
            f"state_dict_or_path: expected a mapping or a path, got {type(state_dict_or_path).__name__}"
        )
    masks, mode, persistent = _find_saved_masks(saved)
    return apply_masks(model, masks, mode=mode, persistent=persistent, collective=collective)
