"""Small-row GEMM (PackedLinear's "panel" backend) against F.linear (MKL) and oneDNN prepacked, one
thread, at the BERT-base 1x8 and GPT-2 decode shapes. These products stream the whole weight once per
call, so besides GFLOP/s the summary prints the weight stream in GB/s; compare with `read` (torch.sum
over a 256 MB buffer: this machine's single-core read bandwidth in the same run). Each impl cycles
through enough copies of the layer (>= 96 MB) that the weights come from DRAM as in a real model step,
not from the last-level cache."""
import math

import pytest
import torch
import torch.nn.functional as F

from transformers_fast.ops import packed_linear

# (in, out, activation): BERT/GPT-2 attention out, fused QKV, MLP up (GELU), MLP down, GPT-2 LM head.
SHAPES = [(768, 768, None), (768, 2304, None), (768, 3072, "gelu"), (3072, 768, None), (768, 50257, None)]
STREAM_BYTES = 96 << 20


def test_read_bandwidth(record):
    buf = torch.randn(64 << 20)  # 256 MB
    record("read 256 MB (torch.sum)", "torch.sum", lambda: buf.sum(), nbytes=buf.numel() * 4)


@pytest.mark.parametrize("rows", [1, 8], ids=lambda r: f"rows{r}")
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("impl", ["ours(panel)", "mkl", "onednn"])
def test_small_row_linear(record, impl, shape, rows):
    if impl == "ours(panel)" and not packed_linear.panel_available():
        pytest.skip("small-row GEMM kernel not built")
    if impl == "onednn" and not packed_linear.onednn_available():
        pytest.skip("no oneDNN linear ops")
    n_in, n_out, act = shape
    copies = max(1, -(-STREAM_BYTES // (n_in * n_out * 4)))
    x = torch.randn(rows, n_in)
    fns = []
    for _ in range(copies):
        w, b = torch.randn(n_out, n_in) / math.sqrt(n_in), torch.randn(n_out)
        if impl == "ours(panel)":
            layer = packed_linear.PackedLinear(w, b, act).requires_grad_(False)
            layer.panel_weight()
            fns.append(lambda layer=layer: packed_linear._run("panel", x, layer))
        elif impl == "mkl":
            fns.append(lambda w=w, b=b: F.gelu(F.linear(x, w, b)) if act else F.linear(x, w, b))
        else:
            w2 = torch.ops.mkldnn._reorder_linear_weight(w)
            attr, alg = ("gelu", "none") if act else ("none", "")
            fns.append(lambda w2=w2, b=b: torch.ops.mkldnn._linear_pointwise(x, w2, b, attr, [], alg))
    turn = [0]

    def step():
        turn[0] = (turn[0] + 1) % len(fns)
        return fns[turn[0]]()

    record(f"small-row linear{'+gelu' if act else ''} {rows}x{n_in}x{n_out}", impl, step,
           flops=2 * rows * n_in * n_out, nbytes=n_in * n_out * 4)
