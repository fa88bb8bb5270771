"""Serial and USB-CDC scanners: line-terminated payloads read through pyserial."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

import serial

from firmware_bridge.scanners.device_loop import POLL_S, DeviceReader
from firmware_bridge.scanners.errors import ScannerConfigError
from firmware_bridge.scanners.hub import ScanSink
from locker.ports import Clock, ScanSource

log = logging.getLogger(__name__)


class LineSplitter:
    """Splits a byte stream into payloads at any of the terminator bytes; empty lines are skipped.

    With the default ``b"\\r\\n"`` a scanner that ends lines with CR, LF or CR LF works unchanged.
    """

    def __init__(self, terminators: bytes = b"\r\n", max_length: int = 4096, encoding: str = "utf-8") -> None:
        if not terminators:
            raise ScannerConfigError("a serial scanner needs at least one terminator byte")
        self._terminators = frozenset(terminators)
        self._max_length = max_length
        self._encoding = encoding
        self._buffer = bytearray()
        self._skipping = False  # after an overlong payload: drop bytes up to the next terminator
        self.discarded = 0

    def feed(self, data: bytes) -> list[str]:
        payloads: list[str] = []
        for byte in data:
            if byte in self._terminators:
                if self._buffer:
                    self._emit(payloads)
                self._skipping = False
                continue
            if self._skipping:
                continue
            self._buffer.append(byte)
            if len(self._buffer) > self._max_length:
                self._discard(f"longer than {self._max_length} bytes without a terminator")
        return payloads

    def _emit(self, payloads: list[str]) -> None:
        raw, self._buffer = bytes(self._buffer), bytearray()
        try:
            payloads.append(raw.decode(self._encoding))
        except UnicodeDecodeError as exc:
            self.discarded += 1
            log.warning("serial scanner: payload is not %s, discarded: %r (%s)", self._encoding, raw[:64], exc)

    def _discard(self, why: str) -> None:
        self.discarded += 1
        log.warning("serial scanner: discarded %d bytes: %s", len(self._buffer), why)
        self._buffer = bytearray()
        self._skipping = True


class SerialPort(Protocol):
    """The part of ``serial.Serial`` the scanner uses."""

    @property
    def in_waiting(self) -> int: ...

    def read(self, size: int = 1) -> bytes: ...

    def reset_input_buffer(self) -> None: ...

    def close(self) -> None: ...


SerialFactory = Callable[[str, int], SerialPort]


def open_serial(port: str, baudrate: int) -> SerialPort:
    """Open a serial port exclusively, with a short read timeout so the reader can notice a stop."""
    return serial.Serial(port, baudrate=baudrate, timeout=POLL_S, exclusive=True)


class SerialScanner(DeviceReader[SerialPort]):
    """Reads a scanner on a serial port or USB-CDC device (e.g. /dev/wibox-scanner, a udev symlink)."""

    source = ScanSource.SERIAL

    def __init__(
        self,
        port: str,
        sink: ScanSink,
        clock: Clock,
        *,
        baudrate: int = 9600,
        terminators: bytes = b"\r\n",
        encoding: str = "utf-8",
        name: str = "serial",
        dedup_s: float = 0.0,
        reopen_initial_s: float = 0.5,
        reopen_max_s: float = 10.0,
        serial_factory: SerialFactory = open_serial,
    ) -> None:
        super().__init__(
            name, sink, clock, dedup_s=dedup_s, reopen_initial_s=reopen_initial_s, reopen_max_s=reopen_max_s
        )
        self.port = port
        self.baudrate = baudrate
        self.splitter = LineSplitter(terminators, encoding=encoding)
        self._serial_factory = serial_factory

    def _open(self) -> SerialPort:
        handle = self._serial_factory(self.port, self.baudrate)
        handle.reset_input_buffer()  # bytes from before we listened belong to nobody
        log.info("serial scanner %s: %s open at %d baud", self.name, self.port, self.baudrate)
        return handle

    def _read_payloads(self, handle: SerialPort) -> list[str]:
        data = handle.read(max(1, handle.in_waiting))
        return self.splitter.feed(data) if data else []

    def _close(self, handle: SerialPort) -> None:
        handle.close()
