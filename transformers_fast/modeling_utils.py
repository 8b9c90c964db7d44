"""PreTrainedModel: loading, saving, tying and initialising weights for every model family.

Loading builds the model on the meta device (no time spent initialising weights that are about to be
replaced) and assigns the checkpoint tensors directly (safetensors are memory-mapped, so nothing is
copied); only weights the checkpoint lacks are materialised and initialised. Checkpoint names of
pytorch-transformers 1.2.0, of current `transformers` and TF-era `gamma`/`beta` map to one module tree;
missing and unexpected keys are listed, a shape mismatch is an error naming the key and both shapes.

Seeded runs match pytorch-transformers 1.2.0, which initialises every weight before loading: the build on the
meta device records its initialisers' random writes (a thread-local dispatch mode, so other threads are not
affected), and after loading they are replayed in order: into the weights the checkpoint lacks for real, for
the others only as the same count of draws from torch's CPU generator (see replay_build_draws).
"""
from __future__ import annotations

import functools
import inspect
import json
import logging
import math
import os
import re
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from transformers_fast import file_utils
from transformers_fast.configuration_utils import PretrainedConfig, hub_repo_ids, pop_hub_kwargs, read_json_fields
from transformers_fast.modeling_outputs import ModelOutput
from transformers_fast.ops import capturing_graph
from transformers_fast.ops.quantized_linear import QuantizedEmbedding, QuantizedLinear, is_quantized
from transformers_fast.runtime.fast_path import FastPath, record_structure
from transformers_fast.file_utils import (CONFIG_NAME, GENERATION_CONFIG_NAME, SAFE_WEIGHTS_INDEX_NAME,
                                          SAFE_WEIGHTS_NAME, WEIGHTS_INDEX_NAME, WEIGHTS_NAME, PushToHubMixin,
                                          is_library_module)

logger = logging.getLogger(__name__)

# Checkpoint names that differ only by these rules load everywhere: (pattern, replacement), applied to
# every checkpoint key; when the renamed key is also in the checkpoint, the old one is a duplicate.
COMMON_KEY_RENAMES: Tuple[Tuple[str, str], ...] = (
    (r"(^|\.)gamma$", r"\1weight"),  # TF-era LayerNorm names
    (r"(^|\.)beta$", r"\1bias"),
)

WEIGHT_FILE_NAMES = (SAFE_WEIGHTS_NAME, SAFE_WEIGHTS_INDEX_NAME, WEIGHTS_NAME, WEIGHTS_INDEX_NAME)


def weight_file_names(use_safetensors: Optional[bool] = None, variant: Optional[str] = None) -> Tuple[str, ...]:
    """The weights files from_pretrained looks for, in order, under transformers' use_safetensors= (True: only
    safetensors, False: only pytorch_model.bin) and variant= ("fp16": model.fp16.safetensors,
    pytorch_model.fp16.bin, model.safetensors.index.fp16.json)."""
    if use_safetensors not in (None, True, False):
        raise TypeError(f"use_safetensors must be True, False or None, got {use_safetensors!r}")
    if variant is not None and (not isinstance(variant, str) or not variant or "/" in variant):
        raise ValueError(f"variant must be a name such as 'fp16', got {variant!r}")
    names = [n for n in WEIGHT_FILE_NAMES if use_safetensors is None or ("safetensors" in n) == use_safetensors]
    if variant is not None:  # transformers' _add_variant: before the last suffix
        names = [".".join(n.split(".")[:-1] + [variant] + n.split(".")[-1:]) for n in names]
    return tuple(names)


def _draws_random(func) -> bool:
    return torch.Tag.nondeterministic_seeded in func.tags


def _writes_first_argument(func) -> bool:
    args = func._schema.arguments
    return bool(args) and args[0].alias_info is not None and args[0].alias_info.is_write


class InitWrite:
    """One in-place write (or random factory) seen while a model was built on the meta device: the op, its
    arguments, the geometry of the tensor it wrote and, once resolved, the state-dict name owning that tensor."""

    __slots__ = ("func", "target", "args", "kwargs", "random", "replayable", "has_target", "size", "stride",
                 "offset", "target_dtype", "contiguous", "owner")

    def __init__(self, func, target: Optional[torch.Tensor], args: tuple, kwargs: dict, metadata_kept: bool):
        self.func, self.target, self.args, self.kwargs = func, target, args, kwargs
        self.random = _draws_random(func)
        tensor_args = any(isinstance(a, torch.Tensor) for a in list(args) + list(kwargs.values()))
        # scalar-argument writes that keep the tensor's shape can be redone on the real tensor
        self.replayable = target is not None and metadata_kept and not tensor_args
        self.has_target = target is not None
        if target is not None:
            self.size, self.stride, self.offset = tuple(target.shape), target.stride(), target.storage_offset()
            self.target_dtype, self.contiguous = target.dtype, target.is_contiguous()
        self.owner: Optional[str] = None

    def draws_from_default_generator(self) -> bool:
        return self.random and self.kwargs.get("generator") is None


class _LoadingDispatchMode(TorchDispatchMode):
    """A dispatch mode of model building and loading, where no compiled code runs."""

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # torch (>= 2.5) otherwise wraps __torch_dispatch__ to keep torch.compile out of it, and that wrapper's
        # first call imports torch._dynamo: 1.3 s of every process's first from_pretrained.
        return False


class BuildOnMeta(_LoadingDispatchMode):
    """Builds modules on the meta device without running their initialisers, and records every in-place write
    into a meta tensor in order (record=True), so that the random draws a normal build would make can be
    replayed later. A dispatch mode is thread-local: other threads building modules meanwhile are untouched
    (patching torch.nn.init would leave their weights uninitialised)."""

    def __init__(self, record: bool = True):
        super().__init__()
        self.record = record
        self.writes: List[InitWrite] = []
        self._device = torch.device("meta")

    def __enter__(self):
        self._device.__enter__()
        return super().__enter__()

    def __exit__(self, *exc):
        try:
            return super().__exit__(*exc)
        finally:
            self._device.__exit__(*exc)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        random = _draws_random(func)
        target = args[0] if args and isinstance(args[0], torch.Tensor) else None
        if target is not None and target.is_meta and _writes_first_argument(func):
            if random:  # nothing to fill (and meta kernels for these are slow)
                if self.record:
                    self.writes.append(InitWrite(func, target, args[1:], kwargs, metadata_kept=True))
                return target
            before = (target.shape, target.stride(), target.storage_offset())
            result = func(*args, **kwargs)
            if self.record:
                kept = before == (target.shape, target.stride(), target.storage_offset())
                self.writes.append(InitWrite(func, target, args[1:], kwargs, metadata_kept=kept))
            return result
        result = func(*args, **kwargs)
        first = result[0] if isinstance(result, (tuple, list)) and result else result
        if self.record and random and isinstance(first, torch.Tensor) and first.is_meta:  # torch.randn(...)
            self.writes.append(InitWrite(func, None, args, kwargs, metadata_kept=False))
        return result

    def resolve_owners(self, model: nn.Module) -> None:
        """Names each recorded write's tensor by the state-dict entry that holds it now (None when the tensor
        left the model: replaced by pruning or tying)."""
        owners: Dict[int, Tuple[str, int]] = {}
        for name, tensor in list(model.named_parameters(remove_duplicate=False)) + \
                list(model.named_buffers(remove_duplicate=False)):
            if tensor.is_meta:
                owners.setdefault(tensor.untyped_storage()._cdata, (name, tensor.storage_offset()))
        for write in self.writes:
            if write.target is not None:
                owner = owners.get(write.target.untyped_storage()._cdata)
                if owner is not None:
                    write.owner = owner[0]
                    write.offset -= owner[1]
            write.target = None  # the meta tensors are not needed any more


def no_weight_init() -> BuildOnMeta:
    """`with no_weight_init():` builds modules on the meta device without initialising them (shapes only)."""
    return BuildOnMeta(record=False)


class _NoRandomDraws(_LoadingDispatchMode):
    """Skips in-place random fills (the tensor keeps its values; the generator is not touched)."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if args and isinstance(args[0], torch.Tensor) and _writes_first_argument(func) and _draws_random(func):
            return args[0]
        return func(*args, **(kwargs or {}))


# 32-bit numbers per element that torch's CPU uniform sampler takes for a dtype (random64 for double)
_DRAWS_PER_ELEMENT = {torch.float32: 1, torch.float16: 1, torch.bfloat16: 1, torch.float64: 2}


def _fill_draws(name: str, dtype: torch.dtype, numel: int, contiguous: bool) -> Optional[int]:
    """How many 32-bit numbers a CPU uniform_/normal_ takes from its generator, where that is a closed form of
    the size (ATen's cpu/DistributionTemplates.h): uniform_ one uniform sample per element; normal_ of >= 16
    contiguous elements one per element plus 16 more when the size is not a multiple of 16 (it redoes the last
    16), or for half types 16 per started block of 16. None otherwise (small or strided normal_ caches a second
    sample in the generator: such writes are run for real on a scratch tensor)."""
    per_element = _DRAWS_PER_ELEMENT.get(dtype)
    if per_element is None:
        return None
    if name == "uniform_":
        return numel * per_element
    if name == "normal_" and numel >= 16 and contiguous:
        if dtype in (torch.float16, torch.bfloat16):
            return -(-numel // 16) * 16
        return (numel + (16 if numel % 16 else 0)) * per_element
    return None


@functools.lru_cache(maxsize=None)
def _fill_draws_hold() -> bool:
    """Checks the closed forms once against this torch, on a private generator (the global one is untouched)."""
    def state_after(fill) -> torch.Tensor:
        generator = torch.Generator().manual_seed(0)
        fill(generator)
        return generator.get_state()

    for dtype in _DRAWS_PER_ELEMENT:
        for name in ("uniform_", "normal_"):
            for numel in (16, 37):
                draws = _fill_draws(name, dtype, numel, True)
                real = state_after(lambda g: getattr(torch.empty(numel, dtype=dtype), name)(generator=g))
                counted = state_after(lambda g: torch.empty(draws, dtype=torch.uint8).random_(generator=g))
                if not torch.equal(real, counted):
                    logger.info("torch's %s draws differ from the closed form: replaying them for real", name)
                    return False
    return True


def _cpu_generator_draws(write: InitWrite) -> Optional[int]:
    """The 32-bit numbers a recorded write takes from torch's default CPU generator when counted (see
    _fill_draws), else None."""
    if not write.has_target or not write.draws_from_default_generator() or not _fill_draws_hold():
        return None
    return _fill_draws(write.func.overloadpacket.__name__, write.target_dtype, math.prod(write.size),
                       write.contiguous)


class _GeneratorAdvance:
    """Moves torch's default CPU generator on exactly as a sequence of recorded random writes would, without
    the tensors they wrote: counted draws are taken into a small reused buffer (int64 random_ takes two
    32-bit numbers per element, uint8 one), any other random write is run on a scratch tensor of its shape."""

    CHUNK = 1 << 18

    def __init__(self):
        self.pending = 0
        self._pairs: Optional[torch.Tensor] = None

    def add(self, write: InitWrite) -> None:
        draws = _cpu_generator_draws(write)
        if draws is not None:
            self.pending += draws
            return
        self.flush()
        _run_on_scratch(write)

    def flush(self) -> None:
        pairs, odd = divmod(self.pending, 2)
        self.pending = 0
        if pairs and (self._pairs is None or self._pairs.numel() < min(pairs, self.CHUNK)):
            self._pairs = torch.empty(min(pairs, self.CHUNK), dtype=torch.int64, device="cpu")
        while pairs:
            n = min(pairs, self.CHUNK)
            self._pairs[:n].random_()
            pairs -= n
        if odd:
            torch.empty(1, dtype=torch.uint8, device="cpu").random_()


def _run_on_scratch(write: InitWrite) -> None:
    def on_cpu(value):
        if isinstance(value, torch.Tensor):
            return torch.zeros(value.shape, dtype=value.dtype, device="cpu")
        if isinstance(value, torch.device) and value.type == "meta":
            return torch.device("cpu")
        return value

    args = [on_cpu(a) for a in write.args]
    kwargs = {k: on_cpu(v) for k, v in write.kwargs.items()}
    if write.has_target:
        scratch = torch.empty_strided(write.size, write.stride, dtype=write.target_dtype, device="cpu")
        write.func(scratch, *args, **kwargs)
    else:
        if any(arg.name == "device" for arg in write.func._schema.arguments):
            kwargs["device"] = torch.device("cpu")
        write.func(*args, **kwargs)


def replay_build_draws(writes: Sequence[InitWrite], materialised: Dict[str, torch.Tensor]) -> None:
    """Leaves torch's CPU generator, and the tensors in `materialised` (state-dict name -> the new tensor of a
    weight the checkpoint lacked), as a build that initialised every weight would: the writes into those
    tensors are redone in order (their random ones draw for real), every other random write only advances
    the generator."""
    advance = _GeneratorAdvance()
    with torch.no_grad():
        for write in writes:
            real = materialised.get(write.owner) if write.owner is not None else None
            if real is not None and write.replayable:
                advance.flush()
                view = real.as_strided(write.size, write.stride, real.storage_offset() + write.offset)
                write.func(view, *write.args, **write.kwargs)
            elif write.random:
                advance.add(write)
        advance.flush()


class CheckpointShapeError(RuntimeError, ValueError):
    """Checkpoint tensors whose shapes differ from the model's: a RuntimeError as 1.2.0 raises, and a ValueError."""


