"""PretrainedConfig: the configuration base class of pytorch-transformers 1.2.0, reading today's config.json too.

Fields a class does not know are kept as attributes (as the reference does), so a config written by
`transformers` round-trips; values a model cannot be built with raise ValueError naming the field.
"""
from __future__ import annotations

import copy
import json
import logging
import os
from typing import Any, Dict, Optional, Tuple

from transformers_fast import file_utils
from transformers_fast.file_utils import CONFIG_NAME, PushToHubMixin, pop_hub_kwargs, subfolder_path

logger = logging.getLogger(__name__)

# Written by `transformers` or by us for it; not configuration the model reads.
_BOOKKEEPING_FIELDS = ("transformers_version", "_name_or_path", "_commit_hash", "_attn_implementation_autoset")

# Fields every transformers config has, read with transformers' default where this config (1.2.0's, or a config.json
# without them) does not set them; to_dict writes only what was set, as before. Callables take the config.
TRANSFORMERS_FIELD_DEFAULTS: Dict[str, Any] = {
    "return_dict": True, "use_return_dict": lambda c: bool(c.return_dict) and not c.torchscript,
    "id2label": lambda c: {i: f"LABEL_{i}" for i in range(c.num_labels)},
    "label2id": lambda c: {label: i for i, label in c.id2label.items()},
    "name_or_path": lambda c: c.__dict__.get("_name_or_path", ""),
    "is_encoder_decoder": False, "is_decoder": False, "add_cross_attention": False, "tie_word_embeddings": True,
    "architectures": None, "problem_type": None, "pad_token_id": None, "bos_token_id": None, "eos_token_id": None,
    "chunk_size_feed_forward": 0,
}


