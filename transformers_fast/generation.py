"""Text generation for the decoder models: `model.generate(...)` and `model.stream_generate(...)`.

Greedy decoding or sampling (temperature, top-k, top-p, a seeded torch.Generator), max_new_tokens /
max_length, eos_token_id, num_return_sequences, and streaming (a callback, a transformers-style streamer
with put()/end(), or the `stream_generate` iterator). Hugging Face transformers 5.25's logits processors
(sequence_bias, repetition penalties, n-gram bans, bad words, min lengths, forced tokens, suppressed tokens, ...),
sampling filters (temperature, top_h, top_k, top_p, min_p, typical_p, epsilon and eta cutoffs) and stopping
criteria (eos, max_time, stop_strings) run on the logits each decoder step returns, in transformers' order and
with its semantics (_logits_processors; none at all for options left at their neutral values);
`return_dict_in_generate` with output_scores / output_logits returns a GenerateDecoderOnlyOutput (with GPT-2's
KV cache as transformers returns it); `generation_config` (a transformers.GenerationConfig or a
dict) fills the options not given; num_beams > 1 is transformers' beam search (length_penalty, early_stopping),
the KV cache's rows following the beams (GPT, GPT-2). Prompts of different lengths are given left-padded with
an attention_mask; positions are counted from each prompt's first real token, so each row produces the tokens it
would produce alone. The model supplies a fused decoder (`model.fast`: new_cache, prefill, step) that keeps a
preallocated KV cache and returns logits of the last position only.
"""
from __future__ import annotations

import functools
import inspect
import json
import os
import time
from dataclasses import dataclass, fields
from typing import Any, Iterator, NamedTuple, Optional, Sequence, Tuple, Union

import torch
from torch.nn import functional as F

from transformers_fast.file_utils import GENERATION_CONFIG_NAME
from transformers_fast.modeling_utils import check_ids
from transformers_fast.runtime.fast_path import intercepts

DEFAULT_MAX_NEW_TOKENS = 20

# Every option generate takes besides the inputs, streamer and generator, with its value when neither the call
# nor generation_config gives one (None there means "not given" too, as in transformers).
DEFAULTS = dict(max_length=None, max_new_tokens=None, min_length=0, min_new_tokens=0, do_sample=False,
                temperature=1.0, top_k=50, top_p=None, repetition_penalty=1.0, no_repeat_ngram_size=0,
                bad_words_ids=None, eos_token_id=None, pad_token_id=None, num_return_sequences=1, num_beams=1,
                length_penalty=1.0, early_stopping=False, use_cache=True, return_dict_in_generate=False,
                output_scores=False, output_logits=False, typical_p=None, min_p=None, top_h=None,
                epsilon_cutoff=None, eta_cutoff=None, encoder_repetition_penalty=None,
                encoder_no_repeat_ngram_size=None, sequence_bias=None, suppress_tokens=None,
                begin_suppress_tokens=None, forced_bos_token_id=None, forced_eos_token_id=None,
                exponential_decay_length_penalty=None, renormalize_logits=False, remove_invalid_values=False,
                max_time=None, stop_strings=None)
RETURN_OPTIONS = ("return_dict_in_generate", "output_scores", "output_logits")  # what generate returns, not how
# Fields of a transformers.GenerationConfig that change nothing here (token ids of other uses, bookkeeping,
# how transformers runs the cache, compilation or assisted decoding, none of which changes the tokens).
IGNORED_CONFIG_FIELDS = {"bos_token_id", "decoder_start_token_id", "transformers_version", "_from_model_config",
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
OFF_VALUES = {"token_healing": False, "diversity_penalty": 0.0, "num_beam_groups": 1, "output_attentions": False,
              "output_hidden_states": False, "use_mtp": False, "guidance_scale": 1.0}


@dataclass
class GenerateDecoderOnlyOutput:
    """What generate returns with return_dict_in_generate=True, as transformers' class of that name: `sequences`
    [batch * num_return_sequences, prompt + new]; `scores` (output_scores) the processed scores [rows, vocab] of
    each step (after the logits processors and sampling filters, float32); `logits` (output_logits) the raw
    logits of each step; `cache` (GPT-2, whose forward takes past_key_values) the keys and values of every token
    but the last, as transformers returns them: a transformers DynamicCache (per layer [rows, heads, length,
    head_dim]; a tuple of (keys, values) per layer without transformers installed), also read as
    `past_key_values`; the slots of left padding hold other values than transformers' (they are never attended
    to). Read by attribute, by name (out["sequences"]) or by position among the fields set."""
    sequences: torch.Tensor
    scores: Optional[Tuple[torch.Tensor, ...]] = None
    logits: Optional[Tuple[torch.Tensor, ...]] = None
    cache: Any = None

    @property
    def past_key_values(self):  # transformers 4's name of `cache`
        return self.cache

    def keys(self):
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]

    def to_tuple(self):
        return tuple(getattr(self, name) for name in self.keys())

    def __getitem__(self, key):
        if isinstance(key, str):
            if key not in self.keys():
                raise KeyError(key)
            return getattr(self, key)
        return self.to_tuple()[key]

    def __iter__(self):  # like transformers' ModelOutput: iterating gives the names of the fields set
        return iter(self.keys())


@dataclass
class GenerateBeamDecoderOnlyOutput(GenerateDecoderOnlyOutput):
    """What beam search returns with return_dict_in_generate=True, as transformers' class of that name: besides
    `sequences`, `sequences_scores` [rows] (output_scores: each returned beam's length-penalised score), `scores`
    (output_scores: each step's processed log-probabilities [batch * num_beams, vocab]), `logits` (output_logits),
    `beam_indices` [rows, new tokens] (the flat beam row each token was appended to, -1 after the end) and `cache`
    (the running beams' keys and values [batch * num_beams, ...], as transformers)."""
    sequences_scores: Optional[torch.Tensor] = None
    beam_indices: Optional[torch.Tensor] = None

    def keys(self):  # transformers' field order
        names = ("sequences", "sequences_scores", "scores", "logits", "beam_indices", "cache")
        return [name for name in names if getattr(self, name) is not None]


class _Run(NamedTuple):
    """A generation after its prefill: what the decoding loops start from (GenerationMixin._setup)."""
    input_ids: torch.Tensor  # [rows, prompt] (the copies per prompt included)
    logits: torch.Tensor  # [rows, vocab] of the prompt's last position
    cache: Any
    next_positions: torch.Tensor  # [rows]
    max_new_tokens: int
    eos: Optional[torch.Tensor]
    pad_token_id: Optional[int]
    process: Any  # (sequences, width, logits) -> scores: the logits processors and sampling filters
    reads_sequences: bool  # whether `process` or `stop` reads the tokens (else the sequences need not be kept)
    stop: Any  # None, or (sequences [rows, length]) -> bool [rows]: the rows that max_time or stop_strings end


NEG_INF = float("-inf")


def top_k_filter(scores: torch.Tensor, top_k: int, keep: int = 1) -> torch.Tensor:
    """transformers' TopKLogitsWarper: -inf below the max(top_k, keep)-th largest score of each row."""
    top_k = max(top_k, keep)
    if top_k >= scores.shape[-1]:
        return scores
    threshold = torch.topk(scores, top_k, dim=-1).values[..., -1:]
    return scores.masked_fill(scores < threshold, NEG_INF)


