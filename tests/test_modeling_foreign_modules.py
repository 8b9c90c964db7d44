"""The fused paths call none of a model's submodules, so they must step aside (run the reference path, which calls
them) whenever a submodule computes something else: a class of the user's own in place of a layer (a LoRA-style
wrapper, a subclass with its own forward), a forward hook, an instance forward; and must notice a submodule
replaced after they built their packed weights. Every family's fast path, against the same model's reference
path (model.fast.enabled = False, itself tested against transformers / 1.2.0 elsewhere)."""
from __future__ import annotations

import contextlib

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import transformers_fast as tf
from transformers_fast.generation_placeholder import PlaceholderGenerationMixin
from modeling_helpers import quiet_transformers, randomize_all
from transformers_fast.runtime.fast_path import FastPath

# (model class, tiny config, path of a Linear inside the first layer)
MODELS = {
    "bert": (lambda: tf.BertModel(tf.BertConfig(99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                                intermediate_size=37)), "encoder.layer.0.output.dense"),
    "roberta": (lambda: tf.RobertaModel(tf.RobertaConfig(99, hidden_size=32, num_hidden_layers=2,
                                                         num_attention_heads=4, intermediate_size=37,
                                                         max_position_embeddings=66, type_vocab_size=1)),
                "encoder.layer.0.attention.self.query"),
    "distilbert": (lambda: tf.DistilBertModel(tf.DistilBertConfig(99, dim=32, n_layers=2, n_heads=4, hidden_dim=37)),
                   "transformer.layer.0.ffn.lin2"),
    "xlm": (lambda: tf.XLMModel(tf.XLMConfig(99, emb_dim=32, n_layers=2, n_heads=4, n_langs=1)), "ffns.0.lin2"),
    "gpt2": (lambda: tf.GPT2LMHeadModel(tf.GPT2Config(99, n_embd=32, n_layer=2, n_head=4, n_positions=32,
                                                      n_ctx=32)), "transformer.h.0.mlp.c_fc"),
    "openai": (lambda: tf.OpenAIGPTLMHeadModel(tf.OpenAIGPTConfig(99, n_embd=32, n_layer=2, n_head=4,
                                                                  n_positions=32, n_ctx=32)), "transformer.h.0.attn.c_attn"),
    "xlnet": (lambda: tf.XLNetLMHeadModel(tf.XLNetConfig(99, d_model=32, n_layer=2, n_head=4, d_inner=37)),
              "transformer.layer.0.ff.layer_2"),
    "transfo_xl": (lambda: tf.TransfoXLLMHeadModel(tf.TransfoXLConfig(99, cutoffs=[20, 50], d_model=32, d_embed=32,
                                                                      n_head=4, d_head=8, d_inner=37, div_val=2,
                                                                      n_layer=2, mem_len=4, tgt_len=7)),
                   "transformer.layers.0.pos_ff.CoreNet.3"),
}
ENCODERS = ("bert", "roberta", "distilbert", "xlm")


class LoRAStyle(nn.Module):
    """A wrapper of the user's: the layer plus a low-rank update, with the layer's weight and bias as attributes
    (as peft's wrappers have them), so that reading them alone gives a silently different answer."""

    def __init__(self, layer: nn.Module):
        super().__init__()
        self.base_layer = layer
        width_in, width_out = _widths(layer)
        self.down = nn.Linear(width_in, 2, bias=False)
        self.up = nn.Linear(2, width_out, bias=False)
        nn.init.normal_(self.up.weight, std=0.5)

    @property
    def weight(self):
        return self.base_layer.weight

    @property
    def bias(self):
        return self.base_layer.bias

    def forward(self, x):
        return self.base_layer(x) + self.up(self.down(x))


class ScaledLinear(nn.Linear):
    """A subclass that keeps nn.Linear's parameters but computes something else."""

    def forward(self, x):
        return super().forward(x) * 1.5


def _widths(layer):
    if isinstance(layer, nn.Linear):
        return layer.in_features, layer.out_features
    return layer.weight.shape[0], layer.nf  # GPT's Conv1D: weight [in, out]


def _scaled_copy(layer):
    width_in, width_out = _widths(layer)
    copy = ScaledLinear(width_in, width_out, bias=layer.bias is not None)
    with torch.no_grad():
        copy.weight.copy_(layer.weight if isinstance(layer, nn.Linear) else layer.weight.t())
        if layer.bias is not None:
            copy.bias.copy_(layer.bias)
    return copy


