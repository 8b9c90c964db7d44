"""generate()'s other transformers 5.25 logits processors, sampling filters and stopping criteria (sequence_bias,
suppress_tokens, begin_suppress_tokens, forced_bos/eos_token_id, exponential_decay_length_penalty,
encoder_repetition_penalty, encoder_no_repeat_ngram_size, remove_invalid_values, renormalize_logits; typical_p,
min_p, top_h, epsilon_cutoff, eta_cutoff; max_time, stop_strings) and the cache of return_dict_in_generate, each
equal to transformers' generate on the same weights: greedy, sampled under the same seed, beam search, left-padded
batches, also through generation_config= and a folder's generation_config.json."""
from __future__ import annotations

import pytest
import torch

from gpt_helpers import FAMILIES, ids
from test_generation import LM, PROMPTS, gpt2_real_vocab  # noqa: F401 (a fixture)
from test_generation_options import NEW, both, first_new_token_no_row_had, padded_prompts, pair, plain_greedy


def greedy_options(free, width):
    """Options built from the plain greedy ids `free` (tokens the model writes, so that each one acts)."""
    a, b, c = int(free[0, width + 2]), int(free[1, width + 1]), int(free[2, width])
    k, eos = first_new_token_no_row_had(free, width)
    return {
        "sequence-bias": dict(sequence_bias=[[[a], -4.0], [free[1, width + 3:width + 5].tolist(), -8.0], [[c], 2.5]]),
        "sequence-bias-dict": dict(sequence_bias={(a,): -3.0, tuple(free[2, width + 1:width + 3].tolist()): -9.0}),
        "suppress": dict(suppress_tokens=[a, b]),
        "begin-suppress": dict(begin_suppress_tokens=free[:, width].tolist()),
        "forced-eos": dict(forced_eos_token_id=[a, c]),
        "exponential-decay": dict(exponential_decay_length_penalty=(2, 3.0), eos_token_id=eos),
        "encoder-penalty-up": dict(encoder_repetition_penalty=1.8),
        "encoder-ngram-2": dict(encoder_no_repeat_ngram_size=2),
        "encoder-ngram-1": dict(encoder_no_repeat_ngram_size=1),
        "all": dict(sequence_bias=[[[a], -4.0]], repetition_penalty=1.2, encoder_repetition_penalty=1.3,
                    encoder_no_repeat_ngram_size=3, suppress_tokens=[b], begin_suppress_tokens=[c],
                    exponential_decay_length_penalty=(4, 1.5), eos_token_id=eos, forced_eos_token_id=eos,
                    remove_invalid_values=True, renormalize_logits=True, bad_words_ids=[[c]]),
    }


GREEDY_KINDS = list(greedy_options(torch.arange(60).view(3, 20), 8))


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("kind", GREEDY_KINDS)
def test_processors_equal_transformers_greedy(family, kind, tmp_path):
    model, ref = pair(family, tmp_path)
    x, mask = padded_prompts()
    free = plain_greedy(model, x, mask)
    options = dict(eos_token_id=None)
    options.update(greedy_options(free, x.shape[1])[kind])
    ours, theirs = both(model, ref, x, mask, **options)
    assert ours.shape == theirs.shape and torch.equal(ours, theirs)
    if kind == "encoder-ngram-1":  # no token of its prompt (padding included), whatever the model prefers
        assert not bool((ours[:, x.shape[1]:, None] == x[:, None, :]).any())
    elif kind != "encoder-ngram-2":  # the option acted
        assert not torch.equal(ours, free[:, :ours.shape[1]]) or ours.shape != free.shape


