"""The C++ kernels run on torch's thread setting and on torch's own OpenMP pool, and compute the same bits at any
thread count, on either parallel runtime, with several callers at once."""
import os
import subprocess
import sys
import threading

import pytest
import torch

from transformers_fast import ops
from transformers_fast.ops import _backend as B
from transformers_fast.ops.layer import HAS_LAYER_KERNELS, bind_layer_weights, decoder_layer_step, encoder_layer

pytestmark = pytest.mark.skipif(not HAS_LAYER_KERNELS, reason="needs the C++ extension")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HIDDEN, HEADS, HEAD_DIM, INNER = 128, 4, 32, 512


@pytest.fixture
def restore():
    threads, backend = torch.get_num_threads(), B._C.parallel_backend()
    yield
    torch.set_num_threads(threads)
    B._C.use_openmp(backend == "openmp")


def _layer():
    def linear(n_in, n_out, activation=None):
        return ops.PackedLinear(torch.randn(n_out, n_in) / n_in ** 0.5, torch.randn(n_out), activation)

    qkv, out, ffn_in, ffn_out = (linear(HIDDEN, 3 * HIDDEN), linear(HIDDEN, HIDDEN), linear(HIDDEN, INNER, "gelu"),
                                 linear(INNER, HIDDEN))
    ln = (torch.rand(HIDDEN) + 0.5, torch.randn(HIDDEN), 1e-12)
    return bind_layer_weights(qkv, out, torch.randn(HIDDEN), ln, ffn_in, ffn_out, torch.randn(HIDDEN), ln,
                              HEADS, HEAD_DIM), qkv


def _calls():
    """Every kernel family once, at sizes that split across two threads: name -> fn() returning a tensor."""
    layer, qkv = _layer()
    x = torch.randn(70, HIDDEN)
    wide, bias = torch.randn(70, 3072), torch.randn(3072)
    w, b = torch.rand(HIDDEN) + 0.5, torch.randn(HIDDEN)
    q, k, v = (torch.randn(3, 6, 50, HEAD_DIM) for _ in range(3))
    scores, mask = torch.randn(3, 6, 50, 50), torch.zeros(3, 1, 1, 50)
    cu = torch.tensor([0, 30, 70])
    kv = torch.randn(3, 2, HEADS, 40, HEAD_DIM)

    def decode():
        state, cache = x[:3].clone(), kv.clone()
        decoder_layer_step(state, cache, 20, None, layer, HEAD_DIM ** -0.5, True)
        return torch.cat([state.flatten(), cache.flatten()])

    return {
        "bias_gelu": lambda: ops.bias_gelu(wide, bias),
        "add_layer_norm": lambda: ops.add_layer_norm(x, x.flip(0), w, b, 1e-12),
        "masked_softmax": lambda: ops.masked_softmax(scores, mask, 0.125),
        "attention": lambda: ops.attention(q, k, v),
        "panel_gemm": lambda: ops.packed_linear._run("panel", x, qkv),
        "encoder_layer": lambda: encoder_layer(x, cu, layer, HEAD_DIM ** -0.5),
        "decoder_layer_step": decode,
    }


@pytest.mark.parametrize("name", list(_calls()))
def test_thread_setting_takes_effect_on_next_call(restore, name):
    call = _calls()[name]
    for n in (1, 2, 1):
        torch.set_num_threads(n)
        call()
        assert B._C.get_num_threads() == n


