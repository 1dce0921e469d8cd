"""The AuthenticationHeader check: user, signature, then the timestamp's freshness.

The signature is HMAC-SHA1 over requestTimestamp + mktowsUserId exactly as sent (never a
re-formatted date). Marketo's 20014 says nothing about which check failed, and neither
does the sandbox's reply; the reason goes to the request log only (`Fault.note`).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import lru_cache
from xml.etree.ElementTree import Element

from runner.sandbox.faults import Fault
from runner.sandbox.fixture import Fixture
from runner.sandbox.params import text
from runner.soap.auth import sign
from runner.soap.xsd import ServiceSchema

_UNSEEN = "<not validated yet>"


@lru_cache(maxsize=64)
def _signature(stamp: str, user: str, key: str) -> str:
    """The signature the header must carry (`runner.soap.auth.verify`'s, which compares it
    the same way): a client signs with whole-second timestamps, so many requests in a row
    carry the same one."""
    return sign(stamp, user, key)


class Authenticator:
    def __init__(self, fixture: Fixture, *, strict: bool, window: timedelta,
                 clock: Callable[[], datetime]) -> None:
        self.fixture = fixture
        self.strict = strict
        self.window = window
        self.clock = clock
        self._shapes: dict[tuple[object, ...], str | None] = {}

    def check(self, auth: Element | None, schema: ServiceSchema) -> str:
        """The authenticated mktowsUserId, or a 20014 / 20016 fault. `schema` is the API
        version's: in strict mode the header must be valid against it (3_1's partnerId is
        not a 2_2 element)."""
        if auth is None:
            raise Fault(20014, note="no AuthenticationHeader in the SOAP Header")
        if self.strict and (error := self._invalid(auth, schema)):
            raise Fault(20014, note=f"invalid AuthenticationHeader: {error}")
        user = text(auth, "mktowsUserId") or ""
        signature = (text(auth, "requestSignature") or "").strip()
        stamp = text(auth, "requestTimestamp") or ""
        key = self.fixture.encryption_key(user)
        if key is None:
            raise Fault(20014, note=f"unknown mktowsUserId {user!r}")
        if not hmac.compare_digest(_signature(stamp, user, key), signature):
            raise Fault(20014, note="requestSignature does not match")
        self._check_timestamp(stamp)
        return user

    def _invalid(self, auth: Element, schema: ServiceSchema) -> str | None:
        """The schema's complaint about the header, memoised by its shape: validity depends
        only on which children appear in which order, their attributes, and the text of
        `mode` (xs:int; the others are xs:string). Schema validation costs more than the
        rest of a small request, and every request carries this same header. The version's
        schema is part of the key."""
        shape = (id(schema), auth.tag, tuple(auth.attrib.items()), tuple(
            (c.tag, tuple(c.attrib.items()), len(c), c.text if c.tag == "mode" else None)
            for c in auth))
        found = self._shapes.get(shape, _UNSEEN)  # one lookup: another thread may clear()
        if found is not _UNSEEN:
            return found
        errors = schema.errors("AuthenticationHeader", auth)
        if len(self._shapes) > 256:
            self._shapes.clear()  # a client inventing shapes cannot grow this forever
        self._shapes[shape] = found = errors[0] if errors else None
        return found

    def _check_timestamp(self, stamp: str) -> None:
        try:
            when = datetime.fromisoformat(stamp.strip())
        except ValueError:
            when = None
        if when is None or when.tzinfo is None:
            raise Fault(20016, f"Request Expired: requestTimestamp {stamp!r} is not a W3C"
                               " date-time with a UTC offset")
        # Both directions: a clock far ahead is as wrong as a replayed old signature.
        skew = abs(self.clock() - when)
        if skew > self.window:
            raise Fault(20016, f"Request Expired: requestTimestamp {stamp} is"
                               f" {int(skew.total_seconds())} s from the server's clock"
                               f" (allowed: {int(self.window.total_seconds())} s)")
