"""Regression tests from a differential audit of every tokenizer against pytorch-transformers 1.2.0 and transformers
(its slow and fast classes): each test here failed before its fix."""
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
