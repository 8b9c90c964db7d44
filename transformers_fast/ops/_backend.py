"""What every op shares: loading the C++ core, argument checks, CPU/torch dispatch, registration.

An op calls the C++ kernel when it can (CPU, float32 or bfloat16, no autograd needed). Otherwise it runs its
plain-torch twin: silently when autograd needs gradients (training uses torch ops by design) or when
this CPU has no vector kernels (see KERNELS_ON), with one warning per op and reason when the extension
cannot serve the input (not built, other device or dtype), never with a silently wrong answer.
"""
from __future__ import annotations

import contextlib
import os
import warnings
from typing import Callable, Optional

import torch

try:
    from transformers_fast import _C
except ImportError as err:  # pragma: no cover - exercised only on a broken install
    _C = None
    _IMPORT_ERROR = err
else:
    _IMPORT_ERROR = None

if _C is not None:  # the C++ side reads tensors itself and matches their dtype against these, in code order
    _C.register_tensor_dtypes([torch.float32, torch.float16, torch.bfloat16, torch.int32, torch.int64, torch.uint8,
                               torch.int8])
_FLOAT_DTYPES = (torch.float32, torch.float16, torch.bfloat16)
CPU_KERNEL_DTYPES = (torch.float32, torch.bfloat16)  # what the C++ CPU kernels take (bfloat16 computed in fp32)

ISA_ENV = "TRANSFORMERS_FAST_ISA"
ISA_CHOICES = ("generic", "avx2", "avx512")  # the C++ side reads the same variable (cpu_features.cpp)


def _check_isa_env() -> None:
    value = os.environ.get(ISA_ENV, "")
    if value and value.lower() not in ISA_CHOICES:
        raise ValueError(f"{ISA_ENV}={value!r} is not an ISA transformers_fast knows: use one of "
                         f"{', '.join(ISA_CHOICES)}, or leave it unset for the best this CPU has")


_check_isa_env()
# Decided once per process: the fused kernels only where they are vectorised (AVX2+FMA or AVX-512). The
# portable scalar build is several times slower than torch's own ops, so CPUs without those (and aarch64,
# where only the portable build exists) run torch for every op; the tokenizers use _C on every CPU.
KERNELS_ON = _C is not None and _C.cpu_isa() != "generic"
_warned: set = set()
_threads = [0]


def has_extension() -> bool:
    return _C is not None


def has_kernels() -> bool:
    """True when the ops run the C++ kernels on this machine (KERNELS_ON), False where they run torch."""
    return KERNELS_ON


def cuda_extension():
    """The `_cuda` module (built whenever nvcc was found at build time), or None."""
    if not _cuda_state:
        try:
            from transformers_fast import _cuda
        except ImportError:
            _cuda = None
        if _cuda is not None and hasattr(_cuda, "register_tensor_dtypes"):
            _cuda.register_tensor_dtypes(_DTYPE_CODES)
        _cuda_state.append(_cuda)
    return _cuda_state[0]


_cuda_state: list = []  # [the _cuda module or None], filled on first use
_DTYPE_CODES = [torch.float32, torch.float16, torch.bfloat16, torch.int32, torch.int64, torch.uint8, torch.int8]


_emulated: list = [None]  # the module host tensors are sent to inside emulate_cuda(), else None


@contextlib.contextmanager
def emulate_cuda(module=None):
    """Test-only: inside the block, host (CPU) tensors stand for CUDA tensors. The ops send them to the CUDA
    kernels of `module` (default: _cuda_emu, the same .cu sources run on CPU threads) instead of the CPU
    kernels, and the runtimes, which ask on_cuda(), take their CUDA paths: a model's GPU fast path then runs
    end to end without a GPU. Process-wide (not for concurrent use); nests."""
    if module is None:
        from transformers_fast import _cuda_emu as module
    if hasattr(module, "register_tensor_dtypes"):
        module.register_tensor_dtypes(_DTYPE_CODES)
    previous = _emulated[0]
    _emulated[0] = module
    try:
        yield module
    finally:
        _emulated[0] = previous


def on_cuda(t: torch.Tensor) -> bool:
    """Whether t takes the CUDA paths: a CUDA tensor, or a host tensor inside emulate_cuda()."""
    return t.device.type == "cuda" or (_emulated[0] is not None and t.device.type == "cpu")


def real_cuda(t: torch.Tensor) -> bool:
    """A tensor on a real CUDA device (where torch's own CUDA kernels exist too); never an emulated one."""
    return t.device.type == "cuda"


def use_cuda_kernel(op: str, *tensors: Optional[torch.Tensor]):
    """The `_cuda` module when its kernel can serve these tensors (CUDA tensors, no autograd), else None;
    warns once when CUDA tensors meet a build without CUDA kernels (they then run torch's ops). Inside
    emulate_cuda(), the emulated module for host tensors."""
    first = next(t for t in tensors if t is not None)
    if needs_grad(*tensors):
        return None
    if _emulated[0] is not None and first.device.type == "cpu":
        return _emulated[0]
    if first.device.type != "cuda":
        return None
    mod = cuda_extension()
    if mod is None or not hasattr(mod, "gelu"):
        warn_once(op, "this build has no CUDA kernels (nvcc was not found when it was built)")
        return None
    return mod


