"""Generation through a model's own forward, the reference for the fused decoders' prefill / step."""
from __future__ import annotations

import torch


class ModuleDecoder:
    """new_cache / prefill / step, the fused decoder's interface (`model.fast`), through the model's own forward:
    GPT-2 keeps its `past`, Transformer-XL its `mems`, and OpenAI GPT, which has no cache, runs the whole sequence
    again at every step. With the model's fast paths disabled, the reference the fused decoder is compared with."""

    def __init__(self, model):
        import inspect

        self.model = model
        params = inspect.signature(model.forward).parameters
        self.kind = "mems" if "mems" in params else "past" if "past" in params else "recompute"

    def new_cache(self, batch: int, capacity: int) -> dict:
        return {}

    def _logits(self, out) -> torch.Tensor:
        return out[0][:, -1]

    def prefill(self, input_ids, position_ids, attention_mask, cache: dict) -> torch.Tensor:
        model = self.model
        if self.kind == "mems":
            if attention_mask is not None and not bool(attention_mask.all()):
                raise ValueError("Transformer-XL has no attention mask: padded prompts would attend to their "
                                 "padding; generate prompts of one length (or one prompt at a time)")
            out = model(input_ids)
            cache["mems"] = out.mems
            return self._logits(out)
        cache.update(ids=input_ids, positions=position_ids, mask=attention_mask)
        if self.kind == "past":
            out = model(input_ids, position_ids=position_ids, attention_mask=attention_mask, use_cache=True)
            cache["past"] = out.past_key_values
        else:
            out = model(input_ids, position_ids=position_ids, attention_mask=attention_mask)
        return self._logits(out)

    def step(self, tokens, positions, cache: dict) -> torch.Tensor:
        model = self.model
        tokens, positions = tokens[:, None], positions[:, None]
        if self.kind == "mems":
            out = model(tokens, mems=cache["mems"])
            cache["mems"] = out.mems
            return self._logits(out)
        mask = cache["mask"]
        if mask is not None:
            mask = cache["mask"] = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
        if self.kind == "past":
            out = model(tokens, position_ids=positions, past=cache["past"], attention_mask=mask, use_cache=True)
            cache["past"] = out.past_key_values
            return self._logits(out)
        cache["ids"] = torch.cat([cache["ids"], tokens], dim=1)
        cache["positions"] = torch.cat([cache["positions"], positions], dim=1)
        return self._logits(model(cache["ids"], position_ids=cache["positions"], attention_mask=mask))


def greedy(decoder, input_ids, attention_mask, new_tokens: int) -> torch.Tensor:
    """Greedy continuation through decoder's prefill / step (no eos): [batch, prompt + new_tokens], as generate."""
    batch, prompt = input_ids.shape
    if attention_mask is None:
        positions = torch.arange(prompt).expand(batch, prompt)
        next_positions = torch.full((batch,), prompt, dtype=torch.long)
    else:
        positions = (attention_mask.cumsum(1) - 1).clamp(min=0)
        next_positions = attention_mask.sum(1)
    cache = decoder.new_cache(batch, prompt + new_tokens)
    with torch.no_grad():
        logits = decoder.prefill(input_ids, positions, attention_mask, cache)
        out = [input_ids]
        for step in range(new_tokens):
            tokens = logits.argmax(-1)
            out.append(tokens[:, None])
            if step < new_tokens - 1:
                logits = decoder.step(tokens, next_positions, cache)
                next_positions = next_positions + 1
    return torch.cat(out, 1)
