"""Code written for pytorch-transformers 1.2.0 imports from its module paths: every module of 1.2.0 whose family
is here exists as transformers_fast.<same name>, resolving to our code (one module, not a copy), with the same
public names (and the private helpers code reaches for, such as tokenization_bert._is_control) of the same kind."""
from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys
import types

import pytest
import pytorch_transformers

NOT_YET_NAMES = set()  # names inside present modules that still lack a port
MODULES = sorted(m.name for m in pkgutil.iter_modules(pytorch_transformers.__path__) if m.name != "__main__")


def kind(value):
    if inspect.isclass(value):
        return "class"
    if callable(value):
        return "function"
    return "value"


def public_api(module):
    """The names 1.2.0's module defines (classes and functions of its own, and its constants); imports of other
    libraries (torch, io.open, __future__ features) are not its API."""
    names = {}
    for name, value in vars(module).items():
        if name.startswith("__") or isinstance(value, types.ModuleType):
            continue
        if inspect.isclass(value) or inspect.isfunction(value):
            if value.__module__ != module.__name__:
                continue
            if value.__name__ != name:  # an alias set from outside (1.2.0's Transformer-XL converter sets two)
                continue
        elif name.startswith("_") or name == "logger" or type(value).__name__ == "_Feature" or callable(value):
            continue
        names[name] = kind(value)
    return names


def test_the_walk_covers_the_shared_modules_and_every_family():
    assert {"convert_tf_checkpoint_to_pytorch", "convert_xlm_checkpoint_to_pytorch", "modeling_utils", "tokenization_utils", "file_utils", "modeling_bert", "modeling_gpt2", "modeling_openai",
            "modeling_roberta", "modeling_distilbert", "modeling_xlnet", "tokenization_xlnet", "tokenization_xlm"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_module_path_has_the_1_2_0_names(name):
    ours = importlib.import_module(f"transformers_fast.{name}")
    try:
        reference = importlib.import_module(f"pytorch_transformers.{name}")
    except ImportError as error:  # a converter whose import needs TensorFlow or fairseq: its function is its API
        assert name.startswith("convert_") and error.name in ("tensorflow", "fairseq"), error
        assert callable(getattr(ours, name)), name
        return
    missing, wrong_kind = [], []
    for attr, expected in public_api(reference).items():
        if attr in NOT_YET_NAMES:
            continue
        if not hasattr(ours, attr):
            missing.append(attr)
        elif kind(getattr(ours, attr)) != expected:
            wrong_kind.append(f"{attr} is a {kind(getattr(ours, attr))}, 1.2.0's is a {expected}")
    assert not missing and not wrong_kind, f"missing: {missing}; {wrong_kind}"


def test_alias_is_the_module_itself():
    import transformers_fast.modeling_bert as alias
    from transformers_fast.models.bert import modeling_bert

    assert alias is modeling_bert
    from transformers_fast.modeling_bert import BertModel  # the form 1.2.0 code uses
    assert BertModel is modeling_bert.BertModel


def test_tokenization_module_paths_import_no_torch():
    code = ("import sys; import transformers_fast.tokenization_bert, transformers_fast.tokenization_gpt2; "
            "print('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


CHARS = ["a", " ", "\t", "\n", "\r", "\x00", "\x7f", "\u00a0", "\u200b", "\u00ad", "\ufeff", "\u3000", "\u2028", "!", "~",
         "$", "^", "`", "\u00bf", "\u2014", "\u3001", "\uff01", "\U0001f600", "\u0301", "\ue000", "\u0378", "5", "\u4e2d"]


@pytest.mark.parametrize("helper", ["_is_whitespace", "_is_control", "_is_punctuation"])
def test_char_classes_equal_1_2_0(helper):
    from pytorch_transformers import tokenization_bert as reference

    from transformers_fast import tokenization_bert as ours

    every_bmp = [chr(c) for c in range(0, 0x30000, 7) if not 0xD800 <= c < 0xE000]
    for char in CHARS + every_bmp:
        assert getattr(ours, helper)(char) == getattr(reference, helper)(char), (helper, hex(ord(char)))


def test_helpers_equal_1_2_0(tmp_path):
    from pytorch_transformers import modeling_distilbert as ref_distil
    from pytorch_transformers import tokenization_bert as ref_bert
    from pytorch_transformers import tokenization_gpt2 as ref_gpt2
    from pytorch_transformers import tokenization_openai as ref_openai
    import torch

    from transformers_fast import modeling_distilbert, tokenization_bert, tokenization_gpt2, tokenization_openai

    text = "  Hello,\tworld —  a–b…  x´y ((z))!! \n\n  end  "
    assert tokenization_bert.whitespace_tokenize(text) == ref_bert.whitespace_tokenize(text)
    assert tokenization_openai.text_standardize(text) == ref_openai.text_standardize(text)
    word = ("h", "e", "l", "l", "o</w>")
    assert tokenization_gpt2.get_pairs(word) == ref_gpt2.get_pairs(word)
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("[PAD]\nhello\n##s\nworld\n\n", encoding="utf-8")
    assert list(tokenization_bert.load_vocab(str(vocab)).items()) == list(ref_bert.load_vocab(str(vocab)).items())
    ours, ref = torch.empty(17, 10), torch.empty(17, 10)
    modeling_distilbert.create_sinusoidal_embeddings(17, 10, ours)
    ref_distil.create_sinusoidal_embeddings(17, 10, ref)
    assert torch.allclose(ours, ref, atol=1e-6) and not ours.requires_grad
