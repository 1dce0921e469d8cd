"""The sandbox fixture: API users (SOAP) and clients (REST), settings, workspaces and
partitions, the lead field catalogue with both APIs' names, seed leads, programs with their
campaigns and static lists.

Read and checked once at start-up (`fixture_reader.py`; a bad fixture is a `UsageError`
naming the file and the place), then handed around as frozen records, so no request ever
re-reads it. The one sandbox module that imports pyyaml.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import yaml

from runner.errors import UsageError
from runner.sandbox.config import SandboxConfig

DEFAULT_FIXTURE = Path(__file__).resolve().with_name("fixture.yml")

CAMPAIGN_TYPES = ("trigger", "batch")
SOURCES = ("MKTOWS", "SALES")
# Marketo's lead field data types, as they come back in attrType.
FIELD_TYPES = frozenset({
    "string", "text", "email", "phone", "url", "integer", "float", "currency", "score",
    "percent", "boolean", "date", "datetime", "reference",
})
# The LeadKeyRef types that name a lead field rather than a key column, and the field each
# looks up unless the fixture's `leadKeys:` says otherwise. The names are the sandbox's.
DEFAULT_KEY_FIELDS = {
    "LEADOWNEREMAIL": "LeadOwnerEmailAddress",
    "SFDCACCOUNTID": "SFDCAccountId",
    "SFDCCONTACTID": "SFDCContactId",
    "SFDCLEADID": "SFDCLeadId",
    "SFDCLEADOWNERID": "SFDCLeadOwnerId",
    "SFDCOPPTYID": "SFDCOpptyId",
}
DEFAULT_WORKSPACE = "Default"


@dataclass(frozen=True)
class User:
    user_id: str
    encryption_key: str


@dataclass(frozen=True)
class RestClient:
    """A REST custom service: the Identity's client credentials and its API-only user."""

    client_id: str
    client_secret: str
    api_user: str  # the email of the API-only user; Identity's `scope`
    permissions: frozenset[str]  # role permissions, e.g. "Read-Write Lead"


@dataclass(frozen=True)
class Field:
    """A lead field. `name` is its key in the store and its SOAP name (for a REST-only
    field, `soap` is false and `name` is its REST name)."""

    name: str
    type: str
    rest: str = ""  # the REST name ("" until the reader fills it in)
    soap: bool = True  # has a SOAP name (else REST only)
    label: str = ""  # describe's displayName
    length: int | None = None
    rest_read_only: bool = False

    @property
    def rest_name(self) -> str:
        return self.rest or self.name


@dataclass(frozen=True)
class Workspace:
    name: str
    primary_partition: str  # where its new leads go when no assignment rule matches
    partitions: tuple[str, ...]  # the partitions it can see (the primary included)


@dataclass(frozen=True)
class AssignmentRule:
    """New leads whose `field` has one of `values` (case-insensitive) go to `partition`."""

    field: str
    values: frozenset[str]  # casefolded
    partition: str

    def matches(self, attributes: Mapping[str, str]) -> bool:
        value = attributes.get(self.field)
        return value is not None and value.casefold() in self.values


@dataclass(frozen=True)
class Campaign:
    id: int
    name: str
    program: str
    type: str  # "trigger" | "batch"
    description: str
    sources: tuple[str, ...]  # sources it can be requested from; empty for batch campaigns
    active: bool = True

    def requestable_from(self, source: str) -> bool:
        """Has an active "Campaign is Requested" trigger for this source (MKTOWS: the
        Web Service API)."""
        return self.type == "trigger" and self.active and source in self.sources


@dataclass(frozen=True)
class StaticList:
    """A static list in a program. Its members live in the store (list_members)."""

    id: int  # REST's listId
    name: str  # unique in the instance: SOAP's MKTOLISTNAME names a list by it alone
    program: str
    description: str = ""


