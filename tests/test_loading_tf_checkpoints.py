"""1.2.0's TensorFlow checkpoint readers (load_tf_weights_in_bert / _gpt2 / _openai_gpt, from_pretrained(from_tf=True))
give the weights 1.2.0's own readers give. TensorFlow is not installed here: a stand-in module serves
tf.train.list_variables / load_variable from arrays named as Google's and OpenAI's checkpoints name them."""
from __future__ import annotations

import json
import re
import sys
import types

import numpy as np
import pytest
import torch

import pytorch_transformers as pt
import transformers_fast as tf

BERT = dict(vocab_size_or_config_json_file=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=37, max_position_embeddings=40)
GPT = dict(vocab_size_or_config_json_file=99, n_positions=20, n_ctx=20, n_embd=32, n_layer=2, n_head=4)


@pytest.fixture
def fake_tensorflow(monkeypatch):
    """checkpoints[abspath] = {tf_name: array}, read through a stand-in `tensorflow` module."""
    checkpoints = {}
    train = types.SimpleNamespace(
        list_variables=lambda path: [(name, list(a.shape)) for name, a in checkpoints[path].items()],
        load_variable=lambda path, name: checkpoints[path][name])
    monkeypatch.setitem(sys.modules, "tensorflow", types.SimpleNamespace(train=train))
    return checkpoints


def bert_tf_names(state):
    """A 1.2.0 BertForPreTraining state dict as Google's checkpoint names it, with optimiser slots."""
    out = {}
    for key, value in state.items():
        if key == "cls.predictions.decoder.weight":  # tied to the word embeddings
            continue
        array = value.numpy()
        name = re.sub(r"\.(\d+)\.", r"_\1.", key)
        if name.endswith("_embeddings.weight"):
            name = name[:-len(".weight")]
        elif name == "cls.predictions.bias":
            name = "cls.predictions.output_bias"
        elif name.startswith("cls.seq_relationship."):
            name = name.replace(".weight", ".output_weights").replace(".bias", ".output_bias")
        elif "LayerNorm" in name:
            name = name.replace(".weight", ".gamma").replace(".bias", ".beta")
        elif name.endswith(".weight"):
            name, array = name[:-len(".weight")] + ".kernel", array.T
        out[name.replace(".", "/")] = np.ascontiguousarray(array)
    first = "bert/encoder/layer_0/attention/self/query/kernel"
    out[first + "/adam_m"] = out[first + "/adam_v"] = np.zeros_like(out[first])
    out["global_step"] = np.array(7)
    return out


def gpt_tf_names(state, suffix=""):
    """A 1.2.0 GPT/GPT-2 base model state dict as OpenAI's checkpoints name it (Conv1D weights [1, in, out])."""
    out = {}
    for key, value in state.items():
        if key.endswith("attn.bias"):  # the causal-mask buffer
            continue
        name = re.sub(r"^h\.(\d+)\.", r"h\1.", key)
        if name in ("wte.weight", "wpe.weight", "tokens_embed.weight", "positions_embed.weight"):
            name = name[:-len(".weight")]
        elif re.search(r"ln_\w+\.weight$", name):
            name = name[:-len("weight")] + "g"
        elif name.endswith(".weight"):
            name, value = name[:-len("weight")] + "w", value[None]
        elif name.endswith(".bias"):
            name = name[:-len("bias")] + "b"
        out["model/" + name.replace(".", "/") + suffix] = value.numpy().copy()
    return out


def assert_same_weights(ours, theirs):
    ours, theirs = ours.state_dict(), theirs.state_dict()
    for key, value in theirs.items():
        if key.endswith("attn.bias"):
            continue
        assert torch.equal(ours[key], value), key


