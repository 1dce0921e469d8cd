"""Orchestration: `prepare` checks everything and builds every envelope without the network;
`execute` walks the same steps again and sends. Carries values between the stages; owns no
format or library.
"""

from __future__ import annotations

import difflib
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from runner import journal, playbook, variables
from runner.errors import PlaybookError
from runner.executor import ExecOptions, Executor, Observer
from runner.model import DataFile, HttpReply, Literal, Location, Problem, RunResult
from runner.playbook import Playbook
from runner.playbook.source import describe_char, json_path
from runner.secrets import Redactor, Secret, credential_problem
from runner.soap import envelope, xsd
from runner.variables import Scope
from runner.walk import Call, Selection, Walker, data_files


class Transport(Protocol):
    def post(self, url: str, operation: str, envelope: str) -> HttpReply: ...


@dataclass(frozen=True)
class Target:
    endpoint: str
    user_id: str
    encryption_key: Secret
    partner_id: str | None = None


@dataclass(frozen=True)
class RunOptions:
    playbook: Path
    wsdl: str
    env: Mapping[str, str]
    secrets: Mapping[str, str]
    cli_vars: Mapping[str, str] = field(default_factory=dict)
    file_vars: tuple[dict[str, Any], ...] = ()  # --vars-file contents, in order given
    target: Target | None = None  # replaces the playbook's target (e.g. --sandbox)
    need_target: bool = True  # False for validate/plan: no credentials needed


@dataclass(frozen=True)
class CallInfo:
    """What `plan` shows of one call."""

    step: str
    key: str
    label: str
    operation: str
    summary: str
    records: int
    pending: tuple[str, ...]
    condition: str | None


@dataclass
class StepPlan:
    """One step's share of a plan, counted over every call however many there are; only the
    first and last few calls are kept, so a plan's memory does not grow with its rows."""

    id: str
    name: str | None
    operation: str
    calls: int = 0
    records: int = 0
    first: list[CallInfo] = field(default_factory=list)
    last: deque[CallInfo] = field(default_factory=lambda: deque(maxlen=KEEP_LAST))
    notes: set[str] = field(default_factory=set)

    def add(self, info: CallInfo, note: str) -> None:
        self.calls += 1
        self.records += info.records
        if note:
            self.notes.add(note)
        if len(self.first) < KEEP_FIRST:
            self.first.append(info)
        else:
            self.last.append(info)

    @property
    def listed(self) -> list[CallInfo]:
        return [*self.first, *self.last]

    @property
    def hidden(self) -> int:
        """Calls between the first and the last ones listed."""
        return self.calls - len(self.first) - len(self.last)


KEEP_FIRST = 20
KEEP_LAST = 3


@dataclass
class Plan:
    playbook: Playbook
    schema: xsd.ServiceSchema
    target: Target | None
    vars: dict[str, Any]
    env: Mapping[str, str]
    secrets: Mapping[str, str]
    redactor: Redactor
    counts: dict[str, int]
    steps: dict[str, StepPlan]  # every step with an operation, in playbook order
    total_calls: int

    def fresh_scope(self) -> Scope:
        return _scope(self.playbook, self.vars, self.env, self.secrets)


OnCall = Callable[[Call], None]


def _coerce(name: str, raw: str, declared: Any) -> Any:
    """--var values are text; give them the type the playbook declared for that variable."""
    if isinstance(declared, bool):
        if raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        raise ValueError(f"--var {name}={raw}: {name} is a boolean; write true or false")
    for kind, noun in ((int, "an integer"), (float, "a number")):
        if isinstance(declared, kind):
            try:
                return kind(raw)
            except ValueError:
                raise ValueError(f"--var {name}={raw}: {name} is {noun}") from None
    return Literal(raw)  # a command-line value is taken as typed: no ${...} inside it


class _Problems:
    """Collects problems once each (a loop would report a template's mistake per item)."""

    def __init__(self, pb: Playbook) -> None:
        self.pb = pb
        self.items: list[Problem] = []
        self._seen: set[tuple[Location, str, str]] = set()

    def __call__(self, where: tuple[str | int, ...] | Location, message: str,
                 hint: str | None) -> None:
        message = message.strip().splitlines()[0] if message.strip() else message
        if isinstance(where, Location):
            problem = Problem(where, "", message, hint)
        else:
            problem = Problem(self.pb.doc.locate(where), json_path(where), message, hint)
        key = (problem.location, problem.path, problem.message)
        if key not in self._seen:
            self._seen.add(key)
            self.items.append(problem)


