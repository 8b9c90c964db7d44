"""Fused multi-head attention (scale, QK^T, mask / key lengths / causal, softmax, ·V) for the
padded [batch, heads, seq, head_dim] layout and the packed padding-free [tokens, heads, head_dim]
layout with cumulative sequence offsets."""
from __future__ import annotations

import functools
import math
import os
import warnings
from typing import Optional

import torch
import torch.nn.functional as F

from transformers_fast.ops import _backend as B
from transformers_fast.ops.softmax import allowed_keys

_OP = "attention"

# On a real GPU, plain attention runs torch's flash / memory-efficient kernels where they use tensor cores
# (float16 and bfloat16 on sm_80 and newer, several query rows): ours keep to the FMA units (so that the emulation
# can run them) and cannot match those there. Decode (one query row over a KV cache, bandwidth-bound, where ours
# splits the keys over warps), float32, key lengths, and what torch's kernels do not take run ours.
# TRANSFORMERS_FAST_CUDA_ATTENTION=ours|torch forces one where both can (benchmarks/gpu_kernels.py times both).
CUDA_ATTENTION_ENV = "TRANSFORMERS_FAST_CUDA_ATTENTION"
CUDA_ATTENTION_CHOICES = ("auto", "ours", "torch")
cuda_attention = (os.environ.get(CUDA_ATTENTION_ENV) or "auto").strip().lower()
if cuda_attention not in CUDA_ATTENTION_CHOICES:
    raise ValueError(f"{CUDA_ATTENTION_ENV}={cuda_attention!r}: expected one of {', '.join(CUDA_ATTENTION_CHOICES)}")
_TENSOR_CORE_DTYPES = (torch.float16, torch.bfloat16)


def _varlen_attn_out():
    """torch's flash attention over packed sequences writing into a given output (torch >= 2.10), or None."""
    try:
        from torch.nn.attention.varlen import varlen_attn_out
    except ImportError:
        return None
    return varlen_attn_out


def torch_attention_on_cuda(q, k, kv_lengths, cu_seqlens, causal, choice: Optional[str] = None,
                            capability=None) -> bool:
    """Whether ops.attention runs torch's attention instead of ours for these real CUDA tensors (see
    cuda_attention above; choice and capability default to it and to q's device)."""
    choice = cuda_attention if choice is None else choice
    if choice == "ours" or kv_lengths is not None:  # (torch's kernels take no key lengths)
        return False
    if cu_seqlens is not None:  # flash-attention's varlen kernel: 16-bit, head_dim a multiple of 8 up to 256
        if _varlen_attn_out() is None or q.dtype not in _TENSOR_CORE_DTYPES or q.shape[-1] % 8 or q.shape[-1] > 256:
            return False
    elif causal and q.shape[2] != k.shape[2]:  # SDPA's is_causal aligns the top-left corner, ours the bottom-right
        return False
    if choice == "torch":
        return True
    rows = q.shape[0] if cu_seqlens is not None else q.shape[2]
    if q.dtype not in _TENSOR_CORE_DTYPES or rows <= 1:
        return False
    major, _ = _capability(q.device.index) if capability is None else capability
    return major >= 8


@functools.lru_cache(maxsize=None)
def _capability(index: Optional[int]):
    return torch.cuda.get_device_capability(index)


def _torch_cuda(q, k, v, attn_mask, cu_seqlens, scale, causal, max_seqlen):
    """torch's attention for the layouts and semantics of ours (torch_attention_on_cuda said it can)."""
    if cu_seqlens is None:
        if causal and attn_mask is None:  # (flash attention where it applies; an explicit mask would rule it out)
            return F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=scale).contiguous()
        return _padded_reference(q, k, v, attn_mask, None, scale, causal).contiguous()
    if max_seqlen is None:
        max_seqlen = int((cu_seqlens[1:] - cu_seqlens[:-1]).max()) if cu_seqlens.shape[0] > 1 else 0
    out = torch.zeros_like(q, memory_format=torch.contiguous_format)  # rows after the last sequence stay zero
    cu = cu_seqlens.to(torch.int32)
    _varlen_attn_out()(out, q, k, v, cu, cu, max_seqlen, max_seqlen, scale=scale,
                       window_size=(-1, 0) if causal else (-1, -1))
    return out


