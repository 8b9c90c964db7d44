"""prune_heads -> save_pretrained -> from_pretrained for every family and head class: the loaded model gives the
outputs of the pruned model before saving and of pytorch-transformers 1.2.0 loading the same folder (transformers
5 no longer prunes heads), on a padded batch."""
from __future__ import annotations

import pytest
import torch

import transformers_fast as tf
from gpt_helpers import ids, pt_gpt
from modeling_helpers import compare, pt_model
from test_modeling_bert_family import call, model_inputs, real_mask

HEADS = {0: [1, 3], 1: [2]}
ENCODER_CASES = [("bert", name) for name in (
    "BertModel", "BertForPreTraining", "BertForMaskedLM", "BertForNextSentencePrediction",
    "BertForSequenceClassification", "BertForMultipleChoice", "BertForTokenClassification",
    "BertForQuestionAnswering")] + [
    ("roberta", "RobertaModel"), ("roberta", "RobertaForMaskedLM"), ("roberta", "RobertaForSequenceClassification"),
    ("distilbert", "DistilBertModel"), ("distilbert", "DistilBertForMaskedLM"),
    ("distilbert", "DistilBertForSequenceClassification"), ("distilbert", "DistilBertForQuestionAnswering")]
GPT_CASES = [("openai", "OpenAIGPTModel"), ("openai", "OpenAIGPTLMHeadModel"), ("openai", "OpenAIGPTDoubleHeadsModel"),
             ("gpt2", "GPT2Model"), ("gpt2", "GPT2LMHeadModel"), ("gpt2", "GPT2DoubleHeadsModel")]


def load_1_2_0(class_name, folder):
    import pytorch_transformers as pt

    with torch.no_grad():  # 1.2.0's DistilBERT can only be built under no_grad on torch 2.x
        return getattr(pt, class_name).from_pretrained(str(folder)).eval()


def prune_save_load(class_name, ref, tmp_path):
    (tmp_path / "src").mkdir()
    ref.save_pretrained(str(tmp_path / "src"))
    ours = getattr(tf, class_name).from_pretrained(tmp_path / "src")
    ours.prune_heads(HEADS)
    ours.save_pretrained(tmp_path / "pruned")
    again = getattr(tf, class_name).from_pretrained(tmp_path / "pruned")
    assert again.config.pruned_heads == {0: [1, 3], 1: [2]}
    return ours, again, load_1_2_0(class_name, tmp_path / "pruned")


@pytest.mark.parametrize("family,class_name", ENCODER_CASES)
def test_pruned_encoder_round_trip(tmp_path, family, class_name):
    ours, again, ref = prune_save_load(class_name, pt_model(family, class_name), tmp_path)
    ids_, mask, tt = model_inputs(family, class_name, padded=True)
    with torch.no_grad():
        before = call(ours, family, ids_, mask, tt, "ours")
        after = call(again, family, ids_, mask, tt, "ours")
        expected = call(ref, family, ids_, mask, tt, "pt")
    compare(after, before, real_mask(class_name, mask))
    compare(after, expected, real_mask(class_name, mask))


def gpt_inputs(class_name):
    """A right-padded batch (1.2.0's GPT models take no attention mask: causal attention keeps the real
    positions apart from the pads after them); double heads read the last real token of each choice."""
    batch = ids()
    mask = torch.ones_like(batch)
    mask[1, 6:] = 0
    if class_name.endswith("DoubleHeadsModel"):
        choices = torch.stack([batch, (batch + 7) % 99], dim=1)  # [batch, 2 choices, seq]
        choice_mask = torch.stack([mask, mask], dim=1)
        return choices, dict(mc_token_ids=torch.tensor([[8, 8], [5, 5], [8, 8]])), choice_mask
    return batch, {}, mask


@pytest.mark.parametrize("family,class_name", GPT_CASES)
def test_pruned_gpt_round_trip(tmp_path, family, class_name):
    ours, again, ref = prune_save_load(class_name, pt_gpt(family, class_name), tmp_path)
    x, kwargs, mask = gpt_inputs(class_name)
    with torch.no_grad():
        before = ours(x, attention_mask=mask, **kwargs)
        after = again(x, attention_mask=mask, **kwargs)
        expected = ref(x, **kwargs)
    if class_name.endswith("DoubleHeadsModel"):  # lm logits [batch, choices, seq, vocab], mc logits [batch, choices]
        compare(after[0].flatten(0, 1), before[0].flatten(0, 1), mask.flatten(0, 1))
        compare(after[0].flatten(0, 1), expected[0].flatten(0, 1), mask.flatten(0, 1))
        compare(after[1], before[1])
        compare(after[1], expected[1])
    else:
        compare(after[0], before[0], mask)
        compare(after[0], expected[0], mask)
