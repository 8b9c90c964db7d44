"""The README's Python examples run as written, in order, in one namespace (as a reader pastes them into one session).

Tokenizer shortcut names resolve offline through a Hugging Face cache holding the published vocabulary files. Model
shortcut names stand for folders of tiny random-weight checkpoints of the same families saved by the references: the
names' shipped configs are full size, too slow to build here. The names a block leaves to the reader (`folder`,
`segment_1`, ...) are given as its comment describes them."""
from __future__ import annotations

import os
import re
import shutil

import pytest
import torch

from modeling_helpers import quiet_transformers
from tokenizer_corpus import bert_uncased_vocab, gpt2_files

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")
MODEL_NAMES = ("bert-base-uncased", "gpt2", "transfo-xl-wt103", "xlm-mlm-enfr-1024")
VOCAB = 99  # of the tiny Transformer-XL, XLNet and XLM


def python_blocks():
    """(first line number, code) of every ```python block of the README."""
    text = open(README, encoding="utf-8").read()
    return [(text[:m.start()].count("\n") + 2, m.group(1)) for m in re.finditer(r"```python\n(.*?)```", text, re.S)]


def fake_hub_cache(cache, repo_id, files):
    """huggingface_hub's cache layout: models--org--name/{refs/main, snapshots/<sha>/}."""
    sha = "0" * 40
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "snapshots" / sha).mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(sha)
    for name, source in files.items():
        shutil.copy(source, repo / "snapshots" / sha / name)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """Tiny checkpoints under the shortcut names, each saved by a reference library."""
    import pytorch_transformers as pt
    import transformers

    quiet_transformers()
    root = tmp_path_factory.mktemp("readme")
    torch.manual_seed(0)
    pt.BertModel(pt.BertConfig(30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                               max_position_embeddings=64)).save_pretrained(_mkdir(root / "bert-base-uncased"))
    transformers.GPT2LMHeadModel(transformers.GPT2Config(n_positions=64, n_embd=32, n_layer=2, n_head=4)) \
        .save_pretrained(root / "gpt2")
    pt.TransfoXLLMHeadModel(pt.TransfoXLConfig(VOCAB, cutoffs=[10, 30, 60], d_model=32, d_embed=32, n_head=4, d_head=8,
                                               d_inner=48, div_val=2, n_layer=2, tgt_len=7, mem_len=5)) \
        .save_pretrained(_mkdir(root / "transfo-xl-wt103"))
    transformers.XLMModel(transformers.XLMConfig(vocab_size=VOCAB, emb_dim=32, n_layers=2, n_heads=4, n_langs=2,
                                                 use_lang_emb=True)).save_pretrained(root / "xlm-mlm-enfr-1024")
    transformers.XLNetForSequenceClassification(transformers.XLNetConfig(
        vocab_size=VOCAB, d_model=32, n_layer=2, n_head=4, d_inner=37, num_labels=3)).save_pretrained(root / "xlnet")
    cache = root / "hub"
    encoder, merges = gpt2_files()
    fake_hub_cache(cache, "google-bert/bert-base-uncased", {"vocab.txt": bert_uncased_vocab()})
    fake_hub_cache(cache, "openai-community/gpt2", {"vocab.json": encoder, "merges.txt": merges})
    return root, cache


def _mkdir(path):
    path.mkdir()
    return str(path)


def reader_names(code, root, tmp_path):
    """The tensors and folders a block names without defining them, as its comment describes them."""
    g = torch.Generator().manual_seed(0)
    if "segment_1" in code:
        return dict(segment_1=torch.randint(0, VOCAB, (2, 6), generator=g),
                    segment_2=torch.randint(0, VOCAB, (2, 6), generator=g),
                    prompt=torch.randint(0, VOCAB, (2, 5), generator=g),
                    ids=torch.randint(0, VOCAB, (2, 7), generator=g),
                    mask=torch.tensor([[1] * 7, [1] * 5 + [0] * 2]), langs=torch.tensor([[0] * 7, [1] * 7]),
                    folder=str(root / "xlnet"))
    if re.search(r"\bfolder\b", code):
        return dict(folder=str(tmp_path / "saved"))
    return {}


