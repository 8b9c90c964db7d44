"""BERT-base inference: transformers_fast against transformers and OpenVINO in the same run (fp32, random weights).

    python benchmarks/bench_bert.py [--threads 1,2] [--repeats 5] [--workloads 1x8,1x128,...] [--no-openvino]
                                    [--skip-load] [--clock wall|cpu] [--max-isa avx2]

By default one table at 1 thread and one at torch's default thread count (every core), then how much each
library gains from the extra threads. Prints the CPU ISA, the OpenVINO configuration actually compiled
(precision, threads, streams), and per thread count a table of
milliseconds per batch at 1x8, 1x128, 8x128, a padded variable-length batch (32 sequences, lengths uniform in
[8, 128], seed 0) and a full 32x128 batch: transformers, transformers_fast, OpenVINO (converted from the same
weights), and "GEMMs alone", the same sequence of PackedLinear calls as one forward of ours made, on the same
inputs and the backends they chose, timed without anything else. Then the fresh-process time of
`import transformers_fast` + `BertModel.from_pretrained` of a bert-base safetensors folder, split into
torch's own import and ours, the first forward (weight packing), and transformers' time for the same.

`--max-isa avx2` emulates an AVX2+FMA machine (AMD Zen3) on an AVX-512 one: the script runs itself again
with every library capped by its own setting (transformers_fast.benchmark.ISA_CAPS), and prints which ISA each one then used.
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import ctypes
import os
import subprocess
import sys
import tempfile
import time

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
from transformers_fast import benchmark  # noqa: E402  (before anything sets torch's threads)
from transformers_fast.benchmark import encoders  # noqa: E402


# Each library's own cap on the instruction set, read when the library loads (so set before the process
# starts). OpenVINO needs two: OV_CPU_MAX_ISA caps its own JIT nodes (MVN, eltwise, snippets) and
# ONEDNN_MAX_CPU_ISA its oneDNN fork (brgemm FullyConnected, softmax); its MLAS GEMMs (most of its
# FullyConnected nodes) read CPUID themselves and have no cap: cap_openvino_mlas. glibc's string
# functions use EVEX (AVX-512) forms unless told otherwise.
WORKLOADS = encoders.WORKLOADS


def gemm_calls(model, ids, mask):
    """The GEMMs of one fast forward, in order, as functions of no argument on copies of their inputs:
    what "GEMMs alone" replays (the PackedLinear calls, with the bias+GELU of ffn_in that they fuse)."""
    from transformers_fast import ops
    from transformers_fast.runtime import encoder as fast_encoder

    calls = []
    original = fast_encoder.packed_linear

    def record(x, packed):
        x_copy = x.clone()
        calls.append(lambda: ops.linear(x_copy, packed))
        return original(x, packed)

    fast_encoder.packed_linear = record
    fused_max = fast_encoder.FUSED_MAX_TOKENS
    fast_encoder.FUSED_MAX_TOKENS = 0  # op by op while recording: the one-call C++ layer runs the same GEMMs
    try:
        model(ids, attention_mask=mask)
    finally:
        fast_encoder.packed_linear = original
        fast_encoder.FUSED_MAX_TOKENS = fused_max
    return calls


@contextlib.contextmanager
def c_stdout_lines():
    """Collects what the process writes to its stdout (file descriptor 1, where oneDNN and MKL print) in the
    block: yields a list that holds the lines afterwards."""
    lines = []
    libc = ctypes.CDLL(None)
    sys.stdout.flush()
    libc.fflush(None)
    saved = os.dup(1)
    with tempfile.TemporaryFile("w+") as f:
        os.dup2(f.fileno(), 1)
        try:
            yield lines
        finally:
            libc.fflush(None)
            os.dup2(saved, 1)
            os.close(saved)
            f.seek(0)
            lines.extend(f.read().splitlines())


def torch_isas():
    """The ISAs torch's GEMM libraries and own kernels run: ATen's dispatch level, oneDNN's implementation of
    a linear (from its verbose log) and MKL's banner (on AMD it names no ISA)."""
    x, w = torch.randn(8, 768), torch.randn(768, 768)
    with c_stdout_lines() as lines:
        with torch.backends.mkl.verbose(torch.backends.mkl.VERBOSE_ON):
            torch.nn.functional.linear(x, w)
        if torch.backends.mkldnn.is_available():
            packed = torch.ops.mkldnn._reorder_linear_weight(w)
            with torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON):
                torch.ops.mkldnn._linear_pointwise(x, packed, None, "none", [], "")
    onednn = [line.split(",")[6] for line in lines if line.startswith("onednn_verbose") and ",exec,cpu," in line]
    mkl = [line.split(" for ", 1)[-1].split(",")[0] for line in lines if line.startswith("MKL_VERBOSE oneMKL")]
    return (f"ATen {torch.backends.cpu.get_cpu_capability()}, oneDNN linear {onednn[0] if onednn else '?'}, "
            f"MKL '{mkl[0] if mkl else '?'}'")


