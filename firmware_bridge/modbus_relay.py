"""Driver for Modbus RTU relay/input boards (coils = relays, discrete inputs = door switches) via pymodbus."""

from __future__ import annotations

import functools
import logging
import math
import struct
import threading
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

from pymodbus import FramerType
from pymodbus.client import ModbusSerialClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.pdu import ModbusPDU

from firmware_bridge.driver import BoardStatus
from firmware_bridge.errors import BridgeError, FrameError, NoReply, TransportError
from firmware_bridge.link import BoardLinks, LinkListener, LinkPolicy, LinkState
from firmware_bridge.protocols.frames import Direction, bit_reads_open
from locker.config import BusConfig
from locker.model import DoorState

log = logging.getLogger(__name__)

NAME = "modbus-relay"


# Addresses of a Waveshare-style relay board (one definition for driver, simulator and docs).
RELAY_BASE = 0x0000  # coil n = relay n (FC 01 read, FC 05/15 write FF00/0000)
INPUT_BASE = 0x0000  # discrete input n = door switch of relay n (FC 02 read)
FLASH_ON_BASE = 0x0200  # FC 05 to 0x0200+n, value = on-time in 100 ms: the board ends the pulse itself
FLASH_OFF_BASE = 0x0400  # FC 05 to 0x0400+n, value = off-time in 100 ms


FLASH_UNIT_MS = 100
COIL_ON = 0xFF00
COIL_OFF = 0x0000


def flash_value(pulse_ms: int) -> int:
    """The flash register value (100 ms units, at least 1) for a pulse of ``pulse_ms``."""
    return max(1, min(0x7FFF, math.ceil(pulse_ms / FLASH_UNIT_MS)))


# RTU framing: where a frame ends, from its function code (what the wire says with 3.5 characters of silence).
_FIXED_LENGTH = {
    Direction.REQUEST: {1: 8, 2: 8, 3: 8, 4: 8, 5: 8, 6: 8},  # unit fc address(2) count/value(2) crc(2)
    Direction.REPLY: {5: 8, 6: 8, 15: 8, 16: 8},  # echo: unit fc address(2) value/count(2) crc(2)
}
_BYTE_COUNT_AT = {
    Direction.REQUEST: {15: 6, 16: 6},  # unit fc address(2) count(2) n data(n) crc(2)
    Direction.REPLY: {1: 2, 2: 2, 3: 2, 4: 2},  # unit fc n data(n) crc(2)
}
_EXCEPTION_REPLY_LENGTH = 5  # unit fc|0x80 code crc(2)


def rtu_frame_length(data: bytes, direction: Direction) -> int | None:
    """Length of the RTU frame that starts ``data``, from its function code; None if more bytes are needed.

    Covers the function codes of the relay boards (01-06, 15, 16) and exception replies. Raises FrameError
    for any other function code: such bytes cannot be delimited without the line's silence.
    """
    if len(data) < 2:
        return None
    function = data[1]
    if direction is Direction.REPLY and function & 0x80:
        return _EXCEPTION_REPLY_LENGTH
    if (fixed := _FIXED_LENGTH[direction].get(function)) is not None:
        return fixed
    if (at := _BYTE_COUNT_AT[direction].get(function)) is not None:
        return None if len(data) <= at else at + 1 + data[at] + 2
    raise FrameError(f"function code 0x{function:02X} does not start a Modbus {direction.value} frame")


class CoilWriteFrameError(FrameError, ValueError):
    """A CoilWrite body that is not 4 bytes.

    A FrameError for this project; also a ValueError, which pymodbus's PDU decoder catches like its own decode
    failures (the exchange then ends as "unable to decode", never as a half-filled PDU).
    """


class CoilWrite(ModbusPDU):
    """FC 05 with its raw 16-bit value: flash-on/off need values other than FF00/0000 (request and echo)."""

    function_code = 5
    rtu_frame_size = 8

    def __init__(self, dev_id: int = 0, transaction_id: int = 0, address: int = 0, value: int = 0) -> None:
        super().__init__(dev_id=dev_id, transaction_id=transaction_id, address=address)
        self.value = value
        self.bits = [bool(value)]

    def encode(self) -> bytes:
        self.verifyAddress()
        return struct.pack(">HH", self.address, self.value)

    def decode(self, data: bytes) -> None:
        """Read address and value from the PDU body (after the function code); raises CoilWriteFrameError."""
        if len(data) != 4:
            raise CoilWriteFrameError(f"FC 05 body must be 4 bytes, got {len(data)}: {data.hex(' ')}")
        self.address, self.value = struct.unpack(">HH", data)
        self.bits = [bool(self.value)]

    def __str__(self) -> str:
        return f"CoilWrite(dev_id={self.dev_id}, address=0x{self.address:04X}, value=0x{self.value:04X})"


