"""Auto classes: dispatch on config.json's model_type (as transformers) and on the name (as 1.2.0), for every
family; loading through them equals loading the class directly."""
from __future__ import annotations

import json

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


# --- 1.2.0's own dispatch ------------------------------------------------------------------------------------------

AUTO_NAMES = ("AutoConfig", "AutoTokenizer", "AutoModel", "AutoModelWithLMHead", "AutoModelForSequenceClassification",
              "AutoModelForQuestionAnswering")
# shortcut names, names that only contain a pattern (in 1.2.0's order of precedence), and names it refuses
NAMES = ["bert-base-uncased", "distilbert-base-uncased-distilled-squad", "roberta-large-mnli", "openai-gpt",
         "gpt2-medium", "transfo-xl-wt103", "xlnet-base-cased", "xlm-mlm-en-2048", "my-roberta-for-qa",
         "a/b/distilroberta-bert", "xlnet-or-xlm", "gpt2-distilled-bert", "t5-small", "albert-base-v2", "ctrl", ""]


def ours_for(auto_name, name):
    auto = getattr(tf, auto_name)
    if auto_name == "AutoConfig":
        return auto.config_class_for(name)
    if auto_name == "AutoTokenizer":
        return auto.tokenizer_class_for(name)
    return auto.model_class_for(name)


@pytest.mark.parametrize("auto_name", AUTO_NAMES)
def test_names_dispatch_as_1_2_0_s_own_auto_classes(auto_name, monkeypatch):
    """1.2.0's Auto classes, each target's from_pretrained replaced by 'return my class name', against ours."""
    from pytorch_transformers import modeling_auto, tokenization_auto

    for module in (modeling_auto, tokenization_auto):
        for value in list(vars(module).values()):
            if isinstance(value, type) and hasattr(value, "from_pretrained") and not value.__name__.startswith("Auto"):
                monkeypatch.setattr(value, "from_pretrained", classmethod(lambda cls, *a, **k: cls.__name__))
    reference = getattr(tokenization_auto if auto_name == "AutoTokenizer" else modeling_auto, auto_name)
    refused = 0
    for name in NAMES:
        try:
            expected = reference.from_pretrained(name)
        except ValueError as err:
            assert "Unrecognized model identifier" in str(err)
            with pytest.raises(ValueError, match=f"Unrecognized model identifier in {name}"):
                ours_for(auto_name, name)
            refused += 1
            continue
        assert ours_for(auto_name, name).__name__ == expected, name
    assert refused >= 3  # t5-small, ctrl and "" at least ("albert" holds "bert": 1.2.0 takes it for BERT)


# --- config.json without model_type, tokenizer_config.json, the hub cache -------------------------------------------

def without_model_type(folder, architectures=None):
    data = json.loads((folder / "config.json").read_text())
    data.pop("model_type", None)
    data.pop("architectures", None)
    if architectures is not None:
        data["architectures"] = architectures
    (folder / "config.json").write_text(json.dumps(data))


@pytest.mark.parametrize("family,architecture", [("roberta", "RobertaForMaskedLM"), ("distilbert", "DistilBertModel"),
                                                 ("bert", "BertForTokenClassification"), ("xlm", "XLMWithLMHeadModel"),
                                                 ("openai-gpt", "OpenAIGPTDoubleHeadsModel")])
def test_architectures_decide_when_config_json_has_no_model_type(family, architecture, tmp_path):
    folder = tmp_path / "checkpoint"  # no family in the name
    cls = saved(family, "model", folder)
    without_model_type(folder)
    with pytest.raises(ValueError, match="Unrecognized model identifier"):
        tf.AutoModel.from_pretrained(str(folder))
    without_model_type(folder, ["SomethingElse", architecture])
    assert type(tf.AutoModel.from_pretrained(str(folder))) is cls
    assert type(tf.AutoConfig.from_pretrained(str(folder))) is getattr(tf, TINY[family][0])
    assert tf.AutoConfig.config_class_for(str(folder / "config.json")) is getattr(tf, TINY[family][0])
    named = tmp_path / "bert-named"  # the config's architecture wins over the name, as model_type does
    saved(family, "model", named)
    without_model_type(named, [architecture])
    assert type(tf.AutoModel.from_pretrained(str(named))) is cls


