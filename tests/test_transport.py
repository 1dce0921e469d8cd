"""HttpTransport against a local HTTP server: what it sends, connection reuse, how failures are
classified (sent or not), the reply cap, Content-Encoding, and what it refuses to do."""

from __future__ import annotations

import gzip
import shutil
import socket
import ssl
import subprocess
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from urllib3.exceptions import InsecureRequestWarning

from runner.errors import ResponseError, TransportError
from runner.transport import MAX_REPLY_BYTES, POOL_SIZE, HttpTransport, Timeouts

pytestmark = pytest.mark.timeout(30)

SOAP_OK = (b'<?xml version="1.0" encoding="UTF-8"?><SOAP-ENV:Envelope '
           b'xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" '
           b'xmlns:ns1="http://www.marketo.com/mktows/"><SOAP-ENV:Body><ns1:successGetLead>'
           b"<result><count>1</count><leadRecordList><leadRecord><Id>7</Id>"
           b"<Email>ada@example.com</Email></leadRecord></leadRecordList></result>"
           b"</ns1:successGetLead></SOAP-ENV:Body></SOAP-ENV:Envelope>")
XML = "text/xml;charset=UTF-8"

Reply = Callable[["Handler"], None]
Serve = Callable[[Reply], "LocalServer"]


class Handler(BaseHTTPRequestHandler):
    """Reads each POST completely, records it, then lets the server's `reply` answer."""

    protocol_version = "HTTP/1.1"  # keep-alive, as Marketo
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.owner.requests.append((self.command, self.path, dict(self.headers), body))
        try:
            self.server.owner.reply(self)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up: expected here
            self.close_connection = True

    def do_GET(self) -> None:  # only a client fetching an external DTD would ever GET
        self.server.owner.requests.append((self.command, self.path, dict(self.headers), b""))
        send(self, 404, b"no", "text/plain")

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep the test output (and the captured CLI stderr) clean


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64  # (socketserver's 5 drops connections a burst of callers opens)
    owner: LocalServer

    def get_request(self) -> tuple[socket.socket, Any]:
        self.owner.accepts += 1
        return super().get_request()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a hostile reply cut short by the client is the point, not an error


class LocalServer:
    """An HTTP server on 127.0.0.1 (port 0) in a thread, answering every POST with `reply`."""

    def __init__(self, reply: Reply, tls: ssl.SSLContext | None = None) -> None:
        self.reply = reply
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.accepts = 0
        self.stop = threading.Event()  # long-running replies watch it
        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.httpd.owner = self
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}/soap/mktows/3_1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def __enter__(self) -> LocalServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


def send(h: BaseHTTPRequestHandler, status: int = 200, body: bytes = SOAP_OK,
         content_type: str | None = XML, headers: Iterable[tuple[str, str]] = (),
         length: bool = True) -> None:
    h.send_response(status)
    if content_type is not None:
        h.send_header("Content-Type", content_type)
    if length:
        h.send_header("Content-Length", str(len(body)))
    for name, value in headers:
        h.send_header(name, value)
    h.end_headers()
    h.wfile.write(body)
    h.wfile.flush()


def reply_with(status: int = 200, body: bytes = SOAP_OK, content_type: str | None = XML,
               headers: Iterable[tuple[str, str]] = ()) -> Reply:
    return lambda h: send(h, status, body, content_type, list(headers))


def stream(h: Handler, chunks: Iterator[bytes], status: int = 200,
           headers: Iterable[tuple[str, str]] = (("Content-Type", XML),),
           chunked: bool = True) -> None:
    """Send chunks as they are made (Transfer-Encoding: chunked, or close-delimited)."""
    h.send_response(status)
    for name, value in headers:
        h.send_header(name, value)
    if chunked:
        h.send_header("Transfer-Encoding", "chunked")
    else:
        h.close_connection = True
        h.send_header("Connection", "close")
    h.end_headers()
    for chunk in chunks:
        if h.server.owner.stop.is_set():
            return
        h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
    if chunked:
        h.wfile.write(b"0\r\n\r\n")
    h.wfile.flush()


