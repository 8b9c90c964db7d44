"""generate(): greedy ids equal to transformers' generate (tiny configs, and GPT-2 with its real vocabulary and
random weights), left-padded batches equal to each prompt alone, the fused decoder's logits equal to a full
forward, sampling options, eos, streaming and bad input."""
from __future__ import annotations

import pytest
import torch

import transformers_fast as tf
from transformers_fast.runtime import decoder as fast_decoder
from transformers_fast.ops.layer import HAS_LAYER_KERNELS
from gpt_helpers import FAMILIES, HF_CLASSES, gpt2_tokenizer_files, hf_gpt, ids, left_padded
from modeling_helpers import compare

LM = {"openai": tf.OpenAIGPTLMHeadModel, "gpt2": tf.GPT2LMHeadModel}


def pair(family, tmp_path, **extra):
    ref = hf_gpt(family, HF_CLASSES[family][2], **extra)
    ref.save_pretrained(tmp_path)
    return LM[family].from_pretrained(tmp_path), ref


@pytest.mark.parametrize("family", FAMILIES)
def test_fused_decoder_logits_equal_full_forward(family, tmp_path):
    """prefill + decode steps on the preallocated cache give the logits of a full forward (left padding too)."""
    model, ref = pair(family, tmp_path)
    x, mask, positions = left_padded(ids(batch=3, seq=14), [14, 9, 10])
    with torch.no_grad():
        full = ref(x, attention_mask=mask, position_ids=positions).logits
    prompt = 8
    cache = model.fast.new_cache(3, 14)
    logits = model.fast.prefill(x[:, :prompt], positions[:, :prompt], mask[:, :prompt], cache)
    compare(logits, full[:, prompt - 1], path="prefill")
    for t in range(prompt, 14):
        logits = model.fast.step(x[:, t], positions[:, t], cache)
        compare(logits, full[:, t], path=f"step {t}")


@pytest.mark.skipif(not HAS_LAYER_KERNELS, reason="C++ decoder step not built")
@pytest.mark.parametrize("padded", [False, True])
@pytest.mark.parametrize("family", FAMILIES)
def test_one_call_decode_step_equals_full_forward(tmp_path, monkeypatch, isa, padded, family):
    """Decode steps with one C++ call per block (every projection forced onto the panel GEMM) give the logits
    of a full forward of the reference, left padding too, for GPT-2's and OpenAI GPT's blocks."""
    from transformers_fast.ops import packed_linear

    monkeypatch.setenv(packed_linear.ENV, "panel")
    monkeypatch.setattr(packed_linear, "_forced", packed_linear._UNREAD)
    calls = []
    original = fast_decoder.decoder_layer_step
    monkeypatch.setattr(fast_decoder, "decoder_layer_step", lambda *a: calls.append(a[2]) or original(*a))
    model, ref = pair(family, tmp_path)
    x, mask, positions = left_padded(ids(batch=3, seq=14), [14, 9, 10] if padded else [14] * 3)
    with torch.no_grad():
        full = ref(x, attention_mask=mask, position_ids=positions).logits
    prompt = 8
    cache = model.fast.new_cache(3, 14)
    model.fast.prefill(x[:, :prompt], positions[:, :prompt], mask[:, :prompt], cache)
    for t in range(prompt, 14):
        compare(model.fast.step(x[:, t], positions[:, t], cache), full[:, t], path=f"step {t}")
    layers = model.config.n_layer
    assert calls == [t for t in range(prompt, 14) for _ in range(layers)]  # every step, every block, its slot


