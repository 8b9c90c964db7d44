"""pytorch-transformers 1.2.0's checkpoint converters: original releases (TensorFlow checkpoints of BERT, GPT-2,
XLNet and Transformer-XL, OpenAI GPT's numpy shards, XLM's and fairseq RoBERTa's PyTorch dumps) to the files
`from_pretrained` reads, with 1.2.0's function names, arguments and output files. The 1.2.0 module paths
(`transformers_fast.convert_tf_checkpoint_to_pytorch`, ...) and `python -m transformers_fast` (1.2.0's
`pytorch_transformers` command) resolve here.

Differences from 1.2.0, all on the side of safety: pickles are read without running code (a torch.load with
weights_only=True, or an unpickler that builds only the containers and arrays a dataset or vocabulary holds), so a
dump that needs anything else is refused with the name of what it asked for; RoBERTa needs no fairseq install;
output folders are created when missing."""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import pickle
import sys
from collections import Counter, OrderedDict
from typing import Dict, List, Optional, Sequence

from transformers_fast.file_utils import CONFIG_NAME, WEIGHTS_NAME, AllowListUnpickler

GLUE_TASKS_NUM_LABELS = {"cola": 2, "mnli": 3, "mrpc": 2, "sst-2": 2, "sts-b": 1, "qqp": 2, "qnli": 2, "rte": 2,
                         "wnli": 2}


def _save_folder(model, config, folder: str) -> None:
    """1.2.0's converters' output: the state dict as pytorch_model.bin and config.json in folder."""
    import torch

    os.makedirs(folder, exist_ok=True)
    weights, config_file = os.path.join(folder, WEIGHTS_NAME), os.path.join(folder, CONFIG_NAME)
    print(f"Save PyTorch model to {os.path.abspath(weights)}")
    torch.save(model.state_dict(), weights)
    print(f"Save configuration file to {os.path.abspath(config_file)}")
    config.to_json_file(config_file)


def convert_tf_checkpoint_to_pytorch(tf_checkpoint_path, bert_config_file, pytorch_dump_path):
    """Google's TensorFlow BERT checkpoint -> a BertForPreTraining state dict saved at pytorch_dump_path (a file)."""
    import torch

    from transformers_fast.models.bert.modeling_bert import BertConfig, BertForPreTraining, load_tf_weights_in_bert

    config = BertConfig.from_json_file(bert_config_file)
    print(f"Building PyTorch model from configuration: {config}")
    model = BertForPreTraining(config)
    load_tf_weights_in_bert(model, config, tf_checkpoint_path)
    print(f"Save PyTorch model to {pytorch_dump_path}")
    torch.save(model.state_dict(), pytorch_dump_path)


def convert_gpt2_checkpoint_to_pytorch(gpt2_checkpoint_path, gpt2_config_file, pytorch_dump_folder_path):
    """OpenAI's TensorFlow GPT-2 checkpoint -> a GPT2Model folder; gpt2_config_file "" is GPT-2 small's config."""
    from transformers_fast.models.gpt2.modeling_gpt2 import GPT2Config, GPT2Model, load_tf_weights_in_gpt2

    config = GPT2Config.from_json_file(gpt2_config_file) if gpt2_config_file else GPT2Config()
    model = GPT2Model(config)
    load_tf_weights_in_gpt2(model, config, gpt2_checkpoint_path)
    _save_folder(model, config, pytorch_dump_folder_path)


def convert_openai_checkpoint_to_pytorch(openai_checkpoint_folder_path, openai_config_file, pytorch_dump_folder_path):
    """OpenAI GPT's release (params_shapes.json, parameters_names.json, params_0..9.npy) -> an OpenAIGPTModel
    folder; openai_config_file "" is the released model's config."""
    from transformers_fast.models.openai.modeling_openai import (OpenAIGPTConfig, OpenAIGPTModel,
                                                                 load_tf_weights_in_openai_gpt)

    config = OpenAIGPTConfig.from_json_file(openai_config_file) if openai_config_file else OpenAIGPTConfig()
    model = OpenAIGPTModel(config)
    load_tf_weights_in_openai_gpt(model, config, openai_checkpoint_folder_path)
    _save_folder(model, config, pytorch_dump_folder_path)


