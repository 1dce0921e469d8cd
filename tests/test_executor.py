"""Safe execution: pacing, retries by fault code, no blind resend, journal and resume,
interruption. The server is the real sandbox over HTTP; a wrapping transport injects the
failure shapes at exact attempts (after forwarding, for "the server acted, the client never
heard")."""

from __future__ import annotations

import json
import textwrap
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runner import journal
from runner import sandbox as box
from runner.cli import exit_code
from runner.errors import SoapFaultError, TransportError
from runner.executor import execute as send
from runner.model import HttpReply
from runner.operations import REGISTRY
from runner.options import RunOptions, Selection
from runner.options import Sending as ExecOptions
from runner.prepare import Plan, prepare
from runner.ratelimit import Rate, RateLimiter
from runner.retry import AMBIGUOUS, BACKOFF, FAIL, RESIGN, RetryPolicy, decide
from runner.runs import Outcome
from runner.secrets import Redactor, Secret
from runner.soap.auth import sign
from runner.target import Target
from runner.transport import HttpTransport

FAST = RetryPolicy(max_attempts=4, base_s=0.01)


class Scripted:
    """Forwards to the real sandbox; attempt n (1-based, over the whole run) may fail."""

    def __init__(self, script: dict[int, tuple[str, object]]) -> None:
        self.real = HttpTransport()
        self.script = script
        self.attempt = 0
        self.envelopes: list[str] = []
        self.lock = threading.Lock()

    def post(self, url: str, operation: str, envelope: str) -> HttpReply:
        with self.lock:
            self.attempt += 1
            what = self.script.get(self.attempt)
            self.envelopes.append(envelope)
        if what is None:
            return self.real.post(url, operation, envelope)
        kind, arg = what
        if kind == "before":  # never reached the server
            raise TransportError("connection refused", sent=False)
        if kind == "after":  # reached the server, which acted; the answer is lost
            self.real.post(url, operation, envelope)
            raise TransportError("read timeout", sent=True)
        if kind == "fault":
            raise SoapFaultError(int(arg), f"injected ({arg})", 500)  # type: ignore[call-overload]
        raise AssertionError(kind)


@dataclass
class Prepared:
    """A plan and the sandbox it is sent to (the CLI hands the target over the same way)."""

    plan: Plan
    target: Target
    redactor: Redactor = field(init=False)

    def __post_init__(self) -> None:
        self.redactor = self.plan.redactor.with_values(self.target.encryption_key)


def _plan(tmp_path: Path, info, body: str, selection: Selection | None = None) -> Prepared:
    path = tmp_path / "p.yml"
    path.write_text("version: 1\n" + textwrap.dedent(body))
    plan = prepare(RunOptions(playbook=path, wsdl=str(Path(box.__file__).parents[2] /
                                                      "schemas" / "mktows.wsdl"),
                              sandbox=True, selection=selection or Selection()))
    return Prepared(plan, Target(info.endpoint, info.user_id, Secret(info.encryption_key)))


def _execute(prepared: Prepared, transport, options: ExecOptions, **kw):
    return send(prepared.plan, prepared.target, transport, options, redactor=prepared.redactor,
                **kw)


SYNC_THEN_REQUEST = """\
steps:
  - id: sync
    syncLead: {leadRecord: {Email: exec@example.com}}
  - id: request
    requestCampaign:
      campaignId: 1001
      leadList: [{keyType: IDNUM, keyValue: "${steps.sync.leadId}"}]
  - id: again
    getLead: {leadKey: {keyType: EMAIL, keyValue: exec@example.com}}
"""


