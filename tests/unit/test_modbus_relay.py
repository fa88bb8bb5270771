"""The modbus-relay driver against pymodbus's own server playing the boards on a real pseudo-terminal."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
from pymodbus.framer import FramerRTU

from firmware_bridge.errors import BoardOffline, FrameError, NoReply, TransportError
from firmware_bridge.link import LinkPolicy, LinkState
from firmware_bridge.modbus_relay import ModbusRelayDriver, flash_value
from firmware_bridge.sim.faults import Faults, OneShot
from firmware_bridge.sim.modbus_sim import ModbusRelaySim
from firmware_bridge.sim.wall import Record, SimEvent, Wall
from locker.clock import ManualClock
from locker.config import BusConfig, Polarity
from locker.model import DoorState

OPEN, CLOSED = DoorState.OPEN, DoorState.CLOSED
POLICY = LinkPolicy(read_retries=0, backoff_s=0.01, offline_after=3, probe_interval_s=0.2)
# Real time passes only on the pty line and in pymodbus's server thread. A reply takes milliseconds there, so a
# reply timeout of 1 s survives a loaded machine; tests that expect silence wait it out.
TIMEOUT_MS = 1000
WAIT_S = 20.0  # deadline for what a simulator thread records: ends as soon as the record is there
# Doors, relays and flash timers run on the test's ManualClock (see the ``sim`` fixture):
SPRING_S = 0.05  # the wall's spring delay
SETTLE_S = 0.1  # advanced after a pulse: past the spring delay, well inside a 700 ms flash


def bus_for(sim: ModbusRelaySim, **kw: object) -> BusConfig:
    settings: dict[str, object] = {
        "name": "bus0",
        "driver": "modbus-relay",
        "port": sim.port,
        "baud": 9600,
        "pulse_ms": 700,
        "gap_ms": 5,
        "timeout_ms": TIMEOUT_MS,
        "polarity": sim.polarity,
    }
    settings.update(kw)
    return BusConfig(**settings)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> ManualClock:
    """The simulated wall's time: spring delays and the boards' flash timers move only when a test advances it."""
    return ManualClock()


@pytest.fixture
def sim(clock: ManualClock) -> Iterator[ModbusRelaySim]:
    with ModbusRelaySim(units=[1, 2], channels=8, wall=Wall(spring_delay_s=SPRING_S, clock=clock.now)) as s:
        yield s


@pytest.fixture
def driver(sim: ModbusRelaySim, clock: ManualClock) -> Iterator[ModbusRelayDriver]:
    """The driver under test; its offline probe interval runs on the same manual clock."""
    d = ModbusRelayDriver(bus_for(sim), channels=8, boards=[1, 2], policy=POLICY, clock=clock.now)
    yield d
    d.close()


def wait_records(sim: ModbusRelaySim, event: SimEvent, count: int = 1, within: float = WAIT_S) -> list[Record]:
    """The simulator's records of ``event`` once there are ``count`` of them (its threads write them)."""
    deadline = time.monotonic() + within
    while len(found := sim.records(event)) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"fewer than {count} {event} records within {within} s: {found}")
        time.sleep(0.002)
    return found


def test_status_reads_every_door_closed(driver: ModbusRelayDriver) -> None:
    status = driver.status(1)
    assert status.board == 1
    assert status.doors == dict.fromkeys(range(1, 9), CLOSED)
    assert status.items == {}


