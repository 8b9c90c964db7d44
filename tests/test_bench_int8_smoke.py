"""benchmarks/bench_int8.py --quick: every section (BERT with its GEMMs-alone column, GPT-2 greedy generation and
its weight stream, XLNet, XLM) runs on tiny configs and prints its table (the peers are skipped here)."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_int8_benchmark_runs_every_section():
    env = dict(os.environ, PYTHONPATH=ROOT)
    result = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "bench_int8.py"), "--quick", "--threads",
                             "1", "--repeats", "1", "--workloads", "1x8,32var", "--no-onnxruntime",
                             "--no-ctranslate2"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    for title in ("GPT-2 124M greedy", "MB of weights held", "GPT-2 GEMMs of one decode step alone", "XLNet-base (tiny) forward",
                  "XLM enfr-1024 (tiny) forward", "int8 GEMMs alone ms"):
        assert title in out, f"{title!r} missing:\n{out}"
    rows = [line for line in out.splitlines() if line.startswith("| 1x8 |") or line.startswith("| 32 var-len")]
    assert len(rows) == 2, out
    assert "int8 kernel:" in out and "CPU:" in out
    held = out.split("MB of weights held")[1].splitlines()[3]
    fp32, int8, head, tables = (float(x) for x in held.strip("| ").split(" | "))
    assert fp32 > int8 and tables < head  # the int8 tables share the int8 head's matrix: the float one is gone
