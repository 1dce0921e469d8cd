"""The ${...} language: escapes, one pass, typing, and load-time errors with hints."""

import pytest

from runner.conditions import compile_condition
from runner.model import Literal, Location
from runner.soap.envelope import UNSENDABLE
from runner.variables import (
    Pending,
    Ref,
    Scope,
    Template,
    VariableSyntaxError,
    parse,
    resolve_checked,
)


def _scope(**kw):
    base = dict(vars={"email": "a@example.com", "count": 3, "nested": {"k": "v"}},
                env={"HOME_URL": "https://x"}, secrets={"KEY": "s3cr3t-value"},
                step_ops={"sync": "syncLead"}, outputs={}, all_steps=("sync", "later"))
    base.update(kw)
    return Scope(**base)


@pytest.mark.parametrize(("written", "sent"), [
    ("$${vars.email}", "${vars.email}"),
    ("$$${vars.email}", "$a@example.com"),
    ("Price $5, code $$X", "Price $5, code $$X"),
    ("{{my.message}}", "{{my.message}}"),
    ("{{lead.First Name:default=there}}", "{{lead.First Name:default=there}}"),
    ("hi ${vars.nested.k}!", "hi v!"),
    ("${vars.count}", 3),
    ("n=${vars.count}", "n=3"),
])
def test_substitution_and_escapes(written, sent):
    value, errors = resolve_checked(written, _scope().lookup)
    assert errors == []
    assert value == sent


def test_resolution_is_one_pass_and_never_rescans_a_value():
    # A value from outside (environment, secrets, step outputs) is data, never a template.
    # (A variable's own value is a template: `a: ${vars.b}` resolves, see test_hostile_playbook.)
    scope = _scope(env={"X": "${vars.b}"}, vars={"b": "no"})
    value, errors = resolve_checked("${env.X}", scope.lookup)
    assert (value, errors) == ("${vars.b}", [])


def test_literal_values_are_untouched():
    value, errors = resolve_checked(Literal("#set($x = ${lead.LastName})"), _scope().lookup)
    assert (value, errors) == ("#set($x = ${lead.LastName})", [])


@pytest.mark.parametrize(("written", "message", "hint"), [
    ("${vars.emial}", "unknown variable 'vars.emial'", "did you mean 'email'?"),
    ("${lead.FirstName}", "unknown namespace 'lead'", "$${lead.FirstName}"),
    ("${env.NOPE}", "environment variable NOPE is not set", "export NOPE"),
    ("${secret.NOPE}", "secret NOPE is not set", "--secrets-file"),
    ("${steps.later.leadId}", "runs at or after this step", "earlier steps"),
    ("${steps.snyc.leadId}", "no step has the id 'snyc'", "did you mean 'sync'?"),
    ("${steps.sync.leadid}", "syncLead has no output 'leadid'", "did you mean 'leadId'?"),
    ("${item.Email}", "only defined inside a loop", None),
])
def test_unknown_names_are_errors_with_hints(written, message, hint):
    _, errors = resolve_checked({"f": written}, _scope().lookup)
    assert len(errors) == 1
    path, text, got_hint = errors[0]
    assert path == ("f",)
    assert message in text
    if hint:
        assert hint in got_hint


def test_unterminated_reference_is_a_syntax_error():
    with pytest.raises(VariableSyntaxError, match="unterminated"):
        parse("x ${vars.a")


def test_a_step_output_not_yet_known_is_pending_with_a_typed_sample():
    value, _ = resolve_checked("${steps.sync.leadId}", _scope().lookup)
    assert value == Pending("sync", 1)


def test_secrets_are_recorded_for_redaction_and_masked_in_repr():
    scope = _scope()
    value, _ = resolve_checked("${secret.KEY}", scope.lookup)
    assert value == "s3cr3t-value" and "s3cr3t" not in repr(value)
    assert scope.secret_values == {"s3cr3t-value"}


def test_parse_splits_text_and_references():
    assert parse("a ${vars.x['odd key']} b") == [
        "a ", Ref("vars", ("x", "odd key"), "${vars.x['odd key']}"), " b"]


# -- Template: resolve_checked, planned once per template (a loop resolves it per row) --------

def _template_cases():
    item = {"Email": "a@example.com", "n": 3, "none": None, "ctrl": "x\x02y", "deep": {"k": "v"}}
    templates = [
        {"Email": "${item.Email}", "n": "${item.n}", "none": "${item.none}", "const": "text"},
        {"list": ["${item.Email}", {"k": "${item.deep.k}"}, 7, None, "${item['Email']}"]},
        {"joined": "x ${item.Email} ${vars.count}", "lit": Literal("${item.Email}")},
        {"bad": "${item.Nope}", "syntax": "${item.Email", "env": "${env.NOT_SET_X}"},
        {"tree": "${vars.nested}", "pending": "${steps.sync.leadId}", "whole": "${item}"},
        {"dirty": "${item.ctrl}"},
        {"written dirty": "a\x01b", "ok": "${item.Email}"},
    ]
    looped = _scope().with_item(item, Location("leads.csv", 2, 0))
    return [(t, scope) for t in templates for scope in (looped, _scope())]


@pytest.mark.parametrize(("template", "scope"), _template_cases())
def test_a_template_resolves_as_resolve_checked_does(template, scope):
    want, want_errors = resolve_checked(template, scope.lookup)
    value, errors, dirty, pending = Template(template, UNSENDABLE.search).resolve(scope)
    assert (repr(value), errors) == (repr(want), want_errors)
    # What it says the value may hold is never less than what is there.
    leaves = list(_leaves(value))
    assert dirty or not any(isinstance(v, str) and UNSENDABLE.search(v) for v in leaves)
    assert pending or not any(isinstance(v, Pending) for v in leaves)


def _leaves(value):
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        for one in value:
            yield from _leaves(one)
    else:
        yield value


def test_a_when_reading_only_variables_is_the_same_for_every_item():
    scope = _scope(vars={"flag": True, "who": "${item.Email}"}).with_item(
        {"Email": "a@example.com"}, Location("leads.csv", 2, 0))
    refs = {text: compile_condition(text).refs() for text in (
        "${vars.flag} == true", "${item.Email} in ['a', 'b']", "not (${vars.who} == 'x')")}
    assert [scope.varies(r) for r in refs["${vars.flag} == true"]] == [False]
    assert [scope.varies(r) for r in refs["${item.Email} in ['a', 'b']"]] == [True]
    assert [scope.varies(r) for r in refs["not (${vars.who} == 'x')"]] == [True]
