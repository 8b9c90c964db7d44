"""The models' fast paths on CUDA, end to end on tiny configs: BERT's padding-free encoder on a padded batch, GPT-2
generation with the KV cache, XLNet and Transformer-XL with memories. Without a GPU through the emulation
(ops._backend.emulate_cuda: host tensors stand in for CUDA tensors, the runtimes take their CUDA paths and the
CUDA kernels run as _cuda_emu); on the GPU itself where there is one.

Accuracy against each model's own reference path (fast path off): float32 within 1e-4 of it (relative to its
largest value); float16/bfloat16 error against the float64 reference at most 2x the reference path's own error
in that dtype (with a floor of one unit in the last place of the largest value)."""
import contextlib
import copy

import pytest
import torch

import transformers_fast as tf
from gpt_helpers import TINY_GPT, ids as gpt_ids, left_padded
from modeling_helpers import TINY, inputs, randomize_all
from test_cuda_kernels import BACKENDS, Recorder, _gpu_module
from transformers_fast import _cuda_emu
from transformers_fast.ops import _backend as B

LOW = [torch.float16, torch.bfloat16]


class Cuda:
    """Where a test runs the fast path: `device` for the model and inputs, `kernels()` around the fast calls,
    `calls` the kernels they made."""

    def __init__(self, backend, monkeypatch):
        self.backend = backend
        self.device = "cpu" if backend == "emu" else "cuda"
        self.recorder = Recorder(_cuda_emu if backend == "emu" else _gpu_module())
        if backend == "gpu":
            monkeypatch.setattr(B, "_cuda_state", [self.recorder])
        self.calls = self.recorder.calls

    def kernels(self):
        return B.emulate_cuda(self.recorder) if self.backend == "emu" else contextlib.nullcontext()

    def ours(self, op, dtype):
        """Whether ops.attention runs our kernel here (on a GPU, 16-bit prefill may run torch's)."""
        return op != "attention" or self.backend == "emu" or dtype == torch.float32


@pytest.fixture(params=BACKENDS)
def cuda(request, monkeypatch):
    return Cuda(request.param, monkeypatch)


def moved(model, cuda, dtype):
    return copy.deepcopy(model).to(device=cuda.device, dtype=dtype)


def host(t):
    return t.detach().cpu()


def check(ours, want64, theirs, dtype):
    """ours (dtype) against the float64 reference; theirs: the reference path's result in dtype."""
    ours, want64 = host(ours).double(), host(want64).double()
    scale = max(1.0, want64.abs().max().item())
    err = (ours - want64).abs().max().item()
    if dtype == torch.float32:
        assert err <= 1e-4 * scale, f"float32: error {err:.3g}"
        return
    yardstick = max((host(theirs).double() - want64).abs().max().item(), torch.finfo(dtype).eps * scale)
    assert err <= 2 * yardstick, f"{dtype}: error {err:.3g} vs the reference path's {yardstick / 2:.3g}"


def reference_outputs(model, run, dtype, device):
    """run(model) on the reference path in float64 (the yardstick) and in dtype on `device` (its own error)."""
    ref = copy.deepcopy(model).to(device=device, dtype=torch.float64)
    low = copy.deepcopy(model).to(device=device, dtype=dtype)
    for m in (ref, low):
        for sub in m.modules():
            if hasattr(sub, "fast") and hasattr(sub.fast, "enabled"):
                sub.fast.enabled = False
    with torch.no_grad():
        return run(ref), run(low)


def _bert_on_a_padded_batch(cls, cuda, dtype, **config):
    """A tiny random BERT model of class `cls` run on a batch padded on the right and (row 2) the left: (its first
    two outputs on the fast path, in float64 on the reference path, in dtype on the reference path, the mask)."""
    torch.manual_seed(0)
    model = cls(tf.BertConfig(**{**TINY["bert"], **config})).eval()
    randomize_all(model)
    ids, mask, tt = inputs("bert", batch=3, seq=9)
    mask[2, :2] = 0  # left padding too: the pooler reads a padded position 0 (an extra query row)
    ids, mask, tt = (t.to(cuda.device) for t in (ids, mask, tt))

    def run(m):
        out = m(ids, attention_mask=mask, token_type_ids=tt)
        return out[0], out[1]

    want, theirs = reference_outputs(model, run, dtype, cuda.device)
    fast = moved(model, cuda, dtype)
    with torch.no_grad(), cuda.kernels():
        ours = run(fast)
    return ours, want, theirs, mask


