"""The sandbox fixture: API users, workspaces, the lead field catalogue, programs, campaigns.

Read and checked once at start-up (a bad fixture is a `UsageError` naming the file and the
place), then handed around as frozen records. Imports only pyyaml and `runner.errors`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, NoReturn

import yaml

from runner.errors import UsageError

DEFAULT_FIXTURE = Path(__file__).resolve().with_name("fixture.yml")

CAMPAIGN_TYPES = ("trigger", "batch")
SOURCES = ("MKTOWS", "SALES")
# Marketo's lead field data types, as they come back in attrType.
FIELD_TYPES = frozenset({
    "string", "text", "email", "phone", "url", "integer", "float", "currency", "score",
    "percent", "boolean", "date", "datetime", "reference",
})
_TOKEN = re.compile(r"\{\{my\.[^{}]+\}\}")


@dataclass(frozen=True)
class User:
    user_id: str
    encryption_key: str


@dataclass(frozen=True)
class Field:
    name: str
    type: str


@dataclass(frozen=True)
class Campaign:
    id: int
    name: str
    program: str
    type: str  # "trigger" | "batch"
    description: str
    sources: tuple[str, ...]  # sources it can be requested from; empty for batch campaigns

    def requestable_from(self, source: str) -> bool:
        return self.type == "trigger" and source in self.sources


@dataclass(frozen=True)
class Program:
    name: str
    workspace: str
    tokens: Mapping[str, str]
    campaigns: tuple[Campaign, ...]


@dataclass(frozen=True)
class Fixture:
    source: Path
    users: tuple[User, ...]
    workspaces: tuple[str, ...]
    fields: tuple[Field, ...]
    programs: tuple[Program, ...]

    @cached_property
    def _fields(self) -> dict[str, Field]:
        return {f.name: f for f in self.fields}

    @cached_property
    def campaigns(self) -> tuple[Campaign, ...]:
        return tuple(sorted((c for p in self.programs for c in p.campaigns), key=lambda c: c.id))

    def encryption_key(self, user_id: str) -> str | None:
        return next((u.encryption_key for u in self.users if u.user_id == user_id), None)

    def field(self, name: str) -> Field | None:
        return self._fields.get(name)

    def workspace(self, name: str) -> str | None:
        """The workspace's own spelling: Marketo's samples send "default" for "Default"."""
        return next((w for w in self.workspaces if w.casefold() == name.casefold()), None)

    def campaign(self, campaign_id: int) -> Campaign | None:
        return next((c for c in self.campaigns if c.id == campaign_id), None)

    def campaign_named(self, program: str, name: str) -> Campaign | None:
        return next((c for c in self.campaigns if c.program == program and c.name == name), None)


def load_fixture(path: Path | None = None) -> Fixture:
    """Read and check a fixture file (the packaged default when `path` is None)."""
    source = path or DEFAULT_FIXTURE
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{source}: cannot read the sandbox fixture: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise UsageError(f"{source}: the sandbox fixture is not valid YAML: {exc}") from exc
    return _Reader(source).fixture(data)


class _Reader:
    """Turns the parsed YAML into records; every error names the file and the YAML path."""

    def __init__(self, source: Path) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> NoReturn:
        raise UsageError(f"{self.source}: {where}: {problem}")

    def fixture(self, data: Any) -> Fixture:
        top = self.mapping(data, "fixture", {"users", "fields", "programs"}, {"workspaces"})
        users = tuple(self.user(u, f"users[{i}]") for i, u in enumerate(self.items(top, "users")))
        workspaces = tuple(
            self.string(w, f"workspaces[{i}]") for i, w in enumerate(top.get("workspaces", []))
        ) or ("Default",)
        fields = tuple(
            self.field(f, f"fields[{i}]") for i, f in enumerate(self.items(top, "fields"))
        )
        programs = tuple(
            self.program(p, f"programs[{i}]", workspaces)
            for i, p in enumerate(self.items(top, "programs", allow_empty=True))
        )
        self.unique([u.user_id for u in users], "users", "userId")
        self.unique(list(workspaces), "workspaces", "workspace")
        self.unique([f.name for f in fields], "fields", "field name")
        self.unique([p.name for p in programs], "programs", "program name")
        self.unique([c.id for p in programs for c in p.campaigns], "programs", "campaign id")
        return Fixture(self.source, users, workspaces, fields, programs)

    def user(self, data: Any, where: str) -> User:
        m = self.mapping(data, where, {"userId", "encryptionKey"})
        return User(self.string(m["userId"], f"{where}.userId"),
                    self.string(m["encryptionKey"], f"{where}.encryptionKey"))

    def field(self, data: Any, where: str) -> Field:
        m = self.mapping(data, where, {"name"}, {"type"})
        kind = self.string(m.get("type", "string"), f"{where}.type")
        if kind not in FIELD_TYPES:
            self.fail(f"{where}.type", f"unknown field type {kind!r}; one of "
                      + ", ".join(sorted(FIELD_TYPES)))
        return Field(self.string(m["name"], f"{where}.name"), kind)

    def program(self, data: Any, where: str, workspaces: tuple[str, ...]) -> Program:
        m = self.mapping(data, where, {"name", "campaigns"}, {"workspace", "tokens"})
        name = self.string(m["name"], f"{where}.name")
        workspace = self.string(m.get("workspace", workspaces[0]), f"{where}.workspace")
        if workspace not in workspaces:
            self.fail(f"{where}.workspace", f"{workspace!r} is not in workspaces")
        tokens = self.tokens(m.get("tokens", {}), f"{where}.tokens")
        campaigns = tuple(
            self.campaign(c, f"{where}.campaigns[{i}]", name)
            for i, c in enumerate(self.items(m, "campaigns", where, allow_empty=True))
        )
        self.unique([c.name for c in campaigns], f"{where}.campaigns", "campaign name")
        return Program(name, workspace, tokens, campaigns)

    def campaign(self, data: Any, where: str, program: str) -> Campaign:
        m = self.mapping(data, where, {"id", "name", "type"}, {"description", "sources"})
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
        return Campaign(m["id"], self.string(m["name"], f"{where}.name"), program, kind,
                        description, tuple(sources))

    def tokens(self, data: Any, where: str) -> dict[str, str]:
        if not isinstance(data, dict):
            self.fail(where, "must be a mapping of {{my.name}} to a value")
        for name, value in data.items():
            if not isinstance(name, str) or not _TOKEN.fullmatch(name):
                self.fail(where, f"token {name!r} must be written in full, like {{{{my.name}}}}")
            if not isinstance(value, str | int | float) or isinstance(value, bool):
                self.fail(f"{where}.{name}", "must be a string or a number")
        return {name: str(value) for name, value in data.items()}

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
              allow_empty: bool = False) -> list[Any]:
        value, path = m[key], f"{where}.{key}" if where else key
        if not isinstance(value, list) or (not value and not allow_empty):
            self.fail(path, "must be a list" if allow_empty else "must be a non-empty list")
        return value

    def string(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(where, "must be a non-empty string")
        return value

    def unique(self, values: list[Any], where: str, what: str) -> None:
        seen: set[Any] = set()
        for value in values:
            if value in seen:
                self.fail(where, f"duplicate {what} {value!r}")
            seen.add(value)
