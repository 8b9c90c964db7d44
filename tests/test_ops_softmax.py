import importlib
from unittest import mock

import pytest
import torch

from bf16_helpers import assert_bf16_close, to_bf16
from transformers_fast import ops
from transformers_fast.ops import _backend as B

SM = importlib.import_module("transformers_fast.ops.softmax")  # the package re-exports the function

COLS = [1, 7, 83, 768, 769, 1024, 4096]
VARIANTS = ["none", "bert_padding", "additive_full", "lengths", "causal", "lengths+causal"]


def reference(scores, additive, lengths, scale, causal):
    # float64, written out: excluded keys (lengths/causal) get probability 0, empty rows are 0.
    b, h, sq, sk = scores.shape
    x = scores.double() * scale
    if additive is not None:
        x = x + additive.double()
    allowed = torch.ones(b, 1, sq, sk, dtype=torch.bool)
    for bi in range(b):
        n = sk if lengths is None else int(lengths[bi])
        for i in range(sq):
            limit = min(n, i + (n - sq) + 1) if causal else n
            allowed[bi, 0, i, max(limit, 0):] = False
    x = x.masked_fill(~allowed, -float("inf"))
    p = torch.exp(x - x.amax(-1, keepdim=True))
    p = p / p.sum(-1, keepdim=True)
    return p.masked_fill(~allowed, 0.0).float()


