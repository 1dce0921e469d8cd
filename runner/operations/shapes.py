"""Shapes several operations share: lead records, lead keys, name/value lists and program
tokens, in the playbook's short YAML form and in the WSDL's form, and the rules on them.
Stdlib only."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from runner.operations.spec import Finding, PathT, Reference

_TOKEN_FULL = re.compile(r"^\{\{my\.[^{}]+\}\}$")
_TOKEN_SHORT = re.compile(r"^my\.[^{}]+$")
LEAD_KEYS = ("Id", "Email", "ForeignSysPersonId")  # what identifies a lead in a lead record

# A sample lead, for references into a lead output before the run knows it.
SAMPLE_LEAD = {"Id": 1, "Email": "lead@example.com", "ForeignSysPersonId": "1",
               "ForeignSysType": "CUSTOM", "leadAttributeList": {}}


def token_name(name: str) -> str:
    """Marketo wants tokens in full form `{{my.name}}`; a key written `my.name` is accepted."""
    if _TOKEN_SHORT.match(name):
        return "{{" + name + "}}"
    return name


def is_token_name(name: str) -> bool:
    return bool(_TOKEN_FULL.match(name))


def text(value: Any) -> Any:
    """Values of name/value pairs are xs:string: YAML numbers and booleans become text."""
    if type(value) is str:
        return value  # the usual value, first
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def is_expression(value: Any) -> bool:
    """A value written with ${...}: checked after resolution (by the XSD), not at load."""
    return isinstance(value, str) and "${" in value


# -- the WSDL's form ---------------------------------------------------------------------------

def attributes(value: Any) -> Any:
    # A null value (an empty CSV cell, a missing column) leaves the field alone rather than
    # blanking it in Marketo; write "" to clear a field on purpose.
    if isinstance(value, dict):
        # (text() inline for the usual str value: this runs for every attribute of every row)
        return {"attribute": [{"attrName": k, "attrValue": v if type(v) is str else text(v)}
                              for k, v in value.items() if v is not None]}
    if isinstance(value, list):
        return {"attribute": [{**a, "attrValue": text(a.get("attrValue"))} for a in value]}
    return value


def tokens(value: Any) -> Any:
    if isinstance(value, dict):
        return {"attrib": [{"name": token_name(k), "value": text(v)} for k, v in value.items()]}
    if isinstance(value, list):
        return {"attrib": [{**t, "name": token_name(str(t.get("name"))), "value": text(t.get("value"))}
                           for t in value]}
    return value


def lead_record(record: Any) -> Any:
    if isinstance(record, dict) and "leadAttributeList" in record:
        return {**record, "leadAttributeList": attributes(record["leadAttributeList"])}
    return record


def lead_key(key: Any) -> Any:
    if isinstance(key, dict) and "keyValue" in key:
        return {**key, "keyValue": text(key["keyValue"])}
    return key


def with_tokens(params: dict[str, Any]) -> dict[str, Any]:
    if "programTokenList" in params:
        return {**params, "programTokenList": tokens(params["programTokenList"])}
    return params


# -- rules ---------------------------------------------------------------------------------------

def lead_record_rules(record: Any, path: PathT) -> Iterator[Finding]:
    if not isinstance(record, dict):
        return
    if not any(k in record for k in LEAD_KEYS):
        yield (path, "a lead record needs Id, Email or ForeignSysPersonId to identify the lead",
               "add Email (or Id, or ForeignSysPersonId with ForeignSysType)")
    if "ForeignSysPersonId" in record and "ForeignSysType" not in record:
        yield ((*path, "ForeignSysPersonId"), "ForeignSysPersonId needs ForeignSysType",
               "add ForeignSysType: CUSTOM, SFDC or NETSUITE")


def token_rules(value: Any, path: PathT) -> Iterator[Finding]:
    names: list[tuple[PathT, str]] = []
    if isinstance(value, dict):
        names = [((*path, k), k) for k in value]
    elif isinstance(value, list):
        names = [((*path, i, "name"), t["name"]) for i, t in enumerate(value)
                 if isinstance(t, dict) and isinstance(t.get("name"), str)]
    for where, name in names:
        if not is_expression(name) and not is_token_name(token_name(name)):
            yield (where, f"'{name}' is not a program token name",
                   "write tokens in full form, like '{{my.message}}' (quoted)")


def campaign_reference(kind: str, params: dict[str, Any]) -> Iterator[Reference]:
    """The campaign a call acts on, by id or by program and name, when known at load."""
    if isinstance(params.get("campaignId"), int) and not isinstance(params["campaignId"], bool):
        yield Reference(kind, ("campaignId",), campaign_id=params["campaignId"])
    elif isinstance(params.get("programName"), str) and isinstance(params.get("campaignName"),
                                                                        str):
        yield Reference(kind, ("campaignName",), program=params["programName"],
                        name=params["campaignName"])


def campaign_label(params: dict[str, Any]) -> str:
    """How a plan names the campaign a call acts on."""
    if "campaignId" in params:
        return f"campaignId={params['campaignId']}"
    return f"{params.get('programName')} / {params.get('campaignName')}"
