"""The CUDA kernels (csrc/kernels/<op>_cuda.cu) against the torch references, without a GPU: through
transformers_fast._cuda_emu, the same sources compiled as C++ with csrc/common/cuda_emu.h (CPU fibers for the
CUDA threads, host tensors for device memory); and on a real GPU through transformers_fast._cuda when
torch.cuda.is_available(). Shapes stay small: the emulator runs every CUDA thread as a fiber.

Accuracy: float32 within 1e-5 of a float64 reference; float16/bfloat16 error against the float64 reference at
most 2x torch's own error in that dtype (with a floor of one unit in the last place of the largest value).
"""
import importlib
import math
import os
import shutil
import subprocess
from pathlib import Path
from unittest import mock

import pytest
import torch
import torch.nn.functional as F

from test_ops_activation import reference_gelu
from test_ops_attention import reference as attention_reference
from test_ops_layer_norm import reference as layer_norm_reference
from test_ops_softmax import make_case as softmax_case
from test_ops_softmax import reference as softmax_reference
from transformers_fast import _cuda_emu, ops
from transformers_fast.ops import _backend as B

# The op modules (transformers_fast.ops exports functions of the same names).
activation, attention, layer_norm, softmax = (importlib.import_module(f"transformers_fast.ops.{name}")
                                              for name in ("activation", "attention", "layer_norm", "softmax"))

_cuda_emu.register_tensor_dtypes(B._DTYPE_CODES)
ROOT = Path(__file__).resolve().parent.parent


def _gpu_module():
    if not torch.cuda.is_available():
        return None
    mod = B.cuda_extension()
    return mod if mod is not None and hasattr(mod, "gelu") else None


BACKENDS = ["emu", pytest.param("gpu", marks=pytest.mark.skipif(_gpu_module() is None,
                                                                 reason="no CUDA GPU (or _cuda not built)"))]
DTYPES = [torch.float32, torch.float16, torch.bfloat16]
NEG_INF = -float("inf")


class Recorder:
    """A CUDA kernel module that counts the calls of each kernel."""

    def __init__(self, module):
        self.module, self.calls = module, {}

    def __getattr__(self, name):
        fn = getattr(self.module, name)
        if not callable(fn) or name == "register_tensor_dtypes":
            return fn

        def record(*args):
            self.calls[name] = self.calls.get(name, 0) + 1
            return fn(*args)
        return record


def run(backend, fn, *args, **kwargs):
    """fn(mod, *args) with tensors in host memory (emulator) or on the GPU; the result back on the host."""
    if backend == "emu":
        return fn(_cuda_emu, *args, stream=0, **kwargs)
    moved = [a.cuda() if isinstance(a, torch.Tensor) else a for a in args]
    out = fn(_gpu_module(), *moved, **kwargs)
    torch.cuda.synchronize()
    return out.cpu()


def check(got, want, torch_lowp=None, dtype=torch.float32, rtol=1e-5, atol=1e-5):
    """got (dtype) vs want (float64 reference); torch_lowp: torch's own result in dtype (low precision)."""
    assert got.dtype == dtype
    if dtype == torch.float32:
        torch.testing.assert_close(got, want.float(), rtol=rtol, atol=atol, equal_nan=True)
        return
    want = want.double()
    nan = torch.isnan(want)
    assert torch.equal(torch.isnan(got), nan), "NaN positions differ"
    ok = ~nan & torch.isfinite(want)
    if not ok.any():
        return
    ours = (got.double() - want)[ok].abs().max().item()
    theirs = (torch_lowp.double() - want)[ok].abs().max().item()
    floor = torch.finfo(dtype).eps * max(1.0, want[ok].abs().max().item())
    assert ours <= 2 * max(theirs, floor), f"{dtype}: error {ours:.3g} vs torch's {theirs:.3g}"


def lowp(t, dtype):
    """t rounded to dtype, and that value in float64 (the reference's input)."""
    t = t.to(dtype)
    return t, t.double()


