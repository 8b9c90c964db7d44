"""XLMTokenizer (pytorch-transformers 1.2.0): Moses punctuation normalisation and tokenisation as 1.2.0 runs
them through sacremoses, optional lower-case + accent strip, then BPE with "</w>" — all in C++
(csrc/tokenizers/moses.cpp, with sacremoses' character classes and nonbreaking prefixes). zh/th/ja keep
1.2.0's Python path (jieba/PyThaiNLP/KyTea), as does bypass_tokenizer=True."""
from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import unicodedata

from transformers_fast.tokenization_bpe import (VOCAB_FILES_NAMES, bpe_model_key, get_pairs, merge_pairs,
                                                read_vocab_json, read_word_end_merges, save_bpe_files, word_end_bpe,
                                                word_end_word_ids)
from transformers_fast.tokenization_utils import (ClsSepSpecialTokensMixin, PreTrainedTokenizer, TrackedDict, _check_text,
                                                  _core_lib)

logger = logging.getLogger(__name__)



def _languages(codes: str, lowercase_and_remove_accent: bool) -> dict:
    """A checkpoint's tokenizer settings in 1.2.0's form: lang2id / id2lang in the order of `codes`."""
    langs = codes.split()
    return {"do_lowercase_and_remove_accent": lowercase_and_remove_accent,
            "id2lang": {str(i): lang for i, lang in enumerate(langs)},
            "lang2id": {lang: i for i, lang in enumerate(langs)}}


_XNLI15 = "ar bg de el en es fr hi ru sw th tr ur vi zh"
_LANGS17 = "ar de en es fr hi it ja ko nl pl pt ru sv tr vi zh"
_LANGS100 = ("af als am an ang ar arz ast az bar be bg bn br bs ca ceb ckb cs cy da de el en eo es et eu fa fi fr "
             "fy ga gan gl gu he hi hr hu hy ia id is it ja jv ka kk kn ko ku la lb lt lv mk ml mn mr ms my nds ne "
             "nl nn no oc pl pt ro ru scn sco sh si simple sk sl sq sr sv sw ta te th tl tr tt uk ur uz vi war wuu "
             "yi zh zh_classical zh_min_nan zh_yue")

PRETRAINED_INIT_CONFIGURATION = {
    "xlm-mlm-en-2048": {"do_lowercase_and_remove_accent": True},
    "xlm-mlm-ende-1024": _languages("de en", True),
    "xlm-mlm-enfr-1024": _languages("en fr", True),
    "xlm-mlm-enro-1024": _languages("en ro", True),
    "xlm-mlm-tlm-xnli15-1024": _languages(_XNLI15, True),
    "xlm-mlm-xnli15-1024": _languages(_XNLI15, True),
    "xlm-clm-enfr-1024": _languages("en fr", True),
    "xlm-clm-ende-1024": _languages("de en", True),
    "xlm-mlm-17-1280": _languages(_LANGS17, False),
    "xlm-mlm-100-1280": _languages(_LANGS100, False),
}

MAX_MODEL_INPUT_SIZES = {'xlm-mlm-en-2048': 512,
 'xlm-mlm-ende-1024': 512,
 'xlm-mlm-enfr-1024': 512,
 'xlm-mlm-enro-1024': 512,
 'xlm-mlm-tlm-xnli15-1024': 512,
 'xlm-mlm-xnli15-1024': 512,
 'xlm-clm-enfr-1024': 512,
 'xlm-clm-ende-1024': 512,
 'xlm-mlm-17-1280': 512,
 'xlm-mlm-100-1280': 512}


def lowercase_and_remove_accent(text):
    text = " ".join(text)
    text = text.lower()
    text = unicodedata.normalize("NFD", text)
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    return text.lower().split(" ")


