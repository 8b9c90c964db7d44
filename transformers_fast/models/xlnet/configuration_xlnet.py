"""XLNetConfig: the constructor of pytorch-transformers 1.2.0, reading transformers' config.json as well.

1.2.0 keeps the vocabulary size as `n_token` (vocab_size is an alias of it); transformers writes `vocab_size`
and adds fields 1.2.0 does not know (use_mems_eval, pad_token_id, ...), which are kept as attributes.
`ff_activation="gelu"` is the tanh approximation, as in 1.2.0 (transformers 5 maps "gelu" to the erf form
and "gelu_new" to the tanh form: both "gelu" and "gelu_new" are the tanh form here).
"""
from __future__ import annotations

import json
from typing import Any, Dict

from transformers_fast.configuration_utils import (SUMMARY_TYPES, TRANSFORMERS_ACTIVATION_NAMES, PretrainedConfig,
                                                   check_int, check_non_negative, check_probability,
                                                   check_vocab_size_argument, read_json_config)

XLNET_SHORTCUT_NAMES = ("xlnet-base-cased", "xlnet-large-cased")
# The 1.2.0 shortcut names now live under the xlnet organisation of the Hugging Face hub.
XLNET_PRETRAINED_MODEL_ARCHIVE_MAP: Dict[str, str] = {name: f"xlnet/{name}" for name in XLNET_SHORTCUT_NAMES}
XLNET_PRETRAINED_CONFIG_ARCHIVE_MAP = XLNET_PRETRAINED_MODEL_ARCHIVE_MAP

# ff_activation names: 1.2.0's ("gelu": the tanh form; "relu", "swish") and transformers'
XLNET_ACTIVATIONS = ("gelu",) + TRANSFORMERS_ACTIVATION_NAMES
ATTN_TYPES = ("bi", "uni")


def _json_keys(path: str):
    with open(path, "r", encoding="utf-8") as reader:
        return set(json.load(reader))


