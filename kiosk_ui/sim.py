"""The simulator panel's view of a station: what can be done to the hardware and what state it is in."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class SimCompartment:
    number: int
    door_open: bool
    item: bool | None  # None: no item sensor
    lock_energised: bool
    jammed: bool
    compartment_state: str
    order_state: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class SimControl(Protocol):
    """What the /sim panel does to a simulated station (implemented over a memory lock bank or a wall model)."""

    def present_scan(self, text: str) -> None:
        """Hold a code under the scanner."""
        ...

    def close_door(self, compartment: int) -> None: ...

    def set_item(self, compartment: int, present: bool) -> None: ...

    def jam(self, compartment: int, jammed: bool) -> None: ...

    def silence(self, silent: bool) -> None:
        """Make the lock boards stop answering (or answer again)."""
        ...

    def state(self) -> list[SimCompartment]: ...
