"""The module path `pytorch_transformers.modeling_openai` of 1.2.0 code: this name is transformers_fast.models.openai.modeling_openai."""
import sys

from transformers_fast.models.openai import modeling_openai as _module

sys.modules[__name__] = _module
