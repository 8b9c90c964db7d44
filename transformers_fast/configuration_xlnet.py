"""The module path `pytorch_transformers.configuration_xlnet` of 1.2.0 code: this name is transformers_fast.models.xlnet.configuration_xlnet."""
import sys

from transformers_fast.models.xlnet import configuration_xlnet as _module

sys.modules[__name__] = _module
