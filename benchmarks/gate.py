"""The kernel speed gate: per benchmark group, the speed-up of our kernel over the best torch reference
measured in the same run (a ratio, so the gate works on any machine), compared with a baseline kept in the
repository per machine kind (the kernels' ISA and the CPU's vendor: the same kernel gains differently over
torch on AMD and Intel). A ratio that falls more than `tolerance` below its baseline fails."""
from __future__ import annotations

import json
import os
from typing import Dict, List, Tuple

TOLERANCE = 0.25
BASELINE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "baseline_ratios.json")


def compare(baseline: Dict[str, float], current: Dict[str, float],
            tolerance: float = TOLERANCE) -> Tuple[List[str], List[str]]:
    """(failures, markdown table lines). A group whose speed-up fell below (1 - tolerance) x its baseline fails,
    as does a baseline group this run did not measure; a group new in this run is listed, not failed."""
    lines = ["| kernel group | baseline speed-up | this run | change | verdict |", "|---|---:|---:|---:|---|"]
    failures = []
    for group in sorted(set(baseline) | set(current)):
        before, now = baseline.get(group), current.get(group)
        if before is None:
            lines.append(f"| {group} | – | {now:.2f}x | – | not in the baseline |")
            continue
        if now is None:
            failures.append(group)
            lines.append(f"| {group} | {before:.2f}x | – | – | FAIL: not measured in this run |")
            continue
        worse = now < before * (1.0 - tolerance)
        if worse:
            failures.append(group)
        verdict = f"FAIL: more than {tolerance:.0%} slower relative to torch" if worse else "ok"
        lines.append(f"| {group} | {before:.2f}x | {now:.2f}x | {now / before - 1:+.0%} | {verdict} |")
    return failures, lines


def machine_key(isa: str, cpu_name: str) -> str:
    """'avx512 AMD', 'avx512 Intel(R)', ...: the baseline a machine compares with."""
    vendor = cpu_name.split()[0] if cpu_name.split() else "unknown"
    return f"{isa} {vendor}"


def load(path: str, isa: str) -> Dict[str, float]:
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f).get(isa, {})


def save(path: str, isa: str, ratios: Dict[str, float]) -> None:
    data = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    data[isa] = {group: round(ratio, 3) for group, ratio in sorted(ratios.items())}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
