"""Interfaces the core needs from the outside world: lock bank, clock, outbox and scanner stream."""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from locker.errors import HardwareError
from locker.model import DoorState


class DoorEventKind(enum.StrEnum):
    OPENED = "opened"  # a door read open
    CLOSED = "closed"  # a door read closed
    OPENED_UNCOMMANDED = "opened_uncommanded"  # opened although no unlock was sent (forced)
    ITEM_PRESENT = "item_present"
    ITEM_ABSENT = "item_absent"
    BOARD_OFFLINE = "board_offline"
    BOARD_ONLINE = "board_online"


@dataclass(frozen=True)
class DoorEvent:
    """Something a lock bank observed. ``compartment`` is None for board-level events."""

    kind: DoorEventKind
    compartment: int | None
    at: float
    board: str = ""  # "bus/address" for board events


@dataclass(frozen=True)
class DoorReading:
    door: DoorState
    item: bool | None  # None: this board has no item sensor for the compartment


@dataclass(frozen=True)
class UnlockResult:
    compartment: int
    opened: bool  # the door read open before the deadline
    ms: float


class LockBank(Protocol):
    """Opens compartments and reports their doors. Implementations raise HardwareError subclasses."""

    def unlock(self, compartment: int, confirm_s: float) -> UnlockResult:
        """Pulse the lock once, then read the door until it reads open or ``confirm_s`` passes."""
        ...

    def read(self, compartment: int) -> DoorReading:
        """Read the current door and item state of one compartment from the board."""
        ...

    def read_many(self, compartments: Sequence[int]) -> dict[int, DoorReading | HardwareError]:
        """Read many compartments with one status exchange per board: each gets its reading, or the error that
        kept its board from answering (start-up recovery of a large station reads every door this way)."""
        ...

    def poll_events(self, timeout: float) -> Sequence[DoorEvent]:
        """Wait up to ``timeout`` seconds for door/board events and return those that happened."""
        ...

    def safe_state(self) -> None:
        """Drive every lock output to its de-energised state (called at start and stop)."""
        ...


class Clock(Protocol):
    """Wall time (seconds since the epoch) that never goes below the station's time floor."""

    def now(self) -> float: ...


@dataclass(frozen=True)
class OutboxEvent:
    id: str
    seq: int
    kind: str
    body: str  # canonical JSON
    created_at: float


class Outbox(Protocol):
    """Events waiting for delivery to the backend (written in the same transaction as the change)."""

    def pending(self, limit: int) -> list[OutboxEvent]: ...

    def mark_delivered(self, ids: Sequence[str], at: float) -> None: ...


class ScanSource(enum.StrEnum):
    CAMERA = "camera"
    WEDGE = "wedge"
    SERIAL = "serial"
    SIMULATOR = "simulator"


@dataclass(frozen=True)
class Scan:
    """One payload read by a scanner; which flow it is for is decided by the flow, not the scanner."""

    text: str
    source: ScanSource
    at: float


class ScannerState(enum.StrEnum):
    """Health of one scanner: the UI keeps offering the manual code while the camera is FAILED."""

    OK = "ok"
    FAILED = "failed"


@dataclass(frozen=True)
class StatusChange:
    """A scanner went from working to failed or back; ``name`` tells scanners of one source apart."""

    source: ScanSource
    name: str
    state: ScannerState
    at: float
    reason: str = ""


@dataclass(frozen=True)
class HeadsetChange:
    """A headset was plugged into the station's jack or pulled out (its switch, SW_HEADPHONE_INSERT): speech follows.
    It travels with the scans because it is input at the station that the screen's session must hear of."""

    plugged: bool
    at: float
    name: str = "headset"


ScanEvent = Scan | StatusChange | HeadsetChange


class ScanFeed(Protocol):
    """The stream of scans and scanner status changes (``firmware_bridge.scanners.hub.ScanHub`` implements it)."""

    def subscribe(self, callback: Callable[[ScanEvent], None]) -> Callable[[], None]:
        """Call ``callback`` for every future event (in the scanner's thread); returns the unsubscribe function."""
        ...
