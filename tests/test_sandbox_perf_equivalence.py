"""The sandbox's fast paths answer exactly as the plain ones they stand in for (issue 19).

Each shortcut taken for speed is compared here, on many generated inputs, with the general
code it bypasses: syncMultipleLeads' all-new batch (one email query, the leads inserted
together) with record-by-record upserts, the lenient reader's "nothing to drop" check with
its rebuilt copy, the record reader with params' helpers, the C parser with defusedxml,
strict mode's memo of valid shapes with the schema, and a few written-out library calls
with the library. No timing here: bench/sandbox_window.py measures.
"""

from __future__ import annotations

import json
import random
import re
import sqlite3
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, fromstring, tostring
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeET
import pytest
from defusedxml import DefusedXmlException

from runner.sandbox import lenient, service
from runner.sandbox.faults import Fault
from runner.sandbox.fixture import load_fixture
from runner.sandbox.ops import HANDLERS
from runner.sandbox.ops import keys as lead_keys
from runner.sandbox.ops.upsert import read_lead_record
from runner.sandbox.params import children, firsts, integer_of, local_name, text_of
from runner.sandbox.service import Service
from runner.sandbox.store import Lead, RequestLog, Store, _json_object
from runner.sandbox.versions import load_versions
from runner.soap import safexml
from runner.soap.auth import sign, w3c_timestamp
from runner.soap.namespaces import MKTOWS, SOAP_ENV, XSI
from tests.test_sandbox import FIXTURES

SML_ACTION = f'"{MKTOWS}syncMultipleLeads"'
NS = f'xmlns:xsi="{XSI}" xmlns:m="{MKTOWS}" xmlns:o="urn:other"'


