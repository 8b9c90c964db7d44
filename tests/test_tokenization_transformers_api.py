"""The calls current Hugging Face transformers code makes on a tokenizer, against transformers' own tokenizers
for the same vocabulary: __call__'s options (lengths, special-token masks, overflow with stride, pad_to_multiple_of,
padding_side, words given split, default keys), BatchEncoding.word_ids / tokens / sequence_ids, batch_decode,
batch_encode_plus, model_max_length, get_vocab, encode with transformers' options; every family we have."""
import json
import os
import pickle

import pytest
import torch

from tokenizer_corpus import bert_uncased_vocab, gpt2_files

transformers = pytest.importorskip("transformers")
from transformers_fast import (BertTokenizer, DistilBertTokenizer, GPT2Tokenizer, OpenAIGPTTokenizer,  # noqa: E402
                               RobertaTokenizer, TransfoXLTokenizer, XLMTokenizer, XLNetTokenizer)
from transformers_fast.tokenization_utils import BatchEncoding, PreTrainedTokenizer  # noqa: E402
from test_tokenization_others import openai_files, spm_model, transfo_vocab, xlm_files  # noqa: E402,F401

# No leading/trailing spaces: 1.2.0's byte-level BPE strips the text and prepends a space (transformers with
# add_prefix_space=True does the same on such texts).
TEXTS = ["Hello world, it's naive!", "Short", "The quick brown fox jumps over the lazy dog again and again.",
         "numbers 12345 and 3.14 here", "don't stop-believing", "a"]
PAIRS = ["pair text here", "x y", "another one, longer than the others by a few words", "y z", "w", "b c d e"]


@pytest.fixture(scope="module")
def pairs_of_tokenizers(roberta_files):
    """family -> (ours, transformers'), the same vocabulary; GPT-2 gets a pad token on both sides."""
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
    }


FAMILIES = ["bert", "distilbert", "gpt2", "roberta"]


def outcome(fn):
    """The BatchEncoding as plain lists, or that it raised (the exception types differ: tokenizers raises
    Exception or panics)."""
    try:
        enc = fn()
    except BaseException as err:  # noqa: B036 - tokenizers' PanicException is a BaseException
        if isinstance(err, (KeyboardInterrupt, SystemExit)):
            raise
        return "raised"
    out = {}
    for key, value in enc.items():
        value = value.tolist() if hasattr(value, "tolist") else value
        out[key] = json.loads(json.dumps(value))  # tuples (offsets) and lists alike
    return list(enc.keys()), out


def explained(enc, rows):
    return [(enc.word_ids(i), enc.tokens(i), enc.sequence_ids(i)) for i in range(rows)]


def assert_same_call(ours, hf, *args, **kw):
    a, b = outcome(lambda: ours(*args, **kw)), outcome(lambda: hf(*args, **kw))
    assert a == b, (args, kw)
    return a


@pytest.mark.parametrize("family", FAMILIES)
def test_extra_outputs_and_default_keys(pairs_of_tokenizers, family):
    """length, special_tokens_mask, offsets; keys, order and types as transformers (its model_input_names decide
    token_type_ids); single texts keep length a list, as transformers does."""
    ours, hf = pairs_of_tokenizers[family]
    for args in [(TEXTS[0],), (TEXTS[2], PAIRS[2]), (TEXTS,), (TEXTS, PAIRS)]:
        for kw in [dict(), dict(return_length=True, return_special_tokens_mask=True, return_offsets_mapping=True),
                   dict(return_token_type_ids=True, return_attention_mask=False, return_length=True),
                   dict(padding=True, return_special_tokens_mask=True, return_length=True),
                   dict(padding=True, return_special_tokens_mask=True, return_tensors="pt", return_length=True),
                   dict(padding="max_length", max_length=24, truncation=True, return_tensors="np",
                        return_offsets_mapping=True)]:
            assert_same_call(ours, hf, *args, **kw)
    enc = ours(TEXTS, padding=True, return_tensors="pt")
    assert type(enc["input_ids"]) is torch.Tensor and list(enc) == list(hf(TEXTS, padding=True, return_tensors="pt"))


