"""Bulk job at Marketo's rate cap: 30,000 leads through syncMultipleLeads (300 a call) and a
requestCampaign for every lead (100 keys a call) = 400 calls, against a sandbox enforcing
100 calls per window and 10 in flight, with the window compressed (same ratio as 100/20 s).
Reports wall time / the minimum the limit allows, and the 20023/20024 faults seen."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import Sandbox

EXAMPLE = Path(__file__).resolve().parent.parent / "playbooks" / "import-leads.yml"
ROWS_READ = 2  # the example's two loops (import, welcome) each read the file in the dry pass


def measure(rows: int = 30_000, window_s: float = 4.0) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "bulk.yml").write_text(EXAMPLE.read_text())  # the example playbook itself
        (work / "data").mkdir()
        (work / "data" / "leads.csv").write_text("Email,FirstName\n" + "".join(
            f"bulk{i}@example.com,F{i}\n" for i in range(rows)))
        rate = f"100/{window_s:g}s"
        with Sandbox(work / "box.db", lenient=True, limits=True, rate_limit=rate) as box:
            env = {"MKTOWS_ENDPOINT": box.info["endpoint"], "MKTOWS_USER_ID":
                   box.info["user_id"], "MKTOWS_ENCRYPTION_KEY": box.info["encryption_key"]}
            import os

            started, started_at = time.perf_counter(), time.time()
            res = subprocess.run([sys.executable, "-m", "runner", "bulk.yml", "--rate", rate,
                                  "--concurrency", "10", "-q"], cwd=work,
                                 env={**os.environ, **env}, capture_output=True, text=True,
                                 timeout=60 * window_s + 300)
            wall = time.perf_counter() - started
            ended_at = started_at + wall
            report = json.loads((work / "results.json").read_text())
            from runner import sandbox as sbx

            requests = sbx.open_store(Path(box.info["db"])).requests()
        calls = sum(len(s["calls"]) for s in report["steps"])
        from datetime import datetime

        times = sorted(datetime.fromisoformat(r["time"]) for r in requests)
        sending = (times[-1] - times[0]).total_seconds()
        # Marketo's window slides: call k+100 may not start before call k + W. The first
        # window's calls need time to get through 10 in flight (a 300-record upsert takes
        # the server tens of ms), and every later window inherits that spread.
        first_span = (times[min(99, len(times) - 1)] - times[0]).total_seconds()
        # Every request counts against Marketo's rate, preflight's read included: the
        # minimum is that of the requests the sandbox saw, not of the playbook's calls.
        made = len(requests)
        sliding_minimum = (made - 1) // 100 * window_s + first_span
        minimum = (made - 1) // 100 * window_s  # the last window's calls may start no sooner
        limit_faults = sum(1 for r in requests if r["fault_code"] in (20023, 20024))
        return {"rows": rows, "calls": calls, "requests": made, "window_s": window_s,
                "exit": res.returncode,
                "wall_s": round(wall, 2), "minimum_s": minimum,
                "wall_over_minimum": round(wall / minimum, 3), "limit_faults": limit_faults,
                "first_to_last_request_s": round(sending, 2),
                "sending_over_minimum": round(sending / minimum, 3),
                "first_window_span_s": round(first_span, 2),
                "sending_over_sliding_minimum": round(sending / sliding_minimum, 3),
                # From the sandbox's log (same clock): the dry pass before the first request,
                # the reports and exit after the last one.
                "before_first_request_s": round(times[0].timestamp() - started_at, 2),
                "after_last_request_s": round(ended_at - times[-1].timestamp(), 2),
                "rows_read_before_first_request": ROWS_READ * rows}


if __name__ == "__main__":
    print(measure(3_000, 1.0))
