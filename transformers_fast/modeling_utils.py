"""PreTrainedModel: loading, saving, tying and initialising weights for every model family.

Loading builds the model on the meta device (no time spent initialising weights that are about to be
replaced) and assigns the checkpoint tensors directly (safetensors are memory-mapped, so nothing is
copied); only weights the checkpoint lacks are materialised and initialised. Checkpoint names of
pytorch-transformers 1.2.0, of current `transformers` and TF-era `gamma`/`beta` map to one module tree;
missing and unexpected keys are listed, a shape mismatch is an error naming the key and both shapes.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import torch
from torch import nn

from transformers_fast import file_utils
from transformers_fast.configuration_utils import PretrainedConfig, hub_repo_ids, pop_hub_kwargs
from transformers_fast.runtime.fast_path import FastPath
from transformers_fast.file_utils import (SAFE_WEIGHTS_INDEX_NAME, SAFE_WEIGHTS_NAME,
                                          WEIGHTS_INDEX_NAME, WEIGHTS_NAME)

logger = logging.getLogger(__name__)

# Checkpoint names that differ only by these rules load everywhere: (pattern, replacement), applied to
# every checkpoint key; when the renamed key is also in the checkpoint, the old one is a duplicate.
COMMON_KEY_RENAMES: Tuple[Tuple[str, str], ...] = (
    (r"(^|\.)gamma$", r"\1weight"),  # TF-era LayerNorm names
    (r"(^|\.)beta$", r"\1bias"),
)

WEIGHT_FILE_NAMES = (SAFE_WEIGHTS_NAME, SAFE_WEIGHTS_INDEX_NAME, WEIGHTS_NAME, WEIGHTS_INDEX_NAME)


_skip_init = threading.local()


@contextlib.contextmanager
def no_weight_init():
    """Builds modules without initialising their weights (they are about to be loaded). Initialising
    on the meta device is not free: torch routes it through its Python reference kernels."""
    names = ("normal_", "uniform_", "kaiming_uniform_", "kaiming_normal_", "xavier_uniform_", "xavier_normal_",
             "trunc_normal_", "zeros_", "ones_", "constant_")
    saved = {name: getattr(nn.init, name) for name in names}
    previous = getattr(_skip_init, "on", False)
    _skip_init.on = True

    def skip(tensor, *args, **kwargs):
        return tensor

    for name in names:
        setattr(nn.init, name, skip)
    try:
        yield
    finally:
        for name, fn in saved.items():
            setattr(nn.init, name, fn)
        _skip_init.on = previous


class LoadingInfo(dict):
    """missing_keys, unexpected_keys, mismatched_keys and error_msgs of a load (1.2.0's loading_info)."""


class PreTrainedModel(nn.Module):
    """Base class of every model: `from_pretrained`, `save_pretrained`, `tie_weights`, `init_weights`,
    `resize_token_embeddings`, `prune_heads`.

    Class attributes set by each family:
      config_class, base_model_prefix ("bert"), pretrained_model_archive_map (shortcut -> hub repo),
      checkpoint_key_renames: extra (pattern, replacement) rules for old/new checkpoint names,
      keys_to_ignore_on_load: patterns of checkpoint keys that are expected not to be used (buffers
      that older libraries saved, e.g. `embeddings.position_ids`).
    from_pretrained builds the model on the meta device: anything the checkpoint does not provide, including
    buffers registered with persistent=False, is materialised as zeros and passed to `_init_weights(module)`,
    which must give it its value (or compute such buffers on the fly in forward).
    """

    config_class: type = PretrainedConfig
    base_model_prefix: str = ""
    pretrained_model_archive_map: Dict[str, str] = {}
    checkpoint_key_renames: Tuple[Tuple[str, str], ...] = ()
    keys_to_ignore_on_load: Tuple[str, ...] = ()
    missing_keys_expected: Tuple[str, ...] = ()  # weights this class does not use (logged, not warned)

    def __init__(self, config: PretrainedConfig, *inputs: Any, **kwargs: Any):
        super().__init__()
        if not isinstance(config, PretrainedConfig):
            raise TypeError(
                f"config in `{type(self).__name__}(config)` must be a PretrainedConfig, got {type(config).__name__}; "
                f"to load a pretrained model use `{type(self).__name__}.from_pretrained(name_or_path)`")
        config.validate()
        self.config = config

    # ---- weights ----------------------------------------------------------------------------------------

    @property
    def base_model(self) -> nn.Module:
        return getattr(self, self.base_model_prefix, self)

    def _init_weights(self, module: nn.Module) -> None:
        """Initialises one module's own weights (each family defines it, as the reference does)."""

    def init_weights(self) -> None:
        """Initialises all weights, then prunes the heads the config lists."""
        if not getattr(_skip_init, "on", False):
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
        if output is not None and getattr(self.config, "tie_word_embeddings", True):
            embeddings = self.get_input_embeddings()
            if embeddings.weight.is_meta and not output.weight.is_meta:
                # the checkpoint holds the tied matrix under the head's name only (transformers does that)
                embeddings.weight = output.weight
            self._tie_or_clone_weights(output, embeddings)

    def _tie_or_clone_weights(self, first_module: nn.Module, second_module: nn.Module) -> None:
        if self.config.torchscript:
            first_module.weight = nn.Parameter(second_module.weight.clone())
        else:
            first_module.weight = second_module.weight
        bias = getattr(first_module, "bias", None)
        if bias is not None and bias.shape[0] != first_module.weight.shape[0] and not bias.is_meta:
            first_module.bias.data = nn.functional.pad(bias.data, (0, first_module.weight.shape[0] - bias.shape[0]))

    def resize_token_embeddings(self, new_num_tokens: Optional[int] = None) -> nn.Embedding:
        """Resizes the input token embeddings (new rows initialised, removed rows dropped) and re-ties."""
        old = self.get_input_embeddings()
        if new_num_tokens is None or new_num_tokens == old.weight.shape[0]:
            return old
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
        for layer, heads in heads_to_prune.items():
            union = set(self.config.pruned_heads.get(int(layer), [])) | set(heads)
            self.config.pruned_heads[int(layer)] = sorted(union)
        self.base_model._prune_heads({int(k): list(v) for k, v in heads_to_prune.items()})
        self.invalidate_fast_path()

    def num_parameters(self, only_trainable: bool = False) -> int:
        seen = set()
        total = 0
        for p in self.parameters():
            if id(p) in seen or (only_trainable and not p.requires_grad):
                continue
            seen.add(id(p))
            total += p.numel()
        return total

    # ---- fast path bookkeeping (families with a fast inference path override invalidate) ----------------

    def invalidate_fast_path(self) -> None:
        """Drops derived inference buffers (packed weights); they are rebuilt from the parameters."""
        for module in self.modules():
            for value in module.__dict__.values():
                if isinstance(value, FastPath):
                    value.invalidate()

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

    def save_pretrained(self, save_directory, safe_serialization: bool = True, state_dict=None) -> None:
        """Writes config.json and model.safetensors (or pytorch_model.bin) that this library and
        `transformers` both load. Tied weights are stored once."""
        if os.path.isfile(save_directory):
            raise ValueError(f"save_directory must be a folder, {save_directory!r} is a file")
        os.makedirs(save_directory, exist_ok=True)
        model = self.module if hasattr(self, "module") else self
        model.config.architectures = [type(model).__name__]
        model.config.save_pretrained(save_directory)
        if state_dict is None:
            state_dict = model.state_dict()
        if not safe_serialization:
            torch.save(state_dict, os.path.join(save_directory, WEIGHTS_NAME))
            return
        from safetensors.torch import save_file

        tensors: Dict[str, torch.Tensor] = {}
        seen: Dict[Tuple, str] = {}
        storages = set()
        for key, tensor in state_dict.items():
            tensor = tensor.detach()
            ident = (tensor.device, tensor.data_ptr(), tuple(tensor.shape), tuple(tensor.stride()))
            if ident in seen:  # a tied weight: keep the first name (the input embeddings)
                continue
            seen[ident] = key
            storage = (tensor.device, tensor.untyped_storage().data_ptr())
            if storage in storages or not tensor.is_contiguous():
                tensor = tensor.contiguous().clone()
            storages.add(storage)
            tensors[key] = tensor
        save_file(tensors, os.path.join(save_directory, SAFE_WEIGHTS_NAME), metadata={"format": "pt"})

    # ---- loading ----------------------------------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args: Any, **kwargs: Any):
        """Model from a shortcut name (`bert-base-uncased`), a folder (config.json + model.safetensors or
        pytorch_model.bin), a weights file (with config=...), or a Hugging Face hub repository id.

        Options: config (a config object or path), state_dict (use these weights), cache_dir,
        force_download, local_files_only, revision, token, output_loading_info, torch_dtype; other keyword
        arguments override config attributes (or go to the model's __init__ when they are not attributes).
        The model is returned in eval mode.
        """
        config = kwargs.pop("config", None)
        state_dict = kwargs.pop("state_dict", None)
        output_loading_info = kwargs.pop("output_loading_info", False)
        torch_dtype = kwargs.pop("torch_dtype", kwargs.pop("dtype", None))
        if kwargs.pop("from_tf", False):
            raise ValueError("from_tf=True is not supported: convert the TensorFlow checkpoint with transformers first")
        hub_kwargs = pop_hub_kwargs(kwargs)
        name = os.fspath(pretrained_model_name_or_path) if pretrained_model_name_or_path is not None else None

        if config is None:
            if name is None:
                raise ValueError("from_pretrained needs a name or path, or config= and state_dict=")
            config, model_kwargs = cls.config_class.from_pretrained(
                name, return_unused_kwargs=True, **hub_kwargs, **kwargs)
        elif isinstance(config, (str, os.PathLike)):
            config, model_kwargs = cls.config_class.from_pretrained(
                config, return_unused_kwargs=True, **hub_kwargs, **kwargs)
        else:
            if not isinstance(config, PretrainedConfig):
                raise TypeError(f"config must be a PretrainedConfig or a path, got {type(config).__name__}")
            model_kwargs = kwargs

        if state_dict is None:
            weights_file = cls._resolve_weights_file(name, hub_kwargs)
            state_dict = load_state_dict(weights_file)
            source = weights_file
        else:
            source = "the given state_dict"

        with torch.device("meta"), no_weight_init():
            model = cls(config, *model_args, **model_kwargs)
        info = model._load_checkpoint(state_dict, source)
        if torch_dtype is not None and torch_dtype != "auto":
            model.to(torch_dtype)
        model.eval()
        return (model, info) if output_loading_info else model

    @classmethod
    def from_transformers(cls, hf_model: nn.Module):
        """Wraps a live `transformers` model of the same family: the parameters are shared, not copied."""
        hf_config = getattr(hf_model, "config", None)
        if hf_config is None or not hasattr(hf_config, "to_dict"):
            raise TypeError(f"expected a transformers PreTrainedModel, got {type(hf_model).__name__}")
        config = cls.config_class.from_dict(hf_config.to_dict())
        with torch.device("meta"), no_weight_init():
            model = cls(config)
        model._load_checkpoint(hf_model.state_dict(keep_vars=True), type(hf_model).__name__, convert_dtype=False)
        model.train(hf_model.training)
        return model

    @classmethod
    def _resolve_weights_file(cls, name: str, hub_kwargs: Dict[str, Any]) -> str:
        if os.path.isdir(name):
            for filename in WEIGHT_FILE_NAMES:
                path = os.path.join(name, filename)
                if os.path.isfile(path):
                    return path
            hint = ""
            if any(os.path.exists(os.path.join(name, f)) for f in ("tf_model.h5", "model.ckpt.index", "flax_model.msgpack")):
                hint = " (it holds TensorFlow/Flax weights: convert them to PyTorch with transformers)"
            raise OSError(f"no {SAFE_WEIGHTS_NAME} or {WEIGHTS_NAME} in the folder {name!r}{hint}")
        if os.path.isfile(name):
            return name
        repo_ids = hub_repo_ids(cls.pretrained_model_archive_map, name)
        if repo_ids is None:
            raise OSError(
                f"{name!r} is not a folder, a file, a shortcut name of {cls.__name__} "
                f"({', '.join(cls.pretrained_model_archive_map) or 'none'}) or a hub repository id")
        path = file_utils.first_hub_file(repo_ids, WEIGHT_FILE_NAMES, **hub_kwargs)
        if path is None:
            raise OSError(f"the hub repository {repo_ids[0]!r} has neither {SAFE_WEIGHTS_NAME} nor {WEIGHTS_NAME}")
        return path

    def _map_checkpoint_keys(self, checkpoint_keys: Sequence[str], model_keys: set) -> Tuple[Dict[str, str], List[str]]:
        """checkpoint key -> model key for every usable key, and the checkpoint keys left over."""
        rules = [(re.compile(p), r) for p, r in COMMON_KEY_RENAMES + tuple(self.checkpoint_key_renames)]
        renamed: Dict[str, str] = {}
        duplicates = set()
        present = set(checkpoint_keys)
        for key in checkpoint_keys:
            new = key
            for pattern, repl in rules:
                new = pattern.sub(repl, new)
            if new != key and new in present:
                duplicates.add(key)  # both names saved (a tied alias): the other one is loaded
                continue
            renamed[key] = new

        prefix = self.base_model_prefix
        if prefix:
            dotted = prefix + "."
            ckpt_has_prefix = any(k.startswith(dotted) for k in renamed.values())
            model_has_prefix = any(k.startswith(dotted) for k in model_keys)
            if model_has_prefix and not ckpt_has_prefix:  # base checkpoint into a model with a head
                renamed = {k: (dotted + v if (dotted + v) in model_keys else v) for k, v in renamed.items()}
            elif ckpt_has_prefix and not model_has_prefix:  # checkpoint with a head into the base model
                renamed = {k: (v[len(dotted):] if v.startswith(dotted) else v) for k, v in renamed.items()}

        mapping = {k: v for k, v in renamed.items() if v in model_keys}
        leftover = [k for k in checkpoint_keys if k not in mapping and k not in duplicates]
        return mapping, leftover

    def _load_checkpoint(self, state_dict: Dict[str, torch.Tensor], source: str, convert_dtype: bool = True) -> LoadingInfo:
        model_state = self.state_dict(keep_vars=True)
        mapping, leftover = self._map_checkpoint_keys(list(state_dict.keys()), set(model_state.keys()))

        mismatched = []
        for ckpt_key, model_key in mapping.items():
            have, want = tuple(state_dict[ckpt_key].shape), tuple(model_state[model_key].shape)
            if have != want:
                mismatched.append(f"{model_key}: the checkpoint has shape {have}, the model wants {want}"
                                  + (f" (checkpoint name {ckpt_key})" if ckpt_key != model_key else ""))
        if mismatched:
            raise ValueError(f"size mismatch loading {type(self).__name__} from {source}:\n  " + "\n  ".join(mismatched))

        to_load = {}
        for ckpt_key, model_key in mapping.items():
            tensor = state_dict[ckpt_key]
            want = model_state[model_key]
            if convert_dtype and tensor.dtype != want.dtype and tensor.is_floating_point():
                tensor = tensor.to(want.dtype)
            to_load[model_key] = tensor
        self.load_state_dict(to_load, strict=False, assign=True)
        self.tie_weights()

        missing = [name for name, t in self.state_dict(keep_vars=True).items() if t.is_meta]
        self._materialize_missing()
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
        return LoadingInfo(missing_keys=missing, unexpected_keys=unexpected, mismatched_keys=[], error_msgs=[])

    def _materialize_missing(self) -> None:
        """Gives every tensor still on the meta device real storage, initialised as a new model would be."""
        for module in self.modules():
            own = list(module._parameters.items()) + list(module._buffers.items())
            if not any(t is not None and t.is_meta for _, t in own):
                continue
            loaded_params = {n: p for n, p in module._parameters.items() if p is not None and not p.is_meta}
            loaded_buffers = {n: b for n, b in module._buffers.items() if b is not None and not b.is_meta}
            module.to_empty(device="cpu", recurse=False)
            with torch.no_grad():
                for _, t in list(module._parameters.items()) + list(module._buffers.items()):
                    if t is not None and t.is_floating_point():
                        t.zero_()
                self._init_weights(module)
            module._parameters.update(loaded_params)
            module._buffers.update(loaded_buffers)


# ---- checkpoint files ---------------------------------------------------------------------------------------


def load_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """Tensors of a weights file: safetensors (memory-mapped), a sharded index, or a PyTorch pickle loaded
    with weights_only=True. A truncated or corrupt file raises OSError naming it."""
    path = os.fspath(path)
    if path.endswith(".index.json"):
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
        try:
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as err:
            if "mmap" not in str(err):
                raise
            state = torch.load(path, map_location="cpu", weights_only=True)  # legacy (non-zip) format
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


def _load_sharded(index_path: str) -> Dict[str, torch.Tensor]:
    try:
        with open(index_path, "r", encoding="utf-8") as f:
            weight_map = json.load(f)["weight_map"]
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise OSError(f"{index_path} is not a valid weights index: {err}") from err
    folder = os.path.dirname(index_path)
    state: Dict[str, torch.Tensor] = {}
    for shard in sorted(set(weight_map.values())):
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


def check_ids(name: str, ids: Any, upper: int, what: str, shape: Optional[torch.Size] = None,
              device: Optional[torch.device] = None) -> None:
    """ids must be an integer tensor with values in [0, upper) (and the given shape, on the given device)."""
    if not isinstance(ids, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of integer ids, got {type(ids).__name__}")
    if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer ids (torch.long), got dtype {ids.dtype}")
    if device is not None and ids.device != device:
        raise ValueError(f"{name} is on device {ids.device} but the model's weights are on {device}: "
                         f"move one of them with .to()")
    if shape is not None and ids.shape != shape:
        raise ValueError(f"{name} has shape {tuple(ids.shape)} but input_ids has shape {tuple(shape)}")
    if ids.numel() == 0:
        return
    low, high = torch.aminmax(ids)
    low, high = int(low), int(high)
    if low < 0 or high >= upper:
        bad = low if low < 0 else high
        raise ValueError(f"{name} holds {bad}, outside [0, {upper - 1}] ({what})")


def check_attention_mask(mask: Any, shape: torch.Size) -> None:
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"attention_mask must be a torch.Tensor, got {type(mask).__name__}")
    if mask.shape != shape:
        raise ValueError(f"attention_mask has shape {tuple(mask.shape)} but input_ids has shape {tuple(shape)}")


def expand_head_mask(head_mask: Optional[torch.Tensor], num_layers: int, num_heads: int, dtype: torch.dtype):
    """1.2.0's head_mask handling: [heads] or [layers, heads] -> one broadcastable mask per layer."""
    if head_mask is None:
        return [None] * num_layers
    if not isinstance(head_mask, torch.Tensor):
        raise TypeError(f"head_mask must be a torch.Tensor, got {type(head_mask).__name__}")
    if head_mask.dim() == 1:
        if head_mask.shape[0] != num_heads:
            raise ValueError(f"head_mask of shape {tuple(head_mask.shape)} must have {num_heads} entries (one per head)")
        head_mask = head_mask.unsqueeze(0).unsqueeze(0).unsqueeze(-1).unsqueeze(-1)
        head_mask = head_mask.expand(num_layers, -1, -1, -1, -1)
    elif head_mask.dim() == 2:
        if tuple(head_mask.shape) != (num_layers, num_heads):
            raise ValueError(f"head_mask has shape {tuple(head_mask.shape)}, expected ({num_layers}, {num_heads})")
        head_mask = head_mask.unsqueeze(1).unsqueeze(-1).unsqueeze(-1)
    else:
        raise ValueError(f"head_mask must have shape [num_heads] or [num_layers, num_heads], got {tuple(head_mask.shape)}")
    return head_mask.to(dtype=dtype)


def loss_ignoring_negative(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy that ignores label -1 (pytorch-transformers 1.2.0) and -100 (transformers)."""
    labels = labels.reshape(-1)
    labels = torch.where(labels < 0, torch.full_like(labels, -100), labels)
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels, ignore_index=-100)


class Conv1D(nn.Module):
    """The linear layer of the original GPT checkpoints: weight stored [in_features, out_features]
    (transposed with respect to nn.Linear), y = x W + b."""

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
        self.activation = nn.Tanh() if getattr(config, "summary_activation", None) == "tanh" else nn.Identity()
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
