"""The command line: flags → options → one library call → exit code. The composition root.

Heavy libraries (xmlschema, jsonschema, requests) are imported inside the commands that use
them, so `--help` stays fast.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from runner import __version__
from runner.errors import ExitCode, PlaybookError, RunnerError, UsageError

_COMMANDS = ("run", "validate", "sandbox", "schema")
DEFAULT_SANDBOX_DB = Path(".mktows") / "sandbox.db"


class _DefaultToRun(click.Group):
    """`mktows-run PLAYBOOK` means `mktows-run run PLAYBOOK`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in (
                "--help", "-h", "--version"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_DefaultToRun, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mktows-run")
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


def _read_mapping(path: Path, what: str) -> dict[str, Any]:
    """A --vars-file / --secrets-file: YAML or JSON mapping, or KEY=VALUE lines (dotenv)."""
    from runner.playbook.source import load

    text = path.read_text(encoding="utf-8")
    if what == "secrets" and path.suffix not in (".yml", ".yaml", ".json"):
        pairs = {}
        for n, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, sep, value = line.removeprefix("export ").partition("=")
            if not sep:
                raise UsageError(f"{path}:{n}: expected NAME=VALUE")
            pairs[name.strip()] = value.strip().strip("'\"")
        return pairs
    doc, problems = load(path)
    if problems:
        raise PlaybookError(problems)
    if not isinstance(doc.data, dict):
        raise UsageError(f"{path}: a {what} file must be a mapping of names to values")
    return {str(k): v for k, v in doc.data.items()}


def _options(playbook: Path, wsdl: str | None, var: tuple[str, ...], need_target: bool,
             vars_files: tuple[Path, ...] = (), secrets_file: Path | None = None) -> Any:
    from runner.app import RunOptions

    env = dict(os.environ)
    secrets = dict(env)
    if secrets_file is not None:
        secrets.update({k: str(v) for k, v in _read_mapping(secrets_file, "secrets").items()})
    return RunOptions(playbook=playbook, wsdl=wsdl or _default_wsdl(), env=env, secrets=secrets,
                      cli_vars=_parse_vars(var),
                      file_vars=tuple(_read_mapping(f, "vars") for f in vars_files),
                      need_target=need_target)


_playbook_arg = click.argument("playbook", type=click.Path(exists=True, dir_okay=False,
                                                          path_type=Path))
_wsdl_opt = click.option("--wsdl", metavar="FILE|URL",
                         help="Check envelopes against this WSDL instead of the bundled 3_1 one.")
_var_opt = click.option("--var", multiple=True, metavar="NAME=VALUE",
                        help="Set a playbook variable (repeatable); beats --vars-file and vars:.")
_vars_file_opt = click.option("--vars-file", multiple=True, metavar="PATH",
                              type=click.Path(exists=True, dir_okay=False, path_type=Path),
                              help="YAML/JSON variables (repeatable; a later file wins).")
_secrets_file_opt = click.option(
    "--secrets-file", metavar="PATH", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Secrets for ${secret.NAME}: KEY=VALUE lines or YAML; keep it outside the repository.")


@cli.command()
@_playbook_arg
@click.option("--sandbox", is_flag=True, help="Run against the embedded local sandbox.")
@click.option("--sandbox-db", type=click.Path(dir_okay=False, path_type=Path),
              default=DEFAULT_SANDBOX_DB, show_default=True, help="The sandbox's lead database.")
@_var_opt
@_vars_file_opt
@_secrets_file_opt
@_wsdl_opt
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("results.json"), show_default=True, help="Where to write results.")
@click.option("-q", "--quiet", is_flag=True, help="Only print step lines and the summary.")
def run(playbook: Path, sandbox: bool, sandbox_db: Path, var: tuple[str, ...],
        vars_file: tuple[Path, ...], secrets_file: Path | None, wsdl: str | None, report: Path,
        quiet: bool) -> int:
    """Validate PLAYBOOK, then send its steps in order."""
    from runner import app
    from runner.console import Console
    from runner.report import json_writer
    from runner.transport import HttpTransport

    plan = app.prepare(_options(playbook, wsdl, var, not sandbox, vars_file, secrets_file))
    console = Console(plan.redactor, quiet)
    transport = HttpTransport()
    try:
        if sandbox:
            from runner import sandbox as box
            from runner.secrets import Secret

            with box.running(sandbox_db) as info:
                plan.target = app.Target(info.endpoint, info.user_id, Secret(info.encryption_key))
                plan.redactor.add(info.encryption_key)
                console.info(f"sandbox: {info.endpoint} (user {info.user_id}, db {sandbox_db})")
                result = app.execute(plan, transport, observe=console.call)
        else:
            assert plan.target is not None
            console.info(f"target: {plan.target.endpoint}")
            result = app.execute(plan, transport, observe=console.call)
    finally:
        transport.close()
    json_writer.write(result, plan.playbook.name, report, plan.redactor)
    console.summary(result, str(report))
    return ExitCode.OK if result.ok else ExitCode.STEP_FAILED


_format_opt = click.option("--format", "fmt", type=click.Choice(["text", "json", "github"]),
                           default="text", show_default=True,
                           help="How problems are printed (github: workflow annotations).")


def _print_problems(problems: list[Any], fmt: str) -> None:
    import json

    from runner import planview

    if fmt == "json":
        click.echo(json.dumps(planview.problems_json(problems), indent=2))
    elif fmt == "github":
        click.echo(planview.problems_github(problems))


@cli.command()
@click.argument("playbooks", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_var_opt
@_vars_file_opt
@_wsdl_opt
@_format_opt
def validate(playbooks: tuple[Path, ...], var: tuple[str, ...], vars_file: tuple[Path, ...],
             wsdl: str | None, fmt: str) -> int:
    """Check PLAYBOOKS completely (schema, Marketo rules, variables, data, XSD); send nothing."""
    from runner import app
    from runner.console import Console

    problems = []
    for path in playbooks:
        try:
            app.prepare(_options(path, wsdl, var, False, vars_file))
        except PlaybookError as exc:
            problems += exc.problems
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
@_wsdl_opt
@click.option("--envelopes", type=click.Path(file_okay=False, path_type=Path),
              help="Write every call's envelope here (signature and secrets redacted).")
@click.option("--markdown", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a summary for a pull-request comment.")
def plan(playbook: Path, var: tuple[str, ...], vars_file: tuple[Path, ...], wsdl: str | None,
         envelopes: Path | None, markdown: Path | None) -> int:
    """List every call PLAYBOOK would make, without the network."""
    from runner import app, planview
    from runner.envelope_files import EnvelopeWriter

    writer = EnvelopeWriter(envelopes) if envelopes else None
    prepared = app.prepare(_options(playbook, wsdl, var, False, vars_file),
                           on_call=writer.write if writer else None)
    click.echo(prepared.redactor(planview.text(prepared)))
    if markdown is not None:
        markdown.write_text(prepared.redactor(planview.markdown(prepared)), encoding="utf-8")
    if writer is not None:
        click.echo(f"{writer.count} envelope(s) written to {envelopes}", err=True)
    return ExitCode.OK


@cli.command()
@click.option("--port", type=int, default=8080, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path),
              default=DEFAULT_SANDBOX_DB, show_default=True)
@click.option("--fixture", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML fixture: users, programs, campaigns, fields (default: bundled).")
def sandbox(port: int, host: str, db: Path, fixture: Path | None) -> int:
    """Serve the local Marketo mktows sandbox in the foreground (Ctrl-C stops it)."""
    from runner import sandbox as box

    def ready(info: Any) -> None:
        click.echo(f"mktows sandbox listening\n  endpoint:       {info.endpoint}\n"
                   f"  WSDL:           {info.endpoint}?WSDL\n  user id:        {info.user_id}\n"
                   f"  encryption key: {info.encryption_key}\n  database:       {info.db_path}")

    box.serve(db, fixture, host=host, port=port, on_ready=ready)
    return ExitCode.OK


@cli.command()
def schema() -> int:
    """Print the playbook JSON Schema (for editors and other tools)."""
    from runner.resources import playbook_schema_path

    click.echo(playbook_schema_path().read_text(encoding="utf-8"), nl=False)
    return ExitCode.OK


def main(argv: list[str] | None = None) -> None:
    code: int
    try:
        ret = cli.main(args=argv, prog_name="mktows-run", standalone_mode=False)
        code = int(ret) if isinstance(ret, int) else ExitCode.OK
    except PlaybookError as exc:
        from runner.console import Console

        Console().problems(exc.problems)
        code = ExitCode.INVALID
    except (UsageError, click.UsageError) as exc:
        click.secho(f"error: {exc}", err=True, fg="red")
        code = ExitCode.INVALID
    except click.ClickException as exc:
        exc.show()
        code = ExitCode.INVALID
    except (KeyboardInterrupt, click.Abort):
        click.echo("interrupted", err=True)
        code = ExitCode.INTERRUPTED
    except RunnerError as exc:
        click.secho(f"error: {exc}", err=True, fg="red")
        code = ExitCode.STEP_FAILED
    except Exception:
        click.secho("mktows-run hit an internal error; please report it with this output:",
                    err=True, fg="red")
        click.echo(traceback.format_exc(limit=-8), err=True)
        code = ExitCode.INTERNAL
    sys.exit(code)
