"""`mktows-run init`: the files of a new playbook project, written without overwriting.

The scaffold is a commented playbook with its JSON Schema beside it (the editor modeline
points there), a small CSV it reads, and a `.gitignore` for local state and reports. It
must validate and run on the sandbox exactly as written (tests/test_init.py runs it).
No click here: the command in runner/cli.py only prints what `create` returns.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from runner.errors import UsageError
from runner.resources import playbook_schema_path

# Inside playbooks/: the pre-commit hook (.pre-commit-hooks.yaml) and the GitHub workflow
# (docs/examples/mktows-run.yml) look for playbooks there.
PLAYBOOK = Path("playbooks") / "welcome-new-leads.yml"
SCHEMA = Path("playbooks") / "playbook.schema.json"
DATA = Path("playbooks") / "data" / "new-leads.csv"
GITIGNORE = Path(".gitignore")

PLAYBOOK_TEXT = """\
# yaml-language-server: $schema=playbook.schema.json
#
# A mktows-run playbook: Marketo changes kept in git, checked completely before the first
# request is sent. `mktows-run init` wrote it; make it yours.
#
#     mktows-run validate playbooks/welcome-new-leads.yml    # schema, Marketo's rules, data; no network
#     mktows-run plan playbooks/welcome-new-leads.yml        # every call it would make
#     mktows-run playbooks/welcome-new-leads.yml --sandbox   # run it on the local sandbox
#
# The modeline above gives editors completion and checks from playbook.schema.json, the
# schema the validator itself uses; after upgrading mktows-run, refresh it with
#     mktows-run schema > playbooks/playbook.schema.json
version: 1
name: Import new leads and welcome them

# Where the calls go. --sandbox replaces this block with the local sandbox. Credentials are
# never written here: ${env.NAME} and ${secret.NAME} are read from the environment (in CI,
# from the repository's secrets), and secrets are masked in every output.
target:
  endpoint: ${env.MKTOWS_ENDPOINT}        # https://<munchkin-id>.mktoapi.com/soap/mktows/3_1
  userId: ${env.MKTOWS_USER_ID}
  encryptionKey: ${secret.MKTOWS_ENCRYPTION_KEY}

# Variables, read as ${vars.name}; override one with --var campaign="Another Campaign".
# The sandbox has this program and trigger campaign; use your instance's names for real runs.
vars:
  program: Welcome Program
  campaign: Welcome Email

steps:
  # 1. Create or update every lead of the file, matched on Email. The runner batches the
  #    rows (300 records a call) and checks each one against `columns` before sending.
  - id: import
    name: Create or update the leads in the file
    loop:
      file: data/new-leads.csv                  # relative to this playbook
      columns:
        - {name: Email, required: true}
        - {name: FirstName}
        - {name: LastName}
        - {name: Company}
        - {name: Country}
    syncMultipleLeads:
      dedupEnabled: true
      leadRecordList:
        - Email: ${item.Email}
          leadAttributeList:                    # the fields' SOAP API names
            FirstName: ${item.FirstName}
            LastName: ${item.LastName}
            Company: ${item.Company}
            Country: ${item.Country}

  # 2. Put each lead through a trigger campaign ("Campaign is Requested", source Web
  #    Service API), 100 leads a call. Campaign calls are never resent on a guess: an
  #    unknown outcome stops the run, and `mktows-run resume` takes it from there.
  #    Try one lead first with --limit-items 1, or leave this step out with --skip welcome.
  - id: welcome
    name: Request the welcome campaign for each lead
    tags: [campaigns]
    loop:
      file: data/new-leads.csv
      columns: [{name: Email, required: true}]
    requestCampaign:
      programName: ${vars.program}
      campaignName: ${vars.campaign}
      leadList:
        - keyType: EMAIL
          keyValue: ${item.Email}
