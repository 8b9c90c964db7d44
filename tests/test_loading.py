"""from_pretrained / save_pretrained / configs: name mapping, hub cache, errors by name, round trips with
transformers."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest
import torch

import transformers_fast as tf
from modeling_helpers import compare, hf_model, inputs, quiet_transformers


@pytest.fixture(scope="module")
def hf_mlm_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("hf_bert_mlm")
    model = hf_model("bert", "BertForMaskedLM")
    model.save_pretrained(path)
    return model, path


def hf_outputs(model, family="bert"):
    ids, mask, tt = inputs(family)
    kwargs = {"token_type_ids": tt} if tt is not None else {}
    with torch.no_grad():
        return model(input_ids=ids, attention_mask=mask, **kwargs), (ids, mask, tt)


# ---- checkpoint names ---------------------------------------------------------------------------------------


def test_head_checkpoint_into_base_model_strips_prefix(hf_mlm_dir, caplog):
    import transformers

    ref_full, path = hf_mlm_dir
    ours, info = tf.BertModel.from_pretrained(path, output_loading_info=True)
    ids, mask, tt = inputs("bert")
    with torch.no_grad():
        expected = ref_full.bert(input_ids=ids, attention_mask=mask, token_type_ids=tt).last_hidden_state
        got = ours(ids, tt, mask)[0]
    compare(got, expected, mask)
    # 1.2.0 reads the keys under "bert." only, and names them so (test_loading_parity compares with it)
    assert sorted(info["missing_keys"]) == ["bert.pooler.dense.bias", "bert.pooler.dense.weight"]
    assert info["unexpected_keys"] == []
    assert transformers  # the reference is importable


def test_base_checkpoint_into_head_model_adds_prefix(tmp_path, caplog):
    base = hf_model("bert", "BertModel")
    base.save_pretrained(tmp_path)
    with caplog.at_level(logging.WARNING, logger="transformers_fast.modeling_utils"):
        ours, info = tf.BertForSequenceClassification.from_pretrained(tmp_path, output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == []  # 1.2.0 loads into ours.bert
    assert "classifier.weight" in caplog.text  # the new head's weights are warned about
    ids, mask, tt = inputs("bert")
    with torch.no_grad():
        compare(ours.bert(ids, tt, mask)[0], base(input_ids=ids, attention_mask=mask, token_type_ids=tt)[0], mask)
    # the new classifier is initialised like the reference does (normal(0, 0.02), zero bias), not left empty
    assert ours.classifier.bias.abs().max() == 0
    assert 0.005 < ours.classifier.weight.std().item() < 0.05


def test_tf_era_gamma_beta_names_and_old_buffers(tmp_path, hf_mlm_dir):
    ref, path = hf_mlm_dir
    state = {}
    for key, value in ref.state_dict().items():
        key = key.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
        state[key] = value.clone()
    state["bert.embeddings.position_ids"] = torch.arange(64)[None]  # saved by transformers 4.x
    assert any(k.endswith("gamma") for k in state)
    torch.save(state, tmp_path / "pytorch_model.bin")
    (tmp_path / "config.json").write_text((path / "config.json").read_text())
    ours, info = tf.BertForMaskedLM.from_pretrained(tmp_path, output_loading_info=True)
    # transformers saves a masked-LM model without the pooler, which this head does not use
    assert all(k.startswith("bert.pooler.") for k in info["missing_keys"]) and info["unexpected_keys"] == []
    expected, (ids, mask, tt) = hf_outputs(ref)
    with torch.no_grad():
        compare(ours(ids, tt, mask)[0], expected.logits, mask)


def test_unexpected_keys_listed(tmp_path, hf_mlm_dir, caplog):
    ref, path = hf_mlm_dir
    state = dict(ref.state_dict())
    state["bert.encoder.layer.7.extra.weight"] = torch.zeros(3)
    torch.save(state, tmp_path / "pytorch_model.bin")
    (tmp_path / "config.json").write_text((path / "config.json").read_text())
    with caplog.at_level(logging.WARNING, logger="transformers_fast.modeling_utils"):
        _, info = tf.BertForMaskedLM.from_pretrained(tmp_path, output_loading_info=True)
    assert info["unexpected_keys"] == ["bert.encoder.layer.7.extra.weight"]
    assert "bert.encoder.layer.7.extra.weight" in caplog.text


def test_shape_mismatch_names_key_and_shapes(tmp_path, hf_mlm_dir):
    ref, path = hf_mlm_dir
    state = dict(ref.state_dict())
    state["bert.encoder.layer.1.intermediate.dense.weight"] = torch.zeros(40, 32)
    torch.save(state, tmp_path / "pytorch_model.bin")
    (tmp_path / "config.json").write_text((path / "config.json").read_text())
    with pytest.raises(ValueError) as err:
        tf.BertForMaskedLM.from_pretrained(tmp_path)
    message = str(err.value)
    assert "bert.encoder.layer.1.intermediate.dense.weight" in message
    assert "(40, 32)" in message and "(37, 32)" in message


@pytest.mark.parametrize("kind", ["truncated_safetensors", "truncated_bin", "garbage", "empty"])
def test_corrupt_weights_raise_clear_error(tmp_path, hf_mlm_dir, kind):
    ref, path = hf_mlm_dir
    (tmp_path / "config.json").write_text((path / "config.json").read_text())
    if kind == "truncated_safetensors":
        data = (path / "model.safetensors").read_bytes()
        (tmp_path / "model.safetensors").write_bytes(data[: len(data) // 2])
    elif kind == "truncated_bin":
        torch.save(ref.state_dict(), tmp_path / "full.bin")
        data = (tmp_path / "full.bin").read_bytes()
        os.remove(tmp_path / "full.bin")
        (tmp_path / "pytorch_model.bin").write_bytes(data[: len(data) // 2])
    elif kind == "garbage":
        for seed in range(20):
            noise = torch.randint(0, 256, (4096,), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)
            (tmp_path / "pytorch_model.bin").write_bytes(noise.numpy().tobytes())
            with pytest.raises(OSError, match="corrupt|truncated"):
                tf.BertForMaskedLM.from_pretrained(tmp_path)
        return
    else:
        (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(OSError, match="corrupt|truncated"):
        tf.BertForMaskedLM.from_pretrained(tmp_path)


class NotATensor:
    def __reduce__(self):
        return (os.getcwd, ())


def test_pickles_load_weights_only(tmp_path, hf_mlm_dir):
    _, path = hf_mlm_dir
    (tmp_path / "config.json").write_text((path / "config.json").read_text())
    torch.save({"bert.pooler.dense.weight": NotATensor()}, tmp_path / "pytorch_model.bin")
    with pytest.raises(OSError, match="weights_only"):
        tf.BertForMaskedLM.from_pretrained(tmp_path)


def test_missing_folder_and_missing_weights(tmp_path, hf_mlm_dir):
    _, path = hf_mlm_dir
    with pytest.raises(OSError, match="not a folder"):
        tf.BertModel.from_pretrained(str(tmp_path / "nope" / "x"))
    (tmp_path / "config.json").write_text((path / "config.json").read_text())
    with pytest.raises(OSError, match="no model.safetensors or pytorch_model.bin"):
        tf.BertModel.from_pretrained(tmp_path)


def test_half_precision_checkpoint_loads_as_float32(tmp_path, hf_mlm_dir):
    ref, path = hf_mlm_dir
    from safetensors.torch import save_file

    save_file({k: v.half() for k, v in ref.state_dict().items() if "decoder" not in k},
              str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    (tmp_path / "config.json").write_text((path / "config.json").read_text())
    ours = tf.BertForMaskedLM.from_pretrained(tmp_path)
    assert all(p.dtype == torch.float32 for p in ours.parameters())
    assert torch.equal(ours.bert.embeddings.word_embeddings.weight, ref.bert.embeddings.word_embeddings.weight.half().float())


def test_sharded_safetensors(tmp_path, hf_mlm_dir):
    ref, path = hf_mlm_dir
    from safetensors.torch import save_file

    state = {k: v.clone() for k, v in ref.state_dict().items() if "decoder" not in k}
    keys = sorted(state)
    shards = {"model-00001-of-00002.safetensors": keys[: len(keys) // 2],
              "model-00002-of-00002.safetensors": keys[len(keys) // 2:]}
    for name, shard_keys in shards.items():
        save_file({k: state[k] for k in shard_keys}, str(tmp_path / name), metadata={"format": "pt"})
    index = {"weight_map": {k: name for name, ks in shards.items() for k in ks}}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    (tmp_path / "config.json").write_text((path / "config.json").read_text())
    ours = tf.BertForMaskedLM.from_pretrained(tmp_path)
    expected, (ids, mask, tt) = hf_outputs(ref)
    with torch.no_grad():
        compare(ours(ids, tt, mask)[0], expected.logits, mask)


# ---- hub cache ------------------------------------------------------------------------------------------


def fake_hub_cache(cache_dir, repo_id, files):
    """The folder layout huggingface_hub keeps its cache in: models--org--name/{refs/main,snapshots/<sha>/}."""
    sha = "0123456789abcdef0123456789abcdef01234567"
    repo = cache_dir / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(sha)
    snapshot = repo / "snapshots" / sha
    snapshot.mkdir(parents=True)
    for name, source in files.items():
        (snapshot / name).write_bytes(source.read_bytes())
    return snapshot


@pytest.mark.parametrize("cached_as", ["google-bert/bert-base-uncased", "bert-base-uncased"])
def test_shortcut_name_resolves_through_offline_hub_cache(tmp_path, hf_mlm_dir, monkeypatch, cached_as):
    ref, path = hf_mlm_dir
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    fake_hub_cache(tmp_path, cached_as, {"model.safetensors": path / "model.safetensors"})
    config = tf.BertConfig.from_pretrained(path)  # the tiny config; the shipped one is bert-base
    ours = tf.BertForMaskedLM.from_pretrained("bert-base-uncased", config=config, cache_dir=str(tmp_path))
    expected, (ids, mask, tt) = hf_outputs(ref)
    with torch.no_grad():
        compare(ours(ids, tt, mask)[0], expected.logits, mask)


def test_repo_id_resolves_through_offline_hub_cache(tmp_path, hf_mlm_dir, monkeypatch):
    ref, path = hf_mlm_dir
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    fake_hub_cache(tmp_path, "someone/tiny-bert", {"config.json": path / "config.json",
                                                    "model.safetensors": path / "model.safetensors"})
    ours = tf.BertForMaskedLM.from_pretrained("someone/tiny-bert", cache_dir=str(tmp_path))
    assert ours.config.hidden_size == 32


def test_offline_and_not_cached_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OSError, match="not in the Hugging Face cache"):
        tf.BertModel.from_pretrained("bert-base-uncased", cache_dir=str(tmp_path))
    with pytest.raises(OSError, match="not in the Hugging Face cache"):
        tf.BertModel.from_pretrained("someone/absent-model", cache_dir=str(tmp_path))


def test_tokenizers_by_repo_id_through_offline_hub_cache(tmp_path, monkeypatch):
    """AutoTokenizer / BertTokenizer.from_pretrained("org/name") read the repository's snapshot in the hub cache, with
    revision= (a branch's ref or a commit) and cache_dir=, giving transformers' ids for the same cache; a repository
    with no tokenizer file is an OSError naming the files looked for."""
    import transformers
    from tokenizer_corpus import bert_uncased_vocab

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    vocab = tmp_path / "vocab.txt"
    lines = open(bert_uncased_vocab(), encoding="utf-8").read().split("\n")
    vocab.write_text("\n".join(lines), encoding="utf-8")
    small = tmp_path / "small" / "vocab.txt"  # another revision: a shorter vocabulary, other ids
    small.parent.mkdir()
    small.write_text("\n".join(lines[:999] + lines[2000:3000]), encoding="utf-8")
    cache = tmp_path / "cache"
    fake_hub_cache(cache, "someone/tok", {"vocab.txt": vocab})
    repo = cache / "models--someone--tok"
    (repo / "refs" / "v2").write_text("f" * 40)
    (repo / "snapshots" / ("f" * 40)).mkdir()
    (repo / "snapshots" / ("f" * 40) / "vocab.txt").write_bytes(small.read_bytes())
    text = "Hello world, the quick brown fox jumps over it"
    for revision in (None, "v2", "f" * 40):
        kw = dict(cache_dir=str(cache), revision=revision)
        # (transformers reads HF_HUB_OFFLINE at import: local_files_only keeps it off the network)
        expected = transformers.BertTokenizer.from_pretrained("someone/tok", local_files_only=True, **kw)(text)["input_ids"]
        assert tf.BertTokenizer.from_pretrained("someone/tok", **kw)(text)["input_ids"] == expected
    fake_hub_cache(cache, "someone/bert-tok", {"vocab.txt": vocab})  # AutoTokenizer: the family from the name
    expected = transformers.BertTokenizer.from_pretrained("someone/bert-tok", cache_dir=str(cache),
                                                          local_files_only=True)(text)["input_ids"]
    assert tf.AutoTokenizer.from_pretrained("someone/bert-tok", cache_dir=str(cache))(text)["input_ids"] == expected
    with pytest.raises(OSError, match="vocab.txt"):
        tf.BertTokenizer.from_pretrained("someone/absent", cache_dir=str(cache))


def test_tokenizer_repo_id_asks_an_unreachable_hub_once(tmp_path, monkeypatch):
    """Online with the hub unreachable: one download attempt, not one per tokenizer or weight file (each would wait
    for its connection timeout), then the files are looked for in the cache only; an OSError saying what was
    wanted."""
    import huggingface_hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    calls = []

    def unreachable(repo_id, filename, **kwargs):
        calls.append(filename)
        raise ConnectionError("Failed to establish a new connection")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", unreachable)
    with pytest.raises(OSError, match="someone/tok.*Failed to establish"):
        tf.BertTokenizer.from_pretrained("someone/tok", cache_dir=str(tmp_path))
    assert calls == ["vocab.txt"]
    calls.clear()  # a model's weights: the first weight file name asked for ends the search
    config = tf.BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                           intermediate_size=20)
    with pytest.raises(OSError, match="someone/model.*Failed to establish"):
        tf.BertModel.from_pretrained("someone/model", config=config, cache_dir=str(tmp_path))
    assert len(calls) == 1


# ---- saving -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family,class_name", [("bert", "BertForMaskedLM"), ("bert", "BertForPreTraining"),
                                               ("roberta", "RobertaForMaskedLM"),
                                               ("distilbert", "DistilBertForMaskedLM"),
                                               ("bert", "BertForSequenceClassification")])
@pytest.mark.parametrize("safe", [True, False], ids=["safetensors", "bin"])
def test_save_pretrained_loads_in_transformers_and_here(tmp_path, family, class_name, safe):
    import transformers

    quiet_transformers()
    src = tmp_path / "src"
    hf_model(family, class_name).save_pretrained(src)
    ours = getattr(tf, class_name).from_pretrained(src)
    out = tmp_path / "out"
    ours.save_pretrained(out, safe_serialization=safe)
    assert (out / ("model.safetensors" if safe else "pytorch_model.bin")).exists()
    theirs = getattr(transformers, class_name).from_pretrained(out, attn_implementation="eager").eval()
    again = getattr(tf, class_name).from_pretrained(out)
    ids, mask, tt = inputs(family)
    tt = tt if family == "bert" else None
    with torch.no_grad():
        kwargs = {"token_type_ids": tt} if tt is not None else {}
        expected = theirs(input_ids=ids, attention_mask=mask, **kwargs)
        got = ours(ids, attention_mask=mask, **kwargs)
        compare(got, tuple(expected[k] for k in got.keys()), mask)
        compare(again(ids, attention_mask=mask, **kwargs), got, mask)
    if class_name.endswith("MaskedLM") or class_name.endswith("PreTraining"):
        out_emb = again.get_output_embeddings().weight
        assert out_emb is again.get_input_embeddings().weight  # tied again after loading
        if safe:
            from safetensors import safe_open

            with safe_open(str(out / "model.safetensors"), "pt") as f:
                names = list(f.keys())
            assert not any(n.endswith("decoder.weight") or n == "vocab_projector.weight" for n in names)


@pytest.mark.parametrize("family,class_name", [("bert", "BertForMaskedLM"), ("bert", "BertForPreTraining"),
                                               ("roberta", "RobertaForMaskedLM")])
@pytest.mark.parametrize("safe", [True, False], ids=["safetensors", "bin"])
def test_untied_mlm_head_saved_here_loads_in_transformers(tmp_path, family, class_name, safe):
    """With tie_word_embeddings=False transformers' MLM head reads the decoder's own bias: saved under that name
    too (1.2.0's names fold it into the head's bias), so transformers reloads the same logits."""
    import transformers

    from modeling_helpers import randomize_all

    quiet_transformers()
    original = hf_model(family, class_name, tie_word_embeddings=False)
    randomize_all(original)
    original.save_pretrained(tmp_path / "src")
    ours = getattr(tf, class_name).from_pretrained(tmp_path / "src")
    ours.save_pretrained(tmp_path / "out", safe_serialization=safe)
    theirs = getattr(transformers, class_name).from_pretrained(tmp_path / "out", attn_implementation="eager").eval()
    ids, mask, _ = inputs(family)
    with torch.no_grad():
        compare(theirs(input_ids=ids, attention_mask=mask)[0], original(input_ids=ids, attention_mask=mask)[0])
        compare(ours(ids, attention_mask=mask)[0], original(input_ids=ids, attention_mask=mask)[0], mask)


def test_from_transformers_shares_parameters():
    ref = hf_model("bert", "BertForSequenceClassification")
    ours = tf.BertForSequenceClassification.from_transformers(ref)
    assert ours.bert.embeddings.word_embeddings.weight.data_ptr() == ref.bert.embeddings.word_embeddings.weight.data_ptr()
    ours.eval()
    expected, (ids, mask, tt) = hf_outputs(ref)
    with torch.no_grad():
        compare(ours(ids, tt, mask).logits, expected.logits)


def test_resize_token_embeddings_keeps_rows_and_ties(hf_mlm_dir):
    _, path = hf_mlm_dir
    model = tf.BertForMaskedLM.from_pretrained(path)
    old = model.get_input_embeddings().weight.detach().clone()
    model.resize_token_embeddings(120)
    assert model.config.vocab_size == 120
    assert torch.equal(model.get_input_embeddings().weight[:99], old)
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight
    assert model.cls.predictions.bias.shape == (120,)
    ids, mask, tt = inputs("bert")
    ids[0, 1] = 110
    with torch.no_grad():
        assert model(ids, tt, mask)[0].shape == (3, 9, 120)


@pytest.mark.parametrize("class_name", ["BertForMaskedLM", "RobertaForMaskedLM", "GPT2LMHeadModel"])
def test_resize_token_embeddings_pad_to_multiple_of_as_transformers(class_name, tmp_path):
    import transformers

    family = class_name[:class_name.index("For") if "For" in class_name else class_name.index("LMHead")]
    config = dict(vocab_size=99, hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=37,
                  max_position_embeddings=40) if family != "GPT2" else dict(vocab_size=99, n_embd=32, n_layer=1,
                                                                            n_head=4)
    ref = getattr(transformers, class_name)(getattr(transformers, family + "Config")(**config))
    ref.save_pretrained(tmp_path)  # (from_transformers would share the tables, which transformers resizes in place)
    ours = getattr(tf, class_name).from_pretrained(tmp_path)
    for new, multiple in [(101, 8), (None, 16), (128, 64), (3, 5)]:
        ref.resize_token_embeddings(new, pad_to_multiple_of=multiple)
        ours.resize_token_embeddings(new, pad_to_multiple_of=multiple)
        assert ours.config.vocab_size == ref.config.vocab_size == ref.get_input_embeddings().weight.shape[0]
        assert ours.get_input_embeddings().weight.shape == ref.get_input_embeddings().weight.shape
        assert ours.get_output_embeddings().weight is ours.get_input_embeddings().weight
    with pytest.raises(ValueError, match="pad_to_multiple_of"):
        ours.resize_token_embeddings(10, pad_to_multiple_of=0)


def test_save_pretrained_of_a_process_other_than_the_main_one_writes_nothing(tmp_path):
    """transformers' is_main_process and save_function, as accelerate's scripts pass them."""
    model = tf.BertModel(tf.BertConfig(99, hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                                       intermediate_size=37))
    model.save_pretrained(tmp_path / "other", is_main_process=False)
    assert not (tmp_path / "other").exists()
    written = []

    def save_function(obj, path):
        written.append(os.path.basename(path))
        torch.save(obj, path)

    model.save_pretrained(tmp_path / "main", is_main_process=True, save_function=save_function)
    assert [name.split(".tmp")[0].rsplit(".", 1)[0] for name in written] == ["pytorch_model.bin"]  # (then renamed)
    again = tf.BertModel.from_pretrained(tmp_path / "main")
    assert all(torch.equal(a, b) for a, b in zip(again.state_dict().values(), model.state_dict().values()))


# ---- configs ------------------------------------------------------------------------------------------------


def test_config_from_transformers_json_and_unknown_fields(hf_mlm_dir):
    _, path = hf_mlm_dir
    config = tf.BertConfig.from_pretrained(path)
    raw = json.loads((path / "config.json").read_text())
    assert config.num_labels == len(raw["id2label"]) == 3
    assert config.hidden_size == raw["hidden_size"] and config.vocab_size == raw["vocab_size"]
    config = tf.BertConfig.from_dict(dict(raw, my_field=[1, 2]))
    assert config.my_field == [1, 2]
    assert tf.BertConfig.from_dict(config.to_dict()) == config


def test_config_overrides_and_unused_kwargs(hf_mlm_dir):
    _, path = hf_mlm_dir
    config, unused = tf.BertConfig.from_pretrained(path, output_attentions=True, foo=3, return_unused_kwargs=True)
    assert config.output_attentions is True and unused == {"foo": 3}
    model = tf.BertModel.from_pretrained(path, output_hidden_states=True)
    assert model.config.output_hidden_states is True
    ids, mask, tt = inputs("bert")
    with torch.no_grad():
        assert len(model(ids, tt, mask)) == 3


@pytest.mark.parametrize("safe", [False, True])
def test_save_back_into_the_folder_loaded_from(tmp_path, safe):
    """Weights loaded from safetensors stay memory-mapped from their file: saving (fine-tuned) weights back into
    the same folder writes a new file and renames it over the old one, instead of truncating the file under the
    tensors being saved (SIGBUS, as the test's own process would show)."""
    config = tf.BertConfig(vocab_size_or_config_json_file=99, hidden_size=16, num_hidden_layers=1,
                           num_attention_heads=2, intermediate_size=32)
    tf.BertModel(config).save_pretrained(tmp_path, safe_serialization=safe)
    model = tf.BertModel.from_pretrained(tmp_path)
    with torch.no_grad():
        model.embeddings.word_embeddings.weight.add_(1.0)
    expected = {k: v.clone() for k, v in model.state_dict().items()}
    model.save_pretrained(tmp_path, safe_serialization=safe)
    model.save_pretrained(tmp_path, safe_serialization=safe)  # again, over the file the model now maps
    again = tf.BertModel.from_pretrained(tmp_path)
    assert all(torch.equal(again.state_dict()[k], v) for k, v in expected.items())
    assert all(torch.equal(model.state_dict()[k], v) for k, v in expected.items())
    assert sorted(os.listdir(tmp_path)) == ["config.json", "model.safetensors" if safe else tf.WEIGHTS_NAME]


@pytest.mark.parametrize("writer", ["torch_save", "save_file"])
def test_the_weights_file_written_over_by_the_user(tmp_path, writer):
    """torch.save(model.state_dict(), the pytorch_model.bin it was loaded from), as 1.2.0-era scripts save: the
    model does not map that file (it would fault, SIGBUS, reading pages the truncation took); safetensors'
    save_file over model.safetensors copies the tensors before writing. Run in a child process: a fault kills it."""
    import subprocess
    import sys

    safe = writer == "save_file"
    script = f"""
import torch, transformers_fast as tf
from safetensors.torch import save_file
config = tf.BertConfig(99, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
tf.BertModel(config).save_pretrained({str(tmp_path)!r}, safe_serialization={safe})
model = tf.BertModel.from_pretrained({str(tmp_path)!r})
state = model.state_dict()
if {safe}:
    save_file({{k: v.contiguous() for k, v in state.items()}}, {str(tmp_path / "model.safetensors")!r})
else:
    torch.save(state, {str(tmp_path / "pytorch_model.bin")!r})
with torch.no_grad():
    print(float(model(torch.tensor([[1, 2, 3]]))[0].abs().sum()))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    reloaded = tf.BertModel.from_pretrained(tmp_path)
    with torch.no_grad():
        assert abs(float(reloaded(torch.tensor([[1, 2, 3]]))[0].abs().sum()) - float(done.stdout.split()[-1])) < 1e-3


def test_labels_count_and_names_stay_consistent(hf_mlm_dir, tmp_path):
    """As transformers: id2label decides num_labels, and a num_labels its names do not match renames them."""
    import transformers

    _, path = hf_mlm_dir
    three = {0: "neg", 1: "neutral", 2: "pos"}
    for kw in ({"num_labels": 3}, {"id2label": three}, {"num_labels": 2}):
        ours, theirs = tf.BertConfig.from_pretrained(path, **kw), transformers.BertConfig.from_pretrained(path, **kw)
        assert (ours.num_labels, ours.id2label, ours.label2id) == (theirs.num_labels, theirs.id2label,
                                                                   theirs.label2id), kw
    model = tf.BertForSequenceClassification.from_pretrained(path, id2label=three,
                                                             label2id={v: k for k, v in three.items()})
    assert model.classifier.out_features == model.config.num_labels == 3
    model.save_pretrained(tmp_path)
    assert tf.BertConfig.from_pretrained(tmp_path).id2label == three
    config = tf.BertConfig.from_pretrained(tmp_path, num_labels=4)
    assert config.id2label == {i: f"LABEL_{i}" for i in range(4)}


def test_config_1_2_0_style_constructor(tmp_path):
    config = tf.BertConfig(1000, hidden_size=64, num_attention_heads=4)
    assert config.vocab_size == 1000
    config.save_pretrained(tmp_path)
    again = tf.BertConfig(str(tmp_path / "config.json"))
    assert again.vocab_size == 1000 and again.hidden_size == 64
    assert tf.DistilBertConfig(dim=64, n_heads=4).hidden_size == 64


@pytest.mark.parametrize("field,value", [("hidden_size", 30), ("num_attention_heads", 0), ("vocab_size", -5),
                                         ("hidden_dropout_prob", 1.5), ("hidden_act", "nope"),
                                         ("num_hidden_layers", 2.5), ("layer_norm_eps", -1),
                                         ("position_embedding_type", "relative_key")])
def test_invalid_config_values(field, value):
    kwargs = {"hidden_size": 32, "num_attention_heads": 4, "intermediate_size": 16}
    kwargs[field] = value
    config = tf.BertConfig(**kwargs)  # a config takes any value, as 1.2.0's does
    with pytest.raises(ValueError, match=field):
        tf.BertModel(config)


def test_shortcut_config_is_shipped_and_offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    config = tf.BertConfig.from_pretrained("bert-large-cased", cache_dir=str(tmp_path))
    assert (config.num_hidden_layers, config.hidden_size, config.vocab_size) == (24, 1024, 28996)


def test_online_cache_miss_downloads_through_huggingface_hub(tmp_path, hf_mlm_dir, monkeypatch):
    """Not cached and online: files come from huggingface_hub.hf_hub_download (here a stand-in that serves
    a local folder), the canonical repo of the shortcut name first, safetensors before .bin."""
    import huggingface_hub
    from huggingface_hub.errors import EntryNotFoundError

    ref, path = hf_mlm_dir
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    torch.save(ref.state_dict(), tmp_path / "pytorch_model.bin")
    calls = []

    def fake_download(repo_id, filename, **kwargs):
        calls.append((repo_id, filename))
        if filename != "pytorch_model.bin":
            raise EntryNotFoundError(f"{filename} not in {repo_id}")
        return str(tmp_path / filename)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    config = tf.BertConfig.from_pretrained(path)
    ours = tf.BertForMaskedLM.from_pretrained("bert-base-cased", config=config, cache_dir=str(tmp_path / "cache"))
    assert calls[0] == ("google-bert/bert-base-cased", "model.safetensors")
    assert calls[-1] == ("google-bert/bert-base-cased", "pytorch_model.bin")
    expected, (ids, mask, tt) = hf_outputs(ref)
    with torch.no_grad():
        compare(ours(ids, tt, mask)[0], expected.logits, mask)


def test_save_pretrained_writes_weights_name_by_default_for_1_2_0_clients(tmp_path):
    """1.2.0 scripts find checkpoints by WEIGHTS_NAME and load them with 1.2.0's from_pretrained."""
    import pytorch_transformers as pt
    from modeling_helpers import pt_model

    ref = pt_model("bert", "BertForMaskedLM")
    (tmp_path / "src").mkdir()
    ref.save_pretrained(str(tmp_path / "src"))
    ours = tf.BertForMaskedLM.from_pretrained(tmp_path / "src")
    out = tmp_path / "checkpoint-10"
    ours.save_pretrained(out, safe_serialization=True)
    ours.save_pretrained(out)  # the default replaces the safetensors file, which loading would prefer
    assert sorted(os.listdir(out)) == ["config.json", tf.WEIGHTS_NAME] and tf.WEIGHTS_NAME == "pytorch_model.bin"
    again = pt.BertForMaskedLM.from_pretrained(str(out)).eval()
    ids, mask, tt = inputs("bert")
    with torch.no_grad():
        compare(again(ids, tt, mask), ours(ids, tt, mask), mask)
        compare(tf.BertForMaskedLM.from_pretrained(out)(ids, tt, mask), ours(ids, tt, mask), mask)
    ours.save_pretrained(out, safe_serialization=True)
    assert sorted(os.listdir(out)) == ["config.json", "model.safetensors"]


def test_loading_leaves_other_threads_module_init_alone(hf_mlm_dir):
    """from_pretrained builds on the meta device without initialisers; a module built meanwhile by another
    thread is initialised as usual (on the CPU, nn.Linear's kaiming-uniform values)."""
    import threading

    _, path = hf_mlm_dir
    stop = threading.Event()
    bad = []
    built = [0]

    def build_linears():
        while not stop.is_set():
            layer = torch.nn.Linear(64, 64)
            bound = 1 / 8  # kaiming_uniform_(a=sqrt(5)) on 64 inputs: U(-1/sqrt(64), 1/sqrt(64))
            weight = layer.weight
            if weight.is_meta or not (0 < weight.abs().max() <= bound and weight.std() > bound / 4):
                bad.append(weight.device)
            built[0] += 1

    worker = threading.Thread(target=build_linears)
    worker.start()
    try:
        expected = tf.BertForMaskedLM.from_pretrained(path)
        ids, mask, tt = inputs("bert")
        for _ in range(30):
            model = tf.BertForMaskedLM.from_pretrained(path)
            with torch.no_grad():
                compare(model(ids, tt, mask), expected(ids, tt, mask), mask)
    finally:
        stop.set()
        worker.join()
    assert built[0] > 30 and not bad, f"{len(bad)} of {built[0]} modules built by another thread were not initialised"


def test_openai_double_heads_checkpoint_of_transformers_into_the_base_model(tmp_path):
    """transformers saves OpenAIGPTDoubleHeadsModel's tied matrix as lm_head.weight only (no tokens_embed)."""
    from gpt_helpers import hf_gpt

    ref = hf_gpt("openai", "OpenAIGPTDoubleHeadsModel")
    ref.save_pretrained(tmp_path)
    ours, info = tf.OpenAIGPTModel.from_pretrained(tmp_path, output_loading_info=True)
    assert info["missing_keys"] == []
    ids = torch.randint(0, 99, (2, 7), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        compare(ours.eval()(ids)[0], ref.transformer(ids).last_hidden_state)


TIED_HEADS = [
    ("BertModel", "BertForMaskedLM", "cls.predictions.decoder.weight",
     lambda: tf.BertConfig(99, hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=37)),
    ("RobertaModel", "RobertaForMaskedLM", "lm_head.decoder.weight",
     lambda: tf.RobertaConfig(99, hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=37)),
    ("DistilBertModel", "DistilBertForMaskedLM", "vocab_projector.weight",
     lambda: tf.DistilBertConfig(99, dim=32, n_layers=1, n_heads=4, hidden_dim=37)),
    ("GPT2Model", "GPT2LMHeadModel", "lm_head.weight", lambda: tf.GPT2Config(99, n_embd=32, n_layer=1, n_head=4)),
    ("XLMModel", "XLMWithLMHeadModel", "pred_layer.proj.weight",
     lambda: tf.XLMConfig(99, emb_dim=32, n_layers=1, n_heads=4)),
    ("XLNetModel", "XLNetLMHeadModel", "lm_loss.weight",
     lambda: tf.XLNetConfig(99, d_model=32, n_layer=1, n_head=4, d_inner=37)),
]


@pytest.mark.parametrize("base_name,head_name,head_key,make_config", TIED_HEADS, ids=[c[0] for c in TIED_HEADS])
def test_base_model_reads_embeddings_saved_under_the_tied_heads_name_only(base_name, head_name, head_key,
                                                                        make_config):
    head = getattr(tf, head_name)(make_config())
    embeddings = head.get_input_embeddings().weight
    state = {k: v for k, v in head.state_dict(keep_vars=True).items() if v is not embeddings or k == head_key}
    assert head_key in state and len(state) == len(head.state_dict()) - 1  # only the head's name is left
    base, info = getattr(tf, base_name).from_pretrained(None, config=head.config, state_dict=state,
                                                         output_loading_info=True)
    assert not info["missing_keys"]
    assert torch.equal(base.get_input_embeddings().weight, embeddings)


@pytest.mark.parametrize("name", ["BertConfig", "RobertaConfig", "DistilBertConfig", "GPT2Config", "OpenAIGPTConfig",
                                  "TransfoXLConfig", "XLNetConfig", "XLMConfig"])
def test_configs_take_1_2_0s_positional_arguments(name):
    """Every field of 1.2.0's constructor, passed by position (RobertaConfig inherits BertConfig's)."""
    import inspect

    import pytorch_transformers as pt

    params = list(inspect.signature(getattr(pt, name).__init__).parameters.values())[1:]
    positional = [p for p in params if p.kind == p.POSITIONAL_OR_KEYWORD]
    values = [99] + [p.default for p in positional[1:]]
    if name == "RobertaConfig":
        values[1:5] = [32, 2, 4, 37]  # hidden, layers, heads, intermediate
    ref, ours = getattr(pt, name)(*values), getattr(tf, name)(*values)
    for p in positional[1:]:
        if hasattr(ref, p.name):  # 1.2.0 keeps proj_share_all_but_first only as tie_projs
            assert getattr(ours, p.name) == getattr(ref, p.name), p.name
    assert ours.to_dict().items() >= {k: v for k, v in ref.to_dict().items() if k in ours.to_dict()}.items()


def test_name_or_path_is_where_the_model_came_from(tmp_path):
    """transformers' model.name_or_path / config.name_or_path (scripts load the tokenizer from it): the name or folder
    given to from_pretrained, "" for a model built from a config; bookkeeping, not written to config.json."""
    model = tf.BertModel(tf.BertConfig(99, hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                                       intermediate_size=37))
    assert model.name_or_path == ""
    model.save_pretrained(tmp_path / "a")
    loaded = tf.AutoModel.from_pretrained(str(tmp_path / "a"))
    assert loaded.name_or_path == loaded.config.name_or_path == str(tmp_path / "a")
    assert tf.AutoConfig.from_pretrained(tmp_path / "a").name_or_path == str(tmp_path / "a")
    loaded.save_pretrained(tmp_path / "b")
    assert "_name_or_path" not in json.loads((tmp_path / "b" / "config.json").read_text())
    assert tf.BertModel.from_pretrained(tmp_path / "b").config == loaded.config


def test_from_pretrained_does_not_import_torch_dynamo(tmp_path):
    """Building the model on the meta device must not import torch._dynamo (1.3 s of a process's first load)."""
    config = tf.BertConfig(vocab_size_or_config_json_file=50, hidden_size=16, num_hidden_layers=1,
                           num_attention_heads=2, intermediate_size=20)
    tf.BertModel(config).save_pretrained(str(tmp_path))
    code = ("import sys, transformers_fast as tf\n"
            "before = 'torch._dynamo' in sys.modules\n"
            f"tf.BertModel.from_pretrained({str(tmp_path)!r})\n"
            "print(before, 'torch._dynamo' in sys.modules)\n")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    before, after = done.stdout.split()
    if before == "True":
        pytest.skip("this torch imports torch._dynamo with transformers_fast already")
    assert after == "False"
