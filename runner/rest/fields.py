"""SOAP -> REST lead field names (marketo-rest-reference.md §3.3, §5.1).

Playbooks keep SOAP names (`FirstName`, `SICCode`, `Contact Company`); Sync Leads and Get
Leads want REST names (`firstName`, `sicCode`, `contactCompany`). Lower-casing the first
letter is wrong for about one field in seven, so the map comes from the instance's Describe
Lead, which gives both names and whether REST may write each field: fetched once, on first
use, and kept. If Describe gives no SOAP names at all (§10 q1: nobody says they survive the
SOAP retirement), the shipped map of standard fields (schemas/rest/standard-fields.json)
stands in, and any other field Describe lists is taken to be custom, with one name over
both APIs. A REST name written directly is accepted too.

A name with no REST field, or a field REST cannot write, is a RestFieldError naming it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from runner import jsonschemas
from runner.errors import RestError
from runner.resources import schemas_dir

DESCRIBE = "/v1/leads/describe.json"


class RestFieldError(RestError):
    """A playbook's lead field has no REST name, or REST cannot write it (nothing sent)."""

    def __init__(self, message: str) -> None:
        super().__init__(None, message)


@dataclass(frozen=True)
class Fallback:
    soap_to_rest: dict[str, str]
    rest_only: frozenset[str]
    rest_read_only: frozenset[str]


@cache
def fallback() -> Fallback:
    data = jsonschemas.load(schemas_dir() / "rest" / "standard-fields.json")
    return Fallback(dict(data["soapToRest"]), frozenset(data["restOnly"]),
                    frozenset(data["restReadOnly"]))


class FieldMap:
    """One instance's lead fields, from its Describe Lead `result`."""

    def __init__(self, described: Iterable[Any], spare: Fallback | None = None) -> None:
        self.to_rest: dict[str, str] = {}  # SOAP name -> REST name
        self.to_soap: dict[str, str] = {}  # REST name -> SOAP name (readable over SOAP)
        self.read_only: set[str] = set()  # REST names REST cannot write
        self.rest_names: set[str] = set()
        self.labels: dict[str, str] = {}  # casefolded displayName -> REST name (imports)
        for item in described:
            rest = item.get("rest") if isinstance(item, dict) else None
            if not isinstance(rest, dict) or not isinstance(rest.get("name"), str):
                continue
            name = rest["name"]
            self.rest_names.add(name)
            label = item.get("displayName")
            if isinstance(label, str) and label.strip():
                self.labels.setdefault(label.strip().casefold(), name)
            if rest.get("readOnly") is True:
                self.read_only.add(name)
            soap = item.get("soap")
            if isinstance(soap, dict) and isinstance(soap.get("name"), str):
                self.to_rest[soap["name"]] = name
                self.to_soap[name] = soap["name"]
        self.from_fallback = not self.to_rest
        if self.from_fallback:
            self._fill(spare or fallback())

    def _fill(self, spare: Fallback) -> None:
        standard = set(spare.soap_to_rest.values())
        for soap, rest in spare.soap_to_rest.items():
            if rest in self.rest_names:
                self.to_rest[soap], self.to_soap[rest] = rest, soap
        for rest in self.rest_names - standard - spare.rest_only:
            self.to_rest.setdefault(rest, rest)  # custom: one name over both APIs
            self.to_soap.setdefault(rest, rest)
        self.read_only |= spare.rest_read_only & self.rest_names

    def rest_name(self, name: str, *, write: bool) -> str:
        rest = self.to_rest.get(name) or (name if name in self.rest_names else None)
        if rest is None:
            source = ("the shipped map of standard fields" if self.from_fallback
                      else "Describe Lead")
            raise RestFieldError(f"lead field {name!r} has no REST name in this Marketo "
                                 f"instance (not a SOAP or REST name in {source}); check its "
                                 "spelling: SOAP names are case-sensitive (FirstName, SICCode)")
        if write and rest in self.read_only:
            shown = repr(name) if rest == name else f"{name!r} (REST {rest!r})"
            raise RestFieldError(f"lead field {shown} is "
                                 "read-only over REST: Marketo's REST API cannot write it "
                                 "(SOAP could); remove it from the playbook's lead records")
        return rest

    def import_name(self, column: str) -> str:
        """The REST name of an import file's column: SOAP's importToList names fields by
        their display names (Email Address); a SOAP or REST name is taken too. Written, so
        a read-only field is refused."""
        name = column.strip()
        found = self.labels.get(name.casefold())
        if found is None and name not in self.to_rest and name not in self.rest_names:
            raise RestFieldError(f"import column {column!r} names no lead field of this "
                                 "Marketo instance (not a display name, SOAP name or REST "
                                 "name in Describe Lead)")
        return self.rest_name(found or name, write=True)

    def problems(self, names: Iterable[str], *, write: bool = True) -> list[str]:
        """The error for each name that cannot be used (empty: all can)."""
        out = []
        for name in dict.fromkeys(names):
            try:
                self.rest_name(name, write=write)
            except RestFieldError as exc:
                out.append(exc.message)
        return out


class Fields:
    """The run's FieldMap: Describe Lead asked once, on first use, by whichever thread."""

    def __init__(self, describe: Callable[[], list[Any]]) -> None:
        self._describe = describe
        self._lock = threading.Lock()
        self._map: FieldMap | None = None

    @property
    def map(self) -> FieldMap:
        with self._lock:
            if self._map is None:
                self._map = FieldMap(self._describe())
            return self._map
