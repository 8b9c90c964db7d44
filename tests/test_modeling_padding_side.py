"""Every head of the padding-free encoders against transformers with left- and right-padded batches: what a head
computes from real positions, or from the position the pooler reads (position 0, padding in a left-padded
row), equals the reference."""
from __future__ import annotations

import pytest
import torch

import transformers_fast as tf
from modeling_helpers import PAD, compare, hf_model, inputs

HEADS = [
    ("bert", "BertModel"), ("bert", "BertForSequenceClassification"), ("bert", "BertForMultipleChoice"),
    ("bert", "BertForQuestionAnswering"), ("bert", "BertForTokenClassification"), ("bert", "BertForMaskedLM"),
    ("bert", "BertForPreTraining"), ("bert", "BertForNextSentencePrediction"),
    ("roberta", "RobertaModel"), ("roberta", "RobertaForSequenceClassification"), ("roberta", "RobertaForMaskedLM"),
    ("distilbert", "DistilBertModel"), ("distilbert", "DistilBertForSequenceClassification"),
    ("distilbert", "DistilBertForQuestionAnswering"), ("distilbert", "DistilBertForMaskedLM"),
]


def padded_batch(family: str, side: str):
    """Four rows: full, 5 real tokens, 2 real tokens, 8 real tokens (of 9), padded on `side`."""
    ids, _, _ = inputs(family, batch=4, seq=9, padded=False)
    mask = torch.ones_like(ids)
    for row, length in enumerate((9, 5, 2, 8)):
        if side == "left":
            mask[row, :9 - length] = 0
        else:
            mask[row, length:] = 0
    ids = ids.masked_fill(mask == 0, PAD[family])
    token_types = (torch.arange(9) >= 5).long().expand(4, 9).clone() * mask if family == "bert" else None
    return ids, mask, token_types


def call(model, family, ids, mask, token_types):
    kwargs = {"attention_mask": mask}
    if family == "bert":
        kwargs["token_type_ids"] = token_types
    return model(ids, **kwargs)


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("family,class_name", HEADS)
def test_heads_match_reference_on_either_padding_side(tmp_path, family, class_name, side):
    ref = hf_model(family, class_name)
    ref.save_pretrained(tmp_path)
    ours = getattr(tf, class_name).from_pretrained(tmp_path).eval()
    ids, mask, token_types = padded_batch(family, side)
    if class_name.endswith("MultipleChoice"):  # [batch 2, choices 2, sequence]
        ids, mask, token_types = (t.view(2, 2, 9) for t in (ids, mask, token_types))
    with torch.no_grad():
        got = call(ours, family, ids, mask, token_types)
        expected = call(ref, family, ids, mask, token_types)
    base = ours if class_name.endswith("Model") else getattr(ours, family)
    assert base.fast._layers is not None  # the padding-free path ran

    if class_name.endswith("Model"):
        compare(got[0], expected.last_hidden_state, mask)  # real positions
        # position 0, what the pooler and the sequence classifiers read, even where it is padding
        compare(got[0][:, 0], expected.last_hidden_state[:, 0])
        if family != "distilbert":
            compare(got[1], expected.pooler_output)
        return
    names = {"BertForPreTraining": ("prediction_logits", "seq_relationship_logits"),
             "BertForQuestionAnswering": ("start_logits", "end_logits"),
             "DistilBertForQuestionAnswering": ("start_logits", "end_logits")}.get(class_name, ("logits",))
    for index, name in enumerate(names):
        ours_out, ref_out = got[index], getattr(expected, name)
        per_token = ref_out.dim() >= 2 and ref_out.shape[:2] == ids.shape[:2] and not class_name.endswith("Choice")
        compare(ours_out, ref_out, mask if per_token else None, path=f"{class_name}.{name}")


@pytest.mark.parametrize("family,class_name", [("bert", "BertModel"), ("distilbert", "DistilBertModel")])
def test_left_padded_hidden_states_at_position_zero(tmp_path, family, class_name):
    """Every layer's hidden state at the pooler's position equals the reference's; the other padded positions
    are zero (not computed)."""
    ref = hf_model(family, class_name)
    ref.save_pretrained(tmp_path)
    ours = getattr(tf, class_name).from_pretrained(tmp_path).eval()
    ids, mask, token_types = padded_batch(family, "left")
    kwargs = dict(attention_mask=mask, output_hidden_states=True)
    if family == "bert":
        kwargs["token_type_ids"] = token_types
    with torch.no_grad():
        got, expected = ours(ids, **kwargs), ref(ids, **kwargs)
    not_computed = mask == 0
    not_computed[:, 0] = False
    for ours_h, ref_h in zip(got.hidden_states, expected.hidden_states):
        compare(ours_h, ref_h, mask)
        compare(ours_h[:, 0], ref_h[:, 0])
        assert ours_h[not_computed].abs().max() == 0
