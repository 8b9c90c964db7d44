"""BertTokenizer / BasicTokenizer / WordpieceTokenizer / DistilBertTokenizer against pytorch-transformers 1.2.0."""
import os
import threading

import pytest

from tokenizer_corpus import EDGE_CASES, bert_uncased_vocab, long_text, random_corpus, training_text

ref = pytest.importorskip("pytorch_transformers")
from transformers_fast.models.bert.tokenization_bert import BasicTokenizer, BertTokenizer, WordpieceTokenizer  # noqa: E402
from transformers_fast.models.distilbert.tokenization_distilbert import DistilBertTokenizer  # noqa: E402


@pytest.fixture(scope="module")
def uncased_vocab():
    return bert_uncased_vocab()


@pytest.fixture(scope="module")
def cased_vocab(tmp_path_factory):
    """A cased WordPiece vocabulary trained with the Hugging Face `tokenizers` trainer."""
    tokenizers = pytest.importorskip("tokenizers")
    d = tmp_path_factory.mktemp("cased")
    tok = tokenizers.BertWordPieceTokenizer(lowercase=False, strip_accents=False)
    tok.train_from_iterator(training_text(), vocab_size=1500, min_frequency=1)
    tok.save_model(str(d))
    return os.path.join(str(d), "vocab.txt")


def corpus(n_random=300):
    texts = EDGE_CASES + random_corpus(0, n_random) + [long_text()]
    return [t for t in texts if t.strip()]  # whitespace-only input: see test_whitespace_only_differs


CONFIGS = [
    dict(do_lower_case=True),
    dict(do_lower_case=False),
    dict(do_lower_case=True, never_split=["[FOO]", "Hello", "NAÏVE"]),
    dict(do_lower_case=True, tokenize_chinese_chars=False),
    dict(do_basic_tokenize=False),
]


@pytest.mark.parametrize("vocab_name", ["uncased", "cased"])
@pytest.mark.parametrize("kwargs", CONFIGS, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()))
def test_tokenize_and_encode_match_reference(vocab_name, kwargs, uncased_vocab, cased_vocab):
    path = uncased_vocab if vocab_name == "uncased" else cased_vocab
    ours, theirs = BertTokenizer(path, **kwargs), ref.BertTokenizer(path, **kwargs)
    mismatches = []
    for text in corpus():
        a, b = ours.tokenize(text), theirs.tokenize(text)
        if a != b:
            mismatches.append((text, a, b))
            continue
        if ours.encode(text) != theirs.encode(text):
            mismatches.append((text, "encode"))
    assert not mismatches, mismatches[:3]


def test_encode_pair_and_special_tokens(uncased_vocab):
    ours, theirs = BertTokenizer(uncased_vocab), ref.BertTokenizer(uncased_vocab)
    for a, b in [("Hello world", "How are you?"), (EDGE_CASES[5], EDGE_CASES[9]), ("x [SEP] y", "[CLS]")]:
        assert ours.encode(a, b) == theirs.encode(a, b)
        assert isinstance(ours.encode(a, b), tuple)
        assert ours.encode(a, b, add_special_tokens=True) == theirs.encode(a, b, add_special_tokens=True)
        assert ours.encode(a, add_special_tokens=True) == theirs.encode(a, add_special_tokens=True)


def test_decode_matches_reference(uncased_vocab):
    ours, theirs = BertTokenizer(uncased_vocab), ref.BertTokenizer(uncased_vocab)
    for text in EDGE_CASES[:20] + ["Hello [SEP] world [SEP]"]:
        ids = theirs.encode(text, add_special_tokens=True)
        for skip in (False, True):
            for clean in (False, True):
                assert ours.decode(ids, skip, clean) == theirs.decode(ids, skip, clean)
        assert ours.convert_ids_to_tokens(ids) == theirs.convert_ids_to_tokens(ids)