def cuda_stream(t: torch.Tensor) -> int:
    """The stream our CUDA kernels launch on: the caller's current stream on t's device (0 for host tensors,
    as the emulated build takes)."""
    if t.device.type != "cuda":
        return 0
    return torch.cuda.current_stream(t.device).cuda_stream


def on_device(t: torch.Tensor, fn: Callable, *args):
    """fn(*args) with t's CUDA device current (our kernels launch on the current device)."""
    if t.device.type == "cuda" and t.device.index is not None and t.device.index != torch.cuda.current_device():
        with torch.cuda.device(t.device):
            return fn(*args)
    return fn(*args)


def cpu_isa() -> str:
    """The ISA the C++ kernels dispatch to on this machine ("avx512", "avx2" or "generic")."""
    return _C.cpu_isa() if _C is not None else "unavailable"


def cpu_features() -> str:
    return _C.cpu_features() if _C is not None else "unavailable"


def parallel_backend() -> str:
    """What runs the C++ kernels' parallel regions: "openmp" (the OpenMP runtime torch's ops run on, one pool
    for both) or "pool" (the core's own, where it was built without GCC's OpenMP)."""
    return _C.parallel_backend() if _C is not None else "unavailable"


def sync_threads() -> None:
    """Sets the C++ kernels' thread count to torch.get_num_threads() (read at every call: a change of
    torch's setting takes effect on the next call)."""
    n = torch.get_num_threads()
    if n != _threads[0]:
        _C.set_num_threads(n)
        _threads[0] = n


def warn_once(op: str, reason: str) -> None:
    key = (op, reason)
    if key not in _warned:
        _warned.add(key)
        warnings.warn(f"transformers_fast.ops.{op}: {reason}; using the plain torch implementation",
                      RuntimeWarning, stacklevel=3)


def check_tensor(name: str, t, *, any_floating: bool = False, ndim_min: int = 0) -> None:
    """A tensor of a dtype the ops take (float32, float16, bfloat16; any_floating: also float64, which
    PackedLinear serves through F.linear) with at least ndim_min dims."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if any_floating and not t.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {t.dtype}")
    if not any_floating and t.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"{name} must be float32, float16 or bfloat16, got {t.dtype}")
    if t.dim() < ndim_min:
        raise ValueError(f"{name} must have at least {ndim_min} dimension(s), got shape {tuple(t.shape)}")


def check_same_device_dtype(op: str, ref_name: str, ref: torch.Tensor, **others: Optional[torch.Tensor]) -> None:
    for name, t in others.items():
        if t is None:
            continue
        if t.device != ref.device:
            raise ValueError(f"{op}: {name} is on {t.device} but {ref_name} is on {ref.device}")
        if t.dtype != ref.dtype:
            raise TypeError(f"{op}: {name} has dtype {t.dtype} but {ref_name} has {ref.dtype}")


def check_vector(op: str, name: str, t: Optional[torch.Tensor], n: int, *, any_floating: bool = False) -> None:
    """An optional per-feature parameter (bias, weight) must have shape [n] (dtypes as check_tensor)."""
    if t is None:
        return
    check_tensor(name, t, any_floating=any_floating)
    if t.dim() != 1 or t.shape[0] != n:
        raise ValueError(f"{op}: {name} must have shape [{n}], got {tuple(t.shape)}")


def check_same_shape(op: str, ref_name: str, ref: torch.Tensor, name: str, t: torch.Tensor) -> None:
    if t.shape != ref.shape:
        raise ValueError(f"{op}: {name} must have the shape of {ref_name} {tuple(ref.shape)}, got {tuple(t.shape)}")


def check_number(op: str, name: str, value, *, minimum: Optional[float] = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{op}: {name} must be a number, got {type(value).__name__}")
    if minimum is not None and not value >= minimum:
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {value}")
    return float(value)


def check_lengths(op: str, name: str, t, ref: torch.Tensor, count: int, maximum: int) -> torch.Tensor:
    """Per-sequence lengths: an int32/int64 tensor [count] on ref's device with values in [0, maximum].
    Returned as contiguous int64 (what the C++ core takes)."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{op}: {name} must be a torch.Tensor, got {type(t).__name__}")
    if t.dtype not in (torch.int32, torch.int64):
        raise TypeError(f"{op}: {name} must be int32 or int64, got {t.dtype}")
    if t.device != ref.device:
        raise ValueError(f"{op}: {name} is on {t.device} but the inputs are on {ref.device}")
    if t.dim() != 1 or t.shape[0] != count:
        raise ValueError(f"{op}: {name} must have shape [{count}], got {tuple(t.shape)}")
    if t.numel() and not is_compiling() and (int(t.min()) < 0 or int(t.max()) > maximum):
        raise ValueError(f"{op}: {name} values must be in [0, {maximum}], got {t.tolist()}")
    return t.to(torch.int64).contiguous()


