"""Programs and campaigns: the fixture's, plus the copies scheduleCampaign's
cloneToProgramName made (kept in the store, so they survive a restart).

The fixture is looked at first (a dict lookup); the store only when the fixture has no
answer, so the common request pays nothing for clones.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from runner.sandbox.fixture import Campaign, Fixture, Program
from runner.sandbox.store import Store


class Catalog:
    def __init__(self, fixture: Fixture, store: Store) -> None:
        self.fixture = fixture
        self.store = store

    def program(self, name: str) -> Program | None:
        found = self.fixture.program(name)
        if found is not None:
            return found
        rows = self.store.rows("SELECT rowid, * FROM programs WHERE name = ?", name)
        if not rows:
            return None
        row = rows[0]
        campaigns = self._campaigns("WHERE program_name = ? ORDER BY id", name)
        # A clone's id (REST's programId) comes after every fixture program's.
        return Program(row["name"], row["workspace"], json.loads(row["tokens"]),
                       tuple(campaigns), len(self.fixture.programs) + int(row["rowid"]))

    def campaign(self, campaign_id: int) -> Campaign | None:
        found = self.fixture.campaign(campaign_id)
        if found is not None:
            return found
        return next(iter(self._campaigns("WHERE id = ?", campaign_id)), None)

    def campaign_named(self, program: str, name: str) -> Campaign | None:
        found = self.program(program)
        return next((c for c in found.campaigns if c.name == name), None) if found else None

    def campaigns(self) -> list[Campaign]:
        """Every campaign, by id."""
        return sorted([*self.fixture.campaigns, *self._campaigns("")], key=lambda c: c.id)

    def clone(self, program: Program, name: str, created_at: str) -> Program:
        """Copy `program` (tokens and campaigns, with new campaign ids) under `name`.

        The caller holds the store's transaction and has checked that `name` is free.
        """
        top = max([0, *(c.id for c in self.fixture.campaigns)])
        top = max(top, int(self.store.rows("SELECT coalesce(max(id), 0) FROM campaigns")[0][0]))
        self.store.write("INSERT INTO programs (name, cloned_from, workspace, tokens, created_at)"
                         " VALUES (?, ?, ?, ?, ?)", name, program.name, program.workspace,
                         json.dumps(dict(program.tokens)), created_at)
        copies = []
        for offset, campaign in enumerate(program.campaigns, start=1):
            copy = Campaign(top + offset, campaign.name, name, campaign.type,
                            campaign.description, campaign.sources, campaign.active)
            self.store.write(
                "INSERT INTO campaigns (id, program_name, name, type, description, sources,"
                " active) VALUES (?, ?, ?, ?, ?, ?, ?)", copy.id, name, copy.name, copy.type,
                copy.description, json.dumps(list(copy.sources)), int(copy.active))
            copies.append(copy)
        return self.program(name) or Program(name, program.workspace, dict(program.tokens),
                                             tuple(copies))

    def _campaigns(self, where: str, *args: object) -> Sequence[Campaign]:
        return [
            Campaign(r["id"], r["name"], r["program_name"], r["type"], r["description"],
                     tuple(json.loads(r["sources"])), bool(r["active"]))
            for r in self.store.rows(f"SELECT * FROM campaigns {where}", *args)
        ]
