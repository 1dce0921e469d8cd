"""The service description: the WSDL's schema and bindings, loaded once with xmlschema.

The only importer of xmlschema. Building the schema from the WSDL costs ~0.3 s, most of it
xmlschema's own meta-schema; a pickle in the user's cache directory, keyed by the WSDL's
sha256 and the xmlschema and Python versions, brings that down to ~0.07 s per process.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import sys
import urllib.request
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree as ET

import xmlschema
from xmlschema.extras.wsdl import Wsdl11Document

from runner.errors import WsdlError
from runner.soap.namespaces import MKTOWS

if TYPE_CHECKING:
    from runner.soap.envelope import Body

_CACHE_FORMAT = 1
_XS_STRING = "{http://www.w3.org/2001/XMLSchema}string"
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class Binding:
    """What the WSDL's binding says about one operation."""

    name: str
    soap_action: str
    input_element: str  # local name of the body element, e.g. "paramsSyncLead"
    output_element: str
    headers: tuple[str, ...]  # header element local names bound on the input


@dataclass(frozen=True)
class Child:
    """One element of a complex type's sequence, in schema order."""

    name: str
    min_occurs: int
    max_occurs: int | None
    nillable: bool
    decl: Any  # the XsdElement
    plain_text: bool = False  # xs:string: any legal text is valid (checked once per body)


class ServiceSchema:
    """A loaded WSDL: its global mktows elements and its operations."""

    def __init__(self, source: str, sha256: str, elements: dict[str, Any],
                 bindings: dict[str, Binding]) -> None:
        self.source = source
        self.sha256 = sha256
        self.elements = elements
        self.bindings = bindings
        self._children: dict[int, tuple[Child, ...]] = {}
        self._values: dict[tuple[int, str], bool] = {}
        self._names: dict[int, frozenset[str]] = {}
        self._layouts: dict[int, tuple[tuple[Child, ...], frozenset[str]]] = {}
        self._valid_shapes: set[tuple[str, tuple[Any, ...]]] = set()

    def element(self, name: str) -> Any:
        return self.elements[name]

    def children(self, decl: Any) -> tuple[Child, ...]:
        """The child elements of an element declaration's complex type, in sequence order."""
        key = id(decl.type)
        found = self._children.get(key)
        if found is None:
            found = ()
            if not decl.type.is_simple() and decl.type.content is not None and (
                not decl.type.has_simple_content()
            ):
                found = tuple(
                    Child(c.local_name, c.min_occurs, c.max_occurs, c.nillable, c,
                          c.type.name == _XS_STRING)
                    for c in decl.type.content.iter_elements()
                )
            self._children[key] = found
        return found

    def layout(self, decl: Any) -> tuple[tuple[Child, ...], frozenset[str]]:
        """`children` and `child_names` in one lookup (the body writer's hot path)."""
        key = id(decl.type)
        found = self._layouts.get(key)
        if found is None:
            found = self._layouts[key] = (self.children(decl), self.child_names(decl))
        return found

    def child_names(self, decl: Any) -> frozenset[str]:
        key = id(decl.type)
        names = self._names.get(key)
        if names is None:
            names = self._names[key] = frozenset(c.name for c in self.children(decl))
        return names

    def value_error(self, decl: Any, text: str) -> str | None:
        """Why `text` is not a valid value of the element's simple type, or None."""
        kind = decl.type
        if _ILLEGAL_XML.search(text):
            return f"{text!r} has characters XML cannot carry"
        if kind.name == _XS_STRING:
            return None  # any legal text is an xs:string
        if kind.is_simple() or kind.has_simple_content():
            key = (id(kind), text)
            ok = self._values.get(key)
            if ok is None:
                ok = self._values[key] = bool(kind.is_valid(text))
                if len(self._values) > 100_000:
                    self._values.clear()  # bounded: values of a data file are unbounded
            if not ok:
                return f"{text!r} is not a valid {kind.local_name or 'value'}"
        return None

    def check_body(self, body: Body) -> list[str]:
        """Schema errors of a written body. A shape validated once needs no second walk:
        its values were each checked against their simple types while it was written."""
        if _ILLEGAL_XML.search(body.text):
            return ["the text holds characters XML cannot carry (control characters)"]
        key = (body.element, body.shape)
        if key in self._valid_shapes:
            return []
        found = self.errors(body.element, ET.fromstring(body.text))
        if not found:
            self._valid_shapes.add(key)
        return found

    def errors(self, element_name: str, elem: ET.Element) -> list[str]:
        """Why `elem` is not a valid `element_name`; empty when it is."""
        decl = self.elements[element_name]
        expected = f"{{{MKTOWS}}}{element_name}"
        if elem.tag != expected:
            return [f"expected element {element_name}, got {elem.tag}"]
        return [_describe(e) for e in decl.iter_errors(elem)]


