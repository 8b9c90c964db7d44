"""Differences from the references found by a differential audit (unusual configs and call options), each
checked against the reference it was found with."""
from __future__ import annotations

import pickle

import pytest
import torch

import transformers_fast as tf
from modeling_helpers import HEAD_CLASSES, compare, hf_model, inputs, pt_model, randomize_all


@pytest.mark.parametrize("class_name", ["BertForSequenceClassification", "BertForMaskedLM"])
def test_bert_row_without_real_tokens_equals_1_2_0(tmp_path, class_name):
    # 1.2.0's -10000 mask bias shifts every score of such a row alike: it attends over all its positions
    ref = pt_model("bert", class_name)
    ref.save_pretrained(str(tmp_path))
    ours = getattr(tf, class_name).from_pretrained(tmp_path)
    ids, mask, tt = inputs("bert", batch=3)
    mask[2] = 0
    with torch.no_grad():
        expected = ref(ids, tt, mask)
        got = ours(ids, tt, mask)
    real = mask.clone()
    real[2] = 1
    compare(tuple(got), tuple(expected), real)


def test_distilbert_row_without_real_tokens_equals_transformers(tmp_path):
    # (1.2.0 gives NaN there: its -inf fill; transformers and our reference path attend over all positions)
    ref = hf_model("distilbert", "DistilBertForSequenceClassification")
    ref.save_pretrained(tmp_path)
    ours = tf.DistilBertForSequenceClassification.from_pretrained(tmp_path)
    ids, mask, _ = inputs("distilbert", batch=3)
    mask[0] = 0
    with torch.no_grad():
        expected = ref(input_ids=ids, attention_mask=mask).logits
        got = ours(ids, attention_mask=mask)[0]
    compare(got, expected)


@pytest.mark.parametrize("family,class_name", [("bert", "BertForSequenceClassification"),
                                               ("distilbert", "DistilBertForSequenceClassification")])
@pytest.mark.parametrize("problem_type,float_labels", [(None, True), ("multi_label_classification", True),
                                                       ("regression", True), ("single_label_classification", False)])
def test_problem_type_and_multi_label_losses_equal_transformers(tmp_path, family, class_name, problem_type,
                                                                float_labels):
    ref = hf_model(family, class_name, num_labels=3, problem_type=problem_type)
    ref.save_pretrained(tmp_path)
    ours = getattr(tf, class_name).from_pretrained(tmp_path)
    ids, mask, _ = inputs(family, batch=3)
    g = torch.Generator().manual_seed(4)
    labels = (torch.rand(3, 3, generator=g) > 0.5).float() if float_labels else torch.tensor([2, 0, 1])
    with torch.no_grad():
        expected = ref(input_ids=ids, attention_mask=mask, labels=labels).loss
        got = ours(ids, attention_mask=mask, labels=labels)[0]
    compare(got, expected)


@pytest.mark.parametrize("option", [dict(n_inner=45), dict(activation_function="gelu"), dict(activation_function="relu"),
                                    dict(scale_attn_weights=False), dict(scale_attn_by_inverse_layer_idx=True),
                                    dict(reorder_and_upcast_attn=True, scale_attn_by_inverse_layer_idx=True)])
def test_gpt2_options_of_transformers_configs(tmp_path, option):
    # (1.2.0 has none of these options: transformers is the reference; the decoder fast path runs them too)
    from gpt_helpers import hf_gpt, ids as gpt_ids

    ref = hf_gpt("gpt2", "GPT2LMHeadModel", **option)
    randomize_all(ref, scale=0.3)  # attention far from uniform, so that its scale matters
    ref.save_pretrained(tmp_path)
    ours = tf.GPT2LMHeadModel.from_pretrained(tmp_path)
    x = gpt_ids()
    with torch.no_grad():
        compare(ours(x)[0], ref(x).logits)
        expected = ref.generate(x[:1], max_new_tokens=6, do_sample=False, pad_token_id=0)
        got = ours.generate(x[:1], max_length=x.shape[1] + 6, do_sample=False)
    assert torch.equal(got, expected)
    with torch.enable_grad():
        compare(ours(x)[0], ref(x).logits)


@pytest.mark.parametrize("family,class_name,field", [("bert", "BertModel", "hidden_act"),
                                                     ("roberta", "RobertaModel", "hidden_act")])