def cap_openvino_mlas():
    """Rebuilds the kernel table of the MLAS inside OpenVINO's CPU plugin as on a CPU without AVX-512 (it
    has no setting for that): finds its constructor by its AVX-512F test (CPUID.7.EBX bit 16, then XCR0's
    ZMM bits), makes that test fail, and runs the constructor again. None when done, else why not."""
    import openvino as ov

    ov.Core().get_property("CPU", "FULL_DEVICE_NAME")  # loads the plugin
    with open("/proc/self/maps") as f:
        text = [m.split() for m in f if m.rstrip().endswith("/libopenvino_intel_cpu_plugin.so") and " r-xp " in m]
    if len(text) != 1:
        return "the CPU plugin's code is not mapped once"
    start, end = (int(v, 16) for v in text[0][0].split("-"))
    code = ctypes.string_at(start, end - start)
    avx512f_test = bytes.fromhex("41f7c1000001000f84")  # test r9d, 0x10000; je <return>
    xcr0_test = bytes.fromhex("48f7d74889fa81e2e0000000")  # not rdi; mov rdx, rdi; and edx, 0xe0
    hits, i = [], code.find(avx512f_test)
    while i >= 0:
        if code.startswith(xcr0_test, i + len(avx512f_test) + 4):
            hits.append(i)
        i = code.find(avx512f_test, i + 1)
    if len(hits) != 1:
        return f"MLAS's AVX-512 test found {len(hits)} times (another OpenVINO build)"
    entry = code.rfind(bytes.fromhex("660fefc053"), hits[0] - 4096, hits[0])  # pxor xmm0, xmm0; push rbx
    if entry < 0:
        return "MLAS's platform constructor not found"
    with open("/proc/self/mem", "r+b", buffering=0) as mem:  # writes through the code's page protection
        mem.seek(start + hits[0] + 5)
        mem.write(b"\x00")  # test r9d, 0: the AVX-512 branch is never taken
    ctypes.CFUNCTYPE(None)(start + entry)()
    return None


def openvino_isas(profiled, feed):
    """Node count per implementation kind (its name carries the ISA) in a run of the model compiled with
    PERF_COUNT on `feed` (dynamic shapes pick their implementations when they run)."""
    request = profiled.create_infer_request()
    request.infer(feed)
    kinds = collections.Counter(node.exec_type for node in request.profiling_info)
    return ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items())
                     if any(tag in kind for tag in ("avx", "sse", "mlas", "brg", "amx")))


class Avx512Watch:
    """Whether any thread of this process had AVX-512 register state live (zmm16-31, or upper halves not
    cleared) at a context switch since the last check: Linux's per-thread arch_status (x86) gives the time
    since the kernel last saw it. A check, not a proof: code that keeps to zmm0-15 and clears them is not seen,
    and state once live may stay so (only the first contender found using AVX-512 is sure to be one)."""

    def __init__(self):
        self.since = time.monotonic()

    def used(self):
        time.sleep(0.02)  # a context switch, at which the kernel samples this thread's register state
        now = time.monotonic()
        last = None
        for tid in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{tid}/arch_status") as f:
                    ms = int(f.read().split()[1])
            except (OSError, IndexError, ValueError):
                return None  # no arch_status: not x86 Linux, or an old kernel
            if ms >= 0:
                last = max(last or 0.0, now - ms / 1e3)
        used = last is not None and last > self.since + 0.01  # 10 ms: the kernel's clock ticks
        self.since = time.monotonic()
        return used


