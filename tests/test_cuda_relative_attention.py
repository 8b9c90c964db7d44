"""The relative_attention CUDA kernel (csrc/kernels/relative_attention_cuda.cu) against the references' einsum +
rel_shift sequence, the same reference the CPU kernel's tests use: through the emulation (_cuda_emu) and, where a
GPU exists, on it. Shapes stay small (every CUDA thread is a fiber in the emulation): qlen 1..20, memory 0..20,
odd head dims, both shifts (including XLNet's rlen = klen + 1, where the gather wraps into the next row), masks,
the segment term, strided inputs; float32 within 1e-5 of a float64 reference, float16/bfloat16 within 2x torch's
own error in that dtype (test_cuda_kernels.check)."""
import importlib
import random

import pytest
import torch

from test_cuda_kernels import BACKENDS, DTYPES, Recorder, check, run
from test_ops_relative_attention import _inputs
from transformers_fast import _cuda_emu
from transformers_fast.ops import _backend as B

RA = importlib.import_module("transformers_fast.ops.relative_attention")


def _cases(n=20, seed=15):
    rnd = random.Random(seed)
    cases = [  # the edges first: one query, no memory, a full tile of keys and more, head dims per NC variant
        dict(qlen=1, mlen=0, bsz=1, heads=1, dim=1, shift="transfo_xl", mask="none"),
        dict(qlen=1, mlen=20, bsz=2, heads=2, dim=7, shift="xlnet", mask="random", segment=True),
        dict(qlen=20, mlen=20, bsz=1, heads=2, dim=33, shift="transfo_xl", mask="causal", strided=True),
        dict(qlen=17, mlen=0, bsz=2, heads=1, dim=64, shift="xlnet", mask="full_rows", rlen=18),
        dict(qlen=9, mlen=30, bsz=1, heads=1, dim=130, shift="xlnet", mask="random", segment=True),
    ]
    for i in range(n - len(cases)):
        shift = ("xlnet", "transfo_xl")[i % 2]
        qlen, mlen = rnd.randint(1, 20), rnd.choice([0, 1, rnd.randint(2, 20)])
        bsz = rnd.choice([1, 2])
        case = dict(qlen=qlen, mlen=mlen, bsz=bsz, heads=rnd.choice([1, 2, 3]), dim=rnd.choice([5, 9, 16, 33]),
                    shift=shift, r_batch=rnd.choice([1, bsz]), mask=rnd.choice(["none", "random", "causal", "full_rows"]),
                    segment=shift == "xlnet" and rnd.random() < 0.5, strided=rnd.random() < 0.3, seed=i)
        if shift == "xlnet":  # bidirectional (klen + qlen), unidirectional (klen + 1: the gather wraps), other
            case["rlen"] = qlen + mlen + rnd.choice([qlen, 1, rnd.randint(1, 2 * qlen + 3)])
        cases.append(case)
    return cases


def _name(c):
    return "{shift}-q{qlen}-m{mlen}-b{bsz}-h{heads}-d{dim}-{mask}".format(**c) + ("-seg" if c.get("segment") else "")


def _case_tensors(case, dtype):
    args, kw = _inputs(**case)
    args = tuple(t.to(dtype) for t in args)
    seg = {name: kw[name].to(dtype) for name in ("seg_embed", "r_s_bias") if kw.get(name) is not None}
    return args, dict(kw, **seg)


def _reference(args, kw, dtype=None, monkeypatch=None):
    """RA._reference on args (converted to dtype); float16 masks with -65000 as the references do in half."""
    if dtype is not None:
        args = tuple(t.to(dtype) for t in args)
        kw = dict(kw, **{n: kw[n].to(dtype) for n in ("seg_embed", "r_s_bias") if kw.get(n) is not None})
    if dtype == torch.float16:  # (until the end of the test)
        monkeypatch.setattr(RA, "MASKED_SCORE", -65000.0)
    return RA._reference(*args, kw["shift"], args[0].shape[-1] ** -0.5, kw["attn_mask"], kw.get("seg_diff"),
                         kw.get("seg_embed"), kw.get("r_s_bias"))


def _kernel(mod, *args, stream=None, **kw):
    return RA.cuda_kernel(mod, *args, kw["shift"], args[0].shape[-1] ** -0.5, kw["attn_mask"], kw.get("seg_diff"),
                          kw.get("seg_embed"), kw.get("r_s_bias"), stream=stream)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("case", _cases(), ids=_name)
def test_relative_attention(backend, dtype, case, monkeypatch):
    args, kw = _case_tensors(case, dtype)
    if kw["attn_mask"] is not None:
        kw["attn_mask"] = kw["attn_mask"] != 0
    got = run(backend, _kernel, *args, **kw)
    assert got.shape == args[0].shape
    want = _reference(args, kw, torch.float64)
    theirs = None if dtype == torch.float32 else _reference(args, kw, dtype, monkeypatch)
    check(got, want, theirs, dtype, rtol=1e-5, atol=1e-5)


def test_ops_relative_attention_sends_cuda_tensors_to_the_kernel():
    """ops.relative_attention's CUDA branch (through the emulation, which stands host tensors in for CUDA ones):
    the kernel runs, once, and gives the reference's result; beyond the kernel's head_dim limit the reference runs."""
    args, kw = _inputs(6, 4, 2, 2, 8, "xlnet", mask="random", segment=True)
    recorder = Recorder(_cuda_emu)
    with B.emulate_cuda(recorder):
        got = RA.relative_attention(*args, **kw)
    assert recorder.calls["relative_attention"] == 1
    torch.testing.assert_close(got, _reference(args, dict(kw, attn_mask=kw["attn_mask"])), rtol=1e-5, atol=1e-5)
    wide, wkw = _inputs(3, 0, 1, 1, 260, "transfo_xl")
    with B.emulate_cuda(recorder):
        got = RA.relative_attention(*wide, **wkw)
    assert recorder.calls["relative_attention"] == 1
    torch.testing.assert_close(got, _reference(wide, wkw), rtol=1e-5, atol=1e-5)


def test_errors_name_the_kernel():
    args, kw = _inputs(5, 2, 1, 2, 8, "transfo_xl")
    q, k, v, r, rw, rr = args
    out = torch.empty_like(q)
    with pytest.raises(ValueError, match="relative_attention_cuda: r: Transformer-XL's shift needs rlen == klen"):
        _cuda_emu.relative_attention(q, k, v, r[:-1], rw, rr, out, None, None, None, None, 1.0, 1, 0)
    with pytest.raises(ValueError, match="relative_attention_cuda: k: expected float16"):
        _cuda_emu.relative_attention(q.half(), k, v, r, rw, rr, out, None, None, None, None, 1.0, 1, 0)
    with pytest.raises(ValueError, match="relative_attention_cuda: q: expected float32, float16 or bfloat16"):
        _cuda_emu.relative_attention(q.double(), k, v, r, rw, rr, out, None, None, None, None, 1.0, 1, 0)
    wide = torch.randn(2, 1, 1, 300)
    with pytest.raises(ValueError, match=r"relative_attention_cuda: q: head_dim must be in \[1, 256\]"):
        _cuda_emu.relative_attention(wide, wide, wide, wide, wide[0, 0], wide[0, 0], torch.empty_like(wide),
                                     None, None, None, None, 1.0, 1, 0)
    with pytest.raises(ValueError, match="relative_attention_cuda: seg_diff, seg_embed and r_s_bias go together"):
        _cuda_emu.relative_attention(q, k, v, r, rw, rr, out, None, None, torch.randn(2, 2, 8), None, 1.0, 1, 0)
