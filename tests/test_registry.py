"""The operation registry is the one place that knows an operation: outside runner/sandbox/ and
its own module, no code names one; every registered operation is in the shipped WSDL and the
playbook schema; and what an operation's SOAP reader returns is exactly the outputs it
declares (a later step reads them by those names)."""

from __future__ import annotations

import ast
import json
import re
import textwrap
from pathlib import Path

import pytest

from runner.operations import NAMES, REGISTRY
from runner.resources import playbook_schema_path, wsdl_path
from runner.soap import xsd
from tests.conftest import REST_TARGET_YAML, TARGET_YAML, rest_target_env, target_env

RUNNER = Path(__file__).resolve().parent.parent / "runner"


def _module_of(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()  # syncLead -> sync_lead


def _string_constants(path: Path) -> set[str]:
    """String constants used as values in code (docstrings are prose, not knowledge)."""
    tree = ast.parse(path.read_text())
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, ast.Module | ast.FunctionDef | ast.ClassDef) and n.body
                  and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
            and isinstance(n.value, str) and id(n) not in docstrings}


def test_no_module_outside_the_registry_names_an_operation():
    offenders = []
    for path in sorted(RUNNER.rglob("*.py")):
        rel = path.relative_to(RUNNER)
        if rel.parts[0] == "sandbox":
            continue  # the sandbox is Marketo: it answers operations by name
        named = _string_constants(path) & set(NAMES)
        own = {n for n in named if rel.parts[0] == "operations" and path.stem == _module_of(n)}
        if named - own:
            offenders.append(f"{rel}: {sorted(named - own)}")
    assert offenders == []


def test_every_operation_has_its_own_module_and_record():
    for name, op in REGISTRY.items():
        module = RUNNER / "operations" / f"{_module_of(name)}.py"
        assert module.is_file(), module
        assert op.name == name and op.outputs and op.doc
        assert (op.batching is None) == (name not in ("syncMultipleLeads", "requestCampaign",
                                                       "listOperation", "importToList"))


def test_every_registered_operation_is_in_the_wsdl_and_the_playbook_schema():
    schema = xsd.load(str(wsdl_path()))
    step = json.loads(playbook_schema_path().read_text())["$defs"]
    text = json.dumps(step)
    for name in NAMES:
        assert name in schema.bindings, name
        assert f'"{name}"' in text, name


@pytest.mark.parametrize("api", ["soap", "rest"])
def test_each_readers_outputs_are_exactly_what_its_operation_declares(run_cli, sandbox, tmp_path,
                                                                      api):
    target, env = ((TARGET_YAML, target_env(sandbox)) if api == "soap"
                   else (REST_TARGET_YAML, rest_target_env(sandbox)))
    (tmp_path / "p.yml").write_text("version: 1\nname: Every operation\n" + target
                                    + textwrap.dedent("""\
        steps:
          - id: syncLead
            syncLead: {leadRecord: {Email: reg@example.com}, returnLead: true}
          - id: syncMultipleLeads
            syncMultipleLeads: {leadRecordList: [{Email: reg2@example.com}]}
          - id: getLead
            getLead: {leadKey: {keyType: EMAIL, keyValue: reg@example.com}}
          - id: getCampaignsForSource
            getCampaignsForSource: {}
          - id: requestCampaign
            requestCampaign:
              campaignId: 1001
              leadList: [{keyType: IDNUM, keyValue: "${steps.syncLead.leadId}"}]
          - id: scheduleCampaign
            scheduleCampaign: {programName: Welcome Program, campaignName: Welcome Batch}
          - id: importToList
            importToList:
              programName: Welcome Program
              listName: Welcome List
              importFileHeader: [Email Address, First Name]
              importFileRows: [[reg3@example.com, Reg]]
              wait: {timeout: 1m, interval: 1s}
          - id: listOperation
            listOperation:
              listOperation: ISMEMBEROFLIST
              listKey: Welcome List
              listMemberList: [{keyType: EMAIL, keyValue: reg3@example.com}]
        """))
    res = run_cli("p.yml", env=env)
    assert res.code == 0, res.out + res.err
    report = json.loads((tmp_path / "results.json").read_text())
    assert {s["id"] for s in report["steps"]} == set(NAMES)
    for step in report["steps"]:
        outputs = step["outputs"] or step["calls"][0]["outputs"]
        assert set(outputs) == set(REGISTRY[step["id"]].outputs), step["id"]
