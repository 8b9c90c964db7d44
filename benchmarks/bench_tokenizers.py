"""Tokenizer throughput, MB/s of UTF-8 input, one thread, one call per document; and our batch path (one call
for 10k documents) at 1 thread and at torch's default (every core).

Every contender gets its own freshly generated documents (same distribution, different seed), so no
result cache has seen the timed text. Compares transformers_fast with the Hugging Face `tokenizers`
library (same vocabulary), tiktoken (GPT-2, if installed) and pytorch-transformers 1.2.0 (on a small
sample: it is slow). Also checks that our ids equal 1.2.0's on that sample. XLM (Moses + BPE) uses a
vocabulary trained here (no XLM vocabulary is available offline).

    python benchmarks/bench_tokenizers.py [--mb 10] [--batch-docs 10000] [--batch-only]
"""
import argparse
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))

import torch  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from transformers_fast import benchmark  # noqa: E402  (before anything sets torch's threads)

from tokenizer_corpus import (EDGE_CASES, as_xlm_files, bert_uncased_vocab, gpt2_files,  # noqa: E402
                              word_end_bpe_files)

MULTI = [t for t in EDGE_CASES[7:17]] + [
    "Die Bundesregierung hat am Mittwoch beschlossen, die Förderung für erneuerbare Energien auszuweiten.",
    "Le gouvernement français a annoncé une réforme des retraites très contestée à l'Assemblée nationale.",
    "El presidente dijo que la economía española crecerá más de lo previsto este año según el informe.",
    "Москва является крупнейшим городом России и одним из крупнейших городов мира по численности населения.",
    "東京は日本の首都であり、世界で最も人口の多い都市圏の一つです。経済と文化の中心地でもあります。",
]


def word_list():
    words = []
    with open(bert_uncased_vocab(), encoding="utf-8") as f:
        for line in f:
            w = line.rstrip("\n")
            if w.isalpha() and w.isascii() and len(w) > 1:
                words.append(w)
    return words


def make_docs(seed, mb, words):
    """Documents of 1-6 KB: Zipf-distributed English words, punctuation, numbers, some multilingual text."""
    rng = random.Random(seed)
    weights = [1.0 / (i + 10) for i in range(len(words))]
    cum, total = [], 0.0
    for w in weights:
        total += w
        cum.append(total)
    import bisect
    docs, size = [], 0
    while size < mb * 1e6:
        target = rng.randint(1000, 6000)
        parts, n = [], 0
        while n < target:
            r = rng.random()
            if r < 0.04:
                s = rng.choice(MULTI)
            else:
                k = rng.randint(5, 25)
                ws = [words[bisect.bisect(cum, rng.random() * total)] for _ in range(k)]
                if rng.random() < 0.3:
                    ws[rng.randrange(k)] = str(rng.randint(0, 100000))
                ws[0] = ws[0].capitalize()
                if rng.random() < 0.2:
                    ws[rng.randrange(k)] = ws[rng.randrange(k)].capitalize()
                s = " ".join(ws) + rng.choice([".", ".", ".", "?", "!", ",", ";", ":"])
            parts.append(s)
            n += len(s) + 1
        doc = " ".join(parts)
        docs.append(doc)
        size += len(doc.encode("utf-8"))
    return docs


def xlm_files(tmp, docs):
    """A small XLM vocabulary in XLM's file formats (merges without a header, "a b count" lines), trained
    with the `tokenizers` trainer on lower-cased Moses-tokenised text."""
    from transformers_fast.models.xlm.tokenization_xlm import native_moses
    moses = native_moses("en")
    texts = [" ".join(moses.pretokenize(d.lower())) for d in docs]
    files = word_end_bpe_files(texts, 20000, os.path.join(tmp, "xlm"), limit_alphabet=1000)
    return as_xlm_files(*files, 100000, ["<s>", "</s>", "<pad>", "<unk>"] + [f"<special{i}>" for i in range(10)])


def mbps(fn, docs):
    nbytes = sum(len(d.encode("utf-8")) for d in docs)
    t0 = time.perf_counter()
    for d in docs:
        fn(d)
    dt = time.perf_counter() - t0
    return nbytes / dt / 1e6


