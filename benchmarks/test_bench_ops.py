"""Each op against its torch equivalent at BERT-base shapes, in the same run (summary tables at 1 thread and every
core); float32, and bfloat16 against torch's own bfloat16 ops (groups named "... bf16")."""
import importlib
import math

import pytest
import torch
import torch.nn.functional as F

from transformers_fast import ops
from transformers_fast.ops import packed_linear

TOKENS = {"1x128": 128, "8x128": 1024}
HIDDEN, FFN = 768, 3072
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def randn(*shape, dtype="fp32"):
    return torch.randn(*shape).to(DTYPES[dtype])


def group(name, dtype):
    """fp32 groups keep their names (the gate's baseline); bf16 ones say so."""
    return name if dtype == "fp32" else f"{name} bf16"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("tokens", TOKENS, ids=str)
@pytest.mark.parametrize("impl", ["ours", "torch"])
def test_bias_gelu(record, impl, tokens, dtype):
    x, b = randn(TOKENS[tokens], FFN, dtype=dtype), randn(FFN, dtype=dtype)
    fn = (lambda: ops.bias_gelu(x, b)) if impl == "ours" else (lambda: F.gelu(x + b))
    record(group(f"bias_gelu {tokens}x{FFN}", dtype), impl, fn)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("tokens", TOKENS, ids=str)
@pytest.mark.parametrize("impl", ["ours", "torch"])
def test_gelu(record, impl, tokens, dtype):
    x = randn(TOKENS[tokens], FFN, dtype=dtype)
    fn = (lambda: ops.gelu(x)) if impl == "ours" else (lambda: F.gelu(x))
    record(group(f"gelu {tokens}x{FFN}", dtype), impl, fn)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("tokens", TOKENS, ids=str)
@pytest.mark.parametrize("impl", ["ours", "torch"])
def test_add_layer_norm(record, impl, tokens, dtype):
    n = TOKENS[tokens]
    x, res, xb = randn(n, HIDDEN, dtype=dtype), randn(n, HIDDEN, dtype=dtype), randn(HIDDEN, dtype=dtype)
    w, b = randn(HIDDEN, dtype=dtype), randn(HIDDEN, dtype=dtype)
    if impl == "ours":
        fn = lambda: ops.add_layer_norm(x, res, w, b, 1e-12, x_bias=xb)  # noqa: E731
    else:
        fn = lambda: F.layer_norm(x + xb + res, (HIDDEN,), w, b, 1e-12)  # noqa: E731
    record(group(f"add_layer_norm(+bias) {tokens}x{HIDDEN}", dtype), impl, fn)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("tokens", TOKENS, ids=str)
@pytest.mark.parametrize("impl", ["ours", "torch"])
def test_layer_norm(record, impl, tokens, dtype):
    x, w, b = randn(TOKENS[tokens], HIDDEN, dtype=dtype), randn(HIDDEN, dtype=dtype), randn(HIDDEN, dtype=dtype)
    fn = (lambda: ops.layer_norm(x, w, b)) if impl == "ours" else (lambda: F.layer_norm(x, (HIDDEN,), w, b))
    record(group(f"layer_norm {tokens}x{HIDDEN}", dtype), impl, fn)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.parametrize("impl", ["ours", "torch"])
def test_masked_softmax(record, impl, batch, dtype):
    s, m = randn(batch, 12, 128, 128, dtype=dtype), torch.zeros(batch, 1, 1, 128, dtype=DTYPES[dtype])
    fn = (lambda: ops.masked_softmax(s, m, 0.125)) if impl == "ours" else (lambda: torch.softmax(s * 0.125 + m, -1))
    record(group(f"masked_softmax {batch}x12x128x128", dtype), impl, fn)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.parametrize("impl", ["ours", "ours_packed_qkv", "sdpa", "torch_math"])
