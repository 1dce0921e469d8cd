"""Data flows one way: every module of runner/ imports only from the layers the design allows
(docs/architecture.md draws them), and each third-party library has one owner module (one on
the runner's side and one in the sandbox, which is a separate server)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "runner"

# Plain records and helpers everything may use.
BASE = ("runner", "runner.model", "runner.errors", "runner.resources")
SOAP = ("runner.soap",)
# The most specific prefix wins. A module no rule covers fails the test: a new module must be
# placed in the design on purpose.
ALLOWED: dict[str, tuple[str, ...]] = {
    # records and small value types (`runner` itself: the version)
    "runner": (),
    "runner.model": (),
    "runner.errors": ("runner.model",),
    "runner.resources": (),
    "runner.ratelimit": (),
    "runner.secrets": BASE,
    # remembered verdicts of the two schema libraries (the user's cache directory)
    "runner.verdicts": ("runner",),
    "runner.schema_compiled": (),  # JSON Schemas as plain checks (no jsonschema)
    "runner.jsonschemas": (*BASE, "runner.verdicts", "runner.schema_compiled"),
    "runner.retry": BASE,
    "runner.runlock": BASE,
    "runner.target": (*BASE, "runner.secrets", "runner.rest.api"),
    "runner.options": (*BASE, "runner.ratelimit", "runner.retry"),
    # what the runner knows about Marketo's operations, and the SOAP wire format
    "runner.operations": (*BASE, "runner.operations", "runner.soap.elements"),
    "runner.soap": (*BASE, *SOAP, "runner.verdicts"),
    # load: the playbook, its variables, conditions and data
    "runner.playbook": (*BASE, "runner.playbook", "runner.operations", "runner.jsonschemas"),
    "runner.variables": (*BASE, "runner.operations", "runner.secrets"),
    "runner.conditions": (*BASE, "runner.variables"),
    "runner.data": BASE,
    "runner.cli_inputs": (*BASE, "runner.data", "runner.playbook.source"),
    # resolve and build: the call generator, then prepare (the plan)
    "runner.calls": (*BASE, "runner.conditions", "runner.data", "runner.options",
                     "runner.playbook", "runner.variables", "runner.operations", *SOAP),
    "runner.prepare": (*BASE, "runner.calls", "runner.cli_inputs", "runner.options",
                       "runner.playbook", "runner.secrets", "runner.target", "runner.variables",
                       "runner.operations", "runner.rest.api", *SOAP),
    # send
    "runner.transport": (*BASE, "runner.soap.namespaces"),
    "runner.rest": (*BASE, "runner.rest", "runner.operations", "runner.secrets",
                    "runner.jsonschemas"),
    "runner.journal": (*BASE, "runner.secrets"),
    "runner.saved_plan": (*BASE, "runner.calls", "runner.options", "runner.secrets"),
    "runner.preflight": (*BASE, "runner.operations", "runner.senders"),
    "runner.senders": (*BASE, "runner.calls", "runner.rest", "runner.secrets", "runner.target",
                       *SOAP),
    "runner.executor": (*BASE, "runner.calls", "runner.journal", "runner.options",
                        "runner.ratelimit", "runner.retry", "runner.secrets", "runner.target",
                        "runner.senders", "runner.operations", *SOAP),
    # report
    "runner.report": (*BASE, "runner.report", "runner.secrets", "runner.jsonschemas"),
    "runner.console": (*BASE, "runner.secrets"),
    "runner.planview": (*BASE, "runner.prepare", "runner.report.github", "runner.operations"),
    "runner.envelope_files": (*BASE, "runner.calls", "runner.secrets", *SOAP),
    # one run and its state on disk
    "runner.runs": (*BASE, "runner.executor", "runner.journal", "runner.options",
                    "runner.prepare", "runner.preflight", "runner.ratelimit", "runner.report",
                    "runner.runlock", "runner.secrets", "runner.senders", "runner.target",
                    "runner.transport"),
    # the command line (the composition root) and what only it uses
    "runner.scaffold": BASE,
    "runner.about": (*BASE, "runner.operations"),
    "runner.launch": (*BASE, "runner.options", "runner.prepare", "runner.rest.api",
                      "runner.sandbox", "runner.secrets", "runner.target"),
    "runner.cli": ("runner",),  # may import anything of the runner
    # the Python API: a composition root like cli (it may import anything), without click
    "runner.api": ("runner",),
    "runner.__main__": ("runner.entry",),
    # the console script's first module: the root --help from cache, else runner.cli
    "runner.entry": ("runner", "runner.cli"),
    # the local Marketo: a separate server that shares only the WSDL and the signature
    "runner.sandbox": (*BASE, "runner.sandbox", "runner.soap.namespaces", "runner.soap.auth",
                       "runner.soap.xsd", "runner.soap.safexml"),
}
OWNERS = {
    "yaml": ("runner.playbook.source", "runner.sandbox.fixture"),
    "jsonschema": ("runner.jsonschemas",),
    "xmlschema": ("runner.soap.xsd",),
    "requests": ("runner.transport",),
    "urllib3": ("runner.transport",),
    "certifi": ("runner.transport",),
    "click": ("runner.cli", "runner.console", "runner.about"),
    "defusedxml": ("runner.soap.safexml", "runner.soap.response", "runner.sandbox.service",
                   "runner.sandbox.describe"),
    "sqlite3": ("runner.sandbox.db", "runner.sandbox", "runner.sandbox.store",
                "runner.sandbox.views"),
}


def _type_only(tree: ast.Module) -> set[int]:
    """Line numbers inside `if TYPE_CHECKING:` blocks: annotations, not a runtime edge."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and (
                node.test.id == "TYPE_CHECKING"):
            for inner in node.body:
                lines.update(range(inner.lineno, (inner.end_lineno or inner.lineno) + 1))
    return lines


def _modules() -> list[tuple[str, set[str]]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(p for p in rel.parts if p != "__init__")
        tree = ast.parse(path.read_text())
        skip = _type_only(tree)
        imported: set[str] = set()
        for node in ast.walk(tree):
            if getattr(node, "lineno", 0) in skip:
                continue
            if isinstance(node, ast.Import):
                imported |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module)
                imported |= {f"{node.module}.{a.name}" for a in node.names
                             if node.module == "runner" and not a.name.startswith("__")}
        out.append((name, imported))
    return out


def _rule(module: str) -> tuple[str, ...] | None:
    matches = [k for k in ALLOWED if module == k or (k != "runner" and module.startswith(k + "."))]
    return ALLOWED[max(matches, key=len)] if matches else None


@pytest.mark.parametrize(("module", "imported"), _modules(), ids=lambda v: v if
                         isinstance(v, str) else "")
def test_module_imports_respect_the_layers(module, imported):
    rules = _rule(module)
    assert rules is not None, f"{module} has no place in the layers: add it to ALLOWED"
    for name in imported:
        if name.startswith("runner") and name != module and not name.startswith(module + "."):
            assert name in rules or any(name.startswith(r + ".") for r in rules), (
                f"{module} must not import {name}")
        top = name.split(".")[0]
        if top in OWNERS:
            assert module in OWNERS[top], f"{module} imports {top}; only {OWNERS[top]} may"


def test_the_layers_name_only_modules_that_exist():
    names = {name for name, _ in _modules()}
    for prefix in ALLOWED:
        assert any(n == prefix or n.startswith(prefix + ".") for n in names), prefix
    for owners in OWNERS.values():
        for owner in owners:
            assert owner in names, owner
