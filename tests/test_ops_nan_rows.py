"""NaN and +inf scores in every order through the softmax and attention kernels give torch's results (the
portable build once converted the NaN/inf exponent to int, undefined behaviour: `make sanitize-kernels` runs the
C++ side under UBSan)."""
import itertools

import pytest
import torch
import torch.nn.functional as F

from transformers_fast import ops

SPECIALS = (float("nan"), float("inf"), -float("inf"), 1.0)


@pytest.mark.parametrize("order", list(itertools.permutations(SPECIALS, 3)))
def test_softmax_rows_with_specials_in_any_order(isa, order):
    scores = torch.randn(3, 21)
    for row, start in enumerate((0, 8, 18)):  # in the vector body and in the tail
        scores[row, start:start + 3] = torch.tensor(order)
    torch.testing.assert_close(ops.masked_softmax(scores), torch.softmax(scores, -1), equal_nan=True,
                               rtol=1e-5, atol=1e-6)


def test_attention_with_nan_and_inf_keys_equals_float64_sdpa(isa):
    q, k, v = torch.randn(1, 2, 5, 8), torch.randn(1, 2, 19, 8), torch.randn(1, 2, 19, 8)
    k[0, 0, 3, 1], k[0, 0, 4, 2], k[0, 1, 17, 0] = float("inf"), float("nan"), -float("inf")
    want = F.scaled_dot_product_attention(q.double(), k.double(), v.double()).float()
    torch.testing.assert_close(ops.attention(q, k, v), want, equal_nan=True, rtol=1e-5, atol=2e-5)
