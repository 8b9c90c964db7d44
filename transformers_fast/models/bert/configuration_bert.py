"""BertConfig: the constructor of pytorch-transformers 1.2.0, reading transformers' config.json as well."""
from __future__ import annotations

from typing import Any, Dict

from transformers_fast.configuration_utils import (PretrainedConfig, check_int, check_non_negative,
                                                   check_probability, check_vocab_size_argument,
                                                   read_json_config)

BERT_SHORTCUT_NAMES = (
    "bert-base-uncased", "bert-large-uncased", "bert-base-cased", "bert-large-cased",
    "bert-base-multilingual-uncased", "bert-base-multilingual-cased", "bert-base-chinese",
    "bert-base-german-cased", "bert-large-uncased-whole-word-masking", "bert-large-cased-whole-word-masking",
    "bert-large-uncased-whole-word-masking-finetuned-squad", "bert-large-cased-whole-word-masking-finetuned-squad",
    "bert-base-cased-finetuned-mrpc",
)
# The 1.2.0 shortcut names now live under the google-bert organisation of the Hugging Face hub.
BERT_PRETRAINED_MODEL_ARCHIVE_MAP: Dict[str, str] = {name: f"google-bert/{name}" for name in BERT_SHORTCUT_NAMES}
BERT_PRETRAINED_CONFIG_ARCHIVE_MAP = BERT_PRETRAINED_MODEL_ARCHIVE_MAP

ACTIVATIONS = ("gelu", "relu", "swish", "silu", "gelu_new", "gelu_pytorch_tanh")


class BertConfig(PretrainedConfig):
    """Configuration of a BERT model (defaults: bert-base-uncased).

    The first argument is the vocabulary size or, as in 1.2.0, the path of a JSON config file.
    """

    model_type = "bert"
    pretrained_config_archive_map = BERT_PRETRAINED_CONFIG_ARCHIVE_MAP

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
        if isinstance(self.hidden_act, str) and self.hidden_act not in ACTIVATIONS:
            raise ValueError(f"hidden_act must be one of {ACTIVATIONS} or a callable, got {self.hidden_act!r}")
        if not isinstance(self.hidden_act, str) and not callable(self.hidden_act):
            raise ValueError(f"hidden_act must be one of {ACTIVATIONS} or a callable, got {self.hidden_act!r}")
        kind = getattr(self, "position_embedding_type", "absolute")
        if kind not in (None, "absolute"):
            raise ValueError(f"position_embedding_type {kind!r} is not supported (only 'absolute')")
        if getattr(self, "is_decoder", False) or getattr(self, "add_cross_attention", False):
            raise ValueError("BERT as a decoder (is_decoder / add_cross_attention) is not supported")
