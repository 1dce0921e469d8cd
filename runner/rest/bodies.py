"""The JSON Schemas of every REST request body the runner sends (schemas/rest/), and the
check that refuses a body before it is sent: over REST there is no XSD, so the bodies are
held to schemas written from marketo-rest-reference.md instead. Rules a schema cannot say
(each Sync Leads record carries its lookup field) are checked here too.

Checked before each send, so the check is on the hot path: jsonschemas.messages tries the
schema's compiled check first (runner/schema_compiled.py: ~45 ms -> ~2.4 ms for a 300-record
Sync Leads body), and jsonschema gives the verdict and messages for anything it fails.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runner import jsonschemas
from runner.errors import RestError
from runner.resources import schemas_dir

SYNC_LEADS = "sync-leads"
TRIGGER = "trigger-campaign"
SCHEDULE = "schedule-campaign"
LIST_LEADS = "list-leads"
NAMES = (SYNC_LEADS, TRIGGER, SCHEDULE, LIST_LEADS)
_TITLES = {SYNC_LEADS: "Sync Leads", TRIGGER: "Request Campaign", SCHEDULE: "Schedule Campaign",
           LIST_LEADS: "Add to List / Remove from List"}
SHOWN = 5  # problems named in the error


def path(name: str) -> Path:
    if name not in NAMES:
        raise KeyError(f"no REST body schema {name!r}")
    return schemas_dir() / "rest" / f"{name}.schema.json"


def problems(name: str, body: Any) -> list[str]:
    """`$.where: what` for each way `body` breaks its schema (empty: it may be sent)."""
    found = jsonschemas.messages(path(name), body, limit=SHOWN, inline=True)
    if name == SYNC_LEADS and not found:
        found = _lookup_problems(body)
    return found


def check(name: str, body: Any) -> None:
    """RestError (nothing sent) when `body` breaks its schema."""
    found = problems(name, body)
    if found:
        raise RestError(None, f"the {_TITLES[name]} request body breaks "
                              f"schemas/rest/{name}.schema.json, so it was not sent: "
                              + "; ".join(found[:SHOWN]))


def _lookup_problems(body: dict[str, Any]) -> list[str]:
    # Marketo: the lookup field "must be present in every input record" (§3.1).
    if body.get("action") not in ("createOrUpdate", "updateOnly"):
        return []
    lookup = body.get("lookupField", "email")
    return [f"$.input[{i}]: the lookup field {lookup!r} is missing"
            for i, record in enumerate(body.get("input") or [])
            if record.get(lookup) in (None, "")][:SHOWN]
