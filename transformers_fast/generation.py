"""Text generation for the decoder models: `model.generate(...)` and `model.stream_generate(...)`.

Greedy decoding or sampling (temperature, top-k, top-p, a seeded torch.Generator), max_new_tokens /
max_length, eos_token_id, num_return_sequences, and streaming (a callback, a transformers-style streamer
with put()/end(), or the `stream_generate` iterator). Prompts of different lengths are given left-padded
with an attention_mask; positions are counted from each prompt's first real token, so each row produces
the tokens it would produce alone. The model supplies a fused decoder (`model.fast`: new_cache, prefill,
step) that keeps a preallocated KV cache and returns logits of the last position only.
"""
from __future__ import annotations

from typing import Any, Iterator, Optional, Sequence, Union

import torch

from transformers_fast.modeling_utils import check_ids
from transformers_fast.runtime.fast_path import intercepts

DEFAULT_MAX_NEW_TOKENS = 20


def apply_temperature_top_k_top_p(logits: torch.Tensor, temperature: float, top_k: Optional[int],
                                  top_p: Optional[float]) -> torch.Tensor:
    """Scores [batch, vocab] with every token outside top-k / the top-p nucleus set to -inf (the order and
    tie rules of transformers' TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper)."""
    if temperature != 1.0:
        logits = logits / temperature
    if top_k is not None and 0 < top_k < logits.shape[-1]:
        threshold = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < threshold, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, sorted_index = torch.sort(logits, descending=False, dim=-1)
        cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        remove_sorted = cumulative <= (1 - top_p)
        remove_sorted[..., -1:] = False  # keep at least the most likely token
        remove = remove_sorted.scatter(-1, sorted_index, remove_sorted)
        logits = logits.masked_fill(remove, float("-inf"))
    return logits


def _check_number(name: str, value: Any, low: float, high: float = float("inf"), low_open: bool = True) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = ok and ((value > low) if low_open else (value >= low)) and value <= high
    if not ok:
        raise ValueError(f"{name} must be a number in {'(' if low_open else '['}{low}, {high}], got {value!r}")


def _token_set(name: str, value) -> Optional[torch.Tensor]:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise TypeError(f"{name} must be an int or a list of ints, got {value!r}")
    return torch.tensor(value, dtype=torch.long)


