"""`import transformers_fast` is lazy: a BERT user loads the BERT modules only (startup time)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import transformers_fast

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_every_public_name_resolves():
    for name in transformers_fast.__all__:
        assert getattr(transformers_fast, name) is not None, name
    assert set(transformers_fast.__all__) <= set(dir(transformers_fast))
    with pytest.raises(AttributeError, match="NoSuchModel"):
        transformers_fast.NoSuchModel


def test_bert_import_loads_no_tokenizer_nor_other_family():
    code = ("import json, sys, torch; before = set(sys.modules); import transformers_fast; "
            "after_import = sorted(set(sys.modules) - before); from transformers_fast import BertModel, BertConfig; "
            "BertModel(BertConfig(num_hidden_layers=1, hidden_size=32, num_attention_heads=2, intermediate_size=37)); "
            "print(json.dumps([after_import, sorted(set(sys.modules) - before)]))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env=dict(os.environ, PYTHONPATH=REPO))
    after_import, after_bert = json.loads(result.stdout.strip().splitlines()[-1])
    assert after_import == ["transformers_fast"]
    unwanted = ("tokenizers", "sentencepiece", "huggingface_hub", "transformers_fast.tokenization",
                "transformers_fast.models.bert.tokenization", "transformers_fast.models.gpt2",
                "transformers_fast.models.xl", "transformers_fast.generation")
    loaded = [name for name in after_bert if name.split(".")[0] in unwanted or name.startswith(unwanted)]
    assert loaded == [], loaded
