"""A differential audit of BERT, RoBERTa, DistilBERT, OpenAI GPT and GPT-2 on non-default configs and call
options, against transformers and pytorch-transformers 1.2.0, on padded batches: the cases where we differed."""
from __future__ import annotations

import pytest
import torch

import transformers_fast
from modeling_helpers import compare, quiet_transformers, randomize_all


def _hf_saved(tmp_path, class_name, config_name, **config):
    import transformers

    quiet_transformers()
    torch.manual_seed(0)
    ref = getattr(transformers, class_name)(getattr(transformers, config_name)(**config, attn_implementation="eager"))
    ref.eval()
    randomize_all(ref, 0, 0.1)
    ref.save_pretrained(tmp_path)
    return ref, getattr(transformers_fast, class_name).from_pretrained(tmp_path)


@pytest.mark.parametrize("summary_type", ["first", "last", "mean"])
@pytest.mark.parametrize("family", ["GPT2", "OpenAIGPT"])
def test_double_heads_summary_other_than_cls_index_on_padded_choices(tmp_path, family, summary_type):
    """"first", "last" and "mean" index the choices axis (as both references do) and so read every position of
    a choice, padded ones included, whatever mc_token_ids says."""
    ref, ours = _hf_saved(tmp_path, family + "DoubleHeadsModel", family + "Config", vocab_size=50, n_positions=40,
                          n_embd=16, n_layer=2, n_head=2, summary_type=summary_type, num_labels=1)
    ids = torch.randint(0, 50, (2, 3, 6), generator=torch.Generator().manual_seed(1))
    mask = torch.ones(2, 3, 6, dtype=torch.long)
    mask[1, 0, 3:] = 0  # right padding in a choice other than the last
    mask[0, 2, :2] = 0  # left padding in the last choice
    mc_token_ids = torch.tensor([[5, 5, 5], [2, 5, 5]])
    for kw in ({}, {"mc_token_ids": mc_token_ids}):
        with torch.no_grad():
            expected = ref(input_ids=ids, attention_mask=mask.view(-1, 6), **kw).mc_logits
            got = ours(input_ids=ids, attention_mask=mask, **kw).mc_logits
        assert got.shape == expected.shape
        assert (got - expected).abs().max() <= 1e-4, kw


@pytest.mark.parametrize("class_name,config", [
    ("DistilBertModel", dict(dim=16, n_layers=2, n_heads=4, hidden_dim=20)),
    ("GPT2Model", dict(n_embd=16, n_layer=2, n_head=4, n_positions=20, n_ctx=20)),
    ("OpenAIGPTModel", dict(n_embd=16, n_layer=2, n_head=4, n_positions=20, n_ctx=20)),
    ("XLMModel", dict(emb_dim=16, n_layers=2, n_heads=4))])
def test_pruning_every_head_of_a_layer_is_a_clear_error(tmp_path, class_name, config):
    """1.2.0 prunes and saves a layer with no head left, then fails with ZeroDivisionError in forward."""
    import pytorch_transformers as pt

    quiet_transformers()
    config_cls = getattr(pt, class_name.replace("Model", "Config"))
    with torch.no_grad():
        ref = getattr(pt, class_name)(config_cls(50, **config)).eval()
    ref.prune_heads({0: [0, 1, 2, 3], 1: [2]})
    ref.save_pretrained(str(tmp_path))
    with pytest.raises(ValueError, match="every head of layer 0"):
        getattr(transformers_fast, class_name).from_pretrained(tmp_path)
    ours = getattr(transformers_fast, class_name)(getattr(transformers_fast, config_cls.__name__)(vocab_size=50, **config))
    ours.prune_heads({1: [2]})
    with pytest.raises(ValueError, match=r"heads \[0, 1, 2, 3\] of 4"):
        ours.prune_heads({0: [3], 1: [0, 1, 3]})
    assert ours.config.pruned_heads == {1: [2]}  # unchanged by the refused call
    ids = torch.randint(0, 50, (2, 5))
    with torch.no_grad():
        ours.eval()(ids)


@pytest.mark.parametrize("class_name,config", [
    ("BertModel", dict(hidden_size=16, num_hidden_layers=2, num_attention_heads=4, intermediate_size=20)),
    ("DistilBertModel", dict(dim=16, n_layers=2, n_heads=4, hidden_dim=20)),
    ("GPT2Model", dict(n_embd=16, n_layer=2, n_head=4, n_positions=20, n_ctx=20)),
    ("OpenAIGPTModel", dict(n_embd=16, n_layer=2, n_head=4, n_positions=20, n_ctx=20))])