# ---- gelu / bias_gelu ----
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("shape", [(1,), (7,), (3, 83), (2, 3, 769)], ids=str)
@pytest.mark.parametrize("with_bias", [False, True])
def test_gelu(backend, dtype, approximate, shape, with_bias):
    x, x64 = lowp(torch.randn(shape) * 3, dtype)
    bias, b64 = lowp(torch.randn(shape[-1]), dtype) if with_bias else (None, None)
    got = run(backend, activation.cuda_kernel, x, bias, approximate)
    v64 = x64 if bias is None else x64 + b64
    want = reference_gelu(v64, approximate)
    theirs = F.gelu(x if bias is None else x + bias, approximate=approximate)
    check(got, want, theirs, dtype)


def test_gelu_strided_input_and_special_values():
    x = torch.randn(5, 40)[:, ::2]
    x[0, :4] = torch.tensor([float("nan"), float("inf"), NEG_INF, 0.0])
    got = activation.cuda_kernel(_cuda_emu, x, None, "none", stream=0)
    check(got, reference_gelu(x.double(), "none"), dtype=torch.float32)


# ---- add_layer_norm ----
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("rows,cols", [(1, 1), (3, 7), (5, 83), (2, 769), (1, 8300)])
@pytest.mark.parametrize("variant", ["plain", "residual+x_bias+affine"])
def test_add_layer_norm(backend, dtype, rows, cols, variant):
    x, x64 = lowp(torch.randn(rows, cols) * 2 + 3, dtype)
    residual = x_bias = weight = bias = None
    r64 = xb64 = w64 = bb64 = None
    if variant != "plain":
        residual, r64 = lowp(torch.randn(rows, cols), dtype)
        x_bias, xb64 = lowp(torch.randn(cols), dtype)
        weight, w64 = lowp(torch.randn(cols), dtype)
        bias, bb64 = lowp(torch.randn(cols), dtype)
    got = run(backend, layer_norm.cuda_kernel, x, residual, weight, bias, 1e-5, x_bias)
    want = layer_norm_reference(x64, r64, w64, bb64, 1e-5, xb64).double()
    theirs = layer_norm._reference(x, residual, weight, bias, 1e-5, x_bias)
    check(got, want, theirs, dtype, rtol=1e-5, atol=2e-5)


def test_layer_norm_rows_far_from_the_mean():
    x = torch.randn(4, 769) * 0.01 + 1000.0
    got = layer_norm.cuda_kernel(_cuda_emu, x, None, None, None, 1e-5, None, stream=0)
    check(got, layer_norm_reference(x, None, None, None, 1e-5, None).double(), atol=5e-4, rtol=1e-4)


