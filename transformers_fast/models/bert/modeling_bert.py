"""BERT: the classes of pytorch-transformers 1.2.0 with their call signatures and output tuples.

The encoder itself (embeddings, layers, pooler, LM heads) is encoder_modules.py, shared with RoBERTa; its 1.2.0
names are importable from here too. Training (and head_mask / output_attentions) runs the plain torch path,
equal to the reference; inference in eval mode runs the padding-free fast path of runtime/encoder.py.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from transformers_fast.encoder_modules import (  # noqa: F401  (the 1.2.0 names of modeling_bert)
    ACT2FN, BertAttention, BertEmbeddings, BertEncoder, BertFastPath, BertIntermediate, BertLayer, BertLayerNorm,
    BertLMPredictionHead, BertOnlyMLMHead, BertOnlyNSPHead, BertOutput, BertPooler, BertPredictionHeadTransform,
    BertPreTrainingHeads, BertSelfAttention, BertSelfOutput, EncoderModel, EncoderPreTrainedModel, gelu)
from transformers_fast.modeling_outputs import (BertForPreTrainingOutput, MaskedLMOutput, MultipleChoiceModelOutput,
                                                NextSentencePredictorOutput, QuestionAnsweringModelOutput,
                                                SequenceClassifierOutput, TokenClassifierOutput)
from transformers_fast.modeling_utils import (assign_tf_weights, check_one_input, loss_ignoring_negative, split_indexed,
                                              tf_checkpoint_arrays)
from transformers_fast.modules import classification_loss, classifier_dropout, span_loss, token_classification_loss
from transformers_fast.models.bert.configuration_bert import BERT_PRETRAINED_MODEL_ARCHIVE_MAP, BertConfig


# Optimiser slots of Google's BERT checkpoints, not weights.
_TF_OPTIMIZER_NAMES = {"adam_v", "adam_m", "AdamWeightDecayOptimizer", "AdamWeightDecayOptimizer_1", "global_step"}
_TF_RENAMES = {"kernel": "weight", "gamma": "weight", "output_weights": "weight", "output_bias": "bias",
               "beta": "bias", "squad": "classifier"}


def _bert_tf_parameter(tf_name: str):
    """'bert/encoder/layer_3/attention/self/query/kernel' -> ('bert.encoder.layer.3.attention.self.query.weight',
    transposed), as 1.2.0 names it; None for optimiser slots."""
    parts = tf_name.split("/")
    if any(part in _TF_OPTIMIZER_NAMES for part in parts):
        return None
    path = []
    for part in parts:
        head, *index = split_indexed(part, r"[A-Za-z]+_\d+")
        path += [_TF_RENAMES.get(head, head)] + index
    if parts[-1].endswith("_embeddings"):
        path.append("weight")
    return ".".join(path), parts[-1] == "kernel"


def load_tf_weights_in_bert(model, config, tf_checkpoint_path):
    """Reads a TensorFlow BERT checkpoint (Google's names) into model; needs TensorFlow."""
    return assign_tf_weights(model, tf_checkpoint_arrays(tf_checkpoint_path), _bert_tf_parameter)


class BertPreTrainedModel(EncoderPreTrainedModel):
    """Weight initialisation and loading shared by the BERT classes."""

    config_class = BertConfig
    pretrained_model_archive_map = BERT_PRETRAINED_MODEL_ARCHIVE_MAP
    base_model_prefix = "bert"
    tied_head_keys = ("cls.predictions.decoder.weight",)
    load_tf_weights = load_tf_weights_in_bert


class BertModel(BertPreTrainedModel, EncoderModel):
    """Outputs: last_hidden_state, pooler_output, (hidden_states), (attentions).

    In eval mode without autograd the padding-free path runs (see runtime/encoder.py): real positions and
    position 0 (what the pooler reads, padding or not) equal the reference; the other padded positions of
    last_hidden_state / hidden_states are 0 (`model.fast.enabled = False` gives the reference's values there
    too)."""


class BertForPreTraining(BertPreTrainedModel):
    """Outputs: (loss), prediction_scores, seq_relationship_scores, (hidden_states), (attentions)."""

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.bert = BertModel(config)
        self.cls = BertPreTrainingHeads(config)
        self.init_weights()

    def get_output_embeddings(self):
        return self.cls.predictions.decoder

    def _resize_output_bias(self, new_num_tokens):
        self.cls.predictions.bias = self._resized_bias(self.cls.predictions.bias, new_num_tokens)

    def forward(self, input_ids=None, token_type_ids=None, attention_mask=None, masked_lm_labels=None,
                next_sentence_label=None, position_ids=None, head_mask=None, output_attentions=None,
                output_hidden_states=None, labels=None, inputs_embeds=None):
        masked_lm_labels = labels if masked_lm_labels is None else masked_lm_labels
        with self.bert.fast.reference_path(masked_lm_labels is not None or next_sentence_label is not None), \
                self.bert.fast.every_position():
            outputs = self.bert(input_ids, token_type_ids, attention_mask, position_ids, head_mask,
                                output_attentions, output_hidden_states, inputs_embeds=inputs_embeds)
        prediction_scores, seq_relationship_score = self.cls(outputs[0], outputs[1])
        loss = None
        if masked_lm_labels is not None and next_sentence_label is not None:
            loss = (loss_ignoring_negative(prediction_scores, masked_lm_labels)
                    + loss_ignoring_negative(seq_relationship_score, next_sentence_label))
        return BertForPreTrainingOutput(loss=loss, prediction_logits=prediction_scores,
                                        seq_relationship_logits=seq_relationship_score,
                                        hidden_states=outputs.hidden_states, attentions=outputs.attentions)


class BertForMaskedLM(BertPreTrainedModel):
    """Outputs: (masked_lm_loss), prediction_scores, (hidden_states), (attentions)."""

    missing_keys_expected = (r"^bert\.pooler\.",)  # transformers saves this head without the pooler

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.bert = BertModel(config)
        self.cls = BertOnlyMLMHead(config)
        self.init_weights()

    def get_output_embeddings(self):
        return self.cls.predictions.decoder

    def _resize_output_bias(self, new_num_tokens):
        self.cls.predictions.bias = self._resized_bias(self.cls.predictions.bias, new_num_tokens)

    def forward(self, input_ids=None, token_type_ids=None, attention_mask=None, masked_lm_labels=None,
                position_ids=None, head_mask=None, output_attentions=None, output_hidden_states=None, labels=None,
                inputs_embeds=None, encoder_hidden_states=None, encoder_attention_mask=None):
        # (encoder_*: transformers' decoder inputs, which its encoder ignores as ours does)
        masked_lm_labels = labels if masked_lm_labels is None else masked_lm_labels
        with self.bert.fast.reference_path(masked_lm_labels is not None), self.bert.fast.every_position():
            outputs = self.bert(input_ids, token_type_ids, attention_mask, position_ids, head_mask,
                                output_attentions, output_hidden_states, inputs_embeds=inputs_embeds)
        prediction_scores = self.cls(outputs[0])
        loss = None if masked_lm_labels is None else loss_ignoring_negative(prediction_scores, masked_lm_labels)
        return MaskedLMOutput(loss=loss, logits=prediction_scores, hidden_states=outputs.hidden_states,
                              attentions=outputs.attentions)


class BertForNextSentencePrediction(BertPreTrainedModel):
    """Outputs: (next_sentence_loss), seq_relationship_scores, (hidden_states), (attentions)."""

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.bert = BertModel(config)
        self.cls = BertOnlyNSPHead(config)
        self.init_weights()

    def forward(self, input_ids=None, token_type_ids=None, attention_mask=None, next_sentence_label=None,
                position_ids=None, head_mask=None, output_attentions=None, output_hidden_states=None, labels=None,
                inputs_embeds=None):
        next_sentence_label = labels if next_sentence_label is None else next_sentence_label
        with self.bert.fast.reference_path(next_sentence_label is not None):
            outputs = self.bert(input_ids, token_type_ids, attention_mask, position_ids, head_mask,
                                output_attentions, output_hidden_states, inputs_embeds=inputs_embeds)
        scores = self.cls(outputs[1])
        loss = None if next_sentence_label is None else loss_ignoring_negative(scores, next_sentence_label)
        return NextSentencePredictorOutput(loss=loss, logits=scores, hidden_states=outputs.hidden_states,
                                           attentions=outputs.attentions)


class BertForSequenceClassification(BertPreTrainedModel):
    """Outputs: (loss), logits, (hidden_states), (attentions)."""

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = BertModel(config)
        self.dropout = nn.Dropout(classifier_dropout(config))
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.init_weights()

    def forward(self, input_ids=None, token_type_ids=None, attention_mask=None, labels=None, position_ids=None,
                head_mask=None, output_attentions=None, output_hidden_states=None, inputs_embeds=None):
        with self.bert.fast.reference_path(labels is not None):
            outputs = self.bert(input_ids, token_type_ids, attention_mask, position_ids, head_mask,
                                output_attentions, output_hidden_states, inputs_embeds=inputs_embeds)
        logits = self.classifier(self.dropout(outputs[1]))
        loss = None if labels is None else classification_loss(logits, labels, self.num_labels,
                                                                  getattr(self.config, "problem_type", None))
        return SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states,
                                        attentions=outputs.attentions)


