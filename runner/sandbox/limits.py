"""Marketo's call limits, enforced for real under concurrency (reference §6).

- more than `max_in_flight` calls being processed at once: 20024;
- more than `rate_limit_calls` calls in the last `rate_limit_window` seconds: 20023;
- more than `daily_quota` calls since 12:00 AM US Central: 20015.

Every authenticated call counts toward the window and the quota, including the ones a
limit rejects: Marketo's REST error table exempts only token errors (601/602) and server
errors from its limits, not 606/607/615, and the sandbox applies the same rule to SOAP. A
call that fails authentication (20014, 20016) is not attributed to the instance and does
not count. One lock guards all three counters; the work under it is a few integer ops.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from runner.sandbox.config import SandboxConfig
from runner.sandbox.faults import Fault


def _central() -> tzinfo:
    try:
        return ZoneInfo("America/Chicago")
    except ZoneInfoNotFoundError:  # a system without tz data: standard time all year
        return timezone(timedelta(hours=-6), "CST")


CENTRAL = _central()


def day_start(now: datetime) -> datetime:
    """The last 12:00 AM US Central at or before `now` (Marketo's quota reset)."""
    return now.astimezone(CENTRAL).replace(hour=0, minute=0, second=0, microsecond=0)


class Limits:
    def __init__(self, config: SandboxConfig, clock: Callable[[], datetime],
                 counted_today: Callable[[datetime], int]) -> None:
        """`counted_today(day_start)` tells how many calls the store counted since then, so
        the daily quota survives a restart."""
        self.config = config
        self.clock = clock
        self._lock = threading.Lock()
        self._in_flight = 0
        self._window: deque[float] = deque()
        now = clock()
        self._day = day_start(now)
        self._today = counted_today(self._day) if config.daily_quota is not None else 0

    def admit(self) -> None:
        """Count one call and let it in, or raise the limit's fault. After a return (not
        after a raise) the caller must `release()` when the call is answered."""
        c = self.config
        now = self.clock()
        with self._lock:
            self._in_flight += 1
            try:
                self._count(now)
                if c.daily_quota is not None and self._today > c.daily_quota:
                    raise Fault(20015, f"Request Limit Exceeded: more than {c.daily_quota}"
                                       " calls since 12:00 AM US Central")
                if c.max_in_flight is not None and self._in_flight > c.max_in_flight:
                    raise Fault(20024, f"Concurrency Limit Exceeded: more than"
                                       f" {c.max_in_flight} calls at once")
                if c.rate_limit_calls is not None and len(self._window) > c.rate_limit_calls:
                    raise Fault(20023, f"Rate Limit Exceeded: more than {c.rate_limit_calls}"
                                       f" calls in {c.rate_limit_window:g} s")
            except Fault:
                self._in_flight -= 1
                raise

    def release(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _count(self, now: datetime) -> None:
        c = self.config
        if c.rate_limit_calls is not None:
            stamp = now.timestamp()
            while self._window and self._window[0] <= stamp - c.rate_limit_window:
                self._window.popleft()
            self._window.append(stamp)
        if c.daily_quota is not None:
            start = day_start(now)
            if start != self._day:
                self._day, self._today = start, 0
            self._today += 1
