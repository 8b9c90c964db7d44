"""Differences from the references found by a differential audit (unusual configs and call options), each
checked against the reference it was found with."""
from __future__ import annotations

import pytest
import torch

import transformers_fast as tf
from modeling_helpers import compare, hf_model, inputs, pt_model


@pytest.mark.parametrize("class_name", ["BertForSequenceClassification", "BertForMaskedLM"])
def test_bert_row_without_real_tokens_equals_1_2_0(tmp_path, class_name):
    # 1.2.0's -10000 mask bias shifts every score of such a row alike: it attends over all its positions
    ref = pt_model("bert", class_name)
    ref.save_pretrained(str(tmp_path))
    ours = getattr(tf, class_name).from_pretrained(tmp_path)
    ids, mask, tt = inputs("bert", batch=3)
    mask[2] = 0
    with torch.no_grad():
        expected = ref(ids, tt, mask)
        got = ours(ids, tt, mask)
    real = mask.clone()
    real[2] = 1
    compare(tuple(got), tuple(expected), real)


def test_distilbert_row_without_real_tokens_equals_transformers(tmp_path):
    # (1.2.0 gives NaN there: its -inf fill; transformers and our reference path attend over all positions)
    ref = hf_model("distilbert", "DistilBertForSequenceClassification")
    ref.save_pretrained(tmp_path)
    ours = tf.DistilBertForSequenceClassification.from_pretrained(tmp_path)
    ids, mask, _ = inputs("distilbert", batch=3)
    mask[0] = 0
    with torch.no_grad():
        expected = ref(input_ids=ids, attention_mask=mask).logits
        got = ours(ids, attention_mask=mask)[0]
    compare(got, expected)


@pytest.mark.parametrize("family,class_name", [("bert", "BertForSequenceClassification"),
                                               ("distilbert", "DistilBertForSequenceClassification")])
@pytest.mark.parametrize("problem_type,float_labels", [(None, True), ("multi_label_classification", True),
                                                       ("regression", True), ("single_label_classification", False)])
def test_problem_type_and_multi_label_losses_equal_transformers(tmp_path, family, class_name, problem_type,
                                                                float_labels):
    ref = hf_model(family, class_name, num_labels=3, problem_type=problem_type)
    ref.save_pretrained(tmp_path)
    ours = getattr(tf, class_name).from_pretrained(tmp_path)
    ids, mask, _ = inputs(family, batch=3)
    g = torch.Generator().manual_seed(4)
    labels = (torch.rand(3, 3, generator=g) > 0.5).float() if float_labels else torch.tensor([2, 0, 1])
    with torch.no_grad():
        expected = ref(input_ids=ids, attention_mask=mask, labels=labels).loss
        got = ours(ids, attention_mask=mask, labels=labels)[0]
    compare(got, expected)
