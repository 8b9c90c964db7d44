"""BPE pieces shared by the BPE tokenizers (GPT-2 and RoBERTa byte-level, OpenAI GPT and XLM with "</w>" word
ends): 1.2.0's merge loop and merges-file reading and writing. The C++ core does the merging; these serve
1.2.0's Python `bpe` methods and the files."""
from __future__ import annotations

import json
import logging
import os
import types
from functools import lru_cache
from typing import Optional

from transformers_fast.file_utils import read_json_object
from transformers_fast.tokenization_utils import (PreTrainedTokenizer, TrackedDict, _core_lib, _id_list, _is_batch,
                                                _is_one_id, tracked_key)

logger = logging.getLogger(__name__)

VOCAB_FILES_NAMES = {"vocab_file": "vocab.json", "merges_file": "merges.txt"}
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


@lru_cache()
def bytes_to_unicode():
    """utf-8 byte -> printable unicode stand-in (GPT-2's table)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(2 ** 8):
        if b not in bs:
            bs.append(b)
            cs.append(2 ** 8 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def get_pairs(word):
    return {(a, b) for a, b in zip(word[:-1], word[1:])}


def merge_symbols(word, bpe_ranks):
    """1.2.0's BPE loop (pure Python; the C++ core does the same): merges the lowest-ranked adjacent pair of
    `word` (a tuple of symbols) until none of its pairs has a rank."""
    pairs = get_pairs(word)
    while pairs:
        bigram = min(pairs, key=lambda pair: bpe_ranks.get(pair, float("inf")))
        if bigram not in bpe_ranks:
            break
        first, second = bigram
        new_word = []
        i = 0
        while i < len(word):
            try:
                j = word.index(first, i)
            except ValueError:
                new_word.extend(word[i:])
                break
            new_word.extend(word[i:j])
            i = j
            if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                new_word.append(first + second)
                i += 2
            else:
                new_word.append(word[i])
                i += 1
        word = tuple(new_word)
        pairs = get_pairs(word)
    return word


def read_vocab_json(vocab_file):
    """vocab.json: a JSON object of token -> integer id (what the C++ cores take; 1.2.0 kept string ids and decoded
    them to None)."""
    encoder = read_json_object(vocab_file, "a JSON object (token -> id)")
    bad = next(((token, i) for token, i in encoder.items() if type(i) is not int), None)
    if bad is not None:
        raise ValueError(f"vocab_file {vocab_file} maps {bad[0]!r} to {bad[1]!r}: ids must be integers")
    return encoder


def read_byte_level_merges(merges_file):
    """Merge pairs as 1.2.0 reads them: split('\\n')[1:-1], each line split() into a tuple."""
    with open(merges_file, encoding="utf-8") as f:
        bpe_data = f.read().split("\n")[1:-1]
    return [tuple(merge.split()) for merge in bpe_data]


def merge_pairs(bpe_ranks):
    """Merges in rank order for the C++ core (only the order matters; entries that are not pairs of
    two strings can never match, as in 1.2.0)."""
    return [m for m, _ in sorted(bpe_ranks.items(), key=lambda kv: kv[1]) if len(m) == 2]


def read_word_end_merges(merges_file, skip_first):
    """1.2.0: OpenAI GPT drops the first and last lines (split()[...] whole), XLM only the last
    (split()[:2])."""
    with open(merges_file, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if skip_first:
        return [tuple(m.split()) for m in lines[1:-1]]
    return [tuple(m.split()[:2]) for m in lines[:-1]]


def bpe_model_key(tokenizer):
    """What a BPE core is built from: 1.2.0 reads encoder and bpe_ranks on every call, so edits count."""
    return tracked_key(tokenizer.encoder), tracked_key(tokenizer.bpe_ranks)


def word_end_bpe(token, bpe_ranks):
    """1.2.0's bpe for OpenAI GPT and XLM (pure Python; the C++ core does the same)."""
    word = " ".join(merge_symbols(tuple(token[:-1]) + (token[-1] + "</w>",), bpe_ranks))
    if word == "\n  </w>":
        word = "\n</w>"
    return word


def word_end_word_ids(tokenizer, tokens):
    """Words of the "</w>" BPE tokenizers (OpenAI GPT, XLM): a word ends with its "</w>" piece."""
    return tokenizer._words_from_starts([k == 0 or tokens[k - 1].endswith("</w>") for k in range(len(tokens))])


def save_bpe_files(tokenizer, save_directory, header: Optional[str] = "#version: 0.2"):
    """vocab.json and merges.txt (after a header line, except for XLM's) as 1.2.0 writes them."""
    if not os.path.isdir(save_directory):
        raise ValueError(f"Vocabulary path ({save_directory}) should be a directory")
    vocab_file = os.path.join(save_directory, VOCAB_FILES_NAMES["vocab_file"])
    merge_file = os.path.join(save_directory, VOCAB_FILES_NAMES["merges_file"])
    with open(vocab_file, "w", encoding="utf-8") as f:
        f.write(json.dumps(tokenizer.encoder, ensure_ascii=False))
    index = 0
    with open(merge_file, "w", encoding="utf-8") as writer:
        if header is not None:
            writer.write(header + "\n")
        for bpe_tokens, token_index in sorted(tokenizer.bpe_ranks.items(), key=lambda kv: kv[1]):
            if index != token_index:
                logger.warning("Saving vocabulary to %s: BPE merge indices are not consecutive.", merge_file)
                index = token_index
            writer.write(" ".join(bpe_tokens) + "\n")
            index += 1
    return vocab_file, merge_file


