"""Fused inference path of the GPT decoders (GPT-2 pre-LayerNorm, OpenAI GPT post-LayerNorm): the forward of the
base models (`forward`, with `past` in and presents out) and generation.

A preallocated KV cache (per layer [batch, 2, heads, capacity, head_dim]) is filled in place: the prompt is run
once (prefill), then each decode step writes one key/value pair per layer into its slot (one copy) and makes one
attention call over the valid part of the cache (no concatenation of past tensors). Left padding is an additive
key mask kept beside the cache. Only the last position goes through the final LayerNorm and the (tied) LM head.
Projections are ops.projection()s of the blocks' layers (prepacked, bias and tanh GELU fused; plain torch where the
weights are neither float32 nor bfloat16 on the CPU). The packed weights are derived state, rebuilt when a parameter
(or an int8 layer's buffer, or a submodule) is replaced or modified in place (runtime.fast_path.ModuleWatch).

An int8-quantized model (transformers_fast.quantize) runs here too: its blocks' ops.QuantizedLinear layers (GELU
fused into c_fc) are the projections as they are, and its LM head when quantized with lm_head=True (else the float
tied head, prepacked). Its generation keeps the KV cache in int8 too (unless quantized with kv_cache="float"): one
float32 scale per key and value row (ops.attention.quantize_kv), the attention reading the int8 rows; the prompt's
own attention runs on its keys and values as computed, before they are stored. Embeddings, LayerNorms and the
activations stay float32. Decode steps of few rows run one C++ call per block (csrc/layers, which take int8
projections and an int8 cache as well as float ones).
"""
from __future__ import annotations

import math
from typing import List, NamedTuple, Optional

import torch
from torch import nn
from torch.nn import functional as F

from transformers_fast import ops
from transformers_fast.runtime.fast_path import (FAST_DTYPES, FastPath, apply_malloc_setting, fast_tensor,
                                                 int8_kv_cache, records_autograd)
from transformers_fast.ops import (OneCallChoice, QuantizedLinear, bind_layer_weights, decoder_layer_step, linear,
                                   projection)
from transformers_fast.ops.attention import dequantize_kv, quantize_kv
from transformers_fast.ops.projection import Projection


# Below this many rows the Python wrapper of ops.layer_norm costs more than F.layer_norm's whole run (on the CPU;
# on CUDA the fused kernel is one launch where F.layer_norm(x + residual) is two, whatever the rows).
FUSED_LAYER_NORM_MIN_ROWS = 32


def layer_norm(x: torch.Tensor, norm: tuple) -> torch.Tensor:
    """x [rows, hidden]."""
    weight, bias, eps = norm
    if (x.dtype in FAST_DTYPES and x.shape[0] >= FUSED_LAYER_NORM_MIN_ROWS) or ops.on_cuda(x):
        return ops.layer_norm(x, weight, bias, eps)
    return F.layer_norm(x, (x.shape[-1],), weight, bias, eps)


def add_layer_norm(x: torch.Tensor, residual: torch.Tensor, norm: tuple) -> torch.Tensor:
    """LayerNorm(x + residual), x [rows, hidden]."""
    weight, bias, eps = norm
    if (x.dtype in FAST_DTYPES and x.shape[0] >= FUSED_LAYER_NORM_MIN_ROWS) or ops.on_cuda(x):
        return ops.add_layer_norm(x, residual, weight, bias, eps)
    return F.layer_norm(x + residual, (x.shape[-1],), weight, bias, eps)


def attend(q, k, v, mask: Optional[torch.Tensor], causal: bool, scale: float, scales=None) -> torch.Tensor:
    """q [B, H, Sq, D], k/v [B, H, Sk, D] (views of the cache) -> [B, H, Sq, D]. mask: bool, True = attend.
    The fused kernels serve float32 and bfloat16, and every float dtype on CUDA (where ops.attention picks ours
    or torch's); other dtypes on the CPU (float16, float64) take torch's ops. scales: (k_scale, v_scale) of int8
    k and v."""
    if scales is not None:
        return ops.attention(q, k, v, scale=scale, attn_mask=mask, causal=causal, k_scale=scales[0], v_scale=scales[1])
    if q.dtype in FAST_DTYPES or ops.on_cuda(q):
        return ops.attention(q, k, v, scale=scale, attn_mask=mask, causal=causal)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal and mask is None, scale=scale)


