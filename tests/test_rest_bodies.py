"""The JSON Schemas of the REST request bodies (schemas/rest/, runner/rest/bodies.py): each
rule the reference states, and a bad body refused before anything is sent (not even a token
request)."""

from __future__ import annotations

import json

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner import jsonschemas, schema_compiled
from runner.errors import RestError
from runner.rest import bodies
from tests.test_rest_client import Recording, count, rest_box, session

GOOD_SYNC = {"action": "createOrUpdate", "lookupField": "email",
             "input": [{"email": "a@example.com", "firstName": "A"}]}
GOOD_TRIGGER = {"input": {"leads": [{"id": 1}], "tokens": [{"name": "{{my.x}}", "value": "y"}]}}
GOOD_SCHEDULE = {"input": {"runAt": "2027-01-02T03:04:05+0000", "cloneToProgramName": "C",
                           "tokens": [{"name": "{{my.x}}", "value": "y"}]}}


@pytest.mark.parametrize("name", bodies.NAMES)
def test_each_schema_is_a_valid_json_schema(name):
    schema = json.loads(bodies.path(name).read_text(encoding="utf-8"))
    jsonschema.validators.validator_for(schema).check_schema(schema)


@pytest.mark.parametrize(("name", "body"), [
    (bodies.SYNC_LEADS, GOOD_SYNC),
    (bodies.SYNC_LEADS, {"action": "updateOnly", "lookupField": "id",
                         "input": [{"id": 5, "email": "a@example.com"}]}),
    (bodies.SYNC_LEADS, {"action": "createDuplicate", "input": [{"email": "a@example.com"}]}),
    (bodies.SYNC_LEADS, {**GOOD_SYNC, "partitionName": "EMEA"}),
    (bodies.TRIGGER, GOOD_TRIGGER),
    (bodies.TRIGGER, {"input": {"leads": [{"id": i} for i in range(1, 101)]}}),
    (bodies.SCHEDULE, GOOD_SCHEDULE),
])
def test_the_bodies_the_runner_sends_pass(name, body):
    assert bodies.problems(name, body) == []


@pytest.mark.parametrize(("name", "body", "words"), [
    (bodies.SYNC_LEADS, {**GOOD_SYNC, "input": [{"email": f"{i}@x.com"} for i in range(301)]},
     "too long"),
    (bodies.SYNC_LEADS, {**GOOD_SYNC, "input": []}, "should be non-empty"),
    (bodies.SYNC_LEADS, {"action": "createOnly", "input": [{"id": 5, "email": "a@x.com"}]},
     "should not be valid"),
    (bodies.SYNC_LEADS, {**GOOD_SYNC, "action": "updateOnly", "partitionName": "EMEA"},
     "is not one of"),
    (bodies.SYNC_LEADS, {**GOOD_SYNC, "input": [{"email": "a@x.com", "Contact Company": "A"}]},
     "does not match"),
    (bodies.SYNC_LEADS, {**GOOD_SYNC, "asyncProcessing": True}, "Additional properties"),
    (bodies.SYNC_LEADS, {**GOOD_SYNC, "input": [{"email": "a@x.com", "tags": ["x"]}]},
     "is not of type"),
    (bodies.SYNC_LEADS, {**GOOD_SYNC, "input": [{"firstName": "No key"}]},
     "lookup field 'email' is missing"),
    (bodies.SYNC_LEADS, {"action": "upsert", "input": GOOD_SYNC["input"]}, "is not one of"),
    (bodies.TRIGGER, {"input": {"leads": [{"id": i} for i in range(1, 102)]}}, "too long"),
    (bodies.TRIGGER, {"input": {"leads": []}}, "should be non-empty"),
    (bodies.TRIGGER, {"input": {"leads": [{"id": "1"}]}}, "is not of type 'integer'"),
    (bodies.TRIGGER, {"input": {"leads": [{"id": 1}],
                                "tokens": [{"name": "my.x", "value": "y"}]}}, "does not match"),
    (bodies.TRIGGER, {"input": {"tokens": []}}, "'leads' is a required property"),
    (bodies.SCHEDULE, {"input": {"runAt": "2027-01-02T03:04:05Z"}}, "does not match"),
    (bodies.SCHEDULE, {"input": {}}, "should be non-empty"),
    (bodies.SCHEDULE, {"input": {"cloneToProgramName": ""}}, "should be non-empty"),
])
def test_a_body_breaking_the_reference_is_refused(name, body, words):
    found = bodies.problems(name, body)
    assert found and any(words in f for f in found), found
    with pytest.raises(RestError, match=f"breaks schemas/rest/{name}.schema.json"):
        bodies.check(name, body)


