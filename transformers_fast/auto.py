"""The Auto classes: which family a name or path belongs to, the first of these that answers:

1. for AutoTokenizer, a folder's tokenizer_config.json `tokenizer_class` (read first, as transformers does: a
   model may ship another family's tokenizer, a GPT-2 with BERT's vocabulary);
2. a local folder's config.json: its `model_type` (as `transformers` dispatches), else a class of ours named in
   its `architectures` (transformers writes both, 1.2.0 neither); a config.json path itself likewise;
3. for a hub repository id (`namespace/name`), its tokenizer_config.json (AutoTokenizer) and config.json in the
   local Hugging Face cache;
4. the name or path as pytorch-transformers 1.2.0 reads it: the first of its substrings found, in 1.2.0's order
   ('distilbert' before 'roberta' before 'bert'), among the families that have a class of the kind asked for;
5. for a hub repository id not in the cache, its tokenizer_config.json (AutoTokenizer) and config.json from the
   hub (when downloads are on).
Otherwise ValueError, with 1.2.0's message."""
from __future__ import annotations

import json
import os
from typing import Any, Dict, Optional

from transformers_fast import file_utils

# (substring of the name, model_type, config class, {Auto kind: model class}, tokenizer class), in 1.2.0's order
FAMILIES = [
    ("distilbert", "distilbert", "DistilBertConfig",
     dict(model="DistilBertModel", lm="DistilBertForMaskedLM", sequence="DistilBertForSequenceClassification",
          qa="DistilBertForQuestionAnswering", masked_lm="DistilBertForMaskedLM", pretraining="DistilBertForMaskedLM"),
     "DistilBertTokenizer"),
    ("roberta", "roberta", "RobertaConfig",
     dict(model="RobertaModel", lm="RobertaForMaskedLM", sequence="RobertaForSequenceClassification",
          masked_lm="RobertaForMaskedLM", pretraining="RobertaForMaskedLM"),
     "RobertaTokenizer"),
    ("bert", "bert", "BertConfig",
     dict(model="BertModel", lm="BertForMaskedLM", sequence="BertForSequenceClassification",
          qa="BertForQuestionAnswering", masked_lm="BertForMaskedLM", pretraining="BertForPreTraining",
          token="BertForTokenClassification", multiple_choice="BertForMultipleChoice",
          next_sentence="BertForNextSentencePrediction"), "BertTokenizer"),
    ("openai-gpt", "openai-gpt", "OpenAIGPTConfig",
     dict(model="OpenAIGPTModel", lm="OpenAIGPTLMHeadModel", causal_lm="OpenAIGPTLMHeadModel",
          pretraining="OpenAIGPTLMHeadModel"), "OpenAIGPTTokenizer"),
    ("gpt2", "gpt2", "GPT2Config",
     dict(model="GPT2Model", lm="GPT2LMHeadModel", causal_lm="GPT2LMHeadModel", pretraining="GPT2LMHeadModel"),
     "GPT2Tokenizer"),
    ("transfo-xl", "transfo-xl", "TransfoXLConfig",
     dict(model="TransfoXLModel", lm="TransfoXLLMHeadModel", causal_lm="TransfoXLLMHeadModel",
          pretraining="TransfoXLLMHeadModel"), "TransfoXLTokenizer"),
    ("xlnet", "xlnet", "XLNetConfig",
     dict(model="XLNetModel", lm="XLNetLMHeadModel", sequence="XLNetForSequenceClassification",
          qa="XLNetForQuestionAnswering", causal_lm="XLNetLMHeadModel", pretraining="XLNetLMHeadModel"),
     "XLNetTokenizer"),
    ("xlm", "xlm", "XLMConfig",
     dict(model="XLMModel", lm="XLMWithLMHeadModel", sequence="XLMForSequenceClassification",
          qa="XLMForQuestionAnswering", masked_lm="XLMWithLMHeadModel", causal_lm="XLMWithLMHeadModel",
          pretraining="XLMWithLMHeadModel"), "XLMTokenizer"),
]
# model_type spellings of current transformers that differ from 1.2.0's
_MODEL_TYPE_ALIASES = {"openai-gpt": "openai-gpt", "openai_gpt": "openai-gpt", "transfo_xl": "transfo-xl"}


def _read_json(path: str) -> Optional[dict]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None  # the class reading it will name the problem
    return data if isinstance(data, dict) else None


def _config_on_disk(name: str, subfolder: str = "") -> Optional[dict]:
    if os.path.isdir(name):
        return _read_json(os.path.join(file_utils.subfolder_path(name, subfolder), "config.json"))
    return _read_json(name) if os.path.isfile(name) and name.endswith(".json") else None


def _model_type(config: Optional[dict]) -> Optional[str]:
    model_type = (config or {}).get("model_type")
    return _MODEL_TYPE_ALIASES.get(model_type, model_type) if isinstance(model_type, str) else None


