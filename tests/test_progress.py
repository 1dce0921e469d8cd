"""Progress on every long loop: a bar redrawn in place on a terminal, a line every tenth of the
loop (or every LINE_EVERY_S seconds) in a log, never a line per call; a group shows its item."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

from runner import console as console_module
from runner.console import Console, Loop
from runner.model import CallResult, Retry, RunResult, StepResult
from tests.conftest import ROOT

# The packaged fixture with Marketo's rate limit and daily quota off: 3,000 calls in seconds.
UNLIMITED = (ROOT / "runner" / "sandbox" / "fixture.yml").read_text().replace(
    "  rateLimit: {calls: 100, windowSeconds: 20}", "  rateLimit: null").replace(
    "  dailyQuota: 10000 ", "  dailyQuota: null ")


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real command in a child process, its output piped (not a terminal)."""
    return subprocess.run([sys.executable, "-m", "runner", *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600, check=False)


def test_a_3000_item_loop_piped_prints_a_few_lines_not_3000(tmp_path):
    assert "rateLimit: null" in UNLIMITED and "dailyQuota: null" in UNLIMITED
    (tmp_path / "fixture.yml").write_text(UNLIMITED)
    (tmp_path / "leads.csv").write_text(
        "Email\n" + "".join(f"lead{i}@example.com\n" for i in range(3000)))
    (tmp_path / "p.yml").write_text(
        "version: 1\nsteps:\n  - id: sync\n    loop: {file: leads.csv}\n"
        "    syncLead: {leadRecord: {Email: '${item.Email}'}}\n")
    done = _cli(tmp_path, "p.yml", "--sandbox", "--sandbox-fixture", "fixture.yml",
                "--rate", "0", "--concurrency", "4")
    assert done.returncode == 0, done.stderr[-2000:]
    progress = [line for line in done.stderr.splitlines() if line.startswith("sync: ")]
    # a tenth of the loop each (and one every 30 s on a very slow machine), not 3,000
    assert 10 <= len(progress) <= 20, done.stderr
    assert len(done.stderr.splitlines()) < 30 and len(done.stdout.splitlines()) < 5
    assert "\r" not in done.stderr  # whole lines in a log, no carriage-return frames
    assert progress[0].startswith("sync: 300/3000 items (10%) · ")
    # (4 calls in flight: the 300th to settle is one of the items around the 300th)
    assert re.search(r" · \d+(\.\d)?/s · ETA \d+(m\d\d)?s · 0 retries · 0 failed · at item "
                     r"\d+ \(leads\.csv:\d+\)$", progress[0]), progress[0]
    assert progress[-1].startswith("sync: 3000/3000 items (100%) · "), progress[-1]
    assert progress[-1].endswith(" · 0 retries · 0 failed")
    assert "1 steps succeeded: 1 ok (3000 calls, 0 retries)" in done.stdout


def _call(n: int, status: str = "ok", retries: int = 0) -> CallResult:
    return CallResult(f"sync/item-{n}", f"item {n} (leads.csv:{n + 1})", status, 1 + retries,
                      0.004, {}, 20103 if status == "failed" else None,
                      "No lead found" if status == "failed" else None,
                      "fault" if status == "failed" else None,
                      [Retry(1, "HTTP 503", 0.5)] * retries)


def test_on_a_terminal_the_bar_is_redrawn_in_place_with_carriage_returns():
    clock = [100.0]
    err, out = io.StringIO(), io.StringIO()
    shown = Console(err=err, stream=out, tty=True, clock=lambda: clock[0], width=160)
    shown.loops = {"sync": Loop("sync", 3000, 0, "items")}
    step = StepResult("sync", "syncLead", "ok", 3)
    for n in range(1, 3001):
        clock[0] += 0.01  # 100 calls a second
        res = _call(n, "failed" if n == 1500 else "ok", retries=1 if n == 10 else 0)
        step.add(res)
        shown.call(step, res)
    shown.summary(RunResult("p.yml", "now", steps=[step]), None)
    text = err.getvalue()
    frames = [f for f in text.split("\r") if f.startswith("sync [")]
    # redrawn at most every REDRAW_S (0.1 s: every 10 calls here), not for every call
    assert 250 <= len(frames) <= 320, len(frames)
    assert all(f.endswith("\x1b[K") for f in frames[:-1])
    assert all(len(f.removesuffix("\x1b[K\n").removesuffix("\x1b[K")) < 160 for f in frames)
    middle = frames[len(frames) // 2]
    assert re.fullmatch(r"sync \[#+\.+\] \d+/3000 items \(\d+%\) · 100(\.0)?/s · ETA \d+s · "
                        r"1 retry · [01] failed · item \d+ \(leads\.csv:\d+\)\x1b\[K", middle)
    last = frames[-1]
    assert last.startswith("sync [" + "#" * console_module.BAR_WIDTH + "] 3000/3000 items "
                           "(100%) · ")
    assert last.removesuffix("\x1b[K\n").endswith(" · in 30s · 1 retry · 1 failed")
    assert last.endswith("\x1b[K\n")  # the last frame stays, on its own line
    # the failure is a line of its own (on stdout), the bar taken off its line first
    assert "\r\x1b[K" in text
    assert "sync item 1500 (leads.csv:1501)" in out.getvalue()
    assert "FAILED" in out.getvalue() and out.getvalue().count("\n") < 10


def test_a_frame_never_wraps_on_a_narrow_terminal():
    err = io.StringIO()
    shown = Console(err=err, stream=io.StringIO(), tty=True, clock=lambda: 1.0, width=50)
    shown.loops = {"sync": Loop("sync", 30, 0, "items")}
    for n in range(1, 31):
        shown.call(StepResult("sync", "syncLead", "ok", 3), _call(n))
    frames = [f.removesuffix("\n").removesuffix("\x1b[K") for f in err.getvalue().split("\r")
              if f]
    assert frames and all(len(f) <= 49 for f in frames)


def test_piped_a_line_every_tenth_and_at_least_every_30_seconds():
    clock = [0.0]
    err = io.StringIO()
    shown = Console(err=err, stream=io.StringIO(), tty=False, clock=lambda: clock[0])
    shown.loops = {"sync": Loop("sync", 100, 0, "items")}
    step = StepResult("sync", "syncLead", "ok", 3)
    for n in range(1, 101):
        clock[0] += 40.0 if n == 5 else 0.01  # a slow call: a line, 30 s after the last
        shown.call(step, _call(n))
    shown.finish()  # nothing more to say: the last line was already the 100th call's
    done = [line.split(" ")[1] for line in err.getvalue().splitlines()]
    assert done == ["5/100", *(f"{n}/100" for n in range(15, 100, 10)), "100/100"]


def test_a_group_shows_its_item_and_which_step(run_cli, tmp_path):
    (tmp_path / "leads.csv").write_text(
        "Email\n" + "".join(f"g{i}@example.com\n" for i in range(15)))
    (tmp_path / "p.yml").write_text("""\
version: 1
steps:
  - id: onboard
    loop: {file: leads.csv}
    steps:
      - id: sync
        syncLead: {leadRecord: {Email: "${item.Email}"}}
      - id: find
        getLead: {leadKey: {keyType: IDNUM, keyValue: "${steps.sync.leadId}"}}
""")
    res = run_cli("p.yml", "--sandbox", "--rate", "0")
    assert res.code == 0, res.err
    progress = [line for line in res.err.splitlines() if line.startswith("onboard: ")]
    assert 5 <= len(progress) <= 12, res.err
    assert progress[0].startswith("onboard: item 2/15 · 3/30 calls (10%) · ")
    assert progress[0].endswith(" · at onboard item 2 (leads.csv:3): sync"), progress[0]
    assert progress[-1].startswith("onboard: item 15/15 · 30/30 calls (100%) · ")
    assert res.out.count("\n") < 5  # no line per call
    report = (tmp_path / "results.json").read_text()
    assert '"label": "onboard item 15 (leads.csv:16)"' in report


def test_quiet_shows_no_progress_but_every_failure(run_cli, tmp_path):
    (tmp_path / "p.yml").write_text(
        "version: 1\nsteps:\n  - id: sync\n    loop: {items: [" +
        ", ".join(f"{{e: q{i}@example.com, id: {999999 if i == 3 else 'null'}}}"
                  for i in range(25)) +
        "]}\n    syncLead: {leadRecord: {Id: '${item.id}', Email: '${item.e}'}}\n")
    res = run_cli("p.yml", "--sandbox", "--rate", "0", "-q", "--max-failures", "1")
    assert res.code == 1
    assert "sync: " not in res.err  # no progress
    assert res.out.count("FAILED") == 2  # the failed item's line, and the summary's verdict
    assert "sync item 4 (p.yml:4)" in res.out
