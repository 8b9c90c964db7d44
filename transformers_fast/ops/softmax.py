"""Softmax over the last dim with an additive mask, per-sequence key lengths, and/or a causal limit."""
from __future__ import annotations

from typing import Optional

import torch

from transformers_fast.ops import _backend as B


def allowed_keys(ndim: int, queries: int, keys: int, lengths: Optional[torch.Tensor], causal: bool,
                 device) -> Optional[torch.Tensor]:
    """Bool mask broadcastable to [..., queries, keys] (batch first): key j is allowed iff
    j < length and, when causal, j <= i + (length - queries). None when everything is allowed."""
    if lengths is None and not causal:
        return None
    j = torch.arange(keys, device=device)
    valid = torch.tensor(keys, device=device) if lengths is None else lengths.view(-1, *[1] * (ndim - 1))
    allowed = j < valid
    if causal:
        i = torch.arange(queries, device=device).view(queries, 1)
        allowed = allowed & (j <= i + (valid - queries))
    return allowed


def _reference(scores, mask, lengths, scale, causal):
    x = scores * scale
    if mask is not None:
        x = x + mask
    allowed = allowed_keys(scores.dim(), scores.shape[-2] if scores.dim() >= 2 else 1, scores.shape[-1],
                           lengths, causal, scores.device)
    if allowed is None:
        return torch.softmax(x, -1)
    return torch.softmax(x.masked_fill(~allowed, -float("inf")), -1).masked_fill(~allowed, 0.0)


def _prepare(scores, mask):
    scores = scores.contiguous()
    if mask is not None:
        mask = mask.expand(scores.shape)
        if scores.shape[-1] > 1 and mask.stride(-1) != 1:
            mask = mask.contiguous()
    return scores, mask


def cuda_kernel(mod, scores, mask, lengths, scale, causal, stream=None):
    """The CUDA kernel of `mod` (_cuda, or the emulated _cuda_emu with host tensors) on the caller's stream;
    lengths: int64 [scores.shape[0]] or None."""
    scores, mask = _prepare(scores, mask)
    out = B.new_output(scores)
    stream = B.cuda_stream(scores) if stream is None else stream
    B.on_device(scores, mod.masked_softmax, scores, mask, lengths, out, scale, causal, stream)
    return out


def _masked_softmax_impl(scores: torch.Tensor, mask: Optional[torch.Tensor], lengths: Optional[torch.Tensor],
                         scale: float, causal: bool) -> torch.Tensor:
    mod = B.use_cuda_kernel("masked_softmax", scores, mask)
    if mod is not None:
        return cuda_kernel(mod, scores, mask, lengths, scale, causal)
    if not B.use_cpu_kernel("masked_softmax", scores, mask):
        return _reference(scores, mask, lengths, scale, causal).contiguous()
    scores, mask = _prepare(scores, mask)
    out = B.new_output(scores)
    B._C.masked_softmax(scores, mask, lengths, out, scale, causal)
    return out


_op = B.register_op("masked_softmax", _masked_softmax_impl,
                    lambda scores, mask, lengths, scale, causal: B.new_output(scores))


