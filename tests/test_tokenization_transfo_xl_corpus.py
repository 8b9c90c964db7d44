"""Transformer-XL's corpus utilities of 1.2.0's tokenization_transfo_xl (TransfoXLCorpus, the LM iterators,
get_lm_corpus) give 1.2.0's tensors, vocabularies and batches."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from pytorch_transformers import tokenization_transfo_xl as pt

import transformers_fast as tf
from transformers_fast import tokenization_transfo_xl as ours

WORDS = "the cat sat on a mat while dogs ran far away from home and The Cat came back , later .".split()


def write_dataset(folder, seed=0):
    rng = random.Random(seed)
    for split, lines in (("train", 60), ("valid", 12), ("test", 12)):
        text = "\n".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 14))) for _ in range(lines))
        (folder / f"{split}.txt").write_text(text + "\n", encoding="utf-8")


def batches(iterator):
    return [(d.clone(), t.clone(), n) for d, t, n in iterator]


def assert_same_batches(a, b):
    assert len(a) == len(b) > 0
    for (d1, t1, n1), (d2, t2, n2) in zip(a, b):
        assert n1 == n2 and torch.equal(d1, d2) and torch.equal(t1, t2)


@pytest.mark.parametrize("ext_len", [None, 3])
def test_ordered_iterator_fixed_and_variable_lengths(ext_len):
    data = torch.randint(0, 50, (1003,))
    args = dict(bsz=4, bptt=17, ext_len=ext_len)
    assert_same_batches(batches(ours.LMOrderedIterator(data, **args)), batches(pt.LMOrderedIterator(data, **args)))
    np.random.seed(5)
    theirs = batches(pt.LMOrderedIterator(data, **args).get_varlen_iter())
    np.random.seed(5)
    assert_same_batches(batches(ours.LMOrderedIterator(data, **args).get_varlen_iter()), theirs)


@pytest.mark.parametrize("shuffle,ext_len", [(False, None), (True, 4)])
def test_shuffled_iterator(shuffle, ext_len):
    g = torch.Generator().manual_seed(0)
    sents = [torch.randint(0, 50, (int(n),), generator=g) for n in torch.randint(2, 30, (40,), generator=g)]
    args = dict(bsz=3, bptt=11, ext_len=ext_len, shuffle=shuffle)
    np.random.seed(1)
    theirs = batches(pt.LMShuffledIterator(sents, **args))
    np.random.seed(1)
    assert_same_batches(batches(ours.LMShuffledIterator(sents, **args)), theirs)


@pytest.mark.parametrize("dataset", ["wt2", "wt103", "text8"])
def test_corpus_built_from_text_files_equals_1_2_0(dataset, tmp_path):
    write_dataset(tmp_path)
    mine, theirs = tf.TransfoXLCorpus(special=["<eos>"]), pt.TransfoXLCorpus(special=["<eos>"])
    mine.build_corpus(str(tmp_path), dataset)
    theirs.build_corpus(str(tmp_path), dataset)
    assert mine.vocab.idx2sym == theirs.vocab.idx2sym
    for split in ("train", "valid", "test"):
        assert torch.equal(getattr(mine, split), getattr(theirs, split)), split
    assert_same_batches(batches(mine.get_iterator("valid", 2, 9)), batches(theirs.get_iterator("valid", 2, 9)))


def test_lm1b_kind_streams_sentences(tmp_path):
    write_dataset(tmp_path)
    (tmp_path / "vocab.txt").write_text("\n".join(["<S>", "<unk>"] + sorted(set(WORDS))) + "\n")
    mine = tf.TransfoXLCorpus(special=[], vocab_file=str(tmp_path / "vocab.txt"))
    theirs = pt.TransfoXLCorpus(special=[], vocab_file=str(tmp_path / "vocab.txt"))
    mine.build_corpus(str(tmp_path), "lm1b")
    theirs.build_corpus(str(tmp_path), "lm1b")
    assert all(torch.equal(a, b) for a, b in zip(mine.test, theirs.test)) and len(mine.test) == len(theirs.test)
    assert_same_batches(batches(mine.get_iterator("test", 2, 7)), batches(theirs.get_iterator("test", 2, 7)))


@pytest.mark.parametrize("safe_globals", [True, False], ids=["torch-2.5+", "older-torch"])
def test_from_pretrained_folder_and_get_lm_corpus(tmp_path, monkeypatch, safe_globals):
    if not safe_globals:  # torch < 2.5: its weights_only loader cannot be told about Counter
        monkeypatch.delattr(torch.serialization, "safe_globals", raising=False)
    write_dataset(tmp_path)
    built = pt.TransfoXLCorpus(special=["<eos>"])
    built.build_corpus(str(tmp_path), "wt2")
    built.vocab.save_vocabulary(str(tmp_path))  # vocab.bin, as the published corpus folders hold
    torch.save({k: v for k, v in built.__dict__.items() if k != "vocab"}, str(tmp_path / "corpus.bin"))
    loaded = tf.TransfoXLCorpus.from_pretrained(str(tmp_path))
    assert loaded.dataset == "wt2" and loaded.vocab.idx2sym == built.vocab.idx2sym
    assert torch.equal(loaded.train, built.train) and torch.equal(loaded.test, built.test)
    (tmp_path / "vocab_only").mkdir()
    built.vocab.save_vocabulary(str(tmp_path / "vocab_only"))
    assert tf.TransfoXLCorpus.from_pretrained(str(tmp_path / "vocab_only")) is None  # no corpus.bin: None, as 1.2.0
    with pytest.raises(OSError, match="nowhere"):
        tf.TransfoXLCorpus.from_pretrained(str(tmp_path / "nowhere"))

    first = ours.get_lm_corpus(str(tmp_path), "wt2")  # builds, then caches
    second = ours.get_lm_corpus(str(tmp_path), "wt2")  # from the cache
    assert (tmp_path / "cache.pt").exists()
    assert first.vocab.idx2sym == second.vocab.idx2sym == built.vocab.idx2sym
    assert torch.equal(second.valid, built.valid)
    assert second.vocab.convert_tokens_to_ids(["cat"]) == built.vocab.convert_tokens_to_ids(["cat"])
    with pytest.raises(ValueError, match="split"):
        second.get_iterator("dev", 2, 5)
