"""Lists and imports through the runner (issue 20, "Lists and imports"): the example playbook
imports a CSV into a static list, waits for the import and schedules a batch campaign, over
SOAP and over REST, through the real CLI; listOperation in each mode over both APIs; an
import polled to completion within its timeout, and a timeout that fails the step with a
clear message. The sandbox's side of the same operations is tests/test_sandbox_lists.py.
"""

from __future__ import annotations

import csv
import json
import textwrap
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from runner import retry
from runner.errors import RestError, SoapFaultError, TransportError
from runner.operations import REGISTRY, import_to_list
from runner.operations.spec import Batching, Params, Waiter
from runner.sandbox import SandboxConfig, open_store, running
from tests.conftest import REST_TARGET_YAML, ROOT, TARGET_YAML, rest_target_env, target_env

EXAMPLE = ROOT / "playbooks" / "import-then-schedule.yml"
CSV = ROOT / "playbooks" / "data" / "leads.csv"
WELCOME_LIST, VIP_LIST = 2001, 2002


def csv_emails() -> set[str]:
    with CSV.open(newline="", encoding="utf-8") as f:
        return {row["Email"] for row in csv.DictReader(f)}


def member_emails(db: Path, list_id: int) -> set[str]:
    with open_store(db) as store:
        return {(store.lead(i) or {}).get("email") or "" for i in store.list_members(list_id)}


def report(tmp_path: Path) -> dict[str, Any]:
    return dict(json.loads((tmp_path / "results.json").read_text(encoding="utf-8")))


def outputs(tmp_path: Path, step: str) -> dict[str, Any]:
    found = next(s for s in report(tmp_path)["steps"] if s["id"] == step)
    return dict(found["outputs"] or found["calls"][0]["outputs"])


def failure(tmp_path: Path, step: str) -> str:
    found = next(s for s in report(tmp_path)["steps"] if s["id"] == step)
    assert found["status"] == "failed", found
    return str(found["calls"][-1]["fault"]["message"])


def playbook(tmp_path: Path, api: str, steps: str) -> None:
    target = TARGET_YAML if api == "soap" else REST_TARGET_YAML
    (tmp_path / "p.yml").write_text("version: 1\nname: Lists\n" + target
                                    + textwrap.dedent(steps), encoding="utf-8")


def env_for(api: str, info: Any) -> dict[str, str]:
    return target_env(info) if api == "soap" else rest_target_env(info)


# -- the example, end to end -------------------------------------------------------------------


@pytest.mark.parametrize("api", ["soap", "rest"])
def test_the_example_imports_into_a_list_waits_and_schedules_the_batch_campaign(
        run_cli: Any, tmp_path: Path, api: str) -> None:
    db = tmp_path / "box.db"
    res = run_cli(str(EXAMPLE), "--sandbox", "--sandbox-db", str(db),
                  *(["--api", "rest"] if api == "rest" else []))
    assert res.code == 0, res.out + res.err
    # Progress while waiting: each status check is said as it comes.
    assert "import into Welcome Program / Welcome List: COMPLETE (status check 1" in res.err
    assert member_emails(db, WELCOME_LIST) == csv_emails()
    with open_store(db) as store:
        runs = store.campaign_runs()
        (job,) = store.imports()
    assert (job["api"], job["imported"], job["failed"]) == (api, 250, 0)
    (run,) = runs
    assert (run["kind"], run["program_name"], run["campaign_name"]) == (
        "schedule", "Welcome Program", "Welcome Batch")
    assert run["effective_tokens"]["{{my.message}}"] == "Welcome to the list!"
    imported = outputs(tmp_path, "import")
    assert (imported["importStatus"], imported["rowsImported"], imported["waited"]) == (
        "COMPLETE", 250, "done")
    assert outputs(tmp_path, "check")["success"] is True


def test_the_example_sends_only_schema_valid_envelopes(run_cli: Any, sandbox: Any,
                                                        tmp_path: Path) -> None:
    """The strict sandbox (tests/conftest.py) faults any envelope its WSDL rejects."""
    res = run_cli(str(EXAMPLE), env=target_env(sandbox))
    assert res.code == 0, res.out + res.err
    assert member_emails(sandbox.db_path, WELCOME_LIST) == csv_emails()


