"""BERT, RoBERTa and DistilBERT base models (fp32, random weights) against `transformers`: transformers builds
the model, ours loads its save_pretrained folder. Workloads: full batches 1x8, 1x128, 8x128, 32x128 and a padded
variable-length batch (32 sequences, lengths uniform in [8, 128], seed 0); ms per forward."""
from __future__ import annotations

from types import SimpleNamespace

import torch

from transformers_fast.benchmark import Row, best_ms, library, load_ours, num_threads, quiet_transformers

# family -> (title, transformers / our class prefix, full-size config, tiny config for --quick)
FAMILIES = {
    "bert": ("BERT-base", "Bert", {}, dict(vocab_size=1000, hidden_size=64, num_hidden_layers=2,
                                           num_attention_heads=4, intermediate_size=128)),
    "roberta": ("RoBERTa-base", "Roberta", dict(vocab_size=50265, max_position_embeddings=514, type_vocab_size=1),
                dict(vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=128, max_position_embeddings=130, type_vocab_size=1)),
    "distilbert": ("DistilBERT-base", "DistilBert", {}, dict(vocab_size=1000, dim=64, n_layers=2, n_heads=4,
                                                             hidden_dim=128)),
}
WORKLOADS = ("1x8", "1x128", "8x128", "32var", "32x128")
QUICK = ("1x8", "2x16")


def build(family: str = "bert", quick: bool = False):
    """The reference and our model on the same weights, and the folder ours was loaded from."""
    transformers = quiet_transformers()
    title, prefix, full, tiny = FAMILIES[family]
    config = getattr(transformers, prefix + "Config")(**(tiny if quick else full))
    torch.manual_seed(0)
    reference = getattr(transformers, prefix + "Model")(config).eval()
    ours, folder = load_ours(reference, prefix + "Model")
    return SimpleNamespace(title=title + (" (tiny)" if quick else ""), reference=reference, ours=ours, folder=folder,
                           vocab=config.vocab_size, pad=config.pad_token_id or 0, library=library("transformers"))


def inputs(names, vocab: int, pad: int = 0):
    """(label, ids, mask) per workload name, in the order of WORKLOADS + QUICK; ids are never special tokens."""
    low = min(1000, vocab // 10)
    g = torch.Generator().manual_seed(0)
    out = []
    for name in dict.fromkeys(WORKLOADS + QUICK):
        if name not in names:
            continue
        if name == "32var":
            lengths = torch.randint(8, 129, (32,), generator=torch.Generator().manual_seed(0))
            mask = (torch.arange(128)[None, :] < lengths[:, None]).long()
            ids = torch.randint(low, vocab, (32, 128), generator=g).masked_fill(mask == 0, pad)
            out.append((f"32 var-len ({int(lengths.sum())}/{32 * 128} real)", ids, mask))
        else:
            batch, length = map(int, name.split("x"))
            ids = torch.randint(low, vocab, (batch, length), generator=g)
            out.append((name, ids, torch.ones_like(ids)))
    return out


def rows(models, threads: int, names=("1x8", "1x128", "8x128"), repeats: int = 5, clock: str = "wall",
         extra=None):
    """One Row per workload. extra(label, ids, mask) -> {name: fn} adds functions timed in the same interleaved
    runs (their ms land in Row.others), e.g. another library on the same input."""
    out = []
    with num_threads(threads), torch.inference_mode():
        for label, ids, mask in inputs(names, models.vocab, models.pad):
            expected = models.reference(input_ids=ids, attention_mask=mask).last_hidden_state
            got = models.ours(ids, attention_mask=mask)[0]
            diff = (got - expected)[mask.bool()].abs().max().item()
            fns = {"reference": lambda: models.reference(input_ids=ids, attention_mask=mask),
                   "ours": lambda: models.ours(ids, attention_mask=mask)}
            fns.update(extra(label, ids, mask) if extra else {})
            # small batches are cheap and the most disturbed by a busy neighbour: more runs
            times = dict(zip(fns, best_ms(list(fns.values()), repeats * (4 if ids.numel() <= 64 else 1), clock)))
            out.append(Row(models.title, f"forward {label}", models.library, threads, times.pop("reference"),
                           times.pop("ours"), max_abs_diff=diff, others=times))
    return out
