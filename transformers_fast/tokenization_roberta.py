"""The module path `pytorch_transformers.tokenization_roberta` of 1.2.0 code: this name is transformers_fast.models.roberta.tokenization_roberta."""
import sys

from transformers_fast.models.roberta import tokenization_roberta as _module

sys.modules[__name__] = _module
