"""Finding leads by one REST field's value: Get Leads' filterType and Sync Leads'
lookupField. Email and attribute values compare case-insensitively, ids and cookies exactly.
"""

from __future__ import annotations

import re

from runner.sandbox.rest.call import RestCall
from runner.sandbox.rest.envelope import RestError
from runner.sandbox.rest.fields import RestField
from runner.sandbox.store import Lead

# A Munchkin cookie (_mkto_trk): "id:<munchkin id>&token:_mch-<domain>-<time>-<random>".
COOKIE = re.compile(r"id:[\w-]+&token:_mch-[\w.-]+")


def find(call: RestCall, field: RestField, value: str) -> list[Lead]:
    """The leads whose `field` equals `value`, oldest first."""
    store = call.store
    if field.column == "id":
        if not value.strip().isdigit():
            raise RestError(1001, f"Invalid value '{value}'. Required of type 'integer'")
        found = store.get(int(value))
        return [found] if found else []
    if field.column == "email":
        return store.by_email(value)
    if field.column == "cookie":
        found = store.by_cookie(value)
        return [found] if found else []
    if field.column == "partition":
        partition = call.partitions.by_id(int(value)) if value.strip().isdigit() else None
        return store.by_partition(partition.name) if partition else []
    return store.by_field(field.key or field.rest, value)
