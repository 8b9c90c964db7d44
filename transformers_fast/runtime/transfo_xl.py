"""Fused inference path of Transformer-XL (attn_type 0): the forward of TransfoXLModel with memories, the full
log-probabilities of the adaptive softmax, and generation that carries memories between steps.

Per layer: one prepacked GEMM for q, k, v of the segment; k and v of the memory rows through the k/v rows of the
same weight (their queries are never used, so they are not computed); the relative position keys r_net(pos_emb)
once per key length and kept while that length repeats (every decode step has the same one); attention through
ops.relative_attention(shift="transfo_xl"); residual + LayerNorm fused; bias + ReLU on the GEMM output in place.
Memories that init_mems made (zeros) need no GEMM: their keys and values are those of one zero row.
During generation the keys and values of the memory are kept beside it (sliced exactly as 1.2.0 slices the
memory), so that a step projects only the new token; they sit in buffers with room after them (MemoryKV), so that
a step writes its own keys and values there instead of concatenating the whole memory again. The adaptive softmax
writes its log-probabilities once into the [rows, n_token] output (log_softmax per cluster plus the head's cluster
log-probability).
Results equal the reference modules' within float32 rounding (the GEMMs group rows differently).
A quantized model (transformers_fast.quantize) runs the same way on its int8 layers (ops.QuantizedLinear through
the same ops.linear; the k/v projection of the memory is the int8 qkv layer's k and v rows, QuantizedLinear.rows):
every row's activations are quantized as in the model's own modules, and generation keeps the memory's keys and
values in int8 (unless quantized with kv_cache="float"); the adaptive softmax is float, or with lm_head=True its
int8 copies.
The packed weights are derived state, rebuilt when a parameter (or int8 buffer) is replaced or modified in place.
"""
from __future__ import annotations

from typing import List, NamedTuple, Optional

import torch
from torch import nn
from torch.nn import functional as F

from transformers_fast import ops
from transformers_fast.ops import PackedLinear, QuantizedLinear, empty_large, linear, logsumexp_update_
from transformers_fast.ops.projection import Projection  # float, or int8 in a quantized model
from transformers_fast.ops.attention import quantize_kv
from transformers_fast.ops.quantized_linear import float_like
from transformers_fast.runtime.fast_path import (FastPath, apply_malloc_setting, fast_tensor, int8_kv_cache,
                                                 records_autograd)

# Below this many rows the Python wrapper of ops.layer_norm costs more than F.layer_norm's whole run (on the CPU;
# on CUDA the fused kernel is one launch where F.layer_norm(residual + x) is two, whatever the rows).
FUSED_LAYER_NORM_MIN_ROWS = 32
R_CACHE_SIZE = 4  # key lengths whose projected position keys are kept
# Output columns of the adaptive softmax per GEMM: the chunk's logits [rows, SOFTMAX_CHUNK] stay in cache while
# their log-sum-exp is accumulated and they are copied into the output (one pass over the output, not four).
SOFTMAX_CHUNK = 8192
# Generation: rows of room after the memory's keys and values (MemoryKV); the memory moves once per this many steps.
MEMORY_SLACK = 64


def _norm(ln) -> tuple:
    return (ln.weight.detach(), ln.bias.detach(), ln.eps)


def layer_norm(x: torch.Tensor, norm: tuple) -> torch.Tensor:
    weight, bias, eps = norm
    if x.shape[0] >= FUSED_LAYER_NORM_MIN_ROWS or ops.on_cuda(x):
        return ops.layer_norm(x, weight, bias, eps)
    return F.layer_norm(x, (x.shape[-1],), weight, bias, eps)


def add_layer_norm(x: torch.Tensor, residual: torch.Tensor, norm: tuple) -> torch.Tensor:
    """LayerNorm(residual + x)."""
    weight, bias, eps = norm
    if x.shape[0] >= FUSED_LAYER_NORM_MIN_ROWS or ops.on_cuda(x):
        return ops.add_layer_norm(x, residual, weight, bias, eps)
    return F.layer_norm(residual + x, (x.shape[-1],), weight, bias, eps)


