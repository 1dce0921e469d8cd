"""Secret values and the one redactor that every output passes through. Stdlib only.

Mask before encoding: callers hand the redactor plain text (or a JSON-like tree) and encode
afterwards. Text that was already encoded somewhere else is masked too: a server may quote a
value back as a Python repr, JSON-escaped, XML-escaped, URL-encoded or with its backslashes
doubled, so the redactor matches a secret in any of those forms (and in any mix of them,
character by character), not only as its raw value.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote, urlsplit

from runner.model import Problem

MASK = "***"
# A secret this short is masked only where it stands alone (not inside a longer word):
# masking "ab" inside every "about" would wreck the output and tell an observer more.
MIN_SUBSTRING = 4
# An encryption key shorter than this is refused (it is guessable, and it would be masked
# only as a whole token, see MIN_SUBSTRING).
MIN_KEY_CHARS = 8
# Any 40-hex run is a potential HMAC-SHA1 request signature: never print one.
_SIGNATURE = re.compile(r"\b[0-9a-f]{40}\b")
# The userinfo of any URL (scheme://user:password@host): a credential wherever it appears.
_USERINFO = re.compile(r"(?<=://)[^\s/?#]+@")
_REF = re.compile(r"\$\{\s*(?:secret|env)\.[^}]*\}")

# Backslash escapes as JSON and Python write them; a second encoding (JSON of a repr,
# a log that doubles backslashes) doubles the backslashes, hence one to four of them.
_BS = r"\\{1,4}"
_SHORT_ESCAPES = {"\n": "n", "\r": "r", "\t": "t", "\b": "b", "\f": "f", "\v": "v",
                  "\a": "a", "\0": "0"}
_ENTITIES = {"&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "apos"}


class Secret(str):
    """A string whose repr never shows the value (it still behaves as a str when used)."""

    def __repr__(self) -> str:
        return "Secret('***')"


def _hex(n: int, width: int = 0) -> str:
    """n in hex, either case (escapes are written both ways)."""
    return "".join(f"[{c}{c.upper()}]" if c.isalpha() else c for c in f"{n:0{width}x}")


def _char(c: str) -> str:
    """A regex for one character of a secret, written raw or in any supported encoding."""
    cp = ord(c)
    alts = [re.escape(c)]
    if c == "\\":  # raw, doubled, or doubled again (4 at most: JSON stays well formed)
        alts = [r"\\{4}", r"\\{2}", r"\\"]
    elif c.isascii() and not c.isalnum():
        # Punctuation may follow a backslash: JSON \" and \/, repr \', Markdown \~, a
        # shell's \$, and those escaped once more.
        alts = [_BS + re.escape(c), re.escape(c)]
    if c == " ":
        alts.append(r"\+")  # application/x-www-form-urlencoded
    if c in _SHORT_ESCAPES:
        alts.append(_BS + _SHORT_ESCAPES[c])
    # Backslash escapes: \xHH (repr), \uHHHH (JSON, ascii()), \UHHHHHHHH, or a JSON
    # surrogate pair; also the UTF-8 bytes as a bytes repr would show them (\xc3\xa9).
    if cp < 0x100:
        alts.append(_BS + "x" + _hex(cp, 2))
    if cp < 0x10000:
        alts.append(_BS + "u" + _hex(cp, 4))
    else:
        alts.append(_BS + "U" + _hex(cp, 8))
        hi, lo = 0xD800 + ((cp - 0x10000) >> 10), 0xDC00 + ((cp - 0x10000) & 0x3FF)
        alts.append(_BS + "u" + _hex(hi, 4) + _BS + "u" + _hex(lo, 4))
    utf8 = c.encode("utf-8", "surrogatepass")
    if len(utf8) > 1:
        alts.append("".join(_BS + "x" + _hex(b, 2) for b in utf8))
    # XML/HTML: named and numeric character references, maybe escaped twice (&amp;lt;).
    amp = "&(?:amp;)*"
    if c in _ENTITIES:
        alts.append(f"{amp}{_ENTITIES[c]};")
    alts.append(f"{amp}#0*{cp};")
    alts.append(f"{amp}#[xX]0*{_hex(cp)};")
    # URL encoding of the UTF-8 bytes (or Latin-1), maybe encoded twice (%2541).
    pct = "%(?:25)*"
    alts.append("".join(pct + _hex(b, 2) for b in utf8))
    if 0x80 <= cp < 0x100:
        alts.append(pct + _hex(cp, 2))
    return "(?:" + "|".join(alts) + ")"


def _pattern(value: str) -> str:
    body = "".join(_char(c) for c in value)
    if len(value) >= MIN_SUBSTRING:
        return body
    # Short: only as a whole token, i.e. not run together with a letter or digit.
    before = r"(?<!\w)" if re.match(r"\w", value[0]) else ""
    after = r"(?!\w)" if re.match(r"\w", value[-1]) else ""
    return before + body + after


class Redactor:
    """Replaces every known secret value (in any encoding), any request signature and any
    URL's user:password@ with ***."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(*secrets)

    def add(self, *values: str) -> None:
        """Know these secret values from now on (empty ones cannot be masked)."""
        new = {str(v) for v in values if v} - self._values
        if new:
            self._values |= new
            # Longest first, so a secret containing another is masked whole.
            ordered = sorted(self._values, key=len, reverse=True)
            # The lookahead lets the regex engine skip, in C, every position where no
            # form of any secret can start (raw first character or an escape's first).
            starts = {v[0] for v in ordered} | {"\\", "&", "%", "+"}
            first = "[" + "".join(re.escape(c) for c in sorted(starts)) + "]"
            alternatives = "|".join(_pattern(v) for v in ordered)
            self._pattern = re.compile(f"(?={first})(?:{alternatives})")

    def with_values(self, *values: str) -> Redactor:
        """A new redactor that knows these too (a run's target, unknown to its plan)."""
        return Redactor((*self._values, *values))

    def add_url(self, url: str) -> None:
        """Know the credentials in a URL's userinfo (user:password@), raw and decoded."""
        userinfo, at, _ = urlsplit(url).netloc.rpartition("@")
        if not at or not userinfo:
            return
        password = userinfo.partition(":")[2]
        self.add(userinfo, unquote(userinfo), password, unquote(password))

    def __call__(self, text: str) -> str:
        if self._pattern is None and len(text) < 40 and "://" not in text:
            return text  # no secret known, too short for a signature, no URL: nothing to mask
        if self._pattern is not None:
            text = self._pattern.sub(MASK, text)
            text = self._cut_tail(text)
        text = _USERINFO.sub(MASK + "@", text)
        return _SIGNATURE.sub(MASK, text)

    def _cut_tail(self, text: str) -> str:
        """A message clipped to a length (a server's fault text, a retry reason) may end in
        the first part of a secret: mask a tail that starts a secret, with or without the
        `...` the clipping added."""
        for tail in ("...", ""):
            body = text[:-len(tail)] if tail and text.endswith(tail) else text
            if tail and body is text:
                continue
            end = body[-MIN_SUBSTRING:]
            for value in self._values:
                # A tail that starts `value` ends in MIN_SUBSTRING of its characters: one
                # substring search rules out nearly every string (journal records hold
                # thousands) before the loop below tries each length.
                if len(end) < MIN_SUBSTRING or end not in value:
                    continue
                for n in range(min(len(value) - 1, len(body)), MIN_SUBSTRING - 1, -1):
                    if body.endswith(value[:n]):
                        return body[:-n] + MASK + tail
        return text

    def leaves_json_alone(self, text: str) -> bool:
        """Whether `tree` would change no string of the value `text` is the JSON of (as
        json.dumps wrote it: ASCII, keys that are strings or numbers). Decided on the
        document's distinct strings, each as `tree` would decide it: with nothing escaped
        in `text` (no backslash) every quote delimits a string, so the strings are every
        other piece between quotes. A 300-lead call's journal record holds thousands of
        strings but a few dozen distinct ones, and needs no copy."""
        if "\\" in text:
            return False  # an escaped character: ask tree() value by value
        for piece in set(text.split('"')[1::2]):
            if (self._pattern is not None or len(piece) >= 40 or "://" in piece) and (
                    piece in self._values or self(piece) != piece):
                return False
        return True

    def tree(self, value: Any) -> Any:
        """A copy of a JSON-like value with every string (keys too) masked.

        Mask before encoding: redacting the values rather than the serialized text keeps
        JSON well formed and catches a secret that serialization would have escaped. A
        string that is a secret is masked whatever its length.
        """
        if isinstance(value, str):
            if self._pattern is None and len(value) < 40 and "://" not in value:
                return value  # no secret known, and nothing __call__ would mask
            return MASK if value in self._values else self(value)
        if isinstance(value, dict):
            return {self.tree(str(k)): self.tree(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.tree(v) for v in value]
        return value

    def leaves_alone(self, value: Any) -> bool:
        """Whether `tree(value)` would be `value` as JSON writes it: every key a str, no
        string masked. Walks without copying (a saved plan's digest checks every call's
        parameters: the copy is made only when something is to be masked)."""
        if isinstance(value, str):
            return self._alone(value)
        if isinstance(value, dict):
            short = self._pattern is None  # then a short string without :// is left alone
            for k, v in value.items():  # (the strings in it tested here: one call fewer each)
                if not isinstance(k, str) or not (
                        (short and len(k) < 40 and "://" not in k) or self._alone(k)):
                    return False
                if type(v) is str:
                    if not ((short and len(v) < 40 and "://" not in v) or self._alone(v)):
                        return False
                elif not self.leaves_alone(v):
                    return False
            return True
        if isinstance(value, list | tuple):
            for v in value:
                if not self.leaves_alone(v):
                    return False
        return True

    def _alone(self, text: str) -> bool:
        """Whether tree() leaves this string as it is."""
        if self._pattern is None and len(text) < 40 and "://" not in text:
            return True
        return text not in self._values and self(text) == text

    def problem(self, problem: Problem) -> Problem:
        """The problem with its message, hint and path masked: a message may quote a
        resolved value ("'…' is not a valid int")."""
        return dataclasses.replace(
            problem, path=self(problem.path), message=self(problem.message),
            hint=None if problem.hint is None else self(problem.hint))


def credential_problem(what: str, value: str, template: object) -> str | None:
    """Why `value` cannot be the credential `what` (None when it can). Names where the value
    came from (the ${secret.…} in `template`), never the value."""
    if len(value) >= MIN_KEY_CHARS:
        return None
    refs = _REF.findall(template) if isinstance(template, str) else []
    source = f" ({', '.join(refs)})" if refs else ""
    chars = f"{len(value)} character{'' if len(value) == 1 else 's'}"
    return (f"{what}{source} is only {chars} long; it must have at least {MIN_KEY_CHARS} "
            "(a Marketo encryption key is much longer)")
