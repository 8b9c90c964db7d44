"""BertConfig: the constructor of pytorch-transformers 1.2.0 (fields in configuration_utils.EncoderConfig, shared
with RoBERTa), reading transformers' config.json as well."""
from __future__ import annotations

from typing import Dict

from transformers_fast.configuration_utils import EncoderConfig

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


class BertConfig(EncoderConfig):
    """Configuration of a BERT model (defaults: bert-base-uncased).

    The first argument is the vocabulary size or, as in 1.2.0, the path of a JSON config file.
    """

    model_type = "bert"
    pretrained_config_archive_map = BERT_PRETRAINED_CONFIG_ARCHIVE_MAP

    @classmethod
    def transformers_fields(cls, config_dict):
        """transformers' BertForTokenClassification counts the loss of every label but -100, padded positions
        included, where 1.2.0's counts only the positions whose attention_mask is 1: a config transformers wrote
        keeps its meaning (token_classification_loss_masked False; absent, as in 1.2.0's configs: True)."""
        return {"token_classification_loss_masked": config_dict.get("token_classification_loss_masked", False)}
