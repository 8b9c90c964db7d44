"""1.2.0's checkpoint converters (convert_*_checkpoint_to_pytorch, convert_pytorch_checkpoint_to_tf, the
`pytorch_transformers MODEL ...` command): the same release files converted by 1.2.0's function and by ours give the
same files, which both libraries load to the same models. TensorFlow is not installed here: its checkpoints are
served by the stand-in of test_loading_tf_checkpoints; XLM, OpenAI GPT and Transformer-XL datasets are real files
in the releases' formats."""
from __future__ import annotations

import argparse
import functools
import importlib
import json
import os
import pickle
import re
import subprocess
import sys
import types

import numpy as np
import pytest
import torch
import torch._dynamo  # noqa: F401  (before the TensorFlow stand-in: importing dynamo probes tensorflow's spec)

import pytorch_transformers as pt
import transformers_fast as tf
from test_loading_tf_checkpoints import (BERT, GPT, TRANSFO_XL, XLNET, bert_tf_names,  # noqa: F401
                                         fake_tensorflow, gpt_tf_names, openai_numpy_release, transfo_xl_tf_names,
                                         xlnet_tf_names)
from transformers_fast import cli, conversion

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def saved_state(path):
    return torch.load(path, map_location="cpu", weights_only=True)


def assert_same_files(ours, theirs):
    """Two saved state dicts hold the same tensors (1.2.0 also saves GPT's causal-mask buffers, rebuilt on load)."""
    ours, theirs = saved_state(ours), saved_state(theirs)
    theirs = {k: v for k, v in theirs.items() if not re.fullmatch(r"h\.\d+\.attn\.bias", k)}
    assert sorted(ours) == sorted(theirs)
    for key, value in theirs.items():
        assert torch.equal(ours[key], value), key


