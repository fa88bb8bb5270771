"""Injectable communication faults for board simulators: random rates plus one-shot faults for the next frame."""

from __future__ import annotations

import collections
import enum
import random
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Faults:
    """Random communication faults. Door faults (jam, stuck sensor, forced door, silent board) live on the Wall."""

    drop_rate: float = 0.0  # each request and each reply is lost with this probability
    corrupt_rate: float = 0.0  # a reply goes out with a wrong check byte
    late_rate: float = 0.0  # a reply goes out ``late_s`` late
    late_s: float = 0.5

    def __post_init__(self) -> None:
        for name in ("drop_rate", "corrupt_rate", "late_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within 0..1")


class OneShot(enum.StrEnum):
    """A fault applied to the next request that reaches a board."""

    DROP_REQUEST = "drop_request"  # the board never sees it (and does nothing)
    DROP_REPLY = "drop_reply"  # the board acts but its reply is lost
    CORRUPT_REPLY = "corrupt_reply"
    LATE_REPLY = "late_reply"


class FaultPlan:
    """Decides, frame by frame, which fault happens (seeded, thread-safe)."""

    def __init__(self, faults: Faults | None = None, *, seed: int = 0) -> None:
        self._faults = faults or Faults()
        self._rng = random.Random(seed)
        self._queue: collections.deque[OneShot] = collections.deque()
        self._lock = threading.Lock()

    @property
    def faults(self) -> Faults:
        return self._faults

    def update(self, faults: Faults) -> None:
        with self._lock:
            self._faults = faults

    def queue(self, fault: OneShot) -> None:
        with self._lock:
            self._queue.append(fault)

    def next_request(self) -> set[OneShot]:
        """Draw the faults for one request/reply exchange."""
        with self._lock:
            f = self._faults
            out: set[OneShot] = set()
            if self._queue:
                out.add(self._queue.popleft())
            if self._rng.random() < f.drop_rate:
                out.add(OneShot.DROP_REQUEST)
            if self._rng.random() < f.drop_rate:
                out.add(OneShot.DROP_REPLY)
            if self._rng.random() < f.corrupt_rate:
                out.add(OneShot.CORRUPT_REPLY)
            if self._rng.random() < f.late_rate:
                out.add(OneShot.LATE_REPLY)
            return out
