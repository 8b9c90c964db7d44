"""The tokenizers' fast paths against pytorch-transformers 1.2.0, on text made to reach them and text that must
leave them: BERT's ASCII scan and lower-casing 8 bytes at a time, the per-thread word caches (short words, words
past 15 bytes, encodings past 3 pieces, growth and emptying of the cache, two tokenizers on one thread), the
str -> UTF-8 conversion from each string kind, and the batch path across threads."""
import random
import threading

import pytest

from tokenizer_corpus import EDGE_CASES, bert_uncased_vocab, gpt2_files

ref = pytest.importorskip("pytorch_transformers")
torch = pytest.importorskip("torch")
from transformers_fast.models.bert.tokenization_bert import BertTokenizer  # noqa: E402
from transformers_fast.models.gpt2.tokenization_gpt2 import GPT2Tokenizer  # noqa: E402


@pytest.fixture(scope="module")
def bert_pairs():
    vocab = bert_uncased_vocab()
    return {lower: (BertTokenizer(vocab, do_lower_case=lower), ref.BertTokenizer(vocab, do_lower_case=lower))
            for lower in (True, False)}


@pytest.fixture(scope="module")
def gpt2_pair():
    files = gpt2_files()
    return GPT2Tokenizer(*files), ref.GPT2Tokenizer(*files)


def ascii_texts(seed, count):
    """Printable ASCII runs of every length around the 8-byte steps, punctuation at every offset, upper case,
    control characters (dropped) and DEL, runs ending in whitespace, the text's end or a non-ASCII character."""
    rng = random.Random(seed)
    pieces = ["a", "Z", "q", "0", "9", ".", ",", "-", "'", "@", "[", "`", "{", "~", "!", "/", ":", "_",
              "\x7f", "\x01", "\x1f", "\t", "\n", "\r", " ", "é", "É", "\u00a0", "中", "😀", "Hello", "WORLD",
              "unaffable", "ABCDEFGHIJKLMNOPQ", "x" * 23, "1234567890123"]
    texts = []
    for _ in range(count):
        texts.append("".join(rng.choice(pieces) for _ in range(rng.randint(1, 30))))
    for n in range(1, 26):  # runs of n bytes, one punctuation mark at each offset
        for at in range(n):
            w = "".join(rng.choice("abcXYZ019") for _ in range(n))
            texts.append(w[:at] + rng.choice("!.,'-") + w[at + 1:] + rng.choice(["", " next", "é", "\x01x"]))
    return texts


@pytest.mark.parametrize("lower", [True, False])
def test_bert_ascii_scan(bert_pairs, lower):
    ours, theirs = bert_pairs[lower]
    for text in ascii_texts(11, 1500) + EDGE_CASES:
        if text.strip():
            assert ours.encode(text) == theirs.encode(text), repr(text)
            assert ours.tokenize(text) == theirs.tokenize(text), repr(text)


@pytest.mark.parametrize("lower", [True, False])
def test_bert_never_split_in_ascii_token(lower):
    vocab = bert_uncased_vocab()
    ours = BertTokenizer(vocab, do_lower_case=lower, never_split=["HeLLo", "[FOO]"])
    theirs = ref.BertTokenizer(vocab, do_lower_case=lower, never_split=["HeLLo", "[FOO]"])
    for text in ["HeLLo there", "say HeLLo, HeLLo!", "[FOO] and [FOO]x HELLO hello", "a HeLLoHeLLo b"]:
        assert ours.encode(text) == theirs.encode(text), repr(text)


def word_cache_texts(seed):
    """Words of 1 to 40 bytes (the short-word table holds up to 15), rare words with many pieces (kept beside
    the table), words past 200 bytes (not cached), each several times so that later ones hit the cache."""
    rng = random.Random(seed)
    letters = "etaoinshrdlucmfwypvbgkqjxz"
    words = []
    for n in list(range(1, 41)) + [199, 200, 201, 230]:
        for _ in range(3):
            words.append("".join(rng.choice(letters) for _ in range(n)))
    words += ["Supercalifragilistic", "qzxjvkqzxj", "123456789012345678", "ééééééé", "日本語のテキスト", "😀😀😀😀"]
    texts = []
    for _ in range(60):
        texts.append(" ".join(rng.choice(words) for _ in range(rng.randint(1, 40))))
    return texts + texts[:20]


def test_word_cache_gpt2(gpt2_pair):
    ours, theirs = gpt2_pair
    for text in word_cache_texts(3):
        assert ours.encode(text) == theirs.encode(text), repr(text)
        assert ours.encode(text) == theirs.encode(text), repr(text)  # from the cache