def json_file(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write_config(path, config):
    with open(path, "w", encoding="utf-8") as f:
        f.write(config.to_json_string())
    return str(path)


def test_bert_tf_checkpoint(fake_tensorflow, tmp_path):
    torch.manual_seed(0)
    source = pt.BertForPreTraining(pt.BertConfig(**BERT))
    checkpoint = str(tmp_path / "model.ckpt")
    fake_tensorflow[checkpoint] = bert_tf_names(source.state_dict())
    config = write_config(tmp_path / "bert_config.json", pt.BertConfig(**BERT))
    from pytorch_transformers.convert_tf_checkpoint_to_pytorch import convert_tf_checkpoint_to_pytorch

    convert_tf_checkpoint_to_pytorch(checkpoint, config, str(tmp_path / "theirs.bin"))
    from transformers_fast.convert_tf_checkpoint_to_pytorch import convert_tf_checkpoint_to_pytorch as ours

    ours(checkpoint, config, str(tmp_path / "ours.bin"))
    assert_same_files(tmp_path / "ours.bin", tmp_path / "theirs.bin")
    # 1.2.0's command form, through `python -m transformers_fast` and `transformers-fast convert`
    assert conversion.command_main(["bert", checkpoint, config, str(tmp_path / "command.bin")]) == 0
    assert cli.main(["convert", "bert", checkpoint, config, str(tmp_path / "cli.bin")]) == 0
    for name in ("command.bin", "cli.bin"):
        assert_same_files(tmp_path / name, tmp_path / "theirs.bin")


@pytest.mark.parametrize("family", ["gpt2", "gpt"])
def test_gpt_releases(family, fake_tensorflow, tmp_path):
    torch.manual_seed(0)
    config_class, model_class = (("GPT2Config", "GPT2Model") if family == "gpt2" else
                                 ("OpenAIGPTConfig", "OpenAIGPTModel"))
    source = getattr(pt, model_class)(getattr(pt, config_class)(**GPT))
    config = write_config(tmp_path / "config.json", getattr(pt, config_class)(**GPT))
    if family == "gpt2":
        release = str(tmp_path / "model.ckpt")
        fake_tensorflow[release] = gpt_tf_names(source.state_dict())
        theirs = importlib.import_module("pytorch_transformers.convert_gpt2_checkpoint_to_pytorch")
        convert, ours = theirs.convert_gpt2_checkpoint_to_pytorch, conversion.convert_gpt2_checkpoint_to_pytorch
    else:  # the numpy shards of OpenAI's release
        release = tmp_path / "release"
        release.mkdir()
        openai_numpy_release(release, source.state_dict())
        release = str(release)
        theirs = importlib.import_module("pytorch_transformers.convert_openai_checkpoint_to_pytorch")
        convert, ours = theirs.convert_openai_checkpoint_to_pytorch, conversion.convert_openai_checkpoint_to_pytorch
    for folder in ("theirs", "ours"):
        (tmp_path / folder).mkdir()
    convert(release, config, str(tmp_path / "theirs"))
    ours(release, config, str(tmp_path / "ours"))
    assert_same_files(tmp_path / "ours" / "pytorch_model.bin", tmp_path / "theirs" / "pytorch_model.bin")
    x = torch.randint(0, 99, (2, 7))
    # each library reads the other's folder
    for reader in (getattr(pt, model_class), getattr(tf, model_class)):
        for folder in ("ours", "theirs"):
            loaded = reader.from_pretrained(str(tmp_path / folder)).eval()
            with torch.no_grad():
                torch.testing.assert_close(loaded(x)[0], source.eval()(x)[0], atol=1e-5, rtol=0)
    # the default config (an empty config argument) is the released model's
    defaulted = tmp_path / "defaulted"
    with pytest.raises(ValueError, match="shape"):  # the tiny release does not fit the full-size default config
        ours(release, "", str(defaulted))


def test_xlnet_tf_checkpoint_with_finetuning_task(fake_tensorflow, tmp_path):
    torch.manual_seed(0)
    config = pt.XLNetConfig(99, finetuning_task="sts-b", num_labels=1, **XLNET)
    source = pt.XLNetForSequenceClassification(config)
    checkpoint = str(tmp_path / "model.ckpt")
    fake_tensorflow[checkpoint] = xlnet_tf_names(source, config)
    config_file = write_config(tmp_path / "xlnet_config.json", pt.XLNetConfig(99, **XLNET))
    from pytorch_transformers.convert_xlnet_checkpoint_to_pytorch import convert_xlnet_checkpoint_to_pytorch

    for folder in ("theirs", "ours"):
        (tmp_path / folder).mkdir()
    convert_xlnet_checkpoint_to_pytorch(checkpoint, config_file, str(tmp_path / "theirs"), "STS-B")
    assert conversion.command_main(["xlnet", checkpoint, config_file, str(tmp_path / "ours"), "STS-B"]) == 0
    assert_same_files(tmp_path / "ours" / "pytorch_model.bin", tmp_path / "theirs" / "pytorch_model.bin")
    ours_config = json_file(tmp_path / "ours" / "config.json")
    assert (ours_config["finetuning_task"], ours_config["num_labels"]) == ("sts-b", 1)
    loaded = tf.XLNetForSequenceClassification.from_pretrained(str(tmp_path / "ours")).eval()
    x = torch.randint(0, 99, (2, 7))
    with torch.no_grad():
        torch.testing.assert_close(loaded(x)[0], source.eval()(x)[0], atol=1e-5, rtol=0)


class Corpus:  # the Transformer-XL release's data_utils.Corpus and vocabulary.Vocab, pickled by name
    pass


class Vocab:
    pass


def dataset_pickle(path, train, extra=None):
    """A dataset file as the Transformer-XL release wrote it (pickle protocol 2 of its Corpus and Vocab objects)."""
    vocab = Vocab()
    symbols = ["<eos>", "<unk>", "the", "cat", "sat", "on", "mat", "."]
    vocab.__dict__.update(special=["<eos>"], min_freq=0, max_size=None, lower_case=False, delimiter=None,
                          vocab_file=None, counter=__import__("collections").Counter(symbols[2:]), idx2sym=symbols,
                          sym2idx={s: i for i, s in enumerate(symbols)}, unk_idx=1)
    corpus = Corpus()
    corpus.__dict__.update(dataset="wt103", vocab=vocab, train=train, valid=train[:5].copy(), test=train[:3].copy())
    corpus.__dict__.update(extra or {})
    Corpus.__module__, Vocab.__module__ = "data_utils", "vocabulary"
    modules = {"data_utils": types.ModuleType("data_utils"), "vocabulary": types.ModuleType("vocabulary")}
    modules["data_utils"].Corpus, modules["vocabulary"].Vocab = Corpus, Vocab
    saved = {name: sys.modules.get(name) for name in modules}
    sys.modules.update(modules)
    try:
        with open(path, "wb") as f:
            pickle.dump(corpus, f, protocol=2)
    finally:
        for name, module in saved.items():
            if module is None:
                del sys.modules[name]
            else:
                sys.modules[name] = module
    return str(path)


def test_transfo_xl_dataset_and_checkpoint(fake_tensorflow, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "data_utils", sys.modules.get("data_utils"))  # 1.2.0's module sets them
    monkeypatch.setitem(sys.modules, "vocabulary", sys.modules.get("vocabulary"))
    theirs = importlib.import_module("pytorch_transformers.convert_transfo_xl_checkpoint_to_pytorch")
    train = np.arange(40, dtype=np.int64) % 8
    dataset = dataset_pickle(tmp_path / "cache.pkl", train)
    torch.manual_seed(0)
    config = pt.TransfoXLConfig(untie_r=True, **TRANSFO_XL)
    source = pt.TransfoXLLMHeadModel(config)
    checkpoint = str(tmp_path / "model.ckpt")
    fake_tensorflow[checkpoint] = transfo_xl_tf_names(source, config)
    config_file = write_config(tmp_path / "config.json", pt.TransfoXLConfig(untie_r=True, **TRANSFO_XL))
    for folder in ("theirs", "ours"):
        (tmp_path / folder).mkdir()
    with monkeypatch.context() as patched:  # 1.2.0 wrote tensors-free pickles with torch.save: read them back as such
        patched.setattr(torch, "load", functools.partial(torch.load, weights_only=False))
        theirs.convert_transfo_xl_checkpoint_to_pytorch(checkpoint, config_file, str(tmp_path / "theirs"), dataset)
        their_vocab, their_corpus = (torch.load(str(tmp_path / "theirs" / name)) for name in ("vocab.bin", "corpus.bin"))
    # the command tells a dataset from a checkpoint by "ckpt" in its name, as 1.2.0's
    assert conversion.command_main(["transfo_xl", dataset, str(tmp_path / "ours")]) == 0
    assert conversion.command_main(["transfo_xl", checkpoint, str(tmp_path / "ours"), config_file]) == 0
    assert_same_files(tmp_path / "ours" / "pytorch_model.bin", tmp_path / "theirs" / "pytorch_model.bin")
    ours_vocab, ours_corpus = (saved_state(tmp_path / "ours" / name) for name in ("vocab.bin", "corpus.bin"))
    assert ours_vocab == their_vocab
    assert sorted(ours_corpus) == sorted(their_corpus) and ours_corpus["dataset"] == "wt103"
    for split in ("train", "valid", "test"):
        assert torch.equal(ours_corpus[split], torch.as_tensor(their_corpus[split]))
    tokenizer = tf.TransfoXLTokenizer.from_pretrained(str(tmp_path / "ours"))
    assert tokenizer.convert_tokens_to_ids(["the", "cat", "dog"]) == [2, 3, 1]
    corpus = tf.TransfoXLCorpus.from_pretrained(str(tmp_path / "ours"))
    assert torch.equal(corpus.train, torch.as_tensor(train))
    loaded = tf.TransfoXLLMHeadModel.from_pretrained(str(tmp_path / "ours")).eval()
    x = torch.randint(0, 100, (2, 7))
    with torch.no_grad():
        torch.testing.assert_close(loaded(x)[0], source.eval()(x)[0], atol=1e-5, rtol=0)


class Payload:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_dataset_pickle_runs_no_code(tmp_path):
    dataset = dataset_pickle(tmp_path / "cache.pkl", np.zeros(4, dtype=np.int64), extra={"hook": Payload()})
    with pytest.raises(pickle.UnpicklingError, match="refusing to load (posix|nt).system"):
        conversion.convert_transfo_xl_checkpoint_to_pytorch("", "", str(tmp_path / "out"), dataset)
    (tmp_path / "list.pkl").write_bytes(pickle.dumps([1, 2], protocol=2))
    with pytest.raises(ValueError, match="not a Transformer-XL dataset pickle"):
        conversion.convert_transfo_xl_checkpoint_to_pytorch("", "", str(tmp_path / "out"), str(tmp_path / "list.pkl"))


XLM = dict(emb_dim=32, n_layers=2, n_heads=4, n_langs=2)


def xlm_release_dump(path, extra_params=None):
    """An XLM release dump (facebookresearch/XLM's checkpoint): the model's state dict with the release's names,
    its params (with the tensor and array entries 1.2.0 drops) and the BPE dictionary with '@@' continuations."""
    torch.manual_seed(0)
    source = pt.XLMModel(pt.XLMConfig(99, **XLM)).eval()
    words = ["<s>", "</s>", "<pad>", "<unk>"] + [f"<special{i}>" for i in range(10)] + \
            [f"w{i}" if i % 3 else f"w{i}@@" for i in range(85)]
    params = dict(n_words=99, emb_dim=32, n_layers=2, n_heads=4, n_langs=2, dropout=0.1, attention_dropout=0.1,
                  gelu_activation=True, sinusoidal_embeddings=False, causal=False, asm=False, use_lang_emb=True,
                  lang2id={"en": 0, "fr": 1}, id2lang={0: "en", 1: "fr"}, langs=["en", "fr"],
                  pred_probs=torch.FloatTensor([0.8, 0.1, 0.1]), mask_scores=np.ones(99), bos_index=0, eos_index=1,
                  pad_index=2, unk_index=3, mask_index=5, max_position_embeddings=512)
    params.update(extra_params or {})
    torch.save({"model": source.state_dict(), "params": params, "dico_word2id": {w: i for i, w in enumerate(words)},
                "dico_id2word": dict(enumerate(words)), "dico_counts": {w: 1 for w in words}}, path)
    return source, str(path)


def test_xlm_release_dump(tmp_path, monkeypatch):
    source, dump = xlm_release_dump(tmp_path / "mlm_enfr.pth")
    from pytorch_transformers.convert_xlm_checkpoint_to_pytorch import convert_xlm_checkpoint_to_pytorch

    for folder in ("theirs", "ours", "module"):
        (tmp_path / folder).mkdir()
    with monkeypatch.context() as patched:  # 1.2.0 read the dump with a full unpickler (numpy arrays in its params)
        patched.setattr(torch, "load", functools.partial(torch.load, weights_only=False))
        convert_xlm_checkpoint_to_pytorch(dump, str(tmp_path / "theirs"))
    assert conversion.command_main(["xlm", dump, str(tmp_path / "ours")]) == 0
    assert_same_files(tmp_path / "ours" / "pytorch_model.bin", tmp_path / "theirs" / "pytorch_model.bin")
    for name in ("config.json", "vocab.json"):
        assert json_file(tmp_path / "ours" / name) == json_file(tmp_path / "theirs" / name)
    assert json_file(tmp_path / "ours" / "vocab.json")["w1</w>"] == 15
    assert json_file(tmp_path / "ours" / "vocab.json")["w0"] == 14
    # the 1.2.0 script form, in a fresh process
    subprocess.run([sys.executable, "-m", "transformers_fast.convert_xlm_checkpoint_to_pytorch",
                    "--xlm_checkpoint_path", dump, "--pytorch_dump_folder_path", str(tmp_path / "module")],
                   check=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True)
    assert_same_files(tmp_path / "module" / "pytorch_model.bin", tmp_path / "theirs" / "pytorch_model.bin")
    x = torch.randint(0, 99, (2, 7))
    langs = torch.randint(0, 2, (2, 7))
    loaded = tf.XLMModel.from_pretrained(str(tmp_path / "ours")).eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, langs=langs)[0], source(x, langs=langs)[0], atol=1e-5, rtol=0)