class BertForMultipleChoice(BertPreTrainedModel):
    """Inputs of shape [batch, num_choices, sequence] (inputs_embeds [batch, num_choices, sequence, hidden]).
    Outputs: (loss), logits [batch, num_choices], ..."""

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.bert = BertModel(config)
        self.dropout = nn.Dropout(classifier_dropout(config))
        self.classifier = nn.Linear(config.hidden_size, 1)
        self.init_weights()

    def forward(self, input_ids=None, token_type_ids=None, attention_mask=None, labels=None, position_ids=None,
                head_mask=None, output_attentions=None, output_hidden_states=None, inputs_embeds=None):
        check_one_input(input_ids, inputs_embeds)
        name, given = ("input_ids", input_ids) if inputs_embeds is None else ("inputs_embeds", inputs_embeds)
        dims = 3 if inputs_embeds is None else 4
        if not isinstance(given, torch.Tensor) or given.dim() != dims:
            raise ValueError(f"{name} of a multiple-choice model must be a tensor of shape [batch, num_choices, "
                             f"sequence{'' if dims == 3 else ', hidden'}], got {getattr(given, 'shape', type(given))}")
        shape = given.shape[:3]
        num_choices = shape[1]
        if num_choices == 0:
            raise ValueError(f"{name} has no choices (shape {tuple(given.shape)})")
        # explicit rows: an empty sequence reaches BertModel's clear error (a -1 is ambiguous there); products, not
        # Size.numel(), which would fix the sizes of an exported graph
        rows = (shape[0] * num_choices, shape[2])

        def flat(t, arg):
            if t is None:
                return None
            if t.shape[-1] != shape[2] or t.numel() != rows[0] * rows[1]:
                raise ValueError(f"{arg} has shape {tuple(t.shape)} but {name} has shape {tuple(given.shape)}")
            return t.reshape(rows)

        with self.bert.fast.reference_path(labels is not None):
            outputs = self.bert(flat(input_ids, "input_ids"), flat(token_type_ids, "token_type_ids"),
                                flat(attention_mask, "attention_mask"), flat(position_ids, "position_ids"), head_mask,
                                output_attentions, output_hidden_states,
                                inputs_embeds=None if inputs_embeds is None else given.reshape(rows + given.shape[3:]))
        logits = self.classifier(self.dropout(outputs[1])).view(-1, num_choices)
        loss = None if labels is None else F.cross_entropy(logits, labels)
        return MultipleChoiceModelOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states,
                                         attentions=outputs.attentions)