class TickingClock:
    """A server clock that moves 1 ms at every reading: two services given two of these
    agree on every timestamp exactly when they read the clock the same number of times."""

    def __init__(self) -> None:
        self.now = datetime(2026, 6, 1, 15, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


_OPEN: list[Store] = []  # closed after each test (_fresh_memos)


def _store(path: Path) -> Store:
    store = Store(path)
    _OPEN.append(store)
    return store


def _service(tmp: Path, name: str, fixture: Path, *, strict: bool) -> Service:
    loaded = load_fixture(fixture)
    store = _store(tmp / f"{name}.sqlite")
    clock = TickingClock()
    store.clock = clock
    store.seed(loaded.leads)
    config = loaded.config.without_limits().override(strict=strict)
    return Service(load_versions(frozenset(HANDLERS)), loaded, store, config, clock=clock)


def _envelope(svc: Service, body: str) -> bytes:
    user = svc.fixture.users[0]
    stamp = w3c_timestamp(svc.clock())
    signature = sign(stamp, user.user_id, user.encryption_key)
    return (f'<SOAP-ENV:Envelope xmlns:SOAP-ENV="{SOAP_ENV}" xmlns:ns1="{MKTOWS}" '
            f'xmlns:xsi="{XSI}"><SOAP-ENV:Header><ns1:AuthenticationHeader>'
            f"<mktowsUserId>{escape(user.user_id)}</mktowsUserId>"
            f"<requestSignature>{signature}</requestSignature>"
            f"<requestTimestamp>{stamp}</requestTimestamp></ns1:AuthenticationHeader>"
            f"</SOAP-ENV:Header><SOAP-ENV:Body>{body}</SOAP-ENV:Body></SOAP-ENV:Envelope>"
            ).encode()


def _state(svc: Service) -> tuple[Any, ...]:
    store = svc.store
    sequence = [tuple(r) for r in store.rows("SELECT name, seq FROM sqlite_sequence")]
    return store.leads(), store.requests(), sorted(sequence)


# -- syncMultipleLeads: the all-new batch and record-by-record ------------------------------

def _record(rng: random.Random, batch: int, i: int) -> str:
    """One leadRecord, mostly new leads (the all-new path), sometimes one that sends the
    batch down the general path or fails on its own."""
    fresh = f"n{batch}-{i}@example.com"
    email = rng.choice([fresh] * 6 + [
        fresh.upper(), f"  {fresh}  ", "ada@example.com", "DUP@example.com", "",
        f"n{batch}-0@example.com", f"N{batch}-1@EXAMPLE.com", f"é{batch}@example.com",
        f"É{batch}@example.com"])
    parts = [f"<Email>{escape(email)}</Email>"] if email or rng.random() < 0.5 else []
    roll = rng.random()
    if roll < 0.04:
        parts.insert(0, f"<Id>{rng.choice([2, 999])}</Id>")
    elif roll < 0.08:
        parts.append(f"<ForeignSysPersonId>F-{batch}-{i}</ForeignSysPersonId>")
        if rng.random() < 0.5:
            parts.append("<ForeignSysType>CUSTOM</ForeignSysType>")
    attrs = {"FirstName": f"F{i}", "Country": rng.choice(["FR", "US", "DE", ""])}
    if rng.random() < 0.03:
        attrs["Email"] = f"attr{batch}-{i}@example.com"
    if rng.random() < 0.5:
        parts.append("<leadAttributeList>" + "".join(
            f"<attribute><attrName>{k}</attrName><attrValue>{escape(v)}</attrValue>"
            "</attribute>" for k, v in attrs.items()) + "</leadAttributeList>")
    return "<leadRecord>" + "".join(parts) + "</leadRecord>"


@pytest.mark.parametrize(("fixture", "strict"), [
    (FIXTURES / "leads.yml", False), (FIXTURES / "leads.yml", True),
    (FIXTURES / "workspaces.yml", False)])
def test_sync_multiple_leads_batch_path_is_the_record_by_record_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fixture: Path, strict: bool) -> None:
    # The module, not the function ops/__init__.py exports under the same name.
    module = sys.modules["runner.sandbox.ops.sync_multiple_leads"]
    real = module._all_new
    taken: list[bool] = []

    def counting(*args: Any) -> Any:
        found = real(*args)
        taken.append(found is not None)
        return found

    fast = _service(tmp_path, "fast", fixture, strict=strict)
    plain = _service(tmp_path, "plain", fixture, strict=strict)
    rng = random.Random(19)
    for batch in range(40):
        size = rng.choice([1, 2, 5, 30, 120, 250])
        clean = rng.random() < 0.6  # mostly batches the all-new path takes
        records = "".join(
            f"<leadRecord><Email>c{batch}-{i}@example.com</Email></leadRecord>" if clean
            else _record(rng, batch, i) for i in range(size))
        dedup = rng.choice(["", "<dedupEnabled>true</dedupEnabled>",
                            "<dedupEnabled>false</dedupEnabled>"])
        body = (f"<ns1:paramsSyncMultipleLeads><leadRecordList>{records}</leadRecordList>"
                f"{dedup}</ns1:paramsSyncMultipleLeads>")
        monkeypatch.setattr(module, "_all_new", counting)
        got = fast.handle(_envelope(fast, body), SML_ACTION)
        monkeypatch.setattr(module, "_all_new", lambda *args: None)
        want = plain.handle(_envelope(plain, body), SML_ACTION)
        assert (got.status, got.body) == (want.status, want.body), body[:300]
        assert _state(fast) == _state(plain)
    assert sum(taken) >= 15 and not all(taken)  # both paths were exercised


def test_insert_many_numbers_leads_as_inserts_do(tmp_path: Path) -> None:
    """Ids past a gap (deleted leads: AUTOINCREMENT never reuses them) and across the
    100-row statements."""
    fast, plain = _store(tmp_path / "a.sqlite"), _store(tmp_path / "b.sqlite")
    leads = [Lead(0, f"x{i}@example.com", None, None, None, "Default", {"A": str(i)})
             for i in range(250)]
    for store in (fast, plain):
        store.clock = TickingClock()
        with store.transaction():
            for lead in leads[:5]:
                store.insert(lead)
            store.write("DELETE FROM leads WHERE id > 2")
    with fast.transaction():
        got = fast.insert_many(leads)
    with plain.transaction():
        want = [plain.insert(lead) for lead in leads]
    assert got == want
    assert fast.leads() == plain.leads()


