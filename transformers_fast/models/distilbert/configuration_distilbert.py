"""DistilBertConfig: the constructor of pytorch-transformers 1.2.0 (dim, n_layers, n_heads, ...)."""
from __future__ import annotations

from typing import Any, Dict

from transformers_fast.configuration_utils import (ENCODER_ACTIVATIONS, PretrainedConfig, check_int, check_non_negative,
                                                   check_optional_index, check_probability, check_vocab_size_argument,
                                                   read_json_config)

DISTILBERT_PRETRAINED_MODEL_ARCHIVE_MAP: Dict[str, str] = {
    "distilbert-base-uncased": "distilbert/distilbert-base-uncased",
    "distilbert-base-uncased-distilled-squad": "distilbert/distilbert-base-uncased-distilled-squad",
}
DISTILBERT_PRETRAINED_CONFIG_ARCHIVE_MAP = DISTILBERT_PRETRAINED_MODEL_ARCHIVE_MAP


class DistilBertConfig(PretrainedConfig):
    model_type = "distilbert"
    pretrained_config_archive_map = DISTILBERT_PRETRAINED_CONFIG_ARCHIVE_MAP
    attribute_map = {"hidden_size": "dim", "num_attention_heads": "n_heads", "num_hidden_layers": "n_layers"}

    @classmethod
    def transformers_fields(cls, config_dict):
        """transformers' DistilBertForMaskedLM applies config.activation in its head, where 1.2.0's applies GELU
        whatever the activation: a config transformers wrote keeps its meaning (mlm_head_activation; absent, as
        in 1.2.0's configs: GELU)."""
        return {"mlm_head_activation": config_dict.get("mlm_head_activation", config_dict.get("activation", "gelu"))}

    def __init__(self, vocab_size_or_config_json_file=30522, max_position_embeddings=512, sinusoidal_pos_embds=True,
                 n_layers=6, n_heads=12, dim=768, hidden_dim=4 * 768, dropout=0.1, attention_dropout=0.1,
                 activation="gelu", initializer_range=0.02, tie_weights_=True, qa_dropout=0.1,
                 seq_classif_dropout=0.2, **kwargs: Any):
        if "vocab_size" in kwargs:
            vocab_size_or_config_json_file = kwargs.pop("vocab_size")
        check_vocab_size_argument(vocab_size_or_config_json_file)
        kwargs.setdefault("pad_token_id", 0)
        super().__init__(**kwargs)
        if isinstance(vocab_size_or_config_json_file, str):
            read_json_config(self, vocab_size_or_config_json_file)
            return
        self.vocab_size = vocab_size_or_config_json_file
        self.max_position_embeddings = max_position_embeddings
        self.sinusoidal_pos_embds = sinusoidal_pos_embds
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.dim = dim
        self.hidden_dim = hidden_dim
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.activation = activation
        self.initializer_range = initializer_range
        self.tie_weights_ = tie_weights_
        self.qa_dropout = qa_dropout
        self.seq_classif_dropout = seq_classif_dropout

    def validate(self) -> None:
        super().validate()
        for name in ("vocab_size", "max_position_embeddings", "n_layers", "n_heads", "dim", "hidden_dim"):
            check_int(name, getattr(self, name))
        if self.dim % self.n_heads:
            raise ValueError(f"dim ({self.dim}) must be a multiple of n_heads ({self.n_heads})")
        for name in ("dropout", "attention_dropout", "qa_dropout", "seq_classif_dropout"):
            check_probability(name, getattr(self, name))
        check_non_negative("initializer_range", self.initializer_range)
        check_optional_index("pad_token_id", self.pad_token_id, self.vocab_size)
        for name in ("activation", "mlm_head_activation"):
            value = getattr(self, name, None)
            if (value is not None or name == "activation") and value not in ENCODER_ACTIVATIONS:
                raise ValueError(f"{name} must be one of {ENCODER_ACTIVATIONS}, got {value!r}")
