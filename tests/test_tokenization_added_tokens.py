"""Added tokens (add_tokens / add_special_tokens, and those of saved folders) in every tokenizer, id for id with the
references: transformers for its API (__call__, encode_plus, batch_encode_plus) and for folders it saved,
pytorch-transformers 1.2.0 for its own (encode, tokenize, decode)."""
import os

import pytest
import torch

from tokenizer_corpus import bert_uncased_vocab, gpt2_files

transformers = pytest.importorskip("transformers")
pt = pytest.importorskip("pytorch_transformers")
import transformers_fast as tf  # noqa: E402
from test_tokenization_others import openai_files, spm_model, transfo_vocab, xlm_files  # noqa: E402,F401

HF_FAMILIES = ["bert", "distilbert", "gpt2", "roberta", "openai", "xlm", "xlnet"]


@pytest.fixture
def make(roberta_files, openai_files, xlm_files, spm_model):  # noqa: F811
    """family -> (ours, transformers', 1.2.0's, ours as 1.2.0's) on the same vocabulary; GPT-2 and RoBERTa given
    add_prefix_space=True (transformers' meaning) but the last two (1.2.0's meaning)."""
    def build(family):
        if family in ("bert", "distilbert"):
            name = {"bert": "BertTokenizer", "distilbert": "DistilBertTokenizer"}[family]
            return tuple(getattr(lib, name)(bert_uncased_vocab()) for lib in (tf, transformers, pt, tf))
        if family in ("gpt2", "roberta"):
            name, files = {"gpt2": ("GPT2Tokenizer", gpt2_files()),
                           "roberta": ("RobertaTokenizer", roberta_files)}[family]
            return (getattr(tf, name)(*files, add_prefix_space=True),
                    getattr(transformers, name)(*files, add_prefix_space=True), getattr(pt, name)(*files),
                    getattr(tf, name)(*files))
        if family == "xlnet":
            folder = os.path.dirname(spm_model)
            return (tf.XLNetTokenizer(spm_model), transformers.XLNetTokenizer.from_pretrained(folder),
                    pt.XLNetTokenizer(spm_model), tf.XLNetTokenizer(spm_model))
        files = {"openai": openai_files, "xlm": xlm_files}[family]
        name = {"openai": "OpenAIGPTTokenizer", "xlm": "XLMTokenizer"}[family]
        return tuple(getattr(lib, name)(*files) for lib in (tf, transformers, pt, tf))
    return build


def as_lists(enc):
    return {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in enc.items()}


def assert_rows_alike(ours, theirs):
    """tokens() and word_ids() of every row of two BatchEncodings."""
    for i in range(len(theirs["input_ids"])):
        assert ours.tokens(i) == theirs.tokens(i), i
        assert ours.word_ids(i) == theirs.word_ids(i), i


@pytest.mark.parametrize("family", HF_FAMILIES)
def test_added_tokens_in_both_texts_of_a_pair(make, family):
    """__call__, encode_plus and batch_encode_plus give an added token its id in the pair's second text too (it
    was the unk id in both texts, 1.2.0's encode(a, b) mapping, which 1.2.0's encode keeps)."""
    ours, hf, ref, ours_120 = make(family)
    for tok in (ours, hf, ref, ours_120):
        tok.add_tokens(["newtokxyz"])
        tok.add_special_tokens({"additional_special_tokens": ["<spx>"]})
    texts, pairs = ["hello newtokxyz world <spx>", "newtokxyz"], ["foo newtokxyz bar", "<spx> end newtokxyz"]
    if family == "xlm":  # (transformers' XLM: no offsets, and <s> where 1.2.0's layout has </s> first)
        options = [dict(add_special_tokens=False), dict(add_special_tokens=False, padding=True, return_tensors="pt")]
    else:
        options = [dict(), dict(return_offsets_mapping=True), dict(padding=True, return_tensors="pt"),
                   dict(padding=True, return_tensors="np", add_special_tokens=False)]
    if ours.pad_token is None:
        options = [kw for kw in options if "padding" not in kw]
    for kw in options:
        assert as_lists(ours(texts, pairs, **kw)) == as_lists(hf(texts, pairs, **kw)), kw
        assert as_lists(ours.batch_encode_plus(list(zip(texts, pairs)), **kw)) == \
            as_lists(hf(texts, pairs, **kw)), kw
        assert as_lists(ours.encode_plus(texts[0], pairs[0], **kw)) == as_lists(hf(texts[0], pairs[0], **kw)), kw
    words = [t.split() for t in texts], [p.split() for p in pairs]
    kw = options[0]
    assert ours(*words, is_split_into_words=True, **kw)["input_ids"] == \
        hf(*words, is_split_into_words=True, **kw)["input_ids"]
    # 1.2.0's own encode of a pair keeps its mapping (the model's unk id for added tokens)
    assert ours_120.encode(texts[0], pairs[0], add_special_tokens=True) == \
        ref.encode(texts[0], pairs[0], add_special_tokens=True)


