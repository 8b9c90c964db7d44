"""XLMConfig: the constructor of pytorch-transformers 1.2.0 (emb_dim, n_layers, n_heads, n_langs, ...), reading
transformers' config.json as well.

1.2.0 keeps the vocabulary size as `n_words` (vocab_size is an alias of it); transformers writes `vocab_size`;
both are written on saving. `asm=True` (adaptive-softmax LM head) needs `asm_cutoffs` and `asm_div_value`, which
1.2.0 reads from the config without defaults (the published configs do not use asm).
"""
from __future__ import annotations

from typing import Any, Dict

from transformers_fast.configuration_utils import (SUMMARY_TYPES, PretrainedConfig, check_int, check_non_negative,
                                                   check_probability, check_vocab_size_argument, read_json_config)

XLM_SHORTCUT_NAMES = ("xlm-mlm-en-2048", "xlm-mlm-ende-1024", "xlm-mlm-enfr-1024", "xlm-mlm-enro-1024",
                      "xlm-mlm-tlm-xnli15-1024", "xlm-mlm-xnli15-1024", "xlm-clm-enfr-1024", "xlm-clm-ende-1024",
                      "xlm-mlm-17-1280", "xlm-mlm-100-1280")
# The 1.2.0 shortcut names now live under the FacebookAI organisation of the Hugging Face hub.
XLM_PRETRAINED_MODEL_ARCHIVE_MAP: Dict[str, str] = {name: f"FacebookAI/{name}" for name in XLM_SHORTCUT_NAMES}
XLM_PRETRAINED_CONFIG_ARCHIVE_MAP = XLM_PRETRAINED_MODEL_ARCHIVE_MAP


