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


def assert_bf16_close(got: torch.Tensor, theirs: torch.Tensor, want: torch.Tensor, factor: float = 2.0) -> None:
    """got: our bfloat16 result; theirs: torch's bfloat16 result on the same inputs; want: the fp32 (or float64)
    reference on those inputs. The max and the mean absolute error of got must each be at most `factor` x
    torch's, or at most the output's own rounding (half a bfloat16 ulp of the largest |want|, resp. of the
    mean |want|) where torch happens to be closer than that. NaN and infinities where the reference has them."""
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
    assert ours_max <= factor * max(torch_max, floor_max), (
        f"max error {ours_max:.3g} > {factor} x torch's bf16 {torch_max:.3g} (floor {floor_max:.3g})")
    assert ours_mean <= factor * max(torch_mean, floor_mean), (
        f"mean error {ours_mean:.3g} > {factor} x torch's bf16 {torch_mean:.3g} (floor {floor_mean:.3g})")
