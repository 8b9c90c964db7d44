import importlib

import pytest
import torch
import torch.nn.functional as F

from bf16_helpers import assert_bf16_close, to_bf16
from transformers_fast import ops
from transformers_fast.ops import _backend as B

LN = importlib.import_module("transformers_fast.ops.layer_norm")  # the package re-exports the function

COLS = [1, 7, 83, 768, 769, 1024, 4096]
ROWS = [1, 3, 17]


def reference(x, residual, weight, bias, eps, x_bias):
    # float64 LayerNorm written out, independent of our kernel and of F.layer_norm.
    v = x.double()
    if x_bias is not None:
        v = v + x_bias.double()
    if residual is not None:
        v = v + residual.double()
    mean = v.mean(-1, keepdim=True)
    var = (v - mean).pow(2).mean(-1, keepdim=True)
    y = (v - mean) / torch.sqrt(var + eps)
    if weight is not None:
        y = y * weight.double()
    if bias is not None:
        y = y + bias.double()
    return y.float()


@pytest.mark.parametrize("variant", ["plain", "residual", "residual+x_bias"])
@pytest.mark.parametrize("cols", COLS)
@pytest.mark.parametrize("rows", ROWS)
def test_add_layer_norm_matches_reference(isa, rows, cols, variant):
    x = torch.randn(rows, cols) * 2 + 0.5
    w, b = torch.randn(cols), torch.randn(cols)
    residual = torch.randn(rows, cols) if variant != "plain" else None
    x_bias = torch.randn(cols) if variant == "residual+x_bias" else None
    want = reference(x, residual, w, b, 1e-5, x_bias)
    if variant == "plain":
        got = ops.layer_norm(x, w, b, 1e-5)
    else:
        got = ops.add_layer_norm(x, residual, w, b, 1e-5, x_bias=x_bias)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_padded_batch_constant_rows_and_no_affine(isa):
    # [batch, seq, hidden] with padded (all-zero) positions: zero variance gives bias, like torch.
    x = torch.randn(3, 5, 768)
    x[1, 3:] = 0
    x[2, 1:] = 7.0
    res = torch.randn(3, 5, 768)
    res[1, 3:] = 0
    w, b = torch.randn(768), torch.randn(768)
    torch.testing.assert_close(ops.add_layer_norm(x, res, w, b), F.layer_norm(x + res, (768,), w, b),
                               rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ops.layer_norm(x, None, None, 1e-12), reference(x, None, None, None, 1e-12, None),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cols", [7, 768, 769])
def test_rows_whose_first_value_is_far_from_the_mean(isa, cols):
    # The kernel's one-pass statistics are shifted by each row's first value; rows where that value
    # is an outlier or the mean dwarfs the spread must still match (they take the exact second pass).
    x = torch.randn(6, cols)
    x[0, 0] = 1000.0  # outlier first element
    x[1, 0] = -60.0
    x[2] += 30.0  # offset mean (larger offsets exceed fp32's own resolution of the deviations)
    x[3, 1:] += 50.0  # first element ~50 standard deviations below the rest
    x[4, :] = x[4, 0]  # constant row
    res = torch.randn(6, cols)
    w, b = torch.randn(cols), torch.randn(cols)
    for eps in (1e-12, 1e-5):
        torch.testing.assert_close(ops.add_layer_norm(x, res, w, b, eps), reference(x, res, w, b, eps, None),
                                   rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(ops.layer_norm(x, w, b, eps), reference(x, None, w, b, eps, None),
                                   rtol=1e-5, atol=1e-5)


def test_strided_inputs_are_handled(isa):
    x = torch.randn(83, 6).t()  # last dim not contiguous
    res = torch.randn(6, 166)[:, ::2]
    w, b = torch.randn(83), torch.randn(83)
    assert not x.is_contiguous() and not res.is_contiguous()
    torch.testing.assert_close(ops.add_layer_norm(x, res, w, b), F.layer_norm(x + res, (83,), w, b),
                               rtol=1e-5, atol=1e-5)


def test_nan_and_inf_like_torch(isa):
    x = torch.randn(4, 33)
    x[0, 3] = float("nan")
    x[1, 5] = float("inf")
    x[2, 0] = -float("inf")
    w, b = torch.randn(33), torch.randn(33)
    torch.testing.assert_close(ops.layer_norm(x, w, b), F.layer_norm(x, (33,), w, b), equal_nan=True,
                               rtol=1e-5, atol=1e-5)


def test_threads_give_identical_results(threads):
    x, res = torch.randn(64, 768), torch.randn(64, 768)
    w, b, xb = torch.randn(768), torch.randn(768), torch.randn(768)
    torch.set_num_threads(1)
    one = ops.add_layer_norm(x, res, w, b, x_bias=xb)
    torch.set_num_threads(2)
    assert torch.equal(ops.add_layer_norm(x, res, w, b, x_bias=xb), one)


def test_empty_input():
    assert ops.layer_norm(torch.empty(0, 8), torch.ones(8), torch.zeros(8)).shape == (0, 8)


def test_bad_input_raises_clear_errors():
    x, w, b = torch.randn(3, 4), torch.randn(4), torch.randn(4)
    with pytest.raises(TypeError, match="x must be"):
        ops.layer_norm(torch.arange(4), w, b)
    with pytest.raises(ValueError, match="weight must have shape"):
        ops.layer_norm(x, torch.randn(5), b)
    with pytest.raises(ValueError, match="x_bias must have shape"):
        ops.add_layer_norm(x, x, w, b, x_bias=torch.randn(3))
    with pytest.raises(ValueError, match="residual must have the shape"):
        ops.add_layer_norm(x, torch.randn(3, 5), w, b)
    with pytest.raises(TypeError, match="residual has dtype"):
        ops.add_layer_norm(x, x.half(), w, b)
    with pytest.raises(ValueError, match="eps"):
        ops.layer_norm(x, w, b, eps=-1.0)
    with pytest.raises(TypeError, match="eps"):
        ops.layer_norm(x, w, b, eps="1e-5")
    with pytest.raises(ValueError, match="on meta"):
        ops.layer_norm(x, w, torch.randn(4, device="meta"))
    with pytest.raises(ValueError, match="at least 1"):
        ops.layer_norm(torch.tensor(1.0), None, None)


def _reference_float64(x, residual, weight, bias, eps, x_bias):
    return reference(*(None if t is None else t.double() for t in (x, residual, weight, bias)), eps,
                     None if x_bias is None else x_bias.double()).double()


@pytest.mark.parametrize("params", ["bf16", "fp32"])
@pytest.mark.parametrize("variant", ["plain", "residual", "residual+x_bias"])
@pytest.mark.parametrize("cols", COLS)
@pytest.mark.parametrize("rows", ROWS)
def test_bfloat16_within_twice_torchs_error(bf16_isa, rows, cols, variant, params):
    """bf16 x, residual, x_bias and out; weight and bias bf16 (a module .to(bfloat16)) or float32 (torch's
    mixed-type layer_norm); torch's own bf16 result is the op's torch path on the same tensors."""
    x, residual, x_bias = to_bf16(torch.randn(rows, cols) * 2 + 0.5, torch.randn(rows, cols), torch.randn(cols))
    w, b = torch.randn(cols), torch.randn(cols)
    if params == "bf16":
        w, b = to_bf16(w, b)
    if variant == "plain":
        residual = None
    if variant != "residual+x_bias":
        x_bias = None
    want = _reference_float64(x, residual, w, b, 1e-5, x_bias)
    got = ops.add_layer_norm(x, residual, w, b, 1e-5, x_bias=x_bias)
    assert_bf16_close(got, LN._reference(x, residual, w, b, 1e-5, x_bias), want)


def test_bfloat16_hard_rows_strided_and_threads(bf16_isa, threads):
    """Outliers, offset means, constant and non-finite rows; strided inputs; the same bits at any thread count."""
    cols = 769
    x = torch.randn(8, cols)
    x[0, 0] = 1000.0
    x[1, 0] = -60.0
    x[2] += 30.0
    x[3, 1:] += 50.0
    x[4, :] = x[4, 0]
    x[5, 3] = float("nan")
    x[6, 5] = float("inf")
    x = x.to(torch.bfloat16)
    res = torch.randn(cols, 16).to(torch.bfloat16)[:, :8].t()  # strided
    w, b = to_bf16(torch.randn(cols), torch.randn(cols))
    for eps in (1e-12, 1e-5):
        want = _reference_float64(x, res, w, b, eps, None)
        # torch gives NaN for the rows with NaN/inf; the written-out reference too
        assert_bf16_close(ops.add_layer_norm(x, res, w, b, eps), LN._reference(x, res, w, b, eps, None), want)
    big, big_res = to_bf16(torch.randn(64, 768), torch.randn(64, 768))
    torch.set_num_threads(1)
    one = ops.add_layer_norm(big, big_res, w[:768], b[:768], x_bias=b[:768])
    torch.set_num_threads(threads)
    assert torch.equal(ops.add_layer_norm(big, big_res, w[:768], b[:768], x_bias=b[:768]), one)


def test_bfloat16_mixed_dtypes_are_rejected():
    x, w = torch.randn(3, 4, dtype=torch.bfloat16), torch.randn(4, dtype=torch.bfloat16)
    with pytest.raises(TypeError, match="residual has dtype torch.float32 but x has torch.bfloat16"):
        ops.add_layer_norm(x, x.float(), w, w)
    with pytest.raises(TypeError, match="x_bias has dtype torch.float32"):
        ops.add_layer_norm(x, None, w, w, x_bias=w.float())
    with pytest.raises(TypeError, match="bias has dtype torch.float32 but x has torch.bfloat16"):
        ops.add_layer_norm(x, None, w, w.float())  # weight and bias: both bf16 or both float32
    with pytest.raises(TypeError, match="weight has dtype torch.bfloat16 but x has torch.float32"):
        ops.layer_norm(x.float(), w, w.float())
    if B.has_kernels():  # the C++ entry point checks it too
        out = torch.empty_like(x)
        with pytest.raises(ValueError, match="weight and bias: must have the same dtype"):
            B._C.add_layer_norm(x, None, None, w, w.float(), out, 1e-5)
        with pytest.raises(ValueError, match="residual: expected bfloat16, got float32"):
            B._C.add_layer_norm(x, x.float(), None, w, w, out, 1e-5)
        with pytest.raises(ValueError, match="weight: expected float32, got bfloat16"):
            B._C.add_layer_norm(x.float(), None, None, w, None, out.float(), 1e-5)


def test_float16_falls_back_to_torch():
    x = torch.randn(3, 16, dtype=torch.float16)
    w, b = torch.randn(16, dtype=torch.float16), torch.randn(16, dtype=torch.float16)
    with pytest.warns(RuntimeWarning, match="float32 or bfloat16, got torch.float16"):
        got = ops.layer_norm(x, w, b)
    torch.testing.assert_close(got, F.layer_norm(x, (16,), w, b))


def test_autograd_uses_torch_path():
    x = torch.randn(5, 7, requires_grad=True)
    w = torch.randn(7, requires_grad=True)
    res = torch.randn(5, 7)
    ops.add_layer_norm(x, res, w, None).sum().backward()
    x2, w2 = x.detach().clone().requires_grad_(), w.detach().clone().requires_grad_()
    F.layer_norm(x2 + res, (7,), w2, None).sum().backward()
    torch.testing.assert_close(x.grad, x2.grad)
    torch.testing.assert_close(w.grad, w2.grad)


def test_empty_last_dim_and_overlapping_out():
    assert ops.layer_norm(torch.empty(5, 0), None, None).shape == (5, 0)  # strides (1, 1): not "non-contiguous"
    if not B.has_kernels():
        return
    buf = torch.randn(40)
    x, out = buf[:32].view(4, 8), buf[8:40].view(4, 8)
    with pytest.raises(ValueError, match="out and x: overlap in memory"):
        B._C.add_layer_norm(x, None, None, None, None, out, 1e-5)
    w = torch.ones(8)
    with pytest.raises(ValueError, match="out and weight: overlap in memory"):
        B._C.add_layer_norm(torch.randn(1, 8), None, None, w, None, w.view(1, 8), 1e-5)
    r = torch.randn(4, 8)
    want = F.layer_norm(x + r, (8,))
    B._C.add_layer_norm(x, r, None, None, None, r, 1e-5)  # out = residual, the very same tensor: allowed
    torch.testing.assert_close(r, want, rtol=1e-5, atol=1e-5)