class XLMConfig(PretrainedConfig):
    """Configuration of an XLM model (defaults: xlm-mlm-en-2048, as 1.2.0's constructor).

    The first argument is the vocabulary size or, as in 1.2.0, the path of a JSON config file (its fields over
    these defaults). Multilingual checkpoints carry `lang2id` / `id2lang`, which XLMTokenizer uses too.
    """

    model_type = "xlm"
    pretrained_config_archive_map = XLM_PRETRAINED_CONFIG_ARCHIVE_MAP
    attribute_map = {"vocab_size": "n_words", "hidden_size": "emb_dim", "num_attention_heads": "n_heads",
                     "num_hidden_layers": "n_layers"}
    transformers_defaults = {"pad_token_id": lambda c: c.pad_index, "bos_token_id": lambda c: c.bos_index,
                             "eos_token_id": lambda c: c.eos_index}

    def __init__(self, vocab_size_or_config_json_file=30145, emb_dim=2048, n_layers=12, n_heads=16, dropout=0.1,
                 attention_dropout=0.1, gelu_activation=True, sinusoidal_embeddings=False, causal=False, asm=False,
                 n_langs=1, use_lang_emb=True, max_position_embeddings=512, embed_init_std=2048 ** -0.5,
                 layer_norm_eps=1e-12, init_std=0.02, bos_index=None, eos_index=None, pad_index=None, unk_index=3,
                 mask_index=5, is_encoder=True, finetuning_task=None, num_labels=None, summary_type="first",
                 summary_use_proj=True, summary_activation=None, summary_proj_to_labels=True,
                 summary_first_dropout=0.1, start_n_top=5, end_n_top=5, **kwargs: Any):
        for name in ("vocab_size", "n_words"):  # transformers' name (and 1.2.0's JSON name) of the first argument
            if name in kwargs:
                vocab_size_or_config_json_file = kwargs.pop(name)
        check_vocab_size_argument(vocab_size_or_config_json_file)
        # num_labels None: the size of id2label (transformers writes no num_labels), else 2 (1.2.0's default)
        super().__init__(finetuning_task=finetuning_task, num_labels=num_labels, **kwargs)
        json_file = vocab_size_or_config_json_file if isinstance(vocab_size_or_config_json_file, str) else None
        self.n_words = 30145 if json_file else vocab_size_or_config_json_file
        self.emb_dim = emb_dim
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.gelu_activation = gelu_activation
        self.sinusoidal_embeddings = sinusoidal_embeddings
        self.causal = causal
        self.asm = asm
        self.n_langs = n_langs
        self.use_lang_emb = use_lang_emb
        self.layer_norm_eps = layer_norm_eps
        # transformers 5 writes these only as bos/eos/pad_token_id (its attribute_map aliases them): read from
        # there when the index is not given; 1.2.0's defaults 0, 1, 2 otherwise
        for name, token_name, value, default in (("bos_index", "bos_token_id", bos_index, 0),
                                                 ("eos_index", "eos_token_id", eos_index, 1),
                                                 ("pad_index", "pad_token_id", pad_index, 2)):
            if value is None:
                value = self.__dict__.get(token_name)
            setattr(self, name, default if value is None else value)
        self.unk_index = unk_index
        self.mask_index = mask_index
        self.is_encoder = is_encoder
        self.max_position_embeddings = max_position_embeddings
        self.embed_init_std = embed_init_std
        self.init_std = init_std
        self.summary_type = summary_type
        self.summary_use_proj = summary_use_proj
        self.summary_activation = summary_activation
        self.summary_proj_to_labels = summary_proj_to_labels
        self.summary_first_dropout = summary_first_dropout
        self.start_n_top = start_n_top
        self.end_n_top = end_n_top
        if json_file is not None:  # 1.2.0 takes the file's fields (here over the defaults, for fields it lacks)
            read_json_config(self, json_file)

    def to_dict(self) -> Dict[str, Any]:
        output = super().to_dict()
        output["vocab_size"] = self.n_words  # transformers' name; 1.2.0 reads n_words
        return output

    def validate(self) -> None:
        super().validate()
        for name in ("n_words", "emb_dim", "n_layers", "n_heads", "n_langs", "max_position_embeddings"):
            check_int(name, getattr(self, name))
        if self.emb_dim % self.n_heads:
            raise ValueError(f"emb_dim ({self.emb_dim}) must be a multiple of n_heads ({self.n_heads})")
        for name in ("dropout", "attention_dropout", "summary_first_dropout"):
            check_probability(name, getattr(self, name))
        for name in ("gelu_activation", "sinusoidal_embeddings", "causal", "asm", "use_lang_emb"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if not self.is_encoder:
            raise NotImplementedError("Currently XLM can only be used as an encoder (config.is_encoder=False)")
        check_non_negative("layer_norm_eps", self.layer_norm_eps)
        for name in ("embed_init_std", "init_std"):
            if getattr(self, name) is not None:
                check_non_negative(name, getattr(self, name))
        check_int("pad_index", self.pad_index, minimum=0)
        if self.pad_index >= self.n_words:
            raise ValueError(f"pad_index ({self.pad_index}) must be smaller than n_words ({self.n_words})")
        if self.asm:
            cutoffs = getattr(self, "asm_cutoffs", None)
            if cutoffs is None or getattr(self, "asm_div_value", None) is None:
                raise ValueError("asm=True (adaptive softmax) needs config.asm_cutoffs and config.asm_div_value")
            cutoffs = list(cutoffs)
            if cutoffs != sorted(set(cutoffs)) or not cutoffs or cutoffs[0] <= 0 or cutoffs[-1] >= self.n_words:
                raise ValueError(f"asm_cutoffs must increase strictly within (0, n_words={self.n_words}), "
                                 f"got {cutoffs}")
        if self.summary_type not in SUMMARY_TYPES:
            raise ValueError(f"summary_type must be one of {SUMMARY_TYPES}, got {self.summary_type!r}")
        check_int("start_n_top", self.start_n_top)
        check_int("end_n_top", self.end_n_top)
