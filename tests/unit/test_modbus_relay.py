"""The modbus-relay driver against pymodbus's own server playing the boards on a real pseudo-terminal."""

from __future__ import annotations

import logging
import os
import select
import time
from collections.abc import Iterator

import pytest
from pymodbus.framer import FramerRTU

from firmware_bridge.errors import BoardOffline, FrameError, NoReply, TransportError
from firmware_bridge.modbus_relay import ModbusRelayDriver, flash_value
from firmware_bridge.sim.faults import FaultPlan, Faults, OneShot
from firmware_bridge.sim.modbus_sim import ModbusRelaySim, PtyLink
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


# -- the line between driver and board: faults injected by the simulator's pty bridge ----


def lossy_driver(sim: ModbusRelaySim, timeout_ms: int = 80) -> ModbusRelayDriver:
    return ModbusRelayDriver(bus_for(sim, timeout_ms=timeout_ms), channels=8, boards=[1, 2], policy=POLICY)


def test_dropped_flash_on_request_is_reported_and_never_resent(sim: ModbusRelaySim) -> None:
    d = lossy_driver(sim)
    try:
        sim.queue_fault(OneShot.DROP_REQUEST)
        with pytest.raises(NoReply):
            d.pulse(1, 3)
        time.sleep(0.1)
        assert sim.pulses() == []  # lost on the line, and not sent again behind the caller's back
        assert not sim.door_open(1, 3)
        assert [r.detail for r in sim.records(SimEvent.DROPPED_REQUEST)] == ["01 05 02 02 00 07 2c 70"]
        assert d.status(1).doors[3] is CLOSED
    finally:
        d.close()


def test_dropped_flash_on_reply_is_reported_but_the_board_acted_once(sim: ModbusRelaySim) -> None:
    d = lossy_driver(sim)
    try:
        sim.queue_fault(OneShot.DROP_REPLY)
        with pytest.raises(NoReply):
            d.pulse(1, 3)
        assert sim.pulses() == [(1, 3, 700)]  # exactly one flash: an unlock is never repeated automatically
        wait_for(d, 1, 3, OPEN)
        assert [r.where for r in sim.records(SimEvent.DROPPED_REPLY)] == ["bus0/1"]
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
        [corrupted] = sim.records(SimEvent.CORRUPTED_REPLY)
        frame = bytes.fromhex(corrupted.detail)
        assert FramerRTU.compute_CRC(frame[:-2]) != int.from_bytes(frame[-2:], "big")
        assert d.status(1).doors[2] is OPEN  # the next exchange is clean again
    finally:
        d.close()


def test_late_reply_is_not_taken_for_the_answer_to_another_request(sim: ModbusRelaySim) -> None:
    d = lossy_driver(sim, timeout_ms=100)
    try:
        sim.force_open(1, 1)  # door bit 1 set, relay bit 1 clear: a mix-up would be visible
        sim.set_faults(Faults(late_s=0.15))
        sim.queue_fault(OneShot.LATE_REPLY)
        with pytest.raises(NoReply):
            d.status(1)  # the FC 02 reply is still on its way when the driver gives up
        with pytest.raises(FrameError, match="answered function 2 to function 1"):
            d.relays(1)  # ... and arrives while the driver waits for its FC 01 reply
        assert [r.where for r in sim.records(SimEvent.LATE_REPLY)] == ["bus0/1"]
        time.sleep(0.05)
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
    assert len(sim.records(SimEvent.DROPPED_REQUEST)) == 1


def test_a_flash_on_during_a_flash_releases_the_lock_again(sim: ModbusRelaySim, driver: ModbusRelayDriver) -> None:
    driver.pulse(1, 6)
    wait_for(driver, 1, 6, OPEN)
    sim.close_door(1, 6)  # shut while the 700 ms flash still runs
    assert driver.relays(1)[6] is True
    driver.pulse(1, 6)
    wait_for(driver, 1, 6, OPEN)
    assert len(sim.pulses()) == 2


# -- the bridge's framing, seen from raw file descriptors ----


def _read(fd: int, n: int, within: float = 1.0) -> bytes:
    out = b""
    deadline = time.monotonic() + within
    while len(out) < n and time.monotonic() < deadline:
        ready, _w, _x = select.select([fd], [], [], 0.01)
        if ready:
            out += os.read(fd, 4096)
    return out


@pytest.fixture
def link() -> Iterator[tuple[PtyLink, list[tuple[SimEvent, int | None, str]], int, int]]:
    records: list[tuple[SimEvent, int | None, str]] = []
    lnk = PtyLink(plan=FaultPlan(), record=lambda e, u, d: records.append((e, u, d)), listens=lambda u: u == 1)
    lnk.start()
    host = os.open(lnk.host_port, os.O_RDWR | os.O_NOCTTY)
    dev = os.open(lnk.device_port, os.O_RDWR | os.O_NOCTTY)
    try:
        yield lnk, records, host, dev
    finally:
        os.close(host)
        os.close(dev)
        lnk.stop()
    assert lnk.error is None


FLASH_ON_1 = bytes.fromhex("01 05 02 00 00 07 8D B0")
READ_INPUTS_1 = bytes.fromhex("01 02 00 00 00 08 79 CC")


def test_link_forwards_a_frame_written_in_pieces_as_one(
    link: tuple[PtyLink, list[tuple[SimEvent, int | None, str]], int, int],
) -> None:
    lnk, records, host, dev = link
    os.write(host, FLASH_ON_1[:3])
    os.write(host, FLASH_ON_1[3:])
    assert _read(dev, 8) == FLASH_ON_1
    reply = bytes.fromhex("01 02 01 04 A0 4B")  # FC 02 reply: length from its byte count
    lnk.plan.queue(OneShot.CORRUPT_REPLY)
    os.write(host, READ_INPUTS_1)
    assert _read(dev, 8) == READ_INPUTS_1
    os.write(dev, reply)
    got = _read(host, 6)
    assert len(got) == 6 and got != reply
    assert bin(int.from_bytes(got, "big") ^ int.from_bytes(reply, "big")).count("1") == 1  # one bit flipped
    assert [(e, u) for e, u, _d in records] == [(SimEvent.CORRUPTED_REPLY, 1)]


def test_link_passes_unframeable_bytes_after_silence_untouched(
    link: tuple[PtyLink, list[tuple[SimEvent, int | None, str]], int, int],
) -> None:
    lnk, records, host, dev = link
    lnk.plan.queue(OneShot.DROP_REQUEST)
    os.write(host, b"\x01\x2b\x0e\x01")  # FC 43 (device identification): not a frame the bridge can delimit
    assert _read(dev, 4) == b"\x01\x2b\x0e\x01"
    assert records == [(SimEvent.GARBAGE, None, "unframed 01 2b 0e 01")]
    os.write(host, FLASH_ON_1)  # the queued fault waited for a real request
    assert _read(dev, 8, within=0.2) == b""
    assert records[-1] == (SimEvent.DROPPED_REQUEST, 1, FLASH_ON_1.hex(" "))
