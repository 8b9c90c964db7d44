"""DistilBERT: the classes of pytorch-transformers 1.2.0 (names, signatures, output tuples).

Built normally on current torch (1.2.0 needed torch.no_grad() around the constructor for its in-place
sinusoidal table). Inference in eval mode runs the padding-free fast path shared with BERT.
"""
from __future__ import annotations

import copy
import math

import torch
from torch import nn
from torch.nn import functional as F

from transformers_fast import ops
from transformers_fast.modeling_outputs import (BaseModelOutput, MaskedLMOutput, QuestionAnsweringModelOutput,
                                                SequenceClassifierOutput)
from transformers_fast.modeling_utils import (CheckpointedLayers, PreTrainedModel, check_attention_mask,
                                              check_position_ids, check_token_inputs, embedding_rows,
                                              TRANSFORMERS_ACTIVATIONS,
                                              expand_head_mask, has_empty_row, input_shape, loss_ignoring_negative)
from transformers_fast.modules import (classification_loss, create_sinusoidal_embeddings,  # noqa: F401
                                      prune_lin_heads, sinusoidal_table, span_loss)
from transformers_fast.runtime import encoder as fast_encoder
from transformers_fast.models.distilbert.configuration_distilbert import (DISTILBERT_PRETRAINED_MODEL_ARCHIVE_MAP,
                                                                          DistilBertConfig)


def activation_fn(name: str):
    """1.2.0's "gelu" / "relu"; transformers' other names (a config it wrote) as it computes them."""
    return {"gelu": F.gelu, "relu": F.relu}.get(name) or TRANSFORMERS_ACTIVATIONS[name]


class Embeddings(nn.Module):
    def __init__(self, config: DistilBertConfig):
        super().__init__()
        self.sinusoidal = config.sinusoidal_pos_embds
        self.word_embeddings = nn.Embedding(config.vocab_size, config.dim, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.dim)
        if self.sinusoidal:
            self.reset_sinusoidal()
        self.LayerNorm = nn.LayerNorm(config.dim, eps=1e-12)
        self.dropout = nn.Dropout(config.dropout)

    def reset_sinusoidal(self) -> None:
        weight = self.position_embeddings.weight
        if not weight.is_meta:
            with torch.no_grad():
                weight.copy_(sinusoidal_table(weight.shape[0], weight.shape[1]))
        weight.requires_grad = False

    def forward(self, input_ids, input_embeds=None, position_ids=None):
        if input_embeds is None:
            input_embeds = self.word_embeddings(input_ids)
        if position_ids is None:
            position_ids = torch.arange(input_embeds.shape[1], dtype=torch.long, device=input_embeds.device)[None]
        embeddings = input_embeds + self.position_embeddings(position_ids)
        return self.dropout(self.LayerNorm(embeddings))


class MultiHeadSelfAttention(nn.Module):
    def __init__(self, config: DistilBertConfig):
        super().__init__()
        self.n_heads = config.n_heads
        self.dim = config.dim
        self.output_attentions = config.output_attentions  # (1.2.0's; the Transformer's flag decides)
        self.dropout = nn.Dropout(p=config.attention_dropout)
        self.q_lin = nn.Linear(config.dim, config.dim)
        self.k_lin = nn.Linear(config.dim, config.dim)
        self.v_lin = nn.Linear(config.dim, config.dim)
        self.out_lin = nn.Linear(config.dim, config.dim)
        self.pruned_heads = set()

    def prune_heads(self, heads):
        prune_lin_heads(self, heads)

    def forward(self, query, key, value, mask, head_mask=None, output_attentions=False):
        bs, _, _ = query.shape
        k_length = key.shape[1]
        head_size = self.dim // self.n_heads

        def shape(x):  # explicit length: an empty batch runs as in BERT (a -1 is ambiguous with 0 elements)
            return x.view(bs, x.shape[1], self.n_heads, head_size).transpose(1, 2)

        q = shape(self.q_lin(query)) / math.sqrt(head_size)
        k = shape(self.k_lin(key))
        v = shape(self.v_lin(value))
        scores = torch.matmul(q, k.transpose(2, 3))
        masked = (mask == 0).view(bs, 1, 1, k_length).expand_as(scores)
        scores = scores.masked_fill(masked, torch.finfo(scores.dtype).min)
        weights = self.dropout(torch.softmax(scores, dim=-1))
        if head_mask is not None:
            weights = weights * head_mask
        context = torch.matmul(weights, v).transpose(1, 2).contiguous()
        context = context.view(bs, query.shape[1], self.n_heads * head_size)
        context = self.out_lin(context)
        return (context, weights) if output_attentions else (context,)