@pytest.mark.parametrize("family", FAMILIES)
def test_overflow_with_stride(pairs_of_tokenizers, family):
    """The overflowing windows and their order (for pairs tokenizers' product of both texts' windows),
    overflow_to_sample_mapping, and the errors (stride not below what is kept, a text too short to truncate)."""
    ours, hf = pairs_of_tokenizers[family]
    checked = 0
    for args in [(TEXTS,), (TEXTS[2],), (TEXTS, PAIRS), (TEXTS[2], PAIRS[2])]:
        for max_length in (2, 5, 6, 9, 30):
            for stride in (0, 1, 2, 4):
                for truncation in ([True, "only_second", "only_first"] if len(args) == 2 else [True]):
                    for extra in [dict(), dict(padding=True, return_length=True, return_special_tokens_mask=True,
                                               return_offsets_mapping=True)]:
                        kw = dict(return_overflowing_tokens=True, stride=stride, max_length=max_length,
                                  truncation=truncation, **extra)
                        checked += assert_same_call(ours, hf, *args, **kw) != "raised"
    assert checked > 100
    extra = ours.num_added_special_tokens()
    with pytest.raises(ValueError, match="stride"):  # transformers checks it when truncation is set
        ours(TEXTS[2], return_overflowing_tokens=True, truncation=True, max_length=extra + 2, stride=3)
    with pytest.raises(ValueError, match="stride"):  # and tokenizers when it truncates (it panics)
        ours(TEXTS[2], return_overflowing_tokens=True, truncation=True, max_length=extra + 3, stride=3)
    enc = ours(TEXTS[2], return_overflowing_tokens=True, truncation=True, max_length=8, stride=2, padding=True,
               return_tensors="pt")
    assert enc["overflow_to_sample_mapping"].tolist() == [0] * enc["input_ids"].shape[0]


@pytest.mark.parametrize("family", FAMILIES)
def test_padding_options(pairs_of_tokenizers, family):
    ours, hf = pairs_of_tokenizers[family]
    for args in [(TEXTS,), (TEXTS, PAIRS), (TEXTS[1],)]:
        for kw in [dict(padding=True, pad_to_multiple_of=8),
                   dict(padding="max_length", max_length=13, pad_to_multiple_of=4),
                   dict(padding="max_length", max_length=13, pad_to_multiple_of=4, truncation=True),  # (refused)
                   dict(padding=True, max_length=6, pad_to_multiple_of=4, truncation="only_first"),
                   dict(padding=True, max_length=8, pad_to_multiple_of=4, truncation=True),
                   dict(padding=False, pad_to_multiple_of=8),
                   dict(padding=True, pad_to_multiple_of=8, return_tensors="pt"),
                   dict(padding=True, padding_side="left"),
                   dict(padding="max_length", max_length=20, padding_side="left", return_tensors="pt"),
                   dict(padding=True, padding_side="right", return_tensors="np", return_offsets_mapping=True),
                   dict(padding=True, verbose=False)]:
            assert_same_call(ours, hf, *args, **kw)
    assert ours.padding_side == hf.padding_side == "right"  # the argument leaves the attribute alone
    for bad in [dict(pad_to_multiple_of=0), dict(pad_to_multiple_of="8"), dict(padding_side="up"), dict(stride=-1)]:
        with pytest.raises(ValueError):
            ours(TEXTS, padding=True, **bad)


@pytest.mark.parametrize("family", FAMILIES)
def test_split_into_words(pairs_of_tokenizers, family):
    ours, hf = pairs_of_tokenizers[family]
    words = [t.split() for t in TEXTS]
    pair_words = [p.split() for p in PAIRS]
    for args in [(words[0],), (words,), (words, pair_words), (words[2], pair_words[2])]:
        for kw in [dict(), dict(return_offsets_mapping=True, padding=True),
                   dict(truncation=True, max_length=7, return_tensors="pt", padding=True)]:
            assert_same_call(ours, hf, *args, is_split_into_words=True, **kw)
            a, b = ours(*args, is_split_into_words=True, **kw), hf(*args, is_split_into_words=True, **kw)
            rows = len(a["input_ids"]) if isinstance(args[0][0], list) else 1
            assert explained(a, rows) == explained(b, rows)
    with pytest.raises(TypeError, match="list of str"):
        ours(["a", 1], is_split_into_words=True)
    with pytest.raises(TypeError, match="list of str"):
        ours([["a"], "b c"], is_split_into_words=True)


@pytest.mark.parametrize("family", FAMILIES)
def test_word_ids_tokens_sequence_ids(pairs_of_tokenizers, family):
    """As transformers' fast tokenizers, on the list path and on the C++ tensor path alike, with padding on either
    side, overflow rows, and added tokens (words of their own)."""
    ours, hf = pairs_of_tokenizers[family]
    for args in [(TEXTS,), (TEXTS, PAIRS), (TEXTS[0],), ("Hello world, and cafés 中文 😀 don't!!", "x")]:
        for kw in [dict(), dict(padding=True, return_tensors="pt"), dict(padding=True, padding_side="left"),
                   dict(padding="max_length", max_length=12, truncation=True, return_tensors="np"),
                   dict(return_overflowing_tokens=True, max_length=7, stride=1, truncation=True)]:
            if assert_same_call(ours, hf, *args, **kw) == "raised":  # a stride too long for what is kept
                continue
            a, b = ours(*args, **kw), hf(*args, **kw)
            rows = len(a["input_ids"]) if isinstance(args[0], list) or "return_tensors" in kw or \
                "return_overflowing_tokens" in kw else 1
            assert explained(a, rows) == explained(b, rows), (args, kw)
    with pytest.raises(IndexError):
        ours(TEXTS).word_ids(len(TEXTS))


