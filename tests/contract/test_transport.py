"""The serial transport over a real pseudo-terminal: retries, no blind unlock retries, offline, gap, logging."""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from firmware_bridge.errors import FrameError, NoReply, TransportError
from firmware_bridge.link import LinkListener, LinkPolicy, LinkState
from firmware_bridge.protocols import kerong_cu16, kerong_cu48
from firmware_bridge.registry import DriverOptions, make_driver
from firmware_bridge.serial_drivers import KerongCu16Driver, KerongCu48Driver
from firmware_bridge.sim.faults import Faults, OneShot
from firmware_bridge.sim.kerong_cu16 import KerongCu16Sim
from firmware_bridge.sim.kerong_cu48 import KerongCu48Sim
from firmware_bridge.sim.wall import SimEvent, Wall
from firmware_bridge.transport import SerialPort, Transport, open_port
from locker.clock import ManualClock
from locker.config import BusConfig, Polarity
from locker.errors import ConfigError
from locker.model import DoorState

BUS = "bus0"
# A reply on a pty takes milliseconds: a 1 s reply timeout survives a loaded machine, and tests that expect
# silence wait it out. A late reply comes LATE_S after its request: well after the driver has given up.
TIMEOUT_S = 1.0
LATE_S = 1.5
WAIT_S = 20.0  # deadline for a state a simulator thread brings about: the wait ends as soon as it is there


@pytest.fixture
def wall() -> Wall:
    w = Wall(spring_delay_s=0.005)
    w.add_board(BUS, 0, 48)
    return w


@pytest.fixture
def cu48(wall: Wall) -> Iterator[KerongCu48Sim]:
    sim = KerongCu48Sim(wall, BUS, faults=Faults(late_s=LATE_S))
    sim.start()
    yield sim
    sim.stop()


def transport(
    port: str | SerialPort,
    *,
    retries: int = 2,
    gap_s: float = 0.0,
    listener: LinkListener | None = None,
    timeout_s: float = TIMEOUT_S,
    clock: Callable[[], float] = time.monotonic,
) -> Transport:
    """A transport on ``port`` (a path, opened here, or an open port) with a short probe interval."""
    policy = LinkPolicy(read_retries=retries, backoff_s=0.001, offline_after=2, probe_interval_s=0.05)
    raw = open_port(port, baud=19200, timeout_s=timeout_s) if isinstance(port, str) else port
    return Transport(
        raw, name=BUS, timeout_s=timeout_s, gap_s=gap_s, policy=policy, on_link_change=listener, clock=clock
    )


def rx(wall: Wall, frame: bytes) -> int:
    return sum(1 for r in wall.recorder.records(SimEvent.RX) if r.detail == frame.hex(" "))


