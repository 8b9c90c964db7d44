"""inputs_embeds= (transformers' keyword) for every model class: the word embeddings of ids give the ids' result,
random embeddings give transformers' result on a padded batch (fast path and autograd path), exactly one of
input_ids / inputs_embeds, bad embeddings are clear errors."""
from __future__ import annotations

import functools
from types import SimpleNamespace

import pytest
import torch
import transformers

import transformers_fast as tf
from modeling_helpers import quiet_transformers, randomize_all
from test_gpt_forward_fast_path import CLASSES as GPT_CLASSES
from test_modeling_bert_family import CLASSES as ENCODER_CLASSES
from test_modeling_xlm import CLASSES as XLM_CLASSES
from test_modeling_xlnet import CLASSES as XLNET_CLASSES
from transformers_fast.runtime import encoder as fast_encoder

ATOL = 1e-4
VOCAB = 99
BERT = dict(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
            max_position_embeddings=40, type_vocab_size=2, num_labels=3)
GPT = dict(vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=4, n_positions=40, num_labels=1)
FAMILIES = {
    "bert": (transformers.BertConfig, BERT, 0),
    "roberta": (transformers.RobertaConfig, dict(BERT, max_position_embeddings=42, type_vocab_size=1, pad_token_id=1,
                                                 layer_norm_eps=1e-5), 1),
    "distilbert": (transformers.DistilBertConfig, dict(vocab_size=VOCAB, dim=32, n_layers=2, n_heads=4, hidden_dim=37,
                                                       max_position_embeddings=40, num_labels=2), 0),
    "gpt2": (transformers.GPT2Config, GPT, 0),
    "openai": (transformers.OpenAIGPTConfig, GPT, 0),
    "xlnet": (transformers.XLNetConfig, dict(vocab_size=VOCAB, d_model=32, n_layer=2, n_head=4, d_inner=37,
                                             ff_activation="gelu_new", num_labels=3, start_n_top=3, end_n_top=2), 5),
    "xlm": (transformers.XLMConfig, dict(vocab_size=VOCAB, emb_dim=32, n_layers=2, n_heads=4, n_langs=1, num_labels=3,
                                         start_n_top=3, end_n_top=2), 2),
}
# every class of each family, as the family's own tests list them
CLASSES = {**ENCODER_CLASSES, **GPT_CLASSES, "xlnet": XLNET_CLASSES, "xlm": XLM_CLASSES}
CASES = [(family, name) for family, names in CLASSES.items() for name in names]
# the outputs compared, per token ([batch, seq, ...]: real positions only) or per sequence
FIELDS = ("last_hidden_state", "pooler_output", "logits", "prediction_logits", "seq_relationship_logits",
          "mc_logits", "start_logits", "end_logits", "start_top_log_probs", "start_top_index", "end_top_log_probs",
          "end_top_index", "cls_logits")


def family_of(model) -> str:
    return next(f for f, names in CLASSES.items() if type(model).__name__ in names)


def reference(family: str, name: str):
    quiet_transformers()
    config_cls, kwargs, _ = FAMILIES[family]
    kwargs = dict(kwargs, num_labels=2) if name.endswith("QuestionAnswering") else kwargs
    torch.manual_seed(0)
    model = getattr(transformers, name)(config_cls(**kwargs, attn_implementation="eager")).eval()
    randomize_all(model)
    return model


def multiple_choice(name: str) -> bool:
    return "MultipleChoice" in name or "DoubleHeads" in name


def batch(family: str, name: str, seed: int = 1):
    """ids, a padded attention mask (left padding for XLNet, as its tokenizer pads) and the head's extra inputs;
    multiple-choice heads get [batch, 2 choices, seq]."""
    g = torch.Generator().manual_seed(seed)
    bsz, seq = 3, 9
    ids = torch.randint(5, VOCAB, (bsz, seq), generator=g)
    mask = torch.ones(bsz, seq, dtype=torch.long)
    for row, n in enumerate([seq, seq - 3, seq - 5]):
        if family == "xlnet":
            mask[row, :seq - n] = 0
        else:
            mask[row, n:] = 0
    ids = ids.masked_fill(mask == 0, FAMILIES[family][2])
    extra = {}
    if multiple_choice(name):
        ids, mask = torch.stack([ids, ids.flip(0)], 1), torch.stack([mask, mask.flip(0)], 1)
        if "DoubleHeads" in name:
            extra["mc_token_ids"] = mask.sum(-1) - 1
    return ids, mask, extra