def test_architecture_of_another_library_or_kind_is_not_taken(tmp_path):
    folder = tmp_path / "checkpoint"
    saved("gpt2", "model", folder)
    without_model_type(folder, ["XLMRobertaForMaskedLM"])  # starts like XLM, is not one of ours
    with pytest.raises(ValueError, match="Unrecognized"):
        tf.AutoModel.model_class_for(str(folder))
    without_model_type(folder, ["GPT2LMHeadModel"])
    with pytest.raises(ValueError, match="Unrecognized.*'distilbert', 'roberta', 'bert', 'xlnet', 'xlm'"):
        tf.AutoModelForSequenceClassification.model_class_for(str(folder))  # 1.2.0 has no GPT-2 classifier
    saved("gpt2", "model", folder)  # with its model_type: the message says which family lacks which class
    with pytest.raises(ValueError, match="gpt2 family has no class for AutoModelForSequenceClassification.*'xlm'"):
        tf.AutoModelForSequenceClassification.model_class_for(str(folder))


def test_auto_tokenizer_reads_tokenizer_config_json(tmp_path):
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world"]
    folder = tmp_path / "tokenizer-only"
    folder.mkdir()
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    with pytest.raises(ValueError, match="Unrecognized"):
        tf.AutoTokenizer.from_pretrained(str(folder))
    (folder / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "DistilBertTokenizerFast"}))
    tokenizer = tf.AutoTokenizer.from_pretrained(str(folder))
    assert type(tokenizer) is tf.DistilBertTokenizer and tokenizer.encode("hello world") == [5, 6]
    (folder / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "BertTokenizer"}))
    assert tf.AutoTokenizer.tokenizer_class_for(str(folder)) is tf.BertTokenizer
    # tokenizer_class comes before config.json's model_type (transformers' rule: a GPT-2 or RoBERTa model may ship
    # BERT's tokenizer), and only AutoTokenizer reads tokenizer files
    (folder / "config.json").write_text(json.dumps({"model_type": "roberta"}))
    assert tf.AutoTokenizer.tokenizer_class_for(str(folder)) is tf.BertTokenizer
    assert tf.AutoConfig.config_class_for(str(folder)) is tf.RobertaConfig
    (folder / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True}))
    assert tf.AutoTokenizer.tokenizer_class_for(str(folder)) is tf.RobertaTokenizer
    (folder / "config.json").unlink()
    with pytest.raises(ValueError, match="Unrecognized"):
        tf.AutoConfig.config_class_for(str(folder))


def cache_repo(cache, repo, config, files=None):
    """A repository as huggingface_hub lays it out in its cache: a snapshot and refs/main naming it."""
    root = cache / f"models--{repo.replace('/', '--')}"
    snapshot = root / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    if config is not None:
        (snapshot / "config.json").write_text(json.dumps(config))
    for name, content in (files or {}).items():
        (snapshot / name).write_text(content)
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text("0" * 40)


