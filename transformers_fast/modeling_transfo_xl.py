"""The module path `pytorch_transformers.modeling_transfo_xl` of 1.2.0 code: this name is transformers_fast.models.transfo_xl.modeling_transfo_xl."""
import sys

from transformers_fast.models.transfo_xl import modeling_transfo_xl as _module

sys.modules[__name__] = _module
