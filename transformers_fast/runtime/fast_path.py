"""Process-wide pieces of the inference fast paths: the FastPath base class (derived state held beside a
model) and the malloc policy the user opts into."""
from __future__ import annotations

import functools
import itertools
import operator
import os
import threading
from typing import Optional

import torch
from torch import nn
from torch.nn.modules.module import _global_forward_hooks, _global_forward_pre_hooks

from transformers_fast import ops
from transformers_fast.file_utils import is_library_module

# What the fast paths run in: on the CPU the dtypes of the C++ kernels (bfloat16: bf16 weights and activations
# with fp32 accumulation in the GEMMs and fp32 statistics in LayerNorm and softmax, as torch's own bf16 ops
# compute them); on CUDA (or under the test-only ops.emulate_cuda()) float32, float16 and bfloat16, with
# torch's GEMMs and our CUDA kernels.
FAST_DTYPES = (torch.float32, torch.bfloat16)
CUDA_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def autocast_on(device_type: str) -> bool:
    if device_type == "meta":  # (no autocast there; torch raises when asked)
        return False
    try:
        return torch.is_autocast_enabled(device_type)
    except TypeError:  # torch < 2.4
        return torch.is_autocast_cpu_enabled() if device_type == "cpu" else torch.is_autocast_enabled()


def fast_tensor(t: torch.Tensor) -> bool:
    """Whether the fast paths serve a model whose parameters are like t (device and dtype). Not under
    torch.autocast: it picks each op's dtype, which the reference path's torch ops follow."""
    if autocast_on(t.device.type):
        return False
    if ops.on_cuda(t):
        return t.dtype in CUDA_DTYPES
    return t.is_cpu and t.dtype in FAST_DTYPES


MALLOC_ENV = "TRANSFORMERS_FAST_MALLOC"
MALLOC_CHOICES = ("default", "keep")
_malloc_lock = threading.Lock()
_malloc_done = False
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # from glibc's malloc.h


def _mallopt(param: int, value: int) -> bool:
    import ctypes

    try:
        return bool(ctypes.CDLL(None).mallopt(param, value))
    except (OSError, AttributeError):
        return False


def keep_freed_activation_memory() -> bool:
    """Makes glibc keep freed activation buffers for reuse instead of returning them to the OS: a setting of
    the whole process, so it is only made when the user asks for it (this call, or TRANSFORMERS_FAST_MALLOC=keep
    for the first fast forward to make it).

    By default glibc serves blocks above a dynamic threshold (128 KB at first) with mmap and trims freed
    memory at the top of its heap back to the OS, so every forward pays one page fault per 4 KB of fresh
    activations (BERT-base 1x128: about 5,000 faults; 8x128: 31,000). At about 3.5 us a fault this makes a
    forward 6.5 % slower at 1x128 and 4 % at 8x128 (no change at 1x8). Sets M_MMAP_THRESHOLD to 32 MB
    (glibc's own upper bound for it) and M_TRIM_THRESHOLD to 128 MB, once per process: the process then keeps
    up to 128 MB of freed memory. Returns True when this call set the thresholds (glibc only)."""
    global _malloc_done
    with _malloc_lock:
        if _malloc_done:
            return False
        _malloc_done = True
        import platform

        if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
            return False
        return _mallopt(_M_MMAP_THRESHOLD, 32 << 20) and _mallopt(_M_TRIM_THRESHOLD, 128 << 20)


def apply_malloc_setting() -> None:
    """Called when a fast path is built: TRANSFORMERS_FAST_MALLOC=keep turns keep_freed_activation_memory on;
    unset or "default" leaves malloc alone."""
    value = os.environ.get(MALLOC_ENV, "").strip().lower()
    if value == "keep":
        keep_freed_activation_memory()
    elif value not in ("", "default"):
        raise ValueError(f"{MALLOC_ENV}={os.environ[MALLOC_ENV]!r}: expected one of {', '.join(MALLOC_CHOICES)}")


# torch modules whose computation the fast paths read from their parameters (containers are never called)
_TORCH_FORWARDS = frozenset(cls.forward for cls in (nn.Module, nn.Linear, nn.LayerNorm, nn.Embedding, nn.Dropout,
                                                     nn.Identity, nn.Tanh, nn.ReLU, nn.GELU, nn.Sequential))


def mirrored(module: nn.Module) -> bool:
    """Whether the fast paths compute what `module` computes: its class's forward is this library's or one of
    the torch modules above (a subclass that keeps that forward counts too)."""
    forward = type(module).forward
    return forward in _TORCH_FORWARDS or is_library_module(getattr(forward, "__module__", None))


def _reads_training(module: nn.Module) -> bool:
    """Whether a module computes otherwise in training mode: dropout with p > 0, and every class but torch's
    mode-free layers and those declaring `reads_training = False` (this library's modules read self.training for
    their functional dropout). A mode-free layer made after eval() (by pruning, resizing) is in training mode."""
    if isinstance(module, nn.modules.dropout._DropoutNd):
        return module.p > 0
    declared = getattr(type(module), "reads_training", None)
    return declared if declared is not None else type(module).forward not in _TORCH_FORWARDS


