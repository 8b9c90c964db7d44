"""Building blocks and losses shared by several model families (the architecture folders import nothing from
each other): the causal self-attention, MLP, input checks and weight initialisation of OpenAI GPT and GPT-2,
and the heads' losses of pytorch-transformers 1.2.0."""
from __future__ import annotations

import math

import numpy as np
from typing import Optional

import torch
from torch import nn
from torch.nn import functional as F

from transformers_fast.modeling_utils import (Conv1D, check_ids, check_token_inputs, embedding_rows, expand_head_mask,
                                              input_shape,
                                              loss_ignoring_negative, prune_conv1d_layer, prune_linear_layer,
                                              split_indexed)


def gelu(x: torch.Tensor) -> torch.Tensor:
    """tanh approximation of GELU, as GPT and GPT-2 were trained with: one op in float32 (the references' steps
    within rounding); in float16 / bfloat16 (autocast, .half()) the references' steps, each rounded as theirs."""
    if x.dtype in (torch.float16, torch.bfloat16):
        return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * torch.pow(x, 3))))
    return F.gelu(x, approximate="tanh")


class Attention(nn.Module):
    """Causal multi-head self-attention with an optional past (shared by OpenAI GPT and GPT-2)."""

    def __init__(self, nx: int, n_ctx: int, config, scale: bool = False):
        super().__init__()
        self.n_head = config.n_head
        self.split_size = nx
        self.scale = scale
        self.score_divisor = 1.0  # transformers' GPT-2 scale_attn_by_inverse_layer_idx: the layer's index + 1
        # transformers' OpenAI GPT scores future keys -1e4 (not dtype.min like padded keys): with an attention mask
        # a query whose past keys are all padding attends to the real keys after it (set by its Block)
        self.causal_fill = None
        self.c_attn = Conv1D(nx * 3, nx)
        self.c_proj = Conv1D(nx, nx)
        self.attn_dropout = nn.Dropout(config.attn_pdrop)
        self.resid_dropout = nn.Dropout(config.resid_pdrop)
        self.pruned_heads = set()

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # 1.2.0's state_dict holds its causal-mask buffer (older transformers' also masked_bias): dropped, so that
        # model.load_state_dict(torch.load(a 1.2.0 state_dict)) works with strict=True, as it does in 1.2.0
        for name in ("bias", "masked_bias"):
            state_dict.pop(prefix + name, None)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

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
        if self.score_divisor != 1.0:
            scores = scores / self.score_divisor
        nd, ns = scores.shape[-2], scores.shape[-1]
        allowed = torch.ones(nd, ns, dtype=torch.bool, device=scores.device).tril(ns - nd)
        if attention_mask is not None and self.causal_fill is not None:
            scores = scores.masked_fill(~allowed, self.causal_fill)
            allowed = attention_mask
        elif attention_mask is not None:  # [batch, 1, 1, ns] bool, True = attend
            allowed = allowed & attention_mask
        # added, not filled, as transformers masks: a row with no allowed key (padding) is uniform either way, and
        # gradients reach its scores as in transformers' training
        # in the parameters' dtype where higher (autocast): the references' float32 mask promotes the scores there
        scores = scores.to(torch.promote_types(scores.dtype, getattr(self.c_attn, "weight", scores).dtype))
        scores = scores + (~allowed).to(scores.dtype) * torch.finfo(scores.dtype).min
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


def summary_reads_padding(attention_mask, mc_token_ids, input_ids, inputs_embeds, summary_type="cls_index") -> bool:
    """Whether the double-heads models' multiple-choice head reads a padded position (mc_token_ids, else the last
    one). The fused decoder leaves padded positions zero: the reference path runs instead, as the reference
    computes them."""
    given = input_ids if inputs_embeds is None else inputs_embeds
    dims = 1 if inputs_embeds is None else 2
    if not isinstance(attention_mask, torch.Tensor) or not isinstance(given, torch.Tensor) or given.dim() < dims:
        return False  # (bad input raises in the model)
    seq = given.shape[-dims]
    if seq == 0 or attention_mask.dim() == 0 or attention_mask.shape[-1] < seq:
        return False
    real = attention_mask.reshape(-1, attention_mask.shape[-1])[:, -seq:] != 0  # (the new tokens after any past)
    if summary_type != "cls_index":
        # "first", "last" and "mean" index the choices axis of [batch, choices, sequence, hidden] (as both
        # references do), so they read every position of a choice, mc_token_ids unused
        return not bool(real.all())
    if mc_token_ids is None:
        return not bool(real[:, -1].all())
    if not isinstance(mc_token_ids, torch.Tensor) or mc_token_ids.numel() != real.shape[0]:
        return False  # the head raises its own error
    index = mc_token_ids.reshape(-1, 1).to(device=real.device, dtype=torch.long)
    if index.numel() and (bool((index < 0).any()) or bool((index >= seq).any())):
        return False
    return not bool(real.gather(1, index).all())


