"""Client-side pacing to Marketo's limits: at most `calls` requests in any `window` seconds
(100 per 20 s), and at most `concurrency` in flight (10). Thread-safe; clock injectable.

Each attempt, retries included, takes a slot: Marketo counts every request it receives.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

# The server measures its window from arrival times; a small margin keeps network jitter
# from putting call 101 inside Marketo's 20 s.
_MARGIN = 1.02


@dataclass(frozen=True)
class Rate:
    calls: int = 100
    window_s: float = 20.0

    @classmethod
    def parse(cls, text: str) -> Rate:
        """`100/20s`, `100/2s`, `50/1m`, or `0` for no limit."""
        if text.strip() in ("0", "off", "none"):
            return cls(0, 0.0)
        calls, sep, window = text.partition("/")
        if not sep:
            raise ValueError(f"rate {text!r}: write CALLS/WINDOW, e.g. 100/20s")
        unit = {"s": 1.0, "m": 60.0, "ms": 0.001}
        number = window.rstrip("msh")
        suffix = window[len(number):] or "s"
        if suffix not in unit or not calls.strip().isdigit():
            raise ValueError(f"rate {text!r}: write CALLS/WINDOW, e.g. 100/20s")
        return cls(int(calls), float(number or 1) * unit[suffix])


class RateLimiter:
    def __init__(self, rate: Rate, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate = rate
        self.clock = clock
        self.sleep = sleep
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait for a slot; returns the seconds waited."""
        if self.rate.calls <= 0:
            return 0.0
        waited = 0.0
        window = self.rate.window_s * _MARGIN
        while True:
            with self._lock:
                now = self.clock()
                while self._sent and now - self._sent[0] >= window:
                    self._sent.popleft()
                if len(self._sent) < self.rate.calls:
                    self._sent.append(now)
                    return waited
                pause = window - (now - self._sent[0])
            self.sleep(pause)
            waited += pause
