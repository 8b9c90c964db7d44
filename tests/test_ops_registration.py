"""Every C++-backed op is a torch.library custom op whose fake implementation agrees with it."""
import pytest
import torch

from transformers_fast import ops

pytestmark = pytest.mark.skipif(not hasattr(torch.library, "opcheck"), reason="torch.library.opcheck needs torch >= 2.4")


def cases():
    x = torch.randn(3, 5, 16)
    q, k, v = torch.randn(2, 3, 6, 8), torch.randn(2, 3, 7, 8), torch.randn(2, 3, 7, 8)
    t = torch.randn(9, 2, 8)
    return {
        "gelu": (x, "none"),
        "bias_gelu": (x, torch.randn(16), "tanh"),
        "add_layer_norm": (x, torch.randn(3, 5, 16), torch.randn(16), None, 1e-5, torch.randn(16)),
        "masked_softmax": (torch.randn(2, 3, 4, 9), None, torch.tensor([9, 4]), 0.5, True),
        "attention": (q, k, v, torch.zeros(2, 1, 1, 7), torch.tensor([7, 3]), None, 0.35, True),
        "attention:packed": (t, t, t, None, None, torch.tensor([0, 4, 9]), 0.35, False),
        # Dense but permuted inputs: outputs are contiguous in both the real and the fake op.
        "gelu:transposed": (x.transpose(0, 2), "tanh"),
        "masked_softmax:transposed": (torch.randn(2, 9, 4).transpose(1, 2), torch.zeros(9), None, 1.0, False),
        "add_layer_norm:transposed": (x.transpose(0, 1), None, None, None, 1e-5, None),
    }


@pytest.mark.parametrize("name", list(cases()))
def test_opcheck(name):
    op = getattr(torch.ops.transformers_fast, name.split(":")[0])
    torch.library.opcheck(op, cases()[name])


@pytest.mark.parametrize("name", ["add_layer_norm", "masked_softmax"])
def test_compile_fullgraph(name):
    from torch._dynamo.testing import CompileCounterWithBackend

    counter = CompileCounterWithBackend("eager")
    x = torch.randn(4, 16)
    if name == "add_layer_norm":
        fn = lambda x, r: ops.add_layer_norm(x, r, None, None) * 2  # noqa: E731
        want = torch.nn.functional.layer_norm(x + x, (16,)) * 2
    else:
        fn = lambda x, r: ops.masked_softmax(x, r, scale=0.5) * 2  # noqa: E731
        want = torch.softmax(x * 0.5 + x, -1) * 2
    got = torch.compile(fn, backend=counter, fullgraph=True)(x, x)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    names = [str(n.target) for g in counter.graphs for n in g.graph.nodes]
    assert any(f"transformers_fast.{name}" in n for n in names), names
