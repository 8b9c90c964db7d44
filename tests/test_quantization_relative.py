"""int8 XLNet and Transformer-XL: XLNet's einsum attention projections (q, k, v, o, r) quantized with the rest, and
the fused relative-attention fast paths running the int8 layers. The fast path of a quantized model equals the same
model's own modules (the fast path disabled): both quantize every token's activations the same way and sum exactly
in int32; what differs is the float rounding of the attention and LayerNorm kernels (test_quantization's
assert_int8_paths_close says what that allows)."""
from __future__ import annotations

import copy
import json

import pytest
import torch

import transformers_fast as tf
from transformers_fast.ops import QuantizedLinear
from transformers_fast.runtime import transfo_xl as fast_transfo_xl
from transformers_fast.runtime import xlnet as fast_xlnet
from modeling_helpers import _randomize_norms
from module_decoder import ModuleDecoder, greedy
from test_quantization import (FAMILIES, VOCAB, assert_int8_paths_close, batch, logits, quantized_copy, tiny,
                               top1_agreement)

N_LAYER = FAMILIES["xlnet"][2]["n_layer"]


def counted(monkeypatch, cls, method="layer"):
    """Counts calls of cls.<method> and records the projections ops.linear runs inside its module."""
    calls = {"n": 0, "projections": []}
    original = getattr(cls, method)
    module = fast_xlnet if cls is fast_xlnet.XLNetFastPath else fast_transfo_xl
    linear = module.linear

    def wrapper(*args, **kwargs):
        calls["n"] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(cls, method, wrapper)
    monkeypatch.setattr(module, "linear", lambda x, p: calls["projections"].append(type(p)) or linear(x, p))
    return calls


def fast_and_own(model, run, fast_paths):
    """run() with the fast paths on, then with them off (the model's own modules)."""
    with torch.no_grad():
        fast = run()
        for path in fast_paths:
            path.enabled = False
        try:
            own = run()
        finally:
            for path in fast_paths:
                path.enabled = True
    return fast, own


def assert_close(a, b):
    for x, y in zip(a, b):
        assert_int8_paths_close(x, y)


# ---- XLNet ---------------------------------------------------------------------------------------------------------


def test_xlnet_attention_projections_are_int8():
    model = tiny("xlnet")
    quantized = quantized_copy(model)
    modules = [m for m in quantized.modules() if isinstance(m, QuantizedLinear)]
    assert len(modules) == N_LAYER * (5 + 2)  # q, k, v, o, r and the feed-forward's two
    attn = quantized.transformer.layer[0].rel_attn
    d_model, heads, head_dim = attn.d_model, attn.n_head, attn.d_head
    for name in ("q", "k", "v", "r"):  # d_model -> heads * head_dim, one scale per output channel
        layer = getattr(attn, name)
        assert layer.weight_int8.shape == (heads * head_dim, d_model)
        assert layer.weight_scale.shape == (heads * head_dim,) and layer.bias is None
    assert attn.o.weight_int8.shape == (d_model, heads * head_dim)  # back to d_model
    # the float weight the int8 one stands for is the einsum weight's
    float_attn = model.transformer.layer[0].rel_attn
    torch.testing.assert_close(attn.q.dequantize(), float_attn.q.detach().reshape(d_model, -1).t(),
                               atol=float(attn.q.weight_scale.max()) / 2 + 1e-7, rtol=0)
    torch.testing.assert_close(attn.o.dequantize(), float_attn.o.detach().reshape(d_model, -1),
                               atol=float(attn.o.weight_scale.max()) / 2 + 1e-7, rtol=0)
    names = set(quantized.state_dict())
    assert {"transformer.layer.0.rel_attn.q.weight_int8", "transformer.layer.0.rel_attn.o.weight_scale"} <= names
    assert "transformer.layer.0.rel_attn.q" not in names
    for name in ("r_w_bias", "r_r_bias", "r_s_bias", "seg_embed"):  # stay float parameters
        assert getattr(attn, name).dtype == torch.float32 and f"transformer.layer.0.rel_attn.{name}" in names
    assert tf.quantize(quantized) is quantized and len([m for m in quantized.modules()
                                                        if isinstance(m, QuantizedLinear)]) == len(modules)
    ids = batch("xlnet", size=16, seq=32)
    agreement = top1_agreement(logits(quantized, ids), logits(model, ids))
    print(f"xlnet with int8 attention projections: top-1 agreement with fp32 {agreement:.4f}")
    assert agreement >= 0.98


