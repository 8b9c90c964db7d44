"""bfloat16 inference: every family's fast path in bf16 against the fp32 reference, with an error at most twice
that of the reference library run in bf16 (`model.to(torch.bfloat16)`), padded batches included; real MiniLM
sentence embeddings and their retrieval ranking; GPT-2 greedy generation."""
from __future__ import annotations

import copy

import pytest
import torch

import transformers_fast as tf
from transformers_fast.ops import packed_linear
from modeling_helpers import hf_model, inputs, quiet_transformers, randomize_all

BF16 = torch.bfloat16


@pytest.fixture
def gemm_dtypes(monkeypatch):
    """The dtypes of the inputs the prepacked GEMMs ran on (the fast paths' projections)."""
    seen = []
    run = packed_linear._run
    monkeypatch.setattr(packed_linear, "_run", lambda name, x, layer: seen.append(x.dtype) or run(name, x, layer))
    return seen


def _encoder_case(family, class_name):
    ref = hf_model(family, class_name)
    randomize_all(ref)
    ids, mask, types = inputs(family, batch=5, seq=24)
    kwargs = dict(attention_mask=mask)
    if types is not None:
        kwargs["token_type_ids"] = types
    return ref, (ids,), kwargs, mask.bool()


def _gpt_case(family, class_name):
    import transformers
    from gpt_helpers import HF_CLASSES, TINY_GPT, left_padded

    quiet_transformers()
    config = dict(TINY_GPT)
    config.pop("n_ctx")
    torch.manual_seed(0)
    ref = getattr(transformers, class_name)(getattr(transformers, HF_CLASSES[family][0])(
        **config, attn_implementation="eager")).eval()
    randomize_all(ref)
    g = torch.Generator().manual_seed(1)
    ids, mask, positions = left_padded(torch.randint(0, 99, (4, 20), generator=g), [20, 14, 9, 17])
    return ref, (ids,), dict(attention_mask=mask, position_ids=positions), mask.bool()


def _xlnet_case():
    from test_modeling_xlnet import batch, reference

    ref = reference("hf", "XLNetLMHeadModel")
    ids, mask, types = batch(seq=20)
    return ref, (ids,), dict(attention_mask=mask, token_type_ids=types, use_mems=False), mask.bool()


def _xlm_case():
    from test_modeling_xlm import batch, reference

    ref = reference("hf", "XLMWithLMHeadModel")
    ids, mask, lengths, langs = batch(seq=20)
    return ref, (ids,), dict(attention_mask=mask, langs=langs), mask.bool()


def _transfo_xl_case():
    """1.2.0's model (transformers has no Transformer-XL): adaptive softmax, memories from a first segment."""
    from test_modeling_transfo_xl import pt_transfo_xl, segments

    ref = pt_transfo_xl("div_val2")
    first, second = segments(batch=3, seq=7, n=2)
    with torch.no_grad():
        mems = ref(first)[1]
    return ref, (second,), dict(mems=mems), torch.ones(3, 7, dtype=torch.bool)


CASES = {
    "bert": lambda: _encoder_case("bert", "BertModel"),
    "roberta": lambda: _encoder_case("roberta", "RobertaForSequenceClassification"),
    "distilbert": lambda: _encoder_case("distilbert", "DistilBertModel"),
    "gpt2": lambda: _gpt_case("gpt2", "GPT2LMHeadModel"),
    "openai": lambda: _gpt_case("openai", "OpenAIGPTLMHeadModel"),
    "xlnet": _xlnet_case,
    "xlm": _xlm_case,
    "transfo_xl": _transfo_xl_case,
}


def _ours(ref, tmp_path):
    """Our model of ref's class: sharing nothing with ref (converting ref to bf16 must not convert ours)."""
    if type(ref).__module__.startswith("pytorch_transformers"):
        ref.save_pretrained(str(tmp_path))
        return getattr(tf, type(ref).__name__).from_pretrained(str(tmp_path)).eval()
    return copy.deepcopy(tf.from_transformers(ref)).eval()


def _bf16(value):
    """A model's inputs in bf16 where they are floating point (memories)."""
    if isinstance(value, (list, tuple)):
        return type(value)(_bf16(v) for v in value)
    return value.to(BF16) if isinstance(value, torch.Tensor) and value.is_floating_point() else value


def _first(out):
    return (out[0] if isinstance(out, (tuple, list)) else out.to_tuple()[0]).float()


def _error(got, want, real):
    if got.dim() >= 2 and got.shape[:2] == real.shape:
        got, want = got[real], want[real]
    return (got - want).abs().max().item()


