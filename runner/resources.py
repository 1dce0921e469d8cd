"""Where the bundled schemas live: inside the installed package, or in the checkout.

The command line's start imports this module (its help shows SANDBOX_DB), so it imports
pathlib only when a path is asked for (~4 ms that `--help` does without).
"""

from __future__ import annotations

import os
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    DEFAULT_SANDBOX_DB: Path

# The sandbox's lead database, relative to the working directory: as text (the help shows
# it) and as DEFAULT_SANDBOX_DB, a Path (runner.options re-exports it), made on first use.
SANDBOX_DB = os.path.join(".mktows", "sandbox.db")


def __getattr__(name: str) -> Any:
    if name == "DEFAULT_SANDBOX_DB":
        from pathlib import Path

        value = globals()[name] = Path(SANDBOX_DB)
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@cache
def schemas_dir() -> Path:
    from pathlib import Path

    # A wheel carries schemas/ inside the package; a checkout (editable install) keeps the
    # one source at the top level.
    package = Path(__file__).resolve().parent
    for candidate in (package / "schemas", package.parent / "schemas"):
        if (candidate / "playbook.schema.json").is_file():
            return candidate
    raise FileNotFoundError("mktows-run is installed without its schemas/ directory")


def wsdl_path() -> Path:
    return schemas_dir() / "mktows.wsdl"


def playbook_schema_path() -> Path:
    return schemas_dir() / "playbook.schema.json"


def results_schema_path() -> Path:
    return schemas_dir() / "results.schema.json"
