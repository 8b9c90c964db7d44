"""The module path `pytorch_transformers.tokenization_xlm` of 1.2.0 code: this name is transformers_fast.models.xlm.tokenization_xlm."""
import sys

from transformers_fast.models.xlm import tokenization_xlm as _module

sys.modules[__name__] = _module