@pytest.mark.parametrize("act", ["tanh", "quick_gelu", "sigmoid", "gelu_10", "gelu_python_tanh", "laplace", "leaky_relu",
                                 "hardswish", "sqrtsoftplus"])
def test_transformers_activation_names_in_encoders(tmp_path, family, class_name, field, act):
    ref = hf_model(family, class_name, **{field: act})
    ref.save_pretrained(tmp_path)
    ours = getattr(tf, class_name).from_pretrained(tmp_path)
    ids, mask, tt = inputs(family)
    kw = {"token_type_ids": tt} if tt is not None else {}
    with torch.no_grad():
        compare(ours(ids, attention_mask=mask, **kw)[0], ref(input_ids=ids, attention_mask=mask, **kw)[0], mask)


def test_every_transformers_activation_name_has_its_function():
    from transformers import activations

    from transformers_fast.configuration_utils import TRANSFORMERS_ACTIVATION_NAMES
    from transformers_fast.modeling_utils import TRANSFORMERS_ACTIVATIONS

    assert set(TRANSFORMERS_ACTIVATIONS) == set(TRANSFORMERS_ACTIVATION_NAMES)
    x = torch.linspace(-12, 12, 601)
    for name, function in TRANSFORMERS_ACTIVATIONS.items():
        assert torch.allclose(function(x), activations.ACT2FN[name](x), atol=1e-5), name


