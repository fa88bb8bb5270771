"""The UI's one door to the core: flows behind a lock (one writer), plus the read-only facts screens need."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from locker.config import StationConfig
from locker.flows import Flows
from locker.model import AlarmKind, Compartment, CompartmentState
from locker.ports import Clock

T = TypeVar("T")
_OUT = (CompartmentState.DISABLED, CompartmentState.FAULTY)


class Station:
    """Serialises every call into the flows (route threads, the ticker and scan callbacks share it)."""

    def __init__(self, flows: Flows, config: StationConfig, clock: Clock, lock: threading.RLock | None = None) -> None:
        self.flows = flows
        self.config = config
        self.clock = clock
        self._lock = lock or threading.RLock()  # a test rig passes the lock its own flow calls take
        self.maintenance = False  # set by a remote command: the start screen says "out of service"
        # While the station waits for an admin at the hub to approve it, the start screen shows this code.
        self.enrollment_code: str | None = None

    @contextmanager
    def locked(self) -> Iterator[Flows]:
        with self._lock:
            yield self.flows

    def call(self, fn: Callable[[Flows], T]) -> T:
        with self._lock:
            return fn(self.flows)

    def compartments(self) -> list[Compartment]:
        return self.call(lambda f: f.ctx.store.compartments())

    def compartment(self, number: int) -> Compartment:
        return self.call(lambda f: f.ctx.store.compartment(number))

    def alarms(self) -> list[tuple[AlarmKind, int | None, str, float]]:
        return self.call(lambda f: f.ctx.store.open_alarms())

    def camera_failed(self) -> bool:
        return bool(self.call(lambda f: f.health.failed()))

    def out_of_service(self) -> bool:
        """Maintenance mode, no compartment can be opened (all out of service), or a lock board is offline."""
        if self.maintenance:
            return True
        comps = self.compartments()
        if all(c.state in _OUT for c in comps):
            return True
        return any(kind == AlarmKind.BOARD_OFFLINE for kind, _c, _b, _t in self.alarms())