T = TypeVar("T")


class ModbusRelayDriver:
    """BoardDriver for Modbus RTU relay boards; ``board`` = Modbus unit id, lock n = relay n-1."""

    name = NAME

    def __init__(
        self,
        bus: BusConfig,
        *,
        channels: int = 8,
        boards: Iterable[int] = (),
        policy: LinkPolicy | None = None,
        on_link_change: LinkListener | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not 1 <= channels <= 2000:
            raise ValueError(f"channels must be 1..2000, got {channels}")
        self.bus = bus
        self.channels = channels
        self._links = BoardLinks(f"bus {bus.name}", policy, on_link_change, boards)
        self._clock = clock
        self._sleep = sleep
        self._gap_s = bus.gap_ms / 1000
        self._lock = threading.Lock()
        self._last_end = 0.0
        self._client = ModbusSerialClient(
            bus.port,
            framer=FramerType.RTU,
            baudrate=bus.baud,
            timeout=bus.timeout_ms / 1000,
            retries=0,  # retries are decided here: reads may repeat, unlocks never do
            name=f"{NAME}:{bus.name}",
            trace_packet=self._trace,
        )
        self._client.register(CoilWrite)
        if not self._client.connect():
            raise TransportError(f"bus {bus.name}: cannot open serial port {bus.port!r}")

    # -- BoardDriver -------------------------------------------------------------------------------------

    def status(self, board: int) -> BoardStatus:
        """Read the door switches (discrete inputs) of one board."""
        bits = self._call(
            board,
            "read inputs",
            lambda: self._read_bits(board, 2, self.channels),
            retries=self._links.policy.read_retries,
        )
        doors = {n + 1: self._door(bit) for n, bit in enumerate(bits[: self.channels])}
        return BoardStatus(board=board, doors=doors)

    def pulse(self, board: int, lock: int) -> None:
        """Flash-on relay lock-1 for the configured pulse; the board switches it off again by itself."""
        relay = self._relay(lock)
        value = flash_value(self.bus.pulse_ms)
        address = FLASH_ON_BASE + relay
        self._call(board, f"flash-on lock {lock}", lambda: self._write_raw(board, address, value), retries=0)

    def scan(self, addresses: Iterable[int]) -> list[int]:
        """Unit ids among ``addresses`` that answer a read of their inputs (no retries, no failure count)."""
        found: list[int] = []
        for unit in addresses:
            try:
                with self._lock:
                    self._transaction(functools.partial(self._read_bits, unit, 2, 1))
            except NoReply:
                log.debug("bus %s: no board at unit %d", self.bus.name, unit)
                continue
            except FrameError as exc:
                log.debug("bus %s: unit %d answered with an error: %s", self.bus.name, unit, exc)
            found.append(unit)
            with self._lock:
                self._links.succeeded(unit)
        return found

    def safe_state(self) -> None:
        """Switch every relay of every known board off; raises the first failure after trying all boards."""
        first: BridgeError | None = None
        for board in self._links.known():
            try:
                self._call(
                    board,
                    "all relays off",
                    functools.partial(self._write_coils_off, board),
                    retries=self._links.policy.read_retries,
                    gated=False,
                )
            except BridgeError as exc:
                log.error("bus %s: board %d not put into the safe state: %s", self.bus.name, board, exc)
                first = first or exc
        if first is not None:
            raise first

    def close(self) -> None:
        with self._lock:
            self._client.close()  # type: ignore[no-untyped-call]

    # -- extras for the lock bank and the CLI ----------------------------------------------------------------

    def relays(self, board: int) -> dict[int, bool]:
        """Read the relay coils of one board: lock -> energised."""
        bits = self._call(
            board,
            "read relays",
            lambda: self._read_bits(board, 1, self.channels),
            retries=self._links.policy.read_retries,
        )
        return {n + 1: bit for n, bit in enumerate(bits[: self.channels])}

    def link(self, board: int) -> LinkState:
        """What the driver knows about one board's link (unknown, online, offline)."""
        with self._lock:
            return self._links.state(board)

    # -- internals ----

    def _door(self, bit: bool) -> DoorState:
        return DoorState.OPEN if bit_reads_open(bit, self.bus.polarity) else DoorState.CLOSED

    def _relay(self, lock: int) -> int:
        if not 1 <= lock <= self.channels:
            raise ValueError(f"lock {lock} is not 1..{self.channels}")
        return lock - 1

    def _trace(self, sending: bool, data: bytes) -> bytes:
        log.debug("bus %s %s %s", self.bus.name, "tx" if sending else "rx", data.hex(" "))
        return data

    def _call(
        self,
        board: int,
        what: str,
        request: Callable[[], T],
        *,
        retries: int,
        gated: bool = True,
    ) -> T:
        """Run one request under the bus's link policy (firmware_bridge.link, as every driver does)."""
        if not 0 <= board <= 247:
            raise ValueError(f"Modbus unit id {board} is not 0..247")
        with self._lock:
            attempts = self._links.begin(board, self._clock(), 1 + retries, gated=gated, what=what)
            error: NoReply | None = None
            for attempt in range(attempts):
                if attempt:
                    self._sleep(self._links.backoff_s(attempt))
                try:
                    result = self._transaction(request)
                except NoReply as exc:
                    log.warning("bus %s: %s: %s (attempt %d of %d)", self.bus.name, what, exc, attempt + 1, attempts)
                    error = exc
                    continue
                except FrameError:
                    self._links.succeeded(board)  # a Modbus exception reply: the board is there but refused
                    raise
                self._links.succeeded(board)
                return result
            assert error is not None
            self._links.failed(board)
            raise error

    def _transaction(self, request: Callable[[], T]) -> T:
        """One exchange on the bus, honouring the gap; caller holds the lock."""
        wait = self._last_end + self._gap_s - self._clock()
        if wait > 0:
            self._sleep(wait)
        try:
            return request()
        except ModbusIOException as exc:
            raise NoReply(f"bus {self.bus.name}: {exc}") from exc
        except ConnectionException as exc:
            raise TransportError(f"bus {self.bus.name}: serial port failed: {exc}") from exc
        except ModbusException as exc:
            raise FrameError(f"bus {self.bus.name}: {exc}") from exc
        finally:
            self._last_end = self._clock()

    def _read_bits(self, unit: int, function: int, count: int) -> list[bool]:
        if function == 1:
            rsp = self._client.read_coils(RELAY_BASE, count=count, device_id=unit)
        else:
            rsp = self._client.read_discrete_inputs(INPUT_BASE, count=count, device_id=unit)
        self._check(rsp, unit, function)
        if len(rsp.bits) != 8 * math.ceil(count / 8):  # a reply for another count (e.g. a late one) is no answer
            raise FrameError(f"bus {self.bus.name}: unit {unit} sent {len(rsp.bits)} bits, expected {count}")
        return list(rsp.bits[:count])

    def _write_raw(self, unit: int, address: int, value: int) -> None:
        rsp = self._client.execute(False, CoilWrite(dev_id=unit, address=address, value=value))
        self._check(rsp, unit, CoilWrite.function_code)
        if not isinstance(rsp, CoilWrite) or (rsp.address, rsp.value) != (address, value):
            raise FrameError(
                f"bus {self.bus.name}: unit {unit} echoed {rsp} to a write of {value:#06x} at {address:#06x}"
            )

    def _write_coils_off(self, unit: int) -> None:
        rsp = self._client.write_coils(RELAY_BASE, [False] * self.channels, device_id=unit)
        self._check(rsp, unit, 15)
        if (rsp.address, rsp.count) != (RELAY_BASE, self.channels):
            raise FrameError(
                f"bus {self.bus.name}: unit {unit} echoed {rsp.count} coils at {rsp.address:#06x} "
                f"to a write of {self.channels} at {RELAY_BASE:#06x}"
            )

    def _check(self, rsp: ModbusPDU, unit: int, function: int) -> None:
        """Raise FrameError for a Modbus exception reply or a reply to another function code.

        pymodbus matches a reply to its request by unit id only (RTU has no transaction id), so a late reply to
        an earlier request could otherwise pass for the answer to this one.
        """
        if rsp.isError():
            raise FrameError(
                f"bus {self.bus.name}: unit {unit} refused function {rsp.function_code & 0x7F} "
                f"(Modbus exception {getattr(rsp, 'exception_code', '?')})"
            )
        if rsp.function_code != function:
            raise FrameError(
                f"bus {self.bus.name}: unit {unit} answered function {rsp.function_code} to function {function}"
            )
