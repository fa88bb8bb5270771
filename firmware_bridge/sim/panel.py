"""What the /sim panel does to a simulated station: the people's hands on the wall, and the scanner."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from firmware_bridge.scanners.hub import ScanHub
from firmware_bridge.sim.hands import Hands
from firmware_bridge.sim.wall import DoorPhase
from locker.ports import Scan, ScanSource
from locker.station import Station


@dataclass(frozen=True)
class PanelRow:
    """One compartment as the panel shows it (``/sim/api/state``)."""

    number: int
    door_open: bool
    item: bool | None  # None: no item sensor
    lock_energised: bool  # unlatched by a pulse, not yet swung open
    jammed: bool
    compartment_state: str
    order_state: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Panel:
    """Implements kiosk_ui.sim.SimControl over any simulated wall: the in-process memory bank (UI tests) or the
    simulated boards under the real drivers (the demo); both are ``Hands`` on the same physics model."""

    def __init__(self, hands: Hands, station: Station, hub: ScanHub) -> None:
        self.hands = hands
        self.station = station
        self.hub = hub

    def present_scan(self, text: str) -> None:
        """Hold a code under the scanner: it goes through the scan hub like a real scanner's."""
        self.hub.publish(Scan(text, ScanSource.SIMULATOR, self.station.clock.now()))

    def close_door(self, compartment: int) -> None:
        self._check(compartment)
        self.hands.close(compartment)

    def set_item(self, compartment: int, present: bool) -> None:
        self._check(compartment)
        self.hands.set_item(compartment, present)

    def jam(self, compartment: int, jammed: bool) -> None:
        self._check(compartment)
        self.hands.jam(compartment, jammed)

    def silence(self, silent: bool) -> None:
        """Make the lock boards stop answering (or answer again)."""
        self.hands.silence(silent)

    def state(self) -> list[PanelRow]:
        out = []
        for c in self.station.compartments():
            v = self.hands.view(c.number)
            order = self.station.reads.order(c.order_id) if c.order_id else None
            out.append(
                PanelRow(
                    c.number,
                    v.phase is DoorPhase.OPEN,
                    v.item if v.item_sensor else None,
                    v.phase is DoorPhase.RELEASED,
                    v.jammed,
                    c.state.value,
                    order.state.value if order else None,
                )
            )
        return out

    def _check(self, compartment: int) -> None:
        self.station.config.compartment(compartment)  # ConfigError (a LockerError) for an unknown number