def outputs(out, ref_out):
    """(name, ours, reference) of every compared field the reference has."""
    for field in FIELDS:
        want = getattr(ref_out, field, None)
        if want is None:
            continue
        got = getattr(out, field)
        if got.shape != want.shape and got.numel() == want.numel():
            got = got.reshape(want.shape)  # XLMWithLMHeadModel: 1.2.0's [batch * seq, n_words]
        yield field, got, want


def assert_close(out, ref_out, mask):
    real = mask.reshape(-1, mask.shape[-1]).bool()
    compared = 0
    for field, got, want in outputs(out, ref_out):
        got, want = got.detach(), want.detach()
        if got.dim() >= 2 and got.shape[:-1 if got.dim() > 2 else None][:mask.dim()] == mask.shape:
            flat = (-1, mask.shape[-1]) + tuple(got.shape[mask.dim():])
            got, want = got.reshape(flat)[real], want.reshape(flat)[real]
        if field.endswith("_index"):
            assert torch.equal(got, want), field
        else:
            torch.testing.assert_close(got, want, atol=ATOL, rtol=0, msg=lambda m: f"{field}: {m}")
        compared += 1
    assert compared, "no output compared"


def double_heads(ref, inputs_embeds, attention_mask, mc_token_ids):
    """transformers' GPT double heads on embeddings [batch, choices, seq, hidden]: its base model fails on 4-D
    embeddings (it flattens only ids), so the choices are flattened here as they are for ids."""
    shape = inputs_embeds.shape
    hidden = ref.transformer(inputs_embeds=inputs_embeds.reshape(-1, shape[-2], shape[-1]),
                             attention_mask=attention_mask.reshape(-1, shape[-2]))[0].reshape(shape)
    return SimpleNamespace(logits=ref.lm_head(hidden), mc_logits=ref.multiple_choice_head(hidden, mc_token_ids).squeeze(-1))


def embed(model, ids):
    """The word embeddings of ids, as the model's input_embeddings give them."""
    with torch.no_grad():
        return model.get_input_embeddings()(ids).detach()


@pytest.fixture(scope="module", params=CASES, ids=[name for _, name in CASES])
def pair(request):
    family, name = request.param
    ref = reference(family, name)
    ours = getattr(tf, name).from_transformers(ref)
    return family, name, ours, ref


@pytest.mark.parametrize("grad", [False, True], ids=["fast", "autograd"])
def test_word_embeddings_of_ids_equal_ids(pair, grad):
    family, name, ours, ref = pair
    ids, mask, extra = batch(family, name)
    embeds = embed(ours, ids)
    kept = embeds.clone()
    with torch.set_grad_enabled(grad):
        want = ours(ids, attention_mask=mask, **extra)
        got = ours(inputs_embeds=embeds, attention_mask=mask, **extra)
    assert_close(got, want, mask)
    assert torch.equal(embeds, kept), "inputs_embeds was modified"


@pytest.mark.parametrize("grad", [False, True], ids=["fast", "autograd"])
def test_random_embeddings_equal_transformers(pair, grad):
    family, name, ours, ref = pair
    ids, mask, extra = batch(family, name)
    double_heads_reference = functools.partial(double_heads, ref)
    g = torch.Generator().manual_seed(5)
    embeds = torch.randn(ids.shape + (ours.config.hidden_size,), generator=g)
    with torch.set_grad_enabled(grad):
        got = ours(inputs_embeds=embeds, attention_mask=mask, **extra)
    with torch.no_grad():
        want = (double_heads_reference if "DoubleHeads" in name else ref)(
            inputs_embeds=embeds, attention_mask=mask, **extra)
    assert_close(got, want, mask)
    if grad:  # the embeddings are an input of the graph (soft prompts, attacks)
        embeds.requires_grad_(True)
        loss = next(got for _, got, _ in outputs(ours(inputs_embeds=embeds, attention_mask=mask, **extra), want))
        loss.float().sum().backward()
        assert embeds.grad is not None and embeds.grad.abs().sum() > 0


