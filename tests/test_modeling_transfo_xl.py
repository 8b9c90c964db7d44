"""Transformer-XL against pytorch-transformers 1.2.0: random-weight small models saved by 1.2.0 and loaded by ours
give the same hidden states, log-probabilities, memories and losses (three consecutive segments with memories
carried), in the fused inference path and the reference path; loading, grad modes, tracing, bad input,
generation with memories."""
from __future__ import annotations

import copy
import io
import os
import warnings

import pytest
import torch

import transformers_fast as tf
from transformers_fast import ops

ATOL = 1e-4
VOCAB = 100
# name -> config arguments (vocab VOCAB): adaptive input/softmax with div_val > 1 and = 1, memory shorter than
# the segment, same_length/clamp_len on and off, untie_r True/False, pre_lnorm, ext_len, no memory, no clusters
CONFIGS = {
    "div_val2": dict(cutoffs=[10, 30, 60], d_model=32, d_embed=32, n_head=4, d_head=8, d_inner=48, div_val=2,
                     n_layer=3, tgt_len=7, mem_len=5, clamp_len=6, same_length=True, untie_r=True),
    "div_val1_proj": dict(cutoffs=[20, 50], d_model=32, d_embed=16, n_head=2, d_head=16, d_inner=40, div_val=1,
                          n_layer=2, tgt_len=7, mem_len=9, clamp_len=0, same_length=False, untie_r=False,
                          pre_lnorm=True),
    "div_val1_no_proj_shared": dict(cutoffs=[40], d_model=24, d_embed=24, n_head=3, d_head=8, d_inner=32, div_val=1,
                                    n_layer=2, tgt_len=7, mem_len=4, clamp_len=3, same_length=True,
                                    proj_share_all_but_first=False),
    "ext_len": dict(cutoffs=[10, 30], d_model=32, d_embed=32, n_head=4, d_head=8, d_inner=48, div_val=4, n_layer=2,
                    tgt_len=7, ext_len=2, mem_len=6, clamp_len=0, same_length=False),
    # clusters of no token (1.2.0 takes cutoffs up to n_token and repeated ones)
    "empty_clusters": dict(cutoffs=[10, 10, 40, VOCAB], d_model=32, d_embed=32, n_head=4, d_head=8, d_inner=48,
                           div_val=2, n_layer=2, tgt_len=7, mem_len=5, clamp_len=0, same_length=False),
    "no_memory_no_clusters": dict(cutoffs=[], d_model=16, d_embed=16, n_head=2, d_head=8, d_inner=32, div_val=1,
                                  n_layer=2, tgt_len=7, mem_len=0, clamp_len=0, same_length=False),
}


def pt_transfo_xl(name: str, class_name: str = "TransfoXLLMHeadModel", seed: int = 0):
    import pytorch_transformers as pt

    config = pt.TransfoXLConfig(VOCAB, **CONFIGS[name])
    torch.manual_seed(seed)
    model = getattr(pt, class_name)(config).eval()
    with torch.no_grad():  # zero biases and unit norms would hide a skipped or swapped tensor
        seen = set()
        for p in model.parameters():
            if id(p) not in seen:
                seen.add(id(p))
                p.add_(torch.randn_like(p) * 0.05)
    return model


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """name -> (1.2.0 LM model, folder it saved with save_pretrained)."""
    cache = {}

    def get(name):
        if name not in cache:
            ref = pt_transfo_xl(name)
            folder = str(tmp_path_factory.mktemp(name))
            ref.save_pretrained(folder)
            cache[name] = (ref, folder)
        return cache[name]

    return get


def segments(batch=3, seq=7, n=3, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(0, VOCAB, (batch, seq), generator=g) for _ in range(n)]


def close(a, b, what):
    if a is None or b is None:
        assert a is None and b is None, what
        return
    if isinstance(a, (list, tuple)):
        assert len(a) == len(b), what
        for i, (x, y) in enumerate(zip(a, b)):
            close(x, y, f"{what}[{i}]")
        return
    assert a.shape == b.shape, (what, a.shape, b.shape)
    diff = (a - b).abs().max().item() if a.numel() else 0.0
    assert diff <= ATOL, f"{what}: max diff {diff}"


