"""End-to-end benchmarks: each family's models against its reference library (`transformers`, or
pytorch-transformers 1.2.0 where `transformers` no longer has the model), on the same weights, timed in the same
run. One module per family builds the two models and returns its workloads as `Row`s; `suite` runs them all for
`transformers-fast bench` and writes JSON, markdown and a plot; the scripts in benchmarks/ print the same rows
with their extras (OpenVINO, ISA caps, loading times).

This module is the shared measuring code (timer, thread counts, machine description). Import it before anything
changes torch's thread count: DEFAULT_THREADS is what a user gets without torch.set_num_threads (every core, or
OMP_NUM_THREADS)."""
from __future__ import annotations

import argparse
import contextlib
import os
import platform
import tempfile
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import torch

DEFAULT_THREADS = torch.get_num_threads()
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def best_ms(fns, repeats: int, clock: str = "wall") -> List[float]:
    """Fastest of `repeats` runs of each function in ms, after one warm-up run each (weight packing, oneDNN
    primitives, first-call allocations), the functions taking turns so that a disturbance on a shared machine
    hits all alike. clock "cpu" counts the process's CPU time, all threads (robust when other processes share
    the cores)."""
    for fn in fns:
        fn()
    now = CLOCKS[clock]
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            start = now()
            fn()
            best[i] = min(best[i], now() - start)
    return [b * 1e3 for b in best]


# --max-isa: every library capped by its own setting, to emulate an AVX2+FMA machine (AMD Zen3) on an AVX-512 one.
ISA_CAPS = {"avx2": {
    "TRANSFORMERS_FAST_ISA": "avx2",
    "ATEN_CPU_CAPABILITY": "avx2",  # torch's own vectorised kernels (GELU, softmax, LayerNorm, adds)
    "ONEDNN_MAX_CPU_ISA": "AVX2", "DNNL_MAX_CPU_ISA": "AVX2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    "OV_CPU_MAX_ISA": "AVX2",
    "GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX512F,-AVX512VL,-AVX512BW,-AVX512DQ,-AVX512CD",
}}
CAPPED_ENV = "TRANSFORMERS_FAST_BENCH_MAX_ISA"  # set in the capped process


def add_max_isa_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-isa", choices=sorted(ISA_CAPS),
                        help="cap every library at this ISA (emulates an AVX2-only machine on an AVX-512 one)")


def rerun_capped(isa: Optional[str]) -> None:
    """--max-isa: runs the calling script again in this process (exec) with every library capped at `isa` (the
    libraries read their caps when they load); returns at once in the capped process, or without a cap."""
    if not isa or os.environ.get(CAPPED_ENV) == isa:
        return
    import sys

    env = dict(os.environ, **ISA_CAPS[isa], **{CAPPED_ENV: isa})
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


def caps_line(isa: Optional[str]) -> str:
    return f"emulating max ISA {isa}: " + " ".join(f"{k}={v}" for k, v in ISA_CAPS[isa].items()) if isa else ""


def held_megabytes(model: torch.nn.Module) -> float:
    """MB of the model's parameters and buffers, each storage once (tied and shared tensors count once; the fast
    paths' packed copies, made on first use, are not counted)."""
    storages = {}
    for t in list(model.parameters()) + list(model.buffers()):
        storage = t.untyped_storage()
        storages[(t.device, storage.data_ptr())] = storage.nbytes()
    return sum(storages.values()) / 1e6


@dataclass
class Row:
    """One workload at one thread count: the reference's time and ours for the same work, in ms per call."""
    model: str  # "BERT-base"
    workload: str  # "forward 1x128"
    reference: str  # the library compared with, with its version
    threads: int
    reference_ms: float
    ours_ms: float
    tokens: int = 0  # new tokens per call of a generation workload (then tokens/s = tokens / seconds)
    max_abs_diff: Optional[float] = None  # ours against the reference on this workload's input
    others: Dict[str, float] = field(default_factory=dict)  # more ms, timed in the same interleaved runs

    @property
    def speedup(self) -> float:
        return self.reference_ms / self.ours_ms

    def as_dict(self) -> dict:
        out = {"model": self.model, "workload": self.workload, "reference": self.reference, "threads": self.threads,
               "reference_ms": round(self.reference_ms, 4), "ours_ms": round(self.ours_ms, 4),
               "speedup": round(self.speedup, 4)}
        if self.tokens:
            out.update(new_tokens=self.tokens, reference_tokens_per_s=round(self.tokens * 1e3 / self.reference_ms, 2),
                       ours_tokens_per_s=round(self.tokens * 1e3 / self.ours_ms, 2))
        if self.max_abs_diff is not None:
            out["max_abs_diff"] = self.max_abs_diff
        if self.others:
            out["others_ms"] = {name: round(ms, 4) for name, ms in self.others.items()}
        return out


