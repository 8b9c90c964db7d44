"""The padding-free inference path: when it runs, what it returns at padded positions, and that its
derived (packed) weights follow the parameters."""
from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest
import torch

import transformers_fast as tf
from modeling_helpers import compare, hf_model, inputs
from transformers_fast.runtime import encoder as fast_encoder
from transformers_fast.runtime import fast_path
from transformers_fast.ops.layer import HAS_LAYER_KERNELS, bind_layer_weights

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FAMILIES = [("bert", "BertModel"), ("roberta", "RobertaModel"), ("distilbert", "DistilBertModel")]


def load(tmp_path, family, class_name):
    ref = hf_model(family, class_name)
    ref.save_pretrained(tmp_path)
    return ref, getattr(tf, class_name).from_pretrained(tmp_path)


def run(model, family, ids, mask, tt, **kw):
    if family == "bert":
        kw["token_type_ids"] = tt
    return model(ids, attention_mask=mask, **kw)


@pytest.mark.parametrize("family,class_name", FAMILIES)
def test_padded_positions_are_zero_and_real_ones_match(tmp_path, family, class_name):
    ref, ours = load(tmp_path, family, class_name)
    ids, mask, tt = inputs(family, batch=4, seq=11)
    mask[3, :] = 0  # a sequence with no real token at all
    mask[3, 0] = 1
    with torch.no_grad():
        fast = run(ours, family, ids, mask, tt, output_hidden_states=True)
        ours.fast.enabled = False
        plain = run(ours, family, ids, mask, tt, output_hidden_states=True)
        ours.fast.enabled = True
        kwargs = {"token_type_ids": tt} if family == "bert" else {}
        expected = ref(input_ids=ids, attention_mask=mask, output_hidden_states=True, **kwargs)
    padded = mask == 0
    for hidden in (fast.last_hidden_state,) + fast.hidden_states:
        assert hidden[padded].abs().max() == 0  # documented: zeros at padded positions
    compare(fast.last_hidden_state, expected.last_hidden_state, mask)
    compare(fast.hidden_states, expected.hidden_states, mask)
    compare(plain.last_hidden_state, expected.last_hidden_state)  # reference path: every position
    assert plain.last_hidden_state[padded].abs().max() > 0


def padded_case(tmp_path, family, class_name, side, monkeypatch):
    """The reference, our model, a batch padded on `side` (ids, mask, token types), and the list each run of the
    encoder's fast path appends to."""
    ref, ours = load(tmp_path, family, class_name)
    ids, mask, tt = inputs(family, batch=4, seq=11)
    if side == "left":
        mask = mask.flip(1)
    runs = []
    original = fast_encoder.EncoderFastPath._forward
    monkeypatch.setattr(fast_encoder.EncoderFastPath, "_forward", lambda *a, **k: runs.append(1) or original(*a, **k))
    return ref, ours, (ids, mask, tt), runs


@pytest.mark.parametrize("family,class_name", FAMILIES)
@pytest.mark.parametrize("side", ["right", "left"])
def test_without_padding_removal_every_position_equals_the_reference(tmp_path, family, class_name, side, monkeypatch):
    """`fast.remove_padding = False`: the fused path runs every position of a padded batch, so whole outputs equal
    the reference's (padded positions included); copies and pickles keep the setting."""
    import copy

    ref, ours, (ids, mask, tt), runs = padded_case(tmp_path, family, class_name, side, monkeypatch)
    ours.fast.remove_padding = False
    kwargs = {"token_type_ids": tt} if family == "bert" else {}
    with torch.no_grad():
        expected = ref(input_ids=ids, attention_mask=mask, output_hidden_states=True, **kwargs)
        for model in (ours, copy.deepcopy(ours)):
            got = run(model, family, ids, mask, tt, output_hidden_states=True)
            compare(got.last_hidden_state, expected.last_hidden_state)  # every position
            compare(got.hidden_states, expected.hidden_states)
    assert len(runs) == 2 and bool((mask == 0).any())


EVERY_POSITION_HEADS = [("bert", "BertForQuestionAnswering"), ("bert", "BertForTokenClassification"),
                        ("bert", "BertForMaskedLM"), ("bert", "BertForPreTraining"), ("roberta", "RobertaForMaskedLM"),
                        ("distilbert", "DistilBertForQuestionAnswering"), ("distilbert", "DistilBertForMaskedLM")]