def make_case(variant, sk):
    b, h, sq = 3, 2, 5
    scores = torch.randn(b, h, sq, sk) * 4
    additive, lengths = None, None
    if variant == "bert_padding":
        keep = torch.ones(b, sk)
        keep[1, max(sk // 2, 1):] = 0
        additive = ((1.0 - keep) * -10000.0).view(b, 1, 1, sk)
    elif variant == "additive_full":
        additive = torch.randn(b, h, sq, sk)
        additive[0, 1, 2, sk // 3:] = -float("inf")
    if "lengths" in variant:
        lengths = torch.tensor([sk, 0, max(sk - 3, 1)])
    return scores, additive, lengths, "causal" in variant


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("cols", COLS)
def test_masked_softmax_matches_reference(isa, cols, variant):
    scores, additive, lengths, causal = make_case(variant, cols)
    want = reference(scores, additive, lengths, 0.125, causal)
    mask = lengths if lengths is not None else additive
    got = ops.masked_softmax(scores, mask, scale=0.125, causal=causal)
    # additive_full has one all -inf row: NaN there, as torch.
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6, equal_nan=True)


def test_lengths_as_int32_and_2d_scores(isa):
    scores = torch.randn(4, 11)
    lengths = torch.tensor([11, 3, 0, 1], dtype=torch.int32)
    got = ops.masked_softmax(scores, lengths)
    for r, n in enumerate(lengths.tolist()):
        want = torch.zeros(11)
        if n:
            want[:n] = torch.softmax(scores[r, :n], -1)
        torch.testing.assert_close(got[r], want, rtol=1e-5, atol=1e-6)


def test_all_minus_inf_rows_are_nan_like_torch_and_strided_scores(isa):
    scores = torch.randn(2, 6, 40).transpose(1, 2)  # [2, 40, 6], last dim strided
    mask = torch.zeros(2, 40, 6)
    mask[1, 7] = -float("inf")
    got = ops.masked_softmax(scores, mask)
    want = torch.softmax(scores + mask, -1)
    assert torch.isnan(got[1, 7]).all()
    torch.testing.assert_close(got, want, equal_nan=True, rtol=1e-5, atol=1e-6)


def test_nan_and_inf_scores_like_torch(isa):
    scores = torch.randn(4, 37)
    scores[0, 3] = float("nan")
    scores[1, 30] = float("inf")
    scores[2, 36] = -float("inf")
    torch.testing.assert_close(ops.masked_softmax(scores), torch.softmax(scores, -1), equal_nan=True,
                               rtol=1e-5, atol=1e-6)


def test_mask_broadcast_over_keys(isa):
    scores = torch.randn(2, 3, 9)
    mask = torch.randn(2, 3, 1)  # broadcast along the last dim: a stride-0 key axis
    torch.testing.assert_close(ops.masked_softmax(scores, mask), torch.softmax(scores + mask, -1),
                               rtol=1e-5, atol=1e-6)


def test_threads_give_identical_results(threads):
    scores = torch.randn(8, 12, 128, 128)
    mask = torch.randn(8, 1, 1, 128)
    torch.set_num_threads(1)
    one = ops.masked_softmax(scores, mask, 0.125)
    torch.set_num_threads(2)
    assert torch.equal(ops.masked_softmax(scores, mask, 0.125), one)


def test_bad_input_raises_clear_errors():
    s = torch.randn(2, 3, 4)
    with pytest.raises(ValueError, match="does not broadcast"):
        ops.masked_softmax(s, torch.randn(3, 3, 4))
    with pytest.raises(ValueError, match=r"mask must have shape \[2\]"):
        ops.masked_softmax(s, torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match=r"values must be in \[0, 4\]"):
        ops.masked_softmax(s, torch.tensor([1, 5]))
    with pytest.raises(ValueError, match=r"values must be in"):
        ops.masked_softmax(s, torch.tensor([-1, 2]))
    with pytest.raises(TypeError, match="mask must be"):
        ops.masked_softmax(s, torch.ones(2, 3, 4, dtype=torch.bool))
    with pytest.raises(TypeError, match="mask has dtype"):
        ops.masked_softmax(s, torch.zeros(4, dtype=torch.float16))
    with pytest.raises(ValueError, match="at least 2"):
        ops.masked_softmax(torch.randn(5), causal=True)
    with pytest.raises(TypeError, match="scale"):
        ops.masked_softmax(s, scale=None)
    with pytest.raises(TypeError, match="causal must be True or False, got str"):
        ops.masked_softmax(s, causal="no")
    with pytest.raises(ValueError, match="on meta"):
        ops.masked_softmax(s, torch.zeros(4, device="meta"))


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("cols", COLS)
def test_bfloat16_within_twice_torchs_error(bf16_isa, cols, variant):
    scores, additive, lengths, causal = make_case(variant, cols)
    scores, additive = to_bf16(scores, additive)
    want = reference(scores, additive, lengths, 0.125, causal).double()
    mask = lengths if lengths is not None else additive
    got = ops.masked_softmax(scores, mask, scale=0.125, causal=causal)
    assert_bf16_close(got, SM._reference(scores, additive, lengths, 0.125, causal), want)


def test_bfloat16_strided_broadcast_special_values_and_threads(bf16_isa, threads):
    scores = torch.randn(2, 6, 40).to(torch.bfloat16).transpose(1, 2)  # [2, 40, 6], last dim strided
    mask = torch.zeros(2, 40, 6, dtype=torch.bfloat16)
    mask[1, 7] = -float("inf")  # an all -inf row: NaN, as torch
    scores[0, 3, 2] = float("nan")
    scores[0, 5, 1] = float("inf")
    want = torch.softmax(scores.double() + mask.double(), -1)
    assert_bf16_close(ops.masked_softmax(scores, mask), torch.softmax(scores + mask, -1), want)
    row_mask = torch.randn(2, 40, 1).to(torch.bfloat16)  # broadcast along the keys (stride 0)
    want = torch.softmax(scores.double() + row_mask.double(), -1)
    assert_bf16_close(ops.masked_softmax(scores, row_mask), torch.softmax(scores + row_mask, -1), want)
    big, big_mask = to_bf16(torch.randn(8, 12, 128, 128), torch.randn(8, 1, 1, 128))
    torch.set_num_threads(1)
    one = ops.masked_softmax(big, big_mask, 0.125)
    torch.set_num_threads(threads)
    assert torch.equal(ops.masked_softmax(big, big_mask, 0.125), one)


def test_bfloat16_mixed_dtypes_are_rejected():
    s = torch.randn(2, 3, 4, dtype=torch.bfloat16)
    with pytest.raises(TypeError, match="mask has dtype torch.float32 but scores has torch.bfloat16"):
        ops.masked_softmax(s, torch.zeros(4))
    if B.has_kernels():  # the C++ entry point checks it too
        with pytest.raises(ValueError, match="mask: expected bfloat16, got float32"):
            B._C.masked_softmax(s, torch.zeros(2, 3, 4), None, torch.empty_like(s), 1.0, False)


def test_autograd_and_float16_use_torch_path():
    s = torch.randn(2, 5, 6, requires_grad=True)
    lengths = torch.tensor([6, 2])
    got = ops.masked_softmax(s, lengths, causal=True)
    want = reference(s.detach().unsqueeze(1), None, lengths, 1.0, True).squeeze(1)
    torch.testing.assert_close(got.detach(), want, rtol=1e-5, atol=1e-6)
    got.sum().backward()
    assert s.grad is not None
    with pytest.warns(RuntimeWarning, match="float32 or bfloat16, got torch.float16"):
        ops.masked_softmax(torch.randn(2, 4, dtype=torch.float16))


def test_empty_dims_and_overlapping_out():
    assert ops.masked_softmax(torch.empty(3, 0)).shape == (3, 0)  # strides (1, 1): not "non-contiguous"
    assert ops.masked_softmax(torch.empty(2, 0, 4), torch.tensor([1, 2]), causal=True).shape == (2, 0, 4)
    if not B.has_kernels():
        return
    buf = torch.randn(3 * 33 + 33)
    s, out = buf[:99].view(3, 33), buf[33:].view(3, 33)
    with pytest.raises(ValueError, match="out and scores: overlap in memory"):
        B._C.masked_softmax(s, None, None, out, 1.0, False)
    m = torch.zeros(3, 33)
    with pytest.raises(ValueError, match="out and mask: overlap in memory"):
        B._C.masked_softmax(s.clone(), m, None, m, 1.0, False)
    with pytest.raises(ValueError, match="lengths: need scores of at least 2 dims"):
        B._C.masked_softmax(torch.randn(4), None, torch.tensor([2]), torch.empty(4), 1.0, False)
    s = torch.randn(3, 33)
    want = torch.softmax(s * 0.5, -1)
    B._C.masked_softmax(s, None, None, s, 0.5, False)  # in place: allowed
    torch.testing.assert_close(s, want)


def chunked_logsumexp(chunks, keeps=None, use_kernel=True):
    """Runs logsumexp_update_ over the chunks; returns (log-sum-exp, the copied columns)."""
    rows = chunks[0].shape[0]
    running_max = torch.full((rows,), -float("inf"))
    running_sum = torch.zeros(rows)
    copies = []
    for i, c in enumerate(chunks):
        keep = c.shape[1] if keeps is None else keeps[i]
        out = torch.full((rows, keep + 3), 7.0, dtype=c.dtype)[:, 1:keep + 1]  # a view with a row stride
        with mock.patch.object(B, "KERNELS_ON", use_kernel):  # off: the op's torch twin
            SM.logsumexp_update_(c, running_max, running_sum, out)
        copies.append(out)
    return running_max + running_sum.log(), copies


@pytest.mark.parametrize("cols", [[1], [7, 83], [768, 769, 5], [4096, 8192]])
def test_logsumexp_update_equals_logsumexp_of_the_whole_row(isa, threads, cols):
    rows = 5
    chunks = [torch.randn(rows, c) * 6 + i * 3 for i, c in enumerate(cols)]
    keeps = [max(c - 2, 0) for c in cols]
    lse, copies = chunked_logsumexp(chunks, keeps)
    full = torch.cat(chunks, 1).double()
    torch.testing.assert_close(lse.double(), full.logsumexp(1), rtol=1e-6, atol=1e-5)
    for c, k, out in zip(chunks, keeps, copies):
        assert torch.equal(out, c[:, :k])
    twin, _ = chunked_logsumexp(chunks, keeps, use_kernel=False)
    torch.testing.assert_close(lse, twin, rtol=1e-6, atol=1e-5)


def test_logsumexp_update_special_values_and_bfloat16(isa):
    inf = float("inf")
    chunk1 = torch.tensor([[-inf, -inf, -inf], [1.0, -inf, 2.0], [0.0, 0.0, 0.0], [float("nan"), 0.0, 1.0]])
    chunk2 = torch.tensor([[-inf, -inf], [-inf, -inf], [100.0, -100.0], [0.0, 1.0]])
    lse, _ = chunked_logsumexp([chunk1, chunk2])
    expected = torch.cat([chunk1, chunk2], 1).logsumexp(1)
    assert lse[0] == -inf  # nothing but -inf so far: stays (-inf, 0), no NaN
    torch.testing.assert_close(lse[1:3], expected[1:3])
    assert torch.isnan(lse[3])
    twin, _ = chunked_logsumexp([chunk1, chunk2], use_kernel=False)
    torch.testing.assert_close(lse, twin, equal_nan=True)
    # A NaN inside the vectorised part of a row, beside -inf only or beside finite values.
    wide = torch.full((2, 70), -inf)
    wide[1] = torch.randn(70)
    wide[:, 37] = float("nan")
    assert torch.isnan(chunked_logsumexp([wide])[0]).all()
    chunks = [(torch.randn(3, n) * 5).to(torch.bfloat16) for n in (33, 100)]
    lse, copies = chunked_logsumexp(chunks)
    torch.testing.assert_close(lse, torch.cat(chunks, 1).float().logsumexp(1), rtol=1e-6, atol=1e-5)
    assert all(torch.equal(o, c) for o, c in zip(copies, chunks))


def test_logsumexp_update_bad_input():
    logits, m, s = torch.randn(4, 10), torch.full((4,), -float("inf")), torch.zeros(4)
    with pytest.raises(ValueError, match=r"running_max must be a float32 tensor of shape \[4\]"):
        SM.logsumexp_update_(logits, torch.zeros(3), s)
    with pytest.raises(ValueError, match="running_sum must be a float32"):
        SM.logsumexp_update_(logits, m, torch.zeros(4, dtype=torch.float64))
    with pytest.raises(ValueError, match="keep <= 10"):
        SM.logsumexp_update_(logits, m, s, torch.empty(4, 11))
    with pytest.raises(TypeError, match="out has dtype"):
        SM.logsumexp_update_(logits, m, s, torch.empty(4, 3, dtype=torch.bfloat16))
    with pytest.raises(ValueError, match=r"logits must be \[rows, cols\]"):
        SM.logsumexp_update_(torch.randn(2, 4, 10), m, s)
    # The C++ entry point checks what it is given directly as well.
    with pytest.raises(ValueError, match="overlap"):
        B._C.logsumexp_update(logits, logits[:, :3], m, s)
    with pytest.raises(ValueError, match="running_sum.*overlap"):
        B._C.logsumexp_update(logits, None, m, m)
    with pytest.raises(ValueError, match="rows must be contiguous"):
        B._C.logsumexp_update(logits, torch.empty(3, 4).t(), m, s)
    # A strided out written through the torch twin as through the kernel.
    out = torch.empty(10, 4).t()
    SM.logsumexp_update_(logits, m, s, out)
    assert torch.equal(out, logits[:, :10])


def test_advise_huge_pages_leaves_the_tensor_usable():
    t = B.empty_large(B.HUGE_PAGE_MIN_BYTES // 4 + 3, dtype=torch.float32, device="cpu")
    t.fill_(2.0)
    assert t.sum().item() == 2.0 * t.numel()
    assert isinstance(B._C.advise_huge_pages(torch.empty(16)), bool)
    with pytest.raises(ValueError, match="contiguous"):
        B._C.advise_huge_pages(torch.empty(8, 8).t())
