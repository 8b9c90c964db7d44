"""What generate hands on besides the tokens, against transformers 5.25's generate on the same weights: the scores
custom stopping criteria receive."""
from __future__ import annotations

import pytest
import torch

from test_generation_options import padded_prompts, pair

MODES = {"greedy": dict(), "sampling": dict(do_sample=True, num_return_sequences=2, top_k=20),
         "beams": dict(num_beams=3, num_return_sequences=2), "beam-sampling": dict(num_beams=2, do_sample=True),
         "no-cache": dict(use_cache=False)}


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
        options = dict(MODES[mode], eos_token_id=None, repetition_penalty=1.3, **returned)
        torch.manual_seed(0)
        ours = model.generate(x, attention_mask=mask, max_new_tokens=6, pad_token_id=0, stopping_criteria=[mine],
                              **options)
        torch.manual_seed(0)
        theirs = ref.generate(x, attention_mask=mask, max_new_tokens=6, pad_token_id=0, stopping_criteria=[their],
                              do_sample=options.pop("do_sample", False), **options)
        ours, theirs = (getattr(out, "sequences", out) for out in (ours, theirs))
        assert torch.equal(ours, theirs), returned
        assert len(mine.seen) == len(their.seen)
        for a, b in zip(mine.seen, their.seen):
            assert (a is None) == (b is None) and (a is None or len(a) == len(b))
            for s, t in zip(a or (), b or ()):
                assert torch.equal(s.isinf(), t.isinf())
                torch.testing.assert_close(s, t, atol=1e-4, rtol=1e-4)
        assert ours.shape[1] == x.shape[1] + (3 if returned.get("output_scores") and len(returned) == 2 else 6)