@pytest.mark.skipif(not HAS_LAYER_KERNELS, reason="C++ decoder step not built")
@pytest.mark.parametrize("family", FAMILIES)
def test_one_call_decode_step_in_bfloat16(tmp_path, monkeypatch, isa, family):
    """A bfloat16 model's decode steps run one C++ call per block too (bf16 cache, left padding): the same
    kernels in the same order as op by op (with the fused LayerNorm there too, which op by op leaves to torch
    for a few rows), so the same bits; and close to the float32 reference's full forward."""
    from transformers_fast.ops import packed_linear

    monkeypatch.setenv(packed_linear.ENV, "panel")
    monkeypatch.setattr(packed_linear, "_forced", packed_linear._UNREAD)
    calls = []
    original = fast_decoder.decoder_layer_step
    monkeypatch.setattr(fast_decoder, "decoder_layer_step", lambda *a: calls.append(a[0].dtype) or original(*a))
    monkeypatch.setattr(fast_decoder, "FUSED_LAYER_NORM_MIN_ROWS", 0)  # (the prefills too)
    model, ref = pair(family, tmp_path)
    model.to(torch.bfloat16)
    x, mask, positions = left_padded(ids(batch=3, seq=14), [14, 9, 10])
    with torch.no_grad():
        full = ref(x, attention_mask=mask, position_ids=positions).logits
    prompt = 8

    def steps():
        cache = model.fast.new_cache(3, 14)
        assert cache.kv[0].dtype is torch.bfloat16
        model.fast.prefill(x[:, :prompt], positions[:, :prompt], mask[:, :prompt], cache)
        return torch.stack([model.fast.step(x[:, t], positions[:, t], cache) for t in range(prompt, 14)], 1).float()

    one_call = steps()
    assert calls and set(calls) == {torch.bfloat16}
    calls.clear()
    bound_blocks = fast_decoder.DecoderFastPath._bound_blocks
    monkeypatch.setattr(fast_decoder.DecoderFastPath, "_bound_blocks", lambda self, batch: None)
    op_by_op = steps()
    assert not calls
    torch.testing.assert_close(one_call, op_by_op, rtol=0, atol=0)
    assert (one_call - full[:, prompt:]).abs().max().item() < 0.1
    # LayerNorms kept in float32 beside bfloat16 projections: op by op (the one-call step takes one dtype)
    monkeypatch.setattr(fast_decoder.DecoderFastPath, "_bound_blocks", bound_blocks)
    model, _ = pair(family, tmp_path)
    model.to(torch.bfloat16)
    for module in model.modules():
        if isinstance(module, torch.nn.LayerNorm):
            module.float()
    mixed = model.generate(x[:1, :prompt], max_new_tokens=3, eos_token_id=None)
    assert not calls and mixed.shape == (1, prompt + 3)


