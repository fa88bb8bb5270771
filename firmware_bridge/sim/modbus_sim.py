"""Modbus RTU relay boards played by pymodbus's own server on a pseudo-terminal, with doors and faults."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import os
import random
import select
import threading
import time
import tty
from collections.abc import Callable, Iterable
from types import TracebackType

from pymodbus import FramerType
from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException
from pymodbus.pdu import ExceptionResponse, ModbusPDU
from pymodbus.server import ModbusSerialServer
from pymodbus.simulator import DataType, SimData, SimDevice
from pymodbus.simulator.simutils import SimUtils

from firmware_bridge.errors import FrameError
from firmware_bridge.modbus_relay import (
    COIL_OFF,
    COIL_ON,
    FLASH_OFF_BASE,
    FLASH_ON_BASE,
    FLASH_UNIT_MS,
    CoilWrite,
    rtu_frame_length,
)
from firmware_bridge.protocols.frames import Direction, open_to_bit
from firmware_bridge.sim.faults import FaultPlan, Faults, OneShot
from firmware_bridge.sim.wall import Record, SimEvent, Wall
from locker.config import Polarity

log = logging.getLogger(__name__)

_FC_NAMES = {1: "read relays", 2: "read inputs", 5: "write relay", 15: "write relays"}


MIN_IDLE_S = 0.005  # a partial frame this long without a further byte is given up (3.5 chars, at least 5 ms)

Recorder = Callable[[SimEvent, int | None, str], None]  # event, unit id (None: the whole bus), detail


class PtyLink:
    """Two pseudo-terminals joined back to back (like ``socat pty,raw pty,raw``) that pass whole RTU frames.

    The host side (``host_port``, the driver) and the device side (``device_port``, pymodbus's server) are
    joined by a thread that cuts each direction's byte stream into frames, then forwards every frame after
    its wire time (10 bits a byte at ``baud``; none without a baud), in order per direction.

    Frame boundaries: on a real line a frame ends after 3.5 characters of silence. A pty has no line timing
    (and the thread itself may be scheduled late), so the bridge takes the length from the frame's header,
    as a Modbus receiver does (``rtu_frame_length``: fixed for most function codes, from the byte count for
    FC 01-04 replies and FC 15/16 requests). Bytes that start no frame it knows, or a frame that stays
    incomplete for ``max(3.5 character times, MIN_IDLE_S)``, are forwarded unchanged as one unframed chunk
    after that much silence and recorded as GARBAGE; faults never touch them.

    Faults: each request frame whose unit ``listens`` draws its faults from ``plan`` (as the serial simulators
    do per request); a dropped request never reaches the server, and the faults for the reply apply to the
    next reply frame from the device side for that unit. A corrupted reply has one (seeded) random bit flipped,
    which CRC-16 always detects; a late reply is held back ``plan.faults.late_s`` longer (replies behind it
    wait, the line is serial). Every injected fault is passed to ``record``.
    """

    def __init__(
        self,
        *,
        baud: int | None = None,
        plan: FaultPlan | None = None,
        listens: Callable[[int], bool] | None = None,
        record: Recorder | None = None,
        seed: int = 0,
    ) -> None:
        self._byte_s = 10 / baud if baud else 0.0
        self._idle_s = max(3.5 * self._byte_s, MIN_IDLE_S)
        self.plan = plan or FaultPlan()
        self._listens = listens or (lambda _unit: True)
        self._record = record or (lambda _event, _unit, _detail: None)
        self._rng = random.Random(seed)  # which bit a corruption flips
        self._m1, self._s1 = os.openpty()
        self._m2, self._s2 = os.openpty()
        for fd in (self._s1, self._s2):
            tty.setraw(fd)  # held open so the masters never see EIO while a side is closed
        self.host_port = os.ttyname(self._s1)  # the driver opens this one
        self.device_port = os.ttyname(self._s2)  # the simulated board opens this one
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, name="pty-link", daemon=True)
        self.error: BaseException | None = None  # set if the thread died
        # the thread's state: bytes not yet framed, when they last grew, frames waiting for their wire time
        self._buf = {self._m1: bytearray(), self._m2: bytearray()}
        self._last_rx = {self._m1: 0.0, self._m2: 0.0}
        self._out: dict[int, collections.deque[tuple[float, bytes]]] = {
            self._m1: collections.deque(),
            self._m2: collections.deque(),
        }
        self._pending: tuple[int, set[OneShot]] | None = None  # (unit, faults) of the request on the line

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        for fd in (self._m1, self._s1, self._m2, self._s2):
            with contextlib.suppress(OSError):  # already closed: nothing left to release
                os.close(fd)

    # -- the thread ----

    def _pump(self) -> None:
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                self._deliver(now)
                self._flush_idle(now)
                ready, _w, _x = select.select(list(self._buf), [], [], self._wait_s(now))
                for fd in ready:
                    try:
                        data = os.read(fd, 4096)
                    except OSError:
                        time.sleep(0.01)  # the far side is momentarily closed
                        continue
                    now = time.monotonic()
                    self._flush_idle(now)  # bytes after a silence start a new frame
                    self._last_rx[fd] = now
                    self._buf[fd] += data
                    self._split(fd)
        except Exception as exc:  # record why the thread died, then re-raise
            self.error = exc
            log.exception("pty link stopped")
            raise

    def _wait_s(self, now: float) -> float:
        """How long select may sleep: until the next frame is due or a partial frame goes stale."""
        due = [q[0][0] for q in self._out.values() if q]
        due += [self._last_rx[fd] + self._idle_s for fd, buf in self._buf.items() if buf]
        return max(0.0, min([now + 0.05, *due]) - now)

    def _deliver(self, now: float) -> None:
        for fd, queue in self._out.items():
            while queue and queue[0][0] <= now:
                os.write(fd, queue.popleft()[1])

    def _send(self, fd: int, data: bytes, extra_s: float = 0.0) -> None:
        """Queue ``data`` for ``fd`` after its wire time, behind whatever is still on its way there."""
        queue = self._out[fd]
        start = max(time.monotonic(), queue[-1][0] if queue else 0.0)
        queue.append((start + len(data) * self._byte_s + extra_s, data))

    def _flush_idle(self, now: float) -> None:
        """Forward, unchanged, bytes that made no complete frame before the line fell silent."""
        for fd, buf in self._buf.items():
            if buf and now - self._last_rx[fd] >= self._idle_s:
                self._record(SimEvent.GARBAGE, None, f"unframed {bytes(buf).hex(' ')}")
                self._send(self._peer(fd), bytes(buf))
                buf.clear()

    def _peer(self, fd: int) -> int:
        return self._m2 if fd == self._m1 else self._m1

    def _split(self, fd: int) -> None:
        """Cut complete frames off the front of ``fd``'s buffer and pass them on."""
        buf = self._buf[fd]
        direction = Direction.REQUEST if fd == self._m1 else Direction.REPLY
        while buf:
            try:
                length = rtu_frame_length(bytes(buf), direction)
            except FrameError:
                return  # no frame we can delimit: left for _flush_idle once the line is silent
            if length is None or len(buf) < length:
                return
            frame = bytes(buf[:length])
            del buf[:length]
            if direction is Direction.REQUEST:
                self._request(frame)
            else:
                self._reply(frame)

    def _request(self, frame: bytes) -> None:
        unit = frame[0]
        faults = self.plan.next_request() if self._listens(unit) else set()
        self._pending = None
        if OneShot.DROP_REQUEST in faults:
            self._record(SimEvent.DROPPED_REQUEST, unit, frame.hex(" "))
            return
        self._pending = (unit, faults)
        self._send(self._m2, frame)

    def _reply(self, frame: bytes) -> None:
        unit = frame[0]
        faults: set[OneShot] = set()
        if self._pending is not None and self._pending[0] == unit:
            faults = self._pending[1]
        self._pending = None
        if OneShot.DROP_REPLY in faults:
            self._record(SimEvent.DROPPED_REPLY, unit, frame.hex(" "))
            return
        if OneShot.CORRUPT_REPLY in faults:
            bit = self._rng.randrange(len(frame) * 8)
            flipped = bytearray(frame)
            flipped[bit // 8] ^= 1 << (bit % 8)
            frame = bytes(flipped)
            self._record(SimEvent.CORRUPTED_REPLY, unit, frame.hex(" "))
        late_s = 0.0
        if OneShot.LATE_REPLY in faults:
            late_s = self.plan.faults.late_s
            self._record(SimEvent.LATE_REPLY, unit, f"{late_s:.3f}s")
        self._send(self._m1, frame, late_s)


class ModbusRelaySim:
    """One RS485 line with Modbus relay boards (unit ids) on it; ``port`` is what the driver opens.

    Doors, jams and power live in the shared ``Wall`` (keyed by ``bus``). Every unit not on the wall, or
    without power, stays silent like a real bus. A flash-on write to 0x0200+n energises relay n for
    value*100 ms and unlocks lock n+1; door switches are the discrete inputs, read with ``polarity``.
    Relay and flash timers run on the wall's ``clock`` (like the doors' spring delay), so a test can drive
    them with a manual clock; only the line's wire timing (``PtyLink``) runs on real time.
    Communication faults (``faults``, ``set_faults``, ``queue_fault``; drawn with ``seed``) are injected on
    the line between driver and server by ``PtyLink``, for requests to units that answer.
    """

    def __init__(
        self,
        units: Iterable[int] = (1,),
        *,
        channels: int = 8,
        polarity: Polarity = Polarity.OPEN_HIGH,
        baud: int | None = 9600,
        wall: Wall | None = None,
        bus: str = "bus0",
        faults: Faults | None = None,
        seed: int = 0,
    ) -> None:
        self.units = sorted(set(units))
        if not self.units or not all(1 <= u <= 247 for u in self.units):
            raise ValueError("units must be Modbus unit ids 1..247")
        self.channels = channels
        self.polarity = polarity
        self.bus = bus
        self.wall = wall or Wall(spring_delay_s=0.05)
        for unit in self.units:
            if not self.wall.has_board(bus, unit):
                self.wall.add_board(bus, unit, channels)
        self._lock = threading.Lock()
        self._steady: dict[tuple[int, int], bool] = {}  # (unit, relay) -> switched on by FC 05/15
        self._flash_until: dict[tuple[int, int], float] = {}
        self._pulses: list[tuple[float, int, int, int]] = []  # (t, unit, lock, ms)
        self.plan = FaultPlan(faults, seed=seed)
        self._link = PtyLink(baud=baud, plan=self.plan, listens=self._listens, record=self._record, seed=seed)
        self.port = self._link.host_port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: ModbusSerialServer | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="modbus-sim", daemon=True)

    # -- start and stop ----

    def start(self) -> ModbusRelaySim:
        self._link.start()
        self._thread.start()
        if not self._ready.wait(timeout=5):
            raise RuntimeError("Modbus simulator did not start within 5 s")
        if self._error is not None:
            raise RuntimeError(f"Modbus simulator failed to start: {self._error}") from self._error
        return self

    def stop(self) -> None:
        loop, server = self._loop, self._server
        if loop is not None and server is not None and loop.is_running():
            done = asyncio.run_coroutine_threadsafe(server.shutdown(), loop)  # type: ignore[no-untyped-call]
            done.result(timeout=5)
        self._thread.join(timeout=5)
        self._link.stop()

    def __enter__(self) -> ModbusRelaySim:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- doors and faults (shortcuts to the wall) ----

    def close_door(self, unit: int, lock: int) -> None:
        self.wall.close_door(self.bus, unit, lock)

    def force_open(self, unit: int, lock: int) -> None:
        self.wall.force_open(self.bus, unit, lock)

    def jam(self, unit: int, lock: int, jammed: bool = True) -> None:
        self.wall.jam(self.bus, unit, lock, jammed)

    def set_silent(self, unit: int, silent: bool = True) -> None:
        """A silent board ignores every frame (power lost, cable cut)."""
        self.wall.set_powered(self.bus, unit, not silent)

    def door_open(self, unit: int, lock: int) -> bool:
        return self.wall.is_open(self.bus, unit, lock)

    def set_faults(self, faults: Faults) -> None:
        """Random faults for every following request/reply exchange with a unit that answers."""
        self.plan.update(faults)

    def queue_fault(self, fault: OneShot) -> None:
        """A fault for the next request to a unit that answers (and its reply)."""
        self.plan.queue(fault)

    @property
    def error(self) -> BaseException | None:
        """Set if the server thread or the line's thread died."""
        return self._error or self._link.error

    def relay_on(self, unit: int, lock: int) -> bool:
        with self._lock:
            return self._relay_on(unit, lock - 1, self.wall.clock())

    def records(self, event: SimEvent | None = None) -> list[Record]:
        """The wall's records for this bus (doors, faults, and every frame this simulator saw)."""
        return [r for r in self.wall.recorder.records(event) if r.where.split("/")[0] == self.bus]

    def pulses(self) -> list[tuple[int, int, int]]:
        """(unit, lock, ms) of every flash-on pulse so far."""
        with self._lock:
            return [(u, lock, ms) for (_t, u, lock, ms) in self._pulses]

    # -- the board ----

    def _relay_on(self, unit: int, relay: int, now: float) -> bool:
        return self._steady.get((unit, relay), False) or self._flash_until.get((unit, relay), 0.0) > now

    def _record(self, event: SimEvent, unit: int | None, detail: str) -> None:
        where = self.bus if unit is None else f"{self.bus}/{unit}"
        self.wall.recorder.add(Record(self.wall.clock(), event, where, detail))

    def _listens(self, unit: int) -> bool:
        """Whether ``unit`` is on this line and powered (faults are drawn only for requests it would answer)."""
        return unit in self.units and self.wall.is_powered(self.bus, unit)

    def _answers(self, unit: int, what: str) -> None:
        """Record the frame; raise NoSuchIdException (=> no reply at all) for silent or absent units."""
        if not self._listens(unit):
            self._record(SimEvent.IGNORED, unit, what)
            raise NoSuchIdException(f"unit {unit} is silent")
        self._record(SimEvent.RX, unit, what)

    def _bits(self, unit: int, function: int, n_regs: int) -> list[int]:
        now = self.wall.clock()
        bits: list[bool] = []
        for i in range(n_regs * 16):
            if i >= self.channels:
                bits.append(False)
            elif function == 1:
                with self._lock:
                    bits.append(self._relay_on(unit, i, now))
            else:
                is_open = self.wall.sensed_open(self.bus, unit, i + 1)
                bits.append(open_to_bit(is_open, self.polarity))
        return SimUtils.bitsToRegisters(bits)

    async def _action(  # noqa: PLR0917 (the signature is pymodbus's SimAction)
        self,
        unit: int,
        function: int,
        _start: int,
        address: int,
        count: int,
        registers: list[int],
        values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """Called by pymodbus for every access to a unit's data: refresh bits from the doors and relays."""
        self._answers(unit, f"{_FC_NAMES.get(function, f'fc {function}')} @{address} x{count}")
        if function in (1, 2) and values is None:
            n_regs = (self.channels + 15) // 16
            registers[:n_regs] = self._bits(unit, function, n_regs)
        elif function in (5, 15) and values is not None:
            for i, value in enumerate(values):
                self._set_relay(unit, address + i, bool(value))
        return None

    def _set_relay(self, unit: int, relay: int, on: bool) -> None:
        if not 0 <= relay < self.channels:
            return
        with self._lock:
            was_on = self._relay_on(unit, relay, self.wall.clock())
            self._steady[(unit, relay)] = on
            if not on:
                self._flash_until.pop((unit, relay), None)
        if on and not was_on:
            self.wall.unlock(self.bus, unit, relay + 1)

    def _flash(self, unit: int, address: int, value: int) -> ExcCodes | None:
        """Flash-on (0x0200+n) or flash-off (0x0400+n) write; returns an exception code for bad ones.

        A flash-on restarts the relay's timer and releases the lock even if the relay is still on from an
        earlier flash: the strike is energised at that moment, so a door shut meanwhile cannot stay latched.
        """
        self._answers(unit, f"flash @0x{address:04X} value {value}")
        base = FLASH_ON_BASE if address < FLASH_OFF_BASE else FLASH_OFF_BASE
        relay = address - base
        if not 0 <= relay < self.channels:
            return ExcCodes.ILLEGAL_ADDRESS
        if not 1 <= value <= 0x7FFF:
            return ExcCodes.ILLEGAL_VALUE
        now = self.wall.clock()
        with self._lock:
            if base == FLASH_OFF_BASE:  # the relay is (and stays) off: nothing moves
                self._steady[(unit, relay)] = False
                self._flash_until.pop((unit, relay), None)
                return None
            self._flash_until[(unit, relay)] = now + value * FLASH_UNIT_MS / 1000
            self._pulses.append((self.wall.clock(), unit, relay + 1, value * FLASH_UNIT_MS))
        self.wall.unlock(self.bus, unit, relay + 1)
        return None

    def _coil_write_class(self) -> type[ModbusPDU]:
        sim = self

        class SimCoilWrite(CoilWrite):
            """FC 05 as the board sees it: plain relay writes and the flash-on/off timers."""

            async def datastore_update(self, context: object, device_id: int) -> ModbusPDU:
                if self.address >= FLASH_ON_BASE:
                    rc = sim._flash(device_id, self.address, self.value)
                elif self.value not in (COIL_ON, COIL_OFF):
                    sim._answers(device_id, f"write relay @{self.address} bad value {self.value:#06x}")
                    rc = ExcCodes.ILLEGAL_VALUE
                else:
                    rc = await context.async_setValues(  # type: ignore[attr-defined]
                        device_id, 5, self.address, [self.value == COIL_ON]
                    )
                if rc:
                    return ExceptionResponse(self.function_code, rc)
                return CoilWrite(dev_id=device_id, address=self.address, value=self.value)

        return SimCoilWrite

    def _device(self, unit: int) -> SimDevice:
        def bits() -> list[SimData]:
            return [SimData(0, count=self.channels, values=False, datatype=DataType.BITS)]

        def regs() -> list[SimData]:
            return [SimData(0, values=0, datatype=DataType.REGISTERS)]

        return SimDevice(
            unit,
            simdata=(bits(), bits(), regs(), regs()),
            action=functools.partial(self._action, unit),
        )

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except Exception as exc:  # reported to start() and re-raised there, never dropped
            self._error = exc
            self._ready.set()
            log.exception("Modbus simulator stopped with an error")

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        devices = [self._device(0)] + [self._device(u) for u in self.units]  # 0: every other id, silent
        self._server = ModbusSerialServer(
            devices,
            framer=FramerType.RTU,
            port=self._link.device_port,
            baudrate=9600,
            ignore_missing_devices=True,
            custom_pdu=[self._coil_write_class()],
        )
        await self._server.serve_forever(background=True)
        self._ready.set()
        await self._server.serving