def openvino_model(reference, threads, max_isa):
    """OpenVINO's CPU plugin on the same weights, fp32 honestly: precision hint f32 (no bf16 on CPUs that
    have it), dynamic quantization off, `threads` inference threads, one stream, latency mode."""
    import openvino as ov

    if max_isa:
        failed = cap_openvino_mlas()
        print(f"OpenVINO's MLAS GEMMs: {'NOT capped, they use AVX-512: ' + failed if failed else 'capped'}")

    example = {"input_ids": torch.ones(1, 8, dtype=torch.long), "attention_mask": torch.ones(1, 8, dtype=torch.long)}
    converted = ov.convert_model(reference, example_input=example)
    config = {"INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": "f32", "NUM_STREAMS": 1,
              "PERFORMANCE_HINT": "LATENCY", "DYNAMIC_QUANTIZATION_GROUP_SIZE": 0}
    core = ov.Core()
    compiled = core.compile_model(converted, "CPU", config)
    profiled = core.compile_model(converted, "CPU", dict(config, PERF_COUNT=True))  # apart: costs time per node
    shown = {}
    for name in ("INFERENCE_PRECISION_HINT", "INFERENCE_NUM_THREADS", "NUM_STREAMS", "PERFORMANCE_HINT",
                 "EXECUTION_MODE_HINT", "DYNAMIC_QUANTIZATION_GROUP_SIZE", "RUNTIME_REQUIREMENTS"):
        try:
            shown[name] = compiled.get_property(name)
        except Exception:  # a property this OpenVINO version does not have
            pass
    return compiled, profiled, f"OpenVINO {ov.__version__} CPU plugin, compiled with: " + ", ".join(
        f"{k}={v}" for k, v in shown.items())


def fresh_process_seconds(code, repeats=3):
    """Best of `repeats` fresh interpreters of each printed number (the last line: numbers separated by spaces)."""
    best = None
    for _ in range(repeats):
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                env=dict(os.environ, PYTHONPATH=REPO))
        if result.returncode != 0:
            raise RuntimeError(result.stderr)
        values = [float(v) for v in result.stdout.strip().splitlines()[-1].split()]
        best = values if best is None else [min(a, b) for a, b in zip(best, values)]
    return best


def load_times(folder, threads):
    ours = f"""if True:
        import time; t0 = time.perf_counter()
        import torch; t1 = time.perf_counter()
        import transformers_fast; t2 = time.perf_counter()
        model = transformers_fast.BertModel.from_pretrained({folder!r}); t3 = time.perf_counter()
        torch.set_num_threads({threads})
        with torch.inference_mode():
            model(torch.randint(1000, 30000, (1, 8)))
        t4 = time.perf_counter()
        print(t1 - t0, t2 - t1, t3 - t2, t3 - t0, t4 - t3)"""
    hf = f"""if True:
        import time; t0 = time.perf_counter()
        import torch; t1 = time.perf_counter()
        import transformers; t2 = time.perf_counter()
        transformers.BertModel.from_pretrained({folder!r}); t3 = time.perf_counter()
        print(t1 - t0, t2 - t1, t3 - t2, t3 - t0)"""
    torch_s, import_s, load_s, total_s, first_s = fresh_process_seconds(ours)
    hf_torch_s, hf_import_s, hf_load_s, hf_total_s = fresh_process_seconds(hf)
    print("\nfresh process, import + BertModel.from_pretrained(bert-base safetensors folder), best of 3 each:")
    print(f"  transformers_fast {total_s:.2f} s (target <= 1.0 s) = import torch {torch_s:.2f} s + "
          f"import transformers_fast {import_s:.3f} s + from_pretrained {load_s:.3f} s; "
          f"ours without torch's import: {import_s + load_s:.3f} s")
    print(f"  first forward (1x8) after loading: {first_s:.3f} s (packs the weights, times the GEMM backends)")
    print(f"  transformers      {hf_total_s:.2f} s = import torch {hf_torch_s:.2f} s + import transformers "
          f"{hf_import_s:.2f} s + from_pretrained {hf_load_s:.2f} s; without torch's import: "
          f"{hf_import_s + hf_load_s:.2f} s")


