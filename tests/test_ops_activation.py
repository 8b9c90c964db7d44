import math
import warnings

import pytest
import torch
import torch.nn.functional as F

from bf16_helpers import assert_bf16_close, to_bf16
from transformers_fast import ops
from transformers_fast.ops import _backend as B

COLS = [1, 7, 83, 768, 769, 1024, 4096]
ROWS = [1, 3, 17]


def reference_gelu(x, approximate):
    # Written out, independent of both our kernel and F.gelu's implementation choice.
    if approximate == "tanh":
        return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x.pow(3))))
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


@pytest.mark.kernels
@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("cols", COLS)
@pytest.mark.parametrize("rows", ROWS)
def test_gelu_matches_reference(isa, rows, cols, approximate):
    x = torch.randn(rows, cols, dtype=torch.float64) * 3
    want = reference_gelu(x, approximate).float()
    got = ops.gelu(x.float(), approximate)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.kernels
@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("cols", COLS)
@pytest.mark.parametrize("rows", ROWS)
def test_bias_gelu_matches_reference(isa, rows, cols, approximate):
    x = torch.randn(rows, cols, dtype=torch.float64) * 3
    b = torch.randn(cols, dtype=torch.float64)
    want = reference_gelu(x + b, approximate).float()
    got = ops.bias_gelu(x.float(), b.float(), approximate)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.kernels
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_dense_sweep_including_tails(isa, approximate):
    # Every fp32 region the approximations switch between, at a fine step.
    x = torch.linspace(-12, 12, 240_001, dtype=torch.float64)
    want = reference_gelu(x, approximate).float()
    torch.testing.assert_close(ops.gelu(x.float(), approximate), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_small_inputs_keep_relative_accuracy(isa, approximate):
    # GELU(x) ~ x / 2 near 0: the result must stay relatively exact where atol would hide a constant error.
    mags = torch.logspace(-40, -1, 400, dtype=torch.float64)
    x = torch.cat([mags, -mags]).float().double()  # includes fp32 subnormals
    want = reference_gelu(x, approximate).float()
    torch.testing.assert_close(ops.gelu(x.float(), approximate), want, rtol=2e-6, atol=1e-44)


def test_gelu_3d_and_strided_input(isa):
    x = torch.randn(4, 9, 130)
    strided = x.transpose(0, 1)
    assert not strided.is_contiguous()
    torch.testing.assert_close(ops.gelu(strided), F.gelu(strided), rtol=1e-5, atol=1e-6)
    b = torch.randn(4)
    t = torch.randn(6, 4).t().contiguous().t()  # non-contiguous last dim
    torch.testing.assert_close(ops.bias_gelu(t, b), F.gelu(t + b), rtol=1e-5, atol=1e-6)


@pytest.mark.kernels
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_special_values_like_torch(isa, approximate):
    x = torch.tensor([float("nan"), float("inf"), -float("inf"), -100.0, 100.0, 0.0, -0.0, 1e-30, -9.0, 9.0])
    # torch's fp32 kernels disagree between ISAs here (its AVX-512 erf GELU gives NaN for +inf, its scalar
    # and AVX2 paths give inf), so the reference is torch in float64, the same on every machine.
    want = F.gelu(x.double(), approximate=approximate).float()
    torch.testing.assert_close(ops.gelu(x, approximate), want, equal_nan=True, rtol=1e-5, atol=1e-6)


def test_gelu_empty_and_scalar():
    assert ops.gelu(torch.empty(0, 5)).shape == (0, 5)
    torch.testing.assert_close(ops.gelu(torch.tensor(1.5)), F.gelu(torch.tensor(1.5)))


def test_threads_give_identical_results(threads):
    x = torch.randn(64, 3072)
    b = torch.randn(3072)
    torch.set_num_threads(1)
    one = ops.bias_gelu(x, b)
    torch.set_num_threads(2)
    assert torch.equal(ops.bias_gelu(x, b), one)


def test_bad_input_raises_clear_errors():
    with pytest.raises(TypeError, match="x must be"):
        ops.gelu(torch.arange(5))
    with pytest.raises(TypeError, match="torch.Tensor"):
        ops.gelu([1.0, 2.0])
    with pytest.raises(ValueError, match="approximate"):
        ops.gelu(torch.randn(3), approximate="fast")
    with pytest.raises(ValueError, match="bias must have shape"):
        ops.bias_gelu(torch.randn(3, 4), torch.randn(5))
    with pytest.raises(TypeError, match="bias has dtype"):
        ops.bias_gelu(torch.randn(3, 4), torch.randn(4, dtype=torch.float16))
    with pytest.raises(ValueError, match="on meta"):
        ops.bias_gelu(torch.randn(3, 4), torch.randn(4, device="meta"))


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("cols", COLS)
@pytest.mark.parametrize("rows", ROWS)
def test_bfloat16_within_twice_torchs_error(bf16_isa, rows, cols, approximate):
    x, b = to_bf16(torch.randn(rows, cols) * 3, torch.randn(cols))
    want = reference_gelu(x.double(), approximate)
    assert_bf16_close(ops.gelu(x, approximate), F.gelu(x, approximate=approximate), want)
    want = reference_gelu(x.double() + b.double(), approximate)
    assert_bf16_close(ops.bias_gelu(x, b, approximate), F.gelu(x + b, approximate=approximate), want)


@pytest.mark.kernels
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_bfloat16_dense_sweep_and_special_values(bf16_isa, approximate):
    x = torch.linspace(-12, 12, 24_001).to(torch.bfloat16).unique()  # every bf16 value in [-12, 12]
    specials = torch.tensor([float("nan"), float("inf"), -float("inf"), -100.0, 100.0, 0.0, -0.0, 1e-30, 3e38],
                            dtype=torch.bfloat16)
    x = torch.cat([x, specials])
    want = F.gelu(x.double(), approximate=approximate)
    assert_bf16_close(ops.gelu(x, approximate), F.gelu(x, approximate=approximate), want)


def test_bfloat16_strided_3d_input_and_threads(bf16_isa, threads):
    x = torch.randn(4, 9, 130).to(torch.bfloat16).transpose(0, 1)
    b = torch.randn(130).to(torch.bfloat16)
    assert not x.is_contiguous()
    want = reference_gelu(x.double() + b.double(), "none")
    got = ops.bias_gelu(x, b)
    assert got.dtype == torch.bfloat16 and got.shape == x.shape
    assert_bf16_close(got, F.gelu(x + b), want)
    big = torch.randn(64, 3072).to(torch.bfloat16)
    torch.set_num_threads(1)
    one = ops.gelu(big, "tanh")
    torch.set_num_threads(threads)
    assert torch.equal(ops.gelu(big, "tanh"), one)


def test_bfloat16_mixed_dtypes_are_rejected():
    x = torch.randn(3, 4, dtype=torch.bfloat16)
    with pytest.raises(TypeError, match="bias has dtype torch.float32 but x has torch.bfloat16"):
        ops.bias_gelu(x, torch.randn(4))
    if B.has_kernels():  # the C++ entry point checks it too
        with pytest.raises(ValueError, match="bias: expected bfloat16, got float32"):
            B._C.bias_gelu(x, torch.randn(4), torch.empty_like(x), False)
        with pytest.raises(ValueError, match="out: expected bfloat16, got float32"):
            B._C.gelu(x, torch.empty(3, 4), False)


def test_other_dtypes_fall_back_with_one_warning():
    x = torch.randn(3, 8, dtype=torch.float16)
    with pytest.warns(RuntimeWarning, match="float32 or bfloat16, got torch.float16"):
        got = ops.gelu(x)
    torch.testing.assert_close(got, F.gelu(x))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ops.gelu(x)  # warned once already


def test_autograd_uses_torch_path():
    x = torch.randn(5, 7, requires_grad=True)
    b = torch.randn(7, requires_grad=True)
    ops.bias_gelu(x, b).sum().backward()
    x2 = x.detach().clone().requires_grad_()
    b2 = b.detach().clone().requires_grad_()
    F.gelu(x2 + b2).sum().backward()
    torch.testing.assert_close(x.grad, x2.grad)
    torch.testing.assert_close(b.grad, b2.grad)


def test_torch_compile_traces_the_custom_op():
    if not hasattr(torch.library, "custom_op"):
        pytest.skip("torch.library.custom_op needs torch >= 2.4")
    from torch._dynamo.testing import CompileCounterWithBackend

    counter = CompileCounterWithBackend("eager")
    fn = torch.compile(lambda x, b: ops.bias_gelu(x, b) * 2, backend=counter, fullgraph=True)
    x, b = torch.randn(4, 16), torch.randn(16)
    torch.testing.assert_close(fn(x, b), F.gelu(x + b) * 2, rtol=1e-5, atol=1e-6)
    assert counter.frame_count == 1
    names = [str(n.target) for g in counter.graphs for n in g.graph.nodes]
    assert any("transformers_fast.bias_gelu" in n for n in names), names


def test_empty_last_dim_and_overlapping_out():
    # torch gives an empty [5, 0] the strides (1, 1): the kernels took that for a non-contiguous tensor
    assert ops.gelu(torch.empty(5, 0)).shape == (5, 0)
    assert ops.bias_gelu(torch.empty(5, 0), torch.empty(0)).shape == (5, 0)
    with pytest.raises(TypeError, match="bias must be a torch.Tensor"):  # was plain gelu where kernels run
        ops.bias_gelu(torch.randn(2, 3), None)
    if not B.has_kernels():
        return
    buf = torch.randn(40)
    x, out = buf[:32].view(4, 8), buf[1:33].view(4, 8)  # out one element past x: rows read after written
    with pytest.raises(ValueError, match="out and x: overlap in memory"):
        B._C.gelu(x, out, False)
    with pytest.raises(ValueError, match="out and bias: overlap in memory"):
        B._C.bias_gelu(x.clone(), buf[:8], buf[:32].view(4, 8), False)
    want = F.gelu(x)
    B._C.gelu(x, x, False)  # in place (the very same tensor) stays allowed
    torch.testing.assert_close(x, want)
