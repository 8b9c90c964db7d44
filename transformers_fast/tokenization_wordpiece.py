"""The WordPiece tokenizers of BERT and DistilBERT (pytorch-transformers 1.2.0 behaviour) on the C++ BasicTokenizer
+ WordPiece core, and the BasicTokenizer that OpenAI GPT uses too."""
from __future__ import annotations

import collections
import logging
import os
import unicodedata

from transformers_fast.tokenization_utils import (_CHINESE_CHARS, _CLEAN_TEXT, _LOWER_CASE, _STRIP_ACCENTS,
                                                  ClsSepSpecialTokensMixin, PreTrainedTokenizer, TrackedOrderedDict,
                                                  _check_text, _core_lib, state_changed, tracked_key)

logger = logging.getLogger(__name__)

VOCAB_FILES_NAMES = {"vocab_file": "vocab.txt"}


def read_vocab_lines(vocab_file):
    """The vocabulary file's lines, as 1.2.0 reads them (a token per line, ids in order)."""
    with open(vocab_file, "r", encoding="utf-8") as reader:
        return [token.rstrip("\n") for token in reader.readlines()]


def load_vocab(vocab_file):
    """The token -> id OrderedDict of a vocabulary file (1.2.0's load_vocab; a repeated token keeps its last id)."""
    return vocab_of_lines(read_vocab_lines(vocab_file))


def vocab_of_lines(lines):
    return TrackedOrderedDict((token, index) for index, token in enumerate(lines))


def wordpiece_model(vocab, lines, lines_key, *options, strip_accents=None):
    """The C++ WordPieceModel of `vocab`: from the file's lines while the dict is as read from them, else from
    the dict's entries (edited in Python, e.g. a [unusedN] entry renamed)."""
    if lines is not None and tracked_key(vocab) == lines_key:
        return _core_lib().WordPieceModel(lines, *options, strip_accents=strip_accents)
    return _core_lib().WordPieceModel(list(vocab.keys()), *options, ids=list(vocab.values()),
                                      strip_accents=strip_accents)


def _strip_accents_option(value):
    """transformers' strip_accents: None (as do_lower_case, 1.2.0's only behaviour) or a bool."""
    return None if value is None else bool(value)


def whitespace_tokenize(text):
    text = text.strip()
    if not text:
        return []
    return text.split()