def convert_xlnet_checkpoint_to_pytorch(tf_checkpoint_path, bert_config_file, pytorch_dump_folder_path,
                                        finetuning_task=None):
    """Google's TensorFlow XLNet checkpoint -> a folder of XLNetLMHeadModel, or of the GLUE classifier / SQuAD model
    when finetuning_task names one (as 1.2.0 picks them)."""
    from transformers_fast.models.xlnet.modeling_xlnet import (XLNetConfig, XLNetForQuestionAnswering,
                                                               XLNetForSequenceClassification, XLNetLMHeadModel,
                                                               load_tf_weights_in_xlnet)

    config = XLNetConfig.from_json_file(bert_config_file)
    task = finetuning_task.lower() if finetuning_task is not None else ""
    if task in GLUE_TASKS_NUM_LABELS:
        print(f"Building PyTorch XLNetForSequenceClassification model from configuration: {config}")
        config.finetuning_task, config.num_labels = task, GLUE_TASKS_NUM_LABELS[task]
        model = XLNetForSequenceClassification(config)
    elif "squad" in task:
        config.finetuning_task = task
        model = XLNetForQuestionAnswering(config)
    else:
        model = XLNetLMHeadModel(config)
    load_tf_weights_in_xlnet(model, config, tf_checkpoint_path)
    _save_folder(model, config, pytorch_dump_folder_path)


class _PickledObject:
    """What a dataset pickle's Corpus / Vocab instance becomes: its attributes, no code."""

    def __setstate__(self, state):
        if not isinstance(state, dict):
            raise pickle.UnpicklingError(f"expected the attributes of an object, got {type(state).__name__}")
        self.__dict__.update(state)


def _numpy_globals() -> Dict[tuple, object]:
    """The functions and classes numpy arrays and scalars are pickled with (under numpy 1 and 2 names)."""
    import numpy as np

    core = getattr(np, "_core", None) or np.core
    allowed = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(module, "_reconstruct")] = core.multiarray._reconstruct
        allowed[(module, "scalar")] = core.multiarray.scalar
    for name in dir(getattr(np, "dtypes", None) or object()):  # numpy >= 1.25 pickles dtypes by their classes
        if name.endswith("DType"):
            allowed[("numpy.dtypes", name)] = getattr(np.dtypes, name)
    return allowed


def _dataset_unpickler(stream) -> AllowListUnpickler:
    """For the Transformer-XL release's dataset pickle (its data_utils.Corpus with a vocabulary.Vocab, numpy arrays
    and counters), written by Python 2."""
    allowed = dict(_numpy_globals())
    allowed.update({("collections", "OrderedDict"): OrderedDict, ("collections", "Counter"): Counter,
                    ("builtins", "set"): set, ("builtins", "frozenset"): frozenset, ("__builtin__", "set"): set,
                    ("copy_reg", "_reconstructor"): _reconstructor, ("copyreg", "_reconstructor"): _reconstructor,
                    ("__builtin__", "object"): object, ("builtins", "object"): object,
                    ("_codecs", "encode"): _latin1_bytes})
    for module in ("data_utils", "vocabulary"):
        for name in ("Corpus", "Vocab", "TransfoXLCorpus", "TransfoXLTokenizer"):
            allowed[(module, name)] = _PickledObject
    return AllowListUnpickler(stream, allowed, "dataset file", encoding="latin1")


