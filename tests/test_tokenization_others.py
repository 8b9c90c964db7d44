"""OpenAIGPTTokenizer, XLMTokenizer, XLNetTokenizer, TransfoXLTokenizer against pytorch-transformers 1.2.0,
on small vocabularies trained here and saved in 1.2.0's file formats."""
import os
import pickle
from collections import OrderedDict

import pytest
import torch

from tokenizer_corpus import (EDGE_CASES, XLM_TEST_SPECIALS, as_xlm_files, long_text, random_corpus,
                              training_text, word_end_bpe_files)

ref = pytest.importorskip("pytorch_transformers")
tokenizers = pytest.importorskip("tokenizers")
from transformers_fast import (OpenAIGPTTokenizer, TransfoXLTokenizer, XLMTokenizer,  # noqa: E402
                               XLNetTokenizer)


def corpus(n_random=150, surrogates=True):
    texts = EDGE_CASES + random_corpus(11, n_random, surrogates=surrogates) + [long_text()]
    return [t for t in texts if t.strip()]


@pytest.fixture(scope="module")
def openai_files(tmp_path_factory):
    return word_end_bpe_files([t.lower() for t in training_text()], 1500, str(tmp_path_factory.mktemp("openai")))


@pytest.fixture(scope="module")
def xlm_files(tmp_path_factory):
    """XLM format: merges without a header, "a b count" lines; vocab with XLM's special tokens."""
    sacremoses = pytest.importorskip("sacremoses")
    mt = sacremoses.MosesTokenizer(lang="en")
    texts = [" ".join(mt.tokenize(t.lower(), escape=False)) for t in training_text()]
    files = word_end_bpe_files(texts, 1500, str(tmp_path_factory.mktemp("xlm")))
    return as_xlm_files(*files, 1000, XLM_TEST_SPECIALS)


@pytest.fixture(scope="module")
def spm_model(tmp_path_factory):
    spm = pytest.importorskip("sentencepiece")
    d = tmp_path_factory.mktemp("xlnet")
    texts = training_text() + ["1,000 2,500,000 3,14 12,3 a1, b22, 7,"] * 20
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts), model_prefix=str(d / "spiece"), vocab_size=3000, model_type="unigram", hard_vocab_limit=False,
        user_defined_symbols=["<cls>", "<sep>", "<mask>", "<eop>", "<eod>"], character_coverage=0.98,
        control_symbols=[], pad_id=3, bos_id=1, eos_id=2, unk_id=0, minloglevel=2)
    return str(d / "spiece.model")


def check_same(ours, theirs, texts, **kwargs):
    bad = []
    for text in texts:
        if ours.tokenize(text, **kwargs) != theirs.tokenize(text, **kwargs):
            bad.append(text)
        elif ours.encode(text, **kwargs) != theirs.encode(text, **kwargs):
            bad.append(text)
    assert not bad, bad[:3]


def test_openai_gpt(openai_files):
    ours, theirs = OpenAIGPTTokenizer(*openai_files), ref.OpenAIGPTTokenizer(*openai_files)
    assert theirs.fix_text is None, "1.2.0 uses spaCy/ftfy when installed; we reproduce the path without them"
    check_same(ours, theirs, corpus())
    for text in corpus(20):
        assert ours._tokenize_python(text) == ours.tokenize(text)
    ids = theirs.encode(EDGE_CASES[0])
    assert ours.decode(ids) == theirs.decode(ids)
    assert ours.encode("a", "b") == theirs.encode("a", "b")


def test_openai_added_tokens_and_unknown_symbols(openai_files):
    ours, theirs = OpenAIGPTTokenizer(*openai_files), ref.OpenAIGPTTokenizer(*openai_files)
    for t in (ours, theirs):
        t.add_tokens(["ünknown</w>", "newword"])
    for text in ["ünknown newword 𝄞 zzz", "ÜNKNOWN ü"]:
        assert ours.tokenize(text) == theirs.tokenize(text)
        assert ours.encode(text) == theirs.encode(text)
        assert ours.encode(text, text) == theirs.encode(text, text)


