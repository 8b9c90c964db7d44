"""Linear layers with the weight prepacked once for the fastest fp32 GEMM backend on this machine.

Backends: "onednn" (torch.ops.mkldnn._reorder_linear_weight + _linear_pointwise, private ops, with
GELU fused into the GEMM epilogue) and "torch" (F.linear, i.e. MKL, followed by our fused
bias+GELU kernel). Which is faster depends on the CPU (oneDNN ~2x MKL on AMD AVX-512, close on
AVX2), so the first call per (in, out, row bucket, threads) times both on the real input and the
choice is cached for the process. TRANSFORMERS_FAST_LINEAR=onednn|torch forces one.
"""
from __future__ import annotations

import functools
import os
import time
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from transformers_fast.ops import _backend as B
from transformers_fast.ops import activation

ACTIVATIONS = (None, "gelu", "gelu_tanh")
BACKENDS = ("onednn", "torch")
ENV = "TRANSFORMERS_FAST_LINEAR"
_ONEDNN_GELU = {"gelu": "none", "gelu_tanh": "tanh"}  # oneDNN's gelu algorithm names (erf / tanh)
_choice: Dict[Tuple[int, int, int, int], str] = {}


@functools.lru_cache(maxsize=None)
def onednn_available() -> bool:
    mkldnn = getattr(torch.ops, "mkldnn", None)
    return (torch.backends.mkldnn.is_available() and hasattr(mkldnn, "_reorder_linear_weight")
            and hasattr(mkldnn, "_linear_pointwise"))


_UNREAD = object()
_forced = _UNREAD  # the env override, read once per process (tests reset it to _UNREAD)


def _forced_backend() -> Optional[str]:
    global _forced
    if _forced is _UNREAD:
        name = (os.environ.get(ENV) or "").strip().lower() or None
        if name is not None and name not in BACKENDS:
            raise ValueError(f"{ENV} must be one of {BACKENDS}, got {name!r}")
        if name == "onednn" and not onednn_available():
            B.warn_once("linear", "oneDNN's linear ops are missing in this torch")
            name = "torch"
        _forced = name
    return _forced


def _reference(x, weight, bias, activation):
    y = F.linear(x, weight, bias)
    if activation is None:
        return y
    return F.gelu(y, approximate="tanh" if activation == "gelu_tanh" else "none")


class PackedLinear(nn.Module):
    """nn.Linear with a prepacked weight and an optional fused GELU ("gelu" = erf form,
    "gelu_tanh"). state_dict holds the usual `weight` and `bias`; the packed copy is derived
    (rebuilt when the weight changes) and never saved. Training uses F.linear on `weight`."""

    def __init__(self, weight: torch.Tensor, bias: Optional[torch.Tensor] = None,
                 activation: Optional[str] = None):
        super().__init__()
        B.check_tensor("weight", weight)
        if weight.dim() != 2:
            raise ValueError(f"PackedLinear: weight must be [out_features, in_features], got {tuple(weight.shape)}")
        B.check_vector("PackedLinear", "bias", bias, weight.shape[0])
        B.check_same_device_dtype("PackedLinear", "weight", weight, bias=bias)
        if activation not in ACTIVATIONS:
            raise ValueError(f"PackedLinear: activation must be one of {ACTIVATIONS}, got {activation!r}")
        self.out_features, self.in_features = weight.shape
        self.weight = weight if isinstance(weight, nn.Parameter) else nn.Parameter(weight)
        if bias is None:
            self.register_parameter("bias", None)
        else:
            self.bias = bias if isinstance(bias, nn.Parameter) else nn.Parameter(bias)
        self.activation = activation
        self._packed = None  # (weight version key, oneDNN weight)

    @classmethod
    def from_linear(cls, linear: nn.Linear, activation: Optional[str] = None) -> "PackedLinear":
        if not isinstance(linear, nn.Linear):
            raise TypeError(f"PackedLinear.from_linear needs an nn.Linear, got {type(linear).__name__}")
        return cls(linear.weight, linear.bias, activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, self)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, activation={self.activation}")

    def __getstate__(self):
        state = super().__getstate__().copy()
        state["_packed"] = None  # oneDNN tensors do not pickle or deepcopy; rebuilt on use
        return state

    def repack(self) -> None:
        """Drops the packed copy; the next call packs the current weight again."""
        self._packed = None

    def onednn_weight(self) -> torch.Tensor:
        """The weight reordered for oneDNN, packed once and again only when the weight changes."""
        w = self._parameters["weight"]
        # Inference tensors have no version counter: call repack() after changing one in place.
        key = (id(w), w.data_ptr(), -1 if w.is_inference() else w._version)
        if self._packed is None or self._packed[0] != key:
            # No batch hint: one packing serves every batch size. On the AVX2 machine measured, hints
            # of 8, 128 or 1024 rows changed nothing beyond noise (+-8 %) at 8, 128 and 1024 rows.
            self._packed = (key, torch.ops.mkldnn._reorder_linear_weight(w.detach()))
        return self._packed[1]


