"""Configs take what pytorch-transformers 1.2.0's configs take when they are created and serialised; the errors
come where 1.2.0 raises them (building the model, or a first argument of the wrong type), as ValueError."""
from __future__ import annotations

import pytest
import pytorch_transformers as pt
import torch

import transformers_fast as tf

FAMILIES = {  # config class, model class, a head count field, a width field (not a multiple of 12 below)
    "bert": ("BertConfig", "BertModel", "num_attention_heads", "hidden_size"),
    "roberta": ("RobertaConfig", "RobertaModel", "num_attention_heads", "hidden_size"),
    "distilbert": ("DistilBertConfig", "DistilBertModel", "n_heads", "dim"),
    "openai": ("OpenAIGPTConfig", "OpenAIGPTModel", "n_head", "n_embd"),
    "gpt2": ("GPT2Config", "GPT2Model", "n_head", "n_embd"),
}
SMALL = {"bert": dict(num_hidden_layers=1, intermediate_size=16), "roberta": dict(num_hidden_layers=1, intermediate_size=16),
         "distilbert": dict(n_layers=1, hidden_dim=16), "openai": dict(n_layer=1), "gpt2": dict(n_layer=1)}


def _configs(family, **values):
    config_name = FAMILIES[family][0]
    return getattr(tf, config_name)(99, **SMALL[family], **values), getattr(pt, config_name)(99, **SMALL[family], **values)


@pytest.mark.parametrize("family", FAMILIES)
def test_values_1_2_0_accepts_are_accepted_and_round_trip(family, tmp_path):
    heads, width = FAMILIES[family][2:]
    odd = {width: 37, heads: 12, "initializer_range": 0.0}
    ours, ref = _configs(family, **odd)
    for key, value in odd.items():
        assert getattr(ours, key) == getattr(ref, key) == value
    ours.save_pretrained(str(tmp_path))
    again = type(ours).from_pretrained(str(tmp_path))
    assert again.to_dict() == ours.to_dict()
    assert type(ours).from_dict(ours.to_dict()).to_dict() == ours.to_dict()


@pytest.mark.parametrize("family", FAMILIES)
def test_building_a_model_raises_where_1_2_0_does(family):
    heads, width = FAMILIES[family][2:]
    model_name = FAMILIES[family][1]
    ours, ref = _configs(family, **{width: 37, heads: 12})
    with pytest.raises(Exception):  # 1.2.0 refuses the width at build time (the error class varies by family)
        with torch.no_grad():
            getattr(pt, model_name)(ref)
    with pytest.raises(ValueError, match=f"{width}.*37"):
        getattr(tf, model_name)(ours)


@pytest.mark.parametrize("family", FAMILIES)
def test_zero_initializer_range_builds_as_in_1_2_0(family):
    model_name = FAMILIES[family][1]
    ours, ref = _configs(family, initializer_range=0.0)
    with torch.no_grad():
        ref_model = getattr(pt, model_name)(ref)
    model = getattr(tf, model_name)(ours)
    for (name, p), (_, q) in zip(model.named_parameters(), ref_model.named_parameters()):
        if p.dim() == 2 and not q.any():  # 1.2.0 initialised it to zeros: so do we
            assert not p.any(), name


@pytest.mark.parametrize("family", FAMILIES)
def test_first_argument_of_another_type_is_a_value_error_as_in_1_2_0(family):
    config_name = FAMILIES[family][0]
    with pytest.raises(ValueError):
        getattr(pt, config_name)(3.5)
    with pytest.raises(ValueError, match="vocabulary size"):
        getattr(tf, config_name)(3.5)


@pytest.mark.parametrize("family", FAMILIES)
def test_negative_initializer_range_is_a_value_error_naming_it(family):
    model_name = FAMILIES[family][1]
    ours, ref = _configs(family, initializer_range=-0.02)
    with pytest.raises(RuntimeError):  # 1.2.0: torch's normal_ refuses the std, not naming the field
        with torch.no_grad():
            getattr(pt, model_name)(ref)
    with pytest.raises(ValueError, match="initializer_range"):
        getattr(tf, model_name)(ours)


def test_transfo_xl_learnable_attention_needs_shared_biases():
    """attn_type=1 reads the model's shared r_w_bias, which untie_r=True (the default) does not make: 1.2.0 builds
    the model and fails in forward with an AttributeError; we refuse the config when the model is built."""
    small = dict(cutoffs=[10], d_model=16, d_embed=16, n_head=2, d_head=8, d_inner=16, n_layer=1, attn_type=1)
    ref = pt.TransfoXLModel(pt.TransfoXLConfig(99, **small)).eval()
    with pytest.raises(AttributeError, match="r_w_bias"):
        ref(torch.tensor([[1, 2]]))
    with pytest.raises(ValueError, match="attn_type=1.*untie_r"):
        tf.TransfoXLModel(tf.TransfoXLConfig(99, **small))
    tf.TransfoXLModel(tf.TransfoXLConfig(99, untie_r=False, **small))


