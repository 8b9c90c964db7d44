"""LayerNorm and residual add + LayerNorm fused (one pass over each row, fp32 statistics; float32 or bfloat16,
whose weight and bias may also be float32)."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

from transformers_fast.ops import _backend as B


def _reference(x, residual, weight, bias, eps, x_bias):
    if x_bias is not None:
        x = x + x_bias
    if residual is not None:
        x = x + residual
    return F.layer_norm(x, x.shape[-1:], weight, bias, eps)


def _check_params(x, weight, bias) -> None:
    """weight and bias: on x's device, with x's dtype, or (as torch's mixed-type layer_norm takes them) both
    float32 with a bfloat16 or float16 x."""
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.device != x.device:
            raise ValueError(f"add_layer_norm: {name} is on {t.device} but x is on {x.device}")
    dtypes = {t.dtype for t in (weight, bias) if t is not None}
    if x.dtype in (torch.bfloat16, torch.float16) and dtypes == {torch.float32}:
        return
    B.check_same_device_dtype("add_layer_norm", "x", x, weight=weight, bias=bias)


def _kernel(x, residual, weight, bias, eps, x_bias):
    """The C++ kernel (it checks dtype, device, contiguity and shapes: B.KERNEL_REJECTS)."""
    out = B.new_output(x)
    B._C.add_layer_norm(x, residual, x_bias, weight, bias, out, eps)
    return out


def cuda_kernel(mod, x, residual, weight, bias, eps, x_bias, stream=None):
    """The CUDA kernel of `mod` (_cuda, or the emulated _cuda_emu with host tensors) on the caller's stream."""
    x, residual, weight, bias, x_bias = B.contiguous(x, residual, weight, bias, x_bias)
    out = B.new_output(x)
    stream = B.cuda_stream(x) if stream is None else stream
    B.on_device(x, mod.add_layer_norm, x, residual, x_bias, weight, bias, out, eps, stream)
    return out


def _add_layer_norm_impl(x: torch.Tensor, residual: Optional[torch.Tensor], weight: Optional[torch.Tensor],
                         bias: Optional[torch.Tensor], eps: float, x_bias: Optional[torch.Tensor]) -> torch.Tensor:
    mod = B.use_cuda_kernel("add_layer_norm", x, residual, weight, bias, x_bias)
    if mod is not None:
        return cuda_kernel(mod, x, residual, weight, bias, eps, x_bias)
    if not B.use_cpu_kernel("add_layer_norm", x, residual, weight, bias, x_bias):
        return _reference(x, residual, weight, bias, eps, x_bias).contiguous()
    x, residual, weight, bias, x_bias = B.contiguous(x, residual, weight, bias, x_bias)
    return _kernel(x, residual, weight, bias, eps, x_bias)


_op = B.register_op("add_layer_norm", _add_layer_norm_impl,
                    lambda x, residual, weight, bias, eps, x_bias: B.new_output(x))


def add_layer_norm(x: torch.Tensor, residual: Optional[torch.Tensor], weight: Optional[torch.Tensor],
                   bias: Optional[torch.Tensor], eps: float = 1e-5,
                   x_bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """LayerNorm(x + x_bias + residual) over the last dim, in one pass; residual has x's shape,
    x_bias/weight/bias have shape [x.shape[-1]] (each may be None)."""
    if B.fast_path(x, residual, weight, bias, x_bias) and type(eps) is float and eps >= 0:
        try:
            return _kernel(x, residual, weight, bias, eps, x_bias)
        except B.KERNEL_REJECTS:
            pass  # the checks below name the problem or take the plain-torch path
    B.check_tensor("x", x, ndim_min=1)
    n = x.shape[-1]
    if residual is not None:
        B.check_tensor("residual", residual)
        B.check_same_shape("add_layer_norm", "x", x, "residual", residual)
    for name, t in (("weight", weight), ("bias", bias), ("x_bias", x_bias)):
        B.check_vector("add_layer_norm", name, t, n)
    B.check_same_device_dtype("add_layer_norm", "x", x, residual=residual, x_bias=x_bias)
    _check_params(x, weight, bias)
    eps = B.check_number("add_layer_norm", "eps", eps, minimum=0.0)
    if B.needs_grad(x, residual, weight, bias, x_bias):
        return _reference(x, residual, weight, bias, eps, x_bias)
    return B.dispatch(_op, _add_layer_norm_impl, x, residual, weight, bias, eps, x_bias)


def layer_norm(x: torch.Tensor, weight: Optional[torch.Tensor], bias: Optional[torch.Tensor],
               eps: float = 1e-5) -> torch.Tensor:
    """F.layer_norm(x, x.shape[-1:], weight, bias, eps)."""
    return add_layer_norm(x, None, weight, bias, eps)
