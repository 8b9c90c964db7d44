"""The int8 KV cache of an int8 model's generation: ops.attention.quantize_kv (symmetric int8 rows, one float32 scale
each) against its torch formula, ops.attention over int8 keys and values against float attention over the
dequantized rows, and the GPT decoders with the int8 cache against the same decoder keeping those dequantized rows
in a float cache (what an int8 cache means), plus its accuracy against the float cache."""
from __future__ import annotations

import copy

import pytest
import torch

import transformers_fast as tf
from test_quantization import assert_int8_paths_close, batch, quantized_copy, tiny, varied_gpt2
from transformers_fast import ops
from transformers_fast.ops.attention import _padded_reference, _quantize_kv_reference, dequantize_kv, quantize_kv
from transformers_fast.ops.layer import HAS_LAYER_KERNELS
from transformers_fast.runtime import decoder as fast_decoder

CASES = [(family, lm_head) for family in ("gpt2", "openai") for lm_head in (False, True)]


def rows_with_specials(*shape, seed=0):
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * 3
    flat = x.view(-1, shape[-1])
    flat[0] = 0.0
    flat[1, 2] = float("nan")
    flat[2, 0] = float("inf")
    flat[3, 1] = -float("inf")
    flat[4] = 1e-30  # subnormal scale
    flat[5, :] = -2.5  # every value at the extreme
    return x


def assert_same_scales(got, want):
    assert torch.equal(torch.isnan(got), torch.isnan(want))
    assert torch.equal(got.nan_to_num(0.0), want.nan_to_num(0.0))


def test_quantize_kv_is_the_symmetric_per_row_formula():
    x = rows_with_specials(3, 4, 7, 65)
    q, scale = quantize_kv(x)
    want_q, want_scale = _quantize_kv_reference(x)
    assert q.dtype is torch.int8 and scale.dtype is torch.float32 and scale.shape == (3, 4, 7)
    assert torch.equal(q, want_q)
    assert_same_scales(scale, want_scale)
    assert int(q.abs().max()) == 127 and int(q.min()) >= -127
    flat_q, flat_s = q.view(-1, 65), scale.view(-1)
    assert torch.all(flat_q[:4] == 0) and flat_s[0] == 0 and torch.isnan(flat_s[1:4]).all()
    assert torch.all(flat_q[5] == -127)
    finite = torch.isfinite(flat_s)
    error = (dequantize_kv(q, scale) - x).view(-1, 65)[finite].abs()
    assert torch.all(error <= flat_s[finite, None] / 2 * (1 + 1e-6))


def test_quantize_kv_writes_into_strided_cache_slots():
    """The decoder writes a step's keys and values (a strided view of its fused QKV output) into slot t of a cache
    [batch, 2, heads, capacity, head_dim] and its scales [batch, 2, heads, capacity]."""
    qkv = rows_with_specials(2, 3, 4, 16).view(2, 3, 4, 16)  # [batch, q/k/v, heads, head_dim]
    cache = torch.zeros(2, 2, 4, 5, 16, dtype=torch.int8)
    scales = torch.zeros(2, 2, 4, 5)
    quantize_kv(qkv[:, 1:], cache.select(3, 3), scales.select(3, 3))
    want_q, want_scale = _quantize_kv_reference(qkv[:, 1:].contiguous())
    assert torch.equal(cache[:, :, :, 3], want_q) and not cache[:, :, :, [0, 1, 2, 4]].any()
    assert_same_scales(scales[:, :, :, 3], want_scale)
    # a prompt: five dims, [batch, 2, heads, seq, head_dim] permuted from [batch, seq, 3, heads, head_dim]
    prompt = torch.randn(2, 3, 3, 4, 16)
    quantize_kv(prompt[:, :, 1:].permute(0, 2, 3, 1, 4), cache[:, :, :, :3], scales[:, :, :, :3])
    want_q, want_scale = _quantize_kv_reference(prompt[:, :, 1:].permute(0, 2, 3, 1, 4).contiguous())
    assert torch.equal(cache[:, :, :, :3], want_q)
    assert_same_scales(scales[:, :, :, :3], want_scale)