"""

DATA_TEXT = """\
Email,FirstName,LastName,Company,Country
ada.lovelace@example.com,Ada,Lovelace,Analytical Engines Ltd,GB
grace.hopper@example.com,Grace,Hopper,Harvard Mark I,US
edsger.dijkstra@example.com,Edsger,Dijkstra,Mathematisch Centrum,NL
"""

# One pattern a line, so an existing .gitignore can be completed line by line.
GITIGNORE_LINES = (".mktows/", "results.json", "junit.xml", "summary.md")
GITIGNORE_HEADER = "# mktows-run: local sandbox, run journals, and reports"


@dataclass(frozen=True)
class Scaffold:
    """What `create` did, with paths relative to `root`."""

    root: Path
    written: tuple[Path, ...]  # every file of the scaffold but .gitignore
    overwritten: tuple[Path, ...]  # those of them that existed (--force)
    gitignore: str  # "created", "updated" or "unchanged"


def _files() -> dict[Path, str]:
    # The schema is read at call time, from the same file `mktows-run schema` prints.
    return {PLAYBOOK: PLAYBOOK_TEXT, SCHEMA: playbook_schema_path().read_text(encoding="utf-8"),
            DATA: DATA_TEXT}


def _gitignore_text(existing: str | None) -> str | None:
    """The .gitignore to write, or None when it already ignores everything. An existing file
    is only added to, never replaced: it holds the project's own patterns."""
    if existing is None:
        return "\n".join((GITIGNORE_HEADER, *GITIGNORE_LINES)) + "\n"
    present = {line.strip() for line in existing.splitlines()}
    missing = [line for line in GITIGNORE_LINES if line not in present]
    if not missing:
        return None
    sep = "" if not existing or existing.endswith("\n") else "\n"
    return existing + sep + "\n".join(("", GITIGNORE_HEADER, *missing)) + "\n"


def create(root: Path, *, force: bool = False) -> Scaffold:
    """Write the scaffold under `root` (created if missing). Refused, before anything is
    written, when one of its files exists and `force` is false."""
    if root.exists() and not root.is_dir():
        raise UsageError(f"init: {root} is not a directory")
    files = _files()
    # is_symlink too: a dangling link does not "exist", but writing would follow it.
    taken = [rel for rel in files if (root / rel).exists() or (root / rel).is_symlink()]
    blocked = [rel for rel in taken if (root / rel).is_dir()]
    if blocked:
        raise UsageError("init: cannot write over a directory: "
                         + ", ".join(str(root / rel) for rel in blocked))
    if taken and not force:
        raise UsageError("init: these files exist already: "
                         + ", ".join(str(root / rel) for rel in taken)
                         + " (nothing was written; --force overwrites them)")
    ignore = root / GITIGNORE
    if ignore.is_dir():
        raise UsageError(f"init: {ignore} is a directory")
    old_ignore = ignore.read_text(encoding="utf-8") if ignore.exists() else None

    new_ignore = _gitignore_text(old_ignore)
    writes = [*files.items(), *([(GITIGNORE, new_ignore)] if new_ignore is not None else [])]
    for rel, text in writes:
        path = root / rel
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.is_symlink():
                path.unlink()  # replace the link itself, not the file it points at
            path.write_text(text, encoding="utf-8")
        except OSError as exc:  # read-only, permission, a file where a directory must go
            raise UsageError(f"init: cannot write {path}: "
                             f"{exc.strerror or type(exc).__name__}") from None
    status = ("unchanged" if new_ignore is None else
              "created" if old_ignore is None else "updated")
    return Scaffold(root=root, written=tuple(files), overwritten=tuple(taken), gitignore=status)


def next_commands(root: Path, cwd: Path | None = None) -> list[str]:
    """The three commands to try the scaffold, preceded by a `cd` when `root` is not the
    current directory (runs keep their state in ./.mktows/, which the .gitignore covers)."""
    here = (cwd or Path.cwd()).resolve()
    book = shlex.quote(PLAYBOOK.as_posix())
    lines = [] if root.resolve() == here else [f"cd {shlex.quote(str(root))}"]
    return [*lines, f"mktows-run validate {book}", f"mktows-run plan {book}",
            f"mktows-run {book} --sandbox"]


def describe(done: Scaffold, cwd: Path | None = None) -> str:
    """The report `mktows-run init` prints."""
    lines = [f"{'overwrote' if rel in done.overwritten else 'created'} {done.root / rel}"
             for rel in done.written]
    if done.gitignore != "unchanged":
        lines.append(f"{done.gitignore} {done.root / GITIGNORE}")
    lines += ["", "Next:"] + [f"  {cmd}" for cmd in next_commands(done.root, cwd)]
    lines += ["", f"Then edit {PLAYBOOK.as_posix()}: the comments say what each part does."]
    return "\n".join(lines)
