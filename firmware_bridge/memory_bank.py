"""An in-process lock bank with door physics, for core tests and headless runs (no serial bytes)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from locker.errors import BoardUnavailable, HardwareError
from locker.model import DoorState
from locker.ports import Clock, DoorEvent, DoorEventKind, DoorReading, UnlockResult


@dataclass
class _Door:
    open: bool = False
    item: bool = False
    jammed: bool = False
    pulses: int = 0
    expect_open: bool = False


@dataclass
class MemoryLockBank:
    """Implements locker.ports.LockBank. An unlocked door springs open at once unless jammed; closing, forcing,
    and putting or taking items are actions of the people in front of it (the test or scenario)."""

    numbers: Iterable[int]
    clock: Clock
    item_sensors: bool = True
    silent: bool = False
    safe_calls: int = 0
    doors: dict[int, _Door] = field(init=False)
    history: list[tuple[float, int, str]] = field(init=False, default_factory=list)
    _events: list[DoorEvent] = field(init=False, default_factory=list)
    _cv: threading.Condition = field(init=False, default_factory=threading.Condition)

    def __post_init__(self) -> None:
        self.doors = {n: _Door() for n in self.numbers}

    def _door(self, number: int) -> _Door:
        if self.silent:
            raise BoardUnavailable("simulated board does not answer")
        try:
            return self.doors[number]
        except KeyError:
            raise BoardUnavailable(f"no lock for compartment {number}") from None

    def _emit(self, kind: DoorEventKind, number: int) -> None:
        with self._cv:
            self._events.append(DoorEvent(kind, number, self.clock.now()))
            self._cv.notify_all()
        self.history.append((self.clock.now(), number, kind.value))

    # -- LockBank -----------------------------------------------------------------------------------------
    def unlock(self, compartment: int, confirm_s: float) -> UnlockResult:
        t0 = time.perf_counter()
        d = self._door(compartment)
        d.pulses += 1
        self.history.append((self.clock.now(), compartment, "pulse"))
        if not d.jammed and not d.open:
            d.open = True
            self._emit(DoorEventKind.OPENED, compartment)
        return UnlockResult(compartment, d.open, (time.perf_counter() - t0) * 1000)

    def read(self, compartment: int) -> DoorReading:
        d = self._door(compartment)
        return DoorReading(DoorState.OPEN if d.open else DoorState.CLOSED, d.item if self.item_sensors else None)

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

    # -- what people do -----------------------------------------------------------------------------------
    def close(self, number: int) -> None:
        d = self.doors[number]
        if d.open:
            d.open = False
            self._emit(DoorEventKind.CLOSED, number)

    def force(self, number: int) -> None:
        d = self.doors[number]
        if not d.open:
            d.open = True
            self._emit(DoorEventKind.OPENED_UNCOMMANDED, number)

    def put_item(self, number: int) -> None:
        self.doors[number].item = True

    def take_item(self, number: int) -> None:
        self.doors[number].item = False

    def jam(self, number: int, jammed: bool = True) -> None:
        self.doors[number].jammed = jammed
