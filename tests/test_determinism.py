"""The same input gives bit-identical outputs in every run on a machine: the GEMM backend chosen by timing is
stored per machine, so separate processes (also ones starting together with no stored choices) and the first
call of a process (which calibrates) compute the same bits as every later call."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest
import torch

from transformers_fast.ops import backend_choices, packed_linear

SCRIPT = r"""
import sys, torch, transformers_fast as tf
torch.manual_seed(0)
config = tf.BertConfig(vocab_size=99, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=96)
model = tf.BertForQuestionAnswering(config).eval()
ids = torch.randint(0, 99, (3, 13), generator=torch.Generator().manual_seed(1))
mask = torch.ones_like(ids); mask[1, 9:] = 0
with torch.no_grad():
    first = model(ids, attention_mask=mask)[0]
    second = model(ids, attention_mask=mask)[0]
assert torch.equal(first, second), "the calibrating first call differs from the next"
torch.save(first, sys.argv[1])
"""


def _run_processes(tmp_path, cache, count, tag):
    env = dict(os.environ, TRANSFORMERS_FAST_CACHE=str(cache))
    env.pop("TRANSFORMERS_FAST_LINEAR", None)
    outs = [tmp_path / f"{tag}{i}.pt" for i in range(count)]
    procs = [subprocess.Popen([sys.executable, "-c", SCRIPT, str(o)], env=env) for o in outs]  # together
    assert all(p.wait(timeout=300) == 0 for p in procs)
    return [torch.load(o, weights_only=True) for o in outs]


def test_runs_in_separate_processes_are_bit_identical(tmp_path):
    cache = tmp_path / "cache"
    results = _run_processes(tmp_path, cache, 2, "fresh")  # no stored choices yet in either
    results += _run_processes(tmp_path, cache, 1, "later")
    for other in results[1:]:
        assert torch.equal(results[0], other)
    stored = json.loads((cache / backend_choices.FILE_NAME).read_text())
    assert len(stored) == 1 and all(v in packed_linear.BACKENDS for v in next(iter(stored.values())).values())


def test_stored_choice_is_used(tmp_path, monkeypatch):
    monkeypatch.setenv("TRANSFORMERS_FAST_CACHE", str(tmp_path))
    monkeypatch.setattr(packed_linear, "_choice", {})
    monkeypatch.setattr(packed_linear, "_forced", packed_linear._UNREAD)
    monkeypatch.delenv("TRANSFORMERS_FAST_LINEAR", raising=False)
    layer = packed_linear.PackedLinear(torch.randn(48, 32), torch.randn(48))
    x = torch.randn(5, 32)
    key = packed_linear._choice_key(layer, 5)
    for backend in packed_linear.candidates():
        with backend_choices.stored() as saved:
            saved[packed_linear.stored_name(key, packed_linear.candidates())] = backend
        packed_linear._choice.clear()
        # Both without autograd: oneDNN's AVX2 kernels round differently when the weight takes a gradient.
        with torch.no_grad():
            out = packed_linear.linear(x, layer)
            assert torch.equal(out, packed_linear._run(backend, x, layer))
        assert packed_linear.chosen_backends()[key] == backend


def test_threads_making_first_calls_at_once_agree(tmp_path, monkeypatch, request):
    monkeypatch.setenv("TRANSFORMERS_FAST_CACHE", str(tmp_path))
    monkeypatch.setattr(packed_linear, "_choice", {})
    calls = []
    original = packed_linear._calibrate
    monkeypatch.setattr(packed_linear, "_calibrate", lambda *a, **k: calls.append(1) or original(*a, **k))
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch often: the races happen as on a slow or emulated CPU
    request.addfinalizer(lambda: sys.setswitchinterval(interval))
    x = torch.randn(9, 32)
    # Rounds of a fresh shape class each (out features 64, 80, ...): the threads' first calls race more than once,
    # and the ones that wait free the other backends' packed copies while others do the same.
    for round_ in range(8):
        layer = packed_linear.PackedLinear(torch.randn(64 + 16 * round_, 32), torch.randn(64 + 16 * round_), "gelu")
        outs, errors, calls[:] = [None] * 4, [], []

        def first_call(i):
            try:
                with torch.no_grad():
                    outs[i] = packed_linear.linear(x, layer)
            except Exception as err:  # (a thread's exception would only be a warning)
                errors.append(err)

        workers = [threading.Thread(target=first_call, args=(i,)) for i in range(4)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert not errors
        assert len(calls) <= 1  # one calibration (none where only one backend exists)
        assert all(torch.equal(outs[0], o) for o in outs[1:])


def test_unwritable_cache_warns_and_still_works(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("TRANSFORMERS_FAST_CACHE", str(blocker / "sub"))  # a folder under a file: cannot exist
    with pytest.warns(UserWarning, match="last for this process"):
        with backend_choices.stored() as saved:
            saved["k"] = "torch"
        with backend_choices.stored() as saved:
            assert saved["k"] == "torch"


def test_cache_folder_defaults(tmp_path, monkeypatch):
    """$TRANSFORMERS_FAST_CACHE, else $XDG_CACHE_HOME/transformers_fast, else ~/.cache/transformers_fast (README)."""
    monkeypatch.setenv("TRANSFORMERS_FAST_CACHE", str(tmp_path / "own"))
    assert backend_choices.cache_dir() == str(tmp_path / "own")
    monkeypatch.delenv("TRANSFORMERS_FAST_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert backend_choices.cache_dir() == str(tmp_path / "xdg" / "transformers_fast")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert backend_choices.cache_dir() == str(tmp_path / "home" / ".cache" / "transformers_fast")
