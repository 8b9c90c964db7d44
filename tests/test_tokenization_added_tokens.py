"""Added tokens (add_tokens / add_special_tokens, and those of saved folders) in every tokenizer, id for id with the
references: transformers for its API (__call__, encode_plus, batch_encode_plus) and for folders it saved,
pytorch-transformers 1.2.0 for its own (encode, tokenize, decode)."""
import os

import pytest
import torch

from tokenizer_corpus import bert_uncased_vocab, gpt2_files

transformers = pytest.importorskip("transformers")
pt = pytest.importorskip("pytorch_transformers")
import transformers_fast as tf  # noqa: E402
from test_tokenization_others import openai_files, spm_model, xlm_files  # noqa: E402,F401  (fixtures)

HF_FAMILIES = ["bert", "distilbert", "gpt2", "roberta", "openai", "xlm", "xlnet"]


@pytest.fixture
def make(roberta_files, openai_files, xlm_files, spm_model):  # noqa: F811
    """family -> (ours, transformers', 1.2.0's, ours as 1.2.0's) on the same vocabulary; GPT-2 and RoBERTa given
    add_prefix_space=True (transformers' meaning) but the last two (1.2.0's meaning)."""
    def build(family):
        if family in ("bert", "distilbert"):
            name = {"bert": "BertTokenizer", "distilbert": "DistilBertTokenizer"}[family]
            return tuple(getattr(lib, name)(bert_uncased_vocab()) for lib in (tf, transformers, pt, tf))
        if family in ("gpt2", "roberta"):
            name, files = {"gpt2": ("GPT2Tokenizer", gpt2_files()), "roberta": ("RobertaTokenizer", roberta_files)}[family]
            return (getattr(tf, name)(*files, add_prefix_space=True),
                    getattr(transformers, name)(*files, add_prefix_space=True), getattr(pt, name)(*files),
                    getattr(tf, name)(*files))
        if family == "xlnet":
            return (tf.XLNetTokenizer(spm_model), transformers.XLNetTokenizer.from_pretrained(os.path.dirname(spm_model)),
                    pt.XLNetTokenizer(spm_model), tf.XLNetTokenizer(spm_model))
        files = {"openai": openai_files, "xlm": xlm_files}[family]
        name = {"openai": "OpenAIGPTTokenizer", "xlm": "XLMTokenizer"}[family]
        return tuple(getattr(lib, name)(*files) for lib in (tf, transformers, pt, tf))
    return build


def as_lists(enc):
    return {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in enc.items()}


@pytest.mark.parametrize("family", HF_FAMILIES)
def test_added_tokens_in_both_texts_of_a_pair(make, family):
    """__call__, encode_plus and batch_encode_plus give an added token its id in the pair's second text too (it
    was the unk id in both texts, 1.2.0's encode(a, b) mapping, which 1.2.0's encode keeps)."""
    ours, hf, ref, ours_120 = make(family)
    for tok in (ours, hf, ref, ours_120):
        tok.add_tokens(["newtokxyz"])
        tok.add_special_tokens({"additional_special_tokens": ["<spx>"]})
    texts, pairs = ["hello newtokxyz world <spx>", "newtokxyz"], ["foo newtokxyz bar", "<spx> end newtokxyz"]
    if family == "xlm":  # (transformers' XLM: no offsets, and <s> where 1.2.0's layout has </s> first)
        options = [dict(add_special_tokens=False), dict(add_special_tokens=False, padding=True, return_tensors="pt")]
    else:
        options = [dict(), dict(return_offsets_mapping=True), dict(padding=True, return_tensors="pt"),
                   dict(padding=True, return_tensors="np", add_special_tokens=False)]
    if ours.pad_token is None:
        options = [kw for kw in options if "padding" not in kw]
    for kw in options:
        assert as_lists(ours(texts, pairs, **kw)) == as_lists(hf(texts, pairs, **kw)), kw
        assert as_lists(ours.batch_encode_plus(list(zip(texts, pairs)), **kw)) == \
            as_lists(hf(texts, pairs, **kw)), kw
        assert as_lists(ours.encode_plus(texts[0], pairs[0], **kw)) == as_lists(hf(texts[0], pairs[0], **kw)), kw
    words = [t.split() for t in texts], [p.split() for p in pairs]
    kw = options[0]
    assert ours(*words, is_split_into_words=True, **kw)["input_ids"] == \
        hf(*words, is_split_into_words=True, **kw)["input_ids"]
    # 1.2.0's own encode of a pair keeps its mapping (the model's unk id for added tokens)
    assert ours_120.encode(texts[0], pairs[0], add_special_tokens=True) == \
        ref.encode(texts[0], pairs[0], add_special_tokens=True)
