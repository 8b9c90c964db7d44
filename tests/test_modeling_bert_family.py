"""Every BERT / RoBERTa / DistilBERT class against both references: tiny random models saved by transformers
(safetensors and .bin) and by pytorch-transformers 1.2.0 (.bin, its own names), loaded by us, same inputs,
all outputs within 1e-4 (losses, hidden states and attentions included), with and without padding."""
from __future__ import annotations

import inspect

import pytest
import torch

import transformers_fast
from modeling_helpers import HEAD_CLASSES, compare, hf_model, inputs, pt_model, quiet_transformers

CLASSES = {family: HEAD_CLASSES[family] for family in ("bert", "roberta", "distilbert")}
CASES = [(family, name) for family, names in CLASSES.items() for name in names]


def labels_for(class_name, ids, mask, style):
    """Label arguments for a class: style "ours"/"pt" use 1.2.0 names and -1 for ignored tokens,
    "hf" uses transformers' names and -100."""
    g = torch.Generator().manual_seed(5)
    batch, seq = ids.shape[0], ids.shape[-1]
    ignore = -100 if style == "hf" else -1
    mlm = torch.where((torch.rand(ids.shape, generator=g) < 0.4) & (mask == 1), ids, torch.full_like(ids, ignore))
    mlm_name = "labels" if style == "hf" else "masked_lm_labels"
    if class_name.endswith("ForPreTraining"):
        return {mlm_name: mlm, "next_sentence_label": torch.tensor([0, 1, 1][:batch])}
    if class_name.endswith("ForMaskedLM"):
        return {mlm_name: mlm}
    if class_name.endswith("ForNextSentencePrediction"):
        return {("labels" if style == "hf" else "next_sentence_label"): torch.tensor([1, 0, 1][:batch])}
    if class_name.endswith("ForSequenceClassification"):
        return {"labels": torch.tensor([2, 0, 1][:batch]) % (2 if "Distil" in class_name else 3)}
    if class_name.endswith("ForMultipleChoice"):
        return {"labels": torch.tensor([2, 0][:batch])}
    if class_name.endswith("ForTokenClassification"):
        labels = torch.randint(0, 3, ids.shape, generator=g)
        return {"labels": labels.masked_fill(mask == 0, -100) if style == "hf" else labels}
    if class_name.endswith("ForQuestionAnswering"):
        return {"start_positions": torch.tensor([1, 3, seq + 5][:batch]), "end_positions": torch.tensor([2, 4, 0][:batch])}
    return {}


def model_inputs(family, class_name, padded):
    if class_name.endswith("ForMultipleChoice"):
        ids, mask, tt = inputs(family, batch=6, padded=padded)
        return ids.view(2, 3, -1), mask.view(2, 3, -1), tt.view(2, 3, -1)
    ids, mask, tt = inputs(family, padded=padded)
    return ids, mask, (tt if family == "bert" else None)


def call(model, family, ids, mask, tt, style, **kw):
    if family != "bert":
        tt = None
    if style == "hf":
        args = dict(input_ids=ids, attention_mask=mask, return_dict=True, **kw)
        if tt is not None:
            args["token_type_ids"] = tt
        return model(**args)
    args = dict(attention_mask=mask, **kw)
    if tt is not None:
        args["token_type_ids"] = tt
    return model(ids, **args)


def as_our_tuple(hf_out, ours):
    """transformers' output laid out like ours (1.2.0 order); it must hold nothing more."""
    extra = {k for k, v in hf_out.items() if v is not None} - set(ours.keys()) - {"past_key_values", "cross_attentions"}
    assert not extra, f"transformers returned {extra} that we do not"
    return tuple(hf_out[k] for k in ours.keys())


def real_mask(class_name, mask):
    return mask.view(-1, mask.shape[-1]) if class_name.endswith("ForMultipleChoice") else mask


@pytest.fixture(scope="module")
def saved_hf(tmp_path_factory):
    """transformers checkpoints of every class, as safetensors and as .bin."""
    cache = {}

    def get(family, class_name, safe):
        key = (family, class_name, safe)
        if key not in cache:
            path = tmp_path_factory.mktemp(f"hf_{class_name}_{'st' if safe else 'bin'}")
            model = hf_model(family, class_name)
            model.save_pretrained(path, safe_serialization=safe)
            cache[key] = (model, path)
        return cache[key]

    return get


