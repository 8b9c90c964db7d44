"""TransfoXLConfig: the constructor of pytorch-transformers 1.2.0 (where it lived in modeling_transfo_xl), reading
transformers' config.json field names as well."""
from __future__ import annotations

from typing import Any, Dict

from transformers_fast.configuration_utils import (PretrainedConfig, check_int, check_non_negative,
                                                   check_probability, check_vocab_size_argument, read_json_config)

# The 1.2.0 shortcut name now lives under the transfo-xl organisation of the Hugging Face hub.
TRANSFO_XL_PRETRAINED_MODEL_ARCHIVE_MAP: Dict[str, str] = {"transfo-xl-wt103": "transfo-xl/transfo-xl-wt103"}
TRANSFO_XL_PRETRAINED_CONFIG_ARCHIVE_MAP = TRANSFO_XL_PRETRAINED_MODEL_ARCHIVE_MAP

ATTN_TYPES = (0, 1, 2, 3)  # relative partial (Transformer-XL), Shaw et al., Vaswani et al., Al-Rfou et al.
INITS = ("normal", "uniform")


class TransfoXLConfig(PretrainedConfig):
    """Configuration of a Transformer-XL model (defaults: transfo-xl-wt103, 18 layers, adaptive input and softmax
    over 267735 tokens). The first argument is the vocabulary size (n_token) or, as in 1.2.0, the path of a
    JSON config file. `proj_share_all_but_first` sets `tie_projs` ([False] + [True] per cutoff); a `tie_projs`
    list given directly (as config.json holds it) wins."""

    model_type = "transfo-xl"
    pretrained_config_archive_map = TRANSFO_XL_PRETRAINED_CONFIG_ARCHIVE_MAP
    # transformers' names for the same fields
    attribute_map = {"pre_layernorm": "pre_lnorm"}

    def __init__(self, vocab_size_or_config_json_file=267735, cutoffs=(20000, 40000, 200000), d_model=1024,
                 d_embed=1024, n_head=16, d_head=64, d_inner=4096, div_val=4, pre_lnorm=False, n_layer=18,
                 tgt_len=128, ext_len=0, mem_len=1600, clamp_len=1000, same_length=True,
                 proj_share_all_but_first=True, attn_type=0, sample_softmax=-1, adaptive=True, tie_weight=True,
                 dropout=0.1, dropatt=0.0, untie_r=True, init="normal", init_range=0.01, proj_init_std=0.01,
                 init_std=0.02, **kwargs: Any):
        for name in ("vocab_size", "n_token"):  # transformers' name / the field name of config.json
            if name in kwargs:
                vocab_size_or_config_json_file = kwargs.pop(name)
        for ours, theirs in (("n_head", "num_attention_heads"), ("n_layer", "num_hidden_layers"),
                             ("d_model", "hidden_size")):
            if theirs in kwargs:
                value = kwargs.pop(theirs)
                if ours == "n_head":
                    n_head = value
                elif ours == "n_layer":
                    n_layer = value
                else:
                    d_model = value
        if "pre_layernorm" in kwargs:
            pre_lnorm = kwargs.pop("pre_layernorm")
        tie_projs = kwargs.pop("tie_projs", None)
        check_vocab_size_argument(vocab_size_or_config_json_file)
        super().__init__(**kwargs)
        if isinstance(vocab_size_or_config_json_file, str):
            read_json_config(self, vocab_size_or_config_json_file)
            return
        self.n_token = vocab_size_or_config_json_file
        self.cutoffs = list(cutoffs)
        self.tie_weight = tie_weight
        if tie_projs is not None:
            self.tie_projs = list(tie_projs)
        else:
            self.tie_projs = [False] + [bool(proj_share_all_but_first)] * len(self.cutoffs)
        self.d_model = d_model
        self.d_embed = d_embed
        self.d_head = d_head
        self.d_inner = d_inner
        self.div_val = div_val
        self.pre_lnorm = pre_lnorm
        self.n_layer = n_layer
        self.n_head = n_head
        self.tgt_len = tgt_len
        self.ext_len = ext_len
        self.mem_len = mem_len
        self.same_length = same_length
        self.attn_type = attn_type
        self.clamp_len = clamp_len
        self.sample_softmax = sample_softmax
        self.adaptive = adaptive
        self.dropout = dropout
        self.dropatt = dropatt
        self.untie_r = untie_r
        self.init = init
        self.init_range = init_range
        self.proj_init_std = proj_init_std
        self.init_std = init_std

    @property
    def max_position_embeddings(self) -> int:
        return self.tgt_len + self.ext_len + self.mem_len

    @property
    def vocab_size(self) -> int:
        return self.n_token

    @vocab_size.setter
    def vocab_size(self, value: int) -> None:
        self.n_token = value

    @property
    def hidden_size(self) -> int:
        return self.d_model

    @property
    def num_attention_heads(self) -> int:
        return self.n_head

    @property
    def num_hidden_layers(self) -> int:
        return self.n_layer

    def validate(self) -> None:
        super().validate()
        for name in ("n_token", "d_model", "d_embed", "n_head", "d_head", "d_inner", "div_val", "n_layer"):
            check_int(name, getattr(self, name))
        for name in ("tgt_len", "ext_len", "mem_len"):
            check_int(name, getattr(self, name), minimum=0)
        if isinstance(self.clamp_len, bool) or not isinstance(self.clamp_len, int):
            raise ValueError(f"clamp_len must be an integer (<= 0: no clamping), got {self.clamp_len!r}")
        cutoffs = self.cutoffs
        if not isinstance(cutoffs, (list, tuple)) or not all(isinstance(c, int) and not isinstance(c, bool)
                                                             for c in cutoffs):
            raise ValueError(f"cutoffs must be a list of integers, got {cutoffs!r}")
        bounds = [0] + list(cutoffs) + [self.n_token]
        if any(a > b for a, b in zip(bounds, bounds[1:])) or bounds[1] == 0:
            raise ValueError(f"cutoffs must not decrease, each in (0, n_token={self.n_token}], got {list(cutoffs)}")
        if self.div_val > 1 and any(self.d_embed // self.div_val ** i < 1 for i in range(len(cutoffs) + 1)):
            raise ValueError(f"d_embed ({self.d_embed}) // div_val ({self.div_val}) ** {len(cutoffs)} is 0: "
                             f"the last cluster would have no embedding dimension")
        if not isinstance(self.tie_projs, (list, tuple)) or len(self.tie_projs) > len(cutoffs) + 1:
            raise ValueError(f"tie_projs must be a list of at most {len(cutoffs) + 1} booleans (one per cluster), "
                             f"got {self.tie_projs!r}")
        if self.attn_type not in ATTN_TYPES:
            raise ValueError(f"attn_type must be one of {ATTN_TYPES}, got {self.attn_type!r}")
        if self.attn_type == 1 and self.untie_r is True:  # (1.2.0 fails in forward: the model's r_w_bias is absent)
            raise ValueError("attn_type=1 reads the biases shared by all layers, which untie_r=True does not make: "
                             "set untie_r=False")
        if self.attn_type == 3 and self.n_head * self.d_head != self.d_model:  # (1.2.0 fails in forward)
            raise ValueError(f"attn_type=3 adds per-head position embeddings to hidden states of width d_model: "
                             f"n_head * d_head ({self.n_head} * {self.d_head}) must equal d_model ({self.d_model})")
        if self.init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {self.init!r}")
        for name in ("dropout", "dropatt"):
            check_probability(name, getattr(self, name))
        for name in ("init_range", "proj_init_std", "init_std"):
            check_non_negative(name, getattr(self, name))
        if isinstance(self.sample_softmax, bool) or not isinstance(self.sample_softmax, int):
            raise ValueError(f"sample_softmax must be an integer (<= 0: adaptive softmax), got {self.sample_softmax!r}")
        for name in ("pre_lnorm", "same_length", "untie_r", "tie_weight", "adaptive"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
