"""Bulk job at Marketo's rate cap: 30,000 leads through syncMultipleLeads (300 a call) and a
requestCampaign for every lead (100 keys a call) = 400 calls, against a sandbox enforcing
100 calls per window and 10 in flight, with the window compressed (same ratio as 100/20 s).
Reports wall time / the minimum the limit allows, and the 20023/20024 faults seen."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from bench.common import run_bulk

EXAMPLE = Path(__file__).resolve().parent.parent / "playbooks" / "import-leads.yml"
ROWS_READ = 2  # the example's two loops (import, welcome) each read the file in the dry pass


def measure(rows: int = 30_000, window_s: float = 4.0) -> dict[str, Any]:
    run = run_bulk(EXAMPLE.read_text(), rows, window_s, lambda info: {  # the example itself
        "MKTOWS_ENDPOINT": info["endpoint"], "MKTOWS_USER_ID": info["user_id"],
        "MKTOWS_ENCRYPTION_KEY": info["encryption_key"]})
    report, requests, wall = run.report, run.requests, run.wall_s
    started_at, ended_at = run.started_at, run.ended_at
    calls = sum(len(s["calls"]) for s in report["steps"])
    times = sorted(datetime.fromisoformat(r["time"]) for r in requests)
    sending = (times[-1] - times[0]).total_seconds()
    # Marketo's window slides: call k+100 may not start before call k + W. The first
    # window's calls need time to get through 10 in flight (a 300-record upsert takes
    # the server tens of ms), and every later window inherits that spread.
    first_span = (times[min(99, len(times) - 1)] - times[0]).total_seconds()
    # Every request counts against Marketo's rate, preflight's read included: the
    # minimum is that of the requests the sandbox saw, not of the playbook's calls.
    made = len(requests)
    sliding_minimum = max(1, (made - 1) // 100) * window_s + first_span
    minimum = max(1, (made - 1) // 100) * window_s  # the last window may start no sooner
    limit_faults = sum(1 for r in requests if r["fault_code"] in (20023, 20024))
    return {"rows": rows, "calls": calls, "requests": made, "window_s": window_s,
            "exit": run.exit,
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
