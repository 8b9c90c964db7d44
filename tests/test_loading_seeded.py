"""Seeded runs: after `torch.manual_seed(s); Model.from_pretrained(folder)` the weights the checkpoint lacks (new
heads) and torch's random generator are those of pytorch-transformers 1.2.0, which initialises every weight
before loading; dropout in a train-mode forward afterwards draws the same masks."""
from __future__ import annotations

import pytest
import torch

import transformers_fast as tf
from gpt_helpers import ids, pt_gpt
from modeling_helpers import compare, pt_model
from test_modeling_bert_family import call, model_inputs, real_mask

BASES = {"bert": "BertModel", "roberta": "RobertaModel", "distilbert": "DistilBertModel",
         "openai": "OpenAIGPTModel", "gpt2": "GPT2Model"}
CASES = [("bert", "BertForSequenceClassification"), ("bert", "BertForQuestionAnswering"),
         ("bert", "BertForPreTraining"), ("bert", "BertForMultipleChoice"), ("bert", "BertForTokenClassification"),
         ("bert", "BertForNextSentencePrediction"), ("bert", "BertForMaskedLM"),
         ("roberta", "RobertaForSequenceClassification"), ("roberta", "RobertaForMaskedLM"),
         ("distilbert", "DistilBertForSequenceClassification"), ("distilbert", "DistilBertForQuestionAnswering"),
         ("distilbert", "DistilBertForMaskedLM"),
         ("openai", "OpenAIGPTLMHeadModel"), ("openai", "OpenAIGPTDoubleHeadsModel"),
         ("gpt2", "GPT2LMHeadModel"), ("gpt2", "GPT2DoubleHeadsModel")]
GPT = ("openai", "gpt2")


def base_checkpoint(family, folder, **config):
    """A 1.2.0 base-model checkpoint: every head class loads it with its head newly initialised."""
    folder.mkdir()
    make = pt_gpt if family in GPT else pt_model
    make(family, BASES[family], **config).save_pretrained(str(folder))
    return folder


def seeded_load(model_class, folder, seed=0):
    torch.manual_seed(seed)
    with torch.no_grad():  # 1.2.0's DistilBERT can only be built under no_grad on torch 2.x (draws nothing)
        model = model_class.from_pretrained(str(folder))
    return model, torch.get_rng_state()


def assert_same_weights(ours, ref):
    theirs = ref.state_dict()
    for name, tensor in ours.state_dict().items():
        assert torch.equal(tensor, theirs[name]), f"{name} differs from 1.2.0's"


def train_forward(model, family, class_name):
    """A train-mode forward (dropout on) from a fixed seed."""
    model.train()
    torch.manual_seed(1)
    if family in GPT:
        x = ids()
        if class_name.endswith("DoubleHeadsModel"):
            return model(torch.stack([x, (x + 7) % 99], dim=1), mc_token_ids=torch.tensor([[8, 8]] * 3))
        return model(x)
    ids_, mask, tt = model_inputs(family, class_name, padded=True)
    return call(model, family, ids_, mask, tt, "ours"), real_mask(class_name, mask)


@pytest.mark.parametrize("family,class_name", CASES)
def test_new_heads_and_generator_equal_1_2_0(tmp_path, family, class_name):
    import pytorch_transformers as pt

    extra = {"num_labels": 2} if class_name.endswith("QuestionAnswering") else {}
    folder = base_checkpoint(family, tmp_path / "base", **extra)
    ref, ref_state = seeded_load(getattr(pt, class_name), folder)
    ours, our_state = seeded_load(getattr(tf, class_name), folder)
    assert torch.equal(our_state, ref_state), "torch's generator differs from 1.2.0's after from_pretrained"
    assert_same_weights(ours, ref)

    ref_out = train_forward(ref, family, class_name)
    ref_after = torch.get_rng_state()
    ours_out = train_forward(ours, family, class_name)
    assert torch.equal(torch.get_rng_state(), ref_after), "a train-mode forward draws other numbers than 1.2.0's"
    if family in GPT:
        compare(ours_out[0], ref_out[0], path="train-mode logits")
    else:
        compare(ours_out[0], ref_out[0], ours_out[1], path="train-mode outputs")


@pytest.mark.parametrize("family,class_name", [("bert", "BertForSequenceClassification"),
                                               ("gpt2", "GPT2DoubleHeadsModel"),
                                               ("openai", "OpenAIGPTDoubleHeadsModel")])
def test_pruned_checkpoint_generator_equal_1_2_0(tmp_path, family, class_name):
    """Pruning while building replaces layers: 1.2.0 initialises the new layers too (more draws)."""
    import pytorch_transformers as pt

    make = pt_gpt if family in GPT else pt_model
    base = make(family, BASES[family])
    base.prune_heads({0: [1, 3], 1: [2]})
    (tmp_path / "pruned").mkdir()
    base.save_pretrained(str(tmp_path / "pruned"))
    ref, ref_state = seeded_load(getattr(pt, class_name), tmp_path / "pruned", seed=3)
    ours, our_state = seeded_load(getattr(tf, class_name), tmp_path / "pruned", seed=3)
    assert torch.equal(our_state, ref_state)
    assert_same_weights(ours, ref)


SIZES = [1, 2, 7, 15, 16, 17, 31, 32, 33, 100, 1000, 1001, 4099]


def random_writes():
    """Random fills of many sizes, layouts and dtypes: closed-form counts (uniform_, contiguous normal_ of >= 16
    elements) and the rest (small or strided normal_, which also caches a second normal sample; bernoulli_;
    a random factory)."""
    for n in SIZES:
        torch.empty(n).uniform_(-0.5, 0.5)
        torch.empty(n).normal_(0.0, 0.02)
        torch.empty(n, 3).t().normal_()
        for dtype in (torch.float64, torch.float16, torch.bfloat16):
            torch.empty(n, dtype=dtype).normal_()
            torch.empty(n, dtype=dtype).uniform_()
    torch.empty(5, 5).bernoulli_(0.3)
    torch.randn(7, 3)
    torch.empty(3).normal_()


@pytest.mark.parametrize("counted", [True, False], ids=["closed-forms", "scratch-runs"])
def test_generator_advance_equals_the_real_draws(counted, monkeypatch):
    """Exact with the closed-form counts, and with the fallback a torch whose kernels draw otherwise gets."""
    from transformers_fast import modeling_utils
    from transformers_fast.modeling_utils import BuildOnMeta, replay_build_draws

    assert modeling_utils._fill_draws_hold()
    if not counted:
        monkeypatch.setattr(modeling_utils, "_fill_draws_hold", lambda: False)
    torch.manual_seed(11)
    random_writes()
    expected = torch.get_rng_state()
    with BuildOnMeta() as build:
        random_writes()
    torch.manual_seed(11)
    replay_build_draws(build.writes, {})
    assert len(build.writes) == 9 * len(SIZES) + 3
    assert torch.equal(torch.get_rng_state(), expected)
