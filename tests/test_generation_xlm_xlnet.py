"""generate() of XLMWithLMHeadModel and XLNetLMHeadModel against transformers 5.25's generate on the same weights (tiny
random models saved by transformers, loaded here): the ids, and each step's logits, for greedy decoding, sampling
seeded alike, beam search (with sampling), num_return_sequences, logits processors, padded prompts (transformers'
forward never sees the attention_mask; the mask only starts the repetition penalty) and both use_cache values
(XLM's cache keeps the mask tokens in place of the generated ones, as transformers'; XLNet runs its mems with
transformers' offset of two tokens, mem_len or not); streaming, and the errors of bad input."""
from __future__ import annotations

import pytest
import torch

import transformers_fast as tf
import test_modeling_xlm
import test_modeling_xlnet

MODELS = {"xlm": (test_modeling_xlm, "XLMWithLMHeadModel", {}),
          "xlm-causal": (test_modeling_xlm, "XLMWithLMHeadModel", dict(causal=True)),
          "xlnet": (test_modeling_xlnet, "XLNetLMHeadModel", {}),
          "xlnet-mem-len": (test_modeling_xlnet, "XLNetLMHeadModel", dict(mem_len=5))}
NEW = 6


@pytest.fixture(scope="module", params=list(MODELS))
def pair(request, tmp_path_factory):
    """(ours, transformers') on the same random weights."""
    module, class_name, extra = MODELS[request.param]
    ref = module.reference("hf", class_name, **extra)
    return module.ours_from(ref, tmp_path_factory.mktemp(request.param)).eval(), ref


def prompts():
    """Two prompts of four tokens, none of them the pad tokens (XLM's 2, XLNet's 5)."""
    return torch.tensor([[7, 8, 9, 10], [31, 6, 11, 12]])


def both(pair, x, seed=0, **options):
    """Our generate and transformers', the global generator seeded alike before each (transformers samples from
    it), with each step's logits."""
    ours, ref = pair
    options = dict(options, return_dict_in_generate=True, output_logits=True)
    options.setdefault("max_new_tokens", NEW)
    options.setdefault("eos_token_id", None)
    torch.manual_seed(seed)
    theirs = ref.generate(x, **options)
    torch.manual_seed(seed)
    mine = ours.generate(x, **options)
    assert mine.sequences.shape == theirs.sequences.shape and torch.equal(mine.sequences, theirs.sequences), \
        (mine.sequences.tolist(), theirs.sequences.tolist())
    assert len(mine.logits) == len(theirs.logits)
    for step, (a, b) in enumerate(zip(mine.logits, theirs.logits)):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4, msg=f"step {step}")
    return mine.sequences


def test_can_generate(pair):
    assert type(pair[0]).can_generate()


@pytest.mark.parametrize("use_cache", [True, False])
def test_greedy_and_sampling_equal_transformers(pair, use_cache):
    """Sampled at a high temperature, the new tokens differ from the placeholder token: XLM's cached steps (mask tokens
    in place of the generated ones) and XLNet's mems then give other logits than a rerun of the whole sequence."""
    x = prompts()
    both(pair, x, use_cache=use_cache)
    sampled = both(pair, x, use_cache=use_cache, do_sample=True, temperature=3.0, top_k=0)
    assert len(set(sampled[:, x.shape[1]:].flatten().tolist())) > 3
    both(pair, x, seed=1, use_cache=use_cache, do_sample=True, num_return_sequences=3, top_k=20, temperature=2.0)
    both(pair, x[:1, :1], seed=2, use_cache=use_cache, do_sample=True, temperature=3.0)  # a one-token prompt


def test_beam_search_equals_transformers(pair):
    x = prompts()
    both(pair, x, num_beams=3, num_return_sequences=2)
    both(pair, x, seed=3, num_beams=3, do_sample=True, temperature=3.0, top_k=0)
    both(pair, x, seed=4, num_beams=2, do_sample=True, temperature=3.0, eos_token_id=13, length_penalty=0.5)


def test_logits_processors_equal_transformers(pair):
    x = prompts()
    both(pair, x, seed=5, do_sample=True, temperature=3.0, no_repeat_ngram_size=2, top_p=0.9)
    both(pair, x, seed=6, do_sample=True, temperature=3.0, repetition_penalty=1.5, min_new_tokens=3, eos_token_id=13)
    both(pair, x, bad_words_ids=[[0], [45]], suppress_tokens=[1, 2])


def test_default_eos_and_pad_equal_transformers(pair):
    """Without eos_token_id / pad_token_id given, both read the folder's (XLM: 1 and 2, XLNet: 2 and 5); the eos
    token, made likely, ends rows early, padded afterwards."""
    ours, ref = pair
    eos = ref.generation_config.eos_token_id
    options = dict(max_new_tokens=NEW, do_sample=True, temperature=3.0, sequence_bias={(eos,): 8.0})
    torch.manual_seed(9)
    theirs = ref.generate(prompts(), **options)
    torch.manual_seed(9)
    mine = ours.generate(prompts(), **options)
    assert torch.equal(mine, theirs) and (mine[:, prompts().shape[1]:] == eos).any()


@pytest.mark.parametrize("side", ["left", "right", "inferred"])
def test_padded_prompts_equal_transformers(pair, side):
    """transformers' forward runs the padding tokens as real ones (the attention_mask is not passed to it, and XLM
    finds its padding by pad_index, as a count of trailing tokens); the mask only tells the repetition penalty
    where each prompt starts. Any padding side works, a mask inferred from pad_token_id too."""
    ours, ref = pair
    pad = ref.config.pad_token_id
    x = prompts()
    mask = torch.ones_like(x)
    if side == "right":
        x[1, -1], mask[1, -1] = pad, 0
    else:
        x[1, 0], mask[1, 0] = pad, 0
    given = {} if side == "inferred" else dict(attention_mask=mask)
    both(pair, x, seed=7, do_sample=True, temperature=3.0, repetition_penalty=2.0, **given)