def test_word_cache_bert(bert_pairs):
    ours, theirs = bert_pairs[True]
    for text in word_cache_texts(4):
        assert ours.encode(text) == theirs.encode(text), repr(text)
        assert ours.encode(text) == theirs.encode(text), repr(text)


def test_word_cache_two_tokenizers_one_thread(gpt2_pair):
    """Two models on one thread keep their own caches: a vocabulary edit in one changes only its ids."""
    files = gpt2_files()
    a, b = GPT2Tokenizer(*files), GPT2Tokenizer(*files)
    b.encoder = dict(b.encoder)
    b.encoder["Ġhello"] = 7
    text = "hello world hello again"
    for _ in range(3):
        assert a.encode(text) == gpt2_pair[1].encode(text)
        assert b.encode(text)[0] == 7 and b.encode(text)[2] == 7
        assert a.encode(text)[0] != 7


def test_word_cache_growth_and_reset(gpt2_pair, bert_pairs):
    """Enough distinct words to grow the cache many times and to empty it when full: ids stay the same."""
    probe = "The quick brown fox 12345 jumps over 67890 lazy dogs, naïvely; 😀 supercalifragilisticexpialidocious"
    for ours, theirs in [gpt2_pair, bert_pairs[True]]:
        expected = theirs.encode(probe)
        assert ours.encode(probe) == expected
        for start in range(0, 1_200_000, 100_000):
            ours.encode(" ".join(str(k) for k in range(start, start + 100_000)))
            assert ours.encode(probe) == expected
        sample = " ".join(str(k) for k in range(1_150_000, 1_150_300))
        assert ours.encode(sample) == theirs.encode(sample)


@pytest.mark.parametrize("text", [
    "caf\u00e9 na\u00efve \u00fcber " * 3,                 # 1 byte per code point, not ASCII
    "Stra\u00dfe \u0416\u0438\u0437\u043d\u044c \u4e2d\u6587 " * 3,  # 2 bytes per code point
    "emoji \U0001F600 and \U0001F680 here " * 3,          # 4 bytes per code point
    "12345678\u00e9abcdefgh12345678\u4e2dabcdefgh\U0001F600abcdefghijklmnop",  # ASCII runs across 8-unit steps
    "\u00e9" * 17 + "a" * 9 + "\u0100" * 3,
])
def test_str_kinds(gpt2_pair, bert_pairs, text):
    for ours, theirs in [gpt2_pair, bert_pairs[True], bert_pairs[False]]:
        assert ours.encode(text) == theirs.encode(text)
        assert ours.encode(text.encode("utf-8")) == ours.encode(text)


def test_str_lone_surrogates(gpt2_pair, bert_pairs):
    text = "a\ud800b c\udfff"
    ours, theirs = bert_pairs[True]
    assert ours.encode(text) == theirs.encode(text)  # BERT drops them (category Cs)
    with pytest.raises(Exception, match="surrogate|UTF-8|utf-8"):
        gpt2_pair[0].encode(text)
    with pytest.raises(Exception, match="surrogate|UTF-8|utf-8"):
        gpt2_pair[0]._ids_batch(["fine", text], False, False)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_batch_matches_single(gpt2_pair, bert_pairs, threads):
    rng = random.Random(threads)
    texts = word_cache_texts(7)[:40] + ascii_texts(8, 60) + EDGE_CASES
    texts += ["\U0001F600 " * rng.randint(0, 5) + "caf\u00e9 " * rng.randint(0, 5) for _ in range(30)]
    texts = [t for t in texts if t.strip()]
    rng.shuffle(texts)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for ours, _ in [gpt2_pair, bert_pairs[True]]:
            ids, _ = ours._ids_batch(texts, False, False)
            assert ids == [ours.encode(t) for t in texts]
            ids, offs = ours._ids_batch(texts, False, True)
            assert ids == [ours.encode(t) for t in texts]
    finally:
        torch.set_num_threads(before)


def test_many_threads_one_after_another(gpt2_pair):
    """Threads that end give their cache slot to the next ones (600 threads, more than the slots)."""
    ours, theirs = gpt2_pair
    text = "threads come and go 42 times"
    expected = theirs.encode(text)
    results = []
    for _ in range(600):
        t = threading.Thread(target=lambda: results.append(ours.encode(text)))
        t.start()
        t.join()
    assert results == [expected] * 600