def test_word_ids_with_added_tokens():
    ours, hf = BertTokenizer(bert_uncased_vocab()), transformers.BertTokenizer(bert_uncased_vocab())
    ours.add_tokens(["newtok"])
    hf.add_tokens(["newtok"])
    for text in ["hello newtok world", "newtok", "a newtok newtok b!", "x [SEP] y"]:
        a, b = ours(text), hf(text)
        assert a["input_ids"] == b["input_ids"] and explained(a, 1) == explained(b, 1), text


def test_xlnet_paragraph_and_document_tokens_are_special_as_in_1_2_0(spm_model):  # noqa: F811
    """A known difference: XLNet's <eop> and <eod> are special tokens in 1.2.0 (its additional_special_tokens, which
    skip_special_tokens drops) and ours; transformers 5 no longer counts them and keeps them."""
    import pytorch_transformers

    ours, old = XLNetTokenizer(spm_model), pytorch_transformers.XLNetTokenizer(spm_model)
    hf = transformers.XLNetTokenizer.from_pretrained(os.path.dirname(spm_model))
    ids = ours.encode("hello <eop> world <eod>")
    assert "<eop>" in ours.convert_ids_to_tokens(ids) and "<eod>" in ours.convert_ids_to_tokens(ids)
    assert ours.decode(ids, skip_special_tokens=True) == old.decode(ids, skip_special_tokens=True)
    assert "<eop>" not in ours.decode(ids, skip_special_tokens=True)
    assert "<eop>" in hf.decode(ids, skip_special_tokens=True)
    assert ours.all_special_tokens == old.all_special_tokens


def test_word_ids_of_the_other_families(openai_files, xlm_files, spm_model, transfo_vocab):  # noqa: F811
    """OpenAI GPT and XLNet against transformers; XLM's transformers tokenizer is a slow one (it has no word_ids),
    so its words are checked by construction ("</w>" ends a word), as Transformer-XL's (a word-level vocabulary)."""
    hf_openai = transformers.OpenAIGPTTokenizer(*openai_files)
    hf_xlnet = transformers.XLNetTokenizer.from_pretrained(os.path.dirname(spm_model))
    texts = ["hello world, this is a test", "the quick brown fox", "it is raining again and again"]
    for ours, hf in [(OpenAIGPTTokenizer(*openai_files), hf_openai), (XLNetTokenizer(spm_model), hf_xlnet)]:
        for args in [(texts,), (texts, texts[::-1]), (texts[0],)]:
            for kw in [dict(), dict(padding=True), dict(return_special_tokens_mask=True, return_length=True)]:
                if ours.pad_token is None and kw.get("padding"):
                    continue
                a, b = ours(*args, **kw), hf(*args, **kw)
                assert outcome(lambda: a) == outcome(lambda: b), (type(ours).__name__, args, kw)
                rows = len(a["input_ids"]) if isinstance(args[0], list) else 1
                assert explained(a, rows) == explained(b, rows), (type(ours).__name__, args, kw)
    xlm = XLMTokenizer(*xlm_files)
    enc = xlm("hello world, again")
    tokens = enc.tokens()
    assert tokens[0] == xlm.cls_token and enc.word_ids()[0] is None
    words, word = [], -1
    for k, tok in enumerate(tokens[1:-1]):
        word += k == 0 or tokens[k].endswith("</w>")
        words.append(word)
    assert enc.word_ids()[1:-1] == words and len(set(words)) == 4
    transfo = TransfoXLTokenizer(vocab_file=transfo_vocab)
    enc = transfo("the cat sat")
    assert enc.word_ids() == list(range(len(enc["input_ids"]))) and enc.sequence_ids() == [0] * len(enc["input_ids"])


