"""Shared fixtures: no network but loopback, a live sandbox, and the CLI run in-process."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
REFERENCE_WSDL = SHARED / "reference" / "marketo-mktows-2_2.wsdl"

# The `target:` of a test playbook: credentials from the environment, as users write it.
TARGET_YAML = """\
target:
  endpoint: ${env.MKTOWS_ENDPOINT}
  userId: ${env.MKTOWS_USER_ID}
  encryptionKey: ${secret.MKTOWS_ENCRYPTION_KEY}
"""


def target_env(info: object, key: str | None = None) -> dict[str, str]:
    """The environment that points TARGET_YAML at a running sandbox (`key`: a wrong one)."""
    return {"MKTOWS_ENDPOINT": info.endpoint, "MKTOWS_USER_ID": info.user_id,  # type: ignore[attr-defined]
            "MKTOWS_ENCRYPTION_KEY": key or info.encryption_key}  # type: ignore[attr-defined]


# The same for a REST target (api: rest): the endpoints and client id from the environment,
# the client secret as a secret.
REST_TARGET_YAML = """\
target:
  api: rest
  restEndpoint: ${env.MKTO_REST_ENDPOINT}
  identityEndpoint: ${env.MKTO_IDENTITY_ENDPOINT}
  clientId: ${env.MKTO_CLIENT_ID}
  clientSecret: ${secret.MKTO_CLIENT_SECRET}
"""


def rest_target_env(info: object, secret: str | None = None) -> dict[str, str]:
    """The environment that points REST_TARGET_YAML at a running sandbox's first REST client
    (`secret`: another client secret)."""
    return {"MKTO_REST_ENDPOINT": info.rest_endpoint,  # type: ignore[attr-defined]
            "MKTO_IDENTITY_ENDPOINT": info.identity_url,  # type: ignore[attr-defined]
            "MKTO_CLIENT_ID": info.client_id,  # type: ignore[attr-defined]
            "MKTO_CLIENT_SECRET": secret or info.client_secret}  # type: ignore[attr-defined]


_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: object) -> None:
    host = address[0] if isinstance(address, tuple) else None
    if host is not None and host not in ("127.0.0.1", "::1", "localhost"):
        raise OSError(f"tests may only connect to loopback, not {host}")
    _real_connect(self, address)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)
    # The schema cache must not leak between the suite and a developer's own cache.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[object]:
    """A strict sandbox: every request the tests (and the runner) send must be valid against
    the WSDL, or fail loudly with 20012 (the default sandbox would ignore what is wrong)."""
    from runner import sandbox as box

    with box.running(tmp_path / "sandbox.db", strict=True) as info:
        yield info


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
            tmp_path: Path):
    """Run `mktows-run ARGS` in-process, in tmp_path, and return its exit code and output."""
    from runner.cli import main

    monkeypatch.chdir(tmp_path)

    def run(*args: str, env: dict[str, str] | None = None) -> CliResult:
        for k, v in (env or {}).items():
            monkeypatch.setenv(k, v)
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            main(list(args))
        out, err = capsys.readouterr()
        return CliResult(int(exit_info.value.code or 0), out, err)

    return run