def test_gpt2_offsets_hits_and_misses():
    """Offsets from words the cache has and words it lacks, in one text: as Hugging Face (add_prefix_space=True),
    the same on the first call (misses) and later ones (hits), and in a batch."""
    transformers = pytest.importorskip("transformers")
    files = gpt2_files()
    hf = transformers.GPT2Tokenizer(*files, add_prefix_space=True)
    texts = [t for t in word_cache_texts(9)[:25] if t.strip()]
    texts += ["Hello world 12345 caf\u00e9 \U0001F600 Hello world 67890 na\u00efve 12345",
              "x" * 230 + " short words again and again 0123456789012345678901234"]
    ours = GPT2Tokenizer(*files)
    first = [ours(t, return_offsets_mapping=True, add_special_tokens=False) for t in texts]
    again = [ours(t, return_offsets_mapping=True, add_special_tokens=False) for t in texts]
    batch = ours(texts, return_offsets_mapping=True, add_special_tokens=False)
    for k, text in enumerate(texts):
        y = hf(text, return_offsets_mapping=True, add_special_tokens=False)
        want = [tuple(o) for o in y["offset_mapping"]]
        assert first[k]["input_ids"] == y["input_ids"] == again[k]["input_ids"] == batch["input_ids"][k], text
        for got in (first[k]["offset_mapping"], again[k]["offset_mapping"], batch["offset_mapping"][k]):
            assert [tuple(o) for o in got] == want, text


def vocabulary_texts(limit=15):
    """Every GPT-2 vocabulary entry of up to `limit` bytes that is text, as pre-tokens: the words the cache is
    seeded with (with and without their leading space, and after an apostrophe or digits)."""
    from transformers_fast.models.gpt2.tokenization_gpt2 import bytes_to_unicode
    decoder = {v: k for k, v in bytes_to_unicode().items()}
    ours = GPT2Tokenizer(*gpt2_files())
    words = []
    for tok in ours.encoder:
        raw = bytes(decoder[c] for c in tok)
        if len(raw) <= limit:
            try:
                words.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                continue
    texts = ["x" + "\n".join(words[i:i + 400]) for i in range(0, len(words), 400)]
    return texts + ["'" + "' ".join(words[i:i + 400]) for i in range(0, len(words), 4000)]


def test_seeded_cache_first_use(gpt2_pair):
    """A new tokenizer's cache starts with the vocabulary's words and their encodings: text never seen before hits
    them from the first call, on the constructing thread and on another one (seeded at its first call)."""
    theirs = gpt2_pair[1]
    texts = vocabulary_texts()
    expected = [theirs.encode(t) for t in texts]
    ours = GPT2Tokenizer(*gpt2_files())
    assert [ours.encode(t) for t in texts] == expected
    other = []
    fresh = GPT2Tokenizer(*gpt2_files())
    t = threading.Thread(target=lambda: other.extend(fresh.encode(x) for x in texts))
    t.start()
    t.join()
    assert other == expected


def test_state_changes_between_calls(gpt2_pair):
    """The per-call check of the state the C++ core follows skips the full check while nothing changed: changes
    through attributes, tracked dicts, in-place list edits, another tokenizer's edits and pickling still reach it."""
    import pickle
    files = gpt2_files()
    ours, theirs = GPT2Tokenizer(*files), ref.GPT2Tokenizer(*files)
    other = GPT2Tokenizer(*files)
    text = "Hello world, hi there, my friend"
    edits = [lambda t: t.additional_special_tokens.append("hi"),  # in place: no attribute set
             lambda t: t.add_tokens(["friend"]),
             lambda t: setattr(t, "unk_token", "there"),
             lambda t: t.encoder.__setitem__("Ġworld", 7),
             lambda t: t.added_tokens_encoder.__setitem__("my", 1)]
    for edit in edits:
        assert ours.encode(text) == theirs.encode(text)
        edit(ours)
        edit(theirs)
        other.encode(text)
        other.max_len = 10 ** 12  # another tokenizer's change: this one's next call checks in full, same ids
        assert ours.encode(text) == theirs.encode(text), text
        assert ours.tokenize(text) == theirs.tokenize(text)
    again = pickle.loads(pickle.dumps(ours))
    assert again.encode(text) == theirs.encode(text)
    again.additional_special_tokens.append("Hello")
    theirs.additional_special_tokens.append("Hello")
    assert again.encode(text) == theirs.encode(text)


def test_merge_of_symbols_whose_ids_or_to_0xffff(gpt2_pair):
    """The compact pair table once skipped pairs whose two ids OR to 0xFFFF ("ĠPeg" 31084 + "asus" 40895)."""
    ours, theirs = gpt2_pair
    assert ours.encode("Pegasus and the pegasus") == theirs.encode("Pegasus and the pegasus")
    assert ours.tokenize("Pegasus")[0] == "ĠPegasus"
