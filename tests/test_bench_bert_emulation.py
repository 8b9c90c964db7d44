"""bench_bert.py --max-isa avx2: each library's cap takes effect in a fresh process with the caps' environment."""
import importlib.util
import json
import os
import subprocess
import sys

import pytest
import torch

from transformers_fast import benchmark
from transformers_fast.ops import _backend

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(REPO, "benchmarks", "bench_bert.py")

pytestmark = pytest.mark.skipif(not _backend.has_extension() or "avx2" not in _backend.cpu_features(),
                                reason="needs the extension on an AVX2 CPU")

PROBE = f"""if True:
    import json, sys
    sys.path.insert(0, {os.path.dirname(BENCH)!r})
    import bench_bert
    from transformers_fast import ops
    result = {{"ours": ops.cpu_isa(), "torch": bench_bert.torch_isas()}}
    if sys.argv[1] == "openvino":
        result["mlas"] = bench_bert.cap_openvino_mlas()
    print(json.dumps(result))"""


def probe(what):
    spec = importlib.util.spec_from_file_location("bench_bert", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    env = dict(os.environ, PYTHONPATH=REPO, **benchmark.ISA_CAPS["avx2"])
    out = subprocess.run([sys.executable, "-c", PROBE, what], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_caps_reach_ours_aten_and_onednn():
    result = probe("torch")
    assert result["ours"] == "avx2"
    assert "ATen AVX2" in result["torch"]
    if torch.backends.mkldnn.is_available():
        assert ":avx2," in result["torch"] + ","  # oneDNN's implementation, e.g. brg_matmul:avx2


def test_openvino_mlas_table_is_rebuilt():
    pytest.importorskip("openvino")
    failed = probe("openvino")["mlas"]  # None: capped; else the reason it could not be
    if failed and "another OpenVINO build" in failed:
        pytest.skip(f"the MLAS patch knows OpenVINO 2026.4.1's code only: {failed}")
    assert failed is None


def test_max_isa_reruns_the_script_capped(tmp_path):
    """The --max-isa option the benchmarks share (transformers_fast.benchmark): the script runs again in its process
    with every cap set, and our kernels then use AVX2."""
    script = tmp_path / "probe.py"
    script.write_text(
        "import argparse, os\n"
        "from transformers_fast import benchmark\n"
        "parser = argparse.ArgumentParser()\n"
        "benchmark.add_max_isa_argument(parser)\n"
        "args = parser.parse_args()\n"
        "benchmark.rerun_capped(args.max_isa)\n"
        "from transformers_fast import ops\n"
        "print(ops.cpu_isa(), os.environ.get('ATEN_CPU_CAPABILITY'), os.environ.get(benchmark.CAPPED_ENV))\n")
    env = dict(os.environ, PYTHONPATH=REPO)
    for name in benchmark.ISA_CAPS["avx2"]:
        env.pop(name, None)
    capped = subprocess.run([sys.executable, str(script), "--max-isa", "avx2"], capture_output=True, text=True,
                            env=env, check=True).stdout.split()
    assert capped == ["avx2", "avx2", "avx2"]
    plain = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env,
                           check=True).stdout.split()
    assert plain[1:] == ["None", "None"]  # not re-run: no cap set
