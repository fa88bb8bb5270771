"""SimControl over the in-process MemoryLockBank; scans go through the station's ScanHub like real scanners."""

from __future__ import annotations

from firmware_bridge.memory_bank import MemoryLockBank
from firmware_bridge.scanners.hub import ScanHub
from kiosk_ui.sim import SimCompartment
from locker.ports import Scan, ScanSource
from locker.station import Station


class MemorySim:
    def __init__(self, bank: MemoryLockBank, station: Station, hub: ScanHub) -> None:
        self.bank = bank
        self.station = station
        self.hub = hub

    def present_scan(self, text: str) -> None:
        self.hub.publish(Scan(text, ScanSource.SIMULATOR, self.station.clock.now()))

    def _check(self, compartment: int) -> None:
        if compartment not in self.bank.doors:
            raise KeyError(compartment)

    def close_door(self, compartment: int) -> None:
        self._check(compartment)
        self.bank.close(compartment)

    def set_item(self, compartment: int, present: bool) -> None:
        self._check(compartment)
        if present:
            self.bank.put_item(compartment)
        else:
            self.bank.take_item(compartment)

    def jam(self, compartment: int, jammed: bool) -> None:
        self._check(compartment)
        self.bank.jam(compartment, jammed)

    def silence(self, silent: bool) -> None:
        self.bank.silent = silent

    def state(self) -> list[SimCompartment]:
        out = []
        for c in self.station.compartments():
            d = self.bank.doors[c.number]
            order = self.station.reads.order(c.order_id) if c.order_id else None
            out.append(
                SimCompartment(
                    c.number,
                    d.open,
                    d.item if self.bank.item_sensors else None,
                    False,  # the memory bank pulses instantly: a lock is never left energised
                    d.jammed,
                    c.state.value,
                    order.state.value if order else None,
                )
            )
        return out
