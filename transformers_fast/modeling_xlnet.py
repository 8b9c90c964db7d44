"""The module path `pytorch_transformers.modeling_xlnet` of 1.2.0 code: this name is transformers_fast.models.xlnet.modeling_xlnet."""
import sys

from transformers_fast.models.xlnet import modeling_xlnet as _module

sys.modules[__name__] = _module
