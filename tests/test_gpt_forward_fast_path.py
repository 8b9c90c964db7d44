"""forward() of OpenAI GPT and GPT-2 runs the fused decoder (packed projections, fused causal attention, past in
and presents out) and gives transformers' outputs on right- and left-padded batches, for every class."""
from __future__ import annotations

import pytest
import torch

import transformers_fast as tf
from gpt_helpers import hf_gpt, ids, left_padded
from modeling_helpers import compare
from transformers_fast.runtime import decoder

CLASSES = {"gpt2": ["GPT2Model", "GPT2LMHeadModel", "GPT2DoubleHeadsModel"],
           "openai": ["OpenAIGPTModel", "OpenAIGPTLMHeadModel", "OpenAIGPTDoubleHeadsModel"]}
CASES = [(family, name) for family, names in CLASSES.items() for name in names]


def right_padded(x, lengths):
    mask = torch.zeros_like(x)
    for row, n in enumerate(lengths):
        mask[row, :n] = 1
    return x.masked_fill(mask == 0, 0), mask


@pytest.fixture
def fused_calls(monkeypatch):
    calls = []
    original = decoder.DecoderFastPath.forward
    monkeypatch.setattr(decoder.DecoderFastPath, "forward", lambda self, *a: calls.append(1) or original(self, *a))
    return calls


def main_output(out, name):
    return out.last_hidden_state if name.endswith("Model") and "Head" not in name else out.logits


@pytest.mark.parametrize("family,name", CASES)
@pytest.mark.parametrize("side", ["right", "left"])
def test_forward_runs_fused_and_equals_transformers(family, name, side, tmp_path, fused_calls):
    ref = hf_gpt(family, name)
    ref.save_pretrained(tmp_path)
    model = getattr(tf, name).from_pretrained(tmp_path)
    lengths = [9, 4, 6]
    if side == "left":
        x, mask, positions = left_padded(ids(batch=3, seq=9), lengths)
        kwargs = dict(attention_mask=mask, position_ids=positions)
    else:
        x, mask = right_padded(ids(batch=3, seq=9), lengths)
        kwargs = dict(attention_mask=mask)
    extra = {}
    if "DoubleHeads" in name:  # [batch, choices, seq]: one choice per row, its last real token classifies
        x, mask = x.unsqueeze(1), mask.unsqueeze(1)
        kwargs = {k: v.unsqueeze(1) for k, v in kwargs.items()}
        last = torch.tensor([[n - 1] for n in lengths]) if side == "right" else torch.full((3, 1), 8)
        extra = dict(mc_token_ids=last)
    with torch.no_grad():
        ours = model(x, **kwargs, **extra)
        # transformers takes the masks of the choices flattened ([batch * choices, seq]); 1.2.0 (and we) as input_ids
        theirs = ref(x, **{k: v.reshape(-1, 9) for k, v in kwargs.items()}, **extra)
    assert fused_calls, "forward() did not run the fused decoder"
    if "DoubleHeads" not in name:  # real positions; a left-padded query has no key to attend to
        compare(main_output(ours, name), main_output(theirs, name), mask=mask, path=name)
    else:
        compare(ours.mc_logits, theirs.mc_logits, path="mc_logits")
        compare(ours.logits[mask.bool()], theirs.logits[mask.bool()], path="lm logits at real positions")


def test_gpt2_past_in_and_presents_out_run_fused(tmp_path, fused_calls):
    ref = hf_gpt("gpt2", "GPT2LMHeadModel")
    ref.save_pretrained(tmp_path)
    model = tf.GPT2LMHeadModel.from_pretrained(tmp_path)
    x, mask, positions = left_padded(ids(batch=3, seq=12), [12, 5, 9])
    with torch.no_grad():
        first = model(x[:, :7], attention_mask=mask[:, :7], position_ids=positions[:, :7])
        rest = model(x[:, 7:], past=first.past_key_values, attention_mask=mask, position_ids=positions[:, 7:])
        full = ref(x, attention_mask=mask, position_ids=positions)
    assert len(fused_calls) == 2
    compare(torch.cat([first.logits, rest.logits], 1), full.logits, mask=mask)
    assert len(rest.past_key_values) == 2 and rest.past_key_values[0].shape == (2, 3, 4, 12, 8)


def test_reference_path_when_asked(tmp_path, fused_calls):
    ref = hf_gpt("gpt2", "GPT2LMHeadModel")
    ref.save_pretrained(tmp_path)
    model = tf.GPT2LMHeadModel.from_pretrained(tmp_path)
    x = ids(batch=2, seq=5)
    with torch.no_grad():
        model(x, output_hidden_states=True)
        model(x, head_mask=torch.ones(2, 4))
        model.transformer.fast.enabled = False
        model(x)
    assert not fused_calls


