"""Shapes the REST encodings share (marketo-rest-reference.md §5, §8): a SOAP lead record as
a Sync Leads input, a REST lead as a SOAP lead record, Sync Leads' per-record results as SOAP
sync statuses, lead keys as REST filters, program tokens, and the load-time findings for what
REST cannot do. Stdlib only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from runner.errors import ResponseError, RestError, TransportError
from runner.operations import shapes
from runner.operations.spec import Finding, Params, PathT, RestApi, RestSettings

# SOAP LeadKeyRef -> Get Leads' filterType (§5.2). IDNUM needs no lookup; LEADOWNEREMAIL has
# no documented filterType, so it is refused at load.
KEY_FILTERS = {
    "EMAIL": "email", "COOKIE": "cookies", "SFDCLEADID": "sfdcLeadId",
    "SFDCCONTACTID": "sfdcContactId", "SFDCACCOUNTID": "sfdcAccountId",
    "SFDCLEADOWNERID": "sfdcLeadOwnerId", "SFDCOPPTYID": "sfdcOpptyId",
}
UNMAPPABLE_KEYS = frozenset({"LEADOWNEREMAIL"})
_STATUS = {"created": "CREATED", "updated": "UPDATED", "skipped": "FAILED"}
DESCRIBE = "describe"  # the cached lookup names RestEncoding.once uses
PARTITIONS = "partitions"


def campaign_lookup(params: Params) -> frozenset[str]:
    """The cached campaign-name lookup a campaign call needs (none with campaignId)."""
    if "campaignId" in params or not params.get("campaignName"):
        return frozenset()
    return frozenset({f"campaign:{params.get('programName')}/{params.get('campaignName')}"})


# -- playbook values ------------------------------------------------------------------------

def attributes(value: Any) -> list[tuple[str, Any]]:
    """(SOAP name, value) of a leadAttributeList in either playbook form. A null value leaves
    the field alone, as over SOAP (shapes.attributes)."""
    if isinstance(value, dict):
        return [(str(k), v) for k, v in value.items() if v is not None]
    if isinstance(value, list):
        return [(str(a.get("attrName")), a.get("attrValue")) for a in value
                if isinstance(a, dict) and a.get("attrValue") is not None]
    return []


def tokens(value: Any) -> list[dict[str, Any]]:
    """programTokenList as REST's `tokens`: [{name: "{{my.x}}", value: text}] (§5.6)."""
    if value is None:
        return []
    wrapped = shapes.tokens(value)
    return [{"name": t.get("name"), "value": t.get("value")}
            for t in (wrapped.get("attrib") if isinstance(wrapped, dict) else None) or []]


def is_true(value: Any) -> bool:
    """A boolean param as resolved: true, or the text "true" from a ${...} value."""
    return value is True or value == "true"


def lead_id(value: Any, what: str) -> int:
    text = str(shapes.text(value)).strip()
    if not text.isdigit() or int(text) < 1:
        raise RestError(None, f"{what} {text[:40]!r} is not a Marketo lead id")
    return int(text)


# -- Sync Leads ----------------------------------------------------------------------------

def lead_input(record: Mapping[str, Any], api: RestApi, *, dedup: bool = True,
               email_follows_id: bool = True) -> tuple[str, str | None, dict[str, Any]]:
    """(action, lookupField, the record in REST names) for one SOAP lead record, choosing the
    lookup as SOAP's precedence did (§5.3): Id (updateOnly by id), else ForeignSysPersonId
    (createOrUpdate by the configured custom field), else Email (createOrUpdate, or
    createDuplicate when dedup is off). Values travel as text, as over SOAP (§5.1)."""
    out: dict[str, Any] = {}
    for name, value in attributes(record.get("leadAttributeList")):
        out[api.rest_field(name, write=True)] = shapes.text(value)
    email = record.get("Email")
    foreign_id = record.get("ForeignSysPersonId")
    field = api.settings.foreign_id_field
    if foreign_id not in (None, "") and field is None:
        raise RestError(None, "ForeignSysPersonId has no REST equivalent and the target names "
                              "no custom field to hold it")
    if foreign_id not in (None, "") and field is not None:
        out[field] = shapes.text(foreign_id)
    if record.get("Id") not in (None, ""):
        out["id"] = lead_id(record["Id"], "Id")
        if email not in (None, "") and email_follows_id:
            out["email"] = email
        return "updateOnly", "id", out
    if email not in (None, ""):
        out["email"] = email
    if foreign_id not in (None, "") and field is not None:
        return "createOrUpdate", field, out
    return ("createOrUpdate", "email", out) if dedup else ("createDuplicate", None, out)


