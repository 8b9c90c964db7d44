"""Tokenizer folders saved by transformers 5, which writes tokenizer.json and tokenizer_config.json only (no
vocab.txt / vocab.json / merges.txt): from_pretrained reads the vocabulary and the normalizer's options from
tokenizer.json and gives 1.2.0's ids on the same vocabulary, the added tokens transformers' ids (GPT-2 and RoBERTa:
transformers' ids, as their tokenizer_config.json holds add_prefix_space)."""
import json
import os

import pytest

from tokenizer_corpus import EDGE_CASES, bert_uncased_vocab, gpt2_files

transformers = pytest.importorskip("transformers")
pt = pytest.importorskip("pytorch_transformers")
import transformers_fast as tf  # noqa: E402
from test_tokenization_others import openai_files, spm_model, xlm_files  # noqa: E402,F401  (fixtures)

TEXTS = [t for t in EDGE_CASES if t.strip() and "<" not in t]


def saved_by_transformers(tokenizer, folder):
    tokenizer.save_pretrained(str(folder))
    assert "tokenizer.json" in os.listdir(folder) and not {"vocab.txt", "vocab.json"} & set(os.listdir(folder))
    return str(folder)


@pytest.mark.parametrize("cls", ["BertTokenizer", "DistilBertTokenizer"])
@pytest.mark.parametrize("lower", [True, False])
def test_wordpiece_folder(tmp_path, cls, lower):
    theirs = getattr(transformers, cls)(bert_uncased_vocab(), do_lower_case=lower)
    theirs.add_tokens(["newtokxyz"])
    folder = saved_by_transformers(theirs, tmp_path)
    ours = getattr(tf, cls).from_pretrained(folder)
    reference = getattr(pt, cls)(bert_uncased_vocab(), do_lower_case=lower)
    for text in TEXTS:
        assert ours.encode(text) == reference.encode(text), repr(text)
    assert ours.basic_tokenizer.do_lower_case is lower
    text = "A newtokxyz B"
    assert ours.encode(text) == theirs.encode(text, add_special_tokens=False)
    assert ours.encode(text, add_special_tokens=True) == theirs.encode(text)
    auto = tf.AutoTokenizer.from_pretrained(folder)
    assert type(auto).__name__ == cls and auto.encode(text) == ours.encode(text)


@pytest.mark.parametrize("cls", ["GPT2Tokenizer", "RobertaTokenizer"])
def test_byte_level_bpe_folder(tmp_path, cls):
    vocab, merges = gpt2_files()
    theirs = getattr(transformers, cls)(vocab, merges)
    folder = saved_by_transformers(theirs, tmp_path)
    ours = getattr(tf, cls).from_pretrained(folder)
    # transformers writes add_prefix_space (False by default) into tokenizer_config.json: the folder tokenizes as
    # transformers loads it (test_tokenization_prefix_space.py); without that entry, as 1.2.0 on the same vocabulary
    assert ours.add_prefix_space is False
    loaded = getattr(transformers, cls).from_pretrained(folder)
    for text in TEXTS:
        assert ours.encode(text) == loaded.encode(text, add_special_tokens=False), repr(text)
    config = os.path.join(folder, "tokenizer_config.json")
    with open(config, encoding="utf-8") as f:
        settings = json.load(f)
    del settings["add_prefix_space"]
    with open(config, "w", encoding="utf-8") as f:
        json.dump(settings, f)
    ours = getattr(tf, cls).from_pretrained(folder)
    reference = getattr(pt, cls)(vocab, merges)
    for text in TEXTS:
        assert ours.encode(text) == reference.encode(text), repr(text)
    specials = theirs.all_special_tokens
    assert ours.convert_tokens_to_ids(specials) == theirs.convert_tokens_to_ids(specials)
    assert ours.pad_token == theirs.pad_token  # GPT-2's is null in the saved config: unset