def _set(model, path, module):
    parent_path, _, name = path.rpartition(".")
    setattr(model.get_submodule(parent_path), name, module)


def _inputs(family):
    torch.manual_seed(1)
    ids = torch.randint(5, 99, (2, 7))
    mask = torch.ones_like(ids)
    if family in ENCODERS or family in ("gpt2", "openai"):
        mask[1, 5:] = 0  # padded: the fused encoders and decoders run padding-free
    return ids, mask


def _first_output(model, family, ids, mask):
    with torch.no_grad():
        if family == "transfo_xl":
            return model(ids)[0]
        if family == "xlnet":
            return model(ids, attention_mask=mask.float())[0]
        return model(ids, attention_mask=mask)[0]


@contextlib.contextmanager
def reference_path(model):
    paths = [v for m in model.modules() for v in vars(m).values() if isinstance(v, FastPath)]
    before = [p.enabled for p in paths]
    for p in paths:
        p.enabled = False
    try:
        yield
    finally:
        for p, on in zip(paths, before):
            p.enabled = on


def _real(out, mask):
    return out[mask.bool()] if out.dim() == 3 and out.shape[:2] == mask.shape else out


def _model(family):
    build, path = MODELS[family]
    torch.manual_seed(0)
    model = build().eval()
    randomize_all(model, scale=0.2)
    return model, path


def _check_against_reference(model, family, ids, mask):
    fast = _first_output(model, family, ids, mask)
    with reference_path(model):
        reference = _first_output(model, family, ids, mask)
    torch.testing.assert_close(_real(fast, mask), _real(reference, mask), atol=1e-5, rtol=1e-5)
    return fast


@pytest.mark.parametrize("family", sorted(MODELS))
@pytest.mark.parametrize("change", ["lora", "subclass", "hook", "pre_hook", "global_hook", "instance_forward"])
def test_fast_path_steps_aside_for_what_it_cannot_compute(family, change):
    model, path = _model(family)
    ids, mask = _inputs(family)
    plain = _first_output(model, family, ids, mask)  # builds the packed weights first
    layer = model.get_submodule(path)
    calls = []
    undo = []
    if change == "lora":
        _set(model, path, LoRAStyle(layer))
        undo.append(lambda: _set(model, path, layer))
    elif change == "subclass":
        _set(model, path, _scaled_copy(layer))
        undo.append(lambda: _set(model, path, layer))
    elif change == "hook":
        undo.append(layer.register_forward_hook(lambda m, args, out: calls.append(1) or out * 0.5).remove)
    elif change == "pre_hook":
        undo.append(layer.register_forward_pre_hook(lambda m, args: calls.append(1) or (args[0] * 2,)).remove)
    elif change == "global_hook":
        def hook(module, args, out):
            if module is layer:
                calls.append(1)
                return out * 0.5
        undo.append(nn.modules.module.register_module_forward_hook(hook).remove)
    else:
        layer.forward = lambda x, original=layer.forward: original(x) * 0.5
        undo.append(lambda: delattr(layer, "forward"))
    try:
        changed = _check_against_reference(model, family, ids, mask)
        assert (_real(changed, mask) - _real(plain, mask)).abs().max() > 1e-3  # the change shows
        if change.endswith("hook"):
            assert len(calls) == 2  # the fast run and the reference run: the hook ran in both
        if isinstance(model, PlaceholderGenerationMixin):  # (its generate runs the model's forward: it steps aside)
            before = len(calls)
            model.generate(ids[:1, :3], max_new_tokens=2)
            assert not change.endswith("hook") or len(calls) > before
        elif hasattr(model, "generate"):  # (the fused decoder steps aside: the model's forward runs each step)
            before = len(calls)
            assert torch.equal(model.generate(ids[:1, :3], max_new_tokens=2, do_sample=False),
                               _greedy_by_forward(model, ids[:1, :3], 2))
            assert not change.endswith("hook") or len(calls) > before
    finally:
        for fn in undo:
            fn()
    again = _first_output(model, family, ids, mask)
    torch.testing.assert_close(_real(again, mask), _real(plain, mask))
    fast_paths = [v for m in model.modules() for v in vars(m).values() if isinstance(v, FastPath) and
                  hasattr(v, "model")]
    assert fast_paths and all(p.runs_as_built() for p in fast_paths)  # fused again once the change is undone
    if hasattr(model, "generate"):
        model.generate(ids[:1, :3], max_new_tokens=2)


