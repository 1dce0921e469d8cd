"""Benchmark: the bulk job's dry pass (what it does before its first request), without a
sandbox: `mktows-run validate` and `mktows-run plan` of playbooks/import-leads.yml over a
generated data/leads.csv, as bench/bulk.py runs it (30,000 rows, two loops: 60,000 rows read,
100 syncMultipleLeads bodies of 300 records and 300 requestCampaign bodies of 100 keys).

Each command runs in a child process (start-up included, as the bulk job pays it), `--repeat`
times; the best time is kept. Prints seconds, seconds per 10,000 rows read, and the same
beyond what a file of no rows costs (start-up, the WSDL, the playbook). `plan` also digests
every call for a saved plan (`plan --out`), which a run does not.

    python -m bench.dry_pass [--rows 30000] [--repeat 3] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "playbooks" / "import-leads.yml"
LOOPS = 2  # the example's two loops (import, welcome) each read the file
# What bench/bulk.py gives the run (a sandbox's values there; any well-formed ones here).
ENV = {"MKTOWS_ENDPOINT": "https://127.0.0.1:1/soap/mktows/3_1",
       "MKTOWS_USER_ID": "bench_user_1234",
       "MKTOWS_ENCRYPTION_KEY": "bench-encryption-key-0123456789"}


def make_work(work: Path, rows: int) -> Path:
    """The example playbook and a `rows`-row data file in `work`, as bench.common.run_bulk
    writes them."""
    (work / "bulk.yml").write_text(EXAMPLE.read_text())
    (work / "data").mkdir(exist_ok=True)
    (work / "data" / "leads.csv").write_text("Email,FirstName\n" + "".join(
        f"bulk{i}@example.com,F{i}\n" for i in range(rows)))
    return work / "bulk.yml"


def time_command(args: list[str], cwd: Path, repeat: int) -> float:
    """The best wall time of `mktows-run ARGS` over `repeat` runs (exit 0 required)."""
    best = float("inf")
    env = {**os.environ, **ENV}
    for _ in range(repeat):
        started = time.perf_counter()
        res = subprocess.run([sys.executable, "-m", "runner", *args], cwd=cwd, env=env,
                             capture_output=True, text=True, timeout=600)
        wall = time.perf_counter() - started
        if res.returncode != 0:
            raise SystemExit(f"mktows-run {' '.join(args)} failed ({res.returncode}):\n"
                             f"{res.stdout[-2000:]}{res.stderr[-2000:]}")
        best = min(best, wall)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    read = LOOPS * args.rows
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        full, empty = Path(tmp) / "full", Path(tmp) / "empty"
        full.mkdir()
        empty.mkdir()
        make_work(full, args.rows)
        make_work(empty, 0)  # what does not depend on the rows: start-up, WSDL, playbook
        results["validate"] = time_command(["validate", "bulk.yml"], full, args.repeat)
        results["plan"] = time_command(["plan", "bulk.yml"], full, args.repeat)
        results["validate_0_rows"] = time_command(["validate", "bulk.yml"], empty, args.repeat)
    per_row = (results["validate"] - results["validate_0_rows"]) / read
    print(f"{args.rows:,} rows, {read:,} read (best of {args.repeat})")
    print(f"{'command':>22} {'wall s':>8} {'s / 10k rows read':>18}")
    for name in ("validate", "plan"):
        print(f"{name:>22} {results[name]:>8.3f} {results[name] / read * 10_000:>18.3f}")
    print(f"{'validate, 0 rows':>22} {results['validate_0_rows']:>8.3f}")
    print(f"{'validate, per row':>22} {'':>8} {per_row * 10_000:>18.3f}")
    if args.json:
        args.json.write_text(json.dumps({"dry_pass": {
            "rows": args.rows, "rows_read": read,
            **{f"{k}_s": round(v, 3) for k, v in results.items()},
            "s_per_10k_rows": round(results["validate"] / read * 10_000, 3),
            "s_per_10k_rows_beyond_start": round(per_row * 10_000, 3)}}, indent=2) + "\n")


if __name__ == "__main__":
    main()