# -- the lenient reader: "nothing to drop" and the rebuilt copy -----------------------------

def _view(elem: Element) -> tuple[Any, ...]:
    """What a handler can read of an element (params.py): local names, attributes, text of
    the elements without children, and the children in order."""
    return (local_name(elem), sorted(elem.attrib.items()),
            elem.text if not len(elem) else None, [_view(c) for c in elem])


def _lead_record(rng: random.Random) -> str:
    pieces = ["<Id>7</Id>", "<Email>a@b.c</Email>", "<m:Email>q@q</m:Email>",
              "<ForeignSysPersonId>f</ForeignSysPersonId>", "<o:Email>x</o:Email>",
              "<ForeignSysType>CUSTOM</ForeignSysType>", "<email>miscased</email>",
              "<Email><b>inner</b></Email>", '<Email xsi:nil="true"/>',
              "<leadAttributeList><attribute><attrName>A</attrName><attrValue>1</attrValue>"
              "</attribute><attribute><attrValue>2</attrValue><attrName>B</attrName>"
              "<attrType>x</attrType></attribute></leadAttributeList>",
              "<m:leadAttributeList><attribute><attrName>C</attrName><bogus/></attribute>"
              "</m:leadAttributeList>"]
    return "<leadRecord>" + "".join(rng.sample(pieces, rng.randint(0, 4))) + "</leadRecord>"


def test_lenient_read_without_a_copy_reads_as_the_copy() -> None:
    schema = load_versions(frozenset(HANDLERS))["3_1"].schema
    rng = random.Random(7)
    shortcuts = 0
    for _ in range(600):
        records = "".join(_lead_record(rng) for _ in range(rng.randint(0, 4)))
        tail = rng.choice(["", "<dedupEnabled>true</dedupEnabled>",
                           "<dedupEnabled>1</dedupEnabled><dedupEnabled>0</dedupEnabled>",
                           "<o:extra/>"])
        head = rng.choice(["<leadRecordList>", "<m:leadRecordList>"])
        xml = (f"<m:paramsSyncMultipleLeads {NS}>{tail if rng.random() < 0.3 else ''}"
               f"{head}{records}</{head[1:]}{tail}</m:paramsSyncMultipleLeads>")
        elem = fromstring(xml)
        got, got_ignored = lenient.read(schema, "paramsSyncMultipleLeads", elem)
        ignored: list[str] = []
        copy = lenient._read(schema, schema.element("paramsSyncMultipleLeads"), elem,
                             "paramsSyncMultipleLeads", ignored)
        copy.tag = elem.tag
        assert _view(got) == _view(copy), xml
        assert got_ignored == ignored, xml
        shortcuts += got is elem
    assert 50 < shortcuts < 600


# -- the record reader and params' helpers --------------------------------------------------

def _read_with_helpers(elem: Element) -> tuple[Any, ...]:
    """The record as params' helpers read it (the reader's specification)."""
    fields = firsts(elem)
    attributes = {}
    for a in children(fields.get("leadAttributeList"), "attribute"):
        pair = firsts(a)
        attributes[text_of(pair.get("attrName")) or ""] = text_of(pair.get("attrValue")) or ""
    return (integer_of(text_of(fields.get("Id")), "Id"),
            (text_of(fields.get("Email")) or "").strip() or None,
            (text_of(fields.get("ForeignSysPersonId")) or "").strip() or None,
            (text_of(fields.get("ForeignSysType")) or "").strip() or None,
            list(attributes.items()))


