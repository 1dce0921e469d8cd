"""Preparing a run: read the inputs, load the playbook, resolve variables and the target,
generate every call and check its envelope — everything up to the first request, without
the network. The result is a frozen Plan; every problem found is raised at once
(PlaybookError). Owns no format or library.
"""

from __future__ import annotations

import difflib
import os
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner import playbook, variables
from runner.calls import (
    Broken,
    Call,
    CallGenerator,
    Skip,
    data_files,
    sample_params,
    var_problems,
)
from runner.errors import PlaybookError, WsdlError
from runner.model import DataFile, Literal, Location, Problem
from runner.operations.spec import Reference, RestSettings
from runner.options import RunOptions, Selection
from runner.playbook import Playbook
from runner.playbook.source import describe_char, json_path
from runner.rest.api import RestTarget
from runner.secrets import Redactor, Secret, credential_problem
from runner.soap import envelope, xsd
from runner.target import AnyTarget, Target, endpoints, secret
from runner.variables import Scope


@dataclass(frozen=True)
class Inputs:
    """What a run reads besides the playbook: the environment, secrets (the environment and
    --secrets-file), and --vars-file contents in the order given."""

    env: Mapping[str, str]
    secrets: Mapping[str, str]
    file_vars: tuple[dict[str, Any], ...] = ()


