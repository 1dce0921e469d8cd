"""Hostile and broken playbooks (issue 11): whatever the YAML, the `when:`, the values or the
references hold, `mktows-run` answers with a located problem and exit 2 (0 where the input is
valid), never a traceback, in bounded memory, and sends nothing.

Each case is a playbook (and its data files) written into tmp_path and run through the real
CLI. The cases that attack time or memory (alias and merge bombs, 10,000 levels of nesting,
/dev/zero, a FIFO) run in a subprocess limited to 500 MB of address space, with a generous
timeout: a case that hangs or blows up fails, and no assertion is about time.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from runner import sandbox as box
from tests.conftest import ROOT, TARGET_YAML, CliResult, target_env

MEMORY_LIMIT = 500 * 1024 * 1024
HEAD = "version: 1\nname: Hostile\n" + TARGET_YAML
LEAD = "leadRecord: {Email: ada@example.com}"
GET = "    getLead: {leadKey: {keyType: EMAIL, keyValue: ada@example.com}}\n"
ONE_STEP = "steps:\n  - id: read\n" + GET


def _sync(attrs: str) -> str:
    """A one-step playbook body whose lead has these attributes (a flow mapping's inside)."""
    return ("steps:\n  - id: sync\n    syncLead:\n      leadRecord:\n        Email: ada@example.com\n"
            f"        leadAttributeList: {{{attrs}}}\n")


def _campaign(params: str) -> str:
    return f"steps:\n  - id: run\n    requestCampaign: {{{params}}}\n"


def _loop_csv(step: str = "syncLead") -> str:
    if step == "syncLead":
        op = ("    syncLead:\n      leadRecord:\n        Email: ${item.Email}\n"
              "        leadAttributeList: {FirstName: \"${item.FirstName}\"}\n")
    else:
        op = ("    syncMultipleLeads:\n      leadRecordList:\n        - Email: ${item.Email}\n"
              "          leadAttributeList: {FirstName: \"${item.FirstName}\"}\n")
    return f"steps:\n  - id: import\n    loop: {{file: data/leads.FMT}}\n{op}"


def _nested_merges(levels: int) -> str:
    """Merge keys that double at every level: 2**levels mappings merged, a few lines written."""
    lines = ["vars:", "  m0: &m0 {a: 1, b: 2}"]
    lines += [f"  m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}], k{i}: 1}}" for i in range(1, levels)]
    return "\n".join(lines) + "\n" + ONE_STEP


def _nested_aliases(levels: int, width: int = 10) -> str:
    """Billion laughs: each level is a list of `width` aliases of the level before."""
    lines = ["vars:", "  l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    lines += [f"  l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]"
              for i in range(1, levels)]
    return "\n".join(lines) + "\n" + ONE_STEP