class XLNetConfig(PretrainedConfig):
    """Configuration of an XLNet model (defaults: xlnet-large-cased, as 1.2.0's constructor).

    The first argument is the vocabulary size or, as in 1.2.0, the path of a JSON config file.
    mem_len: hidden states kept as memory per layer (None or 0: no memory is returned, 1.2.0's `mems` output is
    then a tuple of None); reuse_len: only the first reuse_len positions of a segment go into the memory.
    """

    model_type = "xlnet"
    pretrained_config_archive_map = XLNET_PRETRAINED_CONFIG_ARCHIVE_MAP
    attribute_map = {"vocab_size": "n_token", "hidden_size": "d_model", "num_attention_heads": "n_head",
                     "num_hidden_layers": "n_layer"}
    transformers_defaults = {"pad_token_id": 5, "bos_token_id": 1, "eos_token_id": 2}

    @classmethod
    def transformers_fields(cls, config_dict):
        """transformers reads ff_activation "gelu" as the erf GELU (1.2.0 and this library: tanh); a config it
        wrote gets "gelu_python", transformers' other name for the erf form, and computes what it did there."""
        fields = super().transformers_fields(config_dict)
        return {**fields, "ff_activation": "gelu_python"} if config_dict.get("ff_activation") == "gelu" else fields

    def __init__(self, vocab_size_or_config_json_file=32000, d_model=1024, n_layer=24, n_head=16, d_inner=4096,
                 ff_activation="gelu", untie_r=True, attn_type="bi", initializer_range=0.02, layer_norm_eps=1e-12,
                 dropout=0.1, mem_len=None, reuse_len=None, bi_data=False, clamp_len=-1, same_length=False,
                 finetuning_task=None, num_labels=None, summary_type="last", summary_use_proj=True,
                 summary_activation="tanh", summary_last_dropout=0.1, start_n_top=5, end_n_top=5, **kwargs: Any):
        for name in ("vocab_size", "n_token"):  # transformers' name (and 1.2.0's JSON name) of the first argument
            if name in kwargs:
                vocab_size_or_config_json_file = kwargs.pop(name)
        check_vocab_size_argument(vocab_size_or_config_json_file)
        kwargs.pop("max_position_embeddings", None)  # a read-only -1 in 1.2.0 (no length limit); old JSONs hold 512
        d_head = kwargs.pop("d_head", None)
        # num_labels None: the size of id2label (transformers writes no num_labels), else 2 (1.2.0's default)
        super().__init__(finetuning_task=finetuning_task, num_labels=num_labels, **kwargs)
        json_file = vocab_size_or_config_json_file if isinstance(vocab_size_or_config_json_file, str) else None
        self.n_token = 32000 if json_file else vocab_size_or_config_json_file
        self.d_model = d_model
        self.n_layer = n_layer
        self.n_head = n_head
        # 1.2.0 derives it; transformers stores it (and requires it to equal d_model // n_head).
        self.d_head = d_head if d_head is not None else (d_model // n_head if isinstance(d_model, int)
                                                         and isinstance(n_head, int) and n_head > 0 else None)
        self.ff_activation = ff_activation
        self.d_inner = d_inner
        self.untie_r = untie_r
        self.attn_type = attn_type
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps
        self.dropout = dropout
        self.mem_len = mem_len
        self.reuse_len = reuse_len
        self.bi_data = bi_data
        self.clamp_len = clamp_len
        self.same_length = same_length
        self.summary_type = summary_type
        self.summary_use_proj = summary_use_proj
        self.summary_activation = summary_activation
        self.summary_last_dropout = summary_last_dropout
        self.start_n_top = start_n_top
        self.end_n_top = end_n_top
        if json_file is not None:  # 1.2.0 takes the file's fields (here over the defaults, for fields it lacks)
            read_json_config(self, json_file)
            if isinstance(self.d_model, int) and isinstance(self.n_head, int) and self.n_head > 0 and \
                    "d_head" not in _json_keys(json_file):
                self.d_head = self.d_model // self.n_head

    @property
    def max_position_embeddings(self) -> int:
        return -1  # relative positions: no length limit (1.2.0's value)

    @max_position_embeddings.setter
    def max_position_embeddings(self, value) -> None:
        pass  # old JSON files hold 512; 1.2.0 ignores it too

    def to_dict(self) -> Dict[str, Any]:
        output = super().to_dict()
        output["vocab_size"] = self.n_token  # transformers' name; 1.2.0 reads n_token
        return output

    def validate(self) -> None:
        super().validate()
        for name in ("n_token", "d_model", "n_layer", "n_head", "d_inner"):
            check_int(name, getattr(self, name))
        if self.d_model % self.n_head:
            raise ValueError(f"d_model ({self.d_model}) must be a multiple of n_head ({self.n_head})")
        if self.d_model % 2:  # the relative positions' sin and cos halves give d_model + 1 features otherwise
            raise ValueError(f"d_model ({self.d_model}) must be even for XLNet's sinusoidal relative positions")
        if self.d_head != self.d_model // self.n_head:
            raise ValueError(f"d_head ({self.d_head!r}) must equal d_model // n_head ({self.d_model // self.n_head})")
        act = self.ff_activation
        if not callable(act) and act not in XLNET_ACTIVATIONS:
            raise ValueError(f"ff_activation must be one of {XLNET_ACTIVATIONS} or a callable, got {act!r}")
        if self.attn_type not in ATTN_TYPES:
            raise ValueError(f"attn_type must be one of {ATTN_TYPES}, got {self.attn_type!r}")
        check_probability("dropout", self.dropout)
        check_probability("summary_last_dropout", self.summary_last_dropout)
        check_non_negative("layer_norm_eps", self.layer_norm_eps)
        check_non_negative("initializer_range", self.initializer_range)
        for name in ("mem_len", "reuse_len"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name), minimum=0)
        if isinstance(self.clamp_len, bool) or not isinstance(self.clamp_len, int):
            raise ValueError(f"clamp_len must be an integer (-1 or 0: no clamping), got {self.clamp_len!r}")
        for name in ("bi_data", "same_length"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.summary_type not in SUMMARY_TYPES:
            raise ValueError(f"summary_type must be one of {SUMMARY_TYPES}, got {self.summary_type!r}")
        check_int("start_n_top", self.start_n_top)
        check_int("end_n_top", self.end_n_top)
