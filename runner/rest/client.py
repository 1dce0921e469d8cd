"""One REST call (marketo-rest-reference.md §1-§4): the token as `Authorization: Bearer`
only (never the withdrawn access_token parameter, §2.4), the envelope read into an outcome
or a runner.errors type, 601/602 answered by a new token and a replay, a GET whose URI would
pass 8 KB sent as `POST …?_method=GET` with a form body (§1.3), and paging to the end. Bulk
paths (`/bulk/...`) live on the host, beside `/rest` (§1.1); a bulk upload is a multipart
`file` part, and a bulk failure file is read as text (§3.8).

A call answered 601 or 602 was not executed (§2.5), so replaying it is safe even for a
campaign call; replays are bounded (MAX_REPLAYS), then the 601/602 is raised for
runner.retry. Every API request (replays included) takes a slot of the pacer, if one is
given; token requests do not (identity.PACED).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.parse import urlencode

from runner.errors import ResponseError, RestError
from runner.model import HttpReply
from runner.rest import envelope
from runner.rest.identity import Http, Identity
from runner.secrets import Redactor

MAX_URI = 8 * 1024  # Marketo answers 414 past this (§1.3)
MAX_REPLAYS = 2  # new token + replay after a 601/602, at most this many times a call
PAGE_SIZE = 300  # Marketo's batchSize maximum (and default)
MAX_PAGES = 10_000  # a bound on any paged read (3 million records at 300 a page)
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
REAUTH = frozenset({601, 602})
BULK = "/bulk/"  # paths on the host, not under the REST endpoint (§1.1)
T = TypeVar("T")


class Pacer(Protocol):
    """runner.ratelimit.RateLimiter's shape: a slot per request, held until its answer."""

    def acquire(self) -> Any: ...

    def release(self, slot: Any) -> None: ...


@dataclass(frozen=True)
class Upload:
    """A file sent as the multipart `file` part (Bulk Import, §3.8)."""

    data: bytes
    content_type: str
    filename: str = "import.csv"

    def encode(self) -> tuple[bytes, str]:
        """The multipart/form-data body and its Content-Type."""
        boundary = "mktows-run-" + secrets.token_hex(12)
        while boundary.encode("ascii") in self.data:  # never inside the file
            boundary = "mktows-run-" + secrets.token_hex(12)
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                f"filename=\"{self.filename}\"\r\nContent-Type: {self.content_type}\r\n\r\n")
        body = head.encode("ascii") + self.data + f"\r\n--{boundary}--\r\n".encode("ascii")
        return body, f"multipart/form-data; boundary={boundary}"


class RestClient:
    def __init__(self, rest_endpoint: str, identity: Identity, transport: Http, *,
                 pacer: Pacer | None = None, page_size: int = PAGE_SIZE) -> None:
        self.base = rest_endpoint.rstrip("/")  # never `//rest/...` (§1.1)
        # Bulk calls use the host only: https://<munchkin>.mktorest.com/bulk/v1/...
        self.host = self.base.removesuffix("/rest")
        self.identity = identity
        self.transport = transport
        self.pacer = pacer
        self.page_size = max(1, min(PAGE_SIZE, page_size))
        self.sent = 0  # API requests made (replays included; token requests not)

    def call(self, method: str, path: str, *, query: Mapping[str, str] | None = None,
             body: Any = None, upload: Upload | None = None) -> dict[str, Any]:
        """The success envelope of `method path` (path under the REST endpoint, e.g.
        "/v1/leads.json", or a bulk path on the host); `body` (not None) goes as JSON,
        `upload` as a multipart file."""
        url = self._url(path)
        return self._replayed(lambda token: envelope.read(
            self._send(method, url, query or {}, body, token, upload)))

    def file(self, path: str) -> str:
        """A GET whose reply is a file (a bulk job's failures or warnings), as text; a JSON
        reply is read as an envelope (an error, or the 610 of an unknown path)."""
        def read(token: str) -> str:
            reply = self._send("GET", self._url(path), {}, None, token, None)
            if reply.status != 200 or envelope.is_json(reply):
                envelope.read(reply)  # raises for a failure
                raise ResponseError(f"{path}: a JSON reply where a file was expected")
            return reply.body.decode("utf-8", "replace")
        return self._replayed(read)

    def _url(self, path: str) -> str:
        root = self.host if path.startswith(BULK) else self.base
        return root + "/" + path.lstrip("/")

    def _replayed(self, attempt: Callable[[str], T]) -> T:
        """`attempt(token)`, with a new token and a replay after a 601/602."""
        for replay in range(MAX_REPLAYS + 1):
            token = self.identity.token()
            try:
                return attempt(token)
            except RestError as exc:
                if exc.code not in REAUTH or replay == MAX_REPLAYS:
                    # Server text is quoted in the message: never let it carry the token.
                    raise RestError(exc.code, Redactor([token])(exc.message),
                                    exc.http_status) from None
                self.identity.refresh(stale=token)  # the local clock was wrong: ask anyway
        raise AssertionError("unreachable")

    def pages(self, path: str, query: Mapping[str, str]) -> Iterator[dict[str, Any]]:
        """Every record of a paged read. Stops at the first of: moreResult false, no
        nextPageToken, an empty page; never asks twice with the same token (§4.4)."""
        seen: set[str] = set()
        token: str | None = None
        for _ in range(MAX_PAGES):
            ask = dict(query)
            if self.page_size != PAGE_SIZE:
                ask["batchSize"] = str(self.page_size)
            if token is not None:
                ask["nextPageToken"] = token
            data = self.call("GET", path, query=ask)
            result = data.get("result") or []
            if not isinstance(result, list):
                raise ResponseError(f"{path}: `result` is not a list")
            yield from (r for r in result if isinstance(r, dict))
            nxt = data.get("nextPageToken")
            if (not result or data.get("moreResult") is False or not isinstance(nxt, str)
                    or not nxt or nxt in seen):
                return
            seen.add(nxt)
            token = nxt
        raise ResponseError(f"{path}: more than {MAX_PAGES} pages; stopped")

    def _send(self, method: str, url: str, query: Mapping[str, str], body: Any,
              token: str, upload: Upload | None = None) -> HttpReply:
        headers = {"Authorization": f"Bearer {token}", "Accept": JSON}
        data: bytes | None = None
        content_type: str | None = None
        text = urlencode(dict(query))
        if method == "GET" and len(url) + 1 + len(text) > MAX_URI:
            # Too long for a URI: the same read as a form body (§1.3, §4.4).
            method, url = "POST", url + "?_method=GET"
            data, content_type = text.encode("ascii"), FORM
        elif text:
            url = f"{url}?{text}"
        if body is not None:
            data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            content_type = JSON
        elif upload is not None:
            data, content_type = upload.encode()
        slot = self.pacer.acquire() if self.pacer is not None else None
        try:
            self.sent += 1
            return self.transport.request(method, url, headers=headers, body=data,
                                          content_type=content_type)
        finally:
            if self.pacer is not None:
                self.pacer.release(slot)
