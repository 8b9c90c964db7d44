"""int8-quantized GPT-2 and OpenAI GPT on the fused KV-cache decoder (runtime/decoder.py): prefill and decode steps,
generate() and forward() with past give what the quantized model's own modules give (with the fused paths off),
with and without an int8 LM head. The int8 layers are the same modules on both sides and deterministic per token;
what differs is the float part (fused attention, LayerNorm), so the logits agree to fp32 rounding. The comparisons
with the modules' own float `past` use a float KV cache (kv_cache="float"); the int8 cache has its own tests
(test_quantization_kv_cache.py)."""
from __future__ import annotations

import copy

import pytest
import torch

from module_decoder import ModuleDecoder, greedy
from test_quantization import assert_int8_paths_close, batch, quantized_copy, tiny, varied_gpt2
from transformers_fast import ops
from transformers_fast.ops import quantized_linear
from transformers_fast.ops.layer import HAS_LAYER_KERNELS
from transformers_fast.runtime import decoder as fast_decoder

CASES = [(family, lm_head) for family in ("gpt2", "openai") for lm_head in (False, True)]


@pytest.fixture
def fused_calls(monkeypatch):
    """How many times the fused decoder ran (prefill, decode step, forward), per entry point."""
    calls = {"prefill": 0, "step": 0, "forward": 0}
    for name in calls:
        original = getattr(fast_decoder.DecoderFastPath, name)

        def counted(self, *args, _name=name, _original=original, **kwargs):
            calls[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(fast_decoder.DecoderFastPath, name, counted)
    return calls


def fused_off(model) -> None:
    """The reference path: the model's own modules in forward (generation: ModuleDecoder on this model)."""
    for fast in (model.fast, model.transformer.fast):
        fast.enabled = False


def left_padded(family: str, size: int = 3, seq: int = 6):
    ids = batch(family, size=size, seq=seq)
    mask = torch.ones_like(ids)
    mask[1, :2] = 0
    return ids, mask


@pytest.mark.parametrize("family,lm_head", CASES)
def test_fused_decoder_equals_the_module_decoder(family, lm_head, fused_calls):
    model = quantized_copy(tiny(family), lm_head=lm_head, kv_cache="float")
    assert isinstance(model.fast.layers()[0].qkv, ops.QuantizedLinear)
    assert isinstance(model.fast._lm_head, ops.QuantizedLinear) is lm_head
    plain = copy.deepcopy(model)
    fused_off(plain)
    ids, mask = left_padded(family)
    positions = (mask.cumsum(1) - 1).clamp(min=0)
    reference, fused = ModuleDecoder(plain), model.fast
    caches = [reference.new_cache(3, 12), fused.new_cache(3, 12)]
    with torch.no_grad():
        a = reference.prefill(ids, positions, mask, caches[0])
        assert fused_calls == {"prefill": 0, "step": 0, "forward": 0}, "the reference ran the fused decoder"
        b = fused.prefill(ids, positions, mask, caches[1])
        assert_int8_paths_close(b, a)
        next_positions = positions[:, -1] + 1
        for _ in range(4):
            tokens = a.argmax(-1)
            a = reference.step(tokens, next_positions, caches[0])
            b = fused.step(tokens, next_positions, caches[1])
            assert_int8_paths_close(b, a)
            next_positions = next_positions + 1
    assert fused_calls == {"prefill": 1, "step": 4, "forward": 0}


@pytest.mark.parametrize("family,lm_head", CASES)
def test_generate_runs_the_fused_decoder(family, lm_head, fused_calls):
    model = quantized_copy(tiny(family), lm_head=lm_head, kv_cache="float")
    plain = copy.deepcopy(model)
    fused_off(plain)
    ids, mask = left_padded(family)
    want = greedy(ModuleDecoder(plain), ids, mask, 5)
    assert not any(fused_calls.values()), "generation with the fused decoder off ran it"
    got = model.generate(ids, attention_mask=mask, max_new_tokens=5)
    assert fused_calls["prefill"] == 1 and fused_calls["step"] == 4
    assert torch.equal(got, want)


def test_gpt2_greedy_generation_on_varied_text(fused_calls):
    """32 greedy tokens of a GPT-2 that writes varied text (no near-ties to hide a difference)."""
    model = quantized_copy(varied_gpt2(), lm_head=True, kv_cache="float")
    plain = copy.deepcopy(model)
    fused_off(plain)
    prompts = torch.randint(0, 1000, (4, 8), generator=torch.Generator().manual_seed(5))
    want = greedy(ModuleDecoder(plain), prompts, None, 32)
    got = model.generate(prompts, max_new_tokens=32)
    assert fused_calls["step"] == 31
    assert torch.equal(got, want)


@pytest.mark.parametrize("family,lm_head", CASES)
def test_forward_runs_fused(family, lm_head, fused_calls):
    """The LM head model's forward (GPT-2: a left-padded prompt, then one token with past; OpenAI GPT, which has no
    past: the padded prompt) equals the model's own modules at the real positions (the fused forward packs the real
    tokens and leaves padded positions zero)."""
    model = quantized_copy(tiny(family), lm_head=lm_head)
    plain = copy.deepcopy(model)
    fused_off(plain)
    ids, mask = left_padded(family)
    positions = (mask.cumsum(1) - 1).clamp(min=0)
    inputs = dict(attention_mask=mask, position_ids=positions)
    with torch.no_grad():
        want, got = plain(ids, **inputs), model(ids, **inputs)
        assert fused_calls["forward"] == 1
        real = mask.bool()
        assert_int8_paths_close(got.logits[real], want.logits[real])
        if family == "gpt2":
            for ours, theirs in zip(got.past_key_values, want.past_key_values):  # [2, batch, heads, seq, head_dim]
                assert_int8_paths_close(ours.transpose(2, 3)[:, real], theirs.transpose(2, 3)[:, real])
            token, step_mask = ids[:, -1:], torch.cat([mask, torch.ones_like(mask[:, :1])], 1)
            step = dict(attention_mask=step_mask, position_ids=positions[:, -1:] + 1)
            want = plain(token, past=want.past_key_values, **step)
            got = model(token, past=got.past_key_values, **step)
            assert fused_calls["forward"] == 2
            assert_int8_paths_close(got.logits, want.logits)


@pytest.mark.skipif(not (HAS_LAYER_KERNELS and quantized_linear.kernel_available()),
                    reason="C++ decoder step or the vectorised int8 kernel not built here")
@pytest.mark.parametrize("family,lm_head", CASES)
def test_one_call_int8_decode_steps(family, lm_head, monkeypatch):
    """Decode steps of an int8 model run one C++ call per block (the int8 GEMM inside the C++ step, writing and reading
    the int8 KV cache), with the logits of the same steps run block by block from Python (whose LayerNorms of few
    rows are torch's)."""
    model = quantized_copy(tiny(family), lm_head=lm_head)
    ids, mask = left_padded(family)
    positions = (mask.cumsum(1) - 1).clamp(min=0)
    calls = []
    original = fast_decoder.decoder_layer_step
    monkeypatch.setattr(fast_decoder, "decoder_layer_step", lambda *a: calls.append(a[2]) or original(*a))

    def steps():
        cache = model.fast.new_cache(3, 12)
        logits = [model.fast.prefill(ids, positions, mask, cache)]
        next_positions = positions[:, -1] + 1
        for _ in range(4):
            logits.append(model.fast.step(logits[-1].argmax(-1), next_positions, cache))
            next_positions = next_positions + 1
        return torch.stack(logits)

    with torch.no_grad():
        one_call = steps()
        assert len(calls) == 4 * model.config.n_layer
        calls.clear()
        monkeypatch.setattr(model.fast, "_bound_blocks", lambda batch: None)  # block by block
        by_block = steps()
        assert not calls
    assert_int8_paths_close(one_call, by_block)
