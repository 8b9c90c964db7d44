"""Every public name that pytorch_transformers 1.2.0 exports exists in transformers_fast, of the same kind
(class, function, module or value), so that `import pytorch_transformers as X` can become transformers_fast."""
from __future__ import annotations

import inspect

import pytorch_transformers as pt

import transformers_fast as tf

NOT_YET = set()  # names still to come


def kind(value):
    if inspect.ismodule(value):
        return "module"
    if inspect.isclass(value):
        return "class"
    return "function" if callable(value) else "value"


def test_every_public_name_of_1_2_0_exists_with_its_kind():
    names = sorted(n for n in dir(pt) if not n.startswith("_") and n not in NOT_YET)
    missing = [n for n in names if not hasattr(tf, n)]
    assert not missing, f"missing: {missing}"
    wrong = [f"{n}: {kind(getattr(tf, n))}, 1.2.0 {kind(getattr(pt, n))}" for n in names
             if kind(getattr(tf, n)) != kind(getattr(pt, n))]
    assert not wrong, wrong


def test_not_yet_names_are_really_missing():
    """The list above shrinks as names arrive (a stale entry fails here)."""
    assert not [n for n in NOT_YET if hasattr(tf, n)]


def test_submodules_are_the_1_2_0_module_paths():
    assert tf.modeling_bert.BertModel is tf.BertModel
    assert tf.tokenization_gpt2.GPT2Tokenizer is tf.GPT2Tokenizer
    assert tf.file_utils.cached_path is tf.cached_path


def test_every_public_member_of_a_1_2_0_class_exists():
    """Methods and class attributes (XLMModel.ATTRIBUTES, ...) at class level; a config's derived properties
    (GPT2Config.hidden_size) are aliases here, read on an instance with 1.2.0's value."""
    absent = []
    for name in dir(pt):
        theirs = getattr(pt, name)
        if name.startswith("_") or not inspect.isclass(theirs):
            continue
        ours = getattr(tf, name)
        for member in sorted(m for m in dir(theirs) if not m.startswith("_") and not hasattr(ours, m)):
            if isinstance(inspect.getattr_static(theirs, member), property) and issubclass(theirs, pt.PretrainedConfig):
                assert getattr(ours(), member) == getattr(theirs(), member), f"{name}.{member}"
            else:
                absent.append(f"{name}.{member}")
    assert not absent


def test_tokenizer_class_tables_have_1_2_0s_keys():
    """pretrained_vocab_files_map (each file argument -> shortcut name -> where its copy is now),
    max_model_input_sizes and pretrained_init_configuration list 1.2.0's shortcut names."""
    for name in dir(pt):
        theirs = getattr(pt, name)
        if not (inspect.isclass(theirs) and issubclass(theirs, pt.PreTrainedTokenizer)) or theirs is pt.PreTrainedTokenizer:
            continue
        ours = getattr(tf, name)
        assert {k: sorted(v) for k, v in ours.pretrained_vocab_files_map.items()} == \
            {k: sorted(v) for k, v in theirs.pretrained_vocab_files_map.items()}, name
        assert all(url.startswith("https://huggingface.co/") for files in ours.pretrained_vocab_files_map.values()
                   for url in files.values())
        assert ours.max_model_input_sizes == theirs.max_model_input_sizes, name
        assert set(ours.pretrained_init_configuration) <= set(theirs.pretrained_init_configuration), name
