"""Marketo's rules that JSON Schema cannot say, checked before anything is sent
(mktows-operations.md). Values written as ${...} are checked again after resolution, by the
XSD; here they are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from runner.model import Literal, Problem
from runner.operations import OPERATIONS
from runner.operations.shapes import is_token_name, token_name
from runner.playbook.source import Document, PathT, json_path

_W3C = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)$")

Finding = tuple[PathT, str, str | None]  # (path inside the operation, message, hint)


def _expr(value: Any) -> bool:
    return isinstance(value, str) and "${" in value


def _lead_record(record: Any, path: PathT) -> Iterator[Finding]:
    if not isinstance(record, dict):
        return
    if not any(k in record for k in ("Id", "Email", "ForeignSysPersonId")):
        yield (path, "a lead record needs Id, Email or ForeignSysPersonId to identify the lead",
               "add Email (or Id, or ForeignSysPersonId with ForeignSysType)")
    if "ForeignSysPersonId" in record and "ForeignSysType" not in record:
        yield ((*path, "ForeignSysPersonId"), "ForeignSysPersonId needs ForeignSysType",
               "add ForeignSysType: CUSTOM, SFDC or NETSUITE")


def _tokens(tokens: Any, path: PathT) -> Iterator[Finding]:
    names: list[tuple[PathT, str]] = []
    if isinstance(tokens, dict):
        names = [((*path, k), k) for k in tokens]
    elif isinstance(tokens, list):
        names = [((*path, i, "name"), t["name"]) for i, t in enumerate(tokens)
                 if isinstance(t, dict) and isinstance(t.get("name"), str)]
    for where, name in names:
        if not _expr(name) and not is_token_name(token_name(name)):
            yield (where, f"'{name}' is not a program token name",
                   "write tokens in full form, like '{{my.message}}' (quoted)")


def _sync_lead(p: dict[str, Any]) -> Iterator[Finding]:
    yield from _lead_record(p.get("leadRecord"), ("leadRecord",))


def _sync_multiple(p: dict[str, Any]) -> Iterator[Finding]:
    records = p.get("leadRecordList")
    if isinstance(records, list):
        for i, record in enumerate(records):
            yield from _lead_record(record, ("leadRecordList", i))


def _request_campaign(p: dict[str, Any]) -> Iterator[Finding]:
    by_id = "campaignId" in p
    names = [k for k in ("programName", "campaignName") if k in p]
    if by_id and (names or "programTokenList" in p):
        extra = [*names, *(["programTokenList"] if "programTokenList" in p else [])]
        yield (("campaignId",), f"campaignId must be used alone, not with {', '.join(extra)}",
               "use either campaignId, or programName + campaignName (+ programTokenList)")
    elif not by_id and len(names) < 2:
        missing = {"programName", "campaignName"} - set(names)
        yield ((), f"requestCampaign needs campaignId, or programName + campaignName "
               f"(missing {', '.join(sorted(missing))})",
               "tokens (programTokenList) can only be sent with programName + campaignName")
    yield from _tokens(p.get("programTokenList"), ("programTokenList",))


def _schedule_campaign(p: dict[str, Any]) -> Iterator[Finding]:
    run_at = p.get("campaignRunAt")
    if isinstance(run_at, str) and not _expr(run_at):
        valid = bool(_W3C.match(run_at))
        if valid:
            try:
                datetime.fromisoformat(run_at)
            except ValueError:
                valid = False
        if not valid:
            yield (("campaignRunAt",), f"{run_at!r} is not a date-time with a UTC offset",
                   "write e.g. 2026-12-01T09:00:00-06:00")
    yield from _tokens(p.get("programTokenList"), ("programTokenList",))


_RULES: dict[str, Callable[[dict[str, Any]], Iterator[Finding]]] = {
    "syncLead": _sync_lead,
    "syncMultipleLeads": _sync_multiple,
    "requestCampaign": _request_campaign,
    "scheduleCampaign": _schedule_campaign,
}


def _walk_steps(raw: Any, base: PathT) -> Iterator[tuple[PathT, dict[str, Any]]]:
    for i, step in enumerate(raw if isinstance(raw, list) else []):
        if isinstance(step, dict):
            yield (*base, i), step
            yield from _walk_steps(step.get("steps"), (*base, i, "steps"))


def _keys_with_refs(value: Any, path: PathT) -> Iterator[PathT]:
    """Mapping keys holding `${`: keys are names sent as written, never substituted."""
    if isinstance(value, dict):
        for key, sub in value.items():
            if "${" in key:
                yield (*path, key)
            yield from _keys_with_refs(sub, (*path, key))
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield from _keys_with_refs(sub, (*path, i))


def _credentials(doc: Document) -> list[Problem]:
    """`encryptionKey: !literal "${secret.K}"` passes the schema's pattern, but a !literal is
    never substituted: the key would be that text. Credentials come from references only."""
    target = doc.data.get("target")
    key = target.get("encryptionKey") if isinstance(target, dict) else None
    if isinstance(key, Literal) and "${" in key:
        where = ("target", "encryptionKey")
        return [Problem(doc.locate(where), json_path(where), "the encryption key must be a "
                        "${secret.NAME} or ${env.NAME} reference, not !literal text",
                        "remove the !literal tag")]
    return []


def check(doc: Document) -> list[Problem]:
    problems: list[Problem] = []
    if not isinstance(doc.data, dict):
        return problems
    for path in _keys_with_refs(doc.data, ()):
        problems.append(Problem(
            doc.locate(path, key=True), json_path(path), f"'{path[-1]}' is a key: a key is "
            "sent as written, ${...} in it would never be substituted",
            "write the name itself; to take a name from a variable, use the list form "
            "(attrName/attrValue, name/value), whose names are values"))
    problems += _credentials(doc)
    seen: dict[str, PathT] = {}
    for path, step in _walk_steps(doc.data.get("steps"), ("steps",)):
        sid = step.get("id")
        if isinstance(sid, str):
            if sid in seen:
                problems.append(Problem(doc.locate((*path, "id")), json_path((*path, "id")),
                                        f"duplicate step id '{sid}' (also {json_path(seen[sid])})",
                                        "step ids must be unique in the playbook"))
            seen.setdefault(sid, path)
        for op in OPERATIONS:
            params = step.get(op)
            if isinstance(params, dict) and op in _RULES:
                for sub, message, hint in _RULES[op](params):
                    where = (*path, op, *sub)
                    problems.append(Problem(doc.locate(where), json_path(where), message, hint))
    return problems