@pytest.mark.parametrize("family", ["openai", "xlm"])
def test_unk_token_that_is_only_an_added_token(openai_files, xlm_files, family):
    """add_special_tokens({'unk_token': new}) makes the unk token an added token, outside the vocabulary. 1.2.0
    looks an unknown symbol (or a merged piece missing from the vocabulary) up with vocab.get(piece,
    vocab.get(unk_token)): None, where we raise. A single text used to get the added token's id instead."""
    files, make, ref_make = ((openai_files, OpenAIGPTTokenizer, ref.OpenAIGPTTokenizer) if family == "openai" else
                             (xlm_files, XLMTokenizer, ref.XLMTokenizer))
    ours, theirs = make(*files), ref_make(*files)
    for t in (ours, theirs):
        assert t.add_special_tokens({"unk_token": "<UNK2>"}) == 1
        t.encoder.pop(t.tokenize("the")[0])  # a piece the merges make, no longer in the vocabulary
    for text in ["hi\U0001f600there", "the end"]:
        assert ours.tokenize(text) == theirs.tokenize(text)
        assert None in theirs.encode(text) and ours.convert_tokens_to_ids(ours.tokenize(text)) == theirs.encode(text)
        for call in (lambda: ours.encode(text), lambda: ours.encode(text, "x", add_special_tokens=True),
                     lambda: ours(text), lambda: ours([text, "x"], return_tensors="pt", padding=True)):
            with pytest.raises(ValueError, match="has no id"):
                call()
    assert ours.encode("<UNK2> end") == theirs.encode("<UNK2> end")  # the token itself keeps its added id


@pytest.mark.parametrize("edit", ["encoder", "lower_case_off", "never_split"])
def test_openai_edits_after_construction(openai_files, edit):
    """1.2.0 reads encoder, bpe_ranks and its BasicTokenizer's settings on every call."""
    ours, theirs = OpenAIGPTTokenizer(*openai_files), ref.OpenAIGPTTokenizer(*openai_files)
    for t in (ours, theirs):
        t.encode("warm up")
        if edit == "encoder":
            t.encoder["hello</w>"] = 1
            t.bpe_ranks.pop(next(iter(t.bpe_ranks)))
        elif edit == "lower_case_off":
            t.nlp.do_lower_case = False
        else:
            t.nlp.never_split = ["Hello"]
    check_same(ours, theirs, ["Hello WORLD the people", "Hello, hello naïve"] + EDGE_CASES[:10])


def test_xlm_encoder_edits_after_construction(xlm_files):
    ours, theirs = XLMTokenizer(*xlm_files), ref.XLMTokenizer(*xlm_files)
    for t in (ours, theirs):
        t.encode("warm up")
        t.encoder["hello</w>"] = 1
        t.bpe_ranks.pop(next(iter(t.bpe_ranks)))
    check_same(ours, theirs, ["Hello WORLD the people", "Hello, hello naïve"] + EDGE_CASES[:10])
    check_same(ours, theirs, ["Hello WORLD the people"], lang="fr")


@pytest.mark.parametrize("lang", ["en", "fr", "de", "ro"])
def test_xlm(xlm_files, lang):
    ours, theirs = XLMTokenizer(*xlm_files), ref.XLMTokenizer(*xlm_files)
    texts = corpus(60)
    check_same(ours, theirs, texts, lang=lang)
    texts = texts[:30]
    for text in texts:
        assert ours.encode(text) == theirs.encode(text)
        assert ours.tokenize(text, bypass_tokenizer=True) == theirs.tokenize(text, bypass_tokenizer=True)
    ids = theirs.encode("Hello, world!", add_special_tokens=True)
    assert ours.encode("Hello, world!", add_special_tokens=True) == ids
    assert ours.decode(ids) == theirs.decode(ids)


def test_xlm_cased_and_roundtrip(xlm_files, tmp_path):
    ours = XLMTokenizer(*xlm_files, do_lowercase_and_remove_accent=False)
    theirs = ref.XLMTokenizer(*xlm_files, do_lowercase_and_remove_accent=False)
    check_same(ours, theirs, corpus(30, surrogates=False))
    ours.save_pretrained(str(tmp_path))
    again = ref.XLMTokenizer.from_pretrained(str(tmp_path))
    assert again.encode(EDGE_CASES[0]) == ref.XLMTokenizer(*xlm_files).encode(EDGE_CASES[0])


