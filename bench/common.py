"""Shared by the benchmarks: a sandbox in its own process (so client and server each get a
core; its banner gives both APIs' endpoints and credentials), and sample data."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from types import TracebackType


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
