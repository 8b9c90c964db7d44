"""int8 encoders (BERT, RoBERTa, DistilBERT, XLM) on the padding-free fast path: every quantized model's fast path
against the same model with its fast path disabled (its own unfused int8 modules), on padded batches (right and
left padding, the heads that read position 0, XLM's languages, its CLM and cache decoding); the path really runs,
on the model's int8 layers; it is rebuilt when quantize() replaces the layers and when their int8 tensors change;
partly quantized models. Top-1 agreement with fp32 and save/load round trips: tests/test_quantization.py."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import transformers_fast as tf
from transformers_fast.ops import PackedLinear, QuantizedLinear, quantized_linear
from transformers_fast.ops.layer import HAS_LAYER_KERNELS
from transformers_fast.models.xlm import modeling_xlm
from transformers_fast.runtime import encoder as fast_encoder
from test_quantization import assert_int8_paths_close, batch, quantized_copy, tiny

ENCODERS = ["bert", "roberta", "distilbert", "xlm"]
CLASSIFIERS = {"bert": "BertForSequenceClassification", "roberta": "RobertaForSequenceClassification",
               "distilbert": "DistilBertForSequenceClassification", "xlm": "XLMForSequenceClassification"}
XLM_LANGS = dict(n_langs=3)  # language embeddings added per token


@pytest.fixture
def fast_calls(monkeypatch):
    """How many forwards ran the encoder fast path."""
    calls = []
    original = fast_encoder.EncoderFastPath._forward
    monkeypatch.setattr(fast_encoder.EncoderFastPath, "_forward",
                        lambda self, *args, **kwargs: calls.append(1) or original(self, *args, **kwargs))
    return calls


def padded(family, side, size=4, seq=11):
    """ids and attention_mask: full rows and rows of 8, 6 and 1 real tokens on `side` ("right" / "left")."""
    ids = batch(family, size=size, seq=seq)
    mask = torch.ones_like(ids)
    for row, length in enumerate([seq, 8, 6, 1][:size]):
        if side == "right":
            mask[row, length:] = 0
        else:
            mask[row, :seq - length] = 0
    return ids, mask


def both_paths(model, ids, **kwargs):
    """The model's first output with the encoder fast path, then with it disabled ([batch, seq, ...])."""
    fast = model.base_model.fast
    outputs = []
    for enabled in (True, False):
        fast.enabled = enabled
        with torch.no_grad():
            out = model(ids, **kwargs)[0]
        outputs.append(out.view(ids.shape[0], -1, out.shape[-1]) if out.dim() == 2 and out.shape[0] == ids.numel()
                       else out)
    fast.enabled = True
    return outputs


def assert_int8_layers(model):
    """The fast path was built from the model's int8 layers: q, k, v stacked, the GELU fused into ffn_in (the
    model's own module)."""
    layers = model.base_model.fast._layers
    assert layers
    for layer in layers:
        assert all(isinstance(p, QuantizedLinear) for p in layer.projections())
        assert layer.activation is None and layer.ffn_in.activation == "gelu"
        assert layer.qkv.out_features == 3 * layer.width and layer.out.bias is None and layer.ffn_out.bias is None
    modules = {id(m) for m in model.modules()}
    assert all(id(layer.ffn_in) in modules for layer in layers)


def langs_for(family, ids):
    if family != "xlm":
        return {}
    return {"langs": torch.randint(0, XLM_LANGS["n_langs"], ids.shape, generator=torch.Generator().manual_seed(4))}


@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("family", ENCODERS)
def test_fast_path_equals_the_unfused_int8_modules(family, side, fast_calls):
    model = quantized_copy(tiny(family, **(XLM_LANGS if family == "xlm" else {})))
    ids, mask = padded(family, side)
    fast, plain = both_paths(model, ids, attention_mask=mask, **langs_for(family, ids))
    assert len(fast_calls) == 1
    assert_int8_layers(model)
    real = mask.bool()
    assert_int8_paths_close(fast[real], plain[real])
    # a full batch (no packing) and a batch without a mask
    full = batch(family, size=2, seq=7)
    fast, plain = both_paths(model, full, **langs_for(family, full))
    assert_int8_paths_close(fast, plain)


