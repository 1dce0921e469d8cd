"""requestCampaign, scheduleCampaign (with cloneToProgramName) and getCampaignsForSource."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_sandbox import FIXTURES, Client, lead_key, serving

SEEDED = FIXTURES / "leads.yml"  # program Tests: 1 Go (trigger), 2 Nightly (batch),
# 3 Paused (inactive trigger), 4 For Sales (trigger for SALES); leads 1..6
TOKEN = "<attrib><name>{}</name><value>{}</value></attrib>"


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[Client]:
    with serving(tmp_path, SEEDED) as client:
        yield client


@pytest.fixture
def client(sandbox: Any) -> Client:
    return Client(sandbox)


def request(campaign: str, keys: str = lead_key("IDNUM", 1), tokens: str = "",
            source: str = "MKTOWS") -> str:
    """requestCampaign children in schema order; `campaign` is the id or the name set."""
    by_id = campaign.isdigit()
    return (f"<source>{source}</source>"
            + (f"<campaignId>{campaign}</campaignId>" if by_id else "")
            + (f"<leadList>{keys}</leadList>" if keys else "")
            + ("" if by_id else f"<programName>Tests</programName><campaignName>{campaign}"
               "</campaignName>")
            + (f"<programTokenList>{tokens}</programTokenList>" if tokens else ""))


# -- requestCampaign ----------------------------------------------------------------------


@pytest.mark.parametrize("children", [
    "<source>MKTOWS</source><campaignId>1</campaignId><leadList>{keys}</leadList>"
    "<campaignName>Go</campaignName>",
    "<source>MKTOWS</source><campaignId>1</campaignId><leadList>{keys}</leadList>"
    "<programName>Tests</programName>",
    "<source>MKTOWS</source><campaignId>1</campaignId><leadList>{keys}</leadList>"
    "<programTokenList/>",
    "<source>MKTOWS</source><leadList>{keys}</leadList>",
    "<source>MKTOWS</source><leadList>{keys}</leadList><programName>Tests</programName>",
    "<source>MKTOWS</source><leadList>{keys}</leadList><campaignName>Go</campaignName>",
], ids=["id+name", "id+program", "id+tokens", "nothing", "program alone", "name alone"])
def test_request_campaign_accepts_only_the_two_parameter_sets(seeded: Client,
                                                             children: str) -> None:
    assert seeded.fault_code("requestCampaign", children.format(
        keys=lead_key("IDNUM", 1))) == "20110"
    assert seeded.runs() == []


@pytest.mark.parametrize("children", [
    request("1"),
    request("Go"),
    request("Go", tokens=TOKEN.format("{{my.greeting}}", "Hi")),
    request("Go", tokens=""),
], ids=["id", "names", "names+tokens", "names, no tokens"])
def test_request_campaign_runs_with_either_parameter_set(seeded: Client, children: str) -> None:
    assert seeded.call("requestCampaign", children).findtext("success") == "true"
    (run,) = seeded.runs()
    assert (run["campaign_id"], run["lead_ids"]) == (1, [1])


@pytest.mark.parametrize(("children", "why"), [
    (request("999"), "no campaign with id 999"),
    (request("Nope"), "no campaign 'Nope' in program 'Tests'"),
    (request("2"), "is a batch campaign"),
    (request("3"), "is not active"),
    (request("4"), "has no Campaign is Requested trigger for MKTOWS"),
    (request("1", source="SALES"), "has no Campaign is Requested trigger for SALES"),
])
def test_a_campaign_that_cannot_be_requested_is_fault_20113(seeded: Client, children: str,
                                                            why: str) -> None:
    details = seeded.fault("requestCampaign", children)
    assert details["code"] == "20113"
    assert why in details["message"]


def test_request_campaign_resolves_leads_by_every_key_type(seeded: Client) -> None:
    keys = "".join(lead_key(t, v) for t, v in [
        ("IDNUM", 2), ("EMAIL", "dup@example.com"), ("COOKIE", "ck-anon"),
        ("LEADOWNEREMAIL", "owner@example.com"), ("SFDCACCOUNTID", "001A"),
        ("SFDCCONTACTID", "003C"), ("SFDCLEADID", "00QL"), ("SFDCLEADOWNERID", "005O"),
        ("SFDCOPPTYID", "006P"), ("IDNUM", 2), ("EMAIL", "nobody@example.com")])
    seeded.call("requestCampaign", request("1", keys))
    (run,) = seeded.runs()
    assert run["lead_ids"] == [2, 4, 5, 3, 6]  # each lead once, in key order
    assert run["unresolved_keys"] == [["EMAIL", "nobody@example.com"]]


def test_keys_past_100_are_ignored_and_the_run_says_so(seeded: Client) -> None:
    keys = "".join(lead_key("IDNUM", 1 + i % 6) for i in range(100))
    keys += "".join(lead_key("EMAIL", f"late{i}@example.com") for i in range(5))
    seeded.call("requestCampaign", request("1", keys))
    (run,) = seeded.runs()
    assert run["lead_ids"] == [1, 2, 3, 4, 5, 6]
    assert run["ignored_keys"] == 5
    assert run["ignored_key_list"] == [["EMAIL", f"late{i}@example.com"] for i in range(5)]
    assert run["unresolved_keys"] == []  # the ignored keys were never looked up
    assert "5 key(s) past 100 ignored" in seeded.requests()[-1]["detail"]


def test_exactly_100_keys_ignore_nothing(seeded: Client) -> None:
    seeded.call("requestCampaign", request("1", lead_key("IDNUM", 1) * 100))
    assert seeded.runs()[0]["ignored_keys"] == 0


def test_request_campaign_needs_a_lead_key(seeded: Client) -> None:
    assert seeded.fault_code("requestCampaign", request("1", keys="")) == "20101"


def test_request_campaign_applies_tokens_over_the_programs(seeded: Client) -> None:
    tokens = TOKEN.format("{{my.greeting}}", "Bonjour &amp; bienvenue") + TOKEN.format(
        "{{my.extra}}", "x")
    seeded.call("requestCampaign", request("Go", tokens=tokens))
    (run,) = seeded.runs()
    assert run["tokens"] == {"{{my.greeting}}": "Bonjour & bienvenue", "{{my.extra}}": "x"}
    assert run["effective_tokens"] == {"{{my.greeting}}": "Bonjour & bienvenue",
                                       "{{my.sender}}": "Sandbox", "{{my.extra}}": "x"}
    assert run["requested_at"]


@pytest.mark.parametrize("name", ["my.greeting", "{{greeting}}", "{{my.greeting}"])
def test_a_token_not_written_in_full_is_fault_20110(seeded: Client, name: str) -> None:
    children = request("Go", tokens=TOKEN.format(name, "x"))
    assert seeded.fault_code("requestCampaign", children) == "20110"


# -- scheduleCampaign ---------------------------------------------------------------------


def schedule(campaign: str = "Nightly", *, clone: str | None = None, run_at: str | None = None,
             tokens: str = "", program: str = "Tests") -> str:
    return (f"<programName>{program}</programName>"
            + (f"<cloneToProgramName>{clone}</cloneToProgramName>" if clone else "")
            + f"<campaignName>{campaign}</campaignName>"
            + (f"<campaignRunAt>{run_at}</campaignRunAt>" if run_at else "")
            + (f"<programTokenList>{tokens}</programTokenList>" if tokens else ""))


def test_schedule_campaign_records_the_run_time_and_tokens(seeded: Client) -> None:
    result = seeded.call("scheduleCampaign", schedule(
        run_at="2026-06-01T09:00:00-05:00", tokens=TOKEN.format("{{my.sender}}", "Me")))
    assert result.findtext("success") == "true"
    (run,) = seeded.runs()
    assert (run["kind"], run["campaign_id"], run["run_at"]) == (
        "schedule", 2, "2026-06-01T09:00:00-05:00")
    assert run["tokens"] == {"{{my.sender}}": "Me"}
    assert run["effective_tokens"] == {"{{my.greeting}}": "Hello", "{{my.sender}}": "Me"}


def test_schedule_campaign_without_a_run_time_runs_now(seeded: Client) -> None:
    seeded.call("scheduleCampaign", schedule())
    (run,) = seeded.runs()
    assert (run["run_at"], run["tokens"], run["clone_to_program_name"]) == (None, {}, None)


@pytest.mark.parametrize(("children", "code"), [
    (schedule("Go"), "20113"),  # a trigger campaign
    (schedule("Nope"), "20113"),
    (schedule(program="Nope"), "20113"),
    (schedule(tokens=TOKEN.format("my.sender", "x")), "20110"),
])
def test_schedule_campaign_needs_an_existing_batch_campaign(seeded: Client, children: str,
                                                            code: str) -> None:
    assert seeded.fault_code("scheduleCampaign", children) == code
    assert seeded.runs() == []


def test_clone_to_program_name_copies_the_program_and_schedules_the_copy(
        seeded: Client) -> None:
    seeded.call("scheduleCampaign", schedule(clone="Tests June",
                                             tokens=TOKEN.format("{{my.sender}}", "June")))
    (run,) = seeded.runs()
    assert (run["program_name"], run["campaign_name"], run["clone_to_program_name"]) == (
        "Tests June", "Nightly", "Tests June")
    assert run["campaign_id"] == 6  # the copies of campaigns 1..4 are 5..8
    assert run["effective_tokens"] == {"{{my.greeting}}": "Hello", "{{my.sender}}": "June"}
    # The copy is a program like any other: its trigger campaign can be requested ...
    names = seeded.call("getCampaignsForSource", "<source>MKTOWS</source>")
    listed = [(r.findtext("id"), r.findtext("name"))
              for r in names.iterfind("campaignRecordList/campaignRecord")]
    assert listed == [("1", "Go"), ("5", "Go")]
    seeded.call("requestCampaign", request("5"))
    seeded.call("requestCampaign", "<source>MKTOWS</source><leadList>"
                f"{lead_key('IDNUM', 2)}</leadList><programName>Tests June</programName>"
                "<campaignName>Go</campaignName>")
    # ... its batch campaign scheduled, and its name is taken.
    seeded.call("scheduleCampaign", schedule(program="Tests June"))
    assert seeded.fault_code("scheduleCampaign", schedule(clone="Tests June")) == "20110"
    assert seeded.fault_code("scheduleCampaign", schedule(clone="Tests")) == "20110"
    assert [r["campaign_id"] for r in seeded.runs()] == [6, 5, 5, 6]


def test_clones_survive_a_restart(tmp_path: Path) -> None:
    with serving(tmp_path, SEEDED) as client:
        client.call("scheduleCampaign", schedule(clone="Kept"))
    with serving(tmp_path, SEEDED) as client:
        client.call("scheduleCampaign", schedule(program="Kept"))
        from runner.sandbox import open_store

        with open_store(client.info.db_path) as store:
            (program,) = store.programs()
    assert (program["name"], program["cloned_from"]) == ("Kept", "Tests")


# -- getCampaignsForSource ----------------------------------------------------------------


@pytest.mark.parametrize(("children", "expected"), [
    ("<source>MKTOWS</source>", ["Welcome Email", "Registration Confirmation"]),
    ("<source>SALES</source>", ["Registration Confirmation"]),
    ("<source>MKTOWS</source><name>welcome</name>", ["Welcome Email"]),
    ("<source>MKTOWS</source><name>Welcome</name><exactName>true</exactName>", []),
    ("<source>MKTOWS</source><name>Welcome Email</name><exactName>true</exactName>",
     ["Welcome Email"]),
])
def test_get_campaigns_for_source_lists_requestable_trigger_campaigns(
        client: Client, children: str, expected: list[str]) -> None:
    result = client.call("getCampaignsForSource", children)
    names = [r.findtext("name") for r in result.iterfind("campaignRecordList/campaignRecord")]
    assert names == expected
    assert result.findtext("returnCount") == str(len(expected))


def test_inactive_campaigns_are_not_listed(seeded: Client) -> None:
    result = seeded.call("getCampaignsForSource", "<source>SALES</source>")
    assert [r.findtext("id") for r in result.iterfind("campaignRecordList/campaignRecord")] == [
        "4"]


def test_a_campaign_without_description_has_an_empty_description(client: Client) -> None:
    result = client.call("getCampaignsForSource", "<source>SALES</source>")
    record = result.find("campaignRecordList/campaignRecord")
    assert record is not None
    assert record.find("description") is not None
    assert record.findtext("description") == ""
