"""Program tokens sent with requestCampaign / scheduleCampaign.

A token name must be written in full, `{{my.name}}` (Marketo's REST twin says "must be
formatted as {{my.name}}"; a name like `my.name` could never replace anything), else fault
20110. The run uses the program's My Tokens overridden by the ones sent, for that run only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from runner.sandbox.faults import Fault

_TOKEN = re.compile(r"\{\{my\.[^{}]+\}\}")


def checked(tokens: Mapping[str, str]) -> dict[str, str]:
    for name in tokens:
        if not _TOKEN.fullmatch(name):
            raise Fault(20110, f"Bad Parameter: token name {name!r} must be written in full,"
                               " like {{my.name}}")
    return dict(tokens)


def effective(program_tokens: Mapping[str, str], sent: Mapping[str, str]) -> dict[str, str]:
    return {**program_tokens, **sent}
