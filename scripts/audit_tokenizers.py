"""Differential audit of every tokenizer against pytorch-transformers 1.2.0 and transformers (`python
scripts/audit_tokenizers.py [--random N] [--seed S]`, PYTHONPATH at the repository root): hand-written edge cases
(tests/tokenizer_corpus.py) and random text, on the offline vocabularies (bert-base-uncased, GPT-2) and small ones
trained here (cased WordPiece, OpenAI GPT and XLM "</w>" BPE, XLNet sentencepiece, Transformer-XL words).

1.2.0 (tokenize, encode, encode of pairs with special tokens, decode) is compared for every family and option set;
transformers' __call__ (special-token masks, token types, truncation with stride, offsets) on the texts whose plain
ids already agree (where 1.2.0 and transformers tokenize differently, 1.2.0 decides), and a folder transformers saved
with added tokens of every kind on the texts that folder without them tokenizes as transformers. Prints mismatch
counts and the first cases; exits 1 when a 1.2.0 comparison differs. Known differences are left out: 1.2.0's None
ids where a token has no id (we raise), whitespace-only text (we give [] as transformers), and errors raised by
both."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from collections import OrderedDict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))


def build_vocabularies(folder, extra_texts):
    """The trained vocabularies (as tests/test_tokenization_others.py builds them), in 1.2.0's file formats."""
    import sacremoses
    import sentencepiece as spm
    import tokenizers

    from tokenizer_corpus import XLM_TEST_SPECIALS, as_xlm_files, training_text, word_end_bpe_files

    files = {}
    d = os.path.join(folder, "cased")
    os.makedirs(d, exist_ok=True)
    wp = tokenizers.BertWordPieceTokenizer(lowercase=False, strip_accents=False)
    wp.train_from_iterator(training_text() + extra_texts, vocab_size=2500, min_frequency=1)
    wp.save_model(d)
    files["cased"] = os.path.join(d, "vocab.txt")
    files["openai"] = word_end_bpe_files([t.lower() for t in training_text()], 1500, os.path.join(folder, "openai"))
    mt = sacremoses.MosesTokenizer(lang="en")
    xlm = word_end_bpe_files([" ".join(mt.tokenize(t.lower(), escape=False)) for t in training_text()], 1500,
                             os.path.join(folder, "xlm"))
    files["xlm"] = as_xlm_files(*xlm, 1000, XLM_TEST_SPECIALS)
    d = os.path.join(folder, "xlnet")
    os.makedirs(d, exist_ok=True)
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(training_text() + ["1,000 2,500,000 3,14 12,3 a1, b22, 7,"] * 20),
        model_prefix=os.path.join(d, "spiece"), vocab_size=3000, model_type="unigram", hard_vocab_limit=False,
        user_defined_symbols=["<cls>", "<sep>", "<mask>", "<eop>", "<eod>"], character_coverage=0.98,
        control_symbols=[], pad_id=3, bos_id=1, eos_id=2, unk_id=0, minloglevel=2)
    files["xlnet"] = os.path.join(d, "spiece.model")
    d = os.path.join(folder, "transfo")
    os.makedirs(d, exist_ok=True)
    words = OrderedDict((w, None) for t in training_text() for w in t.split())
    with open(os.path.join(d, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(f"{w} 1" for w in ["<unk>", "<eos>", "<formula>"] + list(words)[:800]) + "\n")
    files["transfo"] = os.path.join(d, "vocab.txt")
    d = os.path.join(folder, "roberta")  # GPT-2's files with RoBERTa's special tokens
    os.makedirs(d, exist_ok=True)
    from tokenizer_corpus import gpt2_files
    vocab_file, merges = gpt2_files()
    with open(vocab_file, encoding="utf-8") as f:
        vocab = json.load(f)
    for t in ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]:
        vocab[t] = len(vocab)
    with open(os.path.join(d, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f)
    files["roberta"] = (os.path.join(d, "vocab.json"), merges)
    return files


def outcome(fn):
    """A result as JSON-like values, or "raised" (reference exception types differ)."""
    try:
        value = fn()
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:  # noqa: BLE001 - any failure is one outcome (tokenizers' panics are BaseExceptions)
        return "raised"
    if isinstance(value, dict):
        value = {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in value.items()}
    return json.loads(json.dumps(value))


class Report:
    def __init__(self, show):
        self.show, self.failed = show, False

    def compare(self, label, cases, same_failure_ok=True):
        bad = []
        for name, a, b in cases:
            x, y = outcome(a), outcome(b)
            if x != y and not (same_failure_ok and x == y == "raised"):
                bad.append((name, x, y))
        print(f"{label}: {len(bad)} of {len(cases)} differ")
        for name, x, y in bad[:self.show]:
            print(f"    {name!r}\n      ours {str(x)[:300]}\n      ref  {str(y)[:300]}")
        return bad


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--random", type=int, default=300, help="random texts besides the edge cases")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--show", type=int, default=3, help="cases printed per mismatching comparison")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    os.environ["RUST_BACKTRACE"] = "0"  # (tokenizers panics on some truncations: no backtraces)

    import pytorch_transformers as ref
    import transformers

    import transformers_fast as tf
    from tokenizer_corpus import EDGE_CASES, bert_uncased_vocab, gpt2_files, random_corpus

    texts = [t for t in EDGE_CASES + random_corpus(args.seed, args.random, 80) if t.strip()]
    plain = [t for t in texts if not any(0xD800 <= ord(c) <= 0xDFFF for c in t)]
    report = Report(args.show)
    with tempfile.TemporaryDirectory() as folder:
        files = build_vocabularies(folder, plain[:200])
        uncased = bert_uncased_vocab()
        families = [
            ("BertTokenizer", (uncased,), {}), ("BertTokenizer", (uncased,), dict(do_lower_case=False)),
            ("BertTokenizer", (uncased,), dict(tokenize_chinese_chars=False)),
            ("BertTokenizer", (uncased,), dict(do_basic_tokenize=False)),
            ("BertTokenizer", (uncased,), dict(never_split=["[FOO]", "Hello", "NAÏVE"])),
            ("BertTokenizer", (files["cased"],), dict(do_lower_case=False)),
            ("DistilBertTokenizer", (uncased,), {}), ("GPT2Tokenizer", gpt2_files(), {}),
            ("RobertaTokenizer", files["roberta"], {}), ("OpenAIGPTTokenizer", files["openai"], {}),
            ("XLMTokenizer", files["xlm"], {}), ("XLMTokenizer", files["xlm"], dict(do_lowercase_and_remove_accent=False)),
            ("XLNetTokenizer", (files["xlnet"],), {}), ("XLNetTokenizer", (files["xlnet"],), dict(do_lower_case=True)),
            ("XLNetTokenizer", (files["xlnet"],), dict(keep_accents=True, remove_space=False)),
            ("TransfoXLTokenizer", (), dict(vocab_file=files["transfo"])),
            ("TransfoXLTokenizer", (), dict(vocab_file=files["transfo"], lower_case=True)),
        ]
        for name, fargs, kwargs in families:
            ours, theirs = getattr(tf, name)(*fargs, **kwargs), getattr(ref, name)(*fargs, **kwargs)
            for tok in (ours, theirs):
                tok.add_tokens(["newtok", "new tok"])
            cases = []
            for t in texts + ["a newtok b new tok c newtoknewtok"]:
                cases.append((t, lambda t=t: (ours.tokenize(t), ours.encode(t)),
                              lambda t=t: (theirs.tokenize(t), theirs.encode(t))))
                cases.append((t, lambda t=t: ours.encode(t, "x y", add_special_tokens=True),
                              lambda t=t: theirs.encode(t, "x y", add_special_tokens=True)))
                cases.append((t, lambda t=t: ours.decode(theirs.encode(t), clean_up_tokenization_spaces=False),
                              lambda t=t: theirs.decode(theirs.encode(t), clean_up_tokenization_spaces=False)))
            bad = report.compare(f"1.2.0 {name} {kwargs}", cases)
            # a token without id: 1.2.0 gives None, we raise (documented); anything else fails the audit
            report.failed |= any(not (x == "raised" and "null" in json.dumps(y)) for _, x, y in bad)

        pairs = [
            ("bert", tf.BertTokenizer(uncased), transformers.BertTokenizer(uncased)),
            ("gpt2", tf.GPT2Tokenizer(*gpt2_files()), transformers.GPT2Tokenizer(*gpt2_files(), add_prefix_space=True)),
            ("roberta", tf.RobertaTokenizer(*files["roberta"]),
             transformers.RobertaTokenizer(*files["roberta"], add_prefix_space=True)),
            ("openai", tf.OpenAIGPTTokenizer(*files["openai"]), transformers.OpenAIGPTTokenizer(*files["openai"])),
            ("xlnet", tf.XLNetTokenizer(files["xlnet"]),
             transformers.XLNetTokenizer.from_pretrained(os.path.dirname(files["xlnet"]))),
        ]
        options = [dict(return_offsets_mapping=True, return_special_tokens_mask=True, return_token_type_ids=True),
                   dict(max_length=7, truncation=True, return_overflowing_tokens=True, stride=2,
                        return_special_tokens_mask=True)]
        stripped = [t for t in plain if t == t.strip()]  # (1.2.0's byte-level BPE strips the text)
        for name, ours, hf in pairs:
            good = [t for t in stripped if outcome(lambda t=t: ours.encode(t)) ==
                    outcome(lambda t=t: hf.encode(t, add_special_tokens=False))]
            cases = [(t, lambda t=t, kw=kw: dict(ours(t, "a pair", **kw)), lambda t=t, kw=kw: dict(hf(t, "a pair", **kw)))
                     for t in good for kw in options]
            report.compare(f"transformers {name} __call__ ({len(good)} of {len(stripped)} texts with the same ids)",
                           cases)
            audit_saved_folder(report, name, hf, type(ours), plain, folder)
    return 1 if report.failed else 0


