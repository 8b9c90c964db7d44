"""The module path `pytorch_transformers.configuration_xlm` of 1.2.0 code: this name is transformers_fast.models.xlm.configuration_xlm."""
import sys

from transformers_fast.models.xlm import configuration_xlm as _module

sys.modules[__name__] = _module