def test_word_ids_errors(pairs_of_tokenizers):
    ours, _ = pairs_of_tokenizers["bert"]
    enc = ours(TEXTS[:2], padding=True)
    again = pickle.loads(pickle.dumps(enc))
    assert type(again) is BatchEncoding and dict(again) == dict(enc)
    with pytest.raises(ValueError, match="word_ids"):
        again.word_ids()

    class NoWords(PreTrainedTokenizer):
        vocab_size = 3

        def _tokenize(self, text):
            return text.split()

        def _convert_token_to_id(self, token):
            return {"a": 0, "b": 1}.get(token, 2)

        def _convert_id_to_token(self, index):
            return "ab?"[index]

    tok = NoWords()
    assert tok("a b")["input_ids"] == [0, 1] and not tok.is_fast and ours.is_fast
    with pytest.raises(NotImplementedError, match="word"):
        tok("a b").word_ids()


@pytest.mark.parametrize("family", FAMILIES)
def test_batch_decode_and_vocabulary(pairs_of_tokenizers, family):
    ours, hf = pairs_of_tokenizers[family]
    enc = hf(TEXTS, PAIRS, padding=True, return_tensors="pt")
    for kw in [dict(), dict(skip_special_tokens=True), dict(clean_up_tokenization_spaces=False),
               dict(skip_special_tokens=True, clean_up_tokenization_spaces=True)]:
        assert ours.batch_decode(enc["input_ids"], **kw) == hf.batch_decode(enc["input_ids"], **kw), kw
        assert ours.batch_decode(enc["input_ids"].tolist(), **kw) == hf.batch_decode(enc["input_ids"].tolist(), **kw)
    # decode stays 1.2.0's: a text holding sep_token comes back as a list
    if ours.sep_token is not None and family in ("bert", "distilbert"):
        assert isinstance(ours.decode(enc["input_ids"][0]), list)
    assert ours.get_vocab() == hf.get_vocab()
    assert ours.get_added_vocab() == hf.get_added_vocab()
    ours, hf = pickle.loads(pickle.dumps(ours)), pickle.loads(pickle.dumps(hf))  # (the fixture's stay as they are)
    ours.add_tokens(["addedtokenx"]), hf.add_tokens(["addedtokenx"])
    assert ours.get_added_vocab() == hf.get_added_vocab()
    assert ours.model_max_length == ours.max_len
    ours.model_max_length = 64
    try:
        assert ours.max_len == 64
    finally:
        ours.model_max_length = int(1e12)


@pytest.mark.parametrize("family", FAMILIES)
def test_setting_a_special_token_by_id_as_transformers(pairs_of_tokenizers, family):
    """tokenizer.pad_token_id = tokenizer.eos_token_id (a common transformers line): the token of that id becomes
    the special token; None unsets it."""
    ours, hf = (pickle.loads(pickle.dumps(t)) for t in pairs_of_tokenizers[family])
    for tok in (ours, hf):
        tok.pad_token_id = 7
    assert (ours.pad_token, ours.pad_token_id) == (hf.pad_token, hf.pad_token_id) == (hf.convert_ids_to_tokens(7), 7)
    ours.additional_special_tokens_ids = [8, 9]  # (transformers 5 calls these extra_special_tokens)
    assert ours.additional_special_tokens == hf.convert_ids_to_tokens([8, 9])
    assert ours(TEXTS[:2], padding=True)["input_ids"] == hf(TEXTS[:2], padding=True)["input_ids"]
    ours.pad_token_id = None
    assert ours._pad_token is None
    for bad in (len(ours), -1, "7", 2.0):
        with pytest.raises(ValueError, match="pad_token_id must be a token id"):
            ours.pad_token_id = bad


@pytest.mark.parametrize("family", FAMILIES)
def test_tokenize_with_a_pair_and_special_tokens_and_decode_of_a_batch(pairs_of_tokenizers, family):
    """transformers' tokenize(text, pair, add_special_tokens=...) and decode of a batch (a list of texts)."""
    ours, hf = pairs_of_tokenizers[family]
    for text, pair in zip(TEXTS, PAIRS):
        for kw in (dict(), dict(add_special_tokens=True), dict(add_special_tokens=False)):
            assert ours.tokenize(text, **kw) == hf.tokenize(text, **kw), (text, kw)
            assert ours.tokenize(text, pair, **kw) == hf.tokenize(text, pair, **kw), (text, pair, kw)
    enc = hf(TEXTS, PAIRS, padding=True, return_tensors="pt")
    for ids in (enc["input_ids"], enc["input_ids"].tolist()):
        for kw in (dict(), dict(skip_special_tokens=True)):
            assert ours.decode(ids, **kw) == hf.decode(ids, **kw) == hf.batch_decode(ids, **kw)


