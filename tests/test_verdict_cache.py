"""Remembered verdicts (runner/verdicts.py): a warm `validate` imports neither xmlschema nor
jsonschema, and says exactly what it says without them; the cache files are bounded, keyed
by what could change a verdict, and never trusted so far that a damaged one breaks a run.

Every test points XDG_CACHE_HOME at its own folder: nothing here reads the developer's cache
or another test's.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from runner import jsonschemas, verdicts
from runner.operations import REGISTRY
from runner.resources import playbook_schema_path, wsdl_path
from runner.soap import envelope, xsd
from tests.conftest import ROOT

WSDL = str(wsdl_path())
WELCOME = ROOT / "playbooks" / "welcome.yml"
INVALID = ROOT / "tests" / "data" / "invalid"

# A playbook whose only problem is one the XSD finds: a ${...} (which the JSON Schema allows)
# resolving to text where the WSDL wants an xs:int.
XSD_INVALID = """\
version: 1
target:
  endpoint: https://123-ABC-456.mktoapi.com/soap/mktows/3_1
  userId: u
  encryptionKey: ${secret.K}
vars:
  id: "abc"
steps:
  - id: one
    requestCampaign:
      source: MKTOWS
      campaignId: ${vars.id}
      leadList:
        - keyType: IDNUM
          keyValue: "12"
