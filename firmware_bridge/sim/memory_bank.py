"""An in-process lock bank on the simulated wall's physics, for core tests and headless runs (no serial bytes)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence

from firmware_bridge.sim.hands import Hands
from firmware_bridge.sim.wall import LockKey, Record, SimEvent, Wall
from locker.errors import BoardUnavailable, HardwareError
from locker.model import DoorState
from locker.ports import Clock, DoorEvent, DoorEventKind, DoorReading, UnlockResult

BUS = "memory"  # the one simulated board's bus name on the wall
BOARD = 0

_EVENTS = {
    SimEvent.DOOR_OPENED: DoorEventKind.OPENED,
    SimEvent.DOOR_CLOSED: DoorEventKind.CLOSED,
    SimEvent.DOOR_FORCED: DoorEventKind.OPENED_UNCOMMANDED,
}


class MemoryLockBank(Hands):
    """Implements locker.ports.LockBank straight on a ``Wall`` (one board, lock n = compartment n): no frames, no
    polling, so no timing. Doors spring open at once (spring delay 0) unless jammed; what people do (close,
    force, fill, jam, silence: the ``Hands``) reaches the bank as the wall records it, as door events stamped
    with ``clock``'s time."""

    def __init__(self, numbers: Iterable[int], clock: Clock, item_sensors: bool = True) -> None:
        self.numbers = tuple(sorted(numbers))
        self.clock = clock
        self.item_sensors = item_sensors
        self.safe_calls = 0
        self.wall = Wall(spring_delay_s=0.0, clock=clock.now)
        self.wall.add_board(BUS, BOARD, max(self.numbers, default=0), item_sensors=item_sensors)
        self._known = frozenset(self.numbers)
        self._prefix = f"{BUS}/{BOARD}/"
        self._events: list[DoorEvent] = []
        self._cv = threading.Condition()
        self.wall.recorder.subscribe(self._heard)

    def key(self, number: int) -> LockKey:
        if number not in self._known:
            raise BoardUnavailable(f"no lock for compartment {number}")
        return LockKey(BUS, BOARD, number)

    def _answering(self, number: int) -> LockKey:
        key = self.key(number)
        if not self.wall.is_powered(BUS, BOARD):
            raise BoardUnavailable("simulated board does not answer")
        return key

    def _heard(self, record: Record) -> None:
        kind = _EVENTS.get(record.event)
        if kind is None or not record.where.startswith(self._prefix):
            return
        with self._cv:
            self._events.append(DoorEvent(kind, int(record.where[len(self._prefix) :]), record.t))
            self._cv.notify_all()

    # -- LockBank -----------------------------------------------------------------------------------------
    def unlock(self, compartment: int, confirm_s: float) -> UnlockResult:
        t0 = time.perf_counter()
        key = self._answering(compartment)
        self.wall.unlock(*key)
        opened = self.wall.sensed_open(*key)  # spring delay 0: open now, unless the lock is jammed
        return UnlockResult(compartment, opened, (time.perf_counter() - t0) * 1000)

    def read(self, compartment: int) -> DoorReading:
        key = self._answering(compartment)
        door = DoorState.OPEN if self.wall.sensed_open(*key) else DoorState.CLOSED
        return DoorReading(door, self.wall.sensed_item(*key) if self.item_sensors else None)

    def read_many(self, compartments: Sequence[int]) -> dict[int, DoorReading | HardwareError]:
        out: dict[int, DoorReading | HardwareError] = {}
        for n in compartments:
            try:
                out[n] = self.read(n)
            except HardwareError as exc:
                out[n] = exc
        return out

    def poll_events(self, timeout: float) -> Sequence[DoorEvent]:
        with self._cv:
            if not self._events and timeout > 0:
                self._cv.wait(timeout)
            out, self._events = self._events, []
        return out

    def safe_state(self) -> None:
        self.safe_calls += 1