@pytest.mark.parametrize("family", ["bert", "gpt2", "openai", "xlm", "xlnet"])
def test_added_special_and_added_tokens_in_batch_decode_and_masks(family, openai_files, xlm_files,  # noqa: F811
                                                                  spm_model):
    """A token added by add_special_tokens is special for transformers' batch_decode(skip_special_tokens=True) and
    get_special_tokens_mask(already_has_special_tokens=True), which look it up among the added tokens (1.2.0's
    all_special_ids gives the unk id for it, and 1.2.0's decode keeps it); transformers' WordPiece decoder puts a
    space after an added token too ("newtok c", 1.2.0's decode "newtokc")."""
    ours, hf = {
        "bert": lambda: (BertTokenizer(bert_uncased_vocab()), transformers.BertTokenizer(bert_uncased_vocab())),
        "gpt2": lambda: (GPT2Tokenizer(*gpt2_files()),
                         transformers.GPT2Tokenizer(*gpt2_files(), add_prefix_space=True)),
        "openai": lambda: (OpenAIGPTTokenizer(*openai_files), transformers.OpenAIGPTTokenizer(*openai_files)),
        "xlm": lambda: (XLMTokenizer(*xlm_files), transformers.XLMTokenizer(*xlm_files)),
        "xlnet": lambda: (XLNetTokenizer(spm_model),
                          transformers.XLNetTokenizer.from_pretrained(os.path.dirname(spm_model))),
    }[family]()
    for tok in (ours, hf):
        tok.add_tokens(["newtok"])
        tok.add_special_tokens({"additional_special_tokens": ["<X>"]})
    for text in ["a newtok c <X> d", "<X> newtok"]:
        ids = hf(text, "e f")["input_ids"]  # (1.2.0's encode of a pair gives added tokens the unk id)
        assert ours.get_special_tokens_mask(ids, already_has_special_tokens=True) == \
            hf.get_special_tokens_mask(ids, already_has_special_tokens=True)
        for kw in [dict(), dict(skip_special_tokens=True)]:
            assert ours.batch_decode([ids], **kw) == hf.batch_decode([ids], **kw), kw
            assert ours.batch_decode(torch.tensor([ids]), **kw) == hf.batch_decode([ids], **kw), kw


@pytest.mark.parametrize("family", FAMILIES)
def test_batch_encode_plus_and_encode_plus(pairs_of_tokenizers, family):
    """transformers 5 keeps only __call__; its 4.x batch_encode_plus / encode_plus equal __call__."""
    ours, hf = pairs_of_tokenizers[family]
    kw = dict(padding=True, truncation=True, max_length=9, return_length=True, return_special_tokens_mask=True)
    a = outcome(lambda: ours.batch_encode_plus(list(zip(TEXTS, PAIRS)), **kw))
    assert a == outcome(lambda: hf(TEXTS, PAIRS, **kw))
    # __call__ takes the (text, pair) batch too (transformers' zero-shot pipeline passes it so)
    assert outcome(lambda: ours([list(p) for p in zip(TEXTS, PAIRS)], **kw)) == a
    assert outcome(lambda: ours.batch_encode_plus(TEXTS, **kw)) == outcome(lambda: hf(TEXTS, **kw))
    words = [t.split() for t in TEXTS]
    assert outcome(lambda: ours.batch_encode_plus(words, is_split_into_words=True, **kw)) == \
        outcome(lambda: hf(words, is_split_into_words=True, **kw))
    assert ours.batch_encode_plus([], padding=True)["input_ids"] == []  # (transformers raises)
    assert outcome(lambda: ours.encode_plus(TEXTS[0], PAIRS[0], return_offsets_mapping=True)) == \
        outcome(lambda: hf(TEXTS[0], PAIRS[0], return_offsets_mapping=True))
    with pytest.raises(ValueError, match="every entry"):
        ours.batch_encode_plus([("a", "b"), "c"])
    with pytest.raises(ValueError, match="2 texts"):
        ours.batch_encode_plus([("a", "b", "c")])


@pytest.mark.parametrize("family", FAMILIES)
def test_encode_with_transformers_options(pairs_of_tokenizers, family):
    """encode(text) stays 1.2.0's (no special tokens by default, a tuple for a pair); with one of transformers'
    options it is transformers' encode with that add_special_tokens."""
    ours, hf = pairs_of_tokenizers[family]
    for special in (False, True):
        for kw in [dict(max_length=4, truncation=True), dict(padding="max_length", max_length=30),
                   dict(return_tensors="pt"), dict(max_length=6, truncation="only_second", stride=1)]:
            for args in [(TEXTS[2],), (TEXTS[2], PAIRS[2])]:
                def run(tok):
                    try:
                        ids = tok.encode(*args, add_special_tokens=special, **kw)
                    except Exception:  # only_second without a pair: both raise
                        return "raised"
                    return type(ids), ids.tolist() if hasattr(ids, "tolist") else ids
                assert run(ours) == run(hf), (special, kw, args)
    assert ours.encode(TEXTS[2], max_length=4, truncation=True) == hf.encode(TEXTS[2], max_length=4, truncation=True,
                                                                              add_special_tokens=False)
    assert isinstance(ours.encode("a", "b"), tuple)  # 1.2.0
    with pytest.raises(TypeError, match="combined"):
        ours.encode("a b", max_length=3, lang="en")
    with pytest.raises(TypeError):  # 1.2.0: other keyword arguments go to _tokenize
        ours.encode("a b", not_an_option=1)


