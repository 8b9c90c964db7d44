"""Inference fast path of the XLNet layers (two-stream relative attention, post-LayerNorm).

The model's forward prepares what every layer shares (masks, relative position embeddings, segment
differences, memory) in the references' sequence-first layout [len, batch, hidden] and calls `layer(i, ...)`
for each layer. Per layer:
  - one GEMM for q, k and v: the three [d_model, heads, head_dim] einsum weights concatenated into one
    prepacked [3 * heads * head_dim, d_model] matrix, run over memory + input ([klen, batch, d_model]); the
    query rows are the last qlen (with memory the memory rows' queries are computed and not used);
  - one GEMM for the relative position keys, on the position embeddings of one sequence (the references
    project the same rows once per batch entry; with bi_data there are two: forward and backward); these
    depend on the lengths only, so they are kept for the next forwards of the same lengths;
  - ops.relative_attention (content, position and segment scores, XLNet's shift as a gather, mask, softmax,
    weighted values) on strided views of the fused projection, no copies;
  - the output projection, then residual + LayerNorm fused (ops.add_layer_norm);
  - the feed-forward: first GEMM with bias + tanh GELU fused (1.2.0's "gelu"), second GEMM with its bias
    folded into the residual + LayerNorm.
The query stream of two-stream attention (target_mapping given) runs the same way with a query-only GEMM.

A quantized model (transformers_fast.quantize) runs the same steps on its int8 layers (ops.QuantizedLinear,
through the same ops.linear): q, k and v stacked into one int8 layer (QuantizedLinear.stack, each output with
its own layer's bits), r, o and the feed-forward (with the GELU quantize() fused where exact) as they are, the
second feed-forward layer's bias left to the LayerNorm as above. The activations of every row are quantized
the same way as in the model's own modules, so both paths differ by float rounding only.

Used only when the result cannot need autograd (eval mode with grad disabled, or no parameter requiring
grad), in the fast paths' devices and dtypes (fast_path.fast_tensor: float32 or bfloat16 on the CPU,
float32/float16/bfloat16 on CUDA), without head_mask / output_attentions, and not while tracing. Packed weights are
derived from the parameters (and int8 buffers), never saved, and rebuilt when one is replaced or modified in place.
"""
from __future__ import annotations

from typing import Callable, List, Optional

import torch

from transformers_fast import ops
from transformers_fast.ops import QuantizedLinear, linear, projection
from transformers_fast.ops.projection import Projection
from transformers_fast.runtime.fast_path import FastPath, apply_malloc_setting, fast_tensor, records_autograd

# Projected position embeddings kept per layer (distinct (qlen, klen, config) keys): XLNet-base at 128 tokens
# holds 0.8 MB per layer and key.
POSITION_CACHE = 4
# 1.2.0's "gelu" and transformers' tanh-GELU names, and the erf GELU of a converted transformers model
# ("gelu_python"), are fused into the first feed-forward GEMM.
FUSED_ACTIVATIONS = {"gelu": "gelu_tanh", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh",
                     "gelu_python": "gelu"}



def _as_linear(attn, name: str):
    """Attention projection `name` as a linear layer: its int8 QuantizedLinear (a quantized model), or its einsum
    weight [d_model, heads, head_dim] in nn.Linear layout [out, in]: q, k, v, r map d_model to heads * head_dim;
    o (attn_out[i, b, h] = sum_nd vec[i, b, n, d] o[h, n, d]) is already [d_model, heads * head_dim]."""
    w = getattr(attn, name)
    if isinstance(w, QuantizedLinear):
        return w
    w = w.detach().reshape(w.shape[0], -1)
    return w if name == "o" else w.t()