def bpe_files_from_tokenizer_json(spec, folder, name, pre_tokenizer, word_end):
    """{"vocab_file", "merges_file"}: vocab.json and merges.txt written to folder from a transformers 5 tokenizer.json
    of a BPE with that pre-tokenizer type and end-of-word suffix (byte-level: "ByteLevel" and ""; OpenAI GPT:
    "BertPreTokenizer" and "</w>")."""
    model, pre = spec["model"], spec.get("pre_tokenizer") or {}
    if (model.get("type") != "BPE" or pre.get("type") != pre_tokenizer or model.get("continuing_subword_prefix")
            or (model.get("end_of_word_suffix") or "") != word_end):
        raise ValueError(f"{name}: tokenizer.json holds a {model.get('type')} model with a {pre.get('type')} "
                         f"pre-tokenizer and end-of-word suffix {model.get('end_of_word_suffix')!r}, not "
                         f"{pre_tokenizer} BPE with {word_end!r}")
    vocab, merges = model.get("vocab"), model.get("merges")
    pairs = [m.split(" ") if isinstance(m, str) else m for m in merges] if isinstance(merges, list) else None
    if (not isinstance(vocab, dict) or pairs is None
            or not all(isinstance(p, list) and len(p) == 2
                       and all(isinstance(x, str) and x and not any(c.isspace() for c in x) for x in p)
                       for p in pairs)):
        raise ValueError("tokenizer.json: expected a BPE vocabulary (token -> id) and merges of two tokens each")
    table = types.SimpleNamespace(encoder=vocab, bpe_ranks={tuple(p): rank for rank, p in enumerate(pairs)})
    vocab_file, merges_file = save_bpe_files(table, folder)
    return {"vocab_file": vocab_file, "merges_file": merges_file}


