"""The module path `pytorch_transformers.tokenization_auto` of 1.2.0 code (AutoTokenizer lives in auto.py)."""
from transformers_fast.auto import AutoTokenizer  # noqa: F401