@pytest.mark.parametrize("family", FAMILIES)
def test_processed_scores_equal_transformers(family, tmp_path):
    """remove_invalid_values turns -inf into the lowest float, renormalize_logits log-softmaxes last: the scores
    returned are transformers' at every step."""
    model, ref = pair(family, tmp_path)
    x, mask = padded_prompts()
    free = plain_greedy(model, x, mask)
    for options in (dict(remove_invalid_values=True, bad_words_ids=[[int(free[0, x.shape[1]])]]),
                    dict(renormalize_logits=True, suppress_tokens=[3, 4], sequence_bias=[[[5, 6], 2.0]]),
                    greedy_options(free, x.shape[1])["all"]):
        options = dict(dict(eos_token_id=None), **options)
        ours, theirs = both(model, ref, x, mask, return_dict_in_generate=True, output_scores=True, max_new_tokens=8,
                            **options)
        assert torch.equal(ours.sequences, theirs.sequences)
        for a, b in zip(ours.scores, theirs.scores):
            assert torch.equal(a.isinf(), b.isinf())
            torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("family", FAMILIES)
def test_forced_bos_and_begin_suppress_after_a_one_token_prompt(family, tmp_path):
    """forced_bos_token_id forces the first new token after a one-token prompt (only then), and moves
    begin_suppress_tokens to the token after it, as transformers."""
    model, ref = pair(family, tmp_path)
    x = ids(batch=2, seq=1)
    free = model.generate(x, max_new_tokens=6, eos_token_id=None)
    for options in (dict(forced_bos_token_id=7), dict(forced_bos_token_id=7, begin_suppress_tokens=free[:, 2].tolist()),
                    dict(begin_suppress_tokens=free[:, 1].tolist())):
        ours, theirs = both(model, ref, x, None, eos_token_id=None, max_new_tokens=6, **options)
        assert torch.equal(ours, theirs) and not torch.equal(ours, free), options
    longer = ids(batch=2, seq=3)
    ours, theirs = both(model, ref, longer, None, eos_token_id=None, forced_bos_token_id=7, max_new_tokens=4)
    assert torch.equal(ours, theirs)


SAMPLING = [dict(typical_p=0.5), dict(min_p=0.2), dict(top_h=0.4), dict(epsilon_cutoff=0.05), dict(eta_cutoff=0.1),
            dict(temperature=0.7, top_h=0.9, min_p=0.05, typical_p=0.9, epsilon_cutoff=3e-3, eta_cutoff=3e-3,
                 sequence_bias=[[[5], 1.5]], encoder_repetition_penalty=1.2, renormalize_logits=True)]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("options", SAMPLING, ids=["typical", "min-p", "top-h", "epsilon", "eta", "all"])
def test_sampling_filters_equal_transformers(family, options, tmp_path):
    """transformers samples from the global generator: seeded alike, the same draws give the same tokens."""
    model, ref = pair(family, tmp_path)
    x, mask = padded_prompts()
    options = dict(options, do_sample=True, top_k=0, max_new_tokens=NEW, eos_token_id=None, pad_token_id=0)
    torch.manual_seed(3)
    theirs = ref.generate(x, attention_mask=mask, **options)
    torch.manual_seed(3)
    ours = model.generate(x, attention_mask=mask, **options)
    assert torch.equal(ours, theirs)
    kept = model.generate(x, attention_mask=mask, return_dict_in_generate=True, output_scores=True, **options).scores
    assert any(bool(step.isinf().any()) for step in kept)  # the filter removed tokens
    # greedy decoding ignores the sampling filters, as transformers
    greedy = {k: v for k, v in options.items() if k not in ("do_sample", "pad_token_id")}
    ours, theirs = both(model, ref, x, mask, **greedy)
    assert torch.equal(ours, theirs)


@pytest.mark.parametrize("family", FAMILIES)
def test_beam_search_with_processors_equals_transformers(family, tmp_path):
    model, ref = pair(family, tmp_path)
    x, mask = padded_prompts()
    free = plain_greedy(model, x, mask)
    width = x.shape[1]
    greedy = greedy_options(free, width)
    _, eos = first_new_token_no_row_had(free, width)
    for options in (dict(greedy["sequence-bias"], num_beams=3, eos_token_id=None),
                    dict(greedy["all"], num_beams=3, num_return_sequences=2),
                    dict(greedy["encoder-ngram-2"], num_beams=2, eos_token_id=eos, suppress_tokens=[1, 2]),
                    dict(num_beams=3, eos_token_id=eos, exponential_decay_length_penalty=(1, 2.0),
                         renormalize_logits=True)):
        ours, theirs = both(model, ref, x, mask, **options)
        assert ours.shape == theirs.shape and torch.equal(ours, theirs), options


