"""XLNet-base (config of xlnet-base-cased, fp32, random weights) against `transformers`, and optionally
pytorch-transformers 1.2.0, on the same weights (one checkpoint saved by transformers, loaded by each library).
Workload: one XLNetModel forward (no memory, bidirectional attention, no padding), ms. transformers runs with
ff_activation "gelu_new", the tanh GELU that is 1.2.0's (and our) "gelu", and use_mems=False (no memory output, as
ours without mem_len)."""
from __future__ import annotations

import os
from types import SimpleNamespace

import torch

from transformers_fast.benchmark import Row, best_ms, library, load_ours, num_threads, quiet_transformers

SHAPES = {"1x128": (1, 128), "8x128": (8, 128), "1x512": (1, 512), "1x16": (1, 16), "2x16": (2, 16)}
QUICK = ("1x16", "2x16")
TINY = dict(vocab_size=1000, d_model=32, n_layer=2, n_head=2, d_inner=64)
PT_NAME = "pytorch-transformers 1.2.0"


def build(quick: bool = False, with_1_2_0: bool = False):
    import transformers_fast

    transformers = quiet_transformers()
    configs = os.path.join(os.path.dirname(transformers_fast.__file__), "configs")
    config = (transformers.XLNetConfig(**TINY) if quick
              else transformers.XLNetConfig.from_pretrained(os.path.join(configs, "xlnet-base-cased.json")))
    config.ff_activation = "gelu_new"  # the tanh GELU (1.2.0's "gelu"); transformers' "gelu" is the erf form
    config.mem_len = None
    torch.manual_seed(0)
    hf = transformers.XLNetModel(config).eval()
    ours, folder = load_ours(hf, "XLNetModel")
    others = {}
    if with_1_2_0:
        import logging

        import pytorch_transformers

        logging.getLogger("pytorch_transformers").setLevel(logging.ERROR)
        pt_config = pytorch_transformers.XLNetConfig(config.vocab_size, d_model=config.d_model, n_layer=config.n_layer,
                                                     n_head=config.n_head, d_inner=config.d_inner, ff_activation="gelu")
        pt_model = pytorch_transformers.XLNetModel(pt_config)
        pt_model.load_state_dict(hf.state_dict())  # (it reads no safetensors, which transformers 5 writes)
        others[PT_NAME] = pt_model.eval()
    return SimpleNamespace(title="XLNet-base" + (" (tiny)" if quick else ""), reference=hf,
                           ours=ours, others=others,
                           folder=folder, vocab=config.vocab_size, library=library("transformers"))


def rows(models, threads: int, names=("1x128", "8x128"), repeats: int = 5, clock: str = "wall"):
    g = torch.Generator().manual_seed(0)
    out = []
    with num_threads(threads), torch.no_grad():
        for name in names:
            ids = torch.randint(10, models.vocab, SHAPES[name], generator=g)
            diff = (models.ours(ids)[0] - models.reference(ids, use_mems=False)[0]).abs().max().item()
            fns = [lambda: models.reference(ids, use_mems=False), lambda: models.ours(ids)]
            fns += [(lambda m=m: m(ids)) for m in models.others.values()]
            t_ref, t_ours, *t_others = best_ms(fns, repeats, clock)
            out.append(Row(models.title, f"forward {name}", models.library, threads, t_ref, t_ours, max_abs_diff=diff,
                           others=dict(zip(models.others, t_others))))
    return out