@pytest.mark.skipif(not HAS_LAYER_KERNELS, reason="C++ decoder step not built")
def test_one_call_decode_step_validates_its_arguments(tmp_path, monkeypatch):
    from transformers_fast.ops import _backend as B
    from transformers_fast.ops import packed_linear

    monkeypatch.setenv(packed_linear.ENV, "panel")
    monkeypatch.setattr(packed_linear, "_forced", packed_linear._UNREAD)
    model, _ = pair("gpt2", tmp_path)
    model.generate(ids(batch=1, seq=4), max_new_tokens=2, eos_token_id=None)
    block = model.fast._bound[0]
    layer = model.fast._layers[0]
    hidden = model.config.n_embd
    cache = model.fast.new_cache(2, 6)
    kv, x = torch.zeros_like(cache.kv[0]), torch.randn(2, hidden)  # (zeros: the step attends over slots 0..5)
    B._C.decoder_layer_step(x, kv, None, 5, None, block, layer.scale, True)
    with pytest.raises(ValueError, match="position"):
        B._C.decoder_layer_step(x, kv, None, 6, None, block, layer.scale, True)
    with pytest.raises(ValueError, match="kv: expected"):
        B._C.decoder_layer_step(x[:1].contiguous(), kv, None, 0, None, block, layer.scale, True)
    with pytest.raises(ValueError, match="key_bias"):
        B._C.decoder_layer_step(x, kv, None, 0, torch.zeros(2, 5), block, layer.scale, True)
    with pytest.raises(ValueError, match="x: expected"):
        B._C.decoder_layer_step(torch.randn(2, hidden + 1), kv, None, 0, None, block, layer.scale, True)
    # an int8 cache takes its scales [batch, 2, heads, capacity]; a float32 one none
    kv8, scales = torch.zeros(kv.shape, dtype=torch.int8), torch.zeros(kv.shape[:4])
    B._C.decoder_layer_step(x, kv8, scales, 5, None, block, layer.scale, True)
    assert kv8[:, :, :, 5].any() and scales[:, :, :, 5].gt(0).all() and not kv8[:, :, :, :5].any()
    with pytest.raises(ValueError, match="kv: expected int8"):
        B._C.decoder_layer_step(x, kv, scales, 0, None, block, layer.scale, True)
    with pytest.raises(ValueError, match="kv: expected float32"):
        B._C.decoder_layer_step(x, kv8, None, 0, None, block, layer.scale, True)
    with pytest.raises(ValueError, match="kv_scale: expected"):
        B._C.decoder_layer_step(x, kv8, scales[:, :, :, :5].contiguous(), 0, None, block, layer.scale, True)
    # bfloat16 layers take bfloat16 x, cache and key_bias, and no int8 cache
    model.to(torch.bfloat16)
    model.generate(ids(batch=1, seq=4), max_new_tokens=2, eos_token_id=None)
    block, x16 = model.fast._bound[0], x.bfloat16()
    kv16 = torch.zeros(kv.shape, dtype=torch.bfloat16)
    B._C.decoder_layer_step(x16, kv16, None, 5, torch.zeros(2, 6, dtype=torch.bfloat16), block, layer.scale, True)
    assert kv16[:, :, :, 5].any() and not kv16[:, :, :, :5].any()
    with pytest.raises(ValueError, match="x: expected bfloat16"):
        B._C.decoder_layer_step(x, kv16, None, 0, None, block, layer.scale, True)
    with pytest.raises(ValueError, match="kv: expected bfloat16"):
        B._C.decoder_layer_step(x16, kv, None, 0, None, block, layer.scale, True)
    with pytest.raises(ValueError, match="key_bias: expected bfloat16"):
        B._C.decoder_layer_step(x16, kv16, None, 0, torch.zeros(2, 6), block, layer.scale, True)
    with pytest.raises(ValueError, match="an int8 cache goes with float32 layers"):
        B._C.decoder_layer_step(x16, kv8, scales, 0, None, block, layer.scale, True)


@pytest.mark.parametrize("family", FAMILIES)
def test_greedy_equals_transformers_generate(family, tmp_path):
    model, ref = pair(family, tmp_path)
    x = ids(batch=2, seq=7)
    theirs = ref.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=30, do_sample=False,
                          pad_token_id=0, eos_token_id=None)
    ours = model.generate(x, max_new_tokens=30, eos_token_id=None)
    assert torch.equal(ours, theirs)


@pytest.fixture(scope="module")
def gpt2_real_vocab(tmp_path_factory):
    """GPT-2 with its real 50257-token vocabulary and random weights (2 small layers), in both libraries."""
    import transformers

    encoder, merges = gpt2_tokenizer_files()
    tokenizer = transformers.GPT2Tokenizer(encoder, merges)
    tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    folder = tmp_path_factory.mktemp("gpt2-real-vocab")
    ref = hf_gpt("gpt2", "GPT2LMHeadModel", vocab_size=50257, n_positions=256, n_embd=64, n_layer=2, n_head=4)
    with torch.no_grad():
        # Larger weights than the 0.02 init: a fresh model mostly repeats its last token, this one writes
        # varied text (50/64 distinct tokens), so that equal ids mean something.
        for name, p in ref.named_parameters():
            if name.endswith(("c_attn.weight", "c_fc.weight", "c_proj.weight")):
                p.mul_(10)
        ref.transformer.wte.weight.mul_(3)
    ref.save_pretrained(folder)
    return tokenizer, ref, tf.GPT2LMHeadModel.from_pretrained(folder)


PROMPTS = ["The quick brown fox jumps over the lazy dog because",
           "Hello",
           "In 1905, Albert Einstein published four papers that changed physics:",
           "¿Dónde está la biblioteca? 東京は"]


