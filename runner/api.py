"""The Python API: validate, plan, run and resume a playbook as the command line does — the
same checks, the same run path (RunOptions → prepare → target → runs), the same journal in
`.mktows/runs/<run id>/` and the same reports — with typed results instead of exit codes.
docs/python-api.md is the guide; `from runner import validate, plan, run, resume`.

Errors are exceptions: PlaybookError (invalid input; its `problems`, each with file, line
and column, and its text lists them all), UsageError (a command-line-level mistake, e.g. a
report path that cannot be written), other RunnerErrors (the sandbox could not start, ...).
A run that went wrong in Marketo is not an exception: it is a RunResult whose `status` says
so (`ok`, `failed`, `ambiguous`, `interrupted`).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.console import Console
from runner.errors import UsageError
from runner.options import DEFAULT_SANDBOX_DB, MaxFailures, Reports, RunOptions, Selection, Sending

if TYPE_CHECKING:
    from runner.model import CallResult, RunResult, StepResult
    from runner.prepare import Plan

PathLike = str | Path


def _text(value: object) -> str:
    """A variable's value as the command line would give it (converted back by prepare to
    the type the playbook declared)."""
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _options(playbook: PathLike, *, vars: Mapping[str, object] | None,
             vars_files: Iterable[PathLike], secrets_file: PathLike | None, api: str | None,
             wsdl: str | None, **more: Any) -> RunOptions:
    from runner.resources import wsdl_path

    if api not in (None, "soap", "rest"):
        raise UsageError(f"api={api!r}: soap or rest")
    path = Path(playbook)
    if not path.is_file():
        raise UsageError(f"{path}: no such playbook file")
    return RunOptions(playbook=path, wsdl=wsdl or str(wsdl_path()),
                      cli_vars={str(k): _text(v) for k, v in (vars or {}).items()},
                      vars_files=tuple(Path(p) for p in vars_files),
                      secrets_file=Path(secrets_file) if secrets_file is not None else None,
                      api=api, **more)


def validate(playbook: PathLike, *, vars: Mapping[str, object] | None = None,
             vars_files: Iterable[PathLike] = (), secrets_file: PathLike | None = None,
             api: str | None = None, wsdl: str | None = None) -> Plan:
    """Check a playbook completely, as `mktows-run validate` does (schema, Marketo's rules,
    variables, data files, every envelope against the WSDL), without the network and without
    credentials. Returns the Plan; raises PlaybookError listing every problem."""
    from runner.prepare import prepare

    return prepare(_options(playbook, vars=vars, vars_files=vars_files,
                            secrets_file=secrets_file, api=api, wsdl=wsdl, sandbox=True))


def plan(playbook: PathLike, *, vars: Mapping[str, object] | None = None,
         vars_files: Iterable[PathLike] = (), secrets_file: PathLike | None = None,
         api: str | None = None, wsdl: str | None = None, envelopes: PathLike | None = None,
         markdown: PathLike | None = None) -> Plan:
    """`mktows-run plan`: validate, and optionally write every call's envelope (signature and
    secrets redacted) to the folder `envelopes` and a pull-request summary to `markdown`.

    The Plan lists every call: `plan.steps[id].calls` / `.records` / `.listed` (the first
    and last calls, each with its key, label and summary), `plan.total_calls`,
    `plan.quota_calls`; `runner.planview.text(plan)` is what the command prints."""
    from runner import planview
    from runner.envelope_files import EnvelopeWriter
    from runner.errors import StorageError
    from runner.prepare import prepare
    from runner.report import files

    if envelopes is not None:
        files.check_folder(Path(envelopes), "envelopes")
    if markdown is not None:
        files.check_file(Path(markdown), "markdown")
    writer = EnvelopeWriter(Path(envelopes)) if envelopes is not None else None
    prepared = prepare(_options(playbook, vars=vars, vars_files=vars_files,
                                secrets_file=secrets_file, api=api, wsdl=wsdl, sandbox=True),
                       on_call=writer.write if writer else None)
    if markdown is not None:
        try:
            files.write_text(Path(markdown), prepared.redactor(planview.markdown(prepared)))
        except OSError as exc:
            raise StorageError(markdown, exc) from None
    return prepared


class _Quiet(Console):
    """A run's console when the caller asked for no output: only errors (a report that could
    not be written where asked, and where it went instead), on stderr."""

    def __init__(self) -> None:
        super().__init__(quiet=True, stream=io.StringIO())

    def info(self, text: str) -> None:
        pass

    def call(self, step: StepResult, res: CallResult) -> None:
        pass

    def summary(self, result: RunResult, report: str | None) -> None:
        pass


def run(playbook: PathLike, *, sandbox: bool = False, api: str | None = None,
        sandbox_db: PathLike = DEFAULT_SANDBOX_DB, sandbox_fixture: PathLike | None = None,
        vars: Mapping[str, object] | None = None, vars_files: Iterable[PathLike] = (),
        secrets_file: PathLike | None = None, wsdl: str | None = None,
        report: PathLike | None = "results.json", junit: PathLike | None = None,
        markdown: PathLike | None = None, max_failures: int | str | None = None,
        concurrency: int = 1, rate: str = "100/20s", retries: int = 4,
        retry_backoff_s: float = 1.0, deadline_s: float | None = None,
        timeout_s: float = 300.0, read_timeout_s: float = 60.0, on_ambiguous: str = "stop",
        only: Iterable[str] = (), skip: Iterable[str] = (), tags: Iterable[str] = (),
        limit_items: int | None = None, allow_insecure_http: bool = False,
        allow_over_quota: bool = False, preflight: bool = True,
        output: bool = False) -> RunResult:
    """`mktows-run run`: validate, then send every step, against the playbook's own target
    or (`sandbox=True`) the local sandbox started for the run. Keeps the run's journal in
    `.mktows/runs/<result.run_id>/` (so `resume(result.run_id)` continues it) and writes the
    reports asked for (results.json at `report`, None for none; a copy is always in the
    run's folder). Keyword arguments are the command line's flags; `output=True` prints what
    the command prints (progress, a line per failure, the summary).

    Returns the RunResult results.json is written from. Raises PlaybookError (invalid input:
    nothing was sent) or UsageError (e.g. over the daily quota without allow_over_quota)."""
    from runner import planview, runs
    from runner.launch import target_for
    from runner.prepare import prepare
    from runner.ratelimit import Rate
    from runner.retry import RetryPolicy

    if on_ambiguous not in ("stop", "continue"):
        raise UsageError(f"on_ambiguous={on_ambiguous!r}: stop or continue")
    if sandbox_fixture is not None and not sandbox:
        raise UsageError("sandbox_fixture is for a run on the sandbox: add sandbox=True")
    if not 1 <= concurrency <= 10:
        raise UsageError(f"concurrency={concurrency}: 1 to 10")
    try:
        parsed_rate = Rate.parse(rate)
        limit = None if max_failures is None else MaxFailures.parse(max_failures)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    options = _options(
        playbook, vars=vars, vars_files=vars_files, secrets_file=secrets_file, api=api,
        wsdl=wsdl, sandbox=sandbox, sandbox_db=Path(sandbox_db),
        sandbox_fixture=Path(sandbox_fixture) if sandbox_fixture is not None else None,
        selection=Selection(frozenset(only), frozenset(skip), frozenset(tags), limit_items),
        sending=Sending(concurrency=concurrency, rate=parsed_rate,
                        policy=RetryPolicy(max_attempts=retries + 1, base_s=retry_backoff_s),
                        deadline_s=deadline_s, read_timeout_s=read_timeout_s,
                        call_timeout_s=timeout_s,
                        continue_on_ambiguous=on_ambiguous == "continue", max_failures=limit),
        reports=Reports(_path(report), _path(junit), _path(markdown)),
        allow_insecure_http=allow_insecure_http, allow_over_quota=allow_over_quota,
        preflight=preflight)
    prepared = prepare(options)
    if prepared.quota_calls > prepared.daily_quota and not allow_over_quota:
        raise UsageError(planview.quota_warning(prepared.quota_calls, prepared.daily_quota))
    console = _console(output)
    console.expect(prepared)
    with target_for(options, prepared) as target:
        return runs.start(options, prepared, target, console).result


def resume(run_ref: str, *, accept_ambiguous: bool = False, on_ambiguous: str | None = None,
           report: PathLike | None = None, junit: PathLike | None = None,
           markdown: PathLike | None = None, output: bool = False) -> RunResult:
    """`mktows-run resume`: continue run `run_ref` (a run id under .mktows/runs/ or its
    folder) from its journal, with the options it ran with (sandbox, fixture, max_failures,
    ...). Raises UsageError when its inputs changed since it ran."""
    from runner import runs
    from runner.launch import target_for
    from runner.prepare import prepare

    if on_ambiguous not in (None, "stop", "continue"):
        raise UsageError(f"on_ambiguous={on_ambiguous!r}: stop or continue")
    console = _console(output)
    with runs.open_past(run_ref) as past_run:
        options = runs.resume_options(
            past_run.options, accept_ambiguous=accept_ambiguous,
            continue_on_ambiguous=None if on_ambiguous is None else on_ambiguous == "continue",
            reports=Reports(_path(report), _path(junit), _path(markdown)))
        prepared = prepare(options)
        console.redact = prepared.redactor
        console.expect(prepared)
        with target_for(options, prepared) as target:
            return runs.resume(past_run, options, prepared, target, console).result


def _console(output: bool) -> Console:
    return Console() if output else _Quiet()


def _path(value: PathLike | None) -> Path | None:
    return Path(value) if value is not None else None