@pytest.fixture
def serve() -> Iterator[Serve]:
    """Start a LocalServer answering with `reply`; stopped after the test."""
    started: list[LocalServer] = []

    def start(reply: Reply) -> LocalServer:
        started.append(LocalServer(reply).__enter__())
        return started[-1]

    yield start
    for server in started:
        server.__exit__()


@pytest.fixture
def transport() -> Iterator[HttpTransport]:
    t = HttpTransport(Timeouts(connect=2, read=2, total=10))
    yield t
    t.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- what is sent ---------------------------------------------------------------------------

def test_post_sends_the_soap_headers_and_the_envelope(serve: Serve, transport: HttpTransport) -> None:
    server = serve(reply_with())
    reply = transport.post(server.url, "getLead", "<x>é</x>")
    assert (reply.status, reply.content_type, reply.body) == (200, XML, SOAP_OK)
    [(method, path, headers, body)] = server.requests
    assert (method, path, body) == ("POST", "/soap/mktows/3_1", "<x>é</x>".encode())
    assert headers["Content-Type"] == "text/xml; charset=UTF-8"
    assert headers["SOAPAction"] == '"http://www.marketo.com/mktows/getLead"'
    assert headers["Accept-Encoding"] == "gzip, deflate"


def test_two_posts_share_one_keep_alive_connection(serve: Serve, transport: HttpTransport) -> None:
    server = serve(reply_with())
    transport.post(server.url, "getLead", "<a/>")
    transport.post(server.url, "getLead", "<b/>")
    assert len(server.requests) == 2
    assert server.accepts == 1


def test_the_headers_are_those_requests_sent(serve: Serve, transport: HttpTransport) -> None:
    """The transport left requests for urllib3 (issue 19): the wire stays the same, the
    User-Agent aside."""
    server = serve(reply_with())
    transport.post(server.url, "getLead", "<a/>")
    transport.request("POST", server.url, headers={"Accept": "application/json"})
    [(_, _, soap, _), (_, _, empty, body)] = server.requests
    assert {k: v for k, v in soap.items() if k not in ("Host", "User-Agent")} == {
        "Accept": "*/*", "Connection": "keep-alive", "Accept-Encoding": "gzip, deflate",
        "SOAPAction": '"http://www.marketo.com/mktows/getLead"',
        "Content-Type": "text/xml; charset=UTF-8", "Content-Length": "4"}
    assert (empty["Accept"], empty["Content-Length"], body) == ("application/json", "0", b"")


def test_a_get_has_no_body_and_keeps_its_query_but_not_its_fragment(
        serve: Serve, transport: HttpTransport) -> None:
    server = serve(reply_with())
    transport.request("GET", server.url + "?a=1&b=%20x#frag", headers={})
    [(method, path, headers, _)] = server.requests
    assert (method, path) == ("GET", "/soap/mktows/3_1?a=1&b=%20x")
    assert "Content-Length" not in headers and "Content-Type" not in headers


def test_an_endpoints_user_and_password_go_as_basic_auth_not_in_the_request_line(
        serve: Serve, transport: HttpTransport) -> None:
    server = serve(reply_with())
    transport.post(server.url.replace("://", "://us%20er:p%40ss@"), "getLead", "<a/>")
    [(_, path, headers, _)] = server.requests
    assert path == "/soap/mktows/3_1"
    assert headers["Authorization"] == "Basic dXMgZXI6cEBzcw=="  # "us er:p@ss", decoded
    assert headers["Host"] == f"127.0.0.1:{server.port}"


def test_a_connection_the_server_closed_while_idle_is_replaced(
        serve: Serve, transport: HttpTransport) -> None:
    hung_up = threading.Semaphore(0)

    def answer_then_hang_up(h: Handler) -> None:
        send(h)
        h.connection.shutdown(socket.SHUT_RDWR)  # no `Connection: close`: found out later
        h.close_connection = True
        hung_up.release()

    server = serve(answer_then_hang_up)
    for envelope in ("<a/>", "<b/>", "<c/>"):
        assert transport.post(server.url, "getLead", envelope).body == SOAP_OK
        assert hung_up.acquire(timeout=5)  # (the next call finds the connection closed)
    assert (len(server.requests), server.accepts) == (3, 3)


