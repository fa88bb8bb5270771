"""The simulator panel's view of a station: what can be done to the hardware and what state it is in."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class SimRow(Protocol):
    """One compartment of the panel: its door, item, lock and states as the JSON ``/sim/api/state`` lists."""

    def as_dict(self) -> dict[str, Any]: ...


class SimControl(Protocol):
    """What the /sim panel does to a simulated station. The UI's port: ``firmware_bridge.sim.panel`` implements it
    (over the memory lock bank, or over the simulated wall), and the composition root passes one in."""

    def present_scan(self, text: str) -> None:
        """Hold a code under the scanner."""
        ...

    def close_door(self, compartment: int) -> None: ...

    def set_item(self, compartment: int, present: bool) -> None: ...

    def jam(self, compartment: int, jammed: bool) -> None: ...

    def silence(self, silent: bool) -> None:
        """Make the lock boards stop answering (or answer again)."""
        ...

    def state(self) -> Sequence[SimRow]: ...
