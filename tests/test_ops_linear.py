import copy
import io
import math
import time

import pytest
import torch
import torch.nn as nn

from transformers_fast import ops
from transformers_fast.ops import packed_linear

SHAPES = [(1, 7), (7, 83), (768, 769), (83, 1024), (769, 4096)]  # (in_features, out_features)
LEADING = [(1,), (17,), (3, 5)]


def reference(x, weight, bias, activation):
    y = x.double() @ weight.double().t()
    if bias is not None:
        y = y + bias.double()
    if activation == "gelu":
        y = 0.5 * y * (1 + torch.erf(y / math.sqrt(2)))
    elif activation == "gelu_tanh":
        y = 0.5 * y * (1 + torch.tanh(math.sqrt(2 / math.pi) * (y + 0.044715 * y.pow(3))))
    return y.float()


@pytest.fixture(params=["onednn", "torch", "panel", "auto"])
def backend(request, monkeypatch):
    if request.param == "onednn" and not packed_linear.onednn_available():
        pytest.skip("oneDNN linear ops missing in this torch")
    if request.param == "panel" and not packed_linear.panel_available():
        pytest.skip("small-row GEMM kernel not built")
    if request.param == "auto":
        monkeypatch.delenv(packed_linear.ENV, raising=False)
        monkeypatch.setattr(packed_linear, "_choice", {})
    else:
        monkeypatch.setenv(packed_linear.ENV, request.param)
    monkeypatch.setattr(packed_linear, "_forced", packed_linear._UNREAD)  # re-read the env
    used = []
    run = packed_linear._run
    monkeypatch.setattr(packed_linear, "_run", lambda name, *a: used.append(name) or run(name, *a))
    return request.param, used


def make_layer(n_in, n_out, bias=True, activation=None):
    w = torch.randn(n_out, n_in) / math.sqrt(n_in)
    b = torch.randn(n_out) if bias else None
    return ops.PackedLinear(w, b, activation), w, b


@pytest.mark.parametrize("activation", [None, "gelu", "gelu_tanh"])
@pytest.mark.parametrize("lead", LEADING, ids=str)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_packed_linear_matches_reference(backend, shape, lead, activation):
    layer, w, b = make_layer(*shape, activation=activation)
    x = torch.randn(*lead, shape[0])
    with torch.no_grad():
        got = layer(x)
    name, used = backend
    if name == "auto":
        assert set(used) == set(packed_linear.candidates())
    else:
        assert set(used) == {name}
    assert got.shape == (*lead, shape[1])
    torch.testing.assert_close(got, reference(x, w, b, activation), rtol=1e-5, atol=1e-5)


