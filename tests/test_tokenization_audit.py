"""Regression tests from a differential audit of every tokenizer against pytorch-transformers 1.2.0 and transformers
(its slow and fast classes): each test here failed before its fix."""
import os

import pytest

from tokenizer_corpus import bert_uncased_vocab, gpt2_files

transformers = pytest.importorskip("transformers")
from transformers_fast import (BertTokenizer, GPT2Tokenizer, OpenAIGPTTokenizer, RobertaTokenizer,  # noqa: E402
                               XLMTokenizer, XLNetTokenizer)
from test_tokenization_others import openai_files, spm_model, xlm_files  # noqa: E402,F401  (fixtures)


def offsets(tok, text):
    return [tuple(o) for o in tok(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]]


@pytest.mark.parametrize("text", ["\U0001d165\U0001d16d\U0001d166 musical", "x\U0001d16d\U0001d165y z",
                                  "a\u0301\U0001d16d\u0323\U0001d165 b"])
def test_offsets_after_canonical_reordering(text, openai_files):  # noqa: F811
    """NFD reorders combining marks (by combining class); the token still spans its first to last character, as
    tokenizers' alignments do (the positions used to move with the marks: (0, 2) for a 3-character word)."""
    pairs = [(BertTokenizer(bert_uncased_vocab()), transformers.BertTokenizer(bert_uncased_vocab())),
             (OpenAIGPTTokenizer(*openai_files), transformers.OpenAIGPTTokenizer(*openai_files))]
    for ours, hf in pairs:
        assert ours.encode(text) == hf.encode(text, add_special_tokens=False)
        assert offsets(ours, text) == offsets(hf, text), type(ours).__name__


def test_special_token_layout_methods_of_transformers(xlm_files, spm_model):  # noqa: F811
    """build_inputs_with_special_tokens, create_token_type_ids_from_sequences and get_special_tokens_mask (what
    transformers' data collators and scripts call) exist, and agree with transformers where it has them."""
    from transformers.models.bert import BertTokenizerLegacy

    ours, slow = BertTokenizer(bert_uncased_vocab()), BertTokenizerLegacy(bert_uncased_vocab())
    for args in [([5, 6],), ([5, 6], [7]), ([],), ([], [])]:
        for name in ("build_inputs_with_special_tokens", "create_token_type_ids_from_sequences",
                     "get_special_tokens_mask"):
            assert getattr(ours, name)(*args) == getattr(slow, name)(*args), (name, args)
    xlm, hf_xlm = XLMTokenizer(*xlm_files), transformers.XLMTokenizer(*xlm_files)
    for args in [([5, 6],), ([5, 6], [7])]:  # (XLM's first special token is 1.2.0's: </s>, not <s>)
        assert xlm.create_token_type_ids_from_sequences(*args) == hf_xlm.create_token_type_ids_from_sequences(*args)
        assert xlm.get_special_tokens_mask(*args) == hf_xlm.get_special_tokens_mask(*args)
    gpt2, hf_gpt2 = GPT2Tokenizer(*gpt2_files()), transformers.GPT2Tokenizer(*gpt2_files())
    for tok, hf in [(ours, slow), (gpt2, hf_gpt2), (xlm, hf_xlm)]:
        ids = tok.encode("hello world", add_special_tokens=True) + [tok.unk_token_id, 7]
        assert tok.get_special_tokens_mask(ids, already_has_special_tokens=True) == \
            hf.get_special_tokens_mask(ids, already_has_special_tokens=True)
        with pytest.raises(ValueError, match="second sequence"):
            tok.get_special_tokens_mask(ids, [1], already_has_special_tokens=True)
    # the layout is that of encode(add_special_tokens=True) and __call__ for every family
    hf_xlnet = transformers.XLNetTokenizer.from_pretrained(os.path.dirname(spm_model))
    for tok, hf in [(ours, slow), (gpt2, hf_gpt2), (xlm, hf_xlm), (XLNetTokenizer(spm_model), hf_xlnet)]:
        assert [tok.num_special_tokens_to_add(), tok.num_special_tokens_to_add(pair=True)] == \
            [hf.num_special_tokens_to_add(), hf.num_special_tokens_to_add(pair=True)]
    for tok in [ours, gpt2, xlm, XLNetTokenizer(spm_model)]:
        a, b = tok.encode("hello world"), tok.encode("the end")
        assert tok.build_inputs_with_special_tokens(a) == tok.encode("hello world", add_special_tokens=True)
        assert tok.build_inputs_with_special_tokens(a, b) == tok.encode("hello world", "the end",
                                                                        add_special_tokens=True)
        enc = tok("hello world", "the end", return_token_type_ids=True, return_special_tokens_mask=True)
        assert tok.create_token_type_ids_from_sequences(a, b) == enc["token_type_ids"]
        assert tok.get_special_tokens_mask(a, b) == enc["special_tokens_mask"]