class KVCache:
    """Keys and values of every layer, one buffer [batch, 2, heads, capacity, head_dim] per layer (index 0 the
    keys, 1 the values), filled in place: a step writes both with one copy from the fused QKV output.

    All rows share one write position (prompts are left-padded to one length); `key_bias` [batch, capacity]
    is 0 for real tokens and -inf for padding when some rows are padded (None otherwise).

    An int8 cache (dtype torch.int8) keeps one float32 scale per key and value row beside it, `scales` [batch, 2,
    heads, capacity] per layer; `store` quantizes what it writes (ops.attention.quantize_kv)."""

    def __init__(self, batch: int, capacity: int, heads_and_dims, dtype, device):
        self.kv = [torch.empty(batch, 2, h, capacity, d, dtype=dtype, device=device) for h, d in heads_and_dims]
        self.scales = None if dtype is not torch.int8 else [
            torch.empty(batch, 2, h, capacity, dtype=torch.float32, device=device) for h, _ in heads_and_dims]
        self.kv_views = [(kv[:, 0], kv[:, 1]) for kv in self.kv]  # keys, values [batch, heads, capacity, head_dim]
        self.scale_views = None if self.scales is None else [(s[:, 0], s[:, 1]) for s in self.scales]
        self.capacity = capacity
        self.length = 0
        self.key_bias: Optional[torch.Tensor] = None

    def mask(self, length: int) -> Optional[torch.Tensor]:
        """Additive mask [batch, 1, 1, length] over the first `length` keys, or None without padding."""
        return None if self.key_bias is None else self.key_bias[:, None, None, :length]

    def reorder(self, rows: torch.Tensor) -> None:
        """Row i takes the keys, values (and key mask) of row rows[i] [batch] (beam search follows its beams).
        In place: the views, and the buffers the C++ decode step was given, stay the ones in use."""
        filled = self.length
        for kv in self.kv:
            kv[:, :, :, :filled] = kv[:, :, :, :filled].index_select(0, rows)
        for scales in self.scales or ():
            scales[:, :, :, :filled] = scales[:, :, :, :filled].index_select(0, rows)
        if self.key_bias is not None:
            self.key_bias.copy_(self.key_bias.index_select(0, rows))

    def key_values(self) -> list:
        """Per layer (keys, values) [batch, heads, length, head_dim] of the filled slots: copies, an int8 cache's
        dequantized to float32 (what generate returns as its cache)."""
        pairs = []
        for index, kv in enumerate(self.kv):
            kv = kv[:, :, :, :self.length]
            if self.scales is not None:
                kv = dequantize_kv(kv, self.scales[index][:, :, :, :self.length])
            pairs.append((kv[:, 0].clone(memory_format=torch.contiguous_format),
                          kv[:, 1].clone(memory_format=torch.contiguous_format)))
        return pairs

    def store(self, index: int, start: int, kv: torch.Tensor) -> None:
        """Writes kv [batch, 2, heads, n, head_dim] (keys, values; float, any strides) into slots start..start + n of
        layer `index`, quantized in an int8 cache."""
        end = start + kv.shape[3]
        if self.scales is None:
            self.kv[index][:, :, :, start:end] = kv
        else:
            quantize_kv(kv, self.kv[index][:, :, :, start:end], self.scales[index][:, :, :, start:end])

    def attend(self, index: int, q: torch.Tensor, end: int, mask, causal: bool, scale: float) -> torch.Tensor:
        """q [batch, heads, Sq, head_dim] over the first `end` keys and values of layer `index`."""
        keys, values = self.kv_views[index]
        scales = None
        if self.scale_views is not None:
            scales = tuple(t.narrow(2, 0, end) for t in self.scale_views[index])
        return attend(q, keys.narrow(2, 0, end), values.narrow(2, 0, end), mask, causal, scale, scales)


class LayerWeights(NamedTuple):
    ln_1: tuple
    qkv: Projection
    proj: Projection
    ln_2: tuple
    fc: Projection
    act: Optional[object]  # applied after fc when not fused into it
    fc_proj: Projection
    heads: int
    head_dim: int
    scale: float


