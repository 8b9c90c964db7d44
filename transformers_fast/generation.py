"""Text generation for the decoder models: `model.generate(...)` and `model.stream_generate(...)`.

Greedy decoding or sampling (temperature, top-k, top-p, a seeded torch.Generator), max_new_tokens /
max_length, eos_token_id, num_return_sequences, and streaming (a callback, a transformers-style streamer
with put()/end(), or the `stream_generate` iterator). Hugging Face transformers 5.25's logits processors
(sequence_bias, repetition penalties, n-gram bans, bad words, min lengths, forced tokens, suppressed tokens, ...),
sampling filters (temperature, top_h, top_k, top_p, min_p, typical_p, epsilon and eta cutoffs) and stopping
criteria (eos, max_time, stop_strings) run on the logits each decoder step returns, in transformers' order and
with its semantics (generation_processors; none at all for options left at their neutral values);
`return_dict_in_generate` with output_scores / output_logits returns a GenerateDecoderOnlyOutput (with GPT-2's
KV cache as transformers returns it; output_attentions / output_hidden_states run the model's own forward instead of
the fused decoder, which does not compute them); `generation_config` (a transformers.GenerationConfig or a
dict) fills the options not given; num_beams > 1 is transformers' beam search (length_penalty, early_stopping),
the KV cache's rows following the beams (GPT, GPT-2). Prompts of different lengths are given left-padded with
an attention_mask; positions are counted from each prompt's first real token, so each row produces the tokens it
would produce alone. GPT-2 continues from a KV cache passed in (past_key_values / cache), as transformers: only the
prompt's tokens not in it run. The model supplies a fused decoder (`model.fast`: new_cache, prefill, step) that
keeps a preallocated KV cache and returns logits of the last position only.
"""
from __future__ import annotations

import functools
import inspect
import json
import os
import time
import warnings
from collections import OrderedDict
from dataclasses import dataclass, fields
from typing import Any, Iterator, NamedTuple, Optional, Sequence, Tuple, Union

import torch

from transformers_fast.file_utils import GENERATION_CONFIG_NAME, read_json_object
from transformers_fast.generation_processors import (build_logits_processors, build_stopping_criteria, check_count,
                                                      check_number, custom_length_limit, token_set)
from transformers_fast.modeling_utils import check_ids, embedding_rows
from transformers_fast.runtime.fast_path import intercepts

DEFAULT_MAX_NEW_TOKENS = 20

# Every option generate takes besides the inputs, streamer and generator, with its value when neither the call
# nor generation_config gives one (None there means "not given" too, as in transformers).
DEFAULTS = dict(max_length=None, max_new_tokens=None, min_length=0, min_new_tokens=None, do_sample=False,
                temperature=1.0, top_k=50, top_p=None, repetition_penalty=1.0, no_repeat_ngram_size=0,
                bad_words_ids=None, eos_token_id=None, pad_token_id=None, num_return_sequences=1, num_beams=1,
                length_penalty=1.0, early_stopping=False, use_cache=True, return_dict_in_generate=False,
                output_scores=False, output_logits=False, output_attentions=False, output_hidden_states=False,
                typical_p=None, min_p=None, top_h=None, epsilon_cutoff=None, eta_cutoff=None,
                encoder_repetition_penalty=None,
                encoder_no_repeat_ngram_size=None, sequence_bias=None, suppress_tokens=None,
                begin_suppress_tokens=None, forced_bos_token_id=None, forced_eos_token_id=None,
                exponential_decay_length_penalty=None, renormalize_logits=False, remove_invalid_values=False,
                max_time=None, stop_strings=None, bos_token_id=None)
# what generate returns, not how
RETURN_OPTIONS = ("return_dict_in_generate", "output_scores", "output_logits", "output_attentions",
                  "output_hidden_states")
# Fields of a transformers.GenerationConfig that change nothing here (token ids of other uses, bookkeeping,
# how transformers runs the cache, compilation or assisted decoding, none of which changes the tokens).
IGNORED_CONFIG_FIELDS = {"decoder_start_token_id", "transformers_version", "_from_model_config",
                         "_commit_hash", "cache_implementation", "generation_kwargs", "cache_config",
                         "max_cache_len", "return_legacy_cache", "compile_config", "disable_compile",
                         "prefill_chunk_size", "low_memory", "is_assistant", "num_assistant_tokens",
                         "num_assistant_tokens_schedule", "assistant_confidence_threshold",
                         "prompt_lookup_num_tokens", "max_matching_ngram_size", "assistant_early_exit",
                         "assistant_lookbehind", "target_lookbehind", "continuous_batching_config"}
# transformers options this generate does not implement, at the value that leaves decoding as it is (transformers
# before 5 wrote every field, at these values, into generation_config.json); None is "off" for every field. Refused
# besides (any value but None): classifier-free guidance (a second model run per step), watermarking_config, the
# modes transformers 5 moved to the hub (penalty_alpha, dola_layers, constraints, force_words_ids), token_healing
# and assisted decoding (speculation_type, assistant_ensemble_weight).
OFF_VALUES = {"token_healing": False, "diversity_penalty": 0.0, "num_beam_groups": 1, "use_mtp": False,
              "guidance_scale": 1.0}
UNIMPLEMENTED = set(OFF_VALUES) | {"watermarking_config", "penalty_alpha", "dola_layers", "constraints",
                                   "force_words_ids", "speculation_type", "assistant_ensemble_weight",
                                   "negative_prompt_ids", "negative_prompt_attention_mask", "assistant_model"}


class _GenerateOutput(OrderedDict):
    """transformers' ModelOutput, which generate's outputs are: a dataclass that is also the ordered dict of its
    fields set (not None), in field order then as set later; read by attribute, by name, by position (out[0],
    out[:2]) or as that dict; its fields change by attribute or name only (pop / update / setdefault / del refused,
    as transformers). `past_key_values` is transformers 4's name of `cache`, read as an attribute, key or get."""

    def __setattr__(self, name, value):  # (the dataclass __init__ sets the fields through it too)
        if name in self.__dataclass_fields__ and value is not None:
            super().__setitem__(name, value)
        super().__setattr__(name, value)

    def __setitem__(self, key, value):
        key = _field_name(key)
        super().__setitem__(key, value)
        super().__setattr__(key, value)

    def __getitem__(self, key):
        if isinstance(key, str):
            return super().__getitem__(_field_name(key))
        return self.to_tuple()[key]

    def __contains__(self, key):
        return super().__contains__(_field_name(key))

    def get(self, key, default=None):
        return super().get(_field_name(key), default)

    @property
    def past_key_values(self):
        return self.cache

    def to_tuple(self) -> tuple:
        return tuple(self.values())

    def _refuse(self, *args, **kwargs):
        raise TypeError(f"{type(self).__name__} changes by attribute or name only, as transformers' ModelOutput")

    __delitem__ = pop = popitem = update = setdefault = clear = _refuse

    def __reduce__(self):  # (the dataclass fields, positionally: what the dict's own pickling would lose)
        return type(self), tuple(getattr(self, f.name) for f in fields(self))


def _field_name(key):
    return "cache" if key == "past_key_values" else key


@dataclass
class GenerateDecoderOnlyOutput(_GenerateOutput):
    """What generate returns with return_dict_in_generate=True, as transformers' class of that name: `sequences`
    [batch * num_return_sequences, prompt + new]; `scores` (output_scores) the processed scores [rows, vocab] of
    each step (after the logits processors and sampling filters, float32); `logits` (output_logits) the raw
    logits of each step; `attentions` (output_attentions) per step the attention probabilities of each layer [rows,
    heads, queries, keys] and `hidden_states` (output_hidden_states) per step the embeddings' and each layer's
    output [rows, queries, hidden], the first step's over the prompt, a later one's over its new token (GPT-2 with
    its cache) or over the whole sequence again (OpenAI GPT, use_cache=False), as transformers; `cache` (unless
    use_cache=False) the keys and values of every token but the last, as transformers returns them: a transformers
    DynamicCache (per layer [rows, heads, length, head_dim]; a tuple of (keys, values) per layer without
    transformers installed; empty for OpenAI GPT, whose forward keeps none), also read as `past_key_values`; the
    slots of left padding hold other values than transformers' (they are never attended to)."""
    sequences: torch.Tensor
    scores: Optional[Tuple[torch.Tensor, ...]] = None
    logits: Optional[Tuple[torch.Tensor, ...]] = None
    attentions: Optional[Tuple[Tuple[torch.Tensor, ...], ...]] = None
    hidden_states: Optional[Tuple[Tuple[torch.Tensor, ...], ...]] = None
    cache: Any = None