def test_gpt2_real_vocab_greedy_batch1_equals_transformers(gpt2_real_vocab):
    tokenizer, ref, model = gpt2_real_vocab
    enc = tokenizer(PROMPTS[0], return_tensors="pt")
    theirs = ref.generate(**enc, max_new_tokens=64, do_sample=False, pad_token_id=tokenizer.eos_token_id)
    ours = model.generate(**enc, max_new_tokens=64)
    assert ours.shape == theirs.shape
    assert torch.equal(ours, theirs)
    assert len(set(ours[0, -64:].tolist())) > 20


def test_gpt2_real_vocab_left_padded_batch4_equals_transformers_and_each_alone(gpt2_real_vocab):
    tokenizer, ref, model = gpt2_real_vocab
    enc = tokenizer(PROMPTS, return_tensors="pt", padding=True)
    assert not bool(enc["attention_mask"].all())  # really padded
    theirs = ref.generate(**enc, max_new_tokens=64, do_sample=False, pad_token_id=tokenizer.eos_token_id)
    ours = model.generate(**enc, max_new_tokens=64)
    assert torch.equal(ours, theirs)
    width = enc["input_ids"].shape[1]
    for row, prompt in enumerate(PROMPTS):
        alone = model.generate(tokenizer(prompt, return_tensors="pt")["input_ids"], max_new_tokens=64)
        new = alone[0, alone.shape[1] - 64:]
        assert torch.equal(ours[row, width:width + new.shape[0]], new), f"row {row} differs from the prompt alone"


def test_eos_stops_and_pads(gpt2_real_vocab):
    tokenizer, ref, model = gpt2_real_vocab
    enc = tokenizer(PROMPTS, return_tensors="pt", padding=True)
    width = enc["input_ids"].shape[1]
    free = model.generate(**enc, max_new_tokens=16, eos_token_id=None)
    # a token of row 0 that no row produced before becomes the eos token
    k = next(k for k in range(width + 1, width + 16)
             if int(free[0, k]) not in free[:, width:k].flatten().tolist())
    eos = int(free[0, k])
    ours = model.generate(**enc, max_new_tokens=16, eos_token_id=eos, pad_token_id=7)
    theirs = ref.generate(**enc, max_new_tokens=16, do_sample=False, eos_token_id=eos, pad_token_id=7)
    assert torch.equal(ours, theirs)
    assert ours[0, k] == eos and bool((ours[0, k + 1:] == 7).all())
    assert torch.equal(ours[:, :k + 1], free[:, :k + 1])


def test_sampling_filters_equal_transformers_warpers():
    from transformers.generation.logits_process import (TemperatureLogitsWarper, TopKLogitsWarper,
                                                        TopPLogitsWarper)

    from transformers_fast.generation import DEFAULTS
    from transformers_fast.generation_processors import build_logits_processors

    g = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 97, generator=g) * 3
    prompt = torch.zeros(4, 1, dtype=torch.long)
    for temperature, top_k, top_p in [(0.7, 10, 0.9), (1.3, None, 0.5), (1.0, 3, None), (0.5, 50, 0.99), (1.0, None, 0.0)]:
        expected = TemperatureLogitsWarper(temperature)(None, logits)
        if top_k is not None:
            expected = TopKLogitsWarper(top_k)(None, expected)
        if top_p is not None:
            expected = TopPLogitsWarper(top_p)(None, expected)
        options = dict(DEFAULTS, do_sample=True, temperature=temperature, top_k=top_k, top_p=top_p)
        processors, _ = build_logits_processors(options, vocab=97, eos=None, prompt=prompt, first_real=None,
                                                max_length=2)
        got = logits
        for processor in processors:
            got = processor(prompt, 1, got)
        assert torch.equal(got, expected)