TRANSFORMERS_FOLDER_FAMILIES = ["bert", "distilbert", "gpt2", "roberta", "openai", "xlnet"]
# lstrip / rstrip / single_word beside punctuation, whitespace and the ends of the text; overlapping tokens
FLAG_TEXTS = ["Hello <x1> world.", "a  newtok   b", "answer sw swim sw", "newtok newtokbig newtokbigger",
              "plainnew,plainnew x", "<x1>start and end<x1>", " sw,sw_a sw1 asw", "x<x1>y newtok\tnewtok\n",
              "Hello <mask>.", "Hello  <mask>  world <mask>", "casedtok CasedTok CASEDTOK cäsedtok Cäsedtok"]


def flagged_tokens(tok):
    """Added tokens with each AddedToken flag, the shorter of two overlapping ones added first, one in mixed case
    (transformers matches a token normalized=True in the normalized text: any case and accents for uncased BERT and
    OpenAI GPT)."""
    AddedToken = transformers.AddedToken
    # (one call each: transformers gives a dict's named tokens their ids first, 1.2.0 takes the dict's order)
    tok.add_special_tokens({"additional_special_tokens": [AddedToken("<x1>", lstrip=True, rstrip=True)]})
    tok.add_special_tokens({"mask_token": AddedToken("<mask>", lstrip=True)})  # roberta-base's <mask>
    tok.add_tokens([AddedToken("newtok", lstrip=True), "newtokbig", AddedToken("sw", single_word=True),
                    AddedToken("plainnew", rstrip=True), AddedToken("CasedTok")])


@pytest.mark.parametrize("family", TRANSFORMERS_FOLDER_FAMILIES)
def test_added_token_flags_of_a_transformers_folder(make, family, tmp_path):
    """A folder transformers saved splits on its added tokens as transformers does: leftmost-longest matches, the
    lstrip / rstrip / single_word / normalized flags of tokenizer.json (they were not read: roberta-base's "<mask>"
    got a "Ġ" before it), offsets too; kept through pickling and our save_pretrained."""
    import pickle

    _, hf, _, _ = make(family)
    flagged_tokens(hf)
    hf.save_pretrained(str(tmp_path / "theirs"))
    theirs = transformers.AutoTokenizer.from_pretrained(str(tmp_path / "theirs"))
    ours = type(make(family)[0]).from_pretrained(str(tmp_path / "theirs"))
    (tmp_path / "ours").mkdir()
    ours.save_pretrained(str(tmp_path / "ours"))
    copies = [ours, pickle.loads(pickle.dumps(ours)), type(ours).from_pretrained(str(tmp_path / "ours"))]
    assert [len(t) for t in copies] == [len(theirs)] * 3
    for tok in copies:
        for kw in [dict(add_special_tokens=False), dict(return_offsets_mapping=True)]:
            assert as_lists(tok(FLAG_TEXTS, **kw)) == as_lists(theirs(FLAG_TEXTS, **kw)), kw
        assert as_lists(tok(FLAG_TEXTS, FLAG_TEXTS[::-1])) == as_lists(theirs(FLAG_TEXTS, FLAG_TEXTS[::-1]))
        # tokens(): a token shows the text it matched (with what lstrip / rstrip took; normalized where it is)
        assert_rows_alike(tok(FLAG_TEXTS, FLAG_TEXTS[::-1]), theirs(FLAG_TEXTS, FLAG_TEXTS[::-1]))
        assert tok.tokenize(FLAG_TEXTS[3]) == theirs.tokenize(FLAG_TEXTS[3])
    again = transformers.AutoTokenizer.from_pretrained(str(tmp_path / "ours"))  # our folder in transformers
    assert again(FLAG_TEXTS)["input_ids"] == theirs(FLAG_TEXTS)["input_ids"]


