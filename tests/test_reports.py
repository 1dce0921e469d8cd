"""Reports: results.json (schema, exact round trip), JUnit (against a JUnit XSD), Markdown,
GitHub annotations and job summary, and the redactor on every one of them."""

from __future__ import annotations

import io
import json
from pathlib import Path
from xml.etree import ElementTree as ET

import jsonschema
import pytest
import xmlschema
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.errors import UsageError
from runner.model import CALL_STATUSES, CallResult, Retry, RunResult, StepResult
from runner.operations import NAMES as OPERATIONS
from runner.report import github, json_writer, junit_writer, markdown_writer, rerender, write_all
from runner.secrets import Redactor
from tests.conftest import ROOT

SECRET = "s3cr3t-Encryption-Key-0042"
SIGNATURE = "0123456789abcdef0123456789abcdef01234567"  # looks like an HMAC-SHA1: always masked
REDACT = Redactor([SECRET])
SCHEMA = json.loads((ROOT / "schemas" / "results.schema.json").read_text())
JUNIT_XSD = xmlschema.XMLSchema(ROOT / "tests" / "data" / "junit" / "junit.xsd")


def _step(step_id: str, operation: str, line: int, *calls: CallResult) -> StepResult:
    step = StepResult(step_id, operation, "skipped", line)
    for call in calls:
        step.add(call)
    return step


def every_status(interrupted: bool = False) -> RunResult:
    """One run with every outcome a call can have, and a secret in the places it can leak."""
    fault = CallResult(
        "import/batch-3", "batch 3/3", "failed", attempts=1, duration_s=0.25,
        fault_code=20014, error_kind="fault",
        fault_message=f"Authentication failed: key {SECRET} | <details> %done\nline two")
    return RunResult(
        playbook="playbooks/welcome.yml", started_at="2026-03-01T10:00:00+01:00",
        finished_at="2026-03-01T10:00:09+01:00", endpoint="https://123-ABC-456.mktoapi.com/soap/mktows/3_1",
        name="Welcome, new leads", run_id="run-20260301-0001", interrupted=interrupted,
        steps=[
            _step("sync", "syncLead", 10, CallResult(
                "sync", "", "ok", attempts=2, duration_s=1.5,
                outputs={"leadId": 7, "status": "CREATED", "error": None, "leadRecord": None,
                         "note": f"signed {SIGNATURE}"},
                retries=[Retry(1, "HTTP 503", 1.0)])),
            _step("import", "syncMultipleLeads", 20,
                  CallResult("import/batch-1", "batch 1/3", "ok", attempts=1, duration_s=0.5,
                             outputs={"leadIds": [1, 2]}),
                  CallResult("import/batch-2", "batch 2/3", "ok", resumed=True,
                             outputs={"leadIds": [3]}),
                  fault),
            _step("notify", "requestCampaign", 30, CallResult(
                "notify", "", "failed", attempts=3, duration_s=4.0, error_kind="transport",
                fault_message="connection refused",
                retries=[Retry(1, "connection refused", 1.0), Retry(2, "connection refused", 2.0)])),
            _step("schedule", "scheduleCampaign", 40, CallResult(
                "schedule", "", "ambiguous", attempts=1, duration_s=30.0, error_kind="ambiguous",
                fault_message="read timed out after 30 s")),
            _step("lookup", "getLead", 50),
            _step("campaigns", "getCampaignsForSource", 60,
                  CallResult("campaigns/item-1", "item 1 (sources.csv:2)", "skipped")),
        ])


def green() -> RunResult:
    return RunResult("p.yml", "2026-03-01T10:00:00Z", "2026-03-01T10:00:01Z", "http://127.0.0.1:1/",
                     name="", steps=[_step("sync", "syncLead", 5, CallResult(
                         "sync", "", "ok", attempts=1, duration_s=0.1, outputs={"leadId": 1}))])


