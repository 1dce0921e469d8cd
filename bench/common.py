"""Shared by the benchmarks: a sandbox in its own process (so client and server each get a
core; its banner gives both APIs' endpoints and credentials), and sample data."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

T = TypeVar("T")


def attrs(n: int) -> dict[str, str]:
    names = ["FirstName", "LastName", "Company", "Title", "Phone", "City", "Country",
             "LeadSource", "Website", "Industry"]
    return {name: f"value-{i}" for i, name in enumerate(names[:n])}


def spread(work: Callable[[T], object], items: Sequence[T], workers: int) -> float:
    """Seconds to run `work` over `items`: in order on this thread (1 worker), else on
    `workers` threads."""
    started = time.perf_counter()
    if workers == 1:
        for item in items:
            work(item)
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(work, items))
    return time.perf_counter() - started


# The per-call benchmarks' playbook: one syncLead per CSV row, with `ATTRS` attributes; HEAD
# is the target (or nothing: the sandbox's).
SYNC_PLAYBOOK = """\
version: 1
HEAD
steps:
  - id: sync
    loop: {file: leads.csv}
    syncLead:
      leadRecord:
        Email: ${item.Email}
        leadAttributeList:
ATTRS
      returnLead: false
"""


def time_runner(work: Path, name: str, head: str, prefix: str, calls: int, workers: int,
                options: dict[str, Any], env: dict[str, str],
                target_of: Callable[[Any], Any]) -> dict[str, float]:
    """mktows-run's own pipeline on SYNC_PLAYBOOK over `calls` rows (emails `prefix`N):
    prepare (the dry pass, every body checked) and execute (the live pass: build, check,
    sign, pace, post, read, journal), each timed. `options` are RunOptions' beyond the
    playbook; `target_of(plan)` is where to send."""
    from runner import journal
    from runner.executor import execute
    from runner.options import RunOptions, Sending
    from runner.prepare import Inputs, prepare
    from runner.ratelimit import Rate
    from runner.resources import wsdl_path
    from runner.transport import HttpTransport

    values = attrs(10)
    lines = "\n".join(f"          {k}: ${{item.{k}}}" for k in values)
    (work / name).write_text(SYNC_PLAYBOOK.replace("HEAD", head).replace("ATTRS", lines))
    rows = "".join(f"{prefix}{i}@example.com," + ",".join(values.values()) + "\n"
                   for i in range(calls))
    (work / "leads.csv").write_text("Email," + ",".join(values) + "\n" + rows)
    t0 = time.perf_counter()
    plan = prepare(RunOptions(playbook=work / name, wsdl=str(wsdl_path()), **options),
                   Inputs(env, env))
    t1 = time.perf_counter()
    j = journal.Journal(work / f"journal-{prefix}.jsonl", plan.redactor)
    result = execute(plan, target_of(plan), HttpTransport(),
                     Sending(concurrency=workers, rate=Rate(0, 0)), redactor=plan.redactor,
                     run_journal=j)
    t2 = time.perf_counter()
    j.close()
    assert result.ok, [c.fault_message for s in result.steps for c in s.calls if c.status != "ok"][:3]
    return {"prepare_s": t1 - t0, "execute_s": t2 - t1}


class Sandbox:
    """`mktows-run sandbox serve` as a child process on a free port."""

    def __init__(self, db: Path, *, lenient: bool, limits: bool,
                 rate_limit: str | None = None) -> None:
        self.args = [sys.executable, "-m", "runner", "sandbox", "serve", "--port", "0",
                     "--db", str(db)]
        self.args.append("--lenient" if lenient else "--strict")  # lenient is the default
        if not limits:
            self.args.append("--no-limits")
        if rate_limit:
            self.args += ["--rate-limit", rate_limit]
        self.info: dict[str, str] = {}

    def __enter__(self) -> Sandbox:
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        fields = {}
        for line in self.proc.stdout:  # the banner: SOAP's lines, then REST's
            m = re.match(r"\s+(endpoint|user id|encryption key|database|REST endpoint|"
                         r"identity|client id|client secret):\s+(\S+)", line)
            if m:
                fields[m.group(1)] = m.group(2)
            if re.match(r"\s+(token|REST clients):", line):
                break
        self.info = {"endpoint": fields["endpoint"], "user_id": fields["user id"],
                     "encryption_key": fields["encryption key"], "db": fields["database"],
                     "rest_endpoint": fields["REST endpoint"], "identity": fields["identity"],
                     "client_id": fields["client id"], "client_secret": fields["client secret"]}
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


@dataclass
class BulkRun:
    """One bulk job through the real command line against a rate-limited sandbox: its exit,
    wall time (and when it started/ended, on the sandbox log's clock), results.json and the
    sandbox's request log."""

    exit: int
    stderr: str
    wall_s: float
    started_at: float
    ended_at: float
    report: dict[str, Any]
    requests: list[dict[str, Any]]


def run_bulk(playbook: str, rows: int, window_s: float,
             env_of: Callable[[dict[str, str]], dict[str, str]]) -> BulkRun:
    """`playbook` (import-leads.yml, or its REST twin) over `rows` leads at 100 calls per
    `window_s`, 10 in flight; `env_of` points its target: at the sandbox."""
    import json
    import os
    import tempfile
    import time

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "bulk.yml").write_text(playbook)
        (work / "data").mkdir()
        (work / "data" / "leads.csv").write_text("Email,FirstName\n" + "".join(
            f"bulk{i}@example.com,F{i}\n" for i in range(rows)))
        rate = f"100/{window_s:g}s"
        with Sandbox(work / "box.db", lenient=True, limits=True, rate_limit=rate) as box:
            started, started_at = time.perf_counter(), time.time()
            res = subprocess.run([sys.executable, "-m", "runner", "bulk.yml", "--rate", rate,
                                  "--concurrency", "10", "-q"], cwd=work,
                                 env={**os.environ, **env_of(box.info)}, capture_output=True,
                                 text=True, timeout=60 * window_s + 300)
            wall = time.perf_counter() - started
            report = json.loads((work / "results.json").read_text())
            from runner import sandbox as sbx

            logged = sbx.open_store(Path(box.info["db"])).requests()
    return BulkRun(res.returncode, res.stderr, wall, started_at, started_at + wall, report,
                   logged)
