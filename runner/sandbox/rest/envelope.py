"""Marketo's JSON envelopes (marketo-rest-reference.md §1.2, §4): request ids, success and
failure bodies, record-level reasons, and the error raised by handlers.

Business errors are HTTP 200 with `success: false` and `errors[]` whose `code` is a quoted
number. The asset API (`/rest/asset/v1`) always carries `errors` and `warnings` lists, and
its warnings are plain strings. Texts are Marketo's where it documents or was seen to send
one; where the sandbox chose the code (docs/sandbox.md, REST choices) the text says why.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

JSON_TYPE = "application/json;charset=UTF-8"

# Codes a REST caller may see at response level, with Marketo's texts (error-codes page).
TEXT = {
    601: "Access token invalid",
    602: "Access token expired",
    603: "Access denied",
    604: "Request time-out",
    605: "HTTP Method not supported",
    607: "Daily quota reached",
    608: "API Temporarily Unavailable",
    609: "Invalid JSON",
    610: "Requested resource not found",
    611: "System error",
    612: "Invalid Content Type",
    1003: "Invalid data",
    1004: "Lead not found",
    1005: "Lead already exists",
    1013: "Object not found",
    1015: "Lead not in list",
    1016: "Too many imports",
    1019: "Import in progress",
    1020: "Too many clones to program",
    1042: "Invalid runAt date",
}
# Codes that are not counted toward the daily quota or the rate window (starred in the table).
UNCOUNTED = frozenset({601, 602, 604, 605, 608, 611})
NO_ASSETS = "No assets found for the given search criteria."


class RestError(Exception):
    """A response-level error: nothing the call would have written is kept."""

    def __init__(self, code: int, message: str | None = None) -> None:
        self.code = code
        self.message = message or TEXT[code]
        super().__init__(f"{code} {self.message}")


def request_id(now: datetime) -> str:
    """`<hex>#<hex of the epoch milliseconds>`, the form of every captured requestId."""
    return f"{secrets.randbelow(0xFFFFF):x}#{int(now.timestamp() * 1000):x}"


def reason(code: int, message: str | None = None) -> dict[str, str]:
    return {"code": str(code), "message": message or TEXT[code]}


def skipped(code: int, message: str | None = None) -> dict[str, Any]:
    """A record-level failure: status `skipped` with its reason, and no id (reference §3.1)."""
    return {"status": "skipped", "reasons": [reason(code, message)]}


@dataclass(frozen=True)
class Answer:
    """What a handler returns: the `result` (None: no `result` member) and the extras."""

    result: list[Any] | None
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. nextPageToken
    warnings: list[str] = field(default_factory=list)  # asset API only
    file: bytes | None = None  # a reply that is a file, not JSON (bulk failures)


def body(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def success(rid: str, answer: Answer, *, asset: bool) -> bytes:
    if asset:  # the asset API's order and members, as captured ([AMP], [GR-EXP21])
        out: dict[str, Any] = {"success": True, "errors": [], "requestId": rid,
                               "warnings": list(answer.warnings)}
        if answer.result is not None:
            out["result"] = answer.result
        return body({**out, **answer.extra})
    out = {"requestId": rid}
    if answer.result is not None:
        out["result"] = answer.result
    return body({**out, **answer.extra, "success": True})


def failure(rid: str, error: RestError, *, asset: bool) -> bytes:
    errors = [reason(error.code, error.message)]
    if asset:
        return body({"requestId": rid, "success": False, "warnings": [], "errors": errors})
    return body({"requestId": rid, "success": False, "errors": errors})