def test_a_bad_body_is_refused_before_anything_is_sent(tmp_path):
    with rest_box(tmp_path) as rest:
        wire = Recording()
        api = session(rest.info, wire)
        with pytest.raises(RestError, match="not sent") as caught:
            api.post("/v1/leads.json", {**GOOD_SYNC, "action": "upsert"}, schema="sync-leads")
        assert wire.seen == []  # no token request, no call
        assert caught.value.code is None


def test_an_operation_whose_body_breaks_its_schema_sends_no_write(tmp_path):
    # The list form of programTokenList is written as the playbook gives it: a name that is
    # not {{my.x}} (the load-time rule only sees literal names) is caught by the schema.
    with rest_box(tmp_path) as rest:
        api = session(rest.info)
        with pytest.raises(RestError, match=r"trigger-campaign\.schema\.json"):
            api.send("requestCampaign", {
                "programName": "Tests", "campaignName": "Go",
                "leadList": [{"keyType": "IDNUM", "keyValue": 1}],
                "programTokenList": [{"name": "greeting", "value": "Hi"}]})
        assert count(rest.info, "rest.triggerCampaign") == 0 and rest.runs() == []


# The compiled check (issue 19) must agree with jsonschema wherever it gives a verdict: a body
# it passes is not checked again.
_WORDS = ["email", "id", "createOrUpdate", "updateOnly", "createOnly", "createDuplicate",
          "Contact Company", "{{my.x}}", "my.x", "{{my.}}", "", "2027-01-02T03:04:05+0000",
          "2027-01-02T03:04:05Z", "a@x.com", "EMEA", "_x1", "1x"]
_scalar = (st.none() | st.booleans() | st.integers(-2, 3) | st.sampled_from([1.0, 2.5, -0.0])
           | st.floats() | st.sampled_from(_WORDS) | st.text(max_size=3))
_key = st.sampled_from(["action", "lookupField", "partitionName", "input", "leads", "tokens", "id",
                        "email", "name", "value", "runAt", "cloneToProgramName",
                        "asyncProcessing", "Contact Company", "firstName"]) | st.text(max_size=3)
_json = st.recursive(_scalar, lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(_key, inner, max_size=4), max_leaves=10)
_record = st.dictionaries(st.sampled_from(["id", "email", "firstName", "Contact Company", "x y"]),
                          _scalar, max_size=3) | _json
_token = st.fixed_dictionaries({"name": st.sampled_from(_WORDS), "value": _scalar}) | _json
_near = {
    bodies.SYNC_LEADS: st.fixed_dictionaries(
        {"action": st.sampled_from(_WORDS) | _scalar, "input": st.lists(_record, max_size=3)},
        optional={"lookupField": st.sampled_from(_WORDS) | _scalar,
                  "partitionName": st.sampled_from(_WORDS) | _scalar, "extra": _scalar}),
    bodies.TRIGGER: st.fixed_dictionaries({"input": st.fixed_dictionaries(
        {"leads": st.lists(st.fixed_dictionaries({"id": _scalar}) | _json, max_size=3)},
        optional={"tokens": st.lists(_token, max_size=2)})}) | _json,
    bodies.SCHEDULE: st.fixed_dictionaries({"input": st.fixed_dictionaries({}, optional={
        "runAt": st.sampled_from(_WORDS) | _scalar, "tokens": st.lists(_token, max_size=2),
        "cloneToProgramName": st.sampled_from(_WORDS) | _scalar})}) | _json,
    bodies.LIST_LEADS: st.fixed_dictionaries({"input": st.lists(
        st.fixed_dictionaries({"id": _scalar}) | _json, max_size=3)}) | _json,
}


