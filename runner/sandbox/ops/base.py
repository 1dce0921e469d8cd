"""What every operation handler receives, and the handler signature.

A handler reads `call.params`, reads and writes `call.store` (the service holds the
request's transaction and rolls the handler's writes back if it raises a `Fault`), and
returns the rendered content of its `success<Op>` element (`<result>...</result>`). It may
add short notes for the request log (e.g. "lead 7 CREATED"). One module per operation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from xml.etree.ElementTree import Element

from runner.sandbox.catalog import Catalog
from runner.sandbox.config import SandboxConfig
from runner.sandbox.fixture import Fixture
from runner.sandbox.store import Store


@dataclass(frozen=True)
class Call:
    operation: str  # e.g. "syncLead"
    params: Element  # the params<Op> element
    store: Store
    fixture: Fixture
    config: SandboxConfig
    catalog: Catalog
    now: datetime  # the server's clock when the call was admitted
    target_workspace: str | None = None  # MktowsContextHeader/targetWorkspace, as sent
    notes: list[str] = field(default_factory=list)  # for the request log's detail


Handler = Callable[[Call], str]
