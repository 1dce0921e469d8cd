"""All benchmarks, one command; prints one table (each figure beside its target: issue 19's
rows and issue 15's two REST rows, then the figures behind them) and writes the figures as
JSON.

    python -m bench.run [--quick] [--json bench/results.json]

Everything talks only to 127.0.0.1. Figures are medians of interleaved samples; compare
ratios within one run (the machine is shared and noisy). --quick is a smoke run: fewer calls,
the rate window compressed from 20 s to 2 s (so the bulk ratios are not the targets' own),
and the plan at 10,000 rows only; its verdicts are indicative."""

from __future__ import annotations

import argparse
import json
import operator
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import bulk, coldstart, overhead, rest
from bench.plan_rows import measure as plan_measure

FLAT = 1.25  # "flat in rows": peak RSS at 100,000 rows within this factor of 10,000 rows'

# Issue 19's table, then issue 15's REST rows: (key, measure, target as printed, checks).
TARGETS: dict[str, tuple[str, str]] = {
    "bulk_wall_over_minimum": ("SOAP bulk 30,000 leads at the cap: wall ÷ the cap's minimum",
                               "≤ 1.03"),
    "before_first_request": ("time before the bulk job's first request (dry pass)",
                             "≤ 1 s per 10,000 rows"),
    "first_window": ("first window: 100 syncMultipleLeads x 300 at 10 in flight", "≤ 1 s"),
    "validate_over_python": ("cold validate welcome.yml ÷ python -c pass", "≤ 20x"),
    "help_over_python": ("--help ÷ python -c pass", "≤ 4x"),
    "plan_100k": ("plan of 100,000 CSV rows", f"≤ 4 s, ≤ 100 MB, flat (≤ {FLAT}x)"),
    "soap_vs_raw": ("SOAP per call ÷ raw requests (prepared envelopes), 1 / 10 in flight",
                    "≥ 0.90"),
    "soap_vs_zeep": ("SOAP per call ÷ zeep, 1 / 10 in flight", "≥ 2.0"),
    "rest_vs_raw": ("REST per call ÷ raw requests (prepared JSON), 1 / 10 in flight", "≥ 0.80"),
    "rest_bulk": ("REST bulk 30,000 leads at the cap: wall ÷ the cap's minimum; 606/615",
                  "≤ 1.05; 0"),
}
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, "<=": operator.le, "==": operator.eq}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    parser.add_argument("--json", type=Path, default=Path("bench/results.json"))
    args = parser.parse_args()
    quick = args.quick
    calls, repeats, window = (300, 1, 2.0) if quick else (2000, 3, 20.0)
    started = time.time()
    results: dict[str, Any] = {"machine": {"python": platform.python_version(),
                                           "cpus": os.cpu_count(),
                                           "load_at_start": os.getloadavg()[0]},
                               "quick": quick}
    results["overhead"] = overhead.measure(calls, repeats)
    results["rest"] = rest.measure(calls, repeats)
    results["sandbox_capacity_rps"] = overhead.capacity(calls)
    results["bulk"] = bulk.measure(30_000, window)
    results["rest_bulk"] = rest.bulk(30_000, window)
    results["coldstart"] = coldstart.measure(3 if quick else 9)
    with tempfile.TemporaryDirectory() as tmp:
        results["plan"] = [plan_measure(rows, Path(tmp))
                           for rows in ((10_000,) if quick else (10_000, 100_000))]
    results["elapsed_s"] = round(time.time() - started, 1)
    results["machine"]["load_at_end"] = os.getloadavg()[0]
    results["targets"] = [dict(zip(("measure", "figure", "target", "verdict"), row, strict=True))
                          for row in target_rows(results)]
    print_table(results)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nfigures written to {args.json}")


def _verdict(checks: list[tuple[float, str, float]]) -> str:
    """met when every (figure, op, bound) holds, else MISSED."""
    return "met" if all(_OPS[op](figure, bound) for figure, op, bound in checks) else "MISSED"


def _both(r: dict[str, Any], key: str) -> list[float]:
    return [r[f"concurrency_{n}"][key] for n in (1, 10)]