@pytest.mark.parametrize("safe", [True, False], ids=["safetensors", "bin"])
@pytest.mark.parametrize("family,class_name", CASES)
def test_matches_transformers(saved_hf, family, class_name, safe):
    ref, path = saved_hf(family, class_name, safe)
    ours = getattr(transformers_fast, class_name).from_pretrained(path)
    assert not ours.training
    for padded in (False, True):
        ids, mask, tt = model_inputs(family, class_name, padded)
        with torch.no_grad():
            expected = call(ref, family, ids, mask, tt, "hf", **labels_for(class_name, ids, mask, "hf"))
            # (token labels: a folder transformers wrote counts them as transformers does, padding included)
            style = "hf" if class_name.endswith("ForTokenClassification") else "ours"
            got = call(ours, family, ids, mask, tt, "ours", **labels_for(class_name, ids, mask, style))
        compare(got, as_our_tuple(expected, got), real_mask(class_name, mask) if padded else None)
        with torch.no_grad():  # without labels: the inference (padding-free) path
            expected = call(ref, family, ids, mask, tt, "hf")
            got = call(ours, family, ids, mask, tt, "ours")
        compare(got, as_our_tuple(expected, got), real_mask(class_name, mask) if padded else None)
        if padded:  # hidden states and attentions of every layer, asked for in the call
            with torch.no_grad():
                expected = call(ref, family, ids, mask, tt, "hf", output_hidden_states=True, output_attentions=True)
                got = call(ours, family, ids, mask, tt, "ours", output_hidden_states=True, output_attentions=True)
            compare(got, as_our_tuple(expected, got), real_mask(class_name, mask))
            assert got.hidden_states is got[-2] and got.attentions is got[-1]
            assert len(got.hidden_states) == ours.config.num_hidden_layers + 1


@pytest.mark.parametrize("family,class_name", CASES)
def test_matches_pytorch_transformers_1_2_0(tmp_path, family, class_name):
    ref = pt_model(family, class_name)
    ref.save_pretrained(str(tmp_path))
    ours = getattr(transformers_fast, class_name).from_pretrained(tmp_path, output_attentions=True,
                                                                  output_hidden_states=True)
    import pytorch_transformers as pt

    with torch.no_grad():  # 1.2.0's DistilBERT can only be built under no_grad on torch 2.x
        ref = getattr(pt, class_name).from_pretrained(str(tmp_path), output_attentions=True,
                                                      output_hidden_states=True).eval()
    ids, mask, tt = model_inputs(family, class_name, padded=True)
    n_layers, n_heads = ours.config.num_hidden_layers, ours.config.num_attention_heads
    head_mask = torch.ones(n_layers, n_heads)
    head_mask[0, 1] = 0
    head_mask[-1, 0] = 0.5
    for kw in ({}, {"head_mask": head_mask}, {"head_mask": head_mask[0]}):
        with torch.no_grad():
            expected = call(ref, family, ids, mask, tt, "pt", **labels_for(class_name, ids, mask, "pt"), **kw)
            got = call(ours, family, ids, mask, tt, "ours", **labels_for(class_name, ids, mask, "ours"), **kw)
        # Real positions always agree. Padded positions: 1.2.0's RoBERTa numbers them on from the real ones
        # (transformers and we give them the padding index), and the padding-free path returns zeros there
        # (documented); the reference path (head_mask given) matches 1.2.0 there too for BERT/DistilBERT.
        all_positions = family != "roberta" and "head_mask" in kw
        compare(got, expected, None if all_positions else real_mask(class_name, mask))


@pytest.mark.parametrize("family,class_name", [("bert", "BertForMaskedLM"), ("roberta", "RobertaForMaskedLM"),
                                               ("distilbert", "DistilBertForSequenceClassification")])