def _secret_names(pb: Playbook) -> set[str]:
    names = set()
    for _, text in variables.walk_strings(pb.doc.data):
        try:
            parts = variables.parse(text)
        except variables.VariableSyntaxError:
            continue
        names |= {str(p.path[0]) for p in parts if isinstance(p, variables.Ref)
                  and p.namespace == "secret" and p.path}
    return names


def _vars(pb: Playbook, options: RunOptions, report: _Problems) -> dict[str, Any]:
    """Precedence: --var > --vars-file (later wins) > the playbook's vars."""
    merged = dict(pb.vars)
    for extra in options.file_vars:
        merged.update(extra)
    secrets = _secret_names(pb)
    cli = Location("<command line>", 1, 1)
    for name, raw in options.cli_vars.items():
        if name in secrets or name.startswith("secret."):
            report(cli, f"--var {name}: secrets cannot be set on the command line",
                   f"export {name.removeprefix('secret.')}=... or use --secrets-file")
            continue
        if name not in merged:  # a typo would otherwise be silently ignored
            close = difflib.get_close_matches(name, [str(k) for k in merged], n=1)
            report(cli, f"--var {name}: the playbook declares no variable {name!r}",
                   f"did you mean {close[0]!r}?" if close else
                   "declare it under vars: (or in a --vars-file) first")
            continue
        try:
            merged[name] = _coerce(name, raw, merged.get(name))
        except ValueError as exc:
            report(cli, str(exc), None)
    return merged


def _target(options: RunOptions, pb: Playbook, scope: Scope, report: _Problems) -> Target | None:
    if options.target is not None or not options.need_target:
        return options.target
    if pb.target is None:
        report((), "the playbook has no target",
               "add target: (endpoint, userId, encryptionKey) or run with --sandbox")
        return None
    resolved, errors = variables.resolve_checked(pb.target, scope.lookup)
    for sub, message, hint in errors:
        report(("target", *sub), message, hint)
    if errors or not all(k in resolved for k in ("endpoint", "userId", "encryptionKey")):
        return None
    # A key this short is guessable and could not be masked reliably: refuse it, naming
    # where it came from, never its value.
    short = credential_problem("the encryption key", str(resolved["encryptionKey"]),
                               pb.target.get("encryptionKey"))
    if short:
        report(("target", "encryptionKey"), short,
               "set it to the encryption key shown in Marketo's Admin > Web Services")
        return None
    for name in ("userId", "partnerId"):  # header values: checked like the body's
        char = envelope.unsendable(str(resolved.get(name) or ""))
        if char is not None:
            report(("target", name), f"{describe_char(char)} cannot be sent in XML", None)
            return None
    return Target(str(resolved["endpoint"]), str(resolved["userId"]),
                  Secret(str(resolved["encryptionKey"])), resolved.get("partnerId"))


def _check_selection(pb: Playbook, selection: Selection, report: _Problems) -> None:
    """--only/--skip/--tags naming nothing would run nothing (or everything) in silence."""
    steps = pb.all_steps()
    ids = [s.id for s in steps]
    tags = sorted({t for s in steps for t in s.tags})
    cli = Location("<command line>", 1, 1)
    for flag, names, known, noun in (("--only", selection.only, ids, "step"),
                                     ("--skip", selection.skip, ids, "step"),
                                     ("--tags", selection.tags, tags, "tag")):
        for name in sorted(names - set(known)):
            close = difflib.get_close_matches(name, known, n=1)
            report(cli, f"{flag} {name}: the playbook has no {noun} {name!r}",
                   f"did you mean {close[0]!r}?" if close else
                   f"its {noun}s: {', '.join(known) or '(none)'}")


def _summary(call: Call) -> str:
    p = call.params
    op = call.step.operation
    if op == "syncLead":
        record = p.get("leadRecord") or {}
        keys = [f"{k}={record[k]}" for k in ("Id", "Email", "ForeignSysPersonId") if k in record]
        return " ".join(keys)
    if op in ("requestCampaign", "scheduleCampaign"):
        name = (f"campaignId={p['campaignId']}" if "campaignId" in p else
                f"{p.get('programName')} / {p.get('campaignName')}")
        extra = f" clone→{p['cloneToProgramName']}" if p.get("cloneToProgramName") else ""
        extra += f" at {p['campaignRunAt']}" if p.get("campaignRunAt") else ""
        return name + extra
    if op == "getLead":
        key = p.get("leadKey") or {}
        return f"{key.get('keyType')}={key.get('keyValue')}"
    if op == "getCampaignsForSource":
        return f"source={p.get('source', 'MKTOWS')}" + (f" name={p['name']}" if "name" in p else "")
    return ""


