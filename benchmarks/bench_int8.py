"""BERT-base int8 inference: transformers_fast.quantize(model, "int8") against transformers fp32 and our own fp32 in
the same run (random weights, BERT-base config), and ONNX Runtime's dynamic int8 quantization of the same model
where onnxruntime (and onnx, for the export) are installed.

    python benchmarks/bench_int8.py [--threads 1,2] [--repeats 5] [--workloads 1x8,1x128,8x128,32var]
                                    [--clock wall|cpu] [--no-onnxruntime]

Workloads: full batches 1x8, 1x128, 8x128 and bench_bert's padded variable-length batch (32 sequences, lengths
uniform in [8, 128]), where the int8 model, like our fp32 one, runs the padding-free encoder path on the real tokens.
Prints the CPU, the kernels' ISA and which int8 kernel ran (AVX-512 VNNI or not), then per thread count a table of
milliseconds per batch: transformers fp32, transformers_fast fp32, transformers_fast int8, "int8 GEMMs alone" (the
GEMM calls of one int8 forward, its int8 projections and the float pooler, on the same inputs, without anything
else), ONNX Runtime int8, the speed-ups (the target of issue 18: int8 >= 6x transformers fp32 on AVX-512 machines)
and the int8 model's accuracy (cosine similarity of the last hidden states to fp32, mean over tokens, and the
smallest one).
"""
from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from transformers_fast import benchmark  # noqa: E402  (before anything sets torch's threads)
from transformers_fast.benchmark.encoders import inputs  # noqa: E402  (the fp32 benchmark's inputs)
from bench_bert import gemm_calls  # noqa: E402  (the fast path's GEMM calls: int8 ones in an int8 model)

WORKLOADS = ("1x8", "1x128", "8x128", "32var")
TARGET = 6.0  # int8 / transformers fp32, issue 18, AVX-512 machines


def onnxruntime_int8(reference, threads, folder):
    """ONNX Runtime on the same weights: the transformers model exported to ONNX (opset 17), fused by ORT's BERT
    optimizer, its linear layers quantized with onnxruntime.quantization.quantize_dynamic (int8 weights per
    channel, u8 activations per tensor, as ORT does), one session with `threads` intra-op threads. Returns
    (session, description)."""
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

            fused = optimizer.optimize_model(fp32_path, model_type="bert", num_heads=12, hidden_size=768)
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
    return session, (f"ONNX Runtime {ort.__version__}: BERT graph fusions, then quantize_dynamic (QInt8 weights per "
                     f"channel), {threads} intra-op threads")


def cosines(a, b, mask):
    real = mask.bool()
    c = torch.nn.functional.cosine_similarity(a[real], b[real], dim=-1)
    return c.mean().item(), c.min().item()


def run(names, reference, ours, int8, session, args):
    rows = []
    with torch.inference_mode():
        for name, ids, mask in inputs(names, 30522):
            fp32_out = ours(ids, attention_mask=mask)[0]
            int8_out = int8(ids, attention_mask=mask)[0]
            mean_cos, min_cos = cosines(int8_out, fp32_out, mask)
            calls = gemm_calls(int8, ids, mask)

            def gemms_alone():
                for call in calls:
                    call()

            fns = [lambda: reference(input_ids=ids, attention_mask=mask), lambda: ours(ids, attention_mask=mask),
                   lambda: int8(ids, attention_mask=mask), gemms_alone]
            ort_cos = None
            if session is not None:
                feed = {"input_ids": ids.numpy(), "attention_mask": mask.numpy()}
                fns.append(lambda: session.run(None, feed))
                ort_cos = cosines(torch.from_numpy(session.run(None, feed)[0]), fp32_out, mask)[0]
            times = benchmark.best_ms(fns, args.repeats * (4 if ids.numel() <= 64 else 1), args.clock)
            rows.append((name, times, (mean_cos, min_cos, ort_cos)))
            del calls
    return rows


def print_table(rows, threads):
    ort = any(len(times) > 4 for _, times, _ in rows)
    print(f"\n{benchmark.banner(threads)}")
    header = ("| batch | transformers fp32 ms | ours fp32 ms | ours int8 ms | int8 GEMMs alone ms | int8 vs transformers "
              f"(target {TARGET:g}x) | int8 vs our fp32 |" + (" ORT int8 ms | ours int8 vs ORT int8 |" if ort else "")
              + " cosine int8 vs fp32 mean / min |" + (" ORT cosine |" if ort else ""))
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for name, t, (mean_cos, min_cos, ort_cos) in rows:
        line = (f"| {name} | {t[0]:.1f} | {t[1]:.1f} | {t[2]:.1f} | {t[3]:.1f} | {t[0] / t[2]:.2f}x "
                f"({'met' if t[0] / t[2] >= TARGET else 'NOT met'}) | {t[1] / t[2]:.2f}x |")
        if ort:
            line += f" {t[4]:.1f} | {t[4] / t[2]:.2f}x |" if len(t) > 4 else " - | - |"
        line += f" {mean_cos:.5f} / {min_cos:.5f} |"
        if ort:
            line += f" {ort_cos:.5f} |" if ort_cos is not None else " - |"
        print(line)


def main():
    parser = argparse.ArgumentParser()
    benchmark.add_threads_argument(parser)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help=f"comma-separated subset of {WORKLOADS}")
    parser.add_argument("--clock", choices=sorted(benchmark.CLOCKS), default="wall",
                        help="wall time, or process CPU time (for a machine shared with other work)")
    parser.add_argument("--no-onnxruntime", action="store_true", help="skip ONNX Runtime (timed when installed)")
    args = parser.parse_args()
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
    print(f"int8 kernel: {kernel} (AVX-512 VNNI {'used' if kernel == 'avx512_vnni' else 'NOT used'})")
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, threads {args.threads}, "
          f"best of {args.repeats} by {args.clock} clock")

    torch.manual_seed(0)
    reference = transformers.BertModel(transformers.BertConfig()).eval()
    folder = tempfile.mkdtemp(prefix="bench_int8_")
    reference.save_pretrained(folder)
    ours = transformers_fast.BertModel.from_pretrained(folder)
    int8 = transformers_fast.quantize(copy.deepcopy(ours), "int8")

    tables = {}
    for threads in args.threads:
        torch.set_num_threads(threads)
        session = None
        if not args.no_onnxruntime:
            try:
                session, description = onnxruntime_int8(reference, threads, folder)
                print(description)
            except Exception as err:  # optional comparison
                print(f"ONNX Runtime unavailable: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")
        tables[threads] = run(names, reference, ours, int8, session, args)
        print_table(tables[threads], threads)
        del session
    if len(tables) > 1:
        print("\n\nAll thread counts together:")
        for threads, rows in tables.items():
            print_table(rows, threads)


if __name__ == "__main__":
    main()
