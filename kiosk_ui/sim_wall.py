"""SimControl over the byte-level simulated wall (the demo): the /sim panel acts on the simulators' doors."""

from __future__ import annotations

from firmware_bridge.scanners.hub import ScanHub
from firmware_bridge.sim.station import SimulatedWall
from firmware_bridge.sim.wall import DoorPhase
from kiosk_ui.sim import SimCompartment
from locker.ports import Scan, ScanSource
from locker.station import Station


class WallSim:
    """What people in front of a simulated wall do; the real drivers then read it over the pseudo-terminals."""

    def __init__(self, hardware: SimulatedWall, station: Station, hub: ScanHub) -> None:
        self.hardware = hardware
        self.station = station
        self.hub = hub

    def present_scan(self, text: str) -> None:
        self.hub.publish(Scan(text, ScanSource.SIMULATOR, self.station.clock.now()))

    def _check(self, compartment: int) -> None:
        self.station.config.compartment(compartment)  # ConfigError (a LockerError) for an unknown number

    def close_door(self, compartment: int) -> None:
        self._check(compartment)
        self.hardware.close(compartment)

    def set_item(self, compartment: int, present: bool) -> None:
        self._check(compartment)
        self.hardware.set_item(compartment, present)

    def jam(self, compartment: int, jammed: bool) -> None:
        self._check(compartment)
        self.hardware.jam(compartment, jammed)

    def silence(self, silent: bool) -> None:
        for bus in self.station.config.buses:
            for board in sorted({c.board for c in self.station.config.compartments if c.bus == bus.name}):
                self.hardware.power(bus.name, board, not silent)

    def state(self) -> list[SimCompartment]:
        out = []
        for c in self.station.compartments():
            v = self.hardware.view(c.number)
            order = self.station.reads.order(c.order_id) if c.order_id else None
            out.append(
                SimCompartment(
                    c.number,
                    v.phase is DoorPhase.OPEN,
                    v.item if v.item_sensor else None,
                    v.phase is DoorPhase.RELEASED,  # unlatched by a pulse, not yet swung open
                    v.jammed,
                    c.state.value,
                    order.state.value if order else None,
                )
            )
        return out
