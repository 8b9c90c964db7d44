"""Our CUDA kernels and the models' CUDA fast paths against torch and `transformers` on one GPU, in one short run
(under 5 minutes on an H100; --quick about half that).

Kernels: for each kernel and dtype, time per call (CUDA events, median of repeats), achieved memory bandwidth
(bytes read + written once / time) as a fraction of the device's nominal peak and of a measured
device-to-device copy, and the largest difference from torch's result. Attention against
F.scaled_dot_product_attention (padded), flash-attention's varlen kernel (packed, where this torch has it; ours
against SDPA on the padded batch too) and decode over a KV cache; relative attention (Transformer-XL with memory,
XLNet with segments) against the references' einsum + rel_shift on the GPU.
Models (random weights of the published sizes, nothing downloaded): BERT-base forward 1x128, 32x128 and 64
sequences of 16..128 tokens, and GPT-2 greedy decoding (prompt 32, 64 new tokens, batch 1 and 32), in float16,
against `transformers` (when installed) in the same run; BERT also with our attention kernel forced instead of
torch's (ops.attention.cuda_attention), which is how the choice between the two is checked.

Run: python benchmarks/gpu_kernels.py [--quick] [--json out.json] [--skip-models]
--smoke runs tiny shapes through the emulated kernels on the CPU (tests/test_gpu_benchmark_smoke.py): it checks
this script, its timings mean nothing.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import functools
import importlib
import json
import math
import statistics
import time

import torch
import torch.nn.functional as F

from transformers_fast.ops import _backend as B

ops = {name: importlib.import_module(f"transformers_fast.ops.{name}")
       for name in ("activation", "attention", "layer_norm", "softmax", "relative_attention")}

NOMINAL_GBS = {"H100 80GB HBM3": 3350, "H100 PCIe": 2000, "H100 NVL": 3900, "H200": 4800, "A100-SXM4-80GB": 2039,
               "A100-SXM4-40GB": 1555, "A100 80GB PCIe": 1935, "A100-PCIE-40GB": 1555, "L4": 300, "A10": 600}

# (full run, --quick, --smoke)
SIZES = {
    "dtypes": ([torch.float16, torch.bfloat16, torch.float32], [torch.float16, torch.bfloat16], [torch.float16]),
    "tokens": ([128, 4096, 32768], [4096], [8]),
    "hidden": ([(3072, 768)], [(3072, 768)], [(40, 24)]),
    "attention": ([(1, 12, 128, 64), (32, 12, 128, 64), (8, 16, 512, 128)], [(1, 12, 128, 64), (32, 12, 128, 64)],
                  [(1, 2, 9, 16)]),
    "varlen": ([(64, 16, 128, 12, 64)], [(64, 16, 128, 12, 64)], [(3, 2, 9, 2, 16)]),  # seqs, min, max len, H, D
    "decode": ([(1, 1024), (32, 1024)], [(1, 1024), (32, 1024)], [(2, 20)]),
    "relative": ([(8, 128, 128, 16, 64, "transfo_xl"), (8, 128, 0, 12, 64, "xlnet")],
                 [(8, 128, 128, 16, 64, "transfo_xl"), (8, 128, 0, 12, 64, "xlnet")],
                 [(2, 5, 4, 2, 9, "transfo_xl"), (2, 5, 0, 2, 9, "xlnet")]),  # batch, qlen, mlen, H, D, shift
}


def nominal_bandwidth(name: str):
    for key, gbs in NOMINAL_GBS.items():
        if key in name:
            return gbs
    return None


class Bench:
    """Where the run happens: a GPU (CUDA events), or the CPU with the emulated kernels (--smoke)."""

    def __init__(self, smoke: bool, quick: bool):
        self.smoke = smoke
        self.level = 2 if smoke else 1 if quick else 0
        self.device = "cpu" if smoke else "cuda"
        if smoke:
            from transformers_fast import _cuda_emu

            self.mod = _cuda_emu
            _cuda_emu.register_tensor_dtypes(B._DTYPE_CODES)
        else:
            self.mod = B.cuda_extension()
            if not torch.cuda.is_available() or self.mod is None or not hasattr(self.mod, "gelu"):
                raise SystemExit("needs a CUDA GPU and transformers_fast._cuda built with its kernels (or --smoke)")
        self.rows = []

    def size(self, key):
        return SIZES[key][self.level]

    def kernels(self):
        """Around our model calls: the emulation stands the host tensors in for CUDA ones (--smoke)."""
        return B.emulate_cuda(self.mod) if self.smoke else contextlib.nullcontext()

    def sync(self):
        if not self.smoke:
            torch.cuda.synchronize()

    def timeit(self, fn, repeats: int = 30, inner: int = 10) -> float:
        """Median seconds per call."""
        if self.smoke:
            repeats, inner = 1, 1
        fn()
        self.sync()
        times = []
        for _ in range(repeats):
            if self.smoke:
                start = time.perf_counter()
                fn()
                times.append(time.perf_counter() - start)
                continue
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(inner):
                fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / 1e3 / inner)
        return statistics.median(times)

    def randn(self, *shape, dtype):
        return torch.randn(*shape, device=self.device, dtype=dtype)


def copy_bandwidth(bench: Bench) -> float:
    x = torch.empty(256 * 2**20 if not bench.smoke else 2**20, dtype=torch.uint8, device=bench.device)
    y = torch.empty_like(x)
    t = bench.timeit(lambda: y.copy_(x), repeats=10)
    return 2 * x.numel() / t / 1e9


def attempt(label: str, fn, *args) -> None:
    """fn(*args), reporting a failure and going on: one row that cannot run must not lose a rare GPU run."""
    try:
        fn(*args)
    except Exception as err:  # noqa: BLE001 - printed, and the run goes on
        print(f"# {label}: failed: {type(err).__name__}: {err}")


def nbytes(*tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors if t is not None)


def kernel_rows(bench: Bench, nominal, measured) -> None:
    mod = bench.mod
    print(f"{'kernel':<38} {'dtype':<9} {'ours us':>8} {'torch us':>9} {'speed-up':>8} {'GB/s':>7} "
          f"{'%nominal':>8} {'%copy':>6} {'max diff':>9}")

    def report(name, dtype, ours, theirs, moved=None, note=""):
        t_ours, t_torch = bench.timeit(ours), bench.timeit(theirs)
        diff = (ours().float() - theirs().float()).abs().max().item()
        row = dict(kernel=name, dtype=str(dtype).replace("torch.", ""), ours_us=t_ours * 1e6, torch_us=t_torch * 1e6,
                   speedup=t_torch / t_ours, max_diff=diff, note=note)
        line = f"{name:<38} {row['dtype']:<9} {row['ours_us']:>8.1f} {row['torch_us']:>9.1f} {row['speedup']:>8.2f} "
        if moved is not None:
            gbs = moved / t_ours / 1e9
            row.update(gbs=gbs, frac_nominal=gbs / nominal if nominal else None, frac_copy=gbs / measured)
            line += (f"{gbs:>7.0f} {100 * gbs / nominal if nominal else float('nan'):>8.1f} "
                     f"{100 * gbs / measured:>6.1f} ")
        else:
            line += f"{'':>7} {'':>8} {'':>6} "
        bench.rows.append(row)
        print(line + f"{diff:>9.2e}" + (f"  ({note})" if note else ""))

    inner, hidden = bench.size("hidden")[0]
    for dt in bench.size("dtypes"):
        for tokens in bench.size("tokens"):
            x, bias = bench.randn(tokens, inner, dtype=dt), bench.randn(inner, dtype=dt)
            report(f"bias_gelu {tokens}x{inner}", dt, lambda: ops["activation"].cuda_kernel(mod, x, bias, "none"),
                   lambda: F.gelu(x + bias), nbytes(x, x, bias))
            h = bench.randn(tokens, hidden, dtype=dt)
            res = torch.randn_like(h)
            w, b = bench.randn(hidden, dtype=dt), bench.randn(hidden, dtype=dt)
            report(f"add_layer_norm {tokens}x{hidden}", dt,
                   lambda: ops["layer_norm"].cuda_kernel(mod, h, res, w, b, 1e-12, None),
                   lambda: F.layer_norm(h + res, (hidden,), w, b, 1e-12), nbytes(h, res, h, w, b))
        bsz, heads, seq, d = bench.size("attention")[0]
        s = bench.randn(8, heads, seq, seq, dtype=dt)
        m = torch.zeros(8, 1, 1, seq, device=bench.device, dtype=dt)
        report(f"masked_softmax 8x{heads}x{seq}x{seq}", dt,
               lambda: ops["softmax"].cuda_kernel(mod, s, m, None, 0.125, False),
               lambda: torch.softmax(s * 0.125 + m, -1), nbytes(s, s))
        for bsz, heads, seq, d in bench.size("attention"):
            q, k, v = (bench.randn(bsz, heads, seq, d, dtype=dt) for _ in range(3))
            report(f"attention {bsz}x{heads}x{seq}x{d}", dt,
                   lambda: ops["attention"].cuda_kernel(mod, q, k, v, None, None, None, 1 / math.sqrt(d), False),
                   lambda: F.scaled_dot_product_attention(q, k, v), nbytes(q, k, v, q))
        varlen_rows(bench, dt, report)
        for bsz, cap in bench.size("decode"):
            qk = bench.randn(bsz, 12, 1, 64, dtype=dt)
            kc, vc = (bench.randn(bsz, 12, cap, 64, dtype=dt) for _ in range(2))
            kvl = torch.full((bsz,), cap, dtype=torch.int64, device=bench.device)
            report(f"attention decode b{bsz} kv{cap}", dt,
                   lambda: ops["attention"].cuda_kernel(mod, qk, kc, vc, None, kvl, None, 0.125, True),
                   lambda: F.scaled_dot_product_attention(qk, kc, vc), nbytes(qk, kc, vc, qk))
        relative_rows(bench, dt, report)


def varlen_rows(bench: Bench, dt, report) -> None:
    """Packed sequences: ours against flash-attention's varlen kernel (what ops.attention runs instead of ours
    for 16-bit on sm_80+) and against SDPA on the padded batch."""
    mod, attention = bench.mod, ops["attention"]
    seqs, low, high, heads, d = bench.size("varlen")[0]
    lens = torch.randint(low, high + 1, (seqs,), generator=torch.Generator().manual_seed(0))
    total, longest = int(lens.sum()), int(lens.max())
    qp, kp, vp = (bench.randn(total, heads, d, dtype=dt) for _ in range(3))
    cu = torch.cat([torch.zeros(1, dtype=torch.int64), lens.cumsum(0)]).to(bench.device)
    ours = lambda: attention.cuda_kernel(mod, qp, kp, vp, None, None, cu, d ** -0.5, False, longest)  # noqa: E731
    name = f"attention varlen {seqs} seqs {low}..{high}"
    if not bench.smoke and attention.torch_attention_on_cuda(qp, kp, None, cu, False, choice="torch") and \
            torch.cuda.get_device_capability()[0] >= 8:
        attempt(f"{name} against flash varlen", report, name, dt, ours,
                lambda: attention._torch_cuda(qp, kp, vp, None, cu, d ** -0.5, False, longest),
                nbytes(qp, kp, vp, qp), "torch: flash varlen")
    # The same tokens padded to the longest: SDPA with a key mask (what transformers runs), output on real rows.
    index = torch.cat([torch.arange(n) + i * longest for i, n in enumerate(lens.tolist())]).to(bench.device)

    def padded(t):
        out = torch.zeros(seqs * longest, heads, d, device=bench.device, dtype=dt)
        out[index] = t
        return out.view(seqs, longest, heads, d).transpose(1, 2)

    qd, kd, vd = padded(qp), padded(kp), padded(vp)
    keep = (torch.arange(longest) < lens[:, None]).view(seqs, 1, 1, longest).to(bench.device)

    def sdpa():
        out = F.scaled_dot_product_attention(qd, kd, vd, attn_mask=keep, scale=d ** -0.5)
        return out.transpose(1, 2).reshape(seqs * longest, heads, d)[index]

    report(name, dt, ours, sdpa, nbytes(qp, kp, vp, qp), "torch: SDPA on the padded batch")


def relative_rows(bench: Bench, dt, report) -> None:
    """Relative attention: ours against the references' computation (einsum, rel_shift copy, masked softmax)."""
    mod, RA = bench.mod, ops["relative_attention"]
    for bsz, qlen, mlen, heads, d, shift in bench.size("relative"):
        klen = qlen + mlen
        rlen = klen if shift == "transfo_xl" else klen + qlen
        q = bench.randn(qlen, bsz, heads, d, dtype=dt)
        k, v = (bench.randn(klen, bsz, heads, d, dtype=dt) for _ in range(2))
        r = bench.randn(rlen, 1, heads, d, dtype=dt)
        rw, rr = (bench.randn(heads, d, dtype=dt) for _ in range(2))
        seg = {}
        if shift == "xlnet":  # two segments, XLNet's padding-free bidirectional attention
            types = torch.arange(qlen, device=bench.device) >= qlen // 2
            seg = dict(seg_diff=(types[:, None] != types[None, :])[:, :, None], seg_embed=bench.randn(2, heads, d, dtype=dt),
                       r_s_bias=bench.randn(heads, d, dtype=dt))
            mask = None
        else:  # Transformer-XL's causal mask beyond the memory
            mask = torch.triu(torch.ones(qlen, klen, dtype=torch.bool, device=bench.device), 1 + mlen)[:, :, None]
        args = (q, k, v, r, rw, rr, shift, d ** -0.5, mask, seg.get("seg_diff"), seg.get("seg_embed"), seg.get("r_s_bias"))
        half_mask = dt == torch.float16 and mask is not None  # the references mask with -65000 in half

        def reference():
            if half_mask:
                saved, RA.MASKED_SCORE = RA.MASKED_SCORE, -65000.0
            try:
                return RA._reference(*args)
            finally:
                if half_mask:
                    RA.MASKED_SCORE = saved

        report(f"relative_attention {shift} b{bsz} q{qlen} m{mlen} h{heads}", dt, lambda: RA.cuda_kernel(mod, *args),
               reference, nbytes(q, k, v, r, q), "torch: einsum + rel_shift")


