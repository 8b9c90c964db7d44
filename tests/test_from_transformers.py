"""transformers_fast.from_transformers(model): a live Hugging Face model of any supported family becomes ours,
sharing its parameters, with the same outputs on a padded batch."""
from __future__ import annotations

import pytest
import torch
import transformers

import transformers_fast as tf
from modeling_helpers import quiet_transformers, randomize_all

CASES = [
    ("BertForSequenceClassification", transformers.BertConfig, dict(vocab_size=99, hidden_size=32,
     num_hidden_layers=2, num_attention_heads=4, intermediate_size=37, num_labels=3)),
    ("RobertaForMaskedLM", transformers.RobertaConfig, dict(vocab_size=99, hidden_size=32, num_hidden_layers=2,
     num_attention_heads=4, intermediate_size=37, max_position_embeddings=40, pad_token_id=1)),
    ("DistilBertForQuestionAnswering", transformers.DistilBertConfig, dict(vocab_size=99, dim=32, n_layers=2,
     n_heads=4, hidden_dim=37)),
    ("GPT2LMHeadModel", transformers.GPT2Config, dict(vocab_size=99, n_embd=32, n_layer=2, n_head=4, n_positions=40)),
    ("OpenAIGPTLMHeadModel", transformers.OpenAIGPTConfig, dict(vocab_size=99, n_embd=32, n_layer=2, n_head=4,
     n_positions=40)),
    ("XLNetForSequenceClassification", transformers.XLNetConfig, dict(vocab_size=99, d_model=32, n_layer=2, n_head=4,
     d_inner=37, ff_activation="gelu", num_labels=2)),  # transformers' "gelu" is the erf form
    ("XLNetLMHeadModel", transformers.XLNetConfig, dict(vocab_size=99, d_model=32, n_layer=2, n_head=4, d_inner=37,
     ff_activation="gelu_new")),
    ("XLMModel", transformers.XLMConfig, dict(vocab_size=99, emb_dim=32, n_layers=2, n_heads=4, n_langs=2)),
]


@pytest.mark.parametrize("name,config_cls,kwargs", CASES, ids=[c[0] for c in CASES])
def test_converted_model_shares_weights_and_outputs(name, config_cls, kwargs):
    quiet_transformers()
    torch.manual_seed(0)
    hf = getattr(transformers, name)(config_cls(**kwargs, attn_implementation="eager")).eval()
    randomize_all(hf)
    ours = tf.from_transformers(hf)
    assert type(ours) is getattr(tf, name) and not ours.training
    ours_params = {p.data_ptr() for p in ours.parameters()}
    assert all(p.data_ptr() in ours_params for p in hf.parameters()), "parameters are shared, not copied"
    ids = torch.randint(3, 99, (3, 9))
    mask = torch.ones(3, 9, dtype=torch.long)
    mask[1, 6:] = 0
    mask[2, 4:] = 0
    with torch.no_grad():
        want = hf(ids, attention_mask=mask)[0]
        got = ours(ids, attention_mask=mask)[0]
    real = mask.bool()
    if want.dim() == 3:
        want, got = want[real], got[real]
    elif name.endswith("QuestionAnswering"):
        want, got = want[real], got[real]
    torch.testing.assert_close(got, want, atol=1e-4, rtol=0)


def test_unsupported_model_is_a_clear_error():
    with pytest.raises(TypeError, match="no transformers_fast class for Linear"):
        tf.from_transformers(torch.nn.Linear(2, 2))


@pytest.mark.parametrize("name,config_cls,kwargs", CASES[3:5], ids=[c[0] for c in CASES[3:5]])
def test_generate_takes_the_live_models_generation_config(name, config_cls, kwargs):
    quiet_transformers()
    torch.manual_seed(0)
    hf = getattr(transformers, name)(config_cls(**kwargs)).eval()
    randomize_all(hf, scale=0.5)
    hf.generation_config.max_new_tokens, hf.generation_config.no_repeat_ngram_size = 6, 1
    ours = tf.from_transformers(hf)
    x = torch.randint(1, 99, (2, 4), generator=torch.Generator().manual_seed(1))
    assert torch.equal(ours.generate(x, pad_token_id=0), hf.generate(x, pad_token_id=0))


@pytest.mark.parametrize("config_cls,model_cls,fields", [
    ("DistilBertConfig", "DistilBertForMaskedLM", dict(activation="relu", dim=32, n_layers=1, n_heads=2,
                                                       hidden_dim=37)),
    ("XLNetConfig", "XLNetForSequenceClassification", dict(summary_activation="relu", d_model=32, n_layer=1,
                                                           n_head=2, d_inner=37)),
    ("BertConfig", "BertForTokenClassification", dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                                      intermediate_size=37))])
def test_config_dict_transformers_wrote_reads_with_its_meaning(config_cls, model_cls, fields, tmp_path):
    """Config.from_dict of a config.json transformers wrote (it holds transformers_version) means what
    from_pretrained of its folder means: transformers' reading of its fields, where it differs from 1.2.0's."""
    import json

    quiet_transformers()
    getattr(transformers, model_cls)(getattr(transformers, config_cls)(vocab_size=99, **fields)).save_pretrained(
        tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert "transformers_version" in saved
    from_folder = getattr(tf, config_cls).from_pretrained(tmp_path)
    assert getattr(tf, config_cls).from_dict(saved) == from_folder
    assert getattr(tf, config_cls).from_dict(json_object=saved) == from_folder
    assert getattr(tf, config_cls).from_json_file(str(tmp_path / "config.json")) == from_folder
    del saved["transformers_version"]  # (then a 1.2.0 dict, 1.2.0's meaning)
    assert getattr(tf, config_cls).from_dict(saved) != from_folder
