"""GPT2Tokenizer / RobertaTokenizer against pytorch-transformers 1.2.0 (real GPT-2 vocabulary)."""
import json
import random

import pytest

from tokenizer_corpus import EDGE_CASES, gpt2_files, long_text, random_corpus

ref = pytest.importorskip("pytorch_transformers")
regex = pytest.importorskip("regex")
from transformers_fast.models.gpt2.tokenization_gpt2 import GPT2Tokenizer  # noqa: E402
from transformers_fast.models.roberta.tokenization_roberta import RobertaTokenizer  # noqa: E402

GPT2_PATTERN = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")


@pytest.fixture(scope="module")
def files():
    return gpt2_files()


@pytest.fixture(scope="module")
def pair(files):
    return GPT2Tokenizer(*files), ref.GPT2Tokenizer(*files)


def corpus(n_random=300):
    texts = EDGE_CASES + random_corpus(1, n_random, surrogates=False) + [long_text()]
    return [t for t in texts if t.strip()]


def test_pretokenizer_matches_regex(pair):
    ours = pair[0]._core.model
    texts = EDGE_CASES + random_corpus(2, 2000, surrogates=False)
    rng = random.Random(5)
    alphabet = [" ", "  ", "\t", "\n", "a", "Z", "1", "'", "s", "re", "ll", ".", "é", "١", "\u00a0", "\u3000", "😀"]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 20))) for _ in range(3000)]
    for text in texts:
        assert ours.pretokenize(text) == GPT2_PATTERN.findall(text), repr(text)


@pytest.mark.parametrize("cls_name", ["GPT2Tokenizer", "RobertaTokenizer"])
def test_tokenize_and_encode_match_reference(cls_name, files, roberta_files):
    files = files if cls_name == "GPT2Tokenizer" else roberta_files
    ours = {"GPT2Tokenizer": GPT2Tokenizer, "RobertaTokenizer": RobertaTokenizer}[cls_name](*files)
    theirs = getattr(ref, cls_name)(*files)
    mismatches = []
    for text in corpus():
        a, b = ours.tokenize(text), theirs.tokenize(text)
        if a != b or ours.encode(text) != theirs.encode(text):
            mismatches.append(text)
    assert not mismatches, mismatches[:3]
    for a, b in [("Hello world", "How are you?"), (EDGE_CASES[3], EDGE_CASES[16])]:
        assert ours.encode(a, b) == theirs.encode(a, b)
        assert ours.encode(a, b, add_special_tokens=True) == theirs.encode(a, b, add_special_tokens=True)
        assert ours.encode(a, add_special_tokens=True) == theirs.encode(a, add_special_tokens=True)


def test_python_path_agrees_with_core(pair):
    ours = pair[0]
    assert ours.pat.pattern == pair[1].pat.pattern  # 1.2.0's attribute, for code that splits words with it
    for text in corpus(50):
        assert ours._tokenize_python(text) == ours.tokenize(text)


