"""HTTP for SOAP (and REST) calls: keep-alive connections pooled per origin, timeouts, TLS
verification, a bounded reply. The only importer of urllib3 (its URL parser, TLS defaults and
insecure-request warning) and of certifi (the CA bundle servers are verified against).

The wire is spoken by the standard library's http.client. requests (used until issue 19), and
urllib3's connection pool under it, wrap each call in machinery that cost more than the rest of
the runner's work on a call: client CPU per call posting 2,000 syncLead envelopes to the
sandbox, one in flight, was ~810 us through requests.Session, ~290 us through a urllib3
HTTPConnectionPool and ~145 us through http.client (bench/overhead.py's per-call figures follow).
What they did around the wire is done here as they did it:

- connections: at most POOL_SIZE kept per origin, none waited for; one the server closed while
  it was idle is noticed (poll) and replaced before a request is written to it;
- timeouts: `connect` for the TCP connection and the TLS handshake, `read` between two bytes
  of the reply, `total` for the whole reply (Timeouts);
- TLS: urllib3's context defaults (TLS 1.2 or later, the host name checked), ALPN http/1.1,
  certifi's CA bundle only;
- no retries here (the executor decides), no redirect followed, no proxy (the session ignored
  the environment), no cookie kept;
- the headers requests sent (the User-Agent names mktows-run), an endpoint's
  user:password@ as Basic auth;
- failures classified as urllib3 raised them: nothing before the connection is up was sent.

A reply is read as a stream and never trusted for size or time: at most MAX_REPLY_BYTES of
*decoded* body (gzip/deflate are decoded here, step by bounded step, so a decompression bomb
stops at the cap), within Timeouts.total. What the body means (Content-Type, Fault, XML) is
runner.soap.response's business.

Error messages are fixed phrases: they never repeat the URL, its query string or any header,
so nothing of the request can leak into a report.
"""

from __future__ import annotations

import base64
import errno
import functools
import http.client
import io
import re
import select
import socket
import ssl
import threading
import time
import warnings
import weakref
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast
from urllib.parse import unquote, urlsplit

import certifi
import urllib3.exceptions
from urllib3.util import parse_url
from urllib3.util.ssl_ import create_urllib3_context

from runner import __version__
from runner.errors import ResponseError, RunnerError, TransportError
from runner.model import HttpReply
from runner.soap.namespaces import soap_action

# A mktows reply is kilobytes (a large getCampaignsForSource is a few MB); 16 MiB leaves a wide
# margin and bounds what a hostile or broken server can make us hold: the body is refused
# as soon as the decoded byte count passes this, and before reading when Content-Length does.
MAX_REPLY_BYTES = 16 * 1024 * 1024
_CHUNK = 64 * 1024  # per socket read, and per decompression step (max_length)
# Idle connections kept per origin (host): the executor's most in flight. A call beyond them
# opens a connection of its own rather than wait, kept if there is room (requests' settings).
POOL_SIZE = 10
_ORIGINS = 10  # pools kept (a run talks to one SOAP host, or a REST and an Identity host)
_ROUTES = 64  # URLs whose parsing is remembered
# Sent with every request unless the caller says otherwise: requests' defaults, but for the
# User-Agent, which names this client rather than the library it no longer uses.
_DEFAULT_HEADERS = {"User-Agent": f"mktows-run/{__version__}", "Accept": "*/*",
                    "Connection": "keep-alive"}
_METHODS_WITHOUT_BODY = frozenset({"GET", "HEAD"})
# What requests refused to send (InvalidHeader): a name with a colon or white space, a value
# with a line break or leading white space. http.client would refuse some of them too, later.
# (fullmatch: `$` would let a trailing line break through, which http.client then refuses
# with a ValueError that repeats the value, a token included.)
_HEADER_NAME = re.compile(r"[^:\s][^:\r\n]*")
_HEADER_VALUE = re.compile(r"\S[^\r\n]*|")


@dataclass(frozen=True)
class Timeouts:
    connect: float = 10.0  # to open the TCP connection (and the TLS handshake)
    read: float = 60.0  # between two bytes of the reply
    # From the start of the call to the reply's last byte: a reply that trickles in, each byte
    # within the read timeout, still ends. Checked between body reads (so it may overrun by
    # up to `read`); the status line and headers are bounded by `read` and http.client's
    # limits.
    total: float = 300.0


