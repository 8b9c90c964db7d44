"""The configs of the 18 shortcut names ship in the package and agree with the published table
(pytorch-transformers' "Pretrained models" page): layers, hidden size, heads, and the parameter count of the
model built on the meta device, which must also equal transformers' count for the same config."""
from __future__ import annotations

import pytest
import torch

import transformers_fast as tf
from transformers_fast.modeling_utils import no_weight_init

# name: (layers, hidden, heads, published parameters in millions)
PUBLISHED = {
    "bert-base-uncased": (12, 768, 12, 110),
    "bert-large-uncased": (24, 1024, 16, 340),
    "bert-base-cased": (12, 768, 12, 110),
    "bert-large-cased": (24, 1024, 16, 340),
    "bert-base-multilingual-uncased": (12, 768, 12, 110),
    "bert-base-multilingual-cased": (12, 768, 12, 110),
    "bert-base-chinese": (12, 768, 12, 110),
    "bert-base-german-cased": (12, 768, 12, 110),
    "bert-large-uncased-whole-word-masking": (24, 1024, 16, 340),
    "bert-large-cased-whole-word-masking": (24, 1024, 16, 340),
    "bert-large-uncased-whole-word-masking-finetuned-squad": (24, 1024, 16, 340),
    "bert-large-cased-whole-word-masking-finetuned-squad": (24, 1024, 16, 340),
    "bert-base-cased-finetuned-mrpc": (12, 768, 12, 110),
    "roberta-base": (12, 768, 12, 125),
    "roberta-large": (24, 1024, 16, 355),
    "roberta-large-mnli": (24, 1024, 16, 355),
    "distilbert-base-uncased": (6, 768, 12, 66),
    "distilbert-base-uncased-distilled-squad": (6, 768, 12, 66),
}
# The table gives 110M for the multilingual models too, but their 105879/119547-token vocabularies alone
# add 58M/69M parameters to the 86M of the encoder: the published figure counts the encoder of bert-base.
VOCAB_NOT_COUNTED = {"bert-base-multilingual-uncased", "bert-base-multilingual-cased"}


def family(name):
    if name.startswith("roberta"):
        return tf.RobertaConfig, tf.RobertaModel, "RobertaModel"
    if name.startswith("distilbert"):
        return tf.DistilBertConfig, tf.DistilBertModel, "DistilBertModel"
    return tf.BertConfig, tf.BertModel, "BertModel"


def test_every_shortcut_name_has_a_config():
    names = (set(tf.BERT_PRETRAINED_CONFIG_ARCHIVE_MAP) | set(tf.ROBERTA_PRETRAINED_CONFIG_ARCHIVE_MAP)
             | set(tf.DISTILBERT_PRETRAINED_CONFIG_ARCHIVE_MAP))
    assert names == set(PUBLISHED)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_shipped_config_matches_published_table(name, monkeypatch):
    import transformers

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    config_cls, model_cls, hf_name = family(name)
    config = config_cls.from_pretrained(name)
    layers, hidden, heads, millions = PUBLISHED[name]
    assert (config.num_hidden_layers, config.hidden_size, config.num_attention_heads) == (layers, hidden, heads)

    with torch.device("meta"), no_weight_init():
        ours = model_cls(config).num_parameters()
    hf_config = getattr(transformers, hf_name.replace("Model", "Config")).from_dict(config.to_dict())
    with torch.device("meta"):
        theirs = sum(p.numel() for p in getattr(transformers, hf_name)(hf_config).parameters())
    assert ours == theirs
    counted = ours
    if name in VOCAB_NOT_COUNTED:
        counted -= (config.vocab_size - 30522) * hidden
    assert abs(counted / 1e6 - millions) / millions < 0.08, f"{name}: {ours / 1e6:.1f}M vs published {millions}M"