def _greedy_by_forward(model, ids, steps):
    for _ in range(steps):
        with torch.no_grad():
            logits = model(ids)[0][:, -1]
        ids = torch.cat([ids, logits.argmax(-1, keepdim=True)], 1)
    return ids


@pytest.mark.parametrize("family", sorted(MODELS))
def test_a_layer_replaced_after_a_forward_is_used(family):
    """A plain layer of new weights (of the class the fast path mirrors) swapped in after the packed weights were
    built: the fast path rebuilds them."""
    model, path = _model(family)
    ids, mask = _inputs(family)
    before = _first_output(model, family, ids, mask)
    layer = model.get_submodule(path)
    fresh = type(layer)(*((layer.in_features, layer.out_features) if isinstance(layer, nn.Linear)
                          else (layer.nf, layer.weight.shape[0])))
    with torch.no_grad():
        for p in fresh.parameters():
            p.normal_(std=0.3)
    _set(model, path, fresh)
    after = _check_against_reference(model, family, ids, mask)
    assert (_real(after, mask) - _real(before, mask)).abs().max() > 1e-3


@pytest.mark.parametrize("grad", [False, True], ids=["no_grad", "grad"])
def test_a_hooked_or_subclassed_lm_head_is_called(grad):
    """The separately prepacked LM heads (XLNet's, XLM's prediction layer) and the MLM heads' decoder (which runs
    with the head's own bias in one GEMM) call a hooked head, and a subclass's own forward, on both paths."""
    torch.manual_seed(0)
    encoder = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=37)
    for model, head in ((tf.XLNetLMHeadModel(tf.XLNetConfig(99, d_model=32, n_layer=1, n_head=4, d_inner=37)),
                         "lm_loss"),
                        (tf.XLMWithLMHeadModel(tf.XLMConfig(99, emb_dim=32, n_layers=1, n_heads=4, n_langs=1)),
                         "pred_layer.proj"),
                        (tf.BertForMaskedLM(tf.BertConfig(99, **encoder)), "cls.predictions.decoder"),
                        (tf.BertForPreTraining(tf.BertConfig(99, **encoder)), "cls.predictions.decoder"),
                        (tf.RobertaForMaskedLM(tf.RobertaConfig(99, max_position_embeddings=20, **encoder)),
                         "lm_head.decoder")):
        model.eval()
        ids = torch.randint(5, 99, (1, 6))
        with torch.set_grad_enabled(grad):
            plain = model(ids)[0]
            handle = model.get_submodule(head).register_forward_hook(lambda m, args, out: out + 1.0)
            hooked = model(ids)[0]
            handle.remove()
            torch.testing.assert_close(hooked, plain + 1.0)
            layer = model.get_submodule(head)
            _set(model, head, _scaled_copy(layer))
            scaled = model(ids)[0]
            _set(model, head, layer)
        assert (scaled - plain).abs().max() > 1e-3, head


def _fast_paths(model):
    return [v for m in model.modules() for v in vars(m).values() if isinstance(v, FastPath)]


def _assign_plain_attributes(model, change):
    """Assigns a plain attribute the fused paths read when they build: every LayerNorm's eps, or every activation
    function a module holds as an attribute (not as a submodule). Returns how many were assigned."""
    count = 0
    for module in model.modules():
        if change == "eps" and isinstance(module, nn.LayerNorm):
            module.eps = 0.5
            count += 1
        elif change == "activation":
            for name, value in list(vars(module).items()):
                if (not name.startswith("_") and callable(value) and not isinstance(value, (nn.Module, type, FastPath))):
                    setattr(module, name, F.silu)
                    count += 1
    return count


@pytest.mark.parametrize("family", sorted(MODELS))
@pytest.mark.parametrize("change", ["eps", "activation"])
def test_a_plain_attribute_assigned_after_a_forward_is_used(family, change):
    """The packed state was built with the old value; the fast path rebuilds it (it was a silent wrong answer)."""
    model, _ = _model(family)
    ids, mask = _inputs(family)
    before = _first_output(model, family, ids, mask)
    watches = [p._watch for p in _fast_paths(model)]
    _first_output(model, family, ids, mask)
    assert [p._watch for p in _fast_paths(model)] == watches  # an unchanged model is not rebuilt at each call
    if not _assign_plain_attributes(model, change):
        pytest.skip(f"{family} holds no {change} as a plain attribute")
    after = _check_against_reference(model, family, ids, mask)
    assert (_real(after, mask) - _real(before, mask)).abs().max() > 1e-3


