"""Padding-free inference path of the post-LayerNorm encoders (BERT, RoBERTa, DistilBERT).

A padded batch is packed to its real tokens ([tokens, hidden] with cumulative sequence offsets), every
per-token op runs on the packed buffer, attention runs per sequence, and the result is scattered back once.
Per layer: one fused QKV projection (the three weights concatenated), fused attention, the output projection
with its bias folded into residual+LayerNorm, the FFN input projection with GELU in its epilogue, and the
FFN output projection with residual+LayerNorm fused again.

Padded positions: the reference lets padding tokens attend to the real ones and returns those values; this
path never computes them and returns zeros at padded positions of last_hidden_state and hidden_states (heads
applied on top see zeros there). Real positions equal the reference. Set `model.fast.enabled = False` (or
use the training path) to get the reference's values at padded positions too.

Losses (labels given) are computed on the reference path, since a loss may read padded positions.
Used only when the result cannot need autograd (eval mode with grad disabled, or no parameter requiring
grad), without head_mask and output_attentions. Packed weights are derived from the parameters, never saved,
and rebuilt when a parameter is replaced or modified in place (version counters), or after train()/to().
"""
from __future__ import annotations

import contextlib
import math
import threading
from typing import List, NamedTuple, Optional

import torch
from torch import nn
from torch.nn import functional as F

from transformers_fast import ops
from transformers_fast.modeling_utils import FastPath

HAS_ATTENTION = hasattr(ops, "attention")
HAS_LAYER_NORM = hasattr(ops, "add_layer_norm")
HAS_PACKED_LINEAR = hasattr(ops, "PackedLinear")


class Projection:
    """y = x W^T (+ b) (then GELU), prepacked by ops.PackedLinear when available."""

    def __init__(self, weight: torch.Tensor, bias: Optional[torch.Tensor], gelu: bool = False):
        self.gelu = gelu
        self.weight = weight.detach().contiguous()
        self.bias = None if bias is None else bias.detach().contiguous()
        self.packed = None
        if HAS_PACKED_LINEAR:
            self.packed = ops.PackedLinear(self.weight, self.bias, activation="gelu" if gelu else None)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.packed is not None:
            return self.packed(x)
        y = F.linear(x, self.weight, self.bias)
        return F.gelu(y) if self.gelu else y


def add_layer_norm(x, residual, weight, bias, eps, x_bias=None):
    """LayerNorm(x + x_bias + residual)."""
    if HAS_LAYER_NORM:
        return ops.add_layer_norm(x, residual, weight, bias, eps, x_bias=x_bias)
    if x_bias is not None:
        x = x + x_bias
    return F.layer_norm(x + residual, (x.shape[-1],), weight, bias, eps)


def packed_attention(q, k, v, cu_seqlens, max_seqlen: int, scale: float) -> torch.Tensor:
    """Attention within each sequence of the packed [tokens, heads, head_dim] q, k, v."""
    if HAS_ATTENTION:
        return ops.attention(q, k, v, scale=scale, cu_seqlens=cu_seqlens, max_seqlen=max_seqlen)
    out = torch.empty(q.shape, dtype=q.dtype, device=q.device)
    offsets = cu_seqlens.tolist()
    for start, end in zip(offsets[:-1], offsets[1:]):
        if end > start:
            seq = [t[start:end].transpose(0, 1).unsqueeze(0) for t in (q, k, v)]
            out[start:end] = F.scaled_dot_product_attention(*seq, scale=scale)[0].transpose(0, 1)
    return out


class LayerWeights(NamedTuple):
    qkv: Projection
    out: Projection
    out_bias: torch.Tensor
    ln1: tuple  # (weight, bias, eps)
    ffn_in: Projection
    activation: Optional[object]  # applied after ffn_in when it could not be fused
    ffn_out: Projection
    ffn_out_bias: torch.Tensor
    ln2: tuple
    heads: int
    head_dim: int


