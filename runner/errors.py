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
    """The playbook, its data or the command line is invalid. Carries every problem found
    (`problems`); its text lists them, one `file:line:col: path: message` each, with hints."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__("\n".join([f"{len(problems)} {noun} found:",
                                    *(p.render() for p in problems)]))


class UsageError(RunnerError):
    """A command-line or environment problem found before anything was sent (exit 2)."""


class WsdlError(RunnerError):
    """The WSDL (--wsdl) cannot be read or is not a WSDL xmlschema can load (exit 2)."""


class CallValueError(RunnerError):
    """A value known only at run time (a step's output, a data file changed since it was
    checked) makes a call impossible to build: its step fails, nothing is sent for it."""


class PreflightError(RunnerError):
    """Preflight's read-only calls could not be made (credentials, network, Marketo): exit 1,
    nothing written."""


class SandboxError(RunnerError):
    """The embedded sandbox could not start or serve (a port in use, its database)."""


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


class StorageError(RunnerError):
    """A file the run must write (journal, report) could not be written: disk full, read-only,
    permission, I/O error. An environment failure, not a bug (exit 1); the message names the
    path and the reason."""

    def __init__(self, path: object, exc: OSError | str) -> None:
        self.path = str(path)
        self.reason = exc if isinstance(exc, str) else (exc.strerror or type(exc).__name__)
        super().__init__(f"cannot write {self.path}: {self.reason}")


class RestError(RunnerError):
    """Marketo's REST API answered with an error (`success: false`, an Identity refusal, a
    4xx), or the runner refused a REST call before sending it (`code` None). `code` is
    Marketo's numeric code (601, 606, 1004, ...) or None; the message never holds a secret."""

    def __init__(self, code: int | None, message: str, http_status: int | None = None) -> None:
        self.code = code
        self.message = message
        self.http_status = http_status
        super().__init__(f"REST {code}: {message}" if code is not None else message)
