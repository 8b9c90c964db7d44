"""The module path `pytorch_transformers.tokenization_gpt2` of 1.2.0 code: this name is transformers_fast.models.gpt2.tokenization_gpt2."""
import sys

from transformers_fast.models.gpt2 import tokenization_gpt2 as _module

sys.modules[__name__] = _module
