"""What a closed door means, in one place: stored, collected, left behind, old ID in or not, moved (inside a
transaction)."""

from __future__ import annotations

import enum
import json
from typing import Any

from locker.config import StationConfig
from locker.errors import NoFreeCompartment
from locker.flows.common import choose_compartment
from locker.model import AlarmKind, Compartment, CompartmentState, Content, OpenPurpose, Order, OrderState
from locker.store import Tx

# Fields a compartment drops when a door cycle ends.
_CYCLE_OVER: dict[str, Any] = {"purpose": None, "resume_state": None, "door_confirmed_at": None, "door_alarmed": False}


class Witness(enum.StrEnum):
    """Who says what is inside a closed compartment."""

    SENSOR = "sensor"  # the item sensor
    CITIZEN = "citizen"  # the citizen's answer on the screen (boards without item sensor)
    STAFF = "staff"  # a staff member's answer on the staff screen
    UNANSWERED = "unanswered"  # nobody answered within timing.answer_s: the station assumes the safe side


def receipt_of(order: Order) -> dict[str, Any]:
    """The receipt confirmation recorded with the order (method and statement); empty if there was none."""
    if not order.receipt:
        return {}
    data: dict[str, Any] = json.loads(order.receipt)
    return data


def checking(tx: Tx, c: Compartment) -> None:
    """The door closed on a board without item sensor: wait for a person to say what is inside."""
    tx.set_compartment(
        c, CompartmentState.CHECKING, why="door.closed_unsensed", door_confirmed_at=None, door_alarmed=False
    )


def stored(tx: Tx, c: Compartment, order: Order, by: Witness) -> None:
    """The envelope is inside (sensor or staff): the order is stored and the citizen may be notified."""
    tx.set_compartment(c, CompartmentState.OCCUPIED, why="load.closed", content=Content.DOCUMENT, **_CYCLE_OVER)
    tx.audit("load.inside", order=order.id, compartment=c.number, by=by)
    tx.set_order(order, OrderState.STORED, why="load.closed")
    tx.outbox("stored", order=order.id, compartment=c.number)


def not_loaded(tx: Tx, c: Compartment, order: Order, by: Witness) -> None:
    """The loading's door closed on an empty compartment: the assignment is undone, nobody is notified."""
    tx.set_compartment(c, CompartmentState.FREE, why="load.empty", order_id=None, content=Content.NONE, **_CYCLE_OVER)
    tx.audit("load.empty", order=order.id, compartment=c.number, by=by)
    tx.set_order(order, why="load.unassigned", compartment=None)


def collected(tx: Tx, c: Compartment, order: Order, taken: Witness) -> None:
    """The door closed on an empty compartment after a pickup (or a counter handover): the handover happened, its
    proof is written. A faulty or disabled compartment emptied by staff stays so (they enable it when checked)."""
    keep = c.purpose == OpenPurpose.COUNTER and c.resume_state in (CompartmentState.FAULTY, CompartmentState.DISABLED)
    target = c.resume_state if keep and c.resume_state else CompartmentState.FREE
    tx.set_compartment(c, target, why="pickup.closed", order_id=None, content=Content.NONE, **_CYCLE_OVER)
    tx.clear_alarm(AlarmKind.DOCUMENT_LEFT_BEHIND, c.number)
    handed_over(tx, order, c.number, taken)


def handed_over(tx: Tx, order: Order, compartment: int | None, taken: Witness) -> None:
    """The order is collected: audit entry ``pickup.handover`` and outbox ``collected`` with the proof (method,
    statement and, at the counter, the staff who handed it over, from the order's receipt)."""
    tx.set_order(order, OrderState.COLLECTED, why="pickup.closed")
    receipt = receipt_of(order)
    method, statement = receipt.get("method", ""), receipt.get("statement", {})
    staff = receipt.get("staff", [])
    extra = {"staff": staff} if staff else {}
    proof = tx.audit(
        "pickup.handover",
        order=order.id,
        compartment=compartment,
        method=method,
        statement=statement,
        taken=taken,
        **extra,
    )
    tx.outbox(
        "collected",
        order=order.id,
        compartment=compartment,
        old_id_returned=False,
        proof={
            "audit_seq": proof.seq,
            "audit_hash": proof.hash.hex(),
            "method": method,
            "statement": statement,
            "taken": taken.value,
            **extra,
        },
    )


def not_handed_over(tx: Tx, c: Compartment, order: Order, by: Witness) -> None:
    """Staff opened for a counter handover (or a move) but the document is still inside: back as it was, nothing
    happened (audit ``counter.not_taken`` / ``move.not_taken``)."""
    back = c.resume_state or CompartmentState.OCCUPIED
    kind = f"{c.purpose or OpenPurpose.COUNTER}.not_taken"
    tx.set_compartment(c, back, why=kind, content=Content.DOCUMENT, **_CYCLE_OVER)
    tx.audit(kind, order=order.id, compartment=c.number, by=by)