class BasicWordPieceTokenizer(ClsSepSpecialTokensMixin, PreTrainedTokenizer):
    """Basic tokenization (cleaning, CJK, lower case + accents, punctuation) + WordPiece: BertTokenizer and
    DistilBertTokenizer."""

    vocab_files_names = VOCAB_FILES_NAMES

    def __init__(self, vocab_file, do_lower_case=True, do_basic_tokenize=True, never_split=None,
                 unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]", cls_token="[CLS]",
                 mask_token="[MASK]", tokenize_chinese_chars=True, strip_accents=None, **kwargs):
        super().__init__(unk_token=unk_token, sep_token=sep_token, pad_token=pad_token, cls_token=cls_token,
                         mask_token=mask_token, **kwargs)
        self.max_len_single_sentence = self.max_len - 2
        self.max_len_sentences_pair = self.max_len - 3
        if vocab_file is None or not os.path.isfile(vocab_file):
            raise ValueError(
                f"Can't find a vocabulary file at path '{vocab_file}'. To load the vocabulary from a Google "
                "pretrained model use `tokenizer = BertTokenizer.from_pretrained(PRETRAINED_MODEL_NAME)`")
        lines = read_vocab_lines(vocab_file)
        self.vocab = vocab_of_lines(lines)
        self.ids_to_tokens = collections.OrderedDict((ids, tok) for tok, ids in self.vocab.items())
        self.do_basic_tokenize = do_basic_tokenize
        if do_basic_tokenize:
            self.basic_tokenizer = BasicTokenizer(do_lower_case=do_lower_case, never_split=never_split,
                                                  tokenize_chinese_chars=tokenize_chinese_chars,
                                                  strip_accents=strip_accents)
        self._vocab_lines = lines
        self._vocab_lines_key = tracked_key(self.vocab)
        self.wordpiece_tokenizer = WordpieceTokenizer(vocab=self.vocab, unk_token=self.unk_token)
        self._build_core()

    @classmethod
    def _files_from_tokenizer_json(cls, spec, folder):
        """vocab.txt (tokens in id order) and the BertNormalizer's options from a transformers 5 tokenizer.json."""
        model = spec["model"]
        if (model.get("type") != "WordPiece" or model.get("continuing_subword_prefix", "##") != "##"
                or model.get("max_input_chars_per_word", 100) != 100):
            raise ValueError(f"{cls.__name__}: tokenizer.json holds a {model.get('type')} model with other options "
                             "than BERT's WordPiece (continuing_subword_prefix '##', max_input_chars_per_word 100)")
        vocab = model.get("vocab")
        if not isinstance(vocab, dict) or sorted(vocab.values()) != list(range(len(vocab))):
            raise ValueError("tokenizer.json: the WordPiece vocabulary's ids are not 0 .. size - 1")
        tokens = sorted(vocab, key=vocab.get)
        if any("\n" in t or "\r" in t for t in tokens):
            raise ValueError("tokenizer.json: a WordPiece token holds a line break, which vocab.txt cannot")
        path = os.path.join(folder, VOCAB_FILES_NAMES["vocab_file"])
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(t + "\n" for t in tokens)
        options = {"unk_token": model["unk_token"]} if isinstance(model.get("unk_token"), str) else {}
        normalizer = spec.get("normalizer") or {}
        if normalizer.get("type") == "BertNormalizer":
            options.update(do_lower_case=bool(normalizer.get("lowercase", True)),
                           strip_accents=normalizer.get("strip_accents"),
                           tokenize_chinese_chars=bool(normalizer.get("handle_chinese_chars", True)))
        return {"vocab_file": path}, options

    def _core_model_key(self):
        # 1.2.0 reads these on every call: users flip basic_tokenizer.do_lower_case or edit vocab afterwards
        # (helpers of other classes: _hooks_replaced sends the work to them, their settings are read as defaults)
        basic = self.basic_tokenizer if self.do_basic_tokenize else None
        wordpiece = self.wordpiece_tokenizer
        return (bool(self.do_basic_tokenize), bool(basic and getattr(basic, "do_lower_case", True)),
                bool(basic and getattr(basic, "tokenize_chinese_chars", True)),
                getattr(wordpiece, "max_input_chars_per_word", 100),
                _strip_accents_option(getattr(basic, "strip_accents", None)) if basic else None,
                tracked_key(self.vocab), getattr(wordpiece, "vocab", None) is self.vocab)

    def _core_helpers(self):
        return {"basic_tokenizer": BasicTokenizer, "wordpiece_tokenizer": WordpieceTokenizer}

    def _added_token_normalization(self):
        """transformers' BertNormalizer: the text cleaned, lower case with do_lower_case, accents stripped as
        strip_accents says (None: with lower case), Chinese characters spaced with tokenize_chinese_chars."""
        key = self._core_model_key()
        strip = key[1] if key[4] is None else key[4]
        return _LOWER_CASE * key[1] | _STRIP_ACCENTS * bool(strip) | _CLEAN_TEXT | _CHINESE_CHARS * key[2]

    def _build_native(self):
        key = self._core_model_key()
        if not key[-1]:  # a WordpieceTokenizer given a vocabulary of its own splits with it (ids from self.vocab,
            self._core = None  # as 1.2.0): the Python path serves, which asks it for the pieces
            return
        model = wordpiece_model(self.vocab, self._vocab_lines, self._vocab_lines_key, *key[:4], strip_accents=key[4])
        if key[-1]:  # the WordpieceTokenizer's own tokenize serves from the same model
            self.wordpiece_tokenizer._model = model
            self.wordpiece_tokenizer._model_key = (key[3], key[5])
        self._core = _core_lib().Pipeline(model)

    def _decoder_cleanup(self, text):
        # tokenizers' WordPiece decoder cleans up token by token: of clean_up_tokenization's patterns only those
        # within one token (a space and . ? ! ,) apply
        return text.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",")

    def _own_vocab(self):
        return self.vocab

    def _run_word_ids(self, tokens):
        return self._words_from_starts([not t.startswith("##") for t in tokens])  # "##": a word's later pieces

    def _model_unk_token(self):
        # 1.2.0 gives it the unk_token of construction time
        return getattr(self.wordpiece_tokenizer, "unk_token", self._unk_token)

    @property
    def vocab_size(self):
        return len(self.vocab)

    def _core_never_split(self):
        if not self.do_basic_tokenize:
            return []
        return list(getattr(self.basic_tokenizer, "never_split", None) or ()) + self.all_special_tokens

    def _core_never_split_key(self):
        ns = getattr(self.basic_tokenizer, "never_split", None) if self.do_basic_tokenize else None
        return (id(ns), tuple(ns)) if ns is not None else None  # contents: the list may be edited in place

    def _core_unwatched(self):
        return super()._core_unwatched(), self._core_never_split_key()  # never_split: a list or set, edited in place

    def _tokenize(self, text):
        if self.do_basic_tokenize:
            split_tokens = []
            for token in self.basic_tokenizer.tokenize(text, never_split=self.all_special_tokens):
                split_tokens.extend(self.wordpiece_tokenizer.tokenize(token))
            return split_tokens
        return self.wordpiece_tokenizer.tokenize(text)

    def _convert_token_to_id(self, token):
        return self.vocab.get(token, self.vocab.get(self.unk_token))

    def _convert_id_to_token(self, index):
        return self.ids_to_tokens.get(index, self.unk_token)

    def convert_tokens_to_string(self, tokens):
        return " ".join(tokens).replace(" ##", "").strip()

    def save_vocabulary(self, vocab_path):
        index = 0
        if os.path.isdir(vocab_path):
            vocab_file = os.path.join(vocab_path, VOCAB_FILES_NAMES["vocab_file"])
        else:
            vocab_file = vocab_path
        with open(vocab_file, "w", encoding="utf-8") as writer:
            for token, token_index in sorted(self.vocab.items(), key=lambda kv: kv[1]):
                if index != token_index:
                    logger.warning("Saving vocabulary to %s: vocabulary indices are not consecutive."
                                   " Please check that the vocabulary is not corrupted!", vocab_file)
                    index = token_index
                writer.write(token + "\n")
                index += 1
        return (vocab_file,)


