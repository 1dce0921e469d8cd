"""Insert-or-update of one LeadRecord, shared by syncLead and syncMultipleLeads.

Matching (mktows-operations.md "syncLead"): Id, then ForeignSysPersonId (with its
ForeignSysType), then the Munchkin cookie, then Email (the oldest lead with that email,
only when dedup is on). Every key but Email is unique. Id must exist (20103); any other key
that finds nothing falls through to the next one. A record with no key at all is fault
20101 in strict mode and a new lead in lenient mode (what production did). The winner takes the record's other
keys: a foreign id or cookie held by another lead moves to it (the cookie only with
moveCookie; without it, a cookie that is someone else's stays there).

Workspaces (when enabled): a new lead goes to the first assignment rule's partition, else
the named (or Default) workspace's primary partition; a lead matched by Id, foreign id or
cookie under a named workspace must be in its primary partition (fault 20106); a lead
matched by Email is updated where it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree.ElementTree import Element

from runner.sandbox.faults import Fault
from runner.sandbox.fixture import Fixture, Workspace
from runner.sandbox.params import NIL, firsts, integer_of
from runner.sandbox.store import Lead, Store


@dataclass(slots=True)  # not frozen: a frozen record costs 3x to build, 300 to a call
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
    move_cookie: bool = False
    workspace: Workspace | None = None  # the context header's workspace, resolved
    workspaces_enabled: bool = False
    dedup: bool = True  # match on Email when no unique key matched
    email_follows_id: bool = True  # a lead found by Id takes the record's Email
    # The doc requires a key (strict mode); production created a lead without one when a
    # client misspelt `Id` as `id` (markety PR #31), which lenient mode reproduces.
    require_key: bool = True


def read_lead_record(elem: Element) -> LeadInput:
    """The record as `params` reads it: a field is the first child by that local name that
    is not nil, an attribute each `attribute` child that is not, with its first attrName and
    attrValue. Written out, without params' helpers: a 300-record call reads 300 of these."""
    fields = firsts(elem)
    attributes = {}
    listed = fields.get("leadAttributeList")
    for a in () if listed is None else listed:
        tag = a.tag
        if (tag != "attribute" and tag.rpartition("}")[2] != "attribute") or a.get(NIL) in _NILS:
            continue
        name = value = None
        for c in a:
            tag = c.tag
            if tag[:1] == "{":
                tag = tag.rpartition("}")[2]
            if tag == "attrName":
                if name is None and c.get(NIL) not in _NILS:
                    name = c.text or ""
            elif tag == "attrValue" and value is None and c.get(NIL) not in _NILS:
                value = c.text or ""
        attributes[name or ""] = value or ""
    found, email = fields.get("Id"), fields.get("Email")
    foreign_id, foreign_type = fields.get("ForeignSysPersonId"), fields.get("ForeignSysType")
    return LeadInput(
        id=None if found is None else integer_of(found.text or "", "Id"),
        email=None if email is None else (email.text or "").strip() or None,
        foreign_id=None if foreign_id is None else (foreign_id.text or "").strip() or None,
        foreign_type=None if foreign_type is None else (foreign_type.text or "").strip() or None,
        attributes=attributes,
    )


_NILS = ("true", "1")  # xsi:nil values that make an element absent (params.py)


def check_fields(operation: str, records: list[LeadInput], fixture: Fixture) -> None:
    """Fault 20105 naming every attribute the field catalogue lacks, before any write."""
    unknown: dict[str, None] = {}  # ordered set
    for record in records:
        unknown.update((n, None) for n in record.attributes if fixture.field(n) is None)
    if unknown:
        names = ", ".join(unknown)
        raise Fault(20105, f"{operation} operation failed: unknown fields for import: {names}")


def check_keys(record: LeadInput, cookie: str | None, options: Options) -> None:
    if record.foreign_id and not record.foreign_type:
        # The WSDL's comment and the doc's table: ForeignSysType comes with the foreign id.
        raise Fault(20109, "Parameter Required: ForeignSysType is required with"
                           " ForeignSysPersonId")
    if options.require_key and not record.has_key and cookie is None:
        raise Fault(20101, "Lead Key Required: leadRecord needs an Id, Email or"
                           " ForeignSysPersonId")


