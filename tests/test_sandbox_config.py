"""The fixture file and the settings: what is read, what is refused (a UsageError naming
the file and the place), and how the three layers of settings combine."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from runner.errors import UsageError
from runner.sandbox import FaultPlan, SandboxConfig, fixture_config
from runner.sandbox.fixture import load_fixture
from tests.test_sandbox import FakeClock, serving

BASE = "users: [{userId: u, encryptionKey: k}]\nfields: [{name: A}, {name: Country}]\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fixture.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_default_fixture_provides_the_reported_user(sandbox: Any) -> None:
    assert sandbox.user_id == "mktows-sandbox"
    assert len(sandbox.encryption_key) == 40
    assert sandbox.endpoint.startswith("http://127.0.0.1:")
    assert sandbox.endpoint.endswith("/soap/mktows/3_1")
    assert sandbox.config == SandboxConfig(strict=True)  # conftest's sandbox is strict
    assert fixture_config() == SandboxConfig()  # the packaged fixture states the defaults
    assert SandboxConfig().strict is False  # by default the sandbox reads like production


@pytest.mark.parametrize(("text", "problem"), [
    ("users: []\nfields: []\nprograms: []\n", "users: must be a non-empty list"),
    ("[unclosed", "not valid YAML"),
    ("users: [{userId: u, encryptionKey: k}]\nfields: [{name: A, type: colour}]\n"
     "programs: []\n", "fields[0].type: unknown field type 'colour'"),
    (BASE + "programs:\n  - {name: P, campaigns: [{id: 1, name: C, type: batch},"
     " {id: 1, name: D, type: batch}]}\n", "duplicate campaign id 1"),
    ("users: [{userId: u, encryptionKey: k, extra: 1}]\nfields: [{name: A}]\nprograms: []\n",
     "users[0]: unknown key(s) extra"),
    (BASE + "programs: []\nconfig: {rateLimit: {calls: -1}}\n", "config.rateLimit.calls"),
    (BASE + "programs: []\nconfig: {faults: {http500: 0.7, dropAfter: 0.7}}\n",
     "fault rates add up to more than 1"),
    (BASE + "programs: []\nconfig: {colour: blue}\n", "config: unknown key(s) colour"),
    (BASE + "programs: []\nassignmentRules: [{field: Nope, values: [x], partition: Default}]\n",
     "assignmentRules[0].field: 'Nope' is not declared in fields"),
    (BASE + "programs: []\nassignmentRules: [{field: A, values: [x], partition: Mars}]\n",
     "assignmentRules[0].partition: 'Mars' is not declared in workspaces"),
    (BASE + "programs: []\nleads: [{attributes: {A: x}}]\n", "leads[0]: a seed lead needs"),
    (BASE + "programs: []\nleads: [{email: a@b.c, foreignSysPersonId: X}]\n",
     "foreignSysPersonId and foreignSysType go together"),
    (BASE + "programs: []\nleadKeys: {SFDCLEADID: Nope}\n", "leadKeys.SFDCLEADID"),
    (BASE + "programs: []\nleadKeys: {EMAIL: A}\n", "'EMAIL' is not one of"),
    (BASE + "programs: []\nworkspaces: [{name: W, primaryPartition: P}, {name: w}]\n",
     "duplicate workspace 'w'"),
    (BASE + "programs:\n  - {name: P, tokens: {my.x: 1}, campaigns: []}\n",
     "token 'my.x' must be written in full"),
    (BASE + "programs:\n  - {name: P, campaigns: [{id: 1, name: C, type: trigger,"
     " active: maybe}]}\n", "active: must be true or false"),
])
def test_a_bad_fixture_is_a_usage_error_naming_the_file(tmp_path: Path, text: str,
                                                        problem: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(UsageError) as caught:
        load_fixture(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert problem in str(caught.value)


def test_a_custom_fixture_replaces_users_and_campaigns(tmp_path: Path) -> None:
    path = write(tmp_path, "users: [{userId: me, encryptionKey: secret}]\nfields: [{name: A}]\n"
                 "programs:\n  - name: Solo\n    campaigns: [{id: 7, name: Go, type: trigger}]\n")
    with serving(tmp_path, path) as client:
        assert (client.info.user_id, client.info.encryption_key) == ("me", "secret")
        result = client.call("getCampaignsForSource", "<source>MKTOWS</source>")
    assert result.findtext("campaignRecordList/campaignRecord/id") == "7"


def test_the_fixture_config_section_and_keyword_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + "programs: []\nconfig:\n  strict: false\n"
                 "  timestampWindowSeconds: 60\n  rateLimit: {calls: 5, windowSeconds: 2}\n"
                 "  maxInFlight: 3\n  dailyQuota: null\n  cloneLimitPerDay: 2\n"
                 "  workspacesEnabled: true\n  faults: {seed: 9, dropAfter: 0.25, slow: 0.1,"
                 " slowSeconds: 0.5, operations: [syncLead]}\n")
    config = fixture_config(path)
    assert config == SandboxConfig(
        strict=False, timestamp_window=timedelta(seconds=60), rate_limit_calls=5,
        rate_limit_window=2.0, max_in_flight=3, daily_quota=None, clone_limit_per_day=2,
        workspaces_enabled=True, faults=FaultPlan(seed=9, drop_after=0.25, slow=0.1,
                                                  slow_seconds=0.5,
                                                  operations=frozenset({"syncLead"})))
    flags = config.override(strict=True, seed=10, http503=0.5)
    assert (flags.strict, flags.faults.seed, flags.faults.http503, flags.faults.drop_after) == (
        True, 10, 0.5, 0.25)
    with serving(tmp_path, path, clock=FakeClock()) as client:
        assert client.info.config == config  # the fixture's settings are the ones in force


def test_rate_limit_false_switches_it_off(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + "programs: []\nconfig: {rateLimit: false}\n")
    assert fixture_config(path).rate_limit_calls is None


def test_the_v1_workspace_list_still_reads(tmp_path: Path) -> None:
    fixture = load_fixture(write(tmp_path, BASE + "programs: []\nworkspaces: [Default, Sales]\n"))
    assert [(w.name, w.primary_partition) for w in fixture.workspaces] == [
        ("Default", "Default"), ("Sales", "Sales")]


def test_seed_leads_are_inserted_once_and_come_back_after_reset(tmp_path: Path) -> None:
    from runner.sandbox import reset

    path = write(tmp_path, BASE + "programs: []\nleads: [{cookie: ck-1}, {email: a@b.c,"
                 " attributes: {A: x}}]\n")
    with serving(tmp_path, path) as client:
        client.sync("a@b.c", {"A": "y"})
    with serving(tmp_path, path) as client:  # a restart does not seed again
        assert [(x["cookie"], x["email"]) for x in client.leads()] == [
            ("ck-1", None), (None, "a@b.c")]
        assert client.leads()[1]["attributes"] == {"A": "y"}
        reset(client.info.db_path, path)
        assert client.leads()[1]["attributes"] == {"A": "x"}


def test_the_server_uses_the_fixtures_settings_unless_given_others(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + "programs: []\nconfig: {strict: false}\n")
    with serving(tmp_path, path) as client:
        assert client.info.config.strict is False
    with serving(tmp_path, path, strict=True) as client:
        assert client.info.config.strict is True