# ---- models ----
def model_rows(bench: Bench) -> None:
    print(f"{'model':<38} {'ours ms':>8} {'ours+our attn':>13} {'reference ms':>12} {'speed-up':>8}  reference")
    attempt("BERT-base", bert_rows, bench)
    attempt("GPT-2", gpt2_rows, bench)


def model_row(bench: Bench, name, ours_s, ref_s, ref_name, forced_s=None) -> None:
    bench.rows.append(dict(kernel=name, dtype="float16", ours_ms=ours_s * 1e3, ref_ms=ref_s * 1e3,
                           ours_our_attention_ms=None if forced_s is None else forced_s * 1e3, reference=ref_name,
                           speedup=ref_s / ours_s))
    forced = f"{forced_s * 1e3:>13.2f}" if forced_s is not None else f"{'':>13}"
    print(f"{name:<38} {ours_s * 1e3:>8.2f} {forced} {ref_s * 1e3:>12.2f} {ref_s / ours_s:>8.2f}  {ref_name}")


def _transformers():
    try:
        import transformers
    except ImportError:
        print("# transformers is not installed: the models are compared with our own reference path only")
        return None
    return transformers


def bert_rows(bench: Bench) -> None:
    """BERT-base (config defaults) forward in float16."""
    import transformers_fast as tf

    transformers = _transformers()
    smoke = bench.smoke
    dt = torch.float16
    attention = ops["attention"]
    row = functools.partial(model_row, bench)
    if transformers is not None:
        config = transformers.BertConfig(attn_implementation="sdpa") if not smoke else transformers.BertConfig(
            vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37,
            attn_implementation="sdpa")
        torch.manual_seed(0)
        ref = transformers.BertModel(config).eval()
        ours = tf.from_transformers(copy.deepcopy(ref)).to(device=bench.device, dtype=dt).eval()
        ref = ref.to(device=bench.device, dtype=dt)
        ref_name = f"transformers {transformers.__version__} (SDPA)"
    else:
        config = tf.BertConfig() if not smoke else tf.BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2,
                                                                   num_attention_heads=2, intermediate_size=37)
        torch.manual_seed(0)
        ours = tf.BertModel(config).eval().to(device=bench.device, dtype=dt)
        ref = copy.deepcopy(ours)
        ref.fast.enabled = False
        ref_name = "our reference path"
    vocab = config.vocab_size
    g = torch.Generator().manual_seed(1)
    seq = 128 if not smoke else 9
    cases = [("1x128", 1, None), ("32x128", 32, None), ("64 seqs 16..128", 64, (16, 128))]
    if smoke:
        cases = [("1x9", 1, None), ("3 seqs 2..9", 3, (2, 9))]
    for label, batch, span in cases:
        ids = torch.randint(1000 if not smoke else 3, vocab, (batch, seq), generator=g).to(bench.device)
        mask = torch.ones(batch, seq, dtype=torch.long, device=bench.device)
        if span is not None:
            lens = torch.randint(span[0], span[1] + 1, (batch,), generator=g)
            mask = (torch.arange(seq) < lens[:, None]).long().to(bench.device)
        with torch.no_grad():
            with bench.kernels():
                t_ours = bench.timeit(lambda: ours(ids, attention_mask=mask), repeats=10, inner=3)
                saved, attention.cuda_attention = attention.cuda_attention, "ours"
                try:
                    t_forced = bench.timeit(lambda: ours(ids, attention_mask=mask), repeats=10, inner=3)
                finally:
                    attention.cuda_attention = saved
                got = ours(ids, attention_mask=mask)[0]
            t_ref = bench.timeit(lambda: ref(ids, attention_mask=mask), repeats=10, inner=3)
            want = ref(ids, attention_mask=mask)[0]
        real = mask.bool()
        diff = (got[real].float() - want[real].float()).abs().max().item()
        row(f"BERT-base fp16 {label}", t_ours, t_ref, ref_name + f"; max diff {diff:.2e}", t_forced)