def test_bert_checkpoint_reads_as_in_1_2_0(fake_tensorflow, tmp_path):
    torch.manual_seed(0)
    source = pt.BertForPreTraining(pt.BertConfig(**BERT))
    path = str(tmp_path / "model.ckpt")
    fake_tensorflow[path] = bert_tf_names(source.state_dict())
    theirs = pt.load_tf_weights_in_bert(pt.BertForPreTraining(pt.BertConfig(**BERT)), None, path)
    ours = tf.load_tf_weights_in_bert(tf.BertForPreTraining(tf.BertConfig(**BERT)), None, path)
    assert_same_weights(ours, source)
    assert_same_weights(ours, theirs)
    # The base model reads the same checkpoint ('bert/...' names start at the base model).
    base = tf.load_tf_weights_in_bert(tf.BertModel(tf.BertConfig(**BERT)), None, path)
    assert_same_weights(base, source.bert)
    # from_pretrained(from_tf=True) on a folder holding model.ckpt.index and config.json, as 1.2.0.
    pt.BertConfig(**BERT).save_pretrained(str(tmp_path))
    (tmp_path / "model.ckpt.index").write_bytes(b"")
    loaded = tf.BertForPreTraining.from_pretrained(str(tmp_path), from_tf=True)
    assert_same_weights(loaded, source)
    # with a config object and 1.2.0's download options (its docstring's call): they have nothing to do here
    config = tf.BertConfig.from_pretrained(str(tmp_path))
    assert_same_weights(tf.BertForPreTraining.from_pretrained(str(tmp_path), from_tf=True, config=config,
                                                              cache_dir=str(tmp_path / "c"), force_download=False,
                                                              proxies=None), source)
    x = torch.randint(0, 99, (2, 7))
    source.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(x)[0], source(x)[0], atol=1e-5, rtol=0)


def test_gpt2_checkpoint_reads_as_in_1_2_0(fake_tensorflow, tmp_path):
    torch.manual_seed(0)
    source = pt.GPT2Model(pt.GPT2Config(**GPT))
    path = str(tmp_path / "model.ckpt")
    fake_tensorflow[path] = gpt_tf_names(source.state_dict())
    theirs = pt.load_tf_weights_in_gpt2(pt.GPT2Model(pt.GPT2Config(**GPT)), None, path)
    ours = tf.load_tf_weights_in_gpt2(tf.GPT2Model(tf.GPT2Config(**GPT)), None, path)
    assert_same_weights(ours, source)
    assert_same_weights(ours, theirs)
    lm = tf.load_tf_weights_in_gpt2(tf.GPT2LMHeadModel(tf.GPT2Config(**GPT)), None, path)
    assert_same_weights(lm.transformer, source)
    assert torch.equal(lm.lm_head.weight, source.wte.weight), "the LM head stays tied to the token embeddings"


def openai_numpy_release(folder, state):
    """A 1.2.0 OpenAIGPTModel state dict as OpenAI's release lays it out in folder: parameters_names.json,
    params_shapes.json and the flat values in ten params_<n>.npy shards (positions and tokens in one "we" matrix)."""
    named = gpt_tf_names(state, suffix=":0")
    arrays = [named.pop("model/positions_embed:0"), named.pop("model/tokens_embed:0")] + list(named.values())
    (folder / "parameters_names.json").write_text(json.dumps(["model/we:0"] + list(named)))
    (folder / "params_shapes.json").write_text(json.dumps([list(a.shape) for a in arrays]))
    for n, shard in enumerate(np.array_split(np.concatenate([a.reshape(-1) for a in arrays]), 10)):
        np.save(folder / f"params_{n}.npy", shard)


def test_openai_gpt_numpy_release_reads_as_in_1_2_0(tmp_path):
    torch.manual_seed(0)
    source = pt.OpenAIGPTModel(pt.OpenAIGPTConfig(**GPT))
    openai_numpy_release(tmp_path, source.state_dict())
    path = str(tmp_path / "model.ckpt")
    theirs = pt.load_tf_weights_in_openai_gpt(pt.OpenAIGPTModel(pt.OpenAIGPTConfig(**GPT)), None, path)
    ours = tf.load_tf_weights_in_openai_gpt(tf.OpenAIGPTModel(tf.OpenAIGPTConfig(**GPT)), None, str(tmp_path))
    assert_same_weights(ours, source)
    assert_same_weights(ours, theirs)


def test_errors_are_clear(fake_tensorflow, tmp_path, monkeypatch):
    torch.manual_seed(0)
    path = str(tmp_path / "model.ckpt")
    fake_tensorflow[path] = bert_tf_names(pt.BertForPreTraining(pt.BertConfig(**BERT)).state_dict())
    smaller = tf.BertForPreTraining(tf.BertConfig(**dict(BERT, intermediate_size=36)))
    with pytest.raises(ValueError, match="intermediate/dense/kernel.*shape"):
        tf.load_tf_weights_in_bert(smaller, None, path)
    with pytest.raises(OSError, match="no TensorFlow checkpoint"):
        tf.BertModel.from_pretrained(str(tmp_path / "elsewhere"), from_tf=True)
    with pytest.raises(ValueError, match="no TensorFlow checkpoint reader"):
        tf.DistilBertModel.from_pretrained(str(tmp_path), from_tf=True)
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # not installed
    with pytest.raises(ImportError, match="needs TensorFlow"):
        tf.load_tf_weights_in_gpt2(tf.GPT2Model(tf.GPT2Config(**GPT)), None, path)