class LayerWeights(NamedTuple):
    qkv: Projection        # [3 * H * D, d_model]
    kv: Projection         # the k and v rows of qkv (a view)
    r: Projection          # r_net
    o: Projection
    ff1: Projection        # with bias (ReLU applied in place after it)
    ff2: Projection
    attn_ln: tuple
    ff_ln: tuple
    r_w_bias: torch.Tensor  # [H, D]
    r_r_bias: torch.Tensor
    heads: int
    head_dim: int
    scale: float
    pre_lnorm: bool


class AdaptiveSoftmaxWeights(NamedTuple):
    bounds: List[int]                     # 0, cutoffs..., n_token
    projs: List[Optional[Projection]]     # per cluster: d_proj -> d_emb_i, or None (int8 with lm_head=True)
    chunks: List[List[tuple]]             # per cluster: (first, stop, Projection) over its output columns (the
                                          # head's columns end with one per tail cluster)


class MemoryKV:
    """The keys and values of the memory during generation, per layer in a buffer [capacity, batch, 2, H, D] whose
    rows [start, end) are the memory's. A step writes its rows after them and attends over that view; the memory
    window then slides by moving `start`. The rows move to the front of the buffer only when it is full (every
    MEMORY_SLACK steps), instead of the whole memory being concatenated with the new rows at every step.
    quantized: int8 rows with one float32 scale each, `scales` [capacity, batch, 2, H] (ops.attention.quantize_kv),
    the generation of an int8 model."""

    def __init__(self, kept: List[torch.Tensor], quantized: bool = False):
        rows = kept[0].shape[0]
        self.buffers = [kv.new_empty((rows + MEMORY_SLACK,) + tuple(kv.shape[1:]),
                                     dtype=torch.int8 if quantized else kv.dtype) for kv in kept]
        self.scales = None if not quantized else [
            kv.new_empty((rows + MEMORY_SLACK,) + tuple(kv.shape[1:-1]), dtype=torch.float32) for kv in kept]
        for layer, kv in enumerate(kept):
            self._write(layer, 0, kv)
        self.start, self.end = 0, rows

    def __len__(self) -> int:
        return self.end - self.start

    def _write(self, layer: int, at: int, rows: torch.Tensor) -> None:
        end = at + rows.shape[0]
        if self.scales is None:
            self.buffers[layer][at:end] = rows
        else:
            quantize_kv(rows, self.buffers[layer][at:end], self.scales[layer][at:end])

    def reserve(self, qlen: int) -> None:
        """Room for qlen rows after the memory in every buffer: the memory moved to the front (or into a larger
        buffer, for a segment longer than the slack) when the buffers are full."""
        capacity = self.buffers[0].shape[0]
        if self.end + qlen <= capacity:
            return
        rows = len(self)
        for tensors in (self.buffers, self.scales or []):
            for i, buffer in enumerate(tensors):
                memory = buffer[self.start:self.end]
                if rows + qlen > capacity:
                    slack = max(MEMORY_SLACK, qlen)
                    tensors[i] = buffer.new_empty((rows + qlen + slack,) + tuple(buffer.shape[1:]))
                    tensors[i][:rows] = memory
                else:
                    buffer[:rows] = memory.clone()  # (the two ranges may overlap)
        self.start, self.end = 0, rows

    def extend(self, layer: int, rows: torch.Tensor):
        """Writes the segment's keys and values rows [qlen, batch, 2, H, D] after layer's memory; returns memory +
        segment [mlen + qlen, batch, 2, H, D] (a view) and, quantized, its scales [mlen + qlen, batch, 2, H]."""
        self._write(layer, self.end, rows)
        stop = self.end + rows.shape[0]
        return (self.buffers[layer][self.start:stop],
                None if self.scales is None else self.scales[layer][self.start:stop])

    def slide(self, begin: int, end: int) -> None:
        """The next memory: rows [begin, end) of memory + segment."""
        self.start, self.end = self.start + begin, self.start + end


def check_unpadded(attention_mask: Optional[torch.Tensor]) -> None:
    if attention_mask is not None and not bool(attention_mask.all()):
        raise ValueError("Transformer-XL has no attention mask: padded prompts would attend to their padding; "
                         "generate prompts of one length (or one prompt at a time)")


class MemoryCache:
    mems = None  # the memories the last call returned (per layer [mem_len, rows, d_model])