class LoadingInfo(dict):
    """missing_keys, unexpected_keys, mismatched_keys and error_msgs of a load (1.2.0's loading_info)."""


def device_of_map(device_map) -> Optional[torch.device]:
    """The one device of transformers' device_map argument: a device or its name or index, "auto" (the GPU when
    there is one); a map over several devices (a dict) is not supported."""
    if device_map is None:
        return None
    if device_map == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if isinstance(device_map, dict):
        devices = set(device_map.values())
        if len(devices) != 1:
            raise ValueError(f"device_map places parts of the model on several devices ({sorted(map(str, devices))}): "
                             f"this library keeps a model on one device; give one device")
        device_map = devices.pop()
    try:
        return torch.device(device_map)
    except (RuntimeError, TypeError) as err:
        # (torch's reason too: an index is valid, but not on a machine without a GPU)
        raise ValueError(f"device_map must be a device, its name or index, or 'auto'; "
                         f"got {device_map!r} ({err})") from err


class CheckpointedLayers:
    """A module that runs a model's layers in a loop. Under gradient checkpointing
    (PreTrainedModel.gradient_checkpointing_enable) and in training with autograd on, each layer's activations are
    recomputed in backward instead of kept, as in transformers; the results and gradients are the same."""

    checkpoint_function = None  # torch.utils.checkpoint.checkpoint with the user's options, while enabled

    def run_layer(self, layer, *args, **kwargs):
        if self.checkpoint_function is None or not (self.training and torch.is_grad_enabled()):
            return layer(*args, **kwargs)
        # (keyword arguments bound first: the reentrant variant passes positional ones only, and sees the tensors
        # of a tuple output only, not of a list)
        def call(*positional):
            out = layer(*positional, **kwargs)
            return tuple(out) if isinstance(out, list) else out

        return self.checkpoint_function(call, *args)


def _taking_return_dict(forward):
    """forward taking transformers' return_dict as well (called directly too, as sentence-transformers does):
    False gives the output as a plain tuple. The output is a 1.2.0 tuple that also reads as transformers' output
    object, so True and None change nothing. A forward that names return_dict or takes **kwargs stays as it is."""
    signature = inspect.signature(forward)
    parameters = list(signature.parameters.values())
    if any(p.name == "return_dict" or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL) for p in parameters):
        return forward
    # the last parameter, positional too (torch.onnx's TorchScript export passes every parameter by position)
    positional = sum(p.kind is p.POSITIONAL_OR_KEYWORD for p in parameters) - 1  # (less self)
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD if positional == len(parameters) - 1 else inspect.Parameter.KEYWORD_ONLY

    @functools.wraps(forward)
    def forward_taking_return_dict(self, *args: Any, **kwargs: Any):
        return_dict = kwargs.pop("return_dict", None)
        if kind is inspect.Parameter.POSITIONAL_OR_KEYWORD and len(args) == positional + 1:
            args, return_dict = args[:-1], args[-1]
        output = forward(self, *args, **kwargs)
        if return_dict is False and isinstance(output, ModelOutput):
            return output.to_tuple()
        return output

    forward_taking_return_dict.__signature__ = signature.replace(
        parameters=parameters + [inspect.Parameter("return_dict", kind, default=None)])
    return forward_taking_return_dict


def _recording_structure(init, cls: type):
    """A library class's __init__ that, as the outermost library __init__ of the model being built, records the
    modules it built (record_structure): what the fast paths stand in for. A user's subclass changing modules in its
    own __init__ afterwards changes what was recorded, as any later replacement does."""
    @functools.wraps(init)
    def __init__(self, *args: Any, **kwargs: Any):
        init(self, *args, **kwargs)
        builder = next(c for c in type(self).__mro__
                       if is_library_module(c.__module__) and "__init__" in c.__dict__)
        if builder is cls:
            record_structure(self)

    return __init__