def test_read_lead_record_reads_as_params_helpers() -> None:
    parts = ["<Id>5</Id>", "<Id> 7 </Id>", "<Id/>", "<Id>x</Id>", '<Id xsi:nil="true"/>',
             "<Email> a@b </Email>", "<Email/>", '<Email xsi:nil="1">z</Email>',
             "<m:Email>q@q</m:Email>", "<ForeignSysPersonId>f</ForeignSysPersonId>",
             "<ForeignSysType>CUSTOM</ForeignSysType>", "<ForeignSysType>  </ForeignSysType>",
             "<leadAttributeList><attribute><attrName>A</attrName><attrValue>1</attrValue>"
             "</attribute><attribute><attrValue>2</attrValue></attribute>"
             "<attribute xsi:nil='true'><attrName>B</attrName></attribute><m:attribute>"
             "<attrName>A</attrName><attrValue>3</attrValue><attrName>C</attrName>"
             "</m:attribute><attribute><attrName xsi:nil='true'>N</attrName><attrName>D"
             "</attrName><attrValue/><attrValue>9</attrValue></attribute><attribute/>"
             "<other><attrName>E</attrName></other></leadAttributeList>",
             '<leadAttributeList xsi:nil="true"><attribute><attrName>Z</attrName>'
             "</attribute></leadAttributeList>", "<leadAttributeList/>",
             "<m:leadAttributeList><attribute><m:attrName>Q</m:attrName><m:attrValue>W"
             "</m:attrValue></attribute></m:leadAttributeList>"]
    rng = random.Random(3)
    def outcome(read: Callable[[Element], Any], elem: Element) -> Any:
        try:
            return read(elem)
        except Fault as fault:
            return fault.code, fault.message

    for _ in range(1500):
        elem = fromstring(f"<leadRecord {NS}>"
                          + "".join(rng.sample(parts, rng.randint(0, 6))) + "</leadRecord>")
        got = outcome(read_lead_record, elem)
        if not isinstance(got, tuple):
            got = (got.id, got.email, got.foreign_id, got.foreign_type,
                   list(got.attributes.items()))
        assert got == outcome(_read_with_helpers, elem), tostring(elem)


# -- the C parser and defusedxml ------------------------------------------------------------

BODIES = [
    b'<?xml version="1.0" encoding="UTF-8"?>\n<a xmlns="urn:x"><b c="1">t&amp;</b><!-- c -->'
    b"<?pi x?><![CDATA[<z>]]></a>",
    b"<a><b></a>", b"", b"<a>&undefined;</a>", b"<a>\x00</a>", b"\xef\xbb\xbf<a>bom</a>",
    b'<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>', b"<!DOCTYPE a><a/>",
    b'<?xml version="1.0" encoding="ISO-8859-1"?><a>\xe9</a>',
    b'<?xml version="1.0" encoding="windows-1252"?><a>\x80</a>',
    '<?xml version="1.0" encoding="UTF-16"?><a>x</a>'.encode("utf-16"),
    b"<a>caf\xc3\xa9</a><b/>", b"<a>caf\xe9</a>", b"  <a/>  ", b"<a/>junk",
    b'<!DOCTYPE a SYSTEM "http://x/y.dtd"><a/>', b"<!doctype a><a/>",
]


@pytest.mark.parametrize("body", BODIES)
def test_the_fast_parser_parses_as_defusedxml(body: bytes) -> None:
    def outcome(parse: Callable[[bytes], Element]) -> Any:
        try:
            return tostring(parse(body))
        except (SyntaxError, DefusedXmlException, ValueError) as exc:
            return type(exc).__name__, str(exc)

    assert outcome(lambda b: safexml.parse(b, forbid_dtd=False)) == outcome(SafeET.fromstring)


# -- strict mode's memo of valid shapes -----------------------------------------------------

def test_strict_validity_memo_keeps_every_verdict(tmp_path: Path) -> None:
    svc = _service(tmp_path, "strict", FIXTURES / "leads.yml", strict=True)

    def sync(record: str) -> tuple[int, bytes]:
        body = (f"<ns1:paramsSyncLead><leadRecord>{record}</leadRecord>"
                "<returnLead>false</returnLead></ns1:paramsSyncLead>")
        reply = svc.handle(_envelope(svc, body), f'"{MKTOWS}syncLead"')
        return reply.status, reply.body

    assert sync("<Email>one@example.com</Email>")[0] == 200
    assert sync("<Email>two@example.com</Email>")[0] == 200  # the shape remembered
    assert b"20101" in sync("<Email></Email>")[1]  # valid, and then no lead key
    bad = [sync("<Id>x</Id>"), sync("<Id>y</Id>"), sync('<Email xsi:nil="true">z</Email>')]
    assert [status for status, _ in bad] == [500, 500, 500]
    assert b"'x'" in bad[0][1] and b"'y'" in bad[1][1]  # each fault names its own value
    assert sync("<Id>2</Id>")[0] == 200
    assert b"20103" in sync("<Id>999</Id>")[1]  # valid, and then no such lead


