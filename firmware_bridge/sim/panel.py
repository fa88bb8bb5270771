"""What the /sim panel does to a simulated station: over the memory lock bank or the simulated wall, one logic."""

from __future__ import annotations

import abc
from dataclasses import asdict, dataclass
from typing import Any

from firmware_bridge.memory_bank import MemoryLockBank
from firmware_bridge.scanners.hub import ScanHub
from firmware_bridge.sim.station import SimulatedWall
from firmware_bridge.sim.wall import DoorPhase
from locker.ports import Scan, ScanSource
from locker.station import Station


@dataclass(frozen=True)
class PanelRow:
    """One compartment as the panel shows it (``/sim/api/state``)."""

    number: int
    door_open: bool
    item: bool | None  # None: no item sensor
    lock_energised: bool
    jammed: bool
    compartment_state: str
    order_state: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Hardware:
    door_open: bool
    item: bool | None
    lock_energised: bool
    jammed: bool


class _Panel(abc.ABC):
    """The people in front of the wall and the scanner (kiosk_ui.sim.SimControl); subclasses reach the doors."""

    def __init__(self, station: Station, hub: ScanHub) -> None:
        self.station = station
        self.hub = hub

    def present_scan(self, text: str) -> None:
        """Hold a code under the scanner: it goes through the scan hub like a real scanner's."""
        self.hub.publish(Scan(text, ScanSource.SIMULATOR, self.station.clock.now()))

    def close_door(self, compartment: int) -> None:
        self._check(compartment)
        self._close(compartment)

    def set_item(self, compartment: int, present: bool) -> None:
        self._check(compartment)
        self._set_item(compartment, present)

    def jam(self, compartment: int, jammed: bool) -> None:
        self._check(compartment)
        self._jam(compartment, jammed)

    def state(self) -> list[PanelRow]:
        out = []
        for c in self.station.compartments():
            hw = self._hardware(c.number)
            order = self.station.reads.order(c.order_id) if c.order_id else None
            out.append(
                PanelRow(
                    c.number,
                    hw.door_open,
                    hw.item,
                    hw.lock_energised,
                    hw.jammed,
                    c.state.value,
                    order.state.value if order else None,
                )
            )
        return out

    def _check(self, compartment: int) -> None:
        self.station.config.compartment(compartment)  # ConfigError (a LockerError) for an unknown number

    @abc.abstractmethod
    def silence(self, silent: bool) -> None:
        """Make the lock boards stop answering (or answer again)."""

    @abc.abstractmethod
    def _close(self, compartment: int) -> None: ...

    @abc.abstractmethod
    def _set_item(self, compartment: int, present: bool) -> None: ...

    @abc.abstractmethod
    def _jam(self, compartment: int, jammed: bool) -> None: ...

    @abc.abstractmethod
    def _hardware(self, compartment: int) -> _Hardware: ...


class MemoryPanel(_Panel):
    """Over the in-process MemoryLockBank (UI tests): doors change at once, a lock is never left energised."""

    def __init__(self, bank: MemoryLockBank, station: Station, hub: ScanHub) -> None:
        super().__init__(station, hub)
        self.bank = bank

    def silence(self, silent: bool) -> None:
        self.bank.silent = silent

    def _close(self, compartment: int) -> None:
        self.bank.close(compartment)

    def _set_item(self, compartment: int, present: bool) -> None:
        if present:
            self.bank.put_item(compartment)
        else:
            self.bank.take_item(compartment)

    def _jam(self, compartment: int, jammed: bool) -> None:
        self.bank.jam(compartment, jammed)

    def _hardware(self, compartment: int) -> _Hardware:
        d = self.bank.doors[compartment]
        return _Hardware(d.open, d.item if self.bank.item_sensors else None, False, d.jammed)


class WallPanel(_Panel):
    """Over the simulated wall (the demo): the real drivers then read what people did through the simulators."""

    def __init__(self, hardware: SimulatedWall, station: Station, hub: ScanHub) -> None:
        super().__init__(station, hub)
        self.hardware = hardware

    def silence(self, silent: bool) -> None:
        for bus in self.station.config.buses:
            for board in sorted({c.board for c in self.station.config.compartments if c.bus == bus.name}):
                self.hardware.power(bus.name, board, not silent)

    def _close(self, compartment: int) -> None:
        self.hardware.close(compartment)

    def _set_item(self, compartment: int, present: bool) -> None:
        self.hardware.set_item(compartment, present)

    def _jam(self, compartment: int, jammed: bool) -> None:
        self.hardware.jam(compartment, jammed)

    def _hardware(self, compartment: int) -> _Hardware:
        v = self.hardware.view(compartment)
        return _Hardware(
            v.phase is DoorPhase.OPEN,
            v.item if v.item_sensor else None,
            v.phase is DoorPhase.RELEASED,  # unlatched by a pulse, not yet swung open
            v.jammed,
        )
