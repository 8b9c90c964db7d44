"""TransfoXLTokenizer (pytorch-transformers 1.2.0): word-level vocabulary. The pretrained vocab.bin
is a pickle: it is read with torch.load(weights_only=True) (plus collections.Counter) or, for a
plain pickle, an unpickler that allows only the containers it holds; never arbitrary code."""
from __future__ import annotations

import io
import logging
import os
import pickle
from collections import Counter, OrderedDict

from transformers_fast.tokenization_utils import PreTrainedTokenizer

logger = logging.getLogger(__name__)

VOCAB_FILES_NAMES = {"pretrained_vocab_file": "vocab.bin", "vocab_file": "vocab.txt"}
# the attributes 1.2.0 pickles in vocab.bin that describe the vocabulary
_VOCAB_STATE = ("counter", "special", "min_freq", "max_size", "lower_case", "delimiter", "vocab_file",
                "never_split", "idx2sym", "sym2idx", "unk_idx", "eos_idx")


class _RestrictedUnpickler(pickle.Unpickler):
    _ALLOWED = {("collections", "OrderedDict"): OrderedDict, ("collections", "Counter"): Counter,
                ("builtins", "set"): set, ("builtins", "frozenset"): frozenset}

    def find_class(self, module, name):
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"vocab file: refusing to load {module}.{name}") from None


def load_vocab_pickle(path):
    """The dict a 1.2.0 vocab.bin holds, loaded without executing code."""
    import torch
    try:
        with torch.serialization.safe_globals([Counter, OrderedDict]):
            data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as torch_err:
        try:
            with open(path, "rb") as f:
                data = _RestrictedUnpickler(io.BytesIO(f.read())).load()
        except Exception as err:
            raise ValueError(f"pretrained_vocab_file {path}: not a loadable vocabulary ({torch_err}; {err})") from err
    if not isinstance(data, dict):
        raise ValueError(f"pretrained_vocab_file {path}: expected a dict, got {type(data).__name__}")
    return data


