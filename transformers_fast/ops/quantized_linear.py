"""int8 linear layers: weights quantized once per output channel, activations per token at every call.

y = dequant(quant(x) . Wq^T) + bias, with an optional fused GELU (erf or tanh form, as PackedLinear):
  weight:      Wq [out, in] int8 = clamp(round(W / sw), -127, 127), sw [out] = absmax(W[o, :]) / 127
  activations: per row (token) r, asymmetric u8: lo = min(x_r, 0), hi = max(x_r, 0), sx = (hi - lo) / 255,
               zero = round(-lo * 255 / (hi - lo)), xq = clamp(round(x * 255 / (hi - lo)) + zero, 0, 255)
  output:      float32(sum_k (xq - zero) Wq) * (sx[r] * sw[o]) + bias[o]
(round: half to even; csrc/kernels/gemm_int8.h says why a zero point rather than a symmetric absmax scale.)
The sums are exact (int32 in the kernel), so the C++ kernel (csrc/kernels/gemm_int8_cpu.cpp: AMX-INT8 tiles,
AVX-512 VNNI, AVX2, portable) and the torch fallback below (exact float64 sums) give the same bits before GELU, on
every ISA and thread count. A row holding NaN or infinity gives NaN outputs.

`weight_int8`, `weight_scale` and `bias` are the state-dict entries (buffers: a quantized layer has nothing to
train); the packed copy the kernel reads is derived on first use and never saved. Quantized layers are
inference-only: autograd through them, or a forward in training mode with gradients enabled, raises.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from transformers_fast.ops import _backend as B
from transformers_fast.ops.packed_linear import ACTIVATIONS, PackedLinear

_ACT_CODE = {None: 0, "gelu": 1, "gelu_tanh": 2}  # tf::GemmAct
# |sum_k xq Wq| (xq the u8 activations, <= 255; |Wq| <= 128) must fit int32 in the kernel (csrc/kernels/gemm_int8.h
# kInt8MaxK).
MAX_IN_FEATURES = 2147483647 // (255 * 128)
INFERENCE_ONLY = ("quantized models are inference-only: {what}. Run them under torch.no_grad() / "
                  "torch.inference_mode() in eval mode, or fine-tune the float model and quantize it afterwards")


# Decided once, as the other ops' kernels: where the C++ kernels are not vectorised (no AVX2, not x86) the
# torch fallback runs (same results).
_KERNEL_ON = B.has_kernels() and hasattr(B._C, "gemm_int8")


def kernel_available() -> bool:
    """True where QuantizedLinear runs the C++ int8 kernel (x86-64 with AVX2 or AVX-512), False where it
    runs the torch fallback (same results, much slower)."""
    return _KERNEL_ON


def _version(t: torch.Tensor) -> int:
    try:
        return t._version
    except RuntimeError:  # an inference tensor has no version counter: call repack() after changing it
        return -1


def kernel_name() -> str:
    """The int8 kernel that runs now: "avx512_vnni", "avx2_vpmaddwd", "generic", or "torch" (fallback)."""
    return B._C.gemm_int8_kernel() if kernel_available() else "torch"


def is_quantized(model: nn.Module) -> bool:
    """True when `model` holds int8 layers: transformers_fast.quantize (and from_pretrained of a quantized
    folder) records it in model.config.quantization; the fast paths then run the int8 layers as their projections."""
    config = getattr(model, "config", None)
    return config is not None and getattr(config, "quantization", None) is not None


def quantize_weight(weight: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """weight [out, in] (float) -> (int8 [out, in], float32 scales [out]) with symmetric per-row scales:
    scale = absmax / 127, q = clamp(round(w / scale), -127, 127); an all-zero row gets scale 0 and q 0."""
    if not isinstance(weight, torch.Tensor) or not weight.is_floating_point():
        raise TypeError(f"quantize_weight: expected a floating-point tensor, got "
                        f"{weight.dtype if isinstance(weight, torch.Tensor) else type(weight).__name__}")
    if weight.dim() != 2:
        raise ValueError(f"quantize_weight: weight must be [out_features, in_features], got {tuple(weight.shape)}")
    w = weight.detach().to(device="cpu", dtype=torch.float32)
    if w.numel() and not bool(torch.isfinite(w).all()):
        raise ValueError("quantize_weight: the weight holds NaN or infinite values")
    scale = w.abs().amax(dim=1) / 127.0 if w.shape[1] else torch.zeros(w.shape[0])
    divisor = torch.where(scale > 0, scale, torch.ones_like(scale))
    q = torch.round(w / divisor[:, None]).clamp_(-127, 127).to(torch.int8)
    return q.contiguous(), scale.contiguous()


def quantize_activations(x2: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """x2 [rows, in] float32 -> (u8 values 0..255 as float32 [rows, in], scales [rows], zero points [rows] as
    float32): the kernel's per-token quantization (rows with NaN/inf: all 0, scale NaN, zero 0)."""
    rows = x2.shape[0]
    zeros = x2.new_zeros(rows)
    lo = torch.minimum(x2.amin(dim=1), zeros) if x2.shape[1] else zeros
    hi = torch.maximum(x2.amax(dim=1), zeros) if x2.shape[1] else zeros
    span = hi - lo
    bad = ~torch.isfinite(x2).all(dim=1) | ~torch.isfinite(span)
    ok = (span > 0) & ~bad
    safe = torch.where(ok, span, torch.ones_like(span))
    # Tensor by tensor divisions: torch computes `255.0 / t` as t.reciprocal() * 255 and `t / 255.0` as
    # t * (1 / 255), which round differently from the kernel's IEEE divisions.
    c255 = torch.full_like(span, 255.0)
    inv = torch.where(ok, c255 / safe, zeros)
    zero = torch.where(ok, torch.round(-lo * inv).clamp_(0, 255), zeros)
    clean = torch.where(ok[:, None], x2, torch.zeros_like(x2))
    q = (torch.round(clean * inv[:, None]) + zero[:, None]).clamp_(0, 255)
    scale = torch.where(bad, torch.full_like(span, float("nan")), torch.where(ok, span / c255, zeros))
    return q, scale, zero


