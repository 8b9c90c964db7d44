"""What a user does with dtypes, against pytorch-transformers 1.2.0 doing the same: autocast around a float32 model,
memories / past in another dtype than the model, quantizing a bfloat16 model, a frozen or quantized model run with
gradients enabled, and from_pretrained's dtype argument ("auto", names, a quantized bf16 folder)."""
from __future__ import annotations

import copy
import logging

import pytest
import torch

import transformers_fast as tf
from test_quantization import FAMILIES, batch, tiny

BF16 = torch.bfloat16


def reference(model, tmp_path):
    """pytorch-transformers 1.2.0's model of the same class and weights (saved by ours, loaded by 1.2.0)."""
    import pytorch_transformers as pt

    logging.getLogger("pytorch_transformers").setLevel(logging.ERROR)
    model.save_pretrained(str(tmp_path))
    with torch.no_grad():  # (1.2.0's DistilBERT fills its sinusoidal table in place)
        return getattr(pt, type(model).__name__).from_pretrained(str(tmp_path)).eval()


def first(out):
    while isinstance(out, (tuple, list)):
        out = out[0]
    return out


def outcome(model, *args, **kwargs):
    """The first output, or the exception raised."""
    try:
        with torch.no_grad():
            return first(model(*args, **kwargs))
    except Exception as error:  # noqa: BLE001 (compared with the reference's)
        return error


# ---- autocast -------------------------------------------------------------------------------------------------

AUTOCAST_CLASSES = ["BertForMaskedLM", "BertForPreTraining", "RobertaForMaskedLM", "DistilBertForMaskedLM",
                    "GPT2LMHeadModel", "OpenAIGPTLMHeadModel", "XLNetLMHeadModel", "XLMWithLMHeadModel", "BertModel"]
FAMILY_OF = {"Bert": "bert", "Roberta": "roberta", "DistilBert": "distilbert", "GPT2": "gpt2", "OpenAIGPT": "openai",
             "XLNet": "xlnet", "XLM": "xlm"}


@pytest.mark.parametrize("class_name", AUTOCAST_CLASSES)
@pytest.mark.parametrize("dtype", [BF16, torch.float16], ids=str)
def test_autocast_computes_as_the_reference_does(class_name, dtype, tmp_path):
    """Under torch.autocast the reference's linear layers run in the autocast dtype: ours give its outputs, in its
    output dtype (the fast paths, which would compute in float32, step aside)."""
    family = FAMILY_OF[next(p for p in sorted(FAMILY_OF, key=len, reverse=True) if class_name.startswith(p))]
    ours = tiny(family, class_name=class_name)
    ref = reference(ours, tmp_path)
    ids = batch(family, size=2, seq=7)
    with torch.autocast("cpu", dtype=dtype):
        got, want = outcome(ours, ids), outcome(ref, ids)
    assert isinstance(want, torch.Tensor), want
    assert isinstance(got, torch.Tensor) and got.dtype == want.dtype, (got, want.dtype)
    torch.testing.assert_close(got.view(want.shape), want, atol=2e-2 if dtype is BF16 else 2e-3, rtol=0)


@pytest.mark.parametrize("class_name", ["GPT2LMHeadModel", "OpenAIGPTLMHeadModel"])
def test_gpt_in_low_precision_rounds_as_the_reference(class_name, tmp_path):
    """GELU's steps and the softmax over scores the reference's float32 mask promotes: a training step under
    bfloat16 autocast and a float16 model's forward give the reference's numbers exactly."""
    family = FAMILY_OF[next(p for p in FAMILY_OF if class_name.startswith(p))]
    ours = tiny(family, class_name=class_name).train()
    ref = reference(ours, tmp_path).train()
    ids = batch(family, size=2, seq=7)
    results = []
    for model in (ours, ref):
        torch.manual_seed(0)  # (dropout: the same draws, in the same order as the reference)
        with torch.autocast("cpu", dtype=BF16):
            loss, logits = model(ids, labels=ids)[:2]
        loss.backward()
        with torch.no_grad():
            half = first(copy.deepcopy(model).eval().half()(ids))
        results.append((loss, logits, model.transformer.h[0].mlp.c_fc.weight.grad, half))
    for got, want in zip(*results):
        torch.testing.assert_close(got, want, atol=0, rtol=0)


