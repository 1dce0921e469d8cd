"""The `${...}` variable language: parsing, load-time checks and one-pass resolution.

    ref  ::= "${" ns ( "." ident | "[" int "]" | "['" text "']" )+ "}"
    ns   ::= vars | env | secret | steps | item

Only a run of `$` directly before `{` is special: n dollars give n // 2 literal dollars, and
an odd run starts a reference. `{{my.token}}` is never special. A resolved value is never
scanned again, and a string that is exactly one reference keeps the value's type.

A variable's own value may hold references (`a: ${vars.b}`, `url: ${env.HOST}/x`): it is
resolved when read, through at most MAX_VAR_CHAIN variables; a cycle is an error naming it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from runner import operations
from runner.model import Literal, Location
from runner.secrets import Secret

NAMESPACES = ("vars", "env", "secret", "steps", "item")
MAX_VAR_CHAIN = 32  # vars defined through vars defined through vars ...: far past any real use
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_DOLLARS = re.compile(r"\$+(?=\{)")


class VariableSyntaxError(ValueError):
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True)
class Ref:
    namespace: str
    path: tuple[str | int, ...]
    text: str  # as written, e.g. "${steps.sync.leadId}"

    @property
    def dotted(self) -> str:
        out = self.namespace
        for p in self.path:
            out += f"[{p}]" if isinstance(p, int) else f".{p}"
        return out


@dataclass(frozen=True)
class Pending:
    """A value only known at run time (a step's output); `sample` has the right type."""

    step: str
    sample: Any

    def __str__(self) -> str:
        return f"(known after step {self.step})"


Part = str | Ref


def _parse_path(body: str, text: str) -> tuple[str, tuple[str | int, ...]]:
    m = _IDENT.match(body)
    if not m:
        raise VariableSyntaxError(f"{text}: expected a namespace after '${{'",
                                  f"namespaces are {', '.join(NAMESPACES)}")
    ns, pos = m.group(0), m.end()
    path: list[str | int] = []
    while pos < len(body):
        if body[pos] == ".":
            m = _IDENT.match(body, pos + 1)
            if not m:
                raise VariableSyntaxError(f"{text}: expected a name after '.'")
            path.append(m.group(0))
            pos = m.end()
        elif body.startswith("['", pos):
            end = body.find("']", pos + 2)
            if end < 0:
                raise VariableSyntaxError(f"{text}: unterminated ['...']")
            path.append(body[pos + 2:end])
            pos = end + 2
        elif body[pos] == "[":
            end = body.find("]", pos)
            index = body[pos + 1:end] if end > 0 else ""
            if not index.isdigit():
                raise VariableSyntaxError(f"{text}: an index must be a number, like [0]")
            path.append(int(index))
            pos = end + 1
        else:
            raise VariableSyntaxError(f"{text}: unexpected '{body[pos]}'",
                                      "names use letters, digits, _ and -; "
                                      "write ['any text'] for other keys")
    if not path and ns != "item":  # ${item} is a whole scalar loop item
        raise VariableSyntaxError(f"{text}: a reference needs a name, like ${{{ns}.name}}")
    return ns, tuple(path)


def parse(text: str) -> list[Part]:
    """Split a string into literal text and references."""
    parts: list[Part] = []
    buf: list[str] = []
    pos = 0
    for m in _DOLLARS.finditer(text):
        if m.start() < pos:
            continue  # inside a reference already consumed
        n = len(m.group(0))
        buf.append(text[pos:m.start()] + "$" * (n // 2))
        pos = m.end()
        if n % 2 == 0:
            continue  # escaped: the `{` is literal text
        end = text.find("}", pos)
        if end < 0:
            raise VariableSyntaxError(f"unterminated '${{' in {text!r}",
                                      "close it with '}', or write '$${' for a literal '${'")
        written = text[pos - 1:end + 1]
        ns, path = _parse_path(text[pos + 1:end], written)
        if buf and "".join(buf):
            parts.append("".join(buf))
        buf = []
        parts.append(Ref(ns, path, written))
        pos = end + 1
    tail = "".join(buf) + text[pos:]
    if tail:
        parts.append(tail)
    return parts


def iter_strings(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[
        tuple[tuple[str | int, ...], str]]:
    """Every string in a nested value that may hold references (not `!literal` ones)."""
    if isinstance(value, Literal):
        return
    if isinstance(value, str):
        if "{" in value:
            yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from iter_strings(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from iter_strings(v, (*path, i))


Lookup = Callable[[Ref], Any]


def has_refs(value: Any) -> bool:
    """Whether resolving `value` could change it (a `${` or `$$` outside `!literal`)."""
    return any("${" in text or "$$" in text for _, text in iter_strings(value))


CYCLE_HINT = "give one of them a value of its own"


def refs_in(value: Any) -> Iterator[Ref]:
    """Every reference in the strings of a nested value (a string whose syntax is wrong has
    none here: it is reported where it is resolved)."""
    for _, text in iter_strings(value):
        try:
            parts = _parsed(text)
        except VariableSyntaxError:
            continue
        yield from (p for p in parts if isinstance(p, Ref))


def cycle_message(cycle: tuple[str, ...]) -> str:
    return f"the variables {' → '.join('vars.' + n for n in cycle)} refer to each other in a cycle"


def var_cycles(values: Mapping[str, Any]) -> list[tuple[str, ...]]:
    """Cycles of variables defined through each other, e.g. ("a", "b", "a"), each once.

    Iterative: a playbook's variables are bounded only by its size.
    """
    edges: dict[str, list[str]] = {
        name: [str(r.path[0]) for r in refs_in(value)
               if r.namespace == "vars" and r.path and str(r.path[0]) in values]
        for name, value in values.items()}
    found: list[tuple[str, ...]] = []
    done: set[str] = set()
    for start in edges:
        if start in done:
            continue
        stack: list[tuple[str, Iterator[str]]] = [(start, iter(edges[start]))]
        on_path = [start]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                on_path.pop()
                done.add(node)
            elif child in on_path:
                cycle = on_path[on_path.index(child):]
                low = cycle.index(min(cycle))  # the same cycle found from another member
                canonical = (*cycle[low:], *cycle[:low], cycle[low])
                if canonical not in found:
                    found.append(canonical)
            elif child not in done:
                stack.append((child, iter(edges[child])))
                on_path.append(child)
    return found


@lru_cache(maxsize=4096)
def _parsed(text: str) -> tuple[Part, ...]:
    # A loop renders the same few templates for every row: parse each once.
    return tuple(parse(text))


def render(text: str, lookup: Lookup) -> Any:
    parts = _parsed(text)
    if len(parts) == 1 and isinstance(parts[0], Ref):
        return lookup(parts[0])  # a whole-value reference keeps its type
    out = []
    for part in parts:
        if isinstance(part, Ref):
            value = lookup(part)
            if isinstance(value, Pending):
                value = value.sample
            out.append(_as_text(value))
        else:
            out.append(part)
    return "".join(out)


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def resolve(value: Any, lookup: Lookup) -> Any:
    """A copy of `value` with every reference replaced, in one pass."""
    if isinstance(value, Literal):
        return str(value)
    if isinstance(value, str):
        return render(value, lookup) if "${" in value or "$$" in value else value
    if isinstance(value, dict):
        return {k: resolve(v, lookup) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, lookup) for v in value]
    return value


def suggest(name: str, candidates: list[str]) -> str | None:
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def dig(value: Any, path: tuple[str | int, ...]) -> Any:
    """Follow `path` into nested data; KeyError/IndexError/TypeError when it is not there."""
    for part in path:
        value = value[part]
    return value


class Unresolved(ValueError):
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class _Cycle(Unresolved):
    pass


@dataclass
class Scope:
    """What references can see at one point of a run.

    `step_ops` holds the steps before the current one (id -> operation); `outputs` the
    outputs of those that have run. An earlier step that has not run yields `Pending`.
    """

    vars: dict[str, Any]
    env: Mapping[str, str]
    secrets: Mapping[str, str]
    step_ops: dict[str, str]
    outputs: dict[str, dict[str, Any]]
    all_steps: tuple[str, ...] = ()
    item: Any = None
    in_loop: bool = False
    item_where: Location | None = None  # the data-file row the item came from
    secret_values: set[str] = field(default_factory=set)  # shared by every copy of a scope
    looped: set[str] = field(default_factory=set)  # steps that ran once per loop item
    grouped: dict[str, str] = field(default_factory=dict)  # step id -> its group, once past
    unselected: set[str] = field(default_factory=set)  # left out by --only/--skip/--tags
    # Variables whose values held references to vars/env/secrets only, once resolved (shared
    # by every copy: a 100,000-row loop resolves `${vars.x}` once, not per row).
    var_cache: dict[str, Any] = field(default_factory=dict)
    opaque_secrets: bool = False  # validate/plan: a missing secret is a placeholder

    def with_item(self, item: Any, where: Location | None = None) -> Scope:
        # A shallow copy (as copy.copy makes, without its generic protocol), not
        # dataclasses.replace: this runs once per loop item.
        scope = object.__new__(type(self))
        fields = self.__dict__.copy()
        fields["item"], fields["in_loop"], fields["item_where"] = item, True, where
        scope.__dict__ = fields
        return scope

    def inner(self) -> Scope:
        """A group iteration's scope: its steps' outputs stay inside it."""
        return replace(self, step_ops=dict(self.step_ops), outputs=dict(self.outputs),
                       looped=set(self.looped), grouped=dict(self.grouped))

    def lookup(self, ref: Ref) -> Any:
        handler = getattr(self, f"_ns_{ref.namespace}", None)
        if handler is None:
            raise Unresolved(
                f"unknown namespace '{ref.namespace}' in {ref.text}",
                f"namespaces are {', '.join(NAMESPACES)}; for a literal '${{' (e.g. a Velocity "
                f"script) write '$${{{ref.text[2:]}' or tag the value !literal")
        return handler(ref)

    def varies(self, ref: Ref) -> bool:
        """Whether `ref` may read otherwise for another item of the loop this scope is in:
        an item's field, or a variable defined through one (or through a step's output, or
        one that cannot be resolved: said to vary, so its reader is asked every time)."""
        if ref.namespace == "item":
            return True
        name = ref.path[0] if ref.path else None
        if ref.namespace != "vars" or not isinstance(name, str) or name not in self.vars:
            return False
        try:
            return self._var(name, ())[1]
        except Unresolved:
            return True

    def _ns_vars(self, ref: Ref) -> Any:
        name = ref.path[0]
        if not isinstance(name, str) or name not in self.vars:
            return _follow(self.vars, ref, "vars", "variable")  # the unknown-name error
        return _follow({name: self._var(name, ())[0]}, ref, "vars", "variable")

    def _var(self, name: str, chain: tuple[str, ...]) -> tuple[Any, bool]:
        """A variable's value with the references in it resolved (`chain`: who asked), and
        whether it depends on a step output or a loop item (then it is not cached)."""
        if name in self.var_cache:
            return self.var_cache[name], False
        raw = self.vars[name]
        if not has_refs(raw):
            return raw, False
        if name in chain:
            cycle = (*chain[chain.index(name):], name)
            raise _Cycle(cycle_message(cycle), CYCLE_HINT)
        if len(chain) >= MAX_VAR_CHAIN:
            raise Unresolved(f"vars.{name}: variables defined through more than "
                             f"{MAX_VAR_CHAIN} other variables")
        dynamic = False

        def lookup(ref: Ref) -> Any:
            nonlocal dynamic
            inner = ref.path[0] if ref.path else None
            if ref.namespace == "vars" and isinstance(inner, str) and inner in self.vars:
                value, varies = self._var(inner, (*chain, name))
                dynamic = dynamic or varies
                return _follow({inner: value}, ref, "vars", "variable")
            dynamic = dynamic or ref.namespace in ("steps", "item")
            return self.lookup(ref)

        try:
            value = resolve(raw, lookup)
        except VariableSyntaxError as exc:
            raise Unresolved(f"in vars.{name}: {exc}", exc.hint) from None
        except Unresolved as exc:
            if chain or isinstance(exc, _Cycle):
                raise  # the variable that was asked for first names the chain
            raise Unresolved(f"in vars.{name}: {exc}", exc.hint) from None
        if not dynamic:  # a step output or a loop item differs from one read to the next
            self.var_cache[name] = value
        return value, dynamic

    def _ns_env(self, ref: Ref) -> Any:
        name = str(ref.path[0])
        if len(ref.path) > 1:
            raise Unresolved(f"{ref.text}: an environment variable has no fields")
        if name not in self.env:
            raise Unresolved(f"environment variable {name} is not set ({ref.text})",
                             f"export {name}=... before running")
        return self.env[name]

    def _ns_secret(self, ref: Ref) -> Any:
        name = str(ref.path[0])
        if len(ref.path) > 1:
            raise Unresolved(f"{ref.text}: a secret has no fields")
        if name not in self.secrets and self.opaque_secrets:
            # validate/plan: a secret is an opaque placeholder (masked like any secret), so
            # a pull request from a fork can be planned without one; a run needs it.
            placeholder = f"<secret {name}>"
            self.secret_values.add(placeholder)
            return Secret(placeholder)
        if name not in self.secrets:
            raise Unresolved(f"secret {name} is not set ({ref.text})",
                             f"export {name}=... or put it in a --secrets-file; "
                             "secrets never live in the playbook")
        value = self.secrets[name]
        self.secret_values.add(value)
        return Secret(value)

    def _ns_steps(self, ref: Ref) -> Any:
        step = str(ref.path[0])
        if step in self.unselected:
            raise Unresolved(f"{ref.text}: step '{step}' is not selected, so its outputs will "
                             "not exist", "select it too (--only/--tags), or do not --skip it")
        if step in self.grouped:
            raise Unresolved(f"{ref.text}: step '{step}' is inside the group "
                             f"'{self.grouped[step]}'; its outputs are only visible there")
        op = operations.REGISTRY.get(self.step_ops.get(step, ""))
        if step in self.looped and not (op is not None and op.outputs_after_loop):
            raise Unresolved(f"{ref.text}: step '{step}' runs once per loop item; its outputs "
                             "cannot be read after the loop",
                             "put the steps that need them in a group with the loop (steps:)")
        if step not in self.step_ops:
            if step in self.all_steps:
                raise Unresolved(f"{ref.text}: step '{step}' runs at or after this step",
                                 "a step can only read the outputs of earlier steps")
            raise Unresolved(f"{ref.text}: no step has the id '{step}'",
                             suggest(step, list(self.step_ops)))
        operation = self.step_ops[step]
        if op is None:
            raise Unresolved(f"{ref.text}: step '{step}' is a group; a group has no outputs",
                             "read the output of one of its steps, inside the group")
        declared = op.outputs
        if len(ref.path) < 2 or not isinstance(ref.path[1], str):
            raise Unresolved(f"{ref.text}: name an output of step '{step}'",
                             f"{operation} outputs: {', '.join(declared)}")
        output = ref.path[1]
        if output not in declared:
            hint = suggest(output, list(declared)) or f"{operation} outputs: {', '.join(declared)}"
            raise Unresolved(f"{ref.text}: {operation} has no output '{output}'", hint)
        if step not in self.outputs:
            return Pending(step, _sample(declared[output], ref.path[2:]))
        try:
            return dig(self.outputs[step][output], ref.path[2:])
        except (KeyError, IndexError, TypeError):
            raise Unresolved(f"{ref.text}: step '{step}' returned no such value") from None

    def _ns_item(self, ref: Ref) -> Any:
        if not self.in_loop:
            raise Unresolved(f"{ref.text}: ${{item...}} is only defined inside a loop")
        return _follow(self.item, ref, "item", "field")


def _sample(output: Any, path: tuple[str | int, ...]) -> Any:
    """A typed stand-in for a step output not known until the step has run."""
    if not path:
        return output.sample
    value = output.item
    rest = path[1:] if output.type == "list" else path  # [n] picks an element: skip it
    for part in rest:
        value = value.get(part) if isinstance(value, dict) else None
    return "sample" if value is None else value


def _follow(root: Any, ref: Ref, ns: str, noun: str) -> Any:
    value = root
    for depth, part in enumerate(ref.path):
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            where = ns + "".join(f"[{p}]" if isinstance(p, int) else f".{p}"
                                 for p in ref.path[:depth])
            names = [str(k) for k in value] if isinstance(value, dict) else []
            raise Unresolved(f"unknown {noun} '{ref.dotted}' ({ref.text})",
                             suggest(str(part), names) or (
                                 f"{where} has: {', '.join(names)}" if names else None)) from None
    return value


Errors = list[tuple[tuple[str | int, ...], str, str | None]]


class _Run:
    """One resolution of a Template: its scope, errors, and what the values may hold."""

    __slots__ = ("errors", "pending", "scope", "texts", "trees")

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.errors: Errors = []
        self.texts: list[str] = []  # the strings references produced (tested at the end)
        self.trees: list[Any] = []  # the lists and mappings references gave (likewise)
        self.pending = False  # a Pending may be in the value (a reference gave one, or a tree)


Node = Callable[[_Run], Any]


class Template:
    """A value's references resolved as `resolve_checked(value, scope.lookup)` does, with the
    walk planned once: a loop resolves the same template for every row, so its strings are
    parsed, its constants found and its paths built once, not per row.

    `dirty(text)` is truthy when a string cannot be sent (XML's illegal characters): the
    strings references produce are tested together, once, so a caller need not walk the
    result again unless `resolve` says one may be there. Likewise for Pending values.
    """

    def __init__(self, value: Any, dirty: Callable[[str], object]) -> None:
        self._dirty = dirty
        self._always_dirty = False  # a string as written fails `dirty`: the caller looks
        self._const, self._root = self._compile(value, ())

    def resolve(self, scope: Scope) -> tuple[Any, Errors, bool, bool]:
        """(value, errors as resolve_checked gives them, may hold a dirty string, may hold
        a Pending)."""
        if self._const:
            return self._root, [], self._always_dirty, False
        run = _Run(scope)
        value = self._root(run)
        dirty = self._always_dirty
        if not dirty and run.texts:
            dirty = bool(self._dirty("".join(run.texts)))  # one scan: the test is per character
        if not dirty and run.trees:
            dirty = any(_any_string(tree, self._dirty) for tree in run.trees)
        return value, run.errors, dirty, run.pending

    # -- compiling -------------------------------------------------------------------------
    def _compile(self, value: Any, path: tuple[str | int, ...]) -> tuple[bool, Any]:
        """(True, the value) for a leaf that resolves to itself; else (False, a Node)."""
        if isinstance(value, str):
            if isinstance(value, Literal):
                value = str(value)
            elif "${" in value or "$$" in value:
                if self._dirty(value):
                    self._always_dirty = True  # an error leaves the text as written
                return False, self._render(value, path)
            if self._dirty(value):
                self._always_dirty = True
            return True, value
        # Plain loops, not comprehensions: a comprehension is one more frame per container.
        if isinstance(value, dict):
            entries = [(k, *self._compile(v, (*path, k))) for k, v in value.items()]

            def mapping(run: _Run) -> dict[Any, Any]:
                out = {}
                for k, const, v in entries:
                    out[k] = v if const else v(run)
                return out
            return False, mapping
        if isinstance(value, list):
            items = [self._compile(v, (*path, i)) for i, v in enumerate(value)]

            def sequence(run: _Run) -> list[Any]:
                out = []
                for const, v in items:
                    out.append(v if const else v(run))
                return out
            return False, sequence
        return True, value

    def _render(self, text: str, path: tuple[str | int, ...]) -> Node:
        try:
            parts = _parsed(text)
        except VariableSyntaxError as exc:
            message, hint = str(exc), exc.hint

            def broken(run: _Run) -> str:
                run.errors.append((path, message, hint))
                return text
            return broken
        if len(parts) == 1 and isinstance(parts[0], Ref):
            return self._whole(parts[0], text, path)

        def joined(run: _Run) -> str:
            lookup = run.scope.lookup
            out = []
            try:
                for part in parts:  # render(), with the parts at hand
                    if isinstance(part, Ref):
                        value = lookup(part)
                        out.append(_as_text(value.sample if isinstance(value, Pending)
                                            else value))
                    else:
                        out.append(part)
            except (VariableSyntaxError, Unresolved) as exc:
                run.errors.append((path, str(exc), exc.hint))
                return text
            joined_text = "".join(out)
            run.texts.append(joined_text)
            return joined_text
        return joined

    def _whole(self, ref: Ref, text: str, path: tuple[str | int, ...]) -> Node:
        """A string that is exactly one reference: the value keeps its type."""

        def whole(run: _Run) -> Any:
            try:
                value = run.scope.lookup(ref)
            except (VariableSyntaxError, Unresolved) as exc:
                run.errors.append((path, str(exc), exc.hint))
                return text
            return _produced(run, value)

        if ref.namespace != "item" or len(ref.path) != 1 or not isinstance(ref.path[0], str):
            return whole
        key = ref.path[0]

        def field(run: _Run) -> Any:
            # ${item.X}, the per-row case: Scope._ns_item's lookup, inline; anything else
            # (not in a loop, not a dict, no such field) goes the long way round.
            scope = run.scope
            if scope.in_loop:
                item = scope.item
                if type(item) is dict:
                    value = item.get(key, _MISSING)
                    if type(value) is str:
                        run.texts.append(value)
                        return value
                    if value is None:  # (an empty cell)
                        return None
                    if value is not _MISSING:
                        return _produced(run, value)
            return whole(run)
        return field


_MISSING = object()


def _produced(run: _Run, value: Any) -> Any:
    """Note what a reference's value may hold (text to test, a tree, a Pending)."""
    if isinstance(value, str):
        run.texts.append(value)
    elif isinstance(value, dict | list):
        run.pending = True  # (a variable's tree may hold a step's output)
        run.trees.append(value)
    elif isinstance(value, Pending):
        run.pending = True
    return value


def _any_string(value: Any, test: Callable[[str], object]) -> bool:
    """Whether any string value in a tree passes `test` (keys are not values)."""
    if isinstance(value, str):
        return bool(test(value))
    if isinstance(value, dict):
        value = value.values()
    elif not isinstance(value, list):
        return False
    return any(_any_string(v, test) for v in value)


def resolve_checked(value: Any, lookup: Lookup) -> tuple[Any, list[
        tuple[tuple[str | int, ...], str, str | None]]]:
    """Like `resolve`, but collects every failure as (sub-path, message, hint)."""
    errors: list[tuple[tuple[str | int, ...], str, str | None]] = []

    def one(v: Any, path: tuple[str | int, ...]) -> Any:
        if isinstance(v, Literal):
            return str(v)
        if isinstance(v, str):
            if "${" not in v and "$$" not in v:
                return v
            try:
                return render(v, lookup)
            except (VariableSyntaxError, Unresolved) as exc:
                errors.append((path, str(exc), exc.hint))
                return v
        if isinstance(v, dict):
            return {k: one(x, (*path, k)) for k, x in v.items()}
        if isinstance(v, list):
            return [one(x, (*path, i)) for i, x in enumerate(v)]
        return v

    return one(value, ()), errors
