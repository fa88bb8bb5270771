"""Reports a payload once while it stays in view: repeats within the window are suppressed."""

from __future__ import annotations

import threading

from locker.ports import Clock


class Deduplicator:
    """``accept(text)`` is True for a new payload, False for one seen less than ``window_s`` ago.

    The window slides: a code held in front of the camera is reported once, and again only after it was out
    of view for ``window_s`` seconds. ``window_s = 0`` reports every read.
    """

    def __init__(self, clock: Clock, window_s: float = 3.0) -> None:
        if window_s < 0:
            raise ValueError("window_s must not be negative")
        self._clock = clock
        self._window_s = window_s
        self._last_seen: dict[str, float] = {}
        self._lock = threading.Lock()
        self.suppressed = 0

    def accept(self, text: str) -> bool:
        now = self._clock.now()
        with self._lock:
            self._forget_before(now - self._window_s)
            last = self._last_seen.get(text)
            self._last_seen[text] = now
            if last is not None and now - last < self._window_s:
                self.suppressed += 1
                return False
            return True

    def _forget_before(self, cutoff: float) -> None:
        for text in [t for t, at in self._last_seen.items() if at < cutoff]:
            del self._last_seen[text]