@pytest.mark.parametrize("side", ["right", "left", "holes"])
def test_padded_batch_runs_padding_free_with_reference_presents(side, tmp_path, monkeypatch):
    """Only real tokens go through the blocks; logits and presents at real positions equal transformers'
    (padded positions are zeros, as documented), and those presents continue the sequence as the reference's do."""
    packed = []
    original = decoder.DecoderFastPath._forward_padding_free
    monkeypatch.setattr(decoder.DecoderFastPath, "_forward_padding_free",
                        lambda self, *a: packed.append(int(a[1].sum())) or original(self, *a))
    ref = hf_gpt("gpt2", "GPT2LMHeadModel")
    ref.save_pretrained(tmp_path)
    model = tf.GPT2LMHeadModel.from_pretrained(tmp_path)
    if side == "left":
        x, mask, positions = left_padded(ids(batch=3, seq=9), [9, 4, 6])
    else:
        x, mask = right_padded(ids(batch=3, seq=9), [9, 4, 6])
        if side == "holes":
            mask[0, 2] = mask[2, 0] = 0
        positions = None
    with torch.no_grad():
        ours = model(x, attention_mask=mask, position_ids=positions)
        theirs = ref(x, attention_mask=mask, position_ids=positions)
        assert packed == [int(mask.sum())]
        compare(ours.logits, theirs.logits, mask=mask, path="logits at real positions")
        real = mask.bool()[:, None, :, None]  # [batch, 1, seq, 1] against [batch, heads, seq, head_dim]
        their_kv = [(cached.keys, cached.values) for cached in theirs.past_key_values.layers]
        for layer, (present, (key, value)) in enumerate(zip(ours.past_key_values, their_kv)):
            for got, want in ((present[0], key), (present[1], value)):
                assert torch.allclose(got * real, want * real, atol=1e-5), f"layer {layer}"
                assert not (got * ~real).any(), "padded positions are not computed"
        step = torch.tensor([[5], [6], [7]])
        step_mask = torch.cat([mask, torch.ones(3, 1, dtype=mask.dtype)], 1)
        step_pos = None if positions is None else positions[:, -1:] + 1
        nxt = model(step, past=ours.past_key_values, attention_mask=step_mask, position_ids=step_pos)
        want = ref(step, past_key_values=theirs.past_key_values, attention_mask=step_mask, position_ids=step_pos)
    compare(nxt.logits, want.logits, path="the next step from padding-free presents")
    with torch.no_grad():
        model(ids(batch=2, seq=5), attention_mask=torch.ones(2, 5, dtype=torch.long))
    assert len(packed) == 1, "an unpadded batch needs no packing"


@pytest.mark.parametrize("family", ["gpt2", "openai"])
def test_without_padding_removal_every_position_equals_transformers(family, tmp_path, fused_calls, monkeypatch):
    """`fast.remove_padding = False`: a right-padded batch runs every position through the fused decoder, its
    padded keys masked, so logits and presents equal transformers' at padded positions too; copies keep it."""
    import copy

    packed = []
    monkeypatch.setattr(decoder.DecoderFastPath, "_forward_padding_free", lambda *a: packed.append(1))
    name = CLASSES[family][1]
    ref = hf_gpt(family, name)
    ref.save_pretrained(tmp_path)
    model = getattr(tf, name).from_pretrained(tmp_path)
    model.transformer.fast.remove_padding = False
    x, mask = right_padded(ids(batch=3, seq=9), [9, 4, 6])
    with torch.no_grad():
        theirs = ref(x, attention_mask=mask)
        for each in (model, copy.deepcopy(model)):
            compare(each(x, attention_mask=mask).logits, theirs.logits)  # every position
    assert len(fused_calls) == 2 and not packed


@pytest.mark.parametrize("family,name", [c for c in CASES if "Head" in c[1]])
def test_lm_head_of_forward_is_prepacked(family, name, tmp_path, monkeypatch):
    """The LM head of a fused forward() is the prepacked projection (F.linear takes MKL's AVX2 path on AMD);
    with autograd it is the module itself, as the reference."""
    ref = hf_gpt(family, name)
    ref.save_pretrained(tmp_path)
    model = getattr(tf, name).from_pretrained(tmp_path)
    packed_calls = []
    real_linear = decoder.linear
    monkeypatch.setattr(decoder, "linear", lambda x, p: packed_calls.append(p) or real_linear(x, p))
    x = ids(batch=2, seq=7)
    if "DoubleHeads" in name:
        x = x.unsqueeze(1)
    with torch.no_grad():
        ours = model(x).logits
        theirs = ref(x).logits
    assert any(p is model.fast._lm_head for p in packed_calls)
    compare(ours, theirs, path="logits")
    packed_calls.clear()
    module_calls = []
    model.lm_head.register_forward_hook(lambda *a: module_calls.append(1))
    model(x).logits.sum().backward()
    assert module_calls and not packed_calls and model.lm_head.weight.grad is not None