@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("family", ENCODERS)
def test_heads_reading_position_0(family, side, fast_calls):
    """BERT's pooler, RoBERTa's and DistilBERT's classifiers and XLM's sequence summary read position 0, padding
    or not (left padding: an extra query row in the fast path)."""
    model = quantized_copy(tiny(family, class_name=CLASSIFIERS[family], num_labels=3))
    ids, mask = padded(family, side)
    fast, plain = both_paths(model, ids, attention_mask=mask)
    assert len(fast_calls) == 1
    assert_int8_layers(model)
    assert_int8_paths_close(fast, plain)
    if family == "bert":
        bert = model.bert
        with torch.no_grad():
            pooled = bert(ids, attention_mask=mask)[1]
            bert.fast.enabled = False
            assert_int8_paths_close(pooled, bert(ids, attention_mask=mask)[1])


def test_xlm_causal_and_cache_decoding(fast_calls, monkeypatch):
    model = quantized_copy(tiny("xlm", causal=True, **XLM_LANGS))
    ids, mask = padded("xlm", "right")  # a causal model's fast path takes right padding
    langs = langs_for("xlm", ids)
    fast, plain = both_paths(model, ids, attention_mask=mask, **langs)
    assert len(fast_calls) == 1 and all(layer.causal for layer in model.transformer.fast._layers)
    assert_int8_layers(model)
    real = mask.bool()
    assert_int8_paths_close(fast[real], plain[real])

    decodes = []
    original = modeling_xlm.XLMFastPath.decode
    monkeypatch.setattr(modeling_xlm.XLMFastPath, "decode", lambda self, *a: decodes.append(1) or original(self, *a))
    lengths = mask.sum(1)
    steps = {}
    for enabled in (True, False):
        model.transformer.fast.enabled = enabled
        cache = {"slen": 0}
        with torch.no_grad():
            first = model(ids[:, :7], lengths=lengths.clamp(max=7), langs=langs["langs"][:, :7], cache=cache)[0]
            second = model(ids, lengths=lengths, langs=langs["langs"], cache=cache)[0]
        steps[enabled] = (first.view(4, 7, -1), second.view(4, 4, -1))
    assert len(decodes) == 2
    for fast_step, plain_step, real_step in zip(steps[True], steps[False], (real[:, :7], real[:, 7:])):
        assert_int8_paths_close(fast_step[real_step], plain_step[real_step])


@pytest.mark.parametrize("family", ENCODERS)
def test_rebuilt_when_quantize_replaces_the_layers(family):
    model = tiny(family)
    ids, mask = padded(family, "right")
    with torch.no_grad():
        model(ids, attention_mask=mask)  # builds the float fast path
    assert isinstance(model.base_model.fast._layers[0].qkv, PackedLinear)
    tf.quantize(model, "int8")
    fast, plain = both_paths(model, ids, attention_mask=mask)
    assert_int8_layers(model)
    real = mask.bool()
    assert_int8_paths_close(fast[real], plain[real])


def test_rebuilt_when_int8_tensors_change_in_place():
    """The fused QKV is a copy of q, k and v's int8 tensors (buffers): changing them in place rebuilds it."""
    model = quantized_copy(tiny("bert"))
    ids, mask = padded("bert", "left")
    before = both_paths(model, ids, attention_mask=mask)[0]
    attention = model.bert.encoder.layer[1].attention.self
    with torch.no_grad():
        attention.key.weight_int8.neg_()
        attention.value.bias.add_(0.5)
        attention.query.weight_scale.mul_(2.0)
    fast, plain = both_paths(model, ids, attention_mask=mask)
    real = mask.bool()
    assert (fast[real] - before[real]).abs().max() > 1e-2
    assert_int8_paths_close(fast[real], plain[real])
    # a buffer replaced by another tensor
    attention.query.bias = attention.query.bias * -1.0
    fast, plain = both_paths(model, ids, attention_mask=mask)
    assert_int8_paths_close(fast[real], plain[real])


