"""torch.jit.trace of every model class (1.2.0 documents it with config torchscript=True): the traced module gives
pytorch-transformers 1.2.0's outputs on inputs other than the example (another length, a padded batch), and
survives torch.jit.save / load. Traces record the reference path: the padding-free fast path is data-dependent."""
from __future__ import annotations

import io
import warnings

import pytest
import torch

import transformers_fast
from gpt_helpers import pt_gpt, save_pt
from modeling_helpers import compare, inputs, pt_model
from test_modeling_bert_family import CLASSES as ENCODER_CLASSES

GPT_CLASSES = {"openai": ["OpenAIGPTModel", "OpenAIGPTLMHeadModel", "OpenAIGPTDoubleHeadsModel"],
               "gpt2": ["GPT2Model", "GPT2LMHeadModel", "GPT2DoubleHeadsModel"]}
CASES = [(f, c) for f, names in {**ENCODER_CLASSES, **GPT_CLASSES}.items() for c in names]


def encoder_inputs(family, class_name, batch, seq, padded):
    multiple_choice = class_name.endswith("ForMultipleChoice")
    ids, mask, tt = inputs(family, batch=batch * (3 if multiple_choice else 1), seq=seq, padded=padded)
    args = [ids, mask] if family == "distilbert" else [ids, tt if tt is not None else torch.zeros_like(ids), mask]
    if multiple_choice:
        args = [a.view(batch, 3, seq) for a in args]
    return args


def gpt_inputs(class_name, batch, seq):
    ids = torch.randint(0, 99, (batch, seq), generator=torch.Generator().manual_seed(seq))
    if class_name.endswith("DoubleHeadsModel"):
        ids = ids.view(batch, 1, seq)
        return [ids, torch.full((batch, 1), seq - 1, dtype=torch.long)]
    return [ids]


@pytest.mark.parametrize("family,class_name", CASES)
def test_traced_model_equals_pytorch_transformers(family, class_name, tmp_path):
    if family in GPT_CLASSES:
        ref = pt_gpt(family, class_name)
        example, other = gpt_inputs(class_name, 2, 7), gpt_inputs(class_name, 3, 11)
        mask = None
    else:
        ref = pt_model(family, class_name)
        example = encoder_inputs(family, class_name, 2, 7, padded=False)
        other = encoder_inputs(family, class_name, 2 if class_name.endswith("ForMultipleChoice") else 3, 9, padded=True)
        mask = other[-1]
    save_pt(ref, str(tmp_path), "bin")
    model = getattr(transformers_fast, class_name).from_pretrained(str(tmp_path), torchscript=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's warnings about Python values
        with torch.no_grad():
            traced = torch.jit.trace(model, tuple(example))
    buffer = io.BytesIO()
    torch.jit.save(traced, buffer)
    buffer.seek(0)
    loaded = torch.jit.load(buffer)
    real = None if mask is None else mask.view(-1, mask.shape[-1])
    with torch.no_grad():
        expected = ref(*other)
        for module in (traced, loaded):
            compare(tuple(module(*other)), tuple(expected), real)
