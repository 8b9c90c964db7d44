"""Gradient (activation) checkpointing as transformers' `gradient_checkpointing_enable()`: in training, each layer's
activations are recomputed in backward; the loss and every gradient equal the reference's training step without it
(dropout on, the same seed: the recomputation replays the same random draws)."""
from __future__ import annotations

import pytest
import torch

import transformers_fast as tf
from modeling_helpers import quiet_transformers

CLASSES = [("bert", "BertForSequenceClassification"), ("roberta", "RobertaForMaskedLM"),
           ("distilbert", "DistilBertForSequenceClassification"), ("openai", "OpenAIGPTLMHeadModel"),
           ("gpt2", "GPT2LMHeadModel"), ("xlnet", "XLNetForSequenceClassification"),
           ("xlm", "XLMWithLMHeadModel"), ("transfo_xl", "TransfoXLLMHeadModel")]


# families whose training forward draws dropout masks in the reference's order (the others are compared with their
# reference's gradients with dropout off in their own test files)
LAYER_CLASSES = {"bert": "BertLayer", "roberta": "BertLayer", "distilbert": "TransformerBlock", "openai": "Block",
                 "gpt2": "Block", "xlnet": "XLNetLayer", "xlm": "TransformerFFN",
                 "transfo_xl": "RelPartialLearnableDecoderLayer"}
SAME_DROPOUT_DRAWS = {"bert", "roberta", "distilbert", "openai", "gpt2", "xlm", "transfo_xl"}


def _labels(name, args, real):
    ids = args[0]
    if name.endswith("SequenceClassification"):
        return torch.arange(ids.shape[0]) % 2
    return ids if real is None else ids.masked_fill(~real, -100)


def _step(model, args, kwargs, labels, seed):
    model.train()
    model.zero_grad()
    torch.manual_seed(seed)
    out = model(*args, **kwargs, labels=labels)
    loss = out[0].mean() if out[0].dim() else out[0]  # (Transformer-XL: per-token losses)
    loss.backward()
    return loss.detach(), {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("family,name", CLASSES)
@pytest.mark.parametrize("options", [None, {"use_reentrant": True}], ids=["default", "reentrant"])
def test_checkpointed_training_step_equals_the_reference(family, name, options, tmp_path, monkeypatch):
    from test_low_precision_heads import case

    quiet_transformers()
    ref, args, kwargs, real = case(family, name)
    ref.save_pretrained(str(tmp_path))
    ours = getattr(tf, name).from_pretrained(str(tmp_path))
    labels = _labels(name, args, real)
    want_loss, want = _step(ref, args, kwargs, labels, seed=3)
    plain_loss, plain = _step(ours, args, kwargs, labels, seed=3)
    ours.gradient_checkpointing_enable(options)
    assert ours.is_gradient_checkpointing
    recomputed = []
    layer_class = LAYER_CLASSES[family]
    layer_class = next(type(m) for m in ours.modules() if type(m).__name__ == layer_class)
    forward = layer_class.forward
    monkeypatch.setattr(layer_class, "forward", lambda *a, **k: recomputed.append(1) or forward(*a, **k))
    got_loss, got = _step(ours, args, kwargs, labels, seed=3)
    monkeypatch.undo()
    torch.testing.assert_close(got_loss, plain_loss, rtol=1e-6, atol=1e-6)
    assert got.keys() == plain.keys() and len(got) > 0
    for key, grad in got.items():
        torch.testing.assert_close(grad, plain[key], rtol=1e-5, atol=1e-6, msg=key)
    layers = len(recomputed) // 2
    assert layers > 0 and len(recomputed) == 2 * layers  # every layer ran twice: forward, then in backward
    ours.gradient_checkpointing_disable()
    assert not ours.is_gradient_checkpointing
    with torch.no_grad():  # inference takes the fast path as before (no hook left on the embeddings)
        ours.eval()
        assert not ours.base_model._forward_hooks and not ours.get_input_embeddings()._forward_hooks
    if family in SAME_DROPOUT_DRAWS:
        torch.testing.assert_close(plain_loss, want_loss, rtol=1e-5, atol=1e-5)
        for key in plain.keys() & want.keys():
            torch.testing.assert_close(plain[key], want[key], rtol=1e-4, atol=1e-5, msg=key)


def test_frozen_embeddings_still_train_the_layers_with_reentrant_checkpointing(tmp_path):
    """use_reentrant=True gives no gradients to layers whose input does not require grad: as transformers, the
    input embeddings' output is made to require it."""
    from test_low_precision_heads import case

    ref, args, kwargs, real = case("bert", "BertForSequenceClassification")
    ref.save_pretrained(str(tmp_path))
    ours = tf.BertForSequenceClassification.from_pretrained(str(tmp_path))
    for p in ours.bert.embeddings.parameters():
        p.requires_grad_(False)
    ours.gradient_checkpointing_enable({"use_reentrant": True})
    _, grads = _step(ours, args, kwargs, _labels("BertForSequenceClassification", args, real), seed=0)
    assert any(key.startswith("bert.encoder.layer.0.") for key in grads)


def test_other_helpers_of_transformers(tmp_path):
    import transformers

    from test_low_precision_heads import case

    ref, *_ = case("bert", "BertForSequenceClassification")
    ref.save_pretrained(str(tmp_path))
    ours = tf.BertForSequenceClassification.from_pretrained(str(tmp_path))
    theirs = transformers.BertForSequenceClassification.from_pretrained(str(tmp_path))
    assert ours.main_input_name == theirs.main_input_name == "input_ids"
    for flags in ({}, {"only_trainable": True}, {"exclude_embeddings": True}):
        assert ours.num_parameters(**flags) == theirs.num_parameters(**flags), flags
    assert ours.get_memory_footprint(return_buffers=False) == theirs.get_memory_footprint(return_buffers=False)
