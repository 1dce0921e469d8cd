"""HTTP plumbing on the stdlib threaded server: routes, status codes, keep-alive, shutdown.

`GET /soap/mktows/<version>?WSDL` serves that version's WSDL (versions.py: 2_2 and 3_1) with
its soap:address pointing here; `POST /soap/mktows/<version>` (text/xml) goes to the
`Service`, which answers as that version. Another version, and everything else, is 404,
405 or 415 and never reaches the service, so it is not counted as a request.

Fault injection happens here, where HTTP can misbehave: each SOAP POST takes the next
request number N and the `Injector` decides its fault (injection.py). HTTP 500/503 carry
no SOAP body; a drop closes the connection without a byte of reply, before the service
sees the request or after it has committed; http502_after / http504_after answer a gateway's
error page after the service has committed. All are logged in the store.

Paths under /identity, /rest and /bulk go to the REST twin (rest/service.py), any method,
after the URI (414) and body (413) size checks Marketo's front end makes; the twin draws
its faults from the same injector, so N counts SOAP and REST requests together.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from contextlib import suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from runner.sandbox import rest
from runner.sandbox.injection import ACTED_THEN_GATEWAY, GATEWAY_PAGES, Injector
from runner.sandbox.rest.request import RestRequest
from runner.sandbox.rest.service import RestService
from runner.sandbox.service import Service
from runner.sandbox.versions import LATEST

_ENDPOINT = re.compile(r"/soap/mktows/(\d+_\d+)/?")
_ADDRESS = re.compile(r'(<(?:\w+:)?address\b[^>]*?\blocation=")[^"]*(")')
MAX_BODY = 32 * 1024 * 1024  # far above 300 leads; stops a runaway client, not a real one
_TEXT = "text/plain; charset=utf-8"
_DATES: dict[int, str] = {}  # the current second's Date header (date_time_string)


class SandboxServer(ThreadingHTTPServer):
    """The listening server. Tracks open connections so `close()` can end keep-alives."""

    daemon_threads = True
    # socketserver's default listen backlog is 5: a burst of connections beyond it waits
    # for a SYN retransmit (1 s), which would hide the concurrency limit and slow benchmarks.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], service: Service,
                 rest_service: RestService | None = None) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)
        self.service = service
        self.rest = rest_service
        self.injector = Injector(service.config.faults)
        self._open: set[socket.socket] = set()
        self._idle = threading.Condition()

    @property
    def base_url(self) -> str:
        host, port = str(self.server_address[0]), int(self.server_address[1])
        # A wildcard bind is reachable on loopback; that is the address to hand out.
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def endpoint(self, version: str = LATEST) -> str:
        return f"{self.base_url}/soap/mktows/{version}"

    def version_of(self, path: str) -> str | None:
        """The API version a SOAP path names, if the sandbox serves it."""
        match = _ENDPOINT.fullmatch(path)
        return match[1] if match and match[1] in self.service.versions else None

    def wsdl_for(self, version: str) -> bytes:
        location = escape(self.endpoint(version), {'"': "&quot;"})
        text = self.service.versions[version].wsdl
        return _ADDRESS.sub(lambda m: f"{m[1]}{location}{m[2]}", text).encode("utf-8")

    def not_found(self) -> bytes:
        served = ", ".join(f"/soap/mktows/{v}" for v in self.service.versions)
        return (f"Not found. The sandbox serves SOAP at {served} (WSDL: add ?WSDL)\n"
                ).encode()

    def track(self, conn: socket.socket, is_open: bool) -> None:
        with self._idle:
            if is_open:
                self._open.add(conn)
            else:
                self._open.discard(conn)
                self._idle.notify_all()

    def close(self, timeout: float = 5.0) -> None:
        """After `shutdown()`: end idle keep-alive connections, wait for handlers, close."""
        with self._idle:
            for conn in self._open:
                with suppress(OSError):  # already closed by the client
                    conn.shutdown(socket.SHUT_RDWR)  # a handler blocked reading sees EOF
            self._idle.wait_for(lambda: not self._open, timeout)
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: SandboxServer
    protocol_version = "HTTP/1.1"  # keep-alive; every reply carries Content-Length
    disable_nagle_algorithm = True
    wbufsize = -1  # buffered: status line, headers and body go out in one write per reply

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def version_string(self) -> str:
        return "mktows-sandbox"

    def date_time_string(self, timestamp: float | None = None) -> str:
        # The Date header names whole seconds: format each second once, not every reply.
        if timestamp is not None:
            return super().date_time_string(timestamp)
        second = int(time.time())
        cached = _DATES.get(second)
        if cached is None:
            _DATES.clear()
            cached = _DATES[second] = super().date_time_string(second)
        return cached

    def handle_expect_100(self) -> bool:
        # The stdlib writes "100 Continue" without flushing, which a buffered wfile would hold.
        super().handle_expect_100()
        self.wfile.flush()
        return True

    def log_message(self, format: str, *args: object) -> None:
        """No access log: the store's requests table is the sandbox's record."""

    def do_GET(self) -> None:
        if self._is_rest():
            self._rest()
            return
        url = urlsplit(self.path)
        version = self.server.version_of(url.path)
        if version and any(p.partition("=")[0].lower() == "wsdl" for p in url.query.split("&")):
            self._send(200, self.server.wsdl_for(version), "text/xml;charset=UTF-8")
        else:
            self._send(404, self.server.not_found(), _TEXT)

    def do_POST(self) -> None:
        if self._is_rest():
            self._rest()
            return
        body = self._read_body()
        if body is None:
            return
        version = self.server.version_of(urlsplit(self.path).path)
        if version is None:
            self._send(404, self.server.not_found(), _TEXT)
        elif self.headers.get_content_type() != "text/xml":
            self._send(415, b"SOAP 1.1 requests need Content-Type: text/xml\n", _TEXT)
        else:
            self._soap(body, version)

    def _soap(self, body: bytes, version: str) -> None:
        service = self.server.service
        n, kind, operation = self.server.injector.next(body)
        if kind in ("http500", "http503", "drop_before"):
            service.record_injected(n, operation, kind, version)
            if kind == "drop_before":
                self.close_connection = True  # no reply at all: the client sees EOF
            else:
                self._send(500 if kind == "http500" else 503, b"", _TEXT, close=True)
            return
        delay = service.config.faults.slow_seconds if kind == "slow" else 0.0
        reply = service.handle(body, self.headers.get("SOAPAction"), version=version, n=n,
                               injected=kind, delay=delay)
        if kind == "drop_after":
            self.close_connection = True  # the server acted; the client never hears
            return
        if kind in ACTED_THEN_GATEWAY:  # the server acted; a gateway answers an error page
            status = ACTED_THEN_GATEWAY[kind]
            self._send(status, GATEWAY_PAGES[status], "text/html", close=True)
            return
        self._send(reply.status, reply.body, reply.content_type)

    def _is_rest(self) -> bool:
        return self.server.rest is not None and self.path.startswith(rest.PREFIXES)

    def _rest(self) -> None:
        if len(self.path) > rest.MAX_URI:
            self._send(414, b"<html><head><title>414 Request-URI Too Large</title></head></html>",
                       "text/html", close=True)
            return
        body = self._read_body(rest.MAX_BULK_BODY if self.path.startswith("/bulk/")
                               else rest.MAX_BODY)
        if body is None or self.server.rest is None:
            return
        reply = self.server.rest.handle(RestRequest(self.command, self.path, self.headers, body),
                                        self.server.injector)
        if reply.drop:
            self.close_connection = True  # no reply at all: the client sees EOF
            return
        # Marketo closes every REST connection (captured `Connection: close`, reference §1.5).
        self._send(reply.status, reply.body, reply.content_type, reply.headers, close=True)

    def _not_allowed(self) -> None:
        if self._is_rest():
            self._rest()
            return
        if self._read_body() is not None:
            self._send(405, b"Method not allowed\n", _TEXT, {"Allow": "GET, POST"})

    do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _not_allowed

    def _read_body(self, limit: int = MAX_BODY) -> bytes | None:
        """The request body, or None after answering a request whose body cannot be read."""
        length = self.headers.get("Content-Length")
        if length is None:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                self._send(411, b"Send the body with a Content-Length\n", _TEXT, close=True)
                return None
            return b""
        if not length.strip().isdigit():
            self._send(400, b"Bad Content-Length\n", _TEXT, close=True)
            return None
        if int(length) > limit:
            self._send(413, b"Request body too large\n", _TEXT, close=True)
            return None
        return self.rfile.read(int(length))

    def _send(self, status: int, body: bytes, content_type: str,
              headers: dict[str, str] | None = None, *, close: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