def xlnet_inputs(case):
    ids = batch("xlnet", size=4, seq=10, seed=2)
    if case == "padded":
        mask = torch.ones_like(ids)
        mask[1, 7:] = 0
        mask[3, 4:] = 0
        types = torch.zeros_like(ids)
        types[:, 5:] = 1
        return [(ids, dict(attention_mask=mask, token_type_ids=types))]
    if case == "two_stream":
        perm = torch.zeros(4, 10, 10)
        perm[:, :, -3:] = 1.0  # nobody sees the last three tokens
        target = torch.zeros(4, 3, 10)
        for i in range(3):
            target[:, i, 7 + i] = 1.0
        return [(ids, dict(perm_mask=perm, target_mapping=target))]
    assert case == "mems"
    return [(ids, {}), (batch("xlnet", size=4, seq=6, seed=3), {})]


@pytest.mark.parametrize("case", ["padded", "two_stream", "mems", "bi_data"])
def test_xlnet_fast_path_runs_int8_and_equals_own_forward(case, monkeypatch):
    model = quantized_copy(tiny("xlnet"))
    base = model.transformer
    if case == "mems":
        base.mem_len = 8
    if case == "bi_data":
        base.bi_data = True
    calls = counted(monkeypatch, fast_xlnet.XLNetFastPath)

    def run():
        outs, mems = [], None
        for ids, kwargs in xlnet_inputs("padded" if case == "bi_data" else case):
            out = model(ids, mems=mems, **kwargs)
            outs.append(out[0])
            mems = out[1] if case == "mems" else None
            if mems is not None:
                outs.extend(mems)
        return outs

    fast, own = fast_and_own(model, run, [base.fast])
    segments = 2 if case == "mems" else 1
    assert calls["n"] == N_LAYER * segments  # the fast path ran (and not with it disabled)
    assert QuantizedLinear in calls["projections"]
    assert all(isinstance(p, QuantizedLinear) for w in base.fast.layers()
               for p in (w.qkv, w.r, w.o, w.ff_in, w.ff_out))
    if case == "two_stream":
        assert fast[0].shape == (4, 3, VOCAB)
        assert all(isinstance(w.q, QuantizedLinear) for w in base.fast.layers())
    if case == "mems":
        assert len(fast) == 2 + 2 * N_LAYER and fast[-1].shape[0] == 8
    assert_close(fast, own)


def test_xlnet_int8_fast_path_follows_replaced_weights(monkeypatch):
    """Loading other int8 tensors into the model (new buffers) rebuilds the fast path's stacked projections."""
    model = quantized_copy(tiny("xlnet"))
    other = quantized_copy(tiny("xlnet", seed=4))
    ids = batch("xlnet", size=2, seq=7)
    logits(model, ids)
    model.load_state_dict(other.state_dict(), assign=True)
    assert_close(*fast_and_own(model, lambda: [logits(model, ids)], [model.transformer.fast]))
    assert torch.equal(logits(model, ids), logits(other, ids))  # both on the fast path


