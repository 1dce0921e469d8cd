"""What `mktows-run --version` says: the version, the Marketo API version of the bundled WSDL,
and the operations a playbook may use.

runner/cli.py calls `version_text` only when --version is given, so every other command
starts without reading the WSDL or loading the operation registry.
"""

from __future__ import annotations

import re

# The endpoint in the WSDL's soap:address ends with the API version: .../soap/mktows/3_1
_API_VERSION = re.compile(r"/soap/mktows/(\d+_\d+)\b")


def wsdl_api_version() -> str:
    """The API version the bundled WSDL describes (e.g. 3_1), read from the WSDL itself so it
    cannot drift from the file the envelopes are checked against."""
    from runner.resources import wsdl_path

    found = _API_VERSION.search(wsdl_path().read_text(encoding="utf-8"))
    return found.group(1) if found else "unknown"


def version_text(version: str) -> str:
    from runner.operations import NAMES

    # The first line keeps click's usual shape, for scripts that already parse it.
    return (f"mktows-run, version {version}\n"
            f"Marketo SOAP API (mktows) {wsdl_api_version()}, bundled WSDL\n"
            f"operations: {', '.join(NAMES)}")
