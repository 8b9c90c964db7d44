"""RobertaConfig: the BERT encoder's fields with RoBERTa's padding index (1) and shortcut names."""
from __future__ import annotations

from typing import Any, Dict

from transformers_fast.configuration_utils import EncoderConfig

ROBERTA_PRETRAINED_MODEL_ARCHIVE_MAP: Dict[str, str] = {
    "roberta-base": "FacebookAI/roberta-base",
    "roberta-large": "FacebookAI/roberta-large",
    "roberta-large-mnli": "FacebookAI/roberta-large-mnli",
}
ROBERTA_PRETRAINED_CONFIG_ARCHIVE_MAP = ROBERTA_PRETRAINED_MODEL_ARCHIVE_MAP


class RobertaConfig(EncoderConfig):
    """Same fields as BertConfig; pad_token_id (default 1) is the padding index that position ids count from."""

    model_type = "roberta"
    pretrained_config_archive_map = ROBERTA_PRETRAINED_CONFIG_ARCHIVE_MAP
    transformers_defaults = {"bos_token_id": 0, "eos_token_id": 2}

    @classmethod
    def transformers_fields(cls, config_dict):
        """transformers' RoBERTa gives its word and position tables pad_token_id as padding_idx (a row without
        gradient), where 1.2.0's gives the word table 0 (<s> in RoBERTa's vocabulary) and the positions none: a
        config transformers wrote keeps its meaning (embeddings_padding_idx; absent, as in 1.2.0's configs: 1.2.0's)."""
        return {"embeddings_padding_idx": config_dict.get("embeddings_padding_idx", config_dict.get("pad_token_id", 1))}

    def __init__(self, vocab_size_or_config_json_file=30522, *args: Any, **kwargs: Any):
        # *args: BertConfig's positional fields (hidden_size, num_hidden_layers, ...), as 1.2.0's subclass takes them
        kwargs.setdefault("pad_token_id", 1)
        super().__init__(vocab_size_or_config_json_file, *args, **kwargs)

    def validate(self) -> None:
        super().validate()
        pad = self.pad_token_id
        if isinstance(pad, bool) or not isinstance(pad, int) or not 0 <= pad < self.max_position_embeddings - 1:
            raise ValueError(f"pad_token_id must be an integer in [0, max_position_embeddings - 1), got {pad!r}")
