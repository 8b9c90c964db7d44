"""GPT-2 (124M config, random weights, fp32) decoding: transformers_fast against transformers in the same run.

    python benchmarks/bench_gpt2.py [--threads 1,2] [--repeats 3] [--clock wall|cpu] [--openvino VENV_PYTHON]

By default one table at 1 thread and one at torch's default thread count (every core), then how much each
library gains from the extra threads. Prints the CPU ISA and per thread count a table: greedy generation of 64 new tokens after a 32-token prompt at batch 1 and 8
(new tokens per second, both libraries' `generate`), and one decode step with 512 tokens in the cache at
batch 1 and 8 (ms; transformers: a forward of one token with its DynamicCache of 512, ours: one fused step
on the preallocated cache), with the speed-up over transformers. Targets at every thread count: generation
>= 1.75x at batch 1 on AMD AVX-512 (>= 1.2x on Intel, where one token streams the weights from DRAM) and
>= 2.0x at batch 8; >= 1.5x on the decode step.

--openvino runs the same greedy generations right after ours with optimum-intel's OVModelForCausalLM
(stateful KV cache, fp32 precision hint, INFERENCE_NUM_THREADS = --threads) in another Python, a venv that
has optimum-intel and openvino (they want their own transformers/torch, so they live apart from ours):
    python -m venv /work/venv-ov && /work/venv-ov/bin/pip install optimum-intel openvino
It exports the same random-weight checkpoint (saved with save_pretrained) and gets the same prompts, and the
table gains OpenVINO's tokens/s and our ratio to it (target >= 1.05x).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from transformers_fast import benchmark  # noqa: E402  (before anything sets torch's threads)

OPENVINO_MARK = "OPENVINO_RESULT "


def openvino_worker(args):
    """Runs in the OpenVINO venv: exports args.openvino_worker (a save_pretrained folder) once and times greedy
    `generate` on the prompts of prompts.json; prints one line OPENVINO_MARK + json."""
    from optimum.intel import OVModelForCausalLM

    folder = args.openvino_worker
    ov_folder = os.path.join(folder, "openvino")
    ov_config = {"INFERENCE_NUM_THREADS": str(args.threads[0]), "NUM_STREAMS": "1", "PERFORMANCE_HINT": "LATENCY",
                 "INFERENCE_PRECISION_HINT": "f32", "CACHE_DIR": ""}
    if not os.path.exists(os.path.join(ov_folder, "openvino_model.xml")):
        model = OVModelForCausalLM.from_pretrained(folder, export=True, stateful=True, ov_config=ov_config)
        model.save_pretrained(ov_folder)
    else:
        model = OVModelForCausalLM.from_pretrained(ov_folder, ov_config=ov_config)
    compiled = model.request.get_compiled_model()
    info = {name: str(compiled.get_property(name)) for name in ("INFERENCE_NUM_THREADS", "INFERENCE_PRECISION_HINT")}
    import openvino
    info.update(openvino=openvino.__version__, stateful=bool(model.stateful))
    with open(os.path.join(folder, "prompts.json")) as f:
        prompts = json.load(f)
    results = {}
    for batch, prompt in prompts.items():
        prompt = torch.tensor(prompt)
        new = args.new_tokens
        out = []

        def run():
            out[:] = [model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=new,
                                     min_new_tokens=new, do_sample=False, pad_token_id=50256)]

        seconds = benchmark.best_ms([run], args.repeats, args.clock)[0] / 1e3
        results[batch] = {"seconds": seconds, "new_ids": out[0][:, prompt.shape[1]:].tolist()}
    print(OPENVINO_MARK + json.dumps({"info": info, "results": results}), flush=True)


def run_openvino(python, folder, prompts, threads, args):
    """Greedy generation timed by OpenVINO in `python` (another venv) on the checkpoint in `folder`."""
    with open(os.path.join(folder, "prompts.json"), "w") as f:
        json.dump({str(batch): prompt.tolist() for batch, prompt in prompts.items()}, f)
    command = [python, os.path.abspath(__file__), "--openvino-worker", folder, "--threads", str(threads),
               "--repeats", str(args.repeats), "--clock", args.clock, "--new-tokens", str(args.new_tokens)]
    # The worker must import the venv's own packages, not this checkout or our interpreter's paths.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(OMP_NUM_THREADS=str(threads))
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith(OPENVINO_MARK)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"the OpenVINO run failed ({' '.join(command)}):\n{done.stderr[-3000:]}")
    answer = json.loads(lines[-1][len(OPENVINO_MARK):])
    return answer["info"], {int(batch): result for batch, result in answer["results"].items()}


def generation_target(batch, isa):
    """The speed-up over transformers that greedy generation should reach (issue 13)."""
    if batch > 1:
        return 2.0
    return 1.75 if isa == "avx512" and benchmark.cpu_vendor() == "AMD" else 1.2


def run_workloads(models, threads, args):
    """One table's rows: [workload, transformers, ours, OpenVINO or None] in new tokens/s or ms, from
    transformers_fast.benchmark.decoders (what `transformers-fast bench` runs)."""
    from transformers_fast.benchmark import decoders

    ours_ids = {}
    workloads = [w for w in decoders.WORKLOADS if w not in args.skip]
    rows = []
    for row in decoders.rows(models, threads, workloads, args.repeats, args.clock, args.new_tokens,
                             generated=ours_ids):
        if row.tokens:
            rows.append([f"{row.workload} (new tokens/s)", row.tokens * 1e3 / row.reference_ms,
                         row.tokens * 1e3 / row.ours_ms, None])
        else:
            rows.append([f"{row.workload} (ms)", row.reference_ms, row.ours_ms, None])
    if args.openvino and "generate" not in args.skip:
        info, results = run_openvino(args.openvino, models.folder.name, decoders.prompts(models), threads, args)
        print(f"OpenVINO: {info}")
        new = args.new_tokens
        for row, (batch, result) in zip(rows, sorted(results.items())):
            row[3] = batch * new / result["seconds"]
            same = (torch.tensor(result["new_ids"]) == ours_ids[batch]).float().mean().item()
            print(f"batch {batch}: {same:.0%} of OpenVINO's new tokens equal ours (fp32 rounding differs)")
    return rows


def speedup(name, theirs, mine):
    return theirs / mine if name.endswith("(ms)") else mine / theirs


def print_table(rows, threads, isa):
    width = max(len(r[0]) for r in rows)
    openvino = any(r[3] is not None for r in rows)
    head = f"| {'workload'.ljust(width)} | transformers | transformers_fast | speed-up |"
    rule = f"|{'-' * (width + 2)}|-------------:|------------------:|---------:|"
    if openvino:
        head += " OpenVINO | ours / OpenVINO |"
        rule += "---------:|----------------:|"
    print(f"\n{benchmark.banner(threads)}\n" + head + "\n" + rule)
    for name, theirs, mine, ov in rows:
        ratio = speedup(name, theirs, mine)
        line = f"| {name.ljust(width)} | {theirs:12.1f} | {mine:17.1f} | {ratio:7.2f}x |"
        if openvino:
            line += "        – |               – |" if ov is None else f" {ov:8.1f} | {mine / ov:14.2f}x |"
        if name.startswith("greedy"):
            goal = generation_target(int(name.split("batch ")[1].split(" ")[0]), isa)
            line += f" ≥{goal}x: {'met' if ratio >= goal else 'NOT met'}"
        print(line)


def print_scaling(tables):
    first = next(iter(tables))
    for threads, rows in list(tables.items())[1:]:
        print(f"\nspeed-up from {first} to {threads} threads:")
        print("| workload | transformers | transformers_fast |\n|---|---|---|")
        for base, row in zip(tables[first], rows):
            print(f"| {row[0]} | {speedup(row[0], base[1], row[1]):.2f}x | {speedup(row[0], base[2], row[2]):.2f}x |")


def main():
    parser = argparse.ArgumentParser()
    benchmark.add_threads_argument(parser)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--clock", choices=sorted(benchmark.CLOCKS), default="wall")
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--openvino", metavar="VENV_PYTHON",
                        help="a Python with optimum-intel and openvino: also time OpenVINO's greedy generation")
    parser.add_argument("--skip", choices=("generate", "step", "forward"), action="append", default=[],
                        help="leave out a workload (to keep one run short)")
    parser.add_argument("--openvino-worker", metavar="FOLDER", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.openvino_worker:
        torch.set_num_threads(args.threads[0])
        return openvino_worker(args)

    from transformers_fast import ops
    from transformers_fast.benchmark import decoders

    isa = ops.cpu_isa()
    models = decoders.build("gpt2")
    print(f"CPU ISA: {isa}  features: {ops.cpu_features()}  threads: {args.threads}  torch {torch.__version__}  "
          f"{models.library}")

    tables = {}
    for threads in args.threads:
        tables[threads] = run_workloads(models, threads, args)
        print_table(tables[threads], threads, isa)
    if len(tables) > 1:
        print("\n\nAll thread counts together:")
        for threads, rows in tables.items():
            print_table(rows, threads, isa)
        print_scaling(tables)


if __name__ == "__main__":
    main()
