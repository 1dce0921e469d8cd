"""Client-side pacing to Marketo's limits: at most `calls` requests in any `window` seconds
(100 per 20 s), and at most `concurrency` in flight (10). Thread-safe; clock injectable.

Each attempt, retries included, takes a slot: Marketo counts every request it receives.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

# A slot is held from the moment a call is sent until its answer plus the window: the server
# counts a call when it admits it, which is somewhere in between, and under load that can be
# well after the client sent it. Timing the window from the answer can never undercount.
_MARGIN_S = 0.05


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
        try:
            window_s = float(number or 1) * unit[suffix]
        except ValueError:
            raise ValueError(f"rate {text!r}: write CALLS/WINDOW, e.g. 100/20s") from None
        # A zero, negative or unbounded window (or zero calls) would silently switch pacing
        # off or stall the run: only the explicit `0` means "no limit".
        if not (0 < window_s <= 86_400) or not (0 < int(calls) <= 1_000_000):
            raise ValueError(f"rate {text!r}: CALLS must be 1..1000000 and WINDOW more than 0 and "
                             "at most 24h (or write 0 for no limit)")
        return cls(int(calls), window_s)


class Slot:
    """One call's place in the window: in flight until `release`, then until `done + W`."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done: float | None = None


class RateLimiter:
    def __init__(self, rate: Rate, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate = rate
        self.clock = clock
        self.sleep = sleep
        self._slots: list[Slot] = []
        self._cond = threading.Condition()

    def acquire(self) -> Slot:
        """Wait for room in the window; hold the returned slot until the call is answered."""
        slot = Slot()
        if self.rate.calls <= 0:
            return slot
        window = self.rate.window_s + _MARGIN_S
        with self._cond:
            while True:
                now = self.clock()
                # (1e-9: a slot exactly one window old has left it, float rounding aside)
                self._slots = [s for s in self._slots
                               if s.done is None or now - s.done < window - 1e-9]
                if len(self._slots) < self.rate.calls:
                    self._slots.append(slot)
                    return slot
                ended = [s.done for s in self._slots if s.done is not None]
                # Wait for the oldest answered call to leave the window, or for an answer.
                pause = (min(ended) + window - now) if ended else None
                if self.sleep is time.sleep:
                    self._cond.wait(pause)
                else:  # a test's fake clock: its sleep moves time on
                    self._cond.release()
                    try:
                        self.sleep(pause if pause is not None else window)
                    finally:
                        self._cond.acquire()

    def release(self, slot: Slot) -> None:
        if self.rate.calls <= 0:  # no window, so nobody waits for this slot to leave it
            slot.done = self.clock()
            return
        with self._cond:
            slot.done = self.clock()
            self._cond.notify_all()