class ForwardDecoder:
    """The model's own forward in place of the fused decoder (generate's, where that does not compute what the
    modules do): the prompt runs first without memory, then each new token over the memories the previous call
    returned, as 1.2.0's generation loops ran it."""

    def __init__(self, model):
        self.model = model

    def new_cache(self, batch: int, capacity: int) -> MemoryCache:
        return MemoryCache()

    def prefill(self, input_ids, position_ids, attention_mask, cache: MemoryCache) -> torch.Tensor:
        check_unpadded(attention_mask)
        return self._forward(cache, input_ids)

    def step(self, tokens: torch.Tensor, positions, cache: MemoryCache) -> torch.Tensor:
        return self._forward(cache, tokens[:, None])

    def _forward(self, cache: MemoryCache, ids: torch.Tensor) -> torch.Tensor:
        out = self.model(ids, mems=cache.mems)
        cache.mems = out.mems
        return out[0][:, -1]  # (the log-probabilities of the last position)


class GenerationState:
    """What generation carries between steps: the memory's keys and values (MemoryKV; None without memory,
    mem_len 0)."""

    def __init__(self, batch: int):
        self.batch = batch
        self.kv: Optional[MemoryKV] = None


def _pack(weight: torch.Tensor, bias: Optional[torch.Tensor] = None) -> PackedLinear:
    return PackedLinear(weight.detach(), None if bias is None else bias.detach())


def _projection(layer, start: int = 0, stop: Optional[int] = None) -> Projection:
    """What the fast path runs for outputs [start, stop) of a layer's linear (all of them by default): a
    PackedLinear of the nn.Linear's float rows, or in a quantized model a QuantizedLinear of the int8 layer's rows
    (QuantizedLinear.rows: views, the same bits)."""
    stop = layer.out_features if stop is None else stop
    if isinstance(layer, QuantizedLinear):
        return layer.rows(start, stop)
    return _pack(layer.weight[start:stop], None if layer.bias is None else layer.bias[start:stop])