@pytest.mark.parametrize("kwargs", [{}, {"do_lower_case": True}, {"keep_accents": True}, {"remove_space": False}])
def test_xlnet(spm_model, kwargs):
    ours, theirs = XLNetTokenizer(spm_model, **kwargs), ref.XLNetTokenizer(spm_model, **kwargs)
    texts = corpus(80, surrogates=False) + ["1,000 and 2,500,000 or 3,14", "a1, b22, 7, x", "``quoted'' text"]
    check_same(ours, theirs, texts)
    for a, b in [("Hello", "world"), ("1,000", "2,000,")]:
        assert ours.encode(a, b, add_special_tokens=True) == theirs.encode(a, b, add_special_tokens=True)
        assert ours.encode(a, add_special_tokens=True) == theirs.encode(a, add_special_tokens=True)
    ids = theirs.encode("Hello world 1,000")
    assert ours.decode(ids) == theirs.decode(ids)


def test_xlnet_lone_surrogate_is_a_clear_error(spm_model):
    ours, theirs = XLNetTokenizer(spm_model), ref.XLNetTokenizer(spm_model)
    with pytest.raises(RuntimeError):  # sentencepiece's own "Unable to cast" in 1.2.0
        theirs.tokenize("a\ud800b")
    for text in ("a\ud800b", "\udfff", "x \ud83d"):
        with pytest.raises(ValueError, match="surrogate"):
            ours.encode(text)


def test_xlnet_padding_left_and_types(spm_model):
    ours = XLNetTokenizer(spm_model)
    enc = ours(["a b c d", "a"], padding=True, return_token_type_ids=True)
    assert "token_type_ids" not in ours("a")  # as transformers' model_input_names
    assert enc["attention_mask"][1][0] == 0 and enc["attention_mask"][1][-1] == 1
    assert enc["token_type_ids"][0][-1] == 2
    assert enc["input_ids"][0][-2:] == [ours.sep_token_id, ours.cls_token_id]


@pytest.fixture(scope="module")
def transfo_vocab(tmp_path_factory):
    d = tmp_path_factory.mktemp("transfo")
    words = OrderedDict()
    for t in training_text():
        for w in t.split():
            words[w] = None
    lines = ["<unk>", "<eos>", "<formula>"] + list(words)[:800]
    (d / "vocab.txt").write_text("\n".join(f"{w} 1" for w in lines) + "\n", encoding="utf-8")
    return str(d / "vocab.txt")


@pytest.mark.parametrize("kwargs", [{}, {"lower_case": True}, {"delimiter": " "}])
def test_transfo_xl(transfo_vocab, kwargs):
    ours = TransfoXLTokenizer(vocab_file=transfo_vocab, **kwargs)
    theirs = ref.TransfoXLTokenizer(vocab_file=transfo_vocab, **kwargs)
    check_same(ours, theirs, corpus(60))
    for text in EDGE_CASES[:10]:
        if text.strip():
            assert ours.tokenize(text, add_eos=True) == theirs.tokenize(text, add_eos=True)
            assert ours.tokenize(text, add_double_eos=True) == theirs.tokenize(text, add_double_eos=True)
    assert ours.convert_ids_to_tokens([0, 5, 7]) == theirs.convert_ids_to_tokens([0, 5, 7])


def test_transfo_xl_pretrained_vocab_bin(transfo_vocab, tmp_path):
    theirs = ref.TransfoXLTokenizer(vocab_file=transfo_vocab, lower_case=True)
    ours = TransfoXLTokenizer(vocab_file=transfo_vocab, lower_case=True)
    ours.save_vocabulary(str(tmp_path))
    # 1.2.0 keeps constructor arguments over the pickled ones (lower_case here)
    loaded = TransfoXLTokenizer(pretrained_vocab_file=str(tmp_path / "vocab.bin"))
    loaded_ref = ref.TransfoXLTokenizer(pretrained_vocab_file=str(tmp_path / "vocab.bin"))
    loaded_lower = TransfoXLTokenizer(pretrained_vocab_file=str(tmp_path / "vocab.bin"), lower_case=True)
    for text in EDGE_CASES[:20]:
        if text.strip():
            assert loaded.encode(text) == loaded_ref.encode(text)
            assert loaded_lower.encode(text) == theirs.encode(text)
    # a plain pickle with a Counter (as older vocab files are) loads too
    state = {k: v for k, v in theirs.__dict__.items() if k in ("idx2sym", "sym2idx", "unk_idx", "lower_case",
                                                                "counter")}
    with open(tmp_path / "plain.pkl", "wb") as f:
        pickle.dump(state, f)
    plain = TransfoXLTokenizer(pretrained_vocab_file=str(tmp_path / "plain.pkl"), lower_case=True)
    assert plain.encode("Hello world") == theirs.encode("Hello world")


