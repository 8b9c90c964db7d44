"""generate()'s options taken from Hugging Face transformers: the logits processors (repetition_penalty,
no_repeat_ngram_size, bad_words_ids, min_length / min_new_tokens), return_dict_in_generate with output_scores /
output_logits, and generation_config, each equal token for token to transformers' generate on the same weights
(left-padded batches included), and their bad values."""
from __future__ import annotations

import pytest
import torch

from gpt_helpers import FAMILIES, HF_CLASSES, hf_gpt, ids, left_padded
from transformers_fast.generation import GenerationConfig
from test_generation import LM, PROMPTS, gpt2_real_vocab  # noqa: F401 (a fixture)

NEW = 20


def pair(family, tmp_path, **generation):
    """(ours, transformers') tiny random model with larger weights than the 0.02 init, which writes varied
    tokens where a fresh one repeats one token, so that the options have something to act on; `generation`
    goes into the saved folder's generation_config.json."""
    ref = hf_gpt(family, HF_CLASSES[family][2])
    with torch.no_grad():
        for name, p in ref.named_parameters():
            if name.endswith(("c_attn.weight", "c_fc.weight", "c_proj.weight")):
                p.mul_(10)
        ref.get_input_embeddings().weight.mul_(3)
    for option, value in generation.items():
        setattr(ref.generation_config, option, value)
    ref.save_pretrained(tmp_path)
    return LM[family].from_pretrained(tmp_path), ref


def padded_prompts():
    x, mask, _ = left_padded(ids(batch=3, seq=8), [8, 5, 3])
    return x, mask


def plain_greedy(model, x, mask):
    """Our greedy ids without any option and without stopping at an eos token: what an option must change."""
    return model.generate(x, attention_mask=mask, max_new_tokens=NEW, eos_token_id=None)


def both(model, ref, x, mask, **options):
    """(ours, transformers') greedy ids for the same prompts and options (padding token 0)."""
    options.setdefault("max_new_tokens", NEW)
    ours = model.generate(x, attention_mask=mask, pad_token_id=0, **options)
    theirs = ref.generate(x, attention_mask=mask, pad_token_id=0, do_sample=False, **options)
    return ours, theirs


def first_new_token_no_row_had(out, width):
    """(column, token) of row 0's first new token that no row produced before: an eos that stops row 0 there."""
    k = next(k for k in range(width + 1, out.shape[1]) if int(out[0, k]) not in out[:, width:k].flatten().tolist())
    return k, int(out[0, k])


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("options", [dict(repetition_penalty=1.5), dict(repetition_penalty=0.6),
                                     dict(no_repeat_ngram_size=2), dict(no_repeat_ngram_size=3),
                                     dict(repetition_penalty=1.3, no_repeat_ngram_size=2)],
                         ids=["penalty-1.5", "penalty-0.6", "ngram-2", "ngram-3", "penalty-and-ngram"])
def test_processors_equal_transformers_greedy(family, options, tmp_path):
    model, ref = pair(family, tmp_path)
    x, mask = padded_prompts()
    plain = plain_greedy(model, x, mask)
    ours, theirs = both(model, ref, x, mask, eos_token_id=None, **options)
    assert torch.equal(ours, theirs)
    assert not torch.equal(ours, plain)  # the option changed something


@pytest.mark.parametrize("family", FAMILIES)
def test_bad_words_equal_transformers(family, tmp_path):
    model, ref = pair(family, tmp_path)
    x, mask = padded_prompts()
    width = x.shape[1]
    plain = plain_greedy(model, x, mask)
    # a one-token bad word row 0 generates, and a two-token one row 1 generates
    bad = [[int(plain[0, width + 2])], plain[1, width + 3:width + 5].tolist()]
    ours, theirs = both(model, ref, x, mask, eos_token_id=None, bad_words_ids=bad)
    assert torch.equal(ours, theirs)
    assert not (ours[:, width:] == bad[0][0]).any()
    pairs = ours[:, width - 1:].unfold(1, 2, 1)
    assert not (pairs == torch.tensor(bad[1])).all(-1).any()


@pytest.mark.parametrize("family", FAMILIES)
def test_min_new_tokens_and_min_length_hold_eos_back(family, tmp_path):
    model, ref = pair(family, tmp_path)
    x, mask = padded_prompts()
    width = x.shape[1]
    free = plain_greedy(model, x, mask)
    k, eos = first_new_token_no_row_had(free, width)
    stopped, _ = both(model, ref, x, mask, eos_token_id=eos)
    assert stopped[0, k] == eos  # without a minimum, row 0 ends at column k
    least = k - width + 3
    for options in (dict(min_new_tokens=least), dict(min_length=width + least)):
        ours, theirs = both(model, ref, x, mask, eos_token_id=eos, **options)
        assert torch.equal(ours, theirs), options
        assert not (ours[:, width:width + least] == eos).any()


@pytest.mark.parametrize("options", [dict(top_k=20, temperature=0.8, repetition_penalty=1.4, no_repeat_ngram_size=2),
                                     dict(), dict(top_p=0.9), dict(top_k=0, temperature=1.3), dict(top_p=0.0),
                                     dict(top_k=None, temperature=1.3)],
                         ids=["processors", "defaults-top-k-50", "top-p", "no-top-k", "top-p-0", "top-k-none-given"])
