"""from_pretrained's keyword arguments of transformers (subfolder=, use_safetensors=, variant=, trust_remote_code=,
ignore_mismatched_sizes=, token= / revision= / local_files_only= on local folders) for models, configs and
tokenizers, Auto classes included, each compared with what the reference does on the same folder."""
from __future__ import annotations

import shutil

import pytest
import torch

import transformers_fast as tf
from modeling_helpers import quiet_transformers
from test_loading_parity import TINY_PT, pt_checkpoint, pt_load

BASE_CLASSES = {"bert": "BertModel", "roberta": "RobertaModel", "distilbert": "DistilBertModel",
                "openai": "OpenAIGPTModel", "gpt2": "GPT2Model", "transfo_xl": "TransfoXLModel",
                "xlnet": "XLNetModel", "xlm": "XLMModel"}


def first_output(model, ids):
    with torch.no_grad():
        return model(ids)[0]


def ids():
    return torch.randint(5, 99, (2, 7), generator=torch.Generator().manual_seed(0))


def tiny_hf_bert(folder, num_labels=2, **save):
    import transformers

    quiet_transformers()
    config = transformers.BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                     intermediate_size=37, max_position_embeddings=64, num_labels=num_labels)
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(config).eval()
    model.save_pretrained(folder, **save)
    return model


def write_hub_snapshot(cache_dir, repo_id, files):
    """huggingface_hub's cache layout (models--org--name/{refs/main,snapshots/<sha>/}), files in subfolders too."""
    sha = "0123456789abcdef0123456789abcdef01234567"
    repo = cache_dir / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(sha)
    for name, source in files.items():
        target = repo / "snapshots" / sha / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


# ---- subfolder= ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", list(TINY_PT))
def test_subfolder_of_a_local_folder_every_family(tmp_path, family):
    """from_pretrained(root, subfolder="sub") reads root/sub (config, weights), for the class, its config and
    AutoModel / AutoConfig: the outputs of 1.2.0's model saved in root/sub (before: a TypeError from __init__)."""
    class_name = BASE_CLASSES[family]
    sub = {"openai": "openai-gpt", "transfo_xl": "transfo-xl"}.get(family, family)  # (1.2.0's config names no family)
    pt_checkpoint(family, class_name, tmp_path / sub)
    expected = first_output(pt_load(class_name, tmp_path / sub), ids())
    ours = getattr(tf, class_name).from_pretrained(tmp_path, subfolder=sub)
    torch.testing.assert_close(first_output(ours, ids()), expected, atol=1e-4, rtol=1e-4)
    auto = tf.AutoModel.from_pretrained(tmp_path, subfolder=sub)
    assert type(auto) is type(ours)
    torch.testing.assert_close(first_output(auto, ids()), expected, atol=1e-4, rtol=1e-4)
    config_class = getattr(tf, TINY_PT[family][0])
    assert config_class.from_pretrained(tmp_path, subfolder=sub) == ours.config
    assert tf.AutoConfig.from_pretrained(tmp_path, subfolder=sub) == ours.config
    with pytest.raises(OSError, match="no config.json"):
        getattr(tf, class_name).from_pretrained(tmp_path, subfolder="absent")


def test_subfolder_as_transformers_local_and_hub_cache(tmp_path, monkeypatch):
    """The same folder (and the same hub cache, where the files lie under sub/) as transformers reads them."""
    import transformers

    tiny_hf_bert(tmp_path / "root" / "sub")
    for kw in ({}, {"use_safetensors": True}):
        expected = transformers.BertForSequenceClassification.from_pretrained(tmp_path / "root", subfolder="sub", **kw)
        ours = tf.BertForSequenceClassification.from_pretrained(tmp_path / "root", subfolder="sub", **kw)
        torch.testing.assert_close(first_output(ours, ids()), first_output(expected, ids()), atol=1e-4, rtol=1e-4)

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cache = tmp_path / "cache"
    write_hub_snapshot(cache, "someone/tiny", {f"sub/{f}": tmp_path / "root" / "sub" / f
                                                for f in ("config.json", "model.safetensors")})
    kw = dict(cache_dir=str(cache), subfolder="sub")
    expected = transformers.BertForSequenceClassification.from_pretrained("someone/tiny", local_files_only=True, **kw)
    for loader in (tf.BertForSequenceClassification, tf.AutoModelForSequenceClassification):
        ours = loader.from_pretrained("someone/tiny", **kw)
        torch.testing.assert_close(first_output(ours, ids()), first_output(expected, ids()), atol=1e-4, rtol=1e-4)
    assert tf.AutoConfig.from_pretrained("someone/tiny", **kw).to_dict()["num_labels"] == expected.config.num_labels
    with pytest.raises(OSError):  # the repository's root has no config.json
        tf.BertModel.from_pretrained("someone/tiny", cache_dir=str(cache))