def test_readme_python_blocks_run(checkpoints, tmp_path, monkeypatch):
    import huggingface_hub.constants

    root, cache = checkpoints
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    blocks = python_blocks()
    assert len(blocks) >= 4, "the README's Python examples were not found"
    assert all(any(marker in code for _, code in blocks) for marker in COMMENT_CHECKS), "a checked line was edited"
    namespace = {}
    for line, code in blocks:
        # model names only: the tokenizers read the published files from the cache above
        for name in MODEL_NAMES:
            code = re.sub(r'(?<!Tokenizer)\.from_pretrained\("%s"' % re.escape(name),
                          lambda m: f'.from_pretrained({str(root / name)!r}', code)
        namespace.update(reader_names(code, root, tmp_path))
        try:
            exec(compile(code, f"README.md, block at line {line}", "exec"), namespace)
        except Exception as err:
            raise AssertionError(f"the README's example at line {line} fails: {type(err).__name__}: {err}") from err
        for marker, check in COMMENT_CHECKS.items():
            if marker in code:
                check(namespace)


def _eval_mode_and_shapes(ns):
    assert not ns["model"].training  # "returned in eval mode"
    assert ns["last_hidden_state"].shape[:2] == ns["batch"]["input_ids"].shape and ns["pooled"].dim() == 2


def _gpt2_outputs(ns):
    assert ns["ids"].shape[1] < ns["out"].shape[1] <= 30  # max_length=30 (fewer if eos comes first)
    assert ns["out"][0, :ns["ids"].shape[1]].tolist() == ns["ids"][0].tolist()
    assert ns["logits"].shape[:2] == ns["ids"].shape and len(ns["presents"]) == ns["model"].config.n_layer


def _log_probabilities(ns):
    log_probs, segment = ns["log_probs"], ns["segment_2"]  # "[batch, len, vocabulary] log-probabilities"
    assert log_probs.shape == (*segment.shape, VOCAB)
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(segment.shape), atol=1e-4)


def _int8_loads_back(ns):
    import transformers_fast

    again = transformers_fast.BertModel.from_pretrained(ns["folder"])  # "loads back quantized, in its dtype"
    ids = torch.tensor([[101, 7592, 2088, 102]])
    with torch.no_grad():
        assert torch.equal(again(ids)[0], ns["model"](ids)[0]) and again.dtype == ns["model"].dtype


# what a block's comments say of its results, checked after it runs (keyed by a line of the block)
COMMENT_CHECKS = {
    "last_hidden_state, pooled = model(": _eval_mode_and_shapes,
    "logits, presents = model(ids)[:2]": _gpt2_outputs,
    "log_probs, mems = model(segment_2, mems=mems)[:2]": _log_probabilities,
    "model.save_pretrained(folder)": _int8_loads_back,
}


def test_readme_model_class_counts():
    """The "What is here" table's count of model classes per family is the package's (XLM's prefix is XLNet's too)."""
    import transformers_fast

    row = next(line for line in open(README, encoding="utf-8") if line.startswith("| Models ("))
    prefixes = {"BERT": "Bert", "RoBERTa": "Roberta", "DistilBERT": "DistilBert", "OpenAI GPT": "OpenAIGPT",
                "GPT-2": "GPT2", "Transformer-XL": "TransfoXL", "XLNet": "XLNet", "XLM": "XLM"}
    stated = {name: int(n) for name, n in re.findall(r"(%s) \((\d+)" % "|".join(map(re.escape, prefixes)), row)}
    assert set(stated) == set(prefixes), stated
    for name, prefix in prefixes.items():
        classes = [n for n in transformers_fast.__all__
                   if n.startswith(prefix) and not (prefix == "XLM" and n.startswith("XLNet"))
                   and isinstance(getattr(transformers_fast, n), type)
                   and issubclass(getattr(transformers_fast, n), torch.nn.Module)]
        assert stated[name] == len(classes), (name, sorted(classes))


def test_readme_names_files_and_make_targets_that_exist():
    """Every script, document and `make` target the README tells a reader to use is there."""
    text = open(README, encoding="utf-8").read()
    root = os.path.dirname(README)
    paths = set(re.findall(r"\b((?:benchmarks|docs|examples|scripts|tests)/[\w./-]+\.\w+)", text))
    assert len(paths) > 10, paths
    assert not [p for p in sorted(paths) if not os.path.exists(os.path.join(root, p))]
    for path, test in re.findall(r"(tests/[\w/]+\.py)::(\w+)", text):
        assert f"def {test}(" in open(os.path.join(root, path), encoding="utf-8").read(), (path, test)
    targets = set(re.findall(r"`make ([\w-]+)", text)) | set(re.findall(r"^make ([\w-]+)", text, re.M))
    makefile = open(os.path.join(root, "Makefile"), encoding="utf-8").read()
    assert targets and not [t for t in sorted(targets) if not re.search(r"^%s:" % re.escape(t), makefile, re.M)]
