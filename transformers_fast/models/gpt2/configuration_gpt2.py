"""GPT2Config: the constructor of pytorch-transformers 1.2.0, reading transformers' config.json as well."""
from __future__ import annotations

from typing import Any, Dict

from transformers_fast.configuration_utils import (TRANSFORMERS_ACTIVATION_NAMES, PretrainedConfig, check_int,
                                                   check_vocab_size_argument, read_json_config, validate_gpt_config)

GPT2_SHORTCUT_NAMES = ("gpt2", "gpt2-medium", "gpt2-large")
# The 1.2.0 shortcut names now live under the openai-community organisation of the Hugging Face hub.
GPT2_PRETRAINED_MODEL_ARCHIVE_MAP: Dict[str, str] = {name: f"openai-community/{name}" for name in GPT2_SHORTCUT_NAMES}
GPT2_PRETRAINED_CONFIG_ARCHIVE_MAP = GPT2_PRETRAINED_MODEL_ARCHIVE_MAP
# transformers' activation_function values ("gelu": the erf form; "gelu_new": GPT-2's tanh form)
GPT2_ACTIVATION_NAMES = ("gelu",) + TRANSFORMERS_ACTIVATION_NAMES


class GPT2Config(PretrainedConfig):
    """Configuration of a GPT-2 model (defaults: gpt2, 124M parameters).

    The first argument is the vocabulary size or, as in 1.2.0, the path of a JSON config file.
    """

    model_type = "gpt2"
    pretrained_config_archive_map = GPT2_PRETRAINED_CONFIG_ARCHIVE_MAP
    attribute_map = {"hidden_size": "n_embd", "num_attention_heads": "n_head", "num_hidden_layers": "n_layer",
                     "max_position_embeddings": "n_positions"}

    def __init__(self, vocab_size_or_config_json_file=50257, n_positions=1024, n_ctx=1024, n_embd=768, n_layer=12,
                 n_head=12, resid_pdrop=0.1, embd_pdrop=0.1, attn_pdrop=0.1, layer_norm_epsilon=1e-5,
                 initializer_range=0.02, num_labels=1, summary_type="cls_index", summary_use_proj=True,
                 summary_activation=None, summary_proj_to_labels=True, summary_first_dropout=0.1, **kwargs: Any):
        if "vocab_size" in kwargs:  # transformers' name for the first argument
            vocab_size_or_config_json_file = kwargs.pop("vocab_size")
        check_vocab_size_argument(vocab_size_or_config_json_file)
        kwargs.setdefault("bos_token_id", 50256)
        kwargs.setdefault("eos_token_id", 50256)
        kwargs.setdefault("use_cache", True)
        super().__init__(num_labels=num_labels, **kwargs)
        if isinstance(vocab_size_or_config_json_file, str):
            read_json_config(self, vocab_size_or_config_json_file)
            return
        self.vocab_size = vocab_size_or_config_json_file
        self.n_ctx = n_ctx
        self.n_positions = n_positions
        self.n_embd = n_embd
        self.n_layer = n_layer
        self.n_head = n_head
        self.resid_pdrop = resid_pdrop
        self.embd_pdrop = embd_pdrop
        self.attn_pdrop = attn_pdrop
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range
        self.summary_type = summary_type
        self.summary_use_proj = summary_use_proj
        self.summary_activation = summary_activation
        self.summary_first_dropout = summary_first_dropout
        self.summary_proj_to_labels = summary_proj_to_labels

    def validate(self) -> None:
        super().validate()
        validate_gpt_config(self)
        inner = getattr(self, "n_inner", None)
        if inner is not None:
            check_int("n_inner", inner)
        act = getattr(self, "activation_function", "gelu_new")
        if act not in GPT2_ACTIVATION_NAMES:
            raise ValueError(f"activation_function must be one of {GPT2_ACTIVATION_NAMES}, got {act!r}")
        # (reorder_and_upcast_attn only changes the order of float32 operations: taken as it is)
        if getattr(self, "add_cross_attention", False):
            raise ValueError("add_cross_attention=True is not supported")
