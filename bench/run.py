"""All benchmarks, one command; prints a table and writes the figures as JSON.

    python -m bench.run [--quick] [--json bench/results.json]

Everything talks only to 127.0.0.1. Figures are medians of interleaved samples; compare
ratios within one run (the machine is shared and noisy)."""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

from bench import bulk, coldstart, overhead
from bench.plan_rows import measure as plan_measure

TARGETS = {
    "runner_vs_raw": ">= 0.67", "runner_vs_zeep": ">= 1.5", "wall_over_minimum": "<= 1.05",
    "limit_faults": "== 0", "validate_s": "<= 0.8", "plan_100k_s": "<= 10",
    "plan_100k_rss_mb": "<= 200",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    parser.add_argument("--json", type=Path, default=Path("bench/results.json"))
    args = parser.parse_args()
    quick = args.quick
    started = time.time()
    results: dict[str, Any] = {"machine": {"python": platform.python_version(),
                                           "cpus": __import__("os").cpu_count()}}
    results["overhead"] = overhead.measure(300 if quick else 2000, 1 if quick else 3)
    results["sandbox_capacity_rps"] = overhead.capacity(300 if quick else 2000)
    results["bulk"] = bulk.measure(30_000, 2.0 if quick else 20.0)
    results["coldstart"] = coldstart.measure(3 if quick else 9)
    with __import__("tempfile").TemporaryDirectory() as tmp:
        results["plan"] = [plan_measure(rows, Path(tmp))
                           for rows in ((10_000,) if quick else (10_000, 100_000))]
    results["elapsed_s"] = round(time.time() - started, 1)
    print_table(results)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nfigures written to {args.json}")


def print_table(r: dict[str, Any]) -> None:
    rows: list[tuple[str, str, str]] = []
    for level in ("concurrency_1", "concurrency_10"):
        o = r["overhead"][level]
        rows += [
            (f"{level}: raw requests floor", f"{o['raw_calls_per_s']} calls/s", ""),
            (f"{level}: zeep", f"{o['zeep_calls_per_s']} calls/s", ""),
            (f"{level}: mktows-run (execute)", f"{o['runner_calls_per_s']} calls/s",
             f"prepare {o['runner_prepare_s']} s"),
            (f"{level}: mktows-run / raw", str(o["runner_vs_raw"]), TARGETS["runner_vs_raw"]),
            (f"{level}: mktows-run / zeep", str(o["runner_vs_zeep"]), TARGETS["runner_vs_zeep"]),
        ]
    cap = r["sandbox_capacity_rps"]
    rows.append(("sandbox capacity (10 in flight)", f"lenient {cap['lenient']} / strict "
                 f"{cap['strict']} req/s", "never the bottleneck of a client"))
    b = r["bulk"]
    rows += [
        (f"bulk {b['rows']} leads, {b['calls']} calls at 100/{b['window_s']:g}s",
         f"{b['wall_s']} s (minimum {b['minimum_s']} s)", ""),
        ("bulk wall / minimum", str(b["wall_over_minimum"]), TARGETS["wall_over_minimum"]),
        ("bulk first-to-last request / minimum", str(b["sending_over_minimum"]),
         f"before the first request: {b['before_first_request_s']} s"),
        ("bulk sending / sliding-window minimum", str(b["sending_over_sliding_minimum"]),
         f"first window's calls took {b['first_window_span_s']} s at 10 in flight"),
        ("bulk 20023/20024 faults", str(b["limit_faults"]), TARGETS["limit_faults"]),
    ]
    c = r["coldstart"]
    rows += [
        ("python -c pass", f"{c['python_pass_s']} s", ""),
        ("mktows-run --help", f"{c['help_s']} s", f"{c['help_over_python']}x python"),
        ("mktows-run validate welcome.yml", f"{c['validate_s']} s",
         f"{TARGETS['validate_s']}; {c['validate_over_python']}x python"),
    ]
    for p in r["plan"]:
        rows.append((f"plan {p['rows']} CSV rows ({p['calls']} calls)",
                     f"{p['wall_s']} s, {p['peak_rss_mb']} MB peak RSS",
                     "<= 10 s, <= 200 MB at 100,000" if p["rows"] == 100_000 else ""))
    width = max(len(a) for a, _, _ in rows)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:<34} {note}")


if __name__ == "__main__":
    main()
