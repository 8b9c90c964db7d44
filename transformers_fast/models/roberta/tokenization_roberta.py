"""RobertaTokenizer: GPT-2's byte-level BPE with <s> A </s></s> B </s>."""
from transformers_fast.tokenization_bpe import VOCAB_FILES_NAMES, ByteLevelBPETokenizer
from transformers_fast.tokenization_utils import _LAYOUT_METHODS, _replaced

_HUB = {"vocab_file": "vocab.json", "merges_file": "merges.txt"}
_SHORTCUTS = {
    "roberta-base": "FacebookAI/roberta-base",
    "roberta-large": "FacebookAI/roberta-large",
    "roberta-large-mnli": "FacebookAI/roberta-large-mnli",
}


def _trimmed(token, offsets, index, prepended=False, add_prefix_space=None):
    """tokenizers' RobertaProcessing trim (byte-level process_offsets): the spaces ("Ġ") a token starts with move its
    start, those it ends with its end. The leading ones stay where add_prefix_space is given (transformers' meaning)
    for one space of a window's first token or of one starting at 0; else (1.2.0's tokenization) on a window's first
    token, where the prepended space stands, and where `prepended` says it is one."""
    start, end = offsets
    if token:
        lead, trail = len(token) - len(token.lstrip("Ġ")), len(token) - len(token.rstrip("Ġ"))
        first = index == 0 or start == 0
        keep = (first and add_prefix_space and lead == 1) if add_prefix_space is not None else (first or prepended)
        if lead and not keep:
            start = min(start + lead, end)
        if trail and end >= trail:
            end = max(end - trail, start)
    return start, end


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

    def _window_offsets(self, ids, offsets):
        """transformers' RoBERTa (trim_offsets) leaves a token's spaces out of its offsets, in each row's window."""
        aps = self.__dict__.get("add_prefix_space")  # (given: tokenizers' RobertaProcessing as it is)
        return [_trimmed(tok, o, k, aps is None and self._prepended_space(tok, o), aps)
                for k, (tok, o) in enumerate(zip(self.convert_ids_to_tokens(ids), offsets))]

    def _prepended_space(self, token, offsets):
        """Whether a token's leading "Ġ" is the space 1.2.0 prepends to the text, or to a part of it after an added or
        special token: that space covers no character, so the offsets span fewer characters than the token spells
        (trimming it took the token's first character off)."""
        lead = len(token) - len(token.lstrip("Ġ"))
        if not lead or lead == len(token):
            return False
        try:
            n = len(bytes(self.byte_decoder[c] for c in token).decode("utf-8"))
        except (KeyError, UnicodeDecodeError):  # (part of a character)
            return False
        return offsets[1] - offsets[0] < n

    _plain_pair_type_id = 0  # transformers' RoBERTa: one token type, with or without special tokens
    _added_token_offsets_trimmed = True  # (its RobertaProcessing trims them)

    def create_token_type_ids(self, len_0, len_1=None):
        """All 0, as transformers (RoBERTa has one token type)."""
        if _replaced(self, _LAYOUT_METHODS):
            return [0] * len(self._source_positions(len_0, len_1))
        return [0] * (len_0 + 2 + (len_1 + 2 if len_1 is not None else 0))

# 1.2.0's module-level names for the tokenizer's pretrained files and sizes
PRETRAINED_VOCAB_FILES_MAP = RobertaTokenizer.pretrained_vocab_files_map
PRETRAINED_POSITIONAL_EMBEDDINGS_SIZES = RobertaTokenizer.max_model_input_sizes
