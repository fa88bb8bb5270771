"""The headset jack's switch (SW_HEADPHONE_INSERT on a Linux input event device): plugged in or out, as it happens."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from firmware_bridge.linux_input.codes import EV_SW, SW_HEADPHONE_INSERT
from firmware_bridge.linux_input.device import InputDevice
from firmware_bridge.reader_thread import ReaderThread
from firmware_bridge.scanners.backoff import Backoff
from locker.ports import Clock, HeadsetChange

log = logging.getLogger(__name__)

POLL_S = 0.2  # how often a blocked read looks at the stop flag


class HeadsetSink(Protocol):
    """Where the watch reports (ScanHub implements it)."""

    def publish_headset(self, change: HeadsetChange) -> None: ...


DeviceFactory = Callable[[str], InputDevice]
SwitchQuery = Callable[[InputDevice], bool]


def headphone_inserted(device: InputDevice) -> bool:
    return device.switch_on(SW_HEADPHONE_INSERT)


class HeadsetWatch(ReaderThread):
    """Reads the jack's switch at ``path`` in a thread: its state when opened, then every change; a device that
    fails is logged and reopened with backoff (the screen's speech button and help key still work meanwhile)."""

    def __init__(
        self,
        path: str,
        sink: HeadsetSink,
        clock: Clock,
        *,
        device_factory: DeviceFactory = InputDevice.open,
        query: SwitchQuery = headphone_inserted,
        reopen_initial_s: float = 0.5,
        reopen_max_s: float = 10.0,
    ) -> None:
        super().__init__("headset")
        self.path = path
        self._sink = sink
        self._clock = clock
        self._device_factory = device_factory
        self._query = query
        self._backoff = Backoff(reopen_initial_s, reopen_max_s)
        self.plugged: bool | None = None  # None: not known (never opened, or the device failed since)
        self.failures = 0

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                device = self._device_factory(self.path)
            except Exception as exc:  # noqa: BLE001 - missing, unreadable or no input device: logged, retried
                self._fail(f"cannot open {self.path}: {exc}")
                continue
            try:
                self._report(self._query(device))
                self._backoff.reset()
                while not self._stop.is_set():
                    for event in device.read(POLL_S):
                        if event.type == EV_SW and event.code == SW_HEADPHONE_INSERT:
                            self._report(bool(event.value))
            except Exception as exc:  # noqa: BLE001 - unplugged or broken: logged and reopened
                self._fail(f"{self.path}: {exc}")
            finally:
                device.close()

    def _report(self, plugged: bool) -> None:
        if plugged == self.plugged:
            return
        self.plugged = plugged
        self._sink.publish_headset(HeadsetChange(plugged, self._clock.now()))

    def _fail(self, reason: str) -> None:
        self.failures += 1
        self.plugged = None
        log.warning("headset jack: %s", reason)
        self._stop.wait(self._backoff.next_delay())