XLNET = dict(d_model=32, n_layer=2, n_head=4, d_inner=37)


def xlnet_tf_names(source, config):
    """A 1.2.0 XLNet model (finetuning_task sts-b) as Google's checkpoint names and lays it out."""
    from pytorch_transformers.modeling_xlnet import build_tf_xlnet_to_pytorch_map

    names = {"model/sequnece_summary/summary/kernel", "model/regression_sts-b/logit/kernel"}  # present in this one
    arrays = {}
    for tf_name, target in build_tf_xlnet_to_pytorch_map(source, config, names).items():
        array = torch.stack(target) if isinstance(target, list) else target  # per layer, stacked as TensorFlow
        array = array.detach().numpy().copy()
        if "kernel" in tf_name and ("ff" in tf_name or "summary" in tf_name or "logit" in tf_name):
            array = array.T.copy()
        arrays[tf_name] = array
    return arrays


@pytest.mark.parametrize("name", ["XLNetLMHeadModel", "XLNetForSequenceClassification"])
def test_xlnet_checkpoint_reads_as_in_1_2_0(name, fake_tensorflow, tmp_path):
    torch.manual_seed(0)
    config = pt.XLNetConfig(99, finetuning_task="sts-b", **XLNET)
    source = getattr(pt, name)(config)
    path = str(tmp_path / "model.ckpt")
    fake_tensorflow[path] = xlnet_tf_names(source, config)
    theirs = pt.load_tf_weights_in_xlnet(getattr(pt, name)(config), config, path)
    ours_config = tf.XLNetConfig(99, finetuning_task="sts-b", **XLNET)
    ours = tf.load_tf_weights_in_xlnet(getattr(tf, name)(ours_config), ours_config, path)
    assert_same_weights(ours, source)
    assert_same_weights(ours, theirs)


TRANSFO_XL = dict(vocab_size_or_config_json_file=100, cutoffs=[20, 50], d_model=16, d_embed=16, n_head=2, d_head=8,
                  d_inner=32, n_layer=2, div_val=2, mem_len=0)


def transfo_xl_tf_names(source, config):
    """A 1.2.0 TransfoXLLMHeadModel as the TensorFlow release names and lays it out."""
    from pytorch_transformers.modeling_transfo_xl import build_tf_to_pytorch_map

    arrays = {}
    for tf_name, target in build_tf_to_pytorch_map(source, config).items():
        array = (torch.stack(target) if len(target) > 1 else target[0]) if isinstance(target, list) else target
        array = array.detach().numpy()
        arrays[tf_name] = (array.T if "kernel" in tf_name or "proj" in tf_name else array).copy()
    return arrays


@pytest.mark.parametrize("untie_r", [True, False])
def test_transfo_xl_checkpoint_reads_as_in_1_2_0(untie_r, fake_tensorflow, tmp_path):
    torch.manual_seed(0)
    config = pt.TransfoXLConfig(untie_r=untie_r, **TRANSFO_XL)
    source = pt.TransfoXLLMHeadModel(config)
    path = str(tmp_path / "model.ckpt")
    fake_tensorflow[path] = transfo_xl_tf_names(source, config)
    ours_config = tf.TransfoXLConfig(untie_r=untie_r, **TRANSFO_XL)
    ours = tf.load_tf_weights_in_transfo_xl(tf.TransfoXLLMHeadModel(ours_config), ours_config, path)
    assert_same_weights(ours, source)
    if untie_r:  # 1.2.0's reader fails on its own shared biases (a one-element list taken for a tensor)
        assert_same_weights(ours, pt.load_tf_weights_in_transfo_xl(pt.TransfoXLLMHeadModel(config), config, path))
    del fake_tensorflow[path]["transformer/layer_1/ff/layer_2/bias"]
    with pytest.raises(ValueError, match="no variable 'transformer/layer_1/ff/layer_2/bias'"):
        tf.load_tf_weights_in_transfo_xl(tf.TransfoXLLMHeadModel(ours_config), ours_config, path)