def wait_until(done: Callable[[], bool], what: str, within: float = WAIT_S) -> None:
    """Return as soon as ``done()``; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not done():
        assert time.monotonic() < deadline, f"not within {within} s: {what}"
        time.sleep(0.002)


def test_status_read_is_retried_after_a_lost_reply(cu48: KerongCu48Sim, wall: Wall) -> None:
    drv = KerongCu48Driver(transport(cu48.port), polarity=Polarity.OPEN_HIGH)
    cu48.queue_fault(OneShot.DROP_REPLY)
    assert drv.status(0).doors[1] is DoorState.CLOSED
    assert rx(wall, kerong_cu48.encode_status(0)) == 2
    drv.close()


def test_unlock_is_never_retried(cu48: KerongCu48Sim, wall: Wall) -> None:
    drv = KerongCu48Driver(transport(cu48.port, retries=5), polarity=Polarity.OPEN_HIGH)
    cu48.queue_fault(OneShot.DROP_REQUEST)
    with pytest.raises(NoReply):
        drv.pulse(0, 5)
    wait_until(lambda: bool(wall.recorder.records(SimEvent.DROPPED_REQUEST)), "the request is dropped")
    assert rx(wall, kerong_cu48.encode_open(0, 5)) == 1
    assert not wall.recorder.records(SimEvent.UNLOCK)  # the board never saw it
    assert not wall.is_open(BUS, 0, 5)
    cu48.queue_fault(OneShot.DROP_REPLY)  # the board acts, its answer is lost: reported, door opens anyway
    with pytest.raises(NoReply):
        drv.pulse(0, 5)
    wait_until(lambda: bool(wall.recorder.records(SimEvent.DROPPED_REPLY)), "the reply is dropped")
    assert rx(wall, kerong_cu48.encode_open(0, 5)) == 2  # one request per pulse: none was repeated
    assert len(wall.recorder.records(SimEvent.UNLOCK)) == 1
    wait_until(lambda: wall.is_open(BUS, 0, 5), "the door springs open")
    assert drv.status(0).doors[5] is DoorState.OPEN
    drv.close()


def test_corrupted_reply_is_a_frame_error(cu48: KerongCu48Sim) -> None:
    drv = KerongCu48Driver(transport(cu48.port, retries=0), polarity=Polarity.OPEN_HIGH)
    cu48.queue_fault(OneShot.CORRUPT_REPLY)
    with pytest.raises(FrameError, match="check byte"):
        drv.status(0)
    assert drv.status(0).board == 0
    drv.close()


def test_late_reply_is_flushed_before_the_next_request(cu48: KerongCu48Sim, wall: Wall) -> None:
    raw = open_port(cu48.port, baud=19200, timeout_s=TIMEOUT_S)
    drv = KerongCu48Driver(transport(raw, retries=0), polarity=Polarity.OPEN_HIGH)
    cu48.queue_fault(OneShot.LATE_REPLY)
    with pytest.raises(NoReply):
        drv.status(0)  # the driver gives up after TIMEOUT_S; the reply comes LATE_S after the request
    stale = len(kerong_cu48.encode_status_reply(0, (False,) * 48))
    wait_until(lambda: raw.in_waiting >= stale, "the late (now stale) reply has arrived in the input buffer")
    wall.force_open(BUS, 0, 3)
    assert drv.status(0).doors[3] is DoorState.OPEN  # the fresh reply, not the stale one
    drv.close()


def test_gap_between_requests(cu48: KerongCu48Sim, wall: Wall) -> None:
    drv = KerongCu48Driver(transport(cu48.port, gap_s=0.03), polarity=Polarity.OPEN_HIGH)
    for _ in range(3):
        drv.status(0)
    times = [r.t for r in wall.recorder.records(SimEvent.RX)]
    assert all(b - a >= 0.029 for a, b in itertools.pairwise(times))
    drv.close()


def test_frames_are_logged_in_hex_at_debug(cu48: KerongCu48Sim, caplog: pytest.LogCaptureFixture) -> None:
    drv = KerongCu48Driver(transport(cu48.port), polarity=Polarity.OPEN_HIGH)
    with caplog.at_level(logging.DEBUG, logger="firmware_bridge.transport"):
        drv.status(0)
    text = caplog.text
    assert "tx 02 00 00 60 03 65" in text
    assert "rx 02 00 00 75 06 00 00 00 00 00 00 7d" in text
    drv.close()


def test_link_changes_are_reported(cu48: KerongCu48Sim) -> None:
    seen: list[tuple[int, LinkState]] = []
    clock = ManualClock()  # the transport's clock: the probe interval passes when the test says so
    tr = transport(cu48.port, retries=0, listener=lambda b, s: seen.append((b, s)), clock=clock.now)
    drv = KerongCu48Driver(tr, polarity=Polarity.OPEN_HIGH)
    drv.status(0)
    cu48.set_silent(0)
    for _ in range(2):
        with pytest.raises(NoReply):
            drv.status(0)
    assert tr.link(0) is LinkState.OFFLINE
    cu48.set_silent(0, False)
    clock.advance(1.0)  # past the probe interval (0.05 s)
    drv.status(0)
    assert seen == [(0, LinkState.ONLINE), (0, LinkState.OFFLINE), (0, LinkState.ONLINE)]
    drv.close()


def test_one_transaction_at_a_time(cu48: KerongCu48Sim) -> None:
    drv = KerongCu48Driver(transport(cu48.port), polarity=Polarity.OPEN_HIGH)
    failures: list[BaseException] = []

    def hammer() -> None:
        for _ in range(50):
            try:
                drv.status(0)
            except FrameError as exc:  # interleaved frames would show up as bad frames
                failures.append(exc)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    drv.close()


def test_cu16_unlock_accepts_a_board_that_stays_silent(wall: Wall) -> None:
    w = Wall(spring_delay_s=0.005)
    w.add_board(BUS, 3, 16, item_sensors=True)
    with KerongCu16Sim(w, BUS, unlock_reply=False) as sim:
        drv = KerongCu16Driver(transport(sim.port), polarity=Polarity.OPEN_HIGH)
        drv.pulse(3, 16)  # returns after the reply timeout: silence is an answer here
        wait_until(lambda: rx(w, kerong_cu16.encode_unlock(3, 16)) > 0, "the board receives the unlock")
        assert rx(w, kerong_cu16.encode_unlock(3, 16)) == 1
        wait_until(lambda: w.is_open(BUS, 3, 16), "the door springs open")
        assert drv.status(3).doors[16] is DoorState.OPEN
        drv.close()


def test_wire_time_follows_the_baud_rate(wall: Wall) -> None:
    with KerongCu48Sim(wall, BUS, baud=9600) as sim:
        drv = KerongCu48Driver(transport(sim.port), polarity=Polarity.OPEN_HIGH)
        t0 = time.monotonic()
        drv.status(0)
        assert time.monotonic() - t0 >= (6 + 12) * 10 / 9600
        drv.close()


def test_port_errors_are_transport_errors(cu48: KerongCu48Sim) -> None:
    with pytest.raises(TransportError):
        open_port("/dev/does-not-exist", baud=9600, timeout_s=0.05)
    with pytest.raises(TransportError, match="RS485"):
        open_port(cu48.port, baud=9600, timeout_s=0.05, rs485_rts=True)  # a pty has no kernel RS485
    tr = transport(cu48.port)
    tr.close()
    with pytest.raises(TransportError, match="closed"):
        KerongCu48Driver(tr, polarity=Polarity.OPEN_HIGH).status(0)


def test_make_driver(cu48: KerongCu48Sim) -> None:
    bus = BusConfig(name=BUS, driver="kerong-cu48", port=cu48.port, timeout_ms=int(TIMEOUT_S * 1000))
    drv = make_driver(bus, DriverOptions())
    assert drv.name == "kerong-cu48"
    assert drv.scan(range(3)) == [0]
    drv.close()
    with pytest.raises(ConfigError, match="not available"):
        make_driver(BusConfig(name=BUS, driver="nonsense", port=cu48.port))


def test_simulator_stops_cleanly(wall: Wall) -> None:
    sim = KerongCu48Sim(wall, BUS)
    port = sim.start()
    fds_before = set(os.listdir("/proc/self/fd"))
    sim.stop()
    sim.stop()
    assert len(set(os.listdir("/proc/self/fd"))) <= len(fds_before) - 4
    assert not any(t.name == f"sim-{BUS}" for t in threading.enumerate())
    assert port and sim.error is None