@dataclass
class GenerateBeamDecoderOnlyOutput(_GenerateOutput):
    """What beam search returns with return_dict_in_generate=True, as transformers' class of that name (its fields
    in its order): `sequences`, `sequences_scores` [rows] (output_scores: each returned beam's length-penalised
    score), `scores` (output_scores: each step's processed log-probabilities [batch * num_beams, vocab]), `logits`
    (output_logits), `beam_indices` [rows, new tokens] (the flat beam row each token was appended to, -1 after the
    end), `attentions` and `hidden_states` (of the running beams [batch * num_beams, ...] at each step) and `cache`
    (the running beams' keys and values [batch * num_beams, ...], as transformers)."""
    sequences: torch.Tensor
    sequences_scores: Optional[torch.Tensor] = None
    scores: Optional[Tuple[torch.Tensor, ...]] = None
    logits: Optional[Tuple[torch.Tensor, ...]] = None
    beam_indices: Optional[torch.Tensor] = None
    attentions: Optional[Tuple[Tuple[torch.Tensor, ...], ...]] = None
    hidden_states: Optional[Tuple[Tuple[torch.Tensor, ...], ...]] = None
    cache: Any = None


class _Run(NamedTuple):
    """A generation after its prefill: what the decoding loops start from (GenerationMixin._setup)."""
    decoder: Any  # the model's fused decoder, or a _FullOutputDecoder (new_cache, prefill, step)
    input_ids: torch.Tensor  # [rows, prompt] (the copies per prompt included)
    logits: torch.Tensor  # [rows, vocab] of the prompt's last position
    cache: Any
    next_positions: torch.Tensor  # [rows]
    max_new_tokens: int
    eos: Optional[torch.Tensor]
    pad_token_id: Optional[int]
    process: Any  # (sequences, width, logits) -> scores: the logits processors and sampling filters
    reads_sequences: bool  # whether `process` or `stop` reads the tokens (else the sequences need not be kept)
    stop: Any  # None, or (sequences [rows, length], scores) -> bool [rows]: the rows the stopping criteria end
    given_cache: Any = None  # the cache passed to generate (past_key_values / cache), else None
    cached: int = 0  # how many tokens of the prompt it held
    room: Optional[int] = None  # how many new tokens the model's positions can give (None: no limit)


class _FullOutputCache:
    """What _FullOutputDecoder keeps between calls, one row per sequence: the tokens, their attention mask and
    positions [rows, length], and the keys and values the forward returned (per layer (keys, values) [rows, heads,
    length - 1, head_dim]; None where each step runs the whole sequence again)."""

    ids = mask = positions = pairs = types = None  # (set by prefill; types: the token types, where given)

    def reorder(self, rows: torch.Tensor) -> None:
        self.ids, self.mask, self.positions = self.ids[rows], self.mask[rows], self.positions[rows]
        if self.types is not None:
            self.types = self.types[rows]
        if self.pairs is not None:
            self.pairs = [(keys[rows], values[rows]) for keys, values in self.pairs]

    def key_values(self) -> list:
        return list(self.pairs or ())


class _FullOutputDecoder:
    """The model's own forward in place of its fused decoder, for output_attentions / output_hidden_states (which
    the fused one does not compute): each call's attentions and hidden states are kept, as transformers' generate
    returns them. As transformers, a step runs its new token over the cache where the forward takes one and
    use_cache is on (GPT-2), else the whole sequence again (OpenAI GPT, use_cache=False)."""

    def __init__(self, model, options: dict, token_type_ids: Optional[torch.Tensor] = None):
        self.model, self.token_type_ids = model, token_type_ids
        self.with_cache = options["use_cache"] and "past_key_values" in _forward_parameters(type(model))
        self.outputs = dict(output_attentions=bool(options["output_attentions"]),
                            output_hidden_states=bool(options["output_hidden_states"]))
        self.attentions, self.hidden_states = [], []

    def new_cache(self, batch: int, capacity: int) -> _FullOutputCache:
        return _FullOutputCache()

    def prefill(self, input_ids, position_ids, attention_mask, cache: _FullOutputCache, past=None) -> torch.Tensor:
        """past: per layer (keys, values) of the first tokens of input_ids, which are not run again."""
        cache.ids, cache.positions, cache.pairs = input_ids, position_ids, past
        cache.mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask
        cache.types = self.token_type_ids
        cached = 0 if past is None else past[0][0].shape[-2]
        return self._forward(cache, cached)

    def step(self, tokens: torch.Tensor, positions: torch.Tensor, cache: _FullOutputCache) -> torch.Tensor:
        cache.ids = torch.cat([cache.ids, tokens[:, None]], dim=1)
        cache.mask = torch.cat([cache.mask, torch.ones_like(cache.mask[:, :1])], dim=1)
        cache.positions = torch.cat([cache.positions, positions[:, None]], dim=1)
        if cache.types is not None:  # (a new token takes the last token type, as in transformers)
            cache.types = torch.cat([cache.types, cache.types[:, -1:]], dim=1)
        return self._forward(cache, cache.ids.shape[1] - 1 if self.with_cache else 0)

    def _forward(self, cache: _FullOutputCache, start: int) -> torch.Tensor:
        """Runs the tokens from `start` on (those before are in the cache's keys and values)."""
        past = dict(past_key_values=cache.pairs, use_cache=True) if self.with_cache else {}
        if cache.types is not None:
            past["token_type_ids"] = cache.types[:, start:]
        out = self.model(cache.ids[:, start:], position_ids=cache.positions[:, start:], attention_mask=cache.mask,
                         **past, **self.outputs)
        if self.with_cache:
            cache.pairs = [(present[0], present[1]) for present in out.past_key_values]
        return self._kept(out)

    def _kept(self, out) -> torch.Tensor:
        """Keeps a call's attentions and hidden states where asked for; the logits of its last position."""
        if self.outputs["output_attentions"]:
            self.attentions.append(tuple(out.attentions))
        if self.outputs["output_hidden_states"]:
            self.hidden_states.append(tuple(out.hidden_states))
        return out.logits[:, -1]


def _config_given_second(generation_config, attention_mask):
    """(attention_mask, generation_config): the second parameter is transformers' (generate(inputs,
    generation_config, ...)); a tensor given there is the attention_mask, which this generate took second."""
    if not isinstance(generation_config, torch.Tensor):
        return attention_mask, generation_config
    if attention_mask is not None:
        raise TypeError("generate got two attention masks: a tensor as the second positional argument "
                        "(generation_config, taken as the attention_mask) and attention_mask=")
    return generation_config, None


def _pop_given_cache(kwargs: dict):
    """The KV cache generate continues from: past_key_values, or `cache` (transformers 5.25's name), taken out of
    the options; None where not given."""
    past, cache = kwargs.pop("past_key_values", None), kwargs.pop("cache", None)
    if past is not None and cache is not None:
        raise TypeError("generate got both past_key_values and cache (transformers' two names of one argument): "
                        "give one")
    return cache if past is None else past


def as_transformers_cache(pairs: list):
    """Per layer (keys, values) as transformers' generate returns them: a DynamicCache, or a tuple of the pairs
    without transformers."""
    try:
        from transformers import DynamicCache
    except ImportError:
        return tuple(pairs)
    if hasattr(DynamicCache, "from_legacy_cache"):  # (transformers 4)
        return DynamicCache.from_legacy_cache(tuple(pairs))
    return DynamicCache(ddp_cache_data=pairs)


def is_transformers_cache(cache) -> bool:
    """A transformers Cache (DynamicCache, StaticCache, ...), which transformers extends in place."""
    return hasattr(cache, "layers") and hasattr(cache, "update")