def test_processors_with_sampling_equal_transformers(options, tmp_path):
    """transformers samples from the global generator: seeded alike, the same draws give the same tokens (without
    top_k, transformers keeps the 50 most likely tokens; top_k=None given filters none)."""
    model, ref = pair("gpt2", tmp_path)
    x, mask = padded_prompts()
    options = dict(options, do_sample=True, max_new_tokens=NEW, eos_token_id=None, pad_token_id=0)
    torch.manual_seed(5)
    theirs = ref.generate(x, attention_mask=mask, **options)
    torch.manual_seed(5)
    ours = model.generate(x, attention_mask=mask, **options)
    assert torch.equal(ours, theirs)


@pytest.mark.parametrize("family,training", [("gpt2", "model"), ("openai", "model"), ("openai", "dropout_only")])
def test_generate_in_training_mode_applies_dropout_as_transformers(family, training, tmp_path):
    """transformers' generate leaves the model's mode alone: a model in training mode (or with its dropout modules
    put back in training mode) generates with dropout. Seeded alike, the same draws give the same tokens. (GPT-2's
    dropout modules alone: transformers' attention reads its module's mode, 1.2.0's its dropout's, as ours.)"""
    model, ref = pair(family, tmp_path)
    x, mask = padded_prompts()
    eval_ids = model.generate(x, attention_mask=mask, max_new_tokens=NEW, eos_token_id=None, pad_token_id=0)
    results = []
    for m in (model, ref):
        if training == "model":
            m.train()
        else:
            for module in m.modules():
                if isinstance(module, torch.nn.Dropout):
                    module.train()
        torch.manual_seed(3)
        results.append(m.generate(x, attention_mask=mask, max_new_tokens=NEW, eos_token_id=None, pad_token_id=0,
                                  do_sample=False))
    ours, theirs = results
    assert torch.equal(ours, theirs) and not torch.equal(ours, eval_ids)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("num_beams", [1, 2])
def test_token_type_ids_as_transformers(family, num_beams, tmp_path):
    """The prompt's token types (embedded with the word embeddings by the GPT models); the new tokens take the last
    one, as transformers' generate gives them."""
    model, ref = pair(family, tmp_path)
    x, mask = padded_prompts()
    types = torch.where(torch.arange(x.shape[1]) < x.shape[1] - 2, 5, 7).expand_as(x)
    options = dict(attention_mask=mask, max_new_tokens=NEW, eos_token_id=None, pad_token_id=0, num_beams=num_beams,
                   do_sample=False)
    ours = model.generate(x, token_type_ids=types, **options)
    assert torch.equal(ours, ref.generate(x, token_type_ids=types, **options))
    assert not torch.equal(ours, model.generate(x, **options))
    streamed = torch.stack(list(model.stream_generate(x, token_type_ids=types, **dict(options, num_beams=1))), 1)
    assert num_beams > 1 or torch.equal(streamed, ours[:, x.shape[1]:])
    with pytest.raises(ValueError, match="shape"):
        model.generate(x, token_type_ids=types[:, 1:], **options)
    with pytest.raises(ValueError, match="token_type_ids holds 99"):
        model.generate(x, token_type_ids=types + 92, **options)


def test_eos_token_id_as_a_tensor_as_transformers(tmp_path):
    model, ref = pair("gpt2", tmp_path)
    x, mask = padded_prompts()
    _, token = first_new_token_no_row_had(plain_greedy(model, x, mask), x.shape[1])
    ours, theirs = both(model, ref, x, mask, eos_token_id=torch.tensor([token, 98]))
    assert torch.equal(ours, theirs)
    assert torch.equal(ours, both(model, ref, x, mask, eos_token_id=[token, 98])[0])
    with pytest.raises(TypeError, match="eos_token_id"):
        model.generate(x, attention_mask=mask, eos_token_id=torch.tensor([1.5]))


def test_no_repeat_ngram_with_sampling_never_repeats(tmp_path):
    model, _ = pair("gpt2", tmp_path)
    x = ids(batch=2, seq=4)
    out = model.generate(x, max_new_tokens=30, do_sample=True, temperature=2.0, no_repeat_ngram_size=2,
                         eos_token_id=None, num_return_sequences=3, generator=torch.Generator().manual_seed(0))
    for row in out.tolist():
        bigrams = list(zip(row, row[1:]))
        assert len(set(bigrams)) == len(bigrams)


@pytest.mark.parametrize("family", FAMILIES)
def test_return_dict_with_scores_and_logits_equals_transformers(family, tmp_path):
    model, ref = pair(family, tmp_path)
    x, mask = padded_prompts()
    options = dict(return_dict_in_generate=True, output_scores=True, output_logits=True, repetition_penalty=1.5,
                   no_repeat_ngram_size=2, eos_token_id=None, max_new_tokens=12)
    ours, theirs = both(model, ref, x, mask, **options)
    assert torch.equal(ours.sequences, theirs.sequences)
    assert torch.equal(ours["sequences"], ours.sequences) and ours[0] is ours.sequences
    assert len(ours.scores) == len(theirs.scores) == len(ours.logits) == len(theirs.logits) == 12
    for name in ("scores", "logits"):
        for step, (a, b) in enumerate(zip(ours[name], theirs[name])):
            assert a.dtype == torch.float32 and a.shape == b.shape == (3, 99)
            assert torch.equal(a.isinf(), b.isinf()), (name, step)
            torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4, msg=f"{name} of step {step}")
    assert not torch.equal(ours.scores[3], ours.logits[3])  # processed and raw differ
    only = model.generate(x, attention_mask=mask, max_new_tokens=4, return_dict_in_generate=True)
    theirs_only = ref.generate(x, attention_mask=mask, max_new_tokens=4, return_dict_in_generate=True)
    assert only.scores is None and only.logits is None and list(only.keys()) == list(theirs_only.keys())
    with pytest.raises(KeyError):
        only["scores"]


