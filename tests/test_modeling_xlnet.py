"""XLNet against both references: tiny random models of pytorch-transformers 1.2.0 and of transformers 5, saved
with their own save_pretrained (1.2.0: pytorch_model.bin; transformers: model.safetensors) and loaded here.
Every class, padded batches (attention_mask and input_mask), token_type_ids, two-stream attention (perm_mask,
target_mapping), memory across two segments (mem_len, reuse_len), attn_type "uni", bi_data, clamp_len,
same_length, the QA beam-search outputs and losses; the fast path is taken in inference (counted) and the plain
path (training, head_mask, attentions) equals the references too.

transformers 5 maps ff_activation "gelu" to the erf GELU while 1.2.0's (and ours) is the tanh form: the
transformers models here use "gelu_new" (tanh) or "relu", except where a folder saved by transformers with "gelu"
is read (its config.json names transformers' version: read with transformers' meaning, the erf form). transformers also returns every past hidden state
as mems when mem_len is None (1.2.0 returns a tuple of None): mems are compared where mem_len is set.
"""
from __future__ import annotations

import itertools

import pytest
import torch

import transformers_fast as tf
from modeling_helpers import quiet_transformers, randomize_all
from transformers_fast.runtime import xlnet as fast_xlnet

ATOL = 1e-4
VOCAB = 99
TINY = dict(d_model=32, n_layer=2, n_head=4, d_inner=37, num_labels=3, start_n_top=3, end_n_top=2)
CLASSES = ["XLNetModel", "XLNetLMHeadModel", "XLNetForSequenceClassification", "XLNetForQuestionAnswering"]


def reference(kind: str, class_name: str, **extra):
    """A reference model: kind "pt" (pytorch-transformers 1.2.0) or "hf" (transformers 5), eval mode."""
    quiet_transformers()
    kwargs = dict(TINY)
    kwargs.update(extra)
    torch.manual_seed(0)
    if kind == "pt":
        import pytorch_transformers as pt

        kwargs.setdefault("ff_activation", "gelu")
        model = getattr(pt, class_name)(pt.XLNetConfig(VOCAB, **kwargs))
    else:
        import transformers

        kwargs.setdefault("ff_activation", "gelu_new")
        kwargs.setdefault("mem_len", None)
        config = transformers.XLNetConfig(vocab_size=VOCAB, **kwargs)
        model = getattr(transformers, class_name)(config)
    model.eval()
    randomize_all(model)
    return model


def ours_from(ref, tmp_path, class_name=None, **save):
    ref.save_pretrained(str(tmp_path), **save)
    return getattr(tf, class_name or type(ref).__name__).from_pretrained(str(tmp_path))


