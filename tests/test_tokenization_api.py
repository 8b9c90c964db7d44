"""The batch API (__call__, encode_plus, offsets, tensors) against Hugging Face transformers where the two
agree, and the documented differences between 1.2.0 and the Hugging Face tokenizers."""
import pytest
import torch

from tokenizer_corpus import EDGE_CASES, bert_uncased_vocab, gpt2_files

transformers = pytest.importorskip("transformers")
ref = pytest.importorskip("pytorch_transformers")
from transformers_fast import BertTokenizer, GPT2Tokenizer, RobertaTokenizer  # noqa: E402

SENTENCES = ["Hello naïve World!", "Short", "The quick brown fox jumps over the lazy dog again and again.",
             "Ünïcödé àccents, CAPS and numbers 12345.", "Mixed 中文 text", "emoji 😀 here"]
PAIRS = ["pair text here", "x", "another one", "ÀÉÎ", "y z", "w"]


@pytest.fixture(scope="module")
def berts():
    return BertTokenizer(bert_uncased_vocab()), transformers.BertTokenizer(bert_uncased_vocab())


@pytest.mark.parametrize("max_length", [None, 5, 8, 12])
@pytest.mark.parametrize("with_pair", [False, True])
def test_batch_call_matches_transformers(berts, max_length, with_pair):
    ours, hf = berts
    kw = dict(padding=True, truncation=max_length is not None, max_length=max_length)
    pair = PAIRS if with_pair else None
    a = ours(SENTENCES, pair, return_offsets_mapping=True, **kw)
    b = hf(SENTENCES, pair, return_offsets_mapping=True, **kw)
    for key in ("input_ids", "token_type_ids", "attention_mask"):
        assert a[key] == b[key], key
    assert [[tuple(o) for o in row] for row in a["offset_mapping"]] == \
           [[tuple(o) for o in row] for row in b["offset_mapping"]]


def test_pair_truncation_splits_budget_like_transformers(berts):
    """longest_first as Hugging Face's tokenizers do it: the shorter sequence (the first on a tie) keeps at most
    half the budget; a max_length shorter than the special tokens truncates nothing; an empty pair is no pair."""
    ours, hf = berts
    for la in range(1, 9):
        for lb in range(1, 9):
            a, b = " ".join("a" * la), " ".join("b" * lb)
            for max_length in range(0, 14):
                kw = dict(truncation=True, max_length=max_length, return_offsets_mapping=True)
                x, y = ours(a, b, **kw), hf(a, b, **kw)
                assert x["input_ids"] == y["input_ids"], (la, lb, max_length)
                assert x["token_type_ids"] == y["token_type_ids"]
                assert [tuple(o) for o in x["offset_mapping"]] == [tuple(o) for o in y["offset_mapping"]]
    a, b = "x " * 100 + "end", "y " * 101 + "end"
    assert ours(a, b, truncation=True, max_length=128)["input_ids"] == hf(a, b, truncation=True, max_length=128)["input_ids"]
    assert ours("a b", "", truncation=True, max_length=8)["input_ids"] == hf("a b", "", truncation=True, max_length=8)["input_ids"]
    assert ours(["a b"], [""])["input_ids"] == hf(["a b"], [""])["input_ids"]


@pytest.mark.parametrize("truncation", ["only_first", "only_second", "do_not_truncate", "longest_first", None])
def test_truncation_strategies_match_transformers(berts, truncation):
    """Every strategy name of transformers, including its errors; None with max_length and no padding
    truncates longest_first, as transformers does."""
    ours, hf = berts
    for la, lb in [(5, 3), (2, 6), (6, 1), (3, 2), (4, None), (1, 1)]:
        a, b = " ".join("a" * la), " ".join("b" * lb) if lb is not None else None
        for max_length in (None, 3, 5, 6, 8):
            for padding in (False, "max_length") if max_length else (False,):
                def run(tok):
                    try:
                        return dict(tok(a, b, truncation=truncation, max_length=max_length, padding=padding))
                    except Exception as err:  # transformers raises the tokenizers library's Exception
                        return str(err)
                assert run(ours) == run(hf), (la, lb, max_length, padding)
    with pytest.raises(ValueError, match="truncation"):
        ours("a b c", truncation="sideways", max_length=3)


def test_tensors_and_single(berts):
    ours, hf = berts
    a = ours(SENTENCES, padding="max_length", max_length=20, truncation=True, return_tensors="pt")
    b = hf(SENTENCES, padding="max_length", max_length=20, truncation=True, return_tensors="pt")
    for key in ("input_ids", "token_type_ids", "attention_mask"):
        assert a[key].dtype == torch.long and torch.equal(a[key], b[key])
    assert ours("Hello there")["input_ids"] == hf("Hello there")["input_ids"]
    assert ours.encode_plus("Hello", "there")["token_type_ids"] == hf("Hello", "there")["token_type_ids"]
    assert a.input_ids.shape == (len(SENTENCES), 20)