def read_inputs(options: RunOptions) -> Inputs:
    from runner.cli_inputs import read_mapping

    env = dict(os.environ)
    secrets = dict(env)
    if options.secrets_file is not None:
        secrets.update({k: str(v) for k, v in
                        read_mapping(options.secrets_file, "secrets").items()})
    return Inputs(env, secrets, tuple(read_mapping(f, "vars") for f in options.vars_files))


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
    skipped: list[str] = field(default_factory=list)  # why, each time it was left out

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
class RestCost:
    """Over REST: the calls a run makes (an operation may take several), the run's cached
    lookups (one call each), every lead field it writes, with where it is written, and what
    each step's operation says of its REST calls (RestEncoding.notes: e.g. a bulk import)."""

    calls: int = 0
    once: set[str] = field(default_factory=set)
    fields: dict[str, Location] = field(default_factory=dict)
    notes: dict[str, set[str]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.calls + len(self.once)


@dataclass(frozen=True)
class Plan:
    playbook: Playbook
    schema: xsd.ServiceSchema
    target: AnyTarget | None
    vars: dict[str, Any]
    env: Mapping[str, str]
    secrets: Mapping[str, str]
    redactor: Redactor
    counts: dict[str, int]
    steps: dict[str, StepPlan]  # every step with an operation, in playbook order
    total_calls: int
    selection: Selection
    data_files: tuple[DataFile, ...]  # every data file read, with its real path
    api: str = "soap"
    rest: RestCost | None = None  # api rest: what the run costs and writes over REST
    # what the writes depend on in Marketo (campaigns, workspaces), for preflight; each once
    references: tuple[tuple[Reference, Location], ...] = ()
    late_references: int = 0  # calls whose references are known only at run time
    daily_quota: int = 10_000  # the instance's calls a day, which quota_calls must fit

    @property
    def quota_calls(self) -> int:
        """Calls counted against the daily quota: over REST, lookups and Describe included."""
        return self.rest.total if self.rest is not None else self.total_calls

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
    for _, text in variables.iter_strings(pb.doc.data):
        try:
            parts = variables.parse(text)
        except variables.VariableSyntaxError:
            continue
        names |= {str(p.path[0]) for p in parts if isinstance(p, variables.Ref)
                  and p.namespace == "secret" and p.path}
    return names


def _vars(pb: Playbook, options: RunOptions, inputs: Inputs,
          report: _Problems) -> dict[str, Any]:
    """Precedence: --var > --vars-file (later wins) > the playbook's vars."""
    merged = dict(pb.vars)
    for extra in inputs.file_vars:
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


def _target(pb: Playbook, scope: Scope, api: str, report: _Problems) -> AnyTarget | None:
    """The playbook's own target:, resolved (credentials from ${env.}/${secret.} only)."""
    if pb.target is None:
        report((), "the playbook has no target",
               "add target: (endpoint, userId, encryptionKey; or api: rest, munchkinId, "
               "clientId, clientSecret) or run with --sandbox")
        return None
    resolved, errors = variables.resolve_checked(pb.target, scope.lookup)
    for sub, message, hint in errors:
        report(("target", *sub), message, hint)
    if errors:
        return None
    if api == "rest":
        return _rest_target(pb, resolved, report)
    if not all(k in resolved for k in ("endpoint", "userId", "encryptionKey")):
        return None
    if _short_credential(pb, resolved, "encryptionKey", "the encryption key",
                         "Marketo's Admin > Web Services", report):
        return None
    for name in ("userId", "partnerId"):  # header values: checked like the body's
        char = envelope.unsendable(str(resolved.get(name) or ""))
        if char is not None:
            report(("target", name), f"{describe_char(char)} cannot be sent in XML", None)
            return None
    return Target(str(resolved["endpoint"]), str(resolved["userId"]),
                  Secret(str(resolved["encryptionKey"])), resolved.get("partnerId"))


def _short_credential(pb: Playbook, resolved: dict[str, Any], field: str, what: str,
                      where_shown: str, report: _Problems) -> bool:
    """A credential this short is guessable and could not be masked reliably: refused,
    naming where it came from, never its value."""
    assert pb.target is not None
    short = credential_problem(what, str(resolved[field]), pb.target.get(field))
    if short:
        report(("target", field), short, f"set it to {what} shown in {where_shown}")
    return short is not None


def _rest_target(pb: Playbook, resolved: dict[str, Any], report: _Problems) -> RestTarget | None:
    assert pb.target is not None
    if not all(k in resolved for k in ("clientId", "clientSecret")):
        return None
    if _short_credential(pb, resolved, "clientSecret", "the client secret",
                         "Marketo's Admin > LaunchPoint", report):
        return None
    partitions = resolved.get("partitions")
    options: dict[str, Any] = {
        "partitions": {str(k): str(v) for k, v in partitions.items()}
        if isinstance(partitions, dict) else None,
        "foreign_id_field": resolved.get("foreignIdField"),
        "partner_id": resolved.get("partnerId")}
    client_id, secret_value = str(resolved["clientId"]), Secret(str(resolved["clientSecret"]))
    if "munchkinId" in resolved:
        return RestTarget.for_munchkin(str(resolved["munchkinId"]), client_id, secret_value,
                                       **options)
    return RestTarget(str(resolved["restEndpoint"]), str(resolved["identityEndpoint"]),
                      client_id, secret_value, **options)


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


def prepare(options: RunOptions, inputs: Inputs | None = None,
            on_call: OnCall | None = None) -> Plan:
    """Everything up to XSD-checked envelopes; raises PlaybookError with every problem.
    `on_call` sees each call as it is generated (plan --envelopes)."""
    inputs = inputs or read_inputs(options)
    pb, problems = playbook.load(options.playbook)
    if pb is None:
        raise PlaybookError(problems)
    report = _Problems(pb)
    report.items += problems
    try:
        schema = xsd.load(options.wsdl, lazy=True)
    except WsdlError as exc:
        report(Location(options.wsdl, 1, 1), str(exc), "check the --wsdl path or URL")
        raise PlaybookError(report.items) from None
    all_vars = _vars(pb, options, inputs, report)
    scope = _scope(pb, all_vars, inputs.env, inputs.secrets)
    scope.opaque_secrets = not options.sends  # validate/plan need no secret
    api = _api(options, pb, report)
    target = _target(pb, scope, api, report) if options.needs_target else None
    settings = _rest_settings(pb, target)
    rest = RestCost() if api == "rest" else None
    _check_selection(pb, options.selection, report)
    var_problems(pb, scope, report)
    generator = CallGenerator(pb, schema, report, options.selection,
                              broken=Broken.of(pb, {p.path for p in problems}))
    steps = {s.id: StepPlan(s.id, s.name, s.operation) for s in pb.all_steps()
             if s.operation is not None}
    total = late = 0
    references: dict[tuple[object, ...], tuple[Reference, Location]] = {}
    for event in generator.calls(scope):
        if isinstance(event, Skip) and event.step.id in steps:
            steps[event.step.id].skipped.append(event.reason)
        if not isinstance(event, Call):
            continue
        total += 1
        if on_call is not None:
            on_call(event)
        op = event.step.op
        info = CallInfo(event.step.id, str(event.key), event.label, op.name,
                        op.summary(event.params), event.records, event.pending, event.condition)
        steps[event.step.id].add(info, call_note(info))
        if rest is not None:
            _rest_check(pb, event, settings, rest, report)
        late += _references(pb, event, references)
    redactor = Redactor(scope.secret_values)
    if target is not None:
        redactor.add(secret(target))
        for url in endpoints(target):
            redactor.add_url(url)
    if report.items:  # a message may quote a resolved secret: masked here, for every output
        raise PlaybookError(sorted((redactor.problem(p) for p in report.items),
                                   key=lambda p: p.location))
    return Plan(pb, schema, target, all_vars, inputs.env, inputs.secrets, redactor,
                generator.counts, steps, total, options.selection,
                tuple(data_sources(pb)), api, rest, tuple(references.values()), late,
                options.daily_quota)


def _references(pb: Playbook, call: Call, found: dict[tuple[object, ...],
                tuple[Reference, Location]]) -> int:
    """Collect what the call's write depends on (the first place each is named); 1 when a
    reference is known only at run time (a ${steps...} value): Marketo checks that one."""
    params = dict(call.params)
    if call.workspace is not None:
        params["targetWorkspace"] = call.workspace
    known = list(call.step.op.references(params))
    for ref in known:
        found.setdefault(ref.key, (ref, pb.doc.locate((*call.step.op_path, *ref.path))))
    if not call.pending:
        return 0
    # A reference whose value is a run-time sample now (a campaign id from a step's output)
    return 1 if len(list(call.step.op.references(sample_params(call)))) > len(known) else 0


def _api(options: RunOptions, pb: Playbook, report: _Problems) -> str:
    """--api, else the playbook target's api:, else soap. A run against the playbook's own
    target cannot be told to speak another API than the target's."""
    own = str((pb.target or {}).get("api") or "soap")
    if options.api is not None and options.needs_target and options.api != own:
        report(Location("<command line>", 1, 1), f"--api {options.api}: the playbook's target "
               f"is a {own.upper()} target", "drop --api, or use --sandbox to try the other API")
    return options.api or own


def _rest_settings(pb: Playbook, target: AnyTarget | None) -> RestSettings:
    if isinstance(target, RestTarget):
        return target.settings
    raw = pb.target or {}  # validate/plan: the target as written (no credentials resolved)
    partitions = raw.get("partitions")
    return RestSettings(
        {str(k): str(v) for k, v in partitions.items()} if isinstance(partitions, dict) else None,
        raw.get("foreignIdField") if isinstance(raw.get("foreignIdField"), str) else None)


def _rest_check(pb: Playbook, call: Call, settings: RestSettings, cost: RestCost,
                report: _Problems) -> None:
    """What REST cannot do for this call (a load error with the migration hint), what it
    costs, and the fields it writes (checked against Describe before the first write)."""
    step, op = call.step, call.step.op
    if op.rest is None:
        report(step.op_path, f"{op.name} is not available over Marketo's REST API",
               "run this step over SOAP, or remove it")
        return
    params = sample_params(call)
    for sub, message, hint in op.rest.unsupported(params, settings):
        report((*step.op_path, *sub), message, hint)
    cost.calls += op.rest.calls(params)
    cost.once |= op.rest.once(params)
    cost.notes.setdefault(step.id, set()).update(op.rest.notes(params))
    for sub, name in op.rest.fields(params):
        cost.fields.setdefault(name, pb.doc.locate((*step.op_path, *sub)))


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
