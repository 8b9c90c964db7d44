"""Linear layers with the weight prepacked once for the fastest GEMM backend on this machine (float32 and
bfloat16).

Backends: "onednn" (torch.ops.mkldnn._reorder_linear_weight + _linear_pointwise, private ops) and
"torch" (F.linear, i.e. MKL), each followed by our fused bias+GELU kernel when the layer has GELU, and
"panel" (our GEMM on the weight packed into 16-column panels, bias and GELU fused, built for few rows:
such products stream the whole weight once and are bound by memory bandwidth, where the libraries reach
about half of it; on AMD AVX-512 it also keeps up with oneDNN at hundreds of rows; a bfloat16 weight streams
half the bytes). Which is faster depends on the CPU (oneDNN ~2x MKL on AMD AVX-512, close on AVX2) and the
row count, so the first call per (in, out, activation, row bucket, threads, dtype) times the candidates on
the real input, at the thread count it will run with (a weight that few rows stream is read from DRAM then, as
in a model). bfloat16 layers choose between oneDNN's packed bf16 GEMM (AMX or AVX-512-bf16 where the CPU has
them), F.linear and the panel kernel, all with fp32 accumulation.
Backends round differently in the last bits, so the choice is stored per machine (see
ops/backend_choices.py) and every later run, in any process, computes the same bits.
A layer keeps only the packed copies of the backends chosen for its shape.
TRANSFORMERS_FAST_LINEAR=onednn|torch|panel forces one.
"""
from __future__ import annotations

import functools
import os
import threading
import time
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from transformers_fast.ops import _backend as B
from transformers_fast.ops import activation, backend_choices

ACTIVATIONS = (None, "gelu", "gelu_tanh")
BACKENDS = ("onednn", "torch", "panel")
ENV = "TRANSFORMERS_FAST_LINEAR"
_PANEL_ACT = {None: 0, "gelu": 1, "gelu_tanh": 2}  # tf::GemmAct
# (in_features, out_features, activation, row bucket, threads, dtype) -> backend. The activation is part of
# the shape class: with GELU the panel kernel fuses it and the library backends add a pass.
_choice: Dict[Tuple[int, int, str, int, int, str], str] = {}
# The dtypes the prepacked backends serve (their names in the choice keys); others (float16, float64) run F.linear.
_DTYPE_NAMES = {torch.float32: "float32", torch.bfloat16: "bfloat16"}
# Threads of this process making their first call of a shape at once wait for one calibration.
_calibration_lock = threading.Lock()


@functools.lru_cache(maxsize=None)
def onednn_available() -> bool:
    mkldnn = getattr(torch.ops, "mkldnn", None)
    return (torch.backends.mkldnn.is_available() and hasattr(mkldnn, "_reorder_linear_weight")
            and hasattr(mkldnn, "_linear_pointwise"))


def panel_available() -> bool:
    return B.has_kernels() and hasattr(B._C, "gemm_small")


@functools.lru_cache(maxsize=None)
def onednn_bf16_available() -> bool:
    """oneDNN runs bf16 GEMMs natively here (AVX-512-bf16 or AMX; AVX512-core emulates them)."""
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return onednn_available() and check is not None and bool(check())


def candidates(dtype: torch.dtype = torch.float32):
    """The backends on this machine for a dtype, the preferred one first."""
    names = ["onednn"] if (onednn_bf16_available() if dtype is torch.bfloat16 else onednn_available()) else []
    names.append("torch")
    if panel_available():
        names.append("panel")
    return tuple(names)


def _row_bucket(rows: int) -> int:
    """1, 2, 3-4, 5-8, 9-16 rows -> 1..5 (the small-row kernel's register blocks differ there);
    17-64 -> 6 (weight-stream bound); 65-512 -> 7; more -> 8."""
    if rows <= 16:
        return (rows - 1).bit_length() + 1
    return 6 if rows <= 64 else 7 if rows <= 512 else 8


