"""The canary: a full run with failures and retries, every report format, a plan with saved
envelopes, and an interrupted-then-resumed journal; afterwards not one byte written or
printed holds the encryption key, the ${secret.X} value, or a request signature."""

from __future__ import annotations

import html
import json
import re
import textwrap
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree
from xml.sax import saxutils

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner import journal
from runner import sandbox as box
from runner.sandbox.config import FaultPlan, SandboxConfig
from runner.secrets import Redactor
from tests.conftest import TARGET_YAML, target_env
from tests.test_transport import XML, LocalServer, send

SECRET = "canary-Secret-9f8e7d6c5b4a"
SIGNATURE = re.compile(rb"(?<![0-9a-f])[0-9a-f]{40}(?![0-9a-f])")  # HMAC-SHA1 hex

PLAYBOOK = "version: 1\n" + TARGET_YAML + """\
steps:
  - id: sync
    loop: [a@example.com, b@example.com, c@example.com, d@example.com]
    syncLead:
      leadRecord:
        Email: ${item}
        leadAttributeList: {Title: "${secret.CANARY}"}
      returnLead: true
  - id: schedule
    scheduleCampaign:
      programName: Welcome Program
      campaignName: Welcome Batch
      programTokenList: {"{{my.message}}": "${secret.CANARY}"}
  - id: broken
    requestCampaign: {campaignId: 999999}
"""


def test_no_secret_or_signature_appears_in_anything_the_run_leaves(run_cli, tmp_path,
                                                                   monkeypatch):
    (tmp_path / "canary.yml").write_text(textwrap.dedent(PLAYBOOK))
    summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    faults = FaultPlan(seed=5, fault20016=0.2, http503=0.2, fault20023=0.1)
    with box.running(tmp_path / "box.db", config=SandboxConfig(faults=faults)) as info:
        key = info.encryption_key
        env = {**target_env(info), "CANARY": SECRET}
        # (--no-preflight: the broken campaign must fail as a sent call, fault and all)
        run = run_cli("canary.yml", "--no-preflight", "--junit", "junit.xml", "--markdown",
                      "summary.md",
                      "--retry-backoff", "0.01", "-v", env=env)
        plan = run_cli("plan", "canary.yml", "--envelopes", "envelopes", "--markdown",
                       "plan.md", env=env)
        run_dir = next((tmp_path / ".mktows" / "runs").iterdir())
        resumed = run_cli("resume", run_dir.name, env=env)
        stored = box.open_store(info.db_path).leads()
    assert run.code == 1 and plan.code == 0 and resumed.code == 1
    assert stored[0]["attributes"]["Title"] == SECRET  # the secret was really used
    assert "retry" in run.out + run.err  # and the run really retried
    printed = (run.out + run.err + plan.out + plan.err + resumed.out + resumed.err).encode()
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix not in (".db", ".yml")
               and not p.name.startswith("box.db")]
    assert {p.name for p in written} >= {"results.json", "junit.xml", "summary.md",
                                         "journal.jsonl", "plan.md", "step-summary.md"}
    assert any(p.parent.name == "envelopes" for p in written)
    for name, blob in [("console", printed), *((str(p), p.read_bytes()) for p in written)]:
        for needle in (key.encode(), SECRET.encode()):
            assert needle not in blob, f"{needle!r} leaked into {name}"
        assert not SIGNATURE.search(blob), f"a signature-like value leaked into {name}"


# -- every shape of leak -------------------------------------------------------------------
# One canary per character that an encoder rewrites, a non-ASCII one and one too short for
# substring masking; each must be absent from everything the runner leaves, in every form.
CANARIES = {
    "C_QUOTE": 'cnry"Quote-4d1e',
    "C_BACKSLASH": "cnry\\Bslash-9a7c",
    "C_ANGLE": "cnry<Angle>-2b8f",
    "C_AMP": "cnry&Amp-6c3d",
    "C_APOS": "cnry'Apos-1f5a",
    "C_UNICODE": "cnry-Ünïcødé☃-8e2b",
    "C_SHORT": "q~Z",
}
# Credentials of the fault-server runs: a hostile key, and a password in the endpoint URL.
HOSTILE_KEY = "key\"<&'\\Ü-0f9e8d7c6b5a4"
URL_PASSWORD = "cnry-UrlPass-3c4d5e"
URL_USERINFO = f"cnry-user:{URL_PASSWORD}"


