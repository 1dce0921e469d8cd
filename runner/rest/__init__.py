"""Marketo's REST API as a transport for the same playbooks (marketo-rest-reference.md).

    session = RestSession(RestTarget(rest_endpoint, identity_endpoint, client_id,
                                     Secret(client_secret)), HttpTransport())
    outputs = session.send("syncLead", params)   # the SOAP reader's outputs, over REST

Modules, each owning one thing: identity (tokens), envelope (reading a reply), client (one
call: auth, replay, `_method=GET`, paging), bodies (JSON Schemas of what is sent), fields
(SOAP -> REST field names), lookups (campaign ids, lead ids, partitions), api (the session
the operations' REST encodings call). HTTP itself is runner.transport's.
"""

from __future__ import annotations

from runner.rest.api import RestSession, RestTarget
from runner.rest.identity import PACED, CredentialError

__all__ = ["PACED", "CredentialError", "RestSession", "RestTarget"]
