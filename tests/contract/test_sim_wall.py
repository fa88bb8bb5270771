"""The shared wall model: spring delay, jams, closing, forced doors, stuck sensors, power, records."""

from __future__ import annotations

import dataclasses

import pytest

from firmware_bridge.registry import make_driver
from firmware_bridge.sim.registry import make_simulator
from firmware_bridge.sim.wall import DoorPhase, SimError, SimEvent, Wall
from locker.config import BusConfig


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def wall(clock: FakeClock) -> Wall:
    w = Wall(spring_delay_s=0.5, clock=clock)
    w.add_board("b", 1, 4, item_sensors=True)
    return w


def test_unlocked_door_springs_open_after_the_delay(wall: Wall, clock: FakeClock) -> None:
    wall.unlock("b", 1, 2)
    assert wall.phase("b", 1, 2) is DoorPhase.RELEASED
    clock.t += 0.4
    assert not wall.sensed_open("b", 1, 2)
    clock.t += 0.2
    assert wall.sensed_open("b", 1, 2) and wall.is_open("b", 1, 2)
    opened = wall.recorder.records(SimEvent.DOOR_OPENED)
    assert [(r.t, r.where) for r in opened] == [(100.5, "b/1/2")]
    wall.close_door("b", 1, 2)
    assert not wall.is_open("b", 1, 2)


def test_jammed_lock_stays_shut(wall: Wall, clock: FakeClock) -> None:
    wall.jam("b", 1, 1)
    wall.unlock("b", 1, 1)
    clock.t += 5
    assert not wall.is_open("b", 1, 1)
    wall.jam("b", 1, 1, False)
    wall.unlock("b", 1, 1)
    clock.t += 1
    assert wall.is_open("b", 1, 1)


def test_forced_door_items_and_stuck_sensors(wall: Wall) -> None:
    wall.force_open("b", 1, 3)
    assert wall.sensed_open("b", 1, 3)
    assert wall.recorder.records(SimEvent.DOOR_FORCED)[0].where == "b/1/3"
    wall.set_item("b", 1, 3, True)
    assert wall.sensed_item("b", 1, 3)
    wall.stick_sensor("b", 1, 3, False)
    wall.stick_sensor("b", 1, 3, False, item=True)
    assert not wall.sensed_open("b", 1, 3) and wall.is_open("b", 1, 3)
    assert not wall.sensed_item("b", 1, 3) and wall.has_item("b", 1, 3)
    wall.stick_sensor("b", 1, 3, None)
    assert wall.sensed_open("b", 1, 3)


def test_power_and_unknown_locks(wall: Wall) -> None:
    assert wall.is_powered("b", 1)
    wall.set_powered("b", 1, False)
    assert not wall.is_powered("b", 1)
    assert not wall.is_powered("b", 9)
    with pytest.raises(SimError):
        wall.unlock("b", 1, 5)
    with pytest.raises(SimError):
        wall.add_board("b", 1, 4)
    views = wall.snapshot()
    assert len(views) == 4 and not views[0].powered and views[0].item_sensor


def test_make_simulator_for_a_configured_bus() -> None:
    w = Wall(spring_delay_s=0.0)
    w.add_board("bus0", 2, 16, item_sensors=True)
    bus = BusConfig(name="bus0", driver="kerong-cu16", port="placeholder", timeout_ms=50)
    with make_simulator(w, bus) as sim:
        drv = make_driver(dataclasses.replace(bus, port=sim.port))
        drv.pulse(2, 4)
        assert drv.status(2).doors[4].value == "open"
        drv.close()