def top_p_filter(scores: torch.Tensor, top_p: float, keep: int = 1) -> torch.Tensor:
    """transformers' TopPLogitsWarper: keeps the smallest set of most likely tokens whose probabilities add up to
    more than top_p (at least `keep` of them)."""
    sorted_scores, sorted_index = torch.sort(scores, descending=False, dim=-1)
    cumulative = sorted_scores.softmax(dim=-1).cumsum(dim=-1)
    remove_sorted = cumulative <= (1 - top_p)
    remove_sorted[..., -keep:] = False
    return scores.masked_fill(remove_sorted.scatter(-1, sorted_index, remove_sorted), NEG_INF)


def top_h_filter(scores: torch.Tensor, top_h: float) -> torch.Tensor:
    """transformers' TopHLogitsWarper: of the 100 most likely tokens, keeps the most likely ones while their summed
    entropy terms -p log p stay within top_h times the entropy of those 100 (at least one)."""
    top_logits, top_index = torch.topk(scores, min(100, scores.shape[-1]), dim=-1, largest=True, sorted=True)
    dist = torch.distributions.Categorical(logits=top_logits)
    probs = dist.probs
    selected = torch.cumsum(-probs * torch.log(probs), dim=-1) <= (dist.entropy() * top_h).unsqueeze(-1)
    selected[:, 0] = True
    keep_mask = torch.zeros(scores.shape, dtype=torch.bool, device=scores.device).scatter_(1, top_index, selected)
    return scores.masked_fill(~keep_mask, NEG_INF)


def min_p_filter(scores: torch.Tensor, min_p: float, keep: int = 1) -> torch.Tensor:
    """transformers' MinPLogitsWarper: -inf for tokens less likely than min_p times the most likely one (the `keep`
    most likely stay)."""
    probs = torch.softmax(scores, dim=-1)
    remove = probs < min_p * probs.amax(dim=-1, keepdim=True)
    remove.scatter_(-1, torch.topk(probs, min(keep, probs.shape[-1]), dim=-1).indices, False)
    return scores.masked_fill(remove, NEG_INF)


def typical_filter(scores: torch.Tensor, mass: float, keep: int = 1) -> torch.Tensor:
    """transformers' TypicalLogitsWarper: keeps the tokens whose surprise is closest to the entropy, up to
    probability `mass` (at least `keep`)."""
    normalized = F.log_softmax(scores, dim=-1)
    p = torch.exp(normalized)
    entropy = -(normalized * p).nansum(-1, keepdim=True)
    shifted = torch.abs((-normalized) - entropy)
    sorted_shifted, sorted_index = torch.sort(shifted, descending=False)
    cumulative = scores.gather(-1, sorted_index).softmax(dim=-1).cumsum(dim=-1)
    last = (cumulative < mass).sum(dim=1).clamp_(max=sorted_shifted.shape[-1] - 1)
    remove_sorted = sorted_shifted > sorted_shifted.gather(1, last.view(-1, 1))
    remove_sorted[..., :keep] = False
    return scores.masked_fill(remove_sorted.scatter(1, sorted_index, remove_sorted), NEG_INF)


def _cutoff(scores: torch.Tensor, remove: torch.Tensor, keep: int) -> torch.Tensor:
    """-inf where `remove`, except for the `keep` highest scores (epsilon and eta sampling)."""
    kept = torch.topk(scores, min(keep, scores.shape[-1]))[0][..., -1, None]
    return scores.masked_fill(remove & (scores < kept), NEG_INF)


def epsilon_filter(scores: torch.Tensor, epsilon: float, keep: int = 1) -> torch.Tensor:
    """transformers' EpsilonLogitsWarper: -inf for tokens of probability below epsilon."""
    return _cutoff(scores, scores.softmax(dim=-1) < epsilon, keep)


def eta_filter(scores: torch.Tensor, epsilon: float, keep: int = 1) -> torch.Tensor:
    """transformers' EtaLogitsWarper: -inf for tokens of probability below min(epsilon, sqrt(epsilon) *
    exp(-entropy))."""
    epsilon = torch.tensor(epsilon, device=scores.device)  # float32, as transformers computes it
    entropy = torch.distributions.Categorical(logits=scores).entropy()
    eta = torch.min(epsilon, torch.sqrt(epsilon) * torch.exp(-entropy))[..., None]
    return _cutoff(scores, scores.softmax(dim=-1) < eta, keep)


def apply_temperature_top_k_top_p(logits: torch.Tensor, temperature: float, top_k: Optional[int],
                                  top_p: Optional[float]) -> torch.Tensor:
    """Scores [batch, vocab] with every token outside top-k / the top-p nucleus set to -inf (the order and
    tie rules of transformers' TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper)."""
    if temperature != 1.0:
        logits = logits / temperature
    if top_k is not None and top_k > 0:
        logits = top_k_filter(logits, top_k)
    if top_p is not None and top_p < 1.0:
        logits = top_p_filter(logits, top_p)
    return logits


def apply_repetition_penalty(sequences: torch.Tensor, scores: torch.Tensor, penalty: float,
                             first_real: Optional[torch.Tensor]) -> torch.Tensor:
    """transformers' RepetitionPenaltyLogitsProcessor: the score of every token in `sequences` [batch, length]
    (from first_real [batch], each row's first non-padding position, on) divided by `penalty`, or multiplied
    when negative (so that a penalty > 1 always makes a seen token less likely)."""
    vocab = scores.shape[-1]
    ids = sequences.clamp(max=vocab)  # ids past the head's vocabulary (and padding) go to a spare column
    if first_real is not None:
        positions = torch.arange(ids.shape[1], device=ids.device)
        ids = ids.masked_fill(positions[None, :] < first_real[:, None], vocab)
    scores = F.pad(scores, (0, 1))
    seen = scores.gather(1, ids)
    seen = torch.where(seen < 0, seen * penalty, seen / penalty)
    return scores.scatter(1, ids, seen)[:, :vocab]


def apply_encoder_repetition_penalty(prompt: torch.Tensor, scores: torch.Tensor, penalty: float) -> torch.Tensor:
    """transformers' EncoderRepetitionPenaltyLogitsProcessor on a decoder-only model (its "encoder" ids are the
    prompt, padding included): the scores of the prompt's tokens [rows, prompt] multiplied by `penalty`, divided
    where negative (a penalty > 1 favours them)."""
    seen = torch.gather(scores, 1, prompt)
    seen = torch.where(seen < 0, seen * (1 / penalty), seen / (1 / penalty))
    return scores.scatter(1, prompt, seen)


def ban_repeated_ngrams(sequences: torch.Tensor, scores: torch.Tensor, size: int,
                        source: Optional[torch.Tensor] = None) -> torch.Tensor:
    """transformers' NoRepeatNGramLogitsProcessor: -inf for every token that would complete an n-gram already in
    `sequences` [batch, length] (the whole row, padding included, as transformers); with `source` [batch, length']
    (the prompt), its EncoderNoRepeatNGramLogitsProcessor: an n-gram already in `source`."""
    source = sequences if source is None else source
    if source.shape[1] < size:
        return scores
    # the next token completes an n-gram only after the last size - 1 tokens: match them against every window
    prefix = sequences[:, sequences.shape[1] + 1 - size:]
    windows = source.unfold(1, size, 1)
    matches = (windows[..., :-1] == prefix.unsqueeze(1)).all(dim=-1)
    vocab = scores.shape[-1]
    banned = scores.new_zeros((scores.shape[0], vocab + 1), dtype=torch.bool)
    banned.scatter_(1, torch.where(matches, windows[..., -1].clamp(max=vocab), vocab), True)
    return scores.masked_fill(banned[:, :vocab], NEG_INF)