@pytest.mark.parametrize("family", ["bert", "roberta", "distilbert", "xlm"])
def test_encoders_take_embeddings_on_the_padding_free_fast_path(family, monkeypatch):
    name = {"bert": "BertModel", "roberta": "RobertaModel", "distilbert": "DistilBertModel", "xlm": "XLMModel"}[family]
    ref = reference(family, name)
    ours = getattr(tf, name).from_transformers(ref)
    calls = []
    forward = fast_encoder.EncoderFastPath._forward
    monkeypatch.setattr(fast_encoder.EncoderFastPath, "_forward", lambda self, *a: calls.append(1) or forward(self, *a))
    ids, mask, _ = batch(family, name)
    embeds = torch.randn(ids.shape + (ours.config.hidden_size,))
    with torch.no_grad():
        got = ours(inputs_embeds=embeds, attention_mask=mask)
        want = ref(inputs_embeds=embeds, attention_mask=mask)
    assert calls == [1]
    assert_close(got, want, mask)


def test_roberta_positions_count_every_embedding_as_real():
    """No ids to find padding in: positions padding_idx + 1, ... for every row (transformers)."""
    ref = reference("roberta", "RobertaModel")
    ours = tf.RobertaModel.from_transformers(ref)
    embeds = torch.randn(2, 6, 32)
    expected = torch.arange(2, 8).expand(2, 6)
    with torch.no_grad():
        got = ours(inputs_embeds=embeds)[0]
        want = ours(inputs_embeds=embeds, position_ids=expected)[0]
        other = ours(inputs_embeds=embeds, position_ids=expected - 1)[0]
    torch.testing.assert_close(got, want, atol=0, rtol=0)
    assert (got - other).abs().max() > 1e-3


def test_xlm_lengths_without_ids_are_the_whole_sequence():
    """transformers: without ids (and without attention_mask / lengths) every position is real."""
    ref = reference("xlm", "XLMModel")
    ours = tf.XLMModel.from_transformers(ref)
    ids, _, _ = batch("xlm", "XLMModel")
    ids[1, 6:] = 2  # pad_index: the ids' lengths count these as padding, embeddings of them are real
    embeds = embed(ours, ids)
    with torch.no_grad():
        got = ours(inputs_embeds=embeds)[0]
        want = ref(inputs_embeds=embeds)[0]
        full = ours(ids, lengths=torch.full((3,), 9))[0]
    torch.testing.assert_close(got, want, atol=ATOL, rtol=0)
    torch.testing.assert_close(got, full, atol=ATOL, rtol=0)
    assert (got[1, 6:]).abs().max() > 1e-3  # not zeroed as padding


def test_xlm_cache_continuation_with_embeddings_of_the_whole_sequence():
    """As ids, embeddings hold the sequence so far: only the positions after cache['slen'] run."""
    config = tf.XLMConfig(VOCAB, emb_dim=32, n_layers=2, n_heads=4, causal=True)
    torch.manual_seed(0)
    ours = tf.XLMModel(config).eval()
    ids = torch.randint(5, VOCAB, (3, 9), generator=torch.Generator().manual_seed(1))  # no padding
    embeds = embed(ours, ids)
    for grad in (False, True):
        with torch.set_grad_enabled(grad):
            ids_cache, embeds_cache = {"slen": 0}, {"slen": 0}
            ours(ids[:, :5], cache=ids_cache)
            ours(inputs_embeds=embeds[:, :5], cache=embeds_cache)
            want = ours(ids, cache=ids_cache)[0]
            got = ours(inputs_embeds=embeds, cache=embeds_cache)[0]
        assert got.shape == (3, 4, 32) and embeds_cache["slen"] == 9
        torch.testing.assert_close(got, want, atol=ATOL, rtol=0)


def test_gpt2_past_with_embeddings_continues_positions():
    ref = reference("gpt2", "GPT2LMHeadModel")
    ours = tf.GPT2LMHeadModel.from_transformers(ref)
    ids, _, _ = batch("gpt2", "GPT2LMHeadModel")
    embeds = embed(ours, ids)
    with torch.no_grad():
        past = ours(ids[:, :6])[1]
        got = ours(inputs_embeds=embeds[:, 6:], past_key_values=past)[0]
        want = ours(ids)[0][:, 6:]
    torch.testing.assert_close(got, want, atol=ATOL, rtol=0)