def huge(calls: int = 50_000) -> RunResult:
    """A long loop whose last item failed: far more than GitHub's summary limit as a page."""
    items = [CallResult(f"import/item-{i}", f"item {i} (leads.csv:{i + 1})", "ok", attempts=1,
                        duration_s=0.01, outputs={"leadId": i, "status": "UPDATED"})
             for i in range(1, calls)]
    items.append(CallResult(f"import/item-{calls}", f"item {calls}", "failed", attempts=1,
                            fault_code=20103, fault_message="Lead not found", error_kind="fault"))
    # Built directly: StepResult.add recomputes the status per call, quadratic at this size.
    return RunResult("big.yml", "2026-03-01T10:00:00Z", "2026-03-01T11:00:00Z",
                     steps=[StepResult("import", "syncLead", "failed", 3, calls=items)])


RESULTS = {"every status": every_status(), "interrupted": every_status(interrupted=True),
           "green": green(), "no steps": RunResult("empty.yml", "2026-03-01T10:00:00Z")}
each_result = pytest.mark.parametrize("result", RESULTS.values(), ids=RESULTS.keys())


def _validate_json(data: object) -> None:
    jsonschema.Draft202012Validator(SCHEMA).validate(data)


def _cases(xml: str) -> list[ET.Element]:
    return ET.fromstring(xml).findall("testsuite/testcase")


# results.json -----------------------------------------------------------------------------


@each_result
def test_results_json_validates_against_the_published_schema(result, tmp_path):
    json_writer.write(result, tmp_path / "results.json", REDACT)
    _validate_json(json.loads((tmp_path / "results.json").read_text()))


@each_result
def test_results_json_round_trips_to_an_equal_run_result(result):
    data = json.loads(json.dumps(json_writer.to_dict(result)))
    assert json_writer.from_dict(data) == result
    assert json_writer.to_dict(json_writer.from_dict(data)) == data


def test_a_written_file_reads_back_as_the_same_run_when_nothing_needed_masking(tmp_path):
    json_writer.write(green(), tmp_path / "r.json", REDACT)
    assert json_writer.read(tmp_path / "r.json") == green()
    assert not (tmp_path / "r.json.tmp").exists()


def test_the_summary_counts_steps_and_calls_by_status_and_totals_attempts_and_retries():
    data = json_writer.to_dict(every_status())
    assert data["status"] == "failed"
    assert data["summary"] == {
        "steps": {"ok": 1, "failed": 2, "ambiguous": 1, "skipped": 2},
        "calls": {"ok": 3, "failed": 2, "ambiguous": 1, "skipped": 1},
        "attempts": 8, "retries": 3}


def test_a_step_carries_its_first_failure_and_its_outputs_only_when_it_made_one_call():
    steps = {s["id"]: s for s in json_writer.to_dict(every_status())["steps"]}
    assert steps["import"]["fault"]["code"] == 20014
    assert steps["import"]["outputs"] == {}
    assert steps["import"]["calls"][1]["resumed"] is True
    assert steps["notify"]["fault"] == {"code": None, "message": "connection refused",
                                        "kind": "transport"}
    assert steps["sync"]["outputs"]["leadId"] == 7
    assert steps["sync"]["calls"][0]["retries"] == [
        {"attempt": 1, "reason": "HTTP 503", "wait_s": 1.0}]
    assert steps["lookup"]["calls"] == [] and steps["lookup"]["fault"] is None
    assert {s["file"] for s in steps.values()} == {"playbooks/welcome.yml"}


def test_an_interrupted_run_says_interrupted_whatever_its_steps_say():
    assert json_writer.to_dict(every_status(interrupted=True))["status"] == "interrupted"


def test_an_ambiguous_call_without_a_failure_makes_the_run_ambiguous():
    run = RunResult("p.yml", "t", steps=[_step("s", "requestCampaign", 1, CallResult(
        "s", "", "ambiguous", attempts=1, error_kind="ambiguous"))])
    assert json_writer.to_dict(run)["status"] == "ambiguous"


def test_the_endpoint_is_written_without_credentials():
    run = RunResult("p.yml", "t", endpoint="https://user:pa55word@example.com/soap/mktows/3_1")
    assert json_writer.to_dict(run)["endpoint"] == "https://example.com/soap/mktows/3_1"


