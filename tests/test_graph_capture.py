"""torch.export, ONNX export and torch.compile(fullgraph=True) of the models, as users do with transformers' models.
Under graph capture a model records its reference path (the fast paths' packed weights, data-pointer checks and
per-batch padding layouts are not graph material), so the captured program holds only aten ops and gives the
references' outputs on other inputs, also of other shapes where the dimensions were exported as dynamic."""
from __future__ import annotations

import warnings

import pytest
import torch

import transformers_fast
from gpt_helpers import pt_gpt, save_pt
from modeling_helpers import compare, pt_model
from test_loading_parity import pt_checkpoint, pt_load
from test_torchscript import CASES, RELATIVE_CASES, compare_top_k, encoder_inputs, gpt_inputs, keyword_inputs

pytestmark = pytest.mark.skipif(not hasattr(torch.export, "Dim"), reason="torch.export with Dim needs torch >= 2.2")


def export(model, args=(), kwargs=None, dynamic=True):
    """torch.export of the model; with `dynamic`, every input's first dimension is the batch and its last the
    sequence (a second one, [batch, choices], for the double-heads model's mc_token_ids)."""
    # (inputs that are views, as the multiple-choice ones, would be exported with their base's sizes)
    args, kwargs = [a.clone() for a in args], {k: v.clone() for k, v in (kwargs or {}).items()}
    shapes = None
    if dynamic:
        batch, seq = torch.export.Dim("batch", min=1, max=64), torch.export.Dim("seq", min=5, max=32)

        def dims(t):
            return {0: batch} if t.shape[-1] == 1 else {0: batch, t.dim() - 1: seq}
        shapes = {name: dims(t) for name, t in kwargs.items()} if kwargs else tuple(dims(t) for t in args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.export.export(model, tuple(args), kwargs=kwargs, dynamic_shapes=shapes, strict=False)
    foreign = {str(n.target) for n in program.graph.nodes if n.op == "call_function" and "transformers_fast" in
               str(n.target)}
    assert not foreign, f"the exported graph calls this library's ops {sorted(foreign)}: it would not run elsewhere"
    return program.module()


@pytest.mark.parametrize("family,class_name", CASES)
def test_exported_model_equals_pytorch_transformers(family, class_name, tmp_path):
    """BERT, RoBERTa, DistilBERT, OpenAI GPT and GPT-2: exported with dynamic batch and sequence sizes (the encoders
    on a padded batch), run on inputs of another shape."""
    if family in ("openai", "gpt2"):
        ref = pt_gpt(family, class_name)
        example, other = gpt_inputs(class_name, 2, 7), gpt_inputs(class_name, 3, 11)
        mask = None
    else:
        ref = pt_model(family, class_name)
        example = encoder_inputs(family, class_name, 2, 7, padded=True)
        other = encoder_inputs(family, class_name, 2 if class_name.endswith("ForMultipleChoice") else 3, 9, padded=True)
        mask = other[-1].view(-1, other[-1].shape[-1])
    save_pt(ref, str(tmp_path), "bin")
    model = getattr(transformers_fast, class_name).from_pretrained(str(tmp_path))
    exported = export(model, example)
    with torch.no_grad():
        compare(tuple(exported(*other)), tuple(ref(*other)), mask)
        compare(tuple(model(*other)), tuple(ref(*other)), mask)  # the eager model after the capture


def same_shape_batch(family, batch, seq):
    inputs, mask = keyword_inputs(family, batch, seq)
    inputs["input_ids"] = torch.randint(3, 99, (batch, seq), generator=torch.Generator().manual_seed(99))
    return inputs, mask


@pytest.mark.parametrize("family,class_name", RELATIVE_CASES)
def test_exported_transfo_xl_xlnet_xlm_equal_pytorch_transformers(family, class_name, tmp_path):
    """XLM with dynamic sizes; Transformer-XL and XLNet for the example's shape (1.2.0's Transformer-XL and both
    references' XLNet build their relative positions from Python numbers), run on other ids and padding."""
    config = {"mem_len": 5} if family == "xlnet" else {}
    pt_checkpoint(family, class_name, tmp_path, **config)
    ref = pt_load(class_name, tmp_path)
    model = getattr(transformers_fast, class_name).from_pretrained(tmp_path)
    example, _ = keyword_inputs(family, 2, 7)
    dynamic = family == "xlm"
    other, mask = keyword_inputs(family, 3, 9) if dynamic else same_shape_batch(family, 2, 7)
    exported = export(model, kwargs=example, dynamic=dynamic)
    with torch.no_grad():
        got, expected = tuple(exported(**other)), ref(**other)
    if class_name.endswith("QuestionAnswering"):
        compare_top_k(got, expected, mask)
    else:
        compare(got, tuple(expected), mask)


@pytest.mark.parametrize("dynamo", [True, False])
def test_onnx_export_runs_in_onnx_runtime(dynamo, tmp_path):
    """torch.onnx.export of BertModel with dynamic batch and sequence, through torch.export (dynamo=True, torch's
    default since 2.9) and through the TorchScript exporter (the default before, which fills every parameter after
    the given ones with its default, positionally): ONNX Runtime gives 1.2.0's outputs on a padded batch of another
    shape."""
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    ref = pt_model("bert", "BertModel")
    save_pt(ref, str(tmp_path), "bin")
    model = transformers_fast.BertModel.from_pretrained(str(tmp_path))
    names = ["input_ids", "token_type_ids", "attention_mask"]
    example = encoder_inputs("bert", "BertModel", 2, 7, padded=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            batch, seq = torch.export.Dim("batch", min=1, max=64), torch.export.Dim("seq", min=5, max=32)
            program = torch.onnx.export(model, tuple(example), dynamo=True, verbose=False, input_names=names,
                                        dynamic_shapes=tuple({0: batch, 1: seq} for _ in names))
            program.save(str(tmp_path / "model.onnx"))
        else:
            torch.onnx.export(model, tuple(example), str(tmp_path / "model.onnx"), dynamo=False, input_names=names,
                              dynamic_axes={name: {0: "batch", 1: "seq"} for name in names})
    session = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    other = encoder_inputs("bert", "BertModel", 3, 9, padded=True)
    feeds = dict(zip(names, other))
    got = session.run(None, {i.name: feeds[i.name].numpy() for i in session.get_inputs()})
    with torch.no_grad():
        compare(tuple(torch.from_numpy(g) for g in got), tuple(ref(*other)), other[-1])


@pytest.mark.parametrize("family,class_name", [("bert", "BertForSequenceClassification"),
                                               ("gpt2", "GPT2LMHeadModel"), ("xlnet", "XLNetModel")])
def test_compiled_model_has_no_graph_break_and_equals_pytorch_transformers(family, class_name, tmp_path):
    if family == "xlnet":
        pt_checkpoint(family, class_name, tmp_path, mem_len=5)
        ref = pt_load(class_name, tmp_path)
        inputs, mask = keyword_inputs(family, 3, 9)
        args, kwargs = (), inputs
    else:
        ref = pt_gpt(family, class_name) if family == "gpt2" else pt_model(family, class_name)
        save_pt(ref, str(tmp_path), "bin")
        args = gpt_inputs(class_name, 3, 9) if family == "gpt2" else encoder_inputs(family, class_name, 3, 9, True)
        kwargs, mask = {}, (None if family == "gpt2" else args[-1])
    model = getattr(transformers_fast, class_name).from_pretrained(str(tmp_path))
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True, backend="eager")  # (the graph is what is tested, not Inductor)
    with torch.no_grad():
        compare(tuple(compiled(*args, **kwargs)), tuple(ref(*args, **kwargs)), mask)
