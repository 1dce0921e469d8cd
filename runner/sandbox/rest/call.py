"""What every REST handler receives, and the parameter helpers they share.

A handler reads `call.request`, reads and writes `call.store` (the service holds the
request's transaction and rolls the handler's writes back if it raises `RestError`) and
returns an `Answer`. It may add short notes for the request log.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from runner.sandbox.catalog import Catalog
from runner.sandbox.config import SandboxConfig
from runner.sandbox.fixture import Fixture, RestClient
from runner.sandbox.rest.envelope import Answer, RestError
from runner.sandbox.rest.fields import RestFields
from runner.sandbox.rest.partitions import Partitions
from runner.sandbox.rest.request import RestRequest, one
from runner.sandbox.store import Store


@dataclass
class RestCall:
    request: RestRequest
    match: re.Match[str]  # the route's pattern on the path (ids are its groups)
    client: RestClient
    store: Store
    fixture: Fixture
    config: SandboxConfig
    catalog: Catalog
    fields: RestFields
    partitions: Partitions
    now: datetime
    notes: list[str] = field(default_factory=list)

    def params(self) -> dict[str, list[str]]:
        return self.request.params()

    def path_id(self) -> int:
        return int(self.match[1])

    def body(self) -> dict[str, Any] | None:
        """The JSON body as an object (None without a body); 612 / 609 / 1003 otherwise."""
        data = self.request.json()
        if data is not None and not isinstance(data, dict):
            raise RestError(1003, "Invalid data: the body must be a JSON object")
        return data


Handler = Callable[[RestCall], Answer]


def required(params: dict[str, list[str]], name: str) -> str:
    """A required parameter: 1002 when it is absent, 701 when it is blank (the sandbox's
    reading of the two codes; reference §9.6 leaves the choice open)."""
    value = one(params, name)
    if value is None:
        raise RestError(1002, f"Missing value for the required parameter '{name}'")
    if not value.strip():
        raise RestError(701, f"{name} cannot be blank")
    return value


def member(data: dict[str, Any], name: str) -> Any:
    """A required member of a JSON body, with the same codes as `required`."""
    if data.get(name) is None:
        raise RestError(1002, f"Missing value for the required parameter '{name}'")
    value = data[name]
    if value == [] or value == "" or value == {}:
        raise RestError(701, f"{name} cannot be blank")
    return value