def _family_of_config(config: Optional[dict], rows) -> Optional[tuple]:
    """The row a config.json names: its model_type, else the family of a class of ours in `architectures`
    (e.g. BertForTokenClassification: any class of the family, not only the Auto kinds)."""
    import transformers_fast

    model_type = _model_type(config)
    if model_type is not None:
        return next((row for row in rows if row[1] == model_type), None)
    for architecture in (config or {}).get("architectures") or ():
        if not isinstance(architecture, str) or architecture not in getattr(transformers_fast, "__all__", ()):
            continue
        # the longest class-name prefix: 'DistilBert...' is DistilBERT's, not BERT's
        prefixes = [row for row in rows if architecture.startswith(row[2][: -len("Config")])]
        if prefixes:
            return max(prefixes, key=lambda row: len(row[2]))
    return None


def _family_of_tokenizer_config(tokenizer_config: Optional[dict], rows) -> Optional[tuple]:
    tokenizer_class = (tokenizer_config or {}).get("tokenizer_class")
    if not isinstance(tokenizer_class, str):
        return None
    # transformers names its Rust tokenizers ...Fast; ours are the same tokenizer
    tokenizer_class = tokenizer_class[: -len("Fast")] if tokenizer_class.endswith("Fast") else tokenizer_class
    return next((row for row in rows if row[4] == tokenizer_class), None)


def _tokenizer_config_on_disk(name: str, subfolder: str = "") -> Optional[dict]:
    if not os.path.isdir(name):
        return None
    return _read_json(os.path.join(file_utils.subfolder_path(name, subfolder), "tokenizer_config.json"))


def _hub_json(name: str, filename: str, hub_kwargs: Dict[str, Any], download: bool) -> Optional[dict]:
    """A JSON file of a hub repository id: from the cache only, or (download=True) fetched as loading would."""
    # 1.2.0's shortcut names have no namespace: an unknown plain name never reaches the hub
    if "/" not in name or os.path.exists(name) or not file_utils.looks_like_repo_id(name):
        return None
    if not download:
        from huggingface_hub import try_to_load_from_cache

        path = try_to_load_from_cache(name, file_utils.in_subfolder(hub_kwargs["subfolder"], filename),
                                      cache_dir=hub_kwargs.get("cache_dir"),
                                      revision=hub_kwargs.get("revision"))
        return _read_json(path) if isinstance(path, str) else None
    try:
        path = file_utils.hub_file((name,), filename, **hub_kwargs)
    except OSError:
        return None  # offline, unknown repository, no network: the name decides, or nothing does
    return _read_json(path) if path else None


def family_of(name, kind: Optional[str] = None, config=None, hub_kwargs: Optional[Dict[str, Any]] = None) -> tuple:
    """The FAMILIES row of a name or path (or of a config object), in the order of the module's docstring, for
    `kind` ("config", "tokenizer" or an Auto model kind of row[3]; None: any); ValueError naming what is
    recognised. hub_kwargs: from_pretrained's keyword arguments (cache_dir, revision, ...; others ignored)."""
    import transformers_fast

    rows = [row for row in FAMILIES if kind in (None, "config", "tokenizer") or kind in row[3]]
    if config is not None:
        for row in rows:
            if isinstance(config, getattr(transformers_fast, row[2])):
                return row
    name = os.fspath(name)
    hub_kwargs = file_utils.pop_hub_kwargs(dict(hub_kwargs or {}))  # (checked; the others are not ours)
    subfolder = hub_kwargs["subfolder"]
    tokenizer = kind == "tokenizer"
    row = _family_of_tokenizer_config(_tokenizer_config_on_disk(name, subfolder), rows) if tokenizer else None
    if row is not None:
        return row
    on_disk = _config_on_disk(name, subfolder)
    named = _model_type(on_disk)
    row = _family_of_config(on_disk, rows)
    for download in (False, True):  # the cache first; the hub after the name had its say
        if row is None and named is None and download:
            row = next((r for r in rows if r[0] in file_utils.subfolder_path(name, subfolder)), None)
        if row is None and named is None and on_disk is None:
            if tokenizer:
                row = _family_of_tokenizer_config(_hub_json(name, "tokenizer_config.json", hub_kwargs, download), rows)
            if row is None:
                remote = _hub_json(name, "config.json", hub_kwargs, download)
                named, row = _model_type(remote), _family_of_config(remote, rows)
    if row is not None:
        return row
    known = ", ".join(f"'{r[0]}'" for r in rows)
    if named is not None and any(r[1] == named for r in FAMILIES):  # a family of ours, without this kind
        auto = next((c.__name__ for c in _AutoModel.__subclasses__() if c._kind == kind), kind)
        raise ValueError(f"Unrecognized model identifier in {name}: it holds a {named} model (its config.json's "
                         f"model_type), and the {named} family has no class for {auto} here (as in "
                         f"pytorch-transformers 1.2.0). Should contain one of {known}")
    found = f" (its config.json says model_type {named!r})" if named else ""
    raise ValueError(f"Unrecognized model identifier in {name}{found}. Should contain one of {known}")