class XLNetLayerWeights:
    """The derived weights of one layer."""

    __slots__ = ("qkv", "q_source", "q", "r", "o", "r_w_bias", "r_r_bias", "r_s_bias", "seg_embed", "ln1", "ff_in",
                 "act", "ff_out", "ff_out_bias", "ln2", "heads", "head_dim", "scale", "position_keys")

    def __init__(self, layer, activation_name: Optional[str]):
        attn, ff = layer.rel_attn, layer.ff
        self.qkv = projection([_as_linear(attn, name) for name in ("q", "k", "v")])
        self.q_source, self.q = _as_linear(attn, "q"), None  # the query stream's own GEMM, built on first use
        self.r = projection([_as_linear(attn, "r")])
        self.o = projection([_as_linear(attn, "o")])
        self.r_w_bias, self.r_r_bias = attn.r_w_bias.detach(), attn.r_r_bias.detach()
        self.r_s_bias, self.seg_embed = attn.r_s_bias.detach(), attn.seg_embed.detach()
        self.ln1 = (attn.layer_norm.weight.detach(), attn.layer_norm.bias.detach(), float(attn.layer_norm.eps))
        # an int8 layer_1 has the GELU quantize() fused into it where exact (activation_function is then Identity)
        int8 = isinstance(ff.layer_1, QuantizedLinear)
        fused = ff.layer_1.activation if int8 else FUSED_ACTIVATIONS.get(activation_name)
        self.ff_in = projection([ff.layer_1], fused)
        self.act = None if fused else ff.activation_function
        self.ff_out = projection([ff.layer_2], bias=False)
        self.ff_out_bias = ff.layer_2.bias.detach()
        self.ln2 = (ff.layer_norm.weight.detach(), ff.layer_norm.bias.detach(), float(ff.layer_norm.eps))
        self.heads, self.head_dim = attn.n_head, attn.d_head
        self.scale = float(attn.scale)
        self.position_keys = {}  # pos_key -> projected position embeddings (see XLNetFastPath._position_keys)

    def query_projection(self) -> Projection:
        if self.q is None:
            with torch.inference_mode(False), torch.no_grad():
                self.q = projection([self.q_source])
        return self.q