class EncoderFastPath(FastPath):
    """Shared by the families; subclasses say where the weights of each part are."""

    enabled = True

    def __init__(self, model: nn.Module):
        self.model = model
        self._layers: Optional[List[LayerWeights]] = None
        self._watched: list = []
        self._built_versions = None
        self._forced = threading.local()  # per thread: concurrent callers do not see each other's choice

    # ---- what a family provides ----
    def layer_parts(self, layer: nn.Module) -> dict:
        raise NotImplementedError

    def embed(self, ids, positions, token_types) -> torch.Tensor:
        raise NotImplementedError

    def position_ids(self, input_ids):
        raise NotImplementedError

    # ---- bookkeeping ----
    def __getstate__(self):
        # Copies and pickles carry no packed weights (they are derived) and no thread-local state.
        return {"model": self.model, "enabled": self.enabled}

    def __setstate__(self, state):
        self.__init__(state["model"])
        self.enabled = state["enabled"]

    def invalidate(self) -> None:
        self._layers = None

    @contextlib.contextmanager
    def reference_path(self, active: bool = True):
        """Runs the model on the reference path inside the block (heads computing a loss use it, since a
        loss may read padded positions)."""
        previous = getattr(self._forced, "on", False)
        self._forced.on = previous or active
        try:
            yield
        finally:
            self._forced.on = previous

    def usable(self, input_ids, attention_mask, head_mask, output_attentions) -> bool:
        model = self.model
        if not self.enabled or getattr(self._forced, "on", False) or model.training:
            return False
        if head_mask is not None or output_attentions:
            return False
        if torch.is_grad_enabled() and any(p.requires_grad for p in model.parameters()):
            return False
        if attention_mask is not None and attention_mask.is_floating_point():
            # a soft mask (values other than 0/1) biases scores partially: only the reference path does that
            if not bool(((attention_mask == 0) | (attention_mask == 1)).all()):
                return False
        return True

    def _versions(self):
        try:
            return [p._version for _, _, p in self._watched]
        except RuntimeError:  # parameters created under inference_mode have no version counter
            return None

    def _stale(self) -> bool:
        """True when a parameter was replaced or modified in place since the packed weights were built."""
        if self._layers is None:
            return True
        for module, name, param in self._watched:
            if module._parameters.get(name) is not param:
                return True
        return self._versions() != self._built_versions

    def layers(self) -> List[LayerWeights]:
        if self._stale():
            self._watched = [(m, n, p) for m in self.model.modules() for n, p in m._parameters.items()
                             if p is not None]
            # Normal tensors even when called under inference_mode, so that their versions can be read.
            with torch.inference_mode(False), torch.no_grad():
                self._layers = [self._build_layer(layer) for layer in self.encoder_layers()]
            self._built_versions = self._versions()
        return self._layers

    def _build_layer(self, layer) -> LayerWeights:
        p = self.layer_parts(layer)
        q, k, v = p["q"], p["k"], p["v"]
        qkv = Projection(torch.cat([q.weight, k.weight, v.weight]), torch.cat([q.bias, k.bias, v.bias]))
        exact_gelu = p["activation"] is F.gelu
        return LayerWeights(
            qkv=qkv, out=Projection(p["o"].weight, None), out_bias=p["o"].bias.detach(),
            ln1=(p["ln1"].weight.detach(), p["ln1"].bias.detach(), p["ln1"].eps),
            ffn_in=Projection(p["ffn_in"].weight, p["ffn_in"].bias, gelu=exact_gelu),
            activation=None if exact_gelu else p["activation"],
            ffn_out=Projection(p["ffn_out"].weight, None), ffn_out_bias=p["ffn_out"].bias.detach(),
            ln2=(p["ln2"].weight.detach(), p["ln2"].bias.detach(), p["ln2"].eps),
            heads=p["heads"], head_dim=p["head_dim"])

    # ---- the forward pass ----
    def __call__(self, input_ids, token_type_ids, attention_mask, position_ids, output_hidden_states):
        with torch.no_grad():
            return self._forward(input_ids, token_type_ids, attention_mask, position_ids, output_hidden_states)

    def _forward(self, input_ids, token_type_ids, attention_mask, position_ids, output_hidden_states):
        layers = self.layers()
        batch, seq = input_ids.shape
        if position_ids is None:
            position_ids = self.position_ids(input_ids)
        position_ids = position_ids.expand(batch, seq)

        index = None
        if attention_mask is not None:
            real = attention_mask != 0
            lengths = real.sum(1)
            if int(lengths.sum()) != batch * seq:
                index = real.reshape(-1).nonzero().squeeze(1)
        if index is None:
            cu_seqlens = torch.arange(0, (batch + 1) * seq, seq, dtype=torch.int64, device=input_ids.device)
            max_seqlen = seq
        else:
            cu_seqlens = torch.zeros(batch + 1, dtype=torch.int64, device=input_ids.device)
            torch.cumsum(lengths, 0, out=cu_seqlens[1:])
            max_seqlen = int(lengths.max())

        def pack(t):
            if t is None:
                return None
            t = t.reshape(-1)
            return t if index is None else t.index_select(0, index)

        x = self.embed(pack(input_ids), pack(position_ids), pack(token_type_ids))
        tokens, hidden = x.shape
        all_hidden = [x] if output_hidden_states else None
        for layer in layers:
            heads, head_dim = layer.heads, layer.head_dim
            width = heads * head_dim  # smaller than hidden when heads were pruned
            qkv = layer.qkv(x)  # [tokens, 3 * width]
            q = qkv[:, :width].view(tokens, heads, head_dim)
            k = qkv[:, width:2 * width].view(tokens, heads, head_dim)
            v = qkv[:, 2 * width:].view(tokens, heads, head_dim)
            context = packed_attention(q, k, v, cu_seqlens, max_seqlen, 1.0 / math.sqrt(head_dim))
            attended = add_layer_norm(layer.out(context.reshape(tokens, width)), x, *layer.ln1,
                                      x_bias=layer.out_bias)
            inner = layer.ffn_in(attended)
            if layer.activation is not None:
                inner = layer.activation(inner)
            x = add_layer_norm(layer.ffn_out(inner), attended, *layer.ln2, x_bias=layer.ffn_out_bias)
            if output_hidden_states:
                all_hidden.append(x)

        def unpack(t):
            if index is None:
                return t.view(batch, seq, hidden)
            out = t.new_zeros(batch * seq, hidden)
            out.index_copy_(0, index, t)
            return out.view(batch, seq, hidden)

        return unpack(x), (tuple(unpack(h) for h in all_hidden) if output_hidden_states else None)