def upsert(store: Store, fixture: Fixture, record: LeadInput,
           options: Options) -> tuple[Lead, str]:
    """Update the matching lead or create one; returns it with CREATED or UPDATED.

    Every Fault is raised before the first write (syncMultipleLeads relies on it: a failed
    record leaves no trace without a savepoint of its own); keep it so."""
    lead, matched_by = _find(store, record, options)
    if lead is None:
        if options.require_key and not record.has_key:
            # A cookie alone can find an anonymous lead, never create one: the doc's table
            # requires Email when neither Id nor ForeignSysPersonId is given.
            raise Fault(20101, "Lead Key Required: no lead has this marketoCookie, and"
                               " leadRecord has no Id, Email or ForeignSysPersonId")
        return store.insert(new_lead(store, fixture, record, options)), "CREATED"
    ws = options.workspace
    if ws and options.workspaces_enabled and matched_by != "email" and (
            lead.partition != ws.primary_partition):
        raise Fault(20106, f"Lead Sync Failed: lead {lead.id} (matched by {matched_by}) is in"
                           f" partition {lead.partition!r}, not in the primary partition"
                           f" {ws.primary_partition!r} of workspace {ws.name!r}")
    lead = _apply(store, lead, record, options, matched_by)
    store.update(lead)
    return lead, "UPDATED"


def new_lead(store: Store, fixture: Fixture, record: LeadInput, options: Options) -> Lead:
    """The lead `upsert` inserts for a record that matched no lead (its id is 0 until then).
    Writes nothing unless the record carries a foreign id or a cookie someone holds."""
    fresh = Lead(0, None, None, None, None, _new_partition(fixture, record, options))
    return _apply(store, fresh, record, options, None)


def _find(store: Store, record: LeadInput, options: Options) -> tuple[Lead | None, str | None]:
    if record.id is not None:
        by_id = store.get(record.id)
        if by_id is None:
            raise Fault(20103, f"No lead found with IDNUM = {record.id}")
        return by_id, "id"
    if record.foreign_id and (found := store.by_foreign_id(record.foreign_type,
                                                           record.foreign_id)):
        return found, "foreign id"
    if options.cookie and (found := store.by_cookie(options.cookie)):
        return found, "cookie"
    if record.email and options.dedup and (same := store.by_email(record.email)):
        return same[0], "email"
    return None, None


def _new_partition(fixture: Fixture, record: LeadInput, options: Options) -> str:
    if not options.workspaces_enabled:
        return fixture.default_workspace.primary_partition
    assigned = fixture.assigned_partition(record.attributes)
    return assigned or (options.workspace or fixture.default_workspace).primary_partition


def _apply(store: Store, lead: Lead, record: LeadInput, options: Options,
           matched_by: str | None) -> Lead:
    """The lead with the record's keys and attributes applied (new leads have id 0)."""
    email = lead.email
    if record.email and matched_by != "email" and (
            matched_by != "id" or options.email_follows_id):
        email = record.email
    # An Email attribute always sets the email (syncMultipleLeads: "unless it also appears
    # in the attribute list").
    email = (record.attributes.get("Email", email) or "").strip() or None
    foreign_id, foreign_type = lead.foreign_sys_person_id, lead.foreign_sys_type
    if record.foreign_id and (record.foreign_id, record.foreign_type) != (foreign_id,
                                                                          foreign_type):
        if lead.id:
            store.release_foreign_id(record.foreign_type, record.foreign_id, keep=lead.id)
        foreign_id, foreign_type = record.foreign_id, record.foreign_type
    cookie = lead.cookie
    if options.cookie and options.cookie != cookie:
        holder = store.by_cookie(options.cookie)
        if holder is None or options.move_cookie:
            if holder is not None:
                store.release_cookie(options.cookie, keep=lead.id)
            cookie = options.cookie
    attributes = dict(lead.attributes)
    attributes.update((k, v) for k, v in record.attributes.items() if k != "Email")
    # Lead(...), not replace(): replace() costs a field walk per record of a big call.
    return Lead(lead.id, email, foreign_id, foreign_type, cookie, lead.partition, attributes,
                lead.created_at, lead.updated_at)