def test_pulse_is_a_board_timed_flash_and_the_door_opens(
    sim: ModbusRelaySim, driver: ModbusRelayDriver, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="firmware_bridge.modbus_relay"):
        driver.pulse(1, 1)
    # lock-boards.md: flash-on relay 0 for 700 ms
    assert "tx 01 05 02 00 00 07 8d b0" in caplog.text
    assert "rx 01 05 02 00 00 07 8d b0" in caplog.text
    assert sim.pulses() == [(1, 1, 700)]
    assert driver.relays(1)[1] is True  # the board switched the relay on for the flash
    assert driver.status(1).doors[1] is CLOSED  # unlatched; the door has not sprung yet
    clock.advance(SETTLE_S)
    assert driver.status(1).doors[1] is OPEN
    assert driver.relays(1)[1] is True  # still inside the 700 ms flash
    assert driver.status(1).doors[2] is CLOSED
    clock.advance(0.7)  # 800 ms after the flash-on: past its end
    assert driver.relays(1)[1] is False  # the board ended the pulse by itself
    events = [r.event for r in sim.records() if r.where == "bus0/1/1"]
    assert events == [SimEvent.UNLOCK, SimEvent.DOOR_OPENED]


def test_closing_is_a_separate_action(sim: ModbusRelaySim, driver: ModbusRelayDriver, clock: ManualClock) -> None:
    driver.pulse(1, 4)
    clock.advance(SETTLE_S)
    assert driver.status(1).doors[4] is OPEN
    sim.close_door(1, 4)
    assert driver.status(1).doors[4] is CLOSED


def test_several_boards_on_one_bus(sim: ModbusRelaySim, driver: ModbusRelayDriver, clock: ManualClock) -> None:
    driver.pulse(2, 8)
    clock.advance(SETTLE_S)
    assert driver.status(2).doors[8] is OPEN
    assert driver.status(1).doors[8] is CLOSED
    assert sim.door_open(2, 8) and not sim.door_open(1, 8)
    assert driver.scan(range(1, 4)) == [1, 2]  # unit 3 stays silent


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


def test_jammed_lock_stays_shut(sim: ModbusRelaySim, driver: ModbusRelayDriver, clock: ManualClock) -> None:
    sim.jam(1, 2)
    driver.pulse(1, 2)
    clock.advance(10.0)  # far past the spring delay and the 700 ms flash
    assert driver.status(1).doors[2] is CLOSED
    assert not sim.door_open(1, 2)
    assert [r.where for r in sim.records(SimEvent.UNLOCK_JAMMED)] == ["bus0/1/2"]  # the pulse arrived, once


def test_forced_door_reads_open_without_a_pulse(sim: ModbusRelaySim, driver: ModbusRelayDriver) -> None:
    sim.force_open(2, 5)
    assert driver.status(2).doors[5] is OPEN
    assert sim.pulses() == []
    assert [r.where for r in sim.records(SimEvent.DOOR_FORCED)] == ["bus0/2/5"]


def test_silent_board_goes_offline_and_recovers_by_itself(
    sim: ModbusRelaySim, driver: ModbusRelayDriver, clock: ManualClock
) -> None:
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
    clock.advance(POLICY.probe_interval_s + 0.05)  # the probe interval has passed
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


# -- the line between driver and board: faults injected by the simulator's pty bridge ----


def lossy_driver(sim: ModbusRelaySim) -> ModbusRelayDriver:
    return ModbusRelayDriver(bus_for(sim), channels=8, boards=[1, 2], policy=POLICY)


def test_dropped_flash_on_request_is_reported_and_never_resent(sim: ModbusRelaySim, clock: ManualClock) -> None:
    d = lossy_driver(sim)
    try:
        sim.queue_fault(OneShot.DROP_REQUEST)
        with pytest.raises(NoReply):
            d.pulse(1, 3)
        # The line is serial: once this read is answered, anything the driver sent before it has been through.
        assert d.status(1).doors[3] is CLOSED
        clock.advance(SETTLE_S)
        assert sim.pulses() == []  # lost on the line, and not sent again behind the caller's back
        assert not sim.door_open(1, 3)
        assert [r.detail for r in sim.records(SimEvent.DROPPED_REQUEST)] == ["01 05 02 02 00 07 2c 70"]
        assert d.status(1).doors[3] is CLOSED
    finally:
        d.close()


