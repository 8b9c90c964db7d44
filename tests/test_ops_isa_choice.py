"""Which implementation the ops pick per CPU: the C++ kernels only where they are vectorised (AVX2+FMA or
AVX-512); elsewhere (forced here with TRANSFORMERS_FAST_ISA=generic) every op, the packed projections and the
models' fast paths run torch's own ops, decided once at import. Each case runs in a fresh process, since the
environment variable is read at import."""
import os
import subprocess
import sys
import textwrap

import pytest

from transformers_fast.ops import _backend

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)

pytestmark = pytest.mark.skipif(not _backend.has_extension(), reason="the C++ extension is not built")


def _run(code: str, *args: str, **env) -> subprocess.CompletedProcess:
    full_env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, TESTS]), **env)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=300)


# Every kernel entry point of _C: with the generic ISA none of them may be called.
_GENERIC_CHECK = """
import torch
import torch.nn.functional as F
from transformers_fast.ops import _backend

class Recorder:
    KERNELS = {"gelu", "bias_gelu", "add_layer_norm", "masked_softmax", "attention", "gemm_small",
               "gemm_small_pack", "encoder_layer", "decoder_layer_step", "LayerWeights", "relative_attention",
               "attention_int8_kv", "quantize_kv", "relative_attention_int8_kv"}

    def __init__(self, module):
        self.module, self.used = module, set()

    def __getattr__(self, name):
        if name in self.KERNELS:
            self.used.add(name)
        return getattr(self.module, name)

recorder = _backend._C = Recorder(_backend._C)
assert _backend._C.cpu_isa() == "generic" and not _backend.has_kernels()

from transformers_fast import ops
torch.manual_seed(0)
x, b, w = torch.randn(5, 32), torch.randn(32), torch.randn(32)
q, k, v = torch.randn(2, 4, 6, 8), torch.randn(2, 4, 6, 8), torch.randn(2, 4, 6, 8)
mask = torch.zeros(2, 1, 1, 6)
mask[1, ..., 4:] = -float("inf")
packed_q = torch.randn(10, 4, 8)
cu = torch.tensor([0, 4, 10])
lin = torch.nn.Linear(32, 48)
checks = [
    (ops.gelu(x), F.gelu(x)),
    (ops.gelu(x, "tanh"), F.gelu(x, approximate="tanh")),
    (ops.bias_gelu(x, b), F.gelu(x + b)),
    (ops.layer_norm(x, w, b, 1e-5), F.layer_norm(x, (32,), w, b, 1e-5)),
    (ops.add_layer_norm(x, x, w, b, 1e-5, x_bias=b), F.layer_norm(x + b + x, (32,), w, b, 1e-5)),
    (ops.masked_softmax(x, b, scale=0.5), torch.softmax(x * 0.5 + b, -1)),
    (ops.attention(q, k, v, attn_mask=mask), F.scaled_dot_product_attention(q, k, v, attn_mask=mask)),
    (ops.attention(q, k, v, causal=True), F.scaled_dot_product_attention(q, k, v, is_causal=True)),
    (ops.attention(packed_q, packed_q, packed_q, cu_seqlens=cu)[4:],
     F.scaled_dot_product_attention(*[packed_q[4:].transpose(0, 1)] * 3).transpose(0, 1)),
]
from transformers_fast.ops.relative_attention import _reference as relative_reference
rq, rk, rr = torch.randn(3, 2, 4, 8), torch.randn(5, 2, 4, 8), torch.randn(9, 1, 4, 8)
bias = torch.randn(4, 8)
checks.append((ops.relative_attention(rq, rk, rk, rr, bias, -bias, shift="xlnet"),
               relative_reference(rq, rk, rk, rr, bias, -bias, "xlnet", 8 ** -0.5, None, None, None, None)))
from transformers_fast.ops.attention import _quantize_kv_reference, dequantize_kv, quantize_kv
(k8, ks), (v8, vs) = quantize_kv(k), quantize_kv(v)
checks.append(((k8, ks), _quantize_kv_reference(k)))
checks.append((ops.attention(q[:, :, :1], k8, v8, k_scale=ks, v_scale=vs),
               F.scaled_dot_product_attention(q[:, :, :1], dequantize_kv(k8, ks), dequantize_kv(v8, vs))))
(rk8, rks) = quantize_kv(rk)
checks.append((ops.relative_attention(rq, rk8, rk8, rr, bias, -bias, shift="xlnet", k_scale=rks, v_scale=rks),
               relative_reference(rq, dequantize_kv(rk8, rks), dequantize_kv(rk8, rks), rr, bias, -bias, "xlnet",
                                  8 ** -0.5, None, None, None, None)))
import os
import warnings
from transformers_fast.ops import packed_linear
for backend in ("torch", "panel", ""):  # panel: not on this CPU, torch serves
    os.environ[packed_linear.ENV] = backend
    packed_linear._forced = packed_linear._UNREAD
    warnings.simplefilter("ignore", RuntimeWarning)
    layer = ops.PackedLinear.from_linear(lin, activation="gelu")
    checks.append((layer(x), F.gelu(lin(x))))
for i, (got, want) in enumerate(checks):
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5, msg=lambda m: f"case {i}: {m}")
assert not recorder.used, f"C++ kernels called with the generic ISA: {sorted(recorder.used)}"
print("OPS-OK")
"""

