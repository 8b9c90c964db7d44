"""Thread counts the benchmarks run at: 1 and torch's default (every core, or OMP_NUM_THREADS), what a user
gets without calling torch.set_num_threads. Imported before anything changes torch's setting."""
from __future__ import annotations

import argparse
import os
import platform
import time

import torch

DEFAULT_THREADS = torch.get_num_threads()
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def best_ms(fns, repeats: int, clock: str = "wall"):
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


def parse(text: str):
    """"1,2" -> [1, 2]: the counts in the order given, each once."""
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--threads takes comma-separated counts, got {text!r}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"--threads takes counts >= 1, got {text!r}")
    return list(dict.fromkeys(counts))


def add_argument(parser: argparse.ArgumentParser) -> None:
    default = ",".join(map(str, dict.fromkeys([1, DEFAULT_THREADS])))
    parser.add_argument("--threads", type=parse, default=parse(default),
                        help=f"comma-separated thread counts, one table each (default {default}: 1 and torch's "
                             "default, every core)")


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def banner(threads: int) -> str:
    """The line above each table: which CPU, ISA and how many threads (of how many cores)."""
    from transformers_fast import ops

    return (f"{cpu_name()}, kernels' ISA {ops.cpu_isa()}, {threads} thread(s) of {os.cpu_count()} cores "
            f"(torch's default {DEFAULT_THREADS}), our parallel regions on {ops.parallel_backend()}")