@pytest.mark.parametrize(("error", "operation", "action"), [
    (SoapFaultError(20016, "expired"), "requestCampaign", RESIGN),
    (SoapFaultError(20023, "rate"), "requestCampaign", BACKOFF),
    (SoapFaultError(20024, "concurrency"), "syncLead", BACKOFF),
    (SoapFaultError(10001, "internal"), "syncLead", BACKOFF),
    (SoapFaultError(20011, "internal"), "syncLead", BACKOFF),
    (SoapFaultError(20014, "auth"), "syncLead", FAIL),
    (SoapFaultError(20015, "quota"), "syncLead", FAIL),
    (SoapFaultError(20103, "not found"), "getLead", FAIL),
    (SoapFaultError(20110, "bad parameter"), "requestCampaign", FAIL),
    (TransportError("refused", sent=False), "requestCampaign", BACKOFF),
    (TransportError("HTTP 503", sent=True, http_status=503), "requestCampaign", BACKOFF),
    (TransportError("timeout", sent=True), "syncLead", BACKOFF),
    (TransportError("timeout", sent=True), "syncMultipleLeads", BACKOFF),
    (TransportError("timeout", sent=True), "requestCampaign", AMBIGUOUS),
    (TransportError("reset", sent=True), "scheduleCampaign", AMBIGUOUS),
])
def test_each_failure_gets_its_documented_treatment(error, operation, action):
    assert decide(error, REGISTRY[operation].idempotent) == action


def test_the_rate_limiter_never_lets_more_than_the_limit_into_a_window():
    now = [0.0]
    starts: list[float] = []
    limiter = RateLimiter(Rate(100, 20.0), clock=lambda: now[0],
                          sleep=lambda s: now.__setitem__(0, now[0] + s))
    for _ in range(350):
        slot = limiter.acquire()
        starts.append(now[0])
        now[0] += 0.01  # the call takes 10 ms
        limiter.release(slot)
    for i in range(len(starts) - 100):  # call k+100 starts a window after call k's answer
        assert starts[i + 100] - (starts[i] + 0.01) >= 20.0
    assert starts[-1] < 3 * 20.0 * 1.05  # and it does not wait longer than it must


def test_rate_text_is_parsed():
    assert Rate.parse("100/20s") == Rate(100, 20.0)
    assert Rate.parse("100/2s") == Rate(100, 2.0)
    assert Rate.parse("50/1m") == Rate(50, 60.0)
    with pytest.raises(ValueError):
        Rate.parse("fast")


def test_an_expired_signature_is_retried_at_once_with_a_new_signature(sandbox, tmp_path):
    plan = _plan(tmp_path, sandbox, SYNC_THEN_REQUEST)
    transport = Scripted({2: ("fault", 20016)})
    start, ticks = datetime.now(UTC), iter(range(100))

    def clock() -> datetime:  # a second passes between attempts
        return start + timedelta(seconds=next(ticks))

    sandbox_clock_ok = ExecOptions(policy=FAST)
    result = _execute(plan, transport, sandbox_clock_ok, clock=clock)
    request = result.steps[1].calls[0]
    assert request.status == "ok" and request.attempts == 2
    assert request.retries[0].reason == "fault 20016" and request.retries[0].wait_s == 0
    stamps = [e.split("<requestTimestamp>")[1].split("<")[0] for e in transport.envelopes[1:3]]
    signatures = [e.split("<requestSignature>")[1][:40] for e in transport.envelopes[1:3]]
    assert stamps[0] != stamps[1] and signatures[0] != signatures[1]
    assert signatures[1] == sign(stamps[1], sandbox.user_id, sandbox.encryption_key)


def test_transient_faults_back_off_and_permanent_ones_fail_at_once(sandbox, tmp_path):
    plan = _plan(tmp_path, sandbox, SYNC_THEN_REQUEST)
    result = _execute(plan, Scripted({1: ("fault", 20023), 2: ("before", None),
                                         4: ("fault", 20110)}),
                         ExecOptions(policy=FAST, seed=1))
    sync, request, again = result.steps
    assert (sync.status, sync.calls[0].attempts) == ("ok", 3)
    assert [r.reason for r in sync.calls[0].retries] == ["fault 20023", "connection refused"]
    assert all(r.wait_s > 0 for r in sync.calls[0].retries)
    assert (request.status, request.calls[0].attempts, request.calls[0].fault_code) == (
        "failed", 1, 20110)
    assert again.status == "skipped"