def test_batch_threads_match_single_calls(berts):
    ours, _ = berts
    texts = EDGE_CASES * 4
    expected = [ours.encode(t) if t.strip() else [] for t in texts]
    old = torch.get_num_threads()
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            assert ours._ids_batch(texts, False, False)[0] == expected
    finally:
        torch.set_num_threads(old)


def test_offsets_point_at_the_text(berts):
    ours, _ = berts
    for text in SENTENCES + EDGE_CASES[:20]:
        enc = ours(text, add_special_tokens=False, return_offsets_mapping=True)
        tokens = ours.convert_ids_to_tokens(enc["input_ids"])
        for tok, (s, e) in zip(tokens, enc["offset_mapping"]):
            assert 0 <= s < e <= len(text)
            if tok != "[UNK]" and text[s:e].isascii() and text[s:e].isalnum():
                assert text[s:e].lower() == tok.replace("##", "")


def test_gpt2_offsets_and_no_pad():
    files = gpt2_files()
    ours = GPT2Tokenizer(*files)
    text = "  Hello world, it's 2024!  "
    enc = ours(text, return_offsets_mapping=True)
    pieces = [text[s:e] for s, e in enc["offset_mapping"]]
    assert "".join(pieces).strip() == text.strip()
    with pytest.raises(ValueError, match="pad_token"):
        ours(["a", "b c"], padding=True)


def test_gpt2_offsets_equal_transformers_with_prefix_space():
    """The prepended space alone (before a character it does not merge with) covers that first character, as
    in Hugging Face with add_prefix_space=True, instead of the (0, 0) of special tokens."""
    files = gpt2_files()
    ours, hf = GPT2Tokenizer(*files), transformers.GPT2Tokenizer(*files, add_prefix_space=True)
    for text in ["บ 50% straße", "ิx", "­ hi", "😀 a", "a บ", "Hello world", "中文", "ি ั각"]:
        x = ours(text, return_offsets_mapping=True, add_special_tokens=False)
        y = hf(text, return_offsets_mapping=True, add_special_tokens=False)
        assert x["input_ids"] == y["input_ids"], text
        assert [tuple(o) for o in x["offset_mapping"]] == [tuple(o) for o in y["offset_mapping"]], text


def test_bad_arguments(berts):
    ours, _ = berts
    with pytest.raises(ValueError, match="padding"):
        ours(["a"], padding="sideways")
    with pytest.raises(ValueError, match="return_tensors"):
        ours(["a"], return_tensors="tf")
    with pytest.raises(ValueError, match="different lengths"):  # (padding="max_length" without a length: none)
        ours(["a", "b c d"], padding="max_length", return_tensors="pt")
    with pytest.raises(ValueError, match="different lengths"):
        ours(["a", "b c d"], return_tensors="pt")
    with pytest.raises(ValueError, match="text_pair"):
        ours(["a", "b"], ["c"])
    with pytest.raises(TypeError):
        ours([1, 2])


def test_differences_from_hugging_face_tokenizers():
    """Where 1.2.0 and Hugging Face disagree we follow 1.2.0; these are the known differences."""
    files = gpt2_files()
    ours, theirs = GPT2Tokenizer(*files), ref.GPT2Tokenizer(*files)
    hf = transformers.GPT2Tokenizer(*files)
    # 1. GPT-2/RoBERTa: 1.2.0 strips the text and prepends a space; HF does neither.
    text = "Hello world"
    assert ours.encode(text) == theirs.encode(text) != hf.encode(text)
    assert ours.encode(text) == hf.encode(" " + text)
    # 2. 1.2.0's encode adds no special tokens by default; HF's does.
    b_ours, b_hf = BertTokenizer(bert_uncased_vocab()), transformers.BertTokenizer(bert_uncased_vocab())
    assert b_ours.encode(text) == b_hf.encode(text, add_special_tokens=False) != b_hf.encode(text)
    # 3. encode(a, b) returns a tuple of two lists in 1.2.0.
    assert isinstance(b_ours.encode("a", "b"), tuple)
    # 4. whitespace-only text: 1.2.0 gives one special token (set order); we and HF give nothing.
    assert b_ours.encode("   ") == [] == b_hf.encode("   ", add_special_tokens=False)
    # 5. 1.2.0's decode of a text with sep_token returns a list of segments.
    ids = b_ours.encode("a", "b", add_special_tokens=True)
    assert b_ours.decode(ids) == ref.BertTokenizer(bert_uncased_vocab()).decode(ids)
    assert isinstance(b_ours.decode(ids), list) and isinstance(b_hf.decode(ids), str)



