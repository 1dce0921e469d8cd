"""Get Daily Usage, `GET /rest/v1/stats/usage.json` (reference §3.11): today's counted REST
calls (the same count as the daily quota, since 12:00 AM US Central), per API user."""

from __future__ import annotations

from datetime import UTC

from runner.sandbox.limits import day_start
from runner.sandbox.rest.call import RestCall
from runner.sandbox.rest.envelope import Answer


def daily(call: RestCall) -> Answer:
    start = day_start(call.now)
    counts = call.store.counted_by_user(start.astimezone(UTC).isoformat(timespec="milliseconds"),
                                        api="rest")
    return Answer([{"date": start.date().isoformat(), "total": sum(counts.values()),
                    "users": [{"userId": u, "count": n} for u, n in counts.items()]}])