def test_a_lost_answer_to_a_campaign_request_is_ambiguous_and_never_resent(sandbox, tmp_path):
    plan = _plan(tmp_path, sandbox, SYNC_THEN_REQUEST)
    result = _execute(plan, Scripted({2: ("after", None)}), ExecOptions(policy=FAST))
    request = result.steps[1]
    assert request.status == "ambiguous" and request.calls[0].attempts == 1
    assert result.steps[2].status == "skipped"  # the run stops
    assert exit_code(Outcome(result)) == 1
    runs = box.open_store(sandbox.db_path).campaign_runs()
    assert len(runs) == 1  # the server did act, exactly once


def test_a_lost_answer_to_an_upsert_is_retried(sandbox, tmp_path):
    plan = _plan(tmp_path, sandbox, SYNC_THEN_REQUEST)
    result = _execute(plan, Scripted({1: ("after", None)}), ExecOptions(policy=FAST))
    assert result.steps[0].calls[0].attempts == 2
    assert [s.status for s in result.steps] == ["ok", "ok", "ok"]
    assert len(box.open_store(sandbox.db_path).leads()) == 1  # the retry updated, not duplicated


def test_continue_on_ambiguous_runs_the_rest(sandbox, tmp_path):
    plan = _plan(tmp_path, sandbox, SYNC_THEN_REQUEST)
    result = _execute(plan, Scripted({2: ("after", None)}),
                         ExecOptions(policy=FAST, continue_on_ambiguous=True))
    assert [s.status for s in result.steps] == ["ok", "ambiguous", "ok"]


def test_concurrency_runs_a_steps_calls_in_parallel_and_keeps_outputs_in_order(sandbox,
                                                                              tmp_path):
    emails = [f"c{i}@example.com" for i in range(900)]
    plan = _plan(tmp_path, sandbox, f"""\
        vars: {{emails: {json.dumps(emails)}}}
        steps:
          - id: import
            loop: ${{vars.emails}}
            syncMultipleLeads: {{leadRecordList: [{{Email: "${{item}}"}}]}}
          - id: request
            requestCampaign:
              campaignId: 1001
              leadList: [{{keyType: IDNUM, keyValue: "${{steps.import.leadIds[899]}}"}}]
        """)
    result = _execute(plan, HttpTransport(), ExecOptions(concurrency=3))
    assert [len(s.calls) for s in result.steps] == [3, 1]
    store = box.open_store(sandbox.db_path)
    last = next(lead for lead in store.leads() if lead["email"] == "c899@example.com")
    assert store.campaign_runs()[0]["lead_ids"] == [last["id"]]


def test_selection_and_canary_limit(sandbox, tmp_path):
    plan_text = """\
        steps:
          - id: a
            tags: [lookup]
            getCampaignsForSource: {}
          - id: b
            loop: [x1@example.com, x2@example.com, x3@example.com]
            syncLead: {leadRecord: {Email: "${item}"}}
        """
    plan = _plan(tmp_path, sandbox, plan_text, Selection(only=frozenset({"b"}), limit_items=2))
    result = _execute(plan, HttpTransport(), ExecOptions())
    assert [s.status for s in result.steps] == ["skipped", "ok"]
    assert len(result.steps[1].calls) == 2
    assert len(box.open_store(sandbox.db_path).leads()) == 2


def test_an_interrupted_run_finishes_the_call_in_flight_and_says_so(sandbox, tmp_path):
    plan = _plan(tmp_path, sandbox, """\
        steps:
          - id: b
            loop: [i1@example.com, i2@example.com, i3@example.com]
            syncLead: {leadRecord: {Email: "${item}"}}
        """)
    stop = threading.Event()

    def observe(step, call):
        stop.set()  # "Ctrl-C" right after the first call

    result = _execute(plan, HttpTransport(), ExecOptions(), observe=observe, stop=stop)
    assert result.interrupted and result.status == "interrupted"
    assert len(result.steps[0].calls) == 1 and result.steps[0].calls[0].status == "ok"
    assert exit_code(Outcome(result)) == 130


