"""Shared pieces of the model tests: tiny configs, reference models (transformers and pytorch-transformers
1.2.0) saved to disk, inputs with padding, and an output comparison that understands padded positions."""
from __future__ import annotations

import logging
import warnings

import torch

ATOL = 1e-4

TINY = {
    "bert": dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                 max_position_embeddings=64, type_vocab_size=3, num_labels=3),
    "roberta": dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                    max_position_embeddings=66, type_vocab_size=1, num_labels=3, layer_norm_eps=1e-5),
    "distilbert": dict(vocab_size=99, dim=32, n_layers=2, n_heads=4, hidden_dim=37, max_position_embeddings=64,
                       num_labels=2),
}
PAD = {"bert": 0, "roberta": 1, "distilbert": 0}
# Every model class of each family with a forward (1.2.0's names).
HEAD_CLASSES = {
    "bert": ["BertModel", "BertForMaskedLM", "BertForMultipleChoice", "BertForNextSentencePrediction",
             "BertForPreTraining", "BertForQuestionAnswering", "BertForSequenceClassification",
             "BertForTokenClassification"],
    "roberta": ["RobertaModel", "RobertaForMaskedLM", "RobertaForSequenceClassification"],
    "distilbert": ["DistilBertModel", "DistilBertForMaskedLM", "DistilBertForQuestionAnswering",
                   "DistilBertForSequenceClassification"],
    "openai": ["OpenAIGPTModel", "OpenAIGPTLMHeadModel", "OpenAIGPTDoubleHeadsModel"],
    "gpt2": ["GPT2Model", "GPT2LMHeadModel", "GPT2DoubleHeadsModel"],
    "transfo_xl": ["TransfoXLModel", "TransfoXLLMHeadModel"],
    "xlnet": ["XLNetModel", "XLNetLMHeadModel", "XLNetForSequenceClassification", "XLNetForQuestionAnswering"],
    "xlm": ["XLMModel", "XLMWithLMHeadModel", "XLMForSequenceClassification", "XLMForQuestionAnswering"],
}


def quiet_transformers():
    import transformers

    transformers.logging.set_verbosity_error()
    logging.getLogger("pytorch_transformers").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning)


def hf_model(family: str, class_name: str, seed: int = 0, **extra):
    import transformers

    quiet_transformers()
    config_cls = {"bert": transformers.BertConfig, "roberta": transformers.RobertaConfig,
                  "distilbert": transformers.DistilBertConfig}[family]
    kwargs = dict(TINY[family])
    if family == "roberta":
        kwargs["pad_token_id"] = 1
    if class_name.endswith("QuestionAnswering"):
        kwargs["num_labels"] = 2
    kwargs.update(extra)
    config = config_cls(**kwargs, attn_implementation="eager")
    torch.manual_seed(seed)
    model = getattr(transformers, class_name)(config).eval()
    _randomize_norms(model)
    return model


def pt_model(family: str, class_name: str, seed: int = 0, **extra):
    """A pytorch-transformers 1.2.0 model (its constructor takes the vocabulary size first)."""
    import pytorch_transformers as pt

    quiet_transformers()
    config_cls = {"bert": pt.BertConfig, "roberta": pt.RobertaConfig, "distilbert": pt.DistilBertConfig}[family]
    kwargs = dict(TINY[family])
    vocab = kwargs.pop("vocab_size")
    if class_name.endswith("QuestionAnswering"):
        kwargs["num_labels"] = 2
    kwargs.update(extra)
    config = config_cls(vocab, **kwargs)
    torch.manual_seed(seed)
    with torch.no_grad():  # 1.2.0's DistilBERT fills its sinusoidal table in place
        model = getattr(pt, class_name)(config)
    model.eval()
    _randomize_norms(model)
    return model


def _randomize_norms(model):
    """Fresh models have LayerNorm weight 1 / bias 0 and zero biases: randomise them so that a wrongly
    loaded or skipped tensor changes the outputs."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or "LayerNorm" in name or "layer_norm" in name:
                p.add_(torch.randn_like(p) * 0.1)


def randomize_all(model, seed: int = 3, scale: float = 0.1):
    """Perturbs every parameter (fresh models have LayerNorm 1/0, zero biases and tiny attention weights), so that
    a wrongly loaded or skipped tensor changes the outputs and attention scores are far from uniform."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * scale)


def inputs(family: str, batch: int = 3, seq: int = 9, padded: bool = True, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    vocab = TINY[family]["vocab_size"]
    ids = torch.randint(3, vocab, (batch, seq), generator=g)
    mask = torch.ones(batch, seq, dtype=torch.long)
    if padded:
        lengths = [seq, max(2, seq - 4), max(2, seq - 2)] + [seq] * batch
        for i in range(batch):
            mask[i, lengths[i]:] = 0
    ids = ids.masked_fill(mask == 0, PAD[family])
    token_types = None
    if family == "bert":
        token_types = (torch.arange(seq) >= seq // 2).long().expand(batch, seq).clone() * mask
        token_types[0, -1] = 2
    return ids, mask, token_types


def compare(ours, ref, mask=None, atol=ATOL, path="output"):
    """Every tensor of `ours` equals the one at the same place in `ref` within atol. With `mask`, per-token
    tensors ([batch, seq, ...]) and attention maps ([batch, heads, seq, seq]) are compared on real
    positions only."""
    if isinstance(ref, torch.Tensor):
        assert isinstance(ours, torch.Tensor), f"{path}: expected a tensor, got {type(ours).__name__}"
        assert ours.shape == ref.shape, f"{path}: shape {tuple(ours.shape)} != reference {tuple(ref.shape)}"
        a, b = ours.detach(), ref.detach()
        if mask is not None:
            real = mask.bool()
            if a.dim() >= 2 and a.shape[:2] == real.shape:
                a, b = a[real], b[real]
            elif a.dim() == 4 and a.shape[0] == real.shape[0] and a.shape[2] == real.shape[1]:
                a, b = a.transpose(1, 2)[real], b.transpose(1, 2)[real]
        diff = (a - b).abs().max().item() if a.numel() else 0.0
        assert diff <= atol, f"{path}: max abs diff {diff:.3g} > {atol}"
        return
    assert isinstance(ours, (tuple, list)) and isinstance(ref, (tuple, list)), f"{path}: {type(ours)} vs {type(ref)}"
    assert len(ours) == len(ref), f"{path}: {len(ours)} elements, reference has {len(ref)}"
    for i, (o, r) in enumerate(zip(ours, ref)):
        compare(o, r, mask, atol, f"{path}[{i}]")
