"""Serial transport for lock-board buses: one transaction at a time, timeouts, read retries, offline tracking."""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

import serial
import serial.rs485

from firmware_bridge.errors import BoardOffline, BridgeError, FrameError, NoReply, TransportError
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


class LinkState(enum.StrEnum):
    """What the transport knows about one board on the bus."""

    UNKNOWN = "unknown"  # never asked
    ONLINE = "online"
    OFFLINE = "offline"  # failed ``offline_after`` transactions in a row; only periodic probes go out


class Kind(enum.StrEnum):
    """How a transaction may be repeated."""

    QUERY = "query"  # reads state: retried with backoff
    COMMAND = "command"  # acts (unlock): never retried
    PROBE = "probe"  # one attempt, ignores the offline gate, failures of unknown boards are not counted


@dataclass(frozen=True)
class LinkPolicy:
    """Retry and offline rules of a bus."""

    read_retries: int = 2  # extra attempts for a query
    backoff_s: float = 0.05  # first pause before a retry; doubles per retry
    offline_after: int = 3  # consecutive failed transactions before a board is marked offline
    probe_interval_s: float = 5.0  # how often an offline board is tried again


LinkListener = Callable[[int, LinkState], None]


@dataclass
class _Board:
    state: LinkState = LinkState.UNKNOWN
    failures: int = 0
    last_attempt: float = float("-inf")


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
        self._policy = policy or LinkPolicy()
        self._listener = on_link_change
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._boards: dict[int, _Board] = {}
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
            return self._boards.get(board, _Board()).state

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
            st = self._boards.setdefault(board, _Board())
            now = self._clock()
            attempts = 1 + self._policy.read_retries if kind is Kind.QUERY else 1
            if st.state is LinkState.OFFLINE and kind is not Kind.PROBE:
                if now - st.last_attempt < self._policy.probe_interval_s:
                    raise BoardOffline(f"{self.name}: board {board} is offline")
                attempts = 1  # the periodic probe
                log.info("%s: probing offline board %d", self.name, board)
            st.last_attempt = now
            error: BridgeError | None = None
            for attempt in range(attempts):
                if attempt:
                    self._sleep(self._policy.backoff_s * 2 ** (attempt - 1))
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
                self._succeeded(board, st)
                return (result,)
            assert error is not None
            if kind is not Kind.PROBE or st.state is not LinkState.UNKNOWN:
                self._failed(board, st)
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

    def _succeeded(self, board: int, st: _Board) -> None:
        st.failures = 0
        if st.state is not LinkState.ONLINE:
            if st.state is LinkState.OFFLINE:
                log.warning("%s: board %d is back online", self.name, board)
            st.state = LinkState.ONLINE
            self._notify(board, st.state)

    def _failed(self, board: int, st: _Board) -> None:
        st.failures += 1
        if st.state is not LinkState.OFFLINE and st.failures >= self._policy.offline_after:
            log.error("%s: board %d is offline after %d failures", self.name, board, st.failures)
            st.state = LinkState.OFFLINE
            self._notify(board, st.state)

    def _notify(self, board: int, state: LinkState) -> None:
        # Called with the bus lock held: a listener must not call back into this transport.
        if self._listener is not None:
            self._listener(board, state)


def _unbox(box: tuple[T] | None) -> T:
    if box is None:
        raise NoReply("no reply")  # pragma: no cover - silence is only allowed by command_maybe_reply
    return box[0]