# ---- memories and past in another dtype ---------------------------------------------------------------------


def _memories(model, ids, name):
    with torch.no_grad():
        return model(ids)[1]


@pytest.mark.parametrize("family,name", [("transfo_xl", "mems"), ("xlnet", "mems"), ("gpt2", "past")])
@pytest.mark.parametrize("model_dtype,memory_dtype", [(torch.float32, BF16), (BF16, torch.float32)], ids=str)
def test_memories_in_another_dtype(family, name, model_dtype, memory_dtype, tmp_path):
    """A float32 model given bfloat16 memories computes with them as the reference does (torch promotes them: an
    exact conversion); a bfloat16 model given float32 memories is an error, as in the reference, naming them."""
    options = dict(mem_len=5) if family == "xlnet" else {}
    ours = tiny(family, **options)
    ref = reference(ours, tmp_path)
    ids = batch(family, size=2, seq=6)
    memories = {m: _memories(copy.deepcopy(ref).to(memory_dtype), ids, name) for m in ("ref",)}["ref"]
    ours, ref = ours.to(model_dtype), ref.to(model_dtype)
    got = outcome(ours, ids, **{name: [m.clone() for m in memories]})
    want = outcome(ref, ids, **{name: [m.clone() for m in memories]})
    if isinstance(want, Exception):
        assert isinstance(got, TypeError), got
        assert f"{name}[0]" in str(got) and str(memory_dtype) in str(got) and str(model_dtype) in str(got), got
        return
    assert isinstance(got, torch.Tensor) and got.dtype == want.dtype, (got, want.dtype)
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


@torch.no_grad()
def test_transfo_xl_runs_under_autocast():
    """(1.2.0 fails there: its adaptive input writes autocast's bfloat16 projections into a float32 buffer)"""
    model = tiny("transfo_xl")
    ids = batch("transfo_xl", size=2, seq=7)
    want, mems = model(ids)[:2]
    with torch.autocast("cpu", dtype=BF16):
        got, got_mems = model(ids)[:2]
        model(ids, mems=got_mems)
    assert got.dtype == want.dtype and got_mems[0].dtype == mems[0].dtype
    torch.testing.assert_close(got, want, atol=0.1, rtol=0.02)


# ---- int8 -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", list(FAMILIES))
@torch.no_grad()
def test_quantizing_a_bf16_model(family):
    """quantize(model.to(bf16)) runs as model.to(bf16) after quantize does (the int8 weights come from the bf16 ones:
    close, not equal)."""
    model = tiny(family)
    ids = batch(family, size=2, seq=7)
    want = first(tf.quantize(copy.deepcopy(model), "int8").to(BF16)(ids))
    got = first(tf.quantize(copy.deepcopy(model).to(BF16), "int8")(ids))
    assert got.dtype is BF16
    torch.testing.assert_close(got.float(), want.float(), atol=0.1 if family == "transfo_xl" else 2e-2, rtol=0)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_frozen_and_quantized_models_with_grad_enabled_give_outputs_without_grad(family, tmp_path):
    """A model whose parameters do not require grad gives outputs that do not either (as the reference's), run with
    gradients enabled: the fast paths' packed copies of its weights must not require grad."""
    model = tiny(family)
    for p in model.parameters():
        p.requires_grad_(False)
    ref = reference(model, tmp_path)
    for p in ref.parameters():
        p.requires_grad_(False)
    ids = batch(family, size=2, seq=7)
    assert not any(t.requires_grad for t in _tensors(ref(ids)))
    assert not any(t.requires_grad for t in _tensors(model(ids)))
    quantized = tf.quantize(copy.deepcopy(model), "int8", lm_head=family != "transfo_xl")
    assert not any(t.requires_grad for t in _tensors(quantized(ids)))


