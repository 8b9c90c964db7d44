"""The kernel speed gate: per benchmark group, the speed-up of our kernel over the best torch reference
measured in the same run (a ratio, so the gate works on any machine), compared with a baseline kept in the
repository per machine kind (the kernels' ISA and the CPU's vendor: the same kernel gains differently over
torch on AMD and Intel). A ratio that falls more than `tolerance` below its baseline fails.

`make bench-gate` measures (benchmarks/conftest.py), compares with baseline_ratios.json and writes this run's
speed-ups to build/gate_ratios.json. A CI that keeps its own baseline compares two such files without measuring:

    python benchmarks/gate.py BASELINE.json CURRENT.json [--kind "avx512 AMD"] [--tolerance 0.25]

(exit status 0: passed, 1: a speed-up fell, 2: the files could not be compared)."""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Callable, Dict, List, Optional, Sequence, Tuple

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


def run(baseline: Dict[str, float], measure: Callable[[Optional[Sequence[str]]], Dict[str, float]],
        tolerance: float = TOLERANCE) -> Tuple[Dict[str, float], List[str], List[str]]:
    """(speed-ups, failures, table lines). measure(None) times every group, measure(groups) only those. A group
    that fails is measured once more and keeps the better of its two speed-ups: one busy moment on a shared
    machine should not fail CI, a real slow-down fails twice."""
    ratios = measure(None)
    failures, _ = compare(baseline, ratios, tolerance)
    again = [group for group in failures if group in ratios]  # a group not measured at all cannot recover
    notes = []
    if again:
        second = measure(again)
        for group in again:
            first, ratios[group] = ratios[group], max(ratios[group], second.get(group, 0.0))
            notes.append(f"re-measured {group}: {first:.2f}x, then {second.get(group, float('nan')):.2f}x")
    failures, lines = compare(baseline, ratios, tolerance)
    return ratios, failures, lines + notes


def machine_key(isa: str, cpu_name: str) -> str:
    """'avx512 AMD', 'avx512 Intel(R)', ...: the baseline a machine compares with."""
    vendor = cpu_name.split()[0] if cpu_name.split() else "unknown"
    return f"{isa} {vendor}"


def load(path: str, isa: str) -> Dict[str, float]:
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f).get(isa, {})


def save(path: str, isa: str, ratios: Dict[str, float], keep_others: bool = True) -> None:
    """Writes the speed-ups of machine kind `isa` into `path`, keeping the file's other kinds unless told not."""
    data = {}
    if keep_others and os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    data[isa] = {group: round(ratio, 3) for group, ratio in sorted(ratios.items())}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")


def _read_kinds(path: str) -> Dict[str, Dict[str, float]]:
    """{machine kind: {group: speed-up}} from a file as save() writes it; ValueError saying what is wrong."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as err:
        raise ValueError(f"cannot read {path}: {err.strerror or err}") from None
    except ValueError as err:
        raise ValueError(f"{path} is not valid JSON ({err})") from None
    valid = isinstance(data, dict) and all(
        isinstance(groups, dict) and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                         for v in groups.values()) for groups in data.values())
    if not valid:
        raise ValueError(f"{path} does not map machine kinds to {{kernel group: speed-up}}")
    return data


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Compare the kernel speed-ups of CURRENT (as `make bench-gate` "
                                                 "writes them) with BASELINE; exit 1 when one fell too far.")
    parser.add_argument("baseline", metavar="BASELINE")
    parser.add_argument("current", metavar="CURRENT")
    parser.add_argument("--kind", help="the machine kind to compare (default: the one kind CURRENT holds)")
    parser.add_argument("--tolerance", type=float, default=TOLERANCE,
                        help=f"the fall allowed, as a fraction of the baseline speed-up (default {TOLERANCE})")
    args = parser.parse_args(argv)
    try:
        if not 0 <= args.tolerance < 1:
            raise ValueError(f"--tolerance takes a fraction in [0, 1), got {args.tolerance}")
        baseline, current = _read_kinds(args.baseline), _read_kinds(args.current)
        kind = args.kind
        if kind is None:
            if len(current) != 1:
                raise ValueError(f"{args.current} holds {len(current)} machine kinds ({', '.join(current) or 'none'}):"
                                 " pass --kind")
            kind = next(iter(current))
        for path, data in ((args.baseline, baseline), (args.current, current)):
            if kind not in data:
                raise ValueError(f"{path} has no speed-ups for machine kind {kind!r} (it has: "
                                 f"{', '.join(data) or 'none'})")
    except ValueError as err:
        print(f"gate: error: {err}", file=sys.stderr)
        return 2
    failures, lines = compare(baseline[kind], current[kind], args.tolerance)
    print(f"kernel gate, {kind}: {args.current} against {args.baseline}")
    print("\n".join(lines))
    if failures:
        print(f"kernel gate FAILED: {', '.join(failures)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
