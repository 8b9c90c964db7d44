"""Transformer-XL (transfo-xl-wt103 shape, fp32, random weights) against pytorch-transformers 1.2.0, its only
reference (current `transformers` no longer has the model), ours on the same tensors. wt103 shape: 18 layers,
d_model 1024, 16 heads of 64, d_inner 4096, adaptive input and softmax over 267735 tokens (cutoffs
20000/40000/200000, div_val 4). Workloads:
  - LM forward of `length` tokens with as many of memory (log-probabilities and the new memories), each call
    continuing from the memories the previous call returned (evaluation over a long text), ms;
  - the base model's forward likewise, ms;
  - greedy generation of `new_tokens` after a 16-token prompt carrying memories (1.2.0: its forward step by step,
    one token plus the memories per step, argmax of the log-probabilities; ours: generate)."""
from __future__ import annotations

from types import SimpleNamespace

import torch

from transformers_fast.benchmark import Row, best_ms, library, num_threads

TINY = dict(vocab_size_or_config_json_file=1000, cutoffs=[100, 500], d_model=32, d_embed=32, n_head=2, d_head=16,
            d_inner=64, n_layer=2, div_val=2)


def build(quick: bool = False, mem_len: int = 128):
    """1.2.0's LM model with random weights and ours on the same tensors (no copy)."""
    import logging

    import pytorch_transformers as pt

    import transformers_fast as tf

    logging.getLogger("pytorch_transformers").setLevel(logging.ERROR)
    length, mem_len = (16, 16) if quick else (128, mem_len)
    torch.manual_seed(0)
    with torch.no_grad():
        ref = pt.TransfoXLLMHeadModel(pt.TransfoXLConfig(**(TINY if quick else {}))).eval()
    ref.reset_length(length, 0, mem_len)
    config = tf.TransfoXLConfig.from_dict(ref.config.to_dict())
    ours = tf.TransfoXLLMHeadModel.from_pretrained(None, config=config, state_dict=ref.state_dict())
    ours.reset_length(length, 0, mem_len)
    return SimpleNamespace(title="Transformer-XL wt103" + (" (tiny)" if quick else ""), reference=ref, ours=ours,
                           vocab=ref.config.n_token, length=length, mem_len=mem_len, new_tokens=4 if quick else 16,
                           library=library("pytorch-transformers"))


def rows(models, threads: int, repeats: int = 3, new_tokens=None, checks=None):
    """The three workloads; `checks` (a dict), when given, receives the log-probability and hidden-state
    differences and whether the greedy tokens were equal."""
    ref, ours, length = models.reference, models.ours, models.length
    g = torch.Generator().manual_seed(0)
    first, second = (torch.randint(0, models.vocab, (1, length), generator=g) for _ in range(2))
    with num_threads(threads), torch.no_grad():
        ref_mems, our_mems = ref(first)[1], ours(first)[1]
        diff = (ref(second, mems=ref_mems)[0] - ours(second, mems=our_mems)[0]).abs().max().item()
        base_diff = (ref.transformer(second, mems=ref_mems)[0]
                     - ours.transformer(second, mems=our_mems)[0]).abs().max().item()
        # Each timed forward continues from the memories the previous one returned (evaluation over a long text).
        state = {"ref": ref_mems, "ours": our_mems, "ref_base": ref_mems, "ours_base": our_mems}

        def step(model, key):
            state[key] = model(second, mems=state[key])[1]

        memory = f"{models.mem_len} memory"
        lm = best_ms([lambda: step(ref, "ref"), lambda: step(ours, "ours")], repeats)
        base = best_ms([lambda: step(ref.transformer, "ref_base"), lambda: step(ours.transformer, "ours_base")],
                       repeats)
        out = [Row(models.title, f"LM forward 1x{length}, {memory}", models.library, threads, *lm, max_abs_diff=diff),
               Row(models.title, f"base forward 1x{length}, {memory}", models.library, threads, *base,
                   max_abs_diff=base_diff)]

        prompt = torch.randint(0, models.vocab, (1, 16), generator=g)
        new = new_tokens or models.new_tokens
        produced = {}

        def ref_generate():
            x, mems, tokens = prompt, None, []
            for _ in range(new):
                logits, mems = ref(x, mems=mems)[:2]
                x = logits[:, -1].argmax(-1)[:, None]
                tokens.append(x)
            produced["ref"] = torch.cat(tokens, 1)

        def our_generate():
            produced["ours"] = ours.generate(prompt, max_new_tokens=new)[:, 16:]

        generation = [best_ms([fn], max(1, repeats - 1))[0] for fn in (ref_generate, our_generate)]
        out.append(Row(models.title, f"greedy 16 -> +{new}, memory {models.mem_len}", models.library, threads,
                       *generation, tokens=new))
    if checks is not None:
        checks.update(log_probs=diff, hidden=base_diff, same_tokens=bool(torch.equal(produced["ref"],
                                                                                     produced["ours"])))
    return out
