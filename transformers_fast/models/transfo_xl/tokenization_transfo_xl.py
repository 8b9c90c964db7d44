"""TransfoXLTokenizer (pytorch-transformers 1.2.0): word-level vocabulary. The pretrained vocab.bin
is a pickle: it is read with torch.load(weights_only=True) (plus collections.Counter) or, for a
plain pickle, an unpickler that allows only the containers it holds; never arbitrary code."""
from __future__ import annotations

import contextlib
import io
import logging
import os
import zipfile
from collections import Counter, OrderedDict

from transformers_fast.file_utils import AllowListUnpickler
from transformers_fast.tokenization_utils import PreTrainedTokenizer

logger = logging.getLogger(__name__)

VOCAB_FILES_NAMES = {"pretrained_vocab_file": "vocab.bin", "vocab_file": "vocab.txt"}
# the attributes 1.2.0 pickles in vocab.bin that describe the vocabulary
_VOCAB_STATE = ("counter", "special", "min_freq", "max_size", "lower_case", "delimiter", "vocab_file",
                "never_split", "idx2sym", "sym2idx", "unk_idx", "eos_idx")


# what a vocab.bin pickle may build: the containers a vocabulary holds
_VOCAB_PICKLE_ALLOWED = {("collections", "OrderedDict"): OrderedDict, ("collections", "Counter"): Counter,
                         ("builtins", "set"): set, ("builtins", "frozenset"): frozenset}


def _vocab_unpickler(stream):
    return AllowListUnpickler(stream, _VOCAB_PICKLE_ALLOWED, "vocab file")


# the first pickle of torch's legacy (pre-zip) format, as 1.2.0's own vocab.bin files were written
_TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def _restricted_load(raw: bytes):
    """The object of a plain pickle or of a torch.save file (zip or legacy format) holding no tensors, with only
    the containers a vocabulary holds allowed: for torch versions whose weights_only loader cannot be told
    about Counter."""
    if zipfile.is_zipfile(io.BytesIO(raw)):
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            raw = archive.read(next(n for n in archive.namelist() if n.rsplit("/", 1)[-1] == "data.pkl"))
    stream = io.BytesIO(raw)
    data = _vocab_unpickler(stream).load()
    if isinstance(data, int) and data == _TORCH_LEGACY_MAGIC:
        for _ in range(2):  # protocol version, system info
            _vocab_unpickler(stream).load()
        data = _vocab_unpickler(stream).load()
    return data


def torch_load_with_counter(path):
    """torch.load(weights_only=True) that also allows collections.Counter where torch can be told so (2.5+)."""
    import torch
    allow = getattr(torch.serialization, "safe_globals", None)
    with allow([Counter, OrderedDict]) if allow is not None else contextlib.nullcontext():
        return torch.load(path, map_location="cpu", weights_only=True)


def load_vocab_pickle(path):
    """The dict a 1.2.0 vocab.bin holds, loaded without executing code."""
    try:
        data = torch_load_with_counter(path)
    except Exception as torch_err:
        try:
            with open(path, "rb") as f:
                data = _restricted_load(f.read())
        except Exception as err:
            raise ValueError(f"pretrained_vocab_file {path}: not a loadable vocabulary ({torch_err}; {err})") from err
    if not isinstance(data, dict):
        raise ValueError(f"pretrained_vocab_file {path}: expected a dict, got {type(data).__name__}")
    for key, kind in (("idx2sym", list), ("sym2idx", dict)):
        if key in data and not isinstance(data[key], kind):
            raise ValueError(f"pretrained_vocab_file {path}: not a vocabulary ({key} is a {type(data[key]).__name__}, "
                             f"expected a {kind.__name__})")
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

    def _run_word_ids(self, tokens):
        return list(range(len(tokens)))  # a word-level vocabulary

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


# ---- 1.2.0's language-modelling corpus and its batch iterators (Transformer-XL's training and evaluation data) ----

PRETRAINED_CORPUS_ARCHIVE_MAP = {
    "transfo-xl-wt103": "https://s3.amazonaws.com/models.huggingface.co/bert/transfo-xl-wt103-corpus.bin",
}
CORPUS_NAME = "corpus.bin"
_ORDERED_DATASETS = ("ptb", "wt2", "wt103", "enwik8", "text8")


