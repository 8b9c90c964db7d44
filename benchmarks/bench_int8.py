"""int8 inference: transformers_fast.quantize(model, "int8") against transformers fp32 and our own fp32 in the same
run (random weights), and the int8 peers that install: ONNX Runtime's dynamic int8 quantization (with onnx, for the
export) and CTranslate2's int8 (benchmarks/ctranslate2_peer.py: timed in a child process), on the same weights.

    python benchmarks/bench_int8.py [--threads 1,2] [--repeats 5] [--workloads 1x8,1x128,8x128,32var]
                                    [--clock wall|cpu] [--no-onnxruntime] [--no-ctranslate2] [--quick]
                                    [--models bert,gpt2,xlnet,xlm]

Workloads: full batches 1x8, 1x128, 8x128 and bench_bert's padded variable-length batch (32 sequences, lengths
uniform in [8, 128]), where the int8 model, like our fp32 one, runs the padding-free encoder path on the real tokens.
Prints the CPU, the kernels' ISA and which int8 kernel ran (AVX-512 VNNI or not), then per thread count a table of
milliseconds per batch: transformers fp32, transformers_fast fp32, transformers_fast int8, "int8 GEMMs alone" (the
GEMM calls of one int8 forward, its int8 projections and the float pooler, on the same inputs, without anything
else), ONNX Runtime int8, CTranslate2 int8, the speed-ups (the target: int8 >= 6x transformers fp32 on AVX-512
machines) and the accuracy (cosine similarity of the last hidden states to our fp32 ones: ours int8 mean over
tokens and the smallest one, the peers' means).

GPT-2 (--models gpt2; 124M config, random weights): greedy generation of 64 new tokens after a 32-token prompt at
batch 1 and 8, bench_gpt2.py's workload (transformers_fast.benchmark.decoders), in new tokens/s: transformers
fp32, ours fp32, ours int8 (blocks only; the tied LM head stays float) and int8 with lm_head=True, CTranslate2 int8
where it is installed, the speed-ups over transformers fp32 (target: int8 >= 3x at 1 thread) and the share of new
tokens equal to transformers fp32's.
First the MB of weights each model holds, and with embeddings=True as well. Then the weight stream of one decode
step's GEMMs alone (rows 1 and 8, GPT-2's shapes): fp32 panel against int8,
in GB/s of weights read, beside the process's DRAM read speed (a sum over 512 MB); and one decode step after a prompt
that nearly fills the context (batch 1 and 8), where the int8 model's int8 KV cache is compared with a float32 one.

XLNet-base (--models xlnet) and XLM enfr-1024 (--models xlm), the fp32 benchmarks' configs and workloads: forward
ms of transformers fp32, ours fp32 and ours int8, with the int8 last hidden states' cosine to fp32.
"""
from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
import time

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from transformers_fast import benchmark  # noqa: E402  (before anything sets torch's threads)
from transformers_fast.benchmark.encoders import inputs  # noqa: E402  (the fp32 benchmark's inputs)
from bench_bert import gemm_calls  # noqa: E402  (the fast path's GEMM calls: int8 ones in an int8 model)

WORKLOADS = ("1x8", "1x128", "8x128", "32var")
TARGET = 6.0  # int8 / transformers fp32, issue 18, AVX-512 machines
MODELS = ("bert", "gpt2", "xlnet", "xlm")
GPT2_TARGET = 3.0  # int8 / transformers fp32 new tokens/s, greedy generation at 1 thread
# --quick: tiny configs (a check that every section runs, not figures to quote)
QUICK_BERT = dict(vocab_size=1000, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)