def reference(x2: torch.Tensor, weight_int8: torch.Tensor, weight_scale: torch.Tensor,
              bias: Optional[torch.Tensor], activation: Optional[str] = None) -> torch.Tensor:
    """The kernel's math in torch ops (float64 holds the integer sums exactly): x2 [rows, in] float32."""
    q, sx, zero = quantize_activations(x2)
    acc = ((q - zero[:, None]).double() @ weight_int8.double().t()).float()
    y = acc * (sx[:, None] * weight_scale.float()[None, :])
    if bias is not None:
        y = y + bias.float()
    if activation is not None:
        y = F.gelu(y, approximate="tanh" if activation == "gelu_tanh" else "none")
    return y


def _float_weight(module: nn.Module) -> Tuple[torch.Tensor, Optional[torch.Tensor], Optional[str]]:
    """(weight [out, in], bias, activation) of an nn.Linear, a PackedLinear, or a GPT Conv1D (weight [in, nf])."""
    if isinstance(module, PackedLinear):
        return module.weight, module.bias, module.activation
    if isinstance(module, nn.Linear):
        return module.weight, module.bias, None
    weight = getattr(module, "weight", None)
    nf = getattr(module, "nf", None)
    if isinstance(weight, torch.Tensor) and isinstance(nf, int) and weight.dim() == 2 and weight.shape[1] == nf:
        return weight.t(), getattr(module, "bias", None), None  # Conv1D: y = x W + b, W [in, out]
    raise TypeError(f"QuantizedLinear.from_float needs an nn.Linear, a PackedLinear or a GPT Conv1D, "
                    f"got {type(module).__name__}")


