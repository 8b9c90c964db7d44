"""The GPT-2 pre-tokenizer on every ISA path (the `isa` fixture caps the dispatch: generic is the scalar scanner,
avx2 and avx512 the 64-byte block masks of csrc/tokenizers/byte_bpe_scan.cpp) against GPT-2's regex, on text
built to put each rule of the block scanner at every position of a block and across block boundaries; and the
ids against pytorch-transformers 1.2.0."""
import random

import pytest

from tokenizer_corpus import gpt2_files

ref = pytest.importorskip("pytorch_transformers")
regex = pytest.importorskip("regex")
from transformers_fast.models.gpt2.tokenization_gpt2 import GPT2Tokenizer  # noqa: E402
from transformers_fast.ops import _backend  # noqa: E402

GPT2_PATTERN = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")
BLOCK = 64
# One byte of each ASCII class and the bytes the block rules treat apart (space, apostrophe, contraction
# letters), the edges of the letter / digit / whitespace ranges, and control bytes.
ASCII = [" ", "\t", "\n", "\r", "\x0b", "\x0c", "a", "z", "A", "Z", "s", "e", "l", "0", "9", "'", ".", "@", "[",
         "`", "{", "/", ":", "\x00", "\x1c", "\x1f", "\x7f"]
# Non-ASCII of each class: letters, a digit, whitespace (NEL, NBSP, ideographic space), punctuation, a symbol;
# the two-byte letters the block masks take as letters (lead bytes C3 to CA, D0, D1, D3) and two-byte characters
# beside them that are not letters (C3 97, C3 B7, a combining accent, Greek, D2 82, C2 B7).
NON_ASCII = ["é", "ß", "ÿ", "Ā", "ʿ", "Ж", "я", "Ӏ", "×", "÷", "\u0301", "Ω", "҂", "·", "東", "١", "\x85", "\u00a0",
             "\u3000", "\u2019", "\u2014", "😀"]
CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"]


@pytest.fixture(scope="module")
def tokenizer():
    return GPT2Tokenizer(*gpt2_files())


def check(model, texts):
    for text in texts:
        assert model.pretokenize(text) == GPT2_PATTERN.findall(text), repr(text)


def at_every_offset(piece, fillers=("x", ".", " ", "5", "\n")):
    """piece after 0 .. 2 blocks + 3 bytes of each filler: every position in a block and across the first
    two block boundaries."""
    return [f * k + piece for f in fillers for k in range(2 * BLOCK + 4)]


def test_isa_fixture_reaches_the_path(isa):
    assert _backend._C.cpu_isa() == isa


def test_empty_and_short(tokenizer, isa):
    check(tokenizer._core.model, ["", " ", "  ", "a", "'", "'s", " 's", "\n", "é", "a ", "a  ", "a \n ", "1 2  3   "])


def test_ascii_pairs_and_triples_at_every_offset(tokenizer, isa):
    model = tokenizer._core.model
    rng = random.Random(1)
    pairs = [a + b for a in ASCII for b in ASCII]
    for pair in pairs:
        # two bytes at every offset, in the middle of other text and at its end
        texts = at_every_offset(pair, fillers=(rng.choice(ASCII),))
        check(model, [t + tail for t in texts for tail in ("", "x", " ")])
    triples = ["".join(rng.choice(ASCII) for _ in range(3)) for _ in range(300)]
    check(model, [t for tri in triples for t in at_every_offset(tri, fillers=(rng.choice(ASCII),))])


def test_contractions_across_block_boundaries(tokenizer, isa):
    model = tokenizer._core.model
    for c in CONTRACTIONS + [c.upper() for c in CONTRACTIONS] + ["'r", "'v", "'l", "'x", "''s"]:
        for before in ["", "a", "1", " ", "  ", "\n", "!", "'", "é", "\u2019", "\u00a0"]:
            for after in ["", "a", "s", " ", "  x", "'s", "!", "1", "é"]:
                check(model, at_every_offset(before + c + after))
    # chains: each contraction ends a pre-token, the next apostrophe starts one
    check(model, at_every_offset("'s's'll've'd'm't're'x"))


def test_whitespace_runs_before_a_non_space(tokenizer, isa):
    """\\s+(?!\\S) leaves a run's last character to the next pre-token; runs ending at every block position."""
    model = tokenizer._core.model
    for run in [" ", "\t", "\n", " \n", "\n ", "\t ", " \t", "\r\n", "\x0b\x0c "]:
        for reps in [1, 2, 3, 63, 64, 65, 130]:
            for nxt in ["a", "1", "!", "'s", "'", "é", "١", "\u2019", "\u00a0", "\u3000a", "\x85", ""]:
                check(model, at_every_offset(run * reps + nxt, fillers=("x", ".")))