def _padded_reference(q, k, v, attn_mask, kv_lengths, scale, causal):
    if kv_lengths is not None:
        # keys past a row's length are never read, and a preallocated cache may hold anything there (NaN too),
        # which a zero probability times NaN would still carry into the output
        beyond = torch.arange(k.shape[2], device=k.device) >= kv_lengths.to(k.device).reshape(-1, 1)
        k, v = (t.masked_fill(beyond[:, None, :, None], 0) for t in (k, v))
    allowed = allowed_keys(4, q.shape[2], k.shape[2], kv_lengths, causal, q.device)
    if allowed is not None:
        limit = torch.zeros(allowed.shape, dtype=q.dtype, device=q.device).masked_fill(~allowed, -float("inf"))
        attn_mask = limit if attn_mask is None else attn_mask + limit
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, scale=scale)
    # Rows with no allowed key are zeros (as SDPA gives on current torch; older ones gave NaN).
    return out if allowed is None else out.masked_fill(~allowed.any(-1, keepdim=True), 0.0)


def _reference(q, k, v, attn_mask, kv_lengths, cu_seqlens, scale, causal):
    if cu_seqlens is None:
        return _padded_reference(q, k, v, attn_mask, kv_lengths, scale, causal)
    out = torch.zeros(q.shape, dtype=q.dtype, device=q.device)
    offsets = cu_seqlens.tolist()
    for start, end in zip(offsets[:-1], offsets[1:]):
        if end > start:
            seq = [t[start:end].transpose(0, 1).unsqueeze(0) for t in (q, k, v)]  # [1, H, S, D]
            out[start:end] = _padded_reference(*seq, None, None, scale, causal)[0].transpose(0, 1)
    return out


def _kernel_operands(q, k, v, attn_mask):
    """q, k, v and the mask as the kernels read them: any strides with a contiguous last dim (copied only
    otherwise), the mask expanded to [batch, heads, q_len, k_len]."""
    q, k, v = (t if t.stride(-1) == 1 else t.contiguous() for t in (q, k, v))
    if attn_mask is not None:
        attn_mask = attn_mask.expand(q.shape[0], q.shape[1], q.shape[2], k.shape[2])
        if attn_mask.stride(-1) != 1:
            attn_mask = attn_mask.contiguous()
    return q, k, v, attn_mask


def _packed_kernel(q, k, v, cu_seqlens, scale, causal):
    out = B.new_output(q)
    B._C.attention(q, k, v, out, None, None, cu_seqlens, scale, causal)
    if q.shape[0] and int(cu_seqlens[-1]) < q.shape[0]:
        out[int(cu_seqlens[-1]):] = 0  # tokens after the last sequence
    return out


def cuda_kernel(mod, q, k, v, attn_mask, kv_lengths, cu_seqlens, scale, causal, max_seqlen=None, stream=None):
    """The CUDA kernel of `mod` (_cuda, or the emulated _cuda_emu with host tensors) on the caller's stream.
    kv_lengths / cu_seqlens: int64, checked; head_dim <= mod.attention_max_head_dim. max_seqlen: the longest
    packed sequence (read from cu_seqlens when None, which waits for the GPU); the kernel zeroes the rows after
    the last sequence itself."""
    q, k, v, attn_mask = _kernel_operands(q, k, v, attn_mask)
    if cu_seqlens is not None and max_seqlen is None:
        max_seqlen = int((cu_seqlens[1:] - cu_seqlens[:-1]).max()) if cu_seqlens.shape[0] > 1 else 0
    out = B.new_output(q)
    stream = B.cuda_stream(q) if stream is None else stream
    B.on_device(q, mod.attention, q, k, v, out, attn_mask, kv_lengths, cu_seqlens,
                -1 if max_seqlen is None else max_seqlen, scale, causal, stream)
    return out


