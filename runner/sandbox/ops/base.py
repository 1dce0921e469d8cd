"""What every operation handler receives, and the handler signature.

A handler reads `call.params`, works on `call.store` inside one transaction, and returns
the rendered content of its `success<Op>` element (`<result>...</result>`), or raises a
`Fault`. One module per operation, so each can grow into a faithful emulation on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from runner.sandbox.fixture import Fixture
from runner.sandbox.store import Store


@dataclass(frozen=True)
class Call:
    operation: str  # e.g. "syncLead"
    params: Element  # the params<Op> element
    store: Store
    fixture: Fixture
    target_workspace: str | None = None  # MktowsContextHeader/targetWorkspace, as sent


Handler = Callable[[Call], str]
