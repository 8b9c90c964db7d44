"""truncation_side, BatchEncoding's alignment methods (char_to_token, token_to_chars, word_to_tokens, ...), verbose
and batch_decode against transformers' own tokenizers for the same vocabularies, every family transformers has a
fast tokenizer of (decode against pytorch-transformers 1.2.0's); and the clear error where a family's encodings
cannot know words or characters."""
import logging
import os

import pytest

from tokenizer_corpus import bert_uncased_vocab, gpt2_files

transformers = pytest.importorskip("transformers")
from transformers_fast import (BertTokenizer, OpenAIGPTTokenizer, TransfoXLTokenizer, XLMTokenizer,  # noqa: E402
                               XLNetTokenizer)
from test_tokenization_others import openai_files, spm_model, transfo_vocab, xlm_files  # noqa: E402,F401
from test_tokenization_transformers_api import PAIRS, TEXTS, outcome, pairs_of_tokenizers  # noqa: E402,F401

# accents, CJK, punctuation, runs of spaces (none leading or trailing: see test_tokenization_transformers_api)
ALIGN_TEXTS = ["Héllo  wörld,   naïve café!", "中文文本：你好，世界！ and 日本語", "don't stop -- believing!  ok?",
               "numbers 12345 and 3.14   here", "a"]
ALIGN_PAIRS = ["the pair,  with spaces", "résumé 中", "x", "Ångström  façade!!", "b c d e f g"]


@pytest.fixture(scope="module")
def tokenizers(pairs_of_tokenizers, openai_files, spm_model, xlm_files):  # noqa: F811
    """family -> (ours, transformers'), the same vocabulary (test_tokenization_transformers_api's and three more).
    transformers' XLM tokenizer is a slow one (other truncation errors, no words or characters): see
    test_truncation_side_xlm."""
    return dict(pairs_of_tokenizers,
                openai=(OpenAIGPTTokenizer(*openai_files), transformers.OpenAIGPTTokenizer(*openai_files)),
                xlnet=(XLNetTokenizer(spm_model), transformers.XLNetTokenizer.from_pretrained(os.path.dirname(spm_model))),
                xlm=(XLMTokenizer(*xlm_files), transformers.XLMTokenizer(*xlm_files)))


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
    checked = 0
    for args in [(TEXTS,), (TEXTS, PAIRS), (ALIGN_TEXTS[0],), (ALIGN_TEXTS, ALIGN_PAIRS)]:
        for truncation in ([True, "only_first", "only_second"] if len(args) == 2 else [True, "only_first"]):
            for max_length in (4, 9, 14):
                for kw in [dict(), dict(padding=True, return_tensors="pt"),
                           dict(return_overflowing_tokens=True, stride=1, return_special_tokens_mask=True),
                           dict(padding="max_length", return_offsets_mapping=True)]:
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


def answer(fn, *args, **kw):
    """fn's result, or that it raised (transformers raises TypeError, OverflowError, AttributeError where we raise
    clear errors)."""
    try:
        return fn(*args, **kw)
    except Exception:
        return "raised"


def alignment(enc, rows, chars=True):
    """Every alignment method on every row, token, word and character (a few past the end, and negative ones), for
    sequence indices 0, 1 and 2; with the batch index omitted too where there is one row."""
    n_chars = max(len(t) for t in ALIGN_TEXTS + ALIGN_PAIRS) + 2
    out = []
    for b in range(rows):
        n = len(enc.tokens(b))
        n_words = max([w for w in enc.word_ids(b) if w is not None], default=0) + 2
        short = rows == 1
        for t in range(-1, n + 2):
            methods = [enc.token_to_sequence, enc.token_to_word] + [enc.token_to_chars] * chars
            out += [(m.__name__, b, t, answer(m, b, t), answer(m, t) if short else None) for m in methods]
        for s in (0, 1, 2):
            for w in range(-1, n_words):
                methods = [enc.word_to_tokens] + [enc.word_to_chars] * chars
                out += [(m.__name__, b, w, s, answer(m, b, w, s), answer(m, w, sequence_index=s) if short else None)
                        for m in methods]
            if chars:
                for c in range(-1, n_chars):
                    out += [(m.__name__, b, c, s, answer(m, b, c, s), answer(m, c, sequence_index=s) if short else None)
                            for m in (enc.char_to_token, enc.char_to_word)]
    return out


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("side", ["right", "left"])
def test_alignment_methods(sides, family, side):
    """char_to_token, token_to_chars, token_to_word, word_to_tokens, word_to_chars, char_to_word, token_to_sequence
    and n_sequences as transformers' fast tokenizers: texts and pairs, padding on either side, truncation on either
    side, overflow rows, the list and the C++ tensor paths."""
    ours, hf = sides(family, side)
    for args in [(ALIGN_TEXTS,), (ALIGN_TEXTS, ALIGN_PAIRS), (ALIGN_TEXTS[0],), (ALIGN_TEXTS[1], ALIGN_PAIRS[1])]:
        for kw in [dict(), dict(padding=True, padding_side="left", return_tensors="pt"),
                   dict(truncation=True, max_length=10),
                   dict(truncation=True, max_length=14, return_overflowing_tokens=True, stride=1, padding=True)]:
            if ours.pad_token is None and "padding" in kw:
                continue
            enc, ref = ours(*args, **kw), hf(*args, **kw)
            rows = rows_of(args, kw, enc)
            assert enc.n_sequences == ref.n_sequences and rows == rows_of(args, kw, ref)
            assert alignment(enc, rows) == alignment(ref, rows), (args, kw)
    words, pair_words = [t.split() for t in ALIGN_TEXTS], [t.split() for t in ALIGN_PAIRS]
    for args in [(words,), (words, pair_words)]:  # words given split: characters count within each word
        enc, ref = ours(*args, is_split_into_words=True), hf(*args, is_split_into_words=True)
        assert alignment(enc, len(words)) == alignment(ref, len(words)), args
    enc, ref = ours(ALIGN_TEXTS[0]), hf(ALIGN_TEXTS[0])
    assert type(enc.token_to_chars(1)).__name__ == "CharSpan" and enc.token_to_chars(1)._fields == ("start", "end")
    assert enc.word_to_tokens(0)._fields == ref.word_to_tokens(0)._fields == ("start", "end")