class BertFastPath(EncoderFastPath):
    def encoder_layers(self):
        return self.model.encoder.layer

    def layer_parts(self, layer) -> dict:
        attention = layer.attention
        return dict(q=attention.self.query, k=attention.self.key, v=attention.self.value,
                    o=attention.output.dense, ln1=attention.output.LayerNorm,
                    ffn_in=layer.intermediate.dense, activation=layer.intermediate.intermediate_act_fn,
                    ffn_out=layer.output.dense, ln2=layer.output.LayerNorm,
                    heads=attention.self.num_attention_heads, head_dim=attention.self.attention_head_size)

    def position_ids(self, input_ids):
        return self.model.embeddings.default_position_ids(input_ids)

    def embed(self, ids, positions, token_types):
        emb = self.model.embeddings
        x = F.embedding(ids, emb.word_embeddings.weight) + F.embedding(positions, emb.position_embeddings.weight)
        if token_types is None:
            token_types = torch.zeros_like(ids)
        types = F.embedding(token_types, emb.token_type_embeddings.weight)
        return add_layer_norm(x, types, emb.LayerNorm.weight, emb.LayerNorm.bias, emb.LayerNorm.eps)


class DistilBertFastPath(EncoderFastPath):
    def encoder_layers(self):
        return self.model.transformer.layer

    def layer_parts(self, layer) -> dict:
        attention = layer.attention
        return dict(q=attention.q_lin, k=attention.k_lin, v=attention.v_lin, o=attention.out_lin,
                    ln1=layer.sa_layer_norm, ffn_in=layer.ffn.lin1, activation=layer.ffn.activation,
                    ffn_out=layer.ffn.lin2, ln2=layer.output_layer_norm, heads=attention.n_heads,
                    head_dim=attention.dim // attention.n_heads)

    def position_ids(self, input_ids):
        return torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)

    def embed(self, ids, positions, token_types):
        emb = self.model.embeddings
        x = F.embedding(ids, emb.word_embeddings.weight)
        pos = F.embedding(positions, emb.position_embeddings.weight)
        return add_layer_norm(x, pos, emb.LayerNorm.weight, emb.LayerNorm.bias, emb.LayerNorm.eps)