@pytest.mark.parametrize("bad,message", [
    (lambda: quantize_kv(torch.randn(4, 8, dtype=torch.float64)), "float32"),
    (lambda: quantize_kv(torch.randn(8)), "2 to 5 dims"),
    (lambda: quantize_kv(torch.randn(4, 8), torch.empty(4, 8)), "int8"),
    (lambda: quantize_kv(torch.randn(4, 8), torch.empty(4, 9, dtype=torch.int8)), "int8"),
    (lambda: quantize_kv(torch.randn(4, 8), None, torch.empty(5)), "scale"),
])
def test_quantize_kv_bad_input(bad, message):
    with pytest.raises((TypeError, ValueError), match=message):
        bad()


def int8_operands(batch, heads, keys, dim, capacity=None, seed=0):
    """Quantized keys and values, as narrowed views of a cache of `capacity` slots."""
    capacity = capacity or keys
    g = torch.Generator().manual_seed(seed)
    cache = torch.randn(batch, 2, heads, capacity, dim, generator=g) * 2
    q8, scales = quantize_kv(cache)
    k, v = q8[:, 0, :, :keys], q8[:, 1, :, :keys]
    ks, vs = scales[:, 0, :, :keys], scales[:, 1, :, :keys]
    return k, ks, v, vs


