"""Property: whatever a playbook turns into, `mktows-run validate` answers 0 or 2, never a
traceback. Valid playbooks are mutated as data (keys deleted or renamed, values swapped for
junk of any type, steps reordered or duplicated) and as text (characters deleted or inserted).
"""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from runner.model import Literal
from runner.playbook import source
from tests.conftest import ROOT

TARGET = {"endpoint": "${env.MKTOWS_ENDPOINT}", "userId": "${env.MKTOWS_USER_ID}",
          "encryptionKey": "${secret.MKTOWS_ENCRYPTION_KEY}"}

INLINE: list[dict[str, Any]] = [
    {"version": 1, "name": "loops and groups", "target": TARGET,
     "vars": {"program": "Welcome Program", "emails": ["a@example.com", "b@example.com"],
              "on": True, "n": 3},
     "steps": [
         {"id": "find", "loop": "${vars.emails}", "when": "${vars.on} == true and not ${vars.n} in [1, 2]",
          "getLead": {"leadKey": {"keyType": "EMAIL", "keyValue": "${item}"}}},
         {"id": "onboard", "loop": {"items": [{"Email": "c@example.com", "Id": 7}],
                                    "columns": [{"name": "Email", "required": True},
                                                {"name": "Id", "type": "integer"}]},
          "steps": [
              {"id": "sync", "syncLead": {"leadRecord": {"Email": "${item.Email}",
                                                         "leadAttributeList": {"Country": "NO"}},
                                          "returnLead": True}},
              {"id": "request", "requestCampaign": {
                  "campaignId": 1001,
                  "leadList": [{"keyType": "IDNUM", "keyValue": "${steps.sync.leadId}"}]}},
          ]},
         {"id": "batch", "scheduleCampaign": {
             "programName": "${vars.program}", "campaignName": "Welcome Batch",
             "campaignRunAt": "2026-12-01T09:00:00-06:00", "cloneToProgramName": "Copy",
             "programTokenList": [{"name": "{{my.message}}", "value": "$${literal} hi"}]}},
         {"id": "campaigns", "getCampaignsForSource": {"source": "SALES", "name": "Welcome",
                                                       "exactName": False}},
     ]},
    {"version": 1, "target": TARGET,
     "steps": [
         {"id": "many", "tags": ["import"], "syncMultipleLeads": {
             "dedupEnabled": True,
             "leadRecordList": [{"Email": "x@example.com"},
                                {"ForeignSysPersonId": "F1", "ForeignSysType": "SFDC"},
                                {"Id": 5, "leadAttributeList": [{"attrName": "FirstName",
                                                                 "attrValue": "X"}]}]}},
         {"id": "by-name", "when": "${steps.many.leadIds} != []", "requestCampaign": {
             "source": "MKTOWS", "programName": "P", "campaignName": "C",
             "programTokenList": {"my.greeting": "Hello"},
             "leadList": [{"keyType": "SFDCLEADID", "keyValue": "00Q1"}]}},
     ]},
]


def _plain(value: Any) -> Any:
    """Loader output as plain YAML-dumpable data (a `!literal` string becomes a str)."""
    if isinstance(value, Literal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _seeds() -> list[Any]:
    out = []
    for path in sorted((ROOT / "playbooks").glob("*.yml")):
        doc, problems = source.load(path)
        assert not problems, problems
        out.append(_plain(doc.data))
    return out + INLINE


SEEDS = _seeds()

# Seeds mutated as text only: comments, anchors, aliases, merge keys and tags survive.
RAW_TEXT = """\
version: 1
name: anchors & tags
target:
  endpoint: ${env.MKTOWS_ENDPOINT}
  userId: ${env.MKTOWS_USER_ID}
  encryptionKey: ${secret.MKTOWS_ENCRYPTION_KEY}
vars:
  lead: &lead {Email: ada@example.com, leadAttributeList: {Country: NO, Active: yes}}
  program: &program {programName: Welcome Program}
  script: !literal "#set($x = ${lead.FirstName})"
steps:
  - id: sync  # a comment
    syncLead:
      leadRecord: *lead
  - id: batch
    when: ${steps.sync.status} in ['CREATED', 'UPDATED'] and not ${vars.program.programName} == ''
    scheduleCampaign:
      <<: *program
      campaignName: Welcome Batch
      programTokenList:
        "{{my.script}}": ${vars.script}
        my.plain: $${not a reference}
"""
RAW = [path.read_text(encoding="utf-8") for path in sorted((ROOT / "playbooks").glob("*.yml"))]
RAW.append(RAW_TEXT)

JUNK_TEXT = ["${", "{{", "$$", "}}", "${vars.", "${vars.email}", "${vars.nope}", "${steps.sync.leadId}",
             "${steps.nope.x}", "${steps.sync}", "${item}", "${item.Email}", "${env.HOME}",
             "${env.MKTOWS_NOT_SET}", "${secret.NOPE}", "${lead.FirstName}", "$${vars.x}",
             "{{my.message}}", "my.token", "{{lead.First Name}}", "${vars['a b']}", "${vars[0]}",
             "${vars.x[99]}", "${ }", "${1}", "$", "NO", "yes", "on", "~", "null", "true", "0x1F",
             "0o17", "1e9999", ".nan", "-.inf", "2026-12-01", "2026-13-45T99:99:99+99:99",
             "<<", "&a", "*a", "!literal", "'", '"', "\\", "\t", "\n", "\x00", "\u200b", "é",
             "日本語", "🙂", "\U0001d518\U0001d52b\U0001d526", "x" * 5000, "${" * 50, "a" * 300 + ".csv",
             "data/leads.csv", "data", "../data/leads.csv", "==", "not in", "(", ")", "[", "]",
             "${vars.on} ==", "and or not", "'x' in 3", "${vars.n} in [1,", "IDNUM", "EMAL",
             "MKTOWS", "SFDC", "syncLead", "steps", "csv", "json", "jsonl", "yaml"]

KEYS = ["version", "name", "target", "vars", "steps", "id", "when", "tags", "loop", "file",
        "items", "columns", "format", "delimiter", "required", "type", "syncLead",
        "syncMultipleLeads", "requestCampaign", "scheduleCampaign", "getLead",
        "getCampaignsForSource", "leadRecord", "leadRecordList", "leadList", "leadKey", "keyType",
        "keyValue", "Email", "Id", "ForeignSysPersonId", "ForeignSysType", "leadAttributeList",
        "programTokenList", "campaignId", "programName", "campaignName", "campaignRunAt",
        "cloneToProgramName", "returnLead", "source", "<<", "{{my.x}}", "", " ", "requestCampaing"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40),
    st.sampled_from(JUNK_TEXT),
)
junk = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner,
                                            max_size=4)),
    max_leaves=12,
)