_VALID = {
    bodies.SYNC_LEADS: [GOOD_SYNC, {"action": "updateOnly", "lookupField": "id", "input": [
        {"id": 5, "email": "a@x.com", "n": 1.5, "b": True, "z": None}]},
        {"action": "createDuplicate", "input": [{"email": "a"}, {"firstName": "b"}]},
        {**GOOD_SYNC, "partitionName": "EMEA"}],
    bodies.TRIGGER: [GOOD_TRIGGER, {"input": {"leads": [{"id": 1}, {"id": 2.0}]}}],
    bodies.SCHEDULE: [GOOD_SCHEDULE, {"input": {"runAt": "2027-01-02T03:04:05+0000"}}],
    bodies.LIST_LEADS: [{"input": [{"id": 1}, {"id": 7}]}],
}


def _mutated(data, value):
    """`value` with one part replaced, dropped or added (or left alone)."""
    how = data.draw(st.sampled_from(["keep", "replace", "drop", "add", "deeper"]))
    if how == "keep":
        return value
    if isinstance(value, dict) and value and how != "replace":
        key = data.draw(st.sampled_from(sorted(value)))
        if how == "drop":
            return {k: v for k, v in value.items() if k != key}
        if how == "add":
            return {**value, data.draw(_key): data.draw(_scalar)}
        return {**value, key: _mutated(data, value[key])}
    if isinstance(value, list) and value and how != "replace":
        at = data.draw(st.integers(0, len(value) - 1))
        if how == "drop":
            return value[:at] + value[at + 1:]
        if how == "add":
            return [*value, data.draw(_scalar | st.just(value[at]))]
        return [*value[:at], _mutated(data, value[at]), *value[at + 1:]]
    return data.draw(_scalar | _json)


@settings(max_examples=600, deadline=None)
@given(st.data())
def test_the_compiled_check_agrees_with_jsonschema(data):
    name = data.draw(st.sampled_from(bodies.NAMES))
    valid = data.draw(st.sampled_from(_VALID[name]))
    body = data.draw(_near[name] | _json | st.builds(lambda: _mutated(data, valid))
                     | st.builds(lambda: _mutated(data, _mutated(data, valid))))
    check = jsonschemas.compiled(bodies.path(name))
    assert check is not None  # every schema here is compiled: a new keyword needs it taught
    try:
        verdict = check(body)
    except schema_compiled.Unsure:
        return
    schema = json.loads(bodies.path(name).read_text(encoding="utf-8"))
    assert verdict == jsonschema.Draft202012Validator(schema).is_valid(body), body


@pytest.mark.parametrize("schema", [
    {"$schema": schema_compiled.DRAFT, "format": "date-time"},
    {"$schema": schema_compiled.DRAFT, "anyOf": [{"type": "string"}]},
    {"$schema": schema_compiled.DRAFT, "properties": {"a": {"$ref": "#/$defs/a"}},
     "$defs": {"a": {"properties": {"b": {"$ref": "#/$defs/a"}}}}},
    {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"},
])
def test_a_schema_with_a_keyword_the_compiler_does_not_know_is_left_to_jsonschema(
        schema, monkeypatch, tmp_path):
    (tmp_path / "x.json").write_text(json.dumps(schema))
    assert jsonschemas.compiled(tmp_path / "x.json") is None
    assert jsonschemas.passes(tmp_path / "x.json", {}) is False  # jsonschema decides
