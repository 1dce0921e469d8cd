"""The fixture's REST parts: `restClients`, the field list with both names, and
`config.rest`, each mistake a usage error naming the place."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from runner.errors import UsageError
from runner.sandbox import SandboxConfig
from runner.sandbox.config import ConfigError, RestConfig
from runner.sandbox.fixture import load_fixture

BASE = """users: [{userId: u, encryptionKey: k}]
programs: []
"""


def load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "f.yml"
    path.write_text(BASE + text, encoding="utf-8")
    return load_fixture(path)


def test_field_names_default_from_marketos_standard_list(tmp_path: Path) -> None:
    fixture = load(tmp_path, "fields: [{name: SICCode}, {name: Email, type: email},"
                             " {name: My_Field__c}, {rest: personTimeZone},"
                             " {name: Contact Company}]\n")
    names = [(f.name, f.rest_name, f.soap, f.label, f.rest_read_only)
             for f in fixture.fields]  # type: ignore[attr-defined]
    assert names == [("SICCode", "sicCode", True, "SIC Code", False),
                     ("Email", "email", True, "Email Address", False),
                     ("My_Field__c", "My_Field__c", True, "My_Field__c", False),
                     ("personTimeZone", "personTimeZone", False, "Person Time Zone", False),
                     ("Contact Company", "contactCompany", True, "Contact Company", True)]


@pytest.mark.parametrize(("text", "problem"), [
    ("fields: [{type: string}]\n", "fields[0]: a field needs a name (SOAP), a rest name"),
    ("fields: [{name: A, rest: createdAt}]\n", "fields[0].rest: 'createdAt' is a lead column"),
    ("fields: [{name: A, rest: x}, {name: B, rest: x}]\n", "duplicate REST name 'x'"),
    ("fields: [{name: A, readOnly: maybe}]\n", "fields[0].readOnly: must be true or false"),
    ("fields: [{name: A, length: 0}]\n", "fields[0].length: must be a positive integer"),
    ("fields: [{name: Email}]\nrestClients: [{clientId: c, clientSecret: s}]\n",
     "restClients[0]: missing apiUser"),
    ("fields: [{name: Email}]\nrestClients: [{clientId: c, clientSecret: s, apiUser: a,"
     " permissions: [Admin]}]\n", "restClients[0].permissions: must be a list of"),
    ("fields: [{name: Email}]\nrestClients: [{clientId: c, clientSecret: s, apiUser: a},"
     " {clientId: c, clientSecret: t, apiUser: b}]\n", "duplicate clientId 'c'"),
    ("fields: [{name: Email}]\nconfig: {rest: {tokenLifetime: 5}}\n",
     "config.rest: unknown key(s) tokenLifetime"),
    ("fields: [{name: Email}]\nconfig: {rest: {dailyQuota: -1}}\n", "config.rest.dailyQuota"),
])
def test_mistakes_name_their_place(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(UsageError, match=re.escape(problem)):
        load(tmp_path, text)


def test_rest_settings_from_the_fixture_and_from_keywords(tmp_path: Path) -> None:
    fixture = load(tmp_path, "fields: [{name: Email}]\nconfig: {rest: {tokenLifetimeSeconds:"
                             " 5, dailyQuota: null, cloneLimitPerDay: 3, accessTokenQuery: true,"
                             " describeSoapNames: false}}\n")
    assert fixture.config.rest == RestConfig(5.0, None, 3, True, False)  # type: ignore
    config = SandboxConfig().override(rest_token_lifetime=7, rest_daily_quota=9)
    assert (config.rest.token_lifetime, config.rest.daily_quota) == (7, 9)
    off = config.without_limits()
    assert (off.rest.daily_quota, off.rest.clone_limit_per_day) == (None, None)
    with pytest.raises(ConfigError):
        RestConfig(token_lifetime=-1)
