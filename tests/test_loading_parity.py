"""from_pretrained / save_pretrained / configs against pytorch-transformers 1.2.0 itself: loading info, errors,
config round trips, checkpoints of every family saved by 1.2.0."""
from __future__ import annotations

import json
import logging
import re

import pytest
import torch

import transformers_fast as tf

# (config class, tiny config of 1.2.0's constructor after the vocabulary size), per family
TINY_PT = {
    "bert": ("BertConfig", dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                                max_position_embeddings=64)),
    "roberta": ("RobertaConfig", dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                      intermediate_size=37, max_position_embeddings=66, type_vocab_size=1)),
    "distilbert": ("DistilBertConfig", dict(dim=32, n_layers=2, n_heads=4, hidden_dim=37, max_position_embeddings=64)),
    "openai": ("OpenAIGPTConfig", dict(n_embd=32, n_layer=2, n_head=4, n_positions=64, n_ctx=64)),
    "gpt2": ("GPT2Config", dict(n_embd=32, n_layer=2, n_head=4, n_positions=64, n_ctx=64)),
    "transfo_xl": ("TransfoXLConfig", dict(cutoffs=[20, 50], d_model=32, d_embed=32, n_head=4, d_head=8, d_inner=37,
                                           div_val=2, n_layer=2, mem_len=8, tgt_len=8, clamp_len=20)),
    "xlnet": ("XLNetConfig", dict(d_model=32, n_layer=2, n_head=4, d_inner=37)),
    "xlm": ("XLMConfig", dict(emb_dim=32, n_layers=2, n_heads=4, max_position_embeddings=64, n_langs=2)),
}


def quiet():
    logging.getLogger("pytorch_transformers").setLevel(logging.ERROR)
    logging.getLogger("transformers_fast").setLevel(logging.ERROR)


def pt_checkpoint(family, class_name, folder, **config):
    """A 1.2.0 model of class_name saved by 1.2.0's save_pretrained into folder (weights perturbed)."""
    import pytorch_transformers as pt

    quiet()
    config_class, kwargs = TINY_PT[family]
    torch.manual_seed(0)
    with torch.no_grad():  # 1.2.0's DistilBERT fills its sinusoidal table in place
        model = getattr(pt, class_name)(getattr(pt, config_class)(99, **dict(kwargs, **config)))
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(folder))
    return folder


def pt_load(class_name, folder, **kwargs):
    import pytorch_transformers as pt

    quiet()
    with torch.no_grad():
        return getattr(pt, class_name).from_pretrained(str(folder), **kwargs)


# ---- output_loading_info --------------------------------------------------------------------------------------

LOADING_INFO_CASES = [
    ("bert", "BertModel", "BertForSequenceClassification"),
    ("bert", "BertForSequenceClassification", "BertModel"),
    ("bert", "BertForMaskedLM", "BertModel"),
    ("bert", "BertModel", "BertForMaskedLM"),
    ("bert", "BertForMaskedLM", "BertForSequenceClassification"),
    ("bert", "BertForPreTraining", "BertForQuestionAnswering"),
    ("roberta", "RobertaForMaskedLM", "RobertaModel"),
    ("roberta", "RobertaModel", "RobertaForSequenceClassification"),
    ("distilbert", "DistilBertForMaskedLM", "DistilBertModel"),
    ("distilbert", "DistilBertModel", "DistilBertForQuestionAnswering"),
    ("openai", "OpenAIGPTDoubleHeadsModel", "OpenAIGPTModel"),
    ("gpt2", "GPT2LMHeadModel", "GPT2Model"),
    ("gpt2", "GPT2Model", "GPT2DoubleHeadsModel"),
    ("transfo_xl", "TransfoXLLMHeadModel", "TransfoXLModel"),
    ("xlnet", "XLNetForSequenceClassification", "XLNetModel"),
    ("xlnet", "XLNetModel", "XLNetForQuestionAnswering"),
    ("xlm", "XLMWithLMHeadModel", "XLMForSequenceClassification"),
    ("xlm", "XLMModel", "XLMForQuestionAnswering"),
    # the tied output projection, absent from a checkpoint of another head, is listed as 1.2.0 lists it
    ("bert", "BertForNextSentencePrediction", "BertForPreTraining"),
    ("roberta", "RobertaForSequenceClassification", "RobertaForMaskedLM"),
    ("distilbert", "DistilBertForQuestionAnswering", "DistilBertForMaskedLM"),
    ("xlnet", "XLNetForSequenceClassification", "XLNetLMHeadModel"),
]