class PretrainedConfig(PushToHubMixin):
    """Base class of every model configuration.

    Class attributes: `model_type` (as in transformers' config.json), `pretrained_config_archive_map`
    (1.2.0 shortcut name -> Hugging Face hub repository), `attribute_map` (alias -> field, e.g.
    DistilBERT's hidden_size -> dim).
    """

    model_type: str = ""
    pretrained_config_archive_map: Dict[str, str] = {}
    attribute_map: Dict[str, str] = {}
    transformers_defaults: Dict[str, Any] = {}  # the class's own defaults of TRANSFORMERS_FIELD_DEFAULTS' fields

    def __init__(self, **kwargs: Any):
        kwargs = normalize_fields(kwargs)
        self.finetuning_task = kwargs.pop("finetuning_task", None)
        num_labels = kwargs.pop("num_labels", None)
        self.num_labels = 2 if num_labels is None else num_labels
        for name in ("id2label", "label2id"):
            if kwargs.get(name) is not None:
                setattr(self, name, kwargs.pop(name))
        self.output_attentions = kwargs.pop("output_attentions", False)
        self.output_hidden_states = kwargs.pop("output_hidden_states", False)
        self.torchscript = kwargs.pop("torchscript", False)
        self.pruned_heads = kwargs.pop("pruned_heads", None) or {}
        for key, value in kwargs.items():  # unknown fields are kept, like the reference
            setattr(self, key, value)

    def __setattr__(self, key: str, value: Any) -> None:
        key = type(self).attribute_map.get(key, key)
        super().__setattr__(key, value)
        # As transformers keeps them: the labels named decide how many there are, and a new count that the
        # names do not match replaces them with LABEL_i (read from num_labels).
        if key == "id2label" and isinstance(value, dict) and value:
            super().__setattr__("num_labels", len(value))
        elif key == "num_labels":
            id2label = self.__dict__.get("id2label")
            if id2label is not None and len(id2label) != value:
                del self.__dict__["id2label"]
                self.__dict__.pop("label2id", None)

    def __getattr__(self, key: str) -> Any:
        # Only reached when normal lookup fails: resolve aliases (hidden_size -> dim), then transformers' defaults.
        cls = type(self)
        alias = cls.attribute_map.get(key)
        if alias is not None:
            return getattr(self, alias)
        for defaults in (cls.transformers_defaults, TRANSFORMERS_FIELD_DEFAULTS):
            if key in defaults:
                value = defaults[key]
                return value(self) if callable(value) else copy.deepcopy(value)
        raise AttributeError(f"{cls.__name__} has no attribute {key!r}")

    # ---- loading ----------------------------------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, **kwargs: Any):
        """Config from a shortcut name (shipped with the package), a folder with config.json, a JSON file,
        or a Hugging Face hub repository id. Keyword arguments naming config attributes override them;
        with return_unused_kwargs=True the others come back as a dict."""
        return_unused_kwargs = kwargs.pop("return_unused_kwargs", False)
        hub_kwargs = pop_hub_kwargs(kwargs)
        config_file = cls.resolve_config_file(pretrained_model_name_or_path, **hub_kwargs)
        config = cls.from_json_file(config_file)
        config._name_or_path = os.fspath(pretrained_model_name_or_path)  # (not saved: bookkeeping)
        logger.info("loaded configuration %s from %s", cls.__name__, config_file)
        return config._override(kwargs, return_unused_kwargs)

    def _override(self, kwargs: Dict[str, Any], return_unused_kwargs: bool):
        """Keyword arguments naming attributes replace them; the others come back when asked (transformers)."""
        unused = {}
        for key, value in kwargs.items():
            if hasattr(self, key):
                setattr(self, key, value)
            else:
                unused[key] = value
        return (self, unused) if return_unused_kwargs else self

    @classmethod
    def resolve_config_file(cls, name_or_path, **hub_kwargs: Any) -> str:
        name_or_path = os.fspath(name_or_path)
        if os.path.isdir(name_or_path):
            folder = subfolder_path(name_or_path, hub_kwargs.get("subfolder"))
            path = os.path.join(folder, CONFIG_NAME)
            if not os.path.isfile(path):
                raise OSError(f"no {CONFIG_NAME} in the folder {folder!r}")
            return path
        if os.path.isfile(name_or_path):
            return name_or_path
        if name_or_path in cls.pretrained_config_archive_map and not hub_kwargs.get("subfolder"):
            packaged = file_utils.packaged_config_path(name_or_path)
            if packaged is not None:
                return packaged
        repo_ids = hub_repo_ids(cls.pretrained_config_archive_map, name_or_path)
        if repo_ids is None:
            raise OSError(
                f"{name_or_path!r} is not a folder, a file, a shortcut name of {cls.__name__} "
                f"({', '.join(cls.pretrained_config_archive_map) or 'none'}) or a hub repository id")
        path = file_utils.hub_file(repo_ids, CONFIG_NAME, **hub_kwargs)
        if path is None:
            raise OSError(f"the hub repository {repo_ids[0]!r} has no {CONFIG_NAME}")
        return path

    @classmethod
    def from_dict(cls, config_dict: Optional[Dict[str, Any]] = None, *, json_object: Optional[Dict[str, Any]] = None,
                  return_unused_kwargs: bool = False, **kwargs: Any):
        """Config from a dict such as a parsed config.json (1.2.0 or transformers format: one holding
        transformers_version, which transformers' save_pretrained writes, is read with transformers' meaning of its
        fields where it differs from 1.2.0's). The dict may be passed by transformers' name (config_dict) or
        1.2.0's (json_object); other keyword arguments override attributes as in from_pretrained."""
        if (config_dict is None) == (json_object is None):
            raise TypeError("from_dict takes one dict: config_dict (or 1.2.0's json_object)")
        config_dict = json_object if config_dict is None else config_dict
        if not isinstance(config_dict, dict):
            raise TypeError(f"config_dict must be a dict, got {type(config_dict).__name__}")
        if "transformers_version" in config_dict:
            config_dict = {**config_dict, **cls.transformers_fields(config_dict)}
        config = cls(**cls._normalize_dict(dict(config_dict)))
        return config._override(kwargs, return_unused_kwargs)

    @classmethod
    def from_transformers_dict(cls, config_dict: Dict[str, Any]):
        """Config of a live `transformers` model (its config.to_dict()); where transformers reads a field
        otherwise than 1.2.0 does, a family translates it here so that the model computes the same thing."""
        return cls.from_dict({**config_dict, **cls.transformers_fields(config_dict)})

    @classmethod
    def transformers_fields(cls, config_dict: Dict[str, Any]) -> Dict[str, Any]:
        """Fields a family sets on a config transformers wrote, where its models compute otherwise than 1.2.0's
        with the same fields; from_transformers_dict and the constructor given such a JSON file apply them.
        Every family's: transformers' sequence summary applies whatever activation summary_activation names,
        1.2.0's only tanh."""
        return {"summary_activation_any_name": True} if "summary_activation" in config_dict else {}

    @classmethod
    def _normalize_dict(cls, config_dict: Dict[str, Any]) -> Dict[str, Any]:
        """Hook for subclasses whose constructor names differ from the JSON field names."""
        return config_dict

    @classmethod
    def from_json_file(cls, json_file):
        try:
            with open(json_file, "r", encoding="utf-8") as reader:
                config_dict = json.load(reader)
        except json.JSONDecodeError as err:
            raise OSError(f"{json_file} is not valid JSON: {err}") from err
        except UnicodeDecodeError as err:  # a weights file given where a config belongs
            raise OSError(f"{json_file} is not a JSON config file ({err}); a weights file loads with its config "
                          f"given as config=") from err
        if not isinstance(config_dict, dict):
            raise OSError(f"{json_file} does not hold a JSON object")
        return cls.from_dict(config_dict)  # (a file transformers wrote: with its meaning, as from_dict reads it)

    def validate(self) -> None:
        """Raises ValueError for values the model cannot be built with; subclasses extend it. Called when a
        model is built, as 1.2.0 raises there: a config itself takes any value, as 1.2.0's does."""
        check_int("num_labels", self.num_labels)
        for name in ("output_attentions", "output_hidden_states", "torchscript"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")

    # ---- saving -----------------------------------------------------------------------------------------

    def to_dict(self) -> Dict[str, Any]:
        output = copy.deepcopy({k: v for k, v in self.__dict__.items() if k != "_name_or_path"})
        # transformers reads the number of labels from id2label; keep them consistent.
        id2label = output.get("id2label")
        if id2label is None or len(id2label) != self.num_labels:
            output["id2label"] = {i: f"LABEL_{i}" for i in range(self.num_labels)}
            output["label2id"] = {f"LABEL_{i}": i for i in range(self.num_labels)}
        if self.model_type:
            output["model_type"] = self.model_type
        return output

    def to_json_string(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def to_json_file(self, json_file_path) -> None:
        with open(json_file_path, "w", encoding="utf-8") as writer:
            writer.write(self.to_json_string())

    def save_pretrained(self, save_directory, push_to_hub: bool = False, **hub_options) -> None:
        """config.json in the folder (made if missing); push_to_hub=True (with repo_id=..., commit_message=...,
        private=..., token=...) uploads the folder to the Hugging Face hub, as transformers."""
        if os.path.isfile(save_directory):
            raise ValueError(f"save_directory must be a folder, {save_directory!r} is a file")
        os.makedirs(save_directory, exist_ok=True)
        self.to_json_file(os.path.join(save_directory, CONFIG_NAME))
        self._push_saved(save_directory, push_to_hub, hub_options)

    def __eq__(self, other: Any) -> bool:
        # what is saved: a config equals itself read back (to_dict adds the label maps transformers wants)
        return type(self) is type(other) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"{type(self).__name__} {self.to_json_string()}"


def normalize_fields(fields: Dict[str, Any]) -> Dict[str, Any]:
    """Config fields as a config holds them, from the JSON of 1.2.0 or transformers: JSON's string keys of
    id2label and pruned_heads made ints, num_labels from id2label when only that is given (transformers),
    and the bookkeeping fields dropped."""
    fields = {k: v for k, v in fields.items() if k not in _BOOKKEEPING_FIELDS and k != "model_type"}
    id2label = fields.get("id2label")
    if id2label is not None:
        fields["id2label"] = {int(k): v for k, v in id2label.items()}
        if fields.get("num_labels") is None:
            fields["num_labels"] = len(id2label) or None
    if isinstance(fields.get("label2id"), dict):  # (another value is kept as it is, as transformers keeps it)
        fields["label2id"] = {k: int(v) for k, v in fields["label2id"].items()}
    if fields.get("pruned_heads"):
        fields["pruned_heads"] = {int(layer): sorted(set(heads)) for layer, heads in fields["pruned_heads"].items()}
    return fields


def hub_repo_ids(archive_map: Dict[str, str], name: str) -> Optional[Tuple[str, ...]]:
    """Hub repositories to look in for `name`: the current repo of a shortcut name and the name itself
    (caches filled by older libraries use the old name), or the name when it looks like a repo id."""
    if name in archive_map:
        return (archive_map[name], name)
    if file_utils.looks_like_repo_id(name):
        return (name,)
    return None


def check_int(name: str, value: Any, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def check_probability(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")


def check_optional_index(name: str, value: Any, size: Optional[int] = None) -> None:
    """None or an integer; with `size`, an index torch's Embedding takes (negative ones count from the end)."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or (size is not None and not -size <= value < size):
        where = f" in [-{size}, {size})" if size is not None else ""
        raise ValueError(f"{name} must be None or an integer{where}, got {value!r}")


def check_non_negative(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(f"{name} must be a number >= 0, got {value!r}")


def check_vocab_size_argument(value: Any) -> None:
    """1.2.0's configs take a vocabulary size or a JSON file path first, and raise here for anything else."""
    if not isinstance(value, (int, str)):
        raise ValueError("First argument must be either a vocabulary size (int) or the path to a pretrained "
                         f"model config file (str), got {value!r}")


SUMMARY_TYPES = ("last", "first", "mean", "cls_index")


def read_json_fields(path: str) -> Dict[str, Any]:
    """A config.json's own fields, as a config holds them (normalize_fields); {} where it holds no object."""
    with open(path, "r", encoding="utf-8") as reader:
        fields = json.load(reader)
    return normalize_fields(fields) if isinstance(fields, dict) else {}


def read_json_config(config, path: str) -> None:
    """1.2.0 accepts a JSON file path as the first constructor argument (a file transformers wrote is read with
    its meaning, as from_json_file reads it)."""
    with open(path, "r", encoding="utf-8") as reader:
        fields = json.load(reader)
    if isinstance(fields, dict) and "transformers_version" in fields:
        fields = {**fields, **type(config).transformers_fields(fields)}
    for key, value in normalize_fields(fields).items():
        setattr(config, key, value)


def validate_gpt_config(config) -> None:
    """Checks shared by OpenAI GPT and GPT-2 (same field names)."""
    for name in ("vocab_size", "n_positions", "n_ctx", "n_embd", "n_layer", "n_head"):
        check_int(name, getattr(config, name))
    if config.n_embd % config.n_head:
        raise ValueError(f"n_embd ({config.n_embd}) must be a multiple of n_head ({config.n_head})")
    for name in ("resid_pdrop", "embd_pdrop", "attn_pdrop", "summary_first_dropout"):
        check_probability(name, getattr(config, name))
    check_non_negative("layer_norm_epsilon", config.layer_norm_epsilon)
    check_non_negative("initializer_range", config.initializer_range)
    if config.summary_type not in SUMMARY_TYPES:
        raise ValueError(f"summary_type must be one of {SUMMARY_TYPES}, got {config.summary_type!r}")


# transformers' parameter-free activation names (its ACT2FN) beyond 1.2.0's "gelu", for configs it wrote; their
# functions are modeling_utils.TRANSFORMERS_ACTIVATIONS
TRANSFORMERS_ACTIVATION_NAMES = ("gelu_new", "gelu_pytorch_tanh", "gelu_python", "gelu_fast", "gelu_accurate",
                                 "gelu_python_tanh", "gelu_10", "quick_gelu", "relu", "relu6", "relu2", "leaky_relu",
                                 "silu", "swish", "mish", "hardswish", "tanh", "sigmoid", "laplace", "sqrtsoftplus",
                                 "linear")
ENCODER_ACTIVATIONS = ("gelu",) + TRANSFORMERS_ACTIVATION_NAMES


class EncoderConfig(PretrainedConfig):
    """The fields of the BERT encoder, shared by BertConfig and RobertaConfig (defaults: bert-base-uncased).

    The first argument is the vocabulary size or, as in 1.2.0, the path of a JSON config file.
    """

    def __init__(self, vocab_size_or_config_json_file=30522, hidden_size=768, num_hidden_layers=12,
                 num_attention_heads=12, intermediate_size=3072, hidden_act="gelu", hidden_dropout_prob=0.1,
                 attention_probs_dropout_prob=0.1, max_position_embeddings=512, type_vocab_size=2,
                 initializer_range=0.02, layer_norm_eps=1e-12, **kwargs: Any):
        if "vocab_size" in kwargs:  # transformers' name for the first argument
            vocab_size_or_config_json_file = kwargs.pop("vocab_size")
        check_vocab_size_argument(vocab_size_or_config_json_file)
        kwargs.setdefault("pad_token_id", 0)
        super().__init__(**kwargs)
        if isinstance(vocab_size_or_config_json_file, str):
            read_json_config(self, vocab_size_or_config_json_file)
            return
        self.vocab_size = vocab_size_or_config_json_file
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.hidden_act = hidden_act
        self.intermediate_size = intermediate_size
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps

    def validate(self) -> None:
        super().validate()
        check_int("vocab_size", self.vocab_size)
        check_int("hidden_size", self.hidden_size)
        check_int("num_hidden_layers", self.num_hidden_layers)
        check_int("num_attention_heads", self.num_attention_heads)
        check_int("intermediate_size", self.intermediate_size)
        check_int("max_position_embeddings", self.max_position_embeddings)
        check_int("type_vocab_size", self.type_vocab_size)
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(f"hidden_size ({self.hidden_size}) must be a multiple of num_attention_heads "
                             f"({self.num_attention_heads})")
        check_probability("hidden_dropout_prob", self.hidden_dropout_prob)
        check_probability("attention_probs_dropout_prob", self.attention_probs_dropout_prob)
        check_non_negative("layer_norm_eps", self.layer_norm_eps)
        check_non_negative("initializer_range", self.initializer_range)
        check_optional_index("pad_token_id", getattr(self, "pad_token_id", None))
        if isinstance(self.hidden_act, str) and self.hidden_act not in ENCODER_ACTIVATIONS:
            raise ValueError(f"hidden_act must be one of {ENCODER_ACTIVATIONS} or a callable, got {self.hidden_act!r}")
        if not isinstance(self.hidden_act, str) and not callable(self.hidden_act):
            raise ValueError(f"hidden_act must be one of {ENCODER_ACTIVATIONS} or a callable, got {self.hidden_act!r}")
        kind = getattr(self, "position_embedding_type", "absolute")
        if kind not in (None, "absolute"):
            raise ValueError(f"position_embedding_type {kind!r} is not supported (only 'absolute')")
        if getattr(self, "is_decoder", False) or getattr(self, "add_cross_attention", False):
            raise ValueError("BERT as a decoder (is_decoder / add_cross_attention) is not supported")
