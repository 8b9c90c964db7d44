"""GPT-2 (124M config, random weights, fp32) decoding: transformers_fast against transformers in the same run.

    python benchmarks/bench_gpt2.py [--threads 1] [--repeats 3] [--clock wall|cpu]

Prints the CPU ISA and a table: greedy generation of 64 new tokens after a 32-token prompt at batch 1 and 8
(new tokens per second, both libraries' `generate`), and one decode step with 512 tokens in the cache at
batch 1 and 8 (ms; transformers: a forward of one token with its DynamicCache of 512, ours: one fused step
on the preallocated cache), with the speed-up over transformers. Targets: >= 1.75x / 2.35x on generation,
>= 1.5x on the decode step.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

CLOCK = {"wall": time.perf_counter, "cpu": time.process_time}


def timed(fn, repeats, clock):
    """Fastest of `repeats` runs in seconds, after one warm-up run."""
    fn()
    now = CLOCK[clock]
    best = float("inf")
    for _ in range(repeats):
        start = now()
        fn()
        best = min(best, now() - start)
    return best


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--clock", choices=sorted(CLOCK), default="wall")
    parser.add_argument("--new-tokens", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    import transformers

    import transformers_fast as tf
    from transformers_fast import ops

    transformers.logging.set_verbosity_error()
    isa = ops.cpu_isa() if hasattr(ops, "cpu_isa") else "unknown"
    features = ops.cpu_features() if hasattr(ops, "cpu_features") else {}
    print(f"CPU ISA: {isa}  features: {features}  threads: {args.threads}  torch {torch.__version__}  "
          f"transformers {transformers.__version__}")
    print(f"fused ops present: attention={hasattr(ops, 'attention')} layer_norm={hasattr(ops, 'layer_norm')} "
          f"PackedLinear={hasattr(ops, 'PackedLinear')}")

    torch.manual_seed(0)
    hf_config = transformers.GPT2Config(attn_implementation="sdpa")
    hf = transformers.GPT2LMHeadModel(hf_config).eval()
    folder = tempfile.mkdtemp()
    hf.save_pretrained(folder)
    ours = tf.GPT2LMHeadModel.from_pretrained(folder)

    g = torch.Generator().manual_seed(0)
    rows = []
    for batch in (1, 8):
        prompt = torch.randint(0, 50257, (batch, 32), generator=g)
        mask = torch.ones_like(prompt)
        new = args.new_tokens

        def run_hf():
            with torch.inference_mode():
                out = hf.generate(prompt, attention_mask=mask, max_new_tokens=new, min_new_tokens=new,
                                  do_sample=False, pad_token_id=50256)
            assert out.shape[1] == 32 + new

        def run_ours():
            out = ours.generate(prompt, attention_mask=mask, max_new_tokens=new, eos_token_id=None)
            assert out.shape[1] == 32 + new

        t_hf = timed(run_hf, args.repeats, args.clock)
        t_ours = timed(run_ours, args.repeats, args.clock)
        rows.append((f"greedy 32 -> {new}, batch {batch} (new tokens/s)", batch * new / t_hf, batch * new / t_ours,
                     t_hf / t_ours))

    for batch in (1, 8):
        cached = 512
        context = torch.randint(0, 50257, (batch, cached + 1), generator=g)
        with torch.inference_mode():
            hf_past = hf(context[:, :cached], use_cache=True).past_key_values
        position = torch.full((batch, 1), cached)

        def step_hf():
            with torch.inference_mode():
                extra = hf_past.get_seq_length() - cached
                if extra:  # the step appended one entry: back to 512 for the next repeat
                    hf_past.crop(-extra)
                hf(context[:, cached:], past_key_values=hf_past, position_ids=position, use_cache=True)

        cache = ours.fast.new_cache(batch, cached + 1)
        ours.fast.prefill(context[:, :cached], torch.arange(cached).expand(batch, cached), None, cache)
        token = context[:, cached]

        def step_ours():
            cache.length = cached
            ours.fast.step(token, position[:, 0], cache)

        t_hf = timed(step_hf, args.repeats * 3, args.clock)
        t_ours = timed(step_ours, args.repeats * 3, args.clock)
        rows.append((f"decode step, {cached} cached, batch {batch} (ms)", t_hf * 1e3, t_ours * 1e3, t_hf / t_ours))

    width = max(len(r[0]) for r in rows)
    print(f"\n| {'workload'.ljust(width)} | transformers | transformers_fast | speed-up |")
    print(f"|{'-' * (width + 2)}|-------------:|------------------:|---------:|")
    for name, theirs, mine, speedup in rows:
        print(f"| {name.ljust(width)} | {theirs:12.1f} | {mine:17.1f} | {speedup:7.2f}x |")


if __name__ == "__main__":
    main()