def batch(bsz=4, seq=9, seed=1, left_pad=True):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, VOCAB, (bsz, seq), generator=g)
    mask = torch.ones(bsz, seq, dtype=torch.float)
    for row, n in enumerate([seq, seq - 3, seq - 5, seq - 1][:bsz]):
        if left_pad:
            mask[row, :seq - n] = 0
        else:
            mask[row, n:] = 0
    types = (torch.arange(seq) >= seq // 2).long().expand(bsz, seq).clone()
    return ids, mask, types


def two_stream(bsz=4, seq=9, predict=2):
    perm = torch.zeros(bsz, seq, seq)
    perm[:, :, -predict:] = 1.0  # nobody sees the last tokens
    perm[1, 2, 3] = 1.0
    target = torch.zeros(bsz, predict, seq)
    for p in range(predict):
        target[:, p, seq - predict + p] = 1.0
    return perm, target


def flat(x):
    if x is None or isinstance(x, torch.Tensor):
        return [x]
    return [y for item in x for y in flat(item)]


def compare(ours, ref, path="output", atol=ATOL):
    a, b = flat(ours), flat(ref)
    assert len(a) == len(b), f"{path}: {len(a)} tensors, the reference has {len(b)}"
    for i, (x, y) in enumerate(zip(a, b)):
        if y is None:
            assert x is None, f"{path}[{i}]: expected None"
            continue
        assert x is not None and x.shape == y.shape, f"{path}[{i}]: shape {getattr(x, 'shape', None)} != {y.shape}"
        if not x.is_floating_point():
            assert torch.equal(x, y), f"{path}[{i}]: indices differ"
            continue
        diff = (x.detach().float() - y.detach().float()).abs().max().item() if x.numel() else 0.0
        assert diff <= atol, f"{path}[{i}]: max abs diff {diff:.3g} > {atol}"


def compare_outputs(kind, ours, ref, skip_mems=False):
    """1.2.0's tuples position by position; transformers' outputs field by field."""
    if kind == "pt":
        ours_t, ref_t = list(ours), list(ref)
        if skip_mems:
            ours_t = [o for name, o in ours.items() if name != "mems"]
            ref_t = ref_t[:len(ours_t)]  # mems follows the main outputs; nothing else here
        compare(ours_t, ref_t)
        return
    for name in ref.keys():
        if name == "mems" and skip_mems:
            continue
        compare(getattr(ours, name), ref[name], path=name)


@pytest.fixture
def fast_calls(monkeypatch):
    """Counts the fast path's layer calls and ops.relative_attention calls."""
    calls = {"layer": 0, "relative_attention": 0}
    layer, attention = fast_xlnet.XLNetFastPath.layer, fast_xlnet.ops.relative_attention

    def counted_layer(self, *a, **k):
        calls["layer"] += 1
        return layer(self, *a, **k)

    def counted_attention(*a, **k):
        calls["relative_attention"] += 1
        return attention(*a, **k)

    monkeypatch.setattr(fast_xlnet.XLNetFastPath, "layer", counted_layer)
    monkeypatch.setattr(fast_xlnet.ops, "relative_attention", counted_attention)
    return calls


def head_kwargs(class_name, labels, seq=9, bsz=4):
    if not labels:
        return {}
    if class_name == "XLNetLMHeadModel":
        return dict(labels=torch.randint(0, VOCAB, (bsz, seq), generator=torch.Generator().manual_seed(5)))
    if class_name == "XLNetForSequenceClassification":
        return dict(labels=torch.tensor([0, 2, 1, 1][:bsz]))
    if class_name == "XLNetForQuestionAnswering":
        return dict(start_positions=torch.tensor([1, 4, 6, 2][:bsz]), end_positions=torch.tensor([3, 5, 8, 2][:bsz]),
                    cls_index=torch.tensor([8] * bsz), is_impossible=torch.tensor([0.0, 1.0, 0.0, 1.0][:bsz]))
    return {}


# ---- every class, padded batches, token types, both references ------------------------------------------------

@pytest.mark.parametrize("kind", ["pt", "hf"])
@pytest.mark.parametrize("class_name", CLASSES)
@pytest.mark.parametrize("labels", [False, True])
def test_padded_batch_with_token_types_equals_reference(kind, class_name, labels, tmp_path, fast_calls):
    if class_name == "XLNetModel" and labels:
        pytest.skip("no labels")
    ref = reference(kind, class_name)
    ours = ours_from(ref, tmp_path)
    ids, mask, types = batch()
    extra = head_kwargs(class_name, labels)
    with torch.no_grad():
        got = ours(ids, token_type_ids=types, attention_mask=mask, **extra)
        want = ref(ids, token_type_ids=types, attention_mask=mask, **extra)
    compare_outputs(kind, got, want, skip_mems=kind == "hf")
    assert fast_calls["layer"] == TINY["n_layer"] and fast_calls["relative_attention"] == TINY["n_layer"]
    # input_mask (1 = padding), the original code's form of the same mask
    with torch.no_grad():
        got = ours(ids, token_type_ids=types, input_mask=1.0 - mask, **extra)
    compare_outputs(kind, got, want, skip_mems=kind == "hf")


@pytest.mark.parametrize("kind", ["pt", "hf"])
@pytest.mark.parametrize("class_name", ["XLNetModel", "XLNetLMHeadModel"])
@pytest.mark.parametrize("with_perm_mask", [True, False])
def test_two_stream_perm_mask_and_target_mapping(kind, class_name, with_perm_mask, tmp_path, fast_calls):
    ref = reference(kind, class_name)
    ours = ours_from(ref, tmp_path)
    ids, mask, types = batch()
    perm, target = two_stream()
    kwargs = dict(attention_mask=mask, perm_mask=perm if with_perm_mask else None, target_mapping=target,
                  token_type_ids=types)
    with torch.no_grad():
        got, want = ours(ids, **kwargs), ref(ids, **kwargs)
    assert got[0].shape[1] == 2
    compare_outputs(kind, got, want, skip_mems=kind == "hf")
    assert fast_calls["relative_attention"] == 2 * TINY["n_layer"]  # content and query streams


@pytest.mark.parametrize("kind", ["pt", "hf"])
@pytest.mark.parametrize("reuse_len", [None, 4])
def test_mems_across_two_segments(kind, reuse_len, tmp_path, fast_calls):
    ref = reference(kind, "XLNetLMHeadModel", mem_len=6, reuse_len=reuse_len)
    ours = ours_from(ref, tmp_path)
    ids, mask, types = batch(seq=9)
    with torch.no_grad():
        first_ours, first_ref = ours(ids[:, :5]), ref(ids[:, :5])
        compare_outputs(kind, first_ours, first_ref)
        second_ours = ours(ids[:, 5:], mems=first_ours[1], token_type_ids=types[:, 5:])
        second_ref = ref(ids[:, 5:], mems=first_ref[1], token_type_ids=types[:, 5:])
    compare_outputs(kind, second_ours, second_ref)
    assert second_ours.mems[0].shape == second_ref[1][0].shape


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("use_mems", [dict(use_mems_eval=False), dict(use_mems_train=True), dict()])
def test_use_mems_defaults_of_a_transformers_config(training, use_mems, tmp_path):
    # transformers returns mems by default as its config's use_mems_eval (True) / use_mems_train (False) say
    ref = reference("hf", "XLNetLMHeadModel", mem_len=4, dropout=0.0, **use_mems)
    ours = ours_from(ref, tmp_path)
    ref.train(training)
    ours.train(training)
    ids, mask, _ = batch()
    with torch.set_grad_enabled(training):
        got, expected = ours(ids, attention_mask=mask), ref(ids, attention_mask=mask)
    assert list(got.keys()) == list(expected.keys())
    compare_outputs("hf", got, expected)


@pytest.mark.parametrize("kind", ["pt", "hf"])
@pytest.mark.parametrize("variant", [dict(attn_type="uni"), dict(bi_data=True), dict(clamp_len=3),
                                     dict(same_length=True, attn_type="uni"), dict(ff_activation="relu")])
def test_config_variants(kind, variant, tmp_path, fast_calls):
    ref = reference(kind, "XLNetModel", mem_len=4, **variant)
    ours = ours_from(ref, tmp_path)
    ids, mask, types = batch()
    with torch.no_grad():
        first_ours, first_ref = ours(ids[:, :5]), ref(ids[:, :5])
        kwargs = dict(token_type_ids=types[:, 5:])
        if variant.get("attn_type") != "uni":  # 1.2.0 fails with a data mask on "uni" for batch > 1
            kwargs["attention_mask"] = mask[:, 5:]
        got = ours(ids[:, 5:], mems=first_ours[1], **kwargs)
        want = ref(ids[:, 5:], mems=first_ref[1], **kwargs)
    compare_outputs(kind, first_ours, first_ref)
    compare_outputs(kind, got, want)
    assert fast_calls["layer"] == 2 * TINY["n_layer"]


def test_uni_with_padding_and_batch_runs(tmp_path):
    """1.2.0 raises here (an in-place broadcast); we give what it gives one sequence at a time."""
    ref = reference("pt", "XLNetModel", attn_type="uni")
    ours = ours_from(ref, tmp_path)
    ids, mask, _ = batch()
    with torch.no_grad():
        got = ours(ids, attention_mask=mask)[0]
        for row in range(ids.shape[0]):
            compare(got[row:row + 1], ref(ids[row:row + 1], attention_mask=mask[row:row + 1])[0])


# ---- the plain path: training, head_mask, attentions, hidden states ------------------------------------------

def test_plain_path_head_mask_attentions_hidden_states_equal_1_2_0(tmp_path):
    ref = reference("pt", "XLNetModel", output_attentions=True, output_hidden_states=True)
    ours = ours_from(ref, tmp_path)
    ids, mask, types = batch()
    head_mask = torch.tensor([[1.0, 0.0, 1.0, 0.5], [0.0, 1.0, 1.0, 1.0]])
    with torch.no_grad():
        got = ours(ids, attention_mask=mask, token_type_ids=types, head_mask=head_mask)
        want = ref(ids, attention_mask=mask, token_type_ids=types, head_mask=head_mask)
    assert len(got.attentions) == 2 and got.attentions[0].shape == (4, 4, 9, 9)
    compare(list(got), list(want))
    # hidden states on the fast path (no attentions asked)
    with torch.no_grad():
        got = ours(ids, attention_mask=mask, token_type_ids=types, output_attentions=False)
        want = ref(ids, attention_mask=mask, token_type_ids=types)
    compare(got.hidden_states, want[2])


@pytest.mark.parametrize("class_name", CLASSES)
def test_training_gradients_equal_1_2_0(class_name, tmp_path):
    ref = reference("pt", class_name, dropout=0.0, summary_last_dropout=0.0)
    ours = ours_from(ref, tmp_path)
    ours.train()
    ref.train()
    ids, mask, types = batch()
    extra = head_kwargs(class_name, True) or dict(perm_mask=two_stream()[0], target_mapping=two_stream()[1])
    got = ours(ids, attention_mask=mask, token_type_ids=types, **extra)
    want = ref(ids, attention_mask=mask, token_type_ids=types, **extra)
    got[0].sum().backward()
    want[0].sum().backward()
    compare(got[0], want[0])
    grads = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        if p.grad is not None or grads[name].grad is not None:
            compare(p.grad, grads[name].grad, path=f"grad {name}", atol=1e-4)


# ---- QA: top-k beam outputs with p_mask, losses ----------------------------------------------------------------

@pytest.mark.parametrize("kind", ["pt", "hf"])
def test_question_answering_top_k_with_p_mask(kind, tmp_path):
    ref = reference(kind, "XLNetForQuestionAnswering")
    ours = ours_from(ref, tmp_path)
    ids, mask, types = batch()
    p_mask = torch.zeros(4, 9)
    p_mask[:, :2] = 1.0
    with torch.no_grad():
        got = ours(ids, attention_mask=mask, token_type_ids=types, p_mask=p_mask, cls_index=torch.tensor([8, 7, 8, 6]))
        want = ref(ids, attention_mask=mask, token_type_ids=types, p_mask=p_mask, cls_index=torch.tensor([8, 7, 8, 6]))
    assert got.start_top_index.shape == (4, 3) and got.end_top_log_probs.shape == (4, 6)
    compare_outputs(kind, got, want, skip_mems=kind == "hf")


def test_squad_head_of_modeling_utils_equals_1_2_0():
    from pytorch_transformers import modeling_utils as ref_utils

    from transformers_fast.modeling_utils import SQuADHead

    config = tf.XLNetConfig(VOCAB, **TINY)
    torch.manual_seed(0)
    ref = ref_utils.SQuADHead(config).eval()
    ours = SQuADHead(config).eval()
    ours.load_state_dict(ref.state_dict())
    hidden = torch.randn(3, 7, 32)
    with torch.no_grad():
        compare(ours(hidden), ref(hidden))
        positions = dict(start_positions=torch.tensor([1, 2, 3]), end_positions=torch.tensor([2, 2, 5]),
                         cls_index=torch.tensor([6, 6, 0]), is_impossible=torch.tensor([0.0, 1.0, 0.0]))
        compare(ours(hidden, **positions), ref(hidden, **positions))


# ---- loading, saving, grad modes, tracing ------------------------------------------------------------------------

# "gelu": transformers' default, its erf GELU: a folder transformers saved is read with transformers' meaning
@pytest.mark.parametrize("safe,activation", [(False, "gelu_new"), (True, "gelu_new"), (True, "gelu")])
def test_save_pretrained_round_trip_and_transformers_reads_it(safe, activation, tmp_path):
    import transformers

    ref = reference("hf", "XLNetLMHeadModel", ff_activation=activation)
    ours = ours_from(ref, tmp_path / "ref", safe_serialization=safe)
    ours.save_pretrained(str(tmp_path / "ours"), safe_serialization=safe)
    again = tf.XLNetLMHeadModel.from_pretrained(str(tmp_path / "ours"))
    theirs = transformers.XLNetLMHeadModel.from_pretrained(str(tmp_path / "ours")).eval()
    ids, mask, _ = batch()
    with torch.no_grad():
        want = ref(ids, attention_mask=mask).logits
        compare(again(ids, attention_mask=mask).logits, want)
        compare(theirs(ids, attention_mask=mask).logits, want)
    assert again.lm_loss.weight is again.transformer.word_embedding.weight
    # 1.2.0's constructor given the file reads it as from_pretrained does (with transformers' meaning)
    by_constructor = tf.XLNetConfig(str(tmp_path / "ref" / "config.json"))
    assert by_constructor.ff_activation == again.config.ff_activation != ("gelu" if activation == "gelu" else None)


def test_logits_to_keep_equals_transformers(tmp_path):
    ref = reference("hf", "XLNetLMHeadModel")
    ours = ours_from(ref, tmp_path)
    ids, mask, _ = batch()
    with torch.no_grad():
        for keep in (1, 2, 0, torch.tensor([0, 3])):
            compare(ours(ids, attention_mask=mask, logits_to_keep=keep).logits,
                    ref(ids, attention_mask=mask, logits_to_keep=keep).logits)
    with pytest.raises(ValueError, match="logits_to_keep"):
        ours(ids, labels=ids, logits_to_keep=1)


def test_base_checkpoint_into_head_model_and_back(tmp_path):
    ref = reference("pt", "XLNetLMHeadModel")
    ref.save_pretrained(str(tmp_path))
    base = tf.XLNetModel.from_pretrained(str(tmp_path))  # a checkpoint with a head into the base model
    ids, _, _ = batch()
    with torch.no_grad():
        compare(base(ids)[0], ref.transformer(ids)[0])


@pytest.fixture(scope="module")
def saved_pt(tmp_path_factory):
    path = tmp_path_factory.mktemp("xlnet_pt")
    ref = reference("pt", "XLNetForSequenceClassification")
    ref.save_pretrained(str(path))
    return str(path), ref


MODES = {"inference": torch.inference_mode, "no_grad": torch.no_grad, "grad": torch.enable_grad}


@pytest.mark.parametrize("load_in,first,second", [("inference", "grad", "no_grad"), ("no_grad", "inference", "grad"),
                                                  ("grad", "no_grad", "inference"), ("inference", "inference", "grad")])
def test_any_order_of_grad_modes(saved_pt, load_in, first, second):
    path, ref = saved_pt
    with MODES[load_in]():
        model = tf.XLNetForSequenceClassification.from_pretrained(path)
    ids, mask, types = batch()
    with torch.no_grad():
        want = ref(ids, attention_mask=mask, token_type_ids=types)[0]
    for mode in (first, second):
        with MODES[mode]():
            got = model(ids, attention_mask=mask, token_type_ids=types)[0]
        compare(got, want, path=f"{load_in} -> {mode}")
        if mode == "grad":
            assert got.requires_grad


def test_torchscript_trace_equals_1_2_0(saved_pt):
    path, ref = saved_pt
    model = tf.XLNetForSequenceClassification.from_pretrained(path, torchscript=True)
    ids, mask, types = batch()
    traced = torch.jit.trace(model, example_kwarg_inputs=dict(input_ids=ids, token_type_ids=types, attention_mask=mask),
                             check_trace=False)
    ids2, mask2, types2 = batch(seed=7)
    with torch.no_grad():
        got = traced(input_ids=ids2, token_type_ids=types2, attention_mask=mask2)[0]
        compare(got, ref(ids2, token_type_ids=types2, attention_mask=mask2)[0])


# ---- fast-path bookkeeping and pieces ------------------------------------------------------------------------------

def test_fast_path_follows_weight_changes_and_is_skipped_when_grad_is_needed(tmp_path, fast_calls):
    ref = reference("pt", "XLNetModel")
    ours = ours_from(ref, tmp_path)
    ids, mask, types = batch()
    with torch.no_grad():
        ours(ids)
        compare(ours(ids[:, :6])[0], ref(ids[:, :6])[0])  # other lengths: other position projections
        for model in (ours, ref):
            model.layer[1].rel_attn.q.mul_(1.5)
            model.layer[1].rel_attn.r.mul_(1.5)  # the kept position projections are dropped too
            model.layer[0].ff.layer_1.bias.add_(0.3)
        compare(ours(ids, attention_mask=mask)[0], ref(ids, attention_mask=mask)[0])
    assert fast_calls["layer"] == 3 * TINY["n_layer"]
    out = ours(ids)[0]  # grad enabled, parameters require grad: the plain path
    assert out.requires_grad and fast_calls["layer"] == 3 * TINY["n_layer"]
    ours.fast.enabled = False
    with torch.no_grad():
        compare(ours(ids, attention_mask=mask)[0], ref(ids, attention_mask=mask)[0])
    assert fast_calls["layer"] == 3 * TINY["n_layer"]


def test_position_projections_are_kept_per_length(tmp_path, monkeypatch):
    ref = reference("pt", "XLNetModel", bi_data=True)
    ours = ours_from(ref, tmp_path)
    ids, mask, _ = batch()
    projected = []
    original = fast_xlnet.linear
    monkeypatch.setattr(fast_xlnet, "linear", lambda x, p: projected.append(p) or original(x, p))
    with torch.no_grad():
        for _ in range(2):
            compare(ours(ids, attention_mask=mask)[0], ref(ids, attention_mask=mask)[0])
    r_calls = [p for p in projected if any(p is layer.r for layer in ours.fast.layers())]
    assert len(r_calls) == TINY["n_layer"]  # the second forward reuses them


def test_ops_bias_gelu_tanh_is_1_2_0_gelu():
    from pytorch_transformers.modeling_xlnet import gelu as ref_gelu

    from transformers_fast import ops

    x, b = torch.randn(37, 300) * 3, torch.randn(300)
    compare(ops.bias_gelu(x, b, approximate="tanh"), ref_gelu(x + b), atol=1e-5)
    from transformers_fast.modeling_xlnet import gelu

    compare(gelu(x), ref_gelu(x), atol=1e-6)


# ---- configuration -------------------------------------------------------------------------------------------------

def test_config_defaults_names_and_json_path_as_1_2_0(tmp_path):
    import json

    import pytorch_transformers as pt

    ours, ref = tf.XLNetConfig(), pt.XLNetConfig()
    for name in ("n_token", "d_model", "n_layer", "n_head", "d_head", "d_inner", "ff_activation", "untie_r",
                 "attn_type", "initializer_range", "layer_norm_eps", "dropout", "mem_len", "reuse_len", "bi_data",
                 "clamp_len", "same_length", "finetuning_task", "num_labels", "summary_type", "summary_use_proj",
                 "summary_activation", "summary_last_dropout", "start_n_top", "end_n_top", "vocab_size",
                 "hidden_size", "num_attention_heads", "num_hidden_layers", "max_position_embeddings"):
        assert getattr(ours, name) == getattr(ref, name), name
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"n_token": 77, "d_model": 16, "n_head": 2, "n_layer": 1, "d_inner": 20,
                                "max_position_embeddings": 512}))
    config = tf.XLNetConfig(str(path))
    assert (config.vocab_size, config.d_head, config.max_position_embeddings) == (77, 8, -1)
    tf.XLNetModel(config)  # builds
    assert tf.XLNetConfig.from_dict(tf.XLNetConfig(50, d_model=8, n_head=2).to_dict()).n_token == 50