@pytest.mark.parametrize("family", sorted(CASES))
@torch.no_grad()
def test_bf16_fast_path_within_twice_the_references_bf16_error(family, gemm_dtypes, tmp_path):
    ref, args, kwargs, real = CASES[family]()
    ours = _ours(ref, tmp_path)
    want = _first(ref(*args, **kwargs))
    kwargs = {k: _bf16(v) for k, v in kwargs.items()}
    reference_error = _error(_first(ref.to(BF16)(*args, **kwargs)), want, real)
    ours = ours.to(BF16)
    gemm_dtypes.clear()
    got = _first(ours(*args, **kwargs))
    assert got.numel() == want.numel()
    assert BF16 in gemm_dtypes, "the bf16 model did not run the prepacked bf16 GEMMs"
    our_error = _error(got.view(want.shape), want, real)  # XLM's LM head gives [batch * seq, vocab], as 1.2.0
    assert our_error <= 2 * reference_error, (our_error, reference_error)


@torch.no_grad()
def test_from_pretrained_torch_dtype_gives_a_bf16_fast_model(tmp_path, gemm_dtypes):
    ref, args, kwargs, real = _encoder_case("bert", "BertModel")
    ref.save_pretrained(str(tmp_path))
    for key in ("torch_dtype", "dtype"):
        ours = tf.BertModel.from_pretrained(str(tmp_path), **{key: BF16})
        assert all(p.dtype is BF16 for p in ours.parameters())
        gemm_dtypes.clear()
        out = ours(*args, **kwargs)[0]
        assert out.dtype is BF16 and set(gemm_dtypes) == {BF16}


SENTENCES = [
    "A man is playing a guitar on stage.",
    "Someone performs music with a guitar.",
    "The stock market fell sharply on Monday.",
    "Shares dropped at the start of the week.",
    "A child is reading a book in the library.",
    "The recipe calls for two cups of flour.",
    "Heavy rain is expected over the weekend.",
    "The weather forecast predicts storms on Saturday.",
]
QUERIES = ["who is making music?", "financial news about stocks", "what will the weather be like"]


def _minilm():
    from test_modeling_real_weights import minilm_dir

    import transformers

    quiet_transformers()
    path = minilm_dir()
    return path, transformers.AutoTokenizer.from_pretrained(path)


def _embed(model, tokenizer, texts):
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    hidden = model(batch["input_ids"], attention_mask=batch["attention_mask"])[0].float()
    mask = batch["attention_mask"].unsqueeze(-1).float()
    return torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)


@torch.no_grad()
def test_minilm_bf16_embeddings_and_retrieval_ranking():
    path, tokenizer = _minilm()
    fp32 = tf.BertModel.from_pretrained(path).eval()
    bf16 = tf.BertModel.from_pretrained(path, torch_dtype=BF16).eval()
    texts = SENTENCES + QUERIES
    a, b = _embed(fp32, tokenizer, texts), _embed(bf16, tokenizer, texts)
    cosine = (a * b).sum(-1)
    assert cosine.min().item() >= 0.999, cosine
    docs = len(SENTENCES)
    rank_fp32 = (a[docs:] @ a[:docs].t()).argsort(dim=-1, descending=True)
    rank_bf16 = (b[docs:] @ b[:docs].t()).argsort(dim=-1, descending=True)
    assert torch.equal(rank_fp32[:, :3], rank_bf16[:, :3])


@torch.no_grad()
def test_gpt2_bf16_greedy_generation_keeps_the_cache_in_bf16(capsys):
    ref, _, _, _ = _gpt_case("gpt2", "GPT2LMHeadModel")
    fp32 = copy.deepcopy(tf.from_transformers(ref)).eval()
    bf16 = copy.deepcopy(fp32).to(BF16)
    cache = bf16.fast.new_cache(1, 4)
    assert cache.kv[0].dtype is BF16
    g = torch.Generator().manual_seed(5)
    prompt = torch.randint(0, 99, (2, 8), generator=g)
    new = 32
    want = fp32.generate(prompt, max_length=8 + new, do_sample=False)[:, 8:]
    got = bf16.generate(prompt, max_length=8 + new, do_sample=False)[:, 8:]
    # bf16 greedy decoding equals the reference's own bf16 decoding (the same rounding of the same logits
    # decides ties) on most tokens; against fp32 it is reported.
    same = (got == want).float().mean().item()
    with capsys.disabled():
        print(f"\nGPT-2 tiny greedy, bf16 vs fp32: {same:.0%} of the first {new} tokens equal")
    assert got.shape == want.shape and got[:, 0].tolist() == want[:, 0].tolist()
