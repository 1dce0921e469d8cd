"""Writing report files so that a reader (a CI step, a watcher) never sees half of one, and
checking before a run that they can be written at all."""

from __future__ import annotations

import os
import secrets
import stat
from contextlib import suppress
from pathlib import Path

from runner.errors import UsageError


def write_text(path: Path, text: str) -> None:
    """Replace `path` atomically: the old file or the new, never a mix, and never a torn one
    after a crash (the new file is on disk before it takes the name). OSError on failure,
    with no temporary file left behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(path, "tmp")
    # O_EXCL with a random name: two runs writing the same report cannot share a temporary.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise


def check_file(path: Path, what: str) -> None:
    """Before anything is sent: `path` can be written (its folder is created if missing).
    UsageError naming the option and the reason otherwise."""
    if path.exists() and not path.is_file():
        kind = "a folder" if path.is_dir() else "not a regular file"
        raise UsageError(f"{what} {path}: it is {kind}; name a file to write")
    _probe(path.parent, f"{what} {path}")


def check_folder(path: Path, what: str) -> None:
    """Before anything is written: the folder `path` exists or can be created, and files can
    be written in it."""
    _probe(path, f"{what} {path}")


def _probe(folder: Path, where: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UsageError(f"{where}: {_first_non_folder(folder)} is a file, not a folder") from None
    except OSError as exc:
        raise UsageError(f"{where}: cannot create the folder {folder}: "
                         f"{exc.strerror or exc}") from None
    probe = _temporary(folder / "probe", "probe")
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise UsageError(f"{where}: cannot write in {folder}: {exc.strerror or exc}") from None
    os.close(fd)
    with suppress(OSError):
        os.unlink(probe)


def _temporary(path: Path, suffix: str) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.{suffix}")


def _first_non_folder(folder: Path) -> Path:
    """The first part of `folder` that exists and is not a folder."""
    for part in reversed([folder, *folder.parents]):
        try:
            if not stat.S_ISDIR(part.stat().st_mode):
                return part
        except OSError:
            break
    return folder