def test_the_plan_says_when_rest_uses_a_bulk_import_and_why(run_cli: Any) -> None:
    res = run_cli("plan", str(EXAMPLE), "--sandbox", "--api", "rest")
    assert res.code == 0, res.out + res.err
    assert "import: over REST: Bulk Import Leads with listId (REST's one call that upserts" \
           in res.out
    assert "no result per row" in res.out
    soap = run_cli("plan", str(EXAMPLE), "--sandbox")
    assert "Bulk Import" not in soap.out


def test_the_example_reruns_to_the_same_list(run_cli: Any, tmp_path: Path) -> None:
    """clearList: true, and importing the same rows again: idempotent, as the registry says."""
    db = tmp_path / "box.db"
    for _ in range(2):
        res = run_cli(str(EXAMPLE), "--sandbox", "--sandbox-db", str(db))
        assert res.code == 0, res.out + res.err
    assert member_emails(db, WELCOME_LIST) == csv_emails()
    with open_store(db) as store:
        assert len(store.leads()) == 250  # each row's lead once
    assert REGISTRY["importToList"].idempotent and REGISTRY["listOperation"].idempotent


# -- listOperation in each mode ---------------------------------------------------------------

MODES = """\
    steps:
      - id: sync
        syncMultipleLeads:
          leadRecordList: [{Email: ann@example.com}, {Email: bob@example.com}]
      - id: add
        listOperation:
          listOperation: ADDTOLIST
          listKey: {keyType: MKTOLISTNAME, keyValue: VIP List}
          listMemberList:
            - {keyType: EMAIL, keyValue: ann@example.com}
            - {keyType: IDNUM, keyValue: "${steps.sync.leadIds[1]}"}
      - id: member
        listOperation:
          listOperation: ISMEMBEROFLIST
          listKey: VIP List
          listMemberList:
            - {keyType: EMAIL, keyValue: ann@example.com}
            - {keyType: EMAIL, keyValue: nobody@example.com}
      - id: remove
        listOperation:
          listOperation: REMOVEFROMLIST
          listKey: VIP List
          listMemberList: [{keyType: EMAIL, keyValue: ann@example.com}]
      - id: again
        listOperation:
          listOperation: REMOVEFROMLIST
          listKey: VIP List
          listMemberList: [{keyType: EMAIL, keyValue: ann@example.com}]
      - id: after
        listOperation:
          listOperation: ISMEMBEROFLIST
          listKey: VIP List
          listMemberList:
            - {keyType: IDNUM, keyValue: "${steps.sync.leadIds[0]}"}
            - {keyType: IDNUM, keyValue: "${steps.sync.leadIds[1]}"}
    """


def _status(entries: list[dict[str, Any]]) -> list[tuple[str, bool]]:
    return [(e["leadKey"]["keyValue"], e["status"]) for e in entries]


@pytest.mark.parametrize("api", ["soap", "rest"])
def test_list_operation_adds_checks_and_removes_over_each_api(run_cli: Any, sandbox: Any,
                                                              tmp_path: Path, api: str) -> None:
    playbook(tmp_path, api, MODES)
    res = run_cli("p.yml", env=env_for(api, sandbox))
    assert res.code == 0, res.out + res.err
    ann, bob = outputs(tmp_path, "sync")["leadIds"]
    added = outputs(tmp_path, "add")
    # Every key done: success, and (as Marketo answers) no status list.
    assert (added["success"], added["statusList"], added["listOperation"]) == (
        True, [], "ADDTOLIST")
    member = outputs(tmp_path, "member")
    assert member["success"] is False  # a normal answer, not a failed step
    assert _status(member["statusList"]) == [("ann@example.com", True),
                                             ("nobody@example.com", False)]
    assert outputs(tmp_path, "remove")["success"] is True
    again = outputs(tmp_path, "again")  # no longer a member: false, and still no failure
    assert (again["success"], _status(again["statusList"])) == (
        False, [("ann@example.com", False)])
    after = outputs(tmp_path, "after")
    assert _status(after["statusList"]) == [(str(ann), False), (str(bob), True)]
    with open_store(sandbox.db_path) as store:
        assert store.list_members(VIP_LIST) == [bob]


