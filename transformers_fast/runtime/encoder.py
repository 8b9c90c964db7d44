"""Padding-free inference path of the post-LayerNorm encoders (BERT, RoBERTa, DistilBERT, XLM).

A padded batch is packed to its real tokens ([tokens, hidden] with cumulative sequence offsets), every
per-token op runs on the packed buffer, attention runs per sequence, and the result is scattered back once.
Per layer: one fused QKV projection (the three weights concatenated), fused attention, the output projection
with its bias folded into residual+LayerNorm, the FFN input projection followed by the fused bias+GELU kernel,
and the FFN output projection with residual+LayerNorm fused again. In an int8 model (transformers_fast.quantize)
the projections are its QuantizedLinear layers (q, k and v stacked into one int8 GEMM, the GELU fused into the
FFN input's); everything else runs the same float kernels.

Padded positions: the reference lets padding tokens attend to the real ones and returns those values. This
path computes them only at position 0, the one the pooler and the sequence classifiers read: where a row's
first position is padding (left padding), it runs as an extra query row after the packed tokens, attending
over its sequence's real keys in every layer, as in the reference. Every other padded position of
last_hidden_state and hidden_states is zero. Heads that score every position (masked LM, token classification,
question answering: a padded position's score can outrank a real one in a top-k) run inside `every_position()`:
a padded batch then runs all its positions, its padded keys masked as in the reference (no padding-free saving,
the fused kernels still), and every output equals the reference's. `model.fast.remove_padding = False` runs the
base model so too; `model.fast.enabled = False` (or the training path) runs the reference path. A family whose
reference zeroes every padded position itself (XLM multiplies the hidden states by the padding mask after each
layer) sets `padded_positions_zero`: no extra rows are then run, and the zeros are the reference's values. Causal families
(XLM's CLM) set `causal` on their layers: attention is then causal within each packed sequence.

Losses (labels given) are computed on the reference path, since a loss may read padded positions.
Used only when the result cannot need autograd (eval mode with grad disabled, or no parameter requiring
grad), without head_mask and output_attentions. Packed weights are derived from the parameters (and an int8
layer's buffers), never saved, and rebuilt when one is replaced or modified in place (version counters), after
train()/to(), or when quantize() replaces the layers.
"""
from __future__ import annotations

import contextlib
import math
import threading
from typing import List, Optional, Sequence, Tuple

import torch
from torch import nn
from torch.nn import functional as F

from transformers_fast import ops
from transformers_fast.runtime.fast_path import FastPath, apply_malloc_setting, fast_tensor, records_autograd
from transformers_fast.ops import OneCallChoice, bind_layer_weights, linear as packed_linear, projection