def _extend_given_cache(run: "_Run") -> None:
    """As transformers' generate, a transformers Cache passed in is extended in place: the keys and values of the
    tokens run here are appended to it (after beam search, the running beams')."""
    if not is_transformers_cache(run.given_cache) or not hasattr(run.cache, "key_values"):
        return
    for index, (keys, values) in enumerate(run.cache.key_values()):
        run.given_cache.update(keys[..., run.cached:, :], values[..., run.cached:, :], index)


def _token_count(name: str, value):
    """max_length / max_new_tokens as an int where given as a float of whole value (2.0), which transformers'
    generate takes; a fraction is refused (transformers' beam search fails on it, a TypeError)."""
    if not isinstance(value, float):
        return value
    if not value.is_integer():
        raise TypeError(f"{name} must be a whole number of tokens, got {value!r}")
    return int(value)


def _step_outputs(decoder) -> dict:
    """The `attentions` and `hidden_states` fields of generate's output: a tuple per step where asked for."""
    if not isinstance(decoder, _FullOutputDecoder):
        return {}
    return {name: tuple(getattr(decoder, name)) if decoder.outputs["output_" + name] else None
            for name in ("attentions", "hidden_states")}


def _unimplemented(fields: dict) -> list:
    """The fields of a generation config that ask for something this generate does not do."""
    return sorted(name for name, value in fields.items()
                  if name not in DEFAULTS and name not in IGNORED_CONFIG_FIELDS and value is not None
                  and not (name in OFF_VALUES and value == OFF_VALUES[name]))


def _config_options(generation_config, what: str) -> dict:
    """The options a generation config sets: a dict, or an object with those attributes such as
    transformers.GenerationConfig (whose to_diff_dict tells the fields that differ from its defaults)."""
    if generation_config is None:
        return {}
    if isinstance(generation_config, (str, bytes, int, float, list, tuple)):
        raise TypeError(f"generation_config must be a transformers.GenerationConfig (or an object with its "
                        f"attributes) or a dict, got {type(generation_config).__name__}")
    if isinstance(generation_config, dict):
        _refuse_unknown(generation_config, what, f"{what} has options generate does not take")
        return {k: v for k, v in generation_config.items() if k in DEFAULTS}
    _refuse_unimplemented(getattr(generation_config, "to_diff_dict", dict)(), what)
    return {name: getattr(generation_config, name) for name in DEFAULTS if hasattr(generation_config, name)}


def _refuse_unimplemented(fields: dict, what: str) -> None:
    # options we do not implement (guidance_scale, diversity_penalty, ...) would be silently ignored otherwise
    unsupported = _unimplemented(fields)
    if unsupported:
        raise ValueError(f"{what} sets options this library's generate does not implement: "
                         f"{', '.join(unsupported)}")


def _refuse_unknown(fields: dict, what: str, unknown_message: str) -> None:
    """A name that is no option at all is a TypeError; a transformers option we do not implement, set to anything
    but its off value, a ValueError (the same as from a GenerationConfig)."""
    unknown = sorted(set(fields) - set(DEFAULTS) - UNIMPLEMENTED - IGNORED_CONFIG_FIELDS)
    if unknown:
        raise TypeError(f"{unknown_message}: {', '.join(unknown)}")
    _refuse_unimplemented(fields, what)


class _NotGiven:
    def __repr__(self) -> str:
        return "<not given>"


NOT_GIVEN = _NotGiven()  # generate's default where an explicit None means something else
NO_EOS = _NotGiven()  # eos_token_id=None given: no eos token (not the config's), as transformers 5


def _options(generation_config, given: dict, model_config=None) -> dict:
    """The options of this call: those given, else generation_config's, else the model's own generation config
    (its folder's generation_config.json, as transformers), else DEFAULTS. None in a config means not set; None
    given to the call turns the option off whatever the configs say (transformers updates its generation config
    with the call's arguments): DEFAULTS' value, no eos token for eos_token_id, no top-k filter for top_k."""
    _refuse_unknown(given, "the call", "generate got unexpected arguments")
    given = {k: v for k, v in given.items() if k in DEFAULTS and v is not NOT_GIVEN}
    options = dict(DEFAULTS)
    for layer in (_config_options(model_config, "the model's generation_config (from its generation_config.json)"),
                  _config_options(generation_config, "generation_config")):
        options.update({k: v for k, v in layer.items() if v is not None and v is not NOT_GIVEN})
    options.update({k: DEFAULTS[k] if v is None else v for k, v in given.items()})
    if "eos_token_id" in given and given["eos_token_id"] is None:
        options["eos_token_id"] = NO_EOS
    if "top_k" in given and given["top_k"] is None:
        options["top_k"] = 0
    return options


@functools.lru_cache(maxsize=None)
def _forward_parameters(cls) -> frozenset:
    """The parameter names of a model class's forward (read once per class, not per generate call)."""
    return frozenset(inspect.signature(cls.forward).parameters)


class GenerationConfig:
    """A model's own generation options, as transformers keeps them in `model.generation_config` and reads them
    from the folder's generation_config.json: the options of generate (max_new_tokens, do_sample, top_k, ...),
    None where not set; generate's arguments and its generation_config argument win over them."""

    def __init__(self, **fields: Any):
        self.__dict__.update(fields)

    def __getattr__(self, name: str):
        # a field not set reads as transformers' default, which is None (not set) for every field
        if name in DEFAULTS or name in UNIMPLEMENTED or name in IGNORED_CONFIG_FIELDS:
            return None
        raise AttributeError(f"GenerationConfig has no option {name!r}")

    @classmethod
    def from_model_config(cls, fields: dict) -> "GenerationConfig":
        """What transformers' from_pretrained makes of a folder without generation_config.json: the generate options
        its config.json names (fields: that file's contents; the token ids, mostly), marked as taken from it."""
        return cls(_from_model_config=True, **{k: v for k, v in fields.items()
                                               if k in DEFAULTS and v is not None and v != DEFAULTS[k]})

    def to_diff_dict(self) -> dict:
        """The options set (not None)."""
        return {k: v for k, v in self.__dict__.items() if v is not None}

    to_dict = to_diff_dict

    def __repr__(self) -> str:
        return f"GenerationConfig({self.to_diff_dict()})"

    @classmethod
    def from_json_file(cls, path: str) -> "GenerationConfig":
        return cls(**read_json_object(path, "a JSON object (option -> value)"))

    def save_pretrained(self, save_directory: str) -> None:
        with open(os.path.join(save_directory, GENERATION_CONFIG_NAME), "w", encoding="utf-8") as f:
            json.dump(self.to_diff_dict(), f, indent=2, sort_keys=True)
            f.write("\n")


