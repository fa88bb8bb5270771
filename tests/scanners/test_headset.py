"""The headset jack's switch: real input_event bytes through the real reader on a pipe, into a real ScanHub."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest

from firmware_bridge.headset import HeadsetWatch
from firmware_bridge.linux_input.codes import EV_KEY, EV_SW, EV_SYN, KEY_A, SW_HEADPHONE_INSERT, SYN_REPORT
from firmware_bridge.linux_input.device import InputDevice
from firmware_bridge.linux_input.events import InputEvent
from firmware_bridge.scanners.hub import ScanHub
from locker.clock import SystemClock
from locker.ports import HeadsetChange


class Jack:
    """A pipe standing in for the jack's event device: each open gets a fresh pipe; the test writes events."""

    def __init__(self, plugged_at_open: bool) -> None:
        self.plugged_at_open = plugged_at_open
        self.writers: list[int] = []
        self.opened = 0

    def open(self, path: str) -> InputDevice:
        r, w = os.pipe()
        self.writers.append(w)
        self.opened += 1
        return InputDevice(r, path, "test jack")

    def send(self, *events: tuple[int, int, int]) -> None:
        os.write(self.writers[-1], b"".join(InputEvent(0, 0, *e).pack() for e in events))

    def unplug_device(self) -> None:
        os.close(self.writers[-1])  # the reader sees end of file: the device went away

    def close(self) -> None:
        for w in self.writers:
            with contextlib.suppress(OSError):  # already closed by unplug_device
                os.close(w)


@pytest.fixture
def hub() -> ScanHub:
    return ScanHub(pull=True)


def _watch(jack: Jack, hub: ScanHub) -> Iterator[HeadsetWatch]:
    watch = HeadsetWatch(
        "/dev/input/jack",
        hub,
        SystemClock(),
        device_factory=jack.open,
        query=lambda _device: jack.plugged_at_open,
        reopen_initial_s=0.01,
        reopen_max_s=0.01,
    )
    watch.start()
    try:
        yield watch
    finally:
        watch.stop()
        jack.close()


def _next(hub: ScanHub) -> HeadsetChange:
    event = hub.get(timeout=10)
    assert isinstance(event, HeadsetChange), event
    return event


def test_the_state_at_open_then_every_change_and_nothing_else(hub: ScanHub) -> None:
    jack = Jack(plugged_at_open=False)
    for watch in _watch(jack, hub):
        assert _next(hub).plugged is False  # what the jack says when the station starts
        jack.send(
            (EV_KEY, KEY_A, 1),  # not the switch: ignored
            (EV_SW, SW_HEADPHONE_INSERT, 1),
            (EV_SYN, SYN_REPORT, 0),
            (EV_SW, SW_HEADPHONE_INSERT, 1),  # repeated: no second report
            (EV_SW, SW_HEADPHONE_INSERT, 0),
        )
        assert _next(hub).plugged is True
        assert _next(hub).plugged is False
        assert hub.get(timeout=0.3) is None
        assert watch.plugged is False and watch.failures == 0


def test_a_device_that_goes_away_is_reported_reopened_and_read_again(hub: ScanHub) -> None:
    jack = Jack(plugged_at_open=True)
    for watch in _watch(jack, hub):
        assert _next(hub).plugged is True
        jack.unplug_device()
        assert _next(hub).plugged is True  # reopened: its state is told again (unknown in between)
        assert watch.failures >= 1 and jack.opened >= 2
        jack.send((EV_SW, SW_HEADPHONE_INSERT, 0))
        assert _next(hub).plugged is False


def test_a_path_that_is_no_input_device_is_a_logged_failure_never_an_event(
    hub: ScanHub, caplog: pytest.LogCaptureFixture
) -> None:
    watch = HeadsetWatch("/dev/null", hub, SystemClock(), reopen_initial_s=0.01, reopen_max_s=0.01)
    watch.start()
    try:
        assert hub.get(timeout=0.5) is None
    finally:
        watch.stop()
    assert watch.failures >= 1 and watch.plugged is None
    assert "headset jack: cannot open /dev/null: /dev/null is no input event device" in caplog.text