def test_auto_tokenizer_of_a_cached_repository_reads_its_tokenizer_class_first(tmp_path, monkeypatch):
    """A GPT-2 shipping BERT's tokenizer (as uer/gpt2-chinese-* do), and a repository of tokenizer files only."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    bert_tokenizer = {"tokenizer_config.json": json.dumps({"tokenizer_class": "BertTokenizerFast"})}
    cache_repo(tmp_path, "acme/gpt2-chinese", {"model_type": "gpt2"}, bert_tokenizer)
    cache_repo(tmp_path, "acme/tokenizer-only", None, bert_tokenizer)
    cache = dict(cache_dir=str(tmp_path))
    assert tf.AutoTokenizer.tokenizer_class_for("acme/gpt2-chinese", **cache) is tf.BertTokenizer
    assert tf.AutoModel.model_class_for("acme/gpt2-chinese", **cache) is tf.GPT2Model
    assert tf.AutoTokenizer.tokenizer_class_for("acme/tokenizer-only", **cache) is tf.BertTokenizer


def test_hub_repository_in_the_cache_is_read_for_its_model_type(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cache_repo(tmp_path, "acme/encoder", {"model_type": "distilbert"})
    cache_repo(tmp_path, "acme/bert-but-really-roberta", {"model_type": "roberta"})
    cache_repo(tmp_path, "acme/decoder", {"architectures": ["GPT2LMHeadModel"]})
    cache = dict(cache_dir=str(tmp_path))
    assert tf.AutoModel.model_class_for("acme/encoder", **cache) is tf.DistilBertModel
    assert tf.AutoModel.model_class_for("acme/bert-but-really-roberta", **cache) is tf.RobertaModel
    assert tf.AutoModelWithLMHead.model_class_for("acme/decoder", **cache) is tf.GPT2LMHeadModel
    assert tf.AutoTokenizer.tokenizer_class_for("acme/encoder", **cache) is tf.DistilBertTokenizer
    assert tf.AutoConfig.config_class_for("acme/encoder", **cache) is tf.DistilBertConfig
    with pytest.raises(ValueError, match="Unrecognized model identifier in acme/other"):
        tf.AutoModel.model_class_for("acme/other", **cache)  # not cached, downloads off
    assert tf.AutoModel.model_class_for("acme/other-xlnet", **cache) is tf.XLNetModel  # the name still works
    with pytest.raises(ValueError, match="Unrecognized model identifier in acme/encoder"):
        tf.AutoModel.model_class_for("acme/encoder")  # another cache: not found there


# transformers' later Auto classes: its mapping for the family where that class is one of 1.2.0's
LATER_KINDS = {"masked_lm": (tf.AutoModelForMaskedLM, "MODEL_FOR_MASKED_LM_MAPPING_NAMES"),
               "causal_lm": (tf.AutoModelForCausalLM, "MODEL_FOR_CAUSAL_LM_MAPPING_NAMES"),
               "pretraining": (tf.AutoModelForPreTraining, "MODEL_FOR_PRETRAINING_MAPPING_NAMES"),
               "token": (tf.AutoModelForTokenClassification, "MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING_NAMES"),
               "multiple_choice": (tf.AutoModelForMultipleChoice, "MODEL_FOR_MULTIPLE_CHOICE_MAPPING_NAMES"),
               "next_sentence": (tf.AutoModelForNextSentencePrediction,
                                 "MODEL_FOR_NEXT_SENTENCE_PREDICTION_MAPPING_NAMES")}
# transformers 4.x mapped Transformer-XL (removed since) to its LM head model for these two
TRANSFO_XL_BEFORE_REMOVAL = {"causal_lm": "TransfoXLLMHeadModel", "pretraining": "TransfoXLLMHeadModel"}


@pytest.mark.parametrize("kind", list(LATER_KINDS))
@pytest.mark.parametrize("family", list(TINY))
def test_later_auto_classes_follow_transformers_mappings(kind, family, tmp_path):
    from transformers.models.auto import modeling_auto

    auto, mapping = LATER_KINDS[kind]
    expected = getattr(modeling_auto, mapping).get(family)
    if family == "transfo-xl":
        expected = TRANSFO_XL_BEFORE_REMOVAL.get(kind)
    if expected is not None and expected not in tf.__all__:
        expected = None  # a class 1.2.0 did not have
    folder = tmp_path / "checkpoint"
    saved(family, "model", folder)
    if expected is None:
        with pytest.raises(ValueError, match="Unrecognized model identifier"):
            auto.from_pretrained(str(folder))
        return
    model = auto.from_pretrained(str(folder))
    assert type(model) is getattr(tf, expected)
    base = getattr(tf, next(r for r in FAMILIES if r[1] == family)[3]["model"]).from_pretrained(str(folder))
    head_base = model.base_model if model.base_model is not model else model
    for name, tensor in base.state_dict().items():  # the saved base weights loaded under the head
        assert torch.equal(head_base.state_dict()[name], tensor), name


def test_from_config_and_for_model_as_transformers():
    config = tf.AutoConfig.for_model("bert", 99, hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                                     intermediate_size=37)
    assert type(config) is tf.BertConfig and config.vocab_size == 99
    assert type(tf.AutoConfig.for_model("transfo_xl")) is tf.TransfoXLConfig
    with pytest.raises(ValueError, match="Unrecognized model_type 'llama'"):
        tf.AutoConfig.for_model("llama")
    assert type(tf.AutoModelForSequenceClassification.from_config(config)) is tf.BertForSequenceClassification
    assert type(tf.AutoModel.from_config(tf.GPT2Config(99, n_embd=32, n_layer=1, n_head=4))) is tf.GPT2Model
    with pytest.raises(ValueError, match="Unrecognized"):
        tf.AutoModelForTokenClassification.from_config(tf.GPT2Config(99, n_embd=32, n_layer=1, n_head=4))


@pytest.mark.parametrize("family", ["XLNet", "XLM"])
def test_transformers_span_qa_head_is_refused_not_loaded_at_random(tmp_path, family):
    """transformers' AutoModelForQuestionAnswering saves XLNet / XLM as ...ForQuestionAnsweringSimple, whose
    weights 1.2.0's beam-search head (the class here) does not have."""
    import transformers

    config = (transformers.XLNetConfig(vocab_size=99, d_model=32, n_layer=1, n_head=4, d_inner=37) if family == "XLNet"
              else transformers.XLMConfig(vocab_size=99, emb_dim=32, n_layers=1, n_heads=4))
    getattr(transformers, family + "ForQuestionAnsweringSimple")(config).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match=f"{family}ForQuestionAnsweringSimple"):
        tf.AutoModelForQuestionAnswering.from_pretrained(tmp_path)
    assert tf.AutoModel.model_class_for(str(tmp_path)) is getattr(tf, family + "Model")
