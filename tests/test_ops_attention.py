import importlib
import math

import pytest
import torch
import torch.nn.functional as F

from bf16_helpers import assert_bf16_close, to_bf16
from transformers_fast import ops
from transformers_fast.ops import _backend as B

ATT = importlib.import_module("transformers_fast.ops.attention")  # the package re-exports the function

NEG_INF = -float("inf")


def reference(q, k, v, scale=None, additive=None, kv_lengths=None, causal=False):
    """float64 attention over [B, H, Sq, D] / [B, H, Sk, D], written out: excluded keys (lengths,
    causal, -inf) get weight 0; rows without any allowed key are zeros (as torch's SDPA)."""
    b, h, sq, d = q.shape
    sk = k.shape[2]
    scale = 1 / math.sqrt(d) if scale is None else scale
    s = torch.einsum("bhid,bhjd->bhij", q.double(), k.double()) * scale
    if additive is not None:
        s = s + additive.double()
    allowed = torch.ones(b, 1, sq, sk, dtype=torch.bool)
    for bi in range(b):
        n = sk if kv_lengths is None else int(kv_lengths[bi])
        for i in range(sq):
            limit = min(n, i + (n - sq) + 1) if causal else n
            allowed[bi, 0, i, max(limit, 0):] = False
    s = s.masked_fill(~allowed, NEG_INF)
    m = s.amax(-1, keepdim=True)
    empty = torch.isinf(m) & (m < 0)
    p = torch.exp(s - m.masked_fill(empty, 0))
    p = p / p.sum(-1, keepdim=True).clamp_min(1e-300)
    return torch.einsum("bhij,bhjd->bhid", p, v.double()).float()


def qkv(b, h, sq, sk, d):
    return torch.randn(b, h, sq, d), torch.randn(b, h, sk, d), torch.randn(b, h, sk, d)