class EncoderLayer:
    """One post-LayerNorm layer of the fast path: its derived weights and its forward on packed tokens."""

    __slots__ = ("qkv", "out", "out_bias", "ln1", "ffn_in", "activation", "ffn_out", "ffn_out_bias", "ln2",
                 "heads", "head_dim", "width", "scale", "fused", "causal")

    def __init__(self, qkv, out, out_bias, ln1, ffn_in, activation, ffn_out, ffn_out_bias, ln2, heads, head_dim):
        self.qkv, self.out, self.out_bias, self.ln1 = qkv, out, out_bias, ln1
        self.ffn_in, self.activation, self.ffn_out, self.ffn_out_bias, self.ln2 = (
            ffn_in, activation, ffn_out, ffn_out_bias, ln2)
        self.heads, self.head_dim = heads, head_dim
        self.width = heads * head_dim  # smaller than hidden when heads were pruned
        self.scale = 1.0 / math.sqrt(head_dim)
        self.fused = None  # the C++ layer's bound weights, once every projection runs on the panel GEMM
        self.causal = False  # key j of a sequence is seen by its query i iff j <= i (set by causal families)

    def __call__(self, x: torch.Tensor, cu_seqlens: torch.Tensor, one_call: bool = False,
                 extra_queries: Sequence[Tuple[int, int]] = (), max_seqlen: Optional[int] = None,
                 real_keys: Optional[torch.Tensor] = None) -> torch.Tensor:
        """x [tokens, hidden] -> [tokens, hidden]; cu_seqlens [batch + 1] int64 offsets of the sequences.
        one_call: run as one C++ call (every projection on the panel GEMM, decided by the caller).
        extra_queries: per row of x after cu_seqlens[-1], the (start, end) rows of the sequence whose keys it
        attends over (a padded position the heads read; it is no key itself). max_seqlen: the longest sequence
        (on CUDA, cu_seqlens is then not read back from the GPU). real_keys [batch, seq] bool: x holds every
        position of a padded batch ([batch * seq, hidden]); a query attends over its row's real keys."""
        if one_call:
            return fused_layer(self, x, cu_seqlens)
        tokens = x.shape[0]
        q, k, v = packed_linear(x, self.qkv).view(tokens, 3, self.heads, self.head_dim).unbind(1)  # views
        if real_keys is None:
            context = ops.attention(q, k, v, scale=self.scale, cu_seqlens=cu_seqlens, causal=self.causal,
                                    max_seqlen=max_seqlen)
        else:
            batch, seq = real_keys.shape
            q, k, v = (t.view(batch, seq, self.heads, self.head_dim).transpose(1, 2) for t in (q, k, v))
            context = ops.attention(q, k, v, scale=self.scale, attn_mask=real_keys[:, None, None, :],
                                    causal=self.causal).transpose(1, 2).reshape(tokens, self.heads, self.head_dim)
        first_extra = tokens - len(extra_queries)
        for row, (start, end) in enumerate(extra_queries, first_extra):
            query, keys, values = (t.transpose(0, 1).unsqueeze(0) for t in (q[row:row + 1], k[start:end], v[start:end]))
            context[row] = ops.attention(query, keys, values, scale=self.scale)[0, :, 0]
        ln1_weight, ln1_bias, ln1_eps = self.ln1
        attended = ops.add_layer_norm(packed_linear(context.view(tokens, self.width), self.out), x, ln1_weight,
                                      ln1_bias, ln1_eps, x_bias=self.out_bias)
        inner = packed_linear(attended, self.ffn_in)
        if self.activation is not None:
            inner = self.activation(inner)
        ln2_weight, ln2_bias, ln2_eps = self.ln2
        return ops.add_layer_norm(packed_linear(inner, self.ffn_out), attended, ln2_weight, ln2_bias, ln2_eps,
                                  x_bias=self.ffn_out_bias)

    def projections(self):
        return (self.qkv, self.out, self.ffn_in, self.ffn_out)

    def bound(self):
        """This layer's weights bound for the C++ layer (once; the layer is rebuilt when they change)."""
        if self.fused is None:
            self.fused = bind_layer_weights(self.qkv, self.out, self.out_bias, self.ln1, self.ffn_in, self.ffn_out,
                                            self.ffn_out_bias, self.ln2, self.heads, self.head_dim)
        return self.fused


def _one_dtype(layer: EncoderLayer) -> bool:
    """The layer's biases and LayerNorms share one dtype the C++ layer takes: float32, or bfloat16 without int8
    projections (LayerNorms kept in float32 beside bfloat16 projections, or int8 projections of a bfloat16
    model, run op by op)."""
    vectors = (layer.qkv.bias, layer.out_bias, layer.ffn_in.bias, layer.ffn_out_bias, *layer.ln1[:2],
               *layer.ln2[:2])
    dtype = vectors[0].dtype if vectors[0] is not None else None
    if dtype is torch.bfloat16 and any(isinstance(p, ops.QuantizedLinear) for p in layer.projections()):
        return False
    return dtype in (torch.float32, torch.bfloat16) and all(v is not None and v.dtype is dtype for v in vectors)


# Up to this many tokens a layer runs as one C++ call when every projection uses the panel GEMM: there the
# seven calls from Python per layer (about 40 us) are a tenth of the work (BERT-base at 8 tokens).
FUSED_MAX_TOKENS = 64


def fused_layer(layer: EncoderLayer, x: torch.Tensor, cu_seqlens: torch.Tensor) -> torch.Tensor:
    return ops.encoder_layer(x, cu_seqlens, layer.bound(), layer.scale)