def encoded_forms(secret: str) -> set[str]:
    """Every way an output could carry `secret`: raw, or escaped for JSON, XML/HTML, Python,
    URLs or Markdown, or with its backslashes doubled."""
    md = re.sub(r"([\\`*_\[\]~])", r"\\\1", secret)
    forms = {
        secret,
        json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1],
        saxutils.escape(secret), saxutils.escape(secret, {'"': "&quot;", "'": "&apos;"}),
        html.escape(secret),
        repr(secret)[1:-1], ascii(secret)[1:-1],
        secret.replace("\\", "\\\\").replace("'", "\\'"),  # repr when it chose '...'
        secret.replace("\\", "\\\\").replace('"', '\\"'),
        secret.replace("\\", "\\\\"),
        json.dumps(repr(secret)[1:-1])[1:-1],  # a repr quoted again in JSON (a journal line)
        urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret), md,
    }
    return {f for f in forms if f}


NEEDLES = sorted({f.encode() for s in [*CANARIES.values(), HOSTILE_KEY, URL_PASSWORD,
                                       URL_USERINFO] for f in encoded_forms(s)})


def _everything(tmp_path: Path, *results: Any) -> list[tuple[str, bytes]]:
    """Console output of every command, and every file the runner wrote (not the sandbox's
    database or our own playbooks)."""
    printed = "".join(r.out + r.err for r in results).encode()
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix not in (".db", ".yml")
               and not p.name.startswith("box.db")]
    return [("console", printed), *((str(p.relative_to(tmp_path)), p.read_bytes())
                                    for p in written)]


def _assert_no_canary(outputs: list[tuple[str, bytes]]) -> None:
    leaks = [f"{needle.decode()!r} in {name}" for name, blob in outputs for needle in NEEDLES
             if needle in blob]
    assert not leaks, "leaked: " + "; ".join(leaks)
    for name, blob in outputs:
        assert not SIGNATURE.search(blob), f"a signature-like value leaked into {name}"


def test_the_test_knows_each_canary_in_many_forms():
    # The forms really differ: otherwise the greps below would test the raw form only.
    assert len(encoded_forms(CANARIES["C_QUOTE"])) >= 4
    assert len(encoded_forms(CANARIES["C_UNICODE"])) >= 4
    assert "cnry%3CAngle%3E-2b8f" in encoded_forms(CANARIES["C_ANGLE"])
    assert "cnry&amp;Amp-6c3d" in encoded_forms(CANARIES["C_AMP"])
    assert "cnry\\\\Bslash-9a7c" in encoded_forms(CANARIES["C_BACKSLASH"])
    assert "q\\~Z" in encoded_forms(CANARIES["C_SHORT"])


HOSTILE_PLAYBOOK = "version: 1\n" + TARGET_YAML + """\
steps:
  - id: sync
    loop: [a@example.com, b@example.com]
    syncLead:
      leadRecord:
        Email: ${item}
        leadAttributeList:
          FirstName: "${secret.C_QUOTE}"
          LastName: "${secret.C_BACKSLASH}"
          Title: "${secret.C_ANGLE}"
          City: "${secret.C_AMP}"
          Industry: "${secret.C_APOS}"
          LeadSource: "${secret.C_UNICODE}"
          Company: "${secret.C_SHORT}"
      returnLead: true
  - id: schedule
    scheduleCampaign:
      programName: Welcome Program
      campaignName: Welcome Batch
      programTokenList: {"{{my.message}}": "${secret.C_UNICODE} ${secret.C_AMP}"}
  - id: missing
    requestCampaign:
      programName: Welcome Program
      campaignName: "${secret.C_QUOTE} ${secret.C_BACKSLASH} ${secret.C_ANGLE} ${secret.C_AMP} \\
        ${secret.C_APOS} ${secret.C_UNICODE} ${secret.C_SHORT}"
"""


