"""What a closed door means, in one place: stored, collected, left behind, old ID in or not (inside a transaction)."""

from __future__ import annotations

import enum
import json
from typing import Any

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
    """Staff opened for a counter handover but the document is still inside: back as it was, nothing happened."""
    back = c.resume_state or CompartmentState.OCCUPIED
    tx.set_compartment(c, back, why="counter.not_taken", content=Content.DOCUMENT, **_CYCLE_OVER)
    tx.audit("counter.not_taken", order=order.id, compartment=c.number, by=by)


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