# ---- masked_softmax ----
SOFTMAX_VARIANTS = ["none", "bert_padding", "additive_full", "lengths", "causal", "lengths+causal"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("variant", SOFTMAX_VARIANTS)
@pytest.mark.parametrize("cols", [1, 7, 83, 769])
def test_masked_softmax(backend, dtype, variant, cols):
    scores, additive, lengths, causal = softmax_case(variant, cols)
    scores, s64 = lowp(scores, dtype)
    a64 = None
    if additive is not None:
        additive, a64 = lowp(additive, dtype)
    got = run(backend, softmax.cuda_kernel, scores, additive, lengths, 0.5, causal)
    want = softmax_reference(s64, a64, lengths, 0.5, causal).double()
    theirs = softmax._reference(scores, additive, lengths, 0.5, causal)
    check(got, want, theirs, dtype)


def test_masked_softmax_long_rows_nan_and_all_minus_inf():
    scores = torch.randn(2, 3, 8300)
    scores[0, 1, 5] = float("nan")
    mask = torch.zeros(2, 3, 8300)
    mask[1, 2, :] = NEG_INF  # a row of -inf only: NaN, as torch.softmax
    got = softmax.cuda_kernel(_cuda_emu, scores, mask, None, 1.0, False, stream=0)
    want = torch.softmax(scores.double() + mask.double(), -1)
    check(got, want)


# ---- logsumexp_update ----
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_logsumexp_update(backend, dtype):
    rows, device = 4, "cuda" if backend == "gpu" else "cpu"
    chunks = [(torch.randn(rows, cols) * 6).to(dtype) for cols in (1, 37, 1500)]
    chunks[1][0] = NEG_INF  # a chunk row of -inf only adds nothing
    chunks[2][3, 700] = float("nan")
    keeps = [1, 30, 0]
    recorder = Recorder(_cuda_emu if backend == "emu" else _gpu_module())
    with B.emulate_cuda(recorder) if backend == "emu" else mock.patch.object(B, "cuda_extension", lambda: recorder):
        running_max = torch.full((rows,), NEG_INF, device=device)
        running_sum = torch.zeros(rows, device=device)
        copies = []
        for chunk, keep in zip(chunks, keeps):
            out = torch.full((rows, keep + 2), 7.0, dtype=dtype, device=device)[:, 1:keep + 1]
            softmax.logsumexp_update_(chunk.to(device), running_max, running_sum, None if keep == 0 else out)
            copies.append(out.cpu())
    assert recorder.calls == {"logsumexp_update": 3}
    got = (running_max + running_sum.log()).cpu()
    want = torch.cat(chunks, 1).double().logsumexp(1)
    torch.testing.assert_close(got.double(), want, rtol=1e-5, atol=1e-5, equal_nan=True)
    assert torch.isnan(got[3]) and not torch.isnan(got[:3]).any()
    for chunk, keep, out in zip(chunks, keeps, copies):
        assert torch.equal(out, chunk[:, :keep])


# ---- attention ----
ATTN_SHAPES = [(1, 1, 1, 1, 1), (3, 2, 7, 7, 7), (2, 3, 5, 83, 64), (1, 2, 17, 40, 128), (1, 1, 9, 9, 200),
               (2, 1, 3, 37, 33), (2, 2, 1, 300, 64), (1, 2, 1, 70, 160)]
ATTN_VARIANTS = ["none", "bert_padding", "full_mask", "kv_lengths", "causal", "kv_lengths+causal"]


def attention_case(shape, variant, dtype):
    b, h, sq, sk, d = shape
    q, k, v = torch.randn(b, h, sq, d), torch.randn(b, h, sk, d), torch.randn(b, h, sk, d)
    mask, lengths = None, None
    if variant == "bert_padding":
        keep = torch.ones(b, sk)
        keep[-1, max(sk // 2, 1):] = 0
        mask = ((1.0 - keep) * -10000.0).view(b, 1, 1, sk)
    elif variant == "full_mask":
        mask = torch.randn(b, h, sq, sk)
        mask[0, 0, sq // 2, :] = NEG_INF  # an all-masked row: zeros, as SDPA
    if "kv_lengths" in variant:
        lengths = torch.tensor([sk, max(sk - 2, 0), 0][:b])
    q, k, v = (t.to(dtype) for t in (q, k, v))
    if mask is not None:
        mask = mask.to(dtype)
    return q, k, v, mask, lengths, "causal" in variant


def sdpa_lowp(q, k, v, mask, lengths, causal):
    """torch's own attention in the low dtype (its error is the yardstick)."""
    try:
        return attention._padded_reference(q, k, v, mask, lengths, 1 / math.sqrt(q.shape[-1]), causal)
    except RuntimeError:  # no CPU SDPA for this dtype: the plain math in that dtype
        s = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
        return torch.softmax(s.float(), -1).to(q.dtype) @ v


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("variant", ATTN_VARIANTS)
@pytest.mark.parametrize("shape", ATTN_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_attention_padded(backend, dtype, variant, shape):
    q, k, v, mask, lengths, causal = attention_case(shape, variant, dtype)
    scale = 1 / math.sqrt(q.shape[-1])
    got = run(backend, attention.cuda_kernel, q, k, v, mask, lengths, None, scale, causal)
    want = attention_reference(q.double(), k.double(), v.double(), additive=None if mask is None else mask.double(),
                               kv_lengths=lengths, causal=causal).double()
    theirs = None if dtype == torch.float32 else sdpa_lowp(q, k, v, mask, lengths, causal)
    check(got, want, theirs, dtype, rtol=1e-5, atol=2e-5)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("lengths", [[5], [1, 9, 0, 40, 3]])
def test_attention_packed_from_fused_qkv(backend, dtype, causal, lengths):
    h, d = 3, 64
    total, extra = sum(lengths), 2
    fused = torch.randn(total + extra, 3 * h * d).to(dtype)  # one QKV projection: strided views, not copied
    q, k, v = (fused[:, i * h * d:(i + 1) * h * d].view(total + extra, h, d) for i in range(3))
    cu = torch.tensor([0] + lengths).cumsum(0)
    got = run(backend, attention.cuda_kernel, q, k, v, None, None, cu, 1 / math.sqrt(d), causal)
    assert got.shape == (total + extra, h, d)
    for start, n in zip(cu.tolist(), lengths):
        if n:
            seq = [t[start:start + n].transpose(0, 1).unsqueeze(0) for t in (q, k, v)]
            want = attention_reference(*[t.double() for t in seq], causal=causal)[0].transpose(0, 1).double()
            theirs = None if dtype == torch.float32 else sdpa_lowp(*seq, None, None, causal)[0].transpose(0, 1)
            check(got[start:start + n], want, theirs, dtype, rtol=1e-5, atol=2e-5)
    assert torch.equal(got[total:], torch.zeros(extra, h, d, dtype=dtype))


@pytest.mark.parametrize("backend", BACKENDS)
def test_attention_decode_over_preallocated_cache(backend):
    b, h, cap, d = 3, 2, 48, 64
    k, v = torch.randn(b, h, cap, d), torch.randn(b, h, cap, d)
    k[:, :, 40:] = float("nan")  # past every length: never read
    v[:, :, 40:] = float("nan")
    lengths = torch.tensor([40, 1, 17])
    q = torch.randn(b, h, 1, d)
    got = run(backend, attention.cuda_kernel, q, k, v, None, lengths, None, 0.125, True)
    for bi, n in enumerate(lengths.tolist()):
        want = attention_reference(q[bi:bi + 1], k[bi:bi + 1, :, :n], v[bi:bi + 1, :, :n], scale=0.125, causal=True)
        check(got[bi:bi + 1], want.double(), rtol=1e-5, atol=2e-5)


def test_attention_strided_views_and_nan_rows():
    b, s, h, d = 2, 19, 3, 32
    fused = torch.randn(b, s, 3, h, d)
    q, k, v = (fused[:, :, i].transpose(1, 2) for i in range(3))  # [B, H, S, D] views
    q[0, 1, 4, 3] = float("nan")
    got = attention.cuda_kernel(_cuda_emu, q, k, v, None, None, None, 1 / math.sqrt(d), False, stream=0)
    want = F.scaled_dot_product_attention(q.double(), k.double(), v.double())
    check(got, want, rtol=1e-5, atol=2e-5)
    assert torch.isnan(got[0, 1, 4]).all()


def test_cuda_attention_policy():
    """Where ops.attention runs torch's attention on a real GPU instead of ours (ops/attention.py)."""
    policy = attention.torch_attention_on_cuda
    q = torch.zeros(2, 4, 16, 64, dtype=torch.float16)
    assert policy(q, q, None, None, True, "auto", (8, 0))  # 16-bit prefill on sm_80+: torch's tensor cores
    assert policy(q.bfloat16(), q.bfloat16(), None, None, False, "auto", (9, 0))
    assert not policy(q, q, None, None, False, "auto", (7, 5))  # no flash attention before sm_80
    assert not policy(q[:, :, :1], q, None, None, True, "auto", (9, 0))  # decode: ours
    assert not policy(q.float(), q.float(), None, None, False, "auto", (9, 0))  # float32: ours
    assert not policy(q, q, None, None, False, "ours", (9, 0))
    assert policy(q.float(), q.float(), None, None, False, "torch", (9, 0))
    # what only ours does, whatever the choice: key lengths, and causal with fewer queries than keys
    assert not policy(q, q, torch.tensor([3, 16]), None, False, "torch", (9, 0))
    assert not policy(q[:, :, :5], q, None, None, True, "torch", (9, 0))
    packed, cu = torch.zeros(40, 4, 64, dtype=torch.float16), torch.tensor([0, 15, 40])
    has_varlen = attention._varlen_attn_out() is not None
    assert policy(packed, packed, None, cu, True, "auto", (9, 0)) == has_varlen
    assert not policy(packed[..., :60], packed[..., :60], None, cu, True, "torch", (9, 0))  # head_dim % 8
    assert not policy(packed.float(), packed.float(), None, cu, False, "torch", (9, 0))  # flash: 16-bit only


@pytest.mark.parametrize("variant", ["causal", "bert_padding", "full_mask", "none"])
def test_torch_route_keeps_the_semantics_of_ours(variant):
    """The padded layout's torch route (SDPA) gives what our kernel gives, masks and causal limits included."""
    q, k, v, mask, _, causal = attention_case((2, 3, 9, 9, 16), variant, torch.float32)
    got = attention._torch_cuda(q, k, v, mask, None, 0.25, causal, None)
    want = attention_reference(q.double(), k.double(), v.double(), additive=None if mask is None else mask.double(),
                               scale=0.25, causal=causal)
    check(got, want.double(), rtol=1e-5, atol=2e-5)
    assert got.is_contiguous()


def test_ops_attention_takes_the_torch_route_and_falls_back_to_ours(monkeypatch):
    """ops.attention on (simulated) GPU tensors: torch's route where the policy says so, without our kernel; ours,
    from then on, with a warning, when torch's kernel refuses the call."""
    recorder = Recorder(_cuda_emu)
    q, k, v, mask, _, causal = attention_case((2, 2, 7, 7, 16), "causal", torch.float16)
    want = attention_reference(q.double(), k.double(), v.double(), causal=True).double()
    monkeypatch.setattr(B, "real_cuda", lambda t: True)  # host tensors play a GPU's
    monkeypatch.setattr(attention, "cuda_attention", "torch")
    with B.emulate_cuda(recorder):
        check(ops.attention(q, k, v, causal=True), want, sdpa_lowp(q, k, v, None, None, True), torch.float16)
        assert "attention" not in recorder.calls

        def refuses(*args):
            raise RuntimeError("no flash attention for this GPU")

        monkeypatch.setattr(attention, "_torch_cuda", refuses)
        with pytest.warns(RuntimeWarning, match="torch's CUDA attention failed"):
            got = ops.attention(q, k, v, causal=True)
        assert recorder.calls["attention"] == 1 and attention.cuda_attention == "ours"
        check(got, want, sdpa_lowp(q, k, v, None, None, True), torch.float16)


# ---- errors name the kernel ----
def test_errors_name_the_kernel():
    x = torch.randn(3, 4)
    with pytest.raises(ValueError, match="bias_gelu_cuda: bias: expected shape"):
        _cuda_emu.bias_gelu(x, torch.randn(5), torch.empty_like(x), False, 0)
    with pytest.raises(ValueError, match="gelu_cuda: out: expected float32"):
        _cuda_emu.gelu(x, torch.empty(3, 4, dtype=torch.float16), False, 0)
    with pytest.raises(ValueError, match="add_layer_norm_cuda: x: expected float32, float16 or bfloat16"):
        _cuda_emu.add_layer_norm(x.double(), None, None, None, None, x.double(), 1e-5, 0)
    with pytest.raises(ValueError, match="masked_softmax_cuda: lengths: expected shape"):
        _cuda_emu.masked_softmax(torch.randn(2, 3), None, torch.tensor([1]), torch.empty(2, 3), 1.0, False, 0)
    with pytest.raises(ValueError, match=r"logsumexp_update_cuda: running_max: expected shape \[2\]"):
        _cuda_emu.logsumexp_update(torch.randn(2, 3), None, torch.zeros(3), torch.zeros(2), 0)
    with pytest.raises(ValueError, match="logsumexp_update_cuda: out and logits: overlap"):
        logits = torch.randn(2, 3)
        _cuda_emu.logsumexp_update(logits, logits[:, :1], torch.zeros(2), torch.zeros(2), 0)
    q = torch.randn(1, 1, 2, 300)
    with pytest.raises(ValueError, match=r"attention_cuda: q: head_dim must be in \[1, 256\]"):
        _cuda_emu.attention(q, q, q, torch.empty_like(q), None, None, None, -1, 1.0, False, 0)
    p = torch.randn(4, 1, 8)
    with pytest.raises(ValueError, match="attention_cuda: cu_seqlens: must start at 0"):
        _cuda_emu.attention(p, p, p, torch.empty_like(p), None, None, torch.tensor([1, 4]), -1, 1.0, False, 0)


def test_host_tensors_never_go_to_cuda():
    x = torch.randn(2, 3)
    assert B.use_cuda_kernel("gelu", x) is None
    assert B.cuda_stream(x) == 0


@pytest.mark.skipif(_gpu_module() is None, reason="no CUDA GPU (or _cuda not built)")
def test_ops_dispatch_cuda_tensors_to_the_kernels_on_the_current_stream():
    x = torch.randn(4, 96, device="cuda", dtype=torch.float16)
    bias = torch.randn(96, device="cuda", dtype=torch.float16)
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):
        got = ops.bias_gelu(x, bias)
        ln = ops.layer_norm(x, None, None)
    stream.synchronize()
    torch.testing.assert_close(got, F.gelu(x + bias), rtol=2e-3, atol=2e-3)
    torch.testing.assert_close(ln, F.layer_norm(x, (96,)), rtol=2e-3, atol=2e-3)
    q = torch.randn(2, 4, 33, 64, device="cuda", dtype=torch.float16)
    torch.testing.assert_close(ops.attention(q, q, q, causal=True), F.scaled_dot_product_attention(q, q, q, is_causal=True),
                               rtol=2e-3, atol=2e-3)


# ---- the emulator catches broken kernels ----
@pytest.mark.skipif(shutil.which(os.environ.get("CXX", "g++")) is None, reason="no C++ compiler")
def test_emulation_catches_missing_syncthreads_and_wrong_shuffle(tmp_path):
    """tests/cuda_emu/broken_kernels.cpp runs the LayerNorm, softmax and relative attention kernels as written,
    with the block reduction's (and relative attention's tile) __syncthreads removed, and with a wrong shuffle
    offset: only the first may be right; and a kernel whose barriers can never be released ends with a launch
    error instead of hanging."""
    cxx = os.environ.get("CXX", "g++")
    variants = {"ok": [], "no_sync": ["-DTF_EMU_BREAK_SYNC"], "bad_shfl": ["-DTF_EMU_BREAK_SHFL"]}
    compiles = {name: subprocess.Popen([cxx, "-std=c++17", "-O1", *flags, f"-I{ROOT / 'csrc'}",
                                        str(ROOT / "tests" / "cuda_emu" / "broken_kernels.cpp"), "-o",
                                        str(tmp_path / name)])
                for name, flags in variants.items()}  # (at once: a few seconds each)
    results = {}
    for name, compiling in compiles.items():
        assert compiling.wait(timeout=300) == 0, f"{name}: did not compile"
        words = subprocess.run([str(tmp_path / name)], capture_output=True, text=True, check=True,
                               timeout=60).stdout.split()
        results[name] = {words[i]: float(words[i + 1]) for i in range(0, len(words), 2)}
    assert results["ok"]["layer_norm"] < 1e-5 and results["ok"]["softmax"] < 1e-6, results
    assert results["ok"]["relative_attention"] < 1e-5, results
    for broken in ("no_sync", "bad_shfl"):
        for op in ("layer_norm", "softmax", "relative_attention"):
            err = results[broken][op]
            assert not err < 1e-3, f"{broken}: {op} still right ({err}): the emulation missed the bug"
    assert all(r["deadlock"] == 1 for r in results.values())