_GENERIC_MODELS = """
import torch
import transformers_fast as tf
from transformers_fast.ops import _backend
from modeling_helpers import compare, hf_model, inputs
from gpt_helpers import hf_gpt, ids

class Recorder:
    def __init__(self, module):
        self.module, self.used = module, set()

    def __getattr__(self, name):
        if name not in ("cpu_isa", "cpu_features", "set_num_threads", "get_num_threads", "tokenizers"):
            self.used.add(name)
        return getattr(self.module, name)

recorder = _backend._C = Recorder(_backend._C)
import sys
path = sys.argv[1]
ref = hf_model("bert", "BertForSequenceClassification")
ref.save_pretrained(path + "/bert")
model = tf.BertForSequenceClassification.from_pretrained(path + "/bert").eval()
x, mask, types = inputs("bert", batch=3, seq=9)
with torch.no_grad():
    for rows in (1, 3):  # one row: where the one-call layers would serve
        compare(model(x[:rows], attention_mask=mask[:rows], token_type_ids=types[:rows])[0],
                ref(x[:rows], attention_mask=mask[:rows], token_type_ids=types[:rows]).logits)
gpt = hf_gpt("gpt2", "GPT2LMHeadModel")
gpt.save_pretrained(path + "/gpt2")
ours = tf.GPT2LMHeadModel.from_pretrained(path + "/gpt2")
prompt = ids(batch=2, seq=5)
theirs = gpt.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=6, do_sample=False,
                      pad_token_id=0, eos_token_id=None)
assert torch.equal(ours.generate(prompt, max_new_tokens=6, eos_token_id=None), theirs)
assert not recorder.used, f"C++ kernels called with the generic ISA: {sorted(recorder.used)}"
print("MODELS-OK")
"""


def test_generic_isa_ops_run_torch_and_equal_it():
    """TRANSFORMERS_FAST_ISA=generic: every op and every PackedLinear backend equal torch, and no C++ kernel runs."""
    result = _run(_GENERIC_CHECK, TRANSFORMERS_FAST_ISA="generic")
    assert result.returncode == 0 and "OPS-OK" in result.stdout, result.stdout + result.stderr


def test_generic_isa_models_run_torch_and_equal_the_reference(tmp_path):
    """The encoder fast path (batches of one and three rows) and GPT-2 generate give the reference's results
    without touching a C++ kernel when the CPU has only the portable build."""
    result = _run(_GENERIC_MODELS, str(tmp_path), TRANSFORMERS_FAST_ISA="generic")
    assert result.returncode == 0 and "MODELS-OK" in result.stdout, result.stdout + result.stderr


def test_vector_isa_keeps_the_kernels():
    """The same probe with the CPU's best ISA: the kernels are used (so the check above can see them)."""
    result = _run("from transformers_fast.ops import _backend; print(_backend.has_kernels(), _backend.cpu_isa())")
    assert result.returncode == 0, result.stderr
    on, isa = result.stdout.split()
    assert on == str(isa != "generic")


@pytest.mark.parametrize("value", ["avx3", "sse", "AVX-512"])
def test_unknown_isa_value_is_a_clear_error(value):
    result = _run("import transformers_fast.ops", TRANSFORMERS_FAST_ISA=value)
    assert result.returncode != 0
    assert "ValueError" in result.stderr and f"TRANSFORMERS_FAST_ISA={value!r}" in result.stderr, result.stderr
    assert "generic, avx2, avx512" in result.stderr, result.stderr


@pytest.mark.parametrize("value", ["AVX2", "generic"])
def test_known_isa_values_cap_the_kernels(value):
    result = _run("from transformers_fast import ops; print(ops.cpu_isa())", TRANSFORMERS_FAST_ISA=value)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] in (value.lower(), "generic")
