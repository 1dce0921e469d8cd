"""One process at a time per run: an exclusive lock on `<run dir>/lock`, held from before the
journal's first record until the reports are written.

The lock is `flock` (POSIX, like the rest of the journal's fsync discipline): the kernel
releases it when its holder dies however it dies, so a lock left by a killed process never
blocks (the file stays; only a live holder counts). The holder writes its pid into the file
for the message a second process prints; that pid is never trusted for the locking itself.
The file is never deleted: unlinking a lock file races with a process that just opened it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from runner.errors import StorageError, UsageError

LOCK = "lock"


class RunLock:
    def __init__(self, directory: Path) -> None:
        self.path = directory / LOCK
        self._fd: int | None = None

    def acquire(self, run_id: str) -> None:
        """Take the lock, or UsageError (exit 2) naming the process that holds it."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise StorageError(self.path, exc) from None
        if not _try_lock(fd):
            holder = _read_pid(fd)
            os.close(fd)
            who = f"pid {holder}" if holder else "another process"
            raise UsageError(f"run {run_id} is in use by another mktows-run ({who}): it is "
                             "running or being resumed; wait for it to finish (or stop it), "
                             "then resume")
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass  # the pid is only for another process's message
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
