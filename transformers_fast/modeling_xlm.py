"""The module path `pytorch_transformers.modeling_xlm` of 1.2.0 code: this name is transformers_fast.models.xlm.modeling_xlm."""
import sys

from transformers_fast.models.xlm import modeling_xlm as _module

sys.modules[__name__] = _module