class XLNetFastPath(FastPath):
    """Derived weights of an XLNet base model's layers and their fused forward (see the module docstring)."""

    def __init__(self, model, activation: Optional[Callable[[str], Callable]] = None):
        """activation: the family's function of a config's ff_activation name (the GELU is fused into the GEMM only
        for a layer that still holds that function: one may have been assigned since)."""
        self.model = model
        self.activation = activation
        self.enabled = True  # False: the reference path always (model.transformer.fast.enabled = False)
        self._layers: Optional[List[XLNetLayerWeights]] = None

    def invalidate(self) -> None:
        self._layers = None

    def __getstate__(self):
        return {"model": self.model, "enabled": self.enabled, "activation": self.activation}

    def __setstate__(self, state):
        self.__init__(state["model"], state.get("activation"))
        self.enabled = state.get("enabled", True)

    def _fused_activation(self, layer, name: Optional[str]) -> Optional[str]:
        """The config's activation name where the layer holds its function, else None (run as called)."""
        if name is None or (self.activation is not None and layer.ff.activation_function is not self.activation(name)):
            return None
        return name

    def usable(self, embedding: torch.Tensor, head_mask, output_attentions: bool, inputs=()) -> bool:
        """Whether forward can run fused: as the decoder's usable(); `inputs`: inputs_embeds and mems."""
        model = self.model
        if not self.enabled or model.training or head_mask is not None or output_attentions:
            return False
        if ops.capturing_graph() or not fast_tensor(embedding) or not self.runs_as_built():
            return False
        return not records_autograd(model, inputs)

    def layers(self) -> List[XLNetLayerWeights]:
        self.watch()
        if self._layers is None:
            apply_malloc_setting()
            act = self.model.config.ff_activation
            name = act if isinstance(act, str) else None
            with torch.inference_mode(False), torch.no_grad():
                self._layers = [XLNetLayerWeights(layer, self._fused_activation(layer, name))
                                for layer in self.model.layer]
        return self._layers

    # ---- one layer ----
    @torch.no_grad()
    def layer(self, i: int, layers: List[XLNetLayerWeights], h: torch.Tensor, g: Optional[torch.Tensor],
              mask_h: Optional[torch.Tensor], mask_g: Optional[torch.Tensor], pos_emb: torch.Tensor, bi_data: bool,
              seg_diff: Optional[torch.Tensor], mem: Optional[torch.Tensor], target_mapping: Optional[torch.Tensor],
              pos_key=None):
        """h [qlen, batch, d_model] (and g [num_predict, batch, d_model]) -> the layer's outputs.
        masks and seg_diff: bool [qlen, klen, batch or 1] (True = masked / other segment); pos_emb [rlen, batch,
        d_model]; mem [mlen, batch, d_model] or None; target_mapping [num_predict, qlen, batch] or None;
        pos_key: what determines pos_emb (hashable; None: pos_emb is not deterministic, no caching)."""
        w = layers[i]
        qlen, bsz, d_model = h.shape
        heads, head_dim = w.heads, w.head_dim
        cat = h if mem is None or mem.dim() < 2 else torch.cat([mem.to(h.dtype), h], dim=0)
        klen = cat.shape[0]
        qkv = linear(cat.reshape(klen * bsz, d_model), w.qkv).view(klen, bsz, 3, heads, head_dim)
        k, v = qkv[:, :, 1], qkv[:, :, 2]
        r = self._position_keys(w, pos_emb, bi_data, bsz, pos_key)
        segment = {} if seg_diff is None else dict(seg_diff=seg_diff, seg_embed=w.seg_embed, r_s_bias=w.r_s_bias)

        def attend(q, mask):
            return ops.relative_attention(q, k, v, r, w.r_w_bias, w.r_r_bias, shift="xlnet", scale=w.scale,
                                          attn_mask=mask, **segment)

        out_h = self._post_attention(w, h, attend(qkv[klen - qlen:, :, 0], mask_h))
        out_g = None
        if g is not None:
            plen = g.shape[0]
            q_g = linear(g.reshape(plen * bsz, d_model), w.query_projection()).view(plen, bsz, heads, head_dim)
            if target_mapping is not None:
                q_g = torch.einsum("mbnd,mlb->lbnd", q_g, target_mapping)
                vec_g = torch.einsum("lbnd,mlb->mbnd", attend(q_g, mask_g), target_mapping).contiguous()
            else:
                vec_g = attend(q_g, mask_g)
            out_g = self._post_attention(w, g, vec_g)
        return out_h, out_g

    def _position_keys(self, w: XLNetLayerWeights, pos_emb: torch.Tensor, bi_data: bool, bsz: int,
                       pos_key) -> torch.Tensor:
        """k_head_r [rlen, batch or 1, heads, head_dim]: one projection per distinct row of pos_emb's batch axis
        (one, or two with bi_data: the forward half of the batch, then the backward half). The sinusoidal
        embeddings depend only on the lengths and the config (pos_key), not on the input: the projection is
        kept for the last POSITION_CACHE keys, as long as the weights are unchanged."""
        rlen = pos_emb.shape[0]
        r = w.position_keys.get(pos_key) if pos_key is not None else None
        if r is None:
            if not bi_data:
                r = linear(pos_emb[:, 0].contiguous(), w.r).view(rlen, 1, w.heads, w.head_dim)
            else:
                r = linear(pos_emb[:, [0, bsz // 2]].contiguous().view(rlen * 2, -1), w.r)
                r = r.view(rlen, 2, w.heads, w.head_dim)
            if pos_key is not None:
                while len(w.position_keys) >= POSITION_CACHE:
                    w.position_keys.pop(next(iter(w.position_keys)))
                w.position_keys[pos_key] = r
        return r.repeat_interleave(bsz // 2, dim=1) if bi_data else r

    @staticmethod
    def _post_attention(w: XLNetLayerWeights, x: torch.Tensor, vec: torch.Tensor) -> torch.Tensor:
        """Output projection, residual + LayerNorm, feed-forward with its residual + LayerNorm."""
        shape = x.shape
        rows = shape[0] * shape[1]
        x2 = x.reshape(rows, shape[2])
        attn_out = linear(vec.view(rows, -1), w.o)
        weight, bias, eps = w.ln1
        h = ops.add_layer_norm(attn_out, x2, weight, bias, eps)
        inner = linear(h, w.ff_in)
        if w.act is not None:
            inner = w.act(inner)
        weight, bias, eps = w.ln2
        out = ops.add_layer_norm(linear(inner, w.ff_out), h, weight, bias, eps, x_bias=w.ff_out_bias)
        return out.view(shape)