@contextlib.contextmanager
def num_threads(threads: int):
    """torch's intra-op thread count for the block (ours follow it), restored afterwards."""
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def parse_threads(text: str) -> List[int]:
    """"1,2" -> [1, 2]: the counts in the order given, each once; ValueError naming the option otherwise."""
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"--threads takes comma-separated counts, got {text!r}") from None
    if not counts or min(counts) < 1:
        raise ValueError(f"--threads takes counts >= 1, got {text!r}")
    return list(dict.fromkeys(counts))


def default_threads_text() -> str:
    return ",".join(map(str, dict.fromkeys([1, DEFAULT_THREADS])))


def add_threads_argument(parser: argparse.ArgumentParser) -> None:
    def parse(text):
        try:
            return parse_threads(text)
        except ValueError as err:  # argparse shows an ArgumentTypeError's own message
            raise argparse.ArgumentTypeError(str(err)) from None

    default = default_threads_text()
    parser.add_argument("--threads", type=parse, default=parse(default),
                        help=f"comma-separated thread counts, one table each (default {default}: 1 and torch's "
                             "default, every core)")


def _cpuinfo(key: str) -> Optional[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_name() -> str:
    """The marketing name of the CPU (platform.processor() is often empty or just 'x86_64' on Linux)."""
    return _cpuinfo("model name") or platform.processor() or platform.machine() or "unknown"


def cpu_vendor() -> str:
    """'AMD', 'Intel', ...: the kernels gain differently over torch on each (MKL takes its AVX2 path on AMD)."""
    vendor = _cpuinfo("vendor_id")
    known = {"AuthenticAMD": "AMD", "GenuineIntel": "Intel"}
    if vendor:
        return known.get(vendor, vendor)
    return cpu_name().split()[0] if cpu_name().split() else "unknown"


def machine() -> dict:
    """What makes figures from different machines comparable: CPU, the ISA our kernels run, versions."""
    import transformers_fast
    from transformers_fast import ops

    return {"cpu": cpu_name(), "vendor": cpu_vendor(), "isa": ops.cpu_isa(), "cpu_features": ops.cpu_features(),
            "cores": os.cpu_count(), "default_threads": DEFAULT_THREADS, "torch": torch.__version__,
            "transformers_fast": transformers_fast.__version__, "python": platform.python_version()}


def transparent_huge_pages() -> str:
    """Linux's THP mode ("always", "madvise", "never"; "unknown" elsewhere): with "madvise", a library's fresh
    large temporaries fault in 4 KB at a time unless it asks for huge pages (as our largest outputs do), which
    can move a reference's time by more than the noise."""
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            text = f.read()
    except OSError:
        return "unknown"
    chosen = [word[1:-1] for word in text.split() if word.startswith("[")]
    return chosen[0] if chosen else "unknown"


def banner(threads: int) -> str:
    """The line above each table: which CPU, ISA and how many threads (of how many cores), THP mode."""
    from transformers_fast import ops

    return (f"{cpu_name()}, kernels' ISA {ops.cpu_isa()}, {threads} thread(s) of {os.cpu_count()} cores "
            f"(torch's default {DEFAULT_THREADS}), our parallel regions on {ops.parallel_backend()}, "
            f"transparent huge pages: {transparent_huge_pages()}")


def library(name: str) -> str:
    """'transformers 5.2.0': the reference's name with the version that was measured."""
    module = __import__(name.replace("-", "_"))
    return f"{name} {getattr(module, '__version__', '?')}"


def quiet_transformers():
    """The `transformers` module with its warnings and progress bars off: the tables are the output."""
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    return transformers


def load_ours(reference, class_name: str):
    """(our `class_name` loaded from the reference's save_pretrained folder, the folder): the user's path, our
    loader reading the reference's file. Keep the folder with the models (it is deleted when collected)."""
    import transformers_fast

    folder = tempfile.TemporaryDirectory(prefix="transformers_fast_bench_")
    reference.save_pretrained(folder.name)
    return getattr(transformers_fast, class_name).from_pretrained(folder.name), folder