@pytest.mark.parametrize("dtype", [torch.float32] + LOW, ids=str)
def test_bert_padded_batch(cuda, dtype):
    ours, want, theirs, mask = _bert_on_a_padded_batch(tf.BertModel, cuda, dtype)
    real = host(mask).bool()
    check(host(ours[0])[real], want[0][real], host(theirs[0])[real], dtype)
    check(ours[1], want[1], theirs[1], dtype)
    skipped = ~real
    skipped[:, 0] = False  # (position 0 is computed: the pooler reads it)
    assert host(ours[0])[skipped].abs().max() == 0  # the padding-free path ran: padded positions are not computed
    assert cuda.calls.get("add_layer_norm", 0) >= 4
    if cuda.ours("attention", dtype):
        assert cuda.calls.get("attention", 0) == 2 * 2  # per layer: the packed tokens, the extra row


@pytest.mark.parametrize("dtype", [torch.float32] + LOW, ids=str)
def test_bert_question_answering_on_a_padded_batch_scores_every_position(cuda, dtype):
    """Heads that score every position run a padded batch unpacked, padded keys masked: reference values at
    every position, through the CUDA kernels."""
    ours, want, theirs, _ = _bert_on_a_padded_batch(tf.BertForQuestionAnswering, cuda, dtype, num_labels=2)
    for got, expected, reference in zip(ours, want, theirs):
        check(got, expected, reference, dtype)  # every position, padded ones included
    assert cuda.calls.get("add_layer_norm", 0) >= 4
    if cuda.ours("attention", dtype):
        assert cuda.calls.get("attention", 0) == 2  # per layer: one call over the padded batch


def gpt2(seed=0):
    config = dict(TINY_GPT)
    config.pop("num_labels")
    torch.manual_seed(seed)
    model = tf.GPT2LMHeadModel(tf.GPT2Config(**config)).eval()
    randomize_all(model, scale=0.3)  # logits far apart: greedy choices are not near ties
    return model


def test_gpt2_greedy_generation_with_the_kv_cache(cuda):
    """Left-padded prompts of two lengths: each row's greedy tokens are those it gives alone on the reference
    path (one full forward per token, no cache)."""
    model = gpt2()
    prompts = gpt_ids(2, 7)
    ids, mask, _ = left_padded(prompts, [7, 4])
    new = 6
    plain = copy.deepcopy(model)
    plain.fast.enabled = plain.transformer.fast.enabled = False
    want = []
    with torch.no_grad():
        for row in (prompts[0], prompts[1, 3:]):
            x = row[None]
            for _ in range(new):
                x = torch.cat([x, plain(x)[0][:, -1].argmax(-1, keepdim=True)], 1)
            want.append(x[0, -new:])
    fast = moved(model, cuda, torch.float32)
    with torch.no_grad(), cuda.kernels():
        out = fast.generate(ids.to(cuda.device), attention_mask=mask.to(cuda.device), max_new_tokens=new)
    assert torch.equal(host(out[:, -new:]), torch.stack(want))
    layers = TINY_GPT["n_layer"]
    assert cuda.calls.get("attention", 0) == layers * new  # the prompt (one packed call per layer), the steps
    assert cuda.calls.get("add_layer_norm", 0) > 0


