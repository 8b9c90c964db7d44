"""XLM inference: transformers_fast against transformers in the same run (fp32, random weights, the
xlm-mlm-enfr-1024 / xlm-clm-enfr-1024 shapes: 6 layers, 1024 hidden, 8 heads, 64139 words, 2 languages).

    python benchmarks/bench_xlm.py [--threads 1,2] [--repeats 5] [--decode-steps 16] [--no-decode] [--max-isa avx2]

Per thread count (default 1 and torch's default, every core) a table of milliseconds per forward of
XLMModel (langs given) at 1x128, 8x128 and a variable-length batch (16 sequences, lengths uniform in
[8, 128], seed 0, right-padded, attention_mask given), then CLM incremental decoding with the cache
(XLMWithLMHeadModel, batch 1, a 32-token prompt, then one token per step). The models and workloads are
transformers_fast.benchmark.xlm's (what `transformers-fast bench` runs); outputs are checked to agree (max abs
diff on real positions) before timing. `--max-isa avx2` caps every library at AVX2 (an AMD Zen3 emulated on an
AVX-512 machine: transformers_fast.benchmark.ISA_CAPS).
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from transformers_fast import benchmark  # noqa: E402  (before anything sets torch's threads)
from transformers_fast.benchmark import xlm  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    benchmark.add_threads_argument(parser)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--decode-steps", type=int, default=16)
    parser.add_argument("--no-decode", action="store_true")
    benchmark.add_max_isa_argument(parser)
    args = parser.parse_args()
    benchmark.rerun_capped(args.max_isa)
    import torch

    import transformers_fast

    models = xlm.build(decode=not args.no_decode)
    print(f"torch {torch.__version__}, {models.library}, transformers_fast {transformers_fast.__version__}, "
          f"kernels' ISA {transformers_fast.ops.cpu_isa()}")
    if args.max_isa:
        print(benchmark.caps_line(args.max_isa))
    for threads in args.threads:
        print(f"\n{benchmark.banner(threads)}")
        print(f"{'XLMModel forward':34s} {'transformers':>13s} {'ours':>9s} {'speedup':>8s}  max diff")
        for row in xlm.forward_rows(models, threads, xlm.WORKLOADS, args.repeats):
            print(f"{row.workload[len('forward '):]:34s} {row.reference_ms:11.1f}ms {row.ours_ms:7.1f}ms "
                  f"{row.speedup:7.2f}x  {row.max_abs_diff:.1e}")
        if args.no_decode:
            continue
        steps = args.decode_steps
        decode = xlm.decode_rows(models, threads, steps, max(2, args.repeats // 2))
        if not decode:
            print("CLM decode: transformers' cache API failed here; nothing to compare with")
        for row in decode:
            print(f"{row.workload}, batch 1: transformers {row.reference_ms:.1f} ms, ours {row.ours_ms:.1f} ms "
                  f"({row.speedup:.2f}x), per step ~{row.reference_ms / (steps + 1):.1f} / "
                  f"{row.ours_ms / (steps + 1):.1f} ms, max diff {row.max_abs_diff:.1e}")


if __name__ == "__main__":
    main()
