"""Relative-position attention of Transformer-XL and XLNet, per head:

    score[i, j] = ((q_i + r_w_bias)·k_j + shift((q + r_r_bias)·rᵀ)[i, j] [+ (q_i + r_s_bias)·seg_embed[s_ij]]) * scale

masked (masked keys get -1e30 as in the references, so a row with every key masked is uniform), softmaxed
over j and multiplied by v. The references build the shifted term with a pad/reshape copy ("rel_shift");
it is a per-row gather: XLNet ``bd[i][j] = raw[i][j + qlen - i]``, Transformer-XL
``bd[i][j] = raw[i][j + qlen - 1 - i]`` (the exact flat-index arithmetic of the references, so positions the
mask removes read the same values too)."""
from __future__ import annotations

import math
from typing import Optional

import torch

from transformers_fast.ops import _backend as B
from transformers_fast.ops.attention import check_int8_kv, dequantize_kv

_OP = "relative_attention"
SHIFTS = ("xlnet", "transfo_xl")
MASKED_SCORE = -1e30  # what both references give a masked key (XLNet subtracts 1e30, Transformer-XL fills)


def rel_shift_reference(raw: torch.Tensor, shift: str, klen: int) -> torch.Tensor:
    """The references' reshape-based shift of raw [..., qlen, rlen] -> [..., qlen, klen]."""
    *lead, qlen, rlen = raw.shape
    if shift == "xlnet":  # XLNetRelativeAttention.rel_shift_bnij
        x = raw.reshape(*lead, rlen, qlen)[..., 1:, :].reshape(*lead, qlen, rlen - 1)
        return x[..., :klen]
    # Transformer-XL RelPartialLearnableMultiHeadAttn._rel_shift (zero column on the left)
    padded = torch.cat([raw.new_zeros(*lead, qlen, 1), raw], dim=-1)
    return padded.reshape(*lead, rlen + 1, qlen)[..., 1:, :].reshape(*lead, qlen, rlen)


def _reference(q, k, v, r, r_w_bias, r_r_bias, shift, scale, attn_mask, seg_diff, seg_embed, r_s_bias):
    qlen, bsz, n_head, d_head = q.shape
    klen = k.shape[0]
    ac = torch.einsum("ibnd,jbnd->bnij", q + r_w_bias, k)
    bd = torch.einsum("ibnd,jbnd->bnij", q + r_r_bias, r.expand(r.shape[0], bsz, n_head, d_head))
    score = ac + rel_shift_reference(bd, shift, klen)
    if seg_embed is not None:
        ef = torch.einsum("ibnd,snd->ibns", q + r_s_bias, seg_embed)  # [qlen, bsz, H, 2]
        seg = seg_diff.expand(qlen, klen, bsz).to(torch.long)
        ef = ef.permute(1, 2, 0, 3).unsqueeze(3).expand(bsz, n_head, qlen, klen, 2)  # [b, n, i, j, s]
        score = score + torch.gather(ef, 4, seg.permute(2, 0, 1)[:, None, :, :, None].expand(
            bsz, n_head, qlen, klen, 1)).squeeze(4)
    score = score * scale
    if attn_mask is not None:
        score = score.masked_fill(attn_mask.expand(qlen, klen, bsz).permute(2, 0, 1)[:, None], MASKED_SCORE)
    prob = torch.softmax(score, dim=3)
    return torch.einsum("bnij,jbnd->ibnd", prob, v).contiguous()


