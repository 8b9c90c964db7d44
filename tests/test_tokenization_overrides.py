"""A tokenizer subclass, a patched class or instance that replaces one of 1.2.0's tokenization methods or helpers
(_tokenize, tokenize, bpe, _convert_token_to_id, convert_tokens_to_ids, BERT's basic_tokenizer / wordpiece_tokenizer,
XLM's Moses steps, the special-token layout) gets what 1.2.0 gives it: the C++ core steps aside for the Python path,
which calls the replacement."""
import pytest

from tokenizer_corpus import bert_uncased_vocab, gpt2_files

pt = pytest.importorskip("pytorch_transformers")
import transformers_fast as tf  # noqa: E402
from test_tokenization_others import openai_files, spm_model, xlm_files  # noqa: E402,F401  (fixtures)

TEXTS = ["Hello, world! running", "Ünïcödé àccents, CAPS and 12345.", "x"]


def files_of(family, request):
    if family in ("Bert", "DistilBert"):
        return (bert_uncased_vocab(),)
    if family == "GPT2":
        return gpt2_files()
    if family == "Roberta":
        return request.getfixturevalue("roberta_files")
    if family == "OpenAIGPT":
        return request.getfixturevalue("openai_files")
    return request.getfixturevalue("xlm_files")


def both(family, request, body):
    """(ours, 1.2.0's) tokenizer of a subclass with `body`, on the same files."""
    files = files_of(family, request)
    return [type("My" + family, (getattr(lib, family + "Tokenizer"),), dict(body))(*files) for lib in (tf, pt)]


def assert_same(ours, ref):
    for text in TEXTS:
        assert ours.tokenize(text) == ref.tokenize(text), text
        assert ours.encode(text) == ref.encode(text), text
        expected = ref.encode(text, add_special_tokens=True)
        assert ours.encode(text, add_special_tokens=True) == expected, text
        assert ours([text])["input_ids"] == [expected], text
        assert ours([text], return_tensors="pt")["input_ids"].tolist() == [expected], text
    assert ours.encode(TEXTS[0], TEXTS[1], add_special_tokens=True) == \
        ref.encode(TEXTS[0], TEXTS[1], add_special_tokens=True)


WORD_END_BPE_BY_LETTER = {"bpe": lambda self, token: " ".join(token[:-1]) + " " + token[-1] + "</w>"}
HOOKS = [
    ("Bert", {"_tokenize": lambda self, text: text.lower().split()}),
    ("Bert", {"tokenize": lambda self, text, **kwargs: text.lower().split()}),
    ("Bert", {"_convert_token_to_id": lambda self, token: len(token)}),
    ("Bert", {"convert_tokens_to_ids": lambda self, tokens: len(tokens) if isinstance(tokens, str)
              else [len(t) for t in tokens]}),
    ("DistilBert", {"_tokenize": lambda self, text: text.split()}),
    ("GPT2", {"bpe": lambda self, token: " ".join(token)}),
    ("GPT2", {"_convert_token_to_id": lambda self, token: self.encoder.get(token, 7) + 1}),
    ("Roberta", {"_tokenize": lambda self, text: [self.byte_encoder[b] for b in text.encode("utf-8")]}),
    ("OpenAIGPT", {"_tokenize": lambda self, text: [text.lower()]}),
    ("OpenAIGPT", WORD_END_BPE_BY_LETTER),
    ("XLM", WORD_END_BPE_BY_LETTER),
    ("XLM", {"moses_pipeline": lambda self, text, lang: text.upper()}),
]


@pytest.mark.parametrize("family,body", HOOKS, ids=[f"{f}-{next(iter(b))}" for f, b in HOOKS])
def test_a_subclass_replacing_a_hook_gets_1_2_0s_ids(family, body, request):
    assert_same(*both(family, request, body))