def refuse_cross_attention(encoder_hidden_states, encoder_attention_mask) -> None:
    """transformers' decoder inputs for cross-attention, which no model here has (its config is refused): transformers'
    GPT-2 raises on them as here; its BERT / RoBERTa encoders ignore them, as ours do by not calling this."""
    if encoder_hidden_states is not None or encoder_attention_mask is not None:
        raise ValueError("encoder_hidden_states / encoder_attention_mask need cross-attention layers "
                         "(config.add_cross_attention=True), which this library does not support")


def kept_positions(hidden: torch.Tensor, logits_to_keep, labels) -> torch.Tensor:
    """transformers' logits_to_keep: the hidden states [batch, seq, hidden] of the positions whose logits are
    wanted (an int n: the last n, 0 all of them; a 1-D tensor: those positions)."""
    if isinstance(logits_to_keep, bool) or not isinstance(logits_to_keep, (int, torch.Tensor)):
        raise TypeError(f"logits_to_keep must be an int or a 1-D tensor of positions, got {logits_to_keep!r}")
    if isinstance(logits_to_keep, int):
        if logits_to_keep < 0:
            raise ValueError(f"logits_to_keep must be >= 0 (0: every position), got {logits_to_keep}")
        if logits_to_keep == 0:
            return hidden
        if labels is not None:
            raise ValueError("labels need the logits of every position: pass logits_to_keep=0 with labels")
        return hidden[:, -logits_to_keep:, :]
    if logits_to_keep.dim() != 1 or logits_to_keep.is_floating_point():
        raise ValueError(f"logits_to_keep as a tensor must be 1-D integer positions, got {logits_to_keep.dtype} "
                         f"of shape {tuple(logits_to_keep.shape)}")
    if labels is not None:
        raise ValueError("labels need the logits of every position: pass logits_to_keep=0 with labels")
    return hidden[:, logits_to_keep.to(hidden.device), :]


def lm_loss_reads_padding(attention_mask, labels) -> bool:
    """Whether the LM loss scores the logits of a padded position (its next label is not ignored). The fused decoder
    leaves padded positions zero: the reference path runs instead, as the reference computes them."""
    if not isinstance(attention_mask, torch.Tensor) or not isinstance(labels, torch.Tensor) or labels.dim() == 0:
        return False
    seq = labels.shape[-1]
    if seq < 2 or attention_mask.dim() == 0 or attention_mask.shape[-1] < seq:
        return False  # (bad input raises in the model)
    padded = attention_mask.reshape(-1, attention_mask.shape[-1])[:, -seq:] == 0  # (the new tokens after any past)
    scored = labels.reshape(-1, seq)[:, 1:] >= 0  # (negative labels are ignored)
    if padded.shape[0] != scored.shape[0]:
        return False
    return bool((padded[:, :-1] & scored.to(padded.device)).any())


class GPTInitWeightsMixin:
    """1.2.0's weight initialisation of OpenAI GPT and GPT-2."""

    def _init_weights(self, module):
        if isinstance(module, (nn.Linear, nn.Embedding, Conv1D)):
            nn.init.normal_(module.weight, mean=0.0, std=self.config.initializer_range)
            if isinstance(module, (nn.Linear, Conv1D)) and module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.zeros_(module.bias)
            nn.init.ones_(module.weight)


