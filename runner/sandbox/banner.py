"""The lines `mktows-run sandbox` prints about the REST twin: how to point a REST client at
it. The packaged fixture's secret is made up and printed; a secret from the user's own
fixture is theirs, and masked."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runner.sandbox import SandboxInfo

MASK = "********"


def rest_lines(info: SandboxInfo) -> list[str]:
    lines = [f"  REST endpoint:  {info.rest_endpoint}",
             f"  identity:       {info.identity_url}"]
    if info.client_id is None:
        return [*lines, "  REST clients:   none (add restClients: to the fixture)"]
    secret = info.client_secret if info.packaged_fixture else f"{MASK} (from your fixture)"
    return [*lines, f"  client id:      {info.client_id}", f"  client secret:  {secret}",
            f"  token:          GET {info.identity_url}/oauth/token?grant_type="
            "client_credentials&client_id=...&client_secret=..."]
