"""The reader thread shared by wedge and serial scanners: open, read payloads, report failure, reopen."""

from __future__ import annotations

import abc
import logging
from typing import Generic, TypeVar

from firmware_bridge.reader_thread import ReaderThread
from firmware_bridge.scanners.backoff import Backoff
from firmware_bridge.scanners.dedup import Deduplicator
from firmware_bridge.scanners.hub import ScannerState, ScanSink, StatusChange
from locker.ports import Clock, Scan, ScanSource

log = logging.getLogger(__name__)

H = TypeVar("H")  # the open device handle

POLL_S = 0.2  # how often a blocked reader looks at the stop flag


class DeviceReader(ReaderThread, Generic[H]):
    """Runs one scanner device in a thread; subclasses open, read and close the device.

    ``read_payloads`` blocks at most about ``POLL_S`` and raises OSError (or a subclass's device error) when
    the device went away; the loop then reports FAILED and reopens with backoff, reporting OK when it is back.
    """

    source: ScanSource

    def __init__(
        self,
        name: str,
        sink: ScanSink,
        clock: Clock,
        *,
        dedup_s: float = 0.0,
        reopen_initial_s: float = 0.5,
        reopen_max_s: float = 10.0,
    ) -> None:
        super().__init__(f"scanner-{name}")
        self.name = name
        self._sink = sink
        self._clock = clock
        self._dedup = Deduplicator(clock, dedup_s)
        self._backoff = Backoff(reopen_initial_s, reopen_max_s)
        self._state: ScannerState | None = None
        self.failures = 0
        self.scans_reported = 0

    @property
    def state(self) -> ScannerState | None:
        return self._state

    @abc.abstractmethod
    def _open(self) -> H: ...

    @abc.abstractmethod
    def _read_payloads(self, handle: H) -> list[str]: ...

    @abc.abstractmethod
    def _close(self, handle: H) -> None: ...

    def __enter__(self) -> DeviceReader[H]:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                handle = self._open()
            except Exception as exc:  # noqa: BLE001 - any open error (OSError, SerialException) means FAILED
                self._fail(f"cannot open: {exc}")
                continue
            self._set_state(ScannerState.OK, "device open")
            self._backoff.reset()
            failure = ""
            try:
                while not self._stop.is_set():
                    for text in self._read_payloads(handle):
                        self._deliver(text)
            except Exception as exc:  # noqa: BLE001 - unplugged or broken device: reported and reopened
                failure = f"read failed: {exc}"
            finally:
                self._safe_close(handle)  # release the device before waiting to reopen it
            if failure:
                self._fail(failure)

    def _deliver(self, text: str) -> None:
        if not self._dedup.accept(text):
            return
        self.scans_reported += 1
        self._sink.publish(Scan(text, self.source, self._clock.now()))

    def _fail(self, reason: str) -> None:
        self.failures += 1
        log.warning("scanner %s: %s", self.name, reason)
        self._set_state(ScannerState.FAILED, reason)
        self._stop.wait(self._backoff.next_delay())

    def _safe_close(self, handle: H) -> None:
        try:
            self._close(handle)
        except Exception as exc:  # noqa: BLE001 - closing a vanished device may fail; logged, nothing to undo
            log.warning("scanner %s: close failed: %r", self.name, exc)

    def _set_state(self, state: ScannerState, reason: str) -> None:
        if self._state is state:
            return
        self._state = state
        self._sink.publish_status(StatusChange(self.source, self.name, state, self._clock.now(), reason))