def _run(backend: str, x2: torch.Tensor, layer: PackedLinear) -> torch.Tensor:
    """Inference only (no autograd), x2 [rows, in_features] contiguous float32 on the CPU."""
    params = layer._parameters  # direct reads: nn.Module.__getattr__ costs ~0.5 us per access
    bias, act = params["bias"], layer.activation
    if backend == "onednn":
        if act is None:
            return torch.ops.mkldnn._linear_pointwise(x2, layer.onednn_weight(), bias, "none", [], "")
        return torch.ops.mkldnn._linear_pointwise(x2, layer.onednn_weight(), bias, "gelu", [], _ONEDNN_GELU[act])
    if act is None:
        return F.linear(x2, params["weight"], bias)
    y = F.linear(x2, params["weight"])
    approximate = "tanh" if act == "gelu_tanh" else "none"
    # The impls directly: the shapes are known to be right.
    return activation._gelu_impl(y, approximate) if bias is None else activation._bias_gelu_impl(y, bias, approximate)


def _calibrate(x2: torch.Tensor, layer: PackedLinear, budget_s: float = 0.03) -> Tuple[str, torch.Tensor]:
    """Times both backends on the real input and returns the faster with the last output: one
    untimed warm-up call each (oneDNN builds its primitive), then alternating timed calls, best of
    at least 3 each, more for small shapes until about budget_s has been spent (at most 15)."""
    out = None
    for backend in BACKENDS:
        out = _run(backend, x2, layer)
    best = {name: float("inf") for name in BACKENDS}
    spent, rounds = 0.0, 0
    while rounds < 3 or (spent < budget_s and rounds < 15):
        for backend in BACKENDS:
            start = time.perf_counter()
            out = _run(backend, x2, layer)
            elapsed = time.perf_counter() - start
            best[backend] = min(best[backend], elapsed)
            spent += elapsed
        rounds += 1
    # oneDNN unless the other is clearly faster: timings on shared machines jitter by a few %,
    # and oneDNN's packed weight is never much slower where the two were measured.
    preferred = BACKENDS[0]
    fastest = min(best, key=best.get)
    return (fastest if best[fastest] < 0.97 * best[preferred] else preferred), out


def chosen_backends() -> Dict[Tuple[int, int, int, int], str]:
    """The calibrated choices so far: (in_features, out_features, row bucket, threads) -> backend."""
    return dict(_choice)


def linear(x: torch.Tensor, packed: PackedLinear) -> torch.Tensor:
    """packed(x): x [..., in_features] -> [..., out_features], with the layer's activation."""
    if not isinstance(packed, PackedLinear):
        raise TypeError(f"linear: packed must be a PackedLinear, got {type(packed).__name__}")
    params = packed._parameters
    w, b = params["weight"], params["bias"]
    n_in, n_out = packed.in_features, packed.out_features
    # The common inference case is decided with a few attribute reads (this runs per layer call).
    fast = (isinstance(x, torch.Tensor) and x.dtype is torch.float32 and w.dtype is torch.float32
            and x.is_cpu and w.is_cpu and x.dim() >= 1 and x.shape[-1] == n_in and x.numel() > 0
            and not (torch.is_grad_enabled() and (x.requires_grad or w.requires_grad
                                                  or (b is not None and b.requires_grad)))
            and not B.is_compiling())
    if not fast:
        B.check_tensor("x", x, ndim_min=1)
        if x.shape[-1] != n_in:
            raise ValueError(f"linear: x has {x.shape[-1]} features, the layer takes {n_in}")
        B.check_same_device_dtype("linear", "weight", w, x=x)
        return _reference(x, w, b, packed.activation)
    flat = x.dim() == 2
    x2 = x.contiguous() if flat else x.reshape(-1, n_in).contiguous()
    backend = _forced_backend()
    if backend is None:
        if not onednn_available():
            backend = "torch"
        else:
            rows = x2.shape[0]
            key = (n_in, n_out, 0 if rows <= 32 else 1 if rows <= 512 else 2, torch.get_num_threads())
            backend = _choice.get(key)
            if backend is None:
                backend, out = _calibrate(x2, packed)
                _choice[key] = backend
                return out if flat else out.view(*x.shape[:-1], n_out)
    out = _run(backend, x2, packed)
    return out if flat else out.view(*x.shape[:-1], n_out)
