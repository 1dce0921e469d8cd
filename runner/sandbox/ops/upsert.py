"""Insert-or-update of one LeadRecord, shared by syncLead and syncMultipleLeads.

Matching follows mktows-operations.md "syncLead": Id, then ForeignSysPersonId, then the
Munchkin cookie, then Email (the oldest lead with that email). Every key but Email is
unique; a key that finds nothing falls through to the next one, except Id, which must
exist. Callers hold the store's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from xml.etree.ElementTree import Element

from runner.sandbox.faults import Fault
from runner.sandbox.fixture import Fixture
from runner.sandbox.params import child, children, integer, text
from runner.sandbox.store import Lead, Store


@dataclass(frozen=True)
class LeadInput:
    """A request's LeadRecord. Empty keys count as absent."""

    id: int | None
    email: str | None
    foreign_id: str | None
    foreign_type: str | None
    attributes: dict[str, str]

    @property
    def has_key(self) -> bool:
        return self.id is not None or bool(self.email) or bool(self.foreign_id)


@dataclass(frozen=True)
class Options:
    cookie: str | None = None
    workspace: str | None = None  # the context header's workspace, already resolved
    dedup: bool = True  # match on Email when no unique key matched
    email_follows_id: bool = True  # a lead found by Id takes the record's Email


def read_lead_record(elem: Element) -> LeadInput:
    attributes = {
        text(a, "attrName") or "": text(a, "attrValue") or ""
        for a in children(child(elem, "leadAttributeList"), "attribute")
    }
    return LeadInput(
        id=integer(elem, "Id"),
        email=text(elem, "Email") or None,
        foreign_id=text(elem, "ForeignSysPersonId") or None,
        foreign_type=(text(elem, "ForeignSysType") or "").strip() or None,
        attributes=attributes,
    )


def check_fields(operation: str, records: list[LeadInput], fixture: Fixture) -> None:
    """Fault 20105 naming every attribute the field catalogue lacks, before any write."""
    unknown: dict[str, None] = {}  # ordered set
    for record in records:
        unknown.update((n, None) for n in record.attributes if fixture.field(n) is None)
    if unknown:
        names = ", ".join(unknown)
        raise Fault(20105, f"{operation} operation failed: unknown fields for import: {names}")


def upsert(store: Store, fixture: Fixture, record: LeadInput,
           options: Options) -> tuple[Lead, str]:
    """Update the matching lead or create one; returns it with CREATED or UPDATED."""
    lead, matched_by = _find(store, record, options)
    if lead is None:
        fresh = Lead(0, record.email, record.foreign_id, record.foreign_type, None,
                     options.workspace or _default_workspace(fixture))
        lead = store.insert(_apply(store, fresh, record, options, None))
        return lead, "CREATED"
    if options.workspace and matched_by != "email" and lead.workspace != options.workspace:
        # Only a lead found by Email ignores the named workspace (operations.md, workspaces).
        raise Fault(20106, f"lead {lead.id} is not in workspace {options.workspace}")
    lead = _apply(store, lead, record, options, matched_by)
    store.update(lead)
    return lead, "UPDATED"


def _find(store: Store, record: LeadInput, options: Options) -> tuple[Lead | None, str | None]:
    if record.id is not None:
        by_id = store.get(record.id)
        if by_id is None:
            raise Fault(20103, f"No lead found with IDNUM = {record.id}")
        return by_id, "id"
    if record.foreign_id and (found := store.by_foreign_id(record.foreign_id)):
        return found, "foreign"
    if options.cookie and (found := store.by_cookie(options.cookie)):
        return found, "cookie"
    if record.email and options.dedup and (same := store.by_email(record.email)):
        return same[0], "email"
    return None, None


def _apply(store: Store, lead: Lead, record: LeadInput, options: Options,
           matched_by: str | None) -> Lead:
    """The lead with the record's keys and attributes applied."""
    email = lead.email
    if record.email and (matched_by != "id" or options.email_follows_id):
        email = email if matched_by == "email" else record.email
    # An Email attribute always sets the email (syncMultipleLeads: "unless it also appears
    # in the attribute list").
    email = record.attributes.get("Email", email) or None
    foreign_id, foreign_type = lead.foreign_sys_person_id, lead.foreign_sys_type
    if record.foreign_id and record.foreign_id != foreign_id:
        if lead.id:
            store.release_foreign_id(record.foreign_id, keep=lead.id)
        foreign_id = record.foreign_id
    foreign_type = record.foreign_type or foreign_type
    cookie = lead.cookie
    if options.cookie and store.by_cookie(options.cookie) is None:
        cookie = options.cookie  # a cookie already on another lead stays there (v1: no merge)
    attributes = dict(lead.attributes)
    attributes.update((k, v) for k, v in record.attributes.items() if k != "Email")
    return replace(lead, email=email, foreign_sys_person_id=foreign_id,
                   foreign_sys_type=foreign_type, cookie=cookie, attributes=attributes)


def _default_workspace(fixture: Fixture) -> str:
    return fixture.workspace("Default") or fixture.workspaces[0]
