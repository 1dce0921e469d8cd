"""Where the bundled schemas live: inside the installed package, or in the checkout."""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent

# The sandbox's lead database, relative to the working directory (runner.options re-exports
# it; it lives here so that the command line's help, which shows it, imports nothing more).
DEFAULT_SANDBOX_DB = Path(".mktows") / "sandbox.db"


@cache
def schemas_dir() -> Path:
    # A wheel carries schemas/ inside the package; a checkout (editable install) keeps the
    # one source at the top level.
    for candidate in (_PACKAGE / "schemas", _PACKAGE.parent / "schemas"):
        if (candidate / "playbook.schema.json").is_file():
            return candidate
    raise FileNotFoundError("mktows-run is installed without its schemas/ directory")


def wsdl_path() -> Path:
    return schemas_dir() / "mktows.wsdl"


def playbook_schema_path() -> Path:
    return schemas_dir() / "playbook.schema.json"


def results_schema_path() -> Path:
    return schemas_dir() / "results.schema.json"
