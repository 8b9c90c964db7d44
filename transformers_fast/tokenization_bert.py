"""The module path `pytorch_transformers.tokenization_bert` of 1.2.0 code: this name is transformers_fast.models.bert.tokenization_bert."""
import sys

from transformers_fast.models.bert import tokenization_bert as _module

sys.modules[__name__] = _module