def test_hostile_secrets_leave_no_trace_in_a_run_its_plan_envelopes_and_resume(
        run_cli, tmp_path, monkeypatch):
    """Secrets with ", \\, <, &, ', non-ASCII, and one of 3 characters: sent for real to the
    sandbox, echoed back in its lead records and quoted (as a Python repr) in its fault."""
    (tmp_path / "hostile.yml").write_text(HOSTILE_PLAYBOOK)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "step-summary.md"))
    with box.running(tmp_path / "box.db", strict=True) as info:
        env = {**target_env(info), **CANARIES}
        run = run_cli("hostile.yml", "--no-preflight", "--junit", "junit.xml", "--markdown",
                      "summary.md", "-v",
                      env=env)
        plan = run_cli("plan", "hostile.yml", "--envelopes", "envelopes", "--markdown",
                       "plan.md", env=env)
        run_dir = next((tmp_path / ".mktows" / "runs").iterdir())
        resumed = run_cli("resume", run_dir.name, env=env)
        stored = box.open_store(info.db_path).leads()
    assert (run.code, plan.code, resumed.code) == (1, 0, 1), run.err + plan.err + resumed.err
    # The values really went out, came back, and were quoted by the server.
    attributes = stored[0]["attributes"]
    assert attributes["FirstName"] == CANARIES["C_QUOTE"]
    assert attributes["LeadSource"] == CANARIES["C_UNICODE"]
    assert attributes["Company"] == CANARIES["C_SHORT"]
    assert "20113" in run.out + run.err
    results = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    sync = results["steps"][0]["calls"][0]["outputs"]["leadRecord"]
    assert sync["leadAttributeList"]["Company"] == "***"  # a 3-character secret, whole value
    assert sum(1 for p in (tmp_path / "envelopes").iterdir()) >= 4
    _assert_no_canary(_everything(tmp_path, run, plan, resumed))


VALIDATE_PLAYBOOK = "version: 1\n" + TARGET_YAML + "steps:\n" + "".join(
    f"  - id: s{i}\n    requestCampaign: {{campaignId: \"${{secret.{name}}}\"}}\n"
    for i, name in enumerate(CANARIES))


def test_a_problem_that_quotes_a_secret_is_masked_on_every_path_that_prints_problems(
        run_cli, tmp_path, sandbox):
    """`campaignId: '<secret>' is not a valid int`: validate (text, json, github), plan, a
    run and a resume whose secret changed since."""
    (tmp_path / "bad.yml").write_text(VALIDATE_PLAYBOOK)
    env = {**target_env(sandbox), **CANARIES}
    outs = [run_cli("validate", "bad.yml", env=env),
            run_cli("validate", "bad.yml", "--format", "json", env=env),
            run_cli("validate", "bad.yml", "--format", "github", env=env),
            run_cli("plan", "bad.yml", env=env),
            run_cli("bad.yml", env=env)]
    assert [o.code for o in outs] == [2] * 5
    shown = json.loads(outs[1].out)
    assert len(shown) == len(CANARIES)
    assert {p["message"] for p in shown} <= {"'***' is not a valid int",
                                             '"***" is not a valid int'}, shown
    assert "'***' is not a valid int" in outs[0].err
    # A run that was valid, resumed after its secret changed into one that is not.
    (tmp_path / "resumable.yml").write_text(
        "version: 1\n" + TARGET_YAML + "steps:\n  - id: go\n"
        "    requestCampaign: {campaignId: \"${secret.CAMPAIGN}\"}\n")
    first = run_cli("resumable.yml", env={**env, "CAMPAIGN": "999999"})
    assert first.code == 1
    run_dir = next((tmp_path / ".mktows" / "runs").iterdir())
    for name, value in CANARIES.items():
        resumed = run_cli("resume", run_dir.name, env={**env, "CAMPAIGN": value})
        assert resumed.code == 2, name
        assert "is not a valid int" in resumed.err
        outs.append(resumed)
    _assert_no_canary(_everything(tmp_path, first, *outs))


