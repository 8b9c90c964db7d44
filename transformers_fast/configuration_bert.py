"""The module path `pytorch_transformers.configuration_bert` of 1.2.0 code: this name is transformers_fast.models.bert.configuration_bert."""
import sys

from transformers_fast.models.bert import configuration_bert as _module

sys.modules[__name__] = _module