def broadcasts_to(shape, target) -> bool:
    """True when a tensor of `shape` broadcasts to exactly `target` (torch.broadcast_shapes is ~40x slower)."""
    if len(shape) > len(target):
        return False
    return all(s == 1 or s == t for s, t in zip(reversed(shape), reversed(target)))


def contiguous(*tensors: Optional[torch.Tensor]):
    return tuple(None if t is None else t.contiguous() for t in tensors)


def needs_grad(*tensors: Optional[torch.Tensor]) -> bool:
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def use_cpu_kernel(op: str, *tensors: Optional[torch.Tensor]) -> bool:
    """True when the C++ CPU kernel can serve these tensors; warns once per reason when it can't."""
    if needs_grad(*tensors):
        return False
    first = next(t for t in tensors if t is not None)
    if first.device.type != "cpu":
        warn_once(op, f"no kernel for device {first.device.type} in this build")
        return False
    if first.dtype not in CPU_KERNEL_DTYPES:
        warn_once(op, f"the CPU kernel takes float32 or bfloat16, got {first.dtype}")
        return False
    if _C is None:
        warn_once(op, f"the C++ extension is not available ({_IMPORT_ERROR})")
        return False
    if not KERNELS_ON:
        return False
    sync_threads()
    return True


# What a C++ entry point raises for arguments it does not take (a non-tensor: TypeError; dtype, device,
# contiguity, shape: ValueError). On the fast path these send the caller to its full Python checks.
KERNEL_REJECTS = (ValueError, TypeError)


def fast_path(*tensors: Optional[torch.Tensor]) -> bool:
    """The common inference call: no autograd, not tracing, extension loaded. The C++ entry point
    then checks dtype, device, contiguity and shapes itself (reading the tensors directly); what it
    rejects (KERNEL_REJECTS) sends the caller to its full Python checks, which name the problem or
    take the plain-torch path."""
    if not KERNELS_ON or is_compiling() or _emulated[0] is not None:  # (emulated CUDA: the ops' CUDA branch)
        return False
    if tensors and getattr(tensors[0], "is_cuda", False):  # CUDA tensors: the ops' CUDA branch
        return False
    if torch.is_grad_enabled():
        for t in tensors:
            if getattr(t, "requires_grad", False):
                return False
    sync_threads()
    return True


def capturing_graph() -> bool:
    """torch.jit.trace, torch.compile or torch.export is recording: models take their reference path, since the
    fast paths' packed weights, data-pointer checks and per-batch layouts are not graph material (ops still
    enter a compiled graph as their custom ops)."""
    return torch.jit.is_tracing() or is_compiling()


def is_compiling() -> bool:
    compiler = getattr(torch, "compiler", None)
    if compiler is not None and hasattr(compiler, "is_compiling"):
        return compiler.is_compiling()
    try:  # torch < 2.3
        return torch._dynamo.is_compiling()
    except AttributeError:
        return False


def new_output(like: torch.Tensor) -> torch.Tensor:
    """A contiguous tensor shaped like `like`: every op returns contiguous results (and says so to
    torch.compile through its fake implementation)."""
    return torch.empty_like(like, memory_format=torch.contiguous_format)  # 2x faster than torch.empty(shape)


# Fresh CPU outputs at least this large are advised onto transparent huge pages before their first write. glibc
# gives such a block a mapping of its own, so every call faults it in again, and 4 KB faults cost several times
# the writes themselves (2 MB ones do not); smaller blocks may come from the heap, already faulted in.
HUGE_PAGE_MIN_BYTES = 32 << 20


def empty_large(*shape: int, dtype: torch.dtype, device) -> torch.Tensor:
    """torch.empty for large outputs (a language model's log-probabilities over its whole vocabulary)."""
    out = torch.empty(*shape, dtype=dtype, device=device)
    if out.device.type == "cpu" and _C is not None and out.numel() * out.element_size() >= HUGE_PAGE_MIN_BYTES:
        _C.advise_huge_pages(out)
    return out


def register_op(name: str, impl: Callable, fake: Callable) -> Optional[Callable]:
    """Registers impl as the torch.library custom op transformers_fast::name (torch >= 2.4), so that
    torch.compile treats it as one opaque node with `fake` giving output shapes. Returns the op, or
    None where this torch has no torch.library.custom_op (eager calls then use impl directly)."""
    custom_op = getattr(torch.library, "custom_op", None)
    if custom_op is None:
        return None
    op = custom_op(f"transformers_fast::{name}", impl, mutates_args=())
    op.register_fake(fake)
    return op


def dispatch(op, impl: Callable, *args):
    """Eager calls go straight to impl (no dispatcher overhead); traced calls go through the op."""
    if op is not None and is_compiling():
        return op(*args)
    return impl(*args)