class GPTBaseMixin:
    """Input checks and embeddings shared by OpenAIGPTModel and GPT2Model."""

    def check_inputs(self, input_ids, position_ids, token_type_ids, past_length: int = 0, inputs_embeds=None):
        """Raises on bad input; returns inputs_embeds in the model's dtype (None when ids are given)."""
        # (any number of leading dimensions: the double-heads models' [batch, choices, sequence])
        inputs_embeds, name, shape = check_token_inputs(
            input_ids, inputs_embeds, embedding_rows(self.get_input_embeddings()), "config.vocab_size",
            self.get_position_embeddings().weight, "n_embd", self.config.n_embd, max_dims=64)
        if shape[-1] == 0:
            raise ValueError(f"{name} is empty: at least one token per sequence is needed")
        n_positions = self.config.n_positions
        if position_ids is None and past_length + shape[-1] > n_positions:
            raise ValueError(f"{name} has {shape[-1]} positions after {past_length} past ones but this "
                             f"model takes at most {n_positions} (config.n_positions)")
        if position_ids is not None:
            check_ids("position_ids", position_ids, n_positions, "config.n_positions")
            # (1.2.0 views them as [-1, sequence]: one row for every sequence, or one for all)
            rows = position_ids.numel() // max(shape[-1], 1)
            if position_ids.dim() == 0 or position_ids.shape[-1] != shape[-1] or rows not in (1, shape[:-1].numel()):
                raise ValueError(f"position_ids has shape {tuple(position_ids.shape)} but {name} has shape "
                                 f"{tuple(shape)} (position_ids must hold one row of positions per sequence, or one "
                                 f"for all)")
        if token_type_ids is not None:
            # 1.2.0 embeds token types with the token embeddings.
            check_ids("token_type_ids", token_type_ids, embedding_rows(self.get_input_embeddings()),
                      "token types are embedded as tokens", shape)
        return inputs_embeds

    def embed_inputs(self, input_ids, position_ids, token_type_ids, attention_mask, head_mask, past_length: int = 0,
                     inputs_embeds=None):
        """The checks and embeddings that begin both GPT forwards: input ids [..., seq] (or inputs_embeds
        [..., seq, n_embd] in place of the token embeddings) -> (hidden [batch, seq, n_embd] after dropout, the
        key mask [batch, 1, 1, past + seq] (bool, None without a mask), the per-layer head masks, the input
        shape)."""
        inputs_embeds = self.check_inputs(input_ids, position_ids, token_type_ids, past_length, inputs_embeds)
        if attention_mask is not None and not isinstance(attention_mask, torch.Tensor):
            raise TypeError(f"attention_mask must be a torch.Tensor, got {type(attention_mask).__name__}")
        shape = input_shape(input_ids, inputs_embeds)[1]
        seq = shape[-1]
        tokens, positions = self.get_input_embeddings(), self.get_position_embeddings()
        if inputs_embeds is None:
            inputs_embeds = tokens(input_ids.reshape(-1, seq))
        inputs_embeds = inputs_embeds.reshape(-1, seq, inputs_embeds.shape[-1])
        batch = inputs_embeds.shape[0]
        if position_ids is None:
            position_ids = torch.arange(past_length, past_length + seq, dtype=torch.long,
                                        device=positions.weight.device)
        position_ids = position_ids.reshape(-1, seq).expand(batch, seq)
        mask = None
        if attention_mask is not None:
            mask = key_mask(attention_mask.reshape(batch, -1) if attention_mask.dim() > 2 else attention_mask,
                            batch, past_length + seq)
        # (the position table is float: the token table may be int8)
        head_mask = expand_head_mask(head_mask, len(self.h), self.config.n_head, positions.weight.dtype,
                                     self.config.pruned_heads)
        hidden = inputs_embeds + positions(position_ids)
        if token_type_ids is not None:
            hidden = hidden + tokens(token_type_ids.reshape(-1, seq))
        return self.drop(hidden), mask, head_mask, shape

    def _prune_heads(self, heads_to_prune):
        for layer, heads in heads_to_prune.items():
            self.h[layer].attn.prune_heads(heads)


def lm_loss(lm_logits: torch.Tensor, labels: torch.Tensor, in_float32: bool = False) -> torch.Tensor:
    """Next-token cross-entropy: logits at i predict labels at i + 1; labels -1 / -100 are ignored. in_float32: from
    the logits in float32, as transformers' causal LM heads compute it (its double-heads models do not)."""
    if labels.shape != lm_logits.shape[:-1]:
        raise ValueError(f"labels has shape {tuple(labels.shape)}, expected {tuple(lm_logits.shape[:-1])}")
    shifted = lm_logits[..., :-1, :]
    return loss_ignoring_negative(shifted.float() if in_float32 else shifted, labels[..., 1:])


def mc_loss(mc_logits: torch.Tensor, mc_labels: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(mc_logits.reshape(-1, mc_logits.shape[-1]), mc_labels.reshape(-1))


def classifier_dropout(config) -> float:
    """The dropout before a BERT/RoBERTa classifier: transformers' config.classifier_dropout where set, else
    hidden_dropout_prob (1.2.0)."""
    p = getattr(config, "classifier_dropout", None)
    return config.hidden_dropout_prob if p is None else p


def classification_loss(logits: torch.Tensor, labels: torch.Tensor, num_labels: int,
                        problem_type: Optional[str] = None) -> torch.Tensor:
    """1.2.0: mean squared error when there is one label (regression), cross-entropy otherwise. As transformers,
    config.problem_type picks the loss when set, and float labels of several classes are multi-label (binary
    cross-entropy; 1.2.0 raised there)."""
    if problem_type is None:
        if num_labels == 1:
            problem_type = "regression"
        elif labels.dtype in (torch.long, torch.int) or labels.dim() < logits.dim():
            problem_type = "single_label_classification"
        else:
            problem_type = "multi_label_classification"
    if problem_type == "regression":
        if num_labels == 1:
            return F.mse_loss(logits.view(-1), labels.view(-1).to(logits.dtype))
        return F.mse_loss(logits, labels.to(logits.dtype))
    if problem_type == "multi_label_classification":
        return F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))
    if problem_type != "single_label_classification":
        raise ValueError(f"config.problem_type must be None, 'regression', 'single_label_classification' or "
                         f"'multi_label_classification', got {problem_type!r}")
    if labels.is_floating_point():  # (torch's cross_entropy fails on them with a dtype error)
        raise ValueError(f"labels of single-label classification must be class indices (an integer tensor), got "
                         f"{labels.dtype}; float labels of shape [batch, {num_labels}] are multi-label "
                         f"(config.problem_type='multi_label_classification')")
    return F.cross_entropy(logits.view(-1, num_labels), labels.view(-1))