@pytest.mark.parametrize("family,class_name", EVERY_POSITION_HEADS)
@pytest.mark.parametrize("side", ["right", "left"])
def test_heads_scoring_every_position_equal_the_reference_there(tmp_path, family, class_name, side, monkeypatch):
    """A padded position's score can outrank a real one (run_squad's n-best start / end indexes): heads that score
    every position give the reference's values at padded positions too, still on the fast path."""
    ref, ours, (ids, mask, tt), runs = padded_case(tmp_path, family, class_name, side, monkeypatch)
    with torch.no_grad():
        got = run(ours, family, ids, mask, tt)
        kwargs = {"token_type_ids": tt} if family == "bert" else {}
        expected = ref(input_ids=ids, attention_mask=mask, **kwargs)
    assert runs and bool((mask == 0).any())
    for name, value in expected.items():
        compare(getattr(got, name), value)  # every position


@pytest.mark.parametrize("family,class_name", FAMILIES)
def test_fast_path_only_for_inference(tmp_path, family, class_name):
    _, ours = load(tmp_path, family, class_name)
    ids, mask, tt = inputs(family)
    with torch.no_grad():
        assert ours.fast.usable(ids, mask, None, False)
        assert not ours.fast.usable(ids, mask, torch.ones(4), False)
        assert not ours.fast.usable(ids, mask, None, True)
        assert not ours.fast.usable(ids, mask.float() * 0.5, None, False)  # soft masks: reference path
    assert not ours.fast.usable(ids, mask, None, False)  # grad enabled and parameters require grad
    ours.train()
    with torch.no_grad():
        assert not ours.fast.usable(ids, mask, None, False)
    out = run(ours.eval(), family, ids, mask, tt)[0]
    assert out.requires_grad  # eval without no_grad keeps autograd, like the reference


def test_packed_weights_follow_parameter_changes(tmp_path):
    ref, ours = load(tmp_path, "bert", "BertModel")
    ids, mask, tt = inputs("bert")
    with torch.no_grad():
        before = ours(ids, tt, mask)[0]
        for model in (ours, ref):  # in-place edit of a weight
            model.encoder.layer[1].intermediate.dense.weight.mul_(1.5)
            model.encoder.layer[0].attention.self.key.bias.add_(0.3)
        after = ours(ids, tt, mask)[0]
        expected = ref(input_ids=ids, attention_mask=mask, token_type_ids=tt)[0]
    assert (after - before).abs().max() > 1e-2
    compare(after, expected, mask)
    # a parameter replaced by a new one
    new_weight = torch.nn.Parameter(ref.encoder.layer[0].output.dense.weight.detach() * -1.0)
    ref.encoder.layer[0].output.dense.weight = new_weight
    ours.encoder.layer[0].output.dense.weight = torch.nn.Parameter(new_weight.detach().clone())
    with torch.no_grad():
        compare(ours(ids, tt, mask)[0], ref(input_ids=ids, attention_mask=mask, token_type_ids=tt)[0], mask)
    # load_state_dict copies new values in place
    state = {k: v * 0.9 for k, v in ref.state_dict().items() if "position_ids" not in k}
    ref.load_state_dict(state, strict=False)
    ours.load_state_dict({k: v for k, v in state.items() if k in ours.state_dict()})
    with torch.no_grad():
        compare(ours(ids, tt, mask)[0], ref(input_ids=ids, attention_mask=mask, token_type_ids=tt)[0], mask)


def test_pooler_runs_packed_and_follows_changes(tmp_path):
    ref, ours = load(tmp_path, "bert", "BertModel")
    ids, mask, tt = inputs("bert")
    kwargs = dict(input_ids=ids, attention_mask=mask, token_type_ids=tt)
    with torch.no_grad():
        compare(ours(ids, tt, mask)[1], ref(**kwargs)[1])
        assert ours.fast._pooler is not None  # the fast path's packed pooler served that call
        for model in (ours, ref):  # in-place edit
            model.pooler.dense.bias.add_(0.5)
        compare(ours(ids, tt, mask)[1], ref(**kwargs)[1])
        # a replaced module (another activation too): the module itself runs
        dense = torch.nn.Linear(ours.config.hidden_size, ours.config.hidden_size)
        ref.pooler.dense = dense
        ref.pooler.activation = torch.nn.Identity()
        ours.pooler.dense = dense
        ours.pooler.activation = torch.nn.Identity()
        compare(ours(ids, tt, mask)[1], ref(**kwargs)[1])