def test_lower_precision_embeddings_are_converted():
    ref = reference("bert", "BertModel")
    ours = tf.BertModel.from_transformers(ref)
    embeds = torch.randn(2, 5, 32).half()
    with torch.no_grad():
        got = ours(inputs_embeds=embeds)[0]
        want = ours(inputs_embeds=embeds.float())[0]
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, want, atol=0, rtol=0)


@pytest.mark.parametrize("family,name", [("bert", "BertModel"), ("bert", "BertForMultipleChoice"),
                                         ("roberta", "RobertaForMaskedLM"), ("distilbert", "DistilBertModel"),
                                         ("gpt2", "GPT2LMHeadModel"), ("openai", "OpenAIGPTDoubleHeadsModel"),
                                         ("xlnet", "XLNetModel"), ("xlm", "XLMWithLMHeadModel")])
@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
def test_exactly_one_of_ids_and_embeddings_and_bad_embeddings(family, name, training):
    model = getattr(tf, name).from_transformers(reference(family, name)).train(training)
    ids, _, extra = batch(family, name)
    width = model.config.hidden_size
    good = torch.randn(ids.shape + (width,))
    with pytest.raises(ValueError, match="both input_ids and inputs_embeds"):
        model(ids, inputs_embeds=good, **extra)
    with pytest.raises(ValueError, match="either input_ids or inputs_embeds"):
        model(**extra)
    with pytest.raises(TypeError, match="inputs_embeds must hold float"):
        model(inputs_embeds=torch.ones(ids.shape + (width,), dtype=torch.long), **extra)
    with pytest.raises((TypeError, ValueError), match="inputs_embeds .*must be a .*(torch.)?[tT]ensor"):
        model(inputs_embeds=good.tolist(), **extra)
    with pytest.raises(TypeError, match="inputs_embeds has dtype torch.float64"):
        model(inputs_embeds=good.double(), **extra)
    with pytest.raises(ValueError, match="inputs_embeds .*shape"):
        model(inputs_embeds=torch.randn(ids.shape + (width + 1,)), **extra)
    with pytest.raises(ValueError, match="inputs_embeds .*shape"):
        model(inputs_embeds=good[(0,) * (ids.dim() - 1)], **extra)  # one dimension short
    with pytest.raises(ValueError, match="inputs_embeds is on device meta"):
        model(inputs_embeds=good.to("meta"), **extra)
    if not multiple_choice(name):
        with pytest.raises(ValueError, match="attention_mask has shape"):
            model(inputs_embeds=good, attention_mask=torch.ones(ids.shape[0], ids.shape[1] + 1))
        with pytest.raises(ValueError, match="inputs_embeds .*positions|inputs_embeds is empty"):
            model(inputs_embeds=torch.randn(2, 0, width))
    model.eval()


# ---- Transformer-XL: transformers 4 took inputs_embeds in place of word_emb(input_ids) (its scaled output); the
# reference is pytorch-transformers 1.2.0 with its word_emb giving those embeddings ----
TXL = dict(cutoffs=[10, 30], d_model=32, d_embed=32, n_head=4, d_head=8, d_inner=48, div_val=2, n_layer=2, tgt_len=7,
           mem_len=6, clamp_len=0, same_length=False)


class GivenEmbeddings(torch.nn.Module):
    """word_emb of a 1.2.0 model that returns the embeddings set on it ([len, batch, d], as 1.2.0 computes)."""

    def __init__(self):
        super().__init__()
        self.embeds = None

    def forward(self, ids):
        assert ids.shape == self.embeds.shape[:2]
        return self.embeds.clone()


@pytest.fixture(scope="module", params=[0, 3], ids=["attn_type0", "attn_type3"])
def txl_pair(request, tmp_path_factory):
    import pytorch_transformers as pt

    quiet_transformers()
    torch.manual_seed(0)
    ref = pt.TransfoXLLMHeadModel(pt.TransfoXLConfig(VOCAB, **dict(TXL, attn_type=request.param))).eval()
    randomize_all(ref, scale=0.05)
    folder = str(tmp_path_factory.mktemp("txl"))
    ref.save_pretrained(folder)
    return tf.TransfoXLLMHeadModel.from_pretrained(folder).eval(), ref