def test_added_and_special_tokens_match_reference(uncased_vocab):
    ours, theirs = BertTokenizer(uncased_vocab), ref.BertTokenizer(uncased_vocab)
    for t in (ours, theirs):
        assert t.add_tokens(["new_tok1", "my_new-tok2", "hello", "NEWCASE"]) == 3
        assert t.add_special_tokens({"cls_token": "<CLS>", "additional_special_tokens": ["<x>", "<xy>"]}) == 3
    texts = ["hi new_tok1 there my_new-tok2!", "<CLS> a <x> b <xy> c <xyz>", "NEWCASE newcase", "<x><xy><x>",
             "[SEP] [CLS] <CLS>"]
    for text in texts + EDGE_CASES[:10]:
        assert ours.tokenize(text) == theirs.tokenize(text), text
        assert ours.encode(text) == theirs.encode(text), text
        assert ours.encode(text, "new_tok1 x") == theirs.encode(text, "new_tok1 x"), text
    assert len(ours) == len(theirs)
    assert ours.all_special_ids == theirs.all_special_ids
    assert ours.cls_token_id == theirs.cls_token_id
    ids = theirs.encode("hi new_tok1 <x> there", add_special_tokens=True)
    assert ours.decode(ids) == theirs.decode(ids)


def test_basic_and_wordpiece_tokenizer_classes(uncased_vocab):
    for kwargs in (dict(), dict(do_lower_case=False), dict(never_split=["[FOO]", "ABC"]),
                   dict(tokenize_chinese_chars=False)):
        ours, theirs = BasicTokenizer(**kwargs), ref.tokenization_bert.BasicTokenizer(**kwargs)
        for text in corpus(100):
            assert ours.tokenize(text) == theirs.tokenize(text), text
            assert ours.tokenize(text, never_split=["HELLO"]) == theirs.tokenize(text, never_split=["HELLO"])
    vocab = ref.tokenization_bert.load_vocab(uncased_vocab)
    for max_chars in (100, 5):
        ours = WordpieceTokenizer(vocab, "[UNK]", max_input_chars_per_word=max_chars)
        theirs = ref.tokenization_bert.WordpieceTokenizer(vocab, "[UNK]", max_input_chars_per_word=max_chars)
        for text in corpus(100):
            assert ours.tokenize(text) == theirs.tokenize(text), text


def test_lone_surrogates_are_dropped_like_reference(uncased_vocab):
    ours, theirs = BertTokenizer(uncased_vocab), ref.BertTokenizer(uncased_vocab)
    for text in ["a\ud800b", "\udfff", "x \ud83d\ude00 y", "\ud83d"]:
        if text.strip():
            assert ours.tokenize(text) == theirs.tokenize(text)


def test_whitespace_only_differs(uncased_vocab):
    """1.2.0 returns one special token picked by set order for whitespace-only text; we return []
    (as transformers does)."""
    ours, theirs = BertTokenizer(uncased_vocab), ref.BertTokenizer(uncased_vocab)
    for text in [" ", "  \n\t ", "\u3000"]:
        assert ours.tokenize(text) == []
        assert len(theirs.tokenize(text)) == 1 and theirs.tokenize(text)[0] in theirs.all_special_tokens
    assert ours.tokenize("") == theirs.tokenize("") == []


def test_bad_input(uncased_vocab):
    tok = BertTokenizer(uncased_vocab)
    with pytest.raises(TypeError, match="text"):
        tok.tokenize(123)
    with pytest.raises(TypeError, match="text"):
        tok.encode(None)
    with pytest.raises(ValueError, match="UTF-8"):
        tok.encode(b"abc\xff\xfe")
    assert tok.encode("héllo".encode()) == tok.encode("héllo")
    with pytest.raises(ValueError, match="vocabulary file"):
        BertTokenizer("/nonexistent/vocab.txt")


def test_distilbert_is_bert(uncased_vocab):
    ours, theirs = DistilBertTokenizer(uncased_vocab), ref.DistilBertTokenizer(uncased_vocab)
    for text in EDGE_CASES:
        if text.strip():
            assert ours.encode(text, add_special_tokens=True) == theirs.encode(text, add_special_tokens=True)