def intercepts(module: nn.Module) -> bool:
    """Whether calling `module` runs more than its class's forward: a forward (pre-)hook on it or on every module,
    or a forward set on the instance."""
    return bool(module._forward_hooks or module._forward_pre_hooks or "forward" in module.__dict__
                or _global_forward_hooks or _global_forward_pre_hooks)


def records_autograd(module: nn.Module, *inputs) -> bool:
    """Whether a forward of `module` on `inputs` records autograd (the fast paths record none): grad mode on and a
    parameter or an input tensor requiring grad (inputs_embeds, past keys and values, memories; lists and tuples of
    them are looked into), as when a frozen model's inputs are differentiated (saliency, prefix tuning)."""
    if not torch.is_grad_enabled():
        return False
    return any(p.requires_grad for p in module.parameters()) or any(map(_requires_grad, inputs))


def _requires_grad(value) -> bool:
    if isinstance(value, torch.Tensor):
        return value.requires_grad
    if isinstance(value, (list, tuple)):
        return any(map(_requires_grad, value))
    return False


# modules the fast paths read as the identity in eval mode: one may stand in for the other in a slot
_IDENTITY_IN_EVAL = frozenset((nn.Dropout, nn.Identity))


@functools.lru_cache(maxsize=None)
def _projections() -> frozenset:
    """The projection layers the fast paths pack alike (ops.projection): one may stand in for another in a slot
    (an int8 layer put in by hand, a Linear for a GPT Conv1D)."""
    from transformers_fast.modeling_utils import Conv1D
    from transformers_fast.ops import PackedLinear, QuantizedLinear

    return frozenset((nn.Linear, Conv1D, PackedLinear, QuantizedLinear))


def _signature(module: nn.Module) -> tuple:
    """What a slot's builder relies on: the module's kind and which of its parameters are None (a LayerNorm
    without affine weights, a Linear without bias)."""
    cls = type(module)
    kind = nn.Identity if cls in _IDENTITY_IN_EVAL else nn.Linear if cls in _projections() else cls
    return kind, tuple(name for name, p in module._parameters.items() if p is None)


def record_structure(model: nn.Module) -> None:
    """Notes every submodule's signature as the library built (or itself replaced: quantize()) the model; the fast
    paths stand in for the model only while it keeps them (as_built)."""
    model.__dict__["_built_structure"] = {path: _signature(m) for path, m in model.named_modules()}


def as_built(model: nn.Module) -> bool:
    """Whether every submodule the library put in `model` is still of its class and parameters: a torch layer of
    another kind in a slot (an adapter where a dropout was, GELU for ReLU, a LayerNorm without weights) computes
    what the fast paths, which call no submodule, do not. Modules inside a replacement are not looked at (its
    class decides); a model the library did not build passes."""
    built = model.__dict__.get("_built_structure")
    if built is None:
        return True
    present = dict(model.named_modules())
    return all(path in present and _signature(present[path]) == signature for path, signature in built.items())


_version_of = operator.attrgetter("_version")
_training_of = operator.attrgetter("training")


class ModuleWatch:
    """What a fast path's derived state (packed weights) was built from: every submodule of `root` as its parent
    holds it, every parameter and buffer (an int8 layer's weights are buffers) by identity, storage and version
    counter, and a module's public plain attributes other than ints and tuples (eps, an activation function) by
    identity. changed() shows a replaced submodule, tensor or attribute, an assigned .data and an in-place change
    (inference tensors have no version counter and writes into `param.data` bypass it: those go unseen).

    runs_as_built() is False when some submodule is one the fast path cannot stand in for, since it calls no
    submodule: a class with its own forward (a LoRA wrapper, a subclass overriding forward, torch's dynamic int8
    Linear), a torch layer of another kind than the library built there (as_built), a forward hook (global or on
    a submodule; the root's own hooks run, its forward is called), or an instance forward; or a submodule in
    training mode (its dropout on). The reference path runs then."""

    def __init__(self, root: nn.Module):
        modules = list(root.modules())
        submodules = modules[1:]
        # the dicts themselves: hooks are added to these (register_forward_hook), an instance forward to __dict__
        self._hook_dicts = [d for m in submodules for d in (m._forward_hooks, m._forward_pre_hooks)]
        self._instance_dicts = [m.__dict__ for m in submodules]
        self._mode_sensitive = [m for m in submodules if _reads_training(m)]
        self._mirrored = all(mirrored(m) for m in modules) and as_built(root)
        held = [(m._modules, name, child) for m in modules for name, child in m._modules.items()]
        held += [(store, name, t) for m in modules for store in (m._parameters, m._buffers)
                 for name, t in store.items() if t is not None]
        # plain attributes a build reads (a LayerNorm's eps, an activation function, a switch such as XLM's causal):
        # assigning one counts; ints and tuples (widths, head counts) come with the weights' shapes, watched already
        held += [(vars(m), name, value) for m in modules for name, value in vars(m).items()
                 if not name.startswith("_") and (isinstance(value, bool) or not isinstance(value, (int, tuple)))]
        self._holders = [holder for holder, _, _ in held]
        self._names = [name for _, name, _ in held]
        self._held = [item for _, _, item in held]
        self._tensors = [item for item in self._held if isinstance(item, torch.Tensor)]
        self._versions = self._read_versions()

    # (map over C functions: these run before every fused forward)
    def _read_versions(self) -> tuple:
        # data_ptr: `param.data = other` keeps the parameter and its version counter but swaps the storage
        pointers = list(map(torch.Tensor.data_ptr, self._tensors))
        try:
            return pointers, list(map(_version_of, self._tensors))
        except RuntimeError:  # tensors created under inference_mode have no version counter
            return pointers, None

    def replaced(self) -> bool:
        """A submodule, parameter, buffer or plain attribute replaced (cheaper than changed(): no version
        counters read)."""
        return not all(map(operator.is_, map(dict.get, self._holders, self._names), self._held))

    def changed(self) -> bool:
        return self.replaced() or self._read_versions() != self._versions

    def runs_as_built(self) -> bool:
        if not self._mirrored or any(self._hook_dicts) or _global_forward_hooks or _global_forward_pre_hooks:
            return False
        if any(map(_training_of, self._mode_sensitive)):
            return False  # a part left in training mode in an eval model (dropout for Monte-Carlo sampling)
        return not any(map(operator.contains, self._instance_dicts, itertools.repeat("forward")))


