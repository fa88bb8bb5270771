"""The camera's frame-rate policy: the full rate while something happens in view, a low rate when idle."""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable


class RateMode(enum.Enum):
    IDLE = "idle"  # no motion and no unread code seen for ``hold_s``: the idle rate
    ACTIVE = "active"  # motion or an unread code (a candidate) seen within ``hold_s``: the full rate


class RatePolicy:
    """Tracks the last activity (motion or a code not yet read) and answers the current mode and frame period.

    ``now`` is a monotonic clock in seconds. Thread-safe: the decoder thread reports activity, the capture
    thread asks for the period.
    """

    def __init__(self, full_fps: float, idle_fps: float, hold_s: float, now: Callable[[], float]) -> None:
        if idle_fps <= 0 or full_fps <= 0 or hold_s < 0:
            raise ValueError("frame rates must be positive and the hold time not negative")
        self._full_period = 1.0 / full_fps
        self._idle_period = 1.0 / min(idle_fps, full_fps)
        self._hold_s = hold_s
        self._now = now
        self._lock = threading.Lock()
        self._last_activity: float | None = None

    def note_activity(self) -> None:
        """Something happened in view: the full rate for the next ``hold_s`` seconds."""
        at = self._now()
        with self._lock:
            self._last_activity = at

    @property
    def mode(self) -> RateMode:
        at = self._now()
        with self._lock:
            last = self._last_activity
        if last is not None and at - last < self._hold_s:
            return RateMode.ACTIVE
        return RateMode.IDLE

    @property
    def period(self) -> float:
        """Seconds between frames in the current mode."""
        return self._full_period if self.mode is RateMode.ACTIVE else self._idle_period