@pytest.mark.parametrize("family", FAMILIES)
def test_beam_sampling_keeps_enough_tokens_after_the_filters(family, tmp_path):
    """With beams, transformers' filters keep len(eos) + 1 tokens at least (min_tokens_to_keep), so that a beam
    can go on after eos."""
    model, ref = pair(family, tmp_path)
    x, mask = padded_prompts()
    free = plain_greedy(model, x, mask)
    _, eos = first_new_token_no_row_had(free, x.shape[1])
    for seed, options in enumerate([dict(top_p=0.01, eos_token_id=eos), dict(top_k=1, eos_token_id=None),
                                    dict(min_p=0.9, eos_token_id=[eos, 3]), dict(typical_p=0.01, eos_token_id=eos),
                                    dict(epsilon_cutoff=0.5, eta_cutoff=0.5, eos_token_id=eos)]):
        options.update(do_sample=True, num_beams=2, max_new_tokens=10, pad_token_id=0)
        torch.manual_seed(seed)
        theirs = ref.generate(x, attention_mask=mask, **options)
        torch.manual_seed(seed)
        ours = model.generate(x, attention_mask=mask, **options)
        assert ours.shape == theirs.shape and torch.equal(ours, theirs), options


@pytest.mark.parametrize("family", FAMILIES)
def test_options_from_generation_config_and_a_folder(family, tmp_path):
    import transformers

    _, first = pair(family, tmp_path / "first")
    x, mask = padded_prompts()
    settings = dict(sequence_bias=[[[5], -2.0], [[7, 8], 3.0]], suppress_tokens=[3], begin_suppress_tokens=[9],
                    encoder_repetition_penalty=1.5, encoder_no_repeat_ngram_size=3, forced_eos_token_id=11,
                    exponential_decay_length_penalty=[3, 1.2], eos_token_id=12, renormalize_logits=True,
                    max_new_tokens=12, pad_token_id=0)
    config = transformers.GenerationConfig(**settings)
    theirs = first.generate(x, attention_mask=mask, generation_config=config)
    model = LM[family].from_pretrained(tmp_path / "first")
    assert torch.equal(model.generate(x, attention_mask=mask, generation_config=config), theirs)
    assert torch.equal(model.generate(x, attention_mask=mask, generation_config=dict(settings)), theirs)
    for name, value in dict(settings, do_sample=True, typical_p=0.7, min_p=0.05, top_k=0).items():
        setattr(first.generation_config, name, value)
    first.save_pretrained(tmp_path / "saved")
    reloaded = type(first).from_pretrained(tmp_path / "saved")
    model = LM[family].from_pretrained(tmp_path / "saved")
    torch.manual_seed(0)
    theirs = reloaded.generate(x, attention_mask=mask)
    torch.manual_seed(0)
    assert torch.equal(model.generate(x, attention_mask=mask), theirs)


def test_max_time_stops_after_the_first_token(tmp_path):
    """max_time counts from the start of generate: 0 ends every row after its first token (greedy, beams)."""
    model, ref = pair("gpt2", tmp_path)
    x, mask = padded_prompts()
    for options in (dict(max_time=0.0), dict(max_time=0.0, num_beams=3), dict(max_time=60.0)):
        ours, theirs = both(model, ref, x, mask, eos_token_id=None, **options)
        assert ours.shape == theirs.shape and torch.equal(ours, theirs), options
    assert both(model, ref, x, mask, max_time=0.0)[0].shape[1] == x.shape[1] + 1
    assert len(list(model.stream_generate(x, attention_mask=mask, max_time=0.0))) == 1