class LMOrderedIterator:
    def __init__(self, data, bsz, bptt, device="cpu", ext_len=None):
        """data: a 1-D LongTensor in text order, cut into bsz parallel streams of bptt-token segments."""
        self.bsz = bsz
        self.bptt = bptt
        self.ext_len = ext_len if ext_len is not None else 0
        self.device = device
        self.n_step = data.size(0) // bsz
        data = data.narrow(0, 0, self.n_step * bsz)  # what does not fill every stream is dropped
        self.data = data.view(bsz, -1).t().contiguous().to(device)
        self.n_batch = (self.n_step + self.bptt - 1) // self.bptt

    def get_batch(self, i, bptt=None):
        if bptt is None:
            bptt = self.bptt
        seq_len = min(bptt, self.data.size(0) - 1 - i)
        data = self.data[max(0, i - self.ext_len):i + seq_len]
        target = self.data[i + 1:i + 1 + seq_len]
        return (data.transpose(0, 1).contiguous().to(self.device),
                target.transpose(0, 1).contiguous().to(self.device), seq_len)

    def get_fixlen_iter(self, start=0):
        for i in range(start, self.data.size(0) - 1, self.bptt):
            yield self.get_batch(i)

    def get_varlen_iter(self, start=0, std=5, min_len=5, max_deviation=3):
        """Segments of random length around bptt, drawn from numpy's global generator as 1.2.0 does."""
        import numpy as np

        max_len = self.bptt + max_deviation * std
        i = start
        while True:
            bptt = self.bptt if np.random.random() < 0.95 else self.bptt / 2.0
            bptt = min(max_len, max(min_len, int(np.random.normal(bptt, std))))
            data, target, seq_len = self.get_batch(i, bptt)
            i += seq_len
            yield data, target, seq_len
            if i >= self.data.size(0) - 2:
                break

    def __iter__(self):
        return self.get_fixlen_iter()


class LMShuffledIterator:
    def __init__(self, data, bsz, bptt, device="cpu", ext_len=None, shuffle=False):
        """data: a list of LongTensors (sentences) in no particular order, streamed into bsz rows."""
        self.data = data
        self.bsz = bsz
        self.bptt = bptt
        self.ext_len = ext_len if ext_len is not None else 0
        self.device = device
        self.shuffle = shuffle

    def get_sent_stream(self):
        import numpy as np

        order = np.random.permutation(len(self.data)) if self.shuffle else range(len(self.data))
        for idx in order:
            yield self.data[idx]

    def stream_iterator(self, sent_stream):
        import torch

        streams = [None] * self.bsz
        data = torch.LongTensor(self.bptt, self.bsz)
        target = torch.LongTensor(self.bptt, self.bsz)
        n_retain = 0
        while True:
            # data [n_retain + bptt, bsz] (the first n_retain rows kept from the last batch), target [bptt, bsz]
            data[n_retain:].fill_(-1)
            target.fill_(-1)
            for i in range(self.bsz):
                n_filled = 0
                try:
                    while n_filled < self.bptt:
                        if streams[i] is None or len(streams[i]) <= 1:
                            streams[i] = next(sent_stream)
                        n_new = min(len(streams[i]) - 1, self.bptt - n_filled)
                        data[n_retain + n_filled:n_retain + n_filled + n_new, i] = streams[i][:n_new]
                        target[n_filled:n_filled + n_new, i] = streams[i][1:n_new + 1]
                        streams[i] = streams[i][n_new:]
                        n_filled += n_new
                except StopIteration:
                    return
            yield (data.transpose(0, 1).contiguous().to(self.device),
                   target.transpose(0, 1).contiguous().to(self.device), self.bptt)
            n_retain = min(data.size(0), self.ext_len)
            if n_retain > 0:
                data[:n_retain] = data[-n_retain:]
            data.resize_(n_retain + self.bptt, data.size(1))

    def __iter__(self):
        yield from self.stream_iterator(self.get_sent_stream())


class LMMultiFileIterator(LMShuffledIterator):
    def __init__(self, paths, vocab, bsz, bptt, device="cpu", ext_len=None, shuffle=False):
        """Sentences of several text files (one file at a time), encoded with vocab."""
        super().__init__(None, bsz, bptt, device, ext_len, shuffle)
        self.paths = paths
        self.vocab = vocab

    def get_sent_stream(self, path):
        import numpy as np

        sents = self.vocab.encode_file(path, add_double_eos=True)
        if self.shuffle:
            np.random.shuffle(sents)
        return iter(sents)

    def __iter__(self):
        import numpy as np

        if self.shuffle:
            np.random.shuffle(self.paths)
        for path in self.paths:
            yield from self.stream_iterator(self.get_sent_stream(path))


