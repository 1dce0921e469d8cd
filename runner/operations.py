"""The mktows operations the runner drives, as data, and how playbook parameters map to the
WSDL's shape. Stdlib only.

Playbook parameters use the WSDL's element names; only the name/value lists (lead attributes,
program tokens) and the repeated wrappers (leadList, leadRecordList) may be written in a
shorter YAML form, which `to_wsdl` expands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

OPERATIONS = (
    "syncLead",
    "syncMultipleLeads",
    "requestCampaign",
    "scheduleCampaign",
    "getLead",
    "getCampaignsForSource",
)
# Operations whose effect is not an idempotent upsert: never resent blindly.
NON_IDEMPOTENT = frozenset({"requestCampaign", "scheduleCampaign"})


_LEAD = {"Id": 1, "Email": "lead@example.com", "ForeignSysPersonId": "1", "ForeignSysType": "CUSTOM",
         "leadAttributeList": {}}


@dataclass(frozen=True)
class Output:
    type: str  # int | str | bool | list | dict | str?  (a "?" suffix: may be null)
    doc: str
    sample: Any  # a value of the right type, used when a run-time value is not yet known
    item: Any = None  # a sample element, for references into a list or record output


OUTPUTS: dict[str, dict[str, Output]] = {
    "syncLead": {
        "leadId": Output("int", "the synced lead's Marketo id", 1),
        "status": Output("str", "CREATED, UPDATED or FAILED", "UPDATED"),
        "error": Output("str?", "the sync error, null on success", None),
        "leadRecord": Output("dict?", "the full lead (returnLead: true), else null", None, _LEAD),
    },
    "syncMultipleLeads": {
        "syncStatusList": Output("list", "one {leadId, status, error} per record, in order", [],
                                 {"leadId": 1, "status": "CREATED", "error": None}),
        "leadIds": Output("list", "the leads' ids, in input order", [], 1),
    },
    "requestCampaign": {"success": Output("bool", "true when Marketo accepted the request", True)},
    "scheduleCampaign": {"success": Output("bool", "true when Marketo scheduled the run", True)},
    "getLead": {
        "count": Output("int", "how many leads matched", 1),
        "leadRecordList": Output("list", "the matching leads", [], _LEAD),
        "leadId": Output("int", "the first matching lead's id", 1),
    },
    "getCampaignsForSource": {
        "returnCount": Output("int", "how many campaigns", 0),
        "campaignRecordList": Output("list", "{id, name, description} per campaign", [],
                                     {"id": 1, "name": "campaign", "description": ""}),
    },
}

# Lists the runner splits into several calls: (operation) -> (list field, per-call limit).
BATCHING: dict[str, tuple[str, int]] = {
    "syncMultipleLeads": ("leadRecordList", 300),
    "requestCampaign": ("leadList", 100),
}

# Parameters with a default the runner fills in when the playbook leaves them out.
DEFAULTS: dict[str, dict[str, Any]] = {
    "syncLead": {"returnLead": False},
    "requestCampaign": {"source": "MKTOWS"},
    "getCampaignsForSource": {"source": "MKTOWS"},
}

# Parameters that are not body elements (they go into a SOAP header).
HEADER_PARAMS: dict[str, tuple[str, ...]] = {"syncLead": ("targetWorkspace",)}

_TOKEN_FULL = re.compile(r"^\{\{my\.[^{}]+\}\}$")
_TOKEN_SHORT = re.compile(r"^my\.[^{}]+$")


def token_name(name: str) -> str:
    """Marketo wants tokens in full form `{{my.name}}`; a key written `my.name` is accepted."""
    if _TOKEN_SHORT.match(name):
        return "{{" + name + "}}"
    return name


def is_token_name(name: str) -> bool:
    return bool(_TOKEN_FULL.match(name))


def text(value: Any) -> Any:
    """Values of name/value pairs are xs:string: YAML numbers and booleans become text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def _attributes(value: Any) -> Any:
    # A null value (an empty CSV cell, a missing column) leaves the field alone rather than
    # blanking it in Marketo; write "" to clear a field on purpose.
    if isinstance(value, dict):
        return {"attribute": [{"attrName": k, "attrValue": text(v)} for k, v in value.items()
                              if v is not None]}
    if isinstance(value, list):
        return {"attribute": [{**a, "attrValue": text(a.get("attrValue"))} for a in value]}
    return value


def _tokens(value: Any) -> Any:
    if isinstance(value, dict):
        return {"attrib": [{"name": token_name(k), "value": text(v)} for k, v in value.items()]}
    if isinstance(value, list):
        return {"attrib": [{**t, "name": token_name(str(t.get("name"))), "value": text(t.get("value"))}
                           for t in value]}
    return value


def _lead_record(record: Any) -> Any:
    if isinstance(record, dict) and "leadAttributeList" in record:
        return {**record, "leadAttributeList": _attributes(record["leadAttributeList"])}
    return record


def _lead_key(key: Any) -> Any:
    if isinstance(key, dict) and "keyValue" in key:
        return {**key, "keyValue": text(key["keyValue"])}
    return key


def to_wsdl(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """Playbook parameters (resolved) → the body element's content, keyed by WSDL names."""
    out = {**DEFAULTS.get(operation, {}), **params}
    for name in HEADER_PARAMS.get(operation, ()):
        out.pop(name, None)
    if isinstance(out.get("leadRecord"), dict):
        out["leadRecord"] = _lead_record(out["leadRecord"])
    if isinstance(out.get("leadRecordList"), list):
        out["leadRecordList"] = {"leadRecord": [_lead_record(r) for r in out["leadRecordList"]]}
    if isinstance(out.get("leadList"), list):
        out["leadList"] = {"leadKey": [_lead_key(k) for k in out["leadList"]]}
    if isinstance(out.get("leadKey"), dict):
        out["leadKey"] = _lead_key(out["leadKey"])
    if "programTokenList" in out:
        out["programTokenList"] = _tokens(out["programTokenList"])
    return out