def test_roberta_special_token_layout(roberta_files):
    ours = RobertaTokenizer(*roberta_files)
    enc = ours("hello world", "the end", return_token_type_ids=True, return_special_tokens_mask=True)
    a, b = ours.encode("hello world"), ours.encode("the end")
    assert ours.build_inputs_with_special_tokens(a, b) == enc["input_ids"]
    assert ours.create_token_type_ids_from_sequences(a, b) == enc["token_type_ids"] == [0] * len(enc["input_ids"])
    assert ours.get_special_tokens_mask(a, b) == enc["special_tokens_mask"]


XLNET_OFFSET_TEXTS = ["Hello  world, 1,000 naïve café", "``quoted'' text", "ﬁx ① x", "a 👍🏽 b", "İstanbul ΣΑΣ",
                      "日本語 テキスト", "x\u00a0y", "1,000,", "control \x00NUL \x01\x02\x7f DEL",
                      "zero\u200bwidth\u200c\u200djoiner\ufeffbom\u00adsoft\u2060wj", "a <mask> b", "<sep>x <cls>"]


@pytest.mark.parametrize("kwargs", [{}, {"do_lower_case": True}, {"keep_accents": True, "remove_space": False}])
def test_xlnet_offsets_as_transformers(spm_model, kwargs):  # noqa: F811
    """XLNet computes offsets (it raised NotImplementedError): those of transformers' fast XLNet tokenizer, through
    1.2.0's pre-processing (spaces, quotes, NFKD, accents, lower case) and what sentencepiece drops."""
    ours = XLNetTokenizer(spm_model, **kwargs)
    hf = transformers.XLNetTokenizer.from_pretrained(os.path.dirname(spm_model), **kwargs)
    same = []
    for text in XLNET_OFFSET_TEXTS:
        a, b = ours(text, return_offsets_mapping=True), hf(text, return_offsets_mapping=True)
        if a["input_ids"] != b["input_ids"]:  # (ids of 1.2.0 and transformers differ: final sigma, kept accents)
            continue
        assert a["offset_mapping"] == [tuple(o) for o in b["offset_mapping"]], text
        same.append(text)
    assert len(same) >= len(XLNET_OFFSET_TEXTS) - 2
    enc = ours(same[:4], same[4:8], padding=True, return_offsets_mapping=True)
    ref = hf(same[:4], same[4:8], padding=True, return_offsets_mapping=True)
    assert enc["offset_mapping"] == [[tuple(o) for o in row] for row in ref["offset_mapping"]]
    assert [enc.char_to_token(i, 3) for i in range(4)] == [ref.char_to_token(i, 3) for i in range(4)]


