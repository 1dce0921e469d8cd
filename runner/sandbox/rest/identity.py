"""Identity: client-credential tokens and their life (marketo-rest-reference.md §2).

A token belongs to a client id. Asking again before it expires returns the same token with
its remaining life in `expires_in` (rounded down, so the last second reads 0); after that a
new token is made. Using a token: none at all is 603; its first use after expiry is 602 and
every later use 601 (§2.5), as is any string that was never a token. Tokens live in memory:
after a restart every old token is unknown (601), as a token from another instance would be.
"""

from __future__ import annotations

import math
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from runner.sandbox.fixture import RestClient
from runner.sandbox.rest.envelope import RestError

POD = "sb"  # the suffix after the UUID; Marketo's name a pod (`:int`, `:sj`, `:ab`)
_KEEP = 1024  # expired tokens remembered for their one 602; older ones read as unknown (601)


@dataclass
class _Token:
    client: RestClient
    expires_at: float  # epoch seconds


class IdentityError(Exception):
    """HTTP 401 with an OAuth-style body (reference §2.3)."""

    def __init__(self, error: str, description: str) -> None:
        self.error = error
        self.description = description
        super().__init__(f"{error}: {description}")

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class Identity:
    def __init__(self, clients: tuple[RestClient, ...], lifetime: float,
                 clock: Callable[[], datetime]) -> None:
        self.clients = {c.client_id: c for c in clients}
        self.lifetime = lifetime
        self.clock = clock
        self._lock = threading.Lock()
        self._current: dict[str, str] = {}  # client id -> its newest token
        self._tokens: dict[str, _Token] = {}

    def issue(self, params: dict[str, list[str]]) -> tuple[RestClient, dict[str, Any]]:
        """The token reply for `grant_type`, `client_id`, `client_secret`, or IdentityError."""
        def last(name: str) -> str:
            return (params.get(name) or [""])[-1]

        client = self.clients.get(last("client_id"))
        if client is None:
            raise IdentityError("invalid_client", "No client with requested id")
        if not secrets.compare_digest(last("client_secret").encode(),
                                      client.client_secret.encode()):
            raise IdentityError("invalid_client", "Bad client credentials")
        if last("grant_type") != "client_credentials":
            # Reference §9.2: a missing or wrong grant_type is 401 "unauthorized" (unverified).
            raise IdentityError("unauthorized", "Unsupported grant type")
        now = self.clock().timestamp()
        with self._lock:
            token = self._current.get(client.client_id)
            state = self._tokens.get(token) if token else None
            if token is None or state is None or now >= state.expires_at:
                token = f"{uuid.uuid4()}:{POD}"
                state = _Token(client, now + self.lifetime)
                self._current[client.client_id] = token
                self._tokens[token] = state
                if len(self._tokens) > _KEEP:  # oldest first: dicts keep insertion order
                    live = set(self._current.values())
                    for old in [t for t in self._tokens if t not in live][:len(self._tokens)
                                                                         - _KEEP]:
                        del self._tokens[old]
            remaining = max(0, math.floor(state.expires_at - now))
        return client, {"access_token": token, "token_type": "bearer", "expires_in": remaining,
                        "scope": client.api_user}

    def check(self, token: str | None) -> RestClient:
        """The client a request's token belongs to, or 603 / 602 / 601."""
        if token is None:
            raise RestError(603)
        now = self.clock().timestamp()
        with self._lock:
            state = self._tokens.get(token)
            if state is None:
                raise RestError(601)
            if now >= state.expires_at:
                # Reported once; forgotten after that, it answers 601 like any unknown string.
                del self._tokens[token]
                raise RestError(602)
            return state.client
