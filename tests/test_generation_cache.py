"""generate continuing from a KV cache passed in (past_key_values / cache, GPT-2): only the tokens not yet in the
cache run, the ids equal transformers' generate given the same cache and a generate without it, and a transformers
Cache is extended in place and returned, as transformers does."""
from __future__ import annotations

import copy

import pytest
import torch

import transformers_fast as tf
from gpt_helpers import HF_CLASSES, hf_gpt, ids, left_padded

# (transformers 5.25 names the argument `cache`; its generate warns on past_key_values, the name tested most here)
pytestmark = pytest.mark.filterwarnings("ignore:`past_key_values` is deprecated:FutureWarning")
GREEDY = dict(max_new_tokens=6, eos_token_id=None)
MODES = {"greedy": {}, "sample": dict(do_sample=True, num_return_sequences=2), "beam": dict(num_beams=3),
         "beam-sample": dict(num_beams=2, do_sample=True, num_return_sequences=2)}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gpt2")
    ref = hf_gpt("gpt2", HF_CLASSES["gpt2"][2])
    ref.save_pretrained(folder)
    return tf.GPT2LMHeadModel.from_pretrained(folder), ref


def prefix_cache(ref, x, mask, prefix: int, rows: int):
    """transformers' DynamicCache of the first `prefix` tokens, one row per generated sequence (transformers does
    not expand a cache passed in)."""
    with torch.no_grad():
        return ref(x[:, :prefix].repeat_interleave(rows, 0), attention_mask=mask[:, :prefix].repeat_interleave(rows, 0),
                   use_cache=True).past_key_values


def run(model, x, mask, seed=0, **options):
    torch.manual_seed(seed)
    return model.generate(x, attention_mask=mask, **GREEDY, **options)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("padded", [False, True])
def test_continuing_from_a_cache_equals_transformers(models, mode, padded):
    model, ref = models
    x = ids(batch=2, seq=9)
    mask = torch.ones_like(x)
    if padded:
        x, mask, _ = left_padded(x, [9, 6])
    options = MODES[mode]
    rows = options.get("num_beams", options.get("num_return_sequences", 1))
    fresh = run(model, x, mask, **options)
    theirs_cache, ours_cache = prefix_cache(ref, x, mask, 5, rows), prefix_cache(ref, x, mask, 5, rows)
    theirs = run(ref, x, mask, past_key_values=theirs_cache, do_sample=options.get("do_sample", False),
                 pad_token_id=0, return_dict_in_generate=True, **{k: v for k, v in options.items() if k != "do_sample"})
    ours = run(model, x, mask, past_key_values=ours_cache, return_dict_in_generate=True, **options)
    assert torch.equal(ours.sequences, theirs.sequences) and torch.equal(ours.sequences, fresh)
    # extended in place and returned, as transformers
    assert ours.past_key_values is ours_cache and theirs.past_key_values is theirs_cache
    assert ours_cache.get_seq_length() == theirs_cache.get_seq_length()
    for a, b in zip(ours_cache.layers, theirs_cache.layers):
        torch.testing.assert_close(a.keys[..., 5:, :], b.keys[..., 5:, :], atol=1e-4, rtol=1e-4)
    # without return_dict_in_generate too; transformers' name `cache`
    again = prefix_cache(ref, x, mask, 5, rows)
    assert torch.equal(run(model, x, mask, cache=again, **options), fresh)
    assert again.get_seq_length() == ours_cache.get_seq_length()


