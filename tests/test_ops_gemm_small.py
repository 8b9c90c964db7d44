"""The small-row GEMM kernel (PackedLinear's "panel" backend) against float64 F.linear, on every ISA."""
import math

import pytest
import torch
import torch.nn.functional as F

from transformers_fast import ops
from transformers_fast.ops import _backend as B
from transformers_fast.ops import packed_linear

pytestmark = pytest.mark.skipif(not packed_linear.panel_available(), reason="small-row GEMM kernel not built")

ROWS = [1, 2, 3, 7, 8, 13, 16]
SIZES = [1, 7, 83, 768, 769, 3072]
ACTIVATIONS = [None, "gelu", "gelu_tanh"]


def reference(x, weight, bias, activation):
    y = F.linear(x.double(), weight.double(), None if bias is None else bias.double())
    if activation is not None:
        y = F.gelu(y, approximate="tanh" if activation == "gelu_tanh" else "none")
    return y.float()


def panel(x, layer):
    """The kernel itself, through PackedLinear's backend entry."""
    return packed_linear._run("panel", x.contiguous(), layer)


def make(n_in, n_out, bias=True, activation=None):
    w = torch.randn(n_out, n_in) / math.sqrt(n_in)
    b = torch.randn(n_out) if bias else None
    return ops.PackedLinear(w, b, activation), w, b


# Every (in, out) pair of SIZES except the two largest products, which the slower tests cover.
PAIRS = [(i, o) for i in SIZES for o in SIZES if i * o <= 769 * 3072]


