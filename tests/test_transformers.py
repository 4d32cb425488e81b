"""Hugging Face transformers models: masks on the right layers with every method, keyword batches.

Tiny randomly initialised GPT-2, BERT and Llama models built from configs (nothing is downloaded).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from torch import Tensor, nn  # noqa: E402

import ramcore.torch as rt  # noqa: E402
from ramcore.torch.targets import is_hf_conv1d  # noqa: E402

VOCAB, EMBED, SEQ = 64, 16, 8


def gpt2() -> nn.Module:
    config = transformers.GPT2Config(
        vocab_size=VOCAB, n_positions=SEQ, n_embd=EMBED, n_layer=2, n_head=2, attn_implementation="eager"
    )
    torch.manual_seed(0)
    return transformers.GPT2LMHeadModel(config)


def bert() -> nn.Module:
    config = transformers.BertConfig(
        vocab_size=VOCAB, hidden_size=EMBED, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=SEQ, num_labels=3, attn_implementation="eager",
    )
    torch.manual_seed(0)
    return transformers.BertForSequenceClassification(config)


def llama() -> nn.Module:
    config = transformers.LlamaConfig(
        vocab_size=VOCAB, hidden_size=EMBED, intermediate_size=32, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=SEQ,
        attn_implementation="eager",
    )
    torch.manual_seed(0)
    return transformers.LlamaForCausalLM(config)


MODELS: dict[str, Callable[[], nn.Module]] = {"gpt2": gpt2, "bert": bert, "llama": llama}


def keyword_batch(name: str, seed: int = 1) -> dict[str, Tensor]:
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, VOCAB, (4, SEQ), generator=gen)
    labels = torch.randint(0, 3, (4,), generator=gen) if name == "bert" else ids
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}


def kinds(model: nn.Module) -> dict[str, str]:
    return {t.name: t.kind for t in rt.mask_targets(model)}


def test_gpt2_conv1d_layers_are_targets_in_their_orientation() -> None:
    model = gpt2()
    targets = {t.name: t for t in rt.mask_targets(model)}
    block = "transformer.h.0"
    layers = ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")
    # embeddings and the (tied) LM head are not targets
    assert set(targets) == {f"transformer.h.{i}.{p}.weight" for i in range(2) for p in layers}
    qkv = targets[f"{block}.attn.c_attn.weight"]
    assert is_hf_conv1d(model.get_submodule(f"{block}.attn.c_attn"))
    assert (qkv.kind, qkv.shape, qkv.transposed, qkv.pieces) == ("attention", (EMBED, 3 * EMBED), True, 3)
    assert qkv.canonical_shape == (3 * EMBED, EMBED) and qkv.piece_shape == (EMBED, EMBED)
    fc = targets[f"{block}.mlp.c_fc.weight"]
    assert (fc.kind, fc.piece_shape, fc.pieces) == ("linear", (EMBED, 4 * EMBED), 1)
    # the fused q/k/v projection gets the masks of nn.MultiheadAttention's (3E, E) in_proj, transposed
    mha = rt.make_masks(nn.MultiheadAttention(EMBED, 2), "ramanujan", 0.25, allocation="uniform")
    mine = rt.make_masks(model, "ramanujan", 0.25, include="*c_attn*", allocation="uniform")[qkv.name]
    mha = mha["in_proj_weight"]
    assert torch.equal(mine, mha.T)
    rows = rt.report(model, {qkv.name: mine}, include="*c_attn*", print_table=False)
    rows = [r for r in rows if r.name == qkv.name]
    assert [(r.piece, r.rows, r.cols) for r in rows] == [(i, EMBED, EMBED) for i in range(3)]
    assert all(r.edges == round(0.25 * EMBED * EMBED) for r in rows)


def test_conv1d_prunes_and_reports_as_its_linear_twin() -> None:
    """Seed 001's pruning of GPT-2's c_attn equals that of an nn.MultiheadAttention holding W.T."""
    model = gpt2()
    name = "transformer.h.0.attn.c_attn.weight"
    mha = nn.MultiheadAttention(EMBED, 2)
    with torch.no_grad():
        mha.in_proj_weight.copy_(model.get_parameter(name).T)
    mine = rt.ramanujan_prune(model, "magnitude", 0.3, include="transformer.h.0.attn.c_attn").masks[name]
    twin = rt.ramanujan_prune(mha, "magnitude", 0.3, include="in_proj_weight").masks["in_proj_weight"]
    assert mine.shape == (EMBED, 3 * EMBED) and torch.equal(mine, twin.T)
    gap = [(r.delta_s, r.delta_r) for r in rt.report(model, {name: mine}, include="*.h.0.attn.c_attn",
                                                      print_table=False)]
    twin_gap = [(r.delta_s, r.delta_r) for r in rt.report(mha, {"in_proj_weight": twin}, include="in_proj*",
                                                           print_table=False)]
    assert len(gap) == 3
    np.testing.assert_array_equal(np.array(gap), np.array(twin_gap))  # NaN where undefined, alike


def test_llama_and_bert_projections_and_the_lm_head() -> None:
    found = kinds(llama())
    layer = "model.layers.0"
    for p in ("q_proj", "k_proj", "v_proj", "o_proj"):
        assert found[f"{layer}.self_attn.{p}.weight"] == "attention"
    for p in ("gate_proj", "up_proj", "down_proj"):
        assert found[f"{layer}.mlp.{p}.weight"] == "linear"
    assert "lm_head.weight" not in found  # the LM head stays dense by default ...
    assert [t.name for t in rt.mask_targets(llama(), include="lm_head")] == ["lm_head.weight"]  # ... or not
    found = kinds(bert())
    layer = "bert.encoder.layer.0"
    for p in ("query", "key", "value"):
        assert found[f"{layer}.attention.self.{p}.weight"] == "attention"
    assert found[f"{layer}.attention.output.dense.weight"] == "linear"
    assert found["classifier.weight"] == "linear"
    assert not any("embeddings" in n for n in found)
    assert set(kinds(llama()).values()) == {"attention", "linear"}
    assert all(t.kind == "linear" for t in rt.mask_targets(llama(), kinds=("linear",)))


METHODS: dict[str, dict[str, Any]] = {
    "ramanujan": {}, "random": {}, "erk": {}, "random_regular": {}, "magnitude": {},
    "snip": {"data": True}, "grasp": {"data": True}, "prospr": {"data": True},
    "synflow": {"data": True, "rounds": 3}, "sparsify": {},
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_method_masks_and_trains_with_keyword_batches(name: str) -> None:
    model, batch = MODELS[name](), keyword_batch(name)
    targets = rt.mask_targets(model)
    for method, kw in METHODS.items():
        kw = {**kw, "data": batch} if kw.get("data") else kw
        masks = rt.make_masks(model, method, 0.3, **kw)
        assert set(masks) == {t.name for t in targets}, method
        assert abs(masks.density - 0.3) < 0.01, method
    state = rt.apply_masks(model, masks)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(2):
        opt.zero_grad()
        model(**batch).loss.backward()
        opt.step()
    params = dict(model.named_parameters())
    for n, m in masks.items():
        assert torch.count_nonzero(params[n].detach()[~m]) == 0, n
        assert torch.count_nonzero(opt.state[params[n]]["exp_avg"][~m]) == 0, n
    assert state.density() == pytest.approx({t.name: float(masks[t.name].float().mean()) for t in targets})


def test_forward_fn_contract() -> None:
    model, batch = gpt2(), keyword_batch("gpt2")
    calls = []

    def forward_fn(m: nn.Module, b: dict[str, Tensor]) -> Tensor:
        calls.append(sorted(b))
        return m(input_ids=b["input_ids"], attention_mask=b["attention_mask"], labels=b["labels"]).loss

    torch.manual_seed(5)  # the same dropout draws
    by_fn = rt.make_masks(model, "snip", 0.3, data=batch, forward_fn=forward_fn)
    torch.manual_seed(5)
    default = rt.make_masks(model, "snip", 0.3, data=batch)  # the model's own loss: the same
    assert calls and all(torch.equal(by_fn[n], default[n]) for n in default)
    tuples = rt.make_masks(model, "snip", 0.3, data=[(batch["input_ids"],)] * 2,
                           forward_fn=lambda m, b: m(input_ids=b[0], labels=b[0]).loss)
    assert tuples.density == pytest.approx(0.3, abs=0.01)
    no_labels = {k: v for k, v in batch.items() if k != "labels"}
    with pytest.raises(TypeError, match="without a loss for the keyword batch: include the labels"):
        rt.make_masks(model, "snip", 0.3, data=no_labels)
    with pytest.raises(TypeError, match=r"forward_fn\(model, batch\) must be a scalar"):
        rt.make_masks(model, "snip", 0.3, data=batch, forward_fn=lambda m, b: m(**b).logits)
    pair = (batch["input_ids"], batch["labels"])  # an output object's logits go to loss_fn

    def lm_loss(logits: Tensor, labels: Tensor) -> Tensor:
        return nn.functional.cross_entropy(logits.reshape(-1, VOCAB), labels.reshape(-1))

    masks = rt.make_masks(model, "snip", 0.3, data=pair, loss_fn=lm_loss)
    assert masks.density == pytest.approx(0.3, abs=0.01)
    model.config.return_dict = False  # a plain tuple: which entry is the loss is for forward_fn to say
    with pytest.raises(TypeError, match="pass forward_fn"):
        rt.make_masks(model, "snip", 0.3, data=pair, loss_fn=lm_loss)
    with pytest.raises(ValueError, match="forward_fn needs data"):
        rt.make_masks(model, "synflow", 0.3, forward_fn=lambda m, b: m(**b).logits)