class FFN(nn.Module):
    def __init__(self, config: DistilBertConfig):
        super().__init__()
        self.dropout = nn.Dropout(p=config.dropout)
        self.lin1 = nn.Linear(config.dim, config.hidden_dim)
        self.lin2 = nn.Linear(config.hidden_dim, config.dim)
        self.activation = activation_fn(config.activation)

    def forward(self, x):
        return self.dropout(self.lin2(self.activation(self.lin1(x))))


class TransformerBlock(nn.Module):
    def __init__(self, config: DistilBertConfig):
        super().__init__()
        # 1.2.0's attributes (its block keeps an unused Dropout too)
        self.n_heads = config.n_heads
        self.dim = config.dim
        self.hidden_dim = config.hidden_dim
        self.dropout = nn.Dropout(p=config.dropout)
        self.activation = config.activation
        self.output_attentions = config.output_attentions  # (the Transformer's flag decides)
        self.attention = MultiHeadSelfAttention(config)
        self.sa_layer_norm = nn.LayerNorm(config.dim, eps=1e-12)
        self.ffn = FFN(config)
        self.output_layer_norm = nn.LayerNorm(config.dim, eps=1e-12)

    def forward(self, x, attn_mask=None, head_mask=None, output_attentions=False):
        sa = self.attention(x, x, x, attn_mask, head_mask, output_attentions)
        sa_output = self.sa_layer_norm(sa[0] + x)
        ffn_output = self.output_layer_norm(self.ffn(sa_output) + sa_output)
        return (ffn_output,) + sa[1:]


class Transformer(CheckpointedLayers, nn.Module):
    def __init__(self, config: DistilBertConfig):
        super().__init__()
        self.n_layers = config.n_layers
        # read at build time and at forward, as in 1.2.0: set here (or on the model) after loading, they count
        self.output_attentions = config.output_attentions
        self.output_hidden_states = config.output_hidden_states
        # one block built and copied, as 1.2.0 does: the same random draws in seeded runs
        block = TransformerBlock(config)
        self.layer = nn.ModuleList([copy.deepcopy(block) for _ in range(config.n_layers)])

    def forward(self, x, attn_mask, head_mask, output_attentions, output_hidden_states):
        all_hidden_states = ()
        all_attentions = ()
        hidden_state = x
        for i, layer_module in enumerate(self.layer):
            if output_hidden_states:
                all_hidden_states += (hidden_state,)
            layer_outputs = self.run_layer(layer_module, hidden_state, attn_mask, head_mask[i], output_attentions)
            hidden_state = layer_outputs[0]
            if output_attentions:
                all_attentions += (layer_outputs[1],)
        if output_hidden_states:
            all_hidden_states += (hidden_state,)
        return hidden_state, (all_hidden_states if output_hidden_states else None), \
            (all_attentions if output_attentions else None)


class DistilBertFastPath(fast_encoder.EncoderFastPath):
    """Where the padding-free encoder finds DistilBERT's weights."""

    def encoder_layers(self):
        return self.model.transformer.layer

    def layer_parts(self, layer) -> dict:
        attention = layer.attention
        return dict(q=attention.q_lin, k=attention.k_lin, v=attention.v_lin, o=attention.out_lin,
                    ln1=layer.sa_layer_norm, ffn_in=layer.ffn.lin1, activation=layer.ffn.activation,
                    ffn_out=layer.ffn.lin2, ln2=layer.output_layer_norm, heads=attention.n_heads,
                    head_dim=attention.dim // attention.n_heads)

    def position_ids(self, input_ids, inputs_embeds=None):
        source = input_ids if inputs_embeds is None else inputs_embeds
        return torch.arange(source.shape[1], device=source.device).unsqueeze(0)

    def embed(self, ids, positions, token_types, words=None):
        emb = self.model.embeddings
        x = emb.word_embeddings(ids) if words is None else words
        pos = F.embedding(positions, emb.position_embeddings.weight)
        return ops.add_layer_norm(x, pos, emb.LayerNorm.weight, emb.LayerNorm.bias, emb.LayerNorm.eps)


class DistilBertPreTrainedModel(PreTrainedModel):
    config_class = DistilBertConfig
    pretrained_model_archive_map = DISTILBERT_PRETRAINED_MODEL_ARCHIVE_MAP
    base_model_prefix = "distilbert"
    tied_head_keys = ("vocab_projector.weight",)
    keys_to_ignore_on_load = (r"embeddings\.position_ids$",)
    prunes_whole_layers = False

    def _init_weights(self, module):
        if isinstance(module, nn.Embedding):
            if module.weight.requires_grad:
                nn.init.normal_(module.weight, mean=0.0, std=self.config.initializer_range)
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=self.config.initializer_range)
        elif isinstance(module, nn.LayerNorm):
            nn.init.zeros_(module.bias)
            nn.init.ones_(module.weight)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)
        if isinstance(module, Embeddings) and module.sinusoidal:
            module.reset_sinusoidal()


