"""Start-up reconciliation: door cycles interrupted by a crash or power cut, and doors found open."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from locker.errors import HardwareError
from locker.flows import handover
from locker.flows.common import FlowContext
from locker.flows.doors import DoorFlow
from locker.flows.handover import Witness
from locker.model import AlarmKind, Compartment, CompartmentState, Content, DoorState, OpenPurpose, OrderState
from locker.ports import DoorReading
from locker.store import Tx

log = logging.getLogger(__name__)
# Door cycles in which a person takes the document out.
_TAKE_OUT = (OpenPurpose.PICKUP, OpenPurpose.RETURN, OpenPurpose.COUNTER, OpenPurpose.MOVE)
# Door cycles whose outcome nobody knows without an item sensor when the door never confirmed open.
_UNSENSED_UNKNOWN = (OpenPurpose.RETURN, OpenPurpose.COUNTER, OpenPurpose.OLD_ID, OpenPurpose.MOVE)


@dataclass(frozen=True)
class Recovered:
    compartment: int
    action: str


class RecoveryFlow:
    """Runs once at start, before any input is accepted. The rules (also in docs/architecture.md):

    * A cycle whose door reads open now continues: the open is recorded and the close finishes it.
    * A cycle whose door was confirmed open and reads closed now is finished as if the close was seen.
    * A pickup whose door never confirmed open and reads closed: if an item sensor shows the document is
      still there and the commit is recent (``timing.rearm_window_s``), the code is re-armed (order back to
      ``stored``, code usable again: it never opened a door); otherwise the compartment turns faulty with an
      INTERRUPTED_CYCLE alarm and the order stays stored, for staff; its code is not spent (no door was confirmed
      open), so it opens the compartment again once staff have enabled it.
    * A loading whose door never confirmed open reads closed: with a document on the item sensor the door opened
      while the station was down, so the opening is recorded and the loading finished (stored); with the sensor
      reading empty the assignment is undone (compartment free again); without an item sensor nobody knows
      whether the door opened, so the assignment is undone and the compartment turns faulty with an
      INTERRUPTED_CYCLE alarm, for staff.
    * A pickup or return whose door never confirmed open, reads closed, and whose item sensor reads empty
      although the compartment held something: the door opened while the station was down and the person took
      it out; the opening is recorded and the cycle finished (collected / returned). Likewise an old-ID opening
      whose sensor now reads an item: the old ID went in (returned).
    * A move's source is a take-out cycle like a counter handover (above and below). A move's target that never
      confirmed open and reads closed (no document on the sensor) stays reserved with an INTERRUPTED_CYCLE alarm:
      the envelope is in staff's hands; staff open the target or give up (docs/operations.md).
    * A pickup or old ID waiting for the citizen's answer (CHECKING) is settled on the safe side at once (left
      behind / counted inside): the screen that asked is gone. A loading waiting for staff stays: staff log in
      and answer (or its timer settles it).
    * A return without an item sensor whose door never confirmed open: not known whether the document is out,
      so the compartment turns faulty with an INTERRUPTED_CYCLE alarm, for staff.
    * Otherwise a return or maintenance whose door never opened: the compartment goes back to its previous state.
    * A compartment outside any cycle whose door reads open: treated as forced (alarm); whose item sensor
      contradicts the record (an item in a free compartment, none in an occupied one): faulty (alarm).
    * A board that cannot be read: compartments in a cycle on it turn faulty with an alarm.
    """

    def __init__(self, ctx: FlowContext, doors: DoorFlow) -> None:
        self.ctx = ctx
        self.doors = doors

    def run(self) -> list[Recovered]:
        try:
            self.ctx.bank.safe_state()
        except HardwareError as exc:  # an unreachable board: its compartments are handled below, one by one
            log.error("recovery: safe state incomplete: %s", exc)
        done: list[Recovered] = []
        compartments = self.ctx.store.compartments()
        readings = self.ctx.bank.read_many([c.number for c in compartments])  # one status exchange per board
        for c in compartments:
            reading = readings[c.number]
            if isinstance(reading, HardwareError):
                log.error("recovery: cannot read compartment %s: %s", c.number, reading)
                if c.state in (CompartmentState.LOADING, CompartmentState.OPENING):
                    self._fault(c.number, "board unreadable at start")
                    done.append(Recovered(c.number, "faulty: unreadable"))
                continue
            action = self._one(c.number, reading)
            if action:
                done.append(Recovered(c.number, action))
        return done

    def _one(self, number: int, reading: DoorReading) -> str:
        c = self.ctx.store.compartment(number)
        in_cycle = c.state in (CompartmentState.LOADING, CompartmentState.OPENING)
        if in_cycle and (reading.door == DoorState.OPEN or c.door_confirmed_at is not None):
            self.doors.orphaned.add(number)  # the cycle goes on, and whoever began it is on no screen now
        if reading.door == DoorState.OPEN:
            if in_cycle:
                self.doors.opened(number)
                return "cycle continues: door open"
            if c.state not in (CompartmentState.FAULTY,):
                self.doors.opened(number, uncommanded=True)
                return "door open outside a cycle: forced"
            return ""
        if c.state == CompartmentState.CHECKING and c.purpose in (OpenPurpose.PICKUP, OpenPurpose.OLD_ID):
            return self._unanswerable(number)
        if not in_cycle:
            return self._reconcile_item(number, reading)
        if c.door_confirmed_at is not None:
            self.doors.closed(number)
            return "cycle finished: door closed"
        store = self.ctx.store
        took_out = c.state == CompartmentState.OPENING and c.purpose in _TAKE_OUT
        put_in = c.state == CompartmentState.OPENING and c.purpose == OpenPurpose.OLD_ID and reading.item is True
        if (took_out and reading.item is False and c.content != Content.NONE) or put_in:
            # The compartment held something and is empty now (or was empty for an old ID and holds one now): the
            # door opened while the station was down and the person took it out (put it in) and closed the door.
            # Record the opening, then finish as the close would.
            with store.change("recovery") as tx:
                tx.set_compartment(tx.compartment(number), why="recovery.opened_while_down", door_confirmed_at=tx.now)
            self.doors.closed(number)
            return f"{c.purpose} finished: taken out while the station was down"
        if c.state == CompartmentState.LOADING and reading.item is True:
            # A free compartment is empty: a document inside means the door opened while the station was down
            # (killed after the pulse, before the confirmation) and closed again with it. Record the opening, then
            # finish the loading as the close would have.
            with store.change("recovery") as tx:
                tx.set_compartment(tx.compartment(number), why="recovery.opened_while_down", door_confirmed_at=tx.now)
            self.doors.closed(number)
            return "loading finished: document inside"
        with store.change("recovery") as tx:
            c = tx.compartment(number)
            if c.state == CompartmentState.LOADING:
                return _loading_interrupted(tx, c, reading)
            if c.purpose == OpenPurpose.PICKUP and c.order_id is not None:
                order = tx.order(c.order_id)
                recent = tx.now - c.changed_at <= self.ctx.config.timing.rearm_window_s
                if reading.item is True and recent and order.state == OrderState.COLLECTING:
                    tx.set_compartment(
                        c, CompartmentState.OCCUPIED, why="recovery.rearmed", purpose=None, resume_state=None
                    )
                    tx.set_order(order, OrderState.STORED, why="recovery.rearmed", code_used=False)
                    return "pickup re-armed"
                tx.set_compartment(
                    c,
                    CompartmentState.FAULTY,
                    why="recovery.interrupted",
                    purpose=None,
                    resume_state=None,
                    reason="handover interrupted",
                )
                if order.state == OrderState.COLLECTING:  # no door was confirmed open: the code is not spent
                    tx.set_order(order, OrderState.STORED, why="recovery.interrupted", code_used=False)
                tx.raise_alarm(AlarmKind.INTERRUPTED_CYCLE, number)
                return "pickup interrupted: faulty"
            if c.purpose in _UNSENSED_UNKNOWN and reading.item is None:
                # No item sensor: the document may be out already (the old ID may be in). Not known, so staff look.
                tx.set_compartment(
                    c,
                    CompartmentState.FAULTY,
                    why="recovery.interrupted",
                    purpose=None,
                    resume_state=None,
                    reason=f"{c.purpose} interrupted",
                    **_maybe_old_id(c),
                )
                tx.raise_alarm(AlarmKind.INTERRUPTED_CYCLE, number)
                return f"{c.purpose} interrupted: faulty"
            resume = c.resume_state or CompartmentState.FREE
            dropped = {"order_id": None} if c.purpose == OpenPurpose.OLD_ID else {}  # the old ID never went in
            tx.set_compartment(c, resume, why="recovery.cycle_undone", purpose=None, resume_state=None, **dropped)
        fault = self._reconcile_item(number, reading)
        return f"cycle undone; {fault}" if fault else "cycle undone"

    def _unanswerable(self, number: int) -> str:
        """A pickup's (or old ID's) closed door waited for the citizen's answer: the screen that asked went with the
        restart, so no answer can come. Settled on the safe side now, as the answer timer would."""
        with self.ctx.store.change("recovery") as tx:
            c = tx.compartment(number)
            assert c.order_id is not None
            order = tx.order(c.order_id)
            if c.purpose == OpenPurpose.PICKUP:
                handover.left_behind(tx, c, order, Witness.UNANSWERED)
                return "pickup unanswered: left behind"
            handover.old_id_in(tx, c, order, Witness.UNANSWERED)
            return "old ID unanswered: counted inside"

    def _reconcile_item(self, number: int, reading: DoorReading) -> str:
        """Outside a door cycle, an item sensor that contradicts the record is a fault (the same rule as at run
        time, where only changes are reported: at start every compartment is compared once)."""
        if reading.item is None:
            return ""
        c = self.ctx.store.compartment(number)
        expected = {CompartmentState.FREE: False, CompartmentState.OCCUPIED: True}.get(c.state)
        if expected is None or expected == reading.item:
            return ""
        self.doors.item(number, reading.item)
        return "item sensor disagrees: faulty"

    def _fault(self, number: int, reason: str) -> None:
        with self.ctx.store.change("recovery") as tx:
            c = tx.compartment(number)
            order = tx.order(c.order_id) if c.order_id else None
            if c.state == CompartmentState.LOADING and c.move_from is not None:
                pass  # a move's target stays reserved for the envelope in staff's hands (it may not open: retarget)
            elif c.state == CompartmentState.LOADING and order is not None:
                tx.set_order(order, why="load.unassigned", compartment=None)
                tx.set_compartment(c, CompartmentState.FAULTY, why="recovery.unreadable", order_id=None, reason=reason)
            else:
                tx.set_compartment(
                    c,
                    CompartmentState.FAULTY,
                    why="recovery.unreadable",
                    purpose=None,
                    resume_state=None,
                    reason=reason,
                    **_maybe_old_id(c),
                )
                if order is not None and order.state == OrderState.COLLECTING:
                    tx.set_order(order, OrderState.STORED, why="recovery.interrupted", code_used=False)
            tx.raise_alarm(AlarmKind.INTERRUPTED_CYCLE, number)


def _loading_interrupted(tx: Tx, c: Compartment, reading: DoorReading) -> str:
    """A loading (or a move's target) whose door never confirmed open reads closed, without a document seen."""
    if c.move_from is not None:
        # A move's target: the envelope is in staff's hands (or, without a sensor, maybe inside already). The move
        # waits for staff: they open the target, or give up and hand it over at the counter.
        tx.raise_alarm(AlarmKind.INTERRUPTED_CYCLE, c.number)
        return "move waits for staff"
    assert c.order_id is not None
    tx.set_order(tx.order(c.order_id), why="load.unassigned", compartment=None)
    if reading.item is None:
        # No item sensor: the door may have opened and closed again with the document while the station was down.
        # Not known empty, so not free: staff look.
        tx.set_compartment(
            c, CompartmentState.FAULTY, why="recovery.interrupted", order_id=None, reason="loading interrupted"
        )
        tx.raise_alarm(AlarmKind.INTERRUPTED_CYCLE, c.number)
        return "loading interrupted: faulty"
    tx.set_compartment(c, CompartmentState.FREE, why="recovery.load_undone", order_id=None)
    return "loading undone"


def _maybe_old_id(c: Compartment) -> dict[str, Content]:
    """An old-ID opening cut short: the card may be inside, so the compartment counts as holding it (staff take it
    out, and see)."""
    return {"content": Content.OLD_ID} if c.purpose == OpenPurpose.OLD_ID else {}