class _AutoModel:
    _kind = "model"

    def __init__(self):
        raise EnvironmentError(f"{type(self).__name__} is designed to be instantiated using the "
                               f"`{type(self).__name__}.from_pretrained(pretrained_model_name_or_path)` method.")

    @classmethod
    def model_class_for(cls, pretrained_model_name_or_path, config=None, **hub_kwargs):
        import transformers_fast

        row = family_of(pretrained_model_name_or_path, cls._kind, None if isinstance(config, (str, os.PathLike))
                        else config, hub_kwargs)
        model_class = row[3][cls._kind]
        if cls._kind == "qa":  # transformers' span head's qa_outputs would not load: random weights, silently
            name = os.fspath(pretrained_model_name_or_path)
            saved = _config_on_disk(name, file_utils.pop_hub_kwargs(dict(hub_kwargs))["subfolder"]) or {}
            other = [a for a in saved.get("architectures") or () if isinstance(a, str) and
                     a.startswith(model_class.split("For")[0]) and a.endswith("QuestionAnsweringSimple")]
            if other:
                raise ValueError(f"{name} holds transformers' {other[0]} (a span head, qa_outputs), which this "
                                 f"library does not have; {model_class} is 1.2.0's beam-search head, whose weights it "
                                 f"lacks")
        return getattr(transformers_fast, model_class)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args, **kwargs):
        model_class = cls.model_class_for(pretrained_model_name_or_path, **kwargs)
        return model_class.from_pretrained(pretrained_model_name_or_path, *model_args, **kwargs)

    @classmethod
    def from_config(cls, config, **kwargs):
        """transformers': a new model (random weights) of the config's family and this Auto class's kind."""
        import transformers_fast

        row = family_of("", cls._kind, config)
        return getattr(transformers_fast, row[3][cls._kind])(config, **kwargs)


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


# transformers' later Auto classes, over the classes of 1.2.0 (its mappings, where a family has the class)
class AutoModelForMaskedLM(_AutoModel):
    """BERT, RoBERTa, DistilBERT and XLM."""
    _kind = "masked_lm"


class AutoModelForCausalLM(_AutoModel):
    """OpenAI GPT, GPT-2, Transformer-XL, XLNet and XLM."""
    _kind = "causal_lm"


class AutoModelForPreTraining(_AutoModel):
    """Every family: BertForPreTraining, the others' language-modelling head model."""
    _kind = "pretraining"


class AutoModelForTokenClassification(_AutoModel):
    """BERT."""
    _kind = "token"


class AutoModelForMultipleChoice(_AutoModel):
    """BERT."""
    _kind = "multiple_choice"


class AutoModelForNextSentencePrediction(_AutoModel):
    """BERT."""
    _kind = "next_sentence"


class AutoConfig:
    def __init__(self):
        raise EnvironmentError("AutoConfig is designed to be instantiated using the "
                               "`AutoConfig.from_pretrained(pretrained_model_name_or_path)` method.")

    @classmethod
    def config_class_for(cls, pretrained_model_name_or_path, **hub_kwargs):
        import transformers_fast

        return getattr(transformers_fast, family_of(pretrained_model_name_or_path, "config", None, hub_kwargs)[2])

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, **kwargs):
        return cls.config_class_for(pretrained_model_name_or_path, **kwargs).from_pretrained(
            pretrained_model_name_or_path, **kwargs)

    @classmethod
    def for_model(cls, model_type: str, *args, **kwargs):
        """transformers': the config of a model_type ("bert", "gpt2", "transfo-xl", ...) built from the arguments."""
        import transformers_fast

        key = _MODEL_TYPE_ALIASES.get(model_type, model_type)
        row = next((row for row in FAMILIES if row[1] == key), None)
        if row is None:
            raise ValueError(f"Unrecognized model_type {model_type!r}; known: {', '.join(r[1] for r in FAMILIES)}")
        return getattr(transformers_fast, row[2])(*args, **kwargs)


class AutoTokenizer:
    def __init__(self):
        raise EnvironmentError("AutoTokenizer is designed to be instantiated using the "
                               "`AutoTokenizer.from_pretrained(pretrained_model_name_or_path)` method.")

    @classmethod
    def tokenizer_class_for(cls, pretrained_model_name_or_path, **hub_kwargs):
        import transformers_fast

        return getattr(transformers_fast, family_of(pretrained_model_name_or_path, "tokenizer", None, hub_kwargs)[4])

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *inputs, **kwargs):
        # transformers' choice between its Python and Rust tokenizers (each family has one here), not an init
        # keyword to keep in the tokenizer's saved config
        kwargs.pop("use_fast", None)
        return cls.tokenizer_class_for(pretrained_model_name_or_path, **kwargs).from_pretrained(
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