FAULT_FORMS: dict[str, Callable[[str], str]] = {
    "repr": lambda s: repr(s),
    "doubled backslashes": lambda s: s.replace("\\", "\\\\"),
    "JSON": lambda s: json.dumps(s),
    "JSON, not ASCII": lambda s: json.dumps(s, ensure_ascii=False),
    "XML-escaped": lambda s: saxutils.escape(s, {'"': "&quot;", "'": "&apos;"}),
    "URL-encoded": lambda s: urllib.parse.quote(s, safe=""),
}
# Every canary is sent (so it is a secret this run knows) and quoted back by the server.
FAULT_PLAYBOOK = "version: 1\n" + TARGET_YAML + "steps:\n  - id: sync\n    syncLead:\n" + (
    "      leadRecord:\n        Email: ada@example.com\n        leadAttributeList:\n") + "".join(
    f'          {field}: "${{secret.{name}}}"\n' for field, name in zip(
        ("FirstName", "LastName", "Title", "City", "Industry", "LeadSource", "Company"),
        CANARIES, strict=True))


def _fault(message: str) -> bytes:
    """A Marketo SOAP Fault whose message the client will read as `message`."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?><SOAP-ENV:Envelope '
        'xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body>'
        "<SOAP-ENV:Fault><faultcode>SOAP-ENV:Client</faultcode>"
        "<faultstring>20110 - Bad Parameter</faultstring><detail>"
        '<ns1:serviceException xmlns:ns1="http://www.marketo.com/mktows/">'
        f"<name>mktows.exception</name><message>{saxutils.escape(message)}</message>"
        "<code>20110</code></ns1:serviceException></detail></SOAP-ENV:Fault>"
        "</SOAP-ENV:Body></SOAP-ENV:Envelope>").encode()


@pytest.mark.parametrize("form", FAULT_FORMS)
def test_a_fault_quoting_secrets_in_another_form_is_masked_everywhere(run_cli, tmp_path,
                                                                      monkeypatch, form):
    """A server fault echoing every secret, the key and the URL password in one encoding,
    from an endpoint with user:password@ in it."""
    encode = FAULT_FORMS[form]
    quoted = ", ".join(encode(s) for s in [*CANARIES.values(), HOSTILE_KEY, URL_PASSWORD])
    message = f"Bad Parameter: cannot use {quoted}"
    assert len(message) <= 500  # the client keeps 500 characters of a fault message
    (tmp_path / "fault.yml").write_text(FAULT_PLAYBOOK)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "step-summary.md"))
    with LocalServer(lambda h: send(h, 500, _fault(message), XML)) as server:
        endpoint = server.url.replace("://", f"://{URL_USERINFO}@")
        env = {"MKTOWS_ENDPOINT": endpoint, "MKTOWS_USER_ID": "cnry-user-id",
               "MKTOWS_ENCRYPTION_KEY": HOSTILE_KEY, **CANARIES}
        run = run_cli("fault.yml", "--junit", "junit.xml", "--markdown", "summary.md", "-v",
                      env=env)
        run_dir = next((tmp_path / ".mktows" / "runs").iterdir())
        resumed = run_cli("resume", run_dir.name, env=env)
    assert (run.code, resumed.code) == (1, 1), run.err + resumed.err
    assert len(server.requests) == 2  # really sent, really answered with the fault
    line = next(x for x in run.out.splitlines() if "fault 20110" in x)
    quoted_back = line.split("cannot use ", 1)[1].split(", ")
    assert [q.strip("'\"") for q in quoted_back] == ["***"] * (len(CANARIES) + 2), line
    assert f"{server.url.replace('://', '://***@')}" in run.err  # the endpoint, userinfo masked
    results = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert results["steps"][0]["fault"]["message"].startswith("Bad Parameter: cannot use ")
    _assert_no_canary(_everything(tmp_path, run, resumed))


def test_a_short_encryption_key_is_refused_by_name_before_anything_is_sent(run_cli, tmp_path):
    (tmp_path / "short.yml").write_text(FAULT_PLAYBOOK)
    with LocalServer(lambda h: send(h, 500, _fault("never asked"), XML)) as server:
        env = {"MKTOWS_ENDPOINT": server.url, "MKTOWS_USER_ID": "cnry-user-id",
               "MKTOWS_ENCRYPTION_KEY": "k&y", **CANARIES}
        res = run_cli("short.yml", env=env)
    assert res.code == 2 and not server.requests
    assert "target.encryptionKey" in res.err and "MKTOWS_ENCRYPTION_KEY" in res.err
    assert "3 characters" in res.err
    assert not any(f.encode() in res.err.encode() for f in encoded_forms("k&y"))
    assert not (tmp_path / ".mktows").exists()  # nothing started, nothing journaled


def test_an_endpoint_with_credentials_is_never_shown_whole_even_in_an_error(run_cli, tmp_path):
    (tmp_path / "typo.yml").write_text(FAULT_PLAYBOOK)
    env = {"MKTOWS_ENDPOINT": f"htps://{URL_USERINFO}@127.0.0.1/soap/mktows/3_1",
           "MKTOWS_USER_ID": "cnry-user-id", "MKTOWS_ENCRYPTION_KEY": HOSTILE_KEY, **CANARIES}
    res = run_cli("typo.yml", env=env)
    assert res.code == 2
    assert "htps://***@127.0.0.1" in res.err
    _assert_no_canary(_everything(tmp_path, res))


# -- the redactor itself -------------------------------------------------------------------
@pytest.mark.parametrize("name", CANARIES)
def test_the_redactor_masks_a_secret_in_every_encoding_and_keeps_json_well_formed(name):
    secret = CANARIES[name]
    redact = Redactor(CANARIES.values())
    for form in encoded_forms(secret):
        assert redact(f"value: {form}.") == "value: ***.", form
    # Masking already-encoded JSON (a line written before masking) keeps it JSON.
    for value in (secret, f"{secret}\\", f'"{secret}"', f"\\{secret}\\\"", [secret, "\\"]):
        for ascii_only in (True, False):
            text = json.dumps({"v": value, "w": "\\\""}, ensure_ascii=ascii_only)
            assert json.loads(redact(text))["w"] == "\\\"", text


def test_a_short_secret_is_masked_as_a_whole_value_but_not_inside_words():
    redact = Redactor(["q~Z", "ab"])
    assert redact.tree({"q~Z": ["q~Z", "ab", "x ab y", "about", 3]}) == {
        "***": ["***", "***", "x *** y", "about", 3]}
    assert redact("'ab' is not a valid int; about tab") == "'***' is not a valid int; about tab"


def test_redactor_tree_masks_keys_and_values_and_leaves_other_types():
    redact = Redactor(["canary-Secret-9f8e7d6c5b4a"])
    tree = {"k canary-Secret-9f8e7d6c5b4a": ("x canary-Secret-9f8e7d6c5b4a", None, 1.5, True)}
    assert redact.tree(tree) == {"k ***": ["x ***", None, 1.5, True]}
    assert redact("https://u:p@h.example/x and s3://k@b/") == "https://***@h.example/x and s3://***@b/"


@pytest.mark.parametrize("secrets", [[], ["canary-Secret-9f8e7d6c5b4a"], ["ab"]])
def test_the_redactor_says_it_leaves_a_tree_alone_only_when_tree_would(secrets):
    """A saved plan's digest writes a call's parameters as they are when leaves_alone says
    tree() would change nothing: never when it would mask a string or a key."""
    redact = Redactor(secrets)
    for tree in ({"Email": "a@example.com", "n": [1, None, ("t", 2.5)]},
                 {"k": "x canary-Secret-9f8e7d6c5b4a"}, {"canary-Secret-9f8e7d6c5b4a": 1},
                 {"k": ["ab"]}, {"u": "https://u:p@h.example/x"}, {1: "int key"},
                 {"sig": "0123456789abcdef0123456789abcdef01234567"}, {"k": "a" * 50}):
        if redact.leaves_alone(tree):
            assert json.dumps(redact.tree(tree), sort_keys=True) == json.dumps(tree, sort_keys=True)
    assert Redactor().leaves_alone({"Email": "a@example.com", "list": ["x", 1]})
    assert not Redactor().leaves_alone({1: "int key"})


def test_saved_envelopes_stay_well_formed_when_a_secret_is_also_an_element_name(run_cli,
                                                                                 tmp_path):
    """Masking rewrites values, never markup: a secret that happens to spell `leadRecord`
    (or a short one, `ns1`) is masked where it is a value and left alone as a tag."""
    (tmp_path / "names.yml").write_text("version: 1\n" + TARGET_YAML + """\