@pytest.mark.parametrize("family", ["gpt2", "roberta"])
def test_added_token_flags_with_add_prefix_space(make, family):
    """GPT-2 / RoBERTa given add_prefix_space follow transformers: AddedToken flags given to add_tokens /
    add_special_tokens count, overlapping tokens split at the longest, and a token the vocabulary has splits the
    text too; without it, 1.2.0's split (each token in turn, the vocabulary's tokens not added)."""
    ours, hf, ref, ours_120 = make(family)
    for tok in (ours, hf):
        flagged_tokens(tok)
        tok.add_tokens(["hello"])  # in the vocabulary
    texts = FLAG_TEXTS + ["sayhello hellothere"]
    for kw in [dict(add_special_tokens=False), dict(return_offsets_mapping=True)]:
        assert as_lists(ours(texts, **kw)) == as_lists(hf(texts, **kw)), kw
    for tok in (ours_120, ref):
        tok.add_tokens(["newtok", "newtokbig", "hello"])
        tok.add_special_tokens({"additional_special_tokens": ["<x1>"]})
    for text in texts:
        assert ours_120.encode(text) == ref.encode(text), text


@pytest.mark.parametrize("family", ["bert", "openai", "xlnet"])
def test_add_tokens_of_a_str_an_empty_token_and_repeats(make, family):
    """As transformers: a str alone is one token (1.2.0 added its characters: none here), an empty token is skipped
    (1.2.0 added it and failed on every text after), a token given twice is added once, with the next id (1.2.0 gave
    it an id past len(tokenizer))."""
    ours, hf, _, _ = make(family)
    for arg in ["newtokxyz", [""], ["twicetok", "twicetok", "oncetok"]]:
        assert ours.add_tokens(arg) == hf.add_tokens(arg), arg
        assert len(ours) == len(hf)
    assert max(ours.added_tokens_decoder) == len(ours) - 1
    text = "a newtokxyz b twicetok oncetok"
    assert ours(text)["input_ids"] == hf(text)["input_ids"]


def test_xlnet_folder_with_additional_special_tokens(make, tmp_path):
    """transformers saves XLNet's additional special tokens as extra_special_tokens: they are special after loading
    (1.2.0's default <eop> <eod> took their place), so batch_decode(skip_special_tokens=True) leaves them out too."""
    _, hf, _, _ = make("xlnet")
    hf.add_special_tokens({"additional_special_tokens": ["<x1>"]})
    hf.save_pretrained(str(tmp_path))
    ours = tf.XLNetTokenizer.from_pretrained(str(tmp_path))
    theirs = transformers.AutoTokenizer.from_pretrained(str(tmp_path))
    assert set(ours.all_special_tokens) == set(theirs.all_special_tokens)
    ids = theirs(FLAG_TEXTS[:3])["input_ids"]
    assert ours.batch_decode(ids, skip_special_tokens=True) == theirs.batch_decode(ids, skip_special_tokens=True)