def test_every_field_of_the_schema_is_described():
    def walk(node: object, where: str) -> None:
        if isinstance(node, dict):
            for name, sub in node.get("properties", {}).items():
                assert "description" in sub, f"{where}.{name} has no description"
            for key, sub in node.items():
                walk(sub, f"{where}.{key}")

    walk(SCHEMA, "$")


def test_the_schema_lists_exactly_the_operations_the_runner_drives():
    assert SCHEMA["$defs"]["step"]["properties"]["operation"]["enum"] == list(OPERATIONS)
    assert SCHEMA["$defs"]["status"]["enum"] == list(CALL_STATUSES)


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8)
                     | st.floats(allow_nan=False, allow_infinity=False),
                     lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6)
_calls = st.builds(
    CallResult, key=st.text(max_size=10), label=st.text(max_size=10),
    status=st.sampled_from(CALL_STATUSES), attempts=st.integers(0, 5),
    duration_s=st.floats(0, 1e4), outputs=st.dictionaries(st.text(max_size=5), _json, max_size=3),
    fault_code=st.none() | st.integers(0, 99999), fault_message=st.none() | st.text(max_size=20),
    error_kind=st.sampled_from([None, "fault", "transport", "response", "ambiguous"]),
    retries=st.lists(st.builds(Retry, st.integers(1, 9), st.text(max_size=10), st.floats(0, 60)),
                     max_size=2),
    resumed=st.booleans())
_steps = st.builds(StepResult, id=st.text(min_size=1, max_size=8),
                   operation=st.sampled_from(OPERATIONS), status=st.sampled_from(CALL_STATUSES),
                   line=st.integers(1, 10_000), name=st.none() | st.text(max_size=8),
                   calls=st.lists(_calls, max_size=3))
_runs = st.builds(RunResult, playbook=st.text(max_size=12), started_at=st.text(max_size=25),
                  finished_at=st.text(max_size=25), endpoint=st.just("http://127.0.0.1:8080/"),
                  name=st.text(max_size=12), run_id=st.text(max_size=12),
                  interrupted=st.booleans(), steps=st.lists(_steps, max_size=4))


@settings(max_examples=150, deadline=None)
@given(_runs)
def test_any_run_round_trips_exactly_and_both_validators_accept_it(run):
    data = json.loads(json.dumps(json_writer.to_dict(run)))
    assert json_writer.from_dict(data) == run
    jsonschema.Draft202012Validator(SCHEMA).validate(data)
    JUNIT_XSD.validate(junit_writer.render(run, REDACT))


def _dumped(result: RunResult, redactor: Redactor) -> str:
    """results.json as the standard library writes it: render must be exactly this."""
    data = redactor.tree(json_writer.to_dict(result))
    return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"


@settings(max_examples=150, deadline=None)
@given(_runs, st.sampled_from([REDACT, Redactor(), Redactor(["ab", "a\\b\"c", "é€𝄞x"])]))
def test_results_json_is_written_exactly_as_json_dumps_writes_it(run, redactor):
    assert json_writer.render(run, redactor) == _dumped(run, redactor)


def test_results_json_encodes_odd_values_exactly_as_json_dumps_does():
    """What outputs may hold besides plain JSON: non-string keys (two that mask alike merge,
    as in Redactor.tree), tuples, special floats, huge ints, objects (str() of them)."""
    outputs = {1: "one", "1": "uno", None: [True, False, None], 2.5: (1, [], {}),
               SECRET: {"nested": [SECRET, f"x{SECRET}y", SIGNATURE]},
               "floats": [float("nan"), float("inf"), -float("inf"), -0.0, 1e300, 0.1],
               "big": 10**30, "path": Path("/tmp/a b"), "text": "é\u2028\x00\"\\</>",
               "empty": {"list": [], "dict": {}, "text": ""}}
    run = RunResult("p.yml", "now", steps=[_step("s", "syncLead", 1, CallResult(
        "s", "", "ok", outputs=outputs))])
    for redactor in (REDACT, Redactor()):
        assert json_writer.render(run, redactor) == _dumped(run, redactor)
    assert SECRET not in json_writer.render(run, REDACT)


@each_result
def test_results_json_of_every_example_is_written_as_json_dumps_writes_it(result):
    assert json_writer.render(result, REDACT) == _dumped(result, REDACT)