steps:
  - id: sync
    syncLead:
      leadRecord:
        Email: ada@example.com
        leadAttributeList: {Title: "${secret.LONG}", Company: "${secret.SHORT}"}
""")
    res = run_cli("plan", "names.yml", "--envelopes", "envelopes",
                  env={"LONG": "leadRecord", "SHORT": "ns1"})
    assert res.code == 0, res.err
    (saved,) = (tmp_path / "envelopes").iterdir()
    root = ElementTree.fromstring(saved.read_bytes())  # well formed
    values = [e.text for e in root.iter("attrValue")]
    assert values == ["***", "***"]
    assert root.find(".//leadRecord") is not None


@pytest.mark.parametrize(("name", "text"), [
    ("s.yml", "MKTOWS_ENCRYPTION_KEY: !!int cnry-SecretFile-77\n"),
    ("s.yml", "MKTOWS_ENCRYPTION_KEY: [cnry-SecretFile-77\n"),
    ("s.env", "cnry-SecretFile-77=\n"),
    ("s.env", "cnry SecretFile 77=x\n"),
])
def test_a_broken_secrets_file_is_reported_without_quoting_what_is_in_it(run_cli, tmp_path, name,
                                                                         text):
    (tmp_path / "p.yml").write_text(PLAYBOOK)
    (tmp_path / name).write_text(text)
    res = run_cli("validate", "p.yml", "--secrets-file", name)
    assert res.code == 2, res.err
    assert name in res.err
    for part in ("cnry", "SecretFile", "77"):
        assert part not in res.out + res.err, res.err


def test_a_message_clipped_inside_a_secret_does_not_show_its_first_part():
    from runner.secrets import Redactor

    redact = Redactor(["cnry-Clipped-5a6b7c8d"])
    for clipped in ("fault 20014: bad value cnry-Clipped-5a...",  # response._clip
                    "connection reset while sending cnry-Clipped-5a6"):  # retry.reason's [:120]
        shown = redact(clipped)
        assert "cnry" not in shown and "Clipped" not in shown, shown
        assert shown.startswith(clipped[:20])
    assert redact("nothing secret here...") == "nothing secret here..."


_SECRETS = ["canary-Secret-9f8e7d6c5b4a", 'q"\\<&é 1', "ab"]
# Strings that may hold whole secrets, pieces of them (a clipped tail), their escaped forms,
# a URL's userinfo, a signature, or nothing of the kind.
_TEXTS = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["canary-Secret-9f8e7d6c5b4a", "x canary-Sec", "canary-Secret-9f...",
                     "ary-", "q&quot;\\&lt;&amp;é 1", "q%22%5C%3C%26%C3%A9+1", "ab", "about",
                     "https://u:p@h.example/x", "0123456789abcdef0123456789abcdef01234567",
                     "a@example.com", "Secr"]),
    st.builds(lambda a, b: a + b, st.text(max_size=8), st.sampled_from(_SECRETS)))
_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), _TEXTS),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(_TEXTS, inner, max_size=4)),
    max_leaves=20)


@settings(max_examples=400, deadline=None)
@given(value=_JSON, secrets=st.lists(st.sampled_from(_SECRETS), max_size=3))
def test_a_record_said_to_need_no_masking_encodes_as_its_masked_copy(value, secrets):
    """The journal writes a record's JSON as it is when leaves_json_alone says tree() would
    change nothing in it: then the two encodings must be the same bytes."""
    redact = Redactor(secrets)
    text = json.dumps(value, separators=(",", ":"))
    if redact.leaves_json_alone(text):
        assert json.dumps(redact.tree(value), separators=(",", ":")) == text


def test_a_journal_record_with_a_secret_or_a_piece_of_one_is_masked_in_the_file(tmp_path):
    redact = Redactor(["canary-Secret-9f8e7d6c5b4a"])
    for record in ({"outputs": {"msg": "bad key canary-Secret-9f8e7d6c5b4a"}},
                   {"outputs": {"msg": "clipped canary-Secre..."}},
                   {"outputs": {"url": "https://u:pw@h.example/"}}):
        line = journal.encode(record, redact)
        assert b"canary-Secre" not in line and b"u:pw" not in line, line
    plain = {"outputs": {"leads": [{"id": i, "email": f"l{i}@example.com"} for i in range(3)]}}
    assert json.loads(journal.encode(plain, redact))["record"] == plain
