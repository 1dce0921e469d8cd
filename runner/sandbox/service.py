"""The SOAP service: one request body in, one reply out. No HTTP here (see server.py).

Order of checks, each a Marketo fault (mktows-reference.md §8 item 11): well-formed SOAP
envelope (20012), AuthenticationHeader (20014, then 20016 for the timestamp), the limits
(20015, 20024, 20023; limits.py), a known `params<Op>` body element (20019; a Marketo
operation the sandbox does not answer is `NotEmulated`) agreeing with SOAPAction (20012),
the body valid against the version's WSDL in strict mode (20012), then the operation.

By default the request is read as production read it (lenient.py): what the version's
schema declares is applied, anything else is ignored, and every ignored element is listed
in the request's log row. Every request that gets here is logged in the store, faults
included, in the same transaction as the operation's writes: one commit per request.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException

from runner.sandbox import lenient, replies
from runner.sandbox.authn import Authenticator
from runner.sandbox.catalog import Catalog
from runner.sandbox.config import SandboxConfig
from runner.sandbox.faults import Fault, NotEmulated
from runner.sandbox.fixture import Fixture
from runner.sandbox.injection import INJECTED_FAULT_CODES
from runner.sandbox.limits import Limits
from runner.sandbox.ops import HANDLERS, Call
from runner.sandbox.params import local_name, text
from runner.sandbox.store import RequestLog, Store, utc_now
from runner.sandbox.versions import LATEST, MARKETO_OPERATIONS, ApiVersion
from runner.soap import safexml
from runner.soap.namespaces import MKTOWS, SOAP_ENV
from runner.soap.xsd import Binding, Child, ServiceSchema

_AUTH = f"{{{MKTOWS}}}AuthenticationHeader"
_CONTEXT = f"{{{MKTOWS}}}MktowsContextHeader"


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str = replies.CONTENT_TYPE


class Service:
    """Answers mktows requests from a fixture and a store, for each API version served."""

    def __init__(self, versions: Mapping[str, ApiVersion], fixture: Fixture, store: Store,
                 config: SandboxConfig | None = None, *,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.versions = versions
        self.fixture = fixture
        self.store = store
        self.config = config or fixture.config
        self.clock = clock
        store.clock = clock
        self.catalog = Catalog(fixture, store)
        self.auth = Authenticator(fixture, strict=self.config.strict,
                                  window=self.config.timestamp_window, clock=clock)
        self.limits = Limits(self.config, clock,
                             lambda start: store.counted_since(_iso(start)))
        # Strict mode: the shapes of bodies the schema found valid (_validate). Validating
        # costs more than the rest of a small request, and a client repeats its shapes.
        self._valid: set[tuple[int, str, _Shape]] = set()

    def handle(self, body: bytes, soap_action: str | None = None, *, version: str = LATEST,
               n: int | None = None, injected: str | None = None, delay: float = 0.0) -> Reply:
        """Answer one request to `/soap/mktows/<version>`. `n`, `injected` and `delay` come
        from the fault plan: an injected fault code is answered without processing; `delay`
        seconds are slept after the commit, while the call still counts as in flight."""
        api = self.versions[version]
        log = RequestLog(None, n=n, injected=injected, version=version)
        ignored: list[str] = []  # what production would have dropped, for the log
        try:
            header, params, extra = _parse(body)
            ignored.extend(lenient.label(e) for e in extra)
            binding = api.bindings.get(local_name(params))
            log = RequestLog(binding.name if binding else local_name(params), n=n,
                             injected=injected, version=version)
            if injected in INJECTED_FAULT_CODES:
                code = INJECTED_FAULT_CODES[injected]
                raise Fault(code, f"{Fault(code).text} (injected by the sandbox)")
            auth = _header(header, _AUTH)
            if auth is not None and not self.config.strict:
                auth = self._lenient(api, "AuthenticationHeader", auth, ignored)
            user = self.auth.check(auth, api.schema)
            log = RequestLog(log.operation, n=n, user_id=user, injected=injected, counted=True,
                             version=version)
            self.limits.admit()
            try:
                reply = self._answer(api, header, params, binding, soap_action, log, ignored)
                if delay:
                    time.sleep(delay)
                return reply
            finally:
                self.limits.release()
        except Fault as fault:
            self._record(log, ignored, fault.code, fault.note or fault.message)
            return Reply(500, fault.envelope())
        except NotEmulated as missing:
            self._record(log, ignored, None, missing.faultstring)
            return Reply(500, missing.envelope())
        except Exception:  # a sandbox bug: answer like Marketo's internal error, and say so
            traceback.print_exc(file=sys.stderr)
            internal = Fault(10001, "Internal error in the mktows sandbox",
                             note="internal error, see the server's stderr")
            self._record(log, ignored, internal.code, internal.note)
            return Reply(500, internal.envelope())

    def record_injected(self, n: int, operation: str | None, kind: str,
                        version: str | None = None) -> None:
        """Log a request the HTTP layer answered itself (HTTP 500/503, drop before)."""
        with self.store.transaction():
            self.store.record_request(RequestLog(operation, n=n, injected=kind,
                                                 detail="not processed", version=version))

    def _record(self, log: RequestLog, ignored: list[str], code: int | None,
                detail: str | None) -> None:
        with self.store.transaction():
            self.store.record_request(_outcome(log, ignored, fault_code=code, detail=detail))

    def _answer(self, api: ApiVersion, header: Element | None, params: Element,
                binding: Binding | None, soap_action: str | None, log: RequestLog,
                ignored: list[str]) -> Reply:
        if params.tag.partition("}")[0] != f"{{{MKTOWS}":
            raise Fault(20012, f"Request not understood: body element {params.tag} is not in"
                               f" the {MKTOWS} namespace")
        if binding is None:
            _unanswered(api, local_name(params))
        _check_action(soap_action, binding)
        context = self._other_headers(header, binding, ignored)
        if self.config.strict:
            self._validate(api, binding.input_element, params)
            if context is not None:
                self._validate(api, "MktowsContextHeader", context)
        else:
            params = self._lenient(api, binding.input_element, params, ignored)
            if context is not None:
                context = self._lenient(api, "MktowsContextHeader", context, ignored)
        call = Call(binding.name, params, self.store, self.fixture, self.config,
                    self.catalog, self.clock(), text(context, "targetWorkspace"))
        with self.store.exclusive():  # the undo and the fault's log row, with nothing between
            try:
                with self.store.transaction():  # a fault rolls the handler's writes back
                    content = HANDLERS[binding.name](call)
                    self.store.record_request(_outcome(log, ignored, applied=True,
                                                       detail="; ".join(call.notes) or None))
            except Fault as fault:
                with self.store.transaction():
                    self.store.record_request(_outcome(log, ignored, fault_code=fault.code,
                                                       detail=fault.note or fault.message))
                return Reply(500, fault.envelope())
        return Reply(200, replies.envelope(binding.output_element, content))

    def _lenient(self, api: ApiVersion, name: str, elem: Element,
                 ignored: list[str]) -> Element:
        """`elem` as production read it; what it ignored goes to `ignored`."""
        copy, dropped = lenient.read(api.schema, name, elem)
        ignored.extend(dropped)
        return copy

    def _other_headers(self, header: Element | None, binding: Binding,
                       ignored: list[str]) -> Element | None:
        """The context header when the operation binds it. Any other header block is ignored,
        as SOAP ignores a header nobody asked to understand, and listed."""
        context = None
        auth = _header(header, _AUTH)
        for block in header if header is not None else ():
            if block is auth:
                continue
            if (block.tag == _CONTEXT and context is None
                    and "MktowsContextHeader" in binding.headers):
                context = block
                continue
            ignored.append(lenient.label(block))
        return context

    def _validate(self, api: ApiVersion, element: str, elem: Element) -> None:
        schema = api.schema
        shape = (id(schema), element, _shape(schema, schema.element(element), elem))
        if shape in self._valid:
            return  # a body of this shape was valid: so is this one (see _shape)
        errors = schema.errors(element, elem)
        if errors:  # never memoised: the message quotes this request
            raise Fault(20012, f"Request not understood: {errors[0]}")
        if len(self._valid) > 4096:
            self._valid.clear()  # bounded: a client inventing shapes cannot grow it forever
        self._valid.add(shape)


# An element as validity sees it: tag, attributes, text (or, for an xs:string leaf, only
# whether it has one), tail and children's shapes.
_Shape = tuple[str, tuple[tuple[str, str], ...], "str | bool | None", "str | None",
               tuple["_Shape", ...]]
_CHILDREN: dict[int, dict[str, Child]] = {}


def _shape(schema: ServiceSchema, decl: Any, elem: Element) -> _Shape:
    """What the schema's verdict on `elem` (as `decl`) depends on. The project's WSDL has no
    identity constraints, fixed values, mixed content or wildcards, so an xs:string leaf
    (found by its unqualified name in its parent's type, without attributes: no xsi:type or
    xsi:nil) is valid whatever its text: that text is left out, and two bodies differing
    only there get one verdict. Everything else is kept as it is."""
    key = id(decl.type) if decl is not None else 0
    known = _CHILDREN.get(key)
    if known is None:
        known = _CHILDREN[key] = ({c.name: c for c in schema.children(decl)}
                                  if decl is not None else {})
    parts: list[_Shape] = []
    for child in elem:
        found = known.get(child.tag)
        if found is not None and found.plain_text and not child.attrib and not len(child):
            parts.append((child.tag, (), bool(child.text), child.tail, ()))
        else:
            parts.append(_shape(schema, found.decl if found is not None else None, child))
    return (elem.tag, tuple(elem.attrib.items()), elem.text, elem.tail, tuple(parts))


def _outcome(log: RequestLog, ignored: list[str], *, fault_code: int | None = None,
             detail: str | None = None, applied: bool = False) -> RequestLog:
    """`log` with the request's outcome and what it ignored: dataclasses.replace written
    out, which walks every field by name (a test keeps the two the same)."""
    return RequestLog(log.operation, fault_code, detail, log.n, log.user_id, log.injected,
                      applied, log.counted, log.api, log.version, tuple(ignored))


def _unanswered(api: ApiVersion, element: str) -> NoReturn:
    """A body element no served operation takes: Marketo's operations are not emulated,
    anything else is Marketo's own answer to an unknown operation, 20019."""
    name = element.removeprefix("params")
    operation = name[:1].lower() + name[1:]
    if element.startswith("params") and operation in MARKETO_OPERATIONS:
        raise NotEmulated(operation, api.name, api.operations)
    raise Fault(20019, f"Unsupported operation: {element}")


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds")  # as the store writes it


def _parse(body: bytes) -> tuple[Element | None, Element, list[Element]]:
    """The SOAP Header (if any), the Body's first element, and any other Body elements."""
    try:
        root = safexml.parse(body, forbid_dtd=False)
    except (ParseError, DefusedXmlException) as exc:
        raise Fault(20012, f"Request not understood: not well-formed XML ({exc})") from None
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise Fault(20012, f"Request not understood: expected a SOAP 1.1 Envelope, got {root.tag}")
    soap_body = root.find(f"{{{SOAP_ENV}}}Body")
    content = list(soap_body) if soap_body is not None else []
    if not content:
        raise Fault(20012, "Request not understood: the SOAP Body is missing or empty")
    return root.find(f"{{{SOAP_ENV}}}Header"), content[0], content[1:]


def _header(header: Element | None, tag: str) -> Element | None:
    return header.find(tag) if header is not None else None


def _check_action(soap_action: str | None, binding: Binding) -> None:
    """SOAPAction is optional to the sandbox, but when given it must name the same operation."""
    action = (soap_action or "").strip().strip('"')
    if action and action != binding.soap_action:
        raise Fault(20012, f"Request not understood: SOAPAction {action!r} does not match the"
                           f" body element {binding.input_element}")
