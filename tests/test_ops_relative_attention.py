"""ops.relative_attention (Transformer-XL / XLNet): the fused C++ kernel against the references' einsum +
rel_shift sequence (_reference) over a grid of shapes, masks, segment terms and strides; that the kernel is
what runs; bad input; the generic ISA; threads."""
import importlib
import os
import random
import subprocess
import sys
import textwrap
import threading

import pytest
import torch

from bf16_helpers import assert_bf16_close
from transformers_fast.ops import _backend as B

RA = importlib.import_module("transformers_fast.ops.relative_attention")  # the package re-exports the function
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
needs_kernel = pytest.mark.skipif(not B.has_kernels() or not hasattr(B._C, "relative_attention"),
                                  reason="the C++ kernels do not run on this machine")


def _inputs(qlen, mlen, bsz, heads, dim, shift, *, r_batch=1, rlen=None, mask="none", segment=False,
            strided=False, seed=0):
    g = torch.Generator().manual_seed(seed)
    klen = qlen + mlen
    if rlen is None:
        rlen = klen + qlen if shift == "xlnet" else klen
    if strided:  # q, k, v as views of one fused projection (TXL's qkv_net output), r a view too
        heads_qkv = torch.randn(klen, bsz, 3 * heads * dim + 5, generator=g)[..., :3 * heads * dim]
        q, k, v = (t.unflatten(-1, (heads, dim)) for t in heads_qkv.chunk(3, dim=-1))
        q = q[-qlen:]
        if r_batch == 1:  # broadcast over the batch (stride 0), read in place
            r = torch.randn(rlen, 1, heads, dim, generator=g).expand(rlen, bsz, heads, dim)
        else:  # head_dim stride 2: the Python layer copies it
            r = torch.randn(rlen, r_batch, heads, 2 * dim, generator=g)[..., ::2]
    else:
        q = torch.randn(qlen, bsz, heads, dim, generator=g)
        k, v = (torch.randn(klen, bsz, heads, dim, generator=g) for _ in range(2))
        r = torch.randn(rlen, r_batch, heads, dim, generator=g)
    r_w_bias, r_r_bias = (torch.randn(heads, dim, generator=g) for _ in range(2))
    attn_mask = None
    if mask == "random":
        attn_mask = torch.rand(qlen, klen, bsz, generator=g) < 0.3
    elif mask == "causal":  # Transformer-XL's dec_attn_mask: future keys beyond the memory
        attn_mask = torch.triu(torch.ones(qlen, klen, dtype=torch.bool), diagonal=1 + mlen)[:, :, None]
    elif mask == "full_rows":  # random, with some rows of some sequences fully masked (uniform attention)
        attn_mask = torch.rand(qlen, klen, bsz, generator=g) < 0.5
        attn_mask[::3, :, -1] = True
    elif mask == "float":  # any dtype: nonzero = masked
        attn_mask = (torch.rand(qlen, klen, 1, generator=g) < 0.3).float()
    seg = {}
    if segment:
        seg = dict(seg_diff=torch.rand(qlen, klen, bsz, generator=g) < 0.5,
                   seg_embed=torch.randn(2, heads, dim, generator=g), r_s_bias=torch.randn(heads, dim, generator=g))
    return (q, k, v, r, r_w_bias, r_r_bias), dict(shift=shift, attn_mask=attn_mask, **seg)


def _reference(args, kw, scale=None):
    q = args[0]
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    mask = kw["attn_mask"]
    mask = None if mask is None else mask != 0
    seg_diff = kw.get("seg_diff")
    return RA._reference(*args, kw["shift"], scale, mask, seg_diff, kw.get("seg_embed"), kw.get("r_s_bias"))


def _grid(n=48, seed=1234):
    rnd = random.Random(seed)
    cases = []
    for i in range(n):
        shift = ("xlnet", "transfo_xl")[i % 2]
        qlen = rnd.choice([1, 2, 5, 17, 33, 64, 100, 129])
        mlen = rnd.choice([0, 0, 1, 7, 40, 128, 160])
        bsz = rnd.choice([1, 3])
        case = dict(qlen=qlen, mlen=mlen, bsz=bsz, heads=rnd.choice([1, 2, 3, 12]), dim=rnd.choice([7, 33, 64, 64]),
                    shift=shift, r_batch=rnd.choice([1, bsz]),
                    mask=rnd.choice(["none", "random", "causal", "full_rows", "float"]),
                    segment=shift == "xlnet" and rnd.random() < 0.5, strided=rnd.random() < 0.3, seed=i)
        if shift == "xlnet":  # rlen >= klen + 1; models use klen + qlen (bidirectional) or klen + 1 (uni)
            case["rlen"] = qlen + mlen + rnd.choice([1, qlen, qlen, rnd.randint(1, 2 * qlen + 3)])
        cases.append(case)
    return cases


