"""The `transformers-fast` command."""
from __future__ import annotations

import argparse
import sys
import time


def _demo(args) -> int:
    import torch
    import torch.nn.functional as F

    from transformers_fast import ops

    print(f"transformers_fast ops demo: CPU ISA {ops.cpu_isa()} ({ops.cpu_features()}), "
          f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    x = torch.randn(128, 3072)
    b = torch.randn(3072)
    want = F.gelu(x + b)
    got = ops.bias_gelu(x, b)
    print(f"bias_gelu [128, 3072]: max |ours - torch| = {(got - want).abs().max().item():.2e}")
    for name, fn in (("torch F.gelu(x + b)", lambda: F.gelu(x + b)), ("ops.bias_gelu", lambda: ops.bias_gelu(x, b))):
        fn()
        t = time.perf_counter()
        for _ in range(50):
            fn()
        print(f"  {name:22s} {(time.perf_counter() - t) / 50 * 1e6:8.1f} us")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="transformers-fast")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="show the fused ops against torch on this machine").set_defaults(fn=_demo)
    args = parser.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