def test_head_mask_per_head_on_a_pruned_model_is_a_clear_error(tmp_path, class_name, config):
    """A [heads] or [layers, heads] head_mask no longer fits a pruned layer: 1.2.0 fails inside torch (a shape
    mismatch); a mask broadcast over the heads still works and equals 1.2.0."""
    import pytorch_transformers as pt

    quiet_transformers()
    with torch.no_grad():
        ref = getattr(pt, class_name)(getattr(pt, class_name.replace("Model", "Config"))(50, **config)).eval()
    randomize_all(ref)
    ref.prune_heads({0: [1], 1: [0, 3]})
    ref.save_pretrained(str(tmp_path))
    ours = getattr(transformers_fast, class_name).from_pretrained(tmp_path)
    ids = torch.randint(3, 50, (2, 5), generator=torch.Generator().manual_seed(0))
    for head_mask in (torch.ones(4), torch.ones(2, 4)):
        with torch.no_grad(), pytest.raises(RuntimeError):
            ref(ids, head_mask=head_mask)
        with torch.no_grad(), pytest.raises(ValueError, match="layer 0 has 3 left after pruning"):
            ours(ids, head_mask=head_mask)
    per_layer = torch.tensor([1.0, 0.5]).view(2, 1, 1, 1, 1)
    with torch.no_grad():
        compare(ours(ids, head_mask=per_layer), ref(ids, head_mask=per_layer))


@pytest.mark.parametrize("class_name", ["BertForSequenceClassification", "RobertaForSequenceClassification",
                                        "DistilBertForSequenceClassification"])
def test_float_labels_of_single_label_classification_are_a_clear_error(class_name):
    """Float labels that are not multi-label ([batch, num_labels]): both references fail inside torch."""
    family = class_name[:-len("ForSequenceClassification")]
    config = getattr(transformers_fast, family + "Config")(vocab_size=50, num_labels=3, **(
        dict(dim=16, n_layers=1, n_heads=2, hidden_dim=20) if family == "DistilBert" else
        dict(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=20)))
    model = getattr(transformers_fast, class_name)(config).eval()
    ids = torch.randint(3, 50, (2, 5))
    with pytest.raises(ValueError, match="class indices"):
        model(ids, labels=torch.tensor([0.0, 2.0]))
    model.config.problem_type = "single_label_classification"
    with pytest.raises(ValueError, match="class indices"):
        model(ids, labels=torch.rand(2, 3))
    model.config.problem_type = None
    assert model(ids, labels=torch.rand(2, 3).round())[0].dim() == 0  # multi-label when not told otherwise


SUMMARY_CASES = {
    "GPT2DoubleHeadsModel": ("GPT2Config", dict(vocab_size=50, n_embd=32, n_layer=1, n_head=4, n_positions=16)),
    "OpenAIGPTDoubleHeadsModel": ("OpenAIGPTConfig", dict(vocab_size=50, n_embd=32, n_layer=1, n_head=4,
                                                          n_positions=16)),
    "XLNetForSequenceClassification": ("XLNetConfig", dict(vocab_size=50, d_model=32, n_layer=1, n_head=4, d_inner=37)),
    "XLMForSequenceClassification": ("XLMConfig", dict(vocab_size=50, emb_dim=32, n_layers=1, n_heads=4)),
}


@pytest.mark.parametrize("activation", ["tanh", "gelu", "sigmoid", "relu"])
@pytest.mark.parametrize("class_name", sorted(SUMMARY_CASES))
def test_summary_activation_of_a_transformers_config(tmp_path, class_name, activation):
    """transformers' sequence summary applies whatever activation its config names (1.2.0's only tanh)."""
    config_name, config = SUMMARY_CASES[class_name]
    if class_name.startswith("XLNet"):  # (its attention has no eager switch)
        import transformers

        quiet_transformers()
        ref = getattr(transformers, class_name)(transformers.XLNetConfig(**config, summary_activation=activation))
        randomize_all(ref.eval(), 0, 0.2)
        ref.save_pretrained(tmp_path)
        ours = transformers_fast.XLNetForSequenceClassification.from_pretrained(tmp_path)
    else:
        ref, ours = _hf_saved(tmp_path, class_name, config_name, summary_activation=activation, **config)
    ids = torch.randint(3, 50, (2, 3, 8) if "Double" in class_name else (2, 8), generator=torch.Generator().manual_seed(1))
    key = "mc_logits" if "Double" in class_name else "logits"
    with torch.no_grad():
        assert torch.allclose(getattr(ours(ids), key), getattr(ref(ids), key), atol=1e-5)


@pytest.mark.parametrize("class_name", ["GPT2DoubleHeadsModel", "XLNetForSequenceClassification"])
def test_summary_activation_of_a_1_2_0_config_is_tanh_or_none(tmp_path, class_name):
    import pytorch_transformers as pt

    config_name, config = SUMMARY_CASES[class_name]
    config = dict(config, vocab_size_or_config_json_file=config.pop("vocab_size"))
    torch.manual_seed(0)
    ref = getattr(pt, class_name)(getattr(pt, config_name)(summary_activation="gelu", **config)).eval()
    randomize_all(ref, 0, 0.2)
    ref.save_pretrained(str(tmp_path))
    ours = getattr(transformers_fast, class_name).from_pretrained(tmp_path).eval()
    ids = torch.randint(3, 50, (2, 3, 8) if "Double" in class_name else (2, 8), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = ref(ids)[1 if "Double" in class_name else 0]
        got = ours(ids)[1 if "Double" in class_name else 0]
    assert torch.allclose(got, expected, atol=1e-5)