def test_training_step_matches_transformers(saved_hf, family, class_name):
    """Gradients of the same loss (dropout off) agree: training runs the plain torch path."""
    ref, path = saved_hf(family, class_name, True)
    ours = getattr(transformers_fast, class_name).from_pretrained(path)
    ids, mask, tt = model_inputs(family, class_name, padded=True)
    for m in (ours, ref):
        m.train()
        for mod in m.modules():
            if isinstance(mod, torch.nn.Dropout):
                mod.p = 0.0
    loss_ours = call(ours, family, ids, mask, tt, "ours", **labels_for(class_name, ids, mask, "ours"))[0]
    loss_ref = call(ref, family, ids, mask, tt, "hf", **labels_for(class_name, ids, mask, "hf")).loss
    loss_ours.backward()
    loss_ref.backward()
    assert abs(loss_ours.item() - loss_ref.item()) < 1e-4
    ref_grads = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        if p.grad is None or name not in ref_grads or ref_grads[name].grad is None:
            continue
        assert (p.grad - ref_grads[name].grad).abs().max() < 1e-4, name
    ref.eval()


def test_outputs_are_1_2_0_tuples_with_names(saved_hf):
    _, path = saved_hf("bert", "BertForSequenceClassification", True)
    model = transformers_fast.BertForSequenceClassification.from_pretrained(path)
    ids, mask, tt = inputs("bert")
    with torch.no_grad():
        out = model(ids, tt, mask, labels=torch.tensor([0, 1, 2]))
    loss, logits = out
    assert isinstance(out, tuple) and len(out) == 2
    assert out.loss is loss and out.logits is logits and out["logits"] is logits
    assert out.hidden_states is None and out.attentions is None
    assert out[:1] == (loss,)
    with pytest.raises(AttributeError):
        out.not_a_field


@pytest.mark.parametrize("class_name", ["BertModel", "GPT2LMHeadModel", "XLNetLMHeadModel"])
def test_return_dict_as_transformers_takes_it(class_name):
    """transformers' return_dict=False gives a plain tuple; True (its default) the named output."""
    import transformers

    quiet_transformers()
    family = class_name[:-len("LMHeadModel")] if class_name.endswith("LMHeadModel") else class_name[:-len("Model")]
    config = dict(BertModel=dict(vocab_size=99, hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                                 intermediate_size=37),
                  GPT2LMHeadModel=dict(vocab_size=99, n_embd=32, n_layer=1, n_head=4),
                  XLNetLMHeadModel=dict(vocab_size=99, d_model=32, n_layer=1, n_head=4, d_inner=37))[class_name]
    torch.manual_seed(0)
    ref = getattr(transformers, class_name)(getattr(transformers, family + "Config")(**config)).eval()
    ours = getattr(transformers_fast, class_name).from_transformers(ref).eval()
    ids = torch.randint(0, 99, (2, 5))
    with torch.no_grad():
        theirs_tuple, ours_tuple = ref(ids, return_dict=False), ours(ids, return_dict=False)
        named = ours(ids, return_dict=True)
        theirs_named = ref(ids, return_dict=True)
    assert type(ours_tuple) is tuple and type(theirs_tuple) is tuple
    compare(ours_tuple[0], theirs_tuple[0])
    assert type(named) is not tuple and isinstance(named, tuple)
    field = "last_hidden_state" if class_name == "BertModel" else "logits"
    compare(getattr(named, field), getattr(theirs_named, field))
    # forward itself takes it (sentence-transformers calls forward), and names are asked as of transformers' outputs
    assert "return_dict" in inspect.signature(ours.forward).parameters
    with torch.no_grad():
        direct_tuple, direct = ours.forward(ids, return_dict=False), ours.forward(input_ids=ids, return_dict=True)
    assert type(direct_tuple) is tuple
    compare(getattr(direct, field), getattr(theirs_named, field))
    for name in ("loss", "hidden_states", field):
        assert (name in direct) == (name in theirs_named), name
        assert direct.get(name) is None if name not in theirs_named else direct.get(name) is direct[name]
    assert direct[0] in direct and "absent" not in direct and direct.get("absent", 5) == 5



