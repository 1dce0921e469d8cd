"""Data flows one way: each module imports only from the layers the design allows, and each
third-party library has one owner module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "runner"

# module prefix -> runner modules it may import (prefix match); layer 1 is open to all.
LAYER1 = ("runner.model", "runner.errors", "runner.operations", "runner.secrets", "runner.jsonschemas",
          "runner.resources", "runner")
ALLOWED = {
    "runner.playbook": (*LAYER1, "runner.playbook"),
    "runner.variables": LAYER1,
    "runner.conditions": (*LAYER1, "runner.variables"),
    "runner.data": LAYER1,
    "runner.soap": (*LAYER1, "runner.soap"),
    "runner.transport": (*LAYER1, "runner.soap.namespaces"),
    "runner.report": (*LAYER1, "runner.report"),
    "runner.sandbox": (*LAYER1, "runner.sandbox", "runner.soap.namespaces", "runner.soap.auth",
                       "runner.soap.xsd"),
}
OWNERS = {
    "yaml": ("runner.playbook.source", "runner.sandbox.fixture"),
    "jsonschema": ("runner.jsonschemas",),
    "xmlschema": ("runner.soap.xsd",),
    "requests": ("runner.transport",),
    "urllib3": ("runner.transport",),
    "click": ("runner.cli", "runner.console"),
}


def _modules() -> list[tuple[str, set[str]]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(p for p in rel.parts if p != "__init__")
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module)
                imported |= {f"{node.module}.{a.name}" for a in node.names
                             if node.module == "runner" and not a.name.startswith("__")}
        out.append((name, imported))
    return out


@pytest.mark.parametrize(("module", "imported"), _modules(), ids=lambda v: v if
                         isinstance(v, str) else "")
def test_module_imports_respect_the_layers(module, imported):
    rules = next((v for k, v in ALLOWED.items() if module == k or module.startswith(k + ".")),
                 None)
    for name in imported:
        if rules is not None and name.startswith("runner"):
            assert name in rules or any(name.startswith(r + ".") for r in rules if
                                        r != "runner"), f"{module} must not import {name}"
        top = name.split(".")[0]
        if top in OWNERS:
            assert module in OWNERS[top], f"{module} imports {top}; only {OWNERS[top]} may"