def test_xlm_dump_runs_no_code(tmp_path):
    _, dump = xlm_release_dump(tmp_path / "bad.pth", extra_params={"hook": Payload()})
    with pytest.raises(ValueError, match="not loaded without running code"):
        conversion.convert_xlm_checkpoint_to_pytorch(dump, str(tmp_path / "out"))
    torch.save({"model": {}}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match="not an XLM release dump"):
        conversion.convert_xlm_checkpoint_to_pytorch(str(tmp_path / "other.pth"), str(tmp_path / "out"))


ROBERTA = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
               max_position_embeddings=514, type_vocab_size=1, layer_norm_eps=1e-5)


def fairseq_release(folder, model, classes=None):
    """fairseq's RoBERTa release files (model.pt: args and the model with fairseq 0.8's names) holding model's
    weights, with an 'mnli' head of `classes` outputs when given (from model.classifier)."""
    state, out = model.state_dict(), {}
    encoder = "decoder.sentence_encoder."
    out[encoder + "embed_tokens.weight"] = state["roberta.embeddings.word_embeddings.weight"]
    out[encoder + "embed_positions.weight"] = state["roberta.embeddings.position_embeddings.weight"]
    out[encoder + "emb_layer_norm.weight"] = state["roberta.embeddings.LayerNorm.weight"]
    out[encoder + "emb_layer_norm.bias"] = state["roberta.embeddings.LayerNorm.bias"]
    for i in range(ROBERTA["num_hidden_layers"]):
        ours, theirs = f"roberta.encoder.layer.{i}.", f"{encoder}layers.{i}."
        for kind in ("weight", "bias"):
            out[f"{theirs}self_attn.in_proj_{kind}"] = torch.cat(
                [state[f"{ours}attention.self.{n}.{kind}"] for n in ("query", "key", "value")])
            out[f"{theirs}self_attn.out_proj.{kind}"] = state[f"{ours}attention.output.dense.{kind}"]
            out[f"{theirs}self_attn_layer_norm.{kind}"] = state[f"{ours}attention.output.LayerNorm.{kind}"]
            out[f"{theirs}fc1.{kind}"] = state[f"{ours}intermediate.dense.{kind}"]
            out[f"{theirs}fc2.{kind}"] = state[f"{ours}output.dense.{kind}"]
            out[f"{theirs}final_layer_norm.{kind}"] = state[f"{ours}output.LayerNorm.{kind}"]
    if classes:
        for part in ("dense.weight", "dense.bias", "out_proj.weight", "out_proj.bias"):
            out["classification_heads.mnli." + part] = state["classifier." + part]
    else:
        for part in ("dense.weight", "dense.bias", "layer_norm.weight", "layer_norm.bias", "bias"):
            out["decoder.lm_head." + part] = state["lm_head." + part]
        out["decoder.lm_head.weight"] = state["lm_head.decoder.weight"]
    args = argparse.Namespace(encoder_embed_dim=32, encoder_layers=2, encoder_attention_heads=4,
                              encoder_ffn_embed_dim=37, num_classes=classes or 3, arch="roberta_base")
    os.makedirs(folder, exist_ok=True)
    torch.save({"args": args, "model": out, "optimizer_history": [], "extra_state": {}}, os.path.join(folder, "model.pt"))
    return str(folder)