@pytest.mark.parametrize("bad", [dict(d_model=30, n_head=4), dict(attn_type="both"), dict(ff_activation="elu"),
                                 dict(mem_len=-1), dict(dropout=2.0), dict(summary_type="attn"), dict(d_head=7),
                                 dict(start_n_top=0)])
def test_config_values_a_model_cannot_be_built_with(bad):
    kwargs = dict(TINY)
    kwargs.update(bad)
    with pytest.raises(ValueError):
        tf.XLNetModel(tf.XLNetConfig(VOCAB, **kwargs))


@pytest.mark.parametrize("name,layers,hidden,heads,millions", [("xlnet-base-cased", 12, 768, 12, 110),
                                                               ("xlnet-large-cased", 24, 1024, 16, 340)])
def test_shipped_configs(name, layers, hidden, heads, millions, monkeypatch):
    import transformers

    from transformers_fast.modeling_utils import no_weight_init

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    config = tf.XLNetConfig.from_pretrained(name)
    assert (config.n_layer, config.d_model, config.n_head, config.n_token) == (layers, hidden, heads, 32000)
    assert config.ff_activation == "gelu" and config.mem_len is None
    with torch.device("meta"), no_weight_init():
        ours = tf.XLNetLMHeadModel(config).num_parameters()
    with torch.device("meta"):
        theirs = transformers.XLNetLMHeadModel(transformers.XLNetConfig.from_dict(config.to_dict())).num_parameters()
    assert ours == theirs and abs(ours / 1e6 - millions) / millions < 0.08