def test_sampling_is_reproducible_with_a_seeded_generator(tmp_path):
    model, _ = pair("gpt2", tmp_path)
    x = ids(batch=2, seq=4)
    kwargs = dict(max_new_tokens=15, do_sample=True, temperature=0.8, top_k=20, top_p=0.95, eos_token_id=None,
                  num_return_sequences=3)
    a = model.generate(x, generator=torch.Generator().manual_seed(7), **kwargs)
    b = model.generate(x, generator=torch.Generator().manual_seed(7), **kwargs)
    c = model.generate(x, generator=torch.Generator().manual_seed(8), **kwargs)
    assert a.shape == (6, 19) and torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(a[:, :4], x.repeat_interleave(3, dim=0))
    greedy = model.generate(x, max_new_tokens=15, eos_token_id=None)
    top1 = model.generate(x, max_new_tokens=15, do_sample=True, top_k=1, eos_token_id=None,
                          generator=torch.Generator().manual_seed(0))
    assert torch.equal(greedy, top1)


def test_streaming_yields_the_generated_tokens(tmp_path):
    model, _ = pair("gpt2", tmp_path)
    x = ids(batch=2, seq=4)
    out = model.generate(x, max_new_tokens=10, eos_token_id=None)
    seen = []
    model.generate(x, max_new_tokens=10, eos_token_id=None, streamer=seen.append)
    assert torch.equal(torch.stack(seen, 1), out[:, 4:])
    assert torch.equal(torch.stack(list(model.stream_generate(x, max_new_tokens=10, eos_token_id=None)), 1),
                       out[:, 4:])

    class Streamer:  # transformers' put()/end() protocol: the prompt first, then each step
        def __init__(self):
            self.calls, self.ended = [], False

        def put(self, value):
            self.calls.append(value)

        def end(self):
            self.ended = True

    streamer = Streamer()
    model.generate(x, max_new_tokens=10, eos_token_id=None, streamer=streamer)
    assert streamer.ended and torch.equal(streamer.calls[0], x) and len(streamer.calls) == 11
    assert torch.equal(torch.stack(streamer.calls[1:], 1), out[:, 4:])


def test_copies_generate_and_follow_weight_changes(tmp_path):
    import copy
    import pickle

    model, _ = pair("gpt2", tmp_path)
    x = ids(batch=1, seq=4)
    out = model.generate(x, max_new_tokens=8, eos_token_id=None)
    assert torch.equal(copy.deepcopy(model).generate(x, max_new_tokens=8, eos_token_id=None), out)
    assert torch.equal(pickle.loads(pickle.dumps(model)).generate(x, max_new_tokens=8, eos_token_id=None), out)
    with torch.no_grad():  # an in-place change of the weights is seen by the next generate
        model.transformer.h[0].mlp.c_fc.weight.mul_(3)
    changed = model.generate(x, max_new_tokens=8, eos_token_id=None)
    with torch.no_grad():
        expected = model(changed[:, :-1]).logits[0, 3:].argmax(-1)
    assert torch.equal(changed[0, 4:], expected)


def test_more_new_tokens_than_positions_when_eos_ends_first_as_transformers(tmp_path):
    """max_new_tokens past the model's positions is the user's risk, as in transformers: eos may end every row
    first (the tokens then equal transformers'); a row still running there raises (tested in bad input)."""
    model, ref = pair("gpt2", tmp_path)  # n_positions 48
    x = ids(batch=1, seq=40)
    fits = model.generate(x, max_new_tokens=9, eos_token_id=None)
    eos = int(fits[0, 42])
    options = dict(max_new_tokens=20, eos_token_id=eos, pad_token_id=0, do_sample=False)
    ours, theirs = model.generate(x, **options), ref.generate(x, **options)
    assert torch.equal(ours, theirs) and ours.shape[1] < 40 + 9


def test_max_length_counts_the_prompt(tmp_path):
    model, _ = pair("openai", tmp_path)
    x = ids(batch=1, seq=6)
    assert model.generate(x, max_length=10).shape == (1, 10)
    assert model.generate(x).shape == (1, 26)  # 20 new tokens by default