@pytest.mark.parametrize("classes", [None, 3])
def test_roberta_fairseq_release(classes, tmp_path):
    torch.manual_seed(0)
    config = pt.RobertaConfig(50265, num_labels=classes or 2, **ROBERTA)
    source = (pt.RobertaForSequenceClassification(config) if classes else pt.RobertaForMaskedLM(config)).eval()
    with torch.no_grad():  # RoBERTa has no token types: the release holds none, the conversion writes zeros
        source.roberta.embeddings.token_type_embeddings.weight.zero_()
    release = fairseq_release(tmp_path / "roberta.base", source, classes)
    conversion.convert_roberta_checkpoint_to_pytorch(release, str(tmp_path / "ours"), bool(classes))
    model_class = "RobertaForSequenceClassification" if classes else "RobertaForMaskedLM"
    x = torch.randint(3, 50265, (2, 9))
    for reader in (tf, pt):
        loaded = getattr(reader, model_class).from_pretrained(str(tmp_path / "ours")).eval()
        with torch.no_grad():
            torch.testing.assert_close(loaded(x)[0], source(x)[0], atol=1e-5, rtol=0)
    model = torch.load(os.path.join(release, "model.pt"), weights_only=False)
    del model["model"]["decoder.sentence_encoder.layers.1.fc2.bias"]
    torch.save(model, tmp_path / "broken.pt")
    with pytest.raises(ValueError, match="no decoder.sentence_encoder.layers.1.fc2.bias"):
        conversion.convert_roberta_checkpoint_to_pytorch(str(tmp_path / "broken.pt"), str(tmp_path / "x"), bool(classes))


