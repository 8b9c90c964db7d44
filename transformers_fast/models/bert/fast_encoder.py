"""Padding-free inference path of the BERT-style encoders (placeholder until the fused ops land)."""
from __future__ import annotations

from transformers_fast.modeling_utils import FastPath


class BertFastPath(FastPath):
    def __init__(self, model):
        self.model = model

    def invalidate(self) -> None:
        pass

    def usable(self, input_ids, head_mask, output_attentions) -> bool:
        return False


class DistilBertFastPath(BertFastPath):
    pass