def test_openai_gpt_folder(tmp_path, openai_files):
    theirs = transformers.OpenAIGPTTokenizer(*openai_files)
    folder = saved_by_transformers(theirs, tmp_path)
    ours = tf.OpenAIGPTTokenizer.from_pretrained(folder)
    reference = pt.OpenAIGPTTokenizer(*openai_files)
    for text in TEXTS:
        assert ours.encode(text) == reference.encode(text), repr(text)


def test_xlnet_folder(tmp_path, spm_model):
    """transformers keeps no spiece.model: it is rebuilt from the Unigram pieces, the precompiled normalization
    map and the Metaspace options of tokenizer.json."""
    import pickle

    theirs = transformers.XLNetTokenizer.from_pretrained(os.path.dirname(spm_model))
    folder = saved_by_transformers(theirs, tmp_path / "saved")
    ours = tf.XLNetTokenizer.from_pretrained(folder)
    reference = pt.XLNetTokenizer(spm_model)
    texts = TEXTS + ["1,000 2,500,000 a1, b22, 7,", "``quoted'' text", "  spaced   out  "]
    for text in texts:
        assert ours.encode(text) == reference.encode(text), repr(text)
    assert ours.encode("a <sep> b <cls>") == reference.encode("a <sep> b <cls>")
    again = pickle.loads(pickle.dumps(ours))  # its model lives in memory: the rebuilt file is gone
    (tmp_path / "resaved").mkdir()
    ours.save_pretrained(str(tmp_path / "resaved"))
    resaved = tf.XLNetTokenizer.from_pretrained(str(tmp_path / "resaved"))
    for text in texts[:10]:
        assert again.encode(text) == resaved.encode(text) == reference.encode(text), repr(text)


def test_extra_special_tokens_of_a_transformers_folder(tmp_path):
    """transformers 5 saves additional special tokens as tokenizer_config.json's extra_special_tokens: they are
    special after loading (all_special_tokens, skipped by batch_decode, masked), not only added tokens."""
    theirs = transformers.BertTokenizer(bert_uncased_vocab())
    theirs.add_special_tokens({"additional_special_tokens": ["<X>", "<Y>"]})
    folder = saved_by_transformers(theirs, tmp_path)
    ours = tf.BertTokenizer.from_pretrained(folder)
    again = transformers.AutoTokenizer.from_pretrained(folder)
    assert ours.additional_special_tokens == ["<X>", "<Y>"]
    assert set(ours.all_special_tokens) == set(again.all_special_tokens)
    ids = again("a <X> b <Y>")["input_ids"]
    assert ours.encode("a <X> b <Y>", add_special_tokens=True) == ids
    assert ours.batch_decode([ids], skip_special_tokens=True) == again.batch_decode([ids], skip_special_tokens=True)
    assert ours.get_special_tokens_mask(ids, already_has_special_tokens=True) == \
        again.get_special_tokens_mask(ids, already_has_special_tokens=True)


def test_tokens_transformers_added_as_special_stay_special(tmp_path):
    """add_tokens([...], special_tokens=True) in transformers: its folder marks them special (added_tokens_decoder,
    tokenizer.json); batch_decode(skip_special_tokens=True) leaves them out here too, also after a save here."""
    theirs = transformers.BertTokenizer(bert_uncased_vocab())
    theirs.add_tokens(["<turn>"], special_tokens=True)
    folder = saved_by_transformers(theirs, tmp_path)
    again = transformers.AutoTokenizer.from_pretrained(folder)
    ours = tf.BertTokenizer.from_pretrained(folder)
    ids = again("hello <turn> world")["input_ids"]
    assert ours("hello <turn> world")["input_ids"] == ids
    for kw in (dict(skip_special_tokens=True), dict()):
        assert ours.batch_decode([ids], **kw) == again.batch_decode([ids], **kw), kw
    ours.save_pretrained(str(tmp_path / "resaved"))
    for reloaded in (tf.BertTokenizer.from_pretrained(str(tmp_path / "resaved")),
                     transformers.AutoTokenizer.from_pretrained(str(tmp_path / "resaved"))):
        assert reloaded.batch_decode([ids], skip_special_tokens=True) == ["hello world"]