def _tensors(out):
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _tensors(o)]
    return []


# ---- from_pretrained's dtype ----------------------------------------------------------------------------------


def _hf_dtype(folder, value):
    import transformers

    transformers.logging.set_verbosity_error()
    return transformers.BertModel.from_pretrained(str(folder), dtype=value).dtype


@pytest.mark.parametrize("config_entry", [None, ("dtype", "float16"), ("torch_dtype", "float16")])
def test_from_pretrained_dtype_auto_and_names_as_transformers(config_entry, tmp_path):
    """dtype="auto": the config's dtype (torch_dtype in older configs), else the checkpoint's; a dtype's name is
    taken too. Both as current transformers reads the same folder."""
    import json

    tiny("bert", class_name="BertModel").to(BF16).save_pretrained(str(tmp_path), safe_serialization=True)
    if config_entry is not None:
        config = json.loads((tmp_path / "config.json").read_text())
        config[config_entry[0]] = config_entry[1]
        (tmp_path / "config.json").write_text(json.dumps(config))
    for key in ("torch_dtype", "dtype"):
        for value in ("auto", "bfloat16", "float16", torch.float64):
            model = tf.BertModel.from_pretrained(str(tmp_path), **{key: value})
            assert {p.dtype for p in model.parameters()} == {_hf_dtype(tmp_path, value)}, (key, value)
    assert next(tf.BertModel.from_pretrained(str(tmp_path)).parameters()).dtype is torch.float32  # as 1.2.0


def test_from_pretrained_bad_dtype(tmp_path):
    tiny("bert", class_name="BertModel").save_pretrained(str(tmp_path))
    for bad in ("bogus", torch.int8, 16):
        with pytest.raises(ValueError, match="torch_dtype"):
            tf.BertModel.from_pretrained(str(tmp_path), torch_dtype=bad)


@pytest.mark.parametrize("family", ["bert", "gpt2", "xlnet", "transfo_xl"])
@torch.no_grad()
def test_quantized_bf16_model_loads_back_as_saved(family, tmp_path):
    """An int8 folder (which 1.2.0 cannot read) loads in the dtype it was saved in: the same outputs, bit for bit."""
    model = tf.quantize(tiny(family), "int8").to(BF16)
    model.save_pretrained(str(tmp_path))
    loaded = type(model).from_pretrained(str(tmp_path))
    ids = batch(family, size=2, seq=7)
    assert torch.equal(first(loaded(ids)), first(model(ids)))
    assert {p.dtype for p in loaded.parameters()} == {BF16}


def test_save_pretrained_updates_a_dtype_entry_of_the_config(tmp_path):
    """A config read from a transformers folder carries `dtype`: saving a converted model writes the new one (as
    transformers does), so that "auto" and transformers read the folder back in it."""
    model = tiny("bert", class_name="BertModel")
    model.config.dtype = "float32"
    model.to(BF16).save_pretrained(str(tmp_path / "bf16"))
    assert next(tf.BertModel.from_pretrained(str(tmp_path / "bf16"), dtype="auto").parameters()).dtype is BF16
    assert _hf_dtype(tmp_path / "bf16", "auto") is BF16


@pytest.mark.parametrize("family", sorted(set(FAMILIES) - {"xlm", "transfo_xl"}))
def test_forward_on_the_meta_device_gives_the_shapes(family):
    """model.to("meta") on meta inputs (shape inference, FLOP counters), as 1.2.0 runs it for BERT, DistilBERT,
    the GPTs and XLNet: the reference path's shapes, with or without autograd. (XLM's lengths and Transformer-XL's
    adaptive embedding depend on the values, in 1.2.0 too.)"""
    model = tiny(family)
    ids = batch(family, size=2, seq=7)
    with torch.no_grad():
        real = [t.shape for t in _tensors(model(ids))]
    meta = model.to("meta")
    for grad in (False, True):
        with torch.set_grad_enabled(grad):
            got = _tensors(meta(ids.to("meta")))
        assert [t.shape for t in got] == real and all(t.is_meta for t in got)
