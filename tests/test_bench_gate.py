"""The kernel speed gate's verdicts (benchmarks/gate.py), on synthetic speed-ups."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

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


class Measure:
    """A stand-in for the gate's timing: the speed-ups of each call in turn, and which groups each call asked for."""

    def __init__(self, *answers):
        self.answers, self.asked = list(answers), []

    def __call__(self, groups):
        self.asked.append(None if groups is None else sorted(groups))
        answer = self.answers.pop(0)
        return {g: r for g, r in answer.items() if groups is None or g in groups}


def test_a_failing_group_is_measured_again_and_keeps_the_better_speed_up():
    measure = Measure({"bias_gelu 1x128x3072": 1.7, "attention 1x12x128x64": 1.3, "layer_norm 1x128x768": 1.8},
                      {"bias_gelu 1x128x3072": 2.3, "attention 1x12x128x64": 0.1, "layer_norm 1x128x768": 0.1})
    ratios, failures, lines = gate.run(BASELINE, measure)
    assert failures == [] and ratios["bias_gelu 1x128x3072"] == 2.3
    assert measure.asked == [None, ["bias_gelu 1x128x3072"]]  # only the failing group, once
    assert ratios["attention 1x12x128x64"] == 1.3  # the others keep their first measurement
    assert any("re-measured bias_gelu 1x128x3072: 1.70x, then 2.30x" in line for line in lines)


def test_a_group_slow_twice_fails_with_its_better_speed_up():
    measure = Measure({"bias_gelu 1x128x3072": 1.5, "attention 1x12x128x64": 1.3, "layer_norm 1x128x768": 1.8},
                      {"bias_gelu 1x128x3072": 1.6})
    ratios, failures, lines = gate.run(BASELINE, measure)
    assert failures == ["bias_gelu 1x128x3072"] and ratios["bias_gelu 1x128x3072"] == 1.6
    assert any(line.startswith("| bias_gelu") and "1.60x" in line and "FAIL" in line for line in lines)


def test_nothing_is_measured_again_when_every_group_passes_or_a_group_was_not_measured():
    measure = Measure({"bias_gelu 1x128x3072": 2.4, "attention 1x12x128x64": 1.3})
    _, failures, _ = gate.run(BASELINE, measure)
    assert failures == ["layer_norm 1x128x768"] and measure.asked == [None]


def write(path, data):
    path.write_text(json.dumps(data))
    return str(path)


def test_compare_two_files_for_a_users_own_ci(tmp_path, capsys):
    baseline = write(tmp_path / "baseline.json", {"avx512 AMD": BASELINE, "avx2 Intel(R)": {"gelu": 9.0}})
    good = write(tmp_path / "good.json", {"avx512 AMD": dict(BASELINE, **{"bias_gelu 1x128x3072": 2.0})})
    assert gate.main([baseline, good]) == 0
    out = capsys.readouterr().out
    assert "avx512 AMD" in out and "| bias_gelu 1x128x3072 | 2.40x | 2.00x | -17% | ok |" in out
    bad = write(tmp_path / "bad.json", {"avx512 AMD": dict(BASELINE, **{"bias_gelu 1x128x3072": 1.7})})
    assert gate.main([baseline, bad]) == 1
    assert "kernel gate FAILED: bias_gelu 1x128x3072" in capsys.readouterr().out
    assert gate.main([baseline, bad, "--tolerance", "0.5"]) == 0


def test_compare_files_as_a_script_with_the_files_conftest_writes(tmp_path):
    """The command line a user's CI runs, on files written by gate.save (as `make bench-gate` writes them)."""
    baseline, current = str(tmp_path / "baseline.json"), str(tmp_path / "current.json")
    gate.save(baseline, "avx2 AMD", BASELINE)
    gate.save(current, "avx2 AMD", dict(BASELINE, **{"layer_norm 1x128x768": 1.0}), keep_others=False)
    proc = subprocess.run([sys.executable, _PATH, baseline, current], capture_output=True, text=True)
    assert proc.returncode == 1 and "FAIL" in proc.stdout and "layer_norm 1x128x768" in proc.stdout


@pytest.mark.parametrize("make,args,fragment", [
    (lambda d: (write(d / "b.json", {"k": BASELINE}), str(d / "absent.json")), [], "cannot read"),
    (lambda d: (write(d / "b.json", {"k": BASELINE}), str(d / "x.json")), [], "not valid JSON"),
    (lambda d: (write(d / "b.json", {"k": BASELINE}), write(d / "c.json", {"k": [1, 2]})), [], "does not map"),
    (lambda d: (write(d / "b.json", {"k": BASELINE}), write(d / "c.json", {"k": BASELINE, "j": {}})), [],
     "pass --kind"),
    (lambda d: (write(d / "b.json", {"k": BASELINE}), write(d / "c.json", {"j": BASELINE})), [],
     "no speed-ups for machine kind 'j'"),
    (lambda d: (write(d / "b.json", {"k": BASELINE}), write(d / "c.json", {"k": BASELINE})), ["--tolerance", "2"],
     "--tolerance"),
])
def test_files_that_cannot_be_compared_are_one_error_line(make, args, fragment, tmp_path, capsys):
    (tmp_path / "x.json").write_text("{not json")
    assert gate.main([*make(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith("gate: error: ") and fragment in err, err