def test_hooks_replaced_on_the_instance_or_the_class(request, monkeypatch):
    ours, ref = both("Bert", request, {})
    for tok in (ours, ref):
        tok._tokenize = lambda text: text.split()
    assert_same(ours, ref)
    ours, ref = both("Bert", request, {})
    for tok in (ours, ref):
        tok.basic_tokenizer.tokenize = lambda text, never_split=None: text.split()
    assert_same(ours, ref)
    ours, ref = both("GPT2", request, {})
    assert ours.encode(TEXTS[0]) == ref.encode(TEXTS[0])  # (the core served once: a later patch of the class counts)
    for cls in (type(ours), type(ref)):
        monkeypatch.setattr(cls, "bpe", lambda self, token: " ".join(token), raising=False)
    assert_same(ours, ref)


class WhitespaceWords:
    """A word splitter of another library in front of WordPiece (1.2.0 calls whatever basic_tokenizer is)."""
    def tokenize(self, text, never_split=None):
        return text.lower().split()


class WholeWords:
    def tokenize(self, text):
        return [text]


@pytest.mark.parametrize("name,helper", [("basic_tokenizer", WhitespaceWords), ("wordpiece_tokenizer", WholeWords)])
def test_bert_helpers_of_other_classes_are_called(name, helper, request):
    ours, ref = both("Bert", request, {})
    for tok in (ours, ref):
        setattr(tok, name, helper())
    assert_same(ours, ref)


def without_final_sep(self, token_ids_0, token_ids_1):
    return [self.cls_token_id] + token_ids_0 + [self.sep_token_id] + token_ids_1


@pytest.mark.parametrize("family", ["Bert", "Roberta", "XLNet"])
def test_token_types_follow_a_replaced_pair_layout(family, request):
    """1.2.0 has no token types: a subclass replacing its layout method gets types as long as its ids (0 up to the
    second text, 1 from there; RoBERTa all 0)."""
    files = (request.getfixturevalue("spm_model"),) if family == "XLNet" else files_of(family, request)
    ours = type("My", (getattr(tf, family + "Tokenizer"),),
                {"add_special_tokens_sentences_pair": without_final_sep})(*files)
    enc = ours("hello", "world there", return_token_type_ids=True)
    assert enc["input_ids"] == without_final_sep(ours, ours.encode("hello"), ours.encode("world there"))
    n_first = len(ours.encode("hello")) + 2
    second = 0 if family == "Roberta" else 1
    assert enc["token_type_ids"] == [0] * n_first + [second] * (len(enc["input_ids"]) - n_first)
    batch = ours(["hello", "hi"], ["world there", "x"], padding=True, return_tensors="pt", return_token_type_ids=True)
    assert batch["token_type_ids"].shape == batch["input_ids"].shape
    assert ours.create_token_type_ids_from_sequences([5], [6, 7]) == [0, 0, 0, second, second]


def test_basic_tokenizer_steps_of_1_2_0_for_subclasses(request):
    """1.2.0's BasicTokenizer steps (_clean_text, _run_strip_accents, ...) exist one by one, with its results, so
    that a subclass calling them, given to a BertTokenizer, runs as in 1.2.0."""
    from tokenizer_corpus import random_corpus

    theirs, ours = pt.tokenization_bert.BasicTokenizer(), tf.tokenization_bert.BasicTokenizer()
    texts = random_corpus(3, 200, surrogates=False) + ["héllo, wörld! 中文 \x00\ufffd\t x", "a.b,c", ""]
    for text in texts:
        for name in ("_run_strip_accents", "_tokenize_chinese_chars", "_clean_text", "_run_split_on_punc"):
            assert getattr(ours, name)(text) == getattr(theirs, name)(text), (name, text)
        assert [ours._is_chinese_char(ord(c)) for c in text] == [theirs._is_chinese_char(ord(c)) for c in text]
    assert ours._run_split_on_punc("a,b", never_split=["a,b"]) == ["a,b"]

    def accents_kept(lib):
        class AccentsKept(lib.tokenization_bert.BasicTokenizer):
            def tokenize(self, text, never_split=None):
                text = self._tokenize_chinese_chars(self._clean_text(text))
                return [w for token in text.lower().split() for w in self._run_split_on_punc(token)]
        return AccentsKept()

    ours_tok, ref_tok = both("Bert", request, {})
    ours_tok.basic_tokenizer, ref_tok.basic_tokenizer = accents_kept(tf), accents_kept(pt)
    assert_same(ours_tok, ref_tok)