def test_save_and_load_roundtrip(uncased_vocab, tmp_path):
    theirs = ref.BertTokenizer(uncased_vocab, do_lower_case=False)
    theirs.add_tokens(["newword"])
    theirs.add_special_tokens({"additional_special_tokens": ["<sp>"]})
    ref_dir = tmp_path / "ref"
    ref_dir.mkdir()
    theirs.save_pretrained(str(ref_dir))
    ours = BertTokenizer.from_pretrained(str(ref_dir))
    theirs = ref.BertTokenizer.from_pretrained(str(ref_dir))
    text = "Hello newword <sp> World"
    assert ours.tokenize(text) == theirs.tokenize(text)
    assert ours.encode(text) == theirs.encode(text)
    our_dir = tmp_path / "ours"
    our_dir.mkdir()
    ours.save_pretrained(str(our_dir))
    again = ref.BertTokenizer.from_pretrained(str(our_dir))
    assert again.encode(text) == theirs.encode(text)
    assert BertTokenizer.from_pretrained(uncased_vocab).encode(text) == ref.BertTokenizer(uncased_vocab).encode(text)
    with pytest.raises(EnvironmentError):
        BertTokenizer.from_pretrained(str(tmp_path / "missing"))


def test_threads_give_identical_ids(uncased_vocab):
    tok = BertTokenizer(uncased_vocab)
    texts = corpus(200)
    expected = [tok.encode(t) for t in texts]
    results, errors = {}, []

    def work(k):
        try:
            for _ in range(3):
                got = [tok.encode(t) for t in texts]
                if got != expected:
                    errors.append(k)
            results[k] = tok._ids_batch(texts, False, False)[0]
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(r == expected for r in results.values())


@pytest.mark.slow
@pytest.mark.parametrize("do_lower_case", [True, False])
def test_random_fuzz_against_reference(uncased_vocab, do_lower_case):
    ours = BertTokenizer(uncased_vocab, do_lower_case=do_lower_case)
    theirs = ref.BertTokenizer(uncased_vocab, do_lower_case=do_lower_case)
    for text in random_corpus(4321, 5000, max_len=200):
        if text.strip():
            assert ours.encode(text) == theirs.encode(text), repr(text)


EDITS = {
    # 1.2.0 reads these on every call, so changing them after construction changes the ids
    "basic_lower_off": lambda t: setattr(t.basic_tokenizer, "do_lower_case", False),
    "chinese_chars_off": lambda t: setattr(t.basic_tokenizer, "tokenize_chinese_chars", False),
    "basic_off": lambda t: setattr(t, "do_basic_tokenize", False),
    "max_chars": lambda t: setattr(t.wordpiece_tokenizer, "max_input_chars_per_word", 5),
    "unused_renamed": lambda t: t.vocab.__setitem__("dogdon", t.vocab.pop("[unused1]")),
    "shared_id": lambda t: t.vocab.update({"fox": 7, "xfox": 1}),
    "vocab_replaced": lambda t: (t.vocab.clear(), t.vocab.update({"[UNK]": 0, "a": 1, "##b": 2, "the": 3})),
    "unk_token": lambda t: setattr(t, "unk_token", "[PAD]"),
    "wordpiece_unk": lambda t: setattr(t.wordpiece_tokenizer, "unk_token", "[MASK]"),
    # pieces from the WordpieceTokenizer's own vocabulary, ids from the tokenizer's
    "wordpiece_vocab_replaced": lambda t: setattr(t.wordpiece_tokenizer, "vocab", {"[UNK]": 0, "hello": 1, "##o": 2,
                                                                                   "ab": 3, "##b": 4}),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_edits_after_construction_match_reference(uncased_vocab, edit):
    ours, theirs = BertTokenizer(uncased_vocab), ref.BertTokenizer(uncased_vocab)
    texts = ["Hello WORLD dogdon xfox 中文字 naïve", "ab abb thea Zzzzzzzzz", "UNwant\u00e9d,running"] + EDGE_CASES[:12]
    for t in (ours, theirs):
        t.encode(texts[0])  # built before the edit
        EDITS[edit](t)
    for text in texts:
        if text.strip():
            assert ours.tokenize(text) == theirs.tokenize(text), text
            assert ours.encode(text) == theirs.encode(text), text
            assert ours.encode(text, "xfox y") == theirs.encode(text, "xfox y"), text
    assert ours.wordpiece_tokenizer.tokenize("dogdon xfox ab") == theirs.wordpiece_tokenizer.tokenize("dogdon xfox ab")
