"""The Auto classes: the family of a model is read from the `model_type` of its config.json when there is one
(as `transformers` does), otherwise from the name or path as pytorch-transformers 1.2.0 does (the first of
its substrings found, in 1.2.0's order: 'distilbert' before 'roberta' before 'bert')."""
from __future__ import annotations

import json
import os
from typing import Optional

# (substring of the name, model_type, config class, {Auto kind: model class}, tokenizer class), in 1.2.0's order
FAMILIES = [
    ("distilbert", "distilbert", "DistilBertConfig",
     dict(model="DistilBertModel", lm="DistilBertForMaskedLM", sequence="DistilBertForSequenceClassification",
          qa="DistilBertForQuestionAnswering"), "DistilBertTokenizer"),
    ("roberta", "roberta", "RobertaConfig",
     dict(model="RobertaModel", lm="RobertaForMaskedLM", sequence="RobertaForSequenceClassification"),
     "RobertaTokenizer"),
    ("bert", "bert", "BertConfig",
     dict(model="BertModel", lm="BertForMaskedLM", sequence="BertForSequenceClassification",
          qa="BertForQuestionAnswering"), "BertTokenizer"),
    ("openai-gpt", "openai-gpt", "OpenAIGPTConfig", dict(model="OpenAIGPTModel", lm="OpenAIGPTLMHeadModel"),
     "OpenAIGPTTokenizer"),
    ("gpt2", "gpt2", "GPT2Config", dict(model="GPT2Model", lm="GPT2LMHeadModel"), "GPT2Tokenizer"),
    ("transfo-xl", "transfo-xl", "TransfoXLConfig", dict(model="TransfoXLModel", lm="TransfoXLLMHeadModel"),
     "TransfoXLTokenizer"),
    ("xlnet", "xlnet", "XLNetConfig",
     dict(model="XLNetModel", lm="XLNetLMHeadModel", sequence="XLNetForSequenceClassification",
          qa="XLNetForQuestionAnswering"), "XLNetTokenizer"),
    ("xlm", "xlm", "XLMConfig",
     dict(model="XLMModel", lm="XLMWithLMHeadModel", sequence="XLMForSequenceClassification",
          qa="XLMForQuestionAnswering"), "XLMTokenizer"),
]
# model_type spellings of current transformers that differ from 1.2.0's
_MODEL_TYPE_ALIASES = {"openai-gpt": "openai-gpt", "openai_gpt": "openai-gpt", "transfo_xl": "transfo-xl"}


def _model_type_on_disk(name: str) -> Optional[str]:
    path = os.path.join(name, "config.json") if os.path.isdir(name) else None
    if path is None or not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            model_type = json.load(f).get("model_type")
    except (OSError, ValueError, AttributeError):
        return None  # the config class reading it will name the problem
    return _MODEL_TYPE_ALIASES.get(model_type, model_type) if isinstance(model_type, str) else None


def family_of(name, kind: Optional[str] = None, config=None) -> tuple:
    """The FAMILIES row of a name or path (or of a config object); ValueError naming what is recognised."""
    import transformers_fast

    rows = [row for row in FAMILIES if kind is None or kind in row[3]]
    if config is not None:
        for row in rows:
            if isinstance(config, getattr(transformers_fast, row[2])):
                return row
    name = os.fspath(name)
    model_type = _model_type_on_disk(name)
    for row in rows:
        if model_type == row[1] or (model_type is None and row[0] in name):
            return row
    known = ", ".join(f"'{row[0]}'" for row in rows)
    found = f" (its config.json says model_type {model_type!r})" if model_type else ""
    raise ValueError(f"Unrecognized model identifier in {name}{found}. Should contain one of {known}")


class _AutoModel:
    _kind = "model"

    def __init__(self):
        raise EnvironmentError(f"{type(self).__name__} is designed to be instantiated using the "
                               f"`{type(self).__name__}.from_pretrained(pretrained_model_name_or_path)` method.")

    @classmethod
    def model_class_for(cls, pretrained_model_name_or_path, config=None):
        import transformers_fast

        row = family_of(pretrained_model_name_or_path, cls._kind, None if isinstance(config, (str, os.PathLike))
                        else config)
        return getattr(transformers_fast, row[3][cls._kind])

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args, **kwargs):
        model_class = cls.model_class_for(pretrained_model_name_or_path, kwargs.get("config"))
        return model_class.from_pretrained(pretrained_model_name_or_path, *model_args, **kwargs)


class AutoModel(_AutoModel):
    """The base model of the family (BertModel, GPT2Model, ...)."""


class AutoModelWithLMHead(_AutoModel):
    """The language-modelling head model of the family (BertForMaskedLM, GPT2LMHeadModel, ...)."""
    _kind = "lm"


class AutoModelForSequenceClassification(_AutoModel):
    """DistilBERT, RoBERTa, BERT, XLNet and XLM, as in 1.2.0."""
    _kind = "sequence"


class AutoModelForQuestionAnswering(_AutoModel):
    """DistilBERT, BERT, XLNet and XLM, as in 1.2.0."""
    _kind = "qa"


class AutoConfig:
    def __init__(self):
        raise EnvironmentError("AutoConfig is designed to be instantiated using the "
                               "`AutoConfig.from_pretrained(pretrained_model_name_or_path)` method.")

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, **kwargs):
        import transformers_fast

        config_class = getattr(transformers_fast, family_of(pretrained_model_name_or_path)[2])
        return config_class.from_pretrained(pretrained_model_name_or_path, **kwargs)


class AutoTokenizer:
    def __init__(self):
        raise EnvironmentError("AutoTokenizer is designed to be instantiated using the "
                               "`AutoTokenizer.from_pretrained(pretrained_model_name_or_path)` method.")

    @classmethod
    def tokenizer_class_for(cls, pretrained_model_name_or_path):
        import transformers_fast

        return getattr(transformers_fast, family_of(pretrained_model_name_or_path)[4])

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *inputs, **kwargs):
        return cls.tokenizer_class_for(pretrained_model_name_or_path).from_pretrained(
            pretrained_model_name_or_path, *inputs, **kwargs)


def from_transformers(hf_model):
    """The transformers_fast model of a live Hugging Face `transformers` model of a supported family (the class
    of the same name), sharing its parameters (no copy), giving the same outputs, in the same train/eval mode."""
    import transformers_fast

    name = type(hf_model).__name__
    cls = getattr(transformers_fast, name, None)
    if not (isinstance(cls, type) and hasattr(cls, "from_transformers")):
        known = sorted({row[3][kind] for row in FAMILIES for kind in row[3]})
        raise TypeError(f"from_transformers: no transformers_fast class for {name}; supported: {', '.join(known)}")
    return cls.from_transformers(hf_model)
