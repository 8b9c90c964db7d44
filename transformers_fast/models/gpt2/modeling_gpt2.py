"""GPT-2: the classes of pytorch-transformers 1.2.0 with their call signatures and output tuples.

Module and parameter names are those of the original checkpoints (Conv1D weights stored [in, out]), so
every state dict loads by name. `past` / `past_key_values` take 1.2.0's presents (per layer a tensor
[2, batch, heads, past_len, head_dim]), today's (key, value) pairs or a transformers Cache; the returned
presents are in 1.2.0's format. The forward pass here is plain torch (training, head_mask, attentions);
`generate` runs the fused decoder of runtime/decoder.py with a preallocated KV cache on the same weights.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
from torch import nn
from torch.nn import functional as F

from transformers_fast.generation import GenerationMixin
from transformers_fast.modeling_outputs import (BaseModelOutputWithPast, CausalLMOutputWithPast,
                                                DoubleHeadsModelOutput)
from transformers_fast.modeling_utils import (Conv1D, PreTrainedModel, SequenceSummary,
                                              check_ids, expand_head_mask, loss_ignoring_negative,
                                              prune_conv1d_layer)
from transformers_fast.runtime import decoder as fast_decoder
from transformers_fast.models.gpt2.configuration_gpt2 import GPT2_PRETRAINED_MODEL_ARCHIVE_MAP, GPT2Config


def gelu(x: torch.Tensor) -> torch.Tensor:
    """tanh approximation of GELU, as GPT and GPT-2 were trained with."""
    return F.gelu(x, approximate="tanh")


class Attention(nn.Module):
    """Causal multi-head self-attention with an optional past (shared by OpenAI GPT and GPT-2)."""

    def __init__(self, nx: int, n_ctx: int, config, scale: bool = False):
        super().__init__()
        self.n_head = config.n_head
        self.split_size = nx
        self.scale = scale
        self.c_attn = Conv1D(nx * 3, nx)
        self.c_proj = Conv1D(nx, nx)
        self.attn_dropout = nn.Dropout(config.attn_pdrop)
        self.resid_dropout = nn.Dropout(config.resid_pdrop)
        self.pruned_heads = set()

    def prune_heads(self, heads):
        if not heads:
            return
        # already-pruned heads still rebuild the layers, as in 1.2.0 (its random draws, for seeded runs)
        heads = set(heads) - self.pruned_heads
        # on the CPU even while a model is built on the meta device (from_pretrained of a pruned checkpoint)
        mask = torch.ones(self.n_head, self.split_size // self.n_head, device="cpu")
        for head in heads:
            head = head - sum(1 for h in self.pruned_heads if h < head)
            mask[head] = 0
        index = torch.arange(mask.numel(), device="cpu")[mask.view(-1).eq(1)]
        index_attn = torch.cat([index, index + self.split_size, index + 2 * self.split_size])
        self.c_attn = prune_conv1d_layer(self.c_attn, index_attn, dim=1)
        self.c_proj = prune_conv1d_layer(self.c_proj, index, dim=0)
        self.split_size = (self.split_size // self.n_head) * (self.n_head - len(heads))
        self.n_head -= len(heads)
        self.pruned_heads |= heads

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(x.shape[:-1] + (self.n_head, x.shape[-1] // self.n_head)).permute(0, 2, 1, 3)

    def forward(self, x, layer_past=None, attention_mask=None, head_mask=None, use_cache=False,
                output_attentions=False):
        query, key, value = self.c_attn(x).split(self.split_size, dim=2)
        query, key, value = self.split_heads(query), self.split_heads(key), self.split_heads(value)
        if layer_past is not None:
            key = torch.cat((layer_past[0], key), dim=-2)
            value = torch.cat((layer_past[1], value), dim=-2)
        present = torch.stack((key, value)) if use_cache else None

        scores = torch.matmul(query, key.transpose(-1, -2))
        if self.scale:
            scores = scores / math.sqrt(value.shape[-1])
        nd, ns = scores.shape[-2], scores.shape[-1]
        allowed = torch.ones(nd, ns, dtype=torch.bool, device=scores.device).tril(ns - nd)
        if attention_mask is not None:  # [batch, 1, 1, ns] bool, True = attend
            allowed = allowed & attention_mask
        scores = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)
        probs = self.attn_dropout(torch.softmax(scores, dim=-1))
        if head_mask is not None:
            probs = probs * head_mask
        context = torch.matmul(probs, value).permute(0, 2, 1, 3).contiguous()
        context = context.view(context.shape[:-2] + (context.shape[-2] * context.shape[-1],))
        out = self.resid_dropout(self.c_proj(context))
        return out, present, (probs if output_attentions else None)


class MLP(nn.Module):
    def __init__(self, n_state: int, config, act=gelu):
        super().__init__()
        nx = config.n_embd
        self.c_fc = Conv1D(n_state, nx)
        self.c_proj = Conv1D(nx, n_state)
        self.act = act
        self.dropout = nn.Dropout(config.resid_pdrop)

    def forward(self, x):
        return self.dropout(self.c_proj(self.act(self.c_fc(x))))


class Block(nn.Module):
    """Pre-LayerNorm block: x + attn(ln_1(x)), then + mlp(ln_2(.))."""

    def __init__(self, n_ctx: int, config, scale: bool = False):
        super().__init__()
        nx = config.n_embd
        self.ln_1 = nn.LayerNorm(nx, eps=config.layer_norm_epsilon)
        self.attn = Attention(nx, n_ctx, config, scale)
        self.ln_2 = nn.LayerNorm(nx, eps=config.layer_norm_epsilon)
        self.mlp = MLP(4 * nx, config)

    def forward(self, x, layer_past=None, attention_mask=None, head_mask=None, use_cache=False,
                output_attentions=False):
        a, present, probs = self.attn(self.ln_1(x), layer_past, attention_mask, head_mask, use_cache,
                                      output_attentions)
        x = x + a
        x = x + self.mlp(self.ln_2(x))
        return x, present, probs


def normalize_past(past, num_layers: int):
    """Per-layer (key, value) from 1.2.0 presents ([2, B, H, S, D] each), (key, value) pairs, or a
    transformers Cache; None when empty."""
    if past is None:
        return None
    layers = getattr(past, "layers", None)  # transformers' DynamicCache
    if layers is not None:
        if len(layers) == 0 or getattr(layers[0], "keys", None) is None or layers[0].keys.numel() == 0:
            return None
        past = [(layer.keys, layer.values) for layer in layers]
    if not isinstance(past, (list, tuple)):
        raise TypeError(f"past must be a list of per-layer tensors [2, batch, heads, seq, head_dim], (key, value) "
                        f"pairs or a transformers Cache, got {type(past).__name__}")
    if len(past) != num_layers:
        raise ValueError(f"past has {len(past)} layers, the model has {num_layers}")
    out = []
    for i, layer in enumerate(past):
        if len(layer) != 2:
            raise ValueError(f"past[{i}] must hold a key and a value, got {len(layer)} entries")
        key, value = layer[0], layer[1]
        if not isinstance(key, torch.Tensor) or key.dim() != 4 or key.shape != value.shape:
            raise ValueError(f"past[{i}] keys and values must be tensors [batch, heads, seq, head_dim] of one shape")
        out.append((key, value))
    return out


def key_mask(attention_mask: Optional[torch.Tensor], batch: int, total: int) -> Optional[torch.Tensor]:
    """[batch, total] 0/1 mask -> [batch, 1, 1, total] bool (True = attend), or None."""
    if attention_mask is None:
        return None
    if not isinstance(attention_mask, torch.Tensor):
        raise TypeError(f"attention_mask must be a torch.Tensor, got {type(attention_mask).__name__}")
    if attention_mask.shape != (batch, total):
        raise ValueError(f"attention_mask has shape {tuple(attention_mask.shape)}, expected {(batch, total)} "
                         f"(batch, past length + sequence length)")
    return (attention_mask != 0)[:, None, None, :]


class GPT2PreTrainedModel(PreTrainedModel):
    """Weight initialisation and loading shared by the GPT-2 classes."""

    config_class = GPT2Config
    pretrained_model_archive_map = GPT2_PRETRAINED_MODEL_ARCHIVE_MAP
    base_model_prefix = "transformer"
    # The causal-mask buffers that older checkpoints saved are rebuilt, not loaded.
    keys_to_ignore_on_load = (r"attn\.bias$", r"attn\.masked_bias$")

    def _init_weights(self, module):
        if isinstance(module, (nn.Linear, nn.Embedding, Conv1D)):
            module.weight.data.normal_(mean=0.0, std=self.config.initializer_range)
            if isinstance(module, (nn.Linear, Conv1D)) and module.bias is not None:
                module.bias.data.zero_()
        elif isinstance(module, nn.LayerNorm):
            module.bias.data.zero_()
            module.weight.data.fill_(1.0)


class GPTBaseMixin:
    """Input checks and embeddings shared by OpenAIGPTModel and GPT2Model."""

    def check_inputs(self, input_ids, position_ids, token_type_ids, past_length: int = 0):
        embeddings = self.get_input_embeddings()
        vocab = embeddings.num_embeddings
        check_ids("input_ids", input_ids, vocab, "the vocabulary size (config.vocab_size)",
                  device=embeddings.weight.device)
        if input_ids.dim() < 2:
            raise ValueError(f"input_ids must have shape [batch, sequence], got {tuple(input_ids.shape)}")
        if input_ids.shape[-1] == 0:
            raise ValueError("input_ids is empty: at least one token per sequence is needed")
        n_positions = self.config.n_positions
        if position_ids is None and past_length + input_ids.shape[-1] > n_positions:
            raise ValueError(f"input_ids has {input_ids.shape[-1]} positions after {past_length} past ones but this "
                             f"model takes at most {n_positions} (config.n_positions)")
        if position_ids is not None:
            check_ids("position_ids", position_ids, n_positions, "config.n_positions")
            if position_ids.shape[-1] != input_ids.shape[-1]:
                raise ValueError(f"position_ids has shape {tuple(position_ids.shape)} but input_ids has shape "
                                 f"{tuple(input_ids.shape)}")
        if token_type_ids is not None:
            # 1.2.0 embeds token types with the token embeddings.
            check_ids("token_type_ids", token_type_ids, vocab, "token types are embedded as tokens", input_ids.shape)


class GPT2Model(GPTBaseMixin, GPT2PreTrainedModel):
    """Outputs: last_hidden_state, presents (when use_cache), (hidden_states), (attentions)."""

    def __init__(self, config: GPT2Config):
        super().__init__(config)
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.n_positions, config.n_embd)
        self.drop = nn.Dropout(config.embd_pdrop)
        self.h = nn.ModuleList([Block(config.n_ctx, config, scale=True) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.init_weights()

    def get_input_embeddings(self):
        return self.wte

    def set_input_embeddings(self, value):
        self.wte = value

    def _prune_heads(self, heads_to_prune):
        for layer, heads in heads_to_prune.items():
            self.h[layer].attn.prune_heads(heads)

    def forward(self, input_ids, position_ids=None, token_type_ids=None, past=None, head_mask=None, *,
                attention_mask=None, past_key_values=None, use_cache=None, output_attentions=None,
                output_hidden_states=None):
        config = self.config
        if past is None:
            past = past_key_values
        past = normalize_past(past, len(self.h))
        past_length = 0 if past is None else past[0][0].shape[-2]
        self.check_inputs(input_ids, position_ids, token_type_ids, past_length)
        use_cache = getattr(config, "use_cache", True) if use_cache is None else use_cache
        output_attentions = config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = config.output_hidden_states if output_hidden_states is None else output_hidden_states

        input_shape = input_ids.shape
        input_ids = input_ids.reshape(-1, input_shape[-1])
        batch, seq = input_ids.shape
        if past is not None and past[0][0].shape[0] != batch:
            raise ValueError(f"past holds {past[0][0].shape[0]} sequences but input_ids has {batch}")
        if position_ids is None:
            position_ids = torch.arange(past_length, past_length + seq, dtype=torch.long, device=input_ids.device)
        position_ids = position_ids.reshape(-1, seq).expand(batch, seq)
        mask = None
        if attention_mask is not None:
            mask = key_mask(attention_mask.reshape(batch, -1) if attention_mask.dim() > 2 else attention_mask,
                            batch, past_length + seq)
        dtype = self.wte.weight.dtype
        head_mask = expand_head_mask(head_mask, len(self.h), config.n_head, dtype)

        hidden = self.wte(input_ids) + self.wpe(position_ids)
        if token_type_ids is not None:
            hidden = hidden + self.wte(token_type_ids.reshape(-1, seq))
        hidden = self.drop(hidden)

        output_shape = tuple(input_shape) + (hidden.shape[-1],)
        presents = () if use_cache else None
        all_hidden = () if output_hidden_states else None
        all_attentions = () if output_attentions else None
        for i, block in enumerate(self.h):
            if output_hidden_states:
                all_hidden += (hidden.view(output_shape),)
            hidden, present, probs = block(hidden, None if past is None else past[i], mask, head_mask[i],
                                           use_cache, output_attentions)
            if use_cache:
                presents += (present,)
            if output_attentions:
                all_attentions += (probs.view(tuple(input_shape[:-1]) + (-1,) + probs.shape[-2:]),)
        hidden = self.ln_f(hidden).view(output_shape)
        if output_hidden_states:
            all_hidden += (hidden,)
        return BaseModelOutputWithPast(last_hidden_state=hidden, past_key_values=presents,
                                       hidden_states=all_hidden, attentions=all_attentions)


def lm_loss(lm_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Next-token cross-entropy: logits at i predict labels at i + 1; labels -1 / -100 are ignored."""
    if labels.shape != lm_logits.shape[:-1]:
        raise ValueError(f"labels has shape {tuple(labels.shape)}, expected {tuple(lm_logits.shape[:-1])}")
    return loss_ignoring_negative(lm_logits[..., :-1, :], labels[..., 1:])


