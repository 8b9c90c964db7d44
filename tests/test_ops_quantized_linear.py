"""The int8 GEMM kernel and QuantizedLinear against the same quantization math in plain torch (exact integer sums,
so the results are equal bit for bit before GELU), on every ISA and inner kernel, at 1 and 2 threads."""
import copy
import io
import math
import os

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from transformers_fast import ops
from transformers_fast.modeling_utils import Conv1D
from transformers_fast.ops import _backend as B
from transformers_fast.ops import quantized_linear as Q

needs_kernel = pytest.mark.skipif(not Q.kernel_available(), reason="int8 kernel not built for this CPU")

SIZES = [1, 7, 83, 769]
ACTIVATIONS = [None, "gelu", "gelu_tanh"]
# (rows, in, out) over SIZES; the portable kernel (scalar) skips the largest products.
SHAPES = [(r, i, o) for r in SIZES for i in SIZES for o in SIZES]


def select(isa="avx512", vnni=True, amx=True, emulate_amx=False):
    B._C.set_isa_cap(isa)
    B._C.gemm_int8_allow_vnni(vnni)
    B._C.gemm_int8_allow_amx(amx)
    B._C.gemm_int8_emulate_amx(emulate_amx)


def kernels_of_this_cpu(emulated_amx=False):
    """(ISA cap, VNNI allowed, AMX allowed, AMX emulated) choices that select each inner kernel this CPU has (and
    with emulated_amx the AMX kernel's emulation, which serves in_features that are multiples of 64)."""
    if not Q.kernel_available():
        return []
    found = {}
    isas = ["generic", "avx2", "avx512"]
    select()
    best = isas.index(B._C.cpu_isa())  # (read before any cap: cpu_isa() reports the capped ISA)
    choices = [(isa, vnni, amx, False) for isa in isas[:best + 1] for vnni in (False, True) for amx in (False, True)]
    choices += [(isas[best], True, True, True)] if emulated_amx else []
    for choice in choices:
        select(*choice)
        found.setdefault(B._C.gemm_int8_kernel(), choice)
    select()
    return sorted(found.items())


@pytest.fixture(params=kernels_of_this_cpu(), ids=lambda p: p[0])
def kernel(request):
    name, choice = request.param
    select(*choice)
    assert B._C.gemm_int8_kernel() == name
    yield name
    select()