AUDIT_TEXTS = ["Hello NEWCase world.", "newcase NEWCASE NEWCase", "a newtoknewtokbig b", "newtokbig,newtok!",
               "<sp1>x<sp1> y", "  newtok  ", "the newtok", "newtok", "x newtok'big", "<sp1>", "héllo newtok é"]


@pytest.mark.parametrize("family", ["bert", "distilbert", "gpt2", "roberta", "openai", "xlm", "xlnet", "transfo"])
def test_added_tokens_as_1_2_0(make, transfo_vocab, family, tmp_path):  # noqa: F811
    """Built as in 1.2.0 (no add_prefix_space, no transformers folder), added tokens are 1.2.0's: split in turn in the
    order added (not the longest match), case-sensitive before any lower-casing, those the vocabulary has not added;
    the same tokens, ids, decode, len and convert_tokens_to_ids, and a saved folder that 1.2.0 reloads the same."""
    if family == "transfo":
        ours, ref = tf.TransfoXLTokenizer(vocab_file=transfo_vocab), pt.TransfoXLTokenizer(vocab_file=transfo_vocab)
    else:
        _, _, ref, ours = make(family)
    for tok in (ours, ref):
        tok.add_tokens(["NEWCase", "newtok", "newtokbig", "the", "hello"])
        tok.add_special_tokens({"additional_special_tokens": ["<sp1>"]})
    assert len(ours) == len(ref)
    assert ours.convert_tokens_to_ids(["newtok", "<sp1>", "NEWCase"]) == \
        ref.convert_tokens_to_ids(["newtok", "<sp1>", "NEWCase"])
    ours.save_pretrained(str(tmp_path))
    reloaded, ref_reloaded = type(ours).from_pretrained(str(tmp_path)), type(ref).from_pretrained(str(tmp_path))
    for text in AUDIT_TEXTS:
        ids = ref.encode(text)
        assert ours.tokenize(text) == ref.tokenize(text), text
        assert ours.encode(text) == reloaded.encode(text) == ref_reloaded.encode(text) == ids, text
        for kw in [dict(), dict(skip_special_tokens=True), dict(clean_up_tokenization_spaces=False)]:
            assert ours.decode(ids, **kw) == ref.decode(ids, **kw), (text, kw)


@pytest.mark.parametrize("family", ["bert", "gpt2", "roberta", "openai", "xlm", "xlnet"])
def test_special_tokens_and_never_split_edited_in_place(make, family):
    """1.2.0's getter hands out additional_special_tokens (and BasicTokenizer its never_split) as the list itself:
    an element replaced after the first call is what the next call splits on, as in 1.2.0."""
    _, _, ref, ours = make(family)
    text = "x <aaa> y <ccc> z HELLO WORLD"
    for tok in (ours, ref):
        tok.add_special_tokens({"additional_special_tokens": ["<aaa>", "<bbb>"]})
        tok.tokenize(text)
        tok.additional_special_tokens[0] = "<ccc>"
    assert ours.tokenize(text) == ref.tokenize(text) and ours.encode(text) == ref.encode(text)
    assert "<ccc>" in ours.tokenize(text)
    if family == "bert":
        for tok in (ours, ref):
            tok.basic_tokenizer.never_split.append("HELLO")
            tok.tokenize(text)
            tok.basic_tokenizer.never_split[-1] = "WORLD"
        assert ours.tokenize(text) == ref.tokenize(text) and ours.encode(text) == ref.encode(text)
        assert ours.tokenize(text)[-2:] == ["hello", "[UNK]"]  # WORLD kept whole, and not in the uncased vocabulary


# beside a single_word token: characters Rust regex's \w has and Python's isalnum lacks (Mc, Pc, Join_Control,
# Alphabetic symbols) and the reverse (No); beside an lstrip token: what str.isspace has and \s lacks (\x1c)
CLASS_TEXTS = ["²sw sw² ‿sw", "swः sw", "Ⓐsw swⒶ", "x\u200dsw", "sw\u0301 sw", "\x1c<lx> y\x1f <lx>", "sw¹"]


