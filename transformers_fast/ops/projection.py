"""The projections the fast paths hold, from a model's layers: float or int8, one or several side by side.

Every fast path (runtime/) builds its GEMMs here and runs them with ops.linear, which takes both kinds.
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

import torch
import torch.nn as nn

from transformers_fast.ops.packed_linear import PackedLinear
from transformers_fast.ops.quantized_linear import QuantizedLinear, _float_weight

Projection = Union[PackedLinear, QuantizedLinear]


def projection(parts: Sequence[Union[nn.Module, torch.Tensor]], activation: Optional[str] = None,
               bias: bool = True) -> Projection:
    """One GEMM computing `parts` side by side (their outputs concatenated, as a fused QKV), then `activation`.

    parts: int8 QuantizedLinear layers (a quantized model), or float nn.Linear / PackedLinear / GPT Conv1D layers,
    or float weights [out, in]; all of one kind (they run as one GEMM). Float parts give one PackedLinear of their
    weights (a single part's weight as it is: a Conv1D's transposed view, not a copy); int8 parts give their
    QuantizedLinear.stack, each output with its layer's own bits, and a single int8 layer whose activation and bias
    already match is returned itself (one packed copy of its weight). An int8 layer keeps the activation quantize()
    fused into it when `activation` is None. bias=False leaves the biases out (for a caller that adds them later,
    inside residual + LayerNorm)."""
    parts = list(parts)
    if not parts:
        raise ValueError("projection: parts must name at least one layer or weight")
    quantized = [isinstance(p, QuantizedLinear) for p in parts]
    if all(quantized):
        if activation is None and len(parts) == 1:
            activation = parts[0].activation
        layer = parts[0]
        if len(parts) == 1 and layer.activation == activation and (bias or layer.bias is None):
            return layer
        return QuantizedLinear.stack(parts, activation, bias)
    if any(quantized):
        raise TypeError("projection: the parts run as one GEMM and must be all int8 or all float (quantize() converts "
                        "a model's layers together; or set model.fast.enabled = False)")
    weights, biases = [], []
    for part in parts:
        weight, part_bias = (part, None) if isinstance(part, torch.Tensor) else _float_weight(part)[:2]
        weights.append(weight.detach())
        biases.append(part_bias)
    if any(w.dim() != 2 or w.shape[1] != weights[0].shape[1] for w in weights):
        raise ValueError(f"projection: the parts run as one GEMM and must take the same in_features, got weights "
                         f"{[tuple(w.shape) for w in weights]}")
    with_bias = bias and any(b is not None for b in biases)
    if with_bias:
        biases = [b.detach() if b is not None else w.new_zeros(w.shape[0]) for b, w in zip(biases, weights)]
    def joined(tensors):
        return tensors[0] if len(tensors) == 1 else torch.cat(tensors)
    # inference state derived from the layers: no autograd graph through it, so the GEMM stays on the fast route
    # (and a frozen model run with gradients enabled gives outputs that do not require grad, as the reference's)
    return PackedLinear(joined(weights), joined(biases) if with_bias else None, activation).requires_grad_(False)
