"""pytest-benchmark view of the tokenizers (fresh documents every round, one call per document, 1 thread).
The full comparison with MB/s figures is benchmarks/bench_tokenizers.py."""
import itertools
import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))

from bench_tokenizers import make_docs, word_list  # noqa: E402
from tokenizer_corpus import bert_uncased_vocab, gpt2_files  # noqa: E402

_seeds = itertools.count(5000)


@pytest.fixture(scope="module")
def words():
    return word_list()


def _tokenizers():
    from transformers_fast import BertTokenizer, GPT2Tokenizer
    out = {"ours-wordpiece": BertTokenizer(bert_uncased_vocab()).encode,
           "ours-gpt2": GPT2Tokenizer(*gpt2_files()).encode}
    try:
        import tokenizers
        hb = tokenizers.BertWordPieceTokenizer(bert_uncased_vocab(), lowercase=True)
        hg = tokenizers.ByteLevelBPETokenizer(*gpt2_files())
        out["hf-wordpiece"] = lambda d: hb.encode(d, add_special_tokens=False).ids
        out["hf-gpt2"] = lambda d: hg.encode(d).ids
    except ImportError:
        pass
    return out


@pytest.mark.parametrize("name", ["ours-wordpiece", "hf-wordpiece", "ours-gpt2", "hf-gpt2"])
def test_tokenizer_throughput(benchmark, words, name):
    from transformers_fast.ops import cpu_isa
    fns = _tokenizers()
    if name not in fns:
        pytest.skip(f"{name} not installed")
    fn = fns[name]
    torch.set_num_threads(1)

    def setup():
        return (make_docs(next(_seeds), 0.2, words),), {}

    def run(docs):
        for d in docs:
            fn(d)

    benchmark.extra_info["cpu_isa"] = cpu_isa()
    benchmark.pedantic(run, setup=setup, rounds=3, iterations=1)