def test_the_wsdl_has_nothing_that_makes_a_string_leafs_text_matter() -> None:
    """service._shape leaves xs:string leaves' texts out of a shape: sound while the WSDL
    has no identity constraint, fixed or default value, mixed content, wildcard or
    substitution group (any of them could make such a text change the verdict)."""
    from runner.resources import wsdl_path

    text = wsdl_path().read_text()
    for construct in (r"<xs:(unique|key|keyref|any|anyAttribute)\b", r"\bfixed=",
                      r"\bdefault=", r'mixed="true"', r"substitutionGroup"):
        assert not re.search(construct, text), construct


# -- written-out library calls and the lookups by id ----------------------------------------

def test_outcome_is_dataclasses_replace() -> None:
    log = RequestLog("syncLead", n=4, user_id="u", injected="slow", counted=True,
                     api="soap", version="2_2")
    cases: list[dict[str, Any]] = [{"applied": True, "detail": "lead 1 CREATED"},
                                   {"fault_code": 20012, "detail": "no"}, {}]
    for changes in cases:
        assert service._outcome(log, ["a/b", "c"], **changes) == replace(
            log, ignored=("a/b", "c"), **changes)


@pytest.mark.parametrize("values", [{}, {"a": "b"}, {"x": 'é"\\\n\t', "": ""},
                                    {"a": 1}, {"a": None}, {"\ud800": "x"}])
def test_json_object_is_json_dumps(values: dict[str, Any]) -> None:
    assert _json_object(values) == json.dumps(values)


def test_find_lead_ids_finds_find_leads_leads(tmp_path: Path) -> None:
    svc = _service(tmp_path, "keys", FIXTURES / "leads.yml", strict=False)
    cases = [("IDNUM", v) for v in ("1", " 2 ", "99", "x", "")] + [
        ("EMAIL", v) for v in ("dup@example.com", "DUP@EXAMPLE.COM", "nobody@x.y", "")] + [
        ("COOKIE", v) for v in ("ck-ada", "ck-none", "")] + [
        (k, v) for k in ("SFDCLEADID", "LEADOWNEREMAIL", "SFDCOPPTYID")
        for v in ("00QL", "OWNER@example.com", "006P", "none")]
    for key_type, value in cases:
        want = [lead.id for lead in lead_keys.find_leads(svc.store, svc.fixture, key_type,
                                                           value)]
        assert lead_keys.find_lead_ids(svc.store, svc.fixture, key_type, value) == want
    with pytest.raises(Fault):
        lead_keys.find_lead_ids(svc.store, svc.fixture, "BOGUS", "1")


# -- WAL checkpoints off the request path ---------------------------------------------------

def test_the_server_checkpoints_in_its_own_thread(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite")
    store.checkpoint_in_background()
    assert store.rows("PRAGMA wal_autocheckpoint")[0][0] == 0
    with store.transaction():
        store.write("INSERT INTO meta (key, value) VALUES ('k', 'v')")
    assert store._checkpointer is not None
    store._checkpointer.checkpoint()
    check = sqlite3.connect(tmp_path / "db.sqlite")
    _, frames, copied = check.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert frames == copied
    check.close()
    store.close()
    assert not (tmp_path / "db.sqlite-wal").exists()  # the last close checkpoints the rest


@pytest.fixture(autouse=True)
def _fresh_memos() -> Iterator[None]:
    """The fast paths' memos are module-wide: each test starts and ends without them (and
    with its stores closed)."""
    for memo in (lenient._PLANS, lenient._ITEMS):
        memo.clear()
    yield
    for memo in (lenient._PLANS, lenient._ITEMS):
        memo.clear()
    while _OPEN:
        _OPEN.pop().close()