class TransfoXLFastPath(FastPath):
    """Fused forward of TransfoXLModel and, on TransfoXLLMHeadModel, the adaptive softmax and generation. The LM
    head model's fast path uses its base model's packed layers (one copy)."""

    def __init__(self, model):
        self.model = model
        self.enabled = True  # False: the reference path always
        self._layers: Optional[List[LayerWeights]] = None
        self._softmax: Optional[AdaptiveSoftmaxWeights] = None
        self._r_cache = {}
        self._mem_kv = None  # (the memories last returned, their versions, their keys and values per layer)

    def invalidate(self) -> None:
        self._layers = None
        self._softmax = None
        self._r_cache = {}
        self._mem_kv = None

    def __getstate__(self):
        return {"model": self.model}

    def __setstate__(self, state):
        self.__init__(state["model"])

    def _base(self):
        return getattr(self.model, "transformer", self.model)

    # ---- when the fast path runs ----
    def _inference(self, module, x: torch.Tensor, *inputs) -> bool:
        if module.training or ops.capturing_graph() or not self.runs_as_built():
            return False
        return fast_tensor(x) and not records_autograd(module, x, *inputs)

    def usable(self, head_mask, output_attentions: bool, words: Optional[torch.Tensor] = None, mems=None) -> bool:
        """Whether TransfoXLModel.forward can run fused: attn_type 0, inference without autograd (of the weights,
        the given word embeddings or the memories), the fast paths' devices and dtypes (fast_tensor), no head mask
        or attentions, not while tracing (a trace records the reference path)."""
        base = self._base()
        if not self.enabled or head_mask is not None or output_attentions or base.attn_type != 0:
            return False
        return self._inference(base, float_like(base.word_emb.emb_layers[0]) if words is None else words, mems)

    def decodes(self) -> bool:
        # the fused decoder as the fused forward: attn_type 0, the fast paths' dtypes (a float64 or float16 model
        # generates through its forward over memories)
        return self.usable(None, False)

    def softmax_usable(self, hidden: torch.Tensor) -> bool:
        crit = getattr(self.model, "crit", None)
        return self.enabled and crit is not None and self._inference(self.model, hidden)

    # ---- packed weights ----
    def layers(self) -> List[LayerWeights]:
        base = self._base()
        if base is not self.model:
            return base.fast.layers()
        self.watch()
        if self._layers is None:
            apply_malloc_setting()
            with torch.inference_mode(False), torch.no_grad():
                self._layers = [self._build(layer) for layer in base.layers]
            self._r_cache = {}
            self._mem_kv = None
        return self._layers

    @staticmethod
    def _build(layer) -> LayerWeights:
        attn, ff = layer.dec_attn, layer.pos_ff
        hd = attn.n_head * attn.d_head
        return LayerWeights(qkv=_projection(attn.qkv_net), kv=_projection(attn.qkv_net, hd), r=_projection(attn.r_net),
                            o=_projection(attn.o_net), ff1=_projection(ff.CoreNet[0]), ff2=_projection(ff.CoreNet[3]),
                            attn_ln=_norm(attn.layer_norm), ff_ln=_norm(ff.layer_norm),
                            r_w_bias=attn.r_w_bias.detach(), r_r_bias=attn.r_r_bias.detach(), heads=attn.n_head,
                            head_dim=attn.d_head, scale=attn.scale, pre_lnorm=bool(attn.pre_lnorm))

    def softmax(self) -> AdaptiveSoftmaxWeights:
        crit = self.model.crit
        self.watch()
        if self._softmax is None:
            with torch.inference_mode(False), torch.no_grad():
                # float clusters, or int8 ones (quantize(..., lm_head=True): the layers' own rows)
                int8 = getattr(crit, "int8_clusters", None)
                clusters = crit.cluster_weights() if int8 is None else list(zip(int8, crit.int8_projs))
                projs, chunks = [], []
                for cluster in clusters:
                    if int8 is None:
                        w, b, proj = (None if t is None else t.detach() for t in cluster)
                        rows, part = w.shape[0], lambda lo, hi, w=w, b=b: _pack(w[lo:hi], b[lo:hi])
                        projs.append(None if proj is None else _pack(proj.t()))
                    else:
                        layer, proj = cluster
                        rows, part = layer.out_features, layer.rows
                        projs.append(None if isinstance(proj, nn.Identity) else proj)
                    bounds = [(first, min(first + SOFTMAX_CHUNK, rows)) for first in range(0, rows, SOFTMAX_CHUNK)]
                    chunks.append([(first, stop, part(first, stop)) for first, stop in bounds])
            self._softmax = AdaptiveSoftmaxWeights([0] + list(crit.cutoffs), projs, chunks)
        return self._softmax

    # ---- the adaptive softmax ----
    @torch.no_grad()
    def log_probs(self, hidden: torch.Tensor) -> torch.Tensor:
        """Log-probabilities [rows, n_token] of hidden [rows, d_model] (what crit(hidden) returns). Per cluster
        the logits are made a chunk of columns at a time and, while in cache, copied into the output with their
        log-sum-exp accumulated (ops.logsumexp_update_); one last pass subtracts it (and adds the head's
        log-probability of the cluster)."""
        weights = self.softmax()
        hidden = hidden.contiguous()
        bounds = weights.bounds
        rows = hidden.shape[0]
        out = empty_large(rows, bounds[-1], dtype=hidden.dtype, device=hidden.device)
        shortlist = bounds[1]
        cluster_logits = None
        lses = []
        for i, chunks in enumerate(weights.chunks):
            proj = weights.projs[i]
            h = hidden if proj is None else linear(hidden, proj)
            offset = bounds[i]
            top = bounds[i + 1] - offset  # the cluster's vocabulary columns (the head has more: its clusters')
            running_max = torch.full((rows,), -float("inf"), device=hidden.device)
            running_sum = torch.zeros(rows, device=hidden.device)
            for first, stop, packed in chunks:
                logits = linear(h, packed)  # [rows, stop - first]
                keep = min(stop, top) - first
                target = out[:, offset + first:offset + first + keep] if keep > 0 else None
                logsumexp_update_(logits, running_max, running_sum, target)
                if stop > top:  # the head's last columns: the tail clusters' logits
                    cluster_logits = logits[:, max(keep, 0):].float()
            lses.append((running_max + running_sum.log_())[:, None])
        out[:, :shortlist].sub_(lses[0])
        if cluster_logits is not None:
            cluster_logprob = cluster_logits - lses[0]  # [rows, tail clusters]
            for i in range(1, len(bounds) - 1):
                out[:, bounds[i]:bounds[i + 1]].sub_(lses[i] - cluster_logprob[:, i - 1:i])
        return out

    # ---- the layers ----
    def _position_keys(self, klen: int, like: torch.Tensor) -> List[torch.Tensor]:
        """Per layer r_net(pos_emb) as [klen, 1, H, D], kept per key length."""
        base = self._base()
        key = (klen, base.clamp_len)
        found = self._r_cache.get(key)
        if found is None:
            pos_emb = base.pos_emb(base.position_sequence(klen, like)).reshape(klen, -1)
            found = [linear(pos_emb, layer.r).view(klen, 1, layer.heads, layer.head_dim) for layer in self.layers()]
            if len(self._r_cache) >= R_CACHE_SIZE:
                self._r_cache.pop(next(iter(self._r_cache)))
            self._r_cache[key] = found
        return found

    @torch.no_grad()
    def run(self, ids: Optional[torch.Tensor], mems, zero_mems: bool, mem_kv=None, keep_kv: bool = False,
            words: Optional[torch.Tensor] = None):
        """Every layer on ids [qlen, batch] (or their word embeddings `words` [qlen, batch, d]) with memories `mems` (per layer [mlen, batch, d], or None) or their keys
        and values `mem_kv` (per layer [mlen, batch, 2, H, D], or during generation a MemoryKV, which takes the
        segment's rows in place). zero_mems: the memories are
        init_mems' zeros. Returns core_out [qlen, batch, d], hids (the input of every layer) and, with keep_kv,
        per layer the keys and values of memory + segment [mlen + qlen, batch, 2, H, D]."""
        layers = self.layers()
        base = self._base()
        x = base.word_emb(ids) if words is None else words  # [qlen, bsz, d], not written to
        qlen, bsz, width = x.shape
        if mem_kv is not None:
            mlen = len(mem_kv)
            mem_kv.reserve(qlen)
        else:
            mlen = 0 if mems is None else mems[0].shape[0]
        klen = mlen + qlen
        mask = base.attention_mask(qlen, mlen, x)
        if not bool(mask.any()):
            mask = None
        r_heads = base.fast._position_keys(klen, x)  # the base model's fast path holds the packed layers
        hids, kept = [], []
        x = x.view(qlen * bsz, width)
        for i, layer in enumerate(layers):
            hids.append(x.view(qlen, bsz, width))
            heads, dim = layer.heads, layer.head_dim
            h_in = layer_norm(x, layer.attn_ln) if layer.pre_lnorm else x
            qkv = linear(h_in, layer.qkv).view(qlen, bsz, 3, heads, dim)
            scales = {}
            if mem_kv is not None:
                kv, kv_scale = mem_kv.extend(i, qkv[:, :, 1:])
                if kv_scale is not None:  # an int8 memory
                    scales = dict(k_scale=kv_scale[:, :, 0], v_scale=kv_scale[:, :, 1])
            elif mlen:
                if zero_mems:
                    zero = torch.zeros(1, width, dtype=x.dtype, device=x.device)
                    row = linear(layer_norm(zero, layer.attn_ln) if layer.pre_lnorm else zero, layer.kv)
                    mkv = row.view(1, 1, 2, heads, dim).expand(mlen, bsz, 2, heads, dim)
                else:
                    m = mems[i].reshape(mlen * bsz, width)
                    mkv = linear(layer_norm(m, layer.attn_ln) if layer.pre_lnorm else m, layer.kv)
                    mkv = mkv.view(mlen, bsz, 2, heads, dim)
                kv = torch.cat([mkv, qkv[:, :, 1:]], 0)
            else:
                kv = qkv[:, :, 1:]
            if keep_kv:
                kept.append(kv)
            vec = ops.relative_attention(qkv[:, :, 0], kv[:, :, 0], kv[:, :, 1], r_heads[i], layer.r_w_bias,
                                         layer.r_r_bias, shift="transfo_xl", scale=layer.scale, attn_mask=mask,
                                         **scales)
            a = linear(vec.view(qlen * bsz, heads * dim), layer.o)
            if layer.pre_lnorm:
                x = x + a
                inner = linear(layer_norm(x, layer.ff_ln), layer.ff1).relu_()
                x = linear(inner, layer.ff2).add_(x)
            else:
                x = add_layer_norm(a, x, layer.attn_ln)
                inner = linear(x, layer.ff1).relu_()
                x = add_layer_norm(linear(inner, layer.ff2), x, layer.ff_ln)
        return x.view(qlen, bsz, width), hids, kept

    @staticmethod
    def _versions(tensors):
        """Version counters of the memories (None for inference tensors, whose in-place changes cannot be seen)."""
        try:
            return tuple(t._version for t in tensors)
        except RuntimeError:
            return None

    @torch.no_grad()
    def forward(self, ids: Optional[torch.Tensor], mems, output_hidden_states: bool, zero_mems: bool = False,
                words: Optional[torch.Tensor] = None):
        """TransfoXLModel's computation on ids [qlen, batch] (or their word embeddings `words` [qlen, batch, d]):
        (core_out [qlen, batch, d], new mems, hids).

        The keys and values of the memories this returns are kept (sliced as the memories are): when the next
        call passes those same memories back, unchanged, their keys and values are not projected again."""
        base = self._base()
        self.layers()  # first: a weight changed since the last call drops the memories' keys and values too
        mem_kv = None
        if mems is not None and not zero_mems and self._mem_kv is not None:
            known, versions, kv = self._mem_kv
            if (len(known) == len(mems) and all(a is b for a, b in zip(known, mems))
                    and versions == self._versions(mems)):
                mem_kv = kv
        self._mem_kv = None
        track = mems is not None
        core_out, hids, kept = self.run(ids, None if mem_kv is not None else mems, zero_mems, mem_kv=mem_kv,
                                        keep_kv=track, words=words)
        mlen = 0 if mems is None else mems[0].shape[0]
        qlen = core_out.shape[0]
        new_mems = base._update_mems(hids, mems, mlen, qlen)
        versions = None if new_mems is None else self._versions(new_mems)
        if track and versions is not None:
            self._mem_kv = (list(new_mems), versions, self._next_memory(mem_kv, kept, mlen, qlen))
        return core_out, new_mems, (hids if output_hidden_states else None)

    # ---- generation ----
    def _memory_bounds(self, mlen: int, qlen: int):
        base = self._base()
        end_idx = qlen + max(0, mlen - base.ext_len)  # 1.2.0's _update_mems with its swapped lengths
        return max(0, end_idx - base.mem_len), end_idx

    def _next_memory(self, memory: Optional[MemoryKV], kept: List[torch.Tensor], mlen: int, qlen: int,
                     quantized: bool = False):
        """The keys and values of the next memory (1.2.0's slice of memory + segment): the same MemoryKV slid,
        or a new one holding those rows of `kept` (quantized: in int8)."""
        beg, end = self._memory_bounds(mlen, qlen)
        if memory is not None:
            memory.slide(beg, end)
            return memory
        return MemoryKV([kv[beg:end] for kv in kept], quantized)

    def forward_decoder(self) -> ForwardDecoder:
        return ForwardDecoder(self.model)

    def new_cache(self, batch: int, capacity: int) -> GenerationState:
        self.layers()
        return GenerationState(batch)

    def _advance(self, ids: torch.Tensor, state: GenerationState) -> torch.Tensor:
        base = self._base()
        qlen, bsz = ids.shape
        if state.kv is None:
            mems = base.init_mems(ids)
            core_out, _, kept = self.run(ids, mems, zero_mems=True, keep_kv=mems is not None)
            mlen = 0 if mems is None else mems[0].shape[0]
        else:
            mlen = len(state.kv)
            core_out, _, kept = self.run(ids, None, False, mem_kv=state.kv, keep_kv=True)
        if kept:  # (an int8 model's generation keeps the memory's keys and values in int8)
            quantized = int8_kv_cache(self.model, float_like(base.word_emb.emb_layers[0]))
            state.kv = self._next_memory(state.kv, kept, mlen, qlen, quantized)
        return self.log_probs(core_out[-1])

    @torch.no_grad()
    def prefill(self, input_ids: torch.Tensor, position_ids, attention_mask, cache: GenerationState) -> torch.Tensor:
        """Runs the prompts [batch, seq] (no memory yet: init_mems' zeros, as a first 1.2.0 call); returns the
        log-probabilities of the last position [batch, n_token]."""
        check_unpadded(attention_mask)
        cache.kv = None
        return self._advance(input_ids.t().contiguous(), cache)

    @torch.no_grad()
    def step(self, tokens: torch.Tensor, positions, cache: GenerationState) -> torch.Tensor:
        """One token per row [batch] after the memory; returns log-probabilities [batch, n_token]."""
        return self._advance(tokens.view(1, -1), cache)
