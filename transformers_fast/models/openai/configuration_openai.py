"""OpenAIGPTConfig: the constructor of pytorch-transformers 1.2.0, reading transformers' config.json as well."""
from __future__ import annotations

from typing import Any, Dict

from transformers_fast.configuration_utils import (PretrainedConfig, check_vocab_size_argument, read_json_config,
                                                   validate_gpt_config)

OPENAI_GPT_PRETRAINED_MODEL_ARCHIVE_MAP: Dict[str, str] = {"openai-gpt": "openai-community/openai-gpt"}
OPENAI_GPT_PRETRAINED_CONFIG_ARCHIVE_MAP = OPENAI_GPT_PRETRAINED_MODEL_ARCHIVE_MAP

ACTIVATIONS = ("gelu", "relu", "swish", "silu")


class OpenAIGPTConfig(PretrainedConfig):
    """Configuration of an OpenAI GPT model (defaults: openai-gpt).

    The first argument is the vocabulary size or, as in 1.2.0, the path of a JSON config file.
    """

    model_type = "openai-gpt"
    pretrained_config_archive_map = OPENAI_GPT_PRETRAINED_CONFIG_ARCHIVE_MAP
    attribute_map = {"hidden_size": "n_embd", "num_attention_heads": "n_head", "num_hidden_layers": "n_layer",
                     "max_position_embeddings": "n_positions"}

    def __init__(self, vocab_size_or_config_json_file=40478, n_positions=512, n_ctx=512, n_embd=768, n_layer=12,
                 n_head=12, afn="gelu", resid_pdrop=0.1, embd_pdrop=0.1, attn_pdrop=0.1, layer_norm_epsilon=1e-5,
                 initializer_range=0.02, predict_special_tokens=True, num_labels=1, summary_type="cls_index",
                 summary_use_proj=True, summary_activation=None, summary_proj_to_labels=True,
                 summary_first_dropout=0.1, **kwargs: Any):
        if "vocab_size" in kwargs:  # transformers' name for the first argument
            vocab_size_or_config_json_file = kwargs.pop("vocab_size")
        check_vocab_size_argument(vocab_size_or_config_json_file)
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
        self.afn = afn
        self.resid_pdrop = resid_pdrop
        self.embd_pdrop = embd_pdrop
        self.attn_pdrop = attn_pdrop
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range
        self.predict_special_tokens = predict_special_tokens
        self.summary_type = summary_type
        self.summary_use_proj = summary_use_proj
        self.summary_activation = summary_activation
        self.summary_first_dropout = summary_first_dropout
        self.summary_proj_to_labels = summary_proj_to_labels

    def validate(self) -> None:
        super().validate()
        validate_gpt_config(self)
        if self.afn not in ACTIVATIONS:
            raise ValueError(f"afn must be one of {ACTIVATIONS}, got {self.afn!r}")