def test_transfo_xl_absolute_position_attention_needs_heads_as_wide_as_the_model():
    """attn_type=3 adds per-head position embeddings [n_head, d_head] to hidden states of width d_model: 1.2.0
    builds the model and fails in forward (a torch size error); we refuse the config when the model is built."""
    small = dict(cutoffs=[10], d_model=16, d_embed=16, n_head=3, d_head=4, d_inner=16, n_layer=1, attn_type=3,
                 untie_r=False)
    ref = pt.TransfoXLModel(pt.TransfoXLConfig(99, **small)).eval()
    with pytest.raises(RuntimeError, match="size"):
        ref(torch.tensor([[1, 2]]))
    with pytest.raises(ValueError, match=r"attn_type=3 .* n_head \* d_head \(3 \* 4\) must equal d_model \(16\)"):
        tf.TransfoXLModel(tf.TransfoXLConfig(99, **small))
    tf.TransfoXLModel(tf.TransfoXLConfig(99, **dict(small, n_head=4)))


@pytest.mark.parametrize("family,pad", [("bert", "0"), ("bert", 1.5), ("bert", True), ("distilbert", "0"),
                                        ("distilbert", 1.5), ("distilbert", True), ("distilbert", 99)])
def test_pad_token_id_that_is_no_row_of_the_table_is_a_value_error(family, pad):
    """The word embeddings' padding row (1.2.0 fixes it at 0; transformers reads pad_token_id): a value that is not
    an index names the field, instead of failing inside torch (BERT takes an index past its table as no padding
    row, as before)."""
    ours, _ = _configs(family, pad_token_id=pad)
    with pytest.raises(ValueError, match="pad_token_id"):
        getattr(tf, FAMILIES[family][1])(ours)


TRANSFORMERS_CONFIGS = ["BertConfig", "RobertaConfig", "DistilBertConfig", "OpenAIGPTConfig", "GPT2Config",
                        "XLNetConfig", "XLMConfig"]


@pytest.mark.parametrize("name", TRANSFORMERS_CONFIGS)
@pytest.mark.parametrize("num_labels", [2, 3])
def test_transformers_fields_read_as_transformers_gives_them(name, num_labels, tmp_path):
    """A transformers user reads fields every transformers config has (id2label, use_return_dict, eos_token_id,
    ...): a config that does not set them (1.2.0's) gives transformers' values; to_dict writes only what was set."""
    import json

    import transformers

    from transformers_fast.configuration_utils import TRANSFORMERS_FIELD_DEFAULTS

    theirs = getattr(transformers, name)(num_labels=num_labels)
    ours = getattr(tf, name)(num_labels=num_labels)
    fields = [field for field in TRANSFORMERS_FIELD_DEFAULTS if hasattr(theirs, field)]
    assert len(fields) >= 11
    for field in fields:
        assert getattr(ours, field) == getattr(theirs, field), field
    written = ours.to_dict()
    assert not {"return_dict", "use_return_dict", "problem_type", "name_or_path"} & set(written)
    (tmp_path / "config.json").write_text(json.dumps({k: v for k, v in written.items()
                                                      if k not in ("id2label", "label2id")}))
    loaded = getattr(tf, name).from_pretrained(str(tmp_path))  # (a config.json as 1.2.0 writes it)
    assert loaded.id2label == theirs.id2label and loaded.label2id == theirs.label2id
    assert (loaded.pad_token_id, loaded.eos_token_id) == (theirs.pad_token_id, theirs.eos_token_id)
    with pytest.raises(AttributeError, match="no attribute"):
        ours.not_a_field_of_any_config


def test_a_label2id_that_is_no_mapping_is_kept_as_transformers_keeps_it(tmp_path):
    import json

    import transformers

    written = transformers.BertConfig(num_labels=3).to_dict()
    written["label2id"] = ["a", "b", "c"]
    (tmp_path / "config.json").write_text(json.dumps(written))
    theirs = transformers.BertConfig.from_pretrained(str(tmp_path))
    ours = tf.BertConfig.from_pretrained(str(tmp_path))
    assert ours.label2id == theirs.label2id == ["a", "b", "c"] and ours.num_labels == theirs.num_labels == 3