@pytest.mark.parametrize("family", ["bert", "gpt2", "roberta"])
def test_single_word_and_lstrip_character_classes(make, family, tmp_path):
    """single_word tests the characters beside a match with Rust regex's \\w, lstrip / rstrip take its \\s, as
    tokenizers does (the approximations of letters, numbers and marks differed on the characters above)."""
    AddedToken = transformers.AddedToken
    _, hf, _, _ = make(family)
    hf.add_tokens([AddedToken("sw", single_word=True), AddedToken("<lx>", lstrip=True, rstrip=True)])
    hf.save_pretrained(str(tmp_path))
    theirs = transformers.AutoTokenizer.from_pretrained(str(tmp_path))
    ours = type(make(family)[0]).from_pretrained(str(tmp_path))
    kw = dict(return_offsets_mapping=True)
    assert as_lists(ours(CLASS_TEXTS, **kw)) == as_lists(theirs(CLASS_TEXTS, **kw))


@pytest.mark.parametrize("family", TRANSFORMERS_FOLDER_FAMILIES)
def test_word_ids_of_added_tokens_the_vocabulary_has(make, family, tmp_path):
    """An added token the vocabulary also has is a word of its own where the text was split on it, as transformers
    (its id alone does not say so: the model gives the same id inside words); word_ids, token_to_word and
    word_to_tokens, on the list path and the tensor path."""
    _, hf, _, _ = make(family)
    flagged_tokens(hf)
    vocab = hf.get_vocab()
    hf.add_tokens([t for t in ["the", "Ġthe", "er", "an", "re", "ing"] if t in vocab])
    hf.save_pretrained(str(tmp_path))
    theirs = transformers.AutoTokenizer.from_pretrained(str(tmp_path))
    ours = type(make(family)[0]).from_pretrained(str(tmp_path))
    texts = ["there the theory", "ingthe ering anre", "the", "rethe er an, and the", "THE thing"] + FLAG_TEXTS
    for kw in [dict(), dict(padding=True, return_tensors="pt")] if ours.pad_token else [dict()]:
        a, b = ours(texts, **kw), theirs(texts, **kw)
        assert as_lists(a) == as_lists(b), kw
        for i in range(len(texts)):
            assert a.word_ids(i) == b.word_ids(i), (texts[i], kw)
            n = len(a["input_ids"][i])
            assert [a.token_to_word(i, k) for k in range(n)] == [b.token_to_word(i, k) for k in range(n)]
            words = {w for w in b.word_ids(i) if w is not None}
            assert [a.word_to_tokens(i, w) for w in words] == [b.word_to_tokens(i, w) for w in words], texts[i]


# a normalized token taking part of a character (Hangul and İ decompose; a rest before and after the token), text
# that BertNormalizer cleans (ZWSP, soft hyphen, NUL, U+FFFD dropped) and spaces (Chinese characters)
PART_TEXTS = ["İ abİ İab xİy", "한국어 한 국한", "a\u200bb x\u00adsw 中sw sw中 a\x00b a\ufffdb 中ab中"]


@pytest.mark.parametrize("family", ["bert", "bert_keep_accents", "bert_cased", "openai"])
def test_normalized_tokens_on_parts_of_characters_and_cleaned_text(make, family, tmp_path):
    """transformers matches normalized added tokens in the text as BertNormalizer leaves it: a token may take part of
    a character's normalized form (its rest is tokenized, with the whole character's offsets: an [UNK] for İ's dot),
    characters cleaning drops are gone, Chinese characters are spaced (single_word sees the spaces)."""
    AddedToken = transformers.AddedToken
    if family.startswith("bert_"):
        option = {"bert_keep_accents": dict(strip_accents=False), "bert_cased": dict(do_lower_case=False)}[family]
        hf = transformers.BertTokenizer(bert_uncased_vocab(), **option)
    else:
        hf = make(family)[1]
    hf.add_tokens([AddedToken(t) for t in ["i", "abi", "xi", "ᄒ", "국ᄒ", "ᆫᄀ", "ab"]] +
                  [AddedToken("sw", single_word=True)])
    hf.save_pretrained(str(tmp_path))
    theirs = transformers.AutoTokenizer.from_pretrained(str(tmp_path))
    ours = type(make("openai" if family == "openai" else "bert")[0]).from_pretrained(str(tmp_path))
    texts = PART_TEXTS + PART_TEXTS[0].split() + PART_TEXTS[1].split()
    for kw in [dict(return_offsets_mapping=True), dict(add_special_tokens=False)]:
        assert as_lists(ours(texts, **kw)) == as_lists(theirs(texts, **kw)), kw
        assert_rows_alike(ours(texts, **kw), theirs(texts, **kw))


