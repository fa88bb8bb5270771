"""The in-process lock bank runs on the simulated wall's physics: what people do there arrives as door events."""

from __future__ import annotations

import pytest

from firmware_bridge.sim.memory_bank import MemoryLockBank
from firmware_bridge.sim.wall import SimEvent
from locker.clock import ManualClock
from locker.errors import BoardUnavailable
from locker.model import DoorState
from locker.ports import DoorEventKind, DoorReading


def test_pulses_people_and_sensors_go_through_the_wall() -> None:
    clock = ManualClock(100.0)
    bank = MemoryLockBank([1, 2, 3], clock)
    assert bank.unlock(2, 2.0).opened and bank.is_open(2)
    clock.advance(5)
    bank.put_item(2)
    bank.close(2)
    bank.force(3)
    events = [(e.kind, e.compartment, e.at) for e in bank.poll_events(0)]
    assert events == [
        (DoorEventKind.OPENED, 2, 100.0),
        (DoorEventKind.CLOSED, 2, 105.0),
        (DoorEventKind.OPENED_UNCOMMANDED, 3, 105.0),
    ]
    assert bank.read(2) == DoorReading(DoorState.CLOSED, True)
    bank.stick_sensor(2, True)  # a stuck door switch reads open although the door is shut
    assert bank.read(2).door is DoorState.OPEN and not bank.is_open(2)
    assert next(r.event for r in bank.wall.recorder.records() if r.where == "memory/0/2") is SimEvent.UNLOCK


def test_a_jammed_lock_counts_the_pulse_and_stays_shut() -> None:
    bank = MemoryLockBank([1], ManualClock(0.0))
    bank.jam(1)
    assert not bank.unlock(1, 2.0).opened
    assert bank.pulses(1) == 1 and not bank.is_open(1) and bank.poll_events(0) == []


def test_a_silent_board_and_an_unknown_lock_are_unavailable() -> None:
    bank = MemoryLockBank([1, 3], ManualClock(0.0), item_sensors=False)
    assert bank.read(1).item is None
    with pytest.raises(BoardUnavailable):
        bank.unlock(2, 2.0)  # 2 is not a compartment of this station
    bank.silence(True)
    assert isinstance(bank.read_many([1, 3])[3], BoardUnavailable)
    with pytest.raises(BoardUnavailable):
        bank.unlock(1, 2.0)
    bank.silence(False)
    assert bank.read(1).door is DoorState.CLOSED
