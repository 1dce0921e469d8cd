"""A hostile server on 127.0.0.1: whatever it answers, a run ends with a clean step failure
(exit 1, results.json written, a short message, no traceback), in bounded memory, without
reading local files or fetching anything.

Every case runs the real CLI on a one-step getLead playbook (an idempotent read, so a retry
policy may retry it); the replies that never end go through the transport directly, with
short Timeouts.
"""

from __future__ import annotations

import json
import resource
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from runner.errors import ResponseError, TransportError
from runner.model import HttpReply
from runner.operations import REGISTRY
from runner.soap import response
from runner.transport import MAX_REPLY_BYTES, HttpTransport, Timeouts
from tests.test_transport import SOAP_OK, XML, Handler, LocalServer, Reply, send, stream

pytestmark = pytest.mark.timeout(60)

MIB = 1024 * 1024
MARKER = "XXE-MARKER-7f3a9c"  # the content of a local file a reply tries to pull in

PLAYBOOK = """\
version: 1
name: Hostile server
target:
  endpoint: ${env.MKTOWS_ENDPOINT}
  userId: ${env.MKTOWS_USER_ID}
  encryptionKey: ${secret.MKTOWS_ENCRYPTION_KEY}
steps:
  - id: lookup
    getLead:
      leadKey: {keyType: EMAIL, keyValue: ada@example.com}
"""

ENVELOPE = ('<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:ns1="http://www.marketo.com/mktows/"><SOAP-ENV:Body><ns1:successGetLead>'
            "<result><count>1</count><leadRecordList><leadRecord><Id>7</Id><Email>{}</Email>"
            "</leadRecord></leadRecordList></result></ns1:successGetLead></SOAP-ENV:Body>"
            "</SOAP-ENV:Envelope>")


def _cli_flags() -> tuple[str, ...]:
    """No waiting between retries, where the CLI has retries (a case may be retried)."""
    from runner.cli import run

    names = {p.name for p in run.params}
    return ("--retry-backoff", "0") if "retry_backoff" in names else ()


# -- the payloads ------------------------------------------------------------------------------

def _xxe(marker_file: Path) -> Reply:
    doc = (f'<?xml version="1.0"?><!DOCTYPE SOAP-ENV:Envelope [<!ENTITY x SYSTEM '
           f'"{marker_file.as_uri()}">]>' + ENVELOPE.format("&x;"))
    return lambda h: send(h, body=doc.encode())


def _external_dtd(h: Handler) -> None:
    doc = (f'<?xml version="1.0"?><!DOCTYPE SOAP-ENV:Envelope SYSTEM '
           f'"http://127.0.0.1:{h.server.owner.port}/evil.dtd">' + ENVELOPE.format("&x;"))
    send(h, body=doc.encode())


def _billion_laughs() -> bytes:
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    return (f'<?xml version="1.0"?><!DOCTYPE SOAP-ENV:Envelope [{"".join(entities)}]>'
            + ENVELOPE.format("&lol9;")).encode()


_MIB_OF_X = b"x" * MIB


def _100_mb(chunked: bool) -> Reply:
    headers = [("Content-Type", XML)]
    if not chunked:
        headers.append(("Content-Length", str(100 * MIB)))
    return lambda h: stream(h, iter([_MIB_OF_X] * 100), headers=headers, chunked=chunked)


def _gzip_bomb() -> Reply:
    """~10 MB of gzip that decodes to ~10 GB of zeros: one gzip header, then the same ~1 KB
    fully flushed deflate block, each worth 1 MiB of zeros, 10,000 times."""
    c = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    first = c.compress(bytes(MIB)) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(bytes(MIB)) + c.flush(zlib.Z_FULL_FLUSH)
    thousand = block * 1000
    length = len(first) + 10 * len(thousand)
    headers = [("Content-Type", XML), ("Content-Encoding", "gzip"),
               ("Content-Length", str(length))]
    return lambda h: stream(h, iter([first] + [thousand] * 10), headers=headers, chunked=False)


def _element_flood() -> bytes:
    return ENVELOPE.format("<a/>" * 600_000).encode()  # 2.4 MB, 600k elements


FAULT_20103 = (b'<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" '
               b'xmlns:ns1="http://www.marketo.com/mktows/"><SOAP-ENV:Body><SOAP-ENV:Fault>'
               b"<faultcode>SOAP-ENV:Client</faultcode><faultstring>20103 - Lead not found"
               b"</faultstring><detail><ns1:serviceException><name>mktServiceException</name>"
               b"<message>Lead not found (20103)</message><code>20103</code>"
               b"</ns1:serviceException></detail></SOAP-ENV:Fault></SOAP-ENV:Body>"
               b"</SOAP-ENV:Envelope>")


