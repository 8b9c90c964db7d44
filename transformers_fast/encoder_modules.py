"""The post-LayerNorm encoder of BERT, shared by BERT and RoBERTa (pytorch-transformers 1.2.0 module and
parameter names, so every checkpoint loads by name): embeddings, layers, pooler, LM prediction heads, the
padding-free fast path's view of the weights, and the base model. Training (and head_mask / output_attentions)
runs the plain torch path, equal to the reference; inference in eval mode runs the padding-free fast path of
runtime/encoder.py on the same parameters."""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from transformers_fast import ops
from transformers_fast.modeling_outputs import BaseModelOutputWithPooling
from transformers_fast.modeling_utils import (CheckpointedLayers, PreTrainedModel, broadcast_to_input,
                                              check_attention_mask, check_ids,
                                              check_position_ids, check_token_inputs, embedding_rows,
                                              TRANSFORMERS_ACTIVATIONS,
                                              expand_head_mask, has_empty_row, input_shape, prune_linear_layer)
from transformers_fast.runtime import encoder as fast_encoder
from transformers_fast.runtime.fast_path import autocast_on, intercepts


gelu = F.gelu  # exact (erf) GELU, as BERT was trained with; the fast path fuses this one


def gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    return F.gelu(x, approximate="tanh")


ACT2FN = {**TRANSFORMERS_ACTIVATIONS, "gelu": gelu, "relu": F.relu, "swish": F.silu, "silu": F.silu,
          "gelu_new": gelu_tanh, "gelu_pytorch_tanh": gelu_tanh}

BertLayerNorm = nn.LayerNorm


def activation(name_or_fn):
    return ACT2FN[name_or_fn] if isinstance(name_or_fn, str) else name_or_fn


class BertEmbeddings(nn.Module):
    """word + position + token type embeddings, then LayerNorm and dropout."""

    def __init__(self, config):
        super().__init__()
        pad = getattr(config, "pad_token_id", 0)
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size,
                                            padding_idx=pad if pad is not None and 0 <= pad < config.vocab_size else None)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = BertLayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def default_position_ids(self, input_ids: torch.Tensor, inputs_embeds: torch.Tensor = None) -> torch.Tensor:
        """[batch, seq] positions 0, 1, ... (of the ids, else of the embeddings)."""
        batch, seq = (input_ids if inputs_embeds is None else inputs_embeds).shape[:2]
        device = (input_ids if inputs_embeds is None else inputs_embeds).device
        return torch.arange(seq, dtype=torch.long, device=device).unsqueeze(0).expand(batch, seq)

    def max_sequence_length(self) -> int:
        return self.position_embeddings.num_embeddings

    def forward(self, input_ids, token_type_ids=None, position_ids=None, inputs_embeds=None):
        if position_ids is None:
            position_ids = self.default_position_ids(input_ids, inputs_embeds)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(position_ids)
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)
        embeddings = (inputs_embeds + self.position_embeddings(position_ids)
                      + self.token_type_embeddings(token_type_ids))
        return self.dropout(self.LayerNorm(embeddings))


class BertSelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.num_attention_heads = config.num_attention_heads
        self.attention_head_size = config.hidden_size // config.num_attention_heads
        self.all_head_size = self.num_attention_heads * self.attention_head_size
        self.query = nn.Linear(config.hidden_size, self.all_head_size)
        self.key = nn.Linear(config.hidden_size, self.all_head_size)
        self.value = nn.Linear(config.hidden_size, self.all_head_size)
        self.dropout = nn.Dropout(config.attention_probs_dropout_prob)

    def transpose_for_scores(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(x.shape[:-1] + (self.num_attention_heads, self.attention_head_size)).permute(0, 2, 1, 3)

    def forward(self, hidden_states, attention_mask, head_mask=None, output_attentions=False):
        query = self.transpose_for_scores(self.query(hidden_states))
        key = self.transpose_for_scores(self.key(hidden_states))
        value = self.transpose_for_scores(self.value(hidden_states))
        scores = torch.matmul(query, key.transpose(-1, -2)) / math.sqrt(self.attention_head_size)
        scores = scores + attention_mask
        probs = self.dropout(torch.softmax(scores, dim=-1))
        if head_mask is not None:
            probs = probs * head_mask
        context = torch.matmul(probs, value).permute(0, 2, 1, 3).contiguous()
        context = context.view(context.shape[:-2] + (self.all_head_size,))
        return (context, probs) if output_attentions else (context,)


class BertSelfOutput(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = BertLayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states, input_tensor):
        return self.LayerNorm(self.dropout(self.dense(hidden_states)) + input_tensor)


class BertAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.self = BertSelfAttention(config)
        self.output = BertSelfOutput(config)
        self.pruned_heads = set()

    def prune_heads(self, heads):
        if not heads:
            return
        # already-pruned heads still rebuild the layers, as in 1.2.0 (its random draws, for seeded runs)
        heads = set(heads) - self.pruned_heads
        attn = self.self
        mask = torch.ones(attn.num_attention_heads, attn.attention_head_size, device="cpu")
        for head in heads:
            head = head - sum(1 for h in self.pruned_heads if h < head)
            mask[head] = 0
        index = torch.arange(mask.numel(), device="cpu")[mask.view(-1).eq(1)]  # cpu: also when built on meta
        attn.query = prune_linear_layer(attn.query, index)
        attn.key = prune_linear_layer(attn.key, index)
        attn.value = prune_linear_layer(attn.value, index)
        self.output.dense = prune_linear_layer(self.output.dense, index, dim=1)
        attn.num_attention_heads -= len(heads)
        attn.all_head_size = attn.attention_head_size * attn.num_attention_heads
        self.pruned_heads |= heads

    def forward(self, input_tensor, attention_mask, head_mask=None, output_attentions=False):
        self_outputs = self.self(input_tensor, attention_mask, head_mask, output_attentions)
        return (self.output(self_outputs[0], input_tensor),) + self_outputs[1:]


class BertIntermediate(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.intermediate_act_fn = activation(config.hidden_act)

    def forward(self, hidden_states):
        return self.intermediate_act_fn(self.dense(hidden_states))


class BertOutput(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.intermediate_size, config.hidden_size)
        self.LayerNorm = BertLayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states, input_tensor):
        return self.LayerNorm(self.dropout(self.dense(hidden_states)) + input_tensor)


class BertLayer(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.attention = BertAttention(config)
        self.intermediate = BertIntermediate(config)
        self.output = BertOutput(config)

    def forward(self, hidden_states, attention_mask, head_mask=None, output_attentions=False):
        attention_outputs = self.attention(hidden_states, attention_mask, head_mask, output_attentions)
        attention_output = attention_outputs[0]
        layer_output = self.output(self.intermediate(attention_output), attention_output)
        return (layer_output,) + attention_outputs[1:]


class BertEncoder(CheckpointedLayers, nn.Module):
    def __init__(self, config):
        super().__init__()
        self.output_attentions = config.output_attentions
        self.output_hidden_states = config.output_hidden_states
        self.layer = nn.ModuleList([BertLayer(config) for _ in range(config.num_hidden_layers)])

    def forward(self, hidden_states, attention_mask, head_mask=None, output_attentions=None,
                output_hidden_states=None):
        output_attentions = self.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = self.output_hidden_states if output_hidden_states is None else output_hidden_states
        if head_mask is None:
            head_mask = [None] * len(self.layer)
        all_hidden_states = ()
        all_attentions = ()
        for i, layer_module in enumerate(self.layer):
            if output_hidden_states:
                all_hidden_states += (hidden_states,)
            layer_outputs = self.run_layer(layer_module, hidden_states, attention_mask, head_mask[i], output_attentions)
            hidden_states = layer_outputs[0]
            if output_attentions:
                all_attentions += (layer_outputs[1],)
        if output_hidden_states:
            all_hidden_states += (hidden_states,)
        return hidden_states, (all_hidden_states if output_hidden_states else None), \
            (all_attentions if output_attentions else None)


class BertPooler(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = nn.Tanh()

    def forward(self, hidden_states):
        return self.activation(self.dense(hidden_states[:, 0]))


class BertPredictionHeadTransform(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.transform_act_fn = activation(config.hidden_act)
        self.LayerNorm = BertLayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden_states):
        return self.LayerNorm(self.transform_act_fn(self.dense(hidden_states)))


def decode_with_bias(decoder: nn.Module, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """The MLM heads' output projection: the (tied) decoder's weight with the head's own bias, in one GEMM for a
    float decoder; an int8 decoder (quantize(..., lm_head=True)) runs as a module and the bias is added after, as
    under torch.autocast (1.2.0's order there: a float32 bias added to the autocast logits gives float32), as does a
    decoder with hooks or its own forward (a subclass, an adapter), so that they run."""
    if type(decoder) is nn.Linear and not intercepts(decoder) and not autocast_on(x.device.type):
        return F.linear(x, decoder.weight, bias)
    return decoder(x) + bias


class BertLMPredictionHead(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.transform = BertPredictionHeadTransform(config)
        # Output weights are the input embeddings (tied); the bias is the head's own.
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, hidden_states):
        return decode_with_bias(self.decoder, self.transform(hidden_states), self.bias)


class BertOnlyMLMHead(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.predictions = BertLMPredictionHead(config)

    def forward(self, sequence_output):
        return self.predictions(sequence_output)


class BertOnlyNSPHead(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.seq_relationship = nn.Linear(config.hidden_size, 2)

    def forward(self, pooled_output):
        return self.seq_relationship(pooled_output)


class BertPreTrainingHeads(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.predictions = BertLMPredictionHead(config)
        self.seq_relationship = nn.Linear(config.hidden_size, 2)

    def forward(self, sequence_output, pooled_output):
        return self.predictions(sequence_output), self.seq_relationship(pooled_output)


class BertFastPath(fast_encoder.EncoderFastPath):
    """Where the padding-free encoder finds BERT's (and RoBERTa's) weights."""

    def encoder_layers(self):
        return self.model.encoder.layer

    def pooler_dense(self):
        return self.model.pooler.dense

    def layer_parts(self, layer) -> dict:
        attention = layer.attention
        return dict(q=attention.self.query, k=attention.self.key, v=attention.self.value,
                    o=attention.output.dense, ln1=attention.output.LayerNorm,
                    ffn_in=layer.intermediate.dense, activation=layer.intermediate.intermediate_act_fn,
                    ffn_out=layer.output.dense, ln2=layer.output.LayerNorm,
                    heads=attention.self.num_attention_heads, head_dim=attention.self.attention_head_size)

    def position_ids(self, input_ids, inputs_embeds=None):
        return self.model.embeddings.default_position_ids(input_ids, inputs_embeds)

    def embed(self, ids, positions, token_types, words=None):
        emb = self.model.embeddings
        x = emb.word_embeddings(ids) if words is None else words
        x = x + F.embedding(positions, emb.position_embeddings.weight)
        if token_types is None:
            token_types = torch.zeros_like(positions)
        types = F.embedding(token_types, emb.token_type_embeddings.weight)
        return ops.add_layer_norm(x, types, emb.LayerNorm.weight, emb.LayerNorm.bias, emb.LayerNorm.eps)


class EncoderPreTrainedModel(PreTrainedModel):
    """Weight initialisation and checkpoint names shared by the BERT and RoBERTa classes."""

    # transformers saves the LM head bias a second time as the decoder's bias.
    checkpoint_key_renames = ((r"(^|\.)predictions\.decoder\.bias$", r"\1predictions.bias"),)
    renamed_keys_win = (r"(^|\.)predictions\.decoder\.bias$",)  # (with untied embeddings the two differ)
    untied_save_aliases = ((r"(^|\.)predictions\.bias$", r"\1predictions.decoder.bias"),)
    keys_to_ignore_on_load = (r"embeddings\.position_ids$", r"embeddings\.token_type_ids$")

    def _init_weights(self, module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=self.config.initializer_range)
        elif isinstance(module, nn.LayerNorm):
            nn.init.zeros_(module.bias)
            nn.init.ones_(module.weight)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)


class EncoderModel(EncoderPreTrainedModel):
    """Outputs: last_hidden_state, pooler_output, (hidden_states), (attentions).

    In eval mode without autograd the padding-free path runs (see runtime/encoder.py): real positions and
    position 0 (what the pooler reads, padding or not) equal the reference; the other padded positions of
    last_hidden_state / hidden_states are 0 (`model.fast.enabled = False` gives the reference's values there
    too)."""

    embeddings_class = BertEmbeddings

    def __init__(self, config):
        super().__init__(config)
        self.embeddings = self.embeddings_class(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config)
        self.fast = BertFastPath(self)
        self.init_weights()

    def get_input_embeddings(self):
        return self.embeddings.word_embeddings

    def set_input_embeddings(self, value):
        self.embeddings.word_embeddings = value

    def _prune_heads(self, heads_to_prune):
        for layer, heads in heads_to_prune.items():
            self.encoder.layer[layer].attention.prune_heads(heads)

    def check_inputs(self, input_ids, token_type_ids, attention_mask, position_ids, inputs_embeds=None):
        """Raises on bad input; returns inputs_embeds in the model's dtype (None when ids are given)."""
        config = self.config
        inputs_embeds, name, shape = check_token_inputs(
            input_ids, inputs_embeds, embedding_rows(self.embeddings.word_embeddings), "config.vocab_size",
            self.embeddings.position_embeddings.weight, "hidden", config.hidden_size)
        if shape[1] == 0:
            raise ValueError(f"{name} is empty: at least one token per sequence is needed")
        max_len = self.embeddings.max_sequence_length()
        if shape[1] > max_len and position_ids is None:
            raise ValueError(f"{name} has {shape[1]} positions but this model takes at most "
                             f"{max_len} (config.max_position_embeddings)")
        if token_type_ids is not None:
            check_ids("token_type_ids", token_type_ids, config.type_vocab_size,
                      "the number of token types (config.type_vocab_size)", shape)
        if position_ids is not None:
            check_position_ids(position_ids, self.embeddings.position_embeddings.num_embeddings, name, shape)
        if attention_mask is not None:
            check_attention_mask(attention_mask, shape)
        return inputs_embeds

    def forward(self, input_ids=None, token_type_ids=None, attention_mask=None, position_ids=None, head_mask=None,
                output_attentions=None, output_hidden_states=None, inputs_embeds=None, encoder_hidden_states=None,
                encoder_attention_mask=None, cache=None, past_key_values=None, use_cache=None):
        # (transformers' decoder inputs: an encoder, as every model here, ignores them there too)
        if isinstance(input_ids if inputs_embeds is None else inputs_embeds, torch.Tensor):
            shape = input_shape(input_ids, inputs_embeds)[1]
            attention_mask = broadcast_to_input(attention_mask, shape)
            token_type_ids = broadcast_to_input(token_type_ids, shape)
        inputs_embeds = self.check_inputs(input_ids, token_type_ids, attention_mask, position_ids, inputs_embeds)
        # the config's flags as they were at build time, as in 1.2.0 (changing them later changes nothing)
        output_attentions = self.encoder.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = (self.encoder.output_hidden_states if output_hidden_states is None
                                else output_hidden_states)
        if self.fast.usable(input_ids if inputs_embeds is None else inputs_embeds, attention_mask, head_mask,
                            output_attentions) and not has_empty_row(attention_mask):
            sequence_output, hidden_states = self.fast(input_ids, token_type_ids, attention_mask, position_ids,
                                                       output_hidden_states, inputs_embeds=inputs_embeds)
            return BaseModelOutputWithPooling(last_hidden_state=sequence_output,
                                              pooler_output=self.fast.pool(sequence_output),
                                              hidden_states=hidden_states)

        dtype = self.embeddings.position_embeddings.weight.dtype  # (the word table may be int8)
        if attention_mask is None:
            attention_mask = torch.ones(input_shape(input_ids, inputs_embeds)[1], dtype=dtype,
                                        device=self.embeddings.position_embeddings.weight.device)
        extended_mask = (1.0 - attention_mask[:, None, None, :].to(dtype)) * -10000.0
        head_mask = expand_head_mask(head_mask, len(self.encoder.layer), self.config.num_attention_heads, dtype,
                                     self.config.pruned_heads)
        embedding_output = self.embeddings(input_ids, token_type_ids=token_type_ids, position_ids=position_ids,
                                           inputs_embeds=inputs_embeds)
        sequence_output, hidden_states, attentions = self.encoder(
            embedding_output, extended_mask, head_mask, output_attentions, output_hidden_states)
        return BaseModelOutputWithPooling(last_hidden_state=sequence_output, pooler_output=self.pooler(sequence_output),
                                          hidden_states=hidden_states, attentions=attentions)
