"""bfloat16 and int8 on every head class of every family (test_low_precision.py and test_quantization*.py take one
class per family): tiny random checkpoints saved by the references (transformers; pytorch-transformers 1.2.0 for
Transformer-XL), padded batches (XLNet, XLM and Transformer-XL with their own inputs: token types, languages,
memories). bf16: every output of the tuple, hidden states and attentions included, within twice the error of the
reference run in bf16, in its dtypes, for each way of asking for bf16. int8: every head class quantized agrees with
the fp32 reference, and its save_pretrained folder and from_pretrained(quantize=...) give the same model."""
from __future__ import annotations

import copy

import pytest
import torch

import transformers_fast as tf
from bf16_helpers import BF16, assert_outputs_bf16_close
from modeling_helpers import HEAD_CLASSES as CLASSES, hf_model, quiet_transformers, randomize_all

ALL = [(family, name) for family, names in CLASSES.items() for name in names]
BATCH, SEQ = 24, 12  # enough values per sequence-level output (logits of a few classes) for a stable mean error
LENGTHS = [SEQ, SEQ - 3, SEQ - 5, SEQ - 1, 2, SEQ - 7]


def _padded(vocab_low, vocab_high, pad, left=False, batch=BATCH, seed=1):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(vocab_low, vocab_high, (batch, SEQ), generator=g)
    mask = torch.zeros(batch, SEQ, dtype=torch.long)
    for row in range(batch):
        n = LENGTHS[row % len(LENGTHS)]
        if left:
            mask[row, SEQ - n:] = 1
        else:
            mask[row, :n] = 1
    return ids.masked_fill(mask == 0, pad), mask