def count_relative_attention(monkeypatch):
    calls = []
    original = ops.relative_attention

    def counted(*args, **kwargs):
        calls.append(args[0].shape)
        return original(*args, **kwargs)

    monkeypatch.setattr(ops, "relative_attention", counted)
    return calls


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("batch", [1, 3])
def test_three_segments_with_memories_equal_1_2_0(name, batch, saved, monkeypatch):
    ref, folder = saved(name)
    ours = tf.TransfoXLLMHeadModel.from_pretrained(folder)
    calls = count_relative_attention(monkeypatch)
    ref_mems = our_mems = None
    with torch.no_grad():
        for i, ids in enumerate(segments(batch)):
            r = ref(ids, mems=ref_mems)
            o = ours(ids, mems=our_mems)
            assert len(o) == len(r)
            close(o[0], r[0], f"log-probs of segment {i}")
            close(o[1], r[1], f"mems after segment {i}")
            ref_mems, our_mems = r[1], o[1]
    assert len(calls) == 3 * ours.config.n_layer  # the fused path ran
    assert o.prediction_scores is o[0] and o.mems is o[1]


@pytest.mark.parametrize("chunk", [5, 7])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_log_probs_made_in_column_chunks_equal_1_2_0(chunk, dtype, saved, monkeypatch):
    """Clusters split into several GEMMs of `chunk` columns, whose log-sum-exps are merged: with 5, one of the
    head's chunks holds only the tail clusters' logits; with 7, one holds both kinds."""
    monkeypatch.setattr("transformers_fast.runtime.transfo_xl.SOFTMAX_CHUNK", chunk)
    ref, folder = saved("div_val2")
    ours = tf.TransfoXLLMHeadModel.from_pretrained(folder).to(dtype)
    ids = segments(3)[0]
    with torch.no_grad():
        hidden = ours.transformer(ids)[0].reshape(-1, ours.config.d_model)
        got = ours.fast.log_probs(hidden)
        assert got.dtype == dtype and got.shape == (hidden.shape[0], VOCAB)
        expected = ref.crit(hidden.float())
    if dtype == torch.float32:
        close(got, expected, "log-probs")
    else:  # bf16 logits (8 bits of mantissa), fp32 log-sum-exp
        torch.testing.assert_close(got.float(), expected, atol=0.1, rtol=0.02)
    assert len(ours.fast.softmax().chunks[0]) == -(-13 // chunk)  # the head: 10 tokens and 3 clusters


@pytest.mark.parametrize("name", ["div_val2", "div_val1_proj"])
def test_base_model_hidden_states_equal_1_2_0(name, saved):
    import pytorch_transformers as pt

    _, folder = saved(name)
    ref = pt.TransfoXLModel.from_pretrained(folder, output_hidden_states=True).eval()
    ours = tf.TransfoXLModel.from_pretrained(folder, output_hidden_states=True)
    ref_mems = our_mems = None
    with torch.no_grad():
        for ids in segments(2):
            r, o = ref(ids, mems=ref_mems), ours(ids, mems=our_mems)
            assert len(o) == len(r) == 3
            close(list(o), list(r), "outputs")
            ref_mems, our_mems = r[1], o[1]


@pytest.mark.parametrize("name", ["div_val2", "div_val1_proj", "div_val1_no_proj_shared", "no_memory_no_clusters",
                                  "empty_clusters"])
def test_labels_give_1_2_0_losses_and_gradients(name, saved):
    """Parameters shared by every layer (untie_r=False: div_val1_proj) stay one parameter after loading, as in
    1.2.0: one gradient, summed over the layers, and the same named_parameters."""
    ref, folder = saved(name)
    ours = tf.TransfoXLLMHeadModel.from_pretrained(folder)
    assert [k for k, _ in ours.named_parameters()] == [k for k, _ in ref.named_parameters()]
    ids, labels = segments(3, n=2)
    if name != "no_memory_no_clusters":  # (1.2.0's softmax without clusters cannot gather -1)
        ignored = torch.rand(labels.shape, generator=torch.Generator().manual_seed(2)) < 0.3
        labels = labels.masked_fill(ignored, -1)  # 1.2.0's ignored label (scored 0)
    r, o = ref(ids, labels=labels), ours(ids, labels=labels)
    assert o[1] is None and r[1] is None and len(o) == len(r)
    close(o[0], r[0], "losses")
    close(o[2], r[2], "mems")
    o[0].mean().backward()
    r[0].mean().backward()
    ref_grads = dict(ref.named_parameters())
    for key, p in ours.named_parameters():
        close(p.grad, ref_grads[key].grad, f"grad of {key}")


def test_attentions_and_head_mask_equal_1_2_0(saved):
    import pytorch_transformers as pt

    _, folder = saved("div_val2")
    ref = pt.TransfoXLModel.from_pretrained(folder, output_attentions=True).eval()
    ours = tf.TransfoXLModel.from_pretrained(folder, output_attentions=True)
    head_mask = torch.tensor([[1.0, 0.0, 1.0, 0.5], [0.0, 1.0, 1.0, 1.0], [1.0, 1.0, 0.0, 1.0]])
    ids = segments(2)
    with torch.no_grad():
        r = ref(ids[0])
        o = ours(ids[0])
        close(list(o), list(r), "with attentions")
        r2, o2 = ref(ids[1], mems=r[1], head_mask=head_mask), ours(ids[1], mems=o[1], head_mask=head_mask)
        close(list(o2), list(r2), "with head_mask")
        plain = tf.TransfoXLModel.from_pretrained(folder)
        close(plain(ids[1], mems=o[1], head_mask=head_mask[0])[0], ref(ids[1], mems=r[1], head_mask=head_mask[0])[0],
              "1-d head_mask")


def test_rows_of_a_batch_are_independent(saved, monkeypatch):
    """No attention mask in Transformer-XL: each row of a batch gives what it gives alone (fast path)."""
    _, folder = saved("div_val2")
    ours = tf.TransfoXLLMHeadModel.from_pretrained(folder)
    first, second = segments(3, n=2)
    with torch.no_grad():
        batched = ours(first)
        again = ours(second, mems=batched[1])
        for row in range(3):
            alone = ours(first[row:row + 1])
            close(batched[0][row:row + 1], alone[0], f"row {row}")
            close(again[0][row:row + 1], ours(second[row:row + 1], mems=alone[1])[0], f"row {row}, segment 2")


@pytest.mark.parametrize("order", ["inference_mode", "no_grad", "plain"])
def test_from_pretrained_and_forward_in_any_grad_mode(order, saved):
    ref, folder = saved("div_val2")
    modes = {"inference_mode": torch.inference_mode, "no_grad": torch.no_grad, "plain": torch.enable_grad}
    with modes[order]():
        ours = tf.TransfoXLLMHeadModel.from_pretrained(folder)
    ids = segments(2)[0]
    with torch.no_grad():
        expected = ref(ids)[0]
    for mode in modes.values():
        with mode():
            close(ours(ids)[0].detach(), expected, f"loaded under {order}, run under {mode.__name__}")


def test_torch_jit_trace(saved):
    ref, folder = saved("div_val2")
    ours = tf.TransfoXLLMHeadModel.from_pretrained(folder, torchscript=True)
    # 1.2.0's Transformer-XL reads sizes as Python numbers (init_mems, the output view): a trace is for one shape
    example, other = segments(2, n=1)[0], segments(2, seed=5, n=1)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.no_grad():
            traced = torch.jit.trace(ours, (example,))
    buffer = io.BytesIO()
    torch.jit.save(traced, buffer)
    buffer.seek(0)
    loaded = torch.jit.load(buffer)
    with torch.no_grad():
        close(loaded(other)[0], ref(other)[0], "traced log-probs")


@pytest.mark.parametrize("safe", [False, True])
def test_save_and_load_round_trip(safe, saved, tmp_path):
    import pytorch_transformers as pt

    ref, folder = saved("div_val2")
    ours = tf.TransfoXLLMHeadModel.from_pretrained(folder)
    ours.save_pretrained(str(tmp_path), safe_serialization=safe)
    assert os.path.isfile(tmp_path / ("model.safetensors" if safe else "pytorch_model.bin"))
    again, info = tf.TransfoXLLMHeadModel.from_pretrained(str(tmp_path), output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    ids = segments(2)[0]
    with torch.no_grad():
        close(again(ids)[0], ref(ids)[0], "reloaded")
        if not safe:  # 1.2.0 reads what we save
            close(pt.TransfoXLLMHeadModel.from_pretrained(str(tmp_path)).eval()(ids)[0], ref(ids)[0], "1.2.0 reload")
    # tied as 1.2.0 ties them
    assert again.crit.out_layers[1].weight is again.transformer.word_emb.emb_layers[1].weight
    assert again.crit.out_projs[1] is again.transformer.word_emb.emb_projs[1]


def test_base_checkpoint_into_lm_model_and_back(saved, tmp_path):
    ref, folder = saved("div_val2")
    base = tf.TransfoXLModel.from_pretrained(folder)
    ids = segments(2)[0]
    with torch.no_grad():
        close(base(ids)[0], ref.transformer(ids)[0], "base from the LM checkpoint")


def test_seeded_build_equals_1_2_0():
    import pytorch_transformers as pt

    torch.manual_seed(3)
    ref = pt.TransfoXLLMHeadModel(pt.TransfoXLConfig(VOCAB, **CONFIGS["div_val2"]))
    torch.manual_seed(3)
    ours = tf.TransfoXLLMHeadModel(tf.TransfoXLConfig(VOCAB, **CONFIGS["div_val2"]))
    ref_state = ref.state_dict()
    for key, value in ours.state_dict().items():
        assert torch.equal(value, ref_state[key]), key
    assert set(ours.state_dict()) == set(ref_state)


def test_reset_length_and_init_mems(saved):
    import pytorch_transformers as pt

    _, folder = saved("div_val2")
    ref = pt.TransfoXLLMHeadModel.from_pretrained(folder).eval()  # not the shared one: its lengths change here
    ours = tf.TransfoXLLMHeadModel.from_pretrained(folder)
    ref.reset_length(7, 0, 3)
    ours.reset_length(7, 0, 3)
    ids = segments(2)[0]
    assert [m.shape for m in ours.init_mems(ids.t())] == [m.shape for m in ref.init_mems(ids.t())]
    with torch.no_grad():
        r, o = ref(ids), ours(ids)
        close(list(o), list(r), "after reset_length")
        assert o[1][0].shape[0] == 3


def test_shipped_config_is_1_2_0s_default(monkeypatch):
    import pytorch_transformers as pt

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ours = tf.TransfoXLConfig.from_pretrained("transfo-xl-wt103")
    reference = pt.TransfoXLConfig().to_dict()
    for key, value in reference.items():
        if key not in ("output_attentions", "output_hidden_states", "torchscript", "pruned_heads", "num_labels",
                       "finetuning_task", "output_past", "torchscript"):
            assert getattr(ours, key) == value, key
    assert ours.vocab_size == 267735 and ours.max_position_embeddings == 1728


def test_bad_input_raises_clear_errors(saved, tmp_path):
    _, folder = saved("div_val2")
    ours = tf.TransfoXLLMHeadModel.from_pretrained(folder)
    ids = segments(2)[0]
    with torch.no_grad():
        mems = ours(ids)[1]
        with pytest.raises(ValueError, match="outside"):
            ours(torch.full((2, 3), VOCAB))
        with pytest.raises(TypeError, match="integer"):
            ours(ids.float())
        with pytest.raises(ValueError, match="batch, sequence"):
            ours(ids[0])
        with pytest.raises(ValueError, match="layers"):
            ours(ids, mems=mems[:-1])
        with pytest.raises(ValueError, match="shape"):
            ours(ids[:1], mems=mems)
        with pytest.raises(ValueError, match="same length"):
            ours(ids, mems=[mems[0]] + [m[1:] for m in mems[1:]])
        with pytest.raises(TypeError, match="mems"):
            ours(ids, mems=torch.zeros(3))
        with pytest.raises(ValueError, match="labels"):
            ours(ids, labels=ids[:, :-1])
    state = torch.load(os.path.join(folder, "pytorch_model.bin"))
    bad = tmp_path / "bad"
    bad.mkdir()
    state["transformer.layers.0.dec_attn.qkv_net.weight"] = state["transformer.layers.0.dec_attn.qkv_net.weight"][:-1]
    torch.save(state, bad / "pytorch_model.bin")
    (bad / "config.json").write_text(open(os.path.join(folder, "config.json")).read())
    with pytest.raises(ValueError, match="qkv_net"):
        tf.TransfoXLLMHeadModel.from_pretrained(str(bad))
    data = open(os.path.join(folder, "pytorch_model.bin"), "rb").read()
    (bad / "pytorch_model.bin").write_bytes(data[:len(data) // 2])
    with pytest.raises(OSError, match="truncated or corrupt"):
        tf.TransfoXLLMHeadModel.from_pretrained(str(bad))
    with pytest.raises(ValueError, match="cutoffs"):
        tf.TransfoXLModel(tf.TransfoXLConfig(VOCAB, cutoffs=[50, 20], d_model=16, d_embed=16, n_head=2, d_head=8,
                                             d_inner=16, n_layer=1))


def reference_generation(ref, prompt, steps, sample_generator=None):
    """1.2.0 step by step: the prompt, then one token at a time with the memories."""
    tokens, mems, x = [], None, prompt
    with torch.no_grad():
        for _ in range(steps):
            out = ref(x, mems=mems)
            mems = out[1]
            scores = out[0][:, -1]
            if sample_generator is None:
                nxt = scores.argmax(-1)
            else:
                nxt = torch.multinomial(scores.softmax(-1), 1, generator=sample_generator).squeeze(1)
            tokens.append(nxt)
            x = nxt[:, None]
    return torch.stack(tokens, 1)


@pytest.mark.parametrize("slack", [1, 3, 64])
@pytest.mark.parametrize("name", ["div_val2", "div_val1_proj", "ext_len", "no_memory_no_clusters",
                                  "empty_clusters"])
def test_greedy_generation_with_memories_equals_1_2_0(name, slack, saved, monkeypatch):
    """slack: the rows of room after the memory's keys and values (they move to the front when it is used up: at
    every step with 1, every third with 3; with 64 not within these steps)."""
    monkeypatch.setattr("transformers_fast.runtime.transfo_xl.MEMORY_SLACK", slack)
    ref, folder = saved(name)
    ours = tf.TransfoXLLMHeadModel.from_pretrained(folder)
    prompt = segments(2, seq=4, n=1)[0]
    expected = reference_generation(ref, prompt, 8)
    calls = count_relative_attention(monkeypatch)
    out = ours.generate(prompt, max_new_tokens=8)
    assert torch.equal(out[:, :4], prompt)
    assert torch.equal(out[:, 4:], expected)
    assert all(shape[0] == 1 for shape in calls[ours.config.n_layer:])  # each step runs the new token only


@pytest.mark.parametrize("attn_type,dtype", [(1, torch.float32), (2, torch.float32), (3, torch.float32),
                                             (0, torch.float64)])
def test_greedy_generation_the_fused_decoder_does_not_serve_equals_1_2_0(attn_type, dtype, tmp_path):
    """attn_type 1-3 and float64 generate through the forward over memories (the fused decoder serves attn_type 0
    in float32 / bfloat16)."""
    import pytorch_transformers as pt

    config = dict(CONFIGS["div_val1_proj"], attn_type=attn_type, d_embed=32, untie_r=attn_type != 1)
    torch.manual_seed(0)
    ref = pt.TransfoXLLMHeadModel(pt.TransfoXLConfig(VOCAB, **config)).eval()
    ref.save_pretrained(str(tmp_path))
    ref.to(dtype)
    ours = tf.TransfoXLLMHeadModel.from_pretrained(tmp_path).to(dtype)
    prompt = segments(2, seq=4, n=1)[0]
    out = ours.generate(prompt, max_new_tokens=6)
    assert torch.equal(out[:, 4:], reference_generation(ref, prompt, 6))


def test_sampled_generation_equals_1_2_0(saved):
    ref, folder = saved("div_val2")
    ours = tf.TransfoXLLMHeadModel.from_pretrained(folder)
    prompt = segments(1, seq=3, n=1)[0]
    expected = reference_generation(ref, prompt, 6, torch.Generator().manual_seed(7))
    out = ours.generate(prompt, max_new_tokens=6, do_sample=True, generator=torch.Generator().manual_seed(7))
    assert torch.equal(out[:, 3:], expected)


def test_generation_refuses_padded_prompts(saved):
    _, folder = saved("div_val2")
    ours = tf.TransfoXLLMHeadModel.from_pretrained(folder)
    prompt = segments(2, seq=4, n=1)[0]
    mask = torch.ones_like(prompt)
    mask[0, 0] = 0
    with pytest.raises(ValueError, match="attention mask"):
        ours.generate(prompt, attention_mask=mask, max_new_tokens=2)


def test_memories_passed_back_reuse_their_keys_and_values_unless_changed(saved, monkeypatch):
    """The keys and values of returned memories are kept: passing them back projects only the segment; memories
    changed in place, or other tensors, are projected again (and the results stay 1.2.0's)."""
    from transformers_fast.ops import packed_linear

    ref, folder = saved("div_val2")
    ours = tf.TransfoXLLMHeadModel.from_pretrained(folder)
    first, second = segments(2, n=2)
    rows = []
    original = packed_linear.linear
    monkeypatch.setattr("transformers_fast.runtime.transfo_xl.linear",
                        lambda x, p: rows.append((x.shape[0], p.out_features)) or original(x, p))
    kv_width = 2 * ours.config.n_head * ours.config.d_head
    with torch.no_grad():
        r_mems = ref(first)[1]
        o_mems = ours(first)[1]
        rows.clear()
        close(ours(second, mems=o_mems)[0], ref(second, mems=r_mems)[0], "memories passed back")
        assert not [r for r in rows if r[1] == kv_width]  # no projection of the memory
        changed = [m.clone() for m in o_mems]
        changed[0].mul_(0.5)
        r_changed = [m.clone() for m in r_mems]
        r_changed[0].mul_(0.5)
        rows.clear()
        close(ours(second, mems=changed)[0], ref(second, mems=r_changed)[0], "other memories")
        assert len([r for r in rows if r[1] == kv_width]) == ours.config.n_layer
        o_mems = ours(first)[1]
        o_mems[1].add_(1.0)  # in place: seen through the version counter
        r_mems = [m.clone() for m in ref(first)[1]]
        r_mems[1].add_(1.0)
        close(ours(second, mems=o_mems)[0], ref(second, mems=r_mems)[0], "memories changed in place")
        o_mems = ours(first)[1]
        o_mems[0].data.mul_(0.5)  # through .data: unseen until invalidate_fast_path (documented)
        ours.invalidate_fast_path()
        r_mems = [m.clone() for m in ref(first)[1]]
        r_mems[0].mul_(0.5)
        close(ours(second, mems=o_mems)[0], ref(second, mems=r_mems)[0], "memories changed through .data")


@pytest.mark.parametrize("change", ["in_place", "load_state_dict"])
def test_memories_passed_back_after_a_weight_change_use_the_new_weights(saved, change):
    """The kept keys and values of returned memories were made with the weights of their call: weights changed
    since (in place, or loaded) project the memories again, as 1.2.0 does on every call."""
    ref, folder = saved("div_val2")
    ref = copy.deepcopy(ref)
    ours = tf.TransfoXLLMHeadModel.from_pretrained(folder)
    first, second = segments(2, n=2)
    with torch.no_grad():
        o_mems, r_mems = ours(first)[1], ref(first)[1]
        if change == "in_place":
            for model in (ours, ref):
                model.transformer.layers[0].dec_attn.qkv_net.weight.mul_(-1.0)
        else:
            state = {k: v * 1.5 if "qkv_net" in k else v for k, v in ref.state_dict().items()}
            ours.load_state_dict(state)
            ref.load_state_dict(state)
        close(ours(second, mems=o_mems)[0], ref(second, mems=r_mems)[0], "after the weight change")


@pytest.mark.parametrize("class_name", ["TransfoXLModel", "TransfoXLLMHeadModel"])
def test_resize_token_embeddings_is_a_clear_error_unless_a_no_op(class_name):
    m = getattr(tf, class_name)(tf.TransfoXLConfig(VOCAB, **CONFIGS["div_val2"]))
    embeddings = m.resize_token_embeddings()
    assert embeddings is m.resize_token_embeddings(VOCAB) and type(embeddings).__name__ == "AdaptiveEmbedding"
    with pytest.raises(NotImplementedError, match="adaptive"):
        m.resize_token_embeddings(VOCAB + 10)


def test_seeded_training_forward_draws_dropout_in_1_2_0s_order(saved):
    """The word embeddings' dropout is drawn before the position embeddings', as in 1.2.0 (dropout 0.1)."""
    _, folder = saved("div_val2")
    ref = pt_transfo_xl("div_val2").train()  # not the shared one: it changes mode here
    ours = tf.TransfoXLLMHeadModel.from_pretrained(folder).train()
    ids = segments(2)[0]
    torch.manual_seed(3)
    expected = ref(ids)
    torch.manual_seed(3)
    close(list(ours(ids)), list(expected), "seeded train-mode forward")


def test_per_layer_head_mask_in_1_2_0s_layout(saved):
    """A [layers, qlen, klen, batch, heads]-broadcastable head_mask is used as 1.2.0 uses it."""
    ref, folder = saved("div_val1_proj")
    ours = tf.TransfoXLLMHeadModel.from_pretrained(folder).eval()
    ids = segments(3)[0]
    head_mask = torch.rand(2, 1, 1, 3, 2, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        close(list(ours(ids, head_mask=head_mask)), list(ref(ids, head_mask=head_mask)), "per-example head mask")


@pytest.mark.parametrize("slack", [1, 64])
def test_segments_through_kept_memory_keys_and_values_equal_1_2_0(saved, monkeypatch, slack):
    """Four segments, each with the memories the previous returned: the kept keys and values take each segment's
    rows after them (a segment longer than the room grows the buffers, a full buffer moves the memory), and every
    segment's outputs and memories stay 1.2.0's."""
    monkeypatch.setattr("transformers_fast.runtime.transfo_xl.MEMORY_SLACK", slack)
    ref, folder = saved("div_val2")
    ours = tf.TransfoXLLMHeadModel.from_pretrained(folder)
    o_mems = r_mems = None
    with torch.no_grad():
        for index, segment in enumerate(segments(2, n=4)):
            got, want = ours(segment, mems=o_mems), ref(segment, mems=r_mems)
            close(got[0], want[0], f"segment {index}")
            for mine, theirs in zip(got[1], want[1]):
                close(mine, theirs, f"memories after segment {index}")
            o_mems, r_mems = got[1], want[1]


def test_batch_of_no_sequence_gives_1_2_0s_empty_outputs(tmp_path):
    """(1.2.0's LM head fails there, reshaping its empty log-probabilities: ours gives them, [0, seq, n_token])"""
    ref = pt_transfo_xl("div_val2", "TransfoXLModel")
    ref.save_pretrained(str(tmp_path))
    ours = tf.TransfoXLModel.from_pretrained(str(tmp_path))
    lm = tf.TransfoXLLMHeadModel.from_pretrained(str(tmp_path))
    ids = segments(3, n=1)[0][:0]
    for grad in (False, True):
        with torch.set_grad_enabled(grad):
            got, want = ours(ids), ref(ids)
            scores = lm(ids)[0]
        close(list(got), list(want), "outputs")
        assert scores.shape == (0, ids.shape[1], VOCAB)
