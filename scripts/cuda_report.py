"""Compiles every csrc/kernels/*_cuda.cu with nvcc for the given architectures (sm_80 and sm_90 by default)
with `-Xptxas -v` and writes each kernel's registers, shared memory, stack and spill bytes to a report
(build/cuda_report.txt). Exits 1 when any kernel spills (or a file does not compile), 0 otherwise; when nvcc
is not found it says so and exits 0 (nothing to check on this machine)."""
from __future__ import annotations

import argparse
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENTRY = re.compile(r"Compiling entry function '([^']+)' for '(sm_\d+)'")
FRAME = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
USED = re.compile(r"Used (\d+) registers(?:, used (\d+) barriers)?(?:, (\d+) bytes smem)?(?:, (\d+) bytes cmem\[0\])?")


def demangle(names):
    tool = shutil.which("cu++filt") or shutil.which("c++filt")
    if not tool or not names:
        return names
    out = subprocess.run([tool], input="\n".join(names), capture_output=True, text=True).stdout.splitlines()
    return out if len(out) == len(names) else names


def parse(log: str):
    """[(mangled kernel, arch, registers, smem, stack, spill stores, spill loads)] from ptxas -v output."""
    rows, cur = [], None
    for line in log.splitlines():
        m = ENTRY.search(line)
        if m:
            cur = {"kernel": m.group(1), "arch": m.group(2), "stack": 0, "spill_st": 0, "spill_ld": 0}
            continue
        if cur is None:
            continue
        m = FRAME.search(line)
        if m:
            cur["stack"], cur["spill_st"], cur["spill_ld"] = map(int, m.groups())
            continue
        m = USED.search(line)
        if m:
            cur["regs"] = int(m.group(1))
            cur["smem"] = int(m.group(3) or 0)
            rows.append(cur)
            cur = None
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--arch", nargs="+", default=["80", "90"])
    ap.add_argument("--out", default=str(ROOT / "build" / "cuda_report.txt"))
    ap.add_argument("--nvcc", default=os.environ.get("NVCC") or shutil.which("nvcc") or "/usr/local/cuda/bin/nvcc")
    args = ap.parse_args()
    if not Path(args.nvcc).exists() and not shutil.which(args.nvcc):
        print("cuda_report: nvcc not found, nothing compiled")
        return 0
    sources = sorted((ROOT / "csrc" / "kernels").glob("*_cuda.cu"))
    gencode = [f"-gencode=arch=compute_{a},code=sm_{a}" for a in args.arch]
    rows, failed = [], []
    with tempfile.TemporaryDirectory() as tmp:
        def compile_one(src: Path) -> subprocess.CompletedProcess:
            cmd = [args.nvcc, "-std=c++17", "-O3", f"-I{ROOT / 'csrc'}", *gencode, "-Xptxas", "-v", "-c", str(src),
                   "-o", str(Path(tmp) / (src.stem + ".o"))]
            return subprocess.run(cmd, capture_output=True, text=True)

        # one nvcc per core (each is single-threaded), results in the sources' order
        with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            compiled = list(pool.map(compile_one, sources))
        for src, proc in zip(sources, compiled):
            if proc.returncode != 0:
                failed.append(src.name)
                print(proc.stdout + proc.stderr, file=sys.stderr)
                continue
            for row in parse(proc.stdout + proc.stderr):
                row["file"] = src.name
                rows.append(row)
    names = demangle([r["kernel"] for r in rows])
    lines = [f"# ptxas -v for csrc/kernels/*_cuda.cu, sm_{', sm_'.join(args.arch)} ({args.nvcc})",
             f"{'file':<22} {'arch':<6} {'regs':>4} {'smem':>6} {'stack':>5} {'spill_st':>8} {'spill_ld':>8}  kernel"]
    spills = []
    for row, name in zip(rows, names):
        name = re.sub(r"tf::cuda::\(anonymous namespace\)::", "", name)
        lines.append(f"{row['file']:<22} {row['arch']:<6} {row['regs']:>4} {row['smem']:>6} {row['stack']:>5} "
                     f"{row['spill_st']:>8} {row['spill_ld']:>8}  {name}")
        if row["spill_st"] or row["spill_ld"]:
            spills.append(f"{row['arch']} {name}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"cuda_report: {len(rows)} kernels from {len(sources)} files written to {args.out}")
    if failed:
        print(f"cuda_report: did not compile: {', '.join(failed)}", file=sys.stderr)
    if spills:
        print("cuda_report: register spills (fail):\n  " + "\n  ".join(spills), file=sys.stderr)
    return 1 if failed or spills else 0


if __name__ == "__main__":
    sys.exit(main())
