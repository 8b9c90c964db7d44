"""Relative attention (Transformer-XL / XLNet) alone: our fused kernel (ops.relative_attention) against the
references' einsum + reshape rel_shift sequence (its _reference, what pytorch-transformers 1.2.0 runs) and, for
XLNet, transformers' XLNetRelativeAttention.rel_attn_core, at XLNet-base (batch 1 and 8 x 128) and
Transformer-XL wt103 (1 x 128 with 128 memory, causal mask) shapes, at each thread count.

GFLOP/s counts the useful work, 2 * batch * heads * qlen * klen * head_dim for each of (q + r_w_bias) k^T, the
shifted (q + r_r_bias) r^T and P v; next to it, the machine's sgemm (torch.matmul 1024^3) and a batched
matmul of one of those products' shape, as the ceiling a GEMM reaches here.

    python benchmarks/bench_relative_attention.py [--threads 1,2] [--repeats 30]
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
from transformers_fast import benchmark  # noqa: E402  (before anything sets torch's threads)

# name, batch, heads, qlen, mlen, shift
SHAPES = [("XLNet-base 1x128", 1, 12, 128, 0, "xlnet"), ("XLNet-base 8x128", 8, 12, 128, 0, "xlnet"),
          ("TXL wt103 1x128+128", 1, 16, 128, 128, "transfo_xl")]
D = 64


def inputs(bsz, heads, qlen, mlen, shift):
    g = torch.Generator().manual_seed(0)
    klen = qlen + mlen
    rlen = klen + qlen if shift == "xlnet" else klen
    q = torch.randn(qlen, bsz, heads, D, generator=g)
    k, v = (torch.randn(klen, bsz, heads, D, generator=g) for _ in range(2))
    # XLNet expands its position embeddings to the batch; Transformer-XL keeps batch 1
    r = torch.randn(rlen, bsz if shift == "xlnet" else 1, heads, D, generator=g)
    w, rr = torch.randn(heads, D, generator=g), torch.randn(heads, D, generator=g)
    mask = None
    if shift == "transfo_xl":  # dec_attn_mask
        mask = torch.triu(torch.ones(qlen, klen, dtype=torch.bool), diagonal=1 + mlen)[:, :, None]
    return q, k, v, r, w, rr, mask


def xlnet_core(heads, w, rr):
    """transformers' XLNetRelativeAttention with our biases (None where transformers is not installed)."""
    try:
        from transformers import XLNetConfig
        from transformers.models.xlnet.modeling_xlnet import XLNetRelativeAttention
    except ImportError:
        return None
    layer = XLNetRelativeAttention(XLNetConfig(d_model=heads * D, n_head=heads, d_head=D)).eval()
    with torch.no_grad():
        layer.r_w_bias.copy_(w)
        layer.r_r_bias.copy_(rr)
    return layer


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    benchmark.add_threads_argument(parser)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    ra = importlib.import_module("transformers_fast.ops.relative_attention")
    torch.set_grad_enabled(False)
    for threads in args.threads:
        torch.set_num_threads(threads)
        a = torch.randn(1024, 1024)
        sgemm = 2 * 1024 ** 3 / benchmark.best_ms([lambda: torch.matmul(a, a)], 10)[0] / 1e6
        print(f"\n{benchmark.banner(threads)}\nsgemm (torch.matmul 1024^3): {sgemm:.0f} GFLOP/s")
        print(f"{'shape':<22}{'ours ms':>9}{'GFLOP/s':>9}{'1.2.0 ms':>10}{'ratio':>7}{'HF core ms':>12}{'ratio':>7}"
              f"{'bmm GFLOP/s':>13}")
        for name, bsz, heads, qlen, mlen, shift in SHAPES:
            q, k, v, r, w, rr, mask = inputs(bsz, heads, qlen, mlen, shift)
            klen = qlen + mlen
            flops = 3 * 2 * bsz * heads * qlen * klen * D
            scale = D ** -0.5
            time_ms = lambda fn: benchmark.best_ms([fn], args.repeats)[0]  # noqa: E731
            ours = time_ms(lambda: ra.relative_attention(q, k, v, r, w, rr, shift=shift, scale=scale, attn_mask=mask))
            ref = time_ms(lambda: ra._reference(q, k, v, r, w, rr, shift, scale, mask, None, None, None))
            core = xlnet_core(heads, w, rr) if shift == "xlnet" else None
            hf = time_ms(lambda: core.rel_attn_core(q, k, v, r)) if core is not None else None
            x, y = torch.randn(bsz * heads, qlen, D), torch.randn(bsz * heads, D, klen)
            bmm = 2 * bsz * heads * qlen * klen * D / time_ms(lambda: torch.bmm(x, y)) / 1e6
            hf_cols = f"{hf:>12.2f}{hf / ours:>7.2f}" if hf is not None else f"{'-':>12}{'-':>7}"
            print(f"{name:<22}{ours:>9.2f}{flops / ours / 1e6:>9.0f}{ref:>10.2f}{ref / ours:>7.2f}{hf_cols}"
                  f"{bmm:>13.0f}")


if __name__ == "__main__":
    main()
