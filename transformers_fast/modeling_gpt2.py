"""The module path `pytorch_transformers.modeling_gpt2` of 1.2.0 code: this name is transformers_fast.models.gpt2.modeling_gpt2."""
import sys

from transformers_fast.models.gpt2 import modeling_gpt2 as _module

sys.modules[__name__] = _module
