"""Hugging Face transformers 5.25's logits processors, sampling filters and stopping criteria for generate, with
its semantics and in its order: each a function of (sequences, width, scores) -> scores that runs on the logits a
decoder step returns (sequence_bias, repetition penalties, n-gram bans, bad words, min lengths, forced and
suppressed tokens, the sampling filters; eos, max_time and stop_strings to stop). An option at its neutral value
adds none."""
from __future__ import annotations

import functools
import json
import time
from typing import Any, Optional, Tuple

import torch
from torch.nn import functional as F

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


def check_number(name: str, value: Any, low: float, high: float = float("inf"), low_open: bool = True) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = ok and ((value > low) if low_open else (value >= low)) and value <= high
    if not ok:
        raise ValueError(f"{name} must be a number in {'(' if low_open else '['}{low}, {high}], got {value!r}")


def check_count(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        kind = "positive" if low == 1 else "non-negative"
        raise ValueError(f"{name} must be a {kind} integer, got {value!r}")


def token_set(name: str, value) -> Optional[torch.Tensor]:
    if value is None:
        return None
    if isinstance(value, torch.Tensor) and value.dim() <= 1 and not value.is_floating_point() \
            and value.dtype is not torch.bool:
        value = value.tolist()  # (transformers takes a tensor of ids too)
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise TypeError(f"{name} must be an int, a list of ints or a tensor of them, got {value!r}")
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


def _flag(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def build_logits_processors(o: dict, vocab: int, eos: Optional[torch.Tensor], prompt: torch.Tensor,
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
        check_number("encoder_repetition_penalty", value, 0.0)
        if value != 1.0:
            processors.append(("EncoderRepetitionPenaltyLogitsProcessor", lambda seq, width, x, p=float(value):
                               apply_encoder_repetition_penalty(prompt, x, p)))
    penalty = o["repetition_penalty"]
    check_number("repetition_penalty", penalty, 0.0)
    if penalty != 1.0:
        processors.append(("RepetitionPenaltyLogitsProcessor", lambda seq, width, x, p=float(penalty):
                           apply_repetition_penalty(seq, x, p, first_real)))
        reads = True
    for name, source, kind in (("no_repeat_ngram_size", None, "NoRepeatNGramLogitsProcessor"),
                               ("encoder_no_repeat_ngram_size", prompt, "EncoderNoRepeatNGramLogitsProcessor")):
        size = o[name] or 0
        check_count(name, size, 0)
        if size > 0:
            processors.append((kind, lambda seq, width, x, n=size, src=source: ban_repeated_ngrams(seq, x, n, src)))
            reads = True
    bad_words = _bad_words(o["bad_words_ids"], vocab, eos)
    if bad_words:
        processors.append(("NoBadWordsLogitsProcessor", SequenceBias(bad_words, vocab, device)))
        reads = reads or any(len(ids) > 1 for ids in bad_words)
    min_length, min_new_tokens = o["min_length"], o["min_new_tokens"]
    check_count("min_length", min_length, 0)
    if min_new_tokens is not None:  # set (even 0), it replaces min_length, as in transformers
        check_count("min_new_tokens", min_new_tokens, 0)
        min_length = 0
    else:
        min_new_tokens = 0
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
        check_number("exponential_decay_length_penalty's decay_factor", decay[1], float("-inf"))
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
        check_number("temperature", temperature, 0.0)
        if temperature != 1.0:
            processors.append(("", lambda seq, width, x: x / temperature))
        if top_h is not None:
            check_number("top_h", top_h, 0.0, 1.0)
            processors.append(("", lambda seq, width, x: top_h_filter(x, top_h)))
        if top_k is not None:
            check_count("top_k", top_k, 0)
            if top_k != 0:
                processors.append(("", lambda seq, width, x: top_k_filter(x, top_k, keep)))
        if top_p is not None:
            check_number("top_p", top_p, 0.0, 1.0, low_open=False)  # (0: the most likely token, as transformers)
            if top_p < 1.0:
                processors.append(("", lambda seq, width, x: top_p_filter(x, top_p, keep)))
        for name, low_open, filter_, off in (("min_p", False, min_p_filter, None),
                                             ("typical_p", True, typical_filter, 1.0),
                                             ("epsilon_cutoff", False, epsilon_filter, 0.0),
                                             ("eta_cutoff", False, eta_filter, 0.0)):
            value = o[name]
            if value is None:
                continue
            check_number(name, value, 0.0, 1.0, low_open=low_open)
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
    does not); an empty one ends every row at its first new token, as there. The text of each token is
    transformers' "clean" one (clean_tokenizer_vocab): bytes for a byte-level or byte-fallback tokenizer (from its
    backend_tokenizer's decoder), else what convert_tokens_to_string gives it after a fixed prefix."""

    _clean_vocabularies: "dict" = {}  # (mode, vocabulary) -> {id: text}, the last few tokenizers seen

    def __init__(self, stop_strings, tokenizer):
        if isinstance(stop_strings, str):
            stop_strings = [stop_strings]
        if (not isinstance(stop_strings, (list, tuple)) or not stop_strings
                or any(not isinstance(x, str) for x in stop_strings)):
            raise ValueError(f"stop_strings must be a string or a non-empty list of strings, got {stop_strings!r}")
        self.empty = "" in stop_strings
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
        if self.empty:
            return torch.ones(sequences.shape[0], dtype=torch.bool, device=sequences.device)
        rows = [[self.tokens.get(t) for t in row] for row in sequences[:, -self.longest:].tolist()]
        return torch.tensor([any(self._ends_with(texts, stop) for stop in self.strings) for texts in rows],
                            dtype=torch.bool, device=sequences.device)


class _Stop:
    """The rows that transformers' stopping criteria besides eos and max_length end (max_time, stop_strings,
    generate's stopping_criteria: callables (input_ids, scores) -> bool per row, given what transformers gives
    them: the tuple of every step's processed scores with return_dict_in_generate and output_scores, else None)."""

    def __init__(self, max_time: Optional[float], start: float, stop_strings: Optional[StopStrings], custom=()):
        self.max_time, self.start, self.stop_strings, self.custom = max_time, start, stop_strings, list(custom)
        self.reads_sequences = stop_strings is not None or bool(self.custom)

    def __call__(self, sequences: torch.Tensor, scores: Optional[tuple]) -> torch.Tensor:
        done = torch.zeros(sequences.shape[0], dtype=torch.bool, device=sequences.device)
        if self.max_time is not None and time.time() - self.start > self.max_time:
            done.fill_(True)
        if self.stop_strings is not None:
            done |= self.stop_strings(sequences)
        for criterion in self.custom:
            done |= torch.as_tensor(criterion(sequences, scores), dtype=torch.bool, device=sequences.device)
        return done


def custom_length_limit(o: dict, custom):
    """(options, criteria): a MaxLengthCriteria among the custom stopping criteria takes the place of the length
    the options give, as transformers' custom criteria take the place of those it builds."""
    limits = [c for c in custom or () if type(c).__name__ == "MaxLengthCriteria"]
    if not limits:
        return o, custom
    max_length = limits[-1].max_length
    check_count("MaxLengthCriteria.max_length", max_length, 1)
    return dict(o, max_length=max_length, max_new_tokens=None), [c for c in custom if c not in limits]


def build_stopping_criteria(o: dict, tokenizer, start: float, custom=None) -> Optional[_Stop]:
    max_time, stop_strings = o["max_time"], o["stop_strings"]
    custom = [] if custom is None else custom
    if not isinstance(custom, (list, tuple)) or not all(callable(c) for c in custom):
        raise TypeError(f"stopping_criteria must be a list of stopping criteria (callables (input_ids, scores) -> "
                        f"bool per row), got {custom!r}")
    kinds = {type(c).__name__ for c in custom}
    if "EosTokenCriteria" in kinds:
        raise ValueError("stopping_criteria holds an EosTokenCriteria: give eos_token_id instead")
    if max_time is not None:
        check_number("max_time", max_time, 0.0, low_open=False)
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
