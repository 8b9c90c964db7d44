"""XLM inference: transformers_fast against transformers in the same run (fp32, random weights, the
xlm-mlm-enfr-1024 / xlm-clm-enfr-1024 shapes: 6 layers, 1024 hidden, 8 heads, 64139 words, 2 languages).

    python benchmarks/bench_xlm.py [--threads 1,2] [--repeats 5] [--decode-steps 16]

Per thread count (default 1 and torch's default, every core) a table of milliseconds per forward of
XLMModel (langs given) at 1x128, 8x128 and a variable-length batch (16 sequences, lengths uniform in
[8, 128], seed 0, right-padded, attention_mask given), then CLM incremental decoding with the cache
(XLMWithLMHeadModel, batch 1, a 32-token prompt, then one token per step: ms per step). The same weights
run in both libraries (transformers builds the model, ours loads its save). Outputs are checked to agree
(max abs diff on real positions) before timing.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import thread_counts  # noqa: E402  (before anything sets torch's threads)

ENFR = dict(emb_dim=1024, n_layers=6, n_heads=8, n_langs=2, max_position_embeddings=512,
            id2lang={"0": "en", "1": "fr"}, lang2id={"en": 0, "fr": 1})
N_WORDS = 64139


def build(class_name, causal, folder):
    import transformers

    import transformers_fast as tf

    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)
    hf = getattr(transformers, class_name)(transformers.XLMConfig(vocab_size=N_WORDS, causal=causal, **ENFR)).eval()
    hf.save_pretrained(folder)
    ours = getattr(tf, class_name).from_pretrained(folder).eval()
    return hf, ours


def workloads():
    g = torch.Generator().manual_seed(0)
    out = []
    for b, s in ((1, 128), (8, 128)):
        ids = torch.randint(10, N_WORDS, (b, s), generator=g)
        out.append((f"{b}x{s}", ids, torch.ones_like(ids)))
    lengths = torch.randint(8, 129, (16,), generator=torch.Generator().manual_seed(0))
    mask = (torch.arange(128)[None, :] < lengths[:, None]).long()
    ids = torch.randint(10, N_WORDS, (16, 128), generator=g).masked_fill(mask == 0, 2)
    out.append((f"16 var-len ({int(lengths.sum())}/{16 * 128} real)", ids, mask))
    return out


def forward_table(hf, ours, repeats):
    print(f"{'XLMModel forward':34s} {'transformers':>13s} {'ours':>9s} {'speedup':>8s}  max diff")
    for name, ids, mask in workloads():
        langs = torch.ones_like(ids)
        with torch.inference_mode():
            a = hf(ids, attention_mask=mask, langs=langs)[0]
            b = ours(ids, attention_mask=mask, langs=langs)[0]
            diff = ((a - b).abs() * mask[..., None]).max().item()
            t_hf, t_ours = thread_counts.best_ms([lambda: hf(ids, attention_mask=mask, langs=langs),
                                  lambda: ours(ids, attention_mask=mask, langs=langs)], repeats)
        print(f"{name:34s} {t_hf:11.1f}ms {t_ours:7.1f}ms {t_hf / t_ours:7.2f}x  {diff:.1e}")


def decode_table(hf, ours, steps, repeats):
    from transformers.cache_utils import DynamicCache, EncoderDecoderCache

    prompt = torch.randint(10, N_WORDS, (1, 32), generator=torch.Generator().manual_seed(1))
    tokens = torch.cat([prompt, torch.randint(10, N_WORDS, (1, steps), generator=torch.Generator().manual_seed(2))], 1)

    def run_hf():
        cache = EncoderDecoderCache(DynamicCache(config=hf.config), DynamicCache(config=hf.config))
        outs = [hf(tokens[:, :32], cache=cache)[0][:, -1]]
        for n in range(33, 33 + steps):
            outs.append(hf(tokens[:, :n], cache=cache)[0][:, -1])
        return torch.cat(outs)

    def run_ours():
        cache = {"slen": 0}
        outs = [ours(tokens[:, :32], cache=cache)[0][-1:]]
        for n in range(33, 33 + steps):
            outs.append(ours(tokens[:, :n], cache=cache)[0][-1:])
        return torch.cat(outs)

    with torch.inference_mode():
        try:
            diff = (run_hf() - run_ours()).abs().max().item()
        except Exception as err:  # transformers' cache API changes between versions
            print(f"CLM decode: transformers' cache failed here ({type(err).__name__}: {err}); ours only")
            t_ours = thread_counts.best_ms([run_ours], repeats)[0]
            print(f"CLM decode (32 prompt + {steps} steps)   ours {t_ours:.1f} ms")
            return
        t_hf, t_ours = thread_counts.best_ms([run_hf, run_ours], repeats)
    print(f"CLM decode, 32-token prompt + {steps} steps, batch 1: transformers {t_hf:.1f} ms, ours {t_ours:.1f} ms "
          f"({t_hf / t_ours:.2f}x), per step ~{t_hf / (steps + 1):.1f} / {t_ours / (steps + 1):.1f} ms, "
          f"max diff {diff:.1e}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    thread_counts.add_argument(parser)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--decode-steps", type=int, default=16)
    parser.add_argument("--no-decode", action="store_true")
    args = parser.parse_args()
    import transformers

    import transformers_fast

    print(f"torch {torch.__version__}, transformers {transformers.__version__}, transformers_fast "
          f"{transformers_fast.__version__}")
    with tempfile.TemporaryDirectory() as mlm_dir, tempfile.TemporaryDirectory() as clm_dir:
        hf, ours = build("XLMModel", False, mlm_dir)
        if not args.no_decode:
            hf_lm, ours_lm = build("XLMWithLMHeadModel", True, clm_dir)
        for threads in args.threads:
            torch.set_num_threads(threads)
            print(f"\n{thread_counts.banner(threads)}")
            forward_table(hf, ours, args.repeats)
            if not args.no_decode:
                decode_table(hf_lm, ours_lm, args.decode_steps, max(2, args.repeats // 2))


if __name__ == "__main__":
    main()