class GenerationMixin:
    """`generate` and `stream_generate` for a model with `config` and a fused decoder `fast`."""

    _generation_mask_masks_keys = True  # False: the forward ignores the prompt's mask (XLM, XLNet): any padding

    @property
    def generation_config(self) -> GenerationConfig:
        """The model's generation options (from_pretrained reads them from generation_config.json)."""
        if "_generation_config" not in self.__dict__:
            self.__dict__["_generation_config"] = GenerationConfig()
        return self.__dict__["_generation_config"]

    @generation_config.setter
    def generation_config(self, value) -> None:
        if value is not None and isinstance(value, (str, bytes, int, float, list, tuple)):
            raise TypeError(f"generation_config must be a GenerationConfig (ours or transformers') or a dict, "
                            f"got {type(value).__name__}")
        self.__dict__["_generation_config"] = GenerationConfig(**value) if isinstance(value, dict) else (
            value if value is not None else GenerationConfig())

    @classmethod
    def from_transformers(cls, hf_model):
        """PreTrainedModel.from_transformers, and the live model's generation_config (the options its generate
        takes when a call does not set them)."""
        model = super().from_transformers(hf_model)
        live = getattr(hf_model, "generation_config", None)
        if live is not None and hasattr(live, "to_diff_dict"):
            model.generation_config = dict(live.to_diff_dict())
        return model

    def _generation_inputs(self, input_ids, attention_mask, max_length, max_new_tokens, num_return_sequences,
                           mask_pad_token_id=None):
        config = self.config
        if input_ids is None:
            raise ValueError("generate needs input_ids (the prompt, at least one token per row)")
        if isinstance(input_ids, (list, tuple)):
            input_ids = torch.tensor(input_ids, dtype=torch.long)
        vocab = embedding_rows(self.get_input_embeddings())
        check_ids("input_ids", input_ids, vocab, "the vocabulary size (config.vocab_size)")
        if input_ids.dim() == 1:
            input_ids = input_ids.unsqueeze(0)
        if input_ids.dim() != 2:
            raise ValueError(f"input_ids must have shape [batch, sequence], got {tuple(input_ids.shape)}")
        if input_ids.shape[1] == 0 or input_ids.shape[0] == 0:
            raise ValueError("input_ids is empty: generation needs at least one prompt token per row "
                             "(for example the BOS token)")
        batch, prompt_len = input_ids.shape
        if attention_mask is None and mask_pad_token_id is not None and bool((input_ids == mask_pad_token_id).any()):
            # transformers' generate, given no attention_mask, masks the prompt's padding tokens
            attention_mask = (input_ids != mask_pad_token_id).long()
            hint = (f" (the attention_mask was inferred from pad_token_id {mask_pad_token_id} in input_ids: pass "
                    f"attention_mask to say which tokens are real)")
        else:
            hint = ""
        if attention_mask is not None:
            if not isinstance(attention_mask, torch.Tensor):
                raise TypeError(f"attention_mask must be a torch.Tensor, got {type(attention_mask).__name__}")
            if attention_mask.shape != input_ids.shape:
                raise ValueError(f"attention_mask has shape {tuple(attention_mask.shape)} but input_ids has shape "
                                 f"{tuple(input_ids.shape)}")
            real = attention_mask != 0
            if self._generation_mask_masks_keys and not bool(real.any(1).all()):
                raise ValueError("a row of attention_mask is all zeros: every prompt needs at least one real token" + hint)
            if self._generation_mask_masks_keys and not bool(real[:, -1].all()):
                raise ValueError("prompts must be left-padded (attention_mask must end with 1 in every row); "
                                 "set tokenizer.padding_side = 'left'" + hint)
            # zeros inside a row (a pad token inside the prompt) are masked keys, and the real tokens after them
            # take the positions of the real tokens counted (cumsum), as in transformers' generate
            attention_mask = real.long()
        n_positions = getattr(config, "n_positions", None)  # None: no fixed position table (Transformer-XL)
        max_length, max_new_tokens = _token_count("max_length", max_length), _token_count("max_new_tokens",
                                                                                          max_new_tokens)
        if max_new_tokens is None:
            if max_length is None:
                # transformers' default: 20 new tokens, the whole no longer than max_position_embeddings
                max_new_tokens = DEFAULT_MAX_NEW_TOKENS
                limit = getattr(config, "max_position_embeddings", None)
                if isinstance(limit, int) and prompt_len < limit:
                    max_new_tokens = min(max_new_tokens, limit - prompt_len)
            else:
                if isinstance(max_length, bool) or not isinstance(max_length, int):
                    raise ValueError(f"max_length must be an integer, got {max_length!r}")
                max_new_tokens = max_length - prompt_len
                if max_new_tokens < 1:
                    raise ValueError(f"max_length ({max_length}) must be larger than the prompt length ({prompt_len}); "
                                     f"use max_new_tokens to count new tokens only")
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be a positive integer, got {max_new_tokens!r}")
        if n_positions is not None and prompt_len > n_positions:
            raise ValueError(f"the prompt has {prompt_len} tokens but this model takes at most {n_positions} "
                             f"positions (config.n_positions)")
        longest = prompt_len if attention_mask is None else int(attention_mask.sum(1).max())
        # the last new token is returned, never run through the model: prompt + max_new_tokens - 1 positions are
        # used, so a sequence may end one token past n_positions (as in transformers). More new tokens than fit
        # are asked for at the user's risk, as in transformers: eos may end every row before (else an error then).
        room = None if n_positions is None else n_positions - longest + 1
        if isinstance(num_return_sequences, bool) or not isinstance(num_return_sequences, int) or num_return_sequences < 1:
            raise ValueError(f"num_return_sequences must be a positive integer, got {num_return_sequences!r}")
        if num_return_sequences > 1:
            input_ids = input_ids.repeat_interleave(num_return_sequences, dim=0)
            if attention_mask is not None:
                attention_mask = attention_mask.repeat_interleave(num_return_sequences, dim=0)
        return input_ids, attention_mask, max_new_tokens, room

    @torch.no_grad()
    def stream_generate(self, input_ids=None, generation_config=None, max_length: Optional[int] = NOT_GIVEN,
                        max_new_tokens: Optional[int] = NOT_GIVEN, do_sample: Optional[bool] = NOT_GIVEN,
                        temperature: Optional[float] = NOT_GIVEN, top_k: Optional[int] = NOT_GIVEN,
                        top_p: Optional[float] = NOT_GIVEN, eos_token_id: Union[int, Sequence[int], None] = NOT_GIVEN,
                        pad_token_id: Optional[int] = NOT_GIVEN, num_return_sequences: Optional[int] = NOT_GIVEN,
                        generator: Optional[torch.Generator] = None, attention_mask=None, tokenizer=None,
                        logits_processor=None, stopping_criteria=None, prefix_allowed_tokens_fn=None, inputs=None,
                        **kwargs: Any) -> Iterator[torch.Tensor]:
        """Yields the next token of every row ([batch * num_return_sequences] long tensor) as it is decoded.
        Rows that have produced an eos token yield pad_token_id afterwards; the iteration ends when every
        row has finished or max_new_tokens were produced. Same options as `generate`, except the ones that
        shape its return value (RETURN_OPTIONS). A transformers Cache passed in is extended by the tokens run, also
        when the iteration is stopped early (closed, or dropped after a break)."""
        for name in RETURN_OPTIONS:
            if name in kwargs:
                raise TypeError(f"stream_generate yields tokens: {name} is an option of generate")
        given_cache, inputs_embeds = _pop_given_cache(kwargs), kwargs.pop("inputs_embeds", None)
        token_type_ids = kwargs.pop("token_type_ids", None)
        attention_mask, generation_config = _config_given_second(generation_config, attention_mask)
        options = _options(generation_config, model_config=self.generation_config, given=dict(
            kwargs, max_length=max_length, max_new_tokens=max_new_tokens, do_sample=do_sample,
            temperature=temperature, top_k=top_k, top_p=top_p, eos_token_id=eos_token_id,
            pad_token_id=pad_token_id, num_return_sequences=num_return_sequences))
        if options["num_beams"] != 1:
            raise ValueError("stream_generate cannot stream beam search (the best beams are known at the end only)")
        run = self._setup(self._prompt(input_ids, inputs, options, inputs_embeds), attention_mask, generator, options,
                          tokenizer, logits_processor, stopping_criteria, prefix_allowed_tokens_fn, given_cache,
                          inputs_embeds, token_type_ids)
        try:
            for tokens, _ in self._decode(run, options["do_sample"], generator):
                yield tokens
        finally:  # also when the caller stops early: as transformers', the cache given holds what ran
            _extend_given_cache(run)

    def _config_token(self, name: str):
        """The model config's bos/eos/pad token id where no option gives one. A model loaded from a folder without
        generation_config.json has, as in transformers, a generation config of the token ids its config.json
        names (none in a folder 1.2.0 saved: no eos, generation runs to its length), and nothing more; a model
        built in code reads its config's (class defaults included, as transformers' config classes have them)."""
        if getattr(self.generation_config, "_from_model_config", None):
            return None
        return getattr(self.config, name, None)

    def _prompt(self, input_ids, inputs, options: dict, inputs_embeds=None):
        """input_ids (or `inputs`, transformers' name) as a tensor; none given, transformers' prompt: one row of the
        bos token (bos_token_id, else the model config's), or none beside inputs_embeds."""
        if inputs is not None:
            if input_ids is not None:
                raise TypeError("generate got both input_ids and inputs (transformers' name for them): give one")
            input_ids = inputs
        if input_ids is not None or inputs_embeds is not None:
            return torch.as_tensor(input_ids) if isinstance(input_ids, (list, tuple)) else input_ids
        bos = options["bos_token_id"]
        bos = self._config_token("bos_token_id") if bos is None else bos
        if bos is None:
            raise ValueError("generate needs input_ids (the prompt, at least one token per row), or a bos_token_id "
                             "to start from")
        check_count("bos_token_id", bos, 0)
        return torch.full((1, 1), bos, dtype=torch.long, device=self.get_input_embeddings().weight.device)

    def _setup(self, input_ids, attention_mask, generator, options: dict, tokenizer=None, logits_processor=None,
               stopping_criteria=None, prefix_allowed_tokens_fn=None, given_cache=None, inputs_embeds=None,
               token_type_ids=None) -> "_Run":
        """Checks the options (every name of DEFAULTS, from _options) and inputs, and prefills the cache: what
        the decoding loops start from. given_cache: a KV cache of the prompt's first tokens (_continued_cache),
        which are not run again. inputs_embeds: the prompt's embeddings [batch, length, hidden], run in place of
        its tokens' (input_ids: None, or the tokens the sequences returned start with, as transformers).
        token_type_ids: the prompt's [batch, length]; the new tokens take the last one, as transformers."""
        o, stopping_criteria = custom_length_limit(options, stopping_criteria)
        # (use_cache: the KV cache is always used; accepted for transformers compatibility)
        do_sample = o["do_sample"]
        num_beams, num_return_sequences = o["num_beams"], o["num_return_sequences"]
        check_count("num_beams", num_beams, 1)
        if num_beams > 1:
            check_count("num_return_sequences", num_return_sequences, 1)
            if num_return_sequences > num_beams:
                raise ValueError(f"num_return_sequences ({num_return_sequences}) must be at most num_beams "
                                 f"({num_beams}): beam search returns its best beams")
            check_number("length_penalty", o["length_penalty"], float("-inf"))
            if o["early_stopping"] not in (True, False, "never"):
                raise ValueError(f"early_stopping must be True, False or 'never', got {o['early_stopping']!r}")
        elif not do_sample and num_return_sequences != 1:
            raise ValueError("num_return_sequences > 1 needs do_sample=True (greedy decoding gives one answer)")
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
        start = time.time()  # max_time counts from here, the prefill included (as transformers)
        copies = num_beams if num_beams > 1 else num_return_sequences  # rows per prompt
        eos_token_id = o["eos_token_id"]
        if eos_token_id is None:
            eos_token_id = self._config_token("eos_token_id")
        elif eos_token_id is NO_EOS:
            eos_token_id = None
        eos = token_set("eos_token_id", eos_token_id)
        pad_token_id = o["pad_token_id"]
        if pad_token_id is None:
            pad_token_id = self._config_token("pad_token_id")
        # transformers infers the attention mask from a pad token that is no eos token, for models whose forward
        # takes an attention_mask (not Transformer-XL)
        infer_mask = (pad_token_id is not None and "attention_mask" in _forward_parameters(type(self))
                      and (eos is None or pad_token_id not in eos.tolist()))
        tokens_given = input_ids is not None
        if inputs_embeds is not None:
            inputs_embeds = self._checked_embeds(inputs_embeds, input_ids, given_cache)
            if not tokens_given:  # (zeros checked and expanded in their place: the embeddings' length counts)
                input_ids = torch.zeros(inputs_embeds.shape[:2], dtype=torch.long, device=inputs_embeds.device)
                # as transformers: min_length counts the embeddings (the sequences returned start after them)
                o = dict(o, min_length=max((o["min_length"] or 0) - inputs_embeds.shape[1], 0))
            infer_mask = False  # (transformers infers no mask beside embeddings)
            for name, neutral in (("encoder_repetition_penalty", 1.0), ("encoder_no_repeat_ngram_size", 0)):
                if o[name] not in (None, neutral):  # transformers' encoder input is then the embeddings: no ids
                    warnings.warn(f"Passing `{name}` requires some form of `input_ids` to be passed to `generate`, "
                                  f"ignoring the argument.", UserWarning, stacklevel=3)
                    o = dict(o, **{name: None})
        input_ids, attention_mask, max_new_tokens, room = self._generation_inputs(
            input_ids, attention_mask, o["max_length"], o["max_new_tokens"], copies,
            pad_token_id if infer_mask else None)
        if pad_token_id is None and eos is not None:
            pad_token_id = int(eos[0])
        prompt = input_ids if tokens_given else input_ids[:, :0]  # what the sequences start with
        prefill_embeds = {}
        if inputs_embeds is not None:
            prefill_embeds = dict(inputs_embeds=inputs_embeds.repeat_interleave(copies, dim=0))
        if token_type_ids is not None:
            token_type_ids = self._checked_token_types(token_type_ids, input_ids.shape[0] // copies,
                                                      input_ids.shape[1], given_cache).repeat_interleave(copies, dim=0)

        batch, prompt_len = input_ids.shape
        device = input_ids.device
        if eos is not None:
            eos = eos.to(device)
        if attention_mask is None:
            position_ids = torch.arange(prompt_len, device=device).expand(batch, prompt_len)
            next_positions = torch.full((batch,), prompt_len, dtype=torch.long, device=device)
        else:
            # padding at position 0, as transformers (what the attentions and hidden states there show)
            position_ids = (attention_mask.cumsum(1) - 1).masked_fill_(attention_mask == 0, 0)
            next_positions = attention_mask.sum(1)
        processors, reads_sequences = build_logits_processors(
            o, vocab=embedding_rows(self.get_input_embeddings()), eos=eos, prompt=prompt,
            # (the mask's padding, also beside embeddings only: as transformers, the new tokens at those
            # indices then escape repetition_penalty)
            first_real=None if attention_mask is None else attention_mask.argmax(1),
            max_length=prompt.shape[1] + max_new_tokens, custom=logits_processor,
            prefix_allowed_tokens_fn=prefix_allowed_tokens_fn)
        stop = build_stopping_criteria(o, tokenizer, start, stopping_criteria)
        reads_sequences = reads_sequences or getattr(stop, "reads_sequences", False)

        def process(sequences: torch.Tensor, width: int, logits: torch.Tensor) -> torch.Tensor:
            # `width`, prompt included, counts the padding as transformers' input_ids.shape[-1]
            for processor in processors:
                logits = processor(sequences, width, logits)
            return logits

        past = None if given_cache is None else self._continued_cache(given_cache, input_ids, o)
        decoder = self._decoder(o, embeds=bool(prefill_embeds), token_type_ids=token_type_ids)
        cache = decoder.new_cache(batch, prompt_len + (max_new_tokens if room is None else min(max_new_tokens, room)))
        if num_beams > 1 and not hasattr(cache, "reorder"):
            raise ValueError(f"beam search is not supported for {type(self).__name__} (its cache cannot follow beams)")
        # (the decoders of models without a cache to continue from take no `past`)
        logits = decoder.prefill(input_ids, position_ids, attention_mask, cache, **prefill_embeds,
                                 **({} if past is None else {"past": past}))
        return _Run(decoder, prompt, logits, cache, next_positions, max_new_tokens, eos, pad_token_id, process,
                    reads_sequences, stop, given_cache, 0 if past is None else past[0][0].shape[-2], room)

    def _checked_token_types(self, token_type_ids, batch: int, length: int, given_cache) -> torch.Tensor:
        """generate's token_type_ids [batch, length] (the prompt's), checked."""
        name = type(self).__name__
        if "token_type_ids" not in _forward_parameters(type(self)):
            raise ValueError(f"token_type_ids is not supported by {name}'s generate (its forward takes none)")
        if not isinstance(token_type_ids, torch.Tensor):
            raise TypeError(f"token_type_ids must be a torch.Tensor, got {type(token_type_ids).__name__}")
        if tuple(token_type_ids.shape) != (batch, length):
            raise ValueError(f"token_type_ids must have the prompt's shape [batch, sequence] = {(batch, length)}, got "
                             f"{tuple(token_type_ids.shape)}")
        if given_cache is not None:
            raise ValueError("generate takes token_type_ids without past_key_values / cache")
        check_ids("token_type_ids", token_type_ids, embedding_rows(self.get_input_embeddings()),
                  "the vocabulary size (GPT models embed token types with the word embeddings)")
        return token_type_ids

    def _checked_embeds(self, inputs_embeds, input_ids, given_cache) -> torch.Tensor:
        """generate's inputs_embeds [batch, length, hidden] in the model's dtype, checked."""
        name = type(self).__name__
        if "inputs_embeds" not in inspect.signature(type(self.fast).prefill).parameters:  # (not Transformer-XL)
            raise ValueError(f"inputs_embeds is not supported by {name}'s generate")
        hidden = self.get_input_embeddings().embedding_dim
        if not isinstance(inputs_embeds, torch.Tensor) or not inputs_embeds.is_floating_point():
            raise TypeError(f"inputs_embeds must be a floating-point torch.Tensor, got "
                            f"{getattr(inputs_embeds, 'dtype', type(inputs_embeds).__name__)}")
        if inputs_embeds.dim() != 3 or inputs_embeds.shape[-1] != hidden or 0 in inputs_embeds.shape:
            raise ValueError(f"inputs_embeds must have shape [batch, sequence, {hidden}] (sequence >= 1), got "
                             f"{tuple(inputs_embeds.shape)}")
        if input_ids is not None and tuple(input_ids.shape) != tuple(inputs_embeds.shape[:2]):
            raise ValueError(f"input_ids beside inputs_embeds must be their tokens, of the same [batch, sequence] "
                             f"{tuple(inputs_embeds.shape[:2])}, got {tuple(input_ids.shape)}")
        if given_cache is not None:
            raise ValueError("generate takes inputs_embeds without past_key_values / cache")
        return inputs_embeds.to(self.get_input_embeddings().weight.dtype)

    def _continued_cache(self, given, input_ids: torch.Tensor, options: dict) -> Optional[list]:
        """Per layer (keys, values) [rows, heads, cached, head_dim] of the cache passed to generate (a transformers
        Cache, (keys, values) per layer, or our forward's presents; None if empty), checked against the prompt:
        they are the keys and values of the first `cached` tokens of input_ids, with one row per sequence
        generated (as transformers, which does not expand a cache to the beams or returned sequences)."""
        name = type(self).__name__
        if not hasattr(self, "_past_pairs"):
            raise ValueError(f"past_key_values / cache is not supported by {name}'s generate: its forward takes and "
                             f"returns no keys and values of earlier tokens (Transformer-XL's mems are hidden states "
                             f"of earlier segments), so there is no such cache to continue from")
        if not options["use_cache"]:
            raise ValueError("past_key_values / cache needs use_cache=True (generate continues from the cache given)")
        past = self._past_pairs(given)
        if past is None:
            return None
        rows, cached = past[0][0].shape[0], past[0][0].shape[-2]
        if rows != input_ids.shape[0]:
            raise ValueError(f"the cache passed to generate holds {rows} rows but generate runs {input_ids.shape[0]} "
                             f"(prompts x num_beams, or x num_return_sequences; as transformers, expand the cache's "
                             f"rows, e.g. with repeat_interleave)")
        if cached >= input_ids.shape[1]:
            raise ValueError(f"the cache passed to generate holds {cached} tokens but input_ids has "
                             f"{input_ids.shape[1]}: input_ids must be the cached tokens and at least one more")
        return past

    def _decoder(self, o: dict, embeds: bool, token_type_ids: Optional[torch.Tensor] = None):
        """The fused decoder, or the model's own forward where generate returns attentions or hidden states (which
        the fused decoder does not compute), takes token_type_ids, or where the fused decoder would not compute
        what the model does: a module with a hook or a forward of its own (an adapter), a module in training mode
        (dropout, which transformers' generate applies), or the fast path turned off."""
        wanted = [name for name in ("output_attentions", "output_hidden_states") if o[name]]
        if wanted and o["return_dict_in_generate"]:
            why = " and ".join(wanted)
        elif token_type_ids is not None:
            why = "token_type_ids"
        elif not self.fast.decodes() or intercepts(self) or self.training:
            why = "a model whose fused decoder does not compute what its modules do (hooks, adapters, dropout)"
        else:
            return self.fast
        if embeds:
            raise ValueError(f"generate takes inputs_embeds without {why} (only the fused decoder takes them)")
        if not wanted and hasattr(self.fast, "forward_decoder"):  # (Transformer-XL: its forward over memories)
            return self.fast.forward_decoder()
        if not {"attention_mask", "position_ids"} <= _forward_parameters(type(self)):
            raise ValueError(f"{why} is not supported by {type(self).__name__}'s generate (its forward takes no "
                             f"attention_mask and position_ids to run it step by step)")
        return _FullOutputDecoder(self, o, token_type_ids)

    def _decode(self, run: "_Run", do_sample: bool, generator, kept_scores: Optional[list] = None):
        """Greedy decoding or sampling: yields (tokens [rows], raw logits [rows, vocab]) per step. kept_scores
        (return_dict_in_generate with output_scores): a list each step's processed scores [rows, vocab] are appended
        to, which the stopping criteria receive as a tuple (else None), as transformers'."""
        decoder, cache, eos, pad_token_id = run.decoder, run.cache, run.eos, run.pad_token_id
        sequences, logits, next_positions = run.input_ids, run.logits, run.next_positions
        batch, prompt_len = sequences.shape
        unfinished = torch.ones(batch, dtype=torch.bool, device=sequences.device)
        for step in range(run.max_new_tokens):
            logits = logits.float()
            scores = run.process(sequences, prompt_len + step, logits)
            if do_sample:
                tokens = torch.multinomial(scores.softmax(-1), 1, generator=generator).squeeze(1)
            else:
                tokens = scores.argmax(-1)
            if kept_scores is not None:
                kept_scores.append(scores)
            if eos is not None:  # (as transformers, finished rows get padding only when eos ends rows)
                tokens = torch.where(unfinished, tokens, torch.full_like(tokens, pad_token_id))
                unfinished &= ~torch.isin(tokens, eos)
            if run.reads_sequences:
                sequences = torch.cat([sequences, tokens[:, None]], dim=1)
            if run.stop is not None:
                unfinished &= ~run.stop(sequences, None if kept_scores is None else tuple(kept_scores))
            yield tokens, logits
            if step == run.max_new_tokens - 1 or (
                    (eos is not None or run.stop is not None) and not bool(unfinished.any())):
                return
            self._check_room(run, step + 1)
            logits = decoder.step(tokens, next_positions, cache)
            next_positions += 1

    def _check_room(self, run: "_Run", produced: int) -> None:
        """Before running the `produced`-th new token: it must have a position (transformers fails there too)."""
        if run.room is not None and produced >= run.room:
            raise ValueError(f"generation reached the {self.config.n_positions} positions of this model "
                             f"(config.n_positions) after {produced} new tokens, with rows unfinished: the longest "
                             f"prompt + max_new_tokens ({run.max_new_tokens}) - 1 exceeds them")

    def _beam_search(self, run: "_Run", options: dict, generator=None) -> "GenerateBeamDecoderOnlyOutput":
        """transformers' beam search (generation/utils.py, _beam_search), step for step: each step keeps the
        best continuations of every prompt's beams by summed log-probability (with do_sample, draws them without
        replacement from the softmax of those sums, after the sampling filters), a beam that ends (eos or the
        length limit) joins the finished ones scored by sum / new_length ** length_penalty, and the KV cache
        rows follow the beams that continue."""
        num_beams, num_return_sequences = options["num_beams"], options["num_return_sequences"]
        length_penalty, early_stopping = options["length_penalty"], options["early_stopping"]
        as_dict = options["return_dict_in_generate"]
        keep_scores, keep_logits = as_dict and options["output_scores"], as_dict and options["output_logits"]
        eos, pad_token_id, decoder, cache = run.eos, run.pad_token_id, run.decoder, run.cache
        rows, prompt_len = run.input_ids.shape
        batch, device = rows // num_beams, run.input_ids.device
        max_length = prompt_len + run.max_new_tokens
        keep = max(2, 1 + (0 if eos is None else eos.shape[0])) * num_beams  # enough to go on after eos
        top_beams = torch.arange(keep, device=device) < num_beams
        fill = (pad_token_id or int(eos[0])) if eos is not None else -1  # (transformers' value, pad 0 included)

        def gather(tensor, index):  # [batch, beams, ...] by beam index [batch, k]
            while index.dim() < tensor.dim():
                index = index.unsqueeze(-1)
            return torch.take_along_dim(tensor, index, dim=1)

        running = torch.full((batch, num_beams, max_length), fill, dtype=torch.int64, device=device)
        running[:, :, :prompt_len] = run.input_ids.view(batch, num_beams, prompt_len)
        finished = running.clone()
        running_scores = torch.zeros((batch, num_beams), dtype=torch.float, device=device)
        running_scores[:, 1:] = -1e9  # the beams start equal: only the first one's continuations count
        finished_scores = torch.full((batch, num_beams), -1e9, dtype=torch.float, device=device)
        is_finished = torch.zeros((batch, num_beams), dtype=torch.bool, device=device)
        may_improve = torch.ones((batch, 1), dtype=torch.bool, device=device)
        running_sources = torch.full((batch, num_beams, run.max_new_tokens), -1, dtype=torch.int32, device=device)
        origin = torch.arange(rows, device=device)  # the row of the first step each cache row now follows
        finished_sources = running_sources.clone()
        logits, next_positions, length = run.logits, run.next_positions, prompt_len
        all_scores, all_logits = [], []
        while True:
            logits = logits.float()
            log_probs = run.process(running[:, :, :length].reshape(rows, length), length, logits.log_softmax(-1))
            if keep_logits:
                all_logits.append(logits)
            if keep_scores:
                all_scores.append(log_probs)
            vocab = log_probs.shape[-1]
            log_probs = (log_probs.view(batch, num_beams, vocab) + running_scores[:, :, None]).view(batch, -1)
            if options["do_sample"]:  # as transformers: draws in the order multinomial gives, then sorted
                top_index = torch.multinomial(log_probs.softmax(-1), num_samples=keep, generator=generator)
                top_log_probs, order = log_probs.gather(1, top_index).sort(dim=-1, descending=True)
                top_index = top_index.gather(1, order)
            else:
                top_log_probs, top_index = torch.topk(log_probs, k=keep)
            source = top_index // vocab
            top_sources = gather(running_sources, source)
            top_running = gather(running, source)
            tokens = top_index % vocab
            top_running[:, :, length] = tokens
            top_sources[:, :, length - prompt_len] = source + torch.arange(batch, device=device).view(-1, 1) * num_beams
            ends = torch.full_like(tokens, length + 1 >= max_length, dtype=torch.bool)
            if eos is not None:
                ends |= torch.isin(tokens, eos)
            if run.stop is not None:
                ends |= run.stop(top_running[:, :, :length + 1].reshape(batch * keep, -1),
                                 tuple(all_scores) if keep_scores else None).view(batch, keep)
            # the beams that go on: the best that did not end
            top_running_scores = top_log_probs + ends.to(torch.float32) * -1.0e9
            go_on = torch.topk(top_running_scores, k=num_beams)[1]
            running = gather(top_running, go_on)
            running_scores = gather(top_running_scores, go_on)
            running_sources = gather(top_sources, go_on)
            # the finished beams: the best of those so far and those that just ended among the top num_beams
            just_ended = ends & top_beams[None, :]
            ended_scores = top_log_probs / ((length + 1 - prompt_len) ** length_penalty)
            ended_scores += (is_finished.all(-1, keepdim=True) & (early_stopping is True)).to(torch.float32) * -1.0e9
            ended_scores += (~may_improve).to(torch.float32) * -1.0e9
            ended_scores += (~just_ended) * -1.0e9
            merged_scores = torch.cat((finished_scores, ended_scores), dim=1)
            best = torch.topk(merged_scores, k=num_beams)[1]
            finished = gather(torch.cat((finished, top_running), dim=1), best)
            finished_scores = gather(merged_scores, best)
            finished_sources = gather(torch.cat((finished_sources, top_sources), dim=1), best)
            is_finished = gather(torch.cat((is_finished, just_ended), dim=1), best)
            beam_rows = running_sources[..., length - prompt_len].reshape(-1).long()
            length += 1
            # can a running beam still beat the worst finished one? (transformers' heuristic)
            if early_stopping == "never" and length_penalty > 0.0:
                best_length = max_length - prompt_len
            else:
                best_length = length - prompt_len
            best_running = running_scores[:, :1] / (best_length ** length_penalty)
            worst_finished = torch.where(is_finished, finished_scores.min(dim=1, keepdim=True)[0], -1.0e9)
            may_improve = may_improve & (best_running > worst_finished).any(dim=-1, keepdim=True)
            all_full = bool(is_finished.all()) and early_stopping is True
            cache.reorder(beam_rows)  # (after the last step too: the cache returned follows the running beams)
            origin = origin[beam_rows]
            if not bool(may_improve.any()) or all_full or bool(ends.all()):
                break
            self._check_room(run, length - prompt_len)
            logits = decoder.step(running[:, :, length - 1].reshape(rows), next_positions, cache)
            next_positions += 1

        if is_transformers_cache(run.given_cache):  # as transformers, which reorders it each step: all its
            run.given_cache.reorder_cache(origin)  # positions follow the beams (_extend_given_cache adds the new)
        sequences = finished[:, :num_return_sequences].reshape(batch * num_return_sequences, -1)
        sources = finished_sources[:, :num_return_sequences].reshape(batch * num_return_sequences, -1)
        generated = int((sources + 1).bool().sum(dim=1).max())
        return GenerateBeamDecoderOnlyOutput(
            sequences=sequences[:, :prompt_len + generated],
            sequences_scores=finished_scores[:, :num_return_sequences].reshape(-1) if keep_scores else None,
            scores=tuple(all_scores) if keep_scores else None, logits=tuple(all_logits) if keep_logits else None,
            beam_indices=sources[:, :generated], **_step_outputs(run.decoder))

    @torch.no_grad()
    def generate(self, input_ids=None, generation_config=None, max_length: Optional[int] = NOT_GIVEN,
                 max_new_tokens: Optional[int] = NOT_GIVEN, do_sample: Optional[bool] = NOT_GIVEN,
                 temperature: Optional[float] = NOT_GIVEN, top_k: Optional[int] = NOT_GIVEN,
                 top_p: Optional[float] = NOT_GIVEN,
                 eos_token_id: Union[int, Sequence[int], None] = NOT_GIVEN, pad_token_id: Optional[int] = NOT_GIVEN,
                 num_return_sequences: Optional[int] = NOT_GIVEN, generator: Optional[torch.Generator] = None,
                 streamer=None, attention_mask=None, tokenizer=None, logits_processor=None,
                 stopping_criteria=None, prefix_allowed_tokens_fn=None, inputs=None,
                 past_key_values=None, cache=None, inputs_embeds=None,
                 **kwargs: Any) -> Union[torch.Tensor, GenerateDecoderOnlyOutput]:
        """Continues the prompts and returns [batch * num_return_sequences, prompt + new] token ids (the prompt,
        padding included, then the new tokens), like transformers' generate. The prompt: input_ids (or `inputs`,
        transformers' name), else one row of bos_token_id (default: the generation config's, else
        config.bos_token_id).

        max_new_tokens (default 20, the whole no longer than config.max_position_embeddings, as transformers) or
        max_length (prompt included) bounds the new tokens; generation stops
        early when every row has produced eos_token_id (default: the generation config's, else
        config.eos_token_id; None given: no eos token, as transformers), and finished rows are filled with
        pad_token_id (default: the eos token). do_sample draws from softmax(logits / temperature)
        restricted to top_k tokens (default 50, as transformers; 0 or None given: every token) and the top_p nucleus,
        using `generator` when given (reproducible).
        streamer: a callable receiving each step's tokens [batch], or an object with put(tokens) / end()
        (transformers' TextStreamer protocol: put first receives the prompt).

        transformers' options, with its semantics, applied to the logits in this order before the sampling
        filters: repetition_penalty (> 0; scores of the tokens of the prompt, padding excluded, and of the new
        tokens divided by it, multiplied where negative), no_repeat_ngram_size (no n-gram of the row occurs
        twice), bad_words_ids (lists of token ids never generated in that order), min_length (prompt included)
        / min_new_tokens (eos suppressed until reached; min_new_tokens, when set, replaces min_length); and the
        others of transformers 5.25 for decoder-only models (sequence_bias, encoder_repetition_penalty and
        encoder_no_repeat_ngram_size on the prompt, forced_bos_token_id / forced_eos_token_id, suppress_tokens,
        begin_suppress_tokens, exponential_decay_length_penalty, remove_invalid_values, renormalize_logits; with
        do_sample top_h, min_p, typical_p, epsilon_cutoff, eta_cutoff), in its order. max_time (seconds from the
        call) and stop_strings (with tokenizer=, ours or transformers') end rows as transformers' stopping
        criteria; as do logits_processor and stopping_criteria (lists of transformers' processors and criteria, or
        callables (input_ids, scores)), merged with those the options make as transformers merges them, and
        prefix_allowed_tokens_fn ((prompt index, row's ids) -> the token ids allowed next).
        return_dict_in_generate=True returns a GenerateDecoderOnlyOutput (sequences, and the per-step `scores`
        with output_scores=True, raw `logits` with output_logits=True, `attentions` / `hidden_states` with
        output_attentions / output_hidden_states=True, computed by the model's forward rather than the fused
        decoder). generation_config (transformers.GenerationConfig, ours or a dict; second, as transformers' generate
        takes it, where a tensor is the attention_mask) gives the options not passed here; an option passed as None
        is off (its default) whatever the generation configs say, as transformers updates its config with the call.
        num_beams > 1: transformers' beam search (not for Transformer-XL), returning the best num_return_sequences
        (<= num_beams) beams of each prompt, scored by summed log-probability /
        new_length ** length_penalty; early_stopping True stops a prompt at num_beams finished beams, False
        (default) when no running beam can do better by transformers' estimate, "never" by the exact bound;
        with do_sample, beam sampling (each step's continuations drawn without replacement after the sampling
        filters, as transformers); with return_dict_in_generate a GenerateBeamDecoderOnlyOutput.
        past_key_values (or `cache`, GPT-2): the keys and values of the first tokens of input_ids (a transformers
        Cache, (keys, values) per layer, or our forward's presents), one row per generated sequence as transformers;
        only the tokens after them run, and a transformers Cache is extended in place and returned (with beam search,
        all its rows reordered by the beams), as transformers. inputs_embeds (GPT, GPT-2): the prompt's embeddings
        [batch, length, hidden], run in place of its tokens'; the sequences returned then hold the new tokens only
        (after input_ids where given too, their tokens), and max_length counts the embeddings, as transformers.
        token_type_ids (GPT, GPT-2): the prompt's token types [batch, length]; the new tokens take the last one, as
        transformers (run by the model's forward each step rather than the fused decoder)."""
        given_cache = _pop_given_cache(dict(past_key_values=past_key_values, cache=cache))
        token_type_ids = kwargs.pop("token_type_ids", None)
        attention_mask, generation_config = _config_given_second(generation_config, attention_mask)
        options = _options(generation_config, model_config=self.generation_config, given=dict(
            kwargs, max_length=max_length, max_new_tokens=max_new_tokens, do_sample=do_sample,
            temperature=temperature, top_k=top_k, top_p=top_p, eos_token_id=eos_token_id,
            pad_token_id=pad_token_id, num_return_sequences=num_return_sequences))
        input_ids = self._prompt(input_ids, inputs, options, inputs_embeds)
        if streamer is not None and not (callable(streamer) or hasattr(streamer, "put")):
            raise TypeError("streamer must be callable or have put()/end() methods")
        as_dict = bool(options["return_dict_in_generate"])
        if options["num_beams"] != 1:
            if streamer is not None:
                raise ValueError("streamer cannot be used with beam search (the best beams are known at the end only)")
            run = self._setup(input_ids, attention_mask, generator, options, tokenizer, logits_processor,
                              stopping_criteria, prefix_allowed_tokens_fn, given_cache, inputs_embeds, token_type_ids)
            output = self._beam_search(run, options, generator)
            _extend_given_cache(run)
            if as_dict:
                output.cache = self._returned_cache(run, options)
            return output if as_dict else output.sequences
        pieces, all_logits = [], []
        all_scores = [] if as_dict and options["output_scores"] else None
        put = getattr(streamer, "put", None) if streamer is not None else None
        run = self._setup(input_ids, attention_mask, generator, options, tokenizer, logits_processor,
                          stopping_criteria, prefix_allowed_tokens_fn, given_cache, inputs_embeds, token_type_ids)
        if put is not None:  # (the rows decoded, one per returned sequence, as transformers)
            put(run.input_ids.cpu())
        try:
            for tokens, logits in self._decode(run, options["do_sample"], generator, all_scores):
                pieces.append(tokens)
                if as_dict and options["output_logits"]:
                    all_logits.append(logits)
                if put is not None:
                    put(tokens.cpu())
                elif streamer is not None:
                    streamer(tokens)
        finally:  # (a streamer that raises too: as transformers', the cache given holds what ran)
            _extend_given_cache(run)
        if streamer is not None and hasattr(streamer, "end"):
            streamer.end()
        sequences = torch.cat([run.input_ids, torch.stack(pieces, dim=1)], dim=1)
        if not as_dict:
            return sequences
        return GenerateDecoderOnlyOutput(
            sequences, scores=tuple(all_scores) if all_scores else None,
            logits=tuple(all_logits) if all_logits else None, cache=self._returned_cache(run, options),
            **_step_outputs(run.decoder))

    def compute_transition_scores(self, sequences: torch.Tensor, scores: Sequence[torch.Tensor],
                                  beam_indices: Optional[torch.Tensor] = None,
                                  normalize_logits: bool = False) -> torch.Tensor:
        """transformers' compute_transition_scores: the score of each new token [rows, new tokens], read from
        generate's `scores` (return_dict_in_generate, output_scores) at the row given by its `beam_indices` (after
        beam search; else each row's own), 0 after a beam's end; normalize_logits: log-softmaxed first."""
        if not isinstance(scores, (list, tuple)) or len(scores) == 0:
            raise ValueError("scores must be generate's per-step scores (return_dict_in_generate=True, "
                             "output_scores=True), a non-empty tuple of [rows, vocab] tensors")
        steps, vocab = len(scores), scores[0].shape[-1]
        if beam_indices is None:
            beam_indices = torch.arange(scores[0].shape[0], device=sequences.device).view(-1, 1).expand(-1, steps)
        stacked = torch.stack(scores).reshape(steps, -1).transpose(0, 1)  # [rows * vocab, steps]
        if normalize_logits:
            stacked = stacked.reshape(-1, vocab, steps).log_softmax(dim=1).reshape(-1, steps)
        ended = beam_indices < 0
        length = int((~ended).sum(-1).max())
        ended = ended[:, :length]
        rows = beam_indices[:, :length].masked_fill(ended, 0)
        indices = sequences[:, sequences.shape[-1] - length:] + rows * vocab
        return stacked.gather(0, indices).masked_fill(ended, 0.0)

    def _returned_cache(self, run: "_Run", options: dict):
        """The KV cache as transformers' generate returns it (unless use_cache=False): the transformers Cache passed
        in (extended), else a transformers DynamicCache, or per layer (keys, values) without transformers; empty
        for a model whose forward takes none (OpenAI GPT: transformers' generate makes one all the same); None for
        Transformer-XL, whose memories are no such cache."""
        cache = run.cache
        if is_transformers_cache(run.given_cache):
            return run.given_cache
        if not options["use_cache"] or not hasattr(cache, "key_values"):
            return None
        return as_transformers_cache(cache.key_values() if "past_key_values" in _forward_parameters(type(self)) else [])
