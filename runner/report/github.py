"""GitHub Actions: error annotations on the playbook lines, and the job summary.

Workflow commands are parsed from the job log, so every value is escaped by the runner's
rules: a newline in a fault message must not end the command, and a `,` or `:` in a title
must not start a new property.
"""

# No `from __future__ import annotations` here: it would clash with the function of that name
# (Python 3.11 evaluates these annotations fine without it).
import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from runner.model import RunResult
from runner.report import facts
from runner.report.facts import Redact
from runner.report.markdown_writer import Link, relative_link

# GitHub shows at most 10 error annotations per step; the last slot says how many more.
MAX_ANNOTATIONS = 10


def escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def repo_path(file: str, env: Mapping[str, str]) -> str:
    """The playbook's path from the repository root, which annotations and links need."""
    workspace = env.get("GITHUB_WORKSPACE")
    if workspace:
        rel = os.path.relpath(os.path.abspath(file), workspace)
        if not rel.startswith(".."):
            return Path(rel).as_posix()
    return Path(file).as_posix()


def annotations(result: RunResult, redact: Redact,
                env: Mapping[str, str] | None = None) -> list[str]:
    """One `::error` per failed or ambiguous step, pointing at the step's line."""
    file = escape_property(redact(repo_path(result.playbook, env or {})))
    lines = []
    for step in (s for s in result.steps if s.status in ("failed", "ambiguous")):
        first = step.failure
        assert first is not None  # a failed or ambiguous step has a failed or ambiguous call
        title = f"mktows-run: step {step.id} ({step.operation}) {step.status}"
        where = f"{first.label}: " if first.label else ""
        lines.append(f"::error file={file},line={step.line},title={escape_property(redact(title))}"
                     f"::{escape_data(redact(where + facts.problem(first)))}")
    if len(lines) > MAX_ANNOTATIONS:
        more = len(lines) - MAX_ANNOTATIONS + 1
        lines[MAX_ANNOTATIONS - 1:] = [
            f"::error title=mktows-run::{more} more steps did not succeed: see the job summary"]
    if result.interrupted:
        lines.append("::warning title=mktows-run::the run was interrupted before it finished")
    return lines


def source_link(env: Mapping[str, str]) -> Link:
    """Links to the playbook at the commit being built, or relative links outside Actions."""
    server, repo, sha = (env.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_SHA"))
    if not (server and repo and sha):
        return relative_link

    def link(file: str, line: int) -> str:
        return f"{server}/{repo}/blob/{sha}/{quote(repo_path(file, env))}#L{line}"

    return link


def append_step_summary(markdown: str, env: Mapping[str, str]) -> bool:
    """Appends to $GITHUB_STEP_SUMMARY when it is set; says whether it did."""
    target = env.get("GITHUB_STEP_SUMMARY")
    if not target:
        return False
    with open(target, "a", encoding="utf-8") as summary:
        # Other tools append here too: start on a fresh line and leave one.
        summary.write("\n" + markdown.rstrip("\n") + "\n")
    return True
