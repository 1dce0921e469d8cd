"""Shared by the benchmarks: a sandbox in its own process (so client and server each get a
core; its banner gives both APIs' endpoints and credentials), and sample data."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any


def attrs(n: int) -> dict[str, str]:
    names = ["FirstName", "LastName", "Company", "Title", "Phone", "City", "Country",
             "LeadSource", "Website", "Industry"]
    return {name: f"value-{i}" for i, name in enumerate(names[:n])}


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
