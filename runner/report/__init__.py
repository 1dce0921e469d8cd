"""Reports rendered from a RunResult: pure formatting, always through the redactor.

results.json is the record; JUnit and Markdown are rendered from the same RunResult, now by
`write_all` or later from results.json alone by `rerender`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from runner.errors import StorageError, UsageError
from runner.model import RunResult
from runner.report import files, github, json_writer, junit_writer, markdown_writer
from runner.report.facts import Redact
from runner.secrets import Redactor

__all__ = ["Prerendered", "Unwritten", "rerender", "write_all"]

Prerendered = json_writer.Prerendered


@dataclass(frozen=True)
class Unwritten:
    """A report that could not be written where it was asked for."""

    path: Path
    reason: str  # e.g. "No space left on device"
    instead: Path | None  # where it was written instead; None: nowhere


# The name a report takes in a fallback folder, whatever the user called it (a --markdown
# named journal.jsonl must not land on the journal).
FALLBACK_NAMES = {"results": "results.json", "junit": "junit.xml", "markdown": "summary.md"}


def write_all(result: RunResult, *, results_path: Path | None, junit_path: Path | None = None,
              markdown_path: Path | None = None, redact: Redactor, env: Mapping[str, str],
              out: TextIO, fallbacks: Sequence[Path] = (),
              rendered: dict[str, str] | None = None,
              prerendered: json_writer.Prerendered | None = None) -> list[Unwritten]:
    """Every report a run asks for, plus the GitHub summary and annotations inside Actions.

    A report that cannot be written (disk full, read-only, permission) goes to the first of
    `fallbacks` (folders) that takes it, and is listed in the answer; with no fallbacks the
    first failure raises StorageError. Either way the other reports are still attempted.

    `rendered` keeps the text of results.json and JUnit between calls for the same result and
    redactor (a run writes results.json twice: its folder's copy and the one asked for);
    `prerendered` holds the calls' part of results.json, written as they settled."""
    unwritten: list[Unwritten] = []
    memo = rendered if rendered is not None else {}

    def put(kind: str, path: Path, render: Callable[[], str]) -> None:
        text = memo.get(kind)
        if text is None:
            text = render()
            if kind != "markdown":  # (its links depend on `env`)
                memo[kind] = text
        try:
            files.write_text(path, text)
            return
        except OSError as exc:
            if not fallbacks:
                raise StorageError(path, exc) from None
            reason = exc.strerror or str(exc)
        for folder in fallbacks:
            instead = folder / FALLBACK_NAMES[kind]
            try:
                files.write_text(instead, text)
            except OSError:
                continue
            unwritten.append(Unwritten(path, reason, instead))
            return
        unwritten.append(Unwritten(path, reason, None))

    if results_path is not None:
        put("results", results_path, lambda: json_writer.render(result, redact, prerendered))
    if junit_path is not None:
        put("junit", junit_path, lambda: junit_writer.render(result, redact))
    if markdown_path is not None or env.get("GITHUB_STEP_SUMMARY"):
        markdown = markdown_writer.render(result, redact, link=github.source_link(env))
        if markdown_path is not None:
            put("markdown", markdown_path, lambda: markdown)
        try:
            github.append_step_summary(markdown, env)
        except OSError as exc:
            summary = Path(env.get("GITHUB_STEP_SUMMARY", ""))
            if not fallbacks:
                raise StorageError(summary, exc) from None
            unwritten.append(Unwritten(summary, exc.strerror or str(exc), None))
    if env.get("GITHUB_ACTIONS") == "true":
        for line in github.annotations(result, redact, env):
            print(line, file=out)
    return unwritten


def rerender(results_path: Path, junit_path: Path | None, markdown_path: Path | None,
             redact: Redact) -> None:
    """`mktows-run report results.json --junit F --markdown F`: the reports again, no run."""
    result = json_writer.read(results_path)  # UsageError when it is not a results.json
    try:
        if junit_path is not None:
            files.write_text(junit_path, junit_writer.render(result, redact))
        if markdown_path is not None:
            files.write_text(markdown_path, markdown_writer.render(result, redact))
    except OSError as exc:
        raise UsageError(f"cannot write {exc.filename}: {exc.strerror or exc}") from None