def prepare(options: RunOptions, on_call: OnCall | None = None,
            selection: Selection | None = None) -> Plan:
    """Everything up to XSD-checked envelopes; raises PlaybookError with every problem."""
    pb, problems = playbook.load(options.playbook)
    if pb is None:
        raise PlaybookError(problems)
    report = _Problems(pb)
    report.items += problems
    try:
        schema = xsd.load(options.wsdl)
    except Exception as exc:
        report(Location(options.wsdl, 1, 1), f"cannot load the WSDL: {exc}", None)
        raise PlaybookError(report.items) from None
    all_vars = _vars(pb, options, report)
    scope = _scope(pb, all_vars, options.env, options.secrets)
    target = _target(options, pb, scope, report)
    selection = selection or Selection()
    _check_selection(pb, selection, report)
    walker = Walker(pb, schema, report, live=False, selection=selection,
                    broken=frozenset(p.path for p in problems if p.path.startswith("steps[")))
    steps = {s.id: StepPlan(s.id, s.name, s.operation) for s in pb.all_steps()
             if s.operation is not None}
    total = 0
    for event in walker.walk(pb.steps, scope):
        if not isinstance(event, Call):
            continue
        total += 1
        if on_call is not None:
            on_call(event)
        assert event.step.operation is not None
        info = CallInfo(event.step.id, event.key, event.label, event.step.operation,
                        _summary(event), event.records, event.pending, event.condition)
        steps[event.step.id].add(info, call_note(info))
    redactor = Redactor(scope.secret_values)
    if target is not None:
        redactor.add(target.encryption_key)
        redactor.add_url(target.endpoint)
    if report.items:  # a message may quote a resolved secret: masked here, for every output
        raise PlaybookError(sorted((redactor.problem(p) for p in report.items),
                                   key=lambda p: p.location))
    return Plan(pb, schema, target, all_vars, options.env, options.secrets, redactor,
                walker.counts, steps, total)


def call_note(call: CallInfo) -> str:
    """What a reader must know about a call's values: run-time values and conditions."""
    notes = []
    if call.pending:
        notes.append("values known after step " + ", ".join(call.pending))
    if call.condition:
        notes.append(f"runs if its condition holds ({call.condition})")
    return "; ".join(notes)


def _scope(pb: Playbook, all_vars: dict[str, Any], env: Mapping[str, str],
           secrets: Mapping[str, str]) -> Scope:
    """A scope before the first step: nothing has run yet."""
    return Scope(all_vars, env, secrets, {}, {}, tuple(s.id for s in pb.all_steps()))


def _repository(start: Path) -> Path:
    """The git work tree holding `start`, or `start` itself outside one."""
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return start


def data_sources(pb: Playbook) -> list[DataFile]:
    """Every data file with its real path; one outside the playbook's repository is flagged,
    so a reviewer sees `../../etc/passwd` or a symlink out of the tree."""
    home = _repository(pb.path.parent.resolve())
    out = []
    for name, path in data_files(pb).items():
        real = path.resolve()
        out.append(DataFile(name, str(real), not real.is_relative_to(home)))
    return out


def input_hashes(plan: Plan) -> dict[str, Any]:
    """What a resumed run must find unchanged: playbook, variables, data files, WSDL."""
    return {
        "playbook": journal.sha256_file(plan.playbook.path),
        "vars": journal.sha256_json(plan.vars),
        "wsdl": plan.schema.sha256,
        "data": {name: journal.sha256_file(p) for name, p in data_files(plan.playbook).items()
                 if p.is_file()},
    }


def changed_inputs(recorded: dict[str, Any], now: dict[str, Any]) -> list[str]:
    out = [name for name in ("playbook", "vars", "wsdl") if recorded.get(name) != now.get(name)]
    old, new = recorded.get("data") or {}, now.get("data") or {}
    out += [f"data file {f}" for f in sorted(set(old) | set(new)) if old.get(f) != new.get(f)]
    return out


def execute(plan: Plan, transport: Transport, options: ExecOptions | None = None, *,
            run_journal: journal.Journal | None = None, past: journal.PastRun | None = None,
            run_id: str = "", observe: Observer | None = None,
            stop: threading.Event | None = None,
            clock: Callable[[], datetime] | None = None) -> RunResult:
    """Send the plan's calls; see runner.executor for pacing, retries and ambiguity."""
    assert plan.target is not None, "execute needs a target"
    now = datetime.now().astimezone()
    result = RunResult(plan.playbook.file, now.isoformat(timespec="seconds"),
                       endpoint=plan.target.endpoint, name=plan.playbook.name, run_id=run_id,
                       data_files=data_sources(plan.playbook))
    Executor(plan, transport, options or ExecOptions(), journal=run_journal, past=past,
             observe=observe, stop=stop, clock=clock).run(result)
    result.finished_at = datetime.now().astimezone().isoformat(timespec="seconds")
    return result
