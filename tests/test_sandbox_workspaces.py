"""syncLead with workspaces and partitions (mktows-operations.md, "Workspaces").

tests/data/sandbox/workspaces.yml: workspaces Default (partition Default), Europe (EMEA)
and Americas (AMER); rules Country FR/DE/NO -> EMEA, US/CA -> AMER; seed leads 1 in EMEA
(F-EU, ck-eu), 2 in AMER (F-US, ck-us), 3 in Default.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_sandbox import FIXTURES, Client, lead_xml, serving

WORKSPACES = FIXTURES / "workspaces.yml"


def header(workspace: str) -> str:
    return (f"<ns1:MktowsContextHeader><targetWorkspace>{workspace}</targetWorkspace>"
            "</ns1:MktowsContextHeader>")


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Client]:
    with serving(tmp_path, WORKSPACES) as client:
        yield client


NEW = 4  # the first lead a test creates

# (case, workspace header or None, leadRecord, marketoCookie, expected lead id / partition,
#  or fault code)
CASES: list[tuple[str, str | None, str, str, tuple[int, str] | int]] = [
    ("new lead, header, an assignment rule matches: the rule's partition", "Europe",
     lead_xml("n@example.com", {"Country": "US"}), "", (NEW, "AMER")),
    ("new lead, header, no rule matches: the workspace's primary partition", "Europe",
     lead_xml("n@example.com", {"Country": "JP"}), "", (NEW, "EMEA")),
    ("new lead, no header, a rule matches", None,
     lead_xml("n@example.com", {"Country": "fr"}), "", (NEW, "EMEA")),
    ("new lead, no header, no rule: the Default workspace's primary partition", None,
     lead_xml("n@example.com"), "", (NEW, "Default")),
    ("matched by Id in the named workspace's primary partition", "Europe",
     lead_xml(lead_id=1), "", (1, "EMEA")),
    ("matched by Id outside it", "Europe", lead_xml(lead_id=2), "", 20106),
    ("matched by foreign id outside it", "Europe", lead_xml(foreign="F-US"), "", 20106),
    ("matched by cookie outside it", "Europe", lead_xml(), "ck-us", 20106),
    ("matched by cookie inside it", "europe", lead_xml(), "ck-eu", (1, "EMEA")),
    ("matched by Email: updated where it is", "Europe", lead_xml("us@example.com"), "",
     (2, "AMER")),
    ("no header: a lead matched by Id is updated where it is", None, lead_xml(lead_id=2), "",
     (2, "AMER")),
    ("an existing lead keeps its partition when a rule would move it", None,
     lead_xml(lead_id=3, attrs={"Country": "DE"}), "", (3, "Default")),
    ("an unknown workspace", "Asia", lead_xml("n@example.com"), "", 20110),
]


@pytest.mark.parametrize(("workspace", "record", "cookie", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_workspaces_and_partitions(ws: Client, workspace: str | None, record: str,
                                   cookie: str, expected: tuple[int, str] | int) -> None:
    children = record + "<returnLead>false</returnLead>"
    if cookie:
        children += f"<marketoCookie>{cookie}</marketoCookie>"
    extra = {"extra_header": header(workspace)} if workspace else {}
    if isinstance(expected, int):
        details = ws.fault("syncLead", children, **extra)
        assert details["code"] == str(expected)
        assert len(ws.leads()) == 3
        return
    lead_id, partition = expected
    assert ws.call("syncLead", children, **extra).findtext("leadId") == str(lead_id)
    assert ws.lead(lead_id)["partition"] == partition


@pytest.mark.parametrize(("workspace", "expected"), [
    (None, "Default"), ("Default", "Default"), ("default", "Default"), ("Europe", "20110")])
def test_without_workspaces_only_default_is_accepted_and_rules_are_inert(
        tmp_path: Path, workspace: str | None, expected: str) -> None:
    extra = {"extra_header": header(workspace)} if workspace else {}
    children = lead_xml("n@example.com", {"Country": "FR"}) + "<returnLead>false</returnLead>"
    with serving(tmp_path, WORKSPACES, workspaces_enabled=False) as client:
        if expected.isdigit():
            assert client.fault_code("syncLead", children, **extra) == expected
        else:
            client.call("syncLead", children, **extra)
            assert client.lead(4)["partition"] == expected
