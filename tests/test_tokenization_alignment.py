"""truncation_side and BatchEncoding's alignment methods (char_to_token, token_to_chars, word_to_tokens, ...)
against transformers' own tokenizers for the same vocabularies, every family transformers has a fast tokenizer
of; and the clear error where a family's encodings cannot know words or characters."""
import os

import pytest

from tokenizer_corpus import bert_uncased_vocab, gpt2_files

transformers = pytest.importorskip("transformers")
from transformers_fast import (BertTokenizer, DistilBertTokenizer, GPT2Tokenizer, OpenAIGPTTokenizer,  # noqa: E402
                               RobertaTokenizer, XLMTokenizer, XLNetTokenizer)
from test_tokenization_others import openai_files, spm_model, xlm_files  # noqa: E402,F401
from test_tokenization_transformers_api import PAIRS, TEXTS, outcome  # noqa: E402

# accents, CJK, punctuation, runs of spaces (none leading or trailing: see test_tokenization_transformers_api)
ALIGN_TEXTS = ["Héllo  wörld,   naïve café!", "中文文本：你好，世界！ and 日本語", "don't stop -- believing!  ok?",
               "numbers 12345 and 3.14   here", "a"]
ALIGN_PAIRS = ["the pair,  with spaces", "résumé 中", "x", "Ångström  façade!!", "b c d e f g"]


@pytest.fixture(scope="module")
def tokenizers(roberta_files, openai_files, spm_model, xlm_files):  # noqa: F811
    """family -> (ours, transformers'), the same vocabulary; GPT-2 gets a pad token on both sides. transformers'
    XLM tokenizer is a slow one (other truncation errors, no words or characters): see test_truncation_side_xlm."""
    gpt2, hf_gpt2 = GPT2Tokenizer(*gpt2_files()), transformers.GPT2Tokenizer(*gpt2_files(), add_prefix_space=True)
    gpt2.add_special_tokens({"pad_token": "<|endoftext|>"})
    hf_gpt2.pad_token = "<|endoftext|>"
    return {
        "bert": (BertTokenizer(bert_uncased_vocab()), transformers.BertTokenizer(bert_uncased_vocab())),
        "distilbert": (DistilBertTokenizer(bert_uncased_vocab()),
                       transformers.DistilBertTokenizer(bert_uncased_vocab())),
        "gpt2": (gpt2, hf_gpt2),
        "roberta": (RobertaTokenizer(*roberta_files),
                    transformers.RobertaTokenizer(*roberta_files, add_prefix_space=True)),
        "openai": (OpenAIGPTTokenizer(*openai_files), transformers.OpenAIGPTTokenizer(*openai_files)),
        "xlnet": (XLNetTokenizer(spm_model), transformers.XLNetTokenizer.from_pretrained(os.path.dirname(spm_model))),
        "xlm": (XLMTokenizer(*xlm_files), transformers.XLMTokenizer(*xlm_files)),
    }


FAMILIES = ["bert", "distilbert", "gpt2", "roberta", "openai", "xlnet"]


def explained(enc, rows):
    return [(enc.word_ids(i), enc.tokens(i), enc.sequence_ids(i)) for i in range(rows)]


def rows_of(args, kw, enc):
    batched = isinstance(args[0], list) or "return_tensors" in kw or "return_overflowing_tokens" in kw
    return len(enc["input_ids"]) if batched else 1


@pytest.fixture
def sides(tokenizers):
    """Sets truncation_side on both tokenizers of a family; puts "right" back afterwards."""
    used = []

    def set_side(family, side):
        for tok in tokenizers[family]:
            tok.truncation_side = side
        used.append(family)
        return tokenizers[family]

    yield set_side
    for family in used:
        for tok in tokenizers[family]:
            tok.truncation_side = "right"


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("side", ["left", "right"])
def test_truncation_side(sides, family, side):
    """Every strategy, texts and pairs, overflow windows with stride, padding, the C++ tensor path, offsets and
    words of what is kept, as transformers with the same truncation_side."""
    ours, hf = sides(family, side)
    offsets = family != "xlnet"  # (our XLNet computes no offsets)
    checked = 0
    for args in [(TEXTS,), (TEXTS, PAIRS), (ALIGN_TEXTS[0],), (ALIGN_TEXTS, ALIGN_PAIRS)]:
        for truncation in ([True, "only_first", "only_second"] if len(args) == 2 else [True, "only_first"]):
            for max_length in (4, 9, 14):
                for kw in [dict(), dict(padding=True, return_tensors="pt"),
                           dict(return_overflowing_tokens=True, stride=1, return_special_tokens_mask=True),
                           dict(padding="max_length", return_offsets_mapping=offsets)]:
                    if ours.pad_token is None and "padding" in kw:
                        continue
                    kw = dict(kw, truncation=truncation, max_length=max_length)
                    a = outcome(lambda: ours(*args, **kw))
                    assert a == outcome(lambda: hf(*args, **kw)), (args, kw)
                    if a != "raised":
                        checked += 1
                        enc, ref = ours(*args, **kw), hf(*args, **kw)
                        assert explained(enc, rows_of(args, kw, enc)) == explained(ref, rows_of(args, kw, ref))
    assert checked > 30
    for call in [lambda tok: tok.encode(TEXTS[2], PAIRS[2], max_length=7, truncation=True,
                                                add_special_tokens=True),
                 lambda tok: tok(TEXTS[2], max_length=5, truncation=True, return_tensors="np")["input_ids"].tolist()]:
        assert call(ours) == call(hf)
    # (transformers 5 has no batch_encode_plus / encode_plus: they are its __call__)
    assert outcome(lambda: ours.batch_encode_plus(list(zip(TEXTS, PAIRS)), max_length=9, truncation=True)) == \
        outcome(lambda: hf(TEXTS, PAIRS, max_length=9, truncation=True))
    assert outcome(lambda: ours.encode_plus(TEXTS[2], max_length=6, truncation="only_first")) == \
        outcome(lambda: hf(TEXTS[2], max_length=6, truncation="only_first"))


@pytest.mark.parametrize("side", ["left", "right"])
def test_truncation_side_xlm(sides, side):
    """XLM's ids against transformers' slow XLM tokenizer where slow and fast tokenizers agree (texts long enough
    to truncate), without special tokens (1.2.0's XLM starts with </s> where transformers' has <s>)."""
    ours, hf = sides("xlm", side)
    for args in [(TEXTS,), (TEXTS[2],), (TEXTS[2:4], PAIRS[2:4])]:
        for max_length in (3, 6):
            kw = dict(truncation=True, max_length=max_length, add_special_tokens=False)
            assert outcome(lambda: ours(*args, **kw)) == outcome(lambda: hf(*args, **kw)), (args, kw)


def test_truncation_side_init_keyword_and_errors():
    ours = BertTokenizer(bert_uncased_vocab(), truncation_side="left")
    hf = transformers.BertTokenizer(bert_uncased_vocab(), truncation_side="left")
    assert ours.truncation_side == "left" and BertTokenizer(bert_uncased_vocab()).truncation_side == "right"
    assert outcome(lambda: ours(TEXTS, PAIRS, max_length=8, truncation=True)) == \
        outcome(lambda: hf(TEXTS, PAIRS, max_length=8, truncation=True))
    with pytest.raises(ValueError, match="truncation_side"):
        BertTokenizer(bert_uncased_vocab(), truncation_side="middle")
    ours.truncation_side = "middle"
    with pytest.raises(ValueError, match="truncation_side"):
        ours(TEXTS[0], max_length=4, truncation=True)