def test_bert_to_tf_names_read_back_by_both_libraries(fake_tensorflow, tmp_path):
    """The variables convert_pytorch_checkpoint_to_tf writes are the ones both libraries' readers take back."""
    torch.manual_seed(0)
    source = tf.BertModel(tf.BertConfig(**BERT))
    path = str(tmp_path / "bert.ckpt")
    fake_tensorflow[path] = dict(conversion.bert_tf_variables(source.state_dict()))
    for library in (tf, pt):
        model = library.load_tf_weights_in_bert(library.BertModel(library.BertConfig(**BERT)), None, path)
        for key, value in source.state_dict().items():
            assert torch.equal(model.state_dict()[key], value), key


def test_bert_to_tf_checkpoint_with_tensorflow(tmp_path):
    tensorflow = pytest.importorskip("tensorflow")
    torch.manual_seed(0)
    source = tf.BertModel(tf.BertConfig(**BERT))
    prefix = conversion.convert_pytorch_checkpoint_to_tf(source, str(tmp_path / "tf"), "bert-tiny")
    assert prefix.endswith("bert_tiny.ckpt")
    names = {name for name, _ in tensorflow.train.list_variables(prefix)}
    assert names == set(conversion.bert_tf_variables(source.state_dict()))
    back = tf.load_tf_weights_in_bert(tf.BertModel(tf.BertConfig(**BERT)), None, prefix)
    for key, value in source.state_dict().items():
        assert torch.equal(back.state_dict()[key], value), key


