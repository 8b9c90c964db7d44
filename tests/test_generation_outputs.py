"""What generate returns and hands on besides the tokens, against transformers 5.25's generate on the same weights:
output_attentions / output_hidden_states with return_dict_in_generate (greedy, sampling, beam search, left-padded
batches) and the scores custom stopping criteria receive."""
from __future__ import annotations

import pytest
import torch

from gpt_helpers import FAMILIES
from test_generation_options import first_new_token_no_row_had, padded_prompts, pair, plain_greedy

STEP_OUTPUTS = ("attentions", "hidden_states")


def generate_both(model, ref, x, mask, ours=None, theirs=None, **options):
    """(ours, transformers') generate for the same prompts and options (plus `ours` / `theirs` to one of them), the
    global generator seeded alike."""
    options = dict(dict(max_new_tokens=6, pad_token_id=0, do_sample=False), **options)
    torch.manual_seed(0)
    their_output = ref.generate(x, attention_mask=mask, **options, **(theirs or {}))
    torch.manual_seed(0)
    return model.generate(x, attention_mask=mask, **options, **(ours or {})), their_output


def assert_step_outputs_equal(ours, theirs, family):
    assert list(ours.keys()) == list(theirs.keys())
    assert torch.equal(ours.sequences, theirs.sequences)
    for name in STEP_OUTPUTS:
        mine, their = getattr(ours, name), getattr(theirs, name)
        if their is None:
            assert mine is None
            continue
        assert isinstance(mine, tuple) and len(mine) == len(their)
        for step, (a, b) in enumerate(zip(mine, their)):
            assert isinstance(a, tuple) and len(a) == len(b)
            for layer, (t, u) in enumerate(zip(a, b)):
                assert t.shape == u.shape, (name, step, layer)
                torch.testing.assert_close(t, u, atol=1e-4, rtol=1e-4, msg=f"{name}, step {step}, layer {layer}")