_PUNCT_REPLACEMENTS = [("，", ","), (re.compile(r"。\s*"), ". "), ("、", ","), ("”", '"'), ("“", '"'), ("∶", ":"),
                       ("：", ":"), ("？", "?"), ("《", '"'), ("》", '"'), ("）", ")"), ("！", "!"), ("（", "("),
                       ("；", ";"), ("１", '"'), ("」", '"'), ("「", '"'), ("０", "0"), ("３", "3"), ("２", "2"),
                       ("５", "5"), ("６", "6"), ("９", "9"), ("７", "7"), ("８", "8"), ("４", "4"),
                       (re.compile(r"．\s*"), ". "), ("～", "~"), ("’", "'"), ("…", "..."), ("━", "-"),
                       ("〈", "<"), ("〉", ">"), ("【", "["), ("】", "]"), ("％", "%")]


def replace_unicode_punct(text):
    """Moses replace-unicode-punctuation.perl, as 1.2.0 ports it (same replacements, same order)."""
    for old, new in _PUNCT_REPLACEMENTS:
        text = old.sub(new, text) if isinstance(old, re.Pattern) else text.replace(old, new)
    return text


def remove_non_printing_char(text):
    return "".join(c for c in text if not unicodedata.category(c).startswith("C"))


def romanian_preprocessing(text):
    text = text.replace("\u015e", "\u0218").replace("\u015f", "\u0219")
    text = text.replace("\u0162", "\u021a").replace("\u0163", "\u021b")
    text = text.replace("\u0218", "S").replace("\u0219", "s")
    text = text.replace("\u021a", "T").replace("\u021b", "t")
    text = text.replace("\u0102", "A").replace("\u0103", "a")
    text = text.replace("\u00C2", "A").replace("\u00E2", "a")
    text = text.replace("\u00CE", "I").replace("\u00EE", "i")
    return text


_MOSES = {}  # lang -> the C++ Moses pre-tokenizer (or None when sacremoses' data cannot be used as is)
_REGEX_CLASS_SPECIALS = set("\\]^-[")


_calling_as = threading.local()  # (tokenizer, lang, bypass_tokenizer) of the __call__ this thread is in


def native_moses(lang):
    """The C++ Moses pre-tokenizer for lang, built from the installed sacremoses' character classes and
    nonbreaking prefixes (the data 1.2.0's sacremoses path uses); None if that data cannot be read as
    plain character sets (then the sacremoses path runs)."""
    if lang in _MOSES:
        return _MOSES[lang]
    try:
        import sacremoses
    except ImportError as err:
        raise ImportError("XLMTokenizer needs sacremoses (pip install sacremoses), as 1.2.0 does") from err
    mt = sacremoses.MosesTokenizer(lang=lang)
    cls = sacremoses.MosesTokenizer
    classes = dict(is_alnum=mt.IsAlnum, is_alpha=mt.IsAlpha, is_n=cls.IsN, is_lower=mt.IsLower,
                   alpha_apostrophe=cls.IsAlpha)
    # the regexes splice these strings into [...]: plain sets only if no character is special there
    usable = not any(_REGEX_CLASS_SPECIALS & set(v) for v in classes.values())
    usable = usable and isinstance(getattr(mt, "NUMERIC_ONLY_PREFIXES", None), list)
    core = None
    if usable:
        core = _core_lib().MosesPreTokenizer(lang, nonbreaking_prefixes=list(mt.NONBREAKING_PREFIXES),
                                             numeric_only_prefixes=list(mt.NUMERIC_ONLY_PREFIXES), **classes)
    else:
        logger.warning("sacremoses' character classes are not plain sets: XLM uses the sacremoses path")
    _MOSES[lang] = core
    return core


