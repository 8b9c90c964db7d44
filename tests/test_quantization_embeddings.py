"""quantize(model, "int8", embeddings=True): the word embedding tables in int8 (one scale per row). Every family's
outputs on padded batches equal those of the same int8 model whose float tables hold the dequantized rows; a tied
int8 LM head and the table share one int8 matrix; save/load round trips in both formats; GPT-2 generation; the
QuantizedEmbedding module's own checks."""
from __future__ import annotations

import copy
import os

import pytest
import torch
import torch.nn as nn

import transformers_fast as tf
from transformers_fast import ops
from transformers_fast.ops.quantized_linear import quantize_weight
from transformers_fast.quantization import _input_tables
from test_quantization import FAMILIES, VOCAB, batch, tiny, varied_gpt2

# families whose LM head is tied to the word embeddings (Transformer-XL's adaptive softmax quantizes itself)
TIED = ["bert", "roberta", "distilbert", "gpt2", "openai", "xlnet", "xlm"]
MASKED = {"bert", "roberta", "distilbert", "gpt2", "openai", "xlnet", "xlm"}


def padded(family: str, size: int = 4, seq: int = 12):
    ids = batch(family, size=size, seq=seq)
    if family not in MASKED:
        return ids, {}
    mask = torch.ones_like(ids)
    for row, length in enumerate([seq, seq - 5, 3, seq - 1][:size]):
        if family in ("gpt2", "openai"):
            mask[row, :seq - length] = 0  # left padding, as generation pads
        else:
            mask[row, length:] = 0
    return ids, dict(attention_mask=mask)


def outputs(model, ids, kwargs):
    with torch.no_grad():
        out = model(ids, **kwargs)[0]
    return out.reshape(-1, out.shape[-1])


def dequantized_tables(model: nn.Module) -> nn.Module:
    """A copy whose word tables are new float parameters holding the int8 rows' values (the LM head keeps the
    original float matrix, as the head of a model quantized with embeddings=True does)."""
    model = copy.deepcopy(model)
    for _, _, table in _input_tables(model):
        q, scale = quantize_weight(table.weight)
        table.weight = nn.Parameter((q.float() * scale[:, None]).to(table.weight.dtype))
    return model


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
@pytest.mark.parametrize("lm_head", [False, True], ids=["float_head", "int8_head"])
@pytest.mark.parametrize("family", list(FAMILIES))
def test_int8_tables_give_the_dequantized_tables_outputs(family, lm_head, dtype):
    """(bf16: a bfloat16 model quantized; its lookups come in bf16, the tables' scales stay float32)"""
    model = tiny(family).to(dtype)
    ids, kwargs = padded(family)
    want_model = tf.quantize(dequantized_tables(model), "int8", lm_head=lm_head)
    got_model = tf.quantize(copy.deepcopy(model), "int8", lm_head=lm_head, embeddings=True)
    tables = _input_tables(got_model)
    assert tables and all(isinstance(table, ops.QuantizedEmbedding) for _, _, table in tables)
    assert got_model.config.quantization["embeddings"] is True
    want, got = outputs(want_model, ids, kwargs), outputs(got_model, ids, kwargs)
    assert got.dtype == dtype and got.shape == want.shape
    assert all(table.weight_scale.dtype == torch.float32 and table.dtype == dtype for _, _, table in tables)
    # (an int8 head made from the dequantized matrix may differ from the original's in a scale's last bit)
    tolerance = dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=1e-2, atol=1e-2)
    torch.testing.assert_close(got, want, **tolerance)
    # and the embeddings did change the outputs a little (the tables are not left float)
    assert not torch.equal(got, outputs(tf.quantize(copy.deepcopy(model), "int8", lm_head=lm_head), ids, kwargs))


def _vocab_sized_float(model) -> list:
    return [name for name, t in list(model.named_parameters()) + list(model.named_buffers())
            if t.is_floating_point() and t.dim() == 2 and t.shape[0] == VOCAB]


