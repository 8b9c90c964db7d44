"""DistilBertTokenizer: BERT's WordPiece tokenizer with DistilBERT's shortcut names."""
from transformers_fast.tokenization_wordpiece import VOCAB_FILES_NAMES, BasicWordPieceTokenizer

_SHORTCUTS = {
    "distilbert-base-uncased": "distilbert/distilbert-base-uncased",
    "distilbert-base-uncased-distilled-squad": "distilbert/distilbert-base-uncased-distilled-squad",
}


class DistilBertTokenizer(BasicWordPieceTokenizer):
    vocab_files_names = VOCAB_FILES_NAMES
    max_model_input_sizes = {k: 512 for k in _SHORTCUTS}
    pretrained_init_configuration = {}
    pretrained_hub_files = {k: (v, {"vocab_file": "vocab.txt"}) for k, v in _SHORTCUTS.items()}

# 1.2.0's module-level names for the tokenizer's pretrained files and sizes
PRETRAINED_VOCAB_FILES_MAP = DistilBertTokenizer.pretrained_vocab_files_map
PRETRAINED_POSITIONAL_EMBEDDINGS_SIZES = DistilBertTokenizer.max_model_input_sizes