def test_auto_tokenizer_and_shortcuts(tmp_path, monkeypatch):
    from transformers_fast import AutoTokenizer, DistilBertTokenizer, XLMTokenizer
    from transformers_fast.auto import FAMILIES
    import transformers_fast
    assert AutoTokenizer.tokenizer_class_for("distilbert-base-uncased") is DistilBertTokenizer
    assert AutoTokenizer.tokenizer_class_for("roberta-large-mnli") is RobertaTokenizer
    assert AutoTokenizer.tokenizer_class_for("xlm-mlm-en-2048") is XLMTokenizer
    with pytest.raises(ValueError, match="Unrecognized"):
        AutoTokenizer.tokenizer_class_for("t5-small")
    # every 1.2.0 shortcut name is known, with a hub repository and file names
    names = 0
    for *_, class_name in FAMILIES:
        ours, theirs = getattr(transformers_fast, class_name), getattr(ref, class_name)
        assert set(ours.max_model_input_sizes) == set(theirs.max_model_input_sizes), class_name
        assert set(ours.pretrained_hub_files) == set(theirs.max_model_input_sizes), class_name
        names += len(ours.max_model_input_sizes)
    assert names >= 33
    # a folder: BERT through AutoTokenizer, offline
    d = tmp_path / "bert-local"
    d.mkdir()
    BertTokenizer(bert_uncased_vocab()).save_pretrained(str(d))
    tok = AutoTokenizer.from_pretrained(str(d))
    assert isinstance(tok, BertTokenizer) and tok.encode("hello world") == [7592, 2088]


def test_shortcut_resolves_through_hub_cache(tmp_path, monkeypatch):
    """A shortcut name reads its files from the Hugging Face cache (here a fake cache, offline)."""
    import shutil
    import huggingface_hub.constants
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    snap = tmp_path / "models--google-bert--bert-base-uncased" / "snapshots" / ("0" * 40)
    snap.mkdir(parents=True)
    shutil.copy(bert_uncased_vocab(), snap / "vocab.txt")
    (tmp_path / "models--google-bert--bert-base-uncased" / "refs").mkdir()
    (tmp_path / "models--google-bert--bert-base-uncased" / "refs" / "main").write_text("0" * 40)
    tok = BertTokenizer.from_pretrained("bert-base-uncased", cache_dir=str(tmp_path))
    assert tok.max_len == 512 and tok.basic_tokenizer.do_lower_case
    assert tok.encode("Hello World") == [7592, 2088]
    # a cache filled before the hub moved the repo under an organisation ("models--bert-base-cased")
    legacy = tmp_path / "models--bert-base-cased"
    (legacy / "snapshots" / ("1" * 40)).mkdir(parents=True)
    shutil.copy(bert_uncased_vocab(), legacy / "snapshots" / ("1" * 40) / "vocab.txt")
    (legacy / "refs").mkdir()
    (legacy / "refs" / "main").write_text("1" * 40)
    cased = BertTokenizer.from_pretrained("bert-base-cased", cache_dir=str(tmp_path))
    assert not cased.basic_tokenizer.do_lower_case
    with pytest.raises(EnvironmentError):
        BertTokenizer.from_pretrained("bert-large-cased", cache_dir=str(tmp_path))


def test_save_pretrained_creates_the_folder_as_transformers(tmp_path):
    """save_pretrained into a folder that does not exist yet creates it, as transformers does (1.2.0 logged an
    error and saved nothing); 1.2.0 reloads it with the same ids. A file in the way is a ValueError."""
    text = "Hello world, unaffable tokenizers!"
    for ours, theirs_cls in ((BertTokenizer(bert_uncased_vocab()), ref.BertTokenizer),
                             (GPT2Tokenizer(*gpt2_files()), ref.GPT2Tokenizer)):
        folder = tmp_path / type(ours).__name__ / "nested"
        ours.save_pretrained(str(folder))
        again = type(ours).from_pretrained(str(folder))
        assert again.encode(text) == ours.encode(text)
        assert theirs_cls.from_pretrained(str(folder)).encode(text) == ours.encode(text)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(ValueError, match="is a file"):
        BertTokenizer(bert_uncased_vocab()).save_pretrained(str(blocker))


def test_folder_saved_here_loads_in_transformers_auto_tokenizer(tmp_path, roberta_files):
    """tokenizer_config.json names the family's class (a subclass saves its library class), so AutoTokenizer
    builds transformers' tokenizer of the family from the folder; BERT's ids are the same there."""
    class MyBert(BertTokenizer):
        pass

    text = "Hello world, unaffable tokenizers!"
    for ours in (MyBert(bert_uncased_vocab()), GPT2Tokenizer(*gpt2_files()), RobertaTokenizer(*roberta_files)):
        folder = tmp_path / type(ours).__name__
        ours.save_pretrained(str(folder))
        theirs = transformers.AutoTokenizer.from_pretrained(str(folder))
        assert type(theirs).__name__ == type(ours).__name__.replace("MyBert", "BertTokenizer")
        if isinstance(ours, BertTokenizer):
            assert theirs.encode(text, add_special_tokens=False) == ours.encode(text)
        assert type(ours).from_pretrained(str(folder)).encode(text) == ours.encode(text)
