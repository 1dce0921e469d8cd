"""The call generator: a playbook's steps turned into the calls they make, one at a time.

One generator, used twice. The check (prepare: validate, plan) resolves what it can, gives
step outputs typed placeholders, builds and XSD-checks every body and hands every problem to
a collector without stopping. The send (executor) generates the same calls with real outputs
fed back between them; a problem then (a run-time value that breaks a call) raises
CallValueError. Loops over data files are streamed; batched operations accumulate at most one
batch in memory.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from runner import data, variables
from runner.conditions import ConditionError, Unknown, compile_condition
from runner.errors import CallValueError
from runner.model import LocatedError, Location
from runner.options import Selection
from runner.playbook import Loop, Playbook, Step, iter_items
from runner.playbook.source import describe_char, json_path
from runner.soap import envelope
from runner.soap.xsd import ServiceSchema
from runner.variables import Pending, Scope, Unresolved

PathT = tuple[str | int, ...]
MAX_ROW_PROBLEMS = 50  # per loop: past this, a broken file is summarised, not listed


@dataclass(frozen=True)
class CallKey:
    """Which call this is, stable across runs of the same inputs (the journal's key):
    `sync`, `import/batch-3`, `each/item-17`, `onboard/item-17/sync`."""

    path: tuple[str, ...]  # enclosing groups (and their items), then the step's id
    item: int | None = None  # a looped step's item number
    batch: int | None = None  # a batched step's batch number

    @property
    def step_key(self) -> str:
        """The step's own key in this scope (a batched step's batches share it)."""
        return "/".join(self.path) + (f"/item-{self.item}" if self.item is not None else "")

    @property
    def number(self) -> int:
        """Order among the step's calls."""
        return self.batch or self.item or 0

    def __str__(self) -> str:
        return self.step_key + (f"/batch-{self.batch}" if self.batch is not None else "")


@dataclass
class Call:
    """One call: what a step sends for one item or one batch."""

    step: Step
    key: CallKey
    label: str  # for people: "batch 3", "item 17 (leads.csv:18)"
    params: dict[str, Any]  # resolved, WSDL-shaped except for defaults
    workspace: str | None
    body: str
    records: int
    scope: Scope
    pending: tuple[str, ...] = ()  # steps whose outputs this call still waits for
    condition: str | None = None  # dry pass: the step's `when` needs a run-time value
    schema: ServiceSchema | None = None  # the WSDL the body was checked against

    def shown_body(self) -> str:
        """The body as a reviewer should read it: a value known only at run time written as
        "(known after step X)", never as the typed sample the check used."""
        if not self.pending or self.schema is None:
            return self.body
        op = self.step.op
        body, _ = envelope.build(self.schema, op.name, op.soap.encode(op.with_defaults(
            _marked(self.params))))
        return body.text if body is not None else self.body


@dataclass
class Skip:
    step: Step
    key: CallKey
    reason: str


@dataclass
class StepEnd:
    """Every call of this step (in this scope) has been yielded: a barrier for senders that
    run a step's calls concurrently, before the next step reads their outputs."""

    step: Step
    scope: Scope


Report = Callable[[PathT | Location, str, str | None], None]
Event = Call | Skip | StepEnd


def raise_problem(where: PathT | Location, message: str, hint: str | None) -> None:
    """The send's problem handler: everything was checked before, so a problem now comes
    from a step's output value or a data file that changed since; say where."""
    raise CallValueError(f"{where}: {message}" if isinstance(where, Location) else message)


@dataclass(frozen=True)
class Broken:
    """Steps (and loops) the check already found wrong: they are resolved, so that unknown
    variables are still reported, but not built (the XSD would only repeat the problem)."""

    steps: frozenset[PathT] = frozenset()
    loops: frozenset[PathT] = frozenset()

    @classmethod
    def of(cls, playbook: Playbook, problem_paths: set[str]) -> Broken:
        def hit(path: PathT) -> bool:
            mine = json_path(path)
            return any(p == mine or p.startswith((mine + ".", mine + "["))
                       for p in problem_paths)

        steps = playbook.all_steps()
        return cls(frozenset(s.path for s in steps if s.operation and hit(s.path)),
                   frozenset(s.path for s in steps if s.loop and hit((*s.path, "loop"))))