# Goals per thread count (issue 13): ours / OpenVINO at the same thread count, by workload.
OPENVINO_TARGETS = {"1x8": 1.3, "1x128": 1.0, "8x128": 1.0}
SCALING_TARGET = ("8x128", 1.7)  # ours, 1 thread -> every core


def run_workloads(names, models, threads, ov_model, ov_profiled, args):
    """One table's rows: (workload, transformers ms, ours ms, GEMMs alone ms, OpenVINO ms or None, max abs diff),
    timed by transformers_fast.benchmark.encoders (what `transformers-fast bench` runs) with this script's extras
    in the same interleaved runs."""
    first = []

    def extra(name, ids, mask):
        calls = gemm_calls(models.ours, ids, mask)

        def gemms_alone():
            for call in calls:
                call()  # each output dropped at once, as in the model (holding them all costs page faults)

        fns = {"gemms": gemms_alone}
        if ov_model is not None:
            feed = {"input_ids": ids.numpy(), "attention_mask": mask.numpy()}
            fns["openvino"] = lambda: ov_model(feed)
            expected = models.reference(input_ids=ids, attention_mask=mask).last_hidden_state
            ov_diff = (torch.from_numpy(ov_model(feed)[0]) - expected)[mask.bool()].abs().max().item()
            print(f"OpenVINO at {name}: max abs diff {ov_diff:.1e}; nodes by implementation: "
                  f"{openvino_isas(ov_profiled, feed)}")
        if not first:  # the first workload: which library uses AVX-512 (before anything else did), OpenVINO's CPU
            first.append(name)
            report_first_workload(name, models, ids, mask, fns.get("openvino"))
        return fns

    rows = encoders.rows(models, threads, names, args.repeats, args.clock, extra)
    return [(row.workload[len("forward "):], row.reference_ms, row.ours_ms, row.others["gemms"],
             row.others.get("openvino"), row.max_abs_diff) for row in rows]


def report_first_workload(name, models, ids, mask, openvino):
    """Whose AVX-512 registers were live while it ran one forward, and OpenVINO's process CPU / wall time."""
    watch = Avx512Watch()
    watch.used()
    models.ours(ids, attention_mask=mask)
    used = {"transformers_fast": watch.used()}
    models.reference(input_ids=ids, attention_mask=mask)
    used["transformers"] = watch.used()
    if openvino is not None:
        wall, cpu = time.perf_counter(), time.process_time()
        openvino()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        used["OpenVINO"] = watch.used()
        print(f"OpenVINO process CPU time / wall time at {name}: {cpu / wall:.2f} (1.00 = one busy thread)")
    if None not in used.values():
        print(f"AVX-512 registers live at context switches, at {name}: "
              + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in used.items()))


def print_table(rows, threads):
    openvino = any(row[4] is not None for row in rows)
    header = ("| batch | transformers ms | transformers_fast ms | speed-up |"
              + (" OpenVINO ms | vs OpenVINO |" if openvino else "")
              + " GEMMs alone ms | model / GEMMs | max abs diff |")
    print(f"\n{benchmark.banner(threads)}")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for name, t_ref, t_ours, t_gemm, t_ov, diff in rows:
        line = f"| {name} | {t_ref:.1f} | {t_ours:.1f} | {t_ref / t_ours:.2f}x |"
        if openvino:
            goal = OPENVINO_TARGETS.get(name)
            verdict = "" if goal is None else f" (≥{goal}: {'met' if t_ov / t_ours >= goal else 'NOT met'})"
            line += f" {t_ov:.1f} | {t_ov / t_ours:.2f}x{verdict} |"
        print(line + f" {t_gemm:.1f} | {t_ours / t_gemm:.2f} | {diff:.1e} |")
    by_name = {row[0].split(" ")[0]: row for row in rows}
    if "32" in by_name and "32x128" in by_name:
        var, full = by_name["32"], by_name["32x128"]
        ratio = (var[1] / var[2]) / (full[1] / full[2])
        print(f"variable-length speed-up / full 32x128 speed-up: {ratio:.2f} (target >= 1.6)")


