"""ops.projection: the fast paths' GEMM from a model's layers, float or int8, one or several side by side."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from transformers_fast import ops
from transformers_fast.modeling_utils import Conv1D


def test_float_parts_of_every_kind_stack_with_their_biases():
    torch.manual_seed(0)
    linear, conv, bare = nn.Linear(24, 8), Conv1D(5, 24), torch.randn(3, 24)
    x = torch.randn(4, 24)
    with torch.no_grad():
        proj = ops.projection([linear, conv, bare], "gelu")
        assert isinstance(proj, ops.PackedLinear)
        want = F.gelu(torch.cat([linear(x), conv(x), x @ bare.t()], -1))
        torch.testing.assert_close(ops.linear(x, proj), want, rtol=1e-5, atol=1e-5)
        no_bias = ops.projection([linear, conv], bias=False)
        assert no_bias.bias is None
        torch.testing.assert_close(ops.linear(x, no_bias), torch.cat([x @ linear.weight.t(), x @ conv.weight], -1),
                                   rtol=1e-5, atol=1e-5)
        single = ops.projection([conv])
        assert single.weight.data_ptr() == conv.weight.data_ptr()  # the transposed view, not a copy


def test_int8_parts_stack_and_keep_their_fused_activation():
    torch.manual_seed(0)
    layers = [ops.QuantizedLinear.from_float(nn.Linear(16, n)) for n in (8, 8)]
    fc = ops.QuantizedLinear.from_float(nn.Linear(16, 12), "gelu_tanh")
    x = torch.randn(3, 16)
    with torch.no_grad():
        stacked = ops.projection(layers)
        assert torch.equal(ops.linear(x, stacked), torch.cat([layer(x) for layer in layers], -1))
        assert ops.projection([fc]) is fc  # activation and bias already as asked: the layer itself
        assert ops.projection([layers[0]], bias=False).bias is None
        other = ops.projection([fc], "gelu")
        assert other is not fc and other.activation == "gelu"
    with pytest.raises(TypeError, match="all int8 or all float"):
        ops.projection([layers[0], nn.Linear(16, 4)])


def test_bad_parts_are_clear_errors():
    with pytest.raises(ValueError, match="at least one"):  # was an IndexError
        ops.projection([])
    with pytest.raises(ValueError, match="same in_features"):  # was torch.cat's RuntimeError
        ops.projection([nn.Linear(16, 8), nn.Linear(15, 4)])
    with pytest.raises(ValueError, match="same in_features"):
        ops.projection([torch.randn(8, 16), torch.randn(16)])
