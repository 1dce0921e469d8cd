"""Reading a REST reply (marketo-rest-reference.md §1.2-§1.4): HTTP status first, then the
JSON envelope. Business errors come as HTTP 200 with `success: false` and `errors[]` whose
codes are quoted numbers; a 5xx is the server (or a gateway) failing, which runner.retry
judges like SOAP's; any other status is a refusal. Server text in messages is clipped to
printable characters.
"""

from __future__ import annotations

import json
from typing import Any

from runner.errors import ResponseError, RestError, TransportError
from runner.model import HttpReply

MAX_MESSAGE = 300  # characters of a server's error text kept in a message
_STATUS_HINT = {413: " (the request body is over Marketo's 1 MB)",
                414: " (the request URI is over Marketo's 8 KB)"}


def read(reply: HttpReply) -> dict[str, Any]:
    """The success envelope; RestError for `success: false` or a 4xx, TransportError for a
    5xx, ResponseError for a reply that is not a Marketo JSON envelope."""
    if reply.status >= 500:
        raise TransportError(f"HTTP {reply.status} from the REST API", sent=True,
                             http_status=reply.status)
    if reply.status != 200:
        raise RestError(None, f"HTTP {reply.status} from the REST API"
                        + _STATUS_HINT.get(reply.status, ""), http_status=reply.status)
    data = parse(reply, "the REST API")
    if data.get("success") is True:
        return data
    if data.get("success") is False:
        code, message = first_error(data.get("errors"))
        raise RestError(code, message, http_status=reply.status)
    raise ResponseError("the REST API's reply has no success member")


def is_json(reply: HttpReply) -> bool:
    kind = reply.content_type.split(";", 1)[0].strip().lower()
    return kind == "application/json" or kind.endswith("+json")


def parse(reply: HttpReply, who: str) -> dict[str, Any]:
    """The reply's JSON object; ResponseError when it is not JSON (type or content)."""
    kind = reply.content_type.split(";", 1)[0].strip().lower()
    if not is_json(reply):
        shown = f"Content-Type {clip(kind, 40)!r}" if kind else "no Content-Type"
        raise ResponseError(f"{who} answered HTTP {reply.status} with {shown}, not JSON")
    try:
        data = json.loads(reply.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ResponseError(f"{who} answered HTTP {reply.status} with a body that is not "
                            "JSON") from None
    if not isinstance(data, dict):
        raise ResponseError(f"{who} answered HTTP {reply.status} with JSON that is not an "
                            "object")
    return data


def first_error(errors: Any) -> tuple[int | None, str]:
    """Marketo's code (int, or None when it is not a number) and the errors' messages."""
    items = [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []
    if not items:
        return None, "success: false without errors"
    raw = items[0].get("code")
    text = str(raw).strip() if raw is not None else ""
    code = int(text) if text.isdigit() else None
    message = "; ".join(clip(str(e.get("message") or "no message")) for e in items)
    return code, message


def clip(text: str, limit: int = MAX_MESSAGE) -> str:
    clean = "".join(c if c.isprintable() else "?" for c in text[:limit + 1])
    return clean if len(clean) <= limit else clean[:limit] + "..."