@pytest.mark.parametrize("family", ["bert", "gpt2"])
def test_tf_releases_with_tensorflow(family, tmp_path):
    """Real TensorFlow checkpoints (where TensorFlow is installed), converted by 1.2.0 and by us."""
    pytest.importorskip("tensorflow")
    torch.manual_seed(0)
    if family == "bert":
        source, config = pt.BertForPreTraining(pt.BertConfig(**BERT)), pt.BertConfig(**BERT)
        variables = bert_tf_names(source.state_dict())
        module = "convert_tf_checkpoint_to_pytorch"
        outputs = {"theirs": str(tmp_path / "theirs.bin"), "ours": str(tmp_path / "ours.bin")}
    else:
        source, config = pt.GPT2Model(pt.GPT2Config(**GPT)), pt.GPT2Config(**GPT)
        variables = gpt_tf_names(source.state_dict())
        module = "convert_gpt2_checkpoint_to_pytorch"
        outputs = {"theirs": str(tmp_path / "theirs"), "ours": str(tmp_path / "ours")}
        for folder in outputs.values():
            os.makedirs(folder)
    checkpoint = conversion.write_tf_checkpoint(variables, str(tmp_path / "release" / "model.ckpt"))
    config_file = write_config(tmp_path / "config.json", config)
    for name, library in (("theirs", "pytorch_transformers"), ("ours", "transformers_fast")):
        getattr(importlib.import_module(f"{library}.{module}"), module)(checkpoint, config_file, outputs[name])
    saved = {name: path if family == "bert" else os.path.join(path, "pytorch_model.bin") for name, path in outputs.items()}
    assert_same_files(saved["ours"], saved["theirs"])


def test_pytorch_to_tf_needs_tensorflow(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "tensorflow", None)
    with pytest.raises(ImportError, match="needs TensorFlow"):
        conversion.convert_pytorch_checkpoint_to_tf(tf.BertModel(tf.BertConfig(**BERT)), str(tmp_path), "bert")


def test_command_usage(capsys):
    assert conversion.command_main([]) == 2
    assert "python -m transformers_fast xlm XLM_CHECKPOINT_PATH PYTORCH_DUMP_OUTPUT" in capsys.readouterr().err
    assert conversion.command_main(["bert", "only-one-path"]) == 2
    assert capsys.readouterr().err.strip().endswith("bert TF_CHECKPOINT TF_CONFIG PYTORCH_DUMP_OUTPUT")
    result = subprocess.run([sys.executable, "-m", "transformers_fast", "roberta", "a", "b"], cwd=ROOT,
                            env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True)
    assert result.returncode == 2 and "Should be used as one of" in result.stderr
    with pytest.raises(SystemExit):
        conversion.run_script("convert_xlm_checkpoint_to_pytorch", ["--xlm_checkpoint_path", "x"])
    assert "--pytorch_dump_folder_path" in capsys.readouterr().err
    assert conversion.command_main(["--help"]) == 0 and "Should be used as one of" in capsys.readouterr().out


def test_command_failures_are_one_line(tmp_path):
    """A missing checkpoint: one line naming it and exit status 2, as the transformers-fast command, no traceback."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("TRANSFORMERS_FAST_DEBUG", None)
    result = subprocess.run([sys.executable, "-m", "transformers_fast", "xlm", str(tmp_path / "missing.pth"),
                             str(tmp_path / "out")], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("python -m transformers_fast: error:") and "missing.pth" in result.stderr


def test_module_paths_of_1_2_0():
    for module in conversion.SCRIPTS:
        ours = importlib.import_module("transformers_fast." + module)
        assert callable(getattr(ours, module)), module