@dataclass(frozen=True)
class Case:
    reply: Callable[[Path], Reply]
    expected: str  # in the step's fault message


CASES = {
    "xxe-local-file": Case(lambda tmp: _xxe(tmp / "secret.txt"), "DTD"),
    "external-dtd": Case(lambda tmp: _external_dtd, "DTD"),
    "billion-laughs": Case(lambda tmp: lambda h: send(h, body=_billion_laughs()), "DTD"),
    "100-mb-content-length": Case(lambda tmp: _100_mb(chunked=False), "larger than 16 MiB"),
    "100-mb-chunked": Case(lambda tmp: _100_mb(chunked=True), "larger than 16 MiB"),
    "gzip-bomb": Case(lambda tmp: _gzip_bomb(), "larger than 16 MiB"),
    "element-flood": Case(lambda tmp: lambda h: send(h, body=_element_flood()),
                          "more than 500000 elements"),
    "non-xml-200": Case(lambda tmp: lambda h: send(h, body=b"Hello! This is not XML."),
                        "not well-formed XML"),
    "html-502": Case(lambda tmp: lambda h: send(
        h, 502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html"),
        "HTTP 502 with Content-Type 'text/html'"),
    "json-content-type": Case(lambda tmp: lambda h: send(h, body=SOAP_OK,
                                                         content_type="application/json"),
                              "Content-Type 'application/json'"),
    "empty-200": Case(lambda tmp: lambda h: send(h, body=b""), "HTTP 200 with an empty body"),
    "no-content-type": Case(lambda tmp: lambda h: send(h, body=SOAP_OK, content_type=None),
                            "HTTP 200 without a Content-Type"),
}


@pytest.fixture
def measured(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[int, int]]]:
    """Per HttpTransport.post call: (tracemalloc peak, growth of the process's peak RSS)."""
    samples: list[tuple[int, int]] = []
    real_post = HttpTransport.post

    def post(self: HttpTransport, url: str, operation: str, envelope: str) -> HttpReply:
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        tracemalloc.start()
        try:
            return real_post(self, url, operation, envelope)
        finally:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
            samples.append((peak, rss_growth * 1024))  # ru_maxrss is in KiB on Linux

    monkeypatch.setattr(HttpTransport, "post", post)
    yield samples


@pytest.mark.parametrize("name", list(CASES))
def test_a_hostile_reply_is_a_clean_step_failure(name: str, run_cli: Any, tmp_path: Path,
                                                 measured: list[tuple[int, int]]) -> None:
    case = CASES[name]
    (tmp_path / "secret.txt").write_text(MARKER)
    (tmp_path / "hostile.yml").write_text(PLAYBOOK)
    with LocalServer(case.reply(tmp_path)) as server:
        started = time.monotonic()
        res = run_cli("hostile.yml", *_cli_flags(), env={
            "MKTOWS_ENDPOINT": server.url, "MKTOWS_USER_ID": "hostile_user",
            "MKTOWS_ENCRYPTION_KEY": "hostile-test-key-0123456789"})
        elapsed = time.monotonic() - started
    console = res.out + res.err
    assert res.code == 1, console
    assert "Traceback" not in console
    report_text = (tmp_path / "results.json").read_text()
    step = json.loads(report_text)["steps"][0]
    assert (step["id"], step["status"]) == ("lookup", "failed")
    message = step["fault"]["message"]
    assert case.expected in message
    assert len(message) < 200 and "\n" not in message, message
    assert MARKER not in console + report_text
    assert all(method == "POST" for method, *_ in server.requests)  # no DTD was fetched
    assert server.requests and measured
    for peak, rss_growth in measured:  # each attempt; 100 MB and 10 GB were on offer
        assert peak < 2 * MAX_REPLY_BYTES + 8 * MIB, f"{peak / MIB:.1f} MiB traced"
        assert rss_growth < 64 * MIB, f"peak RSS grew {rss_growth / MIB:.1f} MiB"
    assert elapsed < 5


def test_marketos_http_500_fault_is_still_a_fault(run_cli: Any, tmp_path: Path) -> None:
    (tmp_path / "hostile.yml").write_text(PLAYBOOK)
    with LocalServer(lambda h: send(h, 500, FAULT_20103)) as server:
        res = run_cli("hostile.yml", *_cli_flags(), env={
            "MKTOWS_ENDPOINT": server.url, "MKTOWS_USER_ID": "u",
            "MKTOWS_ENCRYPTION_KEY": "hostile-test-key-0123456789"})
    assert res.code == 1
    step = json.loads((tmp_path / "results.json").read_text())["steps"][0]
    assert step["status"] == "failed"
    assert step["fault"]["code"] == 20103
    assert len(server.requests) == 1  # a permanent fault is not retried


# -- replies that never end: the transport directly, with short timeouts -------------------------

