"""Identity: OAuth 2.0 client credentials for the REST API (marketo-rest-reference.md §2).

`GET <identity>/oauth/token?grant_type=client_credentials&client_id=…&client_secret=…`
answers `{access_token, token_type, expires_in, scope}`; asking again before expiry returns
the same token with its remaining life. So the token is cached and reused until fewer than
`margin_s` seconds remain; `refresh()` asks again whatever the local clock says (a 601/602
proves the clock wrong). A token handed out in its last seconds (`expires_in` at most
`stale_s`, even 0) is waited out and asked for again, a few times at most.

Token requests do not count against Marketo's rate or daily quota (§2.1): they are not paced
(PACED), and a failed one acted on nothing (its TransportError is sent=False). Identity's
401 is a CredentialError naming the client id; the secret and the token are Secrets and
never appear in a message (server text is masked and clipped).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode

from runner.errors import ResponseError, RestError, RunnerError, TransportError
from runner.model import HttpReply
from runner.rest.envelope import clip, parse
from runner.secrets import Redactor, Secret

PACED = False  # token requests are free of Marketo's rate and quota: a pacer skips them
TOKEN_PATH = "/oauth/token"
STALE_TRIES = 3  # a dying token is waited out and asked for again at most this many times


class CredentialError(RestError):
    """Identity refused the client credentials (HTTP 401): a permanent failure."""


class Http(Protocol):
    def request(self, method: str, url: str, *, headers: dict[str, str],
                body: bytes | None = None, content_type: str | None = None) -> HttpReply: ...


@dataclass(frozen=True)
class _Token:
    value: Secret
    renew_at: float  # on the monotonic clock: ask Identity again after this


class Identity:
    def __init__(self, identity_url: str, client_id: str, client_secret: Secret,
                 transport: Http, *, partner_id: str | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, margin_s: float = 60.0,
                 stale_s: float = 30.0, on_token: Callable[[str], None] | None = None) -> None:
        self.url = identity_url.rstrip("/") + TOKEN_PATH
        self.client_id = client_id
        self._secret = Secret(client_secret)
        self._partner_id = partner_id
        self.transport = transport
        self.clock = clock
        self.sleep = sleep
        self.margin_s = margin_s
        self.stale_s = stale_s
        self.on_token = on_token  # e.g. the run's redactor learns every token
        self.requests = 0  # token requests made (they are not API calls)
        self._mask = Redactor([self._secret])
        self._lock = threading.Lock()
        self._token: _Token | None = None

    def token(self) -> Secret:
        """The cached token, or a new one when it is (nearly) used up."""
        with self._lock:
            if self._token is None or self.clock() >= self._token.renew_at:
                self._token = self._fetch()
            return self._token.value

    def refresh(self, stale: str | None = None) -> Secret:
        """A token other than `stale` if Identity has one (after a 601/602): asked for whatever
        the local clock says, unless another thread already replaced `stale`."""
        with self._lock:
            if self._token is not None and stale is not None and self._token.value != stale:
                return self._token.value
            self._token = self._fetch()
            return self._token.value

    def _fetch(self) -> _Token:
        for attempt in range(1, STALE_TRIES + 1):
            asked = self.clock()
            value, left = self._ask()
            if left > self.stale_s or attempt == STALE_TRIES:
                # Renew `margin_s` before the end; a short-lived token is used to its end
                # (Identity would hand back the same one) and a 602 then renews it.
                ahead = left - self.margin_s if left > self.margin_s else left
                return _Token(value, asked + ahead)
            self.sleep(left + 1.0)  # the same token in its last seconds: outwait it
        raise AssertionError("unreachable")

    def _ask(self) -> tuple[Secret, float]:
        query = {"grant_type": "client_credentials", "client_id": self.client_id,
                 "client_secret": self._secret}
        if self._partner_id:
            query["partner_id"] = self._partner_id
        self.requests += 1
        try:
            reply = self.transport.request("GET", f"{self.url}?{urlencode(query)}",
                                           headers={"Accept": "application/json"})
        except TransportError as exc:  # the URL holds the secret: never quote it
            raise TransportError(f"token request: {exc}", sent=False,
                                 http_status=exc.http_status) from None
        if reply.status != 200:
            raise self._refused(reply)
        data = parse(reply, "Identity")
        value, left = data.get("access_token"), data.get("expires_in")
        if not isinstance(value, str) or not value.strip():
            raise ResponseError("Identity's reply has no access_token")
        if not isinstance(left, int | float) or isinstance(left, bool) or left < 0:
            raise ResponseError("Identity's reply has no usable expires_in")
        if self.on_token is not None:
            self.on_token(value)
        return Secret(value.strip()), float(left)

    def _refused(self, reply: HttpReply) -> RunnerError:
        described = self._described(reply)
        if reply.status == 401:
            return CredentialError(None, f"Marketo Identity refused the credentials of client "
                                         f"id {self.client_id!r}{described} (HTTP 401): check "
                                         "the client id and secret (Admin > LaunchPoint > "
                                         "View Details)", http_status=401)
        if reply.status >= 500:
            return TransportError(f"token request: HTTP {reply.status} from Identity",
                                  sent=False, http_status=reply.status)
        return RestError(None, f"Identity answered HTTP {reply.status} to the token request of "
                               f"client id {self.client_id!r}{described}",
                         http_status=reply.status)

    def _described(self, reply: HttpReply) -> str:
        """`: <error_description>` from an OAuth error body, masked and clipped."""
        try:
            data: dict[str, Any] = parse(reply, "Identity")
        except ResponseError:
            return ""
        text = data.get("error_description") or data.get("error")
        return f": {clip(self._mask(str(text)), 120)}" if text else ""