def case(family, name):
    """(reference model, args, kwargs, real-token mask [batch, (choices,) seq] or None)."""
    if family in ("bert", "roberta", "distilbert"):
        ref = hf_model(family, name)
        randomize_all(ref)
        ids, mask = _padded(3, 99, {"roberta": 1}.get(family, 0))
        kwargs = dict(attention_mask=mask)
        if family == "bert":
            kwargs["token_type_ids"] = (torch.arange(SEQ) >= SEQ // 2).long().expand(BATCH, SEQ) * mask
        if name.endswith("MultipleChoice"):
            shape = (BATCH // 3, 3, SEQ)
            return ref, (ids.view(shape),), {k: v.view(shape) for k, v in kwargs.items()}, mask.bool().view(shape)
        return ref, (ids,), kwargs, mask.bool()
    if family in ("openai", "gpt2"):
        from gpt_helpers import hf_gpt

        ref = hf_gpt(family, name)
        randomize_all(ref)
        if name.endswith("DoubleHeadsModel"):  # right padding (transformers takes no [batch, choices, seq] positions)
            ids, mask = _padded(0, 99, 0, batch=BATCH // 2)
            choices = lambda t: torch.stack([t, t.flip(0)], 1)  # noqa: E731
            last = mask.sum(1) - 1
            kwargs = dict(mc_token_ids=choices(last))
            if family == "gpt2":  # (transformers' OpenAI GPT does not flatten a [batch, choices, seq] mask)
                kwargs["attention_mask"] = choices(mask)
            return ref, (choices(ids),), kwargs, choices(mask).bool() if family == "gpt2" else None
        ids, mask = _padded(0, 99, 0, left=True)
        positions = (mask.cumsum(1) - 1).clamp(min=0)
        return ref, (ids,), dict(attention_mask=mask, position_ids=positions), mask.bool()
    if family == "xlnet":
        from test_modeling_xlnet import reference

        ref = reference("hf", name, mem_len=6)
        ids, mask = _padded(5, 99, 5, left=True)
        types = (torch.arange(SEQ) >= SEQ // 2).long().expand(BATCH, SEQ)
        return ref, (ids,), dict(attention_mask=mask.float(), token_type_ids=types), mask.bool()
    if family == "xlm":
        from test_modeling_xlm import PAD, reference

        ref = reference("hf", name)
        ids, mask = _padded(5, 99, PAD)
        langs = torch.randint(0, 3, ids.shape, generator=torch.Generator().manual_seed(4))
        return ref, (ids,), dict(attention_mask=mask, langs=langs), mask.bool()
    from test_modeling_transfo_xl import pt_transfo_xl, segments

    ref = pt_transfo_xl("div_val2", class_name=name)
    first, second = segments(batch=4, seq=7, n=2)
    with torch.no_grad():
        mems = ref(first)[1]
    return ref, (second,), dict(mems=mems), None


def _bf16(value):
    if isinstance(value, (list, tuple)):
        return type(value)(_bf16(v) for v in value)
    return value.to(BF16) if isinstance(value, torch.Tensor) and value.is_floating_point() else value


def named(out):
    """A reference's outputs by name (transformers: its fields, a Cache as 1.2.0's presents) or by position
    (1.2.0's tuples)."""
    if not hasattr(out, "keys"):
        return dict(enumerate(out))
    found = {}
    for key in out.keys():
        value = out[key]
        if hasattr(value, "layers"):
            value = tuple(torch.stack((layer.keys, layer.values)) for layer in value.layers)
        if key != "cross_attentions":
            found["past_key_values" if key == "cache" else key] = value
    return found


def ours_named(out, by_position):
    return dict(enumerate(out)) if by_position else dict(out.items())


def run(model, args, kwargs, **extra):
    with torch.no_grad():
        return model(*args, **kwargs, **extra)


def _agreeing_rows(got, theirs, want):
    """QA beam outputs: the rows whose start_top_index is fp32's in both bf16 runs (elsewhere a near-tie picked
    another start, and the end candidates belong to that start)."""
    return (got == want).all(-1) & (theirs == want).all(-1)


def compare_bf16(got, theirs, want, real):
    assert set(theirs) <= set(got), f"outputs {sorted(map(str, got))}, the reference has {sorted(map(str, theirs))}"
    rows = None
    if "start_top_index" in want:
        rows = _agreeing_rows(got["start_top_index"], theirs["start_top_index"], want["start_top_index"])
        assert rows.float().mean() >= 0.5
    for key in theirs:
        g, t, w = got[key], theirs[key], want[key]
        if rows is not None and key in ("end_top_log_probs", "end_top_index"):
            g, t, w = g.reshape(w.shape)[rows], t[rows], w[rows]
        assert_outputs_bf16_close(g, t, w, real, path=str(key))


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """(family, class) -> (reference, args, kwargs, real, folder it saved with save_pretrained)."""
    cache = {}

    def get(family, name):
        if (family, name) not in cache:
            ref, args, kwargs, real = case(family, name)
            folder = str(tmp_path_factory.mktemp(name))
            ref.save_pretrained(folder)
            cache[family, name] = ref, args, kwargs, real, folder
        return cache[family, name]

    quiet_transformers()
    return get


WAYS = {
    "torch_dtype": lambda cls, folder, bf16_folder: cls.from_pretrained(folder, torch_dtype=BF16),
    "dtype_name": lambda cls, folder, bf16_folder: cls.from_pretrained(folder, dtype="bfloat16"),
    "auto": lambda cls, folder, bf16_folder: cls.from_pretrained(bf16_folder, dtype="auto"),
    "to": lambda cls, folder, bf16_folder: cls.from_pretrained(folder).to(BF16),
}


@pytest.mark.parametrize("family,name", ALL)
@pytest.mark.parametrize("outputs", ["plain", "hidden_states", "attentions"])
def test_bf16_every_output_within_twice_the_references_bf16_error(family, name, outputs, saved, tmp_path):
    ref, args, kwargs, real, folder = saved(family, name)
    by_position = type(ref).__module__.startswith("pytorch_transformers")
    extra = {}
    if outputs != "plain":
        flags = dict(output_hidden_states=True, output_attentions=outputs == "attentions")
        if by_position:  # 1.2.0 reads them from the config only (as ours does for Transformer-XL)
            ref = copy.deepcopy(ref)
            for module in ref.modules():
                for flag, value in flags.items():
                    if hasattr(module, flag):
                        setattr(module, flag, value)
            for flag, value in flags.items():
                setattr(ref.config, flag, value)
            (tmp_path / "flags").mkdir()
            ref.save_pretrained(str(tmp_path / "flags"))
            folder = str(tmp_path / "flags")
        else:
            extra = flags
    want = named(run(ref, args, kwargs, **extra))
    reference_bf16 = copy.deepcopy(ref).to(BF16)
    kwargs = {k: _bf16(v) for k, v in kwargs.items()}
    theirs = named(run(reference_bf16, args, kwargs, **extra))
    (tmp_path / "bf16").mkdir()  # (1.2.0 saves into an existing folder only)
    reference_bf16.save_pretrained(str(tmp_path / "bf16"))
    cls = getattr(tf, name)
    first = None
    for way, load in WAYS.items():
        model = load(cls, folder, str(tmp_path / "bf16")).eval()
        assert {p.dtype for p in model.parameters()} == {BF16}, way
        got = ours_named(run(model, args, kwargs, **extra), by_position)
        if first is None:
            compare_bf16(got, theirs, want, real)
            first = got
        else:  # the same bf16 weights, the same outputs
            assert got.keys() == first.keys()
            for key in got:
                assert all(torch.equal(a, b) for a, b in zip(_flat(got[key]), _flat(first[key]))), (way, key)


LABELLED = [("bert", "BertForMaskedLM"), ("roberta", "RobertaForMaskedLM"), ("distilbert", "DistilBertForMaskedLM"),
            ("openai", "OpenAIGPTLMHeadModel"), ("gpt2", "GPT2LMHeadModel"), ("xlm", "XLMWithLMHeadModel")]


@pytest.mark.parametrize("family,name", LABELLED)
def test_bf16_lm_loss_in_the_references_dtype(family, name, saved):
    """With labels, the loss of a bf16 model has the reference's dtype (transformers computes a causal LM's loss from
    float32 logits, a masked LM's in bf16) and is within twice the reference's bf16 error."""
    ref, args, kwargs, real, folder = saved(family, name)
    labels = args[0].masked_fill(~real, -100)
    want = run(ref, args, kwargs, labels=labels)[0]
    theirs = run(copy.deepcopy(ref).to(BF16), args, {k: _bf16(v) for k, v in kwargs.items()}, labels=labels)[0]
    got = run(getattr(tf, name).from_pretrained(folder, torch_dtype=BF16).eval(), args,
              {k: _bf16(v) for k, v in kwargs.items()}, labels=labels)[0]
    assert got.dtype == theirs.dtype
    assert (got.float() - want).abs() <= 2 * (theirs.float() - want).abs() + 1e-3


def _flat(x):
    if x is None or isinstance(x, torch.Tensor):
        return [x] if x is not None else []
    return [y for item in x for y in _flat(item)]


@pytest.mark.parametrize("family,name", [("xlnet", "XLNetForQuestionAnswering"), ("xlm", "XLMForQuestionAnswering")])
@pytest.mark.parametrize("mask_dtype", [torch.float32, torch.long, torch.bool], ids=str)
def test_bf16_question_answering_takes_p_mask_of_any_dtype(family, name, mask_dtype, saved):
    """p_mask as a tokenizer gives it (float32 or integer 0/1) to a bf16 model: what the mask in bf16 gives, as the
    reference computes it (which itself fails on a mask of another dtype than the model's)."""
    ref, args, kwargs, real, folder = saved(family, name)
    p_mask = torch.zeros(args[0].shape)
    p_mask[:, :2] = 1.0
    p_mask[1, 5] = 1.0
    want = named(run(ref, args, kwargs, p_mask=p_mask))
    bf16_kwargs = {k: _bf16(v) for k, v in kwargs.items()}
    theirs = named(run(copy.deepcopy(ref).to(BF16), args, bf16_kwargs, p_mask=p_mask.to(BF16)))
    model = getattr(tf, name).from_pretrained(folder, torch_dtype=BF16)
    got = ours_named(run(model, args, bf16_kwargs, p_mask=p_mask.to(mask_dtype)), False)
    compare_bf16(got, theirs, want, real)
    assert not bool((got["start_top_index"] < 2).any())  # masked positions are never candidates
    same = ours_named(run(model, args, bf16_kwargs, p_mask=p_mask.to(BF16)), False)
    assert all(torch.equal(a, b) for a, b in zip(_flat(tuple(got.values())), _flat(tuple(same.values()))))


# ---- int8 -----------------------------------------------------------------------------------------------------

SCORES = ("logits", "prediction_logits", "start_logits", "cls_logits", "last_hidden_state", 0)


def _scores(out):
    key = next(k for k in SCORES if k in out)
    value = out[key]
    return key, value[0] if isinstance(value, (tuple, list)) else value


def assert_int8_agrees(got, want, real, classes=True):
    """int8 scores against fp32's on real positions: close (int8 rounding, a few percent of the largest), and (for
    logits over classes or a vocabulary) the same top-1 wherever fp32's top two are more than that apart."""
    got = got.reshape(want.shape)
    if real is not None and want.shape[:real.dim()] == real.shape:
        got, want = got[real], want[real]
    scale = want.abs().max().item()
    diff = (got - want).abs().max().item()
    assert diff <= 0.03 * scale, f"max |int8 - fp32| {diff:.3g} of max |fp32| {scale:.3g}"
    if classes and want.dim() >= 2:
        top2 = want.topk(2, dim=-1).values
        clear = (top2[..., 0] - top2[..., 1]) > 2 * 0.03 * scale
        assert torch.equal(got.argmax(-1)[clear], want.argmax(-1)[clear])
        assert (got.argmax(-1) == want.argmax(-1)).float().mean() >= 0.9


OPTIONS = [{}, {"embeddings": True}, {"lm_head": True, "embeddings": True}]


@pytest.mark.parametrize("family,name", ALL)
@pytest.mark.parametrize("options", OPTIONS, ids=["default", "int8_tables", "int8_head_and_tables"])
def test_int8_every_head_class(family, name, options, saved, tmp_path):
    ref, args, kwargs, real, folder = saved(family, name)
    by_position = type(ref).__module__.startswith("pytorch_transformers")
    cls = getattr(tf, name)
    float_model = cls.from_pretrained(folder).eval()
    if options.get("lm_head") and float_model.get_output_embeddings() is None and name != "TransfoXLLMHeadModel":
        with pytest.raises(ValueError, match="lm_head=True but .* no output projection"):
            tf.quantize(float_model, "int8", **options)
        return
    model = tf.quantize(copy.deepcopy(float_model), "int8", **options)
    out = run(model, args, kwargs)
    key, got = _scores(ours_named(out, by_position))
    _, want = _scores(named(run(ref, args, kwargs)))
    assert got.dtype == want.dtype
    assert_int8_agrees(got, want, real, classes=key not in ("last_hidden_state", "cls_logits") and name != "TransfoXLModel")
    loaded = cls.from_pretrained(folder, quantize={"method": "int8", **options})
    assert loaded.config.quantization == model.config.quantization
    assert all(torch.equal(a, b) for a, b in zip(_flat(tuple(run(loaded, args, kwargs))), _flat(tuple(out))))
    model.save_pretrained(str(tmp_path))
    loaded = cls.from_pretrained(str(tmp_path))
    assert loaded.config.quantization == model.config.quantization
    assert all(torch.equal(a, b) for a, b in zip(_flat(tuple(run(loaded, args, kwargs))), _flat(tuple(out))))