class HttpTransport:
    """Sends requests over keep-alive connections (a new connection per call costs ~30%),
    pooled per origin; thread-safe."""

    def __init__(self, timeouts: Timeouts | None = None, verify: bool = True) -> None:
        self.timeouts = timeouts or Timeouts()
        self.verify = verify
        self._pools: dict[tuple[str, str, int | None], _Pool] = {}
        self._routes: dict[str, _Route] = {}
        self._lock = threading.Lock()
        self._tls: ssl.SSLContext | None = None

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
        deadline = time.monotonic() + self.timeouts.total
        try:
            route = self._route(url)
            # (Accept-Encoding: only what _Decoder decodes)
            sent = {**_DEFAULT_HEADERS, **headers, "Accept-Encoding": "gzip, deflate"}
            if content_type is not None:
                sent["Content-Type"] = content_type
            # Framed as requests framed a body: its length, or 0 for a method that may have one.
            if body is not None:
                sent["Content-Length"] = str(len(body))
            elif method not in _METHODS_WITHOUT_BODY:
                sent["Content-Length"] = "0"
            if route.authorization is not None:  # an endpoint's user:password@, as requests
                sent["Authorization"] = route.authorization
            for name, value in sent.items():
                # (http.client writes both as Latin-1: a UnicodeEncodeError otherwise)
                if not (_HEADER_NAME.fullmatch(name) and _HEADER_VALUE.fullmatch(value)
                        and _latin1(name) and _latin1(value)):
                    # (requests' InvalidHeader, classified as it was)
                    raise TransportError("HTTP error (InvalidHeader)", sent=True)
            pool = route.pool
            if not self.verify and pool.context is not None:
                warnings.warn(f"Unverified HTTPS request is being made to host '{pool.host}'. "
                              "Adding certificate verification is strongly advised.",
                              urllib3.exceptions.InsecureRequestWarning, stacklevel=2)
            conn = pool.take() or pool.connect(self.timeouts)
            kept = False
            try:
                reply, kept = _exchange(conn, method, route.target, body, sent, self.timeouts,
                                        deadline)
            finally:
                if kept:
                    pool.give(conn)
                else:  # a connection left mid-reply (or that the server closes) is done
                    conn.close()
            return reply
        except RunnerError:
            raise
        except (http.client.HTTPException, OSError) as exc:
            message, was_sent = _classify(exc, self.timeouts)
            raise TransportError(message, sent=was_sent) from None

    def _route(self, url: str) -> _Route:
        """Where `url` goes: its origin's pool, the request target (path and query) and the
        Authorization its user:password@ gives. The same few URLs come back on every call."""
        route = self._routes.get(url)
        if route is not None:
            return route
        scheme, host, port, target, authorization = _parse(url)
        key = (scheme, host, port)
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                pool = _Pool(host, port, self._context() if scheme == "https" else None)
                if len(self._pools) >= _ORIGINS:  # the least recently opened goes
                    self._pools.pop(next(iter(self._pools))).close()
                    self._routes.clear()
                self._pools[key] = pool
            route = _Route(pool, target, authorization)
            # Only URLs without a query are remembered: those are the ones that come back
            # (a token request's query even holds the client secret).
            if "?" not in url:
                if len(self._routes) >= _ROUTES:
                    self._routes.clear()
                self._routes[url] = route
        return route

    def _context(self) -> ssl.SSLContext:
        """urllib3's TLS defaults; verifying: the host name checked against certifi's bundle
        only, as requests did. Made once, not per connection (loading the bundle takes ~20
        ms)."""
        if self._tls is None:
            if self.verify:
                context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
                context.load_verify_locations(certifi.where())
            else:
                context = create_urllib3_context(cert_reqs=ssl.CERT_NONE)
            context.set_alpn_protocols(["http/1.1"])
            self._tls = context
        return self._tls

    def close(self) -> None:
        with self._lock:
            pools = list(self._pools.values())
            self._pools.clear()
            self._routes.clear()
        for pool in pools:
            pool.close()


@dataclass(frozen=True)
class _Route:
    pool: _Pool
    target: str
    authorization: str | None