def test_alignment_errors(tokenizers, xlm_files):  # noqa: F811
    """Where the information cannot exist: a BatchEncoding pickled or made by pad(), a tokenizer that tells no words
    or computes no offsets (transformers' slow tokenizers raise a ValueError for every alignment method)."""
    import pickle

    ours, hf = tokenizers["bert"]
    enc = ours(ALIGN_TEXTS[:2], padding=True)
    assert enc.char_to_token(1, 0) == hf(ALIGN_TEXTS[:2], padding=True).char_to_token(1, 0)
    for made in [pickle.loads(pickle.dumps(enc)), ours.pad([ours(t) for t in ALIGN_TEXTS[:2]])]:
        for method in ("char_to_token", "token_to_chars", "token_to_word", "word_to_tokens", "word_to_chars",
                       "char_to_word", "token_to_sequence"):
            with pytest.raises(ValueError, match="alignment methods"):
                getattr(made, method)(0)
    xlm = XLMTokenizer(*xlm_files)("hello world")
    assert xlm.token_to_word(1) == 0 and xlm.word_to_tokens(0) == (1, 2)  # XLM's words ("</w>" ends one)
    for method in ("token_to_chars", "char_to_token", "char_to_word", "word_to_chars"):  # each names itself
        with pytest.raises(NotImplementedError, match=f"^{method}\\(\\) needs character offsets"):
            getattr(xlm, method)(1)
    with pytest.raises(IndexError, match="must be >= 0"):
        enc.char_to_token(0, -1)


class Logged(logging.Handler):
    """The warnings and errors a logger (and its children) emits, as (level, message)."""

    def __init__(self, name):
        super().__init__(logging.WARNING)
        self.records, self.logger = [], logging.getLogger(name)

    def emit(self, record):
        self.records.append((record.levelname, record.getMessage()))

    def __enter__(self):
        # other tests quieten these loggers (transformers' set_verbosity_error): warnings must reach the handler
        self.logger_level = self.logger.level
        self.logger.setLevel(logging.WARNING)  # (setLevel: clears the loggers' cached levels)
        self.logger.addHandler(self)
        return self.records

    def __exit__(self, *exc):
        self.logger.removeHandler(self)
        self.logger.setLevel(self.logger_level)


@pytest.mark.parametrize("family", FAMILIES)
def test_verbose(tokenizers, family):
    """verbose=True: transformers' warning about a row longer than model_max_length, once per tokenizer (and none of
    1.2.0's warnings about one text, such as OpenAI GPT's "does not make use of special tokens"); verbose=False:
    nothing."""
    ours, hf = tokenizers[family]
    pad = hf.pad_token is not None  # (ours logs 1.2.0's error when asked for a pad token it lacks)
    calls = [lambda tok, v: tok(ALIGN_TEXTS[0], verbose=v), lambda tok, v: tok(ALIGN_TEXTS, ALIGN_PAIRS, verbose=v),
             lambda tok, v: tok(ALIGN_TEXTS[:2], verbose=v, padding=pad),
             lambda tok, v: tok(ALIGN_TEXTS[2], verbose=v, max_length=6, truncation=True),
             lambda tok, v: tok.encode(ALIGN_TEXTS[2], verbose=v, return_tensors="pt"),
             lambda tok, v: tok(ALIGN_TEXTS, verbose=v, return_offsets_mapping=family != "xlnet").word_ids(1),
             # a max_length shorter than the special tokens: we log an error there, transformers does not
             lambda tok, v: v or tok(ALIGN_TEXTS[2], ALIGN_PAIRS[2], verbose=v, max_length=1, truncation=True)]
    logged = []
    for verbose in (False, True, True):
        for model_max_length in (1000, 8):
            for tok in (ours, hf):
                tok.model_max_length = model_max_length
                if tok is hf:
                    hf.deprecation_warnings.clear()
                else:
                    ours.__dict__.pop("_warned_too_long", None)
                name = "transformers" if tok is hf else "transformers_fast"
                with Logged(name) as records:
                    for call in calls:
                        call(tok, verbose)
                logged.append(records)
    ours.model_max_length, hf.model_max_length = int(1e12), int(1e30)
    assert logged[0::2] == logged[1::2] and any(logged)


