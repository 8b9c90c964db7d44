"""generate for the models that predict a placeholder token appended to the sequence (XLM, XLNet), as transformers'.

transformers' generate runs such a model's forward on the tokens so far plus one placeholder token (XLM: the mask
token, with the language config.lang_id; XLNet: token 0, which no position sees, predicted through
target_mapping), reading the logits of that last position; the model's own cache (XLM's keys and values, XLNet's
mems) carries over between steps as transformers' prepare_inputs_for_generation passes it. Each model class gives
its step (`_placeholder_step`) and the reordering of its cache (`_reorder_placeholder_cache`); the decoding loops
are GenerationMixin's. As transformers, the forward never sees the attention_mask: padding tokens are attended to as
real ones; the mask only tells the repetition penalty where each prompt starts.
"""
from __future__ import annotations

from typing import Any

import torch

from transformers_fast.generation import GenerationMixin, _FullOutputDecoder


class PlaceholderCache:
    """The tokens so far [rows, length] and the model's own cache (None before the first call, or where each step
    runs the whole sequence again)."""

    ids: torch.Tensor = None
    state: Any = None

    def __init__(self, model):
        self.model = model

    def reorder(self, rows: torch.Tensor) -> None:
        self.ids = self.ids[rows]
        if self.state is not None:
            self.state = self.model._reorder_placeholder_cache(self.state, rows)


class PlaceholderDecoder(_FullOutputDecoder):
    """GenerationMixin's decoder (new_cache, prefill, step) running the model's forward as transformers' generate
    does for it; output_attentions / output_hidden_states keep each call's, as _FullOutputDecoder."""

    def __init__(self, model, options: dict):
        super().__init__(model, options)
        self.use_cache = bool(options["use_cache"])

    def new_cache(self, batch: int, capacity: int) -> PlaceholderCache:
        self.model._check_placeholder_length(capacity)
        return PlaceholderCache(self.model)

    def prefill(self, input_ids, position_ids, attention_mask, cache: PlaceholderCache, past=None) -> torch.Tensor:
        # (positions and attention_mask unused: transformers passes neither to these models' forward)
        cache.ids = input_ids
        return self._run(cache)

    def step(self, tokens: torch.Tensor, positions: torch.Tensor, cache: PlaceholderCache) -> torch.Tensor:
        cache.ids = torch.cat([cache.ids, tokens[:, None]], dim=1)
        return self._run(cache)

    def _run(self, cache: PlaceholderCache) -> torch.Tensor:
        out, cache.state = self.model._placeholder_step(cache.ids, cache.state, self.use_cache, self.outputs)
        return self._kept(out)


class PlaceholderGenerationMixin(GenerationMixin):
    """generate / stream_generate for a model class with `_placeholder_step(ids, state, use_cache, outputs) -> (output
    with logits [rows, length, vocab], next state)`, `_reorder_placeholder_cache(state, rows)`,
    `_placeholder_returned_cache(state)` (the state as transformers' generate returns its cache) and
    `_check_placeholder_length(capacity)` (raises where `capacity` tokens do not fit the model)."""

    # the attention_mask of a prompt only tells the repetition penalty where it starts: any padding side
    _generation_mask_masks_keys = False

    def _decoder(self, o: dict, embeds: bool = False, token_type_ids=None) -> PlaceholderDecoder:
        return PlaceholderDecoder(self, o)

    def _checked_embeds(self, inputs_embeds, input_ids, given_cache):
        # (transformers refuses them too: its step appends the placeholder to token ids)
        raise ValueError(f"inputs_embeds is not supported by {type(self).__name__}'s generate (as transformers'): "
                         f"give input_ids")

    def _returned_cache(self, run, options: dict):
        """The model's own cache after the last step, as transformers' generate returns it (XLNet: the mems, XLM:
        its keys and values as a DynamicCache; None where none was kept)."""
        state = run.cache.state
        return None if state is None else self._placeholder_returned_cache(state)

    def _checked_token_types(self, token_type_ids, batch: int, length: int, given_cache):
        # (the placeholder appended each step has no token type to give it)
        raise ValueError(f"token_type_ids is not supported by {type(self).__name__}'s generate")

    def _check_placeholder_length(self, capacity: int) -> None:
        """(a model without a position table takes any length)"""

    @staticmethod
    def _with_placeholder(ids: torch.Tensor, token_id: int) -> torch.Tensor:
        return torch.cat([ids, torch.full_like(ids[:, :1], token_id)], dim=1)