class QuantizedLinear(nn.Module):
    """A linear layer with int8 weights (per-output-channel scales) and per-token int8 activations; float32
    in and out (float16/bfloat16 inputs are computed in float32 and returned in their dtype). CPU only."""

    reads_training = False  # (a layer: the same in both modes)

    def __init__(self, weight_int8: torch.Tensor, weight_scale: torch.Tensor, bias: Optional[torch.Tensor] = None,
                 activation: Optional[str] = None):
        super().__init__()
        if not isinstance(weight_int8, torch.Tensor) or weight_int8.dtype != torch.int8 or weight_int8.dim() != 2:
            raise TypeError("QuantizedLinear: weight_int8 must be an int8 tensor [out_features, in_features]")
        out_features, in_features = weight_int8.shape
        if (not isinstance(weight_scale, torch.Tensor) or not weight_scale.is_floating_point()
                or tuple(weight_scale.shape) != (out_features,)):
            raise TypeError(f"QuantizedLinear: weight_scale must be a float tensor of shape [{out_features}]")
        if bias is not None and (not isinstance(bias, torch.Tensor) or not bias.is_floating_point()
                                 or tuple(bias.shape) != (out_features,)):
            raise TypeError(f"QuantizedLinear: bias must be None or a float tensor of shape [{out_features}]")
        if activation not in ACTIVATIONS:
            raise ValueError(f"QuantizedLinear: activation must be one of {ACTIVATIONS}, got {activation!r}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.activation = activation
        # (contiguous: the kernels read the buffers directly)
        self.register_buffer("weight_int8", weight_int8.detach().contiguous())
        self.register_buffer("weight_scale", weight_scale.detach().float().contiguous())
        self.register_buffer("bias", None if bias is None else bias.detach().contiguous())
        self._packed = None  # (weight key, packed panels, column sums), derived
        self.train(False)  # inference-only: a new layer starts in eval mode

    @classmethod
    def from_float(cls, module: nn.Module, activation: Optional[str] = None) -> "QuantizedLinear":
        """Quantizes an nn.Linear, a PackedLinear (its activation is kept) or a GPT Conv1D."""
        weight, bias, own_activation = _float_weight(module)
        return cls.from_weight(weight, bias, activation if activation is not None else own_activation)

    @classmethod
    def from_weight(cls, weight: torch.Tensor, bias: Optional[torch.Tensor] = None,
                    activation: Optional[str] = None) -> "QuantizedLinear":
        """Quantizes a float weight [out_features, in_features] in nn.Linear layout (a projection held as a bare
        tensor, as XLNet's einsum weights); a meta weight gives meta buffers of the right shapes."""
        if not isinstance(weight, torch.Tensor) or not weight.is_floating_point() or weight.dim() != 2:
            raise TypeError("QuantizedLinear.from_weight: weight must be a float tensor [out_features, in_features]")
        if weight.device.type != "cpu" and not weight.is_meta:
            raise RuntimeError(f"QuantizedLinear: the weight is on {weight.device}; int8 layers run on the CPU only "
                               f"(move the model to the CPU first)")
        if weight.is_meta:  # a model built without data: the shapes only (from_pretrained of a quantized folder)
            out_features, in_features = weight.shape
            q = torch.empty(out_features, in_features, dtype=torch.int8, device="meta")
            scale = torch.empty(out_features, device="meta")
        else:
            q, scale = quantize_weight(weight)
        # (the bias keeps the float model's dtype: its fast path adds it to activations of that dtype)
        b = None if bias is None else bias.detach().clone() if not bias.is_meta else bias.detach()
        return cls(q, scale, b, activation)

    @classmethod
    def stack(cls, layers, activation: Optional[str] = None, bias: bool = True) -> "QuantizedLinear":
        """One layer computing `layers` side by side (their outputs concatenated, as a fused QKV projection),
        with `activation`, and without the biases when bias=False (for a caller that adds them later). Each
        output equals its layer's own bits: the activations' quantization depends on the input only. A single
        layer's buffers are shared, not copied."""
        layers = list(layers)
        if not layers or not all(isinstance(layer, QuantizedLinear) for layer in layers):
            raise TypeError("QuantizedLinear.stack: expected one or more QuantizedLinear layers")
        if len({layer.in_features for layer in layers}) != 1:
            raise ValueError("QuantizedLinear.stack: the layers take different numbers of input features")
        def joined(tensors):
            return tensors[0] if len(tensors) == 1 else torch.cat(tensors)
        biases = [layer.bias for layer in layers]
        if bias and any(b is not None for b in biases):
            biases = [b.float() if b is not None else layer.weight_scale.new_zeros(layer.out_features)
                      for b, layer in zip(biases, layers)]
            stacked_bias = joined(biases)
        else:
            stacked_bias = None
        return cls(joined([layer.weight_int8 for layer in layers]), joined([layer.weight_scale for layer in layers]),
                   stacked_bias, activation)

    def rows(self, start: int, stop: int) -> "QuantizedLinear":
        """A layer computing this one's outputs [start, stop) only, with their bits (every output channel has
        its own scale), on views of these buffers: e.g. the k and v rows of a fused QKV layer."""
        if not 0 <= start < stop <= self.out_features:
            raise ValueError(f"QuantizedLinear.rows: [{start}, {stop}) is not a non-empty range of the "
                             f"{self.out_features} outputs")
        bias = self.bias
        return type(self)(self.weight_int8[start:stop], self.weight_scale[start:stop],
                          None if bias is None else bias[start:stop], self.activation)

    @property
    def weight(self) -> torch.Tensor:
        """The int8 weight [out_features, in_features] (its float value is weight_int8 * weight_scale[:, None]);
        code that checks a layer's weight dtype sees int8 and keeps away from float-only paths."""
        return self.weight_int8

    def dequantize(self) -> torch.Tensor:
        """The float32 weight the int8 one stands for [out_features, in_features]."""
        return self.weight_int8.float() * self.weight_scale.float()[:, None]

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, activation={self.activation}, int8")

    def __getstate__(self):
        state = super().__getstate__().copy()
        state["_packed"] = None
        return state

    def _apply(self, fn, *args, **kwargs):
        result = _apply_keeping_float32_scales(self, super()._apply, fn, *args, **kwargs)
        self._packed = None
        return result

    def packed(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """The kernel's copy of the weight: (panels [ceil(out / 16), ceil(in / 4), 64] int8, column sums
        [ceil(out / 16) * 16] int32), packed on first use and again when weight_int8 changes."""
        w = self._buffers["weight_int8"]
        entry = self._packed
        if entry is None or entry[0] is not w or entry[1] != w.data_ptr() or entry[2] != _version(w):
            n, k = w.shape
            panels = -(-n // 16)
            packed = torch.empty(panels, -(-k // 4), 64, dtype=torch.int8)
            colsum = torch.empty(panels * 16, dtype=torch.int32)
            B.sync_threads()
            B._C.gemm_int8_pack(w, packed, colsum)
            entry = self._packed = (w, w.data_ptr(), _version(w), packed, colsum)
        return entry[3], entry[4]

    def repack(self) -> None:
        """Drops the packed copy; the next call packs weight_int8 again (needed only after changing an
        inference tensor in place, which has no version counter)."""
        self._packed = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return quantized_linear(x, self)


def _apply_keeping_float32_scales(module: nn.Module, apply, fn, *args, **kwargs):
    """Module._apply for the int8 modules: .to(dtype) / .half() convert floating buffers, but the scales stay
    float32 (bf16 scales would lose bits; a tied head and table keep sharing theirs)."""
    scale = module._buffers["weight_scale"]
    result = apply(fn, *args, **kwargs)
    new = module._buffers["weight_scale"]
    if new is not None and new.dtype != torch.float32 and scale is not None:
        module._buffers["weight_scale"] = scale.to(device=new.device, dtype=torch.float32)
    return result


def _check(x, layer: QuantizedLinear) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"QuantizedLinear: x must be a torch.Tensor, got {type(x).__name__}")
    if torch.is_grad_enabled() and (x.requires_grad or layer.training):
        what = ("the input requires grad" if x.requires_grad
                else "this layer is in training mode with gradients enabled")
        raise RuntimeError(INFERENCE_ONLY.format(what=what))
    if x.device.type != "cpu":
        raise RuntimeError(f"QuantizedLinear: x is on {x.device}; int8 layers run on the CPU only (no CUDA "
                           f"int8 kernels yet): keep the quantized model and its inputs on the CPU")
    if layer.weight_int8.device.type != "cpu":
        raise RuntimeError(f"QuantizedLinear: the layer is on {layer.weight_int8.device}; int8 layers run on the "
                           f"CPU only")
    if not x.is_floating_point():
        raise TypeError(f"QuantizedLinear: x must be a floating-point tensor, got {x.dtype}")
    if x.dim() < 1 or x.shape[-1] != layer.in_features:
        raise ValueError(f"QuantizedLinear: x must have {layer.in_features} features in its last dimension, "
                         f"got shape {tuple(x.shape)}")


def quantized_linear(x: torch.Tensor, layer: QuantizedLinear) -> torch.Tensor:
    """layer(x): x [..., in_features] -> [..., out_features] in x's dtype."""
    if not isinstance(layer, QuantizedLinear):
        raise TypeError(f"quantized_linear: layer must be a QuantizedLinear, got {type(layer).__name__}")
    fast = (isinstance(x, torch.Tensor) and x.dtype is torch.float32 and x.is_cpu and x.dim() >= 1
            and x.shape[-1] == layer.in_features and not (torch.is_grad_enabled() and (x.requires_grad or layer.training)))
    if not fast:
        _check(x, layer)
    buffers = layer._buffers
    n_in, n_out = layer.in_features, layer.out_features
    flat = x.dim() == 2  # (the fast paths' packed tokens: no reshape, no view back; a few us per call)
    x2 = x if flat else x.reshape(-1, n_in)
    if x2.dtype is not torch.float32:
        x2 = x2.float()
    x2 = x2.contiguous()
    bias = buffers["bias"]
    if bias is not None and bias.dtype is not torch.float32:
        bias = bias.float()
    # torch.compile and torch.jit.trace record the torch ops of the fallback (the C++ call would be a constant)
    if kernel_available() and n_in <= MAX_IN_FEATURES and not B.capturing_graph():
        packed, colsum = layer.packed()
        out = torch.empty(x2.shape[0], n_out)
        B.sync_threads()
        B._C.gemm_int8(x2, packed, colsum, buffers["weight_scale"], bias, out, n_out, _ACT_CODE[layer.activation])
    else:
        out = reference(x2, buffers["weight_int8"], buffers["weight_scale"], bias, layer.activation)
    if not flat:
        out = out.view(*x.shape[:-1], n_out)
    return out if out.dtype is x.dtype else out.to(x.dtype)


class QuantizedEmbedding(nn.Module):
    """An embedding table in int8 with one float32 scale per row (quantize_weight: symmetric, as QuantizedLinear's
    weights, so a tied int8 LM head and its input embeddings share one int8 matrix and its scales). A lookup gives
    the rows weight_int8[ids] * weight_scale[ids] in the model's float dtype (`output_like`, an empty buffer that
    .to(dtype) converts with the model's other float tensors; not saved). Inference-only, as the int8 layers."""

    reads_training = False  # (a layer: the same in both modes)

    def __init__(self, weight_int8: torch.Tensor, weight_scale: torch.Tensor, padding_idx: Optional[int] = None,
                 dtype: torch.dtype = torch.float32):
        super().__init__()
        if not isinstance(weight_int8, torch.Tensor) or weight_int8.dtype != torch.int8 or weight_int8.dim() != 2:
            raise TypeError("QuantizedEmbedding: weight_int8 must be an int8 tensor [num_embeddings, embedding_dim]")
        rows = weight_int8.shape[0]
        if (not isinstance(weight_scale, torch.Tensor) or not weight_scale.is_floating_point()
                or tuple(weight_scale.shape) != (rows,)):
            raise TypeError(f"QuantizedEmbedding: weight_scale must be a float tensor of shape [{rows}]")
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise TypeError(f"QuantizedEmbedding: dtype must be a floating-point torch.dtype, got {dtype!r}")
        self.num_embeddings, self.embedding_dim = int(rows), int(weight_int8.shape[1])
        self.padding_idx = padding_idx
        self.register_buffer("weight_int8", weight_int8.detach())
        self.register_buffer("weight_scale", weight_scale.detach().to(torch.float32))
        self.register_buffer("output_like", torch.empty(0, dtype=dtype), persistent=False)
        self.train(False)

    @classmethod
    def from_float(cls, embedding: nn.Embedding) -> "QuantizedEmbedding":
        """Quantizes an nn.Embedding (a meta one gives meta buffers: from_pretrained of a quantized folder fills
        them); lookups keep the table's float dtype."""
        if not isinstance(embedding, nn.Embedding):
            raise TypeError(f"QuantizedEmbedding.from_float needs an nn.Embedding, got {type(embedding).__name__}")
        weight = embedding.weight
        if weight.is_meta:
            q = torch.empty(weight.shape, dtype=torch.int8, device="meta")
            scale = torch.empty(weight.shape[0], device="meta")
        elif weight.device.type != "cpu":
            raise RuntimeError(f"QuantizedEmbedding: the table is on {weight.device}; int8 models run on the CPU "
                               f"only (move the model to the CPU first)")
        else:
            q, scale = quantize_weight(weight)
        return cls(q, scale, embedding.padding_idx, weight.dtype)

    @classmethod
    def sharing(cls, head: QuantizedLinear, table: nn.Embedding) -> "QuantizedEmbedding":
        """The int8 input embeddings of a tied int8 LM head (made from `table`'s matrix): its int8 matrix, not a
        copy."""
        return cls(head.weight_int8, head.weight_scale, table.padding_idx, table.weight.dtype)

    @property
    def weight(self) -> torch.Tensor:
        """The int8 table (its float value is weight_int8 * weight_scale[:, None]): code that checks the table's
        dtype sees int8 and keeps away from float-only paths."""
        return self.weight_int8

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the rows a lookup gives."""
        return self.output_like.dtype

    def dequantize(self) -> torch.Tensor:
        return self.weight_int8.float() * self.weight_scale[:, None]

    def extra_repr(self) -> str:
        pad = f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}, int8"

    def _apply(self, fn, *args, **kwargs):
        return _apply_keeping_float32_scales(self, super()._apply, fn, *args, **kwargs)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if not isinstance(ids, torch.Tensor) or ids.is_floating_point() or ids.dtype is torch.bool:
            raise TypeError(f"QuantizedEmbedding: ids must be an integer tensor, got "
                            f"{ids.dtype if isinstance(ids, torch.Tensor) else type(ids).__name__}")
        if torch.is_grad_enabled() and self.training:
            raise RuntimeError(INFERENCE_ONLY.format(what="this embedding is in training mode with gradients enabled"))
        # (F.embedding raises on ids out of range, as nn.Embedding does; int8 rows gather, then scale)
        rows = F.embedding(ids, self.weight_int8).to(torch.float32) * F.embedding(ids, self.weight_scale[:, None])
        return rows.to(self.output_like.dtype)


def float_like(table: nn.Module) -> torch.Tensor:
    """A tensor of the dtype and device an embedding table's lookups have: its weight, or an int8 table's
    output_like."""
    return table.output_like if isinstance(table, QuantizedEmbedding) else table.weight