class TransfoXLCorpus:
    """A tokenised language-modelling dataset (train / valid / test) with its vocabulary."""

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, cache_dir=None, *inputs, **kwargs):
        """The pre-processed corpus of a shortcut name or a folder (corpus.bin beside the vocabulary)."""
        import torch

        from transformers_fast.file_utils import cached_path

        vocab = TransfoXLTokenizer.from_pretrained(pretrained_model_name_or_path, *inputs, **kwargs)
        corpus_file = PRETRAINED_CORPUS_ARCHIVE_MAP.get(pretrained_model_name_or_path) or os.path.join(
            pretrained_model_name_or_path, CORPUS_NAME)
        try:
            resolved = cached_path(corpus_file, cache_dir=cache_dir)
        except EnvironmentError:
            logger.error("Corpus '%s' was not found in corpus list (%s). We assumed '%s' was a path or url but "
                         "couldn't find files %s at this path or url.", pretrained_model_name_or_path,
                         ", ".join(PRETRAINED_CORPUS_ARCHIVE_MAP), pretrained_model_name_or_path, corpus_file)
            return None
        corpus = cls(*inputs, **kwargs)
        corpus.__dict__.update(torch.load(resolved, map_location="cpu", weights_only=True))
        corpus.vocab = vocab
        for split in ("train", "valid", "test"):
            if getattr(corpus, split) is not None:
                setattr(corpus, split, torch.as_tensor(getattr(corpus, split), dtype=torch.long))
        return corpus

    def __init__(self, *args, **kwargs):
        self.vocab = TransfoXLTokenizer(*args, **kwargs)
        self.dataset = None
        self.train = None
        self.valid = None
        self.test = None

    def build_corpus(self, path, dataset):
        """Counts and encodes train/valid/test.txt of the folder path, as 1.2.0 does for each dataset kind."""
        import glob

        self.dataset = dataset
        train_paths = None
        if dataset in ("ptb", "wt2", "enwik8", "text8"):
            for split in ("train", "valid", "test"):
                self.vocab.count_file(os.path.join(path, f"{split}.txt"))
        elif dataset == "wt103":
            self.vocab.count_file(os.path.join(path, "train.txt"))
        elif dataset == "lm1b":  # the vocabulary comes from vocab_file
            train_paths = glob.glob(os.path.join(path, "1-billion-word-language-modeling-benchmark-r13output",
                                                 "training-monolingual.tokenized.shuffled", "news.en-*"))
        self.vocab.build_vocab()
        if dataset in _ORDERED_DATASETS:
            add_eos = dataset in ("ptb", "wt2", "wt103")
            self.train, self.valid, self.test = (
                self.vocab.encode_file(os.path.join(path, f"{split}.txt"), ordered=True, add_eos=add_eos)
                for split in ("train", "valid", "test"))
        elif dataset == "lm1b":
            self.train = train_paths
            self.valid, self.test = (
                self.vocab.encode_file(os.path.join(path, f"{split}.txt"), ordered=False, add_double_eos=True)
                for split in ("valid", "test"))

    def get_iterator(self, split, *args, **kwargs):
        if split not in ("train", "valid", "test"):
            raise ValueError(f"split must be 'train', 'valid' or 'test', got {split!r}")
        if self.dataset not in _ORDERED_DATASETS + ("lm1b",):
            raise ValueError(f"no corpus built (dataset {self.dataset!r}): call build_corpus first")
        data = {"train": self.train, "valid": self.valid, "test": self.test}[split]
        if self.dataset in _ORDERED_DATASETS:
            return LMOrderedIterator(data, *args, **kwargs)
        if split == "train":
            kwargs["shuffle"] = True
            return LMMultiFileIterator(data, self.vocab, *args, **kwargs)
        return LMShuffledIterator(data, *args, **kwargs)


def get_lm_corpus(datadir, dataset):
    """The corpus of datadir, built once and cached there as cache.pt (tensors and the vocabulary's state, loaded
    without unpickling code; 1.2.0 pickled the whole object)."""
    import torch

    cache = os.path.join(datadir, "cache.pt")
    kwargs = {}
    if dataset in ("wt103", "wt2"):
        kwargs = dict(special=["<eos>"], lower_case=False)
    elif dataset == "ptb":
        kwargs = dict(special=["<eos>"], lower_case=True)
    elif dataset == "lm1b":
        kwargs = dict(special=[], lower_case=False, vocab_file=os.path.join(datadir, "1b_word_vocab.txt"))
    corpus = TransfoXLCorpus(**kwargs)
    if os.path.exists(cache):
        logger.info("Loading cached dataset...")
        state = torch_load_with_counter(cache)
        vocab = state.pop("vocab")
        vocab["counter"] = Counter(vocab.get("counter", {}))
        corpus.vocab.__dict__.update(vocab)
        corpus.__dict__.update(state)
        return corpus
    logger.info("Producing dataset %s...", dataset)
    corpus.build_corpus(datadir, dataset)
    state = {k: v for k, v in corpus.__dict__.items() if k != "vocab"}
    state["vocab"] = {k: getattr(corpus.vocab, k) for k in _VOCAB_STATE if hasattr(corpus.vocab, k)}
    state["vocab"]["counter"] = dict(corpus.vocab.counter)  # plain containers: any torch's weights_only loads them
    torch.save(state, cache)
    return corpus