@dataclass
class CallGenerator:
    playbook: Playbook
    schema: ServiceSchema
    report: Report  # a collector (the check) or raise_problem (the send)
    selection: Selection = field(default_factory=Selection)
    totals: Mapping[str, int] = field(default_factory=dict)  # calls per step, when known
    broken: Broken = field(default_factory=Broken)
    # Build (and XSD-check) each call's SOAP body. The check always does; a send over REST
    # does not need them: the body was proven valid by the check, and REST never sends it.
    soap_bodies: bool = True

    def __post_init__(self) -> None:
        self.base = self.playbook.path.parent
        self.current: Step | None = None  # the step being generated (who a problem hits)
        self.unsendable = 0  # values XML cannot carry, reported so far
        self.counts: dict[str, int] = {}  # calls per step key, as generated
        # Each step's parameters (and a batched step's list alone), compiled once: a loop
        # resolves them for every row. One entry per step and part: bounded by the playbook.
        self._templates: dict[tuple[PathT, str], variables.Template] = {}

    # -- entry ---------------------------------------------------------------------------
    def calls(self, scope: Scope) -> Iterator[Event]:
        return self._steps(self.playbook.steps, scope, (), frozenset())

    def _steps(self, steps: tuple[Step, ...], scope: Scope, prefix: tuple[str, ...],
               inherited: frozenset[str]) -> Iterator[Event]:
        for step in steps:
            self.current = step
            if step.operation is None and not step.children:
                continue  # the schema reported it; there is nothing to generate
            key = CallKey((*prefix, step.id))
            # A group passes its id and tags down: --only GROUP or --tags T selects its steps.
            marks = inherited | {step.id, *step.tags}
            if not step.children and not self.selection.selects(step.id, step.tags, inherited):
                yield Skip(step, key, "not selected")
                scope.step_ops[step.id] = step.operation or "group"
                scope.unselected.add(step.id)
                continue
            # With a loop, `when` filters the items (it may read ${item...}); see _items.
            when = True if step.loop is not None else self._condition(step, scope)
            if when is False:
                yield Skip(step, key, f"when: {step.when} is false")
                scope.step_ops[step.id] = step.operation or "group"
                continue
            condition = f"known after step {when.step}" if isinstance(when, Unknown) else None
            if step.children:
                yield from self._group(step, scope, key, marks)
            elif step.op.batching is not None:
                yield from self._batched(step, scope, key, condition)
            elif step.loop is not None:
                for row, item_scope, note in self._items(step, scope):
                    yield from self._one(step, item_scope, replace(key, item=row.number),
                                         _item_label(row), note)
            else:
                yield from self._one(step, scope, key, "", condition)
            if step.operation:
                yield StepEnd(step, scope)
            scope.step_ops[step.id] = step.operation or "group"
            if step.loop is not None:
                scope.looped.add(step.id)
            scope.grouped.update({inner.id: step.id for inner in step.with_inner()[1:]})

    # -- conditions ------------------------------------------------------------------------
    def _condition(self, step: Step, scope: Scope) -> bool | Unknown:
        if step.when is None:
            return True
        try:
            return compile_condition(step.when).evaluate(scope.lookup)
        except (ConditionError, Unresolved) as exc:
            self.report((*step.path, "when"), f"condition: {exc}", getattr(exc, "hint", None))
            # Go on checking the step's parameters: every problem is reported in one pass.
            return Unknown("?")

    def _item_free(self, step: Step, scope: Scope) -> bool:
        """Whether the step's `when` reads nothing that differs from one loop item to the
        next (then its outcome is the same for every item)."""
        if step.when is None:
            return True
        try:
            condition = compile_condition(step.when)
        except ConditionError:
            return True  # the same problem, whichever the item
        return not any(scope.varies(ref) for ref in condition.refs())

    def _is_broken(self, step: Step) -> bool:
        return step.path in self.broken.steps

    # -- loops -----------------------------------------------------------------------------
    def _rows(self, loop: Loop, scope: Scope) -> Iterator[data.Row]:
        where = self.playbook.doc.locate(loop.path)
        if loop.file is not None:
            path = (self.base / loop.file)
            display = loop.file
            unusable = data.check_path(path, loop.file)  # gone, a FIFO, a device, unreadable
            if unusable is not None:
                self.report((*loop.path, "file"), *unusable)
                return
            try:
                fmt = data.file_format(path, loop.format)
            except ValueError as exc:
                self.report((*loop.path, "file"), str(exc), None)
                return
            yield from data.read_file(path, display, fmt, loop.delimiter, iter_items)
            return
        items = loop.items
        if isinstance(items, str):
            items, errors = variables.resolve_checked(items, scope.lookup)
            for _, message, hint in errors:
                self.report(loop.path, message, hint)
            if errors:
                return
            if not isinstance(items, list):
                self.report(loop.path, f"loop: {loop.items} is not a list", None)
                return
        else:
            # Inline items are templates too: `loop: ["${vars.a}"]` sends a's value, never
            # the text `${vars.a}`.
            listed: PathT = (*loop.path, "items")  # `loop: {items: [...]}` or `loop: [...]`
            at = listed if listed in self.playbook.doc.positions else loop.path
            items, errors = variables.resolve_checked(items, scope.lookup)
            for sub, message, hint in errors:
                self.report((*at, *sub), message, hint)
            if errors:
                return
        for n, item in enumerate(items or [], 1):
            yield data.Row(n, where, item)

    def _items(self, step: Step, scope: Scope) -> Iterator[tuple[data.Row, Scope, str | None]]:
        """The loop's items that pass the step's `when`, each with its scope."""
        assert step.loop is not None
        if step.path in self.broken.loops:
            return  # the loop's own declaration is wrong: its rows cannot be checked
        bad = 0
        taken = 0
        limit = self.selection.limit_items
        rows = self._rows(step.loop, scope)
        columns, from_file = step.loop.columns, bool(step.loop.file)
        # A `when` that reads nothing of the item has one outcome for every row: it is
        # evaluated for the first row and that outcome (a problem too) holds for the rest.
        fixed: bool | Unknown | None = None
        item_free: bool | None = None
        while limit is None or taken < limit:
            try:
                row = next(rows)
                row = data.check_row(row, columns)
            except StopIteration:
                break
            except LocatedError as exc:
                bad += 1
                if bad <= MAX_ROW_PROBLEMS:
                    self.report(exc.where, exc.message, getattr(exc, "hint", None))
                if isinstance(exc, data.RowError):
                    continue
                break  # a file that cannot be read any further
            # A value XML cannot carry is blamed on the data row it came from (see _sendable).
            item_scope = scope.with_item(row.value, row.where if from_file else None)
            if fixed is not None:
                when = fixed
            else:
                if item_free is None:
                    item_free = self._item_free(step, item_scope)
                when = self._condition(step, item_scope)
                if item_free:
                    fixed = when
            if when is False:
                continue
            taken += 1
            yield row, item_scope, (f"known after step {when.step}"
                                    if isinstance(when, Unknown) else None)
        if bad > MAX_ROW_PROBLEMS:
            self.report(step.loop.path, f"{bad - MAX_ROW_PROBLEMS} more rows with problems", None)

    def _group(self, step: Step, scope: Scope, key: CallKey,
               marks: frozenset[str]) -> Iterator[Event]:
        if step.loop is None:
            yield from self._steps(step.children, scope.inner(), key.path, marks)
            return
        for row, item_scope, _ in self._items(step, scope):
            yield from self._steps(step.children, item_scope.inner(),
                                   (*key.path, f"item-{row.number}"), marks)

    # -- calls -----------------------------------------------------------------------------
    def _template(self, step: Step, part: str, template: dict[str, Any]) -> variables.Template:
        """A template of the step (`part` names it: its params, or a batched step's list
        alone), compiled on first use."""
        compiled = self._templates.get((step.path, part))
        if compiled is None:
            compiled = variables.Template(template, envelope.UNSENDABLE.search)
            self._templates[(step.path, part)] = compiled
        return compiled

    def _resolve(self, step: Step, scope: Scope) -> tuple[dict[str, Any], bool] | None:
        return self._resolve_part(step, scope, self._template(step, "params", step.params))

    def _resolve_part(self, step: Step, scope: Scope, compiled: variables.Template) -> tuple[
            dict[str, Any], bool] | None:
        """The template resolved in `scope`, and whether it may hold a run-time value
        (Pending); None after reporting a problem."""
        params: dict[str, Any]
        params, errors, dirty, pending = compiled.resolve(scope)
        for sub, message, hint in errors:
            self.report((*step.op_path, *sub), message, hint)
        # Only a value that may hold an unsendable character is looked at again.
        if errors or (dirty and not self._sendable(step, scope, params)):
            return None
        return params, pending

    def _sendable(self, step: Step, scope: Scope, params: dict[str, Any]) -> bool:
        """Whether every resolved value can be written in XML (body and headers alike:
        targetWorkspace is a parameter here). Checked before any envelope is built, so the
        problem names the field and the data row, e.g. `leads.csv:3: FirstName: U+0001 ...`."""
        if _clean(params):  # the common case, without building the details
            return True
        bad = list(_unsendable(params, ()))
        for sub, char in bad:
            self.unsendable += 1
            if self.unsendable > MAX_ROW_PROBLEMS:
                self.report(step.op_path, f"more values cannot be sent in XML (only the first "
                            f"{MAX_ROW_PROBLEMS} are listed)", None)
                break
            what = f"{describe_char(char)} cannot be sent in XML"
            if scope.item_where is not None and _holds(scope.item, char):
                field_name = next((p for p in reversed(sub) if isinstance(p, str)), "value")
                self.report(scope.item_where, f"{field_name}: {what}", _XML_HINT)
            else:
                self.report((*step.op_path, *sub), what, _XML_HINT)
        return not bad

    def _one(self, step: Step, scope: Scope, key: CallKey, label: str,
             condition: str | None) -> Iterator[Call]:
        resolved = self._resolve(step, scope)
        if resolved is not None and not self._is_broken(step):
            params, pending = resolved
            call = self._call(step, scope, key, label, params, condition, pending)
            if call is not None:
                yield call

    def _batched(self, step: Step, scope: Scope, key: CallKey,
                 condition: str | None) -> Iterator[Call]:
        batching = step.op.batching
        assert batching is not None
        list_field, limit = batching.field, batching.size
        batch: list[Any] = []
        batch_key: str | None = None
        rest: dict[str, Any] = {}
        number = 0
        known_total: int | None = None
        looped = step.loop is not None
        items = self._items(step, scope) if looped else iter([(None, scope, condition)])
        # When nothing but the list reads what differs between items (an item's field, or a
        # variable defined through one), the rest is resolved once: per item, only its
        # entries are (a 100,000-row loop pays for the entries alone).
        rest_template = {k: v for k, v in step.params.items() if k != list_field}
        per_item = looped and not any(
            scope.varies(ref) for ref in variables.refs_in(rest_template))
        only_list = self._template(step, "list", {list_field: step.params.get(list_field)})
        broken = self._is_broken(step)
        # Whether the rest, or an entry in the batch being filled, may hold a run-time value
        # (Pending): a call's pending steps are looked for only then.
        rest_pending = batch_pending = False
        for _, item_scope, note in items:
            condition = condition or note
            if broken:
                self._resolve(step, item_scope)
                continue
            if per_item and batch_key is not None:
                # The rest is that of the first item: only the entries are new.
                resolved = self._resolve_part(step, item_scope, only_list)
                if resolved is None:
                    continue
                part, pending = resolved
                entries = part.get(list_field) or []
                if not isinstance(entries, list):
                    self.report((*step.op_path, list_field), f"{list_field} must be a list",
                                None)
                    continue
            else:
                resolved = self._resolve(step, item_scope)
                if resolved is None:
                    continue
                params, pending = resolved
                entries = params.pop(list_field, None) or []
                if not isinstance(entries, list):
                    self.report((*step.op_path, list_field), f"{list_field} must be a list",
                                None)
                    continue
                # Items share a call only when everything but the list is the same.
                this_key = json.dumps(params, sort_keys=True, default=str)
                if batch and this_key != batch_key:
                    number += 1
                    yield from self._flush(step, scope, key, number, rest, list_field, batch,
                                           condition, known_total, rest_pending or batch_pending)
                    batch = []
                    batch_pending = False
                batch_key, rest, rest_pending = this_key, params, pending
            batch_pending = batch_pending or pending
            if not looped:  # the whole list is known: so is the number of batches
                known_total = max(1, -(-len(entries) // limit))
            for entry in entries:
                batch.append(entry)
                if len(batch) == limit:
                    number += 1
                    yield from self._flush(step, scope, key, number, rest, list_field, batch,
                                           condition, known_total, rest_pending or batch_pending)
                    batch = []
                    batch_pending = pending  # this item's other entries go on in the next
        # A step without a loop always makes its call, even with an empty list.
        if batch or (number == 0 and not looped and batch_key is not None):
            number += 1
            yield from self._flush(step, scope, key, number, rest, list_field, batch, condition,
                                   known_total, rest_pending or batch_pending)

    def _flush(self, step: Step, scope: Scope, key: CallKey, number: int, rest: dict[str, Any],
               list_field: str, batch: list[Any], condition: str | None,
               known_total: int | None, pending: bool) -> Iterator[Call]:
        total = known_total or self.totals.get(key.step_key)
        label = "" if total == 1 else (f"batch {number}/{total}" if total else f"batch {number}")
        batching = step.op.batching
        later = dict(batching.later) if batching is not None and number > 1 else {}
        call = self._call(step, scope, replace(key, batch=number), label,
                          {**rest, **later, list_field: batch}, condition, pending)
        if call is not None:
            yield call

    def _call(self, step: Step, scope: Scope, key: CallKey, label: str, params: dict[str, Any],
              condition: str | None, maybe_pending: bool = True) -> Call | None:
        """`maybe_pending`: whether `params` may hold a run-time value (else none is looked
        for: a 300-record batch is not walked for nothing)."""
        op = step.op
        pending = tuple(sorted({p.step for p in _pendings(params)})) if maybe_pending else ()
        headers = {name: params.pop(name) for name in op.soap.header_params if name in params}
        text = ""
        if self.soap_bodies:
            content = op.soap.encode(op.with_defaults(_samples(params) if pending else params))
            body, problems = envelope.build(self.schema, op.name, content)
            for where, message in problems:
                self.report((*step.op_path, *where.split(".")) if where else step.op_path,
                            message, None)
            if body is None or problems:
                return None
            text = body.text
        self.counts[key.step_key] = self.counts.get(key.step_key, 0) + 1
        records = len(params.get(op.batching.field) or []) or 1 if op.batching else 1
        workspace = headers.get("targetWorkspace")
        return Call(step, key, label, params, None if workspace is None else str(workspace),
                    text, records, scope, pending, condition, self.schema)


_XML_HINT = ("XML 1.0 carries tab, line feed, carriage return and printable characters only; "
             "remove the character")


def _clean(value: Any) -> bool:
    """Whether every string in a resolved value can be written in XML (once per item: lean)."""
    if isinstance(value, str):
        return envelope.UNSENDABLE.search(value) is None
    if isinstance(value, dict):
        value = value.values()
    elif not isinstance(value, list):
        return True
    for one in value:  # noqa: SIM110 - a plain loop: all() and a generator cost 3x here
        if not _clean(one):
            return False
    return True


def _unsendable(value: Any, path: PathT) -> Iterator[tuple[PathT, str]]:
    """(sub-path, character) of each resolved value XML cannot carry."""
    if isinstance(value, str):
        char = envelope.unsendable(value)
        if char is not None:
            yield path, char
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _unsendable(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _unsendable(v, (*path, i))


def _holds(value: Any, char: str) -> bool:
    """Whether a loop item holds `char` anywhere (then the value came from its row)."""
    if isinstance(value, str):
        return char in value
    if isinstance(value, dict):
        return any(_holds(v, char) for v in value.values())
    if isinstance(value, list):
        return any(_holds(v, char) for v in value)
    return False


def _item_label(row: data.Row) -> str:
    return f"item {row.number} ({row.where.file}:{row.where.line})"


def _pendings(value: Any) -> Iterator[Pending]:
    if isinstance(value, Pending):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _pendings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _pendings(v)


def _marked(value: Any) -> Any:
    if isinstance(value, Pending):
        return str(value)
    if isinstance(value, dict):
        return {k: _marked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_marked(v) for v in value]
    return value


def sample_params(call: Call) -> dict[str, Any]:
    """A call's params in the playbook's vocabulary, run-time values as typed samples and its
    header params put back (what an API's encoding reads)."""
    params: dict[str, Any] = _samples(call.params) if call.pending else dict(call.params)
    if call.workspace is not None:
        params["targetWorkspace"] = call.workspace
    return params


def _samples(value: Any) -> Any:
    if isinstance(value, Pending):
        return value.sample
    if isinstance(value, dict):
        return {k: _samples(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_samples(v) for v in value]
    return value


def var_problems(playbook: Playbook, scope: Scope, report: Report) -> None:
    """Variables defined through each other in a cycle: a load error at the variable, even
    if no step reads it (a step that does is told again where it reads it)."""
    for cycle in variables.var_cycles(scope.vars):
        where = ("vars", cycle[0]) if cycle[0] in playbook.vars else ("vars",)
        report(where, variables.cycle_message(cycle), variables.CYCLE_HINT)


def data_files(playbook: Playbook) -> dict[str, Path]:
    """Every data file the playbook's loops read, by the name the playbook gives it."""
    return {s.loop.file: playbook.path.parent / s.loop.file for s in playbook.all_steps()
            if s.loop is not None and s.loop.file is not None}