XLNET_TEXTS = ["newtok NEWTOK NewTok ``x'' \"x\" ``x\" x", "a  NéwTok", "hello there the theory", "swः sw",
               "sẃ sw ²sw", "ﬁnewtok newtokﬁ", "``", "a '' b ``c"]  # (a pair of quotes beside no token: both kept)


@pytest.mark.parametrize("do_lower_case", [False, True])
def test_xlnet_normalized_added_tokens(make, tmp_path, do_lower_case):
    """XLNet (no C++ core) matches its normalized added tokens in the text as transformers' XLNet normalizer leaves
    it: `` and '' as ", accents and marks gone (NFKD), lower case with do_lower_case, the sentencepiece character map
    ("▁" a space); the tokens themselves normalized alike. It matched the text as it was."""
    AddedToken = transformers.AddedToken
    hf = transformers.XLNetTokenizer.from_pretrained(os.path.dirname(make("xlnet")[0].vocab_file),
                                                     do_lower_case=do_lower_case)
    vocab = hf.get_vocab()
    hf.add_tokens([AddedToken("NewTok"), AddedToken("``x''"), AddedToken("sw", single_word=True)] +
                  [t for t in ["▁the"] if t in vocab])
    hf.save_pretrained(str(tmp_path))
    theirs = transformers.AutoTokenizer.from_pretrained(str(tmp_path))
    ours = tf.XLNetTokenizer.from_pretrained(str(tmp_path))
    for kw in [dict(return_offsets_mapping=True), dict(add_special_tokens=False)]:
        assert as_lists(ours(XLNET_TEXTS, **kw)) == as_lists(theirs(XLNET_TEXTS, **kw)), kw
        assert_rows_alike(ours(XLNET_TEXTS, **kw), theirs(XLNET_TEXTS, **kw))


def test_xlnet_added_tokens_on_parts_of_characters(make, tmp_path):
    """A normalized added token may take part of what one character normalizes to (ﬁ -> fi, ǅ -> Dz, ½ -> 1⁄2): the
    rest is tokenized with the text beside it, its tokens with the whole character's offsets, as transformers (the
    rest was dropped, and a second token in one character had an empty span)."""
    AddedToken = transformers.AddedToken
    hf = make("xlnet")[1]
    hf.add_tokens([AddedToken("f"), AddedToken("z"), AddedToken("⁄"), AddedToken("ZQ", lstrip=True)])
    hf.save_pretrained(str(tmp_path))
    theirs = transformers.AutoTokenizer.from_pretrained(str(tmp_path))
    ours = tf.XLNetTokenizer.from_pretrained(str(tmp_path))
    texts = ["ﬁne ﬁ", "a ﬀ b", "xﬁ", "ﬃ", "ǅungla ǆ", "½ and ¼", "ﬁ ZQ ﬁ ZQ", "the office"]
    for kw in [dict(return_offsets_mapping=True), dict(add_special_tokens=False)]:
        a, b = ours(texts, texts[::-1], **kw), theirs(texts, texts[::-1], **kw)
        assert as_lists(a) == as_lists(b), kw
        assert_rows_alike(a, b)
    # (not the ZQ text: transformers' tokenize shows " ZQ", what lstrip took, 1.2.0's API the token)
    assert [ours.tokenize(t) for t in texts if "ZQ" not in t] == [theirs.tokenize(t) for t in texts if "ZQ" not in t]