def test_unpadded_and_all_ones_mask_agree(tmp_path):
    ref, ours = load(tmp_path, "bert", "BertModel")
    ids, mask, tt = inputs("bert", padded=False)
    with torch.no_grad():
        a = ours(ids, tt)[0]
        b = ours(ids, tt, torch.ones_like(ids))[0]
        expected = ref(input_ids=ids, token_type_ids=tt)[0]
    compare(a, expected)
    compare(b, expected)


def test_inference_mode(tmp_path):
    ref, ours = load(tmp_path, "bert", "BertModel")
    ids, mask, tt = inputs("bert")
    with torch.inference_mode():
        got = ours(ids, tt, mask)[0]
        again = ours(ids, tt, mask)[0]
        expected = ref(input_ids=ids, attention_mask=mask, token_type_ids=tt)[0]
    compare(got, expected, mask)
    compare(again, expected, mask)


@pytest.mark.parametrize("family,class_name", FAMILIES)
def test_sequence_without_real_tokens(tmp_path, family, class_name):
    ref, ours = load(tmp_path, family, class_name)
    ids, mask, tt = inputs(family, batch=3)
    mask[1] = 0
    with torch.no_grad():
        got = run(ours, family, ids, mask, tt)[0]
        kwargs = {"token_type_ids": tt} if family == "bert" else {}
        expected = ref(input_ids=ids, attention_mask=mask, **kwargs)[0]
        ours.fast.enabled = False
        plain = run(ours, family, ids, mask, tt)[0]
    # such a row attends over every position in the reference: the whole batch runs the reference path
    assert torch.equal(got, plain)
    compare(got, expected, mask)


def test_copy_and_pickle(tmp_path):
    import copy
    import io

    ref, ours = load(tmp_path, "bert", "BertModel")
    ids, mask, tt = inputs("bert")
    with torch.no_grad():
        before = ours(ids, tt, mask)[0]  # builds packed weights
        clone = copy.deepcopy(ours)
        assert clone.fast.model is clone
        buffer = io.BytesIO()
        torch.save(ours, buffer)
        buffer.seek(0)
        unpickled = torch.load(buffer, weights_only=False)
        for model in (clone, unpickled):
            compare(model(ids, tt, mask)[0], before)