def audit_saved_folder(report, name, hf, cls, texts, folder):
    """A folder transformers saved with added tokens of every kind (normalized ones that take part of a character,
    single_word, lstrip / rstrip), against transformers, on the texts where the same folder without them agrees."""
    import transformers
    AddedToken = transformers.AddedToken

    plain = tempfile.mkdtemp(dir=folder)
    hf.save_pretrained(plain)

    def saved(tokens):
        d = tempfile.mkdtemp(dir=folder)
        with_tokens = transformers.AutoTokenizer.from_pretrained(plain)
        with_tokens.add_tokens(tokens)
        with_tokens.save_pretrained(d)
        return cls.from_pretrained(d), transformers.AutoTokenizer.from_pretrained(d)

    kw = dict(return_offsets_mapping=True)
    base = saved([])
    good = [t for t in texts
            if outcome(lambda t=t: dict(base[0](t, **kw))) == outcome(lambda t=t: dict(base[1](t, **kw)))]
    ours, theirs = saved(["e", "i", "ᄒ", "the", AddedToken("sw", single_word=True),
                          AddedToken("x", lstrip=True, rstrip=True), AddedToken("newtok", normalized=False)])
    cases = [(t, lambda t=t: dict(ours(t, **kw)), lambda t=t: dict(theirs(t, **kw))) for t in good]
    report.compare(f"transformers {name} folder with added tokens ({len(good)} texts it agrees on without them)", cases)


if __name__ == "__main__":
    sys.exit(main())
