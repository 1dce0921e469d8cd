"""YAML loading: positions for every node, YAML 1.2 scalars, duplicates, merges, tokens."""

from pathlib import Path

from runner.model import Literal
from runner.playbook.source import load


def _load(tmp_path: Path, text: str):
    path = tmp_path / "p.yml"
    path.write_text(text)
    return load(path, "p.yml")


def test_country_code_no_and_yes_on_stay_strings(tmp_path):
    doc, problems = _load(tmp_path, "a: NO\nb: yes\nc: on\nd: true\ne: 12:30\n"
                                    "f: 2026-12-01T09:00:00-06:00\n")
    assert problems == []
    assert doc.data == {"a": "NO", "b": "yes", "c": "on", "d": True, "e": "12:30",
                        "f": "2026-12-01T09:00:00-06:00"}


def test_every_value_and_key_has_its_line_and_column(tmp_path):
    doc, _ = _load(tmp_path, "steps:\n  - id: one\n    syncLead:\n      returnLead: true\n")
    assert str(doc.locate(("steps", 0, "syncLead", "returnLead"))) == "p.yml:4:19"
    assert str(doc.locate(("steps", 0, "syncLead", "returnLead"), key=True)) == "p.yml:4:7"
    assert str(doc.locate(("steps", 0, "missing", "deeper"))) == "p.yml:2:5"


def test_duplicate_keys_name_both_positions(tmp_path):
    _, problems = _load(tmp_path, "a: 1\nb: 2\na: 3\n")
    assert [p.render().splitlines()[0] for p in problems] == [
        "p.yml:3:1: a: duplicate key 'a' (first at line 1, column 1)"]


def test_anchors_aliases_and_merge_keys_work(tmp_path):
    doc, problems = _load(tmp_path, "base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\nn: *b\n")
    assert problems == []
    assert doc.data["m"] == {"x": 1, "y": 3}
    assert doc.data["n"] == {"x": 1, "y": 2}


def test_an_unquoted_marketo_token_is_reported_with_a_quoting_hint(tmp_path):
    _, problems = _load(tmp_path, "tokens:\n  greeting: {{my.message}}\n")
    assert len(problems) == 1
    assert problems[0].location.line == 2
    assert problems[0].hint == 'quote the token: "{{my.message}}"'


def test_literal_tag_marks_the_string(tmp_path):
    doc, problems = _load(tmp_path, "v: !literal '#set($x = ${lead.LastName})'\n")
    assert problems == []
    assert isinstance(doc.data["v"], Literal)


def test_a_syntax_error_is_located(tmp_path):
    _, problems = _load(tmp_path, "a: [1, 2\nb: 3\n")
    assert len(problems) == 1
    assert problems[0].message.startswith("YAML syntax error")
    assert problems[0].location.line >= 2
