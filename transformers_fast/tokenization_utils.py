"""PreTrainedTokenizer: the shared API of pytorch-transformers 1.2.0 tokenizers, plus encode_plus and
batch __call__ (padding, truncation, tensors, offsets).

Subclasses with a C++ core set ``self._core`` (a ``_C.tokenizers.Pipeline``); tokenize/encode then run
in C++ (splitting on added/special tokens included), with the same results as 1.2.0's Python code.
Subclasses without one implement ``_tokenize`` and get 1.2.0's Python algorithm.
"""
from __future__ import annotations

import bisect
import collections
import copy
import functools
import json
import logging
import operator
import os
import sys
import threading
import warnings
from typing import Dict, Optional, Tuple

from transformers_fast import file_utils
from transformers_fast.file_utils import is_library_module

logger = logging.getLogger(__name__)

SPECIAL_TOKENS_MAP_FILE = "special_tokens_map.json"
ADDED_TOKENS_FILE = "added_tokens.json"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
TOKENIZER_JSON_FILE = "tokenizer.json"  # what transformers 5 saves instead of the vocabulary files


_unicode_checked = []


def _core_lib():
    """The C++ extension's tokenizer module (a clear error when the extension is not built)."""
    try:
        from transformers_fast import _C
    except ImportError as err:
        raise ImportError(f"transformers_fast._C is not built ({err}); run `make build` or pip install the "
                          "package") from err
    if not _unicode_checked:
        import unicodedata
        import warnings
        _unicode_checked.append(True)
        if _C.tokenizers.unicode_version != unicodedata.unidata_version:
            warnings.warn(f"transformers_fast was built with Unicode {_C.tokenizers.unicode_version} tables but "
                          f"this Python has Unicode {unicodedata.unidata_version}: characters new in one of them "
                          "may tokenize differently from pytorch-transformers on this Python; rebuild to match",
                          RuntimeWarning, stacklevel=3)
    return _C.tokenizers


def _check_text(name, text):
    if not isinstance(text, (str, bytes)):
        raise TypeError(f"{name} must be a str, got {type(text).__name__}")
    if isinstance(text, bytes):
        try:
            return text.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(f"{name}: bytes are not valid UTF-8 ({err})") from None
    return text


def resolve_file(repo_id: str, filename: str, cache_dir=None, force_download=False, proxies=None, legacy_id=None):
    """A pretrained file by hub repo id: the local Hugging Face cache first (also under the repo's
    pre-organisation name, e.g. "bert-base-uncased"), then a download."""
    from huggingface_hub import hf_hub_download, try_to_load_from_cache

    if not force_download:
        for repo in [repo_id] + ([legacy_id] if legacy_id and legacy_id != repo_id else []):
            hit = try_to_load_from_cache(repo, filename, cache_dir=cache_dir)
            if isinstance(hit, str):
                return hit
    return hf_hub_download(repo_id, filename, cache_dir=cache_dir, force_download=force_download,
                           proxies=proxies)


# Moves on every change a C++ core may have to follow: an attribute set on a tokenizer (or on the BERT helpers
# whose settings it reads), an edit of a tracked dict. A tokenizer whose core was checked at the current value
# skips the full check of its state (_native); state changed in place without either (the contents of a list) is
# compared on every call (_core_unwatched).
_state_epoch = 0


def _replaced(tokenizer, names):
    """Whether a method of `names` is not the library's: set on the instance, or defined elsewhere (a subclass, a
    patch of the class)."""
    cls = type(tokenizer)
    return any(name in tokenizer.__dict__ or
               not is_library_module(getattr(getattr(cls, name, None), "__module__", None) or __name__)
               for name in names)


# 1.2.0's special-token layout methods: a tokenizer that replaces one gets token types read from its layout
_LAYOUT_METHODS = ("add_special_tokens_single_sentence", "add_special_tokens_sentences_pair")


class _FilesFromTokenizerJson:
    """The vocabulary files of `cls`, written to a temporary folder from a transformers 5 tokenizer.json (it saves no
    others), with the init keywords its normalizer and model give and its added tokens (token -> id)."""

    def __init__(self, cls, path):
        writer = getattr(cls, "_files_from_tokenizer_json", None)
        try:
            with open(path, encoding="utf-8") as f:
                spec = json.load(f)
        except (OSError, ValueError) as err:
            raise EnvironmentError(f"{path}: not a readable tokenizer.json ({err})") from err
        model = spec.get("model") if isinstance(spec, dict) else None
        if writer is None or not isinstance(model, dict):
            raise EnvironmentError(f"{os.path.dirname(path)} holds only {TOKENIZER_JSON_FILE}, and {cls.__name__} "
                                   f"needs {', '.join(cls.vocab_files_names.values())}")
        import tempfile

        self._folder = tempfile.TemporaryDirectory(prefix="transformers_fast_tokenizer_")
        try:
            self.vocab_files, self.init_kwargs = writer(spec, self._folder.name)
        except Exception:
            self.cleanup()
            raise
        entries = [t for t in spec.get("added_tokens") or ()
                   if isinstance(t, dict) and isinstance(t.get("content"), str) and isinstance(t.get("id"), int)]
        self.added_tokens = {t["content"]: t["id"] for t in entries}
        self.added_token_flags = {t["content"]: _token_flags(t) for t in entries}
        self.special_added = {t["content"] for t in entries if t.get("special") is True}

    def cleanup(self):
        self._folder.cleanup()  # the constructors read the files; none keeps them open


def _added_token(value):
    """(text, special) of a token given to add_tokens / add_special_tokens: a str (special None), or transformers'
    AddedToken (tokenizers.AddedToken, which transformers re-exports): its content and its special flag (its other
    flags: _token_flags)."""
    content = getattr(value, "content", None)
    if isinstance(value, str) or not isinstance(content, str):
        return value, None
    return content, bool(getattr(value, "special", False))


# The flags of tokenizers' AddedToken, as bits (the C++ core's SplitFlag); they steer transformers' split on added
# tokens (_split_as_transformers), which 1.2.0's split has no use for.
_LSTRIP, _RSTRIP, _SINGLE_WORD, _NORMALIZED = 1, 2, 4, 8
_CONTENT_OFFSETS = 16  # (not a flag of AddedToken: the family's _added_token_offsets_trimmed)
# the steps of transformers' BertNormalizer a family takes, as _added_token_normalization gives them
_LOWER_CASE, _STRIP_ACCENTS, _CLEAN_TEXT, _CHINESE_CHARS = 1, 2, 4, 8


def _token_flags(token, special=False):
    """The flag bits of an AddedToken or of one serialized in transformers' files (a dict); transformers' defaults
    where one is missing (normalized unless special)."""
    get = token.get if isinstance(token, dict) else lambda key, default: getattr(token, key, default)
    special = bool(get("special", special))
    normalized = get("normalized", None)
    return (_LSTRIP * bool(get("lstrip", False)) | _RSTRIP * bool(get("rstrip", False)) |
            _SINGLE_WORD * bool(get("single_word", False)) |
            _NORMALIZED * bool(not special if normalized is None else normalized))


def _token_text(value):
    """A special token as transformers' files may hold it: a str, or a serialized AddedToken (its content)."""
    value = _added_token(value)[0]
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return value["content"]
    return value


def state_changed():
    global _state_epoch
    _state_epoch += 1


def _tracking(base, name):
    """A subclass of dict or OrderedDict whose `version` counts its changes: added_tokens_encoder and the
    vocabularies a C++ model is built from (1.2.0 reads them on every call, so users edit them in place)."""

    def changed(method_name):
        method = getattr(base, method_name)

        def wrapper(self, *args, **kwargs):
            global _state_epoch
            _state_epoch += 1
            self.version += 1
            return method(self, *args, **kwargs)

        return wrapper

    names = ("__setitem__", "__delitem__", "__ior__", "update", "pop", "popitem", "clear", "setdefault")
    body = {n: changed(n) for n in names}
    body["version"] = 0  # bumped on every change (an instance attribute from then on)
    return type(name, (base,), dict(body, __module__=__name__, __qualname__=name))


TrackedDict = _tracking(dict, "TrackedDict")
TrackedOrderedDict = _tracking(collections.OrderedDict, "TrackedOrderedDict")
_TrackedDict = TrackedDict  # the name tokenizers pickled by earlier versions refer to


def tracked_key(mapping):
    """Identifies a vocabulary's content: its identity and, for a tracked one, its version."""
    return id(mapping), getattr(mapping, "version", None)


# Attributes whose change must reach the C++ core (added/special tokens).
_CORE_STATE_ATTRS = frozenset("_" + a for a in ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token",
                                                "cls_token", "mask_token", "additional_special_tokens"])


_TOO_LONG = ("Token indices sequence length is longer than the specified maximum sequence length for this model "
             "(%d > %d). Running this sequence through the model will result in indexing errors")
_calling = threading.local()  # depth: how many __call__ encodings this thread is inside


def _as_call(method):
    """Runs a method as __call__'s work: 1.2.0's warnings about one text (its length, special tokens the model
    lacks) stay quiet there; __call__ warns about its rows as transformers does."""
    @functools.wraps(method)
    def run(*args, **kwargs):
        _calling.depth = getattr(_calling, "depth", 0) + 1
        try:
            return method(*args, **kwargs)
        finally:
            _calling.depth -= 1
    return run


def _warn_outside_call(message, *args):
    if not getattr(_calling, "depth", 0):
        logger.warning(message, *args)


_warned = set()


def _warn_once(message):
    """transformers' logger.warning_once: a message once per process."""
    if message not in _warned:
        _warned.add(message)
        logger.warning(message)


def _clean_up_tokenization(text):
    """transformers' clean_up_tokenization: no space before punctuation and English contractions."""
    return (text.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",").replace(" ' ", "'")
            .replace(" n't", "n't").replace(" 'm", "'m").replace(" 's", "'s").replace(" 've", "'ve")
            .replace(" 're", "'re"))


def _with_rest(text, a, b, rest):
    """text[a:b] with the (head, tail) rest of characters an added token took part of (_chunks_as_transformers)."""
    return text[a:b] if rest is None else rest[0] + text[a:b] + rest[1]


def _normalized_positions(base, anchors):
    """Where the normalized text of text[base:] begins (starts(i): its h[i]) and ends (ends(i): its h[i - 1]) in
    text; anchors (sorted): (at, length) in h, (start, end) in text and the start of the characters it comes from
    (start, except for a pair of quotes) of each character that does not map to one character (None: none)."""
    keys = [a[0] for a in anchors or ()]

    def anchor(i):  # the last anchor that starts at or before h[i]
        k = bisect.bisect_right(keys, i)
        return anchors[k - 1] if k else None

    def starts(i):
        a = anchor(i)
        if a is None:
            return base + i
        return base + (a[2] if i < a[0] + a[1] else a[3] + i - a[0] - a[1])

    def ends(i):
        if i == 0:
            return base
        a = anchor(i - 1)
        return base + a[3] if a is not None and i - 1 < a[0] + a[1] else starts(i - 1) + 1

    return starts, ends


class _WatchedTokenizerClass(type):
    """A tokenizer class patched (a method set or deleted on it) moves the epoch: its cores check their hooks again."""

    def __setattr__(cls, name, value):
        state_changed()
        super().__setattr__(name, value)

    def __delattr__(cls, name):
        state_changed()
        super().__delattr__(name)


