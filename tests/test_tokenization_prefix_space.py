"""add_prefix_space of the byte-level BPE tokenizers (GPT2Tokenizer, RobertaTokenizer). Not given: 1.2.0's
tokenization (each part of the text between added/special tokens stripped, a space prepended). Given, as a keyword or
in a tokenizer_config.json that transformers wrote: transformers' fast tokenizers' meaning (nothing stripped; False no
space, True a space before each part that does not start with one), id for id, offsets, pairs, truncation, batches
and decode included."""
import json
import random

import pytest

from tokenizer_corpus import EDGE_CASES, gpt2_files, random_corpus

transformers = pytest.importorskip("transformers")
from transformers_fast import GPT2Tokenizer, RobertaTokenizer  # noqa: E402

WORDS = ["Hello", "world", "é", "naïve", "日本語", "123", "it's", "don't", "!!", "...", "a", "Ωmega", "x1", "😀",
         "<s>", "</s>", "<mask>", "<|endoftext|>", "\u00a0", "ñ", "'ll", "-", "Ж"]
SEPS = [" ", "  ", "\n", "\t", "", " \n ", ", ", "\r\n", "   "]


def random_texts(seed, count):
    """Texts of words, spaces, newlines and punctuation, starting with any of them (leading spaces, newlines,
    punctuation, non-ASCII first words), some long enough for the SIMD scanner's 64-byte blocks."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        n = rng.choice([0, 1, 2, 5, 9, 40])
        text = "".join(rng.choice(SEPS) + rng.choice(WORDS) for _ in range(n))
        if rng.random() < 0.5:
            text = text.lstrip()
        if rng.random() < 0.3:
            text += rng.choice(SEPS)
        out.append(text)
    return out


def plain(enc):
    return {k: json.loads(json.dumps(v.tolist() if hasattr(v, "tolist") else v)) for k, v in enc.items()}


def outcome(fn):
    try:
        return plain(fn())
    except BaseException as err:  # noqa: B036 - tokenizers panics (a BaseException) on some stride settings
        if isinstance(err, (KeyboardInterrupt, SystemExit)):
            raise
        return "raised"


@pytest.fixture(scope="module", params=["gpt2", "roberta"])
def family(request, roberta_files):
    if request.param == "gpt2":
        return GPT2Tokenizer, transformers.GPT2Tokenizer, gpt2_files()
    return RobertaTokenizer, transformers.RobertaTokenizer, roberta_files


def make_pair(family, add_prefix_space):
    ours_cls, hf_cls, files = family
    ours, hf = ours_cls(*files, add_prefix_space=add_prefix_space), hf_cls(*files, add_prefix_space=add_prefix_space)
    if ours_cls is GPT2Tokenizer:
        ours.add_special_tokens({"pad_token": "<|endoftext|>"})
        hf.pad_token = "<|endoftext|>"
    return ours, hf


@pytest.mark.parametrize("add_prefix_space", [False, True])
def test_single_texts_equal_transformers(family, add_prefix_space):
    ours, hf = make_pair(family, add_prefix_space)
    ours.add_tokens(["newtok"])
    hf.add_tokens(["newtok"])
    # (random code points: some are letters to the regex module's Unicode tables that tokenizers' tables do not
    # know yet, so its words differ there, as with 1.2.0's tokenization)
    unassigned = set(random_corpus(3, 60, 80, surrogates=False))
    texts = (random_texts(0, 250) + [t for t in EDGE_CASES] + sorted(unassigned)
             + ["", " ", "\n", "Hello", " Hello", "\nHello", "  Hello  ", "x newtok y", "newtok", " <s> a"])
    for text in texts:
        assert ours.tokenize(text) == hf.tokenize(text), repr(text)
        assert ours.encode(text) == hf.encode(text, add_special_tokens=False), repr(text)
        for kwargs in [dict(return_offsets_mapping=True, return_special_tokens_mask=True),
                       dict(add_special_tokens=False, return_offsets_mapping=True)]:
            assert plain(ours(text, **kwargs)) == plain(hf(text, **kwargs)), (repr(text), kwargs)
        if text not in unassigned:
            assert ours(text).word_ids() == hf(text).word_ids(), repr(text)
        assert ours._tokenize_python(text) == ours.tokenize(text), repr(text)  # 1.2.0's Python split, unstripped


@pytest.mark.parametrize("add_prefix_space", [False, True])
def test_pairs_batches_truncation_words_equal_transformers(family, add_prefix_space):
    ours, hf = make_pair(family, add_prefix_space)
    texts, pairs = random_texts(1, 64), [t or "x" for t in random_texts(2, 64)]
    for k in range(0, 64, 4):
        ts, ps = texts[k:k + 4], pairs[k:k + 4]
        calls = [
            lambda tk: tk(ts[0], ps[0], return_offsets_mapping=True, return_special_tokens_mask=True),
            lambda tk: tk(ts, padding=True, return_offsets_mapping=True),
            lambda tk: tk(ts, ps, padding=True, return_tensors="pt"),
            lambda tk: tk(ts, padding="max_length", max_length=24, truncation=True, return_tensors="np"),
            lambda tk: tk(ts, ps, truncation=True, max_length=14, stride=2, return_overflowing_tokens=True,
                          return_offsets_mapping=True),
            lambda tk: tk(ts, truncation="only_first", max_length=7, stride=3, return_overflowing_tokens=True,
                          return_offsets_mapping=True),
            lambda tk: tk([t.split(" ") for t in ts], is_split_into_words=True, return_offsets_mapping=True),
            lambda tk: tk([t.split(" ") for t in ts], [p.split(" ") for p in ps], is_split_into_words=True),
        ]
        for n, call in enumerate(calls):
            assert outcome(lambda: call(ours)) == outcome(lambda: call(hf)), (n, ts, ps)
        assert plain(ours.batch_encode_plus(list(zip(ts, ps)), return_offsets_mapping=True)) == \
            plain(hf(ts, ps, return_offsets_mapping=True))
        enc_ours, enc_hf = ours(ts, ps), hf(ts, ps)
        for i in range(len(ts)):
            assert enc_ours.word_ids(i) == enc_hf.word_ids(i), (ts[i], ps[i])
            assert enc_ours.sequence_ids(i) == enc_hf.sequence_ids(i)


@pytest.mark.parametrize("add_prefix_space", [False, True])
def test_decode_equals_transformers(family, add_prefix_space):
    """With add_prefix_space given, decode is transformers' (one str, its clean-up default), as batch_decode."""
    ours, hf = make_pair(family, add_prefix_space)
    for text in random_texts(4, 60):
        ids = hf(text)["input_ids"]
        for kwargs in [{}, {"skip_special_tokens": True}, {"clean_up_tokenization_spaces": False}]:
            assert ours.decode(ids, **kwargs) == hf.decode(ids, **kwargs), (repr(text), kwargs)
            assert ours.batch_decode([ids, ids], **kwargs) == hf.batch_decode([ids, ids], **kwargs)


