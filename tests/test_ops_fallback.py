"""Without the C++ extension every op still gives the reference result, with one warning; with it, bfloat16
calls run the C++ kernels."""
import importlib

import pytest
import torch
import torch.nn.functional as F

from transformers_fast import ops
from transformers_fast.ops import _backend


@pytest.fixture
def no_extension(monkeypatch):
    monkeypatch.setattr(_backend, "_C", None)
    monkeypatch.setattr(_backend, "KERNELS_ON", False)
    monkeypatch.setattr(_backend, "_warned", set())


def test_every_op_falls_back_to_torch_with_a_warning(no_extension):
    x, b = torch.randn(3, 8), torch.randn(8)
    q, k, v = torch.randn(1, 2, 4, 8), torch.randn(1, 2, 5, 8), torch.randn(1, 2, 5, 8)
    mask = torch.zeros(1, 1, 1, 5)
    cases = [
        (lambda: ops.gelu(x), F.gelu(x)),
        (lambda: ops.bias_gelu(x, b), F.gelu(x + b)),
        (lambda: ops.add_layer_norm(x, x, b, b), F.layer_norm(x + x, (8,), b, b)),
        (lambda: ops.masked_softmax(x, b, scale=0.5), torch.softmax(x * 0.5 + b, -1)),
        (lambda: ops.attention(q, k, v, attn_mask=mask), F.scaled_dot_product_attention(q, k, v, attn_mask=mask)),
    ]
    for run, want in cases:
        with pytest.warns(RuntimeWarning, match="C\\+\\+ extension is not available"):
            got = run()
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_fallback_attention_never_reads_a_cache_past_its_lengths(no_extension):
    # a preallocated KV cache (torch.empty) may hold NaN past each row's length: a zero probability times NaN
    # must not reach the output
    b, h, cap, d = 2, 3, 16, 8
    k, v = torch.randn(b, h, cap, d), torch.randn(b, h, cap, d)
    k[:, :, 9:], v[:, :, 9:] = float("nan"), float("inf")
    lengths = torch.tensor([9, 4])
    q = torch.randn(b, h, 2, d)
    with pytest.warns(RuntimeWarning):
        got = ops.attention(q, k, v, kv_lengths=lengths, causal=True)
    for row, n in enumerate(lengths.tolist()):
        causal = torch.ones(2, n, dtype=torch.bool).tril(n - 2)
        want = F.scaled_dot_product_attention(q[row:row + 1], k[row:row + 1, :, :n], v[row:row + 1, :, :n],
                                              attn_mask=causal)
        torch.testing.assert_close(got[row:row + 1], want, rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(not _backend.has_kernels(), reason="the C++ kernels do not run on this machine")
def test_bfloat16_runs_the_cpu_kernels(monkeypatch):
    """Each op's bfloat16 call reaches its C++ kernel once, with bfloat16 tensors, and never the torch path."""
    import warnings

    ra = importlib.import_module("transformers_fast.ops.relative_attention")
    calls = []
    real = _backend._C

    class Recorder:
        def __getattr__(self, name):
            fn = getattr(real, name)
            if not callable(fn) or name in ("set_num_threads", "get_num_threads"):
                return fn

            def record(*args):
                calls.append((name, [a.dtype for a in args if isinstance(a, torch.Tensor) and a.is_floating_point()]))
                return fn(*args)
            return record

    monkeypatch.setattr(_backend, "_C", Recorder())
    bf = torch.bfloat16
    x, b = torch.randn(3, 8, dtype=bf), torch.randn(8, dtype=bf)
    q, k, v = (torch.randn(1, 2, n, 8, dtype=bf) for n in (4, 5, 5))
    packed = torch.randn(9, 2, 8, dtype=bf)
    cu = torch.tensor([0, 4, 9], dtype=torch.int32)
    rq, rk, r = torch.randn(4, 1, 2, 8, dtype=bf), torch.randn(6, 1, 2, 8, dtype=bf), torch.randn(10, 1, 2, 8, dtype=bf)
    rb = torch.randn(2, 8, dtype=bf)
    cases = [
        ("gelu", lambda: ops.gelu(x, "tanh")),
        ("bias_gelu", lambda: ops.bias_gelu(x, b)),
        ("add_layer_norm", lambda: ops.add_layer_norm(x, x, b, b, x_bias=b)),
        ("add_layer_norm", lambda: ops.layer_norm(x, b.float(), b.float())),  # float32 weight and bias
        ("masked_softmax", lambda: ops.masked_softmax(x, b, scale=0.5)),
        ("masked_softmax", lambda: ops.masked_softmax(q, torch.tensor([3]), causal=True)),
        ("attention", lambda: ops.attention(q, k, v, attn_mask=torch.zeros(1, 1, 1, 5, dtype=bf))),
        ("attention", lambda: ops.attention(q, k, v, kv_lengths=torch.tensor([4]), causal=True)),
        ("attention", lambda: ops.attention(packed, packed, packed, cu_seqlens=cu, causal=True)),
        ("relative_attention", lambda: ra.relative_attention(rq, rk, rk, r, rb, rb, shift="xlnet")),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a fallback would warn
        for name, run in cases:
            calls.clear()
            got = run()
            assert got.dtype == bf
            assert [c[0] for c in calls] == [name], (name, calls)
            assert bf in calls[0][1] and torch.float16 not in calls[0][1], calls
