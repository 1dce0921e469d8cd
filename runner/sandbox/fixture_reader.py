"""Turns a parsed fixture (plain YAML data) into `Fixture` records, checking everything.

Every error is a `UsageError` naming the file and the YAML path, so a fixture typo is
found at start-up rather than as a puzzling fault in the middle of a test.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, NoReturn

from runner.errors import UsageError
from runner.sandbox.config import ConfigError, from_mapping
from runner.sandbox.fixture import (
    CAMPAIGN_TYPES,
    DEFAULT_KEY_FIELDS,
    DEFAULT_WORKSPACE,
    FIELD_TYPES,
    SOURCES,
    AssignmentRule,
    Campaign,
    Field,
    Fixture,
    Program,
    RestClient,
    SeedLead,
    StaticList,
    User,
    Workspace,
)
from runner.sandbox.rest.standard_fields import BY_SOAP, REST_READ_ONLY, STANDARD

_TOKEN = re.compile(r"\{\{my\.[^{}]+\}\}")
_TOP_REQUIRED = {"users", "fields", "programs"}
_TOP_OPTIONAL = {"config", "workspaces", "assignmentRules", "leadKeys", "leads", "restClients"}
# Columns of the lead row that REST shows as fields (rest/fields.py): not fixture fields.
_SYSTEM_REST_NAMES = {"id", "createdAt", "updatedAt", "cookies", "leadPartitionId"}
# A role's permissions (Admin > Users & Roles) that the REST twin checks (rest/routes.py).
PERMISSIONS = ("Read-Only Lead", "Read-Write Lead", "Execute Campaign", "Read-Only Campaigns",
               "Read-Write Campaigns", "Read-Only Assets", "Read-Write Assets")


class Reader:
    def __init__(self, source: Path) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> NoReturn:
        raise UsageError(f"{self.source}: {where}: {problem}")

    def fixture(self, data: Any) -> Fixture:
        top = self.mapping(data, "fixture", _TOP_REQUIRED, _TOP_OPTIONAL)
        try:
            config = from_mapping(top.get("config", {}))
        except ConfigError as exc:
            raise UsageError(f"{self.source}: {exc}") from None
        users = tuple(self.user(u, f"users[{i}]") for i, u in enumerate(self.items(top, "users")))
        workspaces = tuple(
            self.workspace(w, f"workspaces[{i}]")
            for i, w in enumerate(self.items(top, "workspaces", allow_empty=True, default=[]))
        ) or (Workspace(DEFAULT_WORKSPACE, DEFAULT_WORKSPACE, (DEFAULT_WORKSPACE,)),)
        partitions = {p for w in workspaces for p in w.partitions}
        fields = tuple(
            self.field(f, f"fields[{i}]") for i, f in enumerate(self.items(top, "fields"))
        )
        names = {f.name for f in fields}
        programs = tuple(
            self.program(p, f"programs[{i}]", workspaces, i + 1)
            for i, p in enumerate(self.items(top, "programs", allow_empty=True))
        )
        clients = tuple(
            self.rest_client(c, f"restClients[{i}]")
            for i, c in enumerate(self.items(top, "restClients", allow_empty=True, default=[]))
        )
        rules = tuple(
            self.rule(r, f"assignmentRules[{i}]", names, partitions)
            for i, r in enumerate(self.items(top, "assignmentRules", allow_empty=True, default=[]))
        )
        leads = tuple(
            self.lead(x, f"leads[{i}]", names, partitions)
            for i, x in enumerate(self.items(top, "leads", allow_empty=True, default=[]))
        )
        self.unique([u.user_id for u in users], "users", "userId")
        self.unique([w.name.casefold() for w in workspaces], "workspaces", "workspace")
        self.unique([f.name for f in fields], "fields", "field name")
        self.unique([f.rest_name for f in fields], "fields", "REST name")
        self.unique([c.client_id for c in clients], "restClients", "clientId")
        self.unique([p.name for p in programs], "programs", "program name")
        self.unique([c.id for p in programs for c in p.campaigns], "programs", "campaign id")
        # MKTOLISTNAME names a list by its name alone: names are unique in the instance.
        self.unique([x.id for p in programs for x in p.lists], "programs", "list id")
        self.unique([x.name for p in programs for x in p.lists], "programs", "list name")
        return Fixture(self.source, users, workspaces, fields, programs, rules,
                       self.key_fields(top.get("leadKeys", {}), names), leads, config, clients)

    def workspace(self, data: Any, where: str) -> Workspace:
        if isinstance(data, str):  # the v1 form: a name, with a partition of the same name
            name = self.string(data, where)
            return Workspace(name, name, (name,))
        m = self.mapping(data, where, {"name"}, {"primaryPartition", "partitions"})
        name = self.string(m["name"], f"{where}.name")
        primary = self.string(m.get("primaryPartition", name), f"{where}.primaryPartition")
        others = [self.string(p, f"{where}.partitions[{i}]")
                  for i, p in enumerate(self.items(m, "partitions", where, allow_empty=True,
                                                   default=[]))]
        return Workspace(name, primary, tuple(dict.fromkeys([primary, *others])))

    def user(self, data: Any, where: str) -> User:
        m = self.mapping(data, where, {"userId", "encryptionKey"})
        return User(self.string(m["userId"], f"{where}.userId"),
                    self.string(m["encryptionKey"], f"{where}.encryptionKey"))

    def rest_client(self, data: Any, where: str) -> RestClient:
        m = self.mapping(data, where, {"clientId", "clientSecret", "apiUser"}, {"permissions"})
        granted = m.get("permissions", list(PERMISSIONS))
        if not isinstance(granted, list) or any(p not in PERMISSIONS for p in granted):
            self.fail(f"{where}.permissions", "must be a list of " + ", ".join(PERMISSIONS))
        return RestClient(self.string(m["clientId"], f"{where}.clientId"),
                          self.string(m["clientSecret"], f"{where}.clientSecret"),
                          self.string(m["apiUser"], f"{where}.apiUser"), frozenset(granted))

    def field(self, data: Any, where: str) -> Field:
        """`name` is the SOAP name, `rest` the REST name; a field with `rest` only is REST
        only. Without `rest`, a standard field takes Marketo's REST name and a custom one
        keeps its name (rest/standard_fields.py)."""
        m = self.mapping(data, where, set(), {"name", "rest", "type", "displayName", "length",
                                              "readOnly"})
        if "name" not in m and "rest" not in m:
            self.fail(where, "a field needs a name (SOAP), a rest name, or both")
        kind = self.string(m.get("type", "string"), f"{where}.type")
        if kind not in FIELD_TYPES:
            self.fail(f"{where}.type", f"unknown field type {kind!r}; one of "
                      + ", ".join(sorted(FIELD_TYPES)))
        soap = self.string(m["name"], f"{where}.name") if "name" in m else None
        rest = (self.string(m["rest"], f"{where}.rest") if "rest" in m
                else BY_SOAP.get(soap or "", soap or ""))
        if rest in _SYSTEM_REST_NAMES:
            self.fail(f"{where}.rest", f"{rest!r} is a lead column the sandbox always serves")
        length = m.get("length", 255 if kind in ("string", "email", "phone", "url") else None)
        if length is not None and (not isinstance(length, int) or isinstance(length, bool)
                                   or length <= 0):
            self.fail(f"{where}.length", "must be a positive integer")
        read_only = m.get("readOnly", rest in REST_READ_ONLY)
        if not isinstance(read_only, bool):
            self.fail(f"{where}.readOnly", "must be true or false")
        label = m.get("displayName", STANDARD.get(rest, (None, soap or rest))[1])
        return Field(soap or rest, kind, rest, soap is not None,
                     self.string(label, f"{where}.displayName"), length, read_only)

    def rule(self, data: Any, where: str, fields: set[str], partitions: set[str]
             ) -> AssignmentRule:
        m = self.mapping(data, where, {"field", "values", "partition"})
        name = self.known(m["field"], f"{where}.field", fields, "fields")
        partition = self.known(m["partition"], f"{where}.partition", partitions, "workspaces")
        values = self.items(m, "values", where)
        return AssignmentRule(name, frozenset(str(v).casefold() for v in values), partition)

    def lead(self, data: Any, where: str, fields: set[str], partitions: set[str]) -> SeedLead:
        m = self.mapping(data, where, set(), {"email", "cookie", "foreignSysPersonId",
                                              "foreignSysType", "partition", "attributes"})
        get = {k: self.string(m[k], f"{where}.{k}") if k in m else None
               for k in ("email", "cookie", "foreignSysPersonId", "foreignSysType")}
        if not any(get.values()):
            self.fail(where, "a seed lead needs an email, a cookie or a foreignSysPersonId")
        if bool(get["foreignSysPersonId"]) != bool(get["foreignSysType"]):
            self.fail(where, "foreignSysPersonId and foreignSysType go together")
        attributes = m.get("attributes", {})
        if not isinstance(attributes, dict):
            self.fail(f"{where}.attributes", "must be a mapping of field name to value")
        for name in attributes:
            self.known(name, f"{where}.attributes", fields, "fields")
        partition = self.known(m.get("partition", DEFAULT_WORKSPACE), f"{where}.partition",
                               partitions | {DEFAULT_WORKSPACE}, "workspaces")
        return SeedLead(get["email"], get["cookie"], get["foreignSysPersonId"],
                        get["foreignSysType"], partition,
                        {str(k): str(v) for k, v in attributes.items()})

    def key_fields(self, data: Any, fields: set[str]) -> dict[str, str]:
        if not isinstance(data, dict):
            self.fail("leadKeys", "must be a mapping of key type to field name")
        for key, name in data.items():
            if key not in DEFAULT_KEY_FIELDS:
                self.fail("leadKeys", f"{key!r} is not one of " + ", ".join(DEFAULT_KEY_FIELDS))
            self.known(name, f"leadKeys.{key}", fields, "fields")
        merged = {**DEFAULT_KEY_FIELDS, **data}
        return {k: v for k, v in merged.items() if v in fields}

    def program(self, data: Any, where: str, workspaces: tuple[Workspace, ...],
                program_id: int) -> Program:
        m = self.mapping(data, where, {"name", "campaigns"}, {"workspace", "tokens", "lists"})
        name = self.string(m["name"], f"{where}.name")
        workspace = self.string(m.get("workspace", workspaces[0].name), f"{where}.workspace")
        if workspace not in {w.name for w in workspaces}:
            self.fail(f"{where}.workspace", f"{workspace!r} is not in workspaces")
        tokens = self.tokens(m.get("tokens", {}), f"{where}.tokens")
        campaigns = tuple(
            self.campaign(c, f"{where}.campaigns[{i}]", name)
            for i, c in enumerate(self.items(m, "campaigns", where, allow_empty=True))
        )
        self.unique([c.name for c in campaigns], f"{where}.campaigns", "campaign name")
        lists = tuple(
            self.static_list(x, f"{where}.lists[{i}]", name)
            for i, x in enumerate(self.items(m, "lists", where, allow_empty=True, default=[]))
        )
        return Program(name, workspace, tokens, campaigns, program_id, lists)

    def static_list(self, data: Any, where: str, program: str) -> StaticList:
        m = self.mapping(data, where, {"id", "name"}, {"description"})
        if not isinstance(m["id"], int) or isinstance(m["id"], bool) or m["id"] <= 0:
            self.fail(f"{where}.id", "must be a positive integer")
        description = m.get("description", "")
        if not isinstance(description, str):
            self.fail(f"{where}.description", "must be a string")
        return StaticList(m["id"], self.string(m["name"], f"{where}.name"), program,
                          description)

    def campaign(self, data: Any, where: str, program: str) -> Campaign:
        m = self.mapping(data, where, {"id", "name", "type"}, {"description", "sources", "active"})
        if not isinstance(m["id"], int) or isinstance(m["id"], bool) or m["id"] <= 0:
            self.fail(f"{where}.id", "must be a positive integer")
        kind = self.string(m["type"], f"{where}.type")
        if kind not in CAMPAIGN_TYPES:
            self.fail(f"{where}.type", "must be trigger or batch")
        if kind == "batch" and "sources" in m:
            self.fail(f"{where}.sources", "only trigger campaigns can be requested from a source")
        sources = m.get("sources", ["MKTOWS"] if kind == "trigger" else [])
        if not isinstance(sources, list) or any(s not in SOURCES for s in sources):
            self.fail(f"{where}.sources", "must be a list of MKTOWS and/or SALES")
        description = m.get("description", "")
        if not isinstance(description, str):
            self.fail(f"{where}.description", "must be a string")
        active = m.get("active", True)
        if not isinstance(active, bool):
            self.fail(f"{where}.active", "must be true or false")
        return Campaign(m["id"], self.string(m["name"], f"{where}.name"), program, kind,
                        description, tuple(sources), active)

    def tokens(self, data: Any, where: str) -> dict[str, str]:
        if not isinstance(data, dict):
            self.fail(where, "must be a mapping of {{my.name}} to a value")
        for name, value in data.items():
            if not isinstance(name, str) or not _TOKEN.fullmatch(name):
                self.fail(where, f"token {name!r} must be written in full, like {{{{my.name}}}}")
            if not isinstance(value, str | int | float) or isinstance(value, bool):
                self.fail(f"{where}.{name}", "must be a string or a number")
        return {name: str(value) for name, value in data.items()}

    # -- shapes --------------------------------------------------------------------------

    def mapping(self, data: Any, where: str, required: set[str],
                optional: frozenset[str] | set[str] = frozenset()) -> dict[str, Any]:
        if not isinstance(data, dict):
            self.fail(where, "must be a mapping")
        missing = sorted(required - data.keys())
        if missing:
            self.fail(where, "missing " + ", ".join(missing))
        unknown = sorted(str(k) for k in data.keys() - required - optional)
        if unknown:
            self.fail(where, "unknown key(s) " + ", ".join(unknown))
        return data

    def items(self, m: dict[str, Any], key: str, where: str = "", *,
              allow_empty: bool = False, default: list[Any] | None = None) -> list[Any]:
        value, path = m.get(key, default), f"{where}.{key}" if where else key
        if not isinstance(value, list) or (not value and not allow_empty):
            self.fail(path, "must be a list" if allow_empty else "must be a non-empty list")
        return value

    def string(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(where, "must be a non-empty string")
        return value

    def known(self, value: Any, where: str, allowed: set[str], section: str) -> str:
        name = self.string(value, where)
        if name not in allowed:
            self.fail(where, f"{name!r} is not declared in {section}")
        return name

    def unique(self, values: list[Any], where: str, what: str) -> None:
        seen: set[Any] = set()
        for value in values:
            if value in seen:
                self.fail(where, f"duplicate {what} {value!r}")
            seen.add(value)