@pytest.mark.parametrize("dtype", [torch.float32] + LOW, ids=str)
def test_gpt2_prefill_and_decode_logits(cuda, dtype):
    """The logits of the prefill and of each decode step over the KV cache (teacher-forced tokens) against the
    reference path's full forward at the same positions."""
    model = gpt2(seed=1)
    tokens = gpt_ids(2, 10, seed=4).to(cuda.device)
    prompt = 6

    def run(m):
        return m(tokens)[0][:, prompt - 1:]

    want, theirs = reference_outputs(model, run, dtype, cuda.device)
    fast = moved(model, cuda, dtype)
    with torch.no_grad(), cuda.kernels():
        cache = fast.fast.new_cache(2, tokens.shape[1])
        positions = torch.arange(prompt, device=cuda.device).expand(2, prompt)
        logits = [fast.fast.prefill(tokens[:, :prompt], positions, None, cache)]
        for t in range(prompt, tokens.shape[1]):
            logits.append(fast.fast.step(tokens[:, t], torch.full((2,), t, device=cuda.device), cache))
    check(torch.stack([host(x) for x in logits], 1), want, theirs, dtype)
    if cuda.ours("attention", torch.float32):  # the decode steps run ours in every dtype
        assert cuda.calls.get("attention", 0) >= TINY_GPT["n_layer"] * (tokens.shape[1] - prompt)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_xlnet_with_padding_segments_and_memory(cuda, dtype):
    torch.manual_seed(0)
    model = tf.XLNetLMHeadModel(tf.XLNetConfig(50, d_model=32, n_layer=2, n_head=4, d_inner=37, mem_len=5)).eval()
    randomize_all(model)
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 50, (2, 9), generator=g).to(cuda.device)
    mask = torch.ones(2, 9, device=cuda.device)
    mask[1, :3] = 0
    types = (torch.arange(9) >= 4).long().expand(2, 9).to(cuda.device)

    def run(m):
        first = m(ids, attention_mask=mask.to(m.lm_loss.weight.dtype), token_type_ids=types)
        return first[0], m(ids[:, :4], mems=first[1], token_type_ids=types[:, :4])[0]

    want, theirs = reference_outputs(model, run, dtype, cuda.device)
    fast = moved(model, cuda, dtype)
    with torch.no_grad(), cuda.kernels():
        ours = run(fast)
    for o, w, t in zip(ours, want, theirs):
        check(o, w, t, dtype)
    assert cuda.calls.get("relative_attention", 0) == 2 * 2


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_transfo_xl_with_memory_and_generation(cuda, dtype):
    config = dict(cutoffs=[10, 30], d_model=32, d_embed=32, n_head=4, d_head=8, d_inner=48, div_val=2, n_layer=2,
                  tgt_len=7, mem_len=5, clamp_len=6, same_length=True)
    torch.manual_seed(0)
    model = tf.TransfoXLLMHeadModel(tf.TransfoXLConfig(50, **config)).eval()
    randomize_all(model, scale=0.05)
    ids = torch.randint(0, 50, (2, 7), generator=torch.Generator().manual_seed(2)).to(cuda.device)

    def run(m):
        first = m(ids)
        return first[0], m(ids[:, :3], mems=first[1])[0]

    want, theirs = reference_outputs(model, run, dtype, cuda.device)
    fast = moved(model, cuda, dtype)
    with torch.no_grad(), cuda.kernels():
        ours = run(fast)
        if dtype == torch.float32:
            generated = fast.generate(ids[:1], max_new_tokens=4)
    for o, w, t in zip(ours, want, theirs):
        check(o, w, t, dtype)
    assert cuda.calls.get("relative_attention", 0) >= 2 * 2
    if dtype == torch.float32:  # greedy with memories: the reference's tokens, one full forward per token
        plain = copy.deepcopy(model)
        plain.fast.enabled = plain.transformer.fast.enabled = False
        x, mems = ids[:1].cpu(), None
        with torch.no_grad():
            for _ in range(4):
                out = plain(x if mems is None else x[:, -1:], mems=mems)
                mems = out[1]
                x = torch.cat([x, out[0][:, -1].argmax(-1, keepdim=True)], 1)
        assert torch.equal(host(generated), x)


def test_runtimes_take_the_cpu_path_outside_the_emulation():
    """Without emulate_cuda (and no GPU), host tensors never reach a CUDA kernel module; inside it, the fast
    paths accept float16 models, which the CPU fast paths leave to the reference path."""
    from transformers_fast.runtime.fast_path import fast_tensor

    half = torch.zeros(2, dtype=torch.float16)
    assert not fast_tensor(half) and fast_tensor(torch.zeros(2))
    assert B.use_cuda_kernel("gelu", half) is None
    with B.emulate_cuda() as mod:
        assert fast_tensor(half) and B.use_cuda_kernel("gelu", half) is mod and B.on_cuda(half)
    assert not B.on_cuda(half)
