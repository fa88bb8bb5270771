"""The body of every outbox event kind: one strict schema, which the hub checks each event against."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backend_sync import protocol as p
from backend_sync import schema
from backend_sync.commands import RESULT_EVENT, CommandKind, CommandOutcome
from backend_sync.errors import SchemaError
from backend_sync.schema import Hex32


@dataclass(frozen=True)
class StatementRef:
    """The receipt statement the citizen confirmed: text id, wording version, language."""

    id: str
    version: str
    language: str


@dataclass(frozen=True)
class Proof:
    audit_seq: int  # the audit entry that records the handover
    audit_hash: Hex32  # its chain hash
    # Stations since kiosk migration 0007 always send these three; older stations' proofs lack them.
    method: str = ""  # how the code was given: qr | manual | counter
    statement: StatementRef | None = None
    taken: str = ""  # who says the compartment was empty afterwards: sensor | citizen | staff
    staff: tuple[str, ...] = ()  # method counter: the staff who handed it over


# Every body has the envelope ``id`` (the outbox event id), ``kind`` and ``t`` (the kiosk's time, seconds).
@dataclass(frozen=True)
class OrderAtCompartment:
    """``stored``, ``returned``, ``old_id_taken``: what happened to an order at a compartment."""

    id: str
    kind: str
    t: float
    order: str
    compartment: int


@dataclass(frozen=True)
class Collected:
    id: str
    kind: str
    t: float
    order: str
    compartment: int | None  # null: handed over at the counter after staff had taken it out (returned)
    old_id_returned: bool
    proof: Proof


@dataclass(frozen=True)
class OldIdReturned:
    """The citizen's old ID card went into the compartment after the pickup."""

    id: str
    kind: str
    t: float
    order: str
    compartment: int
    by: str  # sensor | citizen | unanswered (nobody said; staff check when they take it out)


@dataclass(frozen=True)
class Moved:
    """Staff moved a stored document to another compartment (same order and codes; no notice is due)."""

    id: str
    kind: str
    t: float
    order: str
    compartment: int  # where the document lies now
    from_compartment: int  # where it lay before


@dataclass(frozen=True)
class ManualPath:
    """An order's manual path (pickup number + PIN) locked by too many wrong PINs, or unlocked by staff."""

    id: str
    kind: str
    t: float
    order: str
    locked: bool


@dataclass(frozen=True)
class Expired:
    id: str
    kind: str
    t: float
    order: str
    compartment: int | None  # null: an announced order that was never loaded


@dataclass(frozen=True)
class Alarm:
    id: str
    kind: str
    t: float
    alarm: str  # the alarm kind (snake_case); kinds a newer station adds are recorded as they come
    compartment: int | None
    board: str  # "" unless a lock board is concerned
    raised: bool  # true: raised, false: cleared


@dataclass(frozen=True)
class CancelDeferred:
    id: str
    kind: str
    t: float
    order: str
    state: str  # the order's state at the kiosk, which kept it from being cancelled now


@dataclass(frozen=True)
class BundleApplied:
    id: str
    kind: str
    t: float
    seq: int
    manifest: Hex32  # the applied manifest's hash: the head the next bundle builds on


@dataclass(frozen=True)
class CommandResultEvent:
    id: str
    kind: str
    t: float
    command: str
    command_kind: CommandKind
    outcome: CommandOutcome
    detail: str


BODIES: dict[str, type[Any]] = {
    "stored": OrderAtCompartment,
    "collected": Collected,
    "expired": Expired,
    "returned": OrderAtCompartment,
    "old_id_returned": OldIdReturned,
    "old_id_taken": OrderAtCompartment,
    "moved": Moved,
    "manual_path": ManualPath,
    "alarm": Alarm,
    "cancel_deferred": CancelDeferred,
    "bundle_applied": BundleApplied,
    RESULT_EVENT: CommandResultEvent,
}


def check(item: p.EventItem) -> dict[str, Any]:
    """The parsed body of one event, checked against its kind's schema and its envelope; SchemaError names what
    is wrong (an unknown kind, a missing, unknown or mistyped field, an id or kind that is not the item's)."""
    cls = BODIES.get(item.kind)
    if cls is None:
        raise SchemaError(f"event {item.id}: unknown kind {item.kind!r} (known: {', '.join(sorted(BODIES))})")
    data = schema.loads(item.body)
    body = schema.decode(cls, data, f"event {item.kind}")
    if body.id != item.id or body.kind != item.kind:
        raise SchemaError(f"event {item.id}: its body is the event {body.id} of kind {body.kind!r}")
    if not body.id:
        raise SchemaError("event: empty id")
    result: dict[str, Any] = data
    return result
