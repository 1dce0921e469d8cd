"""The sandbox's own share of the bulk benchmark's first window (bench/bulk.py): 100
syncMultipleLeads calls of 300 records each, posted at 10 in flight to a lenient,
rate-limited sandbox in its own process, with every envelope built and signed before the
clock starts, so the span is the server's per-call cost (plus requests' floor), not the
runner's.

    python -m bench.sandbox_window [--calls 100] [--records 300] [--workers 10] [--strict]

Prints the client's span (first post to last reply), the span the sandbox's request log
shows (times[last] - times[0], as bench/bulk.py measures its first window), calls/s, and
the sandbox process's CPU time per call (Linux), which other load on the machine disturbs
least.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from bench.common import Sandbox

HEADERS = {"Content-Type": "text/xml; charset=UTF-8",
           "SOAPAction": '"http://www.marketo.com/mktows/syncMultipleLeads"'}


def envelope(info: dict[str, str], call: int, records: int) -> bytes:
    """One signed syncMultipleLeads envelope: `records` new leads (Email + FirstName, as the
    bulk benchmark's CSV), dedup on."""
    from runner.soap import auth
    from runner.soap import envelope as env

    stamp = auth.w3c_timestamp(datetime.now(UTC))
    sig = auth.sign(stamp, info["user_id"], info["encryption_key"])
    leads = "".join(
        f"<leadRecord><Email>win{call}-{i}@example.com</Email><leadAttributeList><attribute>"
        f"<attrName>FirstName</attrName><attrValue>F{call}-{i}</attrValue></attribute>"
        "</leadAttributeList></leadRecord>" for i in range(records))
    body = ('<ns1:paramsSyncMultipleLeads xmlns:ns1="http://www.marketo.com/mktows/">'
            f"<leadRecordList>{leads}</leadRecordList><dedupEnabled>true</dedupEnabled>"
            "</ns1:paramsSyncMultipleLeads>")
    return env.envelope(env.auth_header(info["user_id"], sig, stamp), body).encode()


def measure(calls: int = 100, records: int = 300, workers: int = 10, *,
            strict: bool = False) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, Sandbox(
            Path(tmp) / "box.db", lenient=not strict, limits=True,
            rate_limit=f"{max(calls, 100)}/20s") as box:
        info = box.info
        bodies = [envelope(info, c, records) for c in range(calls)]
        session = requests.Session()
        # One pooled connection per worker, as the runner keeps them (keep-alive).
        adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=workers)
        session.mount("http://", adapter)

        def post(body: bytes) -> None:
            r = session.post(info["endpoint"], data=body, headers=HEADERS, timeout=60)
            assert r.status_code == 200, r.text[:300]

        cpu_before = _cpu_seconds(box.proc.pid)
        started = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(post, bodies))
        wall = time.perf_counter() - started
        cpu_after = _cpu_seconds(box.proc.pid)
        from runner import sandbox as sbx

        with sbx.open_store(Path(info["db"])) as store:
            logged = store.requests()
    times = sorted(datetime.fromisoformat(r["time"]) for r in logged)
    span = (times[-1] - times[0]).total_seconds()
    return {"calls": calls, "records": records, "workers": workers,
            "mode": "strict" if strict else "lenient",
            "client_span_s": round(wall, 3), "log_span_s": round(span, 3),
            "calls_per_s": round(calls / wall, 1),
            # The sandbox process's CPU per call: steadier than the spans on a shared machine.
            "server_cpu_ms_per_call": (round((cpu_after - cpu_before) / calls * 1000, 2)
                                       if cpu_before is not None and cpu_after is not None
                                       else None),
            "faults": sum(1 for r in logged if r["fault_code"] is not None)}


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux's /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--records", type=int, default=300)
    parser.add_argument("--workers", type=int, default=10)
    parser.add_argument("--strict", action="store_true")
    args = parser.parse_args()
    print(measure(args.calls, args.records, args.workers, strict=args.strict))


if __name__ == "__main__":
    main()
