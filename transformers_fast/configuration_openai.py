"""The module path `pytorch_transformers.configuration_openai` of 1.2.0 code: this name is transformers_fast.models.openai.configuration_openai."""
import sys

from transformers_fast.models.openai import configuration_openai as _module

sys.modules[__name__] = _module