def _call(model, family, mask, **kwargs):
    if family == "transfo_xl":
        return model(**kwargs)
    return model(attention_mask=mask.float() if family == "xlnet" else mask, **kwargs)


@pytest.mark.parametrize("family", sorted(MODELS))
def test_a_submodule_left_in_training_mode_runs_its_dropout(family):
    """Monte-Carlo dropout: an eval model whose dropout (XLM: a layer, whose dropout is functional) is put back in
    training mode computes with it, as the reference path (and the references) do, also without autograd."""
    model, _ = _model(family)
    ids, mask = _inputs(family)
    plain = _first_output(model, family, ids, mask)
    training = [model.get_submodule("ffns.0")] if family == "xlm" else [
        m for m in model.modules() if isinstance(m, nn.Dropout)]
    for module in training:
        module.train()
    outputs = []
    for path in (contextlib.nullcontext, reference_path):
        with path(model):
            torch.manual_seed(5)
            outputs.append(_first_output(model, family, ids, mask))
    sampled, reference = outputs
    assert (_real(sampled, mask) - _real(plain, mask)).abs().max() > 1e-3
    torch.testing.assert_close(_real(sampled, mask), _real(reference, mask), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("family", sorted(MODELS))
def test_inputs_requiring_grad_into_a_frozen_model_get_their_gradients(family):
    """Every parameter frozen, an input requiring grad (saliency over inputs_embeds; prefix tuning over GPT-2's
    past, Transformer-XL's memories): the output records autograd, with the reference path's gradients."""
    model, _ = _model(family)
    model.requires_grad_(False)
    ids, mask = _inputs(family)
    cases = [dict(inputs_embeds=model.get_input_embeddings()(ids).detach())]
    with torch.no_grad():
        if family == "gpt2":
            cases.append(dict(input_ids=ids[:, 4:], past=list(model(ids[:, :4])[1]),
                              attention_mask=torch.ones_like(ids)))
        if family == "transfo_xl":
            cases.append(dict(input_ids=ids[:, 4:], mems=list(model(ids[:, :4])[1])))
    for case in cases:
        grads = []
        for path in (contextlib.nullcontext, reference_path):
            inputs = {k: v if k.endswith("ids") or k == "attention_mask" else
                      [t.clone().requires_grad_() for t in v] if isinstance(v, list) else v.clone().requires_grad_()
                      for k, v in case.items()}
            with path(model):
                if "attention_mask" in inputs:
                    out = model(**inputs)[0]
                else:
                    out = _call(model, family, mask, **inputs)[0]
            assert out.requires_grad, sorted(case)
            out.float().pow(2).sum().backward()
            grads.append([t.grad for k, v in inputs.items() if not (k.endswith("ids") or k == "attention_mask")
                          for t in (v if isinstance(v, list) else [v])])
        for fast, reference in zip(*grads):
            torch.testing.assert_close(fast, reference, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("family", ["bert", "gpt2", "xlm"])
def test_layers_made_by_pruning_and_resizing_keep_the_fast_path(family):
    """Layers made after eval() (pruned projections, a resized table) are in training mode, which changes nothing
    for a layer without dropout: the fast path keeps running."""
    model, _ = _model(family)
    ids, mask = _inputs(family)
    _first_output(model, family, ids, mask)
    model.prune_heads({0: [1]})
    model.resize_token_embeddings(120)
    assert any(m.training for m in model.modules())
    fast_paths = [v for m in model.modules() for v in vars(m).values() if isinstance(v, FastPath) and
                  hasattr(v, "model")]
    assert fast_paths and all(p.runs_as_built() for p in fast_paths)
    _check_against_reference(model, family, ids, mask)


@pytest.mark.parametrize("targets", [["query", "value"], ["word_embeddings"], ["query", "word_embeddings", "dense"]])
def test_peft_lora_on_bert_equals_peft_on_transformers(tmp_path, targets):
    """peft's LoRA wrappers (an embedding table's too: it exposes the weight, not num_embeddings) on the same
    weights give transformers' outputs, padded batch, before and after merge_and_unload."""
    peft = pytest.importorskip("peft")
    import transformers

    quiet_transformers()
    config = transformers.BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                     intermediate_size=37, num_labels=3)
    torch.manual_seed(0)
    transformers.BertForSequenceClassification(config).save_pretrained(tmp_path)
    lora = dict(r=4, target_modules=targets, task_type=peft.TaskType.SEQ_CLS, init_lora_weights=False)
    torch.manual_seed(1)
    ref = peft.get_peft_model(transformers.BertForSequenceClassification.from_pretrained(tmp_path),
                              peft.LoraConfig(**lora)).eval()
    ours = peft.get_peft_model(tf.BertForSequenceClassification.from_pretrained(tmp_path),
                               peft.LoraConfig(**lora)).eval()
    ours.load_state_dict(ref.state_dict())
    ids = torch.randint(0, 99, (2, 7), generator=torch.Generator().manual_seed(2))
    mask = torch.ones_like(ids)
    mask[1, 4:] = 0
    with torch.no_grad():
        expected = ref(input_ids=ids, attention_mask=mask).logits
        assert torch.allclose(ours(input_ids=ids, attention_mask=mask).logits, expected, atol=1e-5)
        merged = ours.merge_and_unload()
        assert type(merged) is tf.BertForSequenceClassification
        assert torch.allclose(merged(ids, attention_mask=mask)[0], expected, atol=1e-5)


def test_transformers_pipelines_that_read_outputs_by_position(tmp_path):
    """transformers' text-generation, token-classification and (a text at a time) feature-extraction pipelines
    with these models give what they give with transformers' models on the same weights."""
    import transformers

    from tokenizer_corpus import bert_uncased_vocab, gpt2_files

    quiet_transformers()
    bert_tok = transformers.BertTokenizer(bert_uncased_vocab())
    gpt2_tok = transformers.GPT2Tokenizer(*gpt2_files())
    gpt2_tok.pad_token, gpt2_tok.padding_side = gpt2_tok.eos_token, "left"
    bert = dict(vocab_size=bert_tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                intermediate_size=37, num_labels=3)
    cases = [("text-generation", "GPT2LMHeadModel", transformers.GPT2Config(vocab_size=gpt2_tok.vocab_size, n_embd=32,
                                                                           n_layer=2, n_head=4), gpt2_tok,
              ["Hello world, this is", "A"], dict(max_new_tokens=5, do_sample=False, batch_size=2)),
             ("token-classification", "BertForTokenClassification", transformers.BertConfig(**bert), bert_tok,
              ["Hello world, unaffable tokenizers!", "x"], dict(batch_size=2)),
             ("feature-extraction", "BertModel", transformers.BertConfig(**bert), bert_tok,
              ["Hello world, unaffable tokenizers!", "x"], dict(batch_size=1))]
    for task, class_name, config, tokenizer, texts, options in cases:
        torch.manual_seed(0)
        ref = getattr(transformers, class_name)(config).eval()
        randomize_all(ref, 0, 0.2)
        ref.save_pretrained(tmp_path / class_name)
        ours = getattr(tf, class_name).from_pretrained(tmp_path / class_name).eval()
        expected = transformers.pipeline(task, model=ref, tokenizer=tokenizer)(texts, **options)
        got = transformers.pipeline(task, model=ours, tokenizer=tokenizer)(texts, **options)
        if task == "feature-extraction":
            for a, b in zip(got, expected):
                assert torch.allclose(torch.tensor(a), torch.tensor(b), atol=1e-4)
        elif task == "token-classification":
            assert [[(e["entity"], e["index"]) for e in row] for row in got] == \
                [[(e["entity"], e["index"]) for e in row] for row in expected]
            assert all(abs(a["score"] - b["score"]) < 1e-4 for x, y in zip(got, expected) for a, b in zip(x, y))
        else:
            assert got == expected, task


def _swap_every(model, kind, make):
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is kind:
                setattr(parent, name, make(child))


SWAPS = {
    "dropout_to_tanh": (nn.Dropout, lambda layer: nn.Tanh()),
    "layer_norm_without_weights": (nn.LayerNorm, lambda layer: nn.LayerNorm(layer.normalized_shape, layer.eps,
                                                                            elementwise_affine=False)),
    "relu_to_gelu": (nn.ReLU, lambda layer: nn.GELU()),
}


@pytest.mark.parametrize("family", sorted(MODELS))
@pytest.mark.parametrize("swap", sorted(SWAPS))
def test_a_torch_layer_of_another_kind_in_a_slot_is_computed(family, swap):
    """A torch layer of another kind where the library built one (an activation where a dropout was, a LayerNorm
    without weights, GELU for Transformer-XL's ReLU) is what the model computes: the fast paths step aside, before
    or after their first forward, and come back once the model is as built."""
    if swap == "relu_to_gelu" and family != "transfo_xl":
        pytest.skip("only Transformer-XL holds ReLU modules")
    kind, make = SWAPS[swap]
    model, _ = _model(family)
    ids, mask = _inputs(family)
    plain = _first_output(model, family, ids, mask)
    originals = {(id(p), n): c for p in model.modules() for n, c in p.named_children() if type(c) is kind}
    if not originals:
        pytest.skip(f"{family} holds no {kind.__name__} modules (functional dropout)")
    _swap_every(model, kind, make)
    changed = _check_against_reference(model, family, ids, mask)
    assert (_real(changed, mask) - _real(plain, mask)).abs().max() > 1e-3  # the change shows
    if hasattr(model, "generate"):
        model.generate(ids[:1, :3], max_new_tokens=2)
    for parent in model.modules():
        for name, _ in list(parent.named_children()):
            if (id(parent), name) in originals:
                setattr(parent, name, originals[(id(parent), name)])
    torch.testing.assert_close(_real(_first_output(model, family, ids, mask), mask), _real(plain, mask))
    fast_paths = [v for m in model.modules() for v in vars(m).values() if isinstance(v, FastPath) and
                  hasattr(v, "model")]
    assert fast_paths and all(p.runs_as_built() for p in fast_paths)


@pytest.mark.parametrize("family,path", [("xlm", "causal"), ("transfo_xl", "pre_lnorm")])
def test_a_switch_set_after_a_forward_counts(family, path):
    """A bool the fast path builds from (XLM's causal, Transformer-XL's pre_lnorm) set after a forward is used."""
    model, _ = _model(family)
    ids, mask = _inputs(family)
    plain = _first_output(model, family, ids, mask)
    for module in model.modules():
        if isinstance(getattr(module, path, None), bool):
            setattr(module, path, not getattr(module, path))
    changed = _check_against_reference(model, family, ids, mask)
    assert (_real(changed, mask) - _real(plain, mask)).abs().max() > 1e-3


def test_torch_dynamic_int8_lm_head_runs_as_its_module():
    """torch.ao's quantize_dynamic turns GPT-2's LM head (an nn.Linear) into its int8 Linear, whose weight is a
    method: the head runs as that module, forward and generate."""
    model, _ = _model("gpt2")
    ids, _ = _inputs("gpt2")
    mask = torch.ones_like(ids)  # (its activation scale is the whole tensor's: padded positions would change it)
    quantized = torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
    _check_against_reference(quantized, "gpt2", ids, mask)
    assert torch.equal(quantized.generate(ids[:1, :3], max_new_tokens=2, do_sample=False),
                       _greedy_by_forward(quantized, ids[:1, :3], 2))


@pytest.mark.parametrize("family", ["bert", "gpt2", "transfo_xl"])
def test_weights_loaded_into_inference_tensors_are_used(family):
    """A model converted under torch.inference_mode() holds inference tensors (no version counter): weights loaded
    into it there with load_state_dict are still seen (a serving process swapping weights)."""
    model, _ = _model(family)
    other, _ = _model(family)
    randomize_all(other, seed=7, scale=0.2)
    ids, mask = _inputs(family)
    with torch.inference_mode():
        model.to(torch.float64).to(torch.float32)
        assert next(model.parameters()).is_inference()
        before = _first_output(model, family, ids, mask)
        model.load_state_dict(other.state_dict())
        after = _first_output(model, family, ids, mask)
        expected = _first_output(other, family, ids, mask)
    torch.testing.assert_close(_real(after, mask), _real(expected, mask), atol=1e-5, rtol=1e-5)
    assert (_real(after, mask) - _real(before, mask)).abs().max() > 1e-3
