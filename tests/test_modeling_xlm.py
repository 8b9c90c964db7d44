"""XLM against both references: tiny random models of pytorch-transformers 1.2.0 and of transformers 5, saved
with their own save_pretrained (1.2.0: pytorch_model.bin; transformers: model.safetensors) and loaded here.
Every class, several languages with language embeddings (langs given and absent), padded batches (lengths,
right and left padding with attention_mask), token_type_ids, the CLM with a cache (continuation equals the full
forward), the adaptive-softmax LM head, the QA beam-search outputs and losses, bad input, grad modes, tracing,
both weight formats; the fast path is taken in inference (counted) and the plain path (training, head_mask,
attentions) equals the references too.

Layouts: 1.2.0's LM head returns scores [batch * seq, n_words] (ours too); transformers 5 returns
[batch, seq, n_words], compared after a reshape. 1.2.0 raises for a causal model with an attention_mask and
for asm on [batch, seq] inputs: those cases are compared with transformers, or with 1.2.0's modules called on
flattened hidden states.
"""
from __future__ import annotations

import json
import os

import pickle

import pytest
import torch

import transformers_fast as tf
from modeling_helpers import quiet_transformers, randomize_all
from transformers_fast.models.xlm import modeling_xlm
from transformers_fast.runtime import encoder as fast_encoder

ATOL = 1e-4
VOCAB = 99
PAD = 2
TINY = dict(emb_dim=32, n_layers=2, n_heads=4, n_langs=3, num_labels=3, start_n_top=3, end_n_top=2)
CLASSES = ["XLMModel", "XLMWithLMHeadModel", "XLMForSequenceClassification", "XLMForQuestionAnswering"]


def reference(kind: str, class_name: str, **extra):
    """A reference model: kind "pt" (pytorch-transformers 1.2.0) or "hf" (transformers 5), eval mode."""
    quiet_transformers()
    kwargs = dict(TINY)
    kwargs.update(extra)
    asm = {k: kwargs.pop(k) for k in ("asm_cutoffs", "asm_div_value") if k in kwargs}
    torch.manual_seed(0)
    with torch.no_grad():  # 1.2.0 fills the sinusoidal table in place
        if kind == "pt":
            import pytorch_transformers as pt

            config = pt.XLMConfig(VOCAB, **kwargs)
            for k, v in asm.items():
                setattr(config, k, v)
            model = getattr(pt, class_name)(config)
        else:
            import transformers

            config = transformers.XLMConfig(vocab_size=VOCAB, **kwargs, **asm)
            model = getattr(transformers, class_name)(config)
    model.eval()
    randomize_all(model)
    return model


def ours_from(ref, tmp_path, class_name=None, **save):
    ref.save_pretrained(str(tmp_path), **save)
    return getattr(tf, class_name or type(ref).__name__).from_pretrained(str(tmp_path)).eval()