def _latin1_bytes(text, encoding="utf-8"):
    """_codecs.encode as Python 3 pickles bytes at protocol 2 (a latin-1 string): only that."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("dataset file: refusing an encode call other than pickled bytes")
    return text.encode("latin-1")


def _reconstructor(cls, base, state):
    """copy_reg._reconstructor for the classes allowed above (protocol 0/1 pickles of new-style objects)."""
    if cls is not _PickledObject or base is not object or state is not None:
        raise pickle.UnpicklingError("dataset file: refusing to reconstruct an object of this kind")
    return _PickledObject()


def _load_dataset_pickle(path: str) -> _PickledObject:
    with open(path, "rb") as f:
        corpus = _dataset_unpickler(io.BytesIO(f.read())).load()
    if not isinstance(corpus, _PickledObject) or not isinstance(getattr(corpus, "vocab", None), _PickledObject):
        raise ValueError(f"{path}: not a Transformer-XL dataset pickle (a Corpus with a vocab)")
    return corpus


def convert_transfo_xl_checkpoint_to_pytorch(tf_checkpoint_path, transfo_xl_config_file, pytorch_dump_folder_path,
                                             transfo_xl_dataset_file):
    """The Transformer-XL release: its dataset pickle -> vocab.bin and corpus.bin, and/or its TensorFlow checkpoint
    -> a TransfoXLLMHeadModel folder (either argument may be "")."""
    import torch

    from transformers_fast.models.transfo_xl.modeling_transfo_xl import (TransfoXLConfig, TransfoXLLMHeadModel,
                                                                         load_tf_weights_in_transfo_xl)
    from transformers_fast.models.transfo_xl.tokenization_transfo_xl import CORPUS_NAME, VOCAB_FILES_NAMES

    os.makedirs(pytorch_dump_folder_path, exist_ok=True)
    if transfo_xl_dataset_file:
        corpus = _load_dataset_pickle(transfo_xl_dataset_file)
        vocab_file = os.path.join(pytorch_dump_folder_path, VOCAB_FILES_NAMES["pretrained_vocab_file"])
        print(f"Save vocabulary to {vocab_file}")
        torch.save(dict(corpus.vocab.__dict__), vocab_file)
        state = {k: v for k, v in corpus.__dict__.items() if k != "vocab"}
        for split in ("train", "valid", "test"):  # arrays as tensors, so that weights_only loading reads them
            if split in state and state[split] is not None and not isinstance(state[split], (list, str)):
                state[split] = torch.as_tensor(state[split], dtype=torch.long)
        corpus_file = os.path.join(pytorch_dump_folder_path, CORPUS_NAME)
        print(f"Save dataset to {corpus_file}")
        torch.save(state, corpus_file)
    if tf_checkpoint_path:
        config = TransfoXLConfig.from_json_file(transfo_xl_config_file) if transfo_xl_config_file else TransfoXLConfig()
        print(f"Building PyTorch model from configuration: {config}")
        model = load_tf_weights_in_transfo_xl(TransfoXLLMHeadModel(config), config, tf_checkpoint_path)
        _save_folder(model, config, pytorch_dump_folder_path)


def _load_dump(path: str, what: str, allow: Sequence = ()):
    """torch.load(weights_only=True) of a release dump, also allowing numpy arrays and scalars (and the classes in
    allow) where torch can be told so (2.5+)."""
    import torch

    allowed = getattr(torch.serialization, "safe_globals", None)
    context = allowed(list(set(_numpy_globals().values())) + list(allow)) if allowed else contextlib.nullcontext()
    try:
        with context:
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise ValueError(f"{path}: the {what} holds objects that are not loaded without running code "
                         f"(torch.load(weights_only=True) said: {str(error).splitlines()[0]})") from error


def convert_xlm_checkpoint_to_pytorch(xlm_checkpoint_path, pytorch_dump_folder_path):
    """An XLM release dump (facebookresearch/XLM's .pth: model, params, dico_word2id) -> pytorch_model.bin,
    config.json and vocab.json, as 1.2.0 writes them ("@@" continuation marks become "</w>" word ends)."""
    import torch

    import numpy as np

    from transformers_fast.models.xlm.tokenization_xlm import VOCAB_FILES_NAMES

    dump = _load_dump(xlm_checkpoint_path, "XLM checkpoint")
    missing = [key for key in ("model", "params", "dico_word2id") if key not in dump]
    if missing:
        raise ValueError(f"{xlm_checkpoint_path}: not an XLM release dump (no {', '.join(missing)})")
    config = {n: v for n, v in dump["params"].items() if not isinstance(v, (torch.Tensor, np.ndarray, np.generic))}
    vocab = {(s + "</w>" if s.find("@@") == -1 and i > 13 else s.replace("@@", "")): i
             for s, i in dump["dico_word2id"].items()}
    os.makedirs(pytorch_dump_folder_path, exist_ok=True)
    weights = os.path.join(pytorch_dump_folder_path, WEIGHTS_NAME)
    print(f"Save PyTorch model to {weights}")
    torch.save(dump["model"], weights)
    config_file = os.path.join(pytorch_dump_folder_path, CONFIG_NAME)
    print(f"Save configuration file to {config_file}")
    with open(config_file, "w", encoding="utf-8") as f:
        f.write(json.dumps(config, indent=2) + "\n")
    vocab_file = os.path.join(pytorch_dump_folder_path, VOCAB_FILES_NAMES["vocab_file"])
    print(f"Save vocab file to {vocab_file}")
    with open(vocab_file, "w", encoding="utf-8") as f:
        f.write(json.dumps(vocab, indent=2) + "\n")


# fairseq's RoBERTa names -> 1.2.0's (per layer: the fused in_proj is split into query, key, value)
_ROBERTA_EMBEDDINGS = {"embed_tokens.weight": "embeddings.word_embeddings.weight",
                       "embed_positions.weight": "embeddings.position_embeddings.weight",
                       "emb_layer_norm.weight": "embeddings.LayerNorm.weight",
                       "emb_layer_norm.bias": "embeddings.LayerNorm.bias"}
_ROBERTA_LAYER = {"self_attn.out_proj": "attention.output.dense", "self_attn_layer_norm": "attention.output.LayerNorm",
                  "fc1": "intermediate.dense", "fc2": "output.dense", "final_layer_norm": "output.LayerNorm"}
_ROBERTA_LM_HEAD = {"dense.weight": "dense.weight", "dense.bias": "dense.bias", "layer_norm.weight": "layer_norm.weight",
                    "layer_norm.bias": "layer_norm.bias", "weight": "decoder.weight", "bias": "bias"}


def convert_roberta_checkpoint_to_pytorch(roberta_checkpoint_path, pytorch_dump_folder_path, classification_head):
    """fairseq's RoBERTa release (its folder holding model.pt, or model.pt) -> a RobertaForMaskedLM folder, or
    RobertaForSequenceClassification with the checkpoint's 'mnli' head when classification_head (as 1.2.0). Reads
    the released files' names (fairseq 0.8: a fused in_proj per attention) without fairseq."""
    import torch

    from transformers_fast.models.roberta.modeling_roberta import (RobertaConfig, RobertaForMaskedLM,
                                                                   RobertaForSequenceClassification)

    path = roberta_checkpoint_path
    if os.path.isdir(path):
        path = os.path.join(path, "model.pt")
    dump = _load_dump(path, "fairseq checkpoint", allow=[argparse.Namespace])
    args, fairseq = dump.get("args"), dump.get("model")
    if not isinstance(args, argparse.Namespace) or not isinstance(fairseq, dict):
        raise ValueError(f"{path}: not a fairseq RoBERTa release checkpoint (args and model)")
    hidden = args.encoder_embed_dim
    config = RobertaConfig(vocab_size_or_config_json_file=50265, hidden_size=hidden,
                           num_hidden_layers=args.encoder_layers, num_attention_heads=args.encoder_attention_heads,
                           intermediate_size=args.encoder_ffn_embed_dim, max_position_embeddings=514,
                           type_vocab_size=1, layer_norm_eps=1e-5)  # fairseq's LayerNorm eps: torch's default
    state = {}

    def read(source):
        if source not in fairseq:
            raise ValueError(f"{path}: the fairseq checkpoint has no {source}")
        return fairseq[source]

    def take(source, target):
        state[target] = read(source)

    encoder = "decoder.sentence_encoder."
    for source, target in _ROBERTA_EMBEDDINGS.items():
        take(encoder + source, "roberta." + target)
    state["roberta.embeddings.token_type_embeddings.weight"] = torch.zeros(1, hidden)  # RoBERTa has none
    for i in range(config.num_hidden_layers):
        source, target = f"{encoder}layers.{i}.", f"roberta.encoder.layer.{i}."
        for kind in ("weight", "bias"):
            fused = read(f"{source}self_attn.in_proj_{kind}")
            if fused.shape[0] != 3 * hidden:
                raise ValueError(f"{path}: {source}self_attn.in_proj_{kind} has {fused.shape[0]} rows, expected "
                                 f"3 x {hidden}")
            for part, name in enumerate(("query", "key", "value")):
                state[f"{target}attention.self.{name}.{kind}"] = fused[part * hidden:(part + 1) * hidden]
            for theirs, ours in _ROBERTA_LAYER.items():
                take(f"{source}{theirs}.{kind}", f"{target}{ours}.{kind}")
    if classification_head:
        head = "classification_heads.mnli."
        take(head + "out_proj.weight", "classifier.out_proj.weight")
        config.num_labels = state["classifier.out_proj.weight"].shape[0]
        for part in ("dense.weight", "dense.bias", "out_proj.bias"):
            take(head + part, "classifier." + part)
        model = RobertaForSequenceClassification(config)
    else:
        for theirs, ours in _ROBERTA_LM_HEAD.items():
            take("decoder.lm_head." + theirs, "lm_head." + ours)
        model = RobertaForMaskedLM(config)
    model.load_state_dict(state, strict=False)
    # fairseq has no pooler (no RoBERTa head reads it): left as initialised, as 1.2.0 does
    unset = sorted(k for k in set(model.state_dict()) - set(state) if not k.startswith("roberta.pooler."))
    if unset:
        raise ValueError(f"{path}: the conversion left {', '.join(unset[:5])} unset")
    print(f"Saving model to {pytorch_dump_folder_path}")
    model.save_pretrained(pytorch_dump_folder_path)


# 1.2.0's BertModel -> TensorFlow names: replacements in this order, then a "bert/" prefix; these are transposed
_BERT_TF_RENAMES = (("layer.", "layer_"), ("word_embeddings.weight", "word_embeddings"),
                    ("position_embeddings.weight", "position_embeddings"),
                    ("token_type_embeddings.weight", "token_type_embeddings"), (".", "/"),
                    ("LayerNorm/weight", "LayerNorm/gamma"), ("LayerNorm/bias", "LayerNorm/beta"),
                    ("weight", "kernel"))
_BERT_TF_TRANSPOSED = ("dense.weight", "attention.self.query", "attention.self.key", "attention.self.value")


def bert_tf_variables(state_dict) -> "OrderedDict[str, object]":
    """A BertModel's state dict as the numpy arrays of Google's TensorFlow checkpoint, by variable name."""
    out = OrderedDict()
    for key, tensor in state_dict.items():
        name = key
        for pattern, replacement in _BERT_TF_RENAMES:
            name = name.replace(pattern, replacement)
        array = tensor.detach().cpu().float().numpy()
        if any(part in key for part in _BERT_TF_TRANSPOSED):
            array = array.T
        out["bert/" + name] = array.copy()
    return out


def write_tf_checkpoint(variables, prefix: str) -> str:
    """Numpy arrays by variable name -> a TensorFlow checkpoint at prefix (prefix.index, prefix.data-*; needs
    TensorFlow)."""
    try:
        import tensorflow as tf
    except ImportError as error:
        raise ImportError("Writing a TensorFlow checkpoint needs TensorFlow: pip install tensorflow") from error
    v1 = tf.compat.v1
    os.makedirs(os.path.dirname(os.path.abspath(prefix)), exist_ok=True)
    with tf.Graph().as_default(), v1.Session() as session:
        saved = []
        for name, array in variables.items():
            variable = v1.get_variable(name, shape=array.shape, dtype=tf.as_dtype(array.dtype),
                                       initializer=v1.zeros_initializer())
            value = v1.placeholder(variable.dtype, shape=array.shape)
            session.run(variable.assign(value), {value: array})  # fed, not a graph constant: no 2 GB graph limit
            saved.append(variable)
        v1.train.Saver(saved).save(session, prefix)
    return prefix


def convert_pytorch_checkpoint_to_tf(model, ckpt_dir: str, model_name: str) -> str:
    """A BertModel -> a TensorFlow checkpoint <ckpt_dir>/<model_name, - as _>.ckpt with Google's names (needs
    TensorFlow). Returns the checkpoint's path prefix."""
    prefix = write_tf_checkpoint(bert_tf_variables(model.state_dict()),
                                 os.path.join(ckpt_dir, model_name.replace("-", "_") + ".ckpt"))
    print(f"Saved TensorFlow checkpoint {prefix}")
    return prefix


def _pytorch_to_tf_script(model_name, cache_dir, pytorch_model_path, tf_cache_dir):
    import torch

    from transformers_fast.models.bert.modeling_bert import BertModel

    state = torch.load(pytorch_model_path, map_location="cpu", weights_only=True)
    model = BertModel.from_pretrained(model_name, state_dict=state, cache_dir=cache_dir)
    convert_pytorch_checkpoint_to_tf(model=model, ckpt_dir=tf_cache_dir, model_name=model_name)


# The module scripts of 1.2.0 (`python -m <module> --flag ...`): function, then (flag, kind, help) per argument in
# the function's order. Kinds, with 1.2.0's defaults: REQUIRED; OPTIONAL, "" when absent (its functions read "" as
# absent); NONE_DEFAULT, None when absent; SWITCH, a store_true flag.
REQUIRED, OPTIONAL, NONE_DEFAULT, SWITCH = "required", "optional", "none", "switch"
_PATH = "Path to the output PyTorch model."
SCRIPTS: Dict[str, tuple] = {
    "convert_tf_checkpoint_to_pytorch": (convert_tf_checkpoint_to_pytorch, [
        ("tf_checkpoint_path", REQUIRED, "Path to the TensorFlow checkpoint path."),
        ("bert_config_file", REQUIRED, "The config json file of the pre-trained BERT model."),
        ("pytorch_dump_path", REQUIRED, _PATH)]),
    "convert_gpt2_checkpoint_to_pytorch": (convert_gpt2_checkpoint_to_pytorch, [
        ("gpt2_checkpoint_path", REQUIRED, "Path to the TensorFlow checkpoint path."),
        ("gpt2_config_file", OPTIONAL, "An optional config json file of the pre-trained model."),
        ("pytorch_dump_folder_path", REQUIRED, _PATH)]),
    "convert_openai_checkpoint_to_pytorch": (convert_openai_checkpoint_to_pytorch, [
        ("openai_checkpoint_folder_path", REQUIRED, "Path to the TensorFlow checkpoint path."),
        ("openai_config_file", OPTIONAL, "An optional config json file of the pre-trained model."),
        ("pytorch_dump_folder_path", REQUIRED, _PATH)]),
    "convert_xlnet_checkpoint_to_pytorch": (convert_xlnet_checkpoint_to_pytorch, [
        ("tf_checkpoint_path", REQUIRED, "Path to the TensorFlow checkpoint path."),
        ("xlnet_config_file", REQUIRED, "The config json file of the pre-trained XLNet model."),
        ("pytorch_dump_folder_path", REQUIRED, "Path to the folder to store the PyTorch model or dataset/vocab."),
        ("finetuning_task", NONE_DEFAULT, "Name of a task on which the XLNet TensorFlow model was fine-tuned")]),
    "convert_transfo_xl_checkpoint_to_pytorch": (convert_transfo_xl_checkpoint_to_pytorch, [
        ("tf_checkpoint_path", OPTIONAL, "An optional path to a TensorFlow checkpoint path to be converted."),
        ("transfo_xl_config_file", OPTIONAL, "An optional config json file of the pre-trained model."),
        ("pytorch_dump_folder_path", REQUIRED, "Path to the folder to store the PyTorch model or dataset/vocab."),
        ("transfo_xl_dataset_file", OPTIONAL, "An optional dataset file to be converted in a vocabulary.")]),
    "convert_xlm_checkpoint_to_pytorch": (convert_xlm_checkpoint_to_pytorch, [
        ("xlm_checkpoint_path", REQUIRED, "Path the official PyTorch dump."),
        ("pytorch_dump_folder_path", REQUIRED, _PATH)]),
    "convert_roberta_checkpoint_to_pytorch": (convert_roberta_checkpoint_to_pytorch, [
        ("roberta_checkpoint_path", REQUIRED, "Path the official PyTorch dump."),
        ("pytorch_dump_folder_path", REQUIRED, _PATH),
        ("classification_head", SWITCH, "Whether to convert a final classification head.")]),
    "convert_pytorch_checkpoint_to_tf": (_pytorch_to_tf_script, [
        ("model_name", REQUIRED, "model name e.g. bert-base-uncased"),
        ("cache_dir", NONE_DEFAULT, "Directory containing pytorch model"),
        ("pytorch_model_path", REQUIRED, "/path/to/<pytorch-model-name>.bin"),
        ("tf_cache_dir", REQUIRED, "Directory in which to save tensorflow model")]),
}


def run_script(module: str, argv: Optional[List[str]] = None) -> None:
    """`python -m transformers_fast.<module> --flag value ...`, as 1.2.0's module of that name."""
    function, arguments = SCRIPTS[module]
    parser = argparse.ArgumentParser(prog=f"python -m transformers_fast.{module}")
    for name, kind, text in arguments:
        if kind == SWITCH:
            parser.add_argument("--" + name, action="store_true", help=text)
        else:
            parser.add_argument("--" + name, type=str, required=kind == REQUIRED, help=text,
                                default="" if kind == OPTIONAL else None)
    args = parser.parse_args(argv)
    function(*(getattr(args, name) for name, _, _ in arguments))


# 1.2.0's `pytorch_transformers` command: MODEL then positional paths (optional ones last)
COMMANDS = {
    "bert": ("convert_tf_checkpoint_to_pytorch", "TF_CHECKPOINT TF_CONFIG PYTORCH_DUMP_OUTPUT", 3, 3),
    "gpt": ("convert_openai_checkpoint_to_pytorch",
            "OPENAI_GPT_CHECKPOINT_FOLDER_PATH PYTORCH_DUMP_OUTPUT [OPENAI_GPT_CONFIG]", 2, 3),
    "transfo_xl": ("convert_transfo_xl_checkpoint_to_pytorch",
                   "TF_CHECKPOINT_OR_DATASET PYTORCH_DUMP_OUTPUT [TF_CONFIG]", 2, 3),
    "gpt2": ("convert_gpt2_checkpoint_to_pytorch", "TF_CHECKPOINT PYTORCH_DUMP_OUTPUT [GPT2_CONFIG]", 2, 3),
    "xlnet": ("convert_xlnet_checkpoint_to_pytorch",
              "TF_CHECKPOINT TF_CONFIG PYTORCH_DUMP_OUTPUT [FINETUNING_TASK_NAME]", 3, 4),
    "xlm": ("convert_xlm_checkpoint_to_pytorch", "XLM_CHECKPOINT_PATH PYTORCH_DUMP_OUTPUT", 2, 2),
}


def _command_call(model: str, paths: List[str]):
    """The converter's arguments for the positional form of `model` (1.2.0's order and defaults)."""
    paths = paths + [""] * (4 - len(paths))
    if model == "bert":
        return paths[:3]
    if model in ("gpt", "gpt2"):  # checkpoint, [config], output
        return [paths[0], paths[2], paths[1]]
    if model == "transfo_xl":  # 1.2.0 tells a checkpoint from a dataset by "ckpt" in its name
        checkpoint, dataset = (paths[0], "") if "ckpt" in paths[0].lower() else ("", paths[0])
        return [checkpoint, paths[2], paths[1], dataset]
    if model == "xlnet":
        return [paths[0], paths[1], paths[2], paths[3] or None]
    return paths[:2]


def command_main(argv: Optional[List[str]] = None, prog: str = "python -m transformers_fast") -> int:
    """1.2.0's `pytorch_transformers MODEL ...` converter command. Returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    spec = COMMANDS.get(argv[0]) if argv else None
    if spec is None or not spec[2] <= len(argv) - 1 <= spec[3]:
        shown = [argv[0]] if spec else list(COMMANDS)
        usage = "\n".join(f"  {prog} {m} {COMMANDS[m][1]}" for m in shown)
        asked = argv[:1] in (["-h"], ["--help"])
        print(f"Should be used as one of:\n{usage}", file=sys.stdout if asked else sys.stderr)
        return 0 if asked else 2
    SCRIPTS[spec[0]][0](*_command_call(argv[0], argv[1:]))
    return 0