def int8_kv_cache(model, weight: torch.Tensor) -> bool:
    """Whether generation keeps the keys and values it carries in int8: an int8-quantized model (unless quantized
    with kv_cache="float") whose float weights (`weight`) are float32 on the CPU."""
    spec = getattr(getattr(model, "config", None), "quantization", None)
    return (isinstance(spec, dict) and spec.get("kv_cache", "int8") == "int8" and weight.dtype is torch.float32
            and weight.device.type == "cpu")


class FastPath:
    """Derived inference state of a model (packed weights), held outside the module tree so that it is
    neither saved nor loaded; dropped when the model trains, moves or changes dtype, and rebuilt when a
    parameter or submodule is replaced or modified in place (ModuleWatch)."""

    model: nn.Module
    _watch: Optional[ModuleWatch] = None

    def invalidate(self) -> None:
        raise NotImplementedError

    def watch(self, replaced_only: bool = False) -> ModuleWatch:
        """The watch of the model as it is now: a change since the last look (with replaced_only, a replaced part
        only) drops the derived state."""
        watch = self._watch
        if watch is None or (watch.replaced() if replaced_only else watch.changed()):
            self.invalidate()
            watch = self._watch = ModuleWatch(self.model)
        return watch

    def runs_as_built(self) -> bool:
        """Whether every submodule computes what the fast path computes in its place (ModuleWatch)."""
        return self.watch(replaced_only=True).runs_as_built()

    def decodes(self) -> bool:
        """Whether generate's fused decoder (a model's fast path) computes what the model's modules do."""
        return self.enabled and self.runs_as_built()


class LinearFastPath(FastPath):
    """A model's linear layer (an LM head: `owner.<name>`, read at each call, so that a replaced layer counts) as a
    prepacked projection for inference (ops.projection, run through ops.linear): its backend is chosen by timing
    per shape like the blocks' (plain F.linear reaches about half of a core's DRAM rate at one row, where a decode
    step's head is most of the step). Rebuilt when the layer or its parameters change."""

    def __init__(self, owner, name: str):
        self.owner, self.name = owner, name
        self.enabled = True
        self._packed, self._layer, self._watch = None, None, None

    def invalidate(self) -> None:
        self._packed = None

    def __getstate__(self):
        return {"owner": self.owner, "name": self.name}  # (packed weights are derived state)

    def __setstate__(self, state):
        self.__init__(state["owner"], state["name"])

    def usable(self, x: torch.Tensor) -> bool:
        """A float nn.Linear in inference without autograd, on the fast paths' devices and dtypes, not tracing."""
        layer = getattr(self.owner, self.name)
        if not self.enabled or type(layer) is not torch.nn.Linear or ops.capturing_graph() or intercepts(layer):
            return False
        weight = layer.weight
        if not fast_tensor(weight) or x.dtype != weight.dtype or x.device != weight.device or x.numel() == 0:
            return False
        return not records_autograd(layer, x)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """x [..., in_features] -> the layer's output."""
        layer = getattr(self.owner, self.name)
        if self._packed is None or layer is not self._layer or self._watch.changed():
            with torch.inference_mode(False), torch.no_grad():
                self._packed = ops.projection([layer])
            self._layer, self._watch = layer, ModuleWatch(layer)
        return ops.linear(x.reshape(-1, x.shape[-1]), self._packed).view(*x.shape[:-1], -1)
