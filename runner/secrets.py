"""Secret values and the one redactor that every output passes through. Stdlib only."""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "***"
# Any 40-hex run is a potential HMAC-SHA1 request signature: never print one.
_SIGNATURE = re.compile(r"\b[0-9a-f]{40}\b")


class Secret(str):
    """A string whose repr never shows the value (it still behaves as a str when used)."""

    def __repr__(self) -> str:
        return "Secret('***')"


class Redactor:
    """Replaces every known secret value (and any request signature) with ***."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(*secrets)

    def add(self, *values: str) -> None:
        # Very short values would mask innocent text everywhere; a secret that short is
        # not a secret anyway.
        new = {v for v in values if v and len(v) >= 4} - self._values
        if new:
            self._values |= new
            ordered = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    def __call__(self, text: str) -> str:
        if self._pattern is not None:
            text = self._pattern.sub(MASK, text)
        return _SIGNATURE.sub(MASK, text)