def target_rows(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(measure, figure, target, verdict) for every targeted figure."""
    rows: list[tuple[str, str, str, str]] = []

    def add(key: str, figure: str, checks: list[tuple[float, str, float]] | None) -> None:
        name, target = TARGETS[key]
        rows.append((name, figure, target, _verdict(checks) if checks is not None
                     else "not measured"))

    b, rb, c = r["bulk"], r["rest_bulk"], r["coldstart"]
    add("bulk_wall_over_minimum", f"{b['wall_over_minimum']} ({b['wall_s']} s / "
        f"{b['minimum_s']:g} s at 100/{b['window_s']:g} s)",
        [(b["wall_over_minimum"], "<=", 1.03), (b["exit"], "==", 0)])
    per_10k = b["before_first_request_s"] / (b["rows_read_before_first_request"] / 10_000)
    add("before_first_request", f"{b['before_first_request_s']} s for "
        f"{b['rows_read_before_first_request']:,} rows = {per_10k:.2f} s per 10,000",
        [(per_10k, "<=", 1.0)])
    add("first_window", f"{b['first_window_span_s']} s", [(b["first_window_span_s"], "<=", 1.0)])
    add("validate_over_python", f"{c['validate_over_python']}x ({c['validate_s']} s)",
        [(c["validate_over_python"], "<=", 20)])
    add("help_over_python", f"{c['help_over_python']}x ({c['help_s']} s)",
        [(c["help_over_python"], "<=", 4)])
    plans = {p["rows"]: p for p in r["plan"]}
    if 100_000 in plans:
        big, small = plans[100_000], plans[10_000]
        growth = big["peak_rss_mb"] / small["peak_rss_mb"]
        add("plan_100k", f"{big['wall_s']} s, {big['peak_rss_mb']} MB (RSS x{growth:.2f} "
            "from 10,000 rows)", [(big["wall_s"], "<=", 4), (big["peak_rss_mb"], "<=", 100),
                                  (growth, "<=", FLAT)])
    else:
        small = plans[10_000]
        add("plan_100k", f"--quick: 10,000 rows only ({small['wall_s']} s, "
            f"{small['peak_rss_mb']} MB)", None)
    o, ro = r["overhead"], r["rest"]
    for key, source, field, bound in (("soap_vs_raw", o, "runner_vs_raw", 0.90),
                                      ("soap_vs_zeep", o, "runner_vs_zeep", 2.0),
                                      ("rest_vs_raw", ro, "runner_vs_raw", 0.80)):
        one, ten = _both(source, field)
        add(key, f"{one} / {ten}", [(one, ">=", bound), (ten, ">=", bound)])
    add("rest_bulk", f"{rb['wall_over_minimum']} ({rb['wall_s']} s / {rb['minimum_s']:g} s, "
        f"{rb['rest_requests']} requests at 100/{rb['window_s']:g} s); "
        f"{rb['limit_errors']} 606/615",
        [(rb["wall_over_minimum"], "<=", 1.05), (rb["limit_errors"], "==", 0),
         (rb["exit"], "==", 0)])
    return rows


def detail_rows(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """The figures behind the targeted ones (no target of their own)."""
    rows: list[tuple[str, str, str, str]] = []
    for label, source, zeep in (("SOAP", r["overhead"], True), ("REST", r["rest"], False)):
        for n in (1, 10):
            o = source[f"concurrency_{n}"]
            figure = (f"raw {o['raw_calls_per_s']}" + (f", zeep {o['zeep_calls_per_s']}"
                                                       if zeep else "")
                      + f", mktows-run {o['runner_calls_per_s']} calls/s")
            rows.append((f"{label} calls/s, {n} in flight ({source['calls']} calls)", figure,
                         f"prepare {o['runner_prepare_s']} s", ""))
    cap = r["sandbox_capacity_rps"]
    rows.append(("sandbox capacity, SOAP, 10 in flight",
                 f"lenient {cap['lenient']} / strict {cap['strict']} req/s", "", ""))
    b = r["bulk"]
    rows += [
        ("SOAP bulk: calls, exit, 20023/20024 faults",
         f"{b['calls']} calls ({b.get('requests', b['calls'])} requests with preflight's), "
         f"exit {b['exit']}, {b['limit_faults']} faults", "0 faults",
         "met" if b["limit_faults"] == 0 else "MISSED"),
        ("SOAP bulk: first-to-last request ÷ minimum", f"{b['sending_over_minimum']}",
         f"÷ sliding-window minimum: {b['sending_over_sliding_minimum']}", ""),
        ("SOAP bulk: after the last request (reports, exit)", f"{b['after_last_request_s']} s",
         "", ""),
    ]
    rb = r["rest_bulk"]
    ops = ", ".join(f"{k.removeprefix('rest.')} {v}" for k, v in rb["by_operation"].items())
    rows += [
        ("REST bulk: requests", f"{rb['rest_requests']} ({ops}), exit {rb['exit']}", "", ""),
        ("REST bulk: first-to-last request ÷ minimum", f"{rb['sending_over_minimum']}",
         f"Sync Leads span {rb['sync_leads_span_s']} s", ""),
        ("REST bulk: before the first / after the last request",
         f"{rb['before_first_request_s']} s / {rb['after_last_request_s']} s", "", ""),
    ]
    c = r["coldstart"]
    rows.append(("python -c pass", f"{c['python_pass_s']} s", "", ""))
    for p in r["plan"]:
        rows.append((f"plan {p['rows']:,} CSV rows ({p['calls']} calls)",
                     f"{p['wall_s']} s, {p['peak_rss_mb']} MB peak RSS", "", ""))
    m = r["machine"]
    rows.append(("elapsed", f"{r['elapsed_s']} s" + (" (--quick)" if r.get("quick") else ""),
                 f"{m['cpus']} CPUs, load {m['load_at_start']:.1f} -> {m['load_at_end']:.1f}",
                 ""))
    return rows


def print_table(r: dict[str, Any]) -> None:
    head = ("measure", "figure", "target", "verdict")
    targeted = [(t["measure"], t["figure"], t["target"], t["verdict"]) for t in r["targets"]]
    details = detail_rows(r)
    # Sized to the targeted rows; a long detail runs past its column.
    widths = [max(len(row[i]) for row in (head, *targeted)) for i in range(4)]

    def line(row: tuple[str, str, str, str]) -> str:
        return "  ".join(f"{cell:<{w}}" for cell, w in zip(row, widths, strict=True)).rstrip()

    print(line(head))
    print("  ".join("-" * w for w in widths))
    for row in targeted:
        print(line(row))
    print("  ".join("-" * w for w in widths))
    for row in details:
        print(line(row))
    if r.get("quick"):
        print("\n--quick: fewer calls, the rate window compressed to 2 s and the plan at 10,000 "
              "rows; the targets are set for the full run")


if __name__ == "__main__":
    main()
