"""push_to_hub (models, configs, tokenizers) and save_pretrained(push_to_hub=True), as transformers offers them, through
huggingface_hub's HfApi (replaced here by a recorder: the tests run offline)."""
from __future__ import annotations

import os
import shutil

import pytest
import torch

import transformers_fast as tf
from tokenizer_corpus import bert_uncased_vocab, gpt2_files


class RecordingHfApi:
    """HfApi's create_repo / upload_folder, recording the calls and copying each uploaded folder."""
    calls: list = []

    def __init__(self, token=None, library_name=None, **kwargs):
        self.token = token

    def create_repo(self, repo_id, private=None, exist_ok=False, **kwargs):
        type(self).calls.append(("create_repo", repo_id, dict(private=private, exist_ok=exist_ok, token=self.token)))

        class Url:
            pass
        url = Url()
        url.repo_id = repo_id
        return url

    def upload_folder(self, repo_id, folder_path, commit_message=None, **kwargs):
        copy = os.path.join(type(self).root, f"upload{len(type(self).calls)}")
        shutil.copytree(folder_path, copy)
        type(self).calls.append(("upload_folder", repo_id, dict(commit_message=commit_message, copy=copy, **kwargs)))
        return f"commit of {repo_id}"


@pytest.fixture
def hub(monkeypatch, tmp_path):
    import huggingface_hub

    RecordingHfApi.calls, RecordingHfApi.root = [], str(tmp_path)
    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingHfApi)
    return RecordingHfApi


def tiny_bert():
    torch.manual_seed(0)
    config = tf.BertConfig(vocab_size=99, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                           intermediate_size=24)
    return tf.BertModel(config).eval()


def test_model_push_to_hub_uploads_what_loads_back(hub):
    model = tiny_bert()
    assert model.push_to_hub("me/tiny", commit_message="first", private=True, token="t") == "commit of me/tiny"
    (create, repo, options), (upload, repo2, upload_options) = hub.calls
    assert (create, repo, options) == ("create_repo", "me/tiny", dict(private=True, exist_ok=True, token="t"))
    assert (upload, repo2, upload_options["commit_message"]) == ("upload_folder", "me/tiny", "first")
    loaded = tf.BertModel.from_pretrained(upload_options["copy"])
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name
    model.push_to_hub("me/tiny", safe_serialization=True)  # save_pretrained's options pass through
    assert os.listdir(hub.calls[-1][2]["copy"]).count("model.safetensors") == 1


def test_config_and_tokenizer_push_to_hub(hub):
    tf.BertConfig(vocab_size=99).push_to_hub("me/config")
    assert tf.BertConfig.from_pretrained(hub.calls[-1][2]["copy"]).vocab_size == 99
    tokenizer = tf.BertTokenizer(bert_uncased_vocab())
    tokenizer.add_tokens(["newtokenx"])
    tokenizer.push_to_hub("me/tokenizer", create_pr=True)
    assert hub.calls[-1][2]["create_pr"] is True
    again = tf.BertTokenizer.from_pretrained(hub.calls[-1][2]["copy"])
    assert again.encode("a newtokenx here") == tokenizer.encode("a newtokenx here")
    gpt2 = tf.GPT2Tokenizer(*gpt2_files(), add_prefix_space=True)  # (its own save_pretrained passes them on)
    gpt2.save_pretrained(hub.root + "/gpt2", push_to_hub=True, repo_id="me/gpt2")
    again = tf.GPT2Tokenizer.from_pretrained(hub.calls[-1][2]["copy"])
    assert hub.calls[-1][1] == "me/gpt2" and again.encode("Hello there") == gpt2.encode("Hello there")


def test_save_pretrained_push_to_hub(hub, tmp_path):
    folder = str(tmp_path / "my-model")
    tiny_bert().save_pretrained(folder, push_to_hub=True)  # repo id: the folder's name, as transformers
    assert [c[:2] for c in hub.calls] == [("create_repo", "my-model"), ("upload_folder", "my-model")]
    tf.BertTokenizer(bert_uncased_vocab()).save_pretrained(folder, push_to_hub=True, repo_id="me/other")
    tf.BertConfig().save_pretrained(folder, push_to_hub=True, repo_id="me/third", commit_message="c")
    assert [c[1] for c in hub.calls[2:]] == ["me/other", "me/other", "me/third", "me/third"]


def test_upload_options_without_push_or_unknown_are_type_errors(hub, tmp_path):
    model, tokenizer = tiny_bert(), tf.BertTokenizer(bert_uncased_vocab())
    for thing in (model, model.config, tokenizer):
        with pytest.raises(TypeError, match="repo_id"):
            thing.save_pretrained(str(tmp_path), repo_id="me/x")
        with pytest.raises(TypeError, match="colour"):
            thing.save_pretrained(str(tmp_path), push_to_hub=True, colour="red")
    assert not hub.calls
    with pytest.raises(ValueError, match="legacy_format=False"):
        tokenizer.save_pretrained(str(tmp_path), legacy_format=False)
    tokenizer.save_pretrained(str(tmp_path), legacy_format=True)
