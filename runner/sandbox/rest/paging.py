"""Position paging tokens (reference §4.4): opaque strings a client passes back unchanged.

A token holds the offset of the next page and a digest of the query it belongs to, so a
token used with another query, or garbled, is refused (record 1003; reference §10 leaves
the code open). A token is returned only while more results remain, with no `moreResult`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from typing import Any, TypeVar

from runner.sandbox.rest.envelope import RestError

T = TypeVar("T")
MAX_BATCH = 300


def _digest(query: Sequence[Any]) -> str:
    return hashlib.sha256(repr(tuple(query)).encode()).hexdigest()[:16]


def encode(offset: int, query: Sequence[Any]) -> str:
    raw = f"{offset}:{_digest(query)}".encode()
    return base64.b32encode(raw).decode().rstrip("=")


def decode(token: str, query: Sequence[Any]) -> int:
    try:
        raw = base64.b32decode(token + "=" * (-len(token) % 8)).decode()
        offset, _, digest = raw.partition(":")
        if digest == _digest(query) and offset.isdigit():
            return int(offset)
    except (binascii.Error, ValueError):
        pass
    raise RestError(1003, f"Invalid nextPageToken '{token}'")


def batch_size(value: str | None, limit: int = MAX_BATCH) -> int:
    if value is None or value == "":
        return limit
    if not value.isdigit() or not 1 <= int(value) <= limit:
        raise RestError(1003, f"Invalid batchSize '{value}': 1 to {limit}")
    return int(value)


def page(items: Sequence[T], token: str | None, size: int, query: Sequence[Any]
         ) -> tuple[list[T], dict[str, str]]:
    """One page of `items` and the extras for the reply (`nextPageToken` while more remain)."""
    start = decode(token, query) if token else 0
    chunk = list(items[start:start + size])
    more = start + size < len(items)
    return chunk, ({"nextPageToken": encode(start + size, query)} if more else {})
