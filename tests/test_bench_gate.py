"""The kernel speed gate's verdicts (benchmarks/gate.py), on synthetic speed-ups."""
from __future__ import annotations

import importlib.util
import os

import pytest

_PATH = os.path.join(os.path.dirname(__file__), "..", "benchmarks", "gate.py")
_spec = importlib.util.spec_from_file_location("benchmark_gate", _PATH)
gate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gate)

BASELINE = {"bias_gelu 1x128x3072": 2.4, "attention 1x12x128x64": 1.3, "layer_norm 1x128x768": 1.8}


def test_within_noise_passes():
    failures, lines = gate.compare(BASELINE, {"bias_gelu 1x128x3072": 2.0, "attention 1x12x128x64": 1.5,
                                              "layer_norm 1x128x768": 1.4})
    assert failures == []
    assert all(line.endswith("| ok |") for line in lines[2:])


def test_a_ratio_worse_by_more_than_a_quarter_fails_with_the_table():
    failures, lines = gate.compare(BASELINE, {"bias_gelu 1x128x3072": 1.7, "attention 1x12x128x64": 1.3,
                                              "layer_norm 1x128x768": 1.8})
    assert failures == ["bias_gelu 1x128x3072"]
    row = next(line for line in lines if line.startswith("| bias_gelu"))
    assert "2.40x | 1.70x | -29% | FAIL" in row
    assert lines[0].startswith("| kernel group | baseline speed-up | this run |")


def test_missing_and_new_groups_are_reported():
    failures, lines = gate.compare(BASELINE, {"bias_gelu 1x128x3072": 2.4, "attention 1x12x128x64": 1.3,
                                              "relative_attention xlnet": 1.7})
    assert failures == ["layer_norm 1x128x768"]  # measured before, not now: the baseline must be refreshed
    assert any("relative_attention xlnet" in line and "not in the baseline" in line for line in lines)


@pytest.mark.parametrize("isa,cpu,key", [("avx512", "AMD EPYC", "avx512 AMD"),
                                         ("avx2", "Intel(R) Xeon(R) Platinum", "avx2 Intel(R)")])
def test_baselines_are_kept_per_machine_kind(isa, cpu, key, tmp_path):
    path = str(tmp_path / "baseline.json")
    assert gate.machine_key(isa, cpu) == key
    gate.save(path, key, {"gelu": 1.8567})
    gate.save(path, "generic other", {"gelu": 1.0})
    assert gate.load(path, key) == {"gelu": 1.857}
    assert gate.load(path, "avx512 unseen") == {}
    assert gate.load(str(tmp_path / "absent.json"), key) == {}