def padded_vocab_size(new_num_tokens: Optional[int], current: int, pad_to_multiple_of: Optional[int]) -> Optional[int]:
    """resize_token_embeddings' size: with transformers' pad_to_multiple_of, new_num_tokens (or the current size)
    rounded up to a multiple of it."""
    if pad_to_multiple_of is None:
        return new_num_tokens
    if isinstance(pad_to_multiple_of, bool) or not isinstance(pad_to_multiple_of, int) or pad_to_multiple_of < 1:
        raise ValueError(f"pad_to_multiple_of must be a positive integer, got {pad_to_multiple_of!r}")
    if new_num_tokens is None:
        new_num_tokens = current
    if isinstance(new_num_tokens, bool) or not isinstance(new_num_tokens, int):
        return new_num_tokens  # (resize_token_embeddings names what is wrong with it)
    return -(-new_num_tokens // pad_to_multiple_of) * pad_to_multiple_of


def _renamed_by_key_mapping(state_dict: Dict[str, torch.Tensor], key_mapping: Any) -> Dict[str, torch.Tensor]:
    """transformers' key_mapping: each checkpoint key renamed by every pattern in turn (its first match replaced;
    a rename may feed the next, as transformers 5 applies them)."""
    if not isinstance(key_mapping, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                    for k, v in key_mapping.items()):
        raise TypeError("key_mapping must be a dict of regular expression -> replacement (both str)")
    rules = [(re.compile(pattern), replacement) for pattern, replacement in key_mapping.items()]
    renamed = {}
    for key, tensor in state_dict.items():
        for pattern, replacement in rules:
            key = pattern.sub(replacement, key, count=1)
        renamed[key] = tensor
    return renamed


def _unknown_arguments(cls: type, model_kwargs: Dict[str, Any]) -> List[str]:
    """The keyword arguments the class's __init__ does not take (it takes all where it has **kwargs)."""
    parameters = inspect.signature(cls.__init__).parameters
    if any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        return []
    return sorted(k for k in model_kwargs if k not in parameters)


class PreTrainedModel(nn.Module, PushToHubMixin):
    """Base class of every model: `from_pretrained`, `save_pretrained`, `tie_weights`, `init_weights`,
    `resize_token_embeddings`, `prune_heads`.

    Class attributes set by each family:
      config_class, base_model_prefix ("bert"), pretrained_model_archive_map (shortcut -> hub repo),
      checkpoint_key_renames: extra (pattern, replacement) rules for old/new checkpoint names,
      keys_to_ignore_on_load: patterns of checkpoint keys that are expected not to be used (buffers
      that older libraries saved, e.g. `embeddings.position_ids`),
      tied_head_keys: checkpoint names of the family's output projection tied to the input embeddings; the
      base model reads its embeddings from there when the checkpoint has them under no other name.
    from_pretrained builds the model on the meta device: anything the checkpoint does not provide, including
    buffers registered with persistent=False, is materialised as zeros and passed to `_init_weights(module)`,
    which must give it its value (or compute such buffers on the fly in forward); the random values then
    come from replaying the build's initialisers. A family's __init__ builds and initialises modules in
    1.2.0's order, so that the random draws are 1.2.0's.
    """

    config_class: type = PretrainedConfig
    base_model_prefix: str = ""
    main_input_name = "input_ids"
    input_modalities = "text"  # (transformers' pipelines read them)
    output_modalities = ("text",)
    supports_gradient_checkpointing = True
    pretrained_model_archive_map: Dict[str, str] = {}
    # load_tf_weights_in_<family>(model, config, path), the reader of the family's TensorFlow checkpoints
    load_tf_weights = None
    checkpoint_key_renames: Tuple[Tuple[str, str], ...] = ()
    # patterns of checkpoint keys whose renamed tensor is loaded when the checkpoint also holds the new name
    # (transformers' MLM heads with tie_word_embeddings=False: the decoder's bias is the one its forward reads)
    renamed_keys_win: Tuple[str, ...] = ()
    # (pattern, alias): keys save_pretrained writes a second time under the alias where the config unties the
    # embeddings (transformers' untied MLM heads read the decoder's own bias, which 1.2.0's names fold in)
    untied_save_aliases: Tuple[Tuple[str, str], ...] = ()
    keys_to_ignore_on_load: Tuple[str, ...] = ()
    missing_keys_expected: Tuple[str, ...] = ()  # weights this class does not use (logged, not warned)
    tied_head_keys: Tuple[str, ...] = ()
    # whether a layer may lose every attention head (its attention then adds only the output bias, as BERT's does
    # in 1.2.0); False where 1.2.0 divides by the head count and fails with ZeroDivisionError
    prunes_whole_layers = True

    def __init__(self, config: PretrainedConfig, *inputs: Any, **kwargs: Any):
        super().__init__()
        if not isinstance(config, PretrainedConfig):
            raise TypeError(
                f"config in `{type(self).__name__}(config)` must be a PretrainedConfig, got {type(config).__name__}; "
                f"to load a pretrained model use `{type(self).__name__}.from_pretrained(name_or_path)`")
        config.validate()
        self.config = config

    def __init_subclass__(cls, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        forward = cls.__dict__.get("forward")
        if forward is not None:
            cls.forward = _taking_return_dict(forward)
        init = cls.__dict__.get("__init__")
        if init is not None and is_library_module(cls.__module__):
            cls.__init__ = _recording_structure(init, cls)

    @property
    def name_or_path(self) -> str:
        """What from_pretrained loaded the model from (transformers' attribute; "" for a model built here)."""
        return self.config.name_or_path

    @property
    def device(self) -> torch.device:
        """The device of the parameters (transformers' attribute)."""
        return next(self.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        """The floating-point dtype of the parameters (transformers' attribute; an int8 model's float ones)."""
        return next((t.dtype for t in self.parameters() if t.is_floating_point()), torch.float32)

    @classmethod
    def can_generate(cls) -> bool:
        """Whether the class has `generate` (transformers' class method; pipelines and trainers ask it)."""
        return callable(getattr(cls, "generate", None))

    # ---- weights ----------------------------------------------------------------------------------------

    @property
    def base_model(self) -> nn.Module:
        return getattr(self, self.base_model_prefix, self)

    def _init_weights(self, module: nn.Module) -> None:
        """Initialises one module's own weights (each family defines it, as the reference does). Written through
        nn.init, in place on the parameter: its version counter moves and the packed copies of the fast path are
        rebuilt (a write into `.data` goes unseen)."""

    def init_weights(self) -> None:
        """Initialises all weights, then prunes the heads the config lists."""
        self.apply(self._init_weights)
        if self.config.pruned_heads:
            self.prune_heads(self.config.pruned_heads)
        self.tie_weights()

    def get_input_embeddings(self) -> Optional[nn.Module]:
        base = self.base_model
        return base.get_input_embeddings() if base is not self else None

    def set_input_embeddings(self, value: nn.Module) -> None:
        base = self.base_model
        if base is self:
            raise NotImplementedError(f"{type(self).__name__} has no input embeddings to set")
        base.set_input_embeddings(value)

    def get_output_embeddings(self) -> Optional[nn.Module]:
        return None

    def tie_weights(self) -> None:
        """Shares the output projection with the input embeddings (a copy under torchscript)."""
        output = self.get_output_embeddings()
        if output is None or not getattr(self.config, "tie_word_embeddings", True):
            return
        embeddings = self.get_input_embeddings()
        if isinstance(getattr(output, "weight", None), nn.Parameter) and \
                isinstance(getattr(embeddings, "weight", None), nn.Parameter) and \
                embeddings.weight.is_meta and not output.weight.is_meta:
            # the checkpoint holds the tied matrix under the head's name only (transformers does that)
            embeddings.weight = output.weight
        self._tie_or_clone_weights(output, embeddings)

    def _tie_or_clone_weights(self, first_module: nn.Module, second_module: nn.Module) -> None:
        if isinstance(second_module, QuantizedEmbedding):  # quantize(..., embeddings=True)
            if isinstance(first_module, QuantizedLinear) and \
                    first_module.weight_int8.shape == second_module.weight_int8.shape:
                _share_int8_matrix(first_module, second_module)
            return  # a float head beside int8 embeddings keeps its own float matrix
        if not isinstance(getattr(first_module, "weight", None), nn.Parameter):
            return  # an int8 output projection (quantize(..., lm_head=True)) keeps its own quantized copy
        if self.config.torchscript:
            first_module.weight = nn.Parameter(second_module.weight.clone())
        else:
            first_module.weight = second_module.weight
        bias = getattr(first_module, "bias", None)
        if bias is not None and bias.shape[0] != first_module.weight.shape[0] and not bias.is_meta:
            first_module.bias.data = nn.functional.pad(bias.data, (0, first_module.weight.shape[0] - bias.shape[0]))

    def resize_token_embeddings(self, new_num_tokens: Optional[int] = None,
                                pad_to_multiple_of: Optional[int] = None) -> nn.Embedding:
        """Resizes the input token embeddings (new rows initialised, removed rows dropped) and re-ties.
        pad_to_multiple_of (transformers'): the size rounded up to a multiple of it (of the present size when
        new_num_tokens is None)."""
        old = self.get_input_embeddings()
        new_num_tokens = padded_vocab_size(new_num_tokens, old.weight.shape[0], pad_to_multiple_of)
        if new_num_tokens is None or new_num_tokens == old.weight.shape[0]:
            return old
        if is_quantized(self):
            raise RuntimeError("resize_token_embeddings: the model is quantized (inference-only): resize the float "
                               "model, then quantize it")
        if isinstance(new_num_tokens, bool) or not isinstance(new_num_tokens, int) or new_num_tokens < 1:
            raise ValueError(f"new_num_tokens must be a positive integer, got {new_num_tokens!r}")
        new = nn.Embedding(new_num_tokens, old.weight.shape[1], padding_idx=old.padding_idx
                           if old.padding_idx is not None and old.padding_idx < new_num_tokens else None)
        new.to(device=old.weight.device, dtype=old.weight.dtype)
        self._init_weights(new)
        keep = min(old.weight.shape[0], new_num_tokens)
        with torch.no_grad():
            new.weight[:keep] = old.weight[:keep]
        self.set_input_embeddings(new)
        self.config.vocab_size = new_num_tokens
        if hasattr(self.base_model, "vocab_size"):
            self.base_model.vocab_size = new_num_tokens
        self._resize_output_bias(new_num_tokens)
        self.tie_weights()
        self.invalidate_fast_path()
        return self.get_input_embeddings()

    def _resize_output_bias(self, new_num_tokens: int) -> None:
        """Families whose LM head has its own bias of size vocab resize it here (new entries 0)."""

    @staticmethod
    def _resized_bias(bias: nn.Parameter, new_num_tokens: int) -> nn.Parameter:
        new = torch.zeros(new_num_tokens, dtype=bias.dtype, device=bias.device)
        keep = min(new_num_tokens, bias.shape[0])
        new[:keep] = bias.detach()[:keep]
        return nn.Parameter(new)

    def prune_heads(self, heads_to_prune: Dict[int, Iterable[int]]) -> None:
        """Removes attention heads: {layer index: [head indices]}; recorded in config.pruned_heads."""
        if is_quantized(self):
            raise ValueError(f"{type(self).__name__}.prune_heads: the model is quantized (its int8 projections "
                             f"cannot be cut); prune the float model, then quantize it")
        unions = {int(layer): set(self.config.pruned_heads.get(int(layer), [])) | set(heads)
                  for layer, heads in heads_to_prune.items()}
        for layer, union in unions.items():
            if not self.prunes_whole_layers and len(union) >= self.config.num_attention_heads:
                raise ValueError(f"{type(self).__name__} cannot prune every head of layer {layer} (heads "
                                 f"{sorted(union)} of {self.config.num_attention_heads}): keep at least one")
        for layer, union in unions.items():
            self.config.pruned_heads[layer] = sorted(union)
        self.base_model._prune_heads({int(k): list(v) for k, v in heads_to_prune.items()})
        self.invalidate_fast_path()

    def num_parameters(self, only_trainable: bool = False, exclude_embeddings: bool = False) -> int:
        """Parameters counted once each (tied ones once); exclude_embeddings leaves out nn.Embedding tables, as
        transformers."""
        seen = set()
        if exclude_embeddings:
            seen = {id(p) for module in self.modules() if isinstance(module, nn.Embedding)
                    for p in module.parameters(recurse=False)}
        total = 0
        for p in self.parameters():
            if id(p) in seen or (only_trainable and not p.requires_grad):
                continue
            seen.add(id(p))
            total += p.numel()
        return total

    # ---- training helpers of transformers ---------------------------------------------------------------

    def gradient_checkpointing_enable(self, gradient_checkpointing_kwargs: Optional[dict] = None) -> None:
        """transformers' activation checkpointing: in training, every layer's activations are recomputed in backward
        (torch.utils.checkpoint.checkpoint with gradient_checkpointing_kwargs, default use_reentrant=False). With
        use_reentrant=True the input embeddings' output is made to require grad (enable_input_require_grads), without
        which that variant gives frozen embeddings' layers no gradients; the other needs no such hook (a hook on the
        embeddings makes inference take the reference path)."""
        options = dict(gradient_checkpointing_kwargs or {"use_reentrant": False})
        from torch.utils.checkpoint import checkpoint

        function = functools.partial(checkpoint, **options)
        for stack in self._layer_stacks():
            stack.checkpoint_function = function
        if options.get("use_reentrant", True):
            self.enable_input_require_grads()

    def gradient_checkpointing_disable(self) -> None:
        for stack in self._layer_stacks():
            stack.checkpoint_function = None
        self.disable_input_require_grads()

    def _layer_stacks(self):
        return (module for module in self.modules() if isinstance(module, CheckpointedLayers))

    activation_checkpointing_enable = gradient_checkpointing_enable  # (transformers 5's names)
    activation_checkpointing_disable = gradient_checkpointing_disable

    @property
    def is_gradient_checkpointing(self) -> bool:
        return any(stack.checkpoint_function is not None for stack in self._layer_stacks())

    is_activation_checkpointing = is_gradient_checkpointing

    def enable_input_require_grads(self) -> None:
        """The input embeddings' output requires grad (for adapters or checkpointing over frozen embeddings)."""
        self.disable_input_require_grads()
        embeddings = self.get_input_embeddings()
        self._require_grads_hook = embeddings.register_forward_hook(
            lambda module, args, output: output.requires_grad_(True))

    def disable_input_require_grads(self) -> None:
        hook = self.__dict__.pop("_require_grads_hook", None)
        if hook is not None:
            hook.remove()

    def post_init(self) -> None:
        """transformers' name of init_weights's work (initialise, prune the config's heads, tie)."""
        self.init_weights()

    def get_memory_footprint(self, return_buffers: bool = True) -> int:
        """Bytes of the parameters (and buffers), as transformers."""
        total = sum(p.nelement() * p.element_size() for p in self.parameters())
        if return_buffers:
            total += sum(b.nelement() * b.element_size() for b in self.buffers())
        return total

    # ---- fast path bookkeeping (families with a fast inference path override invalidate) ----------------

    def invalidate_fast_path(self) -> None:
        """Drops derived inference buffers (packed weights); they are rebuilt from the parameters."""
        for module in self.modules():
            for value in module.__dict__.values():
                if isinstance(value, FastPath):
                    value.invalidate()
                    value._watch = None  # (it holds the old modules and tensors: let them go now)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        # (tensors made under torch.inference_mode() have no version counter to show the copy)
        result = super().load_state_dict(state_dict, strict=strict, assign=assign)
        self.invalidate_fast_path()
        return result

    def train(self, mode: bool = True):
        result = super().train(mode)
        if mode:
            self.invalidate_fast_path()
        return result

    def _apply(self, fn, *args, **kwargs):
        # .to(), .half(), .cuda() ... produce new parameters: packed copies must follow.
        result = super()._apply(fn, *args, **kwargs)
        self.invalidate_fast_path()
        return result

    # ---- saving -----------------------------------------------------------------------------------------

    def save_pretrained(self, save_directory, safe_serialization: bool = False, state_dict=None,
                        variant: Optional[str] = None, max_shard_size=None, is_main_process: bool = True,
                        save_function=torch.save, push_to_hub: bool = False, **hub_options) -> None:
        """Writes config.json and WEIGHTS_NAME (pytorch_model.bin: torch.save of the state dict, as 1.2.0
        does), or model.safetensors with safe_serialization=True (tied weights stored once); pytorch-transformers
        1.2.0 reads the first, this library and `transformers` read both. Weights files of either format left in
        the folder by an earlier save (shards included) are removed, since loading could prefer them.
        variant="fp16" names the file model.fp16.safetensors / pytorch_model.fp16.bin, as transformers does.
        max_shard_size (bytes, or a size such as "2GB"; default one file): transformers' sharding, shards of at most
        that size (a larger tensor alone in one) named model-00001-of-00003.safetensors beside the index
        model.safetensors.index.json (pytorch_model-...bin and pytorch_model.bin.index.json without safetensors),
        which 1.2.0 cannot read. is_main_process and save_function: transformers' arguments for distributed runs
        (accelerate's scripts pass them): a process that is not the main one writes nothing, and save_function
        (accelerator.save) writes the .bin files in place of torch.save. push_to_hub=True (with repo_id=...,
        commit_message=..., private=..., token=...) uploads the folder to the Hugging Face hub, as transformers."""
        if not is_main_process:
            return
        if os.path.isfile(save_directory):
            raise ValueError(f"save_directory must be a folder, {save_directory!r} is a file")
        os.makedirs(save_directory, exist_ok=True)
        model = self.module if hasattr(self, "module") else self
        model.config.architectures = [type(model).__name__]
        dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), None)
        for key in ("dtype", "torch_dtype"):  # (a transformers config's entry: "auto" reads it back)
            if dtype is not None and getattr(model.config, key, None) is not None:
                setattr(model.config, key, str(dtype)[len("torch."):])
        model.config.save_pretrained(save_directory)
        generation = getattr(model, "generation_config", None)
        # (ours or a transformers.GenerationConfig; one made from config.json at load is made again from it)
        if generation is not None and set(generation.to_diff_dict()) - {"_from_model_config"}:
            generation.save_pretrained(save_directory)
        if state_dict is None:
            state_dict = model.state_dict()
            if getattr(model.config, "tie_word_embeddings", True) is False:
                for pattern, alias in model.untied_save_aliases:
                    # (a copy: safetensors keeps a tensor shared by two names once)
                    state_dict.update({re.sub(pattern, alias, key): value.clone()
                                       for key, value in list(state_dict.items()) if re.search(pattern, key)})
        weights_name, index_name = weight_file_names(bool(safe_serialization), variant)
        tensors = _safetensors_ready(state_dict) if safe_serialization else dict(state_dict)
        files, index = _shards(tensors, weights_name, max_shard_size)
        if safe_serialization:
            from safetensors.torch import save_file

            save = functools.partial(save_file, metadata={"format": "pt"})
        else:
            save = save_function
        for name, part in files.items():
            _write_replacing(os.path.join(save_directory, name), functools.partial(save, part))
        if index is not None:
            _write_replacing(os.path.join(save_directory, index_name), lambda path: _write_json(path, index))
        written = set(files) | ({index_name} if index is not None else set())
        for stale in _weight_files_in(save_directory, variant):
            if stale not in written:
                os.remove(os.path.join(save_directory, stale))
        self._push_saved(save_directory, push_to_hub, hub_options)

    # ---- loading ----------------------------------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args: Any, **kwargs: Any):
        """Model from a shortcut name (`bert-base-uncased`), a folder (config.json + model.safetensors or
        pytorch_model.bin), a weights file (with config=...), or a Hugging Face hub repository id.

        Options: config (a config object or path), state_dict (use these weights), cache_dir,
        force_download, local_files_only, revision, token, output_loading_info, torch_dtype or dtype (see
        resolve_dtype; float32 by default, as 1.2.0, but an int8 folder loads as it was saved), quantize ("int8":
        transformers_fast.quantize(model, "int8") once loaded, or a dict of quantize()'s arguments such as
        {"method": "int8", "lm_head": True, "embeddings": True}; a folder saved from a quantized model loads
        quantized without it); other keyword arguments override config attributes (or go to the model's __init__
        when they are not attributes). The model is returned in eval mode.
        """
        config = kwargs.pop("config", None)
        quantize = kwargs.pop("quantize", None)
        state_dict = kwargs.pop("state_dict", None)
        output_loading_info = kwargs.pop("output_loading_info", False)
        torch_dtype = kwargs.pop("torch_dtype", kwargs.pop("dtype", None))
        device = device_of_map(kwargs.pop("device_map", None))
        weight_files = weight_file_names(kwargs.pop("use_safetensors", None), kwargs.pop("variant", None))
        ignore_mismatched_sizes = kwargs.pop("ignore_mismatched_sizes", False)
        # transformers' options whose effect this loader has anyway: it builds on the meta device and reads each
        # weight once (low_cpu_mem_usage); its attention is its own kernels whatever the implementation named
        kwargs.pop("low_cpu_mem_usage", None)
        if not isinstance(kwargs.pop("attn_implementation", ""), (str, type(None))):
            raise TypeError("attn_implementation must be a string such as 'eager' or 'sdpa'")
        for option in ("max_memory", "offload_folder", "offload_state_dict", "offload_buffers"):
            kwargs.pop(option, None)  # (how transformers spreads a model over devices and disk: here one device)
        if kwargs.pop("quantization_config", None) is not None:
            raise ValueError("quantization_config (transformers' quantizers) is not supported: pass quantize='int8' "
                             "(this library's int8) or torch_dtype=torch.bfloat16")
        key_mapping = kwargs.pop("key_mapping", None)
        hub_kwargs = pop_hub_kwargs(kwargs)
        if kwargs.pop("from_tf", False):  # (a local checkpoint: the download options have nothing to do)
            return cls._from_tf_checkpoint(pretrained_model_name_or_path, config, output_loading_info, kwargs)
        name = os.fspath(pretrained_model_name_or_path) if pretrained_model_name_or_path is not None else None

        config_file = None  # the config.json read, whose own fields transformers' generation config takes
        if config is None:
            if name is None:
                raise ValueError("from_pretrained needs a name or path, or config= and state_dict=")
            config_file = cls.config_class.resolve_config_file(name, **hub_kwargs)
        elif isinstance(config, (str, os.PathLike)):
            config_file = cls.config_class.resolve_config_file(config, **hub_kwargs)
        if config_file is not None:  # (resolved once: the config and the generation config read this file)
            config, model_kwargs = cls.config_class.from_pretrained(config_file, return_unused_kwargs=True, **kwargs)
        else:
            if not isinstance(config, PretrainedConfig):
                raise TypeError(f"config must be a PretrainedConfig or a path, got {type(config).__name__}")
            model_kwargs = kwargs
        if name is not None:
            config._name_or_path = name  # (model.name_or_path, as transformers sets it)
        unknown = _unknown_arguments(cls, model_kwargs)
        if unknown:
            raise TypeError(f"{cls.__name__}.from_pretrained got {', '.join(map(repr, unknown))}: neither a loading "
                            f"option, a config attribute, nor an argument of {cls.__name__}(config)")

        # Normal tensors even when called under torch.inference_mode(): inference tensors could never be used
        # with autograd later (a forward with grad enabled, fine-tuning), which the reference allows.
        with torch.inference_mode(False):
            if state_dict is None:
                weights_file = cls._resolve_weights_file(name, hub_kwargs, weight_files)
                state_dict = load_state_dict(weights_file)
                source = weights_file
            else:
                source = "the given state_dict"
            if key_mapping:
                state_dict = _renamed_by_key_mapping(state_dict, key_mapping)

            with BuildOnMeta() as build:
                model = cls(config, *model_args, **model_kwargs)
            build.resolve_owners(model)
            quantized = getattr(config, "quantization", None)
            if quantized is not None:  # saved from a quantized model: its int8 layers, then their tensors
                from transformers_fast.quantization import prepare_quantized

                prepare_quantized(model, quantized)
            # safetensors holds a tied matrix once, torch.save (1.2.0) under each of its names
            info = model._load_checkpoint(state_dict, source, build_writes=build.writes,
                                          tied_stored_once=".safetensors" in os.path.basename(source),
                                          ignore_mismatched_sizes=ignore_mismatched_sizes)
            if torch_dtype is None and quantized is not None:
                torch_dtype = "auto"  # an int8 folder (1.2.0 cannot read one) loads as it was saved
            torch_dtype = resolve_dtype(torch_dtype, config, state_dict)
            if torch_dtype is not None:
                model.to(torch_dtype)
        model.eval()
        if hasattr(model, "generate") and name is not None:
            from transformers_fast.generation import GenerationConfig

            generation_file = cls._generation_config_file(name, hub_kwargs)
            if generation_file is not None:
                model.generation_config = GenerationConfig.from_json_file(generation_file)
            elif config_file is not None:  # transformers: the generate options config.json itself names
                model.generation_config = GenerationConfig.from_model_config(read_json_fields(config_file))
        if device is not None:
            model.to(device)
        if quantized is not None:
            for p in model.parameters():  # inference-only, as after quantize()
                p.requires_grad_(False)
        if quantize is not None:
            from transformers_fast.quantization import quantize as quantize_model

            if isinstance(quantize, dict):
                quantize_model(model, **quantize)
            else:
                quantize_model(model, quantize)
        return (model, info) if output_loading_info else model

    @classmethod
    def _from_tf_checkpoint(cls, name, config, output_loading_info: bool, kwargs: Dict[str, Any]):
        """1.2.0's from_pretrained(from_tf=True): a model initialised as usual, then the TensorFlow checkpoint
        (a folder holding model.ckpt.index, or the path of a .ckpt / .ckpt.index file) read into it."""
        load_tf = cls.load_tf_weights
        if load_tf is None:
            raise ValueError(f"{cls.__name__} has no TensorFlow checkpoint reader (1.2.0 has none for it either)")
        path = os.fspath(name)
        if os.path.isdir(path):
            path = os.path.join(path, TF_WEIGHTS_NAME)
        elif path.endswith(".index"):
            path = path[:-len(".index")]
        if not os.path.isfile(path + ".index"):
            raise OSError(f"no TensorFlow checkpoint at {path!r} (expected {path}.index)")
        if config is None:
            config, model_kwargs = cls.config_class.from_pretrained(os.path.dirname(path) or ".",
                                                                    return_unused_kwargs=True, **kwargs)
        elif isinstance(config, (str, os.PathLike)):
            config, model_kwargs = cls.config_class.from_pretrained(config, return_unused_kwargs=True, **kwargs)
        else:
            model_kwargs = kwargs
        with torch.inference_mode(False):
            model = cls(config, **model_kwargs)
            load_tf(model, config, path)
        model.eval()
        info = {"missing_keys": [], "unexpected_keys": [], "error_msgs": []}
        return (model, info) if output_loading_info else model

    @classmethod
    def from_transformers(cls, hf_model: nn.Module):
        """Wraps a live `transformers` model of the same family: the parameters are shared, not copied."""
        hf_config = getattr(hf_model, "config", None)
        if hf_config is None or not hasattr(hf_config, "to_dict"):
            raise TypeError(f"expected a transformers PreTrainedModel, got {type(hf_model).__name__}")
        config = cls.config_class.from_transformers_dict(hf_config.to_dict())
        with no_weight_init():
            model = cls(config)
        model._load_checkpoint(hf_model.state_dict(keep_vars=True), type(hf_model).__name__, convert_dtype=False)
        model.train(hf_model.training)
        return model

    @classmethod
    def _resolve_weights_file(cls, name: str, hub_kwargs: Dict[str, Any],
                              weight_files: Sequence[str] = WEIGHT_FILE_NAMES) -> str:
        wanted = " or ".join(f for f in weight_files if not f.endswith(".json"))
        if os.path.isdir(name):
            folder = file_utils.subfolder_path(name, hub_kwargs.get("subfolder"))
            for filename in weight_files:
                path = os.path.join(folder, filename)
                if os.path.isfile(path):
                    return path
            hint = ""
            if any(os.path.exists(os.path.join(folder, f)) for f in ("tf_model.h5", "model.ckpt.index", "flax_model.msgpack")):
                hint = " (it holds TensorFlow/Flax weights: convert them to PyTorch with transformers)"
            elif any(os.path.isfile(os.path.join(folder, f)) for f in WEIGHT_FILE_NAMES):
                hint = " (use_safetensors= or variant= rule out the weights it holds)"
            raise OSError(f"no {wanted} in the folder {folder!r}{hint}")
        if os.path.isfile(name):
            return name
        repo_ids = hub_repo_ids(cls.pretrained_model_archive_map, name)
        if repo_ids is None:
            raise OSError(
                f"{name!r} is not a folder, a file, a shortcut name of {cls.__name__} "
                f"({', '.join(cls.pretrained_model_archive_map) or 'none'}) or a hub repository id")
        path = file_utils.first_hub_file(repo_ids, weight_files, **hub_kwargs)
        if path is None:
            raise OSError(f"the hub repository {repo_ids[0]!r} has no {wanted}")
        if path.endswith(".json"):  # an index (variant: ...index.fp16.json): its shards land beside it
            for shard in shard_names(path):
                if file_utils.hub_file(repo_ids, shard, **hub_kwargs) is None:
                    raise OSError(f"the hub repository {repo_ids[0]!r} has no {shard}, a shard its index names")
        return path

    @classmethod
    def _generation_config_file(cls, name: str, hub_kwargs: Dict[str, Any]) -> Optional[str]:
        """The generation_config.json beside the weights (transformers reads its generate options from it), if
        there is one: in the folder, or in the hub repository when cached or downloadable."""
        if os.path.isdir(name):
            path = os.path.join(file_utils.subfolder_path(name, hub_kwargs.get("subfolder")), GENERATION_CONFIG_NAME)
            return path if os.path.isfile(path) else None
        repo_ids = None if os.path.isfile(name) else hub_repo_ids(cls.pretrained_model_archive_map, name)
        if repo_ids is None:
            return None
        try:
            return file_utils.hub_file(repo_ids, GENERATION_CONFIG_NAME, **hub_kwargs)
        except OSError:  # offline and not cached: the weights were, so the model loads without it
            return None

    def _map_checkpoint_keys(self, checkpoint_keys: Sequence[str],
                             model_keys: set) -> Tuple[Dict[str, str], List[str], Optional[str]]:
        """checkpoint key -> model key for every usable key, the checkpoint keys left over, and how the base
        model's prefix was handled: "added" (a base checkpoint into a model with a head), "stripped" (a
        checkpoint with a head into the base model) or None."""
        rules = [(re.compile(p), r) for p, r in COMMON_KEY_RENAMES + tuple(self.checkpoint_key_renames)]
        renamed: Dict[str, str] = {}
        duplicates = set()
        present = set(checkpoint_keys)
        winners = [re.compile(p) for p in self.renamed_keys_win]
        for key in checkpoint_keys:
            new = key
            for pattern, repl in rules:
                new = pattern.sub(repl, new)
            if new != key and new in present:
                if any(w.search(key) for w in winners):
                    duplicates.add(new)  # this name's tensor is loaded in place of the one saved as `new`
                else:
                    duplicates.add(key)  # both names saved (a tied alias): the other one is loaded
                    continue
            renamed[key] = new
        for key in duplicates:
            if renamed.get(key) == key:
                del renamed[key]

        prefix = self.base_model_prefix
        prefix_handling = None
        if prefix:
            dotted = prefix + "."
            ckpt_has_prefix = any(k.startswith(dotted) for k in renamed.values())
            model_has_prefix = any(k.startswith(dotted) for k in model_keys)
            if model_has_prefix and not ckpt_has_prefix:  # base checkpoint into a model with a head
                renamed = {k: (dotted + v if (dotted + v) in model_keys else v) for k, v in renamed.items()}
                prefix_handling = "added"
            elif ckpt_has_prefix and not model_has_prefix:  # checkpoint with a head into the base model
                renamed = {k: (v[len(dotted):] if v.startswith(dotted) else v) for k, v in renamed.items()}
                prefix_handling = "stripped"

        mapping = {k: v for k, v in renamed.items() if v in model_keys}
        # transformers saves some tied heads (OpenAIGPTDoubleHeadsModel) with the matrix under the head's
        # name only: a base model without that head takes its input embeddings from there
        if self.tied_head_keys and self.get_output_embeddings() is None:
            embeddings = self.get_input_embeddings().weight
            embed_key = next((n for n, p in self.named_parameters() if p is embeddings), None)
            if embed_key is not None and embed_key not in mapping.values():
                tied = [k for k in checkpoint_keys if k in self.tied_head_keys]
                if tied:
                    mapping[tied[0]] = embed_key
        leftover = [k for k in checkpoint_keys if k not in mapping and k not in duplicates]
        return mapping, leftover, prefix_handling

    def _load_checkpoint(self, state_dict: Dict[str, torch.Tensor], source: str, convert_dtype: bool = True,
                         build_writes: Optional[Sequence[InitWrite]] = None,
                         tied_stored_once: bool = False, ignore_mismatched_sizes: bool = False) -> LoadingInfo:
        """Assigns the checkpoint's tensors and materialises the rest. With the writes recorded while the model
        was built, the new weights and torch's random generator end as after an eager build (1.2.0's).
        The loading info lists, as 1.2.0, every model key the checkpoint lacks, tied ones included, unless
        tied_stored_once (the checkpoint format keeps one name of a tied matrix). With ignore_mismatched_sizes
        (transformers') a tensor whose shape differs from the model's is left out and initialised as new, and
        listed in mismatched_keys as (name, checkpoint shape, model shape)."""
        model_state = self.state_dict(keep_vars=True)
        mapping, leftover, prefix_handling = self._map_checkpoint_keys(list(state_dict.keys()), set(model_state.keys()))

        mismatched, mismatched_keys = [], []
        for ckpt_key, model_key in list(mapping.items()):
            have, want = tuple(state_dict[ckpt_key].shape), tuple(model_state[model_key].shape)
            if have != want:
                mismatched.append(f"{model_key}: the checkpoint has shape {have}, the model wants {want}"
                                  + (f" (checkpoint name {ckpt_key})" if ckpt_key != model_key else ""))
                mismatched_keys.append((model_key, state_dict[ckpt_key].shape, model_state[model_key].shape))
                if ignore_mismatched_sizes:
                    del mapping[ckpt_key]
        if mismatched and not ignore_mismatched_sizes:
            raise CheckpointShapeError(f"size mismatch loading {type(self).__name__} from {source} (pass "
                                       f"ignore_mismatched_sizes=True to initialise these anew):\n  "
                                       + "\n  ".join(mismatched))
        if mismatched:
            logger.warning("Weights of %s initialized anew, their shapes differ from %s: %s",
                           type(self).__name__, source, mismatched)
        if state_dict and not mapping:  # 1.2.0 returns a model of random weights here
            raise ValueError(
                f"none of the weights in {source} belong to {type(self).__name__}: a checkpoint of another "
                f"architecture? It holds {sorted(state_dict)[:3]}..., the model has {sorted(model_state)[:3]}...")

        to_load = {}
        for ckpt_key, model_key in mapping.items():
            tensor = state_dict[ckpt_key]
            want = model_state[model_key]
            if convert_dtype and tensor.dtype != want.dtype and tensor.is_floating_point():
                tensor = tensor.to(want.dtype)
            elif want.is_floating_point() and not tensor.is_floating_point() and not tensor.is_complex():
                tensor = tensor.to(want.dtype)  # (integer or bool values of a float weight: both references copy)
            to_load[model_key] = tensor
        self.load_state_dict(to_load, strict=False, assign=True)
        _share_as_built(self, model_state, to_load)
        self.tie_weights()

        missing = [name for name, t in self.state_dict(keep_vars=True).items() if t.is_meta]
        int8_missing = [name for name in missing if name.endswith((".weight_int8", ".weight_scale"))]
        if int8_missing:  # (a new int8 layer would be zeros: there is no float weight to quantize)
            raise ValueError(f"{source} is of a quantized model (config.quantization) but lacks the int8 tensors "
                             f"{int8_missing[:4]}{' ...' if len(int8_missing) > 4 else ''}: a float checkpoint under "
                             f"an int8 config? Load it without config.quantization and call quantize()")
        self._materialize_missing(build_writes)
        _share_as_built(self, model_state, to_load)
        self.tie_weights()

        ignore = [re.compile(p) for p in self.keys_to_ignore_on_load]
        unexpected = [k for k in leftover if not any(p.search(k) for p in ignore)]
        expected = [re.compile(p) for p in self.missing_keys_expected]
        surprising = [k for k in missing if not any(p.search(k) for p in expected)]
        if surprising:
            logger.warning("Weights of %s not initialized from %s (newly initialized): %s",
                           type(self).__name__, source, surprising)
        if len(surprising) < len(missing):
            logger.info("Weights of %s unused by it and absent from %s: %s", type(self).__name__, source,
                        [k for k in missing if k not in surprising])
        if unexpected:
            logger.warning("Weights from %s not used in %s: %s", source, type(self).__name__, unexpected)
        provided = set(mapping.values())
        absent = missing if tied_stored_once else [k for k in model_state if k not in provided]
        mismatched_names = {key for key, _, _ in mismatched_keys}
        absent = [k for k in absent if k not in mismatched_names]  # (transformers lists them as mismatched only)
        info = self._loading_info(absent, unexpected, prefix_handling)
        info["mismatched_keys"] = mismatched_keys
        return info

    def _loading_info(self, missing: List[str], unexpected: List[str], prefix_handling: Optional[str]) -> LoadingInfo:
        """1.2.0's loading info: it loads a base checkpoint into the base model of a head class (the head's new
        weights are not listed, the names are the base model's), and a checkpoint with a head into a base model
        reading only the keys under the prefix (named with it; the head's weights are not listed)."""
        dotted = self.base_model_prefix + "."
        if prefix_handling == "added":
            missing = [k[len(dotted):] for k in missing if k.startswith(dotted)]
        elif prefix_handling == "stripped":
            missing = [dotted + k for k in missing]
            unexpected = [k for k in unexpected if k.startswith(dotted)]
        return LoadingInfo(missing_keys=missing, unexpected_keys=unexpected, mismatched_keys=[], error_msgs=[])

    def _materialize_missing(self, build_writes: Optional[Sequence[InitWrite]] = None) -> None:
        """Gives every tensor still on the meta device real storage, initialised as a new model would be:
        by `_init_weights`, or with `build_writes` by replaying the build's writes (see replay_build_draws)."""
        materialised: Dict[int, torch.Tensor] = {}
        for module in self.modules():
            tables = (module._parameters, module._buffers)
            if not any(t is not None and t.is_meta for table in tables for t in table.values()):
                continue
            loaded = []
            with torch.no_grad():
                for table in tables:
                    for name, t in table.items():
                        if t is None:
                            continue
                        if t.is_meta:
                            new = torch.empty_strided(t.shape, t.stride(), dtype=t.dtype, device="cpu").zero_()
                        else:  # loaded (maybe shared with another module): _init_weights writes into a stand-in
                            loaded.append((table, name, t))
                            new = torch.empty_like(t, device="meta")
                        if table is module._parameters:
                            new = nn.Parameter(new, t.requires_grad)
                        if t.is_meta:
                            materialised[id(new)] = new
                        table[name] = new
                if build_writes is None:
                    self._init_weights(module)
                else:
                    with _NoRandomDraws():  # the replay below draws them in the build's order
                        self._init_weights(module)
            for table, name, t in loaded:
                table[name] = t
        if build_writes is not None:
            by_name = {name: t for name, t in list(self.named_parameters(remove_duplicate=False)) +
                       list(self.named_buffers(remove_duplicate=False)) if id(t) in materialised}
            replay_build_draws(build_writes, by_name)


# ---- checkpoint files ---------------------------------------------------------------------------------------


def _share_as_built(model: nn.Module, model_state: Dict[str, torch.Tensor], stored: Dict[str, torch.Tensor]) -> None:
    """A tensor the built model holds under several names (a tied matrix, Transformer-XL's biases with
    untie_r=False) is one tensor again after load_state_dict(assign=True) or materialising, which give each name its
    own: one gradient and one optimizer state, as in 1.2.0. It takes the value stored last in module order (1.2.0
    copies each stored name into the one shared tensor in that order: a tied head's), else the last name's. (Under
    torchscript a tied head is a copy, not shared: 1.2.0's final tie copies the embeddings.)"""
    names_of: Dict[int, List[str]] = {}
    for key, tensor in model_state.items():
        names_of.setdefault(id(tensor), []).append(key)
    current = model.state_dict(keep_vars=True)
    for names in names_of.values():
        if len(names) < 2:
            continue
        shared = current[([key for key in names if key in stored] or names)[-1]]
        for key in names:
            if current[key] is not shared:
                module_name, _, leaf = key.rpartition(".")
                setattr(model.get_submodule(module_name), leaf, shared)


def _share_int8_matrix(head: QuantizedLinear, table: QuantizedEmbedding) -> None:
    """A tied int8 LM head and int8 input embeddings hold one int8 matrix and its row scales (the same numbers:
    both are the float matrix quantized per row). A side still on meta (a checkpoint that stored the pair once)
    takes the other's; two loaded copies are shared only when equal."""
    names = ("weight_int8", "weight_scale")
    head_meta = any(head._buffers[name].is_meta for name in names)
    table_meta = any(table._buffers[name].is_meta for name in names)
    if head_meta and not table_meta:
        for name in names:
            head._buffers[name] = table._buffers[name]
        head.repack()
    elif not head_meta and (table_meta or all(torch.equal(head._buffers[n], table._buffers[n]) for n in names)):
        for name in names:
            table._buffers[name] = head._buffers[name]


def resolve_dtype(value: Any, config: PretrainedConfig, state_dict: Dict[str, torch.Tensor]) -> Optional[torch.dtype]:
    """from_pretrained's torch_dtype (or dtype): None (float32, as 1.2.0), a floating-point torch.dtype, its name
    ("bfloat16"), or "auto" as current transformers reads it: the config's `dtype` (`torch_dtype` in older
    configs), else the checkpoint's (the dtype of most of its floating-point elements: an int8 checkpoint's float32
    scales are few)."""
    given = value
    if isinstance(value, str) and value == "auto":
        value = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
        if value is None:
            sizes: Dict[torch.dtype, int] = {}
            for tensor in state_dict.values():
                if tensor.is_floating_point():
                    sizes[tensor.dtype] = sizes.get(tensor.dtype, 0) + tensor.numel()
            return max(sizes, key=sizes.get) if sizes else None
    if value is None:
        return None
    if isinstance(value, str):
        value = getattr(torch, value[len("torch."):] if value.startswith("torch.") else value, None)
    if not isinstance(value, torch.dtype) or not value.is_floating_point:
        raise ValueError(f"torch_dtype must be a floating-point torch.dtype, its name (\"bfloat16\") or \"auto\", "
                         f"got {given!r}")
    return value


def load_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """Tensors of a weights file: safetensors (memory-mapped), a sharded index, or a PyTorch pickle loaded
    with weights_only=True. A truncated or corrupt file raises OSError naming it."""
    path = os.fspath(path)
    if path.endswith(".json"):  # a shards index (model.safetensors.index.json, variant: ...index.fp16.json)
        return _load_sharded(path)
    with open(path, "rb") as f:
        head = f.read(8)
    if path.endswith(".safetensors") or _looks_like_safetensors(path, head):
        return _load_safetensors(path)
    return _load_torch_pickle(path)


def _looks_like_safetensors(path: str, head: bytes) -> bool:
    if len(head) < 8 or head[:2] == b"PK":  # zip = torch.save archive
        return False
    header_len = int.from_bytes(head, "little")
    return 2 <= header_len <= os.path.getsize(path) - 8


def _safetensors_ready(state_dict) -> Dict[str, torch.Tensor]:
    """The state dict as safetensors stores it: a tied weight once (the first name: the input embeddings), each
    tensor contiguous and in a storage of its own."""
    tensors: Dict[str, torch.Tensor] = {}
    seen: Dict[Tuple, str] = {}
    storages = set()
    for key, tensor in state_dict.items():
        tensor = tensor.detach()
        ident = (tensor.device, tensor.data_ptr(), tuple(tensor.shape), tuple(tensor.stride()))
        if ident in seen:
            continue
        seen[ident] = key
        storage = (tensor.device, tensor.untyped_storage().data_ptr())
        if storage in storages or not tensor.is_contiguous():
            tensor = tensor.contiguous().clone()
        storages.add(storage)
        tensors[key] = tensor
    return tensors


def _shards(tensors: Dict[str, torch.Tensor], weights_name: str, max_shard_size):
    """({file name: its tensors}, the index or None): one file, or transformers' shards (huggingface_hub's
    split_torch_state_dict_into_shards, which transformers uses) where max_shard_size is given and exceeded."""
    if max_shard_size is None:
        return {weights_name: tensors}, None
    if isinstance(max_shard_size, bool) or not isinstance(max_shard_size, (int, str)):
        raise TypeError(f"max_shard_size must be a number of bytes or a size such as '5GB', got {max_shard_size!r}")
    try:
        from huggingface_hub import split_torch_state_dict_into_shards
    except ImportError as err:
        raise ImportError("save_pretrained(max_shard_size=...) needs huggingface_hub >= 0.23") from err
    stem, ext = weights_name.rsplit(".", 1)
    try:
        split = split_torch_state_dict_into_shards(tensors, filename_pattern=f"{stem}{{suffix}}.{ext}",
                                                   max_shard_size=max_shard_size)
    except ValueError as err:
        raise ValueError(f"max_shard_size={max_shard_size!r}: {err}") from err
    if not split.is_sharded:
        return {weights_name: tensors}, None
    files = {name: {key: tensors[key] for key in keys} for name, keys in split.filename_to_tensors.items()}
    return files, {"metadata": dict(split.metadata), "weight_map": dict(split.tensor_to_filename)}


def _weight_files_in(folder: str, variant: Optional[str]) -> List[str]:
    """The weights files of `variant` in a folder: the single files, the indexes, and shards of either format."""
    names = weight_file_names(variant=variant)
    shards = [re.compile(re.escape(stem) + r"-\d{5}-of-\d{5}\." + re.escape(ext) + "$")
              for stem, ext in (name.rsplit(".", 1) for name in names if not name.endswith(".json"))]
    return [f for f in sorted(os.listdir(folder)) if os.path.isfile(os.path.join(folder, f))
            and (f in names or any(pattern.match(f) for pattern in shards))]


def _write_json(path: str, value) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(value, indent=2, sort_keys=True) + "\n")


