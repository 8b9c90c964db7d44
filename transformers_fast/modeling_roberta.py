"""The module path `pytorch_transformers.modeling_roberta` of 1.2.0 code: this name is transformers_fast.models.roberta.modeling_roberta."""
import sys

from transformers_fast.models.roberta import modeling_roberta as _module

sys.modules[__name__] = _module