@pytest.mark.parametrize("case", _grid(), ids=lambda c: "{shift}-q{qlen}-m{mlen}-b{bsz}-h{heads}-d{dim}-{mask}".format(**c))
def test_matches_the_references_einsum_and_rel_shift(case):
    args, kw = _inputs(**case)
    got = RA.relative_attention(*args, **kw)
    assert got.shape == args[0].shape and got.is_contiguous()
    torch.testing.assert_close(got, _reference(args, kw), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shift", ["xlnet", "transfo_xl"])
def test_scale_and_masks_at_model_shapes(shift):
    """XLNet-base / Transformer-XL shapes, a non-default scale (also 0, where only the mask decides)."""
    args, kw = _inputs(128, 128 if shift == "transfo_xl" else 0, 2, 12, 64, shift, r_batch=2,
                       mask="causal" if shift == "transfo_xl" else "random", segment=shift == "xlnet")
    for scale in (0.125, 0.0, 1.0):
        torch.testing.assert_close(RA.relative_attention(*args, scale=scale, **kw), _reference(args, kw, scale),
                                   rtol=1e-5, atol=1e-5)


@needs_kernel
def test_the_kernel_runs(monkeypatch):
    calls = []
    kernel = B._C.relative_attention

    class Recorder:
        def __getattr__(self, name):
            return getattr(_C, name)

        @staticmethod
        def relative_attention(*a):
            calls.append(a)
            return kernel(*a)

    _C = B._C
    monkeypatch.setattr(B, "_C", Recorder())
    args, kw = _inputs(9, 4, 2, 3, 16, "xlnet", mask="random", segment=True)
    got = RA.relative_attention(*args, **kw)
    assert len(calls) == 1
    torch.testing.assert_close(got, _reference(args, kw), rtol=1e-5, atol=1e-5)
    # ... and not when autograd needs gradients (the references' ops then, so that backward works)
    q = args[0].clone().requires_grad_()
    RA.relative_attention(q, *args[1:], **kw).sum().backward()
    assert len(calls) == 1 and q.grad is not None


def _bf16_case(args, kw):
    """The inputs rounded to bfloat16 (views stay views: strides are kept), and the float64 reference on them."""
    def bf16(t):
        return t.to(torch.bfloat16) if t is not None and t.is_floating_point() else t

    args = tuple(bf16(t) for t in args)
    kw = {name: bf16(t) if isinstance(t, torch.Tensor) else t for name, t in kw.items()}
    wide = tuple(t.double() for t in args)
    wide_kw = {name: t.double() if isinstance(t, torch.Tensor) and t.is_floating_point() else t
               for name, t in kw.items()}
    return args, kw, _reference(wide, wide_kw)


@pytest.mark.parametrize("case", _grid(24, seed=99),
                         ids=lambda c: "{shift}-q{qlen}-m{mlen}-b{bsz}-h{heads}-d{dim}-{mask}".format(**c))
def test_bfloat16_within_twice_torchs_error(bf16_isa, case):
    args, kw, want = _bf16_case(*_inputs(**case))
    got = RA.relative_attention(*args, **kw)
    assert got.dtype == torch.bfloat16 and got.shape == args[0].shape and got.is_contiguous()
    assert_bf16_close(got, _reference(args, kw), want)


def test_bfloat16_model_shapes_and_threads(bf16_isa, threads):
    for shift in ("xlnet", "transfo_xl"):
        args, kw, want = _bf16_case(*_inputs(64, 64 if shift == "transfo_xl" else 0, 2, 12, 64, shift, r_batch=2,
                                             mask="causal" if shift == "transfo_xl" else "random",
                                             segment=shift == "xlnet", strided=True))
        torch.set_num_threads(1)
        one = RA.relative_attention(*args, **kw)
        assert_bf16_close(one, _reference(args, kw), want)
        torch.set_num_threads(threads)
        assert torch.equal(RA.relative_attention(*args, **kw), one)


def test_bfloat16_mixed_dtypes_are_rejected():
    args, kw = _inputs(5, 2, 2, 3, 8, "xlnet", mask="random", segment=True)
    args = tuple(t.to(torch.bfloat16) for t in args)
    with pytest.raises(TypeError, match="r has dtype torch.float32 but q has torch.bfloat16"):
        RA.relative_attention(*args[:3], args[3].float(), *args[4:], **kw)
    with pytest.raises(TypeError, match="seg_embed has dtype torch.float32 but q has torch.bfloat16"):
        RA.relative_attention(*args, **kw)  # the segment parameters are still float32
    if B.has_kernels():  # the C++ entry point checks it too
        with pytest.raises(ValueError, match="r_w_bias: expected bfloat16, got float32"):
            B._C.relative_attention(*args[:4], args[4].float(), args[5], torch.empty_like(args[0]), None, None, None,
                                    None, 0.3, 0)


def test_other_dtypes_take_the_reference_path():
    args, kw = _inputs(6, 3, 1, 2, 8, "transfo_xl")  # (float16 cannot hold the masked score, -1e30)
    half = tuple(t.to(torch.float16) for t in args)
    with pytest.warns(RuntimeWarning, match="float32 or bfloat16, got torch.float16"):
        got = RA.relative_attention(*half, **kw)
    torch.testing.assert_close(got, _reference(half, kw))


def _bad(**over):
    args, kw = _inputs(5, 2, 2, 3, 8, "xlnet", mask="random", segment=True)
    names = ["q", "k", "v", "r", "r_w_bias", "r_r_bias"]
    call = dict(zip(names, args), **kw)
    call.update(over)
    return call


@pytest.mark.parametrize("over, error, match", [
    (dict(q=torch.randn(5, 2, 3, 8, dtype=torch.float64)), TypeError, "q must be float32"),
    (dict(k=torch.randn(7, 2, 3, 8).half()), TypeError, "k has dtype"),
    (dict(v=torch.randn(7, 2, 3, 8, device="meta")), ValueError, "v is on meta"),
    (dict(k=torch.randn(4, 2, 3, 8), v=torch.randn(4, 2, 3, 8)), ValueError, "klen \\(4\\) must be at least qlen"),
    (dict(v=torch.randn(7, 2, 3, 9)), ValueError, "k and v must be"),
    (dict(q=torch.randn(5, 2, 3)), ValueError, "q must be \\[len, batch, heads, head_dim\\]"),
    (dict(r=torch.randn(7, 2, 3, 8)), ValueError, "rlen >= klen \\+ 1"),
    (dict(r=torch.randn(12, 3, 3, 8)), ValueError, "r must be \\[rlen, batch or 1"),
    (dict(shift="xl"), ValueError, "shift must be one of"),
    (dict(r_w_bias=torch.randn(3, 7)), ValueError, "r_w_bias must be \\[heads, head_dim\\]"),
    (dict(attn_mask=torch.zeros(5, 6, 2, dtype=torch.bool)), ValueError, "attn_mask must have shape"),
    (dict(seg_diff=None), ValueError, "go together"),
    (dict(seg_embed=torch.randn(3, 3, 8)), ValueError, "seg_embed must be \\[2, heads, head_dim\\]"),
    (dict(scale="0.1"), TypeError, "scale must be a number"),
])
def test_bad_input_is_a_clear_error(over, error, match):
    with pytest.raises(error, match=match):
        RA.relative_attention(**_bad(**over))


def test_transfo_xl_needs_rlen_equal_klen():
    args, kw = _inputs(5, 2, 1, 2, 8, "transfo_xl")
    with pytest.raises(ValueError, match="rlen == klen = 7"):
        RA.relative_attention(args[0], args[1], args[2], torch.randn(8, 1, 2, 8), *args[4:], **kw)


@needs_kernel
@pytest.mark.parametrize("change, match", [
    (lambda a: a.update(q=a["q"].double()), "q: expected float32"),
    (lambda a: a.update(k=a["k"].transpose(2, 3)), "k: expected \\[len, 2, 3, 8\\]"),
    (lambda a: a.update(v=torch.randn(7, 2, 3, 16)[..., ::2]), "v: last dim must be contiguous"),
    (lambda a: a.update(r=torch.randn(7, 1, 3, 8)), "XLNet's shift needs rlen >= klen \\+ 1 = 8"),
    (lambda a: a.update(shift=2), "shift: 0 \\(XLNet\\) or 1"),
    (lambda a: a.update(shift=1), "rlen == klen"),
    (lambda a: a.update(out=torch.empty(5, 2, 3, 9)), "q and out must have the same shape"),
    (lambda a: a.update(out=torch.empty(5, 2, 3, 16)[..., ::2]), "out: must be contiguous"),
    (lambda a: a.update(attn_mask=torch.zeros(2, 5, 7)), "attn_mask: expected uint8"),
    (lambda a: a.update(attn_mask=torch.zeros(2, 7, 5, dtype=torch.uint8)), "attn_mask: expected uint8 \\[batch or 1"),
    (lambda a: a.update(seg_diff=None), "go together"),
    (lambda a: a.update(r_s_bias=torch.randn(3, 9)), "r_s_bias: expected \\[3, 8\\]"),
    (lambda a: a.update(r_w_bias=torch.randn(3, 8, 1)), "r_w_bias: expected \\[3, 8\\]"),
    # out written while q, k, v are still read: a shared byte is an error, not a silently wrong result
    (lambda a: a.update(out=a["q"].as_strided((5, 2, 3, 8), (48, 24, 8, 1))), "out and q: overlap in memory"),
    (lambda a: a.update(out=a["v"].as_strided((5, 2, 3, 8), (48, 24, 8, 1))), "out and v: overlap in memory"),
])
def test_the_binding_checks_every_argument(change, match):
    """The C++ entry point validates what it reads (ValueError), whatever the Python layer passes."""
    args, kw = _inputs(5, 2, 2, 3, 8, "xlnet", rlen=12, mask="random", segment=True)
    call = dict(q=args[0], k=args[1], v=args[2], r=args[3], r_w_bias=args[4], r_r_bias=args[5],
                out=torch.empty(5, 2, 3, 8), attn_mask=RA._kernel_map(kw["attn_mask"]),
                seg_diff=RA._kernel_map(kw["seg_diff"]), seg_embed=kw["seg_embed"], r_s_bias=kw["r_s_bias"],
                scale=0.3, shift=0)
    change(call)
    with pytest.raises(ValueError, match=match):
        B._C.relative_attention(**call)
    with pytest.raises(TypeError):  # not a tensor
        B._C.relative_attention(**dict(call, q=[1.0]))


@needs_kernel
def test_empty_batch_and_single_position():
    for qlen, mlen, bsz in ((1, 0, 1), (1, 9, 2), (3, 0, 0)):
        args, kw = _inputs(qlen, mlen, bsz, 2, 5, "transfo_xl", mask="causal")
        torch.testing.assert_close(RA.relative_attention(*args, **kw), _reference(args, kw), rtol=1e-5, atol=1e-5)


def test_generic_isa_routes_to_torch():
    """TRANSFORMERS_FAST_ISA=generic: the portable build is not used; the result is the reference's."""
    code = textwrap.dedent("""
        import importlib, torch
        from transformers_fast.ops import _backend as B
        class Recorder:
            used = False
            def __init__(self, module): self.module = module
            def __getattr__(self, name):
                fn = getattr(self.module, name)
                if name != "relative_attention":
                    return fn
                def record(*a):
                    Recorder.used = True
                    return fn(*a)
                return record
        if B._C is not None:
            assert B._C.cpu_isa() == "generic" and not B.has_kernels()
            B._C = Recorder(B._C)
        RA = importlib.import_module("transformers_fast.ops.relative_attention")
        torch.manual_seed(0)
        q, k, v = torch.randn(4, 2, 3, 8), torch.randn(6, 2, 3, 8), torch.randn(6, 2, 3, 8)
        r, w, b = torch.randn(10, 1, 3, 8), torch.randn(3, 8), torch.randn(3, 8)
        got = RA.relative_attention(q, k, v, r, w, b, shift="xlnet")
        assert torch.equal(got, RA._reference(q, k, v, r, w, b, "xlnet", 8 ** -0.5, None, None, None, None))
        assert not Recorder.used
        print("GENERIC-OK")
    """)
    env = dict(os.environ, PYTHONPATH=ROOT, TRANSFORMERS_FAST_ISA="generic")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0 and "GENERIC-OK" in result.stdout, result.stdout + result.stderr


@needs_kernel
def test_same_bits_at_any_thread_count_and_from_several_threads():
    args, kw = _inputs(70, 30, 3, 4, 33, "xlnet", r_batch=3, mask="random", segment=True, seed=5)
    txl_args, txl_kw = _inputs(50, 20, 2, 3, 64, "transfo_xl", mask="causal", seed=6)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        want = RA.relative_attention(*args, **kw), RA.relative_attention(*txl_args, **txl_kw)
        for n in (2, 3):
            torch.set_num_threads(n)
            assert torch.equal(RA.relative_attention(*args, **kw), want[0])
            assert torch.equal(RA.relative_attention(*txl_args, **txl_kw), want[1])
        torch.set_num_threads(2)
        mismatches = []

        def worker():
            for _ in range(5):
                if not torch.equal(RA.relative_attention(*args, **kw), want[0]) or \
                        not torch.equal(RA.relative_attention(*txl_args, **txl_kw), want[1]):
                    mismatches.append(1)

        workers = [threading.Thread(target=worker) for _ in range(4)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        assert not mismatches
    finally:
        torch.set_num_threads(threads)
