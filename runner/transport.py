"""HTTP for SOAP calls: one requests.Session, timeouts, TLS verification. The only importer of
requests.
"""

from __future__ import annotations

from dataclasses import dataclass

import requests

from runner.errors import TransportError
from runner.model import HttpReply
from runner.soap.namespaces import soap_action

MAX_REPLY_BYTES = 32 * 1024 * 1024  # a mktows reply is kilobytes; anything near this is hostile


@dataclass(frozen=True)
class Timeouts:
    connect: float = 10.0
    read: float = 60.0


class HttpTransport:
    """Posts envelopes over one keep-alive session (a new connection per call costs ~30%)."""

    def __init__(self, timeouts: Timeouts | None = None, verify: bool = True) -> None:
        self.timeouts = timeouts or Timeouts()
        self.session = requests.Session()
        self.session.verify = verify
        self.session.trust_env = False  # a stray HTTP(S)_PROXY must not see credentials

    def post(self, url: str, operation: str, envelope: str) -> HttpReply:
        headers = {
            "Content-Type": "text/xml; charset=UTF-8",
            "SOAPAction": soap_action(operation),
        }
        try:
            with self.session.post(
                url,
                data=envelope.encode("utf-8"),
                headers=headers,
                timeout=(self.timeouts.connect, self.timeouts.read),
                stream=True,
            ) as response:
                body = _read_capped(response)
                return HttpReply(response.status_code,
                                 response.headers.get("Content-Type", ""), body)
        except requests.exceptions.ConnectTimeout as exc:
            raise TransportError(f"connect timeout: {_why(exc)}", sent=False) from None
        except requests.exceptions.ConnectionError as exc:
            # A refused or unresolvable connection never carried the request; a reset after
            # connecting may have.
            sent = not _never_connected(exc)
            raise TransportError(f"connection failed: {_why(exc)}", sent=sent) from None
        except requests.exceptions.Timeout as exc:
            raise TransportError(f"read timeout: {_why(exc)}", sent=True) from None
        except requests.exceptions.RequestException as exc:
            raise TransportError(f"HTTP error: {_why(exc)}", sent=True) from None

    def close(self) -> None:
        self.session.close()


def _read_capped(response: requests.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(chunk_size=65536):
        size += len(chunk)
        if size > MAX_REPLY_BYTES:
            raise TransportError(f"reply larger than {MAX_REPLY_BYTES} bytes; refused",
                                 sent=True, http_status=response.status_code)
        chunks.append(chunk)
    return b"".join(chunks)


def _never_connected(exc: BaseException) -> bool:
    text = repr(exc)
    return any(s in text for s in ("NewConnectionError", "NameResolutionError",
                                   "Connection refused", "ConnectionRefusedError"))


def _why(exc: BaseException) -> str:
    # requests' messages embed the URL and pool internals; keep the last, most specific part.
    text = str(exc)
    return text.rsplit(": ", 1)[-1][:300] if text else type(exc).__name__
