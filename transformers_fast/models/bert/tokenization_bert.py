"""BertTokenizer (pytorch-transformers 1.2.0 behaviour) on the C++ BasicTokenizer + WordPiece core."""
from transformers_fast.tokenization_wordpiece import (VOCAB_FILES_NAMES, BasicTokenizer, BasicWordPieceTokenizer,
                                                      WordpieceTokenizer, _is_control, _is_punctuation, _is_whitespace,
                                                      load_vocab, whitespace_tokenize)

__all__ = ["BasicTokenizer", "BertTokenizer", "VOCAB_FILES_NAMES", "WordpieceTokenizer", "load_vocab",
           "whitespace_tokenize", "_is_control", "_is_punctuation", "_is_whitespace"]

_BERT_SHORTCUTS = {
    # shortcut: (hub repo, do_lower_case)
    "bert-base-uncased": ("google-bert/bert-base-uncased", True),
    "bert-large-uncased": ("google-bert/bert-large-uncased", True),
    "bert-base-cased": ("google-bert/bert-base-cased", False),
    "bert-large-cased": ("google-bert/bert-large-cased", False),
    "bert-base-multilingual-uncased": ("google-bert/bert-base-multilingual-uncased", True),
    "bert-base-multilingual-cased": ("google-bert/bert-base-multilingual-cased", False),
    "bert-base-chinese": ("google-bert/bert-base-chinese", False),
    "bert-base-german-cased": ("google-bert/bert-base-german-cased", False),
    "bert-large-uncased-whole-word-masking": ("google-bert/bert-large-uncased-whole-word-masking", True),
    "bert-large-cased-whole-word-masking": ("google-bert/bert-large-cased-whole-word-masking", False),
    "bert-large-uncased-whole-word-masking-finetuned-squad":
        ("google-bert/bert-large-uncased-whole-word-masking-finetuned-squad", True),
    "bert-large-cased-whole-word-masking-finetuned-squad":
        ("google-bert/bert-large-cased-whole-word-masking-finetuned-squad", False),
    "bert-base-cased-finetuned-mrpc": ("google-bert/bert-base-cased-finetuned-mrpc", False),
}


class BertTokenizer(BasicWordPieceTokenizer):
    """BERT tokenizer: basic tokenization (cleaning, CJK, lower case + accents, punctuation) + WordPiece."""

    vocab_files_names = VOCAB_FILES_NAMES
    max_model_input_sizes = {k: 512 for k in _BERT_SHORTCUTS}
    pretrained_init_configuration = {k: {"do_lower_case": v[1]} for k, v in _BERT_SHORTCUTS.items()}
    pretrained_hub_files = {k: (v[0], {"vocab_file": "vocab.txt"}) for k, v in _BERT_SHORTCUTS.items()}
    model_input_names = ["input_ids", "token_type_ids", "attention_mask"]  # as transformers' BertTokenizer

# 1.2.0's module-level names for the tokenizer's pretrained files and sizes
PRETRAINED_VOCAB_FILES_MAP = BertTokenizer.pretrained_vocab_files_map
PRETRAINED_POSITIONAL_EMBEDDINGS_SIZES = BertTokenizer.max_model_input_sizes
PRETRAINED_INIT_CONFIGURATION = BertTokenizer.pretrained_init_configuration