def _transformer_switch(name: str) -> property:
    return property(lambda self: getattr(self.transformer, name),
                    lambda self, value: setattr(self.transformer, name, value))


class DistilBertModel(DistilBertPreTrainedModel):
    """Outputs: last_hidden_state, (hidden_states), (attentions)."""

    def __init__(self, config: DistilBertConfig):
        super().__init__(config)
        self.embeddings = Embeddings(config)
        self.transformer = Transformer(config)
        self.fast = DistilBertFastPath(self)
        self.init_weights()

    # 1.2.0 keeps the switches on its Transformer; the model's names read and set them there
    output_attentions = _transformer_switch("output_attentions")
    output_hidden_states = _transformer_switch("output_hidden_states")

    def get_input_embeddings(self):
        return self.embeddings.word_embeddings

    def set_input_embeddings(self, value):
        self.embeddings.word_embeddings = value

    def _prune_heads(self, heads_to_prune):
        for layer, heads in heads_to_prune.items():
            self.transformer.layer[layer].attention.prune_heads(heads)

    def check_inputs(self, input_ids, attention_mask, inputs_embeds=None, position_ids=None):
        """Raises on bad input; returns inputs_embeds in the model's dtype (None when ids are given)."""
        inputs_embeds, name, shape = check_token_inputs(
            input_ids, inputs_embeds, embedding_rows(self.embeddings.word_embeddings), "config.vocab_size",
            self.embeddings.position_embeddings.weight, "dim", self.config.dim)
        if shape[1] == 0:
            raise ValueError(f"{name} is empty: at least one token per sequence is needed")
        max_len = self.embeddings.position_embeddings.num_embeddings
        if position_ids is not None:  # (transformers' argument, which 1.2.0 does not have)
            check_position_ids(position_ids, max_len, name, shape)
        elif shape[1] > max_len:
            raise ValueError(f"{name} has {shape[1]} positions but this model takes at most "
                             f"{max_len} (config.max_position_embeddings)")
        if attention_mask is not None:
            check_attention_mask(attention_mask, shape)
        return inputs_embeds

    def forward(self, input_ids=None, attention_mask=None, head_mask=None, output_attentions=None,
                output_hidden_states=None, inputs_embeds=None, position_ids=None):
        inputs_embeds = self.check_inputs(input_ids, attention_mask, inputs_embeds, position_ids)
        output_attentions = self.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = self.output_hidden_states if output_hidden_states is None else output_hidden_states
        if self.fast.usable(input_ids if inputs_embeds is None else inputs_embeds, attention_mask, head_mask,
                            output_attentions) and not has_empty_row(attention_mask):
            hidden, hidden_states = self.fast(input_ids, None, attention_mask, position_ids, output_hidden_states,
                                              inputs_embeds=inputs_embeds)
            return BaseModelOutput(last_hidden_state=hidden, hidden_states=hidden_states)
        dtype = self.embeddings.position_embeddings.weight.dtype  # (the word table may be int8)
        if attention_mask is None:
            attention_mask = torch.ones(input_shape(input_ids, inputs_embeds)[1], dtype=dtype,
                                        device=self.embeddings.position_embeddings.weight.device)
        head_mask = expand_head_mask(head_mask, len(self.transformer.layer), self.config.n_heads, dtype,
                                     self.config.pruned_heads)
        hidden, hidden_states, attentions = self.transformer(
            self.embeddings(input_ids, inputs_embeds, position_ids), attention_mask, head_mask, output_attentions,
            output_hidden_states)
        return BaseModelOutput(last_hidden_state=hidden, hidden_states=hidden_states, attentions=attentions)


