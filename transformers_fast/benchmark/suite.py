"""The end-to-end suite of `transformers-fast bench`: every family against its reference in one run, at each
thread count, written as bench.json, bench.md (a markdown table) and bench.png (speed-up per workload).

The full suite is sized for a 2-core machine (about 10 minutes at 1 and 2 threads): the base configs, the
workloads where the families differ (short and long inputs, a batch, padding, generation), fewer repetitions
than the scripts in benchmarks/ (which add more workloads, OpenVINO and scaling tables). --quick runs tiny
configs: seconds, a check that everything runs, not figures to quote."""
from __future__ import annotations

import importlib.util
import json
import math
import os
import sys
import time
from typing import Callable, Dict, List, NamedTuple, Optional

from transformers_fast.benchmark import Row, decoders, encoders, machine, transfo_xl, xlm, xlnet


class Benchmark(NamedTuple):
    needs: str  # the reference library (an import name)
    build: Callable[[bool], object]  # quick -> models
    rows: Callable[[object, int, bool, int], List[Row]]  # models, threads, quick, repeats -> rows


def _encoder(family: str, workloads) -> Benchmark:
    return Benchmark("transformers", lambda quick: encoders.build(family, quick),
                     lambda m, threads, quick, repeats: encoders.rows(
                         m, threads, encoders.QUICK if quick else workloads, repeats))


def _decoder(family: str, new_tokens: int, batches, workloads) -> Benchmark:
    return Benchmark("transformers", lambda quick: decoders.build(family, quick),
                     lambda m, threads, quick, repeats: decoders.rows(
                         m, threads, workloads, repeats, new_tokens=None if quick else new_tokens,
                         batches=None if quick else batches))


def _xlm_rows(m, threads, quick, repeats):
    return (xlm.forward_rows(m, threads, xlm.QUICK if quick else ("1x128", "16var"), repeats)
            + xlm.decode_rows(m, threads, 4 if quick else 16, max(1, repeats - 1)))


# The suite by family name, in the order it runs.
SUITE = {
    "bert": _encoder("bert", ("1x8", "1x128", "8x128")),
    "roberta": _encoder("roberta", ("1x128",)),
    "distilbert": _encoder("distilbert", ("1x128", "8x128")),
    "gpt2": _decoder("gpt2", 32, (1, 8), ("generate", "step", "forward")),
    "openai-gpt": _decoder("openai-gpt", 16, (1,), ("generate", "forward")),
    "xlnet": Benchmark("transformers", xlnet.build, lambda m, threads, quick, repeats: xlnet.rows(
        m, threads, xlnet.QUICK if quick else ("1x128", "8x128"), repeats)),
    "transfo-xl": Benchmark("pytorch_transformers", transfo_xl.build,
                            lambda m, threads, quick, repeats: transfo_xl.rows(m, threads, repeats)),
    "xlm": Benchmark("transformers", xlm.build, _xlm_rows),
}
FAMILIES = tuple(SUITE)


def run(threads: List[int], quick: bool = False, families=FAMILIES, repeats: Optional[int] = None,
        log=lambda line: print(line, file=sys.stderr, flush=True)) -> dict:
    """Every family's rows at every thread count, with the machine they were measured on. A family whose
    reference library is not installed is listed under "skipped" with the reason."""
    repeats = repeats or 3
    result = {"machine": machine(), "threads": list(threads), "quick": quick, "repeats": repeats,
              "references": {}, "rows": [], "skipped": {}}
    for family in families:
        bench = SUITE[family]
        if importlib.util.find_spec(bench.needs) is None:
            result["skipped"][family] = f"needs {bench.needs.replace('_', '-')} (the reference), not installed"
            log(f"bench: {family} skipped: {result['skipped'][family]}")
            continue
        start = time.perf_counter()
        models = bench.build(quick)
        result["references"][family] = models.library
        for count in threads:
            rows = bench.rows(models, count, quick, repeats)
            result["rows"].extend(row.as_dict() for row in rows)
            log(f"bench: {models.title}, {len(rows)} workload(s) at {count} thread(s) "
                f"({time.perf_counter() - start:.0f} s so far)")
        del models  # before the next family's weights (Transformer-XL's alone are 1.1 GB)
    return result


def _ms(value: float) -> str:
    return f"{value:.1f}" if value >= 1 else f"{value:.2f}"


