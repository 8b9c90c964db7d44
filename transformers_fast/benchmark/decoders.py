"""GPT-2 (124M) and OpenAI GPT LM heads (fp32, random weights) against `transformers`: transformers builds the
model, ours loads its save_pretrained folder. Workloads:
  - greedy generation of `new_tokens` after a 32-token prompt at batch 1 and 8 (both libraries' `generate`);
  - one decode step with 512 tokens in the cache at batch 1 and 8 (transformers: a forward of one token with its
    DynamicCache of 512; ours: one fused step on the preallocated cache); GPT-2 only (OpenAI GPT has no cache);
  - the LM forward (logits) at 1x128 and 8x128, rows after the first left-padded by a quarter."""
from __future__ import annotations

import warnings
from types import SimpleNamespace

import torch

from transformers_fast.benchmark import Row, best_ms, library, load_ours, num_threads, quiet_transformers

# family -> (title, transformers / our LM class, config class, tiny config for --quick)
FAMILIES = {
    "gpt2": ("GPT-2 124M", "GPT2LMHeadModel", "GPT2Config",
             dict(vocab_size=1000, n_embd=32, n_layer=2, n_head=2, n_positions=64)),
    "openai-gpt": ("OpenAI GPT", "OpenAIGPTLMHeadModel", "OpenAIGPTConfig",
                   dict(vocab_size=1000, n_embd=32, n_layer=2, n_head=2, n_positions=64)),
}
WORKLOADS = ("generate", "step", "forward")


def build(family: str = "gpt2", quick: bool = False):
    transformers = quiet_transformers()
    title, model_class, config_class, tiny = FAMILIES[family]
    # GPT-2's fastest attention in transformers; OpenAI GPT has only its own (and no cache)
    gpt2 = family == "gpt2"
    config = getattr(transformers, config_class)(**(tiny if quick else {}),
                                                 **(dict(attn_implementation="sdpa") if gpt2 else {}))
    torch.manual_seed(0)
    reference = getattr(transformers, model_class)(config).eval()
    ours, folder = load_ours(reference, model_class)
    quick_sizes = dict(prompt=8, cached=16, length=16, batches=(1, 2), new_tokens=4)
    full_sizes = dict(prompt=32, cached=512, length=128, batches=(1, 8), new_tokens=64)
    return SimpleNamespace(title=title + (" (tiny)" if quick else ""), family=family, reference=reference, ours=ours,
                           folder=folder, vocab=config.vocab_size, library=library("transformers"),
                           forward_kwargs=dict(use_cache=False) if gpt2 else {},
                           **(quick_sizes if quick else full_sizes))


def transformers_step(hf, context, cached: int):
    """transformers' decode step as a callable: a forward of context[:, cached] with the DynamicCache of the first
    `cached` tokens (cut back to them before each repeat)."""
    with torch.inference_mode():
        past = hf(context[:, :cached], use_cache=True).past_key_values
    position = torch.full((context.shape[0], 1), cached)

    def step():
        # past_key_values is being renamed in transformers; the script keeps the spelling all versions read
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            extra = past.get_seq_length() - cached
            if extra:  # the step appended one entry: back to `cached` for the next repeat
                past.crop(-extra)
            hf(context[:, cached:cached + 1], past_key_values=past, position_ids=position, use_cache=True)
    return step


def prompts(models):
    """The greedy-generation prompts by batch size (also what the OpenVINO comparison of the script gets)."""
    g = torch.Generator().manual_seed(0)
    return {batch: torch.randint(0, models.vocab, (batch, models.prompt), generator=g) for batch in models.batches}


def rows(models, threads: int, workloads=WORKLOADS, repeats: int = 3, clock: str = "wall", new_tokens=None,
         batches=None, generated=None):
    """One Row per workload and batch size (default: 1 and 8); `generated` (a dict), when given, receives our new
    tokens per batch size."""
    hf, ours, new = models.reference, models.ours, new_tokens or models.new_tokens
    batches = batches or models.batches
    g = torch.Generator().manual_seed(1)
    out = []
    with num_threads(threads):
        for batch, prompt in (prompts(models).items() if "generate" in workloads else ()):
            if batch not in batches:
                continue
            mask = torch.ones_like(prompt)

            def run_hf():
                with torch.inference_mode():
                    done = hf.generate(prompt, attention_mask=mask, max_new_tokens=new, min_new_tokens=new,
                                       do_sample=False, pad_token_id=0)
                assert done.shape[1] == prompt.shape[1] + new

            def run_ours():
                done = ours.generate(prompt, attention_mask=mask, max_new_tokens=new, eos_token_id=None)
                if generated is not None:
                    generated[batch] = done[:, prompt.shape[1]:]

            t_hf, t_ours = (best_ms([fn], repeats, clock)[0] for fn in (run_hf, run_ours))
            out.append(Row(models.title, f"greedy {prompt.shape[1]} -> +{new}, batch {batch}", models.library,
                           threads, t_hf, t_ours, tokens=batch * new))

        for batch in (batches if "step" in workloads and models.family == "gpt2" else ()):
            cached = models.cached
            context = torch.randint(0, models.vocab, (batch, cached + 1), generator=g)
            step_hf = transformers_step(hf, context, cached)
            position = torch.full((batch, 1), cached)

            cache = ours.fast.new_cache(batch, cached + 1)
            ours.fast.prefill(context[:, :cached], torch.arange(cached).expand(batch, cached), None, cache)
            token = context[:, cached]

            def step_ours():
                cache.length = cached
                ours.fast.step(token, position[:, 0], cache)

            t_hf, t_ours = (best_ms([fn], repeats * 3, clock)[0] for fn in (step_hf, step_ours))
            out.append(Row(models.title, f"decode step, {cached} cached, batch {batch}", models.library, threads,
                           t_hf, t_ours))

        for batch in (batches if "forward" in workloads else ()):
            length = models.length
            x = torch.randint(0, models.vocab, (batch, length), generator=g)
            mask = torch.ones_like(x)
            mask[1:, : length // 4] = 0  # rows after the first left-padded by a quarter
            with torch.inference_mode():
                expected = hf(x, attention_mask=mask, **models.forward_kwargs).logits
                diff = (ours(x, attention_mask=mask)[0] - expected)[mask.bool()].abs().max().item()

            def forward_hf():
                with torch.inference_mode():
                    hf(x, attention_mask=mask, **models.forward_kwargs)

            def forward_ours():
                with torch.inference_mode():
                    ours(x, attention_mask=mask)

            t_hf, t_ours = (best_ms([fn], repeats, clock)[0] for fn in (forward_hf, forward_ours))
            out.append(Row(models.title, f"LM forward {batch}x{length}", models.library, threads, t_hf, t_ours,
                           max_abs_diff=diff))
    return out