_UNREAD = object()
_forced = _UNREAD  # the env override, read once per process (tests reset it to _UNREAD)


def _forced_backend() -> Optional[str]:
    global _forced
    if _forced is _UNREAD:
        name = (os.environ.get(ENV) or "").strip().lower() or None
        if name is not None and name not in BACKENDS:
            raise ValueError(f"{ENV} must be one of {BACKENDS}, got {name!r}")
        if name == "onednn" and not onednn_available():
            B.warn_once("linear", "oneDNN's linear ops are missing in this torch")
            name = "torch"
        if name == "panel" and not panel_available():
            B.warn_once("linear", "the small-row GEMM kernel is not in this build")
            name = "torch"
        _forced = name
    return _forced


def _reference(x, weight, bias, activation):
    y = F.linear(x, weight, bias)
    if activation is None:
        return y
    return F.gelu(y, approximate="tanh" if activation == "gelu_tanh" else "none")


def _as_parameter(t: torch.Tensor) -> nn.Parameter:
    # A tensor made under torch.inference_mode() may never require grad: such weights stay inference-only.
    return t if isinstance(t, nn.Parameter) else nn.Parameter(t, requires_grad=not t.is_inference())


class PackedLinear(nn.Module):
    """nn.Linear with a prepacked weight and an optional fused GELU ("gelu" = erf form,
    "gelu_tanh"). state_dict holds the usual `weight` and `bias`; the packed copy is derived
    (rebuilt when the weight changes) and never saved. Training uses F.linear on `weight`."""

    reads_training = False  # (a layer: the same in both modes)

    def __init__(self, weight: torch.Tensor, bias: Optional[torch.Tensor] = None,
                 activation: Optional[str] = None):
        super().__init__()
        B.check_tensor("weight", weight, any_floating=True)
        if weight.dim() != 2:
            raise ValueError(f"PackedLinear: weight must be [out_features, in_features], got {tuple(weight.shape)}")
        B.check_vector("PackedLinear", "bias", bias, weight.shape[0], any_floating=True)
        B.check_same_device_dtype("PackedLinear", "weight", weight, bias=bias)
        if activation not in ACTIVATIONS:
            raise ValueError(f"PackedLinear: activation must be one of {ACTIVATIONS}, got {activation!r}")
        self.weight = _as_parameter(weight)
        if bias is None:
            self.register_parameter("bias", None)
        else:
            self.bias = _as_parameter(bias)
        self.activation = activation
        self._packed = {}  # backend -> (weight version key, packed weight)

    # read from the weight: a weight replaced by one of another shape changes them (every backend alike)
    @property
    def out_features(self) -> int:
        return self.weight.shape[0]

    @property
    def in_features(self) -> int:
        return self.weight.shape[1]

    @classmethod
    def from_linear(cls, linear: nn.Linear, activation: Optional[str] = None) -> "PackedLinear":
        if not isinstance(linear, nn.Linear):
            raise TypeError(f"PackedLinear.from_linear needs an nn.Linear, got {type(linear).__name__}")
        return cls(linear.weight, linear.bias, activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, self)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, activation={self.activation}")

    def __getstate__(self):
        state = super().__getstate__().copy()
        state["_packed"] = {}  # oneDNN tensors do not pickle or deepcopy; rebuilt on use
        return state

    def __setstate__(self, state):
        if not isinstance(state.get("_packed"), dict):  # pickles of the one-backend version
            state["_packed"] = {}
        super().__setstate__(state)

    def repack(self) -> None:
        """Drops the packed copies; the next call packs the current weight again."""
        self._packed = {}

    def keep_packed(self, backends) -> None:
        """Frees the packed copies of every backend not in `backends`."""
        for name in [name for name in list(self._packed) if name not in backends]:
            self._packed.pop(name, None)  # (another thread's first call of this layer may have freed it)

    def packed_bytes(self) -> int:
        """Memory held by the packed copies (for tests and memory reports)."""
        return sum(t.numel() * t.element_size() for _, t in self._packed.values())

    def _packed_weight(self, backend: str, pack) -> torch.Tensor:
        w = self._parameters["weight"]
        # Inference tensors have no version counter: call repack() after changing one in place.
        key = (id(w), w.data_ptr(), -1 if w.is_inference() else w._version)
        entry = self._packed.get(backend)
        if entry is None or entry[0] != key:
            entry = self._packed[backend] = (key, pack(w.detach()))
        return entry[1]

    def onednn_weight(self) -> torch.Tensor:
        """The weight reordered for oneDNN, packed once and again only when the weight changes."""
        # No batch hint: one packing serves every batch size. On the AVX2 machine measured, hints
        # of 8, 128 or 1024 rows changed nothing beyond noise (+-8 %) at 8, 128 and 1024 rows.
        return self._packed_weight("onednn", lambda w: torch.ops.mkldnn._reorder_linear_weight(w.contiguous()))

    def panel_weight(self) -> torch.Tensor:
        """The weight as 16-column panels [ceil(out / 16), in, 16] for the small-row GEMM. Packs from
        any strides, so a transposed (Conv1D) weight view needs no contiguous copy."""
        return self._packed_weight("panel", _pack_panels)