class BasicTokenizer(object):
    """Punctuation splitting, lower casing, accent stripping, CJK splitting (C++)."""

    def __setattr__(self, name, value):
        state_changed()  # BertTokenizer's core follows these settings
        object.__setattr__(self, name, value)

    def __init__(self, do_lower_case=True, never_split=None, tokenize_chinese_chars=True, strip_accents=None):
        self.do_lower_case = do_lower_case
        self.never_split = never_split if never_split is not None else []
        self.tokenize_chinese_chars = tokenize_chinese_chars
        self.strip_accents = strip_accents  # transformers' option (None: as do_lower_case, as in 1.2.0)
        self._models = {}

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_models"] = {}
        return state

    def tokenize(self, text, never_split=None):
        text = _check_text("text", text)
        key = (bool(self.do_lower_case), bool(self.tokenize_chinese_chars),
               _strip_accents_option(getattr(self, "strip_accents", None)))
        model = self._models.get(key)
        if model is None:
            model = self._models[key] = _core_lib().WordPieceModel([], True, *key[:2], 100, strip_accents=key[2])
        never_split = list(self.never_split) + (list(never_split) if never_split is not None else [])
        return model.basic_tokenize(text, never_split)

    # 1.2.0's steps, one at a time in Python (tokenize does them all in C++), for subclasses that call them
    def _run_strip_accents(self, text):
        return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")

    def _run_split_on_punc(self, text, never_split=None):
        if never_split is not None and text in never_split:
            return [text]
        words, start_new_word = [], True
        for char in text:
            if _is_punctuation(char):
                words.append(char)
                start_new_word = True
            else:
                if start_new_word:
                    words.append("")
                start_new_word = False
                words[-1] += char
        return words

    def _tokenize_chinese_chars(self, text):
        return "".join(f" {c} " if self._is_chinese_char(ord(c)) else c for c in text)

    def _is_chinese_char(self, cp):
        return any(a <= cp <= b for a, b in _CJK_RANGES)

    def _clean_text(self, text):
        return "".join(" " if _is_whitespace(c) else c for c in text
                       if not (c in "\x00\ufffd" or _is_control(c)))


# the CJK Unified Ideographs blocks of 1.2.0's BERT (not Hangul, Hiragana or Katakana, written with spaces)
_CJK_RANGES = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F),
               (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))


class WordpieceTokenizer(object):
    """Greedy longest-match-first WordPiece over whitespace-separated tokens (C++)."""

    def __setattr__(self, name, value):
        state_changed()  # BertTokenizer's core follows these settings
        object.__setattr__(self, name, value)

    def __init__(self, vocab, unk_token, max_input_chars_per_word=100, _model=None):
        self.vocab = vocab
        self.unk_token = unk_token
        self.max_input_chars_per_word = max_input_chars_per_word
        self._model = _model
        self._model_key = None

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_model"] = None
        state["_model_key"] = None
        return state

    def tokenize(self, text):
        text = _check_text("text", text)
        key = (self.max_input_chars_per_word, tracked_key(self.vocab))
        if self._model is None or self._model_key != key:
            self._model = wordpiece_model(self.vocab, None, None, False, False, False, self.max_input_chars_per_word)
            self._model_key = key
        return self._model.wordpiece_tokenize(text, self.unk_token)


def _is_whitespace(char):
    """1.2.0's BERT whitespace: space, \t, \n, \r or category Zs."""
    return char in " \t\n\r" or unicodedata.category(char) == "Zs"


def _is_control(char):
    """1.2.0's BERT control characters: category C*, except \t, \n and \r (which count as whitespace)."""
    return char not in "\t\n\r" and unicodedata.category(char).startswith("C")


def _is_punctuation(char):
    """1.2.0's BERT punctuation: every non-alphanumeric ASCII character, or category P*."""
    cp = ord(char)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(char).startswith("P")
