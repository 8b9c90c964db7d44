"""AutoTokenizer: picks the tokenizer class from the name or path, as pytorch-transformers 1.2.0 does."""
from __future__ import annotations

# (substring, class) in 1.2.0's order: the first substring found in the name wins
_PATTERNS = [
    ("distilbert", "DistilBertTokenizer"),
    ("roberta", "RobertaTokenizer"),
    ("bert", "BertTokenizer"),
    ("openai-gpt", "OpenAIGPTTokenizer"),
    ("gpt2", "GPT2Tokenizer"),
    ("transfo-xl", "TransfoXLTokenizer"),
    ("xlnet", "XLNetTokenizer"),
    ("xlm", "XLMTokenizer"),
]


class AutoTokenizer(object):
    def __init__(self):
        raise EnvironmentError("AutoTokenizer is designed to be instantiated using the "
                               "`AutoTokenizer.from_pretrained(pretrained_model_name_or_path)` method.")

    @classmethod
    def tokenizer_class_for(cls, pretrained_model_name_or_path):
        import transformers_fast
        name = str(pretrained_model_name_or_path)
        for pattern, class_name in _PATTERNS:
            if pattern in name:
                return getattr(transformers_fast, class_name)
        raise ValueError(f"Unrecognized model identifier in {name}. Should contain one of "
                         + ", ".join(f"'{p}'" for p, _ in _PATTERNS))

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *inputs, **kwargs):
        return cls.tokenizer_class_for(pretrained_model_name_or_path).from_pretrained(
            pretrained_model_name_or_path, *inputs, **kwargs)
