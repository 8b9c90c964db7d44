"""CTranslate2 as a peer in the int8 benchmarks: the same random weights, converted from a `transformers` folder,
timed in a child process.

A child process, because CTranslate2 sets the OpenMP thread count of the process (its omp_set_num_threads calls
reach torch's OpenMP runtime), and after one of its runs at 2 threads every later torch and transformers_fast
call of the process ran as if on one core: timed beside it, the others' figures were wrong. Its figures are
therefore taken in their own block, not interleaved call by call with the others'.

Random-weight benchmark models have no tokenizer, and CTranslate2's converter reads the vocabulary from one: a
stand-in vocabulary of `<i>` tokens (id i) is given instead, so ids pass through unchanged. The converter of
CTranslate2 4.x predates transformers 5, whose BertConfig lost `position_embedding_type`: absolute positions (the
only kind BERT-base uses) are filled in when absent.
"""
from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import time


class _StandInTokenizer:
    def __init__(self, vocab_size: int):
        self.vocab_size = vocab_size
        self.bos_token = self.eos_token = self.unk_token = self.pad_token = "<0>"

    def get_vocab(self):
        return {f"<{i}>": i for i in range(self.vocab_size)}


def _in_child(fn, *args):
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def _convert(hf_folder: str, vocab_size: int, quantization: str, out: str) -> str:
    from ctranslate2.converters import TransformersConverter

    class Converter(TransformersConverter):
        def load_tokenizer(self, *args, **kwargs):
            return _StandInTokenizer(vocab_size)

        def load_model(self, *args, **kwargs):
            model = super().load_model(*args, **kwargs)
            if not hasattr(model.config, "position_embedding_type"):
                model.config.position_embedding_type = "absolute"
            return model

    import ctranslate2

    Converter(hf_folder).convert(out, quantization=quantization)
    return ctranslate2.__version__


def convert(hf_folder: str, vocab_size: int, quantization: str = "int8") -> tuple:
    """Converts the transformers checkpoint in hf_folder (BertModel or GPT2LMHeadModel) once: (the folder of the
    CTranslate2 model, with weights as `quantization` says ("int8": int8 per channel), CTranslate2's version)."""
    out = os.path.join(hf_folder, f"ctranslate2-{quantization}")
    version = _in_child(_convert, hf_folder, vocab_size, quantization, out) if not os.path.isdir(out) else None
    return out, version or _in_child(_version)


def _version() -> str:
    import ctranslate2

    return ctranslate2.__version__


def _best_ms(fn, repeats: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def _encode(folder, threads, batches, repeats, compute_type):
    import ctranslate2
    import numpy

    model = ctranslate2.Encoder(folder, device="cpu", compute_type=compute_type, intra_threads=threads,
                                inter_threads=1)
    results = []
    for rows in batches:
        ms = _best_ms(lambda: model.forward_batch(rows), repeats)
        results.append((ms, numpy.array(model.forward_batch(rows).last_hidden_state)))
    return results


def encode(folder: str, threads: int, batches, repeats: int, compute_type: str = "int8"):
    """Per batch (ids [batch, seq] LongTensor, mask [batch, seq] right-padded): (best ms of `repeats` after a
    warm-up, last hidden states [batch, seq, hidden] with zeros at padded positions). Each row is passed with its
    real tokens only (CTranslate2 handles variable lengths)."""
    import torch

    rows = [[row[:n].tolist() for row, n in zip(ids, mask.sum(1).tolist())] for ids, mask in batches]
    out = []
    for (ms, hidden), (ids, _) in zip(_in_child(_encode, folder, threads, rows, repeats, compute_type), batches):
        hidden = torch.from_numpy(hidden)  # [batch, longest real length, hidden]
        out.append((ms, torch.nn.functional.pad(hidden, (0, 0, 0, ids.shape[1] - hidden.shape[1]))))
    return out


def _generate(folder, threads, prompts, new_tokens, repeats, compute_type):
    import ctranslate2

    model = ctranslate2.Generator(folder, device="cpu", compute_type=compute_type, intra_threads=threads,
                                  inter_threads=1)
    results = []
    for rows in prompts:
        tokens = [[f"<{i}>" for i in row] for row in rows]

        def run():  # the end token may not stop a row early, as in the other libraries' timed runs
            return model.generate_batch(tokens, max_length=new_tokens, min_length=new_tokens, sampling_topk=1,
                                        include_prompt_in_result=False, beam_size=1)

        ms = _best_ms(run, repeats)
        results.append((ms, [r.sequences_ids[0] for r in run()]))
    return results


def greedy(folder: str, threads: int, prompts, new_tokens: int, repeats: int, compute_type: str = "int8"):
    """Per prompt batch ([batch, len] LongTensor): (best ms of `repeats` greedy generations of exactly
    `new_tokens` tokens, the new tokens [batch, new_tokens])."""
    import torch

    rows = [p.tolist() for p in prompts]
    return [(ms, torch.tensor(tokens))
            for ms, tokens in _in_child(_generate, folder, threads, rows, new_tokens, repeats, compute_type)]