class PreTrainedTokenizer(file_utils.PushToHubMixin, metaclass=_WatchedTokenizerClass):
    """Base class of all tokenizers (pytorch-transformers 1.2.0 API)."""

    _state_version = 0

    def __setattr__(self, name, value):
        global _state_epoch
        _state_epoch += 1
        if name in _CORE_STATE_ATTRS:
            object.__setattr__(self, "_state_version", self._state_version + 1)
        elif name == "added_tokens_encoder" and not isinstance(value, TrackedDict):
            value = TrackedDict(value)
            object.__setattr__(self, "_state_version", self._state_version + 1)
        object.__setattr__(self, name, value)

    vocab_files_names: Dict[str, str] = {}
    # the additional special tokens of a family given none (a transformers folder names its own): 1.2.0's defaults
    _default_additional_special_tokens: Tuple[str, ...] = ()
    pretrained_vocab_files_map: Dict[str, Dict[str, str]] = {}
    pretrained_init_configuration: Dict[str, dict] = {}
    max_model_input_sizes: Dict[str, Optional[int]] = {}
    # shortcut name -> (hub repo id, {init argument: file name in that repo}); set by subclasses
    pretrained_hub_files: Dict[str, tuple] = {}
    padding_side = "right"
    truncation_side = "right"  # which end truncation cuts ids from (transformers' attribute)
    # keyword arguments of tokenize that __call__ takes too and passes on, as transformers does (XLM's lang)
    _tokenize_call_options = frozenset()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.pretrained_hub_files and "pretrained_vocab_files_map" not in cls.__dict__:
            # 1.2.0's table of each shortcut name's files: where their copies are on the hub now
            files_map = {}
            for name, (repo, files) in cls.pretrained_hub_files.items():
                for argument, file_name in files.items():
                    files_map.setdefault(argument, {})[name] = f"https://huggingface.co/{repo}/resolve/main/{file_name}"
            cls.pretrained_vocab_files_map = files_map

    SPECIAL_TOKENS_ATTRIBUTES = ["bos_token", "eos_token", "unk_token", "sep_token",
                                 "pad_token", "cls_token", "mask_token",
                                 "additional_special_tokens"]

    def __init__(self, max_len=None, **kwargs):
        self._bos_token = None
        self._eos_token = None
        self._unk_token = None
        self._sep_token = None
        self._pad_token = None
        self._cls_token = None
        self._mask_token = None
        self._additional_special_tokens = []
        if max_len is None:  # transformers' name (its tokenizer_config.json files hold it)
            max_len = kwargs.get("model_max_length")
        self.max_len = max_len if max_len is not None else int(1e12)
        self.added_tokens_encoder = {}
        self.added_tokens_decoder = {}
        self.init_inputs = ()
        self.init_kwargs = {}
        self._core = None
        self._core_state = None
        extra = kwargs.get("extra_special_tokens")
        if extra and kwargs.get("additional_special_tokens") is None:
            # transformers 5 saves additional_special_tokens under this name in tokenizer_config.json (4.x: a dict
            # of named ones); without it they would split the text but not be special (decode, masks)
            kwargs = dict(kwargs, additional_special_tokens=list(extra.values()) if isinstance(extra, dict) else extra)
        elif self._default_additional_special_tokens and kwargs.get("additional_special_tokens") is None:
            kwargs = dict(kwargs, additional_special_tokens=list(self._default_additional_special_tokens))
        for key, value in kwargs.items():
            if key in self.SPECIAL_TOKENS_ATTRIBUTES:
                value = _token_text(value)
                if key == "additional_special_tokens":
                    value = [_token_text(t) for t in value] if isinstance(value, (list, tuple)) else value
                    if not (isinstance(value, list) and all(isinstance(t, str) for t in value)):
                        raise TypeError("additional_special_tokens must be a list of str")
                elif value is None:  # transformers' files hold null for a token it does not set
                    continue
                elif not isinstance(value, str):
                    raise TypeError(f"{key} must be a str, got {type(value).__name__}")
                setattr(self, key, value)
        for side in ("padding_side", "truncation_side"):  # transformers' init keywords
            if side in kwargs:
                setattr(self, side, kwargs[side])
            _check_side(side, getattr(self, side))

    # ---- special tokens -------------------------------------------------------------------------
    def _special(name):  # noqa: N805 - property factory
        attr = "_" + name

        def getter(self):
            value = getattr(self, attr)
            if value is None:
                logger.error("Using %s, but it is not set yet.", name)
            return value

        def setter(self, value):
            setattr(self, attr, value)

        return property(getter, setter)

    bos_token = _special("bos_token")
    eos_token = _special("eos_token")
    unk_token = _special("unk_token")
    sep_token = _special("sep_token")
    pad_token = _special("pad_token")
    cls_token = _special("cls_token")
    mask_token = _special("mask_token")
    additional_special_tokens = _special("additional_special_tokens")
    del _special

    def _special_id(name):  # noqa: N805
        def getter(self):
            value = getattr(self, "_" + name)
            if value is None:
                logger.error("Using %s, but it is not set yet.", name)
            return self.convert_tokens_to_ids(value)

        def setter(self, value):  # transformers': the token of that id becomes the special token (None: unset)
            ids = value if isinstance(value, (list, tuple)) else [value]
            if value is not None and not all(isinstance(i, int) and not isinstance(i, bool)
                                             and 0 <= i < len(self) for i in ids):
                raise ValueError(f"{name}_id must be a token id in [0, {len(self) - 1}]"
                                 f"{' (or a list of them)' if name == 'additional_special_tokens' else ''}, "
                                 f"got {value!r}")
            setattr(self, name, None if value is None else self.convert_ids_to_tokens(value))

        return property(getter, setter)

    bos_token_id = _special_id("bos_token")
    eos_token_id = _special_id("eos_token")
    unk_token_id = _special_id("unk_token")
    unk_token_is = unk_token_id  # 1.2.0's spelling
    sep_token_id = _special_id("sep_token")
    pad_token_id = _special_id("pad_token")
    cls_token_id = _special_id("cls_token")
    mask_token_id = _special_id("mask_token")
    additional_special_tokens_ids = _special_id("additional_special_tokens")
    del _special_id

    @property
    def special_tokens_map(self):
        set_attr = {}
        for attr in self.SPECIAL_TOKENS_ATTRIBUTES:
            attr_value = getattr(self, "_" + attr)
            if attr_value:
                set_attr[attr] = attr_value
        return set_attr

    @property
    def all_special_tokens(self):
        all_toks = []
        for attr_value in self.special_tokens_map.values():
            all_toks = all_toks + (list(attr_value) if isinstance(attr_value, (list, tuple)) else [attr_value])
        return list(set(all_toks))  # 1.2.0's order (set order), which decides overlapping splits

    @property
    def all_special_ids(self):
        return [self._convert_token_to_id(t) for t in self.all_special_tokens]

    def _special_ids_of_transformers(self):
        """transformers' all_special_ids: an added special token (add_special_tokens) is looked up among the added
        tokens first, where 1.2.0's all_special_ids gives the model's unk id for it (decode keeps it there)."""
        return {self._convert_token_to_id_with_added_voc(t) for t in self.all_special_tokens}

    # ---- loading and saving -------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *inputs, **kwargs):
        """A shortcut name (resolved through the Hugging Face hub cache), a folder written by
        save_pretrained, or (single-file vocabularies) the path of the vocabulary file."""
        proxies = kwargs.get("proxies")
        hub_kwargs = file_utils.pop_hub_kwargs(kwargs)  # (not tokenizer init keywords)
        cache_dir, force_download = hub_kwargs["cache_dir"], hub_kwargs["force_download"]
        name = str(pretrained_model_name_or_path)
        vocab_files, init_configuration, from_json = {}, {}, None
        folder = name  # where the files are: the path given, or a hub repository's snapshot
        if name in cls.max_model_input_sizes and name in cls.pretrained_hub_files and not os.path.exists(name):
            repo, files = cls.pretrained_hub_files[name]
            for file_id, file_name in files.items():
                try:
                    vocab_files[file_id] = resolve_file(repo, file_name, cache_dir, force_download, proxies,
                                                        legacy_id=name)
                except Exception as err:
                    raise EnvironmentError(
                        f"Could not find '{file_name}' of '{name}' (hub repo '{repo}') in the cache and could "
                        f"not download it: {err}") from err
            init_configuration = dict(cls.pretrained_init_configuration.get(name, {}))
            for file_id in ("added_tokens_file", "special_tokens_map_file", "tokenizer_config_file"):
                vocab_files[file_id] = None
        else:
            if not os.path.exists(name):
                if file_utils.looks_like_repo_id(name):
                    folder = cls._hub_snapshot(name, hub_kwargs)
            else:
                folder = file_utils.subfolder_path(name, hub_kwargs["subfolder"])
            for file_id, file_name in cls.vocab_files_names.items():
                full = os.path.join(folder, file_name) if os.path.isdir(folder) else folder
                vocab_files[file_id] = full if os.path.exists(full) else None
            saved_directory = folder
            if os.path.exists(saved_directory) and not os.path.isdir(saved_directory):
                saved_directory = os.path.dirname(saved_directory)
            for file_id, file_name in (("added_tokens_file", ADDED_TOKENS_FILE),
                                       ("special_tokens_map_file", SPECIAL_TOKENS_MAP_FILE),
                                       ("tokenizer_config_file", TOKENIZER_CONFIG_FILE)):
                full = os.path.join(saved_directory, file_name)
                vocab_files[file_id] = full if os.path.exists(full) else None
            tokenizer_json = os.path.join(saved_directory, TOKENIZER_JSON_FILE)
            if any(vocab_files[f] is None for f in cls.vocab_files_names) and os.path.isfile(tokenizer_json):
                from_json = _FilesFromTokenizerJson(cls, tokenizer_json)
                vocab_files.update(from_json.vocab_files)
            if all(v is None for v in vocab_files.values()):
                raise EnvironmentError(
                    f"'{name}' is neither a known shortcut name ({', '.join(cls.max_model_input_sizes)}) nor a "
                    f"path holding tokenizer files ({', '.join(cls.vocab_files_names.values())})")

        tokenizer_config_file = vocab_files.pop("tokenizer_config_file", None)
        if tokenizer_config_file is not None:
            with open(tokenizer_config_file, encoding="utf-8") as f:
                init_kwargs = json.load(f)
            saved_init_inputs = init_kwargs.pop("init_inputs", ())
            if not inputs:
                inputs = tuple(saved_init_inputs)
        else:
            init_kwargs = init_configuration
        if from_json is not None:
            for key, value in from_json.init_kwargs.items():
                init_kwargs.setdefault(key, value)
        init_kwargs.update(kwargs)
        if name in cls.max_model_input_sizes:
            max_len = cls.max_model_input_sizes[name]
            if max_len is not None and isinstance(max_len, (int, float)):
                init_kwargs["max_len"] = min(init_kwargs.get("max_len", int(1e12)), max_len)
        added_tokens_file = vocab_files.pop("added_tokens_file", None)
        special_tokens_map_file = vocab_files.pop("special_tokens_map_file", None)
        for args_name, file_path in vocab_files.items():
            if args_name not in init_kwargs:
                init_kwargs[args_name] = file_path
        if special_tokens_map_file is not None:
            with open(special_tokens_map_file, encoding="utf-8") as f:
                for key, value in json.load(f).items():
                    if key not in init_kwargs:
                        init_kwargs[key] = value
        try:
            tokenizer = cls(*inputs, **init_kwargs)
        finally:
            if from_json is not None:
                from_json.cleanup()
        tokenizer.init_inputs = inputs
        tokenizer.init_kwargs = init_kwargs
        if from_json is not None:
            added = {t: i for t, i in from_json.added_tokens.items() if tokenizer._own_vocab().get(t) != i}
            tokenizer.added_tokens_encoder.update(added)
            tokenizer.added_tokens_decoder.update({i: t for t, i in added.items()})
        if added_tokens_file is not None:
            with open(added_tokens_file, encoding="utf-8") as f:
                added_tok_encoder = json.load(f)
            tokenizer.added_tokens_encoder.update(added_tok_encoder)
            tokenizer.added_tokens_decoder.update({v: k for k, v in added_tok_encoder.items()})
        flags = dict(from_json.added_token_flags) if from_json is not None else {}
        special = set(from_json.special_added) if from_json is not None else set()
        decoder = init_kwargs.get("added_tokens_decoder")
        for spec in decoder.values() if isinstance(decoder, dict) else ():
            if isinstance(spec, dict) and isinstance(spec.get("content"), str):
                flags[spec["content"]] = _token_flags(spec)
                if spec.get("special") is True:
                    special.add(spec["content"])
        if flags:  # a folder transformers saved: its added tokens split the text as they do there
            tokenizer._added_tokens_as_transformers = True
            tokenizer._added_token_flags = flags
        # tokens transformers added as special (add_tokens(..., special_tokens=True)): skipped in decoding there
        special -= set(tokenizer.all_special_tokens)
        if special:
            tokenizer._skipped_added_tokens = tokenizer.__dict__.get("_skipped_added_tokens", set()) | special
        return tokenizer

    @classmethod
    def _hub_snapshot(cls, repo_id, hub_kwargs):
        """The folder (the snapshot of the Hugging Face cache) of a hub repository's tokenizer files, as transformers
        reads a repo id: each file this class may read from the cache (the revision asked for), else downloaded
        when downloads are on. A repository none of whose files can be had is an OSError saying which were looked
        for; a folder with some but not the vocabulary gives from_pretrained's own error."""
        names = list(cls.vocab_files_names.values()) + [TOKENIZER_JSON_FILE, ADDED_TOKENS_FILE,
                                                         SPECIAL_TOKENS_MAP_FILE, TOKENIZER_CONFIG_FILE]
        found, errors = [], []
        for file_name in names:
            try:
                path = file_utils.hub_file((repo_id,), file_name, **hub_kwargs)
            except OSError as err:  # offline and not cached, no network, no such repository
                errors.append(err)
                # the others may still be cached, but asking the hub again would fail the same way, each time
                # after its connection timeout
                hub_kwargs = dict(hub_kwargs, local_files_only=True)
                continue
            if path is not None:
                found.append(path)
        if not found:
            raise EnvironmentError(
                f"'{repo_id}' is neither a known shortcut name nor a local folder, and the Hugging Face hub repository "
                f"of that name has none of {', '.join(names)}" + (f": {errors[0]}" if errors else ""))
        # (every file of one revision lies in the same snapshot folder, whether it was cached or downloaded)
        return os.path.dirname(found[0])

    def save_pretrained(self, save_directory, push_to_hub=False, legacy_format=None, **hub_options):
        """1.2.0's files (the vocabulary's, special_tokens_map.json, added_tokens.json) and tokenizer_config.json;
        their paths. legacy_format: transformers' choice of those files (True, None) or tokenizer.json alone
        (False, not written here). push_to_hub=True (with repo_id=...): uploaded as transformers does."""
        if legacy_format is False:
            raise ValueError("legacy_format=False asks for tokenizer.json alone, which this library does not write: "
                             "leave legacy_format unset (the vocabulary files, which transformers loads too)")
        if os.path.exists(save_directory) and not os.path.isdir(save_directory):
            raise ValueError(f"save_directory ({save_directory}) is a file, not a directory")
        os.makedirs(save_directory, exist_ok=True)  # (as transformers, and our models' save_pretrained)
        special_tokens_map_file = os.path.join(save_directory, SPECIAL_TOKENS_MAP_FILE)
        added_tokens_file = os.path.join(save_directory, ADDED_TOKENS_FILE)
        tokenizer_config_file = os.path.join(save_directory, TOKENIZER_CONFIG_FILE)
        tokenizer_config = copy.deepcopy(self.init_kwargs)
        tokenizer_config["init_inputs"] = copy.deepcopy(self.init_inputs)
        for file_id in self.vocab_files_names.keys():
            tokenizer_config.pop(file_id, None)
        # what transformers' AutoTokenizer builds from the folder (1.2.0 ignores it): the family's class
        tokenizer_config["tokenizer_class"] = next(
            c.__name__ for c in type(self).__mro__ if is_library_module(c.__module__))
        flags = self.__dict__.get("_added_token_flags")
        if flags and self._split_as_transformers():  # transformers' entry: both libraries reload the flags from it
            special = set(self.all_special_tokens) | self.__dict__.get("_skipped_added_tokens", set())
            tokenizer_config["added_tokens_decoder"] = {
                str(self._convert_token_to_id_with_added_voc(t)): {
                    "content": t, "lstrip": bool(f & _LSTRIP), "normalized": bool(f & _NORMALIZED),
                    "rstrip": bool(f & _RSTRIP), "single_word": bool(f & _SINGLE_WORD), "special": t in special}
                for t, f in flags.items()}
        with open(tokenizer_config_file, "w", encoding="utf-8") as f:
            f.write(json.dumps(tokenizer_config, ensure_ascii=False))
        with open(special_tokens_map_file, "w", encoding="utf-8") as f:
            f.write(json.dumps(self.special_tokens_map, ensure_ascii=False))
        with open(added_tokens_file, "w", encoding="utf-8") as f:
            f.write(json.dumps(self.added_tokens_encoder, ensure_ascii=False) if self.added_tokens_encoder else "{}")
        vocab_files = self.save_vocabulary(save_directory)
        self._push_saved(save_directory, push_to_hub, hub_options)
        return tuple(vocab_files) + (special_tokens_map_file, added_tokens_file)

    def save_vocabulary(self, save_directory):
        raise NotImplementedError

    @property
    def vocab_size(self):
        raise NotImplementedError

    def __len__(self):
        return self.vocab_size + len(self.added_tokens_encoder)

    def get_added_vocab(self) -> dict:
        """transformers' added vocabulary, token -> id by id: the special tokens (which transformers' tokenizers hold
        as added tokens) and the tokens add_tokens added."""
        vocab = {token: self.convert_tokens_to_ids(token) for token in self.all_special_tokens}
        vocab.update(self.added_tokens_encoder)
        return dict(sorted(vocab.items(), key=lambda item: item[1]))

    def add_tokens(self, new_tokens, special_tokens=False):
        """1.2.0's add_tokens (a list of str); also transformers' AddedToken objects (alone or in the list) and its
        special_tokens flag: a token marked special (that flag or AddedToken.special) is left out by
        batch_decode(skip_special_tokens=True), as transformers does, even when the vocabulary already has it. As in
        transformers, a str alone is one token (1.2.0 added its characters), and an empty one or a repeat is skipped
        (1.2.0 then failed on every text, or gave the token an id past len(tokenizer))."""
        if not new_tokens:
            return 0
        if isinstance(new_tokens, str) or _added_token(new_tokens)[1] is not None:
            new_tokens = [new_tokens]
        to_add_tokens = []
        for given in new_tokens:
            token, special = _added_token(given)
            if not isinstance(token, str):
                raise TypeError(f"new_tokens must hold str or AddedToken, got {type(given).__name__}")
            if not token:
                continue
            self._remember_flags(given, special_tokens)
            if special or special_tokens:
                self.__dict__.setdefault("_skipped_added_tokens", set()).add(token)
            if token != self.unk_token and token not in to_add_tokens and \
                    self.convert_tokens_to_ids(token) == self.convert_tokens_to_ids(self.unk_token):
                to_add_tokens.append(token)
                logger.info("Adding %s to the vocabulary", token)
        added_tok_encoder = dict((tok, len(self) + i) for i, tok in enumerate(to_add_tokens))
        self.added_tokens_encoder.update(added_tok_encoder)
        self.added_tokens_decoder.update({v: k for k, v in added_tok_encoder.items()})
        return len(to_add_tokens)

    def add_special_tokens(self, special_tokens_dict):
        if not special_tokens_dict:
            return 0
        added_tokens = 0
        for key, value in special_tokens_dict.items():
            if key not in self.SPECIAL_TOKENS_ATTRIBUTES:
                raise ValueError(f"special_tokens_dict key {key!r} is not one of {self.SPECIAL_TOKENS_ATTRIBUTES}")
            if key == "additional_special_tokens":
                if isinstance(value, (list, tuple)):  # transformers' AddedToken objects: their text
                    for t in value:
                        self._remember_flags(t, True)
                    value = [_added_token(t)[0] for t in value]
                if not (isinstance(value, (list, tuple)) and all(isinstance(t, str) for t in value)):
                    raise TypeError("additional_special_tokens must be a list of str or AddedToken")
                added_tokens += self.add_tokens(value)
            else:
                self._remember_flags(value, True)
                value = _added_token(value)[0]
                if not isinstance(value, str):
                    raise TypeError(f"{key} must be a str, got {type(value).__name__}")
                added_tokens += self.add_tokens([value])
            setattr(self, key, value)
        return added_tokens

    def _remember_flags(self, token, special):
        """The flags of an AddedToken given to add_tokens / add_special_tokens, for transformers' split; where that
        split serves, a str's too (transformers' defaults), as transformers splits on it even when the vocabulary
        has it (1.2.0 adds no such token)."""
        content, is_special = _added_token(token)
        given = self.__dict__.get("_added_token_flags", {})
        if not isinstance(content, str) or (is_special is None and (content in given or
                                                                    not self._split_as_transformers())):
            return  # (a str keeps the flags its token has)
        if is_special is not None and getattr(token, "single_word", False) and not self._split_as_transformers():
            _warn_once(f"AddedToken({content!r}, single_word=True): single_word is not honoured by 1.2.0's split "
                       "(the token also matches inside words)")
        flags = _token_flags(token if is_special is not None else {}, bool(special))
        self._added_token_flags = {**given, content: flags}

    def _split_as_transformers(self):
        """Whether the text splits on added and special tokens as transformers' tokenizers do (leftmost-longest
        matches, the AddedToken flags): folders transformers saved, and a family following transformers there
        (_strip_parts False); else 1.2.0's split (each token in turn)."""
        return not self._strip_parts or bool(self.__dict__.get("_added_tokens_as_transformers"))

    # ---- pickling (the C++ objects are rebuilt, as 1.2.0 tokenizers pickle) ----------------------------
    def _build_native(self):
        """(Re)creates the C++ objects from the Python state; subclasses with a core override it."""

    _core_model_built = None  # _core_model_key() when the C++ objects were built

    def _build_core(self):
        """_build_native, remembering the Python state it built from."""
        self._core_model_built = self._core_model_key()
        self._build_native()

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_core"] = None
        state["_core_state"] = None
        state.pop("_core_checked", None)  # epochs of this process
        state.pop("_hooks_checked", None)
        state.pop("_layout_cache", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._build_core()

    # ---- tokenization -----------------------------------------------------------------------------
    def _split_tokens(self):
        tokens = list(self.added_tokens_encoder.keys()) + self.all_special_tokens
        if self._split_as_transformers():  # transformers also splits on added tokens its vocabulary has
            known = set(tokens)
            tokens += [t for t in self.__dict__.get("_added_token_flags", ()) if t not in known]
        return tokens

    def _split_flags(self, tokens):
        """The AddedToken flag bits of each split token (transformers' defaults where none were given)."""
        given = self.__dict__.get("_added_token_flags", {})
        plain = set(self.all_special_tokens) | self.__dict__.get("_skipped_added_tokens", set())
        trimmed = _CONTENT_OFFSETS * self._added_token_offsets_trimmed
        return [given.get(t, 0 if t in plain else _NORMALIZED) | trimmed for t in tokens]

    def _added_token_normalization(self):
        """How transformers' normalizer of the family changes the text its normalized added tokens are matched in
        (and those tokens): _LOWER_CASE | _STRIP_ACCENTS | _CLEAN_TEXT | _CHINESE_CHARS bits, 0 for none."""
        return 0

    # transformers' offsets of an added token cover the whitespace its lstrip / rstrip took, but where the family's
    # post-processor trims offsets (RoBERTa)
    _added_token_offsets_trimmed = False

    def _core_never_split(self):
        return []

    def _core_never_split_key(self):
        return None

    def _core_config_state(self):
        """Changes whenever the added/special-token state a C++ core holds must be pushed again."""
        extra = self._additional_special_tokens
        return (self._state_version, self.added_tokens_encoder.version, id(self.added_tokens_encoder),
                tuple(extra) if isinstance(extra, list) else extra, self._core_never_split_key(),
                self._model_unk_token(), self._split_as_transformers(),
                tuple(self.__dict__.get("_added_token_flags", {}).items()))

    def _core_unwatched(self):
        """The part of the core's inputs that changes without an attribute set or a tracked-dict edit: the contents
        of additional_special_tokens (a list users append to or edit in place; 1.2.0's getter hands out the list)."""
        extra = self._additional_special_tokens
        return tuple(extra) if isinstance(extra, list) else extra

    def _model_unk_token(self):
        """The token the model emits for what it cannot tokenize (BERT's WordPiece keeps its own)."""
        return self._unk_token

    def _configure_core(self, core):
        split = self._split_tokens()
        unk = self._model_unk_token()
        core.configure(
            split,
            [self._convert_token_to_id_with_added_voc(t) for t in split],
            [self._convert_token_to_id(t) for t in split],
            unk if unk is not None else "",
            self._convert_token_to_id_with_added_voc(unk) if unk is not None else None,
            self._convert_token_to_id(unk) if unk is not None else None,
            {k: v for k, v in self.added_tokens_encoder.items() if isinstance(v, int)},
            list(self._core_never_split()), self._split_as_transformers(), self._split_flags(split),
            self._added_token_normalization())

    def _core_model_key(self):
        """The Python state (options, vocabularies) the C++ model is built from; when it changes (1.2.0
        reads it on every call, so edits after construction count) the model is rebuilt."""
        return None

    _core_checked = None  # (_state_epoch, _core_unwatched()) when _native last checked the core in full

    # 1.2.0's tokenization methods: where a subclass, a patch of the class or the instance replaces one, the Python
    # path serves, which calls it (the C++ core would silently do the library's work instead)
    _python_hooks = ("tokenize", "_tokenize", "convert_tokens_to_ids", "_convert_token_to_id",
                     "_convert_token_to_id_with_added_voc", "bpe")

    def _core_helpers(self):
        """name -> class of the helper objects whose tokenize the C++ core stands in for (BERT's basic_tokenizer)."""
        return {}

    def _hooks_replaced(self):
        """Whether a hook or a helper is replaced; decided once per state epoch (replacing one moves it: a setattr
        on the tokenizer or its helpers, a patch of a tokenizer class), as XLM asks it on every call with lang."""
        checked = self.__dict__.get("_hooks_checked")
        if checked is not None and checked[0] == _state_epoch:
            return checked[1]
        replaced = _replaced(self, self._python_hooks) or any(
            helper is not None and (type(helper) is not helper_class or "tokenize" in vars(helper))
            for helper, helper_class in ((self.__dict__.get(name), cls) for name, cls in self._core_helpers().items()))
        self.__dict__["_hooks_checked"] = (_state_epoch, replaced)  # (not a state change: no __setattr__)
        return replaced

    def _native(self):
        """The C++ core, rebuilt if the Python state it was built from changed, holding the current
        added/special tokens; None where the Python path serves (no core, settings it lacks, hooks replaced)."""
        core = self._core
        if core is not None and self._core_checked == (_state_epoch, self._core_unwatched()):
            return core  # nothing changed since the last full check
        if core is None or self._hooks_replaced():
            return None
        if self._core_model_key() != self._core_model_built:
            self._build_core()
            self._core_state = None
            if self._core is None:
                return None
        state = self._core_config_state()
        if state != self._core_state:
            self._configure_core(self._core)
            self._core_state = state
        object.__setattr__(self, "_core_checked", (_state_epoch, self._core_unwatched()))
        return self._core

    def tokenize(self, text, pair=None, add_special_tokens=False, **kwargs):
        """Text to tokens; added and special tokens are never split (1.2.0 semantics). transformers' pair (its
        tokens follow) and add_special_tokens=True (the model's special tokens around them, as ids would have
        them: a piece outside the vocabulary reads as unk_token) are taken too."""
        tokens = self._tokenize_one(text, **kwargs)
        pair_tokens = None if pair is None else self._tokenize_one(pair, **kwargs)
        if not add_special_tokens:
            return tokens if pair_tokens is None else tokens + pair_tokens
        ids = self.build_inputs_with_special_tokens(
            self.convert_tokens_to_ids(tokens), None if pair_tokens is None else self.convert_tokens_to_ids(pair_tokens))
        return self.convert_ids_to_tokens(ids)

    def _tokenize_one(self, text, **kwargs):
        text = _check_text("text", text)
        core = None if kwargs else self._native()
        if core is not None:
            return core.tokenize(text)
        return self._tokenize_python(text, **kwargs)

    def _tokenize_python(self, text, **kwargs):
        """1.2.0's tokenize: the text split on added and special tokens, _tokenize on the parts between them."""
        if not text:
            return []
        if not self._split_tokens():
            return self._tokenize(text, **kwargs)
        return [token for a, b, fixed, rest, _ in self._chunks_with_spans(text)
                for token in ([fixed] if fixed else self._tokenize(_with_rest(text, a, b, rest), **kwargs))]

    def _tokenize(self, text, **kwargs):
        raise NotImplementedError

    def convert_tokens_to_ids(self, tokens):
        if tokens is None:
            return None
        if isinstance(tokens, str):
            return self._convert_token_to_id_with_added_voc(tokens)
        if type(self)._convert_token_to_id_with_added_voc is PreTrainedTokenizer._convert_token_to_id_with_added_voc:
            added, convert = self.added_tokens_encoder, self._convert_token_to_id  # its body, one call less a token
            ids = [added[token] if token in added else convert(token) for token in tokens]
        else:
            ids = [self._convert_token_to_id_with_added_voc(token) for token in tokens]
        self._warn_length(len(ids))
        return ids

    def _warn_length(self, n):
        if n > self.max_len:
            _warn_outside_call(_TOO_LONG, n, self.max_len)

    def _warn_rows_too_long(self, lengths):
        """transformers' warning about __call__'s rows: once per tokenizer, the first row past model_max_length."""
        n = next((n for n in lengths if n > self.max_len > 0), None)
        if n is not None and not self.__dict__.get("_warned_too_long"):
            self.__dict__["_warned_too_long"] = True  # (not a state change: no __setattr__)
            logger.warning(_TOO_LONG, n, self.max_len)

    def _convert_token_to_id_with_added_voc(self, token):
        if token in self.added_tokens_encoder:
            return self.added_tokens_encoder[token]
        return self._convert_token_to_id(token)

    def _convert_token_to_id(self, token):
        raise NotImplementedError

    def _encode_one(self, text, pair, **kwargs):
        """ids of one text: pair=False like convert_tokens_to_ids(tokenize(text)), pair=True like
        1.2.0's pair path ([_convert_token_to_id(t) for t in tokenize(text)], added tokens not looked up)."""
        text = _check_text("text", text)
        core = None if kwargs else self._native()
        if core is not None:
            ids = core.encode(text, pair)
            if not pair:
                self._warn_length(len(ids))
            return ids
        tokens = self.tokenize(text, **kwargs)
        if pair:
            return [self._convert_token_to_id(t) for t in tokens]
        return self.convert_tokens_to_ids(tokens)

    def encode(self, text, text_pair=None, add_special_tokens=False, **kwargs):
        """1.2.0: ids of text; with text_pair, a tuple of two id lists (or one list with the model's
        special tokens when add_special_tokens=True). Other keyword arguments go to tokenize, as in 1.2.0, except
        the options of transformers' encode (max_length, truncation, padding, return_tensors, stride, ...; 1.2.0
        has no _tokenize taking them): with one of those, transformers' encode, i.e. __call__'s input_ids (one list
        for a pair, a [1, n] tensor with return_tensors), special tokens still only on request."""
        if kwargs and not _ENCODE_CALL_OPTIONS.isdisjoint(kwargs):
            core = (self._native() if len(kwargs) == 1 and kwargs.get("return_tensors") in ("np", "pt")
                    and text_pair is None and not add_special_tokens and text.__class__ is str else None)
            if core is not None:  # the ids straight into an array, no Python int per id
                ids = _ids_array(core.encode_buffer(text), kwargs["return_tensors"])
                if ids.shape[1] > self.max_len:
                    self._warn_rows_too_long((ids.shape[1],))
                return ids
            other = sorted(set(kwargs) - _ENCODE_CALL_OPTIONS - self._tokenize_call_options)
            if other:
                raise TypeError(f"encode: {other} cannot be combined with transformers' options "
                                f"{sorted(set(kwargs) & _ENCODE_CALL_OPTIONS)}")
            return self(text, text_pair, add_special_tokens=add_special_tokens, return_token_type_ids=False,
                        return_attention_mask=False, **kwargs)["input_ids"]
        if add_special_tokens:
            self._check_special_ids()
        core = self._native() if text_pair is None and not kwargs and text.__class__ is str else None
        if core is not None:
            ids = core.encode(text, False)  # the common case, without detours
            if len(ids) > self.max_len:
                self._warn_length(len(ids))
            return self.add_special_tokens_single_sentence(ids) if add_special_tokens else ids
        if text_pair is None:
            ids = self._encode_one(text, False, **kwargs)
            return self.add_special_tokens_single_sentence(ids) if add_special_tokens else ids
        first = self._encode_one(text, True, **kwargs)
        second = self._encode_one(text_pair, True, **kwargs)
        if add_special_tokens:
            return self.add_special_tokens_sentences_pair(first, second)
        return first, second

    def add_special_tokens_single_sentence(self, token_ids):
        _warn_outside_call("This tokenizer does not make use of special tokens. The sequence has been returned with "
                           "no modification.")
        return token_ids

    def add_special_tokens_sentences_pair(self, token_ids_0, token_ids_1):
        _warn_outside_call("This tokenizer does not make use of special tokens. The two sequences have been "
                           "concatenated.")
        return token_ids_0 + token_ids_1

    def num_added_special_tokens(self, pair=False):
        """How many ids add_special_tokens_* adds (for truncation)."""
        if pair:
            return len(self.add_special_tokens_sentences_pair([], []))
        return len(self.add_special_tokens_single_sentence([]))

    @_as_call
    def num_special_tokens_to_add(self, pair=False):
        """transformers' name of num_added_special_tokens (its scripts size max_length with it)."""
        return self.num_added_special_tokens(pair)

    def create_token_type_ids(self, len_0, len_1=None):
        """Token type ids matching add_special_tokens_* output: 1 from the second segment's first id on, 0 before
        (as transformers for a model without special tokens, e.g. GPT-2)."""
        if len_1 is None:
            return [0] * len(self.add_special_tokens_single_sentence([0] * len_0))
        source = self._source_positions(len_0, len_1)
        first_b = next((k for k, j in enumerate(source) if j is not None and j >= len_0), len(source))
        return [0] * first_b + [1] * (len(source) - first_b)

    # transformers' names of the layout above (its data collators and scripts call them); quiet like __call__
    @_as_call
    def build_inputs_with_special_tokens(self, token_ids_0, token_ids_1=None):
        """token_ids_0 (and token_ids_1) with the model's special tokens, as encode(add_special_tokens=True)."""
        if token_ids_1 is None:
            return self.add_special_tokens_single_sentence(list(token_ids_0))
        return self.add_special_tokens_sentences_pair(list(token_ids_0), list(token_ids_1))

    @_as_call
    def create_token_type_ids_from_sequences(self, token_ids_0, token_ids_1=None):
        """The token type ids of build_inputs_with_special_tokens' output."""
        return self.create_token_type_ids(len(token_ids_0), None if token_ids_1 is None else len(token_ids_1))

    @_as_call
    def get_special_tokens_mask(self, token_ids_0, token_ids_1=None, already_has_special_tokens=False):
        """1 for a special token, 0 for a token of the text(s): of build_inputs_with_special_tokens' output, or with
        already_has_special_tokens of ids that hold them already (any id of all_special_ids, as transformers)."""
        if already_has_special_tokens:
            if token_ids_1 is not None:
                raise ValueError("You should not supply a second sequence if the provided sequence of ids is already "
                                 "formatted with special tokens for the model.")
            special = self._special_ids_of_transformers()
            return [1 if int(t) in special else 0 for t in token_ids_0]
        source = self._source_positions(len(token_ids_0), None if token_ids_1 is None else len(token_ids_1))
        return [int(j is None) for j in source]

    def convert_ids_to_tokens(self, ids, skip_special_tokens=False):
        if hasattr(ids, "tolist"):  # tensors and numpy arrays (1.2.0 looked their elements up as keys: unk / None)
            ids = ids.tolist()
        if isinstance(ids, int):
            if ids in self.added_tokens_decoder:
                return self.added_tokens_decoder[ids]
            return self._convert_id_to_token(ids)
        all_special_ids = self.all_special_ids if skip_special_tokens else ()
        tokens = []
        for index in ids:
            if skip_special_tokens and index in all_special_ids:
                continue
            if index in self.added_tokens_decoder:
                tokens.append(self.added_tokens_decoder[index])
            else:
                tokens.append(self._convert_id_to_token(index))
        return tokens

    def _convert_id_to_token(self, index):
        raise NotImplementedError

    def convert_tokens_to_string(self, tokens):
        return " ".join(self.convert_ids_to_tokens(tokens))

    def decode(self, token_ids, skip_special_tokens=False, clean_up_tokenization_spaces=None,
               spaces_between_special_tokens=True):
        """1.2.0: ids to text (cleaned up unless clean_up_tokenization_spaces=False); a text holding sep_token comes
        back as a list of its segments. One id (an int, a 0-d tensor or array) or a batch (a list of id lists, a 2-d
        tensor or array) decode as in transformers 5: the token's text, batch_decode's list of texts.
        spaces_between_special_tokens: transformers' option of its Python tokenizers, which its fast ones (like
        these) ignore."""
        if _is_one_id(token_ids):  # 1.2.0 spelled the token out letter by letter; transformers: the token's text
            return self.batch_decode([[int(token_ids)]], skip_special_tokens, clean_up_tokenization_spaces)[0]
        token_ids = _id_list(token_ids)
        if _is_batch(token_ids):
            return self.batch_decode(token_ids, skip_special_tokens, clean_up_tokenization_spaces)
        clean_up_tokenization_spaces = clean_up_tokenization_spaces is not False
        text = self._decode_text(token_ids, skip_special_tokens)
        if self._sep_token is not None and self._sep_token in text:
            text = text.replace(self._cls_token, self._sep_token)
            split_text = [s for s in text.split(self._sep_token) if len(s) > 0]
            if clean_up_tokenization_spaces:
                return [self.clean_up_tokenization(t) for t in split_text]
            return split_text
        if clean_up_tokenization_spaces:
            return self.clean_up_tokenization(text)
        return text

    def _decode_text(self, token_ids, skip_special_tokens):
        """1.2.0's decode up to its split at sep_token and its clean-up."""
        token_ids = _id_list(token_ids)
        filtered_tokens = self.convert_ids_to_tokens(token_ids, skip_special_tokens=skip_special_tokens)
        all_special_ids = self.all_special_ids if skip_special_tokens else ()
        sub_texts = []
        current_sub_text = []
        for token in filtered_tokens:
            if skip_special_tokens and token in all_special_ids:
                continue
            if token in self.added_tokens_encoder:
                if current_sub_text:
                    sub_texts.append(self.convert_tokens_to_string(current_sub_text))
                    current_sub_text = []
                sub_texts.append(" " + token)
            else:
                current_sub_text.append(token)
        if current_sub_text:
            sub_texts.append(self.convert_tokens_to_string(current_sub_text))
        return "".join(sub_texts)

    def _decoder_cleanup(self, text):
        """What transformers' decoder of this family cleans up by itself (in batch_decode)."""
        return text

    @staticmethod
    def clean_up_tokenization(out_string):
        """1.2.0's clean-up: transformers' one, and " do not" -> " don't" (no other rule makes or breaks one)."""
        return _clean_up_tokenization(out_string).replace(" do not", " don't")

    # ---- what users expect today: the calls of Hugging Face transformers --------------------------------
    model_input_names = ["input_ids", "attention_mask"]  # transformers' default; decides return_*=None
    clean_up_tokenization_spaces = False  # batch_decode's default, as transformers (decode's is 1.2.0's True)
    # transformers' fast tokenizer of the family is a BPE model: its decoding skips the clean-up unless this is set
    _bpe_in_transformers = False
    clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output = False

    @property
    def model_max_length(self):
        """transformers' name of 1.2.0's max_len (the same value)."""
        return self.max_len

    @model_max_length.setter
    def model_max_length(self, value):
        self.max_len = value

    def get_vocab(self):
        """token -> id of the vocabulary and the added tokens (as transformers)."""
        vocab = dict(self._own_vocab())
        vocab.update(self.added_tokens_encoder)
        return vocab

    def _own_vocab(self):
        """token -> id of the model's vocabulary (families with a dict give it)."""
        return {self._convert_id_to_token(i): i for i in range(self.vocab_size)}

    @property
    def is_fast(self):
        """transformers' flag for tokenizers whose encodings know their words (word_ids)."""
        return type(self)._run_word_ids is not PreTrainedTokenizer._run_word_ids

    def batch_decode(self, sequences, skip_special_tokens=False, clean_up_tokenization_spaces=None,
                     spaces_between_special_tokens=True):
        """transformers 5: one str per sequence (without decode's 1.2.0 split at sep_token); a flat list or 1-d tensor
        of ids is one sequence."""
        if hasattr(sequences, "tolist"):
            sequences = sequences.tolist()
        if isinstance(sequences, (list, tuple)) and sequences and all(map(_is_one_id, sequences)):
            sequences = [[int(i) for i in sequences]]
        if clean_up_tokenization_spaces is None:
            clean_up_tokenization_spaces = self.clean_up_tokenization_spaces
        if clean_up_tokenization_spaces and self._bpe_in_transformers and \
                not self.clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output:
            clean_up_tokenization_spaces = False
            _warn_once(f"Ignoring clean_up_tokenization_spaces=True for BPE tokenizer {type(self).__name__}. The "
                       "clean_up_tokenization post-processing step is designed for WordPiece tokenizers and is "
                       "destructive for BPE (it strips spaces before punctuation). Set "
                       "clean_up_tokenization_spaces=False to suppress this warning, or set "
                       "clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output=True to force cleanup "
                       "anyway.")
        special = self._special_ids_of_transformers() if skip_special_tokens else ()
        if special and self.__dict__.get("_skipped_added_tokens"):  # add_tokens(..., special): skipped here only
            special |= {self._convert_token_to_id_with_added_voc(t) for t in self._skipped_added_tokens}
        out = []
        for ids in sequences:  # as transformers: its decoder's own clean-up, then its clean_up_tokenization if asked
            if special:
                ids = [i for i in (ids.tolist() if hasattr(ids, "tolist") else ids) if i not in special]
            text = self._batch_decode_text(ids, skip_special_tokens)
            out.append(_clean_up_tokenization(text) if clean_up_tokenization_spaces else text)
        return out

    def _batch_decode_text(self, ids, skip_special_tokens):
        """One sequence as transformers' tokenizer of the family decodes it, before its clean_up_tokenization: every
        token, added ones too, through the family's decoder (1.2.0's decode puts a space before an added token and
        decodes the runs between added tokens on their own: "a newtokc" for transformers' "a newtok c")."""
        tokens = self.convert_ids_to_tokens(_id_list(ids), skip_special_tokens=skip_special_tokens)
        return self._decoder_cleanup(self.convert_tokens_to_string(tokens))

    def _ids_batch(self, texts, pair, offsets, fixed=False):
        """ids (and offsets, or None) of many texts; C++ cores run them across threads without the GIL. fixed: also
        per text {position: text matched} of the added / special tokens it was split on (the text as transformers'
        tokens() shows it: what lstrip / rstrip took included, a normalized token's match normalized) and {position:
        piece} of the model's pieces that are not their id's token (an unknown piece, "x</w>" or sentencepiece's
        text)."""
        texts = [_check_text("text", t) for t in texts]
        core = self._native()
        if core is not None:
            torch = sys.modules.get("torch")
            if torch is not None:  # where torch is in use, the C++ pool follows its thread setting (as the ops do)
                from transformers_fast import _C
                _C.set_num_threads(torch.get_num_threads())
            out = core.encode_batch(texts, pair, offsets, fixed)
            return out if offsets or fixed else (out, None)
        if offsets and type(self)._tokenize_with_offsets is PreTrainedTokenizer._tokenize_with_offsets:
            raise NotImplementedError(f"{type(self).__name__} does not compute offsets")
        if offsets or fixed:
            out = [self._encode_chunks(t, pair, offsets) for t in texts]
            ids, offs = [x[0] for x in out], [x[1] for x in out] if offsets else None
            return (ids, offs, [x[2] for x in out], [x[3] for x in out]) if fixed else (ids, offs)
        return [self._encode_one(t, pair) for t in texts], None

    def _tokenize_with_offsets(self, text):
        """(token, (start, end)) of _tokenize(text); families without a C++ core that compute offsets define it."""
        raise NotImplementedError

    _strip_parts = True  # 1.2.0: the parts of the text between added/special tokens are stripped

    def _chunks_with_spans(self, text):
        """1.2.0's split of text on added and special tokens, each chunk with its (start, end) in text, the token
        it is (None for text), a token's offsets where they are not its (start, end) (else None; for text: the rest of
        the characters a token took part of, _chunks_as_transformers' (head, tail), or None) and the text it matched
        as transformers' tokens() shows it (_ids_batch; None for text): each token in turn
        splits the chunks not yet fixed, the parts stripped, empty ones dropped. Whitespace alone gives no chunk (1.2.0
        returned one special token picked by set order there). A family whose _strip_parts is False does not strip
        the parts (empty ones are still dropped); where _split_as_transformers, the split is transformers'."""
        strip_parts = self._strip_parts
        if strip_parts and not text.strip():
            return []
        if self._split_as_transformers():
            return self._chunks_as_transformers(text, strip_parts)
        specials = set(self.all_special_tokens)
        fixed = lambda piece: piece in self.added_tokens_encoder or piece in specials  # noqa: E731
        chunks = [(0, len(text))]
        for tok in self._split_tokens():
            out = []
            for start, end in chunks:
                if fixed(text[start:end]):
                    out.append((start, end))
                    continue
                parts, at = [], start
                while True:  # text[start:end].split(tok), as spans
                    k = text.find(tok, at, end) if tok else -1
                    if k < 0:
                        parts.append((at, end))
                        break
                    parts.append((at, k))
                    at = k + len(tok)
                for i, (a, b) in enumerate(parts):
                    if strip_parts:
                        piece = text[a:b]
                        a += len(piece) - len(piece.lstrip())
                        b -= len(piece) - len(piece.rstrip())
                    if i == 0 and a >= b:
                        if len(parts) > 1:
                            out.append((parts[0][1], parts[0][1] + len(tok)))
                    elif i == len(parts) - 1:
                        if a < b:
                            out.append((a, b))
                    else:
                        if a < b:
                            out.append((a, b))
                        out.append((parts[i][1], parts[i][1] + len(tok)))
            chunks = out
        return [(a, b, text[a:b], None, text[a:b]) if fixed(text[a:b]) else (a, b, None, None, None)
                for a, b in chunks]

    def _chunks_as_transformers(self, text, strip_parts):
        """_chunks_with_spans as tokenizers' AddedVocabulary splits (the C++ core's hf_split): the tokens not
        normalized first, then the others in the parts left (both matched as _added_token_normalizer leaves them), each
        pass taking the leftmost-longest match; a single_word token only between non-word characters, lstrip / rstrip
        taking the whitespace beside it (its offsets cover that whitespace unless _CONTENT_OFFSETS). A match may take
        part of a character's normalized form (ﬁ's f): the text beside it then has the rest, normalized, before (head)
        or after (tail) its characters, which are tokenized with it, as transformers (and the C++ core) do."""
        lib = _core_lib()
        word, space = lib.is_word_char, lib.is_space_char  # (Rust regex's \w and \s)
        tokens = self._split_tokens()
        flags = dict(zip(tokens, self._split_flags(tokens)))
        # (start, end, token or None, the token's own (start, end), the text it matched)
        chunks = [(0, len(text), None, None, None)]
        for normalized in (False, True):
            group = [t for t in tokens if bool(flags[t] & _NORMALIZED) == normalized]
            norm = self._added_token_normalizer() if normalized else None
            patterns = {t: norm(t)[0] if norm else t for t in group}
            group = [t for t in group if patterns[t]]
            out = []
            for b, e, tok, own, shown in chunks:
                if tok is not None or not group:
                    out.append((b, e, tok, own, shown))
                    continue
                h, anchors = norm(text[b:e]) if norm else (text[b:e], None)
                starts, ends = _normalized_positions(b, anchors)
                keys = [x[0] for x in anchors or ()]
                pairs = {x[0]: b + x[4] for x in anchors or () if x[4] != x[2]}  # (a pair's offsets: its second)

                def unit_start(i):  # where text that begins at h[i] begins in text (a pair of quotes: at the first)
                    return pairs.get(i, starts(i))

                def cut(i):  # the anchor whose normalized form h[i] is strictly inside of (a match cuts it), or None
                    j = bisect.bisect_right(keys, i) - 1
                    return anchors[j] if j >= 0 and anchors[j][0] < i < anchors[j][0] + anchors[j][1] else None

                def part(x, y, begin, end):  # h[x:y] as text from begin to end, with the rest of a cut character
                    hx, ty = cut(x), cut(y)
                    if hx is not None and hx is ty:  # (inside one character: only its rest)
                        return begin, begin, None, (h[x:y], ""), None
                    rest = (h[x:hx[0] + hx[1]] if hx else "", h[ty[0]:y] if ty else "")
                    return begin, end, None, rest if hx or ty else None, None

                at = pos = 0
                at_text = b
                while True:
                    hits = [(k, t) for t in group for k in [h.find(patterns[t], pos)] if k >= 0]
                    if not hits:
                        break
                    k, t = min(hits, key=lambda hit: (hit[0], -len(patterns[hit[1]])))  # leftmost, then longest
                    start, stop = k, k + len(patterns[t])
                    pos = stop
                    if flags[t] & _SINGLE_WORD and ((start > 0 and word(h[start - 1])) or
                                                    (stop < len(h) and word(h[stop]))):
                        continue
                    if flags[t] & _LSTRIP:
                        while start > at and space(h[start - 1]):
                            start -= 1
                    if flags[t] & _RSTRIP:
                        while stop < len(h) and space(h[stop]):
                            stop += 1
                    # (a match that starts inside the character the one before ended in has that whole character too)
                    first = starts(start) if cut(start) else max(starts(start), at_text)
                    if at < start:  # (what the normalizer drops at either end of a part gives nothing, as there)
                        out.append(part(at, start, max(unit_start(at), at_text),
                                        min(ends(start), first, unit_start(start))))
                    pos = at = stop  # (no match inside the whitespace taken: parts never overlap)
                    at_text = ends(stop)
                    own = (max(starts(k), first), ends(k + len(patterns[t])))
                    out.append((first, at_text, t, own, h[start:stop]))
                if at < len(h):
                    out.append(part(at, len(h), max(unit_start(at), at_text), ends(len(h))))
            chunks = out
        spans = []
        for a, b, tok, own, shown in chunks:
            if tok is not None:
                spans.append((own[0], own[1], tok, own if flags[tok] & _CONTENT_OFFSETS else (a, b), shown))
                continue
            if strip_parts and own is None:
                piece = text[a:b]
                a, b = a + len(piece) - len(piece.lstrip()), b - len(piece) + len(piece.rstrip())
            if a < b or own is not None:
                spans.append((a, b, None, own, None))
        return spans

    def _added_token_normalizer(self):
        """For the families without a C++ core: a function from a text to that text as the family's transformers
        normalizer leaves it for its normalized added tokens, with the (start, end) of the characters of the text each
        of its characters comes from; None where the text is matched as it is."""
        return None

    def _fixed_token_span(self, text, start, end):
        """The offsets of an added or special token found at text[start:end]."""
        return start, end

    def _encode_chunks(self, text, pair, offsets):
        """ids (as _encode_one) of one text from its chunks, with the character offsets (through
        _tokenize_with_offsets; None unless offsets), {position: text matched} of the added / special tokens it was
        split on and {position: piece} of the model's pieces that are not their id's token (_ids_batch's fixed)."""
        text = _check_text("text", text)
        tokens, offs, fixed_at = [], [], {}
        for a, b, fixed, span, shown in self._chunks_with_spans(text):
            if fixed:
                fixed_at[len(tokens)] = shown
                tokens.append(fixed)
                offs.append(span or self._fixed_token_span(text, a, b))
            elif offsets:
                kh, mid = len(span[0]) if span else 0, b - a
                for tok, (s, e) in self._tokenize_with_offsets(_with_rest(text, a, b, span)):
                    tokens.append(tok)  # (a head's characters: the one before a; a tail's: the one at b)
                    offs.append((a - 1 if s < kh else a + s - kh if s < kh + mid else b,
                                 a + max(0, e - kh) if e <= kh + mid else b + 1))
            else:
                tokens.extend(self._tokenize(_with_rest(text, a, b, span)))
        ids = [self._convert_token_to_id(t) for t in tokens] if pair else self.convert_tokens_to_ids(tokens)
        pieces = {k: t for k, (t, u) in enumerate(zip(tokens, self.convert_ids_to_tokens(ids)))
                  if t != u and k not in fixed_at}
        return ids, offs if offsets else None, fixed_at, pieces

    def encode_plus(self, text, text_pair=None, add_special_tokens=True, **kwargs):
        """One example as a dict; the options of __call__."""
        return self(text, text_pair, add_special_tokens=add_special_tokens, **kwargs)

    def batch_encode_plus(self, batch_text_or_text_pairs, add_special_tokens=True, is_split_into_words=False,
                          **kwargs):
        """transformers: a batch of texts or of (text, pair) tuples; the options of __call__."""
        texts, pairs = _texts_and_pairs(batch_text_or_text_pairs, is_split_into_words)
        return self._encode_batch(texts, pairs, False, add_special_tokens=add_special_tokens,
                                  is_split_into_words=is_split_into_words, **kwargs)

    def __call__(self, text=None, text_pair=None, add_special_tokens=True, padding=False, truncation=None,
                 max_length=None, stride=0, is_split_into_words=False, pad_to_multiple_of=None, padding_side=None,
                 return_tensors=None, return_token_type_ids=None, return_attention_mask=None,
                 return_overflowing_tokens=False, return_special_tokens_mask=False, return_offsets_mapping=False,
                 return_length=False, verbose=True, pad_to_max_length=False, truncation_strategy=None, *,
                 text_target=None, text_pair_target=None):
        """As transformers: text_target (and text_pair_target) encoded with the same options; given with text, its
        input_ids come back as the encoding's labels, alone as the encoding itself."""
        options = dict(add_special_tokens=add_special_tokens, padding=padding, truncation=truncation,
                       max_length=max_length, stride=stride, is_split_into_words=is_split_into_words,
                       pad_to_multiple_of=pad_to_multiple_of, padding_side=padding_side, return_tensors=return_tensors,
                       return_token_type_ids=return_token_type_ids, return_attention_mask=return_attention_mask,
                       return_overflowing_tokens=return_overflowing_tokens,
                       return_special_tokens_mask=return_special_tokens_mask,
                       return_offsets_mapping=return_offsets_mapping, return_length=return_length, verbose=verbose,
                       pad_to_max_length=pad_to_max_length, truncation_strategy=truncation_strategy)
        if text is None and text_target is None:
            raise ValueError("You need to specify either `text` or `text_target`.")
        if text_target is None:
            return self._call_one(text, text_pair, **options)
        targets = self._call_one(text_target, text_pair_target, **options)
        if text is None:
            return targets
        encodings = self._call_one(text, text_pair, **options)
        encodings["labels"] = targets["input_ids"]
        return encodings

    def _call_one(self, text, text_pair=None, add_special_tokens=True, padding=False, truncation=None,
                  max_length=None, stride=0, is_split_into_words=False, pad_to_multiple_of=None, padding_side=None,
                  return_tensors=None, return_token_type_ids=None, return_attention_mask=None,
                  return_overflowing_tokens=False, return_special_tokens_mask=False, return_offsets_mapping=False,
                  return_length=False, verbose=True, pad_to_max_length=False, truncation_strategy=None):
        """Encodes one text or a batch as transformers' fast tokenizers do: a BatchEncoding of input_ids,
        token_type_ids / attention_mask (by default as model_input_names says), and on request
        special_tokens_mask, offset_mapping, length, overflow_to_sample_mapping. padding: False, True/"longest"
        or "max_length"; truncation: True/"longest_first", "only_first", "only_second", False/"do_not_truncate",
        or None: longest_first when max_length is given without padding (as in transformers). is_split_into_words:
        a text is a list of words, each tokenized alone (word_ids are their indices). verbose: transformers'
        warnings (a row longer than model_max_length, once per tokenizer; max_length shorter than the special
        tokens); False silences them. 1.2.0's warnings about one text stay quiet here. pad_to_max_length and
        truncation_strategy: transformers 2-4's options, read as its version 4 read them (with its FutureWarning)."""
        if is_split_into_words:
            single = isinstance(text, (list, tuple)) and (not text or isinstance(text[0], (str, bytes)))
        else:
            single = isinstance(text, (str, bytes))
        texts = [text] if single else list(text)
        pairs = None
        if single and isinstance(text_pair, (str, bytes)) and not text_pair:
            text_pair = None  # as Hugging Face: an empty pair text is no pair (in a batch it is one)
        if text_pair is not None:
            pairs = [text_pair] if single else list(text_pair)
        elif not single and texts and isinstance(texts[0], (list, tuple)):  # a batch of (text, pair), as transformers
            texts, pairs = _texts_and_pairs(texts, is_split_into_words)
        return self._encode_batch(texts, pairs, single, add_special_tokens, padding, truncation, max_length, stride,
                                  is_split_into_words, pad_to_multiple_of, padding_side, return_tensors,
                                  return_token_type_ids, return_attention_mask, return_overflowing_tokens,
                                  return_special_tokens_mask, return_offsets_mapping, return_length, verbose,
                                  pad_to_max_length, truncation_strategy)

    @_as_call
    def _encode_batch(self, texts, pairs, single, add_special_tokens=True, padding=False, truncation=None,
                      max_length=None, stride=0, is_split_into_words=False, pad_to_multiple_of=None, padding_side=None,
                      return_tensors=None, return_token_type_ids=None, return_attention_mask=None,
                      return_overflowing_tokens=False, return_special_tokens_mask=False, return_offsets_mapping=False,
                      return_length=False, verbose=True, pad_to_max_length=False, truncation_strategy=None):
        """__call__ and batch_encode_plus on a list of examples (single: the caller passed one)."""
        if pad_to_max_length or truncation_strategy is not None:
            padding, truncation = _legacy_strategies(padding, truncation, max_length, pad_to_max_length,
                                                     truncation_strategy)
        if pairs is not None and len(pairs) != len(texts):
            raise ValueError(f"text_pair has {len(pairs)} entries but text has {len(texts)}")
        if is_split_into_words:
            for words in texts + (pairs or []):
                if not (isinstance(words, (list, tuple)) and all(isinstance(w, (str, bytes)) for w in words)):
                    raise TypeError("is_split_into_words=True: every text must be a list of str (words), got "
                                    f"{type(words).__name__}")
        _check_padding_options(padding, padding_side, pad_to_multiple_of)
        _check_return_tensors(return_tensors)
        for name, value in (("max_length", max_length), ("stride", stride)):
            _check_int_at_least(name, value, 0)
        side = padding_side or self.padding_side
        _check_side("truncation_side", self.truncation_side)
        if return_token_type_ids is None:
            return_token_type_ids = "token_type_ids" in self.model_input_names
        if return_attention_mask is None:
            return_attention_mask = "attention_mask" in self.model_input_names
        if truncation is None:
            truncation = max_length is not None and padding is False
        strategy = _TRUNCATION.get(truncation if isinstance(truncation, str) else bool(truncation))
        if strategy is None:
            raise ValueError(f"truncation must be True, False, None or one of {sorted(k for k in _TRUNCATION if isinstance(k, str))}, "
                             f"got {truncation!r}")
        if strategy and max_length is None:
            max_length = self.max_len if self.max_len < int(1e12) else None
        if padding == "max_length" and max_length is None:
            max_length = self._max_length_to_pad()
            if max_length is None:
                padding = False
        if strategy and padding not in (False, "do_not_pad") and pad_to_multiple_of and max_length is not None \
                and max_length % pad_to_multiple_of:  # (rows would come out longer than max_length)
            raise ValueError(f"Truncation and padding are both activated but truncation length ({max_length}) is "
                             f"not a multiple of pad_to_multiple_of ({pad_to_multiple_of}).")
        extra = self.num_added_special_tokens(False) if stride and strategy and max_length is not None else 0
        if stride and strategy and max_length is not None and extra <= max_length < stride + extra:  # tokenizers'
            raise ValueError(f"stride ({stride}) must be at most max_length ({max_length}) less the {extra} special "
                             "tokens")
        if verbose and strategy and max_length is not None and add_special_tokens:
            specials = self.num_added_special_tokens(pairs is not None)
            if max_length < specials:  # (then no truncation)
                logger.error("max_length=%d is shorter than the %d special tokens: not truncated", max_length,
                             specials)
        if add_special_tokens:
            self._check_special_ids()
        rows_args = (texts, pairs, add_special_tokens, strategy, max_length,
                     stride if return_overflowing_tokens else None, is_split_into_words, self.truncation_side)
        layout = (padding, max_length, pad_to_multiple_of, side)
        explain = functools.partial(self._explain_rows, rows_args, layout)
        n_sequences = 1 if pairs is None else 2
        if return_tensors is not None and not (return_offsets_mapping or return_overflowing_tokens or
                                               return_special_tokens_mask or return_length or is_split_into_words or
                                               pad_to_multiple_of or self.truncation_side == "left"):
            out = self._tensors_native(texts, pairs, add_special_tokens, strategy, max_length, padding, return_tensors,
                                       return_token_type_ids, return_attention_mask, side)
            if out is not None:
                if verbose and max_length is None:
                    self._warn_rows_too_long(out["input_ids"].shape[1:] if len(out["input_ids"]) else ())
                return BatchEncoding(out, explain, n_sequences)
        rows = self._padded(self._rows(*rows_args, return_offsets_mapping, False, return_special_tokens_mask), *layout)
        if verbose and max_length is None:
            self._warn_rows_too_long(len(r.ids) for r in rows)
        out = {"input_ids": [r.ids for r in rows]}
        for key, wanted, field in (("token_type_ids", return_token_type_ids, "types"),
                                   ("attention_mask", return_attention_mask, "mask"),
                                   ("special_tokens_mask", return_special_tokens_mask, "special"),
                                   ("offset_mapping", return_offsets_mapping, "offs")):
            if wanted:
                out[key] = [getattr(r, field) for r in rows]
        if return_length:
            out["length"] = [len(r.ids) for r in rows]
        if return_overflowing_tokens:
            out["overflow_to_sample_mapping"] = [r.sample for r in rows]
        if return_tensors is not None:
            if len({len(r.ids) for r in rows}) > 1:
                raise ValueError("sequences have different lengths: pass padding=True to return tensors")
            out = _as_tensors(out, return_tensors, integers=True)
        elif single and not return_overflowing_tokens:  # as transformers: the batch axis off the per-token keys
            out = {k: v[0] if v and isinstance(v[0], list) else v for k, v in out.items()}
        return BatchEncoding(out, explain, n_sequences)

    @_as_call
    def _explain_rows(self, rows_args, layout, offsets=False):
        """BatchEncoding's word_ids/tokens/sequence_ids and alignment methods, on first use: the rows again, with
        the words (and with offsets: the character offsets too)."""
        return self._padded(self._rows(*rows_args, offsets, True, True), *layout)

    def _padded(self, rows, padding, max_length, pad_to_multiple_of, side):
        """The rows padded as `padding` asks, on `side`."""
        if padding in (True, "longest"):  # as tokenizers: the longest first row of an example (not overflow)
            target = max((len(r.ids) for k, r in enumerate(rows) if k == 0 or rows[k - 1].sample != r.sample),
                         default=0)
        elif padding == "max_length":
            target = max_length
        else:
            return rows
        target = _round_up(target, pad_to_multiple_of)
        fill = {"ids": self._pad_id(), "types": self.pad_token_type_id, "mask": 0, "special": 1, "offs": (0, 0),
                "words": None, "seqs": None,
                "tokens": self.convert_ids_to_tokens([self._pad_id()])[0]}
        for r in rows:
            n = target - len(r.ids)
            if n > 0:
                for field, value in fill.items():
                    old = getattr(r, field)
                    if old is not None:
                        setattr(r, field, _extended(old, value, n, side))
        return rows

    def _pad_id(self):
        if self._pad_token is None:
            raise ValueError(f"{type(self).__name__} has no pad_token: set one (add_special_tokens"
                             "({'pad_token': ...})) to pad")
        pad_id = self.pad_token_id
        if pad_id is None:
            raise ValueError(self._no_id_message([self._pad_token]))
        return pad_id

    @_as_call  # (quiet: the base class's add_special_tokens_* warn outside a call)
    def _check_special_ids(self):
        """The special tokens add_special_tokens lays out have ids (1.2.0 put None in the ids of one absent from the
        vocabulary where its unk_token is absent too); checked once per tokenizer state."""
        if self.__dict__.get("_special_ids_epoch") == _state_epoch:
            return
        laid = [*self.add_special_tokens_single_sentence([]), *self.add_special_tokens_sentences_pair([], [])]
        if any(i is None for i in laid):
            tokens = [getattr(self, "_" + name) for name in ("bos_token", "eos_token", "sep_token", "cls_token",
                                                              "pad_token", "mask_token", "unk_token")]
            raise ValueError(self._no_id_message([t for t in tokens if t is not None
                                                  and self.convert_tokens_to_ids(t) is None]))
        object.__setattr__(self, "_special_ids_epoch", _state_epoch)

    def _no_id_message(self, tokens):
        return (f"{type(self).__name__}: special token(s) {sorted(set(map(str, tokens)))} have no id: not in the "
                f"vocabulary, and unk_token {self._unk_token!r} is not either (add them with add_tokens / "
                "add_special_tokens, or use the model's own vocabulary)")

    def _max_length_to_pad(self):
        """The length padding='max_length' pads to without max_length: max_len, or None (no padding, with
        transformers' warning) where the tokenizer has none."""
        if self.max_len >= int(1e12):
            logger.warning("Asking to pad to max_length but no maximum length is provided and the model has no "
                           "predefined maximum length. Default to no padding.")
            return None
        return self.max_len

    def pad(self, encoded_inputs, padding=True, max_length=None, pad_to_multiple_of=None, padding_side=None,
            return_attention_mask=None, return_tensors=None, verbose=True):
        """transformers' pad (what DataCollatorWithPadding calls): pads input_ids, attention_mask (made when
        missing), token_type_ids and special_tokens_mask of one encoding, a dict of batched lists or a list of
        encodings; other keys pass through. Tensors in give tensors out."""
        if isinstance(encoded_inputs, (list, tuple)) and encoded_inputs and isinstance(encoded_inputs[0], dict):
            encoded_inputs = {k: [example[k] for example in encoded_inputs] for k in encoded_inputs[0]}
        if not isinstance(encoded_inputs, dict) or "input_ids" not in encoded_inputs:
            raise ValueError("pad: give an encoding (a dict with input_ids) or a list of them")
        _check_padding_options(padding, padding_side, pad_to_multiple_of)
        out = dict(encoded_inputs)
        ids = out["input_ids"]
        sample = ids[0] if isinstance(ids, (list, tuple)) and ids else ids
        if hasattr(sample, "tolist"):  # tensors or arrays in: lists here, the same kind out
            return_tensors = return_tensors or ("pt" if type(sample).__module__.startswith("torch") else "np")
            out = {k: _py(v) for k, v in out.items()}
        if return_attention_mask is None:
            return_attention_mask = "attention_mask" in self.model_input_names
        single = bool(out["input_ids"]) and isinstance(out["input_ids"][0], int)
        batch = {k: [v] for k, v in out.items()} if single else {k: list(v) for k, v in out.items()}
        if return_attention_mask and "attention_mask" not in batch:
            batch["attention_mask"] = [[1] * len(ids) for ids in batch["input_ids"]]
        target = None
        if padding in (True, "longest"):
            target = max((len(ids) for ids in batch["input_ids"]), default=0)
        elif padding == "max_length":
            target = max_length if max_length is not None else self._max_length_to_pad()
        if target is not None:
            target = _round_up(target, pad_to_multiple_of)
        side = padding_side or self.padding_side
        fill = {"token_type_ids": self.pad_token_type_id, "special_tokens_mask": 1}
        if return_attention_mask:  # as transformers: a mask not asked for stays as it is
            fill["attention_mask"] = 0
        for i, ids in enumerate(batch["input_ids"]):
            n = target - len(ids) if target is not None else 0
            if n <= 0:
                continue
            fill["input_ids"] = self._pad_id()
            for key, value in fill.items():
                if key in batch:
                    batch[key][i] = _extended(list(batch[key][i]), value, n, side)
        out = {k: v[0] for k, v in batch.items()} if single else batch
        if return_tensors is not None:
            _check_return_tensors(return_tensors)
            # (other keys, such as float labels, keep their type; rows left unpadded are a clear error)
            out = {key: _to_tensor(key, value, return_tensors) for key, value in out.items()}
        return BatchEncoding(out)

    def _rows(self, texts, pairs, add_special_tokens, strategy, max_length, stride, split_words, truncation_side,
              offsets, words, where):
        """The encoded rows (_Row) of a batch, before padding: truncated on truncation_side, and with stride (not
        None) the overflowing windows after each one, in the order of Hugging Face's tokenizers. offsets, words,
        where: with offsets, word indices, and special-token mask and sequence indices."""
        is_pair = pairs is not None
        # (both texts of a pair look up added tokens, as transformers; only 1.2.0's encode(a, b) gives them unk)
        first = self._encode_texts(texts, split_words, offsets, words)
        second = self._encode_texts(pairs, split_words, offsets, words) if is_pair else None
        truncating = strategy and max_length is not None
        extra = self.num_added_special_tokens(is_pair) if add_special_tokens and truncating else 0
        rows = []
        for i, a in enumerate(first):
            b = second[i] if is_pair else None
            na, nb = len(a[0]), len(b[0]) if is_pair else 0
            if truncating and max_length >= extra:
                ka, kb = _kept(strategy, na, nb if is_pair else None, max_length - extra)
            else:  # (__call__ logs the error of a max_length shorter than the special tokens)
                ka, kb = na, nb
            left = truncation_side == "left"
            wa, wb = _windows(na, ka, stride, left), _windows(nb, kb, stride, left) if is_pair else [None]
            # tokenizers' order: the first windows together, then each later window of the text with every
            # window of the pair, then the first window of the text with the later windows of the pair
            combos = [(wa[0], wb[0])] + [(x, y) for x in wa[1:] for y in wb] + [(wa[0], y) for y in wb[1:]]
            for ra, rb in combos if stride is not None else combos[:1]:
                rows.append(self._row(a, ra, b, rb, add_special_tokens, i, where))
        return rows

    def _encode_texts(self, texts, split_words, offsets, words):
        """(ids, offsets or None, word indices or None, token strings or None) of each text; split_words: each text
        a list of words, each encoded alone (offsets within its word, as transformers). words: with the word indices
        and the tokens as transformers' tokens() shows them."""
        if not split_words:
            ids, offs, *fixed = self._ids_batch(texts, False, offsets, words)
            if not words:
                return [(x, offs[k] if offsets else None, None, None) for k, x in enumerate(ids)]
            return [(x, offs[k] if offsets else None, *self._words_and_tokens(x, *(f[k] for f in fixed)))
                    for k, x in enumerate(ids)]
        flat = [w for text in texts for w in text]
        ids, offs, *fixed = self._ids_batch(flat, False, offsets, words)
        out, k = [], 0
        for text in texts:
            span = range(k, k + len(text))
            out.append(([t for j in span for t in ids[j]], [o for j in span for o in offs[j]] if offsets else None,
                        [w for w, j in enumerate(span) for _ in ids[j]] if words else None,
                        [t for j in span for t in self._words_and_tokens(ids[j], *(f[j] for f in fixed))[1]]
                        if words else None))
            k += len(text)
        return out

    _shows_pieces = False  # transformers' tokens() shows an unknown piece as its text (Unigram), not unk_token

    def _words_and_tokens(self, ids, fixed, pieces):
        """The word indices and tokens() of one text from _ids_batch's fixed: a token the text was split on shows the
        text it matched, an unknown piece its text where _shows_pieces; the words come from the model's pieces."""
        laid = self.convert_ids_to_tokens(ids)
        model = list(laid)
        for k, piece in pieces.items():
            model[k] = piece
        shown = list(model if self._shows_pieces else laid)
        for k, text in fixed.items():
            shown[k] = text
        return self._word_ids(model, fixed), shown

    def _row(self, a, ra, b, rb, add_special_tokens, sample, where):
        """One row from the window ra of a (and rb of b): the model's special tokens around them, and what sits
        where (offsets, word indices; with `where` special-token mask and sequence indices) along."""
        ida = a[0][ra[0]:ra[1]]
        idb = b[0][rb[0]:rb[1]] if b is not None else None
        if add_special_tokens:
            ids = (self.add_special_tokens_sentences_pair(ida, idb) if b is not None
                   else self.add_special_tokens_single_sentence(ida))
            types = self.create_token_type_ids(len(ida), len(idb) if b is not None else None)
        else:
            ids = ida + (idb or [])
            types = [0] * len(ida) + [self._plain_pair_type_id] * len(idb or [])
        row = _Row(ids, types, sample)
        if not (where or a[1] is not None or a[2] is not None):  # the common case: nothing to place
            return row
        source = (self._source_positions(len(ida), len(idb) if b is not None else None) if add_special_tokens
                  else list(range(len(ids))))
        windows = [(a, ra, ida)] + ([(b, rb, idb)] if b is not None else [])
        seqs = [s for s, (_, _, part) in enumerate(windows) for _ in part]
        row.special = [int(j is None) for j in source]
        row.seqs = [seqs[j] if j is not None else None for j in source]
        if a[1] is not None:
            offs = [o for x, r, part in windows for o in self._window_offsets(part, x[1][r[0]:r[1]])]
            row.offs = [tuple(offs[j]) if j is not None else (0, 0) for j in source]
        if a[2] is not None:
            words = [w for x, r, _ in windows for w in x[2][r[0]:r[1]]]
            row.words = [words[j] if j is not None else None for j in source]
            tokens = [t for x, r, _ in windows for t in x[3][r[0]:r[1]]]
            laid = self.convert_ids_to_tokens(ids)
            row.tokens = [tokens[j] if j is not None else laid[k] for k, j in enumerate(source)]
        return row

    def _window_offsets(self, ids, offsets):
        """The offsets of the ids of one text's window in a row (a family may adjust them there)."""
        return list(offsets)

    # ---- words: which word of the text each token comes from (BatchEncoding.word_ids) -----------------------
    def _word_ids(self, tokens, fixed):
        """The word index of each token (the model's pieces) of one text, words as transformers' pre-tokenizer of this
        family splits them; an added or special token the text was split on (positions `fixed`) is a word of its own,
        an unknown piece is in the word around it."""
        out, run, base = [], [], 0

        def flush():
            nonlocal base
            if run:
                words = self._run_word_ids(run)
                out.extend(base + w for w in words)
                base += words[-1] + 1
                run.clear()

        for k, tok in enumerate(tokens):
            if k in fixed:
                flush()
                out.append(base)
                base += 1
            else:
                run.append(tok)
        flush()
        return out

    def _run_word_ids(self, tokens):
        """Word indices (from 0) of a run of the model's own tokens; families set how their words are told apart."""
        raise NotImplementedError(f"{type(self).__name__} cannot tell which word a token comes from (it defines no "
                                  "_run_word_ids), so its encodings have no word_ids")

    @staticmethod
    def _words_from_starts(starts):
        """Word indices from whether each token starts a word (the first always does)."""
        out, word = [], -1
        for k, start in enumerate(starts):
            word += bool(start) or k == 0
            out.append(word)
        return out

    pad_token_type_id = 0
    _plain_pair_type_id = 1  # the token type of a pair's second text without special tokens (as transformers)

    def _tensors_native(self, texts, pairs, add_special_tokens, strategy, max_length, padding, return_tensors,
                        return_token_type_ids, return_attention_mask, side):
        """__call__'s arrays for the common case, filled in C++ without the GIL (no id lists): str texts, a C++
        core, special tokens at fixed places around the texts (_special_layout). The values are the Python path's
        below; None where that path must answer (other inputs, or its errors and logged errors)."""
        if not all(t.__class__ is str for t in texts) or (pairs is not None and
                                                          not all(t.__class__ is str for t in pairs)):
            return None
        core = self._native()
        if core is None:
            return None
        pair = pairs is not None
        layout = (self._special_layout(pair) if add_special_tokens
                  else ((), (), (), (), (), (), 0, self._plain_pair_type_id))
        if layout is None:
            return None
        pad = "longest" if padding in (True, "longest") else "max_length" if padding == "max_length" else ""
        pad_id = 0
        if pad:
            pad_id = self.pad_token_id if self._pad_token is not None else None
            if type(pad_id) is not int:
                return None  # the Python path raises its error
        pad_type = self.pad_token_type_id
        if type(pad_type) is not int:
            return None
        try:
            import numpy as np
        except ImportError:
            return None
        torch = sys.modules.get("torch")
        if torch is not None:  # the C++ pool follows torch's thread setting, as in _ids_batch
            from transformers_fast import _C
            _C.set_num_threads(torch.get_num_threads())
        batch = core.encode_tensors(texts, pairs, *layout, strategy, -1 if max_length is None else max_length,
                                    pad, pad_id, pad_type, side == "left")
        if batch is None:
            return None
        shape = (batch.rows, batch.width)
        keys = ["input_ids"] + ["token_type_ids"] * bool(return_token_type_ids) + \
            ["attention_mask"] * bool(return_attention_mask)
        if return_tensors == "pt":
            import torch
            out = {k: torch.empty(shape, dtype=torch.long) for k in keys}
            views = {k: v.numpy() for k, v in out.items()}
        else:
            out = views = {k: np.empty(shape, dtype=np.int64) for k in keys}
        batch.fill(views["input_ids"], views.get("token_type_ids"), views.get("attention_mask"))
        return out

    def _special_layout(self, pair):
        """add_special_tokens_* and create_token_type_ids as fixed tokens around the text(s): (prefix, mid, suffix,
        their token types, the type of A, the type of B), read by laying out marker ids; None where they are not of
        that shape. Kept while no tokenizer state changes (_state_epoch)."""
        cached = self.__dict__.get("_layout_cache")
        if cached is not None and cached[0] == (_state_epoch, pair):
            return cached[1]

        def laid_out(n_a, n_b):
            a = [-1 - i for i in range(n_a)]
            b = [-1 - n_a - i for i in range(n_b)]
            ids = self.add_special_tokens_sentences_pair(a, b) if pair else self.add_special_tokens_single_sentence(a)
            types = self.create_token_type_ids(n_a, n_b if pair else None)
            if not (isinstance(ids, list) and isinstance(types, list) and len(ids) == len(types)):
                return None
            i = ids.index(-1) if -1 in ids else -1
            j = ids.index(b[0], i + n_a) if pair and b[0] in ids[i + n_a:] else i + n_a
            k = j + (n_b if pair else 0)
            if i < 0 or ids[i:i + n_a] != a or (pair and ids[j:k] != b):
                return None
            specials = ids[:i] + ids[i + n_a:j] + ids[k:]
            type_a, type_b = set(types[i:i + n_a]), set(types[j:k]) if pair else {1}
            if not all(type(t) is int and t >= 0 for t in specials) or len(type_a) != 1 or len(type_b) != 1 or \
                    not all(type(t) is int for t in types):
                return None
            return (tuple(ids[:i]), tuple(ids[i + n_a:j]), tuple(ids[k:]), tuple(types[:i]), tuple(types[i + n_a:j]),
                    tuple(types[k:]), type_a.pop(), type_b.pop())

        layout = laid_out(2, 3)
        if layout is None or layout != laid_out(1, 1) or \
                self.num_added_special_tokens(pair) != len(layout[0]) + len(layout[1]) + len(layout[2]):
            layout = None
        object.__setattr__(self, "_layout_cache", ((_state_epoch, pair), layout))
        return layout

    def _source_positions(self, n_a, n_b):
        """Where each id of add_special_tokens_* output comes from: its index in the ids of A then B, or None for
        a special token (read by laying out marker ids)."""
        marker_a = [-1 - i for i in range(n_a)]
        if n_b is None:
            laid = self.add_special_tokens_single_sentence(marker_a)
        else:
            laid = self.add_special_tokens_sentences_pair(marker_a, [-1 - n_a - i for i in range(n_b)])
        return [-1 - m if isinstance(m, int) and m < 0 else None for m in laid]


def _texts_and_pairs(batch, is_split_into_words):
    """The texts and the pairs (None: no pair) of a batch of texts or of (text, pair) tuples."""
    texts, pairs = [], []
    for item in batch:
        is_pair = isinstance(item, (list, tuple)) and (not is_split_into_words or
                                                       (len(item) == 2 and isinstance(item[0], (list, tuple))))
        if is_pair and len(item) != 2:
            raise ValueError(f"a (text, pair) entry of a batch must hold 2 texts, got {len(item)}")
        texts.append(item[0] if is_pair else item)
        pairs.append(item[1] if is_pair else None)
    if any(p is None for p in pairs) and not all(p is None for p in pairs):
        raise ValueError("either every entry of the batch is a (text, pair) tuple or none is")
    return texts, pairs if pairs and pairs[0] is not None else None


def _id_list(ids):
    """The ids to decode as a list: tensors and arrays as lists, one id as a list of it."""
    if hasattr(ids, "tolist"):
        ids = ids.tolist()
    return [ids] if isinstance(ids, int) else ids


def _is_one_id(ids) -> bool:
    """Whether ids to decode are one id: an int, or a 0-d tensor or array (not a bool)."""
    if isinstance(ids, bool):
        return False
    if isinstance(ids, int):
        return True
    return getattr(ids, "ndim", None) == 0 and getattr(ids, "dtype", None) is not None and \
        not isinstance(ids.tolist(), (bool, float))


def _is_batch(ids) -> bool:
    """Whether ids to decode (an _id_list) are several sequences."""
    return isinstance(ids, (list, tuple)) and bool(ids) and isinstance(ids[0], (list, tuple))


# the options of transformers' encode, which send 1.2.0's encode to __call__
_ENCODE_CALL_OPTIONS = frozenset(["max_length", "truncation", "padding", "return_tensors", "stride",
                                  "pad_to_multiple_of", "padding_side", "is_split_into_words", "verbose",
                                  "pad_to_max_length", "truncation_strategy"])


def _legacy_strategies(padding, truncation, max_length, pad_to_max_length, truncation_strategy):
    """(padding, truncation) for transformers 2-4's pad_to_max_length and truncation_strategy, in its version 4's
    order: max_length alone turns on longest_first first (so truncation_strategy then counts only without
    max_length), pad_to_max_length pads to max_length where given, else to the longest row."""
    if max_length is not None and padding is False and truncation is None:
        truncation = "longest_first"
    if padding is False and pad_to_max_length:
        warnings.warn("The `pad_to_max_length` argument is deprecated and will be removed in a future version, use "
                      "`padding=True` or `padding='longest'` to pad to the longest sequence in the batch, or use "
                      "`padding='max_length'` to pad to a max length.", FutureWarning, stacklevel=4)
        padding = "longest" if max_length is None else "max_length"
    if truncation is None and truncation_strategy not in (None, "do_not_truncate"):
        warnings.warn("The `truncation_strategy` argument is deprecated and will be removed in a future version, use "
                      "`truncation=True` to truncate examples to a max length.", FutureWarning, stacklevel=4)
        truncation = truncation_strategy
    return padding, truncation

_TRUNCATION = {True: "longest_first", "longest_first": "longest_first", "only_first": "only_first",
               "only_second": "only_second", False: "", "do_not_truncate": ""}


def _kept(strategy, na, nb, budget):
    """How many ids of A (na) and B (nb, None: no pair) the truncation of Hugging Face's tokenizers keeps.
    longest_first: the shorter sequence (the first on a tie) keeps at most half the budget, rounded down, and the
    other one the rest; only_first / only_second: that sequence loses what is too much, or it is an error."""
    excess = na + (nb or 0) - budget
    if budget == 0:
        na, nb = 0, 0 if nb is not None else None
    elif excess <= 0:
        pass
    elif strategy == "longest_first" or (nb is None and strategy == "only_first"):
        if nb is None:
            na = budget
        elif na <= nb:
            na = min(na, budget // 2)
            nb = budget - na
        else:
            nb = min(nb, budget // 2)
            na = budget - nb
    elif nb is None:
        raise ValueError("Truncation error: Second sequence not provided")
    elif (na if strategy == "only_first" else nb) <= excess:
        raise ValueError("Truncation error: Sequence to truncate too short to respect the provided max_length")
    elif strategy == "only_first":
        na -= excess
    else:
        nb -= excess
    return na, nb


def _windows(n, kept, stride, left=False):
    """The (start, stop) windows of a sequence of n ids of which `kept` stay: one, or with stride (not None) also
    the overflowing ones, each repeating `stride` ids of the one before (tokenizers' Encoding.truncate). left: the
    kept ids are the last ones and the overflow walks back to the start."""
    if kept >= n or stride is None:
        return [(n - kept, n) if left else (0, kept)]
    if kept == 0:
        return [(0, 0), (0, n)]
    if stride >= kept:  # (tokenizers panics)
        raise ValueError(f"stride ({stride}) must be less than the {kept} ids kept of a truncated sequence")
    out = []
    for start in range(0, n, kept - stride):
        out.append((start, min(start + kept, n)))
        if start + kept >= n:
            break
    return [(n - stop, n - start) for start, stop in out] if left else out


def _check_padding_options(padding, padding_side, pad_to_multiple_of):
    if padding not in (False, True, "longest", "max_length", "do_not_pad"):
        raise ValueError(f"padding must be False, True, 'longest' or 'max_length', got {padding!r}")
    if padding_side not in (None, "left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
    _check_int_at_least("pad_to_multiple_of", pad_to_multiple_of, 1)


def _check_side(name, value):
    if value not in ("left", "right"):
        raise ValueError(f"{name} must be 'left' or 'right', got {value!r}")


def _check_int_at_least(name, value, low):
    if value is not None and (type(value) is not int or value < low):
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")


def _check_return_tensors(return_tensors):
    if return_tensors not in (None, "pt", "np"):
        raise ValueError(f"return_tensors must be None, 'pt' or 'np', got {return_tensors!r}")


def _round_up(length, multiple):
    """length padded up to a multiple of `multiple` (None or 0: as it is)."""
    return -(-length // multiple) * multiple if multiple else length


def _extended(row, value, n, side):
    """row with n copies of value on `side` ("left" or "right")."""
    return [value] * n + row if side == "left" else row + [value] * n


def _as_tensors(out, return_tensors, integers):
    """The lists of `out` as torch tensors ("pt") or numpy arrays ("np"); integers: as int64 (ids, masks)."""
    if return_tensors == "pt":
        import torch
        return {k: torch.tensor(v, dtype=torch.long if integers else None) for k, v in out.items()}
    import numpy as np
    return {k: np.asarray(v, dtype=np.int64 if integers else None) for k, v in out.items()}


def _to_tensor(key, value, return_tensors):
    """One value as a torch tensor ("pt") or numpy array ("np"), its dtype inferred (int64 when empty); rows of
    different lengths give a ValueError naming the key (numpy and torch would give their own unclear errors)."""
    if return_tensors == "pt":
        import torch
        if isinstance(value, torch.Tensor):
            return value
        make = torch.tensor
    else:
        import numpy as np
        if isinstance(value, np.ndarray):
            return value
        make = np.asarray
    if isinstance(value, (list, tuple)) and value and all(hasattr(v, "__len__") for v in value) and \
            len({len(v) for v in value}) > 1:
        raise ValueError(f"{key}: rows of different lengths ({sorted({len(v) for v in value})}) cannot make one "
                         "tensor: pad them (padding=True)")
    try:
        if isinstance(value, (list, tuple)) and not value:
            return make(value, dtype=_numpy_ids()[1] if return_tensors == "np" else sys.modules["torch"].int64)
        if return_tensors == "pt" and isinstance(value, (list, tuple)) and value and hasattr(value[0], "tolist") \
                and not hasattr(value[0], "dim"):
            value = [v.tolist() for v in value]  # (a list of numpy arrays)
        return make(value)
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"{key}: cannot make a tensor of it ({err}); pad the rows (padding=True) and give numbers "
                         "only") from err


def _ids_array(buffer, return_tensors):
    """int64 ids in a bytearray as a [1, n] torch tensor ("pt") or numpy array ("np") over the same memory."""
    if return_tensors == "pt":
        import torch
        ids = torch.frombuffer(buffer, dtype=torch.int64) if buffer else torch.empty(0, dtype=torch.int64)
        return ids.reshape(1, -1)
    frombuffer, int64 = _numpy_ids()
    return frombuffer(buffer, int64)[None]


@functools.lru_cache(maxsize=None)
def _numpy_ids():
    """numpy's frombuffer and int64 dtype, imported once: encode's own cost is a few microseconds a call."""
    import numpy

    return numpy.frombuffer, numpy.dtype("int64")


def _py(value):
    """Tensors and arrays (or lists of them) as Python lists."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return [_py(v) for v in value] if isinstance(value, (list, tuple)) else value


class _Row:
    """One encoded row of __call__: per-token lists (offs, words: None unless asked) and its example's index."""
    __slots__ = ("ids", "types", "mask", "special", "offs", "words", "seqs", "sample", "tokens")

    def __init__(self, ids, types, sample):
        self.ids, self.types, self.mask, self.sample = ids, types, [1] * len(ids), sample
        self.special = self.offs = self.words = self.seqs = self.tokens = None


class ClsSepSpecialTokensMixin:
    """1.2.0's special-token layout of BERT and XLM: [CLS] A [SEP] and [CLS] A [SEP] B [SEP], token types
    0 for the first segment (with its specials) and 1 for the second."""

    def _start_id(self):
        return self.cls_token_id

    def add_special_tokens_single_sentence(self, token_ids):
        return [self._start_id()] + token_ids + [self.sep_token_id]

    def add_special_tokens_sentences_pair(self, token_ids_0, token_ids_1):
        sep = [self.sep_token_id]
        return [self._start_id()] + token_ids_0 + sep + token_ids_1 + sep

    def create_token_type_ids(self, len_0, len_1=None):
        if _replaced(self, _LAYOUT_METHODS):
            return super().create_token_type_ids(len_0, len_1)
        if len_1 is None:
            return [0] * (len_0 + 2)
        return [0] * (len_0 + 2) + [1] * (len_1 + 1)


# transformers' spans of the alignment methods: characters of the text, tokens of the row (end excluded)
CharSpan = collections.namedtuple("CharSpan", ["start", "end"])
TokenSpan = collections.namedtuple("TokenSpan", ["start", "end"])


class BatchEncoding(dict):
    """The dict __call__ returns; keys are also attributes (enc.input_ids). word_ids / tokens / sequence_ids and the
    alignment methods (char_to_token, token_to_chars, word_to_tokens, ...) of a row come from encoding the batch
    again with the words (and the offsets), on the first such call. The alignment methods follow transformers
    (tokenizers' Encoding): `method(index)` for row 0 or `method(batch_index, index)`; None for special and padding
    tokens and for characters no token covers."""

    def __init__(self, data=None, explain=None, n_sequences=None):
        super().__init__(data or {})
        self._explain = explain  # a callable giving the padded rows (_Row); with offsets=True with their offsets
        self._explained = {}
        self._n_sequences = n_sequences

    def __getattr__(self, item):
        try:
            return self[item]
        except KeyError:
            if item == "encodings" and not self.is_fast:
                return None  # as transformers for an encoding no fast tokenizer made (pad(), by hand)
            if item == "encodings":  # would be the tokenizers library's Encoding objects, which this library has not
                raise AttributeError("BatchEncoding.encodings: transformers_fast has no tokenizers.Encoding objects; "
                                     "use the BatchEncoding's own word_ids(), tokens(), sequence_ids() and alignment "
                                     "methods (char_to_token, token_to_chars, word_to_tokens, ...)") from None
            raise AttributeError(item) from None

    @property
    def is_fast(self):
        """As transformers: True when a tokenizer's __call__ made it (word_ids() and the alignment methods work),
        False for one made by pad() or by hand."""
        return self.__dict__.get("_explain") is not None

    def convert_to_tensors(self, tensor_type=None, prepend_batch_axis=False):
        """transformers' BatchEncoding.convert_to_tensors: every value as a torch tensor ("pt") or numpy array ("np")
        in place (values already of that kind stay); returns self. Rows of different lengths are a ValueError."""
        if tensor_type is None:
            return self
        _check_return_tensors(tensor_type)
        for key, value in self.items():
            self[key] = _to_tensor(key, [value] if prepend_batch_axis else value, tensor_type)
        return self

    def __reduce__(self):  # the rows are not pickled (nor copied): a plain dict of the keys
        return type(self), (dict(self),)

    @property
    def n_sequences(self):
        """1 for texts, 2 for pairs, None where unknown (transformers' BatchEncoding.n_sequences)."""
        return self.__dict__.get("_n_sequences")

    def _row(self, batch_index, offsets=False):
        if self.__dict__.get("_explain") is None:
            raise ValueError("word_ids(), tokens(), sequence_ids() and the alignment methods (char_to_token, ...) are "
                             "known only on a BatchEncoding as a tokenizer's __call__ returned it (not one pickled, "
                             "copied, made by pad() or by hand)")
        rows = self._explained.get(True) or self._explained.get(offsets)  # rows with offsets have the words too
        if rows is None:
            rows = self._explained[offsets] = self._explain(offsets=offsets)
        if not isinstance(batch_index, int) or not -len(rows) <= batch_index < len(rows):
            raise IndexError(f"batch_index {batch_index!r} is out of range for {len(rows)} rows")
        return rows[batch_index]

    def _char_row(self, method, batch_index):
        """A row with its character offsets, or a clear error where the tokenizer computes none."""
        try:
            return self._row(batch_index, offsets=True)
        except NotImplementedError as err:
            raise NotImplementedError(f"{method}() needs character offsets: {err}") from None

    @staticmethod
    def _indices(method, first, second, sequence_index=0):
        """(batch index, index, sequence index) of transformers' (batch_or_index, index=None) arguments; negative
        indices are errors (in transformers too)."""
        batch, index = (0, first) if second is None else (first, second)
        batch, index, sequence_index = operator.index(batch), operator.index(index), operator.index(sequence_index)
        if index < 0 or sequence_index < 0:
            raise IndexError(f"{method}(): indices must be >= 0, got {index} (sequence_index {sequence_index})")
        return batch, index, sequence_index

    def _positions(self, row, sequence_index):
        """The token positions of one sequence of a row; every position for a sequence the row does not have (as
        tokenizers' Encoding does)."""
        if sequence_index < (self.n_sequences or 1):
            return [k for k, seq in enumerate(row.seqs) if seq == sequence_index]
        return range(len(row.ids))

    def word_ids(self, batch_index=0):
        """The word of each token (None for special and padding tokens), as transformers' fast tokenizers."""
        return list(self._row(batch_index).words)

    words = word_ids  # transformers' older name

    def sequence_ids(self, batch_index=0):
        """0 for tokens of the text, 1 for those of the pair, None for special and padding tokens."""
        return list(self._row(batch_index).seqs)

    def tokens(self, batch_index=0):
        """The token strings of a row (padding included), as transformers' fast tokenizers show them: an added or
        special token the text was split on as the text it matched (what lstrip / rstrip took, normalized where the
        token is), XLNet's unknown pieces as their text."""
        return list(self._row(batch_index).tokens)

    def token_to_sequence(self, batch_or_token_index, token_index=None):
        """The sequence (0 or 1) a token comes from; None for special and padding tokens."""
        b, t, _ = self._indices("token_to_sequence", batch_or_token_index, token_index)
        seqs = self._row(b).seqs
        return seqs[t] if t < len(seqs) else None

    def token_to_word(self, batch_or_token_index, token_index=None):
        """The word (in its sequence) a token comes from; None for special and padding tokens."""
        b, t, _ = self._indices("token_to_word", batch_or_token_index, token_index)
        row = self._row(b)
        return row.words[t] if t < len(row.ids) and row.seqs[t] is not None else None

    def token_to_chars(self, batch_or_token_index, token_index=None):
        """The CharSpan of a token in its text; None for special and padding tokens."""
        b, t, _ = self._indices("token_to_chars", batch_or_token_index, token_index)
        row = self._char_row("token_to_chars", b)
        return CharSpan(*row.offs[t]) if t < len(row.ids) and row.seqs[t] is not None else None

    def word_to_tokens(self, batch_or_word_index, word_index=None, sequence_index=0):
        """The TokenSpan of a word of sequence `sequence_index`; None when no token comes from it."""
        b, w, s = self._indices("word_to_tokens", batch_or_word_index, word_index, sequence_index)
        return self._word_span(self._row(b), w, s)

    def _word_span(self, row, word, sequence_index):
        found = []
        for k in self._positions(row, sequence_index):
            if row.words[k] is not None and row.words[k] > word:
                break  # (words only grow along a sequence; tokenizers stops at the first word past it too)
            if row.words[k] == word:
                found.append(k)
        return TokenSpan(found[0], found[-1] + 1) if found else None

    def word_to_chars(self, batch_or_word_index, word_index=None, sequence_index=0):
        """The CharSpan of a word of sequence `sequence_index` (from its first token's start to its last token's
        end); an error when no token comes from it (as in transformers)."""
        b, w, s = self._indices("word_to_chars", batch_or_word_index, word_index, sequence_index)
        row = self._char_row("word_to_chars", b)
        span = self._word_span(row, w, s)
        if span is None:
            raise TypeError(f"word_to_chars(): no token of row {b} comes from word {w} of sequence {s}")
        return CharSpan(row.offs[span.start][0], row.offs[span.end - 1][1])

    def char_to_token(self, batch_or_char_index, char_index=None, sequence_index=0):
        """The token whose characters hold a character of sequence `sequence_index`'s text; None when no token does
        (spaces, for one)."""
        b, c, s = self._indices("char_to_token", batch_or_char_index, char_index, sequence_index)
        return self._token_at_char(self._char_row("char_to_token", b), c, s)

    def _token_at_char(self, row, char_index, sequence_index):
        return next((k for k in self._positions(row, sequence_index)
                     if row.offs[k][0] <= char_index < row.offs[k][1]), None)

    def char_to_word(self, batch_or_char_index, char_index=None, sequence_index=0):
        """The word of the token holding a character (char_to_token); None when no token holds it."""
        b, c, s = self._indices("char_to_word", batch_or_char_index, char_index, sequence_index)
        token = self._token_at_char(self._char_row("char_to_word", b), c, s)  # (errors name char_to_word)
        return None if token is None else self.token_to_word(b, token)

    def to(self, device):
        """Moves the tensors to device (transformers' BatchEncoding.to); returns self."""
        for key, value in self.items():
            if hasattr(value, "to"):
                self[key] = value.to(device)
        return self