def test_tokenizer_subfolder_local_and_hub_cache(tmp_path, monkeypatch):
    """Tokenizers (the class and AutoTokenizer) read root/sub, and sub/ of a cached hub repository, giving the ids
    transformers gives for the same files."""
    import transformers
    from tokenizer_corpus import bert_uncased_vocab

    (tmp_path / "root" / "sub").mkdir(parents=True)
    shutil.copyfile(bert_uncased_vocab(), tmp_path / "root" / "sub" / "vocab.txt")
    text = "Hello world, the quick brown fox jumps over it"
    expected = transformers.BertTokenizer.from_pretrained(tmp_path / "root", subfolder="sub")(text)["input_ids"]
    assert tf.BertTokenizer.from_pretrained(tmp_path / "root", subfolder="sub")(text)["input_ids"] == expected
    tiny_hf_bert(tmp_path / "root" / "sub")  # a config.json names the family for AutoTokenizer
    assert tf.AutoTokenizer.from_pretrained(tmp_path / "root", subfolder="sub")(text)["input_ids"] == expected

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cache = tmp_path / "cache"
    write_hub_snapshot(cache, "someone/tok", {"sub/vocab.txt": tmp_path / "root" / "sub" / "vocab.txt",
                                              "sub/config.json": tmp_path / "root" / "sub" / "config.json"})
    kw = dict(cache_dir=str(cache), subfolder="sub")
    expected = transformers.BertTokenizer.from_pretrained("someone/tok", local_files_only=True, **kw)(text)["input_ids"]
    assert tf.BertTokenizer.from_pretrained("someone/tok", **kw)(text)["input_ids"] == expected
    assert tf.AutoTokenizer.from_pretrained("someone/tok", **kw)(text)["input_ids"] == expected


@pytest.mark.parametrize("name,value", [("subfolder", ["sub"]), ("cache_dir", 3), ("revision", 3), ("token", 3),
                                        ("use_auth_token", 3)])
