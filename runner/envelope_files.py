"""`plan --envelopes DIR`: one XML file per call, as it would be sent, but with the
signature and every secret value redacted."""

from __future__ import annotations

import html
import re
from datetime import datetime
from pathlib import Path

from runner.calls import Call
from runner.secrets import MASK, Redactor
from runner.soap import auth, envelope

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
# Markup vs character data: our envelopes carry values only as element text (attributes
# are namespace declarations and xsi:nil), so the text between tags is every value.
_TAG = re.compile(r"(<[^>]*>)")


def _xml_text(text: str) -> str:
    # CR as a reference, as the envelope writes it (a raw CR would arrive as LF).
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\r", "&#13;"))


def redact_xml(document: str, redactor: Redactor) -> str:
    """The document with every secret in its character data masked, markup untouched.

    Mask before encoding: each text run is decoded (entities and character references),
    masked as plain text, and encoded again only if something was masked, so a secret with
    `&`, `<`, `"` or a CR is found whatever escaping the envelope writer chose, and an
    element name that happens to match a short secret is never rewritten.
    """
    parts = _TAG.split(document)
    for i in range(0, len(parts), 2):  # even indices: text between tags
        text = parts[i]
        if not text:
            continue
        plain = html.unescape(text) if "&" in text else text
        masked = redactor(plain)
        parts[i] = _xml_text(masked) if masked != plain else redactor(text)
    return "".join(parts)


class EnvelopeWriter:
    def __init__(self, directory: Path, user_id: str = "USER_ID") -> None:
        self.directory = directory
        self.user_id = user_id
        self.count = 0
        self.directory.mkdir(parents=True, exist_ok=True)
        self._redactor = Redactor()

    def write(self, call: Call) -> None:
        self.count += 1
        stamp = auth.w3c_timestamp(datetime.now().astimezone())
        self._redactor.add(*call.scope.secret_values)
        name = f"{self.count:05d}-{_UNSAFE.sub('_', self._redactor(str(call.key)))}.xml"
        text = redact_xml(envelope.assemble(call.shown_body(), self.user_id, MASK, stamp,
                                            workspace=call.workspace), self._redactor)
        (self.directory / name).write_text(text, encoding="utf-8")