def test_legacy_tuples_our_presents_and_a_returned_cache(models):
    """transformers 5.25 refuses a tuple of (keys, values) per layer; we take it, and our forward's presents."""
    model, ref = models
    x = ids(batch=2, seq=9)
    fresh = model.generate(x, **GREEDY)
    with torch.no_grad():
        presents = model(x[:, :4], use_cache=True).past_key_values
    assert torch.equal(model.generate(x, past_key_values=presents, **GREEDY), fresh)
    pairs = tuple((p[0], p[1]) for p in presents)
    assert torch.equal(model.generate(x, past_key_values=pairs, **GREEDY), fresh)
    # multi-turn: the cache a generate returns, continued by a longer prompt
    first = model.generate(x, return_dict_in_generate=True, **GREEDY)
    theirs_first = ref.generate(x, return_dict_in_generate=True, do_sample=False, pad_token_id=0, **GREEDY)
    turn = torch.cat([first.sequences, ids(batch=2, seq=3, seed=5)], 1)
    mask = torch.ones_like(turn)  # (token 0, transformers' pad_token_id here, is in the prompts)
    kept = copy.deepcopy(first.past_key_values)  # (the next generate extends it in place)
    ours = model.generate(turn, attention_mask=mask, past_key_values=first.past_key_values, **GREEDY)
    theirs = ref.generate(turn, attention_mask=mask, past_key_values=theirs_first.past_key_values, do_sample=False,
                          pad_token_id=0, **GREEDY)
    assert torch.equal(ours, theirs) and torch.equal(ours, model.generate(turn, **GREEDY))
    # stream_generate too
    streamed = torch.stack(list(model.stream_generate(turn, past_key_values=kept, **GREEDY)), 1)
    assert torch.equal(streamed, ours[:, turn.shape[1]:]) and kept.get_seq_length() == turn.shape[1] + 5


def test_continuing_with_output_hidden_states(models):
    model, ref = models
    x = ids(batch=2, seq=9)
    mask = torch.ones_like(x)
    options = dict(return_dict_in_generate=True, output_hidden_states=True, output_scores=True)
    ours = run(model, x, mask, past_key_values=prefix_cache(ref, x, mask, 5, 1), **options)
    theirs = run(ref, x, mask, past_key_values=prefix_cache(ref, x, mask, 5, 1), pad_token_id=0, **options)
    assert torch.equal(ours.sequences, theirs.sequences)
    assert ours.hidden_states[0][0].shape == theirs.hidden_states[0][0].shape  # the 4 tokens not in the cache


def test_bad_caches(models, tmp_path):
    model, ref = models
    x = ids(batch=2, seq=9)
    mask = torch.ones_like(x)
    with pytest.raises(ValueError, match="holds 9 tokens.*input_ids has 9"):
        model.generate(x, past_key_values=prefix_cache(ref, x, mask, 9, 1), **GREEDY)
    with pytest.raises(ValueError, match="holds 9 tokens"):
        model.generate(x[:, :7], past_key_values=prefix_cache(ref, x, mask, 9, 1), **GREEDY)
    with pytest.raises(ValueError, match="holds 2 rows.*6"):
        model.generate(x, past_key_values=prefix_cache(ref, x, mask, 5, 1), num_beams=3, **GREEDY)
    with pytest.raises(ValueError, match="1 layers, the model has 2"):
        with torch.no_grad():
            pairs = model(x[:, :4], use_cache=True).past_key_values
        model.generate(x, past_key_values=pairs[:1], **GREEDY)
    with pytest.raises(ValueError, match="heads"):
        model.generate(x, past_key_values=[(p[0][:, :2], p[1][:, :2]) for p in pairs], **GREEDY)
    with pytest.raises(TypeError, match="both"):
        model.generate(x, past_key_values=pairs, cache=pairs, **GREEDY)
    with pytest.raises(ValueError, match="use_cache"):
        model.generate(x, past_key_values=pairs, use_cache=False, **GREEDY)
    openai = tf.OpenAIGPTLMHeadModel(tf.OpenAIGPTConfig(vocab_size_or_config_json_file=99, n_positions=48, n_ctx=48,
                                                        n_embd=32, n_layer=2, n_head=4)).eval()
    with pytest.raises(ValueError, match="past_key_values.*OpenAIGPTLMHeadModel"):
        openai.generate(x, past_key_values=pairs, **GREEDY)
    txl = tf.TransfoXLLMHeadModel(tf.TransfoXLConfig(vocab_size_or_config_json_file=99, cutoffs=[], d_model=16,
                                                     d_embed=16, n_head=2, d_head=8, d_inner=32, n_layer=2,
                                                     mem_len=8, tgt_len=4)).eval()
    with pytest.raises(ValueError, match="cache.*TransfoXLLMHeadModel"):
        txl.generate(x, cache=pairs, **GREEDY)