@pytest.mark.parametrize("act", ["gelu_10", "leaky_relu", "hardswish", "laplace", "quick_gelu"])
def test_transformers_activation_names_in_gpt2(tmp_path, act):
    from gpt_helpers import hf_gpt

    ref = hf_gpt("gpt2", "GPT2LMHeadModel", activation_function=act)
    ref.save_pretrained(tmp_path)
    ours = tf.GPT2LMHeadModel.from_pretrained(tmp_path)
    x = torch.randint(0, 99, (2, 7), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        compare(ours(x)[0], ref(x).logits)


@pytest.mark.parametrize("act", ["tanh", "quick_gelu", "gelu_10", "sqrtsoftplus"])
def test_transformers_activation_names_in_xlnet(tmp_path, act):
    import transformers

    config = transformers.XLNetConfig(vocab_size=99, d_model=32, n_layer=2, n_head=4, d_inner=37, ff_activation=act)
    torch.manual_seed(0)
    ref = transformers.XLNetModel(config).eval()
    ref.save_pretrained(tmp_path)
    ours = tf.XLNetModel.from_pretrained(tmp_path)
    x = torch.randint(0, 99, (2, 7), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        compare(ours(x)[0], ref(x).last_hidden_state)


@pytest.mark.parametrize("grad", [False, True], ids=["no_grad", "grad"])
def test_xlm_row_without_real_tokens_is_finite_on_both_paths(tmp_path, grad):
    # transformers' value (1.2.0 gives NaN there); the padding-free path and the reference path agree
    import transformers

    config = transformers.XLMConfig(vocab_size=99, emb_dim=32, n_layers=2, n_heads=4, max_position_embeddings=24,
                                    num_labels=2)
    torch.manual_seed(0)
    ref = transformers.XLMForSequenceClassification(config).eval()
    randomize_all(ref)
    ref.save_pretrained(tmp_path)
    ours = tf.XLMForSequenceClassification.from_pretrained(tmp_path)
    ids = torch.randint(4, 99, (3, 9), generator=torch.Generator().manual_seed(1))
    mask = torch.ones(3, 9, dtype=torch.long)
    mask[1, 6:] = 0
    mask[2] = 0
    with torch.set_grad_enabled(grad):
        expected = ref(input_ids=ids, attention_mask=mask).logits
        got = ours(ids, attention_mask=mask)[0]
    compare(got, expected)


@pytest.mark.parametrize("class_name", ["GPT2DoubleHeadsModel", "OpenAIGPTDoubleHeadsModel"])
@pytest.mark.parametrize("given", [False, True], ids=["last_token", "mc_token_ids"])
def test_double_heads_reading_a_padded_position_equals_the_reference_path(tmp_path, class_name, given):
    # the fused decoder leaves padded positions zero; the multiple-choice head may read one (right padding, no
    # mc_token_ids: the last position), which the reference computes
    from gpt_helpers import hf_gpt

    family = "gpt2" if class_name.startswith("GPT2") else "openai"
    ref = hf_gpt(family, class_name)
    randomize_all(ref, scale=0.2)
    ref.save_pretrained(tmp_path)
    ours = getattr(tf, class_name).from_pretrained(tmp_path)
    x = torch.randint(0, 99, (2, 3, 9), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(x)
    mask[0, 1, 6:] = 0
    mask[1, 2, 4:] = 0
    mc = torch.tensor([[8, 7, 8], [8, 8, 6]]) if given else None
    with torch.no_grad():
        got = ours(x, mc_token_ids=mc, attention_mask=mask)
        ours.transformer.fast.enabled = False
        plain = ours(x, mc_token_ids=mc, attention_mask=mask)
    compare(got.mc_logits, plain.mc_logits)
    assert got.hidden_states is None
    if family == "gpt2":  # (transformers' OpenAI GPT takes no [batch, choices, sequence] mask)
        with torch.no_grad():
            compare(got.mc_logits, ref(x, mc_token_ids=mc, attention_mask=mask).mc_logits)


@pytest.mark.parametrize("class_name", ["DistilBertModel", "DistilBertForMaskedLM"])
@pytest.mark.parametrize("act", ["gelu_new", "silu", "tanh", "leaky_relu", "laplace"])
def test_distilbert_activations_of_transformers_configs(tmp_path, class_name, act):
    # (1.2.0 took "gelu" and "relu" only)
    ref = hf_model("distilbert", class_name, activation=act)
    ref.save_pretrained(tmp_path)
    ours = getattr(tf, class_name).from_pretrained(tmp_path)
    ids, mask, _ = inputs("distilbert")
    for grad in (False, True):
        with torch.set_grad_enabled(grad):
            compare(ours(ids, attention_mask=mask)[0], ref(input_ids=ids, attention_mask=mask)[0], mask)


@pytest.mark.parametrize("family,class_name", [("bert", "BertForSequenceClassification"),
                                               ("bert", "BertForTokenClassification"),
                                               ("roberta", "RobertaForSequenceClassification")])
def test_classifier_dropout_of_transformers_configs_in_training(tmp_path, family, class_name):
    # the layers' dropout is off, the classifier's on: the same seed draws the same mask in both
    ref = hf_model(family, class_name, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                   classifier_dropout=0.5)
    ref.save_pretrained(tmp_path)
    ours = getattr(tf, class_name).from_pretrained(tmp_path)
    ours.train()
    ref.train()
    ids, mask, tt = inputs(family)
    kw = {"token_type_ids": tt} if tt is not None else {}
    torch.manual_seed(11)
    expected = ref(input_ids=ids, attention_mask=mask, **kw).logits
    torch.manual_seed(11)
    got = ours(ids, attention_mask=mask, **kw)[0]
    compare(got, expected)


@pytest.mark.parametrize("class_name,config_name,kwargs", [
    ("BertForMaskedLM", "BertConfig", dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                                           intermediate_size=37)),
    ("RobertaForMaskedLM", "RobertaConfig", dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                                                 intermediate_size=37, pad_token_id=1)),
    ("XLMWithLMHeadModel", "XLMConfig", dict(emb_dim=32, n_layers=1, n_heads=4))])
@pytest.mark.parametrize("safe", [True, False], ids=["safetensors", "bin"])
def test_untied_lm_heads_of_transformers_checkpoints(tmp_path, class_name, config_name, kwargs, safe):
    # tie_word_embeddings=False: the projection is the head's own, and the MLM heads' forward reads the
    # decoder's bias (the head's `bias` beside it is another tensor then)
    import transformers

    config = getattr(transformers, config_name)(vocab_size=99, tie_word_embeddings=False, **kwargs)
    torch.manual_seed(0)
    ref = getattr(transformers, class_name)(config).eval()
    randomize_all(ref, scale=0.3)
    ref.save_pretrained(tmp_path, safe_serialization=safe)
    ours = getattr(tf, class_name).from_pretrained(tmp_path)
    x = torch.randint(3, 99, (2, 7), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = ref(x).logits
        got = ours(x)[0]
    compare(got.reshape(expected.shape), expected)


def test_openai_gpt_soft_float_mask_equals_transformers(tmp_path):
    from gpt_helpers import hf_gpt

    ref = hf_gpt("openai", "OpenAIGPTLMHeadModel")
    randomize_all(ref, scale=0.2)
    ref.save_pretrained(tmp_path)
    ours = tf.OpenAIGPTLMHeadModel.from_pretrained(tmp_path)
    x = torch.randint(3, 99, (2, 7), generator=torch.Generator().manual_seed(1))
    mask = torch.tensor([[1., 1., .5, 1., 1., 1., 1.], [0., 0., 1., 1., .3, 1., 1.]])
    for grad in (False, True):
        with torch.set_grad_enabled(grad):
            compare(ours(x, attention_mask=mask)[0], ref(x, attention_mask=mask).logits, mask == 1)


@pytest.mark.parametrize("saved_by", ["pytorch_transformers", "transformers"])
def test_token_classification_loss_over_padded_labels_equals_the_reference(tmp_path, saved_by):
    # labels at padded positions (not -100): 1.2.0 leaves out the positions whose mask is 0, transformers counts
    # them; each folder keeps the meaning of the library that wrote it
    ref = (pt_model if saved_by == "pytorch_transformers" else hf_model)("bert", "BertForTokenClassification")
    ref.save_pretrained(str(tmp_path))
    ours = tf.BertForTokenClassification.from_pretrained(tmp_path)
    ids, mask, tt = inputs("bert", batch=3)
    labels = torch.randint(0, 3, ids.shape, generator=torch.Generator().manual_seed(5))
    expected = ref(ids, attention_mask=mask, token_type_ids=tt, labels=labels)[0]
    got = ours(ids, attention_mask=mask, token_type_ids=tt, labels=labels)[0]
    assert abs(got.item() - expected.item()) < 1e-5
    saved = tmp_path / "again"  # and after a save by us
    ours.save_pretrained(saved)
    again = tf.BertForTokenClassification.from_pretrained(saved)
    assert abs(again(ids, attention_mask=mask, token_type_ids=tt, labels=labels)[0].item() - expected.item()) < 1e-5


def test_distilbert_mlm_head_activation_of_a_transformers_folder(tmp_path):
    # transformers applies config.activation ("relu") in the MLM head, 1.2.0 GELU whatever it says
    # (tests/test_modeling_bert_family.py: the 1.2.0 side)
    ref = hf_model("distilbert", "DistilBertForMaskedLM", activation="relu")
    ref.save_pretrained(tmp_path)
    ids, mask, _ = inputs("distilbert")
    with torch.no_grad():
        expected = ref(input_ids=ids, attention_mask=mask).logits
    ours = tf.DistilBertForMaskedLM.from_pretrained(tmp_path)
    ours.save_pretrained(tmp_path / "again")
    config = tf.DistilBertConfig(str(tmp_path / "config.json"))  # 1.2.0's constructor reads the file alike
    for model in (ours, tf.DistilBertForMaskedLM.from_pretrained(tmp_path / "again"),
                  tf.DistilBertForMaskedLM.from_pretrained(tmp_path, config=config)):
        with torch.no_grad():
            compare(model(ids, attention_mask=mask)[0], expected, mask)


@pytest.mark.parametrize("saved_by", ["pytorch_transformers", "transformers"])
def test_roberta_embedding_gradients_equal_the_reference(tmp_path, saved_by):
    # the rows without gradient (padding_idx): 1.2.0 the word table's 0 (<s>, in every sequence), transformers
    # pad_token_id (1) in the word and the position tables
    ref = (pt_model if saved_by == "pytorch_transformers" else hf_model)("roberta", "RobertaModel")
    ref.save_pretrained(str(tmp_path))
    ours = tf.RobertaModel.from_pretrained(tmp_path)
    ids = torch.tensor([[0, 5, 7, 9, 2, 1, 1], [0, 4, 3, 6, 8, 11, 2]])
    if saved_by == "transformers":  # the pad id as a token: position 1 (1.2.0 counts positions otherwise)
        ids[1, 2] = 1
    mask = torch.tensor([[1, 1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1, 1]])
    for resized in (False, True):  # and after resize_token_embeddings (1.2.0's new table has no padding_idx)
        if resized:
            for model in (ref, ours):
                model.resize_token_embeddings(105)
            with torch.no_grad():
                ours.embeddings.word_embeddings.weight.copy_(ref.embeddings.word_embeddings.weight)
        grads = []
        for model in (ref, ours):
            model.zero_grad()
            (model(ids, attention_mask=mask)[0] * mask[..., None]).pow(2).sum().backward()
            grads.append({name: p.grad for name, p in model.named_parameters() if "embeddings" in name})
        assert grads[0].keys() == grads[1].keys()
        for name, expected in grads[0].items():
            compare(grads[1][name], expected, path=f"{name} (resized: {resized})")


# Where ours keeps 1.2.0's layout under a transformers name: the KV cache (1.2.0's presents, which transformers'
# models and generate take back), the double-heads models' per-layer hidden states and attentions ([batch, choices,
# ...] as 1.2.0; transformers flattens all but its last hidden state).
LAYOUT_OF_1_2_0 = {"cache", "past_key_values", ("GPT2DoubleHeadsModel", "hidden_states"),
                   ("GPT2DoubleHeadsModel", "attentions"), ("OpenAIGPTDoubleHeadsModel", "hidden_states")}


def _shapes(value):
    if isinstance(value, torch.Tensor):
        return tuple(value.shape)
    if isinstance(value, (tuple, list)):
        return [_shapes(v) for v in value]
    return type(value).__name__


@pytest.mark.parametrize("family,class_name", [(f, n) for f, names in HEAD_CLASSES.items() if f != "transfo_xl"
                                               for n in names])
def test_every_field_of_transformers_output_reads_by_name(family, class_name, tmp_path):
    """A transformers user reads outputs by name: every field transformers' output has reads on ours (None where
    we never compute it, as cross_attentions), in transformers' shapes (the XLM LM head's logits included)."""
    from test_low_precision_heads import case

    ref, args, kwargs, _ = case(family, class_name)
    ref.save_pretrained(str(tmp_path))
    ours = getattr(tf, class_name).from_pretrained(str(tmp_path))
    flags = dict(output_hidden_states=True, output_attentions=True)
    with torch.no_grad():
        expected, got = ref(*args, **kwargs, **flags), ours(*args, **kwargs, **flags)
    for key in expected.keys():
        value = getattr(got, key)  # (AttributeError where a field is missing)
        if key in LAYOUT_OF_1_2_0 or (class_name, key) in LAYOUT_OF_1_2_0:
            continue
        if isinstance(expected[key], tuple) and not expected[key] and value is None:  # (an empty cross_attentions)
            continue
        assert _shapes(value) == _shapes(expected[key]), key


@pytest.mark.parametrize("family,class_name", [("bert", "BertModel"), ("bert", "BertForMaskedLM"),
                                               ("roberta", "RobertaModel"), ("roberta", "RobertaForMaskedLM"),
                                               ("gpt2", "GPT2Model"), ("gpt2", "GPT2LMHeadModel")])
def test_transformers_decoder_inputs(family, class_name, tmp_path):
    """transformers' cross-attention and cache inputs: its encoders ignore them (so do ours), its GPT-2 without
    cross-attention layers raises ValueError (so does ours)."""
    from test_low_precision_heads import case

    ref, args, kwargs, real = case(family, class_name)
    ref.save_pretrained(str(tmp_path))
    ours = getattr(tf, class_name).from_pretrained(str(tmp_path))
    batch, hidden = args[0].shape[0], ref.config.hidden_size
    cross = dict(encoder_hidden_states=torch.randn(batch, 3, hidden), encoder_attention_mask=torch.ones(batch, 3))
    extra = dict(cross, use_cache=True) if class_name.endswith("Model") else cross
    if family == "gpt2":
        for model in (ref, ours):
            with pytest.raises(ValueError, match="cross.?attention"):
                model(*args, **kwargs, **cross)
        return
    with torch.no_grad():
        expected, got = ref(*args, **kwargs, **extra), ours(*args, **kwargs, **extra)
    compare(got[0], expected[0], real)


def test_xlm_logits_to_keep_equals_transformers(tmp_path):
    from test_low_precision_heads import case

    ref, args, kwargs, real = case("xlm", "XLMWithLMHeadModel")
    ref.save_pretrained(str(tmp_path))
    ours = tf.XLMWithLMHeadModel.from_pretrained(str(tmp_path))
    for keep in (1, 3, torch.tensor([0, 4])):
        with torch.no_grad():
            expected, got = ref(*args, **kwargs, logits_to_keep=keep), ours(*args, **kwargs, logits_to_keep=keep)
        compare(got.logits, expected.logits)
        assert got[0].shape == (expected.logits.shape[0] * expected.logits.shape[1], expected.logits.shape[2])


@pytest.mark.parametrize("family,class_name", [(f, n) for f, names in HEAD_CLASSES.items() if f != "transfo_xl"
                                               for n in names])
def test_output_rebuilt_from_its_values_keeps_its_names(family, class_name, tmp_path):
    """Code that maps over an output and rebuilds it as `type(out)(values)` (accelerate's mixed precision,
    DataParallel's gather) gets the same named output, for every layout an output has."""
    from test_low_precision_heads import case

    ref, args, kwargs, _ = case(family, class_name)
    ref.save_pretrained(str(tmp_path))
    ours = getattr(tf, class_name).from_pretrained(str(tmp_path))
    for flags in ({}, dict(output_hidden_states=True, output_attentions=True)):
        with torch.no_grad():
            out = ours(*args, **kwargs, **flags)
        rebuilt = type(out)(value for value in out)
        assert type(rebuilt) is type(out) and rebuilt.keys() == out.keys() and len(rebuilt) == len(out)
        for key in out.keys():
            if not (class_name == "XLMWithLMHeadModel" and key == "logits"):  # (its 3-d view needs the original)
                assert getattr(rebuilt, key) is getattr(out, key) and rebuilt[key] is out[key], key
        assert pickle.loads(pickle.dumps(rebuilt)).keys() == out.keys()
    with pytest.raises(TypeError, match="holds"):
        type(out)(list(out)[:-1])


def test_transfo_xl_output_rebuilt_keeps_its_empty_slots():
    """Transformer-XL's outputs keep slots that hold None (1.2.0's lists): a rebuild keeps them in place."""
    from transformers_fast.models.transfo_xl.modeling_transfo_xl import TransfoXLLMHeadModelOutput

    losses, mems = torch.ones(2, 3), [torch.zeros(4, 2, 8)]
    out = TransfoXLLMHeadModelOutput(losses=losses, mems=mems)
    assert tuple(out) == (losses, None, mems) and out.keys() == ("losses", "prediction_scores", "mems")
    rebuilt = type(out)(iter(out))
    assert rebuilt.keys() == out.keys() and rebuilt.losses is losses and rebuilt.prediction_scores is None


def test_output_types_take_keywords():
    from transformers_fast.modeling_outputs import SequenceClassifierOutput

    with pytest.raises(TypeError, match="keyword"):
        SequenceClassifierOutput([torch.ones(1)])
    with pytest.raises(TypeError, match="no field"):
        SequenceClassifierOutput(scores=torch.ones(1))
    out = SequenceClassifierOutput(logits=torch.ones(1))
    assert isinstance(out, SequenceClassifierOutput) and type(out).__name__ == "SequenceClassifierOutput"


@pytest.mark.parametrize("family", ["bert", "roberta"])
def test_bert_mask_values_and_broadcast_inputs_as_1_2_0(tmp_path, family):
    """1.2.0 adds (1 - m) * -10000 for any mask value (2, -1: not only 0/1, in integer dtypes too) and broadcasts an
    attention mask [1, seq] and token types [seq] over the batch: the same outputs here, fused path or not."""
    ref = pt_model(family, "BertModel" if family == "bert" else "RobertaModel")
    randomize_all(ref, scale=0.2)
    ref.save_pretrained(str(tmp_path))
    ours = getattr(tf, type(ref).__name__).from_pretrained(str(tmp_path))
    ids, mask, _ = inputs(family, batch=3)
    odd = mask.clone()
    odd[0, 1], odd[1, 0] = 2, -1
    full = inputs(family, batch=3, padded=False)[0]  # (RoBERTa numbers positions after pad ids as 1.2.0 does not)
    cases = [(ids, dict(attention_mask=odd)), (ids, dict(attention_mask=odd.int())),
             (full, dict(attention_mask=mask[:1] * 0 + 1)),
             (full, dict(attention_mask=torch.tensor([[1] * (ids.shape[1] - 2) + [0, 0]])))]
    if family == "bert":
        cases.append((ids, dict(token_type_ids=(torch.arange(ids.shape[1]) % 2), attention_mask=mask)))
    for ids, kwargs in cases:
        expected = ref(ids, **kwargs)
        for grad in (False, True):
            with torch.set_grad_enabled(grad):
                got = ours(ids, **kwargs)
            compare(got[1], expected[1], path=f"pooled {kwargs}")
            real = kwargs["attention_mask"].expand(ids.shape) != 0
            compare(got[0], expected[0], real, path=f"hidden {kwargs}")
