"""Finding leads by a LeadKey (getLead, requestCampaign), for every LeadKeyRef type.

IDNUM, COOKIE and EMAIL use the lead's own keys; the owner and SFDC key types look up the
lead field the fixture's `leadKeys:` names for them (defaults in fixture.py), so a fixture
that seeds `SFDCLeadId` values can be requested by SFDCLEADID. EMAIL and LEADOWNEREMAIL
may find several leads; values compare case-insensitively for those two, exactly for ids.
"""

from __future__ import annotations

from runner.sandbox.faults import Fault
from runner.sandbox.fixture import DEFAULT_KEY_FIELDS, Fixture
from runner.sandbox.store import Lead, Store

KEY_TYPES = ("IDNUM", "COOKIE", "EMAIL", *DEFAULT_KEY_FIELDS)


def find_leads(store: Store, fixture: Fixture, key_type: str, key_value: str) -> list[Lead]:
    """The leads one LeadKey names, oldest first; an unknown key type is fault 20102."""
    value = key_value.strip()
    if key_type == "IDNUM":
        lead = store.get(int(value)) if value.isdigit() else None
        return [lead] if lead else []
    if key_type == "EMAIL":
        return store.by_email(value) if value else []
    if key_type == "COOKIE":
        lead = store.by_cookie(value) if value else None
        return [lead] if lead else []
    if key_type not in KEY_TYPES:
        # Only reachable in lenient mode: strict mode's schema check rejects it first.
        raise Fault(20102, f"Lead Key Bad: unknown keyType {key_type!r}")
    name = fixture.key_fields.get(key_type)
    return store.by_field(name, value) if name and value else []


def find_lead_ids(store: Store, fixture: Fixture, key_type: str, key_value: str) -> list[int]:
    """`find_leads`'s leads' ids, without reading the leads (requestCampaign and
    listOperation resolve up to 100 and 1000 keys a call, and want only the ids)."""
    value = key_value.strip()
    if key_type == "IDNUM":
        return [int(value)] if value.isdigit() and store.has_lead(int(value)) else []
    if key_type == "EMAIL":
        return store.ids_by_email(value) if value else []
    if key_type == "COOKIE":
        found = store.id_by_cookie(value) if value else None
        return [found] if found is not None else []
    if key_type not in KEY_TYPES:
        raise Fault(20102, f"Lead Key Bad: unknown keyType {key_type!r}")
    name = fixture.key_fields.get(key_type)
    return store.ids_by_field(name, value) if name and value else []