@pytest.mark.parametrize("family", FAMILIES)
def test_encode_into_a_tensor_without_id_lists(pairs_of_tokenizers, family, monkeypatch):
    """encode(text, return_tensors=...) of one text without special tokens: the ids straight into an int64 [1, n]
    array (no detour through __call__'s lists), equal to transformers' encode; arrays are writable."""
    ours, hf = pairs_of_tokenizers[family]
    expected = {(text, kind): hf.encode(text, add_special_tokens=False, return_tensors=kind)
                for text in TEXTS + ["", "Ünïcödé  text 中文 ok?"] for kind in ("np", "pt")}

    def no_detour(*args, **kwargs):
        raise AssertionError("encode went through __call__")

    monkeypatch.setattr(type(ours), "_encode_batch", no_detour)
    for (text, kind), want in expected.items():
        got = ours.encode(text, return_tensors=kind)
        assert type(got) is type(want) and got.dtype == want.dtype and tuple(got.shape) == tuple(want.shape)
        assert got.tolist() == want.tolist(), (text, kind)
        got[:, :1] = 0  # writable (a bytearray underneath)


def test_batch_encoding_to():
    enc = BertTokenizer(bert_uncased_vocab())(TEXTS, padding=True, return_tensors="pt")
    moved = enc.to("cpu")
    assert moved is enc and moved["input_ids"].device.type == "cpu" and moved.word_ids(0)[0] is None


@pytest.mark.parametrize("family", FAMILIES)
def test_pad_like_data_collators(pairs_of_tokenizers, family):
    """pad() as DataCollatorWithPadding calls it: a list of encodings (other keys such as labels pass through), a
    batched dict, one encoding, tensors in; padding='max_length' without max_length pads to model_max_length."""
    ours, hf = pairs_of_tokenizers[family]
    features = [dict(ours(t, return_special_tokens_mask=True), labels=i) for i, t in enumerate(TEXTS)]
    assert features == [dict(hf(t, return_special_tokens_mask=True), labels=i) for i, t in enumerate(TEXTS)]

    def same(inputs, **kw):
        a, b = outcome(lambda: ours.pad(inputs, **kw)), outcome(lambda: hf.pad(inputs, **kw))
        assert a == b and a != "raised", kw
        assert type(ours.pad(inputs, **kw)["input_ids"]) is type(hf.pad(inputs, **kw)["input_ids"])

    for kw in [dict(), dict(return_tensors="pt"), dict(padding="max_length", max_length=30, padding_side="left"),
               dict(pad_to_multiple_of=8, return_tensors="np"), dict(return_attention_mask=False), dict(padding=False)]:
        same(features, **kw)
    same(ours(TEXTS, PAIRS, return_token_type_ids=True), return_tensors="pt")
    same(ours(TEXTS[0]), padding="max_length", max_length=20)
    same([{"input_ids": torch.tensor(f["input_ids"])} for f in features])
    same([{"input_ids": f["input_ids"]} for f in features], return_tensors="pt")
    with pytest.raises(ValueError, match="input_ids"):
        ours.pad([{"ids": [1]}])
    with pytest.raises(ValueError, match="padding_side"):
        ours.pad(features, padding_side="middle")
    with pytest.raises(ValueError, match="word_ids"):
        ours.pad(features).word_ids()
    # padding="max_length" without max_length: model_max_length, in __call__ and pad alike
    ours.model_max_length = hf.model_max_length = 16
    try:
        same(features, padding="max_length")
        assert_same_call(ours, hf, TEXTS[:2], padding="max_length")
    finally:
        ours.model_max_length, hf.model_max_length = int(1e12), int(1e30)
    # (without either: no padding, test_padding_to_max_length_without_one_pads_nothing)