@pytest.mark.parametrize("family", TIED)
def test_tied_int8_head_and_table_share_one_matrix(family):
    model = tf.quantize(tiny(family), "int8", lm_head=True, embeddings=True)
    head, table = model.get_output_embeddings(), model.get_input_embeddings()
    assert isinstance(head, ops.QuantizedLinear) and isinstance(table, ops.QuantizedEmbedding)
    assert head.weight_int8.data_ptr() == table.weight_int8.data_ptr()
    assert head.weight_scale.data_ptr() == table.weight_scale.data_ptr()
    assert not _vocab_sized_float(model)  # no float copy of the vocabulary matrix is left
    model.to(torch.bfloat16)  # the scales stay float32: still one matrix and one set of scales
    head, table = model.get_output_embeddings(), model.get_input_embeddings()
    assert head.weight_scale.data_ptr() == table.weight_scale.data_ptr() and table.dtype == torch.bfloat16
    # with a float head, the head keeps its own float matrix and the table is int8
    float_head = tf.quantize(tiny(family), "int8", embeddings=True)
    assert isinstance(float_head.get_input_embeddings(), ops.QuantizedEmbedding)
    assert float_head.get_output_embeddings().weight.dtype == torch.float32


@pytest.mark.parametrize("safe", [True, False], ids=["safetensors", "bin"])
@pytest.mark.parametrize("family,lm_head", [(family, True) for family in FAMILIES] + [("gpt2", False), ("bert", False)])
def test_save_and_load_round_trip(family, lm_head, safe, tmp_path):
    model = tf.quantize(tiny(family), "int8", lm_head=lm_head, embeddings=True)
    model.save_pretrained(tmp_path, safe_serialization=safe)
    loaded, info = type(model).from_pretrained(tmp_path, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    assert all(isinstance(table, ops.QuantizedEmbedding) for _, _, table in _input_tables(loaded))
    ids, kwargs = padded(family)
    assert torch.equal(outputs(loaded, ids, kwargs), outputs(model, ids, kwargs))
    if lm_head and family in TIED:
        assert loaded.get_output_embeddings().weight_int8.data_ptr() == \
            loaded.get_input_embeddings().weight_int8.data_ptr()
    if family == "transfo_xl" or not lm_head:
        return  # a float head (Transformer-XL's adaptive softmax too) keeps the float matrix: no smaller
    # smaller than the same model saved with float tables
    float_tables = tmp_path / "float_tables"
    tf.quantize(tiny(family), "int8", lm_head=lm_head).save_pretrained(float_tables, safe_serialization=safe)
    name = "model.safetensors" if safe else "pytorch_model.bin"
    assert os.path.getsize(tmp_path / name) < os.path.getsize(float_tables / name)


def test_quantizing_the_tables_later_and_from_pretrained_keyword(tmp_path):
    model = tiny("gpt2")
    ids, kwargs = padded("gpt2")
    once = tf.quantize(copy.deepcopy(model), "int8", lm_head=True, embeddings=True)
    later = tf.quantize(tf.quantize(copy.deepcopy(model), "int8", lm_head=True), "int8", embeddings=True)
    assert later.config.quantization["lm_head"] and later.config.quantization["embeddings"]
    assert torch.equal(outputs(later, ids, kwargs), outputs(once, ids, kwargs))
    with pytest.raises(TypeError, match="embeddings must be True or False"):
        tf.quantize(copy.deepcopy(model), "int8", embeddings="yes")
    # from_pretrained(quantize=...) takes quantize()'s arguments as a dict
    model.save_pretrained(tmp_path)
    loaded = tf.GPT2LMHeadModel.from_pretrained(tmp_path, quantize=dict(method="int8", lm_head=True, embeddings=True))
    assert loaded.config.quantization["embeddings"] and isinstance(loaded.get_input_embeddings(), ops.QuantizedEmbedding)
    assert torch.equal(outputs(loaded, ids, kwargs), outputs(once, ids, kwargs))
    with pytest.raises(TypeError, match="unexpected keyword"):
        tf.GPT2LMHeadModel.from_pretrained(tmp_path, quantize=dict(method="int8", bits=4))


def test_gpt2_generation_with_int8_tables():
    model = varied_gpt2()
    prompts = torch.randint(0, 1000, (3, 8), generator=torch.Generator().manual_seed(5))
    mask = torch.ones_like(prompts)
    mask[1, :3] = 0
    for kv_cache in ("int8", "float"):
        want = tf.quantize(dequantized_tables(model), "int8", lm_head=True, kv_cache=kv_cache)
        got = tf.quantize(copy.deepcopy(model), "int8", lm_head=True, embeddings=True, kv_cache=kv_cache)
        assert torch.equal(got.generate(prompts, attention_mask=mask, max_new_tokens=16),
                           want.generate(prompts, attention_mask=mask, max_new_tokens=16))


def test_resizing_a_quantized_model_raises():
    model = tf.quantize(tiny("bert"), "int8", embeddings=True)
    with pytest.raises(RuntimeError, match="quantized.*resize the float model"):
        model.resize_token_embeddings(VOCAB + 5)


def test_quantized_embedding_module():
    table = nn.Embedding(10, 6, padding_idx=0)
    int8 = ops.QuantizedEmbedding.from_float(table)
    ids = torch.tensor([[1, 2, 9], [0, 3, 3]])
    q, scale = quantize_weight(table.weight)
    assert torch.equal(int8(ids), (q.float() * scale[:, None])[ids])
    assert int8.padding_idx == 0 and int8.num_embeddings == 10 and int8.embedding_dim == 6
    with pytest.raises(IndexError):
        int8(torch.tensor([10]))
    with pytest.raises(TypeError, match="integer tensor"):
        int8(torch.tensor([1.0]))
    int8.train()
    with pytest.raises(RuntimeError, match="inference-only"):
        int8(ids)
    with torch.no_grad():
        assert int8(ids).shape == (2, 3, 6)
    int8.eval()
    assert int8.to(torch.bfloat16)(ids).dtype == torch.bfloat16
    with pytest.raises(TypeError, match="int8 tensor"):
        ops.QuantizedEmbedding(torch.zeros(3, 2), torch.ones(3))
    with pytest.raises(TypeError, match="shape \\[3\\]"):
        ops.QuantizedEmbedding(torch.zeros(3, 2, dtype=torch.int8), torch.ones(4))


@pytest.mark.parametrize("family", ["bert", "gpt2"])
def test_bf16_model_round_trip(family, tmp_path):
    model = tf.quantize(tiny(family).to(torch.bfloat16), "int8", lm_head=True, embeddings=True)
    model.save_pretrained(tmp_path, safe_serialization=True)
    loaded = type(model).from_pretrained(tmp_path)  # an int8 folder loads in the dtype it was saved in
    assert loaded.get_input_embeddings().dtype == torch.bfloat16
    ids, kwargs = padded(family)
    got = outputs(loaded, ids, kwargs)
    assert got.dtype == torch.bfloat16 and torch.equal(got, outputs(model, ids, kwargs))


@pytest.mark.parametrize("family", ["xlnet", "transfo_xl"])
def test_memories_carried_into_a_model_with_int8_tables(family):
    """The memories a model with int8 tables returns go back in as they are (their dtype is the model's float
    dtype, not the int8 table's), giving the dequantized-tables model's second segment."""
    model = tiny(family)
    if family == "xlnet":
        model.config.mem_len = 6
        model.transformer.mem_len = 6
    want_model = tf.quantize(dequantized_tables(model), "int8")
    got_model = tf.quantize(copy.deepcopy(model), "int8", embeddings=True)
    ids = batch(family, size=2, seq=5)
    with torch.no_grad():
        got_mems, want_mems = got_model(ids)[1], want_model(ids)[1]
        assert got_mems is not None and all(m.dtype == torch.float32 for m in got_mems)
        got, want = got_model(ids, mems=got_mems)[0], want_model(ids, mems=want_mems)[0]
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
