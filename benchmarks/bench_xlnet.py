"""XLNet-base inference (config of xlnet-base-cased, random weights, fp32): transformers_fast against
transformers (and pytorch-transformers 1.2.0 with --with-1.2.0) in the same run.

    python benchmarks/bench_xlnet.py [--threads 1,2] [--repeats 5] [--workloads 1x128,8x128] [--with-1.2.0]
                                     [--clock wall|cpu]

By default one table at 1 thread and one at torch's default thread count (every core). Prints the CPU and
the ISA of our kernels, then per thread count the milliseconds of one XLNetModel forward (no memory,
bidirectional attention, no padding) at 1x128 and 8x128 for each library, and our speed-up. All models hold
the same weights (one checkpoint saved with transformers' save_pretrained, loaded by each library);
transformers runs with ff_activation "gelu_new", the tanh GELU that is 1.2.0's (and our) "gelu", and with
use_mems=False (no memory output, as ours without mem_len). Target (issue 14): >= 2x transformers at 1 thread
on AMD AVX-512.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import thread_counts  # noqa: E402  (next to this script; before anything sets torch's threads)

SHAPES = {"1x128": (1, 128), "8x128": (8, 128), "1x512": (1, 512)}


def build(folder: str, with_pt: bool):
    import transformers

    import transformers_fast

    transformers.logging.set_verbosity_error()
    config = transformers.XLNetConfig.from_pretrained(os.path.join(REPO, "transformers_fast", "configs",
                                                                   "xlnet-base-cased.json"))
    config.ff_activation = "gelu_new"  # the tanh GELU (1.2.0's "gelu"); transformers' "gelu" is the erf form
    config.mem_len = None
    torch.manual_seed(0)
    hf = transformers.XLNetModel(config).eval()
    hf.save_pretrained(folder)
    models = {"transformers": (hf, dict(use_mems=False))}
    models["transformers_fast"] = (transformers_fast.XLNetModel.from_pretrained(folder), {})
    if with_pt:
        import logging

        import pytorch_transformers

        logging.getLogger("pytorch_transformers").setLevel(logging.ERROR)
        pt_config = pytorch_transformers.XLNetConfig(config.vocab_size, d_model=config.d_model, n_layer=config.n_layer,
                                                     n_head=config.n_head, d_inner=config.d_inner, ff_activation="gelu")
        pt_model = pytorch_transformers.XLNetModel(pt_config)
        pt_model.load_state_dict(hf.state_dict())  # (it reads no safetensors, which transformers 5 writes)
        models["pytorch-transformers 1.2.0"] = (pt_model.eval(), {})
    return models


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    thread_counts.add_argument(parser)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workloads", default="1x128,8x128")
    parser.add_argument("--with-1.2.0", dest="with_pt", action="store_true")
    parser.add_argument("--clock", choices=sorted(thread_counts.CLOCKS), default="wall")
    args = parser.parse_args()
    from transformers_fast import ops

    with tempfile.TemporaryDirectory() as folder:
        models = build(folder, args.with_pt)
        names = list(models)
        g = torch.Generator().manual_seed(0)
        inputs = {w: torch.randint(10, 32000, SHAPES[w], generator=g) for w in args.workloads.split(",")}
        with torch.no_grad():  # same outputs, checked once
            ids = next(iter(inputs.values()))
            ref = models["transformers"][0](ids, use_mems=False)[0]
            diff = (models["transformers_fast"][0](ids)[0] - ref).abs().max().item()
        print(f"max abs diff ours vs transformers: {diff:.2e}; kernels' ISA {ops.cpu_isa()}; "
              f"relative_attention C++ kernel: {hasattr(ops._backend._C, 'relative_attention')}")
        for threads in args.threads:
            torch.set_num_threads(threads)
            print()
            print(thread_counts.banner(threads))
            header = f"{'workload':>9} | " + " | ".join(f"{n:>26}" for n in names) + " | ours vs transformers"
            print(header)
            print("-" * len(header))
            for workload, ids in inputs.items():
                fns = [(lambda m=m, k=k: m(ids, **k)) for m, k in (models[n] for n in names)]
                with torch.no_grad():
                    ms = thread_counts.best_ms(fns, args.repeats, args.clock)
                ours = ms[names.index("transformers_fast")]
                cells = " | ".join(f"{t:>23.1f} ms" for t in ms)
                print(f"{workload:>9} | {cells} | {ms[0] / ours:.2f}x")
        torch.set_num_threads(thread_counts.DEFAULT_THREADS)


if __name__ == "__main__":
    main()