def token_classification_loss(logits, labels, attention_mask, num_labels):
    """1.2.0: with an attention mask only the positions where it is 1 count."""
    if attention_mask is not None:
        active = attention_mask.reshape(-1) == 1
        return F.cross_entropy(logits.reshape(-1, num_labels)[active], labels.reshape(-1)[active])
    return F.cross_entropy(logits.reshape(-1, num_labels), labels.reshape(-1))


def span_loss(start_logits, end_logits, start_positions, end_positions):
    """1.2.0: positions outside the sequence are clamped to its length and ignored."""
    if start_positions.dim() > 1:
        start_positions = start_positions.squeeze(-1)
    if end_positions.dim() > 1:
        end_positions = end_positions.squeeze(-1)
    ignored_index = start_logits.shape[1]
    start_positions = start_positions.clamp(0, ignored_index)
    end_positions = end_positions.clamp(0, ignored_index)
    start_loss = F.cross_entropy(start_logits, start_positions, ignore_index=ignored_index)
    end_loss = F.cross_entropy(end_logits, end_positions, ignore_index=ignored_index)
    return (start_loss + end_loss) / 2


_GPT_TF_RENAMES = {"w": "weight", "g": "weight", "b": "bias"}


def gpt_tf_parameter(tf_name: str):
    """OpenAI's TensorFlow names of GPT and GPT-2 ('model/h3/attn/c_attn/w', ':0' suffix or not) -> the 1.2.0
    parameter ('h.3.attn.c_attn.weight', not transposed: Conv1D keeps TensorFlow's [in, out])."""
    name = tf_name[len("model/"):] if tf_name.startswith("model/") else tf_name
    name = name[:-2] if name.endswith(":0") else name
    path = []
    for part in name.split("/"):
        head, *index = split_indexed(part, r"[A-Za-z]+\d+")
        path += [_GPT_TF_RENAMES.get(head, head)] + index
        if head in ("wte", "wpe"):
            path.append("weight")
    return ".".join(path), False


def sinusoidal_table(n_pos: int, dim: int) -> torch.Tensor:
    """The fixed sin/cos position table of DistilBERT and XLM, computed as 1.2.0 does (same float64 numbers)."""
    position_enc = np.array([[pos / np.power(10000, 2 * (j // 2) / dim) for j in range(dim)] for pos in range(n_pos)])
    out = torch.empty(n_pos, dim)
    out[:, 0::2] = torch.FloatTensor(np.sin(position_enc[:, 0::2]))
    out[:, 1::2] = torch.FloatTensor(np.cos(position_enc[:, 1::2]))
    return out


def create_sinusoidal_embeddings(n_pos, dim, out):
    """Fills `out` [n_pos, dim] with the fixed table and freezes it, as 1.2.0 does (on current torch too, where
    1.2.0's in-place fill of a parameter needed torch.no_grad()); a meta tensor is left to the checkpoint."""
    if not out.is_meta:
        with torch.no_grad():
            out.copy_(sinusoidal_table(n_pos, dim).to(out.dtype))
    out.detach_()
    out.requires_grad = False


def prune_lin_heads(attention: nn.Module, heads) -> None:
    """Prunes `heads` of an attention module with q_lin/k_lin/v_lin/out_lin, n_heads, dim and pruned_heads
    (DistilBERT's and XLM's). Heads pruned before still rebuild the layers, as in 1.2.0 (its random draws, for
    seeded runs)."""
    head_size = attention.dim // attention.n_heads
    if not heads:
        return
    heads = set(heads) - attention.pruned_heads
    mask = torch.ones(attention.n_heads, head_size, device="cpu")  # cpu: also when built on meta
    for head in heads:
        head -= sum(1 for h in attention.pruned_heads if h < head)
        mask[head] = 0
    index = torch.arange(mask.numel(), device="cpu")[mask.view(-1).eq(1)]
    attention.q_lin = prune_linear_layer(attention.q_lin, index)
    attention.k_lin = prune_linear_layer(attention.k_lin, index)
    attention.v_lin = prune_linear_layer(attention.v_lin, index)
    attention.out_lin = prune_linear_layer(attention.out_lin, index, dim=1)
    attention.n_heads -= len(heads)
    attention.dim = head_size * attention.n_heads
    attention.pruned_heads |= heads
