"""Runs a selection of the tests on x86-64 CPUs this machine is not, under qemu-user: a Haswell (AVX2 + FMA, no
AVX-512: the AMD Zen3 kind's instruction set) and a Sandy Bridge (AVX, no AVX2: the portable kernels).

Capping the ISA in-process (TRANSFORMERS_FAST_ISA) picks our kernels but still runs on a CPU that has AVX-512,
so an AVX-512 instruction outside the AVX-512 kernels goes unnoticed there: e.g. a std::vector member that the
linker took from the AVX-512 kernels' object for every caller. Under qemu the CPU reports only the model's
features, and such an instruction stops the run with SIGILL.

    python scripts/check_cpu_kinds.py            # both CPUs; exits 0 with a notice where qemu-x86_64 is missing
"""
from __future__ import annotations

import concurrent.futures
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# qemu CPU model -> the ISA our dispatch must pick there. Without AVX2 the fused kernels are off (torch's ops
# run), so the Sandy Bridge shows that the extension, the tokenizers' scanners and the fallbacks load and run.
CPU_KINDS = {"Haswell": "avx2", "SandyBridge": "generic"}

# Each kernel (fp32, bf16 without avx512_bf16, int8 without VNNI), the tokenizers' vector scanners, and every
# family's fast path against its reference; picked to run in about a minute per CPU under emulation. Tests whose
# checks run in a child process (the ISA cap's, cross-process determinism) are left out: qemu-user does not follow
# execve, so the child runs natively and would only repeat the native suite.
SELECTION = [
    "tests/test_ops_activation.py",
    "tests/test_ops_layer_norm.py",
    "tests/test_ops_softmax.py",
    "tests/test_ops_relative_attention.py::test_scale_and_masks_at_model_shapes",
    "tests/test_ops_relative_attention.py::test_bfloat16_model_shapes_and_threads",
    "tests/test_ops_attention.py",
    "tests/test_ops_gemm_small.py",
    "tests/test_tokenization_gpt2_scanner.py::test_non_ascii_at_every_offset",
    "tests/test_tokenization_fast_paths.py::test_bert_ascii_scan",
    "tests/test_modeling_fast_path.py::test_padded_positions_are_zero_and_real_ones_match",
    "tests/test_modeling_fast_path.py::test_one_call_layer_matches_reference",
    "tests/test_low_precision.py::test_bf16_fast_path_within_twice_the_references_bf16_error",
    "tests/test_quantization_decoder.py::test_gpt2_greedy_generation_on_varied_text",
    "tests/test_determinism.py",
]
# The large shapes take minutes under emulation and add no instruction the small ones do not run; on the
# Haswell the cases capped to the portable kernels are the Sandy Bridge's.
# torch.compile adds minutes of Python under emulation and no instruction of ours.
DESELECT = {"Haswell": "not 3072 and not 50257 and not generic and not torch_compile and not separate_processes",
            "SandyBridge": "not 3072 and not 50257 and not torch_compile and not separate_processes"}


# Prints the ISA whose kernels the dispatch picks on the CPU it runs on.
ISA_PROBE = "import transformers_fast._C as C; print(C.cpu_isa())"


def guest(cpu: str, *args: str, timeout: float) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    return subprocess.run(["qemu-x86_64", "-cpu", cpu, sys.executable, *args], cwd=ROOT, env=env, timeout=timeout,
                          capture_output=True, text=True)


def without_qemu_notices(text: str) -> str:
    # qemu names each host feature its TCG cannot emulate (hle, rtm, x2apic, ...): noise, not errors.
    return "\n".join(line for line in text.splitlines() if not line.startswith("qemu-x86_64: warning: TCG"))


def check(cpu: str, expected_isa: str, selection) -> tuple:
    """(passed, report) for one emulated CPU."""
    probe = guest(cpu, "-c", ISA_PROBE, timeout=300)
    if probe.returncode != 0:
        return False, f"{cpu}: the extension does not load: {without_qemu_notices(probe.stderr)[-2000:]}"
    isa = probe.stdout.strip()
    if isa != expected_isa:
        return False, f"{cpu}: the kernels' ISA is {isa}, expected {expected_isa}"
    run = guest(cpu, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", DESELECT[cpu], *selection, timeout=1800)
    output = without_qemu_notices(run.stdout + run.stderr)
    report = f"{cpu} ({isa}): exit status {run.returncode}, {output.strip().splitlines()[-1]}"
    return run.returncode == 0, (output[-6000:] + "\n" if run.returncode != 0 else "") + report


def main(argv) -> int:
    if platform.machine().lower() not in ("x86_64", "amd64"):
        print("check_cpu_kinds: not an x86-64 machine, nothing to emulate")
        return 0
    if shutil.which("qemu-x86_64") is None:
        print("check_cpu_kinds: qemu-x86_64 not found (apt-get install qemu-user): skipped")
        return 0
    selection = argv or SELECTION
    # A kind whose ISA is this machine's best needs no emulation: the suite ran its kernels natively, and an
    # instruction beyond them would have stopped it (this CPU lacks them too). Emulated, it costs ~10 minutes.
    host = subprocess.run([sys.executable, "-c", ISA_PROBE], cwd=ROOT,
                          env={**{k: v for k, v in os.environ.items() if k != "TRANSFORMERS_FAST_ISA"},
                               "PYTHONPATH": str(ROOT)}, capture_output=True, text=True).stdout.strip()
    kinds = {cpu: isa for cpu, isa in CPU_KINDS.items() if isa != host}
    for cpu in sorted(set(CPU_KINDS) - set(kinds)):
        print(f"{cpu} ({CPU_KINDS[cpu]}): not emulated, this machine is of that kind (the suite ran it natively)")
    # Side by side: most of each emulated run is single-threaded, and the machines have two cores.
    with concurrent.futures.ThreadPoolExecutor(max(len(kinds), 1)) as pool:
        results = list(pool.map(lambda kind: check(*kind, selection), kinds.items()))
    for _, report in results:
        print(report)
    return 0 if all(passed for passed, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