def test_xlnet_unknown_pieces_in_tokens_and_word_ids(make, tmp_path):
    """A piece sentencepiece does not know (<unk>'s id) shows as its text in tokens() and belongs to the word around
    it, as transformers (it was "<unk>", a word of its own); the truncated and overflowing rows too."""
    hf = make("xlnet")[1]
    hf.save_pretrained(str(tmp_path))
    theirs = transformers.AutoTokenizer.from_pretrained(str(tmp_path))
    ours = tf.XLNetTokenizer.from_pretrained(str(tmp_path))
    texts = ["hello ☃ world", "a ☃☃ b ☃", "x☃y ☃z 日本語", "☃"]
    assert ours.unk_token_id in ours(texts[0])["input_ids"]
    for kw in [dict(), dict(add_special_tokens=False),
               dict(truncation=True, max_length=10, stride=1, return_overflowing_tokens=True)]:
        a, b = ours(texts, texts[::-1], **kw), theirs(texts, texts[::-1], **kw)
        assert as_lists(a) == as_lists(b), kw
        assert_rows_alike(a, b)


@pytest.mark.parametrize("family", ["bert", "gpt2", "openai"])
def test_many_added_tokens(make, family, tmp_path):
    """With many added tokens (one pass over the text finds which occur; the searches skip the others) the split is
    the same: 1.2.0's (each token in turn, the parts stripped even where no token occurs) and transformers'."""
    many = [f"tok{i}x" for i in range(30)] + ["tok1", "x tok2", "ZZ"]
    texts = ["  hello tok1x tok12x world ", "tok1 tok1x tok2x", "nothing here ", " ZZ", "atok29xb x tok2 tok3",
             "ünïcode tok5x é"]
    ours, hf, ref, ours_120 = make(family)
    for tok in (ours_120, ref):
        tok.add_tokens(many)
    for text in texts:
        assert ours_120.encode(text) == ref.encode(text), text
        assert ours_120.tokenize(text) == ref.tokenize(text), text
    hf.add_tokens(many)
    hf.save_pretrained(str(tmp_path))
    theirs = transformers.AutoTokenizer.from_pretrained(str(tmp_path))
    ours = type(ours).from_pretrained(str(tmp_path))
    kw = dict(return_offsets_mapping=True)
    assert as_lists(ours(texts, **kw)) == as_lists(theirs(texts, **kw))


def test_special_tokens_without_ids_are_a_clear_error():
    """RoBERTa's tokenizer on GPT-2's files, which hold none of its special tokens (nor <unk>): 1.2.0 put None in
    the ids it laid them out in; here encoding with special tokens, and padding, raise a ValueError naming them,
    and once they are added (add_special_tokens) they encode as added tokens."""
    ours = tf.RobertaTokenizer(*gpt2_files())
    with pytest.raises(ValueError, match=r"'<s>'.*have no id"):
        ours.encode("hello world", add_special_tokens=True)
    with pytest.raises(ValueError, match=r"'</s>'.*have no id"):
        ours(["hello world", "hi"], padding=True, return_tensors="pt")
    with pytest.raises(ValueError, match=r"\['<pad>'\] have no id"):
        ours(["hello world", "hi"], add_special_tokens=False, padding=True)
    assert ours(["hello world"], add_special_tokens=False)["input_ids"] == [ours.encode("hello world")]
    ours.add_special_tokens({"bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>",
                             "pad_token": "<pad>"})
    ids = ours(["hello world", "hi"], padding=True, return_tensors="pt")["input_ids"]
    bos, eos, pad = ours.convert_tokens_to_ids(["<s>", "</s>", "<pad>"])
    assert ids.tolist() == [[bos] + ours.encode("hello world") + [eos], [bos] + ours.encode("hi") + [eos, pad]]