MALLOC_PROBE = """if True:
    import resource, sys, torch
    import transformers_fast
    if sys.argv[1] == "opt-in":
        first, second = transformers_fast.keep_freed_activation_memory(), transformers_fast.keep_freed_activation_memory()
        assert (first, second) == (True, False), (first, second)  # once per process
    def faults_of_a_fresh_buffer(mb):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        torch.empty(mb << 18).fill_(1.0)  # allocated, touched, freed
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    # A larger block first: an 8 MB buffer fits in it with its alignment slack (a freed 8 MB buffer alone can be a
    # few bytes short of the next one, which then comes from fresh memory).
    faults_of_a_fresh_buffer(16)
    print(faults_of_a_fresh_buffer(8))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc", reason="glibc only")
@pytest.mark.parametrize("opt_in", [False, True])
def test_freed_activation_memory_is_reused_when_asked(opt_in):
    def probe():
        result = subprocess.run([sys.executable, "-c", MALLOC_PROBE, "opt-in" if opt_in else "no"],
                                capture_output=True, text=True, check=True, env=dict(os.environ, PYTHONPATH=REPO))
        return int(result.stdout)

    if not opt_in:  # left alone: glibc hands the buffer back and faults it in again
        assert probe() > 1000
    else:  # reused (a few tries: the heap's layout differs from run to run)
        assert any(probe() < 100 for _ in range(3))


@pytest.fixture
def mallopt_calls(monkeypatch):
    """Records mallopt calls instead of making them, with the once-per-process state reset."""
    from transformers_fast.runtime import fast_path

    calls = []
    monkeypatch.setattr(fast_path, "_mallopt", lambda param, value: calls.append((param, value)) or True)
    monkeypatch.setattr(fast_path, "_malloc_done", False)
    monkeypatch.delenv(fast_path.MALLOC_ENV, raising=False)
    return calls


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc", reason="glibc only")
@pytest.mark.parametrize("family,class_name", [FAMILIES[0], ("gpt2", "GPT2LMHeadModel")])
def test_a_forward_leaves_malloc_alone_unless_asked(tmp_path, family, class_name, mallopt_calls, monkeypatch):
    if family == "gpt2":
        from gpt_helpers import hf_gpt
        ref = hf_gpt("gpt2", class_name)
        ref.save_pretrained(tmp_path)
        model = getattr(tf, class_name).from_pretrained(tmp_path).eval()
        forward = lambda: model.generate(torch.tensor([[1, 2, 3]]), max_length=5)  # noqa: E731
    else:
        model = load(tmp_path, family, class_name)[1].eval()
        ids, mask, tt = inputs(family, batch=2, seq=7)
        mask[1, 3:] = 0
        forward = lambda: model(ids, attention_mask=mask)  # noqa: E731
    with torch.no_grad():
        forward()
    assert mallopt_calls == []
    model.fast.invalidate()
    monkeypatch.setenv("TRANSFORMERS_FAST_MALLOC", "keep")  # the environment's opt-in: on the next build
    with torch.no_grad():
        forward()
    assert mallopt_calls == [(-3, 32 << 20), (-1, 128 << 20)]  # M_MMAP_THRESHOLD, M_TRIM_THRESHOLD


def test_malloc_opt_in_function_and_bad_setting(mallopt_calls, monkeypatch):
    from transformers_fast.runtime import fast_path

    assert tf.keep_freed_activation_memory() is True and tf.keep_freed_activation_memory() is False
    assert mallopt_calls == [(-3, 32 << 20), (-1, 128 << 20)]
    monkeypatch.setenv("TRANSFORMERS_FAST_MALLOC", "sometimes")
    with pytest.raises(ValueError, match="TRANSFORMERS_FAST_MALLOC='sometimes': expected one of default, keep"):
        fast_path.apply_malloc_setting()


@pytest.mark.parametrize("family,class_name", FAMILIES)
def test_big_batches_run_in_groups_of_whole_sequences(tmp_path, family, class_name, monkeypatch):
    from transformers_fast.runtime import encoder as fast_encoder

    ref, ours = load(tmp_path, family, class_name)
    ids, mask, tt = inputs(family, batch=5, seq=11)
    mask[1, 4:] = 0
    mask[3, :] = 0  # no real token
    mask[3, 0] = 1
    groups = []
    split = fast_encoder.sequence_groups
    monkeypatch.setattr(fast_encoder, "GROUP_TOKENS", 12)
    monkeypatch.setattr(fast_encoder, "sequence_groups", lambda *a: groups.append(split(*a)) or groups[-1])
    with torch.no_grad():
        fast = run(ours, family, ids, mask, tt, output_hidden_states=True)
        kwargs = {"token_type_ids": tt} if family == "bert" else {}
        expected = ref(input_ids=ids, attention_mask=mask, output_hidden_states=True, **kwargs)
    lengths = mask.sum(1).tolist()
    assert len(groups) == 1 and len(groups[0]) > 1
    seen, end = [], 0
    for first, stop in groups[0]:  # whole consecutive sequences, at most 12 tokens unless one alone
        assert first == end
        group_lengths, end = lengths[first:stop], stop
        assert sum(group_lengths) <= 12 or len(group_lengths) == 1
        seen += group_lengths
    assert seen == lengths
    compare(fast.last_hidden_state, expected.last_hidden_state, mask)
    compare(fast.hidden_states, expected.hidden_states, mask)


@pytest.fixture
def forced_panel(monkeypatch):
    """Every PackedLinear on the panel GEMM (so that the layers qualify for the one-call C++ layer)."""
    from transformers_fast.ops import packed_linear

    monkeypatch.setenv(packed_linear.ENV, "panel")
    monkeypatch.setattr(packed_linear, "_forced", packed_linear._UNREAD)
    yield


@pytest.mark.skipif(not HAS_LAYER_KERNELS, reason="C++ encoder layer not built")
@pytest.mark.parametrize("family,class_name", FAMILIES)
def test_one_call_layer_matches_reference(tmp_path, family, class_name, forced_panel, monkeypatch, isa):
    ref, ours = load(tmp_path, family, class_name)
    calls = []
    original = fast_encoder.fused_layer
    monkeypatch.setattr(fast_encoder, "fused_layer", lambda *a: calls.append(a[1].shape[0]) or original(*a))
    ids, mask, tt = inputs(family, batch=4, seq=13)
    mask[3, :] = 0  # a sequence with one real token
    mask[3, 0] = 1
    kwargs = {"token_type_ids": tt} if family == "bert" else {}
    with torch.no_grad():
        got = run(ours, family, ids, mask, tt, output_hidden_states=True)
        expected = ref(input_ids=ids, attention_mask=mask, output_hidden_states=True, **kwargs)
    assert calls and set(calls) == {int(mask.sum())}  # every layer in one call, on the packed tokens
    compare(got.hidden_states, expected.hidden_states, mask)
    compare(got.last_hidden_state, expected.last_hidden_state, mask)
    # Above the token limit the layers run op by op, with the same results.
    monkeypatch.setattr(fast_encoder, "FUSED_MAX_TOKENS", 4)
    calls.clear()
    with torch.no_grad():
        compare(run(ours, family, ids, mask, tt)[0], expected.last_hidden_state, mask)
    assert not calls


@pytest.mark.skipif(not HAS_LAYER_KERNELS, reason="C++ encoder layer not built")
@pytest.mark.parametrize("family,class_name", FAMILIES)
def test_one_call_layer_bfloat16_equals_op_by_op(tmp_path, family, class_name, forced_panel, monkeypatch, isa):
    """A bfloat16 model's small batches run each layer as one C++ call too: the same kernels as op by op, in
    the same order, so the same bits (the accuracy against transformers in bf16: test_low_precision)."""
    _, ours = load(tmp_path, family, class_name)
    ours.to(torch.bfloat16)
    calls = []
    original = fast_encoder.fused_layer
    monkeypatch.setattr(fast_encoder, "fused_layer", lambda *a: calls.append(a[1].dtype) or original(*a))
    ids, mask, tt = inputs(family, batch=3, seq=11)
    mask[2, 5:] = 0
    with torch.no_grad():
        got = run(ours, family, ids, mask, tt, output_hidden_states=True)
        assert calls and set(calls) == {torch.bfloat16}
        monkeypatch.setattr(fast_encoder, "FUSED_MAX_TOKENS", 4)
        calls.clear()
        op_by_op = run(ours, family, ids, mask, tt, output_hidden_states=True)
    assert not calls
    assert got.last_hidden_state.dtype == torch.bfloat16
    for a, b in zip(got.hidden_states + (got.last_hidden_state,),
                    op_by_op.hidden_states + (op_by_op.last_hidden_state,)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    from transformers_fast.ops import _backend as B

    bound = ours.fast.layers()[0].bound()
    hidden = ours.config.dim if family == "distilbert" else ours.config.hidden_size
    x, cu = torch.randn(4, hidden), torch.tensor([0, 4])
    with pytest.raises(ValueError, match="x: expected bfloat16"):
        B._C.encoder_layer(x, cu, bound, torch.empty_like(x), 0.125)
    with pytest.raises(ValueError, match="x: expected bfloat16"):
        B._C.decoder_layer_step(x, torch.zeros(4, 2, 1, 4, hidden), None, 0, None, bound, 0.125, True)
    # LayerNorms kept in float32 beside bfloat16 projections: op by op, as the ops take that mix
    for module in ours.modules():
        if isinstance(module, torch.nn.LayerNorm):
            module.float()
    monkeypatch.setattr(fast_encoder, "FUSED_MAX_TOKENS", 64)
    with torch.no_grad():
        mixed = run(ours, family, ids, mask, tt)[0]
    assert not calls and mixed.dtype == torch.bfloat16


@pytest.mark.skipif(not HAS_LAYER_KERNELS, reason="C++ encoder layer not built")
def test_one_call_layer_validates_its_arguments(tmp_path, forced_panel):
    from transformers_fast.ops import _backend as B

    _, ours = load(tmp_path, "bert", "BertModel")
    ids, mask, tt = inputs("bert")
    with torch.no_grad():
        ours(ids, tt, mask)
    layer = ours.fast.layers()[0]
    weights = layer.bound()
    hidden = ours.config.hidden_size
    x = torch.randn(5, hidden)
    cu = torch.tensor([0, 2, 5])
    out = torch.empty_like(x)
    B._C.encoder_layer(x, cu, weights, out, layer.scale)
    empty = torch.empty(0, hidden)  # no tokens (every row padding): nothing to compute, no scratch to point into
    B._C.encoder_layer(empty, torch.tensor([0, 0]), weights, torch.empty_like(empty), layer.scale)
    with pytest.raises(ValueError, match="cu_seqlens"):
        B._C.encoder_layer(x, torch.tensor([0, 2, 4]), weights, out, layer.scale)
    with pytest.raises(ValueError, match="x: expected"):
        B._C.encoder_layer(x[:, :-1].contiguous(), cu, weights, out, layer.scale)
    with pytest.raises(ValueError, match="x: expected float32"):
        B._C.encoder_layer(x.half(), cu, weights, out, layer.scale)
    with pytest.raises(ValueError, match="packed: expected shape"):  # heads x head_dim that do not match qkv
        bind_layer_weights(layer.qkv, layer.out, layer.out_bias, layer.ln1, layer.ffn_in, layer.ffn_out,
                           layer.ffn_out_bias, layer.ln2, layer.heads + 1, layer.head_dim)
    with pytest.raises(ValueError, match="12"):
        B._C.LayerWeights([], hidden, layer.heads, layer.head_dim, layer.ffn_in.out_features, 1e-12, 1e-12, 1, None)
    with pytest.raises(ValueError, match="x: expected float32"):  # float32 weights take float32 activations
        B._C.encoder_layer(x.bfloat16(), cu, weights, out.bfloat16(), layer.scale)
    tensors = [layer.qkv.panel_weight(), layer.qkv.bias, layer.out.panel_weight(), layer.out_bias, *layer.ln1[:2],
               layer.ffn_in.panel_weight(), layer.ffn_in.bias, layer.ffn_out.panel_weight(), layer.ffn_out_bias,
               *layer.ln2[:2]]
    with pytest.raises(ValueError, match="layer vector: expected float32"):  # one dtype per layer
        B._C.LayerWeights([t.bfloat16() if i == 4 else t for i, t in enumerate(tensors)], hidden, layer.heads,
                          layer.head_dim, layer.ffn_in.out_features, 1e-12, 1e-12, 1, None)


@pytest.mark.skipif(not HAS_LAYER_KERNELS, reason="C++ encoder layer not built")
def test_bound_layer_keeps_its_tensors_alive_and_bounds_its_sizes():
    """LayerWeights holds views of its tensors: it keeps them alive itself (a caller's owner of None freed them,
    and encoder_layer then read freed memory); sizes whose products overflow int64 are refused."""
    import gc

    from transformers_fast.ops import _backend as B

    hidden, heads, head_dim, inner = 16, 2, 8, 32

    def panels(n, k):
        packed = torch.empty((n + 15) // 16, k, B._C.gemm_small_panel)
        B._C.gemm_small_pack(torch.randn(n, k) * 0.1, packed)
        return packed

    def tensors():
        torch.manual_seed(0)
        return [panels(3 * hidden, hidden), torch.randn(3 * hidden), panels(hidden, hidden), torch.randn(hidden),
                torch.ones(hidden), torch.zeros(hidden), panels(inner, hidden), torch.randn(inner),
                panels(hidden, inner), torch.randn(hidden), torch.ones(hidden), torch.zeros(hidden)]

    x, cu = torch.randn(5, hidden), torch.tensor([0, 5])
    kept = tensors()
    want = torch.empty(5, hidden)
    B._C.encoder_layer(x, cu, B._C.LayerWeights(kept, hidden, heads, head_dim, inner, 1e-5, 1e-5, 1, kept), want, 0.3)
    weights = B._C.LayerWeights(tensors(), hidden, heads, head_dim, inner, 1e-5, 1e-5, 1, None)
    gc.collect()
    junk = [torch.full((4096,), 1e30) for _ in range(64)]  # reuse what a freed tensor held
    got = torch.empty(5, hidden)
    B._C.encoder_layer(x, cu, weights, got, 0.3)
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    del junk
    with pytest.raises(ValueError, match="at most 2\\^31"):  # 3 * heads * head_dim would wrap around
        B._C.LayerWeights(tensors(), hidden, 2**32, 2**32, inner, 1e-5, 1e-5, 1, None)
    with pytest.raises(TypeError, match="expected torch tensors"):
        B._C.LayerWeights([1.0] * 12, hidden, heads, head_dim, inner, 1e-5, 1e-5, 1, None)


def test_float64_model_runs_the_reference_path(tmp_path):
    ref, ours = load(tmp_path, "bert", "BertModel")
    ids, mask, tt = inputs("bert")
    with torch.no_grad():
        expected = ours(ids, tt, mask)[0]
        ours.double()
        assert not ours.fast.usable(ids, mask, None, False)
        got = ours(ids, tt, mask)[0]
    assert got.dtype == torch.float64
    compare(got.float(), expected, mask)


@pytest.mark.skipif(not HAS_LAYER_KERNELS, reason="C++ encoder layer not built")
def test_one_model_from_several_threads(tmp_path, forced_panel):
    """The one-call layers keep their activations per thread: concurrent calls give each caller its own result."""
    from concurrent.futures import ThreadPoolExecutor

    ref, ours = load(tmp_path, "bert", "BertModel")
    batches = [inputs("bert", batch=2, seq=5 + i, seed=i) for i in range(6)]
    with torch.no_grad():
        alone = [ours(ids, tt, mask)[0] for ids, mask, tt in batches]

        def run_one(i):
            ids, mask, tt = batches[i % len(batches)]
            with torch.no_grad():  # grad mode is per thread
                return i % len(batches), ours(ids, tt, mask)[0]

        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(run_one, range(24)))
    for i, got in results:
        assert torch.equal(got, alone[i])


FAST_MODELS = {
    "bert": lambda: tf.BertModel(tf.BertConfig(50, hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                                               intermediate_size=37)),
    "gpt2": lambda: tf.GPT2LMHeadModel(tf.GPT2Config(50, n_embd=32, n_layer=1, n_head=4, n_positions=16)),
    "xlnet": lambda: tf.XLNetModel(tf.XLNetConfig(50, d_model=32, n_layer=1, n_head=4, d_inner=37)),
    "transfo_xl": lambda: tf.TransfoXLModel(tf.TransfoXLConfig(50, cutoffs=[10], d_model=32, d_embed=32, n_head=4,
                                                               d_head=8, d_inner=37, n_layer=1)),
}


@pytest.mark.parametrize("name", sorted(FAST_MODELS))
def test_packed_weights_follow_an_assigned_data(name):
    """`param.data = other` (1.2.0-era code does it) keeps the parameter and its version counter: the fast path
    sees the new storage."""
    torch.manual_seed(0)
    model = FAST_MODELS[name]().eval()
    ids = torch.randint(0, 50, (2, 6), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        before = model(ids)[0]
        for param in model.parameters():
            if param.dim() == 1:
                param.data = param.data + 0.3
        after = model(ids)[0]
    expected = model(ids)[0]  # grad mode: the reference path
    assert (after - before).abs().max() > 1e-2
    compare(after, expected)


TINY_MODELS = {
    "bert": lambda: tf.BertModel(tf.BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1,
                                               num_attention_heads=2, intermediate_size=20)),
    "gpt2": lambda: tf.GPT2LMHeadModel(tf.GPT2Config(vocab_size=50, n_embd=16, n_layer=1, n_head=2, n_positions=12)),
    "xlnet": lambda: tf.XLNetModel(tf.XLNetConfig(vocab_size=50, d_model=16, n_layer=1, n_head=2, d_inner=20)),
    "transfo_xl": lambda: tf.TransfoXLLMHeadModel(tf.TransfoXLConfig(
        vocab_size=50, cutoffs=[20], d_model=16, d_embed=16, n_layer=1, n_head=2, d_head=8, d_inner=20, mem_len=4)),
}


@pytest.mark.kernels
@pytest.mark.parametrize("family", sorted(TINY_MODELS))
def test_invalidate_after_writes_into_param_data(family):
    """A write into p.data in place bypasses the version counter (the README says so): invalidate_fast_path()
    makes the fast path take the new values."""
    torch.manual_seed(0)
    model = TINY_MODELS[family]().eval()
    ids = torch.randint(0, 50, (2, 5))
    with torch.no_grad():
        model(ids)
        for p in model.parameters():
            p.data.mul_(1.1)
        stale = model(ids)[0]  # (the fast path still holds the old packed weights)
        model.invalidate_fast_path()
        fast = model(ids)[0]
        for module in model.modules():
            if isinstance(getattr(module, "fast", None), fast_path.FastPath):
                module.fast.enabled = False
        reference = model(ids)[0]
    assert (stale - reference).abs().max() > 1e-3
    torch.testing.assert_close(fast, reference, atol=1e-5, rtol=1e-5)