class GenerationMixin:
    """`generate` and `stream_generate` for a model with `config` and a fused decoder `fast`."""

    def _generation_inputs(self, input_ids, attention_mask, max_length, max_new_tokens, num_return_sequences):
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
        if attention_mask is not None:
            if not isinstance(attention_mask, torch.Tensor):
                raise TypeError(f"attention_mask must be a torch.Tensor, got {type(attention_mask).__name__}")
            if attention_mask.shape != input_ids.shape:
                raise ValueError(f"attention_mask has shape {tuple(attention_mask.shape)} but input_ids has shape "
                                 f"{tuple(input_ids.shape)}")
            real = attention_mask != 0
            if not bool(real.any(1).all()):
                raise ValueError("a row of attention_mask is all zeros: every prompt needs at least one real token")
            if not bool(real[:, -1].all()):
                raise ValueError("prompts must be left-padded (attention_mask must end with 1 in every row); "
                                 "set tokenizer.padding_side = 'left'")
            # a real token after padding would be attended as if contiguous: only [0...0 1...1] rows are valid
            if not bool((real.long().diff(dim=1) >= 0).all()):
                raise ValueError("attention_mask rows must be zeros (left padding) followed by ones")
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
        if n_positions is not None and longest + max_new_tokens > n_positions:
            raise ValueError(f"prompt ({longest} tokens) + max_new_tokens ({max_new_tokens}) exceeds the "
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
                        max_new_tokens: Optional[int] = None, do_sample: bool = False, temperature: float = 1.0,
                        top_k: Optional[int] = None, top_p: Optional[float] = None,
                        eos_token_id: Union[int, Sequence[int], None] = None, pad_token_id: Optional[int] = None,
                        num_return_sequences: int = 1, generator: Optional[torch.Generator] = None,
                        **kwargs: Any) -> Iterator[torch.Tensor]:
        """Yields the next token of every row ([batch * num_return_sequences] long tensor) as it is decoded.
        Rows that have produced an eos token yield pad_token_id afterwards; the iteration ends when every
        row has finished or max_new_tokens were produced. Same options as `generate`."""
        kwargs.pop("use_cache", None)  # the KV cache is always used; accepted for transformers compatibility
        for name in ("num_beams",):
            if kwargs.get(name, 1) not in (None, 1):
                raise ValueError(f"{name} > 1 (beam search) is not supported")
            kwargs.pop(name, None)
        if kwargs:
            raise TypeError(f"generate got unexpected arguments: {', '.join(sorted(kwargs))}")
        if not do_sample:
            if num_return_sequences != 1:
                raise ValueError("num_return_sequences > 1 needs do_sample=True (greedy decoding gives one answer)")
        else:
            _check_number("temperature", temperature, 0.0)
            if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0):
                raise ValueError(f"top_k must be a non-negative integer, got {top_k!r}")
            if top_p is not None:
                _check_number("top_p", top_p, 0.0, 1.0)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
        input_ids, attention_mask, max_new_tokens = self._generation_inputs(
            input_ids, attention_mask, max_length, max_new_tokens, num_return_sequences)
        if eos_token_id is None:
            eos_token_id = getattr(self.config, "eos_token_id", None)
        eos = _token_set("eos_token_id", eos_token_id)
        if pad_token_id is None:
            pad_token_id = getattr(self.config, "pad_token_id", None)
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
        fast = self.fast
        if not fast.runs_as_built() or intercepts(self):
            raise ValueError(f"generate runs {type(self).__name__}'s fused decoder, which calls none of its modules, "
                             f"but some module of it has a forward hook or computes otherwise than this library's "
                             f"(a class of its own such as a LoRA wrapper, or its own forward): call the model's "
                             f"forward in a loop of your own instead")
        cache = fast.new_cache(batch, prompt_len + max_new_tokens)
        logits = fast.prefill(input_ids, position_ids, attention_mask, cache)
        unfinished = torch.ones(batch, dtype=torch.bool, device=device)
        for step in range(max_new_tokens):
            if do_sample:
                scores = apply_temperature_top_k_top_p(logits.float(), temperature, top_k, top_p)
                tokens = torch.multinomial(scores.softmax(-1), 1, generator=generator).squeeze(1)
            else:
                tokens = logits.argmax(-1)
            if eos is not None:
                tokens = torch.where(unfinished, tokens, torch.full_like(tokens, pad_token_id))
                unfinished &= ~torch.isin(tokens, eos)
            yield tokens
            if step == max_new_tokens - 1 or (eos is not None and not bool(unfinished.any())):
                return
            logits = fast.step(tokens, next_positions, cache)
            next_positions += 1

    @torch.no_grad()
    def generate(self, input_ids=None, attention_mask=None, max_length: Optional[int] = None,
                 max_new_tokens: Optional[int] = None, do_sample: bool = False, temperature: float = 1.0,
                 top_k: Optional[int] = None, top_p: Optional[float] = None,
                 eos_token_id: Union[int, Sequence[int], None] = None, pad_token_id: Optional[int] = None,
                 num_return_sequences: int = 1, generator: Optional[torch.Generator] = None, streamer=None,
                 **kwargs: Any) -> torch.Tensor:
        """Continues the prompts and returns [batch * num_return_sequences, prompt + new] token ids (the prompt,
        padding included, then the new tokens), like transformers' generate.

        max_new_tokens (default 20) or max_length (prompt included) bounds the new tokens; generation stops
        early when every row has produced eos_token_id (default config.eos_token_id), and finished rows are
        filled with pad_token_id (default: the eos token). do_sample draws from softmax(logits / temperature)
        restricted to top_k tokens and the top_p nucleus, using `generator` when given (reproducible).
        streamer: a callable receiving each step's tokens [batch], or an object with put(tokens) / end()
        (transformers' TextStreamer protocol: put first receives the prompt)."""
        input_ids = torch.as_tensor(input_ids) if isinstance(input_ids, (list, tuple)) else input_ids
        if streamer is not None and not (callable(streamer) or hasattr(streamer, "put")):
            raise TypeError("streamer must be callable or have put()/end() methods")
        pieces = []
        put = getattr(streamer, "put", None) if streamer is not None else None
        if put is not None and isinstance(input_ids, torch.Tensor):
            put(input_ids.cpu())
        for tokens in self.stream_generate(input_ids, attention_mask, max_length, max_new_tokens, do_sample,
                                           temperature, top_k, top_p, eos_token_id, pad_token_id,
                                           num_return_sequences, generator, **kwargs):
            pieces.append(tokens)
            if put is not None:
                put(tokens)
            elif streamer is not None:
                streamer(tokens)
        if streamer is not None and hasattr(streamer, "end"):
            streamer.end()
        prompt = input_ids if input_ids.dim() == 2 else input_ids.unsqueeze(0)
        if num_return_sequences > 1:
            prompt = prompt.repeat_interleave(num_return_sequences, dim=0)
        return torch.cat([prompt, torch.stack(pieces, dim=1)], dim=1)
