"""The one record of what a run was asked to do, from the command line to the executor, and
the form the journal keeps it in (so `resume` runs with the same choices). Stdlib only, plus
the two small value types it holds (Rate, RetryPolicy)."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from runner.ratelimit import Rate
from runner.resources import DEFAULT_SANDBOX_DB as DEFAULT_SANDBOX_DB
from runner.retry import RetryPolicy

_PERCENT = re.compile(r"(\d{1,3}(?:\.\d+)?)%")


@dataclass(frozen=True)
class MaxFailures:
    """How many failed calls (a step's) or items (a looped group's) a run goes past before it
    stops: a count (`10`) or a share of the planned ones (`5%`). Like Ansible's
    max_fail_percentage, the limit must be exceeded: `10` stops at the 11th failure, and `5%`
    of 3,000 items tolerates 150. The default, 0, stops at the first failure."""

    count: int | None = 0
    percent: float | None = None

    @classmethod
    def parse(cls, value: int | str) -> MaxFailures:
        """`10`, `"10"`, `"5%"` or `"2.5%"`; ValueError otherwise (the message says why)."""
        if isinstance(value, bool):
            raise ValueError(f"{value!r}: write a count (10) or a percentage (5%)")
        if isinstance(value, int):
            if value < 0:
                raise ValueError(f"{value}: a count of failures is 0 or more")
            return cls(count=value)
        text = str(value).strip()
        if text.isascii() and text.isdigit():
            return cls(count=int(text))
        match = _PERCENT.fullmatch(text)
        if match is None:
            raise ValueError(f"{value!r}: write a count (10) or a percentage (5%)")
        percent = float(match.group(1))
        if percent > 100:
            raise ValueError(f"{value!r}: a percentage is at most 100%")
        return cls(count=None, percent=percent)

    def allowed(self, total: int) -> int:
        """Failures tolerated out of `total` planned calls or items."""
        if self.percent is None:
            return self.count or 0
        return math.floor(total * self.percent / 100 + 1e-9)

    def __str__(self) -> str:
        if self.percent is None:
            return str(self.count or 0)
        return f"{self.percent:g}%"


@dataclass(frozen=True)
class Selection:
    """--only / --skip / --tags / --limit-items: which steps and items run."""

    only: frozenset[str] = frozenset()
    skip: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    limit_items: int | None = None

    def selects(self, step_id: str, step_tags: tuple[str, ...], inherited: frozenset[str]) -> bool:
        if step_id in self.skip or inherited & self.skip:
            return False
        if self.only and step_id not in self.only and not (inherited & self.only):
            return False
        return not self.tags or bool(self.tags & (set(step_tags) | inherited))


@dataclass(frozen=True)
class Sending:
    """How calls are sent: pacing, retries, limits in time, what to do when in doubt."""

    concurrency: int = 1
    rate: Rate = field(default_factory=Rate)
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    deadline_s: float | None = None  # the run starts no call or retry after this many seconds
    read_timeout_s: float = 60.0  # between two bytes of a reply
    call_timeout_s: float = 300.0  # a call's whole reply
    continue_on_ambiguous: bool = False
    accept_ambiguous: bool = False  # resume: resend calls whose outcome is unknown
    seed: int | None = None  # jitter; fixed in tests
    # --max-failures: failed items a loop (a looped step or group) may have before the run
    # stops, for the loops whose playbook sets no max_failures: of their own; None: 0.
    max_failures: MaxFailures | None = None


@dataclass(frozen=True)
class Reports:
    results: Path | None = Path("results.json")
    junit: Path | None = None
    markdown: Path | None = None


@dataclass(frozen=True)
class RunOptions:
    playbook: Path
    wsdl: str
    cli_vars: dict[str, str] = field(default_factory=dict)
    vars_files: tuple[Path, ...] = ()
    secrets_file: Path | None = None
    sandbox: bool = False  # the CLI starts the sandbox and hands it over as the target
    api: str | None = None  # soap | rest; None: the playbook target's (soap without one)
    sandbox_db: Path = DEFAULT_SANDBOX_DB
    sandbox_fixture: Path | None = None  # the sandbox's fixture (None: the packaged one)
    selection: Selection = field(default_factory=Selection)
    sending: Sending = field(default_factory=Sending)
    reports: Reports = field(default_factory=Reports)
    allow_insecure_http: bool = False
    allow_over_quota: bool = False
    preflight: bool = True  # read-only checks of what the writes depend on, before the first
    sends: bool = True  # False: validate/plan (a missing secret is an opaque placeholder)
    daily_quota: int = 10_000  # the instance's API calls a day (REST: 10,000 at least)

    @property
    def needs_target(self) -> bool:
        """Whether the playbook's own target: (and its credentials) must resolve."""
        return not self.sandbox

    def to_json(self) -> dict[str, Any]:
        """As the journal keeps it: paths and choices, never secret values."""
        s, sel, r = self.sending, self.selection, self.reports
        return {
            "playbook": str(self.playbook.resolve()), "wsdl": self.wsdl,
            "cli_vars": self.cli_vars, "vars_files": [str(p.resolve()) for p in self.vars_files],
            "secrets_file": str(self.secrets_file.resolve()) if self.secrets_file else None,
            "sandbox": self.sandbox, "api": self.api,
            "sandbox_db": str(self.sandbox_db.resolve()),
            "sandbox_fixture": (str(self.sandbox_fixture.resolve())
                                if self.sandbox_fixture else None),
            "report": _text(r.results), "junit": _text(r.junit), "markdown": _text(r.markdown),
            "allow_insecure_http": self.allow_insecure_http,
            "allow_over_quota": self.allow_over_quota, "preflight": self.preflight,
            "daily_quota": self.daily_quota,
            "timeouts": {"read_s": s.read_timeout_s, "call_s": s.call_timeout_s},
            "concurrency": s.concurrency, "rate": [s.rate.calls, s.rate.window_s],
            "retry": asdict(s.policy), "deadline_s": s.deadline_s,
            "continue_on_ambiguous": s.continue_on_ambiguous,
            "max_failures": None if s.max_failures is None else str(s.max_failures),
            "selection": {"only": sorted(sel.only), "skip": sorted(sel.skip),
                          "tags": sorted(sel.tags), "limit_items": sel.limit_items},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunOptions:
        sel = data.get("selection") or {}
        timeouts = data.get("timeouts") or {}
        sending = Sending(
            concurrency=int(data.get("concurrency", 1)), rate=Rate(*data.get("rate", (100, 20.0))),
            policy=RetryPolicy(**(data.get("retry") or {})), deadline_s=data.get("deadline_s"),
            read_timeout_s=float(timeouts.get("read_s", 60.0)),
            call_timeout_s=float(timeouts.get("call_s", 300.0)),
            continue_on_ambiguous=bool(data.get("continue_on_ambiguous")),
            max_failures=(MaxFailures.parse(data["max_failures"])
                          if data.get("max_failures") is not None else None))
        return cls(
            playbook=Path(data["playbook"]), wsdl=data["wsdl"], cli_vars=data.get("cli_vars", {}),
            vars_files=tuple(Path(p) for p in data.get("vars_files", ())),
            secrets_file=Path(data["secrets_file"]) if data.get("secrets_file") else None,
            sandbox=bool(data.get("sandbox")), api=data.get("api"),
            sandbox_db=Path(data["sandbox_db"]),
            sandbox_fixture=_path(data.get("sandbox_fixture")),
            selection=Selection(frozenset(sel.get("only", ())), frozenset(sel.get("skip", ())),
                                frozenset(sel.get("tags", ())), sel.get("limit_items")),
            sending=sending,
            reports=Reports(Path(data.get("report") or "results.json"), _path(data.get("junit")),
                            _path(data.get("markdown"))),
            allow_insecure_http=bool(data.get("allow_insecure_http")),
            allow_over_quota=bool(data.get("allow_over_quota")),
            preflight=bool(data.get("preflight", True)),
            daily_quota=int(data.get("daily_quota", 10_000)))


def _text(path: Path | None) -> str | None:
    return str(path) if path is not None else None


def _path(text: str | None) -> Path | None:
    return Path(text) if text else None