def mc_loss(mc_logits: torch.Tensor, mc_labels: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(mc_logits.reshape(-1, mc_logits.shape[-1]), mc_labels.reshape(-1))


class GPT2LMHeadModel(GenerationMixin, GPT2PreTrainedModel):
    """Outputs: (loss), lm_logits, presents, (hidden_states), (attentions). The LM head is the token
    embedding matrix (tied)."""

    def __init__(self, config: GPT2Config):
        super().__init__(config)
        self.transformer = GPT2Model(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.fast = fast_decoder.DecoderFastPath(self)
        self.init_weights()

    def get_output_embeddings(self):
        return self.lm_head

    def forward(self, input_ids, position_ids=None, token_type_ids=None, labels=None, past=None, head_mask=None, *,
                attention_mask=None, past_key_values=None, use_cache=None, output_attentions=None,
                output_hidden_states=None):
        outputs = self.transformer(input_ids, position_ids, token_type_ids, past, head_mask,
                                   attention_mask=attention_mask, past_key_values=past_key_values,
                                   use_cache=use_cache, output_attentions=output_attentions,
                                   output_hidden_states=output_hidden_states)
        lm_logits = self.lm_head(outputs[0])
        loss = None if labels is None else lm_loss(lm_logits, labels)
        return CausalLMOutputWithPast(loss=loss, logits=lm_logits, past_key_values=outputs.past_key_values,
                                      hidden_states=outputs.hidden_states, attentions=outputs.attentions)


class GPT2DoubleHeadsModel(GPT2PreTrainedModel):
    """Inputs [batch, num_choices, sequence]. Outputs: (lm_loss), (mc_loss), lm_logits, mc_logits, presents,
    (hidden_states), (attentions)."""

    def __init__(self, config: GPT2Config):
        super().__init__(config)
        self.transformer = GPT2Model(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.multiple_choice_head = SequenceSummary(config)
        self.init_weights()

    def get_output_embeddings(self):
        return self.lm_head

    def forward(self, input_ids, mc_token_ids=None, lm_labels=None, mc_labels=None, token_type_ids=None,
                position_ids=None, past=None, head_mask=None, *, attention_mask=None, past_key_values=None,
                use_cache=None, output_attentions=None, output_hidden_states=None, labels=None):
        lm_labels = labels if lm_labels is None else lm_labels
        outputs = self.transformer(input_ids, position_ids, token_type_ids, past, head_mask,
                                   attention_mask=attention_mask, past_key_values=past_key_values,
                                   use_cache=use_cache, output_attentions=output_attentions,
                                   output_hidden_states=output_hidden_states)
        hidden = outputs[0]
        lm_logits = self.lm_head(hidden)
        mc_logits = self.multiple_choice_head(hidden, mc_token_ids).squeeze(-1)
        return DoubleHeadsModelOutput(
            loss=None if lm_labels is None else lm_loss(lm_logits, lm_labels),
            mc_loss=None if mc_labels is None else mc_loss(mc_logits, mc_labels),
            logits=lm_logits, mc_logits=mc_logits, past_key_values=outputs.past_key_values,
            hidden_states=outputs.hidden_states, attentions=outputs.attentions)