# ---- bad input -------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_model():
    return tf.XLNetLMHeadModel(tf.XLNetConfig(VOCAB, **TINY)).eval()


@pytest.mark.parametrize("case", ["float ids", "id too big", "1-d ids", "empty", "both masks", "mask shape",
                                  "perm shape", "target shape", "mems length", "mems shape", "types shape",
                                  "labels shape", "list ids", "odd batch bi_data"])
def test_bad_input_raises_clear_errors(tiny_model, case):
    ids = torch.randint(0, VOCAB, (2, 5))
    kwargs, model = {}, tiny_model
    if case == "float ids":
        ids = ids.float()
    elif case == "id too big":
        ids[0, 0] = VOCAB
    elif case == "1-d ids":
        ids = ids[0]
    elif case == "empty":
        ids = ids[:, :0]
    elif case == "both masks":
        kwargs = dict(attention_mask=torch.ones(2, 5), input_mask=torch.zeros(2, 5))
    elif case == "mask shape":
        kwargs = dict(attention_mask=torch.ones(2, 4))
    elif case == "perm shape":
        kwargs = dict(perm_mask=torch.zeros(2, 5, 4))
    elif case == "target shape":
        kwargs = dict(target_mapping=torch.zeros(2, 5))
    elif case == "mems length":
        kwargs = dict(mems=[torch.zeros(3, 2, 32)])
    elif case == "mems shape":
        kwargs = dict(mems=[torch.zeros(3, 2, 32), torch.zeros(3, 1, 32)])
    elif case == "types shape":
        kwargs = dict(token_type_ids=torch.zeros(2, 4, dtype=torch.long))
    elif case == "labels shape":
        kwargs = dict(labels=torch.zeros(2, 4, dtype=torch.long))
    elif case == "list ids":
        ids = [[1, 2, 3]]
    elif case == "odd batch bi_data":
        model = tf.XLNetModel(tf.XLNetConfig(VOCAB, bi_data=True, **TINY)).eval()
        ids = torch.randint(0, VOCAB, (3, 5))
    with pytest.raises((ValueError, TypeError)) as err:
        with torch.no_grad():
            model(ids, **kwargs)
    assert len(str(err.value)) > 10


