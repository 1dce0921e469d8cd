"""The operation registry: every Marketo operation the runner drives, one module each.

Everything the runner knows about an operation lives in its module's `OPERATION` record
(runner/operations/spec.py): parameters' defaults, Marketo's rules, outputs, batching,
idempotency, the plan's summary line, and its encoding per API. Outside runner/sandbox/, no
other module names an operation; they ask this registry.
"""

from __future__ import annotations

from runner.operations import (
    get_campaigns_for_source,
    get_lead,
    import_to_list,
    list_operation,
    request_campaign,
    schedule_campaign,
    sync_lead,
    sync_multiple_leads,
)
from runner.operations.spec import Operation

# In the order the README and the schema list them.
REGISTRY: dict[str, Operation] = {op.name: op for op in (
    sync_lead.OPERATION,
    sync_multiple_leads.OPERATION,
    request_campaign.OPERATION,
    schedule_campaign.OPERATION,
    get_lead.OPERATION,
    get_campaigns_for_source.OPERATION,
    import_to_list.OPERATION,
    list_operation.OPERATION,
)}
NAMES: tuple[str, ...] = tuple(REGISTRY)


def get(name: str) -> Operation:
    """The operation's record; KeyError for a name the registry does not hold (a bug: the
    schema admits only registered names)."""
    return REGISTRY[name]