def onnxruntime_int8(reference, threads, folder):
    """ONNX Runtime on the same weights: the transformers model exported to ONNX (opset 17), fused by ORT's BERT
    optimizer, its linear layers quantized with onnxruntime.quantization.quantize_dynamic (int8 weights per
    channel, u8 activations per tensor, as ORT does), one session with `threads` intra-op threads. Returns
    (forward(ids, mask) -> last hidden states, description)."""
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    fp32_path, int8_path = os.path.join(folder, "bert.onnx"), os.path.join(folder, "bert-int8.onnx")
    if not os.path.exists(int8_path):
        example = (torch.ones(1, 8, dtype=torch.long), torch.ones(1, 8, dtype=torch.long))
        axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                "last_hidden_state": {0: "batch", 1: "seq"}}
        class LastHiddenState(torch.nn.Module):  # positional inputs, one output: what the exporter traces
            def __init__(self):
                super().__init__()
                self.model = reference

            def forward(self, input_ids, attention_mask):
                return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

        with torch.no_grad():
            torch.onnx.export(LastHiddenState().eval(), example, fp32_path, input_names=["input_ids", "attention_mask"],
                              output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=17, dynamo=False)
        source = fp32_path
        try:  # ORT's BERT graph fusions (attention, LayerNorm, GELU) first, as ORT recommends for BERT
            from onnxruntime.transformers import optimizer

            config = reference.config
            fused = optimizer.optimize_model(fp32_path, model_type="bert", num_heads=config.num_attention_heads,
                                             hidden_size=config.hidden_size)
            source = os.path.join(folder, "bert-fused.onnx")
            fused.save_model_to_file(source)
        except Exception as err:  # the plain export still quantizes
            print(f"ONNX Runtime's BERT optimizer failed ({type(err).__name__}: {err}); quantizing the plain export")
        import onnx

        # (the fused graph has ORT-only nodes that ONNX's shape inference does not type: say they are float)
        quantize_dynamic(source, int8_path, weight_type=QuantType.QInt8, per_channel=True,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(int8_path, options, providers=["CPUExecutionProvider"])

    def forward(ids, mask):
        return torch.from_numpy(session.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})[0])

    return forward, (f"ONNX Runtime {ort.__version__}: BERT graph fusions, then quantize_dynamic (QInt8 weights per "
                     f"channel), {threads} intra-op threads")


def cosines(a, b, mask):
    real = mask.bool()
    c = torch.nn.functional.cosine_similarity(a[real], b[real], dim=-1)
    return c.mean().item(), c.min().item()


def ctranslate2_int8(reference, folder, threads, workloads, repeats):
    """CTranslate2's Encoder on the same weights (int8 weights per channel, `threads` intra-op threads), timed in a
    child process (benchmarks/ctranslate2_peer.py says why): ({label: (ms, last hidden states)}, description)."""
    import ctranslate2_peer

    model, version = ctranslate2_peer.convert(folder, reference.config.vocab_size)
    results = ctranslate2_peer.encode(model, threads, [(ids, mask) for _, ids, mask in workloads], repeats)
    return ({label: result for (label, _, _), result in zip(workloads, results)},
            f"CTranslate2 {version}: int8 weights per channel, {threads} intra-op threads, timed in its own process")


def peers_for(args, reference, folder, threads, workloads):
    """The int8 peers that install here: ({name: forward(ids, mask) -> last hidden states} timed in this process,
    {name: {workload label: (ms, last hidden states)}} timed in a child process)."""
    timed_here, timed_apart = {}, {}
    candidates = (("ORT int8", not args.no_onnxruntime, timed_here,
                   lambda: onnxruntime_int8(reference, threads, folder)),
                  ("CT2 int8", not args.no_ctranslate2, timed_apart,
                   lambda: ctranslate2_int8(reference, folder, threads, workloads, args.repeats)))
    for name, wanted, found, build in candidates:
        if not wanted:
            continue
        try:
            found[name], description = build()
            print(description)
        except Exception as err:  # optional comparisons
            print(f"{name} unavailable: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")
    return timed_here, timed_apart


def run(workloads, reference, ours, int8, peers, args):
    """Per workload: (label, ms of [transformers fp32, ours fp32, ours int8, int8 GEMMs alone, each peer],
    (cosine to fp32 of ours int8: mean, min; each peer's mean)). peers: peers_for's pair."""
    timed_here, timed_apart = peers
    rows = []
    with torch.inference_mode():
        for name, ids, mask in workloads:
            fp32_out = ours(ids, attention_mask=mask)[0]
            int8_out = int8(ids, attention_mask=mask)[0]
            mean_cos, min_cos = cosines(int8_out, fp32_out, mask)
            calls = gemm_calls(int8, ids, mask)

            def gemms_alone():
                for call in calls:
                    call()

            fns = [lambda: reference(input_ids=ids, attention_mask=mask), lambda: ours(ids, attention_mask=mask),
                   lambda: int8(ids, attention_mask=mask), gemms_alone]
            repeats = args.repeats * (4 if ids.numel() <= 64 else 1)
            times = benchmark.best_ms(fns, repeats, args.clock)
            peer_cos = []
            for forward in timed_here.values():
                # in a block of its own: ORT's workers spin after a run, on the cores the next library needs
                times += benchmark.best_ms([lambda forward=forward: forward(ids, mask)], repeats, args.clock)
                time.sleep(0.1)
                peer_cos.append(cosines(forward(ids, mask), fp32_out, mask)[0])
            for results in timed_apart.values():
                ms, hidden = results[name]
                times.append(ms)
                peer_cos.append(cosines(hidden, fp32_out, mask)[0])
            rows.append((name, times, (mean_cos, min_cos, *peer_cos)))
    return rows


