"""Clocks: the system clock held above a stored time floor (the Pi has no real-time clock)."""

from __future__ import annotations

import threading
import time


class SystemClock:
    """Wall time that never goes below ``floor`` (the newest trusted time seen, e.g. a manifest's issue time)."""

    def __init__(self, floor: float = 0.0) -> None:
        self._floor = floor
        self._lock = threading.Lock()

    def raise_floor(self, t: float) -> None:
        with self._lock:
            self._floor = max(self._floor, t)

    @property
    def floor(self) -> float:
        return self._floor

    def now(self) -> float:
        return max(time.time(), self._floor)


class ManualClock:
    """A clock that only moves when told to: for simulations, the demo scenario and tests."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._t = start

    def now(self) -> float:
        return self._t

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not go back")
        self._t += seconds
