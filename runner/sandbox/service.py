"""The SOAP service: one request body in, one reply out. No HTTP here (see server.py).

Order of checks, each a Marketo fault (mktows-reference.md §8 item 11): well-formed SOAP
envelope (20012), AuthenticationHeader (20014, then 20016 for the timestamp), a known
`params<Op>` body element (20019) agreeing with SOAPAction (20012), the body valid against
the WSDL in strict mode (20012), then the operation itself. Every request that gets here
is logged in the store, faults included, so tests can count what the server received.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from runner.sandbox import replies
from runner.sandbox.faults import Fault
from runner.sandbox.fixture import Fixture
from runner.sandbox.ops import HANDLERS, Call
from runner.sandbox.params import local_name, text
from runner.sandbox.store import Store
from runner.soap.auth import verify
from runner.soap.namespaces import MKTOWS, SOAP_ENV
from runner.soap.xsd import Binding, ServiceSchema

# Marketo states no tolerance for requestTimestamp (§2.4); ±15 minutes is an assumption.
DEFAULT_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str = replies.CONTENT_TYPE


def utc_now() -> datetime:
    return datetime.now(UTC)


class Service:
    """Answers mktows requests from a fixture and a store."""

    def __init__(self, schema: ServiceSchema, fixture: Fixture, store: Store, *,
                 strict: bool = True, window: timedelta = DEFAULT_WINDOW,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.schema = schema
        self.fixture = fixture
        self.store = store
        self.strict = strict
        self.window = window
        self.clock = clock
        # Only operations that are both in the WSDL and implemented here are served.
        self._bindings = {
            b.input_element: b for b in schema.bindings.values() if b.name in HANDLERS
        }

    def handle(self, body: bytes, soap_action: str | None = None) -> Reply:
        operation: str | None = None
        try:
            header, params = _parse(body)
            binding = self._bindings.get(local_name(params))
            operation = binding.name if binding else local_name(params)
            content, output = self._answer(header, params, binding, soap_action)
            reply = Reply(200, replies.envelope(output, content))
            self.store.record_request(operation, None)
        except Fault as fault:
            self.store.record_request(operation, fault.code, fault.note or fault.message)
            reply = Reply(500, fault.envelope())
        except Exception:  # a sandbox bug: answer like Marketo's internal error, and say so
            traceback.print_exc(file=sys.stderr)
            reply = Reply(500, Fault(10001, "Internal error in the mktows sandbox").envelope())
            self.store.record_request(operation, 10001, "internal error, see the server's stderr")
        return reply

    def _answer(self, header: Element | None, params: Element, binding: Binding | None,
                soap_action: str | None) -> tuple[str, str]:
        self._authenticate(header)
        if params.tag.partition("}")[0] != f"{{{MKTOWS}":
            raise Fault(20012, f"Request not understood: body element {params.tag} is not in"
                               f" the {MKTOWS} namespace")
        if binding is None:
            raise Fault(20019, f"Unsupported operation: {local_name(params)}")
        _check_action(soap_action, binding)
        context = _header(header, "MktowsContextHeader")
        if "MktowsContextHeader" not in binding.headers:
            context = None  # not bound on this operation: ignored, as unknown headers are
        if self.strict:
            self._validate(binding.input_element, params)
            if context is not None:
                self._validate("MktowsContextHeader", context)
        call = Call(binding.name, params, self.store, self.fixture,
                    text(context, "targetWorkspace"))
        return HANDLERS[binding.name](call), binding.output_element

    def _validate(self, element: str, elem: Element) -> None:
        errors = self.schema.errors(element, elem)
        if errors:
            raise Fault(20012, f"Request not understood: {errors[0]}")

    def _authenticate(self, header: Element | None) -> None:
        auth = _header(header, "AuthenticationHeader")
        if auth is None:
            raise Fault(20014, note="no AuthenticationHeader in the SOAP Header")
        if self.strict and (errors := self.schema.errors("AuthenticationHeader", auth)):
            raise Fault(20014, note=f"invalid AuthenticationHeader: {errors[0]}")
        user = text(auth, "mktowsUserId") or ""
        signature = text(auth, "requestSignature") or ""
        stamp = text(auth, "requestTimestamp") or ""
        key = self.fixture.encryption_key(user)
        if key is None:
            raise Fault(20014, note=f"unknown mktowsUserId {user!r}")
        # The signature covers the timestamp exactly as sent, never a re-formatted date.
        if not verify(stamp, user, key, signature):
            raise Fault(20014, note="requestSignature does not match")
        self._check_timestamp(stamp)

    def _check_timestamp(self, stamp: str) -> None:
        try:
            when = datetime.fromisoformat(stamp.strip())
        except ValueError:
            when = None
        if when is None or when.tzinfo is None:
            raise Fault(20016, f"Request Expired: requestTimestamp {stamp!r} is not a W3C"
                               " date-time with a UTC offset")
        skew = abs(self.clock() - when)
        if skew > self.window:
            raise Fault(20016, f"Request Expired: requestTimestamp {stamp} is"
                               f" {int(skew.total_seconds())} s from the server's clock (allowed:"
                               f" {int(self.window.total_seconds())} s)")


def _parse(body: bytes) -> tuple[Element | None, Element]:
    """The SOAP Header (if any) and the Body's first element."""
    try:
        root = SafeET.fromstring(body)
    except (ParseError, DefusedXmlException) as exc:
        raise Fault(20012, f"Request not understood: not well-formed XML ({exc})") from None
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise Fault(20012, f"Request not understood: expected a SOAP 1.1 Envelope, got {root.tag}")
    soap_body = root.find(f"{{{SOAP_ENV}}}Body")
    params = next(iter(soap_body), None) if soap_body is not None else None
    if params is None:
        raise Fault(20012, "Request not understood: the SOAP Body is missing or empty")
    return root.find(f"{{{SOAP_ENV}}}Header"), params


def _header(header: Element | None, name: str) -> Element | None:
    return header.find(f"{{{MKTOWS}}}{name}") if header is not None else None


def _check_action(soap_action: str | None, binding: Binding) -> None:
    """SOAPAction is optional to the sandbox, but when given it must name the same operation."""
    action = (soap_action or "").strip().strip('"')
    if action and action != binding.soap_action:
        raise Fault(20012, f"Request not understood: SOAPAction {action!r} does not match the"
                           f" body element {binding.input_element}")
