"""XLM (fp32, random weights, the xlm-mlm-enfr-1024 / xlm-clm-enfr-1024 shapes: 6 layers, 1024 hidden, 8 heads,
64139 words, 2 languages) against `transformers`: transformers builds the model, ours loads its save. Workloads:
XLMModel forward (langs given) at full batches and a variable-length batch (16 sequences, lengths uniform in
[8, 128], seed 0, right-padded, attention_mask given), ms; CLM incremental decoding with the cache
(XLMWithLMHeadModel, batch 1, a prompt then one token per step), ms for the prompt and all steps."""
from __future__ import annotations

from types import SimpleNamespace

import torch

from transformers_fast.benchmark import Row, best_ms, library, load_ours, num_threads, quiet_transformers

ENFR = dict(vocab_size=64139, emb_dim=1024, n_layers=6, n_heads=8, n_langs=2, max_position_embeddings=512,
            id2lang={"0": "en", "1": "fr"}, lang2id={"en": 0, "fr": 1})
TINY = dict(ENFR, vocab_size=1000, emb_dim=32, n_layers=2, n_heads=2, max_position_embeddings=64)
WORKLOADS = ("1x128", "8x128", "16var")
QUICK = ("1x16", "4var")


def build(quick: bool = False, decode: bool = True):
    transformers = quiet_transformers()
    folders, pairs = [], {}
    for class_name, causal in (("XLMModel", False),) + ((("XLMWithLMHeadModel", True),) if decode else ()):
        torch.manual_seed(0)
        hf = getattr(transformers, class_name)(transformers.XLMConfig(causal=causal, **(TINY if quick else ENFR)))
        ours, folder = load_ours(hf.eval(), class_name)
        folders.append(folder)
        pairs[class_name] = (hf, ours)
    hf, ours = pairs["XLMModel"]
    lm = pairs.get("XLMWithLMHeadModel", (None, None))
    return SimpleNamespace(title="XLM enfr-1024" + (" (tiny)" if quick else ""), reference=hf, ours=ours,
                           reference_lm=lm[0], ours_lm=lm[1], folders=folders, vocab=hf.config.vocab_size,
                           max_length=16 if quick else 128, prompt=8 if quick else 32, library=library("transformers"))


def inputs(names, vocab: int, max_length: int):
    g = torch.Generator().manual_seed(0)
    out = []
    for name in names:
        if name.endswith("var"):
            count = int(name[:-3])
            lengths = torch.randint(8, max_length + 1, (count,), generator=torch.Generator().manual_seed(0))
            mask = (torch.arange(max_length)[None, :] < lengths[:, None]).long()
            ids = torch.randint(10, vocab, (count, max_length), generator=g).masked_fill(mask == 0, 2)
            out.append((f"{count} var-len ({int(lengths.sum())}/{count * max_length} real)", ids, mask))
        else:
            batch, length = map(int, name.split("x"))
            ids = torch.randint(10, vocab, (batch, length), generator=g)
            out.append((name, ids, torch.ones_like(ids)))
    return out


def forward_rows(models, threads: int, names=WORKLOADS, repeats: int = 5):
    out = []
    hf, ours = models.reference, models.ours
    with num_threads(threads), torch.inference_mode():
        for label, ids, mask in inputs(names, models.vocab, models.max_length):
            langs = torch.ones_like(ids)
            a = hf(ids, attention_mask=mask, langs=langs)[0]
            b = ours(ids, attention_mask=mask, langs=langs)[0]
            diff = ((a - b).abs() * mask[..., None]).max().item()
            times = best_ms([lambda: hf(ids, attention_mask=mask, langs=langs),
                             lambda: ours(ids, attention_mask=mask, langs=langs)], repeats)
            out.append(Row(models.title, f"forward {label}", models.library, threads, *times, max_abs_diff=diff))
    return out


def decode_rows(models, threads: int, steps: int = 16, repeats: int = 2):
    """CLM decoding with each library's cache; [] when transformers' cache API fails here (it changes between
    versions: then there is nothing to compare with)."""
    from transformers.cache_utils import DynamicCache, EncoderDecoderCache

    hf, ours, prompt_length = models.reference_lm, models.ours_lm, models.prompt
    prompt = torch.randint(10, models.vocab, (1, prompt_length), generator=torch.Generator().manual_seed(1))
    tokens = torch.cat([prompt, torch.randint(10, models.vocab, (1, steps),
                                              generator=torch.Generator().manual_seed(2))], 1)

    def run_hf():
        cache = EncoderDecoderCache(DynamicCache(config=hf.config), DynamicCache(config=hf.config))
        outs = [hf(tokens[:, :prompt_length], cache=cache)[0][:, -1]]
        for n in range(prompt_length + 1, prompt_length + 1 + steps):
            outs.append(hf(tokens[:, :n], cache=cache)[0][:, -1])
        return torch.cat(outs)

    def run_ours():
        cache = {"slen": 0}
        outs = [ours(tokens[:, :prompt_length], cache=cache)[0][-1:]]
        for n in range(prompt_length + 1, prompt_length + 1 + steps):
            outs.append(ours(tokens[:, :n], cache=cache)[0][-1:])
        return torch.cat(outs)

    with num_threads(threads), torch.inference_mode():
        try:
            diff = (run_hf() - run_ours()).abs().max().item()
        except Exception:  # noqa: BLE001 - transformers' cache API, not ours: no reference to compare with
            return []
        times = best_ms([run_hf, run_ours], repeats)
    return [Row(models.title, f"CLM decode, {prompt_length}-token prompt + {steps} steps", models.library, threads,
                *times, max_abs_diff=diff)]
