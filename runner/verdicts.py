"""Remembered verdicts: what xmlschema and jsonschema once said, so a later process need not
import them (~0.2 s of a ~0.25 s `validate`) to hear it again.

The judges stay xmlschema and jsonschema; this module only keeps, in the user's cache
directory (`$XDG_CACHE_HOME/mktows-run`, else `~/.cache/mktows-run`), bounded sets of digests
of questions they answered, in JSON files keyed by what could change an answer (the schema's
digest, the library's installed stamp, the runner's version, the file format).

A cache file is only ever an optimisation: one that is missing, unreadable, truncated,
garbage, too big or of another key is ignored (and rewritten); one that cannot be written (a
read-only or full disk) leaves the run slower, never failed. `XDG_CACHE_HOME=/dev/null` turns
the cache off (nothing can be read or written under it).
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib.util
import itertools
import json
import os
import stat
import sys
import threading
from pathlib import Path
from typing import Any

from runner import __version__

# Entries per set: a body shape or a (type, value) pair each. Bounded so that a loop over a
# data file's rows cannot grow the file (or memory) with every value it has; past it, the
# oldest entries are dropped.
CAP = 4096
FORMAT = 1
# Bigger than anything this module writes (a full verdict set is ~150 KiB): a larger file is
# not ours, and is not read.
MAX_FILE_BYTES = 4 * 1024 * 1024
_DIGEST_CHARS = 32  # blake2b, 16 bytes: no collision in a few thousand entries

_tmp_names = itertools.count()


def cache_dir() -> Path | None:
    """The runner's directory in the user's cache, or None when there is no home to put it in."""
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except (RuntimeError, KeyError):  # no HOME and no passwd entry
            return None
    return Path(base) / "mktows-run"


def digest(*parts: object) -> str:
    """A short, stable digest of `parts` (strings, numbers, nested tuples: their repr)."""
    text = repr(parts).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(text, digest_size=_DIGEST_CHARS // 2).hexdigest()


def file_key(*parts: object) -> str:
    """The key of a cache file: `parts` plus the runner's version, the cache format and the
    Python version (a library's verdict may depend on any of them)."""
    return digest(*parts, __version__, FORMAT, sys.version_info[:2])


_stamps: dict[str, str | None] = {}


def library_stamp(name: str) -> str | None:
    """What identifies the installed library `name`, read without importing it; None when it
    cannot be told (not installed, or not a plain package on disk): then nothing is
    remembered for it.

    Its `__init__.py`'s path, size and mtime (a reinstall, an editable checkout's edit) and
    the names of the distributions installed beside it: their dist-info directories carry
    each one's version, the library's own and its dependencies' (elementpath decides some of
    xmlschema's verdicts, referencing and the format checkers some of jsonschema's). Asking
    the library (`__version__`) would cost the import this module exists to avoid, and
    jsonschema has no such line to read (it asks importlib.metadata, ~5 ms more).
    """
    if name not in _stamps:
        found = None
        try:
            spec = importlib.util.find_spec(name)
            origin = spec.origin if spec is not None else None
            if origin:
                info = os.stat(origin)
                site = os.path.dirname(os.path.dirname(origin))
                dists = sorted(e for e in os.listdir(site)
                               if e.endswith((".dist-info", ".egg-info")))
                found = digest(origin, info.st_size, info.st_mtime_ns, dists)
        except (ImportError, ValueError, OSError):
            pass
        _stamps[name] = found
    return _stamps[name]


def read_json(path: Path, limit: int = MAX_FILE_BYTES) -> Any:
    """The JSON value in `path`, or None if it is missing, not a regular file, over `limit`
    bytes or not JSON. Never blocks (a FIFO planted there) and never raises."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except (OSError, ValueError):
        return None
    try:
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                return None
            data = f.read(limit + 1)
        if len(data) > limit:
            return None
        return json.loads(data)
    except (OSError, ValueError, RecursionError):  # (UnicodeDecodeError is a ValueError)
        return None


def write_json(path: Path, value: Any) -> bool:
    """Write `value` to `path` atomically (a reader sees the old file or the new one, never
    half of one); False when the directory cannot take it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{next(_tmp_names)}.tmp")
    try:
        data = json.dumps(value, separators=(",", ":")).encode("utf-8")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except (OSError, ValueError, TypeError, RecursionError):
        return False
    return True


def _are_digests(values: list[Any]) -> bool:
    """Whether `values` are hex digests as `digest` makes them (near enough: one that is not
    could only never match). Checked all at once, in C: a full file has 12,288 entries, read
    at every start (a per-entry check in Python cost ~10 ms of it)."""
    try:
        joined = "".join(values)
        return len(joined) == _DIGEST_CHARS * len(values) and (
            len(bytes.fromhex(joined)) * 2 == len(joined))  # (fromhex skips whitespace)
    except (TypeError, ValueError):
        return False


class Verdicts:
    """Named, bounded sets of digests (each a question whose answer is the set's name), kept in
    one JSON file: read on first use, and what this process added merged into the file as it
    is then and written back at exit (or by `save`)."""

    def __init__(self, path: Path | None, key: str, names: tuple[str, ...],
                 cap: int | None = None) -> None:
        self.path = path  # None: remembered in this process only
        self.key = key
        self.names = names
        self.cap = CAP if cap is None else cap
        self._lock = threading.Lock()
        self._known: dict[str, dict[str, None]] | None = None
        self._added: dict[str, dict[str, None]] = {n: {} for n in names}
        self._at_exit = False

    def _read(self) -> dict[str, dict[str, None]]:
        empty: dict[str, dict[str, None]] = {n: {} for n in self.names}
        found = read_json(self.path) if self.path is not None else None
        if not isinstance(found, dict) or found.get("key") != self.key:
            return empty
        sets = found.get("sets")
        if not isinstance(sets, dict):
            return empty
        out = {}
        for name in self.names:
            entries = sets.get(name, [])
            if not isinstance(entries, list) or not _are_digests(entries):
                return empty  # not a file this module wrote: start again
            out[name] = dict.fromkeys(entries[-self.cap:])
        return out

    def _sets(self) -> dict[str, dict[str, None]]:
        known = self._known
        if known is None:
            with self._lock:
                if self._known is None:
                    self._known = self._read()
                known = self._known
        return known

    def has(self, name: str, key: str) -> bool:
        return key in self._sets()[name] or key in self._added[name]

    def add(self, name: str, key: str) -> None:
        if self.has(name, key):
            return
        with self._lock:
            added = self._added[name]
            added[key] = None
            if len(added) > self.cap:  # only the newest `cap` could be kept anyway
                del added[next(iter(added))]
            if not self._at_exit and self.path is not None:
                self._at_exit = True
                atexit.register(self.save)

    def save(self) -> None:
        """Merge what this process added into the file (as another process may have just
        written it) and write it back, each set cut to its newest `cap` entries."""
        with self._lock:
            if self.path is None or not any(self._added.values()):
                return
            merged = self._read()
            for name, added in self._added.items():
                merged[name].update(added)
            self._added = {n: {} for n in self.names}
            self._known = {n: dict.fromkeys(list(s)[-self.cap:]) for n, s in merged.items()}
            write_json(self.path, {"key": self.key, "sets": {
                n: list(s) for n, s in self._known.items()}})
