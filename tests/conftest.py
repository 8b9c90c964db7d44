import os
import tempfile

import pytest
import torch

# The tests choose GEMM backends afresh instead of reading (or writing) the user's stored choices.
os.environ.setdefault("TRANSFORMERS_FAST_CACHE", tempfile.mkdtemp(prefix="transformers_fast_cache_"))

# The C++ ISA paths are exercised by capping the dispatch; every ISA the CPU has is tested.
from transformers_fast.ops import _backend


def pytest_collection_modifyitems(config, items):
    # Without AVX2 (and on aarch64) the fused kernels are off and every op is torch's own: tests of our kernels'
    # rounding and special values would hold torch to them.
    if _backend.KERNELS_ON:
        return
    skip = pytest.mark.skip(reason="the fused CPU kernels are off on this CPU: the ops are torch's own")
    for item in items:
        if "kernels" in item.keywords:
            item.add_marker(skip)


def available_isas():
    if not _backend.has_extension():
        return []
    order = ["generic", "avx2", "avx512"]
    best = _backend._C.cpu_isa()
    return order[: order.index(best) + 1]


@pytest.fixture(params=available_isas())
def isa(request):
    """Runs a test once per ISA the machine supports (generic, avx2, avx512)."""
    _backend._C.set_isa_cap(request.param)
    yield request.param
    _backend._C.set_isa_cap("avx512")


def available_bf16_paths():
    """The bfloat16 kernel paths of this machine: every ISA (conversion by shifts), and on an AVX-512 CPU with
    avx512_bf16 the path that uses those instructions (vcvtneps2bf16, vdpbf16ps)."""
    paths = available_isas()
    if "avx512" in paths and _backend._C.use_avx512_bf16():
        paths.append("avx512_bf16")
    return paths


@pytest.fixture(params=available_bf16_paths())
def bf16_isa(request):
    """Runs a test once per bfloat16 kernel path ("avx512": AVX-512 without the avx512_bf16 instructions)."""
    _backend._C.set_isa_cap("avx512" if request.param == "avx512_bf16" else request.param)
    _backend._C.set_avx512_bf16(request.param == "avx512_bf16")
    yield request.param
    _backend._C.set_isa_cap("avx512")
    _backend._C.set_avx512_bf16(True)


@pytest.fixture(params=[1, 2])
def threads(request):
    old = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(old)


@pytest.fixture(autouse=True)
def _seed_and_fresh_warnings():
    # Fallback warnings are once per process; each test sees its own first warning.
    torch.manual_seed(0)
    _backend._warned.clear()


@pytest.fixture(scope="session")
def roberta_files(tmp_path_factory):
    """GPT-2's real files with RoBERTa's special tokens added to the vocabulary (roberta-base's tokens, ids after
    GPT-2's): (vocab.json, merges.txt)."""
    import json

    from tokenizer_corpus import gpt2_files

    vocab_file, merges = gpt2_files()
    with open(vocab_file, encoding="utf-8") as f:
        vocab = json.load(f)
    n = len(vocab)
    for i, token in enumerate(["<s>", "<pad>", "</s>", "<unk>", "<mask>"]):
        vocab[token] = n + i
    folder = tmp_path_factory.mktemp("roberta")
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    return str(folder / "vocab.json"), merges
