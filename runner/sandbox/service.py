"""The SOAP service: one request body in, one reply out. No HTTP here (see server.py).

Order of checks, each a Marketo fault (mktows-reference.md §8 item 11): well-formed SOAP
envelope (20012), AuthenticationHeader (20014, then 20016 for the timestamp), the limits
(20015, 20024, 20023; limits.py), a known `params<Op>` body element (20019) agreeing with
SOAPAction (20012), the body valid against the WSDL in strict mode (20012), then the
operation. Every request that gets here is logged in the store, faults included, in the
same transaction as the operation's writes: one commit per request.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from runner.sandbox import replies
from runner.sandbox.authn import Authenticator
from runner.sandbox.catalog import Catalog
from runner.sandbox.config import SandboxConfig
from runner.sandbox.faults import Fault
from runner.sandbox.fixture import Fixture
from runner.sandbox.injection import INJECTED_FAULT_CODES
from runner.sandbox.limits import Limits
from runner.sandbox.ops import HANDLERS, Call
from runner.sandbox.params import local_name, text
from runner.sandbox.store import RequestLog, Store, utc_now
from runner.soap.namespaces import MKTOWS, SOAP_ENV
from runner.soap.xsd import Binding, ServiceSchema


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str = replies.CONTENT_TYPE


class Service:
    """Answers mktows requests from a fixture and a store."""

    def __init__(self, schema: ServiceSchema, fixture: Fixture, store: Store,
                 config: SandboxConfig | None = None, *,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.schema = schema
        self.fixture = fixture
        self.store = store
        self.config = config or fixture.config
        self.clock = clock
        store.clock = clock
        self.catalog = Catalog(fixture, store)
        self.auth = Authenticator(fixture, schema, strict=self.config.strict,
                                  window=self.config.timestamp_window, clock=clock)
        self.limits = Limits(self.config, clock,
                             lambda start: store.counted_since(_iso(start)))
        # Only operations that are both in the WSDL and implemented here are served.
        self._bindings = {
            b.input_element: b for b in schema.bindings.values() if b.name in HANDLERS
        }

    def handle(self, body: bytes, soap_action: str | None = None, *, n: int | None = None,
               injected: str | None = None, delay: float = 0.0) -> Reply:
        """Answer one request. `n`, `injected` and `delay` come from the fault plan: an
        injected fault code is answered without processing; `delay` seconds are slept after
        the commit, while the call still counts as in flight."""
        log = RequestLog(None, n=n, injected=injected)
        try:
            header, params = _parse(body)
            binding = self._bindings.get(local_name(params))
            log = replace(log, operation=binding.name if binding else local_name(params))
            if injected in INJECTED_FAULT_CODES:
                code = INJECTED_FAULT_CODES[injected]
                raise Fault(code, f"{Fault(code).text} (injected by the sandbox)")
            user = self.auth.check(_header(header, "AuthenticationHeader"))
            log = replace(log, user_id=user, counted=True)
            self.limits.admit()
            try:
                reply = self._answer(header, params, binding, soap_action, log)
                if delay:
                    time.sleep(delay)
                return reply
            finally:
                self.limits.release()
        except Fault as fault:
            self._record(log, fault)
            return Reply(500, fault.envelope())
        except Exception:  # a sandbox bug: answer like Marketo's internal error, and say so
            traceback.print_exc(file=sys.stderr)
            internal = Fault(10001, "Internal error in the mktows sandbox",
                             note="internal error, see the server's stderr")
            self._record(log, internal)
            return Reply(500, internal.envelope())

    def record_injected(self, n: int, operation: str | None, kind: str) -> None:
        """Log a request the HTTP layer answered itself (HTTP 500/503, drop before)."""
        with self.store.transaction():
            self.store.record_request(RequestLog(operation, n=n, injected=kind,
                                                 detail="not processed"))

    def _record(self, log: RequestLog, fault: Fault) -> None:
        with self.store.transaction():
            self.store.record_request(replace(log, fault_code=fault.code,
                                              detail=fault.note or fault.message))

    def _answer(self, header: Element | None, params: Element, binding: Binding | None,
                soap_action: str | None, log: RequestLog) -> Reply:
        if params.tag.partition("}")[0] != f"{{{MKTOWS}":
            raise Fault(20012, f"Request not understood: body element {params.tag} is not in"
                               f" the {MKTOWS} namespace")
        if binding is None:
            raise Fault(20019, f"Unsupported operation: {local_name(params)}")
        _check_action(soap_action, binding)
        context = _header(header, "MktowsContextHeader")
        if "MktowsContextHeader" not in binding.headers:
            context = None  # not bound on this operation: ignored, as unknown headers are
        if self.config.strict:
            self._validate(binding.input_element, params)
            if context is not None:
                self._validate("MktowsContextHeader", context)
        call = Call(binding.name, params, self.store, self.fixture, self.config,
                    self.catalog, self.clock(), text(context, "targetWorkspace"))
        with self.store.transaction():
            try:
                with self.store.transaction():  # a savepoint: a fault undoes the writes
                    content = HANDLERS[binding.name](call)
            except Fault as fault:
                self.store.record_request(replace(log, fault_code=fault.code,
                                                  detail=fault.note or fault.message))
                return Reply(500, fault.envelope())
            self.store.record_request(replace(log, applied=True,
                                              detail="; ".join(call.notes) or None))
        return Reply(200, replies.envelope(binding.output_element, content))

    def _validate(self, element: str, elem: Element) -> None:
        errors = self.schema.errors(element, elem)
        if errors:
            raise Fault(20012, f"Request not understood: {errors[0]}")


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds")  # as the store writes it


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