def sync_body(action: str, lookup: str | None, records: list[dict[str, Any]],
              partition: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"action": action}
    if lookup is not None:
        body["lookupField"] = lookup
    if partition is not None and action in ("createOnly", "createOrUpdate"):
        body["partitionName"] = partition  # REST takes it with these two actions only
    body["input"] = records
    return body


def sync_results(reply: dict[str, Any], sent: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """SOAP sync statuses ({leadId, status, error}) for Sync Leads' `result`, matched to the
    sent records by position: a skipped record carries no id, nothing else says which input
    it was (§3.1). A FAILED record's leadId is its own Id, else 0, as the sandbox's SOAP
    writes it; its error is the reasons, `<code>: <message>`, joined by '; '."""
    results = reply.get("result")
    if not isinstance(results, list) or len(results) != len(sent):
        count = len(results) if isinstance(results, list) else "no"
        raise ResponseError(f"Sync Leads answered {count} result(s) for {len(sent)} record(s)")
    return [_status(r, s) for r, s in zip(results, sent, strict=True)]


def _status(result: Any, sent: dict[str, Any]) -> dict[str, Any]:
    status = _STATUS.get(str(result.get("status"))) if isinstance(result, dict) else None
    if status is None:
        shown = result.get("status") if isinstance(result, dict) else result
        raise ResponseError(f"Sync Leads answered a record status {str(shown)[:40]!r}")
    if status == "FAILED":
        reasons = result.get("reasons") or []
        error = "; ".join(f"{r.get('code')}: {r.get('message')}" for r in reasons
                          if isinstance(r, dict)) or "skipped, no reason given"
        return {"leadId": sent.get("id") or 0, "status": status, "error": error}
    found = result.get("id")
    if not isinstance(found, int) or isinstance(found, bool):
        raise ResponseError(f"Sync Leads answered {result.get('status')} without a lead id")
    return {"leadId": found, "status": status, "error": None}


# -- reading leads -------------------------------------------------------------------------

def read_fields(api: RestApi) -> list[str]:
    """Every REST field a SOAP lead record can carry: what getLead and returnLead request."""
    names = ["email", *(n for n in api.lead_fields() if n not in ("id", "email"))]
    field = api.settings.foreign_id_field
    return [*names, field] if field and field not in names else names


def read_leads(api: RestApi, filter_type: str, value: str) -> list[dict[str, Any]]:
    """Every lead whose `filter_type` field is `value`, with every field a SOAP lead record
    can carry. Get Leads by filter even for an id (§5.2 allows both): the field list is long,
    and this endpoint is documented to take it as `POST …?_method=GET` (§3.2)."""
    if "," in value:  # filterValues is comma-separated: such a value cannot be searched
        raise RestError(None, f"the key {value[:60]!r} holds a comma, which Get Leads cannot "
                              "search for")
    return list(api.records("/v1/leads.json", {"filterType": filter_type, "filterValues": value,
                                               "fields": ",".join(read_fields(api))}))


def soap_lead(lead: dict[str, Any], api: RestApi) -> dict[str, Any]:
    """A REST lead as SOAP's LeadRecord (runner.soap.elements.lead_record): Id, Email, the
    foreign id (from its configured field; its type is not kept over REST), and every
    non-empty field that has a SOAP name, keyed by it, as text."""
    names = api.lead_fields()
    field = api.settings.foreign_id_field
    attrs: dict[str, Any] = {}
    for rest_name, value in lead.items():
        soap = names.get(rest_name)
        if rest_name in ("id", "email", field) or soap is None or value is None or value == "":
            continue  # SOAP left empty fields out; REST sends them as null (§3.2)
        attrs[soap] = soap_text(value)
    foreign = lead.get(field) if field else None
    return {"Id": lead.get("id"), "Email": lead.get("email"),
            "ForeignSysPersonId": None if foreign in (None, "") else soap_text(foreign),
            "ForeignSysType": None, "leadAttributeList": attrs}


def soap_text(value: Any) -> str:
    """A JSON value as SOAP's text: booleans true/false, whole numbers without '.0'."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float | str):
        return str(value)
    return json.dumps(value)


# -- campaign calls ------------------------------------------------------------------------

@contextmanager
def before_write(nothing: str = "the campaign was not requested") -> Iterator[None]:
    """Around the lookups a call makes before its first write (a campaign's one trigger or
    schedule, a list's first change): however they fail, `nothing` was written, so a lost
    answer is no ambiguity (sent=False lets runner.retry back off and retry instead of
    holding the call back)."""
    try:
        yield
    except TransportError as exc:
        raise TransportError(f"{exc} (in a lookup: {nothing})",
                             sent=False, http_status=exc.http_status) from None


# -- what REST cannot do (load-time findings, with the way out) -----------------------------

def foreign_id_findings(record: Any, path: PathT, settings: RestSettings) -> Iterator[Finding]:
    if isinstance(record, dict) and "ForeignSysPersonId" in record and (
            settings.foreign_id_field is None):
        yield ((*path, "ForeignSysPersonId"),
               "ForeignSysPersonId has no REST equivalent (REST has no foreign-system key)",
               "store the foreign id in a custom lead field and name that field (its REST "
               "name) as the target's foreign id field; Sync Leads then looks leads up by it")


def key_findings(key: Any, path: PathT) -> Iterator[Finding]:
    if isinstance(key, dict) and key.get("keyType") in UNMAPPABLE_KEYS:
        yield ((*path, "keyType"), "LEADOWNEREMAIL lead keys cannot be looked up over REST "
               "(Get Leads has no filter on the lead owner's email)",
               "look the lead up by EMAIL, IDNUM or an SFDC id instead")


def source_findings(params: Params) -> Iterator[Finding]:
    if params.get("source") == "SALES":
        yield (("source",), "source: SALES has no REST equivalent (REST works only with "
               "campaigns whose 'Campaign is Requested' trigger has the Web Service API source)",
               "add the Web Service API source to the campaign's trigger and use source: MKTOWS")


def workspace_findings(params: Params, settings: RestSettings) -> Iterator[Finding]:
    workspace = params.get("targetWorkspace")
    if (isinstance(workspace, str) and not shapes.is_expression(workspace)
            and settings.partitions is not None and workspace not in settings.partitions):
        yield (("targetWorkspace",), f"workspace {workspace!r} has no lead partition in the "
               "target's workspace -> partition map (REST names partitions, not workspaces, "
               "and no REST API reads the map)",
               f"add {workspace!r}: <its primary partition> to the target's partition map")


def attribute_paths(value: Any, path: PathT) -> Iterator[tuple[PathT, str]]:
    """(path, SOAP name) of each field a leadAttributeList writes, in either playbook form."""
    if isinstance(value, dict):
        yield from (((*path, k), str(k)) for k in value)
    elif isinstance(value, list):
        yield from (((*path, i, "attrName"), str(a["attrName"])) for i, a in enumerate(value)
                    if isinstance(a, dict) and isinstance(a.get("attrName"), str))