# Tokens per run through the layers. A bigger packed batch runs in groups of whole sequences: every
# activation then stays under 32 MB (2048 x 3072 x 4 B = 25 MB for the FFN), glibc's largest mmap threshold,
# so that freed buffers are reused instead of being mapped and faulted in again each time (at 32x128
# that was 400,000 page faults per forward). GEMMs of 2048 rows are as efficient as bigger ones.
GROUP_TOKENS = 2048


def sequence_groups(offsets: List[int], limit: int) -> List[Tuple[int, int]]:
    """Splits the sequences of packed tokens (offsets: cu_seqlens as a list) into runs of whole consecutive
    sequences of at most `limit` tokens (a longer sequence alone): [(first sequence, end sequence)]."""
    bounds, first = [], 0
    for seq in range(len(offsets) - 1):
        if seq > first and offsets[seq + 1] - offsets[first] > limit:
            bounds.append((first, seq))
            first = seq
    bounds.append((first, len(offsets) - 1))
    return bounds


class EncoderFastPath(FastPath):
    """Shared by the families; subclasses say where the weights of each part are."""

    enabled = True
    # False: a padded batch runs every position (fused, padded keys masked), so that the base model's outputs equal
    # the reference's at padded positions too, without the padding-free saving
    remove_padding = True
    # True where the reference itself zeroes every padded position (XLM): no extra rows for position 0
    padded_positions_zero = False

    def __init__(self, model: nn.Module):
        self.model = model
        self._layers: Optional[List[EncoderLayer]] = None
        self._pooler: Optional[nn.Module] = None  # a projection()
        self._pooler_source: Optional[nn.Module] = None
        self._one_call = OneCallChoice()
        self._watch = None
        self._forced = threading.local()  # per thread: concurrent callers do not see each other's choice

    # ---- what a family provides ----
    def layer_parts(self, layer: nn.Module) -> dict:
        raise NotImplementedError

    def pooler_dense(self) -> Optional[nn.Linear]:
        """The pooler's linear layer (tanh follows), where the family has a pooler."""
        return None

    def embed(self, ids, positions, token_types, words=None, **per_token) -> torch.Tensor:
        """Packed embeddings [tokens, hidden]; words: the packed word vectors in place of the ids' (the caller's
        inputs_embeds; ids is then None); per_token: the family's other per-token inputs (packed)."""
        raise NotImplementedError

    def position_ids(self, input_ids, inputs_embeds=None):
        """The default positions [batch or 1, seq] of the ids, or of the embeddings where these are given."""
        raise NotImplementedError

    # ---- bookkeeping ----
    def __getstate__(self):
        # Copies and pickles carry no packed weights (they are derived) and no thread-local state.
        return {"model": self.model, "enabled": self.enabled, "remove_padding": self.remove_padding}

    def __setstate__(self, state):
        self.__init__(state["model"])
        self.enabled, self.remove_padding = state["enabled"], state.get("remove_padding", True)

    def invalidate(self) -> None:
        self._layers = None

    def every_position(self):
        """Inside the block a padded batch runs every position (see the module's docstring): for heads whose
        outputs at padded positions are read."""
        return self._forcing("every_position", True)

    def reference_path(self, active: bool = True):
        """Runs the model on the reference path inside the block (heads computing a loss use it, since a
        loss may read padded positions)."""
        return self._forcing("on", active)

    @contextlib.contextmanager
    def _forcing(self, flag: str, active: bool):
        """Sets this thread's `flag` inside the block (kept where an outer block set it)."""
        previous = getattr(self._forced, flag, False)
        setattr(self._forced, flag, previous or active)
        try:
            yield
        finally:
            setattr(self._forced, flag, previous)

    def usable(self, input_ids, attention_mask, head_mask, output_attentions) -> bool:
        model = self.model
        if not self.enabled or getattr(self._forced, "on", False) or model.training:
            return False
        if head_mask is not None or output_attentions or ops.capturing_graph():
            return False  # a trace would freeze this batch's padding layout: traces record the reference path
        if not self.runs_as_built():
            return False
        config = model.config
        if any(len(set(heads)) >= config.num_attention_heads for heads in config.pruned_heads.values()):
            return False  # a layer pruned of every head (1.2.0 runs it: only the output bias): no empty GEMMs
        param = next(model.parameters())
        if input_ids.device != param.device or not fast_tensor(param):
            return False  # the fused kernels' devices and dtypes; elsewhere the reference path is as fast
        if records_autograd(model, input_ids):  # (inputs_embeds in place of the ids)
            return False
        if attention_mask is not None and attention_mask.dtype != torch.bool:
            # values other than 0/1 (a soft mask, 2, -1) bias scores by 1.2.0's (1 - m) * -10000: only the reference
            # path computes that
            if not bool(((attention_mask == 0) | (attention_mask == 1)).all()):
                return False
        return True

    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    def layers(self) -> List[EncoderLayer]:
        self.watch()
        if self._layers is None:
            apply_malloc_setting()
            # Normal tensors even when called under inference_mode, so that their versions can be read.
            with torch.inference_mode(False), torch.no_grad():
                self._layers = [self._build_layer(layer) for layer in self.encoder_layers()]
                self._pooler_source = self.pooler_dense()
                dense = self._pooler_source
                self._pooler = None if dense is None else projection([dense])
            self._one_call.forget()
        return self._layers

    def _build_layer(self, layer) -> EncoderLayer:
        p = self.layer_parts(layer)
        o, ffn_in, ffn_out = p["o"], p["ffn_in"], p["ffn_out"]
        # The FFN's activation: fused into the GEMM where it is the exact GELU, or already fused into an int8
        # ffn_in by quantize (which leaves nn.Identity in the model); otherwise run after it.
        activation = None if isinstance(p["activation"], nn.Identity) else p["activation"]
        fused = getattr(ffn_in, "activation", None)
        if fused is None and activation is F.gelu:
            fused, activation = "gelu", None
        return EncoderLayer(
            qkv=projection([p["q"], p["k"], p["v"]]), out=projection([o], bias=False), out_bias=o.bias.detach(),
            ln1=(p["ln1"].weight.detach(), p["ln1"].bias.detach(), float(p["ln1"].eps)),
            ffn_in=projection([ffn_in], fused), activation=activation,
            ffn_out=projection([ffn_out], bias=False), ffn_out_bias=ffn_out.bias.detach(),
            ln2=(p["ln2"].weight.detach(), p["ln2"].bias.detach(), float(p["ln2"].eps)),
            heads=p["heads"], head_dim=p["head_dim"])

    def one_call(self, layers: List[EncoderLayer], tokens: int) -> bool:
        """Whether the layers run as one C++ call each for `tokens` packed tokens: small batches, exact GELU
        fused into the GEMM, every projection int8 or calibrated (or forced) to the panel GEMM."""
        if layers and ops.on_cuda(layers[0].out_bias):
            return False  # the one-call layers are the CPU's
        def projections():
            if any(layer.activation is not None or layer.causal or not _one_dtype(layer) for layer in layers):
                return None  # the C++ layer: float32 or bfloat16 (a layer all alike), exact GELU, not causal
            return (p for layer in layers for p in layer.projections())

        return tokens <= FUSED_MAX_TOKENS and self._one_call(tokens, projections)

    def pool(self, sequence_output: torch.Tensor) -> torch.Tensor:
        """The pooler of BERT/RoBERTa, tanh(dense(first token)), on the packed weight of the last forward's
        build; the module itself when it was replaced since (another layer or activation)."""
        pooler = self.model.pooler
        replaced = pooler.dense is not self._pooler_source or not isinstance(pooler.activation, nn.Tanh)
        if self._pooler is None or replaced:
            return pooler(sequence_output)
        with torch.no_grad():
            return torch.tanh(packed_linear(sequence_output[:, 0].contiguous(), self._pooler))

    # ---- the forward pass ----
    def __call__(self, input_ids, token_type_ids, attention_mask, position_ids, output_hidden_states,
                 inputs_embeds=None, **per_token):
        """inputs_embeds [batch, seq, hidden]: the word vectors in place of input_ids (then None).
        per_token: further [batch, seq] inputs of the family (XLM's langs), packed and passed to embed()."""
        with torch.no_grad():
            return self._forward(input_ids, token_type_ids, attention_mask, position_ids, output_hidden_states,
                                 inputs_embeds, **per_token)

    def _forward(self, input_ids, token_type_ids, attention_mask, position_ids, output_hidden_states,
                 inputs_embeds, **per_token):
        layers = self.layers()
        source = input_ids if inputs_embeds is None else inputs_embeds
        batch, seq = source.shape[:2]
        device = source.device
        if position_ids is None:
            position_ids = self.position_ids(input_ids, inputs_embeds)
        position_ids = position_ids.expand(batch, seq)

        # Packing only when some position is padding: a full batch runs on its own memory, as is.
        index = None
        # Rows whose position 0 (what the pooler reads) is padding, in order; a row without any real token has
        # no key to attend over and stays zero.
        extra_rows: List[int] = []
        real_keys = None  # [batch, seq] bool where every position runs (every_position) and some are padding
        if attention_mask is not None:
            real = attention_mask != 0
            lengths = real.sum(1)
            if int(lengths.sum()) != batch * seq:
                every_position = getattr(self._forced, "every_position", False) or not self.remove_padding
                if every_position and not self.padded_positions_zero:
                    real_keys = real
                else:
                    index = real.reshape(-1).nonzero().squeeze(1)
                if index is not None and not self.padded_positions_zero:
                    extra_rows = (~real[:, 0] & (lengths > 0)).nonzero().squeeze(1).tolist()
        if index is None:
            cu_seqlens = torch.arange(0, (batch + 1) * seq, seq, dtype=torch.int64, device=device)
        else:
            cu_seqlens = torch.zeros(batch + 1, dtype=torch.int64, device=device)
            torch.cumsum(lengths, 0, out=cu_seqlens[1:])
            if extra_rows:  # their position 0 is packed after the real tokens
                index = torch.cat([index, torch.tensor(extra_rows, dtype=index.dtype, device=device) * seq])

        def pack(t):  # [batch, seq, ...] -> [tokens, ...]
            if t is None:
                return None
            t = t.reshape((batch * seq,) + t.shape[2:])
            return t if index is None else t.index_select(0, index)

        per_token = {name: pack(None if t is None else t.expand(batch, seq)) for name, t in per_token.items()}
        x = self.embed(pack(input_ids), pack(position_ids), pack(token_type_ids), words=pack(inputs_embeds),
                       **per_token)
        hidden = x.shape[1]
        real_tokens = x.shape[0] - len(extra_rows)
        offsets = cu_seqlens.tolist()
        if real_tokens <= GROUP_TOKENS:
            bounds = [(0, batch)]
        else:
            bounds = sequence_groups(offsets, GROUP_TOKENS)
        results = []  # per group: the hidden states after the embeddings and each layer (or the last only)
        extra_results = []  # likewise for the extra rows of the group
        for a, b in bounds:
            extras = [i for i, row in enumerate(extra_rows) if a <= row < b]
            spans = [(offsets[extra_rows[i]] - offsets[a], offsets[extra_rows[i] + 1] - offsets[a]) for i in extras]
            h = x[offsets[a]:offsets[b]]
            if extras:
                h = torch.cat([h, x[real_tokens + extras[0]:real_tokens + extras[-1] + 1]])
            cu = cu_seqlens[a:b + 1] - offsets[a] if a else cu_seqlens[:b + 1]
            states = [h]
            one_call = not extras and real_keys is None and self.one_call(layers, h.shape[0])
            longest = max(offsets[s + 1] - offsets[s] for s in range(a, b)) if b > a else 0
            keys = None if real_keys is None else real_keys[a:b]
            for layer in layers:
                h = layer(h, cu, one_call, spans, longest, keys)
                if output_hidden_states:
                    states.append(h)
            states = states if output_hidden_states else [h]
            real_rows = offsets[b] - offsets[a]
            results.append([s[:real_rows] for s in states] if extras else states)
            if extras:
                extra_results.append([s[real_rows:] for s in states])
        parts = results + extra_results
        all_hidden = parts[0] if len(parts) == 1 else [torch.cat(p) for p in zip(*parts)]
        x = all_hidden[-1]

        def unpack(t):
            if index is None:
                return t.view(batch, seq, hidden)
            out = t.new_zeros(batch * seq, hidden)
            out.index_copy_(0, index, t)
            return out.view(batch, seq, hidden)

        return unpack(x), (tuple(unpack(h) for h in all_hidden) if output_hidden_states else None)