def test_transfo_xl_refuses_code_in_pickles(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    with open(tmp_path / "evil.pkl", "wb") as f:
        pickle.dump({"idx2sym": Evil()}, f)
    torch.save({"idx2sym": Evil()}, tmp_path / "evil.bin")
    for name in ("evil.pkl", "evil.bin"):
        with pytest.raises(ValueError, match="vocabulary"):
            TransfoXLTokenizer(pretrained_vocab_file=str(tmp_path / name))
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("legacy_format", [False, True], ids=["zip", "legacy"])
@pytest.mark.parametrize("safe_globals", [True, False], ids=["torch-2.5+", "older-torch"])
def test_transfo_xl_vocab_bin_on_every_torch(transfo_vocab, tmp_path, monkeypatch, legacy_format, safe_globals):
    """1.2.0's vocab.bin is torch.save of its tokenizer's __dict__, a Counter inside, in torch's zip format or
    (the published files) the legacy one. torch < 2.5 has no safe_globals to allow Counter in its weights_only
    loader: the restricted unpickler then reads torch's formats itself, still refusing code."""
    if not safe_globals:
        monkeypatch.delattr(torch.serialization, "safe_globals", raising=False)
    theirs = ref.TransfoXLTokenizer(vocab_file=transfo_vocab, lower_case=True)
    save = dict(_use_new_zipfile_serialization=not legacy_format)
    torch.save(theirs.__dict__, tmp_path / "vocab.bin", **save)
    ours = TransfoXLTokenizer(pretrained_vocab_file=str(tmp_path / "vocab.bin"), lower_case=True)
    for text in EDGE_CASES[:20]:
        assert ours.encode(text) == theirs.encode(text), repr(text)

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    torch.save({"idx2sym": Evil()}, tmp_path / "evil.bin", **save)
    torch.save({"idx2sym": torch.zeros(2)}, tmp_path / "tensor.bin", **save)
    for name in ("evil.bin", "tensor.bin"):
        with pytest.raises(ValueError, match="vocabulary"):
            TransfoXLTokenizer(pretrained_vocab_file=str(tmp_path / name))
    assert not (tmp_path / "pwned").exists()


@pytest.mark.slow
def test_random_fuzz_against_reference(openai_files, xlm_files):
    ours, theirs = OpenAIGPTTokenizer(*openai_files), ref.OpenAIGPTTokenizer(*openai_files)
    texts = [t for t in random_corpus(99, 3000, max_len=150) if t.strip()]
    for text in texts:
        assert ours.encode(text) == theirs.encode(text), repr(text)
    ours, theirs = XLMTokenizer(*xlm_files), ref.XLMTokenizer(*xlm_files)
    for text in texts[:800]:
        assert ours.tokenize(text, bypass_tokenizer=True) == theirs.tokenize(text, bypass_tokenizer=True), repr(text)
        assert ours.encode(text) == theirs.encode(text), repr(text)


def test_pickle_roundtrip(openai_files, xlm_files, spm_model, transfo_vocab):
    """Tokenizers pickle (DataLoader workers, multiprocessing) and keep their ids."""
    from transformers_fast import BertTokenizer, GPT2Tokenizer
    from tokenizer_corpus import bert_uncased_vocab, gpt2_files
    toks = [OpenAIGPTTokenizer(*openai_files), XLMTokenizer(*xlm_files), XLNetTokenizer(spm_model),
            TransfoXLTokenizer(vocab_file=transfo_vocab), BertTokenizer(bert_uncased_vocab(), never_split=["X"]),
            GPT2Tokenizer(*gpt2_files())]
    texts = EDGE_CASES[:12]
    for tok in toks:
        tok.add_tokens(["newtoken"])
        again = pickle.loads(pickle.dumps(tok))
        for text in texts:
            if text.strip():
                assert again.encode(text) == tok.encode(text), (type(tok).__name__, text)
        assert again.encode("a newtoken b") == tok.encode("a newtoken b")


@pytest.mark.parametrize("family", ["openai", "xlm", "gpt2"])
@pytest.mark.parametrize("content", ['{"a": "1", "b": 2}', '{"a": true}', '["a", "b"]', '{"a": 1'])
def test_vocab_json_of_other_than_integer_ids_is_a_clear_error(family, content, openai_files, xlm_files, tmp_path):
    """(1.2.0 kept string ids, and decoded them to None)"""
    from tokenizer_corpus import gpt2_files
    from transformers_fast import GPT2Tokenizer

    files = {"openai": openai_files, "xlm": xlm_files, "gpt2": gpt2_files()}[family]
    cls = {"openai": OpenAIGPTTokenizer, "xlm": XLMTokenizer, "gpt2": GPT2Tokenizer}[family]
    vocab = tmp_path / "vocab.json"
    vocab.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match="vocab.json"):
        cls(str(vocab), files[1])