@pytest.mark.parametrize("family", FAMILIES)
def test_batch_encoding_is_fast_encodings_and_convert_to_tensors(pairs_of_tokenizers, family):
    """transformers' BatchEncoding.is_fast / encodings / convert_to_tensors: True for __call__'s output and False
    (encodings None) for pad()'s; convert_to_tensors gives the same tensors, in place; encodings of a __call__ output
    (tokenizers' Encoding objects, which we have not) is a clear AttributeError."""
    ours, hf = pairs_of_tokenizers[family]
    texts = ["Hello world, it's naive!", "a b"]
    for kind in ("pt", "np"):
        mine, theirs = ours(texts, padding=True), hf(texts, padding=True)
        assert mine.is_fast == theirs.is_fast
        got = mine.convert_to_tensors(kind)
        assert got is mine and type(got["input_ids"]) is type(theirs.convert_to_tensors(kind)["input_ids"])
        assert outcome(lambda: mine) == outcome(lambda: theirs)
        one, hf_one = ours(texts[0]), hf(texts[0])
        assert outcome(lambda: one.convert_to_tensors(kind, prepend_batch_axis=True)) == \
            outcome(lambda: hf_one.convert_to_tensors(kind, prepend_batch_axis=True))
    padded, hf_padded = ours.pad(ours(texts)), hf.pad(hf(texts))
    assert (padded.is_fast, padded.encodings) == (hf_padded.is_fast, hf_padded.encodings) == (False, None)
    with pytest.raises(AttributeError, match="word_ids"):
        ours(texts).encodings
    with pytest.raises(ValueError, match="rows of different lengths"):
        ours(texts).convert_to_tensors("pt")  # (transformers: ValueError too)


@pytest.mark.parametrize("kind", ["np", "pt"])
def test_pad_without_padding_to_tensors_is_a_clear_error(pairs_of_tokenizers, kind):
    """pad(rows of different lengths, padding=False, return_tensors=...): a ValueError naming the key, not numpy's
    or torch's own message (transformers: its ValueError for "pt"; for "np" it returns arrays of dtype object)."""
    ours, _ = pairs_of_tokenizers["bert"]
    with pytest.raises(ValueError, match="input_ids: rows of different lengths"):
        ours.pad(ours(["hello world", "a"]), padding=False, return_tensors=kind)
    same = ours.pad(ours(["hello world", "a b"]), padding=False, return_tensors=kind)
    assert same["input_ids"].shape == (2, 4)


def test_padding_to_max_length_without_one_pads_nothing(pairs_of_tokenizers):
    """padding="max_length" with no max_length on a tokenizer built from files (no max_len): transformers warns and
    does not pad, in __call__ and in pad(); so do we."""
    ours, hf = pairs_of_tokenizers["bert"]
    texts = ["hello world", "x"]
    got = ours(texts, padding="max_length")
    assert dict(got) == dict(hf(texts, padding="max_length"))
    assert [len(ids) for ids in got["input_ids"]] == [4, 3]
    assert dict(ours.pad(ours(texts), padding="max_length")) == dict(hf.pad(hf(texts), padding="max_length"))


@pytest.mark.parametrize("family", ["bert", "distilbert"])  # (BPE: spaces around added tokens differ, as with str)
def test_added_token_objects(pairs_of_tokenizers, family):
    """transformers' AddedToken (tokenizers.AddedToken) in add_tokens / add_special_tokens: its content is the token,
    and special=True (or add_tokens(..., special_tokens=True)) makes batch_decode(skip_special_tokens=True) leave it
    out, as in transformers; ids as transformers' for the same calls."""
    import copy
    ours, hf = (copy.deepcopy(t) for t in pairs_of_tokenizers[family])
    AddedToken = transformers.AddedToken
    for tok in (ours, hf):
        tok.add_tokens([AddedToken("foo_bar", special=True), "plainx"])
        tok.add_tokens(AddedToken("zzq_solo"), special_tokens=True)
        tok.add_special_tokens({"additional_special_tokens": [AddedToken("<x>")]})
    text = "x foo_bar plainx zzq_solo <x> y"
    mine, theirs = ours([text])["input_ids"], hf([text])["input_ids"]
    assert mine == theirs
    assert ours.batch_decode(mine, skip_special_tokens=True) == hf.batch_decode(theirs, skip_special_tokens=True)
    assert "<x>" in ours.all_special_tokens
    with pytest.raises(TypeError, match="AddedToken"):
        ours.add_tokens([3])