def _alias_chain(levels: int) -> str:
    """Each anchor a list holding the one before: shallow as written, deep once expanded."""
    lines = ["vars:", "  a0: &a0 [x]"] + [f"  a{i}: &a{i} [*a{i - 1}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n" + ONE_STEP


def _var_chain(n: int) -> str:
    lines = ["vars:"] + [f"  v{i}: ${{vars.v{i + 1}}}" for i in range(n)] + [f"  v{n}: end"]
    return "\n".join(lines) + "\n" + ("steps:\n  - id: sync\n    syncLead:\n      leadRecord:\n"
                                      "        Email: ${vars.v0}@example.com\n")


@dataclass(frozen=True)
class Case:
    """One hostile input. `at`: the text the problem points at (its line and column are
    computed from the playbook), or an exact `file:line[:col]` prefix, or None for "any line
    and column of the playbook". `message`: what the problem line must say."""

    id: str
    body: str | bytes  # what follows HEAD, or (with raw=True) the whole file
    message: str
    at: str | None = None
    raw: bool = False
    files: dict[str, str | bytes] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()
    bounded: bool = False  # run in a memory-limited subprocess
    make: Callable[[Path], str] | None = None  # builds the playbook argument itself


def _text(case: Case) -> str | bytes:
    return case.body if case.raw else HEAD + str(case.body)


def _prefix(case: Case) -> str:
    """The start of the problem line the case expects."""
    if case.at is None:
        return "p.yml:"
    if case.at.startswith(("p.yml:", "data/", "vars.yml:", "/dev/", "link.yml:", "fifo.yml:")):
        return case.at
    text = _text(case)
    assert isinstance(text, str)
    index = text.index(case.at)  # its first occurrence
    line = text.count("\n", 0, index) + 1
    return f"p.yml:{line}:{index - text.rfind(chr(10), 0, index)}: "


def _fifo(tmp_path: Path) -> str:
    os.mkfifo(tmp_path / "fifo.yml")
    return "fifo.yml"


def _link_to_zero(tmp_path: Path) -> str:
    (tmp_path / "link.yml").symlink_to("/dev/zero")
    return "link.yml"


CSV_BAD = "Email,FirstName\nada@example.com,Ada\nbob@example.com,\"Bo\x01b\"\n"
NESTED_WHEN = "(" * 5000 + "true" + ")" * 5000
WS_TARGET = HEAD.replace("  encryptionKey:", "  partnerId: \"partner\\x02id\"\n  encryptionKey:")

CASES = [
    # -- YAML: tags on values of the wrong shape, numbers, keys -------------------------------
    Case("tag-int-on-a-word", _campaign("campaignId: !!int one"),
         "the value tagged !!int is not an integer", at="!!int one"),
    Case("tag-float-on-a-word", "vars: {rate: !!float many}\n" + ONE_STEP,
         "vars.rate: the value tagged !!float is not a number", at="!!float many"),
    Case("tag-bool-on-a-word", "steps:\n  - id: s\n    syncLead: {" + LEAD + ", returnLead: !!bool "
         "maybe}\n", "the value tagged !!bool is not a boolean", at="!!bool maybe"),
    Case("tag-null-on-a-word", "vars: {who: !!null Bob}\n" + ONE_STEP,
         "vars.who: the value tagged !!null is not null", at="!!null Bob"),
    Case("int-of-5000-digits", _campaign("campaignId: " + "9" * 5000),
         "a number of 5000 characters is too long", at="9999"),
    Case("tagged-int-of-5000-digits", "vars: {n: !!int '" + "1" * 5000 + "'}\n" + ONE_STEP,
         "vars.n: a number of 5000 characters is too long", at="!!int"),
    Case("hex-int-of-5000-digits", "vars: {n: 0x" + "f" * 5000 + "}\n" + ONE_STEP,
         "vars.n: a number of 5002 characters is too long", at="0xfff"),
    Case("float-of-5000-digits", "vars: {n: 1." + "5" * 5000 + "}\n" + ONE_STEP,
         "vars.n: a number of 5002 characters is too long", at="1.555"),
    Case("nan-as-campaign-id", _campaign("campaignId: .nan"),
         "steps[0].requestCampaign.campaignId: '.nan' is not a number that can be sent", at=".nan"),
    Case("minus-inf-as-attribute", _sync("NumberOfEmployees: -.inf"),
         "leadAttributeList.NumberOfEmployees: '-.inf' is not a number that can be sent",
         at="-.inf"),
    Case("float-overflowing-to-inf", _sync("Score: 1e999"), "'1e999' is not a number that can "
         "be sent", at="1e999"),
    Case("null-key-as-attribute-name", _sync("~: Ada"), "a key of steps[0].syncLead.leadRecord."
         "leadAttributeList must be a name, not null (~)", at="~: Ada"),
    Case("empty-key-as-attribute-name", _sync("'': Ada"),
         "a key of steps[0].syncLead.leadRecord.leadAttributeList is empty", at="'': Ada"),
    Case("integer-key-as-token-name", "steps:\n  - id: run\n    requestCampaign:\n"
         "      programName: P\n      campaignName: C\n      programTokenList: {1: hello}\n",
         "a key of steps[0].requestCampaign.programTokenList must be a name, not an integer (1)",
         at="1: hello"),
    Case("boolean-key-as-variable-name", "vars:\n  true: x\n" + ONE_STEP,
         "a key of vars must be a name, not a boolean (true)", at="true: x"),
    Case("float-key-as-attribute-name", _sync("1.5: Ada"),
         "must be a name, not a number (1.5)", at="1.5: Ada"),
    # -- YAML: foreign tags are refused, never ignored ----------------------------------------
    Case("python-apply-on-a-list", "vars: {x: !!python/object/apply:os.system [echo pwned]}\n"
         + ONE_STEP, "vars.x: the YAML tag !!python/object/apply:os.system is not supported",
         at="!!python"),
    Case("python-name-on-a-scalar", "vars:\n  x: !!python/name:os.system\n" + ONE_STEP,
         "the YAML tag !!python/name:os.system is not supported", at="!!python"),
    Case("python-new-on-a-mapping", "vars: {x: !!python/object/new:os.system {args: [ls]}}\n"
         + ONE_STEP, "the YAML tag !!python/object/new:os.system is not supported", at="!!python"),
    Case("python-tag-on-a-whole-step", "steps:\n  - !!python/object:runner.Step\n    id: read\n"
         + GET, "steps[0]: the YAML tag !!python/object:runner.Step is not supported",
         at="!!python"),
    Case("python-tag-on-a-key", _sync("!!python/str FirstName: Ada"),
         "the YAML tag !!python/str is not supported", at="!!python"),
    Case("python-tag-on-a-merged-mapping", "vars:\n  <<: !!python/object/new:os.system {a: 1}\n"
         + ONE_STEP, "the YAML tag !!python/object/new:os.system is not supported", at="!!python"),
    Case("python-tag-in-a-merge-list", "vars:\n  b: &b {a: 1}\n  c:\n    <<: [*b, !!python/dict "
         "{x: 1}]\n" + ONE_STEP, "the YAML tag !!python/dict is not supported", at="!!python"),
    Case("set-tag", "vars: {x: !!set {a, b}}\n" + ONE_STEP, "the YAML tag !!set is not supported",
         at="!!set"),
    Case("binary-tag", "vars: {x: !!binary aGVsbG8=}\n" + ONE_STEP,
         "the YAML tag !!binary is not supported", at="!!binary"),
    Case("timestamp-tag", "vars: {x: !!timestamp 2026-01-01}\n" + ONE_STEP,
         "the YAML tag !!timestamp is not supported", at="!!timestamp"),
    Case("include-tag", "vars: {x: !include secrets.yml}\n" + ONE_STEP,
         "the YAML tag !include is not supported", at="!include"),
    Case("literal-tag-on-a-mapping", _sync("FirstName: Ada").replace(
         "leadAttributeList: {", "leadAttributeList: !literal {"),
         "the YAML tag !literal marks text only", at="!literal"),
    # -- YAML: anchors, aliases and merges that loop or explode ---------------------------------
    Case("mapping-merging-itself", "vars: &v {a: 1, <<: *v}\n" + ONE_STEP,
         "vars: a << merge refers to the mapping that contains it", at="<<: *v"),
    Case("mapping-merging-its-parent", "vars:\n  base: &b\n    inner:\n      <<: *b\n" + ONE_STEP,
         "a << merge refers to the mapping that contains it", at="<<: *b"),
    Case("list-holding-itself", "vars:\n  l: &l [1, *l]\n" + ONE_STEP,
         "vars.l[1]: an alias refers to a value that contains it", at="&l"),
    Case("aliases-nesting-past-the-depth-bound", _alias_chain(80),
         "the document nests more than 64 levels deep (through aliases)"),
    Case("merges-doubling-at-every-level", _nested_merges(40),
         "the document expands to more than 50,000 values", bounded=True),
    Case("billion-laughs", _nested_aliases(10), "the document expands to more than 50,000 values",
         bounded=True),
    Case("alias-of-a-long-text-used-often", "vars:\n  t: &t " + "x" * 200_000 + "\n  many: ["
         + ", ".join(["*t"] * 200) + "]\n" + ONE_STEP,
         "the document expands to more than 1,048,576 characters of text", bounded=True),
    # -- YAML: nesting -----------------------------------------------------------------------
    Case("flow-lists-10000-deep", "vars: {x: " + "[" * 10000 + "]" * 10000 + "}\n" + ONE_STEP,
         "the document nests more than 64 levels deep", bounded=True),
    Case("flow-mappings-10000-deep", "vars: {x: " + "{a: " * 10000 + "1" + "}" * 10000 + "}\n"
         + ONE_STEP, "the document nests more than 64 levels deep", bounded=True),
    Case("block-mappings-200-deep", "vars:\n" + "".join("  " * (i + 1) + f"k{i}:\n"
                                                       for i in range(200)) + ONE_STEP,
         "the document nests more than 64 levels deep"),
    # -- the file itself -----------------------------------------------------------------------
    Case("playbook-is-dev-zero", "", "not a regular file (a device)", at="/dev/zero:1:1: ",
         bounded=True, make=lambda _: "/dev/zero"),
    Case("playbook-is-a-link-to-dev-zero", "", "not a regular file (a device)",
         at="link.yml:1:1: ", bounded=True, make=_link_to_zero),
    Case("playbook-is-a-fifo", "", "not a regular file (a FIFO)", at="fifo.yml:1:1: ",
         bounded=True, make=_fifo),
    Case("playbook-over-the-size-bound", HEAD + ONE_STEP + "# padding\n" * 30_000,
         "the file is larger than 256 KiB", at="p.yml:1:1: ", raw=True),
    Case("utf16-with-bom", (HEAD + ONE_STEP).encode("utf-16"), "the file is UTF-16 text",
         at="p.yml:1:1: ", raw=True),
    Case("utf16-without-bom", (HEAD + ONE_STEP).encode("utf-16-le"), "the file is UTF-16 text",
         at="p.yml:1:1: ", raw=True),
    Case("utf32-with-bom", (HEAD + ONE_STEP).encode("utf-32"), "the file is UTF-32 text",
         at="p.yml:1:1: ", raw=True),
    Case("latin1-byte", (HEAD + "vars: {who: Zo\xe9}\n" + ONE_STEP).encode("latin-1"),
         "byte 0xE9 is not UTF-8 text", at=f"p.yml:{HEAD.count(chr(10)) + 1}:15: ", raw=True),
    Case("nul-byte", (HEAD + "vars: {who: a\x00b}\n" + ONE_STEP).encode(),
         "U+0000 (NUL) is not allowed in a YAML file", at=f"p.yml:{HEAD.count(chr(10)) + 1}:14: ",
         raw=True),
    Case("raw-control-character", HEAD + "vars: {who: a\x07b}\n" + ONE_STEP,
         "U+0007 is not allowed in a YAML file", at=f"p.yml:{HEAD.count(chr(10)) + 1}:14: ",
         raw=True),
    # -- when: expressions ---------------------------------------------------------------------
    Case("when-parentheses-5000-deep", f"steps:\n  - id: read\n    when: \"{NESTED_WHEN}\"\n"
         + GET, "steps[0].when: condition: the condition nests more than 32 levels deep",
         at='"((('),
    Case("when-not-5000-times", "steps:\n  - id: read\n    when: \"" + "not " * 5000 + "true\"\n"
         + GET, "the condition nests more than 32 levels deep", at='"not'),
    Case("when-lists-5000-deep", "steps:\n  - id: read\n    when: \"1 in " + "[" * 5000
         + "]" * 5000 + "\"\n" + GET, "the condition nests more than 32 levels deep", at='"1 in'),
    Case("when-or-chain-of-3000", "steps:\n  - id: read\n    when: \"" + " or ".join(
         ["1 == 2"] * 3000) + "\"\n" + GET, "the condition is too long", at='"1 =='),
    Case("when-number-of-5000-digits", "steps:\n  - id: read\n    when: \"" + "7" * 5000
         + " == 1\"\n" + GET, "a number of 5000 digits is too long", at='"777'),
    Case("when-nested-in-a-loop", "steps:\n  - id: read\n    loop: [a, b]\n    when: \""
         + NESTED_WHEN + "\"\n" + GET, "the condition nests more than 32 levels deep", at='"((('),
    # -- values XML cannot carry ---------------------------------------------------------------
    Case("lone-surrogate-in-name", "version: 1\nname: \"Bad \\ud800 name\"\n" + TARGET_YAML
         + ONE_STEP, "name: U+D800 (a lone surrogate) cannot be sent in XML",
         at='"Bad', raw=True),
    Case("lone-surrogate-in-email", "steps:\n  - id: s\n    syncLead:\n      leadRecord: {Email: "
         "\"ada\\udfff@example.com\"}\n", "leadRecord.Email: U+DFFF (a lone surrogate) cannot "
         "be sent in XML", at='"ada'),
    Case("control-character-in-attribute", _sync('FirstName: "Ada\\x01"'),
         "leadAttributeList.FirstName: U+0001 cannot be sent in XML", at='"Ada'),
    Case("control-character-in-attribute-name", _sync('"First\\x1fName": Ada'),
         "U+001F cannot be sent in XML", at='"First'),
    Case("control-character-in-workspace", "steps:\n  - id: s\n    syncLead:\n      " + LEAD
         + "\n      targetWorkspace: \"Work\\vspace\"\n",
         "steps[0].syncLead.targetWorkspace: U+000B cannot be sent in XML", at='"Work'),
    Case("control-character-in-workspace-from-env", "steps:\n  - id: s\n    syncLead:\n      "
         + LEAD + "\n      targetWorkspace: ${env.HOSTILE_WS}\n",
         "steps[0].syncLead.targetWorkspace: U+0001 cannot be sent in XML",
         at="${env.HOSTILE_WS}", env={"HOSTILE_WS": "work\x01space"}),
    Case("control-character-in-partner-id", WS_TARGET + ONE_STEP,
         "target.partnerId: U+0002 cannot be sent in XML", at='"partner', raw=True),
    Case("control-character-in-value-from-env", "steps:\n  - id: s\n    syncLead:\n      "
         "leadRecord: {Email: \"${env.HOSTILE_EMAIL}\"}\n",
         "leadRecord.Email: U+001B cannot be sent in XML", at='"${env.HOSTILE_EMAIL}',
         env={"HOSTILE_EMAIL": "ada\x1b@example.com"}),
    Case("control-character-in-a-csv-row", _loop_csv().replace("FMT", "csv"),
         "FirstName: U+0001 cannot be sent in XML", at="data/leads.csv:3: ",
         files={"data/leads.csv": CSV_BAD}),
    Case("control-character-in-a-batched-csv-row",
         _loop_csv("syncMultipleLeads").replace("FMT", "csv"),
         "FirstName: U+0001 cannot be sent in XML", at="data/leads.csv:3: ",
         files={"data/leads.csv": CSV_BAD}),
    Case("control-character-escaped-in-json-data", _loop_csv().replace("FMT", "json"),
         "FirstName: U+0008 cannot be sent in XML", at="data/leads.json:3: ",
         files={"data/leads.json": '[\n{"Email": "ada@example.com", "FirstName": "Ada"},\n'
                '{"Email": "bob@example.com", "FirstName": "B\\u0008ob"}\n]\n'}),
    Case("lone-surrogate-in-json-data", _loop_csv().replace("FMT", "json"),
         "FirstName: U+D800 (a lone surrogate) cannot be sent in XML", at="data/leads.json:2: ",
         files={"data/leads.json": '[\n{"Email": "ada@example.com", "FirstName": "\\ud800"}\n]\n'}),
    Case("control-character-escaped-in-yaml-data", _loop_csv().replace("FMT", "yml"),
         "FirstName: U+0001 cannot be sent in XML", at="data/leads.yml:2: ",
         files={"data/leads.yml": '- {Email: ada@example.com, FirstName: Ada}\n'
                '- {Email: bob@example.com, FirstName: "B\\x01ob"}\n'}),
    Case("raw-control-character-in-yaml-data", _loop_csv().replace("FMT", "yml"),
         "U+0007", at="data/leads.yml:2:",
         files={"data/leads.yml": '- {Email: ada@example.com, FirstName: Ada}\n'
                '- {Email: bob@example.com, FirstName: B\x07ob}\n'}),
    Case("alias-bomb-in-a-yaml-data-file", _loop_csv().replace("FMT", "yml"),
         "the item expands to more than 50,000 values", at="data/leads.yml:5: ", bounded=True,
         files={"data/leads.yml": "- &l0 {Email: ada@example.com, FirstName: lol}\n" + "".join(
             f"- &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]\n" for i in range(1, 9))}),
    Case("control-character-in-a-vars-file", _sync('FirstName: "${vars.who}"'),
         "who: U+0001 cannot be sent in XML", at="vars.yml:1:6: ",
         files={"vars.yml": 'who: "Ada\\x01"\n'}, args=("--vars-file", "vars.yml")),
    # -- vars defined through vars -------------------------------------------------------------
    Case("vars-in-a-cycle-of-two", "vars:\n  a: ${vars.b}\n  b: ${vars.a}\n" + ONE_STEP,
         "vars.a: the variables vars.a → vars.b → vars.a refer to each other in a cycle",
         at="${vars.b}"),
    Case("var-defined-through-itself", "vars:\n  a: x${vars.a}\n" + ONE_STEP,
         "the variables vars.a → vars.a refer to each other in a cycle", at="x${vars.a}"),
    Case("vars-cycle-read-by-a-step", "vars:\n  a: ${vars.b}\n  b: \"${vars.c}!\"\n  c: [\"${vars.a}\"]"
         "\nsteps:\n  - id: s\n    syncLead:\n      leadRecord: {Email: \"${vars.b}@example.com\"}\n",
         "leadRecord.Email: the variables vars.b → vars.c → vars.a → vars.b refer to each other in "
         "a cycle", at='"${vars.b}@'),
    Case("vars-chain-past-the-bound", _var_chain(40),
         "variables defined through more than 32 other variables", at="${vars.v0}@"),
    Case("var-defined-through-an-unknown-var", "vars:\n  a: ${vars.nope}\n"
         "steps:\n  - id: s\n    syncLead:\n      leadRecord: {Email: \"${vars.a}\"}\n",
         "in vars.a: unknown variable 'vars.nope'", at='"${vars.a}"'),
    # -- ${...} in inline loop items and in keys -----------------------------------------------
    Case("unknown-var-in-an-inline-loop-item", "steps:\n  - id: s\n    loop: [ok, \"${vars.nope}\"]"
         "\n    syncLead:\n      leadRecord: {Email: \"${item}@example.com\"}\n",
         "steps[0].loop[1]: unknown variable 'vars.nope'", at='"${vars.nope}"'),
    Case("unknown-env-in-loop-items", "steps:\n  - id: s\n    loop: {items: [\"${env.HOSTILE_UNSET_"
         "X}\"]}\n    syncLead:\n      leadRecord: {Email: \"${item}@example.com\"}\n",
         "steps[0].loop.items[0]: environment variable HOSTILE_UNSET_X is not set",
         at='"${env.HOSTILE_UNSET_X}"'),
    Case("reference-in-an-attribute-name", "vars: {f: FirstName}\n" + _sync('"${vars.f}": Ada'),
         "'${vars.f}' is a key: a key is sent as written", at='"${vars.f}": Ada'),
    Case("reference-in-a-token-name", "vars: {t: greeting}\nsteps:\n  - id: run\n"
         "    requestCampaign:\n      programName: P\n      campaignName: C\n"
         "      programTokenList: {\"{{my.${vars.t}}}\": hello}\n",
         "is a key: a key is sent as written", at='"{{my.'),
    Case("escaped-reference-in-a-key", _sync('"$${x}": Ada'), "is a key: a key is sent as written",
         at='"$${x}"'),
    # -- credentials -----------------------------------------------------------------------------
    Case("literal-tagged-key-reference", HEAD.replace(
         "encryptionKey: ${secret.MKTOWS_ENCRYPTION_KEY}",
         "encryptionKey: !literal \"${secret.MKTOWS_ENCRYPTION_KEY}\"") + ONE_STEP,
         "target.encryptionKey: the encryption key must be a ${secret.NAME} or ${env.NAME} "
         "reference, not !literal text", at="!literal", raw=True),
    Case("literal-tagged-plain-key", HEAD.replace(
         "encryptionKey: ${secret.MKTOWS_ENCRYPTION_KEY}",
         "encryptionKey: !literal \"hunter2-hunter2\"") + ONE_STEP,
         "the encryption key must not be written in the playbook", at="!literal", raw=True),
]

# Cases also run as `plan` and as a `--sandbox` run: the same problem, nothing sent.
EVERY_COMMAND = ("lone-surrogate-in-name", "control-character-in-a-csv-row",
                 "vars-in-a-cycle-of-two", "python-apply-on-a-list", "reference-in-an-attribute-name",
                 "unknown-var-in-an-inline-loop-item", "when-parentheses-5000-deep")


def _stage(case: Case, tmp_path: Path) -> str:
    for name, content in case.files.items():
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
    if case.make is not None:
        return case.make(tmp_path)
    text = _text(case)
    data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    (tmp_path / "p.yml").write_bytes(data)
    return "p.yml"


def _bounded(args: list[str], cwd: Path, env: dict[str, str]) -> CliResult:
    """The CLI in a subprocess that may not use more than MEMORY_LIMIT of address space."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    proc = subprocess.run(  # a hang is a failure (TimeoutExpired), not a timed assertion
        [sys.executable, "-m", "runner", *args], cwd=cwd, env={**os.environ, **env,
                                                               "PYTHONPATH": str(ROOT)},
        capture_output=True, encoding="utf-8", errors="replace", timeout=120, preexec_fn=limit,
        check=False)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def _check(case: Case, res: CliResult) -> None:
    everything = res.out + res.err
    assert "Traceback" not in everything, everything
    assert "internal error" not in everything, everything
    assert res.code == 2, everything
    prefix = _prefix(case)
    lines = [line for line in res.err.splitlines() if line.startswith(prefix)
             and case.message in line]
    assert lines, f"no line starting {prefix!r} saying {case.message!r} in:\n{res.err}"
    if case.at is None:  # still located: file:line:col
        assert lines[0].split(":")[1].isdigit() and lines[0].split(":")[2].isdigit(), lines[0]
    assert res.err.rstrip().splitlines()[-1].endswith("nothing was sent."), res.err


def test_the_corpus_is_large_and_its_ids_unique():
    ids = [c.id for c in CASES]
    assert len(ids) >= 40
    assert len(set(ids)) == len(ids)
    assert set(EVERY_COMMAND) <= set(ids)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_a_hostile_playbook_is_refused_with_a_located_problem(case, run_cli, tmp_path,
                                                               monkeypatch):
    monkeypatch.delenv("HOSTILE_UNSET_X", raising=False)
    name = _stage(case, tmp_path)
    args = ["validate", name, *case.args]
    _check(case, _bounded(args, tmp_path, case.env) if case.bounded else run_cli(*args, env=case.env))


@pytest.mark.parametrize("command", ["plan", "run"])
@pytest.mark.parametrize("case", [c for c in CASES if c.id in EVERY_COMMAND], ids=lambda c: c.id)
def test_plan_and_a_sandbox_run_refuse_it_too_and_send_nothing(case, command, run_cli, tmp_path):
    name = _stage(case, tmp_path)
    args = ["plan", name] if command == "plan" else [name, "--sandbox"]
    res = run_cli(*args, *case.args, env=case.env)
    _check(case, res)
    db = tmp_path / ".mktows" / "sandbox.db"
    assert not db.exists() or box.open_store(db).request_count() == 0
    assert not (tmp_path / "results.json").exists()


@pytest.mark.parametrize("command", ["validate", "plan", "run"])
def test_a_folder_named_as_the_playbook_is_a_usage_error(command, run_cli, tmp_path):
    (tmp_path / "p.yml").mkdir()
    res = run_cli(*([command] if command != "run" else []), "p.yml")
    assert "Traceback" not in res.out + res.err
    assert res.code == 2
    assert "'p.yml' is a directory" in res.err


def test_a_partner_id_from_the_environment_that_xml_cannot_carry_sends_nothing(
        run_cli, sandbox, tmp_path):
    (tmp_path / "p.yml").write_text(HEAD.replace(
        "  encryptionKey:", "  partnerId: ${env.HOSTILE_PARTNER}\n  encryptionKey:") + ONE_STEP)
    res = run_cli("p.yml", env={**target_env(sandbox), "HOSTILE_PARTNER": "partner\x01id"})
    assert "Traceback" not in res.out + res.err
    assert res.code == 2, res.out + res.err
    assert "target.partnerId: U+0001 cannot be sent in XML" in res.err
    assert box.open_store(sandbox.db_path).request_count() == 0


# -- valid input: exit 0, and the values arrive exactly as written --------------------------------

def _lead(sandbox: object) -> dict[str, object]:
    leads = box.open_store(sandbox.db_path).leads()  # type: ignore[attr-defined]
    assert len(leads) == 1
    return leads[0]


def test_a_carriage_return_arrives_as_a_carriage_return(run_cli, sandbox, tmp_path):
    (tmp_path / "p.yml").write_text(HEAD + _sync('LastName: "Love\\r\\nlace", Title: "a\\rb\\tc\\n"'))
    res = run_cli("p.yml", env=target_env(sandbox))
    assert res.code == 0, res.out + res.err
    attributes = _lead(sandbox)["attributes"]
    assert attributes["LastName"] == "Love\r\nlace"  # type: ignore[index]
    assert attributes["Title"] == "a\rb\tc\n"  # type: ignore[index]


def test_a_carriage_return_in_a_csv_field_arrives_too(run_cli, sandbox, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "leads.csv").write_bytes(
        b"Email,FirstName\r\nada@example.com,\"Ada\r\nAugusta\"\r\n")
    (tmp_path / "p.yml").write_text(HEAD + _loop_csv().replace("FMT", "csv"))
    res = run_cli("p.yml", env=target_env(sandbox))
    assert res.code == 0, res.out + res.err
    assert _lead(sandbox)["attributes"]["FirstName"] == "Ada\r\nAugusta"  # type: ignore[index]


def test_a_saved_envelope_parses_back_to_the_carriage_return(run_cli, tmp_path):
    (tmp_path / "p.yml").write_text(HEAD + _sync('LastName: "Love\\r\\nlace"'))
    res = run_cli("plan", "p.yml", "--envelopes", "env")
    assert res.code == 0, res.out + res.err
    (saved,) = (tmp_path / "env").glob("*.xml")
    root = ET.fromstring(saved.read_bytes())  # a real parser: it normalises a literal CR
    values = [e.text for e in root.iter("attrValue")]
    assert values == ["Love\r\nlace"]


PLAN_OK = """\
vars:
  domain: ${vars.host}.example.com
  host: ${vars.name}
  name: ada
  employees: ${vars.count}
  count: 42
  people: ["${vars.name}", bob]
  price: "$${not-a-ref}"
steps:
  - id: sync
    syncLead:
      leadRecord:
        Email: me@${vars.domain}
        leadAttributeList: {NumberOfEmployees: "${vars.employees}", Title: "${vars.price}"}
  - id: each
    loop: ["${vars.name}", "${vars.host}2"]
    syncLead:
      leadRecord: {Email: "${item}@example.com"}
  - id: from-var
    loop: ${vars.people}
    syncLead:
      leadRecord: {Email: "${item}@example.com"}
  - id: items-form
    loop: {items: ["${vars.domain}"]}
    syncLead:
      leadRecord: {Email: "x@${item}"}
"""


def test_vars_defined_through_vars_and_inline_loop_items_are_resolved(run_cli, tmp_path):
    (tmp_path / "p.yml").write_text(HEAD + PLAN_OK)
    res = run_cli("plan", "p.yml", "--envelopes", "env")
    assert res.code == 0, res.out + res.err
    sent = "".join(p.read_text(encoding="utf-8") for p in sorted((tmp_path / "env").glob("*.xml")))
    emails = [e.text for e in ET.fromstring(f"<all>{_bodies(sent)}</all>").iter("Email")]
    assert emails == ["me@ada.example.com", "ada@example.com", "ada2@example.com",
                      "ada@example.com", "bob@example.com", "x@ada.example.com"]
    assert "<attrValue>42</attrValue>" in sent
    assert "<attrValue>${not-a-ref}</attrValue>" in sent  # $${ is the written escape for ${
    assert "${vars" not in sent and "${item" not in sent


def test_a_var_read_through_the_loop_item_differs_per_item(run_cli, tmp_path):
    (tmp_path / "p.yml").write_text(HEAD + """\
vars:
  email: "${vars.user}@example.com"
  user: ${item}
steps:
  - id: each
    loop: [ada, bob]
    syncLead:
      leadRecord: {Email: "${vars.email}"}
""")
    res = run_cli("plan", "p.yml")
    assert res.code == 0, res.out + res.err
    assert "Email=ada@example.com" in res.out and "Email=bob@example.com" in res.out


def _bodies(envelopes: str) -> str:
    """The envelopes' text without their XML declarations, to parse them as one document."""
    return envelopes.replace('<?xml version="1.0" encoding="UTF-8"?>', "")


def test_a_run_sends_the_resolved_values(run_cli, sandbox, tmp_path):
    (tmp_path / "p.yml").write_text(HEAD + PLAN_OK)
    res = run_cli("p.yml", env=target_env(sandbox))
    assert res.code == 0, res.out + res.err
    emails = sorted(str(lead["email"]) for lead in box.open_store(sandbox.db_path).leads())
    assert emails == ["ada2@example.com", "ada@example.com", "bob@example.com",
                      "me@ada.example.com", "x@ada.example.com"]
    report = (tmp_path / "results.json").read_text(encoding="utf-8")
    assert "${vars" not in report
    json.loads(report)


@pytest.mark.parametrize(("case", "text"), [
    ("utf8-bom", "\ufeff" + HEAD + ONE_STEP),
    ("when-32-parentheses-deep", HEAD + "steps:\n  - id: read\n    when: \"" + "(" * 32 + "1 == 1"
     + ")" * 32 + "\"\n" + GET),
    ("when-chain-of-300-terms", HEAD + "steps:\n  - id: read\n    when: \"" + " and ".join(
        ["1 == 1"] * 300) + "\"\n" + GET),
    ("quoted-keys-that-look-like-numbers", HEAD + _sync("'1': one, 'true': yes, 'null': x")),
    ("long-quoted-digits", HEAD + _sync("Account: '" + "1" * 5000 + "'")),
    ("carriage-return-and-tab", HEAD + _sync('Title: "a\\r\\n\\tb"')),
], ids=lambda v: v if isinstance(v, str) and len(v) < 60 else "")
def test_valid_input_near_the_bounds_is_accepted(case, text, run_cli, tmp_path):
    (tmp_path / "p.yml").write_bytes(text.encode("utf-8"))
    res = run_cli("validate", "p.yml")
    assert "Traceback" not in res.out + res.err
    assert res.code == 0, f"{case}: {res.err}"