def nested_close(a, b, what):
    if isinstance(b, (tuple, list)):
        assert isinstance(a, (tuple, list)) and len(a) == len(b), what
        for i, (x, y) in enumerate(zip(a, b)):
            nested_close(x, y, f"{what}[{i}]")
    else:
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4, msg=what)


def test_attentions_and_hidden_states_equal_transformers(pair):
    """Per step, those of the model's forward over the positions that step runs (XLNet's attentions per layer a
    (content, query) pair), as transformers returns them."""
    ours, ref = pair
    options = dict(max_new_tokens=3, eos_token_id=None, return_dict_in_generate=True, output_attentions=True,
                   output_hidden_states=True)
    mine, theirs = ours.generate(prompts(), **options), ref.generate(prompts(), **options)
    nested_close(mine.attentions, theirs.attentions, "attentions")
    nested_close(mine.hidden_states, theirs.hidden_states, "hidden_states")


def test_stream_generate_yields_generate_tokens(pair):
    ours, _ = pair
    x = prompts()
    out = ours.generate(x, max_new_tokens=NEW, eos_token_id=None, do_sample=True,
                        generator=torch.Generator().manual_seed(0))
    streamed = list(ours.stream_generate(x, max_new_tokens=NEW, eos_token_id=None, do_sample=True,
                                         generator=torch.Generator().manual_seed(0)))
    assert torch.equal(torch.stack(streamed, dim=1), out[:, x.shape[1]:])


def _cache_tensors(cache):
    """The tensors of a returned cache: XLNet's mems, or each layer's keys and values of a DynamicCache."""
    if cache is None:
        return None
    if hasattr(cache, "layers"):
        return [t for layer in cache.layers for t in (layer.keys, layer.values)]
    return list(cache)


@pytest.mark.parametrize("options", [dict(), dict(use_cache=False), dict(num_beams=2), dict(num_beams=2, use_cache=False)],
                         ids=["greedy", "greedy-no-cache", "beams", "beams-no-cache"])
def test_returned_cache_equals_transformers(pair, options):
    """return_dict_in_generate's cache: the model's own after the last step, as transformers returns it (XLNet's
    mems whatever use_cache says, XLM's keys and values as a DynamicCache)."""
    ours, ref = pair
    x = prompts()
    kw = dict(options, max_new_tokens=4, eos_token_id=None, return_dict_in_generate=True)
    mine, theirs = ours.generate(x, **kw), ref.generate(x, **kw)
    assert torch.equal(mine.sequences, theirs.sequences)
    got, expected = _cache_tensors(mine.cache), _cache_tensors(theirs.cache)
    assert (got is None) == (expected is None) and (got is not None or not options.get("use_cache", True) or
                                                      isinstance(ours, tf.XLMWithLMHeadModel))
    if expected is not None:
        assert len(got) == len(expected) and type(mine.cache).__name__ == type(theirs.cache).__name__
        for a, b in zip(got, expected):
            torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_generate_bad_input(pair):
    """The errors of GPT-2's generate; XLM's position table bounds the prompt, the new tokens and the mask token."""
    ours, _ = pair
    with pytest.raises(ValueError, match="empty"):
        ours.generate(torch.zeros(1, 0, dtype=torch.long))
    with pytest.raises(ValueError, match=r"input_ids holds 99, outside \[0, 98\]"):
        ours.generate(torch.tensor([[3, 99]]))
    with pytest.raises(ValueError, match="max_new_tokens"):
        ours.generate(torch.tensor([[3, 4]]), max_new_tokens=0)
    with pytest.raises(ValueError, match="temperature"):
        ours.generate(torch.tensor([[3, 4]]), do_sample=True, temperature=0)
    with pytest.raises(ValueError, match="top_p"):
        ours.generate(torch.tensor([[3, 4]]), do_sample=True, top_p=1.5)
    with pytest.raises(ValueError, match="num_return_sequences"):
        ours.generate(torch.tensor([[3, 4]]), num_return_sequences=2)
    with pytest.raises(ValueError, match="num_return_sequences"):
        ours.generate(torch.tensor([[3, 4]]), num_beams=2, num_return_sequences=3)
    with pytest.raises(TypeError, match="unexpected"):
        ours.generate(torch.tensor([[3, 4]]), no_such_option=1)
    with pytest.raises(ValueError, match="past_key_values / cache is not supported"):
        ours.generate(torch.tensor([[3, 4]]), past_key_values=[(torch.zeros(1, 4, 1, 8),) * 2])
    with pytest.raises(ValueError, match="inputs_embeds is not supported"):  # (transformers: a ValueError too)
        ours.generate(inputs_embeds=torch.randn(1, 2, 32))
    with pytest.raises(ValueError, match="token_type_ids is not supported"):
        ours.generate(torch.tensor([[3, 4]]), token_type_ids=torch.tensor([[0, 1]]))
    if isinstance(ours, tf.XLMWithLMHeadModel):
        limit = ours.config.max_position_embeddings
        with pytest.raises(ValueError, match=f"at most {limit}"):
            ours.generate(torch.ones(1, limit - 3, dtype=torch.long), max_new_tokens=4)
        assert ours.generate(torch.ones(1, limit - 3, dtype=torch.long), max_new_tokens=3).shape == (1, limit)