def test_attention(record, impl, batch, dtype):
    h, s, d = 12, 128, 64
    q, k, v = (randn(batch, h, s, d, dtype=dtype) for _ in range(3))
    # Padding-free layout as the encoders use it: views of one fused QKV projection [tokens, 3*H*D].
    fused = randn(batch * s, 3 * h * d, dtype=dtype)
    pq, pk, pv = (fused[:, i * h * d:(i + 1) * h * d].view(batch * s, h, d) for i in range(3))
    cu = torch.arange(0, batch * s + 1, s, dtype=torch.int32)
    mask = torch.zeros(batch, 1, 1, s, dtype=DTYPES[dtype])
    mask[-1, ..., s // 2:] = -10000.0  # one padded sequence, as a BERT batch
    if impl == "ours":
        fn = lambda: ops.attention(q, k, v, attn_mask=mask)  # noqa: E731
    elif impl == "ours_packed_qkv":
        fn = lambda: ops.attention(pq, pk, pv, cu_seqlens=cu)  # noqa: E731
    elif impl == "sdpa":
        fn = lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # noqa: E731
    else:  # what pytorch-transformers 1.2.0 runs
        fn = lambda: torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d) + mask, -1) @ v  # noqa: E731
    record(group(f"attention {batch}x{h}x{s}x{d}", dtype), impl, fn, flops=4 * batch * h * s * s * d)


LINEAR_SHAPES = [(HIDDEN, HIDDEN), (HIDDEN, FFN), (FFN, HIDDEN)]


@pytest.mark.parametrize("rows", [8, 128, 1024])
@pytest.mark.parametrize("shape", LINEAR_SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("impl", ["ours", "mkl", "onednn"])
def test_packed_linear(record, impl, shape, rows):
    n_in, n_out = shape
    act = "gelu" if n_out == FFN else None  # BERT's intermediate layer fuses GELU
    x = torch.randn(rows, n_in)
    w, b = torch.randn(n_out, n_in) / math.sqrt(n_in), torch.randn(n_out)
    gelu = (lambda y: F.gelu(y)) if act else (lambda y: y)
    if impl == "ours":
        layer = ops.PackedLinear(w, b, act).requires_grad_(False)
        fn = lambda: layer(x)  # noqa: E731
    elif impl == "mkl":
        fn = lambda: gelu(F.linear(x, w, b))  # noqa: E731
    else:
        if not packed_linear.onednn_available():
            pytest.skip("no oneDNN linear ops")
        w2 = torch.ops.mkldnn._reorder_linear_weight(w)
        attr, alg = ("gelu", "none") if act else ("none", "")
        fn = lambda: torch.ops.mkldnn._linear_pointwise(x, w2, b, attr, [], alg)  # noqa: E731
    record(f"linear{'+gelu' if act else ''} {rows}x{n_in}x{n_out}", impl, fn, flops=2 * rows * n_in * n_out)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shift", ["xlnet", "transfo_xl"])
@pytest.mark.parametrize("impl", ["ours", "torch"])
def test_relative_attention(record, impl, shift, dtype):
    ra = importlib.import_module("transformers_fast.ops.relative_attention")  # ops re-exports the function

    bsz, h, d, qlen, mlen = 1, 12, 64, 128, 0 if shift == "xlnet" else 128
    klen = qlen + mlen
    rlen = klen + qlen if shift == "xlnet" else klen
    q, k, v = (randn(n, bsz, h, d, dtype=dtype) for n in (qlen, klen, klen))
    r, w, rr = randn(rlen, 1, h, d, dtype=dtype), randn(h, d, dtype=dtype), randn(h, d, dtype=dtype)
    mask = None if shift == "xlnet" else torch.ones(qlen, klen).triu(1 + mlen).bool()[:, :, None]
    args = (q, k, v, r, w, rr)
    if impl == "ours":
        fn = lambda: ra.relative_attention(*args, shift=shift, scale=d ** -0.5, attn_mask=mask)  # noqa: E731
    else:  # the references' einsum + rel_shift sequence
        fn = lambda: ra._reference(*args, shift, d ** -0.5, mask, None, None, None)  # noqa: E731
    record(group(f"relative_attention {shift} {bsz}x{h}x{qlen}+{mlen}x{d}", dtype), impl, fn,
           flops=6 * bsz * h * qlen * klen * d)
