"""The AuthenticationHeader's timestamp and signature. Pure: the clock is passed in.

signature = lowercase hex HMAC-SHA1(key = encryption key as its literal characters,
                                    message = requestTimestamp + mktowsUserId)
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime


def w3c_timestamp(now: datetime) -> str:
    """`YYYY-MM-DDThh:mm:ss±hh:mm`, whole seconds; `now` must be timezone-aware."""
    if now.tzinfo is None:
        raise ValueError("the request timestamp needs a timezone-aware datetime")
    return now.replace(microsecond=0).isoformat()


def sign(timestamp: str, user_id: str, encryption_key: str) -> str:
    message = (timestamp + user_id).encode("utf-8")
    return hmac.new(encryption_key.encode("utf-8"), message, hashlib.sha1).hexdigest()


def verify(timestamp: str, user_id: str, encryption_key: str, signature: str) -> bool:
    return hmac.compare_digest(sign(timestamp, user_id, encryption_key), signature)
