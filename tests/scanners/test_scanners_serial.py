"""Serial / USB-CDC scanners over a real pseudo-terminal (pyserial's real code path), incl. unplug and replug."""

from __future__ import annotations

import contextlib
import os
import time
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware_bridge.scanners.hub import ScanHub, ScannerState, StatusChange
from firmware_bridge.scanners.serial_scanner import LineSplitter, SerialScanner
from locker.clock import SystemClock
from locker.ports import Scan, ScanSource

EventT = typing.TypeVar("EventT", Scan, StatusChange)


class Pty:
    """A pseudo-terminal pair; the scanner opens the slave through a udev-like symlink."""

    def __init__(self, link: Path) -> None:
        self.master, self.slave = os.openpty()
        tmp = link.with_suffix(".new")
        tmp.symlink_to(os.ttyname(self.slave))
        tmp.replace(link)

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def unplug(self) -> None:
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):  # already closed by an earlier unplug
                os.close(fd)


@pytest.fixture
def link(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "wibox-scanner"


def _wait(hub: ScanHub, want: type[EventT], timeout: float = 20.0) -> EventT:
    """The next event of type ``want``, as soon as it comes (``timeout`` is a deadline for a loaded machine)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = hub.get(timeout=0.05)
        if isinstance(event, want):
            return event
    raise AssertionError(f"no {want.__name__} within {timeout} s")


def test_payloads_over_a_pty_with_any_line_ending(link: Path) -> None:
    pty = Pty(link)
    hub = ScanHub()
    try:
        with SerialScanner(str(link), hub, SystemClock(), baudrate=115200):
            status = _wait(hub, StatusChange)
            assert isinstance(status, StatusChange)
            assert (status.source, status.state) == (ScanSource.SERIAL, ScannerState.OK)
            pty.send(b"WB1:AAAA-1111\r\nWB1:BB")
            pty.send(b"BB-2222\rWB1:CCCC-3333\n")
            scans = [_wait(hub, Scan) for _ in range(3)]
    finally:
        pty.unplug()
    assert [(s.text, s.source) for s in scans if isinstance(s, Scan)] == [
        ("WB1:AAAA-1111", ScanSource.SERIAL),
        ("WB1:BBBB-2222", ScanSource.SERIAL),
        ("WB1:CCCC-3333", ScanSource.SERIAL),
    ]


def test_unplugged_scanner_is_reported_and_reopened(link: Path) -> None:
    pty = Pty(link)
    hub = ScanHub()
    scanner = SerialScanner(str(link), hub, SystemClock(), terminators=b"\r", reopen_initial_s=0.02, reopen_max_s=0.05)
    with scanner:
        assert _wait(hub, StatusChange).state is ScannerState.OK
        pty.send(b"before\r")
        assert _wait(hub, Scan).text == "before"
        pty.unplug()
        failed = _wait(hub, StatusChange)
        assert isinstance(failed, StatusChange)
        assert failed.state is ScannerState.FAILED
        assert hub.state_of("serial") is ScannerState.FAILED
        pty = Pty(link)  # replugged: udev points the symlink at the new device
        assert _wait(hub, StatusChange).state is ScannerState.OK
        pty.send(b"after\r")
        assert _wait(hub, Scan).text == "after"
    pty.unplug()
    assert scanner.failures >= 1


def test_a_missing_port_is_failed_from_the_start(tmp_path: Path) -> None:
    hub = ScanHub()
    with SerialScanner(str(tmp_path / "absent"), hub, SystemClock(), reopen_initial_s=0.02, reopen_max_s=0.05):
        status = _wait(hub, StatusChange)
    assert isinstance(status, StatusChange)
    assert status.state is ScannerState.FAILED
    assert "cannot open" in status.reason


def test_line_splitter_edges() -> None:
    splitter = LineSplitter(b"\r\n", max_length=8)
    assert splitter.feed(b"\r\n\r\nAB") == []
    assert splitter.feed(b"C\r\n") == ["ABC"]
    assert splitter.feed(b"0123456789") == []  # too long without a terminator: dropped, counted
    assert splitter.discarded == 1
    assert splitter.feed(b"rest\nOK\n") == ["OK"]  # the rest of the overlong payload is dropped too
    assert splitter.feed(b"\xff\xfe\n") == []  # not UTF-8: dropped, counted
    assert splitter.discarded == 2
    assert splitter.feed("Grüße\n".encode()) == ["Grüße"]
