"""CTranslate2 as a peer in the int8 benchmarks: the same random weights, converted from a `transformers` folder.

Random-weight benchmark models have no tokenizer, and CTranslate2's converter reads the vocabulary from one: a
stand-in vocabulary of `<i>` tokens (id i) is given instead, so ids pass through unchanged. The converter of
CTranslate2 4.x predates transformers 5, whose BertConfig lost `position_embedding_type`: absolute positions (the
only kind BERT-base uses) are filled in when absent.
"""
from __future__ import annotations

import os


class _StandInTokenizer:
    def __init__(self, vocab_size: int):
        self.vocab_size = vocab_size
        self.bos_token = self.eos_token = self.unk_token = self.pad_token = "<0>"

    def get_vocab(self):
        return {f"<{i}>": i for i in range(self.vocab_size)}


def convert(hf_folder: str, vocab_size: int, quantization: str = "int8") -> str:
    """Converts the transformers checkpoint in hf_folder (BertModel or GPT2LMHeadModel) once; returns the folder
    of the CTranslate2 model (weights quantized as `quantization` says: "int8" = int8 weights per channel)."""
    from ctranslate2.converters import TransformersConverter

    class Converter(TransformersConverter):
        def load_tokenizer(self, *args, **kwargs):
            return _StandInTokenizer(vocab_size)

        def load_model(self, *args, **kwargs):
            model = super().load_model(*args, **kwargs)
            if not hasattr(model.config, "position_embedding_type"):
                model.config.position_embedding_type = "absolute"
            return model

    out = os.path.join(hf_folder, f"ctranslate2-{quantization}")
    if not os.path.isdir(out):
        Converter(hf_folder).convert(out, quantization=quantization)
    return out


def version() -> str:
    import ctranslate2

    return ctranslate2.__version__


def encoder(folder: str, threads: int, compute_type: str = "int8"):
    """forward(ids [batch, seq] LongTensor, mask [batch, seq], right-padded) -> last hidden states [batch, longest
    real length, hidden]; rows are passed with their real tokens only (CTranslate2 handles variable lengths)."""
    import ctranslate2
    import numpy
    import torch

    model = ctranslate2.Encoder(folder, device="cpu", compute_type=compute_type, intra_threads=threads,
                                inter_threads=1)

    def forward(ids, mask):
        lengths = mask.sum(1).tolist()
        rows = [row[:n].tolist() for row, n in zip(ids, lengths)]
        return torch.from_numpy(numpy.array(model.forward_batch(rows).last_hidden_state))

    return forward


def generator(folder: str, threads: int, compute_type: str = "int8"):
    """greedy(prompts [batch, len] LongTensor, new_tokens) -> the new token ids [batch, new_tokens] (exactly that
    many: the end token is not allowed to stop a row early, as in the other libraries' timed runs)."""
    import ctranslate2
    import torch

    model = ctranslate2.Generator(folder, device="cpu", compute_type=compute_type, intra_threads=threads,
                                  inter_threads=1)

    def greedy(prompts, new_tokens: int):
        tokens = [[f"<{i}>" for i in row] for row in prompts.tolist()]
        results = model.generate_batch(tokens, max_length=new_tokens, min_length=new_tokens, sampling_topk=1,
                                       include_prompt_in_result=False, beam_size=1)
        return torch.tensor([r.sequences_ids[0] for r in results])

    return greedy
