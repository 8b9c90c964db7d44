"""bfloat16 inference: transformers_fast in bf16 against transformers (fp32 and `.to(bfloat16)`) and OpenVINO with
INFERENCE_PRECISION_HINT=bf16, in the same run (random weights, BERT-base and GPT-2 124M configs).

    python benchmarks/bench_bf16.py [--threads 1,2] [--repeats 5] [--no-openvino] [--skip-gpt2]

Prints the CPU, whether it has AVX-512-bf16 and AMX tiles, whether oneDNN runs bf16 natively here, then per thread
count: BERT-base forward at 1x8, 1x128 and 8x128 (ms: transformers fp32, transformers bf16, ours fp32, ours bf16,
OpenVINO bf16; ratios of ours bf16 to OpenVINO bf16 and to transformers fp32), and GPT-2 greedy generation of 32
new tokens after a 32-token prompt at batch 1 and 8 (new tokens/s; ours bf16 against transformers fp32 and bf16).
Goals: bf16 at least as fast as OpenVINO bf16; GPT-2 greedy bf16 >= 2x transformers fp32.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from transformers_fast import benchmark  # noqa: E402  (before anything sets torch's threads)

BERT_WORKLOADS = ((1, 8), (1, 128), (8, 128))
PROMPT, NEW_TOKENS = 32, 32


def cpu_flags() -> set:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def openvino_bf16(reference, threads):
    """OpenVINO's CPU plugin on the same weights with the bf16 precision hint (its default where AMX exists)."""
    import openvino as ov

    example = {"input_ids": torch.ones(1, 8, dtype=torch.long), "attention_mask": torch.ones(1, 8, dtype=torch.long)}
    converted = ov.convert_model(reference, example_input=example)
    config = {"INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": "bf16", "NUM_STREAMS": 1,
              "PERFORMANCE_HINT": "LATENCY"}
    compiled = ov.Core().compile_model(converted, "CPU", config)
    return compiled, str(compiled.get_property("INFERENCE_PRECISION_HINT"))


def bert_rows(args, threads):
    import transformers

    import transformers_fast

    torch.manual_seed(0)
    reference = transformers.BertModel(transformers.BertConfig(attn_implementation="eager")).eval()
    folder = tempfile.mkdtemp(prefix="bench_bf16_")
    reference.save_pretrained(folder)
    ours32 = transformers_fast.BertModel.from_pretrained(folder)
    ours16 = transformers_fast.BertModel.from_pretrained(folder, torch_dtype=torch.bfloat16)
    reference16 = transformers.BertModel.from_pretrained(folder, dtype=torch.bfloat16,
                                                         attn_implementation="eager").eval()
    ov = None
    if not args.no_openvino:
        try:
            ov, precision = openvino_bf16(reference, threads)
            print(f"OpenVINO compiled with INFERENCE_PRECISION_HINT={precision}, {threads} thread(s)")
        except Exception as err:  # an optional comparison
            print(f"OpenVINO unavailable: {err}")
    rows = []
    for batch, seq in BERT_WORKLOADS:
        ids = torch.randint(1000, 20000, (batch, seq))
        mask = torch.ones(batch, seq, dtype=torch.long)
        fns = [lambda m=m: m(ids, attention_mask=mask) for m in (reference, reference16, ours32, ours16)]
        if ov is not None:
            feed = {"input_ids": ids.numpy(), "attention_mask": mask.numpy()}
            fns.append(lambda: ov(feed))
        with torch.inference_mode():
            times = benchmark.best_ms(fns, args.repeats)
        rows.append((f"{batch}x{seq}", *times, *([None] * (5 - len(times)))))
    return rows


def gpt2_rows(args):
    import transformers

    import transformers_fast

    torch.manual_seed(0)
    config = transformers.GPT2Config(attn_implementation="eager")
    reference = transformers.GPT2LMHeadModel(config).eval()
    folder = tempfile.mkdtemp(prefix="bench_bf16_gpt2_")
    reference.save_pretrained(folder)
    reference16 = transformers.GPT2LMHeadModel.from_pretrained(folder, dtype=torch.bfloat16).eval()
    ours16 = transformers_fast.GPT2LMHeadModel.from_pretrained(folder, torch_dtype=torch.bfloat16)
    rows = []
    for batch in (1, 8):
        prompt = torch.randint(0, 50000, (batch, PROMPT))
        hf_kwargs = dict(max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, do_sample=False, pad_token_id=0)
        fns = [lambda m=m: m.generate(prompt, attention_mask=torch.ones_like(prompt), **hf_kwargs)
               for m in (reference, reference16)]
        fns.append(lambda: ours16.generate(prompt, max_length=PROMPT + NEW_TOKENS, do_sample=False))
        with torch.inference_mode():
            times = benchmark.best_ms(fns, max(1, args.repeats // 2))
        rows.append((f"batch {batch}", *(batch * NEW_TOKENS / (t / 1e3) for t in times)))
    return rows


def ratio(a, b):
    return "n/a" if a is None or b is None else f"{a / b:.2f}x"


def main():
    parser = argparse.ArgumentParser()
    benchmark.add_threads_argument(parser)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-openvino", action="store_true")
    parser.add_argument("--skip-gpt2", action="store_true")
    args = parser.parse_args()

    import transformers

    from transformers_fast import ops
    from transformers_fast.ops import packed_linear

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    flags = cpu_flags()
    print(f"CPU: {benchmark.cpu_name()}; ISA of our kernels: {ops.cpu_isa()}; avx512_bf16: "
          f"{'avx512_bf16' in flags}; AMX bf16 tiles: {'amx_bf16' in flags} (used by oneDNN's bf16 GEMMs when "
          f"present); oneDNN bf16 native: {packed_linear.onednn_bf16_available()}")
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, best of {args.repeats}")
    for threads in args.threads:
        torch.set_num_threads(threads)
        print(f"\n### {threads} thread(s), BERT-base forward, ms")
        print("| batch | transformers fp32 | transformers bf16 | ours fp32 | ours bf16 | OpenVINO bf16 "
              "| ours bf16 vs OpenVINO bf16 | vs transformers fp32 |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for name, hf32, hf16, our32, our16, ov in bert_rows(args, threads):
            print(f"| {name} | {hf32:.1f} | {hf16:.1f} | {our32:.1f} | {our16:.1f} | "
                  f"{'n/a' if ov is None else f'{ov:.1f}'} | {ratio(ov, our16)} | {ratio(hf32, our16)} |")
        if not args.skip_gpt2:
            print(f"\n### {threads} thread(s), GPT-2 greedy {PROMPT} -> {PROMPT + NEW_TOKENS}, new tokens/s")
            print("| batch | transformers fp32 | transformers bf16 | ours bf16 | vs transformers fp32 | vs bf16 |")
            print("|---|---:|---:|---:|---:|---:|")
            for name, hf32, hf16, our16 in gpt2_rows(args):
                print(f"| {name} | {hf32:.1f} | {hf16:.1f} | {our16:.1f} | {our16 / hf32:.2f}x | "
                      f"{our16 / hf16:.2f}x |")


if __name__ == "__main__":
    main()