class ByteLevelBPETokenizer(PreTrainedTokenizer):
    """Byte-level BPE (GPT2Tokenizer and RobertaTokenizer).

    add_prefix_space: None (the default: not given, nor in the folder's tokenizer_config.json) keeps 1.2.0's
    tokenization: every part of the text between added/special tokens is stripped and gets a space prepended.
    Given (a keyword, or a tokenizer_config.json that transformers 5 wrote: it writes add_prefix_space explicitly
    and 1.2.0 never does, so its presence is what marks such a folder), it means what it means to transformers' fast
    tokenizers: nothing is stripped, and False prepends no space, True one to each part that does not start with
    ' ' already (tokenizers' ByteLevel pre-tokenizer). save_pretrained writes it back."""

    vocab_files_names = VOCAB_FILES_NAMES
    _bpe_in_transformers = True
    add_prefix_space = None  # (instances pickled before the option load as 1.2.0's)

    def __init__(self, vocab_file, merges_file, errors="replace", unk_token="<|endoftext|>",
                 bos_token="<|endoftext|>", eos_token="<|endoftext|>", **kwargs):
        super().__init__(bos_token=bos_token, eos_token=eos_token, unk_token=unk_token, **kwargs)
        add_prefix_space = kwargs.get("add_prefix_space")
        if add_prefix_space is not None and not isinstance(add_prefix_space, bool):
            raise TypeError(f"add_prefix_space must be a bool or None, got {type(add_prefix_space).__name__}")
        self.add_prefix_space = add_prefix_space
        self.max_len_single_sentence = self.max_len
        self.max_len_sentences_pair = self.max_len
        for name, path in (("vocab_file", vocab_file), ("merges_file", merges_file)):
            if path is None or not os.path.isfile(path):
                raise ValueError(f"Can't find {name} at path '{path}'")
        self.encoder = TrackedDict(read_vocab_json(vocab_file))
        self.decoder = {v: k for k, v in self.encoder.items()}
        self.errors = errors
        self.byte_encoder = bytes_to_unicode()
        self.byte_decoder = {v: k for k, v in self.byte_encoder.items()}
        bpe_merges = read_byte_level_merges(merges_file)
        self.bpe_ranks = TrackedDict(zip(bpe_merges, range(len(bpe_merges))))
        self._build_core()

    @classmethod
    def _files_from_tokenizer_json(cls, spec, folder):
        return bpe_files_from_tokenizer_json(spec, folder, cls.__name__, "ByteLevel", ""), {}

    def _core_model_key(self):
        return bpe_model_key(self) + (self.add_prefix_space,)

    @property
    def _strip_parts(self):
        """1.2.0 strips the parts of the text between added/special tokens; transformers (add_prefix_space given)
        does not."""
        return self.__dict__.get("add_prefix_space") is None

    def _build_native(self):
        # the C++ model's prefix_space: 0 always (1.2.0), 1 never (False), 2 unless the part starts with ' ' (True)
        aps = self.__dict__.get("add_prefix_space")
        model = _core_lib().ByteLevelBpeModel(self.encoder, merge_pairs(self.bpe_ranks),
                                              prefix_space=0 if aps is None else 2 if aps else 1)
        self._core = _core_lib().Pipeline(model, strip_parts=aps is None)

    @property
    def vocab_size(self):
        return len(self.encoder)

    @property
    def pat(self):
        """1.2.0's pre-tokenization regex (the C++ core scans the same classes without it). Assigning another
        compiled pattern makes tokenization split words with it, as 1.2.0's _tokenize reads self.pat (through the
        Python path then)."""
        custom = self.__dict__.get("_custom_pat")
        if custom is not None:
            return custom
        import regex
        return regex.compile(GPT2_PATTERN)

    @pat.setter
    def pat(self, value):
        if not hasattr(value, "findall"):
            raise TypeError(f"pat must be a compiled regular expression, got {type(value).__name__}")
        self.__dict__["_custom_pat"] = value

    def _native(self):
        return None if "_custom_pat" in self.__dict__ else super()._native()

    def bpe(self, token):
        """BPE of one byte-encoded word, as a space-separated string (1.2.0's bpe)."""
        return " ".join(merge_symbols(tuple(token), self.bpe_ranks))

    def _tokenize(self, text):
        aps = self.add_prefix_space
        if aps is None or (aps and not text.startswith(" ")):
            text = " " + text
        custom = self.__dict__.get("_custom_pat")
        pieces = []
        for token in (custom.findall(text) if custom is not None else self._core.model.pretokenize(text)):
            token = "".join(self.byte_encoder[b] for b in token.encode("utf-8"))
            pieces.extend(self.bpe(token).split(" "))
        return pieces

    def _own_vocab(self):
        return self.encoder

    def _run_word_ids(self, tokens):
        """Words: the pre-tokenizer's pieces of the bytes the tokens spell (BPE merges never cross them)."""
        data = bytes(self.byte_decoder[c] for t in tokens for c in t)
        ends, end = [], 0
        for piece in self._core.model.pretokenize(data.decode("utf-8")):
            end += len(piece.encode("utf-8"))
            ends.append(end)
        out, word, at = [], 0, 0
        for t in tokens:
            while word < len(ends) - 1 and at >= ends[word]:
                word += 1
            out.append(word)
            at += len(t)  # one character a byte
        return out

    def _convert_token_to_id(self, token):
        return self.encoder.get(token, self.encoder.get(self.unk_token))

    def _convert_id_to_token(self, index):
        return self.decoder.get(index)

    def convert_tokens_to_string(self, tokens):
        text = "".join(tokens)
        return bytearray([self.byte_decoder[c] for c in text]).decode("utf-8", errors=self.errors)

    def decode(self, token_ids, skip_special_tokens=False, clean_up_tokenization_spaces=None,
               spaces_between_special_tokens=True):
        """1.2.0's decode (clean-up on by default, a RoBERTa text holding </s> split into a list); with
        add_prefix_space given, transformers' (one str, as batch_decode, its clean-up default); one id or a batch of
        sequences as batch_decode."""
        if _is_one_id(token_ids):
            return self.batch_decode([[int(token_ids)]], skip_special_tokens, clean_up_tokenization_spaces)[0]
        token_ids = _id_list(token_ids)
        if _is_batch(token_ids):
            return self.batch_decode(token_ids, skip_special_tokens, clean_up_tokenization_spaces)
        if self.__dict__.get("add_prefix_space") is None:
            return super().decode(token_ids, skip_special_tokens,
                                  True if clean_up_tokenization_spaces is None else clean_up_tokenization_spaces)
        return self.batch_decode([token_ids], skip_special_tokens, clean_up_tokenization_spaces)[0]

    def _batch_decode_text(self, ids, skip_special_tokens):
        # tokenizers' ByteLevel decoder: a token with a character outside the byte alphabet (an added token such as
        # "new tok") stands for its own UTF-8 bytes; invalid UTF-8 becomes U+FFFD
        data = bytearray()
        for token in self.convert_ids_to_tokens(_id_list(ids), skip_special_tokens=skip_special_tokens):
            if all(c in self.byte_decoder for c in token):
                data.extend(self.byte_decoder[c] for c in token)
            else:
                data.extend(token.encode("utf-8", errors="surrogatepass"))
        return data.decode("utf-8", errors="replace")

    def save_pretrained(self, save_directory, **options):
        """1.2.0's files; add_prefix_space, when given, into tokenizer_config.json (so that both libraries reload
        the folder with it; a folder without it stays 1.2.0's). options: the base class's."""
        aps = self.__dict__.get("add_prefix_space")
        if aps is None:
            self.init_kwargs.pop("add_prefix_space", None)
        else:
            self.init_kwargs["add_prefix_space"] = aps
        return super().save_pretrained(save_directory, **options)

    def save_vocabulary(self, save_directory):
        return save_bpe_files(self, save_directory)
