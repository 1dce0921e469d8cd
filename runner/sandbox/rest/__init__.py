"""The sandbox's REST twin: Marketo's REST API (Identity, leads, campaigns, smart campaign
assets) over the same store as the SOAP endpoint, on the same port.

Served under `/identity`, `/rest` and `/bulk` by server.py. The JSON shapes, error codes
and limits follow marketo-rest-reference.md; docs/sandbox.md ("REST") lists the endpoints,
the settings and every choice made where Marketo's behaviour is not documented.
"""

from __future__ import annotations

# Kept free of imports: the fixture reader loads rest.standard_fields while the sandbox's
# other modules are still being imported.
PREFIXES = ("/identity/", "/rest/", "/bulk/")  # what the REST twin answers
MAX_URI = 8 * 1024  # a longer request target is 414 (reference §1.3)
MAX_BODY = 1024 * 1024  # a larger body is 413; 10 MB on /bulk
MAX_BULK_BODY = 10 * 1024 * 1024