@pytest.mark.parametrize("grad", [False, True], ids=["fast", "autograd"])
def test_transfo_xl_embeddings_over_two_segments(txl_pair, grad):
    ours, ref = txl_pair
    g = torch.Generator().manual_seed(2)
    ids = torch.randint(0, VOCAB, (2, 14), generator=g)
    words = embed(ours.transformer, ids)
    embeds = torch.randn(2, 14, 32, generator=g)
    kept = embeds.clone()
    given, word_emb = GivenEmbeddings(), ref.transformer.word_emb
    mems_ids = mems_words = mems_embeds = mems_ref = None
    try:
        for segment in (slice(0, 7), slice(7, 14)):
            with torch.set_grad_enabled(grad):
                want_ids = ours(ids[:, segment], mems=mems_ids)
                got_words = ours(inputs_embeds=words[:, segment], mems=mems_words)
                got = ours(inputs_embeds=embeds[:, segment], mems=mems_embeds)
            ref.transformer.word_emb = given
            given.embeds = embeds[:, segment].transpose(0, 1).contiguous()
            with torch.no_grad():
                want = ref(ids[:, segment], mems=mems_ref)
            ref.transformer.word_emb = word_emb
            for a, b in ((got_words, want_ids), (got, want)):
                torch.testing.assert_close(a[0].detach(), b[0], atol=ATOL, rtol=0)
                for m, n in zip(a[1], b[1]):
                    torch.testing.assert_close(m, n, atol=ATOL, rtol=0)
            mems_ids, mems_words, mems_embeds, mems_ref = want_ids[1], got_words[1], got[1], want[1]
    finally:
        ref.transformer.word_emb = word_emb
    assert torch.equal(embeds, kept), "inputs_embeds was modified"


def test_transfo_xl_exactly_one_input_and_bad_embeddings(txl_pair):
    ours, _ = txl_pair
    ids = torch.randint(0, VOCAB, (2, 5))
    good = torch.randn(2, 5, 32)
    for model in (ours, ours.transformer):
        with pytest.raises(ValueError, match="both input_ids and inputs_embeds"):
            model(ids, inputs_embeds=good)
        with pytest.raises(ValueError, match="either input_ids or inputs_embeds"):
            model()
        with pytest.raises(TypeError, match="inputs_embeds must hold float"):
            model(inputs_embeds=good.long())
        with pytest.raises(ValueError, match="inputs_embeds must have shape"):
            model(inputs_embeds=torch.randn(2, 5, 31))
        with pytest.raises(ValueError, match="inputs_embeds must have shape"):
            model(inputs_embeds=torch.randn(2, 5, 1, 32))
        with pytest.raises(ValueError, match="inputs_embeds is on device meta"):
            model(inputs_embeds=good.to("meta"))
        with pytest.raises(ValueError, match="mems"):
            model(inputs_embeds=good, mems=[torch.zeros(6, 3, 32)] * 2)
    with pytest.raises(ValueError, match="labels"):
        ours(inputs_embeds=good, labels=torch.zeros(2, 4, dtype=torch.long))


def test_transfo_xl_embeddings_run_the_fused_path(txl_pair, monkeypatch):
    ours, _ = txl_pair
    if ours.transformer.attn_type != 0:
        pytest.skip("the fused path serves attn_type 0, the checkpoint's")
    g = torch.Generator().manual_seed(3)
    embeds = torch.randn(2, 7, 32, generator=g)
    with torch.no_grad():
        ours.transformer.fast.enabled = False
        try:
            first = ours(inputs_embeds=embeds)
            want = ours(inputs_embeds=embeds, mems=first[1])
        finally:
            ours.transformer.fast.enabled = True

        def reference_path(*args, **kwargs):
            raise AssertionError("inputs_embeds ran the plain torch path")

        monkeypatch.setattr(ours.transformer, "_forward", reference_path)
        got_first = ours(inputs_embeds=embeds)
        got = ours(inputs_embeds=embeds, mems=got_first[1])
    for a, b in ((got_first, first), (got, want)):
        torch.testing.assert_close(a[0], b[0], atol=ATOL, rtol=0)
        for m, n in zip(a[1], b[1]):
            torch.testing.assert_close(m, n, atol=ATOL, rtol=0)
