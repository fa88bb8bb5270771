"""Modbus RTU relay boards played by pymodbus's own server on a pseudo-terminal, with doors and faults."""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Iterable
from types import TracebackType

from pymodbus import FramerType
from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException
from pymodbus.pdu import ExceptionResponse, ModbusPDU
from pymodbus.server import ModbusSerialServer
from pymodbus.simulator import DataType, SimData, SimDevice
from pymodbus.simulator.simutils import SimUtils

from firmware_bridge.modbus_relay import (
    COIL_OFF,
    COIL_ON,
    FLASH_OFF_BASE,
    FLASH_ON_BASE,
    FLASH_UNIT_MS,
    CoilWrite,
)
from firmware_bridge.protocols.frames import open_to_bit
from firmware_bridge.sim.faults import FaultPlan, Faults, OneShot
from firmware_bridge.sim.rtu_line import PtyLink
from firmware_bridge.sim.wall import Record, SimEvent, Wall
from locker.config import Polarity

log = logging.getLogger(__name__)

_FC_NAMES = {1: "read relays", 2: "read inputs", 5: "write relay", 15: "write relays"}


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