def _stall(h: Handler) -> None:
    h.send_response(200)
    h.send_header("Content-Type", XML)
    h.send_header("Content-Length", "100000")
    h.end_headers()
    h.wfile.write(b"<SOAP-ENV:Envelope")
    h.wfile.flush()
    h.server.owner.stop.wait(10)


def _drip(h: Handler) -> None:
    """A byte every 20 ms, for ever: each read is well inside the read timeout."""
    h.send_response(200)
    h.send_header("Content-Type", XML)
    h.send_header("Content-Length", str(MIB))  # under the cap: only time can stop it
    h.end_headers()
    while not h.server.owner.stop.wait(0.02):
        h.wfile.write(b" ")
        h.wfile.flush()


def test_a_reply_that_stalls_ends_at_the_read_timeout() -> None:
    t = HttpTransport(Timeouts(connect=1, read=0.3, total=30))
    with LocalServer(_stall) as server:
        started = time.monotonic()
        with pytest.raises(TransportError) as info:
            t.post(server.url, "getLead", "<a/>")
        assert time.monotonic() - started < 2
    t.close()
    assert info.value.sent is True
    assert str(info.value) == "nothing received within the read timeout (0.3s)"


@pytest.mark.parametrize("chunked", [False, True])
def test_a_reply_that_drips_for_ever_ends_at_the_total_timeout(chunked: bool) -> None:
    t = HttpTransport(Timeouts(connect=1, read=0.3, total=0.6))

    def drip(h: Handler) -> None:
        if not chunked:
            _drip(h)
            return

        def bytes_for_ever() -> Iterator[bytes]:
            while not h.server.owner.stop.wait(0.02):
                yield b" "

        stream(h, bytes_for_ever())

    with LocalServer(drip) as server:
        started = time.monotonic()
        with pytest.raises(TransportError) as info:
            t.post(server.url, "getLead", "<a/>")
        elapsed = time.monotonic() - started
    t.close()
    assert (info.value.sent, info.value.http_status) == (True, 200)
    assert str(info.value) == "the reply did not finish within 0.6s"
    assert 0.6 <= elapsed < 2


# -- the parser on its own ----------------------------------------------------------------------

@pytest.mark.parametrize(("body", "message"), [
    (_billion_laughs(), "has a DTD"),
    (b'<?xml version="1.0"?><!DOCTYPE x SYSTEM "file:///etc/passwd"><x/>', "has a DTD"),
    (b'<?xml version="1.0"?><x xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include '
     b'href="file:///etc/passwd" parse="text"/></x>', "not a SOAP 1.1 envelope"),
    # 16 MiB of <y/> would be ~370 MB of tree without the element budget
    (b"<x>" + b"<y/>" * (MAX_REPLY_BYTES // 4 - 2) + b"</x>", "more than 500000 elements"),
])
def test_the_parser_refuses_dtds_and_element_floods(body: bytes, message: str) -> None:
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ResponseError, match=message):
        response.read(REGISTRY["getLead"].soap.read, "successGetLead", HttpReply(200, XML, body))
    rss_growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) * 1024
    assert rss_growth < 96 * MIB, f"peak RSS grew {rss_growth / MIB:.1f} MiB"


@pytest.mark.parametrize(("status", "content_type", "body", "error", "message"), [
    (503, "text/plain", b"", TransportError, "HTTP 503 with an empty body"),
    (500, XML, b"<oops/>", TransportError, "HTTP 500: the reply is not a SOAP 1.1 envelope"),
    (500, XML, SOAP_OK, TransportError, "HTTP 500 without a SOAP Fault"),
    (404, "text/html", b"<h1>no</h1>", ResponseError, "HTTP 404 with Content-Type 'text/html'"),
    (302, "text/html", b"", ResponseError, "redirect"),
    (200, "Application/SOAP+XML; charset=utf-8", SOAP_OK, None, ""),
    (200, "TEXT/XML", SOAP_OK, None, ""),
    (200, "text/xmlx", SOAP_OK, ResponseError, "Content-Type 'text/xmlx'"),
    (200, "text/\x1b[31mred", SOAP_OK, ResponseError, r"Content-Type 'text/\?\[31mred'"),
])
def test_status_and_content_type_decide_the_error(status: int, content_type: str, body: bytes,
                                                  error: type[Exception] | None,
                                                  message: str) -> None:
    reply = HttpReply(status, content_type, body)
    if error is None:
        assert response.read(REGISTRY["getLead"].soap.read, "successGetLead", reply)["leadId"] == 7
        return
    with pytest.raises(error, match=message) as info:
        response.read(REGISTRY["getLead"].soap.read, "successGetLead", reply)
    if isinstance(info.value, TransportError):
        assert (info.value.sent, info.value.http_status) == (True, status)