def test_dropped_flash_on_reply_is_reported_but_the_board_acted_once(sim: ModbusRelaySim, clock: ManualClock) -> None:
    d = lossy_driver(sim)
    try:
        sim.queue_fault(OneShot.DROP_REPLY)
        with pytest.raises(NoReply):
            d.pulse(1, 3)
        assert [r.where for r in wait_records(sim, SimEvent.DROPPED_REPLY)] == ["bus0/1"]
        assert sim.pulses() == [(1, 3, 700)]  # exactly one flash: an unlock is never repeated automatically
        clock.advance(SETTLE_S)
        assert d.status(1).doors[3] is OPEN
        assert sim.pulses() == [(1, 3, 700)]
    finally:
        d.close()


@pytest.mark.parametrize("what", ["status", "pulse"])
def test_corrupted_reply_is_no_reply_never_a_result(sim: ModbusRelaySim, what: str) -> None:
    d = lossy_driver(sim)
    try:
        sim.force_open(1, 2)
        sim.queue_fault(OneShot.CORRUPT_REPLY)
        with pytest.raises(NoReply):  # the CRC fails: pymodbus discards the frame and waits out the timeout
            if what == "status":
                d.status(1)
            else:
                d.pulse(1, 5)
        [corrupted] = wait_records(sim, SimEvent.CORRUPTED_REPLY)
        frame = bytes.fromhex(corrupted.detail)
        assert FramerRTU.compute_CRC(frame[:-2]) != int.from_bytes(frame[-2:], "big")
        assert d.status(1).doors[2] is OPEN  # the next exchange is clean again
    finally:
        d.close()


# The reply timeout T is 1 s; a late reply arrives LATE_S after it was sent, with T < LATE_S < 2 T: half a second
# after the driver gave up, and half a second before the timeout of the request it sent next.
LATE_S = 1.5


def test_late_reply_is_not_taken_for_the_answer_to_another_request(sim: ModbusRelaySim) -> None:
    d = lossy_driver(sim)
    try:
        sim.force_open(1, 1)  # door bit 1 set, relay bit 1 clear: a mix-up would be visible
        sim.set_faults(Faults(late_s=LATE_S))
        sim.queue_fault(OneShot.LATE_REPLY)
        with pytest.raises(NoReply):
            d.status(1)  # the FC 02 reply is still on its way when the driver gives up
        # The FC 01 reply is lost, so the late FC 02 reply is the only frame on the line (no stray reply is
        # left behind for the exchanges below).
        sim.queue_fault(OneShot.DROP_REPLY)
        with pytest.raises(FrameError, match="answered function 2 to function 1"):
            d.relays(1)  # ... and arrives while the driver waits for its FC 01 reply
        assert [r.where for r in sim.records(SimEvent.LATE_REPLY)] == ["bus0/1"]
        assert [r.where for r in sim.records(SimEvent.DROPPED_REPLY)] == ["bus0/1"]
        assert d.relays(1) == dict.fromkeys(range(1, 9), False)
        assert d.status(1).doors[1] is OPEN
    finally:
        d.close()


def test_faults_are_not_drawn_for_silent_units(sim: ModbusRelaySim, driver: ModbusRelayDriver) -> None:
    sim.queue_fault(OneShot.DROP_REQUEST)
    with pytest.raises(NoReply):
        driver.status(5)  # no such unit: the bus stays silent and the queued fault waits
    assert sim.records(SimEvent.DROPPED_REQUEST) == []
    with pytest.raises(NoReply):
        driver.status(1)
    assert [r.where for r in wait_records(sim, SimEvent.DROPPED_REQUEST)] == ["bus0/1"]


def test_a_flash_on_during_a_flash_releases_the_lock_again(
    sim: ModbusRelaySim, driver: ModbusRelayDriver, clock: ManualClock
) -> None:
    driver.pulse(1, 6)
    clock.advance(SETTLE_S)
    assert driver.status(1).doors[6] is OPEN
    sim.close_door(1, 6)  # shut while the 700 ms flash still runs
    assert driver.relays(1)[6] is True
    driver.pulse(1, 6)
    clock.advance(SETTLE_S)
    assert driver.status(1).doors[6] is OPEN
    assert len(sim.pulses()) == 2