@pytest.mark.parametrize("safe", [True, False], ids=["safetensors", "bin"])
def test_xlnet_save_and_load_keeps_int8_attention(safe, tmp_path):
    quantized = quantized_copy(tiny("xlnet"))
    quantized.save_pretrained(tmp_path, safe_serialization=safe)
    assert json.loads((tmp_path / "config.json").read_text())["quantization"]["method"] == "int8"
    loaded, info = type(quantized).from_pretrained(tmp_path, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    attn, saved = loaded.transformer.layer[1].rel_attn, quantized.transformer.layer[1].rel_attn
    for name in ("q", "k", "v", "o", "r"):
        layer = getattr(attn, name)
        assert isinstance(layer, QuantizedLinear) and layer.weight_int8.dtype == torch.int8
        assert torch.equal(layer.weight_int8, getattr(saved, name).weight_int8)
        assert torch.equal(layer.weight_scale, getattr(saved, name).weight_scale)
    assert torch.equal(attn.seg_embed, saved.seg_embed) and torch.equal(attn.r_w_bias, saved.r_w_bias)
    ids = batch("xlnet", size=3, seq=9)
    assert torch.equal(logits(loaded, ids), logits(quantized, ids))
    loaded.transformer.fast.enabled = quantized.transformer.fast.enabled = False
    assert torch.equal(logits(loaded, ids), logits(quantized, ids))


# ---- Transformer-XL ------------------------------------------------------------------------------------------------


def tiny_transfo_xl(pre_lnorm: bool):
    _, _, kwargs = FAMILIES["transfo_xl"]
    torch.manual_seed(0)
    with torch.no_grad():
        model = tf.TransfoXLLMHeadModel(tf.TransfoXLConfig(VOCAB, pre_lnorm=pre_lnorm, **kwargs)).eval()
    _randomize_norms(model)
    return model


@pytest.mark.parametrize("pre_lnorm", [False, True], ids=["post_lnorm", "pre_lnorm"])
def test_transfo_xl_fast_path_runs_int8_and_equals_own_forward(pre_lnorm, monkeypatch):
    model = quantized_copy(tiny_transfo_xl(pre_lnorm))
    n_layer = model.config.n_layer
    calls = counted(monkeypatch, fast_transfo_xl.TransfoXLFastPath, "run")
    segments = [batch("transfo_xl", size=3, seq=7, seed=s) for s in (1, 2, 3)]

    def run():
        outs, mems = [], None
        for ids in segments:  # the first with init_mems' zeros, then the memories of the previous segment
            out = model(ids, mems=mems)
            mems = out[1]
            outs.extend([out[0]] + list(mems))
        return outs

    fast, own = fast_and_own(model, run, [model.transformer.fast, model.fast])
    assert calls["n"] == len(segments)
    assert QuantizedLinear in calls["projections"]
    layers = model.transformer.fast.layers()
    assert all(isinstance(p, QuantizedLinear) for w in layers for p in (w.qkv, w.kv, w.r, w.o, w.ff1, w.ff2))
    attn = model.transformer.layers[0].dec_attn
    hd = attn.n_head * attn.d_head
    assert torch.equal(layers[0].kv.weight_int8, attn.qkv_net.weight_int8[hd:])  # the k and v rows of qkv
    assert len(fast) == 3 * (1 + n_layer)
    assert_close(fast, own)



def test_transfo_xl_generation_runs_int8_on_the_fast_path(monkeypatch):
    """generate() of a quantized Transformer-XL runs its fast path's prefill and steps (memories carried) and gives
    the tokens of the model's own forward with mems (float memories: kv_cache="float"; the int8 memory has its
    own tests, test_quantization_kv_cache.py)."""
    model = quantized_copy(tiny_transfo_xl(False), kv_cache="float")
    plain = copy.deepcopy(model)
    for fast in (plain.transformer.fast, plain.fast):
        fast.enabled = False
    calls = counted(monkeypatch, fast_transfo_xl.TransfoXLFastPath, "step")
    prompts = batch("transfo_xl", size=2, seq=5, seed=7)
    want = greedy(ModuleDecoder(plain), prompts, None, 6)
    assert calls["n"] == 0
    got = model.generate(prompts, max_new_tokens=6)
    assert calls["n"] == 5 and QuantizedLinear in calls["projections"]
    assert torch.equal(got, want)
