"""The state model: order and compartment states, their allowed transitions (as data), and the records."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Annotated

from locker.doctypes import DocumentType
from locker.errors import TransitionError


class Size(enum.StrEnum):
    """Compartment and envelope sizes; a larger compartment takes a smaller envelope."""

    S = "S"
    M = "M"
    L = "L"

    @property
    def rank(self) -> int:
        return "SML".index(self.value)

    def fits_into(self, compartment: Size) -> bool:
        return self.rank <= compartment.rank


class OrderState(enum.StrEnum):
    ANNOUNCED = "announced"  # synced, not (yet) in a compartment; may be assigned one while loading
    STORED = "stored"  # loaded, door closed: the citizen is notified
    COLLECTING = "collecting"  # code consumed, door commanded; collected once the door closed on an empty compartment
    COLLECTED = "collected"  # door closed, compartment known empty (sensor or the citizen's word): proof written
    EXPIRED = "expired"  # pickup window over
    RETURNED = "returned"  # staff took it out of the compartment
    CANCELLED = "cancelled"  # cancelled by the backend


class CompartmentState(enum.StrEnum):
    FREE = "free"
    LOADING = "loading"  # assigned to an order being loaded; door commanded or open
    OCCUPIED = "occupied"  # holds a document (or a returned old ID)
    OPENING = "opening"  # a door cycle for pickup, return or maintenance is in progress
    # The door closed after a cycle on a board without item sensor: a person must say what is inside (staff after a
    # loading: "envelope inside"; the citizen after a pickup: "I have taken my document"; after an old ID: "inside").
    CHECKING = "checking"
    FAULTY = "faulty"  # did not open, forced, or sensors disagree: staff must look
    DISABLED = "disabled"  # taken out of service by staff


class OpenPurpose(enum.StrEnum):
    """Why a compartment in state OPENING was opened."""

    PICKUP = "pickup"
    RETURN = "return"
    MAINTENANCE = "maintenance"
    OLD_ID = "old_id"  # after a pickup, the citizen puts the old ID card in
    COUNTER = "counter"  # staff take the document out to hand it over to the citizen in person
    # Staff move a document to another compartment: the source opens for them to take it out (OPENING), then the
    # target takes it in (LOADING, with ``move_from`` naming the source).
    MOVE = "move"


class Content(enum.StrEnum):
    """What is physically in a compartment as far as the station knows."""

    NONE = "none"
    DOCUMENT = "document"
    OLD_ID = "old_id"


class DoorState(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    UNKNOWN = "unknown"


class AlarmKind(enum.StrEnum):
    DOOR_FORCED = "door_forced"
    DOOR_LEFT_OPEN = "door_left_open"
    DOOR_DID_NOT_OPEN = "door_did_not_open"
    DOCUMENT_LEFT_BEHIND = "document_left_behind"  # a pickup's door closed on the document (or nobody said otherwise)
    SENSOR_DISAGREES = "sensor_disagrees"
    BOARD_OFFLINE = "board_offline"
    BRUTE_FORCE = "brute_force"  # many wrong citizen codes at the station
    STAFF_BRUTE_FORCE = "staff_brute_force"  # many wrong staff logins at the station
    STALE_DATA = "stale_data"  # no fresh bundle from the hub for longer than sync.max_data_age_h
    INTERRUPTED_CYCLE = "interrupted_cycle"
    SCANNER_FAILED = "scanner_failed"
    SCREEN_FAILED = "screen_failed"  # the kiosk UI's ticker (screen timeouts, door screens) failed a round


ORDER_TRANSITIONS: dict[OrderState, frozenset[OrderState]] = {
    OrderState.ANNOUNCED: frozenset({OrderState.STORED, OrderState.EXPIRED, OrderState.CANCELLED}),
    # stored/expired/returned -> collected: handed over by staff at the counter (method "counter")
    OrderState.STORED: frozenset(
        {OrderState.COLLECTING, OrderState.EXPIRED, OrderState.CANCELLED, OrderState.RETURNED, OrderState.COLLECTED}
    ),
    OrderState.COLLECTING: frozenset({OrderState.COLLECTED, OrderState.STORED}),
    OrderState.COLLECTED: frozenset(),
    OrderState.EXPIRED: frozenset({OrderState.RETURNED, OrderState.COLLECTED}),
    OrderState.RETURNED: frozenset({OrderState.COLLECTED}),
    OrderState.CANCELLED: frozenset({OrderState.RETURNED}),
}

COMPARTMENT_TRANSITIONS: dict[CompartmentState, frozenset[CompartmentState]] = {
    CompartmentState.FREE: frozenset(
        {
            CompartmentState.LOADING,
            CompartmentState.OPENING,
            CompartmentState.FAULTY,
            CompartmentState.DISABLED,
        }
    ),
    CompartmentState.LOADING: frozenset(
        {CompartmentState.OCCUPIED, CompartmentState.FREE, CompartmentState.FAULTY, CompartmentState.CHECKING}
    ),
    CompartmentState.CHECKING: frozenset(
        {
            CompartmentState.LOADING,
            CompartmentState.OPENING,
            CompartmentState.OCCUPIED,
            CompartmentState.FREE,
            CompartmentState.FAULTY,
            CompartmentState.DISABLED,  # staff emptied a disabled compartment (counter, move): it stays disabled
        }
    ),
    CompartmentState.OCCUPIED: frozenset(
        {CompartmentState.OPENING, CompartmentState.FAULTY, CompartmentState.DISABLED}
    ),
    CompartmentState.OPENING: frozenset(
        {
            CompartmentState.CHECKING,
            CompartmentState.FREE,
            CompartmentState.OCCUPIED,
            CompartmentState.FAULTY,
            CompartmentState.DISABLED,
        }
    ),
    CompartmentState.FAULTY: frozenset(
        {
            CompartmentState.OPENING,
            CompartmentState.FREE,
            CompartmentState.OCCUPIED,
            CompartmentState.DISABLED,
        }
    ),
    CompartmentState.DISABLED: frozenset(
        {CompartmentState.OPENING, CompartmentState.FREE, CompartmentState.OCCUPIED, CompartmentState.FAULTY}
    ),
}

# Order states in which the order physically occupies its compartment.
IN_COMPARTMENT = frozenset({OrderState.STORED, OrderState.COLLECTING, OrderState.EXPIRED, OrderState.CANCELLED})
# Order states in which a pickup number must be unique among the station's orders.
LIVE = frozenset({OrderState.ANNOUNCED, OrderState.STORED, OrderState.COLLECTING, OrderState.EXPIRED})


def check_order_transition(old: OrderState, new: OrderState) -> None:
    """Raise TransitionError unless the state model allows ``old -> new`` for an order."""
    if new not in ORDER_TRANSITIONS[old]:
        raise TransitionError(f"order: {old} -> {new} is not allowed")


def check_compartment_transition(old: CompartmentState, new: CompartmentState) -> None:
    """Raise TransitionError unless the state model allows ``old -> new`` for a compartment."""
    if new not in COMPARTMENT_TRANSITIONS[old]:
        raise TransitionError(f"compartment: {old} -> {new} is not allowed")


@dataclass(frozen=True)
class ByteLength:
    """Marks a ``bytes`` field of a record with its exact length; the wire codec checks it while decoding."""

    n: int


Digest = Annotated[bytes, ByteLength(32)]  # a SHA-256 value: QR verifier, badge hash


@dataclass(frozen=True)
class NewOrder:
    """An order as the backend announces it (verifiers only, never codes or personal data).

    The one definition of an order's terms: the sync protocol carries it as it is, the store inserts it, and
    ``Order`` adds what the station made of it.
    """

    id: str
    pickup_number: str
    document_kind: DocumentType  # the document type (wire and column name kept from the free-text kind)
    size: Size
    reachable: bool
    return_old_id: bool
    valid_from: float
    valid_until: float
    qr_verifier: Digest
    pin_verifier: str


@dataclass(frozen=True)
class Order(NewOrder):
    """An announced order with its state at this station."""

    state: OrderState
    compartment: int | None
    manual_failures: int  # wrong PINs for this order (the manual path locks at policy.manual_max_failures)
    code_used: bool
    factor_failures: int = 0  # wrong second factors after its valid QR code (the QR path locks alike)
    receipt: str = ""  # JSON: how the citizen confirmed receipt (method, statement), from confirmation to handover


@dataclass(frozen=True)
class Statement:
    """The receipt statement a citizen confirmed: which text (id), which wording (version), in which language."""

    id: str
    version: str
    language: str

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "version": self.version, "language": self.language}


@dataclass(frozen=True)
class StaffAccount:
    """A staff account as the backend sends it and the station keeps it (verifiers only)."""

    id: str
    badge_hash: Digest
    pin_verifier: str
    roles: tuple[str, ...]
    active: bool


@dataclass(frozen=True)
class Compartment:
    number: int
    size: Size
    height_mm: int
    state: CompartmentState
    order_id: str | None
    content: Content
    purpose: OpenPurpose | None
    resume_state: CompartmentState | None
    door_confirmed_at: float | None
    door_alarmed: bool
    reason: str
    changed_at: float = 0.0  # when the compartment's row last changed (timers for unanswered CHECKING)
    move_from: int | None = None  # the target of a move: the compartment the document came out of

    @property
    def waits_for_move(self) -> bool:
        """A move's target waiting for staff to open it (the envelope is in their hands; its door is shut)."""
        return self.state == CompartmentState.LOADING and self.move_from is not None and self.door_confirmed_at is None
