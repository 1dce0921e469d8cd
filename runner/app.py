"""Orchestration: `prepare` checks everything and builds every envelope without the network;
`execute` walks the same steps again and sends. Carries values between the stages; owns no
format or library.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from runner import operations, playbook, variables
from runner.errors import PlaybookError, ResponseError, SoapFaultError, TransportError
from runner.model import CallResult, HttpReply, Location, Problem, RunResult, StepResult
from runner.playbook import Playbook
from runner.playbook.source import json_path
from runner.secrets import Redactor, Secret
from runner.soap import auth, envelope, response, xsd
from runner.variables import Scope
from runner.walk import Call, Skip, Walker


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
class Plan:
    playbook: Playbook
    schema: xsd.ServiceSchema
    target: Target | None
    vars: dict[str, Any]
    env: Mapping[str, str]
    secrets: Mapping[str, str]
    redactor: Redactor
    counts: dict[str, int]
    calls: list[CallInfo]  # the first MAX_LISTED calls, for `plan`
    total_calls: int


MAX_LISTED = 2000
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
    return raw


class _Problems:
    def __init__(self, pb: Playbook) -> None:
        self.pb = pb
        self.items: list[Problem] = []

    def __call__(self, where: tuple[str | int, ...] | Location, message: str,
                 hint: str | None) -> None:
        if isinstance(where, Location):
            self.items.append(Problem(where, "", message, hint))
        else:
            self.items.append(Problem(self.pb.doc.locate(where), json_path(where), message, hint))


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
    return Target(str(resolved["endpoint"]), str(resolved["userId"]),
                  Secret(str(resolved["encryptionKey"])), resolved.get("partnerId"))


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


def prepare(options: RunOptions, on_call: OnCall | None = None) -> Plan:
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
    scope = Scope(all_vars, options.env, options.secrets, {}, {},
                  tuple(s.id for s in pb.all_steps()))
    target = _target(options, pb, scope, report)
    # A step whose parameters already failed the schema or a rule is not built: the XSD
    # would only repeat the same problem in its own words.
    broken = {p.path.split("]")[0] for p in problems if p.path.startswith("steps[")}
    walker = Walker(pb, schema, report, live=False)
    listed: list[CallInfo] = []
    total = 0
    steps = tuple(s for s in pb.steps if json_path(s.path).split("]")[0] not in broken)
    for event in walker.walk(steps, scope):
        if isinstance(event, Skip):
            continue
        total += 1
        if on_call is not None:
            on_call(event)
        if len(listed) < MAX_LISTED:
            assert event.step.operation is not None
            listed.append(CallInfo(event.step.id, event.key, event.label, event.step.operation,
                                   _summary(event), event.records, event.pending,
                                   event.condition))
    redactor = Redactor(scope.secret_values)
    if target is not None:
        redactor.add(target.encryption_key)
    if report.items:
        raise PlaybookError(sorted(report.items, key=lambda p: p.location))
    return Plan(pb, schema, target, all_vars, options.env, options.secrets, redactor,
                walker.counts, listed, total)


Clock = Callable[[], datetime]
Observer = Callable[[StepResult, CallResult], None]


def _local_now() -> datetime:
    return datetime.now().astimezone()


def _raise(where: Any, message: str, hint: str | None) -> None:
    # Everything was checked by prepare(); a problem now is a value from a step's output.
    raise ValueError(message)


def execute(plan: Plan, transport: Transport, clock: Clock = _local_now,
            observe: Observer | None = None) -> RunResult:
    """Send every call in order; the first failure stops the run (later steps: skipped)."""
    assert plan.target is not None, "execute needs a target"
    result = RunResult(plan.playbook.file, clock().isoformat(timespec="seconds"),
                       endpoint=plan.target.endpoint)
    steps: dict[str, StepResult] = {
        s.id: StepResult(s.id, s.operation, "skipped", s.line)
        for s in plan.playbook.all_steps() if s.operation is not None}
    walker = Walker(plan.playbook, plan.schema, _raise, live=True, counts=dict(plan.counts))
    scope = Scope(plan.vars, plan.env, plan.secrets, {}, {},
                  tuple(s.id for s in plan.playbook.all_steps()), secret_values=set())
    events = walker.walk(plan.playbook.steps, scope)
    while True:
        try:
            event = next(events)
        except StopIteration:
            break
        except ValueError as exc:  # a run-time value broke a call that was valid in the plan
            failed = CallResult("?", "", "failed", fault_message=plan.redactor(str(exc)))
            _fail_current(steps, failed)
            break
        if isinstance(event, Skip):
            continue
        step = steps[event.step.id]
        call = _send(plan, event, transport, clock)
        step.add(call)
        if observe is not None:
            observe(step, call)
        if call.status != "ok":
            break
        _record_outputs(event, call.outputs)
    result.steps = list(steps.values())
    result.finished_at = clock().isoformat(timespec="seconds")
    return result


def _fail_current(steps: dict[str, StepResult], call: CallResult) -> None:
    pending = next((s for s in steps.values() if s.status == "skipped" and not s.calls), None)
    if pending is not None:
        pending.add(call)


def _record_outputs(call: Call, outputs: dict[str, Any]) -> None:
    """Later steps read these; a batched step's list outputs accumulate over its batches."""
    store = call.scope.outputs
    step_id = call.step.id
    if "/batch-" in call.key and step_id in store and not call.key.endswith("/batch-1"):
        merged = dict(store[step_id])
        for name, value in outputs.items():
            if isinstance(value, list):
                merged[name] = list(merged.get(name) or []) + value
            elif isinstance(value, bool):
                merged[name] = bool(merged.get(name, True)) and value
        store[step_id] = merged
    else:
        store[step_id] = outputs


def _send(plan: Plan, call: Call, transport: Transport, clock: Clock) -> CallResult:
    assert call.step.operation is not None
    res = CallResult(call.key, call.label, "failed")
    started = time.perf_counter()
    try:
        binding = plan.schema.bindings[call.step.operation]
        res.attempts = 1
        reply = transport.post(plan.target.endpoint if plan.target else "", call.step.operation,
                               _envelope(plan, call, clock))
        res.outputs = response.read(call.step.operation, binding.output_element, reply)
        res.status = "ok"
    except SoapFaultError as exc:
        res.fault_code, res.fault_message = exc.code, plan.redactor(exc.message)
    except (TransportError, ResponseError) as exc:
        res.fault_message = plan.redactor(str(exc))
    res.duration_s = round(time.perf_counter() - started, 6)
    return res


def headers(plan: Plan, call: Call, stamp: str, signature: str) -> str:
    assert plan.target is not None
    out = envelope.auth_header(plan.target.user_id, signature, stamp, plan.target.partner_id)
    if call.workspace:
        out += envelope.context_header(call.workspace)
    return out


def _envelope(plan: Plan, call: Call, clock: Clock) -> str:
    target = plan.target
    assert target is not None
    stamp = auth.w3c_timestamp(clock())  # fresh at send time: Marketo rejects stale ones
    signature = auth.sign(stamp, target.user_id, target.encryption_key)
    return envelope.envelope(headers(plan, call, stamp, signature), call.body)


__all__ = ["CallInfo", "Plan", "RunOptions", "Target", "execute", "operations", "prepare"]