@pytest.mark.parametrize("sq,keys,dim,causal,masked,lengths", [
    (1, 1, 64, False, False, False), (1, 37, 64, False, True, False), (3, 20, 7, True, False, False),
    (14, 30, 65, True, True, False), (20, 20, 1, False, False, True), (5, 48, 32, False, True, True),
])
def test_attention_over_int8_keys_and_values(sq, keys, dim, causal, masked, lengths):
    batch, heads = 2, 3
    k, ks, v, vs = int8_operands(batch, heads, keys, dim, capacity=keys + 3)
    assert not k.is_contiguous()
    q = torch.randn(batch, heads, sq, dim, generator=torch.Generator().manual_seed(1))
    mask = None
    if masked:
        mask = torch.zeros(batch, 1, 1, keys)
        mask[0, ..., :2] = float("-inf")
    kv_lengths = torch.tensor([keys, max(1, keys // 2)]) if lengths else None
    got = ops.attention(q, k, v, k_scale=ks, v_scale=vs, attn_mask=mask, causal=causal, kv_lengths=kv_lengths)
    want = ops.attention(q, dequantize_kv(k, ks), dequantize_kv(v, vs), attn_mask=mask, causal=causal,
                         kv_lengths=kv_lengths)
    assert got.shape == q.shape
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    reference = _padded_reference(q, dequantize_kv(k, ks), dequantize_kv(v, vs), mask, kv_lengths, dim ** -0.5, causal)
    torch.testing.assert_close(got, reference, atol=1e-5, rtol=1e-5)


def test_attention_over_int8_keys_and_values_bad_input():
    k, ks, v, vs = int8_operands(1, 2, 5, 8)
    q = torch.randn(1, 2, 1, 8)
    with pytest.raises(ValueError, match="k_scale"):
        ops.attention(q, k, v, v_scale=vs)
    with pytest.raises(ValueError, match="v_scale"):
        ops.attention(q, k, v, k_scale=ks, v_scale=vs[:, :, :4])
    with pytest.raises(TypeError, match="float32"):
        ops.attention(q.bfloat16(), k, v, k_scale=ks, v_scale=vs)
    with pytest.raises(TypeError, match="v is torch.float32"):
        ops.attention(q, k, dequantize_kv(v, vs), k_scale=ks, v_scale=vs)
    with pytest.raises(ValueError, match="padded layout"):
        ops.attention(q[0].transpose(0, 1), k[0].transpose(0, 1), v[0].transpose(0, 1), k_scale=ks, v_scale=vs,
                      cu_seqlens=torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="for int8 k and v"):
        ops.attention(q, dequantize_kv(k, ks), dequantize_kv(v, vs), k_scale=ks)


# ---- the decoders ----

def dequantized_float_cache(model, monkeypatch):
    """model's fused decoder keeping a float cache of the dequantized rows (quantized by the torch formula), steps
    block by block from Python: what the int8 cache stands for."""
    reference = copy.deepcopy(model)
    tf.quantize(reference, "int8", kv_cache="float")
    original = fast_decoder.KVCache.store

    def store(self, index, start, kv):
        if self.scales is None and self.kv[index].dtype is torch.float32:
            kv = dequantize_kv(*_quantize_kv_reference(kv.contiguous()))
        original(self, index, start, kv)

    monkeypatch.setattr(fast_decoder.KVCache, "store", store)
    monkeypatch.setattr(reference.fast, "_bound_blocks", lambda batch: None)
    return reference


def left_padded(family, size=3, seq=6):
    ids = batch(family, size=size, seq=seq)
    mask = torch.ones_like(ids)
    mask[1, :2] = 0
    return ids, mask


def decode(fast, ids, mask, steps=5):
    positions = (mask.cumsum(1) - 1).clamp(min=0)
    cache = fast.new_cache(ids.shape[0], ids.shape[1] + steps + 1)
    with torch.no_grad():
        logits = [fast.prefill(ids, positions, mask, cache)]
        next_positions = positions[:, -1] + 1
        for _ in range(steps):
            logits.append(fast.step(logits[-1].argmax(-1), next_positions, cache))
            next_positions = next_positions + 1
    return torch.stack(logits), cache


@pytest.mark.kernels
@pytest.mark.parametrize("family,lm_head", CASES)
def test_int8_cache_equals_a_float_cache_of_its_dequantized_rows(family, lm_head, monkeypatch):
    model = quantized_copy(tiny(family), lm_head=lm_head)
    assert model.config.quantization["kv_cache"] == "int8"
    reference = dequantized_float_cache(model, monkeypatch)
    ids, mask = left_padded(family)
    got, cache = decode(model.fast, ids, mask)
    assert cache.kv[0].dtype is torch.int8 and cache.scales[0].shape == (3, 2, model.config.n_head, 12)
    want, float_cache = decode(reference.fast, ids, mask)
    assert float_cache.kv[0].dtype is torch.float32 and float_cache.scales is None
    assert_int8_paths_close(got, want)
    # and it is not the float cache's result: the test would see a cache that is not quantized
    plain, _ = decode(quantized_copy(tiny(family), lm_head=lm_head, kv_cache="float").fast, ids, mask)
    assert (got[1:] - plain[1:]).abs().max() > 1e-5


@pytest.mark.skipif(not HAS_LAYER_KERNELS, reason="C++ decoder step not built here")
def test_one_call_steps_write_and_read_the_int8_cache(monkeypatch):
    model = quantized_copy(tiny("gpt2"))
    calls = []
    original = fast_decoder.decoder_layer_step
    monkeypatch.setattr(fast_decoder, "decoder_layer_step",
                        lambda *a: calls.append(a[7] is not None) or original(*a))
    ids, mask = left_padded("gpt2")
    one_call, cache = decode(model.fast, ids, mask)
    assert calls and all(calls), "the steps did not run one C++ call per block on the int8 cache"
    calls.clear()
    monkeypatch.setattr(model.fast, "_bound_blocks", lambda batch: None)
    by_block, by_block_cache = decode(model.fast, ids, mask)
    assert not calls
    assert_int8_paths_close(one_call, by_block)
    real = slice(0, ids.shape[1] + 5)
    for ours, theirs in zip(cache.kv, by_block_cache.kv):
        assert (ours[..., real, :].int() - theirs[..., real, :].int()).abs().max() <= 1


def teacher_forced_logits(fast, ids, prompt):
    """The logits of every step, fed the tokens of `ids` after the first `prompt` (not its own argmax)."""
    batch, total = ids.shape
    cache = fast.new_cache(batch, total)
    positions = torch.arange(prompt).expand(batch, prompt)
    with torch.no_grad():
        logits = [fast.prefill(ids[:, :prompt], positions, None, cache)]
        for t in range(prompt, total - 1):
            logits.append(fast.step(ids[:, t], torch.full((batch,), t), cache))
    return torch.stack(logits, 1)


def test_int8_cache_generation_accuracy_and_size():
    """32 greedy tokens of a GPT-2 that writes varied text, same int8 weights: fed the float cache's tokens, the
    int8 cache picks the same next token at nearly every step (free-running, one early flip changes the rest); it
    takes about a quarter of the float cache's bytes."""
    model = quantized_copy(varied_gpt2(), lm_head=True)
    float_cache = quantized_copy(varied_gpt2(), lm_head=True, kv_cache="float")
    prompts = torch.randint(0, 1000, (4, 8), generator=torch.Generator().manual_seed(5))
    tokens = float_cache.generate(prompts, max_new_tokens=32)
    want = teacher_forced_logits(float_cache.fast, tokens, 8)
    got = teacher_forced_logits(model.fast, tokens, 8)
    assert torch.equal(want.argmax(-1), tokens[:, 8:])  # (the float cache's own greedy choices)
    assert (got.argmax(-1) == tokens[:, 8:]).float().mean().item() >= 0.9
    assert not torch.equal(got, want)
    int8_cache, fp32_cache = model.fast.new_cache(4, 40), float_cache.fast.new_cache(4, 40)
    size = lambda c: sum(t.numel() * t.element_size() for t in c.kv + (c.scales or []))
    assert size(int8_cache) * 3 < size(fp32_cache)


def test_kv_cache_option(tmp_path):
    model = quantized_copy(tiny("gpt2"), kv_cache="float")
    assert model.fast.new_cache(1, 4).kv[0].dtype is torch.float32
    tf.quantize(model, "int8")  # quantizing again without kv_cache keeps the choice
    assert model.fast.new_cache(1, 4).kv[0].dtype is torch.float32
    tf.quantize(model, "int8", kv_cache="int8")  # given, it sets the cache's dtype again
    assert model.fast.new_cache(1, 4).kv[0].dtype is torch.int8
    tf.quantize(model, "int8", kv_cache="float")
    model.save_pretrained(tmp_path)
    loaded = tf.GPT2LMHeadModel.from_pretrained(tmp_path)
    assert loaded.config.quantization["kv_cache"] == "float"
    assert loaded.fast.new_cache(1, 4).kv[0].dtype is torch.float32
    with pytest.raises(ValueError, match="kv_cache"):
        tf.quantize(copy.deepcopy(tiny("gpt2")), "int8", kv_cache="fp8")
    float_model = tiny("gpt2")
    assert float_model.fast.new_cache(1, 4).kv[0].dtype is torch.float32  # not quantized: the weights' dtype


def test_without_the_extension(monkeypatch):
    """quantize_kv and attention over int8 keys and values give the kernels' results in plain torch too."""
    from transformers_fast.ops import _backend

    x = rows_with_specials(2, 3, 9, 24)
    k, ks, v, vs = int8_operands(2, 3, 9, 24)
    q = torch.randn(2, 3, 4, 24)
    with_kernels = quantize_kv(x), ops.attention(q, k, v, k_scale=ks, v_scale=vs, causal=True)
    monkeypatch.setattr(_backend, "_C", None)
    monkeypatch.setattr(_backend, "KERNELS_ON", False)
    (q8, scale), out = quantize_kv(x), ops.attention(q, k, v, k_scale=ks, v_scale=vs, causal=True)
    assert torch.equal(q8, with_kernels[0][0])
    assert_same_scales(scale, with_kernels[0][1])
    torch.testing.assert_close(out, with_kernels[1], atol=1e-5, rtol=1e-5)



# ---- relative attention over int8 keys and values (Transformer-XL's memory during generation) ----

def relative_operands(shift, qlen, mlen, seed=0):
    g = torch.Generator().manual_seed(seed)
    batch, heads, dim = 2, 3, 16
    klen = qlen + mlen
    rlen = klen + 4 if shift == "xlnet" else klen
    q, k, v = (torch.randn(n, batch, heads, dim, generator=g) for n in (qlen, klen, klen))
    r = torch.randn(rlen, 1, heads, dim, generator=g)
    biases = torch.randn(2, heads, dim, generator=g)
    mask = torch.zeros(qlen, klen, batch, dtype=torch.bool)
    mask[:, :2, 0] = True
    extra = {}
    if shift == "xlnet":
        extra = dict(seg_diff=torch.rand(qlen, klen, batch, generator=g) > 0.5,
                     seg_embed=torch.randn(2, heads, dim, generator=g), r_s_bias=torch.randn(heads, dim, generator=g))
    return q, quantize_kv(k), quantize_kv(v), r, biases[0], biases[1], dict(attn_mask=mask, **extra)


@pytest.mark.parametrize("shift", ["xlnet", "transfo_xl"])
@pytest.mark.parametrize("qlen,mlen", [(1, 0), (1, 37), (5, 20), (13, 3), (20, 9)])
def test_relative_attention_over_int8_keys_and_values(shift, qlen, mlen):
    """Fewer than 14 queries: the kernel reads the int8 rows; more: they are dequantized for the tiled kernel."""
    q, (k, ks), (v, vs), r, rw, rr, extra = relative_operands(shift, qlen, mlen)
    got = ops.relative_attention(q, k, v, r, rw, rr, shift=shift, k_scale=ks, v_scale=vs, **extra)
    want = ops.relative_attention(q, dequantize_kv(k, ks), dequantize_kv(v, vs), r, rw, rr, shift=shift, **extra)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_relative_attention_over_int8_keys_and_values_bad_input():
    from transformers_fast.ops import _backend

    q, (k, ks), (v, vs), r, rw, rr, extra = relative_operands("transfo_xl", 1, 5)
    with pytest.raises(ValueError, match="v_scale"):
        ops.relative_attention(q, k, v, r, rw, rr, shift="transfo_xl", k_scale=ks)
    with pytest.raises(ValueError, match="k_scale"):
        ops.relative_attention(q, k, v, r, rw, rr, shift="transfo_xl", k_scale=ks[:, :1], v_scale=vs)
    with pytest.raises(TypeError, match="float32 CPU queries"):
        ops.relative_attention(q.bfloat16(), k, v, r, rw, rr, shift="transfo_xl", k_scale=ks, v_scale=vs)
    with pytest.raises(ValueError, match="for int8 k and v"):
        ops.relative_attention(q, dequantize_kv(k, ks), dequantize_kv(v, vs), r, rw, rr, shift="transfo_xl",
                               k_scale=ks)
    if _backend.has_kernels():  # the C++ front: its int8 path takes few queries only
        q20 = torch.randn(20, *q.shape[1:])
        k20, ks20 = quantize_kv(torch.randn(25, *k.shape[1:]))
        out = torch.empty_like(q20)
        with pytest.raises(ValueError, match="fewer than 14 queries"):
            _backend._C.relative_attention_int8_kv(q20, k20, ks20, k20, ks20, torch.randn(25, 1, *q.shape[2:]), rw, rr,
                                                   out, None, None, None, None, 0.25, 1)


def tiny_transfo_xl():
    torch.manual_seed(0)
    config = tf.TransfoXLConfig(300, cutoffs=[100, 200], d_model=64, d_embed=64, n_layer=2, n_head=4, d_head=16,
                                d_inner=128, mem_len=10, tgt_len=8, div_val=2)
    model = tf.TransfoXLLMHeadModel(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(5)  # (varied text: no near-ties)
    return model


def transfo_xl_steps(model, prompt, tokens):
    fast = model.fast
    cache = fast.new_cache(prompt.shape[0], prompt.shape[1] + tokens.shape[1])
    with torch.no_grad():
        out = [fast.prefill(prompt, None, None, cache)]
        for t in range(tokens.shape[1]):
            out.append(fast.step(tokens[:, t], None, cache))
    return torch.stack(out, 1), cache


@pytest.mark.parametrize("slack", [1, 64])
def test_transfo_xl_int8_memory_equals_a_float_memory_of_its_dequantized_rows(slack, monkeypatch):
    """An int8 Transformer-XL's generation keeps the memory's keys and values in int8 (moved with their scales when
    the buffer fills: slack 1); the same decoder with a float memory of the dequantized rows gives its
    log-probabilities."""
    from transformers_fast.runtime import transfo_xl as fast_transfo_xl

    monkeypatch.setattr(fast_transfo_xl, "MEMORY_SLACK", slack)
    model = tf.quantize(tiny_transfo_xl(), "int8")
    reference = tf.quantize(tiny_transfo_xl(), "int8", kv_cache="float")
    prompt = torch.randint(0, 300, (2, 6), generator=torch.Generator().manual_seed(3))
    tokens = torch.randint(0, 300, (2, 14), generator=torch.Generator().manual_seed(4))
    got, cache = transfo_xl_steps(model, prompt, tokens)
    assert cache.kv.buffers[0].dtype is torch.int8 and cache.kv.scales[0].shape[1:] == (2, 2, 4)
    plain, float_cache = transfo_xl_steps(reference, prompt, tokens)
    assert float_cache.kv.buffers[0].dtype is torch.float32 and float_cache.kv.scales is None
    original = fast_transfo_xl.MemoryKV._write

    def dequantized(self, layer, at, rows):
        original(self, layer, at, dequantize_kv(*_quantize_kv_reference(rows.contiguous())))

    monkeypatch.setattr(fast_transfo_xl.MemoryKV, "_write", dequantized)
    want, _ = transfo_xl_steps(reference, prompt, tokens)
    assert_int8_paths_close(got, want)
    assert (got - plain).abs().max() > 1e-5  # (not the float memory's result)
    # the next token with the float memory kept at most steps (a tiny random model: its margins are small)
    assert (got.argmax(-1) == plain.argmax(-1)).float().mean().item() >= 0.8


@pytest.mark.parametrize("safe", [False, True])
def test_transfo_xl_int8_adaptive_softmax(safe, tmp_path):
    """quantize(..., lm_head=True) on Transformer-XL: int8 copies of the adaptive softmax's cluster layers and
    projections (the float ones stay, shared with the input embeddings); the fused log-probabilities equal the
    model's own modules, and save / load round-trips them."""
    model = tiny_transfo_xl()
    quantized = tf.quantize(copy.deepcopy(model), "int8", lm_head=True)
    crit = quantized.crit
    assert len(crit.int8_clusters) == 3 and all(isinstance(p, ops.QuantizedLinear) for p in crit.int8_projs)
    assert crit.out_layers[0].weight is quantized.transformer.word_emb.emb_layers[0].weight  # (still tied)
    ids = torch.randint(0, 300, (2, 7), generator=torch.Generator().manual_seed(1))
    labels = torch.randint(0, 300, (2, 7), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        fused = quantized(ids)[0]
        loss = quantized(ids, labels=labels)[0]  # (the reference path: labels)
        plain = copy.deepcopy(quantized)
        for fast in (plain.fast, plain.transformer.fast):
            fast.enabled = False
        own = plain(ids)[0]
        float_out = model(ids)[0]
    assert_int8_paths_close(fused, own)
    want_loss = -own.gather(-1, labels[..., None]).squeeze(-1)  # (1.2.0 returns them grouped by cluster)
    torch.testing.assert_close(loss.flatten().sort().values, want_loss.flatten().sort().values, atol=1e-4, rtol=1e-4)
    assert (fused - float_out).abs().max() > 1e-6  # (int8: the top-1 agreement is test_quantization.py's)
    quantized.save_pretrained(tmp_path, safe_serialization=safe)
    loaded = tf.TransfoXLLMHeadModel.from_pretrained(tmp_path)
    assert isinstance(loaded.crit.int8_clusters[0], ops.QuantizedLinear)
    with torch.no_grad():
        assert torch.equal(loaded(ids)[0], fused)