@pytest.mark.parametrize("where", ["folder", "someone/tiny"])
def test_download_options_of_a_wrong_type_name_the_argument(tmp_path, monkeypatch, name, value, where):
    """A TypeError naming the option, from every loader, for a folder or a hub repository id (before: huggingface_hub's
    or os.path's TypeError, which names neither, or an Auto class's failure inside os.path.join)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tiny_hf_bert(tmp_path / "folder")
    target = tmp_path / "folder" if where == "folder" else where
    for loader in (tf.BertModel, tf.BertConfig, tf.BertTokenizer, tf.AutoModel, tf.AutoConfig, tf.AutoTokenizer):
        with pytest.raises(TypeError, match=name.replace("use_auth_token", "token")):
            loader.from_pretrained(target, **{name: value})


# ---- use_safetensors= and variant= --------------------------------------------------------------------------


def test_use_safetensors_picks_the_format_as_transformers(tmp_path):
    """A folder with both formats holding different weights: use_safetensors=False reads pytorch_model.bin,
    True or None model.safetensors, as transformers; True on a folder with only the .bin is an OSError there and
    here (before: a TypeError from the model's __init__)."""
    import transformers

    folder = tmp_path / "both"
    tiny_hf_bert(folder)
    other = tiny_hf_bert(tmp_path / "other")
    torch.save(other.state_dict(), folder / "pytorch_model.bin")
    for use_safetensors in (None, True, False):
        expected = transformers.BertForSequenceClassification.from_pretrained(folder, use_safetensors=use_safetensors)
        ours = tf.BertForSequenceClassification.from_pretrained(folder, use_safetensors=use_safetensors)
        torch.testing.assert_close(first_output(ours, ids()), first_output(expected, ids()), atol=1e-4, rtol=1e-4)
    (folder / "model.safetensors").unlink()
    with pytest.raises(OSError):
        transformers.BertModel.from_pretrained(folder, use_safetensors=True)
    with pytest.raises(OSError, match="model.safetensors"):
        tf.BertModel.from_pretrained(folder, use_safetensors=True)
    with pytest.raises(TypeError, match="use_safetensors"):
        tf.BertModel.from_pretrained(folder, use_safetensors="yes")


@pytest.mark.parametrize("safe", [True, False])
def test_variant_reads_the_variant_files_as_transformers(tmp_path, safe):
    """save_pretrained(variant="fp16") of transformers writes model.fp16.safetensors / pytorch_model.fp16.bin:
    variant="fp16" loads it as transformers does; without variant= (and with another) both raise OSError."""
    import transformers

    tiny_hf_bert(tmp_path, variant="fp16", safe_serialization=safe)
    expected = transformers.BertForSequenceClassification.from_pretrained(tmp_path, variant="fp16")
    ours = tf.BertForSequenceClassification.from_pretrained(tmp_path, variant="fp16")
    torch.testing.assert_close(first_output(ours, ids()), first_output(expected, ids()), atol=1e-4, rtol=1e-4)
    for kw in ({}, {"variant": "bf16"}):
        with pytest.raises(OSError):
            transformers.BertModel.from_pretrained(tmp_path, **kw)
        with pytest.raises(OSError):
            tf.BertModel.from_pretrained(tmp_path, **kw)


@pytest.mark.parametrize("safe", [True, False])
def test_save_pretrained_variant_is_read_by_transformers(tmp_path, safe):
    """save_pretrained(variant="fp16") writes the file transformers reads with variant="fp16" (before: TypeError)."""
    import transformers

    tiny_hf_bert(tmp_path / "source")
    tf.BertForSequenceClassification.from_pretrained(tmp_path / "source").save_pretrained(
        str(tmp_path / "saved"), safe_serialization=safe, variant="fp16")
    expected = transformers.BertForSequenceClassification.from_pretrained(tmp_path / "saved", variant="fp16")
    ours = tf.BertForSequenceClassification.from_pretrained(tmp_path / "saved", variant="fp16")
    torch.testing.assert_close(first_output(expected, ids()), first_output(ours, ids()), atol=1e-4, rtol=1e-4)
    with pytest.raises(OSError):
        transformers.BertModel.from_pretrained(tmp_path / "saved")


@pytest.mark.parametrize("safe", [True, False])
@pytest.mark.parametrize("variant", [None, "fp16"])
def test_save_pretrained_max_shard_size_writes_transformers_shards(tmp_path, safe, variant):
    """max_shard_size shards as transformers' save_pretrained does: the same file names and index, which both
    libraries load (a tied LM head included); a later unsharded save removes the shards and the index."""
    import os

    import transformers

    tiny_hf_bert(tmp_path / "source")
    ours = tf.BertForMaskedLM.from_pretrained(tmp_path / "source")
    theirs_saved = transformers.BertForMaskedLM.from_pretrained(tmp_path / "source")
    kw = dict(max_shard_size="20KB", variant=variant)
    theirs_saved.save_pretrained(tmp_path / "theirs", safe_serialization=True, **kw)
    ours.save_pretrained(str(tmp_path / "ours"), safe_serialization=safe, **kw)
    files = sorted(f for f in os.listdir(tmp_path / "ours") if f != "config.json")
    stem = ("model" if safe else "pytorch_model") + ("" if variant is None else ".fp16")
    index = ("model.safetensors.index" if safe else "pytorch_model.bin.index") + ("" if variant is None else ".fp16")
    assert len(files) > 3 and f"{index}.json" in files and f"{stem}-00001-of-{len(files) - 1:05d}." \
        f"{'safetensors' if safe else 'bin'}" in files
    if safe:  # (transformers writes safetensors only: the same names)
        assert files == sorted(f for f in os.listdir(tmp_path / "theirs") if f.startswith(("model", "pytorch")))
    loaded = tf.BertForMaskedLM.from_pretrained(str(tmp_path / "ours"), variant=variant)
    expected = transformers.BertForMaskedLM.from_pretrained(tmp_path / "ours", variant=variant).eval()
    torch.testing.assert_close(first_output(loaded, ids()), first_output(ours, ids()), atol=0, rtol=0)
    torch.testing.assert_close(first_output(expected, ids()), first_output(ours, ids()), atol=1e-4, rtol=1e-4)
    ours.save_pretrained(str(tmp_path / "ours"), safe_serialization=not safe, variant=variant)
    assert sorted(os.listdir(tmp_path / "ours")) == sorted(["config.json", f"{'pytorch_model' if safe else 'model'}"
                                                           f"{'' if variant is None else '.fp16'}."
                                                           f"{'bin' if safe else 'safetensors'}"])
    for bad in (True, 2.5, [1]):
        with pytest.raises(TypeError, match="max_shard_size"):
            ours.save_pretrained(str(tmp_path / "bad"), max_shard_size=bad)
    with pytest.raises(ValueError, match="max_shard_size"):
        ours.save_pretrained(str(tmp_path / "bad"), max_shard_size="lots")


# ---- ignore_mismatched_sizes= -------------------------------------------------------------------------------


def test_ignore_mismatched_sizes_reinitialises_the_head_as_transformers(tmp_path):
    """num_labels=5 on a 2-label checkpoint: without the flag both libraries raise (RuntimeError, as 1.2.0);
    with it the classifier is new with 5 labels, every other weight loaded (the base model's outputs equal
    transformers'), and mismatched_keys lists what transformers lists."""
    import transformers

    tiny_hf_bert(tmp_path)
    with pytest.raises(RuntimeError):
        transformers.BertForSequenceClassification.from_pretrained(tmp_path, num_labels=5)
    with pytest.raises(RuntimeError, match="ignore_mismatched_sizes"):
        tf.BertForSequenceClassification.from_pretrained(tmp_path, num_labels=5)
    expected, expected_info = transformers.BertForSequenceClassification.from_pretrained(
        tmp_path, num_labels=5, ignore_mismatched_sizes=True, output_loading_info=True)
    ours, info = tf.BertForSequenceClassification.from_pretrained(
        tmp_path, num_labels=5, ignore_mismatched_sizes=True, output_loading_info=True)
    assert ours.config.num_labels == expected.config.num_labels == 5
    assert ours.classifier.weight.shape == expected.classifier.weight.shape
    assert sorted((k, tuple(a), tuple(b)) for k, a, b in info["mismatched_keys"]) == \
        sorted((k, tuple(a), tuple(b)) for k, a, b in expected_info["mismatched_keys"])
    assert sorted(info["missing_keys"]) == sorted(expected_info["missing_keys"])
    assert sorted(info["unexpected_keys"]) == sorted(expected_info["unexpected_keys"])
    with torch.no_grad():
        torch.testing.assert_close(ours.bert(ids())[1], expected.bert(ids()).pooler_output, atol=1e-4, rtol=1e-4)
    assert torch.isfinite(ours.classifier.weight).all() and ours.classifier.weight.std() > 0


# ---- options with nothing to do on a local folder -----------------------------------------------------------


def test_trust_remote_code_and_hub_options_on_a_local_folder(tmp_path):
    """transformers loads its built-in classes from a local folder whatever trust_remote_code, token,
    use_auth_token, revision and local_files_only say: so do models, configs, tokenizers and Auto classes here
    (before: trust_remote_code reached the model's __init__ as an unknown keyword)."""
    import transformers
    from tokenizer_corpus import bert_uncased_vocab

    tiny_hf_bert(tmp_path)
    shutil.copyfile(bert_uncased_vocab(), tmp_path / "vocab.txt")
    text = "Hello world"
    options = dict(trust_remote_code=True, token="hf_x", revision="main", local_files_only=True)
    expected = transformers.AutoModelForSequenceClassification.from_pretrained(tmp_path, **options)
    expected_ids = transformers.AutoTokenizer.from_pretrained(tmp_path, **options)(text)["input_ids"]
    for kw in (options, dict(use_auth_token="hf_x", trust_remote_code=False)):
        for loader in (tf.BertForSequenceClassification, tf.AutoModelForSequenceClassification):
            ours = loader.from_pretrained(tmp_path, **kw)
            torch.testing.assert_close(first_output(ours, ids()), first_output(expected, ids()), atol=1e-4, rtol=1e-4)
        assert tf.AutoConfig.from_pretrained(tmp_path, **kw).num_labels == expected.config.num_labels
        for tokenizer in (tf.BertTokenizer, tf.AutoTokenizer):
            loaded = tokenizer.from_pretrained(tmp_path, **kw)
            assert loaded(text)["input_ids"] == expected_ids
            assert not {"trust_remote_code", "token", "use_auth_token", "revision"} & set(loaded.init_kwargs)


def test_auto_tokenizer_use_fast_is_not_saved_as_an_init_keyword(tmp_path):
    """AutoTokenizer's use_fast= picks a tokenizer class in transformers: its saved tokenizer_config.json does not
    hold it, and neither does ours (before: written there as an init keyword of the tokenizer)."""
    import json

    import transformers
    from tokenizer_corpus import bert_uncased_vocab

    tiny_hf_bert(tmp_path / "model")
    shutil.copyfile(bert_uncased_vocab(), tmp_path / "model" / "vocab.txt")
    for use_fast in (True, False):
        for name, library in (("ours", tf), ("transformers", transformers)):
            tokenizer = library.AutoTokenizer.from_pretrained(tmp_path / "model", use_fast=use_fast)
            (tmp_path / name).mkdir(exist_ok=True)
            tokenizer.save_pretrained(str(tmp_path / name))
            assert "use_fast" not in json.loads((tmp_path / name / "tokenizer_config.json").read_text()), name
