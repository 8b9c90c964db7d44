"""The README's two commands on machines unlike this one: `make install` finds a torch to install where the CPU
wheel cannot be had, and `make test` before `make install` says what to run instead of failing in imports.
A fake Python records what it is asked and fails where told, so nothing is downloaded."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

FAKE_PYTHON = """#!/usr/bin/env bash
echo "$*" >> "$FAKE_LOG"
case "$*" in
  *"import"*) exit 1 ;;                 # no torch, no transformers_fast
  *"$FAKE_FAIL_PIP"*) exit 1 ;;         # this pip install cannot be had
  *) exit 0 ;;
esac
"""


def fake_python(tmp_path: Path, fail_pip: str):
    python = tmp_path / "python"
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    log = tmp_path / "calls.log"
    env = dict(os.environ, FAKE_LOG=str(log), FAKE_FAIL_PIP=fail_pip)
    return python, log, env


@pytest.mark.parametrize("fail_pip,last_call", [
    ("no such pattern", "-m pip install torch==2.13.0+cpu"),  # the CPU wheel is there
    ("pip install torch==2.13.0+cpu", "-m pip install --index-url https://download.pytorch.org/whl/cpu torch"),
    ("pip install", "-m pip install torch"),                   # neither: PyPI's torch
])
def test_install_torch_falls_back(tmp_path, fail_pip, last_call):
    python, log, env = fake_python(tmp_path, fail_pip)
    result = subprocess.run([str(ROOT / "scripts/install_torch.sh"), str(python)], env=env, capture_output=True,
                            text=True)
    calls = log.read_text().splitlines()
    assert calls[0] == "-c import torch"
    assert calls[-1] == last_call, calls
    assert result.returncode == (1 if fail_pip == "pip install" else 0)  # the fake fails every pip install there


def test_make_test_without_install_says_what_to_run(tmp_path):
    python, _, env = fake_python(tmp_path, "nothing")
    result = subprocess.run(["make", "-s", "-C", str(ROOT), "test", f"PYTHON={python}"], env=env,
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "run 'make install' first" in result.stdout
    assert "pytest" not in (tmp_path / "calls.log").read_text()