def test_return_dict_stops_with_eos_and_keeps_sampling_scores(tmp_path):
    model, ref = pair("gpt2", tmp_path)
    x, mask = padded_prompts()
    width = x.shape[1]
    free = plain_greedy(model, x, mask)
    _, eos = first_new_token_no_row_had(free, width)
    out = model.generate(x, attention_mask=mask, max_new_tokens=NEW, eos_token_id=[eos] + free[1:, -1].tolist(),
                         pad_token_id=0, return_dict_in_generate=True, output_scores=True)
    theirs = ref.generate(x, attention_mask=mask, max_new_tokens=NEW, eos_token_id=[eos] + free[1:, -1].tolist(),
                          pad_token_id=0, do_sample=False, return_dict_in_generate=True, output_scores=True)
    assert torch.equal(out.sequences, theirs.sequences) and len(out.scores) == out.sequences.shape[1] - width
    sampled = model.generate(x, attention_mask=mask, max_new_tokens=5, do_sample=True, top_k=7, eos_token_id=None,
                             return_dict_in_generate=True, output_scores=True,
                             generator=torch.Generator().manual_seed(0))
    for step, scores in enumerate(sampled.scores):  # the top-k filter is part of the scores, as transformers'
        assert bool((scores.isfinite().sum(-1) == 7).all())
        assert bool(scores.gather(1, sampled.sequences[:, width + step, None]).isfinite().all())


@pytest.mark.parametrize("family", FAMILIES)
def test_generation_config_fills_the_options_not_given(family, tmp_path):
    import transformers

    model, ref = pair(family, tmp_path)
    x, mask = padded_prompts()
    config = transformers.GenerationConfig(max_new_tokens=12, repetition_penalty=1.3, no_repeat_ngram_size=2,
                                           pad_token_id=0, eos_token_id=None)
    theirs = ref.generate(x, attention_mask=mask, generation_config=config)
    ours = model.generate(x, attention_mask=mask, generation_config=config)
    assert torch.equal(ours, theirs)
    as_dict = dict(max_new_tokens=12, repetition_penalty=1.3, no_repeat_ngram_size=2, pad_token_id=0, bos_token_id=5)
    assert torch.equal(model.generate(x, attention_mask=mask, generation_config=as_dict), theirs)
    # an option given to generate wins over the config's
    shorter = model.generate(x, attention_mask=mask, generation_config=config, max_new_tokens=5)
    assert torch.equal(shorter, theirs[:, :x.shape[1] + 5])
    plain = model.generate(x, attention_mask=mask, generation_config=config, repetition_penalty=1.0,
                           no_repeat_ngram_size=0)
    assert torch.equal(plain, model.generate(x, attention_mask=mask, max_new_tokens=12, pad_token_id=0))
    streamed = torch.stack(list(model.stream_generate(x, attention_mask=mask, generation_config=config)), 1)
    assert torch.equal(streamed, theirs[:, x.shape[1]:])


def test_generation_config_as_second_positional_argument(tmp_path):
    """transformers' generate(inputs, generation_config, ...): a generation config (transformers', ours or a dict)
    given second is the generation_config; a tensor there is the attention_mask, as this generate took it."""
    import transformers

    model, ref = pair("gpt2", tmp_path)
    x, mask = padded_prompts()
    fields = dict(max_new_tokens=7, repetition_penalty=1.3, pad_token_id=0, eos_token_id=None)
    theirs = ref.generate(x, transformers.GenerationConfig(**fields), attention_mask=mask)
    for config in (transformers.GenerationConfig(**fields), GenerationConfig(**fields), dict(fields)):
        assert torch.equal(model.generate(x, config, attention_mask=mask), theirs)
        streamed = torch.stack(list(model.stream_generate(x, config, attention_mask=mask)), 1)
        assert torch.equal(streamed, theirs[:, x.shape[1]:])
    assert torch.equal(model.generate(x, mask, **fields), theirs)
    assert torch.equal(torch.stack(list(model.stream_generate(x, mask, **fields)), 1), theirs[:, x.shape[1]:])
    with pytest.raises(TypeError, match="two attention masks"):
        model.generate(x, mask, attention_mask=mask, **fields)


def test_our_generation_config_reads_every_field_as_transformers():
    """Every field of transformers' GenerationConfig reads as its default there (None: not set) from ours too, the
    options we do not implement included; a name that is no field is an AttributeError in both."""
    import transformers

    from transformers_fast.generation import DEFAULTS, IGNORED_CONFIG_FIELDS, UNIMPLEMENTED

    ours, theirs = GenerationConfig(), transformers.GenerationConfig()
    names = [n for n in sorted(set(DEFAULTS) | UNIMPLEMENTED | IGNORED_CONFIG_FIELDS) if hasattr(theirs, n)]
    assert len(names) > 60 and set(theirs.to_dict()) <= set(names)
    for name in names:
        if name != "transformers_version":  # (transformers' own version; none here)
            assert getattr(ours, name) == getattr(theirs, name), name
    assert GenerationConfig(penalty_alpha=0.5).penalty_alpha == 0.5
    for config in (ours, theirs):
        with pytest.raises(AttributeError):
            config.no_such_field