# JUnit ------------------------------------------------------------------------------------


@each_result
def test_junit_validates_against_the_junit_xsd(result):
    JUNIT_XSD.validate(junit_writer.render(result, REDACT))


def test_junit_has_one_testcase_per_call_and_one_skipped_testcase_per_step_without_calls():
    xml = junit_writer.render(every_status(), REDACT)
    cases = [(c.get("classname"), c.get("name")) for c in _cases(xml)]
    assert cases == [("sync", "sync"), ("import", "batch 1/3"), ("import", "batch 2/3"),
                     ("import", "batch 3/3"), ("notify", "notify"), ("schedule", "schedule"),
                     ("lookup", "lookup"), ("campaigns", "item 1 (sources.csv:2)")]
    assert all(c.get("file") == "playbooks/welcome.yml" for c in _cases(xml))
    assert [c.get("line") for c in _cases(xml)][:2] == ["10", "20"]


def test_junit_reports_faults_as_failures_and_transport_and_ambiguous_outcomes_as_errors():
    xml = junit_writer.render(every_status(), REDACT)
    suite = ET.fromstring(xml).find("testsuite")
    assert suite is not None
    assert suite.get("name") == "Welcome, new leads"
    assert {k: suite.get(k) for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": "8", "failures": "1", "errors": "2", "skipped": "2"}
    by_name = {c.get("name"): c for c in _cases(xml)}
    failure = by_name["batch 3/3"].find("failure")
    assert failure is not None and failure.get("type") == "fault"
    assert (failure.get("message") or "").startswith("fault 20014: Authentication failed")
    assert [(by_name[n][0].tag, by_name[n][0].get("type")) for n in ("notify", "schedule")] == [
        ("error", "transport"), ("error", "ambiguous")]
    assert by_name["lookup"].find("skipped") is not None


def test_junit_lists_retries_and_resumed_calls_in_system_out():
    by_name = {c.get("name"): c for c in _cases(junit_writer.render(every_status(), REDACT))}
    assert by_name["notify"].findtext("system-out") == (
        "attempt 1: connection refused; tried again after 1 s\n"
        "attempt 2: connection refused; tried again after 2 s")
    assert "earlier run" in (by_name["batch 2/3"].findtext("system-out") or "")
    assert by_name["batch 1/3"].find("system-out") is None


def test_junit_stays_well_formed_when_a_message_holds_characters_xml_cannot_carry():
    run = every_status()
    run.steps[2].calls[0].fault_message = "bad\x00byte\x1b[31m"
    xml = junit_writer.render(run, REDACT)
    JUNIT_XSD.validate(xml)
    assert "bad\ufffdbyte" in xml


# Markdown ---------------------------------------------------------------------------------


def test_markdown_opens_with_the_verdict_and_puts_failures_before_the_steps_table():
    md = markdown_writer.render(every_status(), REDACT)
    lines = md.splitlines()
    assert lines[0] == "### mktows-run: Welcome, new leads"
    assert lines[2] == (
        "**FAILED** · playbooks/welcome.yml · steps: 1 ok, 2 failed, 1 ambiguous, 2 skipped · "
        "calls: 3 ok, 2 failed, 1 ambiguous, 1 skipped · 8 attempts, 3 retries · 36.250 s · "
        "run run-20260301-0001")
    assert md.index("#### Failures") < md.index("#### Steps") < md.index("<details>")
    failures = md[md.index("#### Failures"):md.index("#### Steps")]
    assert failures.index("import") < failures.index("notify") < failures.index("schedule")
    assert "[playbooks/welcome.yml#L20](playbooks/welcome.yml#L20): fault 20014:" in failures
    assert "AMBIGUOUS" in failures and "Marketo may have acted" in failures


def test_markdown_tables_have_a_row_per_step_with_calls_attempts_and_duration():
    md = markdown_writer.render(every_status(), REDACT)
    assert "| FAILED | import | syncMultipleLeads | 2 / 1 / 0 | 2 | 0.750 |" in md
    assert "| skipped | lookup | getLead | 0 / 0 / 0 | 0 | 0.000 |" in md
    assert "| batch 2/3 | ok (resumed) | 0 | 0 | 0.000 | leadIds=" not in md  # lists are not shown
    # The mask is escaped so Markdown shows *** rather than reading it as emphasis.
    assert r"| sync | ok | 2 | 1 | 1.500 | leadId=7 status=CREATED note=signed \*\*\* |" in md


def test_markdown_text_from_marketo_cannot_break_the_tables_or_the_folds():
    md = markdown_writer.render(every_status(), REDACT)
    assert md.count("<details>") == md.count("</details>") == 5
    assert "&lt;details&gt;" in md and "&#124; &lt;details&gt; %done line two" in md


def test_markdown_of_a_50000_call_run_stays_under_1_mib_and_says_it_was_trimmed():
    md = markdown_writer.render(huge(), REDACT)
    assert len(md.encode("utf-8")) < 1024 * 1024
    assert md.index("#### Failures") < md.index("#### Steps")
    assert "fault 20103: Lead not found" in md
    assert md.count("<details>") == md.count("</details>") == 1
    assert md.rstrip().endswith("the full record of every call is in results.json.")


def test_markdown_that_fits_is_not_trimmed():
    assert "Trimmed" not in markdown_writer.render(every_status(), REDACT)


# GitHub -----------------------------------------------------------------------------------


def test_annotations_point_at_each_failed_or_ambiguous_step_with_escaped_values():
    lines = github.annotations(every_status(), REDACT)
    assert lines[0] == (
        "::error file=playbooks/welcome.yml,line=20,title=mktows-run%3A step import "
        "(syncMultipleLeads) failed::batch 3/3: fault 20014: Authentication failed: key *** "
        "| <details> %25done%0Aline two")
    assert [line.split(",")[1] for line in lines] == ["line=20", "line=30", "line=40"]
    assert all("\n" not in line for line in lines)


def test_the_workflow_command_escapes_follow_the_runner_rules():
    assert github.escape_data("100%\r\nnext") == "100%25%0D%0Anext"
    assert github.escape_property("a,b:c%\n") == "a%2Cb%3Ac%25%0A"


def test_annotations_use_the_path_from_the_workspace_and_warn_about_an_interrupted_run(tmp_path):
    run = every_status(interrupted=True)
    run.playbook = str(tmp_path / "playbooks" / "p.yml")
    lines = github.annotations(run, REDACT, {"GITHUB_WORKSPACE": str(tmp_path)})
    assert lines[0].startswith("::error file=playbooks/p.yml,line=20,")
    assert lines[-1] == "::warning title=mktows-run::the run was interrupted before it finished"


def test_annotations_are_capped_with_a_last_line_saying_how_many_more():
    run = RunResult("p.yml", "t", steps=[_step(f"s{i}", "getLead", i + 1, CallResult(
        f"s{i}", "", "failed", fault_code=20103, error_kind="fault")) for i in range(15)])
    lines = github.annotations(run, REDACT)
    assert len(lines) == github.MAX_ANNOTATIONS
    assert lines[-1].startswith("::error title=mktows-run::6 more steps")


def test_the_step_summary_is_appended_to_the_file_github_names(tmp_path):
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier step\n")
    assert github.append_step_summary("hello\n", {"GITHUB_STEP_SUMMARY": str(summary)})
    assert summary.read_text() == "# earlier step\n\nhello\n"
    assert not github.append_step_summary("hello\n", {})


def test_links_point_at_the_commit_being_built_inside_github_actions(tmp_path):
    env = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/ops",
           "GITHUB_SHA": "abc123", "GITHUB_WORKSPACE": str(tmp_path)}
    link = github.source_link(env)
    assert link(str(tmp_path / "play books" / "p.yml"), 7) == (
        "https://github.com/acme/ops/blob/abc123/play%20books/p.yml#L7")
    assert github.source_link({}) is markdown_writer.relative_link


