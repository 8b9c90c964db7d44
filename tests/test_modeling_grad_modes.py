"""Models loaded and first run under torch.inference_mode(), torch.no_grad() or neither, in any order of those
contexts, give the reference's outputs (serving code loads inside inference_mode all the time)."""
from __future__ import annotations

import contextlib
import itertools

import pytest
import torch

import transformers_fast as tf
from gpt_helpers import hf_gpt
from modeling_helpers import compare, hf_model, inputs

CONTEXTS = {"inference_mode": torch.inference_mode, "no_grad": torch.no_grad, "plain": contextlib.nullcontext}
ORDERS = list(itertools.product(CONTEXTS, repeat=3))  # (load in, first forward in, second forward in)
MODELS = [("bert", "BertForSequenceClassification"), ("roberta", "RobertaModel"), ("distilbert", "DistilBertModel"),
          ("openai", "OpenAIGPTLMHeadModel"), ("gpt2", "GPT2LMHeadModel")]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folders = {}
    for family, class_name in MODELS:
        ref = hf_gpt(family, class_name) if family in ("openai", "gpt2") else hf_model(family, class_name)
        folder = str(tmp_path_factory.mktemp(family))
        ref.save_pretrained(folder)
        folders[family] = (folder, ref)
    return folders


def _run(family, model, ref):
    if family in ("openai", "gpt2"):
        ids = torch.randint(0, 99, (2, 7), generator=torch.Generator().manual_seed(3))
        with torch.no_grad():
            expected = ref(ids).logits
        compare(model(ids)[0], expected)
        if family == "gpt2":
            out = model.generate(ids[:1], max_length=10, do_sample=False)
            assert out.shape == (1, 10)
        return
    ids, mask, token_types = inputs(family)
    kwargs = {} if token_types is None else {"token_type_ids": token_types}
    with torch.no_grad():
        expected = ref(ids, attention_mask=mask, **kwargs)[0]
    ours = model(ids, attention_mask=mask, **kwargs)[0]
    compare(ours, expected, mask if ours.dim() == 3 else None)


@pytest.mark.parametrize("family,class_name", MODELS)
@pytest.mark.parametrize("load_in,first_in,second_in", ORDERS)
def test_any_order_of_grad_modes(saved, family, class_name, load_in, first_in, second_in):
    folder, ref = saved[family]
    with CONTEXTS[load_in]():
        model = getattr(tf, class_name).from_pretrained(folder).eval()
    with CONTEXTS[first_in]():
        _run(family, model, ref)
    with CONTEXTS[second_in]():
        _run(family, model, ref)
