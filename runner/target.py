"""Where a run sends: a SOAP endpoint with its user id and encryption key, or a REST instance
(runner.rest.api.RestTarget), from the playbook's target: or from the sandbox the command line
started; and the refusal of plain http:// to another host."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from runner.errors import UsageError
from runner.rest.api import RestTarget
from runner.secrets import Secret

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class Target:
    endpoint: str
    user_id: str
    encryption_key: Secret
    partner_id: str | None = None
    sandbox: bool = False  # the embedded sandbox (the console says so)


AnyTarget = Target | RestTarget


def endpoints(target: AnyTarget) -> tuple[str, ...]:
    if isinstance(target, RestTarget):
        return (target.rest_endpoint, target.identity_endpoint)
    return (target.endpoint,)


def secret(target: AnyTarget) -> Secret:
    """The credential every output must mask."""
    return target.client_secret if isinstance(target, RestTarget) else target.encryption_key


def check_endpoint(endpoint: str, allow_insecure_http: bool) -> None:
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"the endpoint {endpoint!r} is not an http(s) URL")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK and not allow_insecure_http:
        raise UsageError(f"refusing plain http:// to {parts.hostname}: the request signature "
                         "and your leads' data would cross the network unencrypted; use "
                         "https://, or --allow-insecure-http if you really mean it")
