"""The one-call layer kernels (csrc/layers/encoder_layer.h, decoder_layer.h): binding a layer's packed weights
for them, running them, and deciding when a model's layers can use them (every projection on the panel GEMM)."""
from __future__ import annotations

from typing import Callable, Dict, Iterable, Optional, Tuple

import torch

from transformers_fast.ops import _backend as B
from transformers_fast.ops import quantized_linear
from transformers_fast.ops.packed_linear import _PANEL_ACT, chosen_backend
from transformers_fast.ops.projection import Projection
from transformers_fast.ops.quantized_linear import QuantizedLinear

HAS_LAYER_KERNELS = B.has_kernels() and hasattr(B._C, "LayerWeights")


def bind_layer_weights(qkv: Projection, out: Projection, out_bias: torch.Tensor, ln1: tuple,
                       ffn_in: Projection, ffn_out: Projection, ffn_out_bias: torch.Tensor, ln2: tuple,
                       heads: int, head_dim: int):
    """A layer's weights as the C++ kernels take them (the projections' float panels, or int8 panels with their
    column sums and scales; the biases and the LayerNorms, ln = (weight, bias, eps)), bound once; the bound object
    keeps the tensors alive."""
    projections = (qkv, out, ffn_in, ffn_out)
    weights, int8_parts = [], []
    for p in projections:
        if isinstance(p, QuantizedLinear):
            packed, colsum = p.packed()
            weights.append(packed)
            int8_parts += [colsum, p.weight_scale]
        else:
            weights.append(p.panel_weight())
            int8_parts += [None, None]
    tensors = (weights[0], qkv.bias, weights[1], out_bias, ln1[0], ln1[1], weights[2], ffn_in.bias, weights[3],
               ffn_out_bias, ln2[0], ln2[1])
    tensors = tuple(t.detach().contiguous() for t in tensors)
    return B._C.LayerWeights(list(tensors), out.out_features, heads, head_dim, ffn_in.out_features,
                             ln1[2], ln2[2], _PANEL_ACT[ffn_in.activation], (tensors, int8_parts), int8_parts)


def encoder_layer(x: torch.Tensor, cu_seqlens: torch.Tensor, layer, scale: float) -> torch.Tensor:
    """One post-LayerNorm encoder layer as one C++ call: x [tokens, hidden] float32 packed tokens, cu_seqlens
    [batch + 1] int64 sequence offsets, layer from bind_layer_weights -> [tokens, hidden]."""
    out = torch.empty_like(x)
    B.sync_threads()
    B._C.encoder_layer(x, cu_seqlens, layer, out, scale)
    return out


def decoder_layer_step(x: torch.Tensor, kv: torch.Tensor, position: int, key_bias: Optional[torch.Tensor], layer,
                       scale: float, pre_ln: bool, kv_scale: Optional[torch.Tensor] = None) -> None:
    """One decoder block of a decode step as one C++ call: x [batch, hidden] updated in place, the keys and
    values written at `position` of kv [batch, 2, heads, capacity, head_dim] (float32, or int8 with kv_scale
    [batch, 2, heads, capacity] float32: quantized as written, ops.attention.quantize_kv); key_bias [batch,
    capacity] additive (or None); pre_ln: GPT-2's pre-LayerNorm block, else OpenAI GPT's post-LayerNorm one."""
    B.sync_threads()
    B._C.decoder_layer_step(x, kv, kv_scale, position, key_bias, layer, scale, pre_ln)


class OneCallChoice:
    """Whether a model's layers run as one C++ call each for `rows` rows: only when the model can at all and
    every projection is int8 or calibrated (or forced) to the panel GEMM. Decided once per (rows, threads), after
    calibration; forget() when the layers are rebuilt."""

    def __init__(self):
        self._decided: Dict[Tuple[int, int], bool] = {}

    def forget(self) -> None:
        self._decided = {}

    def __call__(self, rows: int, projections: Callable[[], Optional[Iterable[Projection]]]) -> bool:
        """projections(): every projection of the model's layers, or None where the layers cannot run as one
        call (another activation, dtype or device)."""
        key = (rows, torch.get_num_threads())
        decided = self._decided.get(key)
        if decided is None:
            candidates = projections() if HAS_LAYER_KERNELS else None
            decided = False if candidates is None else _all_on_panel(candidates, rows)
            if decided is None:
                return False  # some projection not calibrated yet: its first call does that, a later one decides
            self._decided[key] = decided
        return decided


def _all_on_panel(projections: Iterable[Projection], rows: int) -> Optional[bool]:
    """True when every projection runs a kernel the C++ layers run: the float panel GEMM, or the int8 one."""
    for packed in projections:
        if isinstance(packed, QuantizedLinear):
            if not quantized_linear.kernel_available():
                return False  # (QuantizedLinear runs its torch fallback there)
            continue
        backend = chosen_backend(packed, rows)
        if backend != "panel":
            return None if backend is None else False
    return True