def masked_softmax(scores: torch.Tensor, mask: Optional[torch.Tensor] = None, scale: float = 1.0,
                   causal: bool = False) -> torch.Tensor:
    """softmax(scores * scale + mask) over the last dim.

    mask is either an additive float tensor broadcastable to scores (results equal torch's softmax,
    NaN for rows that are all -inf), or an int tensor of key lengths [scores.shape[0]]: keys at index
    >= length get probability 0. causal allows key j for query i (dim -2) iff j <= i + (keys - queries),
    keys being the length when given. Rows left with no allowed key by lengths/causal are all zeros.
    """
    op = "masked_softmax"
    if not isinstance(causal, (bool, int)):  # (a string would count as True)
        raise TypeError(f"{op}: causal must be True or False, got {type(causal).__name__}")
    B.check_tensor("scores", scores, ndim_min=2 if causal else 1)
    scale = B.check_number(op, "scale", scale)
    lengths = None
    if mask is not None:
        if isinstance(mask, torch.Tensor) and mask.dtype in (torch.int32, torch.int64):
            if scores.dim() < 2:
                raise ValueError(f"{op}: lengths need scores of shape [batch, ..., keys], got {tuple(scores.shape)}")
            lengths = B.check_lengths(op, "mask", mask, scores, scores.shape[0], scores.shape[-1])
            mask = None
        else:
            B.check_tensor("mask", mask)
            B.check_same_device_dtype(op, "scores", scores, mask=mask)
            if not B.broadcasts_to(mask.shape, scores.shape):
                raise ValueError(f"{op}: mask of shape {tuple(mask.shape)} does not broadcast to scores "
                                 f"{tuple(scores.shape)}")
    if B.needs_grad(scores, mask):
        return _reference(scores, mask, lengths, scale, causal)
    return B.dispatch(_op, _masked_softmax_impl, scores, mask, lengths, scale, causal)


def logsumexp_update_(logits: torch.Tensor, running_max: torch.Tensor, running_sum: torch.Tensor,
                      out: Optional[torch.Tensor] = None) -> None:
    """Online log-sum-exp over column chunks, in place: each row's max and sum of exp(x - max) over logits
    [rows, cols] are merged into running_max and running_sum (float32 [rows]; -inf and 0 before the first chunk),
    so that after the last chunk running_max + log(running_sum) is the log-sum-exp of all of them. When `out` (a
    [rows, keep] view with contiguous rows, keep <= cols, logits' dtype) is given, logits[:, :keep] is copied into
    it in the same pass, while the chunk is still in cache."""
    op = "logsumexp_update_"
    B.check_tensor("logits", logits, ndim_min=2)
    if logits.dim() != 2:
        raise ValueError(f"{op}: logits must be [rows, cols], got shape {tuple(logits.shape)}")
    rows, cols = logits.shape
    for name, t in (("running_max", running_max), ("running_sum", running_sum)):
        if not isinstance(t, torch.Tensor) or t.dtype != torch.float32 or t.shape != (rows,):
            raise ValueError(f"{op}: {name} must be a float32 tensor of shape [{rows}]")
        if t.device != logits.device:
            raise ValueError(f"{op}: {name} is on {t.device} but logits is on {logits.device}")
    if out is not None:
        B.check_tensor("out", out)
        B.check_same_device_dtype(op, "logits", logits, out=out)
        if out.dim() != 2 or out.shape[0] != rows or out.shape[1] > cols:
            raise ValueError(f"{op}: out must be [{rows}, keep] with keep <= {cols}, got {tuple(out.shape)}")
    kernel_layout = (logits.is_contiguous() and running_max.is_contiguous() and running_sum.is_contiguous()
                     and (out is None or out.shape[1] <= 1 or out.stride(1) == 1))
    mod = B.use_cuda_kernel(op, logits, out)
    if mod is not None and kernel_layout:
        B.on_device(logits, mod.logsumexp_update, logits, out, running_max, running_sum, B.cuda_stream(logits))
        return
    if mod is None and logits.device.type == "cpu" and B.use_cpu_kernel(op, logits, out) and kernel_layout:
        B._C.logsumexp_update(logits, out, running_max, running_sum)
        return
    with torch.no_grad():
        if out is not None:
            out.copy_(logits[:, :out.shape[1]])
        peak = logits.amax(1).float() if cols else torch.full_like(running_max, -float("inf"))
        best = torch.maximum(running_max, peak)
        finite = best != -float("inf")  # rows whose every value so far is -inf keep (-inf, 0)
        safe = torch.where(finite, best, torch.zeros_like(best))
        part = (logits.float() - safe[:, None]).exp().sum(1)
        total = running_sum * (running_max - safe).exp() + part
        running_sum.copy_(torch.where(finite, total, running_sum))
        running_max.copy_(best)