def test_resume_skips_finished_calls_and_holds_back_ambiguous_ones(sandbox, tmp_path):
    plan = _plan(tmp_path, sandbox, SYNC_THEN_REQUEST)
    path = tmp_path / "run" / "journal.jsonl"
    j = journal.Journal(path, plan.redactor)
    j.write({"type": "run", "format": journal.FORMAT, "run_id": "r1", "request": {},
             "hashes": {}})
    first = _execute(plan, Scripted({2: ("after", None)}), ExecOptions(policy=FAST),
                        run_journal=j)
    j.close()
    assert first.steps[1].status == "ambiguous"
    past = journal.read(path.parent)
    assert set(past.done) == {"sync"} and set(past.ambiguous) == {"request/batch-1"}

    again = _execute(plan, Scripted({}), ExecOptions(), past=past)
    assert again.steps[0].calls[0].resumed and again.steps[0].status == "ok"
    assert again.steps[1].status == "ambiguous" and again.steps[1].calls[0].resumed
    assert len(box.open_store(sandbox.db_path).campaign_runs()) == 1  # not resent

    accepted = _execute(plan, Scripted({}), ExecOptions(accept_ambiguous=True), past=past)
    assert [s.status for s in accepted.steps] == ["ok", "ok", "ok"]
    assert len(box.open_store(sandbox.db_path).campaign_runs()) == 2  # resent on request


def test_a_call_in_flight_when_the_process_died_is_ambiguous_on_resume(tmp_path):
    path = tmp_path / "journal.jsonl"
    records = [{"type": "run", "format": journal.FORMAT, "run_id": "x", "request": {}},
               {"type": "send", "key": "request/batch-1"}]
    path.write_bytes(b"".join(journal.encode(r, Redactor()) for r in records)
                     + b'{"crc32":"00000000","record":{"type": "call", "key": "trunc')  # SIGKILL
    past = journal.read(tmp_path)
    assert set(past.ambiguous) == {"request/batch-1"}


def test_the_journal_never_holds_the_key_or_a_signature(sandbox, tmp_path):
    plan = _plan(tmp_path, sandbox, SYNC_THEN_REQUEST)
    j = journal.Journal(tmp_path / "j.jsonl", plan.redactor)
    transport = Scripted({1: ("fault", 20016)})
    _execute(plan, transport, ExecOptions(policy=FAST), run_journal=j)
    j.close()
    text = (tmp_path / "j.jsonl").read_text()
    assert sandbox.encryption_key not in text
    stamp = transport.envelopes[0].split("<requestTimestamp>")[1].split("<")[0]
    assert sign(stamp, sandbox.user_id, sandbox.encryption_key) not in text


def test_a_run_time_value_that_breaks_a_call_fails_that_step_and_stops(sandbox, tmp_path):
    plan = _plan(tmp_path, sandbox, """\
        steps:
          - id: sync
            syncLead: {leadRecord: {Email: rt@example.com}}
          - id: not-now
            when: false
            getCampaignsForSource: {}
          - id: get
            getLead: {leadKey: {keyType: EMAIL, keyValue: rt@example.com}}
          - id: use
            requestCampaign:
              campaignId: 1001
              leadList: [{keyType: IDNUM, keyValue: "${steps.get.leadRecordList[3].Id}"}]
          - id: after
            getLead: {leadKey: {keyType: EMAIL, keyValue: rt@example.com}}
        """)
    result = _execute(plan, HttpTransport(), ExecOptions())
    assert [s.status for s in result.steps] == ["ok", "skipped", "ok", "failed", "skipped"]
    assert "returned no such value" in (result.steps[3].failure.fault_message or "")
    assert box.open_store(sandbox.db_path).campaign_runs() == []
