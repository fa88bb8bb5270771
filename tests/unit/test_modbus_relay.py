"""The modbus-relay driver against pymodbus's own server playing the boards on a real pseudo-terminal."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest

from firmware_bridge.errors import BoardOffline, FrameError, NoReply, TransportError
from firmware_bridge.modbus_relay import ModbusRelayDriver, flash_value
from firmware_bridge.sim.modbus_sim import ModbusRelaySim
from firmware_bridge.sim.wall import SimEvent
from firmware_bridge.transport import LinkPolicy, LinkState
from locker.config import BusConfig, Polarity
from locker.model import DoorState

OPEN, CLOSED = DoorState.OPEN, DoorState.CLOSED
POLICY = LinkPolicy(read_retries=0, backoff_s=0.01, offline_after=3, probe_interval_s=0.2)


def bus_for(sim: ModbusRelaySim, **kw: object) -> BusConfig:
    settings: dict[str, object] = {
        "name": "bus0",
        "driver": "modbus-relay",
        "port": sim.port,
        "baud": 9600,
        "pulse_ms": 700,
        "gap_ms": 5,
        "timeout_ms": 80,
        "polarity": sim.polarity,
    }
    settings.update(kw)
    return BusConfig(**settings)  # type: ignore[arg-type]


@pytest.fixture
def sim() -> Iterator[ModbusRelaySim]:
    with ModbusRelaySim(units=[1, 2], channels=8) as s:
        yield s


@pytest.fixture
def driver(sim: ModbusRelaySim) -> Iterator[ModbusRelayDriver]:
    d = ModbusRelayDriver(bus_for(sim), channels=8, boards=[1, 2], policy=POLICY)
    yield d
    d.close()


def wait_for(driver: ModbusRelayDriver, board: int, lock: int, state: DoorState, within: float = 1.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < within:
        if driver.status(board).doors[lock] is state:
            return time.monotonic() - start
    raise AssertionError(f"board {board} lock {lock} did not read {state} within {within} s")


def test_status_reads_every_door_closed(driver: ModbusRelayDriver) -> None:
    status = driver.status(1)
    assert status.board == 1
    assert status.doors == dict.fromkeys(range(1, 9), CLOSED)
    assert status.items == {}


def test_pulse_is_a_board_timed_flash_and_the_door_opens(
    sim: ModbusRelaySim, driver: ModbusRelayDriver, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="firmware_bridge.modbus_relay"):
        driver.pulse(1, 1)
    # lock-boards.md: flash-on relay 0 for 700 ms
    assert "tx 01 05 02 00 00 07 8d b0" in caplog.text
    assert "rx 01 05 02 00 00 07 8d b0" in caplog.text
    wait_for(driver, 1, 1, OPEN)
    assert sim.pulses() == [(1, 1, 700)]
    assert driver.relays(1)[1] is True  # still inside the 700 ms flash
    assert driver.status(1).doors[2] is CLOSED
    time.sleep(0.75)
    assert driver.relays(1)[1] is False  # the board ended the pulse by itself
    events = [r.event for r in sim.records() if r.where == "bus0/1/1"]
    assert events == [SimEvent.UNLOCK, SimEvent.DOOR_OPENED]


def test_closing_is_a_separate_action(sim: ModbusRelaySim, driver: ModbusRelayDriver) -> None:
    driver.pulse(1, 4)
    wait_for(driver, 1, 4, OPEN)
    sim.close_door(1, 4)
    assert driver.status(1).doors[4] is CLOSED


def test_several_boards_on_one_bus(sim: ModbusRelaySim, driver: ModbusRelayDriver) -> None:
    driver.pulse(2, 8)
    wait_for(driver, 2, 8, OPEN)
    assert driver.status(1).doors[8] is CLOSED
    assert sim.door_open(2, 8) and not sim.door_open(1, 8)
    assert driver.scan(range(1, 5)) == [1, 2]


def test_unknown_unit_is_silent(driver: ModbusRelayDriver) -> None:
    with pytest.raises(NoReply):
        driver.status(7)


@pytest.mark.parametrize("polarity", [Polarity.OPEN_HIGH, Polarity.OPEN_LOW])
def test_polarity_both_ways(polarity: Polarity) -> None:
    with ModbusRelaySim(units=[1], polarity=polarity) as s:
        d = ModbusRelayDriver(bus_for(s, polarity=polarity), channels=8)
        try:
            s.force_open(1, 3)
            assert d.status(1).doors == {n: OPEN if n == 3 else CLOSED for n in range(1, 9)}
        finally:
            d.close()
        wrong = Polarity.OPEN_LOW if polarity is Polarity.OPEN_HIGH else Polarity.OPEN_HIGH
        d = ModbusRelayDriver(bus_for(s, polarity=wrong), channels=8)
        try:  # a wrong setting reads every door inverted: commissioning sees it at once
            assert d.status(1).doors == {n: CLOSED if n == 3 else OPEN for n in range(1, 9)}
        finally:
            d.close()


def test_jammed_lock_stays_shut(sim: ModbusRelaySim, driver: ModbusRelayDriver) -> None:
    sim.jam(1, 2)
    driver.pulse(1, 2)
    with pytest.raises(AssertionError):
        wait_for(driver, 1, 2, OPEN, within=0.3)
    assert [r.where for r in sim.records(SimEvent.UNLOCK_JAMMED)] == ["bus0/1/2"]


def test_forced_door_reads_open_without_a_pulse(sim: ModbusRelaySim, driver: ModbusRelayDriver) -> None:
    sim.force_open(2, 5)
    assert driver.status(2).doors[5] is OPEN
    assert sim.pulses() == []
    assert [r.where for r in sim.records(SimEvent.DOOR_FORCED)] == ["bus0/2/5"]


def test_silent_board_goes_offline_and_recovers_by_itself(sim: ModbusRelaySim, driver: ModbusRelayDriver) -> None:
    sim.set_silent(1)
    with pytest.raises(NoReply):
        driver.status(1)
    with pytest.raises(NoReply):
        driver.status(1)
    with pytest.raises(NoReply):
        driver.status(1)  # third failure in a row: now offline
    assert driver.link(1) is LinkState.OFFLINE
    ignored = len(sim.records(SimEvent.IGNORED))
    with pytest.raises(BoardOffline):
        driver.pulse(1, 1)  # refused without touching the bus
    assert len(sim.records(SimEvent.IGNORED)) == ignored
    assert driver.status(2).doors[1] is CLOSED  # the other board is unaffected
    sim.set_silent(1, silent=False)
    time.sleep(0.25)  # probe_s
    assert driver.status(1).doors[1] is CLOSED
    assert driver.link(1) is LinkState.ONLINE
    assert sim.pulses() == []


def test_safe_state_switches_every_relay_off(sim: ModbusRelaySim) -> None:
    d = ModbusRelayDriver(bus_for(sim, pulse_ms=5000), channels=8, boards=[1, 2], policy=POLICY)
    try:
        d.pulse(1, 6)
        d.pulse(2, 1)
        assert d.relays(1)[6] and d.relays(2)[1]
        d.safe_state()
        assert not any(d.relays(1).values())
        assert not any(d.relays(2).values())
    finally:
        d.close()


def test_safe_state_tries_every_board_then_raises(sim: ModbusRelaySim) -> None:
    d = ModbusRelayDriver(bus_for(sim, pulse_ms=5000), channels=8, boards=[1, 2], policy=POLICY)
    try:
        d.pulse(2, 3)
        sim.set_silent(1)
        with pytest.raises(NoReply):
            d.safe_state()
        assert not any(d.relays(2).values())
    finally:
        d.close()


def test_refusal_is_a_frame_error_and_the_board_stays_online(sim: ModbusRelaySim) -> None:
    d = ModbusRelayDriver(bus_for(sim), channels=16)  # the simulated board has 8 relays
    try:
        with pytest.raises(FrameError, match="exception"):
            d.pulse(1, 12)
        assert d.link(1) is LinkState.ONLINE
        with pytest.raises(ValueError, match="lock 17"):
            d.pulse(1, 17)
    finally:
        d.close()


def test_missing_port_is_a_transport_error() -> None:
    bus = BusConfig(name="bus0", driver="modbus-relay", port="/dev/does-not-exist")
    with pytest.raises(TransportError):
        ModbusRelayDriver(bus)


def test_flash_value_rounds_up_to_100_ms() -> None:
    assert [flash_value(ms) for ms in (50, 100, 101, 500, 700, 5000)] == [1, 1, 2, 5, 7, 50]