MODES = {"greedy": dict(), "sampling": dict(do_sample=True, num_return_sequences=2, top_k=20),
         "beams": dict(num_beams=3, num_return_sequences=2), "beam-sampling": dict(num_beams=2, do_sample=True),
         "no-cache": dict(use_cache=False)}


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("mode", list(MODES))
def test_attentions_and_hidden_states_equal_transformers(family, mode, tmp_path):
    """Per step a tuple per layer, the prompt's (padding included) first, then the new token's over the cache
    (GPT-2) or the whole sequence again (OpenAI GPT, use_cache=False); the beams' rows with num_beams."""
    model, ref = pair(family, tmp_path)
    x, mask = padded_prompts()
    free = plain_greedy(model, x, mask)
    _, eos = first_new_token_no_row_had(free, x.shape[1])
    for options in (dict(output_attentions=True, output_hidden_states=True, output_scores=True, eos_token_id=None),
                    dict(output_hidden_states=True, eos_token_id=eos, max_new_tokens=12)):
        ours, theirs = generate_both(model, ref, x, mask, return_dict_in_generate=True, **MODES[mode], **options)
        assert_step_outputs_equal(ours, theirs, family)
        if "output_scores" in options:
            assert len(ours.attentions) == len(ours.scores)
    if family == "gpt2" and mode != "no-cache":  # the cache that ran the steps is returned, as transformers'
        assert ours.cache.get_seq_length() == theirs.cache.get_seq_length()
        for a, b in zip(ours.cache.layers, theirs.cache.layers):
            torch.testing.assert_close(a.keys, b.keys, atol=1e-4, rtol=1e-4)
            torch.testing.assert_close(a.values, b.values, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("family", FAMILIES)
def test_step_outputs_with_padding_inside_the_prompts(family, tmp_path):
    """A 0 inside a row of attention_mask: the padding's position is 0, as transformers gives it (what the
    attentions and hidden states at that position show)."""
    model, ref = pair(family, tmp_path)
    x, mask = padded_prompts()
    mask = mask.clone()
    mask[0, 3] = mask[1, 5] = 0
    ours, theirs = generate_both(model, ref, x, mask, return_dict_in_generate=True, output_attentions=True,
                                 output_hidden_states=True, eos_token_id=None)
    assert_step_outputs_equal(ours, theirs, family)


def test_step_outputs_need_return_dict_and_the_fused_decoder_runs_without_them(tmp_path, monkeypatch):
    """Without return_dict_in_generate the options return nothing more, as transformers; without them generate
    never calls the model's forward (the fused decoder runs). A generation_config may ask for them."""
    import transformers

    model, ref = pair("gpt2", tmp_path)
    x, mask = padded_prompts()
    ours, theirs = generate_both(model, ref, x, mask, output_attentions=True, output_hidden_states=True)
    assert isinstance(ours, torch.Tensor) and torch.equal(ours, theirs)
    config = transformers.GenerationConfig(return_dict_in_generate=True, output_hidden_states=True, max_new_tokens=3)
    assert_step_outputs_equal(*generate_both(model, ref, x, mask, generation_config=config), "gpt2")
    monkeypatch.setattr(type(model), "forward", lambda *a, **k: pytest.fail("the model's forward ran"))
    out = model.generate(x, attention_mask=mask, max_new_tokens=4, return_dict_in_generate=True, output_scores=True,
                         output_attentions=False)
    assert out.attentions is None and out.hidden_states is None and "attentions" not in out.keys()


def test_step_outputs_bad_input(tmp_path):
    import transformers_fast as tf
    from test_modeling_transfo_xl import pt_transfo_xl, segments

    model, _ = pair("gpt2", tmp_path / "gpt2")
    with pytest.raises(TypeError, match="output_attentions"):
        next(model.stream_generate(torch.tensor([[3, 4]]), output_attentions=True))
    pt_transfo_xl("div_val2").save_pretrained(str(tmp_path))
    xl = tf.TransfoXLLMHeadModel.from_pretrained(str(tmp_path))
    prompt = segments(2, seq=4, n=1)[0]
    with pytest.raises(ValueError, match="output_hidden_states is not supported by TransfoXLLMHeadModel"):
        xl.generate(prompt, max_new_tokens=3, return_dict_in_generate=True, output_hidden_states=True)


class EndsOnScores:
    """A stopping criterion of the user's that reads the scores it is given: every row ends once they cover
    `steps` steps (never while it is given None); it records what it was given at each call."""

    def __init__(self, steps):
        self.steps, self.seen = steps, []

    def __call__(self, input_ids, scores, **kwargs):
        self.seen.append(None if scores is None else tuple(s.clone() for s in scores))
        return torch.full((input_ids.shape[0],), scores is not None and len(scores) >= self.steps)


@pytest.mark.parametrize("mode", ["greedy", "sampling", "beams"])
def test_stopping_criteria_receive_the_scores_as_transformers(mode, tmp_path):
    """transformers passes its criteria the tuple of every step's processed scores so far when it keeps them
    (return_dict_in_generate with output_scores), else None."""
    model, ref = pair("gpt2", tmp_path)
    x, mask = padded_prompts()
    for returned in (dict(return_dict_in_generate=True, output_scores=True), dict(return_dict_in_generate=True),
                     dict(output_scores=True)):
        mine, their = EndsOnScores(3), EndsOnScores(3)
        ours, theirs = generate_both(model, ref, x, mask, dict(stopping_criteria=[mine]),
                                     dict(stopping_criteria=[their]), eos_token_id=None, repetition_penalty=1.3,
                                     **MODES[mode], **returned)
        ours, theirs = (getattr(out, "sequences", out) for out in (ours, theirs))
        assert torch.equal(ours, theirs), returned
        assert len(mine.seen) == len(their.seen)
        for a, b in zip(mine.seen, their.seen):
            assert (a is None) == (b is None) and (a is None or len(a) == len(b))
            for s, t in zip(a or (), b or ()):
                assert torch.equal(s.isinf(), t.isinf())
                torch.testing.assert_close(s, t, atol=1e-4, rtol=1e-4)
        assert ours.shape[1] == x.shape[1] + (3 if returned.get("output_scores") and len(returned) == 2 else 6)


@pytest.mark.parametrize("mode", ["greedy", "sampling", "beams", "beam-sampling"])
def test_transition_scores_equal_transformers(mode, tmp_path):
    """compute_transition_scores: each new token's score from generate's scores (and beam_indices), 0 after a
    beam's end, raw or log-softmaxed (normalize_logits)."""
    model, ref = pair("gpt2", tmp_path)
    x, mask = padded_prompts()
    free = plain_greedy(model, x, mask)
    _, eos = first_new_token_no_row_had(free, x.shape[1])
    ours, theirs = generate_both(model, ref, x, mask, return_dict_in_generate=True, output_scores=True,
                                 eos_token_id=eos, max_new_tokens=12, **MODES[mode])
    for normalize in (True, False):
        mine = model.compute_transition_scores(ours.sequences, ours.scores, getattr(ours, "beam_indices", None),
                                               normalize_logits=normalize)
        their = ref.compute_transition_scores(theirs.sequences, theirs.scores, getattr(theirs, "beam_indices", None),
                                              normalize_logits=normalize)
        assert mine.shape == their.shape and torch.equal(mine == 0, their == 0)
        torch.testing.assert_close(mine, their, atol=1e-4, rtol=1e-4)
    if mode == "beams":  # summed, a beam's score before the length penalty (1: divided by the new tokens)
        lengths = (ours.beam_indices >= 0).sum(-1)
        torch.testing.assert_close(mine.sum(-1) / lengths, ours.sequences_scores, atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="scores"):
        model.compute_transition_scores(ours.sequences, ())


@pytest.mark.parametrize("family", FAMILIES)
def test_without_input_ids_the_prompt_is_the_bos_token(family, tmp_path):
    """As transformers: generate() with no prompt starts one row from bos_token_id (the call's, else the model's
    generation config's)."""
    model, ref = pair(family, tmp_path, bos_token_id=5)
    for options in (dict(), dict(bos_token_id=7), dict(do_sample=True, num_return_sequences=2),
                    dict(num_beams=2, return_dict_in_generate=True, output_scores=True)):
        ours, theirs = generate_both(model, ref, None, None, eos_token_id=None, **options)
        ours, theirs = (getattr(out, "sequences", out) for out in (ours, theirs))
        assert torch.equal(ours, theirs) and int(ours[0, 0]) == options.get("bos_token_id", 5)
    streamed = list(model.stream_generate(max_new_tokens=3, pad_token_id=0, eos_token_id=None))
    assert torch.equal(torch.stack(streamed, 1), model.generate(max_new_tokens=3, pad_token_id=0,
                                                                eos_token_id=None)[:, 1:])
    model.generation_config.bos_token_id = None
    model.config.bos_token_id = None
    with pytest.raises(ValueError, match="input_ids.*bos_token_id"):
        model.generate(max_new_tokens=3)
    with pytest.raises(ValueError, match="bos_token_id"):
        model.generate(max_new_tokens=3, bos_token_id=-1)


class Recorder:
    """A streamer of transformers' put()/end() protocol that keeps what it was given."""

    def __init__(self):
        self.calls = []

    def put(self, value):
        self.calls.append(value)

    def end(self):
        self.calls.append("end")


def test_streamer_receives_what_transformers_gives_it(tmp_path):
    """The prompt as decoded (one row per returned sequence, padding included), then each step's tokens."""
    model, ref = pair("gpt2", tmp_path)
    x, mask = padded_prompts()
    mine, their = Recorder(), Recorder()
    generate_both(model, ref, x, mask, dict(streamer=mine), dict(streamer=their), do_sample=True,
                  num_return_sequences=2, eos_token_id=None)
    assert len(mine.calls) == len(their.calls) == 8 and mine.calls[-1] == "end"
    for a, b in zip(mine.calls[:-1], their.calls[:-1]):
        assert a.device == b.device and torch.equal(a, b)


def test_output_reads_as_transformers_model_output(tmp_path):
    """A dict of the fields set, as transformers' ModelOutput (an OrderedDict): by attribute, name, position,
    keys / values / items / get / len / in, to_tuple, equal to the dict of transformers' output; and as it, it
    refuses pop / update / del, and a field set afterwards joins the keys."""
    model, ref = pair("gpt2", tmp_path)
    x, mask = padded_prompts()
    for options in (dict(output_scores=True), dict(num_beams=2, output_logits=True)):
        ours, theirs = generate_both(model, ref, x, mask, return_dict_in_generate=True, **options)
        assert isinstance(ours, dict) and type(ours).__name__ == type(theirs).__name__
        assert len(ours) == len(theirs) and list(ours) == list(theirs) == list(ours.keys()) == list(theirs.keys())
        assert [k for k, _ in ours.items()] == [k for k, _ in theirs.items()]
        assert all(v is getattr(ours, k) for k, v in ours.items()) and list(ours.values()) == list(ours.to_tuple())
        assert ours.get("sequences") is ours.sequences and ours.get("attentions") is theirs.get("attentions") is None
        assert ours.get("attentions", 3) == theirs.get("attentions", 3)
        assert ("logits" in ours) == ("logits" in theirs) and ours[1] is getattr(ours, list(ours.keys())[1])
        assert ours[:2] == ours.to_tuple()[:2] and len(ours.to_tuple()) == len(theirs.to_tuple())
        assert ours["cache"] is ours.cache and "past_key_values" in ours and "past_key_values" in theirs
        assert ours.get("past_key_values") is ours.cache
        assert torch.equal(dict(ours)["sequences"], dict(theirs)["sequences"])
        for refused in (lambda out: out.pop("sequences"), lambda out: out.update(a=1),
                        lambda out: out.__delitem__("sequences"), lambda out: out.setdefault("a", 1)):
            with pytest.raises(Exception):
                refused(theirs)
            with pytest.raises(Exception):
                refused(ours)
    ours, theirs = generate_both(model, ref, x, mask, return_dict_in_generate=True)
    ours.scores = theirs.scores = (torch.zeros(1),)
    assert list(ours.keys()) == list(theirs.keys()) == ["sequences", "cache", "scores"]
    assert ours["scores"] is ours.scores


def test_prompt_under_transformers_name_inputs(tmp_path):
    model, ref = pair("gpt2", tmp_path)
    x, mask = padded_prompts()
    theirs = ref.generate(inputs=x, attention_mask=mask, max_new_tokens=4, pad_token_id=0)
    assert torch.equal(model.generate(inputs=x, attention_mask=mask, max_new_tokens=4, pad_token_id=0), theirs)
    streamed = model.stream_generate(inputs=x, attention_mask=mask, max_new_tokens=4, pad_token_id=0)
    assert torch.equal(torch.stack(list(streamed), 1), theirs[:, x.shape[1]:])
    with pytest.raises(TypeError, match="input_ids and inputs"):
        model.generate(x, inputs=x, max_new_tokens=4)