@pytest.mark.parametrize("family,class_name", [("bert", "BertModel"), ("distilbert", "DistilBertModel")])
def test_prune_heads_matches_1_2_0(tmp_path, family, class_name):
    import pytorch_transformers as pt

    ref = pt_model(family, class_name)
    ref.save_pretrained(str(tmp_path))
    ours = getattr(transformers_fast, class_name).from_pretrained(tmp_path)
    heads = {0: [1, 3], 1: [2]}
    ref.prune_heads(heads)
    ours.prune_heads(heads)
    assert ours.config.pruned_heads == {0: [1, 3], 1: [2]}
    ids, mask, tt = model_inputs(family, class_name, padded=True)
    with torch.no_grad():
        expected = call(ref, family, ids, mask, tt, "pt")
        got = call(ours, family, ids, mask, tt, "ours")  # padding-free path with pruned heads
        compare(got, expected, mask)
        ours.fast.enabled = False
        compare(call(ours, family, ids, mask, tt, "ours"), expected)
    # saved with its pruned heads, it loads again with the same shapes
    ours.save_pretrained(tmp_path / "pruned")
    again = getattr(transformers_fast, class_name).from_pretrained(tmp_path / "pruned")
    with torch.no_grad():
        compare(call(again, family, ids, mask, tt, "ours"), expected, mask)


def test_distilbert_mlm_head_is_gelu_whatever_the_activation_as_in_1_2_0(tmp_path):
    """1.2.0's DistilBertForMaskedLM applies GELU in its head even when config.activation is "relu"."""
    ref = pt_model("distilbert", "DistilBertForMaskedLM", activation="relu")
    ref.save_pretrained(str(tmp_path))
    ours = transformers_fast.DistilBertForMaskedLM.from_pretrained(tmp_path).eval()
    ids, mask, _ = inputs("distilbert", padded=True)
    with torch.no_grad():
        compare(ours(ids, attention_mask=mask), ref(ids, attention_mask=mask), mask)


@pytest.mark.parametrize("family,class_name", [("bert", "BertModel"), ("roberta", "RobertaForSequenceClassification"),
                                               ("distilbert", "DistilBertForMaskedLM")])
def test_output_flags_are_read_when_built_as_in_1_2_0(family, class_name):
    """1.2.0 copies config.output_attentions / output_hidden_states when a model is built: a model built before
    the shared config was changed keeps its tuple."""
    import pytorch_transformers as pt

    lengths = []
    for lib in (pt, transformers_fast):
        config = pt_model(family, class_name).config if lib is pt else \
            getattr(lib, class_name).config_class.from_dict(pt_model(family, class_name).config.to_dict())
        with torch.no_grad():
            before = getattr(lib, class_name)(config).eval()
            config.output_attentions = config.output_hidden_states = True
            after = getattr(lib, class_name)(config).eval()
            ids = inputs(family, padded=False)[0]
            lengths.append((len(before(ids)), len(after(ids))))
    assert lengths[1] == lengths[0] and lengths[0][0] + 2 == lengths[0][1]


# where 1.2.0 keeps the output switches it reads in forward: BertEncoder, DistilBERT's Transformer
SWITCHES = {"bert": "encoder", "roberta": "encoder", "distilbert": "transformer"}


@pytest.mark.parametrize("family,class_name", [("bert", "BertForMaskedLM"), ("roberta", "RobertaModel"),
                                               ("distilbert", "DistilBertModel"),
                                               ("distilbert", "DistilBertForSequenceClassification")])
def test_output_switches_set_on_the_submodule_after_loading_as_in_1_2_0(tmp_path, family, class_name):
    ref = pt_model(family, class_name).eval()
    ref.save_pretrained(str(tmp_path))
    ours = getattr(transformers_fast, class_name).from_pretrained(tmp_path)
    ids, mask = inputs(family)[:2]
    for model in (ref, ours):
        base = getattr(model, model.base_model_prefix, model)
        getattr(base, SWITCHES[family]).output_hidden_states = True
        for module in model.modules():  # (1.2.0 reads output_attentions in its layers and attentions too)
            if hasattr(module, "output_attentions") and module is not model and module is not base:
                module.output_attentions = True
    with torch.no_grad():
        expected, got = ref(ids, attention_mask=mask), ours(ids, attention_mask=mask)
    assert len(got) == len(expected)
    compare(got, expected, real_mask(class_name, mask))


