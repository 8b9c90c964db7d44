"""Our CUDA kernels against the torch equivalents on one GPU, in one short run (< 5 min on an H100).

For every kernel and dtype: time per call (CUDA events, median of repeats), achieved memory bandwidth (bytes
read + written once / time) as a fraction of the device's nominal peak and of a measured device-to-device
copy, and the result's largest difference from torch's. Attention is compared with
F.scaled_dot_product_attention (SDPA picks flash / memory-efficient kernels), padded and packed varlen, and
decode (one query over a KV cache). Run: python benchmarks/gpu_kernels.py [--quick] [--json out.json]
"""
from __future__ import annotations

import argparse
import importlib
import json
import math
import statistics

import torch
import torch.nn.functional as F

from transformers_fast.ops import _backend as B

ops = {name: importlib.import_module(f"transformers_fast.ops.{name}")
       for name in ("activation", "attention", "layer_norm", "softmax")}

NOMINAL_GBS = {"H100 80GB HBM3": 3350, "H100 PCIe": 2000, "H100 NVL": 3900, "H200": 4800, "A100-SXM4-80GB": 2039,
               "A100-SXM4-40GB": 1555, "A100 80GB PCIe": 1935, "A100-PCIE-40GB": 1555, "L4": 300, "A10": 600}


def nominal_bandwidth(name: str):
    for key, gbs in NOMINAL_GBS.items():
        if key in name:
            return gbs
    return None


def timeit(fn, repeats: int = 30, inner: int = 10) -> float:
    """Median seconds per call."""
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(inner):
            fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3 / inner)
    return statistics.median(times)


def copy_bandwidth() -> float:
    x = torch.empty(256 * 2**20, dtype=torch.uint8, device="cuda")
    y = torch.empty_like(x)
    t = timeit(lambda: y.copy_(x), repeats=10)
    return 2 * x.numel() / t / 1e9


