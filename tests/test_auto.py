"""Auto classes: dispatch on config.json's model_type (as transformers) and on the name (as 1.2.0), for every
family; loading through them equals loading the class directly."""
from __future__ import annotations

import pytest
import torch
import pytorch_transformers as pt

import transformers_fast as tf
from transformers_fast.auto import FAMILIES

TINY = {
    "bert": ("BertConfig", dict(vocab_size_or_config_json_file=99, hidden_size=16, num_hidden_layers=1,
                                num_attention_heads=2, intermediate_size=20)),
    "roberta": ("RobertaConfig", dict(vocab_size_or_config_json_file=99, hidden_size=16, num_hidden_layers=1,
                                      num_attention_heads=2, intermediate_size=20, max_position_embeddings=40)),
    "distilbert": ("DistilBertConfig", dict(vocab_size_or_config_json_file=99, dim=16, n_layers=1, n_heads=2,
                                            hidden_dim=20)),
    "openai-gpt": ("OpenAIGPTConfig", dict(vocab_size_or_config_json_file=99, n_embd=16, n_layer=1, n_head=2,
                                           n_positions=20, n_ctx=20)),
    "gpt2": ("GPT2Config", dict(vocab_size_or_config_json_file=99, n_embd=16, n_layer=1, n_head=2, n_positions=20,
                                n_ctx=20)),
    "transfo-xl": ("TransfoXLConfig", dict(vocab_size_or_config_json_file=99, cutoffs=[50], d_model=16, d_embed=16,
                                           n_head=2, d_head=8, d_inner=20, n_layer=1, div_val=1)),
    "xlnet": ("XLNetConfig", dict(vocab_size_or_config_json_file=99, d_model=16, n_layer=1, n_head=2, d_inner=20)),
    "xlm": ("XLMConfig", dict(vocab_size_or_config_json_file=99, emb_dim=16, n_layers=1, n_heads=2)),
}
KINDS = {"model": tf.AutoModel, "lm": tf.AutoModelWithLMHead, "sequence": tf.AutoModelForSequenceClassification,
         "qa": tf.AutoModelForQuestionAnswering}


def saved(family, kind, folder):
    config_name, kwargs = TINY[family]
    config = getattr(tf, config_name)(**kwargs)
    row = next(r for r in FAMILIES if r[1] == family)
    torch.manual_seed(0)
    getattr(tf, row[3][kind])(config).save_pretrained(str(folder))
    return getattr(tf, row[3][kind])


@pytest.mark.parametrize("family", list(TINY))
def test_folder_dispatch_by_model_type_equals_direct_loading(family, tmp_path):
    for kind, auto in KINDS.items():
        row = next(r for r in FAMILIES if r[1] == family)
        folder = tmp_path / f"checkpoint-{kind}"  # a name with no family in it: config.json decides
        if kind not in row[3]:
            continue
        cls = saved(family, kind, folder)
        last = folder
        model = auto.from_pretrained(str(folder))
        assert type(model) is cls
        direct = cls.from_pretrained(str(folder))
        for (name, a), (_, b) in zip(model.state_dict().items(), direct.state_dict().items()):
            assert torch.equal(a, b), name
    assert type(tf.AutoConfig.from_pretrained(str(last))) is getattr(tf, TINY[family][0])


def test_model_type_wins_over_the_name_and_config_objects_decide(tmp_path):
    folder = tmp_path / "my-bert-finetune"  # 1.2.0 would take BERT from the name; the config says RoBERTa
    saved("roberta", "model", folder)
    assert type(tf.AutoModel.from_pretrained(str(folder))) is tf.RobertaModel
    config = tf.RobertaConfig.from_pretrained(str(folder))
    assert type(tf.AutoModel.from_pretrained(str(folder), config=config)) is tf.RobertaModel
    config, unused = tf.AutoConfig.from_pretrained(str(folder), output_attentions=True, foo=False,
                                                   return_unused_kwargs=True)
    assert config.output_attentions and unused == {"foo": False}


def test_names_dispatch_as_1_2_0():
    """Every 1.2.0 shortcut name goes to the family whose archive map lists it ('distilbert' before 'bert')."""
    maps = {"bert": pt.BERT_PRETRAINED_MODEL_ARCHIVE_MAP, "roberta": pt.ROBERTA_PRETRAINED_MODEL_ARCHIVE_MAP,
            "distilbert": pt.DISTILBERT_PRETRAINED_MODEL_ARCHIVE_MAP, "gpt2": pt.GPT2_PRETRAINED_MODEL_ARCHIVE_MAP,
            "openai-gpt": pt.OPENAI_GPT_PRETRAINED_MODEL_ARCHIVE_MAP,
            "transfo-xl": pt.TRANSFO_XL_PRETRAINED_MODEL_ARCHIVE_MAP,
            "xlnet": pt.XLNET_PRETRAINED_MODEL_ARCHIVE_MAP, "xlm": pt.XLM_PRETRAINED_MODEL_ARCHIVE_MAP}
    checked = 0
    for family, archive in maps.items():
        row = next(r for r in FAMILIES if r[1] == family)
        for name in archive:
            assert tf.AutoModel.model_class_for(name) is getattr(tf, row[3]["model"]), name
            assert tf.AutoModelWithLMHead.model_class_for(name) is getattr(tf, row[3]["lm"]), name
            assert tf.AutoTokenizer.tokenizer_class_for(name) is getattr(tf, row[4]), name
            checked += 1
    assert checked >= 30
    assert tf.AutoModelForQuestionAnswering.model_class_for("xlm-mlm-en-2048") is tf.XLMForQuestionAnswering
    assert tf.AutoModelForSequenceClassification.model_class_for("roberta-large-mnli") is \
        tf.RobertaForSequenceClassification


def test_unknown_and_unsupported_raise_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="Unrecognized model identifier in t5-small"):
        tf.AutoModel.from_pretrained("t5-small")
    with pytest.raises(ValueError, match="Unrecognized.*'bert', 'xlnet', 'xlm'"):
        tf.AutoModelForQuestionAnswering.from_pretrained("gpt2")  # 1.2.0 has no GPT-2 QA model either
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "t5"}')
    with pytest.raises(ValueError, match="model_type 't5'"):
        tf.AutoConfig.from_pretrained(str(folder))
    with pytest.raises(EnvironmentError, match="from_pretrained"):
        tf.AutoModel()
