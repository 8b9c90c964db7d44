"""The module path `pytorch_transformers.configuration_distilbert` of 1.2.0 code: this name is transformers_fast.models.distilbert.configuration_distilbert."""
import sys

from transformers_fast.models.distilbert import configuration_distilbert as _module

sys.modules[__name__] = _module