@torch.no_grad()
def test_calibration_of_a_streamed_weight_reads_it_from_dram(monkeypatch):
    """Few rows on a large weight stream it: each timed call follows an eviction of the caches, as in a model
    (whose other layers' weights evict it), not a call on a weight left in cache by the previous one."""
    events = []
    monkeypatch.setattr(packed_linear, "_evict_caches", lambda buffer: events.append("evict"))
    original = packed_linear._run
    monkeypatch.setattr(packed_linear, "_run", lambda *a: events.append("run") or original(*a))
    names = packed_linear.candidates()
    streamed = packed_linear.PackedLinear(torch.randn(1024, 512), torch.randn(1024))  # 2 MB
    assert packed_linear._calibrate(torch.randn(1, 512), streamed, names) in names
    timed = events[len(names):]  # (after one untimed warm-up call each)
    assert timed and timed == ["evict", "run"] * (len(timed) // 2)
    for rows, weight in ((128, torch.randn(1024, 512)), (1, torch.randn(64, 512))):  # many rows; a small weight
        events.clear()
        packed_linear._calibrate(torch.randn(rows, 512), packed_linear.PackedLinear(weight, None), names)
        assert "evict" not in events and events


@torch.no_grad()
def test_calibration_of_a_streamed_weight_keeps_the_panel_gemm_unless_clearly_slower(monkeypatch):
    """The one-call layers need every projection on the panel GEMM: a streamed weight keeps it against a backend
    up to 20 % faster at up to 8 rows, 10 % at more; other shapes keep oneDNN against one up to 3 % faster."""
    names = packed_linear.candidates()
    if "panel" not in names or len(names) < 2:
        pytest.skip("needs the panel GEMM and another backend")
    other = next(name for name in names if name != "panel")
    streamed = packed_linear.PackedLinear(torch.randn(1024, 512), torch.randn(1024))  # 2 MB
    small = packed_linear.PackedLinear(torch.randn(64, 512), torch.randn(64))
    monkeypatch.setattr(packed_linear, "_evict_caches", lambda buffer: None)

    def calibrated(layer, rows, names, times):  # _run takes the time given per backend (on the calibration's clock)
        monkeypatch.setattr(packed_linear, "_run", lambda backend, x2, layer: time.sleep(0.01 * times.get(backend, 1)))
        return packed_linear._calibrate(torch.randn(rows, 512), layer, names)

    for rows, kept, taken in ((1, 0.85, 0.75), (8, 0.85, 0.75), (9, 0.95, 0.85), (64, 0.95, 0.85)):
        assert calibrated(streamed, rows, [other, "panel"], {other: kept}) == "panel"
        assert calibrated(streamed, rows, [other, "panel"], {other: taken}) == other
    assert calibrated(streamed, 256, [other, "panel"], {other: 0.95}) == other  # many rows
    assert calibrated(small, 1, ["panel", other], {other: 0.99}) == "panel"  # a small weight
    assert calibrated(small, 1, ["panel", other], {other: 0.9}) == other


@torch.no_grad()
def test_no_bias_and_functional_form(backend):
    for activation in (None, "gelu"):
        layer, w, _ = make_layer(83, 769, bias=False, activation=activation)
        x = torch.randn(4, 83)
        torch.testing.assert_close(ops.linear(x, layer), reference(x, w, None, activation), rtol=1e-5, atol=1e-5)
        strided = torch.randn(83, 5).t()  # non-contiguous input: copied, same result
        torch.testing.assert_close(ops.linear(strided, layer), reference(strided, w, None, activation),
                                   rtol=1e-5, atol=1e-5)


def test_calibration_is_cached_per_shape_class(monkeypatch):
    monkeypatch.delenv(packed_linear.ENV, raising=False)
    monkeypatch.setattr(packed_linear, "_forced", packed_linear._UNREAD)
    monkeypatch.setattr(packed_linear, "_choice", {})
    layer, _, _ = make_layer(64, 96)
    with torch.no_grad():
        layer(torch.randn(8, 64))
        layer(torch.randn(5, 64))  # same bucket: no second calibration
        layer(torch.randn(300, 64))
    choices = packed_linear.chosen_backends()
    assert set(choices.values()) <= set(packed_linear.BACKENDS)
    assert {k[3] for k in choices} == {packed_linear._row_bucket(8), packed_linear._row_bucket(300)}
    assert len(choices) == 2
    assert packed_linear._row_bucket(5) == packed_linear._row_bucket(8) != packed_linear._row_bucket(4)
    # Only the packed copies of the chosen backends stay.
    assert set(layer._packed) <= set(choices.values())
    # With GELU the same shape is another class (the panel kernel fuses it, the libraries add a pass).
    gelu_layer, _, _ = make_layer(64, 96, activation="gelu")
    with torch.no_grad():
        gelu_layer(torch.randn(8, 64))
    assert len(packed_linear.chosen_backends()) == 3
    assert {k[2] for k in packed_linear.chosen_backends()} == {"none", "gelu"}


@torch.no_grad()
def test_without_onednn_uses_torch_and_forcing_it_warns(monkeypatch):
    monkeypatch.setattr(packed_linear, "onednn_available", lambda: False)
    monkeypatch.setattr(packed_linear, "panel_available", lambda: False)
    monkeypatch.setattr(packed_linear, "_choice", {})
    layer, w, b = make_layer(16, 8, activation="gelu")
    x = torch.randn(5, 16)
    monkeypatch.delenv(packed_linear.ENV, raising=False)
    monkeypatch.setattr(packed_linear, "_forced", packed_linear._UNREAD)
    torch.testing.assert_close(layer(x), reference(x, w, b, "gelu"), rtol=1e-5, atol=1e-5)
    assert packed_linear.chosen_backends() == {}
    monkeypatch.setenv(packed_linear.ENV, "onednn")
    monkeypatch.setattr(packed_linear, "_forced", packed_linear._UNREAD)
    packed_linear.B._warned.clear()
    with pytest.warns(RuntimeWarning, match="oneDNN"):
        torch.testing.assert_close(layer(x), reference(x, w, b, "gelu"), rtol=1e-5, atol=1e-5)
    monkeypatch.setenv(packed_linear.ENV, "mkl")
    monkeypatch.setattr(packed_linear, "_forced", packed_linear._UNREAD)
    with pytest.raises(ValueError, match=packed_linear.ENV):
        layer(x)


def test_state_dict_has_standard_names_and_repacks_after_load(backend):
    lin = nn.Linear(32, 48)
    layer = ops.PackedLinear.from_linear(lin, "gelu")
    assert list(layer.state_dict()) == ["weight", "bias"]
    x = torch.randn(6, 32)
    with torch.no_grad():
        layer(x)  # packs the current weight
        other = nn.Linear(32, 48)
        layer.load_state_dict(other.state_dict())  # in-place copy: same storage, new version
        torch.testing.assert_close(layer(x), reference(x, other.weight, other.bias, "gelu"), rtol=1e-5, atol=1e-5)
    restored = nn.Linear(32, 48)
    restored.load_state_dict(layer.state_dict())
    assert torch.equal(restored.weight, other.weight)


def test_a_weight_replaced_by_one_of_another_shape_is_used(backend):
    """As nn.Linear: the layer computes with the weight it holds now, its widths read from it, on every backend."""
    layer, _, _ = make_layer(12, 20, bias=False)
    x = torch.randn(3, 12)
    with torch.no_grad():
        layer(x)  # packs the first weight
        weight = torch.randn(7, 12)
        layer.weight = nn.Parameter(weight, requires_grad=False)
        out = layer(x)
    assert out.shape == (3, 7) and (layer.out_features, layer.in_features) == (7, 12)
    torch.testing.assert_close(out, x @ weight.t(), rtol=1e-5, atol=1e-5)


def test_inference_mode_including_inference_tensor_weights(backend):
    layer, w, b = make_layer(16, 24, activation="gelu")
    x = torch.randn(3, 16)
    with torch.inference_mode():
        torch.testing.assert_close(layer(x), reference(x, w, b, "gelu"), rtol=1e-5, atol=1e-5)
        built_inside = ops.PackedLinear(w.clone(), b.clone(), "gelu")  # inference-tensor weights
        torch.testing.assert_close(built_inside(x), reference(x, w, b, "gelu"), rtol=1e-5, atol=1e-5)
        built_inside.weight.mul_(2)  # no version counter: repack() makes the change visible
        built_inside.repack()
        torch.testing.assert_close(built_inside(x), reference(x, 2 * w, b, "gelu"), rtol=1e-5, atol=1e-5)


def test_deepcopy_and_save(backend):
    layer, w, b = make_layer(16, 24, activation="gelu_tanh")
    x = torch.randn(3, 16)
    with torch.no_grad():
        layer(x)
        clone = copy.deepcopy(layer)
        buf = io.BytesIO()
        torch.save(layer.state_dict(), buf)
        buf.seek(0)
        fresh = ops.PackedLinear(torch.empty(24, 16), torch.empty(24), "gelu_tanh")
        fresh.load_state_dict(torch.load(buf, weights_only=True))
        for m in (clone, fresh):
            torch.testing.assert_close(m(x), reference(x, w, b, "gelu_tanh"), rtol=1e-5, atol=1e-5)


def test_training_uses_plain_linear_on_the_weight(backend):
    lin = nn.Linear(10, 12)
    layer = ops.PackedLinear.from_linear(copy.deepcopy(lin), "gelu")
    x = torch.randn(4, 10, requires_grad=True)
    x2 = x.detach().clone().requires_grad_()
    layer(x).sum().backward()
    torch.nn.functional.gelu(lin(x2)).sum().backward()
    torch.testing.assert_close(layer.weight.grad, lin.weight.grad)
    torch.testing.assert_close(x.grad, x2.grad)


@torch.no_grad()
def test_other_dtypes_and_empty_input():
    layer, w, b = make_layer(8, 4)
    layer = layer.to(torch.bfloat16)
    x = torch.randn(3, 8, dtype=torch.bfloat16)
    torch.testing.assert_close(layer(x), torch.nn.functional.linear(x, layer.weight, layer.bias))
    layer32, _, _ = make_layer(8, 4)
    assert layer32(torch.empty(0, 8)).shape == (0, 4)


def test_bad_input_raises_clear_errors():
    layer, _, _ = make_layer(8, 4)
    with pytest.raises(ValueError, match="x has 7 features"):
        layer(torch.randn(2, 7))
    with pytest.raises(TypeError, match="x has dtype"):
        layer(torch.randn(2, 8, dtype=torch.float16))
    with pytest.raises(TypeError, match="nn.Linear"):
        ops.PackedLinear.from_linear(nn.Conv1d(2, 2, 1))
    with pytest.raises(ValueError, match="activation"):
        ops.PackedLinear(torch.randn(4, 8), None, "relu")
    with pytest.raises(ValueError, match="weight must be"):
        ops.PackedLinear(torch.randn(8), None)
    with pytest.raises(ValueError, match=r"bias must have shape \[4\]"):
        ops.PackedLinear(torch.randn(4, 8), torch.randn(5))
    with pytest.raises(TypeError, match="PackedLinear"):
        ops.linear(torch.randn(2, 8), nn.Linear(8, 4))


def test_torch_compile_traces_packed_linear():
    from torch._dynamo.testing import CompileCounterWithBackend

    layer, w, b = make_layer(16, 8, activation="gelu")
    layer.requires_grad_(False)  # inference: the traced path must not depend on autograd
    counter = CompileCounterWithBackend("eager")
    fn = torch.compile(lambda x: layer(x) * 2, backend=counter, fullgraph=True)
    x = torch.randn(4, 16)
    with torch.no_grad():
        torch.testing.assert_close(fn(x), reference(x, w, b, "gelu") * 2, rtol=1e-5, atol=1e-5)
    assert counter.frame_count == 1


def _bf16_error(got, want):
    return (got.float() - want).abs().max().item()


@pytest.mark.parametrize("activation", [None, "gelu", "gelu_tanh"])
@pytest.mark.parametrize("shape", [(7, 83), (768, 769), (83, 1024)], ids=str)
@pytest.mark.parametrize("rows", [1, 5, 300])
def test_bfloat16_layer_on_a_prepacked_backend_within_torchs_own_bf16_error(backend, shape, rows, activation):
    """bf16 weights and input: the layer runs one of the bf16 backends (a forced one where it serves bf16) with
    an error against the float64 reference at most 2x that of torch's bf16 ops."""
    layer, w, b = make_layer(*shape, activation=activation)
    layer = layer.to(torch.bfloat16)
    x = torch.randn(rows, shape[0]).bfloat16()
    with torch.no_grad():
        got = layer(x)
    assert got.dtype is torch.bfloat16 and got.shape == (rows, shape[1])
    name, used = backend
    assert used and set(used) <= set(packed_linear.candidates(torch.bfloat16))
    if name != "auto" and name in packed_linear.candidates(torch.bfloat16):
        assert set(used) == {name}
    wb, bb = layer.weight, layer.bias
    want = reference(x.float(), wb.float(), bb.float(), activation)
    torch_bf16 = packed_linear._reference(x, wb, bb, activation)
    assert _bf16_error(got, want) <= 2 * _bf16_error(torch_bf16, want) + 1e-6


@torch.no_grad()
def test_bfloat16_choices_are_their_own_shape_class(monkeypatch):
    monkeypatch.delenv(packed_linear.ENV, raising=False)
    monkeypatch.setattr(packed_linear, "_forced", packed_linear._UNREAD)
    monkeypatch.setattr(packed_linear, "_choice", {})
    layer, _, _ = make_layer(64, 96)
    layer(torch.randn(8, 64))
    layer.to(torch.bfloat16)(torch.randn(8, 64).bfloat16())
    dtypes = {k[5]: v for k, v in packed_linear.chosen_backends().items()}
    assert set(dtypes) == {"float32", "bfloat16"}
    assert dtypes["bfloat16"] in packed_linear.candidates(torch.bfloat16)


def test_mixed_dtypes_raise_a_clear_error():
    layer, _, _ = make_layer(16, 8)
    with pytest.raises(TypeError, match="dtype"):
        layer.to(torch.bfloat16)(torch.randn(3, 16))