def make(n_in, n_out, bias=True, activation=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    lin = nn.Linear(n_in, n_out, bias=bias)
    with torch.no_grad():
        lin.weight.copy_(torch.randn(n_out, n_in, generator=g) / math.sqrt(n_in))
        if bias:
            lin.bias.copy_(torch.randn(n_out, generator=g))
    return lin, ops.QuantizedLinear.from_float(lin, activation)


def expected(x, layer):
    return Q.reference(x.reshape(-1, layer.in_features), layer.weight_int8, layer.weight_scale, layer.bias,
                       layer.activation).view(*x.shape[:-1], layer.out_features)


def check_equal(got, want, activation):
    if activation is None:
        assert torch.equal(got, want), (got - want).abs().max()
    else:  # GELU: the kernels' vector GELU is within a few ulp of torch's
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


@needs_kernel
@pytest.mark.parametrize("rows,n_in,n_out", SHAPES, ids=str)
def test_kernel_equals_reference_math(kernel, rows, n_in, n_out):
    if kernel == "generic" and rows * n_in * n_out > 83 * 769 * 769:
        pytest.skip("scalar kernel: the largest products are covered by the vector kernels")
    for bias in (True, False):
        for activation in ACTIVATIONS:
            _, layer = make(n_in, n_out, bias, activation, seed=rows + n_in + n_out)
            x = torch.randn(rows, n_in)
            with torch.no_grad():
                check_equal(layer(x), expected(x, layer), activation)


@needs_kernel
@pytest.mark.parametrize("n_in", [768 + 5, 768])  # (the AMX kernel takes in_features in multiples of 64)
def test_every_kernel_gives_the_same_bits(n_in):
    """Exact int32 sums and one epilogue: the same bits from every kernel (a fused GELU, vectorised per ISA, may
    differ by its rounding)."""
    _, layer = make(n_in, 2304 + 3)
    x = torch.randn(37, n_in) * 3
    outs = {}
    for name, choice in kernels_of_this_cpu(emulated_amx=True):
        select(*choice)
        try:
            with torch.no_grad():
                outs[name] = layer(x)
        finally:
            select()
    assert "amx_int8_emulated" in outs
    first = next(iter(outs.values()))
    for name, out in outs.items():
        assert torch.equal(out, first), name


AMX_ROWS = [1, 15, 16, 17, 32, 33, 70, 200]


@needs_kernel
@pytest.mark.skipif(not hasattr(os, "fork"), reason="the probe forks (POSIX)")
def test_child_process_probe_survives_a_faulting_check():
    """Before the AMX tiles are first used, their self-check runs in a forked child: a check that faults (trap: an
    illegal instruction) reads as failed there, and this process goes on."""
    assert B._C._passes_in_child_process("true") is True
    assert B._C._passes_in_child_process("false") is False
    assert B._C._passes_in_child_process("trap") is False
    with pytest.raises(ValueError, match="outcome"):
        B._C._passes_in_child_process("segfault please")


@needs_kernel
@pytest.mark.parametrize("rows", AMX_ROWS)
@pytest.mark.parametrize("n_in,n_out", [(64, 16), (128, 17), (192, 33), (256, 48)])
def test_amx_kernel_equals_reference_math(rows, n_in, n_out):
    """The AMX kernel's logic (its tile emulation: 16 x 64-byte tiles, blocks of 32 rows x 2 panels, k in steps of
    64) over row and column counts around the tile edges; on an AMX machine the hardware tiles too."""
    for emulate in [True] + ([False] if B._C.cpu_has_amx_int8() else []):
        select(emulate_amx=emulate)
        try:
            assert B._C.gemm_int8_kernel() == ("amx_int8_emulated" if emulate else "amx_int8")
            for bias, activation in ((True, None), (False, "gelu")):
                _, layer = make(n_in, n_out, bias, activation, seed=rows + n_in)
                x = torch.randn(rows, n_in) * 2
                with torch.no_grad():
                    check_equal(layer(x), expected(x, layer), activation)
        finally:
            select()


@needs_kernel
@pytest.mark.parametrize("rows,emulate_amx", [(1, False), (8, False), (83, False), (769, False), (40, True)])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_one_and_two_threads_identical(rows, emulate_amx, activation):
    _, layer = make(768, 2304 + 5, activation=activation)
    x = torch.randn(rows, 768)
    old = torch.get_num_threads()
    select(emulate_amx=emulate_amx)
    try:
        with torch.no_grad():
            torch.set_num_threads(1)
            one = layer(x)
            torch.set_num_threads(2)
            two = layer(x)
    finally:
        torch.set_num_threads(old)
        select()
    assert torch.equal(one, two)


def test_close_to_the_float_layer():
    lin, layer = make(768, 3072, activation=None)
    x = torch.randn(16, 768)
    with torch.no_grad():
        y, ref = layer(x), lin(x)
    # per-channel int8 weights and per-token int8 activations: about 1 % of the output's scale
    assert (y - ref).abs().max() <= 0.02 * ref.abs().max()
    assert F.cosine_similarity(y.flatten(), ref.flatten(), dim=0) > 0.9995


def test_from_packed_linear_keeps_activation_and_conv1d_is_transposed():
    lin, _ = make(83, 769)
    packed = ops.PackedLinear(lin.weight, lin.bias, "gelu_tanh")
    q = ops.QuantizedLinear.from_float(packed)
    assert q.activation == "gelu_tanh"
    x = torch.randn(5, 83)
    with torch.no_grad():
        torch.testing.assert_close(q(x), F.gelu(lin(x), approximate="tanh"), atol=0.05, rtol=0)
    conv = Conv1D(769, 83)  # weight [in, out]
    with torch.no_grad():
        conv.weight.copy_(lin.weight.t())
        conv.bias.copy_(lin.bias)
    qc = ops.QuantizedLinear.from_float(conv)
    assert qc.weight_int8.shape == (769, 83)
    assert torch.equal(qc.weight_int8, ops.QuantizedLinear.from_float(lin).weight_int8)
    with torch.no_grad():
        assert torch.equal(qc(x), ops.QuantizedLinear.from_float(lin)(x))


def test_weight_quantization_is_symmetric_per_row():
    w = torch.tensor([[0.5, -1.0, 0.25], [0.0, 0.0, 0.0], [3.0, 1.5, -0.75]])
    q, scale = Q.quantize_weight(w)
    assert q.dtype == torch.int8 and scale.dtype == torch.float32
    torch.testing.assert_close(scale, torch.tensor([1.0, 0.0, 3.0]) / 127)
    assert q.tolist() == [[64, -127, 32], [0, 0, 0], [127, 64, -32]]  # round half to even: 63.5 -> 64, 31.75 -> 32
    with pytest.raises(ValueError, match="NaN or infinite"):
        Q.quantize_weight(torch.tensor([[1.0, float("nan")]]))


def test_special_rows_nan_zero_and_zero_weights():
    _, layer = make(83, 40)
    with torch.no_grad():
        layer.weight_int8[3].zero_()
    x = torch.randn(5, 83)
    x[1] = 0.0
    x[2, 7] = float("nan")
    x[4, 0] = float("inf")
    with torch.no_grad():
        y = layer(x)
    assert torch.equal(y[1], layer.bias)  # an all-zero row gives the bias
    assert torch.isnan(y[2]).all() and torch.isnan(y[4]).all()  # NaN / inf rows give NaN, as F.linear would
    assert torch.equal(y[[0, 3], 3], layer.bias[3].expand(2))  # a zero weight row gives its bias
    assert torch.equal(torch.nan_to_num(y), torch.nan_to_num(expected(x, layer)))


def test_shapes_dtypes_and_empty_input():
    _, layer = make(83, 20, activation="gelu")
    x = torch.randn(2, 3, 83)
    with torch.no_grad():
        y = layer(x)
        assert y.shape == (2, 3, 20)
        check_equal(y, expected(x, layer), "gelu")
        assert layer(torch.randn(0, 83)).shape == (0, 20)
        assert layer(torch.randn(83)).shape == (20,)
        yb = layer(x.bfloat16())
    assert yb.dtype == torch.bfloat16
    torch.testing.assert_close(yb.float(), y, atol=0.05, rtol=0.02)
    layer.to(torch.bfloat16)
    assert layer.weight_scale.dtype == torch.float32 and layer.weight_int8.dtype == torch.int8
    assert layer.bias.dtype == torch.bfloat16


def test_fallback_equals_kernel(monkeypatch):
    _, layer = make(769, 83, activation="gelu_tanh")
    x = torch.randn(9, 769)
    with torch.no_grad():
        kernel_out = layer(x)
        monkeypatch.setattr(Q, "kernel_available", lambda: False)
        torch_out = layer(x)
    check_equal(kernel_out, torch_out, "gelu_tanh")


def test_state_dict_round_trip_and_repacking():
    lin, layer = make(83, 769)
    state = layer.state_dict()
    assert set(state) == {"weight_int8", "weight_scale", "bias"}
    assert state["weight_int8"].dtype == torch.int8 and state["weight_scale"].dtype == torch.float32
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    fresh = ops.QuantizedLinear(torch.zeros(769, 83, dtype=torch.int8), torch.zeros(769), torch.zeros(769))
    fresh.load_state_dict(torch.load(buffer, weights_only=True))
    x = torch.randn(4, 83)
    with torch.no_grad():
        assert torch.equal(fresh(x), layer(x))
        before = layer(x)
        layer.weight_int8.neg_()  # in place: the packed copy follows
        after = layer(x)
        assert not torch.equal(after, before) and torch.equal(after, expected(x, layer))
    for clone in (copy.deepcopy(layer), torch.load(_pickled(layer), weights_only=False)):
        with torch.no_grad():
            assert torch.equal(clone(x), layer(x))
    assert not any(True for _ in layer.parameters())  # nothing to train


def _pickled(module):
    buffer = io.BytesIO()
    torch.save(module, buffer)
    buffer.seek(0)
    return buffer


def test_inference_only_errors():
    _, layer = make(83, 20)
    x = torch.randn(3, 83)
    with pytest.raises(RuntimeError, match="inference-only"):
        layer(x.requires_grad_())
    layer.train()
    with pytest.raises(RuntimeError, match="inference-only.*training mode"):
        layer(torch.randn(3, 83))
    with torch.no_grad():  # training mode without autograd (dropout sampling, say) still runs
        layer(torch.randn(3, 83))


@pytest.mark.parametrize("make_input, error, match", [
    (lambda: [[1.0] * 83], TypeError, "must be a torch.Tensor"),
    (lambda: torch.ones(3, 83, dtype=torch.long), TypeError, "floating-point"),
    (lambda: torch.randn(3, 82), ValueError, "83 features"),
    (lambda: torch.randn(()), ValueError, "83 features"),
    (lambda: torch.randn(3, 83, device="meta"), RuntimeError, "CPU only"),
])
def test_bad_inputs(make_input, error, match):
    _, layer = make(83, 20)
    with torch.no_grad(), pytest.raises(error, match=match):
        layer(make_input())


def test_bad_construction():
    with pytest.raises(TypeError, match="int8"):
        ops.QuantizedLinear(torch.zeros(3, 4), torch.zeros(3))
    with pytest.raises(TypeError, match="weight_scale"):
        ops.QuantizedLinear(torch.zeros(3, 4, dtype=torch.int8), torch.zeros(4))
    with pytest.raises(TypeError, match="bias"):
        ops.QuantizedLinear(torch.zeros(3, 4, dtype=torch.int8), torch.zeros(3), torch.zeros(4))
    with pytest.raises(ValueError, match="activation"):
        ops.QuantizedLinear(torch.zeros(3, 4, dtype=torch.int8), torch.zeros(3), activation="relu")
    with pytest.raises(TypeError, match="nn.Linear, a PackedLinear or a GPT Conv1D"):
        ops.QuantizedLinear.from_float(nn.Embedding(3, 4))


def test_strided_constructor_tensors_are_taken():
    """Strided int8 weights, scales and bias (slices of larger tensors) work as their contiguous copies."""
    torch.manual_seed(0)
    weight = torch.randint(-127, 128, (20, 24), dtype=torch.int8)[:, ::2]
    scale, bias = torch.rand(40)[::2] / 50, torch.randn(40)[::2]
    x = torch.randn(3, 12)
    expected = x @ (weight.float() * scale[:, None]).t() + bias
    layer = ops.QuantizedLinear(weight, scale, bias)
    torch.testing.assert_close(layer(x), expected, atol=0.1, rtol=0.05)
    torch.testing.assert_close(layer(x), ops.QuantizedLinear(weight.contiguous(), scale.contiguous(),
                                                             bias.contiguous())(x))


@needs_kernel
def test_c_entry_points_check_their_arguments():
    C = B._C
    _, layer = make(20, 40)
    packed, colsum = layer.packed()
    x, out, scale, bias = torch.randn(3, 20), torch.empty(3, 40), layer.weight_scale, layer.bias

    def call(**change):
        args = dict(x=x, packed=packed, colsum=colsum, weight_scale=scale, bias=bias, out=out, out_features=40,
                    activation=0)
        args.update(change)
        C.gemm_int8(**args)

    call()
    torch.testing.assert_close(out, expected(x, layer), rtol=0, atol=0)
    for change, match in [
        (dict(x=x.double()), "x: expected float32"),
        (dict(x=torch.randn(20, 3).t()), "x: must be contiguous"),
        (dict(x=torch.randn(3, 21)), "packed: expected shape"),
        (dict(packed=packed.view(torch.uint8)), "packed: expected int8"),
        (dict(colsum=colsum[:-16]), "colsum: expected shape"),
        (dict(colsum=colsum.long()), "colsum: expected int32"),
        (dict(weight_scale=scale[:-1]), "weight_scale: expected shape"),
        (dict(bias=bias.double()), "bias: expected float32"),
        (dict(out=torch.empty(3, 41)), "out: expected shape"),
        (dict(out_features=41), "out: expected shape|packed: expected shape|weight_scale"),
        (dict(activation=7), "activation: unknown code"),
        (dict(x=torch.randn(3, 20, device="meta")), "x: must be a CPU tensor"),
    ]:
        with pytest.raises(ValueError, match=match):
            call(**change)
    with pytest.raises(TypeError):
        call(x=x.tolist())
    with pytest.raises(ValueError, match="at most"):
        C.gemm_int8_pack(torch.zeros(1, Q.MAX_IN_FEATURES + 1, dtype=torch.int8), torch.empty(1, 1, 64, dtype=torch.int8),
                         torch.empty(16, dtype=torch.int32))
    with pytest.raises(ValueError, match="weight: expected int8"):
        C.gemm_int8_pack(torch.zeros(40, 20), packed, colsum)
    # the pack reads any strides: a transposed view packs like its contiguous copy
    w = torch.randint(-127, 128, (20, 40), dtype=torch.int8)
    p1, c1 = torch.empty_like(packed), torch.empty_like(colsum)
    p2, c2 = torch.empty_like(packed), torch.empty_like(colsum)
    C.gemm_int8_pack(w.t(), p1, c1)
    C.gemm_int8_pack(w.t().contiguous(), p2, c2)
    assert torch.equal(p1, p2) and torch.equal(c1, c2)
    assert torch.equal(c1[:40], w.t().sum(1, dtype=torch.int32)) and not c1[40:].any()


def test_stack_gives_each_layers_bits_and_linear_runs_it():
    """A stacked (fused QKV) int8 layer equals its layers one by one, bit for bit; without biases it equals them
    minus their biases; ops.linear runs QuantizedLinear as it runs PackedLinear."""
    torch.manual_seed(0)
    layers = [ops.QuantizedLinear.from_float(nn.Linear(40, n, bias=b)) for n, b in ((24, True), (17, False), (9, True))]
    x = torch.randn(2, 5, 40)
    with torch.no_grad():
        each = torch.cat([layer(x) for layer in layers], -1)
        stacked = ops.QuantizedLinear.stack(layers)
        assert torch.equal(ops.linear(x, stacked), each)
        plain = ops.QuantizedLinear.stack(layers, bias=False)
        assert plain.bias is None
        biases = torch.cat([layer.bias if layer.bias is not None else torch.zeros(17) for layer in layers])
        torch.testing.assert_close(ops.linear(x, plain) + biases, each, rtol=0, atol=1e-6)
        gelu = ops.QuantizedLinear.stack(layers[:1], activation="gelu")
        assert gelu.weight_int8.data_ptr() == layers[0].weight_int8.data_ptr()  # one layer: shared, not copied
        torch.testing.assert_close(ops.linear(x, gelu), F.gelu(layers[0](x)), rtol=1e-6, atol=1e-6)
    with pytest.raises(TypeError, match="QuantizedLinear"):
        ops.QuantizedLinear.stack([nn.Linear(4, 4)])
    with pytest.raises(ValueError, match="input features"):
        ops.QuantizedLinear.stack([layers[0], ops.QuantizedLinear.from_float(nn.Linear(8, 3))])
    with pytest.raises(TypeError, match="PackedLinear or a QuantizedLinear"):
        ops.linear(x, nn.Linear(40, 3))


def test_rows_and_from_weight():
    """rows(start, stop): a layer of some outputs, with their bits, on views of the buffers; from_weight quantizes a
    bare float weight [out, in] as from_float quantizes the nn.Linear holding it."""
    torch.manual_seed(0)
    linear = nn.Linear(24, 30)
    layer = ops.QuantizedLinear.from_float(linear)
    x = torch.randn(5, 24)
    with torch.no_grad():
        part = layer.rows(10, 30)
        assert part.weight_int8.data_ptr() == layer.weight_int8[10:].data_ptr()
        assert torch.equal(ops.linear(x, part), layer(x)[:, 10:])
        bare = ops.QuantizedLinear.from_weight(linear.weight, linear.bias)
        assert torch.equal(bare(x), layer(x))
    meta = ops.QuantizedLinear.from_weight(torch.empty(6, 4, device="meta"))
    assert meta.weight_int8.is_meta and meta.weight_int8.dtype == torch.int8 and meta.weight_scale.shape == (6,)
    with pytest.raises(ValueError, match="non-empty range"):
        layer.rows(20, 31)
    with pytest.raises(TypeError, match="float tensor"):
        ops.QuantizedLinear.from_weight(torch.zeros(3, 4, dtype=torch.int8))
