"""XLNet-base inference (config of xlnet-base-cased, random weights, fp32): transformers_fast against
transformers (and pytorch-transformers 1.2.0 with --with-1.2.0) in the same run.

    python benchmarks/bench_xlnet.py [--threads 1,2] [--repeats 5] [--workloads 1x128,8x128] [--with-1.2.0]
                                     [--clock wall|cpu] [--max-isa avx2]

By default one table at 1 thread and one at torch's default thread count (every core). Prints the CPU and
the ISA of our kernels, then per thread count the milliseconds of one XLNetModel forward (no memory,
bidirectional attention, no padding) at 1x128 and 8x128 for each library, and our speed-up. The workloads and
models are transformers_fast.benchmark.xlnet's (what `transformers-fast bench` runs). Target (issue 14): >= 2x
transformers at 1 thread on AMD AVX-512, >= 1.5x on the other kinds; `--max-isa avx2` caps every library at AVX2
(an AMD Zen3 emulated on an AVX-512 machine: transformers_fast.benchmark.ISA_CAPS).
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from transformers_fast import benchmark  # noqa: E402  (before anything sets torch's threads)
from transformers_fast.benchmark import xlnet  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    benchmark.add_threads_argument(parser)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workloads", default="1x128,8x128", help=f"comma-separated subset of {','.join(xlnet.SHAPES)}")
    parser.add_argument("--with-1.2.0", dest="with_pt", action="store_true")
    parser.add_argument("--clock", choices=sorted(benchmark.CLOCKS), default="wall")
    benchmark.add_max_isa_argument(parser)
    args = parser.parse_args()
    benchmark.rerun_capped(args.max_isa)
    names = args.workloads.split(",")
    if not set(names) <= set(xlnet.SHAPES):
        parser.error(f"--workloads: unknown {sorted(set(names) - set(xlnet.SHAPES))}")
    from transformers_fast import ops

    models = xlnet.build(with_1_2_0=args.with_pt)
    libraries = ["transformers", "transformers_fast", *models.others]
    print(f"kernels' ISA {ops.cpu_isa()}; relative_attention C++ kernel: "
          f"{hasattr(ops._backend._C, 'relative_attention')}")
    if args.max_isa:
        print(benchmark.caps_line(args.max_isa))
    for threads in args.threads:
        rows = xlnet.rows(models, threads, names, args.repeats, args.clock)
        print(f"\n{benchmark.banner(threads)}")
        print(f"max abs diff ours vs transformers: {max(row.max_abs_diff for row in rows):.2e}")
        header = f"{'workload':>9} | " + " | ".join(f"{n:>26}" for n in libraries) + " | ours vs transformers"
        print(header)
        print("-" * len(header))
        for row in rows:
            times = [row.reference_ms, row.ours_ms, *row.others.values()]
            cells = " | ".join(f"{t:>23.1f} ms" for t in times)
            print(f"{row.workload.split()[-1]:>9} | {cells} | {row.speedup:.2f}x")


if __name__ == "__main__":
    main()
