"""Issue 15 end to end: the same playbooks over Marketo's REST API, through the real CLI,
against the sandbox's REST API over HTTP on 127.0.0.1. The sandbox's own record (leads,
campaign runs, request log) is the judge, as for SOAP.

- the example playbooks with `--sandbox --api rest` leave what the SOAP run leaves;
- a playbook's own REST `target:` (endpoints and client id from ${env.…}, the secret from
  ${secret.…}) runs against a running sandbox;
- a token that expires mid-run (a short lifetime, on a sandbox clock that runs fast) is
  replaced and the call replayed: nothing lost, nothing sent twice, nothing failed;
- lead fields: SOAP names whose REST name is not the lower-cased one arrive in the right
  REST field; a read-only field, an unknown field and the SOAP-only features are errors with
  their location and the way out, before any write;
- the client secret and every access token appear nowhere the runner writes or prints.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from runner import sandbox as box
from runner.sandbox.config import FaultPlan, SandboxConfig
from runner.sandbox.injection import draw
from runner.sandbox.rest import identity as sandbox_identity
from runner.sandbox.rest.service import TOKEN_PATH, RestService
from runner.sandbox.store import utc_now
from tests.conftest import REST_TARGET_YAML, ROOT, rest_target_env
from tests.test_secrets_canary import SIGNATURE, _everything, encoded_forms

pytestmark = pytest.mark.timeout(180)

PLAYBOOKS = ROOT / "playbooks"
DEFAULT_FIXTURE = ROOT / "runner" / "sandbox" / "fixture.yml"
REST_FIXTURE = ROOT / "tests" / "data" / "sandbox" / "rest.yml"
# A playbook's target: block (with its comments), replaced by a REST one as a user would.
TARGET_BLOCK = re.compile(r"^target:\n(?:  .*\n)+", re.MULTILINE)
WRITES = frozenset({"rest.syncLeads", "rest.triggerCampaign", "rest.scheduleCampaign"})


def _copy_playbooks(tmp_path: Path, rest_target: bool = False) -> Path:
    """The example playbooks and their data in tmp_path/playbooks (with a REST target:)."""
    folder = tmp_path / "playbooks"
    shutil.copytree(PLAYBOOKS, folder)
    if rest_target:
        for book in folder.glob("*.yml"):
            text, found = TARGET_BLOCK.subn(REST_TARGET_YAML, book.read_text())
            assert found == 1 and "encryptionKey" not in text, book
            book.write_text(text)
    return folder


def _json(run_cli: Any, *args: str) -> Any:
    res = run_cli(*args, "--json")
    assert res.code == 0, res.err
    return json.loads(res.out)


def _leads(run_cli: Any, db: str) -> list[dict[str, Any]]:
    """`mktows-run sandbox leads --db DB --json`, without the times the run happened at."""
    return [{k: v for k, v in lead.items() if k not in ("created_at", "updated_at")}
            for lead in _json(run_cli, "sandbox", "leads", "--db", db)]


def _runs(run_cli: Any, db: str) -> list[dict[str, Any]]:
    return _json(run_cli, "sandbox", "runs", "--db", db)


def _outputs(report: dict[str, Any]) -> list[tuple[str, str, list[Any]]]:
    return [(s["id"], s["status"], [(c["key"], c["status"], c["outputs"]) for c in s["calls"]])
            for s in report["steps"]]


def _plan_calls(run_cli: Any, *args: str) -> int:
    res = run_cli("plan", *args)
    assert res.code == 0, res.err
    found = re.search(r"^([\d,]+) calls, ", res.out, re.MULTILINE)
    assert found, res.out
    return int(found[1].replace(",", ""))


# -- 1. the example playbooks: REST leaves what SOAP leaves ----------------------------------

@pytest.mark.parametrize("book", ["welcome.yml", "import-leads.yml"])
def test_an_example_playbook_over_rest_leaves_the_leads_and_runs_soap_leaves(run_cli, tmp_path,
                                                                            book):
    _copy_playbooks(tmp_path)
    path = f"playbooks/{book}"
    soap = run_cli(path, "--sandbox", "--sandbox-db", "soap.db", "--report", "soap.json")
    rest = run_cli(path, "--sandbox", "--api", "rest", "--sandbox-db", "rest.db",
                   "--report", "rest.json")
    assert (soap.code, rest.code) == (0, 0), soap.err + rest.err
    assert "(REST)" in rest.err and "(SOAP)" in soap.err

    # The same leads, with the same ids, emails and fields.
    assert _leads(run_cli, "rest.db") == _leads(run_cli, "soap.db")
    assert len(_leads(run_cli, "rest.db")) == (1 if book == "welcome.yml" else 250)
    # The same campaign runs: campaign, leads, tokens as sent and as used. A REST schedule
    # without runAt runs 5 minutes after the call (reference §5.7), SOAP's at once.
    soap_runs, rest_runs = _runs(run_cli, "soap.db"), _runs(run_cli, "rest.db")
    assert len(rest_runs) == len(soap_runs) == (2 if book == "welcome.yml" else 3)
    for soap_run, rest_run in zip(soap_runs, rest_runs, strict=True):
        if rest_run["kind"] == "schedule":
            assert soap_run["run_at"] is None
            delay = (datetime.fromisoformat(rest_run["run_at"].replace("Z", "+00:00"))
                     - datetime.fromisoformat(rest_run["requested_at"]))
            assert timedelta(minutes=4) < delay <= timedelta(minutes=5, seconds=1), delay
        for run in (soap_run, rest_run):
            del run["requested_at"], run["run_at"]
        assert rest_run == soap_run
    # The same step outcomes and outputs in the reports.
    soap_report = json.loads((tmp_path / "soap.json").read_text())
    rest_report = json.loads((tmp_path / "rest.json").read_text())
    assert _outputs(rest_report) == _outputs(soap_report)
    assert rest_report["status"] == "ok"

    # Over REST only; the calls the plan counted (lookups and Describe included), plus the
    # preflight's reads if the run made any.
    requests_made = _json(run_cli, "sandbox", "requests", "--db", "rest.db")
    assert {r["api"] for r in requests_made} == {"rest"}
    counted = [r for r in requests_made if r["counted"]]
    writes = Counter(r["operation"] for r in counted if r["operation"] in WRITES)
    assert writes == ({"rest.syncLeads": 1, "rest.triggerCampaign": 1,
                       "rest.scheduleCampaign": 1} if book == "welcome.yml" else
                      {"rest.syncLeads": 1, "rest.triggerCampaign": 3})
    planned = _plan_calls(run_cli, path, "--api", "rest")
    assert planned == (6 if book == "welcome.yml" else 9)
    preflight = re.search(r"preflight: (\d+) read", rest.err + rest.out)
    reads = int(preflight[1]) if preflight else 0
    assert planned <= len(counted) <= planned + reads, (planned, reads, counted)
    print(f"{book} over REST: {len(counted)} REST calls ({reads} preflight reads; plan said "
          f"{planned}), {len(requests_made) - len(counted)} token request(s)")


# -- 2. a playbook's own REST target ---------------------------------------------------------

def test_a_playbook_with_a_rest_target_runs_against_a_running_sandbox(run_cli, tmp_path):
    folder = _copy_playbooks(tmp_path, rest_target=True)
    text = (folder / "welcome.yml").read_text()
    assert "api: rest" in text and "clientSecret: ${secret.MKTO_CLIENT_SECRET}" in text
    with box.running(tmp_path / "box.db", strict=True) as info:
        env = rest_target_env(info)
        check = run_cli("validate", "playbooks/welcome.yml", env=env)
        res = run_cli("playbooks/welcome.yml", env=env)
        store = box.open_store(info.db_path)
        leads, runs, log = store.leads(), store.campaign_runs(), store.requests()
    assert check.code == 0, check.err
    assert res.code == 0, res.err
    assert f"target: {info.rest_endpoint} (REST)" in res.err
    assert [lead["email"] for lead in leads] == ["ada.lovelace@example.com"]
    assert leads[0]["attributes"] == {"FirstName": "Ada", "LastName": "Lovelace",
                                      "Company": "Analytical Engines Ltd", "Country": "NO"}
    assert [(r["kind"], r["campaign_name"], r["lead_ids"]) for r in runs] == [
        ("request", "Welcome Email", [leads[0]["id"]]), ("schedule", "Welcome Batch", [])]
    assert runs[1]["tokens"] == {"{{my.message}}": "Welcome aboard, Ada!"}
    assert {r["api"] for r in log} == {"rest"}
    assert all(r["user_id"] == "api-sandbox@example.com" for r in log)  # the fixture's client
    report = json.loads((tmp_path / "results.json").read_text())
    assert report["endpoint"] == info.rest_endpoint and report["status"] == "ok"


def test_a_transient_failure_of_the_first_read_is_retried_like_any_read(run_cli, tmp_path):
    """Describe Lead, the first read of a run (preflight's, before any write), answered
    HTTP 500, 606 or a dropped connection twice: retried with backoff like a call's read,
    not the end of the run."""
    seed = next(s for s in range(10_000) if draw(s, 1) < 0.5 and draw(s, 2) < 0.5
                and draw(s, 3) >= 0.5)
    (tmp_path / "book.yml").write_text("version: 1\n" + REST_TARGET_YAML + """\
steps:
  - id: sync
    syncLead:
      leadRecord: {Email: first@example.com, leadAttributeList: {FirstName: First}}
""")
    for kind in ("http500", "fault20023", "drop_after"):
        faults = FaultPlan(seed=seed, operations=frozenset({"rest.describeLead"}),
                           **{kind: 0.5})
        with box.running(tmp_path / f"{kind}.db", config=SandboxConfig(faults=faults),
                         strict=True) as info:
            res = run_cli("book.yml", "--retry-backoff", "0.01", env=rest_target_env(info))
            log = box.open_store(info.db_path).requests()
            leads = box.open_store(info.db_path).leads()
        assert res.code == 0, (kind, res.err)
        described = [r["injected"] for r in log if r["operation"] == "rest.describeLead"]
        assert described == [kind, kind, None], (kind, described)
        assert [lead["email"] for lead in leads] == ["first@example.com"]


# -- 3. a token that expires mid-run ---------------------------------------------------------

class FastClock:
    """The sandbox's clock, `step` seconds later at each REST API request (not at token
    requests): a token of a short lifetime expires every few requests, while the runner's own
    clock says it is still good (so only the sandbox's 602 can tell it)."""

    def __init__(self, step: float) -> None:
        self.step = step
        self.skew = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        return utc_now() + timedelta(seconds=self.skew)

    def tick(self) -> None:
        with self._lock:
            self.skew += self.step


@pytest.fixture
def fast_clock(monkeypatch: pytest.MonkeyPatch) -> FastClock:
    clock = FastClock(30.0)
    real = RestService.handle

    def handle(self: RestService, request: Any, injector: Any) -> Any:
        if request.path != TOKEN_PATH:
            clock.tick()
        return real(self, request, injector)

    monkeypatch.setattr(RestService, "handle", handle)
    return clock


@pytest.mark.parametrize("concurrency", ["1", "4"])
def test_a_token_that_expires_mid_run_is_replaced_and_no_call_is_lost_or_repeated(
        run_cli, tmp_path, fast_clock, concurrency):
    folder = _copy_playbooks(tmp_path, rest_target=True)
    emails = [f"token{i}@example.com" for i in range(2000)]
    (folder / "data" / "leads.csv").write_text(
        "Email,FirstName\n" + "".join(f"{e},T{i}\n" for i, e in enumerate(emails)))
    # A token lives 240 s and the sandbox's clock moves 30 s a request: each token serves
    # seven requests (an odd number: the expiries fall on lookups and on triggers alike),
    # then answers 602 (first use after expiry), or 601 after that.
    config = SandboxConfig().override(rest_token_lifetime=240)
    with box.running(tmp_path / "box.db", config=config, strict=True,
                     clock=fast_clock) as info:
        res = run_cli("playbooks/import-leads.yml", "--concurrency", concurrency,
                      "--junit", "junit.xml", env=rest_target_env(info))
        store = box.open_store(info.db_path)
        log, leads, runs = store.requests(), store.leads(), store.campaign_runs()
    assert res.code == 0, res.err
    api = [r for r in log if r["operation"] != "identity.token"]
    expired = [r for r in api if r["fault_code"] in (601, 602)]
    tokens = [r for r in log if r["operation"] == "identity.token"]
    assert len([r for r in expired if r["fault_code"] == 602]) >= 4  # really expired, often
    assert len(tokens) >= 5  # and a new token was asked for each time
    if concurrency == "1":  # in order: every eighth request found its token expired
        assert any(r["operation"] == "rest.triggerCampaign" for r in expired)

    # Nothing lost, nothing repeated: every lead once, each trigger applied exactly once.
    assert sorted(lead["email"] for lead in leads) == sorted(emails)
    requested = Counter(i for run in runs for i in run["lead_ids"])
    assert len(runs) == 20 and set(requested.values()) == {1}
    assert set(requested) == {lead["id"] for lead in leads}
    applied = Counter(r["operation"] for r in api if r["applied"] and r["operation"] in WRITES)
    assert applied == {"rest.syncLeads": 7, "rest.triggerCampaign": 20}
    # The journal and the reports show no failure. The transport replays a call answered
    # 601/602 with a new token (it was not executed); only when a replay found its new token
    # expired too (several calls in flight) does the report show a retry, a re-authentication.
    report = json.loads((tmp_path / "results.json").read_text())
    calls = [c for s in report["steps"] for c in s["calls"]]
    assert report["status"] == "ok" and len(calls) == 27
    assert all(c["status"] == "ok" for c in calls)
    retries = [r for c in calls for r in c["retries"]]
    assert all(r["reason"] in ("REST 601", "REST 602") and r["wait_s"] == 0 for r in retries)
    if concurrency == "1":
        assert not retries
    (journal,) = (tmp_path / ".mktows" / "runs").glob("*/journal.jsonl")
    records = [json.loads(line)["record"] for line in journal.read_text().splitlines()]
    outcomes = [r for r in records if r["type"] == "call"]
    assert len(outcomes) == 27 and all(r["status"] == "ok" for r in outcomes)
    assert records[-1]["type"] == "end" and records[-1]["status"] == "ok"
    junit = (tmp_path / "junit.xml").read_text()
    assert junit.count("<testcase") == 27 and "<failure" not in junit
    print(f"token expiry, concurrency {concurrency}: {len(api)} REST requests, "
          f"{len(expired)} answered 601/602, {len(tokens)} token requests, "
          f"{len(retries)} re-authentication retries")


# -- 5. lead fields and what REST cannot do --------------------------------------------------

FIELDS_BOOK = "version: 1\n" + REST_TARGET_YAML + """\
steps:
  - id: sync
    syncLead:
      leadRecord:
        Email: ada@example.com
        leadAttributeList: {FirstName: Ada, SICCode: "7372", DateofBirth: "1815-12-10"}
  - id: read
    getLead:
      leadKey: {keyType: EMAIL, keyValue: ada@example.com}
"""


@pytest.mark.parametrize("soap_names", [True, False], ids=["describe", "shipped-map"])
def test_soap_names_whose_rest_name_is_irregular_arrive_in_the_right_rest_field(run_cli,
                                                                                tmp_path,
                                                                                soap_names):
    """SICCode -> sicCode, DateofBirth -> dateOfBirth (not siccode, dateofBirth): from
    Describe's SOAP names, or, when Describe gives none (reference §10 q1), from the shipped
    map of standard fields."""
    (tmp_path / "fields.yml").write_text(FIELDS_BOOK)
    config = box.fixture_config().override(rest_describe_soap_names=soap_names, strict=True)
    with box.running(tmp_path / "box.db", config=config) as info:
        res = run_cli("fields.yml", env=rest_target_env(info))
        lead = box.open_store(info.db_path).leads()[0]
        # Read back over REST with plain requests, by the REST names Describe gives.
        token = requests.get(f"{info.identity_url}/oauth/token", timeout=10, params={
            "grant_type": "client_credentials", "client_id": info.client_id,
            "client_secret": info.client_secret}).json()["access_token"]
        described = requests.get(f"{info.rest_endpoint}/v1/leads/describe.json", timeout=10,
                                 headers={"Authorization": f"Bearer {token}"}).json()
        found = requests.get(f"{info.rest_endpoint}/v1/leads.json", timeout=10, params={
            "filterType": "email", "filterValues": "ada@example.com",
            "fields": "sicCode,dateOfBirth,firstName"},
            headers={"Authorization": f"Bearer {token}"}).json()
    assert res.code == 0, res.err
    names = {f["soap"]["name"]: f["rest"]["name"] for f in described["result"] if "soap" in f}
    if soap_names:
        assert (names["SICCode"], names["DateofBirth"]) == ("sicCode", "dateOfBirth")
    else:
        assert not names  # the runner had only the shipped map to go by
    rest_names = {f["rest"]["name"] for f in described["result"]}
    assert {"sicCode", "dateOfBirth"} <= rest_names
    assert not {"siccode", "dateofBirth"} & rest_names
    assert lead["attributes"] == {"FirstName": "Ada", "SICCode": "7372",
                                  "DateofBirth": "1815-12-10"}
    (record,) = found["result"]
    assert (record["sicCode"], record["dateOfBirth"], record["firstName"]) == (
        "7372", "1815-12-10", "Ada")
    # And back: getLead over REST gives the SOAP names a playbook uses.
    report = json.loads((tmp_path / "results.json").read_text())
    read = next(s for s in report["steps"] if s["id"] == "read")["calls"][0]["outputs"]
    attributes = read["leadRecordList"][0]["leadAttributeList"]
    assert (attributes["SICCode"], attributes["DateofBirth"]) == ("7372", "1815-12-10")


UNWRITABLE_BOOK = "version: 1\n" + REST_TARGET_YAML + """\
steps:
  - id: fine
    syncLead:
      leadRecord: {Email: fine@example.com, leadAttributeList: {FirstName: Fine}}
  - id: request
    requestCampaign:
      programName: Tests
      campaignName: Go
      leadList: [{keyType: IDNUM, keyValue: "${steps.fine.leadId}"}]
  - id: read-only
    syncLead:
      leadRecord:
        Email: ro@example.com
        leadAttributeList: {"Contact Company": Acme, SICCode: "1"}
  - id: unknown
    syncLead:
      leadRecord:
        Email: unknown@example.com
        leadAttributeList: {Favourite_Colour: blue}
"""


def test_a_read_only_or_unknown_field_is_an_error_before_any_write(run_cli, tmp_path):
    """The tests' REST fixture: `Contact Company` (REST contactCompany) is read-only over
    REST, `Favourite_Colour` does not exist. Both named, located, with the way out; exit 2;
    the sandbox saw reads only (the token, Describe, ...), no write."""
    (tmp_path / "fields.yml").write_text(UNWRITABLE_BOOK)
    with box.running(tmp_path / "box.db", REST_FIXTURE, strict=True) as info:
        res = run_cli("fields.yml", env=rest_target_env(info))
        store = box.open_store(info.db_path)
        log, leads, runs = store.requests(), store.leads(), store.campaign_runs()
    assert res.code == 2, res.err
    lines = res.err.splitlines()
    read_only = next(i for i, x in enumerate(lines) if "'Contact Company'" in x)
    assert re.match(r"fields\.yml:21:\d+: ", lines[read_only]), lines[read_only]
    assert "(REST 'contactCompany') is read-only over REST" in lines[read_only]
    assert "remove it from the playbook's lead records" in lines[read_only]
    assert "Describe Lead" in lines[read_only + 1]
    unknown = next(x for x in lines if "'Favourite_Colour'" in x)
    assert re.match(r"fields\.yml:26:\d+: ", unknown), unknown
    assert "has no REST name" in unknown and "check its spelling" in unknown
    assert "'SICCode'" not in res.err and "'FirstName'" not in res.err  # those are fine
    # Nothing written: no write request at all, and the store as the fixture seeded it.
    assert not [r for r in log if r["operation"] in WRITES], log
    assert {r["operation"] for r in log} <= {"identity.token", "rest.describeLead",
                                             "rest.getCampaigns", "rest.getLeadPartitions"}
    assert "rest.describeLead" in {r["operation"] for r in log}
    assert len(leads) == 4 and not runs
    assert not (tmp_path / "results.json").exists()


SOAP_ONLY_BOOK = "version: 1\n" + REST_TARGET_YAML + """\
steps:
  - id: first
    syncLead:
      leadRecord: {Email: first@example.com}
  - id: foreign
    syncLead:
      leadRecord:
        ForeignSysPersonId: "CRM-1"
        ForeignSysType: CUSTOM
        leadAttributeList: {FirstName: Ada}
  - id: sales
    requestCampaign:
      source: SALES
      campaignId: 1003
      leadList: [{keyType: IDNUM, keyValue: "1"}]
  - id: owner
    requestCampaign:
      campaignId: 1001
      leadList: [{keyType: LEADOWNEREMAIL, keyValue: boss@example.com}]
"""


def test_soap_only_features_are_load_errors_with_the_migration_hint_and_nothing_is_sent(
        run_cli, tmp_path):
    (tmp_path / "soap-only.yml").write_text(SOAP_ONLY_BOOK)
    with box.running(tmp_path / "box.db", strict=True) as info:
        env = rest_target_env(info)
        checked = run_cli("validate", "soap-only.yml", env=env)
        res = run_cli("soap-only.yml", env=env)
        sandboxed = run_cli("soap-only.yml", "--sandbox", "--api", "rest", "--sandbox-db",
                            "other.db", env=env)
        store = box.open_store(info.db_path)
        log, leads = store.requests(), store.leads()
    assert (checked.code, res.code, sandboxed.code) == (2, 2, 2), res.err
    for out in (checked.err, res.err, sandboxed.err):
        assert re.search(r"soap-only\.yml:15:\d+: steps\[1\]\.syncLead\.leadRecord\."
                         r"ForeignSysPersonId: ForeignSysPersonId has no REST equivalent", out)
        assert "target's foreign id field" in out  # the way out: foreignIdField
        assert re.search(r"soap-only\.yml:20:\d+: steps\[2\]\.requestCampaign\.source: "
                         r"source: SALES has no REST equivalent", out)
        assert "use source: MKTOWS" in out
        assert re.search(r"soap-only\.yml:26:\d+: steps\[3\]\.requestCampaign\.leadList\[0\]"
                         r"\.keyType: LEADOWNEREMAIL lead keys cannot be looked up over REST",
                         out)
        assert "look the lead up by EMAIL, IDNUM or an SFDC id instead" in out
        assert "3 problems found; nothing was sent." in out
    # Load errors: not even a token was asked for.
    assert log == [] and leads == []
    assert not (tmp_path / ".mktows" / "runs").exists()
    # The way out works: with the target's foreignIdField the first error goes away.
    book = (tmp_path / "soap-only.yml").read_text().replace(
        "  clientSecret:", "  foreignIdField: crmId\n  clientSecret:")
    (tmp_path / "mapped.yml").write_text(book)
    mapped = run_cli("validate", "mapped.yml", env=env)
    assert mapped.code == 2 and "ForeignSysPersonId" not in mapped.err
    assert "2 problems found" in mapped.err


# -- 6. the secret canary over REST ----------------------------------------------------------

CLIENT_SECRET = "cnry-RestClientSecret-5e4d3c2b1a"
WRONG_SECRET = "cnry-WrongClientSecret-9a8b7c6d"
FIELD_SECRET = "cnry-RestFieldValue-0f1e2d3c"

CANARY_BOOK = "version: 1\n" + REST_TARGET_YAML + """\
steps:
  - id: sync
    loop: [a@example.com, b@example.com, c@example.com, d@example.com]
    syncLead:
      leadRecord:
        Email: ${item}
        leadAttributeList: {Title: "${secret.CANARY}"}
      returnLead: true
  - id: read
    getLead:
      leadKey: {keyType: EMAIL, keyValue: a@example.com}
  - id: welcome
    requestCampaign:
      programName: Welcome Program
      campaignName: Welcome Email
      leadList: [{keyType: EMAIL, keyValue: a@example.com}]
  - id: schedule
    scheduleCampaign:
      programName: Welcome Program
      campaignName: Welcome Batch
      programTokenList: {"{{my.message}}": "${secret.CANARY}"}
  - id: broken
    requestCampaign:
      programName: Welcome Program
      campaignName: Welcome Email
      leadList: [{keyType: EMAIL, keyValue: nobody@example.com}]
"""


def _canary_fixture(tmp_path: Path) -> Path:
    """The packaged fixture with our own REST client secret."""
    text = DEFAULT_FIXTURE.read_text()
    assert "clientSecret: SbxRestSecretNotAMarketoSecret01" in text
    path = tmp_path / "canary-fixture.yml"
    path.write_text(text.replace("SbxRestSecretNotAMarketoSecret01", CLIENT_SECRET))
    return path


def test_no_client_secret_or_access_token_appears_in_anything_the_run_leaves(
        run_cli, tmp_path, monkeypatch, fast_clock):
    (tmp_path / "canary.yml").write_text(CANARY_BOOK)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "step-summary.md"))
    issued: list[str] = []  # every access token the sandbox hands out
    real_issue = sandbox_identity.Identity.issue

    def issue(self: Any, params: dict[str, list[str]]) -> Any:
        client, reply = real_issue(self, params)
        issued.append(reply["access_token"])
        return client, reply

    monkeypatch.setattr(sandbox_identity.Identity, "issue", issue)
    faults = FaultPlan(seed=5, fault20016=0.15, http503=0.15, fault20023=0.1)
    # A new token every three requests. (A token asked for again after an injected 602 comes
    # back with 150, 100 or 50 s left: never in its last 30 s, which the runner would wait
    # out in real time.)
    fast_clock.step = 50.0
    config = box.fixture_config(_canary_fixture(tmp_path)).override(
        faults=faults, rest_token_lifetime=200)
    with box.running(tmp_path / "box.db", _canary_fixture(tmp_path), config=config,
                     strict=True, clock=fast_clock) as info:
        assert info.client_secret == CLIENT_SECRET
        env = {**rest_target_env(info), "CANARY": FIELD_SECRET}
        run = run_cli("canary.yml", "--junit", "junit.xml", "--markdown", "summary.md",
                      "--retry-backoff", "0.01", "-v", env=env)
        plan = run_cli("plan", "canary.yml", "--envelopes", "envelopes", "--markdown",
                       "plan.md", env=env)
        checked = run_cli("plan", "canary.yml", "--preflight", env=env)  # reads Marketo
        (run_dir,) = (tmp_path / ".mktows" / "runs").iterdir()
        resumed = run_cli("resume", run_dir.name, "-v", env=env)
        wrong = run_cli("canary.yml", "--report", "wrong.json", env={**env, "MKTO_CLIENT_SECRET":
                                                                      WRONG_SECRET})
        store = box.open_store(info.db_path)
        stored, log = store.leads(), store.requests()
    assert (run.code, plan.code, checked.code, resumed.code) == (1, 0, 0, 1), (
        run.err + plan.err + checked.err + resumed.err)
    # The secrets were really used: the field value went out and came back ...
    assert stored[0]["attributes"]["Title"] == FIELD_SECRET
    results = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    sync = results["steps"][0]["calls"][0]["outputs"]["leadRecord"]
    assert sync["leadAttributeList"]["Title"] == "***"
    # ... the run retried and re-authenticated, and several tokens were issued and used.
    assert "retry" in run.out + run.err
    assert any(r["fault_code"] == 602 for r in log)
    assert len(set(issued)) >= 3, issued
    # A wrong secret: a credential error naming the client id, never the secret.
    assert wrong.code != 0
    assert "refused the credentials of client id" in wrong.err and info.client_id in wrong.err

    needles = {f.encode() for s in (CLIENT_SECRET, WRONG_SECRET, FIELD_SECRET, *issued)
               for f in encoded_forms(s)}
    # Tokens are `<uuid>:sb`: their UUID part alone must not be there either.
    needles |= {t.split(":", 1)[0].encode() for t in issued}
    outputs = _everything(tmp_path, run, plan, checked, resumed, wrong)
    names = {Path(name).name for name, _ in outputs}
    assert names >= {"results.json", "junit.xml", "summary.md", "journal.jsonl", "plan.md",
                     "step-summary.md"}, names
    leaks = [f"{needle.decode()!r} in {name}" for name, blob in outputs for needle in needles
             if needle in blob]
    assert not leaks, "leaked: " + "; ".join(leaks)
    for name, blob in outputs:
        assert not SIGNATURE.search(blob), f"a signature-like value leaked into {name}"
