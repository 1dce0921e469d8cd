"""The command line: flags → options → one library call → exit code. The composition root.

Heavy libraries (xmlschema, jsonschema, requests) are imported inside the commands that use
them, so `--help` stays fast; so are pathlib (`_PathType`) and shutil (`_Context`): `--help`
imports click and little else.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from runner import __version__, entry
from runner.errors import ExitCode, PlaybookError, RunnerError, UsageError
from runner.resources import SANDBOX_DB

if TYPE_CHECKING:
    from pathlib import Path

    from runner.options import RunOptions
    from runner.prepare import Plan
    from runner.runs import Outcome
    from runner.target import AnyTarget

# The run's redactor, once known: even an internal error's traceback goes through it.
_ACTIVE_REDACTOR: list[Any] = []
_OWN_PROCESS: list[bool] = []  # [True] when main() runs as the process's command


def _redacted(text: str) -> str:
    """An error message as it may be shown: the run's secrets (once known), any URL's
    user:password@ and anything shaped like a signature masked."""
    from runner.secrets import Redactor

    for redact in [*_ACTIVE_REDACTOR, Redactor()]:
        text = redact(text)
    return text




class _Context(click.Context):
    def make_formatter(self) -> click.HelpFormatter:
        """click's formatter, at the width click would choose, sized without shutil."""
        import click.formatting

        width = self.terminal_width
        if width is None and click.formatting.FORCED_WIDTH is None:
            width = max(min(entry.columns(), self.max_content_width or 80) - 2, 50)
        return self.formatter_class(width=width, max_width=self.max_content_width)


class _Command(click.Command):
    context_class = _Context


class _DefaultTo(click.Group):
    """A group whose command may be left out: `mktows-run PLAYBOOK` = `mktows-run run
    PLAYBOOK`, `sandbox --port 9` = `sandbox serve --port 9`."""

    context_class = _Context
    command_class = _Command

    default = ""
    when_empty = False  # also with no arguments at all (else: the group's help)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if (args and args[0] not in self.commands and args[0] not in (
                "--help", "-h", "--version")) or (not args and self.when_empty):
            args = [self.default, *args]
        return super().parse_args(ctx, args)


class _DefaultToRun(_DefaultTo):
    default = "run"

    def get_help(self, ctx: click.Context) -> str:
        """The root help, kept for the next `--help` (runner.entry prints it without
        importing click) when it was formatted at the width entry computes."""
        import click.formatting

        text = super().get_help(ctx)
        if ctx.parent is None and ctx.terminal_width is None and (
                ctx.max_content_width is None and click.formatting.FORCED_WIDTH is None):
            entry.remember_help(entry.help_width(), text + "\n")  # as click.echo prints it
        return text


def _show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    # Built only when asked: it reads the WSDL and the operation registry.
    if value and not ctx.resilient_parsing:
        from runner.about import version_text

        click.echo(version_text(__version__))
        ctx.exit()


@click.group(cls=_DefaultToRun, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True,
              callback=_show_version,
              help="Show the version, the Marketo API version and the operations, then exit.")
def cli() -> None:
    """Run Marketo SOAP API (mktows) playbooks.

    \b
    mktows-run PLAYBOOK [--sandbox]   validate, then send every step
    mktows-run validate PLAYBOOK      check everything, send nothing
    mktows-run sandbox                serve the local Marketo sandbox

    \b
    Exit codes: 0 all steps succeeded; 1 a step failed; 2 invalid input, nothing
    was sent; 3 internal error (please report it); 130 interrupted.
    """


def _default_wsdl() -> str:
    from runner.resources import wsdl_path

    return str(wsdl_path())


def _parse_vars(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"--var {pair!r}: write NAME=VALUE")
        out[name] = value
    return out


def _check_options(playbook: Path, wsdl: str | None, var: tuple[str, ...],
                   vars_files: tuple[Path, ...] = (), secrets_file: Path | None = None,
                   api: str | None = None) -> RunOptions:
    """Options of a command that sends nothing (validate, plan): no target is resolved, so
    no credential is needed."""
    from runner.options import RunOptions

    return RunOptions(playbook=playbook, wsdl=wsdl or _default_wsdl(), cli_vars=_parse_vars(var),
                      vars_files=vars_files, secrets_file=secrets_file, sandbox=True, api=api,
                      sends=False)


