"""torch.jit.trace of every model class (1.2.0 documents it with config torchscript=True): the traced module gives
pytorch-transformers 1.2.0's outputs on inputs other than the example (another length, a padded batch), and
survives torch.jit.save / load, under torch.no_grad and torch.inference_mode. Traces record the reference path: the
padding-free fast path is data-dependent."""
from __future__ import annotations

import io
import warnings

import pytest
import torch

import transformers_fast
from gpt_helpers import HF_CLASSES, pt_gpt, save_pt
from modeling_helpers import compare, inputs, pt_model, quiet_transformers
from test_loading_parity import pt_checkpoint, pt_load
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
        example = encoder_inputs(family, class_name, 2, 7, padded=True)  # (a trace must not freeze its padding)
        other = encoder_inputs(family, class_name, 2 if class_name.endswith("ForMultipleChoice") else 3, 9, padded=True)
        mask = other[-1]
    save_pt(ref, str(tmp_path), "bin")
    model = getattr(transformers_fast, class_name).from_pretrained(str(tmp_path), torchscript=True)
    traced, loaded = trace_save_load(model, example)
    real = None if mask is None else mask.view(-1, mask.shape[-1])
    with torch.no_grad():
        expected = ref(*other)
    for module in (traced, loaded):
        for mode in (torch.no_grad, torch.inference_mode):
            with mode():
                compare(tuple(module(*other)), tuple(expected), real)


def trace_save_load(model, example, mode=torch.no_grad):
    """The model traced on `example` (positional arguments, or a dict of keyword arguments) under `mode`, and that
    trace after torch.jit.save / load."""
    kwargs = dict(example_kwarg_inputs=example) if isinstance(example, dict) else dict(example_inputs=tuple(example))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's warnings about Python values
        with mode():
            traced = torch.jit.trace(model, **kwargs)
    buffer = io.BytesIO()
    torch.jit.save(traced, buffer)
    buffer.seek(0)
    return traced, torch.jit.load(buffer)


def compare_top_k(ours, ref, mask):
    """The SQuAD heads' outputs; top-k indices are compared where the log-probability they pick is not tied with
    another in its row (padded positions tie, and the order of ties is not specified)."""
    log_probs = {1: 0, 3: 2}  # index output -> the log probabilities it goes with
    for i, (o, r) in enumerate(zip(ours, ref)):
        if i in log_probs:
            values = ref[log_probs[i]]
            tied = ((values.unsqueeze(-1) - values.unsqueeze(-2)).abs() < 1e-6).sum(-1) > 1
            assert torch.equal(o[~tied], r[~tied]), f"output[{i}]"
        else:
            compare(o, r, mask, path=f"output[{i}]")


# 1.2.0's other families, by keyword: XLNet's and XLM's attention_mask is not their second parameter
RELATIVE_CASES = [("transfo_xl", "TransfoXLModel"), ("transfo_xl", "TransfoXLLMHeadModel"),
                  ("xlnet", "XLNetModel"), ("xlnet", "XLNetLMHeadModel"), ("xlnet", "XLNetForSequenceClassification"),
                  ("xlnet", "XLNetForQuestionAnswering"), ("xlm", "XLMModel"), ("xlm", "XLMWithLMHeadModel"),
                  ("xlm", "XLMForSequenceClassification"), ("xlm", "XLMForQuestionAnswering")]


def keyword_inputs(family, batch, seq):
    """input_ids, and a right-padded attention_mask except for Transformer-XL (which has none)."""
    ids = torch.randint(3, 99, (batch, seq), generator=torch.Generator().manual_seed(seq))
    if family == "transfo_xl":
        return {"input_ids": ids}, None
    mask = torch.ones(batch, seq)
    mask[1, seq - 3:] = 0
    return {"input_ids": ids, "attention_mask": mask}, mask


@pytest.mark.parametrize("family,class_name", RELATIVE_CASES)
def test_traced_transfo_xl_xlnet_xlm_equal_pytorch_transformers(family, class_name, tmp_path):
    """Transformer-XL, XLNet and XLM traced with a padded batch give 1.2.0's outputs on that batch and on one of
    another shape, after save / load, under no_grad and inference_mode. (1.2.0's own trace fails for
    Transformer-XL, whose mems are a list, and for XLNet without mem_len, whose mems are Nones: it is given one.)"""
    config = {"mem_len": 5} if family == "xlnet" else {}
    pt_checkpoint(family, class_name, tmp_path, **config)
    ref = pt_load(class_name, tmp_path, torchscript=True)
    model = getattr(transformers_fast, class_name).from_pretrained(tmp_path, torchscript=True)
    example, example_mask = keyword_inputs(family, 2, 7)
    other, other_mask = keyword_inputs(family, 3, 9)
    for mode in (torch.no_grad, torch.inference_mode):
        traced, loaded = trace_save_load(model, example, mode)
        for batch, mask in ((example, example_mask), (other, other_mask)):
            with torch.no_grad():
                expected = ref(**batch)
            for module in (traced, loaded):
                with mode():
                    got = tuple(module(**batch))
                if class_name.endswith("QuestionAnswering"):
                    compare_top_k(got, expected, mask)
                else:
                    compare(got, tuple(expected), mask)


@pytest.mark.parametrize("family,class_name", [(f, c) for f in HF_CLASSES for c in HF_CLASSES[f][1:3]])
def test_traced_gpt_with_attention_mask_equals_transformers(family, class_name, tmp_path):
    """OpenAI GPT and GPT-2 traced with example_kwarg_inputs input_ids and attention_mask (transformers' way: 1.2.0
    has no mask) give transformers' outputs at real positions of a padded batch of another shape (before: the
    tracer refused attention_mask, a keyword-only argument)."""
    import transformers

    save_pt(pt_gpt(family, class_name), str(tmp_path), "bin")
    quiet_transformers()
    ref = getattr(transformers, class_name).from_pretrained(tmp_path, attn_implementation="eager").eval()
    model = getattr(transformers_fast, class_name).from_pretrained(str(tmp_path), torchscript=True)
    example, _ = keyword_inputs(family, 2, 7)
    other, mask = keyword_inputs(family, 3, 9)
    traced, loaded = trace_save_load(model, example)
    with torch.no_grad():
        expected = ref(**other)[0]
    for module in (traced, loaded):
        for mode in (torch.no_grad, torch.inference_mode):
            with mode():
                compare(module(**other)[0], expected, mask)