# write_all and rerender -------------------------------------------------------------------


def _paths(tmp_path: Path) -> dict[str, Path]:
    return {"results_path": tmp_path / "out" / "results.json",
            "junit_path": tmp_path / "out" / "junit.xml",
            "markdown_path": tmp_path / "out" / "summary.md"}


def test_write_all_writes_every_report_and_feeds_github_inside_actions(tmp_path):
    summary = tmp_path / "step-summary.md"
    out = io.StringIO()
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    write_all(every_status(), **_paths(tmp_path), redact=REDACT, env=env, out=out)
    paths = _paths(tmp_path)
    _validate_json(json.loads(paths["results_path"].read_text()))
    JUNIT_XSD.validate(str(paths["junit_path"]))
    assert summary.read_text().strip() == paths["markdown_path"].read_text().strip()
    assert out.getvalue().count("::error file=") == 3


def test_write_all_outside_actions_prints_nothing_and_writes_only_what_was_asked(tmp_path):
    out = io.StringIO()
    write_all(green(), results_path=tmp_path / "r.json", redact=REDACT, env={}, out=out)
    assert out.getvalue() == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_a_secret_given_to_the_redactor_appears_in_no_report(tmp_path):
    summary = tmp_path / "step-summary.md"
    out = io.StringIO()
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    run = every_status()
    run.steps[0].calls[0].outputs[SECRET] = {"nested": [f"x{SECRET}x"]}
    run.steps[0].calls[0].label = f"item for {SECRET}"
    write_all(run, **_paths(tmp_path), redact=REDACT, env=env, out=out)
    texts = [p.read_text() for p in _paths(tmp_path).values()]
    texts += [summary.read_text(), out.getvalue()]
    for text in texts:
        assert SECRET not in text and SIGNATURE not in text
        assert "***" in text.replace("\\", "")  # Markdown escapes the mask as \*\*\*
    assert len(texts) == 5