@pytest.mark.parametrize("family", FAMILIES)
def test_generate_bad_input(family, tmp_path):
    model, _ = pair(family, tmp_path)  # n_positions 48
    with pytest.raises(ValueError, match="n_positions"):
        model.generate(torch.zeros(1, 49, dtype=torch.long), max_new_tokens=1)
    with pytest.raises(ValueError, match="reached the 48 positions .* after 9 new tokens"):
        model.generate(torch.zeros(1, 40, dtype=torch.long), max_new_tokens=10, eos_token_id=None)
    with pytest.raises(ValueError, match="reached the 48 positions .* after 9 new tokens"):
        model.generate(torch.zeros(1, 40, dtype=torch.long), max_new_tokens=10, eos_token_id=None, num_beams=2)
    with pytest.raises(ValueError, match="empty"):
        model.generate(torch.zeros(1, 0, dtype=torch.long))
    with pytest.raises(ValueError, match=r"input_ids holds 99, outside \[0, 98\]"):
        model.generate(torch.tensor([[3, 99]]))
    with pytest.raises(ValueError, match="left-padded"):
        model.generate(torch.tensor([[3, 4]]), attention_mask=torch.tensor([[1, 0]]))
    with pytest.raises(ValueError, match="all zeros"):
        model.generate(torch.tensor([[3, 4]]), attention_mask=torch.tensor([[0, 0]]))
    with pytest.raises(ValueError, match="max_new_tokens"):
        model.generate(torch.tensor([[3, 4]]), max_new_tokens=0)
    with pytest.raises(ValueError, match="temperature"):
        model.generate(torch.tensor([[3, 4]]), do_sample=True, temperature=0)
    with pytest.raises(ValueError, match="top_p"):
        model.generate(torch.tensor([[3, 4]]), do_sample=True, top_p=1.5)
    with pytest.raises(ValueError, match="num_return_sequences"):
        model.generate(torch.tensor([[3, 4]]), num_return_sequences=2)
    with pytest.raises(TypeError, match="unexpected"):
        model.generate(torch.tensor([[3, 4]]), no_such_option=1)


def test_generate_after_uneven_head_pruning_equals_full_forward(tmp_path):
    model, _ = pair("gpt2", tmp_path)
    model.prune_heads({0: [0, 2], 1: [3]})
    x = ids(batch=2, seq=5)
    out = model.generate(x, max_new_tokens=6, eos_token_id=None)
    with torch.no_grad():
        expected = model(out[:, :-1]).logits[:, 4:].argmax(-1)
    assert torch.equal(out[:, 5:], expected)


def test_generate_in_bfloat16_follows_its_own_forward(tmp_path):
    model, _ = pair("gpt2", tmp_path)
    model.to(torch.bfloat16)
    x = ids(batch=2, seq=5)
    out = model.generate(x, max_new_tokens=4, eos_token_id=None)
    with torch.no_grad():
        expected = model(out[:, :-1]).logits[:, 4:].float().argmax(-1)
    assert out.shape == (2, 9) and (out[:, 5:] == expected).float().mean() >= 0.75  # bf16 rounding may flip a tie


def test_generate_in_float64_matches_float32(tmp_path):
    model, _ = pair("gpt2", tmp_path)
    x = ids(batch=2, seq=5)
    expected = model.generate(x, max_new_tokens=4, eos_token_id=None)
    model.to(torch.float64)  # projections fall back to F.linear, attention and LayerNorm to torch's ops
    assert torch.equal(model.generate(x, max_new_tokens=4, eos_token_id=None), expected)


def test_generate_from_several_threads(tmp_path, monkeypatch):
    """One model generating in several threads at once: each caller gets what it gets alone."""
    from concurrent.futures import ThreadPoolExecutor

    from transformers_fast.ops import packed_linear

    monkeypatch.setenv(packed_linear.ENV, "panel")  # every step on the one-call C++ blocks
    monkeypatch.setattr(packed_linear, "_forced", packed_linear._UNREAD)
    model, _ = pair("gpt2", tmp_path)
    prompts = [ids(batch=1 + i % 2, seq=4 + i) for i in range(4)]
    alone = [model.generate(p, max_new_tokens=6, eos_token_id=None) for p in prompts]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda i: (i % 4, model.generate(prompts[i % 4], max_new_tokens=6, eos_token_id=None)),
                                range(16)))
    for i, got in results:
        assert torch.equal(got, alone[i])


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("num_beams", [1, 3])
@pytest.mark.parametrize("prompt,new", [(40, 9), (48, 1)])
def test_sequences_may_end_one_token_past_n_positions(family, num_beams, prompt, new, tmp_path):
    # the last new token is never run through the model: transformers generates up to n_positions + 1 tokens
    model, ref = pair(family, tmp_path)  # n_positions 48
    x = ids(batch=2, seq=prompt)
    with torch.no_grad():
        expected = ref.generate(x, max_new_tokens=new, num_beams=num_beams, do_sample=False, pad_token_id=0)
    assert torch.equal(model.generate(x, max_new_tokens=new, num_beams=num_beams), expected)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("eos_token_id", [None, 5, 0])
