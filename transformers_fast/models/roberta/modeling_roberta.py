"""RoBERTa: BERT with position ids counted from the padding index and its own heads (pytorch-transformers 1.2.0
names and signatures; position ids as transformers computes them, equal to 1.2.0's on right-padded input)."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from transformers_fast.modeling_outputs import MaskedLMOutput, SequenceClassifierOutput
from transformers_fast.encoder_modules import (BertEmbeddings, BertLayerNorm, EncoderModel, EncoderPreTrainedModel,
                                               decode_with_bias, gelu)
from transformers_fast.modeling_utils import loss_ignoring_negative
from transformers_fast.modules import classification_loss, classifier_dropout
from transformers_fast.models.roberta.configuration_roberta import ROBERTA_PRETRAINED_MODEL_ARCHIVE_MAP, RobertaConfig


def position_ids_from_input_ids(input_ids: torch.Tensor, padding_idx: int) -> torch.Tensor:
    """Real tokens get padding_idx+1, padding_idx+2, ... in order; padding tokens get padding_idx."""
    mask = input_ids.ne(padding_idx).int()
    return (torch.cumsum(mask, dim=1).type_as(mask) * mask).long() + padding_idx


def _table_index(index, size: int):
    """index where an embedding table of `size` rows has it (a padding_idx), else None."""
    return index if isinstance(index, int) and 0 <= index < size else None


class RobertaEmbeddings(BertEmbeddings):
    def __init__(self, config: RobertaConfig):
        super().__init__(config)
        self.padding_idx = config.pad_token_id
        # the rows that get no gradient in training: 1.2.0's BertEmbeddings gives the word table 0 and the positions
        # none; a config transformers wrote gives both its pad_token_id (see RobertaConfig.transformers_fields)
        pad = getattr(config, "embeddings_padding_idx", None)
        self.word_embeddings.padding_idx = _table_index(0 if pad is None else pad, config.vocab_size)
        self.position_embeddings.padding_idx = _table_index(pad, config.max_position_embeddings)

    def default_position_ids(self, input_ids: torch.Tensor, inputs_embeds: torch.Tensor = None) -> torch.Tensor:
        if inputs_embeds is None:
            return position_ids_from_input_ids(input_ids, self.padding_idx)
        # no ids to find padding in: every position is real, as transformers counts them
        return super().default_position_ids(None, inputs_embeds) + self.padding_idx + 1

    def max_sequence_length(self) -> int:
        return self.position_embeddings.num_embeddings - self.padding_idx - 1


class RobertaPreTrainedModel(EncoderPreTrainedModel):
    config_class = RobertaConfig
    pretrained_model_archive_map = ROBERTA_PRETRAINED_MODEL_ARCHIVE_MAP
    base_model_prefix = "roberta"
    tied_head_keys = ("lm_head.decoder.weight",)
    checkpoint_key_renames = ((r"(^|\.)lm_head\.decoder\.bias$", r"\1lm_head.bias"),)
    renamed_keys_win = (r"(^|\.)lm_head\.decoder\.bias$",)  # (with untied embeddings the two differ)
    untied_save_aliases = ((r"(^|\.)lm_head\.bias$", r"\1lm_head.decoder.bias"),)

    def resize_token_embeddings(self, new_num_tokens=None, pad_to_multiple_of=None):
        old = self.get_input_embeddings()
        embeddings = super().resize_token_embeddings(new_num_tokens, pad_to_multiple_of)
        if embeddings is not old and getattr(self.config, "embeddings_padding_idx", None) is None:
            embeddings.padding_idx = None  # 1.2.0's new table has no padding_idx: every row trains
        return embeddings


class RobertaModel(RobertaPreTrainedModel, EncoderModel):
    """Outputs: last_hidden_state, pooler_output, (hidden_states), (attentions)."""

    embeddings_class = RobertaEmbeddings

    def __init__(self, config: RobertaConfig):
        EncoderModel.__init__(self, config)
        # 1.2.0 builds and initialises the embeddings a second time here: the same random draws in seeded runs
        self.embeddings = RobertaEmbeddings(config)
        self.init_weights()


class RobertaLMHead(nn.Module):
    def __init__(self, config: RobertaConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.layer_norm = BertLayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, features):
        return decode_with_bias(self.decoder, self.layer_norm(gelu(self.dense(features))), self.bias)


class RobertaForMaskedLM(RobertaPreTrainedModel):
    """Outputs: (masked_lm_loss), prediction_scores, (hidden_states), (attentions)."""

    missing_keys_expected = (r"^roberta\.pooler\.",)  # transformers saves this head without the pooler

    def __init__(self, config: RobertaConfig):
        super().__init__(config)
        self.roberta = RobertaModel(config)
        self.lm_head = RobertaLMHead(config)
        self.init_weights()

    def get_output_embeddings(self):
        return self.lm_head.decoder

    def _resize_output_bias(self, new_num_tokens):
        self.lm_head.bias = self._resized_bias(self.lm_head.bias, new_num_tokens)

    def forward(self, input_ids=None, token_type_ids=None, attention_mask=None, masked_lm_labels=None,
                position_ids=None, head_mask=None, output_attentions=None, output_hidden_states=None, labels=None,
                inputs_embeds=None, encoder_hidden_states=None, encoder_attention_mask=None):
        # (encoder_*: transformers' decoder inputs, which its encoder ignores as ours does)
        masked_lm_labels = labels if masked_lm_labels is None else masked_lm_labels
        with self.roberta.fast.reference_path(masked_lm_labels is not None), self.roberta.fast.every_position():
            outputs = self.roberta(input_ids, token_type_ids, attention_mask, position_ids, head_mask,
                                   output_attentions, output_hidden_states, inputs_embeds=inputs_embeds)
        scores = self.lm_head(outputs[0])
        loss = None if masked_lm_labels is None else loss_ignoring_negative(scores, masked_lm_labels)
        return MaskedLMOutput(loss=loss, logits=scores, hidden_states=outputs.hidden_states,
                              attentions=outputs.attentions)


class RobertaClassificationHead(nn.Module):
    """Sentence classification from the <s> token: dense, tanh, projection."""

    def __init__(self, config: RobertaConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = nn.Dropout(classifier_dropout(config))
        self.out_proj = nn.Linear(config.hidden_size, config.num_labels)

    def forward(self, features):
        x = self.dropout(features[:, 0, :])
        x = self.dropout(torch.tanh(self.dense(x)))
        return self.out_proj(x)


class RobertaForSequenceClassification(RobertaPreTrainedModel):
    """Outputs: (loss), logits, (hidden_states), (attentions)."""

    missing_keys_expected = (r"^roberta\.pooler\.",)  # transformers saves this head without the pooler

    def __init__(self, config: RobertaConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.roberta = RobertaModel(config)
        # not re-initialised: 1.2.0 keeps nn.Linear's own initialisation for this head
        self.classifier = RobertaClassificationHead(config)

    def forward(self, input_ids=None, token_type_ids=None, attention_mask=None, labels=None, position_ids=None,
                head_mask=None, output_attentions=None, output_hidden_states=None, inputs_embeds=None):
        with self.roberta.fast.reference_path(labels is not None):
            outputs = self.roberta(input_ids, token_type_ids, attention_mask, position_ids, head_mask,
                                   output_attentions, output_hidden_states, inputs_embeds=inputs_embeds)
        logits = self.classifier(outputs[0])
        loss = None if labels is None else classification_loss(logits, labels, self.num_labels,
                                                                  getattr(self.config, "problem_type", None))
        return SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states,
                                        attentions=outputs.attentions)


# The remaining module-level names of 1.2.0's modeling module.
from transformers_fast.file_utils import CONFIG_NAME, WEIGHTS_NAME  # noqa: E402,F401
ROBERTA_START_DOCSTRING = "RoBERTa: a model of pytorch-transformers 1.2.0, run by transformers_fast.\n"
ROBERTA_INPUTS_DOCSTRING = "Inputs: as the forward() of the same class in pytorch-transformers 1.2.0.\n"
from transformers_fast.models.roberta.configuration_roberta import ROBERTA_PRETRAINED_CONFIG_ARCHIVE_MAP  # noqa: E402,F401