"""

# Prints which schema libraries the command imported, after its own output.
_PROBE = """\
import sys
from runner.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print("LOADED", sorted(m for m in ("xmlschema", "jsonschema") if m in sys.modules), code)
"""


def _run(cache: Path | str, *args: str) -> tuple[str, list[str], int]:
    """`mktows-run ARGS` in a new process with `cache` as XDG_CACHE_HOME: its output, the
    schema libraries it imported, its exit code."""
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    res = subprocess.run([sys.executable, "-c", _PROBE, *args], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    out, _, probe = res.stdout.rpartition("LOADED ")
    loaded, code = probe.rsplit(" ", 1)
    return out + res.stderr, json.loads(loaded.replace("'", '"')), int(code)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder))
    return folder / "mktows-run"


def _lazy(source: str = WSDL) -> xsd.LazySchema:
    """A fresh lazy load (xsd.load would give this process's first one back)."""
    data, digest = xsd._open(source)
    return xsd._load_lazy(source, data, digest)


def _warm(before: xsd.LazySchema, source: str = WSDL) -> xsd.LazySchema:
    """A lazy schema read from the cache as a later process gets it, after the process that
    used `before` ended (and wrote its verdicts back)."""
    before.store.save()
    again = _lazy(source)
    assert again._judge is None, "the description was not read back from the cache"
    return again


def _build(schema: xsd.ServiceSchema, operation: str, params: dict[str, Any]) -> Any:
    op = REGISTRY[operation]
    content = op.soap.encode(op.with_defaults(dict(params)))
    body, problems = envelope.build(schema, operation, content)
    assert body is not None
    return body.text, body.shape, body.issues, problems


# Valid and invalid parameters: wrong values of each simple type, unknown and misplaced
# elements, a list where one value goes, nil, text XML cannot carry.
CASES: list[tuple[str, dict[str, Any]]] = [
    ("syncLead", {"leadRecord": {"Email": "a@example.com", "Id": 7,
                                 "leadAttributeList": {"FirstName": "Ada"}},
                  "returnLead": True}),
    ("syncLead", {"leadRecord": {"Email": "a@example.com", "Id": "seven"}, "returnLead": True}),
    ("syncLead", {"leadRecord": {"Email": "a@example.com"}, "returnLead": "maybe"}),
    ("syncLead", {"leadRecord": {"Email": "a@example.com", "Nope": 1}, "returnLead": False}),
    ("syncLead", {"leadRecord": {"Email": ["a", "b"]}, "returnLead": False}),
    ("syncLead", {"leadRecord": {"Email": "a\x01b"}, "returnLead": False}),
    ("syncLead", {"leadRecord": {"Email": "a@example.com", "ForeignSysType": "NOPE"},
                  "returnLead": False}),
    ("requestCampaign", {"source": "MKTOWS", "campaignId": 12,
                         "leadList": [{"keyType": "IDNUM", "keyValue": 1}]}),
    ("requestCampaign", {"source": "ELSEWHERE", "campaignId": 12,
                         "leadList": [{"keyType": "IDNUM", "keyValue": 1}]}),
    ("requestCampaign", {"source": "MKTOWS", "campaignId": "x",
                         "leadList": [{"keyType": "NOPE", "keyValue": 1}]}),
    ("scheduleCampaign", {"programName": "P", "campaignName": "C",
                          "campaignRunAt": "2026-12-01T09:00:00-06:00"}),
    ("scheduleCampaign", {"programName": "P", "campaignName": "C", "campaignRunAt": "soon"}),
    ("getCampaignsForSource", {"name": None, "exactName": False}),
    ("listOperation", {"listOperation": "ADDTOLIST", "listKey": "L",
                       "listMemberList": [{"keyType": "IDNUM", "keyValue": 12}],
                       "strict": "yes"}),
    ("getLead", {}),  # valid values, an invalid body: only xmlschema's walk finds it
    ("importToList", {"programName": "P"}),
]


def test_a_warm_validate_imports_neither_schema_library(tmp_path):
    first, loaded_cold, code = _run(tmp_path, "validate", str(WELCOME))
    assert code == 0, first
    assert loaded_cold == ["jsonschema", "xmlschema"]  # the first run asks both judges
    again, loaded_warm, code = _run(tmp_path, "validate", str(WELCOME))
    assert (again, loaded_warm, code) == (first, [], 0)


def test_the_lazy_schema_writes_and_judges_bodies_exactly_as_xmlschemas(cache):
    full = xsd.load(WSDL)
    cold = _lazy()
    expected = [_build(full, op, params) for op, params in CASES]
    assert [_build(cold, op, params) for op, params in CASES] == expected
    assert any(problems for *_, problems in expected)  # (the cases do hold problems)
    warm = _warm(cold)
    assert [_build(warm, op, params) for op, params in CASES] == expected
    fresh = _warm(warm)  # and once more, with every verdict above remembered
    assert [_build(fresh, op, params) for op, params in CASES] == expected


def test_a_proven_body_needs_no_xmlschema_and_an_unproven_value_asks_it(cache):
    cold = _lazy()
    _build(cold, "requestCampaign", CASES[7][1])
    warm = _warm(cold)
    assert _build(warm, "requestCampaign", CASES[7][1])[3] == []
    assert warm._judge is None  # every verdict was remembered
    decl = warm.element("paramsRequestCampaign")
    campaign_id = next(c.decl for c in warm.children(decl) if c.name == "campaignId")
    real = next(c.decl for c in xsd.load(WSDL).children(xsd.load(WSDL).element(
        "paramsRequestCampaign")) if c.name == "campaignId")
    assert warm.value_error(campaign_id, "12") is None  # proven above: no judge yet
    assert warm._judge is None
    said = warm.value_error(campaign_id, "twelve")
    assert said == xsd.load(WSDL).value_error(real, "twelve") == "'twelve' is not a valid int"
    assert warm._judge is not None  # never proven: xmlschema was asked


def test_an_invalid_body_is_judged_by_xmlschema_every_time(cache):
    expected = _build(xsd.load(WSDL), "getLead", {})
    assert expected[3], "the body should be invalid"
    cold = _lazy()
    assert _build(cold, "getLead", {}) == expected
    warm = _warm(cold)
    assert _build(warm, "getLead", {}) == expected
    assert warm._judge is not None  # its messages are xmlschema's
    assert warm.store._added["shapes"] == {}  # and it is never remembered as valid


def test_invalid_playbooks_read_the_same_cold_warm_and_without_a_cache(tmp_path):
    (tmp_path / "xsd_invalid.yml").write_text(XSD_INVALID, encoding="utf-8")
    cases = [str(tmp_path / "xsd_invalid.yml"), str(WELCOME)] + [
        str(p) for p in sorted(INVALID.glob("*.yml"))
        if not p.read_text(encoding="utf-8").startswith("# args:")]
    off, loaded, code = _run("/dev/null", "validate", *cases)
    assert loaded == ["jsonschema", "xmlschema"]
    assert code == 2 and "'abc' is not a valid int" in off
    assert "is not of type 'integer'" in off  # a JSON Schema problem among them
    cold, _, _ = _run(tmp_path, "validate", *cases)
    warm, _, _ = _run(tmp_path, "validate", *cases)
    assert cold == off
    assert warm == off


def test_another_wsdl_does_not_reuse_the_verdicts_of_the_first(tmp_path):
    # The same type, by the same name, without the value the playbook uses.
    other = tmp_path / "other.wsdl"
    text = Path(WSDL).read_text(encoding="utf-8")
    other.write_text(text.replace('<xs:enumeration value="MKTOWS"/>', "", 1), encoding="utf-8")
    out, _, code = _run(tmp_path, "validate", str(WELCOME))
    assert code == 0, out
    out, loaded, code = _run(tmp_path, "validate", "--wsdl", str(other), str(WELCOME))
    assert code == 2
    assert "'MKTOWS' is not a valid ReqCampSourceType" in out
    assert "xmlschema" in loaded
    assert len(list((tmp_path / "mktows-run").glob("wsdl-*-verdicts.json"))) == 2


_DAMAGE = {
    "truncated": lambda good: good[: len(good) // 2],
    "garbage": lambda good: bytes(range(256)) * 8,
    "empty": lambda good: b"",
    "a list": lambda good: b"[]",
    "other key": lambda good: good.replace(b'"key":"', b'"key":"0', 1),
    "deep": lambda good: b"[" * 200_000 + b"]" * 200_000,
    "huge": lambda good: b" " * (verdicts.MAX_FILE_BYTES + 1) + good,
}


def _wrong_types(good: bytes) -> bytes:
    doc = json.loads(good)
    if "description" in doc:
        doc["description"]["types"] = [["complex", [["x", -1, None, False, 10**9, "no"]]]]
    else:
        doc["sets"] = {name: [7, "not a digest"] for name in doc["sets"]}
    return json.dumps(doc).encode()


def _damage(path: Path, how: str) -> None:
    good = path.read_bytes()
    path.unlink()
    if how == "fifo":
        os.mkfifo(path)
    elif how == "directory":
        path.mkdir()
    else:
        path.write_bytes(_wrong_types(good) if how == "wrong types" else _DAMAGE[how](good))


@pytest.mark.parametrize("how", [*_DAMAGE, "wrong types", "fifo", "directory"])
@pytest.mark.parametrize("which", ["description", "verdicts"])
def test_a_damaged_wsdl_cache_file_is_ignored_and_rebuilt(cache, which, how):
    expected = [_build(xsd.load(WSDL), op, params) for op, params in CASES]
    first = _lazy()
    [_build(first, op, params) for op, params in CASES]
    first.store.save()
    description, verdict_file = xsd._lazy_paths(first.sha256)
    assert description is not None and verdict_file is not None
    path = description if which == "description" else verdict_file
    _damage(path, how)
    schema = _lazy()
    assert [_build(schema, op, params) for op, params in CASES] == expected
    schema.store.save()
    assert not list(path.parent.glob(".*.tmp"))
    if how != "directory":  # (a directory in its place cannot be replaced: only slower)
        found = verdicts.read_json(path)
        assert isinstance(found, dict) and found["key"] == schema.store.key
        if which == "description":
            assert found["description"] == schema.description


@pytest.mark.parametrize("how", [*_DAMAGE, "wrong types", "fifo"])
def test_a_damaged_jsonschema_cache_file_is_ignored_and_rebuilt(cache, how):
    schema = playbook_schema_path()
    step = {"id": "a", "getLead": {"leadKey": {"keyType": "EMAIL", "keyValue": "a@example.com"}}}
    doc = {"version": 1, "steps": [step]}
    bad = {"version": "one", "steps": [step]}
    assert list(jsonschemas.iter_errors(schema, doc, remember=True)) == []
    store = jsonschemas._store(verdicts.cache_dir())
    store.save()
    path = store.path
    assert path is not None and path.is_file()
    _damage(path, how)
    jsonschemas._store.cache_clear()
    again = jsonschemas._store(verdicts.cache_dir())
    assert not again.has("valid", jsonschemas._document_key(schema, doc, False) or "")
    assert list(jsonschemas.iter_errors(schema, doc, remember=True)) == []
    expected = [e.message for e in jsonschemas.iter_errors(schema, bad)]
    assert [e.message for e in jsonschemas.iter_errors(schema, bad, remember=True)] == expected
    assert expected
    again.save()
    found = verdicts.read_json(path)
    assert isinstance(found, dict) and len(found["sets"]["valid"]) == 1  # the valid one only


@pytest.mark.parametrize("where", ["/dev/null", "a file"])
def test_a_cache_that_cannot_be_written_only_makes_validate_slower(tmp_path, where):
    cache = "/dev/null" if where == "/dev/null" else str(tmp_path / "file")
    if where == "a file":
        (tmp_path / "file").write_text("not a directory")
    for _ in range(2):
        out, loaded, code = _run(cache, "validate", str(WELCOME))
        assert code == 0 and "1 playbook(s) valid" in out, out
        assert loaded == ["jsonschema", "xmlschema"]  # nothing remembered: asked each time
    if where == "a file":
        assert (tmp_path / "file").read_text() == "not a directory"


def test_a_verdict_set_keeps_its_newest_entries_up_to_its_cap(tmp_path):
    path = tmp_path / "v.json"
    store = verdicts.Verdicts(path, "k", ("a", "b"), cap=8)
    keys = [verdicts.digest(i) for i in range(20)]
    for key in keys:
        store.add("a", key)
    assert len(store._added["a"]) == 8  # memory too: only what could be kept
    store.add("b", keys[0])
    store.save()
    found = json.loads(path.read_text())
    assert found["sets"] == {"a": keys[-8:], "b": keys[:1]}
    later = verdicts.Verdicts(path, "k", ("a", "b"), cap=8)
    for key in keys[:3]:
        later.add("a", key)  # older than what the file holds: they push the oldest out
    later.save()
    assert json.loads(path.read_text())["sets"]["a"] == keys[-5:] + keys[:3]
    assert verdicts.Verdicts(path, "k", ("a", "b"), cap=8).has("a", keys[0])
    assert not verdicts.Verdicts(path, "other key", ("a", "b"), cap=8).has("a", keys[0])


def test_the_cap_holds_for_the_values_of_a_data_file(cache, monkeypatch):
    monkeypatch.setattr(verdicts, "CAP", 16)
    schema = _lazy()
    decl = schema.element("paramsRequestCampaign")
    campaign_id = next(c.decl for c in schema.children(decl) if c.name == "campaignId")
    for i in range(200):
        assert schema.value_error(campaign_id, str(i)) is None
        assert schema.value_error(campaign_id, f"x{i}") is not None
    assert len(schema.store._added["valid"]) == len(schema.store._added["invalid"]) == 16
    schema.store.save()
    _, verdict_file = xsd._lazy_paths(schema.sha256)
    assert verdict_file is not None
    sets = json.loads(verdict_file.read_text())["sets"]
    assert (len(sets["valid"]), len(sets["invalid"])) == (16, 16)
    assert verdict_file.stat().st_size < 16 * 3 * 40 + 200


def test_two_processes_writing_at_once_keep_both_their_verdicts(tmp_path):
    path = tmp_path / "v.json"
    one = verdicts.Verdicts(path, "k", ("a",))
    two = verdicts.Verdicts(path, "k", ("a",))
    one.has("a", "0" * 32)  # both read the (missing) file first
    two.has("a", "0" * 32)
    one.add("a", "1" * 32)
    two.add("a", "2" * 32)
    one.save()
    two.save()
    assert json.loads(path.read_text())["sets"]["a"] == ["1" * 32, "2" * 32]
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_description_that_is_not_the_wsdls_is_replaced_and_no_longer_trusted(cache):
    first = _lazy()
    _build(first, "requestCampaign", CASES[7][1])
    first.store.save()
    description_file, _ = xsd._lazy_paths(first.sha256)
    assert description_file is not None
    doc = json.loads(description_file.read_text())
    for raw in doc["description"]["types"]:
        if raw[0] == "simple":
            raw[2] = "edited"  # well-formed, and wrong
    description_file.write_text(json.dumps(doc))
    schema = _lazy()
    assert schema._judge is None and schema._trusted
    schema.judge()
    assert not schema._trusted
    assert json.loads(description_file.read_text()) == {
        "key": doc["key"], "description": first.description}
    # From now on xmlschema judges each body, however often its shape was proven.
    assert _build(schema, "requestCampaign", CASES[7][1])[3] == []
    assert not schema._valid_shapes and not any(schema.store._added.values())


def test_a_library_is_stamped_by_its_installation_without_importing_it(tmp_path, monkeypatch):
    site = tmp_path / "site"
    (site / "fakelib_for_stamps").mkdir(parents=True)
    (site / "fakelib_for_stamps" / "__init__.py").write_text("raise ImportError('imported')\n")
    (site / "fakelib_for_stamps-1.0.dist-info").mkdir()
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(verdicts, "_stamps", {})
    first = verdicts.library_stamp("fakelib_for_stamps")
    assert "fakelib_for_stamps" not in sys.modules
    (site / "fakelib_for_stamps-1.0.dist-info").rename(site / "fakelib_for_stamps-2.0.dist-info")
    monkeypatch.setattr(verdicts, "_stamps", {})
    second = verdicts.library_stamp("fakelib_for_stamps")
    assert None is not first != second is not None
    assert verdicts.library_stamp("no_such_library_here") is None


@pytest.mark.parametrize("doc", [
    {"steps": ("a", "tuple")},  # a tuple is no JSON array to jsonschema
    {1: "an int key"},
    {"x": math.nan},
    {"x": object()},
])
def test_a_document_canonical_json_would_confuse_is_not_remembered(doc):
    assert jsonschemas._document_key(playbook_schema_path(), doc, False) is None


def test_equal_documents_share_a_key_and_different_ones_do_not():
    key = jsonschemas._document_key
    schema = playbook_schema_path()
    assert key(schema, {"a": 1, "b": [True]}, False) == key(schema, {"b": [True], "a": 1}, False)
    assert key(schema, {"a": 1}, False) != key(schema, {"a": 1.0}, False)
    assert key(schema, {"a": 1}, False) != key(schema, {"a": True}, False)
    assert key(schema, {"a": "1"}, False) != key(schema, {"a": 1}, False)
    assert key(schema, {"a": 1}, False) != key(schema, {"a": 1}, True)


_HELP_PROBE = """\
import sys
before = set(sys.modules)
from runner.cli import main
try:
    main(["--help"])
except SystemExit:
    pass
print("NEW", sorted(m for m in ("pathlib", "shutil", "xmlschema", "jsonschema", "yaml")
                    if m in set(sys.modules) - before))
"""


def test_help_imports_neither_pathlib_nor_shutil():
    res = subprocess.run([sys.executable, "-c", _HELP_PROBE], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert "Usage: mktows-run" in res.stdout
    assert res.stdout.rsplit("NEW ", 1)[1].strip() == "[]"


@pytest.mark.parametrize("columns", ["", "40", "100", "200", "junk", "-3"])
def test_help_is_as_wide_as_click_would_make_it(monkeypatch, columns):
    import click

    from runner.cli import cli

    monkeypatch.setenv("COLUMNS", columns)
    ours = cli.make_context("mktows-run", ["--help"], resilient_parsing=True).make_formatter()
    assert ours.width == click.HelpFormatter().width
    # and so is each command's
    assert all(c.context_class is cli.context_class for c in cli.commands.values())
    assert all(c.context_class is cli.context_class
               for c in cli.commands["sandbox"].commands.values())


def test_the_default_sandbox_database_is_still_a_path():
    from runner import resources

    expected = Path(".mktows") / "sandbox.db"
    assert expected == resources.DEFAULT_SANDBOX_DB
    assert str(resources.DEFAULT_SANDBOX_DB) == resources.SANDBOX_DB
