"""The JSON Schemas of the REST request bodies (schemas/rest/, runner/rest/bodies.py): each
rule the reference states, and a bad body refused before anything is sent (not even a token
request)."""

from __future__ import annotations

import json

import jsonschema
import pytest

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