def test_partly_quantized_model():
    """int8 feed-forward in one layer, int8 attention in the other, float elsewhere (layers swapped by hand)."""
    model = tiny("bert")
    first, second = model.bert.encoder.layer
    first.intermediate.dense = QuantizedLinear.from_float(first.intermediate.dense, "gelu")
    first.intermediate.intermediate_act_fn = nn.Identity()
    first.output.dense = QuantizedLinear.from_float(first.output.dense)
    for parent, name in ((second.attention.self, "query"), (second.attention.self, "key"),
                         (second.attention.self, "value"), (second.attention.output, "dense")):
        setattr(parent, name, QuantizedLinear.from_float(getattr(parent, name)))
    model.invalidate_fast_path()  # modules replaced by hand (quantize() does this itself)
    ids, mask = padded("bert", "left")
    fast, plain = both_paths(model, ids, attention_mask=mask)
    real = mask.bool()
    assert_int8_paths_close(fast[real], plain[real])
    built = model.bert.fast._layers
    assert [type(p).__name__ for p in built[0].projections()] == ["PackedLinear", "PackedLinear", "QuantizedLinear",
                                                                  "QuantizedLinear"]
    assert [type(p).__name__ for p in built[1].projections()] == ["QuantizedLinear", "QuantizedLinear",
                                                                  "PackedLinear", "PackedLinear"]
    # q, k and v run as one GEMM: all int8 or all float
    second.attention.self.key = nn.Linear(32, 32)
    model.invalidate_fast_path()
    with torch.no_grad(), pytest.raises(TypeError, match="all int8 or all float"):
        model(ids, attention_mask=mask)


@pytest.mark.parametrize("family, config, fused", [
    ("xlm", dict(gelu_activation=False), None), ("distilbert", dict(activation="relu"), None),
    ("bert", dict(hidden_act="relu"), None), ("bert", dict(hidden_act="gelu_new"), "gelu_tanh")])
def test_other_activations(family, config, fused):
    """quantize fuses the tanh GELU into the int8 GEMM as well; another activation stays the model's own, run
    after the GEMM."""
    model = quantized_copy(tiny(family, **config))
    ids, mask = padded(family, "left")
    fast, plain = both_paths(model, ids, attention_mask=mask)
    real = mask.bool()
    assert_int8_paths_close(fast[real], plain[real])
    layer = model.base_model.fast._layers[0]
    assert layer.ffn_in.activation == fused and (layer.activation is None) == (fused is not None)


@pytest.mark.skipif(not (HAS_LAYER_KERNELS and quantized_linear.kernel_available()),
                    reason="C++ layers or the vectorised int8 kernel not built here")
@pytest.mark.parametrize("family", ENCODERS)
def test_one_call_layers_run_int8(family, monkeypatch):
    """Small batches run each int8 layer as one C++ call (the int8 GEMM inside the C++ layer), with the results of
    the layer run op by op from Python."""
    # (a sequence classifier: heads that score every position run a padded batch unpacked, op by op)
    model = quantized_copy(tiny(family, class_name=CLASSIFIERS[family], **(XLM_LANGS if family == "xlm" else {})))
    ids, mask = padded(family, "right")
    calls = []
    original = fast_encoder.fused_layer
    monkeypatch.setattr(fast_encoder, "fused_layer", lambda *a: calls.append(a[1].shape[0]) or original(*a))
    kwargs = dict(attention_mask=mask, **langs_for(family, ids))
    with torch.no_grad():
        one_call = model(ids, **kwargs)[0]
        assert calls and set(calls) == {int(mask.sum())}
        monkeypatch.setattr(fast_encoder, "FUSED_MAX_TOKENS", 0)
        calls.clear()
        op_by_op = model(ids, **kwargs)[0]
        assert not calls
    assert torch.equal(one_call, op_by_op)