@pytest.mark.parametrize("family", FAMILIES)
def test_folder_generation_config_equals_transformers(family, tmp_path):
    import transformers

    folder_options = dict(max_new_tokens=11, repetition_penalty=1.3, no_repeat_ngram_size=2, pad_token_id=0)
    model, ref = pair(family, tmp_path / "saved", **folder_options)
    reloaded = getattr(transformers, HF_CLASSES[family][2]).from_pretrained(tmp_path / "saved")
    x, mask = padded_prompts()
    theirs = reloaded.generate(x, attention_mask=mask)
    assert theirs.shape[1] == x.shape[1] + 11
    assert torch.equal(model.generate(x, attention_mask=mask), theirs)
    assert model.generation_config.max_new_tokens == 11
    # generate's arguments and its generation_config win over the folder's, as in transformers
    assert torch.equal(model.generate(x, attention_mask=mask, max_new_tokens=4),
                       reloaded.generate(x, attention_mask=mask, max_new_tokens=4))
    override = transformers.GenerationConfig(no_repeat_ngram_size=3)
    assert torch.equal(model.generate(x, attention_mask=mask, generation_config=override),
                       reloaded.generate(x, attention_mask=mask, generation_config=override))
    # transformers' own model generation_config as the argument (its output_* fields change no token)
    assert torch.equal(model.generate(x, attention_mask=mask, generation_config=reloaded.generation_config), theirs)
    # saved back by us, read by transformers
    model.generation_config.max_new_tokens = 6
    model.save_pretrained(tmp_path / "ours")
    again = getattr(transformers, HF_CLASSES[family][2]).from_pretrained(tmp_path / "ours")
    assert torch.equal(again.generate(x, attention_mask=mask), model.generate(x, attention_mask=mask))
    assert again.generation_config.max_new_tokens == 6


