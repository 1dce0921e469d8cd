"""Read-only views of the store as plain dicts: what tests and `mktows-run sandbox
leads|runs|requests` show. A mixin, so `store.leads()` reads as before."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runner.sandbox.store import Lead


def lead_from_row(row: sqlite3.Row) -> Lead:
    from runner.sandbox.store import Lead  # the record lives with the store that writes it

    values = dict(row)
    values["attributes"] = json.loads(values["attributes"])
    return Lead(**values)


class StoreViews:
    # Provided by Store; declared here so the views type-check on their own.
    def rows(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        raise NotImplementedError

    def get(self, lead_id: int) -> Lead | None:
        raise NotImplementedError

    def leads(self) -> list[dict[str, Any]]:
        return [asdict(lead_from_row(r)) for r in self.rows("SELECT * FROM leads ORDER BY id")]

    def lead(self, lead_id: int) -> dict[str, Any] | None:
        found = self.get(lead_id)
        return asdict(found) if found else None

    def campaign_runs(self) -> list[dict[str, Any]]:
        runs = []
        for row in self.rows("SELECT * FROM campaign_runs ORDER BY id"):
            run = dict(row)
            for key in ("lead_ids", "tokens", "effective_tokens", "ignored_key_list",
                        "unresolved_keys"):
                run[key] = json.loads(run[key])
            runs.append(run)
        return runs

    def requests(self) -> list[dict[str, Any]]:
        out = []
        for row in self.rows("SELECT * FROM requests ORDER BY id"):
            req = dict(row)
            req["applied"], req["counted"] = bool(req["applied"]), bool(req["counted"])
            req["ignored"] = json.loads(req["ignored"])
            out.append(req)
        return out

    def list_members(self, list_id: int) -> list[int]:
        """The ids of a static list's members, in id order."""
        return [int(r[0]) for r in self.rows(
            "SELECT lead_id FROM list_members WHERE list_id = ? ORDER BY lead_id", list_id)]

    def imports(self) -> list[dict[str, Any]]:
        """Every import (SOAP importToList, REST bulk), oldest first."""
        out = []
        for row in self.rows("SELECT * FROM imports ORDER BY id"):
            job = dict(row)
            job["tokens"] = json.loads(job["tokens"])
            out.append(job)
        return out

    def request_count(self) -> int:
        return int(self.rows("SELECT count(*) FROM requests")[0][0])

    def programs(self) -> list[dict[str, Any]]:
        """The programs created by cloneToProgramName, with their campaigns."""
        out = []
        for row in self.rows("SELECT * FROM programs ORDER BY created_at, name"):
            program = dict(row)
            program["tokens"] = json.loads(program["tokens"])
            program["campaigns"] = [dict(c) for c in self.rows(
                "SELECT id, name, type FROM campaigns WHERE program_name = ? ORDER BY id",
                row["name"])]
            out.append(program)
        return out
