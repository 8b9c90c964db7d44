"""__call__ with return_tensors: the arrays filled in C++ (PreTrainedTokenizer._tensors_native) against the Python
path's lists made into tensors, over padding, truncation, pairs, special tokens, padding side and the keys asked
for; against Hugging Face transformers; and the cases that must leave the fast path."""
import threading

import numpy as np
import pytest
import torch

from tokenizer_corpus import EDGE_CASES, bert_uncased_vocab, gpt2_files
from transformers_fast import BertTokenizer, GPT2Tokenizer, RobertaTokenizer
from transformers_fast.tokenization_utils import PreTrainedTokenizer

TEXTS = ["Hello naïve World!", "Short", "The quick brown fox jumps over the lazy dog again and again.", "",
         "Mixed 中文 text 12345", "emoji 😀 here"]
PAIRS = ["pair text here", "x", "", "another one, longer than the others by a few words", "y z", "ÀÉÎ"]


@pytest.fixture(scope="module")
def tokenizers(roberta_files):
    gpt2 = GPT2Tokenizer(*gpt2_files())
    gpt2.add_special_tokens({"pad_token": "<|endoftext|>"})
    return {"bert": BertTokenizer(bert_uncased_vocab()), "gpt2": gpt2, "roberta": RobertaTokenizer(*roberta_files)}


def python_path(tok, *args, **kwargs):
    """The same call through the Python path (id lists, then tensors)."""
    tok._tensors_native = lambda *a, **k: None
    try:
        return tok(*args, **kwargs)
    finally:
        del tok._tensors_native


def outcome(fn):
    try:
        return fn()
    except Exception as err:  # the same error from both paths
        return f"{type(err).__name__}: {err}"


def assert_same(fast, slow):
    if isinstance(fast, str) or isinstance(slow, str):
        assert fast == slow
        return
    assert list(fast) == list(slow)
    for key in fast:
        assert type(fast[key]) is type(slow[key]) and fast[key].dtype == slow[key].dtype, key
        assert fast[key].shape == slow[key].shape and (fast[key] == slow[key]).all(), key


@pytest.mark.parametrize("name", ["bert", "gpt2", "roberta"])
@pytest.mark.parametrize("with_pair", [False, True])
def test_same_values_as_python_path(tokenizers, name, with_pair):
    tok = tokenizers[name]
    pairs = PAIRS if with_pair else None
    taken = 0
    for padding in (True, "max_length", False):
        for max_length in (None, 0, 3, 5, 9, 40):
            for truncation in (True, False, "only_first", "only_second"):
                for add_special_tokens in (True, False):
                    kw = dict(padding=padding, max_length=max_length, truncation=truncation,
                              add_special_tokens=add_special_tokens)
                    for rt in ("pt", "np"):
                        fast = outcome(lambda: tok(TEXTS, pairs, return_tensors=rt, **kw))
                        assert_same(fast, outcome(lambda: python_path(tok, TEXTS, pairs, return_tensors=rt, **kw)))
                        taken += not isinstance(fast, str)
    assert taken > 50


@pytest.mark.parametrize("side", ["left", "right"])
def test_padding_side_keys_and_single_text(tokenizers, side):
    for tok in tokenizers.values():
        tok.padding_side = side
        try:
            for keys in [dict(), dict(return_token_type_ids=False), dict(return_attention_mask=False),
                         dict(return_token_type_ids=False, return_attention_mask=False)]:
                for args in [(TEXTS,), (TEXTS, PAIRS), ("one text",), ("one text", "and its pair")]:
                    kw = dict(padding="max_length", max_length=16, truncation=True, return_tensors="pt", **keys)
                    assert_same(tok(*args, **kw), python_path(tok, *args, **kw))
        finally:
            tok.padding_side = "right"


