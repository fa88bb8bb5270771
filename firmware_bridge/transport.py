"""Serial transport for lock-board buses: one transaction at a time, timeouts, the link policy's retries."""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

import serial
import serial.rs485

from firmware_bridge.errors import BridgeError, FrameError, NoReply, TransportError
from firmware_bridge.link import BoardLinks, LinkListener, LinkPolicy, LinkState
from locker.config import BusConfig

log = logging.getLogger(__name__)

T = TypeVar("T")


class SerialPort(Protocol):
    """The part of pyserial's ``Serial`` the transport uses (any serial-like object will do)."""

    @property
    def timeout(self) -> float | None: ...

    @timeout.setter
    def timeout(self, value: float | None) -> None: ...

    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes, /) -> int | None: ...

    def flush(self) -> None: ...

    def reset_input_buffer(self) -> None: ...

    def close(self) -> None: ...


class Kind(enum.StrEnum):
    """How a transaction may be repeated."""

    QUERY = "query"  # reads state: retried with backoff
    COMMAND = "command"  # acts (unlock): never retried
    PROBE = "probe"  # one attempt, ignores the offline gate, failures of unknown boards are not counted


def open_port(url: str, *, baud: int, timeout_s: float, rs485_rts: bool = False) -> serial.Serial:
    """Open a device path or pyserial URL (a pty path in tests) 8N1; RS485 direction by the kernel if asked."""
    try:
        port = serial.serial_for_url(url, baudrate=baud, timeout=timeout_s, write_timeout=max(1.0, timeout_s))
    except (serial.SerialException, OSError, ValueError) as exc:
        raise TransportError(f"cannot open {url}: {exc}") from exc
    if rs485_rts:
        try:
            port.rs485_mode = serial.rs485.RS485Settings()
        except (serial.SerialException, OSError, ValueError, NotImplementedError) as exc:
            port.close()
            raise TransportError(f"{url}: kernel RS485 mode is not available: {exc}") from exc
    return port


class Transport:
    """One bus: requests go out one at a time, each reply is read to its expected length within the timeout."""

    def __init__(
        self,
        port: SerialPort,
        *,
        name: str,
        timeout_s: float,
        gap_s: float,
        policy: LinkPolicy | None = None,
        on_link_change: LinkListener | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name
        self._port = port
        self._timeout_s = timeout_s
        self._gap_s = gap_s
        self._links = BoardLinks(name, policy, on_link_change)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._last_end = float("-inf")
        self._closed = False
        port.timeout = timeout_s

    @classmethod
    def from_bus(
        cls,
        bus: BusConfig,
        *,
        policy: LinkPolicy | None = None,
        on_link_change: LinkListener | None = None,
    ) -> Transport:
        """Open ``bus.port`` with the bus's baud rate, timeout, gap and RS485 setting."""
        timeout_s = bus.timeout_ms / 1000
        port = open_port(bus.port, baud=bus.baud, timeout_s=timeout_s, rs485_rts=bus.rs485_rts)
        return cls(
            port,
            name=bus.name,
            timeout_s=timeout_s,
            gap_s=bus.gap_ms / 1000,
            policy=policy,
            on_link_change=on_link_change,
        )

    def link(self, board: int) -> LinkState:
        with self._lock:
            return self._links.state(board)

    def query(self, board: int, request: bytes, reply_len: int, parse: Callable[[bytes], T]) -> T:
        """A read-only request: retried with backoff on no reply or a bad frame."""
        return _unbox(self._transact(board, request, reply_len, parse, Kind.QUERY))

    def command(self, board: int, request: bytes, reply_len: int, parse: Callable[[bytes], T]) -> T:
        """A request that acts (an unlock): sent once; a missing or bad reply is raised, never retried."""
        return _unbox(self._transact(board, request, reply_len, parse, Kind.COMMAND))

    def command_maybe_reply(self, board: int, request: bytes, reply_len: int, parse: Callable[[bytes], T]) -> T | None:
        """Like command() for boards that may or may not answer: silence returns None, garbage raises."""
        box = self._transact(board, request, reply_len, parse, Kind.COMMAND, allow_silence=True)
        return None if box is None else box[0]

    def probe(self, board: int, request: bytes, reply_len: int, parse: Callable[[bytes], T]) -> T:
        """One attempt that ignores the offline gate (bus scans, commissioning)."""
        return _unbox(self._transact(board, request, reply_len, parse, Kind.PROBE))

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._port.close()

    # -- internals -------------------------------------------------------------------------------

    def _transact(
        self,
        board: int,
        request: bytes,
        reply_len: int,
        parse: Callable[[bytes], T],
        kind: Kind,
        *,
        allow_silence: bool = False,
    ) -> tuple[T] | None:
        """Run one transaction; the result is boxed so that None can mean "silence was allowed and happened"."""
        with self._lock:
            if self._closed:
                raise TransportError(f"{self.name}: transport is closed")
            attempts = 1 + self._links.policy.read_retries if kind is Kind.QUERY else 1
            attempts = self._links.begin(board, self._clock(), attempts, gated=kind is not Kind.PROBE)
            error: BridgeError | None = None
            for attempt in range(attempts):
                if attempt:
                    self._sleep(self._links.backoff_s(attempt))
                try:
                    raw = self._exchange(request, reply_len)
                    if not raw and allow_silence:
                        return None  # silence tells nothing about the board: its link state stays
                    if not raw:
                        raise NoReply(f"{self.name}: board {board} did not answer {request.hex(' ')}")
                    if len(raw) < reply_len:
                        raise FrameError(
                            f"{self.name}: board {board}: short reply ({len(raw)} of {reply_len}): {raw.hex(' ')}"
                        )
                    result = parse(raw)
                except (NoReply, FrameError) as exc:
                    level = logging.DEBUG if kind is Kind.PROBE else logging.WARNING
                    log.log(level, "%s (attempt %d of %d)", exc, attempt + 1, attempts)
                    error = exc
                    continue
                self._links.succeeded(board)
                return (result,)
            assert error is not None
            if kind is not Kind.PROBE or self._links.state(board) is not LinkState.UNKNOWN:
                self._links.failed(board)
            raise error

    def _exchange(self, request: bytes, reply_len: int) -> bytes:
        wait = self._last_end + self._gap_s - self._clock()
        if wait > 0:
            self._sleep(wait)
        try:
            self._port.reset_input_buffer()
            log.debug("%s tx %s", self.name, request.hex(" "))
            self._port.write(request)
            self._port.flush()
            raw = self._port.read(reply_len)
        except (serial.SerialException, OSError) as exc:
            raise TransportError(f"{self.name}: serial I/O failed: {exc}") from exc
        finally:
            self._last_end = self._clock()
        log.debug("%s rx %s", self.name, raw.hex(" ") if raw else "(nothing)")
        return bytes(raw)


def _unbox(box: tuple[T] | None) -> T:
    if box is None:
        raise NoReply("no reply")  # pragma: no cover - silence is only allowed by command_maybe_reply
    return box[0]
