"""REST benchmarks (issue 15), against a sandbox in its own process:

- per-call overhead: mktows-run's REST path (a syncLead per CSV row: Sync Leads, one record a
  call) against a raw `requests.Session` posting the same prepared JSON bodies with a Bearer
  token to the same endpoint, sequential and 10 in flight (limits off; target >= 0.8);
- the bulk job at the REST rate cap: the example import-leads.yml with only its target
  changed to REST (30,000 leads: 100 Sync Leads of 300 records, 300 lead-id lookups, 300
  triggers, the campaign lookup and Describe), against a sandbox enforcing 100 calls per
  window and 10 in flight (REST shares SOAP's window settings; the window compressed as in
  bench/bulk.py). Reports wall time / the minimum the cap allows for the REST requests the
  sandbox logged (target <= 1.05), and the 606/615 errors it answered (target 0).
"""

from __future__ import annotations

import json
import re
import statistics
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from bench.common import Sandbox, attrs, run_bulk, spread, time_runner

ATTRS = attrs(10)
REST_NAMES = {"FirstName": "firstName", "LastName": "lastName", "Company": "company",
              "Title": "title", "Phone": "phone", "City": "city", "Country": "country",
              "LeadSource": "leadSource", "Website": "website", "Industry": "industry"}
SYNC_LEADS = "/v1/leads.json"
LIMIT_CODES = (606, 615)
EXAMPLE = Path(__file__).resolve().parent.parent / "playbooks" / "import-leads.yml"
REST_TARGET = """\
target:
  api: rest
  restEndpoint: ${env.MARKETO_REST_ENDPOINT}
  identityEndpoint: ${env.MARKETO_IDENTITY}
  clientId: ${env.MARKETO_CLIENT_ID}
  clientSecret: ${secret.MARKETO_CLIENT_SECRET}

"""


def token(info: dict[str, str]) -> str:
    r = requests.get(info["identity"] + "/oauth/token", timeout=30, params={
        "grant_type": "client_credentials", "client_id": info["client_id"],
        "client_secret": info["client_secret"]})
    r.raise_for_status()
    return str(r.json()["access_token"])


def body(i: int, prefix: str) -> bytes:
    """The Sync Leads body mktows-run sends for one syncLead of the benchmark's row."""
    record = {REST_NAMES[k]: v for k, v in ATTRS.items()}
    record["email"] = f"{prefix}{i}@example.com"
    return json.dumps({"action": "createOrUpdate", "lookupField": "email", "input": [record]},
                      ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def raw_floor(info: dict[str, str], calls: int, workers: int) -> float:
    """requests.Session posting prepared JSON bodies with a token fetched beforehand; each
    reply checked for Marketo's `"success":true` (no JSON parse)."""
    bodies = [body(i, f"rawrest{workers}-") for i in range(calls)]
    url = info["rest_endpoint"] + SYNC_LEADS
    headers = {"Authorization": f"Bearer {token(info)}", "Accept": "application/json",
               "Content-Type": "application/json"}
    session = requests.Session()

    def post(data: bytes) -> None:
        r = session.post(url, data=data, headers=headers, timeout=30)
        assert r.status_code == 200 and b'"success":true' in r.content, r.text[:300]

    return spread(post, bodies, workers)


def runner(info: dict[str, str], calls: int, workers: int, work: Path) -> dict[str, float]:
    """mktows-run's REST pipeline (bench.common.time_runner; the live pass adds the token,
    Describe once, field names and the body check)."""
    from runner.rest.api import RestTarget
    from runner.secrets import Secret

    target = RestTarget(info["rest_endpoint"], info["identity"], info["client_id"],
                        Secret(info["client_secret"]))
    return time_runner(work, "rest.yml", "", f"mkrrest{workers}-", calls, workers,
                       {"sandbox": True, "api": "rest"}, {}, lambda _plan: target)


def measure(calls: int, repeats: int) -> dict[str, Any]:
    out: dict[str, Any] = {"calls": calls}
    with tempfile.TemporaryDirectory() as tmp, Sandbox(Path(tmp) / "box.db", lenient=True,
                                                      limits=False) as box:
        info = box.info
        for workers in (1, 10):
            samples: dict[str, list[float]] = {"raw": [], "runner": [], "runner_prepare": []}
            for _ in range(repeats):  # interleaved: noise hits both alike
                samples["raw"].append(raw_floor(info, calls, workers))
                r = runner(info, calls, workers, Path(tmp))
                samples["runner"].append(r["execute_s"])
                samples["runner_prepare"].append(r["prepare_s"])
            med = {k: statistics.median(v) for k, v in samples.items()}
            out[f"concurrency_{workers}"] = {
                "raw_calls_per_s": round(calls / med["raw"], 1),
                "runner_calls_per_s": round(calls / med["runner"], 1),
                "runner_prepare_s": round(med["runner_prepare"], 3),
                "runner_vs_raw": round(med["raw"] / med["runner"], 3),
            }
    return out


def rest_playbook() -> str:
    """import-leads.yml with its target: block made a REST one; the steps untouched."""
    text = EXAMPLE.read_text()
    changed, n = re.subn(r"(?ms)^target:\n.*?\n\n", REST_TARGET, text, count=1)
    assert n == 1, "import-leads.yml has no target: block followed by a blank line"
    return changed


def bulk(rows: int = 30_000, window_s: float = 20.0) -> dict[str, Any]:
    run = run_bulk(rest_playbook(), rows, window_s, lambda info: {
        "MARKETO_REST_ENDPOINT": info["rest_endpoint"], "MARKETO_IDENTITY": info["identity"],
        "MARKETO_CLIENT_ID": info["client_id"], "MARKETO_CLIENT_SECRET": info["client_secret"]})
    logged, report, wall = run.requests, run.report, run.wall_s
    started_at, ended_at = run.started_at, run.ended_at
    api = [r for r in logged if r["api"] == "rest" and r["operation"] != "identity.token"]
    by_operation: dict[str, int] = {}
    for r in api:
        by_operation[str(r["operation"])] = by_operation.get(str(r["operation"]), 0) + 1
    calls = len(api)  # every REST API request counts against the window (token requests not)
    times = sorted(datetime.fromisoformat(r["time"]) for r in api)
    sending = (times[-1] - times[0]).total_seconds()
    syncs = sorted(datetime.fromisoformat(r["time"]) for r in api
                   if r["operation"] == "rest.syncLeads")
    sync_span = (syncs[-1] - syncs[0]).total_seconds() if syncs else 0.0
    # The last window's calls may start no sooner (at least one window: a small job).
    minimum = max(1, (calls - 1) // 100) * window_s
    return {"rows": rows, "operation_calls": sum(len(s["calls"]) for s in report["steps"]),
            "rest_requests": calls, "by_operation": by_operation, "window_s": window_s,
            "exit": run.exit, "wall_s": round(wall, 2), "minimum_s": minimum,
            "wall_over_minimum": round(wall / minimum, 3),
            "limit_errors": sum(1 for r in api if r["fault_code"] in LIMIT_CODES),
            "first_to_last_request_s": round(sending, 2),
            "sending_over_minimum": round(sending / minimum, 3),
            "before_first_request_s": round(times[0].timestamp() - started_at, 2),
            "after_last_request_s": round(ended_at - times[-1].timestamp(), 2),
            "sync_leads_span_s": round(sync_span, 2),
            "stderr_tail": run.stderr[-500:] if run.exit else ""}


if __name__ == "__main__":
    print(measure(300, 1))
    print(bulk(6_000, 1.0))