def test_xlnet_offsets_follow_ids(spm_model):  # noqa: F811
    """The ids of the offsets path are encode's, with added tokens, 1.2.0's digit-comma split and any text; every
    offset lies in its text."""
    from tokenizer_corpus import EDGE_CASES, random_corpus

    tok = XLNetTokenizer(spm_model)
    tok.add_tokens(["newtok", "a b"])
    tok.add_special_tokens({"additional_special_tokens": ["<x y>"]})
    texts = EDGE_CASES + random_corpus(5, 60, surrogates=False) + ["1,000, 2,5, a1, x", "newtok a b<x y>newtokz"]
    for text in texts:
        enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
        assert enc["input_ids"] == tok.encode(text), text
        assert all(0 <= s <= e <= len(text) for s, e in enc["offset_mapping"]), text
    enc = tok("1,000, newtok", add_special_tokens=False, return_offsets_mapping=True)
    assert tok.convert_ids_to_tokens(enc["input_ids"])[-2:] == [",", "newtok"]
    assert enc["offset_mapping"][-2:] == [(5, 6), (7, 13)]


def test_xlnet_batch_decode_as_transformers(spm_model):  # noqa: F811
    """batch_decode follows transformers' XLNet (its Metaspace decoder): an added token joins its neighbours as they
    are, and only the first token's leading space is dropped (we gave " newtokworld" for "newtok world", and ""
    where transformers keeps a space)."""
    ours, hf = XLNetTokenizer(spm_model), transformers.XLNetTokenizer.from_pretrained(os.path.dirname(spm_model))
    for tok in (ours, hf):
        tok.add_tokens(["newtok"])
    sequences = [["newtok", "▁world"], ["▁a", "newtok", "newtok", "b"], ["a", "▁"], ["▁", "<unk>", "▁", "▁x"],
                 ["<sep>", "▁x", "<cls>", "▁y"]]
    for tokens in sequences:
        ids = ours.convert_tokens_to_ids(tokens)
        for kwargs in [{}, {"skip_special_tokens": True}, {"clean_up_tokenization_spaces": True}]:
            assert ours.batch_decode([ids], **kwargs) == hf.batch_decode([ids], **kwargs), (tokens, kwargs)
    ids = ours.encode("hello newtok world")
    assert ours.decode(ids) == "hello newtokworld"  # decode stays 1.2.0's


def test_roberta_pair_types_without_special_tokens(roberta_files):
    """RoBERTa has one token type: a pair without special tokens is all 0 as in transformers (we gave the second
    text type 1), in the list and the C++ tensor paths; BERT keeps 1 for it."""
    ours = RobertaTokenizer(*roberta_files)
    hf = transformers.RobertaTokenizer(*roberta_files, add_prefix_space=True)
    texts, pairs = ["hello world", "a b c d"], ["the end", "x"]
    for kwargs in [dict(), dict(padding=True), dict(padding=True, return_tensors="np")]:
        a = ours(texts, pairs, add_special_tokens=False, return_token_type_ids=True, **kwargs)["token_type_ids"]
        b = hf(texts, pairs, add_special_tokens=False, return_token_type_ids=True, **kwargs)["token_type_ids"]
        assert (a.tolist() if hasattr(a, "tolist") else a) == (b.tolist() if hasattr(b, "tolist") else b), kwargs
    bert, hf_bert = BertTokenizer(bert_uncased_vocab()), transformers.BertTokenizer(bert_uncased_vocab())
    assert bert("a b", "c", add_special_tokens=False)["token_type_ids"] == \
        hf_bert("a b", "c", add_special_tokens=False)["token_type_ids"] == [0, 0, 1]


def test_roberta_offsets_after_special_tokens_in_text(roberta_files):
    """1.2.0 prepends a space to every part of the text between special or added tokens; that space covers no
    character, so trimming it (as transformers trims the spaces of RoBERTa's offsets) made the part's first token an
    empty span: "b" in "a <s> b" was (7, 7), now (6, 7), where transformers puts its "Ġb" too."""
    ours = RobertaTokenizer(*roberta_files)
    hf = transformers.RobertaTokenizer(*roberta_files, add_prefix_space=True)
    ours.add_tokens(["newtok"])
    text = "a <s> b </s> c <mask> d"
    enc, ref = ours(text, return_offsets_mapping=True), hf(text, return_offsets_mapping=True)
    theirs = [(tok, tuple(o)) for tok, o in zip(hf.convert_ids_to_tokens(ref["input_ids"]), ref["offset_mapping"])]
    mine = list(zip(ours.convert_ids_to_tokens(enc["input_ids"]), enc["offset_mapping"]))
    assert mine == [(tok, o) for tok, o in theirs if tok != "Ġ"]  # (transformers keeps the spaces before <s> apart)
    assert enc.char_to_token(6) == 3
    text = "x newtok yé newtok"
    enc = ours(text, add_special_tokens=False, return_offsets_mapping=True)
    assert [text[s:e] for s, e in enc["offset_mapping"]] == ["x", "newtok", "y", "é", "newtok"]