def _attention_impl(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, attn_mask: Optional[torch.Tensor],
                    kv_lengths: Optional[torch.Tensor], cu_seqlens: Optional[torch.Tensor], scale: float,
                    causal: bool, max_seqlen: Optional[int] = None) -> torch.Tensor:
    mod = B.use_cuda_kernel(_OP, q, k, v, attn_mask)
    if mod is not None:
        if B.real_cuda(q) and torch_attention_on_cuda(q, k, kv_lengths, cu_seqlens, causal):
            try:
                return _torch_cuda(q, k, v, attn_mask, cu_seqlens, scale, causal, max_seqlen)
            except RuntimeError as err:  # e.g. a torch built without flash attention for this GPU: ours from now on
                global cuda_attention
                cuda_attention = "ours"
                warnings.warn(f"transformers_fast.ops.attention: torch's CUDA attention failed ({err}); our kernel "
                              "runs instead", RuntimeWarning, stacklevel=2)
        if q.shape[-1] <= mod.attention_max_head_dim:
            return cuda_kernel(mod, q, k, v, attn_mask, kv_lengths, cu_seqlens, scale, causal, max_seqlen)
    if not B.use_cpu_kernel(_OP, q, k, v, attn_mask):
        return _reference(q, k, v, attn_mask, kv_lengths, cu_seqlens, scale, causal).contiguous()
    q, k, v, attn_mask = _kernel_operands(q, k, v, attn_mask)
    out = B.new_output(q)
    B._C.attention(q, k, v, out, attn_mask, kv_lengths,
                   cu_seqlens, scale, causal)
    if cu_seqlens is not None and q.shape[0] and cu_seqlens.shape[0] and int(cu_seqlens[-1]) < q.shape[0]:
        out[int(cu_seqlens[-1]):] = 0  # tokens after the last sequence
    return out


_op = B.register_op("attention", _attention_impl,
                    lambda q, k, v, attn_mask, kv_lengths, cu_seqlens, scale, causal, max_seqlen=None: B.new_output(q))


def _check_cu_seqlens(cu_seqlens, q: torch.Tensor, vouched: bool = False) -> torch.Tensor:
    """vouched: the values are not read back (CUDA with max_seqlen given, where that would wait for the GPU)."""
    if not isinstance(cu_seqlens, torch.Tensor) or cu_seqlens.dtype not in (torch.int32, torch.int64):
        raise TypeError(f"{_OP}: cu_seqlens must be an int32/int64 tensor")
    if cu_seqlens.device != q.device:
        raise ValueError(f"{_OP}: cu_seqlens is on {cu_seqlens.device} but q is on {q.device}")
    if cu_seqlens.dim() != 1 or cu_seqlens.shape[0] < 1:
        raise ValueError(f"{_OP}: cu_seqlens must have shape [batch + 1], got {tuple(cu_seqlens.shape)}")
    if not B.is_compiling() and not vouched:
        cu = cu_seqlens.tolist()
        if cu[0] != 0 or any(b < a for a, b in zip(cu, cu[1:])) or cu[-1] > q.shape[0]:
            raise ValueError(f"{_OP}: cu_seqlens must start at 0, never decrease and end at most at "
                             f"{q.shape[0]} tokens, got {cu}")
    return cu_seqlens.to(torch.int64).contiguous()