class XLMTokenizer(ClsSepSpecialTokensMixin, PreTrainedTokenizer):
    """XLM BPE tokenizer (Moses pre-processing; zh/ja/th need jieba/KyTea/PyThaiNLP as in 1.2.0). A sequence with
    special tokens starts with cls_token (</s>) as in 1.2.0, or, from a folder transformers saved, with bos_token
    (<s>) as transformers lays it out: what a model fine-tuned there saw."""

    vocab_files_names = VOCAB_FILES_NAMES
    _default_additional_special_tokens = tuple(f"<special{i}>" for i in range(10))
    _run_word_ids = word_end_word_ids
    _python_hooks = PreTrainedTokenizer._python_hooks + ("moses_pipeline", "moses_punct_norm", "moses_tokenize")
    pretrained_init_configuration = PRETRAINED_INIT_CONFIGURATION
    max_model_input_sizes = MAX_MODEL_INPUT_SIZES
    pretrained_hub_files = {k: ("FacebookAI/" + k, {"vocab_file": "vocab.json", "merges_file": "merges.txt"})
                            for k in MAX_MODEL_INPUT_SIZES}

    def __init__(self, vocab_file, merges_file, unk_token="<unk>", bos_token="<s>", sep_token="</s>",
                 pad_token="<pad>", cls_token="</s>", mask_token="<special1>", additional_special_tokens=None,
                 lang2id=None, id2lang=None, do_lowercase_and_remove_accent=True, **kwargs):
        super().__init__(unk_token=unk_token, bos_token=bos_token, sep_token=sep_token, pad_token=pad_token,
                         cls_token=cls_token, mask_token=mask_token,
                         additional_special_tokens=additional_special_tokens, **kwargs)
        self.cache_moses_punct_normalizer = {}
        self.cache_moses_tokenizer = {}
        self.lang_with_custom_tokenizer = {"zh", "th", "ja"}
        self.do_lowercase_and_remove_accent = do_lowercase_and_remove_accent
        self.lang2id = lang2id
        self.id2lang = id2lang
        if lang2id is not None and id2lang is not None and len(lang2id) != len(id2lang):
            raise ValueError("lang2id and id2lang must have the same length")
        self.ja_word_tokenizer = None
        self.zh_word_tokenizer = None  # 1.2.0's attribute (jieba is imported as a module)
        for name, path in (("vocab_file", vocab_file), ("merges_file", merges_file)):
            if path is None or not os.path.isfile(path):
                raise ValueError(f"Can't find {name} at path '{path}'")
        self.encoder = TrackedDict(read_vocab_json(vocab_file))
        self.decoder = {v: k for k, v in self.encoder.items()}
        merges = read_word_end_merges(merges_file, skip_first=False)
        self.bpe_ranks = TrackedDict(zip(merges, range(len(merges))))
        self._build_core()

    def _start_id(self):
        return self.bos_token_id if self.__dict__.get("_added_tokens_as_transformers") else self.cls_token_id

    def _core_model_key(self):
        return bpe_model_key(self)

    def _build_native(self):
        self._bpe_model = _core_lib().WordEndBpeModel(self.encoder, merge_pairs(self.bpe_ranks), "spaces")
        self._lang_cores = {}  # lang -> [C++ pipeline or None, the special-token state it holds]
        self._core_state = None
        try:  # the default language serves tokenize/encode/__call__ without arguments
            self._core = self._moses_core("en", sync=False)
        except ImportError:
            self._core = None  # no sacremoses: tokenizing raises, as in 1.2.0

    def __setattr__(self, name, value):
        super().__setattr__(name, value)
        if name == "do_lowercase_and_remove_accent" and getattr(self, "_bpe_model", None) is not None:
            self._build_core()

    def __getstate__(self):
        state = super().__getstate__()
        state["_bpe_model"] = None
        state["_lang_cores"] = None
        return state

    def _moses_core(self, lang, sync=True):
        """The C++ pipeline (Moses, lower-casing, BPE) for lang; None where 1.2.0 takes another path
        (zh/th/ja segmenters) or sacremoses' data cannot be used natively."""
        if not isinstance(lang, str) or lang in self.lang_with_custom_tokenizer or self._hooks_replaced() \
                or self._given_moses(lang):
            return None
        if sync and self._core_model_key() != self._core_model_built:
            self._build_core()
        entry = self._lang_cores.get(lang)
        if entry is None:
            moses = native_moses(lang)
            core = None
            if moses is not None:
                lib = _core_lib()
                core = lib.Pipeline(lib.MosesBpeModel(moses, self._bpe_model, bool(self.do_lowercase_and_remove_accent)))
            entry = self._lang_cores[lang] = [core, None]
        core = entry[0]
        if sync and core is not None:
            state = self._core_config_state()
            if entry[1] != state:
                self._configure_core(core)
                entry[1] = state
        return core

    def _check_lang(self, lang):
        if lang and self.lang2id and lang not in self.lang2id:
            logger.error("Supplied language code not found in lang2id mapping. Please check that your language "
                         "is supported by the loaded pretrained model.")

    def _language(self, lang, bypass_tokenizer):
        """(lang, bypass_tokenizer) given, else those of the __call__ this thread is in, else 1.2.0's defaults."""
        options = self._call_options() or ("en", False)
        return (options[0] if lang is None else lang), (options[1] if bypass_tokenizer is None else bypass_tokenizer)

    def _tokenize_one(self, text, lang=None, bypass_tokenizer=None, **kwargs):
        """1.2.0's tokenize(text, lang=..., bypass_tokenizer=...): Moses languages run in C++."""
        lang, bypass_tokenizer = self._language(lang, bypass_tokenizer)
        core = None if bypass_tokenizer or kwargs else self._moses_core(lang)
        if core is None:
            return super()._tokenize_one(text, lang=lang, bypass_tokenizer=bypass_tokenizer, **kwargs)
        self._check_lang(lang)
        return core.tokenize(_check_text("text", text))

    def _encode_one(self, text, pair, lang=None, bypass_tokenizer=None, **kwargs):
        lang, bypass_tokenizer = self._language(lang, bypass_tokenizer)
        core = None if bypass_tokenizer or kwargs else self._moses_core(lang)
        if core is None:
            return super()._encode_one(text, pair, lang=lang, bypass_tokenizer=bypass_tokenizer, **kwargs)
        self._check_lang(lang)
        ids = core.encode(_check_text("text", text), pair)
        if not pair:
            self._warn_length(len(ids))
        return ids

    def _ids_batch(self, texts, pair, offsets, fixed=False):
        if offsets:
            raise NotImplementedError("XLMTokenizer does not compute offsets: Moses rewrites the text")
        return super()._ids_batch(texts, pair, offsets, fixed)

    @property
    def vocab_size(self):
        return len(self.encoder)

    def _sacremoses(self):
        try:
            import sacremoses
        except ImportError as err:
            raise ImportError("XLMTokenizer needs sacremoses (pip install sacremoses), as 1.2.0 does") from err
        return sacremoses

    _tokenize_call_options = frozenset(["lang", "bypass_tokenizer"])

    @contextlib.contextmanager
    def _tokenizing_as(self, lang, bypass_tokenizer):
        """lang / bypass_tokenizer for the tokenizing this thread does inside (transformers passes them on from
        __call__, encode_plus and batch_encode_plus to tokenize)."""
        if lang is None and not bypass_tokenizer:
            yield
            return
        self._check_lang(lang)
        previous = getattr(_calling_as, "options", None)
        _calling_as.options = (self, lang or "en", bool(bypass_tokenizer))
        try:
            yield
        finally:
            _calling_as.options = previous

    def __call__(self, text=None, text_pair=None, *args, lang=None, bypass_tokenizer=False, **kwargs):
        """transformers' __call__; lang / bypass_tokenizer as tokenize takes them."""
        with self._tokenizing_as(lang, bypass_tokenizer):
            return super().__call__(text, text_pair, *args, **kwargs)

    def batch_encode_plus(self, batch_text_or_text_pairs, *args, lang=None, bypass_tokenizer=False, **kwargs):
        """transformers' batch_encode_plus; lang / bypass_tokenizer as tokenize takes them."""
        with self._tokenizing_as(lang, bypass_tokenizer):
            return super().batch_encode_plus(batch_text_or_text_pairs, *args, **kwargs)

    def _call_options(self):
        """(lang, bypass_tokenizer) of the __call__ this thread is in, or None."""
        options = getattr(_calling_as, "options", None)
        return options[1:] if options is not None and options[0] is self else None

    def _native(self):
        options = self._call_options()
        if options is not None:  # (the language's pipeline; the Python path bypasses Moses)
            lang, bypass = options
            return None if bypass else self._moses_core(lang)
        # (the default core is the "en" pipeline)
        return None if self._given_moses("en") else super()._native()

    def _given_moses(self, lang) -> bool:
        """Whether the user put a Moses object of their own into 1.2.0's caches for lang (custom nonbreaking
        prefixes, penn=False, ...): the Python path then runs it, as 1.2.0 does."""
        return any(cache.get(lang) is not None and not getattr(cache[lang], "_made_here", False)
                   for cache in (self.cache_moses_punct_normalizer, self.cache_moses_tokenizer))

    def moses_punct_norm(self, text, lang):
        norm = self.cache_moses_punct_normalizer.get(lang)
        if norm is None:
            norm = self.cache_moses_punct_normalizer[lang] = self._sacremoses().MosesPunctNormalizer(lang=lang)
            norm._made_here = True
        return norm.normalize(text)

    def moses_tokenize(self, text, lang):
        tok = self.cache_moses_tokenizer.get(lang)
        if tok is None:
            tok = self.cache_moses_tokenizer[lang] = self._sacremoses().MosesTokenizer(lang=lang)
            tok._made_here = True
        return tok.tokenize(text, return_str=False, escape=False)

    def moses_pipeline(self, text, lang):
        text = replace_unicode_punct(text)
        text = self.moses_punct_norm(text, lang)
        return remove_non_printing_char(text)

    def bpe(self, token):
        return word_end_bpe(token, self.bpe_ranks)

    def ja_tokenize(self, text):
        """1.2.0's KyTea word segmentation (lang="ja")."""
        if self.ja_word_tokenizer is None:
            try:
                import Mykytea
            except ImportError:
                logger.error("lang='ja' needs KyTea and its Python wrapper (https://github.com/chezou/Mykytea-python)")
                raise
            self.ja_word_tokenizer = Mykytea.Mykytea("-model %s/local/share/kytea/model.bin" % os.path.expanduser("~"))
        return list(self.ja_word_tokenizer.getWS(text))

    def _tokenize(self, text, lang=None, bypass_tokenizer=None):
        lang, bypass_tokenizer = self._language(lang, bypass_tokenizer)
        self._check_lang(lang)
        if bypass_tokenizer:
            words = text.split()
        elif lang not in self.lang_with_custom_tokenizer:
            text = self.moses_pipeline(text, lang=lang)
            if lang == "ro":
                text = romanian_preprocessing(text)
            words = self.moses_tokenize(text, lang=lang)
        elif lang == "th":
            from pythainlp.tokenize import word_tokenize as th_word_tokenize
            words = th_word_tokenize(self.moses_pipeline(text, lang=lang))
        elif lang == "zh":
            import jieba
            words = self.moses_pipeline(" ".join(jieba.cut(text)), lang=lang).split()
        else:  # ja
            words = self.ja_tokenize(self.moses_pipeline(text, lang=lang))
        if self.do_lowercase_and_remove_accent and not bypass_tokenizer:
            words = lowercase_and_remove_accent(words)
        words = [w for w in words if w]
        if not any(" " in w for w in words) and not self._hooks_replaced():  # (no space: always after Moses)
            try:
                return self._bpe_model.bpe_words(words)
            except (TypeError, ValueError):
                pass  # lone surrogates cannot cross as UTF-8: take 1.2.0's Python path
        return sum((self.bpe(w).split(" ") for w in words), [])

    def _convert_token_to_id(self, token):
        return self.encoder.get(token, self.encoder.get(self.unk_token))

    def _convert_id_to_token(self, index):
        return self.decoder.get(index, self.unk_token)

    def convert_tokens_to_string(self, tokens):
        return "".join(tokens).replace("</w>", " ").strip()

    def save_vocabulary(self, save_directory):
        """vocab.json + merges.txt (XLM's merges file has no header line)."""
        return save_bpe_files(self, save_directory, header=None)

# 1.2.0's module-level names for the tokenizer's pretrained files and sizes
PRETRAINED_VOCAB_FILES_MAP = XLMTokenizer.pretrained_vocab_files_map
PRETRAINED_POSITIONAL_EMBEDDINGS_SIZES = XLMTokenizer.max_model_input_sizes