@pytest.mark.parametrize("family,class_name", [("bert", "BertForSequenceClassification"), ("roberta", "RobertaModel"),
                                               ("distilbert", "DistilBertModel")])
def test_per_layer_head_mask_of_more_dimensions_as_in_1_2_0(tmp_path, family, class_name):
    """1.2.0 multiplies layer i's attention probabilities [batch, heads, q, k] by head_mask[i] whatever its shape:
    a per-example [layers, batch, heads, 1, 1] mask or a full [layers, batch, heads, q, k] one."""
    ref = pt_model(family, class_name)
    ref.save_pretrained(str(tmp_path))
    ours = getattr(transformers_fast, class_name).from_pretrained(tmp_path).eval()
    ids = inputs(family, padded=False)[0]
    g = torch.Generator().manual_seed(0)
    for shape in [(2, 3, 4, 1, 1), (2, 3, 4, ids.shape[1], ids.shape[1]), (2, 4, 1, 1)]:
        head_mask = torch.rand(shape, generator=g)
        with torch.no_grad():
            compare(ours(ids, head_mask=head_mask), ref(ids, head_mask=head_mask))
    with pytest.raises(ValueError, match="one mask per layer"):
        ours(ids, head_mask=torch.ones(3, 1, 4, 1, 1))


@pytest.mark.parametrize("family,class_name", [("bert", "BertModel"), ("roberta", "RobertaForSequenceClassification")])
def test_layer_pruned_of_every_head_runs_as_in_1_2_0(tmp_path, family, class_name):
    """1.2.0 runs a layer whose heads are all pruned (its attention adds only the output bias); the padding-free
    path has no empty GEMMs for it, so such a model runs the reference path."""
    ref = pt_model(family, class_name)
    ref.save_pretrained(str(tmp_path))
    ours = getattr(transformers_fast, class_name).from_pretrained(tmp_path).eval()
    heads = {1: [0, 1, 2, 3]}
    ref.prune_heads(heads)
    ours.prune_heads(heads)
    ids, mask, tt = model_inputs(family, class_name, padded=False)
    with torch.no_grad():
        compare(call(ours, family, ids, mask, tt, "ours"), call(ref, family, ids, mask, tt, "pt"))


@pytest.mark.parametrize("class_name", CLASSES["distilbert"])
def test_distilbert_position_ids_as_transformers(saved_hf, class_name):
    """transformers' DistilBERT takes position_ids (1.2.0 does not): per-row, shared and 1-D, on the padding-free
    path and on the reference path (output_attentions), a padded batch."""
    ref, path = saved_hf("distilbert", class_name, True)
    ours = getattr(transformers_fast, class_name).from_pretrained(path)
    ids, mask, _ = model_inputs("distilbert", class_name, padded=True)
    seq = ids.shape[1]
    per_row = torch.stack([torch.arange(seq) + shift for shift in (3, 0, 7)])
    for position_ids in (per_row, torch.arange(seq)[None] + 5, torch.arange(seq).flip(0)):
        for kw in ({}, {"output_attentions": True}):
            with torch.no_grad():
                expected = ref(input_ids=ids, attention_mask=mask, position_ids=position_ids, return_dict=True, **kw)
                got = ours(ids, attention_mask=mask, position_ids=position_ids, **kw)
            compare(got, as_our_tuple(expected, got), mask)
            with torch.no_grad():  # without them: the default positions, not the last call's
                plain = ours(ids, attention_mask=mask, **kw)
            assert not torch.allclose(plain[0], got[0])
    max_len = ours.config.max_position_embeddings
    with pytest.raises(ValueError, match="position_ids holds"):
        ours(ids, position_ids=torch.arange(seq)[None] + max_len)
    with pytest.raises(ValueError, match="position_ids has shape"):
        ours(ids, position_ids=torch.arange(seq + 1))
    with pytest.raises(ValueError, match="position_ids has shape"):
        ours(ids, position_ids=torch.arange(seq).expand(2, seq))