def gpt2_rows(bench: Bench) -> None:
    """GPT-2 (124M) greedy decoding in float16: prompt 32, 64 new tokens."""
    import transformers_fast as tf

    transformers = _transformers()
    smoke = bench.smoke
    dt = torch.float16
    row = functools.partial(model_row, bench)
    g = torch.Generator().manual_seed(2)
    prompt, new = (32, 64) if not smoke else (5, 3)
    if transformers is not None:
        config = transformers.GPT2Config(attn_implementation="sdpa") if not smoke else transformers.GPT2Config(
            vocab_size=99, n_positions=48, n_embd=32, n_layer=2, n_head=2, bos_token_id=0, eos_token_id=0,
            attn_implementation="sdpa")
        torch.manual_seed(0)
        hf = transformers.GPT2LMHeadModel(config).eval()
        ours = tf.from_transformers(copy.deepcopy(hf)).to(device=bench.device, dtype=dt).eval()
        hf = hf.to(device=bench.device, dtype=dt)

        def reference(ids, mask):
            return hf.generate(ids, attention_mask=mask, max_new_tokens=new, min_new_tokens=new, do_sample=False,
                               pad_token_id=config.eos_token_id)
    else:
        config = tf.GPT2Config() if not smoke else tf.GPT2Config(vocab_size=99, n_positions=48, n_embd=32, n_layer=2,
                                                                  n_head=2)
        torch.manual_seed(0)
        ours = tf.GPT2LMHeadModel(config).eval().to(device=bench.device, dtype=dt)
        plain = copy.deepcopy(ours)
        plain.fast.enabled = plain.transformer.fast.enabled = False

        def reference(ids, mask):  # no KV cache: one full forward per token
            for _ in range(new):
                ids = torch.cat([ids, plain(ids)[0][:, -1].argmax(-1, keepdim=True)], 1)
            return ids
    for batch in (1, 32) if not smoke else (1, 2):
        ids = torch.randint(0, config.vocab_size, (batch, prompt), generator=g).to(bench.device)
        mask = torch.ones_like(ids)
        with torch.no_grad():
            with bench.kernels():
                t_ours = bench.timeit(lambda: ours.generate(ids, attention_mask=mask, max_new_tokens=new,
                                                            eos_token_id=None), repeats=3, inner=1)
                got = ours.generate(ids, attention_mask=mask, max_new_tokens=new, eos_token_id=None)
            t_ref = bench.timeit(lambda: reference(ids, mask), repeats=3, inner=1)
            want = reference(ids, mask)
        same = (got[:, prompt:] == want[:, prompt:]).float().mean().item()
        ref_name = f"transformers {transformers.__version__}" if transformers is not None else "our reference path"
        row(f"GPT-2 fp16 greedy b{batch} {prompt}->+{new}", t_ours, t_ref, ref_name + f"; same tokens {100 * same:.0f} %")
        tokens_s = batch * new / t_ours
        bench.rows[-1]["ours_tokens_per_s"] = tokens_s
        print(f"{'':<38} ours {tokens_s:.0f} new tokens/s, reference {batch * new / t_ref:.0f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer shapes and dtypes")
    ap.add_argument("--smoke", action="store_true", help="tiny shapes through the emulated kernels on the CPU")
    ap.add_argument("--skip-models", action="store_true", help="the kernels only")
    ap.add_argument("--json", help="write the rows here too")
    args = ap.parse_args()
    started = time.perf_counter()
    bench = Bench(args.smoke, args.quick)
    if args.smoke:
        name, nominal = "emulated (CPU)", None
    else:
        props = torch.cuda.get_device_properties(0)
        name, nominal = props.name, nominal_bandwidth(props.name)
    measured = copy_bandwidth(bench)
    print(f"# {name}, torch {torch.__version__}, CUDA {torch.version.cuda}; copy {measured:.0f} GB/s, "
          f"nominal {nominal or '?'} GB/s")
    kernel_rows(bench, nominal, measured)
    if not args.skip_models:
        model_rows(bench)
    print(f"# {time.perf_counter() - started:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(device=name, copy_gbs=measured, nominal_gbs=nominal, rows=bench.rows), f, indent=1)


if __name__ == "__main__":
    main()