def test_fast_path_is_taken_and_leaves_no_lists(tokenizers, monkeypatch):
    """The common case never builds the id lists (_ids_batch); bytes, offsets and lists of ids take the Python path."""
    calls = []
    original = PreTrainedTokenizer._ids_batch
    monkeypatch.setattr(PreTrainedTokenizer, "_ids_batch", lambda self, *a: calls.append(1) or original(self, *a))
    for tok in tokenizers.values():
        tok(TEXTS, PAIRS, padding=True, truncation=True, max_length=12, return_tensors="pt")
        tok.encode_plus("Hello there", "friend", return_tensors="np")
    assert calls == []
    bert = tokenizers["bert"]
    assert_same(bert([b"bytes text", "str text"], padding=True, return_tensors="pt"),
                python_path(bert, [b"bytes text", "str text"], padding=True, return_tensors="pt"))
    assert calls
    out = bert(TEXTS, padding=True, return_tensors="pt", return_offsets_mapping=True)
    assert out["offset_mapping"].shape[:2] == out["input_ids"].shape


def test_equal_to_transformers(tokenizers):
    transformers = pytest.importorskip("transformers")
    ours, hf = tokenizers["bert"], transformers.BertTokenizer(bert_uncased_vocab())
    for side in ("right", "left"):
        ours.padding_side = hf.padding_side = side
        try:
            for pairs in (None, PAIRS):
                for kw in [dict(padding=True), dict(padding=True, truncation=True, max_length=7),
                           dict(padding="max_length", max_length=24, truncation="only_first" if pairs else True)]:
                    a = ours(TEXTS, pairs, return_tensors="pt", **kw)
                    b = hf(TEXTS, pairs, return_tensors="pt", **kw)
                    for key in ("input_ids", "token_type_ids", "attention_mask"):
                        assert torch.equal(a[key], b[key]), (key, side, kw)
        finally:
            ours.padding_side = hf.padding_side = "right"


def test_layout_that_is_not_fixed_takes_python_path(tokenizers):
    """A subclass whose special tokens depend on the text's length is not read as a layout."""
    class Odd(BertTokenizer):
        def add_special_tokens_single_sentence(self, token_ids):
            return [self.cls_token_id] * len(token_ids) + token_ids

        def create_token_type_ids(self, len_0, len_1=None):
            return [0] * (2 * len_0)

        def num_added_special_tokens(self, pair=False):
            return 0

    odd = Odd(bert_uncased_vocab())
    assert odd._special_layout(False) is None
    out = odd(TEXTS, padding=True, return_tensors="np")
    assert_same(out, python_path(odd, TEXTS, padding=True, return_tensors="np"))
    assert out["input_ids"][2, 0] == odd.cls_token_id


def test_special_token_change_is_followed(tokenizers):
    bert = BertTokenizer(bert_uncased_vocab())
    before = bert(["a b"], return_tensors="np")["input_ids"]
    bert.cls_token = "[MASK]"
    after = bert(["a b"], return_tensors="np")["input_ids"]
    assert before[0, 0] == bert.vocab["[CLS]"] and after[0, 0] == bert.vocab["[MASK]"]
    assert_same(bert(["a b"], return_tensors="np"), python_path(bert, ["a b"], return_tensors="np"))


def test_threads(tokenizers):
    texts = [t for t in EDGE_CASES if t.strip()] * 3
    tok = tokenizers["roberta"]
    kw = dict(padding=True, truncation=True, max_length=32, return_tensors="np")
    expected = python_path(tok, texts, **kw)
    errors = []

    def work():
        try:
            for _ in range(20):
                assert_same(tok(texts, **kw), expected)
        except Exception as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_fill_checks_its_arrays(tokenizers):
    core = tokenizers["bert"]._native()
    batch = core.encode_tensors(["a b c"], None, (101,), (), (102,), (0,), (), (0,), 0, 1, "", -1, "", 0, 0,
                                False)
    assert (batch.rows, batch.width) == (1, 5)
    with pytest.raises(ValueError, match="int64"):
        batch.fill(np.empty((1, 4), dtype=np.int64))
    with pytest.raises(ValueError, match="int64"):
        batch.fill(np.empty((1, 5), dtype=np.int32))
    ids = np.empty((1, 5), dtype=np.int64)
    batch.fill(ids)
    assert ids.tolist() == [[101] + tokenizers["bert"].encode("a b c") + [102]]