DECODE_TEXTS = ALIGN_TEXTS + ["I'm here , aren't you ? yes !", "do not go . it 's 've ' x", "don ' t"]


@pytest.mark.parametrize("family", FAMILIES + ["xlm", "transfo_xl"])
def test_decode_and_batch_decode(tokenizers, roberta_files, openai_files, spm_model, xlm_files,  # noqa: F811
                                 transfo_vocab, family):  # noqa: F811
    """decode stays pytorch-transformers 1.2.0's (its reference: split at sep_token, its clean-up); batch_decode is
    transformers' decode (its clean-up rules, skipped for the families whose fast tokenizer is a BPE model), for
    every skip_special_tokens / clean_up_tokenization_spaces, on ids with special tokens, of texts and pairs."""
    import pytorch_transformers as ref

    old = {"bert": lambda: ref.BertTokenizer(bert_uncased_vocab()),
           "distilbert": lambda: ref.DistilBertTokenizer(bert_uncased_vocab()),
           "gpt2": lambda: ref.GPT2Tokenizer(*gpt2_files()), "roberta": lambda: ref.RobertaTokenizer(*roberta_files),
           "openai": lambda: ref.OpenAIGPTTokenizer(*openai_files), "xlnet": lambda: ref.XLNetTokenizer(spm_model),
           "xlm": lambda: ref.XLMTokenizer(*xlm_files),
           "transfo_xl": lambda: ref.TransfoXLTokenizer(vocab_file=transfo_vocab)}[family]()
    ours, hf = tokenizers.get(family, (TransfoXLTokenizer(vocab_file=transfo_vocab), None))
    batch = [ours.encode(t, p, add_special_tokens=True) for t, p in zip(DECODE_TEXTS, DECODE_TEXTS[::-1])] + \
        [ours.encode(t, add_special_tokens=True) for t in DECODE_TEXTS]
    flags = [dict(skip_special_tokens=skip, clean_up_tokenization_spaces=clean) for skip in (False, True)
             for clean in (False, True)]
    for kw in flags:
        for ids in batch:
            assert ours.decode(ids, **kw) == old.decode(ids, **kw), (ids, kw)
            if hf is not None:
                assert ours.batch_decode([ids], **kw) == [hf.decode(ids, **kw)], (ids, kw)
        if hf is not None:
            assert ours.batch_decode(batch, **kw) == hf.batch_decode(batch, **kw), kw


@pytest.mark.parametrize("family", [f for f in FAMILIES if f != "xlnet"])
@pytest.mark.parametrize("side", ["right", "left"])
def test_question_answering_preprocessing(sides, family, side):
    """The features of transformers' question-answering examples: question and context, only_second truncation
    with stride and overflow, offsets, an answer's characters to tokens per window (None where it is cut off)."""
    ours, hf = sides(family, side)
    questions = ["what is naïve?", "where  is 中文?", "who?"]
    contexts = [ALIGN_TEXTS[0] + " " + ALIGN_PAIRS[3], ALIGN_TEXTS[1] + " " + ALIGN_TEXTS[2], ALIGN_TEXTS[3]]
    answers = ["café", "日本語", "3.14"]
    padding = "max_length" if hf.pad_token is not None else False  # (OpenAI GPT has no pad token)

    def features(tok):
        enc = tok(questions, contexts, truncation="only_second", max_length=18, stride=4,
                  return_overflowing_tokens=True, return_offsets_mapping=True, padding=padding)
        out = [enc["offset_mapping"], enc["overflow_to_sample_mapping"]]
        for i, sample in enumerate(enc["overflow_to_sample_mapping"]):
            start = contexts[sample].index(answers[sample])
            end = start + len(answers[sample])
            first, last = enc.char_to_token(i, start, 1), enc.char_to_token(i, end - 1, 1)
            out.append((enc.sequence_ids(i), first, last, enc.char_to_word(i, start, 1),
                        first is not None and enc.token_to_chars(i, first),
                        last is not None and enc.word_to_chars(i, enc.token_to_word(i, last), 1)))
        return out

    ours_features = features(ours)
    assert ours_features == features(hf) and len(ours_features) > 5
