"""GELU (erf or tanh form) and bias + GELU fused."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from transformers_fast.ops import _backend as B

_APPROXIMATE = ("none", "tanh")


def _check_approximate(approximate: str) -> None:
    if approximate not in _APPROXIMATE:
        raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")


def _kernel(x, bias, approximate):
    """The C++ kernel (it checks dtype, device, contiguity and shapes: B.KERNEL_REJECTS)."""
    out = B.new_output(x)
    if bias is None:
        B._C.gelu(x, out, approximate == "tanh")
    else:
        B._C.bias_gelu(x, bias, out, approximate == "tanh")
    return out


def cuda_kernel(mod, x, bias, approximate, stream=None):
    """The CUDA kernel of `mod` (_cuda, or the emulated _cuda_emu with host tensors) on the caller's stream."""
    x = x.contiguous()
    bias = None if bias is None else bias.contiguous()
    out = B.new_output(x)
    stream = B.cuda_stream(x) if stream is None else stream
    if bias is None:
        B.on_device(x, mod.gelu, x, out, approximate == "tanh", stream)
    else:
        B.on_device(x, mod.bias_gelu, x, bias, out, approximate == "tanh", stream)
    return out


def _gelu_impl(x: torch.Tensor, approximate: str) -> torch.Tensor:
    mod = B.use_cuda_kernel("gelu", x)
    if mod is not None:
        return cuda_kernel(mod, x, None, approximate)
    if not B.use_cpu_kernel("gelu", x):
        return F.gelu(x, approximate=approximate).contiguous()
    return _kernel(x.contiguous(), None, approximate)


def _bias_gelu_impl(x: torch.Tensor, bias: torch.Tensor, approximate: str) -> torch.Tensor:
    mod = B.use_cuda_kernel("bias_gelu", x, bias)
    if mod is not None:
        return cuda_kernel(mod, x, bias, approximate)
    if not B.use_cpu_kernel("bias_gelu", x, bias):
        return F.gelu(x + bias, approximate=approximate).contiguous()
    return _kernel(x.contiguous(), bias.contiguous(), approximate)


_gelu_op = B.register_op("gelu", _gelu_impl, lambda x, approximate: B.new_output(x))
_bias_gelu_op = B.register_op("bias_gelu", _bias_gelu_impl, lambda x, bias, approximate: B.new_output(x))


def gelu(x: torch.Tensor, approximate: str = "none") -> torch.Tensor:
    """GELU: exact erf form (approximate="none") or tanh form, as torch.nn.functional.gelu."""
    if B.fast_path(x) and approximate in _APPROXIMATE:
        try:
            return _kernel(x, None, approximate)
        except B.KERNEL_REJECTS:
            pass  # the checks below name the problem or take the plain-torch path
    B.check_tensor("x", x)
    _check_approximate(approximate)
    if B.needs_grad(x):
        return F.gelu(x, approximate=approximate)
    return B.dispatch(_gelu_op, _gelu_impl, x, approximate)


def bias_gelu(x: torch.Tensor, bias: torch.Tensor, approximate: str = "none") -> torch.Tensor:
    """gelu(x + bias) in one pass; bias has shape [x.shape[-1]]."""
    if bias is not None and B.fast_path(x, bias) and approximate in _APPROXIMATE:  # (None: plain gelu in C++)
        try:
            return _kernel(x, bias, approximate)
        except B.KERNEL_REJECTS:
            pass  # the checks below name the problem or take the plain-torch path
    B.check_tensor("x", x, ndim_min=1)
    B.check_tensor("bias", bias)
    B.check_same_device_dtype("bias_gelu", "x", x, bias=bias)
    if bias.dim() != 1 or bias.shape[0] != x.shape[-1]:
        raise ValueError(f"bias_gelu: bias must have shape [{x.shape[-1]}], got {tuple(bias.shape)}")
    _check_approximate(approximate)
    if B.needs_grad(x, bias):
        return F.gelu(x + bias, approximate=approximate)
    return B.dispatch(_bias_gelu_op, _bias_gelu_impl, x, bias, approximate)
