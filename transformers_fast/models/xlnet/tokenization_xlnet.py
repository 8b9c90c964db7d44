"""XLNetTokenizer (pytorch-transformers 1.2.0): 1.2.0's text pre-processing, sentencepiece pieces,
and its digit-comma re-split; special tokens at the end (A <sep> B <sep> <cls>), padding on the left."""
from __future__ import annotations

import logging
import os
import re
import unicodedata

from transformers_fast.tokenization_utils import _LAYOUT_METHODS, PreTrainedTokenizer, _id_list, _replaced

logger = logging.getLogger(__name__)

VOCAB_FILES_NAMES = {"vocab_file": "spiece.model"}
SPIECE_UNDERLINE = "\u2581"
_SHORTCUTS = {"xlnet-base-cased": "xlnet/xlnet-base-cased", "xlnet-large-cased": "xlnet/xlnet-large-cased"}


class XLNetTokenizer(PreTrainedTokenizer):
    vocab_files_names = VOCAB_FILES_NAMES
    _default_additional_special_tokens = ("<eop>", "<eod>")
    max_model_input_sizes = {k: None for k in _SHORTCUTS}
    pretrained_hub_files = {k: (v, {"vocab_file": "spiece.model"}) for k, v in _SHORTCUTS.items()}
    padding_side = "left"
    pad_token_type_id = 3

    def __init__(self, vocab_file, do_lower_case=False, remove_space=True, keep_accents=False,
                 bos_token="<s>", eos_token="</s>", unk_token="<unk>", sep_token="<sep>",
                 pad_token="<pad>", cls_token="<cls>", mask_token="<mask>",
                 additional_special_tokens=None, **kwargs):
        super().__init__(bos_token=bos_token, eos_token=eos_token, unk_token=unk_token, sep_token=sep_token,
                         pad_token=pad_token, cls_token=cls_token, mask_token=mask_token,
                         additional_special_tokens=additional_special_tokens, **kwargs)
        self.max_len_single_sentence = self.max_len - 2
        self.max_len_sentences_pair = self.max_len - 3
        import sentencepiece as spm
        if vocab_file is None or not os.path.isfile(vocab_file):
            raise ValueError(f"Can't find the sentencepiece model at path '{vocab_file}'")
        self.do_lower_case = do_lower_case
        self.remove_space = remove_space
        self.keep_accents = keep_accents
        self.vocab_file = vocab_file
        with open(vocab_file, "rb") as f:  # kept: pickling and saving need no file (it may be a temporary one)
            self._sp_proto = f.read()
        self.sp_model = spm.SentencePieceProcessor()
        try:
            self.sp_model.LoadFromSerializedProto(self._sp_proto)
        except Exception as err:
            raise ValueError(f"{vocab_file}: not a sentencepiece model ({err})") from err

    @property
    def vocab_size(self):
        return len(self.sp_model)

    def __getstate__(self):
        state = super().__getstate__()
        state["sp_model"] = None
        state.pop("_sp_keeps", None)
        state.pop("_added_token_norm", None)
        return state

    def __setstate__(self, d):
        import sentencepiece as spm
        super().__setstate__(d)
        self.sp_model = spm.SentencePieceProcessor()
        if "_sp_proto" in d:
            self.sp_model.LoadFromSerializedProto(self._sp_proto)
        else:  # pickled by an earlier version
            self.sp_model.Load(self.vocab_file)

    def preprocess_text(self, inputs):
        outputs = " ".join(inputs.strip().split()) if self.remove_space else inputs
        outputs = outputs.replace("``", '"').replace("''", '"')
        if not self.keep_accents:
            outputs = unicodedata.normalize("NFKD", outputs)
            outputs = "".join(c for c in outputs if not unicodedata.combining(c))
        if self.do_lower_case:
            outputs = outputs.lower()
        return outputs

    def _added_token_normalizer(self):
        """transformers' XLNet normalizer (its tokenizer.json): `` and '' as ", NFKD and marks dropped unless
        keep_accents, lower case with do_lower_case, then the sentencepiece model's character map; a character (or a
        pair of quotes) at a time, as tokenizers maps them. The anchors: (at, length) in the normalized text, (start,
        end) in the text (a pair's second quote: its offsets in transformers) and where in the text it begins, of each
        character (or pair) that does not map to one character."""
        key = (self.keep_accents, self.do_lower_case)
        cached = self.__dict__.get("_added_token_norm")
        if cached is None or cached[0] != key:
            import sentencepiece as spm
            charsmap = spm.SentencePieceNormalizer(model_proto=self.sp_model.serialized_model_proto(),
                                                   add_dummy_prefix=False, escape_whitespaces=False,
                                                   remove_extra_whitespaces=False)
            units = {}

            def unit(u):
                if u not in units:
                    x = '"' if u in ("``", "''") else u
                    if not self.keep_accents:
                        x = "".join(c for c in unicodedata.normalize("NFKD", x) if unicodedata.category(c)[0] != "M")
                    if self.do_lower_case:
                        x = x.lower()
                    units[u] = charsmap.normalize(x)
                return units[u]

            def normalize(text):
                changed = {ord(c): n for c in set(text) for n in [unit(c)] if n != c}
                odd = "".join(chr(c) for c, n in changed.items() if len(n) != 1)
                if "``" not in text and "''" not in text and not odd:
                    return text.translate(changed), None  # (the common case: character for character)
                pieces, anchors, at, size = [], [], 0, 0
                for m in re.finditer("``|''" + (f"|[{re.escape(odd)}]" if odd else ""), text):
                    pieces.append(text[at:m.start()].translate(changed))
                    size += m.start() - at
                    n = unit(m.group())
                    anchors.append((size, len(n), m.end() - 1 if len(m.group()) == 2 else m.start(), m.end(),
                                    m.start()))
                    pieces.append(n)  # (a " from a pair is its second quote's, as transformers aligns it)
                    size, at = size + len(n), m.end()
                pieces.append(text[at:].translate(changed))
                return "".join(pieces), anchors

            cached = (key, normalize)
            self.__dict__["_added_token_norm"] = cached
        return cached[1]

    _shows_pieces = True

    def _run_word_ids(self, tokens):
        return self._words_from_starts([t.startswith(SPIECE_UNDERLINE) for t in tokens])  # "▁": after a space

    def _tokenize(self, text, return_unicode=True, sample=False):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as err:  # sentencepiece would fail with an opaque RuntimeError
            raise ValueError(f"text contains a lone surrogate (not encodable as UTF-8) at {err.start}") from None
        text = self.preprocess_text(text)
        if not sample:
            pieces = self.sp_model.EncodeAsPieces(text)
        else:
            pieces = self.sp_model.SampleEncodeAsPieces(text, 64, 0.1)
        new_pieces = []
        for piece in pieces:
            digits = self._digit_comma_split(piece)
            if digits is not None:
                new_pieces.extend(digits + [piece[-1]])
            else:
                new_pieces.append(piece)
        return new_pieces

    def _digit_comma_split(self, piece):
        """1.2.0 encodes a piece that ends with a digit and a comma again without the comma (the comma becomes a
        piece of its own): the pieces before the comma, or None for any other piece."""
        if not (len(piece) > 1 and piece[-1] == "," and piece[-2].isdigit()):
            return None
        cur_pieces = self.sp_model.EncodeAsPieces(piece[:-1].replace(SPIECE_UNDERLINE, ""))
        if piece[0] != SPIECE_UNDERLINE and cur_pieces[0][0] == SPIECE_UNDERLINE:
            if len(cur_pieces[0]) == 1:
                cur_pieces = cur_pieces[1:]
            else:
                cur_pieces[0] = cur_pieces[0][1:]
        return cur_pieces

    def _preprocessed_with_spans(self, text):
        """preprocess_text(text) and the (start, end) in text of each of its characters, aligned as tokenizers aligns
        transformers' XLNet normalizer: a space between words with the next word's first character, '"' with the
        second character it replaces, what NFKD and lower() make with the character they come from."""
        chars, spans = [], []
        if self.remove_space:  # " ".join(text.split())
            in_word = False
            for i, c in enumerate(text):
                if c.isspace():
                    in_word = False
                    continue
                if not in_word and chars:
                    chars.append(" ")
                    spans.append((i, i + 1))
                in_word = True
                chars.append(c)
                spans.append((i, i + 1))
        else:
            chars, spans = list(text), [(i, i + 1) for i in range(len(text))]
        for pair in ("``", "''"):
            out_c, out_s, i = [], [], 0
            while i < len(chars):
                if chars[i] == pair[0] and i + 1 < len(chars) and chars[i + 1] == pair[1]:
                    out_c.append('"')
                    out_s.append(spans[i + 1])
                    i += 2
                else:
                    out_c.append(chars[i])
                    out_s.append(spans[i])
                    i += 1
            chars, spans = out_c, out_s
        if not self.keep_accents:  # (NFKD only reorders combining marks, which are all dropped)
            out_c, out_s = [], []
            for c, sp in zip(chars, spans):
                for d in unicodedata.normalize("NFKD", c):
                    if not unicodedata.combining(d):
                        out_c.append(d)
                        out_s.append(sp)
            chars, spans = out_c, out_s
        if self.do_lower_case:
            spans = [sp for c, sp in zip(chars, spans) for _ in c.lower()]
            chars = list("".join(chars).lower())  # (final sigma: lower() of the whole, as preprocess_text)
        normalized = "".join(chars)
        if normalized != self.preprocess_text(text) or len(spans) != len(normalized):
            spans = [(0, len(text))] * len(self.preprocess_text(text))  # (not expected: whole-text spans)
            normalized = self.preprocess_text(text)
        return normalized, spans

    def _tokenize_with_offsets(self, text):
        """_tokenize's pieces with their (start, end) in text, from sentencepiece's piece offsets."""
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as err:
            raise ValueError(f"text contains a lone surrogate (not encodable as UTF-8) at {err.start}") from None
        normalized, spans = self._preprocessed_with_spans(text)
        try:
            proto = self.sp_model.encode(normalized, return_type="proto")
        except TypeError:  # (older sentencepiece)
            proto = self.sp_model.encode(normalized, out_type="immutable_proto")
        char_at = {}
        at = 0
        for k, c in enumerate(normalized):
            char_at[at] = k
            at += len(c.encode("utf-8"))
        char_at[at] = len(normalized)
        n = len(normalized)

        kept = self.__dict__.setdefault("_sp_keeps", {})  # (not state: __dict__ directly)
        for c in set(normalized) - kept.keys():
            kept[c] = bool(self.sp_model.normalize(c))  # sentencepiece drops it (and spaces) otherwise

        def span(b, e):
            """characters [b, e) of normalized, from the first to the last that sentencepiece keeps, as tokenizers
            aligns them; with none (a lone "▁"), the character after them."""
            inside = [k for k in range(b, e) if kept[normalized[k]]]
            if not inside:
                return spans[e] if e < n else (len(text), len(text))
            return min(spans[k][0] for k in inside), max(spans[k][1] for k in inside)

        out = []
        for piece in proto.pieces:
            b, e = char_at.get(piece.begin, 0), char_at.get(piece.end, n)
            token = piece.piece
            cur_pieces = self._digit_comma_split(token)
            if cur_pieces is not None:
                pos = b
                while pos < e - 1 and normalized[pos].isspace():
                    pos += 1
                for sub in cur_pieces:
                    length = len(sub.replace(SPIECE_UNDERLINE, ""))
                    out.append((sub, span(pos, min(pos + length, e - 1))))
                    pos = min(pos + length, e - 1)
                out.append((token[-1], span(e - 1, e)))
            else:
                out.append((token, span(b, e)))
        return out

    def _fixed_token_span(self, text, start, end):
        if text[start:end] == self._mask_token:  # transformers' XLNet mask token strips left (lstrip=True)
            while start > 0 and text[start - 1].isspace():
                start -= 1
        return start, end

    def _convert_token_to_id(self, token):
        return self.sp_model.PieceToId(token)

    def _convert_id_to_token(self, index, return_unicode=True):
        return self.sp_model.IdToPiece(index)

    def convert_tokens_to_string(self, tokens):
        return "".join(tokens).replace(SPIECE_UNDERLINE, " ").strip()

    def _batch_decode_text(self, ids, skip_special_tokens):
        # transformers' Metaspace decoder: every token (added ones too) with "▁" as a space, only the first token's
        # leading space dropped (1.2.0's decode strips both ends and spaces out added tokens)
        tokens = self.convert_ids_to_tokens(_id_list(ids), skip_special_tokens=skip_special_tokens)
        text = "".join(tokens).replace(SPIECE_UNDERLINE, " ")
        return text[1:] if tokens and tokens[0].startswith(SPIECE_UNDERLINE) else text

    def add_special_tokens_single_sentence(self, token_ids):
        """X <sep> <cls>"""
        return token_ids + [self.sep_token_id] + [self.cls_token_id]

    def add_special_tokens_sentences_pair(self, token_ids_0, token_ids_1):
        """A <sep> B <sep> <cls>"""
        sep = [self.sep_token_id]
        return token_ids_0 + sep + token_ids_1 + sep + [self.cls_token_id]

    def create_token_type_ids(self, len_0, len_1=None):
        if _replaced(self, _LAYOUT_METHODS):
            return super().create_token_type_ids(len_0, len_1)
        if len_1 is None:
            return [0] * (len_0 + 1) + [2]
        return [0] * (len_0 + 1) + [1] * (len_1 + 1) + [2]

    def save_vocabulary(self, save_directory):
        if not os.path.isdir(save_directory):
            raise ValueError(f"Vocabulary path ({save_directory}) should be a directory")
        out_vocab_file = os.path.join(save_directory, VOCAB_FILES_NAMES["vocab_file"])
        with open(out_vocab_file, "wb") as f:
            f.write(self._sp_proto)
        return (out_vocab_file,)

    @classmethod
    def _files_from_tokenizer_json(cls, spec, folder):
        """spiece.model rebuilt from a transformers 5 tokenizer.json: its Unigram pieces and scores, the precompiled
        normalization map and the Metaspace options (1.2.0's own pre-processing comes from tokenizer_config.json).
        The special tokens become control pieces: 1.2.0 splits them off before sentencepiece sees the text."""
        import base64

        from sentencepiece import sentencepiece_model_pb2 as pb

        model = spec["model"]
        vocab, unk_id = model.get("vocab"), model.get("unk_id")
        if (model.get("type") != "Unigram" or not isinstance(vocab, list) or not isinstance(unk_id, int)
                or not 0 <= unk_id < len(vocab)
                or not all(isinstance(e, list) and len(e) == 2 and isinstance(e[0], str) and e[0]
                           and isinstance(e[1], (int, float)) for e in vocab)):
            raise ValueError(f"{cls.__name__}: tokenizer.json holds no sentencepiece Unigram model (pieces with "
                             "scores and an unk_id)")
        special = {t.get("content") for t in spec.get("added_tokens") or () if isinstance(t, dict) and t.get("special")}
        proto = pb.ModelProto()
        for index, (piece, score) in enumerate(vocab):
            entry = proto.pieces.add(piece=piece, score=float(score))
            if index == unk_id:
                entry.type = pb.ModelProto.SentencePiece.UNKNOWN
            elif piece in special:
                entry.type = pb.ModelProto.SentencePiece.CONTROL
        ids = {piece: index for index, (piece, _) in enumerate(vocab)}
        trainer = proto.trainer_spec
        trainer.model_type = pb.TrainerSpec.UNIGRAM
        trainer.unk_id, trainer.unk_piece = unk_id, vocab[unk_id][0]
        trainer.bos_id, trainer.eos_id, trainer.pad_id = (ids.get(t, -1) for t in ("<s>", "</s>", "<pad>"))

        def parts(node, key):  # a normalizer or pre-tokenizer and the members of a Sequence of them
            node = node or {}
            return [node] + [p for p in node.get(key) or () if isinstance(p, dict)]

        normalizers = parts(spec.get("normalizer"), "normalizers")
        pre_tokenizers = parts(spec.get("pre_tokenizer"), "pretokenizers")
        charsmap = [n["precompiled_charsmap"] for n in normalizers if n.get("type") == "Precompiled"]
        normalizer = proto.normalizer_spec
        normalizer.name = "nmt_nfkc" if charsmap and charsmap[0] else "identity"
        if charsmap and charsmap[0]:
            normalizer.precompiled_charsmap = base64.b64decode(charsmap[0])
        metaspace = [p for p in pre_tokenizers if p.get("type") == "Metaspace"]
        normalizer.add_dummy_prefix = bool(metaspace) and metaspace[0].get("prepend_scheme", "always") != "never"
        normalizer.remove_extra_whitespaces = any(p.get("type") == "WhitespaceSplit" for p in pre_tokenizers)
        normalizer.escape_whitespaces = True
        path = os.path.join(folder, VOCAB_FILES_NAMES["vocab_file"])
        with open(path, "wb") as f:
            f.write(proto.SerializeToString())
        return {"vocab_file": path}, {}

# 1.2.0's module-level names for the tokenizer's pretrained files and sizes
PRETRAINED_VOCAB_FILES_MAP = XLNetTokenizer.pretrained_vocab_files_map
PRETRAINED_POSITIONAL_EMBEDDINGS_SIZES = XLNetTokenizer.max_model_input_sizes
SEG_ID_A, SEG_ID_B, SEG_ID_CLS, SEG_ID_SEP, SEG_ID_PAD = 0, 1, 2, 3, 4  # XLNet's segment ids
