"""tie_weights on the classes where pytorch-transformers 1.2.0 has it: the LM head shares the input embedding, or
holds a copy of it with config torchscript=True (TorchScript cannot share parameters), as 1.2.0 does."""
from __future__ import annotations

import inspect

import pytest
import pytorch_transformers as pt
import torch

import transformers_fast as tf
from test_configuration_acceptance import SMALL

FAMILY_OF = {"Bert": "bert", "Roberta": "roberta", "DistilBert": "distilbert", "OpenAIGPT": "openai", "GPT2": "gpt2"}
CONFIG_OF = {"bert": "BertConfig", "roberta": "RobertaConfig", "distilbert": "DistilBertConfig",
             "openai": "OpenAIGPTConfig", "gpt2": "GPT2Config"}


def _classes_with_tie_weights():
    names = []
    for name, cls in vars(pt).items():
        prefix = next((p for p in FAMILY_OF if name.startswith(p)), None)
        if prefix and inspect.isclass(cls) and any("tie_weights" in vars(base) for base in cls.__mro__
                                                   if base.__name__ not in ("PreTrainedModel", "Module")):
            names.append((FAMILY_OF[prefix], name))
    return sorted(names)


CASES = _classes_with_tie_weights()


def test_the_1_2_0_classes_were_found():
    assert len(CASES) >= 7, CASES


@pytest.mark.parametrize("family,class_name", CASES)
@pytest.mark.parametrize("torchscript", [False, True])
def test_tie_weights_as_in_1_2_0(family, class_name, torchscript):
    config = getattr(tf, CONFIG_OF[family])(99, torchscript=torchscript, **SMALL[family])
    model = getattr(tf, class_name)(config)
    assert hasattr(model, "tie_weights")
    with torch.no_grad():
        model.get_input_embeddings().weight.normal_()  # differs from the head until tied again
    model.tie_weights()
    inp, out = model.get_input_embeddings().weight, model.get_output_embeddings().weight
    assert torch.equal(inp, out)
    assert (inp is out) == (not torchscript)
    with torch.no_grad():  # 1.2.0's DistilBERT fills its sinusoidal table in place
        ref = getattr(pt, class_name)(getattr(pt, CONFIG_OF[family])(99, torchscript=torchscript, **SMALL[family]))
    ref_in = next(m.weight for name, m in ref.named_modules()
                  if name.split(".")[-1] in ("word_embeddings", "wte", "tokens_embed"))
    ref_out = next(m.weight for name, m in ref.named_modules() if isinstance(m, torch.nn.Linear)
                   and name.split(".")[-1] in ("decoder", "lm_head", "vocab_projector"))
    assert (ref_in is ref_out) == (inp is out)