def _write_replacing(path: str, write) -> None:
    """write(a temporary path beside `path`), then renamed over it. Weights loaded from safetensors stay
    memory-mapped from their file: a model saved back into the folder it came from keeps reading the old file
    (writing over it in place would pull the pages from under the tensors being saved: SIGBUS), and a failed write
    leaves the old file."""
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def _load_safetensors(path: str) -> Dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(path, device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise OSError(f"unable to read the safetensors file {path}: it is truncated or corrupt ({err})") from err


def _load_torch_pickle(path: str) -> Dict[str, torch.Tensor]:
    import pickle

    try:
        # read into memory, as 1.2.0 does: a mapping of the file (mmap=True) would make the model's weights fault
        # (SIGBUS) once the file is written over in place, as torch.save(model.state_dict(), same path) does
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise OSError(f"unable to load {path} with torch.load(weights_only=True): it is corrupt or holds "
                      f"objects other than tensors ({err})") from err
    except Exception as err:  # unpickling garbage fails in many ways; all mean the same to the caller
        raise OSError(f"unable to read the PyTorch weights file {path}: it is truncated or corrupt "
                      f"({type(err).__name__}: {err})") from err
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise OSError(f"{path} does not hold a state dict (a mapping of names to tensors)")
    return state


def shard_names(index_path: str) -> List[str]:
    """The shard files a sharded checkpoint's index (*.index.json) names."""
    try:
        with open(index_path, "r", encoding="utf-8") as f:
            weight_map = json.load(f)["weight_map"]
        return sorted(set(weight_map.values()))
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as err:
        raise OSError(f"{index_path} is not a valid weights index: {err}") from err


def _load_sharded(index_path: str) -> Dict[str, torch.Tensor]:
    folder = os.path.dirname(index_path)
    state: Dict[str, torch.Tensor] = {}
    for shard in shard_names(index_path):
        state.update(load_state_dict(os.path.join(folder, shard)))
    return state


def prune_linear_layer(layer: nn.Linear, index: torch.Tensor, dim: int = 0) -> nn.Linear:
    """A copy of `layer` keeping only the rows (dim=0) or columns (dim=1) in `index`."""
    index = index.to(layer.weight.device)
    weight = layer.weight.index_select(dim, index).clone().detach()
    bias = None
    if layer.bias is not None:
        bias = layer.bias.clone().detach() if dim == 1 else layer.bias[index].clone().detach()
    new_size = list(layer.weight.size())
    new_size[dim] = len(index)
    new_layer = nn.Linear(new_size[1], new_size[0], bias=layer.bias is not None).to(layer.weight.device)
    with torch.no_grad():
        new_layer.weight.copy_(weight)
        if bias is not None:
            new_layer.bias.copy_(bias)
    return new_layer


# ---- input checks shared by the models ----------------------------------------------------------------------


def check_ids(name: str, ids: Any, upper: Optional[int], what: str, shape: Optional[torch.Size] = None,
              device: Optional[torch.device] = None, ignored: Sequence[int] = ()) -> None:
    """ids must be an integer tensor with values in [0, upper) or among `ignored` (upper None: any values), and the
    given shape, on the given device."""
    if not isinstance(ids, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of integer ids, got {type(ids).__name__}")
    if ids.dtype not in (torch.int64, torch.int32):  # (what torch's embedding lookups take)
        raise TypeError(f"{name} must hold integer ids (torch.long or torch.int32), got dtype {ids.dtype}")
    if device is not None and ids.device != device:
        raise ValueError(f"{name} is on device {ids.device} but the model's weights are on {device}: "
                         f"move one of them with .to()")
    if shape is not None and ids.shape != shape:
        raise ValueError(f"{name} has shape {tuple(ids.shape)} but input_ids has shape {tuple(shape)}")
    for value in ignored:
        ids = ids[ids != value]
    if upper is None or ids.numel() == 0 or ids.is_meta or capturing_graph():  # (no values to read)
        return
    low, high = torch.aminmax(ids)
    low, high = int(low), int(high)
    if low < 0 or high >= upper:
        bad = low if low < 0 else high
        raise ValueError(f"{name} holds {bad}, outside [0, {upper - 1}] ({what})")


def check_position_ids(position_ids: Any, num_positions: int, name: str, shape: torch.Size) -> None:
    """position_ids: ids into the position table, [sequence] or [batch or 1, sequence] as the token input."""
    check_ids("position_ids", position_ids, num_positions, "config.max_position_embeddings")
    leading = position_ids.shape[:-1]
    if (position_ids.dim() == 0 or position_ids.shape[-1] != shape[-1] or len(leading) >= len(shape)
            or any(p not in (1, s) for p, s in zip(reversed(leading), reversed(shape[:-1])))):
        raise ValueError(f"position_ids has shape {tuple(position_ids.shape)} but {name} has shape {tuple(shape)} "
                         f"(position_ids must be [sequence] or [batch or 1, sequence])")


def check_one_input(input_ids: Any, inputs_embeds: Any) -> None:
    """Exactly one of input_ids / inputs_embeds, with transformers' messages."""
    if input_ids is not None and inputs_embeds is not None:
        raise ValueError("You cannot specify both input_ids and inputs_embeds at the same time: give one of them")
    if input_ids is None and inputs_embeds is None:
        raise ValueError("You have to specify either input_ids or inputs_embeds")


def check_inputs_embeds(input_ids: Any, inputs_embeds: Any, width: int, dtype: torch.dtype,
                        device: torch.device) -> Optional[torch.Tensor]:
    """transformers' rule: exactly one of input_ids / inputs_embeds. inputs_embeds must be a float tensor
    [..., sequence, width] on the weights' device; one of lower precision than the model's dtype is converted
    (exact), any other dtype is a TypeError. Returns it (None when ids are given: check_ids checks those)."""
    check_one_input(input_ids, inputs_embeds)
    if inputs_embeds is None:
        return None
    if not isinstance(inputs_embeds, torch.Tensor):
        raise TypeError(f"inputs_embeds must be a torch.Tensor of float vectors, got {type(inputs_embeds).__name__}")
    if not inputs_embeds.is_floating_point():
        raise TypeError(f"inputs_embeds must hold float vectors, got dtype {inputs_embeds.dtype} (ids go to input_ids)")
    if inputs_embeds.device != device:
        raise ValueError(f"inputs_embeds is on device {inputs_embeds.device} but the model's weights are on {device}: "
                         f"move one of them with .to()")
    if inputs_embeds.dim() < 3 or inputs_embeds.shape[-1] != width:
        raise ValueError(f"inputs_embeds must have shape [batch, sequence, {width}] (the model's embedding width), "
                         f"got {tuple(inputs_embeds.shape)}")
    if inputs_embeds.dtype != dtype:
        if torch.promote_types(inputs_embeds.dtype, dtype) != dtype:
            raise TypeError(f"inputs_embeds has dtype {inputs_embeds.dtype}, the model's weights are {dtype}: "
                            f"convert them with .to({dtype})")
        inputs_embeds = inputs_embeds.to(dtype)
    return inputs_embeds


def embedding_rows(embedding: nn.Module) -> int:
    """The row count of a word table: nn.Embedding's (or int8) num_embeddings, else its weight's rows (an adapter
    wrapping the table, such as peft's LoRA embedding, exposes the weight only)."""
    rows = getattr(embedding, "num_embeddings", None)
    return rows if isinstance(rows, int) else embedding.weight.shape[0]


def check_token_inputs(input_ids: Any, inputs_embeds: Any, vocab_size: int, vocab_name: str,
                       float_table: torch.Tensor, width_name: str, width: int, max_dims: int = 2):
    """A model's token input, ids or embeddings (exactly one): ids checked against the vocabulary, embeddings by
    check_inputs_embeds against the model's float dtype and device (those of float_table, a float weight beside a
    word table that may be int8), and [batch, sequence] (up to max_dims leading dimensions) for either. Returns
    (inputs_embeds in the model's dtype or None, the input's name, its shape without the embedding width)."""
    inputs_embeds = check_inputs_embeds(input_ids, inputs_embeds, width, float_table.dtype, float_table.device)
    if inputs_embeds is None:
        check_ids("input_ids", input_ids, vocab_size, f"the vocabulary size ({vocab_name})", device=float_table.device)
    name, shape = input_shape(input_ids, inputs_embeds)
    if not 2 <= len(shape) <= max_dims:
        given = input_ids if inputs_embeds is None else inputs_embeds
        raise ValueError(f"{name} must have shape [batch, sequence{'' if inputs_embeds is None else ', ' + width_name}]"
                         f", got {tuple(given.shape)}")
    return inputs_embeds, name, shape


def input_shape(input_ids: Optional[torch.Tensor], inputs_embeds: Optional[torch.Tensor]) -> Tuple[str, torch.Size]:
    """The name and the [..., sequence] shape of the given input (ids, or embeddings less their width)."""
    if inputs_embeds is None:
        return "input_ids", input_ids.shape
    return "inputs_embeds", inputs_embeds.shape[:-1]


def memory_in_dtype(name: str, memory: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A memory carried between calls (Transformer-XL / XLNet mems, GPT-2 past) in the model's float dtype: one of
    lower precision is converted (exact: the reference's type promotion computes with the same values); any other
    dtype is a TypeError naming it (the reference fails there too)."""
    if memory.dtype == dtype:
        return memory
    if memory.is_floating_point() and torch.promote_types(memory.dtype, dtype) == dtype:
        return memory.to(dtype)
    raise TypeError(f"{name} has dtype {memory.dtype}, the model's weights are {dtype}: pass memories of the model's "
                    f"dtype (those a model of that dtype returned), or convert them with .to({dtype})")


def _gelu_erf(x: torch.Tensor) -> torch.Tensor:
    # not F.gelu itself: the decoder fast path fuses a function named "gelu" as the tanh form
    return nn.functional.gelu(x)


def _gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    return nn.functional.gelu(x, approximate="tanh")


def _quick_gelu(x: torch.Tensor) -> torch.Tensor:
    return x * torch.sigmoid(1.702 * x)


def _relu2(x: torch.Tensor) -> torch.Tensor:
    return torch.square(nn.functional.relu(x))


def _linear(x: torch.Tensor) -> torch.Tensor:
    return x


def _gelu_10(x: torch.Tensor) -> torch.Tensor:
    # transformers' ClippedGELUActivation(-10, 10): the erf GELU clipped (for quantization-friendly ranges)
    return torch.clip(nn.functional.gelu(x), -10, 10)


def _laplace(x: torch.Tensor, mu: float = 0.707107, sigma: float = 0.282095) -> torch.Tensor:
    # transformers' LaplaceActivation (MEGA), with its default mu and sigma
    return 0.5 * (1.0 + torch.erf((x - mu).div(sigma * math.sqrt(2.0))))


def _sqrt_softplus(x: torch.Tensor) -> torch.Tensor:
    return nn.functional.softplus(x).sqrt()


# transformers' activation names (ACT2FN) beyond those of 1.2.0, for configs it wrote; the same functions.
TRANSFORMERS_ACTIVATIONS = {
    "gelu_python": _gelu_erf, "gelu_new": _gelu_tanh, "gelu_pytorch_tanh": _gelu_tanh, "gelu_fast": _gelu_tanh,
    "gelu_accurate": _gelu_tanh, "quick_gelu": _quick_gelu, "relu": nn.functional.relu, "relu6": nn.functional.relu6,
    "relu2": _relu2, "silu": nn.functional.silu, "swish": nn.functional.silu, "mish": nn.functional.mish,
    "tanh": torch.tanh, "sigmoid": torch.sigmoid, "linear": _linear, "gelu_python_tanh": _gelu_tanh,
    "gelu_10": _gelu_10, "laplace": _laplace, "leaky_relu": nn.functional.leaky_relu,
    "hardswish": nn.functional.hardswish, "sqrtsoftplus": _sqrt_softplus,
    # (not "prelu" and "xielu": transformers gives those activations weights of their own)
}


def has_empty_row(attention_mask) -> bool:
    """Whether a row of the mask has no real token. The reference then attends over every position (BERT's -10000
    bias shifts all scores alike; DistilBERT's masked scores are all equal), which only the reference path
    computes: the padding-free one has no real key to attend over."""
    return attention_mask is not None and not bool((attention_mask != 0).any(-1).all())


def broadcast_to_input(tensor: Any, shape: torch.Size):
    """A mask or token types broadcastable to the input's [batch, sequence] (one row for all, [1, seq] or [seq]),
    expanded to it (a view), as 1.2.0's BERT broadcasts them; other shapes are left to the checks that name them."""
    if not isinstance(tensor, torch.Tensor) or tensor.shape == shape or tensor.dim() > len(shape):
        return tensor
    try:
        return tensor.expand(shape)
    except RuntimeError:
        return tensor


def check_attention_mask(mask: Any, shape: torch.Size) -> None:
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"attention_mask must be a torch.Tensor, got {type(mask).__name__}")
    if mask.shape != shape:
        raise ValueError(f"attention_mask has shape {tuple(mask.shape)} but input_ids has shape {tuple(shape)}")


def expand_head_mask(head_mask: Optional[torch.Tensor], num_layers: int, num_heads: int, dtype: torch.dtype,
                     pruned_heads: Optional[Dict[int, Iterable[int]]] = None):
    """1.2.0's head_mask handling: [heads] or [layers, heads] -> one broadcastable mask per layer; a 3-D to 5-D
    [layers, ...] mask is kept as given (1.2.0 multiplies each layer's attention probabilities by it).
    pruned_heads (config.pruned_heads): a per-head mask no longer fits a pruned layer, where 1.2.0 fails in torch."""
    if head_mask is None:
        return [None] * num_layers
    if not isinstance(head_mask, torch.Tensor):
        raise TypeError(f"head_mask must be a torch.Tensor, got {type(head_mask).__name__}")
    pruned = {layer: len(heads) for layer, heads in (pruned_heads or {}).items() if heads}
    if pruned and head_mask.dim() in (1, 2):
        layer, count = min(pruned.items())
        raise ValueError(f"head_mask of shape {tuple(head_mask.shape)} masks {num_heads} heads per layer, but layer "
                         f"{layer} has {num_heads - count} left after pruning (config.pruned_heads)")
    if head_mask.dim() == 1:
        if head_mask.shape[0] != num_heads:
            raise ValueError(f"head_mask of shape {tuple(head_mask.shape)} must have {num_heads} entries (one per head)")
        head_mask = head_mask.unsqueeze(0).unsqueeze(0).unsqueeze(-1).unsqueeze(-1)
        head_mask = head_mask.expand(num_layers, -1, -1, -1, -1)
    elif head_mask.dim() == 2:
        if tuple(head_mask.shape) != (num_layers, num_heads):
            raise ValueError(f"head_mask has shape {tuple(head_mask.shape)}, expected ({num_layers}, {num_heads})")
        head_mask = head_mask.unsqueeze(1).unsqueeze(-1).unsqueeze(-1)
    elif head_mask.dim() not in (3, 4, 5) or head_mask.shape[0] != num_layers:
        raise ValueError(f"head_mask must have shape [num_heads], [num_layers, num_heads] or [num_layers, ...] "
                         f"(one mask per layer), got {tuple(head_mask.shape)}")
    return head_mask.to(dtype=dtype)


def loss_ignoring_negative(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy that ignores label -1 (pytorch-transformers 1.2.0) and -100 (transformers)."""
    labels = labels.reshape(-1)
    labels = torch.where(labels < 0, torch.full_like(labels, -100), labels)
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels, ignore_index=-100)


class Conv1D(nn.Module):
    """The linear layer of the original GPT checkpoints: weight stored [in_features, out_features]
    (transposed with respect to nn.Linear), y = x W + b."""

    reads_training = False  # (a layer: the same in both modes)

    def __init__(self, nf: int, nx: int):
        super().__init__()
        self.nf = nf
        weight = torch.empty(nx, nf)
        nn.init.normal_(weight, std=0.02)
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter(torch.zeros(nf))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight)
        return out.view(x.shape[:-1] + (self.nf,))


def prune_conv1d_layer(layer: Conv1D, index: torch.Tensor, dim: int = 1) -> Conv1D:
    """A copy of `layer` keeping only the inputs (dim=0) or outputs (dim=1) in `index`."""
    index = index.to(layer.weight.device)
    weight = layer.weight.index_select(dim, index).clone().detach()
    bias = layer.bias.clone().detach() if dim == 0 else layer.bias[index].clone().detach()
    new_layer = Conv1D(weight.shape[1], weight.shape[0]).to(layer.weight.device)
    with torch.no_grad():
        new_layer.weight.copy_(weight)
        new_layer.bias.copy_(bias)
    return new_layer


class _Activation(nn.Module):
    def __init__(self, function):
        super().__init__()
        self.function = function

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.function(x)


class SequenceSummary(nn.Module):
    """One vector per sequence (1.2.0's multiple-choice head): the token at `cls_index` (or the last, first,
    or mean), then an optional projection (`summary`) and tanh, with the config's dropouts."""

    def __init__(self, config: PretrainedConfig):
        super().__init__()
        self.summary_type = getattr(config, "summary_type", "last")
        if self.summary_type not in ("last", "first", "mean", "cls_index"):
            raise ValueError(f"summary_type {self.summary_type!r} is not supported")
        self.summary = nn.Identity()
        if getattr(config, "summary_use_proj", False):
            if getattr(config, "summary_proj_to_labels", False) and config.num_labels > 0:
                num_classes = config.num_labels
            else:
                num_classes = config.hidden_size
            self.summary = nn.Linear(config.hidden_size, num_classes)
        name = getattr(config, "summary_activation", None)
        if name and getattr(config, "summary_activation_any_name", False):  # (a config transformers wrote)
            function = {"gelu": _gelu_erf}.get(name) or TRANSFORMERS_ACTIVATIONS.get(name)
            if function is None:
                raise ValueError(f"summary_activation {name!r} is not an activation transformers' models take here")
            self.activation = _Activation(function)
        else:  # 1.2.0: tanh, or none whatever else the config names
            self.activation = nn.Tanh() if name == "tanh" else nn.Identity()
        first = getattr(config, "summary_first_dropout", 0)
        last = getattr(config, "summary_last_dropout", 0)
        self.first_dropout = nn.Dropout(first) if first and first > 0 else nn.Identity()
        self.last_dropout = nn.Dropout(last) if last and last > 0 else nn.Identity()

    def forward(self, hidden_states: torch.Tensor, cls_index: Optional[torch.Tensor] = None) -> torch.Tensor:
        if self.summary_type == "last":
            output = hidden_states[:, -1]
        elif self.summary_type == "first":
            output = hidden_states[:, 0]
        elif self.summary_type == "mean":
            output = hidden_states.mean(dim=1)
        else:
            seq = hidden_states.shape[-2]
            if cls_index is None:
                cls_index = torch.full_like(hidden_states[..., :1, :], seq - 1, dtype=torch.long)
            else:
                check_ids("mc_token_ids", cls_index, seq, "the sequence length")
                if cls_index.shape != hidden_states.shape[:-2]:
                    raise ValueError(f"mc_token_ids has shape {tuple(cls_index.shape)}, expected "
                                     f"{tuple(hidden_states.shape[:-2])} (one position per sequence)")
                cls_index = cls_index[..., None, None].expand(cls_index.shape + (1, hidden_states.shape[-1]))
            output = hidden_states.gather(-2, cls_index).squeeze(-2)
        return self.last_dropout(self.activation(self.summary(self.first_dropout(output))))


# ---- SQuAD heads of XLNet and XLM (1.2.0's PoolerStartLogits, PoolerEndLogits, PoolerAnswerClass, SQuADHead) --


def _masked_logits(x: torch.Tensor, p_mask: Optional[torch.Tensor]) -> torch.Tensor:
    """1.2.0's p_mask (1.0 = not a possible answer): x * (1 - p_mask) - 1e30 * p_mask."""
    if p_mask is None:
        return x
    if not isinstance(p_mask, torch.Tensor):
        raise TypeError(f"p_mask must be a torch.Tensor, got {type(p_mask).__name__}")
    if p_mask.dtype is torch.bool:
        p_mask = p_mask.to(x.dtype)  # (torch has no `1 - bool`; 0/1 convert exactly)
    # In the logits' dtype: a float32 or integer mask (what tokenizers give) given to a bfloat16 model gives what
    # the mask in bfloat16 gives, instead of float32 logits that the bfloat16 layers after it refuse.
    return (x * (1 - p_mask) - 1e30 * p_mask).to(x.dtype)


def _positions(name: str, positions: Any, hidden_states: torch.Tensor) -> torch.Tensor:
    """[batch] positions inside the sequence, as the gather of 1.2.0's heads needs them."""
    check_ids(name, positions, hidden_states.shape[-2], "the sequence length")
    if positions.dim() != 1 or positions.shape[0] != hidden_states.shape[0]:
        raise ValueError(f"{name} must have shape [batch] = [{hidden_states.shape[0]}], got {tuple(positions.shape)}")
    return positions


class PoolerStartLogits(nn.Module):
    """SQuAD start logits from the sequence hidden states: [batch, seq, hidden] -> [batch, seq]."""

    def __init__(self, config: PretrainedConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, 1)

    def forward(self, hidden_states: torch.Tensor, p_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        return _masked_logits(self.dense(hidden_states).squeeze(-1), p_mask)


class PoolerEndLogits(nn.Module):
    """SQuAD end logits from the sequence hidden states and the start token's hidden state (given as
    start_states, or gathered at start_positions, which wins when both are given)."""

    def __init__(self, config: PretrainedConfig):
        super().__init__()
        self.dense_0 = nn.Linear(config.hidden_size * 2, config.hidden_size)
        self.activation = nn.Tanh()
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dense_1 = nn.Linear(config.hidden_size, 1)

    def forward(self, hidden_states, start_states=None, start_positions=None, p_mask=None):
        if start_states is None and start_positions is None:
            raise ValueError("PoolerEndLogits needs start_states or start_positions")
        if start_positions is not None:
            slen, hsz = hidden_states.shape[-2:]
            index = _positions("start_positions", start_positions, hidden_states)[:, None, None].expand(-1, -1, hsz)
            start_states = hidden_states.gather(-2, index).expand(-1, slen, -1)  # [batch, seq, hidden]
        x = self.dense_0(torch.cat([hidden_states, start_states], dim=-1))
        x = self.dense_1(self.LayerNorm(self.activation(x))).squeeze(-1)
        return _masked_logits(x, p_mask)


class PoolerAnswerClass(nn.Module):
    """SQuAD 2.0 answerability logit from the CLS token's hidden state (cls_index, default the last position)
    and the start token's (start_states, or gathered at start_positions): [batch]."""

    def __init__(self, config: PretrainedConfig):
        super().__init__()
        self.dense_0 = nn.Linear(config.hidden_size * 2, config.hidden_size)
        self.activation = nn.Tanh()
        self.dense_1 = nn.Linear(config.hidden_size, 1, bias=False)

    def forward(self, hidden_states, start_states=None, start_positions=None, cls_index=None):
        if start_states is None and start_positions is None:
            raise ValueError("PoolerAnswerClass needs start_states or start_positions")
        hsz = hidden_states.shape[-1]
        if start_positions is not None:
            index = _positions("start_positions", start_positions, hidden_states)[:, None, None].expand(-1, -1, hsz)
            start_states = hidden_states.gather(-2, index).squeeze(-2)
        if cls_index is not None:
            index = _positions("cls_index", cls_index, hidden_states)[:, None, None].expand(-1, -1, hsz)
            cls_token_state = hidden_states.gather(-2, index).squeeze(-2)
        else:
            cls_token_state = hidden_states[:, -1, :]
        x = self.activation(self.dense_0(torch.cat([start_states, cls_token_state], dim=-1)))
        return self.dense_1(x).squeeze(-1)


def squad_head_forward(start_logits: PoolerStartLogits, end_logits: PoolerEndLogits, answer_class: PoolerAnswerClass,
                       start_n_top: int, end_n_top: int, hidden_states: torch.Tensor, start_positions=None,
                       end_positions=None, cls_index=None, is_impossible=None, p_mask=None) -> tuple:
    """1.2.0's SQuADHead: with start and end positions, (total_loss,) (start and end cross-entropy averaged, plus
    half the answerability BCE when cls_index and is_impossible are given); otherwise the beam-search outputs
    (start_top_log_probs, start_top_index, end_top_log_probs, end_top_index, cls_logits). As in 1.2.0 the
    "log_probs" are softmax probabilities."""
    if not isinstance(hidden_states, torch.Tensor) or hidden_states.dim() != 3:
        raise ValueError("the SQuAD head takes hidden states [batch, seq, hidden]")
    bsz, slen, hsz = hidden_states.shape
    if p_mask is not None:  # broadcast against [batch, seq] scores, as the references do (which crash otherwise)
        try:
            fits = torch.broadcast_shapes(p_mask.shape, (bsz, slen)) == (bsz, slen)
        except RuntimeError:
            fits = False
        if not fits:
            raise ValueError(f"p_mask has shape {tuple(p_mask.shape)}, expected [batch, seq] = [{bsz}, {slen}]")
    start = start_logits(hidden_states, p_mask=p_mask)
    if start_positions is not None and end_positions is not None:
        squeeze = [x.squeeze(-1) if x is not None and x.dim() > 1 else x  # not in place (1.2.0's squeeze_)
                   for x in (start_positions, end_positions, cls_index, is_impossible)]
        start_positions, end_positions, cls_index, is_impossible = squeeze
        end = end_logits(hidden_states, start_positions=start_positions, p_mask=p_mask)
        check_ids("end_positions", end_positions, slen, "the sequence length")
        total_loss = (nn.functional.cross_entropy(start, start_positions)
                      + nn.functional.cross_entropy(end, end_positions)) / 2
        if cls_index is not None and is_impossible is not None:
            cls_logits = answer_class(hidden_states, start_positions=start_positions, cls_index=cls_index)
            total_loss = total_loss + 0.5 * nn.functional.binary_cross_entropy_with_logits(
                cls_logits, is_impossible.to(cls_logits.dtype))
        return (total_loss,)
    if start_n_top > slen or end_n_top > slen:
        raise ValueError(f"start_n_top ({start_n_top}) and end_n_top ({end_n_top}) must not exceed the sequence "
                         f"length ({slen})")
    start_log_probs = nn.functional.softmax(start, dim=-1)  # [batch, seq]
    start_top_log_probs, start_top_index = torch.topk(start_log_probs, start_n_top, dim=-1)
    start_states = torch.gather(hidden_states, -2, start_top_index.unsqueeze(-1).expand(-1, -1, hsz))
    start_states = start_states.unsqueeze(1).expand(-1, slen, -1, -1)  # [batch, seq, start_n_top, hidden]
    hidden_expanded = hidden_states.unsqueeze(2).expand_as(start_states)
    end = end_logits(hidden_expanded, start_states=start_states, p_mask=None if p_mask is None else p_mask.unsqueeze(-1))
    end_log_probs = nn.functional.softmax(end, dim=1)  # [batch, seq, start_n_top]
    end_top_log_probs, end_top_index = torch.topk(end_log_probs, end_n_top, dim=1)
    end_top_log_probs = end_top_log_probs.reshape(-1, start_n_top * end_n_top)
    end_top_index = end_top_index.reshape(-1, start_n_top * end_n_top)
    start_states = torch.einsum("blh,bl->bh", hidden_states, start_log_probs)
    cls_logits = answer_class(hidden_states, start_states=start_states, cls_index=cls_index)
    return start_top_log_probs, start_top_index, end_top_log_probs, end_top_index, cls_logits


class SQuADHead(nn.Module):
    """1.2.0's SQuAD head inspired by XLNet (see squad_head_forward for its outputs)."""

    def __init__(self, config: PretrainedConfig):
        super().__init__()
        self.start_n_top = config.start_n_top
        self.end_n_top = config.end_n_top
        self.start_logits = PoolerStartLogits(config)
        self.end_logits = PoolerEndLogits(config)
        self.answer_class = PoolerAnswerClass(config)

    def forward(self, hidden_states, start_positions=None, end_positions=None, cls_index=None, is_impossible=None,
                p_mask=None):
        return squad_head_forward(self.start_logits, self.end_logits, self.answer_class, self.start_n_top,
                                  self.end_n_top, hidden_states, start_positions, end_positions, cls_index,
                                  is_impossible, p_mask)


# ---- the remaining module-level names of 1.2.0's modeling_utils -------------------------------------------
TF_WEIGHTS_NAME = "model.ckpt"


def add_start_docstrings(*docstr):
    def docstring_decorator(fn):
        fn.__doc__ = "".join(docstr) + (fn.__doc__ or "")
        return fn
    return docstring_decorator


def add_end_docstrings(*docstr):
    def docstring_decorator(fn):
        fn.__doc__ = (fn.__doc__ or "") + "".join(docstr)
        return fn
    return docstring_decorator


def prune_layer(layer, index: torch.Tensor, dim: Optional[int] = None):
    """A pruned copy of an nn.Linear (default dim 0) or Conv1D (default dim 1) keeping `index` along dim."""
    if isinstance(layer, nn.Linear):
        return prune_linear_layer(layer, index, dim=0 if dim is None else dim)
    if isinstance(layer, Conv1D):
        return prune_conv1d_layer(layer, index, dim=1 if dim is None else dim)
    raise ValueError(f"Can't prune layer of class {layer.__class__}")


# ---- TensorFlow checkpoints (1.2.0's load_tf_weights_in_<family>) ----------------------------------------------

def tf_checkpoint_arrays(path: str) -> List[Tuple[str, Any]]:
    """(name, numpy array) of every variable of the TensorFlow checkpoint at path (needs TensorFlow)."""
    try:
        import tensorflow as tf
    except ImportError as error:
        raise ImportError("Reading a TensorFlow checkpoint needs TensorFlow: pip install tensorflow "
                          "(https://www.tensorflow.org/install/)") from error
    path = os.path.abspath(path)
    logger.info("Converting TensorFlow checkpoint from %s", path)
    return [(name, tf.train.load_variable(path, name)) for name, _ in tf.train.list_variables(path)]


def _tf_target(model: nn.Module, path: str) -> torch.Tensor:
    """The parameter at a dotted 1.2.0 path, read from the model or, when the path starts at the base model
    (or names the base model while this is one), from there."""
    parts = path.split(".")
    prefix = getattr(model, "base_model_prefix", "")
    if prefix and parts[0] == prefix and not hasattr(model, prefix):
        parts = parts[1:]
    elif prefix and not hasattr(model, parts[0]) and hasattr(model, prefix):
        model = getattr(model, prefix)
    target = model
    for part in parts:
        target = getattr(target, part)
    if not isinstance(target, torch.Tensor):
        raise AttributeError(path)
    return target


def assign_tf_weights(model: nn.Module, named_arrays, to_path) -> nn.Module:
    """Copies each TensorFlow (name, array) into the parameter that to_path(name) gives as (dotted path,
    transpose), skipping variables it maps to None (optimiser slots) or that the model does not have."""
    import numpy as np

    for tf_name, array in named_arrays:
        target = to_path(tf_name)
        if target is None:
            logger.info("Skipping %s", tf_name)
            continue
        path, transpose = target
        try:
            param = _tf_target(model, path)
        except AttributeError:
            logger.info("Skipping %s (no %s in %s)", tf_name, path, type(model).__name__)
            continue
        copy_tf_array(tf_name, param, np.transpose(array) if transpose else array, f"{path} of {type(model).__name__}")
    return model


def assign_tf_map(tf_to_pt_map: Dict[str, Any], tf_weights: Dict[str, Any], transposed, *, required: bool) -> None:
    """Fills each parameter of a 1.2.0-style map (TensorFlow name -> parameter, or list of per-layer parameters
    that TensorFlow stacks by layer, or shares when it has one array) from tf_weights; transposed(name) says
    which arrays are dense kernels. required: a name missing from the checkpoint is an error (else skipped)."""
    for name, target in tf_to_pt_map.items():
        if name not in tf_weights:
            if required:
                raise ValueError(f"the TensorFlow checkpoint has no variable {name!r}")
            continue
        array = tf_weights[name].T if transposed(name) else tf_weights[name]
        if not isinstance(target, list):
            copy_tf_array(name, target, array, name)
            continue
        arrays = list(array) if array.ndim == target[0].dim() + 1 else [array] * len(target)
        if len(arrays) != len(target):
            raise ValueError(f"TensorFlow variable {name!r} holds {len(arrays)} layers, the model has {len(target)}")
        for layer, (param, layer_array) in enumerate(zip(target, arrays)):
            copy_tf_array(name, param, layer_array, f"layer {layer}")


def copy_tf_array(tf_name: str, param: torch.Tensor, array, where: str) -> None:
    """param <- array (a TensorFlow variable), in place (tied weights stay tied); ValueError naming both on a
    shape mismatch."""
    import numpy as np

    value = torch.from_numpy(np.ascontiguousarray(array))
    if tuple(param.shape) != tuple(value.shape):
        raise ValueError(f"TensorFlow variable {tf_name!r} has shape {tuple(value.shape)}, but {where} has "
                         f"{tuple(param.shape)}")
    with torch.no_grad():
        param.copy_(value)


def split_indexed(part: str, pattern: str) -> List[str]:
    r"""'layer_3' -> ['layer', '3'] (pattern r'[A-Za-z]+_\d+'), 'h0' -> ['h', '0'] (r'[A-Za-z]+\d+')."""
    if re.fullmatch(pattern, part):
        return [p for p in re.split(r"_?(\d+)", part) if p]
    return [part]
