"""mktows-run: run Marketo playbooks (YAML) over SOAP or REST, against Marketo or the local
sandbox. The Python API (docs/python-api.md):

    from runner import validate, plan, run, resume, PlaybookError

    checked = validate("playbooks/welcome.yml")          # a Plan, or PlaybookError
    result = run("playbooks/welcome.yml", sandbox=True)  # a RunResult, as in results.json
    print(result.status, [(s.id, s.status) for s in result.steps])

Nothing is imported until a name is used, so `import runner` (and the command line's start)
stays cheap.
"""

from __future__ import annotations

from importlib import import_module

TYPE_CHECKING = False  # not typing's: `import runner` need not import typing (~3 ms)

__version__ = "0.1.0"

# name -> the module that defines it (imported on first use)
_EXPORTS = {
    "validate": "runner.api", "plan": "runner.api", "run": "runner.api", "resume": "runner.api",
    "Plan": "runner.prepare", "StepPlan": "runner.prepare", "CallInfo": "runner.prepare",
    "RunResult": "runner.model", "StepResult": "runner.model", "CallResult": "runner.model",
    "Retry": "runner.model", "Tolerance": "runner.model", "DataFile": "runner.model",
    "Problem": "runner.model", "Location": "runner.model",
    "MaxFailures": "runner.options",
    "RunnerError": "runner.errors", "PlaybookError": "runner.errors",
    "UsageError": "runner.errors", "StorageError": "runner.errors",
}

__all__ = [
    "CallInfo", "CallResult", "DataFile", "Location", "MaxFailures", "Plan", "PlaybookError",
    "Problem", "Retry", "RunResult", "RunnerError", "StepPlan", "StepResult", "StorageError",
    "Tolerance", "UsageError", "__version__", "plan", "resume", "run", "validate",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'runner' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # once: later uses are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if TYPE_CHECKING:
    from typing import Any

    from runner.api import plan, resume, run, validate
    from runner.errors import PlaybookError, RunnerError, StorageError, UsageError
    from runner.model import (
        CallResult,
        DataFile,
        Location,
        Problem,
        Retry,
        RunResult,
        StepResult,
        Tolerance,
    )
    from runner.options import MaxFailures
    from runner.prepare import CallInfo, Plan, StepPlan