def batch(bsz=4, seq=9, seed=1, side="right"):
    """ids with pad_index at the padded positions, their attention_mask and lengths, random langs."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, VOCAB, (bsz, seq), generator=g)
    lengths = torch.tensor([seq, seq - 3, seq - 5, seq - 1][:bsz])
    mask = torch.zeros(bsz, seq, dtype=torch.long)
    for row, n in enumerate(lengths.tolist()):
        if side == "right":
            mask[row, :n] = 1
        else:
            mask[row, seq - n:] = 1
    ids = ids.masked_fill(mask == 0, PAD)
    langs = torch.randint(0, TINY["n_langs"], (bsz, seq), generator=g)
    return ids, mask, lengths, langs


def as_tuple(out):
    return tuple(out.to_tuple()) if hasattr(out, "to_tuple") else tuple(out)


def close(a, b, what, atol=ATOL):
    if isinstance(a, (tuple, list)):
        assert len(a) == len(b), what
        for i, (x, y) in enumerate(zip(a, b)):
            close(x, y, f"{what}[{i}]", atol)
        return
    if not a.is_floating_point():
        assert torch.equal(a, b), what
        return
    assert a.shape == b.shape, (what, a.shape, b.shape)
    diff = (a - b).abs().max().item()
    assert diff <= atol, f"{what}: max diff {diff}"


@pytest.fixture
def fast_calls(monkeypatch):
    calls = []
    original = fast_encoder.EncoderFastPath._forward

    def counted(self, *args, **kwargs):
        calls.append(type(self).__name__)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(fast_encoder.EncoderFastPath, "_forward", counted)
    return calls


def _outputs(kind, class_name, out, bsz, seq):
    out = as_tuple(out)
    if class_name == "XLMWithLMHeadModel" and kind == "hf":
        out = (out[0].reshape(bsz * seq, -1),) + out[1:]
    return out


INPUT_CASES = ["lengths", "right_mask", "left_mask", "no_padding_info"]


def _inputs(case, with_langs, tokens=True):
    side = "left" if case == "left_mask" else "right"
    ids, mask, lengths, langs = batch(side=side)
    kwargs = {}
    if case == "lengths":
        kwargs["lengths"] = lengths
    elif case in ("right_mask", "left_mask"):
        kwargs["attention_mask"] = mask
    if with_langs:
        kwargs["langs"] = langs
    if tokens:
        kwargs["token_type_ids"] = torch.randint(0, 4, ids.shape, generator=torch.Generator().manual_seed(7))
    return ids, kwargs


@pytest.mark.parametrize("kind", ["pt", "hf"])
@pytest.mark.parametrize("class_name", CLASSES)
@pytest.mark.parametrize("case", INPUT_CASES)
@pytest.mark.parametrize("with_langs", [True, False])
def test_every_class_matches_references(kind, class_name, case, with_langs, tmp_path, fast_calls):
    ref = reference(kind, class_name)
    ours = ours_from(ref, tmp_path)
    ids, kwargs = _inputs(case, with_langs)
    with torch.no_grad():
        expected = _outputs(kind, class_name, ref(ids, **kwargs), *ids.shape)
        got = as_tuple(ours(ids, **kwargs))
    close(got, expected, f"{kind} {class_name} {case} langs={with_langs}")
    assert fast_calls == ["XLMFastPath"]


@pytest.mark.parametrize("kind", ["pt", "hf"])
def test_hidden_states_attentions_and_head_mask_on_the_plain_path(kind, tmp_path, fast_calls):
    ref = reference(kind, "XLMModel", output_hidden_states=True, output_attentions=True)
    ours = ours_from(ref, tmp_path)
    ids, kwargs = _inputs("right_mask", True)
    head_mask = torch.tensor([[1.0, 0.0, 1.0, 1.0], [0.0, 1.0, 1.0, 0.5]])
    with torch.no_grad():
        close(as_tuple(ours(ids, **kwargs)), as_tuple(ref(ids, **kwargs)), "hidden+attentions")
        if kind == "pt":
            close(as_tuple(ours(ids, head_mask=head_mask, **kwargs)), as_tuple(ref(ids, head_mask=head_mask, **kwargs)),
                  "head_mask")
    assert fast_calls == []  # attentions need the plain path


def test_hidden_states_on_the_fast_path_equal_1_2_0(tmp_path, fast_calls):
    ref = reference("pt", "XLMModel", output_hidden_states=True)
    ours = ours_from(ref, tmp_path)
    ids, kwargs = _inputs("left_mask", True)
    with torch.no_grad():
        close(as_tuple(ours(ids, **kwargs)), as_tuple(ref(ids, **kwargs)), "hidden_states")
    assert fast_calls == ["XLMFastPath"]


@pytest.mark.parametrize("options", [dict(gelu_activation=False), dict(sinusoidal_embeddings=True),
                                     dict(use_lang_emb=False), dict(n_langs=1), dict(causal=True)])
def test_config_options_match_1_2_0(options, tmp_path, fast_calls):
    ref = reference("pt", "XLMWithLMHeadModel", **options)
    ours = ours_from(ref, tmp_path)
    ids, mask, lengths, langs = batch()
    kwargs = dict(lengths=lengths)
    if options.get("n_langs", 3) > 1 and options.get("use_lang_emb", True):
        kwargs["langs"] = langs
    with torch.no_grad():
        close(ours(ids, **kwargs)[0], ref(ids, **kwargs)[0], str(options))
    assert fast_calls == ["XLMFastPath"]


def test_special_ids_of_a_transformers_folder(tmp_path):
    """transformers 5 writes pad/bos/eos only as pad_token_id, bos_token_id, eos_token_id (its XLMConfig aliases
    pad_index and the others to them): a folder with non-default ones pads, and decodes, with its own."""
    ref = reference("hf", "XLMWithLMHeadModel", pad_token_id=0, bos_token_id=4, eos_token_id=3)
    ours = ours_from(ref, tmp_path)
    assert (ours.config.pad_index, ours.config.bos_index, ours.config.eos_index) == (0, 4, 3)
    ids = torch.tensor([[63, 28, 38, 32, 0], [7, 0, 9, 11, 12]])  # pad id 0 inside rows, no mask: as padding
    with torch.no_grad():
        close(ours(ids)[0], ref(ids).logits.reshape(-1, VOCAB), "logits")
    assert tf.XLMConfig(VOCAB).pad_index == 2 and tf.XLMConfig(VOCAB, pad_index=1, pad_token_id=0).pad_index == 1


def test_sinusoidal_table_of_a_new_model_is_fixed():
    model = tf.XLMModel(tf.XLMConfig(VOCAB, **dict(TINY, sinusoidal_embeddings=True)))
    weight = model.position_embeddings.weight
    assert not weight.requires_grad
    from pytorch_transformers.modeling_xlm import create_sinusoidal_embeddings as reference_fill
    expected = torch.empty(weight.shape)
    reference_fill(*weight.shape, out=expected)  # 1.2.0's table (its own models overwrite it at init)
    assert torch.equal(weight, expected)


# ---- causal models and the cache ----


def test_causal_with_left_padding_matches_transformers_on_the_plain_path(tmp_path, fast_calls):
    ref = reference("hf", "XLMWithLMHeadModel", causal=True)
    ours = ours_from(ref, tmp_path)
    ids, kwargs = _inputs("left_mask", True)
    with torch.no_grad():
        close(ours(ids, **kwargs)[0], ref(ids, **kwargs)[0].reshape(ids.numel(), -1), "causal left padding")
    assert fast_calls == []  # real tokens see padded keys: only the plain path does what the reference does
    ids, kwargs = _inputs("right_mask", True)
    with torch.no_grad():
        close(ours(ids, **kwargs)[0], ref(ids, **kwargs)[0].reshape(ids.numel(), -1), "causal right padding")
    assert fast_calls == ["XLMFastPath"]


@pytest.mark.parametrize("kind", ["pt", "hf"])
def test_cache_continuation_equals_the_full_forward(kind, tmp_path):
    ref = reference(kind, "XLMWithLMHeadModel", causal=True)
    ours = ours_from(ref, tmp_path)
    ids, _, _, langs = batch(bsz=2, seq=8)
    ids[:, :] = ids.clamp(min=5)  # no padding
    with torch.no_grad():
        full = ours(ids, langs=langs)[0].view(2, 8, -1)
        cache = {"slen": 0}
        first = ours(ids[:, :5], langs=langs[:, :5], cache=cache)[0].view(2, 5, -1)
        assert cache["slen"] == 5
        second = ours(ids[:, :7], langs=langs[:, :7], cache=cache)[0].view(2, 2, -1)
        third = ours(ids, langs=langs, cache=cache)[0].view(2, 1, -1)
        assert cache["slen"] == 8
        close(torch.cat([first, second, third], 1), full, "cache continuation")
        if kind == "pt":
            cache = {"slen": 0}
            ref(ids[:, :5], langs=langs[:, :5], cache=cache)
            close(ours_step(ours, ids, langs), ref(ids, langs=langs, cache=cache)[0], "1.2.0 cache")


def test_cache_decoding_runs_on_the_packed_weights_and_equals_the_plain_path(tmp_path, monkeypatch):
    ref = reference("pt", "XLMWithLMHeadModel", causal=True, output_hidden_states=True)
    ours = ours_from(ref, tmp_path)
    calls = []
    original = modeling_xlm.XLMFastPath.decode
    monkeypatch.setattr(modeling_xlm.XLMFastPath, "decode", lambda self, *a: calls.append(1) or original(self, *a))
    ids, mask, lengths, langs = batch(bsz=3, seq=8)  # lengths 8, 5, 3: padding inside the cached prompt
    results = {}
    for mode in ("fast", "plain"):
        ours.transformer.fast.enabled = mode == "fast"
        with torch.no_grad():
            cache = {"slen": 0}
            first = ours(ids[:, :6], langs=langs[:, :6], lengths=lengths.clamp(max=6), cache=cache)
            second = ours(ids, langs=langs, lengths=lengths, cache=cache)
        results[mode] = (first, second)
    assert len(calls) == 2
    close(as_tuple(results["fast"][0]), as_tuple(results["plain"][0]), "prompt")
    close(as_tuple(results["fast"][1]), as_tuple(results["plain"][1]), "continuation")
    with torch.no_grad():
        cache = {"slen": 0}
        ref(ids[:, :6], langs=langs[:, :6], lengths=lengths.clamp(max=6), cache=cache)
        close(as_tuple(results["fast"][1]), as_tuple(ref(ids, langs=langs, lengths=lengths, cache=cache)), "1.2.0")


def ours_step(ours, ids, langs):
    cache = {"slen": 0}
    ours(ids[:, :5], langs=langs[:, :5], cache=cache)
    return ours(ids, langs=langs, cache=cache)[0]


# ---- heads: losses, asm ----


def test_lm_loss_matches_transformers(tmp_path):
    ref = reference("hf", "XLMWithLMHeadModel")
    ours = ours_from(ref, tmp_path)
    ids, kwargs = _inputs("right_mask", True)
    labels = ids.clone()
    labels[:, ::2] = -100
    with torch.no_grad():
        expected = ref(ids, labels=labels, **kwargs)
        got = ours(ids, labels=labels, **kwargs)
    close(got[0], expected[0], "loss")
    close(got[1], expected[1].reshape(ids.numel(), -1), "scores")  # 1.2.0's layout by position
    for named in (got.logits, got["logits"], dict(got.items())["logits"], pickle.loads(pickle.dumps(got)).logits):
        close(named, expected.logits, "logits by name: transformers' layout")
    close(ours(ids, labels=labels.view(-1), **kwargs)[0], expected[0], "flat labels")


@pytest.mark.parametrize("kind", ["pt", "hf"])
def test_asm_head(kind, tmp_path, fast_calls):
    ref = reference(kind, "XLMWithLMHeadModel", asm=True, asm_cutoffs=[20, 50], asm_div_value=2.0)
    ours = ours_from(ref, tmp_path)
    ids, mask, lengths, langs = batch()
    with torch.no_grad():
        hidden = ref.transformer(ids, lengths=lengths, langs=langs)[0].reshape(ids.numel(), -1)
        got = ours(ids, lengths=lengths, langs=langs, labels=ids)
        close(got[1], ref.pred_layer.proj.log_prob(hidden), "asm log-probabilities")
        close(got[0], ref.pred_layer.proj(hidden, ids.view(-1)).loss, "asm loss")
        close(ours(ids, lengths=lengths, langs=langs)[0], got[1], "asm scores on the fast path")
    assert fast_calls == ["XLMFastPath"]


def test_sequence_classification_losses_match_1_2_0(tmp_path):
    ref = reference("pt", "XLMForSequenceClassification")
    ours = ours_from(ref, tmp_path)
    ids, kwargs = _inputs("lengths", True)
    labels = torch.tensor([0, 2, 1, 2])
    with torch.no_grad():
        close(as_tuple(ours(ids, labels=labels, **kwargs)), as_tuple(ref(ids, labels=labels, **kwargs)), "labels")


def test_regression_loss_matches_1_2_0(tmp_path):
    ref = reference("pt", "XLMForSequenceClassification", num_labels=1)
    ours = ours_from(ref, tmp_path)
    ids, kwargs = _inputs("lengths", True)
    labels = torch.tensor([0.5, -1.0, 2.0, 0.0])
    with torch.no_grad():
        close(as_tuple(ours(ids, labels=labels, **kwargs)), as_tuple(ref(ids, labels=labels, **kwargs)), "mse")


@pytest.mark.parametrize("kind", ["pt", "hf"])
def test_qa_losses_and_p_mask(kind, tmp_path):
    ref = reference(kind, "XLMForQuestionAnswering")
    ours = ours_from(ref, tmp_path)
    ids, kwargs = _inputs("right_mask", True)
    p_mask = torch.zeros(ids.shape)
    p_mask[:, :2] = 1
    positions = dict(start_positions=torch.tensor([1, 2, 3, 0]), end_positions=torch.tensor([3, 4, 3, 2]),
                     cls_index=torch.tensor([0, 0, 1, 0]), is_impossible=torch.tensor([0.0, 1.0, 0.0, 1.0]))
    with torch.no_grad():
        close(as_tuple(ours(ids, p_mask=p_mask, **kwargs)), as_tuple(ref(ids, p_mask=p_mask, **kwargs)), "p_mask")
        close(ours(ids, **positions, **kwargs)[0], as_tuple(ref(ids, **positions, **kwargs))[0], "loss")


# ---- training path, grad modes, tracing, saving ----


def test_training_gradients_match_1_2_0(tmp_path, fast_calls):
    ref = reference("pt", "XLMForSequenceClassification", dropout=0.0, attention_dropout=0.0,
                    summary_first_dropout=0.0)
    ours = ours_from(ref, tmp_path)
    ids, kwargs = _inputs("lengths", True)
    labels = torch.tensor([0, 2, 1, 2])
    ref.train()
    ours.train()
    ref(ids, labels=labels, **kwargs)[0].backward()
    ours(ids, labels=labels, **kwargs)[0].backward()
    ref_grads = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        if p.grad is not None:
            close(p.grad, ref_grads[name].grad, f"grad {name}")
    assert fast_calls == []


@pytest.mark.parametrize("order", ["inference_mode", "no_grad", "inference_then_no_grad", "plain_then_inference"])
def test_loading_and_running_under_grad_modes(order, tmp_path):
    ref = reference("pt", "XLMWithLMHeadModel")
    ref.save_pretrained(str(tmp_path))
    ids, kwargs = _inputs("right_mask", True)
    with torch.no_grad():
        expected = ref(ids, **kwargs)[0]
    first, second = {"inference_mode": (torch.inference_mode, torch.inference_mode),
                     "no_grad": (torch.no_grad, torch.no_grad),
                     "inference_then_no_grad": (torch.inference_mode, torch.no_grad),
                     "plain_then_inference": (torch.enable_grad, torch.inference_mode)}[order]
    with first():
        ours = tf.XLMWithLMHeadModel.from_pretrained(str(tmp_path)).eval()
        close(ours(ids, **kwargs)[0], expected, "first mode")
    with second():
        close(ours(ids, **kwargs)[0], expected, "second mode")
    close(ours(ids, **kwargs)[0].detach(), expected, "grad enabled")


def test_torchscript_trace(tmp_path):
    ref = reference("pt", "XLMWithLMHeadModel")
    ref.save_pretrained(str(tmp_path))
    ours = tf.XLMWithLMHeadModel.from_pretrained(str(tmp_path), torchscript=True).eval()
    ids, mask, lengths, langs = batch()
    with torch.no_grad():
        traced = torch.jit.trace(ours, example_kwarg_inputs=dict(input_ids=ids, lengths=lengths, langs=langs),
                                 check_trace=False)
        other_ids, _, other_lengths, other_langs = batch(seed=5)
        close(traced(other_ids, other_lengths, other_langs)[0],
              ref(other_ids, lengths=other_lengths, langs=other_langs)[0], "traced")


@pytest.mark.parametrize("safe", [False, True])
def test_save_and_reload_both_formats(safe, tmp_path):
    ref = reference("hf", "XLMForQuestionAnswering")
    ours = ours_from(ref, tmp_path / "a")
    ours.save_pretrained(str(tmp_path / "b"), safe_serialization=safe)
    names = set(os.listdir(tmp_path / "b"))
    assert ("model.safetensors" if safe else "pytorch_model.bin") in names
    again = tf.XLMForQuestionAnswering.from_pretrained(str(tmp_path / "b")).eval()
    ids, kwargs = _inputs("right_mask", True)
    with torch.no_grad():
        close(as_tuple(again(ids, **kwargs)), as_tuple(ours(ids, **kwargs)), "reloaded")
    saved = json.loads((tmp_path / "b" / "config.json").read_text())
    assert saved["n_words"] == saved["vocab_size"] == VOCAB
    import pytorch_transformers as pt

    if not safe:  # 1.2.0 reads what we write
        quiet_transformers()
        theirs = pt.XLMForQuestionAnswering.from_pretrained(str(tmp_path / "b")).eval()
        with torch.no_grad():
            close(as_tuple(theirs(ids, **kwargs)), as_tuple(ours(ids, **kwargs)), "1.2.0 reads ours")


def test_pruned_heads_match_1_2_0(tmp_path):
    ref = reference("pt", "XLMModel")
    ref.prune_heads({0: [1], 1: [0, 3]})
    ours = ours_from(ref, tmp_path)
    ids, kwargs = _inputs("right_mask", True)
    with torch.no_grad():
        close(ours(ids, **kwargs)[0], ref(ids, **kwargs)[0], "pruned")


# ---- bad input ----


@pytest.fixture(scope="module")
def small_model():
    torch.manual_seed(0)
    return tf.XLMWithLMHeadModel(tf.XLMConfig(VOCAB, **TINY)).eval()


@pytest.mark.parametrize("bad, message", [
    (dict(langs=torch.full((2, 5), 3)), "langs holds 3"),
    (dict(langs=torch.full((2, 5), -1)), "langs holds -1"),
    (dict(langs=torch.zeros(2, 4, dtype=torch.long)), "langs has shape"),
    (dict(langs=torch.zeros(2, 5)), "langs must hold integer ids"),
    (dict(input_ids=torch.full((2, 5), VOCAB)), "input_ids holds 99"),
    (dict(lengths=torch.tensor([6, 5])), "lengths holds 6"),
    (dict(lengths=torch.tensor([5])), "lengths must have shape"),
    (dict(position_ids=torch.full((2, 5), 512)), "position_ids holds 512"),
    (dict(token_type_ids=torch.full((2, 5), VOCAB)), "token_type_ids holds 99"),
    (dict(attention_mask=torch.ones(2, 4)), "attention_mask has shape"),
    (dict(cache={"slen": 2}), "causal"),
    (dict(cache={"slen": 5}), "at least one new token"),
    (dict(cache=[]), "cache must be a dict"),
])
def test_bad_input_raises_clear_errors(small_model, bad, message):
    kwargs = dict(input_ids=torch.full((2, 5), 7))
    kwargs.update(bad)
    with pytest.raises((ValueError, TypeError), match=message):
        small_model(**kwargs)


@pytest.mark.parametrize("bad, message", [
    (dict(emb_dim=30, n_heads=4), "multiple of n_heads"),
    (dict(asm=True), "asm_cutoffs"),
    (dict(n_langs=0), "n_langs"),
    (dict(is_encoder=False), "encoder"),
    (dict(causal="yes"), "causal"),
])
def test_bad_configs_raise(bad, message):
    with pytest.raises((ValueError, NotImplementedError), match=message):
        tf.XLMModel(tf.XLMConfig(VOCAB, **dict(TINY, **bad)))


# ---- shipped configs ----

SHORTCUTS = ["xlm-mlm-en-2048", "xlm-mlm-ende-1024", "xlm-mlm-enfr-1024", "xlm-mlm-enro-1024",
             "xlm-mlm-tlm-xnli15-1024", "xlm-mlm-xnli15-1024", "xlm-clm-enfr-1024", "xlm-clm-ende-1024"]


@pytest.mark.parametrize("name", SHORTCUTS)
def test_shipped_configs(name):
    from transformers_fast.models.xlm.tokenization_xlm import PRETRAINED_INIT_CONFIGURATION

    config = tf.XLMConfig.from_pretrained(name)
    config.validate()
    tokenizer_side = PRETRAINED_INIT_CONFIGURATION[name]
    if "lang2id" in tokenizer_side:
        assert config.lang2id == tokenizer_side["lang2id"]
        as_ints = lambda m: {int(k): v for k, v in m.items()}  # noqa: E731
        assert as_ints(config.id2lang) == as_ints(tokenizer_side["id2lang"])
        assert config.n_langs == len(config.lang2id)
    else:
        assert config.n_langs == 1
    assert config.causal == ("-clm-" in name)
    import transformers

    quiet_transformers()
    with torch.device("meta"):
        model = tf.XLMWithLMHeadModel(config)
        theirs = transformers.XLMWithLMHeadModel(transformers.XLMConfig.from_dict(config.to_dict()))
    assert model.pred_layer.proj.weight.shape == (config.n_words, config.emb_dim)
    assert model.num_parameters() == sum(p.numel() for p in theirs.parameters())
    # the published table of 1.2.0: layers, hidden size, heads
    published = {"en-2048": (12, 2048, 16), "xnli15-1024": (12, 1024, 8)}
    key = next((k for k in published if name.endswith(k)), None)
    assert (config.n_layers, config.emb_dim, config.n_heads) == published.get(key, (6, 1024, 8))


def test_lm_head_runs_prepacked_for_inference_and_follows_changes(tmp_path, monkeypatch):
    """The prediction layer's projection runs prepacked (runtime.fast_path.LinearFastPath) in inference, equal to
    transformers' head; grad mode, labels and a replaced or changed layer take the layer as it is now."""
    from transformers_fast.runtime import fast_path

    ref = reference("hf", "XLMWithLMHeadModel", causal=True)
    ours = ours_from(ref, tmp_path)
    calls = []
    original = fast_path.LinearFastPath.__call__
    monkeypatch.setattr(fast_path.LinearFastPath, "__call__",
                        lambda self, x: calls.append(x.shape) or original(self, x))
    ids, mask, _, langs = batch(bsz=2, seq=6)

    def logits(model):
        return model(ids, langs=langs, attention_mask=mask)[0]

    with torch.no_grad():
        close(logits(ours).view(2, 6, -1), logits(ref), "logits")
        assert calls, "the prepacked head did not run"
        calls.clear()
        proj = ours.pred_layer.proj
        proj.weight.mul_(2.0)  # in place: the packed copy is rebuilt
        ref.pred_layer.proj.weight.mul_(2.0)
        close(logits(ours).view(2, 6, -1), logits(ref), "changed")
        ours.pred_layer.proj = torch.nn.Linear(proj.in_features, proj.out_features)  # (untied from the embeddings)
        got = logits(ours)
        assert len(calls) == 2
        ours.pred_layer.fast.enabled = False  # the new layer itself
        close(got, logits(ours), "replaced")
        ours.pred_layer.fast.enabled = True
        calls.clear()
        ours(ids, langs=langs, attention_mask=mask, labels=ids)  # labels: the layer itself
    assert not calls
    logits(ours)  # grad mode
    assert not calls
