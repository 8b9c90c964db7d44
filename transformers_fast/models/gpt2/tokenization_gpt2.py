"""GPT2Tokenizer (pytorch-transformers 1.2.0 behaviour) on the C++ byte-level BPE core."""
from transformers_fast.tokenization_bpe import VOCAB_FILES_NAMES, ByteLevelBPETokenizer
from transformers_fast.tokenization_bpe import bytes_to_unicode, get_pairs  # noqa: F401  (names of 1.2.0's tokenization_gpt2)

_HUB = {"vocab_file": "vocab.json", "merges_file": "merges.txt"}
_GPT2_SHORTCUTS = {
    "gpt2": "openai-community/gpt2",
    "gpt2-medium": "openai-community/gpt2-medium",
    "gpt2-large": "openai-community/gpt2-large",
}


class GPT2Tokenizer(ByteLevelBPETokenizer):
    """GPT-2 byte-level BPE; a space is prepended to the (stripped) text, as in 1.2.0."""

    vocab_files_names = VOCAB_FILES_NAMES
    max_model_input_sizes = {k: 1024 for k in _GPT2_SHORTCUTS}
    pretrained_hub_files = {k: (v, _HUB) for k, v in _GPT2_SHORTCUTS.items()}

# 1.2.0's module-level names for the tokenizer's pretrained files and sizes
PRETRAINED_VOCAB_FILES_MAP = GPT2Tokenizer.pretrained_vocab_files_map
PRETRAINED_POSITIONAL_EMBEDDINGS_SIZES = GPT2Tokenizer.max_model_input_sizes