class TransfoXLTokenizer(PreTrainedTokenizer):
    vocab_files_names = VOCAB_FILES_NAMES
    max_model_input_sizes = {"transfo-xl-wt103": None}
    pretrained_hub_files = {"transfo-xl-wt103": ("transfo-xl/transfo-xl-wt103",
                                                 {"pretrained_vocab_file": "vocab.pkl"})}

    def __init__(self, special=None, min_freq=0, max_size=None, lower_case=False, delimiter=None,
                 vocab_file=None, pretrained_vocab_file=None, never_split=None, unk_token="<unk>",
                 eos_token="<eos>", additional_special_tokens=("<formula>",), **kwargs):
        super().__init__(unk_token=unk_token, eos_token=eos_token,
                         additional_special_tokens=list(additional_special_tokens), **kwargs)
        self.max_len_single_sentence = self.max_len
        self.max_len_sentences_pair = self.max_len
        if never_split is None:
            never_split = self.all_special_tokens
        self.counter = Counter()
        self.special = special if special is not None else []
        self.min_freq = min_freq
        self.max_size = max_size
        self.lower_case = lower_case
        self.delimiter = delimiter
        self.vocab_file = vocab_file
        self.never_split = never_split
        if pretrained_vocab_file is not None:
            for key, value in load_vocab_pickle(pretrained_vocab_file).items():
                if key not in self.__dict__:
                    self.__dict__[key] = value
        if vocab_file is not None:
            self.build_vocab()

    def count_file(self, path, verbose=False, add_eos=False):
        sents = []
        with open(path, "r", encoding="utf-8") as f:
            for line in f:
                symbols = self.tokenize(line, add_eos=add_eos)
                self.counter.update(symbols)
                sents.append(symbols)
        return sents

    def count_sents(self, sents, verbose=False):
        for symbols in sents:
            self.counter.update(symbols)

    def _build_from_file(self, vocab_file):
        self.idx2sym = []
        self.sym2idx = OrderedDict()
        with open(vocab_file, "r", encoding="utf-8") as f:
            for line in f:
                self.add_symbol(line.strip().split()[0])
        if "<UNK>" in self.sym2idx:
            self.unk_idx = self.sym2idx["<UNK>"]
        elif "<unk>" in self.sym2idx:
            self.unk_idx = self.sym2idx["<unk>"]
        else:
            raise ValueError("No <unkown> token in vocabulary")

    def save_vocabulary(self, vocab_path):
        """vocab.bin: the vocabulary attributes as a dict (plain containers, loadable with weights_only)."""
        import torch
        vocab_file = os.path.join(vocab_path, VOCAB_FILES_NAMES["pretrained_vocab_file"]) \
            if os.path.isdir(vocab_path) else vocab_path
        state = {k: self.__dict__[k] for k in _VOCAB_STATE if k in self.__dict__}
        state["counter"] = dict(state.get("counter", {}))
        torch.save(state, vocab_file)
        return (vocab_file,)

    def build_vocab(self):
        if self.vocab_file:
            self._build_from_file(self.vocab_file)
        else:
            self.idx2sym = []
            self.sym2idx = OrderedDict()
            for sym in self.special:
                self.add_special(sym)
            for sym, cnt in self.counter.most_common(self.max_size):
                if cnt < self.min_freq:
                    break
                self.add_symbol(sym)

    def encode_file(self, path, ordered=False, verbose=False, add_eos=True, add_double_eos=False):
        import torch
        encoded = []
        with open(path, "r", encoding="utf-8") as f:
            for line in f:
                symbols = self.tokenize(line, add_eos=add_eos, add_double_eos=add_double_eos)
                encoded.append(self.convert_to_tensor(symbols))
        return torch.cat(encoded) if ordered else encoded

    def encode_sents(self, sents, ordered=False, verbose=False):
        import torch
        encoded = [self.convert_to_tensor(symbols) for symbols in sents]
        return torch.cat(encoded) if ordered else encoded

    def add_special(self, sym):
        if sym not in self.sym2idx:
            self.idx2sym.append(sym)
            self.sym2idx[sym] = len(self.idx2sym) - 1
            setattr(self, "{}_idx".format(sym.strip("<>")), self.sym2idx[sym])

    def add_symbol(self, sym):
        if sym not in self.sym2idx:
            self.idx2sym.append(sym)
            self.sym2idx[sym] = len(self.idx2sym) - 1

    def _convert_id_to_token(self, idx):
        if not 0 <= idx < len(self):
            raise ValueError(f"Index {idx} out of vocabulary range")
        return self.idx2sym[idx]

    def _convert_token_to_id(self, sym):
        if sym in self.sym2idx:
            return self.sym2idx[sym]
        if hasattr(self, "unk_idx"):
            return self.sym2idx.get(sym, self.unk_idx)
        if "<unk>" in self.sym2idx:
            return self.sym2idx["<unk>"]
        if "<UNK>" in self.sym2idx:
            return self.sym2idx["<UNK>"]
        raise ValueError("Token not in vocabulary and no <unk> token in vocabulary for replacement")

    def convert_tokens_to_string(self, tokens):
        return " ".join(tokens).strip()

    def convert_to_tensor(self, symbols):
        import torch
        return torch.LongTensor(self.convert_tokens_to_ids(symbols))

    @property
    def vocab_size(self):
        return len(self.idx2sym)

    def _tokenize(self, line, add_eos=False, add_double_eos=False):
        line = line.strip()
        if self.lower_case:
            line = line.lower()
        symbols = line if self.delimiter == "" else line.split(self.delimiter)
        if add_double_eos:
            return ["<S>"] + symbols + ["<S>"]
        if add_eos:
            return symbols + ["<eos>"]
        return symbols

# 1.2.0's module-level names for the tokenizer's pretrained files and sizes
PRETRAINED_VOCAB_FILES_MAP = TransfoXLTokenizer.pretrained_vocab_files_map
PRETRAINED_POSITIONAL_EMBEDDINGS_SIZES = TransfoXLTokenizer.max_model_input_sizes
