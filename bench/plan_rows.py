"""Benchmark: `mktows-run plan` of a playbook looping a generated CSV into syncMultipleLeads.

Prints wall time and peak RSS at 10,000 and 100,000 rows (memory must stay flat in the row
count: rows are streamed and at most one batch is held). Targets (issue 19): <= 4 s and
<= 100 MB at 100,000 rows.

    python bench/plan_rows.py [--rows 10000 100000] [--json bench/results-plan.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PLAYBOOK = """\
version: 1
name: bulk import
steps:
  - id: import
    loop:
      file: leads.csv
      columns:
        - {name: Email, required: true}
        - {name: FirstName}
        - {name: LastName}
        - {name: Company}
        - {name: Employees, type: integer}
    syncMultipleLeads:
      leadRecordList:
        - Email: ${item.Email}
          leadAttributeList:
            FirstName: ${item.FirstName}
            LastName: ${item.LastName}
            Company: ${item.Company}
            NumberOfEmployees: ${item.Employees}
"""

# Runs the CLI in a child and reports the child's own peak RSS (VmHWM) on exit.
CHILD = """\
import atexit, sys
def _peak():
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM:'):
            sys.stderr.write('PEAK_KB ' + line.split()[1] + '\\n')
atexit.register(_peak)
from runner.cli import main
main(sys.argv[1:])
"""


def make_csv(path: Path, rows: int) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Email", "FirstName", "LastName", "Company", "Employees"])
        for i in range(rows):
            w.writerow([f"lead{i}@example.com", f"First{i}", f"Last{i}", f"Company {i % 997}",
                        str(i % 5000)])


def measure(rows: int, workdir: Path) -> dict[str, float]:
    """`mktows-run plan` of a `rows`-row CSV in a child process: wall time and peak RSS."""
    make_csv(workdir / "leads.csv", rows)
    (workdir / "bulk.yml").write_text(PLAYBOOK)
    started = time.perf_counter()
    res = subprocess.run([sys.executable, "-c", CHILD, "plan", str(workdir / "bulk.yml")],
                         capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - started
    if res.returncode != 0:
        raise SystemExit(f"plan failed ({res.returncode}):\n{res.stderr[-2000:]}")
    peak_kb = next(int(line.split()[1]) for line in res.stderr.splitlines()
                   if line.startswith("PEAK_KB"))
    calls = next(line for line in res.stdout.splitlines() if "daily quota" in line)
    return {"rows": rows, "wall_s": round(wall, 3), "peak_rss_mb": round(peak_kb / 1024, 1),
            "calls": int(calls.split()[0])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            results.append(measure(rows, Path(tmp)))
    print(f"{'rows':>8} {'calls':>6} {'wall s':>8} {'peak RSS MB':>12}")
    for r in results:
        print(f"{r['rows']:>8} {r['calls']:>6} {r['wall_s']:>8.2f} {r['peak_rss_mb']:>12.1f}")
    if len(results) > 1:
        a, b = results[0], results[-1]
        print(f"rows x{b['rows'] / a['rows']:.0f}: wall x{b['wall_s'] / a['wall_s']:.2f}, "
              f"peak RSS x{b['peak_rss_mb'] / a['peak_rss_mb']:.2f}")
    print("targets at 100,000 rows: wall <= 4 s, peak RSS <= 100 MB")
    if args.json:
        args.json.write_text(json.dumps({"plan_rows": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