def batch_throughput(results, fresh, count, thread_counts_, *tokenizers):
    """Our batch path (one call for `count` documents, spread over the threads) at each thread count, each
    run on documents not seen before."""
    for tokenizer in tokenizers:
        kind = f"{type(tokenizer).__name__} batch of {count}"
        for n in thread_counts_:
            docs = fresh(count * 3.5e-3 * 1.1)[:count]  # documents average 3.5 KB
            torch.set_num_threads(n)
            t0 = time.perf_counter()
            tokenizer._ids_batch(docs, False, False)
            dt = time.perf_counter() - t0
            results.append((kind, f"transformers_fast, {n} thread(s)", sum(len(d.encode()) for d in docs) / dt / 1e6))
    torch.set_num_threads(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=10.0)
    ap.add_argument("--ref-mb", type=float, default=0.2)
    ap.add_argument("--batch-docs", type=int, default=10000, help="documents in the batch-path measurement")
    ap.add_argument("--batch-only", action="store_true", help="only the batch path at 1 thread and every core")
    args = ap.parse_args()
    torch.set_num_threads(1)
    from transformers_fast.ops import cpu_features, cpu_isa
    print(f"{benchmark.cpu_name()}, CPU ISA: {cpu_isa()}  features: {cpu_features()}  threads: 1 (the batch "
          f"path also at {benchmark.DEFAULT_THREADS}, torch's default)  docs of 1-6 KB, {args.mb} MB each")
    words = word_list()
    seed = [100]

    def fresh(mb=args.mb):
        seed[0] += 1
        return make_docs(seed[0], mb, words)

    results = []
    from transformers_fast.models.bert.tokenization_bert import BertTokenizer
    from transformers_fast.models.gpt2.tokenization_gpt2 import GPT2Tokenizer
    vocab = bert_uncased_vocab()
    enc, merges = gpt2_files()
    if args.batch_only:
        batch_throughput(results, fresh, args.batch_docs, benchmark.parse_threads(benchmark.default_threads_text()),
                         BertTokenizer(vocab), GPT2Tokenizer(enc, merges))
        return print_results(results)
    # ---- WordPiece (bert-base-uncased)
    ours = BertTokenizer(vocab)
    results.append(("WordPiece", "transformers_fast", mbps(ours.encode, fresh())))
    import tempfile
    tmp = tempfile.mkdtemp()
    try:
        import tokenizers
        hf = tokenizers.BertWordPieceTokenizer(vocab, lowercase=True)
        results.append(("WordPiece", "HF tokenizers", mbps(lambda d: hf.encode(d, add_special_tokens=False).ids, fresh())))
        hf.save(os.path.join(tmp, "bert.json"))
        import tokie
        tk = tokie.Tokenizer.from_json(os.path.join(tmp, "bert.json"))
        results.append(("WordPiece", "tokie", mbps(lambda d: tk.encode(d, add_special_tokens=False).ids, fresh())))
    except ImportError:
        pass
    try:  # a folder transformers saved, with normalized added tokens: transformers' split on the normalized text
        import transformers
        saved = transformers.BertTokenizer(vocab)
        saved.add_tokens(["newtokxyz", "<custom>", "hello world"])
        saved.save_pretrained(os.path.join(tmp, "bert_saved"))
        ours_saved = BertTokenizer.from_pretrained(os.path.join(tmp, "bert_saved"))
        results.append(("WordPiece", "transformers_fast, HF-saved dir", mbps(ours_saved.encode, fresh())))
        theirs_saved = transformers.AutoTokenizer.from_pretrained(os.path.join(tmp, "bert_saved"))
        check = fresh(args.ref_mb)
        assert all(ours_saved.encode(d) == theirs_saved.encode(d, add_special_tokens=False) for d in check), \
            "WordPiece ids of the folder transformers saved differ from transformers'"
    except ImportError:
        pass
    import pytorch_transformers as ref
    theirs = ref.BertTokenizer(vocab)
    sample = fresh(args.ref_mb)
    results.append(("WordPiece", "pytorch-transformers 1.2.0", mbps(theirs.encode, sample)))
    assert all(ours.encode(d) == theirs.encode(d) for d in sample), "WordPiece ids differ from 1.2.0"

    # ---- byte-level BPE (GPT-2)
    ours = GPT2Tokenizer(enc, merges)
    results.append(("GPT-2 BPE", "transformers_fast", mbps(ours.encode, fresh())))
    cold = GPT2Tokenizer(enc, merges)  # its own word cache: the first row's has learnt that row's words
    results.append(("GPT-2 BPE", "transformers_fast (numpy ids)",
                    mbps(lambda d: cold.encode(d, return_tensors="np"), fresh())))
    try:
        import tokenizers
        hf = tokenizers.ByteLevelBPETokenizer(enc, merges)
        results.append(("GPT-2 BPE", "HF tokenizers", mbps(lambda d: hf.encode(d).ids, fresh())))
        hf.save(os.path.join(tmp, "gpt2.json"))
        import tokie
        tk = tokie.Tokenizer.from_json(os.path.join(tmp, "gpt2.json"))
        results.append(("GPT-2 BPE", "tokie", mbps(lambda d: tk.encode(d, add_special_tokens=False).ids, fresh())))
    except ImportError:
        pass
    for name, load, run in [("gigatoken (numpy ids)", lambda p: __import__("gigatoken").Tokenizer(p), lambda t, d: t.encode(d)),
                            ("gigatoken (list ids)", lambda p: __import__("gigatoken").Tokenizer(p), lambda t, d: t.encode(d).tolist()),
                            ("kitoken", lambda p: __import__("kitoken").Kitoken.from_file(p), lambda t, d: t.encode(d, True))]:
        try:
            other = load(os.path.join(tmp, "gpt2.json"))
        except Exception as err:  # not installed, or no tokenizer.json (no HF tokenizers)
            print(f"GPT-2 BPE: {name.split()[0]} not measured ({type(err).__name__}: {err})")
            continue
        # HF's ByteLevel pre-tokenizer adds no prefix space (1.2.0 does): compare with HF's ids
        import tokenizers
        hf = tokenizers.ByteLevelBPETokenizer(enc, merges)
        check = fresh(0.05)
        same = all(list(run(other, d)) == hf.encode(d).ids for d in check)
        results.append(("GPT-2 BPE", name + ("" if same else " [ids differ]"), mbps(lambda d: run(other, d), fresh())))
    try:
        import json
        import tiktoken
        from transformers_fast.models.gpt2.tokenization_gpt2 import bytes_to_unicode
        byte_decoder = {v: k for k, v in bytes_to_unicode().items()}
        with open(enc, encoding="utf-8") as f:
            ranks = {bytes(byte_decoder[c] for c in tok): i for tok, i in json.load(f).items() if tok != "<|endoftext|>"}
        tt = tiktoken.Encoding("gpt2", pat_str=r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""",
                               mergeable_ranks=ranks, special_tokens={"<|endoftext|>": 50256})
        results.append(("GPT-2 BPE", "tiktoken", mbps(lambda d: tt.encode_ordinary(d), fresh())))
    except ImportError:
        pass
    theirs = ref.GPT2Tokenizer(enc, merges)
    sample = fresh(args.ref_mb)
    results.append(("GPT-2 BPE", "pytorch-transformers 1.2.0", mbps(theirs.encode, sample)))
    assert all(ours.encode(d) == theirs.encode(d) for d in sample), "GPT-2 ids differ from 1.2.0"

    # ---- XLM: Moses + lower-casing + BPE with "</w>" (vocabulary trained here)
    from transformers_fast.models.xlm.tokenization_xlm import XLMTokenizer
    files = xlm_files(tmp, fresh(1))
    ours = XLMTokenizer(*files)
    results.append(("XLM Moses+BPE", "transformers_fast", mbps(ours.encode, fresh())))
    results.append(("XLM Moses+BPE", "transformers_fast, lang=fr", mbps(lambda d: ours.encode(d, lang="fr"), fresh())))
    theirs = ref.XLMTokenizer(*files)
    sample = fresh(args.ref_mb / 2)
    results.append(("XLM Moses+BPE", "pytorch-transformers 1.2.0", mbps(theirs.encode, sample)))
    assert all(ours.encode(d) == theirs.encode(d) for d in sample), "XLM ids differ from 1.2.0"
    sample = fresh(args.ref_mb / 2)
    results.append(("XLM Moses+BPE", "pytorch-transformers 1.2.0, lang=fr",
                    mbps(lambda d: theirs.encode(d, lang="fr"), sample)))
    assert all(ours.encode(d, lang="fr") == theirs.encode(d, lang="fr") for d in sample), "XLM fr ids differ"

    batch_throughput(results, fresh, args.batch_docs, benchmark.parse_threads(benchmark.default_threads_text()),
                     BertTokenizer(vocab), GPT2Tokenizer(enc, merges))
    print_results(results)


def print_results(results):
    width = max(18, max(len(kind) for kind, _, _ in results) + 2)
    print(f"{'tokenizer':<{width}}{'implementation':<34}{'MB/s':>10}")
    for kind, impl, v in results:
        print(f"{kind:<{width}}{impl:<34}{v:>10.2f}")


if __name__ == "__main__":
    main()
