"""The module path `pytorch_transformers.configuration_roberta` of 1.2.0 code: this name is transformers_fast.models.roberta.configuration_roberta."""
import sys

from transformers_fast.models.roberta import configuration_roberta as _module

sys.modules[__name__] = _module