class BertForTokenClassification(BertPreTrainedModel):
    """Outputs: (loss), scores [batch, sequence, num_labels], (hidden_states), (attentions)."""

    missing_keys_expected = (r"^bert\.pooler\.",)  # transformers saves this head without the pooler

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = BertModel(config)
        self.dropout = nn.Dropout(classifier_dropout(config))
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.init_weights()

    def forward(self, input_ids=None, token_type_ids=None, attention_mask=None, labels=None, position_ids=None,
                head_mask=None, output_attentions=None, output_hidden_states=None, inputs_embeds=None):
        with self.bert.fast.reference_path(labels is not None), self.bert.fast.every_position():
            outputs = self.bert(input_ids, token_type_ids, attention_mask, position_ids, head_mask,
                                output_attentions, output_hidden_states, inputs_embeds=inputs_embeds)
        logits = self.classifier(self.dropout(outputs[0]))
        # 1.2.0 counts the positions whose attention_mask is 1, transformers every label (see BertConfig)
        loss_mask = attention_mask if getattr(self.config, "token_classification_loss_masked", True) else None
        loss = None if labels is None else token_classification_loss(logits, labels, loss_mask, self.num_labels)
        return TokenClassifierOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states,
                                     attentions=outputs.attentions)


class BertForQuestionAnswering(BertPreTrainedModel):
    """Outputs: (loss), start_logits, end_logits, (hidden_states), (attentions)."""

    missing_keys_expected = (r"^bert\.pooler\.",)  # transformers saves this head without the pooler

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = BertModel(config)
        self.qa_outputs = nn.Linear(config.hidden_size, config.num_labels)
        self.init_weights()

    def forward(self, input_ids=None, token_type_ids=None, attention_mask=None, start_positions=None,
                end_positions=None, position_ids=None, head_mask=None, output_attentions=None,
                output_hidden_states=None, inputs_embeds=None):
        with self.bert.fast.reference_path(start_positions is not None), self.bert.fast.every_position():
            outputs = self.bert(input_ids, token_type_ids, attention_mask, position_ids, head_mask,
                                output_attentions, output_hidden_states, inputs_embeds=inputs_embeds)
        logits = self.qa_outputs(outputs[0])
        start_logits, end_logits = logits.split(1, dim=-1)
        start_logits, end_logits = start_logits.squeeze(-1), end_logits.squeeze(-1)
        loss = None
        if start_positions is not None and end_positions is not None:
            loss = span_loss(start_logits, end_logits, start_positions, end_positions)
        return QuestionAnsweringModelOutput(loss=loss, start_logits=start_logits, end_logits=end_logits,
                                            hidden_states=outputs.hidden_states, attentions=outputs.attentions)


# The remaining module-level names of 1.2.0's modeling module.
from transformers_fast.file_utils import CONFIG_NAME, WEIGHTS_NAME  # noqa: E402,F401
BERT_START_DOCSTRING = "BERT: a model of pytorch-transformers 1.2.0, run by transformers_fast.\n"
BERT_INPUTS_DOCSTRING = "Inputs: as the forward() of the same class in pytorch-transformers 1.2.0.\n"
from transformers_fast.models.bert.configuration_bert import BERT_PRETRAINED_CONFIG_ARCHIVE_MAP  # noqa: E402,F401
swish = F.silu  # 1.2.0's x * sigmoid(x)