def moved_out(tx: Tx, c: Compartment, order: Order, by: Witness, config: StationConfig) -> int | None:
    """A move's source closed empty: staff hold the envelope. The source is free (a faulty or disabled one stays so:
    staff enable it when checked) and the order points at a new target (``retarget``); returns its number."""
    keep = c.resume_state in (CompartmentState.FAULTY, CompartmentState.DISABLED)
    after = c.resume_state if keep and c.resume_state else CompartmentState.FREE
    tx.set_compartment(c, after, why="move.taken_out", order_id=None, content=Content.NONE, **_CYCLE_OVER)
    tx.clear_alarm(AlarmKind.DOCUMENT_LEFT_BEHIND, c.number)  # staff have it now
    tx.audit("move.taken_out", order=order.id, compartment=c.number, by=by)
    return retarget(tx, order, c.number, config)


def retarget(tx: Tx, order: Order, source: int, config: StationConfig) -> int | None:
    """The envelope of a move is in staff's hands: the order points at a free fitting target (LOADING, purpose
    move, ``move_from`` the source), whose door staff open next. With no target left the move ends cleanly: the
    order is returned (staff keep the envelope and hand it over at the counter); returns None."""
    free = [x for x in tx.compartments(CompartmentState.FREE) if x.number != source]
    try:
        t = choose_compartment(config, order, free)
    except NoFreeCompartment:
        gave_up(tx, order, source, "no free compartment")
        return None
    tx.set_compartment(
        t,
        CompartmentState.LOADING,
        why="move.target",
        order_id=order.id,
        content=Content.NONE,
        purpose=OpenPurpose.MOVE,
        resume_state=None,
        door_confirmed_at=None,
        move_from=source,
    )
    tx.set_order(order, why="move.target", compartment=t.number)
    tx.audit("move.target", order=order.id, compartment=t.number, **{"from": source})
    return t.number


def gave_up(tx: Tx, order: Order, source: int | None, why: str) -> None:
    """A move ends with the envelope in staff's hands: the order is returned (outbox ``returned`` from the source),
    and staff hand it over at the counter."""
    tx.set_order(order, OrderState.RETURNED, why="move.gave_up", compartment=None)
    tx.audit("move.gave_up", order=order.id, compartment=source, why=why)
    tx.outbox("returned", order=order.id, compartment=source)


def moved_in(tx: Tx, c: Compartment, order: Order, by: Witness) -> None:
    """A move's target closed on the envelope (sensor, or staff's word): the order is in its new compartment, with
    the same codes. Outbox ``moved``; no notice: the notice names the station and the codes, never a compartment."""
    source = c.move_from
    tx.set_compartment(
        c, CompartmentState.OCCUPIED, why="move.inside", content=Content.DOCUMENT, move_from=None, **_CYCLE_OVER
    )
    tx.clear_alarm(AlarmKind.INTERRUPTED_CYCLE, c.number)
    tx.audit("move.inside", order=order.id, compartment=c.number, by=by, **{"from": source})
    tx.outbox("moved", order=order.id, compartment=c.number, from_compartment=source)


def move_not_in(tx: Tx, c: Compartment, order: Order, by: Witness) -> None:
    """A move's target closed without the envelope: staff still hold it; the target waits to be opened again (or
    staff give up and hand it over at the counter)."""
    new = CompartmentState.LOADING if c.state == CompartmentState.CHECKING else None
    tx.set_compartment(c, new, why="move.empty", door_confirmed_at=None, door_alarmed=False)
    tx.audit("move.empty", order=order.id, compartment=c.number, by=by)


def left_behind(tx: Tx, c: Compartment, order: Order, by: Witness) -> None:
    """The door closed on the document (or nobody said it was taken): no handover. The order stays collectable
    with the same codes, the compartment occupied, and staff and hub hear of it."""
    tx.set_compartment(c, CompartmentState.OCCUPIED, why="pickup.left_behind", content=Content.DOCUMENT, **_CYCLE_OVER)
    tx.set_order(order, OrderState.STORED, why="pickup.left_behind", code_used=False)
    tx.audit("pickup.left_behind", order=order.id, compartment=c.number, by=by)
    tx.raise_alarm(AlarmKind.DOCUMENT_LEFT_BEHIND, c.number)


def old_id_in(tx: Tx, c: Compartment, order: Order, by: Witness) -> None:
    """The citizen's old ID card is in the compartment (sensor, the citizen's word, or unanswered: staff look)."""
    tx.set_compartment(
        c, CompartmentState.OCCUPIED, why="old_id.returned", order_id=order.id, content=Content.OLD_ID, **_CYCLE_OVER
    )
    tx.audit("old_id.returned", order=order.id, compartment=c.number, by=by)
    tx.outbox("old_id_returned", order=order.id, compartment=c.number, by=by.value)


def old_id_not_in(tx: Tx, c: Compartment, order_id: str, by: Witness) -> None:
    """The old-ID door closed on an empty compartment: nothing was returned."""
    tx.set_compartment(
        c, CompartmentState.FREE, why="old_id.not_returned", order_id=None, content=Content.NONE, **_CYCLE_OVER
    )
    tx.audit("old_id.not_returned", order=order_id, compartment=c.number, by=by)
