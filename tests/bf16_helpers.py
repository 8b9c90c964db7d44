"""DESIGN.md's rule for reduced precision: an op's bfloat16 result may be at most 2x as far from the fp32 reference
as torch's own bfloat16 result on the same (bfloat16) inputs."""
from __future__ import annotations

import torch

BF16 = torch.bfloat16


def to_bf16(*tensors):
    """The test inputs rounded to bfloat16 (None stays None)."""
    return tuple(None if t is None else t.to(BF16) for t in tensors)


def errors(got: torch.Tensor, want: torch.Tensor):
    """(max, mean) absolute error of got against want over want's finite entries."""
    finite = torch.isfinite(want)
    diff = (got.double() - want.double())[finite].abs()
    if diff.numel() == 0:
        return 0.0, 0.0
    return diff.max().item(), diff.mean().item()


def assert_bf16_close(got: torch.Tensor, theirs: torch.Tensor, want: torch.Tensor, factor: float = 2.0,
                      check_max: bool = True) -> None:
    """got: our bfloat16 result; theirs: torch's bfloat16 result on the same inputs; want: the fp32 (or float64)
    reference on those inputs. The max and the mean absolute error of got must each be at most `factor` x
    torch's, or at most the output's own rounding (half a bfloat16 ulp of the largest |want|, resp. of the
    mean |want|) where torch happens to be closer than that. NaN and infinities where the reference has them.
    check_max=False leaves the max alone (the max of a few values is one rounding's luck)."""
    assert got.dtype == BF16, got.dtype
    assert got.shape == want.shape, (got.shape, want.shape)
    want = want.double()
    assert torch.equal(torch.isnan(got), torch.isnan(want)), "NaN where the reference has none, or none where it has"
    inf = torch.isinf(want)
    assert torch.equal(got.double()[inf], want[inf]), "infinities differ from the reference"
    finite = torch.isfinite(want)
    if not finite.any():
        return
    ours_max, ours_mean = errors(got, want)
    torch_max, torch_mean = errors(theirs, want)
    magnitude = want[finite].abs()
    floor_max, floor_mean = 2.0 ** -9 * magnitude.max().item(), 2.0 ** -9 * magnitude.mean().item()
    assert not check_max or ours_max <= factor * max(torch_max, floor_max), (
        f"max error {ours_max:.3g} > {factor} x torch's bf16 {torch_max:.3g} (floor {floor_max:.3g})")
    assert ours_mean <= factor * max(torch_mean, floor_mean), (
        f"mean error {ours_mean:.3g} > {factor} x torch's bf16 {torch_mean:.3g} (floor {floor_mean:.3g})")


MANY = 64


def real_positions(t: torch.Tensor, real):
    """The entries of t at real tokens: real [batch, seq] (or [batch, choices, seq]) bool, matched to t's leading
    [batch, (choices,) seq] dimensions or, for attention maps and presents, to its batch and sequence dimensions
    (the padding-free fast paths leave padded positions at zero, documented); t itself flattened otherwise."""
    if real is None:
        return t.flatten()
    if t.shape[:real.dim()] == real.shape:
        return t[real].flatten()
    rows = real.reshape(-1, real.shape[-1])
    batch, seq = rows.shape
    dims = [d for d in range(t.dim()) if t.shape[d] == batch]
    for b in dims:
        for s in range(b + 1, t.dim()):
            if t.shape[s] == seq:
                shape = [1] * t.dim()
                shape[b], shape[s] = batch, seq
                return t[rows.reshape(shape).expand(t.shape)]
    return t.flatten()


def assert_outputs_bf16_close(got, theirs, want, real=None, path="output", factor: float = 2.0) -> None:
    """assert_bf16_close over a model's outputs (nested tuples of tensors), on real positions: the same structure,
    floating-point outputs in torch's dtype within `factor` x its error (the max error where there are at least
    MANY values), integer outputs of its dtype and shape."""
    if want is None or isinstance(want, torch.Tensor):
        if want is None:
            assert got is None and theirs is None, path
            return
        assert isinstance(got, torch.Tensor), f"{path}: {type(got).__name__}"
        assert got.dtype == theirs.dtype, f"{path}: dtype {got.dtype}, the reference gives {theirs.dtype}"
        assert got.numel() == want.numel(), f"{path}: shape {tuple(got.shape)} != {tuple(want.shape)}"
        got = got.reshape(want.shape)
        if not want.is_floating_point():
            return
        try:
            got, theirs, want = (real_positions(t, real) for t in (got, theirs, want))
            assert_bf16_close(got, theirs, want, factor, check_max=want.numel() >= MANY)
        except AssertionError as error:
            raise AssertionError(f"{path}: {error}") from None
        return
    assert len(got) == len(want) == len(theirs), f"{path}: {len(got)} outputs, the reference {len(want)}"
    for i, (g, t, w) in enumerate(zip(got, theirs, want)):
        assert_outputs_bf16_close(g, t, w, real, f"{path}[{i}]", factor)
