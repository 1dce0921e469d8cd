"""The API versions the sandbox answers: each its own WSDL, schema and operations.

`/soap/mktows/3_1` is the project's WSDL; `/soap/mktows/2_2` is derived from it by taking
out what 3_1 added (describe.py), so each endpoint reads a request as that version of
Marketo did: a 3_1-only element sent to 2_2 is an element 2_2 does not know (ignored and
recorded by default, 20012 in strict mode). Other versions are not served (404): the
sandbox describes no version it cannot derive from facts.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType

from runner.resources import wsdl_path
from runner.sandbox import describe
from runner.soap.xsd import Binding, ServiceSchema
from runner.soap.xsd import load as load_schema

LATEST = "3_1"  # the project's WSDL; the version an endpoint without a choice gets
VERSIONS = ("2_2", LATEST)

# What later versions added to types 2_2 already had (mktows-reference.md §2.1 partnerId,
# §3.2 moveCookie, §3.5 cloneToProgramName, §3.9 the rest): gone from the 2_2 description.
ADDED_AFTER_2_2: Mapping[str, tuple[str, ...]] = {
    "AuthenticationHeaderInfo": ("partnerId",),
    "ParamsSyncLead": ("moveCookie",),
    "ParamsScheduleCampaign": ("cloneToProgramName",),
    "ParamsGetLeadChanges": ("activityNameFilter",),  # 2_3
    "ParamsMergeLeads": ("mergeInSales",),  # 2_7
    "ActivityRecord": ("marketoGUID",),  # by 3_1
}
# What 2_2 had and 2_3 dropped (§3.9): put back as (element, type, after which sibling).
DROPPED_AFTER_2_2: Mapping[str, tuple[tuple[str, str, str], ...]] = {
    "ParamsListOperation": (("skipActivityLog", "xs:boolean", "strict"),),
}

# Every operation Marketo's 2_2 WSDL binds (§1.3). One of these that the sandbox does not
# answer is "not emulated" (faults.NotEmulated); any other body element is Marketo's 20019.
MARKETO_OPERATIONS = frozenset({
    "deleteMObjects", "describeMObject", "getMObjects", "syncMObjects",
    "getCampaignsForSource", "getImportToListStatus", "getLead", "getLeadActivity",
    "getLeadChanges", "getMultipleLeads", "importToList", "listMObjects", "listOperation",
    "requestCampaign", "scheduleCampaign", "syncLead", "syncMultipleLeads",
    "syncCustomObjects", "deleteCustomObjects", "getCustomObjects", "mergeLeads",
    "getChannels", "getTags",
})


@dataclass(frozen=True)
class ApiVersion:
    name: str  # "2_2", "3_1"
    wsdl: str  # the description served at ?WSDL (its soap:address is set per request)
    schema: ServiceSchema  # strict validation, and what the lenient reader knows
    bindings: Mapping[str, Binding]  # the operations answered, by params element name

    @property
    def operations(self) -> tuple[str, ...]:
        return tuple(sorted(b.name for b in self.bindings.values()))


@cache
def load_versions(served: frozenset[str]) -> Mapping[str, ApiVersion]:
    """Each version's description, restricted to the `served` operations. Once per process:
    deriving and loading the 2_2 schema costs a WSDL load (cached on disk by xsd.load)."""
    source = wsdl_path()
    text = source.read_text(encoding="utf-8")
    out = {}
    for version in VERSIONS:
        doc = describe.parse(text)
        changes: list[str] = []
        if version == "2_2":
            changes = describe.for_version(doc, ADDED_AFTER_2_2, DROPPED_AFTER_2_2)
            describe.drop_comments(doc, LATEST)
        describe.restrict(doc, served)
        describe.set_comment(doc, _comment(version, describe.operations(doc), changes))
        served_text = describe.serialize(doc)
        # 3_1 validates with the project's own schema (the runner's, already loaded).
        schema = load_schema(str(source)) if version == LATEST else _schema_of(served_text)
        bindings = {b.input_element: b for b in schema.bindings.values() if b.name in served}
        out[version] = ApiVersion(version, served_text, schema, MappingProxyType(bindings))
    return MappingProxyType(out)


def _schema_of(text: str) -> ServiceSchema:
    # xsd.load reads a path or URL; the derived text lives only for the load.
    with tempfile.TemporaryDirectory(prefix="mktows-sandbox-") as tmp:
        path = Path(tmp) / "mktows.wsdl"
        path.write_text(text, encoding="utf-8")
        return load_schema(str(path))


def _comment(version: str, operations: list[str], changes: list[str]) -> str:
    lines = [
        "  The mktows sandbox's WSDL 1.1 description of Marketo's SOAP API (mktows),",
        f"  version {version}, limited to the operations the sandbox answers:",
        f"    {', '.join(operations)}.",
    ]
    if changes:
        lines += [
            "  Derived from the project's 3_1 description (schemas/mktows.wsdl): without what",
            "  3_1 added, with what 2_2 had and later versions dropped:",
            f"    {', '.join(changes)}.",
        ]
    lines += [
        "  Element order inside every xs:sequence is significant. The schema sets no",
        "  elementFormDefault: global elements are namespace-qualified, children are not.",
        "  docs/sandbox.md lists where the sandbox differs from Marketo.",
    ]
    return "\n".join(lines)