def test_same_bits_at_any_thread_count_runtime_and_concurrency(restore):
    calls = _calls()
    torch.set_num_threads(1)
    expected = {name: call() for name, call in calls.items()}
    torch.set_num_threads(2)
    backends = [True, False] if B._C.parallel_backend() == "openmp" else [False]
    for openmp in backends:
        B._C.use_openmp(openmp)
        for name, call in calls.items():
            assert torch.equal(call(), expected[name]), (name, B._C.parallel_backend())
        # Four Python threads calling every kernel at once (the kernels release the GIL).
        mismatches, errors = [], []

        def worker():
            try:
                for _ in range(3):
                    mismatches.extend(name for name, call in calls.items() if not torch.equal(call(), expected[name]))
            except Exception as err:  # pragma: no cover - reported below
                errors.append(err)

        workers = [threading.Thread(target=worker) for _ in range(4)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        assert not errors and not mismatches, (B._C.parallel_backend(), errors, mismatches)


_THREAD_COUNT = r"""
import os, sys, torch
sys.path.insert(0, sys.argv[1])
from transformers_fast import ops
torch.set_num_threads(2)
x = torch.randn(512, 768)
w = torch.randn(768)
def threads():
    return len(os.listdir("/proc/self/task"))
torch.mm(x, x.t())  # torch's OpenMP pool starts
before = threads()
for _ in range(3):
    ops.layer_norm(x, w, w)
    ops.bias_gelu(x, w)
print(before, threads(), ops._backend._C.parallel_backend())
print(sorted({line.split()[-1] for line in open("/proc/self/maps") if "libgomp" in line}))
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads through /proc")
def test_kernels_run_on_torchs_openmp_pool():
    """Our parallel regions start no pool beside torch's: the process has as many threads after them as
    torch's own ops left it with, and one OpenMP runtime is loaded."""
    if torch.__config__.parallel_info().find("ATen parallel backend: OpenMP") < 0:
        pytest.skip("this torch does not run its ops on OpenMP")
    out = subprocess.run([sys.executable, "-c", _THREAD_COUNT, REPO], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    counts, runtimes = out.stdout.splitlines()
    before, after, backend = counts.split()
    assert backend == "openmp"
    assert int(after) == int(before), counts
    assert len(eval(runtimes)) == 1, runtimes


# A forked child of a process with other threads (such as OpenMP workers that ran a region): GCC's libgomp would
# wait for the parent's workers at the child's first region. Parallel tokenization and a kernel in the parent,
# then in a child (which runs no torch op that would take torch's own region: numpy compares).
_FORK = r"""
import os, sys
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, os.path.join(sys.argv[1], "tests"))
import transformers_fast as tf
from tokenizer_corpus import bert_uncased_vocab

parent = sys.argv[2]
tok = tf.BertTokenizer(bert_uncased_vocab())
texts = ["the quick brown fox %d jumps over the lazy dog" % i for i in range(4000)]
if parent == "torch":
    import torch
    from transformers_fast import ops
    torch.set_num_threads(2)
    x = torch.randn(256, 4096)
    y = ops.gelu(x).numpy().tobytes()
if parent != "idle":
    ids = tok(texts)["input_ids"]
threads = int(open("/proc/self/status").read().split("Threads:")[1].split()[0])
pid = os.fork()
if pid == 0:
    ok = tf._C.parallel_backend() == ("openmp" if threads == 1 else "pool")
    child_ids = tok(texts)["input_ids"]
    if parent != "idle":
        ok = ok and child_ids == ids
    if parent == "torch":
        ok = ok and ops.gelu(x).numpy().tobytes() == y
    os._exit(0 if ok else 3)
_, status = os.waitpid(pid, 0)
if parent == "idle":  # the parent's own regions after its child's
    tok(texts)
print(tf._C.parallel_backend(), os.waitstatus_to_exitcode(status), threads)
"""


_FORK_AFTER_TOKENIZING = r"""
import os, sys
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, os.path.join(sys.argv[1], "tests"))
import torch
import transformers_fast as tf
from tokenizer_corpus import bert_uncased_vocab

torch.set_num_threads(2)
tf.BertTokenizer(bert_uncased_vocab())(["the quick brown fox %d jumps" % i for i in range(4000)])
pid = os.fork()
if pid == 0:
    x = torch.randn(512, 512)
    torch.nn.functional.layer_norm(x @ x, (512,))
    os._exit(0)
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_torch_ops_in_a_child_forked_after_tokenizing():
    """The tokenizers' batch path runs on the core's own pool, never on the OpenMP runtime: a process that has only
    tokenized (no torch op yet) forks children whose torch ops run, as without this library (libgomp's children
    wait for a team the parent started)."""
    out = subprocess.run([sys.executable, "-c", _FORK_AFTER_TOKENIZING, REPO], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and out.stdout.split() == ["0"], out.stdout + out.stderr


@pytest.mark.skipif(not hasattr(os, "fork") or not os.path.exists("/proc/self/status"), reason="needs fork, /proc")
@pytest.mark.parametrize("parent", ["torch", "tokenizers", "idle"])
def test_a_forked_child_runs_parallel_regions_without_hanging(parent):
    """A child forked from a process with threads (torch's; OpenMP workers after a region, ours or torch's) runs
    our regions on a fresh pool of the core's own, with the same results; a child of a single-threaded process
    (tokenizers alone, before any region) keeps OpenMP. The parent keeps OpenMP either way."""
    out = subprocess.run([sys.executable, "-c", _FORK, REPO, parent], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    backend, child_exit, threads = out.stdout.split()
    assert (backend, child_exit) == ("openmp", "0"), out.stdout + out.stderr
    assert (threads == "1") == (parent == "idle")  # which of the child's two cases ran