def _kernel_map(t: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
    """A checked bool [qlen, klen, batch or 1] map as the kernel reads it: uint8 [batch or 1, qlen, klen]
    with klen contiguous (a view when it already is, e.g. batch 1)."""
    if t is None:
        return None
    t = t.permute(2, 0, 1).view(torch.uint8)
    return t if t.shape[2] <= 1 or t.stride(2) == 1 else t.contiguous()


def _last_dim_contiguous(t: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
    """The kernel reads any strides but a unit one on head_dim (views of a fused projection pass as they are)."""
    return t if t is None or t.shape[-1] <= 1 or t.stride(-1) == 1 else t.contiguous()


def cuda_kernel(mod, q, k, v, r, r_w_bias, r_r_bias, shift, scale, attn_mask, seg_diff, seg_embed, r_s_bias,
                stream=None):
    """The CUDA kernel of `mod` (_cuda, or the emulated _cuda_emu with host tensors) on the caller's stream;
    attn_mask / seg_diff: bool [qlen, klen, batch or 1] or None; head_dim <= mod.relative_attention_max_head_dim."""
    out = torch.empty(q.shape, dtype=q.dtype, device=q.device)
    tensors = [_last_dim_contiguous(t) for t in (q, k, v, r, r_w_bias, r_r_bias)]
    stream = B.cuda_stream(q) if stream is None else stream
    B.on_device(q, mod.relative_attention, *tensors, out, _kernel_map(attn_mask), _kernel_map(seg_diff),
                _last_dim_contiguous(seg_embed), _last_dim_contiguous(r_s_bias), scale, SHIFTS.index(shift), stream)
    return out


def _impl(q, k, v, r, r_w_bias, r_r_bias, shift, scale, attn_mask, seg_diff, seg_embed, r_s_bias):
    mod = B.use_cuda_kernel(_OP, q, k, v, r, r_w_bias, r_r_bias, seg_embed, r_s_bias)
    if mod is not None and hasattr(mod, "relative_attention") and q.shape[-1] <= mod.relative_attention_max_head_dim:
        return cuda_kernel(mod, q, k, v, r, r_w_bias, r_r_bias, shift, scale, attn_mask, seg_diff, seg_embed, r_s_bias)
    if not B.use_cpu_kernel(_OP, q, k, v, r, r_w_bias, r_r_bias, seg_embed, r_s_bias):
        return _reference(q, k, v, r, r_w_bias, r_r_bias, shift, scale, attn_mask, seg_diff, seg_embed, r_s_bias)
    out = torch.empty(q.shape, dtype=q.dtype, device=q.device)
    tensors = [_last_dim_contiguous(t) for t in (q, k, v, r, r_w_bias, r_r_bias)]
    B._C.relative_attention(*tensors, out, _kernel_map(attn_mask), _kernel_map(seg_diff),
                            _last_dim_contiguous(seg_embed), _last_dim_contiguous(r_s_bias), scale, SHIFTS.index(shift))
    return out


def _check_bool_map(name: str, t, qlen: int, klen: int, bsz: int, ref: torch.Tensor) -> torch.Tensor:
    """A [qlen, klen, bsz or 1] map (bool, or any dtype where nonzero = True) -> bool tensor."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{_OP}: {name} must be a torch.Tensor, got {type(t).__name__}")
    if t.device != ref.device:
        raise ValueError(f"{_OP}: {name} is on {t.device} but q is on {ref.device}")
    if t.dim() != 3 or t.shape[0] != qlen or t.shape[1] != klen or t.shape[2] not in (1, bsz):
        raise ValueError(f"{_OP}: {name} must have shape [qlen, klen, batch or 1] = [{qlen}, {klen}, {bsz}], "
                         f"got {tuple(t.shape)}")
    return t if t.dtype == torch.bool else t != 0


def relative_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, r: torch.Tensor,
                       r_w_bias: torch.Tensor, r_r_bias: torch.Tensor, *, shift: str,
                       scale: Optional[float] = None, attn_mask: Optional[torch.Tensor] = None,
                       seg_diff: Optional[torch.Tensor] = None, seg_embed: Optional[torch.Tensor] = None,
                       r_s_bias: Optional[torch.Tensor] = None, k_scale: Optional[torch.Tensor] = None,
                       v_scale: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Relative attention in the references' sequence-first layout.

    q [qlen, batch, heads, head_dim]; k, v [klen, batch, heads, head_dim] (klen = memory + qlen);
    r [rlen, batch or 1, heads, head_dim], the projected relative position embeddings (XLNet: rlen > klen,
    Transformer-XL: rlen == klen); r_w_bias, r_r_bias [heads, head_dim]. shift: "xlnet" or "transfo_xl".
    scale defaults to 1/sqrt(head_dim). attn_mask [qlen, klen, batch or 1]: True (or nonzero) = masked.
    XLNet's segment term: seg_diff [qlen, klen, batch or 1] (True where query and key are in different
    segments), seg_embed [2, heads, head_dim] and r_s_bias [heads, head_dim], all three or none.
    Returns attn_vec [qlen, batch, heads, head_dim], contiguous. Tensors may have any strides.
    int8 k and v (a quantized memory, ops.attention.quantize_kv rows) with k_scale, v_scale float32 [klen, batch,
    heads]: float32 CPU tensors otherwise; the kernel reads them for fewer than 14 queries (decoding), other calls
    dequantize them first.
    """
    int8_kv = isinstance(k, torch.Tensor) and k.dtype == torch.int8
    if int8_kv:
        check_int8_kv(_OP, q, k, v, k_scale, v_scale, "[klen, batch, heads, head_dim]")
    elif k_scale is not None or v_scale is not None:
        raise ValueError(f"{_OP}: k_scale and v_scale are for int8 k and v")
    kv = () if int8_kv else (("k", k), ("v", v))
    for name, t in (("q", q), *kv, ("r", r), ("r_w_bias", r_w_bias), ("r_r_bias", r_r_bias)):
        B.check_tensor(name, t)
    B.check_same_device_dtype(_OP, "q", q, **dict(kv), r=r, r_w_bias=r_w_bias, r_r_bias=r_r_bias)
    if shift not in SHIFTS:
        raise ValueError(f"{_OP}: shift must be one of {SHIFTS}, got {shift!r}")
    for name, t in (("q", q), ("k", k), ("v", v), ("r", r)):
        if t.dim() != 4:
            raise ValueError(f"{_OP}: {name} must be [len, batch, heads, head_dim], got shape {tuple(t.shape)}")
    qlen, bsz, n_head, d_head = q.shape
    klen = k.shape[0]
    if k.shape[1:] != q.shape[1:] or v.shape != k.shape:
        raise ValueError(f"{_OP}: k and v must be [klen, batch, heads, head_dim] matching q {tuple(q.shape)}, "
                         f"got {tuple(k.shape)} and {tuple(v.shape)}")
    if d_head == 0 or n_head == 0:
        raise ValueError(f"{_OP}: heads and head_dim must be at least 1, got shape {tuple(q.shape)}")
    if klen < qlen:
        raise ValueError(f"{_OP}: klen ({klen}) must be at least qlen ({qlen}): keys are memory + queries")
    if r.shape[1] not in (1, bsz) or r.shape[2:] != q.shape[2:]:
        raise ValueError(f"{_OP}: r must be [rlen, batch or 1, heads, head_dim] for q {tuple(q.shape)}, "
                         f"got {tuple(r.shape)}")
    rlen = r.shape[0]
    if shift == "xlnet" and rlen < klen + 1:
        raise ValueError(f"{_OP}: XLNet's shift needs rlen >= klen + 1 = {klen + 1}, got r of length {rlen}")
    if shift == "transfo_xl" and rlen != klen:
        raise ValueError(f"{_OP}: Transformer-XL's shift needs rlen == klen = {klen}, got r of length {rlen}")
    for name, t in (("r_w_bias", r_w_bias), ("r_r_bias", r_r_bias)):
        if t.shape != (n_head, d_head):
            raise ValueError(f"{_OP}: {name} must be [heads, head_dim] = [{n_head}, {d_head}], got {tuple(t.shape)}")
    scale = 1.0 / math.sqrt(d_head) if scale is None else B.check_number(_OP, "scale", scale)
    if attn_mask is not None:
        attn_mask = _check_bool_map("attn_mask", attn_mask, qlen, klen, bsz, q)
    segment = (seg_diff is not None, seg_embed is not None, r_s_bias is not None)
    if any(segment) and not all(segment):
        raise ValueError(f"{_OP}: seg_diff, seg_embed and r_s_bias go together (XLNet's segment term)")
    if seg_diff is not None:
        seg_diff = _check_bool_map("seg_diff", seg_diff, qlen, klen, bsz, q)
        B.check_tensor("seg_embed", seg_embed)
        B.check_tensor("r_s_bias", r_s_bias)
        B.check_same_device_dtype(_OP, "q", q, seg_embed=seg_embed, r_s_bias=r_s_bias)
        if seg_embed.shape != (2, n_head, d_head):
            raise ValueError(f"{_OP}: seg_embed must be [2, heads, head_dim] = [2, {n_head}, {d_head}], "
                             f"got {tuple(seg_embed.shape)}")
        if r_s_bias.shape != (n_head, d_head):
            raise ValueError(f"{_OP}: r_s_bias must be [heads, head_dim] = [{n_head}, {d_head}], "
                             f"got {tuple(r_s_bias.shape)}")
    if int8_kv:
        if B.has_kernels() and qlen < B._C.dot_max_queries and not B.needs_grad(q, r, r_w_bias, r_r_bias):
            out = torch.empty(q.shape, dtype=q.dtype)
            tensors = [_last_dim_contiguous(t) for t in (q, k, k_scale, v, v_scale, r, r_w_bias, r_r_bias)]
            B.sync_threads()
            B._C.relative_attention_int8_kv(*tensors, out, _kernel_map(attn_mask), _kernel_map(seg_diff),
                                            _last_dim_contiguous(seg_embed), _last_dim_contiguous(r_s_bias), scale,
                                            SHIFTS.index(shift))
            return out
        k, v = dequantize_kv(k, k_scale), dequantize_kv(v, v_scale)
    args = (q, k, v, r, r_w_bias, r_r_bias, shift, scale, attn_mask, seg_diff, seg_embed, r_s_bias)
    if B.needs_grad(q, k, v, r, r_w_bias, r_r_bias, seg_embed, r_s_bias) or B.capturing_graph():
        return _reference(*args)
    return _impl(*args)
