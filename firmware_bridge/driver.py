"""The interface every lock-board driver implements (one protocol per driver module)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from locker.model import DoorState


@dataclass(frozen=True)
class BoardStatus:
    """Door and item states of one board. Locks are numbered from 1 on every driver."""

    board: int
    doors: dict[int, DoorState]
    items: dict[int, bool | None] = field(default_factory=dict)  # missing or None: no item sensor


class BoardDriver(Protocol):
    """Talks one protocol to the boards on one bus. Raises firmware_bridge.errors.BridgeError subclasses."""

    name: str  # the config name, e.g. "kerong-cu16"

    def status(self, board: int) -> BoardStatus:
        """Read every door (and item sensor) of one board."""
        ...

    def pulse(self, board: int, lock: int) -> None:
        """Energise one lock for the configured pulse (board-timed where the board can). Does not confirm."""
        ...

    def scan(self, addresses: Iterable[int]) -> list[int]:
        """Return the addresses among ``addresses`` whose board answers."""
        ...

    def safe_state(self) -> None:
        """Drive every output this driver controls to its de-energised state."""
        ...

    def close(self) -> None:
        """Release the port or pins."""
        ...