def test_padding_is_masked_from_pad_token_id_without_attention_mask(family, eos_token_id, tmp_path):
    # transformers' generate masks the pad tokens of a prompt given without attention_mask (unless pad is an eos)
    model, ref = pair(family, tmp_path)
    x, _, _ = left_padded(ids(batch=3, seq=9).clamp(min=1), [9, 4, 6], pad=0)
    kwargs = dict(max_new_tokens=6, do_sample=False, pad_token_id=0, eos_token_id=eos_token_id)
    with torch.no_grad():
        expected = ref.generate(x, **kwargs)
    assert torch.equal(model.generate(x, **kwargs), expected)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("options", [dict(), dict(num_beams=3), dict(repetition_penalty=1.5, no_repeat_ngram_size=2)])
@pytest.mark.parametrize("given", [True, False], ids=["mask", "pad_token_id"])
def test_pad_tokens_inside_prompts_equal_transformers(family, options, given, tmp_path):
    # transformers masks any pad token of the prompt (from attention_mask, or inferred from pad_token_id), not only
    # left padding; the real tokens after it take the positions of the real tokens counted
    model, ref = pair(family, tmp_path)
    x = ids(batch=3, seq=9).clamp(min=1)
    x[0, 3] = x[1, :2] = x[1, 5] = x[2, 7] = 0
    mask = (x != 0).long() if given else None
    with torch.no_grad():
        expected = ref.generate(x, attention_mask=mask, max_new_tokens=8, do_sample=False, pad_token_id=0, **options)
    assert torch.equal(model.generate(x, attention_mask=mask, max_new_tokens=8, pad_token_id=0, **options), expected)


@pytest.mark.parametrize("family", FAMILIES)
def test_lengths_given_as_whole_floats(family, tmp_path):
    """transformers' generate takes max_new_tokens / max_length as a float of whole value (2.0) where it decodes
    greedily or samples (its beam search fails on any float, a TypeError); ours takes it everywhere. A fraction is
    a TypeError (transformers' greedy decoding would round it up, its beam search raises)."""
    model, ref = pair(family, tmp_path)
    x = ids(batch=2, seq=5)
    mask = torch.ones_like(x)
    for lengths in (dict(max_new_tokens=3.0), dict(max_length=8.0)):
        for options in (dict(), dict(do_sample=True, num_return_sequences=2)):
            torch.manual_seed(0)
            theirs = ref.generate(x, attention_mask=mask, pad_token_id=0, **{"do_sample": False, **lengths, **options})
            torch.manual_seed(0)
            ours = model.generate(x, attention_mask=mask, **lengths, **options)
            assert torch.equal(ours, theirs) and ours.shape[1] == 8
        assert torch.equal(model.generate(x, num_beams=2, **lengths), model.generate(x, num_beams=2, max_new_tokens=3))
        assert len(list(model.stream_generate(x, eos_token_id=None, **lengths))) == 3
    with pytest.raises(TypeError):
        ref.generate(x, attention_mask=mask, pad_token_id=0, num_beams=2, max_new_tokens=2.5)
    for lengths in (dict(max_new_tokens=2.5), dict(max_length=7.5)):
        for options in (dict(), dict(num_beams=2)):
            with pytest.raises(TypeError, match=f"{next(iter(lengths))} must be a whole number.*(2.5|7.5)"):
                model.generate(x, **lengths, **options)
