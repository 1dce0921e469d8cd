"""The mktows sandbox: a local Marketo SOAP API server over a persistent SQLite lead database,
with Marketo's REST API served beside it on the same port over the same store (rest/).

Only `cli` and tests import this package (it is its own top layer). It may use
`runner.soap.{namespaces,auth,xsd}`, layer-1 modules, the stdlib, pyyaml and defusedxml.

    with running(tmp_path / "db.sqlite") as info:
        ...  # POST signed requests to info.endpoint as info.user_id / info.encryption_key
        ...  # or get a token at info.identity_url with info.client_id / info.client_secret

Settings live in one `SandboxConfig` (config.py): the defaults, then the fixture's
`config:` section, then what the caller passes. docs/sandbox.md describes the behaviour.
"""

from __future__ import annotations

import gc
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from runner.errors import UsageError
from runner.sandbox.banner import rest_lines
from runner.sandbox.config import (
    FAULT_KINDS,
    ConfigError,
    FaultPlan,
    SandboxConfig,
    parse_fault,
)
from runner.sandbox.db import SchemaError
from runner.sandbox.fixture import DEFAULT_FIXTURE, load_fixture
from runner.sandbox.inspection import reset, show
from runner.sandbox.ops import HANDLERS
from runner.sandbox.rest.service import RestService
from runner.sandbox.server import SandboxServer
from runner.sandbox.service import Service
from runner.sandbox.store import Store, utc_now
from runner.sandbox.versions import LATEST, VERSIONS, load_versions

DEFAULT_WINDOW = SandboxConfig().timestamp_window

__all__ = [
    "DEFAULT_FIXTURE", "DEFAULT_WINDOW", "FAULT_KINDS", "LATEST", "VERSIONS", "ConfigError",
    "FaultPlan", "SandboxConfig", "SandboxInfo", "Store", "fixture_config", "open_store",
    "parse_fault", "reset", "rest_lines", "running", "serve", "show",
]


@dataclass(frozen=True)
class SandboxInfo:
    """Where the sandbox listens and the credentials of the fixture's first user."""

    endpoint: str  # e.g. http://127.0.0.1:PORT/soap/mktows/3_1 (the latest version)
    user_id: str
    encryption_key: str
    db_path: Path
    config: SandboxConfig = field(default_factory=SandboxConfig)  # the settings in force
    base_url: str = ""  # e.g. http://127.0.0.1:PORT: what a REST client calls its host
    client_id: str | None = None  # the fixture's first REST client, if it has one
    client_secret: str | None = None
    packaged_fixture: bool = True  # False: the user's own fixture (its secret is theirs)

    def endpoint_of(self, version: str) -> str:
        """The SOAP endpoint of another API version (`VERSIONS`), e.g. `.../soap/mktows/2_2`."""
        return f"{self.endpoint.rpartition('/')[0]}/{version}"

    @property
    def rest_endpoint(self) -> str:
        """Admin > Web Services' "REST API Endpoint": `<host>/rest`."""
        return f"{self.base_url}/rest"

    @property
    def identity_url(self) -> str:
        """Admin > Web Services' "Identity": `<host>/identity`."""
        return f"{self.base_url}/identity"


def open_store(db_path: Path) -> Store:
    """The sandbox database, created with its directory if missing; safe while serving."""
    try:
        db_path.parent.mkdir(parents=True, exist_ok=True)  # e.g. the CLI's .mktows/
        return Store(db_path)
    except (OSError, sqlite3.Error, SchemaError) as exc:
        raise UsageError(f"{db_path}: cannot open the sandbox database: {exc}") from exc


def fixture_config(fixture: Path | None = None) -> SandboxConfig:
    """The settings a fixture's `config:` section gives (defaults where it is silent); the
    CLI applies its flags on top with `.override(...)` and passes the result as `config`."""
    return load_fixture(fixture).config


@contextmanager
def running(db_path: Path, fixture: Path | None = None, host: str = "127.0.0.1",
            port: int = 0, *, config: SandboxConfig | None = None, strict: bool | None = None,
            window: timedelta | None = None,
            clock: Callable[[], datetime] = utc_now) -> Iterator[SandboxInfo]:
    """Serve in a daemon thread for the duration of the `with` block (port 0: any free port).

    Args:
        db_path: the SQLite file; created if missing, reused (with its leads) if not.
        fixture: users, settings, workspaces, fields, seed leads, programs, campaigns;
            None for the packaged default.
        config: every setting; None for the fixture's `config:` section.
        strict, window: shorthands overriding `config.strict` / `config.timestamp_window`
            (strict=True: every request validated against its version's WSDL; the default,
            lenient, reads requests as production did and logs what it ignored).
        clock: the server's clock (timestamps, limits, days); tests pass a fake one.
    """
    server, store, info = _start(db_path, fixture, host, port,
                                 _settings(fixture, config, strict, window), clock)
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
          config: SandboxConfig | None = None, strict: bool | None = None,
          window: timedelta | None = None) -> None:
    """Serve in the calling thread until KeyboardInterrupt, then shut down and return.

    `on_ready` is called once the socket is listening (e.g. to print the endpoint).
    """
    server, store, info = _start(db_path, fixture, host, port,
                                 _settings(fixture, config, strict, window), utc_now)
    # What start-up loaded (the WSDLs' schemas: tens of thousands of objects) lives as long
    # as the process: out of the collector's way, a request's full collections are cheap.
    # Only here, where the process is the server's own (running() shares its caller's).
    gc.freeze()
    try:
        if on_ready is not None:
            on_ready(info)
        server.serve_forever()
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a foreground server is meant to stop
    finally:
        server.close()
        store.close()


def _settings(fixture: Path | None, config: SandboxConfig | None, strict: bool | None,
              window: timedelta | None) -> SandboxConfig | None:
    if strict is None and window is None:
        return config
    base = config or load_fixture(fixture).config
    changes = {k: v for k, v in (("strict", strict), ("timestamp_window", window))
               if v is not None}
    return base.override(**changes)


def _start(db_path: Path, fixture: Path | None, host: str, port: int,
           config: SandboxConfig | None, clock: Callable[[], datetime]
           ) -> tuple[SandboxServer, Store, SandboxInfo]:
    loaded = load_fixture(fixture)
    versions = load_versions(frozenset(HANDLERS))
    store = open_store(db_path)
    try:
        store.clock = clock
        store.seed(loaded.leads)
        store.checkpoint_in_background()
        service = Service(versions, loaded, store, config or loaded.config, clock=clock)
        rest = RestService(loaded, store, service.config, clock)
        server = SandboxServer((host, port), service, rest)
    except OSError as exc:
        store.close()
        raise UsageError(f"the sandbox cannot listen on {host}:{port}: {exc.strerror}") from exc
    except BaseException:
        store.close()
        raise
    user = loaded.users[0]
    client = loaded.rest_clients[0] if loaded.rest_clients else None
    return server, store, SandboxInfo(
        server.endpoint(LATEST), user.user_id, user.encryption_key, db_path, service.config,
        server.base_url, client.client_id if client else None,
        client.client_secret if client else None,
        loaded.source.resolve() == DEFAULT_FIXTURE)