def test_transformers_2_to_4_pad_to_max_length_and_truncation_strategy():
    """The options of 2020-era scripts (`encode_plus(text, max_length=n, pad_to_max_length=True)`), read as
    transformers 4 read them, with its FutureWarning: max_length alone truncates longest_first, pad_to_max_length
    pads to max_length where given and else to the longest row, truncation_strategy counts without max_length."""
    tok = BertTokenizer(bert_uncased_vocab())
    texts = ["a rather longer sentence than the other one", "short one"]
    with pytest.warns(FutureWarning, match="pad_to_max_length"):
        got = tok.batch_encode_plus(texts, max_length=8, pad_to_max_length=True)
    assert got["input_ids"] == tok(texts, max_length=8, padding="max_length", truncation=True)["input_ids"]
    assert len({len(row) for row in got["input_ids"]}) == 1 and len(got["input_ids"][0]) == 8
    with pytest.warns(FutureWarning):
        got = tok.encode_plus(texts[1], max_length=8, pad_to_max_length=True, return_tensors="pt")
    assert got["input_ids"].tolist() == tok(texts[1], max_length=8, padding="max_length",
                                            return_tensors="pt")["input_ids"].tolist()
    with pytest.warns(FutureWarning):
        assert tok(texts, pad_to_max_length=True)["input_ids"] == tok(texts, padding=True)["input_ids"]
    with pytest.warns(FutureWarning):
        assert tok.encode(texts[0], max_length=6, pad_to_max_length=True) == tok.encode(texts[0], max_length=6,
                                                                                          truncation=True)
    tok.max_len = 9  # truncation_strategy without max_length: to the model's length
    with pytest.warns(FutureWarning, match="truncation_strategy"):
        got = tok(texts[0], texts[1], truncation_strategy="only_first")
    assert got["input_ids"] == tok(texts[0], texts[1], truncation="only_first", max_length=9)["input_ids"]
    assert tok(texts[0], texts[1], max_length=9, truncation_strategy="only_second")["input_ids"] == \
        tok(texts[0], texts[1], max_length=9, truncation="longest_first")["input_ids"]  # (max_length decided)


@pytest.mark.parametrize("family", FAMILIES)
def test_ids_as_tensors_arrays_and_one_id(pairs_of_tokenizers, family):
    """convert_ids_to_tokens of a tensor or numpy array (e.g. batch["input_ids"][0]) gives the tokens, as in
    transformers (1.2.0 looked the elements up as dictionary keys: [UNK] or None for each); decode of one id gives its
    token's text, as in transformers (1.2.0 spelled the token out letter by letter); batch_decode of a 2-d tensor."""
    import numpy as np

    ours, theirs = pairs_of_tokenizers[family]
    ids = theirs(TEXTS[0])["input_ids"]
    for given in (torch.tensor(ids), np.array(ids), np.array(ids, dtype=np.int32)):
        assert ours.convert_ids_to_tokens(given) == theirs.convert_ids_to_tokens(ids)
    word = ids[2]
    assert ours.convert_ids_to_tokens(torch.tensor(word)) == theirs.convert_ids_to_tokens(word)
    for given in (word, torch.tensor(word), np.int64(word)):
        assert ours.decode(given) == theirs.decode(word)
    assert ours.batch_decode(torch.tensor([ids, ids])) == theirs.batch_decode([ids, ids])
    # one special or added id (1.2.0's decode split at sep_token, and put a space before an added token)
    ours, theirs = pickle.loads(pickle.dumps(ours)), pickle.loads(pickle.dumps(theirs))
    ours.add_tokens(["addedtokenx"]), theirs.add_tokens(["addedtokenx"])
    for token in theirs.all_special_tokens + ["addedtokenx"]:
        one = theirs.convert_tokens_to_ids(token)
        for kw in (dict(), dict(skip_special_tokens=True)):
            assert ours.decode(one, **kw) == ours.decode(torch.tensor(one), **kw) == theirs.decode(one, **kw), token
    # a flat list or 1-d tensor is one sequence to transformers 5's batch_decode; its Python tokenizers' option
    for given in (ids, torch.tensor(ids)):
        assert ours.batch_decode(given) == theirs.batch_decode(given)
    kw = dict(skip_special_tokens=True, spaces_between_special_tokens=False)
    assert ours.batch_decode([ids], **kw) == theirs.batch_decode([ids], **kw)
    assert ours.decode(ids, **kw) == ours.decode(ids, skip_special_tokens=True)  # (decode of a sequence: 1.2.0's)


@pytest.mark.parametrize("family", FAMILIES)
def test_text_target(pairs_of_tokenizers, family):
    """transformers' __call__(text_target=...): the targets' input_ids as labels beside the texts', or alone the
    targets' encoding."""
    ours, hf = pairs_of_tokenizers[family]
    for kw in [dict(text_target=TEXTS[0]), dict(text=TEXTS[1], text_target=TEXTS[0]),
               dict(text=TEXTS, text_target=PAIRS, padding=True, return_tensors="pt"),
               dict(text=TEXTS[1], text_target=TEXTS[0], text_pair_target=PAIRS[0], max_length=6, truncation=True)]:
        assert_same_call(ours, hf, **kw)
    with pytest.raises(ValueError, match="text_target"):
        ours()