def markdown(result: dict) -> str:
    """One row per workload, a column pair per thread count: reference → ours (ms) and the speed-up."""
    m = result["machine"]
    threads = result["threads"]
    lines = [f"{m['cpu']} ({m['vendor']}, kernels' ISA {m['isa']}, {m['cores']} cores), torch {m['torch']}, "
             f"transformers_fast {m['transformers_fast']}; fp32, random weights, best of {result['repeats']} "
             f"run(s) after a warm-up; ms per call; speed-up = reference time / ours"
             + (" (--quick: tiny configs, not figures to quote)" if result["quick"] else ""), ""]
    header = "| model | workload | reference |" + "".join(
        f" {t} thread{'s' if t > 1 else ''}: reference → ours | speed-up |" for t in threads)
    lines += [header, "|---|---|---|" + "---:|---:|" * len(threads)]
    table: Dict[tuple, Dict[int, dict]] = {}
    for row in result["rows"]:
        table.setdefault((row["model"], row["workload"], row["reference"]), {})[row["threads"]] = row
    for (model, workload, reference), by_threads in table.items():
        cells = ""
        for t in threads:
            row = by_threads.get(t)
            cells += (" – | – |" if row is None else
                      f" {_ms(row['reference_ms'])} → {_ms(row['ours_ms'])} | {row['speedup']:.2f}x |")
        lines.append(f"| {model} | {workload} | {reference} |{cells}")
    for family, reason in result["skipped"].items():
        lines.append(f"\n{family}: skipped, {reason}")
    return "\n".join(lines) + "\n"


TICKS = (0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 6, 8, 12, 16, 32, 64, 128, 256, 512)


def _ticks(low: float, high: float) -> List[float]:
    """Round speed-ups on the axis, outward from 1x, none closer to another than an eighth of the range."""
    gap = math.log(high / low) / 8
    kept = [1.0]
    for tick in sorted(TICKS, key=lambda t: abs(math.log(t))):
        if low <= tick <= high and all(abs(math.log(tick / k)) >= gap for k in kept):
            kept.append(tick)
    return sorted(kept)


def plot(result: dict, path: str) -> None:
    """Horizontal bars of the speed-up per workload, one bar per thread count, a line at 1.0 (the reference).
    ImportError when matplotlib is not installed."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    labels = list(dict.fromkeys(f"{row['model']}: {row['workload']}" for row in result["rows"]))
    threads = result["threads"]
    height = 0.8 / max(1, len(threads))
    fig, ax = plt.subplots(figsize=(9, 1.5 + 0.22 * len(labels) * len(threads)))
    for i, count in enumerate(threads):
        speedups = {f"{r['model']}: {r['workload']}": r["speedup"] for r in result["rows"] if r["threads"] == count}
        for k, label in enumerate(labels):
            if label not in speedups:
                continue
            y, value = k + (i - (len(threads) - 1) / 2) * height, speedups[label]
            # from 1.0 (the reference) to the speed-up, on a log axis: 2x faster and 2x slower look alike
            ax.barh(y, value - 1.0, left=1.0, height=height, color=f"C{i}",
                    label=f"{count} thread{'s' if count > 1 else ''}" if k == min(
                        j for j, name in enumerate(labels) if name in speedups) else None)
            ax.text(value, y, f" {value:.2f}x ", va="center", ha="left" if value >= 1 else "right", fontsize=6)
    values = [r["speedup"] for r in result["rows"]] or [1.0]
    low, high = min(0.8, min(values) / 1.25), max(1.25, max(values) * 1.25)  # room for the value labels
    ax.set_xscale("log")
    ax.set_xlim(low, high)
    ax.xaxis.set_major_locator(FixedLocator(_ticks(low, high)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}x"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.axvline(1.0, color="black", linestyle="--", linewidth=1, label="reference (1.0x)")
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.invert_yaxis()  # the suite's order, top to bottom
    ax.set_xlabel("speed-up over the reference (its time / ours), same run")
    m = result["machine"]
    ax.set_title(f"transformers_fast vs transformers / pytorch-transformers 1.2.0\n{m['cpu']}, ISA {m['isa']}",
                 fontsize=9, pad=24)
    ax.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(threads) + 1, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(result: dict, folder: str, log=lambda line: print(line, file=sys.stderr)) -> List[str]:
    """bench.json, bench.md and, with matplotlib, bench.png in `folder` (created); the paths written."""
    os.makedirs(folder, exist_ok=True)
    written = [os.path.join(folder, "bench.json"), os.path.join(folder, "bench.md")]
    with open(written[0], "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    with open(written[1], "w", encoding="utf-8") as f:
        f.write(markdown(result))
    try:
        plot(result, os.path.join(folder, "bench.png"))
    except ImportError:
        log("bench: bench.png not written: the plot needs matplotlib (pip install matplotlib)")
    else:
        written.append(os.path.join(folder, "bench.png"))
    return written
