"""Transformer-XL (transfo-xl-wt103 shape, random weights, fp32): transformers_fast against pytorch-transformers 1.2.0
(its only reference) in the same run, on the same weights.

    python benchmarks/bench_transfo_xl.py [--threads 1,2] [--repeats 3] [--new-tokens 32] [--mem-len 128]
                                          [--max-isa avx2]

The models and workloads are transformers_fast.benchmark.transfo_xl's (what `transformers-fast bench` runs, there
with 16 new tokens): per thread count (default 1 and every core) the LM forward and the base model's forward of
1x128 with 128 tokens of memory (ms), and greedy generation after a 16-token prompt carrying memories (new tokens
per second); the log-probabilities, hidden states and generated tokens of both are compared.
Target (issue 14): >= 2x 1.2.0 at 1 thread on AMD AVX-512, >= 1.5x elsewhere; `--max-isa avx2` caps every library
at AVX2 (emulates an AVX2-only machine on an AVX-512 one).
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from transformers_fast import benchmark  # noqa: E402  (before anything sets torch's threads)
from transformers_fast.benchmark import transfo_xl  # noqa: E402


def target(isa: str) -> float:
    return 2.0 if isa == "avx512" and benchmark.cpu_vendor() == "AMD" else 1.5


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    benchmark.add_threads_argument(parser)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--mem-len", type=int, default=128)
    benchmark.add_max_isa_argument(parser)
    args = parser.parse_args()
    benchmark.rerun_capped(args.max_isa)
    from transformers_fast import ops

    isa = ops.cpu_isa()
    print(f"CPU: {benchmark.cpu_name()}  ISA: {isa}  features: {ops.cpu_features()}")
    if args.max_isa:
        print(benchmark.caps_line(args.max_isa))
    models = transfo_xl.build(mem_len=args.mem_len)
    want = target(isa)
    for threads in args.threads:
        checks = {}
        rows = transfo_xl.rows(models, threads, args.repeats, args.new_tokens, checks)
        print(f"\n{benchmark.banner(threads)}")
        print(f"max |ours - 1.2.0|: log-probs {checks['log_probs']:.2e}, hidden states {checks['hidden']:.2e}; "
              f"greedy tokens equal: {checks['same_tokens']}")
        print("| workload | pytorch-transformers 1.2.0 | transformers_fast | speed-up | target |")
        print("|---|---|---|---|---|")
        for row in rows:
            if row.tokens:  # generation: tokens per second
                theirs, mine, name = row.tokens * 1e3 / row.reference_ms, row.tokens * 1e3 / row.ours_ms, "tokens/s"
            else:
                theirs, mine, name = row.reference_ms, row.ours_ms, "ms"
            print(f"| {row.workload} ({name}) | {theirs:.1f} | {mine:.1f} | {row.speedup:.2f}x | >= {want:.1f}x |")


if __name__ == "__main__":
    main()
