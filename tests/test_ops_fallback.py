"""Without the C++ extension every op still gives the reference result, with one warning."""
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
