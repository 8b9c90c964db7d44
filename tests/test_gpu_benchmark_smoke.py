"""benchmarks/gpu_kernels.py is run on a lent GPU only now and then: its --smoke mode runs every section (the
kernels, relative attention, BERT and GPT-2 against transformers) on tiny shapes through the emulated kernels,
so that the script still works when a GPU comes."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_gpu_benchmark_runs_every_section(tmp_path):
    out = tmp_path / "rows.json"
    env = dict(os.environ, PYTHONPATH=ROOT)
    result = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "gpu_kernels.py"), "--smoke", "--json",
                             str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "failed:" not in result.stdout, result.stdout
    rows = json.loads(out.read_text())["rows"]
    names = " ".join(row["kernel"] for row in rows)
    for part in ("bias_gelu", "add_layer_norm", "masked_softmax", "attention varlen", "attention decode",
                 "relative_attention transfo_xl", "relative_attention xlnet", "BERT-base", "GPT-2"):
        assert part in names, f"{part} missing from {names}"
    for row in rows:  # float16 kernels against torch's: within a few units of the last place
        assert row.get("max_diff", 0) < 1e-2, row
    assert all("same tokens 100 %" in row["reference"] for row in rows if row["kernel"].startswith("GPT-2"))