def test_xlm_moses_objects_given_in_1_2_0s_caches_are_used(xlm_files):
    """A Moses tokenizer or normalizer put into cache_moses_tokenizer / cache_moses_punct_normalizer (another
    language's rules, penn=False, custom nonbreaking prefixes) changes the tokens, as in 1.2.0."""
    import sacremoses

    texts = ["l'homme don't ``quoted'' text", "See Foo. Mr. Smith. 1\u00a0000"]
    for cache, made in [("cache_moses_tokenizer", lambda: sacremoses.MosesTokenizer(lang="fr")),
                        ("cache_moses_punct_normalizer", lambda: sacremoses.MosesPunctNormalizer(lang="en", penn=False,
                                                                                                 norm_numbers=False))]:
        ours, theirs = XLMTokenizer(*xlm_files), ref.XLMTokenizer(*xlm_files)
        plain = [ours.tokenize(t) for t in texts]
        for lang in ("en", "de"):
            getattr(ours, cache)[lang], getattr(theirs, cache)[lang] = made(), made()
        for text in texts:
            for lang in ("en", "de"):
                assert ours.tokenize(text, lang=lang) == theirs.tokenize(text, lang=lang), (cache, lang, text)
            assert ours.encode(text) == theirs.encode(text)
        assert ours(texts)["input_ids"] == [theirs.encode(t, add_special_tokens=True) for t in texts]
        assert [ours.tokenize(t) for t in texts] != plain  # (the objects given change these texts)


@pytest.mark.parametrize("options", [dict(lang="fr"), dict(lang="ro"), dict(lang="de", bypass_tokenizer=True),
                                     dict(bypass_tokenizer=True)])
def test_xlm_call_takes_lang_and_bypass_tokenizer(xlm_files, options):
    """tokenizer(texts, lang=...) as transformers passes it on to tokenize: 1.2.0's ids of each language's Moses
    rules (one text, a batch, pairs, tensors), and the default language again afterwards."""
    ours, theirs = XLMTokenizer(*xlm_files), ref.XLMTokenizer(*xlm_files)
    texts = ["l'homme qu'on a vu « ici » !", "Ştiinţă şi ţară, don't stop-believing 1,000.50"]
    pairs = ["aujourd'hui : oui", "a b"]

    def theirs_ids(text, pair=None):
        first = theirs.convert_tokens_to_ids(theirs.tokenize(text, **options))
        second = None if pair is None else theirs.convert_tokens_to_ids(theirs.tokenize(pair, **options))
        return theirs.build_inputs_with_special_tokens(first, second) if hasattr(
            theirs, "build_inputs_with_special_tokens") else theirs.add_special_tokens_sentences_pair(
            first, second) if second is not None else theirs.add_special_tokens_single_sentence(first)

    assert ours(texts[0], **options)["input_ids"] == theirs_ids(texts[0])
    assert ours(texts, **options)["input_ids"] == [theirs_ids(t) for t in texts]
    assert ours(texts, pairs, **options)["input_ids"] == [theirs_ids(t, p) for t, p in zip(texts, pairs)]
    padded = ours(texts, padding=True, return_tensors="pt", **options)["input_ids"]
    assert [row[:len(theirs_ids(t))].tolist() for row, t in zip(padded, texts)] == [theirs_ids(t) for t in texts]
    assert ours.encode_plus(texts[1], **options)["input_ids"] == theirs_ids(texts[1])
    assert ours.batch_encode_plus(texts, **options)["input_ids"] == [theirs_ids(t) for t in texts]
    assert ours.batch_encode_plus(list(zip(texts, pairs)), **options)["input_ids"] == \
        [theirs_ids(t, p) for t, p in zip(texts, pairs)]
    # encode with transformers' options besides: lang still reaches tokenize
    assert ours.encode(texts[1], max_length=64, truncation=True, **options) == \
        theirs.convert_tokens_to_ids(theirs.tokenize(texts[1], **options))
    assert ours(texts)["input_ids"] == [theirs.encode(t, add_special_tokens=True) for t in texts]  # (default: en)
    with pytest.raises(TypeError, match="other_option"):
        ours.encode(texts[1], max_length=64, other_option=1, **options)