@pytest.mark.parametrize("api", ["soap", "rest"])
def test_adding_a_lead_that_does_not_exist_fails_the_step(run_cli: Any, sandbox: Any,
                                                          tmp_path: Path, api: str) -> None:
    playbook(tmp_path, api, """\
        steps:
          - id: sync
            syncLead: {leadRecord: {Email: real@example.com}}
          - id: add
            listOperation:
              listOperation: ADDTOLIST
              listKey: VIP List
              listMemberList:
                - {keyType: EMAIL, keyValue: ghost@example.com}
                - {keyType: IDNUM, keyValue: "${steps.sync.leadId}"}
        """)
    res = run_cli("p.yml", env=env_for(api, sandbox))
    assert res.code == 1, res.out + res.err
    message = failure(tmp_path, "add")
    assert message == ("1 lead key(s) were not added to the list (no lead matched them): "
                       "EMAIL ghost@example.com")
    assert "not added to the list" in res.out
    with open_store(sandbox.db_path) as store:  # the other key was added
        assert store.list_members(VIP_LIST) == [outputs(tmp_path, "sync")["leadId"]]


def test_a_sales_insight_list_is_refused_over_rest_before_anything_is_sent(
        run_cli: Any, tmp_path: Path) -> None:
    playbook(tmp_path, "rest", """\
        steps:
          - id: add
            listOperation:
              listOperation: ADDTOLIST
              listKey: {keyType: SFDCLEADOWNERID, keyValue: "005x"}
              listMemberList: [{keyType: IDNUM, keyValue: 1}]
        """)
    res = run_cli("validate", "p.yml")
    assert res.code == 2
    assert "a SFDCLEADOWNERID list (Sales Insight) has no REST equivalent" in res.err


# -- waiting for an import ---------------------------------------------------------------------

IMPORT = """\
    steps:
      - id: import
        importToList:
          programName: Welcome Program
          listName: VIP List
          importFileHeader: [Email Address, First Name]
          importFileRows:
            - [wait1@example.com, One]
            - [wait2@example.com, "Two, the second"]
          wait: {{timeout: {timeout}, interval: 1s}}
    """


def slow_box(tmp_path: Path, checks: int) -> Any:
    """A strict sandbox whose imports read as processing for `checks` status reads."""
    return running(tmp_path / "slow.db", strict=True,
                   config=SandboxConfig(strict=True, import_status_checks=checks))


@pytest.mark.parametrize("api", ["soap", "rest"])
def test_an_import_is_polled_until_it_is_done_with_progress(run_cli: Any, tmp_path: Path,
                                                            api: str) -> None:
    playbook(tmp_path, api, IMPORT.format(timeout="1m"))
    with slow_box(tmp_path, 2) as info:
        res = run_cli("p.yml", env=env_for(api, info))
    assert res.code == 0, res.out + res.err
    label = "import into Welcome Program / VIP List"
    assert f"{label}: PROCESSING (status check 1," in res.err
    assert f"{label}: PROCESSING (status check 2," in res.err
    assert f"{label}: COMPLETE (status check 3," in res.err
    done = outputs(tmp_path, "import")
    assert (done["importStatus"], done["statusChecks"], done["waited"], done["rowsImported"]) \
        == ("COMPLETE", 3, "done", 2)
    assert member_emails(info.db_path, VIP_LIST) == {"wait1@example.com", "wait2@example.com"}


@pytest.mark.parametrize("api", ["soap", "rest"])
def test_an_import_still_processing_at_its_timeout_fails_the_step_clearly(
        run_cli: Any, tmp_path: Path, api: str) -> None:
    playbook(tmp_path, api, IMPORT.format(timeout=0))  # one status check, no wait at all
    with slow_box(tmp_path, 5) as info:
        res = run_cli("p.yml", env=env_for(api, info))
    assert res.code == 1, res.out + res.err
    message = failure(tmp_path, "import")
    assert message.startswith("the import was still PROCESSING when wait.timeout ran out "
                              "(1 status check(s)); Marketo may still finish it")
    assert "wait.timeout" in res.out  # the console says why, not only the report
    seen = outputs(tmp_path, "import")
    assert (seen["importStatus"], seen["waited"], seen["statusChecks"]) == (
        "PROCESSING", "timeout", 1)