def test_folder_generation_config_older_files_and_unimplemented_options(tmp_path):
    import json

    model, _ = pair("gpt2", tmp_path)
    x, mask = padded_prompts()
    expected = model.generate(x, attention_mask=mask, max_new_tokens=7, repetition_penalty=1.2, pad_token_id=0)
    # transformers before 5 wrote every field, those it does not use at their neutral values
    full = dict(max_new_tokens=7, repetition_penalty=1.2, pad_token_id=0, typical_p=1.0, num_beam_groups=1,
                diversity_penalty=0.0, output_attentions=False, renormalize_logits=False, num_assistant_tokens=5,
                num_assistant_tokens_schedule="heuristic", forced_eos_token_id=None, transformers_version="4.40.0")
    (tmp_path / "generation_config.json").write_text(json.dumps(full))
    from transformers_fast import GPT2LMHeadModel

    assert torch.equal(GPT2LMHeadModel.from_pretrained(tmp_path).generate(x, attention_mask=mask), expected)
    full["guidance_scale"] = 1.5  # an option we would silently ignore: generate refuses, naming it and the file
    (tmp_path / "generation_config.json").write_text(json.dumps(full))
    model = GPT2LMHeadModel.from_pretrained(tmp_path)
    with pytest.raises(ValueError, match="generation_config.json.*guidance_scale"):
        model.generate(x, attention_mask=mask)
    model.generation_config.guidance_scale = None
    assert torch.equal(model.generate(x, attention_mask=mask), expected)
    (tmp_path / "generation_config.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="JSON object"):
        GPT2LMHeadModel.from_pretrained(tmp_path)
    with pytest.raises(TypeError, match="generation_config"):
        model.generation_config = "greedy"


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("saved", [dict(max_new_tokens=7, no_repeat_ngram_size=1, repetition_penalty=1.3),
                                   dict(num_beams=3, length_penalty=0.5, max_length=14)])
def test_generation_config_json_of_a_transformers_folder(family, saved, tmp_path):
    # transformers' save_pretrained writes model.generation_config beside config.json and its generate reads it back
    _, ref = pair(family, tmp_path / "first")
    for name, value in saved.items():
        setattr(ref.generation_config, name, value)
    ref.save_pretrained(tmp_path / "saved")
    ref = type(ref).from_pretrained(tmp_path / "saved")
    model = LM[family].from_pretrained(tmp_path / "saved")
    x, mask = padded_prompts()
    theirs = ref.generate(x, attention_mask=mask, pad_token_id=0)
    assert torch.equal(model.generate(x, attention_mask=mask, pad_token_id=0), theirs)
    assert torch.equal(model.generate(x, attention_mask=mask, pad_token_id=0, max_new_tokens=3),
                       ref.generate(x, attention_mask=mask, pad_token_id=0, max_new_tokens=3))
    model.save_pretrained(tmp_path / "again")  # and ours keeps it
    again = LM[family].from_pretrained(tmp_path / "again")
    assert torch.equal(again.generate(x, attention_mask=mask, pad_token_id=0), theirs)
    ref.generation_config.guidance_scale = 1.5
    ref.save_pretrained(tmp_path / "guidance")
    with pytest.raises(ValueError, match="guidance_scale"):  # an option of the file we would silently ignore
        LM[family].from_pretrained(tmp_path / "guidance").generate(x, attention_mask=mask)


def test_generation_config_bad_input(tmp_path):
    import transformers

    model, _ = pair("gpt2", tmp_path)
    x = torch.tensor([[3, 4]])
    with pytest.raises(TypeError, match="unexpected"):
        model.generate(x, generation_config=transformers.GenerationConfig(), no_such_option=1)
    with pytest.raises(TypeError, match="no_such_option"):
        model.generate(x, generation_config={"no_such_option": 1})
    with pytest.raises(TypeError, match="generation_config"):
        model.generate(x, generation_config="greedy")
    with pytest.raises(ValueError, match="penalty_alpha"):  # a transformers option we would silently ignore
        model.generate(x, generation_config=transformers.GenerationConfig(top_k=4, penalty_alpha=0.6))
    with pytest.raises(TypeError, match="output_scores"):
        next(model.stream_generate(x, output_scores=True))


@pytest.mark.parametrize("options, match", [
    (dict(repetition_penalty=0), "repetition_penalty"), (dict(repetition_penalty=-1.5), "repetition_penalty"),
    (dict(repetition_penalty="2"), "repetition_penalty"), (dict(no_repeat_ngram_size=-1), "no_repeat_ngram_size"),
    (dict(no_repeat_ngram_size=1.5), "no_repeat_ngram_size"), (dict(min_new_tokens=-1), "min_new_tokens"),
    (dict(min_length=2.0), "min_length"), (dict(bad_words_ids=[]), "bad_words_ids"),
    (dict(bad_words_ids=[3]), "bad_words_ids"), (dict(bad_words_ids=[[]]), "bad_words_ids"),
    (dict(bad_words_ids=[[-1]]), "bad_words_ids"), (dict(bad_words_ids=[[99]]), "bad_words_ids"),
])
def test_bad_option_values(options, match, tmp_path):
    model, _ = pair("gpt2", tmp_path)
    with pytest.raises(ValueError, match=match):
        model.generate(torch.tensor([[3, 4]]), max_new_tokens=2, **options)


def beam_options(free, width):
    """Beam search settings; the eos tokens are ones the model writes (from its greedy ids `free`), so that some
    beams end early."""
    k, eos = first_new_token_no_row_had(free, width)
    common = [int(free[1, width + 2]), int(free[2, width + 4])]
    return [dict(num_beams=3, eos_token_id=None),
            dict(num_beams=4, num_return_sequences=2, length_penalty=0.5, eos_token_id=None),
            dict(num_beams=3, eos_token_id=eos, early_stopping=True),
            dict(num_beams=3, eos_token_id=[eos] + common, length_penalty=2.0, early_stopping="never"),
            dict(num_beams=3, eos_token_id=common, length_penalty=-1.0, num_return_sequences=3),
            dict(num_beams=2, eos_token_id=eos, repetition_penalty=1.3, no_repeat_ngram_size=2, min_new_tokens=3)]


@pytest.mark.parametrize("family", FAMILIES)
def test_beam_search_equals_transformers(family, tmp_path):
    model, ref = pair(family, tmp_path)
    x, mask = padded_prompts()
    width = x.shape[1]
    free = plain_greedy(model, x, mask)
    lengths = set()
    for options in beam_options(free, width):
        ours, theirs = both(model, ref, x, mask, **options)
        assert ours.shape == theirs.shape and torch.equal(ours, theirs), options
        lengths.add(ours.shape[1])
    assert len(lengths) > 1  # some settings ended before max_new_tokens
    beams = model.generate(x, attention_mask=mask, max_new_tokens=NEW, eos_token_id=None, num_beams=3)
    assert not torch.equal(beams, free)


@pytest.mark.parametrize("family", FAMILIES)
def test_beam_sampling_equals_transformers(family, tmp_path):
    """do_sample with num_beams: the continuations drawn from the global generator, seeded alike."""
    model, ref = pair(family, tmp_path)
    x, mask = padded_prompts()
    free = plain_greedy(model, x, mask)
    _, eos = first_new_token_no_row_had(free, x.shape[1])
    draws = []
    for seed, options in enumerate([dict(num_beams=3, eos_token_id=None, top_k=20, temperature=1.5),
                                    dict(num_beams=4, num_return_sequences=2, eos_token_id=eos, top_p=0.9),
                                    dict(num_beams=2, eos_token_id=eos, repetition_penalty=1.3, min_new_tokens=2)]):
        options.update(do_sample=True, max_new_tokens=NEW, pad_token_id=0)
        torch.manual_seed(seed)
        theirs = ref.generate(x, attention_mask=mask, **options)
        torch.manual_seed(seed)
        ours = model.generate(x, attention_mask=mask, **options)
        assert ours.shape == theirs.shape and torch.equal(ours, theirs), options
        draws.append(model.generate(x, attention_mask=mask, generator=torch.Generator().manual_seed(seed), **options))
        again = model.generate(x, attention_mask=mask, generator=torch.Generator().manual_seed(seed), **options)
        assert torch.equal(again, draws[-1])  # a generator makes it reproducible
    beams = model.generate(x, attention_mask=mask, max_new_tokens=NEW, eos_token_id=None, num_beams=3, top_k=20,
                           temperature=1.5)
    assert not torch.equal(draws[0], beams)  # sampling changed the beams


def test_beam_search_return_dict_equals_transformers(tmp_path):
    model, ref = pair("gpt2", tmp_path)
    x, mask = padded_prompts()
    free = plain_greedy(model, x, mask)
    _, eos = first_new_token_no_row_had(free, x.shape[1])
    options = dict(num_beams=3, num_return_sequences=2, eos_token_id=eos, max_new_tokens=10,
                   return_dict_in_generate=True, output_scores=True, output_logits=True)
    ours, theirs = both(model, ref, x, mask, **options)
    assert type(ours).__name__ == "GenerateBeamDecoderOnlyOutput"
    assert list(ours.keys()) == list(theirs.keys()) == ["sequences", "sequences_scores", "scores", "logits", "beam_indices",
                                                  "cache"]
    assert torch.equal(ours.sequences, theirs.sequences) and torch.equal(ours["beam_indices"], theirs.beam_indices)
    torch.testing.assert_close(ours.sequences_scores, theirs.sequences_scores, atol=1e-4, rtol=1e-4)
    assert len(ours.scores) == len(theirs.scores) and len(ours.logits) == len(theirs.logits)
    for a, b in zip(ours.scores + ours.logits, theirs.scores + theirs.logits):
        assert a.shape == b.shape == (9, 99) and torch.equal(a.isinf(), b.isinf())
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_beam_search_on_the_one_call_decode_step(tmp_path, monkeypatch):
    """The C++ decode step writes the cache in place: the reordered rows must be the ones it reads."""
    from transformers_fast.ops import packed_linear

    monkeypatch.setenv(packed_linear.ENV, "panel")
    monkeypatch.setattr(packed_linear, "_forced", packed_linear._UNREAD)
    model, ref = pair("gpt2", tmp_path)
    x, mask = padded_prompts()
    ours, theirs = both(model, ref, x, mask, num_beams=4, num_return_sequences=2, eos_token_id=None)
    assert torch.equal(ours, theirs)


def test_beam_search_real_vocabulary_padded_batch(gpt2_real_vocab):
    tokenizer, ref, model = gpt2_real_vocab
    enc = tokenizer(PROMPTS, return_tensors="pt", padding=True)
    options = dict(max_new_tokens=24, num_beams=4, num_return_sequences=2, length_penalty=0.8, no_repeat_ngram_size=3,
                   pad_token_id=tokenizer.eos_token_id)
    theirs = ref.generate(**enc, do_sample=False, **options)
    ours = model.generate(**enc, **options)
    assert torch.equal(ours, theirs)


@pytest.mark.parametrize("options, error, match", [
    (dict(num_beams=0), ValueError, "num_beams must be a positive integer"),
    (dict(num_beams=2, num_return_sequences=3), ValueError, "at most"),
    (dict(num_beams=2, do_sample=True, temperature=0), ValueError, "temperature"),
    (dict(num_beams=2, do_sample=True, top_p=1.5), ValueError, "top_p"),
    (dict(num_beams=2, early_stopping="sometimes"), ValueError, "early_stopping"),
    (dict(num_beams=2, length_penalty="long"), ValueError, "length_penalty"),
    (dict(num_beams=2, streamer=print), ValueError, "streamer"),
])
def test_beam_search_bad_input(options, error, match, tmp_path):
    model, _ = pair("gpt2", tmp_path)
    with pytest.raises(error, match=match):
        model.generate(torch.tensor([[3, 4]]), max_new_tokens=2, **options)
    if "streamer" not in options:
        return
    with pytest.raises(ValueError, match="beam search"):
        next(model.stream_generate(torch.tensor([[3, 4]]), num_beams=2))


def test_beam_search_with_an_int8_kv_cache_follows_its_beams(tmp_path):
    """An int8 cache reorders its scales with its rows: the beams equal those of the same int8 model with a
    float cache."""
    import copy

    import transformers_fast as tf

    model, _ = pair("gpt2", tmp_path)
    x, mask = padded_prompts()
    int8_cache = tf.quantize(copy.deepcopy(model), "int8")
    float_cache = tf.quantize(copy.deepcopy(model), "int8", kv_cache="float")
    assert int8_cache.fast.new_cache(1, 4).scales is not None
    options = dict(attention_mask=mask, max_new_tokens=12, num_beams=3, eos_token_id=None, pad_token_id=0)
    assert torch.equal(int8_cache.generate(x, **options), float_cache.generate(x, **options))


def test_transfo_xl_takes_the_processors_and_refuses_beams(tmp_path):
    """Transformer-XL's generate applies the same processors to its log-probabilities (each step's scores are
    transformers' processors on its raw ones, and the greedy token their argmax); its memory cannot follow beams."""
    from transformers.generation.logits_process import (LogitsProcessorList, NoRepeatNGramLogitsProcessor,
                                                        RepetitionPenaltyLogitsProcessor)

    import transformers_fast as tf
    from test_modeling_transfo_xl import pt_transfo_xl, segments

    pt_transfo_xl("div_val2").save_pretrained(str(tmp_path))
    model = tf.TransfoXLLMHeadModel.from_pretrained(str(tmp_path))
    prompt = segments(2, seq=4, n=1)[0]
    out = model.generate(prompt, max_new_tokens=10, repetition_penalty=1.5, no_repeat_ngram_size=2,
                         return_dict_in_generate=True, output_scores=True, output_logits=True)
    processors = LogitsProcessorList([RepetitionPenaltyLogitsProcessor(1.5), NoRepeatNGramLogitsProcessor(2)])
    for step, (scores, logits) in enumerate(zip(out.scores, out.logits)):
        assert torch.equal(scores, processors(out.sequences[:, :4 + step], logits.clone()))
        assert torch.equal(out.sequences[:, 4 + step], scores.argmax(-1))
    plain = model.generate(prompt, max_new_tokens=10)
    assert not torch.equal(plain, out.sequences)
    with pytest.raises(ValueError, match="beam search is not supported for TransfoXLLMHeadModel"):
        model.generate(prompt, max_new_tokens=3, num_beams=2)


def test_can_generate_as_transformers_where_we_generate():
    import transformers

    import transformers_fast as tf

    generating = {"GPT2LMHeadModel", "OpenAIGPTLMHeadModel", "TransfoXLLMHeadModel", "XLMWithLMHeadModel",
                  "XLNetLMHeadModel"}
    for name in dir(tf):
        cls = getattr(tf, name)
        if not (isinstance(cls, type) and issubclass(cls, tf.PreTrainedModel)) or cls is tf.PreTrainedModel:
            continue
        assert cls.can_generate() is (name in generating), name
        reference = getattr(transformers, name, None)
        if name in generating and reference is not None:
            assert reference.can_generate()
        if reference is not None and not reference.can_generate():
            assert not cls.can_generate(), name


@pytest.mark.filterwarnings("ignore:Passing `repetition_penalty` with `inputs_embeds`:UserWarning")
@pytest.mark.parametrize("options", [dict(), dict(repetition_penalty=1.5, min_new_tokens=3),
                                     dict(do_sample=True, num_return_sequences=2), dict(num_beams=3),
                                     dict(return_dict_in_generate=True, output_scores=True)],
                         ids=["greedy", "processors", "sampling", "beams", "scores"])
def test_inputs_embeds_equal_transformers(options, tmp_path):
    """GPT-2 generate from the prompt's embeddings (inputs_embeds): the sequences hold the new tokens only (with
    input_ids too, those first), max_length counts the embeddings, as transformers."""
    model, ref = pair("gpt2", tmp_path)
    x, mask = padded_prompts()
    embeds = ref.get_input_embeddings()(x).detach()
    for given in (dict(max_new_tokens=9), dict(max_length=17), dict(input_ids=x, max_new_tokens=9)):
        torch.manual_seed(0)
        theirs = ref.generate(inputs_embeds=embeds, attention_mask=mask, pad_token_id=0, eos_token_id=None,
                              **{"do_sample": False, **given, **options})
        torch.manual_seed(0)
        ours = model.generate(inputs_embeds=embeds, attention_mask=mask, eos_token_id=None, **given, **options)
        if options.get("return_dict_in_generate"):
            for a, b in zip(ours.scores, theirs.scores):
                torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
            assert ours.cache.get_seq_length() == theirs.cache.get_seq_length()
            ours, theirs = ours.sequences, theirs.sequences
        assert torch.equal(ours, theirs) and ours.shape[1] == 9 + ("input_ids" in given) * x.shape[1]
    torch.manual_seed(0)
    from_ids = model.generate(x, attention_mask=mask, eos_token_id=None, max_new_tokens=9, **options)
    assert torch.equal(getattr(from_ids, "sequences", from_ids)[:, x.shape[1]:], ours[:, x.shape[1]:])


@pytest.mark.filterwarnings("ignore:Passing `encoder_:UserWarning")
def test_inputs_embeds_min_length_and_encoder_options_as_transformers(tmp_path):
    """Beside embeddings only, min_length counts them (as max_length); beside input_ids and embeddings,
    transformers ignores the encoder options (its encoder input is then the embeddings)."""
    model, ref = pair("gpt2", tmp_path)
    x, mask = padded_prompts()
    embeds = ref.get_input_embeddings()(x).detach()
    free = ref.generate(inputs_embeds=embeds, attention_mask=mask, pad_token_id=0, eos_token_id=None,
                        max_new_tokens=9, do_sample=False)
    eos = int(free[0, 1])  # (written early: min_length has something to hold back)
    cases = [dict(min_length=m) for m in (0, 3, x.shape[1] + 3, x.shape[1] + 20)]
    cases += [dict(input_ids=x, min_length=x.shape[1] + 4), dict(input_ids=x, encoder_repetition_penalty=3.0),
              dict(input_ids=x, encoder_no_repeat_ngram_size=1)]
    for options in cases:
        theirs = ref.generate(inputs_embeds=embeds, attention_mask=mask, pad_token_id=0, eos_token_id=eos,
                              max_new_tokens=9, do_sample=False, **options)
        ours = model.generate(inputs_embeds=embeds, attention_mask=mask, pad_token_id=0, eos_token_id=eos,
                              max_new_tokens=9, **options)
        assert torch.equal(ours, theirs), options


@pytest.mark.parametrize("family", FAMILIES)
def test_inputs_embeds_continue_as_their_tokens(family, tmp_path):
    """OpenAI GPT too (transformers refuses it): the embeddings of the prompt's tokens continue as the tokens."""
    model, _ = pair(family, tmp_path)
    x, mask = padded_prompts()
    embeds = model.get_input_embeddings()(x).detach()
    ours = model.generate(inputs_embeds=embeds, attention_mask=mask, eos_token_id=None, max_new_tokens=6)
    assert torch.equal(ours, model.generate(x, attention_mask=mask, eos_token_id=None, max_new_tokens=6)[:, 8:])
    streamed = model.stream_generate(inputs_embeds=embeds, attention_mask=mask, eos_token_id=None, max_new_tokens=6)
    assert torch.equal(torch.stack(list(streamed), 1), ours)


def test_inputs_embeds_bad_input(tmp_path):
    model, _ = pair("gpt2", tmp_path)
    x, mask = padded_prompts()
    embeds = model.get_input_embeddings()(x).detach()
    for bad, error, match in ((dict(inputs_embeds=embeds[0]), ValueError, r"\[batch, sequence, 32\]"),
                              (dict(inputs_embeds=embeds[..., :5]), ValueError, r"\[batch, sequence, 32\]"),
                              (dict(inputs_embeds=x), TypeError, "floating"),
                              (dict(inputs_embeds=embeds, input_ids=x[:, 1:]), ValueError, "input_ids.*same"),
                              (dict(inputs_embeds=embeds, past_key_values=[]), ValueError, "past_key_values"),
                              (dict(inputs_embeds=embeds, return_dict_in_generate=True, output_hidden_states=True),
                               ValueError, "output_hidden_states")):
        with pytest.raises(error, match=match):
            model.generate(max_new_tokens=3, **bad)


@pytest.mark.parametrize("family", FAMILIES)
def test_min_new_tokens_given_decides_over_min_length(family, tmp_path):
    """transformers: min_new_tokens, when set (0 included, by the call or a generation config), replaces
    min_length with the prompt length plus it."""
    model, ref = pair(family, tmp_path)
    x, mask = padded_prompts()
    width = x.shape[1]
    k, eos = first_new_token_no_row_had(plain_greedy(model, x, mask), width)
    late = k - width + 4
    for options in (dict(min_length=width + late, min_new_tokens=1), dict(min_length=width + late, min_new_tokens=0),
                    dict(min_length=width + late)):
        ours, theirs = both(model, ref, x, mask, eos_token_id=eos, **options)
        assert torch.equal(ours, theirs), options
    assert both(model, ref, x, mask, eos_token_id=eos, min_new_tokens=0)[0][0, k] == eos
    config = dict(min_length=width + late)
    assert torch.equal(model.generate(x, attention_mask=mask, pad_token_id=0, eos_token_id=eos, max_new_tokens=NEW,
                                      generation_config=config, min_new_tokens=0),
                       both(model, ref, x, mask, eos_token_id=eos)[1])


@pytest.mark.parametrize("family", FAMILIES)
def test_default_length_stops_at_the_position_table(family, tmp_path):
    """No max_length nor max_new_tokens: 20 new tokens, the whole no longer than the model's positions, as
    transformers (a prompt 10 short of them gets 10)."""
    model, ref = pair(family, tmp_path)
    positions = model.config.n_positions
    x = ids(batch=1, seq=positions - 10)
    ours = model.generate(x, eos_token_id=None)
    assert ours.shape[1] == positions and torch.equal(ours, ref.generate(x, eos_token_id=None, do_sample=False))
    assert model.generate(x[:, :5], eos_token_id=None).shape[1] == 5 + 20


def test_none_given_turns_an_option_off_over_the_generation_config(tmp_path):
    """transformers updates its generation config with the call's arguments: None given is the option's default
    (do_sample off, no top_p, no penalty, the default length), not the folder's generation_config.json value."""
    folder_options = dict(do_sample=True, top_p=0.5, repetition_penalty=1.5, no_repeat_ngram_size=1, max_new_tokens=6,
                          temperature=0.7)
    model, ref = pair("gpt2", tmp_path, **folder_options)
    x = ids(batch=2, seq=5).clamp(min=1)  # (no pad id 0 in the prompts)
    for options in (dict(do_sample=None), dict(top_p=None), dict(repetition_penalty=None),
                    dict(no_repeat_ngram_size=None), dict(max_new_tokens=None), dict(temperature=None)):
        torch.manual_seed(4)
        ours = model.generate(x, pad_token_id=0, **options)
        torch.manual_seed(4)
        theirs = ref.generate(x, pad_token_id=0, **options)
        assert torch.equal(ours, theirs), options
    assert model.generate(x, pad_token_id=0, do_sample=False, max_new_tokens=None).shape[1] == 5 + 20


@pytest.mark.parametrize("family", FAMILIES)
def test_folder_saved_by_1_2_0_has_no_eos_token_for_generate(family, tmp_path):
    """A 1.2.0 config.json names no eos_token_id: transformers' generation config of such a folder (no
    generation_config.json) has none, so generation runs to its length, as here; the token ids a config.json does
    name are its generation config's, and a model built in code reads its config's."""
    import transformers

    from gpt_helpers import pt_gpt

    pt_gpt(family, HF_CLASSES[family][2]).save_pretrained(str(tmp_path))
    ours = LM[family].from_pretrained(tmp_path)
    theirs = getattr(transformers, HF_CLASSES[family][2]).from_pretrained(tmp_path)
    x = ids(batch=1, seq=4)
    free = ours.generate(x, max_new_tokens=8, eos_token_id=None)
    stop = int(free[0, 6])  # row 0's third new token, taken as the config's eos below
    for model in (ours, theirs):
        model.config.eos_token_id = stop
    assert torch.equal(ours.generate(x, max_new_tokens=8), theirs.generate(x, max_new_tokens=8, do_sample=False))
    assert torch.equal(ours.generate(x, max_new_tokens=8), free)  # runs past the token
    ours.save_pretrained(tmp_path / "again")
    assert not (tmp_path / "again" / "generation_config.json").exists()
    assert LM[family](ours.config)._config_token("eos_token_id") == stop  # built in code: the config's eos counts
