"""Lead partitions as REST numbers them (reference §3.9): `Default` is 1, the others follow
in the order the fixture's workspaces name them. Without workspaces only the Default
workspace's primary partition exists, as for SOAP."""

from __future__ import annotations

from dataclasses import dataclass

from runner.sandbox.fixture import DEFAULT_WORKSPACE, Fixture

DEFAULT_DESCRIPTION = "Initial system lead partition"  # the docs' sample text for Default


@dataclass(frozen=True)
class Partition:
    id: int
    name: str
    description: str


class Partitions:
    def __init__(self, fixture: Fixture, workspaces_enabled: bool) -> None:
        default = fixture.default_workspace.primary_partition
        names = [default]
        if workspaces_enabled:
            names += [p for w in fixture.workspaces for p in w.partitions if p not in names]
        self.all = tuple(
            Partition(i, name, DEFAULT_DESCRIPTION if name == DEFAULT_WORKSPACE else "")
            for i, name in enumerate(names, start=1))
        self._by_name = {p.name.casefold(): p for p in self.all}
        self._by_id = {p.id: p for p in self.all}
        self.default = self.all[0]

    def named(self, name: str) -> Partition | None:
        return self._by_name.get(name.strip().casefold())

    def by_id(self, partition_id: int) -> Partition | None:
        return self._by_id.get(partition_id)
