"""Differential audit of XLNet, XLM and Transformer-XL on non-default configs and call options: each test is a
difference a randomized sweep against pytorch-transformers 1.2.0 and transformers 5 found, compared with the
reference (or, where the reference crashes inside torch, the clear ValueError we raise instead)."""
from __future__ import annotations

import pytest
import torch

import transformers_fast as tf
from test_modeling_transfo_xl import CONFIGS, pt_transfo_xl, segments
from test_modeling_xlm import reference as xlm_reference
from test_modeling_xlnet import reference as xlnet_reference

ATOL = 1e-4


def _saved(ref, tmp_path, **save):
    ref.save_pretrained(str(tmp_path), **save)
    return str(tmp_path)


def _close(a, b, what="output"):
    assert a.shape == b.shape, (what, a.shape, b.shape)
    diff = (a.float() - b.float()).abs().max().item() if a.numel() else 0.0
    assert diff <= ATOL, f"{what}: max diff {diff:.3g}"


@pytest.mark.parametrize("kind", ["pt", "hf"])
def test_xlnet_odd_d_model_is_a_clear_value_error(kind, tmp_path):
    # the sinusoidal relative positions have d_model // 2 frequencies of sin and cos: an odd d_model gives
    # d_model + 1 features, and both references crash inside torch on every forward
    ref = xlnet_reference(kind, "XLNetModel", d_model=15, n_head=3)
    ids = torch.randint(5, 99, (2, 6))
    with pytest.raises(RuntimeError):
        ref(ids)
    ref.save_pretrained(str(tmp_path))
    with pytest.raises(ValueError, match="d_model .* even"):
        tf.XLNetModel.from_pretrained(str(tmp_path))
    with pytest.raises(ValueError, match="d_model .* even"):
        tf.XLNetModel(tf.XLNetConfig(99, d_model=15, n_head=3, n_layer=1, d_inner=8))


def test_xlnet_summary_projected_to_labels_is_a_clear_value_error(tmp_path):
    # transformers builds this head, then crashes inside torch on every forward (the summary has num_labels
    # features, logits_proj reads d_model)
    ref = xlnet_reference("hf", "XLNetForSequenceClassification", num_labels=2, summary_use_proj=True,
                          summary_proj_to_labels=True)
    with pytest.raises(RuntimeError):
        ref(torch.randint(5, 99, (2, 6)))
    ref.save_pretrained(str(tmp_path))
    with pytest.raises(ValueError, match="summary_proj_to_labels"):
        tf.XLNetForSequenceClassification.from_pretrained(str(tmp_path))


@pytest.mark.parametrize("kind", ["pt", "hf"])
@pytest.mark.parametrize("summary", [dict(summary_use_proj=False), dict(summary_proj_to_labels=False)])
@pytest.mark.parametrize("num_labels", [1, 3])
def test_xlm_unprojected_summary_with_labels_is_a_clear_value_error(kind, summary, num_labels, tmp_path):
    ref = xlm_reference(kind, "XLMForSequenceClassification", num_labels=num_labels, **summary)
    ours = tf.XLMForSequenceClassification.from_pretrained(_saved(ref, tmp_path)).eval()
    ids = torch.randint(5, 99, (4, 6))
    labels = torch.tensor([0.5, -1.0, 2.0, 0.1]) if num_labels == 1 else torch.tensor([0, 2, 1, 1])
    with torch.no_grad():
        _close(ours(ids)[0], ref(ids)[0])  # without labels both give the hidden-size summary
        with pytest.raises((RuntimeError, ValueError)):
            ref(ids, labels=labels)
        with pytest.raises(ValueError, match="num_labels"):
            ours(ids, labels=labels)


@pytest.mark.parametrize("family", ["xlnet", "xlm"])
def test_question_answering_p_mask_of_a_wrong_shape_is_a_clear_value_error(family, tmp_path):
    reference = xlnet_reference if family == "xlnet" else xlm_reference
    class_name = "XLNetForQuestionAnswering" if family == "xlnet" else "XLMForQuestionAnswering"
    ref = reference("hf", class_name)
    ours = getattr(tf, class_name).from_pretrained(_saved(ref, tmp_path)).eval()
    ids = torch.randint(5, 99, (4, 9))
    with torch.no_grad():
        for p_mask in (torch.zeros(9), torch.zeros(1, 9), (torch.arange(9) > 6).float().expand(4, 9)):
            for name, value in ref(ids, p_mask=p_mask).items():  # broadcastable masks still match
                if name != "mems":  # XLNet's hidden states, compared elsewhere
                    _close(getattr(ours(ids, p_mask=p_mask), name), value, name)
        with pytest.raises(RuntimeError):
            ref(ids, p_mask=torch.zeros(4, 5))
        with pytest.raises(ValueError, match="p_mask has shape"):
            ours(ids, p_mask=torch.zeros(4, 5))


@pytest.mark.parametrize("name", ["div_val2", "div_val1_proj", "no_memory_no_clusters"])
def test_transfo_xl_labels_minus_100_score_zero(name, tmp_path):
    # 1.2.0's adaptive softmax scores a label in no cluster as 0 (-100: an ignored position, as in transformers;
    # its per-token losses come cluster by cluster, those zeros last); without clusters 1.2.0 crashes inside
    # torch's gather, and we give 0 at those positions
    ref = pt_transfo_xl(name)
    ours = tf.TransfoXLLMHeadModel.from_pretrained(_saved(ref, tmp_path))
    ids, labels = segments(3, n=2)
    labels[:, :3] = -100
    labels[1, 5] = -100
    ignored = labels == -100
    with torch.no_grad():
        got = ours(ids, labels=labels)[0]
        if CONFIGS[name]["cutoffs"]:
            _close(got, ref(ids, labels=labels)[0], "per-token losses")
        else:
            with pytest.raises(RuntimeError):
                ref(ids, labels=labels)
            assert torch.equal(got[ignored], torch.zeros(int(ignored.sum())))
            _close(got[~ignored], ref(ids, labels=labels.clamp(min=0))[0][~ignored], "the other positions")
        # -1, 1.2.0's ignored label elsewhere, scores 0 too (as 1.2.0's clusters do); other negatives are errors
        assert torch.equal(ours(ids, labels=labels.masked_fill(ignored, -1))[0], got)
        with pytest.raises(ValueError, match="labels holds -2"):
            ours(ids, labels=labels.masked_fill(ignored, -2))
