"""OpenAI GPT and GPT-2 against transformers and pytorch-transformers 1.2.0: every class, tiny random configs
saved by each reference (.bin and .safetensors), all outputs and presents, padded batches, past, losses."""
from __future__ import annotations

import pytest
import torch

import transformers_fast as tf
from gpt_helpers import FAMILIES, HF_CLASSES, hf_gpt, ids, left_padded, pt_gpt, save_pt
from modeling_helpers import compare, randomize_all

OURS = {"openai": (tf.OpenAIGPTModel, tf.OpenAIGPTLMHeadModel, tf.OpenAIGPTDoubleHeadsModel),
        "gpt2": (tf.GPT2Model, tf.GPT2LMHeadModel, tf.GPT2DoubleHeadsModel)}
KINDS = ("base", "lm", "double")


def classes(family, kind):
    index = KINDS.index(kind)
    return OURS[family][index], HF_CLASSES[family][index + 1]


def hf_cache_to_presents(cache):
    return tuple(torch.stack((layer.keys, layer.values)) for layer in cache.layers)


def call_args(kind, family, batch_ids):
    """Inputs (positional for 1.2.0 order where needed) and keyword arguments for each class."""
    if kind == "double":
        choices = torch.stack([batch_ids, batch_ids.flip(1)], dim=1)  # [batch, 2 choices, seq]
        mc_token_ids = torch.tensor([[3, 8]] * batch_ids.shape[0])
        return choices, dict(mc_token_ids=mc_token_ids)
    return batch_ids, {}


# ---- against pytorch-transformers 1.2.0 (its tuples, presents included) ----------------------------------