class _Pool:
    """One origin's idle keep-alive connections, the most recently used first."""

    def __init__(self, host: str, port: int | None, context: ssl.SSLContext | None) -> None:
        self.host, self.port, self.context = host, port, context
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        # A transport nobody closed still closes its sockets when it goes (as urllib3's pools).
        weakref.finalize(self, _close_all, self._idle)

    def take(self) -> http.client.HTTPConnection | None:
        """An idle connection the server has not closed meanwhile, if there is one."""
        while True:
            with self._lock:
                if not self._idle:
                    return None
                conn = self._idle.pop()
            if conn.sock is not None and not _readable(conn.sock):
                return conn
            conn.close()  # closed by the server (EOF waiting), or unusable: never written to

    def give(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < POOL_SIZE:
                self._idle.append(conn)
                return
        conn.close()

    def connect(self, timeouts: Timeouts) -> http.client.HTTPConnection:
        """A new connection: TCP within `connect` (a failure there: TransportError, not sent),
        then the TLS handshake, also within `connect` (its failures are classified as urllib3
        raised them: a rejected certificate was not sent, a timeout is a read timeout)."""
        conn: http.client.HTTPConnection
        if self.context is None:
            conn = http.client.HTTPConnection(self.host, self.port)
        else:
            conn = http.client.HTTPSConnection(self.host, self.port, context=self.context)
        try:
            sock = socket.create_connection((conn.host, conn.port), timeouts.connect)
        except OSError as exc:
            raise _not_connected(exc, timeouts) from None
        try:
            # A request is one or two writes, its reply waits for no delayed ACK (as urllib3).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.context is not None:
                name = conn.host.partition("%")[0]  # (an IPv6 scope id is no host name)
                sock = self.context.wrap_socket(sock, server_hostname=name)
        except BaseException:
            sock.close()
            raise
        conn.sock = sock
        return conn

    def close(self) -> None:
        with self._lock:
            idle = self._idle[:]
            self._idle.clear()
        _close_all(idle)


def _close_all(connections: list[http.client.HTTPConnection]) -> None:
    for conn in connections:
        conn.close()


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def _readable(sock: socket.socket) -> bool:
    """Whether an idle connection has something to read: the server's EOF (it closed the
    connection) or bytes nobody asked for. Either way it must not carry a request."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([sock], [], [], 0)[0])


def _exchange(conn: http.client.HTTPConnection, method: str, target: str, body: bytes | None,
              headers: dict[str, str], timeouts: Timeouts,
              deadline: float) -> tuple[HttpReply, bool]:
    """Write the request, read the reply: the reply, and whether the connection may carry
    another request."""
    written = True
    try:
        conn.request(method, target, body=body, headers=headers)
    except OSError as exc:
        written = False  # (a request cut short: the connection carries no other)
        # The server may have answered and closed before taking the whole request: read its
        # answer, as urllib3 did (what follows a real failure to write is read as one).
        if not isinstance(exc, BrokenPipeError) and exc.errno not in (errno.EPROTOTYPE,
                                                                      errno.ECONNRESET):
            raise
    if conn.sock is not None:
        conn.sock.settimeout(timeouts.read)
    # (the connection is this call's alone until it is given back)
    conn.response_class = cast("type[http.client.HTTPResponse]",
                               functools.partial(_Response, deadline=deadline, total=timeouts.total))
    response = conn.getresponse()
    try:
        # (header values joined as urllib3 joined a repeated header)
        content_type = ", ".join(response.headers.get_all("Content-Type") or ())
        data = _read_body(response, deadline, timeouts.total)
    except BaseException:
        response.close()
        raise
    kept = written and conn.sock is not None and not response.will_close
    return HttpReply(response.status, content_type, data), kept


class _Lines(io.BufferedReader):
    """The reply's reader, whose lines (status, headers, chunk sizes, trailers) end by the
    deadline: http.client bounds their length and the headers' count, not their time, and
    reads 100 Continue replies and trailer lines for as long as they come."""

    deadline = 0.0
    total = 0.0
    status: int | None = None

    def readline(self, size: int | None = -1) -> bytes:
        size = -1 if size is None else size
        line = b""
        while True:
            if time.monotonic() > self.deadline:
                raise TransportError(f"the reply did not finish within {self.total:g}s",
                                     sent=True, http_status=self.status)
            limit = -1 if size < 0 else size - len(line)
            buffered = self.peek(1)  # (one socket read at most, within the read timeout)
            if not buffered or b"\n" in buffered or 0 <= limit <= len(buffered):
                return line + super().readline(limit)  # (all there: no waiting)
            line += self.read(len(buffered))


class _Response(http.client.HTTPResponse):
    def __init__(self, sock: socket.socket, debuglevel: int = 0, method: str | None = None,
                 url: str | None = None, *, deadline: float, total: float) -> None:
        super().__init__(sock, debuglevel, method, url)
        lines = _Lines(self.fp.detach())  # (nothing read yet: nothing buffered is lost)
        lines.deadline, lines.total = deadline, total
        self.fp = lines


def _not_connected(exc: OSError, timeouts: Timeouts) -> TransportError:
    """A TCP connection that could not be opened: nothing was sent (urllib3's NewConnectionError
    and ConnectTimeoutError, as _classify words them)."""
    if isinstance(exc, socket.gaierror):
        return TransportError("cannot resolve the endpoint's host name", sent=False)
    if isinstance(exc, ConnectionRefusedError):
        return TransportError("connection refused", sent=False)
    if isinstance(exc, TimeoutError):
        return TransportError(f"connect timeout ({timeouts.connect:g}s)", sent=False)
    return TransportError(f"cannot connect ({exc.strerror or 'no route'})", sent=False)


def _parse(url: str) -> tuple[str, str, int | None, str, str | None]:
    """(scheme, host, port, path?query, Authorization) of an http(s) URL, normalised by
    urllib3's parser as before; TransportError (not sent) for anything else."""
    invalid = TransportError("the endpoint is not a valid http(s) URL", sent=False)
    try:
        parsed = parse_url(url)
        parts = urlsplit(url)
        user, password = parts.username, parts.password
    except ValueError:  # (LocationParseError is one)
        raise invalid from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise invalid
    authorization = None
    if user is not None and password is not None and (user or password):
        # requests' HTTPBasicAuth from the URL: percent-decoded, Latin-1.
        try:
            pair = f"{unquote(user)}:{unquote(password)}".encode("latin-1")
        except UnicodeEncodeError:
            raise invalid from None
        authorization = "Basic " + base64.b64encode(pair).decode("ascii")
    return parsed.scheme, parsed.host, parsed.port, parsed.request_uri, authorization


def _read_body(response: http.client.HTTPResponse, deadline: float, total: float) -> bytes:
    status = response.status
    stated = ", ".join(response.headers.get_all("Content-Length") or ())
    if stated and not response.chunked and len(_lengths(stated)) > 1:
        # Two lengths for one body: which one frames it? (urllib3 refused it: InvalidHeader.)
        raise TransportError("HTTP error (InvalidHeader)", sent=True)
    length = _content_length(stated)
    if isinstance(response.fp, _Lines):
        response.fp.status = status
    if length is not None and length > MAX_REPLY_BYTES:
        raise _refused(f"the reply is larger than {_MIB} MiB (Content-Length {length})", status)
    decoder = _Decoder(", ".join(response.headers.get_all("Content-Encoding") or ()), status)
    # read1 returns whatever one socket read brings, so the deadline is checked however slowly
    # the bytes come.
    read = response.read1
    out = io.BytesIO()
    size = 0
    while True:
        data = read(_CHUNK)
        if time.monotonic() > deadline:
            raise TransportError(f"the reply did not finish within {total:g}s", sent=True,
                                 http_status=status)
        if not data and response.length:  # EOF before Content-Length's last byte
            raise http.client.IncompleteRead(out.getvalue(), response.length)
        # The last byte: EOF, the end of the chunks, or Content-Length's (no read past it).
        last = not data or response.length == 0
        for piece in (decoder.decode(data) if data else ()):
            size += len(piece)
            if size > MAX_REPLY_BYTES:  # stop reading: closing the connection drops the rest
                raise _refused(f"the reply is larger than {_MIB} MiB", status)
            out.write(piece)
        if last:
            for piece in decoder.finish():
                size += len(piece)
                if size > MAX_REPLY_BYTES:
                    raise _refused(f"the reply is larger than {_MIB} MiB", status)
                out.write(piece)
            response.close()  # (done: the connection may carry the next request)
            return out.getvalue()


_MIB = MAX_REPLY_BYTES // (1024 * 1024)


def _lengths(stated: str) -> set[int]:
    """The distinct numbers in a Content-Length (repeated, or a list); none if one is not."""
    try:
        return {int(value) for value in stated.split(",")}
    except ValueError:
        return set()


def _content_length(value: str) -> int | None:
    try:
        return int(value.strip(), 10) if value.strip().isascii() else None
    except ValueError:
        return None  # (http.client then reads the body to the connection's end)


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
    """exc and everything it wraps (args, __cause__, __context__)."""
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
    """A short message and `sent`, once the TCP connection is up (_not_connected words what
    comes before). A rejected certificate means nothing was sent. After that the request may
    have left: a reset, an early EOF or a timeout can come before or after the server read the
    request and acted on it, and nothing on our side tells which, so those are sent=True."""
    chain = _chain(exc)

    def has(*kinds: type[BaseException]) -> bool:
        return any(isinstance(e, kinds) for e in chain)

    if has(ssl.SSLCertVerificationError):
        cert = next(e for e in chain if isinstance(e, ssl.SSLCertVerificationError))
        return f"TLS certificate rejected ({cert.verify_message or 'verify failed'})", False
    if has(TimeoutError):
        return f"nothing received within the read timeout ({timeouts.read:g}s)", True
    if has(ssl.SSLError):
        tls = next(e for e in chain if isinstance(e, ssl.SSLError))
        return f"TLS error ({_shown(str(tls.reason or 'unknown'), 40)})", True
    if has(http.client.RemoteDisconnected):
        return "the server closed the connection without replying", True
    if has(ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
        return "the connection was reset by the server", True
    if has(http.client.IncompleteRead):
        return "the reply was cut short", True
    if has(http.client.HTTPException):
        return "the reply is not valid HTTP", True
    return f"HTTP error ({type(exc).__name__})", True


def _shown(text: str, limit: int = 60) -> str:
    """Server-supplied text in a message: printable ASCII only, clipped."""
    clean = "".join(c if " " <= c <= "~" else "?" for c in text[:limit])
    return clean + ("..." if len(text) > limit else "")