def test_more_calls_at_once_than_the_pool_keeps_all_go_through(
        serve: Serve, transport: HttpTransport) -> None:
    from concurrent.futures import ThreadPoolExecutor

    server = serve(reply_with())
    with ThreadPoolExecutor(POOL_SIZE + 5) as pool:
        replies = list(pool.map(lambda i: transport.post(server.url, "getLead", f"<a{i}/>"),
                                range(3 * POOL_SIZE)))
    assert all(r.body == SOAP_OK for r in replies) and len(server.requests) == 3 * POOL_SIZE


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/soap", "http:///soap", "http://[::1/soap",
                                 "//127.0.0.1/soap"])
def test_a_url_that_is_not_http_is_refused_before_sending(transport: HttpTransport,
                                                          url: str) -> None:
    with pytest.raises(TransportError) as info:
        transport.post(url + "?token=SECRET-IN-QUERY", "getLead", "<a/>")
    assert info.value.sent is False
    assert str(info.value) == "the endpoint is not a valid http(s) URL"


def test_tls_verification_is_on_by_default() -> None:
    t = HttpTransport()
    assert t.verify is True
    pool = t._route("https://example.invalid/soap").pool  # a pool: nothing is sent
    context = pool.context
    assert context is not None and context.check_hostname
    assert context.verify_mode == ssl.CERT_REQUIRED
    t.close()


def _self_signed(tmp: Path) -> ssl.SSLContext:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(tmp / "key.pem"),
                    "-out", str(tmp / "cert.pem")], check=True, capture_output=True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp / "cert.pem", tmp / "key.pem")
    return ctx


def test_a_self_signed_certificate_is_rejected_before_anything_is_sent(
        tmp_path: Path, transport: HttpTransport) -> None:
    with LocalServer(reply_with(), tls=_self_signed(tmp_path)) as server:
        with pytest.raises(TransportError) as info:
            transport.post(server.url, "getLead", "<a/>")
        assert info.value.sent is False
        assert str(info.value).startswith("TLS certificate rejected (self")  # self-signed ...
        insecure = HttpTransport(verify=False)  # the control: only verification stood in the way
        with pytest.warns(InsecureRequestWarning):
            assert insecure.post(server.url, "getLead", "<a/>").body == SOAP_OK
        insecure.close()
    assert len(server.requests) == 1


def test_a_certificate_the_bundle_trusts_is_accepted_for_its_host_name_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import certifi

    context = _self_signed(tmp_path)  # for IP:127.0.0.1 only
    monkeypatch.setattr(certifi, "where", lambda: str(tmp_path / "cert.pem"))  # trusted
    with LocalServer(reply_with(), tls=context) as server:
        t = HttpTransport(Timeouts(connect=2, read=2, total=10))
        assert t.post(server.url, "getLead", "<a/>").body == SOAP_OK
        with pytest.raises(TransportError) as info:
            t.post(server.url.replace("127.0.0.1", "localhost"), "getLead", "<a/>")
        t.close()
    assert info.value.sent is False
    assert str(info.value).startswith("TLS certificate rejected (Hostname mismatch")
    assert len(server.requests) == 1


def test_tls_to_a_plain_http_server_is_a_transport_error(serve: Serve,
                                                         transport: HttpTransport) -> None:
    server = serve(reply_with())
    with pytest.raises(TransportError, match=r"^TLS error \("):
        transport.post(server.url.replace("http:", "https:"), "getLead", "<a/>")