class SequenceBias:
    """transformers' SequenceBiasLogitsProcessor (and NoBadWordsLogitsProcessor, a bias of -inf): `biases`
    {token ids tuple: bias} adds each bias to the score of a sequence's last token when its other tokens end the
    row (a one-token sequence always), prepared once for a vocabulary of `vocab` scores."""

    def __init__(self, biases: dict, vocab: int, device):
        self.single = torch.zeros((vocab,), dtype=torch.float, device=device)
        singles = [(ids[0], bias) for ids, bias in biases.items() if len(ids) == 1]
        if singles:
            self.single[[t for t, _ in singles]] = torch.tensor([b for _, b in singles], device=device)
        by_length = {}
        for ids, bias in biases.items():
            if len(ids) > 1:
                by_length.setdefault(len(ids) - 1, []).append((ids, bias))
        self.longer = [(torch.tensor([ids[:-1] for ids, _ in group], device=device),
                        torch.tensor([ids[-1] for ids, _ in group], device=device),
                        torch.tensor([bias for _, bias in group], dtype=torch.float, device=device))
                       for group in by_length.values()]

    def __call__(self, sequences: torch.Tensor, width: int, scores: torch.Tensor) -> torch.Tensor:
        bias = torch.zeros_like(scores)  # (summed first, then added: transformers' rounding)
        bias += self.single
        for prefixes, last_tokens, values in self.longer:
            if prefixes.shape[1] > sequences.shape[1]:
                continue
            matching = (sequences[:, None, -prefixes.shape[1]:] == prefixes).all(dim=-1)
            bias.index_add_(1, last_tokens, torch.where(matching, values, 0.0).to(bias.dtype))
        return scores + bias


def _check_number(name: str, value: Any, low: float, high: float = float("inf"), low_open: bool = True) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = ok and ((value > low) if low_open else (value >= low)) and value <= high
    if not ok:
        raise ValueError(f"{name} must be a number in {'(' if low_open else '['}{low}, {high}], got {value!r}")


def _check_count(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        kind = "positive" if low == 1 else "non-negative"
        raise ValueError(f"{name} must be a {kind} integer, got {value!r}")


def _token_set(name: str, value) -> Optional[torch.Tensor]:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise TypeError(f"{name} must be an int or a list of ints, got {value!r}")
    return torch.tensor(value, dtype=torch.long)


def _token_id(name: str, token, vocab: int) -> int:
    if isinstance(token, bool) or not isinstance(token, int) or not 0 <= token < vocab:
        raise ValueError(f"{name} holds {token!r}, not a token id in [0, {vocab - 1}]")
    return token


def _token_ids(name: str, value, vocab: int) -> list:
    """A list (or tuple) of token ids, each checked."""
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{name} must be a list of token ids, got {value!r}")
    return [_token_id(name, t, vocab) for t in value]


def _bad_words(value, vocab: int, eos: Optional[torch.Tensor]) -> Optional[dict]:
    """bad_words_ids checked as transformers does (a non-empty list of non-empty lists of token ids), as the
    {word: -inf} biases of transformers' NoBadWordsLogitsProcessor; a bad word that is one eos token is dropped,
    as transformers does (eos must stay possible)."""
    if value is None:
        return None
    words = list(value) if isinstance(value, (list, tuple)) else None
    if not words or any(not isinstance(w, (list, tuple)) or not w for w in words):
        raise ValueError(f"bad_words_ids must be a non-empty list of non-empty lists of token ids, got {value!r}")
    for word in words:
        _token_ids("bad_words_ids", word, vocab)
    eos_ids = [] if eos is None else eos.tolist()
    return {tuple(w): NEG_INF for w in words if not (len(w) == 1 and w[0] in eos_ids)}


def _sequence_bias(value, vocab: int) -> Optional[dict]:
    """sequence_bias as transformers takes it: a non-empty list of [token ids, bias] pairs or a dict {tuple of
    token ids: bias}, as {tuple: float} (a later pair wins over an earlier one of the same ids, as there)."""
    if value is None:
        return None
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, (list, tuple)) and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in value):
        pairs = [tuple(p) for p in value]
    else:
        pairs = None
    if not pairs or any(not isinstance(ids, (list, tuple)) or not ids or isinstance(bias, bool)
                        or not isinstance(bias, (int, float)) for ids, bias in pairs):
        raise ValueError(f"sequence_bias must be a non-empty list of [token ids, bias] pairs (or a dict "
                         f"{{tuple of token ids: bias}}), got {value!r}")
    return {tuple(_token_ids("sequence_bias", ids, vocab)): float(bias) for ids, bias in pairs}


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
        unknown = _unimplemented(generation_config)
        if unknown:
            raise TypeError(f"{what} has options generate does not take: {', '.join(unknown)}")
        return {k: v for k, v in generation_config.items() if k in DEFAULTS}
    # options we do not implement (typical_p, diversity_penalty, ...) would be silently ignored otherwise
    unsupported = _unimplemented(getattr(generation_config, "to_diff_dict", dict)())
    if unsupported:
        raise ValueError(f"{what} sets options this library's generate does not implement: "
                         f"{', '.join(unsupported)}")
    return {name: getattr(generation_config, name) for name in DEFAULTS if hasattr(generation_config, name)}


class _NotGiven:
    def __repr__(self) -> str:
        return "<not given>"


NOT_GIVEN = _NotGiven()  # generate's default where an explicit None means something else
NO_EOS = _NotGiven()  # eos_token_id=None given: no eos token (not the config's), as transformers 5


def _options(generation_config, given: dict, model_config=None) -> dict:
    """The options of this call: those given (not None), else generation_config's, else the model's own
    generation config (its folder's generation_config.json, as transformers), else DEFAULTS."""
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise TypeError(f"generate got unexpected arguments: {', '.join(unknown)}")
    options = dict(DEFAULTS)
    for layer in (_config_options(model_config, "the model's generation_config (from its generation_config.json)"),
                  _config_options(generation_config, "generation_config"), given):
        options.update({k: v for k, v in layer.items() if v is not None and v is not NOT_GIVEN})
    if given.get("eos_token_id", NOT_GIVEN) is None:
        options["eos_token_id"] = NO_EOS
    if "top_k" in given and given["top_k"] is None:  # top_k=None given: no top-k filter, as transformers 5
        options["top_k"] = 0
    return options


@functools.lru_cache(maxsize=None)
def _forward_parameters(cls) -> frozenset:
    """The parameter names of a model class's forward (read once per class, not per generate call)."""
    return frozenset(inspect.signature(cls.forward).parameters)


