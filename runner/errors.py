"""The runner's exceptions and exit codes. Stdlib only.

Only `cli` turns these into exit codes; library code raises, never exits.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runner.model import Problem


class ExitCode(IntEnum):
    OK = 0
    STEP_FAILED = 1
    INVALID = 2  # the playbook or command line is invalid; nothing was sent
    INTERNAL = 3  # a bug in mktows-run
    INTERRUPTED = 130


class RunnerError(Exception):
    """Base of every error the runner expects and reports without a traceback."""


class PlaybookError(RunnerError):
    """The playbook, its data or the command line is invalid. Carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) found")


class UsageError(RunnerError):
    """A command-line or environment problem found before anything was sent (exit 2)."""


class SoapFaultError(RunnerError):
    """Marketo answered with a SOAP Fault; `code` is Marketo's numeric error code."""

    def __init__(self, code: int | None, message: str, http_status: int | None = None) -> None:
        self.code = code
        self.message = message
        self.http_status = http_status
        super().__init__(f"fault {code}: {message}" if code is not None else message)


class TransportError(RunnerError):
    """The call did not complete at the HTTP level (connection, timeout, non-SOAP reply).

    `sent` says whether the request may have reached the server: a retry of a
    non-idempotent operation is only safe when it is False.
    """

    def __init__(self, message: str, *, sent: bool, http_status: int | None = None) -> None:
        self.sent = sent
        self.http_status = http_status
        super().__init__(message)


class ResponseError(RunnerError):
    """The server answered, but the reply is not a well-formed mktows response."""
