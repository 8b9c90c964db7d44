"""The GEMM backend chosen per shape class, stored per machine so that every run computes the same bits.

Backends (oneDNN, MKL, our panel kernel) round differently in the last bits, and a choice made by timing could
differ from one run to the next. The first run on a machine times them and writes its choices to
`<cache>/backend_choices.json` (cache: $TRANSFORMERS_FAST_CACHE, else $XDG_CACHE_HOME/transformers_fast, else
~/.cache/transformers_fast), one section per CPU, ISA, torch and library version; later runs read them. The
file is locked while a choice is made, so processes starting together agree too. Where the file cannot be
written, choices last for the process only (with a warning).
"""
from __future__ import annotations

import contextlib
import functools
import json
import os
import platform
import tempfile
import warnings
from typing import Dict, Iterator

try:
    import fcntl
except ImportError:  # not POSIX: no lock between processes
    fcntl = None

ENV = "TRANSFORMERS_FAST_CACHE"
FILE_NAME = "backend_choices.json"
# Part of each section's name: raised when the way choices are made changes, so that choices stored under the
# old rules are made again.
RULES = 2
_process_only: Dict[str, str] = {}


def cache_dir() -> str:
    explicit = os.environ.get(ENV)
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "transformers_fast")


@functools.lru_cache(maxsize=None)
def machine_key() -> str:
    import torch

    import transformers_fast
    from transformers_fast.ops import _backend as B

    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model)
    return (f"{model} | {B.cpu_isa()} {B.cpu_features()} | torch {torch.__version__} | {transformers_fast.__version__}"
            f" | rules {RULES}")


@contextlib.contextmanager
def stored() -> Iterator[Dict[str, str]]:
    """This machine's stored choices, locked against other processes; changes are written back on exit."""
    path = os.path.join(cache_dir(), FILE_NAME)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        lock = open(path + ".lock", "a")
    except OSError as e:
        warnings.warn(f"transformers_fast: cannot use {path} ({e}); GEMM backend choices last for this process "
                      f"only, so another run may differ in the last bits (set {ENV} to a writable folder)")
        yield _process_only
        return
    with lock:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)
        everything = _read(path)
        section = everything.setdefault(machine_key(), {})
        before = dict(section)
        yield section
        if section != before:
            _write(path, everything)


def _read(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}  # missing or damaged: chosen again


def _write(path: str, data: dict) -> None:
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".backend_choices.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, sort_keys=True)
    os.replace(tmp, path)  # readers never see a half-written file
