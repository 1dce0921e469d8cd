"""The one record of what a run was asked to do, from the command line to the executor, and
the form the journal keeps it in (so `resume` runs with the same choices). Stdlib only, plus
the two small value types it holds (Rate, RetryPolicy)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from runner.ratelimit import Rate
from runner.retry import RetryPolicy

DEFAULT_SANDBOX_DB = Path(".mktows") / "sandbox.db"


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
    selection: Selection = field(default_factory=Selection)
    sending: Sending = field(default_factory=Sending)
    reports: Reports = field(default_factory=Reports)
    allow_insecure_http: bool = False
    allow_over_quota: bool = False

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
            "report": _text(r.results), "junit": _text(r.junit), "markdown": _text(r.markdown),
            "allow_insecure_http": self.allow_insecure_http,
            "allow_over_quota": self.allow_over_quota,
            "timeouts": {"read_s": s.read_timeout_s, "call_s": s.call_timeout_s},
            "concurrency": s.concurrency, "rate": [s.rate.calls, s.rate.window_s],
            "retry": asdict(s.policy), "deadline_s": s.deadline_s,
            "continue_on_ambiguous": s.continue_on_ambiguous,
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
            continue_on_ambiguous=bool(data.get("continue_on_ambiguous")))
        return cls(
            playbook=Path(data["playbook"]), wsdl=data["wsdl"], cli_vars=data.get("cli_vars", {}),
            vars_files=tuple(Path(p) for p in data.get("vars_files", ())),
            secrets_file=Path(data["secrets_file"]) if data.get("secrets_file") else None,
            sandbox=bool(data.get("sandbox")), api=data.get("api"),
            sandbox_db=Path(data["sandbox_db"]),
            selection=Selection(frozenset(sel.get("only", ())), frozenset(sel.get("skip", ())),
                                frozenset(sel.get("tags", ())), sel.get("limit_items")),
            sending=sending,
            reports=Reports(Path(data.get("report") or "results.json"), _path(data.get("junit")),
                            _path(data.get("markdown"))),
            allow_insecure_http=bool(data.get("allow_insecure_http")),
            allow_over_quota=bool(data.get("allow_over_quota")))


def _text(path: Path | None) -> str | None:
    return str(path) if path is not None else None


def _path(text: str | None) -> Path | None:
    return Path(text) if text else None
