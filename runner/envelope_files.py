"""`plan --envelopes DIR`: one XML file per call, as it would be sent, but with the
signature and every secret value redacted."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from runner.secrets import MASK, Redactor
from runner.soap import auth, envelope
from runner.walk import Call

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


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
        headers = envelope.auth_header(self.user_id, MASK, stamp)
        if call.workspace:
            headers += envelope.context_header(call.workspace)
        self._redactor.add(*call.scope.secret_values)
        name = f"{self.count:05d}-{_UNSAFE.sub('_', call.key)}.xml"
        text = self._redactor(envelope.envelope(headers, call.body))
        (self.directory / name).write_text(text, encoding="utf-8")