@pytest.mark.parametrize("family,saved,loaded", LOADING_INFO_CASES)
def test_output_loading_info_lists_what_1_2_0_lists(tmp_path, family, saved, loaded):
    """1.2.0 loads a checkpoint without the base model's prefix into the base model of a head class (its
    head's weights are not listed as missing) and a checkpoint with the prefix into a base model reading
    only the keys under the prefix (the head's weights are not listed as unexpected)."""
    folder = pt_checkpoint(family, saved, tmp_path / saved)
    _, expected = pt_load(loaded, folder, output_loading_info=True)
    _, info = getattr(tf, loaded).from_pretrained(folder, output_loading_info=True)
    for key in ("missing_keys", "unexpected_keys", "error_msgs"):
        assert sorted(info[key]) == sorted(expected[key]), key


@pytest.mark.parametrize("loaded", ["BertModel", "BertForSequenceClassification"])
def test_output_loading_info_of_extra_and_absent_keys_as_1_2_0(tmp_path, loaded):
    """A checkpoint with a key the model lacks and without one it has, with and without the prefix."""
    for prefixed in (True, False):
        folder = pt_checkpoint("bert", "BertForSequenceClassification" if prefixed else "BertModel",
                               tmp_path / str(prefixed))
        state = torch.load(folder / "pytorch_model.bin")
        prefix = "bert." if prefixed else ""
        del state[prefix + "pooler.dense.bias"]
        state[prefix + "encoder.layer.1.extra.weight"] = torch.zeros(2)
        state["other.weight"] = torch.zeros(2)
        torch.save(state, folder / "pytorch_model.bin")
        _, expected = pt_load(loaded, folder, output_loading_info=True)
        _, info = getattr(tf, loaded).from_pretrained(folder, output_loading_info=True)
        for key in ("missing_keys", "unexpected_keys"):
            assert sorted(info[key]) == sorted(expected[key]), (prefixed, key)


def test_new_head_weights_are_still_warned_about(tmp_path, caplog):
    """The loading info follows 1.2.0; the warning names every newly initialised weight."""
    folder = pt_checkpoint("bert", "BertModel", tmp_path / "base")
    with caplog.at_level(logging.WARNING, logger="transformers_fast.modeling_utils"):
        logging.getLogger("transformers_fast").setLevel(logging.WARNING)
        tf.BertForSequenceClassification.from_pretrained(folder)
    assert "classifier.weight" in caplog.text


# ---- bad input -----------------------------------------------------------------------------------------------


def raised(load):
    try:
        load()
    except Exception as err:  # noqa: BLE001 - the test compares whatever the libraries raise
        return err
    return None