@contextmanager
def _target(options: RunOptions, plan: Plan) -> Iterator[AnyTarget]:
    """Where the run sends: the sandbox started for the run's length, or the playbook's own
    target (runner.launch, shared with the Python API)."""
    from runner.launch import target_for

    with target_for(options, plan) as target:
        yield target


def exit_code(outcome: Outcome) -> int:
    """130 for Ctrl-C (or SIGTERM); 1 for a failed step, a deadline, or a journal or report
    that could not be written; 0 when everything was done and recorded."""
    result = outcome.result
    if result.interrupted and outcome.reason in (None, "interrupt", "abort"):
        return ExitCode.INTERRUPTED
    if outcome.storage_failed or result.interrupted or not result.ok:
        return ExitCode.STEP_FAILED
    return ExitCode.OK


class _PathType(click.Path):
    """click.Path(path_type=Path), importing pathlib when a value is converted, not when the
    command line is declared (~4 ms that `--help` does without)."""

    def coerce_path_result(self, value: str | os.PathLike[str]) -> Any:
        from pathlib import Path

        return value if isinstance(value, Path) else Path(os.fsdecode(value))


class _FilePath(_PathType):
    """A file named on the command line; `-` (stdin) is refused with a reason, not looked
    up as a file called '-'."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value == "-":
            self.fail("reading from stdin is not supported: save it to a file and name that",
                      param, ctx)
        return super().convert(value, param, ctx)


_playbook_arg = click.argument("playbook", type=_FilePath(exists=True, dir_okay=False))
_wsdl_opt = click.option("--wsdl", metavar="FILE|URL",
                         help="Check envelopes against this WSDL instead of the bundled 3_1 one.")
_var_opt = click.option("--var", multiple=True, metavar="NAME=VALUE",
                        help="Set a playbook variable (repeatable); beats --vars-file and vars:.")
_vars_file_opt = click.option("--vars-file", multiple=True, metavar="PATH",
                              type=_PathType(exists=True, dir_okay=False),
                              help="YAML/JSON variables (repeatable; a later file wins).")
_secrets_file_opt = click.option(
    "--secrets-file", metavar="PATH", type=_PathType(exists=True, dir_okay=False),
    help="Secrets for ${secret.NAME}: KEY=VALUE lines or YAML; keep it outside the repository.")


def _ids(values: tuple[str, ...]) -> frozenset[str]:
    return frozenset(v.strip() for value in values for v in value.split(",") if v.strip())


def _duration(text: str | None, option: str = "--deadline") -> float | None:
    if text is None:
        return None
    units = {"s": 1, "m": 60, "h": 3600}
    number, unit = (text[:-1], text[-1]) if text[-1:] in units else (text, "s")
    try:
        seconds = float(number) * units[unit]
    except ValueError:
        raise UsageError(f"{option} {text!r}: write e.g. 90s, 30m or 2h") from None
    # nan, inf or 0 would switch the bound off or stop everything at once, silently.
    if not 0 < seconds <= 366 * 86_400:
        raise UsageError(f"{option} {text!r}: must be more than 0 and at most a year")
    return seconds


_only_opt = click.option("--only", multiple=True, metavar="ID[,ID]",
                         help="Only these steps (or groups).")
_skip_opt = click.option("--skip", multiple=True, metavar="ID[,ID]", help="Leave these steps out.")
_tags_opt = click.option("--tags", multiple=True, metavar="TAG[,TAG]",
                         help="Only steps with a tag.")
_limit_items_opt = click.option("--limit-items", type=click.IntRange(1), metavar="N",
                                help="Canary run: only the first N items of each loop.")
_api_opt = click.option(
    "--api", type=click.Choice(["soap", "rest"]),
    help="The API: with --sandbox, which one to use; for validate/plan, which one to check and "
         "count for (default: the playbook target's, else soap).")


@cli.command()
@_playbook_arg
@click.option("--sandbox", is_flag=True, help="Run against the embedded local sandbox.")
@_api_opt
@click.option("--sandbox-db", type=_PathType(dir_okay=False),
              default=SANDBOX_DB, show_default=True, help="The sandbox's lead database.")
@click.option("--sandbox-fixture", type=_FilePath(exists=True, dir_okay=False),
              metavar="FILE", help="With --sandbox: the sandbox's fixture (your programs, "
                                   "campaigns, fields; see docs/sandbox.md).")
@_var_opt
@_vars_file_opt
@_secrets_file_opt
@_wsdl_opt
@click.option("--report", type=_PathType(dir_okay=False),
              default="results.json", show_default=True, help="Where to write results.json.")
@click.option("--junit", type=_PathType(dir_okay=False),
              help="Also write JUnit XML (one testcase per call).")
@click.option("--markdown", type=_PathType(dir_okay=False),
              help="Also write a Markdown summary (failures first).")
@click.option("--concurrency", type=click.IntRange(1, 10), default=1, show_default=True,
              help="Calls of one step (loop items, batches) in flight at once; Marketo allows 10.")
@click.option("--rate", default="100/20s", show_default=True, metavar="CALLS/WINDOW",
              help="Client-side rate limit (Marketo's is 100 calls per 20 s); 0 turns it off.")
@click.option("--retries", type=click.IntRange(0, 20), default=4, show_default=True,
              help="Retries of a call after a transient fault (20016, 20023, 20024, 5xx, ...).")
@click.option("--retry-backoff", type=click.FloatRange(0, 600), default=1.0, show_default=True,
              metavar="SECONDS", help="First backoff delay; doubles each retry, with jitter.")
@click.option("--deadline", metavar="DURATION",
              help="Bound the whole run (e.g. 30m): no call or retry starts after it; the run "
                   "ends interrupted, exit 1 (calls in flight may take --timeout more).")
@click.option("--timeout", "call_timeout", metavar="DURATION", default="300s", show_default=True,
              help="A call's whole reply must arrive within this.")
@click.option("--read-timeout", metavar="DURATION", default="60s", show_default=True,
              help="Longest wait between two bytes of a reply.")
@click.option("--on-ambiguous", type=click.Choice(["stop", "continue"]), default="stop",
              show_default=True, help="What to do after a call whose outcome is unknown.")
@click.option("--max-failures", metavar="N|P%",
              help="Failed items a loop may have before the run stops (default 0), e.g. 10 or "
                   "5%; for every loop without its own max_failures:. Failed items are still "
                   "failures (exit 1); an ambiguous call is never tolerated.")
@_only_opt
@_skip_opt
@_tags_opt
@_limit_items_opt
@click.option("--allow-insecure-http", is_flag=True,
              help="Allow plain http:// to a non-loopback endpoint.")
@click.option("--allow-over-quota", is_flag=True,
              help="Start even when the plan needs more calls than one day's quota.")
@click.option("--daily-quota", type=click.IntRange(1), default=10_000, show_default=True,
              metavar="N", help="The instance's API calls a day (SOAP: 10,000; REST: 10,000 "
                                "at least, often 50,000: ask Marketo).")
@click.option("--no-preflight", is_flag=True,
              help="Skip the read-only checks of campaigns, workspaces and fields before the "
                   "first write (not recommended).")
@click.option("-q", "--quiet", is_flag=True, help="Only failures and the summary.")
@click.option("-v", "--verbose", is_flag=True, help="Also print each retry.")
def run(playbook: Path, sandbox: bool, api: str | None, sandbox_db: Path,
        sandbox_fixture: Path | None, var: tuple[str, ...],
        vars_file: tuple[Path, ...], secrets_file: Path | None, wsdl: str | None, report: Path,
        junit: Path | None, markdown: Path | None, concurrency: int, rate: str, retries: int,
        retry_backoff: float, deadline: str | None, call_timeout: str, read_timeout: str,
        on_ambiguous: str, max_failures: str | None, only: tuple[str, ...],
        skip: tuple[str, ...], tags: tuple[str, ...], limit_items: int | None,
        allow_insecure_http: bool, allow_over_quota: bool, daily_quota: int,
        no_preflight: bool, quiet: bool,
        verbose: bool) -> int:
    """Validate PLAYBOOK completely, then send its steps in order."""
    from runner import options as opts
    from runner import runs
    from runner.console import Console
    from runner.prepare import prepare
    from runner.ratelimit import Rate
    from runner.retry import RetryPolicy
    from runner.target import secret

    try:
        parsed_rate = Rate.parse(rate)
    except ValueError as exc:
        raise UsageError(f"--rate: {exc}") from None
    try:
        tolerated = None if max_failures is None else opts.MaxFailures.parse(max_failures)
    except ValueError as exc:
        raise UsageError(f"--max-failures {exc}") from None
    if sandbox_fixture is not None and not sandbox:
        raise UsageError("--sandbox-fixture is for a run on the sandbox: add --sandbox")
    options = opts.RunOptions(
        playbook=playbook, wsdl=wsdl or _default_wsdl(), cli_vars=_parse_vars(var),
        vars_files=vars_file, secrets_file=secrets_file, sandbox=sandbox, api=api,
        sandbox_db=sandbox_db, sandbox_fixture=sandbox_fixture,
        selection=opts.Selection(_ids(only), _ids(skip), _ids(tags), limit_items),
        sending=opts.Sending(
            concurrency=concurrency, rate=parsed_rate,
            policy=RetryPolicy(max_attempts=retries + 1, base_s=retry_backoff),
            deadline_s=_duration(deadline),
            read_timeout_s=_duration(read_timeout, "--read-timeout") or 60.0,
            call_timeout_s=_duration(call_timeout, "--timeout") or 300.0,
            continue_on_ambiguous=on_ambiguous == "continue", max_failures=tolerated),
        reports=opts.Reports(report, junit, markdown),
        allow_insecure_http=allow_insecure_http, allow_over_quota=allow_over_quota,
        preflight=not no_preflight, daily_quota=daily_quota)
    plan = prepare(options)
    _ACTIVE_REDACTOR.append(plan.redactor)
    _check_quota(plan, options.allow_over_quota)
    console = Console(plan.redactor, quiet=quiet, verbose=verbose)
    console.expect(plan)
    with _target(options, plan) as target:
        _ACTIVE_REDACTOR.append(plan.redactor.with_values(secret(target)))
        _settled()
        return exit_code(runs.start(options, plan, target, console))


def _settled() -> None:
    """What start-up and the dry pass built lives until the process exits: out of the
    collector's way, the full collections that sending triggers scan only what sending made
    (they took 16-36 ms each in the bulk job's first window), and exit frees no more than
    it must. Only in the command's own process: the Python API, or a test calling main(),
    leaves its caller's collector alone."""
    if _OWN_PROCESS == [True]:
        import gc

        gc.freeze()


@cli.command()
@click.argument("run_ref", metavar="RUN")
@click.option("--accept-ambiguous", is_flag=True,
              help="Resend calls whose outcome is unknown (check Marketo first).")
@click.option("--on-ambiguous", type=click.Choice(["stop", "continue"]),
              help="Override the run's choice: stop at, or go past, a call whose outcome is "
                   "unknown.")
@click.option("--report", type=_PathType(dir_okay=False),
              help="Write results.json here instead of where the run first wrote it.")
@click.option("--junit", type=_PathType(dir_okay=False),
              help="Write JUnit XML here instead of the run's own path.")
@click.option("--markdown", type=_PathType(dir_okay=False),
              help="Write the Markdown summary here instead of the run's own path.")
@click.option("-q", "--quiet", is_flag=True)
@click.option("-v", "--verbose", is_flag=True)
def resume(run_ref: str, accept_ambiguous: bool, on_ambiguous: str | None, report: Path | None,
           junit: Path | None, markdown: Path | None, quiet: bool, verbose: bool) -> int:
    """Continue run RUN (an id under .mktows/runs/ or a directory) from its journal.

    Calls that finished are not sent again; the run is refused if the playbook, variables,
    data files or WSDL changed since it ran.
    """
    from runner import runs
    from runner.console import Console
    from runner.options import Reports
    from runner.prepare import prepare

    console = Console(quiet=quiet, verbose=verbose)
    with runs.open_past(run_ref) as past_run:
        options = runs.resume_options(
            past_run.options, accept_ambiguous=accept_ambiguous,
            continue_on_ambiguous=None if on_ambiguous is None else on_ambiguous == "continue",
            reports=Reports(report, junit, markdown))
        plan = prepare(options)
        _ACTIVE_REDACTOR.append(plan.redactor)
        console.redact = plan.redactor  # the run's secrets are known only now
        console.expect(plan)
        with _target(options, plan) as target:
            _settled()
            return exit_code(runs.resume(past_run, options, plan, target, console))


@cli.command()
@click.argument("results", type=_PathType(exists=True, dir_okay=False))
@click.option("--junit", type=_PathType(dir_okay=False))
@click.option("--markdown", type=_PathType(dir_okay=False))
def report(results: Path, junit: Path | None, markdown: Path | None) -> int:
    """Render RESULTS (a results.json) again as JUnit XML and/or Markdown."""
    from runner.report import rerender
    from runner.secrets import Redactor

    if junit is None and markdown is None:
        raise UsageError("say what to write: --junit PATH and/or --markdown PATH")
    rerender(results, junit, markdown, Redactor())
    return ExitCode.OK


_format_opt = click.option("--format", "fmt", type=click.Choice(["text", "json", "github"]),
                           default="text", show_default=True,
                           help="How problems are printed (github: workflow annotations).")


def _check_quota(plan: Plan, allow: bool) -> None:
    from runner import planview

    if plan.quota_calls <= plan.daily_quota:
        return
    said = planview.quota_warning(plan.quota_calls, plan.daily_quota)
    if not allow:  # refused up front: a job the quota cuts in half is worse than none
        raise UsageError(said)
    click.secho(f"warning: {said}", err=True, fg="yellow")


def _print_problems(problems: list[Any], fmt: str) -> None:
    import json

    from runner import planview

    if fmt == "json":
        click.echo(json.dumps(planview.problems_json(problems), indent=2))
    elif fmt == "github":
        click.echo(planview.problems_github(problems))


@cli.command()
@click.argument("playbooks", nargs=-1, required=True,
                type=_FilePath(exists=True, dir_okay=False))
@_var_opt
@_vars_file_opt
@_secrets_file_opt
@_wsdl_opt
@_api_opt
@_format_opt
def validate(playbooks: tuple[Path, ...], var: tuple[str, ...], vars_file: tuple[Path, ...],
             secrets_file: Path | None, wsdl: str | None, api: str | None, fmt: str) -> int:
    """Check PLAYBOOKS completely (schema, Marketo rules, variables, data, XSD); send nothing."""
    from runner import planview
    from runner.console import Console
    from runner.prepare import prepare

    problems = []
    for path in playbooks:
        try:
            prepared = prepare(_check_options(path, wsdl, var, vars_file, secrets_file, api))
        except PlaybookError as exc:
            problems += exc.problems
            continue
        if prepared.quota_calls > prepared.daily_quota:  # valid, but a run would refuse it
            click.secho(f"warning: {path}: "
                        f"{planview.quota_warning(prepared.quota_calls, prepared.daily_quota)}",
                        err=True, fg="yellow")
    if problems:
        if fmt != "text":
            _print_problems(problems, fmt)
            return ExitCode.INVALID
        raise PlaybookError(problems)
    if fmt == "json":
        click.echo("[]")
    Console().info(f"{len(playbooks)} playbook(s) valid")
    return ExitCode.OK


@cli.command()
@_playbook_arg
@_var_opt
@_vars_file_opt
@_secrets_file_opt
@_wsdl_opt
@_api_opt
@click.option("--envelopes", type=_PathType(file_okay=False),
              help="Write every call's envelope here (signature and secrets redacted).")
@click.option("--markdown", type=_PathType(dir_okay=False),
              help="Write a summary for a pull-request comment.")
@click.option("--preflight", is_flag=True,
              help="Also check, with read-only calls, that every campaign, workspace and field "
                   "the writes depend on exists (needs the target's credentials, or --sandbox).")
@click.option("--sandbox", is_flag=True,
              help="With --preflight: check against the sandbox; with --out: apply to it.")
@click.option("--sandbox-db", type=_PathType(dir_okay=False),
              default=SANDBOX_DB, show_default=True, help="The sandbox's lead database.")
@click.option("--out", type=_PathType(dir_okay=False), metavar="FILE",
              help="Save the plan (no secret in it) for `mktows-run apply FILE`.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="How the plan is printed (json: for machines).")
@click.option("--daily-quota", type=click.IntRange(1), default=10_000, show_default=True,
              metavar="N", help="The instance's API calls a day, to compare the plan with.")
@_only_opt
@_skip_opt
@_tags_opt
@_limit_items_opt
def plan(playbook: Path, var: tuple[str, ...], vars_file: tuple[Path, ...],
         secrets_file: Path | None, wsdl: str | None, api: str | None, envelopes: Path | None,
         markdown: Path | None, preflight: bool, sandbox: bool, sandbox_db: Path,
         out: Path | None, fmt: str, daily_quota: int, only: tuple[str, ...],
         skip: tuple[str, ...],
         tags: tuple[str, ...], limit_items: int | None) -> int:
    """List every call PLAYBOOK would make, without the network (with --preflight: and check,
    with read-only calls, that everything the writes depend on exists in Marketo)."""
    from dataclasses import replace

    from runner import planview, saved_plan
    from runner.envelope_files import EnvelopeWriter
    from runner.errors import StorageError
    from runner.prepare import prepare
    from runner.report import files

    # Checked before the work (exit 2), not found out half-way through writing.
    if envelopes is not None:
        files.check_folder(envelopes, "--envelopes")
    if markdown is not None:
        files.check_file(markdown, "--markdown")
    if out is not None:
        files.check_file(out, "--out")
    writer = EnvelopeWriter(envelopes) if envelopes else None
    digest = saved_plan.Digest()

    def on_call(call: Any) -> None:
        digest(call)
        if writer is not None:
            writer.write(call)

    try:
        from runner.options import Selection

        options = replace(_check_options(playbook, wsdl, var, vars_file, secrets_file, api),
                          sandbox=sandbox or not preflight, sandbox_db=sandbox_db,
                          selection=Selection(_ids(only), _ids(skip), _ids(tags), limit_items),
                          daily_quota=daily_quota)
        prepared = prepare(options, on_call=on_call)
    except OSError as exc:  # a full disk half-way through the envelopes
        if envelopes is None or not str(exc.filename or "").startswith(str(envelopes)):
            raise
        raise StorageError(exc.filename, exc) from None
    checked = _preflight_plan(options, prepared) if preflight else None
    if fmt == "json":
        import json

        click.echo(json.dumps(prepared.redactor.tree(planview.as_json(prepared, checked)),
                              indent=2))
    else:
        click.echo(prepared.redactor(planview.text(prepared)
                                     + (f"\n{checked}" if checked else "")))
    if markdown is not None:
        try:
            files.write_text(markdown, prepared.redactor(
                planview.markdown(prepared) + (f"\n{checked}\n" if checked else "")))
        except OSError as exc:
            raise StorageError(markdown, exc) from None
    if writer is not None:
        click.echo(f"{writer.count} envelope(s) written to {envelopes}", err=True)
    if out is not None:
        from runner import runs

        # What apply will run: sending, against the sandbox or the playbook's own target.
        applied = replace(options, sandbox=sandbox, sends=True, preflight=True)
        try:
            saved_plan.write(out, applied, runs.input_hashes(prepared, applied), digest,
                             prepared.api, checked, files.write_text)
        except OSError as exc:
            raise StorageError(out, exc) from None
        click.echo(f"plan saved to {out}: apply it with `mktows-run apply {out}`", err=True)
    return ExitCode.OK


@cli.command()
@click.argument("plan_file", metavar="PLAN", type=_FilePath(exists=True, dir_okay=False))
@click.option("--max-age", default="24h", show_default=True, metavar="DURATION",
              help="Refuse a plan older than this.")
@click.option("--report", type=_PathType(dir_okay=False),
              help="Where to write results.json (default: as the plan said).")
@click.option("-q", "--quiet", is_flag=True)
@click.option("-v", "--verbose", is_flag=True)
def apply(plan_file: Path, max_age: str, report: Path | None, quiet: bool, verbose: bool) -> int:
    """Send exactly the calls of a plan saved with `plan --out`: refused, saying what changed,
    if the playbook, variables, data files, WSDL or any step's calls differ, or it is too old.
    Journals, resumes and reports like a run."""
    from dataclasses import replace
    from datetime import datetime

    from runner import runs, saved_plan
    from runner.console import Console
    from runner.prepare import prepare
    from runner.target import secret

    document = saved_plan.read(plan_file)
    options = saved_plan.options_of(document)
    if report is not None:
        options = replace(options, reports=replace(options.reports, results=report))
    digest = saved_plan.Digest()
    plan = prepare(options, on_call=digest)
    reasons = saved_plan.stale(document, runs.input_hashes(plan, options), digest, plan.api,
                               _duration(max_age, "--max-age") or 0.0,
                               datetime.now().astimezone())
    if reasons:
        raise UsageError(f"the plan {plan_file} no longer describes this run: "
                         f"{'; '.join(reasons)}; nothing was sent (plan again and review it)")
    _ACTIVE_REDACTOR.append(plan.redactor)
    _check_quota(plan, options.allow_over_quota)
    console = Console(plan.redactor, quiet=quiet, verbose=verbose)
    console.expect(plan)
    with saved_plan.applying_once(plan_file), _target(options, plan) as target:
        _ACTIVE_REDACTOR.append(plan.redactor.with_values(secret(target)))
        _settled()
        return exit_code(runs.start(options, plan, target, console))


class _SandboxGroup(_DefaultTo):
    default = "serve"
    when_empty = True


@cli.group(cls=_SandboxGroup)
def sandbox() -> None:
    """The local Marketo: serve it, look inside it, reset it.

    \b
    mktows-run sandbox [serve] [--port N] [--db PATH] [--fixture FILE] [--strict] [--fault K=R]
    mktows-run sandbox leads|runs|requests|programs [--db PATH] [--json] [--last N]
    mktows-run sandbox reset [--db PATH] [--fixture FILE]
    """


_db_opt = click.option("--db", type=_PathType(dir_okay=False),
                       default=SANDBOX_DB, show_default=True, help="The lead database.")
_fixture_opt = click.option(
    "--fixture", type=_PathType(exists=True, dir_okay=False),
    help="YAML fixture: users, settings, fields, programs, campaigns (default: bundled).")


@sandbox.command("serve")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="TCP port (0: any free port).")
@click.option("--host", default="127.0.0.1", show_default=True)
@_db_opt
@_fixture_opt
@click.option("--strict/--lenient", default=None,
              help="--strict: validate every request against the WSDL (20012). Default "
                   "(--lenient): like production, ignore unknown elements and log them.")
@click.option("--no-limits", is_flag=True, help="Switch off rate, concurrency and quota limits.")
@click.option("--rate-limit", metavar="CALLS/WINDOW", help="e.g. 100/2s (default 100/20s).")
@click.option("--seed", type=int, help="Seed of the fault injection (same seed, same faults).")
@click.option("--fault", "faults", multiple=True, metavar="KIND=RATE",
              help="Inject faults: http500, http503, drop_before, drop_after, slow, fault20016, "
                   "fault20023, fault20024, http502_after, http504_after (processed, then a "
                   "gateway's 502/504) (e.g. --fault drop_after=0.05).")
@click.option("--token-lifetime", type=click.FloatRange(0), metavar="SECONDS",
              help="REST access token lifetime (default 3600).")
@click.option("--rest-quota", type=click.IntRange(0), metavar="N",
              help="REST calls a day before 607 (default 50000).")
def sandbox_serve(port: int, host: str, db: Path, fixture: Path | None, strict: bool | None,
                  no_limits: bool, rate_limit: str | None, seed: int | None,
                  faults: tuple[str, ...], token_lifetime: float | None,
                  rest_quota: int | None) -> int:
    """Serve the sandbox in the foreground (Ctrl-C stops it)."""
    from runner import sandbox as box
    from runner.ratelimit import Rate

    try:
        changes: dict[str, Any] = dict(box.parse_fault(f) for f in faults)
        if seed is not None:
            changes["seed"] = seed
        if strict is not None:  # else the fixture's config.strict (default: lenient)
            changes["strict"] = strict
        if rate_limit:
            rate = Rate.parse(rate_limit)
            changes.update(rate_limit_calls=rate.calls or None,
                           rate_limit_window=rate.window_s or 20.0)
        if token_lifetime is not None:
            changes["rest_token_lifetime"] = token_lifetime
        if rest_quota is not None:
            changes["rest_daily_quota"] = rest_quota
        config = box.fixture_config(fixture).override(**changes)
        if no_limits:
            config = config.without_limits()
    except ValueError as exc:
        raise UsageError(str(exc)) from None

    def ready(info: Any) -> None:
        click.echo(f"mktows sandbox listening\n  endpoint:       {info.endpoint}\n"
                   f"  WSDL:           {info.endpoint}?WSDL (API 2_2: "
                   f"{info.endpoint_of('2_2')}?WSDL)\n  user id:        {info.user_id}\n"
                   f"  encryption key: {info.encryption_key}\n  database:       {info.db_path}\n"
                   f"  mode:           {'strict' if info.config.strict else 'lenient'}"
                   + (f", faults {', '.join(faults)}" if faults else ""))
        click.echo("\n".join(box.rest_lines(info)))

    box.serve(db, fixture, host=host, port=port, on_ready=ready, config=config)
    return ExitCode.OK


def _show_command(view: str) -> None:
    @sandbox.command(view, help=f"Print the sandbox's {view}.")
    @_db_opt
    @click.option("--json", "as_json", is_flag=True, help="JSON lines instead of a table.")
    @click.option("--last", type=click.IntRange(1), help="Only the last N.")
    def show(db: Path, as_json: bool, last: int | None) -> int:
        from runner import sandbox as box

        click.echo(box.show(db, view, as_json=as_json, last=last))
        return ExitCode.OK


for _view in ("leads", "runs", "requests", "programs"):
    _show_command(_view)


@sandbox.command("reset")
@_db_opt
@_fixture_opt
def sandbox_reset(db: Path, fixture: Path | None) -> int:
    """Empty the database and put the fixture's seed leads back."""
    from runner import sandbox as box

    box.reset(db, fixture)
    click.echo(f"sandbox database {db} reset", err=True)
    return ExitCode.OK


@cli.command()
def schema() -> int:
    """Print the playbook JSON Schema (for editors and other tools)."""
    from runner.resources import playbook_schema_path

    click.echo(playbook_schema_path().read_text(encoding="utf-8"), nl=False)
    return ExitCode.OK


@cli.command()
@click.argument("directory", required=False, default=".",
                type=_PathType(file_okay=False))
@click.option("--force", is_flag=True,
              help="Overwrite the scaffold's files if they exist (.gitignore is only added to).")
def init(directory: Path, force: bool) -> int:
    """Start a playbook project in DIRECTORY (default: here).

    Writes a commented playbook, its JSON Schema for editors, a sample CSV and a .gitignore,
    then prints the next commands. Existing files are never overwritten without --force.
    """
    from runner import scaffold

    click.echo(scaffold.describe(scaffold.create(directory, force=force)))
    return ExitCode.OK


def _preflight_plan(options: RunOptions, plan: Plan) -> str:
    """plan --preflight: the run's read-only checks, without a run; exit 2 on a problem."""
    from datetime import datetime

    from runner.ratelimit import RateLimiter
    from runner.runs import read_before_writing
    from runner.senders import sender_for
    from runner.target import secret
    from runner.transport import HttpTransport

    with _target(options, plan) as target:
        transport = HttpTransport()
        try:
            sender = sender_for(target, plan.schema, transport,
                                RateLimiter(options.sending.rate),
                                plan.redactor.with_values(secret(target)),
                                lambda: datetime.now().astimezone())
            findings = read_before_writing(plan, sender, options.sending)
        finally:
            transport.close()
    if findings.problems:
        raise PlaybookError(sorted(findings.problems, key=lambda p: p.location))
    return findings.line()


def main(argv: list[str] | None = None) -> None:
    code: int
    # The process's own command (its arguments from sys.argv), not a caller's in-process use.
    _OWN_PROCESS[:] = [argv is None]
    try:
        ret = cli.main(args=argv, prog_name="mktows-run", standalone_mode=False)
        code = int(ret) if isinstance(ret, int) else ExitCode.OK
    except PlaybookError as exc:
        from runner.console import Console

        Console().problems(exc.problems)
        code = ExitCode.INVALID
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.format_message())  # `mktows-run` alone: the help, not an error
        code = ExitCode.OK
    except UsageError as exc:
        click.secho(f"error: {_redacted(str(exc))}", err=True, fg="red")
        code = ExitCode.INVALID
    except click.UsageError as exc:  # format_message names the option (--concurrency: ...)
        click.secho(f"error: {exc.format_message()}", err=True, fg="red")
        code = ExitCode.INVALID
    except click.ClickException as exc:
        exc.show()
        code = ExitCode.INVALID
    except (KeyboardInterrupt, click.Abort):
        click.echo("interrupted", err=True)  # a second Ctrl-C: the journal has every outcome
        code = ExitCode.INTERRUPTED
    except RunnerError as exc:
        click.secho(f"error: {_redacted(str(exc))}", err=True, fg="red")
        code = ExitCode.STEP_FAILED
    except Exception:
        import traceback

        click.secho("mktows-run hit an internal error; please report it with this output:",
                    err=True, fg="red")
        click.echo(_redacted(traceback.format_exc(limit=-8)), err=True)
        code = ExitCode.INTERNAL
    sys.exit(code)
