"""RobertaTokenizer: GPT-2's byte-level BPE with <s> A </s></s> B </s>."""
from transformers_fast.tokenization_bpe import VOCAB_FILES_NAMES, ByteLevelBPETokenizer

_HUB = {"vocab_file": "vocab.json", "merges_file": "merges.txt"}
_SHORTCUTS = {
    "roberta-base": "FacebookAI/roberta-base",
    "roberta-large": "FacebookAI/roberta-large",
    "roberta-large-mnli": "FacebookAI/roberta-large-mnli",
}


class RobertaTokenizer(ByteLevelBPETokenizer):
    vocab_files_names = VOCAB_FILES_NAMES
    max_model_input_sizes = {k: 512 for k in _SHORTCUTS}
    pretrained_hub_files = {k: (v, _HUB) for k, v in _SHORTCUTS.items()}

    def __init__(self, vocab_file, merges_file, errors="replace", bos_token="<s>", eos_token="</s>",
                 sep_token="</s>", cls_token="<s>", unk_token="<unk>", pad_token="<pad>", mask_token="<mask>",
                 **kwargs):
        super().__init__(vocab_file=vocab_file, merges_file=merges_file, errors=errors, bos_token=bos_token,
                         eos_token=eos_token, unk_token=unk_token, sep_token=sep_token, cls_token=cls_token,
                         pad_token=pad_token, mask_token=mask_token, **kwargs)

    def add_special_tokens_single_sentence(self, token_ids):
        """<s> X </s>"""
        return [self.cls_token_id] + token_ids + [self.sep_token_id]

    def add_special_tokens_sentences_pair(self, token_ids_0, token_ids_1):
        """<s> A </s></s> B </s>"""
        sep = [self.sep_token_id]
        cls = [self.cls_token_id]
        return cls + token_ids_0 + sep + sep + token_ids_1 + sep

# 1.2.0's module-level names for the tokenizer's pretrained files and sizes
PRETRAINED_VOCAB_FILES_MAP = RobertaTokenizer.pretrained_vocab_files_map
PRETRAINED_POSITIONAL_EMBEDDINGS_SIZES = RobertaTokenizer.max_model_input_sizes
