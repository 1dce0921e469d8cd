"""The service description: the WSDL's schema and bindings, judged by xmlschema.

The only importer of xmlschema, and it imports it only when it needs an answer:

- `load(source)` is the WSDL as xmlschema loads it (its declarations are xmlschema's
  XsdElements; the sandbox reads them). Building it costs ~0.3 s, most of it xmlschema's
  meta-schema; a pickle in the user's cache directory, keyed by the WSDL's sha256 and the
  xmlschema and Python versions, brings that down to ~0.07 s (after ~0.12 s importing
  xmlschema).
- `load(source, lazy=True)` is the body writer's: a light description of the same elements
  (each type's children in order with their occurrences, a key per simple type, the
  bindings), read from JSON in the cache directory, and the verdicts xmlschema gave before
  (runner.verdicts): the body shapes it found valid, and whether each (simple type, value) it
  was asked about is valid. A warm `validate` never imports xmlschema; a shape or value never
  proven (or an invalid body, whose messages are xmlschema's) loads it, asks it, and the new
  verdicts are written back at exit. Both files are keyed by the WSDL's sha256, xmlschema's
  installed stamp, the runner's version and the format.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner import verdicts
from runner.errors import WsdlError
from runner.soap.namespaces import MKTOWS

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

    from runner.soap.envelope import Body

_CACHE_FORMAT = 1  # the pickle's
_DESCRIPTION_FORMAT = 1  # the light description's, and its verdicts'
_XS_STRING = "{http://www.w3.org/2001/XMLSchema}string"
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_VALUES_IN_MEMORY = 100_000  # per process: the values of a data file are unbounded


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
    decl: Any  # the XsdElement (a `Decl` in a lazy schema)
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
                if len(self._values) > _VALUES_IN_MEMORY:
                    self._values.clear()
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
        found = self.errors(body.element, _parse(body.text))
        if not found:
            self._valid_shapes.add(key)
        return found

    def errors(self, element_name: str, elem: Element) -> list[str]:
        """Why `elem` is not a valid `element_name`; empty when it is."""
        decl = self.elements[element_name]
        expected = f"{{{MKTOWS}}}{element_name}"
        if elem.tag != expected:
            return [f"expected element {element_name}, got {elem.tag}"]
        return [_describe_error(e) for e in decl.iter_errors(elem)]


def _parse(text: str) -> Element:
    from xml.etree import ElementTree  # only for a body no verdict covers

    return ElementTree.fromstring(text)


def _describe_error(error: Any) -> str:
    path = (error.path or "").replace(f"{{{MKTOWS}}}", "")
    reason = error.reason or error.message
    return f"{path}: {reason}" if path else str(reason)


# -- The light description ---------------------------------------------------------------------


class DeclType:
    """A type as the body writer needs it: `kind` is "string" (xs:string: any legal text),
    "simple" (a simple type, or simple content: `key` names it in the verdicts, `label` in
    messages) or "complex" (`children`, in sequence order). (Plain classes, not dataclasses:
    each dataclass costs ~0.5 ms of start-up.)"""

    __slots__ = ("children", "key", "kind", "label", "layout", "names")

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.key = ""
        self.label = "value"
        self.children: tuple[Child, ...] = ()
        self.names: frozenset[str] = frozenset()
        self.layout: tuple[tuple[Child, ...], frozenset[str]] = ((), frozenset())


class Decl:
    """An element declaration of the light description (what an XsdElement is to `load`)."""

    __slots__ = ("local_name", "type")

    def __init__(self, local_name: str, kind: DeclType) -> None:
        self.local_name = local_name
        self.type = kind

    def __repr__(self) -> str:
        return f"Decl({self.local_name!r})"


def _describe(elements: dict[str, Any], bindings: dict[str, Binding]) -> tuple[
        dict[str, Any], dict[str, Any]]:
    """The light description of xmlschema's elements (JSON: lists, strings, numbers) and,
    by type key, xmlschema's simple types it names. Deterministic: the same schema gives the
    same description and keys, which is what lets a key found in the cache be asked of a
    schema loaded later."""
    decl_ids: dict[int, int] = {}
    type_ids: dict[int, int] = {}
    decls: list[list[Any]] = []
    types: list[list[Any]] = []
    simple: dict[str, Any] = {}
    pending: list[Any] = []  # types numbered, not yet described (no recursion: no depth limit)

    def decl_of(decl: Any) -> int:
        found = decl_ids.get(id(decl))
        if found is None:
            found = decl_ids[id(decl)] = len(decls)
            decls.append([decl.local_name, type_of(decl.type)])
        return found

    def type_of(kind: Any) -> int:
        found = type_ids.get(id(kind))
        if found is None:
            found = type_ids[id(kind)] = len(types)
            types.append([])
            pending.append(kind)
        return found

    described = {name: decl_of(elements[name]) for name in sorted(elements)}
    done = 0
    while done < len(pending):
        kind = pending[done]
        number = type_ids[id(kind)]
        done += 1
        if kind.name == _XS_STRING:
            types[number] = ["string"]
        elif kind.is_simple() or kind.has_simple_content():
            key = kind.name or f"#{number}"  # an anonymous type: its place in this walk
            simple[key] = kind
            types[number] = ["simple", key, kind.local_name or "value"]
        else:
            children = [] if kind.content is None else [
                [c.local_name, c.min_occurs, c.max_occurs, c.nillable, decl_of(c),
                 c.type.name == _XS_STRING]
                for c in kind.content.iter_elements()]
            types[number] = ["complex", children]
    return {
        "elements": described, "decls": decls, "types": types,
        "bindings": {name: [b.soap_action, b.input_element, b.output_element, list(b.headers)]
                     for name, b in bindings.items()},
    }, simple


def _int(value: Any, low: int = 0, high: int | None = None) -> int:
    if type(value) is not int or value < low or (high is not None and value >= high):
        raise ValueError(value)
    return value


def _str(value: Any) -> str:
    if type(value) is not str:
        raise ValueError(value)
    return value


def _list(value: Any, length: int | None = None) -> list[Any]:
    if type(value) is not list or (length is not None and len(value) != length):
        raise ValueError(value)
    return value


def _light(description: Any) -> tuple[dict[str, Decl], dict[str, Binding]]:
    """The light elements and the bindings of a description; ValueError (or TypeError) for
    anything `_describe` would not have written."""
    if type(description) is not dict:
        raise ValueError("not a description")
    raw_types = _list(description["types"])
    raw_decls = _list(description["decls"])
    types = [DeclType("complex") for _ in raw_types]
    decls = [Decl(_str(_list(d, 2)[0]), types[_int(d[1], 0, len(types))]) for d in raw_decls]
    for kind, raw in zip(types, raw_types, strict=True):
        what = _str(_list(raw)[0])
        if what == "string":
            _list(raw, 1)
            kind.kind = "string"
        elif what == "simple":
            _list(raw, 3)
            kind.kind, kind.key, kind.label = "simple", _str(raw[1]), _str(raw[2])
        elif what == "complex":
            children = []
            for c in _list(_list(raw, 2)[1]):
                name, low, high, nillable, decl, plain = _list(c, 6)
                if high is not None:
                    _int(high)
                if type(nillable) is not bool or type(plain) is not bool:
                    raise ValueError(c)
                children.append(Child(_str(name), _int(low), high, nillable,
                                      decls[_int(decl, 0, len(decls))], plain))
            kind.children = tuple(children)
            kind.names = frozenset(c.name for c in children)
        else:
            raise ValueError(what)
        kind.layout = (kind.children, kind.names)
    raw_elements = description["elements"]
    if type(raw_elements) is not dict:
        raise ValueError("elements")
    elements = {_str(k): decls[_int(v, 0, len(decls))] for k, v in raw_elements.items()}
    raw_bindings = description["bindings"]
    if type(raw_bindings) is not dict:
        raise ValueError("bindings")
    bindings = {}
    for name, raw in raw_bindings.items():
        action, given, answer, headers = _list(raw, 4)
        bindings[_str(name)] = Binding(_str(name), _str(action), _str(given), _str(answer),
                                       tuple(_str(h) for h in _list(headers)))
    return elements, bindings


class LazySchema(ServiceSchema):
    """A ServiceSchema on the light description: the body writer's walk needs no xmlschema,
    and neither does a check whose verdict is remembered. The first question without one
    loads the xmlschema-backed schema (`load`) and asks it."""

    def __init__(self, source: str, data: bytes, sha256: str, description: dict[str, Any],
                 store: verdicts.Verdicts,
                 judged: tuple[ServiceSchema, dict[str, Any]] | None = None) -> None:
        elements, bindings = _light(description)
        super().__init__(source, sha256, elements, bindings)
        self._data = data  # the WSDL as described: a URL is not fetched twice
        self.description = description
        self.store = store
        # xmlschema's schema and its simple types by key, once loaded (`judged`: already)
        self._judge: ServiceSchema | None = judged[0] if judged is not None else None
        self._simple: dict[str, Any] = judged[1] if judged is not None else {}
        self._light_values: dict[tuple[DeclType, str], bool] = {}
        self._trusted = True  # False when the description proved not to be this WSDL's
        self._lock = threading.Lock()

    def children(self, decl: Any) -> tuple[Child, ...]:
        children: tuple[Child, ...] = decl.type.children
        return children

    def child_names(self, decl: Any) -> frozenset[str]:
        names: frozenset[str] = decl.type.names
        return names

    def layout(self, decl: Any) -> tuple[tuple[Child, ...], frozenset[str]]:
        found: tuple[tuple[Child, ...], frozenset[str]] = decl.type.layout
        return found

    def value_error(self, decl: Any, text: str) -> str | None:
        kind: DeclType = decl.type
        if _ILLEGAL_XML.search(text):
            return f"{text!r} has characters XML cannot carry"
        if kind.kind != "simple":
            return None
        memo = (kind, text)
        ok = self._light_values.get(memo)
        if ok is None:
            ok = self._value_verdict(kind, text)
            if ok is None:
                return None  # a type the WSDL does not have: the body check judges it
            if len(self._light_values) >= _VALUES_IN_MEMORY:
                self._light_values.clear()
            self._light_values[memo] = ok
        if not ok:
            return f"{text!r} is not a valid {kind.label}"
        return None

    def _value_verdict(self, kind: DeclType, text: str) -> bool | None:
        key = verdicts.digest(kind.key, text)
        if self._trusted and self.store.has("valid", key):
            return True
        if self._trusted and self.store.has("invalid", key):
            return False
        real = self._simple_types().get(kind.key)
        if real is None:
            return None
        ok = bool(real.is_valid(text))
        if self._trusted:
            self.store.add("valid" if ok else "invalid", key)
        return ok

    def check_body(self, body: Body) -> list[str]:
        if _ILLEGAL_XML.search(body.text):
            return ["the text holds characters XML cannot carry (control characters)"]
        shape = (body.element, body.shape)
        if shape in self._valid_shapes:
            return []
        key = verdicts.digest(*shape)
        if self._trusted and self.store.has("shapes", key):
            self._valid_shapes.add(shape)
            return []
        found = self.errors(body.element, _parse(body.text))
        if not found and self._trusted:
            self._valid_shapes.add(shape)
            self.store.add("shapes", key)
        return found

    def errors(self, element_name: str, elem: Element) -> list[str]:
        return self.judge().errors(element_name, elem)

    def judge(self) -> ServiceSchema:
        """The xmlschema-backed schema, loaded on first use, and checked against the
        description this schema has been answering from."""
        with self._lock:
            if self._judge is None:
                judge = _full(self.source, self._data, self.sha256)
                description, self._simple = _describe(judge.elements, judge.bindings)
                if description != self.description:
                    self._distrust(description)
                self._judge = judge
            return self._judge

    def _distrust(self, description: dict[str, Any]) -> None:
        """The description was not this WSDL's (a cache file edited by hand, or a bug): the
        right one goes back in the cache, and from now on xmlschema judges every body this
        process writes, from its text, and nothing is remembered."""
        self._trusted = False
        self._valid_shapes.clear()
        self._light_values.clear()
        path, _ = _lazy_paths(self.sha256)
        if path is not None:
            verdicts.write_json(path, {"key": self.store.key, "description": description})

    def _simple_types(self) -> dict[str, Any]:
        self.judge()
        return self._simple


# -- Loading -----------------------------------------------------------------------------------


def _read(source: str) -> bytes:
    if source.startswith(("http://", "https://")):
        import urllib.request  # ~20 ms: only for a WSDL named by URL

        with urllib.request.urlopen(source, timeout=30) as reply:
            return bytes(reply.read())
    return Path(source).read_bytes()


def _open(source: str) -> tuple[bytes, str]:
    try:
        data = _read(source)
    except (OSError, ValueError) as exc:  # (URLError is an OSError)
        raise WsdlError(f"cannot read the WSDL {source}: {exc}") from None
    return data, hashlib.sha256(data).hexdigest()


def _cache_dir() -> Path:
    found = verdicts.cache_dir()
    return found if found is not None else Path(os.devnull)  # nothing can be cached there


def _build(source: str, data: bytes) -> tuple[dict[str, Any], dict[str, Binding]]:
    from xmlschema.extras.wsdl import Wsdl11Document

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


_judges: dict[tuple[str, str], ServiceSchema] = {}
_judges_lock = threading.Lock()


def _full(source: str, data: bytes, digest: str) -> ServiceSchema:
    """The xmlschema-backed schema of these bytes, once per process (the lazy schema's judge
    and `load`'s result are the same object)."""
    with _judges_lock:
        found = _judges.get((source, digest))
        if found is None:
            found = _judges[(source, digest)] = _load_full(source, data, digest)
        return found


def _load_full(source: str, data: bytes, digest: str) -> ServiceSchema:
    import pickle

    import xmlschema

    key = f"{digest[:32]}-xs{xmlschema.__version__}-py{sys.version_info[0]}{sys.version_info[1]}"
    cached = _cache_dir() / f"wsdl-{key}-v{_CACHE_FORMAT}.pickle"
    try:
        # Only ever unpickles a file mktows-run wrote into its own cache directory.
        elements, bindings = pickle.loads(cached.read_bytes())
    except (OSError, pickle.PickleError, EOFError, AttributeError, ValueError, TypeError):
        if not source.startswith(("http://", "https://")) and _open(source)[1] != digest:
            # xmlschema reads a file by its path: it must still hold the bytes described
            # (a lazy schema asks long after it read them), or the pickle would lie.
            raise WsdlError(f"the WSDL {source} changed while it was in use: run again") from None
        try:
            elements, bindings = _build(source, data)
        except (OSError, ValueError, SyntaxError, xmlschema.XMLSchemaException) as exc:
            raise WsdlError(f"cannot load the WSDL {source}: {exc}") from None
        _store(cached, (elements, bindings))
    return ServiceSchema(source, digest, elements, bindings)


def _lazy_key(sha256: str) -> str | None:
    stamp = verdicts.library_stamp("xmlschema")
    if stamp is None:
        return None  # an xmlschema we cannot tell from another: remember nothing
    return verdicts.file_key("wsdl", sha256, stamp, _DESCRIPTION_FORMAT)


def _lazy_paths(sha256: str) -> tuple[Path | None, Path | None]:
    """The description's file and its verdicts' (None: nothing is to be cached)."""
    base = verdicts.cache_dir()
    key = _lazy_key(sha256)
    if base is None or key is None:
        return None, None
    name = f"wsdl-{sha256[:16]}-{key[:16]}"
    return base / f"{name}.json", base / f"{name}-verdicts.json"


def _load_lazy(source: str, data: bytes, digest: str) -> LazySchema:
    key = _lazy_key(digest) or ""
    path, verdict_path = _lazy_paths(digest)
    store = verdicts.Verdicts(verdict_path, key, ("shapes", "valid", "invalid"))
    found = verdicts.read_json(path) if path is not None else None
    if type(found) is dict and found.get("key") == key:
        try:
            return LazySchema(source, data, digest, found["description"], store)
        except (KeyError, ValueError, TypeError, IndexError):
            pass  # not a description this module wrote: made again below
    judge = _full(source, data, digest)
    description, simple = _describe(judge.elements, judge.bindings)
    if path is not None:
        verdicts.write_json(path, {"key": key, "description": description})
    return LazySchema(source, data, digest, description, store, (judge, simple))


@cache
def load(source: str, *, lazy: bool = False) -> ServiceSchema:
    """Load a WSDL (path or URL) once per process; WsdlError when it cannot be read or loaded.

    `lazy`: a `LazySchema` (for the body writer and its checks: xmlschema only for verdicts
    not remembered); else xmlschema's schema, whose declarations are xmlschema's (the
    sandbox's `lenient` reader and strict checks read them)."""
    data, digest = _open(source)
    if lazy:
        return _load_lazy(source, data, digest)
    return _full(source, data, digest)


def _store(path: Path, value: object) -> None:
    import pickle

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(tmp, path)  # atomic: a concurrent reader sees the old or the new file
    except (OSError, pickle.PicklingError, RecursionError):
        pass  # a cache we cannot write only costs start-up time