@pytest.mark.parametrize("class_name", ["XLNetModel", "XLNetLMHeadModel"])
def test_seeded_training_forward_draws_1_2_0s_dropout_masks(class_name, tmp_path):
    """In train mode the attention dropout mask is drawn in 1.2.0's [qlen, klen, batch, heads] layout, so a
    seeded forward equals 1.2.0's (dropout 0.1)."""
    ref = reference("pt", class_name)
    ours = ours_from(ref, tmp_path)
    ref.train(), ours.train()
    ids, _, types = batch()
    torch.manual_seed(3)
    expected = ref(ids, token_type_ids=types)
    torch.manual_seed(3)
    compare(ours(ids, token_type_ids=types), expected)


def test_per_layer_head_mask_in_1_2_0s_layout(tmp_path):
    """1.2.0 multiplies layer i's attention probabilities [qlen, klen, batch, heads] by head_mask[i] whatever its
    shape: such a mask is moved to our [batch, heads, qlen, klen] layout."""
    ref = reference("pt", "XLNetLMHeadModel")
    ours = ours_from(ref, tmp_path).eval()
    ids, _, types = batch()
    g = torch.Generator().manual_seed(0)
    for shape in [(2, 1, 1, 4, 4), (2, 9, 9, 4, 1), (2, 1, 4, 4), (2, 4, 4)]:
        head_mask = torch.rand(shape, generator=g)
        with torch.no_grad():
            compare(ours(ids, token_type_ids=types, head_mask=head_mask),
                    ref(ids, token_type_ids=types, head_mask=head_mask))


@pytest.mark.parametrize("class_name", ["XLNetModel", "XLNetLMHeadModel", "XLNetForSequenceClassification"])
def test_empty_batch_no_targets_and_any_segment_ids_as_1_2_0(class_name, tmp_path):
    """A batch of no row and a target_mapping of no target give 1.2.0's empty outputs (the fused path included);
    segment ids are only compared for equality, so negative ones work as there."""
    ref = reference("pt", class_name)
    ours = ours_from(ref, tmp_path)
    ids, mask, types = batch()
    cases = [dict(input_ids=ids[:0], attention_mask=mask[:0]),
             dict(input_ids=ids, target_mapping=torch.zeros(ids.shape[0], 0, ids.shape[1]),
                  perm_mask=torch.zeros(ids.shape[0], ids.shape[1], ids.shape[1])),
             dict(input_ids=ids, attention_mask=mask, token_type_ids=types - 7)]
    if class_name == "XLNetForSequenceClassification":
        del cases[1]  # (its summary reads the last position of the output stream)
    for kwargs in cases:
        for grad in (False, True):
            with torch.set_grad_enabled(grad):
                got, want = ours(**kwargs), ref(**kwargs)
            compare_outputs("pt", got, want)