def test_stop_strings_equal_transformers(gpt2_real_vocab):
    """A row ends at the token that completes a stop string (which may start inside an earlier token and end
    inside this one), with transformers' or our tokenizer (byte-level text, or convert_tokens_to_string's)."""
    import transformers_fast as tf
    from gpt_helpers import gpt2_tokenizer_files

    tokenizer, ref, model = gpt2_real_vocab
    ours_tokenizer = tf.GPT2Tokenizer(*gpt2_tokenizer_files())
    enc = tokenizer(PROMPTS, return_tensors="pt", padding=True)
    width = enc["input_ids"].shape[1]
    free = model.generate(**enc, max_new_tokens=16, eos_token_id=None)
    text = tokenizer.decode(free[0, width + 4:width + 8])
    stops = [text[2:7], tokenizer.decode(free[2, width + 10:width + 12])[-3:], "\u6771\u4eac"]
    ended = []
    for options in (dict(stop_strings=stops[0]), dict(stop_strings=stops, eos_token_id=tokenizer.eos_token_id),
                    dict(stop_strings=stops[:2], num_beams=2, pad_token_id=tokenizer.eos_token_id),
                    dict(stop_strings=stops[1:], pad_token_id=tokenizer.eos_token_id)):
        # (our tokenizer's clean texts take one convert_tokens_to_string per token, in transformers too: once)
        for tok in (tokenizer, ours_tokenizer) if "eos_token_id" in options else (tokenizer,):
            theirs = ref.generate(**enc, max_new_tokens=16, do_sample=False, tokenizer=tok, **options)
            ours = model.generate(**enc, max_new_tokens=16, tokenizer=tok, **options)
            assert ours.shape == theirs.shape and torch.equal(ours, theirs), (options, type(tok).__name__)
            ended.append(not torch.equal(ours, free[:, :ours.shape[1]]))
    assert all(ended)  # stop strings ended rows (padded after them, or the whole batch sooner)
    with pytest.raises(ValueError, match="tokenizer"):
        model.generate(**enc, max_new_tokens=4, stop_strings="x")