class DecoderFastPath(FastPath):
    """Fused forward of a GPT base model (GPT2Model, OpenAIGPTModel) and, on an LM head model, prefill and decode
    steps for generation. An LM head model's fast path uses its base model's packed layers (one copy)."""

    def __init__(self, model):
        self.model = model
        self.enabled = True  # False: the reference path always (model.transformer.fast.enabled = False)
        # False: forward() of a padded batch runs every position (padded keys masked), so that the outputs at padded
        # positions equal the reference's too, without the padding-free saving
        self.remove_padding = True
        self._layers: Optional[List[LayerWeights]] = None
        self._bound: Optional[list] = None  # the blocks bound for the one-call C++ decode step
        self._one_call = OneCallChoice()

    def invalidate(self) -> None:
        self._layers = None

    def __getstate__(self):
        # Copies and pickles carry no packed weights (they are derived from the parameters).
        return {"model": self.model, "enabled": self.enabled, "remove_padding": self.remove_padding}

    def __setstate__(self, state):
        self.__init__(state["model"])
        self.enabled, self.remove_padding = state.get("enabled", True), state.get("remove_padding", True)

    # ---- what differs between the families ----
    def _parts(self):
        base = self._base()
        if hasattr(base, "wte"):  # GPT-2
            return dict(pre_ln=True, wte=base.wte, wpe=base.wpe, ln_f=base.ln_f, blocks=base.h)
        return dict(pre_ln=False, wte=base.tokens_embed, wpe=base.positions_embed, ln_f=None, blocks=base.h)

    def _base(self):
        return getattr(self.model, "transformer", self.model)

    def layers(self) -> List[LayerWeights]:
        self.watch()
        if self._layers is None:
            apply_malloc_setting()
            base = self._base()
            if base is not self.model:  # an LM head model: the base model's fast path packs the layers
                shared = base.fast
                layers = shared.layers()
                self._pre_ln, self._wte, self._wpe, self._ln_f = shared._pre_ln, shared._wte, shared._wpe, shared._ln_f
            else:
                parts = self._parts()
                with torch.inference_mode(False), torch.no_grad():
                    layers = [self._build(block) for block in parts["blocks"]]
                self._pre_ln = parts["pre_ln"]
                # the token table as its module (int8 with quantize(..., embeddings=True)); the float position
                # table tells the model's dtype and device
                self._wte, self._wpe = parts["wte"], parts["wpe"].weight.detach()
                self._ln_f = None if parts["ln_f"] is None else self._norm(parts["ln_f"])
            head = self.model.get_output_embeddings()
            with torch.inference_mode(False), torch.no_grad():
                self._lm_head = None if head is None else projection([head])  # (int8 with lm_head=True)
            self._bound = None
            self._one_call.forget()
            self._layers = layers  # last: a thread of a first call at once that sees the layers sees the rest
        return self._layers

    @staticmethod
    def _norm(ln) -> tuple:
        return (ln.weight.detach(), ln.bias.detach(), ln.eps)

    def _build(self, block) -> LayerWeights:
        attn, mlp = block.attn, block.mlp
        act = mlp.act
        # the tanh GELU of the GPT files, fused into a float c_fc (an int8 c_fc has its own: quantize() fused it
        # when exact and left nn.Identity behind)
        fused = not isinstance(mlp.c_fc, QuantizedLinear) and getattr(act, "__name__", "") == "gelu"
        return LayerWeights(
            ln_1=self._norm(block.ln_1), qkv=projection([attn.c_attn]), proj=projection([attn.c_proj]),
            ln_2=self._norm(block.ln_2), fc=projection([mlp.c_fc], "gelu_tanh" if fused else None),
            act=None if fused or isinstance(act, nn.Identity) else act, fc_proj=projection([mlp.c_proj]),
            heads=attn.n_head, head_dim=attn.split_size // attn.n_head,
            scale=(1.0 / math.sqrt(attn.split_size // attn.n_head) if attn.scale else 1.0)
            / getattr(attn, "score_divisor", 1.0))  # (transformers' GPT-2 options)

    # ---- forward of the base model ----
    def usable(self, embedding: torch.Tensor, head_mask, output_attentions: bool, output_hidden_states: bool,
               inputs=()) -> bool:
        """Whether forward() can run fused: inference without autograd (of the weights or of `inputs`), the fast
        paths' devices and dtypes (fast_tensor), no per-layer outputs or head mask, not while tracing (a trace
        records the reference path)."""
        model = self._base()
        if not self.enabled or model.training or head_mask is not None or output_attentions or output_hidden_states:
            return False
        if ops.capturing_graph() or not fast_tensor(embedding) or not self.runs_as_built():
            return False
        return not records_autograd(model, inputs)

    @torch.no_grad()
    def forward(self, hidden: torch.Tensor, key_mask: Optional[torch.Tensor], past, use_cache: bool):
        """Every block (and GPT-2's final LayerNorm) on the embeddings hidden [batch, seq, n_embd], with the
        keys and values of `past` (per layer (key, value) [batch, heads, past, head_dim]) before the new ones and
        key_mask [batch, 1, 1, past + seq] (bool, True = attend; None: every key). Returns the hidden states
        [batch, seq, n_embd] and the presents ([2, batch, heads, past + seq, head_dim] per layer) or None.
        Padded query positions attend to nothing and come out as the blocks make zeros (their keys are never
        read by a real position)."""
        self.layers()
        batch, seq, width = hidden.shape
        past_length = 0 if past is None else past[0][0].shape[-2]
        packs = hidden.dtype in FAST_DTYPES or ops.on_cuda(hidden)  # where the packed attention is ours
        if past_length == 0 and key_mask is not None and packs and self.remove_padding and not bool(key_mask.all()):
            return self._forward_padding_free(hidden, key_mask.reshape(batch, seq), use_cache)
        mask = None
        if key_mask is not None or past_length:
            mask = torch.ones(seq, past_length + seq, dtype=torch.bool, device=hidden.device).tril(past_length)
            mask = mask if key_mask is None else mask & key_mask
        presents = [] if use_cache else None

        def attention(index, layer, qkv):
            qkv = qkv.view(batch, seq, 3, layer.heads, layer.head_dim)
            keys, values = qkv[:, :, 1].transpose(1, 2), qkv[:, :, 2].transpose(1, 2)
            if past is not None:
                keys = torch.cat((past[index][0], keys), dim=-2)
                values = torch.cat((past[index][1], values), dim=-2)
            if use_cache:
                presents.append(torch.stack((keys, values)))
            context = attend(qkv[:, :, 0].transpose(1, 2), keys, values, mask, mask is None, layer.scale)
            return context.transpose(1, 2).reshape(batch * seq, layer.heads * layer.head_dim)

        x = self._run(hidden.reshape(batch * seq, width), attention)
        if self._ln_f is not None:
            x = layer_norm(x, self._ln_f)
        return x.view(batch, seq, width), (tuple(presents) if use_cache else None)

    def lm_logits(self, hidden: torch.Tensor, head_mask, output_attentions: bool, output_hidden_states: bool):
        """An LM head model's logits of forward()'s final hidden states [..., n_embd]: the prepacked head when
        forward() runs fused (MKL's F.linear takes its AVX2 path on AMD), else the head module as the reference."""
        head = self.model.get_output_embeddings()
        # an int8 head's weight is int8 (torch's dynamic int8 Linear's a method): the float position embeddings tell
        # the model's dtype and device
        weight = getattr(head, "weight", None)
        like = weight if isinstance(weight, torch.Tensor) and weight.is_floating_point() else self._parts()["wpe"].weight
        if not self.usable(like, head_mask, output_attentions, output_hidden_states, (hidden,)):
            return head(hidden)
        self.layers()
        logits = linear(hidden.reshape(-1, hidden.shape[-1]), self._lm_head)
        return logits.view(*hidden.shape[:-1], logits.shape[-1])  # (an empty batch has no size to infer)

    def _forward_padding_free(self, hidden: torch.Tensor, real: torch.Tensor, use_cache: bool):
        """forward() of a padded batch without past: only the real tokens (real [batch, seq] bool) go through the
        blocks, packed one sequence after another; causal attention within each sequence's real tokens is what
        the reference's causal + key mask gives them. Hidden states, and presents' keys and values, at padded
        positions are zeros (not computed)."""
        batch, seq, width = hidden.shape
        index = real.reshape(-1).nonzero().squeeze(1)
        lengths = real.sum(1)
        cu_seqlens = torch.zeros(batch + 1, dtype=torch.int64, device=hidden.device)
        torch.cumsum(lengths, 0, out=cu_seqlens[1:])
        longest = int(lengths.max())  # once, not per layer (on CUDA the offsets are then never read back)
        presents = [] if use_cache else None

        def scatter(packed: torch.Tensor) -> torch.Tensor:
            full = packed.new_zeros((batch * seq,) + tuple(packed.shape[1:]))
            full[index] = packed
            return full

        def attention(index_, layer, qkv):
            qkv = qkv.view(-1, 3, layer.heads, layer.head_dim)
            if use_cache:  # [2, batch, heads, seq, head_dim], as the padded path gives
                kv = scatter(qkv[:, 1:]).view(batch, seq, 2, layer.heads, layer.head_dim)
                presents.append(kv.permute(2, 0, 3, 1, 4).contiguous())
            context = ops.attention(qkv[:, 0], qkv[:, 1], qkv[:, 2], scale=layer.scale, causal=True,
                                    cu_seqlens=cu_seqlens, max_seqlen=longest)
            return context.reshape(-1, layer.heads * layer.head_dim)

        x = self._run(hidden.reshape(batch * seq, width)[index], attention)
        if self._ln_f is not None:
            x = layer_norm(x, self._ln_f)
        return scatter(x).view(batch, seq, width), (tuple(presents) if use_cache else None)

    # ---- generation ----
    def new_cache(self, batch: int, capacity: int) -> KVCache:
        layers = self.layers()
        return KVCache(batch, capacity, [(layer.heads, layer.head_dim) for layer in layers], self.cache_dtype(),
                       self._wpe.device)

    def cache_dtype(self) -> torch.dtype:
        """int8 for an int8-quantized float32 model on the CPU (unless quantized with kv_cache="float"), else the
        dtype of its weights."""
        return torch.int8 if int8_kv_cache(self.model, self._wpe) else self._wpe.dtype

    def _embed(self, ids: torch.Tensor, positions: torch.Tensor, token_embeds=None) -> torch.Tensor:
        """The input of the first block: the tokens' embeddings (token_embeds where given) plus the positions'."""
        return (self._wte(ids) if token_embeds is None else token_embeds) + F.embedding(positions, self._wpe)

    def _run(self, x: torch.Tensor, attention) -> torch.Tensor:
        """Every decoder block on x [tokens, hidden]; `attention(index, layer, qkv)` stores the keys and values
        of layer `index` in the cache and returns the context [tokens, width]."""
        pre_ln = self._pre_ln
        for index, layer in enumerate(self._layers):
            qkv = linear(layer_norm(x, layer.ln_1) if pre_ln else x, layer.qkv)
            a = linear(attention(index, layer, qkv), layer.proj)
            if pre_ln:
                x = x.add_(a)  # x is a fresh tensor of ours (the embedding sum): residuals add in place
                inner = linear(layer_norm(x, layer.ln_2), layer.fc)
            else:
                x = add_layer_norm(a, x, layer.ln_1)
                inner = linear(x, layer.fc)
            if layer.act is not None:
                inner = layer.act(inner)
            m = linear(inner, layer.fc_proj)
            x = x.add_(m) if pre_ln else add_layer_norm(m, x, layer.ln_2)
        return x

    def _logits(self, last: torch.Tensor) -> torch.Tensor:
        if self._ln_f is not None:
            last = layer_norm(last, self._ln_f)
        return linear(last, self._lm_head)

    @torch.no_grad()
    def prefill(self, input_ids: torch.Tensor, position_ids: torch.Tensor, attention_mask: Optional[torch.Tensor],
                cache: KVCache, past=None, inputs_embeds=None) -> torch.Tensor:
        """Runs the prompt [batch, seq] into an empty cache; returns the logits of the last position [batch, vocab].
        past: per layer (keys, values) [batch, heads, cached, head_dim] of the prompt's first `cached` tokens, stored
        as they are; only the tokens after them run (attending to the cached keys and values too). inputs_embeds
        [batch, seq, hidden]: the prompt's token embeddings, in place of input_ids'."""
        self.layers()
        batch, seq = input_ids.shape
        device = input_ids.device
        cached = 0 if past is None else past[0][0].shape[-2]
        for index, (keys, values) in enumerate(past or ()):
            cache.store(index, 0, torch.stack((keys, values), dim=1))
        new = seq - cached  # (queries: the prompt's last `new` tokens; keys: all `seq`)
        mask = None
        padded = attention_mask is not None and not bool(attention_mask.all())
        if padded or cached:
            allowed = torch.ones(new, seq, dtype=torch.bool, device=device).tril(cached)
            if padded:
                cache.key_bias = torch.zeros(batch, cache.capacity, dtype=self._wpe.dtype, device=device)
                cache.key_bias[:, :seq].masked_fill_(attention_mask == 0, float("-inf"))
                # A padded query sees itself too, so that no row is empty (its output is never used).
                itself = torch.zeros(new, seq, dtype=torch.bool, device=device)
                itself[:, cached:] = torch.eye(new, dtype=torch.bool, device=device)
                allowed = (allowed & (attention_mask != 0)[:, None, None, :]) | itself
            mask = torch.zeros(allowed.shape, dtype=self._wpe.dtype, device=device).masked_fill_(~allowed, float("-inf"))

        def attention(index, layer, qkv):
            heads, head_dim = layer.heads, layer.head_dim
            qkv = qkv.view(batch, new, 3, heads, head_dim)
            cache.store(index, cached, qkv[:, :, 1:].permute(0, 2, 3, 1, 4))
            q = qkv[:, :, 0].transpose(1, 2)
            if cached:  # over the stored keys and values (an int8 cache's quantized, as a decode step reads them)
                context = cache.attend(index, q, seq, mask, False, layer.scale)
            else:  # the prompt attends to its keys and values as computed (an int8 cache keeps them quantized)
                k, v = (qkv[:, :, part].transpose(1, 2) for part in (1, 2))
                context = attend(q, k, v, mask, mask is None, layer.scale)
            return context.transpose(1, 2).reshape(batch * new, heads * head_dim)

        x = self._embed(input_ids[:, cached:].reshape(-1), position_ids[:, cached:].reshape(-1),
                        None if inputs_embeds is None else inputs_embeds[:, cached:].reshape(batch * new, -1))
        x = self._run(x, attention)
        cache.length = seq
        return self._logits(x.view(batch, new, -1)[:, -1])

    @torch.no_grad()
    def step(self, tokens: torch.Tensor, positions: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """One decode step: tokens [batch] at positions [batch]; returns logits [batch, vocab]."""
        if self._layers is None:  # otherwise checked by prefill
            self.layers()
        t = cache.length
        if t >= cache.capacity:
            raise ValueError(f"the KV cache is full ({cache.capacity} positions)")
        batch = tokens.shape[0]
        if cache.key_bias is not None:
            cache.key_bias[:, t] = 0.0
        mask = cache.mask(t + 1)
        end = t + 1

        def attention(index, layer, qkv):
            heads, head_dim = layer.heads, layer.head_dim
            qkv = qkv.view(batch, 3, heads, head_dim)
            cache.store(index, t, qkv[:, 1:].unsqueeze(3))  # key and value in one write
            context = cache.attend(index, qkv[:, 0].unsqueeze(2), end, mask, False, layer.scale)
            return context.view(batch, heads * head_dim)

        bound = self._bound_blocks(batch)
        if bound is None:
            x = self._run(self._embed(tokens, positions), attention)
        else:
            x = self._embed(tokens, positions)
            for index, (layer, block) in enumerate(zip(self._layers, bound)):
                decoder_layer_step(x, cache.kv[index], t, cache.key_bias, block, layer.scale, self._pre_ln,
                                   None if cache.scales is None else cache.scales[index])
        cache.length = end
        return self._logits(x)

    def _bound_blocks(self, batch: int) -> Optional[list]:
        """The blocks bound for the C++ decode step, when a step of `batch` rows can run one call per block: on
        the CPU, float32 (projections int8 or float) or bfloat16 throughout (LayerNorms too), tanh GELU fused,
        biases present, and every float projection calibrated (or forced) to the panel GEMM for this many rows."""
        def projections():
            layers = self._layers
            dtype = self._wpe.dtype
            found = [p for layer in layers for p in (layer.qkv, layer.proj, layer.fc, layer.fc_proj)]
            vectors = [t for layer in layers for t in (*layer.ln_1[:2], *layer.ln_2[:2])] + [p.bias for p in found]
            usable = (self._wpe.is_cpu and all(p.bias is not None for p in found)
                      and all(layer.act is None for layer in layers)
                      and (dtype is torch.float32 or (dtype is torch.bfloat16 and all(
                          t is not None and t.dtype is dtype for t in vectors)
                          and not any(isinstance(p, QuantizedLinear) for p in found))))
            return found if usable else None

        if ops.on_cuda(self._wpe) or not self._one_call(batch, projections):  # (the one-call blocks are the CPU's)
            return None
        if self._bound is None:
            self._bound = [bind_layer_weights(layer.qkv, layer.proj, layer.proj.bias, layer.ln_1, layer.fc,
                                              layer.fc_proj, layer.fc_proj.bias, layer.ln_2, layer.heads,
                                              layer.head_dim) for layer in self._layers]
        return self._bound