def print_table(rows, threads, peers):
    print(f"\n{benchmark.banner(threads)}")
    header = ("| batch | transformers fp32 ms | ours fp32 ms | ours int8 ms | int8 GEMMs alone ms "
              f"| int8 vs transformers (target {TARGET:g}x) | int8 vs our fp32 |"
              + "".join(f" {p} ms | ours int8 vs {p} |" for p in peers)
              + " cosine int8 vs fp32 mean / min |" + "".join(f" {p} cosine |" for p in peers))
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for name, t, (mean_cos, min_cos, *peer_cos) in rows:
        line = (f"| {name} | {t[0]:.1f} | {t[1]:.1f} | {t[2]:.1f} | {t[3]:.1f} | {t[0] / t[2]:.2f}x "
                f"({'met' if t[0] / t[2] >= TARGET else 'NOT met'}) | {t[1] / t[2]:.2f}x |")
        line += "".join(f" {peer_t:.1f} | {peer_t / t[2]:.2f}x |" for peer_t in t[4:])
        line += f" {mean_cos:.5f} / {min_cos:.5f} |" + "".join(f" {c:.5f} |" for c in peer_cos)
        print(line)


def gpt2_models(quick: bool):
    """transformers' GPT-2 (124M config, random weights, SDPA attention) and ours loaded from it, as bench_gpt2.py
    builds them, plus our int8 copies: blocks only, and blocks with the LM head."""
    import transformers_fast
    from transformers_fast.benchmark import decoders

    models = decoders.build("gpt2", quick=quick)
    models.int8 = transformers_fast.quantize(copy.deepcopy(models.ours), "int8")
    models.int8_head = transformers_fast.quantize(copy.deepcopy(models.ours), "int8", lm_head=True)
    return models


def print_held_weights(models):
    """MB the GPT-2 models hold (benchmark.held_megabytes), with the word embeddings int8 too (embeddings=True:
    the tied head and the table share one int8 matrix)."""
    import transformers_fast

    tables = transformers_fast.quantize(copy.deepcopy(models.ours), "int8", lm_head=True, embeddings=True)
    held = [benchmark.held_megabytes(m) for m in (models.ours, models.int8, models.int8_head, tables)]
    print("\nGPT-2 124M, MB of weights held (parameters and buffers, shared ones once; packed copies not counted)")
    print("| fp32 | int8 | int8 + LM head | int8 + LM head + embeddings |\n|---:|---:|---:|---:|")
    print("| " + " | ".join(f"{mb:.3g}" for mb in held) + " |")