@pytest.mark.parametrize("api", ["soap", "rest"])
def test_failed_rows_fail_the_import_step_with_what_each_api_can_say(
        run_cli: Any, sandbox: Any, tmp_path: Path, api: str) -> None:
    playbook(tmp_path, api, """\
        steps:
          - id: import
            importToList:
              programName: Welcome Program
              listName: VIP List
              importFileHeader: [Email Address, First Name]
              importFileRows: [[good@example.com, Good], ["", Nobody]]
              wait: {timeout: 1m, interval: 1s}
        """)
    res = run_cli("p.yml", env=env_for(api, sandbox))
    assert res.code == 1, res.out + res.err
    seen = outputs(tmp_path, "import")
    assert (seen["rowsImported"], seen["rowsFailed"]) == (1, 1)
    message = failure(tmp_path, "import")
    assert message.startswith("1 of 2 row(s) failed")
    if api == "rest":  # Bulk Import's failure file names the row and why
        assert seen["failures"] == [{"row": ",Nobody", "reason":
                                     "Missing value for the required parameter 'email'"}]
        assert "',Nobody': Missing value" in message
    else:  # SOAP's status has counts only
        assert seen["failures"] == []


def test_a_looped_import_gathers_its_rows_and_clears_the_list_once(
        run_cli: Any, sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the rows one import takes, the next import must not clear what the first
    imported: Batching.later sends clearList false after the first call."""
    op = REGISTRY["importToList"]
    assert op.batching is not None and op.batching.later == (("clearList", False),)
    monkeypatch.setitem(REGISTRY, "importToList", replace(
        op, batching=Batching("importFileRows", 2, later=op.batching.later)))
    (tmp_path / "rows.csv").write_text("Email\na@example.com\nb@example.com\nc@example.com\n",
                                       encoding="utf-8")
    playbook(tmp_path, "soap", """\
        steps:
          - id: sync
            syncLead: {leadRecord: {Email: old@example.com}}
          - id: first
            listOperation:
              listOperation: ADDTOLIST
              listKey: VIP List
              listMemberList: [{keyType: IDNUM, keyValue: "${steps.sync.leadId}"}]
          - id: import
            loop: {file: rows.csv, columns: [{name: Email, required: true}]}
            importToList:
              programName: Welcome Program
              listName: VIP List
              clearList: true
              importFileHeader: [Email Address]
              importFileRows: [["${item.Email}"]]
              wait: {timeout: 1m, interval: 1s}
        """)
    res = run_cli("p.yml", env=target_env(sandbox))
    assert res.code == 0, res.out + res.err
    assert [c["label"] for c in next(s for s in report(tmp_path)["steps"]
                                     if s["id"] == "import")["calls"]] == [
        "batch 1/2", "batch 2/2"]
    # old@ went with the first import's clear; the second import kept the first's rows.
    assert member_emails(sandbox.db_path, VIP_LIST) == {"a@example.com", "b@example.com",
                                                        "c@example.com"}


# -- the wait itself (the registry's follow-up, with a fake API and clock) --------------------


class FakeSoap:
    """getImportToListStatus answers (or failures), one per read."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.asked: list[Params] = []

    def read(self, op: Any, params: Params) -> dict[str, Any]:
        assert op.name == "getImportToListStatus"
        self.asked.append(params)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return {"status": answer, "rowsImported": 3 if answer == "COMPLETE" else None,
                "rowsFailed": 0, "rowsIgnored": 0, "importSummary": None}


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.paused: list[float] = []

    def __call__(self) -> float:
        return self.now

    def waiter(self, stop: threading.Event | None = None) -> Waiter:
        said: list[str] = []
        waiter = Waiter(stop, said.append, self)
        real = waiter.pause

        def pause(seconds: float) -> bool:
            self.paused.append(seconds)
            self.now += seconds
            return real(0)

        waiter.pause = pause  # type: ignore[method-assign]
        waiter.said = said  # type: ignore[attr-defined]
        return waiter


PARAMS = {"programName": "P", "listName": "L", "wait": {"timeout": "3m", "interval": "1m"}}


def follow(api: FakeSoap, waiter: Waiter, params: Params = PARAMS) -> dict[str, Any]:
    hook = import_to_list.OPERATION.soap.follow
    assert hook is not None
    return hook(params, {}, api, waiter)


def test_the_wait_checks_at_once_then_every_interval_until_done() -> None:
    clock, api = FakeClock(), FakeSoap("PROCESSING", "PROCESSING", "COMPLETE")
    done = follow(api, clock.waiter())
    assert (done["importStatus"], done["statusChecks"], done["waited"]) == ("COMPLETE", 3, "done")
    assert clock.paused == [60.0, 60.0]
    assert api.asked == [{"programName": "P", "listName": "L"}] * 3


def test_the_wait_never_pauses_past_its_timeout() -> None:
    clock, api = FakeClock(), FakeSoap(*["PROCESSING"] * 5)
    seen = follow(api, clock.waiter(), {**PARAMS, "wait": {"timeout": 150, "interval": "1m"}})
    # Checks at 0, 60, 120 and, the pause cut to what was left, a last one at 150.
    assert (seen["waited"], seen["statusChecks"]) == ("timeout", 4)
    assert clock.paused == [60.0, 60.0, 30.0]


def test_a_check_lost_in_transit_or_refused_by_a_limit_is_tried_at_the_next_interval() -> None:
    clock = FakeClock()
    api = FakeSoap(TransportError("reset", sent=True), SoapFaultError(20023, "rate"),
                   "COMPLETE")
    waiter = clock.waiter()
    done = follow(api, waiter)
    assert (done["importStatus"], done["statusChecks"]) == ("COMPLETE", 1)
    said = waiter.said  # type: ignore[attr-defined]
    assert [line.split(" (")[0] for line in said] == [
        "import into P / L: status check failed", "import into P / L: status check failed",
        "import into P / L: COMPLETE"]
    assert clock.paused == [60.0, 60.0]
    with pytest.raises(SoapFaultError):  # anything else is the call's failure
        follow(FakeSoap(SoapFaultError(20111, "List Not Found")), FakeClock().waiter())
    with pytest.raises(TransportError):  # so is a fourth loss in a row
        follow(FakeSoap(*[TransportError("reset", sent=True)] * 4), FakeClock().waiter())


def test_a_run_that_stops_ends_the_wait_at_once_and_says_so() -> None:
    stop = threading.Event()
    stop.set()
    seen = follow(FakeSoap("PROCESSING"), FakeClock().waiter(stop))
    assert (seen["waited"], seen["statusChecks"]) == ("stopped", 1)
    message = REGISTRY["importToList"].failed_records(seen)
    assert message == ("the run stopped while the import was PROCESSING; Marketo may still "
                       "finish it")


@pytest.mark.parametrize("code", [1016, 1019])
def test_a_bulk_import_refused_while_others_run_is_retried(code: int) -> None:
    """Too many imports, or one into the same list: nothing was imported, try again later."""
    assert retry.decide(RestError(code, "busy"), idempotent=True) == retry.BACKOFF


# -- what a playbook may write -----------------------------------------------------------------


@pytest.mark.parametrize(("params", "words"), [
    ({"importFileHeader": ["Email Address", "First Name"],
      "importFileRows": [["a@example.com"]]}, "a row of 1 value(s) for a header of 2"),
    ({"importFileHeader": "Email Address,{{my.greeting}}", "importFileRows": ["a@x.com,Hi"]},
     "per-lead token column(s) {{my.greeting}} need campaignName"),
    ({"importListMode": "LISTONLY", "importFileHeader": ["First Name"],
      "importFileRows": [["Ada"]]}, "the header has no Email Address column"),
    ({"importFileHeader": ["Email Address", "email address"], "importFileRows": [["a", "b"]]},
     "column 'email address' is named twice"),
    ({"importFileRows": []}, "importFileRows has no rows"),
    ({"wait": {"interval": "10ms"}}, "is not a interval from 1s to 24h"),
    ({"wait": {"timeout": "2d"}}, "is not a timeout from 0s to 24h"),
])
def test_import_rules_are_load_errors(run_cli: Any, tmp_path: Path, params: dict[str, Any],
                                      words: str) -> None:
    written = {"programName": "Welcome Program", "listName": "VIP List",
               "importFileHeader": ["Email Address"], "importFileRows": [["a@example.com"]],
               **params}
    (tmp_path / "p.yml").write_text("version: 1\nname: Rules\n" + TARGET_YAML + "steps:\n"
                                    + "  - id: import\n    importToList: "
                                    + json.dumps(written) + "\n", encoding="utf-8")
    res = run_cli("validate", "p.yml")
    assert res.code == 2, res.out + res.err
    assert words in res.err
