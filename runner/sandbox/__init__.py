"""The mktows sandbox: a local Marketo SOAP API server over a persistent SQLite lead database.

Only `cli` and tests import this package (it is its own top layer). It may use
`runner.soap.{namespaces,auth,xsd}`, layer-1 modules, the stdlib, pyyaml and defusedxml.

    with running(tmp_path / "db.sqlite") as info:
        ...  # POST signed requests to info.endpoint as info.user_id / info.encryption_key
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from runner.errors import UsageError
from runner.resources import wsdl_path
from runner.sandbox.fixture import DEFAULT_FIXTURE, load_fixture
from runner.sandbox.server import SandboxServer
from runner.sandbox.service import DEFAULT_WINDOW, Service
from runner.sandbox.store import Store
from runner.soap.xsd import load as load_schema

__all__ = [
    "DEFAULT_FIXTURE", "DEFAULT_WINDOW", "SandboxInfo", "Store", "open_store", "running",
    "serve",
]


@dataclass(frozen=True)
class SandboxInfo:
    """Where the sandbox listens and the credentials of the fixture's first user."""

    endpoint: str  # e.g. http://127.0.0.1:PORT/soap/mktows/3_1
    user_id: str
    encryption_key: str
    db_path: Path


def open_store(db_path: Path) -> Store:
    """The sandbox database, created with its directory if missing; safe while serving."""
    try:
        db_path.parent.mkdir(parents=True, exist_ok=True)  # e.g. the CLI's .mktows/
        return Store(db_path)
    except (OSError, sqlite3.Error) as exc:
        raise UsageError(f"{db_path}: cannot open the sandbox database: {exc}") from exc


@contextmanager
def running(db_path: Path, fixture: Path | None = None, host: str = "127.0.0.1",
            port: int = 0, *, strict: bool = True,
            window: timedelta = DEFAULT_WINDOW) -> Iterator[SandboxInfo]:
    """Serve in a daemon thread for the duration of the `with` block (port 0: any free port).

    Args:
        db_path: the SQLite file; created if missing, reused (with its leads) if not.
        fixture: programs, campaigns, fields and users; None for the packaged default.
        strict: validate every request body against the WSDL (fault 20012 when invalid).
        window: how far requestTimestamp may be from the server's clock (else 20016).
    """
    server, store, info = _start(db_path, fixture, host, port, strict, window)
    # A short poll interval: shutdown() waits for the serving loop's next poll.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="mktows-sandbox",
                              daemon=True)
    thread.start()
    try:
        yield info
    finally:
        server.shutdown()
        thread.join()
        server.close()
        store.close()


def serve(db_path: Path, fixture: Path | None = None, host: str = "127.0.0.1",
          port: int = 8080, on_ready: Callable[[SandboxInfo], None] | None = None, *,
          strict: bool = True, window: timedelta = DEFAULT_WINDOW) -> None:
    """Serve in the calling thread until KeyboardInterrupt, then shut down and return.

    `on_ready` is called once the socket is listening (e.g. to print the endpoint).
    """
    server, store, info = _start(db_path, fixture, host, port, strict, window)
    try:
        if on_ready is not None:
            on_ready(info)
        server.serve_forever()
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a foreground server is meant to stop
    finally:
        server.close()
        store.close()


def _start(db_path: Path, fixture: Path | None, host: str, port: int, strict: bool,
           window: timedelta) -> tuple[SandboxServer, Store, SandboxInfo]:
    loaded = load_fixture(fixture)
    schema = load_schema(str(wsdl_path()))
    wsdl = wsdl_path().read_text(encoding="utf-8")
    store = open_store(db_path)
    service = Service(schema, loaded, store, strict=strict, window=window)
    try:
        server = SandboxServer((host, port), service, wsdl)
    except OSError as exc:
        store.close()
        raise UsageError(f"the sandbox cannot listen on {host}:{port}: {exc.strerror}") from exc
    user = loaded.users[0]
    return server, store, SandboxInfo(server.endpoint(), user.user_id, user.encryption_key,
                                      db_path)
