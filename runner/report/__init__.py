"""Reports rendered from a RunResult: pure formatting, always through the redactor.

results.json is the record; JUnit and Markdown are rendered from the same RunResult, now by
`write_all` or later from results.json alone by `rerender`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from runner.errors import UsageError
from runner.model import RunResult
from runner.report import files, github, json_writer, junit_writer, markdown_writer
from runner.report.facts import Redact

__all__ = ["rerender", "write_all"]


def write_all(result: RunResult, *, results_path: Path, junit_path: Path | None = None,
              markdown_path: Path | None = None, redact: Redact, env: Mapping[str, str],
              out: TextIO) -> None:
    """Every report a run asks for, plus the GitHub summary and annotations inside Actions."""
    json_writer.write(result, results_path, redact)
    if junit_path is not None:
        files.write_text(junit_path, junit_writer.render(result, redact))
    if markdown_path is not None or env.get("GITHUB_STEP_SUMMARY"):
        markdown = markdown_writer.render(result, redact, link=github.source_link(env))
        if markdown_path is not None:
            files.write_text(markdown_path, markdown)
        github.append_step_summary(markdown, env)
    if env.get("GITHUB_ACTIONS") == "true":
        for line in github.annotations(result, redact, env):
            print(line, file=out)


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
