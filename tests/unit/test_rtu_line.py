"""The pty line the Modbus simulator sits behind (firmware_bridge/sim/rtu_line.py): whole RTU frames, line faults."""

from __future__ import annotations

import os
import select
import time
from collections.abc import Iterator

import pytest

from firmware_bridge.sim import rtu_line
from firmware_bridge.sim.faults import FaultPlan, OneShot
from firmware_bridge.sim.rtu_line import PtyLink
from firmware_bridge.sim.wall import SimEvent

WAIT_S = 20.0  # deadline for what the line's thread forwards or records: ends as soon as it is there


# The line's framing, seen from raw file descriptors.


def _read(fd: int, n: int, within: float = WAIT_S) -> bytes:
    out = b""
    deadline = time.monotonic() + within
    while len(out) < n and time.monotonic() < deadline:
        ready, _w, _x = select.select([fd], [], [], 0.01)
        if ready:
            out += os.read(fd, 4096)
    return out


# A partial frame is given up after this much silence here (MIN_IDLE_S: 5 ms): a writer thread scheduled late
# between two pieces of a frame must not split it, and bytes that make no frame are forwarded after it.
LINK_IDLE_S = 1.0


@pytest.fixture
def link(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[PtyLink, list[tuple[SimEvent, int | None, str]], int, int]]:
    monkeypatch.setattr(rtu_line, "MIN_IDLE_S", LINK_IDLE_S)
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
    assert _read(dev, 4) == b"\x01\x2b\x0e\x01"  # forwarded after LINK_IDLE_S of silence
    assert records == [(SimEvent.GARBAGE, None, "unframed 01 2b 0e 01")]
    os.write(host, FLASH_ON_1)  # the queued fault waited for a real request
    deadline = time.monotonic() + WAIT_S
    while len(records) < 2:
        assert time.monotonic() < deadline, f"the request was not handled within {WAIT_S} s: {records}"
        time.sleep(0.002)
    assert records[-1] == (SimEvent.DROPPED_REQUEST, 1, FLASH_ON_1.hex(" "))
    assert _read(dev, 8, within=0.2) == b""  # dropped: it never reaches the board