def _flag(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def _logits_processors(o: dict, vocab: int, eos: Optional[torch.Tensor], prompt: torch.Tensor,
                       first_real: Optional[torch.Tensor], max_length: int, custom=None,
                       prefix_allowed_tokens_fn=None) -> Tuple[list, bool]:
    """transformers' logits processors for the options `o` (GenerationMixin._get_logits_processor), each checked,
    in its order (the sampling filters with do_sample only): [(sequences, width, scores) -> scores], and whether
    one of them reads the sequences. An option at its neutral value adds none. `prompt` [rows, prompt]: the
    prompts, one row per copy, padding included (transformers' encoder_input_ids of a decoder-only model).
    `custom`: generate's logits_processor, processors called as (input_ids, scores) merged as transformers does
    (one of the class of a processor built here takes its place, the others follow them, before the sampling
    filters); prefix_allowed_tokens_fn: (prompt index, row's ids) -> the token ids allowed next."""
    device, prompt_len = prompt.device, prompt.shape[1]
    processors, reads = [], False  # (transformers' class name, processor)

    def eos_in_vocab(name: str) -> torch.Tensor:
        if eos is None:
            raise ValueError(f"{name} acts on the eos token: give eos_token_id (the model's config has none)")
        for token in eos.tolist():
            _token_id("eos_token_id", token, vocab)
        return eos

    bias = _sequence_bias(o["sequence_bias"], vocab)
    if bias:
        processors.append(("SequenceBiasLogitsProcessor", SequenceBias(bias, vocab, device)))
        reads = reads or any(len(ids) > 1 for ids in bias)
    value = o["encoder_repetition_penalty"]
    if value is not None:
        _check_number("encoder_repetition_penalty", value, 0.0)
        if value != 1.0:
            processors.append(("EncoderRepetitionPenaltyLogitsProcessor", lambda seq, width, x, p=float(value):
                               apply_encoder_repetition_penalty(prompt, x, p)))
    penalty = o["repetition_penalty"]
    _check_number("repetition_penalty", penalty, 0.0)
    if penalty != 1.0:
        processors.append(("RepetitionPenaltyLogitsProcessor", lambda seq, width, x, p=float(penalty):
                           apply_repetition_penalty(seq, x, p, first_real)))
        reads = True
    for name, source, kind in (("no_repeat_ngram_size", None, "NoRepeatNGramLogitsProcessor"),
                               ("encoder_no_repeat_ngram_size", prompt, "EncoderNoRepeatNGramLogitsProcessor")):
        size = o[name] or 0
        _check_count(name, size, 0)
        if size > 0:
            processors.append((kind, lambda seq, width, x, n=size, src=source: ban_repeated_ngrams(seq, x, n, src)))
            reads = True
    bad_words = _bad_words(o["bad_words_ids"], vocab, eos)
    if bad_words:
        processors.append(("NoBadWordsLogitsProcessor", SequenceBias(bad_words, vocab, device)))
        reads = reads or any(len(ids) > 1 for ids in bad_words)
    min_length, min_new_tokens = o["min_length"], o["min_new_tokens"]
    _check_count("min_length", min_length, 0)
    _check_count("min_new_tokens", min_new_tokens, 0)
    if eos is not None:
        is_eos = torch.isin(torch.arange(vocab, device=device), eos)  # (an eos past the vocab: none)
        if min_length > 0:
            processors.append(("MinLengthLogitsProcessor", lambda seq, width, x: x.masked_fill(is_eos, NEG_INF)
                               if width < min_length else x))
        if min_new_tokens > 0:
            processors.append(("MinNewTokensLengthLogitsProcessor", lambda seq, width, x: x.masked_fill(
                is_eos, NEG_INF) if width - prompt_len < min_new_tokens else x))
    if prefix_allowed_tokens_fn is not None:
        if not callable(prefix_allowed_tokens_fn):
            raise TypeError(f"prefix_allowed_tokens_fn must be callable, got {prefix_allowed_tokens_fn!r}")
        processors.append(("PrefixConstrainedLogitsProcessor", functools.partial(
            _prefix_constrained, fn=prefix_allowed_tokens_fn, copies=max(o["num_beams"], o["num_return_sequences"]))))
        reads = True

    def force(tokens: list, at: int):
        def forced(seq, width, x):
            if width != at:
                return x
            x = torch.full_like(x, NEG_INF)
            x[:, tokens] = 0
            return x
        return forced

    forced_bos, forced_eos = o["forced_bos_token_id"], o["forced_eos_token_id"]
    if forced_bos is not None:  # (forces the first new token only after a one-token prompt, as transformers)
        processors.append(("ForcedBOSTokenLogitsProcessor", force([_token_id("forced_bos_token_id", forced_bos,
                                                                               vocab)], 1)))
    if forced_eos is not None:
        forced_eos = [forced_eos] if isinstance(forced_eos, int) and not isinstance(forced_eos, bool) else forced_eos
        processors.append(("ForcedEOSTokenLogitsProcessor",
                           force(_token_ids("forced_eos_token_id", forced_eos, vocab), max_length - 1)))
    if _flag("remove_invalid_values", o["remove_invalid_values"]):
        processors.append(("InfNanRemoveLogitsProcessor", lambda seq, width, x: torch.where(
            x == float("inf"), torch.finfo(x.dtype).max,
            torch.where(x == NEG_INF, torch.finfo(x.dtype).min, torch.where(x != x, 0.0, x)))))
    decay = o["exponential_decay_length_penalty"]
    if decay is not None:
        if (not isinstance(decay, (list, tuple)) or len(decay) != 2 or isinstance(decay[0], bool)
                or not isinstance(decay[0], int)):
            raise ValueError(f"exponential_decay_length_penalty must be (start_index, decay_factor), got {decay!r}")
        _check_number("exponential_decay_length_penalty's decay_factor", decay[1], float("-inf"))
        processors.append(("ExponentialDecayLengthPenalty", functools.partial(
            _exponential_decay, eos=eos_in_vocab("exponential_decay_length_penalty"), start=decay[0] + prompt_len,
            factor=decay[1])))
    suppressed = set()
    for name, at, kind in (("suppress_tokens", None, "SuppressTokensLogitsProcessor"),
                           ("begin_suppress_tokens", prompt_len + (prompt_len == 1 and forced_bos is not None),
                            "SuppressTokensAtBeginLogitsProcessor")):
        if o[name] is None:
            continue
        tokens = _token_ids(name, o[name], vocab)
        suppressed |= set(tokens) if at is None else set()
        is_suppressed = torch.isin(torch.arange(vocab, device=device), torch.tensor(tokens, dtype=torch.long,
                                                                                      device=device))
        processors.append((kind, lambda seq, width, x, mask=is_suppressed, at=at: torch.where(mask, NEG_INF, x) if (
            at is None or width == at) else x))
    for name, forced in (("forced_bos_token_id", forced_bos), ("forced_eos_token_id", forced_eos)):
        forced = {forced} if isinstance(forced, int) else set(forced or ())
        if forced and forced <= suppressed:  # (every score -inf at the forced step: transformers refuses it too)
            raise ValueError(f"every token of {name} ({sorted(forced)}) is also in suppress_tokens")

    if custom:
        processors, reads = _merged(processors, custom), True
    if o["do_sample"]:
        # beam sampling keeps enough tokens to go on after eos (transformers' min_tokens_to_keep)
        keep = 1 if o["num_beams"] == 1 else (2 if eos is None else eos.shape[0] + 1)
        temperature, top_h, top_k, top_p = o["temperature"], o["top_h"], o["top_k"], o["top_p"]
        _check_number("temperature", temperature, 0.0)
        if temperature != 1.0:
            processors.append(("", lambda seq, width, x: x / temperature))
        if top_h is not None:
            _check_number("top_h", top_h, 0.0, 1.0)
            processors.append(("", lambda seq, width, x: top_h_filter(x, top_h)))
        if top_k is not None:
            _check_count("top_k", top_k, 0)
            if top_k != 0:
                processors.append(("", lambda seq, width, x: top_k_filter(x, top_k, keep)))
        if top_p is not None:
            _check_number("top_p", top_p, 0.0, 1.0, low_open=False)  # (0: the most likely token, as transformers)
            if top_p < 1.0:
                processors.append(("", lambda seq, width, x: top_p_filter(x, top_p, keep)))
        for name, low_open, filter_, off in (("min_p", False, min_p_filter, None),
                                             ("typical_p", True, typical_filter, 1.0),
                                             ("epsilon_cutoff", False, epsilon_filter, 0.0),
                                             ("eta_cutoff", False, eta_filter, 0.0)):
            value = o[name]
            if value is None:
                continue
            _check_number(name, value, 0.0, 1.0, low_open=low_open)
            if value != off and not (off == 0.0 and value == 1.0):  # (a cutoff of 1 is off in transformers)
                processors.append(("", lambda seq, width, x, f=filter_, v=value: f(x, v, keep)))
    if _flag("renormalize_logits", o["renormalize_logits"]):
        processors.append(("", lambda seq, width, x: x.log_softmax(dim=-1)))
    return [processor for _, processor in processors], reads


def _merged(processors: list, custom) -> list:
    """transformers' _merge_criteria_processor_list: a custom processor of the class of one built here takes its
    place, the other custom ones follow (called as processor(input_ids, scores))."""
    if not isinstance(custom, (list, tuple)) or not all(callable(p) for p in custom):
        raise TypeError(f"logits_processor must be a list of logits processors (callables (input_ids, scores) -> "
                        f"scores), got {custom!r}")
    wrap = {id(p): (type(p).__name__, lambda seq, width, x, p=p: p(seq, x)) for p in custom}
    merged, used = [], set()
    for kind, processor in processors:
        match = next((p for p in custom if type(p).__name__ == kind), None)
        merged.append(wrap[id(match)] if match is not None else (kind, processor))
        if match is not None:
            used.add(id(match))
    return merged + [wrap[id(p)] for p in custom if id(p) not in used]


def _prefix_constrained(sequences: torch.Tensor, width: int, scores: torch.Tensor, fn, copies: int) -> torch.Tensor:
    """transformers' PrefixConstrainedLogitsProcessor: -inf for the tokens fn(prompt index, row) does not allow
    (all of them allowed at 0 where every allowed one of every row of a prompt is -inf already)."""
    mask = torch.full_like(scores, NEG_INF)
    for row in range(sequences.shape[0]):
        allowed = fn(row // copies, sequences[row])
        if len(allowed) == 0:
            raise ValueError(f"prefix_allowed_tokens_fn returned no token for prompt {row // copies}: the "
                             f"constraint cannot be met")
        mask[row, allowed] = 0
    processed = scores + mask
    stuck = processed.amax(dim=-1).isneginf().view(-1, copies).all(dim=-1, keepdim=True)
    return torch.where(stuck.repeat_interleave(copies, dim=0), mask, processed)


def _exponential_decay(sequences, width: int, scores: torch.Tensor, eos: torch.Tensor, start: int,
                       factor: float) -> torch.Tensor:
    """transformers' ExponentialDecayLengthPenalty: past `start` (prompt included), the eos scores raised by
    |score| * (factor ** (width - start) - 1)."""
    if width <= start:
        return scores
    eos_scores = scores[:, eos]
    penalty = torch.abs(eos_scores) * (pow(factor, width - start) - 1)
    penalties = torch.zeros_like(scores)
    penalties[:, eos] = penalty.masked_fill(~torch.isfinite(eos_scores), 0.0)
    return scores + penalties


class StopStrings:
    """transformers' StopStringCriteria: a row ends when the text of its last tokens holds one of `stop_strings`
    ending inside its last token (["st", "op"], ["st", "opera"] and ["las", "topper"] end "stop"; ["stop", "at"]
    does not). The text of each token is transformers' "clean" one (clean_tokenizer_vocab): bytes for a byte-level
    or byte-fallback tokenizer (from its backend_tokenizer's decoder), else what convert_tokens_to_string gives it
    after a fixed prefix."""

    reads_sequences = True
    _clean_vocabularies: "dict" = {}  # (mode, vocabulary) -> {id: text}, the last few tokenizers seen

    def __init__(self, stop_strings, tokenizer):
        if isinstance(stop_strings, str):
            stop_strings = [stop_strings]
        if (not isinstance(stop_strings, (list, tuple)) or not stop_strings
                or any(not isinstance(x, str) or not x for x in stop_strings)):
            raise ValueError(f"stop_strings must be a non-empty string or a list of them, got {stop_strings!r}")
        mode = self._matching_mode(tokenizer)
        self.strings = [x.encode("utf-8") if mode else x for x in stop_strings]
        self.tokens = self._clean_vocabulary(tokenizer, mode)
        if not any(s[-1:] in text for text in self.tokens.values() for s in self.strings):
            raise ValueError("stop_strings: no token of the tokenizer's vocabulary can end any of them")
        self.longest = max(len(x) for x in self.strings)  # tokens to look back at (one character each at least)

    @staticmethod
    def _matching_mode(tokenizer) -> Optional[str]:
        decoder = getattr(getattr(tokenizer, "backend_tokenizer", None), "decoder", None)
        if decoder is None:
            return None
        if type(decoder).__name__ == "ByteLevel":
            return "byte_level"
        state = getattr(decoder, "__getstate__", lambda: None)()
        try:
            config = json.loads(state) if isinstance(state, (str, bytes)) else None
        except ValueError:
            config = None

        def has(node, kind: str) -> bool:
            if isinstance(node, dict):
                return node.get("type") == kind or any(has(v, kind) for v in node.values())
            return isinstance(node, list) and any(has(v, kind) for v in node)

        return "byte_fallback" if has(config, "ByteFallback") else "byte_level" if has(config, "ByteLevel") else None

    @classmethod
    def _clean_vocabulary(cls, tokenizer, mode: Optional[str]) -> dict:
        from transformers_fast.tokenization_bpe import bytes_to_unicode

        vocab = tokenizer.get_vocab()
        key = (mode, tuple(sorted(vocab.items())))
        if key in cls._clean_vocabularies:
            return cls._clean_vocabularies[key]
        byte_decoder = {char: byte for byte, char in bytes_to_unicode().items()}
        prefix = "abcdef"
        base = [tokenizer._convert_id_to_token(t) for t in tokenizer(prefix, add_special_tokens=False)["input_ids"]]
        clean = {}
        for token, index in vocab.items():
            text = None
            if mode == "byte_level" and all(char in byte_decoder for char in token):
                text = bytes(byte_decoder[char] for char in token)
            elif (mode == "byte_fallback" and len(token) == 6 and token.startswith("<0x") and token.endswith(">")
                  and all(char in "0123456789abcdefABCDEF" for char in token[3:5])):
                text = bytes([int(token[3:5], 16)])
            if text is None:
                text = tokenizer.convert_tokens_to_string(base + [token])
                text = text[text.index(prefix) + len(prefix):]
                text = text.encode("utf-8") if mode is not None else text
            clean[index] = text
        if len(cls._clean_vocabularies) >= 8:
            cls._clean_vocabularies.pop(next(iter(cls._clean_vocabularies)))
        cls._clean_vocabularies[key] = clean
        return clean

    @staticmethod
    def _ends_with(texts: list, stop) -> bool:
        """Whether `stop` ends inside the last of `texts` (None: a token outside the vocabulary) and the texts
        before it spell the rest of it (the first one may start before it)."""
        last, n = texts[-1], len(stop)
        if last is None:
            return False
        i = last.find(stop[-1:])
        while i >= 0:
            matched = min(i + 1, n)
            if last[i + 1 - matched:i + 1] == stop[-matched:]:
                for text in reversed(texts[:-1]):
                    if matched >= n:
                        break
                    rest = stop[:n - matched]
                    if text is None or not (rest.endswith(text) if len(text) <= len(rest) else text.endswith(rest)):
                        break
                    matched += len(text)
                if matched >= n:
                    return True
            i = last.find(stop[-1:], i + 1)
        return False

    def __call__(self, sequences: torch.Tensor) -> torch.Tensor:
        rows = [[self.tokens.get(t) for t in row] for row in sequences[:, -self.longest:].tolist()]
        return torch.tensor([any(self._ends_with(texts, stop) for stop in self.strings) for texts in rows],
                            dtype=torch.bool, device=sequences.device)


class _Stop:
    """The rows that transformers' stopping criteria besides eos and max_length end (max_time, stop_strings,
    generate's stopping_criteria: callables (input_ids, scores) -> bool per row, given scores=None)."""

    def __init__(self, max_time: Optional[float], start: float, stop_strings: Optional[StopStrings], custom=()):
        self.max_time, self.start, self.stop_strings, self.custom = max_time, start, stop_strings, list(custom)
        self.reads_sequences = stop_strings is not None or bool(self.custom)

    def __call__(self, sequences: torch.Tensor) -> torch.Tensor:
        done = torch.zeros(sequences.shape[0], dtype=torch.bool, device=sequences.device)
        if self.max_time is not None and time.time() - self.start > self.max_time:
            done.fill_(True)
        if self.stop_strings is not None:
            done |= self.stop_strings(sequences)
        for criterion in self.custom:
            done |= torch.as_tensor(criterion(sequences, None), dtype=torch.bool, device=sequences.device)
        return done


def _stopping_criteria(o: dict, tokenizer, start: float, custom=None) -> Optional[_Stop]:
    max_time, stop_strings = o["max_time"], o["stop_strings"]
    custom = [] if custom is None else custom
    if not isinstance(custom, (list, tuple)) or not all(callable(c) for c in custom):
        raise TypeError(f"stopping_criteria must be a list of stopping criteria (callables (input_ids, scores) -> "
                        f"bool per row), got {custom!r}")
    kinds = {type(c).__name__ for c in custom}
    for kind, option in (("MaxLengthCriteria", "max_length or max_new_tokens"), ("EosTokenCriteria", "eos_token_id")):
        if kind in kinds:
            raise ValueError(f"stopping_criteria holds a {kind}: give {option} instead")
    if max_time is not None:
        _check_number("max_time", max_time, 0.0, low_open=False)
    if "MaxTimeCriteria" in kinds:  # (a custom criterion of a class built here takes its place, as transformers)
        max_time = None
    if stop_strings is not None and "StopStringCriteria" not in kinds:
        if tokenizer is None:
            raise ValueError("stop_strings needs the model's tokenizer: pass it to generate as tokenizer=, as "
                             "transformers requires")
        stop_strings = StopStrings(stop_strings, tokenizer)
    else:
        stop_strings = None
    if max_time is None and stop_strings is None and not custom:
        return None
    return _Stop(max_time, start, stop_strings, custom)


class GenerationConfig:
    """A model's own generation options, as transformers keeps them in `model.generation_config` and reads them
    from the folder's generation_config.json: the options of generate (max_new_tokens, do_sample, top_k, ...),
    None where not set; generate's arguments and its generation_config argument win over them."""

    def __init__(self, **fields: Any):
        self.__dict__.update(fields)

    def __getattr__(self, name: str):
        if name in DEFAULTS or name in OFF_VALUES or name in IGNORED_CONFIG_FIELDS:
            return None
        raise AttributeError(f"GenerationConfig has no option {name!r}")

    def to_diff_dict(self) -> dict:
        """The options set (not None)."""
        return {k: v for k, v in self.__dict__.items() if v is not None}

    to_dict = to_diff_dict

    def __repr__(self) -> str:
        return f"GenerationConfig({self.to_diff_dict()})"

    @classmethod
    def from_json_file(cls, path: str) -> "GenerationConfig":
        with open(path, encoding="utf-8") as f:
            try:
                fields = json.load(f)
            except ValueError as err:
                raise ValueError(f"{path} is not valid JSON: {err}") from err
        if not isinstance(fields, dict):
            raise ValueError(f"{path} must hold a JSON object (option -> value)")
        return cls(**fields)

    def save_pretrained(self, save_directory: str) -> None:
        with open(os.path.join(save_directory, GENERATION_CONFIG_NAME), "w", encoding="utf-8") as f:
            json.dump(self.to_diff_dict(), f, indent=2, sort_keys=True)
            f.write("\n")


class GenerationMixin:
    """`generate` and `stream_generate` for a model with `config` and a fused decoder `fast`."""

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
        vocab = self.get_input_embeddings().num_embeddings
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
            if not bool(real.any(1).all()):
                raise ValueError("a row of attention_mask is all zeros: every prompt needs at least one real token" + hint)
            if not bool(real[:, -1].all()):
                raise ValueError("prompts must be left-padded (attention_mask must end with 1 in every row); "
                                 "set tokenizer.padding_side = 'left'" + hint)
            # zeros inside a row (a pad token inside the prompt) are masked keys, and the real tokens after them
            # take the positions of the real tokens counted (cumsum), as in transformers' generate
            attention_mask = real.long()
        n_positions = getattr(config, "n_positions", None)  # None: no fixed position table (Transformer-XL)
        if max_new_tokens is None:
            if max_length is None:
                max_new_tokens = DEFAULT_MAX_NEW_TOKENS
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
        # used, so a sequence may end one token past n_positions (as in transformers)
        if n_positions is not None and longest + max_new_tokens - 1 > n_positions:
            raise ValueError(f"prompt ({longest} tokens) + max_new_tokens ({max_new_tokens}) - 1 exceeds the "
                             f"{n_positions} positions of this model (config.n_positions)")
        if isinstance(num_return_sequences, bool) or not isinstance(num_return_sequences, int) or num_return_sequences < 1:
            raise ValueError(f"num_return_sequences must be a positive integer, got {num_return_sequences!r}")
        if num_return_sequences > 1:
            input_ids = input_ids.repeat_interleave(num_return_sequences, dim=0)
            if attention_mask is not None:
                attention_mask = attention_mask.repeat_interleave(num_return_sequences, dim=0)
        return input_ids, attention_mask, max_new_tokens

    @torch.no_grad()
    def stream_generate(self, input_ids=None, attention_mask=None, max_length: Optional[int] = None,
                        max_new_tokens: Optional[int] = None, do_sample: Optional[bool] = None,
                        temperature: Optional[float] = None, top_k: Optional[int] = NOT_GIVEN,
                        top_p: Optional[float] = None, eos_token_id: Union[int, Sequence[int], None] = NOT_GIVEN,
                        pad_token_id: Optional[int] = None, num_return_sequences: Optional[int] = None,
                        generator: Optional[torch.Generator] = None, generation_config=None, tokenizer=None,
                        logits_processor=None, stopping_criteria=None, prefix_allowed_tokens_fn=None,
                        **kwargs: Any) -> Iterator[torch.Tensor]:
        """Yields the next token of every row ([batch * num_return_sequences] long tensor) as it is decoded.
        Rows that have produced an eos token yield pad_token_id afterwards; the iteration ends when every
        row has finished or max_new_tokens were produced. Same options as `generate`, except the ones that
        shape its return value (return_dict_in_generate, output_scores, output_logits)."""
        for name in RETURN_OPTIONS:
            if name in kwargs:
                raise TypeError(f"stream_generate yields tokens: {name} is an option of generate")
        options = _options(generation_config, model_config=self.generation_config, given=dict(
            kwargs, max_length=max_length, max_new_tokens=max_new_tokens, do_sample=do_sample,
            temperature=temperature, top_k=top_k, top_p=top_p, eos_token_id=eos_token_id,
            pad_token_id=pad_token_id, num_return_sequences=num_return_sequences))
        if options["num_beams"] != 1:
            raise ValueError("stream_generate cannot stream beam search (the best beams are known at the end only)")
        run = self._setup(input_ids, attention_mask, generator, options, tokenizer, logits_processor,
                          stopping_criteria, prefix_allowed_tokens_fn)
        for tokens, _, _ in self._decode(run, options["do_sample"], generator):
            yield tokens

    def _setup(self, input_ids, attention_mask, generator, options: dict, tokenizer=None, logits_processor=None,
               stopping_criteria=None, prefix_allowed_tokens_fn=None) -> "_Run":
        """Checks the options (every name of DEFAULTS, from _options) and inputs, and prefills the cache: what
        the decoding loops start from."""
        o = options
        # (use_cache: the KV cache is always used; accepted for transformers compatibility)
        do_sample = o["do_sample"]
        num_beams, num_return_sequences = o["num_beams"], o["num_return_sequences"]
        _check_count("num_beams", num_beams, 1)
        if num_beams > 1:
            _check_count("num_return_sequences", num_return_sequences, 1)
            if num_return_sequences > num_beams:
                raise ValueError(f"num_return_sequences ({num_return_sequences}) must be at most num_beams "
                                 f"({num_beams}): beam search returns its best beams")
            _check_number("length_penalty", o["length_penalty"], float("-inf"))
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
            eos_token_id = getattr(self.config, "eos_token_id", None)
        elif eos_token_id is NO_EOS:
            eos_token_id = None
        eos = _token_set("eos_token_id", eos_token_id)
        pad_token_id = o["pad_token_id"]
        if pad_token_id is None:
            pad_token_id = getattr(self.config, "pad_token_id", None)
        # transformers infers the attention mask from a pad token that is no eos token, for models whose forward
        # takes an attention_mask (not Transformer-XL)
        infer_mask = (pad_token_id is not None and "attention_mask" in _forward_parameters(type(self))
                      and (eos is None or pad_token_id not in eos.tolist()))
        input_ids, attention_mask, max_new_tokens = self._generation_inputs(
            input_ids, attention_mask, o["max_length"], o["max_new_tokens"], copies,
            pad_token_id if infer_mask else None)
        if pad_token_id is None and eos is not None:
            pad_token_id = int(eos[0])

        batch, prompt_len = input_ids.shape
        device = input_ids.device
        if eos is not None:
            eos = eos.to(device)
        if attention_mask is None:
            position_ids = torch.arange(prompt_len, device=device).expand(batch, prompt_len)
            next_positions = torch.full((batch,), prompt_len, dtype=torch.long, device=device)
        else:
            position_ids = (attention_mask.cumsum(1) - 1).clamp_(min=0)
            next_positions = attention_mask.sum(1)
        processors, reads_sequences = _logits_processors(
            o, vocab=self.get_input_embeddings().num_embeddings, eos=eos, prompt=input_ids,
            first_real=None if attention_mask is None else attention_mask.argmax(1),
            max_length=prompt_len + max_new_tokens, custom=logits_processor,
            prefix_allowed_tokens_fn=prefix_allowed_tokens_fn)
        stop = _stopping_criteria(o, tokenizer, start, stopping_criteria)
        reads_sequences = reads_sequences or getattr(stop, "reads_sequences", False)

        def process(sequences: torch.Tensor, width: int, logits: torch.Tensor) -> torch.Tensor:
            # `width`, prompt included, counts the padding as transformers' input_ids.shape[-1]
            for processor in processors:
                logits = processor(sequences, width, logits)
            return logits

        fast = self.fast
        if not fast.runs_as_built() or intercepts(self):
            raise ValueError(f"generate runs {type(self).__name__}'s fused decoder, which calls none of its modules, "
                             f"but some module of it has a forward hook or computes otherwise than this library's "
                             f"(a class of its own such as a LoRA wrapper, or its own forward): call the model's "
                             f"forward in a loop of your own instead")
        cache = fast.new_cache(batch, prompt_len + max_new_tokens)
        if num_beams > 1 and not hasattr(cache, "reorder"):
            raise ValueError(f"beam search is not supported for {type(self).__name__} (its cache cannot follow beams)")
        logits = fast.prefill(input_ids, position_ids, attention_mask, cache)
        return _Run(input_ids, logits, cache, next_positions, max_new_tokens, eos, pad_token_id, process,
                    reads_sequences, stop)

    def _decode(self, run: "_Run", do_sample: bool, generator):
        """Greedy decoding or sampling: yields (tokens [rows], raw logits [rows, vocab], processed scores [rows,
        vocab]) per step."""
        fast, cache, eos, pad_token_id = self.fast, run.cache, run.eos, run.pad_token_id
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
            if eos is not None:  # (as transformers, finished rows get padding only when eos ends rows)
                tokens = torch.where(unfinished, tokens, torch.full_like(tokens, pad_token_id))
                unfinished &= ~torch.isin(tokens, eos)
            if run.reads_sequences:
                sequences = torch.cat([sequences, tokens[:, None]], dim=1)
            if run.stop is not None:
                unfinished &= ~run.stop(sequences)
            yield tokens, logits, scores
            if step == run.max_new_tokens - 1 or (
                    (eos is not None or run.stop is not None) and not bool(unfinished.any())):
                return
            logits = fast.step(tokens, next_positions, cache)
            next_positions += 1

    def _beam_search(self, run: "_Run", options: dict, generator=None) -> "GenerateBeamDecoderOnlyOutput":
        """transformers' beam search (generation/utils.py, _beam_search), step for step: each step keeps the
        best continuations of every prompt's beams by summed log-probability (with do_sample, draws them without
        replacement from the softmax of those sums, after the sampling filters), a beam that ends (eos or the
        length limit) joins the finished ones scored by sum / new_length ** length_penalty, and the KV cache
        rows follow the beams that continue."""
        num_beams, num_return_sequences = options["num_beams"], options["num_return_sequences"]
        length_penalty, early_stopping = options["length_penalty"], options["early_stopping"]
        keep_scores, keep_logits = options["output_scores"], options["output_logits"]
        eos, pad_token_id, fast, cache = run.eos, run.pad_token_id, self.fast, run.cache
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
                ends |= run.stop(top_running[:, :, :length + 1].reshape(batch * keep, -1)).view(batch, keep)
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
            if not bool(may_improve.any()) or all_full or bool(ends.all()):
                break
            logits = fast.step(running[:, :, length - 1].reshape(rows), next_positions, cache)
            next_positions += 1

        sequences = finished[:, :num_return_sequences].reshape(batch * num_return_sequences, -1)
        sources = finished_sources[:, :num_return_sequences].reshape(batch * num_return_sequences, -1)
        generated = int((sources + 1).bool().sum(dim=1).max())
        return GenerateBeamDecoderOnlyOutput(
            sequences=sequences[:, :prompt_len + generated],
            sequences_scores=finished_scores[:, :num_return_sequences].reshape(-1) if keep_scores else None,
            scores=tuple(all_scores) if keep_scores else None, logits=tuple(all_logits) if keep_logits else None,
            beam_indices=sources[:, :generated])

    @torch.no_grad()
    def generate(self, input_ids=None, attention_mask=None, max_length: Optional[int] = None,
                 max_new_tokens: Optional[int] = None, do_sample: Optional[bool] = None,
                 temperature: Optional[float] = None, top_k: Optional[int] = NOT_GIVEN, top_p: Optional[float] = None,
                 eos_token_id: Union[int, Sequence[int], None] = NOT_GIVEN, pad_token_id: Optional[int] = None,
                 num_return_sequences: Optional[int] = None, generator: Optional[torch.Generator] = None,
                 streamer=None, generation_config=None, tokenizer=None, logits_processor=None,
                 stopping_criteria=None, prefix_allowed_tokens_fn=None,
                 **kwargs: Any) -> Union[torch.Tensor, GenerateDecoderOnlyOutput]:
        """Continues the prompts and returns [batch * num_return_sequences, prompt + new] token ids (the prompt,
        padding included, then the new tokens), like transformers' generate.

        max_new_tokens (default 20) or max_length (prompt included) bounds the new tokens; generation stops
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
        / min_new_tokens (eos suppressed until reached); and the others of transformers 5.25 for decoder-only
        models (sequence_bias, encoder_repetition_penalty and encoder_no_repeat_ngram_size on the prompt,
        forced_bos_token_id / forced_eos_token_id, suppress_tokens, begin_suppress_tokens,
        exponential_decay_length_penalty, remove_invalid_values, renormalize_logits; with do_sample top_h, min_p,
        typical_p, epsilon_cutoff, eta_cutoff), in its order. max_time (seconds from the call) and stop_strings
        (with tokenizer=, ours or transformers') end rows as transformers' stopping criteria; as do
        logits_processor and stopping_criteria (lists of transformers' processors and criteria, or callables
        (input_ids, scores)), merged with those the options make as transformers merges them, and
        prefix_allowed_tokens_fn ((prompt index, row's ids) -> the token ids allowed next).
        return_dict_in_generate=True returns a
        GenerateDecoderOnlyOutput (sequences, and the per-step `scores` with output_scores=True, raw `logits`
        with output_logits=True). generation_config (transformers.GenerationConfig or a dict) gives the
        options not passed here. num_beams > 1: transformers' beam search (not for Transformer-XL), returning
        the best num_return_sequences (<= num_beams) beams of each prompt, scored by summed log-probability /
        new_length ** length_penalty; early_stopping True stops a prompt at num_beams finished beams, False
        (default) when no running beam can do better by transformers' estimate, "never" by the exact bound;
        with do_sample, beam sampling (each step's continuations drawn without replacement after the sampling
        filters, as transformers); with return_dict_in_generate a GenerateBeamDecoderOnlyOutput."""
        options = _options(generation_config, model_config=self.generation_config, given=dict(
            kwargs, max_length=max_length, max_new_tokens=max_new_tokens, do_sample=do_sample,
            temperature=temperature, top_k=top_k, top_p=top_p, eos_token_id=eos_token_id,
            pad_token_id=pad_token_id, num_return_sequences=num_return_sequences))
        input_ids = torch.as_tensor(input_ids) if isinstance(input_ids, (list, tuple)) else input_ids
        if streamer is not None and not (callable(streamer) or hasattr(streamer, "put")):
            raise TypeError("streamer must be callable or have put()/end() methods")
        as_dict = bool(options["return_dict_in_generate"])
        if options["num_beams"] != 1:
            if streamer is not None:
                raise ValueError("streamer cannot be used with beam search (the best beams are known at the end only)")
            run = self._setup(input_ids, attention_mask, generator, options, tokenizer, logits_processor,
                              stopping_criteria, prefix_allowed_tokens_fn)
            output = self._beam_search(run, options, generator)
            if as_dict:
                output.cache = self._returned_cache(run.cache, options)
            return output if as_dict else output.sequences
        pieces, all_scores, all_logits = [], [], []
        put = getattr(streamer, "put", None) if streamer is not None else None
        if put is not None and isinstance(input_ids, torch.Tensor):
            put(input_ids.cpu())
        run = self._setup(input_ids, attention_mask, generator, options, tokenizer, logits_processor,
                              stopping_criteria, prefix_allowed_tokens_fn)
        for tokens, logits, scores in self._decode(run, options["do_sample"], generator):
            pieces.append(tokens)
            if as_dict and options["output_logits"]:
                all_logits.append(logits)
            if as_dict and options["output_scores"]:
                all_scores.append(scores)
            if put is not None:
                put(tokens)
            elif streamer is not None:
                streamer(tokens)
        if streamer is not None and hasattr(streamer, "end"):
            streamer.end()
        sequences = torch.cat([run.input_ids, torch.stack(pieces, dim=1)], dim=1)
        if not as_dict:
            return sequences
        return GenerateDecoderOnlyOutput(
            sequences, tuple(all_scores) if all_scores else None, tuple(all_logits) if all_logits else None,
            self._returned_cache(run.cache, options))

    def _returned_cache(self, cache, options: dict):
        """The KV cache as transformers' generate returns it, for a model whose forward takes past_key_values
        (unless use_cache=False): a transformers DynamicCache, or per layer (keys, values) without transformers;
        else None."""
        if (not options["use_cache"] or "past_key_values" not in _forward_parameters(type(self))
                or not hasattr(cache, "key_values")):
            return None
        pairs = cache.key_values()
        try:
            from transformers import DynamicCache
        except ImportError:
            return tuple(pairs)
        if hasattr(DynamicCache, "from_legacy_cache"):  # (transformers 4)
            return DynamicCache.from_legacy_cache(tuple(pairs))
        return DynamicCache(ddp_cache_data=pairs)