def _pack_panels(w: torch.Tensor) -> torch.Tensor:
    """float32: [panels, k, 16]; bfloat16: [panels, ceil(k / 2), 32] (pairs of k per column)."""
    n, k = w.shape
    width = B._C.gemm_small_panel
    if w.dtype is torch.bfloat16:
        packed = torch.empty((n + width - 1) // width, (k + 1) // 2, 2 * width, dtype=torch.bfloat16)
    else:
        packed = torch.empty((n + width - 1) // width, k, width)
    B.sync_threads()
    B._C.gemm_small_pack(w, packed)
    return packed


def _run(backend: str, x2: torch.Tensor, layer: PackedLinear) -> torch.Tensor:
    """Inference only (no autograd), x2 [rows, in_features] contiguous float32 or bfloat16 (the weight's) on
    the CPU."""
    params = layer._parameters  # direct reads: nn.Module.__getattr__ costs ~0.5 us per access
    bias, act = params["bias"], layer.activation
    if backend == "panel":
        out = torch.empty(x2.shape[0], layer.out_features, dtype=x2.dtype)
        B.sync_threads()
        B._C.gemm_small(x2, layer.panel_weight(), bias, out, layer.out_features, _PANEL_ACT[act])
        return out
    if act is None:
        if backend == "onednn":
            return torch.ops.mkldnn._linear_pointwise(x2, layer.onednn_weight(), bias, "none", [], "")
        return F.linear(x2, params["weight"], bias)
    # With GELU, the library GEMM runs plain and our fused bias+GELU pass follows: oneDNN's own GELU
    # epilogue was 12-17 % slower on AMD Zen3 (768x3072: 7.5 ms plain + 0.22 ms pass vs 8.7 ms at 128 rows)
    # and 1-2 % slower on AMD AVX-512.
    if backend == "onednn":
        y = torch.ops.mkldnn._linear_pointwise(x2, layer.onednn_weight(), None, "none", [], "")
    else:
        y = F.linear(x2, params["weight"])
    approximate = "tanh" if act == "gelu_tanh" else "none"
    # The impls directly: the shapes are known to be right.
    return activation._gelu_impl(y, approximate) if bias is None else activation._bias_gelu_impl(y, bias, approximate)


# Few rows (at most this many) with a weight of at least _STREAMED_BYTES: the product streams the weight, and in
# a model the weight comes from DRAM (the other layers' weights evicted it). Timed on a weight the previous call
# left in the last-level cache (GPT-2's MLP, 9 MB, on a 32 MB L3), the choice was made for a case a model never
# runs.
_STREAMED_ROWS = 64
_STREAMED_BYTES = 1 << 20
_EVICTING_FLOATS = 16 << 20  # 64 MB read: more than the last-level caches hold


def _streams_weight(x2: torch.Tensor, layer: PackedLinear) -> bool:
    weight = layer._parameters["weight"]
    return x2.shape[0] <= _STREAMED_ROWS and weight.numel() * weight.element_size() >= _STREAMED_BYTES


def _evict_caches(buffer: torch.Tensor) -> None:
    """Reads a buffer larger than the caches, so that the next call reads its weight from DRAM. Read, not written:
    the lines it leaves are clean, as a model's other weights leave them (dirty ones would add write-backs to the
    timed call's reads)."""
    buffer.sum()


def _calibrate(x2: torch.Tensor, layer: PackedLinear, names, budget_s: float = 0.03) -> str:
    """Times the candidate backends on the real input and returns the fastest: one untimed warm-up call
    each (oneDNN builds its primitive), then alternating timed calls, best of at least 3 each, more for
    small shapes until about budget_s has been spent (at most 15). Where the product streams its weight, each
    timed call reads it from DRAM, as in a model, and every backend gets 5 calls (single calls from DRAM vary
    by a third). A backend more than twice as slow as the best is not timed again (oneDNN at one row was 100x
    slower on AMD Zen3: its calls used up the budget and left the others 3 calls each)."""
    for backend in names:
        _run(backend, x2, layer)
    streamed = _streams_weight(x2, layer)
    evicting = torch.ones(_EVICTING_FLOATS) if streamed else None  # (written: empty pages all read as one page)
    best = {name: float("inf") for name in names}
    timed, spent, rounds = list(names), 0.0, 0
    while rounds < (5 if streamed else 3) or (not streamed and spent < budget_s and rounds < 15):
        for backend in timed:
            if evicting is not None:
                _evict_caches(evicting)
            start = time.perf_counter()
            _run(backend, x2, layer)
            elapsed = time.perf_counter() - start
            best[backend] = min(best[backend], elapsed)
            spent += elapsed
        rounds += 1
        timed = [name for name in timed if best[name] <= 2 * min(best.values())]
    fastest = min(best, key=best.get)
    preferred, margin = _preferred(names, x2.shape[0], streamed)
    return fastest if best[fastest] < margin * best[preferred] else preferred


def _preferred(names, rows: int, streamed: bool) -> Tuple[str, float]:
    """The backend a calibration keeps unless another is faster by more than the margin: timings on shared
    machines jitter by a few %. A streamed weight keeps the panel GEMM: every backend waits on the same DRAM read
    there, and one projection off the panel GEMM takes the model's layers off their one C++ call each, which
    saves ~0.3 ms of Python per GPT-2 layer and step (12 % of a decode step at batch 1 on AMD Zen3; a fifth of
    the layer's weight stream), so up to 8 rows it stays unless another is 20 % faster, else 10 %.
    Otherwise oneDNN (the first) unless another is 3 % faster: its packed weight was never much slower."""
    if streamed and "panel" in names:
        return "panel", 0.80 if rows <= 8 else 0.90
    return names[0], 0.97


def stored_name(key, names) -> str:
    """The name of a shape class's choice in the machine's store; the candidates are part of it, so that a
    build or torch with another set of backends calibrates afresh."""
    return "/".join(map(str, key)) + "/" + "+".join(names)


def _choose(key, x2: torch.Tensor, layer: PackedLinear, names) -> str:
    """The backend of a shape class not chosen yet in this process: the one stored for this machine, or a
    fresh calibration that is stored (under the store's lock, so concurrent processes agree too)."""
    with _calibration_lock:
        backend = _choice.get(key)
        if backend is None:
            with backend_choices.stored() as saved:
                name = stored_name(key, names)
                backend = saved.get(name)
                if backend not in names:
                    backend = saved[name] = _calibrate(x2, layer, names)
            _choice[key] = backend
        # Keep only what this shape uses (other row buckets may have chosen other backends); under the lock, as
        # other threads' first calls add to _choice.
        used = {name for k, name in _choice.items() if k[:3] == key[:3] and k[5] == key[5]}
    layer.keep_packed(used)
    return backend


def _forced_for(dtype: torch.dtype) -> Optional[str]:
    """The forced backend where it serves this dtype (oneDNN may lack bf16: such layers then calibrate)."""
    forced = _forced_backend()
    if forced is not None and forced not in candidates(dtype):
        return None
    return forced


def chosen_backend(packed: "PackedLinear", rows: int) -> Optional[str]:
    """The backend `linear` runs for `rows` rows on this layer: the forced one, the calibrated one, or None
    before the first call of this shape class (which calibrates)."""
    forced = _forced_for(packed._parameters["weight"].dtype)
    if forced is not None:
        return forced
    return _choice.get(_choice_key(packed, rows))


def _choice_key(packed: "PackedLinear", rows: int) -> Tuple[int, int, str, int, int, str]:
    return (packed.in_features, packed.out_features, packed.activation or "none", _row_bucket(rows),
            torch.get_num_threads(), _DTYPE_NAMES.get(packed._parameters["weight"].dtype, "other"))


def chosen_backends() -> Dict[Tuple[int, int, str, int, int, str], str]:
    """The calibrated choices so far: (in_features, out_features, activation, row bucket, threads, dtype) ->
    backend."""
    return dict(_choice)


@functools.lru_cache(maxsize=None)
def _quantized():
    """ops.quantized_linear (it imports this module: looked up once, at the first int8 call)."""
    from transformers_fast.ops import quantized_linear

    return quantized_linear


def linear(x: torch.Tensor, packed: PackedLinear) -> torch.Tensor:
    """packed(x): x [..., in_features] -> [..., out_features], with the layer's activation. `packed` may also be
    an int8 ops.QuantizedLinear: the fast paths hold either kind of projection and call this one function."""
    if not isinstance(packed, PackedLinear):
        if isinstance(packed, _quantized().QuantizedLinear):
            return _quantized().quantized_linear(x, packed)
        raise TypeError(f"linear: packed must be a PackedLinear or a QuantizedLinear, got {type(packed).__name__}")
    params = packed._parameters
    w, b = params["weight"], params["bias"]
    n_in, n_out = packed.in_features, packed.out_features
    # The common inference case is decided with a few attribute reads (this runs per layer call).
    fast = (isinstance(x, torch.Tensor) and x.dtype is w.dtype and (w.dtype is torch.float32
                                                                    or w.dtype is torch.bfloat16)
            and x.is_cpu and w.is_cpu and x.dim() >= 1 and x.shape[-1] == n_in and x.numel() > 0
            and not (torch.is_grad_enabled() and (x.requires_grad or w.requires_grad
                                                  or (b is not None and b.requires_grad)))
            and not B.is_compiling())
    if not fast:
        B.check_tensor("x", x, any_floating=True)
        if x.dim() < 1:
            raise ValueError(f"linear: x must have at least one dimension, got shape {tuple(x.shape)}")
        if x.shape[-1] != n_in:
            raise ValueError(f"linear: x has {x.shape[-1]} features, the layer takes {n_in}")
        B.check_same_device_dtype("linear", "weight", w, x=x)
        return _reference(x, w, b, packed.activation)
    flat = x.dim() == 2
    x2 = x.contiguous() if flat else x.reshape(-1, n_in).contiguous()
    backend = _forced_for(w.dtype)
    if backend is None:
        key = _choice_key(packed, x2.shape[0])
        backend = _choice.get(key)
        if backend is None:
            names = candidates(w.dtype)
            backend = names[0] if len(names) == 1 else _choose(key, x2, packed, names)
    out = _run(backend, x2, packed)
    return out if flat else out.view(*x.shape[:-1], n_out)