def nbytes(*tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors if t is not None)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer shapes")
    ap.add_argument("--json", help="write the rows here too")
    args = ap.parse_args()
    mod = B.cuda_extension()
    if not torch.cuda.is_available() or mod is None or not hasattr(mod, "gelu"):
        raise SystemExit("needs a CUDA GPU and transformers_fast._cuda built with its kernels")
    props = torch.cuda.get_device_properties(0)
    nominal = nominal_bandwidth(props.name)
    measured = copy_bandwidth()
    print(f"# {props.name}, {props.multi_processor_count} SMs, torch {torch.__version__}, CUDA {torch.version.cuda}; "
          f"copy {measured:.0f} GB/s, nominal {nominal or '?'} GB/s")
    print(f"{'kernel':<34} {'dtype':<9} {'ours us':>8} {'torch us':>9} {'speed-up':>8} {'GB/s':>7} "
          f"{'%nominal':>8} {'%copy':>6} {'max diff':>9}")
    rows = []

    def report(name, dtype, ours, theirs, moved, a, b):
        t_ours, t_torch = timeit(ours), timeit(theirs)
        gbs = moved / t_ours / 1e9
        diff = (a().float() - b().float()).abs().max().item()
        row = dict(kernel=name, dtype=str(dtype).replace("torch.", ""), ours_us=t_ours * 1e6, torch_us=t_torch * 1e6,
                   speedup=t_torch / t_ours, gbs=gbs, frac_nominal=gbs / nominal if nominal else None,
                   frac_copy=gbs / measured, max_diff=diff)
        rows.append(row)
        print(f"{name:<34} {row['dtype']:<9} {row['ours_us']:>8.1f} {row['torch_us']:>9.1f} {row['speedup']:>8.2f} "
              f"{gbs:>7.0f} {100 * row['frac_nominal'] if nominal else float('nan'):>8.1f} "
              f"{100 * row['frac_copy']:>6.1f} {diff:>9.2e}")

    dtypes = [torch.float16, torch.bfloat16] if args.quick else [torch.float16, torch.bfloat16, torch.float32]
    rows_tokens = [4096] if args.quick else [128, 4096, 32768]
    for dt in dtypes:
        for tokens in rows_tokens:
            x = torch.randn(tokens, 3072, device="cuda", dtype=dt)
            bias = torch.randn(3072, device="cuda", dtype=dt)
            report(f"bias_gelu {tokens}x3072", dt, lambda: ops["activation"].cuda_kernel(mod, x, bias, "none"),
                   lambda: F.gelu(x + bias), nbytes(x, x, bias),
                   lambda: ops["activation"].cuda_kernel(mod, x, bias, "none"), lambda: F.gelu(x + bias))
            h = torch.randn(tokens, 768, device="cuda", dtype=dt)
            res = torch.randn_like(h)
            w, b = torch.randn(768, device="cuda", dtype=dt), torch.randn(768, device="cuda", dtype=dt)
            ln = lambda: ops["layer_norm"].cuda_kernel(mod, h, res, w, b, 1e-12, None)  # noqa: E731
            ref = lambda: F.layer_norm(h + res, (768,), w, b, 1e-12)  # noqa: E731
            report(f"add_layer_norm {tokens}x768", dt, ln, ref, nbytes(h, res, h, w, b), ln, ref)
        s = torch.randn(8, 12, 128, 128, device="cuda", dtype=dt)
        m = torch.zeros(8, 1, 1, 128, device="cuda", dtype=dt)
        sm = lambda: ops["softmax"].cuda_kernel(mod, s, m, None, 0.125, False)  # noqa: E731
        smr = lambda: torch.softmax(s * 0.125 + m, -1)  # noqa: E731
        report("masked_softmax 8x12x128x128", dt, sm, smr, nbytes(s, s), sm, smr)
        attn_shapes = [(1, 12, 128, 64), (32, 12, 128, 64)] + ([] if args.quick else [(8, 16, 512, 128)])
        for bsz, heads, seq, d in attn_shapes:
            q, k, v = (torch.randn(bsz, heads, seq, d, device="cuda", dtype=dt) for _ in range(3))
            ours = lambda: ops["attention"].cuda_kernel(mod, q, k, v, None, None, None, 1 / math.sqrt(d), False)  # noqa: E731
            sdpa = lambda: F.scaled_dot_product_attention(q, k, v)  # noqa: E731
            report(f"attention {bsz}x{heads}x{seq}x{d}", dt, ours, sdpa, nbytes(q, k, v, q), ours, sdpa)
        # packed varlen: 64 sequences of 16..128 tokens vs SDPA on the padded batch
        lens = torch.randint(16, 129, (64,), generator=torch.Generator().manual_seed(0))
        total, heads, d = int(lens.sum()), 12, 64
        qp, kp, vp = (torch.randn(total, heads, d, device="cuda", dtype=dt) for _ in range(3))
        cu = torch.cat([torch.zeros(1, dtype=torch.int64), lens.cumsum(0)]).cuda()
        mx = int(lens.max())
        qd, kd, vd = (torch.randn(64, heads, 128, d, device="cuda", dtype=dt) for _ in range(3))
        pad_mask = (torch.arange(128) < lens[:, None]).view(64, 1, 1, 128).cuda()
        packed = lambda: ops["attention"].cuda_kernel(mod, qp, kp, vp, None, None, cu, 0.125, False, mx)  # noqa: E731
        padded = lambda: F.scaled_dot_product_attention(qd, kd, vd, attn_mask=pad_mask)  # noqa: E731
        t_ours, t_torch = timeit(packed), timeit(padded)
        print(f"{'attention varlen 64 seqs 16..128':<34} {str(dt)[6:]:<9} {t_ours * 1e6:>8.1f} {t_torch * 1e6:>9.1f} "
              f"{t_torch / t_ours:>8.2f}   (torch: SDPA on the padded batch)")
        rows.append(dict(kernel="attention varlen", dtype=str(dt)[6:], ours_us=t_ours * 1e6, torch_us=t_torch * 1e6,
                         speedup=t_torch / t_ours))
        # decode: one query over a KV cache of 1024 (lengths per sequence)
        for bsz in (1, 32):
            cap = 1024
            qk = torch.randn(bsz, 12, 1, 64, device="cuda", dtype=dt)
            kc, vc = (torch.randn(bsz, 12, cap, 64, device="cuda", dtype=dt) for _ in range(2))
            kvl = torch.full((bsz,), cap, dtype=torch.int64, device="cuda")
            dec = lambda: ops["attention"].cuda_kernel(mod, qk, kc, vc, None, kvl, None, 0.125, True)  # noqa: E731
            ref = lambda: F.scaled_dot_product_attention(qk, kc, vc)  # noqa: E731
            report(f"attention decode b{bsz} kv{cap}", dt, dec, ref, nbytes(qk, kc, vc, qk), dec, ref)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(device=props.name, copy_gbs=measured, nominal_gbs=nominal, rows=rows), f, indent=1)


if __name__ == "__main__":
    main()
