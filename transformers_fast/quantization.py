"""Post-training quantization of a model: `transformers_fast.quantize(model, "int8")`.

Every linear layer of the model's encoder/decoder blocks (nn.Linear and the GPT/GPT-2 Conv1D inside the layer
lists of the base model; XLNet's einsum attention projections q, k, v, o, r through its attention module's
`quantize_projections()` hook) becomes an ops.QuantizedLinear in place: int8 weights with one scale per output
channel, activations quantized per token at every call, int32 sums (csrc/kernels/gemm_int8_cpu.cpp: AMX-INT8 tiles
or AVX-512 VNNI where the CPU has them). A GELU that follows such a layer (BERT's intermediate, the GPT MLP, XLM,
DistilBERT and XLNet feed-forward) is fused into it when it is exactly the erf or tanh form. With lm_head=True the output
projection (`get_output_embeddings()`) is quantized too, where the model calls it as a module, and so is
Transformer-XL's adaptive softmax (its clusters' output layers and projections, int8 copies beside the float layers
the input embeddings share). With embeddings=True the word embedding tables become ops.QuantizedEmbedding (int8, one
scale per row: the weights' rule), a table tied to an int8 LM head holding the head's int8 matrix.

The config records the quantization (config.quantization = {"method": "int8", ...}), so `save_pretrained`
writes the int8 weights and their scales (`<layer>.weight_int8`, `<layer>.weight_scale`, `<layer>.bias`) and
`from_pretrained` of that folder builds the quantized model directly; `from_pretrained(..., quantize="int8")`
quantizes a float checkpoint as it loads. A quantized model is inference-only and CPU-only; the fused fast paths
of runtime/ run its int8 layers as their projections (the padding-free encoders, the GPT decoder and its generation,
XLNet's and Transformer-XL's relative-attention paths); generation keeps the keys and values it carries (the GPT
decoders' KV cache, Transformer-XL's memory) in int8 too (kv_cache="float": float32). XLNet's attention biases and
segment embeddings stay float32, as does Transformer-XL's adaptive softmax unless lm_head=True.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from transformers_fast.modeling_utils import Conv1D, PreTrainedModel
from transformers_fast.ops import PackedLinear, QuantizedEmbedding, QuantizedLinear
from transformers_fast.runtime.fast_path import record_structure

METHODS = ("int8",)
CONFIG_KEY = "quantization"
_LINEAR_TYPES = (nn.Linear, Conv1D, PackedLinear)
# (linear, activation) attribute pairs of the feed-forward blocks, whose GELU the int8 kernel can fuse:
# BERT/RoBERTa intermediate, GPT/GPT-2 MLP, XLM and DistilBERT FFN, XLNet feed-forward.
_FUSIBLE = (("dense", "intermediate_act_fn"), ("c_fc", "act"), ("lin1", "act"), ("lin1", "activation"),
            ("layer_1", "activation_function"))


KV_CACHE_CHOICES = ("int8", "float")


def _check_arguments(model, method, lm_head, embeddings, kv_cache="int8") -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"quantize: model must be a torch.nn.Module, got {type(model).__name__}")
    if not any(isinstance(m, PreTrainedModel) for m in model.modules()):  # (whose layers it knows)
        raise TypeError(f"quantize: {type(model).__module__}.{type(model).__name__} is not a transformers_fast model "
                        f"and holds none: nothing it knows to quantize (load the weights with this library's class)")
    if not isinstance(method, str) or method.lower() not in METHODS:
        raise ValueError(f"quantize: unknown method {method!r}; supported: {', '.join(METHODS)}")
    if kv_cache not in KV_CACHE_CHOICES:
        raise ValueError(f"quantize: kv_cache must be one of {', '.join(map(repr, KV_CACHE_CHOICES))}, "
                         f"got {kv_cache!r}")
    for name, value in (("lm_head", lm_head), ("embeddings", embeddings)):
        if not isinstance(value, bool):
            raise TypeError(f"quantize: {name} must be True or False, got {value!r}")


def _activation_kind(fn) -> Optional[str]:
    """"gelu" / "gelu_tanh" when fn computes exactly that GELU (checked on a probe), else None."""
    if fn is None or not callable(fn):
        return None
    probe = torch.linspace(-8.0, 8.0, 257)
    try:
        with torch.no_grad():
            got = fn(probe.clone())
    except Exception:  # an activation that takes other inputs: not fused
        return None
    if not isinstance(got, torch.Tensor) or got.shape != probe.shape:
        return None
    if torch.equal(got, F.gelu(probe)):
        return "gelu"
    if torch.equal(got, F.gelu(probe, approximate="tanh")):
        return "gelu_tanh"
    return None


def _block_modules(model: nn.Module) -> List[nn.Module]:
    """Every module inside the layer lists (nn.ModuleList) of the base model: the encoder/decoder blocks of every
    family."""
    base = getattr(model, "base_model", model)
    return [module for container in base.modules() if isinstance(container, nn.ModuleList)
            for block in container for module in block.modules()]


def _block_linears(model: nn.Module) -> List[Tuple[nn.Module, str, nn.Module]]:
    """(parent, attribute, layer) of every linear layer inside the blocks."""
    found, seen = [], set()
    for parent in _block_modules(model):
        for name, child in parent.named_children():
            if isinstance(child, _LINEAR_TYPES) and (id(parent), name) not in seen:
                seen.add((id(parent), name))
                found.append((parent, name, child))
    return found


def _head_hooks(model: nn.Module) -> List[nn.Module]:
    """The adaptive softmaxes (Transformer-XL) in the model, which quantize their clusters themselves."""
    return [m for m in model.modules() if callable(getattr(m, "quantize_head", None))]


def _has_lm_head(model: nn.Module) -> bool:
    """Whether the model has an output projection (or adaptive softmax) that lm_head=True quantizes."""
    if _head_hooks(model):
        return True
    getter = getattr(model, "get_output_embeddings", None)
    return callable(getter) and getter() is not None


def _lm_head(model: nn.Module) -> Tuple[nn.Module, str, nn.Module]:
    getter = getattr(model, "get_output_embeddings", None)
    head = getter() if callable(getter) else None
    if head is None:
        raise ValueError(f"quantize: lm_head=True but {type(model).__name__} has no output projection to quantize "
                         f"(get_output_embeddings() is None: no LM head, or an adaptive softmax)")
    if isinstance(head, QuantizedLinear):
        return None, "", head
    if not isinstance(head, _LINEAR_TYPES):
        raise ValueError(f"quantize: the output projection of {type(model).__name__} is a {type(head).__name__}, "
                         f"not a linear layer")
    for parent in model.modules():
        for name, child in parent.named_children():
            if child is head:
                return parent, name, head
    raise ValueError("quantize: the output projection is not a submodule of the model")


def _input_tables(model: nn.Module) -> List[Tuple[nn.Module, str, nn.Embedding]]:
    """(parent, attribute, table) of the word embedding tables: get_input_embeddings() when it is one table, else
    the tables inside it (Transformer-XL's adaptive embedding, one per cluster)."""
    getter = getattr(model, "get_input_embeddings", None)
    root = getter() if callable(getter) else None
    if root is None:
        raise ValueError(f"quantize: embeddings=True but {type(model).__name__} has no input embeddings")
    if isinstance(root, (nn.Embedding, QuantizedEmbedding)):
        return [(None, "", root)]
    return [(parent, name, child) for parent in root.modules() for name, child in parent.named_children()
            if isinstance(child, (nn.Embedding, QuantizedEmbedding))]


def _replace_embeddings(model: nn.Module, heads: Dict[int, QuantizedLinear]) -> int:
    """The word embedding tables become QuantizedEmbedding; one whose float matrix an int8 LM head was made from
    (`heads`: id of the float weight -> its int8 layer) shares that layer's int8 matrix."""
    done = 0
    for parent, name, table in _input_tables(model):
        if isinstance(table, QuantizedEmbedding):
            continue
        head = heads.get(id(table.weight))
        quantized = (QuantizedEmbedding.sharing(head, table) if head is not None
                     else QuantizedEmbedding.from_float(table))
        if parent is None:
            model.set_input_embeddings(quantized)
        else:
            setattr(parent, name, quantized)
        done += 1
    return done


def _replace(model: nn.Module, lm_head: bool, embeddings: bool = False) -> int:
    """Swaps the layers for QuantizedLinear (meta weights give meta int8 buffers: from_pretrained fills them);
    returns how many layers were quantized now. The new modules take their parent's mode (a module is made in
    training mode, which would read as dropout left on in an eval model)."""
    before = {id(m) for m in model.modules()}
    done = _replace_layers(model, lm_head, embeddings)
    for parent in model.modules():  # (parents first: a new parent's mode is set before its children's)
        for child in parent.children():
            if id(child) not in before:
                child.train(parent.training)
    return done


def _replace_layers(model: nn.Module, lm_head: bool, embeddings: bool) -> int:
    """A block module whose projections are not linear layers (XLNet's einsum weights) quantizes them itself: its
    `quantize_projections()` hook, which returns how many it did."""
    hooked = sum(module.quantize_projections() for module in _block_modules(model)
                 if callable(getattr(module, "quantize_projections", None)))
    targets = _block_linears(model)
    # an adaptive softmax (Transformer-XL) quantizes its clusters itself: its `quantize_head()` hook
    heads = _head_hooks(model) if lm_head else []
    hooked += sum(head.quantize_head() for head in heads)
    float_head = None
    if lm_head and not heads:
        parent, name, head = _lm_head(model)
        if parent is not None:
            targets.append((parent, name, head))
            float_head = head
    done: Dict[int, QuantizedLinear] = {}
    with torch.no_grad():
        for parent, name, layer in targets:
            activation, act_name = None, None
            for linear_name, act_attr in _FUSIBLE:
                if name == linear_name and hasattr(parent, act_attr):
                    kind = _activation_kind(getattr(parent, act_attr))
                    if kind is not None and not (isinstance(layer, PackedLinear) and layer.activation):
                        activation, act_name = kind, act_attr
                    break
            quantized = done.get(id(layer))
            if quantized is None:
                quantized = done[id(layer)] = QuantizedLinear.from_float(layer, activation)
            setattr(parent, name, quantized)
            if act_name is not None:
                setattr(parent, act_name, nn.Identity())  # fused into the int8 layer
        tied = {id(float_head.weight): done[id(float_head)]} if float_head is not None else {}
        tables = _replace_embeddings(model, tied) if embeddings else 0
    for module in model.modules():  # the int8 layers are the library's: the fast paths stand in for them
        if "_built_structure" in module.__dict__:
            record_structure(module)
    return hooked + len(done) + tables


def _on_cpu(model: nn.Module) -> None:
    for t in list(model.parameters()) + list(model.buffers()):
        if t.device.type not in ("cpu", "meta"):
            raise RuntimeError(f"quantize: the model is on {t.device}; int8 quantization runs on the CPU only "
                               f"(no CUDA int8 kernels yet): call model.cpu() first")


def quantize(model: nn.Module, method: str = "int8", lm_head: bool = False, embeddings: bool = False,
             kv_cache: Optional[str] = None) -> nn.Module:
    """Quantizes `model` in place for inference and returns it: the linear layers of its encoder/decoder blocks
    (and with lm_head=True its output projection) become int8 QuantizedLinear layers. The model must be on the
    CPU and in eval mode; afterwards its remaining float parameters no longer require grad (a quantized model is
    inference-only: training through it raises). kv_cache: the KV cache of the GPT decoders' generation, "int8"
    (one float32 scale per key and value row; the default) or "float" (float32); not given, a quantized model keeps
    its earlier choice, as it keeps lm_head and embeddings. embeddings=True makes the word embedding tables
    int8 too (QuantizedEmbedding, one scale per row); a table tied to the LM head then shares the int8 head's matrix
    with lm_head=True, and leaves the float head its own matrix without it (the memory saved is the table's where the
    head is int8 or untied)."""
    _check_arguments(model, method, lm_head, embeddings, "int8" if kv_cache is None else kv_cache)
    if model.training:
        raise ValueError("quantize: the model is in training mode; quantized models are inference-only: call "
                         "model.eval() first (and fine-tune before quantizing)")
    _on_cpu(model)
    config = getattr(model, "config", None)
    previous = getattr(config, CONFIG_KEY, None) if config is not None else None
    if previous is not None and previous.get("method") != method.lower():
        raise ValueError(f"quantize: the model is already quantized with {previous.get('method')!r}")
    # (a model loaded from an int8 LM folder into a class without the head keeps no lm_head choice)
    lm_head = lm_head or bool(previous and previous.get("lm_head") and _has_lm_head(model))
    embeddings = embeddings or bool(previous and previous.get("embeddings"))
    if kv_cache is None:
        kv_cache = (previous or {}).get("kv_cache", "int8")
    _replace(model, lm_head, embeddings)
    for p in model.parameters():
        p.requires_grad_(False)
    if config is not None:
        setattr(config, CONFIG_KEY, {"method": method.lower(), "lm_head": lm_head, "embeddings": embeddings,
                                     "kv_cache": kv_cache, "weights": "int8, symmetric, per output channel",
                                     "activations": "int8, dynamic, per token"})
    invalidate = getattr(model, "invalidate_fast_path", None)
    if callable(invalidate):
        invalidate()
    return model


def prepare_quantized(model: nn.Module, spec) -> None:
    """from_pretrained of a quantized folder: gives the freshly built (meta) model the structure that
    config.quantization describes, before the checkpoint's int8 tensors are assigned."""
    if not isinstance(spec, dict) or str(spec.get("method", "")).lower() not in METHODS:
        raise ValueError(f"config.{CONFIG_KEY} = {spec!r}: not a quantization this version can load "
                         f"(supported methods: {', '.join(METHODS)})")
    lm_head, embeddings = bool(spec.get("lm_head", False)), bool(spec.get("embeddings", False))
    _check_arguments(model, spec["method"], lm_head, embeddings, spec.get("kv_cache", "int8"))
    # an LM folder's choice means nothing to a class without the head (the base model, a classifier): as if not made
    if lm_head and not _has_lm_head(model):
        lm_head = False
        model.config.quantization = dict(spec, lm_head=False)
    _replace(model, lm_head, embeddings)