class DistilBertForMaskedLM(DistilBertPreTrainedModel):
    """Outputs: (mlm_loss), prediction_logits, (hidden_states), (attentions)."""

    def __init__(self, config: DistilBertConfig):
        super().__init__(config)
        self.distilbert = DistilBertModel(config)
        self.vocab_transform = nn.Linear(config.dim, config.dim)
        self.vocab_layer_norm = nn.LayerNorm(config.dim, eps=1e-12)
        self.vocab_projector = nn.Linear(config.dim, config.vocab_size)
        self.init_weights()

    def get_output_embeddings(self):
        return self.vocab_projector

    def _resize_output_bias(self, new_num_tokens):
        self.vocab_projector.bias = self._resized_bias(self.vocab_projector.bias, new_num_tokens)

    def forward(self, input_ids=None, attention_mask=None, masked_lm_labels=None, head_mask=None,
                output_attentions=None, output_hidden_states=None, labels=None, inputs_embeds=None, position_ids=None):
        masked_lm_labels = labels if masked_lm_labels is None else masked_lm_labels
        with self.distilbert.fast.reference_path(masked_lm_labels is not None), self.distilbert.fast.every_position():
            outputs = self.distilbert(input_ids, attention_mask, head_mask, output_attentions, output_hidden_states,
                                      inputs_embeds=inputs_embeds, position_ids=position_ids)
        # transformers applies config.activation in this head: a config it wrote names it (mlm_head_activation)
        head = getattr(self.config, "mlm_head_activation", None)
        if head is None:  # 1.2.0: GELU whatever config.activation says (the names it did not take: as transformers)
            head = "gelu" if self.config.activation in ("gelu", "relu") else self.config.activation
        x = activation_fn(head)(self.vocab_transform(outputs[0]))
        logits = self.vocab_projector(self.vocab_layer_norm(x))
        loss = None if masked_lm_labels is None else loss_ignoring_negative(logits, masked_lm_labels)
        return MaskedLMOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states,
                              attentions=outputs.attentions)


class DistilBertForSequenceClassification(DistilBertPreTrainedModel):
    """Outputs: (loss), logits, (hidden_states), (attentions)."""

    def __init__(self, config: DistilBertConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.distilbert = DistilBertModel(config)
        self.pre_classifier = nn.Linear(config.dim, config.dim)
        self.classifier = nn.Linear(config.dim, config.num_labels)
        self.dropout = nn.Dropout(config.seq_classif_dropout)
        self.init_weights()

    def forward(self, input_ids=None, attention_mask=None, labels=None, head_mask=None, output_attentions=None,
                output_hidden_states=None, inputs_embeds=None, position_ids=None):
        with self.distilbert.fast.reference_path(labels is not None):
            outputs = self.distilbert(input_ids, attention_mask, head_mask, output_attentions, output_hidden_states,
                                      inputs_embeds=inputs_embeds, position_ids=position_ids)
        pooled = self.dropout(F.relu(self.pre_classifier(outputs[0][:, 0])))
        logits = self.classifier(pooled)
        loss = None if labels is None else classification_loss(logits, labels, self.num_labels,
                                                                  getattr(self.config, "problem_type", None))
        return SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states,
                                        attentions=outputs.attentions)


class DistilBertForQuestionAnswering(DistilBertPreTrainedModel):
    """Outputs: (loss), start_logits, end_logits, (hidden_states), (attentions)."""

    def __init__(self, config: DistilBertConfig):
        super().__init__(config)
        if config.num_labels != 2:
            raise ValueError(f"DistilBertForQuestionAnswering needs config.num_labels == 2, got {config.num_labels}")
        self.distilbert = DistilBertModel(config)
        self.qa_outputs = nn.Linear(config.dim, config.num_labels)
        self.dropout = nn.Dropout(config.qa_dropout)
        self.init_weights()

    def forward(self, input_ids=None, attention_mask=None, start_positions=None, end_positions=None, head_mask=None,
                output_attentions=None, output_hidden_states=None, inputs_embeds=None, position_ids=None):
        with self.distilbert.fast.reference_path(start_positions is not None), self.distilbert.fast.every_position():
            outputs = self.distilbert(input_ids, attention_mask, head_mask, output_attentions, output_hidden_states,
                                      inputs_embeds=inputs_embeds, position_ids=position_ids)
        logits = self.qa_outputs(self.dropout(outputs[0]))
        start_logits, end_logits = logits.split(1, dim=-1)
        start_logits, end_logits = start_logits.squeeze(-1), end_logits.squeeze(-1)
        loss = None
        if start_positions is not None and end_positions is not None:
            loss = span_loss(start_logits, end_logits, start_positions, end_positions)
        return QuestionAnsweringModelOutput(loss=loss, start_logits=start_logits, end_logits=end_logits,
                                            hidden_states=outputs.hidden_states, attentions=outputs.attentions)


# The remaining module-level names of 1.2.0's modeling module.
from transformers_fast.file_utils import CONFIG_NAME, WEIGHTS_NAME  # noqa: E402,F401
DISTILBERT_START_DOCSTRING = "DistilBERT: a model of pytorch-transformers 1.2.0, run by transformers_fast.\n"
DISTILBERT_INPUTS_DOCSTRING = "Inputs: as the forward() of the same class in pytorch-transformers 1.2.0.\n"
from transformers_fast.models.distilbert.configuration_distilbert import DISTILBERT_PRETRAINED_CONFIG_ARCHIVE_MAP  # noqa: E402,F401


def gelu(x):
    """Exact (erf) GELU, as 1.2.0's DistilBERT computes it."""
    return F.gelu(x)