@pytest.mark.parametrize("add_prefix_space", [False, True])
def test_folder_saved_by_transformers(family, add_prefix_space, tmp_path):
    """transformers writes add_prefix_space into tokenizer_config.json (1.2.0 never does): such a folder loads to
    transformers' ids; our save_pretrained writes it back, so our folder reloads the same in both libraries; a
    from_pretrained keyword overrides the file, as in transformers."""
    ours_cls, hf_cls, files = family
    theirs, mine, again = tmp_path / "theirs", tmp_path / "mine", tmp_path / "again"
    for d in (theirs, mine, again):
        d.mkdir()
    hf_cls(*files, add_prefix_space=add_prefix_space).save_pretrained(str(theirs))
    assert json.loads((theirs / "tokenizer_config.json").read_text())["add_prefix_space"] is add_prefix_space
    texts = random_texts(5, 40) + ["Hello world", "\nnaïve <mask> x", " leading", "日本語 <|endoftext|>end"]
    ours, hf = ours_cls.from_pretrained(str(theirs)), hf_cls.from_pretrained(str(theirs))
    assert ours.add_prefix_space is add_prefix_space
    for text in texts:
        assert plain(ours(text, return_offsets_mapping=True)) == plain(hf(text, return_offsets_mapping=True))
    ours.save_pretrained(str(mine))
    assert json.loads((mine / "tokenizer_config.json").read_text())["add_prefix_space"] is add_prefix_space
    ours_cls(*files, add_prefix_space=add_prefix_space).save_pretrained(str(again))  # built directly, not loaded
    for folder in (mine, again):
        a, b = ours_cls.from_pretrained(str(folder)), hf_cls.from_pretrained(str(folder))
        for text in texts:
            assert a(text)["input_ids"] == b(text)["input_ids"] == hf(text)["input_ids"], (folder, text)
    a = ours_cls.from_pretrained(str(theirs), add_prefix_space=not add_prefix_space)
    b = hf_cls.from_pretrained(str(theirs), add_prefix_space=not add_prefix_space)
    for text in texts:
        assert a(text)["input_ids"] == b(text)["input_ids"], text


def test_default_stays_1_2_0(roberta_files, tmp_path):
    """No add_prefix_space: 1.2.0's ids (the text stripped, a space prepended), also after save_pretrained (which
    writes no add_prefix_space then), and the same as transformers with add_prefix_space=True on stripped texts."""
    ref = pytest.importorskip("pytorch_transformers")
    ours, theirs = GPT2Tokenizer(*gpt2_files()), ref.GPT2Tokenizer(*gpt2_files())
    assert ours.add_prefix_space is None
    texts = [t for t in random_texts(6, 150) if t.strip()]
    for text in texts:
        assert ours.tokenize(text) == theirs.tokenize(text), repr(text)
        assert ours.encode(text) == theirs.encode(text), repr(text)
    ours.save_pretrained(str(tmp_path))
    assert "add_prefix_space" not in json.loads((tmp_path / "tokenizer_config.json").read_text())
    again = GPT2Tokenizer.from_pretrained(str(tmp_path))
    assert again.add_prefix_space is None
    assert [again.encode(t) for t in texts] == [theirs.encode(t) for t in texts]
    rob, rob_ref = RobertaTokenizer(*roberta_files), ref.RobertaTokenizer(*roberta_files)
    assert [rob.encode(t) for t in texts] == [rob_ref.encode(t) for t in texts]
    hf = transformers.GPT2Tokenizer(*gpt2_files(), add_prefix_space=True)
    for text in ["Hello world", "naïve x", "it's 123"]:  # stripped, no special tokens: the two meanings agree
        assert ours.encode(text) == hf.encode(text) == GPT2Tokenizer(*gpt2_files(), add_prefix_space=True).encode(text)


def test_setting_changes_after_construction(roberta_files):
    """add_prefix_space set on a built tokenizer takes effect (the C++ core is rebuilt), and is what save writes."""
    tok = RobertaTokenizer(*roberta_files)
    first = tok.encode(" \nHello")
    tok.add_prefix_space = False
    hf = transformers.RobertaTokenizer(*roberta_files, add_prefix_space=False)
    assert tok.encode(" \nHello") == hf.encode(" \nHello", add_special_tokens=False) != first
    tok.add_prefix_space = None
    assert tok.encode(" \nHello") == first
    with pytest.raises(TypeError):
        RobertaTokenizer(*roberta_files, add_prefix_space="yes")
