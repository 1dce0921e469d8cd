"""HTTP for SOAP (and REST) calls: one requests.Session, timeouts, TLS verification, a bounded reply. The
only importer of requests (and of urllib3, requests' own transport, for its exception types and
the raw body stream).

A reply is read as a stream and never trusted for size or time: at most MAX_REPLY_BYTES of
*decoded* body (gzip/deflate are decoded here, step by bounded step, so a decompression bomb
stops at the cap), within Timeouts.total. What the body means (Content-Type, Fault, XML) is
runner.soap.response's business.

Error messages are fixed phrases: they never repeat the URL, its query string or any header,
so nothing of the request can leak into a report.
"""

from __future__ import annotations

import http.client
import io
import socket
import ssl
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import requests
import urllib3.exceptions

from runner.errors import ResponseError, RunnerError, TransportError
from runner.model import HttpReply
from runner.soap.namespaces import soap_action

# A mktows reply is kilobytes (a large getCampaignsForSource is a few MB); 16 MiB leaves a wide
# margin and bounds what a hostile or broken server can make us hold: the body is refused
# as soon as the decoded byte count passes this, and before reading when Content-Length does.
MAX_REPLY_BYTES = 16 * 1024 * 1024
_CHUNK = 64 * 1024  # per socket read, and per decompression step (max_length)


@dataclass(frozen=True)
class Timeouts:
    connect: float = 10.0  # to open the TCP (and TLS) connection
    read: float = 60.0  # between two bytes of the reply
    # From the start of the call to the reply's last byte: a reply that trickles in, each byte
    # within the read timeout, still ends. Checked between body reads (so it may overrun by up
    # to `read`); the status line and headers are bounded by `read` and http.client's limits.
    total: float = 300.0


class HttpTransport:
    """Posts envelopes over one keep-alive session (a new connection per call costs ~30%)."""

    def __init__(self, timeouts: Timeouts | None = None, verify: bool = True) -> None:
        self.timeouts = timeouts or Timeouts()
        self.session = requests.Session()
        self.session.verify = verify
        self.session.trust_env = False  # a stray HTTP(S)_PROXY or .netrc must not see the call

    def post(self, url: str, operation: str, envelope: str) -> HttpReply:
        """The reply's status, Content-Type and decoded body; TransportError when the call did
        not complete, ResponseError when the reply is too large or badly encoded. (A redirect
        would resend the signed envelope somewhere the playbook did not name: `request`
        follows none.)"""
        return self.request("POST", url, headers={"SOAPAction": soap_action(operation)},
                            body=envelope.encode("utf-8"),
                            content_type="text/xml; charset=UTF-8")

    def request(self, method: str, url: str, *, headers: dict[str, str],
                body: bytes | None = None, content_type: str | None = None) -> HttpReply:
        """Any method with an optional body (REST's JSON or form), read exactly as `post`
        reads: bounded, within Timeouts, no redirects, failures classified by `sent`. What
        the reply means (Content-Type, envelope) is the caller's business (runner.rest)."""
        headers = {**headers, "Accept-Encoding": "gzip, deflate"}  # only what _Decoder decodes
        if content_type is not None:
            headers["Content-Type"] = content_type
        deadline = time.monotonic() + self.timeouts.total
        try:
            with self.session.request(method, url, data=body, headers=headers,
                                      timeout=(self.timeouts.connect, self.timeouts.read),
                                      stream=True, allow_redirects=False) as response:
                reply = _read_body(response, deadline, self.timeouts.total)
                return HttpReply(response.status_code,
                                 response.headers.get("Content-Type", ""), reply)
        except RunnerError:
            raise
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError,
                http.client.HTTPException, OSError) as exc:
            message, sent = _classify(exc, self.timeouts)
            raise TransportError(message, sent=sent) from None

    def close(self) -> None:
        self.session.close()


def _read_body(response: requests.Response, deadline: float, total: float) -> bytes:
    status = response.status_code
    length = _content_length(response.headers.get("Content-Length", ""))
    if length is not None and length > MAX_REPLY_BYTES:
        raise _refused(f"the reply is larger than {_MIB} MiB (Content-Length {length})", status)
    decoder = _Decoder(response.headers.get("Content-Encoding", ""), status)
    raw: Any = response.raw
    # read1 returns whatever one socket read brings, so the deadline is checked however slowly
    # the bytes come; urllib3 < 2.3 has no read1 and blocks per _CHUNK instead.
    read = getattr(raw, "read1", None) or raw.read
    out = io.BytesIO()
    size = 0
    while True:
        data = read(_CHUNK, decode_content=False)
        if time.monotonic() > deadline:
            raise TransportError(f"the reply did not finish within {total:g}s", sent=True,
                                 http_status=status)
        for piece in decoder.decode(data) if data else decoder.finish():
            size += len(piece)
            if size > MAX_REPLY_BYTES:  # stop reading: closing the response drops the rest
                raise _refused(f"the reply is larger than {_MIB} MiB", status)
            out.write(piece)
        if not data:
            return out.getvalue()


_MIB = MAX_REPLY_BYTES // (1024 * 1024)


def _content_length(value: str) -> int | None:
    try:
        return int(value.strip(), 10) if value.strip().isascii() else None
    except ValueError:
        return None  # urllib3 reports a bad Content-Length when the body is read


def _refused(message: str, status: int) -> RunnerError:
    # A 5xx stays a TransportError, so a retry policy can tell a failing server from a reply
    # that no retry will make acceptable.
    if status >= 500:
        return TransportError(f"HTTP {status}: {message}", sent=True, http_status=status)
    return ResponseError(f"{message}; refused")