def test_shape_mismatch_raises_what_1_2_0_raises(tmp_path):
    """1.2.0 raises RuntimeError ("size mismatch for ..."); ours is also a ValueError naming key and shapes."""
    folder = pt_checkpoint("bert", "BertForSequenceClassification", tmp_path / "seq", num_labels=3)
    expected = raised(lambda: pt_load("BertForMultipleChoice", folder))
    assert isinstance(expected, RuntimeError) and "size mismatch" in str(expected)
    with pytest.raises(RuntimeError, match=r"classifier.weight.*\(3, 32\).*\(1, 32\)"):
        tf.BertForMultipleChoice.from_pretrained(folder)
    with pytest.raises(ValueError, match="size mismatch"):
        tf.BertForMultipleChoice.from_pretrained(folder)


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.uint8, torch.bool])
@pytest.mark.parametrize("safe", [False, True], ids=["bin", "safetensors"])
def test_integer_values_of_a_float_weight_load_as_1_2_0_loads_them(tmp_path, dtype, safe):
    """A float weight stored as integers (or bools): 1.2.0 (and transformers) copy the values into the float
    parameter."""
    from safetensors.torch import save_file

    folder = pt_checkpoint("bert", "BertModel", tmp_path / "bert")
    state = torch.load(folder / "pytorch_model.bin", weights_only=True)
    key = "embeddings.token_type_embeddings.weight"
    state[key] = torch.randint(0, 2, state[key].shape).to(dtype)
    (folder / "pytorch_model.bin").unlink()
    if safe:
        save_file({k: v.contiguous() for k, v in state.items()}, str(folder / "model.safetensors"))
    else:
        torch.save(state, folder / "pytorch_model.bin")
    ours = tf.BertModel.from_pretrained(folder)
    assert ours.embeddings.token_type_embeddings.weight.dtype == torch.float32
    assert torch.equal(ours.embeddings.token_type_embeddings.weight, state[key].float())
    if not safe:
        ids = torch.randint(0, 99, (2, 6))
        with torch.no_grad():
            torch.testing.assert_close(ours(ids)[0], pt_load("BertModel", folder)(ids)[0], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("family,saved,loaded", [("gpt2", "GPT2LMHeadModel", "BertModel"),
                                                 ("bert", "BertForMaskedLM", "XLNetLMHeadModel"),
                                                 ("xlnet", "XLNetModel", "GPT2Model")])
def test_checkpoint_of_another_architecture_is_an_error(tmp_path, family, saved, loaded):
    """With a config of its own family 1.2.0 returns a randomly initialised model (every weight missing); here
    that is an error, with that config or with the folder's (of the other family)."""
    import pytorch_transformers as pt

    folder = pt_checkpoint(family, saved, tmp_path / saved)
    config_class = getattr(tf, loaded).config_class.__name__
    _, info = pt_load(loaded, folder / "pytorch_model.bin", config=getattr(pt, config_class)(99),
                      output_loading_info=True)
    assert info["missing_keys"] and not info["error_msgs"]  # 1.2.0 loaded nothing, silently
    with pytest.raises(ValueError, match=f"none of the weights.*{loaded}"):
        getattr(tf, loaded).from_pretrained(folder / "pytorch_model.bin", config=getattr(tf, config_class)(99))
    with pytest.raises(ValueError, match="none of the weights"):
        getattr(tf, loaded).from_pretrained(folder)


def test_weights_file_without_config_is_a_clear_error(tmp_path):
    """1.2.0 reads the weights file as its JSON config (UnicodeDecodeError); here OSError saying what to pass."""
    folder = pt_checkpoint("bert", "BertModel", tmp_path / "base")
    assert isinstance(raised(lambda: pt_load("BertModel", folder / "pytorch_model.bin")), ValueError)
    with pytest.raises(OSError, match="not a JSON config.*config="):
        tf.BertModel.from_pretrained(folder / "pytorch_model.bin")
    with pytest.raises(OSError, match="not a JSON config"):
        tf.BertConfig.from_json_file(folder / "pytorch_model.bin")


# ---- configs -------------------------------------------------------------------------------------------------


def config_equalities(lib, config_class, folder):
    """What 1.2.0's documented ways of saving and reading a config give, as equalities with the original."""
    config = getattr(lib, config_class)(99, **TINY_PT[family_of(config_class)][1])
    folder.mkdir()  # 1.2.0 saves into an existing folder only
    config.save_pretrained(str(folder))
    path = str(folder / "config.json")
    cls = getattr(lib, config_class)
    return {"from_pretrained": cls.from_pretrained(str(folder)) == config,
            "from_json_file": cls.from_json_file(path) == config,
            "constructor with the JSON path": cls(path) == config,
            "to_dict": cls.from_pretrained(str(folder)).to_dict() == config.to_dict(),
            "to_json_string": cls(path).to_json_string() == config.to_json_string()}


def family_of(config_class):
    return next(family for family, (name, _) in TINY_PT.items() if name == config_class)


@pytest.mark.parametrize("config_class", [name for name, _ in TINY_PT.values()])
def test_config_round_trips_compare_equal_as_in_1_2_0(tmp_path, config_class):
    import pytorch_transformers as pt

    expected = config_equalities(pt, config_class, tmp_path / "pt")
    assert all(expected.values())
    assert config_equalities(tf, config_class, tmp_path / "ours") == expected


def test_from_dict_takes_both_libraries_argument_names_and_overrides():
    """1.2.0 names the dict json_object, transformers config_dict and takes overrides like from_pretrained."""
    import pytorch_transformers as pt
    import transformers

    raw = pt.BertConfig(99, hidden_size=32).to_dict()
    assert tf.BertConfig.from_dict(json_object=raw) == tf.BertConfig.from_dict(config_dict=raw) == \
        tf.BertConfig.from_dict(raw)
    ours, unused = tf.BertConfig.from_dict(raw, hidden_dropout_prob=0.0, no_such_field=1, return_unused_kwargs=True)
    theirs, their_unused = transformers.BertConfig.from_dict(raw, hidden_dropout_prob=0.0, no_such_field=1,
                                                            return_unused_kwargs=True)
    assert ours.hidden_dropout_prob == theirs.hidden_dropout_prob == 0.0
    assert unused == their_unused == {"no_such_field": 1}
    with pytest.raises(TypeError, match="one dict"):
        tf.BertConfig.from_dict(raw, json_object=raw)
    with pytest.raises(TypeError, match="one dict"):
        tf.BertConfig.from_dict()


def test_config_of_transformers_read_by_path_equals_from_json_file(tmp_path):
    """A config.json written by current transformers (id2label with string keys, model_type, dtype, ...)."""
    import transformers

    transformers.BertConfig(vocab_size=99, hidden_size=32, num_labels=3).save_pretrained(str(tmp_path))
    path = str(tmp_path / "config.json")
    assert tf.BertConfig(path) == tf.BertConfig.from_json_file(path) == tf.BertConfig.from_pretrained(str(tmp_path))
    config = tf.BertConfig(path)
    assert config.id2label == {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"} and config.num_labels == 3
    assert "model_type" not in vars(config) and "transformers_version" not in vars(config)


# ---- newer formats on the hub --------------------------------------------------------------------------------


def test_sharded_checkpoint_on_the_hub_downloads_its_shards(tmp_path, monkeypatch):
    """transformers' save_pretrained(max_shard_size=...) in a hub repository not yet cached: the index names the
    shards, which are downloaded beside it (huggingface_hub fetches one file per call)."""
    import huggingface_hub
    from huggingface_hub.errors import EntryNotFoundError
    import transformers

    logging.getLogger("transformers").setLevel(logging.ERROR)
    source = tmp_path / "repo"
    reference = transformers.GPT2LMHeadModel(transformers.GPT2Config(vocab_size=99, n_embd=32, n_layer=2, n_head=4,
                                                                     n_positions=64)).eval()
    reference.save_pretrained(str(source), max_shard_size="20KB")
    assert (source / "model.safetensors.index.json").exists()
    snapshot = tmp_path / "cache" / "snapshot"
    snapshot.mkdir(parents=True)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)

    def fake_download(repo_id, filename, **kwargs):
        if not (source / filename).exists():
            raise EntryNotFoundError(f"{filename} not in {repo_id}")
        (snapshot / filename).write_bytes((source / filename).read_bytes())
        return str(snapshot / filename)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    ours = tf.GPT2LMHeadModel.from_pretrained("someone/sharded-gpt2", cache_dir=str(tmp_path / "cache"))
    ids = torch.randint(0, 99, (2, 7))
    with torch.no_grad():
        assert torch.allclose(ours(ids)[0], reference(ids).logits, atol=1e-5)


@pytest.mark.parametrize("class_name", ["BertForMaskedLM", "XLNetLMHeadModel", "GPT2LMHeadModel"])
def test_tied_weights_stored_once_in_safetensors_are_not_missing(tmp_path, class_name):
    """safetensors holds a tied matrix once (under the input embeddings' name); a round trip lists nothing."""
    family = {"BertForMaskedLM": "bert", "XLNetLMHeadModel": "xlnet", "GPT2LMHeadModel": "gpt2"}[class_name]
    folder = pt_checkpoint(family, class_name, tmp_path / "pt")
    model = getattr(tf, class_name).from_pretrained(folder)
    model.save_pretrained(tmp_path / "safe", safe_serialization=True)
    again, info = getattr(tf, class_name).from_pretrained(tmp_path / "safe", output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == []
    assert again.get_output_embeddings().weight is again.get_input_embeddings().weight


TIED_HEADS = [("bert", "BertForMaskedLM"), ("roberta", "RobertaForMaskedLM"), ("distilbert", "DistilBertForMaskedLM"),
              ("openai", "OpenAIGPTLMHeadModel"), ("openai", "OpenAIGPTDoubleHeadsModel"), ("gpt2", "GPT2LMHeadModel"),
              ("gpt2", "GPT2DoubleHeadsModel"), ("xlnet", "XLNetLMHeadModel"), ("xlm", "XLMWithLMHeadModel"),
              ("transfo_xl", "TransfoXLLMHeadModel")]


@pytest.mark.parametrize("torchscript", [False, True], ids=["tied", "torchscript"])
@pytest.mark.parametrize("family,class_name", TIED_HEADS)
def test_tied_matrix_stored_with_two_values_loads_as_1_2_0(tmp_path, family, class_name, torchscript):
    """A checkpoint whose head and input embeddings hold different values for a tied matrix (an edited state
    dict, a torchscript save): 1.2.0 ends with the head's values in both (the embeddings' under torchscript)."""
    folder = pt_checkpoint(family, class_name, tmp_path, torchscript=torchscript)
    state = torch.load(folder / "pytorch_model.bin", weights_only=True)
    torch.manual_seed(5)
    state = {k: v + torch.randn_like(v) * 0.1 if v.is_floating_point() and not k.endswith("attn.bias") else v
             for k, v in state.items()}
    torch.save(state, folder / "pytorch_model.bin")
    reference = pt_load(class_name, folder).eval()
    ours = getattr(tf, class_name).from_pretrained(folder).eval()
    ids = torch.randint(0, 99, (2, 7))
    with torch.no_grad():
        assert torch.allclose(ours(ids)[0], reference(ids)[0], atol=1e-5)
    for (name, mine), (_, theirs) in zip(ours.named_parameters(remove_duplicate=False),
                                         reference.named_parameters(remove_duplicate=False)):
        assert torch.equal(mine, theirs), name


def test_transformers_loading_options_and_model_attributes(tmp_path):
    """device_map (one device), low_cpu_mem_usage and attn_implementation as transformers takes them, and the
    model's device / dtype attributes."""
    import transformers

    torch.manual_seed(0)
    transformers.BertModel(transformers.BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=1,
                                                   num_attention_heads=4, intermediate_size=37)).save_pretrained(
        str(tmp_path))
    plain = tf.BertModel.from_pretrained(str(tmp_path))
    assert plain.device == torch.device("cpu") and plain.dtype == torch.float32
    for options in (dict(device_map="cpu"), dict(device_map="auto"), dict(device_map={"": "cpu"}),
                    dict(device_map=torch.device("cpu")), dict(low_cpu_mem_usage=True),
                    dict(attn_implementation="sdpa"), dict(device_map="auto", max_memory={"cpu": "1GB"},
                                                           offload_folder=str(tmp_path / "offload"),
                                                           offload_state_dict=True)):
        model = tf.BertModel.from_pretrained(str(tmp_path), **options)
        assert model.device.type == ("cuda" if options.get("device_map") == "auto" and torch.cuda.is_available()
                                     else "cpu")
        for (name, a), (_, b) in zip(model.state_dict().items(), plain.state_dict().items()):
            assert torch.equal(a.cpu(), b), (options, name)
    with pytest.raises(ValueError, match="several devices"):
        tf.BertModel.from_pretrained(str(tmp_path), device_map={"embeddings": "cpu", "encoder": "meta"})
    with pytest.raises(ValueError, match="device_map must be"):
        tf.BertModel.from_pretrained(str(tmp_path), device_map="nowhere")
    if not torch.cuda.is_available():  # a GPU's index, valid elsewhere: the error says why not here
        with pytest.raises(ValueError, match="got 0 .*accelerator"):
            tf.BertModel.from_pretrained(str(tmp_path), device_map={"": 0})
    bf16 = tf.BertModel.from_pretrained(str(tmp_path), torch_dtype=torch.bfloat16)
    assert bf16.dtype == torch.bfloat16
    int8 = tf.BertModel.from_pretrained(str(tmp_path), quantize="int8")
    assert int8.dtype == torch.float32  # its float parameters' dtype, as transformers reports a quantized model's
    with pytest.raises(ValueError, match="quantization_config .* quantize='int8'"):
        tf.BertModel.from_pretrained(str(tmp_path), quantization_config={"load_in_8bit": True})
    with pytest.raises(TypeError, match="'no_such_option': neither a loading option, a config attribute"):
        tf.BertModel.from_pretrained(str(tmp_path), no_such_option=1)


def test_key_mapping_renames_checkpoint_keys_as_transformers(tmp_path):
    """key_mapping: each checkpoint key renamed by every pattern in turn (a rename feeding the next), before
    loading."""
    import transformers

    torch.manual_seed(0)
    ref = transformers.BertModel(transformers.BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=1,
                                                         num_attention_heads=4, intermediate_size=37))
    ref.save_pretrained(str(tmp_path))
    from safetensors.torch import load_file, save_file

    state = {re.sub("^embeddings[.]", "embed.", k.replace("encoder.layer.", "blocks.")): v
             for k, v in load_file(tmp_path / "model.safetensors").items()}
    save_file(state, tmp_path / "model.safetensors", metadata={"format": "pt"})
    mapping = {r"^blocks\.": "encoder.layer.", r"^embed\.": "tmp.", r"^tmp\.(\w+)": r"embeddings.\1"}
    theirs = transformers.BertModel.from_pretrained(str(tmp_path), key_mapping=mapping)
    ours, info = tf.BertModel.from_pretrained(tmp_path, key_mapping=mapping, output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == []
    for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
        assert torch.equal(a, b), name
    with pytest.raises(TypeError, match="key_mapping must be a dict"):
        tf.BertModel.from_pretrained(tmp_path, key_mapping=[("a", "b")])