def test_long_words_use_heap_path(pair):
    ours, theirs = pair
    rng = random.Random(0)
    for n in (49, 200, 2000):
        word = "".join(rng.choice("abcdefghij") for _ in range(n))
        for text in (word, "x" * n, "😀" * (n // 4), word.upper() + "!" * n):
            assert ours.encode(text) == theirs.encode(text)


def test_decode_matches_reference(pair):
    ours, theirs = pair
    for text in EDGE_CASES[:25]:
        ids = theirs.encode(text)
        assert ours.decode(ids) == theirs.decode(ids)
        assert ours.decode(ids, clean_up_tokenization_spaces=False) == theirs.decode(ids, False, False)
    # a lone continuation byte decodes with errors="replace"
    ids = theirs.encode("😀")
    assert ours.decode(ids[-1:]) == theirs.decode(ids[-1:])


def test_added_and_special_tokens(roberta_files):
    ours, theirs = RobertaTokenizer(*roberta_files), ref.RobertaTokenizer(*roberta_files)
    for t in (ours, theirs):
        t.add_tokens(["ĠHello", "newtoken", "<new>"])
        t.add_special_tokens({"additional_special_tokens": ["<x>"]})
    for text in ["<s>Hello</s> world <x> newtoken <new>x", "a <mask> b <pad>", "ĠHello Hello"]:
        assert ours.tokenize(text) == theirs.tokenize(text)
        assert ours.encode(text) == theirs.encode(text)
        assert ours.encode(text, text) == theirs.encode(text, text)
        ids = theirs.encode(text, add_special_tokens=True)
        assert ours.decode(ids) == theirs.decode(ids)
        assert ours.decode(ids, skip_special_tokens=True) == theirs.decode(ids, skip_special_tokens=True)


def test_merges_file_quirks(tmp_path):
    """First and last lines of the merges file are dropped, a repeated merge keeps its last rank,
    lines that are not pairs are ignored, unknown tokens map to the unk id."""
    vocab = {"<|endoftext|>": 0, "a": 1, "b": 2, "c": 3, "ab": 4, "bc": 5, "Ġ": 6, "Ġa": 7, "abc": 8}
    (tmp_path / "vocab.json").write_text(json.dumps(vocab))
    (tmp_path / "merges.txt").write_text("Ġ a\nb c\na b\nx y z\n\nb c\nab c\nĠ a")
    ours = GPT2Tokenizer(str(tmp_path / "vocab.json"), str(tmp_path / "merges.txt"))
    theirs = ref.GPT2Tokenizer(str(tmp_path / "vocab.json"), str(tmp_path / "merges.txt"))
    for text in ["abc", "a b c", "abcabc bca", "xyz", "ab c", "cab"]:
        assert ours.tokenize(text) == theirs.tokenize(text), text
        assert ours.encode(text) == theirs.encode(text), text


def test_surrogates_and_bad_input(pair):
    ours, theirs = pair
    with pytest.raises(ValueError):
        theirs.tokenize("a\ud800b")  # UnicodeEncodeError is a ValueError
    with pytest.raises(ValueError, match="surrogate"):
        ours.tokenize("a\ud800b")
    with pytest.raises(ValueError, match="UTF-8"):
        ours.encode(b"\xc3\x28")
    with pytest.raises(TypeError):
        ours.encode(["a"])
    assert ours.encode("") == theirs.encode("") == []


def test_token_without_id_raises(files):
    """1.2.0 returns None for a special token missing from the vocabulary when unk_token is missing
    too; we raise a clear error instead."""
    ours, theirs = RobertaTokenizer(*files), ref.RobertaTokenizer(*files)
    assert None in theirs.encode("<s> hi")
    with pytest.raises(ValueError, match="<s>"):
        ours.encode("<s> hi")


def test_save_and_load(pair, tmp_path):
    ours, theirs = pair
    ours.save_pretrained(str(tmp_path))
    again = ref.GPT2Tokenizer.from_pretrained(str(tmp_path))
    text = EDGE_CASES[16]
    assert again.encode(text) == theirs.encode(text)
    assert GPT2Tokenizer.from_pretrained(str(tmp_path)).encode(text) == theirs.encode(text)


def test_threads_give_identical_ids(files):
    import threading
    tok = GPT2Tokenizer(*files)
    texts = corpus(100)
    expected = [tok.encode(t) for t in texts]
    errors = []

    def work():
        try:
            for _ in range(3):
                if [tok.encode(t) for t in texts] != expected:
                    errors.append("mismatch")
            if tok._ids_batch(texts, False, False)[0] != expected:
                errors.append("batch mismatch")
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


@pytest.mark.slow
def test_random_fuzz_against_reference(pair):
    ours, theirs = pair
    for text in random_corpus(1234, 5000, max_len=200, surrogates=False):
        if text.strip():
            assert ours.encode(text) == theirs.encode(text), repr(text)


@pytest.mark.parametrize("edit", ["encoder", "bpe_ranks", "unk_token"])
def test_vocabulary_edits_after_construction_match_reference(files, edit):
    """1.2.0 reads encoder and bpe_ranks on every call: edits after construction change the ids."""
    ours, theirs = GPT2Tokenizer(*files), ref.GPT2Tokenizer(*files)
    texts = ["Hello world, hello there", "The quick brown fox", EDGE_CASES[4], EDGE_CASES[16]]
    for t in (ours, theirs):
        t.encode("warm up")  # built (and 1.2.0's cache filled) before the edit
        if edit == "encoder":
            t.encoder["ĠHello"] = 1
            del t.encoder["Ġbrown"]
        elif edit == "bpe_ranks":
            t.bpe_ranks.pop(("Ġ", "t"))
        else:
            t.unk_token = "!"
            del t.encoder["Ġbrown"]
    for text in texts:
        assert ours.tokenize(text) == theirs.tokenize(text), text
        assert ours.encode(text) == theirs.encode(text), text


@pytest.mark.parametrize("cls_name", ["GPT2Tokenizer", "RobertaTokenizer"])
def test_assigned_pat_splits_words_as_in_1_2_0(cls_name, files, roberta_files):
    """1.2.0's _tokenize reads self.pat: a pattern assigned after construction is what splits the words."""
    files = files if cls_name == "GPT2Tokenizer" else roberta_files
    ours = {"GPT2Tokenizer": GPT2Tokenizer, "RobertaTokenizer": RobertaTokenizer}[cls_name](*files)
    theirs = getattr(ref, cls_name)(*files)
    assert ours.pat.pattern == theirs.pat.pattern
    texts = ["Hello world's 123", "  two  spaces\tand tabs ", "naïve café 😀!!"]
    before = [ours.encode(t) for t in texts]
    for tok in (ours, theirs):
        tok.pat = regex.compile(r"\S+|\s+")
    for text in texts:
        assert ours.tokenize(text) == theirs.tokenize(text) and ours.encode(text) == theirs.encode(text), text
    assert ours.encode(texts[0]) != before[0]
    with pytest.raises(TypeError, match="compiled regular expression"):
        ours.pat = r"\S+"