def _describe(error: Any) -> str:
    path = (error.path or "").replace(f"{{{MKTOWS}}}", "")
    reason = error.reason or error.message
    return f"{path}: {reason}" if path else str(reason)


def _read(source: str) -> bytes:
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=30) as reply:
            return bytes(reply.read())
    return Path(source).read_bytes()


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mktows-run"


def _build(source: str, data: bytes) -> tuple[dict[str, Any], dict[str, Binding]]:
    is_url = source.startswith(("http://", "https://"))
    wsdl = Wsdl11Document(  # type: ignore[no-untyped-call]
        data.decode("utf-8") if is_url else source,
        validation="skip",  # the WSDL meta-schema check would double the load time
        base_url=source if is_url else None,
    )
    prefix = f"{{{MKTOWS}}}"
    elements = {
        name[len(prefix):]: decl
        for name, decl in wsdl.schema.maps.elements.items()
        if name.startswith(prefix)
    }
    bindings: dict[str, Binding] = {}
    for binding in wsdl.bindings.values():
        for (op_name, _, _), op in binding.operations.items():
            if op.input is None or op.output is None:
                continue
            in_parts = list(op.input.message.parts.values())
            out_parts = list(op.output.message.parts.values())
            headers = tuple(h.part.local_name for h in op.input.soap_headers if h.part is not None)
            bindings[op_name] = Binding(
                name=op_name,
                soap_action=op.soap_action or f"{MKTOWS}{op_name}",
                input_element=in_parts[0].local_name,
                output_element=out_parts[0].local_name,
                headers=headers,
            )
    return elements, bindings


@cache
def load(source: str) -> ServiceSchema:
    """Load a WSDL (path or URL) once per process, from the pickle cache when it is fresh;
    WsdlError when it cannot be read or loaded."""
    try:
        data = _read(source)
    except (OSError, ValueError) as exc:  # (URLError is an OSError)
        raise WsdlError(f"cannot read the WSDL {source}: {exc}") from None
    digest = hashlib.sha256(data).hexdigest()
    key = f"{digest[:32]}-xs{xmlschema.__version__}-py{sys.version_info[0]}{sys.version_info[1]}"
    cached = _cache_dir() / f"wsdl-{key}-v{_CACHE_FORMAT}.pickle"
    try:
        # Only ever unpickles a file mktows-run wrote into its own cache directory.
        elements, bindings = pickle.loads(cached.read_bytes())
    except (OSError, pickle.PickleError, EOFError, AttributeError, ValueError, TypeError):
        try:
            elements, bindings = _build(source, data)
        except (OSError, ValueError, SyntaxError, xmlschema.XMLSchemaException) as exc:
            raise WsdlError(f"cannot load the WSDL {source}: {exc}") from None
        _store(cached, (elements, bindings))
    return ServiceSchema(source, digest, elements, bindings)


def _store(path: Path, value: object) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(tmp, path)  # atomic: a concurrent reader sees the old or the new file
    except (OSError, pickle.PicklingError, RecursionError):
        pass  # a cache we cannot write only costs start-up time