def test_return_dict_cache_equals_transformers(tmp_path):
    """GPT-2 returns its keys and values as transformers (a DynamicCache, the running beams' after beam search),
    equal at every position but the left padding's; OpenAI GPT's forward keeps none: an empty one, as
    transformers."""
    model, ref = pair("gpt2", tmp_path)
    x, mask = padded_prompts()
    for options in (dict(max_new_tokens=6), dict(max_new_tokens=6, num_beams=3, num_return_sequences=2)):
        ours, theirs = both(model, ref, x, mask, eos_token_id=None, return_dict_in_generate=True, **options)
        assert type(ours.cache) is type(theirs.cache) and ours.past_key_values is ours.cache
        assert ours.cache.get_seq_length() == theirs.cache.get_seq_length() == x.shape[1] + 5
        rows = ours.cache.layers[0].keys.shape[0]
        real = torch.cat([mask, torch.ones(3, 5, dtype=mask.dtype)], 1).repeat_interleave(rows // 3, 0).bool()
        for a, b in zip(ours.cache.layers, theirs.cache.layers):
            for mine, their in ((a.keys, b.keys), (a.values, b.values)):
                assert mine.shape == their.shape
                torch.testing.assert_close(mine.transpose(1, 2)[real], their.transpose(1, 2)[real], atol=1e-4,
                                           rtol=1e-4)
    ours, theirs = both(model, ref, x, mask, return_dict_in_generate=True, max_new_tokens=3, use_cache=False)
    assert ours.cache is None and list(ours.keys()) == list(theirs.keys()) == ["sequences"]
    openai, openai_ref = pair("openai", tmp_path / "openai")
    for options in (dict(), dict(num_beams=2), dict(output_hidden_states=True)):
        ours, theirs = both(openai, openai_ref, x, mask, return_dict_in_generate=True, max_new_tokens=3, **options)
        assert type(ours.cache) is type(theirs.cache) and list(ours.keys()) == list(theirs.keys())
        assert ours.cache.get_seq_length() == theirs.cache.get_seq_length() == 0
    ours, theirs = both(openai, openai_ref, x, mask, return_dict_in_generate=True, max_new_tokens=3, use_cache=False)
    assert ours.cache is theirs.cache is None


def test_forward_signature_read_once_per_class(tmp_path, monkeypatch):
    import inspect

    from transformers_fast import generation

    model, _ = pair("gpt2", tmp_path)
    model.generate(torch.tensor([[3, 4]]), max_new_tokens=2, pad_token_id=0)
    seen = []
    real = inspect.signature
    monkeypatch.setattr(generation.inspect, "signature", lambda f, *a, **k: seen.append(f) or real(f, *a, **k))
    model.generate(torch.tensor([[3, 4]]), max_new_tokens=2, pad_token_id=0)
    assert seen == []


@pytest.mark.parametrize("options, error, match", [
    (dict(sequence_bias=[]), ValueError, "sequence_bias"),
    (dict(sequence_bias=[[[3], "x"]]), ValueError, "sequence_bias"),
    (dict(sequence_bias=[[[99], 1.0]]), ValueError, "sequence_bias"),
    (dict(sequence_bias={(): 1.0}), ValueError, "sequence_bias"),
    (dict(suppress_tokens=3), TypeError, "suppress_tokens"),
    (dict(suppress_tokens=[-1]), ValueError, "suppress_tokens"),
    (dict(begin_suppress_tokens=[1.5]), ValueError, "begin_suppress_tokens"),
    (dict(forced_bos_token_id=99), ValueError, "forced_bos_token_id"),
    (dict(forced_eos_token_id=[3, "a"]), ValueError, "forced_eos_token_id"),
    (dict(forced_eos_token_id=3, suppress_tokens=[3]), ValueError, "suppress_tokens"),
    (dict(exponential_decay_length_penalty=(2, 1.5), eos_token_id=None), ValueError, "eos_token_id"),
    (dict(exponential_decay_length_penalty=2.0, eos_token_id=3), ValueError, "exponential_decay_length_penalty"),
    (dict(encoder_repetition_penalty=0.0), ValueError, "encoder_repetition_penalty"),
    (dict(encoder_no_repeat_ngram_size=-2), ValueError, "encoder_no_repeat_ngram_size"),
    (dict(renormalize_logits="yes"), TypeError, "renormalize_logits"),
    (dict(remove_invalid_values=1), TypeError, "remove_invalid_values"),
    (dict(do_sample=True, typical_p=0.0), ValueError, "typical_p"),
    (dict(do_sample=True, min_p=1.5), ValueError, "min_p"),
    (dict(do_sample=True, top_h=0.0), ValueError, "top_h"),
    (dict(do_sample=True, epsilon_cutoff=-0.1), ValueError, "epsilon"),
    (dict(do_sample=True, eta_cutoff="0.1"), ValueError, "eta_cutoff"),
    (dict(max_time=-1), ValueError, "max_time"),
    (dict(stop_strings="x"), ValueError, "tokenizer"),
    (dict(guidance_scale=1.5), ValueError, "guidance_scale"),
    (dict(penalty_alpha=0.6, top_k=4), ValueError, "penalty_alpha"),
])
def test_bad_option_values(options, error, match, tmp_path):
    model, _ = pair("gpt2", tmp_path)
    with pytest.raises(error, match=match):
        model.generate(torch.tensor([[3, 4]]), max_new_tokens=2, **options)


@pytest.mark.parametrize("how", ["argument", "dict", "GenerationConfig"])
def test_an_unimplemented_option_is_the_same_error_however_given(how, tmp_path):
    import transformers

    model, _ = pair("gpt2", tmp_path)
    x = torch.tensor([[3, 4]])

    def generate(**fields):
        if how == "argument":
            return model.generate(x, max_new_tokens=2, do_sample=False, **fields)
        config = dict(fields) if how == "dict" else transformers.GenerationConfig(**fields)
        return model.generate(x, max_new_tokens=2, do_sample=False, generation_config=config)

    with pytest.raises(ValueError, match="does not implement: guidance_scale"):
        generate(guidance_scale=1.5)
    # at its off value the option changes nothing, as in transformers
    assert torch.equal(generate(guidance_scale=1.0), model.generate(x, max_new_tokens=2, do_sample=False))


def test_bad_stop_strings(tmp_path):
    import transformers_fast as tf
    from gpt_helpers import gpt2_tokenizer_files

    model, _ = pair("gpt2", tmp_path)
    tokenizer = tf.GPT2Tokenizer(*gpt2_tokenizer_files())
    for stop in ([], ["ok", 3], 3):
        with pytest.raises(ValueError, match="stop_strings"):
            model.generate(torch.tensor([[3, 4]]), max_new_tokens=2, stop_strings=stop, tokenizer=tokenizer)


@pytest.mark.parametrize("stop", ["", [""], ["ab", ""]])
def test_empty_stop_string_ends_every_row_at_once_as_transformers(stop, tmp_path):
    import transformers

    import transformers_fast as tf
    from gpt_helpers import gpt2_tokenizer_files

    model, ref = pair("gpt2", tmp_path)
    x, mask = padded_prompts()
    for tokenizer in (transformers.GPT2Tokenizer(*gpt2_tokenizer_files()), tf.GPT2Tokenizer(*gpt2_tokenizer_files())):
        for options in (dict(), dict(num_beams=2)):
            ours, theirs = both(model, ref, x, mask, eos_token_id=None, stop_strings=stop, tokenizer=tokenizer,
                                **options)
            assert torch.equal(ours, theirs) and ours.shape[1] == x.shape[1] + 1


@pytest.mark.parametrize("family", FAMILIES)
def test_eos_token_id_none_given_means_no_eos(family, tmp_path):
    """As transformers 5, eos_token_id=None given to generate ends no row, whatever eos the model's generation
    config (or config) names; not given, that one ends rows."""
    model, ref = pair(family, tmp_path / "first")
    x, mask = padded_prompts()
    free = plain_greedy(model, x, mask)
    _, eos = first_new_token_no_row_had(free, x.shape[1])
    model, ref = pair(family, tmp_path / "saved", eos_token_id=eos)
    for options in (dict(eos_token_id=None), dict(), dict(eos_token_id=None, num_beams=2)):
        ours = model.generate(x, attention_mask=mask, max_new_tokens=NEW, pad_token_id=0, **options)
        theirs = ref.generate(x, attention_mask=mask, max_new_tokens=NEW, pad_token_id=0, do_sample=False, **options)
        assert ours.shape == theirs.shape and torch.equal(ours, theirs), options
        if "num_beams" not in options:  # no eos: the plain ids; the folder's eos: row 0 ends at it
            assert torch.equal(ours, free) == ("eos_token_id" in options)


def test_transfo_xl_takes_the_new_processors():
    """Transformer-XL (which transformers 5 no longer has) applies the same processors to its log-probabilities:
    each step's scores are transformers' processors on its raw ones, the greedy token their argmax."""
    import tempfile

    from transformers.generation.logits_process import (EncoderRepetitionPenaltyLogitsProcessor,
                                                        ExponentialDecayLengthPenalty, LogitsProcessorList,
                                                        SequenceBiasLogitsProcessor, SuppressTokensLogitsProcessor)

    import transformers_fast as tf
    from test_modeling_transfo_xl import pt_transfo_xl, segments

    with tempfile.TemporaryDirectory() as folder:
        pt_transfo_xl("div_val2").save_pretrained(folder)
        model = tf.TransfoXLLMHeadModel.from_pretrained(folder)
    prompt = segments(2, seq=4, n=1)[0]
    options = dict(sequence_bias=[[[5], -1.0], [[6, 7], 2.0]], encoder_repetition_penalty=1.7, suppress_tokens=[3],
                   exponential_decay_length_penalty=(2, 1.3), eos_token_id=4)
    out = model.generate(prompt, max_new_tokens=8, return_dict_in_generate=True, output_scores=True,
                         output_logits=True, **options)
    processors = LogitsProcessorList([SequenceBiasLogitsProcessor([[[5], -1.0], [[6, 7], 2.0]]),
                                      EncoderRepetitionPenaltyLogitsProcessor(1.7, prompt),
                                      ExponentialDecayLengthPenalty((2, 1.3), 4, 4),
                                      SuppressTokensLogitsProcessor([3])])
    for step, (scores, logits) in enumerate(zip(out.scores, out.logits)):
        assert torch.equal(scores, processors(out.sequences[:, :4 + step], logits.clone()))
        assert torch.equal(out.sequences[:, 4 + step], scores.argmax(-1))
    assert out.cache is None  # (its memories are not a transformers cache)


def test_int8_kv_cache_is_returned_dequantized(tmp_path):
    """An int8 KV cache comes back as float32 keys and values, near those of the same model's float cache."""
    import copy

    import transformers_fast as tf

    model, _ = pair("gpt2", tmp_path)
    x, mask = padded_prompts()
    options = dict(attention_mask=mask, max_new_tokens=5, eos_token_id=None, pad_token_id=0,
                   return_dict_in_generate=True)
    int8_cache = tf.quantize(copy.deepcopy(model), "int8").generate(x, **options)
    float_cache = tf.quantize(copy.deepcopy(model), "int8", kv_cache="float").generate(x, **options)
    assert torch.equal(int8_cache.sequences, float_cache.sequences)
    for a, b in zip(int8_cache.cache.layers, float_cache.cache.layers):
        assert a.keys.dtype == a.values.dtype == torch.float32 and a.keys.shape == b.keys.shape
        torch.testing.assert_close(a.values, b.values, atol=0.1, rtol=0.05)
    # the first layer's keys come from the same embeddings: int8 rounding apart (half a step), they are equal
    first, exact = int8_cache.cache.layers[0].keys, float_cache.cache.layers[0].keys
    assert bool(((first - exact).abs() <= exact.abs().amax(-1, keepdim=True) / 127 * 0.51 + 1e-6).all())


def test_stop_strings_through_generation_config(gpt2_real_vocab):
    import transformers

    tokenizer, ref, model = gpt2_real_vocab
    enc = tokenizer(PROMPTS[:2], return_tensors="pt", padding=True)
    width = enc["input_ids"].shape[1]
    free = model.generate(**enc, max_new_tokens=16)
    config = transformers.GenerationConfig(max_new_tokens=16, stop_strings=[tokenizer.decode(free[1, width + 5])[1:]],
                                           pad_token_id=tokenizer.eos_token_id)
    theirs = ref.generate(**enc, generation_config=config, tokenizer=tokenizer)
    assert torch.equal(model.generate(**enc, generation_config=config, tokenizer=tokenizer), theirs)
    assert not torch.equal(theirs, free[:, :theirs.shape[1]])
    streamed = torch.stack(list(model.stream_generate(**enc, generation_config=config, tokenizer=tokenizer)), 1)
    assert torch.equal(streamed, theirs[:, width:])


class EvenTokensOnly:
    """A logits processor of the user's: only even token ids."""

    def __call__(self, input_ids, scores):
        return scores.masked_fill(torch.arange(scores.shape[-1]) % 2 == 1, float("-inf"))


class EndsAfter:
    """A stopping criterion of the user's: a row ends once it holds `token` among its last 3 ids."""

    def __init__(self, token):
        self.token = token

    def __call__(self, input_ids, scores, **kwargs):
        return (input_ids[:, -3:] == self.token).any(-1)


@pytest.mark.parametrize("family", FAMILIES)
def test_custom_logits_processors_criteria_and_prefix_function_equal_transformers(family, tmp_path):
    """generate's logits_processor / stopping_criteria lists merge with those the options make as transformers
    merges them (a processor of a class it builds takes that one's place), and prefix_allowed_tokens_fn
    constrains each row's next token."""
    from transformers.generation.logits_process import RepetitionPenaltyLogitsProcessor, TopKLogitsWarper

    model, ref = pair(family, tmp_path)
    x, mask = padded_prompts()
    free = plain_greedy(model, x, mask)
    width = x.shape[1]
    allowed = lambda prompt, row: [int(row[-1]) % 7, 11 + prompt, 20 + int(row[-1]) % 5]  # noqa: E731
    cases = [dict(logits_processor=[EvenTokensOnly()]),
             dict(logits_processor=[RepetitionPenaltyLogitsProcessor(2.0), EvenTokensOnly()], repetition_penalty=1.2),
             dict(stopping_criteria=[EndsAfter(int(free[0, width + 3]))], eos_token_id=5),
             dict(prefix_allowed_tokens_fn=allowed),
             dict(prefix_allowed_tokens_fn=allowed, num_beams=2, num_return_sequences=2),
             dict(logits_processor=[EvenTokensOnly()], stopping_criteria=[EndsAfter(int(free[1, width + 2]))],
                  num_beams=3)]
    for options in cases:
        ours, theirs = both(model, ref, x, mask, **dict(dict(eos_token_id=None), **options))
        assert ours.shape == theirs.shape and torch.equal(ours, theirs), options
        assert not torch.equal(ours, free[:, :ours.shape[1]])
    for custom in (dict(logits_processor=[EvenTokensOnly(), TopKLogitsWarper(5)]),
                   dict(prefix_allowed_tokens_fn=allowed)):
        options = dict(custom, do_sample=True, max_new_tokens=NEW, pad_token_id=0, eos_token_id=None, top_k=0)
        torch.manual_seed(1)
        theirs = ref.generate(x, attention_mask=mask, **options)
        torch.manual_seed(1)
        assert torch.equal(model.generate(x, attention_mask=mask, **options), theirs)
    from transformers.generation.stopping_criteria import MaxLengthCriteria
    for limit in (width + 3, width + NEW + 4):  # shorter or longer than max_new_tokens: the custom one counts
        ours, theirs = both(model, ref, x, mask, eos_token_id=None, stopping_criteria=[MaxLengthCriteria(limit)])
        assert ours.shape[1] == limit and torch.equal(ours, theirs)
    streamed = list(model.stream_generate(x, attention_mask=mask, max_new_tokens=4,
                                          logits_processor=[EvenTokensOnly()]))
    assert all(bool((t % 2 == 0).all()) for t in streamed)


def test_custom_processors_bad_input(tmp_path):
    from transformers.generation.stopping_criteria import EosTokenCriteria, MaxLengthCriteria

    model, _ = pair("gpt2", tmp_path)
    x = torch.tensor([[3, 4]])
    for options, error, match in [(dict(logits_processor=EvenTokensOnly()), TypeError, "logits_processor"),
                                  (dict(stopping_criteria=[3]), TypeError, "stopping_criteria"),
                                  (dict(stopping_criteria=[MaxLengthCriteria(0)]), ValueError, "max_length"),
                                  (dict(stopping_criteria=[EosTokenCriteria(3)]), ValueError, "eos_token_id"),
                                  (dict(prefix_allowed_tokens_fn=[3]), TypeError, "prefix_allowed_tokens_fn"),
                                  (dict(prefix_allowed_tokens_fn=lambda b, row: []), ValueError, "no token")]:
        with pytest.raises(error, match=match):
            model.generate(x, max_new_tokens=2, **options)
