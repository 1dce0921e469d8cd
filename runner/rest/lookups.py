"""The lookups REST needs where SOAP took names and keys (marketo-rest-reference.md §3.6, §3.7,
§3.9, §5.2, §5.5, §5.8): a campaign's id from programName + campaignName (asked once per run
and kept), a static list's id from its name (likewise), lead ids from non-IDNUM lead keys
(Get Leads by filter, ≤300 values a call, one call per key type), and a workspace's lead
partition (the user's map, else the same name, checked against the instance's partitions,
asked once).
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

from runner.errors import RestError
from runner.operations.rest_shapes import KEY_FILTERS

CAMPAIGNS = "/v1/campaigns.json"
LISTS = "/v1/lists.json"
LEADS = "/v1/leads.json"
PARTITIONS = "/v1/leads/partitions.json"
MAX_FILTER_VALUES = 300  # Get Leads' filterValues (§3.2)
SUGGESTIONS = 3


class Reads(Protocol):
    def call(self, method: str, path: str, *, query: Mapping[str, str] | None = None,
             body: Any = None) -> dict[str, Any]: ...

    def pages(self, path: str, query: Mapping[str, str]) -> Iterator[dict[str, Any]]: ...


class Campaigns:
    """Campaign ids by (program, campaign); each pair asked once, failures not kept."""

    def __init__(self, client: Reads) -> None:
        self.client = client
        self._lock = threading.Lock()
        self._ids: dict[tuple[str, str, bool], int] = {}

    def id(self, program: str, campaign: str, *, triggerable: bool) -> int:
        key = (program, campaign, triggerable)
        with self._lock:  # one lookup per pair, however many threads ask
            if key not in self._ids:
                self._ids[key] = self._find(program, campaign, triggerable)
            return self._ids[key]

    def _find(self, program: str, campaign: str, triggerable: bool) -> int:
        # `name` and `programName` take comma-separated lists: a name holding a comma is
        # matched here instead. Exact, case-sensitive matching is ours either way (§10 q7).
        query = {k: v for k, v in (("name", campaign), ("programName", program)) if "," not in v}
        if triggerable:
            query["isTriggerable"] = "true"
        found = [c for c in self.client.pages(CAMPAIGNS, query)
                 if c.get("name") == campaign and c.get("programName") == program]
        if len(found) > 1:
            ids = ", ".join(str(c.get("id")) for c in found)
            raise RestError(None, f"{len(found)} campaigns are named {campaign!r} in program "
                                  f"{program!r} (ids {ids}); use campaignId")
        if found and isinstance(found[0].get("id"), int):
            return int(found[0]["id"])
        raise RestError(1013, self._not_found(program, campaign, triggerable))

    def _not_found(self, program: str, campaign: str, triggerable: bool) -> str:
        """Why nothing matched, from the program's campaigns: not requestable, or a
        did-you-mean (one more call, on the failure path only)."""
        query = {"programName": program} if "," not in program else {}
        mine = [c for c in self.client.pages(CAMPAIGNS, query) if c.get("programName") == program]
        same = next((c for c in mine if c.get("name") == campaign), None)
        what = f"campaign {campaign!r} in program {program!r}"
        if same is not None and triggerable:
            why = ("is a batch campaign (schedule it with scheduleCampaign)"
                   if same.get("type") == "batch" else "is not active, or its 'Campaign is "
                   "Requested' trigger lacks the Web Service API source")
            return f"{what} cannot be requested over REST: it {why}"
        if not mine:
            return f"{what} not found: the program has no campaigns, or does not exist"
        names = [str(c.get("name")) for c in mine]
        close = difflib.get_close_matches(campaign, names, n=SUGGESTIONS, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(n) for n in close)}?" if close else (
            f"; the program's campaigns: {', '.join(repr(n) for n in names[:10])}")
        return f"{what} not found{hint}"


class Lists:
    """Static list ids by (name, program); each asked once, failures not kept."""

    def __init__(self, client: Reads) -> None:
        self.client = client
        self._lock = threading.Lock()
        self._ids: dict[tuple[str, str | None], int] = {}

    def id(self, name: str, program: str | None = None) -> int:
        key = (name, program)
        with self._lock:
            if key not in self._ids:
                self._ids[key] = self._find(name, program)
            return self._ids[key]

    def _find(self, name: str, program: str | None) -> int:
        # `name` and `programName` take comma-separated lists: a name with a comma is matched
        # here instead.
        query = {k: v for k, v in (("name", name), ("programName", program))
                 if v is not None and "," not in v}
        found = [r for r in self.client.pages(LISTS, query) if r.get("name") == name
                 and (program is None or r.get("programName") == program)]
        where = f" in program {program!r}" if program is not None else ""
        if len(found) > 1:
            ids = ", ".join(str(r.get("id")) for r in found)
            raise RestError(None, f"{len(found)} static lists are named {name!r}{where} (ids "
                                  f"{ids}); give the list a name of its own")
        if found and isinstance(found[0].get("id"), int):
            return int(found[0]["id"])
        raise RestError(1013, f"static list {name!r}{where} not found")


def leads_by_key(client: Reads, key_type: str, values: Sequence[str]) -> dict[str, list[int]]:
    """Each value of one non-IDNUM key type with the ids of the leads it matches (in the
    order Marketo lists them; none: an empty list). Emails compare without case."""
    filter_type = _filter(key_type, values)
    folded = key_type in ("EMAIL", "LEADOWNEREMAIL")
    wanted = list(dict.fromkeys(v for v in values if v.strip()))
    out: dict[str, list[int]] = {v: [] for v in values}
    for start in range(0, len(wanted), MAX_FILTER_VALUES):
        chunk = wanted[start:start + MAX_FILTER_VALUES]
        by_value = {(v.casefold() if folded else v): v for v in chunk}
        query = {"filterType": filter_type, "filterValues": ",".join(chunk),
                 "fields": f"id,{filter_type}"}
        for lead in client.pages(LEADS, query):
            found, value = lead.get("id"), lead.get(filter_type)
            if not isinstance(found, int):
                continue
            text = str(value) if value is not None else ""
            owner = by_value.get(text.casefold() if folded else text)
            if owner is None and len(chunk) == 1:
                owner = chunk[0]  # the one value asked (the field did not come back)
            if owner is not None and found not in out[owner]:
                out[owner].append(found)
    return out


def _filter(key_type: str, values: Sequence[str]) -> str:
    filter_type = KEY_FILTERS.get(key_type)
    if filter_type is None:
        raise RestError(None, f"lead key type {key_type!r} cannot be looked up over REST")
    bad = next((v for v in values if "," in v), None)
    if bad is not None:  # filterValues is comma-separated: such a value cannot be searched
        raise RestError(None, f"the {key_type} key {bad[:60]!r} holds a comma, which Get "
                              "Leads cannot search for")
    return filter_type


def lead_ids(client: Reads, key_type: str, values: Sequence[str]) -> list[int]:
    """Ids of the leads matching any value of one non-IDNUM key type, each once, in the
    order Marketo lists them; values that match nothing are dropped (as SOAP did)."""
    filter_type = _filter(key_type, values)
    wanted = list(dict.fromkeys(v for v in values if v.strip()))
    ids: dict[int, None] = {}
    for start in range(0, len(wanted), MAX_FILTER_VALUES):
        chunk = wanted[start:start + MAX_FILTER_VALUES]
        query = {"filterType": filter_type, "filterValues": ",".join(chunk), "fields": "id"}
        ids.update((int(r["id"]), None) for r in client.pages(LEADS, query)
                   if isinstance(r.get("id"), int))
    return list(ids)


class Partitions:
    """workspace -> lead partition: the user's map, else the workspace's own name (no REST
    API reads the real map, §5.5), checked against the instance's partitions."""

    def __init__(self, client: Reads, mapping: Mapping[str, str] | None) -> None:
        self.client = client
        self.mapping = dict(mapping) if mapping is not None else None
        self._lock = threading.Lock()
        self._names: dict[str, str] | None = None  # casefolded -> as the instance spells it

    def of(self, workspace: str) -> str:
        if self.mapping is not None and workspace not in self.mapping:
            raise RestError(None, f"workspace {workspace!r} has no lead partition in the "
                                  "target's workspace -> partition map; add it")
        wanted = self.mapping[workspace] if self.mapping is not None else workspace
        found = self._known().get(wanted.casefold())
        if found is None:
            known = ", ".join(repr(n) for n in self._known().values())
            raise RestError(None, f"lead partition {wanted!r} (for workspace {workspace!r}) "
                                  f"does not exist in this instance (partitions: {known}); map "
                                  "the workspace to one in the target's partition map")
        return found

    def _known(self) -> dict[str, str]:
        with self._lock:
            if self._names is None:
                result = self.client.call("GET", PARTITIONS).get("result") or []
                self._names = {str(p["name"]).casefold(): str(p["name"]) for p in result
                               if isinstance(p, dict) and p.get("name")}
            return self._names