@pytest.mark.parametrize("do_lower_case", [True, False])
@pytest.mark.parametrize("strip_accents", [None, True, False])
def test_bert_strip_accents_option(do_lower_case, strip_accents):
    """transformers' strip_accents (it was taken and ignored: accents went with lower case only): None follows
    do_lower_case (1.2.0), True strips them in cased text too, False keeps them in lower-cased text; tokens, ids and
    offsets as transformers' BERT tokenizers, the Python BasicTokenizer too."""
    from transformers.models.bert import BertTokenizerLegacy

    vocab = bert_uncased_vocab()
    ours = BertTokenizer(vocab, do_lower_case=do_lower_case, strip_accents=strip_accents)
    slow = BertTokenizerLegacy(vocab, do_lower_case=do_lower_case, strip_accents=strip_accents)
    fast = transformers.BertTokenizer(vocab, do_lower_case=do_lower_case, strip_accents=strip_accents)
    texts = ["café CAFÉ naïve Ångström résumé", "ÀÉÎÕÜ àéîõü ñÑ", "Straße İstanbul", "Καλημέρα ЁЛКА ёлка",
             "cafe\u0301 E\u0301"]
    for text in texts:
        assert ours.tokenize(text) == fast.tokenize(text), text
        assert ours.encode(text) == fast.encode(text, add_special_tokens=False)
        assert offsets(ours, text) == offsets(fast, text)
        if text.isascii() or "\u0301" not in text:  # (transformers' slow BasicTokenizer applies NFC first)
            assert ours.tokenize(text) == slow.tokenize(text), text
            assert ours.basic_tokenizer.tokenize(text) == slow.basic_tokenizer.tokenize(text)
    if strip_accents is None:
        ref = pytest.importorskip("pytorch_transformers")
        theirs = ref.BertTokenizer(vocab, do_lower_case=do_lower_case)
        assert [ours.tokenize(t) for t in texts] == [theirs.tokenize(t) for t in texts]


def test_model_max_length_keyword(tmp_path):
    """transformers' model_max_length (a constructor keyword, and in the tokenizer_config.json it writes) sets max_len
    (it was taken and ignored, so truncation=True did not truncate)."""
    tok = BertTokenizer(bert_uncased_vocab(), model_max_length=16)
    assert tok.model_max_length == tok.max_len == 16 and tok.max_len_single_sentence == 14
    assert BertTokenizer(bert_uncased_vocab(), max_len=8, model_max_length=16).max_len == 8  # 1.2.0's name first
    import json

    tok.save_pretrained(str(tmp_path))
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(dict(config, model_max_length=12)))
    ours, hf = BertTokenizer.from_pretrained(str(tmp_path)), transformers.BertTokenizer.from_pretrained(str(tmp_path))
    text = "a " * 40
    assert ours.model_max_length == hf.model_max_length == 12
    assert ours(text, truncation=True)["input_ids"] == hf(text, truncation=True)["input_ids"]


def test_audit_script_finds_no_difference_from_1_2_0():
    """scripts/audit_tokenizers.py (every family and option set against 1.2.0 on edge cases and random text)
    exits 1 when a 1.2.0 comparison differs."""
    import subprocess
    import sys

    script = os.path.join(os.path.dirname(__file__), "..", "scripts", "audit_tokenizers.py")
    out = subprocess.run([sys.executable, script, "--random", "100", "--seed", "7"], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