def test_proxies_from_the_environment_are_ignored(serve: Serve, transport: HttpTransport,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    server, proxy = serve(reply_with()), serve(reply_with(body=b"proxied"))
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{proxy.port}")
    assert transport.post(server.url, "getLead", "<a/>").body == SOAP_OK
    # The control: a client that honours the environment (requests) goes through the proxy.
    assert requests.post(server.url, data=b"<a/>", timeout=5).content == b"proxied"
    assert len(server.requests) == 1 and len(proxy.requests) == 1


def test_a_redirect_is_not_followed(serve: Serve, transport: HttpTransport) -> None:
    moved = reply_with(307, b"", "text/plain", [("Location", "/elsewhere")])
    server = serve(moved)
    reply = transport.post(server.url, "getLead", "<a/>")
    assert reply.status == 307
    assert [r[1] for r in server.requests] == ["/soap/mktows/3_1"]


# -- failures: sent or not --------------------------------------------------------------------

def test_connection_refused_was_not_sent(transport: HttpTransport) -> None:
    url = f"http://127.0.0.1:{_free_port()}/soap/mktows/3_1?token=SECRET-IN-QUERY"
    with pytest.raises(TransportError) as info:
        transport.post(url, "getLead", "<a/>")
    assert info.value.sent is False
    assert str(info.value) == "connection refused"


@pytest.mark.parametrize(("failure", "message"), [
    (socket.gaierror(-2, "Name or service not known"), "cannot resolve the endpoint's host name"),
    (TimeoutError("timed out"), "connect timeout (2s)"),
    (OSError(113, "No route to host"), "cannot connect (No route to host)"),
])
def test_a_connection_that_cannot_be_opened_was_not_sent(
        transport: HttpTransport, monkeypatch: pytest.MonkeyPatch, failure: OSError,
        message: str) -> None:
    def refuse(address: Any, timeout: float) -> socket.socket:
        assert timeout == 2  # the connect timeout
        raise failure

    monkeypatch.setattr(socket, "create_connection", refuse)
    with pytest.raises(TransportError) as info:
        transport.post("https://mktows.invalid/soap/mktows/3_1", "getLead", "<a/>")
    assert (str(info.value), info.value.sent) == (message, False)


@pytest.mark.parametrize("headers", [{"X-Token": "a\r\nInjected: 1"}, {"Bad:Name": "x"},
                                     {"X-Lead": " leading space"},
                                     # (a token read with its line break; a name with one)
                                     {"Authorization": "Bearer SECRET-TOKEN\n"}, {"X-Name\n": "x"},
                                     {"Authorization": "Bearer SECRET\u2019TOKEN"}])
def test_a_header_requests_refused_is_refused_before_sending(
        serve: Serve, transport: HttpTransport, headers: dict[str, str]) -> None:
    server = serve(reply_with())
    with pytest.raises(TransportError, match=r"^HTTP error \(InvalidHeader\)$") as info:
        transport.request("GET", server.url, headers=headers)
    assert server.requests == [] and server.accepts == 0
    assert "SECRET" not in repr(info.value.__context__)  # (nothing raised with the value)


@pytest.mark.parametrize("headers", [[("Content-Length", str(len(SOAP_OK)))],
                                     [("Transfer-Encoding", "chunked")]])
def test_a_length_said_twice_alike_or_beside_chunks_is_read(serve: Serve,
                                                              transport: HttpTransport,
                                                              headers: list[tuple[str, str]]) -> None:
    def reply(h: Handler) -> None:
        if headers[0][0] == "Transfer-Encoding":  # chunks win over the length
            stream(h, iter([SOAP_OK[:10], SOAP_OK[10:]]),
                   headers=[("Content-Type", XML), ("Content-Length", "3")])
        else:
            send(h, headers=headers)

    server = serve(reply)
    assert transport.post(server.url, "getLead", "<a/>").body == SOAP_OK
    assert transport.post(server.url, "getLead", "<b/>").body == SOAP_OK  # and kept alive
    assert server.accepts == 1


def test_a_reply_with_two_different_lengths_is_refused(serve: Serve,
                                                       transport: HttpTransport) -> None:
    server = serve(lambda h: send(h, headers=[("Content-Length", "3")]))
    with pytest.raises(TransportError, match=r"^HTTP error \(InvalidHeader\)$") as info:
        transport.post(server.url, "getLead", "<a/>")
    assert info.value.sent is True


def test_an_invalid_endpoint_was_not_sent(transport: HttpTransport) -> None:
    with pytest.raises(TransportError) as info:
        transport.post("127.0.0.1/soap?token=SECRET-IN-QUERY", "getLead", "<a/>")
    assert info.value.sent is False
    assert "SECRET" not in str(info.value)


def _close_after_reading(h: Handler) -> None:
    h.close_connection = True  # no status line at all


def test_a_server_closing_after_reading_the_request_leaves_it_sent(
        serve: Serve, transport: HttpTransport) -> None:
    server = serve(_close_after_reading)
    with pytest.raises(TransportError) as info:
        transport.post(server.url + "?token=SECRET-IN-QUERY", "getLead", "<a/>")
    assert len(server.requests) == 1
    assert info.value.sent is True
    assert str(info.value) == "the server closed the connection without replying"


def _never_answer(h: Handler) -> None:
    h.server.owner.stop.wait(10)
    h.close_connection = True


def test_a_read_timeout_leaves_the_request_sent(serve: Serve) -> None:
    server = serve(_never_answer)
    t = HttpTransport(Timeouts(connect=2, read=0.3))
    started = time.monotonic()
    with pytest.raises(TransportError) as info:
        t.post(server.url + "?token=SECRET-IN-QUERY", "getLead", "<a/>")
    elapsed = time.monotonic() - started
    t.close()
    assert info.value.sent is True and info.value.http_status is None
    assert str(info.value) == "nothing received within the read timeout (0.3s)"
    assert elapsed < 3


def _reset_after_headers(h: Handler) -> None:
    h.send_response(200)
    h.send_header("Content-Type", XML)
    h.send_header("Content-Length", "1000")
    h.end_headers()
    h.wfile.write(b"<SOAP-ENV:Envelope")
    h.wfile.flush()
    h.close_connection = True  # 18 of 1000 bytes, then EOF


def test_a_reply_cut_short_is_a_sent_transport_error(serve: Serve, transport: HttpTransport) -> None:
    server = serve(_reset_after_headers)
    with pytest.raises(TransportError) as info:
        transport.post(server.url, "getLead", "<a/>")
    assert info.value.sent is True
    assert "SECRET" not in str(info.value) and "127.0.0.1" not in str(info.value)


def test_a_connection_whose_write_failed_is_not_kept(serve: Serve, transport: HttpTransport,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A write reported broken is read for the server's answer, but the connection, whatever
    that answer says, carries no other request: what the server made of the rest is unknown."""
    import http.client

    real_request = http.client.HTTPConnection.request
    failed: list[bool] = []

    def request_then_fail(conn: http.client.HTTPConnection, *args: Any, **kwargs: Any) -> None:
        real_request(conn, *args, **kwargs)
        if not failed:  # (all written, but the write said otherwise)
            failed.append(True)
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(http.client.HTTPConnection, "request", request_then_fail)
    server = serve(reply_with())
    assert transport.post(server.url, "getLead", "<a/>").body == SOAP_OK
    assert transport.post(server.url, "getLead", "<b/>").body == SOAP_OK
    assert (len(server.requests), server.accepts) == (2, 2)


def _endless_trailer(h: Handler) -> None:
    h.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nTransfer-Encoding: chunked\r\n"
                  b"\r\n4\r\n<a/>\r\n0\r\n")
    while not h.server.owner.stop.wait(0.01):  # trailer lines, each well within `read`
        h.wfile.write(b"X-Trailer: 1\r\n")
        h.wfile.flush()
    h.close_connection = True


def _endless_continue(h: Handler) -> None:
    while not h.server.owner.stop.wait(0.01):  # 100 Continue, again and again
        h.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        h.wfile.flush()
    h.close_connection = True


@pytest.mark.parametrize("reply", [_endless_trailer, _endless_continue])
def test_lines_that_never_end_the_reply_stop_at_the_total_timeout(serve: Serve,
                                                                  reply: Reply) -> None:
    server = serve(reply)
    t = HttpTransport(Timeouts(connect=2, read=2, total=0.5))
    started = time.monotonic()
    with pytest.raises(TransportError, match=r"^the reply did not finish within 0.5s$") as info:
        t.post(server.url, "getLead", "<a/>")
    t.close()
    assert info.value.sent is True and time.monotonic() - started < 3
    assert info.value.http_status == (200 if reply is _endless_trailer else None)


# -- the reply: size cap and Content-Encoding ------------------------------------------------

def _claims_100_mb_then_stalls(h: Handler) -> None:
    h.send_response(200)
    h.send_header("Content-Type", XML)
    h.send_header("Content-Length", str(100 * 1024 * 1024))
    h.end_headers()
    h.wfile.write(b"<x>")
    h.wfile.flush()
    h.server.owner.stop.wait(10)  # reading would hit the read timeout, not the cap


def test_a_content_length_over_the_cap_is_refused_before_reading(serve: Serve,
                                                                  transport: HttpTransport) -> None:
    server = serve(_claims_100_mb_then_stalls)  # transport's read timeout: 2s
    started = time.monotonic()
    with pytest.raises(ResponseError, match=r"larger than 16 MiB \(Content-Length 104857600\)"):
        transport.post(server.url, "getLead", "<a/>")
    assert time.monotonic() - started < 1


def test_a_chunked_body_stops_at_the_cap(serve: Serve, transport: HttpTransport) -> None:
    block = b"x" * (1024 * 1024)
    server = serve(lambda h: stream(h, iter([block] * 100)))
    with pytest.raises(ResponseError, match="larger than 16 MiB; refused"):
        transport.post(server.url, "getLead", "<a/>")


def test_a_body_exactly_at_the_cap_is_accepted(serve: Serve, transport: HttpTransport) -> None:
    server = serve(reply_with(body=b"y" * MAX_REPLY_BYTES))
    assert len(transport.post(server.url, "getLead", "<a/>").body) == MAX_REPLY_BYTES


def test_an_oversized_5xx_stays_a_transport_error(serve: Serve, transport: HttpTransport) -> None:
    block = b"x" * (1024 * 1024)
    server = serve(lambda h: stream(h, iter([block] * 40), status=503))
    with pytest.raises(TransportError) as info:
        transport.post(server.url, "getLead", "<a/>")
    assert (info.value.sent, info.value.http_status) == (True, 503)


def _deflate_raw(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


@pytest.mark.parametrize(("encoding", "encode"), [
    ("gzip", gzip.compress),
    ("GZIP", lambda b: gzip.compress(b[:100]) + gzip.compress(b[100:])),  # two members
    ("deflate", zlib.compress),
    ("deflate", _deflate_raw),
    ("identity", lambda b: b),
])
def test_encoded_replies_are_decoded(serve: Serve, transport: HttpTransport, encoding: str,
                                     encode: Callable[[bytes], bytes]) -> None:
    server = serve(reply_with(body=encode(SOAP_OK), headers=[("Content-Encoding", encoding)]))
    assert transport.post(server.url, "getLead", "<a/>").body == SOAP_OK


@pytest.mark.parametrize(("encoding", "body", "message"), [
    ("gzip", b"\x1f\x8b\x08\x00garbage-garbage", "gzip encoding is corrupt"),
    ("gzip", gzip.compress(SOAP_OK)[:-20], "gzip stream is truncated"),
    ("br", b"\x00\x01", "Content-Encoding 'br' was not asked for"),
])
def test_badly_encoded_replies_are_response_errors(serve: Serve, transport: HttpTransport,
                                                   encoding: str, body: bytes,
                                                   message: str) -> None:
    server = serve(reply_with(body=body, headers=[("Content-Encoding", encoding)]))
    with pytest.raises(ResponseError, match=message):
        transport.post(server.url, "getLead", "<a/>")


def test_a_gzip_bomb_stops_at_the_cap_on_decoded_bytes(serve: Serve, transport: HttpTransport) -> None:
    c = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    first = c.compress(bytes(1 << 20)) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(bytes(1 << 20)) + c.flush(zlib.Z_FULL_FLUSH)  # 1 MiB of zeros, ~1 KB
    body = first + block * 200  # ~200 KB that decode to 201 MiB
    server = serve(reply_with(body=body, headers=[("Content-Encoding", "gzip")]))
    with pytest.raises(ResponseError, match="larger than 16 MiB; refused"):
        transport.post(server.url, "getLead", "<a/>")