def ctranslate2_generations(models, args, threads, prompts):
    """CTranslate2's Generator on the same GPT-2 weights (int8 weights per channel, `threads` intra-op threads),
    timed in a child process: per prompt batch (ms, new tokens), or None where CTranslate2 is not installed or
    is skipped."""
    if args.no_ctranslate2:
        return None
    try:
        import ctranslate2_peer

        model, version = ctranslate2_peer.convert(models.folder.name, models.vocab)
        results = ctranslate2_peer.greedy(model, threads, prompts, models.new_tokens, max(1, args.repeats // 2))
        print(f"CTranslate2 {version}: int8 weights per channel, {threads} intra-op threads, timed in its own process")
        return results
    except Exception as err:  # optional comparison
        print(f"CT2 int8 unavailable: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")
        return None


def gpt2_rows(models, args, threads):
    """Per batch: (batch, new tokens/s of transformers fp32, ours fp32, int8, int8 + LM head[, CTranslate2 int8],
    shares of their new tokens equal to transformers fp32's)."""
    from transformers_fast.benchmark import decoders

    new = models.new_tokens
    by_batch = decoders.prompts(models)
    ct2 = ctranslate2_generations(models, args, threads, list(by_batch.values()))
    rows = []
    for index, (batch, prompt) in enumerate(by_batch.items()):
        mask = torch.ones_like(prompt)
        generated = {}

        def run_hf():
            generated["hf"] = models.reference.generate(prompt, attention_mask=mask, max_new_tokens=new,
                                                        min_new_tokens=new, do_sample=False, pad_token_id=0)

        def ours(name):
            def run():
                generated[name] = getattr(models, name).generate(prompt, attention_mask=mask, max_new_tokens=new,
                                                                  eos_token_id=None)
            return run

        names = ("ours", "int8", "int8_head")
        with torch.inference_mode():
            # a generation is 64 steps: half the BERT repeats
            times = benchmark.best_ms([run_hf] + [ours(name) for name in names], max(1, args.repeats // 2),
                                      args.clock)
        if ct2:
            times.append(ct2[index][0])
            generated["ct2"] = torch.cat([prompt, ct2[index][1]], 1)
            names += ("ct2",)
        want = generated["hf"][:, prompt.shape[1]:]
        shares = [(generated[name][:, prompt.shape[1]:] == want).float().mean().item() for name in names]
        rows.append((batch, [batch * new * 1e3 / t for t in times], shares))
    return rows


def print_gpt2_table(rows, threads, new_tokens):
    ct2 = any(len(speeds) > 4 for _, speeds, _ in rows)
    print(f"\n{benchmark.banner(threads)}\nGPT-2 124M greedy 32 -> +{new_tokens}, new tokens/s (in brackets: "
          f"the share of new tokens equal to transformers fp32's)")
    header = (f"| batch | transformers fp32 | ours fp32 | ours int8 | ours int8 + LM head | int8 vs transformers "
              f"(target {GPT2_TARGET:g}x) | int8 + LM head vs transformers | int8 vs our fp32 "
              f"| int8 + LM head vs our fp32 |" + (" CT2 int8 | ours int8 + LM head vs CT2 int8 |" if ct2 else ""))
    print(header)
    print("|---|" + "---:|" * (header.count("|") - 2))
    for batch, (hf, ours, int8, head, *peer), (s_ours, s_int8, s_head, *s_peer) in rows:
        def met(x):
            return f"{x / hf:.2f}x ({'met' if x / hf >= GPT2_TARGET else 'NOT met'})"
        line = (f"| {batch} | {hf:.1f} | {ours:.1f} ({s_ours:.0%}) | {int8:.1f} ({s_int8:.0%}) "
                f"| {head:.1f} ({s_head:.0%}) | {met(int8)} | {met(head)} | {int8 / ours:.2f}x | {head / ours:.2f}x |")
        if ct2:
            line += f" {peer[0]:.1f} ({s_peer[0]:.0%}) | {head / peer[0]:.2f}x |" if peer else " - | - |"
        print(line)


def weight_stream_rows(models, args):
    """One decode step's GEMMs alone, GPT-2's shapes at 1 and 8 rows: (shape, rows, fp32 us, fp32 GB/s, int8 us,
    int8 GB/s) with GB/s the weight bytes read per second (fp32: 4 per weight, int8: 1), and the DRAM read speed
    of one sum over 512 MB (GB/s). The blocks' weights of one layer fit the caches here, the LM head does not."""
    from transformers_fast.ops import linear

    float_block, int8_block = models.ours.fast.layers()[0], models.int8_head.fast.layers()[0]
    pairs = [(getattr(float_block, name), getattr(int8_block, name)) for name in ("qkv", "proj", "fc", "fc_proj")]
    pairs.append((models.ours.fast._lm_head, models.int8_head.fast._lm_head))
    big = torch.ones(128 << 20)  # 512 MB: far beyond the caches
    dram = big.numel() * 4 / benchmark.best_ms([big.sum], args.repeats, args.clock)[0] / 1e6
    del big
    rows = []
    with torch.inference_mode():
        for packed, quantized in pairs:
            weights = quantized.in_features * quantized.out_features
            for count in (1, 8):
                x = torch.randn(count, quantized.in_features)
                t32, t8 = benchmark.best_ms([lambda: linear(x, packed), lambda: linear(x, quantized)],
                                            args.repeats * 10, args.clock)
                rows.append((f"{quantized.in_features}x{quantized.out_features}", count, t32 * 1e3,
                             4 * weights / t32 / 1e6, t8 * 1e3, weights / t8 / 1e6))
    return rows, dram


def long_cache_rows(models, args):
    """One decode step after a long prompt (the KV cache read at every step grows with it), batch 1 and 8: ms of
    transformers fp32, ours fp32, ours int8 + LM head with a float32 KV cache and with the int8 one, and the cosine
    of the int8 cache's logits to the float cache's."""
    import transformers_fast
    from transformers_fast.benchmark import decoders

    cached = models.reference.config.n_positions - 24
    int8, g = models.int8_head, torch.Generator().manual_seed(3)
    rows = []
    for batch in (1, 8):
        context = torch.randint(0, models.vocab, (batch, cached + 1), generator=g)
        position = torch.full((batch,), cached)
        step_hf = decoders.transformers_step(models.reference, context, cached)

        def stepper(model, kv_cache=None):
            if kv_cache is not None:  # the int8 model's cache dtype: re-quantizing only sets it
                transformers_fast.quantize(model, "int8", lm_head=True, kv_cache=kv_cache)
            cache = model.fast.new_cache(batch, cached + 1)
            with torch.inference_mode():
                model.fast.prefill(context[:, :cached], torch.arange(cached).expand(batch, cached), None, cache)
            logits = []

            def step():
                cache.length = cached
                with torch.inference_mode():
                    logits[:] = [model.fast.step(context[:, cached], position, cache)]
            return step, logits

        steps = [stepper(models.ours), stepper(int8, "float"), stepper(int8, "int8")]
        times = benchmark.best_ms([step_hf] + [step for step, _ in steps], args.repeats * 3, args.clock)
        float_logits, int8_logits = steps[1][1][0], steps[2][1][0]
        cosine = torch.nn.functional.cosine_similarity(float_logits, int8_logits, dim=-1).min().item()
        rows.append((batch, cached, times, cosine))
    return rows


def print_long_cache(rows, threads):
    print(f"\n{benchmark.banner(threads)}\nGPT-2 124M, one decode step after a long prompt, ms (the KV cache: float32 "
          f"4 bytes per element, int8 1 plus a float32 scale per key / value row)")
    print("| batch, cached | transformers fp32 | ours fp32 | ours int8, float32 cache | ours int8, int8 cache "
          "| int8 cache vs float32 cache | int8 cache vs transformers | logits' cosine, int8 vs float32 cache |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for batch, cached, (hf, ours, float_cache, int8_cache), cosine in rows:
        print(f"| {batch}, {cached} | {hf:.2f} | {ours:.2f} | {float_cache:.2f} | {int8_cache:.2f} "
              f"| {float_cache / int8_cache:.2f}x | {hf / int8_cache:.2f}x | {cosine:.6f} |")


def print_weight_stream(rows, dram, threads):
    print(f"\nGPT-2 GEMMs of one decode step alone, {threads} thread(s) (DRAM read: {dram:.1f} GB/s)")
    print("| weight in x out | rows | fp32 panel us | fp32 weight GB/s | int8 us | int8 weight GB/s | int8 vs fp32 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for shape, count, t32, g32, t8, g8 in rows:
        print(f"| {shape} | {count} | {t32:.0f} | {g32:.1f} | {t8:.0f} | {g8:.1f} | {t32 / t8:.2f}x |")


def family_workloads(family, models):
    """(label, call(model) -> last hidden states, real-token mask) per workload of XLNet-base / XLM enfr-1024, as
    their fp32 benchmarks run them (transformers_fast.benchmark.xlnet / .xlm)."""
    if family == "xlnet":
        g = torch.Generator().manual_seed(0)
        out = []
        for name in ("1x16", "2x16") if models.quick else ("1x128", "8x128"):
            batch, length = map(int, name.split("x"))
            ids = torch.randint(10, models.vocab, (batch, length), generator=g)
            # (transformers' XLNet without memory output, as ours without mem_len)
            out.append((name, lambda m, ids=ids: (m(ids, use_mems=False) if m is models.reference else m(ids))[0],
                        torch.ones_like(ids)))
        return out
    from transformers_fast.benchmark import xlm

    return [(label, lambda m, ids=ids, mask=mask: m(ids, attention_mask=mask, langs=torch.ones_like(ids))[0], mask)
            for label, ids, mask in xlm.inputs(xlm.QUICK if models.quick else ("1x128", "8x128", "16var"), models.vocab,
                                               models.max_length)]


def run_family(family, args):
    """XLNet-base or XLM enfr-1024 forward: transformers fp32, ours fp32, ours int8 (ms), with the cosine of the int8
    last hidden states to fp32 on the real tokens."""
    import transformers_fast
    from transformers_fast.benchmark import xlm, xlnet

    models = xlnet.build(args.quick) if family == "xlnet" else xlm.build(args.quick, decode=False)
    models.quick = args.quick
    int8 = transformers_fast.quantize(copy.deepcopy(models.ours), "int8")
    workloads = family_workloads(family, models)
    for threads in args.threads:
        with benchmark.num_threads(threads), torch.inference_mode():
            print(f"\n{benchmark.banner(threads)}\n{models.title} forward, ms")
            print("| batch | transformers fp32 | ours fp32 | ours int8 | int8 vs transformers | int8 vs our fp32 "
                  "| cosine int8 vs fp32 mean / min |")
            print("|---|---:|---:|---:|---:|---:|---:|")
            for label, call, mask in workloads:
                mean_cos, min_cos = cosines(call(int8), call(models.ours), mask)
                hf, ours, q = benchmark.best_ms([lambda: call(models.reference), lambda: call(models.ours),
                                                 lambda: call(int8)], args.repeats, args.clock)
                print(f"| {label} | {hf:.1f} | {ours:.1f} | {q:.1f} | {hf / q:.2f}x | {ours / q:.2f}x "
                      f"| {mean_cos:.5f} / {min_cos:.5f} |")


def run_gpt2(args):
    models = gpt2_models(args.quick)
    print_held_weights(models)
    for threads in args.threads:
        with benchmark.num_threads(threads):
            rows = gpt2_rows(models, args, threads)
            print_gpt2_table(rows, threads, models.new_tokens)
            print_weight_stream(*weight_stream_rows(models, args), threads)
            print_long_cache(long_cache_rows(models, args), threads)


def main():
    parser = argparse.ArgumentParser()
    benchmark.add_threads_argument(parser)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help=f"comma-separated subset of {WORKLOADS}")
    parser.add_argument("--clock", choices=sorted(benchmark.CLOCKS), default="wall",
                        help="wall time, or process CPU time (for a machine shared with other work)")
    parser.add_argument("--no-onnxruntime", action="store_true", help="skip ONNX Runtime (timed when installed)")
    parser.add_argument("--no-ctranslate2", action="store_true", help="skip CTranslate2 (timed when installed)")
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma-separated subset of {MODELS}")
    parser.add_argument("--quick", action="store_true", help="tiny configs: checks that every section runs")
    args = parser.parse_args()
    models = set(args.models.split(","))
    if not models <= set(MODELS):
        parser.error(f"--models: unknown {sorted(models - set(MODELS))}")
    names = set(args.workloads.split(","))
    if not names <= set(WORKLOADS):
        parser.error(f"--workloads: unknown {sorted(names - set(WORKLOADS))}")

    import transformers

    import transformers_fast
    from transformers_fast import ops
    from transformers_fast.ops import quantized_linear

    transformers.logging.set_verbosity_error()
    kernel = quantized_linear.kernel_name()
    print(f"CPU: {benchmark.cpu_name()}; kernels' ISA {ops.cpu_isa()}; features: {ops.cpu_features()}")
    print(f"int8 kernel: {kernel} (AMX-INT8 {'used' if kernel == 'amx_int8' else 'NOT used'}: the CPU "
          f"{'has' if ops._backend._C.cpu_has_amx_int8() else 'has no'} usable AMX-INT8; AVX-512 VNNI "
          f"{'used' if kernel in ('avx512_vnni', 'amx_int8') else 'NOT used'}"
          f"{' for in_features not a multiple of 64' if kernel == 'amx_int8' else ''})")
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, threads {args.threads}, "
          f"best of {args.repeats} by {args.clock} clock")

    if "gpt2" in models:
        run_gpt2(args)
    for family in ("xlnet", "xlm"):
        if family in models:
            run_family(family, args)
    if "bert" not in models:
        return
    torch.manual_seed(0)
    config = transformers.BertConfig(**(QUICK_BERT if args.quick else {}))
    reference = transformers.BertModel(config).eval()
    folder = tempfile.mkdtemp(prefix="bench_int8_")
    reference.save_pretrained(folder)
    ours = transformers_fast.BertModel.from_pretrained(folder)
    int8 = transformers_fast.quantize(copy.deepcopy(ours), "int8")

    workloads = inputs(names, config.vocab_size)
    tables = {}
    for threads in args.threads:
        torch.set_num_threads(threads)
        peers = peers_for(args, reference, folder, threads, workloads)
        rows = run(workloads, reference, ours, int8, peers, args)
        tables[threads] = (rows, [*peers[0], *peers[1]])
        print_table(rows, threads, tables[threads][1])
        del peers
    if len(tables) > 1:
        print("\n\nAll thread counts together:")
        for threads, (rows, peer_names) in tables.items():
            print_table(rows, threads, peer_names)


if __name__ == "__main__":
    main()