@pytest.mark.parametrize("fmt", ["bin", "safetensors"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("family", FAMILIES)
def test_outputs_equal_pytorch_transformers(family, kind, fmt, tmp_path):
    ours_cls, name = classes(family, kind)
    ref = pt_gpt(family, name, output_hidden_states=True, output_attentions=True)
    model = ours_cls.from_pretrained(save_pt(ref, str(tmp_path), fmt))
    x, kwargs = call_args(kind, family, ids())
    head_mask = torch.tensor([[1.0, 0.0, 1.0, 1.0], [0.5, 1.0, 1.0, 0.0]])
    with torch.no_grad():
        compare(model(x, **kwargs), ref(x, **kwargs), path=f"{family}/{kind}")
        compare(model(x, head_mask=head_mask, **kwargs), ref(x, head_mask=head_mask, **kwargs), path="head_mask")
    assert model.config.output_hidden_states and model.config.output_attentions


@pytest.mark.parametrize("family", FAMILIES)
def test_losses_equal_pytorch_transformers(family, tmp_path):
    x = ids()
    labels = x.clone()
    labels[0, :4] = -1  # 1.2.0 ignores -1
    lm_cls, lm_name = classes(family, "lm")
    ref = pt_gpt(family, lm_name)
    model = lm_cls.from_pretrained(save_pt(ref, str(tmp_path / "lm"), "bin"))
    with torch.no_grad():
        compare(model(x, labels=labels), ref(x, labels=labels), path="lm loss")

    double_cls, double_name = classes(family, "double")
    ref = pt_gpt(family, double_name)
    model = double_cls.from_pretrained(save_pt(ref, str(tmp_path / "double"), "bin"))
    choices, kwargs = call_args("double", family, x)
    lm_labels = torch.stack([labels, labels], dim=1)
    mc_labels = torch.tensor([1, 0, 1])
    with torch.no_grad():
        for extra in (dict(lm_labels=lm_labels, mc_labels=mc_labels), dict(mc_labels=mc_labels),
                      dict(lm_labels=lm_labels)):
            ours, theirs = model(choices, **kwargs, **extra), ref(choices, **kwargs, **extra)
            compare(ours, theirs, path=f"double heads {sorted(extra)}")
    assert ours.loss is not None and ours.mc_loss is None


@pytest.mark.parametrize("fmt", ["bin", "safetensors"])
def test_gpt2_past_equals_pytorch_transformers(fmt, tmp_path):
    ref = pt_gpt("gpt2", "GPT2LMHeadModel")
    model = tf.GPT2LMHeadModel.from_pretrained(save_pt(ref, str(tmp_path), fmt))
    x = ids(seq=11)
    with torch.no_grad():
        first_ref = ref(x[:, :6])
        first = model(x[:, :6])
        compare(first, first_ref, path="prefix")  # logits and presents [2, B, H, S, D] per layer
        assert first[1][0].shape == (2, 3, 4, 6, 8)
        # the reference's presents go into our model and ours into the reference
        compare(model(x[:, 6:], past=first_ref[1]), ref(x[:, 6:], past=first[1]), path="continued")


# ---- against transformers ------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("family", FAMILIES)
def test_outputs_equal_transformers(family, kind, tmp_path):
    ours_cls, name = classes(family, kind)
    ref = hf_gpt(family, name)
    ref.save_pretrained(tmp_path)
    model = ours_cls.from_pretrained(tmp_path)
    x, kwargs = call_args(kind, family, ids())
    with torch.no_grad():
        ours = model(x, output_hidden_states=True, output_attentions=True, **kwargs)
        theirs = ref(x, output_hidden_states=True, output_attentions=True, **kwargs)
    if kind == "base":
        compare(ours.last_hidden_state, theirs.last_hidden_state)
    else:
        compare(ours.logits, theirs.logits)
    if kind == "double":
        compare(ours.mc_logits, theirs.mc_logits)
    if family == "gpt2":
        compare(ours.past_key_values, hf_cache_to_presents(theirs.past_key_values), path="presents")
    # transformers flattens the choices of the double-heads models in these; 1.2.0 (and we) keep them
    def like(tensors, reference):
        return tuple(t.reshape(r.shape) for t, r in zip(tensors, reference))

    compare(like(ours.hidden_states, theirs.hidden_states), theirs.hidden_states, path="hidden_states")
    compare(like(ours.attentions, theirs.attentions), theirs.attentions, path="attentions")


@pytest.mark.parametrize("family", FAMILIES)
def test_left_padded_batch_equals_transformers(family, tmp_path):
    _, name = classes(family, "lm")
    ref = hf_gpt(family, name)
    ref.save_pretrained(tmp_path)
    model = OURS[family][1].from_pretrained(tmp_path)
    x, mask, positions = left_padded(ids(batch=4, seq=10), [10, 4, 7, 1])
    with torch.no_grad():
        ours = model(x, attention_mask=mask, position_ids=positions)
        theirs = ref(x, attention_mask=mask, position_ids=positions)
        compare(ours.logits, theirs.logits, mask=mask, path="padded logits")
        # and each row equals that prompt alone
        for row, n in enumerate([10, 4, 7, 1]):
            alone = model(x[row:row + 1, 10 - n:]).logits
            compare(ours.logits[row:row + 1, 10 - n:], alone, path=f"row {row} alone")


@pytest.mark.parametrize("family", FAMILIES)
def test_logits_to_keep_equals_transformers(family, tmp_path):
    _, name = classes(family, "lm")
    ref = hf_gpt(family, name)
    ref.save_pretrained(tmp_path)
    model = OURS[family][1].from_pretrained(tmp_path)
    x, mask, positions = left_padded(ids(batch=3, seq=9), [9, 4, 6])
    with torch.no_grad():
        for keep in (1, 3, 0, torch.tensor([0, 5, 8])):
            ours = model(x, attention_mask=mask, position_ids=positions, logits_to_keep=keep).logits
            theirs = ref(x, attention_mask=mask, position_ids=positions, logits_to_keep=keep).logits
            assert ours.shape == theirs.shape
            if isinstance(keep, int):
                kept = mask[:, -keep:] if keep else mask
            else:
                kept = mask[:, keep]
            compare(ours, theirs, mask=kept, path=f"logits_to_keep={keep}")
    with pytest.raises(ValueError, match="logits_to_keep"):
        model(x, labels=x, logits_to_keep=1)
    with pytest.raises(ValueError, match="logits_to_keep"):
        model(x, logits_to_keep=-1)


@pytest.mark.parametrize("family,class_name", [("gpt2", "GPT2LMHeadModel"), ("openai", "OpenAIGPTLMHeadModel"),
                                               ("gpt2", "GPT2DoubleHeadsModel")])
@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("grad", [False, True], ids=["no_grad", "grad"])
def test_loss_over_padded_positions_equals_transformers(family, class_name, side, grad, tmp_path):
    # labels = input_ids scores the logits of padded positions too (their next label is not -100): those must be
    # the reference's, not the fused decoder's zeros; OpenAI GPT's future keys score -1e4 there, not dtype.min
    ref = hf_gpt(family, class_name)
    randomize_all(ref, scale=0.3)
    ref.save_pretrained(tmp_path)
    model = getattr(tf, class_name).from_pretrained(tmp_path)
    x, mask, _ = left_padded(ids(batch=3, seq=10), [10, 4, 7])
    if side == "right":
        x, mask = x.flip(1), mask.flip(1)
    kwargs = dict(attention_mask=mask, labels=x)
    if class_name.endswith("DoubleHeadsModel"):
        x = x[:, None]
        kwargs = dict(attention_mask=mask[:, None], labels=x, mc_token_ids=torch.zeros(3, 1, dtype=torch.long))
    with torch.set_grad_enabled(grad):
        ours, theirs = model(x, **kwargs), ref(x, **kwargs)
        compare(ours.loss, theirs.loss, path="loss")
        compare(ours.logits, theirs.logits, path="logits at every position")
        assert ours.hidden_states is None


def test_gpt2_past_continuation_equals_full_forward(tmp_path):
    ref = hf_gpt("gpt2", "GPT2LMHeadModel")
    ref.save_pretrained(tmp_path)
    model = tf.GPT2LMHeadModel.from_pretrained(tmp_path)
    x, mask, positions = left_padded(ids(batch=3, seq=12), [12, 5, 9])
    with torch.no_grad():
        full = model(x, attention_mask=mask, position_ids=positions)
        presents = model(x[:, :8], attention_mask=mask[:, :8], position_ids=positions[:, :8]).past_key_values
        for past_name in ("past", "past_key_values"):
            rest = model(x[:, 8:], attention_mask=mask, position_ids=positions[:, 8:], **{past_name: presents})
            compare(rest.logits, full.logits[:, 8:], path=past_name)
        # today's (key, value) pairs are accepted too, and use_cache=False returns no presents
        pairs = tuple((p[0], p[1]) for p in presents)
        rest = model(x[:, 8:], attention_mask=mask, position_ids=positions[:, 8:], past_key_values=pairs,
                     use_cache=False)
        compare(rest.logits, full.logits[:, 8:], path="pairs")
        assert rest.past_key_values is None and len(rest) == 1
        compare(full.logits, ref(x, attention_mask=mask, position_ids=positions).logits, mask=mask)


@pytest.mark.parametrize("family", FAMILIES)
def test_training_gradients_equal_reference(family, tmp_path):
    ref = pt_gpt(family, classes(family, "lm")[1], resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    model = OURS[family][1].from_pretrained(save_pt(ref, str(tmp_path), "bin"))
    model.train()
    ref.train()
    x = ids()
    loss = model(x, labels=x)[0]
    ref_loss = ref(x, labels=x)[0]
    loss.backward()
    ref_loss.backward()
    compare(loss, ref_loss)
    ours_grads = dict(model.named_parameters())
    for name, p in ref.named_parameters():
        compare(ours_grads[name].grad, p.grad, path=f"grad {name}")


def test_lm_head_is_tied_and_saved_state_dict_loads_in_transformers(tmp_path):
    import transformers

    ref = pt_gpt("gpt2", "GPT2LMHeadModel")
    model = tf.GPT2LMHeadModel.from_pretrained(save_pt(ref, str(tmp_path / "a"), "bin"))
    assert model.lm_head.weight is model.transformer.wte.weight
    assert model.transformer.h[0].attn.c_attn.weight.shape == (32, 96)  # Conv1D: [in, out]
    model.save_pretrained(tmp_path / "b")
    again = transformers.GPT2LMHeadModel.from_pretrained(tmp_path / "b").eval()
    x = ids()
    with torch.no_grad():
        compare(model(x).logits, again(x).logits)


@pytest.mark.parametrize("name, layers, hidden, heads, millions", [
    ("openai-gpt", 12, 768, 12, 110), ("gpt2", 12, 768, 12, 117), ("gpt2-medium", 24, 1024, 16, 345),
    ("gpt2-large", 36, 1280, 20, 774)])
def test_shipped_config_matches_published_table(name, layers, hidden, heads, millions, monkeypatch):
    """The published table of pytorch-transformers (its 117M/345M for gpt2/gpt2-medium predate the recount
    to 124M/355M): within 8%, and the parameter count equals transformers' for the same config."""
    import transformers
    from transformers_fast.modeling_utils import no_weight_init

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    family = "openai" if name == "openai-gpt" else "gpt2"
    config = (tf.OpenAIGPTConfig if family == "openai" else tf.GPT2Config).from_pretrained(name)
    assert (config.n_layer, config.n_embd, config.n_head) == (layers, hidden, heads)
    assert (config.num_hidden_layers, config.hidden_size, config.num_attention_heads) == (layers, hidden, heads)
    with torch.device("meta"), no_weight_init():
        ours = OURS[family][0](config).num_parameters()
    hf_config = getattr(transformers, HF_CLASSES[family][0]).from_dict(config.to_dict())
    with torch.device("meta"):
        theirs = sum(p.numel() for p in getattr(transformers, HF_CLASSES[family][1])(hf_config).parameters())
    assert ours == theirs
    assert abs(ours / 1e6 - millions) / millions < 0.08, f"{name}: {ours / 1e6:.1f}M vs published {millions}M"


# ---- bad input -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("family", FAMILIES)
def test_bad_input_raises_clear_errors(family):
    config = (tf.OpenAIGPTConfig if family == "openai" else tf.GPT2Config)(**{
        k: v for k, v in dict(vocab_size=99, n_positions=16, n_ctx=16, n_embd=32, n_layer=1, n_head=4).items()})
    torch.manual_seed(0)
    model = OURS[family][1](config).eval()
    with pytest.raises(ValueError, match="n_positions"):
        model(torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(ValueError, match="input_ids is empty"):
        model(torch.zeros(1, 0, dtype=torch.long))
    with pytest.raises(ValueError, match=r"input_ids holds 99, outside \[0, 98\]"):
        model(torch.tensor([[1, 99]]))
    with pytest.raises(ValueError, match="input_ids holds -1"):
        model(torch.tensor([[1, -1]]))
    with pytest.raises(TypeError, match="integer ids"):
        model(torch.tensor([[1.0, 2.0]]))
    with pytest.raises(ValueError, match="attention_mask"):
        model(torch.tensor([[1, 2]]), attention_mask=torch.ones(1, 3))
    with pytest.raises(TypeError, match="attention_mask must be a torch.Tensor, got list"):
        model(torch.tensor([[1, 2]]), attention_mask=[[1, 1]])
    with pytest.raises(ValueError, match="position_ids has shape"):
        model(torch.zeros(2, 5, dtype=torch.long), position_ids=torch.zeros(3, 5, dtype=torch.long))
    for positions in (torch.arange(5), torch.arange(5)[None], torch.arange(5).expand(2, 5)):  # one row or one each
        model(torch.zeros(2, 5, dtype=torch.long), position_ids=positions)
    if family == "gpt2":
        with pytest.raises(ValueError, match=r"past\[0\] must hold a key and a value .* got NoneType"):
            model(torch.tensor([[1, 2]]), past=[None])
        with pytest.raises(ValueError, match=r"past\[0\] has 2 heads of width 8, layer 0 has 4 of width 8"):
            model(torch.tensor([[1, 2]]), past=[torch.zeros(2, 1, 2, 3, 8)])
    with pytest.raises(ValueError, match="n_embd"):  # at build time, as in 1.2.0
        type(model)(type(config)(vocab_size=10, n_embd=30, n_head=4))


@pytest.mark.parametrize("family", FAMILIES)
def test_prune_heads_and_resize_embeddings_equal_pytorch_transformers(family, tmp_path):
    ref = pt_gpt(family, classes(family, "lm")[1])
    model = OURS[family][1].from_pretrained(save_pt(ref, str(tmp_path), "bin"))
    heads = {0: [1, 3], 1: [0]}
    model.prune_heads(heads)
    ref.prune_heads(heads)
    x = ids()
    with torch.no_grad():
        compare(model(x)[0], ref(x)[0], path="pruned")
    model.resize_token_embeddings(120)
    ref.resize_token_embeddings(120)
    with torch.no_grad():
        ref_wte = ref.transformer.wte if family == "gpt2" else ref.transformer.tokens_embed
        ref_wte.weight[99:] = model.get_input_embeddings().weight[99:]
        big = torch.tensor([[5, 110, 119, 7]])
        compare(model(big)[0], ref(big)[0], path="resized")
    assert model.lm_head.weight is model.get_input_embeddings().weight and model.config.vocab_size == 120


def test_gpt2_accepts_a_transformers_cache_as_past(tmp_path):
    ref = hf_gpt("gpt2", "GPT2LMHeadModel")
    ref.save_pretrained(tmp_path)
    model = tf.GPT2LMHeadModel.from_pretrained(tmp_path)
    x = ids(seq=10)
    with torch.no_grad():
        cache = ref(x[:, :6], use_cache=True).past_key_values
        compare(model(x[:, 6:], past_key_values=cache).logits, ref(x).logits[:, 6:])


@pytest.mark.parametrize("use_cache", [True, False])
@pytest.mark.parametrize("kind", ["dynamic", "static"])
def test_gpt2_extends_a_transformers_cache_in_place(tmp_path, use_cache, kind):
    # transformers appends each call's keys and values to the Cache it is given; a loop that passes the same
    # Cache object again must see the earlier segments in it (and get it back when use_cache). A StaticCache's
    # tensors are preallocated: only its first get_seq_length() positions are past.
    from transformers import DynamicCache, StaticCache

    ref = hf_gpt("gpt2", "GPT2LMHeadModel")
    ref.save_pretrained(tmp_path)
    model = tf.GPT2LMHeadModel.from_pretrained(tmp_path)
    x = ids(seq=12)
    if kind == "static":
        ours_cache, ref_cache = (StaticCache(config=ref.config, max_cache_len=16) for _ in range(2))
    else:
        ours_cache, ref_cache = DynamicCache(), DynamicCache()
    with torch.no_grad():
        for start, stop in ((0, 5), (5, 9), (9, 12)):
            got = model(x[:, start:stop], past_key_values=ours_cache, use_cache=use_cache)
            expected = ref(x[:, start:stop], past_key_values=ref_cache, use_cache=use_cache)
            compare(got.logits, expected.logits)
            assert ours_cache.get_seq_length() == ref_cache.get_seq_length() == stop
            assert (got.past_key_values is ours_cache) == (expected.past_key_values is ref_cache) == use_cache


@pytest.mark.parametrize("class_index", [1, 2])
def test_gpt2_takes_transformers_cache_keyword(tmp_path, class_index):
    # transformers 5.25 renamed past_key_values to `cache` (argument and output field)
    ref = hf_gpt("gpt2", HF_CLASSES["gpt2"][class_index])
    ref.save_pretrained(tmp_path)
    model = getattr(tf, HF_CLASSES["gpt2"][class_index]).from_pretrained(tmp_path)
    x = ids(seq=10)
    with torch.no_grad():
        expected = ref(x[:, 6:], cache=ref(x[:, :6], use_cache=True).cache)
        got = model(x[:, 6:], cache=model(x[:, :6], use_cache=True).cache)
    compare(got[0], expected[0])


@pytest.mark.parametrize("family", FAMILIES)
def test_output_flags_are_read_when_built_as_in_1_2_0(family):
    """1.2.0 copies config.output_attentions / output_hidden_states when a model is built."""
    config = OURS[family][0].config_class(99, n_embd=32, n_layer=1, n_head=4, n_positions=16)
    before = OURS[family][1](config).eval()
    config.output_attentions = config.output_hidden_states = True
    after = OURS[family][1](config).eval()
    with torch.no_grad():
        assert len(before(ids(batch=2))) == len(after(ids(batch=2))) - 2


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("family", FAMILIES)
def test_load_state_dict_of_a_1_2_0_model_strictly(family, kind):
    """A 1.2.0 state_dict (with its attn.bias causal-mask buffers) loads with load_state_dict(strict=True)."""
    ref = pt_gpt(family, HF_CLASSES[family][KINDS.index(kind) + 1])
    assert any(k.endswith("attn.bias") for k in ref.state_dict())
    ours = classes(family, kind)[0](OURS[family][0].config_class.from_dict(ref.config.to_dict()))
    ours.load_state_dict(ref.state_dict())
    batch_ids, kwargs = call_args(kind, family, ids(batch=2))
    with torch.no_grad():
        compare(ours.eval()(batch_ids, **kwargs), ref.eval()(batch_ids, **kwargs))
