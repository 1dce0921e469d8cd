"""What a call's outcome means, decided once so that JUnit, Markdown and annotations agree."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from urllib.parse import urlsplit, urlunsplit

from runner.model import CALL_STATUSES, CallResult, Retry, StepResult

Redact = Callable[[str], str]

# Sent, no answer: the one outcome a reader must act on before re-running anything.
AMBIGUOUS_HINT = "sent, but no answer came: Marketo may have acted on it; check before re-running"


def counts(statuses: Iterable[str]) -> dict[str, int]:
    out = dict.fromkeys(CALL_STATUSES, 0)
    for status in statuses:
        out[status] = out.get(status, 0) + 1  # a step may also be "interrupted"
    return out


def kind(call: CallResult) -> str:
    """error_kind, inferred for a call recorded without one (a run-time value broke it)."""
    if call.error_kind:
        return call.error_kind
    if call.status == "ambiguous":
        return "ambiguous"
    return "fault" if call.fault_code is not None else "error"


def problem(call: CallResult) -> str:
    """One line on why the call did not succeed: 'fault 20014: Authentication failed'."""
    message = call.fault_message or ""
    if call.fault_code is not None:
        return f"fault {call.fault_code}: {message}" if message else f"fault {call.fault_code}"
    if call.status == "ambiguous":
        return f"{message} ({AMBIGUOUS_HINT})" if message else AMBIGUOUS_HINT
    return message or f"{kind(call)} error"


def retry_line(retry: Retry) -> str:
    return f"attempt {retry.attempt}: {retry.reason}; tried again after {retry.wait_s:g} s"


def call_name(step: StepResult, call: CallResult) -> str:
    return call.label or step.id


def seconds(value: float) -> str:
    return f"{value:.3f}"


def public_endpoint(url: str) -> str:
    """The endpoint without a user:password@ part, which a report must never carry."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