def test_rerender_writes_the_same_reports_from_results_json_alone(tmp_path):
    paths = _paths(tmp_path)
    write_all(every_status(), **paths, redact=REDACT, env={}, out=io.StringIO())
    again = tmp_path / "again"
    rerender(paths["results_path"], again / "junit.xml", again / "summary.md", REDACT)
    assert (again / "junit.xml").read_text() == paths["junit_path"].read_text()
    assert (again / "summary.md").read_text() == paths["markdown_path"].read_text()


@pytest.mark.parametrize(("content", "says"), [
    ("version: 1\nsteps: []\n", "not JSON"),
    ('{"steps": []}', "no format_version"),
    ('{"format_version": 2, "steps": []}', "format_version 2; mktows-run"),
    ('{"format_version": 1, "steps": []}', "'runner' is a required property"),
], ids=["a playbook", "other JSON", "a newer format", "an incomplete file"])
def test_rerender_rejects_a_file_that_is_not_a_known_results_json(tmp_path, content, says):
    bad = tmp_path / "results.json"
    bad.write_text(content)
    with pytest.raises(UsageError, match=r"results\.json") as caught:
        rerender(bad, tmp_path / "junit.xml", None, REDACT)
    assert says in str(caught.value)
    assert not (tmp_path / "junit.xml").exists()


def test_rerender_of_a_missing_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="cannot read"):
        rerender(tmp_path / "nope.json", None, None, REDACT)


def test_calls_written_as_they_settle_give_the_same_results_json():
    result = every_status()
    prerendered = json_writer.Prerendered(REDACT)
    for step in result.steps:
        for call in step.calls[::2]:  # some written ahead, the others at the end
            prerendered.add(call)
    assert json_writer.render(result, REDACT, prerendered) == json_writer.render(result, REDACT)
    # Made with another redactor, they are not used.
    assert json_writer.render(result, Redactor(), prerendered) == json_writer.render(
        result, Redactor())


def test_a_secret_learned_after_a_call_was_written_is_masked_in_it():
    token = "tok-3f9a1c2e7b"
    redactor = Redactor([SECRET])
    call = CallResult("sync", "", "ok", outputs={"echo": f"bearer {token}"})
    result = RunResult("p.yml", "now", steps=[_step("sync", "syncLead", 1, call)])
    prerendered = json_writer.Prerendered(redactor)
    prerendered.add(call)
    redactor.add(token)  # as runs.py learns a REST token ...
    prerendered.forget()  # ... and forgets what was written without it
    text = json_writer.render(result, redactor, prerendered)
    assert token not in text and text == json_writer.render(result, redactor)
