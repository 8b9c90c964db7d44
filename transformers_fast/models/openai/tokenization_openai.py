"""OpenAIGPTTokenizer (1.2.0 without ftfy/spaCy): BERT's lower-casing BasicTokenizer, then BPE with
"</w>" on the last character of every word (C++)."""
from __future__ import annotations

import logging
import os
import re

from transformers_fast.tokenization_bpe import (VOCAB_FILES_NAMES, bpe_files_from_tokenizer_json, bpe_model_key,
                                                get_pairs, merge_pairs, read_vocab_json, read_word_end_merges,
                                                save_bpe_files, word_end_bpe, word_end_word_ids)
from transformers_fast.tokenization_utils import (_CHINESE_CHARS, _CLEAN_TEXT, _LOWER_CASE, _STRIP_ACCENTS,
                                                  PreTrainedTokenizer, TrackedDict, _core_lib)
from transformers_fast.tokenization_wordpiece import BasicTokenizer

logger = logging.getLogger(__name__)


def text_standardize(text):
    """1.2.0's clean-up of text for spaCy's tokenizer (dashes, ellipses, spacing around punctuation runs)."""
    text = text.replace("—", "-").replace("–", "-").replace("―", "-").replace("…", "...").replace("´", "'")
    text = re.sub(r"""(-+|~+|!+|"+|;+|\?+|\++|,+|\)+|\(+|\\+|\/+|\*+|\[+|\]+|}+|{+|\|+|_+)""", r" \1 ", text)
    text = re.sub(r"\s*\n\s*", " \n ", text)
    text = re.sub(r"[^\S\n]+", " ", text)
    return text.strip()

class OpenAIGPTTokenizer(PreTrainedTokenizer):
    """OpenAI GPT BPE: lower-cased BasicTokenizer words, BPE with "</w>" word ends."""

    vocab_files_names = VOCAB_FILES_NAMES
    _run_word_ids = word_end_word_ids
    _bpe_in_transformers = True
    max_model_input_sizes = {"openai-gpt": 512}
    pretrained_hub_files = {"openai-gpt": ("openai-community/openai-gpt",
                                           {"vocab_file": "vocab.json", "merges_file": "merges.txt"})}

    def __init__(self, vocab_file, merges_file, unk_token="<unk>", **kwargs):
        super().__init__(unk_token=unk_token, **kwargs)
        self.max_len_single_sentence = self.max_len
        self.max_len_sentences_pair = self.max_len
        for name, path in (("vocab_file", vocab_file), ("merges_file", merges_file)):
            if path is None or not os.path.isfile(path):
                raise ValueError(f"Can't find {name} at path '{path}'")
        self.nlp = BasicTokenizer(do_lower_case=True)
        self.fix_text = None
        self.encoder = TrackedDict(read_vocab_json(vocab_file))
        self.decoder = {v: k for k, v in self.encoder.items()}
        merges = read_word_end_merges(merges_file, skip_first=True)
        self.bpe_ranks = TrackedDict(zip(merges, range(len(merges))))
        self._build_core()

    @classmethod
    def _files_from_tokenizer_json(cls, spec, folder):
        return bpe_files_from_tokenizer_json(spec, folder, cls.__name__, "BertPreTokenizer", "</w>"), {}

    def _core_model_key(self):
        return bpe_model_key(self)

    def _core_helpers(self):
        return {"nlp": BasicTokenizer}

    def _native(self):
        # the C++ core splits words as BasicTokenizer(do_lower_case=True) does; other settings of self.nlp
        # (changed after construction) take 1.2.0's Python path
        nlp = self.nlp
        if not (type(nlp) is BasicTokenizer and nlp.do_lower_case and nlp.tokenize_chinese_chars
                and not nlp.never_split and self.fix_text is None):
            return None
        return super()._native()

    def _added_token_normalization(self):
        return _LOWER_CASE | _STRIP_ACCENTS | _CLEAN_TEXT | _CHINESE_CHARS  # transformers' BertNormalizer(lowercase=True)

    def _build_native(self):
        self._core = _core_lib().Pipeline(
            _core_lib().WordEndBpeModel(self.encoder, merge_pairs(self.bpe_ranks), "basic_lower"))

    @property
    def vocab_size(self):
        return len(self.encoder)

    def bpe(self, token):
        return word_end_bpe(token, self.bpe_ranks)

    def _tokenize(self, text):
        split_tokens = []
        for token in self.nlp.tokenize(text):
            split_tokens.extend(self.bpe(token).split(" "))
        return split_tokens

    def _convert_token_to_id(self, token):
        return self.encoder.get(token, self.encoder.get(self.unk_token))

    def _convert_id_to_token(self, index):
        return self.decoder.get(index, self.unk_token)

    def convert_tokens_to_string(self, tokens):
        return "".join(tokens).replace("</w>", " ").strip()

    def save_vocabulary(self, save_directory):
        return save_bpe_files(self, save_directory)

# 1.2.0's module-level names for the tokenizer's pretrained files and sizes
PRETRAINED_VOCAB_FILES_MAP = OpenAIGPTTokenizer.pretrained_vocab_files_map
PRETRAINED_POSITIONAL_EMBEDDINGS_SIZES = OpenAIGPTTokenizer.max_model_input_sizes
