"""Orchestration: `prepare` checks everything and builds every envelope it can without the
network; `execute` sends them. Carries values between the stages; owns no format or library.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from xml.etree import ElementTree as ET

from runner import operations, playbook, variables
from runner.errors import PlaybookError, ResponseError, SoapFaultError, TransportError
from runner.model import HttpReply, Location, Problem, RunResult, StepResult
from runner.playbook import Playbook, Step
from runner.playbook.source import json_path
from runner.secrets import Redactor, Secret
from runner.soap import auth, envelope, response, xsd
from runner.variables import Pending, Scope


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
    target: Target | None = None  # replaces the playbook's target (e.g. --sandbox)
    need_target: bool = True  # False for validate/plan: no credentials needed


@dataclass
class Call:
    """One SOAP call a step makes, with its body built when nothing is pending."""

    step: Step
    params: dict[str, Any]  # resolved playbook params; may hold Pending values
    workspace: str | None
    body: str | None  # prebuilt and XSD-valid, or None when it needs run-time values


@dataclass
class Plan:
    playbook: Playbook
    schema: xsd.ServiceSchema
    target: Target | None
    vars: dict[str, Any]
    env: Mapping[str, str]
    secrets: Mapping[str, str]
    calls: list[Call]
    redactor: Redactor


def _coerce(name: str, raw: str, declared: Any) -> Any:
    """--var values are text; give them the type the playbook declared for that variable."""
    if isinstance(declared, bool):
        if raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        raise ValueError(f"--var {name}={raw}: {name} is a boolean; write true or false")
    if isinstance(declared, int):
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"--var {name}={raw}: {name} is an integer") from None
    if isinstance(declared, float):
        try:
            return float(raw)
        except ValueError:
            raise ValueError(f"--var {name}={raw}: {name} is a number") from None
    return raw


def _has_pending(value: Any) -> bool:
    if isinstance(value, Pending):
        return True
    if isinstance(value, dict):
        return any(_has_pending(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_pending(v) for v in value)
    return False


def _samples(value: Any) -> Any:
    if isinstance(value, Pending):
        return value.sample
    if isinstance(value, dict):
        return {k: _samples(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_samples(v) for v in value]
    return value


def build_body(schema: xsd.ServiceSchema, operation: str, params: dict[str, Any]) -> tuple[
        str, list[tuple[str, str]]]:
    """The body element, XSD-checked; problems as (playbook sub-path, message)."""
    binding = schema.bindings.get(operation)
    if binding is None:
        return "", [("", f"operation {operation} is not in the WSDL {schema.source}")]
    body, issues = envelope.BodyWriter(schema).write(binding.input_element,
                                                     operations.to_wsdl(operation, params))
    found = [(i.path, i.message) for i in issues]
    if not found:
        found = [("", f"not valid against {schema.source}: {m}")
                 for m in schema.errors(binding.input_element, ET.fromstring(body))]
    return body, found


class _Problems:
    def __init__(self, pb: Playbook) -> None:
        self.pb = pb
        self.items: list[Problem] = []

    def add(self, path: tuple[str | int, ...], message: str, hint: str | None = None) -> None:
        self.items.append(Problem(self.pb.doc.locate(path), json_path(path), message, hint))

    def at(self, loc: Location, message: str, hint: str | None = None) -> None:
        self.items.append(Problem(loc, "", message, hint))


def _vars(pb: Playbook, cli_vars: Mapping[str, str], out: _Problems) -> dict[str, Any]:
    merged = dict(pb.vars)
    for name, raw in cli_vars.items():
        try:
            merged[name] = _coerce(name, raw, pb.vars.get(name))
        except ValueError as exc:
            out.at(Location("<command line>", 1, 1), str(exc))
    return merged


def _target(options: RunOptions, pb: Playbook, scope: Scope, out: _Problems) -> Target | None:
    if options.target is not None:
        return options.target
    if pb.target is None:
        if options.need_target:
            out.add((), "the playbook has no target",
                    "add target: (endpoint, userId, encryptionKey) or run with --sandbox")
        return None
    if not options.need_target:
        return None
    resolved, errors = variables.resolve_checked(pb.target, scope.lookup)
    for sub, message, hint in errors:
        out.add(("target", *sub), message, hint)
    if errors or not all(k in resolved for k in ("endpoint", "userId", "encryptionKey")):
        return None
    return Target(str(resolved["endpoint"]), str(resolved["userId"]),
                  Secret(str(resolved["encryptionKey"])), resolved.get("partnerId"))


def prepare(options: RunOptions) -> Plan:
    """Everything up to XSD-checked envelopes; raises PlaybookError with every problem."""
    pb, problems = playbook.load(options.playbook)
    if pb is None:
        raise PlaybookError(problems)
    out = _Problems(pb)
    out.items += problems
    try:
        schema = xsd.load(options.wsdl)
    except Exception as exc:
        out.at(Location(options.wsdl, 1, 1), f"cannot load the WSDL: {exc}")
        raise PlaybookError(out.items) from None
    all_vars = _vars(pb, options.cli_vars, out)
    ids = tuple(s.id for s in pb.steps)
    scope = Scope(all_vars, options.env, options.secrets, {}, {}, ids)
    target = _target(options, pb, scope, out)
    calls = []
    # A step whose parameters already failed the schema or a rule is not built: the XSD
    # would only repeat the same problem in its own words.
    broken = {p.path.split("]")[0] + "]" for p in problems if p.path.startswith("steps[")}
    for step in pb.steps:
        call = None if f"steps[{step.index}]" in broken else _plan_step(step, scope, schema, out)
        if call is not None:
            calls.append(call)
        scope.step_ops[step.id] = step.operation
    redactor = Redactor(scope.secret_values)
    if target is not None:
        redactor.add(target.encryption_key)
    if out.items:
        raise PlaybookError(sorted(out.items, key=lambda p: p.location))
    return Plan(pb, schema, target, all_vars, options.env, options.secrets, calls, redactor)


def _plan_step(step: Step, scope: Scope, schema: xsd.ServiceSchema, out: _Problems) -> Call | None:
    params, errors = variables.resolve_checked(step.params, scope.lookup)
    for sub, message, hint in errors:
        out.add((*step.path, *sub), message, hint)
    if errors:
        return None
    workspace = params.pop("targetWorkspace", None) if step.operation == "syncLead" else None
    body, found = build_body(schema, step.operation, _samples(params))
    for where, message in found:
        out.add((*step.path, *where.split(".")) if where else step.path, message)
    if found:
        return None
    return Call(step, params, workspace, None if _has_pending(params) else body)


Clock = Callable[[], datetime]
Observer = Callable[[StepResult], None]


def _local_now() -> datetime:
    return datetime.now().astimezone()


def execute(plan: Plan, transport: Transport, clock: Clock = _local_now,
            observe: Observer | None = None) -> RunResult:
    """Send every call in order; the first failure stops the run (later steps: skipped)."""
    assert plan.target is not None, "execute needs a target"
    result = RunResult(plan.playbook.file, clock().isoformat(timespec="seconds"),
                       endpoint=plan.target.endpoint)
    outputs: dict[str, dict[str, Any]] = {}
    failed = False
    for call in plan.calls:
        step = call.step
        res = StepResult(step.id, step.operation, "skipped", step.line)
        if not failed:
            res = _run_call(plan, call, outputs, transport, clock)
            failed = res.status != "ok"
            if not failed:
                outputs[step.id] = res.outputs
        result.steps.append(res)
        if observe is not None:
            observe(res)
    result.finished_at = clock().isoformat(timespec="seconds")
    return result


def _run_call(plan: Plan, call: Call, outputs: dict[str, dict[str, Any]],
              transport: Transport, clock: Clock) -> StepResult:
    step = call.step
    res = StepResult(step.id, step.operation, "failed", step.line)
    started = time.perf_counter()
    try:
        body = call.body if call.body is not None else _late_body(plan, call, outputs)
        binding = plan.schema.bindings[step.operation]
        res.attempts = 1
        reply = transport.post(plan.target.endpoint if plan.target else "", step.operation,
                               _envelope(plan, call, body, clock))
        res.outputs = response.read(step.operation, binding.output_element, reply)
        res.status = "ok"
    except SoapFaultError as exc:
        res.fault_code, res.fault_message = exc.code, plan.redactor(exc.message)
    except (TransportError, ResponseError, ValueError) as exc:
        res.fault_message = plan.redactor(str(exc))
    res.duration_s = round(time.perf_counter() - started, 6)
    return res


def _late_body(plan: Plan, call: Call, outputs: dict[str, dict[str, Any]]) -> str:
    """Build a body that needed earlier steps' outputs; it is XSD-checked again."""
    scope = Scope(plan.vars, plan.env, plan.secrets,
                  {s.id: s.operation for s in plan.playbook.steps if s.id in outputs}, outputs)
    params, errors = variables.resolve_checked(call.step.params, scope.lookup)
    params.pop("targetWorkspace", None)
    if errors:
        raise ValueError("; ".join(message for _, message, _ in errors))
    body, found = build_body(plan.schema, call.step.operation, params)
    if found:
        raise ValueError("the call is invalid after resolving step outputs: " +
                         "; ".join(f"{p}: {m}" if p else m for p, m in found))
    return body


def _envelope(plan: Plan, call: Call, body: str, clock: Clock) -> str:
    target = plan.target
    assert target is not None
    stamp = auth.w3c_timestamp(clock())  # fresh at send time: Marketo rejects stale ones
    signature = auth.sign(stamp, target.user_id, target.encryption_key)
    headers = envelope.auth_header(target.user_id, signature, stamp, target.partner_id)
    if call.workspace:
        headers += envelope.context_header(str(call.workspace))
    return envelope.envelope(headers, body)
