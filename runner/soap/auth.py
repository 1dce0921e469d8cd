"""The AuthenticationHeader's timestamp and signature. Pure: the clock is passed in.

signature = lowercase hex HMAC-SHA1(key = encryption key as its literal characters,
                                    message = requestTimestamp + mktowsUserId)
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta, timezone


def w3c_timestamp(now: datetime) -> str:
    """`YYYY-MM-DDThh:mm:ss±hh:mm`, whole seconds; `now` must be timezone-aware.

    An offset with seconds (a historical local mean time, or a custom tzinfo) would print as
    `+05:30:17`, which is not the format: the same instant is written with the offset cut to
    whole minutes instead."""
    offset = now.utcoffset()
    if offset is None:
        raise ValueError("the request timestamp needs a timezone-aware datetime")
    if offset % timedelta(minutes=1):
        minutes = int(offset.total_seconds() // 60)
        now = now.astimezone(timezone(timedelta(minutes=minutes)))
    return now.replace(microsecond=0).isoformat()


def sign(timestamp: str, user_id: str, encryption_key: str) -> str:
    message = (timestamp + user_id).encode("utf-8")
    return hmac.new(encryption_key.encode("utf-8"), message, hashlib.sha1).hexdigest()


def verify(timestamp: str, user_id: str, encryption_key: str, signature: str) -> bool:
    return hmac.compare_digest(sign(timestamp, user_id, encryption_key), signature)