def _nodes(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _nodes(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _nodes(v, (*path, i))
    return out


def _get(root: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        root = root[part]
    return root


def _set(root: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    _get(root, path[:-1])[path[-1]] = value
    return root


def _mutate(data: st.DataObject, root: Any) -> Any:
    nodes = _nodes(root)
    path = data.draw(st.sampled_from(nodes), label="path")
    op = data.draw(st.sampled_from(["delete", "rename", "replace", "swap", "wrap", "steps",
                                    "duplicate"]), label="op")
    if op == "delete" and path:
        parent = _get(root, path[:-1])
        del parent[path[-1]]
    elif op == "rename" and path and isinstance(path[-1], str):
        parent = _get(root, path[:-1])
        new = data.draw(st.sampled_from(KEYS) | st.text(max_size=12) | st.sampled_from(
            [path[-1][:-1], path[-1] + "s", path[-1].upper(), path[-1][1:] + path[-1][:1]]),
            label="new key")
        value = parent.pop(path[-1])
        parent[new] = value
    elif op == "replace":
        root = _set(root, path, data.draw(junk, label="junk"))
    elif op == "swap":
        other = data.draw(st.sampled_from(nodes), label="other")
        if path and other and path[:len(other)] != other and other[:len(path)] != path:
            a, b = _get(root, path), _get(root, other)
            root = _set(root, path, b)
            root = _set(root, other, a)
    elif op == "wrap":
        value = _get(root, path)
        wrapped = data.draw(st.sampled_from(["list", "dict", "nested"]), label="wrap")
        value = {"x": value} if wrapped == "dict" else (
            [value] if wrapped == "list" else [[value, [value]]])
        root = _set(root, path, value)
    elif op in ("steps", "duplicate"):
        lists = [p for p in nodes if p and p[-1] == "steps" and isinstance(_get(root, p), list)
                 and _get(root, p)]
        if lists:
            steps = _get(root, data.draw(st.sampled_from(lists), label="steps list"))
            if op == "steps":
                order = data.draw(st.permutations(range(len(steps))), label="order")
                steps[:] = [steps[i] for i in order]
            else:
                i = data.draw(st.integers(0, len(steps) - 1), label="duplicated step")
                steps.insert(i, _plain(steps[i]))
    return root


def _edit_text(data: st.DataObject, text: str) -> str:
    for _ in range(data.draw(st.integers(0, 3), label="text edits")):
        if not text:
            break
        at = data.draw(st.integers(0, len(text)), label="at")
        if data.draw(st.booleans(), label="delete?"):
            text = text[:at] + text[at + data.draw(st.integers(1, 20), label="n"):]
        else:
            insert = data.draw(st.sampled_from(["\t", "\n", "  ", ":", ": ", "- ", "{", "}", "[", "]",
                                                "&a ", "*a", "<<: *a\n", "!!python/object ", "!x ",
                                                "'", '"', "#", "%YAML 1.1\n", "---\n", "${", "\x00",
                                                "\ufeff", "é"]) | st.text(max_size=5),
                               label="insert")
            text = text[:at] + insert + text[at:]
    return text


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("mutants")
    shutil.copytree(ROOT / "playbooks" / "data", base / "data")
    return base


_counter = itertools.count()


# MKTOWS_PROPERTY_EXAMPLES=5000 pytest tests/test_property_playbooks.py  hunts longer.
@settings(max_examples=int(os.environ.get("MKTOWS_PROPERTY_EXAMPLES", "150")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(seed=st.sampled_from(range(len(SEEDS) + len(RAW))), data=st.data())
def test_a_mutated_playbook_is_valid_or_rejected_never_a_crash(run_cli, workdir, seed, data):
    if seed < len(SEEDS):
        root = _plain(SEEDS[seed])
        for _ in range(data.draw(st.integers(1, 4), label="mutations")):
            root = _mutate(data, root)
        text = yaml.safe_dump(root, allow_unicode=True, sort_keys=False, width=120)
        text = _edit_text(data, text)
    else:
        text = RAW[seed - len(SEEDS)]
        for _ in range(data.draw(st.integers(1, 3), label="rounds")):
            text = _edit_text(data, text)
    path = workdir / f"mutant-{next(_counter)}.yml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    res = run_cli("validate", str(path))
    everything = res.out + res.err
    assert "Traceback" not in everything, everything
    assert "internal error" not in everything, everything
    assert res.code in (0, 2), everything
    event(f"exit {res.code}")
    if res.code == 2:
        assert "nothing was sent." in res.err