class _Decoder:
    """Content-Encoding gzip (several members too) / deflate (zlib or raw) / identity, with no
    step yielding more than _CHUNK bytes: the caller counts, and stops, as the bytes come."""

    def __init__(self, encoding: str, status: int) -> None:
        self.status = status
        self.name = encoding.strip().lower()
        if self.name in ("", "identity"):
            self.wbits: int | None = None
        elif self.name in ("gzip", "x-gzip"):
            self.wbits = 16 + zlib.MAX_WBITS
        elif self.name == "deflate":
            self.wbits = zlib.MAX_WBITS
        else:
            raise _refused(f"the reply's Content-Encoding {_shown(encoding)!r} was not asked for",
                           status)
        self.started = False
        self.obj = zlib.decompressobj(self.wbits) if self.wbits is not None else None

    def decode(self, data: bytes) -> Iterator[bytes]:
        if self.obj is None:
            yield data
            return
        try:
            yield from self._inflate(data)
        except zlib.error:
            raise _refused(f"the reply's {self.name} encoding is corrupt", self.status) from None

    def _inflate(self, data: bytes) -> Iterator[bytes]:
        assert self.obj is not None and self.wbits is not None
        while data:
            if self.obj.eof:  # another gzip member follows
                self.obj = zlib.decompressobj(self.wbits)
            try:
                piece = self.obj.decompress(data, _CHUNK)
            except zlib.error:
                if self.started or self.wbits != zlib.MAX_WBITS:
                    raise
                self.wbits = -zlib.MAX_WBITS  # "deflate" sent raw, as some servers do
                self.obj = zlib.decompressobj(self.wbits)
                continue
            self.started = True
            # What is left: input held back by max_length, or the next member's bytes.
            data = self.obj.unconsumed_tail or (self.obj.unused_data if self.obj.eof else b"")
            if piece:
                yield piece

    def finish(self) -> Iterator[bytes]:
        if self.obj is None:
            return
        if self.started and not self.obj.eof:
            raise _refused(f"the reply's {self.name} stream is truncated", self.status)
        try:
            tail = self.obj.flush()
        except zlib.error:
            raise _refused(f"the reply's {self.name} encoding is corrupt", self.status) from None
        if tail:
            yield tail


def _chain(exc: BaseException) -> list[BaseException]:
    """exc and everything it wraps: requests and urllib3 nest the real cause in args/reason."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 20:
        e = todo.pop(0)
        if any(e is s for s in seen):
            continue
        seen.append(e)
        todo += [a for a in e.args if isinstance(a, BaseException)]
        for nested in (getattr(e, "reason", None), e.__cause__, e.__context__):
            if isinstance(nested, BaseException):
                todo.append(nested)
    return seen


def _classify(exc: BaseException, timeouts: Timeouts) -> tuple[str, bool]:
    """A short message and `sent`. Before the connection is up (refused, DNS, connect timeout,
    certificate rejected) the request cannot have left. Once connected, it may have: a reset,
    an early EOF or a read timeout can come before or after the server read the request and
    acted on it, and nothing on our side tells which, so those are sent=True."""
    chain = _chain(exc)

    def has(*kinds: type[BaseException]) -> bool:
        return any(isinstance(e, kinds) for e in chain)

    if has(requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
           requests.exceptions.InvalidSchema, requests.exceptions.URLRequired,
           urllib3.exceptions.LocationParseError):
        return "the endpoint is not a valid http(s) URL", False
    if has(socket.gaierror):
        return "cannot resolve the endpoint's host name", False
    if has(ConnectionRefusedError):
        return "connection refused", False
    if has(urllib3.exceptions.NewConnectionError):  # before ConnectTimeoutError: a subclass
        errno = next((e for e in chain if isinstance(e, OSError) and e.strerror), None)
        return f"cannot connect ({errno.strerror if errno else 'no route'})", False
    if has(requests.exceptions.ConnectTimeout, urllib3.exceptions.ConnectTimeoutError):
        return f"connect timeout ({timeouts.connect:g}s)", False
    if has(ssl.SSLCertVerificationError):
        cert = next(e for e in chain if isinstance(e, ssl.SSLCertVerificationError))
        return f"TLS certificate rejected ({cert.verify_message or 'verify failed'})", False
    if has(requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError,
           TimeoutError):
        return f"nothing received within the read timeout ({timeouts.read:g}s)", True
    if has(ssl.SSLError):
        tls = next(e for e in chain if isinstance(e, ssl.SSLError))
        return f"TLS error ({_shown(str(tls.reason or 'unknown'), 40)})", True
    if has(http.client.RemoteDisconnected):
        return "the server closed the connection without replying", True
    if has(ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
        return "the connection was reset by the server", True
    if has(http.client.IncompleteRead, urllib3.exceptions.IncompleteRead,
           requests.exceptions.ChunkedEncodingError):
        return "the reply was cut short", True
    if has(http.client.HTTPException, urllib3.exceptions.ProtocolError):
        return "the reply is not valid HTTP", True
    return f"HTTP error ({type(exc).__name__})", True


def _shown(text: str, limit: int = 60) -> str:
    """Server-supplied text in a message: printable ASCII only, clipped."""
    clean = "".join(c if " " <= c <= "~" else "?" for c in text[:limit])
    return clean + ("..." if len(text) > limit else "")