@pytest.mark.parametrize("mode", ["beam", "beam-sample"])
def test_beam_search_reorders_the_whole_given_cache_as_transformers(models, mode):
    """transformers reorders the cache passed in by each step's beams, its earlier positions too: the cached rows
    (here of different tokens for each beam) end as the returned beams' own."""
    model, ref = models
    x = ids(batch=2, seq=9)
    options = MODES[mode]
    rows = 2 * options["num_beams"]
    other = ids(batch=rows, seq=5, seed=3)  # what each beam's row of the cache was computed from
    caches = []
    for generate, extra in ((ref.generate, dict(pad_token_id=0)), (model.generate, {})):
        with torch.no_grad():
            caches.append(ref(other, use_cache=True).past_key_values)
        torch.manual_seed(0)
        caches.append(generate(x, attention_mask=torch.ones_like(x), past_key_values=caches[-1],
                               return_dict_in_generate=True, **GREEDY, **options, **extra))
    theirs_cache, theirs, ours_cache, ours = caches
    assert torch.equal(ours.sequences, theirs.sequences) and ours.cache is ours_cache
    assert_caches_equal(ours_cache, theirs_cache, 9 + 5)


class StopAfter:
    """A transformers stopping criterion: every row ends at `width` tokens."""

    def __init__(self, width):
        self.width = width

    def __call__(self, input_ids, scores, **kwargs):
        return torch.full((input_ids.shape[0],), input_ids.shape[1] >= self.width, dtype=torch.bool)


@pytest.mark.parametrize("how", ["close", "break"])
def test_a_stream_stopped_early_leaves_the_cache_as_transformers(models, how):
    """transformers extends the cache passed in at every step: a streamed generate its stopping criteria end after
    3 tokens leaves it holding the prompt and the first 2 (the last is never run); so does a stream_generate its
    caller stops after 3 (closed, or dropped after a break)."""
    from transformers import StoppingCriteriaList

    model, ref = models
    x = ids(batch=2, seq=9)
    mask = torch.ones_like(x)
    theirs_cache, ours_cache = prefix_cache(ref, x, mask, 5, 1), prefix_cache(ref, x, mask, 5, 1)
    received = []
    streamer = type("Recorder", (), dict(put=lambda self, v: received.append(v), end=lambda self: None))()
    theirs = ref.generate(x, attention_mask=mask, past_key_values=theirs_cache, streamer=streamer, do_sample=False,
                          pad_token_id=0, stopping_criteria=StoppingCriteriaList([StopAfter(12)]), **GREEDY)
    stream = model.stream_generate(x, attention_mask=mask, past_key_values=ours_cache, **GREEDY)
    if how == "close":
        tokens = [next(stream) for _ in range(3)]
        stream.close()
    else:
        tokens = []
        for token in stream:
            tokens.append(token)
            if len(tokens) == 3:
                break
        del stream
    assert torch.equal(torch.stack(tokens, 1), theirs[:, 9:]) and len(received) == 4
    assert_caches_equal(ours_cache, theirs_cache, 11)


class Interrupt(Exception):
    pass


def test_a_streamer_that_raises_leaves_the_cache_as_transformers(models):
    model, ref = models
    x = ids(batch=2, seq=9)
    mask = torch.ones_like(x)
    caches = []
    for generate, extra in ((ref.generate, dict(pad_token_id=0, do_sample=False)), (model.generate, {})):
        caches.append(prefix_cache(ref, x, mask, 5, 1))
        received = []

        def put(self, value):  # the prompt, then the third token raises
            received.append(value)
            if len(received) == 4:
                raise Interrupt

        with pytest.raises(Interrupt):
            generate(x, attention_mask=mask, past_key_values=caches[-1], **GREEDY, **extra,
                     streamer=type("Raising", (), dict(put=put, end=lambda self: None))())
    assert_caches_equal(caches[1], caches[0], 11)


def assert_caches_equal(ours, theirs, length):
    assert ours.get_seq_length() == theirs.get_seq_length() == length
    for a, b in zip(ours.layers, theirs.layers):
        torch.testing.assert_close(a.keys, b.keys, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(a.values, b.values, atol=1e-4, rtol=1e-4)