def test_non_ascii_at_every_offset(tokenizer, isa):
    """Bytes near a non-ASCII character go through the scalar path: every class of them next to every ASCII
    class, at every position of a block."""
    model = tokenizer._core.model
    for ch in NON_ASCII:
        for a in [" ", "a", "1", "'", ".", "\n", "  "]:
            for b in ["", " ", "a", "1", "'s", ".", "\n", ch]:
                check(model, at_every_offset(a + ch + b, fillers=("x", " ")))


def test_latin_and_cyrillic_words_at_every_offset(tokenizer, isa):
    model = tokenizer._core.model
    for word in ["naïve", "Größe", "été", "×2", "a÷b", "Москва", "я'", "ñ'", "Ж1", "e\u0301t", "déjà-vu", "İstanbul"]:
        check(model, [t + tail for t in at_every_offset(word) for tail in ("", " x", "é")])


def test_long_runs(tokenizer, isa):
    model = tokenizer._core.model
    texts = []
    for unit in ["a", "Z", "7", " ", "\n", ".", "'", "'s", "é", "\u00a0", "a b ", "1.5 ", "  x"]:
        for n in [BLOCK - 1, BLOCK, BLOCK + 1, 10 * BLOCK + 3, 5000]:
            texts.append(unit * n)
            texts.append("x" + unit * n + " y")
            texts.append(unit * n + "é" + unit * n)
    check(model, texts)


def test_text_after_long_cjk_runs(tokenizer, isa):
    """Past chunks of 2 KB nearly all non-ASCII the scanner leaves whole chunks to the scalar path, then masks
    blocks again from an unknown previous block: ASCII text of every kind right where it starts again."""
    model = tokenizer._core.model
    rng = random.Random(11)
    units = ASCII + ["'s", "'ll", "  x", "é", "Ж"]
    texts = []
    for pad in range(0, 2 * BLOCK, 5):
        tail = "".join(rng.choice(units) for _ in range(300))
        texts.append("x" * pad + "東京。" * (pad * 40 + 700) + tail + "東" * 3000 + tail)
    # After a first chunk all CJK the second one is the scalar path's: the masks start again at byte 4096, here
    # inside each pattern.
    for pattern in ["!'sa", "a'lla", "é'ré", " 'm", "x  'dx", "\n'tx", "1 2", "a\t\tb", "  \n x"]:
        for shift in range(len(pattern.encode()) + 1):
            size = 2 * 2048 - shift  # bytes before the pattern: CJK (3 bytes) and é (2)
            pairs = (3 - size % 3) % 3
            texts.append("東" * ((size - 2 * pairs) // 3) + "é" * pairs + pattern + "abc")
    check(model, texts)


def test_random_text_mostly_ascii(tokenizer, isa):
    """Long texts over the rules' alphabet, with non-ASCII characters at 0, 1 and 5 % of the positions."""
    model = tokenizer._core.model
    rng = random.Random(7)
    units = ASCII + [" ", " ", "  ", "   ", "x", "word", "12", "'s", "'ll", "'re", "\r\n"]
    texts = []
    for rate in [0, 0.01, 0.05]:
        for _ in range(40):
            n = rng.randint(0, 3000)
            texts.append("".join(rng.choice(NON_ASCII) if rng.random() < rate else rng.choice(units)
                                 for _ in range(n)))
    check(model, texts)


def test_ids_match_reference(tokenizer, isa):
    theirs = ref.GPT2Tokenizer(*gpt2_files())
    rng = random.Random(3)
    units = [" ", "  ", "\n", "\t", "the", "The", "dog", "'s", "'ll", "don't", "I'm", "42", "3.14", "!", "?!",
             "...", "é", "naïve", "东京", "١٢", "\u00a0", "\u3000", "\u2019", "😀", "   x", "\r\n"]
    texts = ["".join(rng.choice(units) for _ in range(rng.randint(0, 400))) for _ in range(30)]
    texts += ["a" * 200 + "'s" + " " * 70 + "b", "x" * 62 + "'ll" + " " * 3, " " * 127 + "é"]
    for text in texts:
        assert tokenizer.encode(text) == theirs.encode(text), repr(text)
        assert tokenizer.encode(text, return_tensors="np").tolist()[0] == theirs.encode(text), repr(text)
