"""What happened in a sandbox database, for users (`mktows-run sandbox leads|runs|requests|
reset`) and tests. Reads through WAL, so it is safe while a sandbox is serving.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from runner.sandbox.fixture import load_fixture
from runner.sandbox.store import Store

VIEWS = ("leads", "runs", "requests", "programs")
_COLUMNS = {
    "leads": ("id", "email", "partition", "foreign", "cookie", "attributes", "updated_at"),
    "runs": ("id", "kind", "campaign_id", "program_name", "campaign_name", "lead_ids",
             "tokens", "run_at", "clone_to_program_name", "ignored_keys", "requested_at"),
    "requests": ("id", "n", "time", "api", "operation", "user_id", "fault_code", "injected",
                 "applied", "counted", "version", "ignored", "detail"),
    "programs": ("name", "cloned_from", "workspace", "campaigns", "created_at"),
}


def rows(store: Store, view: str) -> list[dict[str, Any]]:
    if view == "leads":
        return store.leads()
    if view == "runs":
        return store.campaign_runs()
    if view == "requests":
        return store.requests()
    if view == "programs":
        return store.programs()
    raise ValueError(f"unknown view {view!r}; one of {', '.join(VIEWS)}")


def show(db_path: Path, view: str, *, as_json: bool = False, last: int | None = None) -> str:
    """`view` ("leads", "runs", "requests" or "programs") as a text table or JSON; `last`
    keeps only the newest N rows."""
    with Store(db_path) as store:
        found = rows(store, view)
    if last is not None:
        found = found[-last:] if last > 0 else []
    if as_json:
        return json.dumps(found, indent=2, ensure_ascii=False) + "\n"
    return _table([_flat(view, row) for row in found], _COLUMNS[view])


def reset(db_path: Path, fixture: Path | None = None) -> None:
    """Forget every lead, run, clone and request, then put the fixture's seed leads back.

    A sandbox serving this database keeps its in-memory limit counters (rate window,
    in-flight, today's quota count) until it restarts.
    """
    seeds = load_fixture(fixture).leads
    with Store(db_path) as store:
        store.reset()
        store.seed(seeds)


def _flat(view: str, row: dict[str, Any]) -> dict[str, str]:
    out = dict(row)
    if view == "leads":
        out["foreign"] = (f"{row['foreign_sys_type']}:{row['foreign_sys_person_id']}"
                          if row["foreign_sys_person_id"] else None)
        out["attributes"] = ", ".join(f"{k}={v}" for k, v in row["attributes"].items())
    elif view == "runs":
        out["lead_ids"] = ",".join(map(str, row["lead_ids"]))
        out["tokens"] = ", ".join(f"{k}={v}" for k, v in row["tokens"].items())
    elif view == "requests":
        out["ignored"] = ", ".join(row["ignored"])  # what production would have dropped
    elif view == "programs":
        out["campaigns"] = ", ".join(f"{c['id']} {c['name']}" for c in row["campaigns"])
    return {k: "" if v is None else str(v) for k, v in out.items()}


def _table(found: list[dict[str, str]], columns: tuple[str, ...]) -> str:
    widths = {c: max([len(c), *(len(r[c]) for r in found)]) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns).rstrip()]
    lines += ["  ".join(r[c].ljust(widths[c]) for c in columns).rstrip() for r in found]
    return "\n".join(lines) + f"\n({len(found)} row{'s' if len(found) != 1 else ''})\n"