def test_xlm_extra_special_tokens_of_a_transformers_folder(tmp_path, xlm_files):
    """XLM too: a transformers folder's extra_special_tokens replace 1.2.0's <special0>..<special9> defaults."""
    theirs = transformers.XLMTokenizer(*xlm_files)
    theirs.add_special_tokens({"additional_special_tokens": ["<xtra>"]})
    theirs.save_pretrained(str(tmp_path))
    assert json.loads((tmp_path / "tokenizer_config.json").read_text())["extra_special_tokens"] == ["<xtra>"]
    again = transformers.AutoTokenizer.from_pretrained(str(tmp_path))
    ours = tf.XLMTokenizer.from_pretrained(str(tmp_path))
    assert ours.additional_special_tokens == ["<xtra>"] and "<xtra>" in again.all_special_tokens
    ids = again("hello <xtra> world")["input_ids"]
    assert ours.batch_decode([ids], skip_special_tokens=True) == again.batch_decode([ids], skip_special_tokens=True)
    assert tf.XLMTokenizer(*xlm_files).additional_special_tokens == [f"<special{i}>" for i in range(10)]


def test_xlm_special_token_layout_follows_the_folders_library(tmp_path, xlm_files):
    """XLM sequences start with 1.2.0's cls_token (</s>), and from a folder transformers saved with bos_token
    (<s>), as transformers lays them out: what a model fine-tuned there saw."""
    import pytorch_transformers as pt

    transformers.XLMTokenizer(*xlm_files).save_pretrained(str(tmp_path / "hf"))
    theirs = transformers.AutoTokenizer.from_pretrained(str(tmp_path / "hf"))
    ours = tf.XLMTokenizer.from_pretrained(str(tmp_path / "hf"))
    texts, pairs = ["hello world", "a b c d"], ["x", "y z"]
    assert ours(texts, pairs)["input_ids"] == theirs(texts, pairs)["input_ids"]
    assert ours(texts)["input_ids"] == theirs(texts)["input_ids"]
    assert ours(texts, padding=True, return_tensors="pt")["input_ids"].tolist() == \
        theirs(texts, padding=True, return_tensors="pt")["input_ids"].tolist()
    assert ours(texts[0])["input_ids"][0] == ours.bos_token_id
    ours.save_pretrained(str(tmp_path / "resaved"))
    assert tf.XLMTokenizer.from_pretrained(str(tmp_path / "resaved"))(texts)["input_ids"] == theirs(texts)["input_ids"]
    old = tf.XLMTokenizer(*xlm_files)
    reference = pt.XLMTokenizer(*xlm_files)
    assert old(texts[0])["input_ids"] == reference.encode(texts[0], add_special_tokens=True)
    assert old(texts[0])["input_ids"][0] == old.cls_token_id


def test_folder_of_another_kind_is_refused_clearly(tmp_path):
    folder = saved_by_transformers(transformers.BertTokenizer(bert_uncased_vocab()), tmp_path)
    with pytest.raises(ValueError, match="not ByteLevel BPE"):
        tf.GPT2Tokenizer.from_pretrained(folder)
    with pytest.raises(EnvironmentError, match="holds only tokenizer.json"):
        tf.XLMTokenizer.from_pretrained(folder)
    (tmp_path / "tokenizer.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(EnvironmentError, match="not a readable tokenizer.json"):
        tf.BertTokenizer.from_pretrained(folder)


def test_special_tokens_as_transformers_files_hold_them():
    """null for a token it leaves unset, a serialized AddedToken (a dict with its content) for others."""
    ours = tf.BertTokenizer(bert_uncased_vocab(), pad_token=None,
                            mask_token={"content": "[MASK]", "lstrip": True, "__type": "AddedToken"},
                            additional_special_tokens=[{"content": "[unused1]", "special": True}])
    assert ours._pad_token is None and ours.mask_token == "[MASK]"
    assert ours.additional_special_tokens == ["[unused1]"]
    assert ours.tokenize("a [MASK] [unused1]") == ["a", "[MASK]", "[unused1]"]
