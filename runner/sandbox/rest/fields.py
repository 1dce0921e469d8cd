"""The lead fields as REST sees them: the fixture's catalogue under its REST names, plus the
lead row's own columns (`id`, `email`, `createdAt`, `updatedAt`, `cookies`,
`leadPartitionId`). Converts stored values (SOAP's strings) to JSON and back.

Writes are checked per `dataType` the way Marketo rejects them (reference §3.1): a value that
does not parse is record-level 1003 "Invalid value for field 'f' and value 'v'". Reads give
JSON types (booleans, numbers) and `null` for an empty field; a value SOAP stored that does
not parse for its type comes back as the string it is.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from runner.sandbox.fixture import Fixture
from runner.sandbox.rest.partitions import Partitions
from runner.sandbox.rest.standard_fields import (
    SEARCHABLE_CUSTOM_TYPES,
    SEARCHABLE_STANDARD,
    STANDARD,
)
from runner.sandbox.store import Lead

_INTEGER = re.compile(r"[+-]?\d+")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}
_NUMBER_TYPES = {"float", "currency", "percent"}


@dataclass(frozen=True)
class RestField:
    id: int
    rest: str  # the REST name
    soap: str | None  # the SOAP name; None for a REST-only field
    data_type: str
    label: str
    length: int | None
    read_only: bool
    column: str | None = None  # a lead-row column instead of an attribute
    key: str | None = None  # the attribute's key in the store

    @property
    def custom(self) -> bool:
        return self.column is None and self.rest not in STANDARD

    @property
    def searchable(self) -> bool:
        """Usable as Get Leads' filterType and Sync Leads' lookupField (reference §3.2)."""
        return self.rest in SEARCHABLE_STANDARD or (
            self.custom and self.data_type in SEARCHABLE_CUSTOM_TYPES)


class InvalidValue(ValueError):
    pass


class RestFields:
    def __init__(self, fixture: Fixture, partitions: Partitions) -> None:
        self.partitions = partitions
        system = [("id", "integer", "Id", None, True, "id"),
                  ("createdAt", "datetime", "Created At", None, True, "created_at"),
                  ("updatedAt", "datetime", "Updated At", None, True, "updated_at"),
                  ("cookies", "string", "Cookies", 255, False, "cookie"),
                  # Writable in Marketo's describe; partitions change through Update Lead
                  # Partition, which the sandbox does not serve, so it is read-only here.
                  ("leadPartitionId", "reference", "Lead Partition Id", None, True,
                   "partition")]
        found: list[RestField] = [RestField(0, rest, None, kind, label, length, ro, column)
                                  for rest, kind, label, length, ro, column in system]
        if not any(f.rest_name == "email" for f in fixture.fields):
            found.append(RestField(0, "email", None, "email", "Email Address", 255, False,
                                   "email"))
        for f in fixture.fields:
            email = f.rest_name == "email"
            found.append(RestField(0, f.rest_name, f.name if f.soap else None, f.type, f.label,
                                   f.length, f.rest_read_only, "email" if email else None,
                                   None if email else f.name))
        self.all = tuple(RestField(i, *_rest_of(f)) for i, f in enumerate(found, start=1))
        self._by_rest = {f.rest: f for f in self.all}

    def get(self, rest_name: str) -> RestField | None:
        return self._by_rest.get(rest_name)

    def read(self, lead: Lead, field: RestField) -> Any:
        """The field's value on `lead` as JSON."""
        if field.column == "id":
            return lead.id
        if field.column in ("created_at", "updated_at"):
            return _utc_z(getattr(lead, field.column))
        if field.column == "partition":
            found = self.partitions.named(lead.partition)
            return found.id if found else None
        raw = (getattr(lead, field.column) if field.column
               else lead.attributes.get(field.key or ""))
        return None if raw is None or raw == "" else _typed(field.data_type, str(raw))

    def write(self, field: RestField, value: Any) -> str:
        """A JSON value as the store keeps it (a string; "" clears), or InvalidValue."""
        if value is None:
            return ""
        text = _text(value)
        kind = field.data_type
        if isinstance(value, list | dict) or (isinstance(value, bool) and kind != "boolean"):
            raise InvalidValue(text)
        if kind == "boolean":
            flag = value if isinstance(value, bool) else _flag(text)
            if flag is None:
                raise InvalidValue(text)
            return "true" if flag else "false"
        if kind in ("integer", "score"):
            if isinstance(value, float) and value.is_integer():
                return str(int(value))
            if not _INTEGER.fullmatch(text):
                raise InvalidValue(text)
            return str(int(text))
        if kind in _NUMBER_TYPES:
            try:
                number = float(text)
            except ValueError:
                raise InvalidValue(text) from None
            if number != number or number in (float("inf"), float("-inf")):
                raise InvalidValue(text)
            return text
        if kind == "email" and (not text.isascii() or not _EMAIL.fullmatch(text)):
            raise InvalidValue(text)  # "only ASCII is allowed in email" (reference §3.1)
        if kind in ("date", "datetime") and not _is_date(kind, text):
            raise InvalidValue(text)
        return text


def _rest_of(f: RestField) -> tuple[Any, ...]:
    return (f.rest, f.soap, f.data_type, f.label, f.length, f.read_only, f.column, f.key)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def _flag(text: str) -> bool | None:
    low = text.strip().lower()
    return True if low in _TRUE else False if low in _FALSE else None


def _typed(kind: str, raw: str) -> Any:
    if kind == "boolean":
        flag = _flag(raw)
        return raw if flag is None else flag
    if kind in ("integer", "score") and _INTEGER.fullmatch(raw.strip()):
        return int(raw)
    if kind in _NUMBER_TYPES:
        try:
            return float(raw)
        except ValueError:
            return raw
    return raw


def _is_date(kind: str, text: str) -> bool:
    try:
        if kind == "date":
            date.fromisoformat(text)
        else:
            datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _utc_z(stamp: str) -> str | None:
    """The store's `…T15:00:00.000+00:00` as REST writes it: `…T15:00:00Z` (reference §1.6)."""
    if not stamp:
        return None
    return datetime.fromisoformat(stamp).strftime("%Y-%m-%dT%H:%M:%SZ")