@dataclass(frozen=True)
class Program:
    name: str
    workspace: str
    tokens: Mapping[str, str]
    campaigns: tuple[Campaign, ...]
    id: int = 0  # REST's programId (fixture order from 1; clones after them)
    lists: tuple[StaticList, ...] = ()


@dataclass(frozen=True)
class SeedLead:
    """A lead the database starts with (e.g. an anonymous one known only by its cookie)."""

    email: str | None
    cookie: str | None
    foreign_id: str | None
    foreign_type: str | None
    partition: str
    attributes: Mapping[str, str]


@dataclass(frozen=True)
class Fixture:
    source: Path
    users: tuple[User, ...]
    workspaces: tuple[Workspace, ...]
    fields: tuple[Field, ...]
    programs: tuple[Program, ...]
    rules: tuple[AssignmentRule, ...] = ()
    key_fields: Mapping[str, str] = field(default_factory=dict)
    leads: tuple[SeedLead, ...] = ()
    config: SandboxConfig = field(default_factory=SandboxConfig)
    rest_clients: tuple[RestClient, ...] = ()

    @cached_property
    def _fields(self) -> dict[str, Field]:
        return {f.name: f for f in self.fields if f.soap}

    @cached_property
    def rest_only(self) -> frozenset[str]:
        """Store keys of the fields SOAP cannot see."""
        return frozenset(f.name for f in self.fields if not f.soap)

    @cached_property
    def _campaigns(self) -> dict[int, Campaign]:
        return {c.id: c for p in self.programs for c in p.campaigns}

    @cached_property
    def _programs(self) -> dict[str, Program]:
        return {p.name: p for p in self.programs}

    @cached_property
    def lists(self) -> tuple[StaticList, ...]:
        """Every static list, by id."""
        return tuple(sorted((x for p in self.programs for x in p.lists), key=lambda x: x.id))

    def static_list(self, name: str, program: str | None = None) -> StaticList | None:
        """A static list by its name (exactly, case included), in `program` when given."""
        return next((x for x in self.lists if x.name == name
                     and (program is None or x.program == program)), None)

    def static_list_by_id(self, list_id: int) -> StaticList | None:
        return next((x for x in self.lists if x.id == list_id), None)

    @cached_property
    def _users(self) -> dict[str, str]:
        return {u.user_id: u.encryption_key for u in self.users}

    @cached_property
    def campaigns(self) -> tuple[Campaign, ...]:
        return tuple(sorted(self._campaigns.values(), key=lambda c: c.id))

    @cached_property
    def field_rank(self) -> dict[str, int]:
        return {f.name: i for i, f in enumerate(self.fields)}

    def encryption_key(self, user_id: str) -> str | None:
        return self._users.get(user_id)

    def field(self, name: str) -> Field | None:
        """A field by its SOAP name (REST-only fields are not found)."""
        return self._fields.get(name)

    def workspace(self, name: str) -> Workspace | None:
        """By name, any case: Marketo's samples send "default" for "Default"."""
        wanted = name.strip().casefold()
        return next((w for w in self.workspaces if w.name.casefold() == wanted), None)

    @cached_property
    def default_workspace(self) -> Workspace:
        return self.workspace(DEFAULT_WORKSPACE) or self.workspaces[0]

    def assigned_partition(self, attributes: Mapping[str, str]) -> str | None:
        """The partition of the first assignment rule a new lead qualifies for."""
        return next((r.partition for r in self.rules if r.matches(attributes)), None)

    def campaign(self, campaign_id: int) -> Campaign | None:
        return self._campaigns.get(campaign_id)

    def program(self, name: str) -> Program | None:
        return self._programs.get(name)


def load_fixture(path: Path | None = None) -> Fixture:
    """Read and check a fixture file (the packaged default when `path` is None)."""
    from runner.sandbox.fixture_reader import Reader  # it builds the records defined here

    source = path or DEFAULT_FIXTURE
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{source}: cannot read the sandbox fixture: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise UsageError(f"{source}: the sandbox fixture is not valid YAML: {exc}") from exc
    return Reader(source).fixture(data)