@pytest.mark.parametrize("n_in,n_out", PAIRS, ids=str)
def test_matches_linear_over_rows_and_activations(isa, n_in, n_out):
    for bias in (True, False):
        for activation in ACTIVATIONS:
            layer, w, b = make(n_in, n_out, bias, activation)
            for rows in ROWS:
                x = torch.randn(rows, n_in)
                torch.testing.assert_close(panel(x, layer), reference(x, w, b, activation), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("n_in,n_out", [(1, 7), (7, 83), (83, 769), (768, 768), (769, 17), (3072, 768)], ids=str)
def test_bfloat16_weights_within_one_rounding_of_the_exact_product(bf16_isa, n_in, n_out):
    """bf16 in and out, fp32 accumulation: within one bf16 rounding of the float64 result on the bf16 values
    (odd k pads its last pair; odd n its last panel)."""
    for bias in (True, False):
        for activation in ACTIVATIONS:
            layer, w, b = make(n_in, n_out, bias, activation)
            layer = layer.to(torch.bfloat16)
            for rows in (1, 2, 3, 8, 9, 17):
                x = torch.randn(rows, n_in).bfloat16()
                got = panel(x, layer)
                assert got.dtype is torch.bfloat16 and got.shape == (rows, n_out)
                want = reference(x.float(), layer.weight.float(), None if b is None else layer.bias.float(),
                                 activation)
                torch.testing.assert_close(got.float(), want, rtol=2 ** -7, atol=1e-4)


def test_bfloat16_nan_and_inf_survive_rounding(isa):
    bias = torch.tensor([float("nan"), float("inf"), -float("inf"), 3.0e38, -3.0e38] + [1.0] * 12).bfloat16()
    layer = ops.PackedLinear(torch.zeros(17, 5).bfloat16(), bias)
    got = panel(torch.ones(2, 5).bfloat16(), layer).float()
    assert got[:, 0].isnan().all() and (got[:, 1] == float("inf")).all() and (got[:, 2] == -float("inf")).all()
    # the largest finite values round to themselves, not to infinity
    assert torch.equal(got[:, 3:], bias[3:].float().expand(2, -1))


@pytest.mark.parametrize("n_in,n_out", [(3072, 3072), (768, 50257)], ids=str)
def test_large_shapes(n_in, n_out):
    layer, w, b = make(n_in, n_out, activation="gelu_tanh")
    x = torch.randn(8, n_in)
    torch.testing.assert_close(panel(x, layer), reference(x, w, b, "gelu_tanh"), rtol=1e-5, atol=1e-5)


def test_transposed_weight_view_packs_without_copy(isa):
    conv1d = torch.randn(83, 769) / 9  # [in, out] as GPT-2 stores it
    layer = ops.PackedLinear(conv1d.t(), torch.randn(769), "gelu_tanh")
    x = torch.randn(5, 83)
    torch.testing.assert_close(panel(x, layer), reference(x, conv1d.t(), layer.bias, "gelu_tanh"),
                               rtol=1e-5, atol=1e-5)
    assert layer.weight.data_ptr() == conv1d.data_ptr()


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_one_and_two_threads_identical(isa, activation):
    layer, _, _ = make(768, 2304 + 5, activation=activation)
    x = torch.randn(8, 768)
    old = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = panel(x, layer)
        torch.set_num_threads(2)
        two = panel(x, layer)
    finally:
        torch.set_num_threads(old)
    assert torch.equal(one, two)


def test_nan_and_inf_propagate_like_torch():
    layer, w, b = make(16, 20)
    x = torch.randn(3, 16)
    x[0, 3] = float("nan")
    x[1, 5] = float("inf")
    got, want = panel(x, layer), reference(x, w, b, None)
    assert torch.equal(got.isnan(), want.isnan()) and torch.equal(got.isinf(), want.isinf())


def test_strided_input_is_copied_by_packed_linear(monkeypatch):
    monkeypatch.setenv(packed_linear.ENV, "panel")
    monkeypatch.setattr(packed_linear, "_forced", packed_linear._UNREAD)
    layer, w, b = make(83, 40, activation="gelu")
    strided = torch.randn(83, 6).t()
    with torch.no_grad():
        torch.testing.assert_close(layer(strided), reference(strided, w, b, "gelu"), rtol=1e-5, atol=1e-5)
        assert set(layer._packed) == {"panel"}  # forced: nothing else packed


def packed_20x16():
    """A 20x16 weight, its panels, and an input and output of 3 rows."""
    w = torch.randn(20, 16)
    packed = torch.empty(2, 16, B._C.gemm_small_panel)
    B._C.gemm_small_pack(w, packed)
    return w, packed, torch.randn(3, 16), torch.empty(3, 20)


def test_c_entry_points_validate_arguments():
    C = B._C
    w, packed, x, out = packed_20x16()
    with pytest.raises(ValueError, match="packed: expected shape"):
        C.gemm_small_pack(w, torch.empty(1, 16, C.gemm_small_panel))
    with pytest.raises(ValueError, match="weight: expected float32 or bfloat16, got float16"):
        C.gemm_small_pack(w.half(), packed)
    with pytest.raises(ValueError, match="x: must be contiguous"):
        C.gemm_small(torch.randn(16, 3).t(), packed, None, out, 20, 0)
    with pytest.raises(ValueError, match="packed: expected shape"):
        C.gemm_small(torch.randn(3, 15), packed, None, out, 20, 0)
    with pytest.raises(ValueError, match="out: expected shape"):
        C.gemm_small(x, packed, None, torch.empty(3, 19), 20, 0)
    with pytest.raises(ValueError, match="packed: expected shape"):
        C.gemm_small(x, packed, None, torch.empty(3, 40), 40, 0)
    with pytest.raises(ValueError, match="bias: expected shape"):
        C.gemm_small(x, packed, torch.randn(19), out, 20, 0)
    with pytest.raises(ValueError, match="x: expected float32"):
        C.gemm_small(x.half(), packed, None, out, 20, 0)
    with pytest.raises(ValueError, match="activation"):
        C.gemm_small(x, packed, None, out, 20, 7)
    # bfloat16: every tensor of x's dtype, and the pair-packed shape
    with pytest.raises(ValueError, match="packed: expected bfloat16"):
        C.gemm_small(x.bfloat16(), packed, None, out.bfloat16(), 20, 0)
    packed_bf16 = torch.empty(2, 8, 2 * C.gemm_small_panel, dtype=torch.bfloat16)
    C.gemm_small_pack(w.bfloat16(), packed_bf16)
    with pytest.raises(ValueError, match="out: expected bfloat16"):
        C.gemm_small(x.bfloat16(), packed_bf16, None, out, 20, 0)
    with pytest.raises(ValueError, match="bias: expected bfloat16"):
        C.gemm_small(x.bfloat16(), packed_bf16, torch.randn(20), out.bfloat16(), 20, 0)
    with pytest.raises(ValueError, match=r"packed: expected shape \[2, 8, 32\]"):
        C.gemm_small_pack(w.bfloat16(), torch.empty(2, 16, 16, dtype=torch.bfloat16))


@pytest.mark.parametrize("rows", [17, 64, 130, 600])
def test_many_rows(isa, rows):
    """Beyond the small-row buckets the kernel still serves (calibration picks it where it wins)."""
    layer, w, b = make(83, 769, activation="gelu")
    x = torch.randn(rows, 83)
    torch.testing.assert_close(panel(x, layer), reference(x, w, b, "gelu"), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("rows", [2, 5, 8, 9, 13, 24, 25])
@pytest.mark.parametrize("n_in", [127, 300, 3072])
def test_rows_equal_one_row_at_a_time(isa, rows, n_in):
    """Each output is one FMA chain over k in order, however rows are blocked, how many panels a block takes
    (more for fewer rows) and how k is sliced (a few row blocks take turns per k slice on AVX2): bit for bit
    the result of that row alone. 117 outputs: 8 panels, so blocks of 4, 3 and 2 panels all end in a remainder."""
    layer, w, b = make(n_in, 117, activation="gelu")
    x = torch.randn(rows, n_in)
    whole = panel(x, layer)
    torch.testing.assert_close(whole, torch.cat([panel(x[i:i + 1], layer) for i in range(rows)]), rtol=0, atol=0)
    torch.testing.assert_close(whole, reference(x, w, b, "gelu"), rtol=1e-5, atol=1e-5)


def test_calibration_keeps_only_the_chosen_copy(monkeypatch):
    monkeypatch.delenv(packed_linear.ENV, raising=False)
    monkeypatch.setattr(packed_linear, "_forced", packed_linear._UNREAD)
    monkeypatch.setattr(packed_linear, "_choice", {})
    layer, w, b = make(256, 512, activation="gelu_tanh")
    x = torch.randn(1, 256)
    with torch.no_grad():
        torch.testing.assert_close(layer(x), reference(x, w, b, "gelu_tanh"), rtol=1e-5, atol=1e-5)
    chosen = packed_linear.chosen_backends()[(256, 512, "gelu_tanh", packed_linear._row_bucket(1),
                                              torch.get_num_threads(), "float32")]
    assert set(layer._packed) == ({chosen} - {"torch"})
    assert layer.packed_bytes() <= w.numel() * 4 * 1.1


def test_c_entry_points_read_tensors_and_name_what_they_reject():
    C = B._C
    w, packed, x, out = packed_20x16()
    with pytest.raises(TypeError):  # not a tensor: pybind11 lists the accepted signature
        C.gemm_small(x.tolist(), packed, None, out, 20, 0)
    with pytest.raises(TypeError):
        C.gemm_small(x.numpy(), packed, None, out, 20, 0)
    with pytest.raises(ValueError, match="x: expected float32 or bfloat16, got a dtype without kernels"):
        C.gemm_small(x.double(), packed, None, out, 20, 0)
    with pytest.raises(ValueError, match="x: must be a CPU tensor"):
        C.gemm_small(torch.empty(3, 16, device="meta"), packed, None, out, 20, 0)
    # A view with a storage offset reads from its own first element.
    big = torch.randn(5, 16)
    C.gemm_small(big[2:], packed, None, out, 20, 0)
    torch.testing.assert_close(out, big[2:] @ w.t(), rtol=1e-5, atol=1e-5)
    # Subclasses (nn.Parameter) are tensors too.
    C.gemm_small(torch.nn.Parameter(x, requires_grad=False), packed, None, out, 20, 0)
    torch.testing.assert_close(out, x @ w.t(), rtol=1e-5, atol=1e-5)


def test_bfloat16_bits_do_not_depend_on_the_thread_count_or_the_row_blocks(bf16_isa):
    """Nor on the block widths: 1-2 rows and (with the bf16 dot product) 3-8 rows run in blocks of more panels than
    9 rows on AVX-512."""
    layer, _, _ = make(769, 3072 + 16 * 3 + 5, activation="gelu")
    layer = layer.to(torch.bfloat16)
    x = torch.randn(9, 769).bfloat16()
    threads = torch.get_num_threads()
    try:
        results = []
        for n in (1, 2, 3):
            torch.set_num_threads(n)
            results.append(panel(x, layer))
    finally:
        torch.set_num_threads(threads)
    assert all(torch.equal(results[0], r) for r in results[1:])
    assert torch.equal(results[0], torch.cat([panel(x[i:i + 1], layer) for i in range(9)]))
    assert torch.equal(results[0][:2], panel(x[:2], layer))
    assert torch.equal(results[0][:5], panel(x[:5], layer))



def test_c_entry_points_reject_overlapping_out_huge_n_and_take_empty_dims():
    C = B._C
    w, packed, x, out = packed_20x16()
    buf = torch.randn(60)
    with pytest.raises(ValueError, match="out and x: overlap in memory"):  # rows written while later rows are read
        C.gemm_small(buf[:48].view(3, 16), packed, None, buf.view(3, 20), 20, 0)
    with pytest.raises(ValueError, match="out and packed: overlap in memory"):
        C.gemm_small(x, packed, None, packed.view(-1)[:60].view(3, 20), 20, 0)
    with pytest.raises(ValueError, match="packed and weight: overlap in memory"):
        C.gemm_small_pack(packed.view(-1)[:320].view(20, 16), packed)
    # a huge out_features is named by out's shape (the panel count of it would overflow int64)
    with pytest.raises(ValueError, match=r"out: expected shape \[3, 9223372036854775807\]"):
        C.gemm_small(x, packed, None, out, 2**63 - 1, 0)
    # empty dims: torch's strides for [3, 0] are (1, 1), which are not "non-contiguous"
    empty_packed = torch.empty(2, 0, C.gemm_small_panel)
    C.gemm_small_pack(torch.empty(20, 0), empty_packed)
    C.gemm_small(torch.empty(3, 0), empty_packed, None, out, 20, 0)
    assert torch.equal(out, torch.zeros(3, 20))
    assert C.gemm_small(x, torch.empty(0, 16, C.gemm_small_panel), None, torch.empty(3, 0), 0, 0) is None
    for dtype in (torch.float32, torch.bfloat16):  # k == 0: every sum is empty, out = act(bias)
        bias = torch.randn(20).to(dtype)
        empty_packed = torch.empty(2, 0, 2 * C.gemm_small_panel if dtype == torch.bfloat16 else C.gemm_small_panel,
                                   dtype=dtype)
        out = torch.full((3, 20), float("nan"), dtype=dtype)
        C.gemm_small(torch.empty(3, 0, dtype=dtype), empty_packed, bias, out, 20, 2)
        torch.testing.assert_close(out, F.gelu(bias.float(), approximate="tanh").to(dtype).expand(3, 20))


def test_dtype_registry_takes_only_the_dtypes_in_code_order():
    """The kernels read a tensor's memory as its registered code's type: float32 registered as int64 read past the
    end of every float32 tensor. A wrong order is refused and the registry stays as it was."""
    C = B._C
    swapped = list(B._DTYPE_CODES)
    swapped[0], swapped[4] = swapped[4], swapped[0]
    with pytest.raises(ValueError, match="dtypes: expected torch.float32 at position 0"):
        C.register_tensor_dtypes(swapped)
    with pytest.raises(ValueError, match="dtypes: expected torch.float32 at position 0"):
        C.register_tensor_dtypes(["float32"] * 7)
    w, packed, x, out = packed_20x16()
    C.gemm_small(x, packed, None, out, 20, 0)
    torch.testing.assert_close(out, x @ w.t(), rtol=1e-5, atol=1e-5)
