"""One REST request as the handlers see it, and one reply as the HTTP layer sends it.

Parameters of a read come from the query string and, for `POST …?_method=GET` (reference
§1.3), from the form-encoded body too; `_method=GET` is honoured in either place, as the
best-known client sends it in the body. Values of a repeated or comma-separated parameter
are both accepted where the docs take a list (`id=1,2` or `id=1&id=2`).
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from runner.sandbox.rest.envelope import JSON_TYPE, RestError

FORM = "application/x-www-form-urlencoded"
GZIP_FROM = 1024  # Marketo does not compress smaller bodies (reference §1.5)


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON_TYPE
    drop: bool = False  # close the connection without a reply (fault injection)


class RestRequest:
    def __init__(self, method: str, target: str, headers: Message, body: bytes) -> None:
        url = urlsplit(target)
        self.method = method
        self.path = url.path
        self.headers = headers
        self.raw = body
        self.query = parse_qsl(url.query, keep_blank_values=True)
        self.content_type = headers.get_content_type() if headers.get("Content-Type") else ""
        self._form = (parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
                      if self.content_type == FORM and body else [])

    @property
    def reads(self) -> bool:
        """GET, or a POST that asks to be read as a GET (`_method=GET`)."""
        if self.method == "GET":
            return True
        return self.method == "POST" and any(
            k == "_method" and v.upper() == "GET" for k, v in (*self.query, *self._form))

    def params(self) -> dict[str, list[str]]:
        """Query and (for `_method=GET`) form parameters, by name, in order."""
        out: dict[str, list[str]] = {}
        pairs = self.query + (self._form if self.method == "POST" else [])
        for key, value in pairs:
            if key not in ("_method", "access_token"):
                out.setdefault(key, []).append(value)
        return out

    def token(self, allow_query: bool) -> str | None:
        """The bearer token; the `access_token` parameter only when the setting allows it."""
        scheme, _, value = (self.headers.get("Authorization") or "").strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        if allow_query:
            return next((v for k, v in (*self.query, *self._form) if k == "access_token"), None)
        return None

    def json(self) -> Any:
        """The JSON body (None when there is none): 612 without a JSON content type, 609 when
        it does not parse."""
        if not self.raw.strip():
            return None
        if self.content_type != "application/json":
            raise RestError(612)
        try:
            return json.loads(self.raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise RestError(609) from None

    def upload(self) -> bytes:
        """The multipart/form-data `file` part (Bulk Import); 613 when there is none."""
        if self.content_type != "multipart/form-data":
            raise RestError(613, "Invalid Multipart Request: send the file as multipart/"
                                 "form-data")
        head = f"Content-Type: {self.headers.get('Content-Type')}\r\n\r\n".encode("latin-1")
        message = BytesParser(policy=HTTP).parsebytes(head + self.raw)
        for part in message.iter_parts() if message.is_multipart() else ():
            if part.get_param("name", header="content-disposition") == "file":
                data = part.get_payload(decode=True)
                return data if isinstance(data, bytes) else b""
        raise RestError(613, "Invalid Multipart Request: no part named 'file'")

    def wants_gzip(self) -> bool:
        accepted = (self.headers.get("Accept-Encoding") or "").lower()
        return "gzip" in accepted and not self.path.startswith("/bulk/")


def finish(request: RestRequest, reply: Reply) -> Reply:
    """Compress as Marketo does: gzip on request, from 1 KiB up, never on /bulk."""
    if reply.drop or len(reply.body) < GZIP_FROM or not request.wants_gzip():
        return reply
    reply.headers.update({"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})
    reply.body = gzip.compress(reply.body, mtime=0)
    return reply


def one(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[-1] if values else None


def listed(params: dict[str, list[str]], name: str) -> list[str] | None:
    """A list parameter: comma-separated, repeated, or both; None when absent."""
    if name not in params:
        return None
    return [v.strip() for value in params[name] for v in value.split(",") if v.strip()]
