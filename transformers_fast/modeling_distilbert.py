"""The module path `pytorch_transformers.modeling_distilbert` of 1.2.0 code: this name is transformers_fast.models.distilbert.modeling_distilbert."""
import sys

from transformers_fast.models.distilbert import modeling_distilbert as _module

sys.modules[__name__] = _module