def _check_mask(attn_mask, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    if not isinstance(attn_mask, torch.Tensor):
        raise TypeError(f"{_OP}: attn_mask must be a torch.Tensor, got {type(attn_mask).__name__}")
    if attn_mask.dtype == torch.bool:  # True = attend, as scaled_dot_product_attention
        attn_mask = torch.zeros(attn_mask.shape, dtype=q.dtype, device=attn_mask.device).masked_fill(
            ~attn_mask, -float("inf"))
    B.check_tensor("attn_mask", attn_mask)
    B.check_same_device_dtype(_OP, "q", q, attn_mask=attn_mask)
    full = (q.shape[0], q.shape[1], q.shape[2], k.shape[2])
    if not B.broadcasts_to(attn_mask.shape, full):
        raise ValueError(f"{_OP}: attn_mask of shape {tuple(attn_mask.shape)} does not broadcast to "
                         f"[batch, heads, q_len, k_len] = {list(full)}")
    return attn_mask


# ---- int8 keys and values (a quantized KV cache) ----

def quantize_kv(x: torch.Tensor, out: Optional[torch.Tensor] = None, scale: Optional[torch.Tensor] = None):
    """Symmetric int8 rows for a quantized KV cache: per row of x [..., head_dim] (float32, CPU), scale = max|x| / 127
    and q = round_half_even(x * (127 / max|x|)) in [-127, 127]; a row of zeros gets scale 0, a row holding a NaN or
    an infinity scale NaN (its dequantized values NaN, as a float cache would give). Writes into `out` (int8, x's
    shape) and `scale` (float32, x.shape[:-1]) when given, e.g. views of a cache's slots (any strides, last dim
    contiguous). Returns (q, scale)."""
    B.check_tensor("x", x)
    if x.dtype != torch.float32 or x.device.type != "cpu":
        raise TypeError(f"quantize_kv: x must be a float32 CPU tensor, got {x.dtype} on {x.device}")
    if not 2 <= x.dim() <= 5:
        raise ValueError(f"quantize_kv: x must have 2 to 5 dims [..., head_dim], got shape {tuple(x.shape)}")
    for name, t in (("out", out), ("scale", scale)):
        if t is not None and not isinstance(t, torch.Tensor):
            raise TypeError(f"quantize_kv: {name} must be a torch.Tensor or None, got {type(t).__name__}")
        if t is not None and any(st == 0 and n > 1 for st, n in zip(t.stride(), t.shape)):
            raise ValueError(f"quantize_kv: {name} is written, so it must not be an expanded view (stride 0)")
    out = torch.empty(x.shape, dtype=torch.int8) if out is None else out
    scale = torch.empty(x.shape[:-1], dtype=torch.float32) if scale is None else scale
    if out.dtype != torch.int8 or out.shape != x.shape or out.device != x.device:
        raise ValueError(f"quantize_kv: out must be an int8 CPU tensor of shape {tuple(x.shape)}")
    if scale.dtype != torch.float32 or scale.shape != x.shape[:-1] or scale.device != x.device:
        raise ValueError(f"quantize_kv: scale must be a float32 CPU tensor of shape {tuple(x.shape[:-1])}")
    if x.stride(-1) != 1:
        x = x.contiguous()
    if B.has_kernels() and out.stride(-1) == 1:
        B._C.quantize_kv(x, out, scale)
    else:
        q, s = _quantize_kv_reference(x)
        out.copy_(q)
        scale.copy_(s)
    return out, scale


def _quantize_kv_reference(x: torch.Tensor):
    amax = x.abs().amax(-1)
    finite = torch.isfinite(x).all(-1)
    live = finite & (amax > 0)
    q = torch.round(x * (127.0 / amax).unsqueeze(-1)).clamp_(-127, 127)
    q = torch.where(live.unsqueeze(-1), q, torch.zeros((), dtype=x.dtype)).to(torch.int8)
    scale = torch.where(finite, amax / 127.0, torch.full((), float("nan")))
    return q, scale.masked_fill(finite & (amax == 0), 0.0)


def dequantize_kv(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """The float32 rows that quantize_kv's (q, scale) stand for."""
    return q.to(torch.float32) * scale.unsqueeze(-1)


def check_int8_kv(op: str, q, k, v, k_scale, v_scale, layout: str) -> None:
    """The common checks of int8 keys and values (ops.attention, ops.relative_attention): float32 CPU queries, int8
    k and v of one 4-dim `layout`, float32 scales of k's shape without head_dim."""
    B.check_tensor("q", q)
    if q.dtype != torch.float32 or q.device.type != "cpu" or q.dim() != 4:
        raise TypeError(f"{op}: int8 keys and values take 4-dim float32 CPU queries, got {q.dtype} on {q.device} "
                        f"of shape {tuple(q.shape)}")
    if not isinstance(v, torch.Tensor) or v.dtype != torch.int8:
        raise TypeError(f"{op}: k is int8 but v is {getattr(v, 'dtype', type(v).__name__)}")
    if k.dim() != 4 or v.shape != k.shape or k.device != q.device or v.device != q.device:
        raise ValueError(f"{op}: int8 k and v must be CPU tensors {layout} of one shape, got {tuple(k.shape)} and "
                         f"{tuple(v.shape)}")
    for name, t in (("k_scale", k_scale), ("v_scale", v_scale)):
        if not isinstance(t, torch.Tensor) or t.dtype != torch.float32 or tuple(t.shape) != tuple(k.shape[:3]):
            got = f"{t.dtype} {list(t.shape)}" if isinstance(t, torch.Tensor) else type(t).__name__
            raise ValueError(f"{op}: int8 k and v need {name}, float32 of their shape without head_dim "
                             f"{list(k.shape[:3])}, got {got}")


def _attention_int8_kv(q, k, v, k_scale, v_scale, attn_mask, kv_lengths, cu_seqlens, scale, causal):
    """attention() over int8 keys and values with one float32 scale per row (k_scale, v_scale [B, H, Sk])."""
    if cu_seqlens is not None:
        raise ValueError(f"{_OP}: int8 keys and values take the padded layout [batch, heads, seq, head_dim]")
    check_int8_kv(_OP, q, k, v, k_scale, v_scale, "[batch, heads, k_len, head_dim]")
    if k.shape[:2] != q.shape[:2] or k.shape[3] != q.shape[3]:
        raise ValueError(f"{_OP}: k and v must be [batch, heads, k_len, head_dim] matching q "
                         f"{tuple(q.shape)}, got {tuple(k.shape)} and {tuple(v.shape)}")
    if q.shape[-1] == 0:
        raise ValueError(f"{_OP}: head_dim must be at least 1, got shape {tuple(q.shape)}")
    if attn_mask is not None:
        attn_mask = _check_mask(attn_mask, q, k)
    if kv_lengths is not None:
        kv_lengths = B.check_lengths(_OP, "kv_lengths", kv_lengths, q, q.shape[0], k.shape[2])
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else B.check_number(_OP, "scale", scale)
    if not B.has_kernels():
        return _padded_reference(q, dequantize_kv(k, k_scale), dequantize_kv(v, v_scale), attn_mask, kv_lengths,
                                 scale, bool(causal))
    q, k, v, attn_mask = _kernel_operands(q, k, v, attn_mask)
    out = B.new_output(q)
    B.sync_threads()
    B._C.attention_int8_kv(q, k, k_scale, v, v_scale, out, attn_mask, kv_lengths, scale, bool(causal))
    return out


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, scale: Optional[float] = None,
              attn_mask: Optional[torch.Tensor] = None, causal: bool = False,
              kv_lengths: Optional[torch.Tensor] = None, cu_seqlens: Optional[torch.Tensor] = None,
              max_seqlen: Optional[int] = None, k_scale: Optional[torch.Tensor] = None,
              v_scale: Optional[torch.Tensor] = None) -> torch.Tensor:
    """softmax(q k^T * scale + attn_mask) v per (sequence, head); scale defaults to 1/sqrt(head_dim).

    Padded layout: q [B, H, Sq, D], k/v [B, H, Sk, D] -> out [B, H, Sq, D]. attn_mask (additive float,
    or bool with True = attend) broadcasts to [B, H, Sq, Sk]; kv_lengths [B] excludes keys >= length
    (a preallocated KV cache of capacity Sk). Packed layout (cu_seqlens [B + 1] given): q/k/v
    [T, H, D], attention within each sequence only -> out [T, H, D]. q, k, v may have any strides
    with a contiguous last dim (e.g. views of one fused QKV projection); they are not copied.
    causal: key j is allowed for query i iff j <= i + (valid_keys - Sq) (queries are the last Sq
    positions). Query rows with no allowed key (and rows after cu_seqlens[-1]) are zeros.
    max_seqlen (packed): the longest sequence, as flash-attention takes it. The CPU kernel does not need (or read) it; on
    CUDA, given, cu_seqlens is not read back to be checked (that would wait for the GPU): the caller vouches for
    its values, as with flash-attention. On CUDA, float16/bfloat16 with several query rows may run torch's
    tensor-core kernels (see cuda_attention).
    int8 k and v (a quantized KV cache, quantize_kv): float32 CPU q, padded layout, and k_scale / v_scale float32
    [B, H, Sk], one scale per key / value row.
    """
    if not isinstance(causal, (bool, int)):  # (a string would count as True)
        raise TypeError(f"{_OP}: causal must be True or False, got {type(causal).__name__}")
    if max_seqlen is not None and (isinstance(max_seqlen, bool) or not isinstance(max_seqlen, int) or max_seqlen < 0):
        raise TypeError(f"{_OP}: max_seqlen must be a non-negative int or None, got {max_seqlen!r}")
    if isinstance(k, torch.Tensor) and k.dtype == torch.int8:
        return _attention_int8_kv(q, k, v, k_scale, v_scale, attn_mask, kv_lengths, cu_seqlens, scale, causal)
    if k_scale is not None or v_scale is not None:
        raise ValueError(f"{_OP}: k_scale and v_scale are for int8 k and v")
    if (cu_seqlens is not None and attn_mask is None and kv_lengths is None and type(scale) is float
            and B.fast_path(q, k, v)):
        try:  # the packed call of the padding-free encoder: the C++ entry point checks every argument
            return _packed_kernel(q, k, v, cu_seqlens, scale, bool(causal))
        except B.KERNEL_REJECTS:
            pass  # the checks below name the problem or take the plain-torch path
    for name, t in (("q", q), ("k", k), ("v", v)):
        B.check_tensor(name, t)
    B.check_same_device_dtype(_OP, "q", q, k=k, v=v)
    packed = cu_seqlens is not None
    want = 3 if packed else 4
    layout = "[tokens, heads, head_dim]" if packed else "[batch, heads, seq, head_dim]"
    for name, t in (("q", q), ("k", k), ("v", v)):
        if t.dim() != want:
            raise ValueError(f"{_OP}: {name} must be {layout}, got shape {tuple(t.shape)}")
    if packed:
        if attn_mask is not None or kv_lengths is not None:
            raise ValueError(f"{_OP}: attn_mask and kv_lengths are for the padded layout, not with cu_seqlens")
        if k.shape != q.shape or v.shape != q.shape:
            raise ValueError(f"{_OP}: packed q, k, v must have the same shape, got "
                             f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")
        cu_seqlens = _check_cu_seqlens(cu_seqlens, q, vouched=max_seqlen is not None and B.on_cuda(q))
    else:
        if k.shape != v.shape or k.shape[0] != q.shape[0] or k.shape[1] != q.shape[1] or k.shape[3] != q.shape[3]:
            raise ValueError(f"{_OP}: k and v must be [batch, heads, k_len, head_dim] matching q "
                             f"{tuple(q.shape)}, got {tuple(k.shape)} and {tuple(v.shape)}")
        if attn_mask is not None:
            attn_mask = _check_mask(attn_mask, q, k)
        if kv_lengths is not None:
            kv_lengths = B.check_lengths(_OP, "kv_lengths", kv_lengths, q, q.shape[0], k.shape[2])
    if q.shape[-1] == 0:
        raise ValueError(f"{_OP}: head_dim must be at least 1, got shape {tuple(q.shape)}")
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else B.check_number(_OP, "scale", scale)
    causal = bool(causal)
    if B.needs_grad(q, k, v, attn_mask):
        return _reference(q, k, v, attn_mask, kv_lengths, cu_seqlens, scale, causal)
    return B.dispatch(_op, _attention_impl, q, k, v, attn_mask, kv_lengths, cu_seqlens, scale, causal, max_seqlen)