def print_scaling(tables):
    """How much faster each library gets from the first thread count to each other one."""
    first = next(iter(tables))
    for threads, rows in list(tables.items())[1:]:
        openvino = any(row[4] is not None for row in rows)
        print(f"\nspeed-up from {first} to {threads} threads (time at {first} / time at {threads}):")
        print("| batch | transformers | transformers_fast |" + (" OpenVINO |" if openvino else ""))
        print("|---|---|---|" + ("---|" if openvino else ""))
        for base, row in zip(tables[first], rows):
            line = f"| {row[0]} | {base[1] / row[1]:.2f}x | {base[2] / row[2]:.2f}x"
            if row[0] == SCALING_TARGET[0] and first == 1:
                line += f" (≥{SCALING_TARGET[1]}: {'met' if base[2] / row[2] >= SCALING_TARGET[1] else 'NOT met'})"
            print(line + " |" + (f" {base[4] / row[4]:.2f}x |" if openvino else ""))


def main():
    parser = argparse.ArgumentParser()
    benchmark.add_threads_argument(parser)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workloads", default=",".join(WORKLOADS),
                        help=f"comma-separated subset of {','.join(WORKLOADS)}")
    parser.add_argument("--quick", action="store_true", help="only 1x8, 1x128 and 8x128")
    parser.add_argument("--clock", choices=sorted(benchmark.CLOCKS), default="wall",
                        help="wall time, or process CPU time (for a machine shared with other work)")
    parser.add_argument("--no-openvino", action="store_true", help="skip OpenVINO (timed when installed)")
    parser.add_argument("--skip-load", action="store_true", help="skip the fresh-process loading times")
    benchmark.add_max_isa_argument(parser)
    args = parser.parse_args()
    benchmark.rerun_capped(args.max_isa)
    names = set(WORKLOADS[:3] if args.quick else args.workloads.split(","))
    if not names <= set(WORKLOADS):
        parser.error(f"--workloads: unknown {sorted(names - set(WORKLOADS))}")

    from transformers_fast import ops
    from transformers_fast.ops import packed_linear

    print(f"CPU ISA: {ops.cpu_isa()}  features: {ops.cpu_features()}")
    models = encoders.build("bert")
    print(f"torch {torch.__version__}, {models.library}, threads {args.threads}, fp32, "
          f"best of {args.repeats} by {args.clock} clock")
    if args.max_isa:
        print(benchmark.caps_line(args.max_isa))
    print(f"ISA used: transformers_fast {ops.cpu_isa()}; torch: {torch_isas()}")

    tables = {}
    for threads in args.threads:
        torch.set_num_threads(threads)  # OpenVINO's model is compiled for it
        ov_model = ov_profiled = None
        if not args.no_openvino:
            try:
                ov_model, ov_profiled, ov_config = openvino_model(models.reference, threads, args.max_isa)
                print(ov_config)
            except Exception as err:  # optional comparison
                print(f"OpenVINO unavailable: {err}")
        tables[threads] = run_workloads(names, models, threads, ov_model, ov_profiled, args)
        print_table(tables[threads], threads)
        del ov_model, ov_profiled
    if len(tables) > 1:
        print("\n\nAll thread counts together:")
        for threads, rows in tables.items():
            print_table(rows, threads)
        print_scaling(tables)
    print("GEMM backends chosen (in, out, activation, row bucket, threads): "
          + ", ".join(f"{k}={v}" for k, v in sorted(packed_linear.chosen_backends().items())))

    if not args.skip_load:
        load_times(models.folder.name, args.threads[-1])


if __name__ == "__main__":
    main()