SHAPES = [  # (batch, heads, q_len, k_len, head_dim): last-dim sizes of the grid, odd and small cases
    (1, 1, 1, 1, 1), (3, 2, 7, 7, 7), (2, 3, 5, 83, 64), (1, 2, 83, 83, 83), (2, 1, 3, 769, 64),
    (1, 2, 17, 40, 768), (1, 1, 9, 9, 769), (1, 1, 4, 6, 1024), (1, 1, 2, 3, 4096), (1, 2, 130, 257, 64),
]
VARIANTS = ["none", "bert_padding", "full_mask", "kv_lengths", "causal", "kv_lengths+causal", "bool_mask",
            "full_mask+kv_lengths+causal"]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_attention_padded_matches_reference(isa, shape, variant):
    b, h, sq, sk, d = shape
    q, k, v = qkv(*shape)
    additive, lengths, mask = None, None, None
    if "bert_padding" in variant:
        keep = torch.ones(b, sk)
        keep[-1, max(sk // 2, 1):] = 0
        additive = mask = ((1.0 - keep) * -10000.0).view(b, 1, 1, sk)
    elif "full_mask" in variant:
        additive = mask = torch.randn(b, h, sq, sk)
        additive[0, 0, sq // 2, :] = NEG_INF  # an all-masked row: zeros, as SDPA
    elif variant == "bool_mask":
        mask = torch.rand(b, 1, sq, sk) > 0.3
        additive = torch.zeros(mask.shape).masked_fill(~mask, NEG_INF)
    if "kv_lengths" in variant:
        lengths = torch.tensor([sk, max(sk - 2, 0), 0][:b])
    causal = "causal" in variant
    want = reference(q, k, v, additive=additive, kv_lengths=lengths, causal=causal)
    got = ops.attention(q, k, v, attn_mask=mask, kv_lengths=lengths, causal=causal)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=2e-5)


@pytest.mark.parametrize("sq,sk", [(1, 9), (5, 5), (7, 20), (130, 130), (20, 7)])
def test_causal_and_scale_match_sdpa(isa, sq, sk):
    q, k, v = qkv(2, 3, sq, sk, 64)
    got = ops.attention(q, k, v, causal=True, scale=0.3)
    torch.testing.assert_close(got, reference(q, k, v, scale=0.3, causal=True), rtol=1e-5, atol=2e-5)
    if sq == sk:  # SDPA's is_causal is the top-left aligned mask, equal to ours when sq == sk
        torch.testing.assert_close(got, F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.3),
                                   rtol=1e-5, atol=2e-5)


def test_decoding_with_preallocated_cache(isa):
    b, h, cap, d = 3, 4, 64, 32
    k, v = torch.randn(b, h, cap, d), torch.randn(b, h, cap, d)
    k[:, :, 40:] = float("nan")  # past every length: never read
    v[:, :, 40:] = float("nan")
    lengths = torch.tensor([40, 1, 17], dtype=torch.int32)
    for sq in (1, 3):
        q = torch.randn(b, h, sq, d)
        got = ops.attention(q, k, v, kv_lengths=lengths, causal=True)
        for bi, n in enumerate(lengths.tolist()):
            want = reference(q[bi:bi + 1], k[bi:bi + 1, :, :n], v[bi:bi + 1, :, :n], causal=True)
            torch.testing.assert_close(got[bi:bi + 1], want, rtol=1e-5, atol=2e-5)


def test_strided_views_of_fused_qkv_padded_layout(isa):
    b, s, h, d = 2, 19, 3, 64
    fused = torch.randn(b, s, 3, h, d)  # one QKV projection output
    q, k, v = (fused[:, :, i].transpose(1, 2) for i in range(3))  # [B, H, S, D] views
    assert q.stride(-1) == 1 and not q.is_contiguous()
    mask = torch.zeros(b, 1, 1, s)
    mask[1, ..., 11:] = -10000.0
    want = reference(q.contiguous(), k.contiguous(), v.contiguous(), additive=mask)
    torch.testing.assert_close(ops.attention(q, k, v, attn_mask=mask), want, rtol=1e-5, atol=2e-5)
    # A last dim that is not contiguous is copied, still right.
    qt = torch.randn(b, h, d, s).transpose(2, 3)
    torch.testing.assert_close(ops.attention(qt, k, v), reference(qt, k, v), rtol=1e-5, atol=2e-5)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("lengths", [[5], [1, 9, 0, 130, 3], [83, 7]])
def test_packed_layout_from_fused_qkv(isa, lengths, causal):
    h, d = 3, 64
    total = sum(lengths)
    extra = 2  # tokens after the last sequence: zeros
    fused = torch.randn(total + extra, 3 * h * d)  # [T, 3*H*D], row stride 3*H*D
    q, k, v = (fused[:, i * h * d:(i + 1) * h * d].view(total + extra, h, d) for i in range(3))
    cu = torch.tensor([0] + lengths, dtype=torch.int32).cumsum(0, dtype=torch.int32)
    got = ops.attention(q, k, v, cu_seqlens=cu, max_seqlen=max(lengths), causal=causal)
    assert got.shape == (total + extra, h, d)
    for start, n in zip(cu.tolist(), lengths):
        if n:
            seq = [t[start:start + n].transpose(0, 1).unsqueeze(0) for t in (q, k, v)]
            want = reference(*seq, causal=causal)[0].transpose(0, 1)
            torch.testing.assert_close(got[start:start + n], want, rtol=1e-5, atol=2e-5)
    assert torch.equal(got[total:], torch.zeros(extra, h, d))


@pytest.mark.kernels
def test_nan_and_inf_propagate_like_sdpa(isa):
    q, k, v = qkv(1, 2, 6, 8, 16)
    q[0, 0, 2, 3] = float("nan")
    v[0, 1, 4, 0] = float("inf")
    got = ops.attention(q, k, v)
    # torch's fp32 SDPA on AVX-512 machines returns zeros for a NaN query row, its AVX2 path NaN;
    # float64 SDPA propagates the NaN on every machine, so it is the reference.
    want = F.scaled_dot_product_attention(q.double(), k.double(), v.double()).float()
    torch.testing.assert_close(got, want, equal_nan=True, rtol=1e-5, atol=2e-5)
    assert torch.isnan(got[0, 0, 2]).all()


def test_threads_give_identical_results(threads):
    q, k, v = qkv(2, 12, 128, 128, 64)
    mask = torch.zeros(2, 1, 1, 128)
    torch.set_num_threads(1)
    one = ops.attention(q, k, v, attn_mask=mask)
    torch.set_num_threads(2)
    assert torch.equal(ops.attention(q, k, v, attn_mask=mask), one)


def test_bad_input_raises_clear_errors():
    q, k, v = qkv(2, 3, 4, 5, 8)
    packed = torch.randn(6, 3, 8)
    for bad in (-5, 2.0, True):
        with pytest.raises(TypeError, match="max_seqlen must be a non-negative int"):
            ops.attention(packed, packed, packed, cu_seqlens=torch.tensor([0, 2, 6]), max_seqlen=bad)
    with pytest.raises(ValueError, match=r"q must be \[batch, heads, seq, head_dim\]"):
        ops.attention(q[0], k, v)
    with pytest.raises(ValueError, match="k and v must be"):
        ops.attention(q, k[:, :2], v)
    with pytest.raises(ValueError, match="k and v must be"):
        ops.attention(q, k, v[:, :, :4])
    with pytest.raises(TypeError, match="k has dtype"):
        ops.attention(q, k.half(), v)
    with pytest.raises(ValueError, match="on meta"):
        ops.attention(q, k, v.to("meta"))
    with pytest.raises(ValueError, match="does not broadcast"):
        ops.attention(q, k, v, attn_mask=torch.zeros(2, 1, 1, 6))
    with pytest.raises(ValueError, match=r"kv_lengths values must be in \[0, 5\]"):
        ops.attention(q, k, v, kv_lengths=torch.tensor([6, 1]))
    with pytest.raises(ValueError, match=r"kv_lengths must have shape \[2\]"):
        ops.attention(q, k, v, kv_lengths=torch.tensor([1]))
    with pytest.raises(TypeError, match="kv_lengths must be int32 or int64"):
        ops.attention(q, k, v, kv_lengths=torch.tensor([1.0, 2.0]))
    with pytest.raises(TypeError, match="scale"):
        ops.attention(q, k, v, scale="x")
    with pytest.raises(TypeError, match="causal must be True or False"):
        ops.attention(q, k, v, causal="no")
    t = torch.randn(10, 3, 8)
    with pytest.raises(ValueError, match="cu_seqlens must start at 0"):
        ops.attention(t, t, t, cu_seqlens=torch.tensor([0, 6, 4]))
    with pytest.raises(ValueError, match="cu_seqlens must start at 0"):
        ops.attention(t, t, t, cu_seqlens=torch.tensor([0, 11]))
    with pytest.raises(ValueError, match="padded layout"):
        ops.attention(t, t, t, cu_seqlens=torch.tensor([0, 10]), kv_lengths=torch.tensor([3]))
    with pytest.raises(ValueError, match="same shape"):
        ops.attention(t, t[:9], t, cu_seqlens=torch.tensor([0, 9]))
    with pytest.raises(TypeError, match="cu_seqlens must be"):
        ops.attention(t, t, t, cu_seqlens=torch.tensor([0.0, 10.0]))


def _torch_bf16(q, k, v, additive=None, kv_lengths=None, cu_seqlens=None, scale=None, causal=False):
    """torch's own bf16 result: the op's torch path (SDPA in bf16) on the same tensors."""
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    lengths = None if kv_lengths is None else kv_lengths.to(torch.int64)
    return ATT._reference(q, k, v, additive, lengths, cu_seqlens, scale, causal)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_bfloat16_padded_within_twice_torchs_error(bf16_isa, shape, variant):
    b, h, sq, sk, d = shape
    q, k, v = to_bf16(*qkv(*shape))
    additive, lengths, mask = None, None, None
    if "bert_padding" in variant:
        keep = torch.ones(b, sk)
        keep[-1, max(sk // 2, 1):] = 0
        additive = mask = ((1.0 - keep) * -10000.0).view(b, 1, 1, sk).to(torch.bfloat16)
    elif "full_mask" in variant:
        additive = mask = torch.randn(b, h, sq, sk).to(torch.bfloat16)
        additive[0, 0, sq // 2, :] = NEG_INF  # an all-masked row: zeros, as SDPA
    elif variant == "bool_mask":
        mask = torch.rand(b, 1, sq, sk) > 0.3
        additive = torch.zeros(mask.shape, dtype=torch.bfloat16).masked_fill(~mask, NEG_INF)
    if "kv_lengths" in variant:
        lengths = torch.tensor([sk, max(sk - 2, 0), 0][:b])
    causal = "causal" in variant
    want = reference(q, k, v, additive=additive, kv_lengths=lengths, causal=causal)
    got = ops.attention(q, k, v, attn_mask=mask, kv_lengths=lengths, causal=causal)
    assert_bf16_close(got, _torch_bf16(q, k, v, additive, lengths, causal=causal), want)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("lengths", [[5], [1, 9, 0, 130, 3], [83, 7], [20, 1]])
def test_bfloat16_packed_fused_qkv_within_twice_torchs_error(bf16_isa, lengths, causal):
    h, d = 3, 64
    total = sum(lengths)
    fused = torch.randn(total + 2, 3 * h * d).to(torch.bfloat16)  # [T, 3*H*D] and 2 tokens after the last sequence
    q, k, v = (fused[:, i * h * d:(i + 1) * h * d].view(total + 2, h, d) for i in range(3))
    cu = torch.tensor([0] + lengths, dtype=torch.int32).cumsum(0, dtype=torch.int32)
    got = ops.attention(q, k, v, cu_seqlens=cu, causal=causal)
    assert got.dtype == torch.bfloat16 and torch.equal(got[total:], torch.zeros(2, h, d, dtype=torch.bfloat16))
    theirs = _torch_bf16(q, k, v, cu_seqlens=cu.to(torch.int64), causal=causal)
    for start, n in zip(cu.tolist(), lengths):
        if n:
            seq = [t[start:start + n].transpose(0, 1).unsqueeze(0) for t in (q, k, v)]
            want = reference(*seq, causal=causal)[0].transpose(0, 1)
            assert_bf16_close(got[start:start + n], theirs[start:start + n], want)


def test_bfloat16_decoding_strided_views_and_threads(bf16_isa, threads):
    b, h, cap, d = 3, 4, 64, 32
    k, v = to_bf16(torch.randn(b, h, cap, d), torch.randn(b, h, cap, d))
    k[:, :, 40:] = float("nan")  # past every length: never read
    v[:, :, 40:] = float("nan")
    lengths = torch.tensor([40, 1, 17], dtype=torch.int32)
    for sq in (1, 3, 20):
        q = torch.randn(b, h, sq, d).to(torch.bfloat16)
        got = ops.attention(q, k, v, kv_lengths=lengths, causal=sq <= 17)
        for bi, n in enumerate(lengths.tolist()):
            sub = (q[bi:bi + 1], k[bi:bi + 1, :, :n], v[bi:bi + 1, :, :n])
            want = reference(*sub, causal=sq <= 17)
            assert_bf16_close(got[bi:bi + 1], _torch_bf16(*sub, causal=sq <= 17), want)
    fused = torch.randn(2, 19, 3, 3, 64).to(torch.bfloat16)  # one QKV projection output
    q, k, v = (fused[:, :, i].transpose(1, 2) for i in range(3))  # [B, H, S, D] views
    mask = torch.zeros(2, 1, 1, 19, dtype=torch.bfloat16)
    mask[1, ..., 11:] = -10000.0
    want = reference(q, k, v, additive=mask)
    assert_bf16_close(ops.attention(q, k, v, attn_mask=mask), _torch_bf16(q, k, v, mask), want)
    big = to_bf16(*qkv(2, 12, 128, 128, 64))
    torch.set_num_threads(1)
    one = ops.attention(*big, causal=True)
    torch.set_num_threads(threads)
    assert torch.equal(ops.attention(*big, causal=True), one)


def test_bfloat16_nan_and_inf_propagate_like_float64(bf16_isa):
    q, k, v = to_bf16(*qkv(1, 2, 20, 24, 16))
    q[0, 0, 2, 3] = float("nan")
    v[0, 1, 4, 0] = float("inf")
    got = ops.attention(q, k, v)
    want = F.scaled_dot_product_attention(q.double(), k.double(), v.double())
    assert torch.equal(torch.isnan(got), torch.isnan(want)) and torch.isnan(got[0, 0, 2]).all()
    assert torch.equal(torch.isinf(got), torch.isinf(want))


def test_bfloat16_mixed_dtypes_are_rejected():
    q, k, v = to_bf16(*qkv(2, 3, 4, 5, 8))
    with pytest.raises(TypeError, match="k has dtype torch.float32 but q has torch.bfloat16"):
        ops.attention(q, k.float(), v)
    with pytest.raises(TypeError, match="attn_mask has dtype torch.float32 but q has torch.bfloat16"):
        ops.attention(q, k, v, attn_mask=torch.zeros(2, 1, 1, 5))
    if B.has_kernels():  # the C++ entry point checks it too
        with pytest.raises(ValueError, match="v: expected bfloat16, got float32"):
            B._C.attention(q, k, v.float(), torch.empty_like(q), None, None, None, 0.5, False)


def test_autograd_and_float16_use_torch_path():
    q, k, v = qkv(1, 2, 5, 7, 8)
    lengths = torch.tensor([4])
    qg = q.clone().requires_grad_()
    got = ops.attention(qg, k, v, kv_lengths=lengths, causal=True)
    torch.testing.assert_close(got.detach(), reference(q, k, v, kv_lengths=lengths, causal=True),
                               rtol=1e-5, atol=2e-5)
    got.sum().backward()
    assert qg.grad is not None and torch.isfinite(qg.grad).all()
    t = torch.randn(9, 2, 8, dtype=torch.float16)
    with pytest.warns(RuntimeWarning, match="float32 or bfloat16, got torch.float16"):
        out = ops.attention(t, t, t, cu_seqlens=torch.tensor([0, 4, 9]))
    torch.testing.assert_close(out[4:], F.scaled_dot_product_attention(*[t[4:].transpose(0, 1)] * 3).transpose(0, 1))


def test_torch_compile_traces_attention_as_one_op():
    if not hasattr(torch.library, "custom_op"):
        pytest.skip("torch.library.custom_op needs torch >= 2.4")
    from torch._dynamo.testing import CompileCounterWithBackend

    counter = CompileCounterWithBackend("eager")
    fn = torch.compile(lambda q, k, v, m: ops.attention(q, k, v, attn_mask=m) + 1, backend=counter, fullgraph=True)
    q, k, v = qkv(2, 2, 5, 5, 8)
    m = torch.zeros(2, 1, 1, 5)
    torch.testing.assert_close(fn(q, k, v, m), reference(q, k, v, additive=m) + 1, rtol=1e-5, atol=2e-5)
    names = [str(n.target) for g in counter.graphs for n in g.graph.nodes]
    assert any("transformers_fast.attention" in n for n in names), names


def test_empty_dims_and_overlapping_out():
    # zero queries, heads or batch: torch's strides for those empty tensors are not the contiguous ones
    for q_shape in [(2, 2, 0, 4), (2, 0, 3, 4), (0, 2, 3, 4)]:
        k = torch.randn(q_shape[0], q_shape[1], 5, 4)
        assert ops.attention(torch.empty(q_shape), k, k).shape == q_shape
    if not B.has_kernels():
        return
    q, k, v = (torch.randn(1, 2, 8, 16) for _ in range(3))
    for name, t in (("q", q), ("k", k), ("v", v)):  # the kernel writes out while other rows still read these
        with pytest.raises(ValueError, match=f"out and {name}: overlap in memory"):
            B._C.attention(q, k, v, t, None, None, None, 1.0, False)
    k8, v8 = (torch.randint(-127, 128, (1, 2, 8, 16), dtype=torch.int8) for _ in range(2))
    buf = torch.rand(256)
    with pytest.raises(ValueError, match="out and k_scale: overlap in memory"):
        B._C.attention_int8_kv(q, k8, buf[:16].view(1, 2, 8), v8, torch.rand(1, 2, 8), buf.view(1, 2, 8, 16), None,
                               None, 1.0, False)


def test_quantize_kv_rejects_written_tensors_that_overlap():
    from transformers_fast.ops.attention import quantize_kv

    k8 = torch.zeros(1, 1, 2, 4, dtype=torch.int8)
    with pytest.raises(ValueError, match="need k_scale, .* got torch.int64 \\[1, 1, 2\\]"):  # names the dtype
        ops.attention(torch.randn(1, 1, 2, 4), k8, k8, k_scale=torch.ones(1, 1, 2, dtype=torch.int64),
                      v_scale=torch.rand(1, 1, 2))
    x = torch.randn(2, 3, 8)
    with pytest.raises(ValueError, match="out is written, so it must not be an expanded view"):
        quantize_kv(x, torch.empty(1, 1, 8, dtype=torch.int8).expand(2, 3, 8))
    with pytest.raises(ValueError, match="scale is written, so it must not be an expanded view"):
        quantize_kv(x, None, torch.empty(1, 1).expand(2, 3))
    with pytest.raises(TypeError, match="out must be a torch.Tensor or None"):
        quantize_kv(x, [1])
    if not B.has_kernels():
        return
    q = torch.empty(2, 3, 8, dtype=torch.int8)
    with pytest.raises(ValueError, match="q: elements overlap in memory"):  # overlapping rows, no zero stride
        B._C.quantize_kv(x, torch.empty(32, dtype=torch.int8).as_strided((2, 3, 8), (8, 4, 1)), torch.empty(2, 3))
    with pytest.raises(ValueError, match="scale and x: overlap in memory"):
        B._C.quantize_kv(x, q, x[..., 0])
